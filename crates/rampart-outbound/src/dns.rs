//! Everything DNS that a delivery needs (MX, A/AAAA, TLSA, TXT), behind one object-safe trait so
//! that tests and tools never send a query.
//!
//! [`HickoryResolver`] asks the system's (or the given) name servers, with a timeout, and
//! validates DNSSEC itself for the answers DANE depends on: a [`TlsaAnswer`] or an
//! [`MxAnswer::Records`] is `secure` only when hickory proved the whole RRset. [`StaticResolver`]
//! answers from a table built in code; names it does not know do not exist.
//!
//! Answers are bounded (at most [`MAX_MX`] exchanges, [`MAX_ADDRS`] addresses per host,
//! [`MAX_TXT`] TXT records, [`MAX_TLSA`] TLSA records): a hostile zone cannot make a delivery
//! allocate without limit.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as HickoryDnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, Record, RecordType};
use hickory_resolver::TokioResolver;

/// Most MX records considered for one domain.
pub const MAX_MX: usize = 32;
/// Most addresses kept for one host name.
pub const MAX_ADDRS: usize = 16;
/// Most TXT records kept for one name.
pub const MAX_TXT: usize = 32;
/// Most TLSA records kept for one name.
pub const MAX_TLSA: usize = 32;
/// Longest TXT record kept (its strings concatenated), in bytes.
const MAX_TXT_LEN: usize = 4096;

/// The future every [`Resolve`] method returns.
pub type DnsFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DnsError>> + Send + 'a>>;

/// Why a lookup gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// The name does not exist (NXDOMAIN): permanent.
    #[error("{name} does not exist (NXDOMAIN)")]
    NoSuchDomain { name: String },
    /// Timeout, SERVFAIL, a DNSSEC validation failure, no name server reachable: try later.
    #[error("DNS lookup of {name} failed: {reason}")]
    Temporary { name: String, reason: String },
}

impl DnsError {
    /// `true` for an answer that retrying will not change (NXDOMAIN).
    pub fn is_permanent(&self) -> bool {
        matches!(self, DnsError::NoSuchDomain { .. })
    }

    fn temporary(name: &str, reason: impl Into<String>) -> Self {
        DnsError::Temporary {
            name: name.to_string(),
            reason: reason.into(),
        }
    }
}

/// One MX record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxRecord {
    pub preference: u16,
    /// The exchange's host name: lower case, no trailing dot.
    pub exchange: String,
}

/// What the MX lookup of a domain said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MxAnswer {
    /// The domain's mail exchangers (unsorted, as the server gave them). `secure` is `true` only
    /// when the RRset was DNSSEC-validated, which DANE requires (RFC 7672 §2.2.1).
    Records {
        exchanges: Vec<MxRecord>,
        secure: bool,
    },
    /// The domain exists but has no MX records: mail goes to its own addresses (RFC 5321 §5.1).
    NoRecords,
    /// The domain publishes a null MX (`0 .`, RFC 7505): it accepts no mail.
    NullMx,
}

/// One TLSA record (RFC 6698), as numbers and bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TlsaRecord {
    /// 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE.
    pub usage: u8,
    /// 0 the full certificate, 1 its SubjectPublicKeyInfo.
    pub selector: u8,
    /// 0 exact bytes, 1 SHA-256, 2 SHA-512.
    pub matching: u8,
    pub data: Vec<u8>,
}

impl TlsaRecord {
    /// Usable for SMTP (RFC 7672 §3.1): DANE-TA(2) or DANE-EE(3), with a known selector and
    /// matching type, and data of the length that matching type implies.
    pub fn is_usable(&self) -> bool {
        let length_ok = match self.matching {
            0 => !self.data.is_empty(),
            1 => self.data.len() == 32,
            2 => self.data.len() == 64,
            _ => false,
        };
        matches!(self.usage, 2 | 3) && self.selector <= 1 && length_ok
    }
}

/// The TLSA RRset of one name (`_25._tcp.mx.example.net`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsaAnswer {
    /// Empty when the name has no TLSA records.
    pub records: Vec<TlsaRecord>,
    /// `true` only when the answer (records or their absence) was DNSSEC-validated.
    pub secure: bool,
}

