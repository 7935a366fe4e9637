//! The configuration file's shape. Every key has a safe default, so an empty file (or none) works;
//! unknown keys are an error so a typo never silently falls back to a default.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The name this server uses in greetings, `Received` headers and its certificate.
    pub hostname: String,
    pub smtp: SmtpConfig,
    pub submission: SubmissionConfig,
    pub imap: ImapConfig,
    pub http: HttpConfig,
    pub tls: TlsConfig,
    pub auth: AuthConfig,
    pub retention: RetentionConfig,
    pub scan: ScanConfig,
    pub dlp: DlpConfig,
    pub outbound: OutboundConfig,
    pub sending: SendingConfig,
    pub alerts: AlertsConfig,
    pub archive: ArchiveConfig,
    pub audit: AuditConfig,
    pub log: LogConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            hostname: "localhost".into(),
            smtp: SmtpConfig::default(),
            submission: SubmissionConfig::default(),
            imap: ImapConfig::default(),
            http: HttpConfig::default(),
            tls: TlsConfig::default(),
            auth: AuthConfig::default(),
            retention: RetentionConfig::default(),
            scan: ScanConfig::default(),
            dlp: DlpConfig::default(),
            outbound: OutboundConfig::default(),
            sending: SendingConfig::default(),
            alerts: AlertsConfig::default(),
            archive: ArchiveConfig::default(),
            audit: AuditConfig::default(),
            log: LogConfig::default(),
        }
    }
}

/// The inbound (MX) SMTP listener and the limits it enforces on every peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    pub listen: String,
    /// Largest message accepted, in bytes (advertised as SIZE).
    pub max_message_size: u64,
    /// Recipients per transaction; more get `452 4.5.3`.
    pub max_recipients: usize,
    /// Simultaneous connections in total.
    pub max_connections: usize,
    /// Simultaneous connections from one IP address.
    pub max_connections_per_ip: usize,
    /// Seconds a peer may stay silent before it is disconnected.
    pub idle_timeout_secs: u64,
    /// Longest command line in bytes, CRLF included (RFC 5321 requires at least 512).
    pub max_command_line: usize,
    /// Longest line inside DATA, in bytes. RFC 5322 says 998, real mail is often longer.
    pub max_data_line: usize,
    /// Protocol errors tolerated before the peer is disconnected with `421`.
    pub max_errors: u32,
    /// Seconds in-flight transactions get to finish after SIGTERM.
    pub shutdown_grace_secs: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            listen: "0.0.0.0:2525".into(),
            max_message_size: 50 * 1024 * 1024,
            max_recipients: 100,
            max_connections: 1000,
            max_connections_per_ip: 20,
            idle_timeout_secs: 300,
            max_command_line: 2048,
            max_data_line: 64 * 1024,
            max_errors: 10,
            shutdown_grace_secs: 30,
        }
    }
}

/// Authenticated submission for users' mail clients: AUTH only under TLS, senders may use only
/// their own addresses, remote recipients are queued for outbound delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubmissionConfig {
    /// STARTTLS port (RFC 6409); empty to disable.
    pub listen: String,
    /// Implicit-TLS port (RFC 8314); empty to disable.
    pub listen_tls: String,
    /// File a copy of each sent message in the sender's `Sent` folder.
    pub save_sent: bool,
}

impl Default for SubmissionConfig {
    fn default() -> Self {
        SubmissionConfig {
            listen: "0.0.0.0:5587".into(),
            listen_tls: "0.0.0.0:4465".into(),
            save_sent: true,
        }
    }
}

/// The HTTP listener: JSON API now, console and webmail later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Empty to disable.
    pub listen: String,
    /// Serve HTTPS with the server certificate (`[tls]`). Turn off only behind a TLS proxy.
    pub tls: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "127.0.0.1:8080".into(),
            tls: true,
        }
    }
}

