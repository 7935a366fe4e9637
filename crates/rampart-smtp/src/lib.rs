//! Rampart's SMTP server: the MX (inbound) listener, submission (AUTH under TLS, own addresses
//! only, sending control, remote recipients queued) and the outbound queue worker.
//!
//! * [`command`]: the command-line parser; pure, total (never panics), fuzzed.
//! * [`session`]: the RFC 5321 state machine for one connection, with PIPELINING, SIZE, 8BITMIME,
//!   SMTPUTF8, ENHANCEDSTATUSCODES, STARTTLS and CHUNKING; rejects bare LF (SMTP smuggling).
//! * [`server`]: listener, connection limits (total and per IP), graceful drain on shutdown.
//! * [`sending`]: quotas and spike detection on submission, the sending hold, burst signals.
//! * [`delivery`]: the outbound queue worker (claims, DKIM, delivery, retries, bounces).
//! * [`alerts`]: the alert sinks from `[alerts]`, with mail to the admin through the store.
//!
//! **Architecture invariant:** a `250` after DATA/BDAT is sent only after
//! [`rampart_store::Mailstore::deliver`] returned, i.e. the message is on stable storage.
//!
//! ```no_run
//! # async fn demo(store: rampart_store::Mailstore) -> std::io::Result<()> {
//! use rampart_smtp::{SessionContext, SmtpServer};
//! let (stop, shutdown) = tokio::sync::watch::channel(false);
//! let ctx = SessionContext {
//!     hostname: "mx.example.com".into(),
//!     limits: Default::default(),
//!     store,
//!     tls: None,
//!     scanner: None,
//!     shutdown: shutdown.clone(),
//!     submission: None,
//!     implicit_tls: false,
//! };
//! let server = SmtpServer::bind("127.0.0.1:2525", ctx).await?;
//! tokio::spawn(server.run(shutdown));
//! // ... later:
//! stop.send(true).ok();
//! # Ok(()) }
//! ```

pub mod alerts;
pub mod command;
pub mod delivery;
pub mod hold;
mod io;
mod message;
pub mod sending;
pub mod server;
pub mod session;

pub use message::{received_header, summarize, TlsInfo};
pub use server::SmtpServer;
pub use session::SessionContext;
