//! What is this file really, and is it dangerous?
//!
//! [`inspect`] takes the bytes of one file, plus the name and MIME type it was declared with (both
//! optional, both untrusted), and returns a [`FileReport`]:
//!
//! * the true [`FileKind`] from magic bytes, never from the name;
//! * [`Finding`]s, dotted `file.*` names with a score and short evidence (`evil.zip!/a.exe (pe)`);
//! * the [`Child`] files unpacked from archives and containers (ZIP and OOXML, gzip, OLE2 packaged
//!   objects, PDF embedded files, HTML-smuggled payloads), each with its path, kind, SHA-256, size
//!   and, within the limits, its bytes so an antivirus can scan them;
//! * `texts` worth scanning for URLs (HTML and text files, PDF `/URI` targets, OOXML hyperlinks);
//! * `problems`: what could not be read, never a reason to fail.
//!
//! **Architecture invariant:** this crate knows nothing of mail, does no I/O and never panics on
//! input. Every input, including a 10 GB zip bomb or a 50 MB random blob, is inspected in memory and
//! time bounded by [`Limits`]: archives are inflated through bounded readers (a header's declared
//! size is checked but never trusted), nesting stops at `max_depth`, and one budget of inflated
//! bytes is shared by the whole inspection.
//!
//! Checks only report; what happens to the message is the policy's decision. The findings, with
//! their scores (evidence always names the file, with its path inside containers):
//!
//! | finding | score | raised for |
//! |---|---|---|
//! | `file.executable` | 8 | PE, ELF, Mach-O (thin or fat); by name inside an encrypted archive |
//! | `file.script` | 7 | `.js .jse .vbs .vbe .wsf .wsh .ps1 .bat .cmd ...`, encoded script |
//! | `file.unix_script` | 4 | a `#!` script (runs only once made executable) |
//! | `file.shortcut` | 7 | shell link (`.lnk`), Internet shortcut (`.url`) |
//! | `file.disk_image` | 5 | ISO 9660/UDF, raw `.img`, VHD, VHDX, Apple DMG |
//! | `file.hta` | 9 | HTML application (by name or `<hta:application>`) |
//! | `file.chm` | 7 | compiled HTML help |
//! | `file.msi` | 8 | Windows Installer (OLE2 class id, or OLE2 named `.msi`) |
//! | `file.double_extension` | 7 | `invoice.pdf.exe`, padding before the extension, bidi controls |
//! | `file.type_mismatch` | 4 | name or declared MIME type promises another kind than the bytes |
//! | `file.encrypted_archive` | 4 | encrypted ZIP entries (content out of the scanners' reach) |
//! | `file.encrypted_document` | 3 | password-protected Office document |
//! | `file.archive_bomb` | 8 | entry count, total inflated size or ratio over [`Limits`] |
//! | `file.archive_too_deep` | 4 | a container nested `max_depth` deep (not opened) |
//! | `file.opaque_archive` | 1 | 7z, RAR, CAB: identified, not opened |
//! | `file.malformed_archive` | 1 | a ZIP (or OLE2) its parser rejects |
//! | `file.macro` | 6 | VBA project in OLE2 or OOXML, macro-enabled content type, XLM or ODF macros |
//! | `file.macro_autoexec` | 4 | `AutoOpen`, `Document_Open`, `Workbook_Open`, ... in VBA source |
//! | `file.macro_suspicious` | 3 | `WScript.Shell`, `URLDownloadToFile`, `powershell`, ... in VBA source |
//! | `file.remote_template` | 7 | OOXML external `attachedTemplate`/`oleObject`/`frame` relationship |
//! | `file.pdf_javascript` | 7 | `/JavaScript`, `/JS` (also inside object streams) |
//! | `file.pdf_launch` | 8 | `/Launch` |
//! | `file.pdf_embedded_file` | 4 | `/EmbeddedFile(s)`, `/FileAttachment` |
//! | `file.pdf_auto_action` | 2 | `/OpenAction`, `/AA` (common in benign PDFs too) |
//! | `file.pdf_obfuscated_name` | 4 | one of the names above spelled with `#xx` escapes |
//! | `file.html_credential_form` | 6 | an `<input type=password>` in an HTML attachment |
//! | `file.html_smuggling` | 8 | decoded data handed to `Blob` + object URL / `msSaveOrOpenBlob`, download `data:` URIs |
//!
//! ```
//! use rampart_files::{inspect, FileKind, Limits};
//!
//! // A Windows executable dressed up as a PDF.
//! let bytes = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00";
//! let report = inspect(Some("invoice.pdf.exe"), Some("application/pdf"), bytes, &Limits::default());
//! assert_eq!(report.kind, FileKind::Pe);
//! let names: Vec<&str> = report.findings.iter().map(|f| f.name.as_str()).collect();
//! assert!(names.contains(&"file.executable"));
//! assert!(names.contains(&"file.double_extension"));
//! assert!(names.contains(&"file.type_mismatch"));
//! ```

