//! The tenant transaction: every request and job touching a tenant's rows runs in
//! one, so row-level security sees `app.user_id` — set with `set_config(…, true)`,
//! transaction-local, so a pooled connection never carries a tenant into the next
//! request.

use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// Who is acting, for the policies that treat the job runner differently (only the
/// worker moves a scheduled post on once it is being processed). Company admins act
/// through SECURITY DEFINER functions that check their role, not through an actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User,
    Worker,
}

impl Actor {
    fn setting(self) -> &'static str {
        match self {
            Actor::User => "",
            Actor::Worker => "worker",
        }
    }
}

/// Begins a transaction on the app pool acting for `user_id`.
pub async fn begin(
    pool: &PgPool,
    user_id: Uuid,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    begin_as(pool, user_id, Actor::User).await
}

/// As [`begin`], naming the actor (`worker` for the job runner).
///
/// `BEGIN` and the settings go in one round trip: the values are a UUID and a fixed
/// word, so writing them into the statement is safe.
pub async fn begin_as(
    pool: &PgPool,
    user_id: Uuid,
    actor: Actor,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let statement = format!(
        "BEGIN; SELECT set_config('app.user_id', '{}', true), set_config('app.actor', '{}', true)",
        user_id.hyphenated(),
        actor.setting()
    );
    pool.begin_with(sqlx::AssertSqlSafe(statement)).await
}

/// As [`begin`], read-only and on one snapshot for the whole transaction (exports,
/// reports that must be consistent across tables).
pub async fn begin_snapshot(
    pool: &PgPool,
    user_id: Uuid,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let statement = format!(
        "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT set_config('app.user_id', '{}', true)",
        user_id.hyphenated()
    );
    pool.begin_with(sqlx::AssertSqlSafe(statement)).await
}
