//! The XML inside office documents, streamed with quick-xml (no tree, no DTD, no entity
//! expansion beyond the five predefined ones):
//!
//! * WordprocessingML and DrawingML (`w:t`, `a:t` runs): paragraphs end lines, table cells end
//!   in a tab, rows in a newline; `mc:Fallback` copies of the same content are skipped;
//! * SpreadsheetML: shared strings, and sheets cell by cell as *raw* values (a numeric cell's
//!   `<v>` text, with Excel's exponent notation written out as digits), tab-separated;
//! * OpenDocument `content.xml`: paragraphs, spaces (`text:s`), tabs, table cells (numbers
//!   from `office:value`).

use std::borrow::Cow;

use encoding_rs::Encoding;
use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::TextSink;

/// Bytes kept of one spreadsheet cell's value.
const MAX_CELL: usize = 64 * 1024;

/// The text of an XML part: UTF-16 (by BOM) transcoded, invalid UTF-8 replaced.
pub(crate) fn xml_source(data: &[u8]) -> Cow<'_, str> {
    if let Some((encoding, bom)) = Encoding::for_bom(data) {
        let (text, _) = encoding.decode_without_bom_handling(&data[bom..]);
        return text;
    }
    String::from_utf8_lossy(data)
}

/// What a walk over one XML part sees.
trait XmlHandler {
    fn start(&mut self, e: &BytesStart);
    fn end(&mut self, local: &str);
    fn text(&mut self, s: &str);
    /// Stop reading (the text cap is reached).
    fn done(&self) -> bool {
        false
    }
}

/// Streams `data` through `handler`. An empty element is a start and an end. Errors stop the
/// walk (what was seen before stays seen); so does a part that ends with elements still open,
/// which is how a cut-short part looks when the cut falls between tags.
fn walk(data: &[u8], handler: &mut impl XmlHandler) -> Result<(), String> {
    let source = xml_source(data);
    let mut reader = Reader::from_str(&source);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    config.allow_dangling_amp = true;
    config.check_comments = false;
    let mut open = 0usize;
    loop {
        if handler.done() {
            return Ok(());
        }
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                open += 1;
                handler.start(&e);
            }
            Ok(Event::Empty(e)) => {
                handler.start(&e);
                handler.end(e.local_name().as_ref());
            }
            Ok(Event::End(e)) => {
                open = open.saturating_sub(1);
                handler.end(e.local_name().as_ref());
            }
            Ok(Event::Text(t)) => handler.text(&t.xml10_content()),
            Ok(Event::CData(t)) => handler.text(&t.xml10_content()),
            Ok(Event::GeneralRef(r)) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Cow::Owned(c.to_string()),
                    Ok(None) => match resolve_xml_entity(&r) {
                        Some(s) => Cow::Borrowed(s),
                        None => Cow::Owned(format!("&{};", &*r)),
                    },
                    Err(_) => Cow::Borrowed("\u{FFFD}"),
                };
                handler.text(&resolved);
            }
            Ok(Event::Eof) if open > 0 => {
                return Err(format!("XML ends inside {open} open elements: cut short"))
            }
            Ok(Event::Eof) => return Ok(()),
            Ok(_) => {}
            Err(e) => {
                return Err(format!(
                    "malformed XML at byte {}: {e}",
                    reader.error_position()
                ))
            }
        }
    }
}

/// The value of the attribute with this local name (`r:id` is `id`), entities decoded.
fn attr(e: &BytesStart, local: &str) -> Option<String> {
    for a in e.attributes().with_checks(false).flatten() {
        if a.key.local_name().as_ref() == local {
            let raw: &str = &a.value;
            return Some(match quick_xml::escape::unescape(raw) {
                Ok(v) => v.into_owned(),
                Err(_) => raw.to_string(),
            });
        }
    }
    None
}

/// WordprocessingML and DrawingML text: `w:t`, `w:delText` (tracked deletions still carry the
/// data) and `a:t` runs.
struct RunText<'s> {
    sink: &'s mut TextSink,
    in_text: u32,
    in_run: u32,
    in_cell: u32,
    /// Inside `mc:Fallback`, a second rendering of content already read in `mc:Choice`.
    fallback: u32,
}

