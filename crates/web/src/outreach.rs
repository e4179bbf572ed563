//! The outreach queue page (`/outreach`; 001's `outreach_queue`): today's use of the
//! daily cap and quiet hours in the user's zone, with a form to change them; a form
//! to queue a DM for a contact (priority, not-before time in the user's zone); and
//! the queue, newest first, filtered by status, each open row saying why it waits
//! and until when, with cancel (pending, scheduled) and retry (failed). The rules and
//! the sender are `core::crm::outreach`; this page only calls them.

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use everreach_api::AppState;
use everreach_api::error::ApiError;
use everreach_core::crm::outreach::{
    self, ListFilter, NewOutreach, OutreachItem, PRIORITIES, SettingsInput, SettingsView, Status,
    WaitingFor,
};
use everreach_core::db::tenant::TenantTx;
use everreach_core::error::DomainError;
use uuid::Uuid;

use crate::accounts::query;
use crate::error::{PageError, PageResult};
use crate::fmt::{self, When};
use crate::form::{Field, Form, Problems, UserForm};
use crate::session::Signed;
use crate::shell::{self, Nav, Shell};

/// Rows per page of the queue.
const PAGE: i64 = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/outreach", get(page).post(queue))
        .route("/outreach/settings", post(save_settings))
        .route("/outreach/{id}/cancel", post(cancel))
        .route("/outreach/{id}/retry", post(retry))
}

/// A queue row as the page shows it.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: Uuid,
    pub contact: Option<Uuid>,
    pub username: String,
    pub text: String,
    pub priority: i32,
    pub status: &'static str,
    /// Why an open row waits, in words.
    pub waiting: Option<&'static str>,
    pub next: Option<When>,
    pub sent: Option<When>,
    pub error: Option<String>,
    pub created: When,
    pub can_cancel: bool,
    pub can_retry: bool,
}

/// Today's use of the limits, in words.
#[derive(Debug, Clone)]
pub struct Limits {
    pub cap: i32,
    pub sent_today: i64,
    pub scheduled: i64,
    pub remaining: i64,
    pub quiet: String,
    pub quiet_until: Option<When>,
    pub timezone: String,
    pub day_ends: When,
}

#[derive(Template)]
#[template(path = "outreach.html")]
struct OutreachPage {
    shell: Shell,
    limits: Limits,
    settings: Vec<Field>,
    message: Vec<Field>,
    problems: Problems,
    /// `(value, label, aria-current)` of the status filter.
    tabs: Vec<(String, String, &'static str)>,
    status: String,
    rows: Vec<Row>,
    /// The query of the next (older) page.
    older: Option<String>,
}

fn waiting_words(w: WaitingFor) -> &'static str {
    match w {
        WaitingFor::ScheduledTime => "Waits for its time",
        WaitingFor::QuietHours => "Waits for quiet hours to end",
        WaitingFor::DailyCap => "Waits: today's cap is used up",
        WaitingFor::NextRun => "Goes on the next run (every minute)",
        WaitingFor::Sending => "Being sent",
    }
}

fn row(item: &OutreachItem, tz: Tz) -> Row {
    Row {
        id: item.id,
        contact: item.contact_id,
        username: item.username.clone(),
        text: item.message_text.clone(),
        priority: item.priority,
        status: item.status.as_str(),
        waiting: item.waiting_for.map(waiting_words),
        next: fmt::when_opt(item.next_attempt_at, tz),
        sent: fmt::when_opt(item.sent_at, tz),
        error: item.error.clone(),
        created: fmt::when(item.created_at, tz),
        can_cancel: matches!(item.status, Status::Pending | Status::Scheduled),
        can_retry: item.status == Status::Failed,
    }
}

fn limits(v: &SettingsView, tz: Tz) -> Limits {
    Limits {
        cap: v.daily_cap,
        sent_today: v.sent_today,
        scheduled: v.scheduled,
        remaining: v.remaining_today,
        quiet: if v.quiet_start == v.quiet_end {
            "none".into()
        } else {
            format!("{} to {}", v.quiet_start, v.quiet_end)
        },
        quiet_until: v.quiet_until.map(|t| fmt::when(t, tz)),
        timezone: v.timezone.replace('_', " "),
        day_ends: fmt::when(v.day_ends_at, tz),
    }
}

fn priorities() -> Vec<(String, String)> {
    PRIORITIES
        .map(|p| {
            let label = match p {
                1 => "1 — most urgent".to_string(),
                5 => "5 — normal".to_string(),
                10 => "10 — least urgent".to_string(),
                p => p.to_string(),
            };
            (p.to_string(), label)
        })
        .collect()
}

