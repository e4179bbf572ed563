//! The installation's own upkeep, as scheduled jobs: monthly partitions made ahead
//! of the rows that need them, expired cache entries and finished jobs past
//! `keep_until` removed, and expired credentials (idempotency keys, sessions,
//! verification and reset links, invitations, outbox mail) purged.

use serde_json::json;
use sqlx::PgPool;

use crate::handler::{HandlerError, handler};
use crate::runner::{QueueOptions, Registry};

pub const PARTITIONS: &str = "maintenance.partitions";
pub const CACHE: &str = "maintenance.cache";
pub const JOBS: &str = "maintenance.jobs";
pub const CREDENTIALS: &str = "maintenance.credentials";

/// Deletes expired idempotency keys, sessions, e-mail verification and password
/// reset links, invitations and outbox mail; how many of each.
pub async fn purge_credentials(pool: &PgPool) -> Result<serde_json::Value, sqlx::Error> {
    sqlx::query_scalar("SELECT purge_expired_credentials()")
        .fetch_one(pool)
        .await
}

/// Creates the monthly partitions of every partitioned table for last month through
/// three months ahead; returns how many were new.
pub async fn upkeep_partitions(pool: &PgPool) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT create_monthly_partitions((date_trunc('month', now()) - interval '1 month')::date,
                                          (date_trunc('month', now()) + interval '3 months')::date)",
    )
    .fetch_one(pool)
    .await
}

/// Deletes expired cache entries; returns how many.
pub async fn purge_cache(pool: &PgPool) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM cache WHERE expires_at < now()")
        .execute(pool)
        .await?
        .rows_affected())
}

/// Deletes finished jobs past `keep_until`, in chunks; returns how many.
pub async fn purge_jobs(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    loop {
        let n = everreach_core::jobs::purge(pool, 10_000).await?;
        total += n;
        if n < 10_000 {
            return Ok(total);
        }
    }
}

/// Adds the maintenance handlers to `registry` (one loop each: they are rare) and
/// their schedules (UTC): partitions nightly, cache every 5 minutes, job history
/// every 10 minutes, expired credentials every 15 minutes.
pub fn register(registry: &mut Registry) -> Result<(), everreach_core::jobs::JobError> {
    let once = QueueOptions {
        loops: 1,
        batch_size: 1,
        parallel: 1,
    };
    registry.register_with(
        PARTITIONS,
        handler(|ctx| async move {
            Ok(Some(
                json!({ "created": upkeep_partitions(&ctx.pool).await? }),
            ))
        }),
        once,
    )?;
    registry.register_with(
        CACHE,
        handler(|ctx| async move { Ok(Some(json!({ "deleted": purge_cache(&ctx.pool).await? }))) }),
        once,
    )?;
    registry.register_with(
        JOBS,
        handler(|ctx| async move {
            let deleted = purge_jobs(&ctx.pool).await.map_err(HandlerError::from)?;
            Ok(Some(json!({ "deleted": deleted })))
        }),
        once,
    )?;
    registry.register_with(
        CREDENTIALS,
        handler(|ctx| async move { Ok(Some(purge_credentials(&ctx.pool).await?)) }),
        once,
    )?;
    registry
        .schedule(PARTITIONS, "15 0 * * *", "UTC")?
        .schedule(CREDENTIALS, "*/15 * * * *", "UTC")?
        .schedule(CACHE, "*/5 * * * *", "UTC")?
        .schedule(JOBS, "*/10 * * * *", "UTC")?;
    Ok(())
}
