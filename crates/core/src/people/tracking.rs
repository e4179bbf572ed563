//! Tracking our messages: signed open-pixel and click links, finding the links in a
//! body to rewrite, and recording what an open or a click did.
//!
//! Tracking links carry the tenant and the message, signed with the installation's
//! key ([`Keyring::sign`], a key derived from the encryption key, so rotation keeps
//! old links valid); a click link also signs its destination, so a link cannot be
//! pointed anywhere else (no open redirect) and ids cannot be guessed or forged. An
//! open or a click sets `opened_at`/`clicked_at` the first time only, writes an
//! `opened_email`/`clicked_link` event on the person's timeline and records the
//! domain event `outbound_message.opened`/`.clicked`; a click also counts as an open
//! when the pixel was blocked.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use super::ingest;
use super::model::{EventChannel, NewEvent, Subject};
use crate::config::is_web_url;
use crate::db::tenant::TenantTx;
use crate::error::DomainResult;
use crate::secrets::Keyring;

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
pub async fn record_open(tx: &mut TenantTx, message_id: Uuid) -> DomainResult<Recorded> {
    record(tx, message_id, Seen::Opened, None).await
}

/// A transaction for recording an open or a click from a public tracking link: the
/// tenant of the signed link, acting as the worker, and dropped to the role
/// `everreach_tracker`, which can only mark messages seen and record what follows
/// (migration `…140000_tracking_least_privilege.sql`).
pub async fn begin_recording(pool: &sqlx::PgPool, user_id: Uuid) -> Result<TenantTx, sqlx::Error> {
    let mut tx = TenantTx::begin_as(pool, user_id, crate::db::tenant::Actor::Worker).await?;
    sqlx::query("SET LOCAL ROLE everreach_tracker")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// The host of an http(s) URL, lower-cased, without port or credentials.
fn host_of(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.split(':').next()?.trim_end_matches('.');
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Whether a writer may sign `target` for message body `body`: it is one of the
/// message's own links, or its host is (a subdomain of) a domain on the tenant's
/// allowlist (`tracking_domains`). Anything else would make this installation's
/// domain an open redirector.
pub async fn may_sign(tx: &mut TenantTx, body: Option<&str>, target: &str) -> DomainResult<bool> {
    if body.is_some_and(|b| links_in(b).iter().any(|l| l == target)) {
        return Ok(true);
    }
    let Some(host) = host_of(target) else {
        return Ok(false);
    };
    let allowed: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM tracking_domains
                         WHERE user_id = $1 AND ($2 = domain OR $2 LIKE '%.' || domain))",
    )
    .bind(tx.user_id())
    .bind(&host)
    .fetch_one(&mut **tx)
    .await?;
    Ok(allowed)
}

/// Records a click on a link to `target` (and an open, if none was seen).
pub async fn record_click(
    tx: &mut TenantTx,
    message_id: Uuid,
    target: &str,
) -> DomainResult<Recorded> {
    let user_id = tx.user_id();
    sqlx::query(
        "UPDATE outbound_messages SET opened_at = now() WHERE user_id = $1 AND id = $2 AND opened_at IS NULL",
    )
    .bind(user_id)
    .bind(message_id)
    .execute(&mut **tx)
    .await?;
    record(tx, message_id, Seen::Clicked, Some(target)).await
}

/// What was seen of a message: its column, its timeline event, its domain event.
#[derive(Debug, Clone, Copy)]
enum Seen {
    Opened,
    Clicked,
}

impl Seen {
    fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Seen::Opened => ("opened_at", "opened_email", "outbound_message.opened"),
            Seen::Clicked => ("clicked_at", "clicked_link", "outbound_message.clicked"),
        }
    }
}

async fn record(
    tx: &mut TenantTx,
    message_id: Uuid,
    seen: Seen,
    url: Option<&str>,
) -> DomainResult<Recorded> {
    let user_id = tx.user_id();
    let (column, event_type, domain_event) = seen.names();
    let first: Option<(Option<Uuid>, String, Option<String>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE outbound_messages SET {column} = now() WHERE user_id = $1 AND id = $2 AND {column} IS NULL
         RETURNING person_id, channel, variant"
    )))
    .bind(user_id)
    .bind(message_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((person_id, channel, variant)) = first else {
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM outbound_messages WHERE user_id = $1 AND id = $2)",
        )
        .bind(user_id)
        .bind(message_id)
        .fetch_one(&mut **tx)
        .await?;
        return Ok(if exists {
            Recorded::Again
        } else {
            Recorded::Gone
        });
    };
    tx.log_event(
        "outbound_message",
        message_id,
        domain_event,
        &json!({ "person_id": person_id, "variant": variant, "url": url }),
    )
    .await?;
    let (Some(person_id), Ok(channel)) = (person_id, EventChannel::parse(&channel)) else {
        return Ok(Recorded::First);
    };
    let mut metadata = json!({ "outbound_message_id": message_id, "variant": variant });
    if let (Some(url), Some(m)) = (url, metadata.as_object_mut()) {
        m.insert("url".into(), Value::String(url.to_string()));
    }
    ingest::store_checked(
        tx,
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
            identity_name: None,
        }],
    )
    .await?;
    Ok(Recorded::First)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_read_without_credentials_port_or_path() {
        assert_eq!(
            host_of("https://Shop.Example.com:8443/x?y").as_deref(),
            Some("shop.example.com")
        );
        assert_eq!(
            host_of("http://user:pw@evil.example@good.example/").as_deref(),
            Some("good.example")
        );
        assert_eq!(
            host_of("https://example.com.").as_deref(),
            Some("example.com")
        );
        assert_eq!(host_of("ftp://example.com"), None);
        assert_eq!(host_of("https:///path"), None);
    }

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
}
