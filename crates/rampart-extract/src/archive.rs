//! ZIP (and the OOXML and ODF documents that are ZIPs), gzip and tar, opened under the
//! extraction's shared budgets.
//!
//! Bomb defence in three layers, as in `rampart-files`: the entry count the end-of-central-
//! directory record declares is checked before the directory is parsed; each member's declared
//! size and ratio are checked before it is inflated; and the inflation itself goes through a
//! reader that stops one byte past what the ratio and the remaining budget allow, whatever the
//! header declared.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use zip::result::ZipError;
use zip::ZipArchive;

use crate::office::{self, SharedStrings};
use crate::{base_name, DocKind, Extractor, Node, ProblemKind, Stop};

type Archive<'a> = ZipArchive<Cursor<&'a [u8]>>;

/// Opens a ZIP and extracts what is in it: an office document's text, or each member.
pub(crate) fn zip(ex: &mut Extractor, node: &Node, bytes: &[u8]) {
    if let Some(declared) = rampart_files::declared_zip_entry_count(bytes) {
        if declared > ex.entries_left as u64 {
            // Parsing a huge central directory is itself the attack: do not.
            let detail = format!(
                "{declared} entries declared, over the limit of {}",
                ex.limits.max_entries
            );
            ex.problem(&node.path, ProblemKind::Bomb, detail);
            ex.entries_left = 0;
            return;
        }
    }
    let mut archive = match ZipArchive::new(Cursor::new(bytes)) {
        Ok(archive) => archive,
        Err(e) => {
            let detail = format!("unreadable ZIP: {e}");
            ex.problem(&node.path, ProblemKind::Corrupt, detail);
            return;
        }
    };
    if archive.len() > ex.entries_left {
        let detail = format!(
            "{} entries, over the limit of {}",
            archive.len(),
            ex.limits.max_entries
        );
        ex.problem(&node.path, ProblemKind::Bomb, detail);
        ex.entries_left = 0;
        return;
    }
    ex.entries_left -= archive.len();
    let names: Vec<String> = (0..archive.len())
        .map(|i| match archive.name_for_index(i) {
            Some(Ok(name)) => name.into_owned(),
            _ => String::new(),
        })
        .collect();
    let mut zip = Zip {
        archive: &mut archive,
        names: &names,
    };
    match zip.layout(ex, node) {
        Layout::Docx => docx(ex, node, &mut zip),
        Layout::Xlsx => xlsx(ex, node, &mut zip),
        Layout::Pptx => pptx(ex, node, &mut zip),
        Layout::Odf(kind) => odf(ex, node, &mut zip, kind),
        Layout::Plain => {
            for index in 0..names.len() {
                if zip.member(ex, node, index).is_err() {
                    break;
                }
            }
        }
    }
}

enum Layout {
    Docx,
    Xlsx,
    Pptx,
    Odf(DocKind),
    Plain,
}

struct Zip<'z, 'a> {
    archive: &'z mut Archive<'a>,
    names: &'z [String],
}

/// One member's bytes, or why there are none.
enum Member {
    Data(Vec<u8>),
    /// Not read (encrypted, directory, unsupported method); already reported if it matters.
    Skipped,
}

