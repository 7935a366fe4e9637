//! DKIM for outbound mail: key files on disk, their DNS records, and the `DKIM-Signature` headers
//! a message leaves with.
//!
//! Keys live in one directory, one sub-directory per signing domain and one PKCS#8 PEM file per
//! selector: `<dir>/example.com/rampart.pem` is selector `rampart` of `example.com`, published at
//! `rampart._domainkey.example.com`. [`generate`] creates them (RSA 2048 or Ed25519; files `0600`,
//! directories `0700`, written to a temporary file and linked into place), [`list`] shows each
//! with the TXT record to publish, and [`DkimKeys::load`] reads them all for signing.
//!
//! [`DkimKeys::sign`] picks the keys by the domain of the message's `From` header (RFC 5322.From,
//! the identity DMARC aligns with): the domain's own keys, else those of the nearest parent domain
//! that has any (DMARC relaxed alignment accepts a parent's signature). A domain with several
//! selectors, typically one RSA and one Ed25519, signs with each (RFC 8463 dual signing: RSA for
//! verifiers that do not know Ed25519 yet). Signatures are relaxed/relaxed with `t=`, no `l=`
//! (a body-length limit lets anyone append content) and no `x=`. `From` is oversigned, and the
//! other identity and MIME headers (`To`, `Cc`, `Subject`, `Date`, `Message-ID`, `Reply-To`,
//! `Content-Type`, ...) are signed present or absent, so none can be added in transit without
//! breaking the signature. `List-Unsubscribe` (with `List-Unsubscribe-Post`) is signed only when
//! present, so a mailing list that adds its own does not break it.
//!
//! No DKIM or cryptography is written here: mail-auth (over ring) signs, ring and the `rsa` crate
//! (RSA key generation only; ring cannot generate RSA keys) make keys.
//!
//! ```no_run
//! use std::path::Path;
//! use rampart_outbound::dkim::{self, Algorithm, DkimKeys};
//!
//! let dir = Path::new("/var/lib/rampart/dkim");
//! let key = dkim::generate(dir, "example.com", "ed1", Algorithm::Ed25519, false)?;
//! println!("publish {} TXT \"{}\"", key.dns_name, key.txt);
//!
//! let keys = DkimKeys::load(dir)?;
//! let message = b"From: ann@example.com\r\nTo: bob@example.net\r\nSubject: hi\r\n\r\nhello\r\n";
//! if let Some(headers) = keys.sign(message)? {
//!     let signed = [headers.as_bytes(), &message[..]].concat();
//! #   drop(signed);
//! }
//! # Ok::<(), rampart_outbound::dkim::DkimError>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{Canonicalization, DkimSigner, Done};
use mail_builder::encoders::base64::Base64Encoder;
use mail_parser::{HeaderName, MessageParser};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding, SecretDocument};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;

/// The headers every signature covers, in the order given to mail-auth. `From` is listed twice:
/// the second entry signs the *absence* of another `From` (oversigning). mail-auth puts every
/// listed header that the message lacks into `h=` as well, so none of them can be added later
/// either.
const SIGNED_HEADERS: [&str; 13] = [
    "From",
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
];

/// Signed only when the message has a `List-Unsubscribe` header (then both, as RFC 8058 asks for
/// one-click unsubscription). Signing their absence would break the signature of every message
/// that passes through a mailing list which adds them and leaves the rest alone.
const LIST_HEADERS: [&str; 2] = ["List-Unsubscribe", "List-Unsubscribe-Post"];

/// Size of the RSA keys [`generate`] makes (RFC 8301: at least 1024, 2048 recommended; larger
/// keys do not fit one 255-byte TXT string and trip up some DNS hosting panels).
const RSA_BITS: usize = 2048;

/// A key file larger than this is not a PEM private key.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// The file name suffix of key files.
const KEY_SUFFIX: &str = ".pem";

