//! What a job handler is and what it gets: the job, and a way into its tenant's
//! transaction (as the worker, so 004's rules let it move a post on).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use everreach_core::db::tenant::{self, Actor, TenantTx};
use everreach_core::jobs::Job;
use serde_json::Value;
use sqlx::PgPool;

/// A handler's failure: the job is retried (or fails) with this message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HandlerError(pub String);

impl HandlerError {
    pub fn new(message: impl Into<String>) -> HandlerError {
        HandlerError(message.into())
    }
}

impl From<sqlx::Error> for HandlerError {
    fn from(e: sqlx::Error) -> HandlerError {
        HandlerError(e.to_string())
    }
}

impl From<everreach_core::error::DomainError> for HandlerError {
    fn from(e: everreach_core::error::DomainError) -> HandlerError {
        HandlerError(e.to_string())
    }
}

/// The job being run, with the app pool.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub job: Job,
    pub pool: PgPool,
}

impl JobContext {
    pub fn data(&self) -> &Value {
        self.job.data.as_ref().unwrap_or(&Value::Null)
    }

    /// A transaction acting for the job's tenant as the worker; an error for a job
    /// that names no tenant (installation-wide work takes `pool` directly).
    pub async fn tenant_tx(&self) -> Result<TenantTx, HandlerError> {
        let user_id = self
            .job
            .user_id
            .ok_or_else(|| HandlerError::new("this job names no tenant (user_id)"))?;
        Ok(tenant::begin_as(&self.pool, user_id, Actor::Worker).await?)
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<Option<Value>, HandlerError>> + Send>>;

/// A job handler: takes the job, returns its output (stored on completion).
pub type Handler = Arc<dyn Fn(JobContext) -> BoxFuture + Send + Sync>;

/// Makes a [`Handler`] from an async function or closure.
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(JobContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<Value>, HandlerError>> + Send + 'static,
{
    Arc::new(move |ctx| Box::pin(f(ctx)))
}
