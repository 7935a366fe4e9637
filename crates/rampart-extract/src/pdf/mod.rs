//! PDF: `lopdf` for the file structure (cross-reference repair, object streams, the standard
//! security handler with the empty user password), our own walker for the content streams
//! (`content`) and fonts (`font`).
//!
//! Budgets: every content stream, form XObject and embedded file is decoded through
//! `decompressed_content_with_limit` under the extraction's ratio and byte budget, and charged
//! to it (unfiltered streams too: they cost time); a form drawn a thousand times costs a thousand
//! times. lopdf decodes object and cross-reference streams itself while loading; it is given a
//! per-stream limit that shares the remaining budget between the `/ObjStm` streams the file
//! declares.
//!
//! lopdf holds every object of the file in memory, at about 120 bytes per number or name: a
//! 40 MB array of zeros would take 2.4 GB. So before lopdf sees a file, [`object_tokens`]
//! counts the tokens outside stream data (and inside object streams, inflated on the fly and
//! not kept) in one pass, and a file with more than `max_total_bytes / 64` of them (1.6 million
//! by default, some 200 MB of objects) is not parsed: `TooLarge`. Real documents stay far
//! below: page content, images and fonts are stream data, not objects.

mod content;
mod font;

use std::borrow::Cow;
use std::collections::HashMap;
use std::rc::Rc;

use lopdf::{
    decode_text_string, DecompressError, Dictionary, Document, LoadOptions, Object, ObjectId,
    Stream,
};
use memchr::memmem;

use crate::{DocKind, Extractor, Node, ProblemKind, TextSink};
use content::{Lexer, Matrix, Operand};
use font::{deref, number, Font};

/// Form XObjects nested inside each other that are still drawn.
const MAX_FORM_DEPTH: u32 = 8;
/// Graphics states on the `q` stack.
const MAX_SAVED_STATES: usize = 64;
/// Fonts kept loaded per document.
const MAX_FONTS: usize = 4096;
/// Form fields and annotations read per document.
const MAX_FIELDS: usize = 10_000;

pub(crate) fn extract(ex: &mut Extractor, node: &Node, bytes: &[u8]) {
    if ex.inflate_left == 0 {
        let detail = "not read: the decompression budget is used up";
        ex.problem(&node.path, ProblemKind::TooLarge, detail);
        return;
    }
    let max_tokens = (ex.limits.max_total_bytes / 64).max(64 * 1024);
    let (tokens, object_streams) = object_tokens(bytes, max_tokens, ex.limits.max_ratio);
    if tokens > max_tokens {
        let detail = format!(
            "over {max_tokens} objects (numbers, names, strings) to hold in memory: not parsed"
        );
        ex.problem(&node.path, ProblemKind::TooLarge, detail);
        return;
    }
    let object_streams = object_streams.max(1);
    let per_stream = (ex.inflate_left / object_streams).clamp(256 * 1024, 64 * 1024 * 1024);
    let options = LoadOptions {
        max_decompressed_size: Some(usize::try_from(per_stream).unwrap_or(usize::MAX)),
        ..LoadOptions::default()
    };
    let doc = match Document::load_mem_with_options(bytes, options) {
        Ok(doc) => doc,
        Err(lopdf::Error::Decompress(DecompressError::MemoryLimitExceeded { .. })) => {
            let detail = format!("an object stream inflates past {per_stream} bytes");
            ex.problem(&node.path, ProblemKind::Bomb, detail);
            return;
        }
        Err(e) => {
            let (kind, detail) = if memmem::find(bytes, b"/Encrypt").is_some() {
                (
                    ProblemKind::Encrypted,
                    format!("encrypted PDF not opened: {e}"),
                )
            } else {
                (ProblemKind::Corrupt, format!("unreadable PDF: {e}"))
            };
            ex.problem(&node.path, kind, detail);
            return;
        }
    };
    if doc.trailer.has(b"Encrypt") {
        // lopdf removes `/Encrypt` once the empty user password opened the document.
        let detail = "password-protected PDF (the empty user password does not open it)";
        ex.problem(&node.path, ProblemKind::Encrypted, detail);
        return;
    }
    if doc.xref_recovery == Some(lopdf::xref::XrefRecovery::Reconstructed) {
        let detail = "damaged: cross-reference data unreadable, objects found by scanning \
                      (some may be missing)";
        ex.problem(&node.path, ProblemKind::Corrupt, detail);
    }
    let sink = ex.sink();
    let mut reader = PdfReader {
        doc: &doc,
        ex,
        path: &node.path,
        sink,
        fonts: HashMap::new(),
        fallback: Rc::new(Font::fallback()),
        glyphs: 0,
        unmapped: 0,
        stopped: false,
        stream_error: false,
        last_end: None,
        last_size: 0.0,
        pending_space: false,
    };
    for (n, page) in doc.get_pages().values().enumerate() {
        if reader.stopped || reader.sink.is_full() {
            break;
        }
        if n > 0 {
            reader.sink.newline();
            reader.sink.push_str("\x0C\n");
        }
        reader.page(*page);
    }
    reader.form_fields();
    let (sink, glyphs, unmapped) = (reader.sink, reader.glyphs, reader.unmapped);
    if unmapped > 32 && unmapped * 2 > glyphs {
        let detail = format!(
            "{unmapped} of {glyphs} glyphs have no Unicode mapping (fonts without ToUnicode): \
             their text is not in the extraction"
        );
        ex.problem(&node.path, ProblemKind::Unsupported, detail);
    }
    ex.finish_sink(&node.path, &sink);
    let mut sink = sink;
    ex.emit(node.path.clone(), DocKind::Pdf, sink.take());
    embedded_files(ex, node, &doc);
}

