//! What the person page and the people list read about people beyond search: one
//! person with their identities and insights ([`load`]), the channels and last touch
//! of a page of people ([`touches`]), a person's sent messages ([`messages`]) and
//! their merge suggestions ([`suggestions_for`]), each one tenant-scoped statement.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::outbound::Message;
use super::suggest::{Evidence, Suggestion};
use crate::db::tenant::TenantTx;

/// A `people` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Person {
    pub id: Uuid,
    pub full_name: Option<String>,
    pub primary_email: Option<String>,
    pub company: Option<String>,
    pub role: Option<String>,
    /// Keep in touch every this many days (after the last touch on any channel).
    pub keep_in_touch_days: Option<i32>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl Person {
    /// How pages name the person: their name, else their e-mail, else "Unnamed person".
    pub fn label(&self) -> String {
        self.full_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| self.primary_email.clone())
            .unwrap_or_else(|| "Unnamed person".into())
    }
}

/// An `identities` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Identity {
    pub id: i64,
    pub channel: Option<String>,
    pub handle: String,
    pub is_verified: Option<bool>,
    pub first_seen_at: Option<DateTime<Utc>>,
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// A `person_insights` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Insight {
    pub warmth_score: Option<f64>,
    pub activity_state: Option<String>,
    pub channel_preferences: Option<Value>,
    /// Seconds.
    pub avg_reply_secs: Option<f64>,
    pub last_active_at: Option<DateTime<Utc>>,
    pub seasonality: Option<Value>,
    /// `[{"term", "weight", "events", "count", "people"}]`, best first.
    pub interests: Option<Value>,
    /// `{"labels", "formality", "emoji_rate", "median_chars", "question_rate", "language", "messages"}`.
    pub tone_preferences: Option<Value>,
    pub best_channel: Option<String>,
    /// 0–23 in the user's time zone.
    pub best_send_hour: Option<i16>,
    /// `{"basis", "events", "timezone", "hours", "channel", "channel_events", "hour", "hour_events"}`.
    pub best_send_evidence: Option<Value>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct Profile {
    pub person: Person,
    pub identities: Vec<Identity>,
    pub insight: Option<Insight>,
}

