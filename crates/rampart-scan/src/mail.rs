//! A parsed message as the checks see it.

use std::borrow::Cow;

use mail_parser::{Address, Message, MessageParser, MimeHeaders};

/// A message parsed once for all checks. Parsing never fails: garbage yields an empty view and
/// `parsed == None`, which a check may report.
pub struct Mail<'a> {
    pub raw: &'a [u8],
    pub parsed: Option<Message<'a>>,
}

/// One attachment (or nested part with a name), decoded.
#[derive(Debug, Clone)]
pub struct Attachment<'a> {
    pub name: Option<Cow<'a, str>>,
    pub content_type: Option<String>,
    pub bytes: &'a [u8],
}

/// Nested messages (message/rfc822 attachments) are walked this deep, no deeper.
const MAX_NESTING: usize = 3;

/// Most encapsulated messages (`message/rfc822`, `message/global` parts) a message may declare,
/// in its own bytes or inside any one encoded encapsulated part, before it is unparseable.
/// Real mail forwards a handful.
pub const MAX_ENCAPSULATED: usize = 100;

/// Levels of encoded encapsulated parts mail-parser decodes and parses (its
/// `MAX_NESTED_ENCODED`); the count looks as deep.
const ENCODED_LEVELS: usize = 3;

impl<'a> Mail<'a> {
    pub fn parse(raw: &'a [u8]) -> Self {
        Mail {
            raw,
            parsed: parse_guarded(raw),
        }
    }

    /// `(display name, address)` of the first From mailbox.
    pub fn from(&self) -> Option<(Option<&str>, Option<&str>)> {
        first(self.parsed.as_ref()?.from())
    }

    pub fn from_count(&self) -> usize {
        self.parsed
            .as_ref()
            .and_then(|m| m.from())
            .map_or(0, |a| a.iter().count())
    }

    pub fn reply_to(&self) -> Option<(Option<&str>, Option<&str>)> {
        first(self.parsed.as_ref()?.reply_to())
    }

    pub fn subject(&self) -> &str {
        self.parsed.as_ref().and_then(|m| m.subject()).unwrap_or("")
    }

    /// Decoded plain-text bodies (all charsets mail-parser knows, GB18030 and Big5 included),
    /// including those of nested messages.
    pub fn text_bodies(&self) -> Vec<&str> {
        let mut out = Vec::new();
        if let Some(m) = &self.parsed {
            walk(m, 0, &mut |m| {
                for part in m.text_bodies().filter(|p| p.is_text() && !p.is_text_html()) {
                    if let Some(t) = part.text_contents() {
                        out.push(t);
                    }
                }
            });
        }
        out
    }

    /// Decoded HTML bodies, including those of nested messages.
    pub fn html_bodies(&self) -> Vec<&str> {
        let mut out = Vec::new();
        if let Some(m) = &self.parsed {
            walk(m, 0, &mut |m| {
                for part in m.html_bodies().filter(|p| p.is_text_html()) {
                    if let Some(t) = part.text_contents() {
                        out.push(t);
                    }
                }
            });
        }
        out
    }

    /// Every attachment, decoded, including those inside nested messages.
    pub fn attachments(&self) -> Vec<Attachment<'_>> {
        let mut out = Vec::new();
        if let Some(m) = &self.parsed {
            walk(m, 0, &mut |m| {
                for part in m.attachments() {
                    if part.is_message() {
                        continue; // walked as a nested message
                    }
                    out.push(Attachment {
                        name: part.attachment_name().map(Cow::Borrowed),
                        content_type: part.content_type().map(|ct| match ct.subtype() {
                            Some(sub) => format!("{}/{}", ct.ctype(), sub),
                            None => ct.ctype().to_string(),
                        }),
                        bytes: part.contents(),
                    });
                }
            });
        }
        out
    }
}

/// mail-parser 0.11 panics on some malformed multipart structures (seen on a real Enron spam:
/// "Invalid part ID, could not find multipart"). A message must never take the server down, so
/// a panic while parsing yields "unparseable" instead.
///
/// mail-parser nests encapsulated messages by value and copies and drops them recursively, so a
/// few megabytes of `message/rfc822` parts nested 100 000 deep (plainly, or inside a base64 or
/// quoted-printable encoded part, which it decodes and parses) overflow the stack: an abort of
/// the whole server that no `catch_unwind` stops. Such a message is counted first and, past
/// [`MAX_ENCAPSULATED`], treated as unparseable without being parsed.
pub(crate) fn parse_guarded(raw: &[u8]) -> Option<Message<'_>> {
    if too_deep(raw, ENCODED_LEVELS) {
        tracing::warn!(
            size = raw.len(),
            "message encapsulates too many messages; treating it as unparseable"
        );
        return None;
    }
    std::panic::catch_unwind(|| MessageParser::default().parse(raw)).unwrap_or_else(|_| {
        tracing::warn!(
            size = raw.len(),
            "mail-parser panicked on a message; treating it as unparseable"
        );
        None
    })
}

fn walk<'m>(m: &'m Message<'_>, depth: usize, f: &mut dyn FnMut(&'m Message<'_>)) {
    f(m);
    if depth >= MAX_NESTING {
        return;
    }
    for part in m.attachments() {
        if let Some(nested) = part.message() {
            walk(nested, depth + 1, f);
        }
    }
}

fn first<'m>(addr: Option<&'m Address<'_>>) -> Option<(Option<&'m str>, Option<&'m str>)> {
    let a = addr?.first()?;
    Some((a.name(), a.address()))
}

