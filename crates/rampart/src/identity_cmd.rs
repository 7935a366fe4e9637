//! Identities and login control from the CLI: passwords, app passwords, sessions, blocked
//! sources, login policies, login history.

use std::collections::BTreeMap;

use anyhow::Context;
use clap::Subcommand;
use rampart_model::{EmailAddress, Event, EventKind, Protocol, Timestamp};
use rampart_store::{EventFilter, Mailstore};
use serde::Serialize;

use crate::admin::{actor, done, UserCmd};
use crate::output::{json, rfc3339, table};
use crate::Cli;

#[derive(Subcommand)]
pub enum AppPasswordCmd {
    /// Create one; its secret is printed once.
    Add {
        address: EmailAddress,
        /// What it is for, e.g. "Thunderbird on laptop".
        name: String,
        /// Protocols it may log in to, comma-separated (smtp, imap, http).
        #[arg(long, value_delimiter = ',', default_value = "smtp,imap")]
        protocols: Vec<Protocol>,
    },
    List {
        address: EmailAddress,
    },
    Revoke {
        address: EmailAddress,
        id: i64,
    },
}

#[derive(Subcommand)]
pub enum BlockCmd {
    /// Sources refused before any password check, with why and until when.
    List,
    /// Block an address or network (`203.0.113.7`, `198.51.100.0/24`, `2001:db8::/48`).
    Add {
        source: String,
        /// Why (shown in listings and events).
        #[arg(long, default_value = "blocked by an administrator")]
        reason: String,
        /// Hours until the block lifts; without it, it lasts until removed.
        #[arg(long)]
        hours: Option<u64>,
    },
    Remove {
        source: String,
    },
}

