//! What the user does with the outreach queue: messages and limits checked (every
//! problem at once, by field), queued, listed, cancelled and retried, with an audit
//! row and a domain event for each change; what the API answers.

use super::*;

use std::collections::HashSet;

use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::audit::Operation;
use crate::crm::model::MAX_MESSAGE_BYTES;
use crate::db::tenant::TenantTx;
use crate::error::{DomainError, DomainResult, FieldProblem};
use crate::people::{Channel, normalize_handle};

// ---------------------------------------------------------------------------------
// Inputs and their checks
// ---------------------------------------------------------------------------------

/// A message to queue.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOutreach {
    /// The contact (one of your `instagram-contacts`). Give this or `username`.
    #[serde(default)]
    pub contact_id: Option<Uuid>,
    /// The contact's Instagram username (`@` and case ignored): one of your
    /// contacts — outreach goes to people you already have a conversation with, so an
    /// unknown username is refused rather than a contact created.
    #[serde(default)]
    pub username: Option<String>,
    /// The DM: 1 to 1,000 characters (trimmed; at most 2,400 bytes), no NUL.
    #[serde(default)]
    pub message_text: Option<String>,
    /// 1 (most urgent, sent first) to 10; default 5.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10)]
    pub priority: Option<i32>,
    /// Not before this time (RFC 3339; at most a minute in the past, a year ahead).
    /// Without it: as soon as the daily cap and quiet hours allow.
    #[serde(default)]
    pub scheduled_at: Option<DateTime<Utc>>,
}

/// Who a checked message goes to, as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRef {
    pub id: Option<Uuid>,
    /// Normalised.
    pub username: Option<String>,
}

/// A message that passed every rule (the contact is resolved by [`enqueue`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedOutreach {
    pub contact: ContactRef,
    pub text: String,
    pub priority: i32,
    pub scheduled_at: Option<DateTime<Utc>>,
}

const NUL: &str = "must not contain a NUL character";

/// Checks a message to queue at `now`: every problem at once, each naming its field.
pub fn check_new(
    input: &NewOutreach,
    now: DateTime<Utc>,
) -> Result<CheckedOutreach, Vec<FieldProblem>> {
    let mut problems: Vec<FieldProblem> = Vec::new();
    let mut bad = |field: &str, message: String| problems.push((field.to_string(), message));

    let username = match input.username.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(u) if u.contains('\0') => {
            bad("/username", NUL.into());
            None
        }
        Some(u) => match normalize_handle(Channel::Instagram, u) {
            Ok(u) => Some(u),
            Err(e) => {
                bad("/username", e.to_string());
                None
            }
        },
    };
    if input.contact_id.is_none()
        && input
            .username
            .as_deref()
            .is_none_or(|u| u.trim().is_empty())
    {
        bad(
            "/contact_id",
            "give contact_id or username: the contact to write to".into(),
        );
    }

    let text = match input.message_text.as_deref().map(str::trim) {
        None => {
            bad("/message_text", "is required: the DM to send".into());
            String::new()
        }
        Some("") => {
            bad("/message_text", "is empty: write the DM to send".into());
            String::new()
        }
        Some(t) if t.contains('\0') => {
            bad("/message_text", NUL.into());
            String::new()
        }
        Some(t) if t.chars().count() > MAX_TEXT_CHARS => {
            bad(
                "/message_text",
                format!(
                    "is {} characters; a DM is at most {MAX_TEXT_CHARS} (Instagram's limit): shorten it or send two",
                    t.chars().count()
                ),
            );
            String::new()
        }
        Some(t) if t.len() > MAX_MESSAGE_BYTES => {
            bad(
                "/message_text",
                format!(
                    "is {} bytes; a DM is stored with at most {MAX_MESSAGE_BYTES} bytes (about 600 emoji): shorten it",
                    t.len()
                ),
            );
            String::new()
        }
        Some(t) => t.to_string(),
    };

    let priority = match input.priority {
        None => DEFAULT_PRIORITY,
        Some(p) if PRIORITIES.contains(&p) => p,
        Some(p) => {
            bad(
                "/priority",
                format!(
                    "{p} is out of range: 1 (most urgent, sent first) to 10 (least); default {DEFAULT_PRIORITY}"
                ),
            );
            DEFAULT_PRIORITY
        }
    };

    let scheduled_at = match input.scheduled_at {
        None => None,
        Some(at) if at < now - PAST_GRACE => {
            bad(
                "/scheduled_at",
                format!(
                    "{} is in the past: leave it out to send as soon as the cap and quiet hours allow",
                    at.to_rfc3339()
                ),
            );
            None
        }
        Some(at) if at > now + MAX_AHEAD => {
            bad("/scheduled_at", "must be at most a year ahead".to_string());
            None
        }
        Some(at) => Some(micros(at)),
    };

    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(CheckedOutreach {
        contact: ContactRef {
            id: input.contact_id,
            username,
        },
        text,
        priority,
        scheduled_at,
    })
}

