//! Text out of documents, for data-leak prevention.
//!
//! [`extract`] takes the bytes of one file (and, optionally, the name it was given) and returns an
//! [`Extraction`]: the [`Text`] of every document found in it, each with its path
//! (`report.zip/inner/q3.xlsx#Sheet1`) and [`DocKind`], and the [`Problem`]s: parts that could not
//! be read. A part that cannot be read is news in itself: an encrypted ZIP or PDF is how data
//! leaves past a scanner, so policy gets to act on it.
//!
//! | kind | detected by | text |
//! |---|---|---|
//! | PDF | `%PDF-` in the first KiB | every page's content streams (and form XObjects): `Tj`/`TJ`/`'`/`"` through the font's `ToUnicode` CMap, predefined CJK CMaps or the simple font's encoding; AcroForm field values and annotation contents; attached files, recursively |
//! | DOCX, XLSX, PPTX | ZIP with `word/document.xml`, `xl/workbook.xml`, `ppt/presentation.xml` | body, headers, footers, notes and comments (DOCX); one text per sheet, cells as raw values, tab between cells (XLSX); one text per slide and per notes page (PPTX); embedded objects recursively |
//! | ODT, ODS, ODP | ZIP with a `mimetype` entry | `content.xml`, the same boundary rules; numbers from `office:value` |
//! | RTF | `{\rtf` | text with `\uN`, `\'hh` in the document's or the font's code page |
//! | HTML, XML | markup at the start, or the name | visible text (no script, style or tags), entities decoded |
//! | CSV, text | no NUL and few control bytes | BOM (UTF-8, UTF-16), UTF-8, GB18030 (for Chinese), else Windows-1252 |
//! | ZIP, gzip, tar | magic | each member, recursively |
//! | 7z, RAR, legacy Office (OLE2) | magic | not read: a [`ProblemKind::Unsupported`] problem |
//!
//! Anything else (images, executables, unknown binaries) is skipped without a problem.
//!
//! **Architecture invariant:** this crate knows nothing of mail, does no I/O and never panics on
//! input. Memory and time are bounded by [`Limits`] on any input: archives and PDF streams are
//! inflated through bounded readers sharing one budget of decompressed bytes, nesting stops at
//! `max_depth`, and the text kept is capped. A PDF's object graph (held whole by lopdf, ~120
//! bytes per number or name) is counted before it is parsed and refused past
//! `max_total_bytes / 64` tokens (about 200 MB at the defaults). Third-party parsers (`zip`, `lopdf`) run under
//! `catch_unwind`; a panic of theirs costs that part (`Corrupt`), never the extraction.
//!
//! ```
//! use rampart_extract::{extract, DocKind, Limits, ProblemKind};
//!
//! let csv = "name,id\n张三,110101199003078515\n".as_bytes();
//! let found = extract(csv, Some("staff.csv"), &Limits::default());
//! assert_eq!(found.texts[0].kind, DocKind::Csv);
//! assert!(found.texts[0].text.contains("110101199003078515"));
//! assert!(found.problems.is_empty());
//!
//! // A RAR cannot be opened here: that itself is reported.
//! let rar = b"Rar!\x1A\x07\x01\x00 ...";
//! let found = extract(rar, Some("out.rar"), &Limits::default());
//! assert_eq!(found.problems[0].kind, ProblemKind::Unsupported);
//! ```

mod archive;
pub mod bench;
mod html;
mod office;
mod pdf;
mod rtf;
mod sniff;
mod text;

use serde::{Deserialize, Serialize};

pub use bench::{bench_extract, BenchResult};
pub use sniff::detect;

/// Bounds on the work one [`extract`] call may do. Hitting one is reported as a [`Problem`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Containers (ZIP, OOXML, ODF, gzip, tar) nested inside the file that are still opened; one
    /// found this deep is reported as [`ProblemKind::TooDeep`] instead. At most [`MAX_NESTING`]
    /// whatever is set here: nesting is recursion.
    pub max_depth: u32,
    /// Archive entries looked at over the whole extraction; more is [`ProblemKind::Bomb`].
    pub max_entries: usize,
    /// Bytes inflated or decoded (archive members, PDF streams) over the whole extraction. Also
    /// bounds the text kept over the whole extraction.
    pub max_total_bytes: u64,
    /// Largest inflated/compressed ratio of one archive member or PDF stream (members under
    /// [`RATIO_FLOOR`] are exempt); more is [`ProblemKind::Bomb`].
    pub max_ratio: u64,
    /// Bytes of text kept per document; the rest is dropped with a [`ProblemKind::TooLarge`].
    pub max_text_bytes: usize,
    /// Largest file (top level or inside an archive) that is read at all.
    pub max_input_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 4,
            max_entries: 2_000,
            max_total_bytes: 100 * 1024 * 1024,
            max_ratio: 200,
            max_text_bytes: 8 * 1024 * 1024,
            max_input_bytes: 60 * 1024 * 1024,
        }
    }
}

