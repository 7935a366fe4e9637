//! rampart-av against a real clamd (Debian's `clamav-daemon`, installed by `.ci/clamd.sh`).
//!
//! Each test binary process starts one clamd of its own (nextest runs every test in its own
//! process, so every test gets a fresh one) with a signature database written here: ClamAV ships
//! no signatures on this machine and cannot download any. The database:
//! - `rampart.hsb`: SHA-256 hashes of the EICAR test file and of a harmless made-up file;
//! - `rampart.ndb`: a body signature for the EICAR string (finds it inside anything);
//! - `daily.cud`: an unsigned container with a `daily.info` header, which is where clamd takes the
//!   signature version and date that `VERSION` reports (dated three days ago).
//!
//! clamd runs under a small `sh` watchdog that reads the test process's pipe: when the process
//! ends, however it ends, the pipe closes and the watchdog stops clamd and deletes its directory.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rampart_av::{
    findings_for, AvPolicy, ClamdAddr, ClamdClient, ClamdOptions, ScanOutcome, EICAR_SHA256,
};
use rampart_model::Timestamp;

const CLAMD: &str = "/usr/sbin/clamd";
const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpora/av-test"
);
/// `StreamMaxLength` of the test clamd, in bytes (25M in clamd.conf).
const STREAM_MAX_LENGTH: usize = 25 * 1024 * 1024;
/// The made-up harmless file that the test database lists by hash.
const HARMLESS: &[u8] = b"Rampart harmless test file: listed by hash in the test database only.\n";
/// Matched by the body signature inside daily.cud.
const DAILY_MARKER: &[u8] = b"rampart-daily-database-marker";
const SIGNATURE_VERSION: u32 = 27999;
const DATABASE_AGE_DAYS: u64 = 3;

struct TestClamd {
    socket: PathBuf,
    tcp: String,
    startup: Duration,
    // Held until the process exits: closing the pipe is what stops clamd.
    _watchdog: Mutex<(Child, ChildStdin)>,
}

static TEST_CLAMD: OnceLock<TestClamd> = OnceLock::new();

fn clamd() -> &'static TestClamd {
    TEST_CLAMD.get_or_init(|| {
        if !Path::new(CLAMD).exists() {
            panic!(
                "{CLAMD} not found: install clamav-daemon (apt-get install clamav-daemon) — .ci/run does this"
            );
        }
        // The TCP port is picked free and then released, so another process may take it first:
        // clamd then fails to bind and exits, and we try again with another port.
        let mut last_error = String::new();
        for _ in 0..3 {
            match start_clamd() {
                Ok(clamd) => {
                    eprintln!("clamd started in {:?}", clamd.startup);
                    return clamd;
                }
                Err(e) => last_error = e,
            }
        }
        panic!("clamd did not start: {last_error}");
    })
}

