use serde::{Deserialize, Serialize};

/// What the caller should do with a login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Let it in.
    Allow,
    /// Ask for a second factor or an approval first (protocols that cannot ask, SMTP AUTH and
    /// IMAP LOGIN, refuse and say where to approve).
    Challenge,
    /// Refuse this attempt.
    Deny,
    /// Refuse, and the source address or network is (now) blocked for everyone.
    BlockSource,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Challenge => "challenge",
            Decision::Deny => "deny",
            Decision::BlockSource => "block_source",
        }
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason behind a decision. `code` is stable snake_case for programs and dashboards;
/// `detail` is for people; `weight` is what it added to the score (0 for hard rules).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub detail: String,
    pub weight: f64,
}

impl Reason {
    pub(crate) fn new(code: &str, detail: impl Into<String>, weight: f64) -> Reason {
        Reason {
            code: code.to_string(),
            detail: detail.into(),
            weight,
        }
    }
}

/// The engine's judgement of one login attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskDecision {
    pub action: Decision,
    /// Higher is riskier: the log-likelihood ratio "attacker vs this user" plus rule weights.
    pub score: f64,
    /// Every reason, hard rules first, then the largest score contributions.
    pub reasons: Vec<Reason>,
    /// How long the caller should wait before answering a failed attempt (progressive delay).
    pub delay_ms: u64,
    /// When a lock or block ends, if it does.
    pub retry_after_ms: Option<u64>,
}

impl RiskDecision {
    /// Whether a reason with this code is present.
    pub fn has(&self, code: &str) -> bool {
        self.reasons.iter().any(|r| r.code == code)
    }
}
