//! OLE2 compound files (Office 97-2003, MSI, `vbaProject.bin`): installer class ids, VBA
//! projects and their auto-exec macros, password-encrypted Office documents, and packaged objects
//! (`\x01Ole10Native`, the classic way to embed an executable in a document).

use std::io::{Cursor, Read};

use crate::kind::FileKind;
use crate::{names, vba, InspectError, Inspector, Node};

const MACRO: f32 = 6.0;
const AUTO_EXEC: f32 = 4.0;
const SUSPICIOUS_CALLS: f32 = 3.0;
const ENCRYPTED_DOCUMENT: f32 = 3.0;

/// Root class ids of Windows Installer databases, patches and transforms.
const MSI_CLSIDS: &[&str] = &[
    "000c1084-0000-0000-c000-000000000046",
    "000c1086-0000-0000-c000-000000000046",
    "000c1082-0000-0000-c000-000000000046",
];

/// Entries walked in one compound file; real documents have tens to a few hundred.
const MAX_OLE_ENTRIES: usize = 10_000;
/// Bytes read from one stream for macro or package checks.
const MAX_STREAM: u64 = 16 * 1024 * 1024;

/// Inspects an OLE2 file; returns [`FileKind::Msi`] for installer packages.
pub(crate) fn inspect_ole(insp: &mut Inspector, node: &Node, bytes: &[u8]) -> FileKind {
    let mut ole = match cfb::CompoundFile::open(Cursor::new(bytes)) {
        Ok(ole) => ole,
        Err(e) => {
            insp.problem(InspectError::Malformed {
                path: insp.display(&node.path),
                format: "ole2",
                reason: e.to_string(),
            });
            return FileKind::Ole2;
        }
    };
    let clsid = ole.root_entry().clsid().to_string();
    let by_name = node
        .name
        .and_then(names::extension)
        .is_some_and(|e| e == "msi" || e == "msp");
    if MSI_CLSIDS.contains(&clsid.as_str()) || by_name {
        return FileKind::Msi;
    }

    let mut vba = false;
    let mut module_streams = Vec::new();
    let mut packages = Vec::new();
    let mut encrypted = false;
    for entry in ole.walk().take(MAX_OLE_ENTRIES) {
        let name = entry.name();
        let in_vba = entry.path().components().any(|c| {
            let c = c.as_os_str();
            c.eq_ignore_ascii_case("VBA")
                || c.eq_ignore_ascii_case("_VBA_PROJECT")
                || c.eq_ignore_ascii_case("_VBA_PROJECT_CUR")
                || c.eq_ignore_ascii_case("Macros")
        });
        if in_vba || name.eq_ignore_ascii_case("_VBA_PROJECT") {
            vba = true;
        }
        if !entry.is_stream() {
            continue;
        }
        if in_vba && is_module_candidate(name) {
            module_streams.push(entry.path().to_path_buf());
        } else if name == "\u{1}Ole10Native" {
            packages.push(entry.path().to_path_buf());
        } else if name == "EncryptedPackage" {
            encrypted = true;
        }
    }

    let shown = insp.display(&node.path);
    if vba {
        insp.flag("file.macro", MACRO, format!("{shown} (VBA project)"));
        let mut auto_exec = Vec::new();
        let mut suspicious = Vec::new();
        for path in module_streams.iter().take(256) {
            let Some(stream) = read_stream(&mut ole, path) else {
                continue;
            };
            let traits = vba::scan_module(&stream);
            for a in traits.auto_exec {
                if !auto_exec.contains(&a) {
                    auto_exec.push(a);
                }
            }
            for s in traits.suspicious {
                if !suspicious.contains(&s) {
                    suspicious.push(s);
                }
            }
        }
        if !auto_exec.is_empty() {
            let evidence = format!("{shown}: {}", auto_exec.join(", "));
            insp.flag("file.macro_autoexec", AUTO_EXEC, evidence);
        }
        if !suspicious.is_empty() {
            let evidence = format!("{shown}: {}", suspicious.join(", "));
            insp.flag("file.macro_suspicious", SUSPICIOUS_CALLS, evidence);
        }
    }
    if encrypted {
        let evidence = format!("{shown} (password-protected Office document)");
        insp.flag("file.encrypted_document", ENCRYPTED_DOCUMENT, evidence);
    }
    if !packages.is_empty() && insp.may_open(node, FileKind::Ole2) {
        for (i, path) in packages.iter().take(64).enumerate() {
            let Some(stream) = read_stream(&mut ole, path) else {
                continue;
            };
            let Some(package) = parse_ole10_native(&stream) else {
                continue;
            };
            let len = package.data.len() as u64;
            if len > insp.inflate_left {
                insp.problem(InspectError::Skipped {
                    path: insp.display(&node.path),
                    reason: "packaged object over the inflate budget",
                });
                continue;
            }
            insp.inflate_left -= len;
            let name = if package.name.is_empty() {
                format!("package{}", i + 1)
            } else {
                package.name
            };
            insp.add_child(node, &name, package.data);
        }
    }
    FileKind::Ole2
}

