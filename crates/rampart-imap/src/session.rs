//! One IMAP connection: the RFC 3501 / RFC 9051 state machine.
//!
//! ```text
//!             connect (implicit TLS: handshake first)
//!                │  * OK [CAPABILITY ...] greeting
//!                ▼
//!        ┌─ not authenticated ──STARTTLS──▶ (TLS; same state, capabilities re-announced)
//!        │       │ LOGIN / AUTHENTICATE PLAIN (TLS only) through rampart-auth's Login
//!        │       ▼
//!        │  authenticated ◀──────── CLOSE / UNSELECT / failed SELECT ─┐
//!        │       │ SELECT / EXAMINE                                   │
//!        │       ▼                                                    │
//!        │    selected ── FETCH STORE SEARCH COPY MOVE EXPUNGE IDLE ──┘
//!        │       │
//!        └──────▶ LOGOUT / BYE (shutdown, account disabled or contained, too many errors,
//!                 inactivity) ▶ closed
//! ```
//!
//! Reading: [`framing`] cuts the byte stream into commands (lines and literals, bounded), the
//! codec decodes them ([`extension`] rescues the few forms imap-codec 1.0 lacks), and a
//! command that decodes to nothing is a `BAD`, never a panic; `max_errors`
//! ([`ImapLimits`](crate::ImapLimits)) of those in a row close the connection. Writing:
//! [`respond`] encodes through imap-codec.
//!
//! A selected mailbox is a [`view::View`]: the session's own list of (sequence number → UID,
//! flags), kept apart from the store and brought up to date at the moments RFC 9051 §7.5.1
//! allows (after NOOP, during IDLE, after most commands, but never an EXPUNGE during FETCH,
//! STORE or SEARCH by sequence number). Other writers are noticed by polling the mailbox's
//! `highest_modseq` (one primary-key read).
//!
//! The account is re-read at least every [`ACCOUNT_CHECK`] and on every IDLE poll: a session
//! whose account became disabled or contained is told `* BYE` and closed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use imap_codec::decode::{CommandDecodeError, Decoder};
use imap_codec::imap_types::command::{Command, CommandBody};
use imap_codec::imap_types::core::{Atom, NonEmptyVec, Tag};
use imap_codec::imap_types::response::{Capability, Code, Data};
use imap_codec::CommandCodec;
use rampart_model::EmailAddress;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use crate::server::ImapContext;

mod auth;
pub(crate) mod extension;
mod fetch;
pub(crate) mod framing;
mod idle;
mod mailbox;
mod messages;
pub(crate) mod respond;
mod view;

use extension::{Extended, Modifiers};
use framing::{Announcement, LineRead};
use respond::{Kind, RespCode};

/// Anything a session can talk over: plain TCP, TLS, or an in-memory pipe in tests.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// How often a session re-reads its account (disabled? contained?) while it waits.
pub(crate) const ACCOUNT_CHECK: Duration = Duration::from_secs(30);

/// After this long without a command, a session forgets the rows it cached for a burst of
/// commands ([`view::Rows`]): an idle session keeps only its view.
const QUIET: Duration = Duration::from_secs(5);

/// Output is sent once this much is buffered, so a large FETCH streams instead of piling up.
const OUT_FLUSH: usize = 64 * 1024;

/// Buffers grown past this by one large command are given back afterwards.
const KEEP_CAPACITY: usize = 16 * 1024;

/// What the caller of a command handler should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Close,
}

/// The signed-in user.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub account: EmailAddress,
}

/// One connection's state. See the module documentation for the state machine.
pub(crate) struct Session {
    ctx: Arc<ImapContext>,
    peer: SocketAddr,
    conn: BufReader<Box<dyn Stream>>,
    /// Responses not yet written.
    out: Vec<u8>,
    /// The command being read (lines and literals).
    msg: Vec<u8>,
    tls: bool,
    /// `BAD` answers in a row.
    errors: u32,
    user: Option<User>,
    selected: Option<view::Selected>,
    /// CONDSTORE is on (ENABLE, or a command that uses it): MODSEQ in FETCH responses.
    condstore: bool,
    /// ENABLE IMAP4rev2 was given.
    rev2: bool,
    /// The client's name/version from ID, for the login risk engine.
    user_agent: Option<String>,
    account_checked: Instant,
    /// Refused logins on this connection.
    login_failures: u32,
    /// Set when the session must end after the current command (`* BYE` with this text): the
    /// selected mailbox was renamed or replaced under it.
    bye: Option<&'static str>,
}

