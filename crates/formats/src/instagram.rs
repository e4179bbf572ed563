//! Instagram's "Download your information" export, JSON format:
//! - **threads**: `…/inbox/<folder>/message_<n>.json` (and `…/message_requests/…`),
//!   wherever the export version put the `messages` folder (`messages/inbox/…`,
//!   `your_instagram_activity/messages/inbox/…`): [`is_thread_path`]. A thread file
//!   holds `participants` (display names) and `messages` (`sender_name`,
//!   `timestamp_ms`, `content`, and `share`, `photos`, `videos`, `audio_files`,
//!   `sticker`, `reactions`, `call_duration`, `is_unsent`). Messages carry display
//!   names, not usernames: the contact's username is the folder's name without its
//!   numeric suffix ([`username_of`]).
//! - **the owner**: named in `personal_information.json` when the export has it,
//!   else the one participant common to every thread ([`owner`]).
//! - **followers and following**: `followers_<n>.json`, `following.json`, each an
//!   entry per account (`string_list_data`: `href`, `value` the username, `timestamp`;
//!   newer exports put the username in `title`) ([`parse_follows`]).
//!
//! Meta escapes UTF-8 bytes as Latin-1 code points; every string read here is
//! repaired ([`crate::text::repair_mojibake`]).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::text::repair_mojibake;

/// Largest thread file read (Instagram splits threads at 10,000 messages a file).
pub const MAX_THREAD_BYTES: u64 = 64 * 1024 * 1024;

/// Whether `path` is a thread file: `…/inbox/<folder>/message_<n>.json` or the same
/// under `message_requests`.
pub fn is_thread_path(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    let n = parts.len();
    n >= 3
        && matches!(parts[n - 3], "inbox" | "message_requests")
        && parts[n - 1]
            .strip_prefix("message_")
            .and_then(|r| r.strip_suffix(".json"))
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// The thread folder of a thread path (`johndoe_1234567890`).
pub fn folder_of(path: &str) -> &str {
    let mut parts = path.rsplit('/');
    parts.next();
    parts.next().unwrap_or("")
}

/// The contact's username from a thread folder: its name without the numeric suffix
/// Instagram adds (`john.doe_1234567890` → `john.doe`); a folder without one is taken
/// whole. Lower-cased, as Instagram usernames are.
pub fn username_of(folder: &str) -> String {
    let name = match folder.rsplit_once('_') {
        Some((head, tail))
            if !head.is_empty() && !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()) =>
        {
            head
        }
        _ => folder,
    };
    name.to_lowercase()
}

/// Whether `path` is the export's personal information file.
pub fn is_personal_information(path: &str) -> bool {
    path.rsplit('/').next() == Some("personal_information.json")
}

/// Whether `path` is a followers or following list, and which.
pub fn follow_kind(path: &str) -> Option<FollowKind> {
    let file = path.rsplit('/').next().unwrap_or("");
    let stem = file.strip_suffix(".json")?;
    if stem == "following" {
        return Some(FollowKind::Following);
    }
    let rest = stem.strip_prefix("followers")?;
    (rest.is_empty()
        || rest
            .strip_prefix('_')
            .is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit())))
    .then_some(FollowKind::Follower)
}

/// One message as the export has it.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The sender's display name (repaired).
    pub sender: String,
    pub sent_at: DateTime<Utc>,
    /// The text (repaired), when it has one.
    pub text: Option<String>,
    /// `text`, `share`, `photo`, `video`, `audio`, `sticker`, `call` or `unsent`.
    pub kind: &'static str,
    /// What else it held: the shared link, media URIs, reactions (repaired).
    pub extra: Value,
}

/// One thread file.
#[derive(Debug, Clone, PartialEq)]
pub struct Thread {
    /// The thread folder (`johndoe_1234567890`): the thread's id across its files.
    pub folder: String,
    /// The contact's username, from the folder.
    pub username: String,
    /// Display names of everyone in it (the owner among them).
    pub participants: Vec<String>,
    /// The thread's title (the other person's display name in a one-to-one thread).
    pub title: Option<String>,
    pub messages: Vec<Message>,
    /// Messages left out, each with why (no time, no sender).
    pub skipped: Vec<String>,
}

impl Thread {
    /// A group thread (more than two participants).
    pub fn is_group(&self) -> bool {
        self.participants.len() > 2
    }

    /// The other person's display name, given the owner's.
    pub fn contact_name(&self, owner: Option<&str>) -> Option<String> {
        self.participants
            .iter()
            .find(|p| Some(p.as_str()) != owner)
            .cloned()
            .or_else(|| self.title.clone())
    }
}