/// Counts the tokens lopdf would turn into objects: those outside stream data, and those inside
/// (Flate-compressed) object streams, inflated through a small buffer and not kept. Stops
/// counting past `max`. Also returns the number of object streams.
fn object_tokens(bytes: &[u8], max: u64, max_ratio: u64) -> (u64, u64) {
    use std::io::Read;
    let mut tokens = 0u64;
    let mut object_streams = 0u64;
    let mut counter = TokenCounter::default();
    let mut at = 0;
    let mut search = 0;
    while let Some(found) = memmem::find(&bytes[search..], b"stream").map(|p| search + p) {
        search = found + 6;
        let keyword = found < 3 || &bytes[found - 3..found] != b"end";
        let eol = matches!(bytes.get(found + 6), Some(b'\r' | b'\n'));
        if !keyword || !eol {
            continue;
        }
        tokens += counter.count(&bytes[at..found]);
        let data_start = found
            + 6
            + if bytes[found + 6..].starts_with(b"\r\n") {
                2
            } else {
                1
            };
        let data_end = memmem::find(&bytes[data_start..], b"endstream")
            .map_or(bytes.len(), |e| data_start + e);
        let dict_from = found.saturating_sub(4096).max(at);
        let dict = &bytes[dict_from..found];
        let dict = memmem::rfind(dict, b"obj").map_or(dict, |o| &dict[o..]);
        if memmem::find(dict, b"/ObjStm").is_some() {
            object_streams += 1;
            if memmem::find(dict, b"/FlateDecode").is_some() {
                let data = &bytes[data_start..data_end];
                let cap = (data.len() as u64)
                    .saturating_mul(max_ratio)
                    .max(crate::RATIO_FLOOR);
                let mut inflater = flate2::read::ZlibDecoder::new(data).take(cap);
                let mut buf = [0u8; 16 * 1024];
                let mut inner = TokenCounter::default();
                while let Ok(n @ 1..) = inflater.read(&mut buf) {
                    tokens += inner.count(&buf[..n]);
                    if tokens > max {
                        return (tokens, object_streams);
                    }
                }
            }
        }
        if tokens > max {
            return (tokens, object_streams);
        }
        at = data_end.min(bytes.len());
        search = search.max(at);
    }
    tokens += counter.count(&bytes[at..]);
    (tokens, object_streams)
}

/// Counts token starts across chunks: a byte after whitespace, and every `/`, `[`, `(`, `<`.
#[derive(Default)]
struct TokenCounter {
    in_token: bool,
}

impl TokenCounter {
    fn count(&mut self, chunk: &[u8]) -> u64 {
        let mut n = 0;
        for &c in chunk {
            let space = matches!(c, b' ' | b'\n' | b'\r' | b'\t' | b'\x0C' | 0);
            if space {
                self.in_token = false;
            } else {
                if !self.in_token || matches!(c, b'/' | b'[' | b'(' | b'<') {
                    n += 1;
                }
                self.in_token = true;
            }
        }
        n
    }
}

