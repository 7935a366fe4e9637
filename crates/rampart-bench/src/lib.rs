//! Load generators that measure mail servers, Rampart or any other.
//!
//! [`run_smtp`] opens K connections to an SMTP server and pushes N messages of a given size
//! through them (using PIPELINING when offered), timing each message from `MAIL FROM` to the
//! server's final reply. It speaks plain SMTP, so Postfix or Stalwart can be measured the same way.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rampart_bench::BenchError> {
//! let args = rampart_bench::SmtpBenchArgs {
//!     target: "127.0.0.1:2525".into(),
//!     messages: 1000,
//!     connections: 16,
//!     size: 10 * 1024,
//!     from: "bench@client.test".into(),
//!     to: vec!["user@example.com".into()],
//!     helo: "bench.client.test".into(),
//! };
//! let report = rampart_bench::run_smtp(&args, false).await?;
//! println!("{report}");
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Debug, Clone, clap::Args)]
pub struct SmtpBenchArgs {
    /// Server to load, HOST:PORT.
    #[arg(long)]
    pub target: String,
    /// Messages to send in total.
    #[arg(long, default_value_t = 10_000)]
    pub messages: u64,
    /// Concurrent SMTP connections.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Size of each message in bytes (headers included).
    #[arg(long, default_value_t = 10 * 1024)]
    pub size: usize,
    /// Envelope sender.
    #[arg(long, default_value = "bench@bench.rampart.test")]
    pub from: String,
    /// Envelope recipient(s); messages rotate through them. Must be accepted by the server.
    #[arg(long, required = true)]
    pub to: Vec<String>,
    /// Name sent with EHLO.
    #[arg(long, default_value = "bench.rampart.test")]
    pub helo: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("invalid arguments: {0}")]
    Args(String),
    #[error("cannot connect to {0}: {1}")]
    Connect(String, std::io::Error),
}

/// What a run measured. Latencies are per message, from `MAIL FROM` to the final reply.
#[derive(Debug, Clone, Serialize)]
pub struct SmtpBenchReport {
    pub target: String,
    pub connections: usize,
    pub message_size: usize,
    pub delivered: u64,
    pub failed: u64,
    pub elapsed_secs: f64,
    pub messages_per_sec: f64,
    pub megabytes_per_sec: f64,
    pub latency_ms_p50: f64,
    pub latency_ms_p90: f64,
    pub latency_ms_p99: f64,
    pub latency_ms_max: f64,
    pub first_error: Option<String>,
}

impl fmt::Display for SmtpBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "target {}  connections {}  message size {} B",
            self.target, self.connections, self.message_size
        )?;
        writeln!(
            f,
            "delivered {}  failed {}  in {:.2} s",
            self.delivered, self.failed, self.elapsed_secs
        )?;
        writeln!(
            f,
            "throughput {:.0} msgs/s ({:.1} MB/s)",
            self.messages_per_sec, self.megabytes_per_sec
        )?;
        writeln!(
            f,
            "latency p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            self.latency_ms_p50, self.latency_ms_p90, self.latency_ms_p99, self.latency_ms_max
        )?;
        if let Some(e) = &self.first_error {
            writeln!(f, "first error: {e}")?;
        }
        Ok(())
    }
}

/// A message of exactly `size` bytes (or the header size, if larger), dot-safe on the wire.
pub fn make_message(size: usize, from: &str, to: &str, seq: u64) -> Vec<u8> {
    let mut m = format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: rampart bench message {seq}\r\n\
Message-ID: <bench-{seq}-{}@bench.rampart.test>\r\nDate: Fri, 27 Nov 2026 12:00:00 +0000\r\n\
MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n",
        std::process::id()
    )
    .into_bytes();
    const LINE: &[u8] =
        b"The quick brown fox jumps over the lazy dog while the bench measures mail.";
    while m.len() + LINE.len() + 2 <= size {
        m.extend_from_slice(LINE);
        m.extend_from_slice(b"\r\n");
    }
    while m.len() + 2 < size {
        m.push(b'x');
    }
    if m.len() < size {
        m.extend_from_slice(b"\r\n");
    }
    m
}

struct Shared {
    next: AtomicU64,
    total: u64,
    latencies: Mutex<Vec<Duration>>,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
    progress: Option<indicatif::ProgressBar>,
}

impl Shared {
    fn fail(&self, why: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
        first.get_or_insert(why);
        if let Some(p) = &self.progress {
            p.inc(1);
        }
    }
}

type Conn = BufReader<TcpStream>;

async fn read_reply(conn: &mut Conn) -> std::io::Result<(u16, String)> {
    let mut text = String::new();
    loop {
        let mut line = String::new();
        if conn.read_line(&mut line).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            ));
        }
        let code = line
            .get(..3)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("bad reply {line:?}"),
                )
            })?;
        text.push_str(line.trim_end());
        text.push('\n');
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok((code, text));
        }
    }
}

