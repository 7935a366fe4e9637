//! Bounces and delay warnings: delivery status notifications (RFC 3464) in a `multipart/report`
//! (RFC 6522), for the sender of a message that failed or is still waiting.
//!
//! [`build`] turns one [`Dsn`] into a complete message with three parts: a `text/plain`
//! explanation in plain words per recipient (what happened, the receiving server's answer, and for
//! a delay until when delivery goes on and that nothing needs doing yet); the machine-readable
//! `message/delivery-status` fields; and the original's header section as `text/rfc822-headers`.
//! The original *body* is never returned: it may carry the very data that was refused (a leak a
//! DLP rule stopped, malware a receiver rejected), and the sender has it anyway. The header
//! section is cut at 64 KiB, at a field boundary.
//!
//! Everything that came from outside (the remote server's reply, host names, addresses, the
//! original subject) is cleaned before it reaches a header or field: control characters including
//! CR and LF become spaces and lengths are bounded, so a reply like `550 no\r\nBcc: x` stays one
//! line of text. The MIME structure and all encoding is mail-builder's.
//!
//! The notice goes out with an empty reverse-path (`MAIL FROM:<>`, RFC 5321 §4.5.5) so that it
//! never bounces itself; that, and never building one for a message whose own reverse-path was
//! empty, is the caller's part. It carries `Auto-Submitted: auto-replied` (RFC 3834).
//!
//! ```
//! use rampart_outbound::dsn::{self, Dsn, DsnAction, DsnRecipient};
//!
//! let original = b"From: ann@example.com\r\nTo: bob@example.net\r\nSubject: Hi\r\n\r\nbody\r\n";
//! let bounce = dsn::build(&Dsn {
//!     reporting_mta: "mail.example.com",
//!     to: "ann@example.com",
//!     original,
//!     arrival: 1_772_445_600,
//!     queue_id: "q1",
//!     recipients: vec![DsnRecipient {
//!         recipient: "bob@example.net".into(),
//!         action: DsnAction::Failed,
//!         status: "5.1.1".into(),
//!         diagnostic: Some("550 5.1.1 No such user".into()),
//!         remote_mta: Some("mx.example.net".into()),
//!         last_attempt: Some(1_772_445_660),
//!         will_retry_until: None,
//!     }],
//!     now: 1_772_445_660,
//! });
//! assert!(bounce.starts_with(b"From: "));
//! ```

use std::fmt::Write as _;

use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::Header;
use mail_builder::mime::{make_boundary, BodyPart, MimePart};
use mail_builder::MessageBuilder;
use mail_parser::MessageParser;

/// At most this much of the original's header section is returned.
const MAX_RETURNED_HEADERS: usize = 64 * 1024;
/// Bound on a remote server's reply as quoted (longer replies are cut, marked with `...`).
const MAX_DIAGNOSTIC: usize = 900;
/// Bound on an address, host name or queue id taken into the report.
const MAX_NAME: usize = 320;
/// Bound on the original subject as repeated in the notice's subject.
const MAX_SUBJECT: usize = 200;

/// What happened to one recipient (RFC 3464 §2.3.3; `delivered`, `relayed` and `expanded` are
/// never reported by this server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsnAction {
    /// Delivery failed for good: the message will not be retried.
    Failed,
    /// Delivery has not succeeded yet and is still being retried.
    Delayed,
}

impl DsnAction {
    fn field(self) -> &'static str {
        match self {
            DsnAction::Failed => "failed",
            DsnAction::Delayed => "delayed",
        }
    }
}

