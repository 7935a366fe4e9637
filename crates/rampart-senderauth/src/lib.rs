//! Sender authentication of an inbound message: SPF (MAIL FROM and HELO), DKIM (every signature),
//! DMARC (alignment, policy, subdomain policy) and ARC (chain validation), all evaluated by
//! [mail-auth](https://docs.rs/mail-auth/0.13.3); this crate adds the DNS plumbing, a time budget,
//! the `Authentication-Results` value and findings for policy to score.
//!
//! Input: the raw message and its envelope ([`AuthRequest`]). Output: an [`AuthOutcome`] with one
//! [`AuthResult`] per method, the sender's [`DmarcPolicy`], the From domain (for impersonation
//! checks) and [`rampart_model::Finding`]s named in [`finding`]. The verdict is policy's: a
//! `auth.dmarc_reject` finding says the sender asked for rejection, not that we reject.
//!
//! **Invariants.** No SPF, DKIM, DMARC or ARC logic lives here: mail-auth evaluates, this crate
//! only routes DNS and translates results. `verify` never fails and never panics on message
//! content: garbage yields `none` results and findings. A DNS timeout is a `temperror` (and an
//! `auth.dns_temperror` finding), never a failure. Tests never touch the network: they answer
//! from [`DnsRecords`] seeded into [`SenderAuth::with_records`].
//!
//! DNS goes through hickory (the resolver mail-auth is built on) with a per-query timeout and an
//! overall budget per message ([`AuthConfig`]); parsed records are cached up to their TTL.
//!
//! ```
//! use rampart_senderauth::{AuthConfig, AuthRequest, AuthResult, DnsRecords, SenderAuth};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // Production: SenderAuth::new(&AuthConfig::default()) uses /etc/resolv.conf.
//! let records = DnsRecords::new().txt("example.com", "v=spf1 ip4:192.0.2.0/24 -all");
//! let auth = SenderAuth::with_records(&AuthConfig::default(), records).unwrap();
//! let outcome = auth
//!     .verify(&AuthRequest {
//!         raw: b"From: Ann <ann@example.com>\r\nSubject: hi\r\n\r\nhello\r\n",
//!         peer_ip: "192.0.2.7".parse().unwrap(),
//!         helo: "mail.example.com",
//!         mail_from: "ann@example.com",
//!         receiver: "mx.rampart.test",
//!     })
//!     .await;
//! assert_eq!(outcome.spf, AuthResult::Pass);
//! assert_eq!(outcome.from_domain.as_deref(), Some("example.com"));
//! assert!(outcome.authentication_results.starts_with("mx.rampart.test;"));
//! # }
//! ```

mod dns;
mod outcome;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use mail_auth::{
    dkim::DkimError, dmarc::verify::DmarcParameters, spf::verify::SpfParameters, ArcOutput,
    AuthenticatedMessage, AuthenticationResults, DkimOutput, DkimResult, DmarcOutput, DmarcResult,
    DnsError, MessageAuthenticator, Parameters, SpfOutput, SpfResult,
};
use rampart_model::Finding;
use tokio::time::Instant;

use dns::DnsCache;
pub use dns::DnsRecords;
pub use outcome::{finding, AuthOutcome, AuthResult, DkimSignatureResult, DmarcPolicy};

/// DNS and timing settings. Every field has a safe default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// How long to wait for one DNS answer before retrying or giving up.
    pub dns_timeout: Duration,
    /// Tries per query and nameserver (at least 1).
    pub dns_attempts: usize,
    /// Upper bound on the whole verification of one message, all lookups included. What has not
    /// finished by then is reported as `temperror`.
    pub verify_budget: Duration,
    /// Recursive resolvers to ask; empty means the system configuration (`/etc/resolv.conf`).
    pub nameservers: Vec<SocketAddr>,
    /// Cached parsed records per record type (TXT, A, AAAA, MX, PTR), and the size of hickory's
    /// response cache (which keeps negative answers); 0 disables the record cache.
    pub cache_entries: usize,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            dns_timeout: Duration::from_secs(3),
            dns_attempts: 2,
            verify_budget: Duration::from_secs(10),
            nameservers: Vec::new(),
            cache_entries: 10_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read the system DNS configuration: {0}")]
    SystemResolver(String),
    #[error("cannot build the DNS resolver: {0}")]
    Resolver(String),
}

