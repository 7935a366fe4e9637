//! `BINARY[part]<partial>` and `BINARY.SIZE[part]` (RFC 3516, part of IMAP4rev2): a part's
//! content with its Content-Transfer-Encoding undone.
//!
//! The part is found on the same MIME tree as `BODY[part]` (so the numbers of a
//! `BODYSTRUCTURE` resolve the same way); its `Content-Transfer-Encoding` is read from the
//! part's own header bytes (the shared parser leaves that field uninterpreted, see
//! [`super::mime`]) and undone with mail-parser's decoders: `base64` and `quoted-printable`
//! decoded, `7bit`, `8bit`, `binary` (and no field at all) as they are. `BINARY[]` is the whole
//! message as stored.

use std::borrow::Cow;
use std::num::NonZeroU32;

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;

use super::mime::{header_len, tree, Entity, Kind};
use super::section::{cut, resolve_numbers};
use super::MimeMessage;

/// Why a part has no binary content to give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BinaryError {
    /// The message has no such part (the session answers `NIL`, as `BODY[part]` does).
    NoSuchPart,
    /// The part is a multipart: it has no content of its own to decode.
    Multipart,
    /// A Content-Transfer-Encoding other than the five of RFC 2045 (the session answers
    /// `NO [UNKNOWN-CTE]`); holds the encoding's name, bounded and printable.
    UnknownCte(String),
    /// Declared base64 or quoted-printable, but the bytes do not decode.
    Undecodable,
}

/// The content of `part` of `raw` (the whole message for an empty `part`) with its
/// Content-Transfer-Encoding undone, cut to `partial`. See the module documentation.
///
/// ```
/// use rampart_imap::render::binary;
/// use std::num::NonZeroU32;
///
/// let raw = b"Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n";
/// let one = [NonZeroU32::new(1).unwrap()];
/// assert_eq!(binary(raw, &one, None).unwrap(), b"hello");
/// ```
pub fn binary(
    raw: &[u8],
    part: &[NonZeroU32],
    partial: Option<(u32, NonZeroU32)>,
) -> Result<Vec<u8>, BinaryError> {
    MimeMessage::new(raw).binary(part, partial)
}

/// The decoded content of an entity.
pub(crate) fn decoded<'m>(entity: &Entity<'m>) -> Result<Cow<'m, [u8]>, BinaryError> {
    if let Kind::Multipart(_) = entity.kind {
        return Err(BinaryError::Multipart);
    }
    let body = entity.body_bytes();
    let cte = transfer_encoding(entity.header_bytes());
    match cte.as_deref() {
        None | Some("7bit" | "8bit" | "binary") => Ok(Cow::Borrowed(body)),
        Some("base64") => base64_decode(body)
            .map(Cow::Owned)
            .ok_or(BinaryError::Undecodable),
        Some("quoted-printable") => quoted_printable_decode(body)
            .map(Cow::Owned)
            .ok_or(BinaryError::Undecodable),
        Some(other) => Err(BinaryError::UnknownCte(
            other
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(40)
                .collect(),
        )),
    }
}

impl MimeMessage<'_> {
    /// See [`binary`].
    pub fn binary(
        &self,
        part: &[NonZeroU32],
        partial: Option<(u32, NonZeroU32)>,
    ) -> Result<Vec<u8>, BinaryError> {
        Ok(cut(&self.binary_content(part)?, partial).to_vec())
    }

    /// `BINARY.SIZE[part]`: the length of the decoded content (saturating at `u32::MAX`).
    pub fn binary_size(&self, part: &[NonZeroU32]) -> Result<u32, BinaryError> {
        Ok(super::value::number(self.binary_content(part)?.len()))
    }

    fn binary_content(&self, part: &[NonZeroU32]) -> Result<Cow<'_, [u8]>, BinaryError> {
        let raw = self.raw();
        if part.is_empty() {
            return Ok(Cow::Borrowed(raw));
        }
        let root = tree(raw, self.parsed());
        let entity = resolve_numbers(&root, part).ok_or(BinaryError::NoSuchPart)?;
        decoded(entity).map(|c| Cow::Owned(c.into_owned()))
    }
}

