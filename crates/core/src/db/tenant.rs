//! The tenant transaction: every request and job touching a tenant's rows runs in
//! one ([`TenantTx`]), so row-level security sees `app.user_id` — set with
//! `set_config(…, true)`, transaction-local, so a pooled connection never carries a
//! tenant into the next request.
//!
//! A [`TenantTx`] carries its tenant and its actor with it: domain code takes
//! `&mut TenantTx` (never a connection and a user id that could disagree), reads the
//! tenant from [`TenantTx::user_id`], and writes its audit-log rows
//! ([`TenantTx::audit`]) and domain events ([`TenantTx::log_event`]) through it, in
//! the same transaction as the change they record.

use std::ops::{Deref, DerefMut};

use serde_json::Value;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::audit;

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

/// A transaction acting for one tenant: the transaction, the tenant (`user_id`) and
/// who acts. Derefs to the connection, so SQL runs on `&mut **tx` (or `&mut *tx`
/// where a `&mut PgConnection` is expected).
#[derive(Debug)]
pub struct TenantTx {
    tx: Transaction<'static, Postgres>,
    user_id: Uuid,
    actor: Actor,
}

impl TenantTx {
    /// Begins a transaction on the app pool acting for `user_id` as the user.
    pub async fn begin(pool: &PgPool, user_id: Uuid) -> Result<TenantTx, sqlx::Error> {
        TenantTx::begin_as(pool, user_id, Actor::User).await
    }

    /// As [`TenantTx::begin`], naming the actor (`worker` for the job runner).
    ///
    /// `BEGIN` and the settings go in one round trip: the values are a UUID and a
    /// fixed word, so writing them into the statement is safe.
    pub async fn begin_as(
        pool: &PgPool,
        user_id: Uuid,
        actor: Actor,
    ) -> Result<TenantTx, sqlx::Error> {
        let statement = format!(
            "BEGIN; SELECT set_config('app.user_id', '{}', true), set_config('app.actor', '{}', true)",
            user_id.hyphenated(),
            actor.setting()
        );
        let tx = pool.begin_with(sqlx::AssertSqlSafe(statement)).await?;
        Ok(TenantTx { tx, user_id, actor })
    }

    /// As [`TenantTx::begin`], read-only and on one snapshot for the whole
    /// transaction (exports, reports that must be consistent across tables).
    pub async fn begin_snapshot(pool: &PgPool, user_id: Uuid) -> Result<TenantTx, sqlx::Error> {
        let statement = format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT set_config('app.user_id', '{}', true)",
            user_id.hyphenated()
        );
        let tx = pool.begin_with(sqlx::AssertSqlSafe(statement)).await?;
        Ok(TenantTx {
            tx,
            user_id,
            actor: Actor::User,
        })
    }

    /// Makes a transaction already under way act for `user_id` as the user, from here
    /// on. For a user who does not exist until this transaction creates them
    /// (sign-up, an accepted invitation): their first rows are written in the same
    /// transaction as the user, so a failure leaves no half-made account.
    pub async fn act_for(
        mut tx: Transaction<'static, Postgres>,
        user_id: Uuid,
    ) -> Result<TenantTx, sqlx::Error> {
        sqlx::query(
            "SELECT set_config('app.user_id', $1, true), set_config('app.actor', '', true)",
        )
        .bind(user_id.hyphenated().to_string())
        .execute(&mut *tx)
        .await?;
        Ok(TenantTx {
            tx,
            user_id,
            actor: Actor::User,
        })
    }

    /// The tenant this transaction acts for.
    pub fn user_id(&self) -> Uuid {
        self.user_id
    }

    /// Who to name as the one who asked, in records that keep it (a merge's
    /// `actor_id`): the user, or nobody for the job runner.
    pub fn actor_id(&self) -> Option<Uuid> {
        match self.actor {
            Actor::User => Some(self.user_id),
            Actor::Worker => None,
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }

    /// Records a change to `table` in the audit log (secrets redacted), in this
    /// transaction.
    pub async fn audit(
        &mut self,
        table: &str,
        operation: audit::Operation,
        old: Option<&Value>,
        new: Option<&Value>,
    ) -> Result<(), sqlx::Error> {
        let user_id = self.user_id;
        audit::record(&mut self.tx, user_id, table, operation, old, new).await
    }

    /// Records a domain event (002's `log_event`) in this transaction: it is stored,
    /// announced and seen by subscriptions only if the transaction commits. The names
    /// and payloads are listed in docs/EVENTS.md.
    pub async fn log_event(
        &mut self,
        entity_type: &str,
        entity_id: Uuid,
        event_type: &str,
        payload: &Value,
    ) -> Result<Uuid, sqlx::Error> {
        let user_id = self.user_id;
        crate::platform::events::log(
            &mut self.tx,
            user_id,
            entity_type,
            entity_id,
            event_type,
            payload,
        )
        .await
    }
}

impl Deref for TenantTx {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.tx
    }
}

impl DerefMut for TenantTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

/// Begins a transaction on the app pool acting for `user_id` ([`TenantTx::begin`]).
pub async fn begin(pool: &PgPool, user_id: Uuid) -> Result<TenantTx, sqlx::Error> {
    TenantTx::begin(pool, user_id).await
}

/// [`TenantTx::begin_as`].
pub async fn begin_as(pool: &PgPool, user_id: Uuid, actor: Actor) -> Result<TenantTx, sqlx::Error> {
    TenantTx::begin_as(pool, user_id, actor).await
}

/// [`TenantTx::begin_snapshot`].
pub async fn begin_snapshot(pool: &PgPool, user_id: Uuid) -> Result<TenantTx, sqlx::Error> {
    TenantTx::begin_snapshot(pool, user_id).await
}