/// The DNS questions a delivery asks. Object-safe: the router holds an `Arc<dyn Resolve>`.
///
/// Names are given without a trailing dot and are treated as fully qualified (no search list).
pub trait Resolve: Send + Sync {
    /// MX records of `domain`. NXDOMAIN is [`DnsError::NoSuchDomain`].
    fn mx<'a>(&'a self, domain: &'a str) -> DnsFuture<'a, MxAnswer>;
    /// IPv4 and IPv6 addresses of `host` (empty when it has none; NXDOMAIN is an error).
    fn addrs<'a>(&'a self, host: &'a str) -> DnsFuture<'a, Vec<IpAddr>>;
    /// TLSA records at `name` (e.g. `_25._tcp.mx.example.net`); none is an empty answer.
    fn tlsa<'a>(&'a self, name: &'a str) -> DnsFuture<'a, TlsaAnswer>;
    /// TXT records at `name`, each one's strings concatenated; none (or NXDOMAIN) is empty.
    fn txt<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Vec<String>>;
}

/// Lower case, without the trailing dot: the form every name in this crate is compared in.
pub fn normalize_name(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Settings of a [`HickoryResolver`].
#[derive(Debug, Clone)]
pub struct HickoryOptions {
    /// Name servers to ask (port 53, UDP then TCP); empty: the system's (`/etc/resolv.conf`).
    pub nameservers: Vec<IpAddr>,
    /// Timeout of one query to one server.
    pub timeout: Duration,
    /// Tries per query.
    pub attempts: usize,
    /// Validate DNSSEC for MX and TLSA answers (needed for DANE). Without it nothing is secure.
    pub dnssec: bool,
}

impl Default for HickoryOptions {
    fn default() -> Self {
        HickoryOptions {
            nameservers: Vec::new(),
            timeout: Duration::from_secs(5),
            attempts: 2,
            dnssec: true,
        }
    }
}

/// [`Resolve`] over real DNS (hickory). Two resolvers share the configuration: a plain one for
/// addresses and TXT, and, when [`HickoryOptions::dnssec`] is on, a validating one for MX and
/// TLSA, whose answers carry hickory's DNSSEC proof.
pub struct HickoryResolver {
    plain: TokioResolver,
    validating: Option<TokioResolver>,
}

impl HickoryResolver {
    /// Builds the resolvers; reads the system configuration when no name servers are given.
    pub fn new(options: &HickoryOptions) -> Result<Self, DnsError> {
        let build = |validate: bool| -> Result<TokioResolver, DnsError> {
            let mut builder = if options.nameservers.is_empty() {
                TokioResolver::builder_tokio().map_err(|error| {
                    DnsError::temporary("system resolver configuration", error.to_string())
                })?
            } else {
                let servers = options
                    .nameservers
                    .iter()
                    .map(|ip| NameServerConfig::udp_and_tcp(*ip))
                    .collect();
                TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(servers),
                    TokioRuntimeProvider::default(),
                )
            };
            let opts: &mut ResolverOpts = builder.options_mut();
            opts.timeout = options.timeout;
            opts.attempts = options.attempts.max(1);
            opts.validate = validate;
            opts.ndots = 0;
            builder
                .build()
                .map_err(|error| DnsError::temporary("resolver", error.to_string()))
        };
        Ok(HickoryResolver {
            plain: build(false)?,
            validating: if options.dnssec {
                Some(build(true)?)
            } else {
                None
            },
        })
    }

    fn fqdn(name: &str) -> String {
        format!("{}.", normalize_name(name))
    }
}

/// What a failed hickory lookup means for us.
enum Failure {
    NxDomain,
    NoData,
    Other(String),
}

fn classify(error: &NetError) -> Failure {
    match error {
        NetError::Dns(HickoryDnsError::NoRecordsFound(no)) => {
            if no.response_code == ResponseCode::NXDomain {
                Failure::NxDomain
            } else {
                Failure::NoData
            }
        }
        NetError::Dns(HickoryDnsError::Nsec { response, .. }) => {
            if response.response_code == ResponseCode::NXDomain {
                Failure::NxDomain
            } else {
                Failure::NoData
            }
        }
        other => Failure::Other(other.to_string()),
    }
}

