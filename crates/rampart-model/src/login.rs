use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The door a login comes through. Risk profiles, app-password scopes and events name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// SMTP submission (AUTH PLAIN/LOGIN).
    Smtp,
    Imap,
    /// The JSON API and the web console.
    Http,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Smtp, Protocol::Imap, Protocol::Http];

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Smtp => "smtp",
            Protocol::Imap => "imap",
            Protocol::Http => "http",
        }
    }

    /// Whether the protocol can put a question to the user (a TOTP prompt, an approval wait).
    /// SMTP AUTH and IMAP LOGIN cannot: they get a refusal that says where to approve.
    pub fn can_challenge(self) -> bool {
        matches!(self, Protocol::Http)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown protocol {0:?} (expected smtp, imap or http)")]
pub struct UnknownProtocol(pub String);

impl FromStr for Protocol {
    type Err = UnknownProtocol;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Protocol::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownProtocol(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_round_trip_through_their_names() {
        for p in Protocol::ALL {
            assert_eq!(p.as_str().parse::<Protocol>().unwrap(), p);
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{p}\""));
        }
        assert!("pop3".parse::<Protocol>().is_err());
        assert!(Protocol::Http.can_challenge() && !Protocol::Smtp.can_challenge());
    }
}
