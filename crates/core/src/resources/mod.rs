//! Seed tables as API resources: list, create, get, patch and delete for every table a
//! user owns, with the same validation, pagination, auditing and tenant scoping.
//!
//! The column list, types, keys and constraints come from the database's own catalog
//! ([`catalog`]) at start, so the API can never drift from the migrations; which tables
//! are resources, and under which name, is the static list in [`catalog::RESOURCES`].
//! Input is checked against the column types before any SQL runs ([`validate`]);
//! what the database still refuses (a CHECK, a foreign key, a unique key) comes back
//! naming the field, through the constraint→column map of the catalog. Row rules a domain
//! owns (normalising identity handles) are applied by [`rules`]; domains that
//! need rules beyond a row (merging people, publishing) add their own endpoints beside
//! these.

pub mod catalog;
pub mod rules;
pub mod service;
pub mod validate;

pub use catalog::{Catalog, Column, ColumnType, Resource};
pub use service::{ListPage, ResourceError, Resources};
