//! EverReach's domain and data access, with no HTTP in it.
//!
//! - [`config`]: the one typed configuration, read once from the environment.
//! - [`db`]: where the database is (embedded cluster or `DATABASE_URL`), the two
//!   connection pools (schema owner for migrations, the RLS-bound app role for
//!   everything else), migrations, and the tenant transaction every request runs in.
//! - [`secrets`]: AES-256-GCM encryption of every token and secret column.
//!
//! Domains (people, crm, mail, content, studio, publishing, ai, platform) get one
//! folder each with `model.rs`, `store.rs` and `service.rs`; see docs/ARCHITECTURE.md.

pub mod accounts;
pub mod audit;
pub mod config;
pub mod db;
pub mod error;
pub mod jobs;
pub mod people;
pub mod platform;
pub mod resources;
pub mod secrets;

pub use config::Config;
pub use error::{DomainError, DomainResult};