/// What reading one command produced.
enum Framed {
    /// `self.msg` holds one complete command.
    Command,
    Eof,
    /// A line over the limit: dropped; the command is answered `BAD`.
    TooLong,
    /// A literal over its limit. A synchronising one was refused before the client sent it (the
    /// command is over); a non-synchronising one is already on its way, so the connection must
    /// close.
    LiteralTooLarge {
        tag: Option<String>,
        non_sync: bool,
    },
}

impl Session {
    pub(crate) fn new(ctx: Arc<ImapContext>, peer: SocketAddr, stream: Box<dyn Stream>) -> Self {
        Session {
            ctx,
            peer,
            conn: BufReader::with_capacity(4 * 1024, stream),
            out: Vec::with_capacity(1024),
            msg: Vec::with_capacity(1024),
            tls: false,
            errors: 0,
            user: None,
            selected: None,
            condstore: false,
            rev2: false,
            user_agent: None,
            account_checked: Instant::now(),
            login_failures: 0,
            bye: None,
        }
    }

    /// Runs the conversation to its end. I/O errors just end it: the peer is gone.
    pub(crate) async fn run(mut self) {
        if self.ctx.implicit_tls && !self.upgrade_tls().await {
            return;
        }
        self.converse().await;
    }

    /// The conversation after any implicit-TLS handshake: greeting, commands, goodbye.
    async fn converse(mut self) {
        let caps = self.capability_list();
        let code = NonEmptyVec::try_from(caps).ok().map(Code::Capability);
        let text = format!("{} Rampart IMAP ready", self.ctx.hostname);
        respond::greeting(&mut self.out, code, &text);
        if let Err(e) = self.serve().await {
            tracing::debug!(peer = %self.peer, error = %e, "IMAP session ended with an I/O error");
        }
        let _ = self.flush().await;
        let _ = self.conn.get_mut().shutdown().await;
    }

    async fn serve(&mut self) -> std::io::Result<()> {
        let mut shutdown = self.ctx.shutdown.clone();
        loop {
            if !self.conn.buffer().is_empty() && self.out.len() < OUT_FLUSH {
                // Pipelined commands are waiting: answer them together.
            } else {
                self.flush().await?;
            }
            if self.user.is_some() && self.account_checked.elapsed() >= ACCOUNT_CHECK {
                // A busy session checks between commands; a quiet one while it waits (below).
                self.account_checked = Instant::now();
                if let Some(why) = account_gone(&self.ctx, self.user.as_ref()).await {
                    tracing::info!(peer = %self.peer, why, "closing IMAP session: account unavailable");
                    respond::bye(&mut self.out, None, why);
                    return Ok(());
                }
            }
            let timeout = self.timeout();
            let deadline = tokio::time::Instant::now() + timeout;
            let mut msg = std::mem::take(&mut self.msg);
            msg.clear();
            let framed = {
                // Before login, APPEND is refused anyway: no large literal is worth reading.
                let max_message = if self.user.is_some() {
                    self.ctx.limits.max_message_size
                } else {
                    u64::from(framing::MAX_LITERAL)
                };
                let reading = read_command(&mut self.conn, &mut msg, max_message);
                tokio::pin!(reading);
                loop {
                    if *shutdown.borrow() {
                        break Err(Stop::Shutdown);
                    }
                    let check_in = ACCOUNT_CHECK.saturating_sub(self.account_checked.elapsed());
                    let cached = self.selected.as_ref().is_some_and(|s| s.rows.is_some());
                    tokio::select! {
                        r = &mut reading => break r.map_err(Stop::Io),
                        _ = tokio::time::sleep_until(deadline) => break Err(Stop::Timeout),
                        changed = shutdown.changed() => {
                            if changed.is_err() {
                                break Err(Stop::Shutdown);
                            }
                        }
                        _ = tokio::time::sleep(QUIET), if cached => {
                            if let Some(sel) = self.selected.as_mut() {
                                sel.rows = None;
                            }
                        }
                        _ = tokio::time::sleep(check_in), if self.user.is_some() => {
                            self.account_checked = Instant::now();
                            if let Some(why) = account_gone(&self.ctx, self.user.as_ref()).await {
                                break Err(Stop::Account(why));
                            }
                        }
                    }
                }
            };
            let framed = match framed {
                Ok(f) => f,
                Err(Stop::Io(e)) => return Err(e),
                Err(Stop::Shutdown) => {
                    respond::bye(&mut self.out, None, "Server shutting down, reconnect later");
                    return Ok(());
                }
                Err(Stop::Timeout) => {
                    respond::bye(&mut self.out, None, "Autologout; idle for too long");
                    return Ok(());
                }
                Err(Stop::Account(why)) => {
                    tracing::info!(peer = %self.peer, why, "closing IMAP session: account unavailable");
                    respond::bye(&mut self.out, None, why);
                    return Ok(());
                }
            };
            let flow = match framed {
                Framed::Eof => return Ok(()),
                Framed::TooLong => {
                    respond::status_raw_tag(
                        &mut self.out,
                        None,
                        Kind::Bad,
                        "Command line too long",
                    );
                    self.count_error()
                }
                Framed::LiteralTooLarge { tag, non_sync } => {
                    respond::status(
                        &mut self.out,
                        tag.as_deref().and_then(|t| Tag::try_from(t).ok()).as_ref(),
                        Kind::Bad,
                        Some(RespCode::Std(Code::TooBig)),
                        "Literal too large",
                    );
                    if non_sync {
                        respond::bye(&mut self.out, None, "Literal too large; closing");
                        Flow::Close
                    } else {
                        self.count_error()
                    }
                }
                Framed::Command => {
                    let (flow, back) = self.execute(msg).await?;
                    msg = back.unwrap_or_default();
                    flow
                }
            };
            if msg.capacity() > KEEP_CAPACITY {
                msg = Vec::with_capacity(1024);
            }
            self.msg = msg;
            if self.out.capacity() > 4 * OUT_FLUSH && self.out.is_empty() {
                self.out = Vec::with_capacity(1024);
            }
            if flow == Flow::Close {
                return Ok(());
            }
            if let Some(why) = self.bye.take() {
                respond::bye(&mut self.out, None, why);
                return Ok(());
            }
        }
    }