/// VBA storages hold the `dir` and project streams besides the modules; p-code caches (`__SRP_`)
/// hold no source.
fn is_module_candidate(name: &str) -> bool {
    !(name.eq_ignore_ascii_case("dir")
        || name.eq_ignore_ascii_case("_VBA_PROJECT")
        || name.eq_ignore_ascii_case("PROJECT")
        || name.eq_ignore_ascii_case("PROJECTwm")
        || name.starts_with("__SRP_"))
}

fn read_stream<F: Read + std::io::Seek>(
    ole: &mut cfb::CompoundFile<F>,
    path: &std::path::Path,
) -> Option<Vec<u8>> {
    let stream = ole.open_stream(path).ok()?;
    let mut data = Vec::new();
    stream.take(MAX_STREAM).read_to_end(&mut data).ok()?;
    Some(data)
}

struct Package {
    name: String,
    data: Vec<u8>,
}

/// The OLE1 "Package" object: size, type, label, source path, two reserved words, temp path,
/// data size, data (as documented by oletools' `oleobj`).
fn parse_ole10_native(stream: &[u8]) -> Option<Package> {
    let mut r = Reader { b: stream, pos: 0 };
    r.u32()?; // total size
    r.u16()?; // type
    let label = r.cstr()?;
    let source = r.cstr()?;
    r.u32()?;
    r.u32()?;
    let temp = r.cstr()?;
    let size = usize::try_from(r.u32()?).ok()?;
    let data = r.b.get(r.pos..)?;
    let data = &data[..size.min(data.len())];
    let pick = |s: &[u8]| {
        let s = String::from_utf8_lossy(s);
        names::base_name(&s).to_string()
    };
    let name = [label, source, temp]
        .into_iter()
        .map(pick)
        .find(|n| !n.is_empty())
        .unwrap_or_default();
    Some(Package {
        name,
        data: data.to_vec(),
    })
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|s| u16::from_le_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    /// A NUL-terminated string of at most 1 KiB.
    fn cstr(&mut self) -> Option<&'a [u8]> {
        let rest = self.b.get(self.pos..)?;
        let len = memchr::memchr(0, &rest[..rest.len().min(1024)])?;
        self.pos += len + 1;
        Some(&rest[..len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_packaged_object() {
        let mut s = Vec::new();
        s.extend_from_slice(&0u32.to_le_bytes());
        s.extend_from_slice(&2u16.to_le_bytes());
        s.extend_from_slice(b"invoice.exe\0C:\\tmp\\invoice.exe\0");
        s.extend_from_slice(&0x0003_0000u32.to_le_bytes());
        s.extend_from_slice(&20u32.to_le_bytes());
        s.extend_from_slice(b"C:\\temp\\invoice.exe\0");
        s.extend_from_slice(&4u32.to_le_bytes());
        s.extend_from_slice(b"MZ\x90\x00");
        let p = parse_ole10_native(&s).expect("package");
        assert_eq!(p.name, "invoice.exe");
        assert_eq!(p.data, b"MZ\x90\x00");
    }
}