impl XmlHandler for RunText<'_> {
    fn start(&mut self, e: &BytesStart) {
        match e.local_name().as_ref() {
            "t" | "delText" => self.in_text += 1,
            "r" => self.in_run += 1,
            "tc" => self.in_cell += 1,
            "Fallback" => self.fallback += 1,
            "tab" if self.in_run > 0 && self.fallback == 0 => {
                self.sink.push('\t');
            }
            "br" | "cr" if self.fallback == 0 => self.sink.newline(),
            "noBreakHyphen" if self.fallback == 0 => {
                self.sink.push('-');
            }
            _ => {}
        }
    }

    fn end(&mut self, local: &str) {
        match local {
            "t" | "delText" => self.in_text = self.in_text.saturating_sub(1),
            "r" => self.in_run = self.in_run.saturating_sub(1),
            "Fallback" => self.fallback = self.fallback.saturating_sub(1),
            _ if self.fallback > 0 => {}
            "p" => {
                if self.in_cell > 0 {
                    self.sink.space();
                } else {
                    self.sink.newline();
                }
            }
            "tc" => {
                self.in_cell = self.in_cell.saturating_sub(1);
                self.sink.end_cell();
            }
            "tr" => self.sink.newline(),
            _ => {}
        }
    }

    fn text(&mut self, s: &str) {
        if self.in_text > 0 && self.fallback == 0 {
            self.sink.push_str(s);
        }
    }

    fn done(&self) -> bool {
        self.sink.is_full()
    }
}

/// Text of a WordprocessingML or DrawingML part (document body, header, footnotes, comments,
/// slide, notes page, spreadsheet comments).
pub(crate) fn run_text(data: &[u8], sink: &mut TextSink) -> Result<(), String> {
    let mut handler = RunText {
        sink,
        in_text: 0,
        in_run: 0,
        in_cell: 0,
        fallback: 0,
    };
    let result = walk(data, &mut handler);
    handler.sink.newline();
    result
}

/// `xl/sharedStrings.xml`: every `<si>` item, rich-text runs joined, phonetic runs (`rPh`)
/// left out. Stored as one string and end offsets: a million tiny items cost no more than
/// their XML did.
#[derive(Default)]
pub(crate) struct SharedStrings {
    text: String,
    ends: Vec<usize>,
}

impl SharedStrings {
    pub fn get(&self, index: usize) -> Option<&str> {
        let end = *self.ends.get(index)?;
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        self.text.get(start..end)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.ends.len()
    }
}

struct SharedStringsReader {
    strings: SharedStrings,
    in_item: bool,
    in_text: u32,
    in_phonetic: u32,
}

impl XmlHandler for SharedStringsReader {
    fn start(&mut self, e: &BytesStart) {
        match e.local_name().as_ref() {
            "si" => self.in_item = true,
            "t" => self.in_text += 1,
            "rPh" => self.in_phonetic += 1,
            _ => {}
        }
    }

    fn end(&mut self, local: &str) {
        match local {
            "si" => {
                self.in_item = false;
                self.strings.ends.push(self.strings.text.len());
            }
            "t" => self.in_text = self.in_text.saturating_sub(1),
            "rPh" => self.in_phonetic = self.in_phonetic.saturating_sub(1),
            _ => {}
        }
    }

    fn text(&mut self, s: &str) {
        if self.in_item && self.in_text > 0 && self.in_phonetic == 0 {
            self.strings.text.push_str(s);
        }
    }
}

