//! Blocklists of phishing domains, URLs and IPs, in the one-entry-per-line format of feeds such as
//! Phishing.Database, with hot reload.
//!
//! A list file holds one entry a line: a URL (`https://evil.test/login.php`), an IP address or a
//! domain (`evil.test`, which also covers its subdomains; a hosts-file line `0.0.0.0 evil.test`
//! works too). Empty lines and lines starting with `#` or `!` are skipped. A file named
//! `*.manifest.txt` lists part files instead, relative to itself, one per line.
//!
//! Entries are stored as sorted 64-bit hashes (8 bytes each, binary search), so a list of a
//! million entries costs 8 MB, and a lookup a few dozen nanoseconds. Domain entries that would
//! block a whole hosting platform (a public suffix such as `github.io`, or a shared host such as
//! `sites.google.com`) are dropped and counted in [`BlocklistStats::too_broad`]: one phishing page
//! there must not make every page there "conclusively" phishing.

use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use url::Url;

use crate::domain::registrable_or_host;
use crate::policy::SHORTENERS;
use crate::Link;

/// Hosts shared by many unrelated sites: a feed that lists one of them as a whole is wrong.
#[rustfmt::skip]
const SHARED_HOSTS: &[&str] = &[
    "sites.google.com", "docs.google.com", "drive.google.com", "forms.gle",
    "storage.googleapis.com", "firebasestorage.googleapis.com", "script.google.com", "telegra.ph",
    "graph.org", "forms.office.com", "onedrive.live.com", "1drv.ms", "sharepoint.com",
    "dropbox.com", "github.com", "gist.github.com", "raw.githubusercontent.com", "ipfs.io",
    "dweb.link", "cloudflare-ipfs.com", "s3.amazonaws.com", "blob.core.windows.net",
    "web.core.windows.net", "notion.site", "canva.com", "wixsite.com", "weebly.com", "google.com",
    "microsoft.com",
];

/// The longest line looked at; longer lines are not entries of these formats.
const MAX_LINE: usize = 8 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BlocklistError {
    #[error("cannot read blocklist file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// What a load read and what it dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlocklistStats {
    pub domains: usize,
    pub urls: usize,
    pub ips: usize,
    /// Lines that are none of a domain, a URL or an IP address.
    pub invalid: usize,
    /// Domain entries dropped because they would block a whole platform (see the module doc).
    pub too_broad: usize,
    /// Part files that a manifest names but that do not exist: the list is incomplete.
    pub missing_parts: Vec<PathBuf>,
    /// Approximate heap bytes of the loaded entries.
    pub bytes: usize,
}

/// Why a link is listed (evidence for `url.blocklisted`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockMatch {
    /// The listed domain that covers the link's host.
    Domain(String),
    Url(String),
    Ip(IpAddr),
}

impl fmt::Display for BlockMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockMatch::Domain(domain) => write!(f, "listed domain {domain}"),
            BlockMatch::Url(url) => write!(f, "listed URL {url}"),
            BlockMatch::Ip(ip) => write!(f, "listed IP {ip}"),
        }
    }
}

/// One immutable generation of a blocklist.
#[derive(Debug, Clone, Default)]
pub struct BlocklistSet {
    domains: Vec<u64>,
    urls: Vec<u64>,
    ips: Vec<IpAddr>,
    stats: BlocklistStats,
}

fn hash(s: &str) -> u64 {
    // SipHash with fixed keys: the same in every process run, and an attacker cannot make a
    // benign URL collide with a listed one in 2^64 / (list size) tries.
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// The form of a serialised URL that list entries and links are compared in: no scheme, no
/// fragment, no trailing slash (`https://evil.test/a/?q#f` is `evil.test/a?q`).
fn url_key(serialised: &str) -> String {
    let s = serialised
        .split_once("://")
        .map_or(serialised, |(_, rest)| rest);
    let s = s.split('#').next().unwrap_or(s);
    let (before_query, query) = match s.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (s, None),
    };
    let mut key = before_query
        .strip_suffix('/')
        .unwrap_or(before_query)
        .to_string();
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        key.push('?');
        key.push_str(q);
    }
    key
}

