//! The one tokenizer of the index, used for documents and queries alike, so that what a query
//! says and what the index holds are cut the same way.
//!
//! Text is folded (NFKC for anything not ASCII, so `ＦＲＥＥ` is `free` and half-width kana are
//! kana; then lower case) and cut into:
//! - words: runs of letters and digits of scripts written with spaces, split on everything else
//!   (`example.com` is `example`, `com`);
//! - for Han, kana and Hangul, which are written without spaces: every pair of adjacent
//!   characters (a bigram) and, in documents, every character, the character at the same
//!   position as the bigram it starts. A query of two or more such characters is the phrase of
//!   its bigrams (`季度报告` is `季度 度报 报告` at consecutive positions), a query of one
//!   character its unigram. Bigrams need no dictionary and never go stale; a segmenter (jieba)
//!   would bring a large dictionary and its own errors for little gain in recall.
//!
//! The address flavour ([`ADDRESS_TOKENIZER`], for `from`, `to` and `mail_from`) also keeps
//! each e-mail address or domain whole, next to its parts, all at one position:
//! `bob.lee+news@mail.example.com` is that, `bob.lee+news`, `bob`, `lee`, `news`,
//! `mail.example.com`, `example.com`, `mail`, `example`, `com`. A query keeps only the whole, so
//! `from:example.com` matches every sender at that domain or below it, and `from:alice` every
//! sender with that word in the address or name, without matching `example` and `com` apart.
//!
//! The names carry a version: a change to what tokens are made is a change of the schema, and
//! an index built with the old tokens is refused rather than silently half-matching.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use unicode_normalization::UnicodeNormalization;

/// Tokenizer name for subject, body, attachment text and names.
pub const TEXT_TOKENIZER: &str = "rampart_text_v1";
/// Tokenizer name for sender and recipient fields.
pub const ADDRESS_TOKENIZER: &str = "rampart_address_v1";

/// Longer words (base64 and hex runs that escaped decoding) make no token: they would only
/// bloat the term dictionary. Their position is still taken.
const MAX_WORD_BYTES: usize = 64;
/// Longest address or domain kept whole, in bytes.
const MAX_COMPOUND_BYTES: usize = 254;
/// Most tokens one address makes.
const MAX_COMPOUND_PARTS: usize = 24;
/// Characters of a Han/kana/Hangul run handled per refill, so the buffer stays small on a
/// megabyte of Chinese without spaces.
const CJK_CHUNK: usize = 128;

/// The tantivy tokenizer: [`TEXT_TOKENIZER`] or, with `addresses`, [`ADDRESS_TOKENIZER`].
#[derive(Clone, Debug, Default)]
pub struct MailTokenizer {
    addresses: bool,
}

impl MailTokenizer {
    pub fn text() -> Self {
        MailTokenizer { addresses: false }
    }

    pub fn addresses() -> Self {
        MailTokenizer { addresses: true }
    }
}

impl Tokenizer for MailTokenizer {
    type TokenStream<'a> = MailTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> MailTokenStream<'a> {
        MailTokenStream::new(text, self.addresses, false)
    }
}

/// The tokens a query term stands for, as `(position, text)`: the whole of an address, bigrams
/// only for a run of several CJK characters. Empty when the term holds nothing searchable.
pub fn query_tokens(text: &str, addresses: bool) -> Vec<(usize, String)> {
    let mut stream = MailTokenStream::new(text, addresses, true);
    let mut out = Vec::new();
    while stream.advance() {
        let t = stream.token();
        out.push((t.position, t.text.clone()));
    }
    out
}

/// Han (with extensions and compatibility ideographs), Hiragana, Katakana (and half-width),
/// Hangul syllables and jamo, the iteration marks and the prolonged sound mark.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF
        | 0x3005..=0x3007
        | 0x3040..=0x30FF
        | 0x3130..=0x318F
        | 0x31F0..=0x31FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xAC00..=0xD7AF
        | 0xF900..=0xFAFF
        | 0xFF66..=0xFF9F
        | 0x20000..=0x3FFFF)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() && !is_cjk(c)
}

/// Characters that end an address or domain in the address flavour (besides white space).
fn is_address_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '<' | '>' | ',' | ';' | ':' | '"' | '\'' | '(' | ')' | '[' | ']' | '{' | '}'
        )
}

/// Folds a word: ASCII lower-cased in place, anything else NFKC then lower-cased.
fn fold_into(word: &str, out: &mut String) {
    out.clear();
    if word.is_ascii() {
        out.push_str(word);
        out.make_ascii_lowercase();
    } else {
        for c in word.nfkc() {
            out.extend(c.to_lowercase());
        }
    }
}

/// Folds one CJK character: compatibility ideographs and half-width kana have NFKC forms.
fn fold_cjk(c: char, out: &mut String) {
    if matches!(c as u32, 0xF900..=0xFAFF | 0xFF66..=0xFF9F) {
        out.extend(std::iter::once(c).nfkc());
    } else {
        out.push(c);
    }
}

