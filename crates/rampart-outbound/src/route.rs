//! Where a domain's mail goes, and how each connection must be protected.
//!
//! [`Router::route`] turns a recipient domain into an ordered list of [`Target`]s (host name,
//! socket address, [`TlsRequirement`]):
//!
//! * a configured relay (smart host) or a per-domain `mx_override` replaces the MX lookup;
//! * otherwise the MX records, by preference (equal preferences shuffled); no MX means the
//!   domain's own addresses (RFC 5321 §5.1); a null MX (RFC 7505) and a domain that does not
//!   exist are permanent failures; MX names that are IP literals or have no address are skipped;
//! * at most [`MAX_TARGETS`] addresses in all.
//!
//! Protection, per host, strongest first: DANE when enabled and the MX RRset and the TLSA RRset
//! at `_<port>._tcp.<host>` are DNSSEC-validated and hold usable records (RFC 7672); otherwise a
//! published MTA-STS `enforce` policy (RFC 8461: hosts outside its `mx` patterns are dropped, the
//! others need a WebPKI certificate for their name); otherwise `tls = "verify"` (WebPKI for every
//! host); otherwise opportunistic STARTTLS. A secure TLSA RRset with no usable record still makes
//! STARTTLS mandatory, unauthenticated (RFC 7672 §2.2). An MTA-STS policy in `testing` mode is
//! only logged. `tls = "none"` (tests) turns all of it off.

use std::collections::hash_map::RandomState;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use rampart_model::config::OutboundConfig;

use crate::client::DeliveryError;
use crate::dns::{normalize_name, DnsError, MxAnswer, MxRecord, Resolve, TlsaRecord};
use crate::mtasts::{ActivePolicy, Mode, MtaSts};

/// Most addresses one route holds, over all MX hosts.
pub const MAX_TARGETS: usize = 10;

/// How hard TLS is insisted on when neither DANE nor MTA-STS says more (`[outbound] tls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// STARTTLS when offered, certificate not checked (RFC 7435).
    #[default]
    Opportunistic,
    /// STARTTLS with a WebPKI-valid certificate for the host name, for every destination.
    Verify,
    /// Plain text only (tests).
    None,
}

impl FromStr for TlsMode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "opportunistic" => Ok(TlsMode::Opportunistic),
            "verify" => Ok(TlsMode::Verify),
            "none" => Ok(TlsMode::None),
            other => Err(format!(
                "outbound tls must be \"opportunistic\", \"verify\" or \"none\", not {other:?}"
            )),
        }
    }
}

/// The routing part of `[outbound]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouterConfig {
    /// Smart host `host:port` for all mail (host: a name or an IP address, `[v6]` in brackets).
    pub relay: Option<String>,
    /// Per-domain next hop `host:port`, replacing the MX lookup.
    pub mx_override: BTreeMap<String, String>,
    /// Port of MX hosts (25).
    pub port: u16,
    /// Opportunistic, verify or none.
    pub tls: TlsMode,
    /// Honour MTA-STS policies.
    pub mta_sts: bool,
    /// Honour DNSSEC-validated TLSA records.
    pub dane: bool,
}

impl RouterConfig {
    /// From the configuration file's `[outbound]` table.
    pub fn from_outbound(config: &OutboundConfig) -> Result<Self, String> {
        Ok(RouterConfig {
            relay: config.relay.clone().filter(|r| !r.trim().is_empty()),
            mx_override: config.mx_override.clone(),
            port: config.port,
            tls: config.tls.parse()?,
            mta_sts: config.mta_sts,
            dane: config.dane,
        })
    }
}

/// What the connection to one target must achieve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsRequirement {
    /// Plain text; STARTTLS is not attempted.
    None,
    /// STARTTLS when offered, any certificate; plain text when not offered, and once more in
    /// plain text when the handshake fails.
    Opportunistic,
    /// STARTTLS required, any certificate (a secure TLSA RRset with no usable record).
    EncryptOnly,
    /// STARTTLS required, the certificate must be WebPKI-valid for one of `names`.
    VerifyWebPki { names: Vec<String> },
    /// STARTTLS required, the chain must match the TLSA `records` (DANE-TA also checks `names`).
    Dane {
        records: Vec<TlsaRecord>,
        names: Vec<String>,
    },
}

