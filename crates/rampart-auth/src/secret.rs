//! High-entropy secrets handed to users once: app passwords and API session tokens. The store
//! keeps only their SHA-256 (a 95-bit or 256-bit random secret needs no slow hash).

use data_encoding::BASE64URL_NOPAD;
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .expect("the system random generator works");
    out
}

/// SHA-256 of `secret`, lower-case hex: what the store keeps.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two digests in constant time.
pub fn digests_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// An app password: 20 lower-case letters shown in groups of four (`abcd efgh ijkl mnop qrst`),
/// about 94 bits. Mail clients may keep or drop the spaces; both verify.
pub struct AppPasswordSecret {
    pub display: String,
}

impl AppPasswordSecret {
    pub fn generate() -> Self {
        const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
        let mut letters = String::with_capacity(24);
        let bytes = random::<64>();
        // Rejection sampling keeps every letter equally likely (256 = 9*26 + 22).
        for b in bytes {
            if letters.len() == 20 {
                break;
            }
            if b < 234 {
                letters.push(LETTERS[(b % 26) as usize] as char);
            }
        }
        while letters.len() < 20 {
            let b = random::<1>()[0];
            if b < 234 {
                letters.push(LETTERS[(b % 26) as usize] as char);
            }
        }
        let display = letters
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).expect("ascii"))
            .collect::<Vec<_>>()
            .join(" ");
        AppPasswordSecret { display }
    }

    /// The stored form of what a client typed: spaces removed, lower-cased, then SHA-256.
    pub fn digest_of(typed: &str) -> Option<String> {
        let normal: String = typed
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        (normal.len() == 20 && normal.bytes().all(|b| b.is_ascii_lowercase()))
            .then(|| digest(&normal))
    }

    pub fn digest(&self) -> String {
        Self::digest_of(&self.display).expect("generated secrets are well formed")
    }
}

/// An API session token: `rps_` and 32 random bytes in base64url.
pub struct SessionToken(pub String);

impl SessionToken {
    pub const PREFIX: &'static str = "rps_";

    pub fn generate() -> Self {
        SessionToken(format!(
            "{}{}",
            Self::PREFIX,
            BASE64URL_NOPAD.encode(&random::<32>())
        ))
    }

    pub fn digest(&self) -> String {
        digest(&self.0)
    }
}

/// An opaque public id (challenges, approvals): 16 random bytes, base64url.
pub fn public_id() -> String {
    BASE64URL_NOPAD.encode(&random::<16>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_passwords_verify_with_or_without_spaces_and_case() {
        let s = AppPasswordSecret::generate();
        assert_eq!(s.display.len(), 24);
        assert_eq!(s.display.split(' ').count(), 5);
        let d = s.digest();
        assert_eq!(AppPasswordSecret::digest_of(&s.display).unwrap(), d);
        let packed: String = s.display.split(' ').collect::<String>().to_uppercase();
        assert!(digests_equal(
            &AppPasswordSecret::digest_of(&packed).unwrap(),
            &d
        ));
        assert!(AppPasswordSecret::digest_of("too short").is_none());
        assert!(AppPasswordSecret::digest_of("abcd efgh ijkl mnop qrs1").is_none());
        assert_ne!(AppPasswordSecret::generate().display, s.display);
    }

    #[test]
    fn session_tokens_are_long_random_and_distinct() {
        let a = SessionToken::generate();
        let b = SessionToken::generate();
        assert!(a.0.starts_with("rps_") && a.0.len() == 4 + 43);
        assert_ne!(a.0, b.0);
        assert_eq!(a.digest().len(), 64);
        assert!(!digests_equal(&a.digest(), &b.digest()));
        assert_ne!(public_id(), public_id());
    }
}
