//! A synthetic login log generator, for measuring the engine where real labelled logs are
//! scarce. Deterministic from a seed; written in the RBA dataset layout by [`write_csv`].
//!
//! # The model
//!
//! **World.** Real cities with coordinates in ten home/travel countries and nine countries
//! attacks often come from. Each country has broadband ISPs, mobile carriers and hosting
//! providers (each its own ASN); each serves cities through blocks of /24 networks. Mobile
//! carriers use a few carrier-grade-NAT pools per region, so a phone's address changes with
//! nearly every login while its /24s repeat. [`geo_db`] returns the world as a [`GeoDb`]
//! (coordinates included, for impossible-travel checks).
//!
//! **Legitimate users.** Most live in one main country (like the Norwegian service of the RBA
//! data set). Each has a home city and broadband ISP with a dynamic address (a new lease every
//! 1–12 weeks, usually from the four /24s of the same access router's pool, sometimes from another
//! router's), a mobile carrier, maybe a workplace with a
//! fixed address (weekday office hours), and 1–3 devices (desktop, phone, tablet) whose OS and
//! browser follow market shares; browsers update on a six-week cycle with a per-device lag, so a
//! device's user-agent string changes over time like real ones do. Login counts per day vary per
//! user (log-normal rate, fewer on weekends for workers), at personal peak hours in local time.
//! About a third of users travel (hotel networks or roaming through the home carrier), a few
//! use a commercial VPN. Round-trip times follow access type and distance to the server (Oslo).
//! Typos cause a failure seconds before a success; now and then someone forgets a password.
//!
//! **Attackers** (Wiefling et al., "Is This Really You?", 2019): a share of accounts is taken
//! over at a random time. *Naive* attackers come from random countries and ISPs (often hosting)
//! with user agents of random other users or, sometimes, outdated or scripted ones. *VPN*
//! attackers use an exit in the victim's country and a common user agent (another random
//! user's). *Targeted* attackers know the victim's country, region and ISP: an address from
//! that ISP in that region (a residential proxy, or a local attacker) and a user agent another
//! user of the victim's OS family currently has. Attackers log in at their own hours, sometimes
//! fail first (stale passwords), and may come back with the same set-up. Password-spray
//! campaigns try many accounts from one hosting address. Attackers never use a user-agent string
//! no real user has, except naive ones; labels do not leak into features.
//!
//! `Is Attack IP` marks addresses a threat feed would list: most spray sources, many naive and
//! some VPN attacker addresses, few targeted ones, and a few legitimate VPN exits and CGNAT
//! addresses (feeds have false positives).

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};

use crate::eval::{format_timestamp, AttackerKind, LoginRecord, RBA_HEADER};
use crate::geo::{Geo, GeoDb};
use crate::util::{days_from_civil, haversine_km, mix64};
use crate::RiskError;

/// Parameters of [`generate`].
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    pub users: usize,
    pub days: u32,
    pub seed: u64,
    /// Start of the log (ms since the epoch).
    pub start_ms: i64,
    /// Median legitimate logins per user per day.
    pub logins_per_day: f64,
    /// Share of accounts taken over at some point.
    pub attacked_share: f64,
    /// Relative shares of naive, VPN and targeted attackers.
    pub attacker_mix: [f64; 3],
    /// Password-spray campaigns over the whole period.
    pub spray_campaigns: usize,
    /// Share of legitimate logins preceded by a typo.
    pub typo_rate: f64,
    /// Whether rows carry a round-trip time (the RBA data mostly does not).
    pub with_rtt: bool,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            users: 2000,
            days: 120,
            seed: 1,
            start_ms: days_from_civil(2020, 2, 3) * 86_400_000,
            logins_per_day: 1.0,
            attacked_share: 0.15,
            attacker_mix: [1.0, 1.0, 1.0],
            spray_campaigns: 12,
            typo_rate: 0.03,
            with_rtt: true,
        }
    }
}