    fn timeout(&self) -> Duration {
        let secs = if self.user.is_some() {
            self.ctx.limits.idle_timeout_secs
        } else {
            self.ctx.limits.login_timeout_secs
        };
        Duration::from_secs(secs.max(1))
    }

    /// Decodes and runs one command. Returns the buffer for reuse unless APPEND took it.
    async fn execute(&mut self, msg: Vec<u8>) -> std::io::Result<(Flow, Option<Vec<u8>>)> {
        let decoded = decode(&msg);
        let flow = match decoded {
            Ok(cmd) if matches!(cmd.body, CommandBody::Append { .. }) => {
                let append = messages::AppendRequest::take(cmd, &msg);
                let flow = self.append(append, msg).await?;
                return Ok((flow, None));
            }
            Ok(cmd) => self.dispatch(cmd, Modifiers::default()).await?,
            Err(()) => match extension::parse_with(&msg, &self.saved_sets(&msg)) {
                Some(Extended::Append8 { bytes, data }) => match decode(&bytes) {
                    Ok(cmd) if matches!(cmd.body, CommandBody::Append { .. }) => {
                        let append = messages::AppendRequest::take(cmd, &bytes).with_data(data);
                        let flow = self.append(append, msg).await?;
                        return Ok((flow, None));
                    }
                    _ => self.unparseable(&msg),
                },
                Some(Extended::Rewritten(bytes, m)) => match decode(&bytes) {
                    Ok(cmd) if !matches!(cmd.body, CommandBody::Append { .. }) => {
                        self.dispatch(cmd, m).await?
                    }
                    _ => self.unparseable(&msg),
                },
                Some(other) => {
                    let tag = framing::head(&msg).0.map(str::to_string);
                    self.extended(tag, other).await?
                }
                None => self.unparseable(&msg),
            },
        };
        Ok((flow, Some(msg)))
    }

    /// The saved search result (SEARCHRES) as sets for `$`, computed only when the command
    /// has a `$` at all. Messages expunged since the SEARCH are left out (RFC 5182 §2.1).
    fn saved_sets(&self, msg: &[u8]) -> extension::Saved {
        let mut saved = extension::Saved::default();
        let Some(sel) = self.selected.as_ref().filter(|_| msg.contains(&b'$')) else {
            return saved;
        };
        let mut uids = Vec::with_capacity(sel.saved.len());
        let mut seqs = Vec::with_capacity(sel.saved.len());
        for &u in &sel.saved {
            if let Some(p) = sel.view.find(u).filter(|&p| !sel.view.is_gone(p)) {
                uids.push(u);
                seqs.push(p as u32 + 1);
            }
        }
        saved.uids = messages::compress(&uids);
        saved.seqs = messages::compress(&seqs);
        saved
    }

