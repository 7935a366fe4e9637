//! The clamd client: `zPING`, `zVERSION` and `zINSTREAM` over a Unix socket or TCP, one connection
//! per command (clamd closes it after each reply outside `IDSESSION`).
//!
//! `zINSTREAM` framing: the command `zINSTREAM\0`, then chunks, each a 4-byte big-endian length and
//! that many bytes, then a zero length. clamd answers `stream: OK`, `stream: <name> FOUND` (several
//! of them with `AllMatchScan`), `INSTREAM size limit exceeded. ERROR` once the stream passes its
//! `StreamMaxLength` (and then closes without reading the rest), or `<reason> ERROR`.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::time::{timeout, timeout_at, Instant};

use crate::{ClamdVersion, ScanOutcome};

/// clamd's default `StreamMaxLength` (25M, in clamd's binary megabytes).
pub const DEFAULT_STREAM_MAX_LENGTH: u64 = 25 * 1024 * 1024;

/// Bytes per `INSTREAM` chunk.
const CHUNK: usize = 64 * 1024;

/// clamd's replies are a line or a few; anything longer is not clamd.
const MAX_REPLY: usize = 64 * 1024;

/// Where clamd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClamdAddr {
    /// `LocalSocket` in clamd.conf.
    Unix(PathBuf),
    /// `TCPAddr:TCPSocket`, as `host:port` (`127.0.0.1:3310`, `[::1]:3310`, `av.internal:3310`).
    Tcp(String),
}

impl fmt::Display for ClamdAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClamdAddr::Unix(path) => write!(f, "unix:{}", path.display()),
            ClamdAddr::Tcp(host_port) => write!(f, "tcp:{host_port}"),
        }
    }
}

/// Limits for every exchange with clamd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClamdOptions {
    /// Bound on establishing the connection.
    pub connect_timeout: Duration,
    /// Bound on everything after connecting, for one command: sending the command and the stream,
    /// and receiving the whole reply.
    pub scan_timeout: Duration,
    /// Largest buffer sent to clamd; a bigger one is [`ScanOutcome::TooLarge`] without contacting
    /// clamd. Keep it at or below clamd's `StreamMaxLength` (clamd refuses longer streams, which
    /// also ends in `TooLarge`, but only after the bytes up to its limit were sent).
    pub max_stream_size: u64,
}

impl Default for ClamdOptions {
    fn default() -> Self {
        ClamdOptions {
            connect_timeout: Duration::from_secs(2),
            scan_timeout: Duration::from_secs(60),
            max_stream_size: DEFAULT_STREAM_MAX_LENGTH,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClamdError {
    #[error("cannot connect to clamd at {addr}: {source}")]
    Connect {
        addr: ClamdAddr,
        #[source]
        source: io::Error,
    },
    #[error("clamd at {addr} did not answer within {after:?} ({step})")]
    Timeout {
        addr: ClamdAddr,
        step: &'static str,
        after: Duration,
    },
    #[error("talking to clamd at {addr}: {source}")]
    Io {
        addr: ClamdAddr,
        #[source]
        source: io::Error,
    },
    #[error("clamd closed the connection without a reply")]
    NoReply,
    #[error("unexpected reply from clamd: {0:?}")]
    UnexpectedReply(String),
}

trait Connection: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Connection for T {}

/// A clamd client. Cheap to clone; holds no connection between calls.
#[derive(Debug, Clone)]
pub struct ClamdClient {
    addr: ClamdAddr,
    options: ClamdOptions,
}

impl ClamdClient {
    pub fn new(addr: ClamdAddr, options: ClamdOptions) -> ClamdClient {
        ClamdClient { addr, options }
    }

    pub fn addr(&self) -> &ClamdAddr {
        &self.addr
    }

    pub fn options(&self) -> &ClamdOptions {
        &self.options
    }

    /// `zPING`: Ok when clamd answers `PONG`.
    pub async fn ping(&self) -> Result<(), ClamdError> {
        let reply = self.command(b"zPING\0").await?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(ClamdError::UnexpectedReply(reply))
        }
    }

    /// `zVERSION`: engine and signature database versions.
    pub async fn version(&self) -> Result<ClamdVersion, ClamdError> {
        ClamdVersion::parse(&self.command(b"zVERSION\0").await?)
    }

    /// Scans `bytes` with `zINSTREAM`. Never fails: a clamd that cannot be reached, times out or
    /// errors is [`ScanOutcome::Error`], for the policy to fail open or closed on.
    pub async fn scan(&self, bytes: &[u8]) -> ScanOutcome {
        if u64::try_from(bytes.len()).map_or(true, |len| len > self.options.max_stream_size) {
            return ScanOutcome::TooLarge;
        }
        match self.instream(bytes).await {
            Ok(reply) => parse_scan_reply(&reply),
            Err(e) => ScanOutcome::Error(e.to_string()),
        }
    }

    async fn connect(&self) -> Result<Box<dyn Connection>, ClamdError> {
        let connecting = async {
            Ok::<Box<dyn Connection>, io::Error>(match &self.addr {
                ClamdAddr::Unix(path) => Box::new(UnixStream::connect(path).await?),
                ClamdAddr::Tcp(host_port) => {
                    let stream = TcpStream::connect(host_port.as_str()).await?;
                    // Small command writes and the terminator must not wait for Nagle.
                    stream.set_nodelay(true)?;
                    Box::new(stream)
                }
            })
        };
        match timeout(self.options.connect_timeout, connecting).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(source)) => Err(ClamdError::Connect {
                addr: self.addr.clone(),
                source,
            }),
            Err(_) => Err(self.timed_out("connecting", self.options.connect_timeout)),
        }
    }