/// Small, seeded, non-cryptographic PRNG (splitmix64).
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(mix64(seed ^ 0x5eed_1e55_0000_0001))
    }
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }
    pub(crate) fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }
    fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }
    fn normal(&mut self) -> f64 {
        let u1 = self.f64().max(1e-12);
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    fn poisson(&mut self, lambda: f64) -> u32 {
        if lambda > 30.0 {
            return (lambda + lambda.sqrt() * self.normal()).round().max(0.0) as u32;
        }
        let l = (-lambda).exp();
        let mut k = 0;
        let mut p = 1.0;
        loop {
            p *= self.f64();
            if p <= l {
                return k;
            }
            k += 1;
        }
    }
    fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.f64() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len().saturating_sub(1)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// (name, latitude, longitude, relative population)
type CitySpec = (&'static str, f64, f64, f64);

struct CountrySpec {
    code: &'static str,
    utc_offset: i64,
    /// Weight as a home country, as a travel destination, as an attack source.
    home: f64,
    travel: f64,
    attack: f64,
    regions: &'static [(&'static str, &'static [CitySpec])],
}

const COUNTRIES: &[CountrySpec] = &[
    CountrySpec {
        code: "NO",
        utc_offset: 1,
        home: 80.0,
        travel: 2.0,
        attack: 0.0,
        regions: &[
            ("Oslo County", &[("Oslo", 59.91, 10.75, 7.0)]),
            (
                "Vestland",
                &[("Bergen", 60.39, 5.32, 3.0), ("Voss", 60.63, 6.42, 0.3)],
            ),
            (
                "Trondelag",
                &[
                    ("Trondheim", 63.43, 10.39, 2.0),
                    ("Steinkjer", 64.01, 11.49, 0.3),
                ],
            ),
            (
                "Rogaland",
                &[
                    ("Stavanger", 58.97, 5.73, 1.5),
                    ("Sandnes", 58.85, 5.74, 0.8),
                    ("Haugesund", 59.41, 5.27, 0.5),
                ],
            ),
            (
                "Troms og Finnmark",
                &[
                    ("Tromso", 69.65, 18.96, 0.8),
                    ("Bjornevatn", 69.67, 29.98, 0.1),
                ],
            ),
            ("Agder", &[("Kristiansand", 58.15, 8.0, 1.0)]),
            (
                "Viken",
                &[
                    ("Drammen", 59.74, 10.2, 1.0),
                    ("Fredrikstad", 59.22, 10.93, 0.8),
                    ("Gressvik", 59.22, 10.9, 0.2),
                ],
            ),
        ],
    },
    CountrySpec {
        code: "SE",
        utc_offset: 1,
        home: 4.0,
        travel: 3.0,
        attack: 0.0,
        regions: &[
            ("Stockholm", &[("Stockholm", 59.33, 18.07, 3.0)]),
            ("Vastra Gotaland", &[("Gothenburg", 57.71, 11.97, 1.5)]),
            ("Skane", &[("Malmo", 55.6, 13.0, 1.0)]),
        ],
    },
    CountrySpec {
        code: "DK",
        utc_offset: 1,
        home: 3.0,
        travel: 2.0,
        attack: 0.0,
        regions: &[
            ("Capital Region", &[("Copenhagen", 55.68, 12.57, 3.0)]),
            ("Central Jutland", &[("Aarhus", 56.16, 10.2, 1.0)]),
        ],
    },
    CountrySpec {
        code: "DE",
        utc_offset: 1,
        home: 3.0,
        travel: 3.0,
        attack: 2.0,
        regions: &[
            ("Berlin", &[("Berlin", 52.52, 13.4, 3.0)]),
            ("Bavaria", &[("Munich", 48.14, 11.58, 2.0)]),
            ("Hesse", &[("Frankfurt am Main", 50.11, 8.68, 1.5)]),
        ],
    },
    CountrySpec {
        code: "GB",
        utc_offset: 0,
        home: 3.0,
        travel: 3.0,
        attack: 1.0,
        regions: &[
            (
                "England",
                &[
                    ("London", 51.5, -0.13, 5.0),
                    ("Manchester", 53.48, -2.24, 1.5),
                ],
            ),
            ("Scotland", &[("Edinburgh", 55.95, -3.19, 1.0)]),
        ],
    },
    CountrySpec {
        code: "US",
        utc_offset: -5,
        home: 3.0,
        travel: 2.0,
        attack: 6.0,
        regions: &[
            ("Virginia", &[("Ashburn", 39.04, -77.49, 1.0)]),
            ("New York", &[("New York", 40.71, -74.0, 4.0)]),
            (
                "California",
                &[
                    ("Los Angeles", 34.05, -118.24, 3.0),
                    ("San Jose", 37.34, -121.89, 1.0),
                ],
            ),
            ("Texas", &[("Dallas", 32.78, -96.8, 2.0)]),
        ],
    },
    CountrySpec {
        code: "PL",
        utc_offset: 1,
        home: 2.0,
        travel: 1.0,
        attack: 1.0,
        regions: &[
            ("Mazovia", &[("Warsaw", 52.23, 21.01, 2.0)]),
            ("Lesser Poland", &[("Krakow", 50.06, 19.94, 1.0)]),
        ],
    },
    CountrySpec {
        code: "ES",
        utc_offset: 1,
        home: 1.0,
        travel: 5.0,
        attack: 0.5,
        regions: &[
            ("Madrid", &[("Madrid", 40.42, -3.7, 2.0)]),
            ("Canary Islands", &[("Las Palmas", 28.12, -15.44, 1.0)]),
            ("Andalusia", &[("Malaga", 36.72, -4.42, 1.0)]),
        ],
    },
    CountrySpec {
        code: "FR",
        utc_offset: 1,
        home: 1.0,
        travel: 2.0,
        attack: 1.0,
        regions: &[
            ("Ile-de-France", &[("Paris", 48.86, 2.35, 3.0)]),
            ("Provence-Alpes-Cote d'Azur", &[("Nice", 43.7, 7.27, 1.0)]),
        ],
    },
    CountrySpec {
        code: "NL",
        utc_offset: 1,
        home: 0.5,
        travel: 1.0,
        attack: 3.0,
        regions: &[("North Holland", &[("Amsterdam", 52.37, 4.9, 2.0)])],
    },
    CountrySpec {
        code: "CN",
        utc_offset: 8,
        home: 0.0,
        travel: 0.0,
        attack: 5.0,
        regions: &[
            ("Beijing", &[("Beijing", 39.9, 116.4, 2.0)]),
            ("Guangdong", &[("Shenzhen", 22.54, 114.06, 2.0)]),
        ],
    },
    CountrySpec {
        code: "RU",
        utc_offset: 3,
        home: 0.0,
        travel: 0.0,
        attack: 4.0,
        regions: &[("Moscow", &[("Moscow", 55.76, 37.62, 2.0)])],
    },
    CountrySpec {
        code: "BR",
        utc_offset: -3,
        home: 0.0,
        travel: 0.0,
        attack: 3.0,
        regions: &[("Sao Paulo", &[("Sao Paulo", -23.55, -46.63, 2.0)])],
    },
    CountrySpec {
        code: "IN",
        utc_offset: 5,
        home: 0.0,
        travel: 0.0,
        attack: 3.0,
        regions: &[("Maharashtra", &[("Mumbai", 19.08, 72.88, 2.0)])],
    },
    CountrySpec {
        code: "VN",
        utc_offset: 7,
        home: 0.0,
        travel: 0.0,
        attack: 2.0,
        regions: &[("Ho Chi Minh", &[("Ho Chi Minh City", 10.82, 106.63, 2.0)])],
    },
    CountrySpec {
        code: "NG",
        utc_offset: 1,
        home: 0.0,
        travel: 0.0,
        attack: 2.0,
        regions: &[("Lagos", &[("Lagos", 6.52, 3.38, 2.0)])],
    },
    CountrySpec {
        code: "ID",
        utc_offset: 7,
        home: 0.0,
        travel: 0.0,
        attack: 2.0,
        regions: &[("East Java", &[("Surabaya", -7.25, 112.75, 2.0)])],
    },
    CountrySpec {
        code: "UA",
        utc_offset: 2,
        home: 0.0,
        travel: 0.0,
        attack: 2.0,
        regions: &[("Kyiv", &[("Kyiv", 50.45, 30.52, 2.0)])],
    },
    CountrySpec {
        code: "TR",
        utc_offset: 3,
        home: 0.0,
        travel: 1.0,
        attack: 1.5,
        regions: &[("Istanbul", &[("Istanbul", 41.01, 28.98, 2.0)])],
    },
];

const SERVER: (f64, f64) = (59.91, 10.75);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IspKind {
    Broadband,
    Mobile,
    Hosting,
}

struct City {
    country: usize,
    region: &'static str,
    name: &'static str,
    loc: (f64, f64),
    pop: f64,
}

struct Isp {
    country: usize,
    asn: u32,
    name: String,
    kind: IspKind,
    weight: f64,
    /// (city index, /24 networks) it serves.
    blocks: Vec<(usize, Vec<u32>)>,
}

struct World {
    cities: Vec<City>,
    isps: Vec<Isp>,
    /// Per network (/24 base) → (isp, city).
    nets: Vec<(u32, usize, usize)>,
}

fn is_reserved(a: u32) -> bool {
    let o = a.to_be_bytes();
    matches!(o[0], 0 | 10 | 127 | 224..=255)
        || (o[0] == 100 && (64..128).contains(&o[1]))
        || (o[0] == 169 && o[1] == 254)
        || (o[0] == 172 && (16..32).contains(&o[1]))
        || (o[0] == 192 && o[1] == 168)
        || (o[0] == 192 && o[1] == 0)
        || (o[0] == 198 && (18..20).contains(&o[1]))
}

impl World {
    fn new(seed: u64) -> World {
        let mut rng = Rng::new(seed ^ 0x0077_0e1d);
        let mut cities = Vec::new();
        for (ci, c) in COUNTRIES.iter().enumerate() {
            for (region, list) in c.regions {
                for (name, lat, lon, pop) in list.iter() {
                    cities.push(City {
                        country: ci,
                        region,
                        name,
                        loc: (*lat, *lon),
                        pop: *pop,
                    });
                }
            }
        }
        let mut next_net: u32 = u32::from(Ipv4Addr::new(31, 0, 0, 0));
        let mut alloc = |rng: &mut Rng, n: usize| -> Vec<u32> {
            let mut v = Vec::with_capacity(n);
            // Leave random gaps so neighbouring ISPs are not adjacent.
            next_net += (rng.below(64) as u32 + 1) << 8;
            while v.len() < n {
                if !is_reserved(next_net) {
                    v.push(next_net);
                }
                next_net = next_net.wrapping_add(256);
            }
            v
        };
        let mut isps = Vec::new();
        let mut used_asns = std::collections::HashSet::new();
        for (ci, c) in COUNTRIES.iter().enumerate() {
            let city_ids: Vec<usize> = (0..cities.len())
                .filter(|&i| cities[i].country == ci)
                .collect();
            let plan = [
                (IspKind::Broadband, 4, "Broadband"),
                (IspKind::Mobile, 3, "Mobile"),
                (
                    IspKind::Hosting,
                    if c.attack > 0.0 || c.home > 1.0 { 2 } else { 1 },
                    "Hosting",
                ),
            ];
            for (kind, count, label) in plan {
                for i in 0..count {
                    let mut asn = 2000 + rng.below(398_000) as u32;
                    while !used_asns.insert(asn) {
                        asn += 1;
                    }
                    let served: Vec<usize> = match kind {
                        IspKind::Hosting => vec![*rng.pick(&city_ids)],
                        _ => city_ids.clone(),
                    };
                    let per_city = match kind {
                        IspKind::Broadband => 128,
                        IspKind::Mobile => 4,
                        IspKind::Hosting => 16,
                    };
                    let blocks = served
                        .into_iter()
                        .map(|city| {
                            let scale = if kind == IspKind::Broadband {
                                (cities[city].pop.sqrt() * 1.0).ceil() as usize
                            } else {
                                1
                            };
                            (city, alloc(&mut rng, per_city * scale))
                        })
                        .collect();
                    isps.push(Isp {
                        country: ci,
                        asn,
                        name: format!("{} {label} {}", c.code, i + 1),
                        kind,
                        // Market shares: the first ISP of a kind is the biggest.
                        weight: 1.0 / (i as f64 + 1.0),
                        blocks,
                    });
                }
            }
        }
        let mut nets = Vec::new();
        for (ii, isp) in isps.iter().enumerate() {
            for (city, list) in &isp.blocks {
                for n in list {
                    nets.push((*n, ii, *city));
                }
            }
        }
        World { cities, isps, nets }
    }

    fn isps_of(&self, country: usize, kind: IspKind) -> Vec<usize> {
        (0..self.isps.len())
            .filter(|&i| self.isps[i].country == country && self.isps[i].kind == kind)
            .collect()
    }

    fn pick_isp(&self, rng: &mut Rng, country: usize, kind: IspKind) -> usize {
        let list = self.isps_of(country, kind);
        let w: Vec<f64> = list.iter().map(|&i| self.isps[i].weight).collect();
        list[rng.weighted(&w)]
    }

    fn cities_of(&self, country: usize) -> Vec<usize> {
        (0..self.cities.len())
            .filter(|&i| self.cities[i].country == country)
            .collect()
    }

    fn pick_city(&self, rng: &mut Rng, country: usize) -> usize {
        let list = self.cities_of(country);
        let w: Vec<f64> = list.iter().map(|&i| self.cities[i].pop).collect();
        list[rng.weighted(&w)]
    }

    /// A random address of `isp` in (or nearest to) `city`; returns (address, city it is in).
    fn address(&self, rng: &mut Rng, isp: usize, city: usize) -> (Ipv4Addr, usize) {
        let blocks = &self.isps[isp].blocks;
        let (c, nets) = blocks
            .iter()
            .find(|(c, _)| *c == city)
            .unwrap_or_else(|| rng.pick(blocks));
        let net = *rng.pick(nets);
        (Ipv4Addr::from(net + 1 + rng.below(253) as u32), *c)
    }

    /// Four consecutive /24s of `isp` in `city`: one access router's address pool.
    fn pool(&self, rng: &mut Rng, isp: usize, city: usize) -> [u32; 4] {
        let blocks = &self.isps[isp].blocks;
        let (_, nets) = blocks
            .iter()
            .find(|(c, _)| *c == city)
            .unwrap_or_else(|| rng.pick(blocks));
        let start = rng.below(nets.len().saturating_sub(3).max(1));
        let at = |i: usize| nets[(start + i).min(nets.len() - 1)];
        [at(0), at(1), at(2), at(3)]
    }

    fn geo_of(&self, isp: usize, city: usize) -> Geo {
        let c = &self.cities[city];
        Geo {
            country: Some(COUNTRIES[c.country].code.to_string()),
            region: Some(c.region.to_string()),
            city: Some(c.name.to_string()),
            asn: Some(self.isps[isp].asn),
            asn_name: Some(self.isps[isp].name.clone()),
            location: Some(c.loc),
        }
    }
}

/// The synthetic world as a geo database (same seed as the log).
pub fn geo_db(cfg: &SynthConfig) -> GeoDb {
    let world = World::new(cfg.seed);
    GeoDb::from_networks(world.nets.iter().map(|&(net, isp, city)| {
        let n = IpNet::V4(Ipv4Net::new(Ipv4Addr::from(net), 24).expect("/24 is a valid prefix"));
        (n, world.geo_of(isp, city))
    }))
}

// ---- user agents ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Os {
    Windows,
    Mac,
    Linux,
    Chromebook,
    Android,
    Ios,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Browser {
    Chrome,
    Firefox,
    Edge,
    Safari,
    Samsung,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Desktop,
    Phone,
    Tablet,
}

#[derive(Debug, Clone)]
struct Device {
    form: Form,
    os: Os,
    browser: Browser,
    /// Android model, Windows/Mac version, iOS base version.
    model: usize,
    os_version: u32,
    /// Days this device lags behind browser releases.
    lag: i64,
    weight: f64,
}

const ANDROID_MODELS: [&str; 16] = [
    "SM-G991B",
    "SM-A515F",
    "SM-G973F",
    "SM-A525F",
    "Pixel 5",
    "Pixel 4a",
    "Pixel 6",
    "SM-G998B",
    "moto g(8) power",
    "Redmi Note 8 Pro",
    "M2101K9AG",
    "ONEPLUS A6013",
    "CPH2219",
    "SM-T505",
    "SM-A205U",
    "Nokia 7.2",
];
const MAC_VERSIONS: [&str; 4] = ["10_14_6", "10_15_7", "10_15_6", "11_2_3"];

/// Versions released by `day` (days since the log start), per browser cycle.
fn chrome_major(day: i64) -> u32 {
    80 + (day.max(0) / 42) as u32
}
fn firefox_major(day: i64) -> u32 {
    72 + (day.max(0) / 28) as u32
}
fn ios_version(base: u32, day: i64) -> (u32, u32) {
    // A minor update every ~5 weeks.
    (base, (day.max(0) / 35) as u32 % 6)
}

impl Device {
    fn user_agent(&self, day: i64) -> (String, String, String, &'static str) {
        let d = day - self.lag;
        let cm = chrome_major(d);
        // Patch builds within a major: a new one every ~10 days.
        let patch = 60 + ((d.max(0) % 42) / 10) as u32 * 27;
        let build = 3900 + (cm - 80) * 71;
        let chrome = format!("{cm}.0.{build}.{patch}");
        let fm = firefox_major(d);
        let device_type = match self.form {
            Form::Desktop => "desktop",
            Form::Phone => "mobile",
            Form::Tablet => "tablet",
        };
        match (self.os, self.browser) {
            (Os::Ios, _) => {
                let (maj, min) = ios_version(self.os_version, d);
                let dev = if self.form == Form::Tablet {
                    "iPad; CPU OS"
                } else {
                    "iPhone; CPU iPhone OS"
                };
                let ua = format!(
                    "Mozilla/5.0 ({dev} {maj}_{min} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{maj}.0 Mobile/15E148 Safari/604.1"
                );
                (
                    ua,
                    format!("Mobile Safari {maj}.0"),
                    format!("iOS {maj}.{min}"),
                    device_type,
                )
            }
            (Os::Android, b) => {
                let model = ANDROID_MODELS[self.model % ANDROID_MODELS.len()];
                let v = self.os_version;
                let mobile = if self.form == Form::Tablet {
                    ""
                } else {
                    "Mobile "
                };
                if b == Browser::Samsung {
                    let sv = 11 + (d.max(0) / 90) as u32;
                    let ua = format!(
                        "Mozilla/5.0 (Linux; Android {v}; {model}) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/{sv}.0 Chrome/{chrome} {mobile}Safari/537.36"
                    );
                    (
                        ua,
                        format!("Samsung Internet {sv}.0"),
                        format!("Android {v}"),
                        device_type,
                    )
                } else {
                    let ua = format!(
                        "Mozilla/5.0 (Linux; Android {v}; {model}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome} {mobile}Safari/537.36"
                    );
                    (
                        ua,
                        format!("Chrome Mobile {cm}.0.{build}"),
                        format!("Android {v}"),
                        device_type,
                    )
                }
            }
            (os, b) => {
                let (platform, os_name) = match os {
                    Os::Windows if self.os_version == 7 => (
                        "Windows NT 6.1; Win64; x64".to_string(),
                        "Windows 7".to_string(),
                    ),
                    Os::Windows => (
                        "Windows NT 10.0; Win64; x64".to_string(),
                        "Windows 10".to_string(),
                    ),
                    Os::Mac => {
                        let v = MAC_VERSIONS[self.model % MAC_VERSIONS.len()];
                        (
                            format!("Macintosh; Intel Mac OS X {v}"),
                            format!("Mac OS X {}", v.replace('_', ".")),
                        )
                    }
                    Os::Linux => ("X11; Linux x86_64".to_string(), "Linux".to_string()),
                    _ => (
                        "X11; CrOS x86_64 13505.63.0".to_string(),
                        "Chrome OS 13505.63.0".to_string(),
                    ),
                };
                match b {
                    Browser::Firefox => {
                        let gecko = format!("{platform}; rv:{fm}.0");
                        let ua = format!("Mozilla/5.0 ({gecko}) Gecko/20100101 Firefox/{fm}.0");
                        (ua, format!("Firefox {fm}.0"), os_name, device_type)
                    }
                    Browser::Safari => {
                        let sv = 13 + (d.max(0) / 180) as u32;
                        let ua = format!(
                            "Mozilla/5.0 ({platform}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{sv}.1 Safari/605.1.15"
                        );
                        (ua, format!("Safari {sv}.1"), os_name, device_type)
                    }
                    Browser::Edge => {
                        let ua = format!(
                            "Mozilla/5.0 ({platform}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome} Safari/537.36 Edg/{cm}.0.{}.{}",
                            build - 60, patch / 3
                        );
                        (
                            ua,
                            format!("Edge {cm}.0.{}", build - 60),
                            os_name,
                            device_type,
                        )
                    }
                    _ => {
                        let ua = format!(
                            "Mozilla/5.0 ({platform}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome} Safari/537.36"
                        );
                        (ua, format!("Chrome {cm}.0.{build}"), os_name, device_type)
                    }
                }
            }
        }
    }
}

fn random_device(rng: &mut Rng, form: Form) -> Device {
    let (os, browser) = match form {
        Form::Desktop => {
            let os = [Os::Windows, Os::Mac, Os::Linux, Os::Chromebook]
                [rng.weighted(&[70.0, 20.0, 3.0, 7.0])];
            let browser = match os {
                Os::Windows => [Browser::Chrome, Browser::Edge, Browser::Firefox]
                    [rng.weighted(&[65.0, 20.0, 15.0])],
                Os::Mac => [Browser::Safari, Browser::Chrome, Browser::Firefox]
                    [rng.weighted(&[50.0, 40.0, 10.0])],
                Os::Linux => [Browser::Firefox, Browser::Chrome][rng.weighted(&[60.0, 40.0])],
                _ => Browser::Chrome,
            };
            (os, browser)
        }
        Form::Phone | Form::Tablet => {
            let os = [Os::Ios, Os::Android][rng.weighted(&[45.0, 55.0])];
            let browser = if os == Os::Ios {
                Browser::Safari
            } else {
                [Browser::Chrome, Browser::Samsung][rng.weighted(&[75.0, 25.0])]
            };
            (os, browser)
        }
    };
    let os_version = match os {
        Os::Windows => {
            if rng.chance(0.1) {
                7
            } else {
                10
            }
        }
        Os::Ios => [12, 13, 14][rng.weighted(&[15.0, 60.0, 25.0])],
        Os::Android => [8, 9, 10, 11][rng.weighted(&[15.0, 25.0, 40.0, 20.0])],
        _ => 0,
    };
    Device {
        form,
        os,
        browser,
        model: rng.below(64),
        os_version,
        lag: rng.below(25) as i64,
        weight: 1.0,
    }
}

// ---- users ----

struct User {
    id: String,
    country: usize,
    home_city: usize,
    broadband: usize,
    home_ip: Ipv4Addr,
    /// The four /24s of the user's DHCP pool (broadband access router).
    home_pool: [u32; 4],
    lease_days: f64,
    mobile: usize,
    work: Option<(Ipv4Addr, usize, usize)>,
    vpn: Option<usize>,
    devices: Vec<Device>,
    rate: f64,
    peaks: [(f64, f64, f64); 2],
    worker: bool,
    trips: Vec<(i64, i64, usize, usize)>,
}

fn new_user(rng: &mut Rng, world: &World, cfg: &SynthConfig) -> User {
    let home_w: Vec<f64> = COUNTRIES.iter().map(|c| c.home).collect();
    let country = rng.weighted(&home_w);
    let home_city = world.pick_city(rng, country);
    let broadband = world.pick_isp(rng, country, IspKind::Broadband);
    let (home_ip, _) = world.address(rng, broadband, home_city);
    let home_pool = world.pool(rng, broadband, home_city);
    let home_ip = Ipv4Addr::from(home_pool[0] + (u32::from(home_ip) & 0xff).clamp(1, 254));
    let mobile = world.pick_isp(rng, country, IspKind::Mobile);
    let worker = rng.chance(0.65);
    let work = (worker && rng.chance(0.6)).then(|| {
        let isp = world.pick_isp(rng, country, IspKind::Broadband);
        let (ip, city) = world.address(rng, isp, home_city);
        (ip, isp, city)
    });
    let mut devices = Vec::new();
    let n_dev = 1 + rng.weighted(&[40.0, 40.0, 20.0]);
    let forms = [Form::Phone, Form::Desktop, Form::Tablet];
    let first = if rng.chance(0.55) {
        Form::Phone
    } else {
        Form::Desktop
    };
    devices.push(random_device(rng, first));
    for i in 1..n_dev {
        let form = if i == 1 {
            if first == Form::Phone {
                Form::Desktop
            } else {
                Form::Phone
            }
        } else {
            *rng.pick(&forms)
        };
        let mut d = random_device(rng, form);
        // People tend to stay in one ecosystem.
        if devices[0].os == Os::Ios && form != Form::Desktop {
            d.os = Os::Ios;
            d.browser = Browser::Safari;
            d.os_version = devices[0].os_version;
        }
        d.weight = rng.range(0.3, 1.0);
        devices.push(d);
    }
    let rate = cfg.logins_per_day * (0.8 * rng.normal()).exp();
    let peak = |rng: &mut Rng, lo: f64, hi: f64| {
        (rng.range(lo, hi), rng.range(1.0, 2.5), rng.range(0.3, 1.0))
    };
    let peaks = [peak(rng, 7.0, 13.0), peak(rng, 16.0, 23.0)];
    let mut trips = Vec::new();
    let n_trips = rng.poisson(f64::from(cfg.days) / 120.0 * 0.6);
    for _ in 0..n_trips {
        let start = rng.below(cfg.days as usize) as i64;
        let len = 2 + rng.below(9) as i64;
        let dest_country = if rng.chance(0.5) {
            country
        } else {
            let w: Vec<f64> = COUNTRIES.iter().map(|c| c.travel).collect();
            rng.weighted(&w)
        };
        let city = world.pick_city(rng, dest_country);
        let hotel = world.pick_isp(rng, dest_country, IspKind::Broadband);
        trips.push((start, start + len, city, hotel));
    }
    let vpn = rng.chance(0.04).then(|| {
        let c = COUNTRIES
            .iter()
            .position(|c| c.code == *rng.pick(&["NL", "SE", "US", "DE", "GB"]))
            .unwrap_or(0);
        world.pick_isp(rng, c, IspKind::Hosting)
    });
    User {
        id: (rng.next_u64() as i64).to_string(),
        country,
        home_city,
        broadband,
        home_ip,
        home_pool,
        lease_days: rng.range(7.0, 84.0),
        mobile,
        work,
        vpn,
        devices,
        rate,
        peaks,
        worker,
        trips,
    }
}

fn rtt(rng: &mut Rng, base: f64, path_km: f64) -> f64 {
    ((base + path_km / 100.0) * (0.3 * rng.normal()).exp())
        .round()
        .max(1.0)
}

struct Row {
    at_ms: i64,
    user: usize,
    ip: Ipv4Addr,
    isp: usize,
    city: usize,
    ua: (String, String, String, &'static str),
    rtt: f64,
    success: bool,
    attack_ip: bool,
    attacker: Option<AttackerKind>,
}

/// Generates a synthetic log (sorted by time, indexed from 0). See the module docs for the model.
pub fn generate(cfg: &SynthConfig) -> Vec<LoginRecord> {
    let world = World::new(cfg.seed);
    let mut rng = Rng::new(cfg.seed);
    let users: Vec<User> = (0..cfg.users)
        .map(|_| new_user(&mut rng, &world, cfg))
        .collect();
    let mut rows: Vec<Row> = Vec::new();
    let day_ms = 86_400_000i64;

    // Legitimate behaviour.
    for ui in 0..users.len() {
        let u = &users[ui];
        let mut home_ip = u.home_ip;
        let mut pool = u.home_pool;
        let offset = COUNTRIES[u.country].utc_offset;
        let mut urng = Rng::new(cfg.seed ^ mix64(ui as u64 + 1));
        for day in 0..i64::from(cfg.days) {
            if urng.chance(1.0 / u.lease_days) {
                // A new lease usually comes from the same access router's pool.
                if urng.chance(0.15) {
                    pool = world.pool(&mut urng, u.broadband, u.home_city);
                }
                home_ip = Ipv4Addr::from(*urng.pick(&pool) + 1 + urng.below(253) as u32);
            }
            let dow = (cfg.start_ms.div_euclid(day_ms) + day + 3).rem_euclid(7);
            let weekend = dow >= 5;
            let factor = if weekend && u.worker { 0.6 } else { 1.0 };
            let n = urng.poisson(u.rate * factor);
            let trip = u.trips.iter().find(|t| day >= t.0 && day < t.1).copied();
            for _ in 0..n {
                let w: Vec<f64> = u.peaks.iter().map(|p| p.2).collect();
                let p = u.peaks[urng.weighted(&w)];
                let local_h = (p.0 + p.1 * urng.normal()).rem_euclid(24.0);
                let at =
                    cfg.start_ms + day * day_ms + ((local_h - offset as f64) * 3_600_000.0) as i64;
                let at_work = u.work.is_some()
                    && !weekend
                    && (8.0..17.0).contains(&local_h)
                    && urng.chance(0.7);
                // Device: at work the desktop, else by habit.
                let dev_w: Vec<f64> = u.devices.iter().map(|d| d.weight).collect();
                let mut di = urng.weighted(&dev_w);
                if at_work {
                    if let Some(i) = u.devices.iter().position(|d| d.form == Form::Desktop) {
                        di = i;
                    }
                }
                let dev = &u.devices[di];
                let home_loc = world.cities[u.home_city].loc;
                let (ip, isp, city, base, path) = if let Some((_, _, tcity, hotel)) = trip {
                    if dev.form == Form::Phone && urng.chance(0.5) {
                        // Roaming: traffic leaves through the home carrier.
                        let (ip, c) = world.address(&mut urng, u.mobile, u.home_city);
                        let km = haversine_km(world.cities[tcity].loc, world.cities[c].loc);
                        (
                            ip,
                            u.mobile,
                            c,
                            60.0,
                            km + haversine_km(world.cities[c].loc, SERVER),
                        )
                    } else {
                        let (ip, c) = world.address(
                            &mut Rng::new(mix64(ui as u64) ^ tcity as u64 ^ hotel as u64),
                            hotel,
                            tcity,
                        );
                        (
                            ip,
                            hotel,
                            c,
                            20.0,
                            haversine_km(world.cities[c].loc, SERVER),
                        )
                    }
                } else if let (true, Some((ip, isp, city))) = (at_work, u.work) {
                    (
                        ip,
                        isp,
                        city,
                        12.0,
                        haversine_km(world.cities[city].loc, SERVER),
                    )
                } else if dev.form == Form::Phone && urng.chance(0.45) {
                    let (ip, c) = world.address(&mut urng, u.mobile, u.home_city);
                    (ip, u.mobile, c, 45.0, haversine_km(home_loc, SERVER))
                } else if let (Some(v), true) =
                    (u.vpn, dev.form == Form::Desktop && urng.chance(0.3))
                {
                    let blocks = &world.isps[v].blocks;
                    let (c, nets) = &blocks[0];
                    let ip =
                        Ipv4Addr::from(nets[ui % 4.min(nets.len())] + 1 + urng.below(20) as u32);
                    let vloc = world.cities[*c].loc;
                    (
                        ip,
                        v,
                        *c,
                        30.0,
                        haversine_km(home_loc, vloc) + haversine_km(vloc, SERVER),
                    )
                } else {
                    (
                        home_ip,
                        u.broadband,
                        u.home_city,
                        15.0,
                        haversine_km(home_loc, SERVER),
                    )
                };
                let ua = dev.user_agent(day);
                let r = rtt(&mut urng, base, path);
                let listed = (world.isps[isp].kind == IspKind::Mobile && urng.chance(0.005))
                    || (world.isps[isp].kind == IspKind::Hosting && urng.chance(0.2));
                let typo = urng.chance(cfg.typo_rate);
                let forgot = urng.chance(0.003);
                let fails = if forgot {
                    3 + urng.below(6)
                } else {
                    usize::from(typo)
                };
                for k in 0..fails {
                    rows.push(Row {
                        at_ms: at - (fails - k) as i64 * (5_000 + urng.below(40_000) as i64),
                        user: ui,
                        ip,
                        isp,
                        city,
                        ua: ua.clone(),
                        rtt: rtt(&mut urng, base, path),
                        success: false,
                        attack_ip: listed,
                        attacker: None,
                    });
                }
                if forgot && urng.chance(0.3) {
                    continue; // gave up; resets the password another way
                }
                rows.push(Row {
                    at_ms: at,
                    user: ui,
                    ip,
                    isp,
                    city,
                    ua,
                    rtt: r,
                    success: true,
                    attack_ip: listed,
                    attacker: None,
                });
            }
        }
    }

    // Account takeovers.
    let attack_w: Vec<f64> = COUNTRIES.iter().map(|c| c.attack).collect();
    let mut arng = Rng::new(cfg.seed ^ 0xa77a_c4e5);
    for ui in 0..users.len() {
        if !arng.chance(cfg.attacked_share) {
            continue;
        }
        let u = &users[ui];
        let kind = [
            AttackerKind::Naive,
            AttackerKind::Vpn,
            AttackerKind::Targeted,
        ][arng.weighted(&cfg.attacker_mix)];
        let day = 7 + arng.below((cfg.days as usize).saturating_sub(7).max(1)) as i64;
        // A user agent someone else really uses that day (optionally of one OS family).
        let borrowed_ua = |rng: &mut Rng, os: Option<Os>| {
            for _ in 0..200 {
                let other = &users[rng.below(users.len())];
                let d = &other.devices[rng.below(other.devices.len())];
                if os.is_none_or(|o| o == d.os) {
                    return d.user_agent(day);
                }
            }
            u.devices[0].user_agent(day)
        };
        let primary = &u.devices[0];
        let (isp, city, ua, base, path, listed_p) = match kind {
            AttackerKind::Naive => {
                let c = arng.weighted(&attack_w);
                let kind = if arng.chance(0.5) {
                    IspKind::Hosting
                } else {
                    IspKind::Broadband
                };
                let isp = world.pick_isp(&mut arng, c, kind);
                let city = world.isps[isp].blocks[arng.below(world.isps[isp].blocks.len())].0;
                let ua = if arng.chance(0.3) {
                    let odd = random_device(&mut arng, Form::Desktop);
                    odd.user_agent(day - 400 - arng.below(600) as i64)
                } else {
                    borrowed_ua(&mut arng, None)
                };
                (
                    isp,
                    city,
                    ua,
                    25.0,
                    haversine_km(world.cities[city].loc, SERVER),
                    0.6,
                )
            }
            AttackerKind::Vpn => {
                let k = [IspKind::Hosting, IspKind::Broadband, IspKind::Mobile]
                    [arng.weighted(&[50.0, 35.0, 15.0])];
                let isp = world.pick_isp(&mut arng, u.country, k);
                let city = world.isps[isp].blocks[arng.below(world.isps[isp].blocks.len())].0;
                let from_country = arng.weighted(&attack_w);
                let from = world.pick_city(&mut arng, from_country);
                let ua = borrowed_ua(&mut arng, None);
                let path = haversine_km(world.cities[from].loc, world.cities[city].loc)
                    + haversine_km(world.cities[city].loc, SERVER);
                (isp, city, ua, 35.0, path, 0.3)
            }
            AttackerKind::Targeted => {
                let region = world.cities[u.home_city].region;
                let in_region: Vec<usize> = world
                    .cities_of(u.country)
                    .into_iter()
                    .filter(|&c| world.cities[c].region == region)
                    .collect();
                let city = *arng.pick(&in_region);
                let ua = borrowed_ua(&mut arng, Some(primary.os));
                let local = arng.chance(0.5);
                let path = if local {
                    haversine_km(world.cities[city].loc, SERVER)
                } else {
                    let from_country = arng.weighted(&attack_w);
                    let from = world.pick_city(&mut arng, from_country);
                    haversine_km(world.cities[from].loc, world.cities[city].loc)
                        + haversine_km(world.cities[city].loc, SERVER)
                };
                (
                    u.broadband,
                    city,
                    ua,
                    if local { 15.0 } else { 30.0 },
                    path,
                    0.05,
                )
            }
        };
        let tz = if kind == AttackerKind::Targeted {
            COUNTRIES[u.country].utc_offset
        } else {
            arng.below(24) as i64 - 11
        };
        let (mut ip, mut city) = world.address(&mut arng, isp, city);
        let listed = arng.chance(listed_p);
        let mut at = cfg.start_ms
            + day * day_ms
            + ((arng.range(8.0, 24.0) - tz as f64) * 3_600_000.0) as i64;
        if arng.chance(0.4) {
            for k in 0..(1 + arng.below(3)) {
                rows.push(Row {
                    at_ms: at - (k as i64 + 1) * 90_000,
                    user: ui,
                    ip,
                    isp,
                    city,
                    ua: ua.clone(),
                    rtt: rtt(&mut arng, base, path),
                    success: false,
                    attack_ip: listed,
                    attacker: Some(kind),
                });
            }
        }
        let visits = 1 + arng.weighted(&[35.0, 30.0, 20.0, 15.0]);
        for v in 0..visits {
            if v > 0 {
                at += (arng.range(0.2, 72.0) * 3_600_000.0) as i64;
                if arng.chance(0.3) {
                    (ip, city) = world.address(&mut arng, isp, city);
                }
            }
            rows.push(Row {
                at_ms: at,
                user: ui,
                ip,
                isp,
                city,
                ua: ua.clone(),
                rtt: rtt(&mut arng, base, path),
                success: true,
                attack_ip: listed,
                attacker: Some(kind),
            });
        }
    }

    // Password spray: one hosting address tries many accounts with a common password.
    for _ in 0..cfg.spray_campaigns {
        let c = arng.weighted(&attack_w);
        let isp = world.pick_isp(&mut arng, c, IspKind::Hosting);
        let city = world.isps[isp].blocks[0].0;
        let (ip, city) = world.address(&mut arng, isp, city);
        let day = arng.below(cfg.days as usize) as i64;
        let mut at = cfg.start_ms + day * day_ms + arng.below(86_400_000) as i64;
        let ua = random_device(&mut arng, Form::Desktop).user_agent(day - 300);
        let listed = arng.chance(0.7);
        for _ in 0..(30 + arng.below(120)) {
            at += 5_000 + arng.below(60_000) as i64;
            let victim = arng.below(users.len());
            let success = arng.chance(0.01);
            rows.push(Row {
                at_ms: at,
                user: victim,
                ip,
                isp,
                city,
                ua: ua.clone(),
                rtt: rtt(
                    &mut arng,
                    25.0,
                    haversine_km(world.cities[city].loc, SERVER),
                ),
                success,
                attack_ip: listed,
                attacker: success.then_some(AttackerKind::Naive),
            });
        }
    }

    rows.sort_by_key(|r| (r.at_ms, r.user));
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let c = &world.cities[r.city];
            LoginRecord {
                index: i as u64,
                at_ms: r.at_ms,
                user_id: users[r.user].id.clone(),
                rtt_ms: cfg.with_rtt.then_some(r.rtt),
                ip: IpAddr::V4(r.ip),
                country: Some(COUNTRIES[c.country].code.to_string()),
                region: Some(c.region.to_string()),
                city: Some(c.name.to_string()),
                asn: Some(world.isps[r.isp].asn),
                user_agent: Some(r.ua.0),
                browser: Some(r.ua.1),
                os: Some(r.ua.2),
                device_type: Some(r.ua.3.to_string()),
                success: r.success,
                attack_ip: r.attack_ip,
                takeover: r.success && r.attacker.is_some(),
                attacker: r.attacker,
            }
        })
        .collect()
}

/// Writes records as CSV in the RBA dataset layout (the attacker kind is not a column).
pub fn write_csv<W: Write>(w: W, records: &[LoginRecord]) -> Result<(), RiskError> {
    let mut out = csv::Writer::from_writer(w);
    let err = |e: csv::Error| RiskError::Write(e.to_string());
    out.write_record(RBA_HEADER).map_err(err)?;
    let b = |x: bool| if x { "True" } else { "False" };
    let o = |x: &Option<String>| x.clone().unwrap_or_else(|| "-".to_string());
    for r in records {
        out.write_record([
            r.index.to_string(),
            format_timestamp(r.at_ms),
            r.user_id.clone(),
            r.rtt_ms.map(|v| format!("{v:.1}")).unwrap_or_default(),
            r.ip.to_string(),
            o(&r.country),
            o(&r.region),
            o(&r.city),
            r.asn.map(|a| a.to_string()).unwrap_or_else(|| "-".into()),
            o(&r.user_agent),
            o(&r.browser),
            o(&r.os),
            o(&r.device_type),
            b(r.success).to_string(),
            b(r.attack_ip).to_string(),
            b(r.takeover).to_string(),
        ])
        .map_err(err)?;
    }
    out.flush().map_err(|e| RiskError::Write(e.to_string()))
}