    fn unparseable(&mut self, msg: &[u8]) -> Flow {
        let (tag, name) = framing::head(msg);
        let text = if name.is_empty() {
            "Missing command".to_string()
        } else if name.iter().all(|b| b.is_ascii_alphanumeric()) {
            format!(
                "Unknown command or bad arguments for {}",
                String::from_utf8_lossy(&name)
            )
        } else {
            "Command not understood".to_string()
        };
        respond::status_raw_tag(&mut self.out, tag, Kind::Bad, &text);
        self.count_error()
    }

    /// Runs one decoded command.
    async fn dispatch(&mut self, cmd: Command<'_>, m: Modifiers) -> std::io::Result<Flow> {
        let tag = cmd.tag;
        let authed = self.user.is_some();
        let selected = self.selected.is_some();
        use CommandBody as C;
        let flow = match cmd.body {
            // Any state.
            C::Capability => {
                let caps = self.capability_list();
                if let Ok(caps) = NonEmptyVec::try_from(caps) {
                    respond::data(&mut self.out, Data::Capability(caps));
                }
                self.ok(&tag, None, "CAPABILITY completed")
            }
            C::Noop => {
                if selected {
                    self.refresh(true).await?;
                }
                self.ok(&tag, None, "NOOP completed")
            }
            C::Logout => {
                respond::bye(&mut self.out, None, "Logging out");
                self.ok(&tag, None, "LOGOUT completed");
                return Ok(Flow::Close);
            }
            // Not authenticated.
            C::StartTLS if !authed => return self.starttls(&tag).await,
            C::Login { username, password } if !authed => {
                return self.login(&tag, username, password).await
            }
            C::Authenticate {
                mechanism,
                initial_response,
            } if !authed => return self.authenticate(&tag, mechanism, initial_response).await,
            C::StartTLS | C::Login { .. } | C::Authenticate { .. } => {
                self.bad(&tag, "Already authenticated")
            }
            _ if !authed => self.bad(&tag, "Log in first"),
            // Authenticated.
            C::Enable { capabilities } => self.enable(&tag, capabilities),
            C::Select { mailbox } => self.select(&tag, mailbox, false, m).await?,
            C::Examine { mailbox } => self.select(&tag, mailbox, true, m).await?,
            C::Create { mailbox } => self.create(&tag, mailbox).await?,
            C::Delete { mailbox } => self.delete(&tag, mailbox).await?,
            C::Rename { from, to } => self.rename(&tag, from, to).await?,
            C::Subscribe { mailbox } => self.subscribe(&tag, mailbox, true).await?,
            C::Unsubscribe { mailbox } => self.subscribe(&tag, mailbox, false).await?,
            C::List {
                reference,
                mailbox_wildcard,
            } => {
                self.list(&tag, reference, mailbox_wildcard, false, m)
                    .await?
            }
            C::Lsub {
                reference,
                mailbox_wildcard,
            } => {
                self.list(&tag, reference, mailbox_wildcard, true, m)
                    .await?
            }
            C::Status {
                mailbox,
                item_names,
            } => self.status(&tag, mailbox, &item_names, m).await?,
            C::Idle => return self.idle(&tag).await,
            _ if !selected => self.bad(&tag, "Select a mailbox first"),
            // Selected.
            C::Check => {
                self.refresh(true).await?;
                self.ok(&tag, None, "CHECK completed")
            }
            C::Close => self.close(&tag, true).await?,
            C::Unselect => self.close(&tag, false).await?,
            C::Expunge => self.expunge(&tag, None).await?,
            C::Search {
                charset,
                criteria,
                uid,
            } => self.search(&tag, charset, criteria, uid, m).await?,
            C::Fetch {
                sequence_set,
                macro_or_item_names,
                uid,
            } => {
                self.fetch(&tag, &sequence_set, macro_or_item_names, uid, m)
                    .await?
            }
            C::Store {
                sequence_set,
                kind,
                response,
                flags,
                uid,
            } => {
                self.store(&tag, &sequence_set, kind, response, &flags, uid, m)
                    .await?
            }
            C::Copy {
                sequence_set,
                mailbox,
                uid,
            } => {
                self.copy_or_move(&tag, &sequence_set, mailbox, uid, false, m.saved_empty)
                    .await?
            }
            C::Move {
                sequence_set,
                mailbox,
                uid,
            } => {
                self.copy_or_move(&tag, &sequence_set, mailbox, uid, true, m.saved_empty)
                    .await?
            }
            _ => self.bad(&tag, "Command not supported"),
        };
        Ok(flow)
    }

