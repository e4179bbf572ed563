//! The Instagram CRM's jobs: `crm.outreach.send`, every minute (UTC), sends the
//! outreach queue's due messages of every tenant that has some
//! (`everreach_core::crm::outreach::send_all_due`): per tenant, it claims what the
//! daily cap allows outside quiet hours and sends each claimed row in a transaction of
//! its own, through the outbox sender until the publishing issue brings Instagram's.
//! Two runs at once (a slow minute, two workers) never send a row twice.
//!
//! `crm.rescore` rescores every contact of the job's tenant
//! (`everreach_core::crm::score::rescore_tenant`): scores move with time alone, and
//! a new or changed fit signal applies to old messages too (a fit-signal write
//! queues it). `crm.rescore.nightly` (03:15 UTC) queues it for every tenant.

use everreach_core::crm::outreach::{self, OutboxSender};
use everreach_core::crm::score;
use everreach_core::db::tenant::{Actor, TenantTx};
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
    registry.register(
        score::RESCORE_QUEUE,
        handler(|ctx| async move {
            let user_id = ctx
                .job
                .user_id
                .ok_or_else(|| HandlerError::new("this job names no tenant (user_id)"))?;
            let contacts = score::rescore_tenant(&ctx.pool, user_id).await?;
            Ok(Some(json!({ "contacts": contacts })))
        }),
    )?;
    registry.register(
        score::NIGHTLY_QUEUE,
        handler(|ctx| async move {
            let tenants = rescore_everyone(&ctx.pool).await?;
            Ok(Some(json!({ "tenants": tenants })))
        }),
    )?;
    registry.schedule(score::NIGHTLY_QUEUE, "15 3 * * *", "UTC")?;
    Ok(())
}

/// Queues a rescore of every tenant that has contacts; returns how many.
pub async fn rescore_everyone(pool: &sqlx::PgPool) -> Result<usize, sqlx::Error> {
    let tenants: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT everreach_tenant_ids()")
        .fetch_all(pool)
        .await?;
    let mut queued = 0;
    for user_id in tenants {
        let mut tx = TenantTx::begin_as(pool, user_id, Actor::Worker).await?;
        let has: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM instagram_contacts WHERE user_id = $1)",
        )
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
        if has {
            score::enqueue_rescore(&mut tx).await?;
            queued += 1;
        }
        tx.commit().await?;
    }
    Ok(queued)
}
