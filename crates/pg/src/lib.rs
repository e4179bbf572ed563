//! The embedded PostgreSQL cluster that EverReach runs when no `DATABASE_URL` is set.
//!
//! It owns everything between "a data directory path" and "a running server on a
//! private Unix socket": finding (or fetching) PostgreSQL 18 + pgvector binaries
//! ([`binaries`]), choosing the unprivileged OS user the server runs as when we are
//! root ([`os_user`]), `initdb`, start, stop and crash recovery ([`cluster`]), and
//! the lock file that makes one process the manager while the others connect as
//! clients. It is synchronous on purpose: the server is spawned from a thread that
//! lives as long as the process (the parent-death signal is per thread), before any
//! async runtime exists.
//!
//! What was seen on this kind of machine, and why the code looks the way it does, is
//! written down in `../shared/DESIGN.md` ("The embedded cluster").

pub mod binaries;
pub mod cluster;
mod error;
pub mod os_user;

pub use binaries::{Binaries, PINNED_WHEEL_VERSION};
pub use cluster::{Cluster, ClusterOptions, Connection, Role};
pub use error::PgError;
