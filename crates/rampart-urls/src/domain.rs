//! Host names as a judge sees them: registrable domain (public suffix list), Unicode form of IDN
//! labels, UTS #39 confusable skeletons and edit distance.

use std::borrow::Cow;
use std::net::IpAddr;

/// A host split along the public suffix list: `login.paypal.co.uk` is subdomain `login`,
/// label `paypal`, suffix `co.uk`, registrable domain `paypal.co.uk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HostParts<'a> {
    pub host: &'a str,
    pub registrable: &'a str,
    pub label: &'a str,
    pub suffix: &'a str,
    /// Labels left of the registrable domain, without the joining dot; may be empty.
    pub subdomain: &'a str,
}

impl<'a> HostParts<'a> {
    /// `host` must be lower-case ASCII (as [`crate::Link::host`] is). `None` for IP literals and
    /// for hosts that are a public suffix or have a single label.
    pub fn of(host: &'a str) -> Option<Self> {
        let host = host.trim_end_matches('.');
        if host.is_empty() || host.starts_with('[') || host.parse::<IpAddr>().is_ok() {
            return None;
        }
        let registrable = psl::domain_str(host)?;
        let suffix = psl::suffix_str(registrable)?;
        let label = registrable.get(..registrable.len().checked_sub(suffix.len() + 1)?)?;
        let subdomain = host
            .get(..host.len() - registrable.len())
            .unwrap_or("")
            .trim_end_matches('.');
        Some(HostParts {
            host,
            registrable,
            label,
            suffix,
            subdomain,
        })
    }
}

/// The registrable domain of a host, or the host itself when it has none (IP, single label).
pub(crate) fn registrable_or_host(host: &str) -> &str {
    HostParts::of(host).map_or(host.trim_end_matches('.'), |p| p.registrable)
}

/// Whether `name` ends in a suffix the public suffix list knows (not just its `*` default rule).
pub(crate) fn has_known_suffix(name: &str) -> bool {
    psl::suffix(name.as_bytes()).is_some_and(|s| s.is_known())
}

/// The Unicode form of a host whose labels may be punycode (`xn--pypal-4ve.com` is
/// `pаypal.com` with a Cyrillic `а`).
pub(crate) fn to_unicode(host: &str) -> Cow<'_, str> {
    if !host.contains("xn--") {
        return Cow::Borrowed(host);
    }
    let (unicode, result) = idna::domain_to_unicode(host);
    match result {
        Ok(()) => Cow::Owned(unicode),
        Err(_) => Cow::Borrowed(host),
    }
}

/// UTS #39 skeleton, made case-insensitive: two strings with equal skeletons look alike
/// (`раураl` and `paypal`, `rnicrosoft` and `microsoft`, `paypa1` and `paypal`). The standard's
/// prototypes are partly upper-case (`0` becomes `O`), so the result is lower-cased again.
pub(crate) fn skeleton(s: &str) -> String {
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        // Host names are nearly always these characters: map through a table of the same
        // function's per-character results (their prototypes are ASCII, so nothing recombines).
        let table = &*ASCII_SKELETONS;
        return s.bytes().map(|b| table[usize::from(b)].as_str()).collect();
    }
    full_skeleton(s)
}

fn full_skeleton(s: &str) -> String {
    let lower = s.to_lowercase();
    let skeleton: String = unicode_security::skeleton(&lower).collect();
    skeleton.to_lowercase()
}

static ASCII_SKELETONS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    (0u8..128)
        .map(|b| full_skeleton(char::from(b).encode_utf8(&mut [0; 4])))
        .collect()
});

/// Longest string [`osa_distance`] measures; longer ones are "far" (host labels are at most 63).
const MAX_OSA_LEN: usize = 64;

