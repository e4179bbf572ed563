//! A job as the runner sees it, the options of `send`, and what can be refused.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

/// Largest payload accepted (serialised JSON).
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(
        "queue name {0:?} is not valid: use 1 to 100 characters of letters, digits, '.', '-', '_' or ':'"
    )]
    BadName(String),
    #[error(
        "the payload of a {name} job is {size} bytes; the limit is {MAX_PAYLOAD_BYTES} (1 MiB): store large data in a table and send its id"
    )]
    PayloadTooLarge { name: String, size: usize },
    #[error("{0}")]
    BadOption(String),
    #[error(
        "no queue named {0:?}: queues are created by the code that works them (jobs::create_queue)"
    )]
    UnknownQueue(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A fetched, now active, job.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub id: Uuid,
    pub name: String,
    pub data: Option<Value>,
    pub user_id: Option<Uuid>,
    pub priority: i32,
    pub retry_count: i32,
    pub retry_limit: i32,
    pub on_complete: bool,
    pub created_on: DateTime<Utc>,
    /// How long the job may stay active before it expires into a retry; the runner
    /// cancels a handler that runs longer.
    pub expire_in_seconds: f64,
}

/// pg-boss's send options; `Default` is pg-boss's defaults (and the seed's).
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// Higher runs first.
    pub priority: i32,
    /// Not before this time.
    pub start_after: Option<DateTime<Utc>>,
    /// At most one queued or active job of this queue with this key.
    pub singleton_key: Option<String>,
    pub retry_limit: i32,
    /// Seconds before a retry (the base of the backoff when `retry_backoff`).
    pub retry_delay: i32,
    /// Exponential backoff with jitter.
    pub retry_backoff: bool,
    /// How long a job may stay active before it counts as dead and is retried.
    pub expire_in_seconds: i64,
    /// How long a finished job is kept.
    pub keep_days: i64,
    /// Enqueue `__state__completed__<name>` carrying the output when it completes.
    pub on_complete: bool,
    /// The tenant the job acts for: its handler runs in that tenant's transaction.
    pub user_id: Option<Uuid>,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            priority: 0,
            start_after: None,
            singleton_key: None,
            retry_limit: 3,
            retry_delay: 0,
            retry_backoff: true,
            expire_in_seconds: 15 * 60,
            keep_days: 14,
            on_complete: false,
            user_id: None,
        }
    }
}

impl SendOptions {
    pub fn for_user(user_id: Uuid) -> SendOptions {
        SendOptions {
            user_id: Some(user_id),
            ..SendOptions::default()
        }
    }

    pub(crate) fn check(&self) -> Result<(), JobError> {
        if self.retry_limit < 0 || self.retry_delay < 0 {
            return Err(JobError::BadOption(
                "retry_limit and retry_delay must not be negative".into(),
            ));
        }
        if !(1..=7 * 24 * 3600).contains(&self.expire_in_seconds) {
            return Err(JobError::BadOption(
                "expire_in must be from 1 second to 7 days".into(),
            ));
        }
        if !(0..=3650).contains(&self.keep_days) {
            return Err(JobError::BadOption(
                "keep_until must be from 0 to 3650 days".into(),
            ));
        }
        if self
            .singleton_key
            .as_ref()
            .is_some_and(|k| k.is_empty() || k.chars().count() > 100)
        {
            return Err(JobError::BadOption(
                "singleton_key must be 1 to 100 characters".into(),
            ));
        }
        Ok(())
    }
}

/// A queue name: what pg-boss allows, and what fits the column.
pub fn check_name(name: &str) -> Result<(), JobError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'));
    if ok {
        Ok(())
    } else {
        Err(JobError::BadName(name.to_string()))
    }
}

/// The queue that receives a completed job's output when `on_complete` is set.
pub fn completion_queue(name: &str) -> String {
    format!("__state__completed__{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_options_are_checked() {
        assert!(check_name("insights.recompute").is_ok());
        for bad in ["", "has space", "semi;colon", &"x".repeat(101)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(SendOptions::default().check().is_ok());
        assert!(
            SendOptions {
                retry_limit: -1,
                ..SendOptions::default()
            }
            .check()
            .is_err()
        );
        assert!(
            SendOptions {
                expire_in_seconds: 0,
                ..SendOptions::default()
            }
            .check()
            .is_err()
        );
        assert_eq!(completion_queue("a"), "__state__completed__a");
    }
}
