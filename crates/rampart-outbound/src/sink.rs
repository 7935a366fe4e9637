//! A discard SMTP server on `127.0.0.1`, for tests and for `rampart bench delivery`.
//!
//! It speaks enough ESMTP for a delivery client (EHLO/HELO, STARTTLS when given a rustls server
//! configuration, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT; PIPELINING, 8BITMIME,
//! SMTPUTF8, ENHANCEDSTATUSCODES, SIZE when limited), counts what it accepts, keeps the last few
//! messages with their envelopes for assertions, and writes nothing to disk. Replies can be
//! scripted: per recipient (an address containing `reject` gets a 550, `defer` a 451, by
//! default), for MAIL, after DATA, and for the greeting; STARTTLS can be made to break.
//!
//! Pipelined commands are answered in one write once the input buffer is drained; bytes
//! pipelined after STARTTLS are discarded (RFC 3207 §4.2). Lines and kept messages are bounded,
//! and every connection has an idle timeout.
//!
//! ```
//! use rampart_outbound::sink::{Sink, SinkConfig};
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let sink = Sink::start(SinkConfig::default()).await.unwrap();
//! assert!(sink.addr().ip().is_loopback());
//! assert_eq!(sink.received(), 0);
//! sink.shutdown().await;
//! # });
//! ```

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

/// Longest command line, CRLF included.
const MAX_COMMAND_LINE: usize = 4096;
/// Longest data line handled at once (longer lines are processed in pieces).
const MAX_DATA_LINE: usize = 64 * 1024;
/// Recipients per transaction; more get 452.
const MAX_RECIPIENTS: usize = 1000;
/// Largest message kept for [`Sink::messages`]; bigger ones are kept truncated.
const MAX_KEPT_MESSAGE: usize = 4 * 1024 * 1024;
/// Unknown or out-of-sequence commands before the sink hangs up.
const MAX_ERRORS: u32 = 20;

/// How the sink behaves.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Host name in the greeting and EHLO reply.
    pub hostname: String,
    /// Offer STARTTLS with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Replace the `220` greeting (a full reply line without CRLF, e.g. `"421 4.3.2 busy"`). A
    /// non-2xx greeting answers every later command but QUIT with `503`.
    pub greeting: Option<String>,
    /// Recipient replies: the first rule whose text occurs in the address (case-insensitive)
    /// gives the reply line; others get `250 2.1.5`.
    pub rcpt_replies: Vec<(String, String)>,
    /// Replace the reply to MAIL FROM.
    pub mail_reply: Option<String>,
    /// Replace the reply after the message (`250 2.0.0 ...` by default).
    pub data_reply: Option<String>,
    /// Announce `SIZE` with this limit and refuse larger messages with `552`.
    pub max_size: Option<usize>,
    /// Messages (with envelopes) kept for [`Sink::messages`]; 0 keeps none (benchmarks).
    pub keep: usize,
    /// Answer `220` to STARTTLS and then send garbage instead of a TLS handshake.
    pub broken_starttls: bool,
    /// Silence after which a connection is closed.
    pub idle_timeout: Duration,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            hostname: "sink.rampart.test".into(),
            tls: None,
            greeting: None,
            rcpt_replies: vec![
                (
                    "reject".into(),
                    "550 5.1.1 recipient rejected by the sink".into(),
                ),
                (
                    "defer".into(),
                    "451 4.2.0 recipient deferred by the sink".into(),
                ),
            ],
            mail_reply: None,
            data_reply: None,
            max_size: None,
            keep: 100,
            broken_starttls: false,
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// One message the sink accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The EHLO/HELO argument.
    pub helo: String,
    pub mail_from: String,
    /// Accepted recipients only.
    pub recipients: Vec<String>,
    /// The message as the client meant it (dot-unstuffed, without the final dot line).
    pub data: Vec<u8>,
    /// Whether it came over TLS.
    pub tls: bool,
}

struct State {
    config: SinkConfig,
    acceptor: Option<TlsAcceptor>,
    received: AtomicU64,
    connections: AtomicU64,
    bytes: AtomicU64,
    kept: Mutex<VecDeque<ReceivedMessage>>,
}

