//! MTA-STS (RFC 8461): whether a recipient domain demands authenticated TLS, and to which MX
//! hosts.
//!
//! Discovery: the TXT record `_mta-sts.<domain>` (`v=STSv1; id=...`, parsed by mail-auth) says a
//! policy exists and names its version; the policy itself is fetched from
//! `https://mta-sts.<domain>/.well-known/mta-sts.txt` over a connection whose certificate must
//! verify (WebPKI plus the configured extra roots), within a timeout, at most
//! [`MAX_POLICY_SIZE`] bytes, never following a redirect. The media type is not checked:
//! refusing a policy served as something other than `text/plain` would only fail open. `mta-sts.<domain>` is resolved through
//! the same [`Resolve`] as everything else, so tests point it at a local server
//! ([`MtaStsConfig::https_port`]).
//!
//! Policies are cached per domain under their TXT id until `max_age` runs out (the cache holds
//! at most [`MtaStsConfig::max_entries`] domains). A fetch that fails while an unexpired policy
//! is cached uses the cached one (§5.1); with nothing cached, no policy applies (MTA-STS fails
//! open by design).
//!
//! [`parse_policy`] is pure and total:
//!
//! ```
//! use rampart_outbound::mtasts::{parse_policy, Mode};
//!
//! let policy = parse_policy("version: STSv1\nmode: enforce\nmx: *.example.net\nmax_age: 86400\n").unwrap();
//! assert_eq!(policy.mode, Mode::Enforce);
//! assert!(policy.matches("mx1.example.net"));
//! assert!(!policy.matches("a.b.example.net"));
//! assert!(parse_policy("mode: enforce").is_err());
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::{HOST, USER_AGENT};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use mail_auth::common::parse::TxtRecordParser;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::dns::{normalize_name, Resolve};
use crate::tls;

/// Largest policy body accepted, in bytes.
pub const MAX_POLICY_SIZE: usize = 64 * 1024;
/// Largest `max_age` honoured (RFC 8461 §3.2: about one year); larger values are capped.
pub const MAX_AGE_LIMIT: u64 = 31_557_600;
/// Most `mx` patterns kept from one policy.
pub const MAX_MX_PATTERNS: usize = 64;
/// Most addresses of `mta-sts.<domain>` tried for one fetch.
const MAX_FETCH_ADDRS: usize = 4;

/// What a policy asks of senders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Deliver only to matching MX hosts over verified TLS.
    Enforce,
    /// Report failures but deliver anyway (we log them).
    Testing,
    /// The domain withdrew its policy.
    None,
}

impl Mode {
    /// The word in the policy text.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }
}

/// A parsed policy (RFC 8461 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    /// MX patterns, lower case: `mx.example.net` or `*.example.net` (one label).
    pub mx: Vec<String>,
    /// Seconds the policy may be cached, at most [`MAX_AGE_LIMIT`].
    pub max_age: u64,
}

impl Policy {
    /// `true` when `host` matches one of the policy's `mx` patterns.
    pub fn matches(&self, host: &str) -> bool {
        let host = normalize_name(host);
        self.mx
            .iter()
            .any(|pattern| mx_pattern_matches(pattern, &host))
    }

    /// The policy in its text form (CRLF lines), as a server would publish it.
    pub fn to_text(&self) -> String {
        let mut text = format!("version: STSv1\r\nmode: {}\r\n", self.mode.as_str());
        for mx in &self.mx {
            text.push_str(&format!("mx: {mx}\r\n"));
        }
        text.push_str(&format!("max_age: {}\r\n", self.max_age));
        text
    }
}

/// RFC 8461 §4.1: `*.example.net` matches exactly one extra left-most label; anything else
/// matches the whole name. Case-insensitive; a trailing dot is ignored.
pub fn mx_pattern_matches(pattern: &str, host: &str) -> bool {
    let pattern = normalize_name(pattern);
    let host = normalize_name(host);
    if host.is_empty() {
        return false;
    }
    match pattern.strip_prefix("*.") {
        Some(suffix) => match host.split_once('.') {
            Some((label, rest)) => !label.is_empty() && !suffix.is_empty() && rest == suffix,
            None => false,
        },
        None => !pattern.is_empty() && pattern == host,
    }
}

/// Why a policy text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy larger than {MAX_POLICY_SIZE} bytes")]
    TooLarge,
    #[error("policy has no \"version: STSv1\"")]
    Version,
    #[error("policy has no valid mode")]
    Mode,
    #[error("policy has no valid max_age")]
    MaxAge,
    #[error("policy in mode {0} has no mx pattern")]
    NoMx(&'static str),
}

