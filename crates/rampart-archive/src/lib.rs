//! Full-text search over the mail archive.
//!
//! [`doc_from_raw`] turns one stored message (raw bytes plus its envelope) into an
//! [`ArchiveDoc`]: sender, recipients, subject, the decoded text of every body (visible text
//! for HTML) and the text of its attachments through `rampart-extract`, the extractor DLP uses.
//! [`ArchiveIndex`] keeps those in a tantivy index and answers an [`ArchiveQuery`] (parsed from
//! a Gmail-like string: `from:example.com "quarterly report" after:2024-01-01`) with message
//! ids, newest first or by relevance.
//!
//! Chinese, Japanese and Korean text is searchable without a dictionary: the [`tokenizer`] cuts
//! it into character bigrams, and a query of several characters is the phrase of its bigrams.
//! Addresses are searchable whole (`from:alice@example.com`), by domain (`from:example.com`)
//! and by any word (`from:alice`).
//!
//! The index is a derived copy: the archive store is the truth, and each commit records the
//! last store row indexed ([`ArchiveIndex::last_indexed`]), so a crashed or deleted index is
//! caught up or rebuilt from the store. The on-disk schema is versioned; an index from another
//! version is refused with a message saying to rebuild it.
//!
//! **Architecture invariant:** knows nothing of storage or SMTP: documents in, message ids out.
//! Any bytes give a document (parsing is guarded against mail-parser's panics and stack
//! overflows); any query string gives a query or an [`ArchiveError`], never a panic, and a
//! query is built from tokens, never by splicing user text into a query language.
//!
//! ```
//! use rampart_archive::{doc_from_raw, ArchiveIndex, ArchiveQuery};
//!
//! let raw = b"From: Alice <alice@example.com>\r\nTo: bob@example.org\r\n\
//! Subject: =?UTF-8?B?5a2j5bqm5oql5ZGK?=\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
//! The signed contract is attached.\r\n";
//! let index = ArchiveIndex::open_in_ram()?;
//! index.add(vec![doc_from_raw(42, 1_700_000_000, "inbound", "alice@example.com",
//!     &["bob@example.org".into()], raw)])?;
//! index.commit(42)?;
//!
//! for q in ["from:example.com contract", "季度", "to:bob subject:季度报告"] {
//!     let found = index.search(&ArchiveQuery::parse(q)?, 10, 0)?;
//!     assert_eq!(found.hits[0].id, 42, "{q}");
//! }
//! assert_eq!(index.search(&ArchiveQuery::parse("合同")?, 10, 0)?.total, 0);
//! assert_eq!(index.last_indexed(), 42);
//! # Ok::<(), rampart_archive::ArchiveError>(())
//! ```

pub mod bench;
mod doc;
mod index;
mod query;
pub mod tokenizer;

use std::path::PathBuf;

pub use doc::{doc_from_raw, header_date, ArchiveDoc, MAX_BODY_TEXT, MAX_TEXT};
pub use index::{ArchiveIndex, Hit, SearchResults, SortBy, MAX_PAGE, SCHEMA_VERSION};
pub use query::ArchiveQuery;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The query string (or a part of a structured query) cannot be read.
    #[error("bad search: {0}")]
    Query(String),
    #[error("give a query: an empty search would match the whole archive")]
    EmptyQuery,
    #[error(
        "the archive index at {} was written by another version of Rampart (index schema \
         {found}, this build uses {expected}); rebuild it with `rampart archive reindex`",
        dir.display()
    )]
    SchemaMismatch {
        dir: PathBuf,
        found: String,
        expected: u32,
    },
    #[error("the archive index at {} is being written by another process", .0.display())]
    Busy(PathBuf),
    #[error("the archive index is open read-only")]
    ReadOnly,
    #[error("archive index: {0}")]
    Index(String),
    #[error("archive index at {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    /// Callers share one index between request handlers and the indexing task.
    #[test]
    fn the_index_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<super::ArchiveIndex>();
    }
}