pub(crate) fn shared_strings(data: &[u8]) -> (SharedStrings, Result<(), String>) {
    let mut reader = SharedStringsReader {
        strings: SharedStrings::default(),
        in_item: false,
        in_text: 0,
        in_phonetic: 0,
    };
    let result = walk(data, &mut reader);
    (reader.strings, result)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CellType {
    Number,
    Shared,
    Inline,
    Bool,
    /// Formula string results and errors: the text as written.
    Literal,
}

/// One worksheet: cells tab-separated, rows on lines.
struct SheetReader<'a, 's> {
    sink: &'s mut TextSink,
    shared: &'a SharedStrings,
    cell: CellType,
    value: String,
    in_value: bool,
    in_inline: bool,
    in_text: u32,
    in_phonetic: u32,
    cells_in_row: usize,
}

impl XmlHandler for SheetReader<'_, '_> {
    fn start(&mut self, e: &BytesStart) {
        match e.local_name().as_ref() {
            "row" => self.cells_in_row = 0,
            "c" => {
                self.value.clear();
                // Once per cell: read the type without allocating.
                let kind = e
                    .attributes()
                    .with_checks(false)
                    .flatten()
                    .find(|a| a.key.local_name().as_ref() == "t");
                self.cell = match kind.as_ref().map(|a| &*a.value) {
                    Some("s") => CellType::Shared,
                    Some("inlineStr") => CellType::Inline,
                    Some("b") => CellType::Bool,
                    Some("str" | "e" | "d") => CellType::Literal,
                    _ => CellType::Number,
                };
            }
            "v" => self.in_value = true,
            "is" => self.in_inline = true,
            "t" => self.in_text += 1,
            "rPh" => self.in_phonetic += 1,
            _ => {}
        }
    }

    fn end(&mut self, local: &str) {
        match local {
            "v" => self.in_value = false,
            "is" => self.in_inline = false,
            "t" => self.in_text = self.in_text.saturating_sub(1),
            "rPh" => self.in_phonetic = self.in_phonetic.saturating_sub(1),
            "c" => {
                let raw = self.value.trim();
                let shown: Cow<str> = match self.cell {
                    CellType::Shared => raw
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| self.shared.get(i))
                        .map_or(Cow::Borrowed(""), Cow::Borrowed),
                    CellType::Bool => Cow::Borrowed(match raw {
                        "1" => "TRUE",
                        "0" => "FALSE",
                        _ => raw,
                    }),
                    CellType::Number => plain_number(raw),
                    CellType::Inline | CellType::Literal => Cow::Borrowed(self.value.as_str()),
                };
                if !shown.is_empty() {
                    if self.cells_in_row > 0 {
                        self.sink.push('\t');
                    }
                    self.sink.push_str(&shown);
                    self.cells_in_row += 1;
                }
                self.value.clear();
            }
            "row" if self.cells_in_row > 0 => self.sink.newline(),
            _ => {}
        }
    }

    fn text(&mut self, s: &str) {
        let wanted = self.in_value || (self.in_inline && self.in_text > 0 && self.in_phonetic == 0);
        if wanted && self.value.len() + s.len() <= MAX_CELL {
            self.value.push_str(s);
        }
    }

    fn done(&self) -> bool {
        self.sink.is_full()
    }
}

pub(crate) fn sheet_text(
    data: &[u8],
    shared: &SharedStrings,
    sink: &mut TextSink,
) -> Result<(), String> {
    let mut reader = SheetReader {
        sink,
        shared,
        cell: CellType::Number,
        value: String::new(),
        in_value: false,
        in_inline: false,
        in_text: 0,
        in_phonetic: 0,
        cells_in_row: 0,
    };
    walk(data, &mut reader)
}

/// A number as Excel stores it, written out: `3.20925197308114E+17` becomes
/// `320925197308114000` (the digits Excel shows), `1.5E-3` becomes `0.0015`. Anything else,
/// including plain digits of any length, is returned as it is: never through a float.
pub(crate) fn plain_number(raw: &str) -> Cow<'_, str> {
    let Some(e) = raw.find(['E', 'e']) else {
        return Cow::Borrowed(raw);
    };
    let (mantissa, exponent) = (&raw[..e], &raw[e + 1..]);
    let Ok(exponent) = exponent.parse::<i32>() else {
        return Cow::Borrowed(raw);
    };
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !(-40..=40).contains(&exponent) || int.is_empty() || !digits_ok(int) || !digits_ok(frac) {
        return Cow::Borrowed(raw);
    }
    let digits = format!("{int}{frac}");
    // Position of the decimal point in `digits` after shifting.
    let point = int.len() as i32 + exponent;
    let (whole, fraction) = if point <= 0 {
        (
            "0".to_string(),
            format!("{}{digits}", "0".repeat((-point) as usize)),
        )
    } else if point as usize >= digits.len() {
        (
            format!("{digits}{}", "0".repeat(point as usize - digits.len())),
            String::new(),
        )
    } else {
        (
            digits[..point as usize].to_string(),
            digits[point as usize..].to_string(),
        )
    };
    let whole = whole.trim_start_matches('0');
    let whole = if whole.is_empty() { "0" } else { whole };
    let fraction = fraction.trim_end_matches('0');
    Cow::Owned(if fraction.is_empty() {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{fraction}")
    })
}

/// `(name, relationship id)` of each `<sheet>` in `xl/workbook.xml`, in workbook order.
pub(crate) fn workbook_sheets(data: &[u8]) -> Vec<(String, String)> {
    elements(data, "sheet", |e| Some((attr(e, "name")?, attr(e, "id")?)))
}

/// `(Id, Target)` of each relationship in a `.rels` part.
pub(crate) fn relationships(data: &[u8]) -> Vec<(String, String)> {
    elements(data, "Relationship", |e| {
        Some((attr(e, "Id")?, attr(e, "Target")?))
    })
}