/// Logins on every door: sessions, step-up challenges, trust after approval, brute-force limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Lifetime of an API session, in seconds.
    pub session_ttl_secs: i64,
    /// How long a sign-in challenge (TOTP or approval) stays open, in seconds.
    pub challenge_ttl_secs: i64,
    /// Days an approved IP address or device is trusted (no novelty challenges).
    pub trust_days: u32,
    /// Where users approve sign-ins; quoted to SMTP/IMAP clients. Default:
    /// `https://<hostname>/approve`.
    pub approve_url: Option<String>,
    /// MaxMind-format (GeoLite2/DB-IP City or ASN) `.mmdb` files, or CSV files
    /// (`cidr,asn,asn_name,country,region,city`), for country/ASN of login addresses.
    pub geoip: Vec<PathBuf>,
    /// Threat feeds: files of IP addresses or networks (one per line, `#` comments) known for
    /// attacks; logins from them score higher. Read at start.
    pub threat_ips: Vec<PathBuf>,
    /// Login policies applied at every start (see `rampart policy import`); scopes it names
    /// are replaced, others (set with `rampart policy set`) are kept.
    pub policy_file: Option<PathBuf>,
    /// Password hashes verified at once; 0 means one per CPU core. More wait, and a flood
    /// beyond that is refused as busy.
    pub hash_concurrency: usize,
    /// Failures of one account from one IP before that pair is locked (never the account
    /// itself: an attacker must not be able to lock users out).
    pub lockout_failures: u32,
    /// Seconds the account+IP pair stays locked.
    pub lockout_secs: u64,
    /// Delay before answering the first failure past three, in milliseconds; it doubles with
    /// each further failure of the same account from the same address, up to the maximum.
    pub failure_delay_ms: u64,
    pub max_failure_delay_ms: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            session_ttl_secs: 8 * 3600,
            challenge_ttl_secs: 600,
            trust_days: 30,
            approve_url: None,
            geoip: Vec::new(),
            threat_ips: Vec::new(),
            policy_file: None,
            hash_concurrency: 0,
            lockout_failures: 10,
            lockout_secs: 900,
            failure_delay_ms: 1000,
            max_failure_delay_ms: 30_000,
        }
    }
}

/// Certificate for STARTTLS/TLS. Without paths, a self-signed certificate for `hostname` is created
/// under the data directory on first run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days a deleted message stays recoverable before the purge job removes it.
    pub deleted_days: u32,
    /// How often `serve` runs the purge job, in seconds.
    pub purge_interval_secs: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            deleted_days: 7,
            purge_interval_secs: 3600,
        }
    }
}

/// The content pipeline: which checks run and what the policy does with their findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScanConfig {
    /// Run the pipeline on inbound SMTP mail.
    pub enabled: bool,
    /// clamd socket: a path (`/run/clamav/clamd.ctl`) or `host:port`. Empty: no clamd.
    pub clamd: String,
    /// When clamd is configured but unreachable: `false` lets mail through (with a finding),
    /// `true` quarantines it.
    pub clamd_fail_closed: bool,
    /// Extra SHA-256 signatures, one `sha256 name` per line.
    pub hash_signatures: Option<PathBuf>,
    /// URL/domain/IP blocklist files (one entry per line; `*.manifest.txt` lists part files).
    /// Reloaded when they change.
    pub blocklists: Vec<PathBuf>,
    /// Brand domains protected against lookalikes, in addition to the local domains and a
    /// built-in list of commonly phished brands.
    pub brands: Vec<String>,
    /// Display names of people outsiders impersonate (executives, finance). Internal account
    /// names are protected too.
    pub vips: Vec<String>,
    /// Run the spam classifier.
    pub spam: bool,
    /// A spam model file (`rampart train spam`); without one, the model built into the binary.
    pub spam_model: Option<PathBuf>,
    pub dns: DnsConfig,
    pub policy: PolicyConfig,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            enabled: true,
            clamd: String::new(),
            clamd_fail_closed: false,
            hash_signatures: None,
            blocklists: Vec::new(),
            brands: Vec::new(),
            vips: Vec::new(),
            spam: true,
            spam_model: None,
            dns: DnsConfig::default(),
            policy: PolicyConfig::default(),
        }
    }
}