/// Parses a policy body. Lines end in CRLF or LF; `key: value` with optional white space;
/// unknown keys are ignored; for keys other than `mx` the first occurrence counts.
pub fn parse_policy(text: &str) -> Result<Policy, PolicyError> {
    if text.len() > MAX_POLICY_SIZE {
        return Err(PolicyError::TooLarge);
    }
    let mut version = None;
    let mut mode = None;
    let mut max_age = None;
    let mut mx = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        // Field names and mode values are ABNF strings (case-insensitive); "STSv1" is exact.
        let key = key.trim_end_matches([' ', '\t']).to_ascii_lowercase();
        let value = value.trim_matches([' ', '\t']);
        match key.as_str() {
            "version" if version.is_none() => version = Some(value == "STSv1"),
            "mode" if mode.is_none() => {
                mode = Some(match value.to_ascii_lowercase().as_str() {
                    "enforce" => Some(Mode::Enforce),
                    "testing" => Some(Mode::Testing),
                    "none" => Some(Mode::None),
                    _ => None,
                })
            }
            "max_age" if max_age.is_none() => {
                max_age = Some(
                    (!value.is_empty()
                        && value.len() <= 20
                        && value.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| value.parse::<u64>().unwrap_or(u64::MAX).min(MAX_AGE_LIMIT)),
                )
            }
            "mx" if mx.len() < MAX_MX_PATTERNS && !value.is_empty() && value.len() <= 255 => {
                mx.push(normalize_name(value));
            }
            _ => {}
        }
    }
    if version != Some(true) {
        return Err(PolicyError::Version);
    }
    let mode = mode.flatten().ok_or(PolicyError::Mode)?;
    let max_age = max_age.flatten().ok_or(PolicyError::MaxAge)?;
    if mx.is_empty() && mode != Mode::None {
        return Err(PolicyError::NoMx(mode.as_str()));
    }
    Ok(Policy { mode, mx, max_age })
}

/// The policy id from the `_mta-sts` TXT records: exactly one record starting with `v=STSv1`,
/// valid, with an id of 1 to 32 letters and digits (RFC 8461 §3.1); otherwise `None`.
pub fn parse_txt(records: &[String]) -> Option<String> {
    let mut candidates = records
        .iter()
        .filter(|r| r.trim_start().starts_with("v=STSv1"));
    let record = candidates.next()?;
    if candidates.next().is_some() {
        return None;
    }
    let parsed = mail_auth::mta_sts::MtaSts::parse(record.as_bytes()).ok()?;
    let id = parsed.id;
    (!id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(id)
}

/// Settings of the policy fetch and cache.
#[derive(Debug, Clone)]
pub struct MtaStsConfig {
    /// Port of the policy host (443; tests use a local server).
    pub https_port: u16,
    /// Trust anchors besides Mozilla's.
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Budget of one fetch, from resolving `mta-sts.<domain>` to the last body byte.
    pub timeout: Duration,
    /// Most domains cached.
    pub max_entries: usize,
}

impl Default for MtaStsConfig {
    fn default() -> Self {
        MtaStsConfig {
            https_port: 443,
            extra_roots: Vec::new(),
            timeout: Duration::from_secs(20),
            max_entries: 10_000,
        }
    }
}

/// A policy in force for a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivePolicy {
    /// The TXT id it was published under.
    pub id: String,
    pub policy: Policy,
    /// `true` when it came from the cache (unchanged id, or a failed refresh).
    pub cached: bool,
}

#[derive(Debug, Clone)]
struct CacheEntry {
    id: String,
    policy: Policy,
    expires: Instant,
}

/// Why a policy could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MTA-STS policy of {domain}: {reason}")]
pub struct FetchError {
    pub domain: String,
    pub reason: String,
}

/// Policy discovery with a bounded cache. One per process; share it behind an `Arc`.
pub struct MtaSts {
    config: MtaStsConfig,
    tls: Result<TlsConnector, String>,
    cache: Mutex<HashMap<String, CacheEntry>>,
}

