//! EverReach's domain and data access, with no HTTP in it.
//!
//! - [`config`]: the one typed configuration, read once from the environment.
//! - [`db`]: where the database is (embedded cluster or `DATABASE_URL`), the two
//!   connection pools (schema owner for migrations, the RLS-bound app role for
//!   everything else), migrations, and the tenant transaction every request runs in.
//! - [`secrets`]: AES-256-GCM encryption of every token and secret column.
//!
//! - [`error`]: [`DomainError`], what every domain service returns.
//! - [`json`]: what client JSON must be to be stored and read back intact.
//! - [`segments`]: the segment definition language, parsed and compiled to SQL.
//!
//! Domains (people, crm, mail, content, studio, publishing, ai, platform) get one
//! folder each: `model.rs` (inputs and pure rules), `store.rs` (shared SQL) and one
//! file per capability; see docs/ARCHITECTURE.md's recipe.

pub mod accounts;
pub mod audit;
pub mod config;
pub mod crm;
pub mod db;
pub mod error;
pub mod imports;
pub mod jobs;
pub mod json;
pub mod people;
pub mod platform;
pub mod resources;
pub mod secrets;
pub mod segments;

pub use config::Config;
pub use error::{DomainError, DomainResult};
