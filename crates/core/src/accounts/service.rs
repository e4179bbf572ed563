//! The rules of accounts: who may sign in, how long a session lives, what a token
//! grants. Each operation opens and commits its own transaction.

use chrono::{Duration, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::store::{self, ApiToken, ProfilePatch};
use super::token::{self, Kind};
use super::{Email, Password, Role, User, password};
use crate::audit::{self, Operation};
use crate::crm;
use crate::db::tenant::{self, TenantTx};

/// A row as the audit log stores it.
pub(crate) fn json(row: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(row).unwrap_or(serde_json::Value::Null)
}

/// A web session lasts this long from sign-in.
pub const SESSION_TTL: Duration = Duration::days(30);
/// An e-mail verification link lasts this long.
pub const VERIFICATION_TTL: Duration = Duration::hours(48);
/// A password reset link lasts this long.
pub const PASSWORD_RESET_TTL: Duration = Duration::hours(1);

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("an account with this e-mail already exists")]
    EmailTaken,
    #[error("the e-mail or password is wrong")]
    InvalidCredentials,
    #[error("this account is deactivated; ask your company's admin to reactivate it")]
    Inactive,
    #[error("no such user")]
    NotFound,
    #[error("a live API token named {0:?} already exists")]
    TokenNameTaken(String),
    #[error("the link is invalid, used or expired")]
    InvalidLink,
    #[error("only a company admin may do this")]
    NotAdmin,
    #[error("the company needs an active admin: make another member admin first")]
    LastAdmin,
    #[error(
        "this e-mail is already a member of the company or has a pending invitation (resend it instead)"
    )]
    AlreadyInvited,
    #[error("you cannot remove yourself: another admin can, or delete your account")]
    CannotRemoveSelf,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// A domain's work that an account operation runs (seeding a new user's rows).
    #[error(transparent)]
    Domain(#[from] crate::DomainError),
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub user_id: Uuid,
    pub role: Role,
    pub company_id: Uuid,
}

impl From<store::PrincipalRow> for Principal {
    fn from(r: store::PrincipalRow) -> Self {
        Principal {
            user_id: r.user_id,
            role: r.role,
            company_id: r.company_id,
        }
    }
}

/// Accounts over the app pool.
#[derive(Debug, Clone)]
pub struct Accounts {
    pool: PgPool,
}

fn is_check_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("23514"))
}

fn is_unique_violation(e: &sqlx::Error, constraint: &str) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("23505")
        && d.constraint().is_some_and(|c| c.contains(constraint)))
}

impl Accounts {
    pub fn new(pool: PgPool) -> Accounts {
        Accounts { pool }
    }