/// A user's new limits (`PUT /outreach/settings`): all three.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    /// Queue messages per calendar day in your time zone: 0 (paused) to 1,000.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000)]
    pub daily_cap: Option<i64>,
    /// Quiet hours start, local `HH:MM` (24-hour), e.g. `21:00`.
    #[serde(default)]
    pub quiet_start: Option<String>,
    /// Quiet hours end, local `HH:MM`, e.g. `08:00` (the next day when earlier than
    /// the start; equal to it: no quiet hours).
    #[serde(default)]
    pub quiet_end: Option<String>,
}

/// Checks new limits: every problem at once.
pub fn check_settings(input: &SettingsInput) -> Result<Limits, Vec<FieldProblem>> {
    let mut problems: Vec<FieldProblem> = Vec::new();
    let daily_cap = match input.daily_cap {
        Some(c) if (0..=i64::from(MAX_CAP)).contains(&c) => c as i32,
        Some(c) => {
            problems.push((
                "/daily_cap".into(),
                format!("{c} is out of range: 0 (paused) to {MAX_CAP} messages a day"),
            ));
            0
        }
        None => {
            problems.push((
                "/daily_cap".into(),
                "is required: queue messages per day, 0 to 1000".into(),
            ));
            0
        }
    };
    let mut time = |field: &str, value: &Option<String>| -> NaiveTime {
        match value.as_deref().map(str::trim) {
            Some(t) if t.len() == 5 => match NaiveTime::parse_from_str(t, "%H:%M") {
                Ok(t) => return t,
                Err(_) => problems.push((
                    field.into(),
                    format!("{t:?} is not a time: use HH:MM, 24-hour (e.g. 21:00)"),
                )),
            },
            Some(t) => problems.push((
                field.into(),
                format!("{t:?} is not a time: use HH:MM, 24-hour (e.g. 21:00)"),
            )),
            None => problems.push((
                field.into(),
                "is required: a local time as HH:MM (equal start and end: no quiet hours)".into(),
            )),
        }
        NaiveTime::MIN
    };
    let quiet_start = time("/quiet_start", &input.quiet_start);
    let quiet_end = time("/quiet_end", &input.quiet_end);
    if problems.is_empty() {
        Ok(Limits {
            daily_cap,
            quiet_start,
            quiet_end,
        })
    } else {
        Err(problems)
    }
}

// ---------------------------------------------------------------------------------
// What the API answers
// ---------------------------------------------------------------------------------

/// A queued message, with why it waits.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OutreachItem {
    pub id: Uuid,
    pub contact_id: Option<Uuid>,
    pub username: String,
    pub message_text: String,
    /// 1 (most urgent) to 10.
    pub priority: i32,
    pub status: Status,
    /// Not before this time (null: as soon as allowed).
    pub scheduled_at: Option<DateTime<Utc>>,
    /// When the sender claimed it (`scheduled`).
    pub claimed_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    /// The DM the send recorded (in the contact's conversation).
    pub sent_message_id: Option<Uuid>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Why it failed (`failed`), or why the last attempt did not go (`scheduled`).
    pub error: Option<String>,
    /// Send attempts made.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    /// Why an open message has not gone yet (null once sent, failed or cancelled).
    pub waiting_for: Option<WaitingFor>,
    /// The earliest time it may go (null when done, or while sending is paused).
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// A user's limits and today's use of them.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SettingsView {
    /// Queue messages per local calendar day (0: paused).
    pub daily_cap: i32,
    /// Quiet hours, local `HH:MM`.
    pub quiet_start: String,
    pub quiet_end: String,
    /// The zone the day and quiet hours are in (`users.timezone`; UTC when unset or
    /// unknown). Change it with `PATCH /api/v1/me`.
    pub timezone: String,
    /// Queue messages sent today (local day).
    pub sent_today: i64,
    /// Claimed and about to be sent; they count toward today's cap.
    pub scheduled: i64,
    /// How many more may be claimed today.
    pub remaining_today: i64,
    /// Whether it is quiet hours now.
    pub quiet_now: bool,
    /// When the current quiet hours end (null when not quiet).
    pub quiet_until: Option<DateTime<Utc>>,
    /// When today ends in your zone (the cap starts again).
    pub day_ends_at: DateTime<Utc>,
}

