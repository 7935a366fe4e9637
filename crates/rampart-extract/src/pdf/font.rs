//! PDF fonts as far as text needs them: how a string splits into character codes, what Unicode
//! text each code stands for, and how far each glyph advances (to tell word and line breaks).
//!
//! Unicode comes, in order of preference, from the font's `ToUnicode` CMap; for composite
//! (CID) fonts from a predefined CJK CMap whose codes are themselves a known charset (UCS-2,
//! UTF-16, GBK, Big5, Shift-JIS, EUC-KR); for simple fonts from the `/Encoding` (a base
//! encoding patched by `/Differences` glyph names, as lopdf resolves it), else WinAnsi.

use std::collections::HashMap;

use encoding_rs::Encoding;
use lopdf::{Dictionary, Document, Object};

/// CMap entries kept per font: real fonts map a few thousand codes at most.
const MAX_MAPPINGS: usize = 200_000;
/// Longest Unicode text one code may map to (ligatures map to a few characters).
const MAX_MAPPED_UNITS: usize = 64;

/// A `ToUnicode` (or encoding) CMap: code space ranges and code → text mappings.
#[derive(Default)]
pub(crate) struct CMap {
    /// `(length in bytes, low bytes, high bytes)`.
    codespace: Vec<(u8, [u8; 4], [u8; 4])>,
    /// Codes mapped to one character (nearly all), and to longer text (ligatures).
    chars: HashMap<(u8, u32), char>,
    strings: HashMap<(u8, u32), String>,
    /// `(length, low, high, first target)`, sorted by `(length, low)`.
    ranges: Vec<(u8, u32, u32, RangeTarget)>,
    /// Whether any mapping was read (a CMap stream that parsed to nothing is no help).
    pub mapped: bool,
}

enum RangeTarget {
    /// The first code's text; the next codes increment its last character.
    Incrementing(Vec<u16>),
    /// One text per code.
    Listed(Vec<String>),
}

impl CMap {
    /// Parses CMap syntax; anything it does not understand is skipped.
    pub fn parse(data: &[u8]) -> CMap {
        let mut cmap = CMap::default();
        let mut lexer = CMapLexer { b: data, i: 0 };
        let mut pending: Vec<CMapToken> = Vec::new();
        let mut section: Option<&'static str> = None;
        while let Some(token) = lexer.next() {
            match token {
                CMapToken::Keyword(k) => {
                    match k.as_slice() {
                        b"begincodespacerange" => section = Some("codespace"),
                        b"beginbfchar" => section = Some("bfchar"),
                        b"beginbfrange" => section = Some("bfrange"),
                        b"endcodespacerange" | b"endbfchar" | b"endbfrange" => section = None,
                        _ => {}
                    }
                    pending.clear();
                }
                CMapToken::Other => {}
                token => {
                    if section.is_none() {
                        continue;
                    }
                    pending.push(token);
                    let needed = if section == Some("bfrange") { 3 } else { 2 };
                    if pending.len() == needed {
                        cmap.add(section.unwrap_or(""), &pending);
                        pending.clear();
                    }
                }
            }
            if cmap.chars.len() + cmap.strings.len() + cmap.ranges.len() > MAX_MAPPINGS {
                break;
            }
        }
        cmap.ranges.sort_by_key(|r| (r.0, r.1));
        cmap.mapped = !cmap.chars.is_empty() || !cmap.strings.is_empty() || !cmap.ranges.is_empty();
        cmap
    }

