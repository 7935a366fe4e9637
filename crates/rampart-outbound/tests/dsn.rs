//! Bounces and delay notices, read back with mail-parser.

use mail_parser::{HeaderName, Message, MessageParser, MimeHeaders, PartType};
use rampart_outbound::dsn::{self, Dsn, DsnAction, DsnRecipient};

const ORIGINAL: &[u8] = concat!(
    "From: Ann <ann@example.com>\r\n",
    "To: bob@example.net, carol@example.org\r\n",
    "Subject: Payroll for March\r\n",
    "Message-ID: <payroll@example.com>\r\n",
    "Content-Type: text/plain\r\n",
    "\r\n",
    "SECRET-BODY-LINE account 4111 1111 1111 1111\r\n",
)
.as_bytes();

const ARRIVAL: i64 = 1_772_445_600; // Mon, 2 Mar 2026 10:00:00 +0000
const NOW: i64 = ARRIVAL + 3600;

fn failed(recipient: &str, diagnostic: &str) -> DsnRecipient {
    DsnRecipient {
        recipient: recipient.into(),
        action: DsnAction::Failed,
        status: "5.1.1".into(),
        diagnostic: Some(diagnostic.into()),
        remote_mta: Some("mx.example.net".into()),
        last_attempt: Some(NOW - 60),
        will_retry_until: None,
    }
}

fn delayed(recipient: &str) -> DsnRecipient {
    DsnRecipient {
        recipient: recipient.into(),
        action: DsnAction::Delayed,
        status: "4.7.1".into(),
        diagnostic: Some("451 4.7.1 Greylisted, try again later".into()),
        remote_mta: Some("mx.example.org".into()),
        last_attempt: Some(NOW - 30),
        will_retry_until: Some(ARRIVAL + 5 * 86_400),
    }
}

fn build(recipients: Vec<DsnRecipient>) -> Vec<u8> {
    dsn::build(&Dsn {
        reporting_mta: "mail.example.com",
        to: "ann@example.com",
        original: ORIGINAL,
        arrival: ARRIVAL,
        queue_id: "0001abcd",
        recipients,
        now: NOW,
    })
}

fn parse(raw: &[u8]) -> Message<'_> {
    MessageParser::new().parse(raw).expect("the notice parses")
}

/// The text of the part at `index` (decoded), whatever type mail-parser gave it.
fn part_text(message: &Message<'_>, index: usize) -> String {
    let part = message.part(index as u32).expect("part exists");
    match &part.body {
        PartType::Text(text) | PartType::Html(text) => text.to_string(),
        PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
            String::from_utf8_lossy(bytes).into_owned()
        }
        other => panic!("unexpected part body {other:?}"),
    }
}

