//! The segments' jobs (`everreach_core::segments::refresh`): `segments.refresh`
//! refreshes one tenant's segments and their insights; `segments.refresh.hourly`
//! queues it for every tenant that has segments, at minute 7 of each hour (UTC).

use everreach_core::segments::refresh;
use serde_json::json;

use crate::handler::{HandlerError, handler};
use crate::runner::Registry;

/// Adds the segments' handlers and schedule to `registry`.
pub fn register(registry: &mut Registry) -> Result<(), everreach_core::jobs::JobError> {
    registry.register(
        refresh::QUEUE,
        handler(|ctx| async move {
            let user_id = ctx
                .job
                .user_id
                .ok_or_else(|| HandlerError::new("this job names no tenant (user_id)"))?;
            let done = refresh::refresh_tenant(&ctx.pool, user_id).await?;
            Ok(Some(json!(done)))
        }),
    )?;
    registry.register(
        refresh::HOURLY_QUEUE,
        handler(|ctx| async move {
            let tenants = refresh::enqueue_everyone(&ctx.pool).await?;
            Ok(Some(json!({ "tenants": tenants })))
        }),
    )?;
    registry.schedule(refresh::HOURLY_QUEUE, refresh::HOURLY_CRON, "UTC")?;
    Ok(())
}
