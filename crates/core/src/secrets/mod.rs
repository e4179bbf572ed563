//! Secrets at rest: every OAuth token, API key and webhook secret is stored as
//! AES-256-GCM ciphertext, never as plaintext.
//!
//! A sealed value reads `er2:<key id>:<base64(nonce ‖ ciphertext ‖ tag)>`: a random
//! 96-bit nonce per value, and the id of the key that sealed it, so keys can be
//! rotated while old values stay readable. The associated data binds a value to its
//! table, column, tenant and row, so a ciphertext copied into another column, another
//! tenant's row or another row of the same tenant does not open. Values of format 1
//! (`er1:`, bound to table, column and tenant only) still open; `everreach keys
//! rotate` re-seals them in format 2. Keys live outside the database ([`keyring`]);
//! the columns that hold secrets and their rotation are in [`columns`].

pub mod columns;
pub mod keyring;
pub mod usage;

pub use keyring::Keyring;

use uuid::Uuid;

/// Prefix of every value sealed now (format 2: the associated data names the row).
pub const SEALED_PREFIX: &str = "er2:";
/// Prefix of format 1 (bound to table, column and tenant, not the row): opened still,
/// re-sealed in format 2 by `everreach keys rotate`.
pub const SEALED_PREFIX_V1: &str = "er1:";

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
        "{values} value(s) in {place} are sealed with key {key_id}, which is not configured: \
         set EVERREACH_ENCRYPTION_KEY to that key or list it in EVERREACH_ENCRYPTION_KEYS_OLD \
         (or restore the key file line that holds it), then run `everreach keys rotate` to \
         re-seal them with the current key"
    )]
    MissingKeyInColumn {
        place: String,
        key_id: String,
        values: i64,
    },
    #[error(
        "`everreach keys rotate` re-sealed every secret but could not lock {tables} within \
         {seconds} s to check that no value still names an old key (a long transaction holds \
         them), so it retired no key: run `everreach keys rotate` again"
    )]
    RetireBusy { tables: String, seconds: u64 },
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

/// What a sealed value is bound to: its table, column, tenant and row (`user_id` and
/// `row_id` are the row's primary key: every table with a secret column is keyed
/// `(user_id, id)`).
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub user_id: Uuid,
    pub row_id: Uuid,
}

impl Binding<'_> {
    /// Format 2's associated data. It starts with the format, so it never equals
    /// format 1's.
    fn aad(&self) -> Vec<u8> {
        format!(
            "er2\0{}.{}/{}/{}",
            self.table, self.column, self.user_id, self.row_id
        )
        .into_bytes()
    }

    /// Format 1's associated data: no row.
    fn aad_v1(&self) -> Vec<u8> {
        format!("{}.{}/{}", self.table, self.column, self.user_id).into_bytes()
    }

    fn place(&self) -> String {
        format!("{}.{}", self.table, self.column)
    }
}

/// The formats of a sealed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `er1:`: bound to table, column and tenant.
    V1,
    /// `er2:`: bound to table, column, tenant and row (what [`Keyring::seal`] writes).
    V2,
}

/// A sealed value's format and the rest after its prefix (`<key id>:<base64>`).
fn split_format(value: &str) -> Option<(Format, &str)> {
    if let Some(rest) = value.strip_prefix(SEALED_PREFIX) {
        Some((Format::V2, rest))
    } else {
        value
            .strip_prefix(SEALED_PREFIX_V1)
            .map(|rest| (Format::V1, rest))
    }
}

/// The format of a stored value, `None` for legacy plaintext.
pub fn format_of(value: &str) -> Option<Format> {
    split_format(value).map(|(format, _)| format)
}

/// Whether a stored value is already sealed (rather than legacy plaintext).
pub fn is_sealed(value: &str) -> bool {
    format_of(value).is_some()
}

/// The key id a sealed value names, if it is one.
pub fn key_id_of(value: &str) -> Option<&str> {
    split_format(value)?.1.split(':').next()
}
