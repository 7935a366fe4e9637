use std::path::Path;

use anyhow::Context;
use clap::Subcommand;
use rampart_model::Config;

use crate::Cli;

#[derive(Subcommand)]
pub enum ConfigCmd {
    /// Print a complete, commented example configuration.
    Example,
    /// Load the configuration (from --config, or defaults) and print it as it takes effect.
    Show,
}

pub fn run(cli: &Cli, cmd: &ConfigCmd) -> anyhow::Result<()> {
    match cmd {
        ConfigCmd::Example => print!("{EXAMPLE}"),
        ConfigCmd::Show => {
            let config = load(cli.config.as_deref())?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&config)?);
            } else {
                print!("{}", toml::to_string_pretty(&config)?);
            }
        }
    }
    Ok(())
}

/// The file given with --config, or every default when there is none.
pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
    let Some(path) = path else {
        return Ok(Config::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let config: Config = toml::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "config file {} is not valid: {e}\nhint: `rampart config example` prints every key with its default",
            path.display()
        )
    })?;
    validate(&config)?;
    Ok(config)
}

fn validate(config: &Config) -> anyhow::Result<()> {
    let smtp = &config.smtp;
    if smtp.max_command_line < 512 {
        anyhow::bail!("smtp.max_command_line must be at least 512 (RFC 5321 §4.5.3.1.4)");
    }
    if smtp.max_data_line < 1000 {
        anyhow::bail!("smtp.max_data_line must be at least 1000 (RFC 5321 §4.5.3.1.6)");
    }
    if smtp.max_recipients == 0 || smtp.max_connections == 0 || smtp.max_connections_per_ip == 0 {
        anyhow::bail!(
            "smtp.max_recipients, max_connections and max_connections_per_ip must be at least 1"
        );
    }
    if config.tls.cert.is_some() != config.tls.key.is_some() {
        anyhow::bail!(
            "tls.cert and tls.key go together: set both, or neither for a self-signed certificate"
        );
    }
    if !matches!(config.log.format.as_str(), "text" | "json") {
        anyhow::bail!("log.format must be \"text\" or \"json\"");
    }
    config.archive.validate().map_err(anyhow::Error::msg)?;
    if config.archive.index_interval_secs == 0 {
        anyhow::bail!("archive.index_interval_secs must be at least 1");
    }
    if config.audit.checkpoint_secs == 0 {
        anyhow::bail!("audit.checkpoint_secs must be at least 1");
    }
    Ok(())
}

pub const EXAMPLE: &str = r#"# Rampart configuration. Every key is optional: what is shown is the default.
# Use it with `rampart --config rampart.toml serve`.

# The name this server gives in its SMTP greeting, in Received headers and in its self-signed
# certificate. Set it to the host name your MX record points at.
hostname = "localhost"

[smtp]
# Inbound mail (MX). Port 25 needs privileges; forward 25 to this port or run with CAP_NET_BIND_SERVICE.
listen = "0.0.0.0:2525"
# Largest message accepted, in bytes (advertised as SIZE). 50 MiB.
max_message_size = 52428800
# Recipients per message; more get "452 4.5.3" and the client sends again for the rest.
max_recipients = 100
# Simultaneous connections in total, and from one IP address.
max_connections = 1000
max_connections_per_ip = 20
# Seconds a client may stay silent before it is disconnected ("421 4.4.2").
idle_timeout_secs = 300
# Longest command line, in bytes (RFC 5321 requires at least 512).
max_command_line = 2048
# Longest line inside a message, in bytes. RFC 5322 says 998; real mail is often longer.
max_data_line = 65536
# Protocol errors tolerated before a client is disconnected ("421 4.7.0").
max_errors = 10
# Seconds in-flight transactions get to finish after SIGTERM.
shutdown_grace_secs = 30

