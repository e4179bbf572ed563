//! What an insight recompute makes of one person's own events (never ours), as pure
//! functions over the rows it read: the totals behind warmth, activity state,
//! channel preferences and seasonality ([`activity`]), the texts interests and tone
//! are read from ([`messages`]), and the channel and hour of day they answer on
//! ([`best_send`]). `super::insights` reads the rows and stores the results;
//! docs/SCORING.md gives every formula.

use chrono::{DateTime, Datelike, Duration, Months, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use uuid::Uuid;

use super::model::REPLY_TYPES;
use super::text::AUTHORED_TYPES;

/// Most recent messages interests and tone are read from.
pub const MAX_MESSAGES: usize = 500;
/// Replies of the last year needed to judge the best channel and hour from replies
/// alone; with fewer, all of their activity of the last year is the evidence.
pub const MIN_REPLIES: usize = 3;

/// One of a person's own events as a recompute reads it (`content_excerpt` only
/// for [`AUTHORED_TYPES`]).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OwnEvent {
    pub person_id: Uuid,
    pub channel: String,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub sentiment: Option<f64>,
    pub content_excerpt: Option<String>,
}

/// The totals of a person's own events.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub last_active: Option<DateTime<Utc>>,
    /// Events of the last 90 days.
    pub events_90d: i64,
    /// Mean sentiment of the events that have one.
    pub mean_sentiment: Option<f64>,
    /// Events of the last year per ISO weekday (UTC), Monday first.
    pub weekday: [i64; 7],
    /// Events of the last year per month (UTC), January first.
    pub month: [i64; 12],
    /// Events of the last 180 days per channel, A to Z.
    pub channels: Vec<(String, i64)>,
}

