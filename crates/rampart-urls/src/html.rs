//! A single forward pass over HTML that keeps what link judgement needs: links with their anchor
//! text, forms, password fields, `<base href>`, and the visible text.
//!
//! The tokenizer follows the states of the HTML standard that decide what is markup and what is
//! text (tags with quoted and unquoted attributes, comments including `--!>`, bogus comments,
//! raw-text elements such as `<script>` and `<title>`), so a link cannot hide from it in a way a
//! browser would still render. It builds no tree: an `<a>` is open from its start tag until
//! `</a>` or the next `<a>`, as the adoption agency algorithm ends up doing for links. Outlook's
//! conditional comments (`<!--[if mso]> ... <![endif]-->`) are read as markup, because Outlook
//! renders them and a link hidden there reaches Outlook users.

use std::borrow::Cow;

use memchr::{memchr, memmem};
use url::Url;

use crate::entities;
use crate::link::{self, from_attribute};
use crate::text::{self, MAX_LINKS};
use crate::{Link, LinkSource};

/// [`HtmlScan::visible_text`] keeps at most this many bytes.
pub const MAX_VISIBLE_TEXT: usize = 128 * 1024;
/// Anchor text kept per link.
const MAX_ANCHOR_TEXT: usize = 512;
/// Attributes looked at per tag; later ones are ignored.
const MAX_ATTRIBUTES: usize = 64;

/// What [`scan_html`] found in one HTML part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HtmlScan {
    /// Every link, in document order: `href`s (with their anchor text), resources, form actions,
    /// meta refreshes and URLs written in the text outside links.
    pub links: Vec<Link>,
    /// The text a reader sees, entities decoded, whitespace collapsed, invisible characters
    /// (zero-width spaces, soft hyphens, bidi controls) removed; at most [`MAX_VISIBLE_TEXT`]
    /// bytes. Script, style and title contents are not part of it.
    pub visible_text: String,
    /// The part has an `<input type="password">`.
    pub has_password_form: bool,
    /// Absolute URLs that forms submit to (`<form action>`, `formaction`).
    pub form_actions: Vec<String>,
    /// The `<base href>` relative links were resolved against, if the part has one.
    pub base_url: Option<String>,
}

/// Scans one HTML part. Never fails: malformed HTML yields what a browser would make of it.
///
/// ```
/// let scan = rampart_urls::scan_html(
///     r#"<base href="https://evil.test/kit/"><a href="login.php">Sign&nbsp;in</a>"#,
/// );
/// assert_eq!(scan.links[0].url, "https://evil.test/kit/login.php");
/// assert_eq!(scan.links[0].shown_text.as_deref(), Some("Sign in"));
/// assert_eq!(scan.visible_text, "Sign in");
/// ```
pub fn scan_html(html: &str) -> HtmlScan {
    let mut scanner = Scanner::new(html);
    scanner.run();
    scanner.finish()
}

enum Pending {
    /// An attribute value, resolved once the whole document (and so its base) is known.
    Raw {
        value: String,
        source: LinkSource,
        shown_text: Option<String>,
    },
    Done(Link),
}

/// Text with whitespace collapsed and a byte bound.
struct TextBuffer {
    text: String,
    max: usize,
    space: bool,
}

impl TextBuffer {
    fn new(max: usize) -> Self {
        TextBuffer {
            text: String::new(),
            max,
            space: false,
        }
    }

    fn push(&mut self, s: &str) {
        if s.is_ascii() && self.text.len() + s.len() + 1 < self.max {
            self.push_ascii(s.as_bytes());
            return;
        }
        for c in s.chars() {
            if self.text.len() + 4 > self.max {
                return;
            }
            if c.is_whitespace() {
                self.space = !self.text.is_empty();
                continue;
            }
            if is_invisible(c) {
                continue;
            }
            if self.space {
                if !self.text.ends_with('\n') {
                    self.text.push(' ');
                }
                self.space = false;
            }
            self.text.push(c);
        }
    }

