//! Sessions seeing each other and the outside world: IDLE, concurrent writers, containment,
//! shutdown.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// Reads lines until one contains `needle`, failing after `within`.
async fn wait_for(c: &mut Client, needle: &str, within: Duration) -> String {
    let start = Instant::now();
    let mut seen = Vec::new();
    while start.elapsed() < within {
        if let Some(line) = c.line_within(within.saturating_sub(start.elapsed())).await {
            if line.contains(needle) {
                return line;
            }
            seen.push(line);
        }
    }
    panic!("no {needle:?} within {within:?}; saw {seen:?}");
}

#[tokio::test]
async fn idle_announces_deliveries_and_other_sessions_flag_changes() {
    let s = start().await;
    deliver(&s.store, &alice(), MESSAGE).await;
    let mut idler = Client::login(&s, ALICE).await;
    idler.select("INBOX").await;
    let tag = idler.tag();
    idler.send(format!("{tag} IDLE\r\n").as_bytes()).await;
    assert!(idler.line().await.unwrap().starts_with("+ "));

    let started = Instant::now();
    deliver(&s.store, &alice(), MESSAGE).await;
    wait_for(&mut idler, "* 2 EXISTS", Duration::from_secs(2)).await;
    assert!(started.elapsed() < Duration::from_secs(2));

    let mut other = Client::login(&s, ALICE).await;
    other.select("INBOX").await;
    let r = other.cmd("STORE 1 +FLAGS (\\Flagged)").await;
    assert!(ok(&r), "{r:?}");
    let line = wait_for(&mut idler, "* 1 FETCH", Duration::from_secs(2)).await;
    assert!(line.contains("\\Flagged"), "{line}");

    // An expunge by the other session is announced during IDLE too.
    other.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)").await;
    other.cmd("EXPUNGE").await;
    wait_for(&mut idler, "* 2 EXPUNGE", Duration::from_secs(2)).await;

    idler.send(b"DONE\r\n").await;
    let r = idler.until(&tag).await;
    assert!(ok(&r), "{r:?}");
    let r = idler.cmd("FETCH 1:* UID").await;
    assert_eq!(r.len(), 2, "{r:?}");
}

#[tokio::test]
async fn other_sessions_changes_wait_for_a_safe_moment() {
    let s = start().await;
    for _ in 0..3 {
        deliver(&s.store, &alice(), MESSAGE).await;
    }
    let mut a = Client::login(&s, ALICE).await;
    a.select("INBOX").await;
    let mut b = Client::login(&s, ALICE).await;
    b.select("INBOX").await;
    b.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    b.cmd("EXPUNGE").await;
    deliver(&s.store, &alice(), MESSAGE).await;
    // FETCH by sequence number must not announce the expunge; numbers stay as they were.
    let r = a.cmd("FETCH 3 UID").await;
    assert!(!has(&r, "EXPUNGE"), "{r:?}");
    assert!(has(&r, "* 3 FETCH (UID 3)"), "{r:?}");
    assert!(has(&r, "* 4 EXISTS"), "{r:?}");
    // NOOP may.
    let r = a.cmd("NOOP").await;
    assert!(has(&r, "* 1 EXPUNGE"), "{r:?}");
    let r = a.cmd("FETCH 3 UID").await;
    assert!(has(&r, "* 3 FETCH (UID 4)"), "{r:?}");
}

#[tokio::test]
async fn contained_account_is_logged_out_of_open_sessions() {
    let s = start().await;
    let mut c = Client::login(&s, ALICE).await;
    c.select("INBOX").await;
    let mut bob = Client::login(&s, BOB).await;
    let tag = c.tag();
    c.send(format!("{tag} IDLE\r\n").as_bytes()).await;
    assert!(c.line().await.unwrap().starts_with("+ "));
    s.store
        .meta()
        .contain_account(&alice(), "phished", T0, "test")
        .await
        .unwrap();
    let bye = wait_for(&mut c, "* BYE", Duration::from_secs(2)).await;
    assert!(bye.contains("security team"), "{bye}");
    assert!(c.line_within(Duration::from_secs(2)).await.is_none());
    // Bob is unaffected; Alice cannot come back.
    let r = bob.cmd("NOOP").await;
    assert!(ok(&r), "{r:?}");
    let mut again = Client::connect(&s).await;
    again.starttls().await;
    let r = again.cmd(&format!("LOGIN {ALICE} \"{PASSWORD}\"")).await;
    assert!(tagged(&r).contains("NO ["), "{r:?}");
}

#[tokio::test]
async fn shutdown_says_bye() {
    let s = start().await;
    let mut c = Client::login(&s, ALICE).await;
    c.select("INBOX").await;
    let tag = c.tag();
    c.send(format!("{tag} IDLE\r\n").as_bytes()).await;
    assert!(c.line().await.unwrap().starts_with("+ "));
    let mut waiting = Client::connect(&s).await;
    s.stop.send(true).unwrap();
    wait_for(&mut c, "* BYE", Duration::from_secs(2)).await;
    wait_for(&mut waiting, "* BYE", Duration::from_secs(2)).await;
    tokio::time::timeout(Duration::from_secs(5), s.task)
        .await
        .unwrap()
        .unwrap();
}