impl Zip<'_, '_> {
    fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n.eq_ignore_ascii_case(name))
    }

    fn has(&self, name: &str) -> bool {
        self.index_of(name).is_some()
    }

    /// Names matching `prefix` + number + `suffix`, in numeric order (`slide2` before `slide10`).
    fn numbered(&self, prefix: &str, suffix: &str) -> Vec<(u64, usize)> {
        let mut found: Vec<(u64, usize)> = self
            .names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let lower = n.to_ascii_lowercase();
                let number = lower.strip_prefix(prefix)?.strip_suffix(suffix)?;
                Some((number.parse::<u64>().ok()?, i))
            })
            .collect();
        found.sort_unstable();
        found
    }

    fn layout(&mut self, ex: &mut Extractor, node: &Node) -> Layout {
        if self.has("word/document.xml") {
            return Layout::Docx;
        }
        if self.has("xl/workbook.xml") {
            return Layout::Xlsx;
        }
        if self.has("ppt/presentation.xml") {
            return Layout::Pptx;
        }
        if self.has("content.xml") {
            if let Some(index) = self.index_of("mimetype") {
                let mime = match self.read(ex, node, index) {
                    Ok(Member::Data(d)) => String::from_utf8_lossy(&d).trim().to_string(),
                    _ => String::new(),
                };
                let kind = if mime.contains("opendocument.spreadsheet") {
                    DocKind::Ods
                } else if mime.contains("opendocument.presentation")
                    || mime.contains("opendocument.graphics")
                {
                    DocKind::Odp
                } else {
                    DocKind::Odt
                };
                return Layout::Odf(kind);
            }
        }
        Layout::Plain
    }

    /// Reads member `index` under the budgets. `Err(Stop)`: a bomb or the budget's end; nothing
    /// more of this archive is read.
    fn read(&mut self, ex: &mut Extractor, node: &Node, index: usize) -> Result<Member, Stop> {
        let name = self.names.get(index).map_or("", String::as_str);
        let path = node.child_path(name);
        let (declared, compressed, encrypted, is_dir) = match self.archive.by_index_data(index) {
            Ok(meta) => (
                meta.size(),
                meta.compressed_size(),
                meta.encrypted(),
                meta.is_dir(),
            ),
            Err(e) => {
                ex.problem(
                    &path,
                    ProblemKind::Corrupt,
                    format!("unreadable member: {e}"),
                );
                return Ok(Member::Skipped);
            }
        };
        if is_dir || name.ends_with('/') {
            return Ok(Member::Skipped);
        }
        if encrypted {
            let detail = format!("password-protected member ({declared} bytes)");
            ex.problem(&path, ProblemKind::Encrypted, detail);
            return Ok(Member::Skipped);
        }
        let (cap, ratio_cap) = ex.inflate_cap(compressed);
        if declared > cap {
            ex.over_cap(&path, declared, compressed, ratio_cap, "declares");
            return Err(Stop);
        }
        let (data, error) = match self.archive.by_index(index) {
            Ok(entry) => read_bounded(entry, cap, declared),
            Err(e) => {
                let kind = match e {
                    ZipError::UnsupportedArchive(_)
                    | ZipError::CompressionMethodNotSupported(_) => ProblemKind::Unsupported,
                    ZipError::InvalidPassword => ProblemKind::Encrypted,
                    _ => ProblemKind::Corrupt,
                };
                ex.problem(&path, kind, format!("member not read: {e}"));
                return Ok(Member::Skipped);
            }
        };
        if data.len() as u64 > cap {
            ex.over_cap(
                &path,
                data.len() as u64,
                compressed,
                ratio_cap,
                "inflates past",
            );
            return Err(Stop);
        }
        ex.charge(data.len() as u64);
        if let Some(reason) = error {
            // A CRC mismatch or a cut stream: what inflated is still worth reading.
            ex.problem(
                &path,
                ProblemKind::Corrupt,
                format!("member damaged: {reason}"),
            );
            if data.is_empty() {
                return Ok(Member::Skipped);
            }
        }
        Ok(Member::Data(data))
    }

    /// Reads member `index` and extracts it as a document of its own, one level deeper.
    fn member(&mut self, ex: &mut Extractor, node: &Node, index: usize) -> Result<(), Stop> {
        let Member::Data(data) = self.read(ex, node, index)? else {
            return Ok(());
        };
        let name = self.names.get(index).map_or("", String::as_str);
        let child = Node {
            name: Some(name),
            path: node.child_path(name),
            depth: node.depth + 1,
        };
        ex.document(&child, &data);
        Ok(())
    }

    /// Reads a named XML part and runs `parse` over it; malformed XML is reported as corrupt,
    /// with what was read before the fault kept.
    fn part(
        &mut self,
        ex: &mut Extractor,
        node: &Node,
        index: usize,
        parse: impl FnOnce(&[u8]) -> Result<(), String>,
    ) -> Result<(), Stop> {
        if let Member::Data(data) = self.read(ex, node, index)? {
            if let Err(reason) = parse(&data) {
                let name = self.names.get(index).map_or("", String::as_str);
                ex.problem(&node.child_path(name), ProblemKind::Corrupt, reason);
            }
        }
        Ok(())
    }

    /// Office documents embed whole files (a workbook in a report, a report in a deck): those
    /// are documents of their own.
    fn embedded(&mut self, ex: &mut Extractor, node: &Node, folder: &str) {
        let embedded: Vec<usize> = (0..self.names.len())
            .filter(|&i| {
                let lower = self.names[i].to_ascii_lowercase();
                lower.starts_with(folder) && !lower.ends_with('/')
            })
            .collect();
        for index in embedded {
            if self.member(ex, node, index).is_err() {
                break;
            }
        }
    }
}