/// DNS for sender authentication (SPF, DKIM, DMARC, ARC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsConfig {
    /// Check SPF/DKIM/DMARC/ARC on inbound mail.
    pub enabled: bool,
    /// Resolvers as `ip:port`; empty uses the system's (/etc/resolv.conf).
    pub nameservers: Vec<String>,
    /// Milliseconds per query before the result is a temporary error.
    pub timeout_ms: u64,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            enabled: true,
            nameservers: Vec::new(),
            timeout_ms: 3000,
        }
    }
}

/// Turns findings into an action: score thresholds, then named findings that force an action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Total score at which each action starts (inbound).
    pub tag_score: f32,
    pub junk_score: f32,
    pub quarantine_score: f32,
    pub reject_score: f32,
    /// Outbound: score at which mail is held for verification, and blocked.
    pub hold_score: f32,
    pub block_score: f32,
    /// Prepended to the Subject of tagged and junked mail; empty for none.
    pub subject_prefix: String,
    /// Findings (exact name, or a family such as `av`) that force at least this action,
    /// e.g. `"av.virus" = "reject"`.
    pub actions: std::collections::BTreeMap<String, crate::Action>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        use crate::Action::*;
        let actions = [
            ("av.virus", Reject),
            ("url.blocklisted", Reject),
            ("auth.dmarc_reject", Reject),
            ("auth.dmarc_quarantine", Junk),
            ("av.unavailable_fail_closed", Quarantine),
            ("file.executable", Quarantine),
            ("file.script", Quarantine),
            ("file.shortcut", Quarantine),
            ("file.hta", Quarantine),
            ("file.chm", Quarantine),
            ("file.msi", Quarantine),
            ("file.disk_image", Quarantine),
            ("file.macro", Quarantine),
            ("file.html_smuggling", Quarantine),
            ("file.archive_bomb", Quarantine),
            ("content.gtube", Reject),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        PolicyConfig {
            tag_score: 3.0,
            junk_score: 6.0,
            quarantine_score: 12.0,
            reject_score: 20.0,
            hold_score: 8.0,
            block_score: 20.0,
            subject_prefix: String::new(),
            actions,
        }
    }
}

/// Data-leak prevention on outbound mail: detectors, admin dictionaries and patterns, and the
/// rules that decide what happens to a message carrying sensitive data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DlpConfig {
    pub enabled: bool,
    /// Minutes a message held for the sender's verification waits; then it is returned to the
    /// sender unsent.
    pub hold_minutes: u64,
    /// Admin word lists (e.g. project code names). Matches are `keyword:<name>` entities.
    pub dictionaries: Vec<DlpDictionary>,
    /// Admin regular expressions. Matches are `pattern:<name>` entities.
    pub patterns: Vec<DlpPattern>,
    /// Evaluated all together; the strongest action of the rules that match wins.
    pub rules: Vec<DlpRule>,
}

