//! Cron expressions (the classic five fields: minute, hour, day of month, month,
//! day of week) and their next firing time in a time zone, through the `croner`
//! crate: croner parses and searches; this module holds it to classic cron and to
//! our daylight-saving rule, and says which field is wrong.
//!
//! Fields take `*`, numbers, ranges `a-b`, steps `*/n`, `a-b/n` and `a/n` (from `a`
//! on), and lists of those; months and weekdays also take their English
//! three-letter names, and weekday 7 is Sunday like 0. As in Vixie cron, when both
//! day fields are restricted a day matches if either does. croner's extensions — a
//! seconds or year field, `L`, `W`, `#`, `?`, `@daily` and the like, `+` before the
//! day of week — are refused.
//!
//! Times are matched on the wall clock of the schedule's zone. A slot inside a
//! spring-forward gap does not happen (croner would run a fixed-time slot at the end
//! of the gap; we skip it). In an autumn repeat, a fixed time (one minute of one
//! hour, e.g. `30 2 * * *`) happens once, at its first occurrence; an interval
//! schedule (a `*`, range, step or list in the minute or hour, e.g. `*/15 * * * *`
//! or `0 * * * *`) fires in both passes of the repeated hour, keeping its pace in
//! real time (croner's rule, the one of the Open Cron Pattern Specification).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cron expression {expr:?}: {why}")]
pub struct CronError {
    pub expr: String,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    cron: croner::Cron,
    /// No slot ever: see [`never`].
    never: bool,
    expr: String,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Each field: its name, its values, the names it takes.
const FIELDS: [(&str, &str, &[&str]); 5] = [
    ("minute", "0-59", &[]),
    ("hour", "0-23", &[]),
    ("day of month", "1-31", &[]),
    ("month", "1-12 or jan-dec", &MONTHS),
    ("day of week", "0-7 or sun-sat", &WEEKDAYS),
];

/// croner set to five fields: no seconds, no year; `a/n` taken as before croner.
fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .sloppy_ranges(true)
        .build()
}

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
        for (text, (name, _, names)) in fields.iter().zip(FIELDS) {
            classic(text, names).map_err(|why| err(format!("{name} {text:?}: {why}")))?;
        }
        let cron = parser()
            .parse(expr)
            .map_err(|e| err(explain(&fields, &e)))?;
        Ok(Cron {
            never: never(&cron),
            cron,
            expr: expr.to_string(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.expr
    }

    /// The first slot strictly after `after`, in zone `tz`; None if it never comes
    /// (e.g. "0 0 31 2 *").
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        if self.never {
            return None;
        }
        let mut from = after.with_timezone(&tz);
        loop {
            let at = self.cron.find_next_occurrence(&from, false).ok()?;
            if self.on_the_clock(&at) {
                return Some(at.with_timezone(&Utc));
            }
            from = at;
        }
    }

    /// The latest slot at or before `now` and after `since` (the last one fired), if any.
    pub fn due(&self, since: DateTime<Utc>, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let first = self.next_after(since, tz)?;
        if first > now {
            return None;
        }
        // The latest slot: croner searches back from `now` (and `first` is one).
        let mut from = now.with_timezone(&tz);
        let mut inclusive = true;
        let latest = loop {
            let Ok(at) = self.cron.find_previous_occurrence(&from, inclusive) else {
                break first;
            };
            if self.on_the_clock(&at) {
                break at.with_timezone(&Utc);
            }
            (from, inclusive) = (at, false);
        };
        Some(latest.max(first))
    }

    /// Whether croner's answer shows on the wall clock as the expression says: not
    /// so for a fixed-time slot of a spring-forward gap that croner moved to the end
    /// of the gap, which we skip.
    fn on_the_clock(&self, at: &DateTime<Tz>) -> bool {
        self.cron.is_time_matching(at).unwrap_or(false)
    }
}

/// Refuses in one field what croner takes beyond classic cron: `?`, `L`, `W`, `#`,
/// `+`, `@`…, a step without a start or with a name, an empty list item, and a name
/// outside its field (croner would read "jan" as 1 in any field).
fn classic(text: &str, names: &[&str]) -> Result<(), String> {
    for item in text.split(',') {
        if item.is_empty() || item.starts_with('/') {
            return Err(format!(
                "list item {item:?} is incomplete; give e.g. 5, 1-5, */15, 1-30/5"
            ));
        }
        if let Some(c) = item
            .chars()
            .find(|c| !c.is_ascii_alphanumeric() && !"*-/".contains(*c))
        {
            return Err(format!(
                "{c:?} is not classic cron (numbers, names, *, a-b, /n, lists with ,)"
            ));
        }
        if let Some((_, step)) = item.split_once('/')
            && !step.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(format!("step {step:?} is not a number"));
        }
        for word in item
            .split(|c: char| !c.is_ascii_alphabetic())
            .filter(|w| !w.is_empty())
        {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(word)) {
                return Err(if names.is_empty() {
                    format!("{word:?} is not a number")
                } else {
                    format!("{word:?} is not a number nor one of {}", names.join(" "))
                });
            }
        }
    }
    Ok(())
}

