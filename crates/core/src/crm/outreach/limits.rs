//! The outreach queue's limits: the daily cap and quiet hours in the user's time
//! zone, local days (23 or 25 hours when clocks change), the user's limits and the
//! day's use read from the database, and why an open row waits.

use super::*;

use std::collections::HashSet;

use chrono::offset::LocalResult;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use uuid::Uuid;

use crate::db::tenant::TenantTx;
use crate::error::DomainResult;

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

pub(super) fn hm(h: u32, m: u32) -> NaiveTime {
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
pub(super) async fn next_up(tx: &mut TenantTx, usage: &Usage) -> DomainResult<HashSet<Uuid>> {
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
