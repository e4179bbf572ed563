//! The Today page (`/today`): who needs you and what to say — 001's weekly tasks by
//! score band (micro-wins 60+, curiosity 40–59, rewarm under 40), each contact with
//! its next best action (copy the text, mark it done), contacts untouched for 30
//! days, replies of the last week, and people whose keep-in-touch cadence has come
//! due (contact on any channel resets it). "Mark done" records the text as sent in
//! the contact's thread, the way the inbox records a reply.

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use everreach_api::AppState;
use everreach_api::error::ApiError;
use everreach_core::crm::model::{CheckedDm, MAX_MESSAGE_BYTES};
use everreach_core::crm::nba::NextBestAction;
use everreach_core::crm::queries::ContactRow;
use everreach_core::crm::{dm, today};
use everreach_core::db::tenant::TenantTx;
use everreach_core::people::cadence;
use uuid::Uuid;

use crate::accounts::query;
use crate::error::{PageError, PageResult};
use crate::fmt::{self, When};
use crate::form::{Problems, UserForm};
use crate::session::Signed;
use crate::shell::{self, Nav, Shell};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/today", get(page))
        .route("/today/{contact}/done", post(done))
}

/// A contact with what to say.
#[derive(Debug, Clone)]
pub struct Task {
    pub id: Uuid,
    pub name: String,
    pub username: String,
    pub score: i32,
    pub stage: String,
    pub last_touch: Option<When>,
    pub lane: String,
    pub text: String,
    pub reason: String,
    /// Why "Mark done" was refused (shown beside the text, which is kept).
    pub error: Option<String>,
}

/// A "Mark done" that came back: the band, the contact, the text sent and why.
#[derive(Debug, Clone)]
pub struct Refused {
    pub band: String,
    pub contact: Uuid,
    pub text: String,
    pub message: String,
}

/// A band of tasks.
#[derive(Debug, Clone)]
pub struct Band {
    pub key: &'static str,
    pub title: &'static str,
    pub blurb: &'static str,
    pub tasks: Vec<Task>,
}

#[derive(Debug, Clone)]
pub struct ReplyRow {
    pub conversation: Option<Uuid>,
    pub contact: Uuid,
    pub name: String,
    pub text: String,
    pub at: Option<When>,
}

#[derive(Debug, Clone)]
pub struct DueRow {
    pub person: Uuid,
    pub name: String,
    pub every: i32,
    pub last_touch: Option<When>,
}

#[derive(Template)]
#[template(path = "today.html")]
struct TodayPage {
    shell: Shell,
    bands: Vec<Band>,
    attention: Vec<Task>,
    replies: Vec<ReplyRow>,
    due: Vec<DueRow>,
    empty: bool,
    problems: Problems,
}

/// How a page names a contact.
pub fn contact_name(display_name: Option<&str>, username: &str) -> String {
    display_name
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map_or_else(|| format!("@{username}"), str::to_string)
}

/// Stage names in words.
pub fn stage_words(stage: &str) -> String {
    stage.replace('_', " ")
}

fn task(c: &ContactRow, action: Option<&NextBestAction>, tz: chrono_tz::Tz) -> Task {
    Task {
        id: c.id,
        name: contact_name(c.display_name.as_deref(), &c.instagram_username),
        username: c.instagram_username.clone(),
        score: c.relationship_score.unwrap_or(50),
        stage: stage_words(c.relationship_stage.as_deref().unwrap_or("first_touch")),
        last_touch: fmt::when_opt(c.last_meaningful_touch, tz),
        lane: action.map(|a| a.lane.to_string()).unwrap_or_default(),
        text: action.and_then(|a| a.text.clone()).unwrap_or_default(),
        reason: action.map(|a| a.reason.clone()).unwrap_or_default(),
        error: None,
    }
}

async fn page(
    State(state): State<AppState>,
    me: Signed,
    RawQuery(q): RawQuery,
) -> PageResult<Response> {
    let notice = match query(q).get("done") {
        "sent" => Some("Marked done: recorded as sent in their thread."),
        _ => None,
    };
    render(&state, &me, notice, None).await
}

