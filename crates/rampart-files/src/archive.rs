//! ZIP (and OOXML, which is ZIP) and gzip, opened under the inspection's budgets.
//!
//! Bomb defence in three layers: the entry count declared by the end-of-central-directory record
//! is checked before the directory is parsed; each entry's declared size and ratio are checked
//! before it is inflated; and the inflation itself goes through a reader that stops one byte past
//! what the ratio and the remaining budget allow, whatever the header declared.

use std::io::{Cursor, Read};

use crate::kind::{find_ci, FileKind};
use crate::names;
use crate::{InspectError, Inspector, Node, RATIO_FLOOR};

/// Scores: an archive bomb is hostile on its face; an encrypted archive is how malware travels
/// past scanners.
const BOMB: f32 = 8.0;
const ENCRYPTED: f32 = 4.0;
const MACRO: f32 = 6.0;
const REMOTE_TEMPLATE: f32 = 7.0;

/// Inspects a ZIP; returns [`FileKind::Ooxml`] if it is an Office Open XML document.
pub(crate) fn inspect_zip(insp: &mut Inspector, node: &Node, bytes: &[u8]) -> FileKind {
    let entries_left = insp.limits.max_entries.saturating_sub(insp.entries_seen);
    if let Some(declared) = declared_entry_count(bytes) {
        if declared > entries_left as u64 {
            // Parsing a huge central directory is itself the attack: do not.
            let evidence = format!(
                "{}: {declared} entries declared, limit {}",
                insp.display(&node.path),
                insp.limits.max_entries
            );
            insp.flag("file.archive_bomb", BOMB, evidence);
            insp.stopped = true;
            return FileKind::Zip;
        }
    }
    let mut zip = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(zip) => zip,
        Err(e) => {
            let path = insp.display(&node.path);
            insp.flag("file.malformed_archive", 1.0, format!("{path} (zip)"));
            insp.problem(InspectError::Malformed {
                path,
                format: "zip",
                reason: e.to_string(),
            });
            return FileKind::Zip;
        }
    };
    let names: Vec<String> = zip
        .file_names()
        .map(|n| n.map(|n| n.into_owned()).unwrap_or_default())
        .collect();
    let ooxml = names.iter().any(|n| n == "[Content_Types].xml");
    let odf = names.iter().any(|n| n == "mimetype") && names.iter().any(|n| n == "content.xml");
    let kind = if ooxml {
        FileKind::Ooxml
    } else {
        FileKind::Zip
    };

    for (index, name) in names.iter().enumerate() {
        if insp.stopped {
            break;
        }
        if insp.entries_seen >= insp.limits.max_entries {
            let evidence = format!(
                "{}: more than {} entries",
                insp.display(&node.path),
                insp.limits.max_entries
            );
            insp.flag("file.archive_bomb", BOMB, evidence);
            insp.stopped = true;
            break;
        }
        insp.entries_seen += 1;
        if name.ends_with('/') {
            continue;
        }
        let path = node.child_path(name);
        if ooxml || odf {
            office_entry_by_name(insp, &path, name, odf);
            if !worth_reading_in_office(name, odf) {
                continue;
            }
        }
        let Ok(meta) = zip.by_index_data(index) else {
            continue;
        };
        let (declared, compressed, encrypted, is_dir) = (
            meta.size(),
            meta.compressed_size(),
            meta.encrypted(),
            meta.is_dir(),
        );
        if is_dir {
            continue;
        }
        if encrypted {
            unread_entry(insp, &path, name, declared, true);
            continue;
        }
        let ratio_cap = compressed
            .saturating_mul(insp.limits.max_ratio)
            .max(RATIO_FLOOR);
        if declared > ratio_cap || declared > insp.inflate_left {
            bomb(insp, &path, declared, compressed, true);
            break;
        }
        let cap = ratio_cap.min(insp.inflate_left);
        let (data, error) = match zip.by_index(index) {
            Ok(entry) => read_bounded(entry, cap, declared),
            Err(e) => {
                // Unsupported methods (LZMA, bzip2, zstd...) included: the name still counts.
                insp.problem(InspectError::Malformed {
                    path: insp.display(&path),
                    format: "zip entry",
                    reason: e.to_string(),
                });
                unread_entry(insp, &path, name, declared, false);
                continue;
            }
        };
        if data.len() as u64 > cap {
            bomb(insp, &path, data.len() as u64, compressed, false);
            break;
        }
        if let Some(reason) = error {
            insp.problem(InspectError::Malformed {
                path: insp.display(&path),
                format: "zip entry",
                reason,
            });
            if data.is_empty() && declared > 0 {
                unread_entry(insp, &path, name, declared, false);
                continue;
            }
        }
        insp.inflate_left = insp.inflate_left.saturating_sub(data.len() as u64);
        if ooxml {
            office_entry_content(insp, node, name, &data);
            if !keep_office_part(name) {
                continue;
            }
        }
        insp.add_child(node, name, data);
    }
    kind
}