/// Whether `raw` declares more than [`MAX_ENCAPSULATED`] encapsulated messages, directly or
/// inside a base64 or quoted-printable encoded encapsulated part (up to `levels` encodings
/// deep). Uses only counting and mail-parser's own decoders; the structure pass below is safe
/// because it runs only once the plain count is known to be small and decodes nothing.
fn too_deep(raw: &[u8], levels: usize) -> bool {
    let count = count_encapsulated(raw);
    if count > MAX_ENCAPSULATED {
        return true;
    }
    if count == 0 || levels == 0 {
        return false;
    }
    // Find encoded encapsulated parts: parse the structure without interpreting
    // Content-Transfer-Encoding (so nothing is decoded, and nesting stays as shallow as counted),
    // then decode those parts' bodies ourselves and count inside.
    let parser = MessageParser::new()
        .with_mime_headers()
        .ignore_header(mail_parser::HeaderName::ContentTransferEncoding);
    let Ok(Some(outline)) = std::panic::catch_unwind(|| parser.parse(raw)) else {
        return false;
    };
    let mut pending: Vec<&Message<'_>> = vec![&outline];
    while let Some(m) = pending.pop() {
        let bytes = m.raw_message();
        for part in &m.parts {
            if let mail_parser::PartType::Message(nested) = &part.body {
                pending.push(nested);
            }
            let is_message = part.content_type().is_some_and(|ct| {
                ct.c_type.eq_ignore_ascii_case("message")
                    && ct.c_subtype.as_deref().is_some_and(|s| {
                        s.eq_ignore_ascii_case("rfc822") || s.eq_ignore_ascii_case("global")
                    })
            });
            if !is_message {
                continue;
            }
            let header = bytes
                .get(part.raw_header_offset() as usize..part.raw_body_offset() as usize)
                .unwrap_or_default()
                .to_ascii_lowercase();
            let body = bytes
                .get(part.raw_body_offset() as usize..part.raw_end_offset() as usize)
                .unwrap_or_default();
            let decoded = if memchr::memmem::find(&header, b"base64").is_some() {
                mail_parser::decoders::base64::base64_decode(body)
            } else if memchr::memmem::find(&header, b"quoted-printable").is_some() {
                mail_parser::decoders::quoted_printable::quoted_printable_decode(body)
            } else {
                None
            };
            if let Some(inner) = decoded {
                if too_deep(&inner, levels - 1) {
                    return true;
                }
            }
        }
    }
    false
}

/// Case-insensitive occurrences of `message/rfc822` and `message/global`.
fn count_encapsulated(bytes: &[u8]) -> usize {
    static NAMES: std::sync::LazyLock<Option<aho_corasick::AhoCorasick>> =
        std::sync::LazyLock::new(|| {
            aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(["message/rfc822", "message/global"])
                .ok()
        });
    NAMES
        .as_ref()
        .map_or(0, |names| names.find_iter(bytes).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(n: usize) -> Vec<u8> {
        let mut raw = b"From: a@b.example\r\nSubject: deep\r\n".to_vec();
        for _ in 0..n {
            raw.extend_from_slice(b"Content-Type: Message/RFC822\r\n\r\n");
        }
        raw.extend_from_slice(b"Subject: inner\r\n\r\nhello\r\n");
        raw
    }

    /// Without the guard each of these aborts the process with a stack overflow.
    #[test]
    fn deeply_nested_messages_are_unparseable_not_a_crash() {
        let plain = nested(100_000);
        assert!(Mail::parse(&plain).parsed.is_none());

        let inner = nested(100_000);
        let mut encoded = b"From: a@b.example\r\nSubject: deep2\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
--XX\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            .to_vec();
        encoded.extend_from_slice(&base64_lines(&inner));
        encoded.extend_from_slice(b"\r\n--XX--\r\n");
        assert_eq!(count_encapsulated(&encoded), 1, "hidden inside base64");
        assert!(Mail::parse(&encoded).parsed.is_none());

        // A few levels, as real forwards have, parse as usual.
        let ok = nested(5);
        assert!(Mail::parse(&ok).parsed.is_some());
    }

    fn base64_lines(bytes: &[u8]) -> Vec<u8> {
        use base64::Engine;
        let text = base64::engine::general_purpose::STANDARD.encode(bytes);
        let mut out = Vec::new();
        for line in text.as_bytes().chunks(76) {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    #[test]
    fn walks_text_html_and_attachments_of_nested_messages() {
        let raw = b"From: \"Big Boss\" <boss@example.com>\r\nReply-To: x@other.test\r\nSubject: fwd\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n\
--b1\r\nContent-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: base64\r\n\r\nxOO6ww==\r\n\
--b1\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: text/html\r\n\r\n<a href=\"http://x.test\">x</a>\r\n\
--b1\r\nContent-Type: application/octet-stream; name=a.bin\r\nContent-Disposition: attachment; filename=a.bin\r\n\r\nMZ\r\n\
--b1--\r\n";
        let mail = Mail::parse(raw);
        assert_eq!(
            mail.from(),
            Some((Some("Big Boss"), Some("boss@example.com")))
        );
        assert_eq!(mail.reply_to().and_then(|r| r.1), Some("x@other.test"));
        assert_eq!(mail.text_bodies(), vec!["你好"]);
        assert_eq!(mail.html_bodies().len(), 1);
        let att = mail.attachments();
        assert_eq!(att.len(), 1);
        assert_eq!(att[0].name.as_deref(), Some("a.bin"));
        assert_eq!(
            att[0].content_type.as_deref(),
            Some("application/octet-stream")
        );
    }

    #[test]
    fn garbage_parses_to_an_empty_view() {
        let mail = Mail::parse(b"\x00\x01\x02");
        assert!(mail.text_bodies().len() <= 1);
        assert!(mail.attachments().is_empty());
    }
}
