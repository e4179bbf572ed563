//! Our messages to people (`outbound_messages`): logging a sent e-mail or DM (which
//! also lands on the person's timeline as `email_sent`/`dm_sent`, and records the
//! domain event `outbound_message.sent`) and the per-variant statistics. Their
//! tracking links, opens and clicks are [`super::tracking`]; replies are found by
//! ingestion (`model::REPLY_TYPES`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::ingest;
use super::model::{NewEvent, NewMessage, Subject, check_message};
use crate::db::tenant::TenantTx;
use crate::error::{DomainError, DomainResult};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Message {
    pub id: Uuid,
    pub person_id: Option<Uuid>,
    pub segment_id: Option<Uuid>,
    pub channel: String,
    pub goal_type: Option<String>,
    pub variant: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub opened_at: Option<DateTime<Utc>>,
    pub clicked_at: Option<DateTime<Utc>>,
    pub replied_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

const MESSAGE_COLUMNS: &str = "id, person_id, segment_id, channel, goal_type, variant, subject, body, sent_at, \
     opened_at, clicked_at, replied_at, metadata";

/// An item's field (`/events/0/person_id`) as the message's own (`/person_id`): a
/// message is checked as one event of a batch of one.
fn as_message_field(e: DomainError) -> DomainError {
    match e {
        DomainError::Invalid(p) => DomainError::Invalid(
            p.into_iter()
                .map(|(f, m)| {
                    let field = f
                        .rsplit_once('/')
                        .map_or(f.clone(), |(_, l)| format!("/{l}"));
                    (field, m)
                })
                .collect(),
        ),
        other => other,
    }
}

/// Logs a sent message, its `email_sent`/`dm_sent` event and `outbound_message.sent`.
pub async fn create(tx: &mut TenantTx, m: &NewMessage) -> DomainResult<Message> {
    let user_id = tx.user_id();
    let now = Utc::now();
    let channel = check_message(m, now).map_err(DomainError::Invalid)?;
    let sent_at = m.sent_at.unwrap_or(now);
    let event_type = if channel.as_str() == "email" {
        "email_sent"
    } else {
        "dm_sent"
    };
    let id = Uuid::now_v7();
    // The event first: it checks that the person is this tenant's.
    ingest::store_checked(tx, vec![NewEvent {
            subject: Subject::Person(m.person_id),
            channel,
            event_type: event_type.into(),
            platform_id: Some(id.to_string()),
            content_excerpt: m.subject.clone().or_else(|| m.body.as_ref().map(|b| excerpt(b))),
            sentiment: None,
            traffic_type: "organic",
            metadata: Some(json!({ "outbound_message_id": id, "variant": m.variant, "goal_type": m.goal_type })),
            occurred_at: sent_at,
            identity_name: None,
        }],
    )
    .await
    .map_err(as_message_field)?;
    let row: Message = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO outbound_messages (id, user_id, person_id, segment_id, channel, goal_type, variant, subject, body, sent_at, metadata)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {MESSAGE_COLUMNS}"
    )))
    .bind(id)
    .bind(user_id)
    .bind(m.person_id)
    .bind(m.segment_id)
    .bind(channel.as_str())
    .bind(&m.goal_type)
    .bind(&m.variant)
    .bind(&m.subject)
    .bind(&m.body)
    .bind(sent_at)
    .bind(&m.metadata)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            DomainError::invalid("/segment_id", "no such segment")
        }
        _ => DomainError::Db(e),
    })?;
    tx.log_event(
        "outbound_message",
        id,
        "outbound_message.sent",
        &json!({ "person_id": m.person_id, "channel": channel.as_str(), "goal_type": m.goal_type,
                 "variant": m.variant, "sent_at": sent_at }),
    )
    .await?;
    Ok(row)
}

