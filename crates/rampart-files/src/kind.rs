//! True file types from magic bytes. The declared name only decides between kinds that share bytes
//! (a plain-text file named `.js` is a script because Windows runs it as one), never over a magic
//! number.

use std::fmt;

/// What a file really is, judged from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileKind {
    /// Zero bytes.
    Empty,
    /// Windows/DOS executable (`MZ`).
    Pe,
    Elf,
    /// Mach-O, thin or fat (universal).
    MachO,
    /// A script Windows or a shell runs: by shebang, encoded-script marker or script extension.
    Script,
    /// Windows shell link (`.lnk`) or an Internet shortcut (`.url`).
    Shortcut,
    /// ISO 9660 / UDF optical image.
    Iso,
    /// Raw disk image (`.img`: boot sector) or an Apple disk image.
    DiskImage,
    Vhd,
    Vhdx,
    /// HTML application, run by `mshta.exe` with full user rights.
    Hta,
    /// Compiled HTML Help (`ITSF`).
    Chm,
    /// Windows Installer package (OLE2 with the MSI class id).
    Msi,
    Zip,
    /// Office Open XML (docx, xlsx, pptx and their macro-enabled siblings): a ZIP with
    /// `[Content_Types].xml`.
    Ooxml,
    SevenZip,
    Rar,
    Gzip,
    Cab,
    /// OLE2 compound file (Word/Excel/PowerPoint 97-2003, Outlook `.msg`, ...).
    Ole2,
    OneNote,
    Rtf,
    Pdf,
    Html,
    Svg,
    Text,
    Png,
    Jpeg,
    Gif,
    Bmp,
    Webp,
    Tiff,
    /// None of the above.
    Unknown,
}