/// A DKIM key algorithm.
///
/// Parses from `rsa`, `rsa2048` or `ed25519` (any case); displays as `rsa` or `ed25519`, the `k=`
/// tag of its DNS record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    #[serde(rename = "rsa")]
    /// RSA with SHA-256 (`rsa-sha256`). Generated at 2048 bits; RSA keys of other sizes placed in
    /// the key directory by hand load and list under this variant too.
    Rsa2048,
    /// Ed25519 with SHA-256 (`ed25519-sha256`, RFC 8463): small keys and signatures, but not yet
    /// verified everywhere, so pair it with an RSA selector.
    Ed25519,
}

impl Algorithm {
    /// The `k=` tag of the DNS record.
    fn key_type(self) -> &'static str {
        match self {
            Algorithm::Rsa2048 => "rsa",
            Algorithm::Ed25519 => "ed25519",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key_type())
    }
}

impl FromStr for Algorithm {
    type Err = DkimError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "rsa" | "rsa2048" => Ok(Algorithm::Rsa2048),
            "ed25519" => Ok(Algorithm::Ed25519),
            _ => Err(DkimError::UnknownAlgorithm(s.to_string())),
        }
    }
}

/// One key on disk and the DNS record that publishes its public half.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyInfo {
    /// The signing domain (`d=`), lower-case.
    pub domain: String,
    /// The selector (`s=`), lower-case.
    pub selector: String,
    /// The key's algorithm, which the record's `k=` tag names.
    pub algorithm: Algorithm,
    /// The PEM file holding the private key.
    pub path: PathBuf,
    /// Where the record goes: `<selector>._domainkey.<domain>`.
    pub dns_name: String,
    /// The TXT record's value: `v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>` or
    /// `v=DKIM1; k=ed25519; p=<base64 of the raw 32-byte key>`.
    pub txt: String,
}

/// Why a DKIM key could not be made, read or used.
///
/// Every variant about a file names it: the server refuses to start on a bad key rather than
/// silently sending unsigned mail, and the administrator has to know which file to fix.
#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    /// An algorithm name other than `rsa`, `rsa2048` or `ed25519`.
    #[error("unknown DKIM key algorithm {0:?} (expected rsa or ed25519)")]
    UnknownAlgorithm(String),
    /// A signing domain that is not a DNS name of at least two labels.
    #[error("invalid DKIM domain {name:?}: {reason}")]
    InvalidDomain { name: String, reason: &'static str },
    /// A selector that is not RFC 6376 `selector` syntax.
    #[error("invalid DKIM selector {name:?}: {reason}")]
    InvalidSelector { name: String, reason: &'static str },
    /// [`generate`] would replace an existing key and was not asked to.
    #[error(
        "{} already exists; use --force to replace it (mail signed with the old key fails \
         verification once its DNS record is replaced)",
        path.display()
    )]
    KeyExists { path: PathBuf },
    /// Reading or writing the key directory failed.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// A key file that holds no RSA or Ed25519 private key ring accepts.
    #[error("{}: not a usable DKIM private key: {reason}", path.display())]
    InvalidKey { path: PathBuf, reason: String },
    /// The random source or the key encoder failed.
    #[error("cannot generate a DKIM key: {0}")]
    Generate(String),
    /// mail-auth could not sign the message.
    #[error("DKIM signing for {domain} (selector {selector}) failed: {reason}")]
    Sign {
        domain: String,
        selector: String,
        reason: String,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> DkimError + '_ {
    move |source| DkimError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Generates a key for `domain` and `selector` and writes it to `<dir>/<domain>/<selector>.pem`.
///
/// Domain and selector must be DNS names (letters, digits, hyphens; dot-separated labels; the
/// domain with at least two labels) and are lower-cased, so nothing written can land outside
/// `dir`. An existing key is replaced only when `overwrite` is set (the CLI's `--force`); even then
/// the new file is complete on disk before it takes the old one's place. Missing directories are
/// created `0700`, the key file `0600`.
pub fn generate(
    dir: &Path,
    domain: &str,
    selector: &str,
    algorithm: Algorithm,
    overwrite: bool,
) -> Result<KeyInfo, DkimError> {
    let domain = signing_domain(domain)?;
    let selector = selector_name(selector, &domain)?;
    let domain_dir = dir.join(&domain);
    let path = domain_dir.join(format!("{selector}{KEY_SUFFIX}"));
    if !overwrite && path.exists() {
        return Err(DkimError::KeyExists { path });
    }

    let (pem, public_key) = match algorithm {
        Algorithm::Rsa2048 => generate_rsa()?,
        Algorithm::Ed25519 => generate_ed25519()?,
    };
    // What is written must be what `load` accepts; check before anything touches the disk.
    parse_private_key(&path, pem.as_bytes())?;

    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&domain_dir)
        .map_err(io_error(&domain_dir))?;
    write_key_file(&domain_dir, &selector, &path, pem.as_bytes(), overwrite)?;

    Ok(key_info(domain, selector, algorithm, path, &public_key))
}