impl BlocklistSet {
    /// A set from entries in memory (tests, entries from the intel store).
    pub fn from_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Self {
        let mut set = BlocklistSet::default();
        for line in lines {
            set.add_line(line);
        }
        set.seal();
        set
    }

    fn add_line(&mut self, line: &str) {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', '!']) {
            return;
        }
        if line.len() > MAX_LINE {
            self.stats.invalid += 1;
            return;
        }
        let mut words = line.split_whitespace();
        let mut entry = words.next().unwrap_or("");
        // Hosts-file form: `0.0.0.0 evil.test`.
        if matches!(entry, "0.0.0.0" | "127.0.0.1" | "::" | "::1") {
            match words.next() {
                Some(host) => entry = host,
                None => {
                    self.stats.invalid += 1;
                    return;
                }
            }
        }
        if entry.contains("://") {
            match Url::parse(entry) {
                Ok(url) if url.host_str().is_some() => {
                    self.urls.push(hash(&url_key(url.as_str())));
                }
                _ => self.stats.invalid += 1,
            }
            return;
        }
        if let Ok(ip) = entry.trim_matches(['[', ']']).parse::<IpAddr>() {
            self.ips.push(ip);
            return;
        }
        match normalise_domain(entry) {
            Some(domain) if is_too_broad(&domain) => self.stats.too_broad += 1,
            Some(domain) => self.domains.push(hash(&domain)),
            None => self.stats.invalid += 1,
        }
    }

    fn seal(&mut self) {
        for list in [&mut self.domains, &mut self.urls] {
            list.sort_unstable();
            list.dedup();
            list.shrink_to_fit();
        }
        self.ips.sort_unstable();
        self.ips.dedup();
        self.ips.shrink_to_fit();
        self.stats.domains = self.domains.len();
        self.stats.urls = self.urls.len();
        self.stats.ips = self.ips.len();
        self.stats.bytes = (self.domains.capacity() + self.urls.capacity()) * size_of::<u64>()
            + self.ips.capacity() * size_of::<IpAddr>();
    }

    pub fn stats(&self) -> &BlocklistStats {
        &self.stats
    }

    pub fn is_empty(&self) -> bool {
        self.domains.is_empty() && self.urls.is_empty() && self.ips.is_empty()
    }

    /// The listed domain covering `host` (itself or a parent, down to its registrable domain).
    pub fn listed_domain<'h>(&self, host: &'h str) -> Option<&'h str> {
        if self.domains.is_empty() {
            return None;
        }
        let host = host.trim_end_matches('.');
        let registrable = registrable_or_host(host);
        let mut candidate = host;
        loop {
            if self.domains.binary_search(&hash(candidate)).is_ok() {
                return Some(candidate);
            }
            if candidate.len() <= registrable.len() {
                return None;
            }
            candidate = candidate.split_once('.').map(|(_, rest)| rest)?;
        }
    }

    /// Whether a serialised URL (as in [`Link::url`]) is listed.
    pub fn is_listed_url(&self, url: &str) -> bool {
        !self.urls.is_empty() && self.urls.binary_search(&hash(&url_key(url))).is_ok()
    }

    pub fn is_listed_ip(&self, ip: IpAddr) -> bool {
        self.ips.binary_search(&ip).is_ok()
    }

    /// Why `link` is listed, if it is.
    pub fn check(&self, link: &Link) -> Option<BlockMatch> {
        if link.host.is_empty() {
            return None;
        }
        if self.is_listed_url(&link.url) {
            return Some(BlockMatch::Url(link.url.clone()));
        }
        if let Ok(ip) = link.host.trim_matches(['[', ']']).parse::<IpAddr>() {
            return self.is_listed_ip(ip).then_some(BlockMatch::Ip(ip));
        }
        self.listed_domain(&link.host)
            .map(|d| BlockMatch::Domain(d.to_string()))
    }
}