[submission]
# Authenticated submission for your users' mail clients. AUTH PLAIN/LOGIN is offered only under
# TLS; users may send only from their own addresses and aliases. Empty disables a port.
# STARTTLS port (RFC 6409; the standard port is 587).
listen = "0.0.0.0:5587"
# Implicit-TLS port (RFC 8314; the standard port is 465).
listen_tls = "0.0.0.0:4465"
# Keep a copy of each sent message in the sender's Sent folder.
save_sent = true

[imap]
# IMAP for mail clients: STARTTLS on `listen`, TLS from the first byte on `listen_tls`. Logins
# only under TLS, through the same risk control as every other door.
listen = "0.0.0.0:1143"
listen_tls = "0.0.0.0:1993"
max_connections = 10000
max_connections_per_ip = 50

[http]
# JSON API now (login, approvals, TOTP, app passwords); web console and webmail later.
listen = "127.0.0.1:8080"
# HTTPS with the [tls] certificate. Turn off only behind a TLS-terminating proxy.
tls = true

[auth]
# Every login (SMTP AUTH, API; IMAP and web later) is checked by the risk engine: allow,
# challenge (TOTP or approval from a signed-in device), deny, or block the source.
# Lifetime of an API session, in seconds.
session_ttl_secs = 28800
# How long a sign-in challenge stays open, in seconds.
challenge_ttl_secs = 600
# Days an approved IP address or device is trusted.
trust_days = 30
# Where users approve sign-ins; quoted to mail clients. Default: https://<hostname>/approve
# approve_url = "https://mail.example.com/approve"
# GeoIP databases for country/ASN of login addresses: MaxMind-format .mmdb files (GeoLite2 or
# DB-IP City/ASN) or CSV files with the columns cidr,asn,asn_name,country,region,city.
geoip = []
# Threat feeds: files of IP addresses or networks known for attacks, one per line (# comments),
# e.g. the Phishing.Database phishing-IPs list. Logins from them score higher. Read at start.
threat_ips = []
# Login policies to apply at every start: one table per scope ([org], ["department:Finance"],
# ["level:executive"], ["user:ceo@example.com"]); see `rampart policy import`.
# policy_file = "/etc/rampart/login-policies.toml"
# Password hashes checked at once (0: one per CPU core); a flood beyond that is refused as busy.
hash_concurrency = 0
# Failures of one account from one IP before that pair is locked, and for how many seconds.
# The account itself is never locked: an attacker must not be able to lock users out.
lockout_failures = 10
lockout_secs = 900
# Answers to repeated failures of one account from one address slow down: from the fourth
# failure on, this delay (ms), doubling each time, up to the maximum.
failure_delay_ms = 1000
max_failure_delay_ms = 30000

[tls]
# PEM certificate chain and private key. Leave both unset to use a self-signed certificate that
# `rampart serve` creates under <data>/tls/ on first run.
# cert = "/etc/rampart/fullchain.pem"
# key = "/etc/rampart/privkey.pem"

[retention]
# Days a deleted message can still be restored (`rampart mail restore`). After that the purge job
# removes it for good.
deleted_days = 7
# How often `rampart serve` runs the purge job, in seconds.
purge_interval_secs = 3600

[scan]
# The content pipeline on inbound mail: sender authentication, phishing and impersonation,
# dangerous attachments, antivirus. Each check reports findings with scores; [scan.policy] decides.
enabled = true
# clamd socket: a path ("/run/clamav/clamd.ctl") or "host:port". Empty: no clamd (the built-in
# hash signatures still run). Keep signatures fresh with freshclam (see the README).
clamd = ""
# If clamd is configured but unreachable: false lets mail through with a finding, true quarantines.
clamd_fail_closed = false
# Extra SHA-256 signatures, one "sha256 name" per line.
# hash_signatures = "/etc/rampart/hashes.txt"
# URL, domain and IP blocklists, one entry per line; reloaded when the files change.
blocklists = []
# Brand domains to protect from lookalikes, besides your own domains and a built-in list.
brands = []
# Display names outsiders impersonate (executives, finance); account names are protected too.
vips = []
# The spam classifier. Without spam_model, the model built into the binary is used; train your
# own with `rampart train spam --index ... --out model.rmc`.
spam = true
# spam_model = "/etc/rampart/spam.rmc"