/// The deepest nesting [`Limits::max_depth`] can allow.
pub const MAX_NESTING: u32 = 16;

/// Members and streams may inflate to this many bytes whatever their ratio: small sparse parts
/// (an empty sheet, a blank page) compress far better than 200:1 and are no bomb.
pub const RATIO_FLOOR: u64 = 1024 * 1024;

/// What a document is, from its bytes (the name only breaks ties between text kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DocKind {
    Pdf,
    Docx,
    Xlsx,
    Pptx,
    Odt,
    Ods,
    Odp,
    Rtf,
    Html,
    Xml,
    Csv,
    Text,
    Zip,
    Gzip,
    Tar,
    SevenZip,
    Rar,
    /// OLE2 compound file: Word/Excel/PowerPoint 97-2003, Outlook `.msg`, or a
    /// password-protected OOXML document.
    Ole2,
    /// Anything else: images, executables, unknown binaries. Skipped.
    Other,
}

impl DocKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Pdf => "pdf",
            DocKind::Docx => "docx",
            DocKind::Xlsx => "xlsx",
            DocKind::Pptx => "pptx",
            DocKind::Odt => "odt",
            DocKind::Ods => "ods",
            DocKind::Odp => "odp",
            DocKind::Rtf => "rtf",
            DocKind::Html => "html",
            DocKind::Xml => "xml",
            DocKind::Csv => "csv",
            DocKind::Text => "text",
            DocKind::Zip => "zip",
            DocKind::Gzip => "gzip",
            DocKind::Tar => "tar",
            DocKind::SevenZip => "7z",
            DocKind::Rar => "rar",
            DocKind::Ole2 => "ole2",
            DocKind::Other => "other",
        }
    }
}

impl std::fmt::Display for DocKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text of one document (or of one sheet or slide of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    /// Where it comes from: the file name, archive members joined with `/`, and `#Sheet1`,
    /// `#slide3` or `#notes3` for one part of a workbook or deck. Empty for a nameless file.
    pub path: String,
    pub kind: DocKind,
    /// Paragraphs and rows end in `\n`, table cells in `\t`; PDF pages are separated by a
    /// line holding a form feed (`\x0C`).
    pub text: String,
}

/// Why a part could not be (fully) read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Password-protected: an encrypted ZIP member, PDF, OOXML or ODF document.
    Encrypted,
    /// Malformed beyond what could be read (what could be read is still in `texts`).
    Corrupt,
    /// Over [`Limits::max_input_bytes`], the decompression budget or the text cap.
    TooLarge,
    /// A member or stream inflating past [`Limits::max_ratio`], or more entries than
    /// [`Limits::max_entries`].
    Bomb,
    /// A container nested [`Limits::max_depth`] deep.
    TooDeep,
    /// A container or document format that is recognised but not read (7z, RAR, legacy
    /// Office, unsupported compression methods, glyphs without a Unicode mapping).
    Unsupported,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Encrypted => "encrypted",
            ProblemKind::Corrupt => "corrupt",
            ProblemKind::TooLarge => "too_large",
            ProblemKind::Bomb => "bomb",
            ProblemKind::TooDeep => "too_deep",
            ProblemKind::Unsupported => "unsupported",
        }
    }
}

/// A part that could not be (fully) read. Never fatal: the rest of the extraction stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Path of the part, as in [`Text::path`].
    pub path: String,
    pub kind: ProblemKind,
    /// One line for people: what was found and which limit it hit.
    pub detail: String,
}

/// Everything [`extract`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extraction {
    /// Texts in document order, depth-first (an archive's members in directory order).
    pub texts: Vec<Text>,
    pub problems: Vec<Problem>,
}

impl Extraction {
    /// Whether any problem of this kind was reported.
    pub fn has_problem(&self, kind: ProblemKind) -> bool {
        self.problems.iter().any(|p| p.kind == kind)
    }

    /// Total bytes of text.
    pub fn text_bytes(&self) -> usize {
        self.texts.iter().map(|t| t.text.len()).sum()
    }
}

