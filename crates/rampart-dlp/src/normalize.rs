//! Folding of the characters that disguise numbers and addresses, with a way back to the
//! original byte offsets.
//!
//! Only what matters to the detectors is folded, each to one ASCII byte: full-width digits,
//! letters and `＠＋－．＿`; the ideographic space (U+3000) and no-break space; the Unicode
//! hyphens U+2010..U+2013 and minus U+2212. Everything else (including the full-width comma and
//! colon that fill Chinese text) is left alone, so most text needs no copy at all. Folding keeps
//! a one-to-one correspondence of characters, which is what makes offsets mappable.

use std::borrow::Cow;

pub(crate) struct Normalized<'a> {
    pub text: Cow<'a, str>,
    /// For each folded character: (normalised offset just after it, bytes removed so far).
    shifts: Vec<(usize, usize)>,
}

/// The ASCII byte a character starting at `b[i]` folds to, and its width in bytes.
fn fold_at(b: &[u8], i: usize) -> Option<(u8, usize)> {
    let b1 = *b.get(i + 1)?;
    match b[i] {
        0xC2 if b1 == 0xA0 => Some((b' ', 2)),
        0xE3 if b1 == 0x80 && b.get(i + 2) == Some(&0x80) => Some((b' ', 3)),
        0xE2 => {
            let b2 = *b.get(i + 2)?;
            match (b1, b2) {
                (0x80, 0x90..=0x93) | (0x88, 0x92) => Some((b'-', 3)),
                _ => None,
            }
        }
        0xEF => {
            let b2 = *b.get(i + 2)?;
            let ascii = match (b1, b2) {
                (0xBC, 0x90..=0x99) => b'0' + (b2 - 0x90),
                (0xBC, 0xA1..=0xBA) => b'A' + (b2 - 0xA1),
                (0xBD, 0x81..=0x9A) => b'a' + (b2 - 0x81),
                (0xBC, 0xA0) => b'@',
                (0xBC, 0x8B) => b'+',
                (0xBC, 0x8D) => b'-',
                (0xBC, 0x8E) => b'.',
                (0xBC, 0xBF) => b'_',
                _ => return None,
            };
            Some((ascii, 3))
        }
        _ => None,
    }
}

/// Lead bytes of the characters [`fold_at`] may fold (never UTF-8 continuation bytes).
const fn lead_table() -> [bool; 256] {
    let mut t = [false; 256];
    t[0xC2] = true;
    t[0xE2] = true;
    t[0xE3] = true;
    t[0xEF] = true;
    t
}
static LEAD: [bool; 256] = lead_table();

impl<'a> Normalized<'a> {
    pub fn new(text: &'a str) -> Normalized<'a> {
        let b = text.as_bytes();
        let mut out: Option<String> = None;
        let mut shifts = Vec::new();
        let mut copied = 0;
        let mut removed = 0;
        let mut i = 0;
        while i < b.len() {
            if !LEAD[b[i] as usize] {
                i += 1;
                continue;
            }
            let Some((ascii, width)) = fold_at(b, i) else {
                i += 1;
                continue;
            };
            let o = out.get_or_insert_with(|| String::with_capacity(b.len()));
            o.push_str(&text[copied..i]);
            o.push(ascii as char);
            removed += width - 1;
            shifts.push((o.len(), removed));
            i += width;
            copied = i;
        }
        let text = match out {
            Some(mut o) => {
                o.push_str(&text[copied..]);
                Cow::Owned(o)
            }
            None => Cow::Borrowed(text),
        };
        Normalized { text, shifts }
    }

    /// The original byte offset of normalised offset `pos` (a char boundary); works for both
    /// span starts and span ends.
    pub fn original(&self, pos: usize) -> usize {
        let idx = self.shifts.partition_point(|&(p, _)| p <= pos);
        match idx {
            0 => pos,
            _ => pos + self.shifts[idx - 1].1,
        }
    }
}

/// Folds a dictionary word the way text is folded.
pub(crate) fn fold(s: &str) -> String {
    Normalized::new(s).text.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_full_width_and_maps_offsets_back() {
        let text = "卡号：６２２２\u{3000}0212－3456";
        let n = Normalized::new(text);
        assert_eq!(n.text, "卡号：6222 0212-3456");
        let start = n.text.find('6').unwrap();
        let end = n.text.len();
        assert_eq!(
            &text[n.original(start)..n.original(end)],
            "６２２２\u{3000}0212－3456"
        );
        assert_eq!(n.original(start + 1), text.find('２').unwrap());
    }

    #[test]
    fn leaves_plain_text_borrowed() {
        let n = Normalized::new("会议改到下午三点，地点不变。“引号”");
        assert!(matches!(n.text, Cow::Borrowed(_)));
        assert_eq!(n.original(5), 5);
    }
}
