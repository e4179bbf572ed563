//! Segment insights (seed 000's `segment_insights`): what a segment's members do,
//! one row per segment and traffic type, organic and paid never mixed — every
//! figure of a row is read from the members' `person_events` of that traffic type
//! alone, over the last [`WINDOW_DAYS`] days. Recomputed by the `segments.refresh`
//! job after it refreshes the members, and on demand (`POST
//! /segments/{id}/insights`). No language model. docs/SEGMENTS.md gives each
//! figure's rule:
//!
//! - `top_topics`: the words of the members' own messages and comments
//!   (`people::text::terms_of`), by share of mentions, top [`TOP`];
//! - `top_platforms`: events by channel; `top_formats`: by the event's
//!   `metadata.format` (or `media_type`) when it has one, else its type;
//! - `engagement_style`: events by kind of engagement — conversational (they write),
//!   reactive (likes, reactions), sharing (shares, saves, mentions of us), passive
//!   (opens, views, clicks) — with the dominant one and the sample size;
//! - `best_times`: shares of events by weekday × 4-hour block, in the tenant's time
//!   zone (`users.timezone`);
//! - `expected_reach_range` / `expected_engagement_rate_range`: the interquartile
//!   range, over the weeks the events cover (from the oldest one's week, at most the
//!   last [`WEEKS`]), of how many members engaged each week and that number as a
//!   fraction of the members.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::db::tenant::TenantTx;
use crate::error::DomainResult;
use crate::people::text::{AUTHORED_TYPES, EVENT_WORDS, terms_of};

/// How far back insights look, in days.
pub const WINDOW_DAYS: i64 = 84;
/// Weeks the reach ranges are taken over (`WINDOW_DAYS` / 7).
pub const WEEKS: usize = 12;
/// Entries kept in each top list.
pub const TOP: usize = 10;
/// Most events one row is computed from (the newest): a sample bound for very large
/// segments, stated in `engagement_style.events`.
pub const MAX_EVENTS: i64 = 200_000;
/// Hours in one block of `best_times`.
pub const BLOCK_HOURS: u32 = 4;
/// The traffic types, in the order rows are shown.
pub const TRAFFIC_TYPES: [&str; 2] = ["organic", "paid"];
/// Weekday keys of `best_times`, Monday first.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// One row of a segment's insights.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct SegmentInsight {
    /// `organic` or `paid`.
    pub traffic_type: String,
    /// `[{"name": "pottery", "share": 0.21}, …]`, highest first.
    #[schema(value_type = Option<Vec<Object>>)]
    pub top_topics: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub top_platforms: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub top_formats: Option<Value>,
    /// `{"style": "conversational", "shares": {…}, "events": 412, "members_engaged": 57}`.
    #[schema(value_type = Option<Object>)]
    pub engagement_style: Option<Value>,
    /// `{"timezone": "UTC", "block_hours": 4, "shares": {"mon": [6 shares], …}}`.
    #[schema(value_type = Option<Object>)]
    pub best_times: Option<Value>,
    /// Members engaging in a week: the interquartile range, both ends included.
    pub reach_low: Option<i32>,
    pub reach_high: Option<i32>,
    /// Those as a fraction of the members.
    pub engagement_rate_low: Option<f64>,
    pub engagement_rate_high: Option<f64>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The insights rows of segment `id`, organic first (none until computed).
pub async fn for_segment(tx: &mut TenantTx, id: Uuid) -> DomainResult<Vec<SegmentInsight>> {
    super::store::get(tx, id).await?;
    Ok(sqlx::query_as(
        "SELECT traffic_type, top_topics, top_platforms, top_formats, engagement_style, best_times,
                lower(expected_reach_range) AS reach_low,
                upper(expected_reach_range) - 1 AS reach_high,
                lower(expected_engagement_rate_range)::float8 AS engagement_rate_low,
                upper(expected_engagement_rate_range)::float8 AS engagement_rate_high,
                updated_at
           FROM segment_insights WHERE user_id = $1 AND segment_id = $2
          ORDER BY traffic_type = 'paid', traffic_type",
    )
    .bind(tx.user_id())
    .bind(id)
    .fetch_all(&mut **tx)
    .await?)
}

/// One event of a member, as insights read it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberEvent {
    pub person_id: Uuid,
    pub channel: String,
    pub event_type: String,
    pub format: Option<String>,
    pub excerpt: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