    /// The common case, without per-character decoding; the caller checked the bound.
    fn push_ascii(&mut self, s: &[u8]) {
        let mut words = s
            .split(|b| b.is_ascii_whitespace() || *b == 0x0B)
            .peekable();
        if s.first()
            .is_some_and(|b| b.is_ascii_whitespace() || *b == 0x0B)
        {
            self.space = !self.text.is_empty();
        }
        while let Some(word) = words.next() {
            if !word.is_empty() {
                if self.space {
                    if !self.text.ends_with('\n') {
                        self.text.push(' ');
                    }
                    self.space = false;
                }
                // ASCII bytes: valid UTF-8 one by one.
                self.text.extend(word.iter().map(|&b| char::from(b)));
            }
            if words.peek().is_some() {
                self.space = !self.text.is_empty();
            }
        }
    }

    fn break_line(&mut self) {
        if !self.text.is_empty() && !self.text.ends_with('\n') && self.text.len() < self.max {
            self.text.push('\n');
        }
        self.space = false;
    }

    fn take(&mut self) -> String {
        self.space = false;
        let mut text = std::mem::take(&mut self.text);
        let trimmed = text.trim_end().len();
        text.truncate(trimmed);
        text
    }
}

/// Characters that render as nothing: zero-width spaces and joiners, soft hyphens, bidi controls.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{3164}' | '\u{FEFF}'
        | '\u{FFA0}')
}

fn is_html_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0C | b'\r' | b' ')
}

/// Elements that start a new line or cell when rendered: their text is not glued to the next.
fn breaks_text(name: &str) -> bool {
    matches!(
        name,
        "address"
            | "article"
            | "aside"
            | "blockquote"
            | "body"
            | "br"
            | "center"
            | "dd"
            | "div"
            | "dl"
            | "dt"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "form"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "header"
            | "hr"
            | "li"
            | "main"
            | "nav"
            | "ol"
            | "option"
            | "p"
            | "pre"
            | "section"
            | "table"
            | "tbody"
            | "td"
            | "tfoot"
            | "th"
            | "thead"
            | "tr"
            | "ul"
    )
}

struct Scanner<'a> {
    html: &'a str,
    visible: TextBuffer,
    anchor_text: TextBuffer,
    /// Index in `pending` of the `<a>` whose text is being collected.
    open_anchor: Option<usize>,
    pending: Vec<Pending>,
    base: Option<String>,
    has_password_form: bool,
    attributes: Vec<(&'a str, &'a str)>,
    text_links: Vec<Link>,
}

impl<'a> Scanner<'a> {
    fn new(html: &'a str) -> Self {
        Scanner {
            html,
            visible: TextBuffer::new(MAX_VISIBLE_TEXT),
            anchor_text: TextBuffer::new(MAX_ANCHOR_TEXT),
            open_anchor: None,
            pending: Vec::new(),
            base: None,
            has_password_form: false,
            attributes: Vec::new(),
            text_links: Vec::new(),
        }
    }

    fn run(&mut self) {
        let html = self.html;
        let b = html.as_bytes();
        let mut i = 0;
        let mut text_start = 0;
        while let Some(offset) = memchr(b'<', &b[i..]) {
            let lt = i + offset;
            let end = match (b.get(lt + 1), b.get(lt + 2)) {
                (Some(b'!'), _) => {
                    self.text(text_start, lt);
                    self.markup_declaration(lt)
                }
                (Some(b'?'), _) => {
                    self.text(text_start, lt);
                    bogus_comment_end(b, lt + 2)
                }
                (Some(b'/'), Some(c)) if c.is_ascii_alphabetic() => {
                    self.text(text_start, lt);
                    self.end_tag(lt + 2)
                }
                (Some(b'/'), Some(b'>')) => {
                    self.text(text_start, lt);
                    lt + 3
                }
                (Some(b'/'), Some(_)) => {
                    self.text(text_start, lt);
                    bogus_comment_end(b, lt + 2)
                }
                (Some(c), _) if c.is_ascii_alphabetic() => {
                    self.text(text_start, lt);
                    self.start_tag(lt + 1)
                }
                // `a < b`, `<3`, `</` at the end: text.
                _ => {
                    i = lt + 1;
                    continue;
                }
            };
            i = end.max(lt + 1);
            text_start = i;
        }
        self.text(text_start, b.len());
        self.close_anchor();
    }

