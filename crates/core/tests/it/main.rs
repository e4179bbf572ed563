//! Integration tests of everreach-core against real PostgreSQL (see everreach-testkit).
#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a panic is a failed assertion with its line"
)]

mod accounts;
mod crm;
mod insights;
mod mail_bulk;
mod mailer;
mod people;
mod schema;
mod secrets;
mod segments;
mod segments_live;
mod tenancy;

/// Fills every tenant table with rows of `user_id`, through the app role.
pub async fn fill_tenant_tables(db: &everreach_testkit::TestDb, user_id: uuid::Uuid) {
    db.fill_tenant_tables(user_id).await;
}