/// The visible text of an HTML body that is already decoded to UTF-8 (mail-parser decodes every
/// part): a byte-order mark tells the extractor so, or a `<meta charset=big5>` in the page would
/// decode it a second time into garbage.
pub fn extract_decoded_html(html: &str, limits: &Limits) -> Extraction {
    let mut page = Vec::with_capacity(html.len() + 3);
    page.extend_from_slice(b"\xEF\xBB\xBF");
    page.extend_from_slice(html.as_bytes());
    extract(&page, Some("body.html"), limits)
}

/// Extracts the text of `bytes`, a file called `name` if known. Total: any bytes yield an
/// [`Extraction`], within [`Limits`].
pub fn extract(bytes: &[u8], name: Option<&str>, limits: &Limits) -> Extraction {
    let mut ex = Extractor::new(limits);
    let top = Node {
        name,
        path: name.map(base_name).map(printable).unwrap_or_default(),
        depth: 0,
    };
    ex.document(&top, bytes);
    ex.out
}

/// Problems kept per extraction; an archive of ten thousand encrypted members says so once per
/// member only up to here.
const MAX_PROBLEMS: usize = 1_000;
/// Longest path kept, in bytes.
const MAX_PATH: usize = 1_024;

/// Where a document sits: its name, path and how many containers enclose it.
pub(crate) struct Node<'a> {
    pub name: Option<&'a str>,
    pub path: String,
    pub depth: u32,
}

impl Node<'_> {
    /// The path of a member of this container.
    pub fn child_path(&self, inner: &str) -> String {
        join_path(&self.path, '/', inner)
    }

    /// The path of one part of this document (`#Sheet1`).
    pub fn part_path(&self, part: &str) -> String {
        join_path(&self.path, '#', part)
    }
}

fn join_path(parent: &str, sep: char, inner: &str) -> String {
    let inner = printable(inner);
    let mut path = if parent.is_empty() {
        inner
    } else {
        format!("{parent}{sep}{inner}")
    };
    if path.len() > MAX_PATH {
        let mut cut = MAX_PATH;
        while !path.is_char_boundary(cut) {
            cut -= 1;
        }
        path.truncate(cut);
        path.push('…');
    }
    path
}

/// Why a container stops being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stop;

/// State shared by the whole extraction: the output and the budgets every part draws on.
pub(crate) struct Extractor<'l> {
    pub limits: &'l Limits,
    pub out: Extraction,
    /// Bytes that may still be inflated or decoded.
    pub inflate_left: u64,
    /// Archive entries that may still be looked at.
    pub entries_left: usize,
    /// Text bytes that may still be kept over the whole extraction.
    text_left: u64,
    /// Problems not kept once [`MAX_PROBLEMS`] were.
    problems_dropped: usize,
}

impl<'l> Extractor<'l> {
    fn new(limits: &'l Limits) -> Self {
        Extractor {
            limits,
            out: Extraction::default(),
            inflate_left: limits.max_total_bytes,
            entries_left: limits.max_entries,
            text_left: limits.max_total_bytes,
            problems_dropped: 0,
        }
    }

    pub fn problem(&mut self, path: &str, kind: ProblemKind, detail: impl Into<String>) {
        if self.out.problems.len() >= MAX_PROBLEMS {
            self.problems_dropped += 1;
            if let Some(last) = self.out.problems.last_mut() {
                last.detail = format!("{} more problems not listed", self.problems_dropped);
            }
            return;
        }
        let mut detail: String = detail.into();
        if detail.len() > 300 {
            let mut cut = 300;
            while !detail.is_char_boundary(cut) {
                cut -= 1;
            }
            detail.truncate(cut);
        }
        self.out.problems.push(Problem {
            path: path.to_string(),
            kind,
            detail,
        });
    }

    /// A sink for one document's text: at most [`Limits::max_text_bytes`], and no more than is
    /// left of the extraction's text budget.
    pub fn sink(&self) -> TextSink {
        let cap = (self.limits.max_text_bytes as u64).min(self.text_left);
        TextSink::new(usize::try_from(cap).unwrap_or(usize::MAX))
    }

    /// Keeps one text (if it has any), charging it to the text budget.
    pub fn emit(&mut self, path: String, kind: DocKind, text: String) {
        if text.trim().is_empty() {
            return;
        }
        self.text_left = self.text_left.saturating_sub(text.len() as u64);
        self.out.texts.push(Text { path, kind, text });
    }

    /// Reports a document whose text was cut at the cap.
    pub fn finish_sink(&mut self, path: &str, sink: &TextSink) {
        if sink.truncated {
            let detail = format!("text cut at {} bytes", sink.used);
            self.problem(path, ProblemKind::TooLarge, detail);
        }
    }

