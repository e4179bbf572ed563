//! Installation-wide services other parts build on: the event store (002's `events`
//! and `log_event()`) and the `cache` table (002's "cache for expensive operations",
//! 003's Redis cache keys).

pub mod cache;
pub mod events;
