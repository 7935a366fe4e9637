//! From a stored message to what the index holds of it.

use std::panic::catch_unwind;

use mail_parser::{Address, Message, MessageParser};
use rampart_extract::Limits;
use rampart_scan::Mail;
use serde::{Deserialize, Serialize};

/// Text of the bodies indexed per message; the rest is not searchable.
pub const MAX_BODY_TEXT: usize = 512 * 1024;
/// Text of bodies and attachments together indexed per message.
pub const MAX_TEXT: usize = 1024 * 1024;
/// Longest subject indexed and stored.
const MAX_SUBJECT: usize = 4 * 1024;
/// Longest `from` indexed and stored (it is shown in every hit).
const MAX_FROM: usize = 1024;
/// Most recipients indexed per message (a list expansion can name thousands).
const MAX_RECIPIENTS: usize = 1_000;
/// Longest `Message-ID` kept (RFC 5322's line limit).
const MAX_MESSAGE_ID: usize = 998;

/// One archived message as the index sees it. `id` is the archive store's row id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveDoc {
    pub id: u64,
    /// When it was archived (delivered or sent), unix seconds.
    pub at: i64,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// Envelope sender (`MAIL FROM`), empty for bounces.
    pub mail_from: String,
    /// Header From, `Name <addr>` forms joined with `, `.
    pub from: String,
    /// Envelope recipients plus header To and Cc addresses, lower case, each once.
    pub to: Vec<String>,
    pub subject: String,
    /// Decoded text of all text parts and the visible text of HTML parts, nested messages
    /// included, up to [`MAX_BODY_TEXT`].
    pub body: String,
    /// Extracted text of attachments, up to [`MAX_TEXT`] with the body.
    pub attachments: String,
    pub attachment_names: Vec<String>,
    /// Without the angle brackets.
    pub message_id: String,
    /// Size of the raw message in bytes.
    pub size: u64,
}

/// Limits for attachment extraction: the index keeps at most [`MAX_TEXT`] anyway, so nothing
/// is gained by inflating or decoding as much as DLP may.
fn limits() -> Limits {
    Limits {
        max_text_bytes: MAX_TEXT,
        max_total_bytes: 16 * 1024 * 1024,
        max_input_bytes: 25 * 1024 * 1024,
        ..Limits::default()
    }
}

/// Builds the index document of one message from its raw RFC 5322 bytes and its envelope.
///
/// Total: any bytes give a document. A message mail-parser cannot parse (or that would overflow
/// its stack, see `rampart_scan::Mail`) is indexed by its header fields, when those parse, and
/// its raw text read lossily as the body: still findable by what it says.
pub fn doc_from_raw(
    id: u64,
    at: i64,
    direction: &str,
    mail_from: &str,
    rcpts: &[String],
    raw: &[u8],
) -> ArchiveDoc {
    let mut doc = ArchiveDoc {
        id,
        at,
        direction: direction.to_string(),
        mail_from: mail_from.trim().to_lowercase(),
        size: raw.len() as u64,
        ..ArchiveDoc::default()
    };
    let mut to: Vec<String> = Vec::new();
    for r in rcpts {
        push_recipient(&mut to, r);
    }
    let mail = Mail::parse(raw);
    match &mail.parsed {
        Some(message) => {
            headers(&mut doc, &mut to, message);
            contents(&mut doc, &mail);
        }
        None => {
            let headers_only = catch_unwind(|| MessageParser::default().parse_headers(raw));
            if let Ok(Some(message)) = headers_only {
                headers(&mut doc, &mut to, &message);
            }
            let body = raw.get(header_len(raw)..).unwrap_or_default();
            let body = &body[..body.len().min(MAX_BODY_TEXT)];
            doc.body = String::from_utf8_lossy(body).into_owned();
        }
    }
    doc.to = to;
    doc
}

/// The `Date` header of a raw message, unix seconds. For corpora, where the archive time is
/// not known; the archive itself indexes when a message was delivered.
pub fn header_date(raw: &[u8]) -> Option<i64> {
    let message = catch_unwind(|| MessageParser::default().parse_headers(raw)).ok()??;
    message.date().map(|d| d.to_timestamp())
}

fn headers(doc: &mut ArchiveDoc, to: &mut Vec<String>, message: &Message<'_>) {
    if let Some(from) = message.from() {
        doc.from = join_addresses(from);
        truncate(&mut doc.from, MAX_FROM);
    }
    for list in [message.to(), message.cc()].into_iter().flatten() {
        for addr in list.iter() {
            if let Some(a) = addr.address() {
                push_recipient(to, a);
            }
        }
    }
    doc.subject = message.subject().unwrap_or_default().to_string();
    truncate(&mut doc.subject, MAX_SUBJECT);
    if let Some(id) = message.message_id() {
        doc.message_id = normalize_message_id(id);
        truncate(&mut doc.message_id, MAX_MESSAGE_ID);
    }
}