/// croner's reason, with the field it is about: the first field that croner refuses
/// on its own (the others `*`).
fn explain(fields: &[&str], whole: &croner::errors::CronError) -> String {
    for (i, (name, values, names)) in FIELDS.iter().enumerate() {
        let alone: Vec<&str> = (0..fields.len())
            .map(|j| if j == i { fields[j] } else { "*" })
            .collect();
        if let Err(e) = parser().parse(&alone.join(" ")) {
            let why = match backwards(fields[i], names) {
                Some((a, b)) => format!("range {a}-{b} runs backwards"),
                None => reason(&e),
            };
            return format!("{name} {:?}: {why}; {name} values are {values}", fields[i]);
        }
    }
    reason(whole)
}

/// croner's message, without its prefix and full stop: "number out of bounds".
fn reason(e: &croner::errors::CronError) -> String {
    use croner::errors::CronError as E;
    let text = match e {
        E::InvalidPattern(m) | E::IllegalCharacters(m) | E::ComponentError(m) => m.clone(),
        other => other.to_string(),
    };
    let text = text.trim_end_matches('.');
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_lowercase().chain(chars).collect::<String>()
    })
}

/// A range `a-b` with `a > b` in a field (croner calls it out of bounds).
fn backwards(field: &str, names: &[&str]) -> Option<(String, String)> {
    let value = |v: &str| -> Option<usize> {
        let first = usize::from(names.len() == MONTHS.len());
        v.parse().ok().or_else(|| {
            names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(v))
                .map(|i| i + first)
        })
    };
    field.split(',').find_map(|item| {
        let range = item.split('/').next()?;
        let (a, b) = range.split_once('-')?;
        (value(a)? > value(b)?).then(|| (a.to_string(), b.to_string()))
    })
}

