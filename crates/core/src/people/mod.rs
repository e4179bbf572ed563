//! The people graph (seed 000): one record per human (`people`), every way we see
//! them on a channel (`identities`), what they did (`person_events`), what we sent
//! them (`outbound_messages`) and what we make of it (`person_insights`).
//!
//! This is the domain later ones copy (recipe in docs/ARCHITECTURE.md):
//! - `model.rs` and `handle.rs`: the types and pure rules (checks, normalisation),
//!   unit-tested beside them; no database.
//! - `store.rs`: SQL, tenant id first, inside the caller's transaction.
//! - one service file per capability (`ingest`, `timeline`, `merge`, `suggest`,
//!   `outbound`, `rights`, `insights`) composing store calls into one transaction's
//!   worth of work; the API and CLI call these, never the store directly.

pub mod handle;
pub mod ingest;
pub mod insights;
pub mod match_keys;
pub mod merge;
pub mod model;
pub mod outbound;
pub mod references;
pub mod rights;
pub mod rules;
pub mod search;
pub mod store;
pub mod suggest;
pub mod timeline;
pub mod tracking;

pub use handle::{Channel, HandleError, normalize_handle};
