//! 002's event store read back: `public.events`, written only through `log_event()`
//! (in the transaction of the write it records) and announced on NOTIFY channel
//! `events`. Listing is newest first by `(created_at, id)`; a stream resumes after a
//! given event.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Event {
    pub id: Uuid,
    pub user_id: Uuid,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub event_type: String,
    pub payload: Value,
    pub metadata: Option<Value>,
    pub created_at: DateTime<Utc>,
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    pub event_type: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Newest first, strictly before this `(created_at, id)`.
    pub before: Option<(DateTime<Utc>, Uuid)>,
}

const COLUMNS: &str =
    "id, user_id, entity_type::text, entity_id, event_type::text, payload, metadata, created_at";

/// The tenant's events, newest first (in the tenant's transaction).
pub async fn list(
    conn: &mut PgConnection,
    user_id: Uuid,
    f: &EventFilter,
    limit: i64,
) -> Result<Vec<Event>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM events WHERE user_id = $1
           AND ($2::text IS NULL OR entity_type = $2) AND ($3::uuid IS NULL OR entity_id = $3)
           AND ($4::text IS NULL OR event_type = $4)
           AND ($5::timestamptz IS NULL OR created_at >= $5) AND ($6::timestamptz IS NULL OR created_at < $6)
           AND ($7::timestamptz IS NULL OR (created_at, id) < ($7, $8))
         ORDER BY created_at DESC, id DESC LIMIT $9"
    )))
    .bind(user_id)
    .bind(&f.entity_type)
    .bind(f.entity_id)
    .bind(&f.event_type)
    .bind(f.since)
    .bind(f.until)
    .bind(f.before.map(|b| b.0))
    .bind(f.before.map(|b| b.1))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// One of the tenant's events.
pub async fn get(
    conn: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
) -> Result<Option<Event>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM events WHERE user_id = $1 AND id = $2"
    )))
    .bind(user_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The tenant's events after `after` (oldest first, at most `limit`): what a stream
/// resuming from `Last-Event-ID` missed.
pub async fn after(
    conn: &mut PgConnection,
    user_id: Uuid,
    after: Uuid,
    limit: i64,
) -> Result<Vec<Event>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM events e WHERE user_id = $1
           AND (created_at, id) > (SELECT created_at, id FROM events WHERE user_id = $1 AND id = $2)
         ORDER BY created_at, id LIMIT $3"
    )))
    .bind(user_id)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// A notification on channel `events`: which event, of which tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub struct Announced {
    pub id: Uuid,
    pub user_id: Uuid,
}

/// Records a domain event in the caller's transaction (002's `log_event`).
pub async fn log(
    conn: &mut PgConnection,
    user_id: Uuid,
    entity_type: &str,
    entity_id: Uuid,
    event_type: &str,
    payload: &Value,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar("SELECT log_event($1, $2, $3, $4, $5)")
        .bind(user_id)
        .bind(entity_type)
        .bind(entity_id)
        .bind(event_type)
        .bind(payload)
        .fetch_one(conn)
        .await
}

/// Listens on channel `events` and hands each announcement to `deliver`, reconnecting
/// when the connection drops; returns when `deliver` says stop.
pub async fn listen(pool: &PgPool, mut deliver: impl FnMut(Announced) -> bool) {
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN for events; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                continue;
            }
        };
        if listener.listen("events").await.is_err() {
            continue;
        }
        while let Ok(note) = listener.recv().await {
            match serde_json::from_str::<Announced>(note.payload()) {
                Ok(a) => {
                    if !deliver(a) {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "an events notification without id and user_id")
                }
            }
        }
    }
}

/// Subscribes `queue` to the events whose type matches `pattern` (SQL LIKE, e.g.
/// `person_event.%`): each such event enqueues a job in the event's own transaction,
/// carrying `event_id`, `event_type`, `entity_type`, `entity_id` and acting for the
/// event's tenant; with `dedupe_by_entity`, one live job per entity.
pub async fn subscribe(
    pool: &PgPool,
    queue: &str,
    pattern: &str,
    dedupe_by_entity: bool,
) -> Result<(), crate::jobs::JobError> {
    crate::jobs::create_queue(pool, queue).await?;
    sqlx::query(
        "INSERT INTO event_subscriptions (queue, event_type_pattern, dedupe_by_entity) VALUES ($1, $2, $3)
         ON CONFLICT (queue, event_type_pattern) DO UPDATE SET dedupe_by_entity = EXCLUDED.dedupe_by_entity",
    )
    .bind(queue)
    .bind(pattern)
    .bind(dedupe_by_entity)
    .execute(pool)
    .await?;
    Ok(())
}