impl MtaSts {
    /// Builds the verified TLS configuration once (Mozilla's roots plus the extra ones).
    pub fn new(config: MtaStsConfig) -> Self {
        let roots = Arc::new(tls::root_store(&config.extra_roots));
        let tls = tls::webpki_verifier(roots)
            .and_then(|verifier| tls::client_config(verifier).map_err(|e| e.to_string()))
            .map(|config| TlsConnector::from(Arc::new(config)));
        MtaSts {
            config,
            tls,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The policy that applies to `domain` now, if any (see the module documentation for the
    /// order of TXT, cache and fetch). Failures are logged, never returned: MTA-STS fails open.
    pub async fn policy(&self, resolver: &dyn Resolve, domain: &str) -> Option<ActivePolicy> {
        let domain = normalize_name(domain);
        let cached = self.cached(&domain);
        let records = match resolver.txt(&format!("_mta-sts.{domain}")).await {
            Ok(records) => records,
            Err(error) => {
                tracing::debug!(%domain, %error, "MTA-STS TXT lookup failed; using the cache");
                return cached;
            }
        };
        let Some(id) = parse_txt(&records) else {
            return cached;
        };
        if let Some(cached) = cached.as_ref().filter(|c| c.id == id) {
            return Some(cached.clone());
        }
        match self.fetch(resolver, &domain).await {
            Ok(policy) => {
                self.store(&domain, &id, &policy);
                Some(ActivePolicy {
                    id,
                    policy,
                    cached: false,
                })
            }
            Err(error) => {
                tracing::warn!(%error, cached = cached.is_some(), "MTA-STS policy fetch failed");
                cached
            }
        }
    }

    /// Fetches and parses the policy of `domain` (no cache involved).
    pub async fn fetch(&self, resolver: &dyn Resolve, domain: &str) -> Result<Policy, FetchError> {
        let domain = normalize_name(domain);
        let error = |reason: String| FetchError {
            domain: domain.clone(),
            reason,
        };
        let connector = self.tls.clone().map_err(&error)?;
        let host = format!("mta-sts.{domain}");
        let work = async {
            let addrs = resolver
                .addrs(&host)
                .await
                .map_err(|e| error(e.to_string()))?;
            if addrs.is_empty() {
                return Err(error(format!("{host} has no address")));
            }
            let mut last = error(format!("{host}: no address answered"));
            for ip in addrs.into_iter().take(MAX_FETCH_ADDRS) {
                let addr = SocketAddr::new(ip, self.config.https_port);
                match self.fetch_from(&connector, &host, addr).await {
                    Ok(body) => {
                        let text = std::str::from_utf8(&body)
                            .map_err(|_| error("policy is not UTF-8".into()))?;
                        return parse_policy(text).map_err(|e| error(e.to_string()));
                    }
                    Err(reason) => last = error(format!("{host}[{ip}]: {reason}")),
                }
            }
            Err(last)
        };
        tokio::time::timeout(self.config.timeout, work)
            .await
            .map_err(|_| error(format!("timed out after {:?}", self.config.timeout)))?
    }

    async fn fetch_from(
        &self,
        connector: &TlsConnector,
        host: &str,
        addr: SocketAddr,
    ) -> Result<Bytes, String> {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let name = ServerName::try_from(host.to_string()).map_err(|e| format!("name: {e}"))?;
        let tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(tls))
                .await
                .map_err(|e| format!("HTTP: {e}"))?;
        let authority = if self.config.https_port == 443 {
            host.to_string()
        } else {
            format!("{host}:{}", self.config.https_port)
        };
        let request = Request::get("/.well-known/mta-sts.txt")
            .header(HOST, authority)
            .header(USER_AGENT, "rampart-mta-sts")
            .body(Empty::new())
            .map_err(|e| format!("request: {e}"))?;
        let exchange = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| format!("HTTP: {e}"))?;
            // No redirects (RFC 8461 §3.3): anything but 200 is a failure.
            if response.status() != StatusCode::OK {
                return Err(format!("HTTP status {}", response.status()));
            }
            Limited::new(response.into_body(), MAX_POLICY_SIZE)
                .collect()
                .await
                .map(|body| body.to_bytes())
                .map_err(|e| format!("body: {e}"))
        };
        // The connection future must be driven while the response is read.
        let mut connection = pin!(connection);
        let mut exchange = pin!(exchange);
        tokio::select! {
            result = &mut exchange => result,
            closed = &mut connection => match closed {
                Ok(()) => exchange.await,
                Err(e) => Err(format!("HTTP: {e}")),
            },
        }
    }