/// Decodes a stream under the extraction's budgets: `None` if it could not be (the reason is
/// reported), with `stopped` set when a budget ran out.
fn stream_bytes<'d>(
    ex: &mut Extractor,
    path: &str,
    stream: &'d Stream,
    stopped: &mut bool,
    stream_error: &mut bool,
) -> Option<Cow<'d, [u8]>> {
    let compressed = stream.content.len() as u64;
    if stream.dict.get(b"Filter").is_err() {
        if compressed > ex.inflate_left {
            ex.over_cap(path, compressed, compressed, u64::MAX, "stream of");
            *stopped = true;
            return None;
        }
        ex.charge(compressed);
        return Some(Cow::Borrowed(&stream.content));
    }
    let (cap, ratio_cap) = ex.inflate_cap(compressed);
    match stream.decompressed_content_with_limit(usize::try_from(cap).unwrap_or(usize::MAX)) {
        Ok(data) => {
            ex.charge(data.len() as u64);
            Some(Cow::Owned(data))
        }
        Err(lopdf::Error::Decompress(DecompressError::MemoryLimitExceeded { .. })) => {
            ex.over_cap(
                path,
                cap.saturating_add(1),
                compressed,
                ratio_cap,
                "a stream inflates past",
            );
            *stopped = true;
            None
        }
        Err(e) => {
            if !*stream_error {
                *stream_error = true;
                ex.problem(
                    path,
                    ProblemKind::Corrupt,
                    format!("stream not decoded: {e}"),
                );
            }
            None
        }
    }
}

/// Graphics state that matters to text placement, saved by `q` and restored by `Q`.
#[derive(Clone)]
struct GState {
    ctm: Matrix,
    font: Option<Rc<Font>>,
    size: f32,
    char_spacing: f32,
    word_spacing: f32,
    h_scale: f32,
    leading: f32,
}

impl GState {
    fn new(ctm: Matrix) -> Self {
        GState {
            ctm,
            font: None,
            size: 1.0,
            char_spacing: 0.0,
            word_spacing: 0.0,
            h_scale: 1.0,
            leading: 0.0,
        }
    }
}

struct PdfReader<'d, 'e, 'l> {
    doc: &'d Document,
    ex: &'e mut Extractor<'l>,
    path: &'e str,
    sink: TextSink,
    /// By the address of the font dictionary inside `doc`, which outlives the reader.
    fonts: HashMap<usize, Rc<Font>>,
    fallback: Rc<Font>,
    glyphs: u64,
    unmapped: u64,
    /// A budget ran out: nothing more is decoded.
    stopped: bool,
    /// A stream failed to decode (reported once).
    stream_error: bool,
    /// Device-space end of the last glyph shown, and the font size there.
    last_end: Option<(f32, f32)>,
    last_size: f32,
    /// A `TJ` gap wide enough to be a word break.
    pending_space: bool,
}