impl Default for DlpConfig {
    fn default() -> Self {
        DlpConfig {
            enabled: true,
            hold_minutes: 24 * 60,
            dictionaries: Vec::new(),
            patterns: Vec::new(),
            rules: DlpRule::defaults(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DlpDictionary {
    pub name: String,
    pub words: Vec<String>,
    #[serde(default)]
    pub case_sensitive: bool,
    /// `low`, `medium` or `high`.
    #[serde(default = "medium")]
    pub confidence: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DlpPattern {
    pub name: String,
    pub regex: String,
    #[serde(default = "medium")]
    pub confidence: String,
}

fn medium() -> String {
    "medium".into()
}

fn outbound() -> String {
    "outbound".into()
}

fn one() -> u32 {
    1
}

/// When a rule matches: enough matches of its entities at its confidence, in mail going its
/// direction, to its kind of recipients, from its kind of sender.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DlpRule {
    pub name: String,
    /// Entity names (`CN_RESIDENT_ID`, `CN_BANK_CARD`, `CREDIT_CARD`, `CN_MOBILE`, `CN_USCC`,
    /// `CN_PASSPORT`, `US_SSN`, `IBAN_CODE`, `EMAIL_ADDRESS`, `keyword:<dictionary>`,
    /// `pattern:<name>`) or `unreadable_attachment` (encrypted, corrupt or over the caps).
    pub entities: Vec<String>,
    /// `low`, `medium` or `high`.
    #[serde(default = "medium")]
    pub min_confidence: String,
    /// Matches (all listed entities together) needed.
    #[serde(default = "one")]
    pub min_count: u32,
    /// `outbound`, `inbound` or `any`.
    #[serde(default = "outbound")]
    pub direction: String,
    /// Only when some recipient is outside the local domains.
    #[serde(default)]
    pub external_only: bool,
    /// Only senders of these departments / job levels (empty: everyone).
    #[serde(default)]
    pub departments: Vec<String>,
    #[serde(default)]
    pub levels: Vec<String>,
    /// `allow`, `notify` (deliver and tell the sender), `hold_sender` (held until the sender
    /// verifies with a second factor), `hold_admin` (held for an administrator), `block`.
    pub action: String,
    /// Also alert administrators (an event and an error-level log line).
    #[serde(default)]
    pub alert: bool,
    /// Shown to the sender: why, and what to do instead.
    #[serde(default)]
    pub tip: String,
}

impl DlpRule {
    /// Mail to outside recipients with one or more high-confidence resident ID or bank card
    /// numbers is held until the sender verifies; ten or more are blocked and alerted.
    pub fn defaults() -> Vec<DlpRule> {
        let ids = vec!["CN_RESIDENT_ID".to_string(), "CN_BANK_CARD".to_string()];
        vec![
            DlpRule {
                name: "ids-or-cards-outside".into(),
                entities: ids.clone(),
                min_confidence: "high".into(),
                min_count: 1,
                direction: "outbound".into(),
                external_only: true,
                departments: Vec::new(),
                levels: Vec::new(),
                action: "hold_sender".into(),
                alert: false,
                tip: "This message carries resident ID or bank card numbers to outside recipients. Confirm with your second factor that you mean to send it.".into(),
            },
            DlpRule {
                name: "bulk-ids-or-cards-outside".into(),
                entities: ids,
                min_confidence: "high".into(),
                min_count: 10,
                direction: "outbound".into(),
                external_only: true,
                departments: Vec::new(),
                levels: Vec::new(),
                action: "block".into(),
                alert: true,
                tip: "Ten or more resident ID or bank card numbers may not leave by mail. Use the approved secure transfer, or ask the data protection officer.".into(),
            },
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `rampart_smtp=debug,info`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

/// IMAP for mail clients: STARTTLS and implicit TLS listeners (an empty address turns one off).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImapConfig {
    pub listen: String,
    pub listen_tls: String,
    /// Connections at once, in total and from one IP address.
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
}

impl Default for ImapConfig {
    fn default() -> Self {
        ImapConfig {
            listen: "0.0.0.0:1143".into(),
            listen_tls: "0.0.0.0:1993".into(),
            max_connections: 10_000,
            max_connections_per_ip: 50,
        }
    }
}

/// Outbound delivery: where remote mail goes, how hard to try, and how it is protected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundConfig {
    /// Deliver at all (the queue still fills when off; `rampart queue` shows it).
    pub enabled: bool,
    /// Send everything through this smart host (`host:port`) instead of looking up MX records.
    pub relay: Option<String>,
    /// Per-domain next hops (`"example.net" = "127.0.0.1:2526"`) that replace the MX lookup:
    /// for tests, and for partner domains reached over a private link.
    pub mx_override: std::collections::BTreeMap<String, String>,
    /// Port for MX hosts (25; only tests change it).
    pub port: u16,
    /// Deliveries in flight at once, over all destinations.
    pub concurrency: usize,
    /// Deliveries in flight at once to one destination domain.
    pub per_domain_concurrency: usize,
    /// First retry after this many seconds; each later one waits twice as long, up to
    /// `max_retry_secs`.
    pub retry_secs: u64,
    pub max_retry_secs: u64,
    /// After this many hours of temporary failures a message bounces to its sender.
    pub give_up_hours: u64,
    /// Tell the sender once when a message has waited this long (0: never).
    pub delay_notice_hours: u64,
    /// `opportunistic` (STARTTLS when offered, unverified: RFC 7435), `verify` (STARTTLS with a
    /// valid certificate for every destination) or `none` (tests only).
    pub tls: String,
    /// Honour published MTA-STS policies (RFC 8461).
    pub mta_sts: bool,
    /// Honour DNSSEC-signed TLSA records (DANE, RFC 7672).
    pub dane: bool,
    /// PEM files of extra trust anchors for verified TLS (private CAs; tests).
    pub extra_roots: Vec<PathBuf>,
    /// Where DKIM private keys live (`<dir>/<domain>/<selector>.pem`); relative to the data
    /// directory. `rampart dkim generate` writes here.
    pub dkim_dir: PathBuf,
    /// Seconds for connecting, and for each SMTP reply.
    pub connect_timeout_secs: u64,
    pub command_timeout_secs: u64,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            enabled: true,
            relay: None,
            mx_override: Default::default(),
            port: 25,
            concurrency: 64,
            per_domain_concurrency: 8,
            retry_secs: 300,
            max_retry_secs: 4 * 3600,
            give_up_hours: 5 * 24,
            delay_notice_hours: 4,
            tls: "opportunistic".into(),
            mta_sts: true,
            dane: true,
            extra_roots: Vec::new(),
            dkim_dir: PathBuf::from("dkim"),
            connect_timeout_secs: 30,
            command_timeout_secs: 300,
        }
    }
}

/// Sending limits for one scope; a limit left out is taken from the next wider scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SendLimits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages_per_hour: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages_per_day: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipients_per_message: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_recipients_per_day: Option<u32>,
}

/// Sending-behaviour control: quotas by organisation, department, job level and user (the most
/// specific scope that sets a limit wins), and spike detection against each account's baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SendingConfig {
    pub enabled: bool,
    pub org: SendLimits,
    pub departments: std::collections::BTreeMap<String, SendLimits>,
    pub levels: std::collections::BTreeMap<String, SendLimits>,
    /// Keyed by account address.
    pub users: std::collections::BTreeMap<String, SendLimits>,
    /// A spike is an hour with more than this many times the account's baseline for that hour
    /// of the week (6.0 = +500%).
    pub spike_factor: f64,
    /// Hours below this many messages (or ten times as many recipients) are never a spike.
    pub spike_min_messages: u32,
    /// Weight of the newest week in the hour-of-week baseline (exponential smoothing).
    pub baseline_alpha: f64,
    /// Time zone for hour-of-week and the day's limits (IANA name).
    pub timezone: String,
}

impl Default for SendingConfig {
    fn default() -> Self {
        SendingConfig {
            enabled: true,
            org: SendLimits {
                messages_per_hour: Some(300),
                messages_per_day: Some(2000),
                recipients_per_message: Some(500),
                external_recipients_per_day: Some(2000),
            },
            departments: Default::default(),
            levels: Default::default(),
            users: Default::default(),
            spike_factor: 6.0,
            spike_min_messages: 30,
            baseline_alpha: 0.3,
            timezone: "UTC".into(),
        }
    }
}

/// Where security alerts go. Every alert is also an event; sinks are extra.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// JSON POST to this URL (http or https).
    pub webhook_url: Option<String>,
    /// When set, each POST carries `X-Rampart-Signature: sha256=<HMAC of the body>`.
    pub webhook_secret: Option<String>,
    /// Mail each alert to this address.
    pub admin_address: Option<String>,
    /// Append each alert as one JSON line to this file.
    pub jsonl_path: Option<PathBuf>,
    /// Send each alert to syslog: a Unix socket path (`/dev/log`) or `udp:HOST:PORT`.
    pub syslog: Option<String>,
    /// Alerts with the same key within this many minutes are sent once (and counted).
    pub dedup_minutes: u64,
    /// At most this many alerts per minute per sink; the rest are counted and summarised.
    pub max_per_minute: u32,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            webhook_url: None,
            webhook_secret: None,
            admin_address: None,
            jsonl_path: None,
            syslog: None,
            dedup_minutes: 60,
            max_per_minute: 20,
        }
    }
}

