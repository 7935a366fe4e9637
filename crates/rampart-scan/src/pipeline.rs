use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use async_trait::async_trait;
use rampart_model::config::ScanConfig;
use rampart_model::{Action, Direction, Finding};
use serde::Serialize;

use crate::{Mail, Policy};

/// What the SMTP layer knows about a message besides its bytes.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    pub direction: Direction,
    pub peer_ip: Option<IpAddr>,
    pub helo: String,
    /// Envelope sender; empty for the null sender `<>`.
    pub mail_from: String,
    pub recipients: Vec<String>,
    /// The authenticated submitter, for outbound mail.
    pub authenticated: Option<String>,
    /// The submitter's department and job level (DLP rules can be limited to them).
    pub sender_department: Option<String>,
    pub sender_level: Option<String>,
}

impl Envelope {
    pub fn new(direction: Direction) -> Self {
        Envelope {
            direction,
            ..Default::default()
        }
    }
}

/// Who the organisation is: its domains and the people outsiders might impersonate.
#[derive(Debug, Clone, Default)]
pub struct OrgDirectory {
    pub local_domains: Vec<String>,
    /// Display names of accounts and configured VIPs.
    pub people: Vec<String>,
}

impl OrgDirectory {
    pub fn is_local(&self, domain: &str) -> bool {
        self.local_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
    }
}

/// What the pipeline concluded about one message.
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    pub direction: Direction,
    pub action: Action,
    /// Sum of the finding scores.
    pub score: f32,
    pub findings: Vec<Finding>,
    /// RFC 8601 header value from sender authentication, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_results: Option<String>,
    /// Data-leak prevention: what was found and what the DLP rules say (when DLP ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dlp: Option<crate::dlp::DlpVerdict>,
    pub elapsed_ms: f64,
}

impl ScanReport {
    /// Findings of the named families only (e.g. `["url", "phish"]`), for per-family evaluation.
    pub fn family_score(&self, families: &[&str]) -> f32 {
        self.findings
            .iter()
            .filter(|f| families.contains(&f.family()))
            .map(|f| f.score)
            .sum()
    }
}

/// One check of the pipeline. Report what you see as findings; never decide the action.
#[async_trait]
pub trait Check: Send + Sync {
    /// The finding family it reports (`auth`, `url`, `file`, ...), for logs and timings.
    fn name(&self) -> &'static str;

    /// Whether it runs for mail going this way.
    fn applies_to(&self, _direction: Direction) -> bool {
        true
    }

    async fn run(&self, mail: &Mail<'_>, envelope: &Envelope, out: &mut CheckOutput);
}

/// Where a check puts what it found.
#[derive(Debug, Default)]
pub struct CheckOutput {
    pub findings: Vec<Finding>,
    /// Set by sender authentication.
    pub authentication_results: Option<String>,
    /// Text found inside attachments (HTML files, PDF link targets) for the link check, which
    /// runs after the attachments check.
    pub linked_texts: Vec<String>,
    /// Attachments and the files inside them, for hash signatures.
    pub files: Vec<ScannedFile>,
    /// Set by the link check: what the HTML bodies show a reader, and how many links a reader
    /// can follow (for the lure check, which runs after it).
    pub visible_texts: Vec<String>,
    pub navigation_links: usize,
    /// Images and other resources the HTML loads by itself.
    pub resource_links: usize,
    /// Whether some link a reader can follow goes to the sender's own (From) domain.
    pub links_to_sender_domain: bool,
    /// Set by the DLP check: what the detectors found (masked), for the DLP rules.
    pub dlp: Option<crate::dlp::DlpScan>,
}

/// A file the attachments check saw.
#[derive(Debug, Clone)]
pub struct ScannedFile {
    /// Attachment name, with `!/` into archives: `invoice.zip!/invoice.exe`.
    pub path: String,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

impl CheckOutput {
    pub fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("scan configuration: {0}")]
    Config(String),
}

/// The configured pipeline. Cheap to share (`Arc`) across sessions.
pub struct Scanner {
    checks: Vec<Box<dyn Check>>,
    policy: Policy,
    hostname: String,
    org: Arc<RwLock<OrgDirectory>>,
    users: crate::checks::spam::UserModelSlot,
    dlp_rules: Option<crate::dlp::Rules>,
}

impl Scanner {
    /// Adds data-leak prevention: the detectors (built-in plus the admin's dictionaries and
    /// patterns) as the last check, and the rules that decide what a finding means.
    pub fn with_dlp(
        mut self,
        config: &rampart_model::config::DlpConfig,
    ) -> Result<Self, ScanError> {
        if !config.enabled {
            return Ok(self);
        }
        let detectors = crate::dlp::detectors(config)?;
        let rules = crate::dlp::Rules::new(&config.rules).map_err(ScanError::Config)?;
        self.checks.push(Box::new(crate::checks::dlp::DataLeak::new(
            detectors,
            rules.directions(),
        )));
        self.dlp_rules = Some(rules);
        Ok(self)
    }