#[derive(Subcommand)]
pub enum LoginCmd {
    /// Every login decision about an account, newest first, with score and reasons.
    History {
        address: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Write a synthetic login log (RBA layout): users with habits, naive/VPN/targeted attackers.
    Synth(crate::login::SynthArgs),
}

/// `198.51.100.7` → `198.51.100.7/32`; networks are normalised to their base address.
pub fn normalize_source(raw: &str) -> anyhow::Result<String> {
    let raw = raw.trim();
    let net: ipnet::IpNet = match raw.parse() {
        Ok(n) => n,
        Err(_) => match raw.parse::<std::net::IpAddr>() {
            Ok(ip) => ipnet::IpNet::from(ip),
            Err(_) => anyhow::bail!(
                "{raw:?} is not an IP address or network (examples: 203.0.113.7, 198.51.100.0/24, 2001:db8::/48)"
            ),
        },
    };
    Ok(net.trunc().to_string())
}

pub async fn user(cli: &Cli, store: &Mailstore, cmd: &UserCmd) -> anyhow::Result<()> {
    let now = store.now();
    let need =
        |address: &EmailAddress| {
            let address = address.clone();
            async move {
                store.meta().account(&address).await?.ok_or_else(|| {
                    anyhow::anyhow!("no account {address} (see `rampart user list`)")
                })
            }
        };
    match cmd {
        UserCmd::Password { address } => {
            need(address).await?;
            let hash = crate::admin::hash_password(&crate::admin::read_password()?)?;
            store
                .meta()
                .set_password(address, &hash, now, &actor())
                .await?;
            done(
                cli,
                &serde_json::json!({"address": address, "password": "changed"}),
                &format!("password of {address} changed"),
            )
        }
        UserCmd::AppPassword(AppPasswordCmd::Add {
            address,
            name,
            protocols,
        }) => {
            need(address).await?;
            if name.trim().is_empty() || name.chars().count() > 64 {
                anyhow::bail!("give the app password a name of 1 to 64 characters");
            }
            let secret = rampart_auth::AppPasswordSecret::generate();
            let app = store
                .meta()
                .create_app_password(
                    address,
                    name.trim(),
                    protocols,
                    &secret.digest(),
                    now,
                    &actor(),
                )
                .await?;
            if cli.json {
                return json(&serde_json::json!({"app_password": app, "secret": secret.display}));
            }
            println!(
                "app password {} ({}) created for {address}",
                app.id, app.name
            );
            println!("  {}", secret.display);
            println!("Shown once: type it into the mail client instead of the account password.");
            Ok(())
        }
        UserCmd::AppPassword(AppPasswordCmd::List { address }) => {
            let list = store.meta().list_app_passwords(address).await?;
            if cli.json {
                return json(&list);
            }
            let rows: Vec<_> = list
                .iter()
                .map(|a| {
                    vec![
                        a.id.to_string(),
                        a.name.clone(),
                        a.protocols
                            .iter()
                            .map(|p| p.as_str())
                            .collect::<Vec<_>>()
                            .join(","),
                        rfc3339(a.created_at),
                        a.last_used_at
                            .map(rfc3339)
                            .unwrap_or_else(|| "never".into()),
                        a.revoked_at
                            .map(|t| format!("revoked {}", rfc3339(t)))
                            .unwrap_or_else(|| "active".into()),
                    ]
                })
                .collect();
            table(
                &["ID", "NAME", "PROTOCOLS", "CREATED", "LAST USED", "STATUS"],
                &rows,
            );
            Ok(())
        }
        UserCmd::AppPassword(AppPasswordCmd::Revoke { address, id }) => {
            let app = store
                .meta()
                .revoke_app_password(address, *id, now, &actor())
                .await?;
            done(
                cli,
                &app,
                &format!("app password {id} of {address} revoked"),
            )
        }
        UserCmd::Sessions { address } => {
            let list = store.meta().list_sessions(address, now).await?;
            if cli.json {
                return json(&list);
            }
            let rows: Vec<_> = list
                .iter()
                .map(|s| {
                    vec![
                        s.id.to_string(),
                        rfc3339(s.created_at),
                        rfc3339(s.expires_at),
                        s.ip.clone().unwrap_or_default(),
                        if s.mfa { "yes" } else { "no" }.into(),
                        s.user_agent.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            table(
                &["ID", "CREATED", "EXPIRES", "IP", "MFA", "USER AGENT"],
                &rows,
            );
            Ok(())
        }
        UserCmd::Revoke { address } => {
            let (sessions, apps) = store.meta().revoke_all(address, now, &actor()).await?;
            done(
                cli,
                &serde_json::json!({"address": address, "sessions": sessions, "app_passwords": apps}),
                &format!("{address}: {sessions} sessions and {apps} app passwords revoked"),
            )
        }
        UserCmd::MfaReset { address } => {
            store.meta().remove_totp(address, now, &actor()).await?;
            done(
                cli,
                &serde_json::json!({"address": address, "totp": "removed"}),
                &format!("authenticator of {address} removed; they can enrol a new one"),
            )
        }
        _ => unreachable!("dispatched by admin::user"),
    }
}

pub async fn block(cli: &Cli, store: &Mailstore, cmd: &BlockCmd) -> anyhow::Result<()> {
    let now = store.now();
    match cmd {
        BlockCmd::List => {
            let blocks = store.meta().list_blocks(now).await?;
            if cli.json {
                return json(&blocks);
            }
            let rows: Vec<_> = blocks
                .iter()
                .map(|b| {
                    vec![
                        b.cidr.clone(),
                        b.reason.clone(),
                        rfc3339(b.created_at),
                        b.expires_at
                            .map(rfc3339)
                            .unwrap_or_else(|| "until removed".into()),
                        b.actor.clone(),
                    ]
                })
                .collect();
            table(&["SOURCE", "REASON", "SINCE", "UNTIL", "BY"], &rows);
            Ok(())
        }
        BlockCmd::Add {
            source,
            reason,
            hours,
        } => {
            let cidr = normalize_source(source)?;
            let expires = hours.map(|h| Timestamp(now.0 + (h as i64) * 3600));
            let b = store
                .meta()
                .add_block(&cidr, reason, expires, now, &actor())
                .await?;
            done(cli, &b, &format!("{cidr} blocked"))
        }
        BlockCmd::Remove { source } => {
            let cidr = normalize_source(source)?;
            let removed = store.meta().remove_block(&cidr, now, &actor()).await?;
            if !removed {
                anyhow::bail!("{cidr} is not blocked (see `rampart block list`)");
            }
            done(
                cli,
                &serde_json::json!({"removed": cidr}),
                &format!("{cidr} unblocked"),
            )
        }
    }
}

#[derive(Serialize)]
struct LoginView {
    at: String,
    decision: String,
    protocol: String,
    ip: String,
    score: String,
    reasons: Vec<String>,
    detail: BTreeMap<String, String>,
}

pub async fn login(cli: &Cli, store: &Mailstore, cmd: &LoginCmd) -> anyhow::Result<()> {
    let LoginCmd::History { address, limit } = cmd else {
        unreachable!("synth is dispatched in main")
    };
    let subject = address
        .parse::<EmailAddress>()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| address.clone());
    let events: Vec<Event> = store
        .meta()
        .list_events(&EventFilter {
            kinds: vec![
                EventKind::LoginAllowed,
                EventKind::LoginChallenged,
                EventKind::LoginDenied,
                EventKind::LoginBlocked,
                EventKind::ChallengeApproved,
                EventKind::ChallengeDenied,
            ],
            subject: Some(subject),
            limit: Some(*limit),
            ..Default::default()
        })
        .await?;
    let views: Vec<LoginView> = events
        .into_iter()
        .map(|e| {
            let get = |k: &str| e.detail.get(k).cloned().unwrap_or_default();
            let decision = match e.kind {
                EventKind::LoginAllowed => "allow".to_string(),
                EventKind::LoginChallenged => "challenge".to_string(),
                EventKind::LoginDenied => "deny".to_string(),
                EventKind::LoginBlocked => "block_source".to_string(),
                other => other.as_str().to_string(),
            };
            LoginView {
                at: rfc3339(e.at),
                decision,
                protocol: get("protocol"),
                ip: get("ip"),
                score: get("score"),
                reasons: get("reasons")
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
                detail: e.detail,
            }
        })
        .collect();
    if cli.json {
        return json(&views);
    }
    let rows: Vec<_> = views
        .iter()
        .map(|v| {
            vec![
                v.at.clone(),
                v.decision.clone(),
                v.protocol.clone(),
                v.ip.clone(),
                v.detail.get("country").cloned().unwrap_or_default(),
                v.score.clone(),
                v.reasons.join(","),
            ]
        })
        .collect();
    table(
        &[
            "AT", "DECISION", "PROTOCOL", "IP", "COUNTRY", "SCORE", "REASONS",
        ],
        &rows,
    );
    Ok(())
}

#[derive(Subcommand)]
pub enum PolicyCmd {
    /// Set fields of one scope's login policy; fields not given keep their value.
    /// SCOPE: `org`, `department:NAME`, `level:NAME` or `user:ADDRESS`.
    Set {
        scope: String,
        /// Countries logins may come from (ISO codes, comma-separated); others are denied.
        #[arg(long, value_delimiter = ',')]
        allowed_countries: Option<Vec<String>>,
        /// Countries logins are denied from.
        #[arg(long, value_delimiter = ',')]
        denied_countries: Option<Vec<String>>,
        /// Only devices already used in trusted logins (or approved) may log in.
        #[arg(long)]
        device_binding: Option<bool>,
        /// When logins are allowed, e.g. "mon-fri 08:00-19:00" (repeat for more windows).
        #[arg(long = "login-window")]
        login_windows: Vec<String>,
        /// IANA time zone of the login windows, e.g. Asia/Shanghai (default UTC).
        #[arg(long)]
        timezone: Option<String>,
        /// Only these networks may log in (comma-separated CIDRs).
        #[arg(long, value_delimiter = ',')]
        ip_allow: Option<Vec<String>>,
        /// These networks may not log in.
        #[arg(long, value_delimiter = ',')]
        ip_deny: Option<Vec<String>>,
        /// Every login needs a second factor (TOTP, approval, or a recently approved device).
        #[arg(long)]
        mfa_required: Option<bool>,
        /// Unset a field so it is inherited again (repeatable), e.g. --clear login_windows.
        #[arg(long)]
        clear: Vec<String>,
    },
    /// Every scope's policy.
    Show,
    /// Remove one scope's policy entirely.
    Remove { scope: String },
    /// The policy in force for an account and which scope each setting comes from.
    Explain { address: EmailAddress },
    /// Set policies from a TOML file: one table per scope, e.g. `[org]` or
    /// `["department:Finance"]`, with the fields of `policy set` (`allowed_countries = ["NO"]`,
    /// `login_windows = [{ days = ["mon"], start = "08:00", end = "18:00" }]`, ...). Each scope
    /// in the file is replaced whole. `[auth] policy_file` does the same at every `serve` start.
    Import { file: std::path::PathBuf },
}

/// Reads a policy file (see `rampart policy import`) into validated `(kind, value, json)` rows.
pub fn read_policy_file(path: &std::path::Path) -> anyhow::Result<Vec<(String, String, String)>> {
    use rampart_risk::{AdminPolicy, EffectivePolicy};
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read policy file {}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))?;
    let mut out = Vec::new();
    for (scope, value) in table {
        let (kind, scope_value) = parse_scope(&scope)?;
        let policy: AdminPolicy = value
            .try_into()
            .with_context(|| format!("{}: policy for {scope:?}", path.display()))?;
        EffectivePolicy::from_policy(policy.clone())
            .validate()
            .map_err(|e| anyhow::anyhow!("{}: policy for {scope:?}: {e}", path.display()))?;
        out.push((kind, scope_value, serde_json::to_string(&policy)?));
    }
    Ok(out)
}

/// Writes the policies of `path` into the store (each scope replaced whole).
pub async fn import_policies(
    store: &Mailstore,
    path: &std::path::Path,
    actor: &str,
) -> anyhow::Result<usize> {
    let rows = read_policy_file(path)?;
    let now = store.now();
    for (kind, value, json) in &rows {
        store
            .meta()
            .set_policy(kind, value, json, now, actor)
            .await?;
    }
    Ok(rows.len())
}

fn parse_scope(raw: &str) -> anyhow::Result<(String, String)> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("org") {
        return Ok(("org".into(), String::new()));
    }
    let Some((kind, value)) = raw.split_once(':') else {
        anyhow::bail!("scope {raw:?} is not org, department:NAME, level:NAME or user:ADDRESS");
    };
    let kind = kind.trim().to_ascii_lowercase();
    let value = value.trim();
    match kind.as_str() {
        "department" | "level" if !value.is_empty() => Ok((kind, value.to_string())),
        "user" => {
            let a: EmailAddress = value
                .parse()
                .map_err(|e| anyhow::anyhow!("scope user:{value}: {e}"))?;
            Ok((kind, a.to_string()))
        }
        _ => anyhow::bail!("scope {raw:?} is not org, department:NAME, level:NAME or user:ADDRESS"),
    }
}

