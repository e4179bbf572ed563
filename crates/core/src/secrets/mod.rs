//! Secrets at rest: every OAuth token, API key and webhook secret is stored as
//! AES-256-GCM ciphertext, never as plaintext.
//!
//! A sealed value reads `er1:<key id>:<base64(nonce ‖ ciphertext ‖ tag)>`: a random
//! 96-bit nonce per value, and the id of the key that sealed it, so keys can be
//! rotated while old values stay readable. The associated data binds a value to its
//! table, column and tenant, so a ciphertext copied into another column or another
//! tenant's row does not open. Keys live outside the database ([`keyring`]); the
//! columns that hold secrets and their rotation are in [`columns`].

pub mod columns;
pub mod keyring;

pub use keyring::Keyring;

use uuid::Uuid;

/// Prefix of every sealed value (format version 1).
pub const SEALED_PREFIX: &str = "er1:";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "EVERREACH_ENCRYPTION_KEY is not a 256-bit key ({0}); give 32 bytes as base64 \
         (e.g. `openssl rand -base64 32`) or as 64 hex digits"
    )]
    BadKey(String),
    #[error(
        "the key file {path} cannot be used ({cause}); restore it from a backup, or set \
         EVERREACH_ENCRYPTION_KEY to the key the secrets were sealed with"
    )]
    KeyFile { path: String, cause: String },
    #[error(
        "the key file {path} can be opened by its group or others (mode {mode:03o}), and it \
         holds the keys to every secret: run `chmod 600 {path}`"
    )]
    KeyFileOpen { path: String, mode: u32 },
    #[error(
        "the database holds secrets sealed with key {key_id}, which is not configured: set \
         EVERREACH_ENCRYPTION_KEY to that key (or list it in EVERREACH_ENCRYPTION_KEYS_OLD and \
         run `everreach keys rotate`)"
    )]
    MissingKey { key_id: String },
    #[error(
        "the configured key {key_id} does not open the database's check value: the key is \
         wrong; set EVERREACH_ENCRYPTION_KEY to the key the secrets were sealed with"
    )]
    WrongKey { key_id: String },
    #[error("a sealed value in {place} is malformed or was tampered with")]
    Corrupt { place: String },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// What a sealed value is bound to: its table, column and tenant.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub user_id: Uuid,
}

impl Binding<'_> {
    fn aad(&self) -> Vec<u8> {
        format!("{}.{}/{}", self.table, self.column, self.user_id).into_bytes()
    }

    fn place(&self) -> String {
        format!("{}.{}", self.table, self.column)
    }
}

/// Whether a stored value is already sealed (rather than legacy plaintext).
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(SEALED_PREFIX)
}

/// The key id a sealed value names, if it is one.
pub fn key_id_of(value: &str) -> Option<&str> {
    value.strip_prefix(SEALED_PREFIX)?.split(':').next()
}
