//! The outreach queue (001's `outreach_queue`; issue 13, item 8): DMs a user queues
//! for a contact, sent by a job one at a time within a daily cap and outside quiet
//! hours.
//!
//! **States** (001's five; [`transition`] is the whole machine):
//! - `pending`: waiting for its turn — its `scheduled_at` has not come, or it has
//!   (or it has none) but its time has not been claimed yet: quiet hours, the day's
//!   cap, or the sender has not run since.
//! - `scheduled`: claimed by the sender for a definite send time (`claimed_at`), within
//!   the cap and outside quiet hours; the claim counts toward the day's cap at once.
//! - `sent` (`sent_at`, `sent_message_id`), `failed` (`error`), `cancelled`
//!   (`cancelled_at`: by the user, any time before it is sent). A failed row can be
//!   retried (back to `pending`). Any other move is a 409 naming the current status.
//!
//! **Order**: priority 1 (most urgent) to 10 (001's default 5), then the time it
//! became due (`scheduled_at`, or `created_at` when it has none), then `created_at`.
//!
//! **Limits** ([`Limits`], `outreach_settings`, the defaults without a row): at most
//! `daily_cap` queue messages sent per calendar day in the user's time zone
//! (`users.timezone`, UTC when unset or unknown); none between `quiet_start` and
//! `quiet_end` there (a window may cross midnight; equal times: no quiet hours). A
//! local day is 23 or 25 hours on DST days; a wall time that a spring-forward gap
//! skips means the first instant after the gap, and one an autumn repeat shows twice
//! means its first showing ([`at_local`]).
//!
//! **Sending** ([`send_due`], run per tenant by the `crm.outreach.send` job every
//! minute, [`send_all_due`]): one transaction claims the due rows (`pending` →
//! `scheduled`) under a per-tenant advisory lock, so two runs never claim past the
//! cap, taking rows `FOR UPDATE SKIP LOCKED`; then each claimed row is sent in a
//! transaction of its own that locks it (`FOR UPDATE SKIP LOCKED`, still
//! `scheduled`), calls the [`OutreachSender`] in that transaction and marks it `sent`
//! there. The outbox sender ([`OutboxSender`]) records the DM in the same
//! transaction, so a row is sent exactly once: two runs skip each other's rows, and a
//! crash before the commit leaves neither the DM nor the `sent` mark (the row stays
//! claimed and the next run sends it). A sender that is unavailable
//! ([`SendError::Unavailable`]) leaves the row claimed for the next run, up to
//! [`MAX_ATTEMPTS`]; one that rejects the message fails the row.
//!
//! **Reading** a row says why a pending one waits ([`WaitingFor`], computed on read,
//! with the earliest time it may go: `next_attempt_at`).
//!
//! Every function takes the time (`now`) instead of reading the clock, so tests run
//! the queue at any time of day. User changes (queue, cancel, retry, settings) write
//! an audit row and a domain event (docs/EVENTS.md, `outreach.*`); the sender's
//! writes record `outreach.sent` / `outreach.failed`.

use std::collections::HashSet;
use std::future::Future;
use std::ops::RangeInclusive;

use chrono::offset::LocalResult;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::model::{CheckedDm, DmStatus, MAX_MESSAGE_BYTES};
use crate::audit::Operation;
use crate::db::tenant::{Actor, TenantTx};
use crate::error::{DomainError, DomainResult, FieldProblem};
use crate::people::{Channel, normalize_handle};

/// The queue of the sender's runs (every minute; created by the runner, which
/// registers its handler).
pub const QUEUE: &str = "crm.outreach.send";

/// Longest message (characters): Instagram's limit for a DM.
pub const MAX_TEXT_CHARS: usize = 1_000;

/// 1 is the most urgent (sent first), 10 the least.
pub const PRIORITIES: RangeInclusive<i32> = 1..=10;

/// 001's column default.
pub const DEFAULT_PRIORITY: i32 = 5;

/// How far in the past a `scheduled_at` may be (clock skew between client and us).
pub const PAST_GRACE: Duration = Duration::minutes(1);

/// How far ahead a `scheduled_at` may be.
pub const MAX_AHEAD: Duration = Duration::days(365);

/// The highest daily cap (0 pauses sending).
pub const MAX_CAP: i32 = 1_000;

/// Send attempts before a row whose sender stays unavailable fails.
pub const MAX_ATTEMPTS: i32 = 5;

/// The send order of a tenant's open rows (served by `idx_outreach_open`).
const SEND_ORDER: &str = "priority, coalesce(scheduled_at, created_at), created_at, id";

// ---------------------------------------------------------------------------------
// The state machine
// ---------------------------------------------------------------------------------

/// A queue row's status (001's five).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for its turn: its time, quiet hours, the daily cap, or the next run.
    Pending,
    /// Claimed by the sender for a definite send time; counts toward today's cap.
    Scheduled,
    Sent,
    Failed,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::Scheduled,
        Status::Sent,
        Status::Failed,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Scheduled => "scheduled",
            Status::Sent => "sent",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What moves a row on: the sender's claim, send and failure; the user's cancel and
/// retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Claim,
    Send,
    Fail,
    Cancel,
    Retry,
}