/// The value of the first `Content-Transfer-Encoding` field of `header` (unfolded, comments
/// removed, lower case); `None` when there is none or it is empty.
pub(crate) fn transfer_encoding(header: &[u8]) -> Option<String> {
    let header = &header[..header_len(header)];
    let mut value: Option<Vec<u8>> = None;
    for line in header.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        let continuation = matches!(line.first(), Some(b' ' | b'\t'));
        match (&mut value, continuation) {
            (Some(v), true) => v.extend_from_slice(line),
            (Some(_), false) => break,
            (None, false) => {
                if let Some(colon) = line.iter().position(|&b| b == b':') {
                    if line[..colon]
                        .trim_ascii()
                        .eq_ignore_ascii_case(b"Content-Transfer-Encoding")
                    {
                        value = Some(line[colon + 1..].to_vec());
                    }
                }
            }
            (None, true) => {}
        }
    }
    let value = value?;
    // Comments, RFC 822 style: `base64 (an attachment)`.
    let mut depth = 0usize;
    let mut out = String::new();
    for &b in &value {
        match b {
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            _ if depth == 0 && !b.is_ascii_whitespace() => {
                out.push(char::from(b.to_ascii_lowercase()))
            }
            _ => {}
        }
        if out.len() > 64 {
            break;
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(numbers: &[u32]) -> Vec<NonZeroU32> {
        numbers
            .iter()
            .map(|&n| NonZeroU32::new(n).unwrap())
            .collect()
    }

    const MIXED: &[u8] = b"From: a@b\r\n\
Content-Type: multipart/mixed; boundary=\"xx\"\r\n\
\r\n\
--xx\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
caf=C3=A9 au lait=\r\n\
, s'il vous pla=C3=AEt\r\n\
--xx\r\n\
Content-Type: application/octet-stream\r\n\
Content-Transfer-Encoding:\r\n\
\tBASE64 (binary data)\r\n\
\r\n\
AAEC/w==\r\n\
--xx\r\n\
Content-Type: text/plain\r\n\
Content-Transfer-Encoding: x-uuencode\r\n\
\r\n\
begin 644 f\r\n\
--xx\r\n\
Content-Type: text/plain\r\n\
\r\n\
plain\r\n\
--xx--\r\n";

    #[test]
    fn decodes_base64_and_quoted_printable_parts() {
        assert_eq!(
            binary(MIXED, &part(&[1]), None).unwrap(),
            "café au lait, s'il vous plaît".as_bytes()
        );
        assert_eq!(binary(MIXED, &part(&[2]), None).unwrap(), [0, 1, 2, 255]);
        assert_eq!(binary(MIXED, &part(&[4]), None).unwrap(), b"plain");
        let message = MimeMessage::new(MIXED);
        assert_eq!(message.binary_size(&part(&[2])), Ok(4));
        assert_eq!(message.binary_size(&[]), Ok(MIXED.len() as u32));
    }

    #[test]
    fn partial_applies_to_the_decoded_bytes() {
        let two = NonZeroU32::new(2).unwrap();
        assert_eq!(binary(MIXED, &part(&[2]), Some((1, two))).unwrap(), [1, 2]);
        assert_eq!(binary(MIXED, &part(&[2]), Some((9, two))).unwrap(), b"");
    }

    #[test]
    fn whole_message_unknown_cte_multipart_and_missing_parts() {
        assert_eq!(binary(MIXED, &[], None).unwrap(), MIXED);
        assert_eq!(
            binary(MIXED, &part(&[3]), None),
            Err(BinaryError::UnknownCte("x-uuencode".into()))
        );
        assert_eq!(
            binary(MIXED, &part(&[9]), None),
            Err(BinaryError::NoSuchPart)
        );
        assert_eq!(
            binary(MIXED, &part(&[1, 1, 1]), None),
            Err(BinaryError::NoSuchPart)
        );
        let nested = b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n\
Content-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\n\r\nx\r\n--i--\r\n--o--\r\n";
        assert_eq!(
            binary(nested, &part(&[1]), None),
            Err(BinaryError::Multipart)
        );
        assert_eq!(binary(nested, &part(&[1, 1]), None).unwrap(), b"x");
    }

    #[test]
    fn single_part_message_is_part_one() {
        let raw = b"Subject: x\r\nContent-Transfer-Encoding: Base64\r\n\r\naGk=\r\n";
        assert_eq!(binary(raw, &part(&[1]), None).unwrap(), b"hi");
        let seven = b"Subject: x\r\nContent-Transfer-Encoding: 7bit\r\n\r\nhi\r\n";
        assert_eq!(binary(seven, &part(&[1]), None).unwrap(), b"hi\r\n");
    }

    #[test]
    fn transfer_encoding_field_is_found_unfolded_and_without_comments() {
        assert_eq!(
            transfer_encoding(b"A: 1\r\nContent-Transfer-Encoding: (c) QUOTED-Printable\r\n\r\n"),
            Some("quoted-printable".into())
        );
        assert_eq!(
            transfer_encoding(b"A: 1\r\n\r\nContent-Transfer-Encoding: base64\r\n"),
            None
        );
        assert_eq!(
            transfer_encoding(b"content-transfer-encoding:  \r\n\r\n"),
            None
        );
    }
}
