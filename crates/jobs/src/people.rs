//! The people graph's jobs: `people.insights` recomputes the insights of the people
//! a write touched (`everreach_core::people::insights`), in their tenant's
//! transaction, skipping those already recomputed since that write.

use everreach_core::people::insights;
use serde_json::json;
use uuid::Uuid;

use crate::handler::{HandlerError, handler};
use crate::runner::Registry;

/// Adds the people handlers to `registry`.
pub fn register(registry: &mut Registry) -> Result<(), everreach_core::jobs::JobError> {
    registry.register(
        insights::QUEUE,
        handler(|ctx| async move {
            let data = ctx.data();
            let people: Vec<Uuid> = data
                .get("person_ids")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .ok_or_else(|| HandlerError::new("the job's data has no person_ids array"))?;
            let after_xid = data
                .get("after_xid")
                .and_then(|v| v.as_i64())
                .ok_or_else(|| HandlerError::new("the job's data has no after_xid"))?;
            let user_id = ctx
                .job
                .user_id
                .ok_or_else(|| HandlerError::new("this job names no tenant (user_id)"))?;
            let mut tx = ctx.tenant_tx().await?;
            let recomputed =
                insights::recompute_stale(&mut tx, user_id, &people, after_xid).await?;
            tx.commit().await?;
            Ok(Some(
                json!({ "people": people.len(), "recomputed": recomputed }),
            ))
        }),
    )?;
    Ok(())
}