    pub fn new(config: &ScanConfig, hostname: &str, org: OrgDirectory) -> Result<Self, ScanError> {
        let org = Arc::new(RwLock::new(org));
        let users: crate::checks::spam::UserModelSlot = Arc::new(RwLock::new(None));
        let checks = crate::checks::builtin(config, hostname, &org, &users)?;
        Ok(Scanner {
            checks,
            policy: Policy::new(config.policy.clone()),
            hostname: hostname.to_string(),
            org,
            users,
            dlp_rules: None,
        })
    }

    /// A pipeline of exactly these checks (tests, and callers that build checks themselves, e.g.
    /// sender authentication with a pre-seeded resolver).
    pub fn with_checks(
        checks: Vec<Box<dyn Check>>,
        policy: Policy,
        hostname: &str,
        org: Arc<RwLock<OrgDirectory>>,
    ) -> Self {
        Scanner {
            checks,
            policy,
            hostname: hostname.to_string(),
            org,
            users: Arc::new(RwLock::new(None)),
            dlp_rules: None,
        }
    }

    /// Where the spam check finds each recipient's personal layer.
    pub fn set_user_models(&self, source: Arc<dyn crate::checks::spam::UserModels>) {
        if let Ok(mut slot) = self.users.write() {
            *slot = Some(source);
        }
    }

    /// The shared organisation directory the built-in checks read.
    pub fn org(&self) -> Arc<RwLock<OrgDirectory>> {
        Arc::clone(&self.org)
    }

    /// Replaces the organisation directory (accounts and domains change while serving).
    pub fn set_org(&self, org: OrgDirectory) {
        if let Ok(mut guard) = self.org.write() {
            *guard = org;
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// The names of the registered checks, in the order they run.
    pub fn check_names(&self) -> Vec<&'static str> {
        self.checks.iter().map(|c| c.name()).collect()
    }

    pub async fn scan(&self, raw: &[u8], envelope: &Envelope) -> ScanReport {
        let started = Instant::now();
        let mail = Mail::parse(raw);
        let mut out = CheckOutput::default();
        if mail.parsed.is_none() && !raw.is_empty() {
            out.push(
                Finding::new("content.unparseable", 1.0)
                    .with_evidence("the MIME structure could not be parsed"),
            );
        }
        let mut timings: BTreeMap<&'static str, f64> = BTreeMap::new();
        for check in self
            .checks
            .iter()
            .filter(|c| c.applies_to(envelope.direction))
        {
            let t = Instant::now();
            check.run(&mail, envelope, &mut out).await;
            timings.insert(check.name(), t.elapsed().as_secs_f64() * 1000.0);
        }
        // `+ 0.0`: an empty float sum is -0.0, which would print as "score=-0.0".
        let score: f32 = out.findings.iter().map(|f| f.score).sum::<f32>() + 0.0;
        let action = self.policy.decide(envelope.direction, score, &out.findings);
        let dlp = match (&self.dlp_rules, out.dlp.take()) {
            (Some(rules), Some(scan)) => {
                let org = self.org.read().map(|o| o.clone()).unwrap_or_default();
                Some(rules.decide(scan, envelope, &org))
            }
            _ => None,
        };
        tracing::debug!(?timings, %action, score, "scanned");
        ScanReport {
            direction: envelope.direction,
            action,
            score,
            findings: out.findings,
            authentication_results: out.authentication_results,
            dlp,
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        }
    }

    /// The stored form of a scanned message: verdict headers added, forged ones removed.
    pub fn apply(&self, report: &ScanReport, raw: &[u8]) -> Vec<u8> {
        crate::apply_verdict(
            report,
            raw,
            &self.hostname,
            &self.policy.config().subject_prefix,
        )
    }
}
