//! `SEARCH` keys against one message (RFC 3501 §6.4.4, RFC 9051 §6.4.4).

use std::borrow::Cow;
use std::cell::OnceCell;

use imap_codec::imap_types::core::AString;
use imap_codec::imap_types::datetime::NaiveDate;
use imap_codec::imap_types::search::SearchKey;
use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};
use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::decoders::html::html_to_text;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Address, Header, HeaderName, HeaderValue, Message};
use rampart_model::Flag;

use super::mime::{field, header_len, parse_guarded, tree, Entity, Kind, Parsed};
use super::value::raw_value;

/// What a search key may look at for one message. The session fills it from the message's
/// metadata, and loads `raw` only when [`needs_content`] says the key reads it.
#[derive(Debug, Clone, Copy)]
pub struct SearchInput<'a> {
    pub uid: u32,
    /// Message sequence number in the selected mailbox.
    pub seq: u32,
    pub flags: &'a [Flag],
    pub keywords: &'a [String],
    /// `RFC822.SIZE`.
    pub size: u64,
    /// `INTERNALDATE`, Unix seconds.
    pub internal_date: i64,
    /// CONDSTORE mod-sequence (imap-types 1.0 has no `MODSEQ` search key yet; kept for it).
    pub modseq: u64,
    /// The message's bytes; `None` when the key set needs no content.
    pub raw: Option<&'a [u8]>,
}

/// Whether `key` reads the message's header or body (and the session must load its bytes).
pub fn needs_content(key: &SearchKey<'_>) -> bool {
    match key {
        SearchKey::And(keys) => keys.as_ref().iter().any(needs_content),
        SearchKey::Or(a, b) => needs_content(a) || needs_content(b),
        SearchKey::Not(k) => needs_content(k),
        SearchKey::Bcc(_)
        | SearchKey::Body(_)
        | SearchKey::Cc(_)
        | SearchKey::From(_)
        | SearchKey::Header(..)
        | SearchKey::SentBefore(_)
        | SearchKey::SentOn(_)
        | SearchKey::SentSince(_)
        | SearchKey::Subject(_)
        | SearchKey::Text(_)
        | SearchKey::To(_) => true,
        _ => false,
    }
}

/// Deepest `NOT`/`OR`/`AND` nesting evaluated; deeper keys do not match. imap-codec's parser
/// already bounds it; this keeps a hand-built key from exhausting the stack.
const MAX_KEY_DEPTH: usize = 64;

/// Whether message `m` matches `key`, with `max_seq`/`max_uid` the values `*` stands for.
///
/// Text keys (`FROM`, `SUBJECT`, `HEADER`, `BODY`, `TEXT`...) match a substring without regard
/// to case (Unicode lower-casing) in the decoded text: charsets and encoded words decoded by
/// mail-parser, HTML reduced to its text, encapsulated messages included; address keys and
/// `HEADER` also match the raw field value. The search string is taken as UTF-8 (the session
/// converts other `CHARSET`s). `BEFORE`/`ON`/`SINCE` compare the internal date's UTC day,
/// `SENT*` the date written in the `Date` field, time and zone disregarded; a message without
/// a readable `Date` matches no `SENT*` key. We keep no `\Recent`: `RECENT` and `NEW` never
/// match, `OLD` always does. A content key with `raw` absent does not match.
pub fn matches(key: &SearchKey<'_>, m: &SearchInput<'_>, max_seq: u32, max_uid: u32) -> bool {
    let content = Content::new(m.raw);
    Eval {
        m,
        max_seq,
        max_uid,
        content: &content,
    }
    .key(key, 0)
}

/// Whether `n` is in `set`, `*` standing for `largest` (RFC 3501 §9 `seq-number`: a range
/// may run either way).
pub fn in_sequence_set(set: &SequenceSet, n: u32, largest: u32) -> bool {
    let value = |s: &SeqOrUid| match s {
        SeqOrUid::Value(v) => v.get(),
        SeqOrUid::Asterisk => largest,
    };
    set.0.as_ref().iter().any(|seq| match seq {
        Sequence::Single(s) => value(s) == n,
        Sequence::Range(a, b) => {
            let (a, b) = (value(a), value(b));
            a.min(b) <= n && n <= a.max(b)
        }
    })
}