    fn add(&mut self, section: &str, t: &[CMapToken]) {
        let code = |t: &CMapToken| match t {
            CMapToken::Hex(b) if (1..=4).contains(&b.len()) => Some((
                b.len() as u8,
                b.iter().fold(0u32, |n, &x| (n << 8) | u32::from(x)),
            )),
            _ => None,
        };
        match section {
            "codespace" => {
                if let (CMapToken::Hex(lo), CMapToken::Hex(hi)) = (&t[0], &t[1]) {
                    if lo.len() == hi.len()
                        && (1..=4).contains(&lo.len())
                        && self.codespace.len() < 64
                    {
                        let mut l = [0u8; 4];
                        let mut h = [0u8; 4];
                        l[..lo.len()].copy_from_slice(lo);
                        h[..hi.len()].copy_from_slice(hi);
                        self.codespace.push((lo.len() as u8, l, h));
                    }
                }
            }
            "bfchar" => {
                if let (Some((len, code)), Some(text)) = (code(&t[0]), target_text(&t[1])) {
                    let mut chars = text.chars();
                    match (chars.next(), chars.next()) {
                        (Some(c), None) => {
                            self.chars.insert((len, code), c);
                        }
                        _ => {
                            self.strings.insert((len, code), text);
                        }
                    }
                }
            }
            "bfrange" => {
                let (Some((len, lo)), Some((hlen, hi))) = (code(&t[0]), code(&t[1])) else {
                    return;
                };
                if len != hlen || hi < lo {
                    return;
                }
                let target = match &t[2] {
                    CMapToken::Hex(b) => {
                        let units = utf16_units(b);
                        if units.is_empty() || units.len() > MAX_MAPPED_UNITS {
                            return;
                        }
                        RangeTarget::Incrementing(units)
                    }
                    CMapToken::Array(items) => RangeTarget::Listed(
                        items
                            .iter()
                            .map(|b| decode_utf16(&utf16_units(b)))
                            .collect(),
                    ),
                    _ => return,
                };
                self.ranges.push((len, lo, hi, target));
            }
            _ => {}
        }
    }

    /// The byte length of the code starting at `bytes[0]`, by the code space ranges; `None`
    /// if the CMap declares none.
    pub fn code_len(&self, bytes: &[u8]) -> Option<usize> {
        if self.codespace.is_empty() {
            return None;
        }
        for &(len, lo, hi) in &self.codespace {
            let len = usize::from(len);
            if let Some(code) = bytes.get(..len) {
                if code
                    .iter()
                    .enumerate()
                    .all(|(i, &b)| lo[i] <= b && b <= hi[i])
                {
                    return Some(len);
                }
            }
        }
        // No range matches: take as many bytes as the shortest range (PDF 32000 9.7.6.3).
        self.codespace.iter().map(|c| usize::from(c.0)).min()
    }

    /// The code lengths this CMap maps, when it declares no code space.
    fn mapped_len(&self) -> Option<usize> {
        self.chars
            .keys()
            .chain(self.strings.keys())
            .map(|k| k.0)
            .chain(self.ranges.iter().map(|r| r.0))
            .next()
            .map(usize::from)
    }

    /// Appends the text of one code; `false` if the CMap does not map it.
    pub fn lookup(&self, len: u8, code: u32, out: &mut String) -> bool {
        if let Some(c) = self.chars.get(&(len, code)) {
            out.push(*c);
            return true;
        }
        if let Some(text) = self.strings.get(&(len, code)) {
            out.push_str(text);
            return true;
        }
        let at = self.ranges.partition_point(|r| (r.0, r.1) <= (len, code));
        let Some((rlen, lo, hi, target)) = at.checked_sub(1).map(|i| &self.ranges[i]) else {
            return false;
        };
        if *rlen != len || code < *lo || code > *hi {
            return false;
        }
        let offset = code - lo;
        match target {
            RangeTarget::Incrementing(units) if units.len() == 1 => {
                match char::from_u32(u32::from(units[0]).saturating_add(offset)) {
                    Some(c) => {
                        out.push(c);
                        true
                    }
                    None => false,
                }
            }
            RangeTarget::Incrementing(units) => {
                let base = decode_utf16(units);
                let mut chars: Vec<char> = base.chars().collect();
                if let Some(last) = chars.last_mut() {
                    match char::from_u32(u32::from(*last).saturating_add(offset)) {
                        Some(c) => *last = c,
                        None => return false,
                    }
                }
                out.extend(chars);
                true
            }
            RangeTarget::Listed(texts) => match texts.get(offset as usize) {
                Some(text) => {
                    out.push_str(text);
                    true
                }
                None => false,
            },
        }
    }
}

fn utf16_units(b: &[u8]) -> Vec<u16> {
    b.chunks(2)
        .take(MAX_MAPPED_UNITS)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
        .collect()
}

fn decode_utf16(units: &[u16]) -> String {
    String::from_utf16_lossy(units)
}

