//! RTF: the text of the body, with `\uN` Unicode escapes and `\'hh` bytes decoded in the code
//! page of the current font (`\fcharset`) or of the document (`\ansicpg`), which is how Chinese
//! Word documents are written (`\ansicpg936`, `\fcharset134`). Destinations that are not text
//! (font and colour tables, pictures, embedded objects, `{\*\...}`) are skipped; `\bin` data too.

use std::collections::HashMap;

use encoding_rs::Encoding;

use crate::{DocKind, Extractor, Node, TextSink};

pub(crate) fn extract(ex: &mut Extractor, node: &Node, bytes: &[u8]) {
    let mut sink = ex.sink();
    rtf_text(bytes, &mut sink);
    ex.finish_sink(&node.path, &sink);
    let text = sink.take();
    ex.emit(node.path.clone(), DocKind::Rtf, text);
}

/// Group nesting kept track of; deeper groups are read as if at this depth.
const MAX_GROUPS: usize = 256;

#[derive(Clone)]
struct Group {
    /// Inside a destination whose content is not text.
    skip: bool,
    /// Bytes to skip after a `\uN` (the ANSI fallback), `\ucN`.
    uc: u32,
    encoding: &'static Encoding,
    /// Inside the font table.
    font_table: bool,
}

/// Destinations whose content is not body text.
const SKIPPED: &[&[u8]] = &[
    b"fonttbl",
    b"colortbl",
    b"stylesheet",
    b"info",
    b"pict",
    b"object",
    b"objdata",
    b"datastore",
    b"themedata",
    b"colorschememapping",
    b"latentstyles",
    b"listtable",
    b"listoverridetable",
    b"rsidtbl",
    b"generator",
    b"xmlnstbl",
    b"filetbl",
    b"revtbl",
    b"header",
    b"footer",
    b"bkmkstart",
    b"bkmkend",
    b"fldinst",
];

