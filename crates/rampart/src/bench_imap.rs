//! `rampart bench imap`: many concurrent IMAP sessions against a real `rampart serve` started
//! for the purpose on a scratch data directory (127.0.0.1 only). Each session signs in (an app
//! password: the argon2 cost of a password login is measured by `bench login`), selects INBOX
//! and fetches 100 message headers, then idles; the server's resident memory before and with
//! every session idling gives the memory per idle session.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use rampart_model::{EmailAddress, Folder, NewAccount, Protocol, SystemClock};
use rampart_store::{Mailstore, NewMessage};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::Cli;

#[derive(Args)]
pub struct BenchImapArgs {
    /// Concurrent sessions.
    #[arg(long, default_value_t = 200)]
    sessions: usize,
    /// Accounts the sessions are spread over.
    #[arg(long, default_value_t = 20)]
    accounts: usize,
    /// Messages in each INBOX (each session fetches the headers of the first 100).
    #[arg(long, default_value_t = 150)]
    messages: usize,
}

#[derive(Debug, Serialize)]
struct ImapReport {
    sessions: usize,
    completed: usize,
    wall_secs: f64,
    sessions_per_sec: f64,
    session_ms_p50: f64,
    session_ms_p99: f64,
    fetch_ms_p50: f64,
    fetch_ms_p99: f64,
    headers_fetched: usize,
    rss_before_kib: u64,
    rss_after_fetch_kib: u64,
    rss_idle_kib: u64,
    kib_per_idle_session: f64,
}

pub fn imap(cli: &Cli, args: &BenchImapArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run(args, !cli.json))?;
    if cli.json {
        return crate::output::json(&report);
    }
    println!(
        "{} of {} sessions: sign in + SELECT + FETCH of 100 headers in {:.2} s ({:.0} sessions/s)",
        report.completed, report.sessions, report.wall_secs, report.sessions_per_sec
    );
    println!(
        "per session p50 {:.1} ms, p99 {:.1} ms; the FETCH alone p50 {:.1} ms, p99 {:.1} ms",
        report.session_ms_p50, report.session_ms_p99, report.fetch_ms_p50, report.fetch_ms_p99
    );
    println!(
        "server memory: {} KiB at start, {} KiB after the FETCH sessions, {} KiB with {} more sessions in IDLE: {:.1} KiB per idle session",
        report.rss_before_kib,
        report.rss_after_fetch_kib,
        report.rss_idle_kib,
        report.sessions,
        report.kib_per_idle_session
    );
    Ok(())
}

async fn run(args: &BenchImapArgs, progress: bool) -> anyhow::Result<ImapReport> {
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    let secrets = seed(&data, args).await?;
    let port = free_port()?;
    let config = tmp.path().join("rampart.toml");
    std::fs::write(
        &config,
        format!(
            "hostname = \"bench.imap.test\"\n[smtp]\nlisten = \"127.0.0.1:{}\"\n\
             [submission]\nlisten = \"\"\nlisten_tls = \"\"\n[http]\nlisten = \"\"\n\
             [imap]\nlisten = \"\"\nlisten_tls = \"127.0.0.1:{port}\"\n\
             max_connections_per_ip = {}\n[scan]\nenabled = false\n[outbound]\nenabled = false\n\
             [log]\nlevel = \"warn\"\n",
            free_port()?,
            2 * args.sessions + 10
        ),
    )?;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .arg("--data")
        .arg(&data)
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .context("cannot start `rampart serve` for the benchmark")?;
    let pid = child.id();
    let result = drive(args, port, pid, &secrets, progress).await;
    let _ = std::process::Command::new("kill")
        .arg(pid.to_string())
        .status();
    let _ = child.wait();
    result
}

