//! DNS for sender authentication: the hickory resolver mail-auth drives, a bounded cache of parsed
//! records in front of it, and pre-seeded records for tests and offline use.
//!
//! mail-auth asks its [`ResolverCache`]s before every query and stores what it resolved. The
//! [`DnsCache`] here is that cache: parsed TXT records (SPF, DKIM keys, DMARC policies), A, AAAA,
//! MX and PTR sets, each kept until the TTL the answer carried and bounded in size (when full, the
//! entry closest to expiry goes first). Negative answers (NXDOMAIN) are cached by hickory's own
//! response cache, which stays on for that reason.
//!
//! Seeded records ([`DnsRecords`]) sit in front of that cache and never expire. A seeded
//! [`crate::SenderAuth`] has a resolver with no nameservers: it never sends a packet. Unseeded TXT
//! names answer NXDOMAIN (no SPF record, no DMARC policy, no DKIM key); unseeded A/AAAA/MX/PTR
//! names reach the resolver and fail as temporary errors, so seed every host an SPF record names.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::resolver::ToFqdn;
use mail_auth::dkim::{Atps, DomainKeyReport};
use mail_auth::dmarc::Dmarc;
use mail_auth::hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts,
};
use mail_auth::hickory_resolver::proto::op::ResponseCode;
use mail_auth::hickory_resolver::system_conf::read_system_conf;
use mail_auth::mta_sts::{MtaSts, TlsRpt};
use mail_auth::spf::{Macro, Spf};
use mail_auth::{
    common::verify::DomainKey, DnsError, DnssecStatus, MessageAuthenticator, RecordSet,
    ResolverCache, Txt, MX,
};

use crate::{AuthConfig, AuthError};

/// Records to answer from without asking any nameserver. Names are case-insensitive, with or
/// without the trailing dot.
///
/// A TXT value is parsed by what its name says it is: `_dmarc.` names hold DMARC policies,
/// `._domainkey.` names DKIM keys, everything else SPF records (`v=spf1 ...`) or SPF explanation
/// strings. Several values for one name behave like several TXT records: the first that parses
/// is the answer, as mail-auth does with live answers.
///
/// ```
/// use rampart_senderauth::DnsRecords;
///
/// let records = DnsRecords::new()
///     .txt("example.com", "v=spf1 ip4:192.0.2.0/24 -all")
///     .txt("_dmarc.example.com", "v=DMARC1; p=reject")
///     .a("mail.example.com", "192.0.2.25".parse().unwrap());
/// assert_eq!(records.len(), 3);
/// ```
#[derive(Debug, Clone, Default)]
pub struct DnsRecords {
    txt: Vec<(String, String)>,
    a: Vec<(String, Ipv4Addr)>,
    aaaa: Vec<(String, Ipv6Addr)>,
    mx: Vec<(String, u16, String)>,
    ptr: Vec<(IpAddr, String)>,
}

impl DnsRecords {
    pub fn new() -> Self {
        Self::default()
    }

    /// A TXT record: SPF, DKIM key, DMARC policy (see the type's documentation).
    pub fn txt(mut self, name: &str, value: &str) -> Self {
        self.txt.push((fqdn(name), value.to_string()));
        self
    }

    pub fn a(mut self, name: &str, addr: Ipv4Addr) -> Self {
        self.a.push((fqdn(name), addr));
        self
    }

    pub fn aaaa(mut self, name: &str, addr: Ipv6Addr) -> Self {
        self.aaaa.push((fqdn(name), addr));
        self
    }

    pub fn mx(mut self, name: &str, preference: u16, exchange: &str) -> Self {
        self.mx.push((fqdn(name), preference, fqdn(exchange)));
        self
    }