mod archive;
mod html;
mod kind;
mod names;
mod ole;
mod pdf;
mod vba;

use rampart_model::Finding;
use sha2::{Digest, Sha256};

pub use archive::declared_entry_count as declared_zip_entry_count;
pub use kind::FileKind;

/// Bounds on the work one inspection may do. Every limit, when hit, is itself a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Containers nested inside the inspected file that are still opened; a container found at
    /// this depth raises `file.archive_too_deep` instead of being opened.
    pub max_depth: u32,
    /// Archive entries looked at, over the whole inspection.
    pub max_entries: usize,
    /// Bytes inflated or decoded, over the whole inspection; also bounds the bytes kept in
    /// [`Child::bytes`].
    pub max_total_uncompressed: u64,
    /// Largest accepted inflated/compressed ratio of one entry (checked past [`RATIO_FLOOR`]).
    pub max_ratio: u64,
    /// Bytes of text returned in [`FileReport::texts`], over the whole inspection.
    pub max_text: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 3,
            max_entries: 1000,
            max_total_uncompressed: 100 * 1024 * 1024,
            max_ratio: 100,
            max_text: 1024 * 1024,
        }
    }
}

/// Entries may inflate to this many bytes whatever their ratio: small sparse files (an empty
/// spreadsheet, a blank bitmap) compress far better than 100:1 and are no bomb.
pub const RATIO_FLOOR: u64 = 1024 * 1024;

/// What [`inspect`] found out about one file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileReport {
    /// The true type, from magic bytes (refined by content: a ZIP with `[Content_Types].xml` is
    /// OOXML, an OLE2 file with the installer class id is an MSI).
    pub kind: FileKind,
    /// Lowercase hex SHA-256 of the inspected bytes.
    pub sha256: String,
    pub findings: Vec<Finding>,
    /// Files found inside, depth-first, parents before their own children.
    pub children: Vec<Child>,
    /// Text worth scanning for URLs, at most [`Limits::max_text`] bytes in all.
    pub texts: Vec<String>,
    /// What could not be read; the report is still complete for everything else.
    pub problems: Vec<InspectError>,
}

impl FileReport {
    /// The finding with this name, if raised.
    pub fn finding(&self, name: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.name == name)
    }

    /// Sum of the finding scores.
    pub fn score(&self) -> f32 {
        self.findings.iter().map(|f| f.score).sum()
    }
}

/// A file found inside the inspected one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    /// Path from the inspected file, containers separated by `!/`: `inner.zip!/a.exe`.
    pub path: String,
    pub kind: FileKind,
    /// Bytes read (declared size when the entry could not be read, e.g. encrypted).
    pub size: u64,
    /// Lowercase hex SHA-256 of the bytes read; `None` if the entry was not read.
    pub sha256: Option<String>,
    /// The entry is encrypted: neither its kind nor its content could be checked.
    pub encrypted: bool,
    /// The content, for an antivirus; `None` if not read (encrypted, over a limit, unreadable).
    pub bytes: Option<Vec<u8>>,
}

/// Something that could not be inspected. Never fatal: it is listed in
/// [`FileReport::problems`] and the rest of the report stands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InspectError {
    #[error("{path}: malformed {format}: {reason}")]
    Malformed {
        path: String,
        format: &'static str,
        reason: String,
    },
    #[error("{path}: not inspected: {reason}")]
    Skipped { path: String, reason: &'static str },
}

/// Inspects one file. Total: any bytes yield a report.
pub fn inspect(
    name: Option<&str>,
    declared_type: Option<&str>,
    bytes: &[u8],
    limits: &Limits,
) -> FileReport {
    let mut inspector = Inspector {
        limits,
        top_name: name.map(printable_name),
        findings: Vec::new(),
        children: Vec::new(),
        texts: Vec::new(),
        text_left: limits.max_text,
        inflate_left: limits.max_total_uncompressed,
        entries_seen: 0,
        problems: Vec::new(),
        stopped: false,
    };
    let node = Node {
        name,
        declared_type,
        path: String::new(),
        depth: 0,
    };
    let kind = inspector.examine(&node, bytes);
    FileReport {
        kind,
        sha256: sha256_hex(bytes),
        findings: inspector.findings,
        children: inspector.children,
        texts: inspector.texts,
        problems: inspector.problems,
    }
}