fn normalise_domain(entry: &str) -> Option<String> {
    let d = entry
        .trim_start_matches("*.")
        .trim_start_matches('.')
        .trim_end_matches('.')
        .to_lowercase();
    let d = d.strip_prefix("www.").map(str::to_string).unwrap_or(d);
    let d = if d.is_ascii() {
        d
    } else {
        idna::domain_to_ascii(&d).ok()?
    };
    let valid = d.contains('.')
        && d.len() <= 253
        && d.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    valid.then_some(d)
}

fn is_too_broad(domain: &str) -> bool {
    psl::suffix_str(domain) == Some(domain)
        || SHARED_HOSTS.contains(&domain)
        || SHORTENERS.contains(&domain)
}

/// A file's identity for change detection: modification time and length, or absent.
type Stamp = (PathBuf, Option<(SystemTime, u64)>);

fn is_manifest(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".manifest.txt") || n.ends_with(".manifest"))
}

fn read(path: &Path) -> Result<String, BlocklistError> {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|source| BlocklistError::Read {
            path: path.to_path_buf(),
            source,
        })
}

fn manifest_parts(manifest: &Path, text: &str) -> Vec<PathBuf> {
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let mut parts: Vec<PathBuf> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let part = dir.join(line);
        if !parts.contains(&part) {
            parts.push(part);
        }
    }
    parts
}

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path)
        .ok()
        .and_then(|m| Some((m.modified().ok()?, m.len())));
    (path.to_path_buf(), meta)
}

/// The files behind `sources` (manifests and their parts) with their current stamps.
fn stamps(sources: &[PathBuf]) -> Vec<Stamp> {
    let mut out = Vec::new();
    for source in sources {
        out.push(stamp(source));
        if is_manifest(source) {
            if let Ok(text) = read(source) {
                out.extend(manifest_parts(source, &text).iter().map(|p| stamp(p)));
            }
        }
    }
    out
}

