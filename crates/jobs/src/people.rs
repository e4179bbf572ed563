//! The people graph's jobs: `people.insights` widens the seen times of the identities
//! a write named, then recomputes the insights of the people it touched
//! (`everreach_core::people::insights::run`), in their tenant's transactions,
//! skipping those already recomputed since that write.

use everreach_core::db::tenant::Actor;
use everreach_core::people::insights::{self, Recompute};
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
    Ok(())
}