struct Eval<'e, 'a> {
    m: &'e SearchInput<'a>,
    max_seq: u32,
    max_uid: u32,
    content: &'e Content<'a>,
}

impl Eval<'_, '_> {
    fn key(&self, key: &SearchKey<'_>, depth: usize) -> bool {
        if depth > MAX_KEY_DEPTH {
            return false;
        }
        let m = self.m;
        let has = |flag: Flag| m.flags.contains(&flag);
        match key {
            SearchKey::And(keys) => keys.as_ref().iter().all(|k| self.key(k, depth + 1)),
            SearchKey::Or(a, b) => self.key(a, depth + 1) || self.key(b, depth + 1),
            SearchKey::Not(k) => !self.key(k, depth + 1),
            SearchKey::All | SearchKey::Old => true,
            SearchKey::New | SearchKey::Recent => false,
            SearchKey::SequenceSet(set) => in_sequence_set(set, m.seq, self.max_seq),
            SearchKey::Uid(set) => in_sequence_set(set, m.uid, self.max_uid),
            SearchKey::Answered => has(Flag::Answered),
            SearchKey::Unanswered => !has(Flag::Answered),
            SearchKey::Deleted => has(Flag::Deleted),
            SearchKey::Undeleted => !has(Flag::Deleted),
            SearchKey::Draft => has(Flag::Draft),
            SearchKey::Undraft => !has(Flag::Draft),
            SearchKey::Flagged => has(Flag::Flagged),
            SearchKey::Unflagged => !has(Flag::Flagged),
            SearchKey::Seen => has(Flag::Seen),
            SearchKey::Unseen => !has(Flag::Seen),
            SearchKey::Keyword(k) => self.has_keyword(k.as_ref()),
            SearchKey::Unkeyword(k) => !self.has_keyword(k.as_ref()),
            SearchKey::Larger(n) => m.size > u64::from(*n),
            SearchKey::Smaller(n) => m.size < u64::from(*n),
            SearchKey::Before(d) => internal_day(m) < day(d),
            SearchKey::On(d) => internal_day(m) == day(d),
            SearchKey::Since(d) => internal_day(m) >= day(d),
            SearchKey::SentBefore(d) => self.content.sent_day().is_some_and(|s| s < day(d)),
            SearchKey::SentOn(d) => self.content.sent_day().is_some_and(|s| s == day(d)),
            SearchKey::SentSince(d) => self.content.sent_day().is_some_and(|s| s >= day(d)),
            SearchKey::From(s) => self.content.field_contains(&HeaderName::From, s),
            SearchKey::To(s) => self.content.field_contains(&HeaderName::To, s),
            SearchKey::Cc(s) => self.content.field_contains(&HeaderName::Cc, s),
            SearchKey::Bcc(s) => self.content.field_contains(&HeaderName::Bcc, s),
            SearchKey::Subject(s) => self.content.field_contains(&HeaderName::Subject, s),
            SearchKey::Header(name, s) => self.content.named_field_contains(name.as_ref(), s),
            SearchKey::Body(s) => self.content.body_contains(s),
            SearchKey::Text(s) => self.content.text_contains(s),
        }
    }

    fn has_keyword(&self, keyword: &str) -> bool {
        self.m
            .keywords
            .iter()
            .any(|k| k.eq_ignore_ascii_case(keyword))
    }
}

const SECONDS_PER_DAY: i64 = 86_400;

fn internal_day(m: &SearchInput<'_>) -> i64 {
    m.internal_date.div_euclid(SECONDS_PER_DAY)
}

/// Days since 1970-01-01 of a search date.
fn day(date: &NaiveDate) -> i64 {
    i64::from(date.as_ref().to_epoch_days())
}

/// The message's bytes, parsed only as far as the keys need: the header alone for header
/// keys, everything for `BODY`/`TEXT`, each at most once per message.
struct Content<'a> {
    raw: Option<&'a [u8]>,
    header: OnceCell<Option<Parsed<'a>>>,
    full: OnceCell<Option<Parsed<'a>>>,
    /// Lower-cased decoded body text and header text, for `BODY` and `TEXT`.
    body_text: OnceCell<String>,
    header_text: OnceCell<String>,
}

