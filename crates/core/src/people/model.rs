//! What the people graph accepts and answers, and the pure rules on it: an event as
//! sent (`EventInput`), the same event checked and normalised (`NewEvent`), the
//! outcome of each item of a batch, and a message we sent as logged (`NewMessage`,
//! `check_message`). Every input type of the domain lives here; nothing here touches
//! the database.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::handle::{Channel, normalize_handle};

/// Most events in one batch (`POST /api/v1/person-events/batch`, one import chunk).
pub const MAX_BATCH: usize = 10_000;
/// Longest `content_excerpt`, in characters.
pub const MAX_EXCERPT_CHARS: usize = 10_000;
/// Largest `metadata`, serialised.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;
/// How far ahead of now an `occurred_at` may be (clock skew between systems).
pub const MAX_FUTURE: Duration = Duration::days(1);

/// The earliest `occurred_at` accepted: nothing we ingest predates e-mail marketing.
pub fn earliest_occurred_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(1990, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The channel of an event: a network of `identities`, or `site` (our own pages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventChannel {
    Network(Channel),
    Site,
}

impl EventChannel {
    pub fn parse(text: &str) -> Result<EventChannel, String> {
        if text.trim().eq_ignore_ascii_case("site") {
            return Ok(EventChannel::Site);
        }
        Channel::parse(text).map(EventChannel::Network).map_err(|_| {
            format!(
                "{text:?} is not a channel; use one of email, instagram, linkedin, twitter, facebook, tiktok, youtube, threads, bluesky, pinterest, site"
            )
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventChannel::Network(c) => c.as_str(),
            EventChannel::Site => "site",
        }
    }
}

/// Who an event is about, by a channel handle (resolved, and created when new).
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityRef {
    /// email, instagram, linkedin, twitter (or x), facebook, tiktok, youtube, threads, bluesky or pinterest.
    pub channel: String,
    /// As typed or as a profile URL; normalised per channel before matching.
    pub handle: String,
    /// The name the channel shows for this handle (an e-mail's From name, a profile's
    /// display name): kept on the identity, and the person's `full_name` while they
    /// have none. At most 200 characters.
    #[serde(default)]
    pub name: Option<String>,
}

/// One event as a client sends it: `person_id` or `identity` says who.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    pub person_id: Option<Uuid>,
    pub identity: Option<IdentityRef>,
    /// The event's channel; defaults to the identity's. Also `site`.
    pub channel: Option<String>,
    /// e.g. opened_email, clicked_link, commented, liked, dm_sent, dm_reply, shared, saved, email_received, email_sent.
    pub event_type: String,
    /// The platform's id of the post, e-mail or message; repeats of the same
    /// (channel, event_type, platform_id) for a person are stored once.
    pub platform_id: Option<String>,
    pub content_excerpt: Option<String>,
    /// From -1 to 1.
    pub sentiment: Option<f64>,
    /// organic (default) or paid.
    pub traffic_type: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Defaults to now; from 1990 up to a day ahead.
    pub occurred_at: Option<DateTime<Utc>>,
}

/// Who a checked event is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    Person(Uuid),
    /// Channel and normalised handle.
    Identity(Channel, String),
}

/// An event that passed every rule, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub subject: Subject,
    pub channel: EventChannel,
    pub event_type: String,
    pub platform_id: Option<String>,
    pub content_excerpt: Option<String>,
    pub sentiment: Option<f64>,
    pub traffic_type: &'static str,
    pub metadata: Option<Value>,
    pub occurred_at: DateTime<Utc>,
    /// The name the channel gave with the identity (trimmed, non-empty).
    pub identity_name: Option<String>,
}

/// Longest name an identity may carry (characters).
pub const MAX_NAME_CHARS: usize = 200;

/// A rule an input broke: the field (a JSON pointer inside it) and why.
pub use crate::error::FieldProblem;

/// Longest normalised handle (bytes): far above any network's, and small enough for
/// the unique index on it.
pub const MAX_HANDLE_BYTES: usize = 512;

/// Whether `v` holds a NUL character anywhere (in a string or a key), which
/// PostgreSQL text and jsonb cannot store.
pub fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(has_nul),
        Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

