//! The job runner: what turns rows of the `jobs` table into work done.
//!
//! A [`Registry`] maps queue names to handlers (one file per job kind, in `jobs/`,
//! as domains add them); the [`Runner`] runs, per queue, `concurrency` loops that
//! each claim a batch with `FOR UPDATE SKIP LOCKED`, run the handlers, and complete
//! or fail the batch in one statement each. Loops sleep on LISTEN/NOTIFY (channel
//! `jobs`, sent by `send` when its transaction commits) with a slow poll as the safety
//! net; a sweeper expires jobs whose worker died; shutdown stops fetching and waits a
//! bounded time for the jobs in hand. Handlers must be idempotent: a job whose worker
//! dies mid-way runs again after `expire_in`.

pub mod crm;
pub mod cron;
mod handler;
pub mod imports;
pub mod maintenance;
pub mod people;
mod runner;
pub mod scheduler;
pub mod segments;

pub use handler::{Handler, HandlerError, JobContext, handler};
pub use runner::{QueueOptions, Registry, Runner, RunnerHandle, RunnerOptions};
