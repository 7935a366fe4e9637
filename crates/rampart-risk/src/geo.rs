//! Where an IP address is: country, region, city, ASN and coordinates, from a MaxMind-format
//! database (GeoLite2/GeoIP2 City, ASN, or one file with both) or from a plain CSV of networks.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::util::NetMap;
use crate::RiskError;

/// Geographic and network facts about a login's source address. Every field is optional: a
/// private address or an incomplete database gives `None`s, never an error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Geo {
    /// ISO 3166-1 alpha-2 code, upper case (`NO`, `US`).
    pub country: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
    pub asn: Option<u32>,
    pub asn_name: Option<String>,
    /// (latitude, longitude) in degrees.
    pub location: Option<(f64, f64)>,
}

impl Geo {
    /// Fills every missing field from `other`.
    pub fn or(mut self, other: Geo) -> Geo {
        self.country = self.country.or(other.country);
        self.region = self.region.or(other.region);
        self.city = self.city.or(other.city);
        self.asn = self.asn.or(other.asn);
        self.asn_name = self.asn_name.or(other.asn_name);
        self.location = self.location.or(other.location);
        self
    }
}

/// An IP → [`Geo`] database. Lookups never fail; an address it does not cover gives
/// `Geo::default()`.
pub struct GeoDb {
    sources: Vec<Source>,
}

enum Source {
    Mmdb(Box<maxminddb::Reader<Vec<u8>>>),
    Table(NetMap<Geo>),
}

impl fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds: Vec<String> = self
            .sources
            .iter()
            .map(|s| match s {
                Source::Mmdb(r) => format!("mmdb:{}", r.metadata().database_type),
                Source::Table(t) => format!("table:{} networks", t.len()),
            })
            .collect();
        f.debug_struct("GeoDb").field("sources", &kinds).finish()
    }
}

/// The marker every MaxMind DB file carries before its metadata section.
const MMDB_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";

#[derive(Deserialize, Default)]
#[serde(default)]
struct MmdbRecord<'a> {
    #[serde(borrow)]
    country: Option<MmdbPlace<'a>>,
    #[serde(borrow)]
    registered_country: Option<MmdbPlace<'a>>,
    #[serde(borrow)]
    subdivisions: Option<Vec<MmdbPlace<'a>>>,
    #[serde(borrow)]
    city: Option<MmdbPlace<'a>>,
    location: Option<MmdbLocation>,
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
    #[serde(borrow)]
    traits: Option<MmdbTraits<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MmdbPlace<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
    #[serde(borrow)]
    names: Option<MmdbNames<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MmdbNames<'a> {
    #[serde(borrow)]
    en: Option<&'a str>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MmdbLocation {
    latitude: Option<f64>,
    longitude: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MmdbTraits<'a> {
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
}

fn name_of(p: &MmdbPlace<'_>) -> Option<String> {
    p.names.as_ref().and_then(|n| n.en).map(str::to_string)
}

impl GeoDb {
    /// A database that knows nothing: every lookup is `Geo::default()`.
    pub fn empty() -> GeoDb {
        GeoDb {
            sources: Vec::new(),
        }
    }

