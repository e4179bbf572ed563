//! Rate limits (003's `rate_limit:{user_id}:{endpoint}`), in process, with `governor`'s
//! keyed GCRA limiters: per client address for the public auth routes and (apart) the
//! public tracking routes, per account for
//! sign-in and password-reset mail, per user for reads and writes. Over a limit the
//! answer is 429 with `Retry-After`.
//!
//! - A client is its IP address; an IPv6 client counts per /64 (one host usually
//!   holds the whole /64, so per-address keys would give it 2^64 buckets).
//! - `X-Forwarded-For` is read only when the peer is a proxy named in
//!   `EVERREACH_TRUSTED_PROXIES` ([`TrustedProxies`]).
//! - Memory is bounded: each limiter keeps at most [`MAX_KEYS`] keys. Idle keys are
//!   dropped (at most once a second, when the table is full, and every minute); if
//!   it is still full, new keys share one overflow bucket, so a flood of addresses
//!   slows itself down instead of growing the table.
//!
//! Several API nodes would share them through Redis (DESIGN "Caching, rate limits").

use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::http::HeaderMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::ApiError;

/// The class of a signed-in user's request (the public routes count per client:
/// [`RateLimiter::check_client`], [`RateLimiter::check_public`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Read,
    Write,
}

/// Requests per minute for each class.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Public auth routes, per client address (IPv6: per /64).
    pub auth_per_minute: u32,
    /// Sign-in attempts and password-reset mails, per account (e-mail).
    pub account_per_minute: u32,
    /// The domains' public routes (tracking pixel and click), per client address.
    pub public_per_minute: u32,
    pub read_per_minute: u32,
    pub write_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            auth_per_minute: 30,
            account_per_minute: 10,
            public_per_minute: 600,
            read_per_minute: 6000,
            write_per_minute: 1200,
        }
    }
}

/// The most keys one limiter holds.
pub const MAX_KEYS: usize = 100_000;

/// One keyed limiter with its bound.
struct Bounded<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    /// When idle keys were last dropped (ms since `born`).
    last_sweep_ms: AtomicU64,
    overflow: K,
    max_keys: usize,
}

impl<K: Hash + Eq + Clone> Bounded<K> {
    fn new(per_minute: u32, overflow: K, max_keys: usize) -> Bounded<K> {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Bounded {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_minute(n)),
            last_sweep_ms: AtomicU64::new(0),
            overflow,
            max_keys,
        }
    }

    fn check(&self, key: K, born: Instant) -> Result<(), ApiError> {
        let now_ms = born.elapsed().as_millis() as u64;
        let last = self.last_sweep_ms.load(Ordering::Relaxed);
        // len() visits every shard: read it once per request, again only after a sweep
        let mut full = self.limiter.len() >= self.max_keys;
        let due =
            (full && now_ms.saturating_sub(last) >= 1_000) || now_ms.saturating_sub(last) >= 60_000;
        // one caller sweeps; the others go on
        if due
            && self
                .last_sweep_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
            full = self.limiter.len() >= self.max_keys;
        }
        let key = if full { self.overflow.clone() } else { key };
        self.limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::TooManyRequests {
                retry_after_secs: wait.as_secs().max(1),
            }
        })
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.limiter.len()
    }
}

pub struct RateLimiter {
    born: Instant,
    auth: Bounded<IpAddr>,
    public: Bounded<IpAddr>,
    account: Bounded<String>,
    read: Bounded<String>,
    write: Bounded<String>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter").finish_non_exhaustive()
    }
}

impl RateLimiter {
    pub fn new(limits: Limits) -> RateLimiter {
        RateLimiter::with_max_keys(limits, MAX_KEYS)
    }

    fn with_max_keys(limits: Limits, max_keys: usize) -> RateLimiter {
        let overflow = || "\0overflow".to_string();
        RateLimiter {
            born: Instant::now(),
            auth: Bounded::new(
                limits.auth_per_minute,
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                max_keys,
            ),
            public: Bounded::new(
                limits.public_per_minute,
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                max_keys,
            ),
            account: Bounded::new(limits.account_per_minute, overflow(), max_keys),
            read: Bounded::new(limits.read_per_minute, overflow(), max_keys),
            write: Bounded::new(limits.write_per_minute, overflow(), max_keys),
        }
    }

    /// Takes one request of a signed-in user.
    pub fn check(&self, key: &str, class: Class) -> Result<(), ApiError> {
        match class {
            Class::Read => self.read.check(key.to_string(), self.born),
            Class::Write => self.write.check(key.to_string(), self.born),
        }
    }

    /// Takes one request of a client address on the public auth routes.
    pub fn check_client(&self, client: IpAddr) -> Result<(), ApiError> {
        self.auth.check(client_key(client), self.born)
    }