/// The person, their identities (by channel) and insights; `None` if the tenant has
/// no such person.
pub async fn load(tx: &mut TenantTx, id: Uuid) -> Result<Option<Profile>, sqlx::Error> {
    let user_id = tx.user_id();
    let person: Option<Person> = sqlx::query_as(
        "SELECT id, full_name, primary_email, company, role, keep_in_touch_days, created_at, updated_at
           FROM people WHERE user_id = $1 AND id = $2",
    )
    .bind(user_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(person) = person else {
        return Ok(None);
    };
    let identities = sqlx::query_as(
        "SELECT id, channel, handle, is_verified, first_seen_at, last_seen_at
           FROM identities WHERE user_id = $1 AND person_id = $2 ORDER BY channel, handle",
    )
    .bind(user_id)
    .bind(id)
    .fetch_all(&mut **tx)
    .await?;
    let insight = sqlx::query_as(
        "SELECT warmth_score::float8 AS warmth_score, activity_state, channel_preferences,
                extract(epoch FROM avg_reply_time)::float8 AS avg_reply_secs, last_active_at,
                seasonality, interests, tone_preferences, best_channel, best_send_hour,
                best_send_evidence, updated_at
           FROM person_insights WHERE user_id = $1 AND person_id = $2",
    )
    .bind(user_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(Some(Profile {
        person,
        identities,
        insight,
    }))
}

/// A listed person's channels and touches.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Touches {
    pub person_id: Uuid,
    /// The channels of their identities, A to Z.
    pub channels: Vec<String>,
    /// The latest event either way (theirs or ours).
    pub last_touch: Option<DateTime<Utc>>,
    /// Their keep-in-touch cadence, when set.
    pub keep_in_touch_days: Option<i32>,
}

/// Channels and last touch of each of `people` (one index probe per person for the
/// last touch: `(person_id, occurred_at DESC)`).
pub async fn touches(tx: &mut TenantTx, people: &[Uuid]) -> Result<Vec<Touches>, sqlx::Error> {
    let user_id = tx.user_id();
    sqlx::query_as(
        "SELECT p.id AS person_id,
                coalesce((SELECT array_agg(DISTINCT i.channel ORDER BY i.channel) FROM identities i
                           WHERE i.user_id = $1 AND i.person_id = p.id AND i.channel IS NOT NULL),
                         '{}') AS channels,
                (SELECT e.occurred_at FROM person_events e
                  WHERE e.user_id = $1 AND e.person_id = p.id
                  ORDER BY e.occurred_at DESC LIMIT 1) AS last_touch,
                (SELECT x.keep_in_touch_days FROM people x WHERE x.user_id = $1 AND x.id = p.id) AS keep_in_touch_days
           FROM unnest($2::uuid[]) AS p(id)",
    )
    .bind(user_id)
    .bind(people)
    .fetch_all(&mut **tx)
    .await
}

/// When to get in touch again: the last touch on any channel plus their
/// keep-in-touch cadence when set (`keep_in_touch_days`), else a cadence by activity
/// state — a week for someone active, two for warming, a month for cool, a quarter
/// for dormant. `None` without any touch.
pub fn next_touch(
    last_touch: Option<DateTime<Utc>>,
    activity_state: Option<&str>,
    keep_in_touch_days: Option<i32>,
) -> Option<DateTime<Utc>> {
    let days = match (keep_in_touch_days, activity_state) {
        (Some(d), _) => i64::from(d),
        (None, Some("active")) => 7,
        (None, Some("warming")) => 14,
        (None, Some("cool")) => 30,
        (None, _) => 90,
    };
    last_touch.map(|t| t + Duration::days(days))
}

/// The person's sent messages, newest first.
pub async fn messages(
    tx: &mut TenantTx,
    person_id: Uuid,
    limit: i64,
) -> Result<Vec<Message>, sqlx::Error> {
    let user_id = tx.user_id();
    sqlx::query_as(
        "SELECT id, person_id, segment_id, channel, goal_type, variant, subject, body, sent_at,
                opened_at, clicked_at, replied_at, metadata
           FROM outbound_messages WHERE user_id = $1 AND person_id = $2
          ORDER BY sent_at DESC NULLS LAST, id LIMIT $3",
    )
    .bind(user_id)
    .bind(person_id)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// The open merge suggestions naming `person_id` (not dismissed), best first, with
/// the other person of each.
pub async fn suggestions_for(
    tx: &mut TenantTx,
    person_id: Uuid,
    limit: i64,
) -> Result<Vec<(Suggestion, Person)>, sqlx::Error> {
    let user_id = tx.user_id();
    #[derive(sqlx::FromRow)]
    struct Row {
        person_a: Uuid,
        person_b: Uuid,
        score: f64,
        evidence: Value,
        computed_at: DateTime<Utc>,
        #[sqlx(flatten)]
        other: Person,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT c.person_a, c.person_b, c.score::float8 AS score, c.evidence, c.computed_at,
                o.id, o.full_name, o.primary_email, o.company, o.role, o.keep_in_touch_days, o.created_at, o.updated_at
           FROM person_merge_candidates c
           JOIN people o ON o.user_id = c.user_id
                        AND o.id = CASE WHEN c.person_a = $2 THEN c.person_b ELSE c.person_a END
          WHERE c.user_id = $1 AND (c.person_a = $2 OR c.person_b = $2)
            AND NOT EXISTS (SELECT 1 FROM person_merge_dismissals d
                             WHERE d.user_id = $1 AND d.person_a = c.person_a AND d.person_b = c.person_b)
          ORDER BY c.score DESC, o.id
          LIMIT $3",
    )
    .bind(user_id)
    .bind(person_id)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter()
        .map(|r| {
            let evidence: Vec<Evidence> =
                serde_json::from_value(r.evidence).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            Ok((
                Suggestion {
                    person_a: r.person_a,
                    person_b: r.person_b,
                    score: r.score,
                    evidence,
                    computed_at: r.computed_at,
                },
                r.other,
            ))
        })
        .collect()
}

/// People by id (those the tenant has), in no particular order.
pub async fn people(tx: &mut TenantTx, ids: &[Uuid]) -> Result<Vec<Person>, sqlx::Error> {
    let user_id = tx.user_id();
    sqlx::query_as(
        "SELECT id, full_name, primary_email, company, role, keep_in_touch_days, created_at, updated_at
           FROM people WHERE user_id = $1 AND id = ANY($2)",
    )
    .bind(user_id)
    .bind(ids)
    .fetch_all(&mut **tx)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_touch_follows_the_activity_cadence() {
        let t = Utc::now();
        assert_eq!(
            next_touch(Some(t), Some("active"), None),
            Some(t + Duration::days(7))
        );
        assert_eq!(
            next_touch(Some(t), Some("cool"), None),
            Some(t + Duration::days(30))
        );
        assert_eq!(
            next_touch(Some(t), None, None),
            Some(t + Duration::days(90))
        );
        assert_eq!(next_touch(None, Some("active"), None), None);
        assert_eq!(
            next_touch(Some(t), Some("active"), Some(45)),
            Some(t + Duration::days(45)),
            "a cadence set by hand wins"
        );
    }
}
