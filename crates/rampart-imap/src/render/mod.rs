//! What a FETCH or SEARCH needs from a message's bytes, as pure functions.
//!
//! The session holds a message's raw bytes (from the blob store) and its metadata; this module
//! turns them into imap-types response values the session encodes with imap-codec:
//!
//! - [`envelope`]: the `ENVELOPE` structure (RFC 3501 §7.4.2), from the header alone.
//! - [`body_structure`]: `BODY` and `BODYSTRUCTURE`, nested multiparts and `message/rfc822`.
//! - [`section`]: `BODY[...]<start.len>` byte-exact slices of the original message, plus
//!   [`rfc822_header`], [`rfc822_text`] and [`rfc822_size`] for the `RFC822.*` items.
//! - [`binary`]: `BINARY[part]<partial>` and `BINARY.SIZE` (RFC 3516): a part's content with its
//!   Content-Transfer-Encoding undone.
//! - [`MimeMessage`]: the same three over one message, MIME-parsed at most once per FETCH.
//! - [`matches`]: one message against a `SEARCH` key; [`needs_content`] tells the session
//!   whether to load the bytes at all.
//! - [`flags_to_imap`] / [`flags_from_imap`]: stored flags and keywords to and from IMAP's.
//! - [`encode_mailbox_name`] / [`decode_mailbox_name`]: modified UTF-7 (RFC 3501 §5.1.3), since
//!   the store keeps UTF-8 mailbox names and IMAP4rev1 clients speak modified UTF-7.
//!
//! ```
//! use rampart_imap::render::{body_structure, envelope, section};
//!
//! let raw = b"From: Ann <ann@example.org>\r\nSubject: hi\r\n\r\nHello\r\n";
//! let env = envelope(raw);
//! assert_eq!(env.from.len(), 1);
//! assert_eq!(env.sender, env.from); // Sender defaults to From
//! let _structure = body_structure(raw, true); // TEXT/PLAIN, 7 octets, 1 line
//! assert_eq!(section(raw, None, None).as_deref(), Some(&raw[..]));
//! ```
//!
//! **Invariants:** no I/O and no store; nothing here panics or overflows the stack on any input
//! (mail-parser runs under `catch_unwind`, a message it cannot parse is one `text/plain` part,
//! and it is kept from its two unbounded recursions: decoding encapsulated messages, and
//! dropping deeply nested ones); nesting is rendered to at most [`MAX_DEPTH`] levels and at most
//! [`MAX_ENTITIES`] parts, the same limits for `BODYSTRUCTURE`, `BODY[part]` and `SEARCH BODY`,
//! so the part numbers a client sees always resolve. Fetching a header (`BODY[HEADER]`,
//! `HEADER.FIELDS`, `RFC822.HEADER`, `TEXT`) or `ENVELOPE` never parses MIME.

mod binary;
mod envelope;
mod flags;
mod mailbox_name;
mod message;
mod mime;
mod search;
mod section;
mod structure;
mod value;

pub use binary::{binary, BinaryError};
pub use envelope::envelope;
pub use flags::{flags_from_imap, flags_to_imap};
pub use mailbox_name::{decode_mailbox_name, encode_mailbox_name, MailboxNameError};
pub use message::MimeMessage;
pub use mime::{MAX_DEPTH, MAX_ENTITIES};
pub use search::{in_sequence_set, matches, needs_content, SearchInput};
pub use section::{rfc822_header, rfc822_size, rfc822_text, section};
pub use structure::body_structure;