/// Where a file sits in the inspection: its name, its path from the top, and how many containers
/// enclose it.
pub(crate) struct Node<'a> {
    pub name: Option<&'a str>,
    pub declared_type: Option<&'a str>,
    /// Empty for the inspected file itself.
    pub path: String,
    pub depth: u32,
}

impl Node<'_> {
    /// The path of something inside this file.
    pub fn child_path(&self, inner: &str) -> String {
        let inner = printable_name(inner);
        if self.path.is_empty() {
            inner
        } else {
            format!("{}!/{inner}", self.path)
        }
    }
}

/// State shared by the whole inspection: findings, children and the budgets every container
/// draws on.
pub(crate) struct Inspector<'l> {
    pub limits: &'l Limits,
    top_name: Option<String>,
    findings: Vec<Finding>,
    pub children: Vec<Child>,
    texts: Vec<String>,
    text_left: usize,
    /// Bytes that may still be inflated or decoded.
    pub inflate_left: u64,
    pub entries_seen: usize,
    problems: Vec<InspectError>,
    /// A bomb was found: nothing more is unpacked.
    pub stopped: bool,
}

const UNIX_SCRIPT: f32 = 4.0;

/// Evidence strings per finding; the rest is dropped (the count of files is no news).
const MAX_EVIDENCE: usize = 12;