/// Every answer record must be proven for the RRset to count as secure; a bogus one fails.
fn proof_of(records: &[Record], name: &str) -> Result<bool, DnsError> {
    if records.iter().any(|r| r.proof.is_bogus()) {
        return Err(DnsError::temporary(
            name,
            "DNSSEC validation failed (bogus)",
        ));
    }
    Ok(!records.is_empty() && records.iter().all(|r| r.proof.is_secure()))
}

impl Resolve for HickoryResolver {
    fn mx<'a>(&'a self, domain: &'a str) -> DnsFuture<'a, MxAnswer> {
        Box::pin(async move {
            let resolver = self.validating.as_ref().unwrap_or(&self.plain);
            let lookup = match resolver.lookup(Self::fqdn(domain), RecordType::MX).await {
                Ok(lookup) => lookup,
                Err(error) => {
                    return match classify(&error) {
                        Failure::NxDomain => Err(DnsError::NoSuchDomain {
                            name: normalize_name(domain),
                        }),
                        Failure::NoData => Ok(MxAnswer::NoRecords),
                        Failure::Other(reason) => Err(DnsError::temporary(domain, reason)),
                    }
                }
            };
            let records: Vec<Record> = lookup
                .answers()
                .iter()
                .filter(|r| matches!(r.data, RData::MX(_)))
                .cloned()
                .collect();
            let secure = self.validating.is_some() && proof_of(&records, domain)?;
            let exchanges = records
                .iter()
                .filter_map(|r| match &r.data {
                    RData::MX(mx) => Some(MxRecord {
                        preference: mx.preference,
                        exchange: normalize_name(&mx.exchange.to_ascii()),
                    }),
                    _ => None,
                })
                .take(MAX_MX)
                .collect();
            Ok(classify_mx(exchanges, secure))
        })
    }

    fn addrs<'a>(&'a self, host: &'a str) -> DnsFuture<'a, Vec<IpAddr>> {
        Box::pin(async move {
            match self.plain.lookup_ip(Self::fqdn(host)).await {
                Ok(lookup) => Ok(lookup.iter().take(MAX_ADDRS).collect()),
                Err(error) => match classify(&error) {
                    Failure::NxDomain => Err(DnsError::NoSuchDomain {
                        name: normalize_name(host),
                    }),
                    Failure::NoData => Ok(Vec::new()),
                    Failure::Other(reason) => Err(DnsError::temporary(host, reason)),
                },
            }
        })
    }

    fn tlsa<'a>(&'a self, name: &'a str) -> DnsFuture<'a, TlsaAnswer> {
        Box::pin(async move {
            let Some(resolver) = self.validating.as_ref() else {
                return Ok(TlsaAnswer::default());
            };
            let lookup = match resolver.lookup(Self::fqdn(name), RecordType::TLSA).await {
                Ok(lookup) => lookup,
                Err(error) => {
                    return match classify(&error) {
                        Failure::NxDomain | Failure::NoData => Ok(TlsaAnswer::default()),
                        Failure::Other(reason) => Err(DnsError::temporary(name, reason)),
                    }
                }
            };
            let records: Vec<Record> = lookup
                .answers()
                .iter()
                .filter(|r| matches!(r.data, RData::TLSA(_)))
                .cloned()
                .collect();
            let secure = proof_of(&records, name)?;
            let records = records
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TLSA(tlsa) => Some(TlsaRecord {
                        usage: tlsa.cert_usage.into(),
                        selector: tlsa.selector.into(),
                        matching: tlsa.matching.into(),
                        data: tlsa.cert_data.clone(),
                    }),
                    _ => None,
                })
                .take(MAX_TLSA)
                .collect();
            Ok(TlsaAnswer { records, secure })
        })
    }

    fn txt<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Vec<String>> {
        Box::pin(async move {
            let lookup = match self.plain.lookup(Self::fqdn(name), RecordType::TXT).await {
                Ok(lookup) => lookup,
                Err(error) => {
                    return match classify(&error) {
                        Failure::NxDomain | Failure::NoData => Ok(Vec::new()),
                        Failure::Other(reason) => Err(DnsError::temporary(name, reason)),
                    }
                }
            };
            Ok(lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(txt) => {
                        let mut joined = Vec::new();
                        for part in txt.txt_data.iter() {
                            joined.extend_from_slice(part);
                        }
                        (joined.len() <= MAX_TXT_LEN)
                            .then(|| String::from_utf8_lossy(&joined).into_owned())
                    }
                    _ => None,
                })
                .take(MAX_TXT)
                .collect())
        })
    }
}

