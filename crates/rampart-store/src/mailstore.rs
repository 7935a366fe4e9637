use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};

use rampart_model::config::ArchiveConfig;
use rampart_model::{ArchiveEntry, ArchivePurge, BlobId, EventKind};
use rampart_model::{
    Clock, Direction, EmailAddress, Flag, Folder, Hold, ImapMessage, Journal, MessageId,
    MessageMeta, NewHold, OutboundEntry, QuarantineEntry, Timestamp,
};

use crate::{
    Append, BlobStore, Filing, FsBlobStore, MetaStore, NewMessage, NewOutbound, NewQuarantine,
    SqliteMetaStore, StoreError,
};

/// The mail store callers use: blobs and metadata together, the retention window, and the clock.
#[derive(Clone)]
pub struct Mailstore {
    meta: Arc<dyn MetaStore>,
    blobs: Arc<dyn BlobStore>,
    clock: Arc<dyn Clock>,
    deleted_days: u32,
    /// Journal accepted and sent mail into the archive (`[archive] enabled`).
    archive: bool,
}

/// What one purge run removed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PurgeReport {
    /// Messages removed for good.
    pub messages: usize,
    /// Blob files deleted (messages can share one).
    pub blobs: usize,
    pub bytes: u64,
    /// Everything deleted at or before this moment was eligible.
    pub cutoff: Timestamp,
    /// Blobs no message ever referenced (a crash between blob and metadata write), removed.
    pub orphans: usize,
}

/// Blobs younger than this are never treated as orphans: their metadata may still be on its way.
const ORPHAN_MIN_AGE_SECS: i64 = Timestamp::DAY;

impl Mailstore {
    pub fn new(
        meta: Arc<dyn MetaStore>,
        blobs: Arc<dyn BlobStore>,
        clock: Arc<dyn Clock>,
        deleted_days: u32,
    ) -> Self {
        Mailstore {
            meta,
            blobs,
            clock,
            deleted_days,
            archive: true,
        }
    }

    /// Whether new mail is journaled into the archive (on unless `[archive] enabled = false`).
    pub fn with_archive(mut self, on: bool) -> Self {
        self.archive = on;
        self
    }

    pub fn archives(&self) -> bool {
        self.archive
    }

    /// The blob store, for readers of archived and restored bytes.
    pub fn blobs(&self) -> &dyn BlobStore {
        &*self.blobs
    }