/// A year before `now` (a calendar year, as SQL's `interval '1 year'`).
fn a_year_before(now: DateTime<Utc>) -> DateTime<Utc> {
    now.checked_sub_months(Months::new(12))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The totals of `events` (one person's own) as of `now`.
pub fn activity(events: &[OwnEvent], now: DateTime<Utc>) -> Activity {
    let year_ago = a_year_before(now);
    let mut out = Activity {
        last_active: None,
        events_90d: 0,
        mean_sentiment: None,
        weekday: [0; 7],
        month: [0; 12],
        channels: Vec::new(),
    };
    let (mut sentiment_sum, mut sentiments) = (0.0, 0u32);
    let mut channels: std::collections::BTreeMap<&str, i64> = std::collections::BTreeMap::new();
    for e in events {
        let t = e.occurred_at;
        out.last_active = out.last_active.max(Some(t));
        if t > now - Duration::days(90) {
            out.events_90d += 1;
        }
        if let Some(s) = e.sentiment {
            sentiment_sum += s;
            sentiments += 1;
        }
        if t > year_ago {
            out.weekday[t.weekday().num_days_from_monday() as usize] += 1;
            out.month[t.month0() as usize] += 1;
        }
        if t > now - Duration::days(180) {
            *channels.entry(e.channel.as_str()).or_default() += 1;
        }
    }
    out.mean_sentiment = (sentiments > 0).then(|| sentiment_sum / f64::from(sentiments));
    out.channels = channels
        .into_iter()
        .map(|(c, n)| (c.to_string(), n))
        .collect();
    out
}

/// The texts of their own messages (events of [`AUTHORED_TYPES`] with text), the
/// newest first, at most [`MAX_MESSAGES`].
pub fn messages(events: &[OwnEvent]) -> Vec<&str> {
    let mut authored: Vec<&OwnEvent> = events
        .iter()
        .filter(|e| {
            AUTHORED_TYPES.contains(&e.event_type.as_str())
                && e.content_excerpt
                    .as_deref()
                    .is_some_and(|t| !t.trim().is_empty())
        })
        .collect();
    authored.sort_by_key(|e| std::cmp::Reverse(e.occurred_at));
    authored
        .into_iter()
        .take(MAX_MESSAGES)
        .filter_map(|e| e.content_excerpt.as_deref())
        .collect()
}

/// Their best channel and send hour, with the evidence
/// (`person_insights.best_send_evidence`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BestSend {
    /// "replies" (their answers to us) or "activity" (everything they did).
    pub basis: &'static str,
    /// Events of the basis in the last year.
    pub events: u32,
    /// The zone the hours are in (the user's).
    pub timezone: String,
    /// Those events per hour of day, 0 first.
    pub hours: [u32; 24],
    pub channel: String,
    /// Events of the basis on that channel.
    pub channel_events: u32,
    pub hour: u8,
    /// Events of the basis in that hour.
    pub hour_events: u32,
}

/// The hour whose neighbourhood is busiest: each hour scores its count twice plus
/// the hours either side (round the clock), ties going to the hour with more events
/// of its own, then the earliest; `None` when every count is zero.
pub fn best_hour(hours: &[u32; 24]) -> Option<u8> {
    let score = |h: usize| hours[(h + 23) % 24] + 2 * hours[h] + hours[(h + 1) % 24];
    (0..24)
        .filter(|&h| score(h) > 0)
        .max_by(|&a, &b| {
            score(a)
                .cmp(&score(b))
                .then(hours[a].cmp(&hours[b]))
                .then(b.cmp(&a))
        })
        .map(|h| h as u8)
}

/// Their best channel and hour as of `now`, hours in `tz`: from their replies of
/// the last year ([`REPLY_TYPES`]) when there are at least [`MIN_REPLIES`], else
/// from all their events of the last year. The channel is the one with the most
/// such events (ties: the one used most recently, then A to Z); the hour is
/// [`best_hour`]. `None` without any event in the last year.
pub fn best_send(events: &[OwnEvent], tz: Tz, now: DateTime<Utc>) -> Option<BestSend> {
    let year_ago = a_year_before(now);
    let recent: Vec<&OwnEvent> = events.iter().filter(|e| e.occurred_at > year_ago).collect();
    let replies: Vec<&OwnEvent> = recent
        .iter()
        .copied()
        .filter(|e| REPLY_TYPES.contains(&e.event_type.as_str()))
        .collect();
    let (basis, evidence) = if replies.len() >= MIN_REPLIES {
        ("replies", replies)
    } else {
        ("activity", recent)
    };
    let mut hours = [0u32; 24];
    let mut channels: std::collections::BTreeMap<&str, (u32, DateTime<Utc>)> =
        std::collections::BTreeMap::new();
    for e in &evidence {
        hours[e.occurred_at.with_timezone(&tz).hour() as usize] += 1;
        let c = channels
            .entry(e.channel.as_str())
            .or_insert((0, e.occurred_at));
        c.0 += 1;
        c.1 = c.1.max(e.occurred_at);
    }
    // BTreeMap order is A to Z; max_by keeps the last of equals, so compare names
    // reversed to let the first name win a full tie.
    let (channel, (channel_events, _)) = channels
        .iter()
        .max_by(|a, b| (a.1.0, a.1.1).cmp(&(b.1.0, b.1.1)).then(b.0.cmp(a.0)))?;
    let hour = best_hour(&hours)?;
    Some(BestSend {
        basis,
        events: evidence.len() as u32,
        timezone: tz.name().to_string(),
        hours,
        channel: channel.to_string(),
        channel_events: *channel_events,
        hour,
        hour_events: hours[hour as usize],
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
    }

    fn ev(channel: &str, kind: &str, at: DateTime<Utc>, text: Option<&str>) -> OwnEvent {
        OwnEvent {
            person_id: Uuid::nil(),
            channel: channel.into(),
            event_type: kind.into(),
            occurred_at: at,
            sentiment: None,
            content_excerpt: text.map(str::to_string),
        }
    }

    #[test]
    fn activity_totals_by_window() {
        let n = now();
        let mut events = vec![
            ev("instagram", "liked", n - Duration::days(1), None),
            ev("email", "email_received", n - Duration::days(100), None),
            ev("instagram", "liked", n - Duration::days(52), None),
            ev("email", "opened_email", n - Duration::days(200), None),
            ev("email", "opened_email", n - Duration::days(400), None),
        ];
        events[0].sentiment = Some(1.0);
        events[1].sentiment = Some(0.0);
        let a = activity(&events, n);
        assert_eq!(a.last_active, Some(n - Duration::days(1)));
        assert_eq!(a.events_90d, 2);
        assert_eq!(a.mean_sentiment, Some(0.5));
        assert_eq!(a.weekday.iter().sum::<i64>(), 4, "the last year only");
        assert_eq!(a.month.iter().sum::<i64>(), 4);
        // 2026-11-21 is a Saturday
        assert_eq!(a.weekday[5], 1);
        assert_eq!(a.month[10], 1);
        assert_eq!(
            a.channels,
            vec![("email".to_string(), 1), ("instagram".to_string(), 2)],
            "the last 180 days"
        );
        let none = activity(&[], n);
        assert_eq!((none.last_active, none.mean_sentiment), (None, None));
    }

    #[test]
    fn messages_are_their_own_words_newest_first() {
        let n = now();
        let events = vec![
            ev(
                "instagram",
                "dm_reply",
                n - Duration::days(3),
                Some("older"),
            ),
            ev("instagram", "liked", n, Some("the post they liked")),
            ev(
                "instagram",
                "commented",
                n - Duration::days(1),
                Some("newer"),
            ),
            ev("email", "email_received", n, Some("  ")),
            ev("email", "email_received", n, None),
        ];
        assert_eq!(messages(&events), ["newer", "older"]);
        let many: Vec<OwnEvent> = (0..MAX_MESSAGES + 5)
            .map(|i| {
                ev(
                    "email",
                    "email_received",
                    n - Duration::minutes(i as i64),
                    Some("hi"),
                )
            })
            .collect();
        assert_eq!(messages(&many).len(), MAX_MESSAGES);
    }

    #[test]
    fn best_hour_smooths_over_neighbours() {
        let mut h = [0u32; 24];
        assert_eq!(best_hour(&h), None);
        h[9] = 2;
        h[10] = 2;
        h[11] = 2;
        h[20] = 3;
        // 10: 2+4+2 = 8 beats 20: 0+6+0 = 6
        assert_eq!(best_hour(&h), Some(10));
        let mut wrap = [0u32; 24];
        wrap[23] = 1;
        wrap[0] = 1;
        // 23: 0+2+1 = 3 and 0: 1+2+0 = 3, equal own counts: the earliest
        assert_eq!(best_hour(&wrap), Some(0));
        let mut apart = [0u32; 24];
        apart[9] = 1;
        apart[11] = 1;
        // 9, 10 and 11 all score 2; 10 has no event of its own
        assert_eq!(best_hour(&apart), Some(9));
    }

    #[test]
    fn best_send_from_replies_when_there_are_enough() {
        let n = now();
        let at = |d: i64, h: u32| {
            Utc.with_ymd_and_hms(2026, 11, 10, h, 0, 0).unwrap() - Duration::days(d)
        };
        let mut events = vec![
            ev("email", "email_received", at(0, 8), None),
            ev("email", "email_received", at(1, 8), None),
            ev("instagram", "dm_reply", at(2, 20), None),
            ev("instagram", "liked", at(3, 14), None),
            ev("instagram", "liked", at(4, 14), None),
            ev("instagram", "liked", at(5, 14), None),
            ev("email", "email_received", at(500, 3), None),
        ];
        let b = best_send(&events, Tz::UTC, n).unwrap();
        assert_eq!(b.basis, "replies");
        assert_eq!(
            (b.events, b.channel.as_str(), b.channel_events),
            (3, "email", 2)
        );
        assert_eq!((b.hour, b.hour_events), (8, 2));
        // in Lisbon (UTC+0 in November) the same; in São Paulo (UTC−3) 5 o'clock
        let sp: Tz = "America/Sao_Paulo".parse().unwrap();
        let b = best_send(&events, sp, n).unwrap();
        assert_eq!((b.hour, b.timezone.as_str()), (5, "America/Sao_Paulo"));
        // two replies only: all activity decides
        events.remove(0);
        let b = best_send(&events, Tz::UTC, n).unwrap();
        assert_eq!(b.basis, "activity");
        assert_eq!(
            (b.events, b.channel.as_str(), b.channel_events),
            (5, "instagram", 4)
        );
        assert_eq!(b.hour, 14);
        assert_eq!(
            best_send(&events[5..], Tz::UTC, n),
            None,
            "nothing this year"
        );
    }

    #[test]
    fn a_channel_tie_goes_to_the_most_recent() {
        let n = now();
        let events = vec![
            ev("email", "liked", n - Duration::days(2), None),
            ev("twitter", "liked", n - Duration::days(1), None),
        ];
        assert_eq!(best_send(&events, Tz::UTC, n).unwrap().channel, "twitter");
    }
}