    fn finish(mut self) -> HtmlScan {
        let base = self
            .base
            .as_deref()
            .and_then(|b| Url::parse(b.trim()).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https" | "ftp"));
        let mut scan = HtmlScan {
            base_url: base.as_ref().map(|u| u.to_string()),
            has_password_form: self.has_password_form,
            visible_text: self.visible.take(),
            ..HtmlScan::default()
        };
        for pending in self.pending {
            let link = match pending {
                Pending::Raw {
                    value,
                    source,
                    shown_text,
                } => from_attribute(&value, source, base.as_ref(), shown_text),
                Pending::Done(link) => Some(link),
            };
            if let Some(link) = link {
                if link.source == LinkSource::FormAction {
                    scan.form_actions.push(link.url.clone());
                }
                scan.links.push(link);
            }
        }
        scan
    }

    /// Text between `from` and `to`, outside any tag.
    fn text(&mut self, from: usize, to: usize) {
        if from < to {
            if let Some(raw) = self.html.get(from..to) {
                self.text_run(raw, true);
            }
        }
    }

    fn text_run(&mut self, raw: &str, decode: bool) {
        let decoded = if decode {
            entities::decode(raw, false)
        } else {
            Cow::Borrowed(raw)
        };
        self.visible.push(&decoded);
        if self.open_anchor.is_some() {
            self.anchor_text.push(&decoded);
        } else if self.pending.len() < MAX_LINKS {
            // A URL typed in the text is made clickable by most mail clients.
            text::collect(
                &decoded,
                &mut self.text_links,
                MAX_LINKS - self.pending.len(),
            );
            self.pending
                .extend(self.text_links.drain(..).map(Pending::Done));
        }
    }

    /// `lt` is at `<!`.
    fn markup_declaration(&mut self, lt: usize) -> usize {
        let b = self.html.as_bytes();
        if !b[lt..].starts_with(b"<!--") {
            return bogus_comment_end(b, lt + 2);
        }
        let start = lt + 4;
        let rest = &b[start..];
        if rest.starts_with(b">") {
            return start + 1;
        }
        if rest.starts_with(b"->") {
            return start + 2;
        }
        if rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(b"[if") {
            // Outlook's conditional comment: what follows is markup that Outlook renders.
            return memchr(b'>', rest).map_or(b.len(), |gt| start + gt + 1);
        }
        let mut k = start;
        while let Some(offset) = memmem::find(&b[k..], b"--") {
            let dash = k + offset;
            match b.get(dash + 2) {
                Some(b'>') => return dash + 3,
                Some(b'!') if b.get(dash + 3) == Some(&b'>') => return dash + 4,
                _ => k = dash + 1,
            }
        }
        b.len()
    }

    /// `from` is right after `<`. Returns where text starts again.
    fn start_tag(&mut self, from: usize) -> usize {
        let b = self.html.as_bytes();
        let name_end = tag_name_end(b, from);
        let Some(end) = self.attributes(name_end) else {
            return b.len(); // the document ends inside the tag: it is not a tag
        };
        let mut buffer = [0u8; 16];
        let name = lower_name(&b[from..name_end], &mut buffer);
        self.on_start_tag(name);
        match name {
            "script" | "style" | "title" | "iframe" | "noembed" | "noframes" => {
                find_end_tag(b, end, name)
            }
            "textarea" | "xmp" => {
                let close = find_end_tag(b, end, name);
                if let Some(raw) = self.html.get(end..close) {
                    self.text_run(raw, name == "textarea");
                }
                close
            }
            "plaintext" => {
                if let Some(raw) = self.html.get(end..) {
                    self.text_run(raw, false);
                }
                b.len()
            }
            _ => end,
        }
    }

    /// `from` is right after `</`.
    fn end_tag(&mut self, from: usize) -> usize {
        let b = self.html.as_bytes();
        let name_end = tag_name_end(b, from);
        let Some(end) = self.attributes(name_end) else {
            return b.len();
        };
        let mut buffer = [0u8; 16];
        let name = lower_name(&b[from..name_end], &mut buffer);
        if name == "a" {
            self.close_anchor();
        }
        if breaks_text(name) {
            self.visible.break_line();
        }
        end
    }

    /// Reads attributes from `from` to the closing `>` into `self.attributes` (first of each
    /// name wins, as in the standard). Returns the position after `>`, or `None` at the end of
    /// the document.
    fn attributes(&mut self, from: usize) -> Option<usize> {
        let html = self.html;
        let b = html.as_bytes();
        self.attributes.clear();
        let mut j = from;
        loop {
            while j < b.len() && (is_html_space(b[j]) || b[j] == b'/') {
                j += 1;
            }
            match b.get(j) {
                None => return None,
                Some(b'>') => return Some(j + 1),
                Some(_) => {}
            }
            let name_start = j;
            j += 1; // the first character may be `=`
            while j < b.len() && !is_html_space(b[j]) && !matches!(b[j], b'/' | b'>' | b'=') {
                j += 1;
            }
            let name = html.get(name_start..j).unwrap_or("");
            while j < b.len() && is_html_space(b[j]) {
                j += 1;
            }
            let mut value = "";
            if b.get(j) == Some(&b'=') {
                j += 1;
                while j < b.len() && is_html_space(b[j]) {
                    j += 1;
                }
                match b.get(j) {
                    None => return None,
                    Some(&quote @ (b'"' | b'\'')) => {
                        let close = j + 1 + memchr(quote, &b[j + 1..])?;
                        value = html.get(j + 1..close).unwrap_or("");
                        j = close + 1;
                    }
                    Some(b'>') => {}
                    Some(_) => {
                        let value_start = j;
                        while j < b.len() && !is_html_space(b[j]) && b[j] != b'>' {
                            j += 1;
                        }
                        value = html.get(value_start..j).unwrap_or("");
                    }
                }
            }
            if self.attributes.len() < MAX_ATTRIBUTES
                && !self
                    .attributes
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                self.attributes.push((name, value));
            }
        }
    }