impl Action {
    /// The statuses it moves a row from.
    fn from(self) -> &'static [Status] {
        match self {
            Action::Claim => &[Status::Pending],
            Action::Send | Action::Fail => &[Status::Scheduled],
            Action::Cancel => &[Status::Pending, Status::Scheduled],
            Action::Retry => &[Status::Failed],
        }
    }

    fn to(self) -> Status {
        match self {
            Action::Claim => Status::Scheduled,
            Action::Send => Status::Sent,
            Action::Fail => Status::Failed,
            Action::Cancel => Status::Cancelled,
            Action::Retry => Status::Pending,
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Action::Claim => "claimed for sending",
            Action::Send => "sent",
            Action::Fail => "failed",
            Action::Cancel => "cancelled",
            Action::Retry => "retried",
        }
    }
}

/// The status `action` moves a `from` row to, or why it cannot (naming the current
/// status and the ones it could be moved from).
pub fn transition(from: Status, action: Action) -> Result<Status, String> {
    if action.from().contains(&from) {
        return Ok(action.to());
    }
    let allowed: Vec<&str> = action.from().iter().map(|s| s.as_str()).collect();
    Err(format!(
        "this message is {from}: only a {} message can be {}",
        allowed.join(" or "),
        action.verb()
    ))
}

// ---------------------------------------------------------------------------------
// Limits: the daily cap and quiet hours, in the user's time zone
// ---------------------------------------------------------------------------------

/// A user's sending limits (`outreach_settings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Queue messages per local calendar day; 0 pauses sending.
    pub daily_cap: i32,
    /// Quiet from this local time…
    pub quiet_start: NaiveTime,
    /// …until this one (may be the next day; equal to `quiet_start`: never quiet).
    pub quiet_end: NaiveTime,
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
}

impl Default for Limits {
    /// 20 a day, quiet from 21:00 to 08:00.
    fn default() -> Limits {
        Limits {
            daily_cap: 20,
            quiet_start: hm(21, 0),
            quiet_end: hm(8, 0),
        }
    }
}

impl Limits {
    /// Whether a local wall time is in the quiet window.
    pub fn is_quiet_at(&self, local: NaiveTime) -> bool {
        let (start, end) = (self.quiet_start, self.quiet_end);
        if start == end {
            false
        } else if start < end {
            start <= local && local < end
        } else {
            // across midnight
            local >= start || local < end
        }
    }

    /// Whether `at` falls in quiet hours in `tz`.
    pub fn is_quiet(&self, tz: Tz, at: DateTime<Utc>) -> bool {
        self.is_quiet_at(at.with_timezone(&tz).time())
    }

    /// The first instant at or after `at` outside quiet hours: `at` itself, or the
    /// end of the quiet window it falls in.
    pub fn allowed_from(&self, tz: Tz, at: DateTime<Utc>) -> DateTime<Utc> {
        if !self.is_quiet(tz, at) {
            return at;
        }
        let local = at.with_timezone(&tz);
        // in the window, a time before its end ends today; a later one (a window
        // across midnight, before midnight) ends tomorrow
        let date = if local.time() < self.quiet_end {
            local.date_naive()
        } else {
            local.date_naive() + Duration::days(1)
        };
        at_local_not_before(tz, date, self.quiet_end, at).max(at)
    }
}

/// How many more queue messages may be claimed today.
pub fn remaining(daily_cap: i32, sent_today: i64, claimed: i64) -> i64 {
    (i64::from(daily_cap) - sent_today - claimed).max(0)
}

/// The instant a local date and wall time name in `tz`: a time a spring-forward gap
/// skips is the first instant after the gap; a time an autumn repeat shows twice is
/// its first showing.
pub fn at_local(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    at_local_not_before(tz, date, time, DateTime::<Utc>::MIN_UTC)
}

/// [`at_local`], except that of a time shown twice the first showing at or after
/// `floor` is taken (the end of a quiet window the second showing is in).
fn at_local_not_before(
    tz: Tz,
    date: NaiveDate,
    time: NaiveTime,
    floor: DateTime<Utc>,
) -> DateTime<Utc> {
    let start = date.and_time(time);
    let mut local = start;
    // gaps are whole minutes (at most a few hours): step to the first wall time after
    for _ in 0..=24 * 60 {
        match tz.from_local_datetime(&local) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(first, second) => {
                let first = first.with_timezone(&Utc);
                return if first >= floor {
                    first
                } else {
                    second.with_timezone(&Utc)
                };
            }
            LocalResult::None => local += Duration::minutes(1),
        }
    }
    // no zone skips a whole day; read the wall time as UTC rather than fail
    Utc.from_utc_datetime(&start)
}

/// The local calendar day of `at` in `tz`, as `[start, end)`: 24 hours, or 23 or 25
/// on the days clocks change.
pub fn local_day(tz: Tz, at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let date = at.with_timezone(&tz).date_naive();
    (
        at_local(tz, date, NaiveTime::MIN),
        at_local(tz, date + Duration::days(1), NaiveTime::MIN),
    )
}

/// The user's zone from `users.timezone` (an IANA name); UTC when unset or unknown.
pub fn zone(name: Option<&str>) -> Tz {
    name.and_then(|n| n.trim().parse::<Tz>().ok())
        .unwrap_or(Tz::UTC)
}

