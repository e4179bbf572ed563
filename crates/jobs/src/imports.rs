//! The imports' job: `imports.run` runs one uploaded import
//! (`everreach_core::imports::store::run`) — the file written out from the database,
//! imported by its kind's importer with its progress recorded on the row, the report
//! stored. One run at a time per worker: an import already works in batches, and two
//! large ones at once would only compete for the same two cores.

use everreach_core::imports::store;
use serde_json::json;

use crate::handler::{HandlerError, handler};
use crate::runner::{QueueOptions, Registry};

/// Adds the imports' handler to `registry`.
pub fn register(registry: &mut Registry) -> Result<(), everreach_core::jobs::JobError> {
    registry.register_with(
        store::QUEUE,
        handler(|ctx| async move {
            let user_id = ctx
                .job
                .user_id
                .ok_or_else(|| HandlerError::new("this job names no tenant (user_id)"))?;
            let id: uuid::Uuid = ctx
                .data()
                .get("import_id")
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| HandlerError::new("an imports.run job carries import_id"))?;
            let view = store::run(&ctx.pool, user_id, id).await?;
            Ok(Some(json!({ "import_id": id, "status": view.status })))
        }),
        QueueOptions {
            loops: 1,
            batch_size: 1,
            parallel: 1,
        },
    )?;
    Ok(())
}
