//! The people graph's jobs: `people.insights` widens the seen times of the identities
//! a write named, then recomputes the insights of the people it touched
//! (`everreach_core::people::insights::run`), in their tenant's transactions,
//! skipping those already recomputed since that write. `people.insights.nightly`
//! (03:30 UTC) queues every tenant's people for that recompute, because warmth and
//! activity state decay with time alone. `people.match_keys` (queued by the insight
//! job for the people it was given) rebuilds their match keys and merge candidates
//! (`everreach_core::people::match_keys::refresh`).

use everreach_core::db::tenant::{Actor, TenantTx};
use everreach_core::people::insights::{self, Recompute};
use everreach_core::people::match_keys;
use serde_json::json;

use crate::handler::{HandlerError, handler};
use crate::runner::Registry;

/// Adds the people handlers to `registry`.
pub fn register(registry: &mut Registry) -> Result<(), everreach_core::jobs::JobError> {
    registry.register(
        insights::QUEUE,
        handler(|ctx| async move {
            let job: Recompute = serde_json::from_value(ctx.data().clone()).map_err(|e| {
                HandlerError::new(format!(
                    "the job's data is not a people.insights job ({e}): it needs person_ids and after_xid"
                ))
            })?;
            let seen = job.seen().map_err(HandlerError::new)?;
            let user_id = ctx
                .job
                .user_id
                .ok_or_else(|| HandlerError::new("this job names no tenant (user_id)"))?;
            let done = insights::run(&ctx.pool, user_id, Actor::Worker, &job, &seen).await?;
            Ok(Some(json!({
                "people": job.person_ids.len(),
                "identities_seen": seen.len(),
                "widened": done.widened,
                "recomputed": done.recomputed,
            })))
        }),
    )?;
    registry.register(
        insights::NIGHTLY_QUEUE,
        handler(|ctx| async move {
            let (tenants, people) = recompute_everyone(&ctx.pool).await?;
            Ok(Some(json!({ "tenants": tenants, "people": people })))
        }),
    )?;
    registry.schedule(insights::NIGHTLY_QUEUE, "30 3 * * *", "UTC")?;
    registry.register(
        match_keys::QUEUE,
        handler(|ctx| async move {
            let people: Vec<uuid::Uuid> = ctx
                .data()
                .get("person_ids")
                .cloned()
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| HandlerError::new(format!("person_ids is not a list of ids: {e}")))?
                .ok_or_else(|| HandlerError::new("a people.match_keys job lists person_ids"))?;
            let mut tx = ctx.tenant_tx().await?;
            let pairs = match_keys::refresh(&mut tx, &people).await?;
            tx.commit().await?;
            Ok(Some(
                json!({ "people": people.len(), "candidate_pairs": pairs }),
            ))
        }),
    )?;
    Ok(())
}

/// Queues every person of every tenant for an insight recompute, one tenant to a
/// transaction; returns `(tenants, people)`.
pub async fn recompute_everyone(pool: &sqlx::PgPool) -> Result<(usize, usize), sqlx::Error> {
    let tenants: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT everreach_tenant_ids()")
        .fetch_all(pool)
        .await?;
    let mut people = 0;
    for user_id in &tenants {
        let mut tx = TenantTx::begin_as(pool, *user_id, Actor::Worker).await?;
        people += insights::enqueue_everyone(&mut tx).await?;
        tx.commit().await?;
    }
    Ok((tenants.len(), people))
}