impl FileKind {
    /// Short lowercase name, used in evidence strings.
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Empty => "empty",
            FileKind::Pe => "pe",
            FileKind::Elf => "elf",
            FileKind::MachO => "mach-o",
            FileKind::Script => "script",
            FileKind::Shortcut => "shortcut",
            FileKind::Iso => "iso",
            FileKind::DiskImage => "disk-image",
            FileKind::Vhd => "vhd",
            FileKind::Vhdx => "vhdx",
            FileKind::Hta => "hta",
            FileKind::Chm => "chm",
            FileKind::Msi => "msi",
            FileKind::Zip => "zip",
            FileKind::Ooxml => "ooxml",
            FileKind::SevenZip => "7z",
            FileKind::Rar => "rar",
            FileKind::Gzip => "gzip",
            FileKind::Cab => "cab",
            FileKind::Ole2 => "ole2",
            FileKind::OneNote => "onenote",
            FileKind::Rtf => "rtf",
            FileKind::Pdf => "pdf",
            FileKind::Html => "html",
            FileKind::Svg => "svg",
            FileKind::Text => "text",
            FileKind::Png => "png",
            FileKind::Jpeg => "jpeg",
            FileKind::Gif => "gif",
            FileKind::Bmp => "bmp",
            FileKind::Webp => "webp",
            FileKind::Tiff => "tiff",
            FileKind::Unknown => "unknown",
        }
    }

    /// Native code a double click runs.
    pub fn is_executable(self) -> bool {
        matches!(self, FileKind::Pe | FileKind::Elf | FileKind::MachO)
    }

    /// Archives and images whose content this crate cannot see or did not fully see.
    pub fn is_archive(self) -> bool {
        matches!(
            self,
            FileKind::Zip | FileKind::SevenZip | FileKind::Rar | FileKind::Gzip | FileKind::Cab
        )
    }

    /// The kinds that have no business in ordinary mail, with the finding each one raises and its
    /// score.
    pub(crate) fn danger(self) -> Option<(&'static str, f32)> {
        Some(match self {
            FileKind::Pe | FileKind::Elf | FileKind::MachO => ("file.executable", 8.0),
            FileKind::Script => ("file.script", 7.0),
            FileKind::Shortcut => ("file.shortcut", 7.0),
            FileKind::Iso | FileKind::DiskImage | FileKind::Vhd | FileKind::Vhdx => {
                ("file.disk_image", 5.0)
            }
            FileKind::Hta => ("file.hta", 9.0),
            FileKind::Chm => ("file.chm", 7.0),
            FileKind::Msi => ("file.msi", 8.0),
            _ => return None,
        })
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const OLE2: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
const LNK: &[u8] =
    b"\x4C\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xC0\x00\x00\x00\x00\x00\x00\x46";
const ONENOTE: &[u8] = b"\xE4\x52\x5C\x7B\x8C\xD8\xA7\x4D\xAE\xB1\x53\x78\xD0\x29\x96\xD3";

/// Extensions Windows hands to a script host (or cmd.exe) on a double click.
pub(crate) const SCRIPT_EXTENSIONS: &[&str] = &[
    "js", "jse", "vbs", "vbe", "wsf", "wsh", "ps1", "psm1", "psd1", "bat", "cmd", "vb", "sct",
];

/// Extensions under which a shebang line is something to read, not to run.
const PLAIN_TEXT_EXTENSIONS: &[&str] = &["txt", "log", "md", "csv", "text"];

/// How far into a file text sniffing looks; enough to tell text from binary without reading 50 MB.
const SNIFF_WINDOW: usize = 8192;

/// Identifies `bytes`. `name` is consulted only where bytes are ambiguous (text scripts, HTA,
/// raw `.img`, MSI needs the OLE directory and is refined by the caller).
pub fn sniff(name: Option<&str>, bytes: &[u8]) -> FileKind {
    let ext = name.and_then(crate::names::extension);
    let ext = ext.as_deref();
    if let Some(kind) = sniff_magic(bytes) {
        return kind;
    }
    if bytes.is_empty() {
        return FileKind::Empty;
    }
    if is_disk_image(bytes, ext == Some("img")) {
        return FileKind::DiskImage;
    }
    if !looks_like_text(bytes) {
        return FileKind::Unknown;
    }
    let head = &bytes[..bytes.len().min(SNIFF_WINDOW)];
    let trimmed = trim_text_start(head);
    if trimmed.starts_with(b"#@~^") {
        // The Windows Script Encoder marker of .jse/.vbe files.
        return FileKind::Script;
    }
    if trimmed.starts_with(b"#!") && !ext.is_some_and(|e| PLAIN_TEXT_EXTENSIONS.contains(&e)) {
        // A shebang runs as a script unless the name makes it a document to read.
        return FileKind::Script;
    }
    if starts_with_ci(trimmed, b"[InternetShortcut]") {
        return FileKind::Shortcut;
    }
    let markup = markup_kind(trimmed);
    if markup == Some(FileKind::Html)
        && (ext == Some("hta") || find_ci(head, b"<hta:application").is_some())
    {
        return FileKind::Hta;
    }
    if ext.is_some_and(|e| SCRIPT_EXTENSIONS.contains(&e)) {
        return FileKind::Script;
    }
    if ext == Some("hta") {
        // mshta runs script in any text it is given, markup or not.
        return FileKind::Hta;
    }
    markup.unwrap_or(FileKind::Text)
}

/// A `#!` script whose name is not one Windows hands to a script host.
pub(crate) fn is_unix_script(name: Option<&str>, bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(SNIFF_WINDOW)];
    let windows_ext = name
        .and_then(crate::names::extension)
        .is_some_and(|e| SCRIPT_EXTENSIONS.contains(&e.as_str()));
    trim_text_start(head).starts_with(b"#!") && !windows_ext
}

