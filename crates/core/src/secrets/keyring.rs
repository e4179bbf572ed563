//! The keys: the current one seals, every configured one opens.
//!
//! From `EVERREACH_ENCRYPTION_KEY` (plus `EVERREACH_ENCRYPTION_KEYS_OLD`), or else from
//! `<data dir>/encryption.keys`, generated on first use with mode 0600: one base64 key
//! per line, the last line current. A key file its group or others can open is refused. A key's id is a short hash of the key itself, so a
//! wrong key is recognised by its id before anything is written with it.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use super::{Binding, Format, SEALED_PREFIX, SecretError, split_format};
use crate::Config;

const KEY_FILE: &str = "encryption.keys";

struct Key {
    id: String,
    cipher: Aes256Gcm,
    /// The key for MACs: HMAC-SHA256 of the key over a fixed label, so a MAC never
    /// uses the encryption key itself.
    mac: [u8; 32],
}

pub struct Keyring {
    /// `keys[0]` seals; all open.
    keys: Vec<Key>,
    /// Where generated keys live (`None` when the key comes from the environment).
    file: Option<PathBuf>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("Keyring")
            .field("key_ids", &ids)
            .field("file", &self.file)
            .finish()
    }
}

impl Keyring {
    /// The configured keys, generating the key file if there is neither key nor file.
    pub fn load(config: &Config) -> Result<Keyring, SecretError> {
        if let Some(current) = &config.encryption_key {
            let mut raw = vec![parse_key(current)?];
            for old in &config.encryption_keys_old {
                raw.push(parse_key(old)?);
            }
            return Ok(Keyring::from_raw(raw, None));
        }
        let path = config.data_dir.join(KEY_FILE);
        if !path.exists() {
            std::fs::create_dir_all(&config.data_dir).map_err(key_file_error(&path))?;
            append_key(&path, &generate_key()?)?;
        }
        Keyring::from_file(&path)
    }

    /// A keyring of the given raw keys, the first current (for tests and rotation).
    pub fn from_raw(raw: Vec<[u8; 32]>, file: Option<PathBuf>) -> Keyring {
        let keys = raw
            .iter()
            .map(|k| Key {
                id: key_id(k),
                cipher: Aes256Gcm::new(&(*k).into()),
                mac: hmac_sha256(k, b"everreach mac key v1"),
            })
            .collect();
        Keyring { keys, file }
    }

    fn from_file(path: &Path) -> Result<Keyring, SecretError> {
        // Whoever can read the file can open every secret (and whoever can write it can
        // slip in a key of their own): refused, not merely warned about.
        let meta = std::fs::metadata(path).map_err(key_file_error(path))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(SecretError::KeyFileOpen {
                path: path.display().to_string(),
                mode,
            });
        }
        let text = std::fs::read_to_string(path).map_err(key_file_error(path))?;
        let mut raw = Vec::new();
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            raw.push(parse_key(line.trim()).map_err(|_| SecretError::KeyFile {
                path: path.display().to_string(),
                cause: format!("line {} is not a base64 256-bit key", n + 1),
            })?);
        }
        if raw.is_empty() {
            return Err(SecretError::KeyFile {
                path: path.display().to_string(),
                cause: "it is empty".into(),
            });
        }
        raw.reverse(); // the last line is current
        Ok(Keyring::from_raw(raw, Some(path.to_path_buf())))
    }

    pub fn current_id(&self) -> &str {
        &self.keys[0].id
    }

    pub fn has(&self, id: &str) -> bool {
        self.keys.iter().any(|k| k.id == id)
    }

    /// The key file, when the keys are generated rather than given.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// A MAC of `message` for `purpose` under the current key: `<key id>.<tag>`, the
    /// tag base64url of 16 bytes. Kept keys still verify after a rotation, so links
    /// signed before it keep working.
    pub fn sign(&self, purpose: &str, message: &[u8]) -> String {
        let key = &self.keys[0];
        format!(
            "{}.{}",
            key.id,
            URL_SAFE_NO_PAD.encode(mac(&key.mac, purpose, message))
        )
    }

    /// Whether `signed` (from [`Keyring::sign`]) is `message`'s MAC for `purpose`
    /// under one of the keys (compared in constant time).
    pub fn verify(&self, purpose: &str, message: &[u8], signed: &str) -> bool {
        let Some((id, tag)) = signed.split_once('.') else {
            return false;
        };
        let Ok(tag) = URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        self.keys.iter().filter(|k| k.id == id).any(|k| {
            let expected = mac(&k.mac, purpose, message);
            tag.len() == expected.len()
                && tag
                    .iter()
                    .zip(expected)
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        })
    }

    pub fn seal(&self, plaintext: &str, binding: Binding<'_>) -> String {
        let key = &self.keys[0];
        let mut nonce = [0u8; 12];
        // A failing OS random source leaves no safe way to seal: refuse loudly.
        #[expect(
            clippy::expect_used,
            reason = "no OS randomness means no safe encryption at all"
        )]
        getrandom::fill(&mut nonce).expect("the OS random number generator failed");
        let aad = binding.aad();
        #[expect(
            clippy::expect_used,
            reason = "AES-GCM encryption fails only beyond 64 GiB inputs"
        )]
        let sealed = key
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .expect("AES-GCM encryption failed");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{}:{}", key.id, STANDARD_NO_PAD.encode(blob))
    }

    pub fn open(&self, sealed: &str, binding: Binding<'_>) -> Result<String, SecretError> {
        let corrupt = || SecretError::Corrupt {
            place: binding.place(),
        };
        let (format, rest) = split_format(sealed).ok_or_else(corrupt)?;
        let (id, body) = rest.split_once(':').ok_or_else(corrupt)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| SecretError::MissingKey {
                key_id: id.to_string(),
            })?;
        let blob = STANDARD_NO_PAD.decode(body).map_err(|_| corrupt())?;
        if blob.len() < 12 + 16 {
            return Err(corrupt());
        }
        let (nonce, ciphertext) = blob.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| corrupt())?;
        let aad = match format {
            Format::V2 => binding.aad(),
            Format::V1 => binding.aad_v1(),
        };
        let plain = key
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| corrupt())?;
        String::from_utf8(plain).map_err(|_| corrupt())
    }

    /// Adds a fresh key to the key file and makes it current (for `keys rotate`).
    pub fn add_generated_key(&mut self) -> Result<(), SecretError> {
        let Some(path) = self.file.clone() else {
            return Err(SecretError::BadKey(
                "the key comes from EVERREACH_ENCRYPTION_KEY: put the new key there and the old \
                 one in EVERREACH_ENCRYPTION_KEYS_OLD, then rotate"
                    .into(),
            ));
        };
        append_key(&path, &generate_key()?)?;
        *self = Keyring::from_file(&path)?;
        Ok(())
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::{KeyInit as _, Mac};
    let mut m = hmac::Hmac::<Sha256>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    m.update(message);
    m.finalize().into_bytes().into()
}

