//! From links to findings. Each check looks at one link or one host; findings with the same name
//! are merged (highest score, up to five pieces of evidence) so a newsletter with forty links to
//! one host counts once.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::LazyLock;

use rampart_model::Finding;
use unicode_security::MixedScript;
use url::Url;

use crate::blocklist::BlocklistSet;
use crate::domain::{
    char_mask, contains_labels, is_within, skeleton, to_unicode, within_edits, HostParts,
};
use crate::link::{from_url, starts_with_ignore_case, written_host};
use crate::policy::{
    ProtectedName, UrlPolicy, MAIL_TRACKERS, PHISHING_WORDS, SHORTENERS, SUSPICIOUS_TLDS,
};
use crate::text::host_shown_in;
use crate::{Link, LinkSource};

pub(crate) const BLOCKLISTED: f32 = 15.0;
const MAX_EVIDENCE: usize = 5;
/// Redirect targets are followed (in the URL, never over the network) this deep.
const MAX_REDIRECT_DEPTH: usize = 3;

/// Judges links under a policy. Pure: the only shared state read is the blocklist's current
/// generation. Findings come sorted by score, highest first.
///
/// | finding | score | when |
/// |---|---|---|
/// | `url.blocklisted` | 15 | the URL, its domain or its IP is on the blocklist |
/// | `url.lookalike` | 2.5–8 | the host imitates a protected or brand domain |
/// | `url.text_href_mismatch` | 1–7 | anchor text shows one domain, the link goes to another |
/// | `url.ip_literal` | 4, 7 | a raw IP host; 7 when written as one number, hex or octal |
/// | `url.userinfo_trick` | 3, 7 | `user@` before the host; 7 when the user part is a domain |
/// | `url.mixed_script` | 5 | a host label mixes scripts (UTS #39), e.g. Latin with Cyrillic |
/// | `url.punycode` | 1 | an internationalised (`xn--`) host |
/// | `url.obfuscated` | 1.5–5 | defanged (`hxxp`, `[.]`), percent-encoded or odd-dotted host |
/// | `url.data_uri` | 3, 6 | a clickable `data:` URL; 6 for HTML or scripts |
/// | `url.javascript_uri` | 4 | a clickable `javascript:` or `vbscript:` URL |
/// | `url.redirector` | 2, 3 | an open redirect to another site; 3 on a trusted domain |
/// | `url.shortener` | 1.5 | a link shortener hides the destination |
/// | `url.brand_in_path` | 2 | a brand name as a path segment on someone else's host |
/// | `url.suspicious_tld` | 1 | a top-level domain mostly used for abuse |
///
/// Resources (`<img src>` and the like) are only checked against the blocklist.
pub fn judge(links: &[Link], policy: &UrlPolicy) -> Vec<Finding> {
    let blocklist = policy.blocklist.as_ref().map(|b| b.snapshot());
    let mut judge = Judge {
        policy,
        blocklist: blocklist.as_deref().filter(|b| !b.is_empty()),
        report: Report::default(),
        seen_hosts: HashSet::new(),
    };
    for link in links {
        judge.link(link, 0);
    }
    judge.report.into_findings()
}

struct Judge<'p> {
    policy: &'p UrlPolicy,
    blocklist: Option<&'p BlocklistSet>,
    report: Report,
    seen_hosts: HashSet<String>,
}

