//! Normalisation and tokens: the one place that decides what counts as "the same word".
//!
//! [`normalize`] applies NFKC (full-width `ＦＲＥＥ` is `free`, `ﬁ` is `fi`, circled and
//! super-script digits are digits), lower-cases, folds every digit to `0` (so `$100` and `$250`
//! share features, phone numbers and dates generalise) with runs capped at [`MAX_DIGIT_RUN`],
//! drops invisible characters spammers put inside words (zero-width space and joiners, soft
//! hyphen, BOM) and collapses whitespace and control characters to one space.
//!
//! [`tokenize`] then splits the normalised text into [`Token`]s:
//! - words of letters and digits for scripts written with spaces;
//! - for Han, Hiragana, Katakana and Hangul (and Thai, Lao, Khmer, Myanmar, also written without
//!   spaces between words), every character and every pair of adjacent characters. Character
//!   bigrams need no dictionary and never go stale; the strongest filters on TREC 2006's Chinese
//!   corpus used byte 4-grams, which over two-byte GB2312 text are exactly character bigrams.
//!   A segmenter (jieba) would add a dictionary and its errors for little gain;
//! - a URL's host (after any `user@` trick) as one token, its host labels and path as words;
//! - an e-mail address and its domain as tokens.

use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// Longer digit runs are cut to this many `0`s: a 10-digit and a 30-digit number look alike.
pub const MAX_DIGIT_RUN: usize = 12;
/// Longer words are cut (at a character boundary) to this many bytes: base64 and hex blobs must
/// not make a feature per blob.
pub const MAX_WORD_BYTES: usize = 40;

/// What a token is; feature families are hashed apart by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// A run of letters and digits (digits already folded to `0`).
    Word,
    /// One character of a script written without spaces (Han, Kana, Hangul, Thai, ...).
    CjkChar,
    /// Two adjacent characters of such a script.
    CjkBigram,
    /// The host of a URL written as `http(s)://...` or `www....`.
    UrlHost,
    /// An e-mail address `local@domain.tld`.
    Email,
    /// The domain of an e-mail address.
    EmailDomain,
}

/// One token of normalised text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Token {
    pub kind: TokenKind,
    pub text: String,
}

/// Normalises `text` (NFKC, lower case, digits to `0`, invisible characters dropped, whitespace
/// collapsed, trimmed). Deterministic and total: any string is accepted.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    normalize_into(text, &mut out);
    out
}

/// Tokens of `text`, in order, after [`normalize`].
pub fn tokenize(text: &str) -> Vec<Token> {
    let norm = normalize(text);
    let mut tokens = Vec::new();
    for_each_token(&norm, |kind, text| {
        tokens.push(Token {
            kind,
            text: text.to_owned(),
        })
    });
    tokens
}

pub(crate) fn normalize_into(text: &str, out: &mut String) {
    out.clear();
    if text.is_ascii() {
        fold_ascii_into(text.as_bytes(), out);
    } else if is_nfkc_quick(text.chars()) == IsNormalized::Yes {
        Folder::default().fold_all(text.chars(), out);
    } else {
        nfkc_by_segments(text, out);
    }
}

/// Whether text splits before `c` without changing its NFKC, and NFKC maps `c` alone to
/// [`simple_nfkc`]`(c)`: ASCII and the CJK Unified Ideographs (left alone), the full-width ASCII
/// forms and the ideographic space (mapped to ASCII). All are starters that are never the second
/// character of a composition. A following combining mark is handled by starting the NFKC
/// stretch one character early.
#[inline]
fn is_inert(c: char) -> bool {
    c.is_ascii() || matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{FF01}'..='\u{FF5E}' | '\u{3000}')
}

