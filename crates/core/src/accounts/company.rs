//! A company and its members (003 `companies`, roles, tiers): what an admin may see
//! and change, pending invitations, removing members, and the company's audit log. The rules themselves live
//! in the SECURITY DEFINER functions of migration `…040000_company_members_audit.sql`
//! (each checks that the caller is an admin of the same company); this module calls
//! them inside the caller's tenant transaction.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::service::json;
use super::service::{AccountError, Principal};
use super::token::{self, Kind};
use super::{Email, Password, Role, SubscriptionTier, password};
use crate::audit::{self, Operation};
use crate::db::tenant::{self, TenantTx};

/// An invitation link lasts this long.
pub const INVITATION_TTL: Duration = Duration::days(7);

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Company {
    pub id: Uuid,
    pub name: String,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Member {
    pub id: Uuid,
    pub email: String,
    pub username: String,
    pub full_name: Option<String>,
    pub role: Role,
    pub subscription_tier: SubscriptionTier,
    pub is_active: Option<bool>,
    pub email_verified: Option<bool>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
}

/// A pending invitation (never its link).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Invitation {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub invited_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub sent_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

const INVITATION_COLUMNS: &str = "id, email, role, invited_by, created_at, sent_at, expires_at";

async fn find_invitation(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
) -> Result<Invitation, AccountError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {INVITATION_COLUMNS} FROM company_invitation_list() WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(AccountError::NotFound)
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: Uuid,
    pub table_name: String,
    pub operation: String,
    pub old_values: Option<serde_json::Value>,
    pub new_values: Option<serde_json::Value>,
    pub user_id: Option<Uuid>,
    pub timestamp: Option<DateTime<Utc>>,
}

/// What an admin changes about a member; `None` leaves it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Access {
    pub role: Option<Role>,
    pub subscription_tier: Option<SubscriptionTier>,
    pub is_active: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct Companies {
    pool: PgPool,
}

fn not_admin(e: sqlx::Error) -> AccountError {
    match &e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("42501") => AccountError::NotAdmin,
        sqlx::Error::Database(d) if d.code().as_deref() == Some("23514") => AccountError::LastAdmin,
        sqlx::Error::Database(d)
            if d.code().as_deref() == Some("23505")
                && d.constraint().is_some_and(|c| c.contains("users_email")) =>
        {
            AccountError::EmailTaken
        }
        _ => e.into(),
    }
}

impl Companies {
    pub fn new(pool: PgPool) -> Companies {
        Companies { pool }
    }

