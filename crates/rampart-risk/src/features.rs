//! Turning one login into hashed feature keys. A key carries its feature kind in the top six bits
//! and, for hierarchical features, the hash of its parent value (an IP key is "this IP under this
//! /24 under this ASN"), so counts of a key over counts of its parent give a conditional frequency.

use std::net::IpAddr;

use ipnet::IpNet;
use rampart_model::Protocol;

use crate::ua::{parse_user_agent, split_name_version};
use crate::util::{combine, hash_ip, hash_net, hash_str, hour_of_week, subnet_of};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum Kind {
    Country = 1,
    Region = 2,
    City = 3,
    Asn = 4,
    Subnet = 5,
    Ip = 6,
    DeviceType = 7,
    OsFamily = 8,
    Os = 9,
    Browser = 10,
    BrowserVersion = 11,
    Ua = 12,
    HourOfWeek = 13,
    Rtt = 14,
    Device = 15,
    Protocol = 16,
    Enrolled = 17,
}

pub(crate) const KIND_COUNT: usize = 18;
const KEY_MASK: u64 = (1 << 58) - 1;

impl Kind {
    pub(crate) fn from_u8(k: u8) -> Option<Kind> {
        use Kind::*;
        Some(match k {
            1 => Country,
            2 => Region,
            3 => City,
            4 => Asn,
            5 => Subnet,
            6 => Ip,
            7 => DeviceType,
            8 => OsFamily,
            9 => Os,
            10 => Browser,
            11 => BrowserVersion,
            12 => Ua,
            13 => HourOfWeek,
            14 => Rtt,
            15 => Device,
            16 => Protocol,
            17 => Enrolled,
            _ => return None,
        })
    }

    /// Rough share of attacker logins any one value gets in the wide world, given its parent
    /// (1 / how many values there are). Smooths the population toward the world, so a small
    /// organisation whose users all share one ISP does not make that ISP look "common for
    /// attackers".
    pub(crate) fn world_share(self) -> f64 {
        match self {
            Kind::Country => 1.0 / 50.0,
            Kind::Region => 1.0 / 20.0,
            Kind::City => 1.0 / 20.0,
            Kind::Asn => 1.0 / 5_000.0,
            Kind::Subnet => 1.0 / 500.0,
            Kind::Ip => 1.0 / 250.0,
            Kind::DeviceType => 1.0 / 3.0,
            Kind::OsFamily => 1.0 / 6.0,
            Kind::Os => 1.0 / 10.0,
            Kind::Browser => 1.0 / 6.0,
            Kind::BrowserVersion => 1.0 / 20.0,
            Kind::Ua => 1.0 / 100.0,
            Kind::Device | Kind::Enrolled => 1e-6,
            Kind::Protocol => 1.0 / 3.0,
            Kind::HourOfWeek => 1.0 / 24.0,
            Kind::Rtt => 1.0 / 64.0,
        }
    }

    /// Most distinct values a profile keeps for this feature (least used, then oldest, go first).
    pub(crate) fn cap(self) -> usize {
        match self {
            Kind::HourOfWeek => 168,
            Kind::Rtt => 64,
            _ => crate::profile::MAX_VALUES_PER_FEATURE,
        }
    }
}

pub(crate) const fn tag(kind: Kind, h: u64) -> u64 {
    ((kind as u64) << 58) | (h & KEY_MASK)
}

pub(crate) const fn kind_bits(key: u64) -> u8 {
    (key >> 58) as u8
}

/// Key of a non-hierarchical value (device id, enrolled device).
pub(crate) fn device_key(kind: Kind, id: &str) -> u64 {
    tag(kind, hash_str(id))
}

pub(crate) fn hour_key(how: u8) -> u64 {
    tag(Kind::HourOfWeek, u64::from(how))
}

pub(crate) fn rtt_key(bucket: u8) -> u64 {
    tag(Kind::Rtt, u64::from(bucket))
}

/// Quarter-octave bucket of a round-trip time.
pub(crate) fn rtt_bucket(rtt_ms: f64) -> Option<u8> {
    (rtt_ms.is_finite() && rtt_ms > 0.0)
        .then(|| (4.0 * rtt_ms.max(1.0).log2()).round().clamp(0.0, 63.0) as u8)
}

/// The raw facts of one attempt, borrowed from a [`crate::LoginAttempt`] or a log record.
pub(crate) struct Parts<'a> {
    pub account: &'a str,
    pub ip: IpAddr,
    pub country: Option<&'a str>,
    pub region: Option<&'a str>,
    pub city: Option<&'a str>,
    pub asn: Option<u32>,
    pub user_agent: Option<&'a str>,
    /// Already-parsed `Name Version` columns of a log (preferred over parsing the UA).
    pub browser: Option<&'a str>,
    pub os: Option<&'a str>,
    pub device_type: Option<&'a str>,
    pub device_id: Option<&'a str>,
    pub protocol: Protocol,
    pub at_ms: i64,
    pub rtt_ms: Option<f64>,
    pub location: Option<(f64, f64)>,
    pub credential_ok: bool,
}