/// The sender's next run after `now` (it runs at the start of every minute).
pub fn next_run(now: DateTime<Utc>) -> DateTime<Utc> {
    let minute = now
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    minute + Duration::minutes(1)
}

/// Where a user's sending stands at `now`.
#[derive(Debug, Clone)]
pub struct Usage {
    pub now: DateTime<Utc>,
    pub tz: Tz,
    pub limits: Limits,
    /// Queue messages sent in the local day of `now`.
    pub sent_today: i64,
    /// Rows claimed (`scheduled`) and not sent yet.
    pub claimed: i64,
    /// When the local day ends (and the cap starts again).
    pub day_ends_at: DateTime<Utc>,
}

impl Usage {
    pub fn remaining(&self) -> i64 {
        remaining(self.limits.daily_cap, self.sent_today, self.claimed)
    }

    pub fn quiet_now(&self) -> bool {
        self.limits.is_quiet(self.tz, self.now)
    }
}

/// Why an open row has not been sent yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WaitingFor {
    /// Its `scheduled_at` has not come.
    ScheduledTime,
    /// Quiet hours in your time zone.
    QuietHours,
    /// Today's cap is used up (a cap of 0 pauses sending: no `next_attempt_at`).
    DailyCap,
    /// Nothing: its turn has come, and the sender's next run (every minute) sends it.
    NextRun,
    /// Claimed (`scheduled`): being sent, or tried again after the sender was
    /// unavailable (`error` says why).
    Sending,
}

/// Why a row waits and the earliest time it may go, or `None` for a row that is
/// done (sent, failed, cancelled). `next_up` says whether a due pending row is among
/// those today's remaining cap lets the next run claim.
pub fn waiting(
    usage: &Usage,
    status: Status,
    scheduled_at: Option<DateTime<Utc>>,
    next_up: bool,
) -> Option<(WaitingFor, Option<DateTime<Utc>>)> {
    let (now, tz, limits) = (usage.now, usage.tz, usage.limits);
    let quiet = usage.quiet_now();
    match status {
        Status::Sent | Status::Failed | Status::Cancelled => None,
        Status::Scheduled if quiet => {
            Some((WaitingFor::QuietHours, Some(limits.allowed_from(tz, now))))
        }
        Status::Scheduled => Some((WaitingFor::Sending, Some(next_run(now)))),
        Status::Pending => match scheduled_at {
            Some(at) if at > now => {
                Some((WaitingFor::ScheduledTime, Some(limits.allowed_from(tz, at))))
            }
            _ if quiet => Some((WaitingFor::QuietHours, Some(limits.allowed_from(tz, now)))),
            _ if next_up => Some((WaitingFor::NextRun, Some(next_run(now)))),
            _ if limits.daily_cap == 0 => Some((WaitingFor::DailyCap, None)),
            _ => Some((
                WaitingFor::DailyCap,
                Some(limits.allowed_from(tz, usage.day_ends_at)),
            )),
        },
    }
}

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
struct Row {
    id: Uuid,
    contact_id: Option<Uuid>,
    username: String,
    message_text: String,
    priority: i32,
    status: String,
    scheduled_at: Option<DateTime<Utc>>,
    claimed_at: Option<DateTime<Utc>>,
    sent_at: Option<DateTime<Utc>>,
    sent_message_id: Option<Uuid>,
    cancelled_at: Option<DateTime<Utc>>,
    error: Option<String>,
    attempts: i32,
    created_at: DateTime<Utc>,
}

/// A row as read for a change: the row and its JSON for the audit log.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Written {
    #[sqlx(flatten)]
    row: Row,
    snapshot: Value,
}

const COLUMNS: &str = "id, contact_id, username, message_text, priority, status, scheduled_at, claimed_at, \
                       sent_at, sent_message_id, cancelled_at, error, attempts, created_at";

impl Row {
    fn status(&self) -> DomainResult<Status> {
        Status::parse(&self.status).ok_or_else(|| {
            DomainError::Db(sqlx::Error::Protocol(format!(
                "outreach_queue.status {:?} is none of the five",
                self.status
            )))
        })
    }

    fn item(&self, usage: &Usage, next_up: &HashSet<Uuid>) -> DomainResult<OutreachItem> {
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
// Reading the limits and the day's use
// ---------------------------------------------------------------------------------

/// The user's limits (the defaults while they have set none).
pub async fn limits(tx: &mut TenantTx) -> DomainResult<Limits> {
    let row: Option<(i32, NaiveTime, NaiveTime)> = sqlx::query_as(
        "SELECT daily_cap, quiet_start, quiet_end FROM outreach_settings WHERE user_id = $1",
    )
    .bind(tx.user_id())
    .fetch_optional(&mut **tx)
    .await?;
    Ok(
        row.map_or_else(Limits::default, |(daily_cap, quiet_start, quiet_end)| {
            Limits {
                daily_cap,
                quiet_start,
                quiet_end,
            }
        }),
    )
}

/// The user's time zone (`users.timezone`).
pub async fn user_zone(tx: &mut TenantTx) -> DomainResult<Tz> {
    let name: Option<Option<String>> =
        sqlx::query_scalar("SELECT timezone FROM users WHERE id = $1")
            .bind(tx.user_id())
            .fetch_optional(&mut **tx)
            .await?;
    Ok(zone(name.flatten().as_deref()))
}

/// Where the user's sending stands at `now`.
pub async fn usage(tx: &mut TenantTx, now: DateTime<Utc>) -> DomainResult<Usage> {
    let limits = limits(tx).await?;
    let tz = user_zone(tx).await?;
    let (day_start, day_end) = local_day(tz, now);
    let (sent_today, claimed): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'sent'), count(*) FILTER (WHERE status = 'scheduled')
           FROM outreach_queue
          WHERE user_id = $1
            AND ((status = 'sent' AND sent_at >= $2 AND sent_at < $3) OR status = 'scheduled')",
    )
    .bind(tx.user_id())
    .bind(day_start)
    .bind(day_end)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Usage {
        now,
        tz,
        limits,
        sent_today,
        claimed,
        day_ends_at: day_end,
    })
}

