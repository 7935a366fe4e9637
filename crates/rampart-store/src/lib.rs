//! Storage for Rampart: what callers see is [`Mailstore`] plus two traits.
//!
//! * [`MetaStore`]: domains, accounts, aliases, mailboxes, message metadata, events, and identities
//!   with login-risk state (password hashes, app passwords, API sessions, TOTP, risk profiles,
//!   source blocks, challenges, trust, login policies). Every write is durable when its future
//!   resolves.
//! * [`BlobStore`]: raw messages, content-addressed by SHA-256, immutable once written.
//!
//! The embedded backend ([`SqliteMetaStore`] + [`FsBlobStore`]) keeps both under one data directory;
//! a cluster backend (PostgreSQL + S3) implements the same traits. **Architecture invariant:** no
//! SQLite (or any backend) type appears in a public signature of this crate.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rampart_store::StoreError> {
//! use std::sync::Arc;
//! use rampart_model::{Folder, SystemClock};
//! use rampart_store::{Mailstore, NewMessage};
//! let store = Mailstore::open_embedded("rampart-data".as_ref(), Arc::new(SystemClock), 7)?;
//! let alice = "alice@example.com".parse().unwrap();
//! let raw = bytes::Bytes::from_static(b"Subject: hi\r\n\r\nhello\r\n");
//! let stored = store.deliver(NewMessage::new(raw), &[alice], Folder::Inbox, "smtp").await?;
//! store.delete(&stored[0].account, stored[0].id, "cli").await?;
//! let back = store.restore(&stored[0].account, stored[0].id, "cli").await?;
//! assert_eq!(back.folder, Some(Folder::Inbox));
//! # Ok(()) }
//! ```

pub mod audit;
pub mod backup;
mod blob;
mod error;
mod mailstore;
mod meta;
mod sqlite;

pub use blob::{BlobStore, FsBlobStore};
pub use error::StoreError;
pub use mailstore::{Mailstore, PurgeReport};
pub use meta::{
    Append, ContainSummary, EventFilter, Filing, MessageSummary, MetaStore, NewMessage,
    NewOutbound, NewQuarantine, OutboundUpdate, Recipient,
};
pub use sqlite::SqliteMetaStore;
