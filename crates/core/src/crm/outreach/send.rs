//! Sending the outreach queue: the `OutreachSender` trait and the outbox sender,
//! the per-tenant run that claims due rows under the cap and sends each in a
//! transaction of its own, and the run over every tenant.

use super::*;

use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::crm::model::{CheckedDm, DmStatus};
use crate::db::tenant::{Actor, TenantTx};
use crate::error::{DomainError, DomainResult};

// ---------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------

/// One message the sender is asked to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The queue row.
    pub id: Uuid,
    pub contact_id: Option<Uuid>,
    /// The contact's username now (it follows a renamed contact).
    pub username: String,
    pub text: String,
    /// The time to record it at: the run's time, a microsecond apart per message, so
    /// two messages of a run never share 001's dedupe key.
    pub at: DateTime<Utc>,
    /// This attempt's number (1 for the first).
    pub attempt: i32,
}

/// What a sender did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentReceipt {
    pub sent_at: DateTime<Utc>,
    /// The `instagram_messages` row recording it.
    pub message_id: Option<Uuid>,
}

/// Why a sender did not send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The message cannot be sent as it is: the row fails with this reason.
    #[error("{0}")]
    Rejected(String),
    /// The channel cannot take it now: the row stays claimed and the next run tries
    /// again, up to [`MAX_ATTEMPTS`].
    #[error("{0}")]
    Unavailable(String),
}

/// What sends a queued message. Called in the transaction that holds the row locked
/// and marks it sent, so what a sender records there commits with the mark or not at
/// all. The outbox ([`OutboxSender`]) is the one until the publishing issue brings
/// Instagram's (whose Send API allows messages within Meta's 24-hour window: it should
/// answer [`SendError::Rejected`] outside it, and record the DM it sent in `tx` as the
/// outbox does).
pub trait OutreachSender: Send + Sync {
    fn send(
        &self,
        tx: &mut TenantTx,
        message: &Outgoing,
    ) -> impl Future<Output = Result<SentReceipt, SendError>> + Send;
}

/// Records the message instead of sending it: an outbound, automated
/// `instagram_messages` row written through DM ingestion ([`crate::crm::dm::store`]), so
/// the conversation, the contact's totals, the `dm_sent` timeline event and the
/// rescoring follow as for any DM.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutboxSender;

impl OutreachSender for OutboxSender {
    async fn send(&self, tx: &mut TenantTx, m: &Outgoing) -> Result<SentReceipt, SendError> {
        // 001's dedupe key is (contact, text, time): another message with the same
        // words to the same contact at the same instant (a run beside this one) moves
        // this one a microsecond on
        for bump in 0..1_000 {
            // to the microsecond, as PostgreSQL keeps it (the key compares it)
            let at = micros(m.at) + Duration::microseconds(bump);
            let dm = CheckedDm {
                username: m.username.clone(),
                display_name: None,
                thread_id: None,
                text: m.text.clone(),
                message_type: "text".into(),
                is_outbound: true,
                automated: true,
                sent_at: at,
                raw_data: Some(json!({"outreach_queue_id": m.id})),
            };
            let outcome = crate::crm::dm::store(tx, std::slice::from_ref(&dm))
                .await
                .map_err(unrecorded)?;
            let Some(r) = outcome.results.first() else {
                return Err(SendError::Unavailable(
                    "the message was not recorded".into(),
                ));
            };
            match (r.status, r.message_id) {
                (DmStatus::Created | DmStatus::Flagged, message_id) => {
                    return Ok(SentReceipt {
                        sent_at: at,
                        message_id,
                    });
                }
                (DmStatus::Duplicate, Some(existing)) => {
                    let ours: Option<Option<bool>> = sqlx::query_scalar(
                        "SELECT raw_data->>'outreach_queue_id' = $3::text FROM instagram_messages
                          WHERE user_id = $1 AND id = $2",
                    )
                    .bind(tx.user_id())
                    .bind(existing)
                    .bind(m.id)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(|e| unrecorded(e.into()))?;
                    if ours.flatten() == Some(true) {
                        return Ok(SentReceipt {
                            sent_at: at,
                            message_id: Some(existing),
                        });
                    }
                }
                (DmStatus::Duplicate, None) => {}
                (DmStatus::Skipped, _) => {
                    return Err(SendError::Rejected(format!(
                        "your skip pattern {} drops this text as a system line, so it cannot be recorded: change the text or the pattern",
                        r.pattern.as_deref().unwrap_or("?")
                    )));
                }
            }
        }
        Err(SendError::Unavailable(
            "a thousand messages with these words to this contact share this instant".into(),
        ))
    }
}

/// `at` cut to the microsecond (PostgreSQL's precision).
pub(super) fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