/// A 16-byte tag of `message` for `purpose` (the purpose is part of the MAC, so a tag
/// made for one use is refused by every other).
fn mac(key: &[u8; 32], purpose: &str, message: &[u8]) -> [u8; 16] {
    let mut input = Vec::with_capacity(purpose.len() + 1 + message.len());
    input.extend_from_slice(purpose.as_bytes());
    input.push(0);
    input.extend_from_slice(message);
    let full = hmac_sha256(key, &input);
    let mut tag = [0u8; 16];
    tag.copy_from_slice(&full[..16]);
    tag
}

fn key_id(key: &[u8; 32]) -> String {
    let digest = Sha256::new()
        .chain_update(b"everreach key id\0")
        .chain_update(key)
        .finalize();
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// 32 bytes as base64 (padded or not) or as 64 hex digits.
fn parse_key(text: &str) -> Result<[u8; 32], SecretError> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|e| SecretError::BadKey(e.to_string()))?
    } else {
        STANDARD
            .decode(text)
            .or_else(|_| STANDARD_NO_PAD.decode(text))
            .map_err(|_| SecretError::BadKey("neither base64 nor 64 hex digits".into()))?
    };
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| SecretError::BadKey(format!("it is {} bytes, not 32", b.len())))
}

fn generate_key() -> Result<[u8; 32], SecretError> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| SecretError::BadKey(format!("no OS randomness: {e}")))?;
    Ok(key)
}

/// Appends a key line, creating the file 0600 (never readable by others, even briefly).
fn append_key(path: &Path, key: &[u8; 32]) -> Result<(), SecretError> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(key_file_error(path))?;
    writeln!(file, "{}", STANDARD.encode(key)).map_err(key_file_error(path))?;
    file.sync_all().map_err(key_file_error(path))
}