impl TlsRequirement {
    /// `true` when a failure to secure the connection must not fall back to plain text.
    pub fn is_required(&self) -> bool {
        !matches!(self, TlsRequirement::None | TlsRequirement::Opportunistic)
    }

    /// A short name for logs and error messages.
    pub fn label(&self) -> &'static str {
        match self {
            TlsRequirement::None => "no TLS",
            TlsRequirement::Opportunistic => "opportunistic TLS",
            TlsRequirement::EncryptOnly => "mandatory TLS",
            TlsRequirement::VerifyWebPki { .. } => "verified TLS (WebPKI)",
            TlsRequirement::Dane { .. } => "DANE",
        }
    }
}

/// One address to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The host name (MX exchange, relay host, or the domain itself); an IP address for a relay
    /// or an address literal given as one.
    pub mx: String,
    pub addr: SocketAddr,
    pub tls: TlsRequirement,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.mx, self.addr.ip())?;
        if self.addr.port() != 25 {
            write!(f, ":{}", self.addr.port())?;
        }
        Ok(())
    }
}

/// Where one domain's mail goes, in the order to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub domain: String,
    pub targets: Vec<Target>,
    /// How the route was made, for logs: MX or relay, policy, skipped hosts.
    pub note: String,
}

/// Turns domains into [`Route`]s. Cheap to share; holds no per-delivery state.
pub struct Router {
    resolver: Arc<dyn Resolve>,
    config: RouterConfig,
    overrides: BTreeMap<String, String>,
    mta_sts: Arc<MtaSts>,
}

impl Router {
    /// A router asking `resolver`, with `mta_sts` as the (shared) policy cache.
    pub fn new(resolver: Arc<dyn Resolve>, config: RouterConfig, mta_sts: Arc<MtaSts>) -> Self {
        let overrides = config
            .mx_override
            .iter()
            .map(|(domain, hop)| (normalize_name(domain), hop.trim().to_string()))
            .collect();
        Router {
            resolver,
            config,
            overrides,
            mta_sts,
        }
    }