/// `mon-fri 08:00-19:00`, `sat,sun 10:00-14:00`, or `08:00-19:00` (every day).
fn parse_window(raw: &str) -> anyhow::Result<serde_json::Value> {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let raw = raw.trim().to_ascii_lowercase();
    let (days_part, times) = match raw.rsplit_once(' ') {
        Some((d, t)) => (Some(d.trim()), t.trim()),
        None => (None, raw.as_str()),
    };
    let bad = || {
        anyhow::anyhow!(
            "login window {raw:?} should look like \"mon-fri 08:00-19:00\" or \"08:00-19:00\""
        )
    };
    let (start, end) = times.split_once('-').ok_or_else(bad)?;
    let mut days: Vec<&str> = Vec::new();
    for part in days_part.into_iter().flat_map(|d| d.split(',')) {
        let part = part.trim();
        let index = |d: &str| DAYS.iter().position(|x| *x == d.get(..3).unwrap_or(d));
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (index(a).ok_or_else(bad)?, index(b).ok_or_else(bad)?);
                let mut i = a;
                loop {
                    days.push(DAYS[i]);
                    if i == b {
                        break;
                    }
                    i = (i + 1) % 7;
                }
            }
            None => days.push(DAYS[index(part).ok_or_else(bad)?]),
        }
    }
    Ok(serde_json::json!({"days": days, "start": start, "end": end}))
}