fn key_file_error(path: &Path) -> impl FnOnce(std::io::Error) -> SecretError + '_ {
    move |e| SecretError::KeyFile {
        path: path.display().to_string(),
        cause: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn binding(user_id: Uuid) -> Binding<'static> {
        Binding {
            table: "accounts",
            column: "access_token",
            user_id,
            row_id: Uuid::nil(),
        }
    }

    #[test]
    fn seal_then_open_round_trips_and_hides_the_plaintext() {
        let ring = Keyring::from_raw(vec![[7u8; 32]], None);
        let user = Uuid::new_v4();
        let sealed = ring.seal("ya29.secret-token", binding(user));
        assert!(sealed.starts_with(&format!("er2:{}:", ring.current_id())));
        assert!(!sealed.contains("secret-token"));
        assert_eq!(
            ring.open(&sealed, binding(user)).unwrap(),
            "ya29.secret-token"
        );
        assert_ne!(
            sealed,
            ring.seal("ya29.secret-token", binding(user)),
            "nonces are random"
        );
    }

    #[test]
    fn a_value_moved_to_another_tenant_or_column_does_not_open() {
        let ring = Keyring::from_raw(vec![[7u8; 32]], None);
        let sealed = ring.seal("t", binding(Uuid::new_v4()));
        assert!(matches!(
            ring.open(&sealed, binding(Uuid::new_v4())),
            Err(SecretError::Corrupt { .. })
        ));
        let other_column = Binding {
            column: "refresh_token",
            ..binding(Uuid::nil())
        };
        assert!(ring.open(&sealed, other_column).is_err());
    }

    #[test]
    fn a_value_moved_to_another_row_of_the_same_tenant_and_column_does_not_open() {
        let ring = Keyring::from_raw(vec![[7u8; 32]], None);
        let user = Uuid::new_v4();
        let row = |row_id| Binding {
            row_id,
            ..binding(user)
        };
        let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
        let sealed = ring.seal("t", row(first));
        assert_eq!(ring.open(&sealed, row(first)).unwrap(), "t");
        assert!(matches!(
            ring.open(&sealed, row(second)),
            Err(SecretError::Corrupt { .. })
        ));
    }

    #[test]
    fn old_keys_open_and_unknown_keys_are_named() {
        let old = Keyring::from_raw(vec![[1u8; 32]], None);
        let sealed = old.seal("t", binding(Uuid::nil()));
        let rotated = Keyring::from_raw(vec![[2u8; 32], [1u8; 32]], None);
        assert_eq!(rotated.open(&sealed, binding(Uuid::nil())).unwrap(), "t");
        let other = Keyring::from_raw(vec![[3u8; 32]], None);
        match other.open(&sealed, binding(Uuid::nil())) {
            Err(SecretError::MissingKey { key_id }) => assert_eq!(key_id, old.current_id()),
            other => panic!("expected MissingKey, got {other:?}"),
        }
    }

    #[test]
    fn tampering_is_detected() {
        let ring = Keyring::from_raw(vec![[7u8; 32]], None);
        let mut sealed = ring.seal("token", binding(Uuid::nil()));
        let last = sealed.pop().unwrap();
        sealed.push(if last == 'A' { 'B' } else { 'A' });
        assert!(ring.open(&sealed, binding(Uuid::nil())).is_err());
    }

    #[test]
    fn keys_parse_from_base64_or_hex_and_bad_ones_say_how_to_fix() {
        assert_eq!(parse_key(&"ab".repeat(32)).unwrap(), [0xab; 32]);
        assert_eq!(parse_key(&STANDARD.encode([9u8; 32])).unwrap(), [9; 32]);
        let err = parse_key("short").unwrap_err().to_string();
        assert!(err.contains("openssl rand -base64 32"), "{err}");
    }

    #[test]
    fn generated_key_file_is_private_and_rotation_appends() {
        let dir = std::env::temp_dir().join(format!("er-keys-{}", Uuid::new_v4()));
        let config = Config::from_lookup(|name| {
            (name == "EVERREACH_DATA_DIR").then(|| dir.display().to_string())
        })
        .unwrap();
        let mut ring = Keyring::load(&config).unwrap();
        let path = dir.join(KEY_FILE);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let first = ring.current_id().to_string();
        assert_eq!(
            Keyring::load(&config).unwrap().current_id(),
            first,
            "loaded, not regenerated"
        );
        ring.add_generated_key().unwrap();
        assert_ne!(ring.current_id(), first);
        assert!(ring.has(&first));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_key_file_that_group_or_others_can_open_is_refused_naming_the_fix() {
        let dir = std::env::temp_dir().join(format!("er-keys-{}", Uuid::new_v4()));
        let config = Config::from_lookup(|name| {
            (name == "EVERREACH_DATA_DIR").then(|| dir.display().to_string())
        })
        .unwrap();
        Keyring::load(&config).unwrap();
        let path = dir.join(KEY_FILE);
        for mode in [0o644, 0o640, 0o604, 0o620] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = Keyring::load(&config)
                .expect_err("a key file others can open is refused")
                .to_string();
            assert!(
                err.contains(&format!("chmod 600 {}", path.display())),
                "mode {mode:o}: {err}"
            );
        }
        for mode in [0o600, 0o400] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            Keyring::load(&config).unwrap_or_else(|e| panic!("mode {mode:o}: {e}"));
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