    /// Commands only [`extension`] understands.
    async fn extended(&mut self, tag: Option<String>, ext: Extended) -> std::io::Result<Flow> {
        let Some(tag) = tag.as_deref().and_then(|t| Tag::try_from(t).ok()) else {
            respond::status_raw_tag(&mut self.out, None, Kind::Bad, "Missing tag");
            return Ok(self.count_error());
        };
        let flow = match ext {
            Extended::Id(agent) => {
                if let Some(agent) = agent {
                    tracing::debug!(peer = %self.peer, agent = %agent, "IMAP client identified");
                    self.user_agent = Some(agent);
                }
                // RFC 2971: the server's own ID; constant, so written as is.
                self.out
                    .extend_from_slice(b"* ID (\"name\" \"Rampart\" \"vendor\" \"Rampart\")\r\n");
                self.ok(&tag, None, "ID completed")
            }
            Extended::Namespace if self.user.is_some() => {
                // One personal namespace, no prefix, `/` between levels (RFC 2342).
                self.out
                    .extend_from_slice(b"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
                self.ok(&tag, None, "NAMESPACE completed")
            }
            Extended::UidExpunge(set) if self.selected.is_some() => {
                self.expunge(&tag, Some(&set)).await?
            }
            Extended::Namespace => self.bad(&tag, "Log in first"),
            Extended::UidExpunge(_) => self.bad(&tag, "Select a mailbox first"),
            Extended::Rewritten(..) | Extended::Append8 { .. } => {
                self.bad(&tag, "Command not understood")
            }
        };
        Ok(flow)
    }

    fn enable(
        &mut self,
        tag: &Tag<'_>,
        capabilities: NonEmptyVec<imap_codec::imap_types::extensions::enable::CapabilityEnable<'_>>,
    ) -> Flow {
        use imap_codec::imap_types::extensions::enable::CapabilityEnable;
        let mut enabled = Vec::new();
        for cap in capabilities.into_inner() {
            let name = cap.to_string().to_ascii_uppercase();
            match name.as_str() {
                "CONDSTORE" if !self.condstore => {
                    self.condstore = true;
                    enabled.push(CapabilityEnable::CondStore);
                }
                "IMAP4REV2" if !self.rev2 => {
                    self.rev2 = true;
                    if let Ok(c) = CapabilityEnable::try_from("IMAP4rev2") {
                        enabled.push(c);
                    }
                }
                _ => {}
            }
        }
        respond::data(
            &mut self.out,
            Data::Enabled {
                capabilities: enabled,
            },
        );
        self.ok(tag, None, "ENABLE completed")
    }

    /// What this connection offers now (RFC 9051 §7.2.2: it depends on TLS and login).
    fn capability_list(&self) -> Vec<Capability<'static>> {
        let mut names: Vec<&'static str> = vec!["IMAP4rev1", "IMAP4rev2"];
        if !self.tls {
            names.extend(["STARTTLS", "LOGINDISABLED"]);
        } else if self.user.is_none() {
            names.push("AUTH=PLAIN");
        }
        names.extend([
            "SASL-IR",
            "LITERAL+",
            "ID",
            "ENABLE",
            "IDLE",
            "NAMESPACE",
            "UIDPLUS",
            "MOVE",
            "UNSELECT",
            "CHILDREN",
            "SPECIAL-USE",
            "LIST-EXTENDED",
            "LIST-STATUS",
            "CONDSTORE",
            "ESEARCH",
            "STATUS=SIZE",
            "BINARY",
            "SEARCHRES",
        ]);
        names
            .into_iter()
            .filter_map(|n| Atom::try_from(n).ok().map(Capability::from))
            .collect()
    }