/// The mail archive (journal): every message accepted inbound or sent outbound, kept for its
/// retention period whatever users delete, searchable by auditors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArchiveConfig {
    /// Journal accepted and sent mail. Off, nothing new is archived (entries already there keep
    /// their retention).
    pub enabled: bool,
    /// Days an archived message is kept (2557: seven years).
    pub retention_days: u32,
    /// Longer or shorter retention for some domains or departments. A message concerning several
    /// accounts is kept for the longest period any of them needs.
    pub rules: Vec<RetentionRule>,
    /// The search index, relative to the data directory. Rebuilt from the archive when missing.
    pub index_dir: PathBuf,
    /// How often `serve` runs the archive retention job, in seconds.
    pub retention_interval_secs: u64,
    /// How often `serve` brings the search index up to date, in seconds. Each round commits a
    /// segment tantivy later merges: fewer rounds cost the mail flow less CPU under load;
    /// searches see new mail this much later.
    pub index_interval_secs: u64,
}

impl Default for ArchiveConfig {
    fn default() -> Self {
        ArchiveConfig {
            enabled: true,
            retention_days: 2557,
            rules: Vec::new(),
            index_dir: PathBuf::from("archive-index"),
            retention_interval_secs: 86_400,
            index_interval_secs: 10,
        }
    }
}

