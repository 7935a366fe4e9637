//! A whole SMTP session fed random bytes (valid commands, garbage, stray CR/LF and dots, in random
//! fragments) over an in-memory stream. Whatever arrives, the session must neither panic nor hang
//! once the peer hangs up, and everything it sends back must be well-formed SMTP replies.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use proptest::prelude::*;
use rampart_model::config::SmtpConfig;
use rampart_model::{EmailAddress, NewAccount, SystemClock};
use rampart_smtp::session::Session;
use rampart_smtp::SessionContext;
use rampart_store::Mailstore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio_rustls::rustls;

const HOSTNAME: &str = "mx.rampart.test";

/// One store, runtime and context for every case: opening SQLite per case would dominate the run.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    ctx: Arc<SessionContext>,
    /// Dropping the sender would look like a server shutdown to every session.
    _stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Mailstore::open_embedded(dir.path(), Arc::new(SystemClock), 7).expect("store");
    runtime.block_on(async {
        let meta = store.meta();
        let now = store.now();
        meta.add_domain("rampart.test", now, "test")
            .await
            .expect("domain");
        for (address, quota_bytes) in [("user@rampart.test", None), ("tiny@rampart.test", Some(64))]
        {
            let new = NewAccount {
                address: Some(address.parse().expect("address")),
                quota_bytes,
                ..Default::default()
            };
            meta.create_account(new, now, "test")
                .await
                .expect("account");
        }
        let alias: EmailAddress = "team@rampart.test".parse().expect("alias");
        let target: EmailAddress = "user@rampart.test".parse().expect("target");
        meta.add_alias(&alias, &target, now, "test")
            .await
            .expect("alias");
    });
    let (stop, shutdown) = watch::channel(false);
    let ctx = SessionContext {
        hostname: HOSTNAME.into(),
        // Small limits so that short inputs reach the "too long" and "too big" paths too.
        limits: SmtpConfig {
            idle_timeout_secs: 2,
            max_message_size: 4096,
            max_recipients: 3,
            max_command_line: 512,
            max_data_line: 1000,
            max_errors: 25,
            ..Default::default()
        },
        store,
        tls: Some(tls_acceptor()),
        scanner: None,
        shutdown,
        submission: None,
        implicit_tls: false,
    };
    Fixture {
        runtime,
        ctx: Arc::new(ctx),
        _stop: stop,
        _dir: dir,
    }
});

fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    let generated = rcgen::generate_simple_self_signed(vec![HOSTNAME.into()]).expect("certificate");
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(generated.signing_key.serialize_der());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![generated.cert.der().clone()], key.into())
        .expect("server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// One piece of what the peer sends.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    let command = prop::sample::select(
        &[
            "EHLO client.example\r\n",
            "HELO client.example\r\n",
            "MAIL FROM:<sender@client.example>\r\n",
            "MAIL FROM:<> SIZE=100\r\n",
            "MAIL FROM:<s@client.example> SIZE=999999999 BODY=8BITMIME SMTPUTF8\r\n",
            "RCPT TO:<user@rampart.test>\r\n",
            "RCPT TO:<team@rampart.test>\r\n",
            "RCPT TO:<tiny@rampart.test>\r\n",
            "RCPT TO:<nobody@rampart.test>\r\n",
            "RCPT TO:<someone@elsewhere.example>\r\n",
            "RCPT TO:<用户@rampart.test>\r\n",
            "DATA\r\n",
            "Subject: hi\r\n\r\nbody\r\n",
            ".\r\n",
            "..\r\n",
            "\r\n.\r\n",
            "BDAT 0 LAST\r\n",
            "BDAT 5\r\n",
            "BDAT 3 LAST\r\n",
            "BDAT 100000\r\n",
            "RSET\r\n",
            "NOOP\r\n",
            "VRFY user\r\n",
            "AUTH PLAIN\r\n",
            "STARTTLS\r\n",
        ][..],
    )
    .prop_map(|c| c.as_bytes().to_vec());
    // A line of noise: printable characters, dots and stray CRs, ended properly.
    let noise_line = prop::collection::vec(
        prop_oneof![
            Just(b'\r'),
            Just(b'.'),
            Just(b' '),
            Just(b'<'),
            Just(b'>'),
            b' '..=b'~'
        ],
        0..40,
    )
    .prop_map(|mut line| {
        line.extend_from_slice(b"\r\n");
        line
    });
    prop_oneof![
        12 => command,
        4 => noise_line,
        // Arbitrary bytes, bare LFs included (a bare LF ends the session).
        1 => prop::collection::vec(any::<u8>(), 1..80),
        1 => prop::collection::vec(Just(b'x'), 500..1200),
        1 => Just(b"QUIT\r\n".to_vec()),
    ]
}