    /// Whether a container at `node` may be opened; reports [`ProblemKind::TooDeep`] if not.
    pub fn may_open(&mut self, node: &Node, kind: DocKind) -> bool {
        let limit = self.limits.max_depth.min(MAX_NESTING);
        if node.depth >= limit {
            let detail = format!(
                "{kind} nested {} deep (limit {limit}) not opened",
                node.depth
            );
            self.problem(&node.path, ProblemKind::TooDeep, detail);
            return false;
        }
        true
    }

    /// The inflation cap for one member or stream of `compressed` bytes: the lower of its ratio
    /// cap and the budget left; and the ratio cap itself (see [`Extractor::over_cap`]).
    pub fn inflate_cap(&self, compressed: u64) -> (u64, u64) {
        let ratio_cap = compressed
            .saturating_mul(self.limits.max_ratio)
            .max(RATIO_FLOOR);
        (ratio_cap.min(self.inflate_left), ratio_cap)
    }

    /// Reports a member or stream that declares or inflates to `size` bytes, over its cap: a
    /// [`ProblemKind::Bomb`] if that is past its ratio cap, else [`ProblemKind::TooLarge`] (the
    /// budget ran out on content that compresses normally).
    pub fn over_cap(&mut self, path: &str, size: u64, compressed: u64, ratio_cap: u64, how: &str) {
        if size > ratio_cap {
            let detail = format!(
                "{how} {size} bytes from {compressed} (ratio over {}, limit {}:1)",
                size / compressed.max(1),
                self.limits.max_ratio
            );
            self.problem(path, ProblemKind::Bomb, detail);
        } else {
            let detail = format!(
                "{how} {size} bytes, over what is left of the {}-byte decompression budget",
                self.limits.max_total_bytes
            );
            self.problem(path, ProblemKind::TooLarge, detail);
        }
    }

    /// Charges inflated bytes to the shared budget.
    pub fn charge(&mut self, bytes: u64) {
        self.inflate_left = self.inflate_left.saturating_sub(bytes);
    }

    /// Extracts one document (the top file, an archive member, a gzip's content).
    pub fn document(&mut self, node: &Node, bytes: &[u8]) {
        if bytes.len() > self.limits.max_input_bytes {
            let detail = format!(
                "{} bytes, limit {}",
                bytes.len(),
                self.limits.max_input_bytes
            );
            self.problem(&node.path, ProblemKind::TooLarge, detail);
            return;
        }
        let kind = sniff::detect(bytes, node.name);
        match kind {
            DocKind::Zip => {
                if self.may_open(node, kind) {
                    self.guarded(node, "zip", |ex| archive::zip(ex, node, bytes));
                }
            }
            DocKind::Gzip => {
                if self.may_open(node, kind) {
                    archive::gzip(self, node, bytes);
                }
            }
            DocKind::Tar => {
                if self.may_open(node, kind) {
                    archive::tar(self, node, bytes);
                }
            }
            DocKind::Pdf => self.guarded(node, "pdf", |ex| pdf::extract(ex, node, bytes)),
            DocKind::Rtf => rtf::extract(self, node, bytes),
            DocKind::Html | DocKind::Xml => html::extract(self, node, kind, bytes),
            DocKind::Text | DocKind::Csv => text::extract(self, node, kind, bytes),
            DocKind::SevenZip | DocKind::Rar => {
                let detail = format!("{kind} archive: not opened, its content is unseen");
                self.problem(&node.path, ProblemKind::Unsupported, detail);
            }
            DocKind::Ole2 => {
                if sniff::is_encrypted_ooxml(bytes) {
                    let detail = "password-protected Office document (OLE2 EncryptedPackage)";
                    self.problem(&node.path, ProblemKind::Encrypted, detail);
                } else {
                    let detail =
                        "OLE2 compound file (Office 97-2003 or Outlook message): text not read";
                    self.problem(&node.path, ProblemKind::Unsupported, detail);
                }
            }
            // OOXML and ODF kinds come out of `archive::zip`, never out of `detect` here.
            DocKind::Docx
            | DocKind::Xlsx
            | DocKind::Pptx
            | DocKind::Odt
            | DocKind::Ods
            | DocKind::Odp => {}
            DocKind::Other => {
                if let Some(expected) = sniff::document_extension(node.name) {
                    let detail = format!("named .{expected} but the bytes are no {expected}");
                    self.problem(&node.path, ProblemKind::Corrupt, detail);
                }
            }
        }
    }

    /// Runs a third-party parser so that a bug of theirs on hostile input costs this part, not
    /// the extraction. Our code does not panic; theirs is fuzzed through ours, but a mail
    /// gateway should not bet on it.
    fn guarded(&mut self, node: &Node, format: &str, parse: impl FnOnce(&mut Self)) {
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse(&mut *self)));
        if run.is_err() {
            // Whatever the failed parse emitted is kept: it was read before the failure.
            let detail = format!("{format} parser failed on this input");
            self.problem(&node.path, ProblemKind::Corrupt, detail);
        }
    }
}

