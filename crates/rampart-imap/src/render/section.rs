//! `BODY[section]<partial>` and the `RFC822.*` items: byte-exact slices of the stored message.

use std::borrow::Cow;
use std::num::NonZeroU32;

use super::mime::{header_len, Entity, Kind};
use super::MimeMessage;
use imap_codec::imap_types::core::AString;
use imap_codec::imap_types::fetch::{Part, Section};

/// The bytes of `section` of `raw` (the whole message for `None`), cut to `partial`
/// (`<start.length>`); `None` when the section names a part the message does not have, or
/// `HEADER`/`TEXT`/`HEADER.FIELDS` after a part number that is not a `message/rfc822` (the
/// session answers those per RFC: `NIL` or an empty string).
///
/// Numbering follows RFC 3501 §6.4.5: a non-multipart message has part 1 (its body); the parts
/// of a `message/rfc822` part are those of the encapsulated message; `MIME` is a part's own
/// header; header sections end with (and include) the blank line, when there is one. A partial
/// starting past the end gives an empty slice, one running past it is cut short.
///
/// Only sections below a part number parse MIME (with the same tree and limits as
/// [`body_structure`](super::body_structure)); `HEADER`, `HEADER.FIELDS`, `TEXT` and the whole
/// message only look for the blank line.
pub fn section(
    raw: &[u8],
    section: Option<&Section<'_>>,
    partial: Option<(u32, NonZeroU32)>,
) -> Option<Vec<u8>> {
    MimeMessage::new(raw).section(section, partial)
}

/// The bytes of a section of the top-level message that needs no MIME parsing (the whole
/// message, `HEADER`, `HEADER.FIELDS[.NOT]`, `TEXT`); `None` for one that starts with a part
/// number.
pub(crate) fn unnumbered_section<'r>(
    raw: &'r [u8],
    section: Option<&Section<'_>>,
) -> Option<Cow<'r, [u8]>> {
    let top = header_len(raw);
    Some(match section {
        None => Cow::Borrowed(raw),
        Some(Section::Header(None)) => Cow::Borrowed(&raw[..top]),
        Some(Section::Text(None)) => Cow::Borrowed(&raw[top..]),
        Some(Section::HeaderFields(None, names)) => {
            Cow::Owned(header_fields(&raw[..top], names.as_ref(), true))
        }
        Some(Section::HeaderFieldsNot(None, names)) => {
            Cow::Owned(header_fields(&raw[..top], names.as_ref(), false))
        }
        Some(_) => return None,
    })
}

/// A section that starts with a part number, against the message's tree.
pub(crate) fn numbered_section<'m>(
    root: &Entity<'m>,
    section: &Section<'_>,
) -> Option<Cow<'m, [u8]>> {
    let encapsulated = |part: &Part| match &resolve(root, part)?.kind {
        Kind::Message(inner) => Some(inner.as_ref()),
        _ => None,
    };
    Some(match section {
        Section::Part(part) => Cow::Borrowed(resolve(root, part)?.body_bytes()),
        Section::Mime(part) => Cow::Borrowed(resolve(root, part)?.header_bytes()),
        Section::Header(Some(part)) => Cow::Borrowed(encapsulated(part)?.header_bytes()),
        Section::Text(Some(part)) => Cow::Borrowed(encapsulated(part)?.body_bytes()),
        Section::HeaderFields(Some(part), names) => Cow::Owned(header_fields(
            encapsulated(part)?.header_bytes(),
            names.as_ref(),
            true,
        )),
        Section::HeaderFieldsNot(Some(part), names) => Cow::Owned(header_fields(
            encapsulated(part)?.header_bytes(),
            names.as_ref(),
            false,
        )),
        Section::Header(None)
        | Section::Text(None)
        | Section::HeaderFields(None, _)
        | Section::HeaderFieldsNot(None, _) => return None,
    })
}

/// The entity a part number names (RFC 3501 §6.4.5).
fn resolve<'t, 'm>(root: &'t Entity<'m>, part: &Part) -> Option<&'t Entity<'m>> {
    resolve_numbers(root, part.0.as_ref())
}

