//! A content-stream walker: tokens in, text out. It keeps the graphics and text state that
//! decides where glyphs land (CTM, text matrix, font, size, spacing) so that it can tell a word
//! gap or a new line from glyphs that merely continue the previous string, and so keeps the
//! digits of one number together and the numbers of two table cells apart. No operation list is
//! built: memory is the operand stack, whatever the stream's size.

use std::borrow::Cow;

use super::font::is_regular;

/// Operands kept before an operator; more is garbage and ignored.
const MAX_OPERANDS: usize = 64;
/// Elements kept of one array operand (a `TJ` array).
const MAX_ARRAY: usize = 1 << 16;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand<'a> {
    Number(f32),
    Name(&'a [u8]),
    Str(Cow<'a, [u8]>),
    Array(Vec<Operand<'a>>),
    Other,
}

impl Operand<'_> {
    pub fn number(&self) -> Option<f32> {
        match self {
            Operand::Number(n) => Some(*n),
            _ => None,
        }
    }
}

/// One step of a content stream: an operator with its operands.
pub(crate) struct Lexer<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Lexer { b, i: 0 }
    }

    fn skip_space(&mut self) {
        let b = self.b;
        while self.i < b.len() {
            match b[self.i] {
                b' ' | b'\t' | b'\n' | b'\r' | b'\x0C' | 0 => self.i += 1,
                b'%' => {
                    while self.i < b.len() && !matches!(b[self.i], b'\n' | b'\r') {
                        self.i += 1;
                    }
                }
                _ => break,
            }
        }
    }

    /// The next operator and its operands (in `operands`, cleared first); `None` at the end.
    pub fn next_op(&mut self, operands: &mut Vec<Operand<'a>>) -> Option<&'a [u8]> {
        operands.clear();
        loop {
            self.skip_space();
            let c = *self.b.get(self.i)?;
            if is_regular(c) && !is_number_start(c) {
                let start = self.i;
                while self.i < self.b.len() && is_regular(self.b[self.i]) {
                    self.i += 1;
                }
                let op = &self.b[start..self.i];
                if op == b"ID" {
                    self.skip_inline_image();
                }
                return Some(op);
            }
            let operand = self.operand(0);
            if operands.len() < MAX_OPERANDS {
                operands.push(operand);
            }
        }
    }

    /// One operand at the current position (never an operator).
    fn operand(&mut self, depth: u32) -> Operand<'a> {
        let b = self.b;
        let c = b[self.i];
        match c {
            b'(' => Operand::Str(self.literal()),
            b'<' if b.get(self.i + 1) == Some(&b'<') => {
                self.skip_dict();
                Operand::Other
            }
            b'<' => Operand::Str(Cow::Owned(self.hex())),
            b'/' => {
                self.i += 1;
                let start = self.i;
                while self.i < b.len() && is_regular(b[self.i]) {
                    self.i += 1;
                }
                Operand::Name(&b[start..self.i])
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_space();
                    match b.get(self.i) {
                        None => break,
                        Some(b']') => {
                            self.i += 1;
                            break;
                        }
                        Some(&c) if is_regular(c) && !is_number_start(c) => {
                            // An operator inside an array: the array was never closed.
                            break;
                        }
                        Some(_) => {
                            let item = if depth < 4 {
                                self.operand(depth + 1)
                            } else {
                                self.i += 1;
                                Operand::Other
                            };
                            if items.len() < MAX_ARRAY {
                                items.push(item);
                            }
                        }
                    }
                }
                Operand::Array(items)
            }
            c if is_number_start(c) => {
                let start = self.i;
                self.i += 1;
                while self.i < b.len() && matches!(b[self.i], b'0'..=b'9' | b'.' | b'-' | b'+') {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&b[start..self.i]).unwrap_or("0");
                let n = text.parse::<f32>().unwrap_or_else(|_| lenient_number(text));
                Operand::Number(if n.is_finite() { n } else { 0.0 })
            }
            _ => {
                // `)`, `>`, `]`, `{`, `}` out of place.
                self.i += 1;
                Operand::Other
            }
        }
    }

    /// A literal string at `(`: nested parentheses, escapes, octal codes.
    fn literal(&mut self) -> Cow<'a, [u8]> {
        let b = self.b;
        let start = self.i + 1;
        let mut i = start;
        let mut depth = 1usize;
        let mut plain = true;
        while i < b.len() {
            match b[i] {
                b'\\' => {
                    plain = false;
                    i += 2;
                    continue;
                }
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                b'\r' => plain = false,
                _ => {}
            }
            i += 1;
        }
        let end = i.min(b.len());
        self.i = (end + 1).min(b.len());
        let raw = &b[start..end];
        if plain {
            return Cow::Borrowed(raw);
        }
        let mut out = Vec::with_capacity(raw.len());
        let mut j = 0;
        while j < raw.len() {
            let c = raw[j];
            j += 1;
            if c == b'\r' {
                // End-of-line in a string is a single newline.
                out.push(b'\n');
                if raw.get(j) == Some(&b'\n') {
                    j += 1;
                }
                continue;
            }
            if c != b'\\' {
                out.push(c);
                continue;
            }
            let Some(&e) = raw.get(j) else {
                break;
            };
            j += 1;
            match e {
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'b' => out.push(8),
                b'f' => out.push(12),
                b'0'..=b'7' => {
                    let mut v = u32::from(e - b'0');
                    for _ in 0..2 {
                        match raw.get(j) {
                            Some(&d @ b'0'..=b'7') => {
                                v = v * 8 + u32::from(d - b'0');
                                j += 1;
                            }
                            _ => break,
                        }
                    }
                    out.push((v & 0xFF) as u8);
                }
                b'\r' => {
                    if raw.get(j) == Some(&b'\n') {
                        j += 1;
                    }
                }
                b'\n' => {}
                other => out.push(other),
            }
        }
        Cow::Owned(out)
    }

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
                Some(h) => out.push((h << 4) | v as u8),
                None => high = Some(v as u8),
            }
        }
        if let Some(h) = high {
            out.push(h << 4);
        }
        out
    }

    /// Skips a `<< ... >>` dictionary (marked-content properties), nested ones included.
    fn skip_dict(&mut self) {
        let b = self.b;
        let mut depth = 0usize;
        while self.i < b.len() {
            match b[self.i] {
                b'<' if b.get(self.i + 1) == Some(&b'<') => {
                    depth += 1;
                    self.i += 2;
                }
                b'>' if b.get(self.i + 1) == Some(&b'>') => {
                    self.i += 2;
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                b'(' => {
                    let _ = self.literal();
                }
                _ => self.i += 1,
            }
        }
    }

    /// Inline image data after `ID`: binary up to an `EI` that stands alone.
    fn skip_inline_image(&mut self) {
        let b = self.b;
        let mut from = self.i + 1;
        while let Some(off) = memchr::memmem::find(&b[from.min(b.len())..], b"EI") {
            let at = from + off;
            let before = at == 0 || b[at - 1].is_ascii_whitespace();
            let after = b.get(at + 2).is_none_or(|c| c.is_ascii_whitespace());
            if before && after {
                self.i = at + 2;
                return;
            }
            from = at + 2;
        }
        self.i = b.len();
    }
}