    fn cached(&self, domain: &str) -> Option<ActivePolicy> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(domain)
            .filter(|entry| entry.expires > Instant::now())
            .map(|entry| ActivePolicy {
                id: entry.id.clone(),
                policy: entry.policy.clone(),
                cached: true,
            })
    }

    fn store(&self, domain: &str, id: &str, policy: &Policy) {
        let now = Instant::now();
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if policy.max_age == 0 {
            cache.remove(domain);
            return;
        }
        if !cache.contains_key(domain) && cache.len() >= self.config.max_entries.max(1) {
            cache.retain(|_, entry| entry.expires > now);
            while cache.len() >= self.config.max_entries.max(1) {
                let Some(oldest) = cache
                    .iter()
                    .min_by_key(|(_, entry)| entry.expires)
                    .map(|(key, _)| key.clone())
                else {
                    break;
                };
                cache.remove(&oldest);
            }
        }
        cache.insert(
            domain.to_string(),
            CacheEntry {
                id: id.to_string(),
                policy: policy.clone(),
                expires: now + Duration::from_secs(policy.max_age),
            },
        );
    }

    /// Domains cached now (expired entries included until they are replaced or evicted).
    pub fn cache_len(&self) -> usize {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc_example() {
        let policy = parse_policy(
            "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n",
        )
        .unwrap();
        assert_eq!(policy.mode, Mode::Enforce);
        assert_eq!(policy.mx.len(), 3);
        assert_eq!(policy.max_age, 604800);
        assert!(policy.matches("MAIL.example.com."));
        assert!(policy.matches("x.example.net"));
        assert!(!policy.matches("example.net"));
        assert!(!policy.matches("a.b.example.net"));
    }

    #[test]
    fn refuses_incomplete_policies() {
        assert_eq!(
            parse_policy("mode: enforce\nmx: a\nmax_age: 1"),
            Err(PolicyError::Version)
        );
        assert_eq!(
            parse_policy("version: STSv2\nmode: enforce\nmx: a\nmax_age: 1"),
            Err(PolicyError::Version)
        );
        assert_eq!(
            parse_policy("version: STSv1\nmode: strict\nmx: a\nmax_age: 1"),
            Err(PolicyError::Mode)
        );
        assert_eq!(
            parse_policy("version: STSv1\nmode: enforce\nmx: a\nmax_age: -1"),
            Err(PolicyError::MaxAge)
        );
        assert_eq!(
            parse_policy("version: STSv1\nmode: testing\nmax_age: 1"),
            Err(PolicyError::NoMx("testing"))
        );
        assert!(parse_policy("version: STSv1\nmode: none\nmax_age: 0").is_ok());
    }

    #[test]
    fn caps_max_age_and_keeps_first_occurrence() {
        let policy = parse_policy(
            "version: STSv1\nmode: testing\nmode: enforce\nmx: a.example\nmax_age: 99999999999999999999\n",
        )
        .unwrap();
        assert_eq!(policy.mode, Mode::Testing);
        assert_eq!(policy.max_age, MAX_AGE_LIMIT);
    }

    #[test]
    fn txt_needs_exactly_one_valid_record() {
        assert_eq!(
            parse_txt(&["v=STSv1; id=20160831085700Z;".into()]),
            Some("20160831085700Z".into())
        );
        assert_eq!(
            parse_txt(&["v=spf1 -all".into(), "v=STSv1; id=abc".into()]),
            Some("abc".into())
        );
        assert_eq!(
            parse_txt(&["v=STSv1; id=abc".into(), "v=STSv1; id=def".into()]),
            None
        );
        assert_eq!(parse_txt(&["v=STSv1; id=a-b".into()]), None);
        assert_eq!(parse_txt(&["v=STSv1;".into()]), None);
        assert_eq!(parse_txt(&[]), None);
    }

    #[test]
    fn wildcard_matches_exactly_one_label() {
        assert!(mx_pattern_matches("*.example.net", "mx.example.net"));
        assert!(!mx_pattern_matches("*.example.net", "example.net"));
        assert!(!mx_pattern_matches("*.example.net", ".example.net"));
        assert!(!mx_pattern_matches("*.example.net", "a.b.example.net"));
        assert!(!mx_pattern_matches("*.", "a"));
        assert!(mx_pattern_matches("MX.Example.NET.", "mx.example.net"));
        assert!(!mx_pattern_matches("", ""));
    }

    #[test]
    fn cache_is_bounded() {
        let sts = MtaSts::new(MtaStsConfig {
            max_entries: 3,
            ..MtaStsConfig::default()
        });
        let policy = Policy {
            mode: Mode::Enforce,
            mx: vec!["mx.example".into()],
            max_age: 100,
        };
        for i in 0..10 {
            sts.store(&format!("d{i}.example"), "id", &policy);
        }
        assert_eq!(sts.cache_len(), 3);
        assert!(sts.cached("d9.example").is_some());
    }
}
