//! The inbox: conversations (unread first), one thread with its messages, marking it
//! read, and replying — within Instagram's 24-hour messaging window only (Meta lets a
//! business answer a person for 24 hours after that person's last message). A reply is
//! recorded through DM ingestion as our message (the outbox: until the publishing
//! issue brings the Instagram sender, EverReach records what you send rather than
//! sending it), so the thread, totals, timeline and score follow.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::dm;
use super::model::{CheckedDm, DmOutcome, MAX_MESSAGE_BYTES};
use crate::db::tenant::TenantTx;
use crate::error::{DomainError, DomainResult};

/// How long after their last message a reply may go (Meta's messaging window).
pub const REPLY_WINDOW_HOURS: i64 = 24;

/// Conversations a page.
pub const PAGE: i64 = 50;

/// One conversation in the list.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ConversationRow {
    pub id: Uuid,
    pub contact_id: Uuid,
    pub instagram_username: String,
    pub display_name: Option<String>,
    pub relationship_score: Option<i32>,
    pub relationship_stage: Option<String>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub last_message_preview: Option<String>,
    pub last_message_is_outbound: Option<bool>,
    pub is_read: bool,
}

/// A page of conversations, unread first, then the most recent; `page` from 0. Also
/// whether there is a next page and how many are unread in all.
pub async fn list(
    tx: &mut TenantTx,
    unread_only: bool,
    page: i64,
) -> DomainResult<(Vec<ConversationRow>, bool, i64)> {
    let mut rows: Vec<ConversationRow> = sqlx::query_as(
        "SELECT v.id, c.id AS contact_id, c.instagram_username, c.display_name, c.relationship_score,
                c.relationship_stage, v.last_message_at, v.last_message_preview, v.last_message_is_outbound,
                coalesce(v.is_read, true) AS is_read
           FROM instagram_conversations v
           JOIN instagram_contacts c ON c.user_id = v.user_id AND c.id = v.contact_id
          WHERE v.user_id = $1 AND NOT coalesce(v.is_archived, false)
            AND (NOT $2 OR NOT coalesce(v.is_read, true))
          ORDER BY coalesce(v.is_read, true), v.last_message_at DESC NULLS LAST, v.id
          LIMIT $3 OFFSET $4",
    )
    .bind(tx.user_id())
    .bind(unread_only)
    .bind(PAGE + 1)
    .bind(page.max(0) * PAGE)
    .fetch_all(&mut **tx)
    .await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let unread: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM instagram_conversations
          WHERE user_id = $1 AND NOT coalesce(is_read, true) AND NOT coalesce(is_archived, false)",
    )
    .bind(tx.user_id())
    .fetch_one(&mut **tx)
    .await?;
    Ok((rows, more, unread))
}

/// One message of a thread.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ThreadMessage {
    pub id: Uuid,
    pub message_text: String,
    pub is_outbound: bool,
    pub sent_at: Option<DateTime<Utc>>,
    pub sent_by_automation: Option<bool>,
    pub spam_pattern: Option<String>,
}

/// A thread: its conversation row and its newest messages, oldest first.
#[derive(Debug, Clone)]
pub struct Thread {
    pub conversation: ConversationRow,
    pub thread_id: Option<String>,
    pub messages: Vec<ThreadMessage>,
    /// Whether older messages exist than those shown.
    pub older: bool,
    /// When their last message was (none if they never wrote).
    pub last_theirs: Option<DateTime<Utc>>,
}

/// Messages a thread shows.
pub const THREAD_MESSAGES: i64 = 200;

/// Thread `id` (a conversation of the tenant), or `NotFound`.
pub async fn thread(tx: &mut TenantTx, id: Uuid) -> DomainResult<Thread> {
    let conversation: ConversationRow = sqlx::query_as(
        "SELECT v.id, c.id AS contact_id, c.instagram_username, c.display_name, c.relationship_score,
                c.relationship_stage, v.last_message_at, v.last_message_preview, v.last_message_is_outbound,
                coalesce(v.is_read, true) AS is_read
           FROM instagram_conversations v
           JOIN instagram_contacts c ON c.user_id = v.user_id AND c.id = v.contact_id
          WHERE v.user_id = $1 AND v.id = $2",
    )
    .bind(tx.user_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(DomainError::NotFound)?;
    let thread_id: Option<String> = sqlx::query_scalar(
        "SELECT thread_id FROM instagram_conversations WHERE user_id = $1 AND id = $2",
    )
    .bind(tx.user_id())
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    let mut messages: Vec<ThreadMessage> = sqlx::query_as(
        "SELECT id, message_text, is_outbound, sent_at, sent_by_automation, spam_pattern
           FROM instagram_messages WHERE user_id = $1 AND conversation_id = $2
          ORDER BY sent_at DESC NULLS LAST, id DESC LIMIT $3",
    )
    .bind(tx.user_id())
    .bind(id)
    .bind(THREAD_MESSAGES + 1)
    .fetch_all(&mut **tx)
    .await?;
    let older = messages.len() as i64 > THREAD_MESSAGES;
    messages.truncate(THREAD_MESSAGES as usize);
    messages.reverse();
    let last_theirs: Option<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT max(sent_at) FROM instagram_messages
          WHERE user_id = $1 AND conversation_id = $2 AND NOT is_outbound AND spam_pattern IS NULL",
    )
    .bind(tx.user_id())
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Thread {
        conversation,
        thread_id,
        messages,
        older,
        last_theirs,
    })
}