fn docx(ex: &mut Extractor, node: &Node, zip: &mut Zip) {
    let mut sink = ex.sink();
    let mut parts: Vec<usize> = zip.index_of("word/document.xml").into_iter().collect();
    for (prefix, suffix) in [("word/header", ".xml"), ("word/footer", ".xml")] {
        parts.extend(zip.numbered(prefix, suffix).into_iter().map(|(_, i)| i));
    }
    for name in [
        "word/footnotes.xml",
        "word/endnotes.xml",
        "word/comments.xml",
    ] {
        parts.extend(zip.index_of(name));
    }
    let mut stopped = false;
    for index in parts {
        if sink.is_full() {
            break;
        }
        if zip
            .part(ex, node, index, |d| office::run_text(d, &mut sink))
            .is_err()
        {
            stopped = true;
            break;
        }
    }
    ex.finish_sink(&node.path, &sink);
    ex.emit(node.path.clone(), DocKind::Docx, sink.take());
    if !stopped {
        zip.embedded(ex, node, "word/embeddings/");
    }
}

fn xlsx(ex: &mut Extractor, node: &Node, zip: &mut Zip) {
    let mut shared = SharedStrings::default();
    if let Some(index) = zip.index_of("xl/sharedStrings.xml") {
        match zip.read(ex, node, index) {
            Ok(Member::Data(data)) => {
                let (strings, result) = office::shared_strings(&data);
                shared = strings;
                if let Err(reason) = result {
                    ex.problem(
                        &node.child_path("xl/sharedStrings.xml"),
                        ProblemKind::Corrupt,
                        reason,
                    );
                }
            }
            Ok(Member::Skipped) => {}
            Err(Stop) => return,
        }
    }
    let sheets = sheet_parts(ex, node, zip);
    let mut sink = ex.sink();
    for (title, index) in sheets {
        if sink.is_full() {
            break;
        }
        let read = zip.part(ex, node, index, |d| {
            office::sheet_text(d, &shared, &mut sink)
        });
        ex.emit(node.part_path(&title), DocKind::Xlsx, sink.take());
        if read.is_err() {
            break;
        }
    }
    ex.finish_sink(&node.path, &sink);
    zip.embedded(ex, node, "xl/embeddings/");
}

/// The worksheets in workbook order, with their names: `xl/workbook.xml` names them and points
/// at relationship ids, `xl/_rels/workbook.xml.rels` maps those to parts. A workbook whose
/// relationships do not resolve falls back to the sheet parts in numeric order.
fn sheet_parts(ex: &mut Extractor, node: &Node, zip: &mut Zip) -> Vec<(String, usize)> {
    let read_small = |zip: &mut Zip, ex: &mut Extractor, name: &str| -> Option<Vec<u8>> {
        match zip.read(ex, node, zip.index_of(name)?) {
            Ok(Member::Data(d)) => Some(d),
            _ => None,
        }
    };
    let workbook = read_small(zip, ex, "xl/workbook.xml").unwrap_or_default();
    let rels = read_small(zip, ex, "xl/_rels/workbook.xml.rels").unwrap_or_default();
    let rels: HashMap<String, String> = office::relationships(&rels).into_iter().collect();
    let mut sheets = Vec::new();
    // A sheet is an archive member: there are no more sheets than members.
    for (name, id) in office::workbook_sheets(&workbook)
        .into_iter()
        .take(zip.names.len())
    {
        let Some(target) = rels.get(&id) else {
            continue;
        };
        let part = match target.strip_prefix('/') {
            Some(absolute) => absolute.to_string(),
            None => format!("xl/{}", target.trim_start_matches("./")),
        };
        if let Some(index) = zip.index_of(&part) {
            sheets.push((name, index));
        }
    }
    if sheets.is_empty() {
        sheets = zip
            .numbered("xl/worksheets/sheet", ".xml")
            .into_iter()
            .map(|(n, i)| (format!("sheet{n}"), i))
            .collect();
    }
    sheets
}

