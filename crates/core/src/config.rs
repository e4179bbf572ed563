//! The one configuration struct, read once from the environment at start, validated,
//! and passed down. Every variable is listed in the README's configuration table.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var}={value:?} is not valid: {why}")]
    Invalid {
        var: &'static str,
        value: String,
        why: String,
    },
}

#[derive(Clone)]
pub struct Config {
    /// An external PostgreSQL (≥ 15 with pgvector); `None` runs the embedded cluster.
    pub database_url: Option<String>,
    /// Optional URL for the application role when it logs in with its own password;
    /// without it the app pool uses `database_url` and `SET ROLE everreach_app`.
    pub app_database_url: Option<String>,
    /// Where the embedded cluster, its lock and the generated key file live.
    pub data_dir: PathBuf,
    /// PostgreSQL bin directory to use instead of the pinned wheel.
    pub pg_bin_dir: Option<PathBuf>,
    /// Where the pinned wheel is unpacked.
    pub pg_cache_dir: PathBuf,
    /// HTTP listen address of `serve`.
    pub addr: SocketAddr,
    /// Where people reach this installation (tracking links in sent messages point
    /// here); `serve` uses `http://<listen address>` when unset.
    pub public_url: Option<String>,
    /// Base64 (or 64 hex digits) AES-256 key; without it one is generated into the data dir.
    pub encryption_key: Option<String>,
    /// Earlier keys, comma-separated, still accepted for decryption until rotated away.
    pub encryption_keys_old: Vec<String>,
    /// Requests per minute: sign-up/sign-in per client address, reads and writes per user.
    pub rate_limit_auth: u32,
    /// Sign-in attempts and reset mails per minute, per account.
    pub rate_limit_account: u32,
    /// Tracking pixel and click requests per minute, per client address.
    pub rate_limit_public: u32,
    pub rate_limit_read: u32,
    pub rate_limit_write: u32,
    /// Outgoing mail over SMTP (`smtps://USER:PASSWORD@HOST`); unset: the outbox only.
    pub smtp_url: Option<String>,
    /// The sender of outgoing mail.
    pub mail_from: String,
    /// Proxies whose `X-Forwarded-For` is believed (addresses or CIDR blocks).
    pub trusted_proxies: String,
    /// The bearer token `/metrics` asks for; unset: `/metrics` answers loopback only.
    pub metrics_token: Option<String>,
}

impl std::fmt::Debug for Config {
    // Secrets never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("data_dir", &self.data_dir)
            .field("pg_bin_dir", &self.pg_bin_dir)
            .field("pg_cache_dir", &self.pg_cache_dir)
            .field("addr", &self.addr)
            .field(
                "encryption_key",
                &self.encryption_key.as_ref().map(|_| "<set>"),
            )
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "<set>"),
            )
            .finish_non_exhaustive()
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Reads through `get` so tests can supply an environment without mutating ours.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let addr_raw = get("EVERREACH_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into());
        let addr = addr_raw.parse().map_err(|e| ConfigError::Invalid {
            var: "EVERREACH_ADDR",
            value: addr_raw.clone(),
            why: format!("{e}; expected HOST:PORT such as 127.0.0.1:8080"),
        })?;
        let public_url = get("EVERREACH_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_string());
        if let Some(url) = &public_url
            && !is_web_url(url)
        {
            return Err(ConfigError::Invalid {
                var: "EVERREACH_PUBLIC_URL",
                value: url.clone(),
                why: "expected an absolute http(s) URL such as https://crm.example.com".into(),
            });
        }
        let database_url = get("DATABASE_URL");
        if let Some(url) = &database_url {
            check_postgres_url("DATABASE_URL", url)?;
        }
        let app_database_url = get("EVERREACH_APP_DATABASE_URL");
        if let Some(url) = &app_database_url {
            check_postgres_url("EVERREACH_APP_DATABASE_URL", url)?;
        }
        let per_minute = |var: &'static str, default: u32| -> Result<u32, ConfigError> {
            match get(var) {
                None => Ok(default),
                Some(v) => v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(ConfigError::Invalid {
                        var,
                        value: v,
                        why: "expected a whole number of requests per minute, at least 1".into(),
                    }),
            }
        };
        Ok(Config {
            rate_limit_auth: per_minute("EVERREACH_RATE_LIMIT_AUTH", 30)?,
            rate_limit_account: per_minute("EVERREACH_RATE_LIMIT_ACCOUNT", 10)?,
            rate_limit_public: per_minute("EVERREACH_RATE_LIMIT_PUBLIC", 600)?,
            smtp_url: get("EVERREACH_SMTP_URL").filter(|u| !u.trim().is_empty()),
            mail_from: get("EVERREACH_MAIL_FROM")
                .unwrap_or_else(|| "EverReach <no-reply@localhost>".into()),
            trusted_proxies: get("EVERREACH_TRUSTED_PROXIES").unwrap_or_default(),
            metrics_token: get("EVERREACH_METRICS_TOKEN").filter(|t| !t.trim().is_empty()),
            rate_limit_read: per_minute("EVERREACH_RATE_LIMIT_READ", 6000)?,
            rate_limit_write: per_minute("EVERREACH_RATE_LIMIT_WRITE", 1200)?,
            database_url,
            app_database_url,
            data_dir: get("EVERREACH_DATA_DIR")
                .map_or_else(|| "everreach-data".into(), PathBuf::from),
            pg_bin_dir: get("EVERREACH_PG_BINDIR").map(PathBuf::from),
            pg_cache_dir: get("EVERREACH_PG_CACHE_DIR")
                .map_or_else(everreach_pg::binaries::default_cache_dir, PathBuf::from),
            addr,
            public_url,
            encryption_key: get("EVERREACH_ENCRYPTION_KEY"),
            encryption_keys_old: get("EVERREACH_ENCRYPTION_KEYS_OLD")
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

/// Rejects what sqlx would reject later with a less helpful message.
fn check_postgres_url(var: &'static str, url: &str) -> Result<(), ConfigError> {
    let invalid = |why: &str| ConfigError::Invalid {
        var,
        value: redact_url(url),
        why: format!("{why}; expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE"),
    };
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(invalid(
            "it does not start with postgres:// or postgresql://",
        ));
    }
    url.parse::<sqlx::postgres::PgConnectOptions>()
        .map_err(|e| invalid(&e.to_string()))?;
    Ok(())
}

/// The URL with its password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<unparsable URL>".into();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults() {
        let config = with(&[]).unwrap();
        assert_eq!(config.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.data_dir, PathBuf::from("everreach-data"));
        assert!(config.database_url.is_none());
    }

    #[test]
    fn malformed_database_url_names_the_variable_and_hides_the_password() {
        let err = with(&[("DATABASE_URL", "mysql://u:hunter2@h/db")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = with(&[("DATABASE_URL", "postgres://u@h:notaport/db")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
    }

    #[test]
    fn bad_addr_says_the_expected_form() {
        let err = with(&[("EVERREACH_ADDR", "localhost")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("HOST:PORT"), "{err}");
    }

    #[test]
    fn debug_output_hides_secrets() {
        let config = with(&[
            ("DATABASE_URL", "postgres://u:hunter2@h/db"),
            ("EVERREACH_ENCRYPTION_KEY", "c2VjcmV0"),
        ])
        .unwrap();
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("c2VjcmV0"),
            "{shown}"
        );
    }
}