    /// Sends a short command and reads one NUL-terminated reply.
    async fn command(&self, command: &[u8]) -> Result<String, ClamdError> {
        let mut conn = self.connect().await?;
        let exchange = async {
            conn.write_all(command).await?;
            conn.flush().await?;
            read_reply(&mut conn, true).await
        };
        match timeout(self.options.scan_timeout, exchange).await {
            Ok(Ok(reply)) => reply_text(reply),
            Ok(Err(source)) => Err(self.io_error(source)),
            Err(_) => Err(self.timed_out("waiting for the reply", self.options.scan_timeout)),
        }
    }

    /// Streams `bytes` and returns clamd's reply. Reads while writing: clamd answers and stops
    /// reading as soon as the stream passes `StreamMaxLength`, and that reply must win over the
    /// broken pipe that the rest of the stream then meets.
    async fn instream(&self, bytes: &[u8]) -> Result<String, ClamdError> {
        let conn = self.connect().await?;
        let deadline = Instant::now() + self.options.scan_timeout;
        let (mut reader, mut writer) = tokio::io::split(conn);
        let send = async {
            writer.write_all(b"zINSTREAM\0").await?;
            for chunk in bytes.chunks(CHUNK) {
                // CHUNK fits in u32, so the cast cannot truncate.
                writer
                    .write_all(&(chunk.len() as u32).to_be_bytes())
                    .await?;
                writer.write_all(chunk).await?;
            }
            writer.write_all(&0u32.to_be_bytes()).await?;
            writer.flush().await
        };
        let receive = read_reply(&mut reader, false);
        tokio::pin!(send, receive);
        let mut send_error = None;
        let mut sent = false;
        let exchange = async {
            loop {
                tokio::select! {
                    result = &mut send, if !sent => {
                        sent = true;
                        if let Err(e) = result {
                            send_error = Some(e);
                        }
                    }
                    reply = &mut receive => return reply,
                }
            }
        };
        let reply = match timeout_at(deadline, exchange).await {
            Ok(reply) => reply,
            Err(_) => {
                let step = if sent {
                    "waiting for the scan result"
                } else {
                    "sending the stream"
                };
                return Err(self.timed_out(step, self.options.scan_timeout));
            }
        };
        match (reply, send_error) {
            (Ok(reply), _) if !reply.is_empty() => reply_text(reply),
            // No reply: the send error (broken pipe, reset) is the better explanation.
            (_, Some(source)) => Err(self.io_error(source)),
            (Ok(_), None) => Err(ClamdError::NoReply),
            (Err(source), None) => Err(self.io_error(source)),
        }
    }

    fn timed_out(&self, step: &'static str, after: Duration) -> ClamdError {
        ClamdError::Timeout {
            addr: self.addr.clone(),
            step,
            after,
        }
    }

    fn io_error(&self, source: io::Error) -> ClamdError {
        ClamdError::Io {
            addr: self.addr.clone(),
            source,
        }
    }
}

/// Reads up to [`MAX_REPLY`] bytes: until the first NUL if `first_only`, else until clamd closes.
async fn read_reply<R: AsyncRead + Unpin>(reader: &mut R, first_only: bool) -> io::Result<Vec<u8>> {
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return Ok(reply);
        }
        reply.extend_from_slice(&buf[..n]);
        if first_only && reply.contains(&0) {
            return Ok(reply);
        }
        if reply.len() > MAX_REPLY {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "reply longer than 64 KiB",
            ));
        }
    }
}

/// The reply without its terminator (a NUL for `z` commands; a newline is accepted too), and with
/// any further lines kept for [`parse_scan_reply`].
fn reply_text(reply: Vec<u8>) -> Result<String, ClamdError> {
    if reply.is_empty() {
        return Err(ClamdError::NoReply);
    }
    let text = String::from_utf8_lossy(&reply);
    Ok(text
        .trim_end_matches(['\0', '\n', '\r'])
        .trim_start()
        .to_string())
}

