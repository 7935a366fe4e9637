//! Visible text of HTML (and the text nodes of other XML): one forward pass, no tree. Script,
//! style and template bodies, comments, declarations and tags are dropped; block elements end
//! lines, table cells are separated by tabs, whitespace collapses as a browser collapses it, and
//! character references are decoded.
//!
//! `rampart_urls::scan_html` tokenizes HTML too, but keeps at most 128 KiB of visible text (its
//! job is links); leak prevention needs all of it, so this is a smaller tokenizer of its own.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE};
use memchr::{memchr, memchr2, memmem};

use crate::sniff::{find_ci, starts_with_ci};
use crate::{text, DocKind, Extractor, Node, TextSink};

pub(crate) fn extract(ex: &mut Extractor, node: &Node, kind: DocKind, bytes: &[u8]) {
    let mut sink = ex.sink();
    let encoding = Encoding::for_bom(bytes)
        .map(|(e, _)| e)
        .or_else(|| declared_charset(bytes))
        .unwrap_or_else(|| text::sniff_charset(bytes));
    // Markup outweighs text, so the whole document is decoded (it is at most `max_input_bytes`).
    let (source, _) = text::decode_as(encoding, bytes, bytes.len().saturating_mul(3));
    visible_text(&source, kind == DocKind::Html, &mut sink);
    ex.finish_sink(&node.path, &sink);
    let text = sink.take();
    ex.emit(node.path.clone(), kind, text);
}

/// The charset a document declares in its first 4 KiB (`<meta charset>`, `http-equiv`
/// content type, XML declaration), if encoding_rs knows it. UTF-16 labels are ignored: a
/// document that can be read as ASCII to find them is not UTF-16.
fn declared_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(4096)];
    let mut from = 0;
    while let Some(i) = find_ci(&head[from..], b"charset").or_else(|| {
        // `<?xml version="1.0" encoding="GB2312"?>`
        find_ci(&head[from..], b"encoding").filter(|_| head.starts_with(b"<?xml"))
    }) {
        let at = from + i;
        from = at + 7;
        let rest = &head[at..];
        let Some(eq) = memchr(b'=', &rest[..rest.len().min(16)]) else {
            continue;
        };
        let value = &rest[eq + 1..];
        let value = value
            .iter()
            .position(|c| !matches!(c, b' ' | b'"' | b'\''))
            .map_or(&value[value.len()..], |s| &value[s..]);
        let end = value
            .iter()
            .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b':')))
            .unwrap_or(value.len());
        if let Some(encoding) = Encoding::for_label(&value[..end]) {
            if encoding != UTF_16LE && encoding != UTF_16BE {
                return Some(encoding);
            }
        }
    }
    None
}

/// Elements that end a line.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "section",
    "article",
    "header",
    "footer",
    "nav",
    "aside",
    "main",
    "blockquote",
    "pre",
    "hr",
    "dl",
    "dt",
    "dd",
    "form",
    "fieldset",
    "address",
    "figure",
    "figcaption",
    "title",
    "option",
    "caption",
    "center",
    "details",
    "summary",
    "textarea",
];

/// Elements whose content is not text to show (raw text until their end tag).
const HIDDEN: &[&str] = &[
    "script", "style", "template", "xmp", "iframe", "noembed", "object",
];

/// Writes the visible text of `source` to `sink`. `html`: HTML rules (raw-text elements,
/// inline elements join words); otherwise every tag separates words, as XML fields do.
pub(crate) fn visible_text(source: &str, html: bool, sink: &mut TextSink) {
    let b = source.as_bytes();
    let mut text = Collapser::default();
    let mut i = 0;
    while i < b.len() && !sink.is_full() {
        let Some(off) = memchr2(b'<', b'&', &b[i..]) else {
            text.push(&source[i..], sink);
            break;
        };
        let at = i + off;
        text.push(&source[i..at], sink);
        if b[at] == b'&' {
            let (decoded, used) = entity(&source[at..]);
            text.push_decoded(&decoded, sink);
            i = at + used;
            continue;
        }
        i = markup(source, at, html, &mut text, sink);
    }
}