/// Accounts with an app password each and `messages` in every INBOX.
async fn seed(
    data: &std::path::Path,
    args: &BenchImapArgs,
) -> anyhow::Result<Vec<(String, String)>> {
    std::fs::create_dir_all(data)?;
    let store = Mailstore::open_embedded(data, Arc::new(SystemClock), 7)?;
    let now = store.now();
    store.meta().add_domain("example.com", now, "bench").await?;
    let mut out = Vec::new();
    for a in 0..args.accounts.max(1) {
        let address: EmailAddress = format!("user{a}@example.com").parse()?;
        store
            .meta()
            .create_account(
                NewAccount {
                    address: Some(address.clone()),
                    ..NewAccount::default()
                },
                now,
                "bench",
            )
            .await?;
        let secret = rampart_auth::AppPasswordSecret::generate();
        store
            .meta()
            .create_app_password(
                &address,
                "bench",
                &[Protocol::Imap],
                &secret.digest(),
                now,
                "bench",
            )
            .await?;
        for i in 0..args.messages {
            let raw = format!(
                "From: Sender {i} <s{i}@partner.example>\r\nTo: {address}\r\nSubject: Report number {i}\r\n\
                 Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{a}.{i}@partner.example>\r\n\
                 MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n{}",
                "Quarterly figures and a long paragraph of text.\r\n".repeat(40)
            );
            let summary = rampart_smtp::summarize(raw.as_bytes());
            store
                .deliver(
                    NewMessage {
                        raw: Bytes::from(raw),
                        summary,
                    },
                    std::slice::from_ref(&address),
                    Folder::Inbox,
                    "bench",
                )
                .await?;
        }
        out.push((address.to_string(), secret.display));
    }
    Ok(out)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

type Conn = BufReader<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

async fn connect(port: u16) -> anyhow::Result<Conn> {
    let provider = rampart_outbound::tls::provider();
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(
            rampart_outbound::tls::AcceptAnyCertificate::new(),
        ))
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect("bench.imap.test".try_into()?, tcp)
        .await?;
    Ok(BufReader::new(tls))
}

/// Sends a tagged command and reads to its completion; returns the untagged lines' count.
async fn command(conn: &mut Conn, tag: &str, cmd: &str) -> anyhow::Result<usize> {
    conn.get_mut()
        .write_all(format!("{tag} {cmd}\r\n").as_bytes())
        .await?;
    let mut lines = 0;
    let mut line = String::new();
    loop {
        line.clear();
        if conn.read_line(&mut line).await? == 0 {
            anyhow::bail!("connection closed during {cmd}");
        }
        if let Some(rest) = line.strip_prefix(tag) {
            if rest.trim_start().starts_with("OK") {
                return Ok(lines);
            }
            anyhow::bail!("{cmd}: {}", line.trim_end());
        }
        if line.starts_with("* ") && line.contains("FETCH") {
            lines += 1;
        }
        // Literals (the header fields) arrive as `{n}` then n bytes: skip them.
        if let Some(n) = line
            .trim_end()
            .strip_suffix('}')
            .and_then(|l| l.rsplit_once('{'))
            .and_then(|(_, n)| n.parse::<usize>().ok())
        {
            let mut skip = vec![0u8; n];
            tokio::io::AsyncReadExt::read_exact(conn, &mut skip).await?;
        }
    }
}

