//! What the Today page reads: 001's weekly tasks by score band and contacts needing
//! attention, each with its next best action, and the latest replies — who needs
//! you, and what to say.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::nba::NextBestAction;
use super::queries::{self, ContactRow, WeeklyTasks};
use super::score;
use crate::db::tenant::TenantTx;
use crate::error::DomainResult;

/// A reply of theirs.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Reply {
    pub message_id: Uuid,
    pub conversation_id: Option<Uuid>,
    pub contact_id: Uuid,
    pub instagram_username: String,
    pub display_name: Option<String>,
    pub message_text: String,
    pub sent_at: Option<DateTime<Utc>>,
}

/// Today's lists.
#[derive(Debug, Clone)]
pub struct Today {
    pub tasks: WeeklyTasks,
    pub attention: Vec<ContactRow>,
    /// The next best action of every contact listed above.
    pub actions: HashMap<Uuid, NextBestAction>,
    /// Their messages of the last 7 days, newest first (at most 10).
    pub replies: Vec<Reply>,
}

/// Reads today's lists at `now`.
pub async fn today(tx: &mut TenantTx, now: DateTime<Utc>) -> DomainResult<Today> {
    let tasks = queries::weekly_tasks(tx).await?;
    let attention = queries::needing_attention(tx, 30, 10).await?;
    let mut ids: Vec<Uuid> = tasks
        .micro_wins
        .iter()
        .chain(&tasks.curiosity)
        .chain(&tasks.rewarm)
        .chain(&attention)
        .map(|c| c.id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let actions = score::next_best_actions(tx, &ids).await?;
    let replies: Vec<Reply> = sqlx::query_as(
        "SELECT m.id AS message_id, m.conversation_id, c.id AS contact_id, c.instagram_username, c.display_name,
                m.message_text, m.sent_at
           FROM instagram_messages m
           JOIN instagram_contacts c ON c.user_id = m.user_id AND c.id = m.contact_id
          WHERE m.user_id = $1 AND NOT m.is_outbound AND m.spam_pattern IS NULL AND m.sent_at >= $2
          ORDER BY m.sent_at DESC, m.id LIMIT 10",
    )
    .bind(tx.user_id())
    .bind(now - Duration::days(7))
    .fetch_all(&mut **tx)
    .await?;
    Ok(Today {
        tasks,
        attention,
        actions,
        replies,
    })
}
