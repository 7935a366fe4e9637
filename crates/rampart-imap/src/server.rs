//! The listener: accepts connections, enforces connection limits (total and per peer address),
//! runs one session (the `session` module) per connection (the TLS handshake happens in the
//! session's task, never on the accept loop), and drains sessions on shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rampart_auth::login::Login;
use rampart_model::EmailAddress;
use rampart_store::Mailstore;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::session::Session;

/// Learns from what users file as junk and not junk. The binary implements it over the personal
/// spam model; the IMAP server only reports.
///
/// Called, on a task of its own so the command never waits for it, when a message is copied or
/// moved into the `Junk` mailbox (`spam = true`) or out of it into any mailbox other than `Trash`
/// (`spam = false`).
pub trait JunkFeedback: Send + Sync {
    /// `message` is the message's id in the store (its row in the source mailbox), for the
    /// feedback event.
    fn report(
        &self,
        account: &EmailAddress,
        message: rampart_model::MessageId,
        raw: bytes::Bytes,
        spam: bool,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Limits of one IMAP listener. The defaults suit a small organisation's server.
#[derive(Debug, Clone)]
pub struct ImapLimits {
    /// Open connections in total; more are refused with `* BYE`.
    pub max_connections: usize,
    /// Open connections from one peer address (clients open a few per account; offices share
    /// one NAT address).
    pub max_connections_per_ip: usize,
    /// Inactivity before authentication, in seconds.
    pub login_timeout_secs: u64,
    /// Inactivity after authentication, IDLE included, in seconds. RFC 9051 §5.4: at least 30
    /// minutes for authenticated sessions; clients re-issue IDLE every 29 minutes.
    pub idle_timeout_secs: u64,
    /// Largest message APPEND accepts (the same bound as SMTP's `max_message_size`).
    pub max_message_size: u64,
    /// Commands answered `BAD` in a row before the connection is closed.
    pub max_errors: u32,
    /// How often an IDLE session polls its mailbox and its account, in milliseconds.
    pub idle_poll_ms: u64,
    /// How long open sessions get to finish when the server shuts down, in seconds.
    pub shutdown_grace_secs: u64,
}

impl Default for ImapLimits {
    fn default() -> Self {
        ImapLimits {
            max_connections: 2000,
            max_connections_per_ip: 50,
            login_timeout_secs: 300,
            idle_timeout_secs: 30 * 60,
            max_message_size: 50 * 1024 * 1024,
            max_errors: 10,
            idle_poll_ms: 1000,
            shutdown_grace_secs: 10,
        }
    }
}

/// What every session of one listener shares.
pub struct ImapContext {
    /// Named in the greeting and in `BYE` responses.
    pub hostname: String,
    pub store: Mailstore,
    /// The login flow every door shares (risk engine, app passwords, events).
    pub login: Arc<Login>,
    pub tls: TlsAcceptor,
    /// TLS from the first byte (port 993 style) instead of STARTTLS.
    pub implicit_tls: bool,
    /// Flips to `true` when the server is shutting down; sessions say `* BYE` and end.
    pub shutdown: watch::Receiver<bool>,
    pub limits: ImapLimits,
    /// Junk / not-junk feedback for the personal spam model; `None` reports nothing.
    pub junk: Option<Arc<dyn JunkFeedback>>,
}

/// A bound IMAP listener.
pub struct ImapServer {
    listener: TcpListener,
    ctx: Arc<ImapContext>,
}

impl ImapServer {
    /// Binds the listener now, so a port conflict is reported before anything else starts.
    pub async fn bind(addr: &str, ctx: ImapContext) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
        Ok(ImapServer {
            listener,
            ctx: Arc::new(ctx),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` turns true, then stops accepting; open sessions see the same
    /// signal, say `* BYE` at their next opportunity (an IDLE ends at once) and get the grace
    /// period to do so before they are cut.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let limits = &self.ctx.limits;
        let total = Arc::new(Semaphore::new(limits.max_connections.max(1)));
        let per_ip = Arc::new(rampart_model::PerAddress::default());
        let mut sessions = JoinSet::new();
        loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(x) => x,
                        Err(e) => {
                            // EMFILE and friends: back off instead of spinning.
                            tracing::warn!(error = %e, "IMAP accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let Ok(permit) = Arc::clone(&total).try_acquire_owned() else {
                        refuse(stream, self.ctx.implicit_tls, "Too many connections, try again later");
                        continue;
                    };
                    let Some(slot) = per_ip.acquire(peer.ip(), limits.max_connections_per_ip.max(1)) else {
                        tracing::info!(%peer, "IMAP per-address connection limit reached");
                        refuse(stream, self.ctx.implicit_tls, "Too many connections from your address");
                        continue;
                    };
                    let ctx = Arc::clone(&self.ctx);
                    sessions.spawn(async move {
                        Session::new(ctx, peer, Box::new(stream)).run().await;
                        drop((permit, slot));
                    });
                }
                Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
        }
        drop(self.listener);
        let grace = Duration::from_secs(limits.shutdown_grace_secs);
        tracing::info!(
            open = sessions.len(),
            "IMAP listener closed; draining sessions"
        );
        let drained = tokio::time::timeout(grace, async {
            while sessions.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                open = sessions.len(),
                "grace period over; closing remaining IMAP sessions"
            );
            sessions.shutdown().await;
        }
    }
}

/// Says why in a `* BYE` (plain-text listeners only: on an implicit-TLS port the peer expects a
/// handshake, and we do not spend one on a connection we refuse) and closes.
fn refuse(mut stream: TcpStream, implicit_tls: bool, why: &'static str) {
    tokio::spawn(async move {
        if !implicit_tls {
            let line = format!("* BYE [UNAVAILABLE] {why}\r\n");
            let _ = tokio::time::timeout(Duration::from_secs(5), stream.write_all(line.as_bytes()))
                .await;
        }
        let _ = stream.shutdown().await;
    });
}
