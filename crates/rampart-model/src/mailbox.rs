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
    /// What the account may do beyond its own mailbox.
    #[serde(default)]
    pub role: crate::Role,
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

impl Folder {
    /// The standard folder whose mailbox is named exactly `name` (`INBOX` in any case; the
    /// others as spelled in [`Folder::as_str`]: a user's `sent` is not `Sent`).
    pub fn of_mailbox(name: &str) -> Option<Folder> {
        if name.eq_ignore_ascii_case("INBOX") {
            return Some(Folder::Inbox);
        }
        Folder::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

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

/// IMAP system flags; stored per message as a bitmask.
///
/// `Deleted` is IMAP's `\Deleted` (marked for the next EXPUNGE), not Rampart's soft delete: a
/// message carrying it is still visible until expunged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Flag {
    Seen,
    Answered,
    Flagged,
    Draft,
    Deleted,
}

impl Flag {
    pub const ALL: [Flag; 5] = [
        Flag::Seen,
        Flag::Answered,
        Flag::Flagged,
        Flag::Draft,
        Flag::Deleted,
    ];

    pub fn bit(self) -> u32 {
        match self {
            Flag::Seen => 1,
            Flag::Answered => 2,
            Flag::Flagged => 4,
            Flag::Draft => 8,
            Flag::Deleted => 16,
        }
    }

    pub fn from_bits(bits: u32) -> Vec<Flag> {
        Flag::ALL
            .into_iter()
            .filter(|f| bits & f.bit() != 0)
            .collect()
    }

    /// The bitmask of a set of flags (duplicates are harmless).
    pub fn bits_of(flags: &[Flag]) -> u32 {
        flags.iter().fold(0, |acc, f| acc | f.bit())
    }

    /// The IMAP spelling: `\Seen`, `\Answered`, `\Flagged`, `\Draft`, `\Deleted`.
    pub fn imap_name(self) -> &'static str {
        match self {
            Flag::Seen => "\\Seen",
            Flag::Answered => "\\Answered",
            Flag::Flagged => "\\Flagged",
            Flag::Draft => "\\Draft",
            Flag::Deleted => "\\Deleted",
        }
    }

    /// Parses an IMAP system flag (case-insensitive, with its backslash); `None` for anything
    /// else, `\Recent` included (it is not stored).
    pub fn from_imap_name(name: &str) -> Option<Flag> {
        Flag::ALL
            .into_iter()
            .find(|f| f.imap_name().eq_ignore_ascii_case(name))
    }
}

/// Most keywords (IMAP custom flags such as `$Forwarded` or `$Junk`) one message may carry.
pub const MAX_KEYWORDS: usize = 50;
/// Longest keyword accepted, in bytes.
pub const MAX_KEYWORD_LEN: usize = 64;

/// Whether `keyword` may be stored as an IMAP keyword: a non-empty IMAP atom (printable ASCII
/// without space, `(`, `)`, `{`, `%`, `*`, `"`, `\` or `]`) of at most [`MAX_KEYWORD_LEN`]
/// bytes. Keywords compare case-insensitively.
pub fn is_valid_keyword(keyword: &str) -> bool {
    !keyword.is_empty()
        && keyword.len() <= MAX_KEYWORD_LEN
        && keyword.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
        })
}

/// IMAP's hierarchy separator in mailbox names (`Projects/Falcon`).
pub const MAILBOX_SEPARATOR: char = '/';
/// Longest mailbox name accepted, in bytes.
pub const MAX_MAILBOX_NAME_LEN: usize = 255;

/// Why a mailbox name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid mailbox name {name:?}: {why}")]
pub struct InvalidMailboxName {
    pub name: String,
    pub why: &'static str,
}

/// Checks a mailbox name and returns it in canonical form: `INBOX` is case-insensitive (so
/// `inbox` and `Inbox/Old` become `INBOX` and `INBOX/Old`), every other name is case-sensitive
/// and kept as given. Refused: empty names, a leading or trailing `/`, `//`, control characters,
/// the LIST wildcards `*` and `%`, and names over [`MAX_MAILBOX_NAME_LEN`] bytes.
pub fn normalize_mailbox_name(name: &str) -> Result<String, InvalidMailboxName> {
    let refuse = |why| {
        Err(InvalidMailboxName {
            name: name.chars().take(80).collect(),
            why,
        })
    };
    if name.is_empty() {
        return refuse("it is empty");
    }
    if name.len() > MAX_MAILBOX_NAME_LEN {
        return refuse("it is longer than 255 bytes");
    }
    if name.starts_with(MAILBOX_SEPARATOR) || name.ends_with(MAILBOX_SEPARATOR) {
        return refuse("it starts or ends with the hierarchy separator '/'");
    }
    if name.contains("//") {
        return refuse("it has an empty level ('//')");
    }
    if name.chars().any(char::is_control) {
        return refuse("it contains a control character");
    }
    if name.contains(['*', '%']) {
        return refuse("it contains a wildcard ('*' or '%')");
    }
    Ok(canonical_mailbox_name(name))
}

