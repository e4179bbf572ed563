//! The CRM's inputs and their pure rules: a DM as a client sends it
//! ([`DmInput`]) and its checks ([`check_dms`]), giving [`CheckedDm`]s ready to store.
//! No SQL.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::FieldProblem;
use crate::people::{Channel, normalize_handle};

/// Most DMs in one batch.
pub const MAX_BATCH: usize = 1_000;

/// Longest message text (bytes, after trimming). 001's dedupe key is a unique b-tree
/// index on `(contact_id, message_text, sent_at)`, whose entries PostgreSQL caps near
/// 2,700 bytes; Instagram caps a DM at 1,000 characters, so a text longer than this
/// is not a DM, and it is refused (naming the message) rather than cut.
pub const MAX_MESSAGE_BYTES: usize = 2_400;

/// Largest `raw_data` (bytes of JSON).
pub const MAX_RAW_BYTES: usize = 64 * 1024;

/// Longest display name and thread id (characters).
pub const MAX_NAME_CHARS: usize = 200;

/// One DM as the extension, an export or the API client sends it.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DmInput {
    /// The other person's Instagram username (`@` and profile URLs accepted): the
    /// contact, created when new.
    pub instagram_username: String,
    /// Their name as Instagram shows it; kept when the contact has none. Without it a
    /// `known_handle` pattern for the username names them.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Instagram's thread id. Without it the message joins the contact's most recent
    /// conversation (one is created when they have none).
    #[serde(default)]
    pub thread_id: Option<String>,
    /// The text (trimmed; 1 to 2,400 bytes). Emoji alone are a message.
    pub message_text: String,
    /// `text` (default), or another lower-case kind: `image`, `story_reply`, `like`…
    #[serde(default)]
    pub message_type: Option<String>,
    /// Whether you sent it (true) or they did (false).
    pub is_outbound: Option<bool>,
    /// Whether automation sent it (not a meaningful touch). Default false.
    #[serde(default)]
    pub sent_by_automation: Option<bool>,
    /// When it was sent (RFC 3339): part of the dedupe key, so a batch sent twice
    /// stores each message once.
    pub sent_at: Option<DateTime<Utc>>,
    /// What the source gave, kept as is (a JSON object, at most 64 KiB).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub raw_data: Option<Value>,
}

/// A DM that passed every rule.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedDm {
    /// Normalised (lower-case, no `@`).
    pub username: String,
    pub display_name: Option<String>,
    pub thread_id: Option<String>,
    pub text: String,
    pub message_type: String,
    pub is_outbound: bool,
    pub automated: bool,
    /// To the microsecond, as PostgreSQL stores it (the dedupe key compares it).
    pub sent_at: DateTime<Utc>,
    pub raw_data: Option<Value>,
}

/// Checks a batch: every problem of every message at once, each named
/// `/messages/<index>/<field>`.
pub fn check_dms(
    inputs: &[DmInput],
    now: DateTime<Utc>,
) -> Result<Vec<CheckedDm>, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    if inputs.is_empty() || inputs.len() > MAX_BATCH {
        problems.push((
            "/messages".to_string(),
            format!(
                "send 1 to {MAX_BATCH} messages (this batch has {}); split larger exports",
                inputs.len()
            ),
        ));
        return Err(problems);
    }
    let mut checked = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        match check_dm(input, now) {
            Ok(dm) => checked.push(dm),
            Err(mine) => problems.extend(
                mine.into_iter()
                    .map(|(field, message)| (format!("/messages/{i}{field}"), message)),
            ),
        }
    }
    if problems.is_empty() {
        Ok(checked)
    } else {
        Err(problems)
    }
}

const NUL: &str = "must not contain a NUL character";

