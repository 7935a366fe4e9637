use std::collections::BTreeMap;

use async_trait::async_trait;
use bytes::Bytes;
use rampart_model::{
    Account, Alias, BlobId, Direction, Domain, EmailAddress, Event, EventKind, Folder, MessageId,
    MessageMeta, NewAccount, QuarantineEntry, QuarantineStatus, Timestamp,
};

use crate::StoreError;

/// Header fields shown in listings, extracted by the protocol layer (which parses MIME).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageSummary {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub date: String,
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

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub kind: Option<EventKind>,
    pub subject: Option<String>,
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
}