/// The kind of engagement an event type is.
pub fn style_of(event_type: &str) -> &'static str {
    if AUTHORED_TYPES.contains(&event_type) {
        return "conversational";
    }
    let t = event_type;
    if t.contains("like") || t.contains("reaction") || t.contains("react") {
        "reactive"
    } else if t.contains("share") || t.contains("save") || t.contains("repost") || t == "tagged" {
        "sharing"
    } else if t.contains("open")
        || t.contains("click")
        || t.contains("view")
        || t.contains("visit")
        || t.contains("impression")
    {
        "passive"
    } else {
        "other"
    }
}

/// Shares of `counts` as `[{"name", "share"}]`, highest first (ties by name), the
/// first `TOP` only; shares are of the whole, rounded to 4 places.
fn top(counts: HashMap<String, u64>) -> Value {
    let total: u64 = counts.values().sum();
    let mut v: Vec<(String, u64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Value::Array(
        v.into_iter()
            .take(TOP)
            .map(|(name, n)| json!({"name": name, "share": round4(n as f64 / total as f64)}))
            .collect(),
    )
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The `q`th quantile of sorted `v` by linear interpolation (`q` in 0..=1).
pub fn quantile(v: &[f64], q: f64) -> f64 {
    match v.len() {
        0 => 0.0,
        1 => v[0],
        n => {
            let pos = q * (n - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
        }
    }
}

/// What one traffic type's events say, computed from `events` (all of that traffic
/// type) for a segment of `members` people, as of `now`, with times in `tz`.
#[derive(Debug, Clone, PartialEq)]
pub struct Computed {
    pub top_topics: Value,
    pub top_platforms: Value,
    pub top_formats: Value,
    pub engagement_style: Value,
    pub best_times: Value,
    /// (low, high) members engaged per week, both included.
    pub reach: (i32, i32),
    /// (low, high) of the weekly engaged members ÷ members.
    pub rate: (f64, f64),
}

/// Computes one row from the events (pure; see the module's rules).
pub fn compute(events: &[MemberEvent], members: i64, now: DateTime<Utc>, tz: Tz) -> Computed {
    let (mut topics, mut platforms, mut formats, mut styles) = (
        HashMap::<String, u64>::new(),
        HashMap::<String, u64>::new(),
        HashMap::<String, u64>::new(),
        HashMap::<String, u64>::new(),
    );
    let mut times = [[0u64; 6]; 7];
    let mut weekly: Vec<std::collections::HashSet<Uuid>> = vec![Default::default(); WEEKS];
    let mut engaged = std::collections::HashSet::new();
    for e in events {
        *platforms.entry(e.channel.clone()).or_default() += 1;
        let format = e.format.clone().unwrap_or_else(|| e.event_type.clone());
        *formats.entry(format).or_default() += 1;
        *styles
            .entry(style_of(&e.event_type).to_owned())
            .or_default() += 1;
        if AUTHORED_TYPES.contains(&e.event_type.as_str())
            && let Some(text) = &e.excerpt
        {
            for t in terms_of(text, "en") {
                if !EVENT_WORDS.contains(&t.word.as_str()) {
                    *topics.entry(t.word).or_default() += 1;
                }
            }
        }
        let local = e.occurred_at.with_timezone(&tz);
        let day = local.weekday().num_days_from_monday() as usize;
        times[day][(local.hour() / BLOCK_HOURS) as usize] += 1;
        let age = (now - e.occurred_at).num_days();
        if (0..WEEKS as i64 * 7).contains(&age) {
            weekly[(age / 7) as usize].insert(e.person_id);
        }
        engaged.insert(e.person_id);
    }
    let n = events.len() as u64;
    let share = |c: u64| {
        if n == 0 {
            0.0
        } else {
            round4(c as f64 / n as f64)
        }
    };
    let mut style_shares = Map::new();
    for s in ["conversational", "reactive", "sharing", "passive", "other"] {
        style_shares.insert(s.into(), json!(share(*styles.get(s).unwrap_or(&0))));
    }
    let dominant = styles
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(s, _)| s.clone());
    let mut shares = Map::new();
    for (i, day) in WEEKDAYS.iter().enumerate() {
        shares.insert(
            (*day).into(),
            Value::Array(times[i].iter().map(|c| json!(share(*c))).collect()),
        );
    }
    // the weeks the events cover (from the oldest one's, at most WEEKS): a new
    // segment's few weeks are not averaged with empty weeks before its data
    let covered = weekly
        .iter()
        .rposition(|w| !w.is_empty())
        .map_or(0, |oldest| oldest + 1);
    let mut per_week: Vec<f64> = weekly[..covered].iter().map(|w| w.len() as f64).collect();
    per_week.sort_by(f64::total_cmp);
    let (q1, q3) = (quantile(&per_week, 0.25), quantile(&per_week, 0.75));
    let reach = (q1.floor() as i32, q3.ceil() as i32);
    let rate = if members > 0 {
        (round4(q1 / members as f64), round4(q3 / members as f64))
    } else {
        (0.0, 0.0)
    };
    Computed {
        top_topics: top(topics),
        top_platforms: top(platforms),
        top_formats: top(formats),
        engagement_style: json!({
            "style": dominant,
            "shares": style_shares,
            "events": n,
            "members_engaged": engaged.len(),
        }),
        best_times: json!({"timezone": tz.name(), "block_hours": BLOCK_HOURS, "shares": shares}),
        reach,
        rate,
    }
}

/// Recomputes segment `id`'s two rows (organic, paid) from its current members'
/// events; returns the rows.
pub async fn recompute(tx: &mut TenantTx, id: Uuid) -> DomainResult<Vec<SegmentInsight>> {
    super::store::get(tx, id).await?;
    let user_id = tx.user_id();
    let now = Utc::now();
    let tz: Option<String> = sqlx::query_scalar("SELECT timezone FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut **tx)
        .await?
        .flatten();
    let tz: Tz = tz.and_then(|t| t.parse().ok()).unwrap_or(Tz::UTC);
    let members: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM segment_members WHERE user_id = $1 AND segment_id = $2",
    )
    .bind(user_id)
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    for traffic in TRAFFIC_TYPES {
        let events: Vec<MemberEvent> = sqlx::query_as(
            "SELECT e.person_id, e.channel, e.event_type,
                    COALESCE(e.metadata->>'format', e.metadata->>'media_type') AS format,
                    e.content_excerpt AS excerpt, e.occurred_at
               FROM segment_members m
               JOIN person_events e ON e.user_id = m.user_id AND e.person_id = m.person_id
              WHERE m.user_id = $1 AND m.segment_id = $2
                AND e.traffic_type = $3
                AND e.occurred_at > $4 AND e.occurred_at <= $5
                AND e.event_type <> ALL($6)
              ORDER BY e.occurred_at DESC LIMIT $7",
        )
        .bind(user_id)
        .bind(id)
        .bind(traffic)
        .bind(now - chrono::Duration::days(WINDOW_DAYS))
        .bind(now)
        .bind(&crate::people::insights::OUTBOUND_TYPES[..])
        .bind(MAX_EVENTS)
        .fetch_all(&mut **tx)
        .await?;
        let c = compute(&events, members, now, tz);
        sqlx::query(
            "INSERT INTO segment_insights (user_id, segment_id, traffic_type, top_topics, top_platforms,
                    top_formats, engagement_style, best_times, expected_reach_range,
                    expected_engagement_rate_range)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, int4range($9, $10, '[]'),
                     numrange($11::numeric, $12::numeric, '[]'))
             ON CONFLICT (user_id, segment_id, traffic_type) DO UPDATE SET
                top_topics = EXCLUDED.top_topics, top_platforms = EXCLUDED.top_platforms,
                top_formats = EXCLUDED.top_formats, engagement_style = EXCLUDED.engagement_style,
                best_times = EXCLUDED.best_times, expected_reach_range = EXCLUDED.expected_reach_range,
                expected_engagement_rate_range = EXCLUDED.expected_engagement_rate_range",
        )
        .bind(user_id)
        .bind(id)
        .bind(traffic)
        .bind(&c.top_topics)
        .bind(&c.top_platforms)
        .bind(&c.top_formats)
        .bind(&c.engagement_style)
        .bind(&c.best_times)
        .bind(c.reach.0)
        .bind(c.reach.1)
        .bind(c.rate.0)
        .bind(c.rate.1)
        .execute(&mut **tx)
        .await?;
    }
    for_segment(tx, id).await
}