pub(crate) fn rtf_text(b: &[u8], sink: &mut TextSink) {
    let mut stack: Vec<Group> = Vec::new();
    let mut group = Group {
        skip: false,
        uc: 1,
        encoding: encoding_rs::WINDOWS_1252,
        font_table: false,
    };
    let mut document_encoding = encoding_rs::WINDOWS_1252;
    // Font number → encoding, from `\fN ... \fcharsetM` in the font table.
    let mut fonts: HashMap<i32, &'static Encoding> = HashMap::new();
    let mut current_font: Option<i32> = None;
    let mut pending: Vec<u8> = Vec::new();
    let mut skip_fallback = 0u32;
    let mut high_surrogate = None;
    let mut depth_over = 0usize;
    let mut i = 0;

    let flush = |pending: &mut Vec<u8>, encoding: &'static Encoding, sink: &mut TextSink| {
        if !pending.is_empty() {
            let (text, _) = encoding.decode_without_bom_handling(pending);
            sink.push_str(&text);
            pending.clear();
        }
    };

    while i < b.len() && !sink.is_full() {
        let c = b[i];
        match c {
            b'{' => {
                flush(&mut pending, group.encoding, sink);
                if stack.len() < MAX_GROUPS {
                    stack.push(group.clone());
                } else {
                    depth_over += 1;
                }
                i += 1;
                if b.get(i..i + 2) == Some(b"\\*") {
                    group.skip = true;
                    i += 2;
                }
            }
            b'}' => {
                flush(&mut pending, group.encoding, sink);
                if depth_over > 0 {
                    depth_over -= 1;
                } else if let Some(outer) = stack.pop() {
                    if group.font_table && !outer.font_table {
                        current_font = None;
                    }
                    group = outer;
                }
                i += 1;
            }
            b'\\' => {
                let Some(&next) = b.get(i + 1) else {
                    break;
                };
                if next == b'\'' {
                    // `\'hh`: one byte in the current code page.
                    let hex = b.get(i + 2..i + 4).and_then(|h| {
                        std::str::from_utf8(h)
                            .ok()
                            .and_then(|h| u8::from_str_radix(h, 16).ok())
                    });
                    i += 4;
                    if skip_fallback > 0 {
                        skip_fallback -= 1;
                        continue;
                    }
                    if let (Some(byte), false) = (hex, group.skip) {
                        pending.push(byte);
                    }
                    continue;
                }
                if !next.is_ascii_alphabetic() {
                    // Control symbols.
                    i += 2;
                    if skip_fallback > 0 {
                        skip_fallback -= 1;
                        continue;
                    }
                    if group.skip {
                        continue;
                    }
                    match next {
                        b'\\' | b'{' | b'}' => pending.push(next),
                        b'~' => {
                            flush(&mut pending, group.encoding, sink);
                            sink.push(' ');
                        }
                        b'_' => pending.push(b'-'),
                        b'\n' | b'\r' => {
                            flush(&mut pending, group.encoding, sink);
                            sink.newline();
                        }
                        _ => {}
                    }
                    continue;
                }
                // A control word: letters, an optional signed number, an optional space.
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j].is_ascii_alphabetic() && j - start < 32 {
                    j += 1;
                }
                let word = &b[start..j];
                let num_start = j;
                if j < b.len() && b[j] == b'-' {
                    j += 1;
                }
                while j < b.len() && b[j].is_ascii_digit() && j - num_start < 11 {
                    j += 1;
                }
                let param = std::str::from_utf8(&b[num_start..j])
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok());
                if j < b.len() && b[j] == b' ' {
                    j += 1;
                }
                i = j;
                if word == b"bin" {
                    // Binary data follows: skip it whole.
                    let n = usize::try_from(param.unwrap_or(0).max(0)).unwrap_or(usize::MAX);
                    i = i.saturating_add(n).min(b.len());
                    continue;
                }
                if skip_fallback > 0 && !matches!(word, b"par" | b"line") {
                    // A control word stands for one fallback character too.
                    skip_fallback -= 1;
                    continue;
                }
                if group.font_table {
                    match word {
                        b"f" => current_font = param.and_then(|p| i32::try_from(p).ok()),
                        b"fcharset" => {
                            if let (Some(font), Some(enc)) =
                                (current_font, param.and_then(charset_encoding))
                            {
                                if fonts.len() < 4096 {
                                    fonts.insert(font, enc);
                                }
                            }
                        }
                        _ => {}
                    }
                    continue;
                }
                if SKIPPED.contains(&word) {
                    if word == b"fonttbl" {
                        group.font_table = true;
                    }
                    group.skip = true;
                    continue;
                }
                match word {
                    b"ansicpg" => {
                        if let Some(enc) = param.and_then(codepage_encoding) {
                            document_encoding = enc;
                            group.encoding = enc;
                        }
                    }
                    b"f" => {
                        flush(&mut pending, group.encoding, sink);
                        let font = param.and_then(|p| i32::try_from(p).ok());
                        group.encoding = font
                            .and_then(|f| fonts.get(&f).copied())
                            .unwrap_or(document_encoding);
                    }
                    b"uc" => group.uc = param.unwrap_or(1).clamp(0, 8) as u32,
                    b"u" if !group.skip => {
                        flush(&mut pending, group.encoding, sink);
                        let code = param.unwrap_or(0);
                        // Negative values are UTF-16 units written as signed 16-bit numbers.
                        let unit = if code < 0 { code + 65_536 } else { code };
                        push_utf16_unit(unit as u32, &mut high_surrogate, sink);
                        skip_fallback = group.uc;
                    }
                    _ if group.skip => {}
                    b"par" | b"line" | b"row" | b"sect" | b"page" => {
                        flush(&mut pending, group.encoding, sink);
                        sink.newline();
                    }
                    b"tab" | b"cell" => {
                        flush(&mut pending, group.encoding, sink);
                        sink.push('\t');
                    }
                    b"emdash" => pending.extend_from_slice(b"\x97"),
                    b"endash" => pending.extend_from_slice(b"\x96"),
                    b"lquote" => pending.extend_from_slice(b"\x91"),
                    b"rquote" => pending.extend_from_slice(b"\x92"),
                    b"ldblquote" => pending.extend_from_slice(b"\x93"),
                    b"rdblquote" => pending.extend_from_slice(b"\x94"),
                    b"bullet" => pending.extend_from_slice(b"\x95"),
                    _ => {}
                }
            }
            b'\r' | b'\n' => i += 1,
            _ => {
                i += 1;
                if skip_fallback > 0 {
                    skip_fallback -= 1;
                    continue;
                }
                if !group.skip {
                    pending.push(c);
                }
            }
        }
    }
    flush(&mut pending, group.encoding, sink);
}

