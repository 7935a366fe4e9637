//! JSON lines, syslog (Unix datagram and UDP) and mail sinks, each against the real thing.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rampart_alert::{
    render_mail, AlertError, AlertSink, BoxFuture, JsonLinesSink, MailSink, MailTransport,
    Severity, SyslogSink, MAX_SYSLOG_MESSAGE,
};
use support::{delivered, spike};
use tokio::net::{UdpSocket, UnixDatagram};

#[tokio::test]
async fn json_lines_appends_one_line_per_alert_in_a_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alerts.jsonl");
    let sink = JsonLinesSink::new(&path, "mx.example.com").unwrap();
    sink.send(&delivered(spike("ana@example.com", 1)))
        .await
        .unwrap();
    let mut second = delivered(spike("bo@example.com", 2));
    second.alert.summary = "line\nbreak".into();
    second.rate_limited = 7;
    sink.send(&second).await.unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.ends_with('\n'));
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["alert"]["account"], "ana@example.com");
    assert_eq!(lines[0]["source"], "mx.example.com");
    assert_eq!(lines[1]["alert"]["summary"], "line\nbreak");
    assert_eq!(lines[1]["rate_limited"], 7);

    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn json_lines_refuses_a_missing_directory() {
    let error = JsonLinesSink::new("/nonexistent-rampart-dir/alerts.jsonl", "mx").unwrap_err();
    assert!(error.to_string().contains("does not exist"), "{error}");
}

#[tokio::test]
async fn json_lines_reports_an_unwritable_file() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the file should be: opening it for append fails.
    let path = dir.path().join("alerts.jsonl");
    std::fs::create_dir(&path).unwrap();
    let sink = JsonLinesSink::new(&path, "mx").unwrap();
    let error = sink
        .send(&delivered(spike("ana@example.com", 1)))
        .await
        .unwrap_err();
    assert!(matches!(error, AlertError::Io { .. }), "{error}");
}

/// Splits `<PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG`.
fn fields(datagram: &[u8]) -> (String, Vec<String>, serde_json::Value) {
    let text = std::str::from_utf8(datagram).unwrap();
    let (pri, rest) = text.strip_prefix('<').unwrap().split_once('>').unwrap();
    let parts: Vec<&str> = rest.splitn(8, ' ').collect();
    assert_eq!(parts.len(), 8, "{text}");
    let msg = serde_json::from_str(parts[7]).unwrap();
    (
        pri.to_string(),
        parts[..7].iter().map(|s| s.to_string()).collect(),
        msg,
    )
}

#[tokio::test]
async fn syslog_over_a_unix_datagram_socket_is_rfc5424_with_auth_facility() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let receiver = UnixDatagram::bind(&path).unwrap();
    let sink = SyslogSink::new(path.to_str().unwrap(), "mx.example.com").unwrap();

    let mut alert = delivered(spike("ana@example.com", 1_700_000_000_123));
    alert.alert.severity = Severity::Critical;
    alert.suppressed = 2;
    sink.send(&alert).await.unwrap();

    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), receiver.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let (pri, header, msg) = fields(&buf[..n]);
    assert_eq!(pri, "34", "auth (4) * 8 + critical (2)");
    assert_eq!(header[0], "1", "RFC 5424 version");
    assert_eq!(header[1], "2023-11-14T22:13:20.123Z");
    assert_eq!(header[2], "mx.example.com");
    assert_eq!(header[3], "rampart");
    assert_eq!(header[4], std::process::id().to_string());
    assert_eq!(header[5], "sending_spike");
    assert_eq!(header[6], "-", "no structured data: the JSON is the MSG");
    assert_eq!(msg["alert"]["key"], "sending_spike:ana@example.com");
    assert_eq!(msg["suppressed"], 2);
}

