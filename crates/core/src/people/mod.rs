//! The people graph (seed 000): one record per human (`people`), every way we see
//! them on a channel (`identities`), what they did (`person_events`), what we sent
//! them (`outbound_messages`) and what we make of it (`person_insights`), plus the
//! merge record, match keys and candidates, and "not the same person" answers.
//!
//! This is the domain later ones copy (recipe in docs/ARCHITECTURE.md):
//! - `model.rs`, `handle.rs`: every input type and the pure rules (checks,
//!   normalisation), unit-tested beside them; no database. `rules.rs`: the rules
//!   the generic resources apply to `people` and `identities`.
//! - one file per capability, each taking `&mut TenantTx` and returning
//!   `DomainResult`: `ingest` (and deleting an event), `timeline`, `merge`,
//!   `suggest` (suggestions, "not the same person"), `match_keys` (the incremental
//!   index behind suggestions and search), `search`, `outbound`, `tracking`,
//!   `rights` (export, erase), `references` (foreign keys held against merge and
//!   erase), `insights` (recompute) with its pure parts `lens` (a person's
//!   events summed up), `interests` (TF-IDF terms), `tone` and `text` (words,
//!   stop words, emoji, language), `cadence` (keep-in-touch cadences come due).
//! - `store.rs`: ingestion's bulk statements and the ones several files share.

pub mod cadence;
pub mod handle;
pub mod ingest;
pub mod insights;
pub mod interests;
pub mod lens;
pub mod match_keys;
pub mod merge;
pub mod model;
pub mod outbound;
pub mod profile;
pub mod references;
pub mod rights;
pub mod rules;
pub mod search;
pub mod store;
pub mod suggest;
pub mod text;
pub mod timeline;
pub mod tone;
pub mod tracking;
pub mod views;

pub use handle::{Channel, HandleError, normalize_handle};
