use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use bytes::Bytes;
use rampart_model::{
    config::ArchiveConfig, ArchiveEntry, ArchivePurge, AuditEntry, Checkpoint, Journal, LegalHold,
    LegalHoldKind, Role,
};
use rampart_model::{
    Account, Alias, ApiSession, AppPassword, BlobId, Challenge, ChallengeStatus, Direction, Domain,
    EmailAddress, Event, EventKind, Flag, FlagChange, Folder, Hold, HoldStatus, ImapMessage,
    MailboxInfo, MessageId, MessageMeta, NewAccount, NewHold, OutboundEntry, PolicyRecord,
    Protocol, QuarantineEntry, QuarantineStatus, SourceBlock, Timestamp, TotpState, Trust,
};

use crate::StoreError;

/// Header fields shown in listings: From, To, Subject and Date from the header block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageSummary {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub date: String,
}

impl MessageSummary {
    /// Reads the header block only (all charsets and encoded words); garbage yields empty
    /// fields, never an error or a panic (a message is stored whatever its headers look like). Fields are
    /// clipped: a hostile 1 MB Subject must not bloat the metadata store.
    pub fn of(raw: &[u8]) -> MessageSummary {
        use mail_parser::{Address, HeaderValue, MessageParser};
        fn first_address(value: Option<&Address<'_>>) -> String {
            let Some(addr) = value.and_then(|a| a.first()) else {
                return String::new();
            };
            match (addr.name(), addr.address()) {
                (Some(name), Some(email)) => format!("{name} <{email}>"),
                (None, Some(email)) => email.to_string(),
                (Some(name), None) => name.to_string(),
                (None, None) => String::new(),
            }
        }
        fn clip(mut s: String) -> String {
            const MAX: usize = 998;
            if s.len() > MAX {
                let mut cut = MAX;
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                s.truncate(cut);
            }
            s
        }
        // mail-parser panics on some malformed input; a summary is never worth a crash.
        let parsed = std::panic::catch_unwind(|| MessageParser::new().parse_headers(raw));
        let Ok(Some(msg)) = parsed else {
            return MessageSummary::default();
        };
        let to = msg
            .to()
            .map(|list| {
                list.iter()
                    .filter_map(|a| a.address())
                    .take(10)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        let date = match msg.header("Date") {
            Some(HeaderValue::DateTime(d)) => d.to_rfc822(),
            _ => String::new(),
        };
        MessageSummary {
            from: clip(first_address(msg.from())),
            to: clip(to),
            subject: clip(msg.subject().unwrap_or_default().to_string()),
            date,
        }
    }
}

/// A message about to be delivered: raw bytes exactly as they will be stored, plus its summary.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub raw: Bytes,
    pub summary: MessageSummary,
}

impl NewMessage {
    pub fn new(raw: Bytes) -> Self {
        NewMessage {
            raw,
            summary: MessageSummary::default(),
        }
    }
}

/// A stored blob to file into mailboxes: one entry per account.
#[derive(Debug, Clone)]
pub struct Filing {
    pub blob: BlobId,
    pub size: u64,
    pub summary: MessageSummary,
    pub accounts: Vec<EmailAddress>,
    pub folder: Folder,
    /// Flags the new entries start with (e.g. `\\Seen` on a `Sent` copy).
    pub flags: Vec<Flag>,
    /// Journal the message into the archive in the same transaction (accepted inbound mail,
    /// sent copies); `None` for filings that are not new mail (a release from quarantine was
    /// journaled when it was quarantined).
    pub journal: Option<Journal>,
    /// Journal into the archive (`[archive] enabled`); without it the journal only lends its
    /// verdict to the delivery events.
    pub archive: bool,
}

/// A stored blob to file into one IMAP mailbox (APPEND).
#[derive(Debug, Clone)]
pub struct Append {
    pub account: EmailAddress,
    /// The mailbox name; it must exist.
    pub mailbox: String,
    pub blob: BlobId,
    pub size: u64,
    pub summary: MessageSummary,
    pub flags: Vec<Flag>,
    pub keywords: Vec<String>,
    /// The client's INTERNALDATE; `None` means now.
    pub internal_date: Option<Timestamp>,
}

/// A stored blob to queue for outbound delivery to remote recipients.
#[derive(Debug, Clone)]
pub struct NewOutbound {
    pub queue_id: String,
    pub blob: BlobId,
    pub size: u64,
    pub mail_from: String,
    pub recipients: Vec<EmailAddress>,
    pub account: EmailAddress,
    /// Journal it into the archive in the same transaction.
    pub journal: bool,
}

/// What one delivery attempt found for one queue row.
#[derive(Debug, Clone, PartialEq)]
pub enum OutboundUpdate {
    /// Accepted by the receiving server; `remote` is its answer (host, reply, TLS).
    Sent { id: i64, remote: String },
    /// A temporary failure: try again at `next_attempt_at`.
    Retry {
        id: i64,
        next_attempt_at: Timestamp,
        error: String,
    },
    /// A permanent failure, or the give-up time passed: the sender gets a bounce.
    Failed { id: i64, error: String },
    /// The sender was told the message is delayed.
    DelayNotified { id: i64 },
}

/// What containing an account did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ContainSummary {
    pub sessions_revoked: u64,
    pub app_passwords_revoked: u64,
    pub trusted_devices_forgotten: u64,
    pub queued_held: u64,
    /// Rows being delivered at that moment: they may still go out.
    pub in_flight: u64,
}

