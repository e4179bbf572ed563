//! Password hashing: argon2id with the RFC 9106 "second recommended" parameters
//! (19 MiB, 2 passes, 1 lane), PHC strings in `users.password_hash`. Hashing takes
//! tens of milliseconds of CPU and 19 MiB on purpose, so it runs on the blocking
//! pool under a semaphore sized to the cores: a burst of sign-ins queues instead of
//! taking every core and hundreds of MiB at once.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};

use super::Password;

/// How many hashes run at once: one per core.
fn permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    })
}

/// Hashes running now, and the most seen at once (for the test of the bound).
static RUNNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static PEAK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Runs `work` on the blocking pool once a permit is free.
async fn bounded<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    use std::sync::atomic::Ordering;
    // the semaphore is never closed, so acquiring cannot fail
    let _permit = permits().acquire().await.ok();
    tokio::task::spawn_blocking(move || {
        let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
        PEAK.fetch_max(now, Ordering::SeqCst);
        let out = work();
        RUNNING.fetch_sub(1, Ordering::SeqCst);
        out
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// A PHC string for `password`.
pub async fn hash(password: &Password) -> String {
    let password = password.clone();
    bounded(move || hash_now(password.expose())).await
}

/// Whether `password` matches `phc`. A malformed stored hash never matches.
pub async fn verify(password: &str, phc: &str) -> bool {
    let (password, phc) = (password.to_string(), phc.to_string());
    bounded(move || verify_now(&password, &phc)).await
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_hashes_run_at_once_than_there_are_cores() {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let p = Password::parse("correct horse battery").unwrap();
        let phc = hash(&p).await;
        let checks: Vec<_> = (0..cores * 4)
            .map(|_| {
                let phc = phc.clone();
                tokio::spawn(async move { verify("correct horse battery", &phc).await })
            })
            .collect();
        for c in checks {
            assert!(c.await.unwrap());
        }
        let peak = PEAK.load(std::sync::atomic::Ordering::SeqCst);
        assert!(peak <= cores, "{peak} hashes ran at once on {cores} cores");
    }
}