/// The due pending rows the next run would claim (today's remaining cap of them, in
/// send order); none in quiet hours.
async fn next_up(tx: &mut TenantTx, usage: &Usage) -> DomainResult<HashSet<Uuid>> {
    let room = usage.remaining();
    if room == 0 || usage.quiet_now() {
        return Ok(HashSet::new());
    }
    let ids: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM outreach_queue
          WHERE user_id = $1 AND status = 'pending' AND (scheduled_at IS NULL OR scheduled_at <= $2)
          ORDER BY {SEND_ORDER} LIMIT $3"
    )))
    .bind(tx.user_id())
    .bind(usage.now)
    .bind(room)
    .fetch_all(&mut **tx)
    .await?;
    Ok(ids.into_iter().collect())
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

// ---------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------

/// One message the sender is asked to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The queue row.
    pub id: Uuid,
    pub contact_id: Option<Uuid>,
    /// The contact's username now (it follows a renamed contact).
    pub username: String,
    pub text: String,
    /// The time to record it at: the run's time, a microsecond apart per message, so
    /// two messages of a run never share 001's dedupe key.
    pub at: DateTime<Utc>,
    /// This attempt's number (1 for the first).
    pub attempt: i32,
}

/// What a sender did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentReceipt {
    pub sent_at: DateTime<Utc>,
    /// The `instagram_messages` row recording it.
    pub message_id: Option<Uuid>,
}

/// Why a sender did not send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The message cannot be sent as it is: the row fails with this reason.
    #[error("{0}")]
    Rejected(String),
    /// The channel cannot take it now: the row stays claimed and the next run tries
    /// again, up to [`MAX_ATTEMPTS`].
    #[error("{0}")]
    Unavailable(String),
}

/// What sends a queued message. Called in the transaction that holds the row locked
/// and marks it sent, so what a sender records there commits with the mark or not at
/// all. The outbox ([`OutboxSender`]) is the one until the publishing issue brings
/// Instagram's (whose Send API allows messages within Meta's 24-hour window: it should
/// answer [`SendError::Rejected`] outside it, and record the DM it sent in `tx` as the
/// outbox does).
pub trait OutreachSender: Send + Sync {
    fn send(
        &self,
        tx: &mut TenantTx,
        message: &Outgoing,
    ) -> impl Future<Output = Result<SentReceipt, SendError>> + Send;
}

/// Records the message instead of sending it: an outbound, automated
/// `instagram_messages` row written through DM ingestion ([`super::dm::store`]), so
/// the conversation, the contact's totals, the `dm_sent` timeline event and the
/// rescoring follow as for any DM.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutboxSender;

impl OutreachSender for OutboxSender {
    async fn send(&self, tx: &mut TenantTx, m: &Outgoing) -> Result<SentReceipt, SendError> {
        // 001's dedupe key is (contact, text, time): another message with the same
        // words to the same contact at the same instant (a run beside this one) moves
        // this one a microsecond on
        for bump in 0..1_000 {
            // to the microsecond, as PostgreSQL keeps it (the key compares it)
            let at = micros(m.at) + Duration::microseconds(bump);
            let dm = CheckedDm {
                username: m.username.clone(),
                display_name: None,
                thread_id: None,
                text: m.text.clone(),
                message_type: "text".into(),
                is_outbound: true,
                automated: true,
                sent_at: at,
                raw_data: Some(json!({"outreach_queue_id": m.id})),
            };
            let outcome = super::dm::store(tx, std::slice::from_ref(&dm))
                .await
                .map_err(unrecorded)?;
            let Some(r) = outcome.results.first() else {
                return Err(SendError::Unavailable(
                    "the message was not recorded".into(),
                ));
            };
            match (r.status, r.message_id) {
                (DmStatus::Created | DmStatus::Flagged, message_id) => {
                    return Ok(SentReceipt {
                        sent_at: at,
                        message_id,
                    });
                }
                (DmStatus::Duplicate, Some(existing)) => {
                    let ours: Option<Option<bool>> = sqlx::query_scalar(
                        "SELECT raw_data->>'outreach_queue_id' = $3::text FROM instagram_messages
                          WHERE user_id = $1 AND id = $2",
                    )
                    .bind(tx.user_id())
                    .bind(existing)
                    .bind(m.id)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(|e| unrecorded(e.into()))?;
                    if ours.flatten() == Some(true) {
                        return Ok(SentReceipt {
                            sent_at: at,
                            message_id: Some(existing),
                        });
                    }
                }
                (DmStatus::Duplicate, None) => {}
                (DmStatus::Skipped, _) => {
                    return Err(SendError::Rejected(format!(
                        "your skip pattern {} drops this text as a system line, so it cannot be recorded: change the text or the pattern",
                        r.pattern.as_deref().unwrap_or("?")
                    )));
                }
            }
        }
        Err(SendError::Unavailable(
            "a thousand messages with these words to this contact share this instant".into(),
        ))
    }
}

