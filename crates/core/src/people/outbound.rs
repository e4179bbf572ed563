//! Our messages to people (`outbound_messages`): logging a sent e-mail or DM (which
//! also lands on the person's timeline as `email_sent`/`dm_sent`), its tracking
//! links, what opens and clicks do, and the per-variant statistics.
//!
//! Tracking links carry the tenant and the message, signed with the installation's
//! key ([`Keyring::sign`]); a click link also signs its destination, so a link cannot
//! be pointed anywhere else (no open redirect) and ids cannot be guessed or forged.
//! An open or a click sets `opened_at`/`clicked_at` the first time only and writes
//! an `opened_email`/`clicked_link` event; a click also counts as an open when the
//! pixel was blocked. Replies are found by ingestion (`model::REPLY_TYPES`).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::ingest::{self, IngestError};
use super::model::{EventChannel, NewEvent, Subject};
use crate::secrets::Keyring;

/// A message as the client logs it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    pub person_id: Uuid,
    pub segment_id: Option<Uuid>,
    /// email, instagram, linkedin, twitter, … (a network).
    pub channel: String,
    /// nurture, offer, reactivation, …
    pub goal_type: Option<String>,
    /// The A/B variant label: A, B, C…
    pub variant: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    /// Defaults to now.
    pub sent_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

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

/// A rule a message broke: `(field, message)`.
pub type Problem = (String, String);

/// Checks a message before anything is written.
pub fn check_message(m: &NewMessage, now: DateTime<Utc>) -> Result<EventChannel, Vec<Problem>> {
    let mut problems = Vec::new();
    let channel = match EventChannel::parse(&m.channel) {
        Ok(EventChannel::Network(c)) => Some(EventChannel::Network(c)),
        Ok(EventChannel::Site) => {
            problems.push(("/channel".into(), "we do not send messages on site".into()));
            None
        }
        Err(e) => {
            problems.push(("/channel".into(), e));
            None
        }
    };
    for (field, value, max) in [
        ("/goal_type", &m.goal_type, 64),
        ("/variant", &m.variant, 64),
        ("/subject", &m.subject, 1_000),
        ("/body", &m.body, 200_000),
    ] {
        if value.as_ref().is_some_and(|v| v.chars().count() > max) {
            problems.push((field.into(), format!("must be at most {max} characters")));
        } else if value.as_ref().is_some_and(|v| v.contains('\0')) {
            problems.push((field.into(), "must not contain a NUL character".into()));
        }
    }
    if m.sent_at
        .is_some_and(|t| t > now + chrono::Duration::days(1))
    {
        problems.push((
            "/sent_at".into(),
            "is in the future: log a message once it is sent".into(),
        ));
    }
    if m.metadata.as_ref().is_some_and(|v| !v.is_object()) {
        problems.push(("/metadata".into(), "must be a JSON object".into()));
    } else if m.metadata.as_ref().is_some_and(super::model::has_nul) {
        problems.push((
            "/metadata".into(),
            "must not contain a NUL character".into(),
        ));
    }
    match channel {
        Some(c) if problems.is_empty() => Ok(c),
        _ => Err(problems),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("the message is invalid")]
    Invalid(Vec<Problem>),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<IngestError> for MessageError {
    fn from(e: IngestError) -> MessageError {
        match e {
            IngestError::Invalid(p) => MessageError::Invalid(
                p.into_iter()
                    .map(|(f, m)| {
                        let field = f
                            .rsplit_once('/')
                            .map_or(f.clone(), |(_, l)| format!("/{l}"));
                        (field, m)
                    })
                    .collect(),
            ),
            IngestError::Db(e) => MessageError::Db(e),
        }
    }
}

/// Logs a sent message and its `email_sent`/`dm_sent` event.
pub async fn create(
    conn: &mut PgConnection,
    user_id: Uuid,
    m: &NewMessage,
) -> Result<Message, MessageError> {
    let now = Utc::now();
    let channel = check_message(m, now).map_err(MessageError::Invalid)?;
    let sent_at = m.sent_at.unwrap_or(now);
    let event_type = if channel.as_str() == "email" {
        "email_sent"
    } else {
        "dm_sent"
    };
    let id = Uuid::now_v7();
    // The event first: it checks that the person is this tenant's.
    ingest::store_checked(
        conn,
        user_id,
        vec![NewEvent {
            subject: Subject::Person(m.person_id),
            channel,
            event_type: event_type.into(),
            platform_id: Some(id.to_string()),
            content_excerpt: m.subject.clone().or_else(|| m.body.as_ref().map(|b| excerpt(b))),
            sentiment: None,
            traffic_type: "organic",
            metadata: Some(json!({ "outbound_message_id": id, "variant": m.variant, "goal_type": m.goal_type })),
            occurred_at: sent_at,
        }],
    )
    .await?;
    let row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
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
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => MessageError::Invalid(vec![(
            "/segment_id".into(),
            "no such segment".into(),
        )]),
        _ => MessageError::Db(e),
    })?;
    Ok(row)
}

