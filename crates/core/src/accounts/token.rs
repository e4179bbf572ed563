//! Random secrets handed to clients (session cookies, API tokens, verification
//! links): 256 bits from the OS, URL-safe base64 with a prefix saying what they are,
//! stored only as their SHA-256.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// What a token is for; its prefix makes a leaked token recognisable (secret scanners).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Session,
    ApiToken,
    EmailVerification,
    Invitation,
    PasswordReset,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Session => "ers_",
            Kind::ApiToken => "er_",
            Kind::EmailVerification => "erv_",
            Kind::Invitation => "eri_",
            Kind::PasswordReset => "erp_",
        }
    }
}

/// A fresh token and the hash to store.
#[derive(Debug)]
pub struct Issued {
    pub token: String,
    pub hash: String,
}

pub fn issue(kind: Kind) -> Issued {
    let mut bytes = [0u8; 32];
    #[expect(
        clippy::expect_used,
        reason = "without OS randomness no token can be safe"
    )]
    getrandom::fill(&mut bytes).expect("the OS random number generator failed");
    let token = format!("{}{}", kind.prefix(), URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash(&token);
    Issued { token, hash }
}

/// The stored form of a token.
pub fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `token` looks like one of ours of this kind (cheap rejection of garbage
/// before a database round trip).
pub fn well_formed(kind: Kind, token: &str) -> bool {
    token.strip_prefix(kind.prefix()).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_prefixed_and_hashed() {
        let a = issue(Kind::ApiToken);
        let b = issue(Kind::ApiToken);
        assert_ne!(a.token, b.token);
        assert!(a.token.starts_with("er_"));
        assert!(well_formed(Kind::ApiToken, &a.token));
        assert!(!well_formed(Kind::Session, &a.token));
        assert_eq!(a.hash, hash(&a.token));
        assert_eq!(a.hash.len(), 64);
        assert!(!well_formed(Kind::ApiToken, "er_' OR 1=1 --"));
    }
}