/// NFKC of an [`is_inert`] character on its own: full-width `，` is `,`, `Ａ` is `A`.
#[inline]
fn simple_nfkc(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// NFKC, then [`Folder`], running the (slow) normaliser only over the stretches that need it:
/// Chinese text with full-width punctuation is mostly ideographs that NFKC does not change.
fn nfkc_by_segments(text: &str, out: &mut String) {
    let mut folder = Folder::default();
    // Text before `pending` has been emitted; `run` is the start of a stretch that needs NFKC.
    let mut pending = 0;
    let mut run: Option<usize> = None;
    let mut prev = 0;
    for (i, c) in text.char_indices() {
        match (is_inert(c), run) {
            (false, None) => {
                // The previous character may compose with this one: it starts the stretch.
                let start = if i > pending { prev } else { i };
                folder.fold_all(text[pending..start].chars().map(simple_nfkc), out);
                run = Some(start);
            }
            (true, Some(start)) => {
                folder.fold_all(text[start..i].nfkc(), out);
                run = None;
                pending = i;
            }
            _ => {}
        }
        prev = i;
    }
    match run {
        Some(start) => folder.fold_all(text[start..].nfkc(), out),
        None => folder.fold_all(text[pending..].chars().map(simple_nfkc), out),
    }
}

/// ASCII bytes folded: letters lower-cased, digits to `0`, whitespace and control to a space.
const ASCII_FOLD: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = match b as u8 {
            c @ b'A'..=b'Z' => c + 32,
            b'0'..=b'9' => b'0',
            b'\0'..=b' ' | 0x7F => b' ',
            c => c,
        };
        b += 1;
    }
    t
};

/// [`Folder`] for ASCII text, without a data-dependent branch per byte (spaces and letters
/// alternate unpredictably; digits are rare).
fn fold_ascii_into(bytes: &[u8], out: &mut String) {
    let mut buf = std::mem::take(out).into_bytes();
    buf.clear();
    buf.resize(bytes.len(), 0);
    let mut len = 0;
    let mut prev_space = true;
    let mut digit_run = 0usize;
    for (&b, slot) in bytes.iter().zip(0..) {
        let folded = ASCII_FOLD[usize::from(b & 0x7F)];
        if folded == b'0' {
            digit_run += 1;
            if digit_run > MAX_DIGIT_RUN {
                continue;
            }
        } else {
            digit_run = 0;
        }
        let space = folded == b' ';
        // `len <= slot < bytes.len()`: the write is always in bounds.
        if let Some(out) = buf.get_mut(len.min(slot)) {
            *out = folded;
        }
        len += usize::from(!(space && prev_space));
        prev_space = space;
    }
    if len > 0 && buf.get(len - 1) == Some(&b' ') {
        len -= 1;
    }
    buf.truncate(len);
    // Only ASCII bytes were written; the fallback is unreachable but keeps this free of `unsafe`.
    *out = String::from_utf8(buf).unwrap_or_default();
}

/// Case, digit and whitespace folding over NFKC text, carried across the segments of one text.
#[derive(Default)]
struct Folder {
    pending_space: bool,
    digit_run: usize,
}

impl Folder {
    fn fold_all(&mut self, chars: impl Iterator<Item = char>, out: &mut String) {
        for c in chars {
            self.fold(c, out);
        }
    }

    #[inline]
    fn fold(&mut self, c: char, out: &mut String) {
        if c.is_ascii() {
            if c.is_ascii_alphabetic() {
                self.push(out, c.to_ascii_lowercase());
                self.digit_run = 0;
            } else if c.is_ascii_digit() {
                self.digit();
                if self.digit_run <= MAX_DIGIT_RUN {
                    self.push(out, '0');
                }
            } else if c.is_ascii_whitespace() || c.is_ascii_control() {
                self.pending_space = true;
                self.digit_run = 0;
            } else {
                self.push(out, c);
                self.digit_run = 0;
            }
        } else if matches!(c, '\u{3040}'..='\u{30FF}' | '\u{4E00}'..='\u{9FFF}' | '\u{AC00}'..='\u{D7AF}')
        {
            // Kana, Han, Hangul syllables: no case, no digits, no table lookups needed.
            self.push(out, c);
            self.digit_run = 0;
        } else if is_invisible(c) {
            // Dropped without breaking a word or a digit run: `fr\u{200B}ee` is `free`.
        } else if c.is_whitespace() || c.is_control() {
            self.pending_space = true;
            self.digit_run = 0;
        } else if c.is_numeric() {
            self.digit();
            if self.digit_run <= MAX_DIGIT_RUN {
                self.push(out, '0');
            }
        } else {
            self.digit_run = 0;
            let mut lower = c.to_lowercase();
            if let Some(first) = lower.next() {
                self.push(out, first);
                out.extend(lower);
            }
        }
    }

    #[inline]
    fn digit(&mut self) {
        self.digit_run = self.digit_run.saturating_add(1);
    }

