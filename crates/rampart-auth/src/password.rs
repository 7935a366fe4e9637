//! argon2id password hashing and verification, bounded against CPU exhaustion.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::AuthError;

/// Longest password accepted (bytes). Longer input is refused before any hashing.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Shortest password an admin or user may set.
pub const MIN_PASSWORD_CHARS: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordPolicyError {
    #[error("password must have at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("password must have at most {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
}

/// Checks a new password against the minimum rules (NIST SP 800-63B: length, no composition rules).
pub fn check_new_password(password: &str) -> Result<(), PasswordPolicyError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordPolicyError::TooLong);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordPolicyError::TooShort);
    }
    Ok(())
}

/// Hashes and verifies passwords on the blocking pool, at most `concurrency` at once and with at
/// most `max_waiting` more queued; beyond that a login is refused as busy instead of piling up.
///
/// Verifying against an account that does not exist (or has no password) still costs one hash,
/// so response time does not tell an attacker which accounts exist.
#[derive(Clone)]
pub struct PasswordHasher {
    argon: Argon2<'static>,
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
    decoy: Arc<String>,
}

impl PasswordHasher {
    /// argon2id v19 with OWASP's parameters (19 MiB, t=2, p=1).
    pub fn new(concurrency: usize, max_waiting: usize) -> Self {
        Self::with_params(concurrency, max_waiting, Params::DEFAULT)
    }

    /// Cheap parameters for tests only (the hash format is the same).
    pub fn for_tests() -> Self {
        Self::with_params(
            2,
            64,
            Params::new(1024, 1, 1, None).expect("valid argon2 params"),
        )
    }

    fn with_params(concurrency: usize, max_waiting: usize, params: Params) -> Self {
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let decoy = hash_with(&argon, "rampart decoy password").expect("hashing a constant works");
        PasswordHasher {
            argon,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting,
            decoy: Arc::new(decoy),
        }
    }

    /// A PHC string (`$argon2id$v=19$...`) for a new password.
    pub async fn hash(&self, password: &str) -> Result<String, AuthError> {
        check_new_password(password)?;
        let argon = self.argon.clone();
        let password = password.to_string();
        self.bounded(move || hash_with(&argon, &password).map_err(AuthError::Hash))
            .await?
    }

    /// Whether `password` matches `stored` (a PHC string). `None` (no such account, no password)
    /// takes as long as a real check and returns `false`. A stored hash with other argon2
    /// parameters still verifies: the parameters are read from the PHC string.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, AuthError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Ok(false);
        }
        let known = stored.is_some();
        let stored = stored.unwrap_or(self.decoy.as_str()).to_string();
        let argon = self.argon.clone();
        let password = password.to_string();
        self.bounded(move || {
            let Ok(parsed) = PasswordHash::new(&stored) else {
                tracing::warn!("a stored password hash is not a valid PHC string");
                return false;
            };
            known && argon.verify_password(password.as_bytes(), &parsed).is_ok()
        })
        .await
    }

    async fn bounded<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        let queued = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _guard = Decrement(Arc::clone(&self.waiting));
        if queued >= self.max_waiting + self.permits.available_permits().max(1) {
            return Err(AuthError::Busy);
        }
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| AuthError::Busy)?;
        let out = tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        })
        .await
        .map_err(|_| AuthError::Busy)?;
        Ok(out)
    }
}

struct Decrement(Arc<AtomicUsize>);

impl Drop for Decrement {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn hash_with(argon: &Argon2<'_>, password: &str) -> Result<String, String> {
    use argon2::password_hash::PasswordHasher as _;
    let mut salt = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt)
        .map_err(|_| "the system random generator failed".to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    argon
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let h = PasswordHasher::for_tests();
        let phc = h.hash("correct horse battery").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$"));
        assert!(h.verify("correct horse battery", Some(&phc)).await.unwrap());
        assert!(!h.verify("correct horse batterY", Some(&phc)).await.unwrap());
        assert!(!h.verify("correct horse battery", None).await.unwrap());
        assert!(!h.verify("x", Some("not a phc string")).await.unwrap());
        let long = "a".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(!h.verify(&long, Some(&phc)).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_made_with_default_parameters_verify_with_any_hasher() {
        // Stored hashes carry their parameters: the CLI's default-cost hashes verify here.
        let strong = PasswordHasher::new(1, 4);
        let phc = strong.hash("a long enough password").await.unwrap();
        assert!(phc.contains("m=19456,t=2,p=1"));
        let cheap = PasswordHasher::for_tests();
        assert!(cheap
            .verify("a long enough password", Some(&phc))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn new_passwords_follow_the_length_rules() {
        let h = PasswordHasher::for_tests();
        assert!(matches!(
            h.hash("short").await,
            Err(AuthError::Policy(PasswordPolicyError::TooShort))
        ));
        assert!(matches!(
            h.hash(&"x".repeat(2000)).await,
            Err(AuthError::Policy(PasswordPolicyError::TooLong))
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_of_verifications_is_refused_as_busy_not_queued_without_bound() {
        let h = PasswordHasher::with_params(1, 2, Params::new(8 * 1024, 3, 1, None).unwrap());
        let phc = h.hash("correct horse battery").await.unwrap();
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let (h, phc) = (h.clone(), phc.clone());
            tasks.push(tokio::spawn(async move {
                h.verify("correct horse battery", Some(&phc)).await
            }));
        }
        let mut ok = 0;
        let mut busy = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(true) => ok += 1,
                Err(AuthError::Busy) => busy += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(ok >= 1, "some verifications must run");
        assert!(busy >= 1, "the excess must be refused");
        assert_eq!(ok + busy, 32);
    }
}
