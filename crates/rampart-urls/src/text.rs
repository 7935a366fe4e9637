//! Links in plain text: `http(s)://` and `ftp://` URLs, `www.` addresses, bare domains followed by
//! a path (`paypal-secure.test/login`), and defanged forms (`hxxp://evil[.]com`, `evil(dot)com`).
//!
//! One Aho-Corasick pass finds the places a link can start (`://`, `www.`, `/`); each is grown to
//! the surrounding token and parsed. Text with defanging markers is first copied with the markers
//! replaced, keeping a map back to the original so [`Link::written`] shows what was written.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use url::Url;

use crate::domain::has_known_suffix;
use crate::link::{from_url, starts_with_ignore_case, truncate, MAX_URL_LEN};
use crate::{Link, LinkSource};

/// At most this many links are taken from one call; a message with more is padding for evasion.
pub(crate) const MAX_LINKS: usize = 10_000;
/// A token longer than this is cut: the host is at its front.
const MAX_TOKEN: usize = 2048;

/// Defanging markers (matched ignoring ASCII case) and what they stand for.
const DEFANG: &[(&str, &str)] = &[
    ("[.]", "."),
    ("(.)", "."),
    ("{.}", "."),
    ("[dot]", "."),
    ("(dot)", "."),
    ("{dot}", "."),
    ("[://]", "://"),
    ("[:]", ":"),
    ("[/]", "/"),
    ("hxxp", "http"),
];

static DEFANG_MATCHER: LazyLock<AhoCorasick> =
    LazyLock::new(|| build_matcher(DEFANG.iter().map(|(pattern, _)| *pattern)));

const TRIGGER_SCHEME: usize = 0;
const TRIGGER_WWW: usize = 1;
/// Pattern 2, `/`, is a bare host followed by a path.
static TRIGGERS: LazyLock<AhoCorasick> =
    LazyLock::new(|| build_matcher(["://", "www.", "/"].into_iter()));

fn build_matcher<'a>(patterns: impl Iterator<Item = &'a str>) -> AhoCorasick {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostFirst)
        .build(patterns)
        .expect("the trigger and defanging patterns are short constants")
}

/// File extensions that are also top-level domains: `report.zip` or `main.rs` written without
/// a scheme are names of files far more often than of hosts.
#[rustfmt::skip]
const FILE_LIKE_TLDS: &[&str] = &[
    "ai", "cab", "md", "mov", "pl", "pm", "ps", "py", "rs", "sh", "zip",
];

/// Every link written in `text`, in order.
///
/// ```
/// let links = rampart_urls::links_in_text("Reset at hxxps://paypal-help[.]test/reset today.");
/// assert_eq!(links[0].url, "https://paypal-help.test/reset");
/// assert_eq!(links[0].written, "hxxps://paypal-help[.]test/reset");
/// ```
pub fn links_in_text(text: &str) -> Vec<Link> {
    let mut links = Vec::new();
    collect(text, &mut links, MAX_LINKS);
    links
}

/// Appends the links of `text` to `out` until `out` holds `limit` links.
pub(crate) fn collect(text: &str, out: &mut Vec<Link>, limit: usize) {
    if out.len() >= limit || !may_hold_link(text) {
        return;
    }
    match Defanged::of(text) {
        Some(defanged) => scan(&defanged.text, Some(&defanged), text, out, limit),
        None => scan(text, None, text, out, limit),
    }
}

/// A cheap first look: every link form needs `/` or `:`, a `www.`, or a defanging bracket.
/// Most text runs of an HTML part are a few words without any.
fn may_hold_link(text: &str) -> bool {
    let b = text.as_bytes();
    b.iter()
        .any(|c| matches!(c, b'/' | b':' | b'[' | b'(' | b'{'))
        || b.windows(4)
            .any(|w| w[3] == b'.' && w[..3].eq_ignore_ascii_case(b"www"))
}

/// `text` with defanging markers replaced, and how to map positions back.
struct Defanged {
    text: String,
    /// Positions in `text` of a `.` or `:` that a marker stood for: link candidates by themselves.
    markers: Vec<usize>,
    /// End of each replacement in `text`, increasing, and the original-minus-new offset after it.
    ends: Vec<usize>,
    shift: Vec<usize>,
}

