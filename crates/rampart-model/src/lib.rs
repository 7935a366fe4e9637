//! Plain domain types shared by every Rampart crate.
//!
//! Nothing here does I/O or knows a protocol: these are the nouns of the system (addresses, accounts,
//! folders, stored messages, events, configuration) and the [`Clock`] that every time-dependent engine
//! takes, so tests can drive time.
//!
//! ```
//! use rampart_model::{EmailAddress, Folder};
//! let rcpt: EmailAddress = "Alice@Example.COM".parse().unwrap();
//! assert_eq!(rcpt.to_string(), "alice@example.com");
//! assert_eq!(rcpt.domain(), "example.com");
//! assert_eq!("inbox".parse::<Folder>().unwrap(), Folder::Inbox);
//! ```

mod address;
mod clock;
pub mod compliance;
pub mod config;
mod event;
mod hold;
mod identity;
mod limits;
mod login;
mod mailbox;
mod verdict;

pub use address::{AddressError, EmailAddress};
pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use compliance::{
    ArchiveEntry, ArchivePurge, AuditEntry, Checkpoint, Dashboard, FlowBucket, Journal, LegalHold,
    LegalHoldKind, RiskyCount, Role,
};
pub use config::Config;
pub use event::{Event, EventKind};
pub use hold::{Hold, HoldKind, HoldStatus, NewHold};
pub use identity::{
    ApiSession, AppPassword, Challenge, ChallengeKind, ChallengeStatus, PolicyRecord, SourceBlock,
    TotpState, Trust, TrustKind, UnknownName,
};
pub use limits::{AddressSlot, PerAddress};
pub use login::{Protocol, UnknownProtocol};
pub use mailbox::{
    canonical_mailbox_name, is_valid_keyword, normalize_mailbox_name, Account, AccountId, Alias,
    BlobId, Domain, Flag, FlagChange, Folder, ImapMessage, InvalidMailboxName, MailboxInfo,
    MessageId, MessageMeta, NewAccount, OutboundEntry, QuarantineEntry, QuarantineStatus,
    UnknownFolder, MAILBOX_SEPARATOR, MAX_KEYWORDS, MAX_KEYWORD_LEN, MAX_MAILBOX_NAME_LEN,
};
pub use verdict::{Action, Direction, Finding};