/// The page, with a refused "Mark done" beside its text (422) when there is one.
async fn render(
    state: &AppState,
    me: &Signed,
    notice: Option<&str>,
    refused: Option<Refused>,
) -> PageResult<Response> {
    let tz = fmt::zone(me.user.timezone.as_deref());
    let now = Utc::now();
    let mut tx = TenantTx::begin_snapshot(&state.db.app, me.user_id()).await?;
    let t = today::today(&mut tx, now).await?;
    let due = cadence::due(&mut tx, now, 20).await?;
    let contacts: i64 =
        sqlx::query_scalar("SELECT count(*) FROM instagram_contacts WHERE user_id = $1")
            .bind(me.user_id())
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| PageError::Api(ApiError::internal(e)))?;
    tx.commit().await?;
    let tasks = |rows: &[ContactRow]| -> Vec<Task> {
        rows.iter()
            .map(|c| task(c, t.actions.get(&c.id), tz))
            .collect()
    };
    let mut bands = vec![
        Band {
            key: "micro-wins",
            title: "Micro-wins",
            blurb: "Score 60 and up: help them with something small and specific.",
            tasks: tasks(&t.tasks.micro_wins),
        },
        Band {
            key: "curiosity",
            title: "Curiosity",
            blurb: "Score 40–59: ask about what they are working on.",
            tasks: tasks(&t.tasks.curiosity),
        },
        Band {
            key: "rewarm",
            title: "Rewarm",
            blurb: "Under 40: a low-pressure hello.",
            tasks: tasks(&t.tasks.rewarm),
        },
    ];
    let mut problems = Problems::default();
    if let Some(r) = &refused {
        for band in bands.iter_mut().filter(|b| b.key == r.band) {
            for t in band.tasks.iter_mut().filter(|t| t.id == r.contact) {
                t.text = r.text.clone();
                t.error = Some(r.message.clone());
                problems.add(&format!("say-{}-{}", band.key, t.id), r.message.clone());
            }
        }
    }
    let mut shell = me.shell("Today", Nav::Today);
    shell.notice = notice.map(str::to_string);
    shell.has_errors = !problems.is_empty();
    Ok(shell::render_form(
        !problems.is_empty(),
        &TodayPage {
            shell,
            bands,
            attention: tasks(&t.attention),
            replies: t
                .replies
                .iter()
                .map(|r| ReplyRow {
                    conversation: r.conversation_id,
                    contact: r.contact_id,
                    name: contact_name(r.display_name.as_deref(), &r.instagram_username),
                    text: everreach_core::crm::model::preview(&r.message_text),
                    at: fmt::when_opt(r.sent_at, tz),
                })
                .collect(),
            due: due
                .into_iter()
                .map(|d| DueRow {
                    person: d.person_id,
                    name: d
                        .full_name
                        .or(d.primary_email)
                        .unwrap_or_else(|| "Unnamed person".into()),
                    every: d.keep_in_touch_days,
                    last_touch: fmt::when_opt(d.last_touch, tz),
                })
                .collect(),
            empty: contacts == 0,
            problems,
        },
    ))
}

/// Why a text cannot be marked done, if it cannot.
pub fn check_text(text: &str) -> Option<String> {
    if text.is_empty() {
        Some("Write what you said (or copy the suggestion back) before marking it done".into())
    } else if text.len() > MAX_MESSAGE_BYTES {
        Some(format!(
            "The text is {} bytes; a message is at most {MAX_MESSAGE_BYTES}: shorten it",
            text.len()
        ))
    } else {
        None
    }
}

/// The text marked done (checked by [`check_text`]), recorded as our message in the
/// contact's thread.
pub async fn record_sent(
    state: &AppState,
    me: &Signed,
    contact: Uuid,
    text: String,
) -> PageResult<()> {
    let mut tx = TenantTx::begin(&state.db.app, me.user_id()).await?;
    let username: Option<String> = sqlx::query_scalar(
        "SELECT instagram_username FROM instagram_contacts WHERE user_id = $1 AND id = $2",
    )
    .bind(me.user_id())
    .bind(contact)
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| PageError::Api(ApiError::internal(e)))?;
    let username = username.ok_or(PageError::Api(ApiError::NotFound))?;
    let now = Utc::now();
    let sent = CheckedDm {
        username,
        display_name: None,
        thread_id: None,
        text,
        message_type: "text".into(),
        is_outbound: true,
        automated: false,
        sent_at: chrono::DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now),
        raw_data: Some(serde_json::json!({"source": "everreach_today"})),
    };
    dm::store(&mut tx, &[sent]).await?;
    tx.commit().await?;
    Ok(())
}

async fn done(
    State(state): State<AppState>,
    Path(contact): Path<String>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    me.require_writer()?;
    let contact = everreach_api::extract::path_id(&contact)?;
    let text = form.get("text").to_string();
    if let Some(message) = check_text(&text) {
        let refused = Refused {
            band: form.get("band").to_string(),
            contact,
            text,
            message,
        };
        return render(&state, &me, None, Some(refused)).await;
    }
    record_sent(&state, &me, contact, text).await?;
    Ok(Redirect::to("/today?done=sent").into_response())
}
