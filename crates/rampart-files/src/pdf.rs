//! PDF: the names that make a PDF act (JavaScript, launch, auto actions, embedded files), seen
//! through `#xx` name escapes and inside compressed object streams; `/URI` targets for `texts`;
//! embedded files as children.
//!
//! This is a lexical scan, not a PDF parser: it cannot be confused by broken cross-reference
//! tables (readers repair those, and attackers rely on it) and it costs one pass over the bytes.

use std::borrow::Cow;
use std::io::Read;

use crate::{names, InspectError, Inspector, Node};

const JAVASCRIPT: f32 = 7.0;
const LAUNCH: f32 = 8.0;
const EMBEDDED_FILE: f32 = 4.0;
const AUTO_ACTION: f32 = 2.0;
const OBFUSCATED_NAME: f32 = 4.0;

/// Longest name kept (the PDF limit is 127 bytes).
const MAX_NAME: usize = 127;
/// Object and embedded-file streams inflated per document, and bytes per stream.
const MAX_STREAMS: usize = 512;
const MAX_STREAM_OUT: u64 = 8 * 1024 * 1024;
/// URIs and file names kept per document.
const MAX_STRINGS: usize = 1000;

#[derive(Default)]
struct Scan {
    javascript: Vec<String>,
    launch: Vec<String>,
    embedded: Vec<String>,
    auto_action: Vec<String>,
    obfuscated: Vec<String>,
    uris: Vec<String>,
    file_names: Vec<String>,
    /// Offsets of `/ObjStm` and `/EmbeddedFile` names, whose streams are worth inflating.
    object_streams: Vec<usize>,
    embedded_streams: Vec<usize>,
}

pub(crate) fn inspect_pdf(insp: &mut Inspector, node: &Node, bytes: &[u8]) {
    let mut scan = Scan::default();
    scan_names(bytes, &mut scan, true);

    // Object streams hide dictionaries (and their /JavaScript) from a scan of the raw file.
    let object_streams = std::mem::take(&mut scan.object_streams);
    for &at in object_streams.iter().take(MAX_STREAMS) {
        if insp.inflate_left == 0 {
            break;
        }
        let cap = MAX_STREAM_OUT.min(insp.inflate_left);
        if let Some(data) = stream_after(bytes, at, cap) {
            insp.inflate_left = insp.inflate_left.saturating_sub(data.len() as u64);
            scan_names(&data, &mut scan, false);
        }
    }

    let shown = insp.display(&node.path);
    let flag = |insp: &mut Inspector, name: &str, score: f32, hits: &[String]| {
        if hits.is_empty() {
            return;
        }
        let evidence = format!("{shown} ({})", hits.join(" "));
        insp.flag(name, score, evidence);
    };
    flag(insp, "file.pdf_javascript", JAVASCRIPT, &scan.javascript);
    flag(insp, "file.pdf_launch", LAUNCH, &scan.launch);
    flag(
        insp,
        "file.pdf_embedded_file",
        EMBEDDED_FILE,
        &scan.embedded,
    );
    flag(insp, "file.pdf_auto_action", AUTO_ACTION, &scan.auto_action);
    flag(
        insp,
        "file.pdf_obfuscated_name",
        OBFUSCATED_NAME,
        &scan.obfuscated,
    );

    if !scan.uris.is_empty() {
        insp.add_text(&scan.uris.join("\n"));
    }

    let embedded_streams = std::mem::take(&mut scan.embedded_streams);
    if !embedded_streams.is_empty() && insp.may_open(node, crate::FileKind::Pdf) {
        // File specifications and embedded streams usually come in the same order; when their
        // counts differ the pairing is unknowable without resolving objects, so names are generic.
        let names_match = scan.file_names.len() == embedded_streams.len();
        for (i, &at) in embedded_streams.iter().take(MAX_STREAMS).enumerate() {
            if insp.stopped || insp.inflate_left == 0 {
                break;
            }
            let cap = MAX_STREAM_OUT.min(insp.inflate_left);
            let Some(data) = stream_after(bytes, at, cap) else {
                insp.problem(InspectError::Skipped {
                    path: insp.display(&node.path),
                    reason: "embedded file stream not found or not decodable",
                });
                continue;
            };
            insp.inflate_left = insp.inflate_left.saturating_sub(data.len() as u64);
            let name = match scan.file_names.get(i) {
                Some(n) if names_match && !n.is_empty() => n.clone(),
                _ => format!("embedded{}", i + 1),
            };
            insp.add_child(node, &name, data);
        }
    } else if !scan.file_names.is_empty() && !scan.embedded.is_empty() {
        // Names of attachments whose streams were not found still tell something.
        for n in scan.file_names.iter().take(20) {
            if let Some(why) = names::disguise(n) {
                let evidence = format!("{}!/{n} ({why})", shown);
                insp.flag("file.double_extension", 7.0, evidence);
            }
        }
    }
}