/// Handles the markup at `at` (a `<`); returns where text resumes.
fn markup(source: &str, at: usize, html: bool, text: &mut Collapser, sink: &mut TextSink) -> usize {
    let b = source.as_bytes();
    let rest = &b[at..];
    if rest.starts_with(b"<!--") {
        return skip_past(b, at + 4, b"-->");
    }
    if rest.starts_with(b"<![CDATA[") {
        let start = at + 9;
        let end = memmem::find(&b[start..], b"]]>").map_or(b.len(), |e| start + e);
        text.push(&source[start..end], sink);
        return (end + 3).min(b.len());
    }
    if rest.starts_with(b"<!") || rest.starts_with(b"<?") {
        return skip_tag(b, at + 2);
    }
    let closing = rest.get(1) == Some(&b'/');
    let name_start = at + 1 + usize::from(closing);
    let name_len = b[name_start..]
        .iter()
        .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b':' | b'.')))
        .unwrap_or(b.len() - name_start);
    if name_len == 0 || !b[name_start].is_ascii_alphabetic() {
        // Not a tag: a lone `<` is text.
        text.push("<", sink);
        return at + 1;
    }
    let name = source[name_start..name_start + name_len].to_ascii_lowercase();
    let after = skip_tag(b, name_start + name_len);
    if !html {
        text.word_break();
        return after;
    }
    let local = name.rsplit(':').next().unwrap_or(&name);
    if BLOCKS.contains(&local) {
        text.line_break(sink);
    } else if matches!(local, "td" | "th") && !closing {
        text.cell_break(sink);
    } else if matches!(local, "img" | "input" | "select" | "button" | "label") {
        text.word_break();
    }
    if !closing && HIDDEN.contains(&local) && !b[..after].ends_with(b"/>") {
        // Raw text: nothing inside is markup until `</name`.
        let mut from = after;
        while let Some(off) = memmem::find(&b[from..], b"</") {
            let end = from + off;
            if starts_with_ci(&b[end + 2..], name.as_bytes()) {
                return skip_tag(b, end + 2);
            }
            from = end + 2;
        }
        return b.len();
    }
    after
}

/// Past the `>` that ends a tag starting before `from`, quotes respected (a quote opens a
/// value only right after `=`, spaces allowed between).
fn skip_tag(b: &[u8], from: usize) -> usize {
    let mut quote = None;
    let mut last = 0u8;
    for (i, &c) in b.iter().enumerate().skip(from) {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                    last = c;
                }
            }
            None => match c {
                b'>' => return i + 1,
                b'"' | b'\'' if last == b'=' => quote = Some(c),
                c if c.is_ascii_whitespace() => {}
                c => last = c,
            },
        }
    }
    b.len()
}

fn skip_past(b: &[u8], from: usize, end: &[u8]) -> usize {
    memmem::find(&b[from..], end).map_or(b.len(), |e| from + e + end.len())
}

/// Whitespace collapsing between pieces of text.
#[derive(Default)]
struct Collapser {
    pending_space: bool,
}

impl Collapser {
    fn push(&mut self, s: &str, sink: &mut TextSink) {
        for (n, word) in s.split(|c: char| c.is_ascii_whitespace()).enumerate() {
            if n > 0 {
                self.pending_space = true;
            }
            if word.is_empty() {
                continue;
            }
            if self.pending_space {
                sink.space();
                self.pending_space = false;
            }
            sink.push_str(word);
        }
    }

    /// Text from a character reference: never markup, and a `&nbsp;` is a space that does not
    /// collapse away.
    fn push_decoded(&mut self, s: &str, sink: &mut TextSink) {
        if s == " " {
            self.pending_space = false;
            sink.space();
            return;
        }
        if self.pending_space {
            sink.space();
            self.pending_space = false;
        }
        sink.push_str(s);
    }

    fn word_break(&mut self) {
        self.pending_space = true;
    }

    fn line_break(&mut self, sink: &mut TextSink) {
        self.pending_space = false;
        sink.newline();
    }

    fn cell_break(&mut self, sink: &mut TextSink) {
        self.pending_space = false;
        if !sink.buf.is_empty() && !sink.buf.ends_with('\n') {
            sink.tab();
        }
    }
}

/// Decodes the character reference at the start of `s` (which starts with `&`); returns the text
/// and the bytes used. Unknown references are kept as written.
pub(crate) fn entity(s: &str) -> (Cow<'static, str>, usize) {
    let b = s.as_bytes();
    let end = b.iter().take(34).position(|&c| c == b';');
    let Some(end) = end else {
        return (Cow::Borrowed("&"), 1);
    };
    let body = &s[1..end];
    let decoded = if let Some(num) = body.strip_prefix('#') {
        let value = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => num.parse::<u32>().ok(),
        };
        match value.map(char::from_u32) {
            Some(Some('\0')) | None => None,
            Some(Some(c)) => Some(Cow::Owned(if c == '\u{A0}' {
                " ".to_string()
            } else {
                c.to_string()
            })),
            Some(None) => Some(Cow::Borrowed("\u{FFFD}")),
        }
    } else {
        named_entity(body).map(Cow::Borrowed)
    };
    match decoded {
        Some(text) => (text, end + 1),
        None => (Cow::Borrowed("&"), 1),
    }
}