/// Why DM ingestion did not record a message, as a send error.
fn unrecorded(e: DomainError) -> SendError {
    match e {
        DomainError::Db(e) => SendError::Unavailable(format!(
            "the database failed while recording the message: {e}"
        )),
        DomainError::Invalid(problems) => SendError::Rejected(
            problems
                .into_iter()
                .map(|(f, m)| format!("{f} {m}"))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        other => SendError::Rejected(other.to_string()),
    }
}

/// What one run did for one tenant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RunOutcome {
    /// Rows claimed by this run (pending → scheduled).
    pub claimed: usize,
    pub sent: usize,
    pub failed: usize,
    /// Rows left claimed after an unavailable sender, for the next run.
    pub retrying: usize,
    /// Claimed rows another run was sending (skipped here).
    pub skipped: usize,
    /// Quiet hours: nothing was claimed or sent.
    pub quiet: bool,
}

/// Claims the due rows today's cap allows (unless it is quiet), under the tenant's
/// advisory lock; returns how many, whether it is quiet, and every claimed row (new
/// or left by an earlier run) in send order.
async fn claim(tx: &mut TenantTx, now: DateTime<Utc>) -> DomainResult<(usize, bool, Vec<Uuid>)> {
    // one claimer per tenant at a time: the second counts the first's claims
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('outreach_claim:' || $1::text, 0))")
        .bind(tx.user_id())
        .execute(&mut **tx)
        .await?;
    let usage = usage(tx, now).await?;
    if usage.quiet_now() {
        return Ok((0, true, Vec::new()));
    }
    let room = usage.remaining();
    let claimed = if room > 0 {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE outreach_queue q SET status = 'scheduled', claimed_at = $2
               FROM (SELECT id FROM outreach_queue
                      WHERE user_id = $1 AND status = 'pending'
                        AND (scheduled_at IS NULL OR scheduled_at <= $2)
                      ORDER BY {SEND_ORDER} LIMIT $3
                      FOR UPDATE SKIP LOCKED) due
              WHERE q.user_id = $1 AND q.id = due.id"
        )))
        .bind(tx.user_id())
        .bind(now)
        .bind(room)
        .execute(&mut **tx)
        .await?
        .rows_affected() as usize
    } else {
        0
    };
    let ids: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM outreach_queue WHERE user_id = $1 AND status = 'scheduled'
          ORDER BY claimed_at NULLS FIRST, {SEND_ORDER}"
    )))
    .bind(tx.user_id())
    .fetch_all(&mut **tx)
    .await?;
    Ok((claimed, false, ids))
}

