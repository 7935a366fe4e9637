//! The MIME tree that `BODYSTRUCTURE`, `BODY[part]` and `SEARCH BODY` share: byte ranges of
//! every entity, built from mail-parser's result.
//!
//! All three walk the same [`Entity`] tree, so a part number the client read in a
//! `BODYSTRUCTURE` names exactly the bytes `BODY[part]` returns, whatever mail-parser made of a
//! malformed message, and the nesting and size limits apply to all alike.

use std::ops::{Deref, Range};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::LazyLock;

use mail_parser::{ContentType, Header, HeaderName, Message, MessageParser, MessagePart, PartType};

/// Deepest nesting of multiparts and encapsulated messages that is rendered; an entity deeper
/// than this is rendered as a leaf (its bytes are still there in `BODY[part]`).
pub const MAX_DEPTH: usize = 32;

/// Most MIME entities rendered for one message; parts beyond are left out of `BODYSTRUCTURE`
/// and do not resolve in `BODY[part]`.
pub const MAX_ENTITIES: usize = 4096;

/// The one parser `render` uses. Header fields: known ones structured, unknown ones as text
/// with encoded words decoded (for `HEADER` searches).
///
/// `Content-Transfer-Encoding` is deliberately not interpreted: nothing here needs mail-parser
/// to decode a body (sizes and sections are raw bytes; search decodes text leaves itself), and
/// when it decodes a base64 or quoted-printable `message/rfc822` it parses the result and copies
/// it (`into_owned`) recursively, once per nested message inside: 100 000 nested messages in a
/// 4 MB attachment overflow the stack, an abort no `catch_unwind` stops. Undecoded, every
/// encapsulated message is parsed in place, iteratively. (The price: an encoded
/// `message/rfc822`, which RFC 2046 §5.2.1 forbids, is parsed as it stands, like Dovecot does.)
static PARSER: LazyLock<MessageParser> = LazyLock::new(|| {
    MessageParser::new()
        .with_mime_headers()
        .with_date_headers()
        .with_address_headers()
        .with_message_ids()
        .header_text(HeaderName::Subject)
        .header_text(HeaderName::Comments)
        .header_comma_separated(HeaderName::Keywords)
        .header_comma_separated(HeaderName::ContentLanguage)
        .default_header_text()
        .ignore_header(HeaderName::ContentTransferEncoding)
});

/// Parses `raw` (only its header with `headers_only`), turning a mail-parser panic (0.11 has a
/// few on malformed multiparts) into `None`, which callers render as one `text/plain` part.
pub(crate) fn parse_guarded(raw: &[u8], headers_only: bool) -> Option<Parsed<'_>> {
    catch_unwind(AssertUnwindSafe(|| {
        if headers_only {
            PARSER.parse_headers(raw)
        } else {
            PARSER.parse(raw)
        }
    }))
    .unwrap_or_else(|_| {
        tracing::warn!(
            size = raw.len(),
            "mail-parser panicked on a message; rendering it as one text part"
        );
        None
    })
    .map(Parsed)
}

/// A parsed message whose drop does not recurse: mail-parser nests encapsulated messages by
/// value, and dropping 100 000 of them the ordinary way overflows the stack.
pub(crate) struct Parsed<'r>(Message<'r>);

impl<'r> Deref for Parsed<'r> {
    type Target = Message<'r>;

    fn deref(&self) -> &Message<'r> {
        &self.0
    }
}

impl Drop for Parsed<'_> {
    fn drop(&mut self) {
        let mut pending = Vec::new();
        take_nested(&mut self.0, &mut pending);
        while let Some(mut message) = pending.pop() {
            take_nested(&mut message, &mut pending);
        }
    }
}

/// Moves the messages encapsulated in `message`'s parts into `into`.
fn take_nested<'r>(message: &mut Message<'r>, into: &mut Vec<Message<'r>>) {
    for part in &mut message.parts {
        if let PartType::Message(_) = part.body {
            if let PartType::Message(nested) = std::mem::take(&mut part.body) {
                into.push(nested);
            }
        }
    }
}