/// `at` cut to the microsecond (PostgreSQL's precision).
fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

/// Why DM ingestion did not record a message, as a send error.
fn unrecorded(e: DomainError) -> SendError {
    match e {
        DomainError::Db(e) => SendError::Unavailable(format!(
            "the database failed while recording the message: {e}"
        )),
        DomainError::Invalid(problems) => SendError::Rejected(
            problems
                .into_iter()
                .map(|(f, m)| format!("{f} {m}"))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        other => SendError::Rejected(other.to_string()),
    }
}

/// What one run did for one tenant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RunOutcome {
    /// Rows claimed by this run (pending → scheduled).
    pub claimed: usize,
    pub sent: usize,
    pub failed: usize,
    /// Rows left claimed after an unavailable sender, for the next run.
    pub retrying: usize,
    /// Claimed rows another run was sending (skipped here).
    pub skipped: usize,
    /// Quiet hours: nothing was claimed or sent.
    pub quiet: bool,
}

/// Claims the due rows today's cap allows (unless it is quiet), under the tenant's
/// advisory lock; returns how many, whether it is quiet, and every claimed row (new
/// or left by an earlier run) in send order.
async fn claim(tx: &mut TenantTx, now: DateTime<Utc>) -> DomainResult<(usize, bool, Vec<Uuid>)> {
    // one claimer per tenant at a time: the second counts the first's claims
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('outreach_claim:' || $1::text, 0))")
        .bind(tx.user_id())
        .execute(&mut **tx)
        .await?;
    let usage = usage(tx, now).await?;
    if usage.quiet_now() {
        return Ok((0, true, Vec::new()));
    }
    let room = usage.remaining();
    let claimed = if room > 0 {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE outreach_queue q SET status = 'scheduled', claimed_at = $2
               FROM (SELECT id FROM outreach_queue
                      WHERE user_id = $1 AND status = 'pending'
                        AND (scheduled_at IS NULL OR scheduled_at <= $2)
                      ORDER BY {SEND_ORDER} LIMIT $3
                      FOR UPDATE SKIP LOCKED) due
              WHERE q.user_id = $1 AND q.id = due.id"
        )))
        .bind(tx.user_id())
        .bind(now)
        .bind(room)
        .execute(&mut **tx)
        .await?
        .rows_affected() as usize
    } else {
        0
    };
    let ids: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM outreach_queue WHERE user_id = $1 AND status = 'scheduled'
          ORDER BY claimed_at NULLS FIRST, {SEND_ORDER}"
    )))
    .bind(tx.user_id())
    .fetch_all(&mut **tx)
    .await?;
    Ok((claimed, false, ids))
}

