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
pub(crate) fn parse_guarded(raw: &[u8]) -> Option<Message<'_>> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