[scan.dns]
# SPF, DKIM, DMARC and ARC checks.
enabled = true
# Resolvers as "ip:port"; empty uses /etc/resolv.conf.
nameservers = []
timeout_ms = 3000

[scan.policy]
# Total score at which each action starts, for inbound mail.
tag_score = 3.0
junk_score = 6.0
quarantine_score = 12.0
reject_score = 20.0
# Outbound mail: hold for verification, or block.
hold_score = 8.0
block_score = 20.0
# Prepended to the Subject of tagged and junked mail ("" for none), e.g. "[SPAM] ".
subject_prefix = ""

[scan.policy.actions]
# Findings (an exact name, or a family such as "file") that force at least this action:
# accept, tag, junk, quarantine, hold or reject.
"auth.dmarc_quarantine" = "junk"
"auth.dmarc_reject" = "reject"
"av.unavailable_fail_closed" = "quarantine"
"av.virus" = "reject"
"content.gtube" = "reject"
"file.archive_bomb" = "quarantine"
"file.chm" = "quarantine"
"file.disk_image" = "quarantine"
"file.executable" = "quarantine"
"file.hta" = "quarantine"
"file.html_smuggling" = "quarantine"
"file.macro" = "quarantine"
"file.msi" = "quarantine"
"file.script" = "quarantine"
"file.shortcut" = "quarantine"
"url.blocklisted" = "reject"

[dlp]
# Data-leak prevention on mail your users send: resident ID numbers (GB 11643 check), bank and
# credit cards (Luhn), mobile numbers, Unified Social Credit Codes, passports, US SSNs, IBANs,
# e-mail addresses, and your own dictionaries and patterns, in every body part and in attached
# PDF, Office, ODF, CSV and ZIP files. Values are masked in logs, events and reports.
enabled = true
# Minutes a message held for the sender's verification waits before it is returned unsent.
hold_minutes = 1440
# Your own word lists and patterns, e.g.:
# [[dlp.dictionaries]]
# name = "projects"
# words = ["Project Falcon", "猎鹰计划"]
# confidence = "high"
# [[dlp.patterns]]
# name = "contract"
# regex = "HT-[0-9]{4}-[0-9]{6}"
dictionaries = []
patterns = []

# Rules: the strongest action among the rules that match wins (block > hold_admin > hold_sender >
# notify > allow). Entities: CN_RESIDENT_ID, CN_BANK_CARD, CREDIT_CARD, CN_MOBILE, CN_USCC,
# CN_PASSPORT, US_SSN, IBAN_CODE, EMAIL_ADDRESS, keyword:<dictionary>, pattern:<name>,
# unreadable_attachment. Confidence: high = checksum and a supporting word nearby (身份证, 卡号,
# account, ...), medium = checksum alone, low = pattern alone.
[[dlp.rules]]
name = "ids-or-cards-outside"
entities = ["CN_RESIDENT_ID", "CN_BANK_CARD"]
min_confidence = "high"
min_count = 1
direction = "outbound"
external_only = true
departments = []
levels = []
# allow, notify, hold_sender (until the sender verifies), hold_admin, block
action = "hold_sender"
alert = false
tip = "This message carries resident ID or bank card numbers to outside recipients. Confirm with your second factor that you mean to send it."

[[dlp.rules]]
name = "bulk-ids-or-cards-outside"
entities = ["CN_RESIDENT_ID", "CN_BANK_CARD"]
min_confidence = "high"
min_count = 10
direction = "outbound"
external_only = true
departments = []
levels = []
action = "block"
alert = true
tip = "Ten or more resident ID or bank card numbers may not leave by mail. Use the approved secure transfer, or ask the data protection officer."