    /// Opens a MaxMind DB (`.mmdb`: City, Country, ASN or a combined file) or a CSV of networks
    /// with header `cidr,asn,asn_name,country,region,city` and optional `lat,lon` columns. The
    /// kind is detected from the content, not the file name.
    pub fn open(path: impl AsRef<Path>) -> Result<GeoDb, RiskError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| RiskError::GeoIo {
            path: path.to_path_buf(),
            source,
        })?;
        let source = Self::source_from_bytes(path, bytes)?;
        Ok(GeoDb {
            sources: vec![source],
        })
    }

    /// Opens several databases (say a City and an ASN file); a lookup takes each field from the
    /// first database that has it.
    pub fn open_all<P: AsRef<Path>>(paths: &[P]) -> Result<GeoDb, RiskError> {
        let mut sources = Vec::new();
        for p in paths {
            sources.extend(GeoDb::open(p)?.sources);
        }
        Ok(GeoDb { sources })
    }

    /// A database from (network, facts) pairs, for tests and synthetic worlds.
    pub fn from_networks(networks: impl IntoIterator<Item = (IpNet, Geo)>) -> GeoDb {
        let mut table = NetMap::default();
        for (net, geo) in networks {
            table.insert(net, geo);
        }
        GeoDb {
            sources: vec![Source::Table(table)],
        }
    }

    fn source_from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Source, RiskError> {
        let tail = &bytes[bytes.len().saturating_sub(128 * 1024)..];
        let is_mmdb = tail.windows(MMDB_MARKER.len()).any(|w| w == MMDB_MARKER);
        if is_mmdb {
            let reader = maxminddb::Reader::from_source(bytes).map_err(|e| RiskError::GeoMmdb {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
            return Ok(Source::Mmdb(Box::new(reader)));
        }
        let first_line = bytes.split(|b| *b == b'\n').next().unwrap_or(&[]);
        let header = String::from_utf8_lossy(first_line).to_ascii_lowercase();
        if header.contains("cidr") {
            return Self::table_from_csv(path, &bytes).map(Source::Table);
        }
        Err(RiskError::GeoMmdb {
            path: path.to_path_buf(),
            message: "neither the MaxMind DB metadata marker nor a CSV header with a cidr column \
                      was found"
                .into(),
        })
    }

    fn table_from_csv(path: &Path, bytes: &[u8]) -> Result<NetMap<Geo>, RiskError> {
        let err = |line: u64, message: String| RiskError::GeoCsv {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(bytes);
        let headers = rdr.headers().map_err(|e| err(1, e.to_string()))?.clone();
        let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
        let cidr = col("cidr").ok_or_else(|| err(1, "no cidr column".into()))?;
        let (asn, asn_name, country, region, city, lat, lon) = (
            col("asn"),
            col("asn_name"),
            col("country"),
            col("region"),
            col("city"),
            col("lat"),
            col("lon"),
        );
        let mut table = NetMap::default();
        for (i, rec) in rdr.records().enumerate() {
            let line = i as u64 + 2;
            let rec = rec.map_err(|e| err(line, e.to_string()))?;
            let field = |c: Option<usize>| {
                c.and_then(|c| rec.get(c))
                    .filter(|v| !v.is_empty() && *v != "-")
                    .map(str::to_string)
            };
            let net_text = rec.get(cidr).unwrap_or("");
            let net: IpNet = net_text
                .parse()
                .or_else(|_| net_text.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    err(
                        line,
                        format!("{net_text:?} is not a network like 192.0.2.0/24"),
                    )
                })?;
            let asn = match field(asn) {
                Some(a) => Some(
                    a.trim_start_matches("AS")
                        .parse::<u32>()
                        .map_err(|_| err(line, format!("ASN {a:?} is not a number")))?,
                ),
                None => None,
            };
            let coord =
                |c: Option<usize>, what: &str, max: f64| -> Result<Option<f64>, RiskError> {
                    match field(c) {
                        Some(v) => {
                            let x: f64 = v
                                .parse()
                                .map_err(|_| err(line, format!("{what} {v:?} is not a number")))?;
                            if !x.is_finite() || x.abs() > max {
                                return Err(err(line, format!("{what} {v} is out of range")));
                            }
                            Ok(Some(x))
                        }
                        None => Ok(None),
                    }
                };
            let location = match (coord(lat, "lat", 90.0)?, coord(lon, "lon", 180.0)?) {
                (Some(a), Some(b)) => Some((a, b)),
                _ => None,
            };
            let geo = Geo {
                country: field(country).map(|c| c.to_ascii_uppercase()),
                region: field(region),
                city: field(city),
                asn,
                asn_name: field(asn_name),
                location,
            };
            table.insert(net, geo);
        }
        Ok(table)
    }

    /// What the databases know about `ip`.
    pub fn lookup(&self, ip: IpAddr) -> Geo {
        let mut geo = Geo::default();
        for source in &self.sources {
            let found = match source {
                Source::Table(t) => t.lookup(ip).map(|(_, g)| g.clone()).unwrap_or_default(),
                Source::Mmdb(r) => Self::lookup_mmdb(r, ip),
            };
            geo = geo.or(found);
        }
        geo
    }

    fn lookup_mmdb(reader: &maxminddb::Reader<Vec<u8>>, ip: IpAddr) -> Geo {
        let Ok(result) = reader.lookup(ip) else {
            return Geo::default();
        };
        let Ok(Some(rec)) = result.decode::<MmdbRecord<'_>>() else {
            return Geo::default();
        };
        let country = rec
            .country
            .as_ref()
            .or(rec.registered_country.as_ref())
            .and_then(|c| c.iso_code)
            .map(str::to_ascii_uppercase);
        let region = rec
            .subdivisions
            .as_ref()
            .and_then(|s| s.first())
            .and_then(name_of);
        let city = rec.city.as_ref().and_then(name_of);
        let location = rec
            .location
            .as_ref()
            .and_then(|l| Some((l.latitude?, l.longitude?)));
        let traits = rec.traits.unwrap_or_default();
        Geo {
            country,
            region,
            city,
            asn: rec
                .autonomous_system_number
                .or(traits.autonomous_system_number),
            asn_name: rec
                .autonomous_system_organization
                .or(traits.autonomous_system_organization)
                .map(str::to_string),
            location,
        }
    }
}
