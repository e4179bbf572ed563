//! SQL of the people graph. Tenant id first; every function runs inside the caller's
//! tenant transaction.

use sqlx::PgConnection;
use uuid::Uuid;

use super::handle::Channel;

/// Who a `(channel, handle)` resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    pub person_id: Uuid,
    pub identity_id: i64,
    /// Whether this call created the person (and the identity).
    pub created: bool,
}

/// Finds the person behind `(channel, handle)` — `handle` already normalised — or
/// creates the person and the identity. Safe under concurrent ingestion of the same
/// new handle: `UNIQUE (user_id, channel, handle)` lets one transaction win, and the
/// others, having waited for it, take the winner's person and drop the person they
/// had started. Refreshes `last_seen_at` of an existing identity.
pub async fn resolve_identity(
    conn: &mut PgConnection,
    user_id: Uuid,
    channel: Channel,
    handle: &str,
) -> Result<Resolved, sqlx::Error> {
    if let Some(found) = find_identity(conn, user_id, channel, handle).await? {
        return Ok(found);
    }
    let person_id: Uuid =
        sqlx::query_scalar("INSERT INTO people (user_id) VALUES ($1) RETURNING id")
            .bind(user_id)
            .fetch_one(&mut *conn)
            .await?;
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO identities (user_id, person_id, channel, handle, first_seen_at, last_seen_at)
         VALUES ($1, $2, $3, $4, now(), now())
         ON CONFLICT (user_id, channel, handle) DO NOTHING RETURNING id",
    )
    .bind(user_id)
    .bind(person_id)
    .bind(channel.as_str())
    .bind(handle)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(identity_id) = inserted {
        return Ok(Resolved {
            person_id,
            identity_id,
            created: true,
        });
    }
    // Another transaction created it first (we waited for it to commit).
    sqlx::query("DELETE FROM people WHERE user_id = $1 AND id = $2")
        .bind(user_id)
        .bind(person_id)
        .execute(&mut *conn)
        .await?;
    find_identity(conn, user_id, channel, handle)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}

async fn find_identity(
    conn: &mut PgConnection,
    user_id: Uuid,
    channel: Channel,
    handle: &str,
) -> Result<Option<Resolved>, sqlx::Error> {
    let row: Option<(Uuid, i64)> = sqlx::query_as(
        "UPDATE identities SET last_seen_at = now()
          WHERE user_id = $1 AND channel = $2 AND handle = $3 AND person_id IS NOT NULL
         RETURNING person_id, id",
    )
    .bind(user_id)
    .bind(channel.as_str())
    .bind(handle)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(person_id, identity_id)| Resolved {
        person_id,
        identity_id,
        created: false,
    }))
}
