use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One thing a check noticed, with how much it counts and why. Checks only report findings; what
/// happens to the message is the policy's decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Dotted name, check family first: `auth.dmarc_fail`, `url.ip_literal`, `file.macro`.
    pub name: String,
    /// Contribution to the message's score; negative for evidence of legitimacy.
    pub score: f32,
    /// Human-readable facts that produced it (a URL, a header value, a file name).
    pub evidence: Vec<String>,
}

impl Finding {
    pub fn new(name: impl Into<String>, score: f32) -> Self {
        Finding {
            name: name.into(),
            score,
            evidence: Vec::new(),
        }
    }

    pub fn with_evidence(mut self, evidence: impl Into<String>) -> Self {
        let mut e: String = evidence.into();
        // Evidence ends up in headers and logs: keep it short and single-line.
        e.retain(|c| !c.is_control());
        if e.len() > 200 {
            let mut cut = 200;
            while !e.is_char_boundary(cut) {
                cut -= 1;
            }
            e.truncate(cut);
            e.push('…');
        }
        self.evidence.push(e);
        self
    }

    /// The family: the part before the first dot.
    pub fn family(&self) -> &str {
        self.name.split('.').next().unwrap_or(&self.name)
    }
}

/// Which way a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    #[default]
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

impl FromStr for Direction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "inbound" | "in" => Ok(Direction::Inbound),
            "outbound" | "out" => Ok(Direction::Outbound),
            _ => Err(format!("unknown direction {s:?} (inbound or outbound)")),
        }
    }
}

/// What happens to a message, mildest first (`Ord` follows severity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Deliver untouched (beyond the verdict headers).
    Accept,
    /// Deliver with warning headers and, if configured, a subject prefix.
    Tag,
    /// Deliver to the Junk folder.
    Junk,
    /// Keep out of the mailbox until an admin releases it.
    Quarantine,
    /// Outbound: hold until the sender verifies (step-up) or an admin approves.
    Hold,
    /// Refuse in-session (5xx at end of DATA) / outbound: do not send.
    Reject,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Tag => "tag",
            Action::Junk => "junk",
            Action::Quarantine => "quarantine",
            Action::Hold => "hold",
            Action::Reject => "reject",
        }
    }
}

impl FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Action::Accept,
            Action::Tag,
            Action::Junk,
            Action::Quarantine,
            Action::Hold,
            Action::Reject,
        ]
        .into_iter()
        .find(|a| {
            a.as_str().eq_ignore_ascii_case(s)
                || (s.eq_ignore_ascii_case("block") && *a == Action::Reject)
        })
        .ok_or_else(|| {
            format!("unknown action {s:?} (accept, tag, junk, quarantine, hold, reject)")
        })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