    /// The route for `domain` (a recipient's domain, or an address literal such as
    /// `[192.0.2.1]`). Errors say whether retrying can help.
    pub async fn route(&self, domain: &str) -> Result<Route, DeliveryError> {
        let domain = normalize_name(domain);
        if let Some(literal) = domain
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            return self.literal_route(&domain, literal);
        }
        if !plausible_domain(&domain) {
            return Err(DeliveryError::permanent(format!(
                "{domain:?} is not a valid domain name"
            )));
        }
        if let Some(relay) = &self.config.relay {
            return self.next_hop(&domain, relay, "relay").await;
        }
        if let Some(hop) = self.overrides.get(&domain) {
            return self.next_hop(&domain, hop, "mx_override").await;
        }
        self.mx_route(&domain).await
    }

    fn literal_route(&self, domain: &str, literal: &str) -> Result<Route, DeliveryError> {
        let text = literal.strip_prefix("ipv6:").unwrap_or(literal).to_string();
        let ip: IpAddr = text.parse().map_err(|_| {
            DeliveryError::permanent(format!("{domain} is not a valid address literal"))
        })?;
        Ok(Route {
            domain: domain.to_string(),
            targets: vec![Target {
                mx: ip.to_string(),
                addr: SocketAddr::new(ip, self.config.port),
                tls: self.base_requirement(&ip.to_string()),
            }],
            note: format!("address literal {domain}"),
        })
    }

    /// Opportunistic, or WebPKI under `tls = "verify"`, or none under `tls = "none"`.
    fn base_requirement(&self, host: &str) -> TlsRequirement {
        match self.config.tls {
            TlsMode::None => TlsRequirement::None,
            TlsMode::Opportunistic => TlsRequirement::Opportunistic,
            TlsMode::Verify => TlsRequirement::VerifyWebPki {
                names: vec![host.to_string()],
            },
        }
    }

    async fn next_hop(&self, domain: &str, spec: &str, how: &str) -> Result<Route, DeliveryError> {
        let (host, port) = parse_host_port(spec, 25).map_err(|reason| {
            DeliveryError::temporary(format!("{how} {spec:?} for {domain}: {reason}"))
        })?;
        let (ips, is_ip) = match host.parse::<IpAddr>() {
            Ok(ip) => (vec![ip], true),
            Err(_) => {
                let ips = self.resolver.addrs(&host).await.map_err(|error| {
                    DeliveryError::temporary(format!("{how} {host} for {domain}: {error}"))
                })?;
                (ips, false)
            }
        };
        if ips.is_empty() {
            return Err(DeliveryError::temporary(format!(
                "{how} {host} for {domain} has no address"
            )));
        }
        let mut tls = self.base_requirement(&host);
        let mut note = format!("{how} {host}:{port}");
        if !is_ip && self.config.dane && self.config.tls != TlsMode::None {
            let name = format!("_{port}._tcp.{host}");
            let answer = self.resolver.tlsa(&name).await.map_err(|error| {
                DeliveryError::temporary(format!("{how} {host} for {domain}: {error}"))
            })?;
            if answer.secure && !answer.records.is_empty() {
                tls = dane_requirement(answer.records, &host, None).unwrap_or(match tls {
                    TlsRequirement::Opportunistic => TlsRequirement::EncryptOnly,
                    other => other,
                });
                note.push_str(&format!("; {}", tls.label()));
            }
        }
        let targets = order_addresses(ips)
            .into_iter()
            .take(MAX_TARGETS)
            .map(|ip| Target {
                mx: host.clone(),
                addr: SocketAddr::new(ip, port),
                tls: tls.clone(),
            })
            .collect();
        Ok(Route {
            domain: domain.to_string(),
            targets,
            note,
        })
    }

    async fn mx_route(&self, domain: &str) -> Result<Route, DeliveryError> {
        let answer = self
            .resolver
            .mx(domain)
            .await
            .map_err(|error| match error {
                DnsError::NoSuchDomain { .. } => {
                    DeliveryError::permanent(format!("domain {domain} does not exist (NXDOMAIN)"))
                }
                other => DeliveryError::temporary(other.to_string()),
            })?;
        let (hosts, mx_secure, implicit) = match answer {
            MxAnswer::NullMx => {
                return Err(DeliveryError::permanent(format!(
                    "{domain} does not accept mail (null MX, RFC 7505)"
                )))
            }
            MxAnswer::NoRecords => (vec![domain.to_string()], false, true),
            MxAnswer::Records { exchanges, secure } => (order_mx(exchanges), secure, false),
        };

        let tls_off = self.config.tls == TlsMode::None;
        let policy = if self.config.mta_sts && !tls_off {
            self.mta_sts
                .policy(self.resolver.as_ref(), domain)
                .await
                .filter(|p| p.policy.mode != Mode::None)
        } else {
            None
        };

        let mut notes = vec![if implicit {
            format!("no MX for {domain}: its own addresses")
        } else {
            format!("MX {}", hosts.join(", "))
        }];
        if let Some(active) = &policy {
            notes.push(format!(
                "MTA-STS {} (id {}{})",
                active.policy.mode.as_str(),
                active.id,
                if active.cached { ", cached" } else { "" }
            ));
        }
        let mut targets = Vec::new();
        let mut temporary = Vec::new();
        let mut refused_by_policy = Vec::new();

        for host in hosts {
            if targets.len() >= MAX_TARGETS {
                break;
            }
            if host.parse::<IpAddr>().is_ok() || host.starts_with('[') {
                notes.push(format!("MX {host} is an IP address, skipped"));
                continue;
            }
            let ips = match self.resolver.addrs(&host).await {
                Ok(ips) if ips.is_empty() => {
                    notes.push(format!("{host} has no address"));
                    continue;
                }
                Ok(ips) => ips,
                Err(DnsError::NoSuchDomain { .. }) => {
                    notes.push(format!("{host} does not exist"));
                    continue;
                }
                Err(error) => {
                    temporary.push(error.to_string());
                    continue;
                }
            };

            let mut dane_records = None;
            if self.config.dane && !tls_off && (mx_secure || implicit) {
                let name = format!("_{}._tcp.{host}", self.config.port);
                match self.resolver.tlsa(&name).await {
                    Ok(answer) if answer.secure && !answer.records.is_empty() => {
                        dane_records = Some(answer.records);
                    }
                    Ok(_) => {}
                    // RFC 7672 §2.2: a host whose TLSA lookup fails cannot be used.
                    Err(error) => {
                        temporary.push(format!("{error} (DANE)"));
                        continue;
                    }
                }
            }

            let tls = match self.requirement(domain, &host, dane_records, policy.as_ref()) {
                Some(tls) => tls,
                None => {
                    refused_by_policy.push(host);
                    continue;
                }
            };
            if !matches!(tls, TlsRequirement::None | TlsRequirement::Opportunistic) {
                notes.push(format!("{host}: {}", tls.label()));
            }
            for ip in order_addresses(ips) {
                if targets.len() >= MAX_TARGETS {
                    break;
                }
                targets.push(Target {
                    mx: host.clone(),
                    addr: SocketAddr::new(ip, self.config.port),
                    tls: tls.clone(),
                });
            }
        }

        if !refused_by_policy.is_empty() {
            notes.push(format!(
                "not in the MTA-STS policy: {}",
                refused_by_policy.join(", ")
            ));
        }
        let note = notes.join("; ");
        if targets.is_empty() {
            let message = if let (false, Some(active)) = (refused_by_policy.is_empty(), &policy) {
                format!(
                    "no MX host of {domain} matches its MTA-STS policy (id {}, mx {}): {}",
                    active.id,
                    active.policy.mx.join(" "),
                    refused_by_policy.join(", ")
                )
            } else if !temporary.is_empty() {
                format!("no usable MX host for {domain}: {}", temporary.join("; "))
            } else if implicit {
                return Err(DeliveryError::permanent(format!(
                    "{domain} has no MX and no address records"
                )));
            } else {
                format!("no MX host of {domain} has an address ({note})")
            };
            return Err(DeliveryError::temporary(message));
        }
        tracing::debug!(%domain, targets = targets.len(), %note, "route");
        Ok(Route {
            domain: domain.to_string(),
            targets,
            note,
        })
    }

    /// The requirement for one MX host; `None` when an enforced MTA-STS policy excludes it.
    fn requirement(
        &self,
        domain: &str,
        host: &str,
        dane_records: Option<Vec<TlsaRecord>>,
        policy: Option<&ActivePolicy>,
    ) -> Option<TlsRequirement> {
        if self.config.tls == TlsMode::None {
            return Some(TlsRequirement::None);
        }
        let dane_present = dane_records.is_some();
        if let Some(dane) = dane_records.and_then(|r| dane_requirement(r, host, Some(domain))) {
            return Some(dane);
        }
        if let Some(active) = policy {
            let matches = active.policy.matches(host);
            match active.policy.mode {
                Mode::Enforce if !matches => return None,
                Mode::Enforce => {
                    return Some(TlsRequirement::VerifyWebPki {
                        names: vec![host.to_string()],
                    })
                }
                Mode::Testing if !matches => {
                    tracing::info!(
                        %domain, %host, id = %active.id,
                        "MTA-STS testing policy: MX host not in the policy (delivering anyway)"
                    );
                }
                Mode::Testing | Mode::None => {}
            }
        }
        Some(match self.base_requirement(host) {
            TlsRequirement::Opportunistic if dane_present => TlsRequirement::EncryptOnly,
            other => other,
        })
    }
}

