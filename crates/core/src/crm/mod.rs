//! The Instagram DM CRM (seed 001): contacts (`instagram_contacts`, each linked to
//! its person through an `instagram` identity), their conversations and messages,
//! the user's own automation patterns, next-best-action templates and fit signals
//! (seeded per user, DESIGN §9), and the outreach queue.
//!
//! Laid out as the people graph is (docs/ARCHITECTURE.md, "Adding a domain"):
//! - `seed.rs`: 001's pattern, template and fit-signal rows and the idempotent
//!   seeding that sign-up and `everreach seed-patterns` run.

pub mod seed;
