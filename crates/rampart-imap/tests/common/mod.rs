//! A real IMAP server on 127.0.0.1 over a temporary store, and a small line-based client that
//! speaks raw IMAP to it (plain, STARTTLS or implicit TLS).

#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rampart_auth::login::{Login, LoginSettings};
use rampart_auth::PasswordHasher;
use rampart_imap::{ImapContext, ImapLimits, ImapServer, JunkFeedback};
use rampart_model::{EmailAddress, Folder, ManualClock, NewAccount, Timestamp};
use rampart_risk::{GeoDb, RiskConfig};
use rampart_store::{Mailstore, NewMessage};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::watch;

pub const T0: Timestamp = Timestamp(1_795_000_000);
pub const PASSWORD: &str = "correct horse battery staple";
pub const ALICE: &str = "alice@example.com";
pub const BOB: &str = "bob@example.com";

/// Junk feedback calls, as (account, spam, first bytes of the message).
#[derive(Default)]
pub struct Recorded(pub Mutex<Vec<(String, bool, usize)>>);

impl JunkFeedback for Recorded {
    fn report(
        &self,
        account: &EmailAddress,
        _message: rampart_model::MessageId,
        raw: bytes::Bytes,
        spam: bool,
    ) -> Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        let account = account.to_string();
        Box::pin(async move {
            self.0.lock().unwrap().push((account, spam, raw.len()));
        })
    }
}

pub struct Server {
    pub addr: SocketAddr,
    pub store: Mailstore,
    pub login: Arc<Login>,
    pub clock: ManualClock,
    pub junk: Arc<Recorded>,
    pub stop: watch::Sender<bool>,
    pub task: tokio::task::JoinHandle<()>,
    pub connector: tokio_rustls::TlsConnector,
    _dir: tempfile::TempDir,
}

pub struct Options {
    pub implicit_tls: bool,
    pub limits: ImapLimits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            implicit_tls: false,
            limits: ImapLimits {
                idle_poll_ms: 200,
                ..Default::default()
            },
        }
    }
}

pub fn alice() -> EmailAddress {
    ALICE.parse().unwrap()
}

pub fn bob() -> EmailAddress {
    BOB.parse().unwrap()
}

pub async fn start() -> Server {
    start_with(Options::default()).await
}

pub async fn start_with(options: Options) -> Server {
    let (ctx, parts) = context(options).await;
    let server = ImapServer::bind("127.0.0.1:0", ctx).await.unwrap();
    let addr = server.local_addr().unwrap();
    let task = tokio::spawn(server.run(parts.shutdown.clone()));
    Server {
        addr,
        store: parts.store,
        login: parts.login,
        clock: parts.clock,
        junk: parts.junk,
        stop: parts.stop,
        task,
        connector: parts.connector,
        _dir: parts.dir,
    }
}

/// What a context is built from, kept by the test.
pub struct Parts {
    pub store: Mailstore,
    pub login: Arc<Login>,
    pub clock: ManualClock,
    pub junk: Arc<Recorded>,
    pub stop: watch::Sender<bool>,
    pub shutdown: watch::Receiver<bool>,
    pub connector: tokio_rustls::TlsConnector,
    pub dir: tempfile::TempDir,
}

/// A context over a fresh store with two accounts (alice and bob, same password).
pub async fn context(options: Options) -> (ImapContext, Parts) {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(T0);
    let store = Mailstore::open_embedded(dir.path(), Arc::new(clock.clone()), 7).unwrap();
    let hasher = PasswordHasher::for_tests();
    store
        .meta()
        .add_domain("example.com", T0, "test")
        .await
        .unwrap();
    for user in [ALICE, BOB] {
        store
            .meta()
            .create_account(
                NewAccount {
                    address: Some(user.parse().unwrap()),
                    password_hash: Some(hasher.hash(PASSWORD).await.unwrap()),
                    ..Default::default()
                },
                T0,
                "test",
            )
            .await
            .unwrap();
    }
    let login = Arc::new(Login::new(
        store.clone(),
        hasher,
        RiskConfig {
            base_delay_ms: 0,
            ..Default::default()
        },
        GeoDb::empty(),
        LoginSettings::for_host("mail.example.com"),
    ));
    let (acceptor, connector) = tls_pair();
    let (stop, shutdown) = watch::channel(false);
    let junk = Arc::new(Recorded::default());
    let ctx = ImapContext {
        hostname: "mail.example.com".into(),
        store: store.clone(),
        login: Arc::clone(&login),
        tls: acceptor,
        implicit_tls: options.implicit_tls,
        shutdown: shutdown.clone(),
        limits: options.limits,
        junk: Some(Arc::clone(&junk) as Arc<dyn JunkFeedback>),
    };
    let parts = Parts {
        store,
        login,
        clock,
        junk,
        stop,
        shutdown,
        connector,
        dir,
    };
    (ctx, parts)
}

fn tls_pair() -> (tokio_rustls::TlsAcceptor, tokio_rustls::TlsConnector) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (
        tokio_rustls::TlsAcceptor::from(Arc::new(server)),
        tokio_rustls::TlsConnector::from(Arc::new(client)),
    )
}

pub async fn deliver(store: &Mailstore, to: &EmailAddress, raw: &str) -> u32 {
    let stored = store
        .deliver(
            NewMessage::new(bytes::Bytes::from(raw.replace('\n', "\r\n"))),
            std::slice::from_ref(to),
            Folder::Inbox,
            "test",
        )
        .await
        .unwrap();
    stored[0].uid
}