/// One attempt as hashed features.
#[derive(Debug, Clone)]
pub(crate) struct Observation {
    pub at_ms: i64,
    pub account: u64,
    pub ip: IpAddr,
    pub ip_hash: u64,
    pub subnet: IpNet,
    pub subnet_hash: u64,
    /// country → region → city
    pub geo: [Option<u64>; 3],
    /// ASN → /24 (/48) → IP
    pub net: [Option<u64>; 3],
    /// device type → OS family → OS version → browser → browser major → full UA string
    pub ua: [Option<u64>; 6],
    pub device: Option<u64>,
    pub protocol: u64,
    pub hour_of_week: u8,
    pub rtt_bucket: Option<u8>,
    pub location: Option<(f64, f64)>,
    pub credential_ok: bool,
}

fn chain<const N: usize>(levels: [(Kind, Option<u64>); N]) -> [Option<u64>; N] {
    let mut out = [None; N];
    let mut parent = 0u64;
    for (i, (kind, value)) in levels.into_iter().enumerate() {
        if let Some(h) = value {
            let key = tag(kind, combine(h, parent));
            out[i] = Some(key);
            parent = key;
        }
    }
    out
}

fn known(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty() && *s != "-")
}

impl Observation {
    pub(crate) fn from_parts(p: &Parts<'_>) -> Observation {
        let subnet = subnet_of(p.ip);
        let ip_hash = hash_ip(p.ip);
        let subnet_hash = hash_net(subnet);
        let geo = chain([
            (Kind::Country, known(p.country).map(hash_str)),
            (Kind::Region, known(p.region).map(hash_str)),
            (Kind::City, known(p.city).map(hash_str)),
        ]);
        let net = chain([
            (Kind::Asn, p.asn.map(|a| u64::from(a) ^ 0xa5a5)),
            (Kind::Subnet, Some(subnet_hash)),
            (Kind::Ip, Some(ip_hash)),
        ]);
        let ua_text = known(p.user_agent);
        let (browser, browser_major, os_family, os_full, device_type);
        let parsed;
        if known(p.browser).is_some() || known(p.os).is_some() || known(p.device_type).is_some() {
            let (b, bv) = known(p.browser)
                .map(split_name_version)
                .unwrap_or(("", None));
            let (o, _) = known(p.os).map(split_name_version).unwrap_or(("", None));
            browser = known(Some(b)).map(hash_str);
            browser_major = bv.and_then(|v| v.split('.').next()).map(hash_str);
            os_family = known(Some(o)).map(hash_str);
            os_full = known(p.os).map(hash_str);
            device_type = known(p.device_type).map(hash_str);
        } else if let Some(ua) = ua_text {
            parsed = parse_user_agent(ua);
            browser = Some(hash_str(&parsed.browser));
            browser_major = parsed.browser_major.map(|m| hash_str(&m.to_string()));
            os_family = Some(hash_str(parsed.os));
            os_full = Some(combine(
                hash_str(parsed.os),
                parsed.os_version.as_deref().map(hash_str).unwrap_or(0),
            ));
            device_type = Some(hash_str(parsed.device.as_str()));
        } else {
            browser = None;
            browser_major = None;
            os_family = None;
            os_full = None;
            device_type = None;
        }
        let ua = chain([
            (Kind::DeviceType, device_type),
            (Kind::OsFamily, os_family),
            (Kind::Os, os_full),
            (Kind::Browser, browser),
            (Kind::BrowserVersion, browser_major),
            (Kind::Ua, ua_text.map(hash_str)),
        ]);
        Observation {
            at_ms: p.at_ms,
            account: hash_str(p.account),
            ip: p.ip,
            ip_hash,
            subnet,
            subnet_hash,
            geo,
            net,
            ua,
            device: known(p.device_id).map(|d| device_key(Kind::Device, d)),
            protocol: tag(Kind::Protocol, p.protocol as u64 + 1),
            hour_of_week: hour_of_week(p.at_ms),
            rtt_bucket: p.rtt_ms.and_then(rtt_bucket),
            location: p.location,
            credential_ok: p.credential_ok,
        }
    }

    /// The hierarchical features, coarse to fine.
    pub(crate) fn chains(&self) -> [&[Option<u64>]; 3] {
        [&self.geo, &self.net, &self.ua]
    }

    /// Features outside the hierarchies.
    pub(crate) fn flat_keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.device
            .into_iter()
            .chain(std::iter::once(self.protocol))
            .chain(std::iter::once(hour_key(self.hour_of_week)))
            .chain(self.rtt_bucket.map(rtt_key))
    }

    /// Every key this observation adds to a profile when learned.
    pub(crate) fn learn_keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.chains()
            .into_iter()
            .flat_map(|c| c.iter().flatten().copied())
            .chain(self.flat_keys())
    }
}