/// Reads one `zINSTREAM` reply, which may hold several NUL- or newline-separated lines.
fn parse_scan_reply(reply: &str) -> ScanOutcome {
    let mut found = Vec::new();
    let mut clean = false;
    for line in reply
        .split(['\0', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        if line.starts_with("INSTREAM size limit exceeded") {
            return ScanOutcome::TooLarge;
        }
        // Replies name the scanned object first; for INSTREAM it is "stream:". Signature names
        // contain no ": ", so the last one ends the prefix.
        let status = line.rsplit_once(": ").map_or(line, |(_, status)| status);
        if let Some(name) = status.strip_suffix(" FOUND") {
            found.push(name.trim().to_string());
        } else if status == "OK" {
            clean = true;
        } else if status.ends_with("ERROR") {
            return ScanOutcome::Error(format!("clamd: {line}"));
        } else {
            return ScanOutcome::Error(format!("unexpected reply from clamd: {line:?}"));
        }
    }
    match (found.is_empty(), clean) {
        (false, _) => ScanOutcome::Infected(found),
        (true, true) => ScanOutcome::Clean,
        (true, false) => ScanOutcome::Error("clamd sent an empty reply".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_reply_is_clean() {
        assert_eq!(parse_scan_reply("stream: OK"), ScanOutcome::Clean);
    }

    #[test]
    fn found_reply_carries_the_signature_name() {
        assert_eq!(
            parse_scan_reply("stream: Win.Test.EICAR_HDB-1 FOUND"),
            ScanOutcome::Infected(vec!["Win.Test.EICAR_HDB-1".into()])
        );
    }

    #[test]
    fn all_match_reply_lists_every_signature() {
        assert_eq!(
            parse_scan_reply("stream: A.Sig FOUND\0stream: B.Sig.UNOFFICIAL FOUND\0"),
            ScanOutcome::Infected(vec!["A.Sig".into(), "B.Sig.UNOFFICIAL".into()])
        );
    }

    #[test]
    fn size_limit_reply_is_too_large_not_an_error() {
        assert_eq!(
            parse_scan_reply("INSTREAM size limit exceeded. ERROR"),
            ScanOutcome::TooLarge
        );
    }

    #[test]
    fn error_replies_are_scan_errors_with_clamds_words() {
        assert_eq!(
            parse_scan_reply("stream: Can't allocate memory ERROR"),
            ScanOutcome::Error("clamd: stream: Can't allocate memory ERROR".into())
        );
        assert_eq!(
            parse_scan_reply("COMMAND READ TIMED OUT ERROR"),
            ScanOutcome::Error("clamd: COMMAND READ TIMED OUT ERROR".into())
        );
    }

    #[test]
    fn unknown_or_empty_replies_are_errors() {
        assert!(matches!(
            parse_scan_reply("UNKNOWN COMMAND"),
            ScanOutcome::Error(_)
        ));
        assert!(matches!(parse_scan_reply("\0\n"), ScanOutcome::Error(_)));
    }

    #[test]
    fn reply_text_drops_the_terminator() {
        assert_eq!(reply_text(b"PONG\0".to_vec()).unwrap(), "PONG");
        assert_eq!(reply_text(b"PONG\n".to_vec()).unwrap(), "PONG");
        assert!(matches!(reply_text(Vec::new()), Err(ClamdError::NoReply)));
    }

    #[test]
    fn addresses_display_with_their_transport() {
        assert_eq!(
            ClamdAddr::Unix("/run/clamav/clamd.ctl".into()).to_string(),
            "unix:/run/clamav/clamd.ctl"
        );
        assert_eq!(
            ClamdAddr::Tcp("127.0.0.1:3310".into()).to_string(),
            "tcp:127.0.0.1:3310"
        );
    }

    #[test]
    fn default_stream_limit_matches_clamds_default() {
        assert_eq!(ClamdOptions::default().max_stream_size, 26_214_400);
    }

    #[tokio::test]
    async fn oversized_buffer_is_too_large_without_contacting_clamd() {
        // Nothing listens at this address: TooLarge proves the size check comes first.
        let client = ClamdClient::new(
            ClamdAddr::Unix("/nonexistent/rampart-av/clamd.sock".into()),
            ClamdOptions {
                max_stream_size: 16,
                ..ClamdOptions::default()
            },
        );
        assert_eq!(client.scan(&[0u8; 17]).await, ScanOutcome::TooLarge);
        assert!(matches!(
            client.scan(&[0u8; 16]).await,
            ScanOutcome::Error(_)
        ));
    }
}