/// One recipient's line in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsnRecipient {
    /// The envelope recipient (RCPT TO), reported as `Final-Recipient`.
    pub recipient: String,
    /// Failed for good, or still being retried.
    pub action: DsnAction,
    /// The enhanced status code (RFC 3463), e.g. `5.1.1`. Anything that is not one becomes
    /// `5.0.0` for a failure and `4.0.0` for a delay.
    pub status: String,
    /// What the receiving server answered (`550 5.1.1 No such user`; several reply lines are
    /// joined), reported as `Diagnostic-Code: smtp; ...`. Text that is not an SMTP reply (a local
    /// reason such as "no MX host accepts mail") is reported under the `X-Rampart` type instead.
    pub diagnostic: Option<String>,
    /// The host that answered, reported as `Remote-MTA: dns; ...`.
    pub remote_mta: Option<String>,
    /// When delivery was last attempted, unix seconds.
    pub last_attempt: Option<i64>,
    /// For [`DsnAction::Delayed`]: until when delivery is retried, unix seconds.
    pub will_retry_until: Option<i64>,
}

/// A delivery status notification to build: the message it is about and its recipients.
#[derive(Debug, Clone)]
pub struct Dsn<'a> {
    /// This server's host name: the notice comes from `MAILER-DAEMON@<reporting_mta>` and the
    /// report names it as `Reporting-MTA`.
    pub reporting_mta: &'a str,
    /// Where the notice goes: the original's envelope sender (never empty: a message with an
    /// empty reverse-path is not bounced).
    pub to: &'a str,
    /// The original message; only its header section is returned.
    pub original: &'a [u8],
    /// When the original was accepted, unix seconds (`Arrival-Date`).
    pub arrival: i64,
    /// The queue's id for the original (`X-Queue-ID`), for support requests.
    pub queue_id: &'a str,
    /// The recipients the notice is about (at least one); the others are not mentioned.
    pub recipients: Vec<DsnRecipient>,
    /// The time the notice is dated, unix seconds.
    pub now: i64,
}

/// Builds the notice: a complete RFC 5322 message, CRLF line endings, ready to queue.
///
/// Its subject says "Undelivered Mail Returned to Sender" when any recipient failed and "Delayed
/// Mail (still being retried)" otherwise, followed by the original subject.
pub fn build(dsn: &Dsn) -> Vec<u8> {
    let host = host_name(dsn.reporting_mta).unwrap_or_else(|| "localhost".to_string());
    let headers = header_section(dsn.original);
    let original_subject = MessageParser::new()
        .parse_headers(&headers)
        .and_then(|m| m.subject().map(|s| clean(s, MAX_SUBJECT, false)))
        .filter(|s| !s.is_empty());
    let any_failed = dsn.recipients.iter().any(|r| r.action == DsnAction::Failed);
    let mut subject = if any_failed {
        "Undelivered Mail Returned to Sender".to_string()
    } else {
        "Delayed Mail (still being retried)".to_string()
    };
    if let Some(original) = &original_subject {
        subject.push_str(": ");
        subject.push_str(original);
    }

    let report = MimePart::new(
        ContentType::new("multipart/report").attribute("report-type", "delivery-status"),
        vec![
            MimePart::new("text/plain", BodyPart::Text(explanation(dsn, &host).into())),
            MimePart::new(
                "message/delivery-status",
                BodyPart::Binary(delivery_status(dsn, &host).into()),
            )
            // Every field is cleaned to printable ASCII and folded: 7bit as RFC 3464 asks.
            .transfer_encoding("7bit"),
            MimePart::new("text/rfc822-headers", BodyPart::Binary(headers.into())),
        ],
    );

    MessageBuilder::new()
        .from(Address::new_address(
            Some("Mail Delivery System"),
            format!("MAILER-DAEMON@{host}"),
        ))
        .to(Address::new_address(
            None::<&str>,
            clean(dsn.to, MAX_NAME, false),
        ))
        .subject(subject)
        .date(Date::new(dsn.now))
        .message_id(MessageId::new(format!("{}@{host}", make_boundary("."))))
        .header("Auto-Submitted", Raw::new("auto-replied"))
        .body(report)
        .write_to_vec()
        .unwrap_or_default()
}