    /// The embedded layout: `<dir>/meta.sqlite` and `<dir>/blobs/`.
    pub fn open_embedded(
        dir: &Path,
        clock: Arc<dyn Clock>,
        deleted_days: u32,
    ) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)?;
        let meta = SqliteMetaStore::open(&dir.join("meta.sqlite"))?;
        let blobs = FsBlobStore::open(&dir.join("blobs"))?;
        Ok(Mailstore::new(
            Arc::new(meta),
            Arc::new(blobs),
            clock,
            deleted_days,
        ))
    }

    pub fn meta(&self) -> &dyn MetaStore {
        &*self.meta
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn deleted_days(&self) -> u32 {
        self.deleted_days
    }

    /// Stores one message for each recipient account. When this returns `Ok`, the blob and every
    /// mailbox entry are on stable storage: only then may SMTP say `250`.
    pub async fn deliver(
        &self,
        message: NewMessage,
        recipients: &[EmailAddress],
        folder: Folder,
        actor: &str,
    ) -> Result<Vec<MessageMeta>, StoreError> {
        self.deliver_with_flags(message, recipients, folder, &[], actor)
            .await
    }

    /// [`Mailstore::deliver`] with flags set from the start (a `Sent` copy is `\\Seen`).
    pub async fn deliver_with_flags(
        &self,
        message: NewMessage,
        recipients: &[EmailAddress],
        folder: Folder,
        flags: &[Flag],
        actor: &str,
    ) -> Result<Vec<MessageMeta>, StoreError> {
        // What this path can see: a `Sent` copy is the owner's outbound mail, anything else
        // arrived for the recipients.
        let journal = if folder == Folder::Sent {
            Journal {
                direction: Direction::Outbound,
                ..Journal::default()
            }
        } else {
            Journal::inbound("", recipients)
        };
        self.deliver_journaled(message, recipients, folder, flags, journal, actor)
            .await
    }

    /// [`Mailstore::deliver_with_flags`] with the envelope the archive records (the SMTP paths
    /// know it; the plain `deliver` journals what it can see).
    pub async fn deliver_journaled(
        &self,
        message: NewMessage,
        recipients: &[EmailAddress],
        folder: Folder,
        flags: &[Flag],
        journal: Journal,
        actor: &str,
    ) -> Result<Vec<MessageMeta>, StoreError> {
        if recipients.is_empty() {
            return Err(StoreError::Invalid("a delivery needs a recipient".into()));
        }
        let size = message.raw.len() as u64;
        let blob = self.blobs.put(message.raw).await?;
        let filing = Filing {
            blob,
            size,
            summary: message.summary,
            accounts: recipients.to_vec(),
            folder,
            flags: flags.to_vec(),
            journal: Some(journal),
            archive: self.archive,
        };
        self.meta
            .insert_messages(&filing, self.clock.now(), actor)
            .await
    }

    /// IMAP APPEND: stores `message` in the account's `mailbox` with the given flags, keywords
    /// and internal date (`None`: now). Durable on return; refused with `QuotaExceeded` when the
    /// account's quota would be passed, `NotFound` when the mailbox does not exist, `Invalid`
    /// for a bad keyword. Returns `(uidvalidity, uid)` for APPENDUID.
    #[allow(clippy::too_many_arguments)]
    pub async fn append(
        &self,
        account: &EmailAddress,
        mailbox: &str,
        message: NewMessage,
        flags: &[Flag],
        keywords: &[String],
        internal_date: Option<Timestamp>,
        actor: &str,
    ) -> Result<(u32, u32), StoreError> {
        let size = message.raw.len() as u64;
        // Cheap early refusals before the blob is written; the transaction checks again.
        let found = self
            .meta
            .account(account)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("account {account}")))?;
        if !found.has_room_for(size) {
            return Err(over_quota(account, size));
        }
        if self.meta.mailbox(account, mailbox).await?.is_none() {
            return Err(StoreError::NotFound(format!(
                "mailbox {mailbox:?} of {account}"
            )));
        }
        let blob = self.blobs.put(message.raw).await?;
        let append = Append {
            account: account.clone(),
            mailbox: mailbox.to_string(),
            blob,
            size,
            summary: message.summary,
            flags: flags.to_vec(),
            keywords: keywords.to_vec(),
            internal_date,
        };
        self.meta
            .append_message(&append, self.clock.now(), actor)
            .await
    }

    /// The bytes of a message an IMAP session lists, exactly as stored.
    pub async fn imap_raw(&self, msg: &ImapMessage) -> Result<Bytes, StoreError> {
        self.blobs.get(&msg.blob).await
    }

    /// Queues a submitted message for its remote recipients. Durable on return.
    pub async fn enqueue_outbound(
        &self,
        raw: Bytes,
        mail_from: &str,
        recipients: &[EmailAddress],
        queue_id: &str,
        account: &str,
    ) -> Result<Vec<OutboundEntry>, StoreError> {
        let account: EmailAddress = account
            .parse()
            .map_err(|e| StoreError::Invalid(format!("submitting account: {e}")))?;
        let size = raw.len() as u64;
        let blob = self.blobs.put(raw).await?;
        let item = NewOutbound {
            queue_id: queue_id.to_string(),
            blob,
            size,
            mail_from: mail_from.to_string(),
            recipients: recipients.to_vec(),
            account,
            journal: self.archive,
        };
        self.meta.enqueue_outbound(&item, self.clock.now()).await
    }

    /// The bytes of a queued outbound message.
    pub async fn outbound_raw(&self, entry: &OutboundEntry) -> Result<Bytes, StoreError> {
        self.blobs.get(&entry.blob).await
    }

    /// Stores an outbound message held by DLP; `hold.blob` and `hold.size` are filled in here.
    /// Durable on return.
    pub async fn hold_outbound(
        &self,
        raw: Bytes,
        mut hold: NewHold,
        actor: &str,
    ) -> Result<Hold, StoreError> {
        hold.size = raw.len() as u64;
        hold.blob = self.blobs.put(raw).await?;
        self.meta.create_hold(&hold, self.clock.now(), actor).await
    }

    /// The bytes of a held message, as submitted.
    pub async fn held_raw(&self, id: i64) -> Result<(Hold, Bytes), StoreError> {
        let hold = self
            .meta
            .hold(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("held message {id}")))?;
        let raw = self.blobs.get(&hold.blob).await?;
        Ok((hold, raw))
    }

    /// Holds a message out of the mailboxes with the report that put it there. Durable on return,
    /// like [`Mailstore::deliver`].
    #[allow(clippy::too_many_arguments)]
    pub async fn quarantine(
        &self,
        message: NewMessage,
        recipients: &[EmailAddress],
        direction: Direction,
        mail_from: &str,
        score: f32,
        report: String,
        actor: &str,
    ) -> Result<QuarantineEntry, StoreError> {
        let size = message.raw.len() as u64;
        let blob = self.blobs.put(message.raw).await?;
        let item = NewQuarantine {
            blob,
            size,
            direction,
            mail_from: mail_from.to_string(),
            recipients: recipients.to_vec(),
            summary: message.summary,
            score,
            report,
            journal: self.archive,
        };
        self.meta.quarantine(&item, self.clock.now(), actor).await
    }

    /// Delivers a held message, byte-identical, to its recipients' inboxes.
    pub async fn release(
        &self,
        id: i64,
        actor: &str,
    ) -> Result<(QuarantineEntry, Vec<MessageMeta>), StoreError> {
        self.meta
            .release_quarantined(id, Folder::Inbox, self.clock.now(), actor)
            .await
    }

    pub async fn delete_quarantined(
        &self,
        id: i64,
        actor: &str,
    ) -> Result<QuarantineEntry, StoreError> {
        self.meta
            .delete_quarantined(id, self.clock.now(), actor)
            .await
    }

    /// The raw bytes of a quarantined message, as they arrived.
    pub async fn quarantined_raw(&self, id: i64) -> Result<Bytes, StoreError> {
        let entry = self
            .meta
            .quarantine_entry(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("quarantined message {id}")))?;
        self.blobs.get(&entry.blob).await
    }

    pub async fn list(
        &self,
        account: &EmailAddress,
        folder: Option<Folder>,
    ) -> Result<Vec<MessageMeta>, StoreError> {
        self.meta.list_messages(account, folder, false).await
    }

    /// Messages in the recovery window, each with the moment it stops being recoverable.
    pub async fn deleted(&self, account: &EmailAddress) -> Result<Vec<MessageMeta>, StoreError> {
        let mut list = self.meta.list_messages(account, None, true).await?;
        for msg in &mut list {
            msg.recoverable_until = msg.deleted_at.map(|t| t.plus_days(self.deleted_days));
        }
        Ok(list)
    }

    /// The raw bytes of a message (deleted or not), exactly as stored.
    pub async fn raw(&self, account: &EmailAddress, id: MessageId) -> Result<Bytes, StoreError> {
        let msg = self
            .meta
            .message(account, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("message {id} of {account}")))?;
        self.blobs.get(&msg.blob).await
    }

    pub async fn delete(
        &self,
        account: &EmailAddress,
        id: MessageId,
        actor: &str,
    ) -> Result<MessageMeta, StoreError> {
        let mut msg = self
            .meta
            .mark_deleted(account, id, self.clock.now(), actor)
            .await?;
        msg.recoverable_until = msg.deleted_at.map(|t| t.plus_days(self.deleted_days));
        Ok(msg)
    }

    /// Puts a deleted message back into its original folder, byte-identical. Fails once the
    /// retention window has passed, even if the purge job has not run yet.
    pub async fn restore(
        &self,
        account: &EmailAddress,
        id: MessageId,
        actor: &str,
    ) -> Result<MessageMeta, StoreError> {
        let now = self.clock.now();
        if let Some(msg) = self.meta.message(account, id).await? {
            if let Some(deleted_at) = msg.deleted_at {
                let until = deleted_at.plus_days(self.deleted_days);
                if now > until {
                    return Err(StoreError::Conflict(format!(
                        "message {id} was deleted more than {} days ago and can no longer be restored",
                        self.deleted_days
                    )));
                }
            }
        }
        self.meta.restore(account, id, now, actor).await
    }

    /// Removes for good every message whose recovery window has ended, then the blobs no message
    /// uses any more. Messages still inside the window are never touched.
    pub async fn purge(&self, actor: &str) -> Result<PurgeReport, StoreError> {
        let now = self.clock.now();
        let cutoff = Timestamp(now.0 - i64::from(self.deleted_days) * Timestamp::DAY - 1);
        let (purged, orphaned) = self.meta.purge_deleted(cutoff, now, actor).await?;
        for blob in &orphaned {
            self.blobs.delete(blob).await?;
        }
        let old_blobs = self
            .blobs
            .list_written_before(Timestamp(now.0 - ORPHAN_MIN_AGE_SECS))
            .await?;
        let orphans = self.meta.unreferenced_blobs(old_blobs).await?;
        for blob in &orphans {
            tracing::info!(%blob, "removing orphaned blob (its delivery never committed)");
            self.blobs.delete(blob).await?;
        }
        Ok(PurgeReport {
            messages: purged.len(),
            blobs: orphaned.len(),
            bytes: purged.iter().map(|m| m.size).sum(),
            cutoff,
            orphans: orphans.len(),
        })
    }
}