/// A row as read.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct Row {
    pub(super) id: Uuid,
    pub(super) contact_id: Option<Uuid>,
    pub(super) username: String,
    pub(super) message_text: String,
    pub(super) priority: i32,
    pub(super) status: String,
    pub(super) scheduled_at: Option<DateTime<Utc>>,
    pub(super) claimed_at: Option<DateTime<Utc>>,
    pub(super) sent_at: Option<DateTime<Utc>>,
    pub(super) sent_message_id: Option<Uuid>,
    pub(super) cancelled_at: Option<DateTime<Utc>>,
    pub(super) error: Option<String>,
    pub(super) attempts: i32,
    pub(super) created_at: DateTime<Utc>,
}

/// A row as read for a change: the row and its JSON for the audit log.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct Written {
    #[sqlx(flatten)]
    pub(super) row: Row,
    pub(super) snapshot: Value,
}

pub(super) const COLUMNS: &str = "id, contact_id, username, message_text, priority, status, scheduled_at, claimed_at, \
                       sent_at, sent_message_id, cancelled_at, error, attempts, created_at";

impl Row {
    pub(super) fn status(&self) -> DomainResult<Status> {
        Status::parse(&self.status).ok_or_else(|| {
            DomainError::Db(sqlx::Error::Protocol(format!(
                "outreach_queue.status {:?} is none of the five",
                self.status
            )))
        })
    }

    pub(super) fn item(
        &self,
        usage: &Usage,
        next_up: &HashSet<Uuid>,
    ) -> DomainResult<OutreachItem> {
        let status = self.status()?;
        let wait = waiting(usage, status, self.scheduled_at, next_up.contains(&self.id));
        Ok(OutreachItem {
            id: self.id,
            contact_id: self.contact_id,
            username: self.username.clone(),
            message_text: self.message_text.clone(),
            priority: self.priority,
            status,
            scheduled_at: self.scheduled_at,
            claimed_at: self.claimed_at,
            sent_at: self.sent_at,
            sent_message_id: self.sent_message_id,
            cancelled_at: self.cancelled_at,
            error: self.error.clone(),
            attempts: self.attempts,
            created_at: self.created_at,
            waiting_for: wait.map(|w| w.0),
            next_attempt_at: wait.and_then(|w| w.1),
        })
    }
}

// ---------------------------------------------------------------------------------
// What the user does
// ---------------------------------------------------------------------------------

/// Queues a message at `now`: checks it, resolves the contact (an unknown one is a
/// 422 naming the field: nothing is created), stores it `pending`, and records the
/// audit row and `outreach.queued`.
pub async fn enqueue(
    tx: &mut TenantTx,
    input: &NewOutreach,
    now: DateTime<Utc>,
) -> DomainResult<OutreachItem> {
    let checked = check_new(input, now).map_err(DomainError::Invalid)?;
    let (contact_id, username) = resolve_contact(tx, &checked.contact).await?;
    let written: Written = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO outreach_queue (user_id, contact_id, username, message_text, priority, status, scheduled_at, created_at)
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)
         RETURNING {COLUMNS}, to_jsonb(outreach_queue.*) AS snapshot"
    )))
    .bind(tx.user_id())
    .bind(contact_id)
    .bind(&username)
    .bind(&checked.text)
    .bind(checked.priority)
    .bind(checked.scheduled_at)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    tx.audit(
        "outreach_queue",
        Operation::Insert,
        None,
        Some(&written.snapshot),
    )
    .await?;
    tx.log_event(
        "outreach_queue",
        written.row.id,
        "outreach.queued",
        &json!({
            "contact_id": contact_id,
            "username": username,
            "priority": checked.priority,
            "scheduled_at": checked.scheduled_at,
        }),
    )
    .await?;
    item(tx, &written.row, now).await
}

