//! The Inbox (`/inbox`): Instagram conversations, unread first, with an unread filter;
//! a thread (`/inbox/{id}`) as a polite live log beside the contact's score, stage,
//! suggested reply and editable context card. Instagram's 24-hour messaging window is
//! shown as text with a countdown; a reply outside it comes back beside its field
//! saying why it cannot be sent. A reply inside it is recorded as sent (the outbox:
//! the Instagram sender arrives with publishing).

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use everreach_api::AppState;
use everreach_api::error::ApiError;
use everreach_core::DomainError;
use everreach_core::crm::inbox::{self, Window};
use everreach_core::crm::score;
use everreach_core::db::tenant::TenantTx;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::accounts::query;
use crate::error::{PageError, PageResult};
use crate::fmt::{self, When};
use crate::form::{Field, Form, Problems, UserForm};
use crate::session::Signed;
use crate::shell::{self, Nav, Shell};
use crate::today::{contact_name, stage_words};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/inbox", get(list))
        .route("/inbox/{id}", get(thread))
        .route("/inbox/{id}/reply", post(reply))
        .route("/inbox/{id}/card", post(save_card))
}

#[derive(Debug, Clone)]
pub struct Row {
    pub id: Uuid,
    pub name: String,
    pub preview: String,
    pub ours: bool,
    pub unread: bool,
    pub at: Option<When>,
    pub score: i32,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    shell: Shell,
    rows: Vec<Row>,
    unread_only: bool,
    unread: i64,
    page: i64,
    more: bool,
}

async fn list(
    State(state): State<AppState>,
    me: Signed,
    RawQuery(q): RawQuery,
) -> PageResult<Response> {
    let q = query(q);
    let unread_only = q.get("filter") == "unread";
    let page = q.get("page").parse::<i64>().unwrap_or(0).clamp(0, 10_000);
    let tz = fmt::zone(me.user.timezone.as_deref());
    let mut tx = TenantTx::begin_snapshot(&state.db.app, me.user_id()).await?;
    let (rows, more, unread) = inbox::list(&mut tx, unread_only, page).await?;
    tx.commit().await?;
    Ok(shell::render(&InboxPage {
        shell: me.shell(
            if unread_only {
                "Inbox: unread"
            } else {
                "Inbox"
            },
            Nav::Inbox,
        ),
        rows: rows
            .into_iter()
            .map(|c| Row {
                id: c.id,
                name: contact_name(c.display_name.as_deref(), &c.instagram_username),
                preview: c.last_message_preview.unwrap_or_default(),
                ours: c.last_message_is_outbound.unwrap_or(false),
                unread: !c.is_read,
                at: fmt::when_opt(c.last_message_at, tz),
                score: c.relationship_score.unwrap_or(50),
            })
            .collect(),
        unread_only,
        unread,
        page,
        more,
    }))
}

#[derive(Debug, Clone)]
pub struct MessageRow {
    pub ours: bool,
    pub text: String,
    pub at: Option<When>,
    pub automated: bool,
    pub spam: Option<String>,
}

/// The 24-hour window as the thread shows it.
#[derive(Debug, Clone)]
pub struct WindowText {
    pub open: bool,
    /// What it means, in words.
    pub text: String,
    /// When it closes (RFC 3339), for the countdown.
    pub closes_iso: Option<String>,
}

fn window_text(w: Window, now: DateTime<Utc>, tz: chrono_tz::Tz) -> WindowText {
    match w {
        Window::Open { closes_at } => {
            let left = closes_at - now;
            let (h, m) = (left.num_hours(), left.num_minutes() % 60);
            WindowText {
                open: true,
                text: format!(
                    "You can reply for {h} h {m} min more, until {} (Instagram's 24-hour window after their last message).",
                    fmt::when(closes_at, tz).exact
                ),
                closes_iso: Some(closes_at.to_rfc3339()),
            }
        }
        other => WindowText {
            open: false,
            text: inbox::window_refusal(other).unwrap_or_default(),
            closes_iso: None,
        },
    }
}

#[derive(Template)]
#[template(path = "inbox_thread.html")]
struct ThreadPage {
    shell: Shell,
    id: Uuid,
    contact: Uuid,
    name: String,
    username: String,
    score: i32,
    stage: String,
    messages: Vec<MessageRow>,
    older: bool,
    window: WindowText,
    suggestion: Option<(String, String, String)>,
    reply: String,
    card: Vec<Field>,
    card_action: String,
    problems: Problems,
}

fn thread_id(id: &str) -> PageResult<Uuid> {
    Ok(everreach_api::extract::path_id(id)?)
}

/// The card's fields, in the order the contact page shows them.
pub const CARD: [(&str, &str); 5] = [
    ("what_theyre_building", "What they're building"),
    ("current_friction", "Current friction"),
    ("their_definition_of_win", "Their definition of a win"),
    ("constraints", "Constraints"),
    ("preferred_contact_style", "Preferred contact style"),
];