/// The claimed row to send, locked; `None` when another run holds it or it is no
/// longer claimed (sent, cancelled).
async fn lock_claimed(tx: &mut TenantTx, id: Uuid) -> DomainResult<Option<(Row, Value)>> {
    let row: Option<Written> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {}, to_jsonb(q.*) AS snapshot
           FROM outreach_queue q
           LEFT JOIN instagram_contacts c ON c.user_id = q.user_id AND c.id = q.contact_id
          WHERE q.user_id = $1 AND q.id = $2 AND q.status = 'scheduled'
          FOR UPDATE OF q SKIP LOCKED",
        COLUMNS
            .split(", ")
            .map(|c| match c.trim() {
                // the contact's username now, should it have been renamed
                "username" => "coalesce(c.instagram_username, q.username) AS username".to_string(),
                c => format!("q.{c}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    )))
    .bind(tx.user_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|w| (w.row, w.snapshot)))
}

/// What became of one claimed row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    Sent,
    Failed,
    Retrying,
    Skipped,
}

/// Sends one claimed row at `at` in a transaction of its own (see the module doc).
async fn send_one<S: OutreachSender>(
    pool: &PgPool,
    user_id: Uuid,
    sender: &S,
    id: Uuid,
    at: DateTime<Utc>,
) -> DomainResult<Attempt> {
    let mut tx = TenantTx::begin_as(pool, user_id, Actor::Worker).await?;
    let Some((row, _)) = lock_claimed(&mut tx, id).await? else {
        tx.rollback().await?;
        return Ok(Attempt::Skipped);
    };
    let outgoing = Outgoing {
        id,
        contact_id: row.contact_id,
        username: row.username.clone(),
        text: row.message_text.clone(),
        at,
        attempt: row.attempts + 1,
    };
    let error = match sender.send(&mut tx, &outgoing).await {
        Ok(receipt) => {
            transition(Status::Scheduled, Action::Send).map_err(DomainError::conflict)?;
            sqlx::query(
                "UPDATE outreach_queue
                    SET status = 'sent', sent_at = $3, sent_message_id = $4, error = NULL,
                        attempts = attempts + 1
                  WHERE user_id = $1 AND id = $2",
            )
            .bind(user_id)
            .bind(id)
            .bind(receipt.sent_at)
            .bind(receipt.message_id)
            .execute(&mut *tx)
            .await?;
            tx.log_event(
                "outreach_queue",
                id,
                "outreach.sent",
                &json!({
                    "contact_id": row.contact_id,
                    "message_id": receipt.message_id,
                    "sent_at": receipt.sent_at,
                    "attempts": outgoing.attempt,
                }),
            )
            .await?;
            tx.commit().await?;
            return Ok(Attempt::Sent);
        }
        Err(e) => e,
    };
    // nothing the attempt wrote stays; the attempt is recorded on its own
    tx.rollback().await?;
    let mut tx = TenantTx::begin_as(pool, user_id, Actor::Worker).await?;
    let Some((row, _)) = lock_claimed(&mut tx, id).await? else {
        tx.rollback().await?;
        return Ok(Attempt::Skipped);
    };
    let attempts = row.attempts + 1;
    let fails = matches!(error, SendError::Rejected(_)) || attempts >= MAX_ATTEMPTS;
    let message = match &error {
        SendError::Rejected(m) => m.clone(),
        SendError::Unavailable(m) if fails => {
            format!("the sender was unavailable {attempts} times; the last time: {m}")
        }
        SendError::Unavailable(m) => format!("not sent yet, the sender was unavailable: {m}"),
    };
    if fails {
        transition(Status::Scheduled, Action::Fail).map_err(DomainError::conflict)?;
    }
    sqlx::query(
        "UPDATE outreach_queue
            SET status = CASE WHEN $5 THEN 'failed' ELSE status END, error = $3, attempts = $4
          WHERE user_id = $1 AND id = $2",
    )
    .bind(user_id)
    .bind(id)
    .bind(&message)
    .bind(attempts)
    .bind(fails)
    .execute(&mut *tx)
    .await?;
    if fails {
        tx.log_event(
            "outreach_queue",
            id,
            "outreach.failed",
            &json!({"contact_id": row.contact_id, "error": message, "attempts": attempts}),
        )
        .await?;
    } else {
        tracing::info!(%id, attempts, error = %error, "an outreach message stays claimed for the next run");
    }
    tx.commit().await?;
    Ok(if fails {
        Attempt::Failed
    } else {
        Attempt::Retrying
    })
}

/// Sends what is due for tenant `user_id` at `now` through `sender`: claims the due
/// rows the cap allows outside quiet hours, then sends every claimed row, each in its
/// own transaction (see the module doc). Safe to run twice at once.
pub async fn send_due<S: OutreachSender>(
    pool: &PgPool,
    user_id: Uuid,
    sender: &S,
    now: DateTime<Utc>,
) -> DomainResult<RunOutcome> {
    let mut tx = TenantTx::begin_as(pool, user_id, Actor::Worker).await?;
    let (claimed, quiet, ids) = claim(&mut tx, now).await?;
    tx.commit().await?;
    let mut outcome = RunOutcome {
        claimed,
        quiet,
        ..RunOutcome::default()
    };
    let mut at = micros(now);
    for id in ids {
        match send_one(pool, user_id, sender, id, at).await? {
            Attempt::Sent => {
                outcome.sent += 1;
                at += Duration::microseconds(1);
            }
            Attempt::Failed => outcome.failed += 1,
            Attempt::Retrying => outcome.retrying += 1,
            Attempt::Skipped => outcome.skipped += 1,
        }
    }
    Ok(outcome)
}

/// The tenants with outreach to send at `now` (claimed rows, or pending rows whose
/// time has come): ids only, read across tenants by a definer function.
pub async fn tenants_due(pool: &PgPool, now: DateTime<Utc>) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT everreach_outreach_due_tenants($1)")
        .bind(now)
        .fetch_all(pool)
        .await
}

/// What one run over every tenant did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub tenants: usize,
    pub claimed: usize,
    pub sent: usize,
    pub failed: usize,
    pub retrying: usize,
    /// Tenants in quiet hours.
    pub quiet: usize,
    /// Tenants whose run failed (logged; their rows wait for the next run).
    pub errors: usize,
}