/// The contact a message goes to: `(id, username)`.
async fn resolve_contact(tx: &mut TenantTx, contact: &ContactRef) -> DomainResult<(Uuid, String)> {
    if let Some(id) = contact.id {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT instagram_username FROM instagram_contacts WHERE user_id = $1 AND id = $2",
        )
        .bind(tx.user_id())
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(found) = found else {
            return Err(DomainError::invalid(
                "/contact_id",
                "is not one of your contacts (GET /api/v1/instagram-contacts lists them)",
            ));
        };
        if let Some(u) = &contact.username
            && *u != found.to_lowercase()
        {
            return Err(DomainError::invalid(
                "/username",
                format!("is @{u}, but contact_id is @{found}: give one of them"),
            ));
        }
        return Ok((id, found));
    }
    let username = contact.username.clone().unwrap_or_default();
    let found: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT id, instagram_username FROM instagram_contacts
          WHERE user_id = $1 AND lower(instagram_username) = $2
          ORDER BY instagram_username = $2 DESC, created_at, id LIMIT 1",
    )
    .bind(tx.user_id())
    .bind(&username)
    .fetch_optional(&mut **tx)
    .await?;
    found.ok_or_else(|| {
        DomainError::invalid(
            "/username",
            format!(
                "@{username} is not one of your contacts: outreach goes to people you already talk to — ingest your DMs with them (POST /api/v1/instagram-messages/batch) or add the contact (POST /api/v1/instagram-contacts) first"
            ),
        )
    })
}

/// A page of the queue, newest first.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<Status>,
    /// Rows created before this `(created_at, id)` (the cursor).
    pub before: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

/// The queue, newest first, with why each open row waits at `now`.
pub async fn list(
    tx: &mut TenantTx,
    filter: &ListFilter,
    now: DateTime<Utc>,
) -> DomainResult<Vec<OutreachItem>> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM outreach_queue
          WHERE user_id = $1 AND ($2::text IS NULL OR status = $2)
            AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
          ORDER BY created_at DESC, id DESC
          LIMIT $5"
    )))
    .bind(tx.user_id())
    .bind(filter.status.map(Status::as_str))
    .bind(filter.before.map(|b| b.0))
    .bind(filter.before.map(|b| b.1))
    .bind(filter.limit)
    .fetch_all(&mut **tx)
    .await?;
    items(tx, &rows, now).await
}

/// One queued message, with why it waits at `now`.
pub async fn get(tx: &mut TenantTx, id: Uuid, now: DateTime<Utc>) -> DomainResult<OutreachItem> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM outreach_queue WHERE user_id = $1 AND id = $2"
    )))
    .bind(tx.user_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    item(tx, &row.ok_or(DomainError::NotFound)?, now).await
}

/// The row, locked (waiting for a send in progress to finish).
async fn lock(tx: &mut TenantTx, id: Uuid) -> DomainResult<Written> {
    let row: Option<Written> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS}, to_jsonb(q.*) AS snapshot FROM outreach_queue q
          WHERE user_id = $1 AND id = $2 FOR UPDATE"
    )))
    .bind(tx.user_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.ok_or(DomainError::NotFound)
}

/// Cancels a pending or scheduled message (409 naming its status otherwise). A send
/// under way is waited for: once it commits, the message is sent and the cancel is
/// a 409.
pub async fn cancel(tx: &mut TenantTx, id: Uuid, now: DateTime<Utc>) -> DomainResult<OutreachItem> {
    let old = lock(tx, id).await?;
    let from = old.row.status()?;
    transition(from, Action::Cancel).map_err(DomainError::conflict)?;
    let new: Written = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE outreach_queue SET status = 'cancelled', cancelled_at = $3
          WHERE user_id = $1 AND id = $2
          RETURNING {COLUMNS}, to_jsonb(outreach_queue.*) AS snapshot"
    )))
    .bind(tx.user_id())
    .bind(id)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    tx.audit(
        "outreach_queue",
        Operation::Update,
        Some(&old.snapshot),
        Some(&new.snapshot),
    )
    .await?;
    tx.log_event(
        "outreach_queue",
        id,
        "outreach.cancelled",
        &json!({"contact_id": new.row.contact_id, "previous_status": from.as_str()}),
    )
    .await?;
    item(tx, &new.row, now).await
}

