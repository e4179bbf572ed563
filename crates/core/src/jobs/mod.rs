//! 002's `jobs` table with pg-boss semantics: the queue's data access, used by every
//! part of the program that wants work done later (`send` inside the caller's own
//! transaction, so a job exists only if the write that asked for it committed) and by
//! the runner in `crates/jobs` (fetch, complete, fail, expire, purge).
//!
//! States, as pg-boss names them: `created → active → completed`; a failure goes to
//! `retry` (after a backoff) until `retry_limit`, then `failed`; an active job past
//! `expire_in` is retried the same way or ends `expired`; `cancelled` by hand. Live
//! jobs sit in the `jobs_queue` partition, finished ones in `jobs_history`, so history
//! never slows fetching.

pub mod admin;
pub mod model;
pub mod store;

pub use model::{Job, JobError, SendOptions};
pub use store::{
    cancel, complete, create_queue, expire, fail, fetch, purge, queue_depth, retry, send,
    send_many, send_now,
};