/// Something taken from every element with this local name (at most 100,000).
fn elements<T>(data: &[u8], local: &str, mut take: impl FnMut(&BytesStart) -> Option<T>) -> Vec<T> {
    struct Collect<'f, T, F: FnMut(&BytesStart) -> Option<T>> {
        local: &'f str,
        take: F,
        out: Vec<T>,
    }
    impl<T, F: FnMut(&BytesStart) -> Option<T>> XmlHandler for Collect<'_, T, F> {
        fn start(&mut self, e: &BytesStart) {
            if e.local_name().as_ref() == self.local {
                if let Some(v) = (self.take)(e) {
                    self.out.push(v);
                }
            }
        }
        fn end(&mut self, _: &str) {}
        fn text(&mut self, _: &str) {}
        fn done(&self) -> bool {
            self.out.len() >= 100_000
        }
    }
    let mut collect = Collect {
        local,
        take: &mut take,
        out: Vec::new(),
    };
    let _ = walk(data, &mut collect);
    collect.out
}

/// OpenDocument `content.xml`.
struct OdfText<'s> {
    sink: &'s mut TextSink,
    in_body: u32,
    in_para: u32,
    in_cell: u32,
    /// The cell depth whose paragraphs are not read: its value came from `office:value`.
    valued_cell: Option<u32>,
}

impl OdfText<'_> {
    fn reading(&self) -> bool {
        self.in_body > 0 && self.in_para > 0 && self.valued_cell.is_none()
    }
}

impl XmlHandler for OdfText<'_> {
    fn start(&mut self, e: &BytesStart) {
        match e.local_name().as_ref() {
            "body" => self.in_body += 1,
            "p" | "h" => self.in_para += 1,
            "table-cell" | "covered-table-cell" => {
                self.in_cell += 1;
                let numeric = matches!(
                    attr(e, "value-type").as_deref(),
                    Some("float" | "percentage" | "currency")
                );
                if let (true, Some(value), None) = (numeric, attr(e, "value"), self.valued_cell) {
                    self.sink.push_str(&plain_number(value.trim()));
                    self.valued_cell = Some(self.in_cell);
                }
            }
            "s" if self.reading() => {
                let count = attr(e, "c").and_then(|c| c.parse::<usize>().ok());
                for _ in 0..count.unwrap_or(1).clamp(1, 64) {
                    self.sink.push(' ');
                }
            }
            "tab" if self.reading() => {
                self.sink.push('\t');
            }
            "line-break" if self.reading() => {
                self.sink.push('\n');
            }
            _ => {}
        }
    }

    fn end(&mut self, local: &str) {
        match local {
            "body" => self.in_body = self.in_body.saturating_sub(1),
            "p" | "h" => {
                self.in_para = self.in_para.saturating_sub(1);
                if self.in_body > 0 && self.valued_cell.is_none() {
                    if self.in_cell > 0 {
                        self.sink.space();
                    } else {
                        self.sink.newline();
                    }
                }
            }
            "table-cell" | "covered-table-cell" => {
                if self.valued_cell == Some(self.in_cell) {
                    self.valued_cell = None;
                }
                self.in_cell = self.in_cell.saturating_sub(1);
                self.sink.end_cell();
            }
            "table-row" => self.sink.newline(),
            _ => {}
        }
    }

    fn text(&mut self, s: &str) {
        if self.reading() {
            self.sink.push_str(s);
        }
    }

    fn done(&self) -> bool {
        self.sink.is_full()
    }
}