/// The page's forms: which one came back, with its input and problems.
enum Sent<'a> {
    None,
    Settings(&'a Form),
    Message(&'a Form),
}

/// What the page shows: the filter and cursor from the query.
struct View {
    status: Option<Status>,
    before: Option<(DateTime<Utc>, Uuid)>,
    /// Prefills the queue form's contact (`?to=username`, from a contact page).
    to: String,
}

fn view(q: &Form) -> View {
    let before = q.get("before").split_once('_').and_then(|(t, id)| {
        Some((
            DateTime::parse_from_rfc3339(t).ok()?.with_timezone(&Utc),
            Uuid::parse_str(id).ok()?,
        ))
    });
    View {
        status: Status::parse(q.get("status")),
        before,
        to: q.get("to").trim_start_matches('@').to_string(),
    }
}

async fn render(
    state: &AppState,
    me: &Signed,
    v: &View,
    sent: Sent<'_>,
    problems: Problems,
    notice: Option<&str>,
) -> PageResult<Response> {
    let tz = fmt::zone(me.user.timezone.as_deref());
    let now = Utc::now();
    let mut tx = TenantTx::begin_snapshot(&state.db.app, me.user_id()).await?;
    let settings = outreach::settings(&mut tx, now).await?;
    let items = outreach::list(
        &mut tx,
        &ListFilter {
            status: v.status,
            before: v.before,
            limit: PAGE + 1,
        },
        now,
    )
    .await?;
    tx.commit().await?;

    let more = items.len() as i64 > PAGE;
    let items = &items[..items.len().min(PAGE as usize)];
    let status = v.status.map(Status::as_str).unwrap_or_default().to_string();
    let older = more.then(|| {
        let last = &items[items.len() - 1];
        let cursor = format!(
            "{}_{}",
            last.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            last.id
        );
        let mut q = format!("before={}", crate::form::encode(&cursor));
        if !status.is_empty() {
            q.push_str(&format!("&status={status}"));
        }
        q
    });

    let mut settings_fields = vec![
        Field::new("daily_cap", "Messages a day", "number")
            .value(settings.daily_cap.to_string())
            .hint("0 pauses sending; at most 1,000."),
        Field::new("quiet_start", "Quiet hours start", "time").value(settings.quiet_start.clone()),
        Field::new("quiet_end", "Quiet hours end", "time")
            .value(settings.quiet_end.clone())
            .hint("The next morning when earlier than the start; the same time: no quiet hours."),
    ];
    let mut message_fields = vec![
        Field::new("username", "To (Instagram username)", "text")
            .value(v.to.clone())
            .hint("One of your contacts, e.g. sarah.builds"),
        Field::new("message_text", "Message", "textarea").hint("Up to 1,000 characters."),
        Field::new("priority", "Priority", "select")
            .options(priorities())
            .value(outreach::DEFAULT_PRIORITY.to_string()),
        Field::new("scheduled_at", "Not before", "datetime-local")
            .hint("Your time zone. Empty: as soon as the cap and quiet hours allow."),
    ];
    match sent {
        Sent::None => {}
        Sent::Settings(f) => {
            settings_fields = settings_fields
                .into_iter()
                .map(|x| x.from(f, &problems))
                .collect()
        }
        Sent::Message(f) => {
            message_fields = message_fields
                .into_iter()
                .map(|x| x.from(f, &problems))
                .collect()
        }
    }

    let mut tabs = vec![(String::new(), "All".to_string(), "false")];
    for s in [
        Status::Pending,
        Status::Scheduled,
        Status::Sent,
        Status::Failed,
        Status::Cancelled,
    ] {
        let mut label = s.as_str().to_string();
        label[..1].make_ascii_uppercase();
        tabs.push((s.as_str().to_string(), label, "false"));
    }
    for t in &mut tabs {
        if t.0 == status {
            t.2 = "page";
        }
    }

    let mut shell = me.shell("Outreach", Nav::Outreach);
    shell.has_errors = !problems.is_empty();
    shell.notice = notice.map(str::to_string);
    Ok(shell::render_form(
        !problems.is_empty(),
        &OutreachPage {
            shell,
            limits: limits(&settings, tz),
            settings: settings_fields,
            message: message_fields,
            problems,
            tabs,
            status,
            rows: items.iter().map(|i| row(i, tz)).collect(),
            older,
        },
    ))
}

async fn page(
    State(state): State<AppState>,
    me: Signed,
    RawQuery(q): RawQuery,
) -> PageResult<Response> {
    let q = query(q);
    let notice = match q.get("done") {
        "queued" => Some("Queued. It goes out when its turn comes within your limits."),
        "settings" => Some("Limits saved."),
        "cancelled" => Some("Cancelled: it will not be sent."),
        "retried" => Some("Back in the queue: it will be tried again."),
        "moved" => Some("That message had already moved on; the list shows where it is now."),
        _ => None,
    };
    render(
        &state,
        &me,
        &view(&q),
        Sent::None,
        Problems::default(),
        notice,
    )
    .await
}

/// A problem of a core check as the form names it (`/message_text` →
/// `message_text`; the contact's id is the username field here).
fn problems_of(e: DomainError) -> PageResult<Problems> {
    let api = ApiError::from(e);
    let mut p = Problems::from_api(&api).ok_or(PageError::Api(api))?;
    for (field, _) in &mut p.0 {
        if field == "contact_id" {
            *field = "username".into();
        }
    }
    Ok(p)
}

/// A `datetime-local` value (`2026-12-05T09:30`) in the user's zone.
fn local_time(text: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let t = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    Some(outreach::at_local(tz, t.date(), t.time()))
}

async fn queue(
    State(state): State<AppState>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    me.require_writer()?;
    let tz = fmt::zone(me.user.timezone.as_deref());
    let mut problems = Problems::default();
    let priority = match form.get("priority") {
        "" => None,
        p => match p.parse::<i32>() {
            Ok(p) => Some(p),
            Err(_) => {
                problems.add("priority", "Choose a priority from 1 to 10");
                None
            }
        },
    };
    let scheduled_at = match form.get("scheduled_at") {
        "" => None,
        t => match local_time(t, tz) {
            Some(t) => Some(t),
            None => {
                problems.add(
                    "scheduled_at",
                    "Enter a date and time, e.g. 2026-12-24T09:30, or leave it empty",
                );
                None
            }
        },
    };
    let v = View {
        status: None,
        before: None,
        to: String::new(),
    };
    if !problems.is_empty() {
        return render(&state, &me, &v, Sent::Message(&form), problems, None).await;
    }
    let input = NewOutreach {
        contact_id: None,
        username: form.opt("username"),
        message_text: Some(form.raw("message_text").to_string()),
        priority,
        scheduled_at,
    };
    let mut tx = TenantTx::begin(&state.db.app, me.user_id()).await?;
    match outreach::enqueue(&mut tx, &input, Utc::now()).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to("/outreach?done=queued").into_response())
        }
        Err(e @ DomainError::Invalid(_)) => {
            drop(tx);
            let problems = problems_of(e)?;
            render(&state, &me, &v, Sent::Message(&form), problems, None).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn save_settings(
    State(state): State<AppState>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    me.require_writer()?;
    let mut problems = Problems::default();
    let daily_cap = match form.get("daily_cap") {
        "" => None,
        c => match c.parse::<i64>() {
            Ok(c) => Some(c),
            Err(_) => {
                problems.add(
                    "daily_cap",
                    "Enter a whole number of messages a day, 0 to 1000",
                );
                Some(0)
            }
        },
    };
    let v = View {
        status: None,
        before: None,
        to: String::new(),
    };
    if !problems.is_empty() {
        return render(&state, &me, &v, Sent::Settings(&form), problems, None).await;
    }
    let input = SettingsInput {
        daily_cap,
        quiet_start: form.opt("quiet_start"),
        quiet_end: form.opt("quiet_end"),
    };
    let mut tx = TenantTx::begin(&state.db.app, me.user_id()).await?;
    match outreach::put_settings(&mut tx, &input, Utc::now()).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to("/outreach?done=settings").into_response())
        }
        Err(e @ DomainError::Invalid(_)) => {
            drop(tx);
            let problems = problems_of(e)?;
            render(&state, &me, &v, Sent::Settings(&form), problems, None).await
        }
        Err(e) => Err(e.into()),
    }
}