/// A Message-ID as it is indexed and searched: trimmed, without angle brackets.
pub fn normalize_message_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_string()
}

fn contents(doc: &mut ArchiveDoc, mail: &Mail<'_>) {
    let limits = limits();
    let mut body = String::new();
    for text in mail.text_bodies() {
        append(&mut body, text, MAX_BODY_TEXT);
    }
    // What HTML parts show a reader, as DLP reads it: an HTML-only newsletter is searchable by
    // its words, not its markup.
    for html in mail.html_bodies() {
        if body.len() >= MAX_BODY_TEXT {
            break;
        }
        let extraction = rampart_extract::extract_decoded_html(html, &limits);
        for t in &extraction.texts {
            append(&mut body, &t.text, MAX_BODY_TEXT);
        }
    }
    let budget = MAX_TEXT.saturating_sub(body.len());
    let mut attachments = String::new();
    for attachment in mail.attachments() {
        if let Some(name) = attachment.name.as_deref() {
            if doc.attachment_names.len() < MAX_RECIPIENTS {
                let mut name = name.to_string();
                truncate(&mut name, 255);
                doc.attachment_names.push(name);
            }
        }
        if attachments.len() >= budget {
            continue;
        }
        let name = attachment.name.as_deref();
        let extraction = rampart_extract::extract(attachment.bytes, name, &limits);
        for t in &extraction.texts {
            append(&mut attachments, &t.text, budget);
        }
    }
    doc.body = body;
    doc.attachments = attachments;
}

/// Appends `text` (and a line break) to `out`, keeping `out` within `max` bytes.
fn append(out: &mut String, text: &str, max: usize) {
    let room = max.saturating_sub(out.len());
    if room == 0 || text.is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(prefix(text, room.saturating_sub(1)));
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

fn truncate(s: &mut String, max: usize) {
    let keep = prefix(s, max).len();
    s.truncate(keep);
}

fn push_recipient(to: &mut Vec<String>, address: &str) {
    let a = address
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_lowercase();
    if !a.is_empty() && to.len() < MAX_RECIPIENTS && !to.contains(&a) {
        to.push(a);
    }
}

fn join_addresses(list: &Address<'_>) -> String {
    let mut out = String::new();
    for addr in list.iter() {
        let one = match (addr.name(), addr.address()) {
            (Some(name), Some(address)) => format!("{name} <{address}>"),
            (None, Some(address)) => address.to_string(),
            (Some(name), None) => name.to_string(),
            (None, None) => continue,
        };
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(&one);
    }
    out
}

/// Length of the header section, its blank line included; all of `raw` if there is none.
fn header_len(raw: &[u8]) -> usize {
    let crlf = find(raw, b"\r\n\r\n").map(|i| i + 4);
    let lf = find(raw, b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => 0,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_recipients_once_in_lower_case() {
        let raw = b"From: \"Alice A\" <alice@example.com>, bob@example.org\r\n\
To: Carol <Carol@Example.NET>\r\nCc: dave@example.net, carol@example.net\r\n\
Message-ID: <abc@host>\r\nSubject: hi\r\n\r\nbody\r\n";
        let doc = doc_from_raw(
            7,
            1,
            "inbound",
            "Alice@Example.com",
            &["eve@example.net".into()],
            raw,
        );
        assert_eq!(doc.from, "Alice A <alice@example.com>, bob@example.org");
        assert_eq!(doc.mail_from, "alice@example.com");
        assert_eq!(
            doc.to,
            ["eve@example.net", "carol@example.net", "dave@example.net"]
        );
        assert_eq!(doc.message_id, "abc@host");
        assert_eq!(doc.subject, "hi");
        assert_eq!(doc.body.trim(), "body");
    }

    #[test]
    fn caps_the_body() {
        let mut raw = b"Subject: big\r\n\r\n".to_vec();
        raw.extend(std::iter::repeat_n(b'a', 3 * MAX_BODY_TEXT));
        let doc = doc_from_raw(1, 0, "inbound", "", &[], &raw);
        assert!(doc.body.len() <= MAX_BODY_TEXT);
    }

    #[test]
    fn header_len_finds_either_blank_line() {
        assert_eq!(header_len(b"a: b\r\n\r\nx"), 8);
        assert_eq!(header_len(b"a: b\n\nx"), 6);
        assert_eq!(header_len(b"a: b"), 0);
    }
}
