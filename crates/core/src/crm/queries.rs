//! 001's documented queries, as the API answers them: relationship health (with
//! `days_since_touch`), contacts needing attention, weekly tasks by score band,
//! message search and active fit signals. Each returns what the seed's SQL returns on
//! the same data (a test holds them to it), with a tie-break the seed leaves out so
//! pages are stable: username after the seed's own order.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::db::tenant::TenantTx;
use crate::error::{DomainError, DomainResult};

/// 001's "Get Relationship Health Score" row.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Health {
    pub id: Uuid,
    pub instagram_username: String,
    pub display_name: Option<String>,
    pub relationship_score: Option<i32>,
    pub relationship_stage: Option<String>,
    pub resonance_score: Option<i32>,
    pub need_clarity_score: Option<i32>,
    pub value_delivered_score: Option<i32>,
    pub reliability_score: Option<i32>,
    pub consent_level: Option<i32>,
    /// Whole days since `last_meaningful_touch` (null when never touched).
    pub days_since_touch: Option<i64>,
}

/// The health of the contact with this username (as typed: `@` and case ignored).
pub async fn health(tx: &mut TenantTx, username: &str) -> DomainResult<Health> {
    let username = crate::people::normalize_handle(crate::people::Channel::Instagram, username)
        .map_err(|e| DomainError::invalid("/username", e.to_string()))?;
    sqlx::query_as(
        "SELECT id, instagram_username, display_name, relationship_score, relationship_stage,
                resonance_score, need_clarity_score, value_delivered_score, reliability_score,
                consent_level, EXTRACT(DAY FROM NOW() - last_meaningful_touch)::int8 AS days_since_touch
           FROM instagram_contacts
          WHERE user_id = $1 AND instagram_username = $2",
    )
    .bind(tx.user_id())
    .bind(&username)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(DomainError::NotFound)
}

/// A contact in a list.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ContactRow {
    pub id: Uuid,
    pub instagram_username: String,
    pub display_name: Option<String>,
    pub relationship_score: Option<i32>,
    pub relationship_stage: Option<String>,
    pub last_meaningful_touch: Option<DateTime<Utc>>,
}

const CONTACT_COLUMNS: &str = "id, instagram_username, display_name, relationship_score, relationship_stage, last_meaningful_touch";

/// 001's "Get Contacts Needing Attention": no meaningful touch for `days` days (or
/// never), best score first, at most `limit`.
pub async fn needing_attention(
    tx: &mut TenantTx,
    days: i32,
    limit: i64,
) -> DomainResult<Vec<ContactRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CONTACT_COLUMNS} FROM instagram_contacts
          WHERE user_id = $1
            AND (last_meaningful_touch < NOW() - make_interval(days => $2) OR last_meaningful_touch IS NULL)
          ORDER BY relationship_score DESC, instagram_username
          LIMIT $3"
    )))
    .bind(tx.user_id())
    .bind(days)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?)
}

/// 001's "Get Weekly Tasks by Score Range": 60 and up (micro-wins, 10), 40–59
/// (curiosity, 10), under 40 (rewarm, 5).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WeeklyTasks {
    pub micro_wins: Vec<ContactRow>,
    pub curiosity: Vec<ContactRow>,
    pub rewarm: Vec<ContactRow>,
}

/// The three bands. The seed orders only the first (best score first); the others are
/// given the same order here, so the contacts nearest the next band come first.
pub async fn weekly_tasks(tx: &mut TenantTx) -> DomainResult<WeeklyTasks> {
    let user_id = tx.user_id();
    let band = |low: i32, high: i32, limit: i64| {
        sqlx::query_as::<_, ContactRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {CONTACT_COLUMNS} FROM instagram_contacts
              WHERE user_id = $1 AND relationship_score >= $2 AND relationship_score < $3
              ORDER BY relationship_score DESC, instagram_username
              LIMIT $4"
        )))
        .bind(user_id)
        .bind(low)
        .bind(high)
        .bind(limit)
    };
    let micro_wins = band(60, i32::MAX, 10).fetch_all(&mut **tx).await?;
    let curiosity = band(40, 60, 10).fetch_all(&mut **tx).await?;
    let rewarm = band(i32::MIN, 40, 5).fetch_all(&mut **tx).await?;
    Ok(WeeklyTasks {
        micro_wins,
        curiosity,
        rewarm,
    })
}

/// 001's "Search Messages" row.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct MessageHit {
    pub id: Uuid,
    pub contact_id: Option<Uuid>,
    pub message_text: String,
    pub is_outbound: bool,
    pub sent_at: Option<DateTime<Utc>>,
    pub instagram_username: String,
}

/// Messages containing `text` (case ignored), newest first, at most `limit`, read
/// through the trigram index (`everreach_instagram_message_hits`).
pub async fn search_messages(
    tx: &mut TenantTx,
    text: &str,
    limit: i64,
) -> DomainResult<Vec<MessageHit>> {
    let pattern = format!("%{}%", crate::people::search::like_literal(text));
    Ok(sqlx::query_as(
        "SELECT m.id, m.contact_id, m.message_text, m.is_outbound, m.sent_at, c.instagram_username
           FROM everreach_instagram_message_hits($2, $3::int4) h
           JOIN instagram_messages m ON m.user_id = $1 AND m.id = h.message_id
           JOIN instagram_contacts c ON c.user_id = $1 AND c.id = m.contact_id
          ORDER BY m.sent_at DESC, m.id",
    )
    .bind(tx.user_id())
    .bind(&pattern)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?)
}

/// An active fit signal.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ActiveFitSignal {
    pub id: Uuid,
    pub product: String,
    pub signal_key: String,
    pub signal_description: String,
    pub offer_template: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
}

/// 001's "Get Fit Signals": the active ones by product.
pub async fn active_fit_signals(tx: &mut TenantTx) -> DomainResult<Vec<ActiveFitSignal>> {
    Ok(sqlx::query_as(
        "SELECT id, product, signal_key, signal_description, offer_template, created_at
           FROM fit_signals WHERE user_id = $1 AND is_active = true
          ORDER BY product, signal_key",
    )
    .bind(tx.user_id())
    .fetch_all(&mut **tx)
    .await?)
}
