//! One person's timeline: their events newest first, a page at a time, optionally
//! of one channel, some event types, or a time range. The SQL names only the filters
//! given, so the planner sees the shape it can serve from the seed's indexes:
//! `(person_id, occurred_at DESC)` and, with a channel, `(person_id, channel,
//! occurred_at DESC)` (`tests/it/people_timeline.rs` asserts the plans).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::db::tenant::TenantTx;

/// What to show.
#[derive(Debug, Clone, Default)]
pub struct TimelineFilter {
    pub channel: Option<String>,
    pub event_types: Vec<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
    /// The last item of the previous page: `(occurred_at, id)`.
    pub after: Option<(DateTime<Utc>, i64)>,
    pub limit: i64,
}

/// One event as the timeline shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TimelineEvent {
    pub id: i64,
    pub channel: String,
    pub event_type: String,
    pub platform_id: Option<String>,
    pub content_excerpt: Option<String>,
    pub sentiment: Option<f64>,
    pub traffic_type: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    pub occurred_at: DateTime<Utc>,
}

/// The SQL of a page for `filter` (parameters: `$1` tenant, `$2` person, then the
/// filters in the order they appear).
pub fn page_sql(filter: &TimelineFilter) -> String {
    let mut sql = String::from(
        "SELECT id, channel, event_type, platform_id, content_excerpt, sentiment::float8 AS sentiment,
                traffic_type, metadata, occurred_at
           FROM person_events WHERE user_id = $1 AND person_id = $2",
    );
    let mut n = 2;
    let mut next = || {
        n += 1;
        n
    };
    if filter.channel.is_some() {
        sql.push_str(&format!(" AND channel = ${}", next()));
    }
    if !filter.event_types.is_empty() {
        sql.push_str(&format!(" AND event_type = ANY(${})", next()));
    }
    if filter.since.is_some() {
        sql.push_str(&format!(" AND occurred_at >= ${}", next()));
    }
    if filter.until.is_some() {
        sql.push_str(&format!(" AND occurred_at < ${}", next()));
    }
    if filter.after.is_some() {
        let (t, i) = (next(), next());
        // the first clause lets the index bound the scan; the second breaks ties
        sql.push_str(&format!(
            " AND occurred_at <= ${t} AND (occurred_at, id) < (${t}, ${i})"
        ));
    }
    sql.push_str(&format!(
        " ORDER BY occurred_at DESC, id DESC LIMIT ${}",
        next()
    ));
    sql
}

/// A page of `person_id`'s timeline, newest first.
pub async fn page(
    tx: &mut TenantTx,
    person_id: Uuid,
    filter: &TimelineFilter,
) -> Result<Vec<TimelineEvent>, sqlx::Error> {
    let user_id = tx.user_id();
    let sql = page_sql(filter);
    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .bind(person_id);
    if let Some(c) = &filter.channel {
        q = q.bind(c);
    }
    if !filter.event_types.is_empty() {
        q = q.bind(&filter.event_types);
    }
    if let Some(s) = filter.since {
        q = q.bind(s);
    }
    if let Some(u) = filter.until {
        q = q.bind(u);
    }
    if let Some((t, i)) = filter.after {
        q = q.bind(t).bind(i);
    }
    q.bind(filter.limit).fetch_all(&mut **tx).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_given_filters_are_in_the_sql_and_numbered_in_order() {
        let bare = page_sql(&TimelineFilter {
            limit: 50,
            ..TimelineFilter::default()
        });
        assert!(
            bare.ends_with("ORDER BY occurred_at DESC, id DESC LIMIT $3"),
            "{bare}"
        );
        assert!(!bare.contains("channel ="));
        let all = page_sql(&TimelineFilter {
            channel: Some("email".into()),
            event_types: vec!["opened_email".into()],
            since: Some(Utc::now()),
            until: Some(Utc::now()),
            after: Some((Utc::now(), 9)),
            limit: 50,
        });
        for part in [
            "channel = $3",
            "event_type = ANY($4)",
            "occurred_at >= $5",
            "occurred_at < $6",
            "(occurred_at, id) < ($7, $8)",
            "LIMIT $9",
        ] {
            assert!(all.contains(part), "{part} in {all}");
        }
    }
}
