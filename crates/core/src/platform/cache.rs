//! 002's `cache` table as a key/value cache with TTL, in PostgreSQL by default (003
//! names Redis keys such as `content:cache:{content_id}`; with one database, the
//! table serves and survives restarts; `maintenance.cache` deletes expired rows).
//!
//! The table is shared by all tenants: a key holding a tenant's data must name the
//! tenant (`tenant_key(user_id, …)`), and a value is only a copy of what the tenant
//! could read anyway — never a way around row-level security.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

/// Keys are `VARCHAR(255)`.
pub const MAX_KEY_LEN: usize = 255;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache key {0:?} is empty or longer than 255 bytes")]
    BadKey(String),
    #[error("the cached value does not fit the expected type: {0}")]
    Shape(#[from] serde_json::Error),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// `tenant:{user_id}:{parts…}` — the key of a tenant's cached data.
pub fn tenant_key(user_id: Uuid, parts: &[&str]) -> String {
    format!("tenant:{user_id}:{}", parts.join(":"))
}

fn check(key: &str) -> Result<(), CacheError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(CacheError::BadKey(key.to_string()));
    }
    Ok(())
}

/// The live value under `key`, if any.
pub async fn get<T: DeserializeOwned>(pool: &PgPool, key: &str) -> Result<Option<T>, CacheError> {
    check(key)?;
    let value: Option<Value> = sqlx::query_scalar(
        "SELECT value FROM cache WHERE key = $1 AND (expires_at IS NULL OR expires_at > now())",
    )
    .bind(key)
    .fetch_optional(pool)
    .await?;
    Ok(value.map(serde_json::from_value).transpose()?)
}

/// Stores `value` under `key` for `ttl` (None: until deleted).
pub async fn set<T: Serialize>(
    pool: &PgPool,
    key: &str,
    value: &T,
    ttl: Option<Duration>,
) -> Result<(), CacheError> {
    check(key)?;
    let value = serde_json::to_value(value)?;
    sqlx::query(
        "INSERT INTO cache (key, value, expires_at) VALUES ($1, $2, now() + $3)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at, created_at = now()",
    )
    .bind(key)
    .bind(value)
    .bind(ttl.map(|d| sqlx::postgres::types::PgInterval::try_from(d).unwrap_or_default()))
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn delete(pool: &PgPool, key: &str) -> Result<bool, CacheError> {
    check(key)?;
    Ok(sqlx::query("DELETE FROM cache WHERE key = $1")
        .bind(key)
        .execute(pool)
        .await?
        .rows_affected()
        == 1)
}

/// The cached value, or `compute`'s, stored for `ttl`.
pub async fn get_or_compute<T, F, Fut, E>(
    pool: &PgPool,
    key: &str,
    ttl: Duration,
    compute: F,
) -> Result<T, E>
where
    T: Serialize + DeserializeOwned,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: From<CacheError>,
{
    if let Some(hit) = get(pool, key).await? {
        return Ok(hit);
    }
    let value = compute().await?;
    set(pool, key, &value, Some(ttl)).await?;
    Ok(value)
}
