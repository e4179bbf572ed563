//! Installation-wide services other parts build on: the event store (002's `events`
//! and `log_event()`) and the `cache` table (002's "cache for expensive operations",
//! 003's Redis cache keys), and the mailer of the installation's own mail (links to
//! verify, join, reset).

pub mod cache;
pub mod events;
pub mod mailer;
