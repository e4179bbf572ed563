//! The Instagram DM CRM (seed 001): contacts (`instagram_contacts`, each linked to
//! its person through an `instagram` identity), their conversations and messages,
//! the user's own automation patterns, next-best-action templates and fit signals
//! (seeded per user, DESIGN §9), and the outreach queue.
//!
//! Laid out as the people graph is (docs/ARCHITECTURE.md, "Adding a domain"):
//! - `seed.rs`: 001's pattern, template and fit-signal rows and the idempotent
//!   seeding that sign-up and `everreach seed-patterns` run.
//! - `model.rs`: a DM as sent and its checks; `patterns.rs`: the skip and spam
//!   patterns as ingestion applies them (both pure, unit-tested).
//! - `dm.rs`: DM ingestion — contacts, conversations, messages, and their person
//!   events on the people graph.
//! - `revio.rs` (the five components, the score, the stage), `fit.rs` (fit signals
//!   in messages), `nba.rs` (lanes and the next best action): pure, each formula
//!   unit-tested and written out in docs/SCORING.md; `score.rs` runs them against
//!   the database (rescoring after every write, the score explained, the suggestion).
//! - `rules.rs`: what the generic resources must apply to the CRM's tables.
//! - `queries.rs`: 001's documented queries (health, needing attention, weekly
//!   tasks, message search, active fit signals).
//! - `today.rs` and `inbox.rs`: what the Today and Inbox pages read and do (replies
//!   within Instagram's 24-hour window, recorded through ingestion).
//! - `library.rs`: the templates, fit signals and patterns as the Patterns and
//!   templates page lists them (changes go through the generic resources).
//! - `outreach.rs`: the outreach queue — its state machine, daily caps and quiet
//!   hours in the user's zone (pure, unit-tested), queueing, cancelling and retrying,
//!   and the sender (a trait; the outbox sender records the DM through `dm.rs`).

pub mod dm;
pub mod fit;
pub mod inbox;
pub mod library;
pub mod model;
pub mod nba;
pub mod outreach;
pub mod patterns;
pub mod queries;
pub mod revio;
pub mod rules;
pub mod score;
pub mod seed;
pub mod today;