/// Part 1: what happened, in words, recipient by recipient.
fn explanation(dsn: &Dsn, host: &str) -> String {
    let failed: Vec<&DsnRecipient> = dsn
        .recipients
        .iter()
        .filter(|r| r.action == DsnAction::Failed)
        .collect();
    let delayed: Vec<&DsnRecipient> = dsn
        .recipients
        .iter()
        .filter(|r| r.action == DsnAction::Delayed)
        .collect();

    let mut text = format!("This is the mail system at {host}.\n\n");
    let _ = writeln!(
        text,
        "Your message of {}\nhas not reached all of its recipients.",
        Date::new(dsn.arrival).to_rfc822()
    );
    if !failed.is_empty() {
        text.push_str(
            "\nIt could NOT be delivered to the following recipients, and will not be\n\
             retried. Check the addresses; the receiving server's answer below often\n\
             says what is wrong.\n",
        );
        for recipient in failed {
            describe(&mut text, recipient);
        }
    }
    if !delayed.is_empty() {
        text.push_str(
            "\nIt has NOT YET been delivered to the following recipients. Delivery is\n\
             being retried; no action is needed yet. You will be told if it finally\n\
             fails.\n",
        );
        for recipient in delayed {
            describe(&mut text, recipient);
        }
    }
    let _ = write!(
        text,
        "\nThe headers of your message are attached (not its content).\n\
         If you ask your administrator for help, quote queue ID {}.\n",
        clean(dsn.queue_id, MAX_NAME, true)
    );
    text.replace('\n', "\r\n")
}

fn describe(text: &mut String, recipient: &DsnRecipient) {
    let _ = writeln!(
        text,
        "\n  <{}>",
        clean(&recipient.recipient, MAX_NAME, false)
    );
    let server = recipient.remote_mta.as_deref().and_then(host_name);
    match (recipient.diagnostic.as_deref(), &server) {
        (Some(reply), Some(server)) => {
            let _ = writeln!(
                text,
                "    The receiving server {server} answered:\n      {}",
                clean(reply, MAX_DIAGNOSTIC, false)
            );
        }
        (Some(reason), None) => {
            let _ = writeln!(text, "    Reason: {}", clean(reason, MAX_DIAGNOSTIC, false));
        }
        (None, Some(server)) => {
            let _ = writeln!(text, "    Last tried with the server {server}.");
        }
        (None, None) => {}
    }
    if let Some(at) = recipient.last_attempt {
        let _ = writeln!(text, "    Last attempt: {}", Date::new(at).to_rfc822());
    }
    if recipient.action == DsnAction::Delayed {
        match recipient.will_retry_until {
            Some(until) => {
                let _ = writeln!(
                    text,
                    "    Delivery will be retried until {}.",
                    Date::new(until).to_rfc822()
                );
            }
            None => text.push_str("    Delivery will be retried.\n"),
        }
    }
}

/// Part 2: the `message/delivery-status` fields, one per-message group and one group per
/// recipient, each field folded by mail-builder.
fn delivery_status(dsn: &Dsn, host: &str) -> Vec<u8> {
    let mut out = Vec::new();
    field(&mut out, "Reporting-MTA", &format!("dns; {host}"));
    let queue_id = clean(dsn.queue_id, MAX_NAME, true);
    if !queue_id.is_empty() {
        field(&mut out, "X-Queue-ID", &queue_id);
    }
    field(
        &mut out,
        "Arrival-Date",
        &Date::new(dsn.arrival).to_rfc822(),
    );
    for recipient in &dsn.recipients {
        out.extend_from_slice(b"\r\n");
        field(
            &mut out,
            "Final-Recipient",
            &final_recipient(&recipient.recipient),
        );
        field(&mut out, "Action", recipient.action.field());
        field(&mut out, "Status", &status_code(recipient));
        if let Some(server) = recipient.remote_mta.as_deref().and_then(host_name) {
            field(&mut out, "Remote-MTA", &format!("dns; {server}"));
        }
        if let Some(diagnostic) = &recipient.diagnostic {
            let text = clean(diagnostic, MAX_DIAGNOSTIC, true);
            if !text.is_empty() {
                let kind = if is_smtp_reply(&text) {
                    "smtp"
                } else {
                    "X-Rampart"
                };
                field(&mut out, "Diagnostic-Code", &format!("{kind}; {text}"));
            }
        }
        if let Some(at) = recipient.last_attempt {
            field(&mut out, "Last-Attempt-Date", &Date::new(at).to_rfc822());
        }
        if let (DsnAction::Delayed, Some(until)) = (recipient.action, recipient.will_retry_until) {
            field(&mut out, "Will-Retry-Until", &Date::new(until).to_rfc822());
        }
    }
    out
}