pub const MESSAGE: &str = "From: Ann Example <ann@example.org>\n\
To: alice@example.com\n\
Subject: Quarterly numbers\n\
Date: Wed, 18 Nov 2026 09:00:00 +0000\n\
Message-ID: <q3@example.org>\n\
MIME-Version: 1.0\n\
Content-Type: text/plain; charset=utf-8\n\
\n\
The numbers look good.\n";

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A line-based IMAP client. Responses are read line by line; a literal at the end of a line is
/// read and kept in the same "line" (so a FETCH with a body is one entry).
pub struct Client {
    conn: BufReader<Box<dyn Io>>,
    next: u32,
    connector: tokio_rustls::TlsConnector,
    pub greeting: String,
}

const WAIT: Duration = Duration::from_secs(10);

impl Client {
    /// Connects in plain text and reads the greeting.
    pub async fn connect(server: &Server) -> Client {
        let tcp = TcpStream::connect(server.addr).await.unwrap();
        let mut c = Client {
            conn: BufReader::new(Box::new(tcp)),
            next: 1,
            connector: server.connector.clone(),
            greeting: String::new(),
        };
        c.greeting = c.line().await.expect("greeting");
        c
    }

    /// Connects with TLS from the first byte (implicit-TLS listener).
    pub async fn connect_tls(server: &Server) -> Client {
        let tcp = TcpStream::connect(server.addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = server.connector.connect(name, tcp).await.unwrap();
        let mut c = Client {
            conn: BufReader::new(Box::new(tls)),
            next: 1,
            connector: server.connector.clone(),
            greeting: String::new(),
        };
        c.greeting = c.line().await.expect("greeting");
        c
    }

    /// Plain connection, STARTTLS, then LOGIN as `user`.
    pub async fn login(server: &Server, user: &str) -> Client {
        let mut c = Client::connect(server).await;
        c.starttls().await;
        let r = c.cmd(&format!("LOGIN {user} \"{PASSWORD}\"")).await;
        assert!(ok(&r), "{r:?}");
        c
    }

    pub async fn starttls(&mut self) {
        let r = self.cmd("STARTTLS").await;
        assert!(ok(&r), "{r:?}");
        let conn = std::mem::replace(&mut self.conn, BufReader::new(Box::new(tokio::io::empty())));
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = self
            .connector
            .connect(name, conn.into_inner())
            .await
            .unwrap();
        self.conn = BufReader::new(Box::new(tls));
    }

    pub async fn send(&mut self, raw: &[u8]) {
        self.conn.get_mut().write_all(raw).await.unwrap();
        self.conn.get_mut().flush().await.unwrap();
    }

    /// One response line (with any literal it announces), without the final CRLF; `None` at EOF.
    pub async fn line(&mut self) -> Option<String> {
        let out = self.line_bytes().await?;
        Some(String::from_utf8_lossy(&out).into_owned())
    }

    /// [`Client::line`] as bytes (literals may hold anything, `~{n}` literal8 included).
    pub async fn line_bytes(&mut self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let mut buf = Vec::new();
            let n = tokio::time::timeout(WAIT, self.conn.read_until(b'\n', &mut buf))
                .await
                .expect("server answers in time")
                .ok()?;
            if n == 0 {
                return if out.is_empty() { None } else { Some(out) };
            }
            out.extend_from_slice(&buf);
            let text = String::from_utf8_lossy(&buf).into_owned();
            let trimmed = text.trim_end_matches("\r\n");
            if let Some(len) = literal_len(trimmed) {
                let mut data = vec![0u8; len];
                tokio::time::timeout(WAIT, self.conn.read_exact(&mut data))
                    .await
                    .expect("literal in time")
                    .unwrap();
                out.extend_from_slice(&data);
                continue;
            }
            if out.ends_with(b"\r\n") {
                out.truncate(out.len() - 2);
            }
            return Some(out);
        }
    }

    /// Waits up to `wait` for a line; `None` if none came.
    pub async fn line_within(&mut self, wait: Duration) -> Option<String> {
        let mut buf = Vec::new();
        match tokio::time::timeout(wait, self.conn.read_until(b'\n', &mut buf)).await {
            Ok(Ok(n)) if n > 0 => Some(
                String::from_utf8_lossy(&buf)
                    .trim_end_matches("\r\n")
                    .to_string(),
            ),
            _ => None,
        }
    }

    pub fn tag(&mut self) -> String {
        let t = format!("a{}", self.next);
        self.next += 1;
        t
    }

    /// Sends `tag command` and returns every line up to and including the tagged answer.
    pub async fn cmd(&mut self, command: &str) -> Vec<String> {
        let tag = self.tag();
        self.send(format!("{tag} {command}\r\n").as_bytes()).await;
        self.until(&tag).await
    }

    /// Reads lines until the one tagged `tag`.
    pub async fn until(&mut self, tag: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let Some(line) = self.line().await else {
                panic!("connection closed before {tag}; got {lines:?}");
            };
            let done = line.starts_with(&format!("{tag} "));
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    pub async fn select(&mut self, mailbox: &str) -> Vec<String> {
        let r = self.cmd(&format!("SELECT {mailbox}")).await;
        assert!(ok(&r), "{r:?}");
        r
    }
}

fn literal_len(line: &str) -> Option<usize> {
    let inner = line.strip_suffix('}')?;
    let open = inner.rfind('{')?;
    inner[open + 1..].parse().ok()
}

/// The tagged answer (last line) is OK.
pub fn ok(lines: &[String]) -> bool {
    lines
        .last()
        .and_then(|l| l.split(' ').nth(1))
        .is_some_and(|s| s == "OK")
}

pub fn tagged(lines: &[String]) -> &str {
    lines.last().map(String::as_str).unwrap_or("")
}

pub fn has(lines: &[String], needle: &str) -> bool {
    lines.iter().any(|l| l.contains(needle))
}

pub fn loopback() -> IpAddr {
    "127.0.0.1".parse().unwrap()
}