pub struct MailTokenStream<'a> {
    text: &'a str,
    /// Byte offset of what is not yet cut.
    cursor: usize,
    /// Position of the next run.
    position: usize,
    addresses: bool,
    query: bool,
    /// Whether the character before `cursor` was CJK (a run continues across refills).
    after_cjk: bool,
    buf: Vec<Token>,
    /// One past the current token in `buf`; 0 before the first `advance`.
    next: usize,
    scratch: String,
    /// What `token` shows before the first `advance` or after the last.
    none: Token,
}

impl<'a> MailTokenStream<'a> {
    fn new(text: &'a str, addresses: bool, query: bool) -> Self {
        MailTokenStream {
            text,
            cursor: 0,
            position: 0,
            addresses,
            query,
            after_cjk: false,
            buf: Vec::new(),
            next: 0,
            scratch: String::new(),
            none: Token::default(),
        }
    }

    fn push(&mut self, from: usize, to: usize, position: usize, text: &str) {
        self.buf.push(Token {
            offset_from: from,
            offset_to: to,
            position,
            text: text.to_owned(),
            position_length: 1,
        });
    }

    /// Cuts the next run (a word, an address, up to [`CJK_CHUNK`] CJK characters) into `buf`.
    /// False at the end of the text. A run may make no token (an over-long word).
    fn refill(&mut self) -> bool {
        let rest = &self.text[self.cursor..];
        let Some(skip) = rest.find(|c: char| c.is_alphanumeric()) else {
            self.cursor = self.text.len();
            return false;
        };
        if skip > 0 {
            self.after_cjk = false;
        }
        let start = self.cursor + skip;
        if self.addresses && self.compound(start) {
            return true;
        }
        let first = self.text[start..].chars().next().unwrap_or(' ');
        if is_cjk(first) {
            self.cjk(start);
        } else {
            self.word(start);
        }
        true
    }

    fn word(&mut self, start: usize) {
        let rest = &self.text[start..];
        let len = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
        let end = start + len;
        if len <= MAX_WORD_BYTES * 4 {
            let mut folded = std::mem::take(&mut self.scratch);
            fold_into(&self.text[start..end], &mut folded);
            if folded.len() <= MAX_WORD_BYTES {
                self.push(start, end, self.position, &folded);
            }
            self.scratch = folded;
        }
        self.position += 1;
        self.cursor = end;
        self.after_cjk = false;
    }

    fn cjk(&mut self, start: usize) {
        let mut chars = self.text[start..].char_indices().peekable();
        let mut handled = 0;
        let mut folded = std::mem::take(&mut self.scratch);
        while let Some((i, c)) = chars.next() {
            if !is_cjk(c) || handled == CJK_CHUNK {
                self.cursor = start + i;
                break;
            }
            let from = start + i;
            let to = from + c.len_utf8();
            let next = chars.peek().copied().filter(|&(_, n)| is_cjk(n));
            if let Some((_, n)) = next {
                folded.clear();
                fold_cjk(c, &mut folded);
                fold_cjk(n, &mut folded);
                self.push(from, to + n.len_utf8(), self.position, &folded);
            }
            // Documents: every character. Queries: only a character standing alone.
            if !self.query || (next.is_none() && !self.after_cjk) {
                folded.clear();
                fold_cjk(c, &mut folded);
                self.push(from, to, self.position, &folded);
            }
            self.position += 1;
            self.after_cjk = true;
            handled += 1;
            self.cursor = to;
        }
        self.scratch = folded;
    }

    /// In the address flavour: an address or dotted name at `start` (the whole, then its parts,
    /// all at one position). False if what starts there is plain text.
    fn compound(&mut self, start: usize) -> bool {
        let rest = &self.text[start..];
        let len = rest.find(is_address_separator).unwrap_or(rest.len());
        let chunk = &rest[..len];
        // Trailing punctuation (`alice@example.com.`) is not part of it.
        let trimmed = chunk.trim_end_matches(|c: char| !c.is_alphanumeric());
        if !trimmed.contains(['@', '.']) || trimmed.len() > MAX_COMPOUND_BYTES {
            return false;
        }
        let end = start + trimmed.len();
        let mut whole = String::new();
        fold_into(trimmed, &mut whole);
        let position = self.position;
        self.push(start, end, position, &whole);
        if !self.query {
            for part in compound_parts(&whole) {
                if part != whole && !self.buf.iter().any(|t| t.text == part) {
                    if self.buf.len() == MAX_COMPOUND_PARTS {
                        break;
                    }
                    self.push(start, end, position, part);
                }
            }
        }
        self.position += 1;
        self.cursor = start + len;
        self.after_cjk = false;
        true
    }
}