/// Writes `name: value` CRLF, folded; `value` is already clean.
fn field(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    Raw::new(value).write_header(out, name.len() + 2);
}

/// `rfc822; addr` for an ASCII address; `utf-8; ...` for an internationalised one, with every
/// character outside printable ASCII (and `+`, `=`, `\`) written as `\x{HEX}` (RFC 6533 §3),
/// stopping before the field could outgrow a line.
fn final_recipient(address: &str) -> String {
    let address = clean(address, MAX_NAME, false);
    if address.is_ascii() {
        return format!("rfc822; {address}");
    }
    let mut encoded = String::from("utf-8; ");
    let mut escape = String::new();
    for c in address.chars() {
        escape.clear();
        if c.is_ascii_graphic() && !matches!(c, '+' | '=' | '\\') {
            escape.push(c);
        } else {
            let _ = write!(escape, "\\x{{{:X}}}", u32::from(c));
        }
        if encoded.len() + escape.len() > MAX_DIAGNOSTIC {
            break;
        }
        encoded.push_str(&escape);
    }
    encoded
}

/// The recipient's status if it is an enhanced status code (`class.subject.detail`, class 2, 4
/// or 5, at most 3 digits per sub-code), else the generic code for its action.
fn status_code(recipient: &DsnRecipient) -> String {
    let status = recipient.status.trim();
    let mut parts = status.split('.');
    let valid = matches!(parts.next(), Some("2" | "4" | "5"))
        && parts.clone().count() == 2
        && parts.all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    if valid {
        return status.to_string();
    }
    match recipient.action {
        DsnAction::Failed => "5.0.0".to_string(),
        DsnAction::Delayed => "4.0.0".to_string(),
    }
}

/// Whether `text` starts like an SMTP reply: a 2xx-5xx code, then a space, hyphen or the end.
fn is_smtp_reply(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 3
        && matches!(bytes[0], b'2'..=b'5')
        && bytes[1..3].iter().all(u8::is_ascii_digit)
        && matches!(bytes.get(3), None | Some(b' ' | b'-'))
}

/// A host name or address literal as it may appear after `dns;`: letters, digits, `.-_:[]`,
/// bounded. `None` when nothing is left.
fn host_name(name: &str) -> Option<String> {
    let host: String = name
        .trim()
        .trim_end_matches('.')
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '[' | ']'))
        .take(255)
        .collect();
    (!host.is_empty()).then_some(host)
}