fn is_number_start(c: u8) -> bool {
    matches!(c, b'0'..=b'9' | b'.' | b'-' | b'+')
}

/// Numbers PDF writers get wrong (`--5`, `1.2.3`, `5-`): the leading valid part, else 0.
fn lenient_number(text: &str) -> f32 {
    let t = text.trim_start_matches(['-', '+']);
    let neg = text.starts_with('-');
    let mut end = 0;
    let mut dot = false;
    for (i, c) in t.char_indices() {
        match c {
            '0'..='9' => end = i + 1,
            '.' if !dot => {
                dot = true;
                end = i + 1;
            }
            _ => break,
        }
    }
    let v = t[..end].parse::<f32>().unwrap_or(0.0);
    if neg {
        -v
    } else {
        v
    }
}

/// An affine matrix `[a b c d e f]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Matrix(pub [f32; 6]);

impl Matrix {
    pub const IDENTITY: Matrix = Matrix([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);

    pub fn from_operands(ops: &[Operand]) -> Option<Matrix> {
        if ops.len() < 6 {
            return None;
        }
        let mut m = [0f32; 6];
        for (slot, op) in m.iter_mut().zip(&ops[ops.len() - 6..]) {
            *slot = op.number()?;
        }
        Some(Matrix(m))
    }

    /// `self × other`: first `self`, then `other`.
    pub fn then(self, other: Matrix) -> Matrix {
        let [a1, b1, c1, d1, e1, f1] = self.0;
        let [a2, b2, c2, d2, e2, f2] = other.0;
        let m = Matrix([
            a1 * a2 + b1 * c2,
            a1 * b2 + b1 * d2,
            c1 * a2 + d1 * c2,
            c1 * b2 + d1 * d2,
            e1 * a2 + f1 * c2 + e2,
            e1 * b2 + f1 * d2 + f2,
        ]);
        if m.0.iter().all(|v| v.is_finite()) {
            m
        } else {
            Matrix::IDENTITY
        }
    }

    pub fn translate(tx: f32, ty: f32) -> Matrix {
        Matrix([1.0, 0.0, 0.0, 1.0, tx, ty])
    }

    /// Where the origin lands.
    pub fn origin(self) -> (f32, f32) {
        (self.0[4], self.0[5])
    }

    /// How much a unit along y is stretched (for font size in device space).
    pub fn y_scale(self) -> f32 {
        (self.0[2] * self.0[2] + self.0[3] * self.0[3]).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(content: &[u8]) -> Vec<(String, Vec<Operand<'_>>)> {
        let mut lexer = Lexer::new(content);
        let mut operands = Vec::new();
        let mut out = Vec::new();
        while let Some(op) = lexer.next_op(&mut operands) {
            out.push((String::from_utf8_lossy(op).into_owned(), operands.clone()));
        }
        out
    }

    #[test]
    fn tokenizes_strings_arrays_and_operators() {
        let parsed = ops(b"BT /F1 12 Tf (a\\(b\\)c\\101\\\nd) Tj [<0041> -250 (B)] TJ ET");
        assert_eq!(parsed[1].0, "Tf");
        assert_eq!(parsed[1].1[0], Operand::Name(b"F1"));
        assert_eq!(
            parsed[2].1[0],
            Operand::Str(Cow::Owned(b"a(b)cAd".to_vec()))
        );
        let Operand::Array(items) = &parsed[3].1[0] else {
            panic!("array expected");
        };
        assert_eq!(items[0], Operand::Str(Cow::Owned(vec![0, 0x41])));
        assert_eq!(items[1], Operand::Number(-250.0));
        assert_eq!(parsed[4].0, "ET");
    }

    #[test]
    fn skips_inline_images_and_marked_content_dictionaries() {
        let parsed = ops(b"/P <</MCID 0 /Alt (x>>y)>> BDC BI /W 2 ID \x00EI\xffEI EI (t) Tj EMC");
        let names: Vec<&str> = parsed.iter().map(|(op, _)| op.as_str()).collect();
        assert_eq!(names, ["BDC", "BI", "ID", "Tj", "EMC"]);
    }

    #[test]
    fn multiplies_matrices_in_pdf_order() {
        let scale = Matrix([2.0, 0.0, 0.0, 2.0, 0.0, 0.0]);
        let moved = Matrix::translate(10.0, 5.0).then(scale);
        assert_eq!(moved.origin(), (20.0, 10.0));
        assert_eq!(lenient_number("--5"), -5.0);
        assert_eq!(lenient_number("1.2.3"), 1.2);
    }
}
