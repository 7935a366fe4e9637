//! What extraction costs: [`bench_extract`] builds a text-dense document of a given size in
//! memory and times [`extract`] on it, so a CLI can report "a 10 MB DOCX costs N ms". The
//! document builders it uses ([`build`]) also make the test fixtures: nothing binary is
//! committed for OOXML, ODF or ZIP.

use std::time::Instant;

use crate::{extract, Limits};

/// One timed extraction.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchResult {
    /// `docx`, `xlsx` or `pdf`; `unknown` for a kind this function does not build.
    pub kind: String,
    /// Size of the generated document.
    pub bytes: usize,
    /// Wall time of `extract`.
    pub millis: f64,
    /// Text extracted.
    pub text_bytes: usize,
    /// Problems reported (0 for a generated document within the limits).
    pub problems: usize,
}

/// Builds a `kind` (`"docx"`, `"xlsx"` or `"pdf"`) document of about `megabytes` MB (file size)
/// and times its extraction. The documents are text-dense (no images, which cost nothing to
/// skip), so this is the upper end of what a document of that size costs. Limits are the
/// defaults with the text caps raised, so that all of the document is read.
///
/// ```
/// let r = rampart_extract::bench_extract("docx", 1);
/// assert!(r.bytes > 500_000 && r.text_bytes > r.bytes);
/// ```
pub fn bench_extract(kind: &str, megabytes: usize) -> BenchResult {
    let target = megabytes.max(1) * 1024 * 1024;
    let (doc, name) = match kind {
        "docx" => (build::sample_docx(target), "sample.docx"),
        "xlsx" => (build::sample_xlsx(target), "sample.xlsx"),
        "pdf" => (build::sample_pdf(target), "sample.pdf"),
        _ => {
            return BenchResult {
                kind: "unknown".into(),
                bytes: 0,
                millis: 0.0,
                text_bytes: 0,
                problems: 0,
            }
        }
    };
    let limits = bench_limits();
    let start = Instant::now();
    let out = extract(&doc, Some(name), &limits);
    let millis = start.elapsed().as_secs_f64() * 1000.0;
    BenchResult {
        kind: kind.into(),
        bytes: doc.len(),
        millis,
        text_bytes: out.text_bytes(),
        problems: out.problems.len(),
    }
}

/// The default limits with room for all the text of a text-dense benchmark document.
pub fn bench_limits() -> Limits {
    Limits {
        max_text_bytes: 256 * 1024 * 1024,
        max_total_bytes: 512 * 1024 * 1024,
        ..Limits::default()
    }
}

/// Document builders: minimal but valid files of each format, for benchmarks and tests.
pub mod build {
    use std::fmt::Write as _;
    use std::io::{Cursor, Write};

    use flate2::write::ZlibEncoder;
    use flate2::Compression;
    use zip::write::SimpleFileOptions;
    use zip::CompressionMethod;