    #[inline]
    fn push(&mut self, out: &mut String, c: char) {
        if self.pending_space && !out.is_empty() {
            out.push(' ');
        }
        self.pending_space = false;
        out.push(c);
    }
}

/// Format characters that render as nothing and are used to break up words.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}' | '\u{FFA0}')
}

/// Scripts written without spaces between words: tokenised as characters and bigrams.
pub(crate) fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}'   // Hiragana, Katakana
        | '\u{31F0}'..='\u{31FF}' // Katakana phonetic extensions
        | '\u{3400}'..='\u{4DBF}' // Han extension A
        | '\u{4E00}'..='\u{9FFF}' // Han
        | '\u{F900}'..='\u{FAFF}' // Han compatibility
        | '\u{20000}'..='\u{3FFFF}' // Han extensions B and later
        | '\u{1100}'..='\u{11FF}' // Hangul Jamo
        | '\u{3130}'..='\u{318F}' // Hangul compatibility Jamo
        | '\u{AC00}'..='\u{D7AF}' // Hangul syllables
        | '\u{0E00}'..='\u{0EFF}' // Thai, Lao
        | '\u{1000}'..='\u{109F}' // Myanmar
        | '\u{1780}'..='\u{17FF}' // Khmer
    )
}

/// Letters and digits of other scripts. Non-ASCII characters count as word characters unless they
/// are in a punctuation or symbol block: combining vowel signs (Devanagari, ...) stay inside words.
fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    !matches!(c,
        '\u{00A0}'..='\u{00BF}' | '\u{00D7}' | '\u{00F7}'
        | '\u{2000}'..='\u{2BFF}' // punctuation, symbols, arrows, maths, box drawing, dingbats
        | '\u{2E00}'..='\u{2E7F}' // supplemental punctuation
        | '\u{3000}'..='\u{303F}' // CJK symbols and punctuation
        | '\u{E000}'..='\u{F8FF}' // private use
        | '\u{FE10}'..='\u{FE1F}' | '\u{FE30}'..='\u{FE6F}' | '\u{FF00}'..='\u{FF0F}'
        | '\u{FF1A}'..='\u{FF20}' | '\u{FF3B}'..='\u{FF40}' | '\u{FF5B}'..='\u{FF65}'
        | '\u{FFF0}'..='\u{FFFF}'
        | '\u{1F000}'..='\u{1FAFF}' // emoji, pictographs
    )
}

/// Calls `f` for every token of already-normalised text, in order, without allocating.
pub(crate) fn for_each_token(norm: &str, mut f: impl FnMut(TokenKind, &str)) {
    for chunk in norm.split(' ') {
        // Most chunks are plain ASCII words: skip the URL, address and script checks for them.
        if chunk.bytes().all(|b| b.is_ascii_alphanumeric()) {
            if !chunk.is_empty() {
                emit_word(chunk, &mut f);
            }
        } else {
            chunk_tokens(chunk, &mut f);
        }
    }
}

fn chunk_tokens(chunk: &str, f: &mut impl FnMut(TokenKind, &str)) {
    let core = chunk.trim_matches(|c: char| {
        matches!(
            c,
            '(' | ')'
                | '<'
                | '>'
                | '"'
                | '\''
                | ','
                | '.'
                | ';'
                | ':'
                | '!'
                | '?'
                | '['
                | ']'
                | '{'
                | '}'
                | '*'
                | '`'
        ) || (!c.is_ascii() && !is_word_char(c))
    });
    let after_scheme = core
        .strip_prefix("https://")
        .or_else(|| core.strip_prefix("http://"))
        .or_else(|| core.starts_with("www.").then_some(core));
    if let Some(rest) = after_scheme {
        let authority_end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        // `http://paypal.com@evil.test/` goes to evil.test.
        let host_port = authority.rsplit('@').next().unwrap_or(authority);
        let host = host_port.split(':').next().unwrap_or(host_port);
        let host = host.trim_end_matches('.');
        if !host.is_empty() {
            f(TokenKind::UrlHost, host);
        }
        words(authority, f);
        words(path, f);
        return;
    }
    if let Some(at) = core.bytes().rposition(|b| b == b'@') {
        let (local, domain) = (&core[..at], &core[at + 1..]);
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && domain
                .chars()
                .all(|c| c == '.' || c == '-' || is_word_char(c));
        if !local.is_empty() && domain_ok {
            f(TokenKind::Email, core);
            f(TokenKind::EmailDomain, domain);
            return;
        }
    }
    words(chunk, f);
}

