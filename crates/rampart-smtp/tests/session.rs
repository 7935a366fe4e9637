//! The MX session over real TCP on 127.0.0.1, one behaviour per test.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rampart_model::config::SmtpConfig;
use rampart_model::{EmailAddress, NewAccount, SystemClock};
use rampart_smtp::{SessionContext, SmtpServer};
use rampart_store::Mailstore;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::watch;

struct Server {
    _dir: tempfile::TempDir,
    store: Mailstore,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn addr(s: &str) -> EmailAddress {
    s.parse().unwrap()
}

fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    let cert = rcgen::generate_simple_self_signed(vec!["mx.test".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

async fn start(limits: SmtpConfig) -> Server {
    start_with(limits, None).await
}

async fn start_with(limits: SmtpConfig, scanner: Option<Arc<rampart_scan::Scanner>>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = Mailstore::open_embedded(dir.path(), Arc::new(SystemClock), 7).unwrap();
    let meta = store.meta();
    let now = store.now();
    meta.add_domain("example.com", now, "test").await.unwrap();
    meta.add_domain("例子.中国", now, "test").await.unwrap();
    for (user, quota) in [
        ("alice@example.com", None),
        ("full@example.com", Some(10)),
        ("张三@例子.中国", None),
    ] {
        meta.create_account(
            NewAccount {
                address: Some(addr(user)),
                quota_bytes: quota,
                ..Default::default()
            },
            now,
            "test",
        )
        .await
        .unwrap();
    }
    meta.create_account(
        NewAccount {
            address: Some(addr("gone@example.com")),
            ..Default::default()
        },
        now,
        "test",
    )
    .await
    .unwrap();
    meta.set_disabled(&addr("gone@example.com"), true, now, "test")
        .await
        .unwrap();
    let (stop, shutdown) = watch::channel(false);
    let ctx = SessionContext {
        hostname: "mx.test".into(),
        limits,
        store: store.clone(),
        tls: Some(tls_acceptor()),
        scanner,
        shutdown: shutdown.clone(),
        submission: None,
        implicit_tls: false,
    };
    let server = SmtpServer::bind("127.0.0.1:0", ctx).await.unwrap();
    let addr = server.local_addr().unwrap();
    let task = tokio::spawn(server.run(shutdown));
    Server {
        _dir: dir,
        store,
        addr,
        stop,
        task,
    }
}

async fn default_server() -> Server {
    start(SmtpConfig {
        max_message_size: 64 * 1024,
        max_recipients: 3,
        ..Default::default()
    })
    .await
}

struct Client<S> {
    conn: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    async fn send(&mut self, data: &[u8]) {
        self.conn.get_mut().write_all(data).await.unwrap();
    }

    /// One (possibly multi-line) reply: its code and the full text. Code 0 means the server closed.
    async fn reply(&mut self) -> (u16, String) {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let read =
                tokio::time::timeout(Duration::from_secs(10), self.conn.read_line(&mut line))
                    .await
                    .expect("server replied in time");
            if read.unwrap_or(0) == 0 {
                return (0, text);
            }
            text.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return (line[..3].parse().unwrap(), text);
            }
        }
    }

    async fn cmd(&mut self, line: &str) -> (u16, String) {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    async fn closed(&mut self) -> bool {
        self.reply().await.0 == 0
    }
}

async fn connect(server: &Server) -> Client<TcpStream> {
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let mut c = Client {
        conn: BufReader::new(stream),
    };
    assert_eq!(c.reply().await.0, 220);
    c
}

async fn greeted(server: &Server) -> Client<TcpStream> {
    let mut c = connect(server).await;
    assert_eq!(c.cmd("EHLO client.test").await.0, 250);
    c
}

async fn inbox(server: &Server, user: &str) -> Vec<bytes::Bytes> {
    let user = addr(user);
    let mut out = Vec::new();
    for m in server.store.list(&user, None).await.unwrap() {
        out.push(server.store.raw(&user, m.id).await.unwrap());
    }
    out
}

/// The stored message minus the Received header this server prepended.
fn without_received(raw: &[u8]) -> &[u8] {
    assert!(raw.starts_with(b"Received: "));
    let mut i = 0;
    loop {
        let nl = raw[i..].iter().position(|&b| b == b'\n').unwrap() + i;
        i = nl + 1;
        if raw.get(i) != Some(&b'\t') {
            return &raw[i..];
        }
    }
}

#[tokio::test]
async fn advertises_the_extensions_a_modern_mx_offers() {
    let s = default_server().await;
    let mut c = connect(&s).await;
    let (code, text) = c.cmd("EHLO client.test").await;
    assert_eq!(code, 250);
    for ext in [
        "PIPELINING",
        "SIZE 65536",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "STARTTLS",
        "CHUNKING",
    ] {
        assert!(text.contains(ext), "missing {ext} in {text}");
    }
    assert!(!text.contains("AUTH"), "no AUTH on the MX port");
}

#[tokio::test]
async fn stores_accepted_mail_byte_exact_after_a_received_header() {
    let s = default_server().await;
    let mut c = greeted(&s).await;
    assert_eq!(
        c.cmd("MAIL FROM:<bob@other.org> BODY=8BITMIME").await.0,
        250
    );
    assert_eq!(c.cmd("RCPT TO:<Alice@Example.com>").await.0, 250);
    assert_eq!(c.cmd("DATA").await.0, 354);
    let body = "From: bob@other.org\r\nSubject: =?UTF-8?B?5L2g5aW9?=\r\n\r\n.leading dot\r\n8bit: \u{fc}\r\n\ttrailing space \r\n\r\n";
    let wire = body.replace("\r\n.leading", "\r\n..leading");
    c.send(wire.as_bytes()).await;
    let (code, text) = c.cmd(".").await;
    assert_eq!(code, 250, "{text}");
    assert!(text.starts_with("250 2.0.0"));
    let stored = inbox(&s, "alice@example.com").await;
    assert_eq!(stored.len(), 1);
    let got = without_received(&stored[0]);
    assert_eq!(got, body.as_bytes());
    let header = std::str::from_utf8(&stored[0][..stored[0].len() - got.len()]).unwrap();
    assert!(
        header.contains("from client.test ([127.0.0.1])"),
        "{header}"
    );
    assert!(header.contains("with ESMTP id"), "{header}");
    assert!(header.contains("for <alice@example.com>"), "{header}");
    let list = s
        .store
        .list(&addr("alice@example.com"), None)
        .await
        .unwrap();
    assert_eq!(list[0].subject, "你好");
}

#[tokio::test]
async fn undoes_dot_stuffing_exactly() {
    let s = default_server().await;
    let mut c = greeted(&s).await;
    c.cmd("MAIL FROM:<>").await;
    c.cmd("RCPT TO:<alice@example.com>").await;
    c.cmd("DATA").await;
    // On the wire: ".." -> ".", "..." -> "..", ". x" stays as sent minus one dot.
    c.send(b"Subject: dots\r\n\r\n..\r\n...\r\n.. x\r\nend\r\n")
        .await;
    assert_eq!(c.cmd(".").await.0, 250);
    let stored = inbox(&s, "alice@example.com").await;
    assert_eq!(
        without_received(&stored[0]),
        b"Subject: dots\r\n\r\n.\r\n..\r\n. x\r\nend\r\n"
    );
}

#[tokio::test]
async fn rejects_relay_for_unauthenticated_sender() {
    let s = default_server().await;
    let mut c = greeted(&s).await;
    c.cmd("MAIL FROM:<spammer@evil.test>").await;
    let (code, text) = c.cmd("RCPT TO:<victim@gmail.com>").await;
    assert_eq!((code, text.starts_with("550 5.7.1")), (550, true), "{text}");
    let (code, _) = c.cmd("RCPT TO:<victim@[192.0.2.1]>").await;
    assert_eq!(code, 550);
    let (code, text) = c.cmd("DATA").await;
    assert_eq!(code, 554, "no valid recipients: {text}");
}

#[tokio::test]
async fn refuses_unknown_disabled_and_full_mailboxes_at_rcpt() {
    let s = default_server().await;
    let mut c = greeted(&s).await;
    c.cmd("MAIL FROM:<bob@other.org> SIZE=100").await;
    let (_, text) = c.cmd("RCPT TO:<nobody@example.com>").await;
    assert!(text.starts_with("550 5.1.1"), "{text}");
    let (_, text) = c.cmd("RCPT TO:<gone@example.com>").await;
    assert!(text.starts_with("550 5.2.1"), "{text}");
    let (_, text) = c.cmd("RCPT TO:<full@example.com>").await;
    assert!(text.starts_with("452 4.2.2"), "{text}");
    let (_, text) = c.cmd("RCPT TO:<alice@example.com>").await;
    assert!(text.starts_with("250 2.1.5"), "{text}");
}

#[tokio::test]
async fn enforces_the_size_cap_declared_and_actual() {
    let s = default_server().await;
    let mut c = greeted(&s).await;
    let (_, text) = c.cmd("MAIL FROM:<bob@other.org> SIZE=70000").await;
    assert!(text.starts_with("552 5.3.4"), "{text}");
    c.cmd("MAIL FROM:<bob@other.org>").await;
    c.cmd("RCPT TO:<alice@example.com>").await;
    c.cmd("DATA").await;
    let line = "x".repeat(998) + "\r\n";
    for _ in 0..70 {
        c.send(line.as_bytes()).await;
    }
    let (_, text) = c.cmd(".").await;
    assert!(text.starts_with("552 5.3.4"), "{text}");
    assert!(inbox(&s, "alice@example.com").await.is_empty());
    // The session goes on after a refused message.
    assert_eq!(c.cmd("NOOP").await.0, 250);
}

#[tokio::test]
async fn refuses_bare_lf_in_data_like_postfix_and_stores_nothing() {
    let s = default_server().await;
    let mut c = greeted(&s).await;
    c.cmd("MAIL FROM:<bob@other.org>").await;
    c.cmd("RCPT TO:<alice@example.com>").await;
    c.cmd("DATA").await;
    // The classic smuggling payload: <LF>.<CR><LF> followed by a second transaction.
    c.send(b"Subject: one\r\n\r\nhello\n.\r\nMAIL FROM:<ceo@example.com>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\nSubject: spoofed\r\n\r\nx\r\n.\r\n").await;
    let (code, text) = c.reply().await;
    assert_eq!(code, 521, "{text}");
    assert!(c.closed().await);
    assert!(
        inbox(&s, "alice@example.com").await.is_empty(),
        "neither message is stored"
    );
}

#[tokio::test]
async fn refuses_bare_lf_in_commands() {
    let s = default_server().await;
    let mut c = connect(&s).await;
    c.send(b"EHLO client.test\n").await;
    assert_eq!(c.reply().await.0, 521);
    assert!(c.closed().await);
}

#[tokio::test]
async fn answers_pipelined_commands_in_order() {
    let s = default_server().await;
    let mut c = greeted(&s).await;
    c.send(b"MAIL FROM:<bob@other.org>\r\nRCPT TO:<alice@example.com>\r\nRCPT TO:<nobody@example.com>\r\nDATA\r\n").await;
    assert_eq!(c.reply().await.0, 250);
    assert_eq!(c.reply().await.0, 250);
    assert_eq!(c.reply().await.0, 550);
    assert_eq!(c.reply().await.0, 354);
    c.send(b"Subject: p\r\n\r\nx\r\n.\r\nQUIT\r\n").await;
    assert_eq!(c.reply().await.0, 250);
    assert_eq!(c.reply().await.0, 221);
    assert_eq!(inbox(&s, "alice@example.com").await.len(), 1);
}

#[tokio::test]
async fn accepts_bdat_chunks_byte_exact() {
    let s = default_server().await;
    let mut c = greeted(&s).await;
    c.cmd("MAIL FROM:<bob@other.org>").await;
    c.cmd("RCPT TO:<alice@example.com>").await;
    let part1 = b"Subject: chunks\r\n\r\n.line starting with a dot\n";
    let part2 = b"bare LF is fine in BDAT\r\n";
    c.send(format!("BDAT {}\r\n", part1.len()).as_bytes()).await;
    c.send(part1).await;
    assert_eq!(c.reply().await.0, 250);
    c.send(format!("BDAT {} LAST\r\n", part2.len()).as_bytes())
        .await;
    c.send(part2).await;
    let (code, text) = c.reply().await;
    assert_eq!(code, 250, "{text}");
    let stored = inbox(&s, "alice@example.com").await;
    assert_eq!(
        without_received(&stored[0]),
        [&part1[..], &part2[..]].concat()
    );
}

#[tokio::test]
async fn limits_recipients_per_message() {
    let s = default_server().await;
    let mut c = greeted(&s).await;
    c.cmd("MAIL FROM:<bob@other.org>").await;
    for _ in 0..3 {
        assert_eq!(c.cmd("RCPT TO:<alice@example.com>").await.0, 250);
    }
    let (_, text) = c.cmd("RCPT TO:<alice@example.com>").await;
    assert!(text.starts_with("452 4.5.3"), "{text}");
}

#[tokio::test]
async fn delivers_once_per_account_when_aliases_overlap() {
    let s = default_server().await;
    let now = s.store.now();
    s.store
        .meta()
        .add_alias(
            &addr("info@example.com"),
            &addr("alice@example.com"),
            now,
            "t",
        )
        .await
        .unwrap();
    let mut c = greeted(&s).await;
    c.cmd("MAIL FROM:<bob@other.org>").await;
    assert_eq!(c.cmd("RCPT TO:<alice@example.com>").await.0, 250);
    assert_eq!(c.cmd("RCPT TO:<info@example.com>").await.0, 250);
    c.cmd("DATA").await;
    assert_eq!(c.cmd("Subject: once\r\n\r\nx\r\n.").await.0, 250);
    assert_eq!(inbox(&s, "alice@example.com").await.len(), 1);
}

#[tokio::test]
async fn gives_clear_errors_for_malformed_and_out_of_order_commands() {
    let s = default_server().await;
    let mut c = connect(&s).await;
    let (_, text) = c.cmd("MAIL FROM:<bob@other.org>").await;
    assert!(text.starts_with("503 5.5.1"), "{text}");
    c.cmd("EHLO client.test").await;
    assert!(c
        .cmd("RCPT TO:<alice@example.com>")
        .await
        .1
        .starts_with("503 5.5.1"));
    assert!(c.cmd("FROB").await.1.starts_with("500 5.5.1"));
    assert!(c
        .cmd("MAIL FROM:bob@other.org")
        .await
        .1
        .starts_with("501 5.5.4"));
    assert!(c
        .cmd("MAIL FROM:<bob@other.org> FOO=1")
        .await
        .1
        .starts_with("555 5.5.4"));
    assert!(c
        .cmd("AUTH PLAIN AGJvYgBzZWNyZXQ=")
        .await
        .1
        .starts_with("503 5.5.1"));
    assert!(c.cmd("VRFY alice").await.1.starts_with("252"));
    let long = format!("NOOP {}", "x".repeat(3000));
    assert!(c.cmd(&long).await.1.starts_with("500 5.5.2"));
    c.send(b"NOOP \xff\xfe\r\n").await;
    assert!(c.reply().await.1.starts_with("500 5.5.2"));
    assert_eq!(
        c.cmd("NOOP").await.0,
        250,
        "the session survives all of that"
    );
}

#[tokio::test]
async fn disconnects_after_too_many_errors() {
    let s = start(SmtpConfig {
        max_errors: 3,
        ..Default::default()
    })
    .await;
    let mut c = greeted(&s).await;
    assert_eq!(c.cmd("FROB").await.0, 500);
    assert_eq!(c.cmd("FROB").await.0, 500);
    assert_eq!(c.cmd("FROB").await.0, 500);
    let (_, text) = c.reply().await;
    assert!(text.starts_with("421 4.7.0"), "{text}");
    assert!(c.closed().await);
}

#[tokio::test]
async fn requires_smtputf8_for_international_addresses() {
    let s = default_server().await;
    let mut c = greeted(&s).await;
    c.cmd("MAIL FROM:<bob@other.org>").await;
    assert!(c
        .cmd("RCPT TO:<张三@例子.中国>")
        .await
        .1
        .starts_with("553 5.6.7"));
    c.cmd("RSET").await;
    assert_eq!(c.cmd("MAIL FROM:<李四@例子.中国> SMTPUTF8").await.0, 250);
    assert_eq!(c.cmd("RCPT TO:<张三@例子.中国>").await.0, 250);
    c.cmd("DATA").await;
    assert_eq!(c.cmd("Subject: 你好\r\n\r\n正文\r\n.").await.0, 250);
    let stored = inbox(&s, "张三@例子.中国").await;
    assert!(std::str::from_utf8(&stored[0])
        .unwrap()
        .contains("with UTF8SMTP id"));
}

#[tokio::test]
async fn limits_connections_per_address() {
    let s = start(SmtpConfig {
        max_connections_per_ip: 2,
        ..Default::default()
    })
    .await;
    let _a = connect(&s).await;
    let _b = connect(&s).await;
    let stream = TcpStream::connect(s.addr).await.unwrap();
    let mut third = Client {
        conn: BufReader::new(stream),
    };
    let (code, text) = third.reply().await;
    assert_eq!(code, 421, "{text}");
    drop(_a);
    // The slot comes back when a session ends.
    let mut again = None;
    for _ in 0..50 {
        let stream = TcpStream::connect(s.addr).await.unwrap();
        let mut c = Client {
            conn: BufReader::new(stream),
        };
        if c.reply().await.0 == 220 {
            again = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(again.is_some());
}

#[tokio::test]
async fn disconnects_idle_clients() {
    let s = start(SmtpConfig {
        idle_timeout_secs: 1,
        ..Default::default()
    })
    .await;
    let mut c = greeted(&s).await;
    let (code, text) = c.reply().await;
    assert_eq!(code, 421, "{text}");
    assert!(text.contains("4.4.2"));
}

#[derive(Debug)]
struct AcceptAnyCert;

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[tokio::test]
async fn upgrades_to_tls_with_starttls_and_forgets_the_plaintext_state() {
    let s = default_server().await;
    let mut c = greeted(&s).await;
    c.cmd("MAIL FROM:<bob@other.org>").await;
    assert_eq!(c.cmd("STARTTLS").await.0, 220);
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(AcceptAnyCert))
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = c.conn.into_inner();
    let tls = connector
        .connect("mx.test".try_into().unwrap(), tcp)
        .await
        .unwrap();
    let mut c = Client {
        conn: BufReader::new(tls),
    };
    assert!(
        c.cmd("RCPT TO:<alice@example.com>")
            .await
            .1
            .starts_with("503"),
        "EHLO and MAIL are forgotten"
    );
    let (_, text) = c.cmd("EHLO client.test").await;
    assert!(!text.contains("STARTTLS"), "{text}");
    c.cmd("MAIL FROM:<bob@other.org>").await;
    c.cmd("RCPT TO:<alice@example.com>").await;
    c.cmd("DATA").await;
    assert_eq!(c.cmd("Subject: secret\r\n\r\nx\r\n.").await.0, 250);
    let stored = inbox(&s, "alice@example.com").await;
    let text = std::str::from_utf8(&stored[0]).unwrap();
    assert!(
        text.contains("with ESMTPS id") && text.contains("(using TLSv1_3 with cipher"),
        "{text}"
    );
}

#[tokio::test]
async fn refuses_commands_pipelined_after_starttls() {
    let s = default_server().await;
    let mut c = greeted(&s).await;
    c.send(b"STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n")
        .await;
    let (code, text) = c.reply().await;
    assert_eq!(code, 554, "{text}");
    assert!(c.closed().await);
}

#[tokio::test]
async fn finishes_the_transaction_in_flight_on_shutdown() {
    let mut s = default_server().await;
    let mut busy = greeted(&s).await;
    let mut idle = greeted(&s).await;
    busy.cmd("MAIL FROM:<bob@other.org>").await;
    busy.cmd("RCPT TO:<alice@example.com>").await;
    s.stop.send(true).unwrap();
    let (code, _) = idle.reply().await;
    assert_eq!(code, 421, "an idle session is told to come back later");
    assert_eq!(busy.cmd("DATA").await.0, 354);
    assert_eq!(busy.cmd("Subject: last\r\n\r\nx\r\n.").await.0, 250);
    assert_eq!(busy.reply().await.0, 421, "then the session is closed");
    tokio::time::timeout(Duration::from_secs(5), &mut s.task)
        .await
        .unwrap()
        .unwrap();
    assert!(TcpStream::connect(s.addr).await.is_err(), "listener closed");
    assert_eq!(inbox(&s, "alice@example.com").await.len(), 1);
}

async fn scanning_server(actions: &[(&str, rampart_model::Action)]) -> Server {
    let mut config = rampart_model::config::ScanConfig::default();
    config.dns.enabled = false;
    for (name, action) in actions {
        config.policy.actions.insert(name.to_string(), *action);
    }
    let org = rampart_scan::OrgDirectory {
        local_domains: vec!["example.com".into()],
        people: vec!["Alice Chen".into()],
    };
    let scanner = rampart_scan::Scanner::new(&config, "mx.test", org).unwrap();
    start_with(SmtpConfig::default(), Some(Arc::new(scanner))).await
}

async fn send(c: &mut Client<TcpStream>, body: &str) -> (u16, String) {
    c.cmd("MAIL FROM:<sender@outside.test>").await;
    c.cmd("RCPT TO:<alice@example.com>").await;
    assert_eq!(c.cmd("DATA").await.0, 354);
    c.send(body.as_bytes()).await;
    c.cmd(".").await
}

#[tokio::test]
async fn rejects_gtube_in_session_and_records_why() {
    let s = scanning_server(&[]).await;
    let mut c = greeted(&s).await;
    let gtube = "Subject: test\r\n\r\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n";
    let (code, text) = send(&mut c, gtube).await;
    assert_eq!(code, 550, "{text}");
    assert!(
        text.contains("5.7.1") && text.contains("content.gtube"),
        "{text}"
    );
    assert!(inbox(&s, "alice@example.com").await.is_empty());
    let events = s
        .store
        .meta()
        .list_events(&rampart_store::EventFilter {
            kind: Some(rampart_model::EventKind::MessageRejected),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    let findings = events[0]
        .detail
        .get("findings")
        .cloned()
        .unwrap_or_default();
    assert!(
        findings.split(',').any(|f| f == "content.gtube"),
        "{findings}"
    );
    assert_eq!(c.cmd("NOOP").await.0, 250, "the session goes on");
}

#[tokio::test]
async fn files_impersonation_in_junk_with_verdict_headers_and_drops_forged_ones() {
    let s = scanning_server(&[]).await;
    let mut c = greeted(&s).await;
    let body = "From: \"Alice Chen\" <alice.chen.ceo@gmail.com>\r\nX-Rampart-Verdict: accept; score=-50\r\nSubject: wire\r\n\r\nplease wire today\r\n";
    assert_eq!(send(&mut c, body).await.0, 250);
    let alice = addr("alice@example.com");
    let junk = s
        .store
        .list(&alice, Some(rampart_model::Folder::Junk))
        .await
        .unwrap();
    assert_eq!(junk.len(), 1, "impersonation scores into Junk");
    let raw = s.store.raw(&alice, junk[0].id).await.unwrap();
    let text = std::str::from_utf8(&raw).unwrap();
    assert!(text.starts_with("Received: "), "{text}");
    assert!(
        text.contains("\r\nX-Rampart-Verdict: junk; score=6.0\r\n"),
        "{text}"
    );
    assert!(
        text.contains("X-Rampart-Findings: phish.display_name_impersonation(6.0)"),
        "{text}"
    );
    assert!(
        text.contains("Authentication-Results: mx.test; none"),
        "{text}"
    );
    assert!(
        !text.contains("score=-50"),
        "forged verdict removed: {text}"
    );
    assert!(text.ends_with("Subject: wire\r\n\r\nplease wire today\r\n"));
}

#[tokio::test]
async fn quarantines_what_policy_says_and_releases_it_byte_identical() {
    let s = scanning_server(&[(
        "phish.display_name_impersonation",
        rampart_model::Action::Quarantine,
    )])
    .await;
    let mut c = greeted(&s).await;
    let body = "From: Alice Chen <ceo@gmail.com>\r\nSubject: gift cards\r\n\r\nbuy 10\r\n";
    assert_eq!(
        send(&mut c, body).await.0,
        250,
        "held durably: the sender must not retry"
    );
    assert!(inbox(&s, "alice@example.com").await.is_empty());
    let held = s
        .store
        .meta()
        .list_quarantine(Some(rampart_model::QuarantineStatus::Held))
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    assert!(
        held[0].report.contains("phish.display_name_impersonation"),
        "{}",
        held[0].report
    );
    let original = s.store.quarantined_raw(held[0].id).await.unwrap();
    assert!(original.ends_with(body.as_bytes()));
    s.store.release(held[0].id, "test").await.unwrap();
    assert_eq!(inbox(&s, "alice@example.com").await, vec![original]);
}

#[tokio::test]
async fn rejects_in_session_when_the_senders_dmarc_policy_says_reject() {
    use rampart_scan::checks::auth::SenderAuthentication;
    use rampart_senderauth::{AuthConfig, DnsRecords, SenderAuth};
    // bank.test publishes SPF for 192.0.2.0/24 only and DMARC p=reject; we receive from 127.0.0.1.
    let records = DnsRecords::new()
        .txt("bank.test", "v=spf1 ip4:192.0.2.0/24 -all")
        .txt("_dmarc.bank.test", "v=DMARC1; p=reject");
    let auth = SenderAuth::with_records(&AuthConfig::default(), records).unwrap();
    let org = Arc::new(std::sync::RwLock::new(rampart_scan::OrgDirectory::default()));
    let scanner = rampart_scan::Scanner::with_checks(
        vec![Box::new(SenderAuthentication::new(auth, "mx.test"))],
        rampart_scan::Policy::new(rampart_model::config::PolicyConfig::default()),
        "mx.test",
        org,
    );
    let s = start_with(SmtpConfig::default(), Some(Arc::new(scanner))).await;
    let mut c = greeted(&s).await;
    c.cmd("MAIL FROM:<alerts@bank.test>").await;
    c.cmd("RCPT TO:<alice@example.com>").await;
    c.cmd("DATA").await;
    let (code, text) = c
        .cmd("From: Bank <alerts@bank.test>\r\nSubject: verify\r\n\r\nlog in\r\n.")
        .await;
    assert_eq!(code, 550, "{text}");
    assert!(text.contains("auth.dmarc_reject"), "{text}");
    assert!(inbox(&s, "alice@example.com").await.is_empty());
}