/// One inbound message and its SMTP envelope.
#[derive(Debug, Clone, Copy)]
pub struct AuthRequest<'a> {
    /// The message as received (headers and body, CRLF line ends).
    pub raw: &'a [u8],
    /// The connecting client's address.
    pub peer_ip: IpAddr,
    /// The EHLO/HELO argument.
    pub helo: &'a str,
    /// The MAIL FROM address without brackets; `""` for the null sender `<>`.
    pub mail_from: &'a str,
    /// Our host name, the authserv-id of `Authentication-Results`.
    pub receiver: &'a str,
}

/// The sender authentication engine: a resolver, its record cache and the time budget. Share one
/// per process; `verify` takes `&self` and runs concurrently. Call it inside a Tokio runtime.
pub struct SenderAuth {
    authenticator: MessageAuthenticator,
    cache: DnsCache,
    budget: Duration,
}

type CachedParameters<'x, P> = Parameters<'x, P, DnsCache, DnsCache, DnsCache, DnsCache, DnsCache>;

impl SenderAuth {
    /// Resolves through `config.nameservers`, or the system configuration when that is empty.
    pub fn new(config: &AuthConfig) -> Result<Self, AuthError> {
        Ok(SenderAuth {
            authenticator: dns::build_authenticator(config, Some(&config.nameservers))?,
            cache: DnsCache::new(config.cache_entries, None),
            budget: config.verify_budget,
        })
    }

    /// Answers only from `records` and never sends a DNS query (tests, offline evaluation).
    /// Unseeded TXT names answer NXDOMAIN; unseeded A/AAAA/MX/PTR names are temporary errors.
    pub fn with_records(config: &AuthConfig, records: DnsRecords) -> Result<Self, AuthError> {
        Ok(SenderAuth {
            authenticator: dns::build_authenticator(config, None)?,
            cache: DnsCache::new(config.cache_entries, Some(&records)),
            budget: config.verify_budget,
        })
    }

    /// Records held in the cache from live lookups (seeded records are not counted).
    pub fn cached_records(&self) -> usize {
        self.cache.len()
    }

    fn params<P>(&self, params: P) -> CachedParameters<'_, P> {
        Parameters::new(params)
            .with_txt_cache(&self.cache)
            .with_mx_cache(&self.cache)
            .with_ptr_cache(&self.cache)
            .with_ipv4_cache(&self.cache)
            .with_ipv6_cache(&self.cache)
    }

    /// Authenticates one message. Never fails: what cannot be evaluated is `none`, `permerror` or
    /// `temperror`, with findings saying so.
    pub async fn verify(&self, req: &AuthRequest<'_>) -> AuthOutcome {
        let deadline = Instant::now() + self.budget;
        let mail_from = req
            .mail_from
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>');
        let helo = req.helo.trim();
        let message = AuthenticatedMessage::parse(req.raw);

        // SPF for both identities, DKIM and ARC need nothing from each other: run them together.
        let helo_checkable = is_domain_name(helo);
        let spf_helo = async {
            if !helo_checkable {
                return SpfOutput::new(helo.to_string());
            }
            let params = SpfParameters::verify_ehlo(req.peer_ip, helo, req.receiver);
            within(deadline, self.authenticator.verify_spf(self.params(params)))
                .await
                .unwrap_or_else(|| spf_timeout(helo))
        };
        let spf_mail = async {
            if mail_from.is_empty() {
                return None;
            }
            let params =
                SpfParameters::verify_mail_from(req.peer_ip, helo, req.receiver, mail_from);
            let domain = domain_of(mail_from).unwrap_or(helo);
            Some(
                within(deadline, self.authenticator.verify_spf(self.params(params)))
                    .await
                    .unwrap_or_else(|| spf_timeout(domain)),
            )
        };
        let dkim = async {
            let Some(message) = &message else {
                return Vec::new();
            };
            within(
                deadline,
                self.authenticator.verify_dkim(self.params(message)),
            )
            .await
            .unwrap_or_else(|| {
                message
                    .dkim_headers
                    .iter()
                    .map(|h| DkimOutput::temp_err(budget_exhausted()).with_signature(&h.header))
                    .collect()
            })
        };
        let arc = async {
            let Some(message) = &message else {
                return ArcOutput::default();
            };
            within(
                deadline,
                self.authenticator.verify_arc(self.params(message)),
            )
            .await
            .unwrap_or_else(|| {
                ArcOutput::default().with_result(DkimResult::TempError(budget_exhausted()))
            })
        };
        let (spf_helo, spf_mail, dkim, arc) = tokio::join!(spf_helo, spf_mail, dkim, arc);
        let dkim = normalize_dkim(message.as_ref(), &dkim);
        let arc = normalize_arc(arc);

        // The null sender's MAIL FROM identity is the HELO identity (RFC 7208 §2.4).
        let null_sender = spf_mail.is_none();
        let spf_mail = spf_mail.unwrap_or_else(|| spf_helo.clone());
        let mail_from_domain = if null_sender {
            helo
        } else {
            domain_of(mail_from).unwrap_or(helo)
        };

        let from_addresses: Vec<String> = message
            .as_ref()
            .map(|m| m.froms().to_vec())
            .unwrap_or_default();
        let from_domain = single_domain(&from_addresses);

        let dmarc = match &message {
            Some(message) if from_domain.is_some() => {
                let params = DmarcParameters::new(message, &dkim, mail_from_domain, &spf_mail);
                within(
                    deadline,
                    self.authenticator.verify_dmarc(self.params(params)),
                )
                .await
                .unwrap_or_else(|| {
                    DmarcOutput::default()
                        .with_domain(from_domain.as_deref().unwrap_or_default())
                        .with_spf_result(DmarcResult::TempError(budget_exhausted()))
                        .with_dkim_result(DmarcResult::TempError(budget_exhausted()))
                })
            }
            _ => DmarcOutput::default(),
        };

        let authentication_results = authentication_results(
            req,
            mail_from,
            helo_checkable.then_some(&spf_helo),
            &spf_mail,
            &dkim,
            &dmarc,
            &arc,
        );

        let outcome = AuthOutcome {
            spf: spf_mail.result().into(),
            spf_helo: if helo_checkable {
                spf_helo.result().into()
            } else {
                AuthResult::None
            },
            dkim: dkim.iter().map(dkim_signature_result).collect(),
            dmarc: (&dmarc.result()).into(),
            dmarc_policy: dmarc
                .dmarc_record()
                .is_some()
                .then(|| dmarc.policy().into()),
            arc: arc.result().into(),
            from_addresses,
            from_domain,
            authentication_results,
            findings: Vec::new(),
        };
        let arc_reason = match arc.result() {
            DkimResult::Fail(e) | DkimResult::TempError(e) => Some(e.to_string()),
            _ => None,
        };
        let findings = findings(&outcome, req, mail_from, null_sender, arc_reason);
        let outcome = AuthOutcome {
            findings,
            ..outcome
        };
        tracing::debug!(
            spf = %outcome.spf,
            dkim = outcome.dkim.len(),
            dmarc = %outcome.dmarc,
            arc = %outcome.arc,
            score = outcome.score(),
            "sender authentication"
        );
        outcome
    }
}

