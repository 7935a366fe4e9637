use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A mailbox address (`local@domain`) as Rampart stores and compares it.
///
/// Both parts are lower-cased: the local part is compared case-insensitively like every mainstream
/// server does, and domains are case-insensitive by definition. UTF-8 is allowed in both parts
/// (SMTPUTF8); whether a peer may *use* it is the protocol layer's decision.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress {
    full: String,
    at: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("address has no '@'")]
    MissingAt,
    #[error("local part is empty")]
    EmptyLocal,
    #[error("local part is longer than 64 octets")]
    LocalTooLong,
    #[error("domain is empty")]
    EmptyDomain,
    #[error("domain is longer than 255 octets")]
    DomainTooLong,
    #[error("domain label {0:?} is not a valid host name label")]
    BadDomainLabel(String),
    #[error("local part contains a character that is not allowed: {0:?}")]
    BadLocalChar(char),
}

impl EmailAddress {
    /// The part before the last `@`, lower-cased.
    pub fn local(&self) -> &str {
        &self.full[..self.at]
    }

    /// The domain, lower-cased.
    pub fn domain(&self) -> &str {
        &self.full[self.at + 1..]
    }

    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// True when any part needs SMTPUTF8 to be carried.
    pub fn is_ascii(&self) -> bool {
        self.full.is_ascii()
    }
}

/// Validates and normalises a domain name (lower-case, no trailing dot).
pub(crate) fn normalize_domain(raw: &str) -> Result<String, AddressError> {
    let domain = raw.strip_suffix('.').unwrap_or(raw).to_lowercase();
    if domain.is_empty() {
        return Err(AddressError::EmptyDomain);
    }
    if domain.len() > 255 {
        return Err(AddressError::DomainTooLong);
    }
    for label in domain.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || (!c.is_ascii() && !c.is_control()));
        if !ok {
            return Err(AddressError::BadDomainLabel(label.to_string()));
        }
    }
    Ok(domain)
}

impl FromStr for EmailAddress {
    type Err = AddressError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let at = raw.rfind('@').ok_or(AddressError::MissingAt)?;
        let (local, domain) = (&raw[..at], &raw[at + 1..]);
        if local.is_empty() {
            return Err(AddressError::EmptyLocal);
        }
        if local.len() > 64 {
            return Err(AddressError::LocalTooLong);
        }
        // The dot-atom/quoted-string grammar is the SMTP parser's job; here we only refuse what can
        // never be a stored mailbox name: controls, spaces and separators outside quotes.
        if let Some(c) = local
            .chars()
            .find(|c| c.is_control() || matches!(c, ' ' | '<' | '>' | ',' | ';' | ':' | '\\'))
            .filter(|_| !(local.starts_with('"') && local.ends_with('"') && local.len() >= 2))
        {
            return Err(AddressError::BadLocalChar(c));
        }
        let domain = normalize_domain(domain)?;
        let local = local.to_lowercase();
        let at = local.len();
        Ok(EmailAddress {
            full: format!("{local}@{domain}"),
            at,
        })
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = AddressError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<EmailAddress> for String {
    fn from(a: EmailAddress) -> String {
        a.full
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_and_splits_at_last_at_sign() {
        let a: EmailAddress = "\"odd@local\"@Example.ORG.".parse().unwrap();
        assert_eq!(a.local(), "\"odd@local\"");
        assert_eq!(a.domain(), "example.org");
    }

    #[test]
    fn accepts_internationalised_addresses() {
        let a: EmailAddress = "用户@例子.中国".parse().unwrap();
        assert!(!a.is_ascii());
        assert_eq!(a.domain(), "例子.中国");
    }

    #[test]
    fn rejects_malformed_addresses() {
        assert_eq!(
            "nobody".parse::<EmailAddress>(),
            Err(AddressError::MissingAt)
        );
        assert_eq!(
            "@x.org".parse::<EmailAddress>(),
            Err(AddressError::EmptyLocal)
        );
        assert_eq!("a@".parse::<EmailAddress>(), Err(AddressError::EmptyDomain));
        assert!(matches!(
            "a@bad..domain".parse::<EmailAddress>(),
            Err(AddressError::BadDomainLabel(_))
        ));
        assert!(matches!(
            "a b@x.org".parse::<EmailAddress>(),
            Err(AddressError::BadLocalChar(' '))
        ));
        assert_eq!(
            format!("{}@x.org", "a".repeat(65)).parse::<EmailAddress>(),
            Err(AddressError::LocalTooLong)
        );
    }
}
