//! The people graph's jobs: `people.insights` recomputes one person's insights
//! (`everreach_core::people::insights`) in their tenant's transaction. Queued,
//! deduplicated per person, by ingestion and merges.

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
            let person_id: Uuid = ctx
                .data()
                .get("person_id")
                .and_then(|v| v.as_str())
                .and_then(|v| Uuid::parse_str(v).ok())
                .ok_or_else(|| HandlerError::new("the job's data has no person_id"))?;
            let user_id = ctx
                .job
                .user_id
                .ok_or_else(|| HandlerError::new("this job names no tenant (user_id)"))?;
            let mut tx = ctx.tenant_tx().await?;
            let found = insights::recompute(&mut tx, user_id, person_id).await?;
            tx.commit().await?;
            Ok(Some(json!({ "person_id": person_id, "recomputed": found })))
        }),
    )?;
    Ok(())
}
