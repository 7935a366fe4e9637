//! What sender authentication found: per-method results, the sender's DMARC policy, the
//! `Authentication-Results` value and the findings policy scores.

use std::fmt;

use mail_auth::dmarc::Policy;
use mail_auth::{DkimResult, DmarcResult, SpfResult};
use rampart_model::Finding;

/// Finding names and scores this crate reports. Policy refers to findings by these names.
pub mod finding {
    /// SPF `fail` for the envelope sender (or a conclusive HELO `fail`).
    pub const SPF_FAIL: &str = "auth.spf_fail";
    pub const SPF_FAIL_SCORE: f32 = 3.0;
    /// SPF `softfail` for the envelope sender.
    pub const SPF_SOFTFAIL: &str = "auth.spf_softfail";
    pub const SPF_SOFTFAIL_SCORE: f32 = 1.0;
    /// At least one DKIM signature is present and does not verify (absent signatures are not a
    /// finding: unsigned mail is common and DMARC covers what matters).
    pub const DKIM_FAIL: &str = "auth.dkim_fail";
    pub const DKIM_FAIL_SCORE: f32 = 2.0;
    /// The From domain publishes DMARC and neither SPF nor DKIM passes aligned.
    pub const DMARC_FAIL: &str = "auth.dmarc_fail";
    pub const DMARC_FAIL_SCORE: f32 = 5.0;
    /// DMARC failed and the applicable policy (`p`, `sp` or `np`, after `t=y`) is `reject`.
    pub const DMARC_REJECT: &str = "auth.dmarc_reject";
    pub const DMARC_REJECT_SCORE: f32 = 12.0;
    /// DMARC failed and the applicable policy is `quarantine`.
    pub const DMARC_QUARANTINE: &str = "auth.dmarc_quarantine";
    pub const DMARC_QUARANTINE_SCORE: f32 = 8.0;
    /// DMARC passed: SPF or DKIM passed for a domain aligned with From. Evidence of legitimacy.
    pub const DMARC_PASS: &str = "auth.dmarc_pass";
    pub const DMARC_PASS_SCORE: f32 = -2.0;
    /// The ARC chain is present and does not validate.
    pub const ARC_FAIL: &str = "auth.arc_fail";
    pub const ARC_FAIL_SCORE: f32 = 2.0;
    /// A lookup timed out or the verification budget ran out: some result is `temperror`. Never
    /// a reason to reject on its own.
    pub const DNS_TEMPERROR: &str = "auth.dns_temperror";
    pub const DNS_TEMPERROR_SCORE: f32 = 0.5;
    /// The message has no From address, or more than one (RFC 5322 allows one author to be
    /// authenticated; DMARC cannot evaluate the rest).
    pub const NO_FROM: &str = "auth.no_from";
    pub const NO_FROM_SCORE: f32 = 3.0;
}

/// The result of one authentication method (RFC 8601 result values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AuthResult {
    Pass,
    Fail,
    /// SPF `~all`: the domain says the sender is probably not authorized.
    SoftFail,
    /// SPF `?all`; for DKIM a signature that could not be evaluated (expired).
    Neutral,
    /// A transient DNS failure or timeout; evaluation might succeed later.
    TempError,
    /// A permanent error in the published records (syntax, missing key).
    PermError,
    /// Nothing to evaluate: no record, no signature, no ARC chain.
    #[default]
    None,
}

impl AuthResult {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthResult::Pass => "pass",
            AuthResult::Fail => "fail",
            AuthResult::SoftFail => "softfail",
            AuthResult::Neutral => "neutral",
            AuthResult::TempError => "temperror",
            AuthResult::PermError => "permerror",
            AuthResult::None => "none",
        }
    }
}

impl fmt::Display for AuthResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<SpfResult> for AuthResult {
    fn from(r: SpfResult) -> Self {
        match r {
            SpfResult::Pass => AuthResult::Pass,
            SpfResult::Fail => AuthResult::Fail,
            SpfResult::SoftFail => AuthResult::SoftFail,
            SpfResult::Neutral => AuthResult::Neutral,
            SpfResult::TempError => AuthResult::TempError,
            SpfResult::PermError => AuthResult::PermError,
            SpfResult::None => AuthResult::None,
        }
    }
}

