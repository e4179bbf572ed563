//! Segments (seed 000's `segments`, `segment_members`, `segment_insights`; issue
//! 15): the JSON language that says who is in a segment, its compiler to SQL, the
//! store that keeps members current, and the insights of who is in one. The
//! language and compiler are pure; `store.rs` and `insights.rs` build on [`parse`]
//! and [`compile`].
//!
//! A definition is one node: `{"all": [...]}`, `{"any": [...]}` (both non-empty),
//! `{"not": node}`, or a predicate — a field of the person, their insights or their
//! Instagram contact (`{"field": "insight.warmth", "op": "gte", "value": 60}`), an
//! identity (`{"identity": {"channel": "instagram"}}`), events
//! (`{"event": {"type": "dm_reply", "within": "last 30 days"}}`), outcomes of our
//! messages (`{"outbound": {"outcome": "opened", "variant": "B"}}`) or membership of
//! another segment (`{"segment": "<id>"}`). docs/SEGMENTS.md is the reference.
//!
//! - `dsl.rs` (+ `dsl/values.rs`, `dsl/predicates.rs`): the syntax tree and
//!   [`parse`], which refuses unknown keys, fields and operators, wrong value
//!   types, values outside the schema's CHECK lists, bad windows and oversized
//!   definitions, each error at the JSON pointer of the bad node.
//! - `fields.rs`: the allowlist of fields, their tables, columns and kinds.
//! - `time.rs`: windows (`"last 30 days"`) and moments (`"90 days ago"`).
//! - `compile.rs` (+ `compile/predicates.rs`): [`compile`] to one parameterised
//!   query (`SELECT p.id FROM people p WHERE p.user_id = $1 AND …`), other
//!   segments inlined and cycles refused; [`Compiled::fetch_ids`] and
//!   [`Compiled::count`] run it.
//! - `schema.rs`: [`json_schema`], the language as a JSON Schema (2020-12).
//! - `store.rs`: segments saved, their members refreshed by a diff (all, or a few
//!   people after their events); `insights.rs`: the organic and paid insights rows;
//!   `refresh.rs`: the jobs that keep both current.

pub mod compile;
pub mod dsl;
pub mod fields;
pub mod insights;
pub mod refresh;
pub mod schema;
pub mod store;
pub mod time;

#[cfg(test)]
mod tests;

pub use compile::{Compiled, Param, Scope, compile, compile_segment};
pub use dsl::{Definition, DefinitionError, Node, parse};
pub use schema::json_schema;
