//! Integration tests of everreach-core against real PostgreSQL (see everreach-testkit).
#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a panic is a failed assertion with its line"
)]

mod schema;
mod secrets;
mod tenancy;

/// The fixture that puts one row in every tenant table for `user_id`.
pub fn tenant_rows_sql(user_id: uuid::Uuid) -> String {
    include_str!("../fixtures/one_row_per_tenant_table.sql")
        .replace("{{user_id}}", &user_id.to_string())
}

/// Fills every tenant table with rows of `user_id`, through the app role.
pub async fn fill_tenant_tables(db: &everreach_testkit::TestDb, user_id: uuid::Uuid) {
    let mut tx = everreach_core::db::tenant::begin(&db.app, user_id)
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(tenant_rows_sql(user_id)))
        .execute(&mut *tx)
        .await
        .expect("the tenant-row fixture applies through the app role");
    tx.commit().await.unwrap();
}