/// DANE with the usable records, or `None` when no record is usable.
fn dane_requirement(
    records: Vec<TlsaRecord>,
    host: &str,
    domain: Option<&str>,
) -> Option<TlsRequirement> {
    let usable: Vec<TlsaRecord> = records.into_iter().filter(|r| r.is_usable()).collect();
    if usable.is_empty() {
        return None;
    }
    let mut names = vec![host.to_string()];
    if let Some(domain) = domain.filter(|d| *d != host) {
        names.push(domain.to_string());
    }
    Some(TlsRequirement::Dane {
        records: usable,
        names,
    })
}

/// Exchanges by preference; equal preferences in random order (RFC 5321 §5.1); duplicates once.
fn order_mx(mut exchanges: Vec<MxRecord>) -> Vec<String> {
    exchanges.sort_by_key(|mx| mx.preference);
    let mut random = RandomState::new().build_hasher();
    let mut start = 0;
    while start < exchanges.len() {
        let preference = exchanges[start].preference;
        let end = exchanges[start..]
            .iter()
            .position(|mx| mx.preference != preference)
            .map_or(exchanges.len(), |n| start + n);
        // Fisher-Yates over the group, with randomness from std's per-process random keys.
        for i in (start + 1..end).rev() {
            random.write_usize(i);
            let j = start + (random.finish() as usize) % (i - start + 1);
            exchanges.swap(i, j);
        }
        start = end;
    }
    let mut seen = std::collections::HashSet::new();
    exchanges
        .into_iter()
        .filter(|mx| seen.insert(mx.exchange.clone()))
        .map(|mx| mx.exchange)
        .collect()
}

