//! The people graph (seed 000): one record per human (`people`), every way we see
//! them on a channel (`identities`), and what they did (`person_events`).
//!
//! This module is the pattern later domains copy: `model.rs` holds the newtypes and
//! pure rules (here: how a handle is normalised per channel), with unit tests beside
//! them; data access and services follow in `store.rs` and `service.rs`.

pub mod handle;
pub mod store;

pub use handle::{Channel, HandleError, normalize_handle};
