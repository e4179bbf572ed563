//! The people graph's jobs: `people.insights` widens the seen times of the identities
//! a write named and recomputes the insights of the people it touched
//! (`everreach_core::people::insights`), in their tenant's transaction, skipping
//! those already recomputed since that write.

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
            let mut tx = ctx.tenant_tx().await?;
            let done = insights::run(&mut tx, user_id, &job, &seen).await?;
            tx.commit().await?;
            Ok(Some(json!({
                "people": done.people,
                "identities_seen": seen.len(),
                "recomputed": done.recomputed,
            })))
        }),
    )?;
    Ok(())
}