/// One document's text, capped: pushes past the cap are cut (at a character boundary) and
/// remembered as `truncated`.
pub(crate) struct TextSink {
    pub buf: String,
    /// Bytes accepted so far, over every [`TextSink::take`].
    pub used: usize,
    cap: usize,
    pub truncated: bool,
}

impl TextSink {
    pub fn new(cap: usize) -> Self {
        TextSink {
            buf: String::new(),
            used: 0,
            cap,
            truncated: false,
        }
    }

    /// Bytes that may still be pushed.
    pub fn room(&self) -> usize {
        if self.truncated {
            0
        } else {
            self.cap - self.used
        }
    }

    /// Whether nothing more will be accepted.
    pub fn is_full(&self) -> bool {
        self.truncated
    }

    /// Appends `s`; `false` once the cap is reached (the caller may stop reading).
    pub fn push_str(&mut self, s: &str) -> bool {
        if self.truncated {
            return false;
        }
        let room = self.cap - self.used;
        if s.len() <= room {
            self.buf.push_str(s);
            self.used += s.len();
            return true;
        }
        let mut cut = room;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        self.buf.push_str(&s[..cut]);
        self.used += cut;
        self.truncated = true;
        false
    }

    pub fn push(&mut self, c: char) -> bool {
        let mut utf8 = [0u8; 4];
        self.push_str(c.encode_utf8(&mut utf8))
    }

    /// Ends a line, unless the text is empty or already at a line start.
    pub fn newline(&mut self) {
        if !self.buf.is_empty() && !self.buf.ends_with('\n') {
            self.push('\n');
        }
    }

    /// A word break: a space unless the text is empty or already ends in whitespace.
    pub fn space(&mut self) {
        if self
            .buf
            .chars()
            .next_back()
            .is_some_and(|c| !c.is_whitespace())
        {
            self.push(' ');
        }
    }

    /// A table cell boundary.
    pub fn tab(&mut self) {
        if !self.buf.is_empty() {
            self.push('\t');
        }
    }

    /// Ends a table cell: a tab, without the space a paragraph end inside the cell left.
    pub fn end_cell(&mut self) {
        if self.buf.ends_with(' ') {
            self.buf.pop();
        }
        self.tab();
    }

    /// The text so far; the cap keeps counting what was taken.
    pub fn take(&mut self) -> String {
        std::mem::take(&mut self.buf)
    }
}

/// The last path component of a name given with directories (`C:\x\y.pdf`, `a/b.zip`).
pub(crate) fn base_name(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

/// A name as it appears in a path: no control characters (so no forged line breaks in logs), at
/// most 255 characters.
pub(crate) fn printable(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(255).collect()
}

/// The lowercase extension of a name, if it has a short one.
pub(crate) fn extension(name: &str) -> Option<String> {
    let base = base_name(name).trim_end_matches([' ', '.']);
    let (_, ext) = base.rsplit_once('.')?;
    (!ext.is_empty() && ext.len() <= 8).then(|| ext.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_text_at_a_character_boundary() {
        let mut sink = TextSink::new(5);
        assert!(sink.push_str("ab"));
        assert!(!sink.push_str("中文"));
        assert_eq!(sink.buf, "ab中");
        assert!(sink.truncated);
        assert!(!sink.push_str("x"));
    }

    #[test]
    fn builds_paths_without_control_characters() {
        let node = Node {
            name: None,
            path: "a.zip".into(),
            depth: 0,
        };
        assert_eq!(node.child_path("in\nner/x.xlsx"), "a.zip/inner/x.xlsx");
        assert_eq!(node.part_path("Sheet1"), "a.zip#Sheet1");
        assert_eq!(base_name("C:\\tmp\\q3.xlsx"), "q3.xlsx");
        assert_eq!(extension("Q3.XLSX"), Some("xlsx".into()));
        assert_eq!(extension("noext"), None);
    }
}

#[cfg(test)]
mod decoded_html_tests {
    use super::*;

    #[test]
    fn decoded_html_is_not_decoded_again_by_its_meta_charset() {
        let html =
            "<html><head><meta charset=\"big5\"></head><body><p>季度報告 合約</p></body></html>";
        let ex = extract_decoded_html(html, &Limits::default());
        let text: String = ex.texts.iter().map(|t| t.text.as_str()).collect();
        assert!(text.contains("季度報告 合約"), "{text:?}");
    }
}