fn target_text(t: &CMapToken) -> Option<String> {
    match t {
        CMapToken::Hex(b) => Some(decode_utf16(&utf16_units(b))),
        CMapToken::Name(n) => glyph_text(n),
        _ => None,
    }
}

enum CMapToken {
    Hex(Vec<u8>),
    Name(Vec<u8>),
    Array(Vec<Vec<u8>>),
    Keyword(Vec<u8>),
    Other,
}

struct CMapLexer<'a> {
    b: &'a [u8],
    i: usize,
}

impl CMapLexer<'_> {
    fn next(&mut self) -> Option<CMapToken> {
        let b = self.b;
        while self.i < b.len() {
            let c = b[self.i];
            if c.is_ascii_whitespace() || c == 0 {
                self.i += 1;
            } else if c == b'%' {
                while self.i < b.len() && !matches!(b[self.i], b'\n' | b'\r') {
                    self.i += 1;
                }
            } else {
                break;
            }
        }
        let c = *b.get(self.i)?;
        Some(match c {
            b'<' if b.get(self.i + 1) == Some(&b'<') => {
                self.i += 2;
                CMapToken::Other
            }
            b'<' => CMapToken::Hex(self.hex()),
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    while self.i < b.len() && (b[self.i].is_ascii_whitespace() || b[self.i] == 0) {
                        self.i += 1;
                    }
                    match b.get(self.i) {
                        Some(b'<') => {
                            let hex = self.hex();
                            if items.len() < 65_536 {
                                items.push(hex);
                            }
                        }
                        Some(b']') => {
                            self.i += 1;
                            break;
                        }
                        None => break,
                        Some(_) => {
                            // Anything else in an array: skip one byte.
                            self.i += 1;
                        }
                    }
                }
                CMapToken::Array(items)
            }
            b'/' => {
                self.i += 1;
                let start = self.i;
                while self.i < b.len() && is_regular(b[self.i]) {
                    self.i += 1;
                }
                CMapToken::Name(b[start..self.i].to_vec())
            }
            b'(' => {
                // Literal strings do not occur in the mappings we read; skip balanced.
                let mut depth = 0usize;
                while self.i < b.len() {
                    match b[self.i] {
                        b'\\' => self.i += 1,
                        b'(' => depth += 1,
                        b')' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                self.i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
                CMapToken::Other
            }
            c if is_regular(c) => {
                let start = self.i;
                while self.i < b.len() && is_regular(b[self.i]) {
                    self.i += 1;
                }
                let word = &b[start..self.i];
                if word
                    .iter()
                    .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+'))
                {
                    CMapToken::Other
                } else {
                    CMapToken::Keyword(word.to_vec())
                }
            }
            _ => {
                self.i += 1;
                CMapToken::Other
            }
        })
    }

    /// A hex string at `<`; odd digit counts get a trailing zero, as PDF says.
    fn hex(&mut self) -> Vec<u8> {
        let b = self.b;
        self.i += 1;
        let mut out = Vec::new();
        let mut high: Option<u8> = None;
        while self.i < b.len() {
            let c = b[self.i];
            self.i += 1;
            if c == b'>' {
                break;
            }
            let Some(v) = (c as char).to_digit(16) else {
                continue;
            };
            match high.take() {
                Some(h) => {
                    if out.len() < 1024 {
                        out.push((h << 4) | v as u8);
                    }
                }
                None => high = Some(v as u8),
            }
        }
        if let Some(h) = high {
            out.push(h << 4);
        }
        out
    }
}

pub(crate) fn is_regular(c: u8) -> bool {
    !(c.is_ascii_whitespace()
        || c == 0
        || matches!(
            c,
            b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
        ))
}