/// The field groups of the `message/delivery-status` part: per-message first, then one per
/// recipient, each a list of (lower-case name, value) with folds unfolded.
fn status_groups(message: &Message<'_>) -> Vec<Vec<(String, String)>> {
    let text = part_text(message, 2).replace("\r\n", "\n");
    let mut groups = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in block.lines() {
            if line.starts_with([' ', '\t']) {
                let last = fields.last_mut().expect("continuation after a field");
                last.1.push(' ');
                last.1.push_str(line.trim());
            } else {
                let (name, value) = line.split_once(':').expect("a field");
                fields.push((name.to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        groups.push(fields);
    }
    groups
}

fn get<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn bounce_is_a_three_part_delivery_status_report() {
    let raw = build(vec![failed(
        "bob@example.net",
        "550 5.1.1 <bob@example.net>: No such user",
    )]);
    let message = parse(&raw);

    let from = message.from().unwrap().first().unwrap();
    assert_eq!(from.address(), Some("MAILER-DAEMON@mail.example.com"));
    assert_eq!(from.name(), Some("Mail Delivery System"));
    assert_eq!(
        message.to().unwrap().first().unwrap().address(),
        Some("ann@example.com")
    );
    assert_eq!(
        message.subject(),
        Some("Undelivered Mail Returned to Sender: Payroll for March")
    );
    assert_eq!(
        message.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-replied")
    );
    assert!(message.date().is_some());
    assert!(message.message_id().unwrap().ends_with("@mail.example.com"));

    let root = message.root_part();
    let content_type = root.content_type().unwrap();
    assert_eq!(
        (content_type.ctype(), content_type.subtype()),
        ("multipart", Some("report"))
    );
    assert_eq!(
        content_type.attribute("report-type"),
        Some("delivery-status")
    );
    let PartType::Multipart(children) = &root.body else {
        panic!("multipart body expected");
    };
    let types: Vec<String> = children
        .iter()
        .map(|&i| {
            let ct = message.part(i).unwrap().content_type().unwrap();
            format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default())
        })
        .collect();
    assert_eq!(
        types,
        [
            "text/plain",
            "message/delivery-status",
            "text/rfc822-headers"
        ]
    );

    let explanation = part_text(&message, 1);
    assert!(explanation.contains("bob@example.net"), "{explanation}");
    assert!(
        explanation.contains("mx.example.net answered"),
        "{explanation}"
    );
    assert!(
        explanation.contains("550 5.1.1 <bob@example.net>: No such user"),
        "{explanation}"
    );
    assert!(explanation.contains("will not be"), "{explanation}");

    let groups = status_groups(&message);
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert_eq!(
        get(&groups[0], "reporting-mta"),
        Some("dns; mail.example.com")
    );
    assert_eq!(get(&groups[0], "x-queue-id"), Some("0001abcd"));
    assert_eq!(
        get(&groups[0], "arrival-date"),
        Some("Mon, 2 Mar 2026 10:00:00 +0000")
    );
    let bob = &groups[1];
    assert_eq!(get(bob, "final-recipient"), Some("rfc822; bob@example.net"));
    assert_eq!(get(bob, "action"), Some("failed"));
    assert_eq!(get(bob, "status"), Some("5.1.1"));
    assert_eq!(get(bob, "remote-mta"), Some("dns; mx.example.net"));
    assert_eq!(
        get(bob, "diagnostic-code"),
        Some("smtp; 550 5.1.1 <bob@example.net>: No such user")
    );
    assert!(get(bob, "last-attempt-date").is_some());
    assert_eq!(get(bob, "will-retry-until"), None);

    let headers = part_text(&message, 3);
    assert!(headers.contains("Subject: Payroll for March"), "{headers}");
    assert!(
        headers.contains("Message-ID: <payroll@example.com>"),
        "{headers}"
    );
}

#[test]
fn original_body_is_never_returned() {
    let raw = build(vec![failed("bob@example.net", "550 5.7.1 Message refused")]);
    let text = String::from_utf8_lossy(&raw);
    assert!(!text.contains("SECRET-BODY-LINE"), "{text}");
    assert!(!text.contains("4111"), "{text}");
    // Not even encoded: no part but the three.
    let message = parse(&raw);
    for index in 1..=3 {
        assert!(!part_text(&message, index).contains("SECRET"));
    }
    assert!(message.part(4).is_none());
}

#[test]
fn delay_notice_says_until_when_and_that_nothing_is_needed_yet() {
    let raw = build(vec![delayed("carol@example.org")]);
    let message = parse(&raw);
    assert_eq!(
        message.subject(),
        Some("Delayed Mail (still being retried): Payroll for March")
    );
    let explanation = part_text(&message, 1);
    assert!(
        explanation.contains("no action is needed yet"),
        "{explanation}"
    );
    assert!(
        explanation.contains("retried until Sat, 7 Mar 2026 10:00:00 +0000"),
        "{explanation}"
    );
    assert!(
        explanation.contains("451 4.7.1 Greylisted"),
        "{explanation}"
    );

    let groups = status_groups(&message);
    let carol = &groups[1];
    assert_eq!(get(carol, "action"), Some("delayed"));
    assert_eq!(get(carol, "status"), Some("4.7.1"));
    assert_eq!(
        get(carol, "will-retry-until"),
        Some("Sat, 7 Mar 2026 10:00:00 +0000")
    );
}

#[test]
fn one_notice_reports_each_recipient() {
    let raw = build(vec![
        failed("bob@example.net", "550 5.1.1 No such user"),
        delayed("carol@example.org"),
    ]);
    let message = parse(&raw);
    assert!(message
        .subject()
        .unwrap()
        .starts_with("Undelivered Mail Returned to Sender"));
    let groups = status_groups(&message);
    assert_eq!(groups.len(), 3);
    assert_eq!(
        get(&groups[1], "final-recipient"),
        Some("rfc822; bob@example.net")
    );
    assert_eq!(
        get(&groups[2], "final-recipient"),
        Some("rfc822; carol@example.org")
    );
    let explanation = part_text(&message, 1);
    assert!(explanation.contains("NOT be delivered") && explanation.contains("NOT YET"));
}

#[test]
fn remote_reply_cannot_inject_headers_or_fields() {
    let evil = "550 5.1.1 no\r\nBcc: victim@example.org\r\n\r\nAction: delivered\nX-Injected: yes";
    let mut recipient = failed("bob@example.net", evil);
    recipient.remote_mta = Some("mx.example.net\r\nBcc: victim@example.org".into());
    recipient.recipient = "bob@example.net\r\nBcc: victim@example.org".into();
    recipient.status = "5.1.1\r\nBcc: x".into();
    let raw = dsn::build(&Dsn {
        reporting_mta: "mail.example.com\r\nBcc: x",
        to: "ann@example.com\r\nBcc: victim@example.org",
        original: ORIGINAL,
        arrival: ARRIVAL,
        queue_id: "q\r\nBcc: x",
        recipients: vec![recipient],
        now: NOW,
    });
    let message = parse(&raw);
    assert!(message.header(HeaderName::Bcc).is_none());
    assert!(message.header_raw("X-Injected").is_none());
    let text = String::from_utf8_lossy(&raw);
    for line in text.lines() {
        assert!(
            !line.starts_with("Bcc:") && !line.starts_with("X-Injected"),
            "{line:?} in\n{text}"
        );
    }

    let groups = status_groups(&message);
    assert_eq!(groups.len(), 2, "no extra recipient group: {groups:?}");
    let bob = &groups[1];
    assert_eq!(get(bob, "action"), Some("failed"));
    assert_eq!(
        get(bob, "status"),
        Some("5.0.0"),
        "an invalid status falls back"
    );
    assert!(
        bob.iter()
            .all(|(name, _)| name != "bcc" && name != "x-injected"),
        "{bob:?}"
    );
    let diagnostic = get(bob, "diagnostic-code").unwrap();
    assert!(
        diagnostic.starts_with("smtp; 550 5.1.1 no Bcc:"),
        "{diagnostic}"
    );
}

#[test]
fn long_replies_and_non_smtp_reasons_are_bounded_and_typed() {
    let mut recipient = failed("bob@example.net", &"550 ".repeat(2000));
    recipient.remote_mta = None;
    let mut local = failed(
        "dan@nowhere.invalid",
        "no MX or A record for nowhere.invalid",
    );
    local.remote_mta = None;
    let raw = build(vec![recipient, local]);
    let message = parse(&raw);
    let groups = status_groups(&message);
    let long = get(&groups[1], "diagnostic-code").unwrap();
    assert!(long.len() < 1000 && long.ends_with("..."), "{}", long.len());
    assert_eq!(get(&groups[1], "remote-mta"), None);
    assert_eq!(
        get(&groups[2], "diagnostic-code"),
        Some("X-Rampart; no MX or A record for nowhere.invalid")
    );
    // Folded, but no line of the report is longer than RFC 5322's limit.
    assert!(String::from_utf8_lossy(&raw)
        .lines()
        .all(|l| l.len() <= 998));
}

#[test]
fn header_only_original_without_subject_and_huge_headers_are_handled() {
    let mut original = String::from("From: ann@example.com\r\n");
    for i in 0..2000 {
        original.push_str(&format!("X-Filler-{i}: {}\r\n", "x".repeat(60)));
    }
    original.push_str("\r\nSECRET-BODY-LINE\r\n");
    let raw = dsn::build(&Dsn {
        reporting_mta: "mail.example.com",
        to: "ann@example.com",
        original: original.as_bytes(),
        arrival: ARRIVAL,
        queue_id: "",
        recipients: vec![failed("bob@example.net", "550 5.1.1 No such user")],
        now: NOW,
    });
    let message = parse(&raw);
    assert_eq!(
        message.subject(),
        Some("Undelivered Mail Returned to Sender")
    );
    let headers = part_text(&message, 3);
    assert!(headers.len() <= 64 * 1024 + 1024, "{}", headers.len());
    assert!(headers.starts_with("From: ann@example.com"));
    assert!(!String::from_utf8_lossy(&raw).contains("SECRET-BODY-LINE"));
    assert_eq!(get(&status_groups(&message)[0], "x-queue-id"), None);
}

#[test]
fn internationalised_subject_and_recipient_survive() {
    let original = "From: ann@example.com\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\nbody\r\n";
    let raw = dsn::build(&Dsn {
        reporting_mta: "mail.example.com",
        to: "ann@example.com",
        original: original.as_bytes(),
        arrival: ARRIVAL,
        queue_id: "q",
        recipients: vec![failed("jörg@example.de", "550 5.1.1 unknown")],
        now: NOW,
    });
    assert!(raw.is_ascii(), "every header and part is encoded");
    let message = parse(&raw);
    assert_eq!(
        message.subject(),
        Some("Undelivered Mail Returned to Sender: Grüße")
    );
    assert!(part_text(&message, 1).contains("jörg@example.de"));
    assert_eq!(
        get(&status_groups(&message)[1], "final-recipient"),
        Some("utf-8; j\\x{F6}rg@example.de")
    );
}
