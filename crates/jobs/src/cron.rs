//! Cron expressions (the classic five fields: minute, hour, day of month, month,
//! day of week) and their next firing time in a time zone.
//!
//! Fields take `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, and lists of
//! those; months and weekdays also take their English three-letter names, and
//! weekday 7 is Sunday like 0. As in Vixie cron, when both day fields are
//! restricted a day matches if either does. Times are matched on the wall clock of
//! the schedule's zone: a slot inside a spring-forward gap does not happen, a slot
//! in an autumn repeat happens once (its first occurrence).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cron expression {expr:?}: {why}")]
pub struct CronError {
    pub expr: String,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    days_restricted: bool,
    weekdays_restricted: bool,
    expr: String,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Cron {
    pub fn parse(expr: &str) -> Result<Cron, CronError> {
        let err = |why: String| CronError {
            expr: expr.to_string(),
            why,
        };
        let fields: Vec<&str> = expr.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(err(format!(
                "has {} fields; give five: minute hour day-of-month month day-of-week, e.g. \"0 3 * * *\"",
                fields.len()
            )));
        }
        let field = |i: usize, name: &str, min: u32, max: u32, names: &[&str]| {
            parse_field(fields[i], min, max, names).map_err(|why| err(format!("{name} {why}")))
        };
        let minutes = field(0, "minute", 0, 59, &[])?;
        let hours = field(1, "hour", 0, 23, &[])?;
        let days = field(2, "day of month", 1, 31, &[])?;
        let months = field(3, "month", 1, 12, &MONTHS)?;
        let mut weekdays = field(4, "day of week", 0, 7, &WEEKDAYS)?;
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays | 1) & !(1 << 7);
        }
        Ok(Cron {
            minutes,
            hours,
            days,
            months,
            weekdays,
            days_restricted: fields[2] != "*",
            weekdays_restricted: fields[4] != "*",
            expr: expr.to_string(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.expr
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        let dom = self.days & (1 << date.day()) != 0;
        let dow = self.weekdays & (1 << date.weekday().num_days_from_sunday()) != 0;
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        }
    }

    /// The first slot strictly after `after`, in zone `tz`; None if none within ~5 years
    /// (e.g. "0 0 31 2 *").
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&tz).naive_local();
        let mut t = (local + Duration::minutes(1))
            .with_second(0)?
            .with_nanosecond(0)?;
        let limit = local + Duration::days(366 * 5);
        while t <= limit {
            if self.months & (1 << t.month()) == 0 {
                t = first_of_next_month(t)?;
                continue;
            }
            if !self.day_matches(t.date()) {
                t = (t.date() + Duration::days(1)).and_hms_opt(0, 0, 0)?;
                continue;
            }
            if self.hours & (1 << t.hour()) == 0 {
                t = t.with_minute(0)? + Duration::hours(1);
                continue;
            }
            if self.minutes & (1 << t.minute()) == 0 {
                t += Duration::minutes(1);
                continue;
            }
            // A wall-clock time that the zone skips (spring forward) never happens.
            if let Some(at) = tz.from_local_datetime(&t).earliest() {
                let at = at.with_timezone(&Utc);
                if at > after {
                    return Some(at);
                }
            }
            t += Duration::minutes(1);
        }
        None
    }

    /// The latest slot at or before `now` and after `since` (the last one fired), if any.
    pub fn due(&self, since: DateTime<Utc>, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let mut slot = self.next_after(since, tz)?;
        if slot > now {
            return None;
        }
        while let Some(next) = self.next_after(slot, tz) {
            if next > now {
                break;
            }
            slot = next;
        }
        Some(slot)
    }
}