/// Runs `fut` until `deadline`; `None` when the budget ran out first.
async fn within<T>(deadline: Instant, fut: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout_at(deadline, fut).await.ok()
}

fn budget_exhausted() -> mail_auth::Error {
    mail_auth::Error::Dns(DnsError::Resolver(
        "sender authentication time budget exhausted".to_string(),
    ))
}

fn spf_timeout(domain: &str) -> SpfOutput {
    SpfOutput::new(domain.to_string()).with_result(SpfResult::TempError)
}

fn domain_of(address: &str) -> Option<&str> {
    address
        .rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty())
}

/// The one domain all From addresses share, lower-cased (mail-auth already lower-cases them).
fn single_domain(addresses: &[String]) -> Option<String> {
    let mut domains = addresses.iter().map(|a| domain_of(a));
    let first = domains.next()??;
    domains.all(|d| d == Some(first)).then(|| first.to_string())
}

/// Whether a HELO argument can carry SPF: a dotted domain, not an address literal.
fn is_domain_name(helo: &str) -> bool {
    !helo.is_empty()
        && helo.len() <= 253
        && helo.contains('.')
        && !helo.starts_with('[')
        && helo.parse::<IpAddr>().is_err()
        && helo
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') || !b.is_ascii())
}

/// Brings mail-auth's DKIM verdicts in line with RFC 6376/8601: a body hash mismatch is `fail`
/// (mail-auth says `neutral`), and a DKIM-Signature too broken to parse is `permerror` (mail-auth
/// reports only some of those).
fn normalize_dkim<'x>(
    message: Option<&AuthenticatedMessage<'_>>,
    outputs: &'x [DkimOutput<'_>],
) -> Vec<DkimOutput<'x>> {
    let unparsed = message.into_iter().flat_map(|m| {
        m.errors
            .iter()
            .filter(|e| {
                e.name.eq_ignore_ascii_case(b"DKIM-Signature")
                    && !matches!(e.header, mail_auth::Error::Dkim(_))
            })
            .map(|e| DkimOutput::perm_err(e.header.clone()))
    });
    let verified = outputs.iter().map(|o| {
        let body_hash_mismatch = matches!(
            o.result(),
            DkimResult::Neutral(mail_auth::Error::Dkim(DkimError::FailedBodyHashMatch))
        );
        match (body_hash_mismatch, o.signature()) {
            (true, Some(signature)) => {
                DkimOutput::fail(mail_auth::Error::Dkim(DkimError::FailedBodyHashMatch))
                    .with_signature(signature)
            }
            _ => o.clone(),
        }
    });
    unparsed.chain(verified).collect()
}