/// The parts of an address or domain that a search may name: the local part and its words, the
/// domain, each parent domain of two labels or more, and each label.
fn compound_parts(whole: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (local, domain) = match whole.rsplit_once('@') {
        Some((local, domain)) => (Some(local), domain),
        None => (None, whole),
    };
    if let Some(local) = local.filter(|l| !l.is_empty()) {
        parts.push(local);
        parts.extend(words(local));
    }
    let domain = domain.trim_matches(|c: char| !c.is_alphanumeric());
    if !domain.is_empty() {
        parts.push(domain);
        let mut rest = domain;
        while let Some((_, parent)) = rest.split_once('.') {
            if parent.contains('.') {
                parts.push(parent);
            }
            rest = parent;
        }
        parts.extend(words(domain));
    }
    parts
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

impl TokenStream for MailTokenStream<'_> {
    fn advance(&mut self) -> bool {
        self.next += 1;
        while self.next > self.buf.len() {
            self.buf.clear();
            self.next = 1;
            if !self.refill() {
                self.next = 0;
                return false;
            }
        }
        true
    }

    fn token(&self) -> &Token {
        match self.next.checked_sub(1) {
            Some(i) => self.buf.get(i).unwrap_or(&self.none),
            None => &self.none,
        }
    }

    fn token_mut(&mut self) -> &mut Token {
        match self.next.checked_sub(1) {
            Some(i) if i < self.buf.len() => &mut self.buf[i],
            _ => &mut self.none,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_tokens(text: &str, addresses: bool) -> Vec<(usize, String)> {
        let mut tokenizer = MailTokenizer { addresses };
        let mut stream = tokenizer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push((stream.token().position, stream.token().text.clone()));
        }
        out
    }

    fn texts(tokens: &[(usize, String)]) -> Vec<&str> {
        tokens.iter().map(|(_, t)| t.as_str()).collect()
    }

    #[test]
    fn splits_latin_words_and_folds_case_and_width() {
        let t = index_tokens("Hello, WORLD! ＦＲＥＥ café e-mail Q3", false);
        assert_eq!(
            t,
            vec![
                (0, "hello".into()),
                (1, "world".into()),
                (2, "free".into()),
                (3, "café".into()),
                (4, "e".into()),
                (5, "mail".into()),
                (6, "q3".into()),
            ]
        );
    }

    #[test]
    fn cuts_cjk_runs_into_bigrams_and_characters_in_documents() {
        let t = index_tokens("季度报告 合", false);
        assert_eq!(
            t,
            vec![
                (0, "季度".into()),
                (0, "季".into()),
                (1, "度报".into()),
                (1, "度".into()),
                (2, "报告".into()),
                (2, "报".into()),
                (3, "告".into()),
                (4, "合".into()),
            ]
        );
    }

    #[test]
    fn query_keeps_bigrams_of_a_run_and_a_lone_character() {
        assert_eq!(
            query_tokens("季度报告", false),
            vec![(0, "季度".into()), (1, "度报".into()), (2, "报告".into())]
        );
        assert_eq!(query_tokens("合", false), vec![(0, "合".into())]);
        assert_eq!(
            query_tokens("Q3报告", false),
            vec![(0, "q3".into()), (1, "报告".into())]
        );
    }

    #[test]
    fn long_cjk_runs_continue_across_refills() {
        let run: String = "合同".repeat(CJK_CHUNK);
        let q = query_tokens(&run, false);
        assert_eq!(q.len(), run.chars().count() - 1);
        assert!(q.iter().enumerate().all(|(i, (p, _))| *p == i));
        assert!(q.iter().all(|(_, t)| t.chars().count() == 2));
    }

    #[test]
    fn keeps_addresses_whole_and_by_parts_at_one_position() {
        let t = index_tokens("Bob Lee <bob.lee+news@mail.example.com>", true);
        assert!(t[..2] == [(0, "bob".into()), (1, "lee".into())]);
        assert!(t[2..].iter().all(|(p, _)| *p == 2));
        assert_eq!(
            texts(&t[2..]),
            vec![
                "bob.lee+news@mail.example.com",
                "bob.lee+news",
                "bob",
                "lee",
                "news",
                "mail.example.com",
                "example.com",
                "mail",
                "example",
                "com"
            ]
        );
        assert_eq!(
            query_tokens("Alice@Example.COM.", true),
            vec![(0, "alice@example.com".into())]
        );
        assert_eq!(
            query_tokens("example.com", true),
            vec![(0, "example.com".into())]
        );
    }

    #[test]
    fn drops_overlong_words_but_keeps_positions() {
        let blob = "A".repeat(200);
        let t = index_tokens(&format!("one {blob} two"), false);
        assert_eq!(t, vec![(0, "one".into()), (2, "two".into())]);
    }

    #[test]
    fn punctuation_alone_makes_no_token() {
        assert!(query_tokens("!!! -- ...", false).is_empty());
        assert!(query_tokens("<> @", true).is_empty());
        assert!(index_tokens("", true).is_empty());
    }
}