/// A running sink. Dropping it stops accepting and closes every connection.
pub struct Sink {
    addr: SocketAddr,
    state: Arc<State>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Sink {
    /// Binds `127.0.0.1` on an ephemeral port and starts serving.
    pub async fn start(config: SinkConfig) -> io::Result<Sink> {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            acceptor: config.tls.clone().map(TlsAcceptor::from),
            config,
            received: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            kept: Mutex::new(VecDeque::new()),
        });
        let (stop, mut stopped) = oneshot::channel();
        let serving = state.clone();
        let task = tokio::spawn(async move {
            let mut sessions = JoinSet::new();
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else {
                            // Out of descriptors and the like: back off instead of spinning.
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        };
                        let _ = stream.set_nodelay(true);
                        serving.connections.fetch_add(1, Ordering::Relaxed);
                        sessions.spawn(connection(stream, serving.clone()));
                        while sessions.try_join_next().is_some() {}
                    }
                }
            }
            // Dropping the set aborts the open sessions.
        });
        Ok(Sink {
            addr,
            state,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Where the sink listens (`127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Messages accepted so far (one per successful DATA).
    pub fn received(&self) -> u64 {
        self.state.received.load(Ordering::Relaxed)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::Relaxed)
    }

    /// Message bytes accepted so far.
    pub fn bytes(&self) -> u64 {
        self.state.bytes.load(Ordering::Relaxed)
    }

    /// The last [`SinkConfig::keep`] messages, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        let kept = self.state.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.iter().cloned().collect()
    }

    /// Stops accepting, closes every connection and waits for the listener to go.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn connection(stream: TcpStream, state: Arc<State>) {
    let greeting = state
        .config
        .greeting
        .clone()
        .unwrap_or_else(|| format!("220 {} ESMTP rampart sink", state.config.hostname));
    let mut plain = stream;
    if plain
        .write_all(format!("{greeting}\r\n").as_bytes())
        .await
        .is_err()
    {
        return;
    }
    let in_service = greeting.starts_with('2');
    let upgrade = match session(&mut plain, &state, false, in_service).await {
        Ok(Some(())) => true,
        Ok(None) | Err(_) => false,
    };
    if !upgrade {
        return;
    }
    let Some(acceptor) = state.acceptor.clone() else {
        return;
    };
    let handshake = tokio::time::timeout(state.config.idle_timeout, acceptor.accept(plain)).await;
    let Ok(Ok(mut tls)) = handshake else {
        return;
    };
    let _ = session(&mut tls, &state, true, true).await;
    let _ = tls.shutdown().await;
}

#[derive(Default)]
struct Transaction {
    helo: String,
    mail_from: Option<String>,
    recipients: Vec<String>,
}

/// Serves commands until QUIT, EOF or STARTTLS; `Ok(Some(()))` asks for the TLS upgrade.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    state: &State,
    tls_active: bool,
    in_service: bool,
) -> io::Result<Option<()>> {
    let config = &state.config;
    let mut reader = BufReader::with_capacity(16 * 1024, stream);
    let mut line = Vec::with_capacity(256);
    let mut out: Vec<u8> = Vec::with_capacity(1024);
    let mut tx = Transaction::default();
    let mut errors = 0u32;

    loop {
        line.clear();
        let complete = match read_line(&mut reader, &mut line, MAX_COMMAND_LINE, config).await? {
            None => return Ok(None),
            Some(complete) => complete,
        };
        if !complete {
            // Discard the rest of an overlong line, then complain once.
            loop {
                line.clear();
                match read_line(&mut reader, &mut line, MAX_COMMAND_LINE, config).await? {
                    None => return Ok(None),
                    Some(true) => break,
                    Some(false) => {}
                }
            }
            out.extend_from_slice(b"500 5.5.2 line too long\r\n");
            errors += 1;
        } else {
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\r', '\n']);
            let (verb, arg) = match text.split_once(' ') {
                Some((verb, arg)) => (verb.to_ascii_uppercase(), arg.trim()),
                None => (text.to_ascii_uppercase(), ""),
            };
            if !in_service && verb != "QUIT" {
                out.extend_from_slice(b"503 5.5.1 no service\r\n");
                errors += 1;
            } else {
                match verb.as_str() {
                    "EHLO" => {
                        tx = Transaction {
                            helo: arg.to_string(),
                            ..Transaction::default()
                        };
                        out.extend_from_slice(format!("250-{}\r\n", config.hostname).as_bytes());
                        if let Some(limit) = config.max_size {
                            out.extend_from_slice(format!("250-SIZE {limit}\r\n").as_bytes());
                        }
                        if state.acceptor.is_some() && !tls_active {
                            out.extend_from_slice(b"250-STARTTLS\r\n");
                        }
                        out.extend_from_slice(
                            b"250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES\r\n",
                        );
                    }
                    "HELO" => {
                        tx = Transaction {
                            helo: arg.to_string(),
                            ..Transaction::default()
                        };
                        out.extend_from_slice(format!("250 {}\r\n", config.hostname).as_bytes());
                    }
                    "STARTTLS" if state.acceptor.is_some() && !tls_active => {
                        let stream = reader.into_inner();
                        stream.write_all(&out).await?;
                        stream
                            .write_all(b"220 2.0.0 ready to start TLS\r\n")
                            .await?;
                        stream.flush().await?;
                        if config.broken_starttls {
                            stream.write_all(b"this is not a TLS handshake\r\n").await?;
                            stream.flush().await?;
                            return Ok(None);
                        }
                        // Anything pipelined after STARTTLS was in the reader's buffer and is
                        // gone with it.
                        return Ok(Some(()));
                    }
                    "MAIL" => {
                        if tx.mail_from.is_some() {
                            out.extend_from_slice(b"503 5.5.1 nested MAIL command\r\n");
                            errors += 1;
                        } else if let Some(path) = path_after(arg, "FROM:") {
                            let reply = config
                                .mail_reply
                                .clone()
                                .unwrap_or_else(|| "250 2.1.0 sender ok".into());
                            if reply.starts_with('2') {
                                tx.mail_from = Some(path);
                            }
                            out.extend_from_slice(reply.as_bytes());
                            out.extend_from_slice(b"\r\n");
                        } else {
                            out.extend_from_slice(b"501 5.5.4 syntax: MAIL FROM:<address>\r\n");
                            errors += 1;
                        }
                    }
                    "RCPT" => {
                        if tx.mail_from.is_none() {
                            out.extend_from_slice(b"503 5.5.1 need MAIL first\r\n");
                            errors += 1;
                        } else if let Some(path) = path_after(arg, "TO:").filter(|p| !p.is_empty())
                        {
                            let lower = path.to_lowercase();
                            let reply = config
                                .rcpt_replies
                                .iter()
                                .find(|(needle, _)| lower.contains(&needle.to_lowercase()))
                                .map(|(_, reply)| reply.clone());
                            let reply = match reply {
                                Some(reply) => reply,
                                None if tx.recipients.len() >= MAX_RECIPIENTS => {
                                    "452 4.5.3 too many recipients".into()
                                }
                                None => "250 2.1.5 recipient ok".into(),
                            };
                            if reply.starts_with('2') {
                                tx.recipients.push(path);
                            }
                            out.extend_from_slice(reply.as_bytes());
                            out.extend_from_slice(b"\r\n");
                        } else {
                            out.extend_from_slice(b"501 5.5.4 syntax: RCPT TO:<address>\r\n");
                            errors += 1;
                        }
                    }
                    "DATA" => {
                        if tx.mail_from.is_none() || tx.recipients.is_empty() {
                            out.extend_from_slice(b"503 5.5.1 no valid recipients\r\n");
                            errors += 1;
                        } else {
                            out.extend_from_slice(b"354 end data with <CR><LF>.<CR><LF>\r\n");
                            let stream = reader.get_mut();
                            stream.write_all(&out).await?;
                            stream.flush().await?;
                            out.clear();
                            let reply =
                                receive_data(&mut reader, state, &mut tx, tls_active).await?;
                            let Some(reply) = reply else {
                                return Ok(None);
                            };
                            out.extend_from_slice(reply.as_bytes());
                            out.extend_from_slice(b"\r\n");
                            tx.mail_from = None;
                            tx.recipients.clear();
                        }
                    }
                    "RSET" => {
                        tx.mail_from = None;
                        tx.recipients.clear();
                        out.extend_from_slice(b"250 2.0.0 reset\r\n");
                    }
                    "NOOP" => out.extend_from_slice(b"250 2.0.0 ok\r\n"),
                    "VRFY" => out.extend_from_slice(b"252 2.5.0 cannot verify\r\n"),
                    "QUIT" => {
                        let stream = reader.get_mut();
                        stream.write_all(&out).await?;
                        stream.write_all(b"221 2.0.0 bye\r\n").await?;
                        stream.flush().await?;
                        return Ok(None);
                    }
                    _ => {
                        out.extend_from_slice(b"500 5.5.2 command not recognised\r\n");
                        errors += 1;
                    }
                }
            }
        }
        if errors >= MAX_ERRORS {
            out.extend_from_slice(b"421 4.7.0 too many errors\r\n");
            let stream = reader.get_mut();
            stream.write_all(&out).await?;
            stream.flush().await?;
            return Ok(None);
        }
        // Answer pipelined commands together, once nothing more is waiting.
        if reader.buffer().is_empty() && !out.is_empty() {
            let stream = reader.get_mut();
            stream.write_all(&out).await?;
            stream.flush().await?;
            out.clear();
        }
    }
}

/// Reads the message after `354`; returns the final reply, or `None` at EOF.
async fn receive_data<S: AsyncRead + AsyncWrite + Unpin>(
    reader: &mut BufReader<&mut S>,
    state: &State,
    tx: &mut Transaction,
    tls_active: bool,
) -> io::Result<Option<String>> {
    let config = &state.config;
    let keep = config.keep > 0;
    let mut data = Vec::new();
    let mut size = 0usize;
    let mut line = Vec::with_capacity(1024);
    let mut line_start = true;
    loop {
        line.clear();
        let Some(complete) = read_line(reader, &mut line, MAX_DATA_LINE, config).await? else {
            return Ok(None);
        };
        let mut piece = line.as_slice();
        if line_start {
            if piece == b".\r\n" || piece == b".\n" {
                break;
            }
            if piece.first() == Some(&b'.') {
                piece = &piece[1..];
            }
        }
        line_start = complete;
        size += piece.len();
        if keep && data.len() + piece.len() <= MAX_KEPT_MESSAGE {
            data.extend_from_slice(piece);
        }
    }
    if let Some(limit) = config.max_size {
        if size > limit {
            return Ok(Some(format!(
                "552 5.3.4 message of {size} bytes exceeds the limit of {limit}"
            )));
        }
    }
    let reply = config.data_reply.clone().unwrap_or_else(|| {
        format!(
            "250 2.0.0 queued as {}",
            state.received.load(Ordering::Relaxed) + 1
        )
    });
    if reply.starts_with('2') {
        state.received.fetch_add(1, Ordering::Relaxed);
        state.bytes.fetch_add(size as u64, Ordering::Relaxed);
        if keep {
            let mut kept = state.kept.lock().unwrap_or_else(|e| e.into_inner());
            while kept.len() >= config.keep {
                kept.pop_front();
            }
            kept.push_back(ReceivedMessage {
                helo: tx.helo.clone(),
                mail_from: tx.mail_from.clone().unwrap_or_default(),
                recipients: tx.recipients.clone(),
                data,
                tls: tls_active,
            });
        }
    }
    Ok(Some(reply))
}

/// Appends one line (through LF) or `max` bytes of it to `out`. `Some(true)`: a whole line;
/// `Some(false)`: `max` bytes of a longer one; `None`: end of input (or idle timeout).
async fn read_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    out: &mut Vec<u8>,
    max: usize,
    config: &SinkConfig,
) -> io::Result<Option<bool>> {
    loop {
        let available = match tokio::time::timeout(config.idle_timeout, reader.fill_buf()).await {
            Err(_) => return Ok(None),
            Ok(result) => result?,
        };
        if available.is_empty() {
            return Ok(None);
        }
        let room = max.saturating_sub(out.len());
        if room == 0 {
            return Ok(Some(false));
        }
        let window = &available[..available.len().min(room)];
        if let Some(end) = window.iter().position(|&b| b == b'\n') {
            out.extend_from_slice(&window[..=end]);
            reader.consume(end + 1);
            return Ok(Some(true));
        }
        let taken = window.len();
        out.extend_from_slice(window);
        reader.consume(taken);
        if out.len() >= max {
            return Ok(Some(false));
        }
    }
}

/// The address in `FROM:<a@b> PARAMS` (case-insensitive keyword, optional space).
fn path_after(arg: &str, keyword: &str) -> Option<String> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    Some(rest[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_paths() {
        assert_eq!(
            path_after("FROM:<a@b> SIZE=10", "FROM:"),
            Some("a@b".into())
        );
        assert_eq!(path_after("from: <>", "FROM:"), Some(String::new()));
        assert_eq!(path_after("TO:a@b", "TO:"), None);
        assert_eq!(path_after("T", "TO:"), None);
    }
}
