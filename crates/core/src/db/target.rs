//! Which PostgreSQL we use: the embedded cluster (socket, trust, we create the
//! database) or the server named by `DATABASE_URL` (used as given).

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use super::{APP_ROLE, DbError, unreachable_error};
use crate::config::redact_url;

/// The database the embedded cluster keeps EverReach's data in.
pub const EMBEDDED_DATABASE: &str = "everreach";

#[derive(Debug, Clone)]
pub enum DbTarget {
    Embedded {
        connection: everreach_pg::Connection,
        database: String,
    },
    External {
        url: String,
        app_url: Option<String>,
    },
}

impl DbTarget {
    pub fn embedded(connection: everreach_pg::Connection) -> DbTarget {
        DbTarget::Embedded {
            connection,
            database: EMBEDDED_DATABASE.to_string(),
        }
    }

    /// The schema owner's URL (`everreach db url --admin`).
    pub fn admin_url(&self) -> String {
        match self {
            DbTarget::Embedded {
                connection,
                database,
            } => connection.url(&connection.superuser, database),
            DbTarget::External { url, .. } => url.clone(),
        }
    }

    /// The URL the application uses (`everreach db url`). For an external server without
    /// an app login this is the owner's URL: the app pool then runs `SET ROLE`.
    pub fn app_url(&self) -> String {
        match self {
            DbTarget::Embedded {
                connection,
                database,
            } => connection.url(APP_ROLE, database),
            DbTarget::External { url, app_url } => app_url.clone().unwrap_or_else(|| url.clone()),
        }
    }

    /// Where we connect, fit for an error message (no password).
    pub fn describe(&self) -> String {
        match self {
            DbTarget::Embedded { connection, .. } => {
                format!(
                    "the embedded cluster (socket {})",
                    connection.socket_dir.display()
                )
            }
            DbTarget::External { url, .. } => redact_url(url),
        }
    }

    pub fn admin_options(&self) -> Result<PgConnectOptions, DbError> {
        parse(&self.admin_url(), self)
    }

    /// The app role's options, and whether each connection must `SET ROLE` to it.
    /// Every app connection bounds its statements and its idle transactions, so a
    /// runaway query or a stalled request cannot hold a connection and its locks.
    pub fn app_options(&self) -> Result<(PgConnectOptions, bool), DbError> {
        let set_role = matches!(self, DbTarget::External { app_url: None, .. });
        let opts = parse(&self.app_url(), self)?.options([
            ("statement_timeout", APP_STATEMENT_TIMEOUT),
            (
                "idle_in_transaction_session_timeout",
                APP_IDLE_IN_TRANSACTION_TIMEOUT,
            ),
        ]);
        Ok((opts, set_role))
    }

    /// The embedded cluster starts with only `postgres`; create ours on first use.
    pub async fn ensure_database_exists(&self) -> Result<(), DbError> {
        let DbTarget::Embedded {
            connection,
            database,
        } = self
        else {
            return Ok(());
        };
        let url = connection.url(&connection.superuser, "postgres");
        let mut conn = PgConnection::connect_with(&parse(&url, self)?)
            .await
            .map_err(|e| unreachable_error(self, e))?;
        create_database_if_missing(&mut conn, database).await?;
        conn.close().await.ok();
        Ok(())
    }
}

pub(crate) async fn create_database_if_missing(
    conn: &mut PgConnection,
    database: &str,
) -> Result<(), DbError> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(database)
            .fetch_one(&mut *conn)
            .await?;
    if exists {
        return Ok(());
    }
    let sql = format!("CREATE DATABASE \"{}\"", database.replace('"', "\"\""));
    match sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await
    {
        Ok(_) => Ok(()),
        // Two processes creating it at once: the other one won, which is fine.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => Ok(()),
        Err(e) => Err(DbError::CreateDatabase {
            db: database.to_string(),
            cause: e.to_string(),
        }),
    }
}

fn parse(url: &str, target: &DbTarget) -> Result<PgConnectOptions, DbError> {
    url.parse::<PgConnectOptions>()
        .map(|o| o.application_name("everreach"))
        .map_err(|e| unreachable_error(target, e))
}

/// The longest one statement of the app may run (its role's default is the same).
pub const APP_STATEMENT_TIMEOUT: &str = "60s";
/// The longest the app may sit idle inside a transaction.
pub const APP_IDLE_IN_TRANSACTION_TIMEOUT: &str = "60s";