impl From<&DkimResult> for AuthResult {
    fn from(r: &DkimResult) -> Self {
        match r {
            DkimResult::Pass => AuthResult::Pass,
            DkimResult::Neutral(_) => AuthResult::Neutral,
            DkimResult::Fail(_) => AuthResult::Fail,
            DkimResult::PermError(_) => AuthResult::PermError,
            DkimResult::TempError(_) => AuthResult::TempError,
            DkimResult::None => AuthResult::None,
        }
    }
}

impl From<&DmarcResult> for AuthResult {
    fn from(r: &DmarcResult) -> Self {
        match r {
            DmarcResult::Pass => AuthResult::Pass,
            DmarcResult::Fail(_) => AuthResult::Fail,
            DmarcResult::TempError(_) => AuthResult::TempError,
            DmarcResult::PermError(_) => AuthResult::PermError,
            DmarcResult::None => AuthResult::None,
        }
    }
}

/// What the From domain asks receivers to do with mail that fails DMARC: the policy that applies
/// to this message (`p`, or `sp`/`np` for subdomains, one level milder when the record says
/// `t=y`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DmarcPolicy {
    None,
    Quarantine,
    Reject,
}

impl DmarcPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            DmarcPolicy::None => "none",
            DmarcPolicy::Quarantine => "quarantine",
            DmarcPolicy::Reject => "reject",
        }
    }
}

impl fmt::Display for DmarcPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Policy> for DmarcPolicy {
    fn from(p: Policy) -> Self {
        match p {
            Policy::Reject => DmarcPolicy::Reject,
            Policy::Quarantine => DmarcPolicy::Quarantine,
            Policy::None | Policy::Unspecified => DmarcPolicy::None,
        }
    }
}

/// One DKIM signature and how it verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimSignatureResult {
    /// The signing domain (`d=`); empty when the signature header could not be parsed.
    pub domain: String,
    /// The selector (`s=`); empty when the signature header could not be parsed.
    pub selector: String,
    pub result: AuthResult,
    /// Why it did not pass, as mail-auth put it ("body hash did not verify", ...).
    pub reason: Option<String>,
}

/// Everything sender authentication concluded about one message.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthOutcome {
    /// SPF for the envelope sender; for the null sender `<>` this is the HELO identity
    /// (`postmaster@<helo>`, RFC 7208 §2.4).
    pub spf: AuthResult,
    /// SPF for the HELO identity; `None` when HELO is an address literal or not a domain.
    pub spf_helo: AuthResult,
    /// Every DKIM signature, in header order.
    pub dkim: Vec<DkimSignatureResult>,
    pub dmarc: AuthResult,
    /// The From domain's policy for this message, when it publishes a DMARC record.
    pub dmarc_policy: Option<DmarcPolicy>,
    /// ARC chain validation (RFC 8617): `none` without ARC headers.
    pub arc: AuthResult,
    /// The From header addresses, lower-cased (normally exactly one).
    pub from_addresses: Vec<String>,
    /// The From header domain, when all From addresses share one (what impersonation checks
    /// compare against).
    pub from_domain: Option<String>,
    /// The `Authentication-Results` field value (RFC 8601), folded with CRLF TAB between results
    /// and ready to write as `Authentication-Results: {value}\r\n`.
    pub authentication_results: String,
    pub findings: Vec<Finding>,
}

impl AuthOutcome {
    /// Sum of the finding scores.
    pub fn score(&self) -> f32 {
        self.findings.iter().map(|f| f.score).sum()
    }

    /// The finding with this name, if reported.
    pub fn finding(&self, name: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.name == name)
    }

    /// DKIM signatures that passed, by signing domain.
    pub fn dkim_pass_domains(&self) -> impl Iterator<Item = &str> {
        self.dkim
            .iter()
            .filter(|s| s.result == AuthResult::Pass)
            .map(|s| s.domain.as_str())
    }
}
