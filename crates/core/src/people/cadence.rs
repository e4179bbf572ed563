//! Keep in touch: the people whose hand-set cadence (`people.keep_in_touch_days`) has
//! come due — the last touch on any channel (a DM, an e-mail, a comment; theirs or
//! ours: `person_events`) plus their cadence is past, or they were never touched.
//! Contact on any channel resets it, because every channel lands on the timeline.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::tenant::TenantTx;

/// A person due a touch.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Due {
    pub person_id: Uuid,
    pub full_name: Option<String>,
    pub primary_email: Option<String>,
    pub keep_in_touch_days: i32,
    pub last_touch: Option<DateTime<Utc>>,
    /// When it fell due (`None`: never touched).
    pub due_at: Option<DateTime<Utc>>,
}

/// Those due at `now`, longest overdue first (the never-touched first of all), at
/// most `limit`.
pub async fn due(
    tx: &mut TenantTx,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Due>, sqlx::Error> {
    let user_id = tx.user_id();
    sqlx::query_as(
        "SELECT p.id AS person_id, p.full_name, p.primary_email, p.keep_in_touch_days, t.last_touch,
                t.last_touch + make_interval(days => p.keep_in_touch_days) AS due_at
           FROM people p
           LEFT JOIN LATERAL (SELECT e.occurred_at AS last_touch FROM person_events e
                               WHERE e.user_id = p.user_id AND e.person_id = p.id
                               ORDER BY e.occurred_at DESC LIMIT 1) t ON true
          WHERE p.user_id = $1 AND p.keep_in_touch_days IS NOT NULL
            AND (t.last_touch IS NULL OR t.last_touch + make_interval(days => p.keep_in_touch_days) <= $2)
          ORDER BY due_at NULLS FIRST, p.id
          LIMIT $3",
    )
    .bind(user_id)
    .bind(now)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}