    fn capability_code(&self) -> Option<RespCode<'static>> {
        NonEmptyVec::try_from(self.capability_list())
            .ok()
            .map(|c| RespCode::Std(Code::Capability(c)))
    }

    // ---- answers

    fn ok(&mut self, tag: &Tag<'_>, code: Option<RespCode<'_>>, text: &str) -> Flow {
        self.errors = 0;
        respond::status(&mut self.out, Some(tag), Kind::Ok, code, text);
        Flow::Continue
    }

    fn no(&mut self, tag: &Tag<'_>, code: Option<RespCode<'_>>, text: &str) -> Flow {
        self.errors = 0;
        respond::status(&mut self.out, Some(tag), Kind::No, code, text);
        Flow::Continue
    }

    fn bad(&mut self, tag: &Tag<'_>, text: &str) -> Flow {
        respond::status(&mut self.out, Some(tag), Kind::Bad, None, text);
        self.count_error()
    }

    fn count_error(&mut self) -> Flow {
        self.errors += 1;
        if self.errors >= self.ctx.limits.max_errors.max(1) {
            respond::bye(&mut self.out, None, "Too many errors; closing");
            return Flow::Close;
        }
        Flow::Continue
    }

    /// A store failure the client cannot fix: logged, answered `NO [SERVERBUG]`-style.
    fn store_failed(&mut self, tag: &Tag<'_>, what: &str, e: &rampart_store::StoreError) -> Flow {
        tracing::error!(peer = %self.peer, error = %e, what, "IMAP store operation failed");
        self.no(
            tag,
            Some(RespCode::ext("SERVERBUG")),
            "Internal error; try again later",
        )
    }

    /// Writes what is buffered.
    async fn flush(&mut self) -> std::io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let stream = self.conn.get_mut();
        stream.write_all(&self.out).await?;
        stream.flush().await?;
        self.out.clear();
        Ok(())
    }

    /// Flushes when enough output is waiting (large FETCH responses stream out).
    async fn flush_if_full(&mut self) -> std::io::Result<()> {
        if self.out.len() >= OUT_FLUSH {
            self.flush().await?;
        }
        Ok(())
    }

    /// Runs the TLS handshake; `false` if it failed (the peer is dropped).
    async fn upgrade_tls(&mut self) -> bool {
        let conn = std::mem::replace(
            &mut self.conn,
            BufReader::new(Box::new(tokio::io::empty()) as Box<dyn Stream>),
        );
        let stream = conn.into_inner();
        let timeout = Duration::from_secs(self.ctx.limits.login_timeout_secs.clamp(1, 60));
        match tokio::time::timeout(timeout, self.ctx.tls.accept(stream)).await {
            Ok(Ok(tls)) => {
                self.conn = BufReader::with_capacity(4 * 1024, Box::new(tls));
                self.tls = true;
                true
            }
            Ok(Err(e)) => {
                tracing::info!(peer = %self.peer, error = %e, "IMAP TLS handshake failed");
                false
            }
            Err(_) => false,
        }
    }
}

enum Stop {
    Io(std::io::Error),
    Shutdown,
    Timeout,
    Account(&'static str),
}

/// Why the signed-in account may no longer use this session, if it may not.
pub(crate) async fn account_gone(ctx: &ImapContext, user: Option<&User>) -> Option<&'static str> {
    let user = user?;
    match ctx.store.meta().account(&user.account).await {
        Ok(Some(a)) if a.contained_at.is_some() => {
            Some("Account locked after a suspected compromise; contact your security team")
        }
        Ok(Some(a)) if a.disabled => Some("Account disabled"),
        Ok(Some(_)) => None,
        Ok(None) => Some("Account removed"),
        Err(e) => {
            // A transient store problem must not log everyone out.
            tracing::warn!(error = %e, "cannot re-read the account of an IMAP session");
            None
        }
    }
}

/// Decodes one complete command with imap-codec; any panic inside the codec is contained.
fn decode(msg: &[u8]) -> Result<Command<'_>, ()> {
    let result = std::panic::catch_unwind(|| {
        CommandCodec::default()
            .decode(msg)
            .map(|(rest, c)| (rest.len(), c))
    });
    match result {
        Ok(Ok((0, cmd))) => Ok(cmd),
        _ => Err(()),
    }
}