fn excerpt(body: &str) -> String {
    body.chars().take(280).collect()
}

pub async fn get(
    conn: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
) -> Result<Option<Message>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLUMNS} FROM outbound_messages WHERE user_id = $1 AND id = $2"
    )))
    .bind(user_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// What a tracking link leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracked {
    pub user_id: Uuid,
    pub message_id: Uuid,
}

/// Makes and checks tracking links.
#[derive(Debug, Clone)]
pub struct Tracker {
    keyring: Arc<Keyring>,
    /// Where this installation is reached, e.g. `https://crm.example.com` (no slash).
    base_url: String,
}

const OPEN: &str = "outbound open";
const CLICK: &str = "outbound click";

impl Tracker {
    pub fn new(keyring: Arc<Keyring>, base_url: &str) -> Tracker {
        Tracker {
            keyring,
            base_url: base_url.trim_end_matches('/').to_string(),
        }
    }

    /// The same keys with another base URL.
    pub fn with_base_url(self, base_url: &str) -> Tracker {
        Tracker::new(self.keyring, base_url)
    }

    fn ids(t: Tracked) -> Vec<u8> {
        let mut v = t.user_id.as_bytes().to_vec();
        v.extend_from_slice(t.message_id.as_bytes());
        v
    }

    /// `<ids>.<key id>.<tag>`.
    fn token(&self, purpose: &str, t: Tracked, extra: &[u8]) -> String {
        let ids = Tracker::ids(t);
        let mut message = ids.clone();
        message.extend_from_slice(extra);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&ids),
            self.keyring.sign(purpose, &message)
        )
    }

    fn check(&self, purpose: &str, token: &str, extra: &[u8]) -> Option<Tracked> {
        let (ids, signed) = token.split_once('.')?;
        let ids = URL_SAFE_NO_PAD.decode(ids).ok()?;
        if ids.len() != 32 {
            return None;
        }
        let mut message = ids.clone();
        message.extend_from_slice(extra);
        if !self.keyring.verify(purpose, &message, signed) {
            return None;
        }
        Some(Tracked {
            user_id: Uuid::from_slice(&ids[..16]).ok()?,
            message_id: Uuid::from_slice(&ids[16..]).ok()?,
        })
    }

    pub fn open_token(&self, t: Tracked) -> String {
        self.token(OPEN, t, b"")
    }

    pub fn open_url(&self, t: Tracked) -> String {
        format!("{}/api/v1/track/open/{}", self.base_url, self.open_token(t))
    }

    /// The signed click link to `target`; `None` unless `target` is an absolute
    /// http(s) URL.
    pub fn click_url(&self, t: Tracked, target: &str) -> Option<String> {
        if !is_web_url(target) {
            return None;
        }
        Some(format!(
            "{}/api/v1/track/click/{}?u={}",
            self.base_url,
            self.token(CLICK, t, target.as_bytes()),
            percent_encode(target)
        ))
    }

    pub fn verify_open(&self, token: &str) -> Option<Tracked> {
        self.check(OPEN, token, b"")
    }

    /// The message a click token names, if it was signed for exactly `target`.
    pub fn verify_click(&self, token: &str, target: &str) -> Option<Tracked> {
        if !is_web_url(target) {
            return None;
        }
        self.check(CLICK, token, target.as_bytes())
    }
}

/// An absolute http(s) URL with a host and no spaces or control characters.
pub fn is_web_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !r.chars().any(|c| c.is_whitespace() || c.is_control())
    })
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The http(s) links written in a message body (for its click URLs).
pub fn links_in(body: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for start in ["https://", "http://"] {
        let mut rest = body;
        while let Some(i) = rest.find(start) {
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| c.is_whitespace() || "\"'<>()[]".contains(c))
                .unwrap_or(tail.len());
            let link = tail[..end].trim_end_matches(['.', ',', ';', ':', '!', '?']);
            if is_web_url(link) && !out.iter().any(|l| l == link) {
                out.push(link.to_string());
            }
            rest = &tail[end..];
        }
    }
    out
}

/// What an open or click did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The first: the time was set and the event written.
    First,
    /// Seen before: nothing changed.
    Again,
    /// No such message (erased since the link was sent).
    Gone,
}

/// Records an open (the pixel was loaded).
pub async fn record_open(
    conn: &mut PgConnection,
    user_id: Uuid,
    message_id: Uuid,
) -> Result<Recorded, IngestError> {
    record(conn, user_id, message_id, "opened_at", "opened_email", None).await
}

/// Records a click on a link to `target` (and an open, if none was seen).
pub async fn record_click(
    conn: &mut PgConnection,
    user_id: Uuid,
    message_id: Uuid,
    target: &str,
) -> Result<Recorded, IngestError> {
    sqlx::query(
        "UPDATE outbound_messages SET opened_at = now() WHERE user_id = $1 AND id = $2 AND opened_at IS NULL",
    )
    .bind(user_id)
    .bind(message_id)
    .execute(&mut *conn)
    .await?;
    record(
        conn,
        user_id,
        message_id,
        "clicked_at",
        "clicked_link",
        Some(json!({ "url": target })),
    )
    .await
}