    fn attribute(&self, name: &str) -> Option<Cow<'a, str>> {
        self.attributes
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| entities::decode(v, true))
    }

    fn add(&mut self, value: Option<Cow<'a, str>>, source: LinkSource) -> Option<usize> {
        let value = value?;
        if self.pending.len() >= MAX_LINKS {
            return None;
        }
        self.pending.push(Pending::Raw {
            value: link::truncate(&value, link::MAX_URL_LEN).to_string(),
            source,
            shown_text: None,
        });
        Some(self.pending.len() - 1)
    }

    fn on_start_tag(&mut self, name: &str) {
        match name {
            "a" => {
                self.close_anchor();
                self.open_anchor = self.add(self.attribute("href"), LinkSource::Href);
            }
            "area" => {
                self.add(self.attribute("href"), LinkSource::Href);
            }
            "base" if self.base.is_none() => {
                self.base = self.attribute("href").map(Cow::into_owned);
            }
            "img" | "image" | "iframe" | "frame" | "embed" | "script" | "source" | "track"
            | "audio" => {
                self.add(self.attribute("src"), LinkSource::Src);
            }
            "video" => {
                self.add(self.attribute("src"), LinkSource::Src);
                self.add(self.attribute("poster"), LinkSource::Src);
            }
            "object" => {
                self.add(self.attribute("data"), LinkSource::Src);
            }
            "link" => {
                self.add(self.attribute("href"), LinkSource::Src);
            }
            "body" | "table" | "td" | "th" | "tr" => {
                self.add(self.attribute("background"), LinkSource::Src);
            }
            "form" => {
                self.add(self.attribute("action"), LinkSource::FormAction);
            }
            "button" => {
                self.add(self.attribute("formaction"), LinkSource::FormAction);
            }
            "input" => {
                let kind = self.attribute("type");
                let kind = kind.as_deref().map(str::trim).unwrap_or("");
                if kind.eq_ignore_ascii_case("password") {
                    self.has_password_form = true;
                } else if kind.eq_ignore_ascii_case("image") {
                    self.add(self.attribute("src"), LinkSource::Src);
                }
                self.add(self.attribute("formaction"), LinkSource::FormAction);
            }
            "meta" => {
                let refresh = self
                    .attribute("http-equiv")
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("refresh"));
                if refresh {
                    let target = self
                        .attribute("content")
                        .and_then(|c| refresh_target(&c).map(|t| Cow::Owned(t.to_string())));
                    self.add(target, LinkSource::MetaRefresh);
                }
            }
            // VML buttons that Outlook renders: `<v:roundrect href="...">`.
            name if name.contains(':') => {
                self.add(self.attribute("href"), LinkSource::Href);
            }
            _ => {}
        }
        if breaks_text(name) {
            self.visible.break_line();
        }
    }

    fn close_anchor(&mut self) {
        let Some(index) = self.open_anchor.take() else {
            return;
        };
        let text = self.anchor_text.take();
        if let Some(Pending::Raw { shown_text, .. }) = self.pending.get_mut(index) {
            if !text.is_empty() {
                *shown_text = Some(text);
            }
        }
    }
}

