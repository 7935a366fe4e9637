//! Registrable domains (public suffix list), the one way every check compares hosts.

/// The registrable domain of a lower-case host (`example.co.uk` for `mail.example.co.uk`), or the
/// host itself when it has none (an IP literal, a single label, a bare public suffix).
pub(crate) fn registrable(host: &str) -> &str {
    let host = host.trim_end_matches('.');
    // The suffix list would read an IPv4 address as the "domain" `2.1` of `192.0.2.1`.
    if is_ip(host) {
        return host;
    }
    psl::domain_str(host).unwrap_or(host)
}

fn is_ip(host: &str) -> bool {
    host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok()
}

/// The label left of the public suffix: `ebay` for `signin.ebay.co.uk`.
pub(crate) fn registrable_label(host: &str) -> Option<&str> {
    let host = host.trim_end_matches('.');
    if is_ip(host) {
        return None;
    }
    let registrable = psl::domain_str(host)?;
    let suffix = psl::suffix_str(registrable)?;
    registrable.get(..registrable.len().checked_sub(suffix.len() + 1)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrable_domains_follow_the_public_suffix_list() {
        assert_eq!(registrable("mail.example.co.uk"), "example.co.uk");
        assert_eq!(registrable("a.b.example.com"), "example.com");
        assert_eq!(registrable("example.com."), "example.com");
        assert_eq!(registrable("192.0.2.1"), "192.0.2.1");
        assert_eq!(registrable_label("signin.ebay.co.uk"), Some("ebay"));
        assert_eq!(registrable_label("192.0.2.1"), None);
    }
}