fn first_of_next_month(t: NaiveDateTime) -> Option<NaiveDateTime> {
    let (y, m) = if t.month() == 12 {
        (t.year() + 1, 1)
    } else {
        (t.year(), t.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)?.and_hms_opt(0, 0, 0)
}

fn parse_field(text: &str, min: u32, max: u32, names: &[&str]) -> Result<u64, String> {
    let value = |v: &str| -> Result<u32, String> {
        let lower = v.to_ascii_lowercase();
        if let Some(i) = names.iter().position(|n| *n == lower) {
            return Ok(i as u32 + if min == 1 { 1 } else { 0 });
        }
        let n: u32 = v.parse().map_err(|_| format!("{v:?} is not a number"))?;
        if n < min || n > max {
            return Err(format!("{n} is outside {min}-{max}"));
        }
        Ok(n)
    };
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .map_err(|_| format!("step {s:?} is not a number"))?;
                if step == 0 {
                    return Err("has a step of 0".into());
                }
                (r, step)
            }
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(a)?, value(b)?);
            if a > b {
                return Err(format!("range {a}-{b} runs backwards"));
            }
            (a, b)
        } else {
            let v = value(range)?;
            (v, if part.contains('/') { max } else { v })
        };
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    if bits == 0 {
        Err(format!("{text:?} selects nothing"))
    } else {
        Ok(bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn next_slots_in_utc() {
        let every_15 = Cron::parse("*/15 * * * *").unwrap();
        assert_eq!(
            every_15.next_after(utc("2026-11-22T10:07:30Z"), Tz::UTC),
            Some(utc("2026-11-22T10:15:00Z"))
        );
        assert_eq!(
            every_15.next_after(utc("2026-11-22T10:15:00Z"), Tz::UTC),
            Some(utc("2026-11-22T10:30:00Z"))
        );
        let nightly = Cron::parse("0 3 * * *").unwrap();
        assert_eq!(
            nightly.next_after(utc("2026-11-22T03:00:00Z"), Tz::UTC),
            Some(utc("2026-11-23T03:00:00Z"))
        );
        let monday_9 = Cron::parse("0 9 * * mon").unwrap();
        assert_eq!(
            monday_9.next_after(utc("2026-11-22T12:00:00Z"), Tz::UTC),
            Some(utc("2026-11-23T09:00:00Z"))
        );
        let first_of_quarter = Cron::parse("0 0 1 jan,apr,jul,oct *").unwrap();
        assert_eq!(
            first_of_quarter.next_after(utc("2026-11-22T00:00:00Z"), Tz::UTC),
            Some(utc("2027-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn slots_follow_the_zone_across_daylight_saving() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let nine = Cron::parse("0 9 * * *").unwrap();
        // Winter: 09:00 CET is 08:00 UTC; summer: 07:00 UTC.
        assert_eq!(
            nine.next_after(utc("2026-03-28T12:00:00Z"), berlin),
            Some(utc("2026-03-29T07:00:00Z"))
        );
        assert_eq!(
            nine.next_after(utc("2026-03-27T12:00:00Z"), berlin),
            Some(utc("2026-03-28T08:00:00Z"))
        );
        // 02:30 does not exist on 2026-03-29 in Berlin: that day has no slot.
        let half_past_two = Cron::parse("30 2 * * *").unwrap();
        assert_eq!(
            half_past_two.next_after(utc("2026-03-28T12:00:00Z"), berlin),
            Some(utc("2026-03-30T00:30:00Z"))
        );
    }

    #[test]
    fn due_gives_the_latest_missed_slot_once() {
        let hourly = Cron::parse("0 * * * *").unwrap();
        let due = hourly.due(
            utc("2026-11-22T05:00:00Z"),
            utc("2026-11-22T08:30:00Z"),
            Tz::UTC,
        );
        assert_eq!(due, Some(utc("2026-11-22T08:00:00Z")));
        assert_eq!(
            hourly.due(
                utc("2026-11-22T08:00:00Z"),
                utc("2026-11-22T08:30:00Z"),
                Tz::UTC
            ),
            None
        );
    }

    #[test]
    fn malformed_expressions_say_what_is_wrong() {
        for (expr, says) in [
            ("* * * *", "five"),
            ("60 * * * *", "minute 60 is outside"),
            ("* * * * funday", "day of week"),
            ("*/0 * * * *", "step of 0"),
            ("5-1 * * * *", "backwards"),
        ] {
            let err = Cron::parse(expr).unwrap_err().to_string();
            assert!(err.contains(says), "{expr}: {err}");
        }
        assert_eq!(
            Cron::parse("0 0 31 2 *")
                .unwrap()
                .next_after(utc("2026-01-01T00:00:00Z"), Tz::UTC),
            None
        );
        assert!(Cron::parse("0 0 * * 7").is_ok(), "7 is Sunday");
    }
}
