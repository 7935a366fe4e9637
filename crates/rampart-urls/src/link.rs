//! From a string as written to a [`Link`]: scheme sniffing, resolution against `<base href>`,
//! WHATWG normalisation, and reading back the host as it was written.

use url::Url;

use crate::{Link, LinkSource};

/// Longer links are cut before parsing; the host is always near the front.
pub(crate) const MAX_URL_LEN: usize = 8 * 1024;
/// [`Link::written`] keeps this many bytes.
pub(crate) const MAX_WRITTEN_LEN: usize = 512;
/// `javascript:` and `data:` links keep this many bytes as their [`Link::url`].
const MAX_SCRIPT_URL_LEN: usize = 200;

/// Cuts `s` to at most `max` bytes on a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

/// What a link's scheme makes of it.
#[derive(Debug, PartialEq, Eq)]
enum Scheme {
    /// `http`, `https`, `ftp`: judged by host.
    Web,
    /// `javascript:`, `vbscript:`, `data:`: judged by scheme alone.
    Script,
    /// `mailto:`, `tel:`, `cid:`, `#fragment`, ...: not a link to judge.
    Ignored,
    /// No scheme: relative to the base URL, if any.
    Relative,
}

fn sniff_scheme(value: &str) -> (Scheme, String) {
    // Browsers drop tabs and newlines anywhere in a URL: `java\tscript:` is `javascript:`.
    let mut scheme = String::new();
    for c in value.chars().take(40) {
        match c {
            '\t' | '\n' | '\r' => continue,
            ':' => {
                let kind = match scheme.as_str() {
                    "http" | "https" | "ftp" => Scheme::Web,
                    "javascript" | "vbscript" | "data" => Scheme::Script,
                    s if s.len() == 1 => Scheme::Relative, // `c:\path`, treated as a path
                    _ => Scheme::Ignored,
                };
                return (kind, scheme);
            }
            c if c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.') => {
                scheme.push(c.to_ascii_lowercase())
            }
            _ => break,
        }
    }
    (Scheme::Relative, String::new())
}

/// Turns an attribute value (entities already decoded) into a link, resolving relative values
/// against `base`. `None` for links there is nothing to judge in.
pub(crate) fn from_attribute(
    value: &str,
    source: LinkSource,
    base: Option<&Url>,
    shown_text: Option<String>,
) -> Option<Link> {
    let value = value.trim_matches(|c: char| c <= ' ');
    if value.is_empty() || value.starts_with('#') {
        return None;
    }
    let value = truncate(value, MAX_URL_LEN);
    let (scheme, name) = sniff_scheme(value);
    let parsed = match scheme {
        Scheme::Ignored => return None,
        Scheme::Script => {
            // Inline images are ordinary; only a clickable or submitting `data:` is suspect.
            if name == "data" && source == LinkSource::Src {
                return None;
            }
            return Some(Link {
                url: truncate(value, MAX_SCRIPT_URL_LEN).to_string(),
                host: String::new(),
                shown_text,
                source,
                written: truncate(value, MAX_WRITTEN_LEN).to_string(),
            });
        }
        Scheme::Web => Url::parse(value).ok()?,
        Scheme::Relative => match base {
            Some(base) => base.join(value).ok()?,
            // Without a base, webmail resolves `//host/` against its own https origin, and
            // desktop clients open a bare `www.` as a web address.
            None if value.starts_with("//") || value.starts_with("\\\\") => {
                Url::parse(&format!("https:{value}")).ok()?
            }
            None if starts_with_ignore_case(value, "www.") => {
                Url::parse(&format!("http://{value}")).ok()?
            }
            None => return None,
        },
    };
    from_url(parsed, source, shown_text, value)
}

/// A link from a parsed URL; `None` unless it is a web URL with a host.
pub(crate) fn from_url(
    url: Url,
    source: LinkSource,
    shown_text: Option<String>,
    written: &str,
) -> Option<Link> {
    if !matches!(url.scheme(), "http" | "https" | "ftp") {
        return None;
    }
    let host = url.host_str()?.to_string();
    if host.is_empty() {
        return None;
    }
    Some(Link {
        url: String::from(url),
        host,
        shown_text,
        source,
        written: truncate(written, MAX_WRITTEN_LEN).to_string(),
    })
}

pub(crate) fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// The host part of a link as written (`http://user@%70aypal.com:80/` gives `%70aypal.com`),
/// for noticing what normalisation erased. `None` when the written form has no authority.
pub(crate) fn written_host(written: &str) -> Option<&str> {
    let after_scheme = match written.find(':') {
        Some(i)
            if written[..i]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) =>
        {
            &written[i + 1..]
        }
        _ => written,
    };
    let authority = after_scheme.trim_start_matches(['/', '\\']);
    if authority.len() == after_scheme.len() {
        return None;
    }
    let end = authority
        .find(['/', '\\', '?', '#'])
        .unwrap_or(authority.len());
    let authority = &authority[..end];
    let host = match authority.rfind('@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    // Drop a port, but not the colons of an IPv6 literal.
    let host = match host.rfind(':') {
        Some(colon) if !host[colon..].contains(']') => &host[..colon],
        _ => host,
    };
    Some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn href(value: &str) -> Option<Link> {
        from_attribute(value, LinkSource::Href, None, None)
    }

    #[test]
    fn normalises_web_links_as_a_browser_would() {
        let link = href("  HTTP://WWW.Example.COM:80/a/../b?x#y ").unwrap();
        assert_eq!(link.url, "http://www.example.com/b?x#y");
        assert_eq!(link.host, "www.example.com");
        let link = href("http://3232235777/").unwrap();
        assert_eq!(link.host, "192.168.1.1");
        assert_eq!(link.written, "http://3232235777/");
    }

    #[test]
    fn resolves_relative_links_only_against_a_base() {
        assert_eq!(href("/login"), None);
        let base = Url::parse("https://evil.test/kit/").unwrap();
        let link = from_attribute("login.php", LinkSource::Href, Some(&base), None).unwrap();
        assert_eq!(link.url, "https://evil.test/kit/login.php");
        assert_eq!(href("//cdn.test/x").unwrap().url, "https://cdn.test/x");
        assert_eq!(href("www.example.com/x").unwrap().host, "www.example.com");
    }

    #[test]
    fn keeps_script_links_and_drops_mail_and_phone_links() {
        assert_eq!(href("java\tscript:alert(1)").unwrap().host, "");
        assert!(href("data:text/html;base64,PGgxPg==").is_some());
        assert!(from_attribute("data:image/png;base64,AA", LinkSource::Src, None, None).is_none());
        assert_eq!(href("mailto:someone@example.com"), None);
        assert_eq!(href("tel:+15551234"), None);
        assert_eq!(href("#top"), None);
    }

    #[test]
    fn reads_the_host_as_written() {
        assert_eq!(
            written_host("http://user@%70aypal.com:80/x"),
            Some("%70aypal.com")
        );
        assert_eq!(written_host("http:\\\\evil.test\\x"), Some("evil.test"));
        assert_eq!(written_host("http://[::1]:8080/"), Some("[::1]"));
        assert_eq!(written_host("www.example.com/x"), None);
    }
}