/// Length of the header section at the start of `bytes`, its delimiting blank line included
/// (CRLF or a bare LF); all of `bytes` when there is no blank line (a message without a body).
pub(crate) fn header_len(bytes: &[u8]) -> usize {
    if bytes.starts_with(b"\r\n") {
        return 2;
    }
    if bytes.starts_with(b"\n") {
        return 1;
    }
    let mut from = 0;
    while let Some(at) = bytes[from..].iter().position(|&b| b == b'\n') {
        let lf = from + at;
        match bytes.get(lf + 1) {
            Some(b'\n') => return lf + 2,
            Some(b'\r') if bytes.get(lf + 2) == Some(&b'\n') => return lf + 3,
            _ => from = lf + 1,
        }
    }
    bytes.len()
}

/// One MIME entity: a message (top level or encapsulated) or a body part of a multipart.
pub(crate) struct Entity<'m> {
    /// The bytes `header` and `body` index: the message's.
    pub buf: &'m [u8],
    /// The header section, blank line included (for a body part: its MIME header).
    pub header: Range<usize>,
    pub body: Range<usize>,
    /// The parsed header fields; empty when mail-parser could not parse this entity.
    pub fields: &'m [Header<'m>],
    pub kind: Kind<'m>,
}

pub(crate) enum Kind<'m> {
    Leaf,
    /// Never empty.
    Multipart(Vec<Entity<'m>>),
    /// A `message/rfc822` part: the encapsulated message's root entity.
    Message(Box<Entity<'m>>),
}

impl<'m> Entity<'m> {
    pub fn header_bytes(&self) -> &'m [u8] {
        self.buf.get(self.header.clone()).unwrap_or_default()
    }

    pub fn body_bytes(&self) -> &'m [u8] {
        self.buf.get(self.body.clone()).unwrap_or_default()
    }

    /// The parsed `Content-Type`, if the entity has one mail-parser understood.
    pub fn content_type(&self) -> Option<&'m ContentType<'m>> {
        field(self.fields, &HeaderName::ContentType).and_then(|h| h.value.as_content_type())
    }
}

/// The first field named `name`.
pub(crate) fn field<'h, 'x>(
    fields: &'h [Header<'x>],
    name: &HeaderName<'_>,
) -> Option<&'h Header<'x>> {
    fields.iter().find(|h| h.name == *name)
}

/// The tree of `raw`, parsed (`parsed`) or not (`None`: one leaf with the whole body).
pub(crate) fn tree<'m>(raw: &'m [u8], parsed: Option<&'m Message<'m>>) -> Entity<'m> {
    let mut budget = MAX_ENTITIES;
    message_entity(raw, 0..raw.len(), parsed, 0, &mut budget)
}

/// The root entity of a message occupying `range` of `buf`. Its header/body split is found by
/// [`header_len`], the same rule `BODY[HEADER]` uses, so `BODY[TEXT]`, `BODY[1]` of a
/// single-part message and the size in its `BODYSTRUCTURE` agree.
fn message_entity<'m>(
    buf: &'m [u8],
    range: Range<usize>,
    msg: Option<&'m Message<'m>>,
    depth: usize,
    budget: &mut usize,
) -> Entity<'m> {
    let end = range.end.min(buf.len());
    let start = range.start.min(end);
    let split = start + header_len(&buf[start..end]);
    *budget = budget.saturating_sub(1);
    let (fields, kind) = match msg.and_then(|m| m.parts.first().map(|root| (m, root))) {
        Some((msg, root)) => (&root.headers[..], part_kind(msg, 0, depth, budget)),
        None => (&[][..], Kind::Leaf),
    };
    Entity {
        buf,
        header: start..split,
        body: split..end,
        fields,
        kind,
    }
}

/// A body part of `msg` (an index into its flat part list) as an entity.
fn part_entity<'m>(
    msg: &'m Message<'m>,
    id: usize,
    depth: usize,
    budget: &mut usize,
) -> Option<Entity<'m>> {
    let part = msg.parts.get(id)?;
    let buf = msg.raw_message.as_ref();
    let (header, body) = part_ranges(part, buf.len());
    *budget = budget.saturating_sub(1);
    Some(Entity {
        buf,
        header,
        body,
        fields: &part.headers,
        kind: part_kind(msg, id, depth, budget),
    })
}