/// The text a glyph name in a CMap stands for: `uniXXXX`, `uXXXX[XX]`, names with a suffix
/// (`uni0031.sc`) or ligature parts (`uni0066_uni0069`), and the few plain names CMaps use.
/// (Font `/Differences` names go through lopdf's Adobe Glyph List.)
pub(crate) fn glyph_text(name: &[u8]) -> Option<String> {
    let base = name.split(|&c| c == b'.').next().unwrap_or(name);
    if base.contains(&b'_') {
        let parts: Option<String> = base.split(|&c| c == b'_').map(glyph_text).collect();
        return parts;
    }
    let text = std::str::from_utf8(base).ok()?;
    match text {
        "space" => return Some(" ".into()),
        "hyphen" => return Some("-".into()),
        _ if text.len() == 1 && text.is_ascii() => return Some(text.into()),
        _ => {}
    }
    if let Some(hex) = text.strip_prefix("uni") {
        if hex.len() >= 4 && hex.len() % 4 == 0 {
            let units: Option<Vec<u16>> = (0..hex.len() / 4)
                .map(|i| u16::from_str_radix(&hex[i * 4..i * 4 + 4], 16).ok())
                .collect();
            return units.map(|u| String::from_utf16_lossy(&u));
        }
    }
    if let Some(hex) = text.strip_prefix('u') {
        if (4..=6).contains(&hex.len()) {
            return u32::from_str_radix(hex, 16)
                .ok()
                .and_then(char::from_u32)
                .map(String::from);
        }
    }
    None
}

/// How a composite font's codes become text when it has no `ToUnicode`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CidCodes {
    /// `Identity-H/V`: codes are glyph ids; without `ToUnicode` there is no text.
    Identity,
    /// Codes are UTF-16BE (`Uni*-UCS2-*`, `Uni*-UTF16-*`).
    Utf16,
    /// Codes are bytes of a legacy CJK charset (`GBK-EUC-H`, `B5pc-H`, `90ms-RKSJ-H`, ...).
    Charset(&'static Encoding),
}

enum Kind {
    Simple {
        table: Box<[Option<char>; 256]>,
    },
    Composite {
        codes: CidCodes,
        /// An embedded encoding CMap, for its code space.
        encoding_cmap: Option<CMap>,
    },
}

/// One font, ready to decode strings shown with it.
pub(crate) struct Font {
    kind: Kind,
    to_unicode: Option<CMap>,
    /// Glyph widths in text space units per unit of font size.
    widths: Widths,
    pub vertical: bool,
}

enum Widths {
    Simple {
        first: u32,
        widths: Vec<f32>,
        missing: f32,
    },
    Cid {
        ranges: Vec<(u32, u32, f32)>,
        default: f32,
    },
}

/// Where a decoded code came from, for the unmapped-glyph count.
pub(crate) struct Decoded {
    pub mapped: bool,
}

impl Font {
    /// A font with nothing known: WinAnsi, average widths.
    pub fn fallback() -> Font {
        Font {
            kind: Kind::Simple {
                table: win_ansi_table(),
            },
            to_unicode: None,
            widths: Widths::Simple {
                first: 0,
                widths: Vec::new(),
                missing: 0.5,
            },
            vertical: false,
        }
    }

    /// Reads a font dictionary. `stream_bytes` decodes a stream (ToUnicode, embedded CMap)
    /// within the extraction's budget.
    pub fn load(
        doc: &Document,
        dict: &Dictionary,
        stream_bytes: &mut dyn FnMut(&Object) -> Option<Vec<u8>>,
    ) -> Font {
        let subtype = dict
            .get(b"Subtype")
            .and_then(Object::as_name)
            .unwrap_or(b"");
        let to_unicode = dict
            .get(b"ToUnicode")
            .ok()
            .and_then(&mut *stream_bytes)
            .map(|d| CMap::parse(&d))
            .filter(|c| c.mapped || !c.codespace.is_empty());
        if subtype == b"Type0" {
            return Font::composite(doc, dict, to_unicode, stream_bytes);
        }
        let type3_scale = if subtype == b"Type3" {
            deref(doc, dict.get(b"FontMatrix").ok())
                .and_then(|m| m.as_array().ok())
                .and_then(|m| m.first().and_then(number))
                .unwrap_or(0.001)
        } else {
            0.001
        };
        let base_font = dict
            .get(b"BaseFont")
            .and_then(Object::as_name)
            .unwrap_or(b"");
        let table = simple_table(doc, dict);
        let first = deref(doc, dict.get(b"FirstChar").ok())
            .and_then(number)
            .unwrap_or(0.0);
        let widths = deref(doc, dict.get(b"Widths").ok())
            .and_then(|w| w.as_array().ok())
            .map(|w| {
                w.iter()
                    .take(65_536)
                    .map(|x| deref(doc, Some(x)).and_then(number).unwrap_or(0.0) * type3_scale)
                    .collect()
            })
            .unwrap_or_default();
        let descriptor =
            deref(doc, dict.get(b"FontDescriptor").ok()).and_then(|d| d.as_dict().ok());
        let missing = descriptor
            .and_then(|d| deref(doc, d.get(b"MissingWidth").ok()))
            .and_then(number)
            .filter(|w| *w > 0.0)
            .map(|w| w * type3_scale)
            .unwrap_or(if memchr::memmem::find(base_font, b"Courier").is_some() {
                0.6
            } else {
                0.5
            });
        Font {
            kind: Kind::Simple { table },
            to_unicode,
            widths: Widths::Simple {
                first: first.max(0.0) as u32,
                widths,
                missing,
            },
            vertical: false,
        }
    }