impl Defanged {
    fn of(original: &str) -> Option<Self> {
        let mut found = DEFANG_MATCHER.find_iter(original).peekable();
        found.peek()?;
        let mut d = Defanged {
            text: String::with_capacity(original.len()),
            markers: Vec::new(),
            ends: Vec::new(),
            shift: Vec::new(),
        };
        let mut last = 0;
        let mut shift = 0;
        for m in found {
            d.text.push_str(&original[last..m.start()]);
            let replacement = DEFANG[m.pattern().as_usize()].1;
            if matches!(replacement, "." | ":") {
                d.markers.push(d.text.len());
            }
            d.text.push_str(replacement);
            shift += m.len() - replacement.len();
            d.ends.push(d.text.len());
            d.shift.push(shift);
            last = m.end();
        }
        d.text.push_str(&original[last..]);
        Some(d)
    }

    fn to_original(&self, pos: usize) -> usize {
        match self.ends.partition_point(|&end| end <= pos) {
            0 => pos,
            k => pos + self.shift[k - 1],
        }
    }
}

#[derive(Clone, Copy)]
enum Trigger {
    Scheme(usize),
    Www(usize),
    Slash(usize),
    Marker(usize),
}

impl Trigger {
    fn pos(self) -> usize {
        match self {
            Trigger::Scheme(p) | Trigger::Www(p) | Trigger::Slash(p) | Trigger::Marker(p) => p,
        }
    }
}

fn scan(t: &str, defanged: Option<&Defanged>, original: &str, out: &mut Vec<Link>, limit: usize) {
    let mut triggers = TRIGGERS.find_iter(t).peekable();
    let no_markers: &[usize] = &[];
    let mut markers = defanged
        .map_or(no_markers, |d| d.markers.as_slice())
        .iter()
        .peekable();
    let mut cursor = 0;
    loop {
        if out.len() >= limit {
            return;
        }
        let next_trigger = triggers.peek().map(|m| match m.pattern().as_usize() {
            TRIGGER_SCHEME => Trigger::Scheme(m.start()),
            TRIGGER_WWW => Trigger::Www(m.start()),
            _ => Trigger::Slash(m.start()),
        });
        let next_marker = markers.peek().map(|&&p| Trigger::Marker(p));
        let trigger = match (next_trigger, next_marker) {
            (Some(a), Some(b)) if b.pos() < a.pos() => {
                markers.next();
                b
            }
            (Some(a), _) => {
                triggers.next();
                a
            }
            (None, Some(b)) => {
                markers.next();
                b
            }
            (None, None) => return,
        };
        if trigger.pos() < cursor {
            continue;
        }
        let found = match trigger {
            Trigger::Scheme(p) => at_scheme(t, p),
            Trigger::Www(p) => at_www(t, p),
            Trigger::Slash(p) => at_bare_host(t, p, true),
            Trigger::Marker(p) => at_bare_host(t, p, false),
        };
        let Some((start, end, candidate, bare)) = found else {
            if let Trigger::Scheme(p) = trigger {
                cursor = p + 3;
            }
            continue;
        };
        cursor = end;
        let Ok(url) = Url::parse(&candidate) else {
            continue;
        };
        let written = match defanged {
            Some(d) => original
                .get(d.to_original(start)..d.to_original(end))
                .unwrap_or(&t[start..end]),
            None => &t[start..end],
        };
        if let Some(link) = from_url(url, LinkSource::Text, None, written) {
            if bare && !has_known_suffix(&link.host) {
                continue;
            }
            out.push(link);
        }
    }
}

/// A link candidate: start and end of its token, the URL to parse, and whether it was written
/// without a scheme (and so must end in a known public suffix to count).
type Candidate = (usize, usize, String, bool);

/// `p` is the position of `://`.
fn at_scheme(t: &str, p: usize) -> Option<Candidate> {
    let b = t.as_bytes();
    let mut s = p;
    while s > 0 && p - s < 12 && b[s - 1].is_ascii_alphabetic() {
        s -= 1;
    }
    let scheme = t[s..p].to_ascii_lowercase();
    let start = ["https", "http", "ftp"]
        .iter()
        .find(|name| scheme.ends_with(*name))
        .map(|name| p - name.len())?;
    let end = start + trimmed_len(&t[start..forward_end(t, p + 3)]);
    if end <= p + 3 {
        return None;
    }
    Some((start, end, t[start..end].to_string(), false))
}