/// Makes outside text safe for one header line: every control character (CR and LF included)
/// becomes a space, runs of white space collapse, at most `max` characters remain (`...` marks a
/// cut). With `ascii_only`, other non-ASCII characters become `?`.
fn clean(text: &str, max: usize, ascii_only: bool) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    let mut count = 0;
    let mut pending_space = false;
    for c in text.chars() {
        let c = if ascii_only && !c.is_ascii() { '?' } else { c };
        if c.is_control() || c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if count + usize::from(pending_space) + 1 > max {
            out.push_str("...");
            return out;
        }
        if pending_space {
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// The original's header section, CRLF-terminated lines, ending where the first line that is
/// neither a field nor a continuation appears (the blank line, or a body some parser would see
/// there) and cut at a field boundary to at most [`MAX_RETURNED_HEADERS`] bytes.
fn header_section(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut field_start = 0;
    for line in message.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let continuation = matches!(line.first(), Some(b' ' | b'\t'));
        if continuation {
            if out.is_empty() {
                break;
            }
        } else if is_field_start(line) {
            field_start = out.len();
        } else {
            break;
        }
        if out.len() + line.len() + 2 > MAX_RETURNED_HEADERS {
            out.truncate(field_start);
            break;
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// `name:` with a name of printable ASCII other than `:` (RFC 5322 §3.6.8).
fn is_field_start(line: &[u8]) -> bool {
    match line.iter().position(|&b| b == b':') {
        Some(0) | None => false,
        Some(colon) => line[..colon].iter().all(|&b| (33..=126).contains(&b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_flattens_control_characters_and_bounds_length() {
        assert_eq!(clean("550 no\r\nBcc: x", 100, false), "550 no Bcc: x");
        assert_eq!(clean("  a\t\tb \u{7}c  ", 100, false), "a b c");
        assert_eq!(clean("abcdef", 3, false), "abc...");
        assert_eq!(clean("héllo", 100, true), "h?llo");
        assert_eq!(clean("héllo", 100, false), "héllo");
    }

    #[test]
    fn status_codes_are_checked() {
        let mut recipient = DsnRecipient {
            recipient: "a@b.c".into(),
            action: DsnAction::Delayed,
            status: "4.4.1".into(),
            diagnostic: None,
            remote_mta: None,
            last_attempt: None,
            will_retry_until: None,
        };
        assert_eq!(status_code(&recipient), "4.4.1");
        for bad in [
            "",
            "4.4",
            "6.1.1",
            "4.4.1.1",
            "4.x.1",
            "4.4.1\r\nX: y",
            "4.1234.1",
        ] {
            recipient.status = bad.into();
            assert_eq!(status_code(&recipient), "4.0.0", "{bad:?}");
        }
    }

    #[test]
    fn smtp_replies_are_recognised() {
        assert!(is_smtp_reply("550 5.1.1 no"));
        assert!(is_smtp_reply("421-busy"));
        assert!(!is_smtp_reply("no MX host"));
        assert!(!is_smtp_reply("6000 x"));
    }

    #[test]
    fn internationalised_recipients_use_the_utf8_address_type() {
        assert_eq!(
            final_recipient("bob@example.net"),
            "rfc822; bob@example.net"
        );
        assert_eq!(
            final_recipient("jörg+x@example.de"),
            "utf-8; j\\x{F6}rg\\x{2B}x@example.de"
        );
        let long = final_recipient(&"ö".repeat(300));
        assert!(
            long.len() <= MAX_DIAGNOSTIC && long.ends_with("\\x{F6}"),
            "{long}"
        );
    }

    #[test]
    fn header_section_stops_at_the_body_and_at_the_limit() {
        assert_eq!(
            header_section(b"A: 1\nB: 2\n continued\n\nbody: not a header\n"),
            b"A: 1\r\nB: 2\r\n continued\r\n"
        );
        assert_eq!(
            header_section(b"A: 1\r\nnot a field\r\nB: 2\r\n"),
            b"A: 1\r\n"
        );
        assert_eq!(header_section(b" folded first\r\nA: 1\r\n\r\n"), b"");

        let long = format!("X-Long: {}\r\n", "a".repeat(1000));
        let mut message = long.repeat(100);
        message.push_str("\r\nbody");
        let section = header_section(message.as_bytes());
        assert!(section.len() <= MAX_RETURNED_HEADERS);
        assert_eq!(section.len() % long.len(), 0, "cut at a field boundary");
    }
}