#[tokio::test]
async fn syslog_over_udp_maps_severity_and_bounds_the_datagram() {
    let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = receiver.local_addr().unwrap().port();
    let sink = SyslogSink::new(&format!("udp:127.0.0.1:{port}"), "mx.example.com").unwrap();

    let mut info = delivered(spike("ana@example.com", 0));
    info.alert.severity = Severity::Info;
    info.alert.details = serde_json::json!({ "blob": "x".repeat(50_000) });
    sink.send(&info).await.unwrap();

    let mut buf = vec![0u8; 65_536];
    let n = tokio::time::timeout(Duration::from_secs(5), receiver.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(n <= MAX_SYSLOG_MESSAGE, "{n} bytes");
    let (pri, _, msg) = fields(&buf[..n]);
    assert_eq!(pri, "38", "auth (4) * 8 + info (6)");
    assert_eq!(msg["alert"]["details"]["truncated"], true);
}

#[tokio::test]
async fn syslog_to_a_missing_socket_fails_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SyslogSink::new(dir.path().join("nothing").to_str().unwrap(), "mx").unwrap();
    let error = sink
        .send(&delivered(spike("ana@example.com", 0)))
        .await
        .unwrap_err();
    assert!(matches!(error, AlertError::Io { .. }), "{error}");
}

/// Keeps each message instead of delivering it.
#[derive(Default)]
struct Outbox(Mutex<Vec<(String, Vec<u8>)>>);

impl MailTransport for Outbox {
    fn send<'a>(&'a self, to: &'a str, raw: Vec<u8>) -> BoxFuture<'a, Result<(), AlertError>> {
        self.0.lock().unwrap().push((to.to_string(), raw));
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn mail_sink_hands_a_plain_text_alert_to_the_transport() {
    let outbox = Arc::new(Outbox::default());
    let sink = MailSink::new(outbox.clone(), "mx.example.com", "Admin@Example.com").unwrap();
    let mut alert = delivered(spike("ana@example.com", 1_700_000_000_000));
    alert.suppressed = 5;
    alert.rate_limited = 2;
    sink.send(&alert).await.unwrap();

    let sent = outbox.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    let (to, raw) = &sent[0];
    assert_eq!(to, "admin@example.com");
    let message = mail_parser::MessageParser::default().parse(raw).unwrap();
    let from = message.from().unwrap().first().unwrap();
    assert_eq!(from.name(), Some("Rampart Security"));
    assert_eq!(from.address(), Some("postmaster@mx.example.com"));
    assert_eq!(
        message.to().unwrap().first().unwrap().address(),
        Some("admin@example.com")
    );
    assert_eq!(
        message.subject(),
        Some("[Rampart alert] ana@example.com sent 240 messages in an hour")
    );
    assert_eq!(
        message.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-generated")
    );
    assert!(message.attachment_count() == 0);
    let body = message.body_text(0).unwrap();
    assert!(body.contains("Severity: warning"), "{body}");
    assert!(body.contains("Account:  ana@example.com"), "{body}");
    assert!(body.contains("messages: 240"), "{body}");
    assert!(body.contains("baseline: 12"), "{body}");
    assert!(body.contains("5 more alert(s) with the same key"), "{body}");
    assert!(body.contains("2 other alert(s)"), "{body}");
}

#[test]
fn rendered_mail_survives_hostile_text() {
    let mut alert = delivered(spike("ana@example.com", i64::MAX));
    alert.alert.summary = "ünïcødé\r\nBcc: x@evil.test\u{0}".repeat(100);
    alert.alert.details = serde_json::json!(["not", "an", "object"]);
    let raw = render_mail(&alert, "mx\r\n.example.com", "admin@example.com");
    let message = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert!(message.header_raw("Bcc").is_none());
    assert!(message
        .subject()
        .unwrap()
        .starts_with("[Rampart alert] ünïcødé"));
    assert!(message
        .body_text(0)
        .unwrap()
        .contains("[\"not\",\"an\",\"object\"]"));
}

#[test]
fn mail_sink_refuses_a_bad_admin_address() {
    let error = MailSink::new(Arc::new(Outbox::default()), "mx", "not an address")
        .err()
        .unwrap();
    assert!(error.to_string().contains("admin_address"), "{error}");
}