pub async fn policy(cli: &Cli, store: &Mailstore, cmd: &PolicyCmd) -> anyhow::Result<()> {
    use rampart_risk::{AdminPolicy, EffectivePolicy};
    let now = store.now();
    match cmd {
        PolicyCmd::Set {
            scope,
            allowed_countries,
            denied_countries,
            device_binding,
            login_windows,
            timezone,
            ip_allow,
            ip_deny,
            mfa_required,
            clear,
        } => {
            let (kind, value) = parse_scope(scope)?;
            let existing = store
                .meta()
                .list_policies()
                .await?
                .into_iter()
                .find(|p| p.scope_kind == kind && p.scope_value == value);
            let mut doc: serde_json::Map<String, serde_json::Value> = match &existing {
                Some(p) => serde_json::from_str(&p.policy_json).unwrap_or_default(),
                None => serde_json::Map::new(),
            };
            let upper = |v: &Vec<String>| -> Vec<String> {
                v.iter().map(|c| c.trim().to_ascii_uppercase()).collect()
            };
            let mut put = |k: &str, v: serde_json::Value| {
                doc.insert(k.to_string(), v);
            };
            if let Some(v) = allowed_countries {
                put("allowed_countries", serde_json::json!(upper(v)));
            }
            if let Some(v) = denied_countries {
                put("denied_countries", serde_json::json!(upper(v)));
            }
            if let Some(v) = device_binding {
                put("device_binding", serde_json::json!(v));
            }
            if !login_windows.is_empty() {
                let w: Vec<_> = login_windows
                    .iter()
                    .map(|w| parse_window(w))
                    .collect::<anyhow::Result<_>>()?;
                put("login_windows", serde_json::Value::Array(w));
            }
            if let Some(v) = timezone {
                put("timezone", serde_json::json!(v));
            }
            for (key, nets) in [("ip_allow", ip_allow), ("ip_deny", ip_deny)] {
                if let Some(nets) = nets {
                    let nets: Vec<String> = nets
                        .iter()
                        .map(|n| normalize_source(n))
                        .collect::<anyhow::Result<_>>()?;
                    put(key, serde_json::json!(nets));
                }
            }
            if let Some(v) = mfa_required {
                put("mfa_required", serde_json::json!(v));
            }
            for field in clear {
                if doc.remove(field.as_str()).is_none() {
                    eprintln!("note: {field} was not set in {scope}");
                }
            }
            let parsed: AdminPolicy = serde_json::from_value(serde_json::Value::Object(doc))
                .map_err(|e| anyhow::anyhow!("invalid policy: {e}"))?;
            EffectivePolicy::from_policy(parsed.clone())
                .validate()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let policy_json = serde_json::to_string(&parsed)?;
            let record = store
                .meta()
                .set_policy(&kind, &value, &policy_json, now, &actor())
                .await?;
            done(
                cli,
                &record,
                &format!("login policy for {scope} set: {policy_json}"),
            )
        }
        PolicyCmd::Import { file } => {
            let n = import_policies(store, file, &actor()).await?;
            done(
                cli,
                &serde_json::json!({"imported": n, "file": file}),
                &format!("{n} login policies set from {}", file.display()),
            )
        }
        PolicyCmd::Show => {
            let records = store.meta().list_policies().await?;
            if cli.json {
                return json(&records);
            }
            let rows: Vec<_> = records
                .iter()
                .map(|r| {
                    let scope = if r.scope_value.is_empty() {
                        r.scope_kind.clone()
                    } else {
                        format!("{}:{}", r.scope_kind, r.scope_value)
                    };
                    vec![
                        scope,
                        r.policy_json.clone(),
                        rfc3339(r.updated_at),
                        r.updated_by.clone(),
                    ]
                })
                .collect();
            table(&["SCOPE", "POLICY", "UPDATED", "BY"], &rows);
            Ok(())
        }
        PolicyCmd::Remove { scope } => {
            let (kind, value) = parse_scope(scope)?;
            if !store
                .meta()
                .remove_policy(&kind, &value, now, &actor())
                .await?
            {
                anyhow::bail!("no login policy for {scope} (see `rampart policy show`)");
            }
            done(
                cli,
                &serde_json::json!({"removed": scope}),
                &format!("login policy for {scope} removed"),
            )
        }
        PolicyCmd::Explain { address } => {
            let account =
                store.meta().account(address).await?.ok_or_else(|| {
                    anyhow::anyhow!("no account {address} (see `rampart user list`)")
                })?;
            let records = store.meta().list_policies().await?;
            let explained = rampart_auth::login::policy_for(&records, Some(&account));
            #[derive(Serialize)]
            struct Setting {
                field: &'static str,
                value: serde_json::Value,
                from: String,
            }
            let settings: Vec<Setting> = explained
                .effective
                .explain()
                .into_iter()
                .map(|(field, value, scope)| Setting {
                    field,
                    value: serde_json::from_str(&value).unwrap_or(serde_json::Value::String(value)),
                    from: scope.to_string(),
                })
                .collect();
            let layers: Vec<String> = explained
                .layers
                .iter()
                .map(|(s, _)| s.to_string())
                .collect();
            if cli.json {
                return json(&serde_json::json!({
                    "address": address,
                    "department": account.department,
                    "level": account.level,
                    "layers": layers,
                    "effective": settings,
                }));
            }
            println!(
                "{address} (department {}, level {}): layers {}",
                account.department.as_deref().unwrap_or("-"),
                account.level.as_deref().unwrap_or("-"),
                if layers.is_empty() {
                    "none".to_string()
                } else {
                    layers.join(" < ")
                }
            );
            let rows: Vec<_> = settings
                .iter()
                .map(|s| vec![s.field.to_string(), s.value.to_string(), s.from.clone()])
                .collect();
            if rows.is_empty() {
                println!("no login rules apply; the risk engine alone decides");
            } else {
                table(&["SETTING", "VALUE", "FROM"], &rows);
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_files_are_validated_per_scope() {
        let dir = std::env::temp_dir().join(format!("rampart-policy-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.toml");
        std::fs::write(
            &good,
            "[org]\nallowed_countries = [\"NO\", \"SE\"]\n\n[\"department:Finance\"]\nmfa_required = true\nlogin_windows = [{ days = [\"mon\", \"fri\"], start = \"08:00\", end = \"18:00\" }]\ntimezone = \"Europe/Oslo\"\n",
        )
        .unwrap();
        let rows = read_policy_file(&good).unwrap();
        assert_eq!(rows.len(), 2);
        assert!(rows
            .iter()
            .any(|(k, v, j)| k == "department" && v == "Finance" && j.contains("Europe/Oslo")));
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "[org]\ntimezone = \"Mars/Olympus\"\n").unwrap();
        let err = read_policy_file(&bad).unwrap_err().to_string();
        assert!(err.contains("org"), "{err}");
        std::fs::write(&bad, "[org]\nallowed_country = [\"NO\"]\n").unwrap();
        assert!(
            read_policy_file(&bad).is_err(),
            "unknown fields are refused"
        );
        std::fs::write(&bad, "[team]\nmfa_required = true\n").unwrap();
        assert!(read_policy_file(&bad).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn windows_and_scopes_parse_like_admins_write_them() {
        let w = parse_window("Mon-Fri 08:00-19:00").unwrap();
        assert_eq!(
            w["days"],
            serde_json::json!(["mon", "tue", "wed", "thu", "fri"])
        );
        assert_eq!(w["start"], "08:00");
        let w = parse_window("sat,sun 10:00-14:00").unwrap();
        assert_eq!(w["days"], serde_json::json!(["sat", "sun"]));
        let w = parse_window("fri-mon 22:00-06:00").unwrap();
        assert_eq!(w["days"], serde_json::json!(["fri", "sat", "sun", "mon"]));
        assert_eq!(
            parse_window("09:00-17:00").unwrap()["days"],
            serde_json::json!([])
        );
        assert!(parse_window("someday 09:00-17:00").is_err());
        assert_eq!(parse_scope("org").unwrap(), ("org".into(), String::new()));
        assert_eq!(
            parse_scope("user:Alice@Example.com").unwrap(),
            ("user".into(), "alice@example.com".into())
        );
        assert_eq!(parse_scope("department:Finance").unwrap().0, "department");
        assert!(parse_scope("team:x").is_err());
        assert_eq!(normalize_source("10.1.2.3").unwrap(), "10.1.2.3/32");
        assert_eq!(normalize_source("10.1.2.3/24").unwrap(), "10.1.2.0/24");
        assert!(normalize_source("example.com").is_err());
    }
}

#[derive(Subcommand)]
pub enum HoldCmd {
    /// Outbound messages held by data-leak prevention, newest first (held ones unless --all).
    List {
        #[arg(long)]
        all: bool,
        /// Only this sender's.
        #[arg(long)]
        account: Option<EmailAddress>,
    },
    /// One held message: why (rule, masked findings), for whom, until when.
    Show {
        id: i64,
        /// Print the raw message instead.
        #[arg(long)]
        raw: bool,
    },
    /// Send it on: local recipients get it, remote ones are queued.
    Release { id: i64 },
    /// Refuse it for good; the sender is told.
    Reject { id: i64 },
}

pub async fn hold(
    cli: &Cli,
    store: &Mailstore,
    config: &rampart_model::Config,
    cmd: &HoldCmd,
) -> anyhow::Result<()> {
    use rampart_model::HoldStatus;
    match cmd {
        HoldCmd::List { all, account } => {
            let status = if *all { None } else { Some(HoldStatus::Held) };
            let holds = store.meta().list_holds(account.as_ref(), status).await?;
            if cli.json {
                return json(&holds);
            }
            let rows: Vec<_> = holds
                .iter()
                .map(|h| {
                    vec![
                        h.id.to_string(),
                        rfc3339(h.created_at),
                        h.kind.to_string(),
                        h.status.to_string(),
                        h.account.to_string(),
                        h.recipients.len().to_string(),
                        h.rule.clone(),
                        h.expires_at.map(rfc3339).unwrap_or_else(|| "-".into()),
                        h.subject.clone(),
                    ]
                })
                .collect();
            table(
                &[
                    "ID",
                    "HELD",
                    "WAITS FOR",
                    "STATUS",
                    "SENDER",
                    "RCPTS",
                    "RULE",
                    "EXPIRES",
                    "SUBJECT",
                ],
                &rows,
            );
            Ok(())
        }
        HoldCmd::Show { id, raw } => {
            let (h, bytes) = store.held_raw(*id).await?;
            if *raw {
                use std::io::Write;
                std::io::stdout().write_all(&bytes)?;
                return Ok(());
            }
            let findings: serde_json::Value =
                serde_json::from_str(&h.findings).unwrap_or(serde_json::Value::Null);
            let mut value = serde_json::to_value(&h)?;
            value["findings"] = findings;
            json(&value)
        }
        HoldCmd::Release { id } => {
            let h = rampart_smtp::hold::release(store, *id, config.submission.save_sent, &actor())
                .await?;
            done(
                cli,
                &h,
                &format!(
                    "held message {id} released to {} recipients",
                    h.recipients.len()
                ),
            )
        }
        HoldCmd::Reject { id } => {
            let h = rampart_smtp::hold::reject(store, &config.hostname, *id, &actor()).await?;
            done(
                cli,
                &h,
                &format!("held message {id} rejected; {} was told", h.account),
            )
        }
    }
}