    /// A reverse-DNS name for an address (used by the SPF `ptr` mechanism).
    pub fn ptr(mut self, addr: IpAddr, name: &str) -> Self {
        self.ptr.push((addr, fqdn(name)));
        self
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.txt.len() + self.a.len() + self.aaaa.len() + self.mx.len() + self.ptr.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn fqdn(name: &str) -> String {
    name.to_fqdn().into_owned()
}

/// What a seeded TXT name holds, inferred from the name (mail-auth parses a TXT answer as the type
/// the caller asked for; a seeded answer must be parsed before anyone asks).
fn parse_txt(name: &str, value: &[u8]) -> Txt {
    if name.starts_with("_dmarc.") {
        Dmarc::parse(value).into()
    } else if name.starts_with("_report._domainkey.") {
        DomainKeyReport::parse(value).into()
    } else if name.contains("._domainkey.") {
        DomainKey::parse(value).into()
    } else if name.contains("._atps.") {
        Atps::parse(value).into()
    } else if name.starts_with("_mta-sts.") {
        MtaSts::parse(value).into()
    } else if name.starts_with("_smtp._tls.") {
        TlsRpt::parse(value).into()
    } else if value.len() >= 6 && value[..6].eq_ignore_ascii_case(b"v=spf1") {
        Spf::parse(value).into()
    } else {
        Macro::parse(value).into()
    }
}

/// The seeded records, parsed once.
struct SeededZone {
    txt: HashMap<Box<str>, Txt>,
    mx: HashMap<Box<str>, RecordSet<MX>>,
    ipv4: HashMap<Box<str>, RecordSet<Ipv4Addr>>,
    ipv6: HashMap<Box<str>, RecordSet<Ipv6Addr>>,
    ptr: HashMap<IpAddr, RecordSet<Box<str>>>,
}

impl SeededZone {
    fn new(records: &DnsRecords) -> Self {
        let mut txt: HashMap<Box<str>, Txt> = HashMap::new();
        for (name, value) in &records.txt {
            let parsed = parse_txt(name, value.as_bytes());
            // The first record that parses wins; an error only stands if nothing parses.
            let keep_existing =
                matches!(txt.get(name.as_str()), Some(t) if !matches!(t, Txt::Error(_)));
            if !keep_existing {
                txt.insert(name.as_str().into(), parsed);
            }
        }

        let mut mx_groups: HashMap<&str, Vec<(u16, &str)>> = HashMap::new();
        for (name, preference, exchange) in &records.mx {
            mx_groups
                .entry(name)
                .or_default()
                .push((*preference, exchange));
        }
        let mx = mx_groups
            .into_iter()
            .map(|(name, mut entries)| {
                entries.sort_unstable();
                let mut grouped: Vec<MX> = Vec::new();
                for (preference, exchange) in entries {
                    match grouped.last_mut() {
                        Some(last) if last.preference == preference => {
                            let mut exchanges = std::mem::take(&mut last.exchanges).into_vec();
                            exchanges.push(exchange.into());
                            last.exchanges = exchanges.into_boxed_slice();
                        }
                        _ => grouped.push(MX {
                            exchanges: vec![Box::<str>::from(exchange)].into_boxed_slice(),
                            preference,
                        }),
                    }
                }
                (name.into(), record_set(grouped))
            })
            .collect();

        SeededZone {
            txt,
            mx,
            ipv4: group(
                records
                    .a
                    .iter()
                    .map(|(n, a)| (Box::<str>::from(n.as_str()), *a)),
            ),
            ipv6: group(
                records
                    .aaaa
                    .iter()
                    .map(|(n, a)| (Box::<str>::from(n.as_str()), *a)),
            ),
            ptr: group(
                records
                    .ptr
                    .iter()
                    .map(|(ip, n)| (*ip, Box::<str>::from(n.as_str()))),
            ),
        }
    }
}

fn group<K: Hash + Eq, T>(entries: impl Iterator<Item = (K, T)>) -> HashMap<K, RecordSet<T>> {
    let mut grouped: HashMap<K, Vec<T>> = HashMap::new();
    for (key, value) in entries {
        grouped.entry(key).or_default().push(value);
    }
    grouped
        .into_iter()
        .map(|(k, v)| (k, record_set(v)))
        .collect()
}

fn record_set<T>(values: Vec<T>) -> RecordSet<T> {
    RecordSet {
        rrset: Arc::from(values.into_boxed_slice()),
        dnssec_status: DnssecStatus::Indeterminate,
    }
}

/// A size-bounded map whose entries expire at the instant the DNS answer said. When full, the
/// entry that would expire first is evicted (an index ordered by expiry keeps that O(log n)).
struct TtlMap<K, V> {
    entries: HashMap<K, (V, Instant, u64)>,
    by_expiry: BTreeMap<(Instant, u64), K>,
    next_seq: u64,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V: Clone> TtlMap<K, V> {
    fn new(capacity: usize) -> Self {
        TtlMap {
            entries: HashMap::new(),
            by_expiry: BTreeMap::new(),
            next_seq: 0,
            capacity,
        }
    }

    fn get<Q>(&mut self, key: &Q, now: Instant) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (value, expires, _) = self.entries.get(key)?;
        if *expires > now {
            return Some(value.clone());
        }
        self.remove(key);
        None
    }

    fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (value, expires, seq) = self.entries.remove(key)?;
        self.by_expiry.remove(&(expires, seq));
        Some(value)
    }

    fn insert(&mut self, key: K, value: V, expires: Instant) {
        if self.capacity == 0 {
            return;
        }
        self.remove(&key);
        while self.entries.len() >= self.capacity {
            let Some((_, oldest)) = self.by_expiry.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.by_expiry.insert((expires, seq), key.clone());
        self.entries.insert(key, (value, expires, seq));
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

struct DynamicMaps {
    txt: TtlMap<Box<str>, Txt>,
    mx: TtlMap<Box<str>, RecordSet<MX>>,
    ipv4: TtlMap<Box<str>, RecordSet<Ipv4Addr>>,
    ipv6: TtlMap<Box<str>, RecordSet<Ipv6Addr>>,
    ptr: TtlMap<IpAddr, RecordSet<Box<str>>>,
}

/// The record cache handed to mail-auth for every lookup: seeded records first, then what live
/// lookups stored. Shared by all concurrent verifications of one [`crate::SenderAuth`].
pub(crate) struct DnsCache {
    seeded: Option<SeededZone>,
    dynamic: Mutex<DynamicMaps>,
}

impl DnsCache {
    pub(crate) fn new(capacity: usize, seeded: Option<&DnsRecords>) -> Self {
        DnsCache {
            seeded: seeded.map(SeededZone::new),
            dynamic: Mutex::new(DynamicMaps {
                txt: TtlMap::new(capacity),
                mx: TtlMap::new(capacity),
                ipv4: TtlMap::new(capacity),
                ipv6: TtlMap::new(capacity),
                ptr: TtlMap::new(capacity),
            }),
        }
    }

    fn maps(&self) -> MutexGuard<'_, DynamicMaps> {
        // A panic while holding the lock cannot leave the maps inconsistent in a way that matters
        // for a cache: keep serving.
        self.dynamic
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Number of records stored from live lookups (seeded records not included).
    pub(crate) fn len(&self) -> usize {
        let maps = self.maps();
        maps.txt.len() + maps.mx.len() + maps.ipv4.len() + maps.ipv6.len() + maps.ptr.len()
    }
}

/// Answer for a TXT name nobody seeded, when the cache is the only source.
fn nxdomain() -> Txt {
    Txt::Error(mail_auth::Error::Dns(DnsError::RecordNotFound(
        ResponseCode::NXDomain,
    )))
}

impl ResolverCache<Box<str>, Txt> for DnsCache {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(zone) = &self.seeded {
            return Some(zone.txt.get(name).cloned().unwrap_or_else(nxdomain));
        }
        self.maps().txt.get(name, Instant::now())
    }

    fn remove<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.maps().txt.remove(name)
    }

    fn insert(&self, key: Box<str>, value: Txt, valid_until: Instant) {
        self.maps().txt.insert(key, value, valid_until);
    }
}

/// The same cache logic for the record types mail-auth keeps as [`RecordSet`]s.
macro_rules! record_set_cache {
    ($key:ty, $value:ty, $field:ident) => {
        impl ResolverCache<$key, RecordSet<$value>> for DnsCache {
            fn get<Q>(&self, name: &Q) -> Option<RecordSet<$value>>
            where
                $key: Borrow<Q>,
                Q: Hash + Eq + ?Sized,
            {
                if let Some(hit) = self.seeded.as_ref().and_then(|z| z.$field.get(name)) {
                    return Some(hit.clone());
                }
                self.maps().$field.get(name, Instant::now())
            }

            fn remove<Q>(&self, name: &Q) -> Option<RecordSet<$value>>
            where
                $key: Borrow<Q>,
                Q: Hash + Eq + ?Sized,
            {
                self.maps().$field.remove(name)
            }

            fn insert(&self, key: $key, value: RecordSet<$value>, valid_until: Instant) {
                self.maps().$field.insert(key, value, valid_until);
            }
        }
    };
}

record_set_cache!(Box<str>, MX, mx);
record_set_cache!(Box<str>, Ipv4Addr, ipv4);
record_set_cache!(Box<str>, Ipv6Addr, ipv6);
record_set_cache!(IpAddr, Box<str>, ptr);

/// Builds the hickory resolver: the configured nameservers, or the system configuration when the
/// list is empty; `None` for a resolver with no nameservers at all (seeded, offline use).
pub(crate) fn build_authenticator(
    config: &AuthConfig,
    nameservers: Option<&[SocketAddr]>,
) -> Result<MessageAuthenticator, AuthError> {
    let (resolver_config, mut opts) = match nameservers {
        None => (
            ResolverConfig::from_name_servers(Vec::new()),
            ResolverOpts::default(),
        ),
        Some([]) => read_system_conf().map_err(|e| AuthError::SystemResolver(e.to_string()))?,
        Some(servers) => (
            ResolverConfig::from_name_servers(servers.iter().map(nameserver).collect()),
            ResolverOpts::default(),
        ),
    };
    opts.timeout = config.dns_timeout.max(Duration::from_millis(1));
    opts.attempts = config.dns_attempts.max(1);
    // hickory's response cache keeps the negative answers (NXDOMAIN, NODATA) mail-auth does not.
    opts.cache_size = u64::try_from(config.cache_entries).unwrap_or(u64::MAX);
    MessageAuthenticator::new(resolver_config, opts).map_err(|e| AuthError::Resolver(e.to_string()))
}

fn nameserver(addr: &SocketAddr) -> NameServerConfig {
    let mut udp = ConnectionConfig::udp();
    udp.port = addr.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = addr.port();
    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    #[test]
    fn evicts_the_entry_closest_to_expiry_when_full() {
        let mut map: TtlMap<Box<str>, u32> = TtlMap::new(2);
        let now = Instant::now();
        map.insert("soon".into(), 1, now + Duration::from_secs(10));
        map.insert("late".into(), 2, now + Duration::from_secs(100));
        map.insert("new".into(), 3, now + Duration::from_secs(50));
        assert_eq!(map.len(), 2);
        assert_eq!(map.get("soon", now), None);
        assert_eq!(map.get("late", now), Some(2));
        assert_eq!(map.get("new", now), Some(3));
    }

    #[test]
    fn forgets_an_entry_once_its_ttl_has_passed() {
        let mut map: TtlMap<Box<str>, u32> = TtlMap::new(8);
        let now = Instant::now();
        map.insert("a".into(), 1, now + Duration::from_secs(5));
        assert_eq!(map.get("a", now), Some(1));
        assert_eq!(map.get("a", now + Duration::from_secs(6)), None);
        assert_eq!(map.len(), 0);
    }

    #[test]
    fn replacing_a_key_keeps_one_entry() {
        let mut map: TtlMap<Box<str>, u32> = TtlMap::new(8);
        map.insert("a".into(), 1, far());
        map.insert("a".into(), 2, far());
        assert_eq!(map.len(), 1);
        assert_eq!(map.by_expiry.len(), 1);
        assert_eq!(map.get("a", Instant::now()), Some(2));
    }

    #[test]
    fn a_zero_sized_cache_stores_nothing() {
        let cache = DnsCache::new(0, None);
        ResolverCache::<Box<str>, Txt>::insert(&cache, "x.".into(), nxdomain(), far());
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn seeded_txt_names_are_parsed_by_what_the_name_holds() {
        let records = DnsRecords::new()
            .txt("Example.COM", "v=spf1 -all")
            .txt("_dmarc.example.com.", "v=DMARC1; p=reject")
            .txt(
                "sel._domainkey.example.com",
                "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
            );
        let cache = DnsCache::new(16, Some(&records));
        let get = |name: &str| ResolverCache::<Box<str>, Txt>::get(&cache, name);
        assert!(matches!(get("example.com."), Some(Txt::Spf(_))));
        assert!(matches!(get("_dmarc.example.com."), Some(Txt::Dmarc(_))));
        assert!(matches!(
            get("sel._domainkey.example.com."),
            Some(Txt::DomainKey(_))
        ));
        assert!(matches!(
            get("unknown.example."),
            Some(Txt::Error(mail_auth::Error::Dns(DnsError::RecordNotFound(
                _
            ))))
        ));
    }

    #[test]
    fn the_first_seeded_txt_record_that_parses_is_the_answer() {
        let records = DnsRecords::new()
            .txt("_dmarc.example.com", "google-site-verification=abc")
            .txt("_dmarc.example.com", "v=DMARC1; p=quarantine");
        let cache = DnsCache::new(16, Some(&records));
        assert!(matches!(
            ResolverCache::<Box<str>, Txt>::get(&cache, "_dmarc.example.com."),
            Some(Txt::Dmarc(_))
        ));
    }

    #[test]
    fn seeded_mx_records_group_by_preference() {
        let records = DnsRecords::new()
            .mx("example.com", 20, "b.example.com")
            .mx("example.com", 10, "a.example.com")
            .mx("example.com", 20, "c.example.com");
        let cache = DnsCache::new(16, Some(&records));
        let set: RecordSet<MX> = ResolverCache::get(&cache, "example.com.").unwrap();
        assert_eq!(set.rrset.len(), 2);
        assert_eq!(set.rrset[0].preference, 10);
        assert_eq!(set.rrset[1].exchanges.len(), 2);
    }
}