/// The end of a tag name: whitespace, `/` or `>`.
fn tag_name_end(b: &[u8], from: usize) -> usize {
    b[from..]
        .iter()
        .position(|&c| is_html_space(c) || c == b'/' || c == b'>')
        .map_or(b.len(), |p| from + p)
}

/// Lower-cases a tag name into `buffer`; names too long for it (no element we look at) are "".
fn lower_name<'b>(name: &[u8], buffer: &'b mut [u8; 16]) -> &'b str {
    if name.len() > buffer.len() || !name.is_ascii() {
        return "";
    }
    let out = &mut buffer[..name.len()];
    out.copy_from_slice(name);
    out.make_ascii_lowercase();
    std::str::from_utf8(out).unwrap_or("")
}

fn bogus_comment_end(b: &[u8], from: usize) -> usize {
    let from = from.min(b.len());
    memchr(b'>', &b[from..]).map_or(b.len(), |gt| from + gt + 1)
}

/// Where the raw text of a `<name>` element ends: at `</name` followed by a space, `/` or `>`.
fn find_end_tag(b: &[u8], from: usize, name: &str) -> usize {
    let mut k = from.min(b.len());
    while let Some(offset) = memmem::find(&b[k..], b"</") {
        let at = k + offset;
        let name_end = at + 2 + name.len();
        let matches_name = b
            .get(at + 2..name_end)
            .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()));
        if matches_name
            && b.get(name_end)
                .is_none_or(|&c| is_html_space(c) || c == b'/' || c == b'>')
        {
            return at;
        }
        k = at + 2;
    }
    b.len()
}

