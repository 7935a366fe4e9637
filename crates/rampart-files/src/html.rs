//! HTML (and SVG, HTA) attachments: credential forms, and HTML smuggling (a payload carried as
//! base64 and handed to the browser's download machinery by script, so it never crosses the mail
//! gateway as a file). A smuggled payload that can be decoded is examined as a child.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

use crate::kind::FileKind;
use crate::{Inspector, Node};

const CREDENTIAL_FORM: f32 = 6.0;
const SMUGGLING: f32 = 8.0;

/// A base64 run this long inside an HTML file is a payload, not an icon.
const BIG_BASE64: usize = 4096;
/// Once smuggling is evident, the longest base64 run is decoded if at least this long.
const MIN_PAYLOAD: usize = 64;
/// `<input` tags looked at per document.
const MAX_INPUTS: usize = 10_000;

/// `data:` media types that are downloads, not pictures.
const RISKY_DATA_TYPES: &[&[u8]] = &[
    b"data:application/octet-stream",
    b"data:application/zip",
    b"data:application/x-zip",
    b"data:application/x-rar",
    b"data:application/x-7z",
    b"data:application/x-msdownload",
    b"data:application/x-msdos-program",
    b"data:application/vnd.microsoft.portable-executable",
    b"data:application/x-iso9660-image",
    b"data:application/java-archive",
    b"data:application/hta",
    b"data:application/x-ms-shortcut",
    b"data:application/vnd.ms-",
    b"data:application/msword",
];

pub(crate) fn inspect_html(insp: &mut Inspector, node: &Node, bytes: &[u8]) {
    let lower = bytes.to_ascii_lowercase();
    let shown = insp.display(&node.path);

    if has_password_input(&lower) {
        let action = form_action(bytes, &lower)
            .map(|a| format!("form posts to {a}"))
            .unwrap_or_else(|| "password input".to_string());
        insp.flag(
            "file.html_credential_form",
            CREDENTIAL_FORM,
            format!("{shown} ({action})"),
        );
    }

    let has = |needle: &[u8]| memchr::memmem::find(&lower, needle).is_some();
    let blob = has(b"new blob");
    let object_url = has(b"createobjecturl");
    let ms_save = has(b"mssaveoropenblob") || has(b"mssaveblob");
    let decodes = has(b"atob(") || has(b"uint8array") || has(b"charcodeat");
    let download =
        has(b".download") || has(b"download=") || has(b"'download'") || has(b"\"download\"");
    let big_run = longest_base64_run(bytes);
    let risky_uri = RISKY_DATA_TYPES
        .iter()
        .find_map(|t| memchr::memmem::find(&lower, t).map(|at| (at, *t)));

    let mut signals = Vec::new();
    if blob && (object_url || ms_save) && (decodes || big_run.1 >= BIG_BASE64) {
        signals.push(if ms_save {
            "blob saved by msSaveOrOpenBlob"
        } else {
            "blob URL from decoded data"
        });
        if download {
            signals.push("download attribute");
        }
        if big_run.1 >= BIG_BASE64 {
            signals.push("large base64 payload");
        }
    }
    if let Some((_, t)) = risky_uri {
        signals.push(match t {
            b"data:application/octet-stream" => "data: URI of application/octet-stream",
            b"data:application/zip" | b"data:application/x-zip" => "data: URI of a zip",
            _ => "data: URI of a downloadable file",
        });
    }
    if signals.is_empty() {
        return;
    }
    insp.flag(
        "file.html_smuggling",
        SMUGGLING,
        format!("{shown} ({})", signals.join(", ")),
    );

    // Decode what is being smuggled and look at it like any attachment.
    if !insp.may_open(node, FileKind::Html) {
        return;
    }
    let mut payloads = Vec::new();
    if let Some((at, _)) = risky_uri {
        if let Some(start) = memchr::memmem::find(&lower[at..], b"base64,").map(|i| at + i + 7) {
            let len = base64_run_len(&bytes[start..]);
            payloads.push((start, len));
        }
    }
    if big_run.1 >= MIN_PAYLOAD && !payloads.iter().any(|p| p.0 == big_run.0) {
        payloads.push(big_run);
    }
    for (i, (start, len)) in payloads.into_iter().enumerate() {
        let Some(data) = decode_base64(&bytes[start..start + len], insp.inflate_left) else {
            continue;
        };
        if data.is_empty() || insp.stopped {
            continue;
        }
        insp.inflate_left = insp.inflate_left.saturating_sub(data.len() as u64);
        insp.entries_seen += 1;
        insp.add_child(node, &format!("smuggled{}", i + 1), data);
    }
}

/// An `<input>` whose `type` is `password`.
fn has_password_input(lower: &[u8]) -> bool {
    memchr::memmem::find_iter(lower, b"<input")
        .take(MAX_INPUTS)
        .any(|at| {
            let tag = &lower[at..];
            let end =
                memchr::memchr(b'>', &tag[..tag.len().min(2048)]).unwrap_or(tag.len().min(2048));
            attribute(&tag[..end], b"type").is_some_and(|v| v == b"password")
        })
}