/// The context card of a contact as form fields.
pub async fn card_fields(
    tx: &mut TenantTx,
    contact: Uuid,
    form: Option<&Form>,
    problems: &Problems,
) -> PageResult<Vec<Field>> {
    let row: Option<Value> = sqlx::query_scalar(
        "SELECT jsonb_build_object('what_theyre_building', what_theyre_building, 'current_friction', current_friction,
                'their_definition_of_win', their_definition_of_win, 'constraints', constraints,
                'preferred_contact_style', preferred_contact_style)
           FROM instagram_contacts WHERE user_id = $1 AND id = $2",
    )
    .bind(tx.user_id())
    .bind(contact)
    .fetch_optional(&mut **tx)
    .await
    .map_err(|e| PageError::Api(ApiError::internal(e)))?;
    let row = row.ok_or(PageError::Api(ApiError::NotFound))?;
    Ok(CARD
        .iter()
        .map(|(name, label)| {
            let f =
                Field::new(name, label, "textarea").value(row[*name].as_str().unwrap_or_default());
            match form {
                Some(form) => f.from(form, problems),
                None => f,
            }
        })
        .collect())
}

/// Saves a contact's context card through the generic resource (its rules rescore
/// the contact); the problems when it is refused.
pub async fn save_card_of(
    state: &AppState,
    me: &Signed,
    contact: Uuid,
    form: &Form,
) -> PageResult<Option<Problems>> {
    let mut body = Map::new();
    for (name, _) in CARD {
        let v = form.get(name).trim();
        body.insert(
            name.into(),
            if v.is_empty() { Value::Null } else { json!(v) },
        );
    }
    crate::patch_resource(state, me, "instagram-contacts", &contact.to_string(), body).await
}

async fn render_thread(
    state: &AppState,
    me: &Signed,
    id: Uuid,
    reply: String,
    card_form: Option<&Form>,
    problems: Problems,
) -> PageResult<Response> {
    let tz = fmt::zone(me.user.timezone.as_deref());
    let now = Utc::now();
    let mut tx = TenantTx::begin(&state.db.app, me.user_id()).await?;
    let t = inbox::thread(&mut tx, id).await?;
    if me.may_write() {
        inbox::mark_read(&mut tx, id).await?;
    }
    let contact = t.conversation.contact_id;
    let action = score::next_best_actions(&mut tx, &[contact])
        .await?
        .remove(&contact);
    let card = card_fields(&mut tx, contact, card_form, &problems).await?;
    tx.commit().await?;
    let c = &t.conversation;
    let has_errors = !problems.is_empty();
    let mut shell = me.shell(
        &contact_name(c.display_name.as_deref(), &c.instagram_username),
        Nav::Inbox,
    );
    shell.has_errors = has_errors;
    let page = ThreadPage {
        shell,
        id,
        contact,
        name: contact_name(c.display_name.as_deref(), &c.instagram_username),
        username: c.instagram_username.clone(),
        score: c.relationship_score.unwrap_or(50),
        stage: stage_words(c.relationship_stage.as_deref().unwrap_or("first_touch")),
        messages: t
            .messages
            .iter()
            .map(|m| MessageRow {
                ours: m.is_outbound,
                text: m.message_text.clone(),
                at: fmt::when_opt(m.sent_at, tz),
                automated: m.sent_by_automation.unwrap_or(false),
                spam: m.spam_pattern.clone(),
            })
            .collect(),
        older: t.older,
        window: window_text(inbox::window(t.last_theirs, now), now, tz),
        suggestion: action.and_then(|a| {
            a.text
                .clone()
                .map(|text| (a.lane.to_string(), text, a.reason.clone()))
        }),
        reply,
        card,
        card_action: format!("/inbox/{id}/card"),
        problems,
    };
    Ok(shell::render_form(has_errors, &page))
}

async fn thread(
    State(state): State<AppState>,
    me: Signed,
    Path(id): Path<String>,
) -> PageResult<Response> {
    render_thread(
        &state,
        &me,
        thread_id(&id)?,
        String::new(),
        None,
        Problems::default(),
    )
    .await
}

async fn reply(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    me.require_writer()?;
    let id = thread_id(&id)?;
    let text = form.get("message_text").to_string();
    let mut tx = TenantTx::begin(&state.db.app, me.user_id()).await?;
    match inbox::reply(&mut tx, id, &text, Utc::now()).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/inbox/{id}#reply")).into_response())
        }
        Err(DomainError::Invalid(found)) => {
            tx.rollback().await?;
            let mut problems = Problems::default();
            for (_, message) in found {
                problems.add("message_text", message);
            }
            render_thread(&state, &me, id, text, None, problems).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn save_card(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    me.require_writer()?;
    let id = thread_id(&id)?;
    let mut tx = TenantTx::begin_snapshot(&state.db.app, me.user_id()).await?;
    let contact = inbox::thread(&mut tx, id).await?.conversation.contact_id;
    tx.commit().await?;
    match save_card_of(&state, &me, contact, &form).await? {
        None => Ok(Redirect::to(&format!("/inbox/{id}#card")).into_response()),
        Some(problems) => {
            render_thread(&state, &me, id, String::new(), Some(&form), problems).await
        }
    }
}