/// The claimed row to send, locked; `None` when another run holds it or it is no
/// longer claimed (sent, cancelled).
async fn lock_claimed(tx: &mut TenantTx, id: Uuid) -> DomainResult<Option<(Row, Value)>> {
    let row: Option<Written> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {}, to_jsonb(q.*) AS snapshot
           FROM outreach_queue q
           LEFT JOIN instagram_contacts c ON c.user_id = q.user_id AND c.id = q.contact_id
          WHERE q.user_id = $1 AND q.id = $2 AND q.status = 'scheduled'
          FOR UPDATE OF q SKIP LOCKED",
        COLUMNS
            .split(", ")
            .map(|c| match c.trim() {
                // the contact's username now, should it have been renamed
                "username" => "coalesce(c.instagram_username, q.username) AS username".to_string(),
                c => format!("q.{c}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    )))
    .bind(tx.user_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|w| (w.row, w.snapshot)))
}

/// What became of one claimed row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    Sent,
    Failed,
    Retrying,
    Skipped,
}

/// Sends one claimed row at `at` in a transaction of its own (see the module doc).
async fn send_one<S: OutreachSender>(
    pool: &PgPool,
    user_id: Uuid,
    sender: &S,
    id: Uuid,
    at: DateTime<Utc>,
) -> DomainResult<Attempt> {
    let mut tx = TenantTx::begin_as(pool, user_id, Actor::Worker).await?;
    let Some((row, _)) = lock_claimed(&mut tx, id).await? else {
        tx.rollback().await?;
        return Ok(Attempt::Skipped);
    };
    let outgoing = Outgoing {
        id,
        contact_id: row.contact_id,
        username: row.username.clone(),
        text: row.message_text.clone(),
        at,
        attempt: row.attempts + 1,
    };
    let error = match sender.send(&mut tx, &outgoing).await {
        Ok(receipt) => {
            transition(Status::Scheduled, Action::Send).map_err(DomainError::conflict)?;
            sqlx::query(
                "UPDATE outreach_queue
                    SET status = 'sent', sent_at = $3, sent_message_id = $4, error = NULL,
                        attempts = attempts + 1
                  WHERE user_id = $1 AND id = $2",
            )
            .bind(user_id)
            .bind(id)
            .bind(receipt.sent_at)
            .bind(receipt.message_id)
            .execute(&mut *tx)
            .await?;
            tx.log_event(
                "outreach_queue",
                id,
                "outreach.sent",
                &json!({
                    "contact_id": row.contact_id,
                    "message_id": receipt.message_id,
                    "sent_at": receipt.sent_at,
                    "attempts": outgoing.attempt,
                }),
            )
            .await?;
            tx.commit().await?;
            return Ok(Attempt::Sent);
        }
        Err(e) => e,
    };
    // nothing the attempt wrote stays; the attempt is recorded on its own
    tx.rollback().await?;
    let mut tx = TenantTx::begin_as(pool, user_id, Actor::Worker).await?;
    let Some((row, _)) = lock_claimed(&mut tx, id).await? else {
        tx.rollback().await?;
        return Ok(Attempt::Skipped);
    };
    let attempts = row.attempts + 1;
    let fails = matches!(error, SendError::Rejected(_)) || attempts >= MAX_ATTEMPTS;
    let message = match &error {
        SendError::Rejected(m) => m.clone(),
        SendError::Unavailable(m) if fails => {
            format!("the sender was unavailable {attempts} times; the last time: {m}")
        }
        SendError::Unavailable(m) => format!("not sent yet, the sender was unavailable: {m}"),
    };
    if fails {
        transition(Status::Scheduled, Action::Fail).map_err(DomainError::conflict)?;
    }
    sqlx::query(
        "UPDATE outreach_queue
            SET status = CASE WHEN $5 THEN 'failed' ELSE status END, error = $3, attempts = $4
          WHERE user_id = $1 AND id = $2",
    )
    .bind(user_id)
    .bind(id)
    .bind(&message)
    .bind(attempts)
    .bind(fails)
    .execute(&mut *tx)
    .await?;
    if fails {
        tx.log_event(
            "outreach_queue",
            id,
            "outreach.failed",
            &json!({"contact_id": row.contact_id, "error": message, "attempts": attempts}),
        )
        .await?;
    } else {
        tracing::info!(%id, attempts, error = %error, "an outreach message stays claimed for the next run");
    }
    tx.commit().await?;
    Ok(if fails {
        Attempt::Failed
    } else {
        Attempt::Retrying
    })
}

/// Sends what is due for tenant `user_id` at `now` through `sender`: claims the due
/// rows the cap allows outside quiet hours, then sends every claimed row, each in its
/// own transaction (see the module doc). Safe to run twice at once.
pub async fn send_due<S: OutreachSender>(
    pool: &PgPool,
    user_id: Uuid,
    sender: &S,
    now: DateTime<Utc>,
) -> DomainResult<RunOutcome> {
    let mut tx = TenantTx::begin_as(pool, user_id, Actor::Worker).await?;
    let (claimed, quiet, ids) = claim(&mut tx, now).await?;
    tx.commit().await?;
    let mut outcome = RunOutcome {
        claimed,
        quiet,
        ..RunOutcome::default()
    };
    let mut at = micros(now);
    for id in ids {
        match send_one(pool, user_id, sender, id, at).await? {
            Attempt::Sent => {
                outcome.sent += 1;
                at += Duration::microseconds(1);
            }
            Attempt::Failed => outcome.failed += 1,
            Attempt::Retrying => outcome.retrying += 1,
            Attempt::Skipped => outcome.skipped += 1,
        }
    }
    Ok(outcome)
}

/// The tenants with outreach to send at `now` (claimed rows, or pending rows whose
/// time has come): ids only, read across tenants by a definer function.
pub async fn tenants_due(pool: &PgPool, now: DateTime<Utc>) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT everreach_outreach_due_tenants($1)")
        .bind(now)
        .fetch_all(pool)
        .await
}

/// What one run over every tenant did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub tenants: usize,
    pub claimed: usize,
    pub sent: usize,
    pub failed: usize,
    pub retrying: usize,
    /// Tenants in quiet hours.
    pub quiet: usize,
    /// Tenants whose run failed (logged; their rows wait for the next run).
    pub errors: usize,
}

/// [`send_due`] for every tenant with something due at `now`, one after another; a
/// tenant whose run fails is logged and left for the next run.
pub async fn send_all_due<S: OutreachSender>(
    pool: &PgPool,
    sender: &S,
    now: DateTime<Utc>,
) -> Result<Summary, sqlx::Error> {
    let tenants = tenants_due(pool, now).await?;
    let mut summary = Summary {
        tenants: tenants.len(),
        ..Summary::default()
    };
    for user_id in tenants {
        match send_due(pool, user_id, sender, now).await {
            Ok(o) => {
                summary.claimed += o.claimed;
                summary.sent += o.sent;
                summary.failed += o.failed;
                summary.retrying += o.retrying;
                summary.quiet += usize::from(o.quiet);
            }
            Err(e) => {
                summary.errors += 1;
                tracing::warn!(%user_id, error = %e, "an outreach run failed; its rows wait for the next run");
            }
        }
    }
    Ok(summary)
}