async fn expect(conn: &mut Conn, class: u16, what: &str) -> Result<(), String> {
    match read_reply(conn).await {
        Ok((code, _)) if code / 100 == class => Ok(()),
        Ok((_, text)) => Err(format!("{what}: {}", text.trim_end())),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

async fn worker(args: Arc<SmtpBenchArgs>, shared: Arc<Shared>) {
    let mut conn: Option<(Conn, bool)> = None;
    loop {
        let seq = shared.next.fetch_add(1, Ordering::Relaxed);
        if seq >= shared.total {
            break;
        }
        if conn.is_none() {
            match open(&args).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    shared.fail(e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            }
        }
        let (c, pipelining) = conn.as_mut().expect("connected above");
        let to = &args.to[(seq as usize) % args.to.len()];
        let body = make_message(args.size, &args.from, to, seq);
        let started = Instant::now();
        match send_one(c, *pipelining, &args.from, to, &body).await {
            Ok(()) => {
                shared
                    .latencies
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(started.elapsed());
                if let Some(p) = &shared.progress {
                    p.inc(1);
                }
            }
            Err(e) => {
                shared.fail(e);
                conn = None;
            }
        }
    }
    if let Some((mut c, _)) = conn {
        let _ = c.get_mut().write_all(b"QUIT\r\n").await;
        let _ = read_reply(&mut c).await;
    }
}

async fn open(args: &SmtpBenchArgs) -> Result<(Conn, bool), String> {
    let stream = TcpStream::connect(&args.target)
        .await
        .map_err(|e| format!("connect {}: {e}", args.target))?;
    let _ = stream.set_nodelay(true);
    let mut conn = BufReader::new(stream);
    expect(&mut conn, 2, "greeting").await?;
    conn.get_mut()
        .write_all(format!("EHLO {}\r\n", args.helo).as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let (code, text) = read_reply(&mut conn).await.map_err(|e| e.to_string())?;
    if code != 250 {
        return Err(format!("EHLO: {}", text.trim_end()));
    }
    let pipelining = text.lines().any(|l| {
        l.get(4..)
            .is_some_and(|k| k.eq_ignore_ascii_case("PIPELINING"))
    });
    Ok((conn, pipelining))
}

async fn send_one(
    conn: &mut Conn,
    pipelining: bool,
    from: &str,
    to: &str,
    body: &[u8],
) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    let envelope = [
        format!("MAIL FROM:<{from}>\r\n"),
        format!("RCPT TO:<{to}>\r\n"),
        "DATA\r\n".to_string(),
    ];
    if pipelining {
        conn.get_mut()
            .write_all(envelope.concat().as_bytes())
            .await
            .map_err(io)?;
        let mail = expect(conn, 2, "MAIL").await;
        let rcpt = expect(conn, 2, "RCPT").await;
        let data = expect(conn, 3, "DATA").await;
        if let Err(e) = mail.and(rcpt).and(data.clone()) {
            if data.is_ok() {
                // The server said 354 although MAIL/RCPT failed: abort the empty transaction.
                conn.get_mut().write_all(b".\r\n").await.map_err(io)?;
                let _ = read_reply(conn).await;
            }
            conn.get_mut().write_all(b"RSET\r\n").await.map_err(io)?;
            let _ = read_reply(conn).await;
            return Err(e);
        }
    } else {
        for (cmd, class) in envelope.iter().zip([2, 2, 3]) {
            conn.get_mut().write_all(cmd.as_bytes()).await.map_err(io)?;
            expect(conn, class, cmd.trim_end()).await?;
        }
    }
    let mut wire = Vec::with_capacity(body.len() + 8);
    for line in body.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            wire.push(b'.');
        }
        wire.extend_from_slice(line);
    }
    wire.extend_from_slice(b".\r\n");
    conn.get_mut().write_all(&wire).await.map_err(io)?;
    expect(conn, 2, "end of DATA").await
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// Runs the load and reports; `progress` draws a progress bar on stderr.
pub async fn run_smtp(args: &SmtpBenchArgs, progress: bool) -> Result<SmtpBenchReport, BenchError> {
    if args.connections == 0 || args.messages == 0 {
        return Err(BenchError::Args(
            "--connections and --messages must be at least 1".into(),
        ));
    }
    if args.to.is_empty() {
        return Err(BenchError::Args("give at least one --to recipient".into()));
    }
    // Fail fast with a clear error when nothing listens there.
    TcpStream::connect(&args.target)
        .await
        .map_err(|e| BenchError::Connect(args.target.clone(), e))?;
    let bar = progress.then(|| {
        let bar = indicatif::ProgressBar::new(args.messages);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {pos}/{len} messages ({per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar
    });
    let shared = Arc::new(Shared {
        next: AtomicU64::new(0),
        total: args.messages,
        latencies: Mutex::new(Vec::with_capacity(args.messages as usize)),
        failed: AtomicU64::new(0),
        first_error: Mutex::new(None),
        progress: bar.clone(),
    });
    let started = Instant::now();
    let args_arc = Arc::new(args.clone());
    let workers: Vec<_> = (0..args.connections)
        .map(|_| tokio::spawn(worker(Arc::clone(&args_arc), Arc::clone(&shared))))
        .collect();
    for w in workers {
        let _ = w.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut lat = std::mem::take(&mut *shared.latencies.lock().unwrap_or_else(|p| p.into_inner()));
    lat.sort_unstable();
    let delivered = lat.len() as u64;
    let first_error = shared
        .first_error
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Ok(SmtpBenchReport {
        target: args.target.clone(),
        connections: args.connections,
        message_size: args.size,
        delivered,
        failed: shared.failed.load(Ordering::Relaxed),
        elapsed_secs: elapsed,
        messages_per_sec: delivered as f64 / elapsed.max(1e-9),
        megabytes_per_sec: (delivered as f64 * args.size as f64) / 1e6 / elapsed.max(1e-9),
        latency_ms_p50: percentile(&lat, 50.0),
        latency_ms_p90: percentile(&lat, 90.0),
        latency_ms_p99: percentile(&lat, 99.0),
        latency_ms_max: lat.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        first_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_messages_have_the_requested_size() {
        for size in [300, 1000, 10 * 1024, 100 * 1024] {
            let m = make_message(size, "a@b.c", "d@e.f", 7);
            assert_eq!(m.len(), size);
            assert!(m.ends_with(b"\r\n"));
        }
    }
}
