//! Plain text and CSV, in whatever charset they came in: a BOM decides; else valid UTF-8; else
//! GB18030 when the bytes read as Chinese; else Windows-1252 (which decodes any byte).

use std::borrow::Cow;

use encoding_rs::{Encoding, GB18030, UTF_8, WINDOWS_1252};

use crate::{DocKind, Extractor, Node};

pub(crate) fn extract(ex: &mut Extractor, node: &Node, kind: DocKind, bytes: &[u8]) {
    let mut sink = ex.sink();
    let (text, cut) = decode(bytes, sink.room());
    sink.push_str(&text);
    if cut {
        sink.truncated = true;
    }
    ex.finish_sink(&node.path, &sink);
    let text = sink.take();
    ex.emit(node.path.clone(), kind, text);
}

/// The charset of `bytes`, judged on all of them (UTF-8 validity) or a prefix (Chinese).
pub(crate) fn sniff_charset(bytes: &[u8]) -> &'static Encoding {
    if let Some((encoding, _)) = Encoding::for_bom(bytes) {
        return encoding;
    }
    match std::str::from_utf8(bytes) {
        Ok(_) => return UTF_8,
        // Cut short in the middle of a character (a capped read): still UTF-8.
        Err(e) if e.error_len().is_none() => return UTF_8,
        Err(_) => {}
    }
    if reads_as_chinese(bytes) {
        GB18030
    } else {
        WINDOWS_1252
    }
}

/// Decodes at most `max_out` bytes of text from `bytes`; `true` if something was left out.
pub(crate) fn decode(bytes: &[u8], max_out: usize) -> (Cow<'_, str>, bool) {
    decode_as(sniff_charset(bytes), bytes, max_out)
}

/// Decodes `bytes` as `encoding` (a BOM still wins), stopping after about `max_out` bytes of
/// output; `true` if input was left undecoded.
pub(crate) fn decode_as<'a>(
    encoding: &'static Encoding,
    bytes: &'a [u8],
    max_out: usize,
) -> (Cow<'a, str>, bool) {
    // UTF-8 maps input to output one to one; other charsets may shrink (UTF-16, four-byte
    // GB18030), never by more than half. The output is cut to `max_out` below.
    let (encoding, bom) = Encoding::for_bom(bytes).unwrap_or((encoding, 0));
    let body = &bytes[bom..];
    let take = if encoding == UTF_8 {
        max_out.min(body.len())
    } else {
        max_out.saturating_mul(2).min(body.len())
    };
    let (mut text, _) = encoding.decode_without_bom_handling(&body[..take]);
    let mut cut = take < body.len();
    if text.len() > max_out {
        let mut at = max_out;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.to_mut().truncate(at);
        cut = true;
    }
    if cut && encoding == UTF_8 && text.ends_with('\u{FFFD}') {
        // The prefix ended inside a character.
        text.to_mut().pop();
    }
    (text, cut)
}

/// GB18030 decodes most byte strings without error, Windows-1252 text included (`é` and the
/// letter after it make an ideograph). It is taken only when the first 64 KiB decode cleanly,
/// most non-ASCII characters are CJK ideographs, punctuation or full-width forms, and most of
/// those stand next to another one, as in Chinese text; accented letters in Latin text come out
/// as ideographs standing alone between ASCII letters.
fn reads_as_chinese(bytes: &[u8]) -> bool {
    let mut sample = &bytes[..bytes.len().min(64 * 1024)];
    // Do not judge a sample by the character its cut split.
    while sample.len() > 1 && sample.len() < bytes.len() && sample[sample.len() - 1] >= 0x80 {
        sample = &sample[..sample.len() - 1];
    }
    let Some(text) = GB18030.decode_without_bom_handling_and_without_replacement(sample) else {
        return false;
    };
    let (mut paired, mut alone, mut other) = (0usize, 0usize, 0usize);
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii() {
            continue;
        }
        if !is_cjk(c) {
            other += 1;
            continue;
        }
        let before = i > 0 && !chars[i - 1].is_ascii();
        let after = chars.get(i + 1).is_some_and(|n| !n.is_ascii());
        if before || after {
            paired += 1;
        } else {
            alone += 1;
        }
    }
    let cjk = paired + alone;
    cjk > 0 && cjk >= other * 4 && paired >= alone * 2
}

fn is_cjk(c: char) -> bool {
    matches!(u32::from(c),
        0x3000..=0x303F | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF
        | 0x20000..=0x2FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(bytes: &[u8]) -> String {
        decode(bytes, usize::MAX / 4).0.into_owned()
    }

    #[test]
    fn reads_boms_utf8_gb18030_and_windows_1252() {
        assert_eq!(dec("中文 ok".as_bytes()), "中文 ok");
        assert_eq!(dec(b"\xEF\xBB\xBFhi"), "hi");
        assert_eq!(dec(b"\xFF\xFEh\0i\0-N\x87e"), "hi中文");
        assert_eq!(dec(b"\xFE\xFF\0h\0i"), "hi");
        // "身份证号码" in GBK.
        assert_eq!(
            dec(b"\xc9\xed\xb7\xdd\xd6\xa4\xba\xc5\xc2\xeb: 110101199003078515"),
            "身份证号码: 110101199003078515"
        );
        assert_eq!(dec(b"caf\xe9 cr\xe8me"), "café crème");
        assert_eq!(sniff_charset(b"caf\xe9au lait"), WINDOWS_1252);
    }

    #[test]
    fn stops_at_the_output_cap_on_a_character_boundary() {
        let (text, cut) = decode("中文中文".as_bytes(), 7);
        assert_eq!(text, "中文");
        assert!(cut);
        let (text, cut) = decode(b"abc", 3);
        assert_eq!(text, "abc");
        assert!(!cut);
    }
}