    fn composite(
        doc: &Document,
        dict: &Dictionary,
        to_unicode: Option<CMap>,
        stream_bytes: &mut dyn FnMut(&Object) -> Option<Vec<u8>>,
    ) -> Font {
        let mut codes = CidCodes::Identity;
        let mut encoding_cmap = None;
        let mut vertical = false;
        match dict.get(b"Encoding") {
            Ok(Object::Name(name)) => {
                vertical = name.ends_with(b"-V");
                codes = predefined_cmap(name);
            }
            Ok(o) => {
                if let Some(data) = stream_bytes(o) {
                    encoding_cmap = Some(CMap::parse(&data));
                }
                if let Some(Object::Stream(s)) = deref(doc, Some(o)) {
                    if let Ok(Object::Name(name)) = s.dict.get(b"CMapName") {
                        vertical = name.ends_with(b"-V");
                    }
                }
            }
            Err(_) => {}
        }
        let descendant = deref(doc, dict.get(b"DescendantFonts").ok())
            .and_then(|d| d.as_array().ok())
            .and_then(|a| deref(doc, a.first()))
            .and_then(|d| d.as_dict().ok());
        let default = descendant
            .and_then(|d| deref(doc, d.get(b"DW").ok()))
            .and_then(number)
            .unwrap_or(1000.0)
            / 1000.0;
        let mut ranges = Vec::new();
        if let Some(w) = descendant
            .and_then(|d| deref(doc, d.get(b"W").ok()))
            .and_then(|w| w.as_array().ok())
        {
            let mut i = 0;
            while i + 1 < w.len() && ranges.len() < 65_536 {
                let first = deref(doc, Some(&w[i]))
                    .and_then(number)
                    .unwrap_or(0.0)
                    .max(0.0) as u32;
                match deref(doc, Some(&w[i + 1])) {
                    Some(Object::Array(list)) => {
                        for (k, width) in list.iter().take(65_536).enumerate() {
                            let width =
                                deref(doc, Some(width)).and_then(number).unwrap_or(1000.0) / 1000.0;
                            let cid = first.saturating_add(k as u32);
                            ranges.push((cid, cid, width));
                        }
                        i += 2;
                    }
                    Some(last) => {
                        let last = number(last).unwrap_or(0.0).max(0.0) as u32;
                        let width = w
                            .get(i + 2)
                            .and_then(|x| deref(doc, Some(x)))
                            .and_then(number)
                            .unwrap_or(1000.0)
                            / 1000.0;
                        ranges.push((first, last, width));
                        i += 3;
                    }
                    None => break,
                }
            }
        }
        ranges.sort_by_key(|r| r.0);
        Font {
            kind: Kind::Composite {
                codes,
                encoding_cmap,
            },
            to_unicode,
            widths: Widths::Cid { ranges, default },
            vertical,
        }
    }

    /// The byte length of the code at the start of `bytes`.
    fn code_len(&self, bytes: &[u8]) -> usize {
        let len = match &self.kind {
            Kind::Simple { .. } => 1,
            Kind::Composite {
                codes,
                encoding_cmap,
            } => encoding_cmap
                .as_ref()
                .and_then(|c| c.code_len(bytes))
                .or_else(|| self.to_unicode.as_ref().and_then(|c| c.code_len(bytes)))
                .unwrap_or_else(|| match codes {
                    CidCodes::Charset(encoding) => charset_code_len(encoding, bytes),
                    _ => self
                        .to_unicode
                        .as_ref()
                        .and_then(CMap::mapped_len)
                        .unwrap_or(2),
                }),
        };
        len.clamp(1, 4)
    }

