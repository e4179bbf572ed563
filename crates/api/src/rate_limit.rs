//! In-process rate limits per caller and route class (003's
//! `rate_limit:{user_id}:{endpoint}`): a token bucket per key that refills at the
//! class's per-minute rate. Over the limit the answer is 429 with `Retry-After`.
//! Several API nodes would share them through Redis (DESIGN "Caching, rate limits").

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Sign-up, sign-in, e-mail links: per client address.
    Auth,
    Read,
    Write,
}

/// Requests per minute for each class.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub auth_per_minute: u32,
    pub read_per_minute: u32,
    pub write_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            auth_per_minute: 30,
            read_per_minute: 6000,
            write_per_minute: 1200,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

#[derive(Debug)]
pub struct RateLimiter {
    limits: Limits,
    buckets: Mutex<HashMap<(String, Class), Bucket>>,
}

/// Beyond this many keys, full buckets (idle callers) are dropped.
const PRUNE_AT: usize = 100_000;

impl RateLimiter {
    pub fn new(limits: Limits) -> RateLimiter {
        RateLimiter {
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn per_minute(&self, class: Class) -> f64 {
        f64::from(match class {
            Class::Auth => self.limits.auth_per_minute,
            Class::Read => self.limits.read_per_minute,
            Class::Write => self.limits.write_per_minute,
        })
    }

    /// Takes one request from `key`'s bucket, or says how long to wait.
    pub fn check(&self, key: &str, class: Class) -> Result<(), ApiError> {
        let capacity = self.per_minute(class).max(1.0);
        let per_second = capacity / 60.0;
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > PRUNE_AT {
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * per_second < capacity
            });
        }
        let bucket = buckets.entry((key.to_string(), class)).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let refill = now.duration_since(bucket.updated).as_secs_f64() * per_second;
        bucket.tokens = (bucket.tokens + refill).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - bucket.tokens) / per_second).ceil().max(1.0);
        Err(ApiError::TooManyRequests {
            retry_after_secs: wait as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_holds_per_key_and_class_and_says_when_to_retry() {
        let limiter = RateLimiter::new(Limits {
            auth_per_minute: 2,
            read_per_minute: 3,
            write_per_minute: 1,
        });
        for _ in 0..3 {
            limiter.check("alice", Class::Read).unwrap();
        }
        match limiter.check("alice", Class::Read) {
            Err(ApiError::TooManyRequests { retry_after_secs }) => {
                assert!((1..=20).contains(&retry_after_secs))
            }
            other => panic!("expected 429, got {other:?}"),
        }
        limiter.check("bob", Class::Read).unwrap();
        limiter.check("alice", Class::Write).unwrap();
        assert!(limiter.check("alice", Class::Write).is_err());
    }
}