async fn drive(
    args: &BenchImapArgs,
    port: u16,
    pid: u32,
    secrets: &[(String, String)],
    progress: bool,
) -> anyhow::Result<ImapReport> {
    // Wait for the server, then let it settle.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        if Instant::now() > deadline {
            anyhow::bail!("rampart serve did not start listening on {port}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // One warm-up session, so lazily built state does not count as per-session memory.
    let (user, secret) = &secrets[0];
    let mut warm = connect(port).await?;
    let mut greeting = String::new();
    warm.read_line(&mut greeting).await?;
    command(&mut warm, "w1", &format!("LOGIN {user} \"{secret}\"")).await?;
    command(&mut warm, "w2", "SELECT INBOX").await?;
    command(&mut warm, "w3", "LOGOUT").await.ok();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss_kib(pid);

    let bar = crate::corpus::progress(args.sessions as u64, "sessions", !progress);
    let t0 = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..args.sessions {
        let (user, secret) = secrets[i % secrets.len()].clone();
        tasks.spawn(async move {
            let start = Instant::now();
            let mut conn = connect(port).await?;
            let mut greeting = String::new();
            conn.read_line(&mut greeting).await?;
            command(&mut conn, "a1", &format!("LOGIN {user} \"{secret}\"")).await?;
            command(&mut conn, "a2", "SELECT INBOX").await?;
            let f = Instant::now();
            let n = command(
                &mut conn,
                "a3",
                "FETCH 1:100 (UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE)])",
            )
            .await?;
            let fetch = f.elapsed();
            let session = start.elapsed();
            conn.get_mut().write_all(b"a4 IDLE\r\n").await?;
            let mut cont = String::new();
            conn.read_line(&mut cont).await?;
            if !cont.starts_with('+') {
                anyhow::bail!("IDLE refused: {}", cont.trim_end());
            }
            anyhow::Ok((conn, session, fetch, n))
        });
    }
    let mut idle = Vec::new();
    let (mut sessions, mut fetches, mut headers) = (Vec::new(), Vec::new(), 0);
    let mut first_error = None;
    while let Some(done) = tasks.join_next().await {
        bar.inc(1);
        match done? {
            Ok((conn, s, f, n)) => {
                sessions.push(s.as_secs_f64() * 1000.0);
                fetches.push(f.as_secs_f64() * 1000.0);
                headers += n;
                idle.push(conn);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    bar.finish_and_clear();
    if idle.is_empty() {
        return Err(first_error.unwrap_or_else(|| anyhow::anyhow!("no session completed")));
    }
    // Phase two: as many sessions again that sign in, select and go straight to IDLE, as mail
    // clients do all day. The growth of the server's memory over them, measured once the FETCH
    // phase's short-lived caches have expired, is the cost of an idle session (the FETCH burst
    // above leaves freed memory with the allocator, which is not a per-session cost).
    tokio::time::sleep(Duration::from_secs(8)).await;
    let rss_before_idle = rss_kib(pid);
    let mut idlers = tokio::task::JoinSet::new();
    for i in 0..args.sessions {
        let (user, secret) = secrets[i % secrets.len()].clone();
        idlers.spawn(async move {
            let mut conn = connect(port).await?;
            let mut greeting = String::new();
            conn.read_line(&mut greeting).await?;
            command(&mut conn, "b1", &format!("LOGIN {user} \"{secret}\"")).await?;
            command(&mut conn, "b2", "SELECT INBOX").await?;
            conn.get_mut().write_all(b"b3 IDLE\r\n").await?;
            let mut cont = String::new();
            conn.read_line(&mut cont).await?;
            anyhow::Ok(conn)
        });
    }
    let mut idle_only = Vec::new();
    while let Some(done) = idlers.join_next().await {
        idle_only.push(done??);
    }
    tokio::time::sleep(Duration::from_secs(8)).await;
    let rss_idle = rss_kib(pid);
    for mut conn in idle.drain(..).chain(idle_only.drain(..)) {
        let _ = conn.get_mut().write_all(b"DONE\r\na5 LOGOUT\r\n").await;
    }
    let pick = |v: &mut Vec<f64>, q: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * q) as usize]
    };
    let completed = sessions.len();
    Ok(ImapReport {
        sessions: args.sessions,
        completed,
        wall_secs: wall,
        sessions_per_sec: completed as f64 / wall,
        session_ms_p50: pick(&mut sessions, 0.5),
        session_ms_p99: pick(&mut sessions, 0.99),
        fetch_ms_p50: pick(&mut fetches, 0.5),
        fetch_ms_p99: pick(&mut fetches, 0.99),
        headers_fetched: headers,
        rss_before_kib: rss_before,
        rss_after_fetch_kib: rss_before_idle,
        rss_idle_kib: rss_idle,
        kib_per_idle_session: rss_idle.saturating_sub(rss_before_idle) as f64
            / args.sessions.max(1) as f64,
    })
}