/// Whether no day ever matches: days of month that none of the months has (e.g.
/// "0 0 31 2 *"), the weekday unrestricted. croner would search to the year 5000
/// each time; the scheduler asks every second.
fn never(cron: &croner::Cron) -> bool {
    let p = &cron.pattern;
    let longest = |month: u16| match month {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    !p.is_dom_wildcard()
        && p.is_dow_wildcard()
        && !p.days.has_modifiers()
        && p.months
            .values()
            .into_iter()
            .all(|m| p.days.values().into_iter().all(|d| d > longest(m)))
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
            (
                "60 * * * *",
                "minute \"60\": number out of bounds; minute values are 0-59",
            ),
            ("* * * * funday", "day of week"),
            ("*/0 * * * *", "minute \"*/0\": step cannot be zero"),
            ("5-1 * * * *", "backwards"),
            ("0 0 * * fri-mon", "range fri-mon runs backwards"),
            ("0 0 1 13 *", "month \"13\": number out of bounds"),
            (
                "0 0 * * fri#2",
                "day of week \"fri#2\": '#' is not classic cron",
            ),
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
        for never in ["0 0 30,31 2 *", "0 0 31 apr,jun,sep,nov *"] {
            let cron = Cron::parse(never).unwrap();
            assert_eq!(cron.next_after(utc("2026-01-01T00:00:00Z"), Tz::UTC), None);
        }
        for rare in ["0 0 29 2 *", "0 0 31 2 mon", "0 0 30,31 1,2 *"] {
            let cron = Cron::parse(rare).unwrap();
            assert!(
                cron.next_after(utc("2026-01-01T00:00:00Z"), Tz::UTC)
                    .is_some(),
                "{rare}"
            );
        }
    }

    #[test]
    fn only_classic_cron_is_taken() {
        for (expr, says) in [
            ("0 0 0 * * *", "five"),
            ("0 0 0 * * * 2027", "five"),
            ("@daily", "five"),
            ("0 0 L * *", "day of month \"L\""),
            ("0 0 15W * *", "day of month \"15W\""),
            ("0 0 ? * *", "day of month \"?\""),
            ("0 0 * * 5L", "day of week \"5L\""),
            ("0 0 * * +mon", "day of week \"+mon\""),
            ("0 0 * * jan", "day of week \"jan\""),
            ("0 0 * mon *", "month \"mon\""),
            ("0 0 jan * *", "day of month \"jan\""),
            ("0 0 1,,2 * *", "incomplete"),
            ("/5 * * * *", "incomplete"),
            ("*/mon * * * *", "step \"mon\" is not a number"),
        ] {
            let err = Cron::parse(expr).unwrap_err().to_string();
            assert!(err.contains(says), "{expr}: {err}");
        }
        // As before croner: names in any case, `a/n` from a on, 7 and 0 both Sunday.
        let every_15_from_5 = Cron::parse("5/15 * * * *").unwrap();
        assert_eq!(
            every_15_from_5.next_after(utc("2026-11-22T10:50:00Z"), Tz::UTC),
            Some(utc("2026-11-22T11:05:00Z"))
        );
        let weekend = Cron::parse("0 12 * MAR,Apr sat,7").unwrap();
        assert_eq!(
            weekend.next_after(utc("2026-03-02T00:00:00Z"), Tz::UTC),
            Some(utc("2026-03-07T12:00:00Z"))
        );
        assert_eq!(
            weekend.next_after(utc("2026-03-07T12:00:00Z"), Tz::UTC),
            Some(utc("2026-03-08T12:00:00Z"))
        );
        // Vixie cron: both day fields restricted, either matches (the 1st, or a Monday).
        let first_or_monday = Cron::parse("0 0 1 * mon").unwrap();
        assert_eq!(
            first_or_monday.next_after(utc("2026-01-01T00:00:00Z"), Tz::UTC),
            Some(utc("2026-01-05T00:00:00Z"))
        );
        assert_eq!(
            first_or_monday.next_after(utc("2026-01-26T00:00:00Z"), Tz::UTC),
            Some(utc("2026-02-01T00:00:00Z"))
        );
        assert_eq!(every_15_from_5.as_str(), "5/15 * * * *");
    }

    #[test]
    fn an_autumn_repeat_fires_a_fixed_time_once_and_an_interval_in_both_passes() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // 2026-10-25: 03:00 CEST goes back to 02:00 CET; 02:30 happens at 00:30 and 01:30 UTC.
        let half_past_two = Cron::parse("30 2 * * *").unwrap();
        assert_eq!(
            half_past_two.next_after(utc("2026-10-24T12:00:00Z"), berlin),
            Some(utc("2026-10-25T00:30:00Z"))
        );
        assert_eq!(
            half_past_two.next_after(utc("2026-10-25T00:30:00Z"), berlin),
            Some(utc("2026-10-26T01:30:00Z")),
            "not again in the second pass"
        );
        assert_eq!(
            half_past_two.next_after(utc("2026-10-25T01:10:00Z"), berlin),
            Some(utc("2026-10-26T01:30:00Z")),
            "never a slot before `after`"
        );
        let hourly = Cron::parse("0 * * * *").unwrap();
        let mut slots = vec![];
        let mut t = utc("2026-10-24T23:30:00Z");
        while let Some(next) = hourly.next_after(t, berlin) {
            if next > utc("2026-10-25T03:30:00Z") {
                break;
            }
            slots.push(next);
            t = next;
        }
        assert_eq!(
            slots,
            ["00:00", "01:00", "02:00", "03:00"].map(|hm| utc(&format!("2026-10-25T{hm}:00Z"))),
            "every real hour, 02:00 twice on the wall clock"
        );
    }

    #[test]
    fn due_is_the_last_slot_stepping_forward_would_reach() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        for expr in [
            "*/20 * * * *",
            "0 * * * *",
            "30 2 * * *",
            "0 2,3 * * *",
            "15 1-3 * * sun",
        ] {
            let cron = Cron::parse(expr).unwrap();
            for (from, to) in [
                ("2026-03-28T20:00:00Z", "2026-03-29T04:00:00Z"),
                ("2026-10-24T20:00:00Z", "2026-10-25T04:00:00Z"),
            ] {
                let since = utc(from);
                let mut now = since;
                while now < utc(to) {
                    now += chrono::Duration::minutes(7);
                    let mut stepped = None;
                    let mut t = since;
                    while let Some(next) = cron.next_after(t, berlin).filter(|n| *n <= now) {
                        stepped = Some(next);
                        t = next;
                    }
                    assert_eq!(cron.due(since, now, berlin), stepped, "{expr} at {now}");
                }
            }
        }
    }
}
