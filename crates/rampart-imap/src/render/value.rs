//! IMAP string values from header bytes: raw field values, `NIL`, and RFC 2047 encoded words
//! for text mail-parser has already decoded.

use base64::Engine as _;
use imap_codec::imap_types::core::{IString, NString};
use mail_parser::Header;

/// An IMAP string of `bytes`: quoted when it can be, a literal otherwise (8-bit, CR, LF).
/// NUL, the one octet no IMAP string may carry, is dropped.
pub(crate) fn istring(bytes: impl Into<Vec<u8>>) -> IString<'static> {
    let mut bytes = bytes.into();
    bytes.retain(|&b| b != 0);
    // Without NUL, a literal always validates; the empty quoted string is the last resort.
    IString::try_from(bytes)
        .or_else(|_| IString::try_from(""))
        .unwrap_or_else(|_| unreachable!("the empty quoted string is valid"))
}

/// `NIL` for `None`, else [`istring`].
pub(crate) fn nstring(bytes: Option<impl Into<Vec<u8>>>) -> NString<'static> {
    NString(bytes.map(istring))
}

/// The value of `header` as it stands in `buf`: unfolded (CR and LF removed), surrounding
/// white space trimmed, nothing decoded.
pub(crate) fn raw_value(buf: &[u8], header: &Header<'_>) -> Vec<u8> {
    let start = (header.offset_start as usize).min(buf.len());
    let end = (header.offset_end as usize).clamp(start, buf.len());
    let unfolded: Vec<u8> = buf[start..end]
        .iter()
        .copied()
        .filter(|b| !matches!(b, b'\r' | b'\n' | 0))
        .collect();
    unfolded.trim_ascii().to_vec()
}

/// Longest UTF-8 run in one encoded word: 45 bytes are 60 base64 characters, which with
/// `=?utf-8?b?` and `?=` stays within RFC 2047's 75.
const WORD_BYTES: usize = 45;

/// `text` as an IMAP4rev1 client expects a display name or parameter value: as is when it is
/// ASCII, else as RFC 2047 `B` encoded words in UTF-8 (mail-parser hands us decoded text, and
/// raw 8-bit in an `ENVELOPE` or `BODYSTRUCTURE` is what older clients mangle).
pub(crate) fn encode_words(text: &str) -> Vec<u8> {
    if text.is_ascii() {
        return text.as_bytes().to_vec();
    }
    let mut out = Vec::with_capacity(text.len() * 2);
    let mut rest = text;
    while !rest.is_empty() {
        let mut cut = rest.len().min(WORD_BYTES);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        if cut == 0 {
            // Only reachable with a char longer than WORD_BYTES, which UTF-8 does not have.
            cut = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        let (word, tail) = rest.split_at(cut);
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(b"=?utf-8?b?");
        out.extend_from_slice(
            base64::engine::general_purpose::STANDARD
                .encode(word)
                .as_bytes(),
        );
        out.extend_from_slice(b"?=");
        rest = tail;
    }
    out
}

/// `n` as an IMAP number, saturating (no message here comes near 4 GiB).
pub(crate) fn number(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_passes_through_unencoded() {
        assert_eq!(encode_words("Ann Example"), b"Ann Example");
    }

    #[test]
    fn non_ascii_becomes_utf8_encoded_words_of_bounded_length() {
        let name = "张伟".repeat(20);
        let encoded = String::from_utf8(encode_words(&name)).unwrap();
        for word in encoded.split(' ') {
            assert!(
                word.starts_with("=?utf-8?b?") && word.ends_with("?="),
                "{word}"
            );
            assert!(word.len() <= 75, "{word}");
        }
        let decoded: String = encoded
            .split(' ')
            .map(|w| {
                let b64 = &w["=?utf-8?b?".len()..w.len() - 2];
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap();
                String::from_utf8(bytes).unwrap()
            })
            .collect();
        assert_eq!(decoded, name);
    }

    #[test]
    fn nul_is_dropped_and_eight_bit_becomes_a_literal() {
        assert!(matches!(istring(b"a\0b".to_vec()), IString::Quoted(_)));
        assert_eq!(istring(b"a\0b".to_vec()).as_ref(), b"ab");
        assert!(matches!(istring("主题".as_bytes()), IString::Literal(_)));
        assert!(matches!(istring(b"a\r\nb".to_vec()), IString::Literal(_)));
    }
}
