//! Where the database is and how we talk to it.
//!
//! Two pools: `admin` connects as the schema owner (migrations, creating partitions,
//! start-up checks); `app` connects as `everreach_app`, a role that owns nothing and
//! has no BYPASSRLS, so row-level security holds for everything a request or job does.
//! Every tenant's work runs in [`tenant::begin`], which sets `app.user_id` for the
//! transaction only.

pub mod migrate;
pub mod target;
pub mod tenant;

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

pub use target::DbTarget;

/// The role the application connects as (created by the first migration).
pub const APP_ROLE: &str = "everreach_app";

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "cannot connect to the database at {at}: {cause}; check that the server runs and that \
         DATABASE_URL (or the embedded cluster in EVERREACH_DATA_DIR) is right"
    )]
    Unreachable { at: String, cause: String },
    #[error("database `{db}` could not be created: {cause}")]
    CreateDatabase { db: String, cause: String },
    #[error("migration failed: {0}")]
    Migrate(String),
    #[error(
        "the database server has no pgvector (`CREATE EXTENSION vector` failed: {0}); install \
         pgvector on it (its administrator may have to run CREATE EXTENSION vector), or unset \
         DATABASE_URL to use the embedded cluster"
    )]
    NoPgvector(String),
    #[error(
        "the database refused to create the roles EverReach needs ({0}); run `everreach migrate` \
         once with a role that has CREATEROLE (and BYPASSRLS for everreach_definer)"
    )]
    Roles(String),
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
}

/// The two pools of a running EverReach.
#[derive(Debug, Clone)]
pub struct Database {
    pub admin: PgPool,
    pub app: PgPool,
    pub target: DbTarget,
}

impl Database {
    /// Creates the database if it is missing, applies pending migrations as the owner,
    /// then opens the application pool.
    pub async fn open(target: DbTarget) -> Result<Database, DbError> {
        let admin = Database::connect_admin(&target).await?;
        migrate::run(&admin).await?;
        let app = Database::connect_app(&target).await?;
        Ok(Database { admin, app, target })
    }

    /// The schema owner's pool (creating the database first when it is ours to create).
    pub async fn connect_admin(target: &DbTarget) -> Result<PgPool, DbError> {
        target.ensure_database_exists().await?;
        PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire(false)
            .connect_with(target.admin_options()?)
            .await
            .map_err(|e| unreachable_error(target, e))
    }

    /// The application role's pool. Without a login of its own, each new connection
    /// becomes the app role with `SET ROLE`, so it never acts with the owner's rights.
    pub async fn connect_app(target: &DbTarget) -> Result<PgPool, DbError> {
        let (opts, set_role) = target.app_options()?;
        // No ping before handing out a connection: it doubles the round trips of every
        // short query. A connection that died is found by its next query, which fails
        // once (and the pool drops it).
        let mut pool = PgPoolOptions::new()
            .max_connections(32)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire(false);
        if set_role {
            pool = pool.after_connect(|conn, _meta| {
                Box::pin(async move {
                    sqlx::query("SET ROLE everreach_app")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            });
        }
        pool.connect_with(opts)
            .await
            .map_err(|e| unreachable_error(target, e))
    }
}

pub(crate) fn unreachable_error(target: &DbTarget, e: sqlx::Error) -> DbError {
    DbError::Unreachable {
        at: target.describe(),
        cause: first_line(&e.to_string()),
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).to_string()
}