impl<'d> PdfReader<'d, '_, '_> {
    fn stream(&mut self, stream: &'d Stream) -> Option<Cow<'d, [u8]>> {
        stream_bytes(
            self.ex,
            self.path,
            stream,
            &mut self.stopped,
            &mut self.stream_error,
        )
    }

    fn page(&mut self, page: ObjectId) {
        self.last_end = None;
        self.pending_space = false;
        let mut content = Vec::new();
        for id in self.doc.get_page_contents(page) {
            let Ok(Object::Stream(stream)) = self.doc.get_object(id) else {
                continue;
            };
            if let Some(data) = self.stream(stream) {
                content.extend_from_slice(&data);
                content.push(b'\n');
            }
            if self.stopped {
                return;
            }
        }
        let resources = page_resources(self.doc, page);
        let mut gs = GState::new(Matrix::IDENTITY);
        let mut forms = Vec::new();
        self.run(&content, resources, &mut gs, &mut forms);
        self.annotations(page);
    }

    /// Interprets one content stream (a page's or a form's).
    fn run(
        &mut self,
        content: &[u8],
        resources: Option<&'d Dictionary>,
        gs: &mut GState,
        forms: &mut Vec<ObjectId>,
    ) {
        let mut lexer = Lexer::new(content);
        let mut ops: Vec<Operand> = Vec::new();
        let mut saved: Vec<GState> = Vec::new();
        let mut tm = Matrix::IDENTITY;
        let mut tlm = Matrix::IDENTITY;
        let num = |ops: &[Operand], from_end: usize| -> Option<f32> {
            ops.len()
                .checked_sub(from_end)
                .and_then(|i| ops[i].number())
        };
        while let Some(op) = lexer.next_op(&mut ops) {
            if self.stopped || self.sink.is_full() {
                return;
            }
            match op {
                b"q" if saved.len() < MAX_SAVED_STATES => saved.push(gs.clone()),
                b"Q" => {
                    if let Some(state) = saved.pop() {
                        *gs = state;
                    }
                }
                b"cm" => {
                    if let Some(m) = Matrix::from_operands(&ops) {
                        gs.ctm = m.then(gs.ctm);
                    }
                }
                b"BT" => {
                    tm = Matrix::IDENTITY;
                    tlm = Matrix::IDENTITY;
                }
                b"Tf" => {
                    if let (Some(Operand::Name(name)), Some(size)) =
                        (ops.len().checked_sub(2).map(|i| &ops[i]), num(&ops, 1))
                    {
                        gs.font = self.font(resources, name);
                        gs.size = size;
                    }
                }
                b"Tc" => gs.char_spacing = num(&ops, 1).unwrap_or(gs.char_spacing),
                b"Tw" => gs.word_spacing = num(&ops, 1).unwrap_or(gs.word_spacing),
                b"Tz" => gs.h_scale = num(&ops, 1).map_or(gs.h_scale, |s| s / 100.0),
                b"TL" => gs.leading = num(&ops, 1).unwrap_or(gs.leading),
                b"Td" | b"TD" => {
                    if let (Some(tx), Some(ty)) = (num(&ops, 2), num(&ops, 1)) {
                        if op == b"TD" {
                            gs.leading = -ty;
                        }
                        tlm = Matrix::translate(tx, ty).then(tlm);
                        tm = tlm;
                    }
                }
                b"Tm" => {
                    if let Some(m) = Matrix::from_operands(&ops) {
                        tm = m;
                        tlm = m;
                    }
                }
                b"T*" => {
                    tlm = Matrix::translate(0.0, -gs.leading).then(tlm);
                    tm = tlm;
                }
                b"Tj" | b"'" | b"\"" => {
                    if op != b"Tj" {
                        if op == b"\"" {
                            gs.word_spacing = num(&ops, 3).unwrap_or(gs.word_spacing);
                            gs.char_spacing = num(&ops, 2).unwrap_or(gs.char_spacing);
                        }
                        tlm = Matrix::translate(0.0, -gs.leading).then(tlm);
                        tm = tlm;
                    }
                    if let Some(Operand::Str(s)) = ops.last() {
                        tm = self.show(s, tm, gs);
                    }
                }
                b"TJ" => {
                    let Some(Operand::Array(items)) = ops.last() else {
                        continue;
                    };
                    for item in items {
                        match item {
                            Operand::Str(s) => tm = self.show(s, tm, gs),
                            Operand::Number(n) => {
                                let shift = -n / 1000.0 * gs.size;
                                let vertical = gs.font.as_ref().is_some_and(|f| f.vertical);
                                tm = if vertical {
                                    Matrix::translate(0.0, shift).then(tm)
                                } else {
                                    Matrix::translate(shift * gs.h_scale, 0.0).then(tm)
                                };
                                if -n >= 200.0 {
                                    self.pending_space = true;
                                }
                            }
                            _ => {}
                        }
                    }
                }
                b"Do" => {
                    if let Some(Operand::Name(name)) = ops.last() {
                        self.form(resources, name, gs, forms);
                    }
                }
                _ => {}
            }
        }
    }

    /// Shows one string: decodes its glyphs into the sink and advances the text matrix.
    fn show(&mut self, bytes: &[u8], mut tm: Matrix, gs: &GState) -> Matrix {
        let font = gs.font.clone().unwrap_or_else(|| self.fallback.clone());
        let trm = tm.then(gs.ctm);
        let size = (gs.size.abs() * trm.y_scale()).max(0.01);
        self.break_before(trm.origin(), size, font.vertical);
        let (mut glyphs, mut unmapped) = (0u64, 0u64);
        let sink = &mut self.sink;
        font.decode(bytes, |text, code, len, decoded| {
            glyphs += 1;
            if decoded.mapped {
                sink.push_str(text);
            } else {
                unmapped += 1;
            }
            let width = font.width(code) * gs.size;
            let spacing = gs.char_spacing
                + if font.is_word_space(code, len) {
                    gs.word_spacing
                } else {
                    0.0
                };
            tm = if font.vertical {
                Matrix::translate(0.0, -(width + spacing)).then(tm)
            } else {
                Matrix::translate((width + spacing) * gs.h_scale, 0.0).then(tm)
            };
        });
        self.glyphs += glyphs;
        self.unmapped += unmapped;
        self.last_end = Some(tm.then(gs.ctm).origin());
        self.last_size = size;
        tm
    }

    /// A line break when text moved to another line, a space when it jumped along the line.
    fn break_before(&mut self, (x, y): (f32, f32), size: f32, vertical: bool) {
        let pending = std::mem::take(&mut self.pending_space);
        let Some((lx, ly)) = self.last_end else {
            return;
        };
        let (along, across) = if vertical {
            (ly - y, x - lx)
        } else {
            (x - lx, y - ly)
        };
        let size = size.max(self.last_size);
        if across.abs() > size * 0.5 {
            self.sink.newline();
        } else if pending || along > size * 0.25 || along < -size * 0.5 {
            self.sink.space();
        }
    }

    /// The font named `name` in `resources`, loaded once per document.
    fn font(&mut self, resources: Option<&'d Dictionary>, name: &[u8]) -> Option<Rc<Font>> {
        let doc = self.doc;
        let fonts = deref(doc, resources?.get(b"Font").ok())?.as_dict().ok()?;
        let dict = deref(doc, fonts.get(name).ok())?.as_dict().ok()?;
        let key = dict as *const Dictionary as usize;
        if let Some(font) = self.fonts.get(&key) {
            return Some(font.clone());
        }
        let (ex, path) = (&mut *self.ex, self.path);
        let (stopped, stream_error) = (&mut self.stopped, &mut self.stream_error);
        let mut read = |o: &Object| -> Option<Vec<u8>> {
            match deref(doc, Some(o))? {
                Object::Stream(s) => {
                    stream_bytes(ex, path, s, stopped, stream_error).map(Cow::into_owned)
                }
                _ => None,
            }
        };
        let font = Rc::new(Font::load(doc, dict, &mut read));
        if self.fonts.len() < MAX_FONTS {
            self.fonts.insert(key, font.clone());
        }
        Some(font)
    }

    /// Draws a form XObject (`Do`): its content with its own resources and matrix.
    fn form(
        &mut self,
        resources: Option<&'d Dictionary>,
        name: &[u8],
        gs: &GState,
        forms: &mut Vec<ObjectId>,
    ) {
        let doc = self.doc;
        let Some(xobjects) = resources
            .and_then(|r| deref(doc, r.get(b"XObject").ok()))
            .and_then(|x| x.as_dict().ok())
        else {
            return;
        };
        let Ok(Object::Reference(id)) = xobjects.get(name) else {
            return;
        };
        if forms.contains(id) || forms.len() as u32 >= MAX_FORM_DEPTH {
            return;
        }
        let Ok(Object::Stream(stream)) = doc.get_object(*id) else {
            return;
        };
        if stream.dict.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Form") {
            return;
        }
        let Some(content) = self.stream(stream) else {
            return;
        };
        let matrix = deref(doc, stream.dict.get(b"Matrix").ok())
            .and_then(|m| m.as_array().ok())
            .and_then(|m| {
                let v: Option<Vec<f32>> = m.iter().map(number).collect();
                v.filter(|v| v.len() == 6)
            })
            .map_or(Matrix::IDENTITY, |v| {
                Matrix([v[0], v[1], v[2], v[3], v[4], v[5]])
            });
        let own = deref(doc, stream.dict.get(b"Resources").ok()).and_then(|r| r.as_dict().ok());
        let mut inner = gs.clone();
        inner.ctm = matrix.then(gs.ctm);
        forms.push(*id);
        self.run(&content, own.or(resources), &mut inner, forms);
        forms.pop();
    }