/// IPv4 first (more often reachable), otherwise in the order DNS gave them.
fn order_addresses(mut ips: Vec<IpAddr>) -> Vec<IpAddr> {
    ips.sort_by_key(|ip| ip.is_ipv6());
    ips.dedup();
    ips
}

fn plausible_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b >= 0x80)
        })
}

/// `host:port`, `[v6]:port`, a bare host or IP (port `default`).
pub fn parse_host_port(spec: &str, default: u16) -> Result<(String, u16), String> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Err("empty next hop".into());
    }
    if let Ok(ip) = spec.parse::<IpAddr>() {
        return Ok((ip.to_string(), default));
    }
    if let Ok(addr) = spec.parse::<SocketAddr>() {
        return Ok((addr.ip().to_string(), addr.port()));
    }
    let (host, port) = match spec.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse::<u16>()
                .map_err(|_| format!("bad port in {spec:?}"))?,
        ),
        None => (spec, default),
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let host = normalize_name(host);
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(format!("bad host in {spec:?}"));
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_next_hops() {
        assert_eq!(
            parse_host_port("smtp.example.net:587", 25),
            Ok(("smtp.example.net".into(), 587))
        );
        assert_eq!(
            parse_host_port("127.0.0.1:2526", 25),
            Ok(("127.0.0.1".into(), 2526))
        );
        assert_eq!(parse_host_port("[::1]:26", 25), Ok(("::1".into(), 26)));
        assert_eq!(parse_host_port("::1", 25), Ok(("::1".into(), 25)));
        assert_eq!(
            parse_host_port("relay.example", 25),
            Ok(("relay.example".into(), 25))
        );
        assert!(parse_host_port("relay.example:x", 25).is_err());
        assert!(parse_host_port("", 25).is_err());
    }

    #[test]
    fn orders_mx_by_preference_and_keeps_every_host() {
        let mx = |preference, exchange: &str| MxRecord {
            preference,
            exchange: exchange.into(),
        };
        for _ in 0..20 {
            let ordered = order_mx(vec![
                mx(20, "c"),
                mx(10, "a"),
                mx(10, "b"),
                mx(30, "d"),
                mx(10, "a"),
            ]);
            assert_eq!(ordered.len(), 4);
            assert!(ordered[..2].contains(&"a".to_string()));
            assert!(ordered[..2].contains(&"b".to_string()));
            assert_eq!(ordered[2..], ["c".to_string(), "d".to_string()]);
        }
    }

    #[test]
    fn tls_mode_parses_config_words() {
        assert_eq!("verify".parse(), Ok(TlsMode::Verify));
        assert_eq!(" Opportunistic ".parse(), Ok(TlsMode::Opportunistic));
        assert_eq!("none".parse(), Ok(TlsMode::None));
        assert!("strict".parse::<TlsMode>().is_err());
    }
}