/// One pass over the bytes: every name, decoded; keyword names recorded with their raw spelling.
fn scan_names(bytes: &[u8], scan: &mut Scan, top_level: bool) {
    let mut pos = 0;
    while let Some(i) = memchr::memchr(b'/', &bytes[pos..]) {
        let start = pos + i + 1;
        let mut end = start;
        while end < bytes.len() && end - start <= MAX_NAME && !is_delimiter(bytes[end]) {
            end += 1;
        }
        pos = end.max(start);
        if end - start > MAX_NAME || end == start {
            continue;
        }
        let raw = &bytes[start..end];
        let escaped = raw.contains(&b'#');
        let name = decode_name(raw);
        let spelled = || format!("/{}", String::from_utf8_lossy(raw));
        let keyword = match name.as_ref() {
            b"JavaScript" | b"JS" => {
                note(&mut scan.javascript, spelled);
                true
            }
            b"Launch" => {
                note(&mut scan.launch, spelled);
                true
            }
            b"EmbeddedFile" | b"EmbeddedFiles" | b"FileAttachment" => {
                note(&mut scan.embedded, spelled);
                if name.as_ref() == b"EmbeddedFile"
                    && top_level
                    && scan.embedded_streams.len() < MAX_STREAMS
                {
                    scan.embedded_streams.push(end);
                }
                true
            }
            b"OpenAction" | b"AA" => {
                note(&mut scan.auto_action, spelled);
                true
            }
            b"ObjStm" => {
                if top_level && scan.object_streams.len() < MAX_STREAMS {
                    scan.object_streams.push(end);
                }
                true
            }
            b"URI" => {
                if scan.uris.len() < MAX_STRINGS {
                    if let Some(uri) = string_after(bytes, end) {
                        push(&mut scan.uris, uri);
                    }
                }
                true
            }
            b"F" | b"UF" if scan.file_names.len() < MAX_STRINGS => {
                if let Some(file) = string_after(bytes, end) {
                    if !file.contains("://") {
                        push(&mut scan.file_names, names::base_name(&file).to_string());
                    }
                }
                false
            }
            _ => false,
        };
        if keyword && escaped {
            note(&mut scan.obfuscated, spelled);
        }
    }
}

fn push(list: &mut Vec<String>, item: String) {
    if list.len() < MAX_STRINGS {
        list.push(item);
    }
}

/// Records a keyword's spelling once: evidence wants `/JS /J#53`, not ten thousand `/JS`.
fn note(list: &mut Vec<String>, spelled: impl Fn() -> String) {
    if list.len() < 16 {
        let s = spelled();
        if !list.contains(&s) {
            list.push(s);
        }
    }
}

fn is_delimiter(c: u8) -> bool {
    matches!(
        c,
        b'\0'
            | b'\t'
            | b'\n'
            | b'\x0C'
            | b'\r'
            | b' '
            | b'('
            | b')'
            | b'<'
            | b'>'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'/'
            | b'%'
    )
}