const NUL: &str = "must not contain a NUL character (\\u0000)";

/// Event types that mean the person answered us: they set `replied_at` of our last
/// unanswered message to them on the same channel.
pub const REPLY_TYPES: [&str; 4] = ["dm_reply", "email_received", "replied", "comment_reply"];

/// Checks and normalises one event; every broken rule is reported, not only the first.
pub fn check_event(input: &EventInput, now: DateTime<Utc>) -> Result<NewEvent, Vec<FieldProblem>> {
    let mut problems: Vec<FieldProblem> = Vec::new();
    let mut bad = |field: &str, message: String| problems.push((field.to_string(), message));

    let subject = match (&input.person_id, &input.identity) {
        (Some(id), None) => Some(Subject::Person(*id)),
        (None, Some(identity)) => match Channel::parse(&identity.channel) {
            Err(e) => {
                bad("/identity/channel", e.to_string());
                None
            }
            Ok(_) if identity.handle.contains('\0') => {
                bad("/identity/handle", NUL.into());
                None
            }
            Ok(channel) => match normalize_handle(channel, &identity.handle) {
                Ok(handle) if handle.len() > MAX_HANDLE_BYTES => {
                    bad(
                        "/identity/handle",
                        format!("is longer than {MAX_HANDLE_BYTES} bytes once normalised"),
                    );
                    None
                }
                Ok(handle) => Some(Subject::Identity(channel, handle)),
                Err(e) => {
                    bad("/identity/handle", e.to_string());
                    None
                }
            },
        },
        (Some(_), Some(_)) => {
            bad("/person_id", "give person_id or identity, not both".into());
            None
        }
        (None, None) => {
            bad(
                "/person_id",
                "say who the event is about: person_id, or identity {channel, handle}".into(),
            );
            None
        }
    };

    let channel = match (&input.channel, &subject) {
        (Some(text), _) => EventChannel::parse(text)
            .map_err(|e| bad("/channel", e))
            .ok(),
        (None, Some(Subject::Identity(c, _))) => Some(EventChannel::Network(*c)),
        (None, _) => {
            if input.identity.is_none() {
                bad(
                    "/channel",
                    "is required when the event names a person_id".into(),
                );
            }
            None
        }
    };

    let event_type = input.event_type.trim().to_ascii_lowercase();
    if event_type.is_empty()
        || event_type.len() > 64
        || !event_type
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
    {
        bad(
            "/event_type",
            "must be 1 to 64 letters, digits, '_' or '.' (e.g. dm_reply)".into(),
        );
    }

    let platform_id = input
        .platform_id
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    if platform_id.is_some_and(|p| p.len() > 512) {
        bad("/platform_id", "must be at most 512 bytes".into());
    } else if platform_id.is_some_and(|p| p.contains('\0')) {
        bad("/platform_id", NUL.into());
    }
    if input
        .content_excerpt
        .as_deref()
        .is_some_and(|c| c.contains('\0'))
    {
        bad("/content_excerpt", NUL.into());
    }
    if input
        .content_excerpt
        .as_deref()
        .is_some_and(|c| c.chars().count() > MAX_EXCERPT_CHARS)
    {
        bad(
            "/content_excerpt",
            format!("must be at most {MAX_EXCERPT_CHARS} characters"),
        );
    }
    if let Some(s) = input.sentiment
        && !(s.is_finite() && (-1.0..=1.0).contains(&s))
    {
        bad("/sentiment", format!("{s} is outside -1 to 1"));
    }
    let traffic_type = match input.traffic_type.as_deref().map(str::trim) {
        None | Some("organic") => "organic",
        Some("paid") => "paid",
        Some(other) => {
            bad("/traffic_type", format!("{other:?} is not organic or paid"));
            "organic"
        }
    };
    match &input.metadata {
        Some(m @ Value::Object(_)) => {
            if let Some((inside, message)) = crate::json::unstorable(m) {
                bad(&format!("/metadata{inside}"), message);
            }
        }
        None | Some(Value::Null) => {}
        Some(_) => bad("/metadata", "must be a JSON object".into()),
    }
    if input
        .metadata
        .as_ref()
        .is_some_and(|m| serde_json::to_vec(m).map_or(usize::MAX, |v| v.len()) > MAX_METADATA_BYTES)
    {
        bad(
            "/metadata",
            format!("must be at most {MAX_METADATA_BYTES} bytes as JSON"),
        );
    }
    let occurred_at = input.occurred_at.unwrap_or(now);
    if occurred_at < earliest_occurred_at() {
        bad(
            "/occurred_at",
            format!("{occurred_at} is before 1990: send the time the event happened"),
        );
    } else if occurred_at > now + MAX_FUTURE {
        bad(
            "/occurred_at",
            format!("{occurred_at} is more than a day in the future"),
        );
    }

    let identity_name = input
        .identity
        .as_ref()
        .and_then(|i| i.name.as_deref())
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if let Some(name) = identity_name {
        if name.contains('\0') {
            bad("/identity/name", NUL.into());
        } else if name.chars().count() > MAX_NAME_CHARS {
            bad(
                "/identity/name",
                format!("is longer than {MAX_NAME_CHARS} characters"),
            );
        }
    }

    match (subject, channel) {
        (Some(subject), Some(channel)) if problems.is_empty() => Ok(NewEvent {
            subject,
            channel,
            event_type,
            platform_id: platform_id.map(str::to_string),
            content_excerpt: input.content_excerpt.clone(),
            sentiment: input.sentiment,
            traffic_type,
            metadata: input.metadata.clone().filter(|m| !m.is_null()),
            occurred_at,
            identity_name: identity_name.map(str::to_string),
        }),
        _ => Err(problems),
    }
}

