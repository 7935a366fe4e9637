//! The tamper-evident audit trail, on top of the store's hash chain.
//!
//! Every event the store writes commits to the one before it ([`rampart_store::audit`]). This
//! crate adds what makes the chain trustworthy after the fact:
//!
//! * [`AuditKey`]: an Ed25519 key (ring) that signs **checkpoints**, "the chain up to entry N has
//!   hash H", at most every `checkpoint_secs` while events arrive. Someone who can write the
//!   database can recompute hashes, but cannot sign without the key; an auditor who pinned the
//!   public key (`--public-key`) also sees a replaced key.
//! * [`verify`]: checks every link and every checkpoint and names the first bad entry: an edited
//!   row (its hash no longer matches), a deleted row (a gap, and the next link breaks), reordered
//!   rows, a rewritten stretch (links fine, but a signed checkpoint disagrees), a cut-off tail (a
//!   checkpoint names an entry that no longer exists).
//! * [`forward`]: copies every event, in order and at least once, to a SIEM.

mod forward;
mod key;
mod verify;

pub use forward::{event_json, Forwarder, ForwarderStats};
pub use key::AuditKey;
pub use verify::{verify, Problem, VerifyReport};

use rampart_model::{Checkpoint, Timestamp};
use rampart_store::MetaStore;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{0}")]
    Store(#[from] rampart_store::StoreError),
    #[error("audit signing key {path}: {what}")]
    Key { path: String, what: String },
    #[error("{0}")]
    Invalid(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

/// Signs a checkpoint of the chain's head if it moved since the last checkpoint. Returns the new
/// checkpoint, or `None` when there is nothing new to sign.
pub async fn checkpoint(
    store: &dyn MetaStore,
    key: &AuditKey,
    now: Timestamp,
) -> Result<Option<Checkpoint>, AuditError> {
    let Some((event_id, hash_hex)) = store.audit_head().await? else {
        return Ok(None);
    };
    let last = store.checkpoints().await?.into_iter().last();
    if last.as_ref().is_some_and(|c| c.event_id >= event_id) {
        return Ok(None);
    }
    let hash = rampart_store::audit::parse_hash(&hash_hex).ok_or_else(|| {
        AuditError::Invalid(format!(
            "event {event_id} carries no valid chain hash; run `rampart audit verify`"
        ))
    })?;
    let signature = key.sign(&rampart_store::audit::checkpoint_message(
        event_id, &hash, now.0,
    ));
    let checkpoint = Checkpoint {
        id: 0,
        at: now,
        event_id,
        hash: hash_hex,
        public_key: key.public_key_hex(),
        signature,
    };
    Ok(Some(store.add_checkpoint(&checkpoint).await?))
}