/// Every key under `dir`, sorted by domain and selector, with the DNS record each needs.
///
/// A missing `dir` is an empty list. Entries that are not `<domain>/<selector>.pem` (hidden and
/// temporary files, other names) are skipped; a key file that cannot be read or parsed is an
/// error naming it.
pub fn list(dir: &Path) -> Result<Vec<KeyInfo>, DkimError> {
    let mut keys = Vec::new();
    for entry in key_files(dir)? {
        let bytes = read_key_file(&entry.path)?;
        let key = parse_private_key(&entry.path, &bytes)?;
        let public_key = key.public_key_record(&entry.path)?;
        keys.push(key_info(
            entry.domain,
            entry.selector,
            key.algorithm(),
            entry.path,
            &public_key,
        ));
    }
    Ok(keys)
}

/// The signing keys, loaded once and shared (cloning is a reference-count increment).
///
/// Signing is CPU work (an RSA-2048 signature is about a millisecond): async callers should sign
/// on the blocking pool.
#[derive(Clone, Default)]
pub struct DkimKeys {
    by_domain: Arc<BTreeMap<String, Vec<SigningKey>>>,
}

struct SigningKey {
    selector: String,
    /// Signs [`SIGNED_HEADERS`].
    plain: Signer,
    /// Signs [`SIGNED_HEADERS`] and [`LIST_HEADERS`]. A signer's header list is fixed and its key
    /// cannot be cloned, hence two signers over the same key file.
    with_list: Signer,
}

enum Signer {
    Rsa(DkimSigner<RsaKey<Sha256>, Done>),
    Ed25519(DkimSigner<Ed25519Key, Done>),
}

impl DkimKeys {
    /// Loads every key under `dir` (see [`list`] for the layout). A missing directory loads no
    /// keys; an unreadable or invalid key file is an error naming it.
    pub fn load(dir: &Path) -> Result<DkimKeys, DkimError> {
        let mut by_domain: BTreeMap<String, Vec<SigningKey>> = BTreeMap::new();
        for entry in key_files(dir)? {
            let bytes = read_key_file(&entry.path)?;
            let signer = |headers: &[&str]| {
                parse_private_key(&entry.path, &bytes)
                    .map(|key| key.into_signer(&entry.domain, &entry.selector, headers))
            };
            let plain = signer(&SIGNED_HEADERS)?;
            let with_list = signer(&[SIGNED_HEADERS.as_slice(), &LIST_HEADERS].concat())?;
            warn_if_readable_by_others(&entry.path);
            by_domain.entry(entry.domain).or_default().push(SigningKey {
                selector: entry.selector,
                plain,
                with_list,
            });
        }
        Ok(DkimKeys {
            by_domain: Arc::new(by_domain),
        })
    }

    /// No keys: [`DkimKeys::sign`] always answers `Ok(None)`.
    pub fn empty() -> DkimKeys {
        DkimKeys::default()
    }

    /// Whether no key is loaded.
    pub fn is_empty(&self) -> bool {
        self.by_domain.is_empty()
    }