/// ARC chain validation has three outcomes (RFC 8617 §4.4): anything that is neither `pass`,
/// `none` nor a transient error is `fail`.
fn normalize_arc(arc: ArcOutput<'_>) -> ArcOutput<'_> {
    match arc.result() {
        DkimResult::Neutral(e) | DkimResult::PermError(e) => {
            let e = e.clone();
            arc.with_result(DkimResult::Fail(e))
        }
        _ => arc,
    }
}

fn dkim_signature_result(output: &DkimOutput<'_>) -> DkimSignatureResult {
    let reason = match output.result() {
        DkimResult::Pass | DkimResult::None => None,
        DkimResult::Neutral(e)
        | DkimResult::Fail(e)
        | DkimResult::PermError(e)
        | DkimResult::TempError(e) => Some(e.to_string()),
    };
    DkimSignatureResult {
        domain: output
            .signature()
            .map(|s| s.d.to_ascii_lowercase())
            .unwrap_or_default(),
        selector: output.signature().map(|s| s.s.clone()).unwrap_or_default(),
        result: output.result().into(),
        reason,
    }
}

fn authentication_results(
    req: &AuthRequest<'_>,
    mail_from: &str,
    spf_helo: Option<&SpfOutput>,
    spf_mail: &SpfOutput,
    dkim: &[DkimOutput<'_>],
    dmarc: &DmarcOutput,
    arc: &ArcOutput<'_>,
) -> String {
    let mut results = AuthenticationResults::new(req.receiver);
    if let Some(spf_helo) = spf_helo {
        results = results.with_spf_ehlo_result(spf_helo, req.peer_ip, req.helo);
    }
    results = results
        .with_spf_mailfrom_result(spf_mail, req.peer_ip, mail_from, req.helo)
        .with_dkim_results(dkim, mail_from);
    let has_dmarc = !dmarc.domain().is_empty();
    if has_dmarc {
        results = results.with_dmarc_result(dmarc);
    }
    results = results.with_arc_result(arc, req.peer_ip);
    let mut value = results.to_string();
    // RFC 8601 wants every method reported; mail-auth writes nothing for an unsigned message or
    // for DMARC without a single From domain.
    if dkim.is_empty() {
        value.push_str(";\r\n\tdkim=none");
    }
    if !has_dmarc {
        value.push_str(";\r\n\tdmarc=none");
    }
    value
}

fn findings(
    outcome: &AuthOutcome,
    req: &AuthRequest<'_>,
    mail_from: &str,
    null_sender: bool,
    arc_reason: Option<String>,
) -> Vec<Finding> {
    use finding::*;
    let mut findings = Vec::new();
    let mut temperrors: Vec<String> = Vec::new();
    let envelope = if null_sender {
        format!("smtp.helo={}", req.helo)
    } else {
        format!("smtp.mailfrom={mail_from}")
    };

    // SPF: the MAIL FROM verdict; a HELO `fail` is conclusive on its own (RFC 7208 §2.3).
    if outcome.spf == AuthResult::Fail {
        findings.push(
            Finding::new(SPF_FAIL, SPF_FAIL_SCORE)
                .with_evidence(format!("{envelope} ip={}", req.peer_ip)),
        );
    } else if outcome.spf_helo == AuthResult::Fail {
        findings.push(
            Finding::new(SPF_FAIL, SPF_FAIL_SCORE)
                .with_evidence(format!("smtp.helo={} ip={}", req.helo, req.peer_ip)),
        );
    } else if outcome.spf == AuthResult::SoftFail {
        findings.push(
            Finding::new(SPF_SOFTFAIL, SPF_SOFTFAIL_SCORE)
                .with_evidence(format!("{envelope} ip={}", req.peer_ip)),
        );
    }
    if outcome.spf == AuthResult::TempError || outcome.spf_helo == AuthResult::TempError {
        temperrors.push("spf".to_string());
    }

    let mut dkim_fail: Option<Finding> = None;
    for sig in &outcome.dkim {
        let what = if sig.domain.is_empty() {
            "malformed DKIM-Signature".to_string()
        } else {
            format!("d={} s={}", sig.domain, sig.selector)
        };
        match sig.result {
            AuthResult::Fail | AuthResult::Neutral | AuthResult::PermError => {
                let evidence = match &sig.reason {
                    Some(reason) => format!("{what}: {reason}"),
                    None => what,
                };
                let f = dkim_fail
                    .take()
                    .unwrap_or_else(|| Finding::new(DKIM_FAIL, DKIM_FAIL_SCORE));
                dkim_fail = Some(f.with_evidence(evidence));
            }
            AuthResult::TempError => temperrors.push(format!("dkim {what}")),
            _ => {}
        }
    }
    findings.extend(dkim_fail);

    let from = outcome.from_domain.as_deref().unwrap_or_default();
    match outcome.dmarc {
        AuthResult::Pass => findings.push(
            Finding::new(DMARC_PASS, DMARC_PASS_SCORE).with_evidence(format!("header.from={from}")),
        ),
        AuthResult::Fail => {
            let policy = outcome.dmarc_policy.unwrap_or(DmarcPolicy::None);
            findings.push(
                Finding::new(DMARC_FAIL, DMARC_FAIL_SCORE)
                    .with_evidence(format!("header.from={from} policy={policy}")),
            );
            match policy {
                DmarcPolicy::Reject => findings.push(
                    Finding::new(DMARC_REJECT, DMARC_REJECT_SCORE)
                        .with_evidence(format!("header.from={from} asks receivers to reject")),
                ),
                DmarcPolicy::Quarantine => findings.push(
                    Finding::new(DMARC_QUARANTINE, DMARC_QUARANTINE_SCORE)
                        .with_evidence(format!("header.from={from} asks receivers to quarantine")),
                ),
                DmarcPolicy::None => {}
            }
        }
        AuthResult::TempError => temperrors.push("dmarc".to_string()),
        _ => {}
    }

    match outcome.arc {
        AuthResult::Fail | AuthResult::Neutral | AuthResult::PermError => findings.push(
            Finding::new(ARC_FAIL, ARC_FAIL_SCORE).with_evidence(match arc_reason {
                Some(reason) => format!("arc=fail: {reason}"),
                None => "arc=fail".to_string(),
            }),
        ),
        AuthResult::TempError => temperrors.push("arc".to_string()),
        _ => {}
    }

    match outcome.from_addresses.len() {
        1 if outcome.from_domain.is_some() => {}
        0 => findings.push(Finding::new(NO_FROM, NO_FROM_SCORE).with_evidence("no From address")),
        1 => findings.push(Finding::new(NO_FROM, NO_FROM_SCORE).with_evidence(format!(
            "From address without domain: {}",
            outcome.from_addresses[0]
        ))),
        n => findings.push(Finding::new(NO_FROM, NO_FROM_SCORE).with_evidence(format!(
            "{n} From addresses: {}",
            outcome.from_addresses.join(", ")
        ))),
    }

    if !temperrors.is_empty() {
        findings.push(
            Finding::new(DNS_TEMPERROR, DNS_TEMPERROR_SCORE).with_evidence(temperrors.join(", ")),
        );
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_outside_a_tokio_runtime() {
        let config = AuthConfig {
            nameservers: vec!["127.0.0.1:53".parse().unwrap()],
            ..AuthConfig::default()
        };
        assert!(SenderAuth::new(&config).is_ok());
        assert!(SenderAuth::with_records(&config, DnsRecords::new()).is_ok());
    }

    #[test]
    fn helo_address_literals_are_not_spf_identities() {
        assert!(is_domain_name("mail.example.com"));
        assert!(!is_domain_name("[192.0.2.1]"));
        assert!(!is_domain_name("192.0.2.1"));
        assert!(!is_domain_name("localhost"));
        assert!(!is_domain_name(""));
        assert!(!is_domain_name("bad name.example"));
    }

    #[test]
    fn from_domain_needs_every_address_in_one_domain() {
        let one = vec!["a@example.com".to_string()];
        assert_eq!(single_domain(&one).as_deref(), Some("example.com"));
        let same = vec!["a@example.com".to_string(), "b@example.com".to_string()];
        assert_eq!(single_domain(&same).as_deref(), Some("example.com"));
        let mixed = vec!["a@example.com".to_string(), "b@example.org".to_string()];
        assert_eq!(single_domain(&mixed), None);
        assert_eq!(single_domain(&["nodomain".to_string()]), None);
        assert_eq!(single_domain(&[]), None);
    }
}