/// The `action` of the first form, as written.
fn form_action(bytes: &[u8], lower: &[u8]) -> Option<String> {
    let at = memchr::memmem::find(lower, b"<form")?;
    let end = memchr::memchr(b'>', &lower[at..(at + 4096).min(lower.len())])
        .map_or((at + 4096).min(lower.len()), |e| at + e);
    let value = attribute(&lower[at..end], b"action")?;
    // Same offsets in the original: lowercasing ASCII keeps lengths.
    let offset = value.as_ptr() as usize - lower.as_ptr() as usize;
    let original = bytes.get(offset..offset + value.len())?;
    let text: String = String::from_utf8_lossy(original)
        .chars()
        .take(120)
        .collect();
    (!text.is_empty()).then_some(text)
}

/// The value of attribute `name` in one (lowercased) tag; quotes optional.
fn attribute<'a>(tag: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&tag[from..], name) {
        let at = from + i;
        from = at + name.len();
        let before = at.checked_sub(1).map(|p| tag[p]);
        if !matches!(
            before,
            Some(b' ' | b'\t' | b'\n' | b'\r' | b'/' | b'"' | b'\'')
        ) {
            continue;
        }
        let mut p = from;
        while p < tag.len() && tag[p].is_ascii_whitespace() {
            p += 1;
        }
        if tag.get(p) != Some(&b'=') {
            continue;
        }
        p += 1;
        while p < tag.len() && (tag[p].is_ascii_whitespace() || tag[p] == b'\\') {
            p += 1;
        }
        let quote = match tag.get(p) {
            Some(&q @ (b'"' | b'\'')) => {
                p += 1;
                Some(q)
            }
            _ => None,
        };
        let value = &tag[p..];
        let end = value
            .iter()
            .position(|&c| match quote {
                Some(q) => c == q || c == b'\\',
                None => {
                    c.is_ascii_whitespace() || c == b'>' || c == b'/' || c == b'"' || c == b'\''
                }
            })
            .unwrap_or(value.len());
        return Some(&value[..end]);
    }
    None
}

fn is_base64(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'-' | b'_')
}

fn base64_run_len(b: &[u8]) -> usize {
    let run = b.iter().position(|&c| !is_base64(c)).unwrap_or(b.len());
    run + b[run..].iter().take(2).take_while(|&&c| c == b'=').count()
}

/// Start and length of the longest base64 run.
fn longest_base64_run(b: &[u8]) -> (usize, usize) {
    let mut best = (0, 0);
    let mut i = 0;
    while i < b.len() {
        if !is_base64(b[i]) {
            i += 1;
            continue;
        }
        let len = base64_run_len(&b[i..]);
        if len > best.1 {
            best = (i, len);
        }
        i += len.max(1);
    }
    best
}

/// Lenient base64 (standard or URL-safe, padding optional), at most `max` decoded bytes.
fn decode_base64(run: &[u8], max: u64) -> Option<Vec<u8>> {
    let config = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    let url_safe = run.iter().any(|&c| c == b'-' || c == b'_');
    let alphabet = if url_safe {
        &base64::alphabet::URL_SAFE
    } else {
        &base64::alphabet::STANDARD
    };
    let engine = GeneralPurpose::new(alphabet, config);
    let body: &[u8] = {
        let trimmed = run
            .iter()
            .rposition(|&c| c != b'=')
            .map_or(&run[..0], |e| &run[..=e]);
        let max_in = usize::try_from(max.saturating_mul(4) / 3).unwrap_or(usize::MAX);
        let mut n = trimmed.len();
        if n > max_in {
            n = max_in - max_in % 4;
        } else if n % 4 == 1 {
            // One stray character carries no whole byte.
            n -= 1;
        }
        &trimmed[..n]
    };
    engine.decode(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_attributes_quoted_or_not() {
        assert_eq!(
            attribute(b"<input type=password name=p", b"type"),
            Some(&b"password"[..])
        );
        assert_eq!(
            attribute(b"<input name='x' type = \"password\"", b"type"),
            Some(&b"password"[..])
        );
        assert_eq!(attribute(b"<input data-type=\"password\"", b"type"), None);
    }

    #[test]
    fn finds_the_longest_base64_run() {
        let text = b"var a = \"QUJD\"; var b = \"TVqQAAMAAAAEAAAA//8AALgA==\";";
        let (start, len) = longest_base64_run(text);
        assert_eq!(&text[start..start + len], b"TVqQAAMAAAAEAAAA//8AALgA==");
        assert_eq!(
            decode_base64(&text[start..start + len], 1024)
                .as_deref()
                .map(|d| &d[..2]),
            Some(&b"MZ"[..])
        );
    }
}