#[derive(Deserialize)]
struct RawThread {
    participants: Vec<RawParticipant>,
    messages: Vec<Value>,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Deserialize)]
struct RawParticipant {
    name: String,
}

fn fix(s: &str) -> String {
    repair_mojibake(s).into_owned()
}

/// Repairs every string in `v`.
fn fix_value(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(fix(s)),
        Value::Array(a) => Value::Array(a.iter().map(fix_value).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), fix_value(v))).collect())
        }
        other => other.clone(),
    }
}

#[derive(Deserialize)]
struct ParticipantsOnly {
    participants: Vec<RawParticipant>,
}

/// Only the participants of a thread file (repaired), the messages skipped unread:
/// what finding the export's owner needs.
pub fn participants(bytes: &[u8]) -> Result<Vec<String>, String> {
    let raw: ParticipantsOnly = serde_json::from_slice(bytes).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            format!("not valid JSON ({e})")
        } else {
            format!("not an Instagram thread: it needs \"participants\" ({e})")
        }
    })?;
    Ok(raw.participants.iter().map(|p| fix(&p.name)).collect())
}

/// Parses thread file `path`'s bytes; an error says why it is not a thread.
pub fn parse_thread(path: &str, bytes: &[u8]) -> Result<Thread, String> {
    let raw: RawThread = serde_json::from_slice(bytes).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            format!("not valid JSON ({e})")
        } else {
            format!(
                "not an Instagram thread: it needs \"participants\" (a list of {{\"name\"}}) and \"messages\" ({e})"
            )
        }
    })?;
    let folder = folder_of(path).to_string();
    let mut messages = Vec::with_capacity(raw.messages.len());
    let mut skipped = Vec::new();
    for (i, m) in raw.messages.iter().enumerate() {
        match message(m) {
            Ok(m) => messages.push(m),
            Err(why) => skipped.push(format!("message {}: {why}", i + 1)),
        }
    }
    Ok(Thread {
        username: username_of(&folder),
        folder,
        participants: raw.participants.iter().map(|p| fix(&p.name)).collect(),
        title: raw.title.as_deref().map(fix),
        messages,
        skipped,
    })
}

fn message(m: &Value) -> Result<Message, String> {
    let sender = m
        .get("sender_name")
        .and_then(Value::as_str)
        .ok_or("it has no sender_name")?;
    let ms = m
        .get("timestamp_ms")
        .and_then(Value::as_i64)
        .ok_or("it has no timestamp_ms")?;
    let sent_at = DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| format!("timestamp_ms {ms} is not a time"))?;
    let text = m
        .get("content")
        .and_then(Value::as_str)
        .map(fix)
        .filter(|t| !t.trim().is_empty());
    let has = |k: &str| m.get(k).is_some_and(|v| !v.is_null());
    let kind = if m.get("is_unsent").and_then(Value::as_bool) == Some(true) {
        "unsent"
    } else if has("share") {
        "share"
    } else if has("photos") {
        "photo"
    } else if has("videos") {
        "video"
    } else if has("audio_files") {
        "audio"
    } else if has("sticker") {
        "sticker"
    } else if has("call_duration") {
        "call"
    } else {
        "text"
    };
    let mut extra = serde_json::Map::new();
    for key in [
        "share",
        "photos",
        "videos",
        "audio_files",
        "sticker",
        "reactions",
        "call_duration",
    ] {
        if let Some(v) = m.get(key).filter(|v| !v.is_null()) {
            extra.insert(key.to_string(), fix_value(v));
        }
    }
    Ok(Message {
        sender: fix(sender),
        sent_at,
        text,
        kind,
        extra: Value::Object(extra),
    })
}

/// The owner's display name: the one in personal information when given, else the
/// participant of every thread (when exactly one is; one thread alone cannot say).
pub fn owner(personal: Option<&PersonalInfo>, threads: &[Vec<String>]) -> Option<String> {
    if let Some(name) = personal.and_then(|p| p.name.clone()) {
        return Some(name);
    }
    if threads.len() < 2 {
        return None;
    }
    let mut common: Vec<&String> = threads[0].iter().collect();
    for t in &threads[1..] {
        common.retain(|n| t.contains(n));
    }
    common.dedup();
    match common.as_slice() {
        [one] => Some((*one).clone()),
        _ => None,
    }
}

/// The export owner's name and username from `personal_information.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonalInfo {
    pub name: Option<String>,
    pub username: Option<String>,
}

