//! The Contact page (`/contacts/{id}`): an Instagram contact's Revio score — each
//! component with why and the rows behind it — the stage with its history and a
//! manual pin, fit-signal hits, trust signals and value delivered (both recordable
//! here), the context card, the next best action, and links to the person page and
//! the thread. Every change goes through the generic resource, whose rules rescore.

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use everreach_api::AppState;
use everreach_api::error::ApiError;
use everreach_core::crm::revio::{Cite, STAGES, TRUST_KINDS};
use everreach_core::crm::score;
use everreach_core::db::tenant::TenantTx;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::accounts::query;
use crate::error::{PageError, PageResult};
use crate::fmt::{self, When};
use crate::form::{Field, Form, Problems, UserForm};
use crate::inbox::{card_fields, save_card_of};
use crate::session::Signed;
use crate::shell::{self, Nav, Shell};
use crate::today::{contact_name, stage_words};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/contacts/{id}", get(page))
        .route("/contacts/{id}/stage", post(save_stage))
        .route("/contacts/{id}/trust", post(add_trust))
        .route("/contacts/{id}/value", post(add_value))
        .route("/contacts/{id}/card", post(save_card))
}

#[derive(Debug, Clone)]
pub struct ComponentRow {
    pub label: &'static str,
    pub score: i32,
    pub why: String,
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct StageRow {
    pub stage: String,
    pub source: String,
    pub reason: String,
    pub at: When,
}

#[derive(Template)]
#[template(path = "contact.html")]
struct ContactPage {
    shell: Shell,
    id: Uuid,
    name: String,
    username: String,
    person: Option<Uuid>,
    conversation: Option<Uuid>,
    score: i32,
    has_evidence: bool,
    components: Vec<ComponentRow>,
    stage: String,
    rules_stage: String,
    stage_why: String,
    pinned: Option<String>,
    stages: Vec<(String, String)>,
    history: Vec<StageRow>,
    fits: Vec<(String, usize)>,
    trust: Vec<(String, String, Option<When>)>,
    trust_kinds: Vec<(String, String)>,
    value: Vec<(String, Option<When>)>,
    card: Vec<Field>,
    card_action: String,
    next: Option<(String, String, String)>,
    /// What was typed in the trust or value form, kept when it comes back.
    note: String,
    what: String,
    kind: String,
    problems: Problems,
}

fn label_of(component: &str) -> &'static str {
    match component {
        "resonance_score" => "Resonance",
        "need_clarity_score" => "Need clarity",
        "value_delivered_score" => "Value delivered",
        "reliability_score" => "Reliability",
        _ => "Consent",
    }
}

fn cite_words(c: &Cite) -> String {
    match c {
        Cite::Message {
            inbound, excerpt, ..
        } => format!(
            "{}: “{excerpt}”",
            if *inbound { "They wrote" } else { "You wrote" }
        ),
        Cite::CardField { field, value } => format!("{}: {value}", field.replace('_', " ")),
        Cite::ValueDelivered { what, .. } => format!("Delivered: {what}"),
        Cite::TrustSignal {
            signal_kind,
            message_id,
            ..
        } => format!(
            "{}{}",
            signal_kind.replace('_', " "),
            if message_id.is_some() {
                " (in their message)"
            } else {
                " (recorded by you)"
            }
        ),
        Cite::FitSignal {
            signal_key,
            messages,
            ..
        } => format!("fit signal {signal_key} in {messages} message(s)"),
    }
}

fn contact_id(id: &str) -> PageResult<Uuid> {
    Ok(everreach_api::extract::path_id(id)?)
}