    /// The domains that have at least one key, sorted.
    pub fn domains(&self) -> Vec<String> {
        self.by_domain.keys().cloned().collect()
    }

    /// The `DKIM-Signature` header(s) to prepend to `message`, CRLF-terminated, or `Ok(None)` when
    /// no key applies.
    ///
    /// The keys are those of the domain of each address in the `From` header, or, for a domain
    /// without keys, of its nearest parent domain that has some. Every key of that domain signs
    /// (one header per selector, in selector order). The message must be final: any later change
    /// to a signed header or to the body breaks the signature.
    pub fn sign(&self, message: &[u8]) -> Result<Option<String>, DkimError> {
        if self.by_domain.is_empty() {
            return Ok(None);
        }
        let authors = Authors::of(message);
        let mut headers = String::new();
        let mut signed_for: Vec<&str> = Vec::new();
        for author_domain in &authors.domains {
            let Some((domain, keys)) = self.keys_for(author_domain) else {
                continue;
            };
            if signed_for.contains(&domain) {
                continue;
            }
            signed_for.push(domain);
            for key in keys {
                let signer = if authors.has_list_unsubscribe {
                    &key.with_list
                } else {
                    &key.plain
                };
                let signature = match signer {
                    Signer::Rsa(signer) => signer.sign(message),
                    Signer::Ed25519(signer) => signer.sign(message),
                }
                .map_err(|e| DkimError::Sign {
                    domain: domain.to_string(),
                    selector: key.selector.clone(),
                    reason: e.to_string(),
                })?;
                headers.push_str(&signature.to_header());
            }
        }
        Ok((!headers.is_empty()).then_some(headers))
    }

    /// The keys for `domain`: its own, else the nearest parent's (never a bare top-level label).
    fn keys_for(&self, domain: &str) -> Option<(&str, &[SigningKey])> {
        let mut candidate = domain;
        loop {
            if let Some((name, keys)) = self.by_domain.get_key_value(candidate) {
                return Some((name.as_str(), keys.as_slice()));
            }
            let (_, parent) = candidate.split_once('.')?;
            if !parent.contains('.') {
                return None;
            }
            candidate = parent;
        }
    }
}

impl fmt::Debug for DkimKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (domain, keys) in self.by_domain.iter() {
            let selectors: Vec<&str> = keys.iter().map(|k| k.selector.as_str()).collect();
            map.entry(domain, &selectors);
        }
        map.finish()
    }
}

/// What signing needs to know of a message's header section.
struct Authors {
    /// The distinct, lower-cased domains of the addresses in the `From` header(s).
    domains: Vec<String>,
    has_list_unsubscribe: bool,
}

impl Authors {
    fn of(message: &[u8]) -> Authors {
        let Some(parsed) = MessageParser::new().parse_headers(message) else {
            return Authors {
                domains: Vec::new(),
                has_list_unsubscribe: false,
            };
        };
        Authors {
            domains: from_domains(&parsed),
            has_list_unsubscribe: parsed.header(HeaderName::ListUnsubscribe).is_some(),
        }
    }
}

fn from_domains(parsed: &mail_parser::Message<'_>) -> Vec<String> {
    let mut domains: Vec<String> = Vec::new();
    for value in parsed.header_values(HeaderName::From) {
        let Some(addresses) = value.as_address() else {
            continue;
        };
        for address in addresses.iter() {
            let Some((_, domain)) = address.address().and_then(|a| a.rsplit_once('@')) else {
                continue;
            };
            let domain = domain.trim_end_matches('.').to_ascii_lowercase();
            if !domain.is_empty() && !domains.contains(&domain) {
                domains.push(domain);
            }
        }
    }
    domains
}

/// A private key parsed from a PEM file, before it is bound to a domain and selector.
enum ParsedKey {
    Rsa(RsaKey<Sha256>),
    Ed25519(Ed25519Key),
}

