//! What a file's name and declared MIME type promise, and the tricks played with names.

use crate::kind::{FileKind, SCRIPT_EXTENSIONS};

/// Bidirectional controls that reorder what the user sees: `invoice\u{202E}fdp.exe` shows as
/// `invoiceexe.pdf`.
const BIDI_CONTROLS: &[char] = &[
    '\u{200E}', '\u{200F}', '\u{061C}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}',
    '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
];

pub(crate) fn is_bidi_control(c: char) -> bool {
    BIDI_CONTROLS.contains(&c)
}

/// Extensions that run something when opened.
const RISKY_EXTENSIONS: &[&str] = &[
    "exe",
    "scr",
    "com",
    "pif",
    "cpl",
    "dll",
    "msi",
    "msp",
    "hta",
    "lnk",
    "url",
    "chm",
    "iso",
    "img",
    "vhd",
    "vhdx",
    "jar",
    "reg",
    "scf",
    "appx",
    "msix",
    "application",
    "gadget",
    "inf",
];

/// Extensions of the harmless-looking document a victim expects to open.
const DECOY_EXTENSIONS: &[&str] = &[
    "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "rtf", "txt", "csv", "odt", "ods", "jpg",
    "jpeg", "png", "gif", "bmp", "tif", "tiff", "mp3", "mp4", "wav", "avi", "mov", "htm", "html",
    "zip", "rar", "7z", "eml", "msg", "xml", "json",
];

/// The lowercased last extension of a path's final component, if it has one.
pub fn extension(name: &str) -> Option<String> {
    // Windows drops trailing dots and spaces: `x.exe. .` runs as `x.exe`.
    let base = base_name(name).trim_end_matches([' ', '.']);
    let (_, ext) = base.rsplit_once('.')?;
    if ext.is_empty() || ext.len() > 12 {
        return None;
    }
    Some(ext.to_ascii_lowercase())
}

/// The final component of a path inside an archive (`/` or `\` separated).
pub fn base_name(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

/// Whether an extension by itself makes Windows run the file.
pub(crate) fn is_risky_extension(ext: &str) -> bool {
    RISKY_EXTENSIONS.contains(&ext) || SCRIPT_EXTENSIONS.contains(&ext)
}

/// Why a name is a disguise, if it is one: a decoy extension before a risky one
/// (`invoice.pdf.exe`, `invoice.pdf          .exe`), padding that pushes the real extension out of
/// view, or bidirectional controls that reorder it.
pub(crate) fn disguise(name: &str) -> Option<&'static str> {
    let base = base_name(name).trim_end_matches([' ', '.']);
    if base.contains(BIDI_CONTROLS) {
        return Some("bidirectional control character in name");
    }
    let ext = extension(base)?;
    if !is_risky_extension(&ext) {
        return None;
    }
    let stem = base.rsplit_once('.').map(|(s, _)| s).unwrap_or("");
    let padding = stem.len()
        - stem
            .trim_end_matches([' ', '_', '\u{3000}', '\u{00A0}'])
            .len();
    if padding >= 5 {
        return Some("padding before the real extension");
    }
    let inner = stem.trim_end_matches([' ', '_', '\u{00A0}']);
    let decoy = inner
        .rsplit_once('.')
        .map(|(_, e)| e.trim().to_ascii_lowercase())
        .is_some_and(|e| DECOY_EXTENSIONS.contains(&e.as_str()));
    decoy.then_some("decoy extension before a risky one")
}

const IMAGES: &[FileKind] = &[
    FileKind::Jpeg,
    FileKind::Png,
    FileKind::Gif,
    FileKind::Bmp,
    FileKind::Webp,
    FileKind::Tiff,
];

