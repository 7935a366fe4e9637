//! Identities and logins.
//!
//! The pieces here never see the network: [`password`] hashes and verifies argon2id passwords with
//! a bound on how many verifications run at once (a flood of logins cannot take every core),
//! [`secret`] makes app passwords and session tokens (only their SHA-256 is stored), and [`totp`]
//! enrols and checks RFC 6238 codes with replay protection left to the store's `use_totp_step`.

pub mod login;
pub mod password;
pub mod secret;
pub mod totp;

pub use password::{PasswordHasher, PasswordPolicyError};
pub use secret::{AppPasswordSecret, SessionToken};
pub use totp::TotpSecret;

/// Errors of the identity layer, each with the fix where there is one.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("too many logins are being checked at once; try again in a moment")]
    Busy,
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Policy(#[from] PasswordPolicyError),
    #[error("TOTP secret is invalid: {0}")]
    Totp(String),
}