    /// Comments and free-text annotations of a page (`/Contents`).
    fn annotations(&mut self, page: ObjectId) {
        let Ok(annotations) = self.doc.get_page_annotations(page) else {
            return;
        };
        for annotation in annotations.into_iter().take(MAX_FIELDS) {
            let subtype = annotation
                .get(b"Subtype")
                .and_then(Object::as_name)
                .unwrap_or(b"");
            if matches!(subtype, b"Link" | b"Widget" | b"Popup") {
                continue;
            }
            if let Some(text) = deref(self.doc, annotation.get(b"Contents").ok())
                .and_then(|o| decode_text_string(o).ok())
            {
                self.sink.newline();
                self.sink.push_str(&text);
                self.sink.newline();
            }
        }
    }

    /// AcroForm field values (`/V`), with their names: filled-in forms carry the data.
    fn form_fields(&mut self) {
        let doc = self.doc;
        let Some(fields) = doc
            .catalog()
            .ok()
            .and_then(|c| deref(doc, c.get(b"AcroForm").ok()))
            .and_then(|a| a.as_dict().ok())
            .and_then(|a| deref(doc, a.get(b"Fields").ok()))
            .and_then(|f| f.as_array().ok())
        else {
            return;
        };
        let mut queue: Vec<(&Object, u32)> = fields.iter().map(|f| (f, 0)).collect();
        let mut seen = 0usize;
        let mut lines = Vec::new();
        while let Some((field, depth)) = queue.pop() {
            seen += 1;
            if seen > MAX_FIELDS {
                break;
            }
            let Some(field) = deref(doc, Some(field)).and_then(|f| f.as_dict().ok()) else {
                continue;
            };
            let name = deref(doc, field.get(b"T").ok()).and_then(|t| decode_text_string(t).ok());
            let value = match deref(doc, field.get(b"V").ok()) {
                Some(Object::Name(n)) => Some(String::from_utf8_lossy(n).into_owned()),
                Some(Object::Array(values)) => Some(
                    values
                        .iter()
                        .filter_map(|v| decode_text_string(v).ok())
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                Some(v) => decode_text_string(v).ok(),
                None => None,
            };
            if let Some(value) = value.filter(|v| !v.trim().is_empty() && v != "Off") {
                lines.push(match name {
                    Some(name) => format!("{name}: {value}"),
                    None => value,
                });
            }
            if depth < 16 {
                if let Some(kids) =
                    deref(doc, field.get(b"Kids").ok()).and_then(|k| k.as_array().ok())
                {
                    queue.extend(kids.iter().rev().map(|k| (k, depth + 1)));
                }
            }
        }
        for line in lines.iter().rev() {
            self.sink.newline();
            self.sink.push_str(line);
        }
        self.sink.newline();
    }
}

/// A page's resources, inherited from the page tree when the page has none of its own.
fn page_resources(doc: &Document, page: ObjectId) -> Option<&Dictionary> {
    let mut dict = doc.get_dictionary(page).ok()?;
    for _ in 0..32 {
        if let Some(resources) =
            deref(doc, dict.get(b"Resources").ok()).and_then(|r| r.as_dict().ok())
        {
            return Some(resources);
        }
        dict = deref(doc, dict.get(b"Parent").ok())?.as_dict().ok()?;
    }
    None
}

/// Files attached to the PDF (`/EmbeddedFile` streams named by their file specification) are
/// documents of their own: a portfolio is an archive.
fn embedded_files(ex: &mut Extractor, node: &Node, doc: &Document) {
    let mut attached: Vec<(String, &Stream)> = Vec::new();
    for object in doc.objects.values() {
        let spec = match object {
            Object::Dictionary(d) => d,
            Object::Stream(s) => &s.dict,
            _ => continue,
        };
        let Some(files) = deref(doc, spec.get(b"EF").ok()).and_then(|f| f.as_dict().ok()) else {
            continue;
        };
        let Some(Object::Stream(stream)) =
            deref(doc, files.get(b"UF").or_else(|_| files.get(b"F")).ok())
        else {
            continue;
        };
        let name = [b"UF".as_slice(), b"F"]
            .iter()
            .find_map(|k| deref(doc, spec.get(k).ok()).and_then(|n| decode_text_string(n).ok()))
            .unwrap_or_else(|| "attachment".to_string());
        attached.push((crate::base_name(&name).to_string(), stream));
        if attached.len() >= MAX_FIELDS {
            break;
        }
    }
    if attached.is_empty() || !ex.may_open(node, DocKind::Pdf) {
        return;
    }
    let (mut stopped, mut stream_error) = (false, false);
    for (name, stream) in attached {
        if ex.entries_left == 0 {
            let detail = format!(
                "more than {} attachments and entries",
                ex.limits.max_entries
            );
            ex.problem(&node.path, ProblemKind::Bomb, detail);
            return;
        }
        ex.entries_left -= 1;
        let path = node.child_path(&name);
        let Some(data) = stream_bytes(ex, &path, stream, &mut stopped, &mut stream_error) else {
            if stopped {
                return;
            }
            continue;
        };
        let child = Node {
            name: Some(&name),
            path,
            depth: node.depth + 1,
        };
        ex.document(&child, &data);
    }
}
