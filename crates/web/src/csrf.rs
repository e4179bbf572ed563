//! Cross-site request forgery defences for every form: a token in a hidden `_csrf`
//! field, derived from a secret only the browser's cookies hold — the session token
//! when signed in, else a random `everreach_csrf` cookie (HttpOnly, SameSite=Strict)
//! — plus the Origin check: a POST whose `Origin` names another host, or that the
//! browser labels `Sec-Fetch-Site: cross-site`, is refused before anything else.
//!
//! The token is a hash of the secret with a purpose prefix, so a page that shows it
//! reveals nothing about the session token itself.

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
pub use everreach_api::auth::cookie;
use sha2::{Digest, Sha256};

/// The hidden field every form carries.
pub const FIELD: &str = "_csrf";
/// The cookie that holds the secret of a visitor who is not signed in.
pub const ANON_COOKIE: &str = "everreach_csrf";

/// The form token for `secret`.
pub fn token_for(secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"everreach csrf v1\0");
    h.update(secret.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// Whether `given` is the token for `secret` (compared in constant time).
pub fn matches(secret: &str, given: &str) -> bool {
    let expected = token_for(secret);
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new random secret for [`ANON_COOKIE`].
pub fn new_secret() -> String {
    // two v4 UUIDs: 244 bits from the OS random source
    let mut bytes = Vec::with_capacity(32);
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `Set-Cookie` for a visitor's secret (ends with the browser session).
pub fn set_cookie(secret: &str) -> String {
    format!("{ANON_COOKIE}={secret}; Path=/; HttpOnly; Secure; SameSite=Strict")
}

/// Whether a state-changing request comes from our own pages: `Sec-Fetch-Site` is
/// not cross-site, and `Origin`, when sent, names the host the request went to.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if matches!(text("sec-fetch-site"), Some("cross-site" | "same-site")) {
        return false;
    }
    match text(header::ORIGIN.as_str()) {
        None => true,
        Some(origin) => {
            let host = text(header::HOST.as_str()).unwrap_or("");
            origin
                .split_once("://")
                .is_some_and(|(_, rest)| rest == host)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_bind_to_their_secret() {
        let s = new_secret();
        assert!(matches(&s, &token_for(&s)));
        assert!(!matches(&s, &token_for("other")));
        assert!(!matches(&s, ""));
        assert_ne!(new_secret(), s);
    }

    #[test]
    fn origin_must_be_this_host() {
        let mut h = HeaderMap::new();
        h.insert(
            header::HOST,
            "127.0.0.1:8080".parse().unwrap_or_else(|_| unreachable!()),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            "http://127.0.0.1:8080"
                .parse()
                .unwrap_or_else(|_| unreachable!()),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            "https://evil.example"
                .parse()
                .unwrap_or_else(|_| unreachable!()),
        );
        assert!(!same_origin(&h));
        h.insert(
            header::ORIGIN,
            "null".parse().unwrap_or_else(|_| unreachable!()),
        );
        assert!(!same_origin(&h));
    }
}