fn pptx(ex: &mut Extractor, node: &Node, zip: &mut Zip) {
    let mut sink = ex.sink();
    let slides = zip.numbered("ppt/slides/slide", ".xml");
    let notes = zip.numbered("ppt/notesslides/notesslide", ".xml");
    let parts = slides
        .into_iter()
        .map(|(n, i)| (format!("slide{n}"), i))
        .chain(notes.into_iter().map(|(n, i)| (format!("notes{n}"), i)));
    let mut stopped = false;
    for (title, index) in parts {
        if sink.is_full() {
            break;
        }
        let read = zip.part(ex, node, index, |d| office::run_text(d, &mut sink));
        ex.emit(node.part_path(&title), DocKind::Pptx, sink.take());
        if read.is_err() {
            stopped = true;
            break;
        }
    }
    ex.finish_sink(&node.path, &sink);
    if !stopped {
        zip.embedded(ex, node, "ppt/embeddings/");
    }
}

fn odf(ex: &mut Extractor, node: &Node, zip: &mut Zip, kind: DocKind) {
    if let Some(index) = zip.index_of("META-INF/manifest.xml") {
        if let Ok(Member::Data(manifest)) = zip.read(ex, node, index) {
            if memchr::memmem::find(&manifest, b"encryption-data").is_some() {
                let detail = format!("password-protected {kind} document");
                ex.problem(&node.path, ProblemKind::Encrypted, detail);
                return;
            }
        }
    }
    let Some(index) = zip.index_of("content.xml") else {
        return;
    };
    let mut sink = ex.sink();
    let _ = zip.part(ex, node, index, |d| office::odf_text(d, &mut sink));
    ex.finish_sink(&node.path, &sink);
    ex.emit(node.path.clone(), kind, sink.take());
}

/// Reads at most `cap + 1` bytes: one byte past the cap proves the cap was exceeded without
/// inflating any further. Returns what was read and the read error, if any.
pub(crate) fn read_bounded(
    reader: impl Read,
    cap: u64,
    declared: u64,
) -> (Vec<u8>, Option<String>) {
    let initial = usize::try_from(declared.min(cap).min(4 * 1024 * 1024)).unwrap_or(0);
    let mut data = Vec::with_capacity(initial);
    let error = reader
        .take(cap.saturating_add(1))
        .read_to_end(&mut data)
        .err()
        .map(|e| e.to_string());
    (data, error)
}

/// Inflates a gzip member under the budget and extracts what is inside.
pub(crate) fn gzip(ex: &mut Extractor, node: &Node, bytes: &[u8]) {
    let (cap, ratio_cap) = ex.inflate_cap(bytes.len() as u64);
    let (data, error) = read_bounded(flate2::read::MultiGzDecoder::new(bytes), cap, 0);
    let inner = inner_gzip_name(node.name);
    let path = node.child_path(&inner);
    if data.len() as u64 > cap {
        ex.over_cap(
            &path,
            data.len() as u64,
            bytes.len() as u64,
            ratio_cap,
            "inflates past",
        );
        return;
    }
    ex.charge(data.len() as u64);
    if let Some(reason) = error {
        ex.problem(
            &node.path,
            ProblemKind::Corrupt,
            format!("gzip damaged: {reason}"),
        );
    }
    let child = Node {
        name: Some(&inner),
        path,
        depth: node.depth + 1,
    };
    ex.document(&child, &data);
}