/// Puts a failed message back in the queue (`pending`, attempts and error cleared);
/// 409 naming its status for any other.
pub async fn retry(tx: &mut TenantTx, id: Uuid, now: DateTime<Utc>) -> DomainResult<OutreachItem> {
    let old = lock(tx, id).await?;
    let from = old.row.status()?;
    transition(from, Action::Retry).map_err(DomainError::conflict)?;
    let new: Written = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE outreach_queue SET status = 'pending', error = NULL, attempts = 0, claimed_at = NULL
          WHERE user_id = $1 AND id = $2
          RETURNING {COLUMNS}, to_jsonb(outreach_queue.*) AS snapshot"
    )))
    .bind(tx.user_id())
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    tx.audit(
        "outreach_queue",
        Operation::Update,
        Some(&old.snapshot),
        Some(&new.snapshot),
    )
    .await?;
    tx.log_event(
        "outreach_queue",
        id,
        "outreach.retried",
        &json!({"contact_id": new.row.contact_id, "error": old.row.error, "attempts": old.row.attempts}),
    )
    .await?;
    item(tx, &new.row, now).await
}

fn hhmm(t: NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

/// The user's limits and today's use of them at `now`.
pub async fn settings(tx: &mut TenantTx, now: DateTime<Utc>) -> DomainResult<SettingsView> {
    let u = usage(tx, now).await?;
    let quiet_now = u.quiet_now();
    Ok(SettingsView {
        daily_cap: u.limits.daily_cap,
        quiet_start: hhmm(u.limits.quiet_start),
        quiet_end: hhmm(u.limits.quiet_end),
        timezone: u.tz.name().to_string(),
        sent_today: u.sent_today,
        scheduled: u.claimed,
        remaining_today: u.remaining(),
        quiet_now,
        quiet_until: quiet_now.then(|| u.limits.allowed_from(u.tz, now)),
        day_ends_at: u.day_ends_at,
    })
}

/// Sets the user's limits (all three), with an audit row and
/// `outreach.settings_updated`; answers them with today's use at `now`.
pub async fn put_settings(
    tx: &mut TenantTx,
    input: &SettingsInput,
    now: DateTime<Utc>,
) -> DomainResult<SettingsView> {
    let limits = check_settings(input).map_err(DomainError::Invalid)?;
    let old: Option<Value> = sqlx::query_scalar(
        "SELECT to_jsonb(s.*) FROM outreach_settings s WHERE user_id = $1 FOR UPDATE",
    )
    .bind(tx.user_id())
    .fetch_optional(&mut **tx)
    .await?;
    let new: Value = sqlx::query_scalar(
        "INSERT INTO outreach_settings (user_id, daily_cap, quiet_start, quiet_end, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id) DO UPDATE
            SET daily_cap = EXCLUDED.daily_cap, quiet_start = EXCLUDED.quiet_start,
                quiet_end = EXCLUDED.quiet_end, updated_at = EXCLUDED.updated_at
         RETURNING to_jsonb(outreach_settings.*)",
    )
    .bind(tx.user_id())
    .bind(limits.daily_cap)
    .bind(limits.quiet_start)
    .bind(limits.quiet_end)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let operation = if old.is_some() {
        Operation::Update
    } else {
        Operation::Insert
    };
    tx.audit("outreach_settings", operation, old.as_ref(), Some(&new))
        .await?;
    let user_id = tx.user_id();
    tx.log_event(
        "outreach_settings",
        user_id,
        "outreach.settings_updated",
        &json!({
            "daily_cap": limits.daily_cap,
            "quiet_start": hhmm(limits.quiet_start),
            "quiet_end": hhmm(limits.quiet_end),
        }),
    )
    .await?;
    settings(tx, now).await
}

/// The view of `rows` at `now`.
async fn items(
    tx: &mut TenantTx,
    rows: &[Row],
    now: DateTime<Utc>,
) -> DomainResult<Vec<OutreachItem>> {
    let usage = usage(tx, now).await?;
    let next = next_up(tx, &usage).await?;
    rows.iter().map(|r| r.item(&usage, &next)).collect()
}

async fn item(tx: &mut TenantTx, row: &Row, now: DateTime<Utc>) -> DomainResult<OutreachItem> {
    let mut one = items(tx, std::slice::from_ref(row), now).await?;
    one.pop().ok_or(DomainError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(start: (u32, u32), end: (u32, u32)) -> Limits {
        Limits {
            daily_cap: 20,
            quiet_start: hm(start.0, start.1),
            quiet_end: hm(end.0, end.1),
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn input(text: &str) -> NewOutreach {
        NewOutreach {
            contact_id: None,
            username: Some("@Grace.Hopper".into()),
            message_text: Some(text.into()),
            priority: None,
            scheduled_at: None,
        }
    }

    #[test]
    fn a_message_is_checked_and_normalised() {
        let now = t("2026-12-02T12:00:00Z");
        let c = check_new(&input("  hey, how did the launch go?  "), now).unwrap();
        assert_eq!(c.contact.username.as_deref(), Some("grace.hopper"));
        assert_eq!(c.text, "hey, how did the launch go?");
        assert_eq!(c.priority, 5);
        assert_eq!(c.scheduled_at, None);
        let mut i = input("🔥");
        i.priority = Some(1);
        i.scheduled_at = Some(now - Duration::seconds(30));
        assert!(check_new(&i, now).is_ok(), "a few seconds of skew are fine");
        assert!(check_new(&input(&"é".repeat(1_000)), now).is_ok());
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let now = t("2026-12-02T12:00:00Z");
        let bad = NewOutreach {
            contact_id: None,
            username: None,
            message_text: Some("a\0b".into()),
            priority: Some(11),
            scheduled_at: Some(now - Duration::minutes(2)),
        };
        let fields: Vec<String> = check_new(&bad, now)
            .unwrap_err()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            fields,
            ["/contact_id", "/message_text", "/priority", "/scheduled_at"]
        );
        let far = NewOutreach {
            scheduled_at: Some(now + Duration::days(366)),
            priority: Some(0),
            message_text: None,
            username: Some("not a handle!".into()),
            ..input("x")
        };
        let fields: Vec<String> = check_new(&far, now)
            .unwrap_err()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            fields,
            ["/username", "/message_text", "/priority", "/scheduled_at"]
        );
    }

    #[test]
    fn a_text_is_at_most_1000_characters_and_2400_bytes() {
        let now = t("2026-12-02T12:00:00Z");
        let long = check_new(&input(&"a".repeat(1_001)), now).unwrap_err();
        assert_eq!(long[0].0, "/message_text");
        assert!(long[0].1.contains("1001 characters"), "{}", long[0].1);
        // 700 emoji are 700 characters but 2,800 bytes: more than a DM row holds
        let emoji = check_new(&input(&"🔥".repeat(700)), now).unwrap_err();
        assert!(emoji[0].1.contains("2800 bytes"), "{}", emoji[0].1);
        for blank in ["", "   "] {
            assert_eq!(
                check_new(&input(blank), now).unwrap_err()[0].0,
                "/message_text"
            );
        }
    }

    #[test]
    fn settings_are_checked() {
        let ok = check_settings(&SettingsInput {
            daily_cap: Some(0),
            quiet_start: Some("22:15".into()),
            quiet_end: Some(" 07:00 ".into()),
        })
        .unwrap();
        assert_eq!(ok, limits((22, 15), (7, 0)).with_cap(0));
        let bad = check_settings(&SettingsInput {
            daily_cap: Some(1_001),
            quiet_start: Some("9pm".into()),
            quiet_end: None,
        })
        .unwrap_err();
        let fields: Vec<&str> = bad.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["/daily_cap", "/quiet_start", "/quiet_end"]);
        assert!(
            check_settings(&SettingsInput {
                daily_cap: Some(-1),
                quiet_start: Some("24:00".into()),
                quiet_end: Some("08:00".into()),
            })
            .is_err()
        );
    }

    impl Limits {
        fn with_cap(mut self, cap: i32) -> Limits {
            self.daily_cap = cap;
            self
        }
    }
}
