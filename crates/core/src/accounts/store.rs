//! SQL of accounts. Tenant functions take the user id first and a connection inside
//! that user's tenant transaction; the `lookup_*` functions call the SECURITY DEFINER
//! lookups that run before any tenant is known.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{Role, User};

const USER_COLUMNS: &str = "id, email, username, name, full_name, avatar_url, company_id, role, \
    subscription_tier, timezone, onboarding_completed, email_verified, is_active, last_login_at, \
    created_at, updated_at";

/// An API token as listed (never the token itself).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    pub token_prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Who a cookie or token stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct PrincipalRow {
    pub user_id: Uuid,
    pub role: Role,
    pub company_id: Uuid,
}

pub async fn find_user(
    conn: &mut PgConnection,
    user_id: Uuid,
) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
    )))
    .bind(user_id)
    .fetch_optional(conn)
    .await
}

pub async fn touch_last_login(conn: &mut PgConnection, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET last_login_at = now() WHERE id = $1")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Profile fields a user may change on their own row.
#[derive(Debug, Default, Clone)]
pub struct ProfilePatch {
    pub name: Option<String>,
    pub full_name: Option<String>,
    pub avatar_url: Option<String>,
    pub timezone: Option<String>,
    pub onboarding_completed: Option<bool>,
}

pub async fn update_profile(
    conn: &mut PgConnection,
    user_id: Uuid,
    patch: &ProfilePatch,
) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE users SET name = coalesce($2, name), full_name = coalesce($3, full_name),
                avatar_url = coalesce($4, avatar_url), timezone = coalesce($5, timezone),
                onboarding_completed = coalesce($6, onboarding_completed)
         WHERE id = $1 RETURNING {USER_COLUMNS}"
    )))
    .bind(user_id)
    .bind(&patch.name)
    .bind(&patch.full_name)
    .bind(&patch.avatar_url)
    .bind(&patch.timezone)
    .bind(patch.onboarding_completed)
    .fetch_optional(conn)
    .await
}

pub async fn insert_session(
    conn: &mut PgConnection,
    user_id: Uuid,
    token_hash: &str,
    expires_at: DateTime<Utc>,
    user_agent: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO sessions (user_id, token_hash, expires_at, user_agent) VALUES ($1, $2, $3, $4)")
        .bind(user_id)
        .bind(token_hash)
        .bind(expires_at)
        .bind(user_agent.map(|ua| ua.chars().take(512).collect::<String>()))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete_session(
    conn: &mut PgConnection,
    user_id: Uuid,
    token_hash: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash = $2")
        .bind(user_id)
        .bind(token_hash)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn insert_api_token(
    conn: &mut PgConnection,
    user_id: Uuid,
    name: &str,
    token_hash: &str,
    token_prefix: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<ApiToken, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO api_tokens (user_id, name, token_hash, token_prefix, expires_at)
         VALUES ($1, $2, $3, $4, $5)
         RETURNING id, name, token_prefix, created_at, last_used_at, expires_at, revoked_at",
    )
    .bind(user_id)
    .bind(name)
    .bind(token_hash)
    .bind(token_prefix)
    .bind(expires_at)
    .fetch_one(conn)
    .await
}

pub async fn list_api_tokens(
    conn: &mut PgConnection,
    user_id: Uuid,
) -> Result<Vec<ApiToken>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, token_prefix, created_at, last_used_at, expires_at, revoked_at
         FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await
}

pub async fn revoke_api_token(
    conn: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND id = $2 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn insert_email_verification(
    conn: &mut PgConnection,
    user_id: Uuid,
    token_hash: &str,
    email: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO email_verification_tokens (user_id, token_hash, email, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(user_id)
        .bind(token_hash)
        .bind(email)
        .bind(expires_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Sign-up through the SECURITY DEFINER `sign_up_user` (user + personal company), in
/// the caller's transaction.
pub async fn sign_up(
    conn: &mut PgConnection,
    email: &str,
    password_hash: Option<&str>,
    display_name: Option<&str>,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar("SELECT sign_up_user($1, $2, $3)")
        .bind(email)
        .bind(password_hash)
        .bind(display_name)
        .fetch_one(conn)
        .await
}

/// `(user id, password hash, active)` for an e-mail.
pub async fn lookup_password(
    pool: &PgPool,
    email: &str,
) -> Result<Option<(Uuid, Option<String>, bool)>, sqlx::Error> {
    sqlx::query_as("SELECT user_id, password_hash, is_active FROM auth_password_lookup($1)")
        .bind(email)
        .fetch_optional(pool)
        .await
}

pub async fn lookup_user_id(pool: &PgPool, email: &str) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT auth_user_id_by_email($1)")
        .bind(email)
        .fetch_one(pool)
        .await
}

pub async fn lookup_session(
    pool: &PgPool,
    token_hash: &str,
) -> Result<Option<PrincipalRow>, sqlx::Error> {
    sqlx::query_as("SELECT user_id, role, company_id FROM auth_session_user($1)")
        .bind(token_hash)
        .fetch_optional(pool)
        .await
}

pub async fn lookup_api_token(
    pool: &PgPool,
    token_hash: &str,
) -> Result<Option<PrincipalRow>, sqlx::Error> {
    sqlx::query_as("SELECT user_id, role, company_id FROM auth_api_token_user($1)")
        .bind(token_hash)
        .fetch_optional(pool)
        .await
}

pub async fn verify_email(pool: &PgPool, token_hash: &str) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT auth_verify_email($1)")
        .bind(token_hash)
        .fetch_one(pool)
        .await
}

/// Operator path (CLI, with the owner's credentials): sets a user's role, acting as
/// `everreach_definer` because the app role may never change a role.
pub async fn set_role_as_operator(
    admin: &PgPool,
    user_id: Uuid,
    role: Role,
) -> Result<bool, sqlx::Error> {
    let mut tx = admin.begin().await?;
    sqlx::query("SET LOCAL ROLE everreach_definer")
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query("UPDATE users SET role = $2 WHERE id = $1")
        .bind(user_id)
        .bind(role)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}
