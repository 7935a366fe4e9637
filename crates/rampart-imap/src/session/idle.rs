//! IDLE (RFC 2177): `+ idling`, then until the client's `DONE` the session polls the selected
//! mailbox every [`ImapLimits::idle_poll_ms`](crate::ImapLimits) and pushes what changed
//! (`EXISTS`, `EXPUNGE`, `FETCH (FLAGS)`), re-reads the account on every poll (a disabled or
//! contained account gets `* BYE`), and ends with `* BYE` on shutdown or after the inactivity
//! timeout.

use std::time::{Duration, Instant};

use imap_codec::decode::Decoder;
use imap_codec::imap_types::core::Tag;
use imap_codec::IdleDoneCodec;
use tokio::io::AsyncBufReadExt;

use super::{account_gone, respond, Flow, Session};

/// Longest line accepted while idling (`DONE` is four letters).
const MAX_IDLE_LINE: usize = 1024;

enum Event {
    Readable(std::io::Result<usize>),
    Poll,
    Shutdown,
    Timeout,
}

impl Session {
    pub(super) async fn idle(&mut self, tag: &Tag<'_>) -> std::io::Result<Flow> {
        self.drop_rows();
        respond::continuation(&mut self.out, "idling");
        self.flush().await?;
        let poll = Duration::from_millis(self.ctx.limits.idle_poll_ms.max(50));
        let deadline = tokio::time::Instant::now() + self.timeout();
        let mut shutdown = self.ctx.shutdown.clone();
        let mut line: Vec<u8> = Vec::new();
        loop {
            let event = if *shutdown.borrow() {
                Event::Shutdown
            } else {
                tokio::select! {
                    r = async { self.conn.fill_buf().await.map(|b| b.len()) } => Event::Readable(r),
                    _ = tokio::time::sleep(poll) => Event::Poll,
                    _ = tokio::time::sleep_until(deadline) => Event::Timeout,
                    changed = shutdown.changed() => match changed {
                        Ok(()) if !*shutdown.borrow() => continue,
                        _ => Event::Shutdown,
                    },
                }
            };
            match event {
                Event::Readable(r) => {
                    if r? == 0 {
                        return Ok(Flow::Close);
                    }
                    let buffered = self.conn.buffer();
                    let (take, complete) = match buffered.iter().position(|&b| b == b'\n') {
                        Some(i) => (i + 1, true),
                        None => (buffered.len(), false),
                    };
                    line.extend_from_slice(&buffered[..take]);
                    self.conn.consume(take);
                    if line.len() > MAX_IDLE_LINE {
                        return Ok(self.bad(tag, "Expected DONE"));
                    }
                    if !complete {
                        continue;
                    }
                    return Ok(match IdleDoneCodec::default().decode(&line) {
                        Ok(([], _)) => {
                            if self.selected.is_some() {
                                self.refresh(true).await?;
                            }
                            self.ok(tag, None, "IDLE terminated")
                        }
                        _ => self.bad(tag, "Expected DONE"),
                    });
                }
                Event::Poll => {
                    self.account_checked = Instant::now();
                    if let Some(why) = account_gone(&self.ctx, self.user.as_ref()).await {
                        tracing::info!(peer = %self.peer, why, "closing idle IMAP session: account unavailable");
                        respond::bye(&mut self.out, None, why);
                        return Ok(Flow::Close);
                    }
                    if self.selected.is_some() {
                        self.refresh(true).await?;
                    }
                    if let Some(why) = self.bye.take() {
                        respond::bye(&mut self.out, None, why);
                        return Ok(Flow::Close);
                    }
                    self.flush().await?;
                }
                Event::Timeout => {
                    respond::bye(&mut self.out, None, "Autologout; idle for too long");
                    return Ok(Flow::Close);
                }
                Event::Shutdown => {
                    respond::bye(&mut self.out, None, "Server shutting down, reconnect later");
                    return Ok(Flow::Close);
                }
            }
        }
    }
}