    /// Whether anyone has signed up yet, in any tenant (the web UI's first-run page).
    /// Asks `everreach_has_users()`, which answers yes or no and nothing about who.
    pub async fn has_users(&self) -> Result<bool, AccountError> {
        Ok(sqlx::query_scalar("SELECT everreach_has_users()")
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn sign_up(
        &self,
        email: &Email,
        password: &Password,
        name: Option<&str>,
    ) -> Result<User, AccountError> {
        let phc = password::hash(password).await;
        // One transaction: the user, their audit row and their seeded rows (DESIGN
        // §9) are all there or none is.
        let mut tx = self.pool.begin().await?;
        let user_id = store::sign_up(&mut tx, email.as_str(), Some(&phc), name)
            .await
            .map_err(|e| {
                if is_unique_violation(&e, "users_email") {
                    AccountError::EmailTaken
                } else {
                    e.into()
                }
            })?;
        let mut tx = TenantTx::act_for(tx, user_id).await?;
        let user = store::find_user(&mut tx, user_id)
            .await?
            .ok_or(AccountError::NotFound)?;
        audit::record(
            &mut tx,
            user_id,
            "users",
            Operation::Insert,
            None,
            Some(&json(&user)),
        )
        .await?;
        crm::seed::seed(&mut tx).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Checks the password and opens a session; returns the user and the cookie value.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        user_agent: Option<&str>,
    ) -> Result<(User, String), AccountError> {
        let user_id = self.check_password(email, password).await?;
        let issued = token::issue(Kind::Session);
        let mut tx = tenant::begin(&self.pool, user_id).await?;
        store::insert_session(
            &mut tx,
            user_id,
            &issued.hash,
            Utc::now() + SESSION_TTL,
            user_agent,
        )
        .await?;
        store::touch_last_login(&mut tx, user_id).await?;
        let user = store::find_user(&mut tx, user_id)
            .await?
            .ok_or(AccountError::NotFound)?;
        tx.commit().await?;
        Ok((user, issued.token))
    }

    /// The user id if `password` is theirs and they may sign in. An unknown e-mail
    /// costs as much time as a wrong password.
    pub async fn check_password(&self, email: &str, password: &str) -> Result<Uuid, AccountError> {
        let email = email.trim().to_lowercase();
        let found = store::lookup_password(&self.pool, &email).await?;
        let Some((user_id, Some(phc), active)) = found else {
            password::waste_time(password).await;
            return Err(AccountError::InvalidCredentials);
        };
        if !password::verify(password, &phc).await {
            return Err(AccountError::InvalidCredentials);
        }
        if !active {
            return Err(AccountError::Inactive);
        }
        Ok(user_id)
    }

    pub async fn sign_out(
        &self,
        principal: &Principal,
        session_token: &str,
    ) -> Result<(), AccountError> {
        let mut tx = tenant::begin(&self.pool, principal.user_id).await?;
        store::delete_session(&mut tx, principal.user_id, &token::hash(session_token)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Who a session cookie belongs to (`None`: unknown, expired, or deactivated).
    pub async fn authenticate_session(
        &self,
        cookie: &str,
    ) -> Result<Option<Principal>, AccountError> {
        if !token::well_formed(Kind::Session, cookie) {
            return Ok(None);
        }
        Ok(store::lookup_session(&self.pool, &token::hash(cookie))
            .await?
            .map(Principal::from))
    }

    /// Who a bearer token belongs to (`None`: unknown, revoked, expired, or deactivated).
    pub async fn authenticate_token(
        &self,
        bearer: &str,
    ) -> Result<Option<Principal>, AccountError> {
        if !token::well_formed(Kind::ApiToken, bearer) {
            return Ok(None);
        }
        Ok(store::lookup_api_token(&self.pool, &token::hash(bearer))
            .await?
            .map(Principal::from))
    }

    pub async fn user(&self, user_id: Uuid) -> Result<User, AccountError> {
        let mut tx = tenant::begin(&self.pool, user_id).await?;
        let user = store::find_user(&mut tx, user_id)
            .await?
            .ok_or(AccountError::NotFound)?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn update_profile(
        &self,
        user_id: Uuid,
        patch: &ProfilePatch,
    ) -> Result<User, AccountError> {
        let mut tx = tenant::begin(&self.pool, user_id).await?;
        let old = store::find_user(&mut tx, user_id)
            .await?
            .ok_or(AccountError::NotFound)?;
        let user = store::update_profile(&mut tx, user_id, patch)
            .await?
            .ok_or(AccountError::NotFound)?;
        audit::record(
            &mut tx,
            user_id,
            "users",
            Operation::Update,
            Some(&json(&old)),
            Some(&json(&user)),
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// A new API token: the listing row and the token, which is shown this once.
    pub async fn create_api_token(
        &self,
        user_id: Uuid,
        name: &str,
    ) -> Result<(ApiToken, String), AccountError> {
        let issued = token::issue(Kind::ApiToken);
        let prefix: String = issued.token.chars().take(10).collect();
        let mut tx = tenant::begin(&self.pool, user_id).await?;
        let row =
            store::insert_api_token(&mut tx, user_id, name.trim(), &issued.hash, &prefix, None)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e, "idx_api_tokens_live_name") {
                        AccountError::TokenNameTaken(name.trim().to_string())
                    } else {
                        e.into()
                    }
                })?;
        audit::record(
            &mut tx,
            user_id,
            "api_tokens",
            Operation::Insert,
            None,
            Some(&json(&row)),
        )
        .await?;
        tx.commit().await?;
        Ok((row, issued.token))
    }

    pub async fn list_api_tokens(&self, user_id: Uuid) -> Result<Vec<ApiToken>, AccountError> {
        let mut tx = tenant::begin(&self.pool, user_id).await?;
        let rows = store::list_api_tokens(&mut tx, user_id).await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Revokes a live token of the user's; `NotFound` for anyone else's or a revoked one.
    pub async fn revoke_api_token(&self, user_id: Uuid, id: Uuid) -> Result<(), AccountError> {
        let mut tx = tenant::begin(&self.pool, user_id).await?;
        if !store::revoke_api_token(&mut tx, user_id, id).await? {
            return Err(AccountError::NotFound);
        }
        let revoked = serde_json::json!({ "id": id, "revoked": true });
        audit::record(
            &mut tx,
            user_id,
            "api_tokens",
            Operation::Update,
            None,
            Some(&revoked),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A verification link token for the user's current e-mail (to be mailed).
    pub async fn request_email_verification(&self, user_id: Uuid) -> Result<String, AccountError> {
        let issued = token::issue(Kind::EmailVerification);
        let mut tx = tenant::begin(&self.pool, user_id).await?;
        let user = store::find_user(&mut tx, user_id)
            .await?
            .ok_or(AccountError::NotFound)?;
        store::insert_email_verification(
            &mut tx,
            user_id,
            &issued.hash,
            &user.email,
            Utc::now() + VERIFICATION_TTL,
        )
        .await?;
        tx.commit().await?;
        Ok(issued.token)
    }

    /// Uses a verification link; the user whose e-mail is now verified.
    pub async fn confirm_email(&self, link_token: &str) -> Result<Uuid, AccountError> {
        if !token::well_formed(Kind::EmailVerification, link_token) {
            return Err(AccountError::InvalidLink);
        }
        store::verify_email(&self.pool, &token::hash(link_token))
            .await?
            .ok_or(AccountError::InvalidLink)
    }

    /// Erases the user and everything they own, after re-authentication.
    pub async fn delete_account(
        &self,
        user_id: Uuid,
        email: &str,
        password: &str,
    ) -> Result<(), AccountError> {
        let confirmed = self.check_password(email, password).await?;
        if confirmed != user_id {
            return Err(AccountError::InvalidCredentials);
        }
        let mut tx = tenant::begin(&self.pool, user_id).await?;
        let old = store::find_user(&mut tx, user_id)
            .await?
            .ok_or(AccountError::NotFound)?;
        audit::record(
            &mut tx,
            user_id,
            "users",
            Operation::Delete,
            Some(&json(&old)),
            None,
        )
        .await?;
        sqlx::query("SELECT delete_own_account()")
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_check_violation(&e) {
                    AccountError::LastAdmin
                } else {
                    e.into()
                }
            })?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes the password after checking the current one; every other session of
    /// the user ends (`keep_session`: the cookie of the one making the change).
    pub async fn change_password(
        &self,
        user_id: Uuid,
        current: &str,
        new: &Password,
        keep_session: Option<&str>,
    ) -> Result<(), AccountError> {
        let user = self.user(user_id).await?;
        if self.check_password(&user.email, current).await? != user_id {
            return Err(AccountError::InvalidCredentials);
        }
        let phc = password::hash(new).await;
        let mut tx = tenant::begin(&self.pool, user_id).await?;
        sqlx::query("SELECT change_own_password($1, $2)")
            .bind(&phc)
            .bind(keep_session.map(token::hash))
            .execute(&mut *tx)
            .await?;
        let changed = serde_json::json!({ "id": user_id, "password_changed": true });
        audit::record(
            &mut tx,
            user_id,
            "users",
            Operation::Update,
            None,
            Some(&changed),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A reset link token for the active account of `email` (to be mailed), or `None`
    /// when there is none: the caller answers the same either way.
    pub async fn request_password_reset(
        &self,
        email: &str,
    ) -> Result<Option<(String, String)>, AccountError> {
        let issued = token::issue(Kind::PasswordReset);
        let user: Option<Uuid> = sqlx::query_scalar("SELECT password_reset_request($1, $2, $3)")
            .bind(email)
            .bind(&issued.hash)
            .bind(Utc::now() + PASSWORD_RESET_TTL)
            .fetch_one(&self.pool)
            .await?;
        Ok(user.map(|_| (email.trim().to_lowercase(), issued.token)))
    }

    /// Uses a reset link: the new password is set and every session of the user ends.
    pub async fn reset_password(
        &self,
        link_token: &str,
        new: &Password,
    ) -> Result<Uuid, AccountError> {
        if !token::well_formed(Kind::PasswordReset, link_token) {
            return Err(AccountError::InvalidLink);
        }
        let phc = password::hash(new).await;
        let user: Option<Uuid> = sqlx::query_scalar("SELECT password_reset_confirm($1, $2)")
            .bind(token::hash(link_token))
            .bind(phc)
            .fetch_one(&self.pool)
            .await?;
        let user_id = user.ok_or(AccountError::InvalidLink)?;
        let mut tx = tenant::begin(&self.pool, user_id).await?;
        let reset = serde_json::json!({ "id": user_id, "password_reset": true });
        audit::record(
            &mut tx,
            user_id,
            "users",
            Operation::Update,
            None,
            Some(&reset),
        )
        .await?;
        tx.commit().await?;
        Ok(user_id)
    }

    /// Ends every web session of the user; how many there were. API tokens stay.
    pub async fn sign_out_everywhere(&self, user_id: Uuid) -> Result<u64, AccountError> {
        let mut tx = tenant::begin(&self.pool, user_id).await?;
        let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(ended)
    }
}