fn load_sources(sources: &[PathBuf]) -> Result<BlocklistSet, BlocklistError> {
    let mut set = BlocklistSet::default();
    for source in sources {
        let text = read(source)?;
        if !is_manifest(source) {
            text.lines().for_each(|line| set.add_line(line));
            continue;
        }
        for part in manifest_parts(source, &text) {
            match std::fs::read(&part) {
                Ok(bytes) => String::from_utf8_lossy(&bytes)
                    .lines()
                    .for_each(|line| set.add_line(line)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => set.stats.missing_parts.push(part),
                Err(source) => return Err(BlocklistError::Read { path: part, source }),
            }
        }
    }
    set.seal();
    Ok(set)
}

/// A blocklist loaded from files, shared by every scan, reloaded when its files change.
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
/// use rampart_urls::{Blocklist, UrlPolicy};
///
/// let list = Arc::new(
///     Blocklist::load(["/var/lib/rampart/phishing-domains.manifest.txt"])?
///         .with_check_interval(Duration::from_secs(30)),
/// );
/// let policy = UrlPolicy::default().with_blocklist(list.clone());
/// // Per message (cheap: one clock read until the interval has passed):
/// list.reload_if_changed()?;
/// # Ok::<(), rampart_urls::BlocklistError>(())
/// ```
#[derive(Debug)]
pub struct Blocklist {
    sources: Vec<PathBuf>,
    current: RwLock<Arc<BlocklistSet>>,
    stamps: Mutex<Vec<Stamp>>,
    check_every: Duration,
    epoch: Instant,
    /// Milliseconds after `epoch` before which `reload_if_changed` does not look at the files.
    next_check: AtomicU64,
}

impl Blocklist {
    /// Loads list files and manifests. A missing or unreadable file is an error; a missing part
    /// of a manifest is not (feeds publish parts unevenly) and shows in
    /// [`BlocklistStats::missing_parts`].
    pub fn load<I, P>(paths: I) -> Result<Self, BlocklistError>
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        let sources: Vec<PathBuf> = paths.into_iter().map(Into::into).collect();
        let stamps = stamps(&sources);
        let set = load_sources(&sources)?;
        Ok(Blocklist {
            sources,
            current: RwLock::new(Arc::new(set)),
            stamps: Mutex::new(stamps),
            check_every: Duration::from_secs(10),
            epoch: Instant::now(),
            next_check: AtomicU64::new(0),
        })
    }

    /// A fixed list from entries in memory; [`Blocklist::reload_if_changed`] never changes it.
    pub fn from_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Self {
        Blocklist {
            sources: Vec::new(),
            current: RwLock::new(Arc::new(BlocklistSet::from_lines(lines))),
            stamps: Mutex::new(Vec::new()),
            check_every: Duration::from_secs(10),
            epoch: Instant::now(),
            next_check: AtomicU64::new(0),
        }
    }

    /// How often [`Blocklist::reload_if_changed`] looks at the files (default 10 s).
    pub fn with_check_interval(mut self, every: Duration) -> Self {
        self.check_every = every;
        self
    }

    /// The current generation; lookups on it never wait for a reload.
    pub fn snapshot(&self) -> Arc<BlocklistSet> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn stats(&self) -> BlocklistStats {
        self.snapshot().stats().clone()
    }

    /// Reloads if a file changed (modification time or length, a part appearing or vanishing).
    /// Cheap enough to call for every message: between checks it reads the clock and one atomic;
    /// only one caller per interval looks at the files. On a read error the previous generation
    /// stays in force and the error is returned. Returns whether a new generation was loaded.
    pub fn reload_if_changed(&self) -> Result<bool, BlocklistError> {
        if self.sources.is_empty() {
            return Ok(false);
        }
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let due = self.next_check.load(Ordering::Relaxed);
        if now < due {
            return Ok(false);
        }
        let next = now.saturating_add(u64::try_from(self.check_every.as_millis()).unwrap_or(0));
        if self
            .next_check
            .compare_exchange(due, next, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return Ok(false); // another thread is checking
        }
        let fresh = stamps(&self.sources);
        {
            let known = self.stamps.lock().unwrap_or_else(|p| p.into_inner());
            if *known == fresh {
                return Ok(false);
            }
        }
        let set = load_sources(&self.sources)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
        *self.stamps.lock().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(true)
    }

    /// Reloads now, whatever the files' stamps say.
    pub fn reload(&self) -> Result<(), BlocklistError> {
        let fresh = stamps(&self.sources);
        let set = load_sources(&self.sources)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
        *self.stamps.lock().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_urls_without_scheme_fragment_or_trailing_slash() {
        assert_eq!(url_key("https://evil.test/a/?q=1#frag"), "evil.test/a?q=1");
        assert_eq!(url_key("http://evil.test/"), "evil.test");
        assert_eq!(url_key("http://evil.test/?"), "evil.test");
    }

    #[test]
    fn drops_entries_that_would_block_a_platform() {
        let set =
            BlocklistSet::from_lines(["github.io", "sites.google.com", "bit.ly", "evil.test"]);
        assert_eq!(set.stats().too_broad, 3);
        assert_eq!(set.stats().domains, 1);
    }

    #[test]
    fn reads_hosts_file_lines_ips_and_comments() {
        let set = BlocklistSet::from_lines([
            "# comment",
            "0.0.0.0 ads.evil.test",
            "203.0.113.9",
            "[2001:db8::1]",
            "not a domain!",
            "",
        ]);
        assert_eq!(set.listed_domain("x.ads.evil.test"), Some("ads.evil.test"));
        assert!(set.is_listed_ip("203.0.113.9".parse().unwrap()));
        assert!(set.is_listed_ip("2001:db8::1".parse().unwrap()));
        assert_eq!(set.stats().invalid, 1);
    }

    #[test]
    fn never_walks_up_to_the_public_suffix() {
        let set = BlocklistSet::from_lines(["evil.github.io"]);
        assert_eq!(
            set.listed_domain("a.evil.github.io"),
            Some("evil.github.io")
        );
        assert_eq!(set.listed_domain("good.github.io"), None);
    }
}
