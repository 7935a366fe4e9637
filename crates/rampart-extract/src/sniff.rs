//! What a document is: magic bytes first, the name only between text kinds. A ZIP is refined
//! into DOCX/XLSX/PPTX/ODF by its entries once it is opened (`archive`), not here.

use memchr::memmem;

use crate::{extension, DocKind};

/// How far into a file text sniffing looks.
const SNIFF_WINDOW: usize = 8192;

const OLE2: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";

/// The kind of `bytes`, named `name` if known. ZIP-based documents come out as
/// [`DocKind::Zip`]: which one they are is only known from their entries.
///
/// ```
/// use rampart_extract::{detect, DocKind};
/// assert_eq!(detect(b"%PDF-1.7\n...", Some("x.txt")), DocKind::Pdf);
/// assert_eq!(detect(b"a,b\n1,2\n", Some("t.csv")), DocKind::Csv);
/// assert_eq!(detect(b"\x89PNG\r\n\x1a\n\0\0", None), DocKind::Other);
/// ```
pub fn detect(bytes: &[u8], name: Option<&str>) -> DocKind {
    if let Some(kind) = by_magic(bytes) {
        return kind;
    }
    if bytes.is_empty() || !looks_like_text(bytes) {
        return DocKind::Other;
    }
    let ext = name.and_then(extension);
    let head = trim_start(&bytes[..bytes.len().min(SNIFF_WINDOW)]);
    match ext.as_deref() {
        Some("csv" | "tsv") => return DocKind::Csv,
        Some("htm" | "html" | "xhtml") => return DocKind::Html,
        Some("xml" | "svg") => return DocKind::Xml,
        Some("txt" | "text" | "log" | "md") => return DocKind::Text,
        _ => {}
    }
    markup_kind(head).unwrap_or(DocKind::Text)
}

fn by_magic(b: &[u8]) -> Option<DocKind> {
    let at = |magic: &[u8]| b.starts_with(magic);
    let kind = if at(b"PK\x03\x04") || at(b"PK\x05\x06") || at(b"PK\x07\x08") {
        DocKind::Zip
    } else if at(b"\x1F\x8B") {
        DocKind::Gzip
    } else if b.get(257..262) == Some(b"ustar") {
        DocKind::Tar
    } else if at(b"7z\xBC\xAF\x27\x1C") {
        DocKind::SevenZip
    } else if at(b"Rar!\x1A\x07") {
        DocKind::Rar
    } else if at(OLE2) {
        DocKind::Ole2
    } else if at(b"{\\rtf") {
        DocKind::Rtf
    } else if memmem::find(&b[..b.len().min(1024)], b"%PDF-").is_some() {
        // Readers accept junk before the header, and so do attackers.
        DocKind::Pdf
    } else if is_binary_magic(b) {
        DocKind::Other
    } else {
        return None;
    };
    Some(kind)
}

/// Images, executables and media that happen to start with printable bytes are still binary.
fn is_binary_magic(b: &[u8]) -> bool {
    const MAGICS: &[&[u8]] = &[
        b"\x89PNG",
        b"\xFF\xD8\xFF",
        b"GIF8",
        b"MZ",
        b"\x7FELF",
        b"RIFF",
        b"II*\0",
        b"MM\0*",
        b"BM",
        b"ID3",
        b"OggS",
        b"fLaC",
        b"\0\0\0",
    ];
    MAGICS.iter().any(|m| b.starts_with(m)) && !looks_like_text(b)
}

/// Text: a UTF-16 BOM, or no NUL and few control bytes in the first few KiB.
pub(crate) fn looks_like_text(bytes: &[u8]) -> bool {
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return true;
    }
    let head = &bytes[..bytes.len().min(SNIFF_WINDOW)];
    if head.contains(&0) {
        return false;
    }
    let control = head
        .iter()
        .filter(|&&c| c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r' | 0x0C | 0x1B))
        .count();
    control * 100 <= head.len()
}

fn trim_start(b: &[u8]) -> &[u8] {
    let b = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[start..]
}

/// HTML or XML by their opening markup.
fn markup_kind(head: &[u8]) -> Option<DocKind> {
    const HTML_OPENERS: &[&[u8]] = &[
        b"<!doctype html",
        b"<html",
        b"<head",
        b"<body",
        b"<meta",
        b"<title",
        b"<div",
        b"<table",
        b"<p>",
        b"<br",
        b"<h1",
    ];
    if !head.starts_with(b"<") {
        return None;
    }
    if HTML_OPENERS.iter().any(|o| starts_with_ci(head, o)) || find_ci(head, b"<html").is_some() {
        return Some(DocKind::Html);
    }
    if head.starts_with(b"<?xml") || head.starts_with(b"<!--") {
        return Some(DocKind::Xml);
    }
    None
}

/// An OLE2 file holding an `EncryptedPackage` stream: a password-protected DOCX/XLSX/PPTX.
pub(crate) fn is_encrypted_ooxml(bytes: &[u8]) -> bool {
    // Directory entry names are UTF-16LE.
    const NAME: &[u8] = b"E\0n\0c\0r\0y\0p\0t\0e\0d\0P\0a\0c\0k\0a\0g\0e\0";
    bytes.starts_with(OLE2) && memmem::find(bytes, NAME).is_some()
}

/// The document format a name promises, when its bytes turned out to be none we know.
pub(crate) fn document_extension(name: Option<&str>) -> Option<&'static str> {
    const DOCUMENTS: &[&str] = &[
        "pdf", "docx", "docm", "xlsx", "xlsm", "pptx", "pptm", "odt", "ods", "odp", "zip", "rtf",
    ];
    let ext = extension(name?)?;
    DOCUMENTS.iter().find(|d| **d == ext).copied()
}

pub(crate) fn starts_with_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.len() >= needle.len() && hay[..needle.len()].eq_ignore_ascii_case(needle)
}

/// Case-insensitive search for an ASCII needle.
pub(crate) fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let (lo, up) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    let mut from = 0;
    while from + needle.len() <= hay.len() {
        let i = memchr::memchr2(lo, up, &hay[from..=hay.len() - needle.len()])? + from;
        if hay[i..i + needle.len()].eq_ignore_ascii_case(needle) {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusts_bytes_over_names() {
        assert_eq!(detect(b"PK\x03\x04rest", Some("a.pdf")), DocKind::Zip);
        assert_eq!(detect(b"junk\n%PDF-1.4", Some("a.docx")), DocKind::Pdf);
        assert_eq!(detect(b"{\\rtf1\\ansi hi}", None), DocKind::Rtf);
        assert_eq!(detect(OLE2, None), DocKind::Ole2);
    }

    #[test]
    fn tells_text_kinds_apart() {
        assert_eq!(detect(b"<!DOCTYPE html><p>x", None), DocKind::Html);
        assert_eq!(detect(b"<?xml version='1.0'?><a/>", None), DocKind::Xml);
        assert_eq!(detect("中文,1\n".as_bytes(), Some("x.csv")), DocKind::Csv);
        assert_eq!(detect(b"plain words", None), DocKind::Text);
        assert_eq!(detect(b"\xd6\xd0\xce\xc4 GBK", None), DocKind::Text);
        assert_eq!(detect(b"bin\0ary", None), DocKind::Other);
        assert_eq!(detect(b"MZ\x90\0\x03\0", None), DocKind::Other);
        assert_eq!(detect(b"MZ Logistics report", None), DocKind::Text);
    }

    #[test]
    fn finds_case_insensitively() {
        assert_eq!(find_ci(b"abc<HTML>", b"<html"), Some(3));
        assert_eq!(find_ci(b"ab", b"abc"), None);
    }
}
