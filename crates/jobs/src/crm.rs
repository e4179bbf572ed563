//! The Instagram CRM's jobs: `crm.outreach.send`, every minute (UTC), sends the
//! outreach queue's due messages of every tenant that has some
//! (`everreach_core::crm::outreach::send_all_due`): per tenant, it claims what the
//! daily cap allows outside quiet hours and sends each claimed row in a transaction of
//! its own, through the outbox sender until the publishing issue brings Instagram's.
//! Two runs at once (a slow minute, two workers) never send a row twice.

use everreach_core::crm::outreach::{self, OutboxSender};
use serde_json::json;

use crate::handler::{HandlerError, handler};
use crate::runner::{QueueOptions, Registry};

/// Adds the CRM's handlers and schedules to `registry`.
pub fn register(registry: &mut Registry) -> Result<(), everreach_core::jobs::JobError> {
    registry.register_with(
        outreach::QUEUE,
        handler(|ctx| async move {
            let summary = outreach::send_all_due(&ctx.pool, &OutboxSender, chrono::Utc::now())
                .await
                .map_err(HandlerError::from)?;
            Ok(Some(json!(summary)))
        }),
        // one run at a time per process: a run covers every tenant
        QueueOptions {
            loops: 1,
            batch_size: 1,
            parallel: 1,
        },
    )?;
    registry.schedule(outreach::QUEUE, "* * * * *", "UTC")?;
    Ok(())
}