/// Checks a whole batch: the events, or every problem with its item's pointer
/// (`/events/3/sentiment`). An empty batch or one over [`MAX_BATCH`] is refused.
pub fn check_batch(
    inputs: &[EventInput],
    now: DateTime<Utc>,
) -> Result<Vec<NewEvent>, Vec<FieldProblem>> {
    if inputs.is_empty() {
        return Err(vec![(
            "/events".into(),
            "must hold at least one event".into(),
        )]);
    }
    if inputs.len() > MAX_BATCH {
        return Err(vec![(
            "/events".into(),
            format!(
                "holds {} events; a batch holds at most {MAX_BATCH}: split it",
                inputs.len()
            ),
        )]);
    }
    let mut events = Vec::with_capacity(inputs.len());
    let mut problems = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        match check_event(input, now) {
            Ok(e) => events.push(e),
            Err(p) => problems.extend(
                p.into_iter()
                    .map(|(field, message)| (format!("/events/{i}{field}"), message)),
            ),
        }
    }
    if problems.is_empty() {
        Ok(events)
    } else {
        Err(problems)
    }
}

/// What happened to one item of an accepted batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Stored.
    Created,
    /// Already stored (same person, channel, event_type and platform_id): ignored.
    Duplicate,
}

/// The answer for one item, in the order sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ItemResult {
    pub index: usize,
    pub status: ItemStatus,
    /// The stored event (the earlier one for a duplicate, when known).
    pub event_id: Option<i64>,
    pub person_id: Uuid,
    /// Whether this item's identity created a new person.
    pub person_created: bool,
}

/// The outcome of an accepted batch.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchOutcome {
    pub created: usize,
    pub duplicates: usize,
    pub people_created: usize,
    pub results: Vec<ItemResult>,
}

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