[outbound]
# Deliver queued mail to the recipients' servers (MX lookup, falling back to A/AAAA).
enabled = true
# Send everything through a smart host instead ("host:port"), e.g. relay = "smtp.isp.example:25".
# relay = "smtp.isp.example:25"
# Per-domain next hops that replace the MX lookup (partner links; tests).
mx_override = {}
port = 25
# Deliveries in flight at once, in total and per destination domain.
concurrency = 64
per_domain_concurrency = 8
# Retry after 5 minutes, doubling up to 4 hours; bounce to the sender after 5 days.
retry_secs = 300
max_retry_secs = 14400
give_up_hours = 120
# Tell the sender once when a message has waited this long (0: never).
delay_notice_hours = 4
# "opportunistic" (STARTTLS when offered, RFC 7435), "verify" (valid certificate required
# everywhere) or "none" (tests only). MTA-STS and DANE make TLS mandatory where published.
tls = "opportunistic"
mta_sts = true
dane = true
# PEM files of extra trust anchors for verified TLS.
extra_roots = []
# DKIM keys (`rampart dkim generate example.com`), relative to the data directory.
dkim_dir = "dkim"
connect_timeout_secs = 30
command_timeout_secs = 300

[sending]
# Sending quotas and spike detection on submission. Limits per organisation, then department,
# job level and user: the most specific scope that sets a limit wins. Over the hourly limit a
# message is deferred (451, the client retries); over the per-message recipients limit the extra
# recipients are refused (452); passing a daily limit, or an hour above spike_factor times the
# account's usual for that hour of the week, holds the account's sending until the user passes
# step-up verification, and alerts the administrators.
enabled = true
spike_factor = 6.0
spike_min_messages = 30
baseline_alpha = 0.3
timezone = "UTC"
departments = {}
levels = {}
users = {}
# e.g. [sending.departments.sales] messages_per_day = 5000
#      [sending.users."ceo@example.com"] external_recipients_per_day = 200

[sending.org]
messages_per_hour = 300
messages_per_day = 2000
recipients_per_message = 500
external_recipients_per_day = 2000

[alerts]
# Security alerts (sending held, account contained, DLP rules with alert = true) go to every
# sink set here; each is also an event. Same-key alerts within dedup_minutes are sent once.
# webhook_url = "https://siem.example.com/hooks/rampart"
# webhook_secret = "..."   # adds X-Rampart-Signature: sha256=<HMAC of the body>
# admin_address = "security@example.com"
# jsonl_path = "/var/log/rampart/alerts.jsonl"
# syslog = "/dev/log"      # or "udp:127.0.0.1:514"
dedup_minutes = 60
max_per_minute = 20

[archive]
# Every message accepted inbound or sent outbound is journaled once (deduplicated by content)
# into an archive users cannot alter, and kept this many days whatever they delete.
enabled = true
retention_days = 2557
# Per domain or department (one of the two per rule); the longest matching period wins:
# [[archive.rules]]
# department = "Legal"
# days = 3652
index_dir = "archive-index"
retention_interval_secs = 86400
# Search sees new mail within this many seconds; shorter rounds cost more CPU under load.
index_interval_secs = 10

[audit]
# Events are hash-chained; a checkpoint of the chain is signed with this Ed25519 key (created
# with mode 0600 on first use) at most every checkpoint_secs while events arrive.
signing_key = "audit/signing.key"
checkpoint_secs = 300
# Copy every event to a SIEM, in order, at least once:
# forward_jsonl = "/var/log/rampart/audit.jsonl"
# forward_syslog = "udp:127.0.0.1:514"   # or "/dev/log"

[log]
# "text" for people, "json" for log pipelines.
format = "text"
# A filter such as "info", "debug" or "rampart_smtp=debug,info".
level = "info"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_to_the_defaults() {
        let parsed: Config = toml::from_str(EXAMPLE).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<Config>("[smtp]\nlisten_on = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("listen_on"), "{err}");
    }
}