/// Reads `personal_information.json` (`profile_user[0].string_map_data`).
pub fn parse_personal_information(bytes: &[u8]) -> Result<PersonalInfo, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON ({e})"))?;
    let map = v
        .pointer("/profile_user/0/string_map_data")
        .ok_or("not Instagram's personal information: no profile_user[0].string_map_data")?;
    let field = |k: &str| {
        map.get(k)
            .and_then(|f| f.get("value"))
            .and_then(Value::as_str)
            .map(fix)
            .filter(|s| !s.is_empty())
    };
    Ok(PersonalInfo {
        name: field("Name"),
        username: field("Username").map(|u| u.to_lowercase()),
    })
}

/// Which list an account came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowKind {
    /// They follow the owner.
    Follower,
    /// The owner follows them.
    Following,
}

/// An account on a followers or following list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follow {
    pub username: String,
    pub href: Option<String>,
    pub since: Option<DateTime<Utc>>,
}

/// Reads a followers or following file: a list of entries, or an object holding one
/// (`relationships_following`). Entries without a username are counted in `.1`.
pub fn parse_follows(bytes: &[u8]) -> Result<(Vec<Follow>, usize), String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON ({e})"))?;
    let list = match &v {
        Value::Array(a) => a,
        Value::Object(o) => o
            .values()
            .find_map(Value::as_array)
            .ok_or("not a followers or following list: no list of accounts in it")?,
        _ => return Err("not a followers or following list".into()),
    };
    let mut out = Vec::new();
    let mut nameless = 0;
    for entry in list {
        let data = entry.pointer("/string_list_data/0");
        let username = data
            .and_then(|d| d.get("value"))
            .and_then(Value::as_str)
            .or_else(|| entry.get("title").and_then(Value::as_str))
            .map(|u| fix(u).trim().trim_start_matches('@').to_lowercase())
            .filter(|u| !u.is_empty());
        let Some(username) = username else {
            nameless += 1;
            continue;
        };
        out.push(Follow {
            username,
            href: data
                .and_then(|d| d.get("href"))
                .and_then(Value::as_str)
                .map(fix),
            since: data
                .and_then(|d| d.get("timestamp"))
                .and_then(Value::as_i64)
                .and_then(|s| DateTime::from_timestamp(s, 0)),
        });
    }
    Ok((out, nameless))
}

/// The message as stored: its text, or for a message without text a bracketed word
/// for what it held (`[photo]`, `[shared a link]`), so the timeline says something
/// true; `extra` keeps the rest.
pub fn text_or_kind(m: &Message) -> String {
    if let Some(t) = &m.text {
        return t.clone();
    }
    match m.kind {
        "share" => "[shared a link]",
        "photo" => "[photo]",
        "video" => "[video]",
        "audio" => "[voice message]",
        "sticker" => "[sticker]",
        "call" => "[call]",
        "unsent" => "[unsent message]",
        _ => "[message]",
    }
    .to_string()
}