/// A single `.` exchange is a null MX (RFC 7505); a `.` among real exchanges is ignored.
fn classify_mx(exchanges: Vec<MxRecord>, secure: bool) -> MxAnswer {
    if exchanges.is_empty() {
        return MxAnswer::NoRecords;
    }
    if exchanges.len() == 1 && exchanges[0].exchange.is_empty() {
        return MxAnswer::NullMx;
    }
    let exchanges: Vec<MxRecord> = exchanges
        .into_iter()
        .filter(|mx| !mx.exchange.is_empty())
        .collect();
    if exchanges.is_empty() {
        return MxAnswer::NullMx;
    }
    MxAnswer::Records { exchanges, secure }
}

/// [`Resolve`] from a table built in code, for tests and tools: never sends a query.
///
/// Names it does not know do not exist (NXDOMAIN); a name that has some record but not the kind
/// asked for has no data. Answers are secure only for names marked with [`StaticResolver::signed`].
///
/// ```
/// use rampart_outbound::dns::{Resolve, StaticResolver};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let dns = StaticResolver::new()
///     .mx("example.net", 10, "mx1.example.net")
///     .a("mx1.example.net", "192.0.2.1".parse().unwrap());
/// assert_eq!(dns.addrs("mx1.example.net").await.unwrap().len(), 1);
/// assert!(dns.addrs("nowhere.example").await.is_err());
/// # });
/// ```
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    mx: HashMap<String, Vec<MxRecord>>,
    addrs: HashMap<String, Vec<IpAddr>>,
    tlsa: HashMap<String, Vec<TlsaRecord>>,
    txt: HashMap<String, Vec<String>>,
    signed: HashSet<String>,
    failing: HashSet<String>,
}

impl StaticResolver {
    /// An empty table: every name is NXDOMAIN.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an MX record; `exchange` `"."` makes a null MX.
    pub fn mx(mut self, domain: &str, preference: u16, exchange: &str) -> Self {
        self.mx
            .entry(normalize_name(domain))
            .or_default()
            .push(MxRecord {
                preference,
                exchange: normalize_name(exchange),
            });
        self
    }

    /// Adds an address (A or AAAA) record.
    pub fn a(mut self, host: &str, addr: IpAddr) -> Self {
        self.addrs
            .entry(normalize_name(host))
            .or_default()
            .push(addr);
        self
    }

    /// Adds a TLSA record at `name` (`_25._tcp.mx.example.net`).
    pub fn tlsa(mut self, name: &str, record: TlsaRecord) -> Self {
        self.tlsa
            .entry(normalize_name(name))
            .or_default()
            .push(record);
        self
    }

    /// Adds a TXT record.
    pub fn txt(mut self, name: &str, text: &str) -> Self {
        self.txt
            .entry(normalize_name(name))
            .or_default()
            .push(text.to_string());
        self
    }

    /// Marks the answers for `name` (its MX or TLSA RRset) as DNSSEC-validated.
    pub fn signed(mut self, name: &str) -> Self {
        self.signed.insert(normalize_name(name));
        self
    }

    /// Makes every lookup of `name` fail temporarily, as a SERVFAIL would.
    pub fn servfail(mut self, name: &str) -> Self {
        self.failing.insert(normalize_name(name));
        self
    }

    fn exists(&self, name: &str) -> bool {
        self.mx.contains_key(name)
            || self.addrs.contains_key(name)
            || self.tlsa.contains_key(name)
            || self.txt.contains_key(name)
    }

    fn check(&self, name: &str) -> Result<String, DnsError> {
        let name = normalize_name(name);
        if self.failing.contains(&name) {
            return Err(DnsError::temporary(&name, "SERVFAIL"));
        }
        Ok(name)
    }
}