/// Optimal-string-alignment distance (Damerau-Levenshtein with adjacent transpositions, no
/// substring edited twice): `paypal`/`paypa` 1, `micorsoft`/`microsoft` 1. Strings longer than
/// 64 characters count as `usize::MAX` away. No allocation: it runs for every brand and host.
pub(crate) fn osa_distance(a: &[char], b: &[char]) -> usize {
    let (n, m) = (a.len(), b.len());
    if n == 0 || m == 0 {
        return n.max(m);
    }
    if n > MAX_OSA_LEN || m > MAX_OSA_LEN {
        return usize::MAX;
    }
    let mut before = [0u8; MAX_OSA_LEN + 1];
    let mut prev = [0u8; MAX_OSA_LEN + 1];
    let mut cur = [0u8; MAX_OSA_LEN + 1];
    for (j, cell) in prev.iter_mut().enumerate().take(m + 1) {
        *cell = j as u8;
    }
    for i in 1..=n {
        cur[0] = i as u8;
        for j in 1..=m {
            let cost = u8::from(a[i - 1] != b[j - 1]);
            let mut best = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            cur[j] = best;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    usize::from(prev[m])
}

/// The set of characters in a string, folded into 64 buckets. Each edit changes the set by at
/// most two members, so `(mask(a) ^ mask(b)).count_ones() > 2 * k` proves the edit distance is
/// more than `k` without computing it.
pub(crate) fn char_mask(chars: &[char]) -> u64 {
    chars
        .iter()
        .fold(0, |mask, &c| mask | 1 << (u32::from(c) % 64))
}

/// Whether the edit distance of two strings is at most `max`, with [`char_mask`] as a filter.
pub(crate) fn within_edits(a: &[char], a_mask: u64, b: &[char], b_mask: u64, max: usize) -> bool {
    a.len().abs_diff(b.len()) <= max
        && (a_mask ^ b_mask).count_ones() as usize <= 2 * max
        && osa_distance(a, b) <= max
}

/// Whether `inner` occurs in `outer` as whole labels (`paypal.com` in `www.paypal.com.x`).
pub(crate) fn contains_labels(outer: &str, inner: &str) -> bool {
    let (o, i) = (outer.as_bytes(), inner.as_bytes());
    if i.is_empty() || i.len() > o.len() {
        return false;
    }
    (0..=o.len() - i.len()).any(|at| {
        &o[at..at + i.len()] == i
            && (at == 0 || o[at - 1] == b'.')
            && (at + i.len() == o.len() || o[at + i.len()] == b'.')
    })
}

/// Two-letter top-level domains that are sold as generic names (`.co`, `.io`, `.me`, ...) and so
/// say nothing about a country; a brand's `paypal.co` is a swap, `paypal.de` a country site.
#[rustfmt::skip]
const GENERIC_CCTLDS: &[&str] = &[
    "ac", "ai", "am", "cc", "cf", "co", "cx", "fm", "ga", "gg", "gq", "im", "io", "la", "ly", "me",
    "ml", "nu", "pw", "sh", "st", "su", "tk", "to", "tv", "vc", "ws",
];

/// Whether a public suffix is a country's (`de`, `co.uk`, `com.au`), not a generic one.
pub(crate) fn is_country_suffix(suffix: &str) -> bool {
    let tld = suffix.rsplit('.').next().unwrap_or(suffix);
    tld.len() == 2 && tld.bytes().all(|b| b.is_ascii_lowercase()) && !GENERIC_CCTLDS.contains(&tld)
}

/// Whether `host` is `domain` or one of its subdomains.
pub(crate) fn is_within(host: &str, domain: &str) -> bool {
    host == domain
        || (host.len() > domain.len()
            && host.ends_with(domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn splits_hosts_along_the_public_suffix_list() {
        let p = HostParts::of("login.secure.paypal.co.uk").unwrap();
        assert_eq!(
            (p.registrable, p.label, p.suffix, p.subdomain),
            ("paypal.co.uk", "paypal", "co.uk", "login.secure")
        );
        let p = HostParts::of("evil-paypal.github.io").unwrap();
        assert_eq!((p.label, p.suffix), ("evil-paypal", "github.io"));
        assert_eq!(HostParts::of("192.168.1.1"), None);
        assert_eq!(HostParts::of("co.uk"), None);
        assert_eq!(registrable_or_host("www.example.com."), "example.com");
    }

    #[test]
    fn measures_transpositions_as_one_edit() {
        assert_eq!(osa_distance(&chars("micorsoft"), &chars("microsoft")), 1);
        assert_eq!(osa_distance(&chars("paypa"), &chars("paypal")), 1);
        assert_eq!(osa_distance(&chars("payypall"), &chars("paypal")), 2);
        assert_eq!(osa_distance(&chars(""), &chars("abc")), 3);
        assert_eq!(
            osa_distance(&chars(&"a".repeat(65)), &chars("a")),
            usize::MAX
        );
    }

    #[test]
    fn skeletons_of_homographs_are_equal() {
        assert_eq!(skeleton("раураl"), skeleton("paypal"));
        assert_eq!(skeleton("rnicrosoft"), skeleton("microsoft"));
        assert_eq!(skeleton("PAYPA1"), skeleton("paypal"));
        assert_eq!(skeleton("g00gle"), skeleton("google"));
        assert_ne!(skeleton("paypai"), skeleton("paypal"));
    }

    #[test]
    fn ascii_skeletons_from_the_table_match_the_full_computation() {
        let host_chars: String = (b' '..=b'~')
            .map(char::from)
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
            .collect();
        for s in [
            host_chars.as_str(),
            "paypa1-rn0de",
            "WWW.G00GLE.COM",
            "vvI1l0Oo",
        ] {
            assert_eq!(skeleton(s), full_skeleton(s), "{s}");
        }
        assert!(host_chars
            .bytes()
            .all(|b| ASCII_SKELETONS[usize::from(b)].is_ascii()));
    }

    #[test]
    fn tells_country_suffixes_from_generic_ones() {
        assert!(is_country_suffix("de"));
        assert!(is_country_suffix("co.uk"));
        assert!(!is_country_suffix("co"));
        assert!(!is_country_suffix("com"));
        assert!(!is_country_suffix("support"));
    }

    #[test]
    fn filters_distant_strings_by_their_character_sets() {
        let (a, b) = (chars("microsoft"), chars("micorsoft"));
        assert!(within_edits(&a, char_mask(&a), &b, char_mask(&b), 1));
        let c = chars("outfitter");
        assert!(!within_edits(&a, char_mask(&a), &c, char_mask(&c), 2));
    }

    #[test]
    fn finds_whole_labels_inside_a_host() {
        assert!(contains_labels("www.paypal.com.evil", "paypal.com"));
        assert!(contains_labels("paypal.com", "paypal.com"));
        assert!(!contains_labels("mypaypal.com.evil", "paypal.com"));
        assert!(!contains_labels("paypal.community", "paypal.com"));
    }

    #[test]
    fn knows_subdomains_by_label_boundary() {
        assert!(is_within("www.paypal.com", "paypal.com"));
        assert!(is_within("paypal.com", "paypal.com"));
        assert!(!is_within("evilpaypal.com", "paypal.com"));
    }
}
