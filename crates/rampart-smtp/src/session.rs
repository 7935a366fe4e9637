//! One SMTP conversation with a peer on the MX port: the RFC 5321 state machine.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rampart_model::config::SmtpConfig;
use rampart_model::{Action, Direction, EmailAddress, EventKind, Folder};
use rampart_scan::{Envelope, ScanReport, Scanner};
use rampart_store::{Mailstore, NewMessage, Recipient};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use rampart_auth::login::Login;

use crate::command::{parse_command, Command, CommandError, Param};
use crate::io::{read_line, LineEnd, Stream};
use crate::message::{received_header, summarize, TlsInfo};

mod submit;

/// What every session of one listener shares.
pub struct SessionContext {
    pub hostname: String,
    pub limits: SmtpConfig,
    pub store: Mailstore,
    pub tls: Option<TlsAcceptor>,
    /// The content pipeline; `None` delivers unscanned.
    pub scanner: Option<Arc<Scanner>>,
    /// Flips to `true` when the server is shutting down.
    pub shutdown: watch::Receiver<bool>,
    /// Set on the submission listeners: AUTH is required and remote recipients are queued.
    pub submission: Option<Submission>,
    /// TLS from the first byte (port 465 style) instead of STARTTLS.
    pub implicit_tls: bool,
}

/// What a submission listener needs beyond the MX.
pub struct Submission {
    pub login: Arc<Login>,
    /// Keep a copy of what a user sends in their `Sent` folder (for clients that do not).
    pub save_sent: bool,
    /// Minutes a message held by DLP for the sender's verification waits.
    pub hold_minutes: u64,
    /// Where senders verify held messages (quoted in replies and notices).
    pub verify_url: String,
    /// Quotas and spike detection; `None` sends without limits.
    pub sending: Option<Arc<crate::sending::SendingGuard>>,
    /// Wakes the outbound delivery worker after something was queued.
    pub outbound: Option<Arc<tokio::sync::Notify>>,
}

/// The account a submission session authenticated as, and the addresses it may send from.
#[derive(Debug, Clone)]
struct Authed {
    account: EmailAddress,
    addresses: Vec<EmailAddress>,
    department: Option<String>,
    level: Option<String>,
}

#[derive(Default)]
struct Transaction {
    from: Option<EmailAddress>,
    /// Recipient addresses as given (for `Received: ... for <x>`).
    rcpt_addresses: Vec<EmailAddress>,
    /// Submission only: recipients outside the local domains, queued for outbound delivery.
    remote: Vec<EmailAddress>,
    /// Accounts to deliver to, deduplicated (aliases can overlap).
    accounts: Vec<EmailAddress>,
    declared_size: Option<u64>,
    smtputf8: bool,
    /// Submission only: what sending control decided at DATA (BDAT decides at the end).
    gate: Option<crate::sending::Gate>,
    /// The queue id, once sending control named it in an event.
    id: Option<String>,
    /// BDAT chunks received so far.
    chunks: Option<Vec<u8>>,
    chunk_overflow: bool,
}

enum Flow {
    Continue,
    Close,
}

static QUEUE_SEQ: AtomicU64 = AtomicU64::new(0);

fn queue_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:x}{:04x}",
        nanos & 0xffff_ffff_ffff,
        QUEUE_SEQ.fetch_add(1, Ordering::Relaxed) & 0xffff
    )
}

pub struct Session {
    ctx: Arc<SessionContext>,
    peer: SocketAddr,
    conn: BufReader<Box<dyn Stream>>,
    out: Vec<u8>,
    helo: Option<String>,
    esmtp: bool,
    tls: Option<TlsInfo>,
    tx: Option<Transaction>,
    errors: u32,
    line: Vec<u8>,
    authed: Option<Authed>,
}

impl Session {
    pub fn new(ctx: Arc<SessionContext>, peer: SocketAddr, stream: Box<dyn Stream>) -> Self {
        Session {
            ctx,
            peer,
            conn: BufReader::with_capacity(16 * 1024, stream),
            out: Vec::with_capacity(512),
            helo: None,
            esmtp: false,
            tls: None,
            tx: None,
            errors: 0,
            line: Vec::with_capacity(512),
            authed: None,
        }
    }