/// Surrogate pairs arrive as two `\u` words; a lone half is dropped.
fn push_utf16_unit(unit: u32, high: &mut Option<u32>, sink: &mut TextSink) {
    if (0xD800..0xDC00).contains(&unit) {
        *high = Some(unit);
        return;
    }
    let c = match (high.take(), unit) {
        (Some(h), 0xDC00..=0xDFFF) => {
            char::from_u32(0x10000 + ((h - 0xD800) << 10) + (unit - 0xDC00))
        }
        (_, u) => char::from_u32(u),
    };
    if let Some(c) = c {
        sink.push(c);
    }
}

/// `\fcharsetN` → encoding.
fn charset_encoding(charset: i64) -> Option<&'static Encoding> {
    let codepage = match charset {
        0 => 1252,
        128 => 932,
        129 => 949,
        134 => 936,
        136 => 950,
        161 => 1253,
        162 => 1254,
        163 => 1258,
        177 => 1255,
        178 => 1256,
        186 => 1257,
        204 => 1251,
        222 => 874,
        238 => 1250,
        _ => return None,
    };
    codepage_encoding(codepage)
}

/// Windows code page → encoding.
fn codepage_encoding(codepage: i64) -> Option<&'static Encoding> {
    let label: &[u8] = match codepage {
        936 => b"gbk",
        54936 => b"gb18030",
        950 => b"big5",
        932 => b"shift_jis",
        949 => b"euc-kr",
        874 => b"windows-874",
        1250..=1258 => return Encoding::for_label(format!("windows-{codepage}").as_bytes()),
        10000 => b"macintosh",
        65001 => b"utf-8",
        _ => return None,
    };
    Encoding::for_label(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(rtf: &[u8]) -> String {
        let mut sink = TextSink::new(1 << 20);
        rtf_text(rtf, &mut sink);
        sink.take()
    }

    #[test]
    fn reads_body_text_and_skips_tables() {
        let rtf = br"{\rtf1\ansi{\fonttbl{\f0 Arial;}}{\colortbl;\red0\green0\blue0;}
{\*\generator Msftedit;}\f0 Hello\par World\tab 42\cell 17\row}";
        assert_eq!(text(rtf), "Hello\nWorld\t42\t17\n");
    }

    #[test]
    fn decodes_unicode_escapes_and_code_pages() {
        // Word writes Chinese as \uN with a GBK fallback, or as GBK bytes in a charset-134 font.
        let rtf =
            br"{\rtf1\ansi\ansicpg1252{\fonttbl{\f0\fswiss Arial;}{\f1\fnil\fcharset134 SimSun;}}
\f0 ID: \uc2\u36523\'c9\'ed\u20221\'b7\'dd \f1\'d6\'d0\'ce\'c4\f0  caf\'e9}";
        assert_eq!(text(rtf), "ID: 身份 中文 café");
    }

    #[test]
    fn skips_binary_and_pictures() {
        let rtf = b"{\\rtf1 a{\\pict\\pngblip 89504e47}b\\bin3 {}}c}";
        assert_eq!(text(rtf), "abc");
    }
}
