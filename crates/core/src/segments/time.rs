//! Relative and absolute times of the segment language: a window `"last 30 days"`
//! (within / not_within) and a moment, either an RFC 3339 timestamp or
//! `"90 days ago"` (before / after). Both are resolved against the `now` given to
//! the compiler, so the SQL compares an indexed column with one bound `timestamptz`.

use chrono::{DateTime, Duration, Months, Utc};

/// The longest window or offset, in days (ten years).
pub const MAX_DAYS: u32 = 3650;

/// The unit of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Minutes,
    Hours,
    Days,
    Weeks,
    Months,
}

impl Unit {
    fn parse(word: &str) -> Option<Unit> {
        Some(match word.strip_suffix('s').unwrap_or(word) {
            "minute" => Unit::Minutes,
            "hour" => Unit::Hours,
            "day" => Unit::Days,
            "week" => Unit::Weeks,
            "month" => Unit::Months,
            _ => return None,
        })
    }

    /// The largest count of this unit that stays within [`MAX_DAYS`].
    fn max(self) -> u32 {
        match self {
            Unit::Minutes => MAX_DAYS * 24 * 60,
            Unit::Hours => MAX_DAYS * 24,
            Unit::Days => MAX_DAYS,
            Unit::Weeks => MAX_DAYS / 7,
            // 120 calendar months: ten years never exceed 3,653 days
            Unit::Months => MAX_DAYS / 365 * 12,
        }
    }
}

/// `n` units back from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub n: u32,
    pub unit: Unit,
}

/// The regular expression (JSON Schema `pattern`) of a window.
pub const WINDOW_PATTERN: &str = "^last [1-9][0-9]{0,6} (minute|hour|day|week|month)s?$";
/// The regular expression of a relative moment.
pub const AGO_PATTERN: &str = "^[1-9][0-9]{0,6} (minute|hour|day|week|month)s? ago$";

const WINDOW_HELP: &str = "write \"last N minutes|hours|days|weeks|months\" with N a whole number from 1, at most ten years (e.g. \"last 30 days\")";
const AGO_HELP: &str = "write an RFC 3339 time (\"2026-01-31T00:00:00Z\") or \"N minutes|hours|days|weeks|months ago\" with N a whole number from 1, at most ten years (e.g. \"90 days ago\")";

impl Window {
    /// `"last 30 days"`, `"last 1 week"`, `"last 6 months"`.
    pub fn parse_last(text: &str) -> Result<Window, String> {
        text.strip_prefix("last ")
            .and_then(count_and_unit)
            .ok_or_else(|| format!("{} is not a window; {WINDOW_HELP}", quoted(text)))
    }

    /// When the window starts, seen from `now`. Months are calendar months.
    pub fn start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let n = i64::from(self.n);
        match self.unit {
            Unit::Minutes => now - Duration::minutes(n),
            Unit::Hours => now - Duration::hours(n),
            Unit::Days => now - Duration::days(n),
            Unit::Weeks => now - Duration::weeks(n),
            Unit::Months => now
                .checked_sub_months(Months::new(self.n))
                .unwrap_or(now - Duration::days(30 * n)),
        }
    }
}

/// `"12 days"` → a window, if N is 1.. and within [`MAX_DAYS`], no sign, no zero lead.
fn count_and_unit(text: &str) -> Option<Window> {
    let (count, unit) = text.split_once(' ')?;
    if count.is_empty()
        || count.len() > 7
        || count.starts_with('0')
        || !count.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let n: u32 = count.parse().ok()?;
    let unit = Unit::parse(unit)?;
    (n <= unit.max()).then_some(Window { n, unit })
}

/// A point in time: absolute, or relative to now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    At(DateTime<Utc>),
    Ago(Window),
}

impl Moment {
    /// `"2026-01-31T00:00:00Z"` or `"90 days ago"`.
    pub fn parse(text: &str) -> Result<Moment, String> {
        if let Some(window) = text.strip_suffix(" ago").and_then(count_and_unit) {
            return Ok(Moment::Ago(window));
        }
        DateTime::parse_from_rfc3339(text)
            .map(|t| Moment::At(t.with_timezone(&Utc)))
            .map_err(|_| format!("{} is not a time; {AGO_HELP}", quoted(text)))
    }

    pub fn resolve(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Moment::At(t) => *t,
            Moment::Ago(w) => w.start(now),
        }
    }
}

/// Input quoted for a message, cut short so an error never echoes a huge value.
pub(super) fn quoted(text: &str) -> String {
    let cut: String = text.chars().take(64).collect();
    if cut.len() < text.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}