/// `#xx` escapes decoded (PDF 1.2+); a `#` not followed by two hex digits stays as it is.
fn decode_name(raw: &[u8]) -> Cow<'_, [u8]> {
    if !raw.contains(&b'#') {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'#' && i + 2 < raw.len() {
            if let (Some(h), Some(l)) = (hex(raw[i + 1]), hex(raw[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    Cow::Owned(out)
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The string object right after a name: `(literal)` with escapes, or `<hex>`.
fn string_after(bytes: &[u8], at: usize) -> Option<String> {
    const MAX: usize = 4096;
    let rest = bytes.get(at..)?;
    let skip = rest
        .iter()
        .take(64)
        .position(|c| !c.is_ascii_whitespace())?;
    let rest = &rest[skip..];
    let mut out = Vec::new();
    match rest.first()? {
        b'(' => {
            let mut depth = 0usize;
            let mut i = 1;
            while i < rest.len() && out.len() < MAX {
                let c = rest[i];
                match c {
                    b'\\' => {
                        i += 1;
                        let e = *rest.get(i)?;
                        match e {
                            b'n' => out.push(b'\n'),
                            b'r' => out.push(b'\r'),
                            b't' => out.push(b'\t'),
                            b'b' => out.push(8),
                            b'f' => out.push(12),
                            b'0'..=b'7' => {
                                let mut v: u32 = 0;
                                let mut n = 0;
                                while n < 3 && matches!(rest.get(i), Some(b'0'..=b'7')) {
                                    v = v * 8 + u32::from(rest[i] - b'0');
                                    i += 1;
                                    n += 1;
                                }
                                out.push((v & 0xFF) as u8);
                                continue;
                            }
                            b'\r' | b'\n' => {}
                            other => out.push(other),
                        }
                    }
                    b'(' => {
                        depth += 1;
                        out.push(c);
                    }
                    b')' => {
                        if depth == 0 {
                            break;
                        }
                        depth -= 1;
                        out.push(c);
                    }
                    _ => out.push(c),
                }
                i += 1;
            }
        }
        b'<' => {
            let digits: Vec<u8> = rest[1..]
                .iter()
                .take(MAX * 2)
                .take_while(|&&c| c != b'>')
                .filter_map(|&c| hex(c))
                .collect();
            for pair in digits.chunks(2) {
                out.push(pair[0] << 4 | pair.get(1).copied().unwrap_or(0));
            }
        }
        _ => return None,
    }
    let text = if out.starts_with(b"\xFE\xFF") {
        let units = out[2..]
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]));
        char::decode_utf16(units)
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect()
    } else {
        String::from_utf8_lossy(&out).into_owned()
    };
    let text: String = text.chars().filter(|c| !c.is_control()).collect();
    (!text.trim().is_empty()).then_some(text)
}

/// The decoded content of the stream whose dictionary contains offset `at`: the next `stream`
/// keyword within 8 KiB, data up to `endstream`, inflated if the dictionary says `FlateDecode`
/// (other filters are not decoded). At most `cap` bytes.
fn stream_after(bytes: &[u8], at: usize, cap: u64) -> Option<Vec<u8>> {
    let window = bytes.get(at..(at + 8192).min(bytes.len()))?;
    let kw = memchr::memmem::find(window, b"stream")?;
    let dict = &window[..kw];
    let mut start = at + kw + b"stream".len();
    if bytes.get(start) == Some(&b'\r') {
        start += 1;
    }
    if bytes.get(start) == Some(&b'\n') {
        start += 1;
    }
    let data = bytes.get(start..)?;
    let end = memchr::memmem::find(data, b"endstream").unwrap_or(data.len());
    let data = &data[..end];
    let mut flate = false;
    let mut other_filter = false;
    for name in dict_names(dict) {
        match name.as_ref() {
            b"FlateDecode" | b"Fl" => flate = true,
            b"ASCIIHexDecode" | b"AHx" | b"ASCII85Decode" | b"A85" | b"LZWDecode" | b"LZW"
            | b"RunLengthDecode" | b"RL" | b"CCITTFaxDecode" | b"JBIG2Decode" | b"DCTDecode"
            | b"JPXDecode" | b"Crypt" => other_filter = true,
            _ => {}
        }
    }
    if other_filter {
        return None;
    }
    if !flate {
        let n = usize::try_from(cap).unwrap_or(usize::MAX).min(data.len());
        return Some(data[..n].to_vec());
    }
    let mut out = Vec::new();
    let _ = flate2::read::ZlibDecoder::new(data)
        .take(cap)
        .read_to_end(&mut out);
    if out.is_empty() {
        // Some writers emit raw deflate without the zlib header.
        let _ = flate2::read::DeflateDecoder::new(data)
            .take(cap)
            .read_to_end(&mut out);
    }
    (!out.is_empty()).then_some(out)
}

fn dict_names(dict: &[u8]) -> Vec<Cow<'_, [u8]>> {
    dict.split(|&c| c == b'/')
        .skip(1)
        .map(|tok| {
            let end = tok
                .iter()
                .position(|&c| is_delimiter(c))
                .unwrap_or(tok.len());
            decode_name(&tok[..end])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_hex_escaped_names() {
        assert_eq!(decode_name(b"J#61vaScript").as_ref(), b"JavaScript");
        assert_eq!(decode_name(b"A#").as_ref(), b"A#");
        assert_eq!(decode_name(b"A#4").as_ref(), b"A#4");
        assert_eq!(decode_name(b"#4A#53").as_ref(), b"JS");
    }

    #[test]
    fn reads_literal_and_hex_strings() {
        assert_eq!(
            string_after(b" (http://a.example/\\(x\\)) ", 0).as_deref(),
            Some("http://a.example/(x)")
        );
        assert_eq!(
            string_after(b"<687474703A2F2F622E6578616D706C65>", 0).as_deref(),
            Some("http://b.example")
        );
        assert_eq!(string_after(b" 12 0 R", 0), None);
    }
}