fn sniff_magic(b: &[u8]) -> Option<FileKind> {
    let at = |off: usize, magic: &[u8]| b.get(off..off + magic.len()) == Some(magic);
    let kind = if at(0, b"MZ") && is_dos_header(b) {
        FileKind::Pe
    } else if at(0, b"\x7FELF") {
        FileKind::Elf
    } else if at(0, b"\xFE\xED\xFA\xCE")
        || at(0, b"\xFE\xED\xFA\xCF")
        || at(0, b"\xCE\xFA\xED\xFE")
        || at(0, b"\xCF\xFA\xED\xFE")
    {
        FileKind::MachO
    } else if at(0, b"\xCA\xFE\xBA\xBE") || at(0, b"\xCA\xFE\xBA\xBF") {
        // Java class files share CAFEBABE; their bytes 4..8 are the class version (major >= 45),
        // a fat Mach-O's are the architecture count (a handful).
        let n = b
            .get(4..8)
            .map(|v| u32::from_be_bytes([v[0], v[1], v[2], v[3]]))?;
        if (1..45).contains(&n) {
            FileKind::MachO
        } else {
            return None;
        }
    } else if at(0, LNK) {
        FileKind::Shortcut
    } else if at(0, b"ITSF") && matches!(b.get(4..8), Some([2 | 3, 0, 0, 0])) {
        FileKind::Chm
    } else if at(0, OLE2) {
        FileKind::Ole2
    } else if at(0, b"PK\x03\x04") || at(0, b"PK\x05\x06") || at(0, b"PK\x07\x08") {
        FileKind::Zip
    } else if at(0, b"7z\xBC\xAF\x27\x1C") {
        FileKind::SevenZip
    } else if at(0, b"Rar!\x1A\x07") {
        FileKind::Rar
    } else if at(0, b"\x1F\x8B") {
        FileKind::Gzip
    } else if at(0, b"MSCF\0\0\0\0") {
        FileKind::Cab
    } else if at(0, ONENOTE) {
        FileKind::OneNote
    } else if at(0, b"vhdxfile") {
        FileKind::Vhdx
    } else if at(0, b"conectix") {
        FileKind::Vhd
    } else if at(0, b"{\\rtf") {
        FileKind::Rtf
    } else if at(0, b"\x89PNG\r\n\x1A\n") {
        FileKind::Png
    } else if at(0, b"\xFF\xD8\xFF") {
        FileKind::Jpeg
    } else if at(0, b"GIF87a") || at(0, b"GIF89a") {
        FileKind::Gif
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        FileKind::Webp
    } else if at(0, b"II*\0") || at(0, b"MM\0*") {
        FileKind::Tiff
    } else if at(0, b"BM") && at(6, b"\0\0\0\0") {
        FileKind::Bmp
    } else if is_iso(b) {
        FileKind::Iso
    } else if has_trailer(b, b"conectix", 512) || has_trailer(b, b"conectix", 511) {
        // Fixed-size VHDs carry their footer only at the end.
        FileKind::Vhd
    } else if has_trailer(b, b"koly", 512) {
        // Apple disk image (UDIF) trailer.
        FileKind::DiskImage
    } else if b.get(..1024).unwrap_or(b).windows(5).any(|w| w == b"%PDF-") {
        // Readers accept junk before the header, and so do attackers.
        FileKind::Pdf
    } else {
        return None;
    };
    Some(kind)
}

/// `MZ` starts plenty of text ("MZ Logistics"); a DOS header holds NULs in its first 64 bytes
/// (or is cut short), and a PE header's offset points at `PE\0\0`.
fn is_dos_header(b: &[u8]) -> bool {
    let head = &b[..b.len().min(64)];
    head.contains(&0) || head.len() < 64
}

fn is_iso(b: &[u8]) -> bool {
    // Volume descriptors start at sector 16; the first may be a boot record, so look at a few.
    [0x8001usize, 0x8801, 0x9001].iter().any(|&off| {
        matches!(
            b.get(off..off + 5),
            Some(b"CD001") | Some(b"BEA01") | Some(b"NSR02") | Some(b"NSR03")
        )
    })
}

fn has_trailer(b: &[u8], magic: &[u8], from_end: usize) -> bool {
    b.len() >= from_end && b[b.len() - from_end..].starts_with(magic)
}