    pub async fn company(&self, who: &Principal) -> Result<Company, AccountError> {
        let mut tx = tenant::begin(&self.pool, who.user_id).await?;
        let company = sqlx::query_as(
            "SELECT id, name, domain, industry, created_at FROM companies WHERE id = $1",
        )
        .bind(who.company_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(AccountError::NotFound)?;
        tx.commit().await?;
        Ok(company)
    }

    /// The members of the admin's company, by e-mail.
    pub async fn members(&self, admin: &Principal) -> Result<Vec<Member>, AccountError> {
        let mut tx = tenant::begin(&self.pool, admin.user_id).await?;
        sqlx::query("SELECT require_company_admin()")
            .execute(&mut *tx)
            .await
            .map_err(not_admin)?;
        let members = sqlx::query_as(
            "SELECT id, email, username, full_name, role, subscription_tier, is_active, email_verified, last_login_at, created_at
             FROM users WHERE company_id = $1 ORDER BY email",
        )
        .bind(admin.company_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(members)
    }

    pub async fn set_access(
        &self,
        admin: &Principal,
        member: Uuid,
        access: Access,
    ) -> Result<Member, AccountError> {
        let mut tx = tenant::begin(&self.pool, admin.user_id).await?;
        let found: bool = sqlx::query_scalar("SELECT set_member_access($1, $2, $3, $4)")
            .bind(member)
            .bind(access.role)
            .bind(access.subscription_tier)
            .bind(access.is_active)
            .fetch_one(&mut *tx)
            .await
            .map_err(not_admin)?;
        if !found {
            return Err(AccountError::NotFound);
        }
        let row: Member = sqlx::query_as(
            "SELECT id, email, username, full_name, role, subscription_tier, is_active, email_verified, last_login_at, created_at
             FROM users WHERE id = $1",
        )
        .bind(member)
        .fetch_one(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            admin.user_id,
            "users",
            Operation::Update,
            None,
            Some(&json(&row)),
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Invites an e-mail into the admin's company: a pending invitation (no user row
    /// until it is accepted). Returns the invitation, the company's name and the link
    /// token (to be mailed).
    pub async fn invite(
        &self,
        admin: &Principal,
        email: &Email,
        role: Role,
    ) -> Result<(Invitation, String), AccountError> {
        let issued = token::issue(Kind::Invitation);
        let mut tx = tenant::begin(&self.pool, admin.user_id).await?;
        let id: Uuid = sqlx::query_scalar("SELECT invite_member($1, $2, $3, $4)")
            .bind(email.as_str())
            .bind(role)
            .bind(&issued.hash)
            .bind(Utc::now() + INVITATION_TTL)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(d) if d.code().as_deref() == Some("23505") => {
                    AccountError::AlreadyInvited
                }
                _ => not_admin(e),
            })?;
        let invitation = find_invitation(&mut tx, id).await?;
        audit::record(
            &mut tx,
            admin.user_id,
            "company_invitations",
            Operation::Insert,
            None,
            Some(&json(&invitation)),
        )
        .await?;
        tx.commit().await?;
        Ok((invitation, issued.token))
    }

    /// The admin's company's pending invitations, by e-mail.
    pub async fn invitations(&self, admin: &Principal) -> Result<Vec<Invitation>, AccountError> {
        let mut tx = tenant::begin(&self.pool, admin.user_id).await?;
        let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {INVITATION_COLUMNS} FROM company_invitation_list()"
        )))
        .fetch_all(&mut *tx)
        .await
        .map_err(not_admin)?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Revokes a pending invitation: its link stops working.
    pub async fn revoke_invitation(&self, admin: &Principal, id: Uuid) -> Result<(), AccountError> {
        let mut tx = tenant::begin(&self.pool, admin.user_id).await?;
        let email: Option<String> = sqlx::query_scalar("SELECT revoke_invitation($1)")
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .map_err(not_admin)?;
        let email = email.ok_or(AccountError::NotFound)?;
        let revoked = serde_json::json!({ "id": id, "email": email });
        audit::record(
            &mut tx,
            admin.user_id,
            "company_invitations",
            Operation::Delete,
            Some(&revoked),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives a pending invitation a new link and seven more days (the old link stops
    /// working); the invitation and the new link token (to be mailed).
    pub async fn resend_invitation(
        &self,
        admin: &Principal,
        id: Uuid,
    ) -> Result<(Invitation, String), AccountError> {
        let issued = token::issue(Kind::Invitation);
        let mut tx = tenant::begin(&self.pool, admin.user_id).await?;
        let email: Option<String> = sqlx::query_scalar("SELECT resend_invitation($1, $2, $3)")
            .bind(id)
            .bind(&issued.hash)
            .bind(Utc::now() + INVITATION_TTL)
            .fetch_one(&mut *tx)
            .await
            .map_err(not_admin)?;
        email.ok_or(AccountError::NotFound)?;
        let invitation = find_invitation(&mut tx, id).await?;
        tx.commit().await?;
        Ok((invitation, issued.token))
    }

    /// Uses an invitation link: the member is created with this password; returns the
    /// member. An address that has an account by now is `EmailTaken`.
    pub async fn accept_invitation(
        &self,
        link: &str,
        password: &Password,
    ) -> Result<Uuid, AccountError> {
        if !token::well_formed(Kind::Invitation, link) {
            return Err(AccountError::InvalidLink);
        }
        let phc = password::hash(password).await;
        // One transaction, as sign-up: the member, their audit row and their seeded
        // rows (DESIGN §9).
        let mut tx = self.pool.begin().await?;
        let user: Option<Uuid> = sqlx::query_scalar("SELECT accept_invitation($1, $2)")
            .bind(token::hash(link))
            .bind(phc)
            .fetch_one(&mut *tx)
            .await
            .map_err(not_admin)?;
        let user = user.ok_or(AccountError::InvalidLink)?;
        let mut tx = TenantTx::act_for(tx, user).await?;
        let joined = serde_json::json!({ "id": user, "joined_by_invitation": true });
        audit::record(
            &mut tx,
            user,
            "users",
            Operation::Insert,
            None,
            Some(&joined),
        )
        .await?;
        crate::crm::seed::seed(&mut tx).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Removes a member from the admin's company: they keep their account and their
    /// own rows in a new personal company, and are signed out everywhere (sessions
    /// ended, API tokens revoked).
    pub async fn remove_member(&self, admin: &Principal, member: Uuid) -> Result<(), AccountError> {
        let mut tx = tenant::begin(&self.pool, admin.user_id).await?;
        let found: bool = sqlx::query_scalar("SELECT remove_member($1)")
            .bind(member)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(d) if d.code().as_deref() == Some("23514") => {
                    AccountError::CannotRemoveSelf
                }
                _ => not_admin(e),
            })?;
        if !found {
            return Err(AccountError::NotFound);
        }
        let removed = serde_json::json!({ "id": member, "removed_from_company": admin.company_id });
        audit::record(
            &mut tx,
            admin.user_id,
            "users",
            Operation::Update,
            None,
            Some(&removed),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A page of the company's audit log, newest first, before `(time, id)`.
    pub async fn audit_log(
        &self,
        admin: &Principal,
        before: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, AccountError> {
        let mut tx = tenant::begin(&self.pool, admin.user_id).await?;
        let rows = sqlx::query_as(
            "SELECT id, table_name::text, operation::text, old_values, new_values, user_id, \"timestamp\"
             FROM company_audit_log($1, $2, $3)",
        )
        .bind(before.map(|b| b.0))
        .bind(before.map(|b| b.1))
        .bind(limit.clamp(1, 500) as i32)
        .fetch_all(&mut *tx)
        .await
        .map_err(not_admin)?;
        tx.commit().await?;
        Ok(rows)
    }
}