pub(crate) fn odf_text(data: &[u8], sink: &mut TextSink) -> Result<(), String> {
    let mut handler = OdfText {
        sink,
        in_body: 0,
        in_para: 0,
        in_cell: 0,
        valued_cell: None,
    };
    walk(data, &mut handler)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_excel_exponents_out_as_digits() {
        assert_eq!(plain_number("3.20925197308114E+17"), "320925197308114000");
        assert_eq!(plain_number("110101199003078515"), "110101199003078515");
        assert_eq!(plain_number("1.5E-3"), "0.0015");
        assert_eq!(plain_number("-2.5e2"), "-250");
        assert_eq!(plain_number("1E+400"), "1E+400");
        assert_eq!(plain_number("0.30000000000000004"), "0.30000000000000004");
        assert_eq!(plain_number("x1E5"), "x1E5");
    }

    #[test]
    fn reads_word_runs_cells_and_skips_fallbacks() {
        let xml = r#"<w:document xmlns:w="w" xmlns:mc="mc"><w:body>
            <w:p><w:pPr><w:tabs><w:tab w:val="left"/></w:tabs></w:pPr>
              <w:r><w:t>Hello</w:t></w:r><w:r><w:tab/><w:t xml:space="preserve"> &amp; 中文</w:t></w:r></w:p>
            <w:tbl><w:tr><w:tc><w:p><w:r><w:t>123</w:t></w:r></w:p></w:tc>
                         <w:tc><w:p><w:r><w:t>456</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
            <mc:AlternateContent><mc:Choice><w:p><w:r><w:t>box</w:t></w:r></w:p></mc:Choice>
              <mc:Fallback><w:p><w:r><w:t>box</w:t></w:r></w:p></mc:Fallback></mc:AlternateContent>
            <w:p><w:r><w:delText>deleted</w:delText><w:instrText>HYPERLINK</w:instrText></w:r></w:p>
            </w:body></w:document>"#.as_bytes();
        let mut sink = TextSink::new(1 << 20);
        run_text(xml, &mut sink).expect("well-formed");
        assert_eq!(sink.take(), "Hello\t & 中文\n123\t456\t\nbox\ndeleted\n");
    }

    #[test]
    fn reads_sheets_with_shared_inline_and_numeric_cells() {
        let shared = r#"<sst><si><t>Name</t></si><si><r><t>张</t></r><r><t>三</t></r><rPh><t>zhang</t></rPh></si></sst>"#;
        let (strings, ok) = shared_strings(shared.as_bytes());
        assert!(ok.is_ok());
        assert_eq!(strings.len(), 2);
        assert_eq!(strings.get(1), Some("张三"));
        let sheet = r#"<worksheet><sheetData>
            <row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="inlineStr"><is><t>ID</t></is></c></row>
            <row r="2"><c r="A2" t="s"><v>1</v></c><c r="B2"><v>110101199003078515</v></c>
              <c r="C2"><f>B2*1</f><v>3.20925197308114E+17</v></c><c r="D2" t="b"><v>1</v></c></row>
            <row r="3"><c r="A3"><v>12</v></c><c r="B3"><v>34</v></c></row>
            </sheetData></worksheet>"#.as_bytes();
        let mut sink = TextSink::new(1 << 20);
        sheet_text(sheet, &strings, &mut sink).expect("well-formed");
        assert_eq!(
            sink.take(),
            "Name\tID\n张三\t110101199003078515\t320925197308114000\tTRUE\n12\t34\n"
        );
    }

    #[test]
    fn reads_odf_paragraphs_spaces_and_cell_values() {
        let xml = r#"<office:document-content><office:automatic-styles><style:style/></office:automatic-styles>
            <office:body><office:text><text:h>Title</text:h><text:p>a<text:s text:c="2"/>b<text:tab/>c</text:p>
            <table:table><table:table-row>
              <table:table-cell office:value-type="float" office:value="320925197308114000"><text:p>3.21E+17</text:p></table:table-cell>
              <table:table-cell office:value-type="string"><text:p>张三</text:p></table:table-cell>
            </table:table-row></table:table></office:text></office:body></office:document-content>"#.as_bytes();
        let mut sink = TextSink::new(1 << 20);
        odf_text(xml, &mut sink).expect("well-formed");
        assert_eq!(sink.take(), "Title\na  b\tc\n320925197308114000\t张三\t\n");
    }

    #[test]
    fn keeps_what_it_read_before_malformed_xml() {
        let mut sink = TextSink::new(1 << 20);
        let result = run_text(
            b"<w:p><w:r><w:t>kept</w:t></w:r></w:p><w:p><w:r><w:t>cut",
            &mut sink,
        );
        assert!(sink.take().contains("kept"));
        let _ = result;
    }

    #[test]
    fn reads_workbook_sheet_names_and_relationships() {
        let wb = r#"<workbook><sheets><sheet name="Q3 &amp; Q4" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
        assert_eq!(
            workbook_sheets(wb.as_bytes()),
            vec![("Q3 & Q4".to_string(), "rId1".to_string())]
        );
        let rels = r#"<Relationships><Relationship Id="rId1" Type="t" Target="worksheets/sheet1.xml"/></Relationships>"#;
        assert_eq!(
            relationships(rels.as_bytes()),
            vec![("rId1".to_string(), "worksheets/sheet1.xml".to_string())]
        );
    }
}