/// One message's rules (fields named from the message: `/message_text`).
pub fn check_dm(input: &DmInput, now: DateTime<Utc>) -> Result<CheckedDm, Vec<FieldProblem>> {
    let mut problems: Vec<FieldProblem> = Vec::new();
    let mut bad = |field: &str, message: String| problems.push((field.to_string(), message));

    let username = if input.instagram_username.contains('\0') {
        bad("/instagram_username", NUL.into());
        None
    } else {
        match normalize_handle(Channel::Instagram, &input.instagram_username) {
            Ok(u) => Some(u),
            Err(e) => {
                bad("/instagram_username", e.to_string());
                None
            }
        }
    };

    let display_name = optional_text(&input.display_name, "/display_name", &mut bad);
    let thread_id = optional_text(&input.thread_id, "/thread_id", &mut bad);

    let text = input.message_text.trim();
    if text.is_empty() {
        bad(
            "/message_text",
            "is empty: send the text, or for a photo, sticker or like a short stand-in such as \"[photo]\" with its message_type".into(),
        );
    } else if text.contains('\0') {
        bad("/message_text", NUL.into());
    } else if text.len() > MAX_MESSAGE_BYTES {
        bad(
            "/message_text",
            format!(
                "is {} bytes; a DM is at most {MAX_MESSAGE_BYTES} bytes here (Instagram allows 1,000 characters): send it as separate messages",
                text.len()
            ),
        );
    }

    let message_type = match input.message_type.as_deref().map(str::trim) {
        None | Some("") => "text".to_string(),
        Some(t) if t.len() <= 32 && t.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') => {
            t.to_string()
        }
        Some(_) => {
            bad(
                "/message_type",
                "must be 1 to 32 lower-case letters or '_' (text, image, story_reply, like…)"
                    .into(),
            );
            String::new()
        }
    };

    if input.is_outbound.is_none() {
        bad(
            "/is_outbound",
            "is required: true when you sent the message, false when they did".into(),
        );
    }

    let sent_at = match input.sent_at {
        None => {
            bad(
                "/sent_at",
                "is required (RFC 3339, e.g. 2026-12-01T09:30:00Z): it is part of what makes a message the same one when a batch is sent again".into(),
            );
            None
        }
        Some(at) if at < crate::people::model::earliest_occurred_at() => {
            bad("/sent_at", "must be in 1990 or later".into());
            None
        }
        Some(at) if at > now + Duration::days(1) => {
            bad("/sent_at", "must not be more than a day ahead".into());
            None
        }
        Some(at) => Some(to_micros(at)),
    };

    match &input.raw_data {
        None => {}
        Some(v) if !v.is_object() => bad("/raw_data", "must be a JSON object".into()),
        Some(v) if crate::people::model::has_nul(v) => bad("/raw_data", NUL.into()),
        Some(v) if v.to_string().len() > MAX_RAW_BYTES => bad(
            "/raw_data",
            format!("must be at most {} KiB of JSON", MAX_RAW_BYTES / 1024),
        ),
        Some(_) => {}
    }

    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(CheckedDm {
        username: username.unwrap_or_default(),
        display_name,
        thread_id,
        text: text.to_string(),
        message_type,
        is_outbound: input.is_outbound.unwrap_or_default(),
        automated: input.sent_by_automation.unwrap_or(false),
        sent_at: sent_at.unwrap_or(now),
        raw_data: input.raw_data.clone(),
    })
}

/// An optional short text: trimmed, empty as absent, at most [`MAX_NAME_CHARS`].
fn optional_text(
    value: &Option<String>,
    field: &str,
    bad: &mut impl FnMut(&str, String),
) -> Option<String> {
    let v = value.as_deref().map(str::trim).filter(|v| !v.is_empty())?;
    if v.contains('\0') {
        bad(field, NUL.into());
        None
    } else if v.chars().count() > MAX_NAME_CHARS {
        bad(
            field,
            format!("must be at most {MAX_NAME_CHARS} characters"),
        );
        None
    } else {
        Some(v.to_string())
    }
}

/// `at` cut to the microsecond (PostgreSQL's precision).
fn to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

/// The first characters of a text, for a conversation's `last_message_preview`.
pub fn preview(text: &str) -> String {
    const PREVIEW_CHARS: usize = 100;
    match text.char_indices().nth(PREVIEW_CHARS) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}…", text[..cut].trim_end()),
    }
}

/// What became of one DM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DmStatus {
    /// Stored.
    Created,
    /// Already stored (same contact, text and time): nothing changed.
    Duplicate,
    /// Stored but flagged by a spam pattern (`pattern` names it): kept out of the
    /// conversation's preview, the unread state, the totals and the timeline.
    Flagged,
    /// Dropped by a skip pattern (a system line such as a date) or a spam pattern
    /// whose action is `skip`: not stored.
    Skipped,
}