impl<'a> Content<'a> {
    fn new(raw: Option<&'a [u8]>) -> Self {
        Content {
            raw,
            header: OnceCell::new(),
            full: OnceCell::new(),
            body_text: OnceCell::new(),
            header_text: OnceCell::new(),
        }
    }

    /// The top-level header fields and the buffer their offsets index.
    fn fields(&self) -> Option<(&[Header<'a>], &[u8])> {
        let parsed = match self.full.get() {
            Some(full) => full.as_deref(),
            None => self
                .header
                .get_or_init(|| self.raw.and_then(|raw| parse_guarded(raw, true)))
                .as_deref(),
        }?;
        Some((&parsed.parts.first()?.headers, parsed.raw_message.as_ref()))
    }

    fn full(&self) -> Option<&Message<'a>> {
        self.full
            .get_or_init(|| self.raw.and_then(|raw| parse_guarded(raw, false)))
            .as_deref()
    }

    fn sent_day(&self) -> Option<i64> {
        let (fields, _) = self.fields()?;
        let date = fields
            .iter()
            .find(|h| h.name == HeaderName::Date)?
            .value
            .as_datetime()?;
        days_from_civil(date.year, date.month, date.day)
    }

    /// `FROM`, `TO`, `CC`, `BCC`, `SUBJECT`: every field of that name, decoded and raw.
    fn field_contains(&self, name: &HeaderName<'_>, needle: &AString<'_>) -> bool {
        let Some((fields, buf)) = self.fields() else {
            return false;
        };
        let needle = lower_needle(needle);
        fields
            .iter()
            .filter(|h| h.name == *name)
            .any(|h| field_matches(h, buf, &needle))
    }

    /// `HEADER name value`: an empty value matches any message that has the field.
    fn named_field_contains(&self, name: &[u8], needle: &AString<'_>) -> bool {
        let Some((fields, buf)) = self.fields() else {
            return false;
        };
        let needle = lower_needle(needle);
        fields
            .iter()
            .filter(|h| {
                h.name
                    .as_str()
                    .as_bytes()
                    .eq_ignore_ascii_case(name.trim_ascii())
            })
            .any(|h| field_matches(h, buf, &needle))
    }

    fn body_contains(&self, needle: &AString<'_>) -> bool {
        let Some(raw) = self.raw else {
            return false;
        };
        let text = self.body_text.get_or_init(|| {
            let mut text = String::new();
            let root = tree(raw, self.full());
            match &root.kind {
                // The top-level header is not body; below it, everything that is text.
                Kind::Leaf => push_leaf_text(&root, &mut text),
                _ => collect_body_text(&root, &mut text),
            }
            text.to_lowercase()
        });
        text.contains(&lower_needle(needle))
    }

    /// `TEXT`: the header (decoded fields and the raw section) or the body.
    fn text_contains(&self, needle: &AString<'_>) -> bool {
        let Some(raw) = self.raw else {
            return false;
        };
        let header = self.header_text.get_or_init(|| {
            let mut text = String::from_utf8_lossy(&raw[..header_len(raw)]).into_owned();
            if let Some((fields, _)) = self.fields() {
                collect_header_text(fields, &mut text);
            }
            text.to_lowercase()
        });
        header.contains(&lower_needle(needle)) || self.body_contains(needle)
    }
}

fn lower_needle(needle: &AString<'_>) -> String {
    String::from_utf8_lossy(needle.as_ref()).to_lowercase()
}

fn field_matches(header: &Header<'_>, buf: &[u8], needle: &str) -> bool {
    let mut decoded = String::new();
    value_text(&header.value, &mut decoded);
    decoded.to_lowercase().contains(needle)
        || String::from_utf8_lossy(&raw_value(buf, header))
            .to_lowercase()
            .contains(needle)
}