fn words(s: &str, f: &mut impl FnMut(TokenKind, &str)) {
    if s.is_ascii() {
        return ascii_words(s, f);
    }
    let mut word_start: Option<usize> = None;
    let mut prev_cjk: Option<usize> = None;
    for (i, c) in s.char_indices() {
        let end = i + c.len_utf8();
        if is_cjk(c) {
            if let Some(start) = word_start.take() {
                emit_word(&s[start..i], f);
            }
            f(TokenKind::CjkChar, &s[i..end]);
            if let Some(p) = prev_cjk {
                f(TokenKind::CjkBigram, &s[p..end]);
            }
            prev_cjk = Some(i);
        } else if is_word_char(c) {
            prev_cjk = None;
            word_start.get_or_insert(i);
        } else {
            prev_cjk = None;
            if let Some(start) = word_start.take() {
                emit_word(&s[start..i], f);
            }
        }
    }
    if let Some(start) = word_start {
        emit_word(&s[start..], f);
    }
}

/// [`words`] for ASCII: runs of letters and digits.
fn ascii_words(s: &str, f: &mut impl FnMut(TokenKind, &str)) {
    let mut start: Option<usize> = None;
    for (i, b) in s.bytes().enumerate() {
        if b.is_ascii_alphanumeric() {
            start.get_or_insert(i);
        } else if let Some(st) = start.take() {
            emit_word(&s[st..i], f);
        }
    }
    if let Some(st) = start {
        emit_word(&s[st..], f);
    }
}