async fn render(
    state: &AppState,
    me: &Signed,
    id: Uuid,
    card_form: Option<&Form>,
    other_form: Option<&Form>,
    problems: Problems,
    notice: Option<String>,
) -> PageResult<Response> {
    let tz = fmt::zone(me.user.timezone.as_deref());
    let mut tx = TenantTx::begin_snapshot(&state.db.app, me.user_id()).await?;
    let view = score::explain(&mut tx, id).await?;
    let next = score::next_best_action(&mut tx, id).await?;
    let card = card_fields(&mut tx, id, card_form, &problems).await?;
    let (display_name, person, value_log): (Option<String>, Option<Uuid>, Option<Value>) = sqlx::query_as(
        "SELECT display_name, person_id, value_delivered_log FROM instagram_contacts WHERE user_id = $1 AND id = $2",
    )
    .bind(me.user_id())
    .bind(id)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| PageError::Api(ApiError::internal(e)))?;
    let conversation: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM instagram_conversations WHERE user_id = $1 AND contact_id = $2
          ORDER BY last_message_at DESC NULLS LAST LIMIT 1",
    )
    .bind(me.user_id())
    .bind(id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| PageError::Api(ApiError::internal(e)))?;
    tx.commit().await?;
    let a = &view.assessment;
    let name = contact_name(display_name.as_deref(), &view.instagram_username);
    let has_errors = !problems.is_empty();
    let mut shell = me.shell(&name, Nav::Inbox);
    shell.has_errors = has_errors;
    shell.notice = notice;
    let page = ContactPage {
        shell,
        id,
        name,
        username: view.instagram_username.clone(),
        person,
        conversation,
        score: a.relationship_score,
        has_evidence: a.has_evidence,
        components: a
            .components
            .iter()
            .map(|c| ComponentRow {
                label: label_of(c.name),
                score: c.score,
                why: c.why.clone(),
                evidence: c.evidence.iter().map(cite_words).collect(),
            })
            .collect(),
        stage: stage_words(&view.relationship_stage),
        rules_stage: stage_words(a.stage),
        stage_why: a.stage_why.clone(),
        pinned: view.stage_override.clone(),
        stages: std::iter::once((String::new(), "Let the evidence decide".to_string()))
            .chain(STAGES.iter().map(|s| (s.to_string(), stage_words(s))))
            .collect(),
        history: view
            .stage_history
            .iter()
            .map(|h| StageRow {
                stage: stage_words(&h.stage),
                source: if h.source == "manual" {
                    "pinned by you".into()
                } else {
                    "by the rules".into()
                },
                reason: h.reason.clone(),
                at: fmt::when(h.changed_at, tz),
            })
            .collect(),
        fits: a
            .fit_hits
            .iter()
            .map(|h| {
                (
                    format!(
                        "{} ({}): “{}”",
                        h.signal_key, h.product, h.signal_description
                    ),
                    h.message_ids.len(),
                )
            })
            .collect(),
        trust: a
            .trust
            .iter()
            .map(|t| {
                (
                    t.kind.replace('_', " "),
                    t.note.clone().unwrap_or_default(),
                    t.at.map(|at| fmt::when(at, tz)),
                )
            })
            .collect(),
        trust_kinds: TRUST_KINDS
            .iter()
            .map(|k| (k.to_string(), k.replace('_', " ")))
            .collect(),
        value: value_log
            .as_ref()
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|e| {
                let what = e
                    .get("what")
                    .and_then(Value::as_str)
                    .or(e.as_str())
                    .unwrap_or("")
                    .to_string();
                let at = e
                    .get("at")
                    .and_then(Value::as_str)
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                    .map(|t| fmt::when(t.with_timezone(&Utc), tz));
                (what, at)
            })
            .collect(),
        card,
        card_action: format!("/contacts/{id}/card"),
        next: next
            .text
            .clone()
            .map(|text| (next.lane.to_string(), text, next.reason.clone())),
        note: other_form
            .map(|f| f.get("note").to_string())
            .unwrap_or_default(),
        what: other_form
            .map(|f| f.get("what").to_string())
            .unwrap_or_default(),
        kind: other_form
            .map(|f| f.get("kind").to_string())
            .unwrap_or_default(),
        problems,
    };
    Ok(shell::render_form(has_errors, &page))
}