impl Mailstore {
    /// An archived message and its bytes, exactly as journaled.
    pub async fn archived_raw(&self, id: i64) -> Result<(ArchiveEntry, Bytes), StoreError> {
        let entry = self
            .meta
            .archive_entry(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("archived message {id}")))?;
        let raw = self.blobs.get(&entry.blob).await?;
        Ok((entry, raw))
    }

    /// Records a read of the archive (`archive_searched`, `archive_viewed`, `archive_exported`):
    /// who, what they asked (clipped to 500 characters), how much came back, which message.
    /// The CLI and the HTTP API write the same shape.
    pub async fn record_archive_read(
        &self,
        kind: EventKind,
        actor: &str,
        query: Option<&str>,
        results: usize,
        archive_id: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut detail = BTreeMap::from([("results".to_string(), results.to_string())]);
        if let Some(query) = query {
            detail.insert("query".into(), query.chars().take(500).collect());
        }
        if let Some(id) = archive_id {
            detail.insert("archive_id".into(), id.to_string());
        }
        self.meta
            .record_event(kind, self.clock.now(), actor, None, detail)
            .await
            .map(drop)
    }

    /// The archive retention job: removes entries past retention that no legal hold covers (see
    /// [`MetaStore::purge_archive`]), then the blobs nothing references any more.
    pub async fn purge_archive(
        &self,
        config: &ArchiveConfig,
        search_held: &BTreeSet<i64>,
        indexed_up_to: i64,
        actor: &str,
    ) -> Result<(ArchivePurge, usize), StoreError> {
        let report = self
            .meta
            .purge_archive(config, search_held, indexed_up_to, self.clock.now(), actor)
            .await?;
        let candidates: Vec<BlobId> = report.removed.iter().map(|(_, b)| b.clone()).collect();
        let unused = self.meta.unreferenced_blobs(candidates).await?;
        for blob in &unused {
            self.blobs.delete(blob).await?;
        }
        Ok((report, unused.len()))
    }
}

/// The refusal for a message of `size` bytes that does not fit `account`'s quota.
pub(crate) fn over_quota(account: &EmailAddress, size: u64) -> StoreError {
    StoreError::QuotaExceeded(format!(
        "mailbox of {account} is over quota: {size} more bytes do not fit"
    ))
}