fn emit_word(word: &str, f: &mut impl FnMut(TokenKind, &str)) {
    f(TokenKind::Word, truncate(word, MAX_WORD_BYTES));
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of_kind(text: &str, kind: TokenKind) -> Vec<String> {
        tokenize(text)
            .into_iter()
            .filter(|t| t.kind == kind)
            .map(|t| t.text)
            .collect()
    }

    #[test]
    fn english_splits_into_lower_case_words_without_punctuation() {
        assert_eq!(
            of_kind("Click HERE, you've WON!!", TokenKind::Word),
            ["click", "here", "you", "ve", "won"]
        );
        assert!(tokenize("Click HERE")
            .iter()
            .all(|t| t.kind == TokenKind::Word));
    }

    #[test]
    fn chinese_without_spaces_gives_character_unigrams_and_bigrams() {
        assert_eq!(
            of_kind("免费领取优惠券", TokenKind::CjkChar),
            ["免", "费", "领", "取", "优", "惠", "券"]
        );
        assert_eq!(
            of_kind("免费领取优惠券", TokenKind::CjkBigram),
            ["免费", "费领", "领取", "取优", "优惠", "惠券"]
        );
        assert!(of_kind("免费领取优惠券", TokenKind::Word).is_empty());
    }

    #[test]
    fn chinese_punctuation_breaks_bigrams() {
        assert_eq!(
            of_kind("免费，领取", TokenKind::CjkBigram),
            ["免费", "领取"]
        );
    }

    #[test]
    fn mixed_chinese_and_english_keeps_each_script_tokenised_its_own_way() {
        let tokens = tokenize("iPhone16免费送 Apple官网");
        let words: Vec<&str> = tokens
            .iter()
            .filter(|t| t.kind == TokenKind::Word)
            .map(|t| t.text.as_str())
            .collect();
        assert_eq!(words, ["iphone00", "apple"]);
        let bigrams: Vec<&str> = tokens
            .iter()
            .filter(|t| t.kind == TokenKind::CjkBigram)
            .map(|t| t.text.as_str())
            .collect();
        assert_eq!(bigrams, ["免费", "费送", "官网"]);
    }

    #[test]
    fn japanese_and_korean_use_character_bigrams() {
        assert_eq!(of_kind("無料プレゼント", TokenKind::CjkBigram).len(), 6);
        assert_eq!(of_kind("무료 쿠폰", TokenKind::CjkBigram), ["무료", "쿠폰"]);
    }

    #[test]
    fn full_width_letters_and_digits_fold_under_nfkc() {
        assert_eq!(normalize("ＦＲＥＥ　ＭＯＮＥＹ １２３"), "free money 000");
        assert_eq!(normalize("ﬁnance ⑤"), "finance 0");
        // Half-width katakana becomes full-width, so both spellings share features.
        assert_eq!(normalize("ｶﾀｶﾅ"), "カタカナ");
    }

    #[test]
    fn digit_runs_fold_to_zeros_and_long_runs_are_capped() {
        assert_eq!(
            normalize("Call 13800138000 now, $250"),
            "call 00000000000 now, $000"
        );
        assert_eq!(normalize(&"9".repeat(40)), "0".repeat(MAX_DIGIT_RUN));
        assert_eq!(normalize("٣٤"), "00", "Arabic-Indic digits are digits too");
    }

    #[test]
    fn whitespace_and_control_characters_collapse_to_one_space() {
        assert_eq!(normalize("  a\t\r\n\u{3000}b\u{0}c  "), "a b c");
    }

    #[test]
    fn zero_width_characters_do_not_split_words() {
        assert_eq!(normalize("fr\u{200B}ee v\u{00AD}iagra"), "free viagra");
    }

    #[test]
    fn urls_give_their_host_and_words() {
        let tokens = tokenize("Visit (https://Login.PayPal.com.evil.test:8080/verify?id=7).");
        assert_eq!(tokens[0].kind, TokenKind::Word);
        assert_eq!(
            of_kind(
                "Visit (https://Login.PayPal.com.evil.test:8080/verify?id=7).",
                TokenKind::UrlHost
            ),
            ["login.paypal.com.evil.test"]
        );
        let words = of_kind("https://login.paypal.com.evil.test/verify", TokenKind::Word);
        assert!(words.contains(&"paypal".to_string()));
        assert!(words.contains(&"verify".to_string()));
        assert!(!words.contains(&"https".to_string()));
    }

    #[test]
    fn url_userinfo_trick_yields_the_real_host() {
        assert_eq!(
            of_kind("http://www.bank.com@evil.test/x", TokenKind::UrlHost),
            ["evil.test"]
        );
        assert_eq!(
            of_kind("www.example.org/a", TokenKind::UrlHost),
            ["www.example.org"]
        );
    }

    #[test]
    fn email_addresses_give_address_and_domain_tokens() {
        let text = "write to <Sales@Example.CN>";
        assert_eq!(of_kind(text, TokenKind::Email), ["sales@example.cn"]);
        assert_eq!(of_kind(text, TokenKind::EmailDomain), ["example.cn"]);
        assert_eq!(of_kind("a@b", TokenKind::Email), Vec::<String>::new());
    }

    #[test]
    fn long_words_are_cut_at_a_character_boundary() {
        let long = "é".repeat(50);
        let words = of_kind(&long, TokenKind::Word);
        assert_eq!(words[0].len(), MAX_WORD_BYTES);
    }

    #[test]
    fn devanagari_vowel_signs_stay_inside_words() {
        assert_eq!(of_kind("मुफ्त उपहार", TokenKind::Word), ["मुफ्त", "उपहार"]);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic_the_tokenizer(s in any::<String>()) {
            for token in tokenize(&s) {
                prop_assert!(!token.text.is_empty());
                prop_assert!(!token.text.contains(' '));
            }
        }

        #[test]
        fn segmented_nfkc_equals_nfkc_of_the_whole_text(
            s in "[a-zA-Z0-9 ,.免费领取券\u{FF0C}\u{FF01}\u{3000}\u{0301}\u{0308}\u{3099}\u{309A}かカは\u{FB01}\u{2460}\u{1100}\u{1161}\u{11A8}가\u{0B47}\u{0B3E}\u{0B2C}]{0,40}"
        ) {
            let mut reference = String::new();
            Folder::default().fold_all(s.nfkc(), &mut reference);
            prop_assert_eq!(normalize(&s), reference);
        }

        #[test]
        fn ascii_fast_path_agrees_with_the_general_path(s in "[ -~\t\n\r\x00-\x1f\x7f]{0,80}") {
            let mut reference = String::new();
            Folder::default().fold_all(s.chars(), &mut reference);
            prop_assert_eq!(normalize(&s), reference);
        }

        #[test]
        fn normalising_twice_changes_nothing(s in any::<String>()) {
            let once = normalize(&s);
            prop_assert_eq!(normalize(&once), once);
        }
    }
}