/// The URL of a meta refresh: `5; url='https://example.com/'`.
fn refresh_target(content: &str) -> Option<&str> {
    let (_, rest) = content.split_once([';', ','])?;
    let rest = rest.trim_start();
    let rest = if link::starts_with_ignore_case(rest, "url") {
        rest[3..].trim_start().strip_prefix('=')?.trim_start()
    } else {
        rest
    };
    let rest = match rest.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let inner = &rest[1..];
            inner.split(q).next().unwrap_or(inner)
        }
        _ => rest,
    };
    let rest = rest.trim();
    (!rest.is_empty()).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(scan: &HtmlScan) -> Vec<&str> {
        scan.links.iter().map(|l| l.host.as_str()).collect()
    }

    #[test]
    fn pairs_links_with_their_anchor_text() {
        let scan = scan_html(
            r#"<p>Hi <A HREF='https://a.test/x' class=btn>Open <b>your</b>
               account</a> and <a href=https://b.test/>b.test</a>"#,
        );
        assert_eq!(hosts(&scan), ["a.test", "b.test"]);
        assert_eq!(
            scan.links[0].shown_text.as_deref(),
            Some("Open your account")
        );
        assert_eq!(scan.links[1].shown_text.as_deref(), Some("b.test"));
        assert_eq!(scan.visible_text, "Hi Open your account and b.test");
    }

    #[test]
    fn decodes_entities_in_attributes_and_text() {
        let scan =
            scan_html(r#"<a href="https&#58;//evil&period;test/?a=1&amp;b=2">paypal&#46;com</a>"#);
        assert_eq!(scan.links[0].url, "https://evil.test/?a=1&b=2");
        assert_eq!(scan.links[0].shown_text.as_deref(), Some("paypal.com"));
    }

    #[test]
    fn skips_script_style_title_and_comments() {
        let scan = scan_html(
            "<title>T</title><style>a{}</style><script>var s='<a href=\"http://x.test\">';</script>\
             <!-- <a href='http://y.test'>y</a> --!><p>seen</p><!--->",
        );
        assert!(scan.links.is_empty());
        assert_eq!(scan.visible_text, "seen");
    }

    #[test]
    fn reads_links_inside_outlook_conditional_comments() {
        let scan = scan_html(
            r#"<!--[if mso]><v:roundrect href="https://mso.test/"><![endif]-->
               <!--[if !mso]><!--><a href="https://web.test/">Go</a><!--<![endif]-->"#,
        );
        assert_eq!(hosts(&scan), ["mso.test", "web.test"]);
    }

    #[test]
    fn honours_the_first_base_href_for_every_relative_link() {
        let scan = scan_html(
            r#"<a href="/early">x</a><base href="https://kit.test/a/"><base href="https://no.test/">
               <img src="i.png"><form action="post.php"><input type=password name=p></form>"#,
        );
        assert_eq!(scan.base_url.as_deref(), Some("https://kit.test/a/"));
        let urls: Vec<&str> = scan.links.iter().map(|l| l.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://kit.test/early",
                "https://kit.test/a/i.png",
                "https://kit.test/a/post.php"
            ]
        );
        assert!(scan.has_password_form);
        assert_eq!(scan.form_actions, ["https://kit.test/a/post.php"]);
    }

    #[test]
    fn finds_urls_typed_in_text_but_not_twice_inside_anchors() {
        let scan = scan_html(
            "<p>Go to https://typed.test/x now.</p><a href='https://a.test/'>https://a.test/</a>",
        );
        assert_eq!(hosts(&scan), ["typed.test", "a.test"]);
        assert_eq!(scan.links[0].source, LinkSource::Text);
    }

    #[test]
    fn removes_invisible_characters_from_text() {
        let scan = scan_html("<a href='https://x.test/'>pay\u{200B}pal&shy;.com</a>");
        assert_eq!(scan.links[0].shown_text.as_deref(), Some("paypal.com"));
    }

    #[test]
    fn reads_meta_refresh_targets() {
        assert_eq!(
            refresh_target("0; URL='https://x.test/a'"),
            Some("https://x.test/a")
        );
        assert_eq!(refresh_target("5;https://x.test/"), Some("https://x.test/"));
        assert_eq!(refresh_target("5"), None);
        let scan = scan_html(r#"<meta http-equiv="Refresh" content="0;url=https://r.test/">"#);
        assert_eq!(scan.links[0].source, LinkSource::MetaRefresh);
    }

    #[test]
    fn survives_truncated_markup() {
        for html in [
            "<a href='x",
            "<a",
            "<!--",
            "</",
            "<script>",
            "<a href=x>unclosed",
            "<",
        ] {
            let _ = scan_html(html);
        }
        assert_eq!(scan_html("a < b and <3").visible_text, "a < b and <3");
    }
}