/// `p` is the position of `www.`.
fn at_www(t: &str, p: usize) -> Option<Candidate> {
    if let Some(prev) = t[..p].chars().next_back() {
        if is_host_char(prev) || matches!(prev, '/' | '@' | '\\' | ':') {
            return None;
        }
    }
    let end = p + trimmed_len(&t[p..forward_end(t, p)]);
    if end <= p + 4 {
        return None;
    }
    Some((p, end, format!("http://{}", &t[p..end]), true))
}

/// A bare host ending at `p`: at a `/` (`needs_path`), or around a defanged dot.
fn at_bare_host(t: &str, p: usize, needs_path: bool) -> Option<Candidate> {
    let mut start = p;
    for (i, c) in t[..p].char_indices().rev() {
        if !is_host_char(c) || p - i > 253 {
            break;
        }
        start = i;
    }
    if start == p {
        return None;
    }
    if let Some(prev) = t[..start].chars().next_back() {
        // Part of an address, a path or a longer word: not a host of its own.
        if prev.is_alphanumeric() || "@:/\\.-_%=&?#+~".contains(prev) {
            return None;
        }
    }
    // Validate the host before looking further: a failed candidate must cost little, or text
    // made of near-hosts (`a.b/a.b/...`) would be scanned once per trigger.
    let host_end = if needs_path {
        p
    } else {
        let run = t[p..]
            .char_indices()
            .take_while(|&(i, c)| i <= 253 && is_host_char(c))
            .last()
            .map_or(p, |(i, c)| p + i + c.len_utf8());
        p + t[p..run].trim_end_matches(['.', '-']).len()
    };
    if !looks_like_domain(&t[start..host_end]) {
        return None;
    }
    let end = host_end + trimmed_len(&t[host_end..forward_end(t, host_end)]);
    Some((start, end, format!("http://{}", &t[start..end]), true))
}

/// `a.b.tld` with an alphabetic, known top-level domain that is not also a file extension.
fn looks_like_domain(host: &str) -> bool {
    if host.len() < 4
        || !host.contains('.')
        || host.starts_with(['.', '-'])
        || host.ends_with(['.', '-'])
        || host.contains("..")
    {
        return false;
    }
    let tld = host.rsplit('.').next().unwrap_or("");
    let tld_ok = (tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()))
        || starts_with_ignore_case(tld, "xn--");
    let tld_lower = tld.to_ascii_lowercase();
    tld_ok && !FILE_LIKE_TLDS.contains(&tld_lower.as_str())
}

fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{2E80}'..='\u{9FFF}'
        | '\u{AC00}'..='\u{D7AF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{FE30}'..='\u{FE4F}'
        | '\u{FF00}'..='\u{FFEF}'
        | '\u{20000}'..='\u{3FFFF}')
}

fn is_host_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')
    } else {
        c.is_alphanumeric() && !is_cjk(c)
    }
}

/// Where a URL token that starts at `from` ends: at whitespace, a quote or angle bracket, or a
/// non-ASCII character outside the host (`http://example.com/查看` stops before `查`).
fn forward_end(t: &str, from: usize) -> usize {
    let mut in_host = true;
    for (i, c) in t[from..].char_indices() {
        if i >= MAX_TOKEN.min(MAX_URL_LEN) {
            return from + i;
        }
        if c.is_ascii() {
            if c.is_ascii_whitespace()
                || c.is_ascii_control()
                || matches!(c, '<' | '>' | '"' | '\'' | '`' | '{' | '}' | '|' | '^')
            {
                return from + i;
            }
            if matches!(c, '/' | '?' | '#') {
                in_host = false;
            }
        } else if !(in_host && c.is_alphanumeric() && !is_cjk(c)) {
            return from + i;
        }
    }
    t.len()
}

/// The length of `token` without trailing punctuation that belongs to the sentence: `.`, `,`,
/// `!`, quotes, and closing brackets that were not opened inside the token.
fn trimmed_len(token: &str) -> usize {
    let b = token.as_bytes();
    let count = |c: u8| b.iter().filter(|&&x| x == c).count();
    let (mut open_paren, mut close_paren) = (count(b'('), count(b')'));
    let (mut open_square, mut close_square) = (count(b'['), count(b']'));
    let mut len = b.len();
    while len > 0 {
        match b[len - 1] {
            b'.' | b',' | b';' | b':' | b'!' | b'?' | b'*' | b'\'' | b'"' => {}
            b')' if close_paren > open_paren => close_paren -= 1,
            b']' if close_square > open_square => close_square -= 1,
            b'(' => open_paren -= 1,
            b'[' => open_square -= 1,
            _ => break,
        }
        len -= 1;
    }
    len
}

