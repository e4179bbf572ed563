//! Password hashing: argon2id with the RFC 9106 "second recommended" parameters
//! (19 MiB, 2 passes, 1 lane), PHC strings in `users.password_hash`. Hashing takes
//! tens of milliseconds of CPU on purpose, so it runs on the blocking pool.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};

use super::Password;

/// A PHC string for `password`.
pub async fn hash(password: &Password) -> String {
    let password = password.clone();
    tokio::task::spawn_blocking(move || hash_now(password.expose()))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// Whether `password` matches `phc`. A malformed stored hash never matches.
pub async fn verify(password: &str, phc: &str) -> bool {
    let (password, phc) = (password.to_string(), phc.to_string());
    tokio::task::spawn_blocking(move || verify_now(&password, &phc))
        .await
        .unwrap_or(false)
}

/// Spends the same time as a real check, so an unknown e-mail answers as slowly as a
/// wrong password and sign-in does not reveal which addresses have accounts.
pub async fn waste_time(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = DUMMY
        .get_or_init(|| hash_now("not anyone's password"))
        .clone();
    let _ = verify(password, &phc).await;
}

fn hash_now(password: &str) -> String {
    #[expect(
        clippy::expect_used,
        reason = "argon2 with default parameters cannot fail on a bounded password"
    )]
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2 hashing")
        .to_string()
}

fn verify_now(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let p = Password::parse("correct horse battery").unwrap();
        let phc = hash(&p).await;
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &phc).await);
        assert!(!verify("correct horse batterx", &phc).await);
        assert!(!verify("correct horse battery", "not a phc string").await);
    }
}