impl Judge<'_> {
    fn link(&mut self, link: &Link, depth: usize) {
        if link.host.is_empty() {
            self.script_link(link);
            return;
        }
        if let Some(listed) = self.blocklist.and_then(|b| b.check(link)) {
            self.report.add(
                "url.blocklisted",
                BLOCKLISTED,
                format!("{} ({listed})", link.url),
            );
        }
        if !link.source.is_navigation() {
            return;
        }
        let host = link.host.trim_end_matches('.');
        let parts = HostParts::of(host);
        self.ip_literal(link, host);
        self.userinfo(link);
        self.obfuscation(link);
        let target = redirect_target(link);
        if let Some(target) = &target {
            self.redirector(host, parts.as_ref(), target);
        }
        self.mismatch(link, host, parts.as_ref(), target.as_ref());
        self.brand_in_path(link, parts.as_ref());
        if !self.seen_hosts.contains(host) {
            self.seen_hosts.insert(host.to_string());
            self.host(host, parts.as_ref());
        }
        if let Some(target) = target {
            if depth < MAX_REDIRECT_DEPTH {
                let written = target.to_string();
                if let Some(inner) = from_url(target, link.source, None, &written) {
                    self.link(&inner, depth + 1);
                }
            }
        }
    }

    fn script_link(&mut self, link: &Link) {
        let compact: String = link
            .url
            .chars()
            .filter(|c| !c.is_whitespace())
            .take(40)
            .collect::<String>()
            .to_ascii_lowercase();
        if compact.starts_with("javascript:") || compact.starts_with("vbscript:") {
            self.report.add("url.javascript_uri", 4.0, link.url.clone());
        } else if let Some(rest) = compact.strip_prefix("data:") {
            let active = ["text/html", "application/", "image/svg", "text/javascript"]
                .iter()
                .any(|t| rest.starts_with(t));
            let score = if active { 6.0 } else { 3.0 };
            self.report.add("url.data_uri", score, link.url.clone());
        }
    }

    fn ip_literal(&mut self, link: &Link, host: &str) {
        let ip = host.trim_matches(['[', ']']).parse::<IpAddr>();
        let Ok(ip) = ip else { return };
        let written = written_host(&link.written).unwrap_or(host);
        let odd_form = ip.is_ipv4() && !is_dotted_quad(written);
        if odd_form {
            self.report.add(
                "url.ip_literal",
                7.0,
                format!("{written} is {ip}: {}", link.url),
            );
        } else {
            self.report.add("url.ip_literal", 4.0, link.url.clone());
        }
    }

    fn userinfo(&mut self, link: &Link) {
        let authority = link.url.split_once("://").map_or("", |(_, rest)| {
            rest.split(['/', '?', '#']).next().unwrap_or("")
        });
        let Some((userinfo, _)) = authority.rsplit_once('@') else {
            return;
        };
        let user = userinfo.split(':').next().unwrap_or(userinfo);
        let looks_like_host = user.contains('.') || user.contains("%2e") || user.contains("%2E");
        let score = if looks_like_host { 7.0 } else { 3.0 };
        self.report
            .add("url.userinfo_trick", score, link.url.clone());
    }

    fn obfuscation(&mut self, link: &Link) {
        let written = link.written.as_str();
        let lower = written.to_ascii_lowercase();
        let defanged = [
            "hxxp", "[.]", "(.)", "{.}", "[dot]", "(dot)", "{dot}", "[:]", "[/]",
        ]
        .iter()
        .any(|m| lower.contains(m));
        if defanged {
            self.report
                .add("url.obfuscated", 1.5, format!("defanged: {written}"));
        }
        let Some(host) = written_host(written) else {
            return;
        };
        if host.contains('%') {
            self.report.add(
                "url.obfuscated",
                5.0,
                format!("percent-encoded host: {written}"),
            );
        }
        if host.contains(['\u{3002}', '\u{FF0E}', '\u{FF61}']) {
            self.report.add(
                "url.obfuscated",
                4.0,
                format!("ideographic dots in host: {written}"),
            );
        }
        let after_scheme = written.split_once(':').map_or("", |(_, rest)| rest);
        if after_scheme.starts_with("\\") || after_scheme.starts_with("/\\") {
            self.report.add(
                "url.obfuscated",
                3.0,
                format!("backslashes for slashes: {written}"),
            );
        }
    }

    fn redirector(&mut self, host: &str, parts: Option<&HostParts<'_>>, target: &Url) {
        let Some(target_host) = target.host_str() else {
            return;
        };
        let here = parts.map_or(host, |p| p.registrable);
        let there = crate::domain::registrable_or_host(target_host);
        if here == there || is_listed(MAIL_TRACKERS, host) || self.policy.is_own(here) {
            return;
        }
        // An open redirect on a trusted domain lends the destination that domain's reputation.
        let trusted = parts.is_some_and(|p| self.policy.is_genuine(p));
        let score = if trusted { 3.0 } else { 2.0 };
        self.report.add(
            "url.redirector",
            score,
            format!("{host} redirects to {target_host}"),
        );
    }

    fn mismatch(
        &mut self,
        link: &Link,
        host: &str,
        parts: Option<&HostParts<'_>>,
        target: Option<&Url>,
    ) {
        if link.source != LinkSource::Href {
            return;
        }
        let Some(shown) = link.shown_text.as_deref().and_then(host_shown_in) else {
            return;
        };
        let shown_parts = HostParts::of(&shown);
        let shown_domain = shown_parts.map_or(shown.as_str(), |p| p.registrable);
        let href_domain = parts.map_or(host, |p| p.registrable);
        if shown_domain == href_domain || self.policy.is_own(href_domain) {
            return;
        }
        if let (Some(s), Some(h)) = (shown_parts.as_ref(), parts) {
            // amazon.de shown, amazon.com linked: one owner.
            if self.policy.names.iter().any(|n| n.owns(s) && n.owns(h)) {
                return;
            }
        }
        let via = target
            .and_then(Url::host_str)
            .map(crate::domain::registrable_or_host);
        if via == Some(shown_domain) {
            return;
        }
        let shows_trusted = shown_parts.is_some_and(|p| self.policy.is_genuine(&p));
        let score = if is_listed(MAIL_TRACKERS, host) {
            1.0
        } else if shows_trusted {
            7.0
        } else if looks_like_click_tracking(&link.url) {
            2.0
        } else {
            4.0
        };
        self.report.add(
            "url.text_href_mismatch",
            score,
            format!("text shows {shown}, link goes to {host}"),
        );
    }

    /// `http://secured-inet.example/eBay/auth/`: kits name their folders after the brand.
    fn brand_in_path(&mut self, link: &Link, parts: Option<&HostParts<'_>>) {
        if self.policy.path_labels.is_empty() || parts.is_some_and(|p| self.policy.is_genuine(p)) {
            return;
        }
        let path = link
            .url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or("");
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let brand = path
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|t| t.len() >= 4)
            .find(|t| self.policy.path_labels.contains(&t.to_ascii_lowercase()));
        if let Some(brand) = brand {
            let evidence = format!("{brand} in {}", link.url);
            self.report.add("url.brand_in_path", 2.0, evidence);
        }
    }

    /// Checks that depend on the host alone, done once per host.
    fn host(&mut self, host: &str, parts: Option<&HostParts<'_>>) {
        let unicode = to_unicode(host);
        if host.split('.').any(|l| starts_with_ignore_case(l, "xn--")) {
            self.report
                .add("url.punycode", 1.0, format!("{host} ({unicode})"));
        }
        if unicode
            .split('.')
            .any(|l| !l.is_ascii() && !l.is_single_script())
        {
            self.report
                .add("url.mixed_script", 5.0, format!("{unicode} mixes scripts"));
        }
        let Some(parts) = parts else { return };
        if is_listed(SHORTENERS, host) {
            self.report.add("url.shortener", 1.5, host.to_string());
        }
        if self.policy.is_genuine(parts) {
            return;
        }
        let tld = parts.suffix.rsplit('.').next().unwrap_or(parts.suffix);
        if SUSPICIOUS_TLDS.contains(&tld) {
            self.report.add("url.suspicious_tld", 1.0, host.to_string());
        }
        if let Some((score, evidence)) = lookalike(parts, &unicode, self.policy) {
            self.report.add("url.lookalike", score, evidence);
        }
    }
}