/// The header and body ranges mail-parser recorded for `part`, clamped into `len` and ordered.
fn part_ranges(part: &MessagePart<'_>, len: usize) -> (Range<usize>, Range<usize>) {
    let header_start = (part.offset_header as usize).min(len);
    let body_start = (part.offset_body as usize).clamp(header_start, len);
    let end = (part.offset_end as usize).clamp(body_start, len);
    (header_start..body_start, body_start..end)
}

fn part_kind<'m>(msg: &'m Message<'m>, id: usize, depth: usize, budget: &mut usize) -> Kind<'m> {
    let Some(part) = msg.parts.get(id) else {
        return Kind::Leaf;
    };
    if depth >= MAX_DEPTH {
        return Kind::Leaf;
    }
    let buf = msg.raw_message.as_ref();
    match &part.body {
        PartType::Multipart(ids) => {
            let mut children = Vec::with_capacity(ids.len().min(64));
            // Part ids always follow their parent's; anything else would be a cycle.
            for child in ids.iter().map(|&c| c as usize).filter(|&c| c > id) {
                if *budget == 0 {
                    break;
                }
                children.extend(part_entity(msg, child, depth + 1, budget));
            }
            if children.is_empty() {
                Kind::Leaf
            } else {
                Kind::Multipart(children)
            }
        }
        PartType::Message(nested) => {
            // Parsed in place: the encapsulated message's offsets index the same bytes.
            let nested_buf = nested.raw_message.as_ref();
            let range = part_ranges(part, buf.len()).1;
            Kind::Message(Box::new(message_entity(
                nested_buf,
                range,
                Some(nested),
                depth + 1,
                budget,
            )))
        }
        // mail-parser gave up on an encapsulated message (no header it could read): still a
        // message/rfc822 to the client, so render what the bytes say, unparsed.
        _ if declares_message(&part.headers) && *budget > 0 => {
            let body = part_ranges(part, buf.len()).1;
            Kind::Message(Box::new(message_entity(buf, body, None, depth + 1, budget)))
        }
        _ => Kind::Leaf,
    }
}

/// Whether the fields declare `message/rfc822` (or `message/global`, its RFC 6532 sibling).
pub(crate) fn declares_message(fields: &[Header<'_>]) -> bool {
    field(fields, &HeaderName::ContentType)
        .and_then(|h| h.value.as_content_type())
        .is_some_and(|ct| {
            ct.c_type.eq_ignore_ascii_case("message")
                && ct.c_subtype.as_deref().is_some_and(|s| {
                    s.eq_ignore_ascii_case("rfc822") || s.eq_ignore_ascii_case("global")
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_ends_after_the_first_blank_line() {
        assert_eq!(header_len(b"A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore"), 14);
        assert_eq!(header_len(b"A: 1\nB: 2\n\nbody"), 11);
        assert_eq!(header_len(b"A: 1\r\n\r\n"), 8);
    }

    #[test]
    fn message_without_blank_line_is_all_header() {
        assert_eq!(header_len(b"A: 1\r\nB: 2\r\n"), 12);
        assert_eq!(header_len(b"A: 1"), 4);
        assert_eq!(header_len(b""), 0);
    }

    #[test]
    fn message_starting_with_blank_line_has_empty_header() {
        assert_eq!(header_len(b"\r\nbody"), 2);
        assert_eq!(header_len(b"\nbody"), 1);
    }

    #[test]
    fn nesting_deeper_than_the_cap_becomes_a_leaf() {
        let mut raw = String::new();
        for i in 0..(MAX_DEPTH + 10) {
            raw.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
            ));
        }
        raw.push_str("Content-Type: text/plain\r\n\r\ndeep\r\n");
        let parsed = parse_guarded(raw.as_bytes(), false);
        let root = tree(raw.as_bytes(), parsed.as_deref());
        let mut depth = 0;
        let mut node = &root;
        while let Kind::Multipart(children) = &node.kind {
            node = &children[0];
            depth += 1;
        }
        assert!(depth <= MAX_DEPTH, "depth {depth}");
    }
}