/// The named references that turn up in real documents; the full HTML table is 2,000 names
/// for characters that do not matter to leak prevention.
fn named_entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "amp" | "AMP" => "&",
        "lt" | "LT" => "<",
        "gt" | "GT" => ">",
        "quot" | "QUOT" => "\"",
        "apos" => "'",
        "nbsp" | "ensp" | "emsp" | "thinsp" => " ",
        "shy" | "zwj" | "zwnj" | "lrm" | "rlm" => "",
        "copy" => "©",
        "reg" => "®",
        "trade" => "™",
        "euro" => "€",
        "pound" => "£",
        "yen" => "¥",
        "cent" => "¢",
        "sect" => "§",
        "para" => "¶",
        "middot" => "·",
        "bull" => "•",
        "hellip" => "…",
        "ndash" => "–",
        "mdash" => "—",
        "lsquo" => "‘",
        "rsquo" => "’",
        "ldquo" => "“",
        "rdquo" => "”",
        "laquo" => "«",
        "raquo" => "»",
        "times" => "×",
        "divide" => "÷",
        "deg" => "°",
        "plusmn" => "±",
        "micro" => "µ",
        "frac12" => "½",
        "frac14" => "¼",
        "frac34" => "¾",
        "sup1" => "¹",
        "sup2" => "²",
        "sup3" => "³",
        "iexcl" => "¡",
        "iquest" => "¿",
        "auml" => "ä",
        "ouml" => "ö",
        "uuml" => "ü",
        "Auml" => "Ä",
        "Ouml" => "Ö",
        "Uuml" => "Ü",
        "szlig" => "ß",
        "aacute" => "á",
        "eacute" => "é",
        "iacute" => "í",
        "oacute" => "ó",
        "uacute" => "ú",
        "Aacute" => "Á",
        "Eacute" => "É",
        "Iacute" => "Í",
        "Oacute" => "Ó",
        "Uacute" => "Ú",
        "agrave" => "à",
        "egrave" => "è",
        "ugrave" => "ù",
        "Agrave" => "À",
        "Egrave" => "È",
        "acirc" => "â",
        "ecirc" => "ê",
        "icirc" => "î",
        "ocirc" => "ô",
        "ucirc" => "û",
        "ccedil" => "ç",
        "Ccedil" => "Ç",
        "ntilde" => "ñ",
        "Ntilde" => "Ñ",
        "euml" => "ë",
        "iuml" => "ï",
        "oslash" => "ø",
        "aring" => "å",
        "aelig" => "æ",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(html: &str) -> String {
        let mut sink = TextSink::new(1 << 20);
        visible_text(html, true, &mut sink);
        sink.take()
    }

    #[test]
    fn keeps_visible_text_only() {
        let html = "<html><head><title>Q3</title><style>p{color:red}</style>\
            <script>var s = '<p>not text</p>';</script></head>\
            <body><!-- hidden --><p>客户&nbsp;名单</p><p>a&amp;b &#x4E2D;&#25991;</p></body></html>";
        assert_eq!(shown(html), "Q3\n客户 名单\na&b 中文\n");
    }

    #[test]
    fn separates_table_cells_and_joins_inline_elements() {
        let html = "<table><tr><td>110101</td><td>199003078515</td></tr>\
            <tr><td><b>12</b>34</td><td>5</td></tr></table>";
        assert_eq!(shown(html), "110101\t199003078515\n1234\t5\n");
    }

    #[test]
    fn treats_quoted_greater_than_and_stray_less_than_well() {
        assert_eq!(shown("<a title='x > y'>link</a> 1 < 2"), "link 1 < 2");
        assert_eq!(shown("<p>AT&T &unknown; &#0;</p>"), "AT&T &unknown; &#0;\n");
    }

    #[test]
    fn separates_xml_fields() {
        let mut sink = TextSink::new(1 << 20);
        visible_text("<r><id>123</id><id>456</id></r>", false, &mut sink);
        assert_eq!(sink.take().trim(), "123 456");
    }

    #[test]
    fn reads_the_declared_charset() {
        let page = b"<html><head><meta charset=\"gb2312\"></head><body>\xd6\xd0\xce\xc4</body>";
        assert_eq!(declared_charset(page), Some(encoding_rs::GBK));
        let xml = b"<?xml version=\"1.0\" encoding='Big5'?><a/>";
        assert_eq!(declared_charset(xml), Some(encoding_rs::BIG5));
    }
}