impl ParsedKey {
    fn algorithm(&self) -> Algorithm {
        match self {
            ParsedKey::Rsa(_) => Algorithm::Rsa2048,
            ParsedKey::Ed25519(_) => Algorithm::Ed25519,
        }
    }

    /// The bytes the DNS record's `p=` carries: SubjectPublicKeyInfo for RSA, the raw key for
    /// Ed25519 (RFC 8463).
    fn public_key_record(&self, path: &Path) -> Result<Vec<u8>, DkimError> {
        match self {
            ParsedKey::Ed25519(key) => Ok(key.public_key()),
            ParsedKey::Rsa(key) => rsa::PublicKey::from_pkcs1_der(&key.public_key())
                .map_err(|e| e.to_string())
                .and_then(|public| public.to_public_key_der().map_err(|e| e.to_string()))
                .map(|der| der.as_bytes().to_vec())
                .map_err(|reason| DkimError::InvalidKey {
                    path: path.to_path_buf(),
                    reason: format!("cannot encode its public key: {reason}"),
                }),
        }
    }

    fn into_signer(self, domain: &str, selector: &str, headers: &[&str]) -> Signer {
        match self {
            ParsedKey::Rsa(key) => Signer::Rsa(configure(
                DkimSigner::from_key(key),
                domain,
                selector,
                headers,
            )),
            ParsedKey::Ed25519(key) => Signer::Ed25519(configure(
                DkimSigner::from_key(key),
                domain,
                selector,
                headers,
            )),
        }
    }
}

fn configure<K: mail_auth::common::crypto::SigningKey>(
    signer: DkimSigner<K>,
    domain: &str,
    selector: &str,
    headers: &[&str],
) -> DkimSigner<K, Done> {
    signer
        .domain(domain)
        .selector(selector)
        .headers(headers.iter().copied())
        .header_canonicalization(Canonicalization::Relaxed)
        .body_canonicalization(Canonicalization::Relaxed)
}

/// Parses a PEM private key: PKCS#8 (RSA or Ed25519, as `generate` writes and `openssl genpkey`
/// does) or PKCS#1 (`BEGIN RSA PRIVATE KEY`, older tools).
fn parse_private_key(path: &Path, pem: &[u8]) -> Result<ParsedKey, DkimError> {
    let invalid = |reason: String| DkimError::InvalidKey {
        path: path.to_path_buf(),
        reason,
    };
    let der = PrivateKeyDer::from_pem_slice(pem)
        .map_err(|e| invalid(format!("no PEM private key found ({e})")))?;
    match der {
        PrivateKeyDer::Pkcs8(pkcs8) => {
            // ring's strict parser wants the public key inside (PKCS#8 v2, what ring writes);
            // OpenSSL writes v1 without it.
            if let Ok(key) = Ed25519Key::from_pkcs8_maybe_unchecked_der(pkcs8.secret_pkcs8_der()) {
                return Ok(ParsedKey::Ed25519(key));
            }
            RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(pkcs8))
                .map(ParsedKey::Rsa)
                .map_err(|e| invalid(format!("neither Ed25519 nor RSA ({e})")))
        }
        PrivateKeyDer::Pkcs1(_) => RsaKey::<Sha256>::from_key_der(der)
            .map(ParsedKey::Rsa)
            .map_err(|e| invalid(e.to_string())),
        _ => Err(invalid(
            "unsupported key type (DKIM signs with RSA or Ed25519)".to_string(),
        )),
    }
}

/// A 2048-bit RSA key as PKCS#8 PEM, and its SubjectPublicKeyInfo.
fn generate_rsa() -> Result<(String, Vec<u8>), DkimError> {
    let failed = |e: &dyn fmt::Display| DkimError::Generate(e.to_string());
    let key = rsa::PrivateKey::new(&mut getrandom::SysRng, RSA_BITS).map_err(|e| failed(&e))?;
    let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| failed(&e))?;
    let public = key
        .to_public_key()
        .to_public_key_der()
        .map_err(|e| failed(&e))?;
    Ok((pem.to_string(), public.as_bytes().to_vec()))
}