fn is_dotted_quad(host: &str) -> bool {
    let parts: Vec<&str> = host.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        })
}

/// Whether `host` or one of its parent domains is in `list`.
fn is_listed(list: &[&str], host: &str) -> bool {
    list.iter().any(|entry| is_within(host, entry))
}

fn looks_like_click_tracking(url: &str) -> bool {
    let path = url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("");
    [
        "/click",
        "/track",
        "/ls/click",
        "/c/",
        "/r/",
        "/l/",
        "/e/",
        "/redirect",
        "/link",
    ]
    .iter()
    .any(|p| starts_with_ignore_case(path, p) || path.contains(&p[..p.len().min(7)]))
}

/// Query keys that carry a destination in redirect endpoints.
#[rustfmt::skip]
const REDIRECT_KEYS: &[&str] = &[
    "continue", "dest", "destination", "forward", "goto", "link", "next", "out", "q", "r", "redir",
    "redirect", "redirect_to", "redirect_uri", "redirect_url", "redirecturl", "return",
    "return_to", "returnto", "return_url", "returnurl", "rurl", "target", "to", "u", "url",
];

/// Where a redirect endpoint sends the reader, read from the URL itself: `?url=https://...`,
/// `/redirect/https://...`, Google's `/url?q=` and `/amp/s/`. Social "share" endpoints carry a
/// URL too but do not send the reader there.
fn redirect_target(link: &Link) -> Option<Url> {
    let url = link.url.as_str();
    // Only what follows the authority can carry a destination.
    let after_host = url
        .split_once("://")
        .and_then(|(_, rest)| rest.find(['/', '?']).map(|i| &rest[i..]))
        .unwrap_or("");
    let has = |needle: &str| {
        after_host
            .as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
    };
    if !has("http") && !has("/amp/s/") {
        return None;
    }
    let parsed = Url::parse(url).ok()?;
    let path = parsed.path();
    let path_lower = path.to_ascii_lowercase();
    if ["share", "intent", "sharer", "pin/create", "submit"]
        .iter()
        .any(|p| path_lower.contains(p))
    {
        return None;
    }
    for (key, value) in parsed.query_pairs() {
        let key = key.to_ascii_lowercase();
        if !REDIRECT_KEYS.contains(&key.as_str()) {
            continue;
        }
        let value = value.trim();
        if starts_with_ignore_case(value, "http://") || starts_with_ignore_case(value, "https://") {
            if let Ok(target) = Url::parse(value) {
                return Some(target);
            }
        }
    }
    for marker in [
        "/http://",
        "/https://",
        "/http:/",
        "/https:/",
        "/http%3a",
        "/https%3a",
    ] {
        if let Some(i) = path_lower.find(marker) {
            let raw = &path[i + 1..];
            let decoded = percent_decode(raw);
            let fixed = decoded.replacen(":/", "://", 1).replacen(":///", "://", 1);
            if let Ok(target) = Url::parse(&fixed) {
                return Some(target);
            }
        }
    }
    let host = parsed.host_str().unwrap_or("");
    if let Some(rest) = path.strip_prefix("/amp/s/") {
        if host.split('.').any(|l| l == "google") {
            return Url::parse(&format!("https://{rest}")).ok();
        }
    }
    None
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

static WORD_SKELETONS: LazyLock<Vec<String>> =
    LazyLock::new(|| PHISHING_WORDS.iter().map(|w| skeleton(w)).collect());

/// Whether `rest` (a skeleton) is made of phishing words and digits: `securelogin`, `24`.
fn is_phishing_compound(rest: &str) -> bool {
    let rest = rest.trim_matches('-');
    if rest.is_empty() || rest.len() > 48 {
        return false;
    }
    // reachable[i]: rest[..i] splits into words and digit runs.
    let b = rest.as_bytes();
    let mut reachable = vec![false; b.len() + 1];
    reachable[0] = true;
    for i in 0..b.len() {
        if !reachable[i] {
            continue;
        }
        if b[i].is_ascii_digit() || b[i] == b'-' {
            reachable[i + 1] = true;
        }
        for word in WORD_SKELETONS.iter() {
            if rest.get(i..).is_some_and(|r| r.starts_with(word.as_str())) {
                reachable[i + word.len()] = true;
            }
        }
    }
    reachable[b.len()]
}

/// A piece of a host name, prepared once per host for comparing with every protected name.
struct Token {
    text: String,
    skeleton: String,
    skeleton_chars: Vec<char>,
    skeleton_mask: u64,
    phishing_word: bool,
}

impl Token {
    fn new(text: &str) -> Self {
        let skeleton = skeleton(text);
        let skeleton_chars: Vec<char> = skeleton.chars().collect();
        Token {
            text: text.to_string(),
            skeleton_mask: char_mask(&skeleton_chars),
            skeleton_chars,
            phishing_word: is_phishing_compound(&skeleton),
            skeleton,
        }
    }

    /// The brand, a confusable spelling of it, or (for names of six letters or more) a
    /// one-letter misspelling.
    fn names(&self, name: &ProtectedName) -> bool {
        self.text == name.label
            || self.skeleton == name.skeleton
            || (name.label_chars.len() >= 6
                && within_edits(
                    &self.skeleton_chars,
                    self.skeleton_mask,
                    &name.skeleton_chars,
                    name.skeleton_mask,
                    1,
                ))
    }
}

/// A host under suspicion, prepared once.
struct Suspect<'a> {
    parts: &'a HostParts<'a>,
    label: String,
    label_chars: Vec<char>,
    label_mask: u64,
    skeleton: String,
    skeleton_chars: Vec<char>,
    skeleton_mask: u64,
    /// The label's skeleton without hyphens: `paypalsecure`.
    compact: String,
    /// Hyphen-separated pieces of the label.
    label_tokens: Vec<Token>,
    /// Dot- and hyphen-separated pieces of the subdomain.
    sub_tokens: Vec<Token>,
}

