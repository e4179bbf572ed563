//! Installation-wide services other parts build on: the `cache` table (002's
//! "cache for expensive operations", 003's Redis cache keys).

pub mod cache;