/// A stored blob to hold in quarantine, with the report that put it there.
#[derive(Debug, Clone)]
pub struct NewQuarantine {
    pub blob: BlobId,
    pub size: u64,
    pub direction: Direction,
    pub mail_from: String,
    pub recipients: Vec<EmailAddress>,
    pub summary: MessageSummary,
    pub score: f32,
    /// The scan report, JSON.
    pub report: String,
    /// Journal it into the archive in the same transaction.
    pub journal: bool,
}

/// How an address resolves for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// The domain is not ours: accepting would make us a relay.
    NotLocal,
    /// Our domain, but no such account or alias.
    Unknown,
    /// Our account (or an alias of it), but disabled.
    Disabled(EmailAddress),
    /// Deliver to these accounts (one for an account, one or more for an alias).
    Accounts(Vec<Account>),
}

/// Which events to list. Every field that is set must match (they combine with AND).
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub kind: Option<EventKind>,
    /// Any of these kinds; empty means every kind.
    pub kinds: Vec<EventKind>,
    pub subject: Option<String>,
    /// Only events at or after this moment.
    pub since: Option<Timestamp>,
    /// Only events before this moment.
    pub until: Option<Timestamp>,
    pub actor: Option<String>,
    /// Only events with a larger id (paging forwards, forwarding).
    pub after_id: Option<i64>,
    /// Only events with a smaller id (paging backwards from the newest).
    pub before_id: Option<i64>,
    /// Oldest first (export, forwarding) instead of newest first.
    pub ascending: bool,
    pub limit: Option<usize>,
}

