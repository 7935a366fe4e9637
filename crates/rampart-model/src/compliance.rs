//! After the fact: roles, the audit chain, the mail archive and legal holds.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{BlobId, Direction, Timestamp};

/// What an account may do beyond its own mailbox. Least privilege: an administrator does not
/// read the archive or the audit trail, an auditor changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An employee: their own mail, devices and settings.
    #[default]
    User,
    /// Runs the system: domains, accounts, policies, quarantine and holds.
    Admin,
    /// Reads the audit trail and searches and exports the archive; every such read is audited.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::User, Role::Admin, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown role `{s}`: use user, admin or auditor"))
    }
}

/// One row of the audit chain exactly as stored: the detail is the stored JSON text, the kind the
/// stored name (an entry written by a newer version still verifies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: Timestamp,
    pub kind: String,
    pub actor: String,
    pub subject: Option<String>,
    pub detail: String,
    /// SHA-256 over the previous entry's hash and this entry (hex); `None` only if the column was
    /// blanked.
    pub hash: Option<String>,
}

/// A signed statement "the chain up to entry `event_id` has hash `hash`".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub id: i64,
    pub at: Timestamp,
    pub event_id: i64,
    /// Hex SHA-256 chain hash of entry `event_id`.
    pub hash: String,
    /// Hex Ed25519 public key that signed it.
    pub public_key: String,
    /// Hex Ed25519 signature.
    pub signature: String,
}

/// One journaled message in the archive: content-addressed (one row per distinct blob), with
/// every local account it concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveEntry {
    pub id: i64,
    pub blob: BlobId,
    pub size: u64,
    /// When it was first journaled.
    pub at: Timestamp,
    /// `inbound` or `outbound` (the first way it was seen).
    pub direction: String,
    /// Envelope sender, when the journaling path knew it.
    pub mail_from: String,
    /// Envelope recipients (local accounts and remote addresses).
    pub recipients: Vec<String>,
    pub from: String,
    pub subject: String,
    /// Local accounts it concerned (sender and recipients): retention and legal holds key on them.
    pub parties: Vec<String>,
}

/// The envelope of a message being journaled.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Journal {
    /// The first way it was seen.
    pub direction: Direction,
    pub mail_from: String,
    pub recipients: Vec<String>,
    /// Local accounts concerned, beyond the accounts the message is filed into.
    pub parties: Vec<String>,
    /// The content scan's decision (`action=junk score=6.1 findings=...`), recorded on the
    /// delivery events so the audit trail says why mail landed where it did.
    pub verdict: Option<String>,
}

impl Journal {
    /// Mail that arrived for local accounts.
    pub fn inbound(mail_from: &str, recipients: impl IntoIterator<Item = impl ToString>) -> Self {
        Journal {
            direction: Direction::Inbound,
            mail_from: mail_from.to_string(),
            recipients: recipients.into_iter().map(|r| r.to_string()).collect(),
            ..Default::default()
        }
    }

    /// Mail a local account sent, to every recipient (local and remote).
    pub fn outbound(
        mail_from: &str,
        recipients: impl IntoIterator<Item = impl ToString>,
        sender: &str,
    ) -> Self {
        Journal {
            direction: Direction::Outbound,
            mail_from: mail_from.to_string(),
            recipients: recipients.into_iter().map(|r| r.to_string()).collect(),
            parties: vec![sender.to_string()],
            verdict: None,
        }
    }

    /// With the content scan's decision, for the delivery events.
    pub fn with_verdict(mut self, verdict: Option<String>) -> Self {
        self.verdict = verdict;
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LegalHoldKind {
    /// Everything a person sent or received, and their deleted mail.
    Person,
    /// Everything an archive search matches (the stored query).
    Search,
}

impl LegalHoldKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LegalHoldKind::Person => "person",
            LegalHoldKind::Search => "search",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "person" => Some(LegalHoldKind::Person),
            "search" => Some(LegalHoldKind::Search),
            _ => None,
        }
    }
}

/// A legal hold suspends deletion (archive retention and the purge of deleted mail) until it is
/// released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalHold {
    pub id: i64,
    pub kind: LegalHoldKind,
    /// An address (person) or an archive query string (search).
    pub target: String,
    pub reason: String,
    pub created_at: Timestamp,
    pub created_by: String,
    pub released_at: Option<Timestamp>,
    pub released_by: Option<String>,
}

/// What one archive retention run removed or kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivePurge {
    /// Entries past retention that were removed: (archive id, blob).
    pub removed: Vec<(i64, BlobId)>,
    /// Entries past retention kept because a legal hold covers them.
    pub held: usize,
    /// Entries past retention kept because the search index has not seen them yet (a search
    /// hold could cover them).
    pub unindexed: usize,
}

/// Mail flow in one time bucket, counted from the events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowBucket {
    /// Start of the bucket (Unix seconds).
    pub start: i64,
    /// Mailbox deliveries to INBOX and other folders (one per recipient account).
    pub accepted: u64,
    /// Deliveries to Junk.
    pub junk: u64,
    pub quarantined: u64,
    /// Refused in-session (content, DLP block, sending limits).
    pub rejected: u64,
    /// Held for verification or review (DLP, sending hold).
    pub held: u64,
}

/// What the security dashboard shows for a time range, from the event log alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    pub since: i64,
    pub until: i64,
    pub bucket_secs: i64,
    pub flow: Vec<FlowBucket>,
    /// Detections and interventions by event kind (quarantine, rejects, DLP, sending control,
    /// containment).
    pub detections: std::collections::BTreeMap<String, u64>,
    /// Login decisions by kind (allowed, challenged, denied, blocked).
    pub logins: std::collections::BTreeMap<String, u64>,
    /// Accounts with the most denied, blocked or challenged logins.
    pub risky_accounts: Vec<RiskyCount>,
    /// Source addresses with the most denied or blocked logins.
    pub risky_sources: Vec<RiskyCount>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskyCount {
    pub name: String,
    pub denied: u64,
    pub challenged: u64,
}