/// Reads one command (lines and literals) into `msg`, answering `+` to synchronising literals.
async fn read_command(
    conn: &mut BufReader<Box<dyn Stream>>,
    msg: &mut Vec<u8>,
    max_message: u64,
) -> std::io::Result<Framed> {
    let mut literals = 0usize;
    loop {
        let line_start = msg.len();
        match framing::read_line(conn, msg, framing::MAX_LINE).await? {
            LineRead::Eof => return Ok(Framed::Eof),
            LineRead::TooLong => {
                if literals > 0 {
                    // The rest of a command whose start we accepted: refuse the whole.
                    msg.clear();
                }
                return Ok(Framed::TooLong);
            }
            LineRead::Complete => {}
        }
        let append = framing::is_append(msg);
        let limit_total = if append {
            max_message.saturating_add(framing::MAX_COMMAND as u64)
        } else {
            framing::MAX_COMMAND as u64
        };
        if msg.len() as u64 > limit_total {
            return Ok(Framed::TooLong);
        }
        let announced = match framing::announcement(&msg[line_start..]) {
            Ok(a) => a,
            Err(()) => Some(Announcement {
                length: u32::MAX,
                non_sync: true,
            }),
        };
        let Some(Announcement { length, non_sync }) = announced else {
            return Ok(Framed::Command);
        };
        literals += 1;
        let limit = if append {
            max_message.min(u64::from(u32::MAX))
        } else {
            u64::from(framing::MAX_LITERAL)
        };
        if u64::from(length) > limit
            || literals > framing::MAX_LITERALS
            || msg.len() as u64 + u64::from(length) > limit_total
        {
            return Ok(Framed::LiteralTooLarge {
                tag: framing::head(msg).0.map(str::to_string),
                non_sync,
            });
        }
        if !non_sync {
            // Agree only to a literal the command so far can carry; otherwise let the decoder
            // refuse it now (the client then sends nothing more for this command).
            let wanted = matches!(
                CommandCodec::default().decode(msg),
                Err(CommandDecodeError::LiteralFound { .. })
            ) || framing::head(msg).1 == b"ID"
                || (append && framing::is_literal8(&msg[line_start..]));
            if !wanted {
                return Ok(Framed::Command);
            }
            let mut plus = Vec::new();
            respond::continuation(&mut plus, "Ready for literal data");
            conn.get_mut().write_all(&plus).await?;
            conn.get_mut().flush().await?;
        }
        if !framing::read_literal(conn, msg, length as usize).await? {
            return Ok(Framed::Eof);
        }
    }
}

/// Runs a whole session over an in-memory connection: `input` is everything the client sends
/// (then it closes its side); the result is everything the server answered. With `account`,
/// the session starts signed in as that account (and counts as encrypted, since a pipe has no
/// handshake), so every command is reachable without a password. For fuzzing and tests: it
/// must never panic, whatever `input` holds.
pub async fn serve_bytes_for_fuzz(
    ctx: Arc<ImapContext>,
    account: Option<EmailAddress>,
    input: &[u8],
) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let (client, server) = tokio::io::duplex(64 * 1024);
    let peer = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut session = Session::new(ctx, peer, Box::new(server));
    session.tls = true;
    session.user = account.map(|account| User { account });
    let (mut from_server, mut to_server) = tokio::io::split(client);
    let input = input.to_vec();
    let send = async move {
        let _ = to_server.write_all(&input).await;
        let _ = to_server.shutdown().await;
    };
    let receive = async move {
        let mut out = Vec::new();
        let _ = from_server.read_to_end(&mut out).await;
        out
    };
    let ((), (), out) = tokio::join!(session.converse(), send, receive);
    out
}

/// Runs the decoder and the extension parser on arbitrary bytes, as a session would before
/// dispatching, without I/O. For fuzzing: it must never panic, whatever `bytes` holds.
pub fn handle_line_for_fuzz(bytes: &[u8]) {
    // Framing of a buffer: announcements, heads.
    let _ = framing::head(bytes);
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let _ = framing::announcement(line);
    }
    if let Ok(cmd) = decode(bytes) {
        let _ = format!("{:?}", cmd.body).len();
    }
    if let Some(Extended::Rewritten(rewritten, _)) = extension::parse(bytes) {
        let _ = decode(&rewritten);
    }
    let mut out = Vec::new();
    respond::status_raw_tag(
        &mut out,
        framing::head(bytes).0,
        Kind::Bad,
        &String::from_utf8_lossy(bytes),
    );
    debug_assert!(out.ends_with(b"\r\n") && !out[..out.len() - 2].contains(&b'\n'));
}