/// The kinds a name's extension promises; `None` when the extension promises nothing we check.
pub(crate) fn kinds_for_extension(ext: &str) -> Option<&'static [FileKind]> {
    use FileKind::*;
    Some(match ext {
        "pdf" => &[Pdf],
        // Office opens a docx saved as .doc without complaint; RTF under .doc is the exploit
        // carrier's disguise and stays a mismatch.
        "doc" | "dot" | "ppt" | "pps" | "pot" => &[Ole2, Ooxml],
        "msg" | "pub" | "vsd" => &[Ole2],
        // Reporting tools export HTML or CSV under .xls; Excel opens them without complaint.
        "xls" | "xlt" => &[Ole2, Ooxml, Html, Text],
        // Password-protected OOXML documents are OLE2 containers.
        "docx" | "docm" | "dotx" | "dotm" | "xlsx" | "xlsm" | "xlsb" | "xltx" | "xltm" | "xlam"
        | "pptx" | "pptm" | "ppsx" | "ppsm" | "potx" | "potm" => &[Ooxml, Zip, Ole2],
        "odt" | "ods" | "odp" | "odg" | "zip" | "jar" | "apk" | "epub" => &[Zip, Ooxml],
        "7z" => &[SevenZip],
        "rar" => &[Rar],
        "gz" | "tgz" => &[Gzip],
        "cab" => &[Cab],
        "iso" => &[Iso],
        "img" => &[DiskImage, Iso],
        "vhd" => &[Vhd],
        "vhdx" => &[Vhdx],
        // One picture format under another's name is carelessness, not an attack.
        "jpg" | "jpeg" | "jpe" | "jfif" | "png" | "gif" | "bmp" | "webp" | "tif" | "tiff" => IMAGES,
        "svg" => &[Svg, Html, Text],
        "txt" | "csv" | "log" | "md" | "ics" | "vcf" | "eml" => &[Text, Html],
        "htm" | "html" | "shtml" | "xhtml" => &[Html, Text, Svg],
        "rtf" => &[Rtf],
        "exe" | "dll" | "scr" | "sys" | "cpl" | "ocx" => &[Pe],
        "msi" | "msp" => &[Msi, Ole2],
        "lnk" => &[Shortcut],
        "chm" => &[Chm],
        "one" => &[OneNote],
        _ => return None,
    })
}

/// The kinds a declared MIME type promises; generic types (`application/octet-stream`) promise
/// nothing.
pub(crate) fn kinds_for_mime(mime: &str) -> Option<&'static [FileKind]> {
    use FileKind::*;
    let mime = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    Some(match mime.as_str() {
        "application/pdf" | "application/x-pdf" => &[Pdf],
        "application/msword" | "application/vnd.ms-powerpoint" => &[Ole2, Ooxml],
        "application/vnd.ms-outlook" => &[Ole2],
        "application/vnd.ms-excel" => &[Ole2, Ooxml, Html, Text],
        "application/zip" | "application/x-zip-compressed" | "application/x-zip" => &[Zip, Ooxml],
        "application/x-7z-compressed" => &[SevenZip],
        "application/x-rar-compressed" | "application/vnd.rar" | "application/x-rar" => &[Rar],
        "application/gzip" | "application/x-gzip" => &[Gzip],
        "application/rtf" | "text/rtf" => &[Rtf],
        "image/jpeg" | "image/jpg" | "image/pjpeg" | "image/png" | "image/gif" | "image/bmp"
        | "image/x-ms-bmp" | "image/webp" | "image/tiff" => IMAGES,
        "image/svg+xml" => &[Svg, Html, Text],
        "text/plain" | "text/csv" | "text/calendar" => &[Text, Html, Script],
        "text/html" => &[Html, Text, Svg],
        "application/x-msdownload"
        | "application/x-dosexec"
        | "application/vnd.microsoft.portable-executable" => &[Pe],
        "application/x-ms-shortcut" => &[Shortcut],
        "application/x-iso9660-image" => &[Iso],
        m if m.starts_with("application/vnd.openxmlformats-officedocument.")
            || m.starts_with("application/vnd.ms-word.")
            || m.starts_with("application/vnd.ms-excel.")
            || m.starts_with("application/vnd.ms-powerpoint.") =>
        {
            &[Ooxml, Zip, Ole2]
        }
        m if m.starts_with("application/vnd.oasis.opendocument.") => &[Zip],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_last_extension_of_the_last_component() {
        assert_eq!(extension("a/b.c/Invoice.PDF.exe").as_deref(), Some("exe"));
        assert_eq!(extension("README"), None);
        assert_eq!(extension("x.exe. . "), Some("exe".into()));
    }

    #[test]
    fn sees_through_name_disguises() {
        assert!(disguise("invoice.pdf.exe").is_some());
        assert!(disguise("invoice.pdf                      .exe").is_some());
        assert!(disguise("invoice\u{202E}fdp.exe").is_some());
        assert!(disguise("setup.exe").is_none());
        assert!(disguise("archive.tar.gz").is_none());
        assert!(disguise("report.final.pdf").is_none());
    }
}