/// [`send_due`] for every tenant with something due at `now`, one after another; a
/// tenant whose run fails is logged and left for the next run.
pub async fn send_all_due<S: OutreachSender>(
    pool: &PgPool,
    sender: &S,
    now: DateTime<Utc>,
) -> Result<Summary, sqlx::Error> {
    let tenants = tenants_due(pool, now).await?;
    let mut summary = Summary {
        tenants: tenants.len(),
        ..Summary::default()
    };
    for user_id in tenants {
        match send_due(pool, user_id, sender, now).await {
            Ok(o) => {
                summary.claimed += o.claimed;
                summary.sent += o.sent;
                summary.failed += o.failed;
                summary.retrying += o.retrying;
                summary.quiet += usize::from(o.quiet);
            }
            Err(e) => {
                summary.errors += 1;
                tracing::warn!(%user_id, error = %e, "an outreach run failed; its rows wait for the next run");
            }
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn limits(start: (u32, u32), end: (u32, u32)) -> Limits {
        Limits {
            daily_cap: 20,
            quiet_start: hm(start.0, start.1),
            quiet_end: hm(end.0, end.1),
        }
    }

    fn tz(name: &str) -> Tz {
        name.parse().unwrap_or_else(|_| panic!("{name}"))
    }

    #[test]
    fn the_machine_moves_only_where_it_may() {
        use Action::*;
        use Status::*;
        let table = [
            (Pending, Claim, Some(Scheduled)),
            (Pending, Send, None),
            (Pending, Fail, None),
            (Pending, Cancel, Some(Cancelled)),
            (Pending, Retry, None),
            (Scheduled, Claim, None),
            (Scheduled, Send, Some(Sent)),
            (Scheduled, Fail, Some(Failed)),
            (Scheduled, Cancel, Some(Cancelled)),
            (Scheduled, Retry, None),
            (Failed, Retry, Some(Pending)),
            (Failed, Cancel, None),
        ];
        for (from, action, to) in table {
            assert_eq!(transition(from, action).ok(), to, "{from} {action:?}");
        }
        for done in [Sent, Cancelled] {
            for action in [Claim, Send, Fail, Cancel, Retry] {
                assert!(transition(done, action).is_err(), "{done} {action:?}");
            }
        }
        assert_eq!(
            transition(Sent, Cancel).unwrap_err(),
            "this message is sent: only a pending or scheduled message can be cancelled"
        );
        assert_eq!(
            transition(Pending, Retry).unwrap_err(),
            "this message is pending: only a failed message can be retried"
        );
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("queued"), None);
    }

    #[test]
    fn the_cap_counts_sent_and_claimed_and_never_goes_negative() {
        assert_eq!(remaining(20, 0, 0), 20);
        assert_eq!(remaining(2, 1, 0), 1);
        assert_eq!(remaining(2, 1, 1), 0);
        assert_eq!(
            remaining(2, 3, 1),
            0,
            "a lowered cap leaves nothing, not less"
        );
        assert_eq!(remaining(0, 0, 0), 0, "0 pauses sending");
    }

    #[test]
    fn quiet_windows_may_cross_midnight() {
        let night = limits((21, 0), (8, 0));
        for (h, m, quiet) in [
            (20, 59, false),
            (21, 0, true),
            (23, 59, true),
            (0, 0, true),
            (7, 59, true),
            (8, 0, false),
            (12, 0, false),
        ] {
            assert_eq!(night.is_quiet_at(hm(h, m)), quiet, "{h}:{m}");
        }
        let lunch = limits((12, 0), (13, 30));
        assert!(!lunch.is_quiet_at(hm(11, 59)));
        assert!(lunch.is_quiet_at(hm(12, 0)) && lunch.is_quiet_at(hm(13, 29)));
        assert!(!lunch.is_quiet_at(hm(13, 30)));
        let never = limits((9, 0), (9, 0));
        assert!(!never.is_quiet_at(hm(9, 0)) && !never.is_quiet_at(hm(3, 0)));
    }

    #[test]
    fn quiet_hours_end_in_the_users_zone() {
        let night = limits((21, 0), (8, 0));
        let berlin = tz("Europe/Berlin"); // UTC+1 in December
        // 22:30 in Berlin: quiet until 08:00 the next morning
        assert_eq!(
            night.allowed_from(berlin, t("2026-12-01T21:30:00Z")),
            t("2026-12-02T07:00:00Z")
        );
        // 05:00 in Berlin: until 08:00 the same morning
        assert_eq!(
            night.allowed_from(berlin, t("2026-12-02T04:00:00Z")),
            t("2026-12-02T07:00:00Z")
        );
        // 10:00 in Berlin: not quiet
        let ten = t("2026-12-02T09:00:00Z");
        assert_eq!(night.allowed_from(berlin, ten), ten);
        assert!(!night.is_quiet(berlin, ten));
        // the same instant is 18:00 in Tokyo (not quiet) and 01:00 in Los Angeles (quiet)
        assert!(!night.is_quiet(tz("Asia/Tokyo"), ten));
        assert!(night.is_quiet(tz("America/Los_Angeles"), ten));
    }

    #[test]
    fn local_days_are_23_or_25_hours_when_clocks_change() {
        let ny = tz("America/New_York");
        let (start, end) = local_day(ny, t("2026-03-08T15:00:00Z"));
        assert_eq!(
            (start, end),
            (t("2026-03-08T05:00:00Z"), t("2026-03-09T04:00:00Z"))
        );
        assert_eq!(end - start, Duration::hours(23));
        let (start, end) = local_day(ny, t("2026-11-01T15:00:00Z"));
        assert_eq!(
            (start, end),
            (t("2026-11-01T04:00:00Z"), t("2026-11-02T05:00:00Z"))
        );
        assert_eq!(end - start, Duration::hours(25));
        // just before local midnight is still the old day
        let (start, _) = local_day(ny, t("2026-12-02T04:59:59Z"));
        assert_eq!(start, t("2026-12-01T05:00:00Z"));
        let (start, end) = local_day(Tz::UTC, t("2026-12-02T04:59:59Z"));
        assert_eq!(
            (start, end),
            (t("2026-12-02T00:00:00Z"), t("2026-12-03T00:00:00Z"))
        );
    }

    #[test]
    fn wall_times_in_a_gap_or_shown_twice_resolve_to_one_instant() {
        let ny = tz("America/New_York");
        let spring = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap_or_default();
        // 02:30 does not exist that night: the first instant after the gap (03:00 EDT)
        assert_eq!(at_local(ny, spring, hm(2, 30)), t("2026-03-08T07:00:00Z"));
        let autumn = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default();
        // 01:30 is shown twice: its first showing (EDT)
        assert_eq!(at_local(ny, autumn, hm(1, 30)), t("2026-11-01T05:30:00Z"));
    }

    #[test]
    fn quiet_hours_that_end_in_a_dst_change_end_once() {
        let ny = tz("America/New_York");
        // quiet until 02:30, which the spring-forward night skips: it ends at 03:00 EDT
        let spring = limits((22, 0), (2, 30));
        assert_eq!(
            spring.allowed_from(ny, t("2026-03-08T05:00:00Z")), // 00:00 EST
            t("2026-03-08T07:00:00Z")
        );
        // quiet until 01:30 on the autumn night: from the first 01:00 hour, the first
        // 01:30 (EDT)…
        let autumn = limits((22, 0), (1, 30));
        assert_eq!(
            autumn.allowed_from(ny, t("2026-11-01T05:15:00Z")), // 01:15 EDT
            t("2026-11-01T05:30:00Z")
        );
        // …and from 01:15 in the repeated hour (EST), the second one, never a time
        // already past
        assert_eq!(
            autumn.allowed_from(ny, t("2026-11-01T06:15:00Z")), // 01:15 EST
            t("2026-11-01T06:30:00Z")
        );
        // a night window on the spring day ends at 08:00 EDT (12:00Z), an hour
        // earlier in UTC than the night before (08:00 EST = 13:00Z)
        let night = limits((21, 0), (8, 0));
        assert_eq!(
            night.allowed_from(ny, t("2026-03-08T03:00:00Z")), // 22:00 EST the 7th
            t("2026-03-08T12:00:00Z")
        );
        assert_eq!(
            night.allowed_from(ny, t("2026-03-07T03:00:00Z")),
            t("2026-03-07T13:00:00Z")
        );
    }

    fn usage(now: &str, limits: Limits, sent_today: i64, claimed: i64) -> Usage {
        let now = t(now);
        Usage {
            now,
            tz: Tz::UTC,
            limits,
            sent_today,
            claimed,
            day_ends_at: local_day(Tz::UTC, now).1,
        }
    }

    #[test]
    fn a_waiting_row_says_why_and_until_when() {
        let day = usage("2026-12-02T12:00:30Z", Limits::default(), 3, 0);
        assert_eq!(
            waiting(&day, Status::Pending, None, true),
            Some((WaitingFor::NextRun, Some(t("2026-12-02T12:01:00Z"))))
        );
        // later today: until then (outside quiet hours)
        assert_eq!(
            waiting(
                &day,
                Status::Pending,
                Some(t("2026-12-02T15:00:00Z")),
                false
            ),
            Some((WaitingFor::ScheduledTime, Some(t("2026-12-02T15:00:00Z"))))
        );
        // scheduled into quiet hours: goes when they end
        assert_eq!(
            waiting(
                &day,
                Status::Pending,
                Some(t("2026-12-02T23:00:00Z")),
                false
            ),
            Some((WaitingFor::ScheduledTime, Some(t("2026-12-03T08:00:00Z"))))
        );
        // due but past the cap: the next day, once quiet hours end
        assert_eq!(
            waiting(&day, Status::Pending, None, false),
            Some((WaitingFor::DailyCap, Some(t("2026-12-03T08:00:00Z"))))
        );
        let paused = usage(
            "2026-12-02T12:00:00Z",
            Limits {
                daily_cap: 0,
                ..Limits::default()
            },
            0,
            0,
        );
        assert_eq!(
            waiting(&paused, Status::Pending, None, false),
            Some((WaitingFor::DailyCap, None))
        );
        let night = usage("2026-12-02T22:00:00Z", Limits::default(), 0, 0);
        assert_eq!(
            waiting(&night, Status::Pending, None, false),
            Some((WaitingFor::QuietHours, Some(t("2026-12-03T08:00:00Z"))))
        );
        assert_eq!(
            waiting(&night, Status::Scheduled, None, false),
            Some((WaitingFor::QuietHours, Some(t("2026-12-03T08:00:00Z"))))
        );
        assert_eq!(
            waiting(&day, Status::Scheduled, None, false),
            Some((WaitingFor::Sending, Some(t("2026-12-02T12:01:00Z"))))
        );
        for done in [Status::Sent, Status::Failed, Status::Cancelled] {
            assert_eq!(waiting(&day, done, None, true), None);
        }
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

    #[test]
    fn zones_fall_back_to_utc_and_runs_are_on_the_minute() {
        assert_eq!(zone(Some("Europe/Berlin")), tz("Europe/Berlin"));
        assert_eq!(zone(Some("Mars/Olympus")), Tz::UTC);
        assert_eq!(zone(None), Tz::UTC);
        assert_eq!(
            next_run(t("2026-12-02T12:00:59.999Z")),
            t("2026-12-02T12:01:00Z")
        );
        assert_eq!(
            next_run(t("2026-12-02T12:00:00Z")),
            t("2026-12-02T12:01:00Z")
        );
    }
}