    /// Takes one request of a client address on the domains' public routes.
    pub fn check_public(&self, client: IpAddr) -> Result<(), ApiError> {
        self.public.check(client_key(client), self.born)
    }

    /// Takes one sign-in attempt or reset mail of the account `email`.
    pub fn check_account(&self, email: &str) -> Result<(), ApiError> {
        self.account.check(email.trim().to_lowercase(), self.born)
    }
}

/// The key a client address counts under: IPv4 as is, IPv6 by its /64 (an IPv4-mapped
/// IPv6 address as the IPv4 address).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The proxies whose `X-Forwarded-For` is believed (`EVERREACH_TRUSTED_PROXIES`:
/// comma-separated addresses or CIDR blocks, e.g. `127.0.0.1,10.0.0.0/8`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    blocks: Vec<(IpAddr, u8)>,
}

impl TrustedProxies {
    /// Parses the list; the error names the entry and says what is expected.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        let mut blocks = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (addr, bits) = entry
                .split_once('/')
                .map_or((entry, None), |(a, b)| (a, Some(b)));
            let ip: IpAddr = addr.parse().map_err(|_| {
                format!("{entry:?} is not an IP address or CIDR block such as 10.0.0.0/8")
            })?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                None => max,
                Some(b) => b.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(|| {
                    format!("{entry:?} has a prefix length that is not 0 to {max}")
                })?,
            };
            blocks.push((ip, bits));
        }
        Ok(TrustedProxies { blocks })
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.blocks
            .iter()
            .any(|(net, bits)| in_block(ip, *net, *bits))
    }

    /// The client of a request that arrived from `peer`: `peer` itself, unless it is a
    /// trusted proxy; then the right-most `X-Forwarded-For` address that is not one.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse().ok())
            .collect();
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !self.trusts(*ip))
            .unwrap_or(peer)
    }
}

fn in_block(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (ip, net, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(a.to_bits()), u128::from(b.to_bits()), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (a.to_bits(), b.to_bits(), 128),
        (IpAddr::V6(a), IpAddr::V4(b)) => match a.to_ipv4_mapped() {
            Some(a) => (u128::from(a.to_bits()), u128::from(b.to_bits()), 32),
            None => return false,
        },
        _ => return false,
    };
    if bits == 0 {
        return true;
    }
    let shift = width - u32::from(bits);
    (ip >> shift) == (net >> shift)
}

/// The peer address of a connection, for requests served without one (tests).
pub fn peer_or_unspecified(peer: Option<SocketAddr>) -> IpAddr {
    peer.map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |p| p.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_holds_per_key_and_class_and_says_when_to_retry() {
        let limiter = RateLimiter::new(Limits {
            auth_per_minute: 2,
            account_per_minute: 1,
            public_per_minute: 1,
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
        limiter.check_account("Ada@Example.com").unwrap();
        assert!(limiter.check_account(" ada@example.com").is_err());
    }

    #[test]
    fn ipv6_clients_count_per_64_and_ipv4_per_address() {
        let limiter = RateLimiter::new(Limits {
            auth_per_minute: 2,
            ..Limits::default()
        });
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        limiter.check_client(a).unwrap();
        limiter.check_client(b).unwrap();
        assert!(limiter.check_client(a).is_err(), "same /64, third request");
        limiter.check_client(other).unwrap();
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        limiter.check_client(v4).unwrap();
        limiter.check_client(mapped).unwrap();
        assert!(limiter.check_client(v4).is_err());
        limiter.check_client("192.0.2.2".parse().unwrap()).unwrap();
    }

    #[test]
    fn the_key_table_stays_bounded_under_a_flood_of_addresses() {
        let limiter = RateLimiter::with_max_keys(
            Limits {
                auth_per_minute: 5,
                ..Limits::default()
            },
            1_000,
        );
        let mut refused = 0;
        for i in 0..20_000u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            if limiter.check_client(ip).is_err() {
                refused += 1;
            }
        }
        assert!(limiter.auth.len() <= 1_001, "{} keys", limiter.auth.len());
        // past the bound, new addresses share one bucket of 5
        assert!(refused >= 20_000 - 1_000 - 5, "{refused} refused");
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.7, 10.1.2.3".parse().unwrap());
        let proxy: IpAddr = "10.9.9.9".parse().unwrap();
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(
            proxies.client(proxy, &headers),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(proxies.client(stranger, &headers), stranger);
        assert_eq!(TrustedProxies::default().client(proxy, &headers), proxy);
        let err = TrustedProxies::parse("10.0.0.0/33").unwrap_err();
        assert!(err.contains("10.0.0.0/33"), "{err}");
        assert!(
            TrustedProxies::parse("proxy.example")
                .unwrap_err()
                .contains("proxy.example")
        );
    }
}