/// `extra` with the export's origin, for `raw_data`.
pub fn raw_data(thread: &Thread, m: &Message) -> Value {
    json!({"source": "instagram_export", "thread": thread.folder, "kind": m.kind, "extra": m.extra})
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A string as Meta writes it (each UTF-8 byte a code point), JSON-escaped.
    fn meta(s: &str) -> String {
        s.bytes().map(|b| format!("\\u{b:04x}")).collect()
    }

    #[test]
    fn thread_paths_are_found_in_any_export_layout() {
        assert!(is_thread_path("messages/inbox/johndoe_123/message_1.json"));
        assert!(is_thread_path(
            "your_instagram_activity/messages/inbox/john.doe_98/message_12.json"
        ));
        assert!(is_thread_path(
            "messages/message_requests/x_1/message_1.json"
        ));
        assert!(!is_thread_path("messages/inbox/johndoe_123/photos/1.jpg"));
        assert!(!is_thread_path("messages/inbox/message_1.json"));
        assert!(!is_thread_path("messages/inbox/j_1/message_.json"));
        assert_eq!(
            folder_of("a/inbox/john.doe_98/message_1.json"),
            "john.doe_98"
        );
        assert_eq!(username_of("John.Doe_1234567890"), "john.doe");
        assert_eq!(username_of("under_score_name_42"), "under_score_name");
        assert_eq!(username_of("nosuffix"), "nosuffix");
        assert_eq!(username_of("_123"), "_123");
        assert_eq!(
            follow_kind("connections/followers_and_following/followers_1.json"),
            Some(FollowKind::Follower)
        );
        assert_eq!(
            follow_kind("followers_and_following/following.json"),
            Some(FollowKind::Following)
        );
        assert_eq!(follow_kind("x/followers_list.json"), None);
    }

    #[test]
    fn a_thread_is_read_with_its_text_repaired_and_its_media_noted() {
        let json = format!(
            r#"{{"participants":[{{"name":"{julia}"}},{{"name":"Sam Owner"}}],
               "title":"{julia}",
               "messages":[
                 {{"sender_name":"{julia}","timestamp_ms":1733400000000,"content":"{text}"}},
                 {{"sender_name":"Sam Owner","timestamp_ms":1733400060000,"share":{{"link":"https://example.com/x"}}}},
                 {{"sender_name":"{julia}","timestamp_ms":1733400120000,"photos":[{{"uri":"messages/inbox/julia_1/photos/1.jpg"}}],
                   "reactions":[{{"reaction":"{heart}","actor":"Sam Owner"}}]}},
                 {{"sender_name":"{julia}","content":"no time"}}
               ]}}"#,
            julia = meta("Júlia Ribeiro"),
            text = meta("olá! 🔥 adorei"),
            heart = meta("❤"),
        );
        let t = parse_thread(
            "messages/inbox/julia.r_1733/message_1.json",
            json.as_bytes(),
        )
        .unwrap();
        assert_eq!(t.username, "julia.r");
        assert_eq!(t.participants, ["Júlia Ribeiro", "Sam Owner"]);
        assert_eq!(
            t.contact_name(Some("Sam Owner")).as_deref(),
            Some("Júlia Ribeiro")
        );
        assert_eq!(t.messages.len(), 3);
        assert_eq!(t.messages[0].text.as_deref(), Some("olá! 🔥 adorei"));
        assert_eq!(t.messages[0].sent_at.timestamp_millis(), 1_733_400_000_000);
        assert_eq!(t.messages[1].kind, "share");
        assert_eq!(text_or_kind(&t.messages[1]), "[shared a link]");
        assert_eq!(t.messages[2].kind, "photo");
        assert_eq!(t.messages[2].extra["reactions"][0]["reaction"], "❤");
        assert_eq!(t.skipped, ["message 4: it has no timestamp_ms"]);
    }

    #[test]
    fn a_json_file_that_is_not_a_thread_says_so() {
        let e = parse_thread("messages/inbox/a_1/message_1.json", br#"{"hello": 1}"#).unwrap_err();
        assert!(e.contains("not an Instagram thread"), "{e}");
        let e = parse_thread("messages/inbox/a_1/message_1.json", b"{oops").unwrap_err();
        assert!(e.contains("not valid JSON"), "{e}");
    }

    #[test]
    fn the_owner_is_named_or_common_to_every_thread() {
        let threads = vec![
            vec!["Ann".to_string(), "Sam".to_string()],
            vec!["Bob".to_string(), "Sam".to_string()],
        ];
        assert_eq!(owner(None, &threads).as_deref(), Some("Sam"));
        assert_eq!(owner(None, &threads[..1]), None, "one thread cannot say");
        let info = parse_personal_information(
            format!(
                r#"{{"profile_user":[{{"string_map_data":{{"Name":{{"value":"{}"}},"Username":{{"value":"Sam.Owner"}}}}}}]}}"#,
                meta("Sâm")
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(info.name.as_deref(), Some("Sâm"));
        assert_eq!(info.username.as_deref(), Some("sam.owner"));
        assert_eq!(owner(Some(&info), &threads).as_deref(), Some("Sâm"));
    }

    #[test]
    fn followers_and_following_lists_of_both_shapes_are_read() {
        let followers = br#"[{"title":"","string_list_data":[{"href":"https://www.instagram.com/ann","value":"Ann","timestamp":1700000000}]},
                             {"string_list_data":[{}]}]"#;
        let (list, nameless) = parse_follows(followers).unwrap();
        assert_eq!(list[0].username, "ann");
        assert_eq!(list[0].since.unwrap().timestamp(), 1_700_000_000);
        assert_eq!(nameless, 1);
        let following = br#"{"relationships_following":[{"title":"bob.builds","string_list_data":[{"href":"https://www.instagram.com/_u/bob.builds","timestamp":1700000001}]}]}"#;
        let (list, _) = parse_follows(following).unwrap();
        assert_eq!(list[0].username, "bob.builds");
        assert!(parse_follows(b"42").is_err());
    }
}
