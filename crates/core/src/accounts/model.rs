//! Account rows and the newtypes that validate what a user types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// 003's `user_role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "user_role", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Manager,
    User,
    Viewer,
}

impl Role {
    /// Viewers read; every other role may write its own data.
    pub fn can_write(self) -> bool {
        !matches!(self, Role::Viewer)
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "manager" => Some(Role::Manager),
            "user" => Some(Role::User),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

/// 003's `subscription_tier`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "subscription_tier", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionTier {
    Free,
    Pro,
    Enterprise,
}

/// The signed-in user as the API shows them (never the password hash).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub username: String,
    pub name: Option<String>,
    pub full_name: Option<String>,
    pub avatar_url: Option<String>,
    pub company_id: Uuid,
    pub role: Role,
    pub subscription_tier: SubscriptionTier,
    pub timezone: Option<String>,
    pub onboarding_completed: Option<bool>,
    pub email_verified: Option<bool>,
    pub is_active: Option<bool>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// An e-mail address as we store it: trimmed, lower-cased, one `@`, a dot in the
/// domain, at most 255 characters (the column's width).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(text: &str) -> Result<Email, &'static str> {
        let email = text.trim().to_lowercase();
        if email.is_empty() {
            return Err("is required");
        }
        if email.chars().count() > 255 {
            return Err("must be at most 255 characters");
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err("must be an e-mail address like name@example.com");
        };
        let well_formed = !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if !well_formed {
            return Err("must be an e-mail address like name@example.com");
        }
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 10 to 1024 characters (long enough to resist guessing, short
/// enough that hashing it cannot be used to exhaust the server).
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Password {
    pub fn parse(text: &str) -> Result<Password, &'static str> {
        let n = text.chars().count();
        if n < 10 {
            return Err("must be at least 10 characters");
        }
        if n > 1024 {
            return Err("must be at most 1024 characters");
        }
        Ok(Password(text.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@@x.io",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn passwords_have_bounds_and_never_print() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(1025)).is_err());
        let p = Password::parse("correct horse battery").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn only_viewers_cannot_write() {
        assert!(!Role::Viewer.can_write());
        assert!(Role::User.can_write() && Role::Manager.can_write() && Role::Admin.can_write());
        assert_eq!(Role::parse("manager"), Some(Role::Manager));
        assert_eq!(Role::parse("owner"), None);
    }
}