    fn reply(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// Sends buffered replies. With PIPELINING we hold replies while the peer's next commands are
    /// already waiting in our buffer, and send them together.
    async fn flush(&mut self, force: bool) -> std::io::Result<()> {
        if self.out.is_empty() || (!force && !self.conn.buffer().is_empty()) {
            return Ok(());
        }
        let stream = self.conn.get_mut();
        stream.write_all(&self.out).await?;
        stream.flush().await?;
        self.out.clear();
        Ok(())
    }

    fn idle(&self) -> Duration {
        Duration::from_secs(self.ctx.limits.idle_timeout_secs.max(1))
    }

    /// Runs the conversation to its end. I/O errors just end it: the peer is gone.
    pub async fn run(mut self) {
        if self.ctx.implicit_tls {
            match self.upgrade_tls().await {
                Ok(true) => {}
                _ => return,
            }
        }
        let greeting = format!("220 {} ESMTP Rampart", self.ctx.hostname);
        self.reply(&greeting);
        if let Err(e) = self.serve().await {
            tracing::debug!(peer = %self.peer, error = %e, "session ended with an I/O error");
        }
        let _ = self.flush(true).await;
        let _ = self.conn.get_mut().shutdown().await;
    }

    async fn serve(&mut self) -> std::io::Result<()> {
        let mut shutdown = self.ctx.shutdown.clone();
        loop {
            self.flush(false).await?;
            if self.conn.buffer().is_empty() {
                self.flush(true).await?;
            }
            let max = self.ctx.limits.max_command_line;
            let idle = self.idle();
            let mut line = std::mem::take(&mut self.line);
            let read = {
                let reading = tokio::time::timeout(idle, read_line(&mut self.conn, &mut line, max));
                tokio::pin!(reading);
                loop {
                    if *shutdown.borrow() && self.tx.is_none() {
                        break None;
                    }
                    tokio::select! {
                        r = &mut reading => break Some(r),
                        changed = shutdown.changed() => {
                            if changed.is_err() {
                                // The server is gone; finish like a shutdown.
                                break None;
                            }
                        }
                    }
                }
            };
            let result = match read {
                None => {
                    let msg = format!(
                        "421 4.3.2 {} Service shutting down, try again later",
                        self.ctx.hostname
                    );
                    self.line = line;
                    self.reply(&msg);
                    return Ok(());
                }
                Some(Err(_elapsed)) => {
                    let msg = format!("421 4.4.2 {} Error: timeout exceeded", self.ctx.hostname);
                    self.line = line;
                    self.reply(&msg);
                    return Ok(());
                }
                Some(Ok(r)) => r?,
            };
            let flow = match result.end {
                LineEnd::Eof => {
                    self.line = line;
                    return Ok(());
                }
                LineEnd::BareLf => {
                    self.reply("521 5.5.2 Error: bare <LF> received; lines must end with <CR><LF>");
                    Flow::Close
                }
                LineEnd::CrLf if result.too_long => {
                    self.reply("500 5.5.2 Error: command line too long");
                    self.count_error()
                }
                LineEnd::CrLf => self.handle(&line).await?,
            };
            self.line = line;
            if let Flow::Close = flow {
                return Ok(());
            }
        }
    }

    fn count_error(&mut self) -> Flow {
        self.errors += 1;
        if self.errors >= self.ctx.limits.max_errors {
            let msg = format!("421 4.7.0 {} Error: too many errors", self.ctx.hostname);
            self.reply(&msg);
            return Flow::Close;
        }
        Flow::Continue
    }

    async fn handle(&mut self, line: &[u8]) -> std::io::Result<Flow> {
        let command = match parse_command(line) {
            Ok(c) => c,
            Err(e) => {
                let reply = match e {
                    CommandError::Unrecognized(_) => {
                        "500 5.5.1 Error: command not recognized".into()
                    }
                    CommandError::Syntax(why) => format!("501 5.5.4 Syntax error: {why}"),
                    CommandError::NotUtf8 => "500 5.5.2 Error: command is not valid UTF-8".into(),
                };
                self.reply(&reply);
                return Ok(self.count_error());
            }
        };
        match command {
            Command::Ehlo(domain) => self.ehlo(domain, true),
            Command::Helo(domain) => self.ehlo(domain, false),
            Command::Mail { from, params } => self.mail(from, params),
            Command::Rcpt { to, params } => return self.rcpt(to, params).await,
            Command::Data => return self.data().await,
            Command::Bdat { size, last } => return self.bdat(size, last).await,
            Command::Rset => {
                self.tx = None;
                self.reply("250 2.0.0 Ok");
            }
            Command::Noop => self.reply("250 2.0.0 Ok"),
            Command::Quit => {
                let msg = format!("221 2.0.0 {} Bye", self.ctx.hostname);
                self.reply(&msg);
                return Ok(Flow::Close);
            }
            // Answering VRFY would let anyone enumerate mailboxes.
            Command::Vrfy(_) => self.reply("252 2.5.2 Cannot VRFY user; send mail and it will be delivered if possible"),
            Command::Expn(_) => self.reply("502 5.5.1 Error: EXPN is not available"),
            Command::Help => self.reply("214 2.0.0 See RFC 5321; commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT STARTTLS"),
            Command::Auth { mechanism, initial } => return self.auth(mechanism, initial).await,
            Command::StartTls => return self.starttls().await,
        }
        Ok(Flow::Continue)
    }

    fn ehlo(&mut self, domain: String, esmtp: bool) {
        self.tx = None;
        self.esmtp = esmtp;
        let host = &self.ctx.hostname;
        if !esmtp {
            let msg = format!("250 {host}");
            self.helo = Some(domain);
            self.reply(&msg);
            return;
        }
        let mut lines = vec![
            host.clone(),
            "PIPELINING".into(),
            format!("SIZE {}", self.ctx.limits.max_message_size),
            "8BITMIME".into(),
            "SMTPUTF8".into(),
            "ENHANCEDSTATUSCODES".into(),
            "CHUNKING".into(),
        ];
        if self.tls.is_none() && self.ctx.tls.is_some() {
            lines.push("STARTTLS".into());
        }
        // RFC 4954 §4: never offer password mechanisms in the clear.
        if self.ctx.submission.is_some() && self.tls.is_some() && self.authed.is_none() {
            lines.push("AUTH PLAIN LOGIN".into());
        }
        let n = lines.len();
        for (i, l) in lines.into_iter().enumerate() {
            let sep = if i + 1 == n { ' ' } else { '-' };
            self.reply(&format!("250{sep}{l}"));
        }
        self.helo = Some(domain);
    }

    fn mail(&mut self, from: Option<String>, params: Vec<Param>) {
        if self.helo.is_none() {
            return self.reply("503 5.5.1 Error: send EHLO/HELO first");
        }
        if self.tx.is_some() {
            return self.reply("503 5.5.1 Error: nested MAIL command");
        }
        if self.ctx.submission.is_some() && self.authed.is_none() {
            return self.reply("530 5.7.0 Error: authentication required");
        }
        let mut tx = Transaction::default();
        for p in params {
            match (p.key.as_str(), p.value.as_deref()) {
                ("SIZE", Some(v)) => match v.parse::<u64>() {
                    Ok(size) if size > self.ctx.limits.max_message_size => {
                        return self.reply("552 5.3.4 Error: message size exceeds fixed limit");
                    }
                    Ok(size) => tx.declared_size = Some(size),
                    Err(_) => return self.reply("501 5.5.4 Error: bad SIZE parameter"),
                },
                ("BODY", Some(v))
                    if v.eq_ignore_ascii_case("7BIT") || v.eq_ignore_ascii_case("8BITMIME") => {}
                ("BODY", _) => return self.reply("501 5.5.4 Error: unsupported BODY type"),
                ("SMTPUTF8", None) if self.esmtp => tx.smtputf8 = true,
                _ => {
                    return self.reply(&format!(
                        "555 5.5.4 Error: parameter {} is not supported",
                        p.key
                    ))
                }
            }
        }
        if let Some(raw) = from {
            if !raw.is_ascii() && !tx.smtputf8 {
                return self
                    .reply("553 5.6.7 Error: non-ASCII sender needs the SMTPUTF8 parameter");
            }
            match raw.parse::<EmailAddress>() {
                Ok(addr) => tx.from = Some(addr),
                Err(_) if raw.contains("@[") && self.authed.is_none() => {}
                Err(_) => return self.reply("501 5.1.7 Error: bad sender address syntax"),
            }
        }
        if let Some(authed) = &self.authed {
            match &tx.from {
                Some(from) if authed.addresses.contains(from) => {}
                _ => {
                    let allowed = authed
                        .addresses
                        .iter()
                        .map(|a| a.as_str())
                        .collect::<Vec<_>>()
                        .join(", ");
                    return self.reply(&format!(
                        "553 5.7.1 Error: you may send only as your own addresses: {allowed}"
                    ));
                }
            }
        }
        self.tx = Some(tx);
        self.reply("250 2.1.0 Ok");
    }

    async fn rcpt(&mut self, to: String, params: Vec<Param>) -> std::io::Result<Flow> {
        let Some(tx) = self.tx.as_ref() else {
            self.reply("503 5.5.1 Error: need MAIL command first");
            return Ok(self.count_error());
        };
        if let Some(p) = params.first() {
            self.reply(&format!(
                "555 5.5.4 Error: parameter {} is not supported",
                p.key
            ));
            return Ok(Flow::Continue);
        }
        if tx.rcpt_addresses.len() >= self.ctx.limits.max_recipients {
            self.reply("452 4.5.3 Error: too many recipients");
            return Ok(Flow::Continue);
        }
        if let Some(limit) = self.recipient_limit() {
            if tx.rcpt_addresses.len() >= limit as usize {
                self.reply(&format!(
                    "452 4.5.3 Error: too many recipients: your limit is {limit} per message; send the rest in another message"
                ));
                return Ok(Flow::Continue);
            }
        }
        if !to.is_ascii() && !tx.smtputf8 {
            self.reply("553 5.6.7 Error: non-ASCII recipient needs the SMTPUTF8 parameter");
            return Ok(Flow::Continue);
        }
        if to.contains("@[") {
            self.reply("550 5.7.1 Error: relay access denied");
            return Ok(self.count_error());
        }
        let Ok(addr) = to.parse::<EmailAddress>() else {
            self.reply("501 5.1.3 Error: bad recipient address syntax");
            return Ok(self.count_error());
        };
        let declared = tx.declared_size.unwrap_or(0);
        let resolved = match self.ctx.store.meta().resolve(&addr).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "recipient lookup failed");
                self.reply("451 4.3.0 Error: temporary lookup failure, try again later");
                return Ok(Flow::Continue);
            }
        };
        match resolved {
            Recipient::NotLocal if self.authed.is_some() => {
                let tx = self.tx.as_mut().expect("transaction checked above");
                if !tx.remote.contains(&addr) {
                    tx.remote.push(addr.clone());
                }
                tx.rcpt_addresses.push(addr);
                self.reply("250 2.1.5 Ok");
            }
            Recipient::NotLocal => {
                tracing::info!(peer = %self.peer, rcpt = %addr, "relay denied");
                self.reply("550 5.7.1 Error: relay access denied");
                return Ok(self.count_error());
            }
            Recipient::Unknown => {
                self.reply("550 5.1.1 Error: user unknown in this domain");
                return Ok(self.count_error());
            }
            Recipient::Disabled(_) => {
                self.reply("550 5.2.1 Error: mailbox disabled");
            }
            Recipient::Accounts(accounts) => {
                if let Some(full) = accounts.iter().find(|a| !a.has_room_for(declared.max(1))) {
                    tracing::info!(account = %full.address, "mailbox over quota");
                    self.reply("452 4.2.2 Error: mailbox full");
                    return Ok(Flow::Continue);
                }
                let tx = self.tx.as_mut().expect("transaction checked above");
                for a in accounts {
                    if !tx.accounts.contains(&a.address) {
                        tx.accounts.push(a.address);
                    }
                }
                tx.rcpt_addresses.push(addr);
                self.reply("250 2.1.5 Ok");
            }
        }
        Ok(Flow::Continue)
    }

    async fn data(&mut self) -> std::io::Result<Flow> {
        match &self.tx {
            None => {
                self.reply("503 5.5.1 Error: need MAIL command first");
                return Ok(self.count_error());
            }
            Some(tx) if tx.chunks.is_some() => {
                self.reply("503 5.5.1 Error: DATA cannot follow BDAT in one transaction");
                return Ok(self.count_error());
            }
            Some(tx) if tx.accounts.is_empty() && tx.remote.is_empty() => {
                self.reply("554 5.5.1 Error: no valid recipients");
                return Ok(Flow::Continue);
            }
            Some(_) => {}
        }
        if self.authed.is_some() {
            let gate = self.sending_gate().await;
            if !self.gate_allows(&gate) {
                self.tx = None;
                return Ok(Flow::Continue);
            }
            if let Some(tx) = self.tx.as_mut() {
                tx.gate = Some(gate);
            }
        }
        self.reply("354 End data with <CR><LF>.<CR><LF>");
        self.flush(true).await?;

        let max_size = self.ctx.limits.max_message_size as usize;
        let max_line = self.ctx.limits.max_data_line;
        let idle = self.idle();
        let mut body: Vec<u8> = Vec::with_capacity(16 * 1024);
        let mut line = Vec::with_capacity(1024);
        let mut oversize = false;
        let mut line_too_long = false;
        loop {
            let read =
                tokio::time::timeout(idle, read_line(&mut self.conn, &mut line, max_line)).await;
            let Ok(read) = read else {
                let msg = format!("421 4.4.2 {} Error: timeout exceeded", self.ctx.hostname);
                self.reply(&msg);
                return Ok(Flow::Close);
            };
            let read = read?;
            match read.end {
                LineEnd::Eof => return Ok(Flow::Close),
                LineEnd::BareLf => {
                    // Postfix's smtpd_forbid_bare_newline: a bare LF is how SMTP smuggling hides a
                    // second message in the first. Refuse the message and end the session.
                    tracing::warn!(peer = %self.peer, "bare LF in DATA; message refused");
                    self.reply("521 5.5.2 Error: bare <LF> received; lines must end with <CR><LF>");
                    self.tx = None;
                    return Ok(Flow::Close);
                }
                LineEnd::CrLf => {}
            }
            if read.too_long {
                line_too_long = true;
            }
            if line == b"." {
                break;
            }
            let content = line.strip_prefix(b".").unwrap_or(&line);
            if body.len() + content.len() + 2 > max_size {
                oversize = true;
            }
            if !oversize && !line_too_long {
                body.extend_from_slice(content);
                body.extend_from_slice(b"\r\n");
            }
        }
        if oversize {
            self.tx = None;
            self.reply("552 5.3.4 Error: message size exceeds fixed limit");
            return Ok(Flow::Continue);
        }
        if line_too_long {
            self.tx = None;
            self.reply("500 5.5.2 Error: message has a line longer than this server accepts");
            return Ok(Flow::Continue);
        }
        self.deliver(body).await;
        Ok(Flow::Continue)
    }

    async fn bdat(&mut self, size: u64, last: bool) -> std::io::Result<Flow> {
        let max_size = self.ctx.limits.max_message_size;
        let usable = self
            .tx
            .as_ref()
            .is_some_and(|tx| !tx.accounts.is_empty() || !tx.remote.is_empty());
        // The chunk is on the wire whatever we think of it: read it (bounded) before replying.
        let keep = if usable {
            let tx = self.tx.as_mut().expect("checked");
            let so_far = tx.chunks.as_ref().map_or(0, |c| c.len() as u64);
            let fits = !tx.chunk_overflow && so_far.saturating_add(size) <= max_size;
            if !fits {
                tx.chunk_overflow = true;
            }
            fits
        } else {
            false
        };
        let idle = self.idle();
        let mut chunk = Vec::new();
        let mut remaining = size;
        let mut scratch = [0u8; 16 * 1024];
        while remaining > 0 {
            let want = remaining.min(scratch.len() as u64) as usize;
            let Ok(n) = tokio::time::timeout(idle, self.conn.read(&mut scratch[..want])).await
            else {
                let msg = format!("421 4.4.2 {} Error: timeout exceeded", self.ctx.hostname);
                self.reply(&msg);
                return Ok(Flow::Close);
            };
            let n = n?;
            if n == 0 {
                return Ok(Flow::Close);
            }
            if keep {
                chunk.extend_from_slice(&scratch[..n]);
            }
            remaining -= n as u64;
        }
        if !usable {
            let msg = if self.tx.is_none() {
                "503 5.5.1 Error: need MAIL command first"
            } else {
                "554 5.5.1 Error: no valid recipients"
            };
            self.reply(msg);
            return Ok(self.count_error());
        }
        let tx = self.tx.as_mut().expect("checked");
        if tx.chunk_overflow {
            // Once over the limit the transaction is dead; the chunks that follow are drained.
            if last {
                self.tx = None;
            }
            self.reply("552 5.3.4 Error: message size exceeds fixed limit");
            return Ok(Flow::Continue);
        }
        let body = tx.chunks.get_or_insert_with(Vec::new);
        body.extend_from_slice(&chunk);
        if last {
            let body = tx.chunks.take().unwrap_or_default();
            self.deliver(body).await;
        } else {
            self.reply(&format!("250 2.0.0 {size} octets received"));
        }
        Ok(Flow::Continue)
    }

    /// Stores the message for every accepted recipient; `250` only once it is durable.
    async fn deliver(&mut self, body: Vec<u8>) {
        let Some(tx) = self.tx.take() else { return };
        if let Some(authed) = self.authed.clone() {
            return self.submit(body, tx, authed).await;
        }
        let id = queue_id();
        let header = self.trace_header(&tx, &id);
        let summary = summarize(&body);
        let from = tx.from.as_ref().map(|a| a.to_string()).unwrap_or_default();
        let mut folder = Folder::Inbox;
        let mut verdict = None;
        let mut raw = match self.ctx.scanner.clone() {
            None => body,
            Some(scanner) => {
                let envelope = self.envelope(&tx, Direction::Inbound, None);
                let Some((report, body)) = self.scan_isolated(&scanner, body, envelope, &id).await
                else {
                    return;
                };
                tracing::info!(
                    peer = %self.peer,
                    queue_id = %id,
                    action = %report.action,
                    score = report.score,
                    findings = ?report.findings.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
                    elapsed_ms = report.elapsed_ms,
                    "scanned"
                );
                match report.action {
                    Action::Reject | Action::Hold => {
                        self.reject(&id, &from, &tx.accounts, &report).await;
                        return;
                    }
                    Action::Quarantine => {
                        let mut raw = body;
                        raw.splice(0..0, header.into_bytes());
                        let message = NewMessage {
                            raw: Bytes::from(raw),
                            summary,
                        };
                        self.hold(&id, &from, &tx.accounts, &report, message).await;
                        return;
                    }
                    Action::Junk => folder = Folder::Junk,
                    Action::Accept | Action::Tag => {}
                }
                verdict = Some(verdict_note(&report));
                scanner.apply(&report, &body)
            }
        };
        // Prepend in place: a 50 MB message must not be held twice.
        raw.splice(0..0, header.into_bytes());
        let message = NewMessage {
            raw: Bytes::from(raw),
            summary,
        };
        match self
            .ctx
            .store
            .deliver_journaled(
                message,
                &tx.accounts,
                folder,
                &[],
                rampart_model::Journal::inbound(&from, &tx.rcpt_addresses).with_verdict(verdict),
                "smtp",
            )
            .await
        {
            Ok(stored) => {
                tracing::info!(
                    peer = %self.peer,
                    queue_id = %id,
                    from = %if from.is_empty() { "<>" } else { from.as_str() },
                    recipients = stored.len(),
                    %folder,
                    size = stored.first().map(|m| m.size).unwrap_or(0),
                    "message accepted"
                );
                self.reply(&format!("250 2.0.0 Ok: queued as {id}"));
            }
            Err(e) => {
                tracing::error!(peer = %self.peer, queue_id = %id, error = %e, "could not store message");
                self.reply("451 4.3.0 Error: could not store the message, try again later");
            }
        }
    }

    /// The `Received` header this server adds to a message of `tx`.
    fn trace_header(&self, tx: &Transaction, id: &str) -> String {
        received_header(
            self.helo.as_deref().unwrap_or("unknown"),
            self.peer.ip(),
            &self.ctx.hostname,
            self.esmtp,
            tx.smtputf8,
            self.tls.as_ref(),
            id,
            (tx.rcpt_addresses.len() == 1).then(|| &tx.rcpt_addresses[0]),
            time::OffsetDateTime::now_utc(),
        )
    }

    fn envelope(
        &self,
        tx: &Transaction,
        direction: Direction,
        authed: Option<&Authed>,
    ) -> Envelope {
        Envelope {
            direction,
            peer_ip: Some(self.peer.ip()),
            helo: self.helo.clone().unwrap_or_default(),
            mail_from: tx.from.as_ref().map(|a| a.to_string()).unwrap_or_default(),
            recipients: tx.rcpt_addresses.iter().map(|a| a.to_string()).collect(),
            authenticated: authed.map(|a| a.account.to_string()),
            sender_department: authed.and_then(|a| a.department.clone()),
            sender_level: authed.and_then(|a| a.level.clone()),
        }
    }

    /// Runs the pipeline in its own task: a bug in a check (or a parser it calls) that panics
    /// costs one temporary failure (`451`, already replied when this returns `None`), not the
    /// session or the message. Gives the body back with the report.
    async fn scan_isolated(
        &mut self,
        scanner: &Arc<Scanner>,
        body: Vec<u8>,
        envelope: Envelope,
        id: &str,
    ) -> Option<(ScanReport, Vec<u8>)> {
        let shared = Bytes::from(body);
        let task = {
            let (scanner, shared) = (Arc::clone(scanner), shared.clone());
            tokio::spawn(async move { scanner.scan(&shared, &envelope).await })
        };
        match task.await {
            Ok(report) => Some((report, shared.into())),
            Err(e) => {
                tracing::error!(peer = %self.peer, queue_id = %id, error = %e, "content scan failed");
                self.reply("451 4.3.0 Error: could not scan the message, try again later");
                None
            }
        }
    }

    /// Refuses the message in-session: the sender's server keeps it and bounces, nothing is stored.
    async fn reject(
        &mut self,
        id: &str,
        from: &str,
        accounts: &[EmailAddress],
        report: &ScanReport,
    ) {
        let top: Vec<&str> = {
            let mut f: Vec<_> = report.findings.iter().collect();
            f.sort_by(|a, b| b.score.total_cmp(&a.score));
            f.iter().take(3).map(|f| f.name.as_str()).collect()
        };
        let virus = report.findings.iter().any(|f| f.name == "av.virus");
        let detail = [
            ("queue_id".to_string(), id.to_string()),
            ("from".to_string(), from.to_string()),
            ("peer".to_string(), self.peer.ip().to_string()),
            ("score".to_string(), format!("{:.1}", report.score)),
            ("findings".to_string(), top.join(",")),
        ]
        .into_iter()
        .collect();
        let subject = accounts.first().map(|a| a.as_str());
        let now = self.ctx.store.now();
        if let Err(e) = self
            .ctx
            .store
            .meta()
            .record_event(EventKind::MessageRejected, now, "smtp", subject, detail)
            .await
        {
            tracing::error!(error = %e, "could not record the rejection");
        }
        self.reply(&if virus {
            format!("554 5.7.1 Error: message rejected: virus found ({id})")
        } else {
            format!(
                "550 5.7.1 Error: message rejected by content policy: {} ({id})",
                top.join(", ")
            )
        });
    }

    /// Accepts the message into quarantine: `250`, because it is durably held (an admin decides).
    async fn hold(
        &mut self,
        id: &str,
        from: &str,
        accounts: &[EmailAddress],
        report: &ScanReport,
        message: NewMessage,
    ) {
        let report_json = serde_json::to_string(report).unwrap_or_else(|_| "{}".into());
        match self
            .ctx
            .store
            .quarantine(
                message,
                accounts,
                Direction::Inbound,
                from,
                report.score,
                report_json,
                "smtp",
            )
            .await
        {
            Ok(entry) => {
                tracing::info!(peer = %self.peer, queue_id = %id, quarantine_id = entry.id, "message quarantined");
                self.reply(&format!("250 2.0.0 Ok: queued as {id}"));
            }
            Err(e) => {
                tracing::error!(peer = %self.peer, queue_id = %id, error = %e, "could not quarantine message");
                self.reply("451 4.3.0 Error: could not store the message, try again later");
            }
        }
    }

    async fn starttls(&mut self) -> std::io::Result<Flow> {
        if self.ctx.tls.is_none() {
            self.reply("502 5.5.1 Error: STARTTLS is not available");
            return Ok(Flow::Continue);
        }
        if self.tls.is_some() {
            self.reply("503 5.5.1 Error: TLS already active");
            return Ok(self.count_error());
        }
        if !self.conn.buffer().is_empty() {
            // Commands pipelined behind STARTTLS would cross into the TLS session (CVE-2011-0411
            // style injection). Refuse instead of guessing.
            tracing::warn!(peer = %self.peer, "data pipelined after STARTTLS; closing");
            self.reply("554 5.5.1 Error: command pipelined after STARTTLS");
            return Ok(Flow::Close);
        }
        self.reply("220 2.0.0 Ready to start TLS");
        self.flush(true).await?;
        if !self.upgrade_tls().await? {
            return Ok(Flow::Close);
        }
        // RFC 3207: forget everything learned before TLS, including EHLO.
        self.helo = None;
        self.tx = None;
        Ok(Flow::Continue)
    }

    /// Runs the TLS handshake on the connection; `false` if it failed (the peer is dropped).
    async fn upgrade_tls(&mut self) -> std::io::Result<bool> {
        let Some(acceptor) = self.ctx.tls.clone() else {
            return Ok(false);
        };
        let conn = std::mem::replace(
            &mut self.conn,
            BufReader::new(Box::new(tokio::io::duplex(1).0) as Box<dyn Stream>),
        );
        let stream = conn.into_inner();
        let handshake = tokio::time::timeout(self.idle(), acceptor.accept(stream)).await;
        let tls = match handshake {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::info!(peer = %self.peer, error = %e, "TLS handshake failed");
                return Ok(false);
            }
            Err(_) => return Ok(false),
        };
        let (_, state) = tls.get_ref();
        self.tls = Some(TlsInfo {
            version: state
                .protocol_version()
                .and_then(|v| v.as_str())
                .unwrap_or("TLS")
                .to_string(),
            cipher: state
                .negotiated_cipher_suite()
                .and_then(|s| s.suite().as_str())
                .unwrap_or("unknown")
                .to_string(),
        });
        self.conn = BufReader::with_capacity(16 * 1024, Box::new(tls));
        Ok(true)
    }
}

/// The scan's decision as the delivery event records it: action, score and the findings that
/// scored, so the audit trail shows why mail went to Junk or was tagged.
fn verdict_note(report: &rampart_scan::ScanReport) -> String {
    let mut names: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.score != 0.0)
        .map(|f| f.name.as_str())
        .collect();
    names.truncate(12);
    format!(
        "action={} score={:.1} findings={}",
        report.action,
        report.score,
        names.join(",")
    )
}
