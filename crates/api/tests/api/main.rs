//! The HTTP API as a client sees it, on real PostgreSQL: each test gets its own
//! database and app, and drives the router in-process.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a panic is a failed assertion with its line"
)]

mod accounts;
mod company;
mod conventions;
mod crm;
mod crm_outreach;
mod crm_queries;
mod crm_score;
mod domains;
mod events;
mod helpers;
mod imports;
mod jobs;
mod openapi;
mod people;
mod people_domain;
mod people_find;
mod resources;
mod secrets_at_rest;
mod segments;