/// An Ed25519 key (from ring) as PKCS#8 PEM, and its raw 32-byte public key.
fn generate_ed25519() -> Result<(String, Vec<u8>), DkimError> {
    let failed = |e: &dyn fmt::Display| DkimError::Generate(e.to_string());
    let der = Ed25519Key::generate_pkcs8().map_err(|e| failed(&e))?;
    let public = Ed25519Key::from_pkcs8_der(&der)
        .map_err(|e| failed(&e))?
        .public_key();
    let pem = SecretDocument::try_from(der.as_slice())
        .and_then(|doc| doc.to_pem("PRIVATE KEY", LineEnding::LF))
        .map_err(|e| failed(&e))?;
    Ok((pem.to_string(), public))
}

fn key_info(
    domain: String,
    selector: String,
    algorithm: Algorithm,
    path: PathBuf,
    public_key: &[u8],
) -> KeyInfo {
    let encoded = Base64Encoder::new().encode(public_key).unwrap_or_default();
    let txt = format!(
        "v=DKIM1; k={}; p={}",
        algorithm.key_type(),
        String::from_utf8_lossy(&encoded)
    );
    KeyInfo {
        dns_name: format!("{selector}._domainkey.{domain}"),
        domain,
        selector,
        algorithm,
        path,
        txt,
    }
}

/// Writes the key next to its final name and links it into place: with `overwrite` a rename
/// (atomic replacement), without it a hard link, which fails rather than replace a key that
/// appeared since the check.
fn write_key_file(
    domain_dir: &Path,
    selector: &str,
    path: &Path,
    pem: &[u8],
    overwrite: bool,
) -> Result<(), DkimError> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let temp = domain_dir.join(format!(
        ".{selector}{KEY_SUFFIX}.{}.{nanos}.tmp",
        std::process::id()
    ));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(pem)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(io_error(&temp)(e));
    }
    let placed = if overwrite {
        fs::rename(&temp, path)
    } else {
        let linked = fs::hard_link(&temp, path);
        let _ = fs::remove_file(&temp);
        linked
    };
    match placed {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(DkimError::KeyExists {
                path: path.to_path_buf(),
            })
        }
        Err(e) => {
            let _ = fs::remove_file(&temp);
            return Err(io_error(path)(e));
        }
    }
    File::open(domain_dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(domain_dir))
}

/// One `<domain>/<selector>.pem` under the key directory.
struct KeyFile {
    domain: String,
    selector: String,
    path: PathBuf,
}

/// The key files under `dir`, sorted by domain and selector.
fn key_files(dir: &Path) -> Result<Vec<KeyFile>, DkimError> {
    let domains = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(dir)(e)),
    };
    let mut files = Vec::new();
    for entry in domains {
        let entry = entry.map_err(io_error(dir))?;
        let domain_dir = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Ok(domain) = signing_domain(&name) else {
            continue;
        };
        if domain != name || !domain_dir.is_dir() {
            continue;
        }
        for file in fs::read_dir(&domain_dir).map_err(io_error(&domain_dir))? {
            let file = file.map_err(io_error(&domain_dir))?;
            let Some(file_name) = file.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let Some(stem) = file_name.strip_suffix(KEY_SUFFIX) else {
                continue;
            };
            match selector_name(stem, &domain) {
                Ok(selector) if selector == stem => files.push(KeyFile {
                    domain: domain.clone(),
                    selector,
                    path: file.path(),
                }),
                _ => {
                    if !file_name.starts_with('.') {
                        tracing::warn!(path = %file.path().display(), "ignoring a DKIM key file whose name is not a valid selector");
                    }
                }
            }
        }
    }
    files.sort_by(|a, b| (&a.domain, &a.selector).cmp(&(&b.domain, &b.selector)));
    Ok(files)
}