/// [`resolve`] from the part numbers themselves (`BINARY[1.2]`); `None` for an empty list.
pub(crate) fn resolve_numbers<'t, 'm>(
    root: &'t Entity<'m>,
    part: &[NonZeroU32],
) -> Option<&'t Entity<'m>> {
    if part.is_empty() {
        return None;
    }
    let mut current = root;
    for (i, n) in part.iter().enumerate() {
        let index = n.get() as usize - 1;
        // The entity whose parts are being numbered: the top message itself first, then a
        // multipart's parts, or an encapsulated message's.
        let numbered = if i == 0 {
            current
        } else {
            match &current.kind {
                Kind::Message(inner) => inner.as_ref(),
                Kind::Multipart(_) => current,
                Kind::Leaf => return None,
            }
        };
        current = match &numbered.kind {
            Kind::Multipart(children) => children.get(index)?,
            // A message that is not multipart has one part, its body.
            _ if index == 0 => numbered,
            _ => return None,
        };
    }
    Some(current)
}

/// The fields of `header` named (`wanted`) or not named (`!wanted`) in `names`, compared
/// without regard to case, each with its continuation lines, in the message's order, followed
/// by the blank line if `header` ends with one.
fn header_fields(header: &[u8], names: &[AString<'_>], wanted: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut keep = false;
    for line in header.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            out.extend_from_slice(line);
            break;
        }
        if !matches!(line.first(), Some(b' ' | b'\t')) {
            // A line without a colon is no field: never returned.
            keep = match line.iter().position(|&b| b == b':') {
                Some(colon) => {
                    let name = line[..colon].trim_ascii();
                    let named = names.iter().any(|n| n.as_ref().eq_ignore_ascii_case(name));
                    named == wanted
                }
                None => false,
            };
        }
        if keep {
            out.extend_from_slice(line);
        }
    }
    out
}

/// `<start.length>` applied to `bytes`.
pub(crate) fn cut(bytes: &[u8], partial: Option<(u32, NonZeroU32)>) -> &[u8] {
    let Some((start, length)) = partial else {
        return bytes;
    };
    let start = (start as usize).min(bytes.len());
    let end = start.saturating_add(length.get() as usize).min(bytes.len());
    &bytes[start..end]
}

/// `RFC822.HEADER` (the same bytes as `BODY.PEEK[HEADER]`).
pub fn rfc822_header(raw: &[u8]) -> &[u8] {
    &raw[..header_len(raw)]
}

/// `RFC822.TEXT` (the same bytes as `BODY[TEXT]`).
pub fn rfc822_text(raw: &[u8]) -> &[u8] {
    &raw[header_len(raw)..]
}

/// `RFC822.SIZE`: the message's octets as stored (saturating at `u32::MAX`).
pub fn rfc822_size(raw: &[u8]) -> u32 {
    super::value::number(raw.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&'static str]) -> Vec<AString<'static>> {
        list.iter()
            .map(|n| AString::try_from(*n).unwrap())
            .collect()
    }

    #[test]
    fn header_fields_keep_continuations_and_the_blank_line() {
        let header = b"Subject: a\r\n  folded\r\nFrom: x@y\r\nsubject: b\r\n\r\n";
        assert_eq!(
            header_fields(header, &names(&["SUBJECT"]), true),
            b"Subject: a\r\n  folded\r\nsubject: b\r\n\r\n"
        );
        assert_eq!(
            header_fields(header, &names(&["Subject"]), false),
            b"From: x@y\r\n\r\n"
        );
    }

    #[test]
    fn header_without_blank_line_gets_none_added() {
        assert_eq!(
            header_fields(b"From: x@y\r\n", &names(&["From"]), true),
            b"From: x@y\r\n"
        );
    }

    #[test]
    fn partial_past_the_end_is_empty_and_overlong_is_cut() {
        let five = NonZeroU32::new(5).unwrap();
        assert_eq!(cut(b"hello world", Some((6, five))), b"world");
        assert_eq!(cut(b"hello", Some((3, five))), b"lo");
        assert_eq!(cut(b"hello", Some((9, five))), b"");
        assert_eq!(cut(b"hello", Some((u32::MAX, NonZeroU32::MAX))), b"");
    }
}
