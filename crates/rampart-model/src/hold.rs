//! Outbound messages held by data-leak prevention until someone decides: the sender (after a
//! second factor) or an administrator.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::identity::{named_enum, UnknownName};
use crate::{BlobId, EmailAddress, Timestamp};

/// Who may release a held message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldKind {
    /// The sender, after verifying (TOTP, or from a session that passed a second factor).
    Sender,
    /// An administrator (`rampart hold release`).
    Admin,
}

named_enum!(HoldKind, "hold kind", [Sender => "sender", Admin => "admin"]);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldStatus {
    Held,
    /// Sent on: delivered locally and queued for remote recipients.
    Released,
    /// Refused by the sender or an administrator; never sent.
    Rejected,
    /// Nobody decided in time; returned to the sender.
    Expired,
}

named_enum!(HoldStatus, "hold status", [
    Held => "held",
    Released => "released",
    Rejected => "rejected",
    Expired => "expired",
]);

/// A held outbound message. `findings` is the DLP summary with masked values only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hold {
    pub id: i64,
    pub kind: HoldKind,
    /// The authenticated sender.
    pub account: EmailAddress,
    pub mail_from: String,
    pub recipients: Vec<EmailAddress>,
    pub blob: BlobId,
    pub size: u64,
    pub subject: String,
    /// The DLP rule that held it.
    pub rule: String,
    /// JSON: what was found (entity, confidence, count, masked examples).
    pub findings: String,
    pub status: HoldStatus,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub decided_at: Option<Timestamp>,
    pub decided_by: Option<String>,
}

/// What a caller supplies to hold a stored blob.
#[derive(Debug, Clone)]
pub struct NewHold {
    pub kind: HoldKind,
    pub account: EmailAddress,
    pub mail_from: String,
    pub recipients: Vec<EmailAddress>,
    pub blob: BlobId,
    pub size: u64,
    pub subject: String,
    pub rule: String,
    pub findings: String,
    pub expires_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in HoldKind::ALL {
            assert_eq!(k.as_str().parse::<HoldKind>().unwrap(), *k);
        }
        for s in HoldStatus::ALL {
            assert_eq!(s.as_str().parse::<HoldStatus>().unwrap(), *s);
        }
        assert!("maybe".parse::<HoldStatus>().is_err());
    }
}
