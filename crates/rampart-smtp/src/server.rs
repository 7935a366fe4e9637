//! The listener: accepts connections, enforces connection limits, runs sessions, and drains them
//! on shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::session::{Session, SessionContext};

/// A bound SMTP listener.
pub struct SmtpServer {
    listener: TcpListener,
    ctx: Arc<SessionContext>,
}

impl SmtpServer {
    /// Binds the listener now, so a port conflict is reported before anything else starts.
    pub async fn bind(addr: &str, ctx: SessionContext) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
        Ok(SmtpServer {
            listener,
            ctx: Arc::new(ctx),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` turns true, then stops accepting and gives open sessions up to the
    /// grace period to finish their transactions.
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
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let Ok(permit) = Arc::clone(&total).try_acquire_owned() else {
                        refuse(stream, &self.ctx.hostname, "too many connections, try again later");
                        continue;
                    };
                    let Some(slot) = per_ip.acquire(peer.ip(), limits.max_connections_per_ip) else {
                        tracing::info!(%peer, "per-address connection limit reached");
                        refuse(stream, &self.ctx.hostname, "too many connections from your address");
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
            "SMTP listener closed; draining sessions"
        );
        let drained = tokio::time::timeout(grace, async {
            while sessions.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                open = sessions.len(),
                "grace period over; closing remaining sessions"
            );
            sessions.shutdown().await;
        }
    }
}

fn refuse(mut stream: TcpStream, hostname: &str, why: &str) {
    let msg = format!("421 4.7.0 {hostname} Error: {why}\r\n");
    tokio::spawn(async move {
        let _ =
            tokio::time::timeout(Duration::from_secs(5), stream.write_all(msg.as_bytes())).await;
        let _ = stream.shutdown().await;
    });
}