/// Retention for one domain or one department (set exactly one of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRule {
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    pub days: u32,
}

impl ArchiveConfig {
    /// Days an entry concerning these accounts (address, department) is kept: the longest rule
    /// any of them matches (a department rule before a domain rule), the default for the rest.
    pub fn retention_days_for<'a>(
        &self,
        parties: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> u32 {
        let mut days: Option<u32> = None;
        let mut any = false;
        for (address, department) in parties {
            any = true;
            let domain = address.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
            let by_department = department.and_then(|dep| {
                self.rules
                    .iter()
                    .filter(|r| {
                        r.department
                            .as_deref()
                            .is_some_and(|d| d.eq_ignore_ascii_case(dep))
                    })
                    .map(|r| r.days)
                    .max()
            });
            let by_domain = || {
                self.rules
                    .iter()
                    .filter(|r| {
                        r.domain
                            .as_deref()
                            .is_some_and(|d| d.eq_ignore_ascii_case(domain))
                    })
                    .map(|r| r.days)
                    .max()
            };
            let d = by_department
                .or_else(by_domain)
                .unwrap_or(self.retention_days);
            days = Some(days.map_or(d, |x| x.max(d)));
        }
        if !any {
            return self.retention_days;
        }
        days.unwrap_or(self.retention_days)
    }

    /// Rules must name exactly one of domain or department.
    pub fn validate(&self) -> Result<(), String> {
        for (i, r) in self.rules.iter().enumerate() {
            if r.domain.is_some() == r.department.is_some() {
                return Err(format!(
                    "archive.rules[{i}]: set exactly one of `domain` or `department`"
                ));
            }
        }
        Ok(())
    }
}

/// The tamper-evident audit trail: every event is hash-chained in the store; checkpoints of the
/// chain are signed with an Ed25519 key; a forwarder copies events to a SIEM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// The Ed25519 signing key (PKCS#8), relative to the data directory; created on first use
    /// with mode 0600. Keep a copy of its public key (`rampart audit key`) somewhere the server
    /// cannot write, and verify with `--public-key`.
    pub signing_key: PathBuf,
    /// Sign a checkpoint at least this often while events arrive, in seconds.
    pub checkpoint_secs: u64,
    /// Forward every event, in order and at least once, as one JSON line appended to this file.
    pub forward_jsonl: Option<PathBuf>,
    /// Forward every event to syslog (RFC 5424): a Unix socket path (`/dev/log`) or
    /// `udp:HOST:PORT`.
    pub forward_syslog: Option<String>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            signing_key: PathBuf::from("audit/signing.key"),
            checkpoint_secs: 300,
            forward_jsonl: None,
            forward_syslog: None,
        }
    }
}
