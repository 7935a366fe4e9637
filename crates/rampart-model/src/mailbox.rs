use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{EmailAddress, Timestamp};

/// A domain Rampart accepts mail for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    pub name: String,
    pub created_at: Timestamp,
}

impl Domain {
    /// Normalises a domain name the way addresses do, so lookups always agree.
    pub fn normalize(raw: &str) -> Result<String, crate::AddressError> {
        crate::address::normalize_domain(raw)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(pub i64);

/// A mailbox owner: an employee or a shared mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub address: EmailAddress,
    pub name: Option<String>,
    pub department: Option<String>,
    /// Job level (e.g. "staff", "manager", "executive"): later issues key sending quotas on it.
    pub level: Option<String>,
    /// Mailbox quota in bytes; `None` means unlimited.
    pub quota_bytes: Option<u64>,
    /// Bytes held by visible (not deleted) messages.
    pub used_bytes: u64,
    pub disabled: bool,
    pub has_password: bool,
    pub created_at: Timestamp,
    /// Set while the account is contained (`rampart account contain`): no login, no sending,
    /// its queued mail held.
    #[serde(default)]
    pub contained_at: Option<Timestamp>,
    /// Why it was contained, for the console and the login refusal.
    #[serde(default)]
    pub contain_reason: Option<String>,
    /// Password logins are refused until an administrator sets a new password.
    #[serde(default)]
    pub password_reset_required: bool,
    /// The next login must pass step-up verification, whatever its risk.
    #[serde(default)]
    pub step_up_required: bool,
    /// Set while sending is held after a spike or a passed daily limit, until the user passes
    /// step-up verification or an administrator releases it.
    #[serde(default)]
    pub sending_held_at: Option<Timestamp>,
}

impl Account {
    /// Whether one more message of `size` bytes fits the quota.
    pub fn has_room_for(&self, size: u64) -> bool {
        self.quota_bytes
            .is_none_or(|q| self.used_bytes.saturating_add(size) <= q)
    }
}

/// What an admin supplies to create an account.
#[derive(Debug, Clone, Default)]
pub struct NewAccount {
    pub address: Option<EmailAddress>,
    pub name: Option<String>,
    pub department: Option<String>,
    pub level: Option<String>,
    pub quota_bytes: Option<u64>,
    /// An already-hashed password (PHC string, argon2id). The store never sees a clear password.
    pub password_hash: Option<String>,
}

/// An extra address that delivers to one or more accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    pub address: EmailAddress,
    pub targets: Vec<EmailAddress>,
}

/// The standard folders every account has (RFC 6154 special uses). Serialized by IMAP name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum Folder {
    Inbox,
    Sent,
    Drafts,
    Junk,
    Trash,
    Archive,
}

impl Folder {
    pub const ALL: [Folder; 6] = [
        Folder::Inbox,
        Folder::Sent,
        Folder::Drafts,
        Folder::Junk,
        Folder::Trash,
        Folder::Archive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Folder::Inbox => "INBOX",
            Folder::Sent => "Sent",
            Folder::Drafts => "Drafts",
            Folder::Junk => "Junk",
            Folder::Trash => "Trash",
            Folder::Archive => "Archive",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown folder {0:?} (expected one of INBOX, Sent, Drafts, Junk, Trash, Archive)")]
pub struct UnknownFolder(pub String);

impl FromStr for Folder {
    type Err = UnknownFolder;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Folder::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownFolder(s.to_string()))
    }
}

impl From<Folder> for &'static str {
    fn from(f: Folder) -> &'static str {
        f.as_str()
    }
}

impl TryFrom<String> for Folder {
    type Error = UnknownFolder;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for Folder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// IMAP system flags; stored per message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Flag {
    Seen,
    Answered,
    Flagged,
    Draft,
}

impl Flag {
    pub const ALL: [Flag; 4] = [Flag::Seen, Flag::Answered, Flag::Flagged, Flag::Draft];

    pub fn bit(self) -> u32 {
        match self {
            Flag::Seen => 1,
            Flag::Answered => 2,
            Flag::Flagged => 4,
            Flag::Draft => 8,
        }
    }

    pub fn from_bits(bits: u32) -> Vec<Flag> {
        Flag::ALL
            .into_iter()
            .filter(|f| bits & f.bit() != 0)
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(pub i64);

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Content address of a raw message: lower-case hex SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BlobId(pub String);

impl BlobId {
    /// True for exactly 64 lower-case hex digits; anything else must never reach a file path.
    pub fn is_well_formed(&self) -> bool {
        self.0.len() == 64
            && self
                .0
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One message in one account's mailbox. The raw bytes live in the blob store under `blob`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageMeta {
    pub id: MessageId,
    pub account: EmailAddress,
    pub folder: Folder,
    /// IMAP UID within the folder.
    pub uid: u32,
    pub blob: BlobId,
    pub size: u64,
    pub from: String,
    pub to: String,
    pub subject: String,
    /// The message's own `Date:` header (as written by the sender).
    pub date: String,
    /// When Rampart accepted it.
    pub received_at: Timestamp,
    pub flags: Vec<Flag>,
    /// Set while the message sits in the recovery window.
    pub deleted_at: Option<Timestamp>,
    /// When the purge job may remove it for good (deleted messages only).
    pub recoverable_until: Option<Timestamp>,
}

/// Where a quarantined message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuarantineStatus {
    Held,
    Released,
    Deleted,
}

impl QuarantineStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            QuarantineStatus::Held => "held",
            QuarantineStatus::Released => "released",
            QuarantineStatus::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Held, Self::Released, Self::Deleted]
            .into_iter()
            .find(|q| q.as_str().eq_ignore_ascii_case(s))
    }
}

/// One remote recipient of a submitted message, waiting for outbound delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundEntry {
    pub id: i64,
    /// The SMTP queue id the submitter was told.
    pub queue_id: String,
    pub blob: BlobId,
    pub size: u64,
    pub mail_from: String,
    pub recipient: EmailAddress,
    /// The authenticated account that submitted it.
    pub account: EmailAddress,
    /// `queued` (waiting for its next attempt), `sending` (claimed by a delivery worker until
    /// its lease ends), `sent`, `failed` (bounced to the sender) or `held` (the account is
    /// contained).
    pub status: String,
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    /// When the last attempt ended.
    #[serde(default)]
    pub last_attempt_at: Option<Timestamp>,
    /// The receiving server's final answer (`mx.example.net[192.0.2.1] 250 2.0.0 ok; TLSv1.3 verified`).
    #[serde(default)]
    pub remote: Option<String>,
    /// Whether the sender was told of the delay.
    #[serde(default)]
    pub delay_notified: bool,
}

/// A message kept out of the mailboxes by policy, with the scan report that put it there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantineEntry {
    pub id: i64,
    pub received_at: Timestamp,
    pub direction: crate::Direction,
    pub blob: BlobId,
    pub size: u64,
    /// Envelope sender (empty for the null sender).
    pub mail_from: String,
    /// The accounts it would have been delivered to.
    pub recipients: Vec<EmailAddress>,
    pub from: String,
    pub subject: String,
    pub score: f32,
    /// The scan report as JSON, exactly as the pipeline produced it.
    pub report: String,
    pub status: QuarantineStatus,
    pub decided_at: Option<Timestamp>,
    pub decided_by: Option<String>,
}
