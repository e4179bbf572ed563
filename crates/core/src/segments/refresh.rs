//! Keeping every segment current without anyone asking: the `segments.refresh` job
//! refreshes all of one tenant's segments (each in a transaction of its own: a full
//! diff, then its insights recomputed), and `segments.refresh.hourly` (minute 7 of
//! every hour, UTC) queues that job for each tenant that has segments. Between
//! those runs, the people-insights job refreshes every segment for the people an
//! event touched (`store::refresh_people`, in the transaction that recomputes their
//! insights), so a new event moves its person in or out within seconds, and every
//! CRM rescore (a contact edit, a DM, the nightly run: `crm::score::rescore`) does
//! the same for its contacts' people; the hourly run catches what time alone changes
//! ("active in the last 30 days").

use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::Scope;
use super::{insights, store};
use crate::db::tenant::{Actor, TenantTx};
use crate::error::DomainResult;
use crate::jobs::{self, JobError, SendOptions};

/// The queue of one tenant's full refresh (created by the runner).
pub const QUEUE: &str = "segments.refresh";
/// The hourly queue that fans out to [`QUEUE`] (created by the runner).
pub const HOURLY_QUEUE: &str = "segments.refresh.hourly";
/// When the hourly fan-out runs (cron, UTC).
pub const HOURLY_CRON: &str = "7 * * * *";

/// What a tenant's refresh did.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct TenantRefresh {
    pub segments: usize,
    pub entered: u64,
    pub left: u64,
}

/// Queues a full refresh of the transaction's tenant (one job per tenant in the
/// queue at a time: a second ask while one waits is the same job).
pub async fn enqueue(tx: &mut TenantTx) -> Result<(), sqlx::Error> {
    let opts = SendOptions {
        user_id: Some(tx.user_id()),
        singleton_key: Some(format!("segments:{}", tx.user_id())),
        ..SendOptions::default()
    };
    jobs::send(tx, QUEUE, &json!({}), &opts)
        .await
        .map(|_| ())
        .map_err(|e| match e {
            JobError::Db(e) => e,
            other => sqlx::Error::Protocol(other.to_string()),
        })
}

/// Refreshes every segment of tenant `user_id`, one transaction per segment (its
/// members by a full diff, then its insights); a segment deleted meanwhile is
/// skipped.
pub async fn refresh_tenant(pool: &sqlx::PgPool, user_id: Uuid) -> DomainResult<TenantRefresh> {
    let mut tx = TenantTx::begin_as(pool, user_id, Actor::Worker).await?;
    let ids = store::ids(&mut tx).await?;
    tx.commit().await?;
    let mut done = TenantRefresh::default();
    for id in ids {
        let mut tx = TenantTx::begin_as(pool, user_id, Actor::Worker).await?;
        match store::refresh(&mut tx, id, Scope::All).await {
            Ok(r) => {
                insights::recompute(&mut tx, id).await?;
                tx.commit().await?;
                done.segments += 1;
                done.entered += r.entered;
                done.left += r.left;
            }
            Err(crate::error::DomainError::NotFound) => tx.rollback().await?,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Queues [`QUEUE`] for every tenant that has segments; returns how many.
pub async fn enqueue_everyone(pool: &sqlx::PgPool) -> Result<usize, sqlx::Error> {
    let tenants: Vec<Uuid> = sqlx::query_scalar("SELECT everreach_tenant_ids()")
        .fetch_all(pool)
        .await?;
    let mut queued = 0;
    for user_id in tenants {
        let mut tx = TenantTx::begin_as(pool, user_id, Actor::Worker).await?;
        let has: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM segments WHERE user_id = $1)")
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
        if has {
            enqueue(&mut tx).await?;
            queued += 1;
        }
        tx.commit().await?;
    }
    Ok(queued)
}
