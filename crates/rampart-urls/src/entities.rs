//! HTML character references (`&amp;`, `&#46;`, `&#x2F;`, `&period;`), decoded the way the HTML
//! standard's tokenizer does, because a phisher writes `paypal&period;com` exactly so that naive
//! scanners miss it.

use crate::entity_table::NAMED;

/// The longest name in the table (`CounterClockwiseContourIntegral;` without its `;`).
const MAX_NAME: usize = 32;
/// The longest legacy name, accepted without `;` (`frac12`, `middot`, ...).
const MAX_LEGACY_NAME: usize = 6;

/// Appends `src` to `out` with character references decoded. In attribute values, a legacy
/// reference without `;` followed by `=` or an alphanumeric stays as written (`?a=1&copy=2`).
pub(crate) fn decode_into(src: &str, out: &mut String, in_attribute: bool) {
    let bytes = src.as_bytes();
    let mut last = 0;
    for amp in memchr::memchr_iter(b'&', bytes) {
        if amp < last {
            continue;
        }
        out.push_str(&src[last..amp]);
        let rest = &src[amp + 1..];
        match reference(rest, in_attribute) {
            Some((decoded, consumed)) => {
                match decoded {
                    Decoded::Char(c) => out.push(c),
                    Decoded::Str(s) => out.push_str(s),
                }
                last = amp + 1 + consumed;
            }
            None => {
                out.push('&');
                last = amp + 1;
            }
        }
    }
    out.push_str(&src[last..]);
}

/// Decodes `src` into a new string, borrowing nothing when it holds no `&`.
pub(crate) fn decode(src: &str, in_attribute: bool) -> std::borrow::Cow<'_, str> {
    if memchr::memchr(b'&', src.as_bytes()).is_none() {
        return std::borrow::Cow::Borrowed(src);
    }
    let mut out = String::with_capacity(src.len());
    decode_into(src, &mut out, in_attribute);
    std::borrow::Cow::Owned(out)
}

enum Decoded {
    Char(char),
    Str(&'static str),
}

/// `rest` starts right after `&`. Returns what the reference stands for and how many bytes of
/// `rest` it used.
fn reference(rest: &str, in_attribute: bool) -> Option<(Decoded, usize)> {
    let b = rest.as_bytes();
    if b.first() == Some(&b'#') {
        return numeric(&b[1..]).map(|(c, used)| (Decoded::Char(c), used + 1));
    }
    let run = b
        .iter()
        .take(MAX_NAME + 1)
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    if run == 0 || run > MAX_NAME {
        return None;
    }
    if b.get(run) == Some(&b';') {
        if let Some(value) = lookup(&rest[..=run]) {
            return Some((Decoded::Str(value), run + 1));
        }
    }
    // Legacy names, matched as the longest prefix: `&notit;` is `¬it;`.
    for len in (2..=run.min(MAX_LEGACY_NAME)).rev() {
        if let Some(value) = lookup(&rest[..len]) {
            let next = b.get(len).copied();
            if in_attribute && next.is_some_and(|c| c == b'=' || c.is_ascii_alphanumeric()) {
                return None;
            }
            return Some((Decoded::Str(value), len));
        }
    }
    None
}

fn lookup(name: &str) -> Option<&'static str> {
    // The references of nearly every real message, before the binary search.
    let common = match name {
        "amp;" | "amp" => Some("&"),
        "nbsp;" | "nbsp" => Some("\u{a0}"),
        "lt;" | "lt" => Some("<"),
        "gt;" | "gt" => Some(">"),
        "quot;" | "quot" => Some("\""),
        _ => None,
    };
    if common.is_some() {
        return common;
    }
    NAMED
        .binary_search_by(|(k, _)| k.as_bytes().cmp(name.as_bytes()))
        .ok()
        .map(|i| NAMED[i].1)
}

/// `b` starts after `&#`.
fn numeric(b: &[u8]) -> Option<(char, usize)> {
    let (hex, start) = match b.first() {
        Some(b'x' | b'X') => (true, 1),
        _ => (false, 0),
    };
    let mut value: u32 = 0;
    let mut i = start;
    while let Some(&c) = b.get(i) {
        let digit = if hex {
            (c as char).to_digit(16)
        } else {
            (c as char).to_digit(10)
        };
        let Some(d) = digit else { break };
        // Saturate: anything past U+10FFFF is replaced anyway.
        value = value
            .saturating_mul(if hex { 16 } else { 10 })
            .saturating_add(d);
        i += 1;
    }
    if i == start {
        return None;
    }
    if b.get(i) == Some(&b';') {
        i += 1;
    }
    Some((numeric_char(value), i))
}

fn numeric_char(value: u32) -> char {
    // The C1 range is read as windows-1252, as every browser does.
    const C1: [u32; 32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013,
        0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ];
    let value = match value {
        0 => 0xFFFD,
        0x80..=0x9F => C1[(value - 0x80) as usize],
        v => v,
    };
    char::from_u32(value).unwrap_or('\u{FFFD}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> String {
        decode(s, false).into_owned()
    }

    #[test]
    fn decodes_named_numeric_and_hex_references() {
        assert_eq!(text("paypal&period;com"), "paypal.com");
        assert_eq!(text("a&#46;b&#x2F;c&#X2f;"), "a.b/c/");
        assert_eq!(text("&lt;b&gt; &amp; &nbsp;"), "<b> & \u{a0}");
        assert_eq!(
            text("&#0;&#xD800;&#99999999999;"),
            "\u{FFFD}\u{FFFD}\u{FFFD}"
        );
        assert_eq!(text("&#150;"), "\u{2013}");
    }

    #[test]
    fn decodes_legacy_references_without_semicolon_in_text_only() {
        assert_eq!(text("&copy 2024 &notit;"), "\u{a9} 2024 \u{ac}it;");
        assert_eq!(decode("?a=1&copy=2&amp;b", true), "?a=1&copy=2&b");
        assert_eq!(decode("x&amp", true), "x&");
    }

    #[test]
    fn leaves_unknown_references_alone() {
        assert_eq!(text("AT&T &bogus; & &#;"), "AT&T &bogus; & &#;");
    }

    #[test]
    fn entity_table_is_sorted_for_binary_search() {
        assert!(NAMED
            .windows(2)
            .all(|w| w[0].0.as_bytes() < w[1].0.as_bytes()));
        assert!(NAMED.iter().all(|(k, _)| k.len() <= MAX_NAME + 1));
        assert!(NAMED
            .iter()
            .filter(|(k, _)| !k.ends_with(';'))
            .all(|(k, _)| k.len() <= MAX_LEGACY_NAME));
    }
}