/// What the peer sends, as the writes it makes; most conversations open with a valid envelope so
/// that DATA, BDAT and delivery are reached too.
fn conversation() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let envelope = b"EHLO client.example\r\nMAIL FROM:<sender@client.example>\r\nRCPT TO:<user@rampart.test>\r\n";
    (
        prop::option::weighted(0.7, Just(envelope.to_vec())),
        prop::collection::vec(fragment(), 0..40),
    )
        .prop_map(|(envelope, mut writes)| {
            if let Some(envelope) = envelope {
                writes.insert(0, envelope);
            }
            writes
        })
}

/// Runs one session against `writes`, hangs up, and returns everything the server sent.
async fn converse(ctx: Arc<SessionContext>, writes: Vec<Vec<u8>>) -> Result<Vec<u8>, String> {
    let (client, server) = tokio::io::duplex(8 * 1024);
    let peer: SocketAddr = "192.0.2.7:40000".parse().expect("peer");
    let session = tokio::spawn(Session::new(ctx, peer, Box::new(server)).run());
    let (mut from_server, mut to_server) = tokio::io::split(client);
    let transcript = tokio::spawn(async move {
        let mut out = Vec::new();
        let _ = from_server.read_to_end(&mut out).await;
        out
    });
    for write in writes {
        // The server may hang up first (QUIT, bare LF, too many errors): that is not a failure.
        if to_server.write_all(&write).await.is_err() {
            break;
        }
        tokio::task::yield_now().await;
    }
    let _ = to_server.shutdown().await;
    match tokio::time::timeout(Duration::from_secs(10), session).await {
        Err(_) => return Err("session still running 10 s after the peer hung up".into()),
        Ok(Err(e)) => return Err(format!("session task failed: {e}")),
        Ok(Ok(())) => {}
    }
    drop(to_server);
    tokio::time::timeout(Duration::from_secs(10), transcript)
        .await
        .map_err(|_| "server side never closed".to_string())?
        .map_err(|e| format!("reader failed: {e}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn session_ends_cleanly_with_well_formed_replies_whatever_the_peer_sends(
        writes in conversation(),
    ) {
        let fixture = &*FIXTURE;
        let transcript = fixture
            .runtime
            .block_on(converse(fixture.ctx.clone(), writes))
            .map_err(TestCaseError::fail)?;
        let greeting = format!("220 {HOSTNAME} ESMTP Rampart\r\n");
        prop_assert!(transcript.starts_with(greeting.as_bytes()), "{:?}", String::from_utf8_lossy(&transcript));
        // After this reply the bytes are TLS records (a handshake alert), not SMTP.
        let tls_start = b"220 2.0.0 Ready to start TLS\r\n";
        let smtp = match transcript.windows(tls_start.len()).position(|w| w == tls_start) {
            Some(i) => &transcript[..i + tls_start.len()],
            None => &transcript[..],
        };
        prop_assert!(smtp.ends_with(b"\r\n"), "{:?}", String::from_utf8_lossy(smtp));
        let text = std::str::from_utf8(smtp).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for reply in text.strip_suffix("\r\n").unwrap_or(text).split("\r\n") {
            let b = reply.as_bytes();
            let well_formed = b.len() >= 4
                && b[..3].iter().all(u8::is_ascii_digit)
                && matches!(b[3], b' ' | b'-')
                && !reply.contains(['\r', '\n']);
            prop_assert!(well_formed, "malformed reply line {reply:?} in {text:?}");
        }
    }
}