impl<'a> Suspect<'a> {
    fn new(parts: &'a HostParts<'a>) -> Self {
        let label = to_unicode(parts.label).into_owned();
        let skeleton = skeleton(&label);
        let tokens = |s: &str, separators: &[char]| -> Vec<Token> {
            s.split(separators)
                .filter(|t| !t.is_empty())
                .take(32)
                .map(Token::new)
                .collect()
        };
        let sub_unicode = to_unicode(parts.subdomain);
        let label_chars: Vec<char> = label.chars().collect();
        let skeleton_chars: Vec<char> = skeleton.chars().collect();
        Suspect {
            parts,
            label_mask: char_mask(&label_chars),
            skeleton_mask: char_mask(&skeleton_chars),
            label_chars,
            skeleton_chars,
            compact: skeleton.replace('-', ""),
            label_tokens: tokens(&label, &['-']),
            sub_tokens: tokens(&sub_unicode, &['.', '-']),
            skeleton,
            label,
        }
    }
}

/// The strongest way `parts` imitates a protected name, as (score, evidence).
fn lookalike(
    parts: &HostParts<'_>,
    unicode_host: &str,
    policy: &UrlPolicy,
) -> Option<(f32, String)> {
    let suspect = Suspect::new(parts);
    let mut best: Option<(f32, &'static str, &ProtectedName)> = None;
    for name in &policy.names {
        if let Some((score, how)) = imitation(&suspect, name) {
            if best.is_none_or(|(s, _, _)| score > s) {
                best = Some((score, how, name));
            }
        }
    }
    let (score, how, name) = best?;
    let target = name
        .domains
        .first()
        .cloned()
        .unwrap_or_else(|| format!("{}.*", name.label));
    Some((score, format!("{unicode_host} imitates {target} ({how})")))
}

fn imitation(suspect: &Suspect<'_>, name: &ProtectedName) -> Option<(f32, &'static str)> {
    let mut best: Option<(f32, &'static str)> = None;
    let mut consider = |score: f32, how: &'static str| {
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, how));
        }
    };
    // Subdomain abuse: paypal.com.evil.test, paypal.login.evil.test.
    let sub = suspect.parts.subdomain;
    if !sub.is_empty() {
        if name
            .domains
            .iter()
            .any(|domain| contains_labels(sub, domain))
        {
            consider(7.0, "real domain used as a subdomain");
        }
        if suspect.sub_tokens.iter().any(|t| t.names(name)) {
            let words = suspect
                .sub_tokens
                .iter()
                .chain(&suspect.label_tokens)
                .any(|t| t.phishing_word && !t.names(name));
            consider(if words { 5.0 } else { 2.0 }, "brand name as a subdomain");
        }
    }
    if suspect.label == name.label {
        // Genuine owners were excluded before: this is the name under a suffix it does not own.
        consider(6.0, "same name under another suffix");
        return best;
    }
    if suspect.skeleton == name.skeleton {
        consider(8.0, "confusable characters");
        return best;
    }
    if is_misspelling(suspect, name) {
        let score = if name.label_chars.len() >= 7 {
            6.0
        } else {
            5.0
        };
        consider(score, "a small misspelling");
    }
    // Added words: paypal-secure-login, secure-paypal, netf1ix-billing.
    let tokens = &suspect.label_tokens;
    if tokens.len() > 1 {
        if let Some(at) = tokens.iter().position(|t| t.names(name)) {
            let words = tokens
                .iter()
                .enumerate()
                .any(|(i, t)| i != at && t.phishing_word);
            consider(if words { 6.0 } else { 2.5 }, "brand name with added words");
        }
    }
    // Added words without hyphens: paypalsupport, loginmicrosoft365account.
    if name.label_chars.len() >= 3 && suspect.compact.len() > name.skeleton.len() {
        let compact = suspect.compact.as_bytes();
        let brand = name.skeleton.as_bytes();
        let embedded = (0..=compact.len() - brand.len()).any(|at| {
            compact[at] == brand[0] && compact[at..].starts_with(brand) && {
                // `at` and `at + brand.len()` are char boundaries: the brand is whole chars.
                let before = suspect.compact.get(..at).unwrap_or("");
                let after = suspect.compact.get(at + brand.len()..).unwrap_or("");
                (before.is_empty() || is_phishing_compound(before))
                    && (after.is_empty() || is_phishing_compound(after))
            }
        });
        if embedded {
            consider(6.0, "brand name with added words");
        }
    }
    best
}

