//! Identities and login-risk state: app passwords, API sessions, TOTP, source blocks, login
//! challenges, trusted sources and admin login policies.
//!
//! The store never holds a clear secret: app passwords and session tokens are kept as hashes
//! that the caller computes. The one exception is the TOTP shared secret, which verifying a code
//! needs; [`TotpState`]'s `Debug` output redacts it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{EmailAddress, Protocol, Timestamp};

/// A per-device password for protocols that cannot do a second factor (SMTP AUTH, IMAP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppPassword {
    pub id: i64,
    pub account: EmailAddress,
    /// What the user called it ("phone", "laptop mail client").
    pub name: String,
    /// The protocols it may log in with.
    pub protocols: Vec<Protocol>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// A login to the JSON API / web console, found by the hash of its bearer token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiSession {
    pub id: i64,
    pub account: EmailAddress,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The login completed a second factor (TOTP) or an approval.
    pub mfa: bool,
}

/// An account's TOTP enrolment. `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpState {
    /// The shared secret, raw bytes (not base32).
    pub secret: Vec<u8>,
    /// Set once the user proved the enrolment with a first code.
    pub confirmed: bool,
    /// The last time step a code was accepted for; older and equal steps are replays.
    pub last_step: Option<i64>,
    pub created_at: Timestamp,
}

impl fmt::Debug for TotpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpState")
            .field(
                "secret",
                &format_args!("<{} bytes redacted>", self.secret.len()),
            )
            .field("confirmed", &self.confirmed)
            .field("last_step", &self.last_step)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// Logins from this network are refused outright.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceBlock {
    pub id: i64,
    /// Canonical CIDR (`203.0.113.0/24`, `2001:db8::/32`, `198.51.100.7/32`).
    pub cidr: String,
    pub reason: String,
    pub created_at: Timestamp,
    /// `None`: until removed.
    pub expires_at: Option<Timestamp>,
    /// Who set the block (last set, when it was re-added).
    pub actor: String,
}

/// The name of a value was not one of the known ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?} (expected one of {expected})")]
pub struct UnknownName {
    pub what: &'static str,
    pub value: String,
    pub expected: &'static str,
}

macro_rules! named_enum {
    ($ty:ident, $what:literal, [$($variant:ident => $name:literal),+ $(,)?]) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
                    .ok_or_else(|| UnknownName {
                        what: $what,
                        value: s.to_string(),
                        expected: concat!($($name, " "),+),
                    })
            }
        }
    };
}

pub(crate) use named_enum;

/// How a risky login is put to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeKind {
    /// Enter a TOTP code (interactive protocols only).
    Totp,
    /// Approve the login from an already trusted session (or an admin does).
    Approval,
}

named_enum!(ChallengeKind, "challenge kind", [Totp => "totp", Approval => "approval"]);

/// Where a challenge stands. `Pending` moves to `Approved`, `Denied` or `Expired`; an approved
/// challenge becomes `Completed` when the client finishes the login (a TOTP challenge may go
/// straight from `Pending` to `Completed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeStatus {
    Pending,
    Approved,
    Denied,
    Expired,
    Completed,
}

named_enum!(ChallengeStatus, "challenge status", [
    Pending => "pending",
    Approved => "approved",
    Denied => "denied",
    Expired => "expired",
    Completed => "completed",
]);

/// A login held for a second factor or an approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// Opaque public id, random, generated by the caller.
    pub id: String,
    pub account: EmailAddress,
    pub kind: ChallengeKind,
    pub protocol: Protocol,
    pub ip: String,
    pub user_agent: Option<String>,
    pub device_id: Option<String>,
    /// Why the login was judged risky (risk-engine codes).
    pub reasons: Vec<String>,
    pub status: ChallengeStatus,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub decided_at: Option<Timestamp>,
    pub decided_by: Option<String>,
}

/// What a trust entry vouches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustKind {
    Ip,
    Device,
}

named_enum!(TrustKind, "trust kind", [Ip => "ip", Device => "device"]);

/// A source (IP address or device id) the account's logins are not challenged from, until
/// `until`. A device id works like a bearer credential: callers should store a hash of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trust {
    pub account: EmailAddress,
    pub kind: TrustKind,
    pub value: String,
    pub until: Timestamp,
}

/// An admin login policy for one scope, as JSON the auth crate defines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRecord {
    /// `org`, `department`, `level` or `user`.
    pub scope_kind: String,
    /// Empty for `org`; the department, level, or account address otherwise.
    pub scope_value: String,
    pub policy_json: String,
    pub updated_at: Timestamp,
    pub updated_by: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in ChallengeKind::ALL {
            assert_eq!(k.as_str().parse::<ChallengeKind>().unwrap(), *k);
            assert_eq!(serde_json::to_string(k).unwrap(), format!("\"{k}\""));
        }
        for s in ChallengeStatus::ALL {
            assert_eq!(s.as_str().parse::<ChallengeStatus>().unwrap(), *s);
            assert_eq!(serde_json::to_string(s).unwrap(), format!("\"{s}\""));
        }
        for t in TrustKind::ALL {
            assert_eq!(t.as_str().parse::<TrustKind>().unwrap(), *t);
            assert_eq!(serde_json::to_string(t).unwrap(), format!("\"{t}\""));
        }
        let err = "maybe".parse::<ChallengeStatus>().unwrap_err();
        assert!(err.to_string().contains("pending"), "{err}");
    }

    #[test]
    fn totp_debug_hides_the_secret() {
        let state = TotpState {
            secret: b"supersecretbytes".to_vec(),
            confirmed: true,
            last_step: Some(7),
            created_at: Timestamp(1),
        };
        let shown = format!("{state:?}");
        assert!(!shown.contains("115"), "{shown}"); // 's' as a byte
        assert!(shown.contains("16 bytes redacted"), "{shown}");
    }
}