async fn record(
    conn: &mut PgConnection,
    user_id: Uuid,
    message_id: Uuid,
    column: &str,
    event_type: &str,
    extra: Option<Value>,
) -> Result<Recorded, IngestError> {
    let first: Option<(Option<Uuid>, String, Option<String>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE outbound_messages SET {column} = now() WHERE user_id = $1 AND id = $2 AND {column} IS NULL
         RETURNING person_id, channel, variant"
    )))
    .bind(user_id)
    .bind(message_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((person_id, channel, variant)) = first else {
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM outbound_messages WHERE user_id = $1 AND id = $2)",
        )
        .bind(user_id)
        .bind(message_id)
        .fetch_one(&mut *conn)
        .await?;
        return Ok(if exists {
            Recorded::Again
        } else {
            Recorded::Gone
        });
    };
    let (Some(person_id), Ok(channel)) = (person_id, EventChannel::parse(&channel)) else {
        return Ok(Recorded::First);
    };
    let mut metadata = json!({ "outbound_message_id": message_id, "variant": variant });
    if let (Some(Value::Object(extra)), Some(m)) = (extra, metadata.as_object_mut()) {
        m.extend(extra);
    }
    ingest::store_checked(
        conn,
        user_id,
        vec![NewEvent {
            subject: Subject::Person(person_id),
            channel,
            event_type: event_type.into(),
            platform_id: Some(message_id.to_string()),
            content_excerpt: None,
            sentiment: None,
            traffic_type: "organic",
            metadata: Some(metadata),
            occurred_at: Utc::now(),
        }],
    )
    .await?;
    Ok(Recorded::First)
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
    conn: &mut PgConnection,
    user_id: Uuid,
    group_by: GroupBy,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<Vec<StatRow>, sqlx::Error> {
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
        .fetch_all(conn)
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

    fn tracker() -> Tracker {
        Tracker::new(
            Arc::new(Keyring::from_raw(vec![[7; 32]], None)),
            "https://crm.example.com/",
        )
    }

    fn tracked() -> Tracked {
        Tracked {
            user_id: Uuid::new_v4(),
            message_id: Uuid::new_v4(),
        }
    }

    #[test]
    fn open_tokens_verify_and_reject_tampering() {
        let t = tracked();
        let tr = tracker();
        let token = tr.open_token(t);
        assert_eq!(tr.verify_open(&token), Some(t));
        assert!(
            tr.open_url(t)
                .starts_with("https://crm.example.com/api/v1/track/open/")
        );
        // another message's ids with this signature
        let (_, sig) = token.split_once('.').unwrap();
        let other = URL_SAFE_NO_PAD.encode(Tracker::ids(tracked()));
        assert_eq!(tr.verify_open(&format!("{other}.{sig}")), None);
        // a flipped tag character, a missing part, garbage, another key
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(tr.verify_open(&String::from_utf8(flipped).unwrap()), None);
        assert_eq!(tr.verify_open(token.rsplit_once('.').unwrap().0), None);
        assert_eq!(tr.verify_open("garbage"), None);
        let other_key = Tracker::new(Arc::new(Keyring::from_raw(vec![[8; 32]], None)), "x");
        assert_eq!(other_key.verify_open(&token), None);
        // an open token is not a click token
        assert_eq!(tr.verify_click(&token, "https://a.example"), None);
    }

    #[test]
    fn click_tokens_are_bound_to_their_destination() {
        let t = tracked();
        let tr = tracker();
        let url = tr.click_url(t, "https://ada.dev/post?a=1&b=2").unwrap();
        let token = url
            .split("/track/click/")
            .nth(1)
            .unwrap()
            .split('?')
            .next()
            .unwrap();
        assert!(
            url.ends_with("?u=https%3A%2F%2Fada.dev%2Fpost%3Fa%3D1%26b%3D2"),
            "{url}"
        );
        assert_eq!(
            tr.verify_click(token, "https://ada.dev/post?a=1&b=2"),
            Some(t)
        );
        assert_eq!(tr.verify_click(token, "https://evil.example/"), None);
        assert_eq!(tr.click_url(t, "javascript:alert(1)"), None);
        assert_eq!(tr.click_url(t, "//evil.example"), None);
    }

    #[test]
    fn links_are_found_in_bodies() {
        assert_eq!(
            links_in("See https://ada.dev/a. And (http://b.io/x?y=1), https://ada.dev/a again"),
            ["https://ada.dev/a", "http://b.io/x?y=1"]
        );
        assert!(links_in("no links, just https:// and http://").is_empty());
    }

    #[test]
    fn rates_are_shares_of_sent() {
        assert_eq!(rate(1, 3), Some(0.3333));
        assert_eq!(rate(0, 0), None);
    }
}