    /// Splits `bytes` into codes and decodes each: `each(text of the code, code, length,
    /// mapped)`. Text of unmapped codes is empty.
    pub fn decode(&self, bytes: &[u8], mut each: impl FnMut(&str, u32, usize, Decoded)) {
        let mut i = 0;
        let mut text = String::new();
        while i < bytes.len() {
            let len = self.code_len(&bytes[i..]).min(bytes.len() - i);
            let raw = &bytes[i..i + len];
            let code = raw.iter().fold(0u32, |n, &b| (n << 8) | u32::from(b));
            text.clear();
            let mut mapped = self
                .to_unicode
                .as_ref()
                .is_some_and(|c| c.lookup(len as u8, code, &mut text));
            if !mapped {
                mapped = match &self.kind {
                    Kind::Simple { table } => match table[usize::from(raw[0])] {
                        Some(c) => {
                            text.push(c);
                            true
                        }
                        None => false,
                    },
                    Kind::Composite { codes, .. } => match codes {
                        CidCodes::Identity => false,
                        CidCodes::Utf16 => {
                            text.push_str(&String::from_utf16_lossy(&utf16_units(raw)));
                            true
                        }
                        CidCodes::Charset(encoding) => {
                            let (decoded, _, bad) = encoding.decode(raw);
                            if !bad {
                                text.push_str(&decoded);
                            }
                            !bad
                        }
                    },
                };
            }
            each(&text, code, len, Decoded { mapped });
            i += len;
        }
    }

    /// Horizontal (or, for vertical fonts, vertical) advance of a code, per unit of font size.
    pub fn width(&self, code: u32) -> f32 {
        if self.vertical {
            return 1.0;
        }
        match &self.widths {
            Widths::Simple {
                first,
                widths,
                missing,
            } => code
                .checked_sub(*first)
                .and_then(|i| widths.get(i as usize))
                .copied()
                .filter(|w| *w > 0.0)
                .unwrap_or(*missing),
            Widths::Cid { ranges, default } => {
                let at = ranges.partition_point(|r| r.0 <= code);
                at.checked_sub(1)
                    .map(|i| ranges[i])
                    .filter(|r| code <= r.1)
                    .map_or(*default, |r| r.2)
            }
        }
    }

    /// Whether word spacing (`Tw`) applies: single-byte code 32 only.
    pub fn is_word_space(&self, code: u32, len: usize) -> bool {
        code == 32 && len == 1
    }
}

/// Windows-1252 (which WinAnsiEncoding is, give or take unused codes); no text for controls.
fn win_ansi_table() -> Box<[Option<char>; 256]> {
    let mut table = Box::new([None; 256]);
    for (code, slot) in table.iter_mut().enumerate().skip(0x20) {
        let byte = [code as u8];
        let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&byte);
        *slot = text.chars().next();
    }
    table
}

/// A simple font's code → character table: its `/Encoding` (name, or base encoding with
/// `/Differences`) as lopdf resolves it, code by code; WinAnsi when it has none. A code whose
/// glyph name means nothing (`/g12` in a Type 3 font) maps to nothing.
fn simple_table(doc: &Document, dict: &Dictionary) -> Box<[Option<char>; 256]> {
    let mut table = win_ansi_table();
    if !dict.has(b"Encoding") {
        return table;
    }
    let Ok(encoding) = dict.get_font_encoding_with_limit(doc, 1 << 20) else {
        return table;
    };
    let mut resolved = Box::new([None; 256]);
    for (code, slot) in resolved.iter_mut().enumerate() {
        match encoding.bytes_to_string(&[code as u8]) {
            Ok(text) => {
                let mut chars = text.chars();
                *slot = match (chars.next(), chars.next()) {
                    (Some(c), None) if !c.is_control() => Some(c),
                    _ => None,
                };
            }
            // An encoding lopdf cannot apply: WinAnsi is the better guess.
            Err(_) => return table,
        }
    }
    std::mem::swap(&mut table, &mut resolved);
    table
}