/// Reads at most `cap + 1` bytes: one byte past the cap proves the cap was exceeded without
/// inflating any further. Returns what was read and the read error, if any.
fn read_bounded(reader: impl Read, cap: u64, declared: u64) -> (Vec<u8>, Option<String>) {
    let initial = usize::try_from(declared.min(cap).min(4 * 1024 * 1024)).unwrap_or(0);
    let mut data = Vec::with_capacity(initial);
    let error = reader
        .take(cap.saturating_add(1))
        .read_to_end(&mut data)
        .err()
        .map(|e| e.to_string());
    (data, error)
}

fn bomb(insp: &mut Inspector, path: &str, size: u64, compressed: u64, declared: bool) {
    let ratio = size / compressed.max(1);
    let how = if declared {
        "declares"
    } else {
        "inflates past"
    };
    let evidence = format!(
        "{}: {how} {size} bytes from {compressed} (ratio {ratio}, limits {}:1 and {} bytes)",
        insp.display(path),
        insp.limits.max_ratio,
        insp.limits.max_total_uncompressed
    );
    insp.flag("file.archive_bomb", BOMB, evidence);
    insp.stopped = true;
}

/// An entry whose content is out of reach (encrypted, or compressed with an unsupported method):
/// its name is still judged.
fn unread_entry(insp: &mut Inspector, path: &str, name: &str, declared: u64, encrypted: bool) {
    let shown = insp.display(path);
    if encrypted {
        insp.flag("file.encrypted_archive", ENCRYPTED, shown.clone());
    }
    let how = if encrypted { "encrypted" } else { "unreadable" };
    let by_name = names::extension(name).and_then(|ext| kind_by_extension(&ext));
    if let Some((finding, score)) = by_name.and_then(FileKind::danger) {
        insp.flag(finding, score, format!("{shown} ({how}, by name)"));
    }
    if let Some(why) = names::disguise(name) {
        insp.flag("file.double_extension", 7.0, format!("{shown} ({why})"));
    }
    insp.children.push(crate::Child {
        path: path.to_string(),
        kind: FileKind::Unknown,
        size: declared,
        sha256: None,
        encrypted,
        bytes: None,
    });
}

/// The kind a name alone implies, for entries whose bytes cannot be read.
fn kind_by_extension(ext: &str) -> Option<FileKind> {
    Some(match ext {
        "exe" | "scr" | "com" | "pif" | "cpl" | "dll" => FileKind::Pe,
        "lnk" | "url" => FileKind::Shortcut,
        "iso" | "img" => FileKind::Iso,
        "vhd" | "vhdx" => FileKind::Vhd,
        "hta" => FileKind::Hta,
        "chm" => FileKind::Chm,
        "msi" | "msp" => FileKind::Msi,
        e if crate::kind::SCRIPT_EXTENSIONS.contains(&e) => FileKind::Script,
        _ => return None,
    })
}