/// Metadata storage. Every write is durable (on stable storage) when its future resolves, and
/// each write that is an admin or security action records its [`Event`] in the same transaction.
#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    async fn add_domain(
        &self,
        name: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<Domain, StoreError>;
    /// Fails with `Conflict` while accounts or aliases of the domain exist.
    async fn remove_domain(&self, name: &str, at: Timestamp, actor: &str)
        -> Result<(), StoreError>;
    async fn list_domains(&self) -> Result<Vec<Domain>, StoreError>;

    /// Creates the account and its standard folders.
    async fn create_account(
        &self,
        new: NewAccount,
        at: Timestamp,
        actor: &str,
    ) -> Result<Account, StoreError>;
    async fn account(&self, address: &EmailAddress) -> Result<Option<Account>, StoreError>;
    async fn list_accounts(&self, domain: Option<&str>) -> Result<Vec<Account>, StoreError>;
    /// Disabling also revokes, in the same transaction, every active API session and app
    /// password of the account (the event's detail counts them): a disabled account has no
    /// working credential left, and enabling it again does not bring them back.
    async fn set_disabled(
        &self,
        address: &EmailAddress,
        disabled: bool,
        at: Timestamp,
        actor: &str,
    ) -> Result<Account, StoreError>;

    async fn add_alias(
        &self,
        alias: &EmailAddress,
        target: &EmailAddress,
        at: Timestamp,
        actor: &str,
    ) -> Result<Alias, StoreError>;
    /// Removes one target of an alias, or the whole alias when `target` is `None`.
    async fn remove_alias(
        &self,
        alias: &EmailAddress,
        target: Option<&EmailAddress>,
        at: Timestamp,
        actor: &str,
    ) -> Result<(), StoreError>;
    async fn list_aliases(&self) -> Result<Vec<Alias>, StoreError>;

    /// Resolves a recipient address through accounts and aliases.
    async fn resolve(&self, address: &EmailAddress) -> Result<Recipient, StoreError>;

    /// Files one already-stored blob into each account's folder, atomically for all of them.
    async fn insert_messages(
        &self,
        filing: &Filing,
        at: Timestamp,
        actor: &str,
    ) -> Result<Vec<MessageMeta>, StoreError>;
    /// Visible messages, or with `deleted` the ones in the recovery window, oldest first.
    async fn list_messages(
        &self,
        account: &EmailAddress,
        folder: Option<Folder>,
        deleted: bool,
    ) -> Result<Vec<MessageMeta>, StoreError>;
    async fn message(
        &self,
        account: &EmailAddress,
        id: MessageId,
    ) -> Result<Option<MessageMeta>, StoreError>;
    /// Soft delete: hides the message and starts its recovery window.
    async fn mark_deleted(
        &self,
        account: &EmailAddress,
        id: MessageId,
        at: Timestamp,
        actor: &str,
    ) -> Result<MessageMeta, StoreError>;
    /// Undoes a soft delete: back into its original folder with a fresh UID.
    async fn restore(
        &self,
        account: &EmailAddress,
        id: MessageId,
        at: Timestamp,
        actor: &str,
    ) -> Result<MessageMeta, StoreError>;
    /// Removes for good every message deleted at or before `cutoff`. Returns what was removed and
    /// the blobs no message references any more (the caller deletes those from the blob store).
    async fn purge_deleted(
        &self,
        cutoff: Timestamp,
        at: Timestamp,
        actor: &str,
    ) -> Result<(Vec<MessageMeta>, Vec<BlobId>), StoreError>;

    // ---- IMAP mailboxes. Names are canonical (see `rampart_model::normalize_mailbox_name`):
    // `INBOX` matches case-insensitively, every other name exactly. Every change a client can
    // see in a mailbox (a message in or out, flags, a delete, an expunge) raises the mailbox's
    // `highest_modseq` by one and gives the touched messages that value, in the same
    // transaction; sessions poll [`MetaStore::mailbox_state`] to notice other writers.

    /// The account's mailboxes (standard folders and the user's own), by name.
    async fn list_mailboxes(&self, account: &EmailAddress) -> Result<Vec<MailboxInfo>, StoreError>;
    /// One mailbox by name; `None` when it does not exist.
    async fn mailbox(
        &self,
        account: &EmailAddress,
        name: &str,
    ) -> Result<Option<MailboxInfo>, StoreError>;
    /// `(uidnext, highest_modseq, exists)`: one primary-key read, cheap enough to poll.
    /// `NotFound` once the mailbox is deleted. A rename keeps the id (with a new UIDVALIDITY and
    /// a raised `highest_modseq`): a session that sees the mod-sequence rise with nothing in
    /// [`MetaStore::imap_changes_since`] should look its mailbox up by name again.
    async fn mailbox_state(&self, mailbox_id: i64) -> Result<(u32, u64, u32), StoreError>;
    /// Creates a user mailbox (event `mailbox_created`). `Conflict` when it exists, `Invalid`
    /// for a bad name; `A/B` may be created without `A`.
    async fn create_mailbox(
        &self,
        account: &EmailAddress,
        name: &str,
        at: Timestamp,
    ) -> Result<MailboxInfo, StoreError>;
    /// Renames a mailbox and the ones below it (`A/x` becomes `B/x`), each with a new
    /// UIDVALIDITY (event `mailbox_renamed`). Renaming `INBOX` moves its visible messages into
    /// a new mailbox and leaves `INBOX` empty (RFC 3501 §6.3.5; its children stay). Other
    /// standard folders cannot be renamed (`Invalid`); an existing target is a `Conflict`.
    async fn rename_mailbox(
        &self,
        account: &EmailAddress,
        from: &str,
        to: &str,
        at: Timestamp,
    ) -> Result<(), StoreError>;
    /// Deletes a user mailbox (event `mailbox_deleted`); its messages are soft-deleted, so they
    /// stay recoverable for the retention window (restored into a mailbox of the same name if
    /// one exists then, else into `INBOX`). Mailboxes below it are kept (RFC 3501 §6.3.4).
    /// Standard folders cannot be deleted (`Invalid`). Returns how many visible messages went
    /// to the recovery window.
    async fn delete_mailbox(
        &self,
        account: &EmailAddress,
        name: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<u64, StoreError>;
    /// Sets the mailbox's subscription (no event); `NotFound` for a mailbox that does not
    /// exist (subscriptions live on the mailbox).
    async fn subscribe_mailbox(
        &self,
        account: &EmailAddress,
        name: &str,
        subscribed: bool,
    ) -> Result<(), StoreError>;
    /// The mailbox's visible messages by ascending UID (`NotFound` once it is deleted).
    async fn imap_messages(&self, mailbox_id: i64) -> Result<Vec<ImapMessage>, StoreError>;
    /// Visible messages whose mod-sequence is above `modseq`, by ascending UID.
    async fn imap_changes_since(
        &self,
        mailbox_id: i64,
        modseq: u64,
    ) -> Result<Vec<ImapMessage>, StoreError>;
    /// STORE: changes the flags and keywords of the visible messages among `uids` (others are
    /// ignored). With `unchanged_since` (CONDSTORE), messages modified after it are left alone
    /// and returned as failed. Returns the messages whose flags actually changed (with their
    /// new mod-sequence) and the failed UIDs. `Invalid` for a bad keyword or more than
    /// `MAX_KEYWORDS` on a message. No event.
    #[allow(clippy::too_many_arguments)]
    async fn store_flags(
        &self,
        mailbox_id: i64,
        uids: &[u32],
        change: FlagChange,
        flags: &[Flag],
        keywords: &[String],
        unchanged_since: Option<u64>,
        at: Timestamp,
    ) -> Result<(Vec<ImapMessage>, Vec<u32>), StoreError>;
    /// COPY: new entries (same blob, flags and keywords) in another mailbox of the same account,
    /// counted against its quota (`QuotaExceeded`, nothing copied). Returns `(source uid, new
    /// uid)` pairs for COPYUID, by ascending source UID; event `message_copied` per message.
    async fn copy_messages(
        &self,
        mailbox_id: i64,
        uids: &[u32],
        target_mailbox_id: i64,
        at: Timestamp,
        actor: &str,
    ) -> Result<Vec<(u32, u32)>, StoreError>;
    /// MOVE: each message leaves the source mailbox and gets a new UID in the target (same row,
    /// same id: nothing is left behind to recover). Returns `(source uid, new uid)` pairs by
    /// ascending source UID; event `message_moved` per message.
    async fn move_messages(
        &self,
        mailbox_id: i64,
        uids: &[u32],
        target_mailbox_id: i64,
        at: Timestamp,
        actor: &str,
    ) -> Result<Vec<(u32, u32)>, StoreError>;
    /// EXPUNGE: soft-deletes the visible messages with `\Deleted` (all of them, or those among
    /// `uids` for UID EXPUNGE), so they enter the recovery window like
    /// [`MetaStore::mark_deleted`] (event `message_deleted` each). Returns their UIDs, ascending.
    async fn expunge(
        &self,
        mailbox_id: i64,
        uids: Option<&[u32]>,
        at: Timestamp,
        actor: &str,
    ) -> Result<Vec<u32>, StoreError>;
    /// APPEND: files one stored blob into a mailbox with its flags, keywords and internal
    /// date, quota checked (`QuotaExceeded`); event `message_delivered`. Returns
    /// `(uidvalidity, uid)` for APPENDUID.
    async fn append_message(
        &self,
        append: &Append,
        at: Timestamp,
        actor: &str,
    ) -> Result<(u32, u32), StoreError>;

    async fn quarantine(
        &self,
        item: &NewQuarantine,
        at: Timestamp,
        actor: &str,
    ) -> Result<QuarantineEntry, StoreError>;
    /// Newest first.
    async fn list_quarantine(
        &self,
        status: Option<QuarantineStatus>,
    ) -> Result<Vec<QuarantineEntry>, StoreError>;
    async fn quarantine_entry(&self, id: i64) -> Result<Option<QuarantineEntry>, StoreError>;
    /// Files a held message into each recipient's `folder` and marks it released, atomically.
    async fn release_quarantined(
        &self,
        id: i64,
        folder: Folder,
        at: Timestamp,
        actor: &str,
    ) -> Result<(QuarantineEntry, Vec<MessageMeta>), StoreError>;
    /// Marks a held message deleted; its blob goes with the next orphan sweep.
    async fn delete_quarantined(
        &self,
        id: i64,
        at: Timestamp,
        actor: &str,
    ) -> Result<QuarantineEntry, StoreError>;

    /// The account's personal spam model (a serialized classifier layer), if it has one.
    async fn user_model(&self, account: &EmailAddress) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores the account's personal spam model after feedback (`spam` or `ham`) on `message`,
    /// with the event that records the feedback.
    async fn save_user_model(
        &self,
        account: &EmailAddress,
        model: Vec<u8>,
        feedback: &str,
        message: MessageId,
        at: Timestamp,
        actor: &str,
    ) -> Result<(), StoreError>;

    /// Queues a submitted message for each remote recipient (one row each), durably, with a
    /// `message_submitted`-independent audit trail left to the caller.
    async fn enqueue_outbound(
        &self,
        item: &NewOutbound,
        at: Timestamp,
    ) -> Result<Vec<OutboundEntry>, StoreError>;
    /// The outbound queue, oldest first; `status` filters (`queued`, `sending`, `sent`,
    /// `failed`, `held`).
    async fn list_outbound(&self, status: Option<&str>) -> Result<Vec<OutboundEntry>, StoreError>;
    /// The rows of one queue id (all its recipients), or the one row with that row id.
    async fn outbound_entries(&self, which: &str) -> Result<Vec<OutboundEntry>, StoreError>;
    /// Claims up to `limit` rows due at `now` for delivery (and rows whose earlier claim's lease
    /// ran out: their worker died); they stay `sending` until `lease`, or until
    /// [`MetaStore::finish_outbound`] records the outcome. At most `per_domain` messages per
    /// recipient domain are `sending` at once, oldest first.
    async fn claim_outbound(
        &self,
        now: Timestamp,
        lease: Timestamp,
        limit: usize,
        per_domain: usize,
    ) -> Result<Vec<OutboundEntry>, StoreError>;
    /// Records delivery outcomes (events `outbound_delivered`, `outbound_bounced`) in one
    /// transaction. Rows an administrator deleted or held meanwhile are left alone.
    async fn finish_outbound(
        &self,
        updates: Vec<OutboundUpdate>,
        at: Timestamp,
    ) -> Result<(), StoreError>;
    /// Makes waiting, failed or held rows due now (event `outbound_retried`); refuses rows held
    /// for a contained account.
    async fn retry_outbound(
        &self,
        which: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<Vec<OutboundEntry>, StoreError>;
    /// Removes rows from the queue (event `outbound_deleted`); a row being sent is refused.
    async fn delete_outbound(
        &self,
        which: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<Vec<OutboundEntry>, StoreError>;

    /// Contains an account in one transaction: login refused, sessions and app passwords
    /// revoked, trusted devices forgotten, password reset and step-up required, waiting mail
    /// held (event `account_contained`).
    async fn contain_account(
        &self,
        address: &EmailAddress,
        reason: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<ContainSummary, StoreError>;
    /// Ends containment and the sending hold; held mail is queued again (or deleted with
    /// `discard_held`). The password-reset and step-up requirements stay until met. Returns how
    /// many rows moved.
    async fn release_account(
        &self,
        address: &EmailAddress,
        discard_held: bool,
        at: Timestamp,
        actor: &str,
    ) -> Result<u64, StoreError>;
    /// Sets or clears the account's sending hold (events `sending_held` / `sending_released`);
    /// `Ok(false)` when it already was so.
    async fn set_sending_hold(
        &self,
        address: &EmailAddress,
        held: bool,
        at: Timestamp,
        actor: &str,
        why: &str,
    ) -> Result<bool, StoreError>;
    /// The account passed step-up verification after containment.
    async fn clear_step_up(&self, address: &EmailAddress) -> Result<(), StoreError>;

    /// Holds a stored outbound message for a DLP decision (event `dlp_held`).
    async fn create_hold(
        &self,
        hold: &NewHold,
        at: Timestamp,
        actor: &str,
    ) -> Result<Hold, StoreError>;
    async fn hold(&self, id: i64) -> Result<Option<Hold>, StoreError>;
    /// Newest first; filters are optional.
    async fn list_holds(
        &self,
        account: Option<&EmailAddress>,
        status: Option<HoldStatus>,
    ) -> Result<Vec<Hold>, StoreError>;
    /// Undoes a release whose delivery failed (`released` → `held`), with an event.
    async fn reopen_hold(&self, id: i64, at: Timestamp, why: &str) -> Result<Hold, StoreError>;
    /// Held messages whose time to decide has passed.
    async fn due_holds(&self, now: Timestamp) -> Result<Vec<Hold>, StoreError>;
    /// Decides a held message (`released`, `rejected`, `expired`), only from `held`, with its
    /// event.
    async fn decide_hold(
        &self,
        id: i64,
        status: HoldStatus,
        at: Timestamp,
        actor: &str,
    ) -> Result<Hold, StoreError>;

    /// Of `candidates`, the blobs no message (deleted or not) and no held quarantine entry
    /// references.
    async fn unreferenced_blobs(&self, candidates: Vec<BlobId>) -> Result<Vec<BlobId>, StoreError>;

    async fn record_event(
        &self,
        kind: EventKind,
        at: Timestamp,
        actor: &str,
        subject: Option<&str>,
        detail: BTreeMap<String, String>,
    ) -> Result<Event, StoreError>;
    /// Newest first.
    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError>;

    // ---- Compliance: the audit chain, roles, the archive journal, legal holds.

    /// Chain rows after `after_id` in id order, exactly as stored (for verification).
    async fn audit_entries(
        &self,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError>;
    /// The last event's id and chain hash (hex), if any event exists.
    async fn audit_head(&self) -> Result<Option<(i64, String)>, StoreError>;
    async fn add_checkpoint(&self, checkpoint: &Checkpoint) -> Result<Checkpoint, StoreError>;
    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError>;
    /// Sets what an account may do (`role_changed`).
    async fn set_role(
        &self,
        account: &EmailAddress,
        role: Role,
        at: Timestamp,
        actor: &str,
    ) -> Result<Account, StoreError>;
    /// Journaled messages after `after_id`, in id order, with the accounts they concern.
    async fn archive_entries(
        &self,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<ArchiveEntry>, StoreError>;
    async fn archive_entry(&self, id: i64) -> Result<Option<ArchiveEntry>, StoreError>;
    /// Ids of the archive entries that concern a local account.
    async fn archive_ids_of(&self, address: &EmailAddress) -> Result<Vec<i64>, StoreError>;
    /// (entries, bytes) in the archive.
    async fn archive_stats(&self) -> Result<(u64, u64), StoreError>;
    /// Removes entries past their retention (`archive_purged`), keeping what a legal hold covers:
    /// people under hold, the ids in `search_held`, and, while any search hold exists, entries
    /// after `indexed_up_to` (the search index has not judged them yet). The caller deletes the
    /// blobs nothing references any more and drops the ids from the search index.
    async fn purge_archive(
        &self,
        config: &ArchiveConfig,
        search_held: &BTreeSet<i64>,
        indexed_up_to: i64,
        now: Timestamp,
        actor: &str,
    ) -> Result<ArchivePurge, StoreError>;
    async fn place_legal_hold(
        &self,
        kind: LegalHoldKind,
        target: &str,
        reason: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<LegalHold, StoreError>;
    async fn release_legal_hold(
        &self,
        id: i64,
        at: Timestamp,
        actor: &str,
    ) -> Result<LegalHold, StoreError>;
    async fn legal_holds(&self, active_only: bool) -> Result<Vec<LegalHold>, StoreError>;
    /// Mail flow per `bucket_secs`, detections, login decisions and the riskiest accounts and
    /// sources between `since` and `until`, from the event log.
    async fn dashboard(
        &self,
        since: Timestamp,
        until: Timestamp,
        bucket_secs: i64,
    ) -> Result<rampart_model::Dashboard, StoreError>;

    // ---- Identities and login-risk state. The store never sees a clear secret: passwords come
    // as argon2id PHC strings, tokens and app passwords as SHA-256 hex, both computed by the
    // caller; the TOTP secret is the one exception (verifying a code needs it).

    /// Replaces the account's password hash (`password_changed`). Other credentials stay: call
    /// [`MetaStore::revoke_all`] as well to log every device out.
    async fn set_password(
        &self,
        account: &EmailAddress,
        hash: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<(), StoreError>;
    /// The password hash; `None` when the account has none or does not exist. Does not look at
    /// `disabled`: the caller checks the account.
    async fn password_hash(&self, account: &EmailAddress) -> Result<Option<String>, StoreError>;

    /// Adds an app password for `protocols` (at least one; duplicates dropped) with the event
    /// `app_password_created`. Refused (`Conflict`) for a disabled account.
    async fn create_app_password(
        &self,
        account: &EmailAddress,
        name: &str,
        protocols: &[Protocol],
        secret_hash: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<AppPassword, StoreError>;
    /// All of the account's app passwords, revoked ones included, newest first.
    async fn list_app_passwords(
        &self,
        account: &EmailAddress,
    ) -> Result<Vec<AppPassword>, StoreError>;
    /// The app passwords that may still log in, each with its hash, newest first.
    async fn active_app_password_hashes(
        &self,
        account: &EmailAddress,
    ) -> Result<Vec<(AppPassword, String)>, StoreError>;
    /// Revokes one app password of `account` (`app_password_revoked`). `NotFound` when `id` is
    /// not one of this account's, `Conflict` when it is already revoked.
    async fn revoke_app_password(
        &self,
        account: &EmailAddress,
        id: i64,
        at: Timestamp,
        actor: &str,
    ) -> Result<AppPassword, StoreError>;
    /// Records a successful use (no event; never moves `last_used_at` backwards).
    async fn touch_app_password(&self, id: i64, at: Timestamp) -> Result<(), StoreError>;

    /// Starts an API session known by the hash of its bearer token (no event: the caller records
    /// `login_allowed`). Refused (`Conflict`) for a disabled account or a reused token hash.
    #[allow(clippy::too_many_arguments)]
    async fn create_session(
        &self,
        account: &EmailAddress,
        token_hash: &str,
        expires_at: Timestamp,
        ip: Option<&str>,
        user_agent: Option<&str>,
        mfa: bool,
        at: Timestamp,
    ) -> Result<ApiSession, StoreError>;
    /// The session, only while it is not revoked, `now < expires_at`, and its account is enabled.
    async fn session_by_token_hash(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<ApiSession>, StoreError>;
    /// The account's sessions that are neither revoked nor expired, newest first.
    async fn list_sessions(
        &self,
        account: &EmailAddress,
        now: Timestamp,
    ) -> Result<Vec<ApiSession>, StoreError>;
    /// Revokes one session (`session_revoked`). This does not check who owns it: a caller acting
    /// for a user must first find `id` among that user's [`MetaStore::list_sessions`].
    /// `Conflict` when already revoked.
    async fn revoke_session(
        &self,
        id: i64,
        at: Timestamp,
        actor: &str,
    ) -> Result<ApiSession, StoreError>;
    /// Revokes every active session and app password of the account in one transaction with one
    /// `session_revoked` event. Returns (sessions, app passwords) revoked.
    async fn revoke_all(
        &self,
        account: &EmailAddress,
        at: Timestamp,
        actor: &str,
    ) -> Result<(u64, u64), StoreError>;

    /// The account's TOTP enrolment, if any.
    async fn totp(&self, account: &EmailAddress) -> Result<Option<TotpState>, StoreError>;
    /// Replaces the enrolment (forgetting the last used step). `totp_enrolled` is recorded only
    /// when `confirmed`; an unconfirmed one waits for [`MetaStore::confirm_totp`].
    async fn set_totp(
        &self,
        account: &EmailAddress,
        secret: &[u8],
        confirmed: bool,
        at: Timestamp,
        actor: &str,
    ) -> Result<(), StoreError>;
    /// Confirms a pending enrolment with the step of a code the caller verified, consuming that
    /// step (`totp_enrolled`). False when already confirmed or the step is not newer than the
    /// last one; `NotFound` without an enrolment.
    async fn confirm_totp(
        &self,
        account: &EmailAddress,
        step: i64,
        at: Timestamp,
        actor: &str,
    ) -> Result<bool, StoreError>;
    /// Atomically accepts `step` (of a code the caller verified) only if the enrolment is
    /// confirmed and `step` is greater than the last accepted one, and stores it. False
    /// otherwise: a code works once, and never after a later one.
    async fn use_totp_step(&self, account: &EmailAddress, step: i64) -> Result<bool, StoreError>;
    /// Removes the enrolment; true (with `totp_removed`) if there was one.
    async fn remove_totp(
        &self,
        account: &EmailAddress,
        at: Timestamp,
        actor: &str,
    ) -> Result<bool, StoreError>;

    /// The account's serialized login-risk profile, if it has one.
    async fn risk_profile(&self, account: &EmailAddress) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores (replaces) the risk profile. No event: it changes on every login.
    async fn save_risk_profile(
        &self,
        account: &EmailAddress,
        bytes: Vec<u8>,
        at: Timestamp,
    ) -> Result<(), StoreError>;

    /// Blocks logins from `cidr` (an address or a network; stored in canonical form, host bits
    /// cleared) with `source_blocked`. Re-adding a network updates its reason, expiry and actor.
    async fn add_block(
        &self,
        cidr: &str,
        reason: &str,
        expires_at: Option<Timestamp>,
        at: Timestamp,
        actor: &str,
    ) -> Result<SourceBlock, StoreError>;
    /// Lifts a block; true (with `source_unblocked`) if there was one.
    async fn remove_block(
        &self,
        cidr: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<bool, StoreError>;
    /// Blocks in force at `now` (no expiry, or `now < expires_at`), oldest first.
    async fn list_blocks(&self, now: Timestamp) -> Result<Vec<SourceBlock>, StoreError>;

    /// Stores a new `Pending` challenge (`login_challenged`, reasons in the detail). `Conflict`
    /// when the id is taken.
    async fn create_challenge(&self, challenge: &Challenge) -> Result<(), StoreError>;
    /// The challenge as stored: a `Pending` one may be past its `expires_at`.
    async fn challenge(&self, id: &str) -> Result<Option<Challenge>, StoreError>;
    /// The account's pending, unexpired challenges, newest first.
    async fn pending_challenges(
        &self,
        account: &EmailAddress,
        now: Timestamp,
    ) -> Result<Vec<Challenge>, StoreError>;
    /// Moves a challenge on: `Pending` to `Approved`, `Denied` or `Expired` (or straight to
    /// `Completed` for a TOTP challenge); `Approved` to `Completed`. A challenge past its expiry
    /// is marked `Expired` instead and the call fails with `ChallengeNotPending`, as does any
    /// other move. Records `challenge_approved` / `challenge_denied`.
    async fn decide_challenge(
        &self,
        id: &str,
        status: ChallengeStatus,
        at: Timestamp,
        by: &str,
    ) -> Result<Challenge, StoreError>;

    /// Trusts an IP or device for the account until `trust.until` (an existing entry is only
    /// ever extended).
    async fn add_trust(&self, trust: &Trust) -> Result<(), StoreError>;
    /// Whether `ip`, or `device_id` when given, is trusted for the account at `now`.
    async fn is_trusted(
        &self,
        account: &EmailAddress,
        ip: &str,
        device_id: Option<&str>,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Sets the login policy of one scope (`org` with an empty value, `department`, `level`, or
    /// `user` with an address), replacing any earlier one, with `policy_changed`.
    async fn set_policy(
        &self,
        scope_kind: &str,
        scope_value: &str,
        policy_json: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<PolicyRecord, StoreError>;
    /// Removes a scope's policy; true (with `policy_changed`) if there was one.
    async fn remove_policy(
        &self,
        scope_kind: &str,
        scope_value: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<bool, StoreError>;
    /// Every policy: org, then departments, levels and users, each by value.
    async fn list_policies(&self) -> Result<Vec<PolicyRecord>, StoreError>;
}