/// `name` with a leading `INBOX` level spelled in capitals, without any other check: what
/// lookups compare against.
pub fn canonical_mailbox_name(name: &str) -> String {
    let (first, rest) = match name.find(MAILBOX_SEPARATOR) {
        Some(i) => name.split_at(i),
        None => (name, ""),
    };
    if first.eq_ignore_ascii_case("INBOX") {
        format!("INBOX{rest}")
    } else {
        name.to_string()
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
    /// The mailbox it is in (`INBOX`, `Sent`, `Projects/Falcon`); for a message whose mailbox
    /// was deleted, the name that mailbox had.
    #[serde(default)]
    pub mailbox: String,
    /// The standard folder that mailbox is, if it is one (`None` for a user's own mailbox).
    pub folder: Option<Folder>,
    /// IMAP UID within the mailbox.
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

/// One IMAP mailbox of an account: a standard folder or one the user created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxInfo {
    pub id: i64,
    /// Canonical name (`INBOX`, `Sent`, `Projects/Falcon`), `/` separating levels.
    pub name: String,
    /// The RFC 6154 special use, for the standard folders.
    pub special_use: Option<Folder>,
    pub uidvalidity: u32,
    pub uidnext: u32,
    /// The mailbox's CONDSTORE mod-sequence: raised by every change a client can see in it.
    pub highest_modseq: u64,
    pub subscribed: bool,
    /// Visible (not deleted) messages.
    pub exists: u32,
    /// Visible messages without `\Seen`.
    pub unseen: u32,
    /// UID of the first visible message without `\Seen`.
    pub first_unseen_uid: Option<u32>,
}

/// One visible message as an IMAP session sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImapMessage {
    pub id: MessageId,
    pub uid: u32,
    pub flags: Vec<Flag>,
    /// Custom flags (IMAP atoms), in the order they were first set.
    pub keywords: Vec<String>,
    pub size: u64,
    /// IMAP's INTERNALDATE.
    pub received_at: Timestamp,
    /// CONDSTORE mod-sequence of its last change.
    pub modseq: u64,
    pub blob: BlobId,
}

/// How STORE combines the given flags with a message's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FlagChange {
    /// `+FLAGS`
    Add,
    /// `-FLAGS`
    Remove,
    /// `FLAGS`
    Replace,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_names_keep_case_except_for_inbox() {
        assert_eq!(normalize_mailbox_name("inbox").unwrap(), "INBOX");
        assert_eq!(normalize_mailbox_name("Inbox/Old").unwrap(), "INBOX/Old");
        assert_eq!(normalize_mailbox_name("Inboxes").unwrap(), "Inboxes");
        assert_eq!(
            normalize_mailbox_name("Projects/Falcon").unwrap(),
            "Projects/Falcon"
        );
        assert_eq!(
            normalize_mailbox_name("Entwürfe/北京").unwrap(),
            "Entwürfe/北京"
        );
        assert_eq!(Folder::of_mailbox("inbox"), Some(Folder::Inbox));
        assert_eq!(Folder::of_mailbox("Sent"), Some(Folder::Sent));
        assert_eq!(Folder::of_mailbox("sent"), None);
    }

    #[test]
    fn refuses_mailbox_names_imap_cannot_carry() {
        let long = "a".repeat(MAX_MAILBOX_NAME_LEN + 1);
        for bad in ["", "/a", "a/", "a//b", "a\nb", "a\u{0}", "a*", "a%", &long] {
            assert!(normalize_mailbox_name(bad).is_err(), "{bad:?}");
        }
        assert!(normalize_mailbox_name(&"a".repeat(MAX_MAILBOX_NAME_LEN)).is_ok());
    }

    #[test]
    fn keywords_are_bounded_imap_atoms() {
        for good in ["$Forwarded", "$Junk", "NonJunk", "a.b-c_d", &"k".repeat(64)] {
            assert!(is_valid_keyword(good), "{good:?}");
        }
        for bad in [
            "",
            "a b",
            "\\Seen",
            "a(",
            "a)",
            "a{",
            "a%",
            "a*",
            "a\"",
            "a]",
            "é",
            &"k".repeat(65),
        ] {
            assert!(!is_valid_keyword(bad), "{bad:?}");
        }
    }

    #[test]
    fn flags_round_trip_through_bits_and_imap_names() {
        let all = Flag::bits_of(&Flag::ALL);
        assert_eq!(Flag::from_bits(all), Flag::ALL);
        assert_eq!(all.count_ones() as usize, Flag::ALL.len(), "one bit each");
        for flag in Flag::ALL {
            assert_eq!(Flag::from_imap_name(flag.imap_name()), Some(flag));
        }
        assert_eq!(Flag::from_imap_name("\\deleted"), Some(Flag::Deleted));
        assert_eq!(Flag::from_imap_name("\\Recent"), None);
    }
}