/// The entry count a ZIP's end-of-central-directory records declare (the largest, if stray
/// signatures offer several), without parsing the directory: a cheap bomb test before opening.
pub fn declared_entry_count(bytes: &[u8]) -> Option<u64> {
    const EOCD: &[u8] = b"PK\x05\x06";
    let tail_start = bytes.len().saturating_sub(22 + 65_535);
    let tail = &bytes[tail_start..];
    let mut most = None;
    for pos in memchr::memmem::rfind_iter(tail, EOCD) {
        let at = tail_start + pos;
        let Some(rec) = bytes.get(at..at + 22) else {
            continue;
        };
        let total = u64::from(u16::from_le_bytes([rec[10], rec[11]]));
        let count = if total == 0xFFFF {
            zip64_entry_count(bytes, at).unwrap_or(total)
        } else {
            total
        };
        most = Some(most.map_or(count, |m: u64| m.max(count)));
    }
    most
}

/// Entry count of the ZIP64 end-of-central-directory record located just before `eocd`.
fn zip64_entry_count(bytes: &[u8], eocd: usize) -> Option<u64> {
    let locator = bytes.get(eocd.checked_sub(20)?..eocd)?;
    if !locator.starts_with(b"PK\x06\x07") {
        return None;
    }
    let offset = u64::from_le_bytes(locator[8..16].try_into().ok()?);
    let at = usize::try_from(offset).ok()?;
    let rec = bytes.get(at..at.checked_add(56)?)?;
    if !rec.starts_with(b"PK\x06\x06") {
        return None;
    }
    Some(u64::from_le_bytes(rec[32..40].try_into().ok()?))
}

/// Office parts that raise findings by their name alone.
fn office_entry_by_name(insp: &mut Inspector, path: &str, name: &str, odf: bool) {
    let lower = name.to_ascii_lowercase();
    let what = if lower.ends_with("vbaproject.bin") {
        Some("VBA project")
    } else if lower.contains("/macrosheets/") {
        Some("Excel 4.0 macro sheet")
    } else if odf
        && (lower.starts_with("basic/") || lower.starts_with("scripts/"))
        && lower.ends_with(".xml")
    {
        Some("OpenDocument macro library")
    } else {
        None
    };
    if let Some(what) = what {
        let evidence = format!("{} ({what})", insp.display(path));
        insp.flag("file.macro", MACRO, evidence);
    }
}

/// Office parts are XML and media by the hundred; only these are read.
fn worth_reading_in_office(name: &str, odf: bool) -> bool {
    if odf {
        return !name.ends_with(".xml") && !name.starts_with("Pictures/") && name != "mimetype";
    }
    let lower = name.to_ascii_lowercase();
    lower == "[content_types].xml"
        || lower.ends_with(".rels")
        || !(lower.ends_with(".xml") || lower.contains("/media/"))
}

/// Parts that become children: the binary ones an antivirus or the OLE checks should see.
fn keep_office_part(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !(lower == "[content_types].xml" || lower.ends_with(".rels"))
}

/// Content checks of OOXML parts: macro-enabled content types, external relationships
/// (hyperlinks into `texts`; remote templates and OLE objects as findings).
fn office_entry_content(insp: &mut Inspector, node: &Node, name: &str, data: &[u8]) {
    let lower = name.to_ascii_lowercase();
    if lower == "[content_types].xml" {
        for marker in [&b"macroEnabled"[..], b"vbaProject"] {
            if find_ci(data, marker).is_some() {
                let evidence = format!("{} (macro-enabled content type)", insp.display(&node.path));
                insp.flag("file.macro", MACRO, evidence);
                break;
            }
        }
        return;
    }
    if !lower.ends_with(".rels") {
        return;
    }
    let text = String::from_utf8_lossy(&data[..data.len().min(4 * 1024 * 1024)]);
    let mut links = String::new();
    for rel in relationships(&text) {
        if !rel.external {
            continue;
        }
        let kind = rel.kind.rsplit('/').next().unwrap_or("");
        match kind {
            "hyperlink" => {
                links.push_str(&rel.target);
                links.push('\n');
            }
            "attachedTemplate" | "oleObject" | "frame" | "subDocument" => {
                let evidence = format!(
                    "{}: external {kind} {}",
                    insp.display(&node.child_path(name)),
                    rel.target
                );
                insp.flag("file.remote_template", REMOTE_TEMPLATE, evidence);
                links.push_str(&rel.target);
                links.push('\n');
            }
            _ => {}
        }
    }
    insp.add_text(&links);
}