impl Resolve for StaticResolver {
    fn mx<'a>(&'a self, domain: &'a str) -> DnsFuture<'a, MxAnswer> {
        Box::pin(async move {
            let name = self.check(domain)?;
            match self.mx.get(&name) {
                Some(records) => Ok(classify_mx(
                    records.iter().take(MAX_MX).cloned().collect(),
                    self.signed.contains(&name),
                )),
                None if self.exists(&name) => Ok(MxAnswer::NoRecords),
                None => Err(DnsError::NoSuchDomain { name }),
            }
        })
    }

    fn addrs<'a>(&'a self, host: &'a str) -> DnsFuture<'a, Vec<IpAddr>> {
        Box::pin(async move {
            let name = self.check(host)?;
            match self.addrs.get(&name) {
                Some(addrs) => Ok(addrs.iter().take(MAX_ADDRS).copied().collect()),
                None if self.exists(&name) => Ok(Vec::new()),
                None => Err(DnsError::NoSuchDomain { name }),
            }
        })
    }

    fn tlsa<'a>(&'a self, name: &'a str) -> DnsFuture<'a, TlsaAnswer> {
        Box::pin(async move {
            let name = self.check(name)?;
            Ok(TlsaAnswer {
                records: self
                    .tlsa
                    .get(&name)
                    .map(|r| r.iter().take(MAX_TLSA).cloned().collect())
                    .unwrap_or_default(),
                secure: self.signed.contains(&name),
            })
        })
    }

    fn txt<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Vec<String>> {
        Box::pin(async move {
            let name = self.check(name)?;
            Ok(self
                .txt
                .get(&name)
                .map(|t| t.iter().take(MAX_TXT).cloned().collect())
                .unwrap_or_default())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(future)
    }

    #[test]
    fn null_mx_is_recognised_and_a_stray_dot_is_ignored() {
        let dns = StaticResolver::new()
            .mx("null.example", 0, ".")
            .mx("mixed.example", 0, ".")
            .mx("mixed.example", 10, "mx.mixed.example");
        assert_eq!(
            block_on(Resolve::mx(&dns, "null.example")),
            Ok(MxAnswer::NullMx)
        );
        match block_on(Resolve::mx(&dns, "mixed.example")) {
            Ok(MxAnswer::Records { exchanges, .. }) => {
                assert_eq!(exchanges.len(), 1);
                assert_eq!(exchanges[0].exchange, "mx.mixed.example");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_names_do_not_exist_and_known_ones_have_no_data() {
        let dns = StaticResolver::new().a("host.example", "192.0.2.7".parse().unwrap());
        assert!(block_on(Resolve::mx(&dns, "nowhere.example"))
            .unwrap_err()
            .is_permanent());
        assert_eq!(
            block_on(Resolve::mx(&dns, "HOST.example.")),
            Ok(MxAnswer::NoRecords)
        );
        assert!(block_on(Resolve::txt(&dns, "nowhere.example"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn hickory_without_dnssec_never_calls_tlsa_secure() {
        block_on(async {
            let resolver = HickoryResolver::new(&HickoryOptions {
                nameservers: vec!["127.0.0.1".parse().unwrap()],
                dnssec: false,
                ..HickoryOptions::default()
            })
            .expect("resolver");
            // Answered without a query: DANE needs validation, and there is none.
            let answer = Resolve::tlsa(&resolver, "_25._tcp.mx.example.net").await;
            assert_eq!(answer, Ok(TlsaAnswer::default()));
        });
    }

    #[test]
    fn servfail_is_temporary() {
        let dns = StaticResolver::new().servfail("broken.example");
        let error = block_on(Resolve::mx(&dns, "broken.example")).unwrap_err();
        assert!(!error.is_permanent());
    }

    #[test]
    fn only_dane_usages_with_sane_lengths_are_usable() {
        let record = |usage, selector, matching, len| TlsaRecord {
            usage,
            selector,
            matching,
            data: vec![0; len],
        };
        assert!(record(3, 1, 1, 32).is_usable());
        assert!(record(2, 0, 2, 64).is_usable());
        assert!(!record(1, 1, 1, 32).is_usable());
        assert!(!record(0, 0, 0, 10).is_usable());
        assert!(!record(3, 1, 1, 31).is_usable());
        assert!(!record(3, 2, 1, 32).is_usable());
    }
}
