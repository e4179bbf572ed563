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
//!
//! Laid out as: this file (the states and the machine), `limits.rs` (caps, quiet
//! hours, local days, why a row waits), `queue.rs` (checks, queueing, cancel, retry,
//! settings, reading the queue) and `send.rs` (the sender trait, the outbox sender,
//! the per-tenant run).

mod limits;
mod queue;
mod send;

pub use limits::*;
pub use queue::*;
pub use send::*;

use std::ops::RangeInclusive;

use chrono::Duration;
use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
