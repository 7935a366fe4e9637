//! Rampart's IMAP server: IMAP4rev1 and the parts of IMAP4rev2 listed below, over the store,
//! with logins through the same risk-controlled flow as every other door.
//!
//! * [`server`]: the listener ([`ImapServer`]), connection limits (total and per address),
//!   graceful drain on shutdown; STARTTLS (port 1143) or implicit TLS (port 1993).
//! * `session`: the state machine of one connection (not authenticated → authenticated →
//!   selected → logout), commands decoded by imap-codec, responses encoded by it; each selected
//!   mailbox is a small per-session view that catches up with other writers by polling the
//!   mailbox's mod-sequence.
//! * [`render`]: pure functions from message bytes to what FETCH and SEARCH answer.
//!
//! Capabilities: `IMAP4rev1 IMAP4rev2 STARTTLS LOGINDISABLED` (before TLS), `AUTH=PLAIN` (under
//! TLS), `SASL-IR LITERAL+ ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE
//! LIST-EXTENDED LIST-STATUS CONDSTORE ESEARCH STATUS=SIZE BINARY SEARCHRES`. `ENABLE
//! IMAP4rev2` switches: SEARCH answers with ESEARCH, SELECT sends no `RECENT` or `[UNSEEN]` and
//! adds the mailbox's `LIST` line. BINARY: `FETCH BINARY[part]<partial>`, `BINARY.PEEK`,
//! `BINARY.SIZE` (Content-Transfer-Encoding undone; a literal8 when the content has NUL;
//! unknown encodings `NO [UNKNOWN-CTE]`) and `APPEND` with a literal8. SEARCHRES:
//! `SEARCH RETURN (SAVE)` and `$`, the saved result kept per selection as UIDs. A selected
//! mailbox renamed (or replaced) by another session is noticed on the next poll and the session
//! ends with `* BYE` (its UIDs are no longer valid). Not implemented: QRESYNC (it needs the
//! store to list the UIDs expunged since a mod-sequence), `SEARCH MODSEQ`, several LIST
//! patterns in one command, `BINARY` in `BODYSTRUCTURE` (RFC 3516 leaves it optional).
//!
//! **Architecture invariants:** a malformed command is answered `BAD`, never a panic; memory
//! per connection is bounded (lines, literals and commands have limits; APPEND by the message
//! size limit; a selected mailbox costs about 5 bytes a message); LOGIN and AUTHENTICATE work
//! only under TLS and only through [`rampart_auth::login::Login`]; EXPUNGE is the store's soft
//! delete (recoverable for the retention window). This crate knows nothing of SMTP.
//!
//! ```no_run
//! # async fn demo(
//! #     store: rampart_store::Mailstore,
//! #     login: std::sync::Arc<rampart_auth::login::Login>,
//! #     tls: tokio_rustls::TlsAcceptor,
//! # ) -> std::io::Result<()> {
//! use rampart_imap::{ImapContext, ImapServer};
//! let (stop, shutdown) = tokio::sync::watch::channel(false);
//! let ctx = ImapContext {
//!     hostname: "mail.example.com".into(),
//!     store,
//!     login,
//!     tls,
//!     implicit_tls: false,
//!     shutdown: shutdown.clone(),
//!     limits: Default::default(),
//!     junk: None,
//! };
//! let server = ImapServer::bind("0.0.0.0:1143", ctx).await?;
//! tokio::spawn(server.run(shutdown));
//! // ... later:
//! stop.send(true).ok();
//! # Ok(()) }
//! ```

pub mod render;
pub mod server;
mod session;

pub use server::{ImapContext, ImapLimits, ImapServer, JunkFeedback};
pub use session::{handle_line_for_fuzz, serve_bytes_for_fuzz};