/// A boot sector (0x55AA at 510) that starts with an x86 jump or carries a file-system label.
fn is_disk_image(b: &[u8], named_img: bool) -> bool {
    if b.len() < 512 || b[510..512] != [0x55, 0xAA] {
        return false;
    }
    let labelled = b[0x36..0x3B] == *b"FAT12"
        || b[0x36..0x3B] == *b"FAT16"
        || b[0x52..0x57] == *b"FAT32"
        || b[3..11] == *b"NTFS    "
        || b[3..11] == *b"EXFAT   ";
    labelled || (named_img && matches!(b[0], 0xEB | 0xE9))
}

/// Text: a UTF-16 BOM, or no NUL and valid UTF-8 (or overwhelmingly printable single-byte text) in
/// the first few KiB.
pub(crate) fn looks_like_text(bytes: &[u8]) -> bool {
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return true;
    }
    let head = &bytes[..bytes.len().min(SNIFF_WINDOW)];
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        // Cut in the middle of a character at the window's end.
        Err(e) if e.error_len().is_none() => true,
        Err(_) => {
            let printable = head
                .iter()
                .filter(|&&c| c >= 0x20 || matches!(c, b'\t' | b'\n' | b'\r' | 0x0C))
                .count();
            printable * 100 >= head.len() * 97
        }
    }
}

fn trim_text_start(b: &[u8]) -> &[u8] {
    let b = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[start..]
}

/// HTML or SVG by their opening markup.
fn markup_kind(trimmed: &[u8]) -> Option<FileKind> {
    const HTML_OPENERS: &[&[u8]] = &[
        b"<!doctype html",
        b"<html",
        b"<head",
        b"<body",
        b"<script",
        b"<iframe",
        b"<form",
        b"<meta",
        b"<title",
        b"<style",
        b"<div",
        b"<table",
        b"<p>",
        b"<a ",
        b"<br",
        b"<!--",
        b"<h1",
        b"<img",
        b"<link",
    ];
    if !trimmed.starts_with(b"<") {
        return None;
    }
    let head = &trimmed[..trimmed.len().min(4096)];
    if starts_with_ci(head, b"<svg")
        || (head.starts_with(b"<?xml") && find_ci(head, b"<svg").is_some())
    {
        return Some(FileKind::Svg);
    }
    if HTML_OPENERS.iter().any(|o| starts_with_ci(head, o))
        || find_ci(head, b"<html").is_some()
        || find_ci(head, b"<script").is_some()
        || find_ci(head, b"<body").is_some()
    {
        return Some(FileKind::Html);
    }
    None
}

pub(crate) fn starts_with_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.len() >= needle.len() && hay[..needle.len()].eq_ignore_ascii_case(needle)
}

/// Case-insensitive search for an ASCII needle; linear in practice (needles are short).
pub(crate) fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = needle.first()?;
    let (lo, up) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    let mut from = 0;
    while from + needle.len() <= hay.len() {
        let i = memchr::memchr2(lo, up, &hay[from..hay.len() - needle.len() + 1])? + from;
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
    fn finds_needles_case_insensitively() {
        assert_eq!(find_ci(b"abc<HTML>", b"<html"), Some(3));
        assert_eq!(find_ci(b"ab", b"abc"), None);
        assert_eq!(find_ci(b"xxabc", b"ABC"), Some(2));
    }

    #[test]
    fn does_not_take_text_starting_with_mz_for_an_executable() {
        let memo =
            b"MZ Logistics quarterly report: all shipments arrived on time, see the table.\n";
        assert_eq!(sniff(Some("memo.txt"), memo), FileKind::Text);
        assert_eq!(sniff(None, b"MZ\x90\x00\x03\x00"), FileKind::Pe);
    }

    #[test]
    fn tells_a_java_class_from_a_fat_mach_o() {
        assert_eq!(
            sniff(None, b"\xCA\xFE\xBA\xBE\0\0\0\x02rest"),
            FileKind::MachO
        );
        assert_eq!(
            sniff(None, b"\xCA\xFE\xBA\xBE\0\0\0\x34rest"),
            FileKind::Unknown
        );
    }
}