fn start_clamd() -> Result<TestClamd, String> {
    let dir = tempfile::Builder::new()
        .prefix("rampart-clamd-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    let db = dir.join("db");
    std::fs::create_dir(&db).map_err(|e| e.to_string())?;
    write_database(&db);

    let socket = dir.join("clamd.sock");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let conf = dir.join("clamd.conf");
    std::fs::write(
        &conf,
        format!(
            "LocalSocket {socket}\n\
             TCPAddr 127.0.0.1\n\
             TCPSocket {port}\n\
             DatabaseDirectory {db}\n\
             TemporaryDirectory {dir}\n\
             Foreground yes\n\
             ScanArchive yes\n\
             ScanMail yes\n\
             StreamMaxLength 25M\n\
             MaxThreads 4\n\
             LogVerbose yes\n",
            socket = socket.display(),
            db = db.display(),
            dir = dir.display(),
        ),
    )
    .map_err(|e| e.to_string())?;

    // fd 3 keeps the test process's pipe for the watchdog subshell (a background job's stdin is
    // /dev/null in sh). clamd runs as root here, as CI does; no `User` line is needed.
    let script = r#"exec 3<&0
"$0" -c "$1" </dev/null >"$2" 2>&1 3<&- &
pid=$!
(read _ <&3; kill "$pid" 2>/dev/null) &
wait "$pid"; status=$?
rm -rf "$3"
exit "$status"
"#;
    let log = dir.join("clamd.log");
    let started = Instant::now();
    let mut watchdog = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(CLAMD)
        .arg(&conf)
        .arg(&log)
        .arg(&dir)
        // clamd prints the database date in local time; the client reads it as UTC.
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        // Not the test's own output: a test runner would wait for them to close.
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run sh: {e}"))?;
    let Some(pipe) = watchdog.stdin.take() else {
        return Err("no pipe to the watchdog".into());
    };

    while started.elapsed() < Duration::from_secs(60) {
        if sync_ping(&socket) {
            return Ok(TestClamd {
                socket,
                tcp: format!("127.0.0.1:{port}"),
                startup: started.elapsed(),
                _watchdog: Mutex::new((watchdog, pipe)),
            });
        }
        if let Ok(Some(status)) = watchdog.try_wait() {
            return Err(format!("clamd exited ({status}); log:\n{}", read_log(&log)));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(pipe);
    let _ = watchdog.wait();
    Err(format!(
        "clamd did not answer PING within 60 s; log:\n{}",
        read_log(&log)
    ))
}

fn read_log(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_else(|e| format!("(no log: {e})"))
}

/// Blocking PING, for the start-up wait (which runs outside any async runtime's control).
fn sync_ping(socket: &Path) -> bool {
    let Ok(mut conn) = StdUnixStream::connect(socket) else {
        return false;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reply = [0u8; 5];
    conn.write_all(b"zPING\0").is_ok() && conn.read_exact(&mut reply).is_ok() && &reply == b"PONG\0"
}

fn write_database(db: &Path) {
    let eicar = corpus("eicar.com.txt");
    std::fs::write(
        db.join("rampart.hsb"),
        format!(
            "{EICAR_SHA256}:{}:Rampart.Test.EICAR.Hash\n{}:{}:Rampart.Test.Harmless\n",
            eicar.len(),
            sha256_hex(HARMLESS),
            HARMLESS.len(),
        ),
    )
    .unwrap();
    std::fs::write(
        db.join("rampart.ndb"),
        format!("Rampart.Test.EICAR.Body:0:*:{}\n", hex(&eicar)),
    )
    .unwrap();
    std::fs::write(db.join("daily.cud"), daily_cud()).unwrap();
}

/// An unsigned CVD ("CUD"): a 512-byte header, then a tar whose `daily.info` repeats the header
/// and lists each file's size and SHA-256. The header fields are
/// `ClamAV-VDB:build time:version:signatures:functionality level:md5:dsig:builder:unix time`;
/// clamd reports `version` and `unix time` in `VERSION`.
fn daily_cud() -> Vec<u8> {
    let built = unix_now() - DATABASE_AGE_DAYS * 86_400;
    let header = format!(
        "ClamAV-VDB:rampart test database:{SIGNATURE_VERSION}:1:90:{}:unsigned:rampart-tests:{built}",
        "0".repeat(32)
    );
    let ndb = format!("Rampart.Test.Daily:0:*:{}\n", hex(DAILY_MARKER));
    let info = format!(
        "{header}\ndaily.ndb:{}:{}\n",
        ndb.len(),
        sha256_hex(ndb.as_bytes())
    );
    let mut cud = header.into_bytes();
    cud.resize(512, b' ');
    cud.extend(tar_entry("daily.info", info.as_bytes()));
    cud.extend(tar_entry("daily.ndb", ndb.as_bytes()));
    cud.extend([0u8; 1024]);
    cud
}

/// One ustar entry (header block plus padded data).
fn tar_entry(name: &str, data: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
    h[136..148].copy_from_slice(format!("{:011o}\0", unix_now()).as_bytes());
    h[148..156].copy_from_slice(b"        ");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    let checksum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{checksum:06o}\0 ").as_bytes());
    let mut entry = h.to_vec();
    entry.extend_from_slice(data);
    entry.resize(entry.len().div_ceil(512) * 512, 0);
    entry
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn corpus(name: &str) -> Vec<u8> {
    let path = Path::new(CORPUS).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn first_attachment(eml: &str) -> Vec<u8> {
    let raw = corpus(eml);
    let message = mail_parser::MessageParser::default()
        .parse(&raw)
        .expect("corpus message parses");
    let attachment = message
        .attachments()
        .next()
        .expect("message has an attachment");
    attachment.contents().to_vec()
}

fn unix_client() -> ClamdClient {
    ClamdClient::new(
        ClamdAddr::Unix(clamd().socket.clone()),
        ClamdOptions {
            connect_timeout: Duration::from_secs(5),
            scan_timeout: Duration::from_secs(60),
            max_stream_size: STREAM_MAX_LENGTH as u64,
        },
    )
}

fn assert_infected_with(outcome: &ScanOutcome, prefix: &str) {
    match outcome {
        ScanOutcome::Infected(names) => assert!(
            names.iter().any(|n| n.starts_with(prefix)),
            "expected a {prefix}* signature, got {names:?}"
        ),
        other => panic!("expected {prefix}*, got {other:?}"),
    }
}

/// Pseudo-random bytes (xorshift): no signature matches them and clamd cannot shortcut them.
fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

#[tokio::test]
async fn clamd_answers_ping_on_its_unix_socket() {
    unix_client().ping().await.expect("PONG");
}

#[tokio::test]
async fn version_gives_engine_signature_version_and_a_three_day_old_database() {
    let version = unix_client().version().await.expect("VERSION");
    assert!(version.engine.starts_with(char::is_numeric), "{version:?}");
    assert_eq!(version.signature_version, Some(SIGNATURE_VERSION));
    let now = Timestamp(i64::try_from(unix_now()).unwrap());
    let age = version.database_age(now).expect("clamd reported a date");
    let expected = Duration::from_secs(DATABASE_AGE_DAYS * 86_400);
    assert!(
        age >= expected && age < expected + Duration::from_secs(300),
        "age {age:?}"
    );
    // The daily database's own signature is loaded too.
    assert_infected_with(
        &unix_client().scan(DAILY_MARKER).await,
        "Rampart.Test.Daily",
    );
}

#[tokio::test]
async fn finds_the_plain_eicar_test_file() {
    let outcome = unix_client().scan(&corpus("eicar.com.txt")).await;
    assert_infected_with(&outcome, "Rampart.Test.EICAR");
    let findings = findings_for(&outcome, AvPolicy::default());
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].name, "av.virus");
    assert_eq!(findings[0].score, 100.0);
    assert!(findings[0].evidence[0].starts_with("Rampart.Test.EICAR"));
}

#[tokio::test]
async fn finds_eicar_in_a_base64_email_attachment() {
    let attachment = first_attachment("eicar-attachment.eml");
    assert_eq!(attachment, corpus("eicar.com.txt"));
    assert_infected_with(&unix_client().scan(&attachment).await, "Rampart.Test.EICAR");
}

#[tokio::test]
async fn finds_eicar_in_a_whole_raw_message_through_clamds_own_mime_decoding() {
    let outcome = unix_client().scan(&corpus("eicar-attachment.eml")).await;
    assert_infected_with(&outcome, "Rampart.Test.EICAR");
}

#[tokio::test]
async fn finds_eicar_inside_a_zip_attachment() {
    let zip = first_attachment("eicar-in-zip.eml");
    assert!(zip.starts_with(b"PK\x03\x04"));
    assert_infected_with(&unix_client().scan(&zip).await, "Rampart.Test.EICAR");
}

#[tokio::test]
async fn finds_eicar_in_a_zip_inside_a_zip() {
    use std::io::Cursor;
    use zip::write::SimpleFileOptions;

    let inner = first_attachment("eicar-in-zip.eml");
    let mut outer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    outer
        .start_file(
            "invoice-documents.zip",
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated),
        )
        .unwrap();
    outer.write_all(&inner).unwrap();
    let outer = outer.finish().unwrap().into_inner();
    // Deflated, so the EICAR string is not visible in the outer bytes.
    assert!(!outer
        .windows(16)
        .any(|w| w == b"EICAR-STANDARD-A".as_slice()));

    assert_infected_with(&unix_client().scan(&outer).await, "Rampart.Test.EICAR");
}

#[tokio::test]
async fn finds_a_harmless_file_listed_by_hash_in_the_custom_database() {
    assert_infected_with(&unix_client().scan(HARMLESS).await, "Rampart.Test.Harmless");
}

#[tokio::test]
async fn clean_bytes_are_clean() {
    let client = unix_client();
    for bytes in [
        b"Hello, this is an ordinary message body.\r\n".to_vec(),
        corpus("gtube.txt"),
        Vec::new(),
        noise(100_000),
    ] {
        let outcome = client.scan(&bytes).await;
        assert_eq!(outcome, ScanOutcome::Clean, "{} bytes", bytes.len());
        assert!(findings_for(&outcome, AvPolicy { fail_closed: true }).is_empty());
    }
}

#[tokio::test]
async fn stream_longer_than_clamds_stream_max_length_is_never_reported_clean() {
    // The client allows more than clamd does, so clamd's own limit answers. clamd writes its
    // "size limit exceeded" reply and closes with our data unread; the kernel may then reset the
    // socket before the reply is read. Either way the stream is unscanned, never clean.
    let client = ClamdClient::new(
        ClamdAddr::Unix(clamd().socket.clone()),
        ClamdOptions {
            max_stream_size: 2 * STREAM_MAX_LENGTH as u64,
            ..ClamdOptions::default()
        },
    );
    let outcome = client.scan(&noise(STREAM_MAX_LENGTH + 1024 * 1024)).await;
    match &outcome {
        ScanOutcome::TooLarge => {}
        ScanOutcome::Error(e) if e.contains("reset") || e.contains("Broken pipe") => {}
        other => panic!("expected TooLarge (or a reset), got {other:?}"),
    }
    assert!(outcome.is_unscanned());
    // clamd is still fine afterwards.
    client.ping().await.expect("PONG after refusing a stream");
}

#[tokio::test]
async fn buffer_over_the_clients_limit_is_too_large_without_streaming() {
    let outcome = unix_client().scan(&noise(STREAM_MAX_LENGTH + 1)).await;
    assert_eq!(outcome, ScanOutcome::TooLarge);
}

#[tokio::test]
async fn scans_over_tcp_as_well() {
    let client = ClamdClient::new(ClamdAddr::Tcp(clamd().tcp.clone()), ClamdOptions::default());
    client.ping().await.expect("PONG over TCP");
    assert_infected_with(
        &client.scan(&corpus("eicar.com.txt")).await,
        "Rampart.Test.EICAR",
    );
    assert_eq!(client.scan(&noise(1_000_000)).await, ScanOutcome::Clean);

    // clamd's size-limit reply must win over the reset that the rest of the stream meets.
    let unlimited = ClamdClient::new(
        ClamdAddr::Tcp(clamd().tcp.clone()),
        ClamdOptions {
            max_stream_size: u64::MAX,
            ..ClamdOptions::default()
        },
    );
    let outcome = unlimited
        .scan(&noise(STREAM_MAX_LENGTH + 1024 * 1024))
        .await;
    assert_eq!(outcome, ScanOutcome::TooLarge);
}

#[tokio::test]
async fn dead_socket_is_a_quick_error_and_a_finding_under_either_policy() {
    let dir = tempfile::tempdir().unwrap();
    let client = ClamdClient::new(
        ClamdAddr::Unix(dir.path().join("no-clamd-here.sock")),
        ClamdOptions::default(),
    );
    let started = Instant::now();
    let outcome = client.scan(&corpus("eicar.com.txt")).await;
    assert!(started.elapsed() < Duration::from_secs(1));
    let ScanOutcome::Error(why) = &outcome else {
        panic!("expected an error, got {outcome:?}");
    };
    assert!(why.contains("cannot connect"), "{why}");
    assert!(client.ping().await.is_err());
    assert!(client.version().await.is_err());

    let open = findings_for(&outcome, AvPolicy { fail_closed: false });
    assert_eq!(
        (open[0].name.as_str(), open[0].score),
        ("av.unavailable", 0.0)
    );
    let closed = findings_for(&outcome, AvPolicy { fail_closed: true });
    assert_eq!(
        (closed[0].name.as_str(), closed[0].score),
        ("av.unavailable_fail_closed", 10.0)
    );
}

#[tokio::test]
async fn scan_gives_up_at_the_scan_timeout_when_the_peer_never_answers() {
    // A socket that accepts and then says nothing: a hung clamd, as the client sees it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let silent = tokio::spawn(async move {
        let (conn, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(conn);
    });
    let client = ClamdClient::new(
        ClamdAddr::Tcp(addr),
        ClamdOptions {
            scan_timeout: Duration::from_millis(300),
            ..ClamdOptions::default()
        },
    );
    let started = Instant::now();
    let outcome = client.scan(b"anything").await;
    let elapsed = started.elapsed();
    silent.abort();
    let ScanOutcome::Error(why) = outcome else {
        panic!("expected a timeout error, got {outcome:?}");
    };
    assert!(why.contains("did not answer within"), "{why}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[tokio::test]
async fn reports_scan_latency_of_10_kb_and_10_mb_clean_buffers() {
    let startup = clamd().startup;
    let client = unix_client();
    let mut report = format!("clamd start-up with the test database: {startup:?}\n");
    for (label, bytes) in [
        ("10 KB", noise(10 * 1024)),
        ("10 MB", noise(10 * 1024 * 1024)),
    ] {
        let mut times = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            assert_eq!(client.scan(&bytes).await, ScanOutcome::Clean);
            times.push(started.elapsed());
        }
        times.sort();
        report += &format!(
            "{label} clean buffer: median {:?} (min {:?}, max {:?})\n",
            times[1], times[0], times[2]
        );
    }
    eprint!("{report}");
}
