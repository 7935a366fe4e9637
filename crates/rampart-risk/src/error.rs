use std::path::PathBuf;

/// Everything that can go wrong outside of judging a login (judging never fails).
/// Each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    #[error("cannot read geo database {path}: {source} (check the path and its permissions)")]
    GeoIo {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "geo database {path} is not a usable MaxMind DB: {message} (use a GeoLite2/GeoIP2 City or \
         ASN .mmdb file, or a CSV with header cidr,asn,asn_name,country,region,city[,lat,lon])"
    )]
    GeoMmdb { path: PathBuf, message: String },
    #[error(
        "geo CSV {path}, line {line}: {message} (expected header \
         cidr,asn,asn_name,country,region,city with optional lat,lon, one network per line)"
    )]
    GeoCsv {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error(
        "stored risk profile is corrupt: {0} (delete it; the profile is relearned from the next \
         trusted logins)"
    )]
    ProfileCorrupt(String),
    #[error(
        "stored risk profile has format version {found}, this build reads version {expected} \
         (upgrade Rampart, or delete the profile to relearn it)"
    )]
    ProfileVersion { found: u8, expected: u8 },
    #[error(
        "login log line {line}: {message} (expected the RBA dataset layout: index,Login Timestamp,\
         User ID,Round-Trip Time [ms],IP Address,Country,Region,City,ASN,User Agent String,Browser \
         Name and Version,OS Name and Version,Device Type,Login Successful,Is Attack IP,Is Account \
         Takeover)"
    )]
    LoginLog { line: u64, message: String },
    #[error("login policy: {0}")]
    Policy(String),
    #[error("writing login log: {0}")]
    Write(String),
}
