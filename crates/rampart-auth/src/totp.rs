//! RFC 6238 TOTP (SHA-1, 6 digits, 30 s): what every authenticator app speaks.

use data_encoding::BASE32_NOPAD;
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

use crate::AuthError;

pub const STEP_SECS: u64 = 30;
const DIGITS: usize = 6;
/// Steps accepted either side of now (clock drift of the phone).
const SKEW: i64 = 1;

/// A TOTP shared secret (20 random bytes, 160 bits as RFC 4226 recommends).
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 20];
        SystemRandom::new()
            .fill(&mut bytes)
            .expect("the system random generator works");
        TotpSecret(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, AuthError> {
        if bytes.len() < 16 {
            return Err(AuthError::Totp("shorter than 128 bits".into()));
        }
        Ok(TotpSecret(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The secret as authenticator apps take it when typed in.
    pub fn base32(&self) -> String {
        BASE32_NOPAD.encode(&self.0)
    }

    /// `otpauth://totp/Issuer:account?secret=...&issuer=...`, the content of the enrolment QR code.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let issuer_enc = encode_uri_component(issuer);
        format!(
            "otpauth://totp/{issuer_enc}:{}?secret={}&issuer={issuer_enc}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            encode_uri_component(account),
            self.base32()
        )
    }

    fn totp(&self) -> Result<TOTP, AuthError> {
        TOTP::new(Algorithm::SHA1, DIGITS, 0, STEP_SECS, self.0.clone())
            .map_err(|e| AuthError::Totp(e.to_string()))
    }

    /// The code for `unix_secs` (for tests and for showing the current code in tools).
    pub fn code_at(&self, unix_secs: u64) -> String {
        self.totp()
            .map(|t| t.generate(unix_secs))
            .unwrap_or_default()
    }

    /// The time step `code` belongs to, if it is valid within one step of `unix_secs`. The caller
    /// must then record the step with the store's `use_totp_step`, which refuses a step that is
    /// not newer than the last one used: a code works once.
    pub fn verify(&self, code: &str, unix_secs: u64) -> Option<i64> {
        let code = code.trim();
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let totp = self.totp().ok()?;
        let now_step = (unix_secs / STEP_SECS) as i64;
        let mut found = None;
        // Check every candidate step, so timing does not tell which one matched.
        for step in (now_step - SKEW)..=(now_step + SKEW) {
            if step < 0 {
                continue;
            }
            let expected = totp.generate(step as u64 * STEP_SECS);
            if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && found.is_none() {
                found = Some(step);
            }
        }
        found
    }
}

fn encode_uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 appendix B, SHA-1 seed, truncated to the 6 digits apps use.
        let s = TotpSecret::from_bytes(b"12345678901234567890".to_vec()).unwrap();
        assert_eq!(s.code_at(59), "287082");
        assert_eq!(s.code_at(1_111_111_109), "081804");
        assert_eq!(s.code_at(1_234_567_890), "005924");
        assert_eq!(s.code_at(2_000_000_000), "279037");
    }

    #[test]
    fn codes_verify_within_one_step_and_name_their_step() {
        let s = TotpSecret::generate();
        let now = 1_800_000_000u64;
        let code = s.code_at(now);
        assert_eq!(s.verify(&code, now), Some((now / 30) as i64));
        assert_eq!(s.verify(&code, now + 30), Some((now / 30) as i64));
        assert_eq!(s.verify(&code, now + 95), None);
        assert_eq!(s.verify("12345", now), None);
        assert_eq!(s.verify("abcdef", now), None);
    }

    #[test]
    fn enrolment_uri_names_issuer_account_and_secret() {
        let s = TotpSecret::from_bytes(vec![0u8; 20]).unwrap();
        let uri = s.otpauth_uri("Rampart mail.example.com", "alice@example.com");
        assert!(uri.starts_with(
            "otpauth://totp/Rampart%20mail.example.com:alice@example.com?secret=AAAAAAAA"
        ));
        assert!(uri.contains("&issuer=Rampart%20mail.example.com&"));
        assert!(TotpSecret::from_bytes(vec![1; 8]).is_err());
        assert_eq!(format!("{s:?}"), "TotpSecret(..)");
    }
}