/// A field's decoded value as searchable text (addresses as `name <address>`).
fn value_text(value: &HeaderValue<'_>, out: &mut String) {
    let addr = |a: &mail_parser::Addr<'_>, out: &mut String| {
        if let Some(name) = &a.name {
            out.push_str(name);
            out.push(' ');
        }
        if let Some(address) = &a.address {
            out.push('<');
            out.push_str(address);
            out.push('>');
        }
        out.push_str(", ");
    };
    match value {
        HeaderValue::Text(t) => out.push_str(t),
        HeaderValue::TextList(list) => {
            for t in list {
                out.push_str(t);
                out.push(' ');
            }
        }
        HeaderValue::Address(Address::List(list)) => list.iter().for_each(|a| addr(a, out)),
        HeaderValue::Address(Address::Group(groups)) => {
            for group in groups {
                if let Some(name) = &group.name {
                    out.push_str(name);
                    out.push_str(": ");
                }
                group.addresses.iter().for_each(|a| addr(a, out));
            }
        }
        HeaderValue::ContentType(ct) => {
            out.push_str(&ct.c_type);
            if let Some(sub) = &ct.c_subtype {
                out.push('/');
                out.push_str(sub);
            }
            for a in ct.attributes.as_deref().unwrap_or_default() {
                out.push_str("; ");
                out.push_str(&a.name);
                out.push('=');
                out.push_str(&a.value);
            }
        }
        HeaderValue::DateTime(_) | HeaderValue::Received(_) | HeaderValue::Empty => {}
    }
}

fn collect_header_text(fields: &[Header<'_>], out: &mut String) {
    for h in fields {
        out.push('\n');
        out.push_str(h.name.as_str());
        out.push_str(": ");
        value_text(&h.value, out);
    }
}

/// Decoded text of every text part below `entity`, HTML as text, and of encapsulated
/// messages (their header fields too: they are body to the outer message). The tree is
/// depth-capped, and so is this walk.
fn collect_body_text(entity: &Entity<'_>, out: &mut String) {
    match &entity.kind {
        Kind::Multipart(children) => children.iter().for_each(|c| collect_body_text(c, out)),
        Kind::Message(inner) => {
            collect_header_text(inner.fields, out);
            out.push('\n');
            collect_body_text(inner, out);
        }
        Kind::Leaf => push_leaf_text(entity, out),
    }
}

/// The text of a `text/*` leaf (no `Content-Type` counts as text/plain): transfer encoding
/// undone, charset decoded, HTML reduced to its visible text.
fn push_leaf_text(entity: &Entity<'_>, out: &mut String) {
    let content_type = entity.content_type();
    let (is_text, is_html) = match content_type {
        Some(ct) => (
            ct.c_type.eq_ignore_ascii_case("text"),
            ct.c_subtype
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("html")),
        ),
        None => (true, false),
    };
    if !is_text {
        return;
    }
    let body = entity.body_bytes();
    let encoding = field(entity.fields, &HeaderName::ContentTransferEncoding)
        .map(|h| raw_value(entity.buf, h).to_ascii_lowercase());
    let decoded: Cow<'_, [u8]> = match encoding.as_deref() {
        Some(b"base64") => base64_decode(body).map_or(Cow::Borrowed(body), Cow::Owned),
        Some(b"quoted-printable") => {
            quoted_printable_decode(body).map_or(Cow::Borrowed(body), Cow::Owned)
        }
        _ => Cow::Borrowed(body),
    };
    let charset = content_type
        .and_then(|ct| ct.attribute("charset"))
        .and_then(|c| charset_decoder(c.as_bytes()));
    let text = match charset {
        Some(decode) => decode(&decoded),
        None => String::from_utf8_lossy(&decoded).into_owned(),
    };
    if is_html {
        out.push_str(&html_to_text(&text));
    } else {
        out.push_str(&text);
    }
    out.push('\n');
}

/// Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

/// Days since 1970-01-01 of a calendar date; `None` for one that does not exist.
fn days_from_civil(year: u16, month: u8, day: u8) -> Option<i64> {
    let month = time::Month::try_from(month).ok()?;
    let date = time::Date::from_calendar_date(i32::from(year), month, day).ok()?;
    Some(i64::from(date.to_julian_day()) - UNIX_EPOCH_JULIAN_DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_count_from_the_unix_epoch() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2005, 9, 10), Some(13036));
        assert_eq!(days_from_civil(2024, 2, 30), None);
        assert_eq!(days_from_civil(2024, 13, 1), None);
    }
}