/// What the codes of a predefined CMap are.
fn predefined_cmap(name: &[u8]) -> CidCodes {
    let name = String::from_utf8_lossy(name);
    let label = if name.starts_with("Identity") {
        return CidCodes::Identity;
    } else if name.contains("UCS2") || name.contains("UTF16") {
        return CidCodes::Utf16;
    } else if name.starts_with("GB") {
        "gbk"
    } else if name.starts_with("B5") || name.starts_with("ETen") || name.starts_with("HKscs") {
        "big5"
    } else if name.contains("RKSJ") {
        "shift_jis"
    } else if name.starts_with("KSC") {
        "euc-kr"
    } else if name.starts_with("EUC") {
        "euc-jp"
    } else {
        return CidCodes::Identity;
    };
    Encoding::for_label(label.as_bytes()).map_or(CidCodes::Identity, CidCodes::Charset)
}

/// Code lengths of the legacy CJK charsets: a lead byte starts a two-byte code.
fn charset_code_len(encoding: &'static Encoding, bytes: &[u8]) -> usize {
    let b = bytes[0];
    let double = match encoding.name() {
        "Shift_JIS" => matches!(b, 0x81..=0x9F | 0xE0..=0xFC),
        "EUC-KR" | "EUC-JP" => b >= 0xA1,
        _ => (0x81..=0xFE).contains(&b),
    };
    if double {
        2
    } else {
        1
    }
}

/// Follows references (a few hops).
pub(crate) fn deref<'a>(doc: &'a Document, object: Option<&'a Object>) -> Option<&'a Object> {
    let mut object = object?;
    for _ in 0..8 {
        match object {
            Object::Reference(id) => object = doc.get_object(*id).ok()?,
            _ => return Some(object),
        }
    }
    None
}

pub(crate) fn number(object: &Object) -> Option<f32> {
    match object {
        Object::Integer(i) => Some(*i as f32),
        Object::Real(r) if r.is_finite() => Some(*r),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bfchar_and_bfrange_mappings() {
        let cmap = CMap::parse(
            b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n\
              1 begincodespacerange <0000> <FFFF> endcodespacerange\n\
              2 beginbfchar <0003> <0020> <0010> <8EAB> endbfchar\n\
              2 beginbfrange <0020> <0022> <4E2D> <0030> <0031> [<6587> <D83DDE00>] endbfrange\n\
              endcmap",
        );
        let text = |code: u32| {
            let mut s = String::new();
            cmap.lookup(2, code, &mut s).then_some(s)
        };
        assert_eq!(text(0x0010).as_deref(), Some("身"));
        assert_eq!(text(0x0003).as_deref(), Some(" "));
        assert_eq!(text(0x0021).as_deref(), Some("\u{4E2E}"));
        assert_eq!(text(0x0030).as_deref(), Some("文"));
        assert_eq!(text(0x0031).as_deref(), Some("😀"));
        assert_eq!(text(0x0040), None);
        assert_eq!(cmap.code_len(b"\x00\x10"), Some(2));
    }

    #[test]
    fn reads_glyph_names() {
        assert_eq!(glyph_text(b"A").as_deref(), Some("A"));
        assert_eq!(glyph_text(b"space").as_deref(), Some(" "));
        assert_eq!(glyph_text(b"uni8EAB").as_deref(), Some("身"));
        assert_eq!(glyph_text(b"u1F600").as_deref(), Some("😀"));
        assert_eq!(glyph_text(b"uni0031.sc").as_deref(), Some("1"));
        assert_eq!(glyph_text(b"f_i").as_deref(), Some("fi"));
        assert_eq!(glyph_text(b"g12"), None);
    }

    #[test]
    fn tells_predefined_cmaps_apart() {
        assert!(predefined_cmap(b"Identity-H") == CidCodes::Identity);
        assert!(predefined_cmap(b"UniGB-UCS2-H") == CidCodes::Utf16);
        assert!(predefined_cmap(b"GBK-EUC-H") == CidCodes::Charset(encoding_rs::GBK));
        assert!(predefined_cmap(b"90ms-RKSJ-H") == CidCodes::Charset(encoding_rs::SHIFT_JIS));
    }
}