/// Marks thread `id` read.
pub async fn mark_read(tx: &mut TenantTx, id: Uuid) -> DomainResult<()> {
    sqlx::query(
        "UPDATE instagram_conversations SET is_read = true
          WHERE user_id = $1 AND id = $2 AND is_read IS DISTINCT FROM true",
    )
    .bind(tx.user_id())
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Where a reply stands against the 24-hour window at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// They never wrote: Instagram lets a business message first only through
    /// approved outreach, not a reply.
    NeverWrote,
    Open {
        closes_at: DateTime<Utc>,
    },
    Closed {
        closed_at: DateTime<Utc>,
    },
}

/// The window after their last message.
pub fn window(last_theirs: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Window {
    match last_theirs {
        None => Window::NeverWrote,
        Some(at) => {
            let closes_at = at + Duration::hours(REPLY_WINDOW_HOURS);
            if now < closes_at {
                Window::Open { closes_at }
            } else {
                Window::Closed {
                    closed_at: closes_at,
                }
            }
        }
    }
}

/// Why a reply cannot go in this window, in words (`None` when it can).
pub fn window_refusal(w: Window) -> Option<String> {
    match w {
        Window::Open { .. } => None,
        Window::NeverWrote => Some(
            "They have not written to you yet: Instagram lets a business reply only within 24 hours of the person's last message. Queue it as outreach instead.".into(),
        ),
        Window::Closed { closed_at } => Some(format!(
            "Instagram's 24-hour window closed at {} UTC, 24 hours after their last message: this reply cannot be sent until they write again.",
            closed_at.format("%Y-%m-%d %H:%M")
        )),
    }
}

/// Records `text` as our reply in thread `id` at `now`, if the window is open; the
/// problem is named on `/message_text` otherwise.
pub async fn reply(
    tx: &mut TenantTx,
    id: Uuid,
    text: &str,
    now: DateTime<Utc>,
) -> DomainResult<DmOutcome> {
    let thread = thread(tx, id).await?;
    let text = text.trim();
    let field = |m: String| DomainError::Invalid(vec![("/message_text".into(), m)]);
    if text.is_empty() {
        return Err(field("Write the reply".into()));
    }
    if text.len() > MAX_MESSAGE_BYTES || text.contains('\0') {
        return Err(field(format!(
            "A reply is at most {MAX_MESSAGE_BYTES} bytes of text"
        )));
    }
    if let Some(why) = window_refusal(window(thread.last_theirs, now)) {
        return Err(field(why));
    }
    let dm = CheckedDm {
        username: thread.conversation.instagram_username.clone(),
        display_name: None,
        thread_id: thread.thread_id.clone(),
        text: text.to_string(),
        message_type: "text".into(),
        is_outbound: true,
        automated: false,
        sent_at: DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now),
        raw_data: Some(serde_json::json!({"source": "everreach_inbox"})),
    };
    dm::store(tx, &[dm]).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn the_window_is_24_hours_after_their_last_message() {
        let last = at("2026-12-01T10:00:00Z");
        assert_eq!(
            window(Some(last), at("2026-12-02T09:59:59Z")),
            Window::Open {
                closes_at: at("2026-12-02T10:00:00Z")
            }
        );
        assert_eq!(
            window(Some(last), at("2026-12-02T10:00:00Z")),
            Window::Closed {
                closed_at: at("2026-12-02T10:00:00Z")
            }
        );
        assert_eq!(window(None, last), Window::NeverWrote);
        assert!(
            window_refusal(window(Some(last), at("2026-12-03T00:00:00Z")))
                .unwrap()
                .contains("closed at 2026-12-02 10:00 UTC")
        );
        assert!(window_refusal(window(Some(last), last)).is_none());
    }
}