struct Relationship {
    kind: String,
    target: String,
    external: bool,
}

/// `<Relationship Type=".." Target=".." TargetMode="External"/>` elements of a `.rels` part.
fn relationships(xml: &str) -> Vec<Relationship> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<Relationship ") {
        let tag = &rest[start..];
        let end = tag.find('>').unwrap_or(tag.len());
        let element = &tag[..end];
        let attr = |name: &str| attribute(element, name).map(unescape_xml);
        out.push(Relationship {
            kind: attr("Type").unwrap_or_default(),
            target: attr("Target").unwrap_or_default(),
            external: attr("TargetMode").is_some_and(|m| m.eq_ignore_ascii_case("External")),
        });
        rest = &tag[end..];
        if out.len() >= 10_000 {
            break;
        }
    }
    out
}

/// The value of `name="..."` (or single-quoted) inside one XML start tag.
fn attribute<'a>(element: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = element[from..].find(name) {
        let at = from + i;
        from = at + name.len();
        let before_ok = element[..at].ends_with([' ', '\t', '\n', '\r']);
        let after = element[from..].trim_start();
        if !before_ok || !after.starts_with('=') {
            continue;
        }
        let value = after[1..].trim_start();
        let quote = value.chars().next()?;
        if quote != '"' && quote != '\'' {
            continue;
        }
        let body = &value[1..];
        return body.find(quote).map(|end| &body[..end]);
    }
    None
}

fn unescape_xml(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Inflates a gzip member under the budget and examines what is inside.
pub(crate) fn inspect_gzip(insp: &mut Inspector, node: &Node, bytes: &[u8]) {
    let ratio_cap = (bytes.len() as u64)
        .saturating_mul(insp.limits.max_ratio)
        .max(RATIO_FLOOR);
    let cap = ratio_cap.min(insp.inflate_left);
    let (data, error) = read_bounded(flate2::read::MultiGzDecoder::new(bytes), cap, 0);
    let inner = inner_gzip_name(node.name);
    let path = node.child_path(&inner);
    if data.len() as u64 > cap {
        bomb(insp, &path, data.len() as u64, bytes.len() as u64, false);
        return;
    }
    if let Some(reason) = error {
        insp.problem(InspectError::Malformed {
            path: insp.display(&node.path),
            format: "gzip",
            reason,
        });
    }
    insp.inflate_left = insp.inflate_left.saturating_sub(data.len() as u64);
    insp.entries_seen += 1;
    insp.add_child(node, &inner, data);
}

/// `x.tar.gz` holds `x.tar`, `x.tgz` holds `x.tar`, anything else holds its name minus `.gz`.
fn inner_gzip_name(name: Option<&str>) -> String {
    let base = name.map(names::base_name).unwrap_or("content.gz");
    let lower = base.to_ascii_lowercase();
    if lower.ends_with(".tgz") {
        format!("{}.tar", &base[..base.len() - 4])
    } else if lower.ends_with(".gz") && base.len() > 3 {
        base[..base.len() - 3].to_string()
    } else {
        format!("{base}.content")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_relationship_attributes_in_any_order() {
        let xml = r#"<Relationships><Relationship Id="rId1" TargetMode="External" Target="http://a.example/x?a=1&amp;b=2" Type="http://schemas/relationships/hyperlink"/><Relationship Id="r2" Type="t/styles" Target="styles.xml"/></Relationships>"#;
        let rels = relationships(xml);
        assert_eq!(rels.len(), 2);
        assert_eq!(rels[0].target, "http://a.example/x?a=1&b=2");
        assert!(rels[0].external);
        assert!(!rels[1].external);
    }

    #[test]
    fn names_what_a_gzip_holds() {
        assert_eq!(inner_gzip_name(Some("a/b.tar.gz")), "b.tar");
        assert_eq!(inner_gzip_name(Some("x.TGZ")), "x.tar");
        assert_eq!(inner_gzip_name(None), "content");
    }
}