impl Inspector<'_> {
    /// How a path reads in evidence: `evil.zip!/inner.zip!/a.exe`.
    pub fn display(&self, path: &str) -> String {
        match (&self.top_name, path.is_empty()) {
            (Some(top), true) => top.clone(),
            (None, true) => "(file)".to_string(),
            (Some(top), false) => format!("{top}!/{path}"),
            (None, false) => path.to_string(),
        }
    }

    /// Raises a finding, or adds evidence to the one already raised under that name (keeping the
    /// higher score): five executables in one archive are one finding with five paths.
    pub fn flag(&mut self, name: &str, score: f32, evidence: String) {
        if let Some(f) = self.findings.iter_mut().find(|f| f.name == name) {
            f.score = f.score.max(score);
            if f.evidence.len() < MAX_EVIDENCE && !f.evidence.contains(&evidence) {
                let with = std::mem::replace(f, Finding::new(name, 0.0)).with_evidence(evidence);
                *f = with;
            }
            return;
        }
        self.findings
            .push(Finding::new(name, score).with_evidence(evidence));
    }

    pub fn problem(&mut self, error: InspectError) {
        if self.problems.len() < 100 {
            self.problems.push(error);
        }
    }

    /// Keeps text for URL scanning, within the text budget.
    pub fn add_text(&mut self, text: &str) {
        if self.text_left == 0 || text.trim().is_empty() {
            return;
        }
        let mut cut = text.len().min(self.text_left);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        self.text_left -= cut;
        self.texts.push(text[..cut].to_string());
    }

    /// Keeps bytes as text (lossy UTF-8, or UTF-16 with a BOM).
    pub fn add_text_bytes(&mut self, bytes: &[u8]) {
        if self.text_left == 0 {
            return;
        }
        let text = decode_text(bytes, self.text_left);
        self.add_text(&text);
    }

    /// Whether a container at `node` may be opened; raises `file.archive_too_deep` if not.
    pub fn may_open(&mut self, node: &Node, what: FileKind) -> bool {
        if self.stopped {
            return false;
        }
        if node.depth >= self.limits.max_depth {
            let evidence = format!(
                "{} ({what} nested {} deep, limit {})",
                self.display(&node.path),
                node.depth,
                self.limits.max_depth
            );
            self.flag("file.archive_too_deep", 4.0, evidence);
            return false;
        }
        true
    }

    /// Records a file found inside another, examines it (recursively), and keeps its bytes.
    pub fn add_child(&mut self, parent: &Node, inner_name: &str, bytes: Vec<u8>) {
        let path = parent.child_path(inner_name);
        let index = self.children.len();
        self.children.push(Child {
            path: path.clone(),
            kind: FileKind::Unknown,
            size: bytes.len() as u64,
            sha256: Some(sha256_hex(&bytes)),
            encrypted: false,
            bytes: None,
        });
        let node = Node {
            name: Some(inner_name),
            declared_type: None,
            path,
            depth: parent.depth + 1,
        };
        let kind = self.examine(&node, &bytes);
        if let Some(child) = self.children.get_mut(index) {
            child.kind = kind;
            child.bytes = Some(bytes);
        }
    }

    /// The whole inspection of one file: true kind, dangerous kinds, name tricks, mismatches, and
    /// the content checks of its kind (which may recurse through [`Inspector::add_child`]).
    pub fn examine(&mut self, node: &Node, bytes: &[u8]) -> FileKind {
        let mut kind = kind::sniff(node.name, bytes);
        match kind {
            // `may_open` raises `file.archive_too_deep` when it says no.
            FileKind::Zip if self.may_open(node, kind) => {
                kind = self.guarded(node, "zip", kind, |i| archive::inspect_zip(i, node, bytes));
            }
            FileKind::Gzip if self.may_open(node, kind) => archive::inspect_gzip(self, node, bytes),
            FileKind::Ole2 => {
                kind = self.guarded(node, "ole2", kind, |i| ole::inspect_ole(i, node, bytes));
            }
            FileKind::Pdf => pdf::inspect_pdf(self, node, bytes),
            FileKind::Html | FileKind::Svg | FileKind::Hta => {
                html::inspect_html(self, node, bytes);
                self.add_text_bytes(bytes);
            }
            FileKind::Text | FileKind::Shortcut => self.add_text_bytes(bytes),
            FileKind::SevenZip | FileKind::Rar | FileKind::Cab => {
                let evidence = format!("{} ({kind})", self.display(&node.path));
                self.flag("file.opaque_archive", 1.0, evidence);
            }
            _ => {}
        }
        if let Some((finding, score)) = kind.danger() {
            let (finding, score, how) =
                if kind == FileKind::Script && kind::is_unix_script(node.name, bytes) {
                    // Runs only after chmod (or as a macOS .command): a moderate signal, where a
                    // Windows script host runs a .js on a double click. Its own name, so policy
                    // can treat the two differently.
                    ("file.unix_script", UNIX_SCRIPT, "shebang script")
                } else {
                    (finding, score, kind.as_str())
                };
            let evidence = format!("{} ({how})", self.display(&node.path));
            self.flag(finding, score, evidence);
        }
        if let Some(name) = node.name {
            if let Some(why) = names::disguise(name) {
                let evidence = format!("{} ({why})", self.display(&node.path));
                self.flag("file.double_extension", 7.0, evidence);
            }
        }
        self.check_mismatch(node, kind);
        kind
    }

    /// Runs a third-party parser (`zip`, `cfb`) so that a bug of theirs on hostile input costs
    /// this file's content checks, not the whole scan. Our own code does not panic; theirs is
    /// fuzzed through ours, but a mail gateway should not bet on it.
    fn guarded<T>(
        &mut self,
        node: &Node,
        format: &'static str,
        fallback: T,
        parse: impl FnOnce(&mut Self) -> T,
    ) -> T {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse(&mut *self))) {
            Ok(kind) => kind,
            Err(_) => {
                let path = self.display(&node.path);
                self.flag("file.malformed_archive", 1.0, format!("{path} ({format})"));
                self.problem(InspectError::Malformed {
                    path,
                    format,
                    reason: "parser failed".to_string(),
                });
                fallback
            }
        }
    }

    /// A name or declared type that promises one kind while the bytes are another.
    fn check_mismatch(&mut self, node: &Node, kind: FileKind) {
        if matches!(kind, FileKind::Unknown | FileKind::Empty) {
            return;
        }
        let by_name = node
            .name
            .and_then(names::extension)
            .and_then(|ext| names::kinds_for_extension(&ext).map(|k| (ext, k)));
        if let Some((ext, expected)) = by_name {
            if !expected.contains(&kind) {
                let evidence = format!("{}: .{ext} is {kind}", self.display(&node.path));
                self.flag("file.type_mismatch", 4.0, evidence);
            }
        }
        if let Some(declared) = node.declared_type {
            if let Some(expected) = names::kinds_for_mime(declared) {
                if !expected.contains(&kind) {
                    let declared: String = declared.chars().take(80).collect();
                    let evidence = format!(
                        "{}: declared {declared} is {kind}",
                        self.display(&node.path)
                    );
                    self.flag("file.type_mismatch", 4.0, evidence);
                }
            }
        }
    }
}

/// A name as it may appear in evidence and paths: no control characters, and bidirectional
/// controls shown as `<U+202E>` instead of silently reordering the text around them.
fn printable_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().take(160) {
        if names::is_bidi_control(c) {
            out.push_str(&format!("<U+{:04X}>", u32::from(c)));
        } else if !c.is_control() {
            out.push(c);
        }
    }
    out
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0F)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Text from bytes, at most `max` bytes of it: UTF-16 by BOM, else lossy UTF-8.
fn decode_text(bytes: &[u8], max: usize) -> String {
    let utf16 = |b: &[u8], le: bool| {
        let units = b.chunks_exact(2).take(max / 2).map(|c| {
            if le {
                u16::from_le_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], c[1]])
            }
        });
        char::decode_utf16(units)
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect()
    };
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return utf16(rest, true);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return utf16(rest, false);
    }
    String::from_utf8_lossy(&bytes[..bytes.len().min(max)]).into_owned()
}