async fn page(
    State(state): State<AppState>,
    me: Signed,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> PageResult<Response> {
    let q = query(q);
    let notice = match q.get("done") {
        "stage" => Some("Stage saved.".to_string()),
        "trust" => Some("Trust signal recorded; the score follows.".to_string()),
        "value" => Some("Recorded what you delivered; the score follows.".to_string()),
        "card" => Some("Context card saved.".to_string()),
        _ => None,
    };
    render(
        &state,
        &me,
        contact_id(&id)?,
        None,
        None,
        Problems::default(),
        notice,
    )
    .await
}

/// Patches the contact through the generic resource; its problems (by field) when
/// refused.
async fn patch(
    state: &AppState,
    me: &Signed,
    id: Uuid,
    body: Map<String, Value>,
) -> PageResult<Option<Problems>> {
    crate::patch_resource(state, me, "instagram-contacts", &id.to_string(), body).await
}

async fn save_stage(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    me.require_writer()?;
    let id = contact_id(&id)?;
    let stage = form.get("stage").trim();
    let mut body = Map::new();
    body.insert(
        "relationship_stage".into(),
        if stage.is_empty() {
            Value::Null
        } else {
            json!(stage)
        },
    );
    match patch(&state, &me, id, body).await? {
        None => Ok(Redirect::to(&format!("/contacts/{id}?done=stage#stage")).into_response()),
        Some(found) => {
            let mut problems = Problems::default();
            for (_, m) in found.0 {
                problems.add("stage", m);
            }
            render(&state, &me, id, None, None, problems, None).await
        }
    }
}

/// The contact's stored list (`trust_signals` or `value_delivered_log`) with the
/// entries found in messages left out (scoring finds those again).
async fn user_entries(
    state: &AppState,
    me: &Signed,
    id: Uuid,
    column: &str,
) -> PageResult<Vec<Value>> {
    let mut tx = TenantTx::begin_snapshot(&state.db.app, me.user_id()).await?;
    let list: Option<Value> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT {column} FROM instagram_contacts WHERE user_id = $1 AND id = $2"
    )))
    .bind(me.user_id())
    .bind(id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| PageError::Api(ApiError::internal(e)))?
    .ok_or(PageError::Api(ApiError::NotFound))?;
    tx.commit().await?;
    Ok(list
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.get("source").and_then(Value::as_str) != Some("message"))
        .collect())
}

async fn add_trust(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    me.require_writer()?;
    let id = contact_id(&id)?;
    let mut entries = user_entries(&state, &me, id, "trust_signals").await?;
    let note = form.get("note").trim();
    entries.push(json!({
        "kind": form.get("kind"),
        "at": Utc::now().to_rfc3339(),
        "note": if note.is_empty() { Value::Null } else { json!(note) },
        "source": "user",
    }));
    let mut body = Map::new();
    body.insert("trust_signals".into(), Value::Array(entries));
    match patch(&state, &me, id, body).await? {
        None => Ok(Redirect::to(&format!("/contacts/{id}?done=trust#trust")).into_response()),
        Some(found) => {
            let mut problems = Problems::default();
            for (field, m) in found.0 {
                problems.add(
                    if field.contains("note") {
                        "note"
                    } else {
                        "kind"
                    },
                    m,
                );
            }
            render(&state, &me, id, None, Some(&form), problems, None).await
        }
    }
}

async fn add_value(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    me.require_writer()?;
    let id = contact_id(&id)?;
    let what = form.get("what").trim();
    if what.is_empty() {
        let mut problems = Problems::default();
        problems.add(
            "what",
            "Say what you delivered, e.g. “sent my onboarding checklist”",
        );
        return render(&state, &me, id, None, Some(&form), problems, None).await;
    }
    let mut entries = user_entries(&state, &me, id, "value_delivered_log").await?;
    entries.push(json!({"what": what, "at": Utc::now().to_rfc3339()}));
    let mut body = Map::new();
    body.insert("value_delivered_log".into(), Value::Array(entries));
    match patch(&state, &me, id, body).await? {
        None => Ok(Redirect::to(&format!("/contacts/{id}?done=value#value")).into_response()),
        Some(found) => {
            let mut problems = Problems::default();
            for (_, m) in found.0 {
                problems.add("what", m);
            }
            render(&state, &me, id, None, Some(&form), problems, None).await
        }
    }
}

async fn save_card(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    me.require_writer()?;
    let id = contact_id(&id)?;
    match save_card_of(&state, &me, id, &form).await? {
        None => Ok(Redirect::to(&format!("/contacts/{id}?done=card#card")).into_response()),
        Some(problems) => render(&state, &me, id, Some(&form), None, problems, None).await,
    }
}