    /// A ZIP of deflated members.
    pub fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        zip_with(entries, CompressionMethod::Deflated)
    }

    /// A ZIP with members stored or compressed by `method`.
    pub fn zip_with(entries: &[(&str, &[u8])], method: CompressionMethod) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .large_file(entries.iter().any(|(_, d)| d.len() > u32::MAX as usize / 2));
        for (name, data) in entries {
            w.start_file(*name, options).expect("zip entry");
            w.write_all(data).expect("zip write");
        }
        w.finish().expect("zip finish").into_inner()
    }

    /// XML text escaping.
    pub fn escape(text: &str) -> String {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }

    /// One WordprocessingML paragraph of plain text.
    pub fn paragraph(text: &str) -> String {
        format!(
            "<w:p><w:r><w:t xml:space=\"preserve\">{}</w:t></w:r></w:p>",
            escape(text)
        )
    }

    /// A WordprocessingML table, one row per slice.
    pub fn word_table(rows: &[&[&str]]) -> String {
        let mut xml = String::from("<w:tbl>");
        for row in rows {
            xml.push_str("<w:tr>");
            for cell in *row {
                let _ = write!(xml, "<w:tc>{}</w:tc>", paragraph(cell));
            }
            xml.push_str("</w:tr>");
        }
        xml.push_str("</w:tbl>");
        xml
    }

    const W_NS: &str = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";

    /// A DOCX whose body is `body` (paragraph and table XML) plus extra parts (`word/header1.xml`,
    /// `word/embeddings/x.xlsx`, ...).
    pub fn docx_with(body: &str, extra: &[(&str, &[u8])]) -> Vec<u8> {
        let document = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
             <w:document xmlns:w=\"{W_NS}\"><w:body>{body}<w:sectPr/></w:body></w:document>"
        );
        let mut entries: Vec<(&str, &[u8])> = vec![
            ("[Content_Types].xml", CONTENT_TYPES.as_bytes()),
            ("_rels/.rels", ROOT_RELS.as_bytes()),
            ("word/document.xml", document.as_bytes()),
        ];
        entries.extend_from_slice(extra);
        zip(&entries)
    }

    pub fn docx(body: &str) -> Vec<u8> {
        docx_with(body, &[])
    }

    /// A part in the WordprocessingML namespace (header, footer, footnotes) holding `body`.
    pub fn word_part(root: &str, body: &str) -> Vec<u8> {
        format!("<w:{root} xmlns:w=\"{W_NS}\">{body}</w:{root}>").into_bytes()
    }

    const CONTENT_TYPES: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
        <Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
        <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
        <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/></Types>";
    const ROOT_RELS: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
        <Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
        <Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"word/document.xml\"/></Relationships>";

    /// A spreadsheet cell for [`xlsx`].
    #[derive(Debug, Clone)]
    pub enum Cell {
        /// A shared string (the builder fills the shared string table).
        Text(String),
        /// An inline string (`t="inlineStr"`).
        Inline(String),
        /// A numeric cell, its `<v>` written as given (`110101199003078515`, `3.2E+17`).
        Number(String),
        Empty,
    }

    /// An XLSX with one sheet per `(name, rows)`, strings in a shared string table.
    pub fn xlsx(sheets: &[(&str, Vec<Vec<Cell>>)]) -> Vec<u8> {
        let mut shared: Vec<String> = Vec::new();
        let mut index = std::collections::HashMap::new();
        let mut parts: Vec<(String, Vec<u8>)> = Vec::new();
        let mut workbook = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><workbook \
             xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" \
             xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets>",
        );
        let mut rels = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships \
             xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">",
        );
        for (n, (name, rows)) in sheets.iter().enumerate() {
            let n = n + 1;
            let _ = write!(
                workbook,
                "<sheet name=\"{}\" sheetId=\"{n}\" r:id=\"rId{n}\"/>",
                escape(name)
            );
            let _ = write!(
                rels,
                "<Relationship Id=\"rId{n}\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet{n}.xml\"/>"
            );
            let mut xml = String::from(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><worksheet \
                 xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>",
            );
            for (r, row) in rows.iter().enumerate() {
                let _ = write!(xml, "<row r=\"{}\">", r + 1);
                for (c, cell) in row.iter().enumerate() {
                    let at = format!("{}{}", column_name(c), r + 1);
                    match cell {
                        Cell::Text(t) => {
                            let i = *index.entry(t.clone()).or_insert_with(|| {
                                shared.push(t.clone());
                                shared.len() - 1
                            });
                            let _ = write!(xml, "<c r=\"{at}\" t=\"s\"><v>{i}</v></c>");
                        }
                        Cell::Inline(t) => {
                            let _ = write!(
                                xml,
                                "<c r=\"{at}\" t=\"inlineStr\"><is><t>{}</t></is></c>",
                                escape(t)
                            );
                        }
                        Cell::Number(v) => {
                            let _ = write!(xml, "<c r=\"{at}\"><v>{v}</v></c>");
                        }
                        Cell::Empty => {}
                    }
                }
                xml.push_str("</row>");
            }
            xml.push_str("</sheetData></worksheet>");
            parts.push((format!("xl/worksheets/sheet{n}.xml"), xml.into_bytes()));
        }
        workbook.push_str("</sheets></workbook>");
        rels.push_str("</Relationships>");
        let mut sst = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><sst \
             xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" count=\"{0}\" uniqueCount=\"{0}\">",
            shared.len()
        );
        for s in &shared {
            let _ = write!(sst, "<si><t>{}</t></si>", escape(s));
        }
        sst.push_str("</sst>");
        let mut entries: Vec<(&str, &[u8])> = vec![
            ("[Content_Types].xml", CONTENT_TYPES.as_bytes()),
            ("xl/workbook.xml", workbook.as_bytes()),
            ("xl/_rels/workbook.xml.rels", rels.as_bytes()),
            ("xl/sharedStrings.xml", sst.as_bytes()),
        ];
        for (name, data) in &parts {
            entries.push((name, data));
        }
        zip(&entries)
    }

    fn column_name(mut c: usize) -> String {
        let mut name = Vec::new();
        loop {
            name.push(b'A' + (c % 26) as u8);
            if c < 26 {
                break;
            }
            c = c / 26 - 1;
        }
        name.reverse();
        String::from_utf8(name).unwrap_or_default()
    }

    /// A PPTX with one slide per text (and notes pages for `notes`).
    pub fn pptx(slides: &[&str], notes: &[&str]) -> Vec<u8> {
        let drawing = |root: &str, text: &str| {
            format!(
                "<p:{root} xmlns:p=\"http://schemas.openxmlformats.org/presentationml/2006/main\" \
                 xmlns:a=\"http://schemas.openxmlformats.org/drawingml/2006/main\"><p:cSld><p:spTree>\
                 <p:sp><p:txBody>{}</p:txBody></p:sp></p:spTree></p:cSld></p:{root}>",
                text.lines()
                    .map(|l| format!("<a:p><a:r><a:t>{}</a:t></a:r></a:p>", escape(l)))
                    .collect::<String>()
            )
        };
        let mut parts: Vec<(String, String)> = vec![(
            "ppt/presentation.xml".into(),
            "<p:presentation xmlns:p=\"http://schemas.openxmlformats.org/presentationml/2006/main\"/>".into(),
        )];
        for (i, s) in slides.iter().enumerate() {
            parts.push((format!("ppt/slides/slide{}.xml", i + 1), drawing("sld", s)));
        }
        for (i, s) in notes.iter().enumerate() {
            parts.push((
                format!("ppt/notesSlides/notesSlide{}.xml", i + 1),
                drawing("notes", s),
            ));
        }
        let mut entries: Vec<(&str, &[u8])> =
            vec![("[Content_Types].xml", CONTENT_TYPES.as_bytes())];
        for (name, xml) in &parts {
            entries.push((name, xml.as_bytes()));
        }
        zip(&entries)
    }

    /// An OpenDocument file of `mimetype` whose `content.xml` body is `body`.
    pub fn odf(mimetype: &str, body: &str) -> Vec<u8> {
        let content = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><office:document-content \
             xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" \
             xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" \
             xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\" \
             xmlns:draw=\"urn:oasis:names:tc:opendocument:xmlns:drawing:1.0\">\
             <office:body>{body}</office:body></office:document-content>"
        );
        let manifest = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><manifest:manifest \
             xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\">\
             <manifest:file-entry manifest:full-path=\"/\" manifest:media-type=\"\"/></manifest:manifest>";
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
        let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        let parts: [(&str, &[u8], SimpleFileOptions); 3] = [
            ("mimetype", mimetype.as_bytes(), stored),
            ("content.xml", content.as_bytes(), deflated),
            ("META-INF/manifest.xml", manifest.as_bytes(), deflated),
        ];
        for (name, data, options) in parts {
            w.start_file(name, options).expect("zip entry");
            w.write_all(data).expect("zip write");
        }
        w.finish().expect("zip finish").into_inner()
    }

    /// A PDF assembled object by object, cross-reference table and all.
    pub struct PdfWriter {
        out: Vec<u8>,
        offsets: Vec<Option<usize>>,
    }

    impl Default for PdfWriter {
        fn default() -> Self {
            Self::new()
        }
    }

    impl PdfWriter {
        pub fn new() -> Self {
            PdfWriter {
                out: b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec(),
                offsets: Vec::new(),
            }
        }

        /// A new object number, written later with [`PdfWriter::object`] or
        /// [`PdfWriter::stream`].
        pub fn reserve(&mut self) -> u32 {
            self.offsets.push(None);
            self.offsets.len() as u32
        }

        pub fn object(&mut self, id: u32, body: &str) {
            self.offsets[id as usize - 1] = Some(self.out.len());
            let _ = write!(self.out, "{id} 0 obj\n{body}\nendobj\n");
        }

        /// A stream object; `deflate` compresses it with `/FlateDecode`.
        pub fn stream(&mut self, id: u32, dict: &str, data: &[u8], deflate: bool) {
            let (data, filter) = if deflate {
                let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
                z.write_all(data).expect("deflate");
                (z.finish().expect("deflate"), "/Filter /FlateDecode ")
            } else {
                (data.to_vec(), "")
            };
            self.offsets[id as usize - 1] = Some(self.out.len());
            let _ = write!(
                self.out,
                "{id} 0 obj\n<< {dict} {filter}/Length {} >>\nstream\n",
                data.len()
            );
            self.out.extend_from_slice(&data);
            self.out.extend_from_slice(b"\nendstream\nendobj\n");
        }

        /// The file: objects, `xref`, `trailer` (with `/Root root` and `extra`), `%%EOF`.
        pub fn finish(mut self, root: u32, extra: &str) -> Vec<u8> {
            let xref = self.out.len();
            let _ = write!(
                self.out,
                "xref\n0 {}\n0000000000 65535 f \n",
                self.offsets.len() + 1
            );
            for offset in &self.offsets {
                match offset {
                    Some(o) => {
                        let _ = writeln!(self.out, "{o:010} 00000 n ");
                    }
                    None => self.out.extend_from_slice(b"0000000000 65535 f \n"),
                }
            }
            let _ = write!(
                self.out,
                "trailer\n<< /Size {} /Root {root} 0 R {extra} >>\nstartxref\n{xref}\n%%EOF\n",
                self.offsets.len() + 1
            );
            self.out
        }
    }

    /// A PDF with one page per entry, each a list of lines. Lines in Latin-1 are shown with
    /// Helvetica (WinAnsi codes); others with a composite font (`Identity-H`, two-byte glyph
    /// ids) whose `ToUnicode` CMap maps them back, as PDF writers embed CJK fonts.
    pub fn pdf(pages: &[Vec<String>]) -> Vec<u8> {
        pdf_with(pages, true, "")
    }

    /// [`pdf`] with the content streams stored uncompressed or deflated, and extra trailer
    /// entries (`/Encrypt 9 0 R`).
    pub fn pdf_with(pages: &[Vec<String>], deflate: bool, trailer: &str) -> Vec<u8> {
        let mut cids: Vec<char> = Vec::new();
        let mut cid_of = std::collections::HashMap::new();
        let mut contents = Vec::new();
        for lines in pages {
            let mut content = String::new();
            let mut y = 800;
            for line in lines {
                let latin = line.chars().all(|c| (c as u32) < 0x100);
                if latin {
                    let _ = write!(content, "BT /F1 10 Tf 50 {y} Td (");
                    for c in line.chars() {
                        match c {
                            '(' | ')' | '\\' => {
                                content.push('\\');
                                content.push(c);
                            }
                            c if c.is_ascii() => content.push(c),
                            c => {
                                let _ = write!(content, "\\{:03o}", c as u32);
                            }
                        }
                    }
                    content.push_str(") Tj ET\n");
                } else {
                    let _ = write!(content, "BT /F2 10 Tf 50 {y} Td <");
                    for c in line.chars() {
                        let cid = *cid_of.entry(c).or_insert_with(|| {
                            cids.push(c);
                            cids.len()
                        });
                        let _ = write!(content, "{cid:04X}");
                    }
                    content.push_str("> Tj ET\n");
                }
                y -= 14;
                if y < 40 {
                    y = 800;
                }
            }
            contents.push(content);
        }
        let mut w = PdfWriter::new();
        let catalog = w.reserve();
        let page_tree = w.reserve();
        let helvetica = w.reserve();
        let cjk = w.reserve();
        let cid_font = w.reserve();
        let descriptor = w.reserve();
        let to_unicode = w.reserve();
        w.object(
            catalog,
            &format!("<< /Type /Catalog /Pages {page_tree} 0 R >>"),
        );
        w.object(
            helvetica,
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        );
        w.object(
            cjk,
            &format!(
                "<< /Type /Font /Subtype /Type0 /BaseFont /SimSun /Encoding /Identity-H \
                 /DescendantFonts [{cid_font} 0 R] /ToUnicode {to_unicode} 0 R >>"
            ),
        );
        w.object(
            cid_font,
            &format!(
                "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /SimSun \
                 /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> \
                 /FontDescriptor {descriptor} 0 R /DW 1000 >>"
            ),
        );
        w.object(
            descriptor,
            "<< /Type /FontDescriptor /FontName /SimSun /Flags 4 /FontBBox [0 -140 1000 860] \
             /ItalicAngle 0 /Ascent 860 /Descent -140 /CapHeight 700 /StemV 80 >>",
        );
        let mut cmap = String::from(
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
             /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
             /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
             1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
        );
        for chunk in cids.chunks(100).enumerate() {
            let (n, chars) = chunk;
            let _ = writeln!(cmap, "{} beginbfchar", chars.len());
            for (i, c) in chars.iter().enumerate() {
                let cid = n * 100 + i + 1;
                let mut units = [0u16; 2];
                let hex: String = c
                    .encode_utf16(&mut units)
                    .iter()
                    .map(|u| format!("{u:04X}"))
                    .collect();
                let _ = writeln!(cmap, "<{cid:04X}> <{hex}>");
            }
            cmap.push_str("endbfchar\n");
        }
        cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
        w.stream(to_unicode, "", cmap.as_bytes(), deflate);
        let mut kids = String::new();
        for content in &contents {
            let page = w.reserve();
            let stream = w.reserve();
            w.stream(stream, "", content.as_bytes(), deflate);
            w.object(
                page,
                &format!(
                    "<< /Type /Page /Parent {page_tree} 0 R /MediaBox [0 0 595 842] \
                     /Resources << /Font << /F1 {helvetica} 0 R /F2 {cjk} 0 R >> >> \
                     /Contents {stream} 0 R >>"
                ),
            );
            let _ = write!(kids, "{page} 0 R ");
        }
        w.object(
            page_tree,
            &format!(
                "<< /Type /Pages /Kids [{kids}] /Count {} >>",
                contents.len()
            ),
        );
        w.finish(catalog, trailer)
    }

    /// Deterministic filler: words, numbers and Chinese, as business documents have.
    pub struct Filler(u64);

    impl Filler {
        pub fn new(seed: u64) -> Self {
            Filler(seed | 1)
        }

        fn next(&mut self) -> u64 {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        /// A Latin sentence of `words` words with an occasional number.
        pub fn sentence(&mut self, words: usize) -> String {
            const SYLLABLES: &[&str] = &[
                "ka", "lo", "re", "mi", "tan", "sor", "vel", "qui", "dem", "pra", "nus", "to",
                "ex", "lin", "gra", "mon", "ter", "ba", "cel", "fi",
            ];
            let mut s = String::new();
            for i in 0..words {
                if i > 0 {
                    s.push(' ');
                }
                if self.next().is_multiple_of(9) {
                    let _ = write!(s, "{}", self.next() % 1_000_000);
                    continue;
                }
                for _ in 0..1 + self.next() % 3 {
                    s.push_str(SYLLABLES[(self.next() % SYLLABLES.len() as u64) as usize]);
                }
            }
            s
        }

        /// `n` common Chinese characters.
        pub fn chinese(&mut self, n: usize) -> String {
            (0..n)
                .filter_map(|_| char::from_u32(0x4E00 + (self.next() % 3000) as u32))
                .collect()
        }
    }

    /// How much deflate shrinks `sample`.
    fn ratio(sample: &[u8]) -> f64 {
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        let _ = z.write_all(sample);
        let packed = z.finish().map(|v| v.len()).unwrap_or(sample.len()).max(1);
        sample.len() as f64 / packed as f64
    }

    /// A DOCX of about `bytes` bytes: paragraphs of filler, a Chinese one in ten, and tables.
    pub fn sample_docx(bytes: usize) -> Vec<u8> {
        let mut filler = Filler::new(7);
        let mut chunk = |n: usize| {
            let mut xml = String::new();
            for i in 0..n {
                if i % 10 == 9 {
                    xml.push_str(&paragraph(&filler.chinese(60)));
                } else if i % 25 == 24 {
                    let (a, b) = (filler.sentence(2), filler.sentence(3));
                    xml.push_str(&word_table(&[&[&a, &b], &["110101199003078515", "42"]]));
                } else {
                    xml.push_str(&paragraph(&filler.sentence(40)));
                }
            }
            xml
        };
        let sample = chunk(200);
        let target_xml = (bytes as f64 * ratio(sample.as_bytes())) as usize;
        let mut body = sample;
        while body.len() < target_xml {
            body.push_str(&chunk(200));
        }
        docx(&body)
    }

    /// An XLSX of about `bytes` bytes: rows of names, ids, amounts and dates.
    pub fn sample_xlsx(bytes: usize) -> Vec<u8> {
        let mut filler = Filler::new(11);
        let mut rows = Vec::new();
        let make = |filler: &mut Filler, n: usize, rows: &mut Vec<Vec<Cell>>| {
            for i in 0..n {
                rows.push(vec![
                    Cell::Text(filler.sentence(2)),
                    Cell::Text(filler.chinese(3)),
                    Cell::Number(format!("{}", 110_101_199_003_078_515u64 + i as u64 * 7919)),
                    Cell::Number(format!(
                        "{}.{:02}",
                        filler.next() % 100_000,
                        filler.next() % 100
                    )),
                    Cell::Inline(filler.sentence(6)),
                ]);
            }
        };
        make(&mut filler, 2000, &mut rows);
        let sample_size = xlsx(&[("Data", rows.clone())]).len().max(1);
        let wanted = (2000 * bytes / sample_size).max(1);
        make(&mut filler, wanted.saturating_sub(2000), &mut rows);
        xlsx(&[("Data", rows)])
    }

    /// A PDF of about `bytes` bytes: pages of 50 lines, one in five Chinese.
    pub fn sample_pdf(bytes: usize) -> Vec<u8> {
        let mut filler = Filler::new(13);
        let page = |filler: &mut Filler| -> Vec<String> {
            (0..50)
                .map(|i| {
                    if i % 5 == 4 {
                        filler.chinese(30)
                    } else {
                        filler.sentence(14)
                    }
                })
                .collect()
        };
        let mut pages: Vec<Vec<String>> = (0..20).map(|_| page(&mut filler)).collect();
        // The fonts are shared by all pages: estimate per page, then correct once.
        let mut size = pdf(&pages).len();
        for _ in 0..2 {
            let per_page = size / pages.len();
            let count = bytes / per_page.max(1);
            while pages.len() < count {
                pages.push(page(&mut filler));
            }
            size = pdf(&pages).len();
        }
        pdf(&pages)
    }
}