/// The host a piece of anchor text shows to a reader, if it shows one: `https://paypal.com/x`,
/// `www.paypal.com`, or a bare `PayPal.com`. Plain words (`Sign in`) show none.
pub(crate) fn host_shown_in(text: &str) -> Option<String> {
    let t = text.trim_matches(|c: char| {
        c.is_whitespace() || matches!(c, '<' | '>' | '(' | ')' | '[' | ']' | '"' | '\'')
    });
    if t.is_empty() || t.len() > 300 {
        return None;
    }
    let mut found = Vec::new();
    collect(t, &mut found, 1);
    if let Some(link) = found.pop() {
        return Some(link.host);
    }
    if t.contains(char::is_whitespace) || t.contains('@') {
        return None;
    }
    let t = truncate(t, 260).trim_end_matches(['.', ',', ';', ':', '!', '?', '/']);
    if !looks_like_domain(t) || t.contains(|c: char| !is_host_char(c)) {
        return None;
    }
    let url = Url::parse(&format!("http://{t}")).ok()?;
    let host = url.host_str()?;
    has_known_suffix(host).then(|| host.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(text: &str) -> Vec<String> {
        links_in_text(text).into_iter().map(|l| l.url).collect()
    }

    #[test]
    fn finds_scheme_links_and_trims_sentence_punctuation() {
        assert_eq!(
            urls("See http://example.com/a?b=c, and (https://x.example.org/path)."),
            ["http://example.com/a?b=c", "https://x.example.org/path"]
        );
        assert_eq!(
            urls("wiki: https://en.wikipedia.org/wiki/Rust_(programming_language)!"),
            ["https://en.wikipedia.org/wiki/Rust_(programming_language)"]
        );
    }

    #[test]
    fn finds_www_and_bare_domains_with_a_path() {
        assert_eq!(
            urls("go to www.example.com or paypal-secure.com/login now, not evil.test/x"),
            ["http://www.example.com/", "http://paypal-secure.com/login"]
        );
    }

    #[test]
    fn ignores_slashes_that_are_not_after_a_domain() {
        assert!(urls("and/or 1/2/2024 user@example.com/x ./run.sh/x main.rs/lib.rs").is_empty());
        assert!(urls("the file report.pdf is attached. e.g./i.e.").is_empty());
    }

    #[test]
    fn finds_defanged_links_and_keeps_how_they_were_written() {
        let links = links_in_text("IOC: hxxp://evil[.]example[.]com/x and bad(dot)net/y");
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].url, "http://evil.example.com/x");
        assert_eq!(links[0].written, "hxxp://evil[.]example[.]com/x");
        assert_eq!(links[1].host, "bad.net");
        assert_eq!(links[1].written, "bad(dot)net/y");
        assert_eq!(urls("evil[.]com")[0], "http://evil.com/");
    }

    #[test]
    fn keeps_userinfo_so_the_trick_can_be_judged() {
        let links = links_in_text("http://paypal.com@evil.test/login");
        assert_eq!(links[0].host, "evil.test");
    }

    #[test]
    fn stops_at_cjk_text_after_a_url() {
        assert_eq!(
            urls("请访问http://example.com/a查看详情"),
            ["http://example.com/a"]
        );
    }

    #[test]
    fn reads_the_host_an_anchor_text_shows() {
        assert_eq!(
            host_shown_in(" https://www.PayPal.com/signin "),
            Some("www.paypal.com".into())
        );
        assert_eq!(host_shown_in("PayPal.com"), Some("paypal.com".into()));
        assert_eq!(
            host_shown_in("Visit www.example.org today"),
            Some("www.example.org".into())
        );
        assert_eq!(host_shown_in("Sign in"), None);
        assert_eq!(host_shown_in("support@paypal.com"), None);
        assert_eq!(host_shown_in("invoice.zip"), None);
    }
}
