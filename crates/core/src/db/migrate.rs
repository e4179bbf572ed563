//! Forward-only, timestamped SQL migrations from `migrations/`, embedded in the
//! binary and applied by `everreach migrate` and on `serve` start (each file in its
//! own transaction, under an advisory lock so two starting processes don't race).
//!
//! After every run we re-grant the app role on every table that is not a partition
//! (a partition has no policies of its own, so a grant on one would expose every
//! tenant) and make sure the months around now have their partitions.

use sqlx::PgPool;
use sqlx::migrate::Migrator;

use super::DbError;

pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

pub async fn run(admin: &PgPool) -> Result<(), DbError> {
    MIGRATOR.run(admin).await.map_err(classify)?;
    sqlx::query("SELECT everreach_grant_app()")
        .execute(admin)
        .await?;
    sqlx::query(
        "SELECT create_monthly_partitions((date_trunc('month', now()) - interval '1 month')::date, \
         (date_trunc('month', now()) + interval '3 months')::date)",
    )
    .execute(admin)
    .await?;
    Ok(())
}

/// Whether every embedded migration has been applied (for `/readyz`).
pub async fn is_current(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await?;
    Ok(applied.unwrap_or(0) >= latest)
}

fn classify(e: sqlx::migrate::MigrateError) -> DbError {
    let text = e.to_string();
    if text.contains("vector.control") || text.contains("extension \"vector\"") {
        return DbError::NoPgvector(text);
    }
    if text.contains("permission denied to create role")
        || text.contains("BYPASSRLS")
        || text.contains("everreach_definer")
    {
        return DbError::Roles(text);
    }
    DbError::Migrate(text)
}