/// The answer for one DM, in the order sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DmResult {
    pub index: usize,
    pub status: DmStatus,
    /// The stored message (the earlier one for a duplicate).
    pub message_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
    /// The person on the people graph (DESIGN §5), once the contact has one.
    pub person_id: Option<Uuid>,
    /// The pattern (`pattern_key`) that skipped or flagged it.
    pub pattern: Option<String>,
}

/// The outcome of a batch.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct DmOutcome {
    pub created: usize,
    pub duplicates: usize,
    pub flagged: usize,
    pub skipped: usize,
    pub contacts_created: usize,
    /// Timeline events written (`dm_sent`, `dm_reply`).
    pub person_events_created: usize,
    pub results: Vec<DmResult>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dm(text: &str) -> DmInput {
        DmInput {
            instagram_username: "@Sarah.Ashley".into(),
            display_name: Some("  Sarah Ashley ".into()),
            thread_id: None,
            message_text: text.into(),
            message_type: None,
            is_outbound: Some(false),
            sent_by_automation: None,
            sent_at: Some("2026-11-30T10:00:00.123456789Z".parse().unwrap()),
            raw_data: None,
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-12-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_dm_is_normalised() {
        let c = check_dm(&dm("  hey there  "), now()).unwrap();
        assert_eq!(c.username, "sarah.ashley");
        assert_eq!(c.display_name.as_deref(), Some("Sarah Ashley"));
        assert_eq!(c.text, "hey there");
        assert_eq!(c.message_type, "text");
        assert!(!c.is_outbound && !c.automated);
        assert_eq!(c.sent_at.timestamp_subsec_nanos(), 123_456_000);
    }

    #[test]
    fn emoji_alone_are_a_message() {
        assert_eq!(check_dm(&dm("🔥🔥🙏"), now()).unwrap().text, "🔥🔥🙏");
    }

    #[test]
    fn a_long_text_is_refused_naming_its_size() {
        let e = check_dm(&dm(&"a".repeat(100 * 1024)), now()).unwrap_err();
        assert_eq!(e[0].0, "/message_text");
        assert!(e[0].1.contains("102400 bytes"), "{}", e[0].1);
        assert!(check_dm(&dm(&"é".repeat(MAX_MESSAGE_BYTES / 2)), now()).is_ok());
        assert!(check_dm(&dm(&"é".repeat(MAX_MESSAGE_BYTES / 2 + 1)), now()).is_err());
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let mut d = dm("   ");
        d.instagram_username = "not a handle!".into();
        d.is_outbound = None;
        d.sent_at = None;
        d.message_type = Some("Photo".into());
        d.raw_data = Some(serde_json::json!([1]));
        let fields: Vec<String> = check_dms(&[dm("ok"), d], now())
            .unwrap_err()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            fields,
            [
                "/messages/1/instagram_username",
                "/messages/1/message_text",
                "/messages/1/message_type",
                "/messages/1/is_outbound",
                "/messages/1/sent_at",
                "/messages/1/raw_data"
            ]
        );
    }

    #[test]
    fn times_outside_the_window_are_refused() {
        let mut d = dm("hi");
        d.sent_at = Some("1989-12-31T23:59:59Z".parse().unwrap());
        assert_eq!(check_dm(&d, now()).unwrap_err()[0].0, "/sent_at");
        d.sent_at = Some(now() + Duration::days(2));
        assert_eq!(check_dm(&d, now()).unwrap_err()[0].0, "/sent_at");
    }

    #[test]
    fn batch_size_is_bounded() {
        assert_eq!(check_dms(&[], now()).unwrap_err()[0].0, "/messages");
        let many = vec![dm("hi"); MAX_BATCH + 1];
        assert!(check_dms(&many, now()).unwrap_err()[0].1.contains("1001"));
    }

    #[test]
    fn previews_cut_at_a_character() {
        assert_eq!(preview("short"), "short");
        let p = preview(&"é".repeat(150));
        assert_eq!(p.chars().count(), 101);
        assert!(p.ends_with('…'));
    }
}