/// Checks a message before anything is written.
pub fn check_message(
    m: &NewMessage,
    now: DateTime<Utc>,
) -> Result<EventChannel, Vec<FieldProblem>> {
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
    } else if let Some((inside, message)) = m.metadata.as_ref().and_then(crate::json::unstorable) {
        problems.push((format!("/metadata{inside}"), message));
    }
    match channel {
        Some(c) if problems.is_empty() => Ok(c),
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn input(v: Value) -> EventInput {
        serde_json::from_value(v).unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
    }

    fn problems(v: Value) -> Vec<String> {
        check_event(&input(v), now())
            .unwrap_err()
            .into_iter()
            .map(|(f, _)| f)
            .collect()
    }

    #[test]
    fn an_identity_is_normalised_and_gives_the_channel() {
        let e = check_event(
            &input(json!({"identity": {"channel": "x", "handle": "@Ada"}, "event_type": "Liked"})),
            now(),
        )
        .unwrap();
        assert_eq!(e.subject, Subject::Identity(Channel::Twitter, "ada".into()));
        assert_eq!(e.channel, EventChannel::Network(Channel::Twitter));
        assert_eq!(e.event_type, "liked");
        assert_eq!(e.traffic_type, "organic");
        assert_eq!(e.occurred_at, now());
    }

    #[test]
    fn a_person_id_needs_a_channel_and_site_is_one() {
        let id = Uuid::new_v4();
        assert_eq!(
            problems(json!({"person_id": id, "event_type": "visit"})),
            ["/channel"]
        );
        let e = check_event(
            &input(json!({"person_id": id, "channel": "site", "event_type": "visit"})),
            now(),
        )
        .unwrap();
        assert_eq!(e.channel, EventChannel::Site);
    }

    #[test]
    fn every_broken_rule_is_named() {
        assert_eq!(
            problems(json!({
                "identity": {"channel": "myspace", "handle": "tom"},
                "event_type": "liked",
                "sentiment": 3,
                "traffic_type": "viral",
                "metadata": [1],
                "occurred_at": "1970-01-01T00:00:00Z"
            })),
            [
                "/identity/channel",
                "/sentiment",
                "/traffic_type",
                "/metadata",
                "/occurred_at"
            ]
        );
        assert_eq!(
            problems(
                json!({"identity": {"channel": "instagram", "handle": " @ "}, "event_type": "liked"})
            ),
            ["/identity/handle"]
        );
        assert_eq!(
            problems(
                json!({"person_id": Uuid::new_v4(), "channel": "email", "event_type": "bad type!"})
            ),
            ["/event_type"]
        );
        assert_eq!(
            problems(json!({"event_type": "liked", "channel": "email"})),
            ["/person_id"]
        );
        assert_eq!(
            problems(
                json!({"person_id": Uuid::new_v4(), "channel": "email", "event_type": "x",
                            "occurred_at": "2026-11-24T12:00:00Z"})
            ),
            ["/occurred_at"]
        );
    }

    #[test]
    fn nul_characters_and_huge_handles_are_refused() {
        assert_eq!(
            problems(
                json!({"identity": {"channel": "email", "handle": "a\0@x.io"},
                            "event_type": "x", "platform_id": "p\0", "content_excerpt": "a\0b",
                            "metadata": {"k": ["\0"]}})
            ),
            [
                "/identity/handle",
                "/platform_id",
                "/content_excerpt",
                "/metadata/k/0"
            ]
        );
        let long = format!("did:plc:{}", "a".repeat(600));
        assert_eq!(
            problems(
                json!({"identity": {"channel": "bluesky", "handle": long}, "event_type": "x"})
            ),
            ["/identity/handle"]
        );
    }

    #[test]
    fn sentiment_bounds_are_inclusive() {
        for s in [-1.0, 0.0, 1.0] {
            assert!(
                check_event(
                    &input(json!({"person_id": Uuid::new_v4(), "channel": "email", "event_type": "x", "sentiment": s})),
                    now()
                )
                .is_ok()
            );
        }
    }

    #[test]
    fn a_batch_names_items_and_has_bounds() {
        let good = json!({"person_id": Uuid::new_v4(), "channel": "email", "event_type": "x"});
        let bad = json!({"person_id": Uuid::new_v4(), "channel": "email", "event_type": "x", "sentiment": 3});
        let batch = vec![input(good.clone()), input(bad)];
        let err = check_batch(&batch, now()).unwrap_err();
        assert_eq!(err[0].0, "/events/1/sentiment");
        assert!(check_batch(&[], now()).is_err());
        let too_many = vec![input(good); MAX_BATCH + 1];
        let err = check_batch(&too_many, now()).unwrap_err();
        assert_eq!(err[0].0, "/events");
        assert!(err[0].1.contains("10001"), "{}", err[0].1);
    }
}
