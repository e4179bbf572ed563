//! The integration-test harness: every test gets its own freshly migrated database on
//! real PostgreSQL — `DATABASE_URL` when set, otherwise a throwaway cluster started by
//! the same code as the embedded default (one per test binary, under /tmp).
//!
//! Migrating takes seconds, cloning a database a few milliseconds: the first test
//! migrates a template database (named by a hash of the migrations, so an unchanged
//! schema is reused across runs on an external server), and each test clones it.
//!
//! ```ignore
//! let db = TestDb::new().await;
//! let alice = db.create_user("alice@example.com").await;
//! let mut tx = everreach_core::db::tenant::begin(&db.app, alice).await?;
//! ```
#![expect(
    clippy::expect_used,
    reason = "a harness that cannot set up must fail the test loudly"
)]

pub mod files;
mod server;

use everreach_core::db::{Database, DbTarget};
use sqlx::PgPool;
use uuid::Uuid;

pub use server::server;

/// One test's database: the owner's pool and the RLS-bound application pool.
#[derive(Debug)]
pub struct TestDb {
    pub admin: PgPool,
    pub app: PgPool,
    pub target: DbTarget,
    pub name: String,
}

impl TestDb {
    /// A new database cloned from the migrated template.
    pub async fn new() -> TestDb {
        let server = server::server();
        let template = server::template(server).await;
        let name = format!("everreach_test_{}", Uuid::new_v4().simple());
        server::create_database(server, &name, Some(&template)).await;
        let target = server.target_for(&name);
        let admin = Database::connect_admin(&target)
            .await
            .expect("connect as owner");
        let app = Database::connect_app(&target)
            .await
            .expect("connect as app role");
        TestDb {
            admin,
            app,
            target,
            name,
        }
    }

    /// Signs up a user (with their personal company) through the same function the
    /// application uses, and returns their id.
    pub async fn create_user(&self, email: &str) -> Uuid {
        sqlx::query_scalar("SELECT sign_up_user($1, NULL, $2)")
            .bind(email)
            .bind(email.split('@').next().unwrap_or(email))
            .fetch_one(&self.app)
            .await
            .expect("sign up a user")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Dropping needs a connection of its own, and Drop cannot await: do it on a
        // short-lived thread with its own runtime. FORCE ends this test's connections.
        let name = self.name.clone();
        let _ = std::thread::spawn(move || server::drop_database(server::server(), &name)).join();
    }
}

/// The fixture that puts one row in every tenant table for `user_id`
/// (`fixtures/one_row_per_tenant_table.sql`; a new tenant table needs a row there).
pub fn tenant_rows_sql(user_id: Uuid) -> String {
    include_str!("../fixtures/one_row_per_tenant_table.sql")
        .replace("{{user_id}}", &user_id.to_string())
}

impl TestDb {
    /// Fills every tenant table with rows of `user_id`, through the app role.
    pub async fn fill_tenant_tables(&self, user_id: Uuid) {
        let mut tx = everreach_core::db::tenant::begin(&self.app, user_id)
            .await
            .expect("tenant transaction");
        sqlx::raw_sql(sqlx::AssertSqlSafe(tenant_rows_sql(user_id)))
            .execute(&mut *tx)
            .await
            .expect("the tenant-row fixture applies through the app role");
        tx.commit().await.expect("commit the fixture rows");
    }
}