/// Whether the label is a small edit of the name: one edit for names of up to eight letters, two
/// for longer ones, counted on the letters and on their confusable skeletons (whichever is
/// closer). Five-letter names only count substitutions and swaps: one letter fewer or more turns
/// too many ordinary words into brands (`mail` is not `gmail`).
fn is_misspelling(suspect: &Suspect<'_>, name: &ProtectedName) -> bool {
    let n = name.label_chars.len();
    if n < 5 || (n == 5 && suspect.label_chars.len() != n) {
        return false;
    }
    let max = if n >= 9 { 2 } else { 1 };
    within_edits(
        &suspect.label_chars,
        suspect.label_mask,
        &name.label_chars,
        name.label_mask,
        max,
    ) || within_edits(
        &suspect.skeleton_chars,
        suspect.skeleton_mask,
        &name.skeleton_chars,
        name.skeleton_mask,
        max,
    )
}

/// Findings merged by name.
#[derive(Default)]
struct Report {
    findings: Vec<Finding>,
    evidence_seen: HashSet<(&'static str, String)>,
}

impl Report {
    fn add(&mut self, name: &'static str, score: f32, evidence: String) {
        let index = match self.findings.iter().position(|f| f.name == name) {
            Some(i) => i,
            None => {
                self.findings.push(Finding::new(name, score));
                self.findings.len() - 1
            }
        };
        let finding = &mut self.findings[index];
        finding.score = finding.score.max(score);
        if finding.evidence.len() < MAX_EVIDENCE
            && self.evidence_seen.insert((name, evidence.clone()))
        {
            let taken = std::mem::replace(finding, Finding::new(name, 0.0));
            *finding = taken.with_evidence(evidence);
        }
    }

    fn into_findings(mut self) -> Vec<Finding> {
        self.findings.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.name.cmp(&b.name))
        });
        self.findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_only_canonical_dotted_quads() {
        assert!(is_dotted_quad("192.168.1.1"));
        assert!(!is_dotted_quad("3232235777"));
        assert!(!is_dotted_quad("0xc0.0xa8.1.1"));
        assert!(!is_dotted_quad("0300.0250.01.01"));
        assert!(!is_dotted_quad("192.168.257"));
    }

    #[test]
    fn splits_phishing_compounds() {
        assert!(is_phishing_compound("securelogin"));
        assert!(is_phishing_compound("support24"));
        assert!(!is_phishing_compound("bees"));
        assert!(!is_phishing_compound("aws"));
    }
}