/// Counts live heap bytes, so the memory tests can tell what sessions hold from what the
/// allocator keeps around.
struct Counting;

static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), std::sync::atomic::Ordering::Relaxed);
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        LIVE.fetch_sub(layout.size(), std::sync::atomic::Ordering::Relaxed);
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new, std::sync::atomic::Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), std::sync::atomic::Ordering::Relaxed);
        unsafe { std::alloc::System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live_heap() -> u64 {
    LIVE.load(std::sync::atomic::Ordering::Relaxed) as u64
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Memory of idle sessions (server and test client together, TLS on both ends): run with
/// `cargo test -p rampart-imap --release --test live -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn measures_memory_per_idle_session() {
    let s = start_with(Options {
        limits: rampart_imap::ImapLimits {
            max_connections_per_ip: 10_000,
            idle_poll_ms: 1000,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let messages = 1000;
    for _ in 0..messages {
        deliver(&s.store, &alice(), MESSAGE).await;
    }
    // Warm up allocator pools and caches with a few sessions first.
    let mut warm = Vec::new();
    for _ in 0..20 {
        let mut c = Client::login(&s, ALICE).await;
        c.select("INBOX").await;
        warm.push(c);
    }
    let n = 300;
    let before = rss_bytes();
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..n {
        let mut c = Client::login(&s, ALICE).await;
        c.select("INBOX").await;
        let tag = c.tag();
        c.send(format!("{tag} IDLE\r\n").as_bytes()).await;
        assert!(c.line().await.unwrap().starts_with("+ "));
        clients.push(c);
    }
    let setup = started.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_bytes();
    let per = (after.saturating_sub(before)) / n;
    println!(
        "{n} IDLE sessions on a {messages}-message INBOX: {:.1} MB RSS growth, {:.1} KB per session \
         (server + client, TLS both ends); login+select+idle for all took {:?}",
        (after - before) as f64 / 1e6,
        per as f64 / 1024.0,
        setup
    );
    // A delivery reaches every idle session.
    let started = Instant::now();
    deliver(&s.store, &alice(), MESSAGE).await;
    for c in clients.iter_mut() {
        wait_for(c, "EXISTS", Duration::from_secs(5)).await;
    }
    println!(
        "one delivery announced to {n} idle sessions in {:?}",
        started.elapsed()
    );
}

/// Server-side memory of idle sessions, with the clients in another process (Python's ssl), so
/// what is measured here is the server's alone. "Live heap" is what the sessions hold (counted
/// by the allocator below); RSS growth also shows what the allocator keeps (glibc's per-thread
/// arenas keep much of the transient memory of logins and SELECTs; `MALLOC_ARENA_MAX=1` shows
/// the difference). Run with
/// `cargo test -p rampart-imap --release --test live -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn measures_server_memory_per_idle_session() {
    const CLIENTS: &str = r#"
import socket, ssl, sys
n, port = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
def until(f, tag):
    while True:
        line = f.readline()
        if not line:
            raise SystemExit("closed")
        if line.startswith(tag + b" "):
            return line
conns = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.recv(4096)
    s.sendall(b"a STARTTLS\r\n")
    s.recv(4096)
    t = ctx.wrap_socket(s, server_hostname="localhost")
    f = t.makefile("rb")
    t.sendall(b'b LOGIN alice@example.com "correct horse battery staple"\r\n'); until(f, b"b")
    t.sendall(b"c SELECT INBOX\r\n"); until(f, b"c")
    t.sendall(b"d IDLE\r\n"); f.readline()
    conns.append((t, f))
print("ready", flush=True)
sys.stdin.read()
"#;
    let s = start_with(Options {
        limits: rampart_imap::ImapLimits {
            max_connections_per_ip: 10_000,
            idle_poll_ms: 1000,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let messages = 1000;
    for _ in 0..messages {
        deliver(&s.store, &alice(), MESSAGE).await;
    }
    for (n, label) in [(20u64, "warm-up"), (300, "measured")] {
        let before = rss_bytes();
        let heap_before = live_heap();
        let mut child = std::process::Command::new("python3")
            .args(["-c", CLIENTS, &n.to_string(), &s.addr.port().to_string()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut stdout = child.stdout.take().unwrap();
        let ready = tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let mut buf = [0u8; 6];
            stdout.read_exact(&mut buf).map(|_| buf)
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(&ready, b"ready\n");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let after = rss_bytes();
        let heap = live_heap().saturating_sub(heap_before);
        println!(
            "{label}: {n} IDLE sessions on a {messages}-message INBOX: live heap {:.1} KB per session; RSS +{:.1} MB ({:.1} KB per session)",
            heap as f64 / n as f64 / 1024.0,
            after.saturating_sub(before) as f64 / 1e6,
            after.saturating_sub(before) as f64 / n as f64 / 1024.0
        );
        drop(child.stdin.take());
        let _ = child.wait();
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
