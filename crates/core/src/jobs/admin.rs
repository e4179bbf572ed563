//! Looking at jobs and acting on them by hand: `everreach jobs list|retry|cancel`
//! (the operator, every job) and `/api/v1/jobs` (a company admin, the jobs acting for
//! their company's members).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// A job as listed.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct JobRow {
    pub id: Uuid,
    pub name: String,
    pub state: String,
    pub priority: Option<i32>,
    pub retry_count: Option<i32>,
    pub retry_limit: Option<i32>,
    pub singleton_key: Option<String>,
    pub user_id: Option<Uuid>,
    pub data: Option<Value>,
    pub output: Option<Value>,
    pub created_on: Option<DateTime<Utc>>,
    pub start_after: Option<DateTime<Utc>>,
    pub started_on: Option<DateTime<Utc>>,
    pub completed_on: Option<DateTime<Utc>>,
}

/// Which jobs to list.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub name: Option<String>,
    pub state: Option<String>,
    /// Only jobs acting for members of this company (read through the caller's
    /// tenant transaction: an admin sees the members of their company).
    pub company_id: Option<Uuid>,
    /// Page after this `(created_on, id)`, newest first.
    pub before: Option<(DateTime<Utc>, Uuid)>,
}

pub const STATES: [&str; 7] = [
    "created",
    "retry",
    "active",
    "completed",
    "expired",
    "cancelled",
    "failed",
];

const COLUMNS: &str = "id, name::text, state::text, priority, retry_count, retry_limit, singleton_key::text, user_id, data, \
                       output, created_on, start_after, started_on, completed_on";

pub async fn list(
    conn: &mut PgConnection,
    filter: &JobFilter,
    limit: i64,
) -> Result<Vec<JobRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM jobs
         WHERE ($1::text IS NULL OR name = $1) AND ($2::text IS NULL OR state = $2)
           AND ($3::uuid IS NULL OR user_id IN (SELECT u.id FROM users u WHERE u.company_id = $3))
           AND ($4::timestamptz IS NULL OR (created_on, id) < ($4, $5))
         ORDER BY created_on DESC, id DESC LIMIT $6"
    )))
    .bind(&filter.name)
    .bind(&filter.state)
    .bind(filter.company_id)
    .bind(filter.before.map(|b| b.0))
    .bind(filter.before.map(|b| b.1))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Live and finished jobs per queue and state, under `company_id` (None: every
/// job), queues A to Z.
pub async fn counts(
    conn: &mut PgConnection,
    company_id: Option<Uuid>,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT name::text, state::text, count(*) FROM jobs
          WHERE $1::uuid IS NULL OR user_id IN (SELECT u.id FROM users u WHERE u.company_id = $1)
          GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind(company_id)
    .fetch_all(conn)
    .await
}

/// One job, if it is visible under `company_id` (None: any job).
pub async fn find(
    conn: &mut PgConnection,
    id: Uuid,
    company_id: Option<Uuid>,
) -> Result<Option<JobRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM jobs WHERE id = $1
           AND ($2::uuid IS NULL OR user_id IN (SELECT u.id FROM users u WHERE u.company_id = $2))"
    )))
    .bind(id)
    .bind(company_id)
    .fetch_optional(conn)
    .await
}