/// What the user does to a row.
#[derive(Clone, Copy)]
enum Op {
    Cancel,
    Retry,
}

/// Runs a cancel or retry; a row that has moved on meanwhile (a 409) comes back to
/// the list with a notice rather than an error page.
async fn change(state: &AppState, me: &Signed, id: &str, op: Op) -> PageResult<Response> {
    me.require_writer()?;
    let id = everreach_api::extract::path_id(id)?;
    let mut tx = TenantTx::begin(&state.db.app, me.user_id()).await?;
    let now = Utc::now();
    let (done, result) = match op {
        Op::Cancel => ("cancelled", outreach::cancel(&mut tx, id, now).await),
        Op::Retry => ("retried", outreach::retry(&mut tx, id, now).await),
    };
    match result {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/outreach?done={done}")).into_response())
        }
        Err(DomainError::Conflict { .. }) => {
            Ok(Redirect::to("/outreach?done=moved").into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, .. }: UserForm,
) -> PageResult<Response> {
    change(&state, &me, &id, Op::Cancel).await
}

async fn retry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, .. }: UserForm,
) -> PageResult<Response> {
    change(&state, &me, &id, Op::Retry).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_are_read_in_the_users_zone() {
        let tz: Tz = "Europe/Lisbon".parse().unwrap();
        let t = local_time("2026-07-01T09:30", tz).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-07-01T08:30:00+00:00");
        assert!(local_time("tomorrow", tz).is_none());
        assert!(local_time("2026-13-01T09:30", tz).is_none());
    }

    #[test]
    fn a_cursor_round_trips() {
        let q = Form::parse(b"before=2026-12-05T10%3A00%3A00.123456Z_6f1c1d3e-6c1a-4e8e-9b7a-0d5c2b1e4f00&status=failed");
        let v = view(&q);
        assert_eq!(v.status, Some(Status::Failed));
        let (t, id) = v.before.unwrap();
        assert_eq!(t.timestamp_subsec_micros(), 123_456);
        assert_eq!(id.to_string(), "6f1c1d3e-6c1a-4e8e-9b7a-0d5c2b1e4f00");
        assert!(view(&Form::parse(b"status=bogus")).status.is_none());
    }
}
