//! Accounts: users, sign-up and sign-in, web sessions, API tokens, e-mail
//! verification, password change and reset (seeds 002, 003, 004 `users`; 003 `user_role`/`subscription_tier`).
//!
//! Passwords are argon2id; sessions and API tokens are 256-bit random secrets stored
//! only as SHA-256. Lookups that must cross tenants before one is known (an e-mail at
//! sign-in, a cookie, a bearer token) go through the SECURITY DEFINER functions of
//! migration `…020000_auth_sessions_tokens.sql`; everything else runs in the user's
//! own tenant transaction.

pub mod company;
pub mod export;
pub mod mails;
pub mod model;
pub mod password;
pub mod service;
pub mod store;
pub mod token;

pub use model::{Email, Password, Role, SubscriptionTier, User};
pub use service::{AccountError, Accounts, Principal};