fn read_key_file(path: &Path) -> Result<Vec<u8>, DkimError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(MAX_KEY_FILE + 1).read_to_end(&mut bytes))
        .map_err(io_error(path))?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(DkimError::InvalidKey {
            path: path.to_path_buf(),
            reason: format!("larger than {MAX_KEY_FILE} bytes"),
        });
    }
    Ok(bytes)
}

fn warn_if_readable_by_others(path: &Path) {
    if let Ok(meta) = fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{:o}", meta.permissions().mode() & 0o777), "DKIM private key is accessible to other users; chmod 600 it");
        }
    }
}

/// Validates and lower-cases a signing domain: dot-separated DNS labels, at least two.
fn signing_domain(name: &str) -> Result<String, DkimError> {
    let invalid = |reason| DkimError::InvalidDomain {
        name: name.to_string(),
        reason,
    };
    let domain = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    dns_labels(&domain).map_err(invalid)?;
    if !domain.contains('.') {
        return Err(invalid("a signing domain has at least two labels"));
    }
    if domain.len() > 253 {
        return Err(invalid("longer than 253 characters"));
    }
    Ok(domain)
}

/// Validates and lower-cases a selector (RFC 6376 §3.1: dot-separated sub-domains), checking
/// that its DNS name under `domain` stays within the 253-character limit.
fn selector_name(name: &str, domain: &str) -> Result<String, DkimError> {
    let selector = name.to_ascii_lowercase();
    dns_labels(&selector).map_err(|reason| DkimError::InvalidSelector {
        name: name.to_string(),
        reason,
    })?;
    if selector.len() + "._domainkey.".len() + domain.len() > 253 {
        return Err(DkimError::InvalidSelector {
            name: name.to_string(),
            reason: "its DNS name would be longer than 253 characters",
        });
    }
    Ok(selector)
}

/// Checks RFC 5321 sub-domain syntax for each label: letters, digits and inner hyphens, 1 to 63
/// characters. Excludes everything a path could be made of (`/`, `..`, empty names).
fn dns_labels(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty");
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("empty label");
        }
        if label.len() > 63 {
            return Err("label longer than 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err("only letters, digits, hyphens and dots are allowed");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label cannot start or end with a hyphen");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_parses_cli_spellings_and_displays_key_type() {
        assert_eq!("rsa".parse::<Algorithm>().ok(), Some(Algorithm::Rsa2048));
        assert_eq!(
            "RSA2048".parse::<Algorithm>().ok(),
            Some(Algorithm::Rsa2048)
        );
        assert_eq!(
            "ed25519".parse::<Algorithm>().ok(),
            Some(Algorithm::Ed25519)
        );
        assert!("dsa".parse::<Algorithm>().is_err());
        assert_eq!(Algorithm::Rsa2048.to_string(), "rsa");
        assert_eq!(Algorithm::Ed25519.to_string(), "ed25519");
    }

    #[test]
    fn loaded_keys_can_be_shared_between_tasks() {
        fn shareable<T: Send + Sync + Clone + 'static>() {}
        shareable::<DkimKeys>();
    }

    #[test]
    fn domain_and_selector_syntax() {
        assert_eq!(
            signing_domain("Example.COM.").ok().as_deref(),
            Some("example.com")
        );
        assert_eq!(
            signing_domain("xn--bcher-kva.example").ok().as_deref(),
            Some("xn--bcher-kva.example")
        );
        for bad in [
            "",
            "com",
            "..",
            "../etc",
            "a/b.com",
            "a..b.com",
            "-a.com",
            "a-.com",
            "a b.com",
            ".example.com",
        ] {
            assert!(signing_domain(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            selector_name("2024.Rsa", "example.com").ok().as_deref(),
            Some("2024.rsa")
        );
        for bad in ["", ".", "..", "a/b", "_dmarc", "sel.", "x\0y"] {
            assert!(
                selector_name(bad, "example.com").is_err(),
                "{bad:?} accepted"
            );
        }
        assert!(selector_name(&"a".repeat(63), &format!("{}.com", "b".repeat(200))).is_err());
    }
}
