//! How pages write times and numbers: relative ("3 days ago", "in 2 weeks") with
//! the exact time in the user's time zone beside it for a `<time>` title.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// A time as pages show it.
#[derive(Debug, Clone)]
pub struct When {
    /// RFC 3339, for `<time datetime>`.
    pub iso: String,
    /// "3 days ago".
    pub ago: String,
    /// "4 Dec 2026, 14:05" in the user's zone.
    pub exact: String,
}

/// The user's zone (`users.timezone`), UTC when unset or unknown.
pub fn zone(name: Option<&str>) -> Tz {
    name.and_then(|n| n.parse().ok()).unwrap_or(Tz::UTC)
}

pub fn when(t: DateTime<Utc>, tz: Tz) -> When {
    When {
        iso: t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ago: ago(t, Utc::now()),
        exact: t.with_timezone(&tz).format("%-d %b %Y, %H:%M").to_string(),
    }
}

pub fn when_opt(t: Option<DateTime<Utc>>, tz: Tz) -> Option<When> {
    t.map(|t| when(t, tz))
}

/// `t` relative to `now`, in the largest whole unit.
pub fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    let (n, future) = (secs.unsigned_abs(), secs < 0);
    let (count, unit) = match n {
        0..60 => {
            return if future {
                "in a moment".into()
            } else {
                "just now".into()
            };
        }
        60..3_600 => (n / 60, "minute"),
        3_600..86_400 => (n / 3_600, "hour"),
        86_400..604_800 => (n / 86_400, "day"),
        604_800..2_629_800 => (n / 604_800, "week"),
        2_629_800..31_557_600 => (n / 2_629_800, "month"),
        _ => (n / 31_557_600, "year"),
    };
    let plural = if count == 1 { "" } else { "s" };
    if future {
        format!("in {count} {unit}{plural}")
    } else {
        format!("{count} {unit}{plural} ago")
    }
}

/// A duration in seconds in words: "about 3 hours".
pub fn duration(secs: f64) -> String {
    let now = Utc::now();
    let past = now - chrono::Duration::seconds(secs.max(0.0) as i64);
    let text = ago(past, now);
    match text.strip_suffix(" ago") {
        Some(t) => format!("about {t}"),
        None => "under a minute".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn relative_times_read_naturally() {
        let now = Utc::now();
        assert_eq!(ago(now - Duration::seconds(5), now), "just now");
        assert_eq!(ago(now - Duration::minutes(1), now), "1 minute ago");
        assert_eq!(ago(now - Duration::days(3), now), "3 days ago");
        assert_eq!(ago(now + Duration::days(14), now), "in 2 weeks");
        assert_eq!(duration(3.0 * 3600.0 + 60.0), "about 3 hours");
        assert_eq!(zone(Some("Europe/Lisbon")).name(), "Europe/Lisbon");
        assert_eq!(zone(Some("Mars/Base")), Tz::UTC);
    }
}