/// Deletes a message logged by mistake, with the timeline events it made (sent,
/// opened, clicked); the person's insights are recomputed, an audit row keeps what
/// it was, and `outbound_message.deleted` is recorded.
pub async fn delete(tx: &mut TenantTx, id: Uuid) -> DomainResult<()> {
    let user_id = tx.user_id();
    let deleted: Option<(Option<Uuid>, Value)> = sqlx::query_as(
        "DELETE FROM outbound_messages m WHERE user_id = $1 AND id = $2 RETURNING person_id, to_jsonb(m)",
    )
    .bind(user_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((person_id, row)) = deleted else {
        return Err(DomainError::NotFound);
    };
    let events = match person_id {
        Some(person_id) => {
            let n = sqlx::query(
                "DELETE FROM person_events WHERE user_id = $1 AND person_id = $2 AND platform_id = $3
                    AND event_type IN ('email_sent', 'dm_sent', 'opened_email', 'clicked_link')",
            )
            .bind(user_id)
            .bind(person_id)
            .bind(id.to_string())
            .execute(&mut **tx)
            .await?
            .rows_affected();
            super::insights::enqueue(tx, [person_id].into_iter(), &[]).await?;
            n
        }
        None => 0,
    };
    tx.audit(
        "outbound_messages",
        crate::audit::Operation::Delete,
        Some(&row),
        None,
    )
    .await?;
    tx.log_event(
        "outbound_message",
        id,
        "outbound_message.deleted",
        &json!({ "person_id": person_id, "timeline_events_deleted": events }),
    )
    .await?;
    Ok(())
}

fn excerpt(body: &str) -> String {
    body.chars().take(280).collect()
}

pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Option<Message>, sqlx::Error> {
    let user_id = tx.user_id();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLUMNS} FROM outbound_messages WHERE user_id = $1 AND id = $2"
    )))
    .bind(user_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// How to group the statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// Per goal type and variant (the A/B view).
    Variant,
    GoalType,
    Channel,
}

impl GroupBy {
    pub fn parse(text: &str) -> Option<GroupBy> {
        match text {
            "variant" => Some(GroupBy::Variant),
            "goal_type" => Some(GroupBy::GoalType),
            "channel" => Some(GroupBy::Channel),
            _ => None,
        }
    }
}

/// Counts and rates of one group.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatRow {
    pub goal_type: Option<String>,
    pub variant: Option<String>,
    pub channel: Option<String>,
    pub sent: i64,
    pub opened: i64,
    pub clicked: i64,
    pub replied: i64,
    /// Of sent; `null` when none were sent.
    pub open_rate: Option<f64>,
    pub click_rate: Option<f64>,
    pub reply_rate: Option<f64>,
}

#[derive(sqlx::FromRow)]
struct StatCounts {
    goal_type: Option<String>,
    variant: Option<String>,
    channel: Option<String>,
    sent: i64,
    opened: i64,
    clicked: i64,
    replied: i64,
}

/// Rounds a share to four decimals; `None` for an empty group.
pub fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0)
}

/// Sent/opened/clicked/replied per group, for messages sent in `[since, until)`.
pub async fn stats(
    tx: &mut TenantTx,
    group_by: GroupBy,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<Vec<StatRow>, sqlx::Error> {
    let user_id = tx.user_id();
    let (goal, variant, channel) = match group_by {
        GroupBy::Variant => ("goal_type", "variant", "NULL::text"),
        GroupBy::GoalType => ("goal_type", "NULL::text", "NULL::text"),
        GroupBy::Channel => ("NULL::text", "NULL::text", "channel"),
    };
    let rows: Vec<StatCounts> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {goal} AS goal_type, {variant} AS variant, {channel} AS channel, count(*) AS sent,
                    count(opened_at) AS opened, count(clicked_at) AS clicked, count(replied_at) AS replied
               FROM outbound_messages
              WHERE user_id = $1 AND ($2::timestamptz IS NULL OR sent_at >= $2) AND ($3::timestamptz IS NULL OR sent_at < $3)
              GROUP BY 1, 2, 3 ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST"
        )))
        .bind(user_id)
        .bind(since)
        .bind(until)
        .fetch_all(&mut **tx)
        .await?;
    Ok(rows
        .into_iter()
        .map(|c| StatRow {
            open_rate: rate(c.opened, c.sent),
            click_rate: rate(c.clicked, c.sent),
            reply_rate: rate(c.replied, c.sent),
            goal_type: c.goal_type,
            variant: c.variant,
            channel: c.channel,
            sent: c.sent,
            opened: c.opened,
            clicked: c.clicked,
            replied: c.replied,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_shares_of_sent() {
        assert_eq!(rate(1, 3), Some(0.3333));
        assert_eq!(rate(0, 0), None);
    }
}