/// `x.tar.gz` holds `x.tar`, `x.tgz` holds `x.tar`, anything else holds its name minus `.gz`.
fn inner_gzip_name(name: Option<&str>) -> String {
    let base = name.map(base_name).unwrap_or("content.gz");
    let lower = base.to_ascii_lowercase();
    if lower.ends_with(".tgz") {
        format!("{}.tar", &base[..base.len() - 4])
    } else if lower.ends_with(".gz") && base.len() > 3 {
        base[..base.len() - 3].to_string()
    } else {
        format!("{base}.content")
    }
}

/// Walks a tar archive (ustar, GNU long names, pax paths); each regular file is a document.
/// Nothing is inflated, so only the entry budget applies.
pub(crate) fn tar(ex: &mut Extractor, node: &Node, bytes: &[u8]) {
    let mut at = 0usize;
    let mut long_name: Option<String> = None;
    while let Some(header) = bytes.get(at..at + 512) {
        if header.iter().all(|&b| b == 0) {
            break;
        }
        if ex.entries_left == 0 {
            let detail = format!("more than {} entries", ex.limits.max_entries);
            ex.problem(&node.path, ProblemKind::Bomb, detail);
            return;
        }
        ex.entries_left -= 1;
        let Some(size) = octal(&header[124..136]) else {
            ex.problem(&node.path, ProblemKind::Corrupt, "bad tar header");
            return;
        };
        let data_start = at + 512;
        let data_end = data_start.saturating_add(usize::try_from(size).unwrap_or(usize::MAX));
        let data = &bytes[data_start.min(bytes.len())..data_end.min(bytes.len())];
        let typeflag = header[156];
        let field = |r: std::ops::Range<usize>| {
            let f = &header[r];
            let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
            String::from_utf8_lossy(&f[..end]).into_owned()
        };
        match typeflag {
            b'L' => long_name = Some(field_text(data)),
            b'x' => long_name = pax_path(data).or(long_name),
            b'0' | 0 | b'7' => {
                let name = long_name.take().unwrap_or_else(|| {
                    let prefix = field(345..500);
                    let name = field(0..100);
                    if &header[257..262] == b"ustar" && !prefix.is_empty() {
                        format!("{prefix}/{name}")
                    } else {
                        name
                    }
                });
                if data.len() as u64 != size {
                    ex.problem(
                        &node.child_path(&name),
                        ProblemKind::Corrupt,
                        "tar member cut short",
                    );
                }
                let child = Node {
                    name: Some(&name),
                    path: node.child_path(&name),
                    depth: node.depth + 1,
                };
                ex.document(&child, data);
            }
            _ => long_name = None,
        }
        let padded = size.div_ceil(512).saturating_mul(512);
        at = match usize::try_from(padded)
            .ok()
            .and_then(|p| data_start.checked_add(p))
        {
            Some(next) => next,
            None => break,
        };
    }
}

fn field_text(data: &[u8]) -> String {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    String::from_utf8_lossy(&data[..end.min(4096)]).into_owned()
}

/// The `path=` record of a pax extended header.
fn pax_path(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&data[..data.len().min(64 * 1024)]);
    text.lines().find_map(|line| {
        let (_, record) = line.split_once(' ')?;
        record.strip_prefix("path=").map(str::to_string)
    })
}

/// A tar number field: octal digits (space or NUL padded), or base-256 with the high bit set.
fn octal(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        return field[1..]
            .iter()
            .try_fold(u64::from(field[0] & 0x7F), |n, &b| {
                n.checked_mul(256)?.checked_add(u64::from(b))
            });
    }
    let text = std::str::from_utf8(field).ok()?;
    let digits = text.trim_matches(|c: char| c == '\0' || c == ' ');
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(digits, 8).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_what_a_gzip_holds() {
        assert_eq!(inner_gzip_name(Some("a/b.tar.gz")), "b.tar");
        assert_eq!(inner_gzip_name(Some("x.TGZ")), "x.tar");
        assert_eq!(inner_gzip_name(None), "content");
    }

    #[test]
    fn reads_tar_number_fields() {
        assert_eq!(octal(b"00000001750\0"), Some(1000));
        assert_eq!(octal(b"     17 \0\0\0\0"), Some(15));
        assert_eq!(octal(b"\x80\0\0\0\0\0\0\0\0\0\x01\0"), Some(256));
        assert_eq!(octal(b"zz"), None);
    }
}
