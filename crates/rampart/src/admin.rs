//! Admin commands on the data directory. They work while `rampart serve` runs: the store is safe
//! for several processes.

use std::io::{BufRead, IsTerminal};

use anyhow::Context;
use clap::Subcommand;
use rampart_model::{
    Account, EmailAddress, Event, EventKind, Folder, MessageId, MessageMeta, NewAccount,
    QuarantineEntry, QuarantineStatus,
};
use rampart_store::{EventFilter, Mailstore};
use serde::Serialize;

use crate::output::{json, rfc3339, table};
use crate::{Cli, Cmd};

#[derive(Subcommand)]
pub enum DomainCmd {
    /// Accept mail for a domain.
    Add {
        name: String,
    },
    List,
    /// Stop accepting mail for a domain (it must have no accounts or aliases left).
    Remove {
        name: String,
    },
}

#[derive(Subcommand)]
pub enum UserCmd {
    /// Create an account with the standard folders.
    Add {
        address: EmailAddress,
        /// Read the password from standard input (first line); it is stored as an argon2id hash.
        #[arg(long)]
        password_stdin: bool,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        department: Option<String>,
        /// Job level, e.g. staff, manager, executive.
        #[arg(long)]
        level: Option<String>,
        /// Mailbox quota in MiB (unlimited if not given).
        #[arg(long)]
        quota_mb: Option<u64>,
    },
    List {
        /// Only accounts of this domain.
        #[arg(long)]
        domain: Option<String>,
    },
    Show {
        address: EmailAddress,
    },
    /// Refuse new mail and logins for the account; its mail is kept.
    Disable {
        address: EmailAddress,
    },
    Enable {
        address: EmailAddress,
    },
    /// Set a new password, read from standard input (first line).
    Password {
        address: EmailAddress,
    },
    /// What the account may do beyond its mailbox: user, admin, or auditor (reads the audit
    /// trail and the archive, changes nothing).
    Role {
        address: EmailAddress,
        role: rampart_model::Role,
    },
    /// App passwords for mail clients: named, scoped to protocols, revocable.
    #[command(subcommand)]
    AppPassword(crate::identity_cmd::AppPasswordCmd),
    /// Live API sessions of an account.
    Sessions {
        address: EmailAddress,
    },
    /// Sign the account out everywhere: revoke every session and app password.
    Revoke {
        address: EmailAddress,
    },
    /// Remove the account's authenticator (TOTP), e.g. after a lost phone.
    MfaReset {
        address: EmailAddress,
    },
}

#[derive(Subcommand)]
pub enum AliasCmd {
    /// Deliver mail for ALIAS to the account TARGET (run again to add more targets).
    Add {
        alias: EmailAddress,
        target: EmailAddress,
    },
    List,
    /// Remove an alias, or only one of its targets.
    Remove {
        alias: EmailAddress,
        target: Option<EmailAddress>,
    },
}

#[derive(Subcommand)]
pub enum MailCmd {
    /// Messages in a mailbox (not deleted ones).
    List {
        address: EmailAddress,
        #[arg(long)]
        folder: Option<Folder>,
    },
    /// Print a message's raw bytes exactly as stored.
    Show { address: EmailAddress, id: i64 },
    /// Delete a message; it stays recoverable for the retention window.
    Delete { address: EmailAddress, id: i64 },
    /// Deleted messages that can still be restored, and until when.
    Deleted { address: EmailAddress },
    /// Put a deleted message back into its original folder, byte-identical.
    Restore { address: EmailAddress, id: i64 },
    /// Remove for good every message deleted longer ago than the retention window.
    Purge,
    /// Store a message file (raw RFC 5322) in a mailbox, unscanned: migrations and tests.
    Import {
        address: EmailAddress,
        file: std::path::PathBuf,
        #[arg(long, default_value = "INBOX")]
        folder: Folder,
    },
    /// Teach the account's personal spam filter that a message is spam, or is not.
    Report {
        address: EmailAddress,
        id: i64,
        /// `spam` or `ham`.
        verdict: String,
    },
}

#[derive(Subcommand)]
pub enum QuarantineCmd {
    /// Newest first; held messages only unless --all.
    List {
        #[arg(long)]
        all: bool,
    },
    /// The entry with its scan report; --raw prints the message bytes instead.
    Show {
        id: i64,
        #[arg(long)]
        raw: bool,
    },
    /// Deliver the original message to its recipients' inboxes.
    Release { id: i64 },
    /// Drop the message; the decision is recorded.
    Delete { id: i64 },
}

#[derive(Subcommand)]
pub enum EventsCmd {
    /// Newest first.
    List {
        /// Only this kind, e.g. message_deleted.
        #[arg(long)]
        kind: Option<String>,
        /// Only events about this account.
        #[arg(long)]
        account: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

/// Who the event log names for CLI actions.
pub(crate) fn actor() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    )
}

pub fn run(cli: &Cli) -> anyhow::Result<()> {
    let config = crate::config::load(cli.config.as_deref())?;
    let creates = matches!(cli.command, Cmd::Domain(DomainCmd::Add { .. }));
    if !creates && !cli.data.join("meta.sqlite").exists() {
        anyhow::bail!(
            "no Rampart data in {} (pass --data DIR, or start with `rampart domain add example.com`)",
            cli.data.display()
        );
    }
    crate::block_on(async {
        let store = crate::open_store(cli, &config)?;
        match &cli.command {
            Cmd::Domain(cmd) => domain(cli, &store, cmd).await,
            Cmd::User(cmd) => user(cli, &store, cmd).await,
            Cmd::Alias(cmd) => alias(cli, &store, cmd).await,
            Cmd::Mail(cmd) => mail(cli, &store, cmd).await,
            Cmd::Quarantine(cmd) => quarantine(cli, &store, cmd).await,
            Cmd::Events(cmd) => events(cli, &store, cmd).await,
            Cmd::Block(cmd) => crate::identity_cmd::block(cli, &store, cmd).await,
            Cmd::Policy(cmd) => crate::identity_cmd::policy(cli, &store, cmd).await,
            Cmd::Login(cmd) => crate::identity_cmd::login(cli, &store, cmd).await,
            Cmd::Queue(cmd) => crate::outbound_cmd::queue(cli, &store, cmd).await,
            Cmd::Account(cmd) => crate::outbound_cmd::account(cli, &store, &config, cmd).await,
            Cmd::Audit(cmd) => crate::compliance_cmd::audit(cli, &store, &config, cmd).await,
            Cmd::Archive(cmd) => crate::compliance_cmd::archive(cli, &store, &config, cmd).await,
            Cmd::LegalHold(cmd) => crate::compliance_cmd::legal_hold(cli, &store, cmd).await,
            Cmd::Hold(cmd) => crate::identity_cmd::hold(cli, &store, &config, cmd).await,
            _ => unreachable!("dispatched in main"),
        }
    })
}

async fn domain(cli: &Cli, store: &Mailstore, cmd: &DomainCmd) -> anyhow::Result<()> {
    let now = store.now();
    match cmd {
        DomainCmd::Add { name } => {
            let d = store.meta().add_domain(name, now, &actor()).await?;
            done(cli, &d, &format!("domain {} added", d.name))
        }
        DomainCmd::Remove { name } => {
            store.meta().remove_domain(name, now, &actor()).await?;
            done(
                cli,
                &serde_json::json!({ "removed": name }),
                &format!("domain {name} removed"),
            )
        }
        DomainCmd::List => {
            let domains = store.meta().list_domains().await?;
            if cli.json {
                return json(&domains);
            }
            let rows: Vec<_> = domains
                .iter()
                .map(|d| vec![d.name.clone(), rfc3339(d.created_at)])
                .collect();
            table(&["DOMAIN", "ADDED"], &rows);
            Ok(())
        }
    }
}

/// An account as the CLI shows it.
#[derive(Serialize)]
struct AccountView<'a> {
    address: &'a str,
    name: Option<&'a str>,
    department: Option<&'a str>,
    level: Option<&'a str>,
    quota_bytes: Option<u64>,
    used_bytes: u64,
    disabled: bool,
    has_password: bool,
    role: &'static str,
    created_at: String,
}

impl<'a> From<&'a Account> for AccountView<'a> {
    fn from(a: &'a Account) -> Self {
        AccountView {
            address: a.address.as_str(),
            name: a.name.as_deref(),
            department: a.department.as_deref(),
            level: a.level.as_deref(),
            quota_bytes: a.quota_bytes,
            used_bytes: a.used_bytes,
            disabled: a.disabled,
            has_password: a.has_password,
            role: a.role.as_str(),
            created_at: rfc3339(a.created_at),
        }
    }
}

pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

pub(crate) fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password (input is visible; pipe it in to avoid that): ");
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.chars().count() < 8 {
        anyhow::bail!("password must have at least 8 characters");
    }
    Ok(password)
}

pub(crate) fn hash_password(password: &str) -> anyhow::Result<String> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    // Argon2::default() is argon2id v19 with the OWASP-recommended memory and time costs.
    let hash = argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))?;
    Ok(hash.to_string())
}

async fn user(cli: &Cli, store: &Mailstore, cmd: &UserCmd) -> anyhow::Result<()> {
    let now = store.now();
    match cmd {
        UserCmd::Add {
            address,
            password_stdin,
            name,
            department,
            level,
            quota_mb,
        } => {
            let password_hash = if *password_stdin {
                Some(hash_password(&read_password()?)?)
            } else {
                None
            };
            let account = store
                .meta()
                .create_account(
                    NewAccount {
                        address: Some(address.clone()),
                        name: name.clone(),
                        department: department.clone(),
                        level: level.clone(),
                        quota_bytes: quota_mb.map(|mb| mb.saturating_mul(1024 * 1024)),
                        password_hash,
                    },
                    now,
                    &actor(),
                )
                .await?;
            done(
                cli,
                &AccountView::from(&account),
                &format!("account {} created", account.address),
            )
        }
        UserCmd::List { domain } => {
            let accounts = store.meta().list_accounts(domain.as_deref()).await?;
            if cli.json {
                return json(&accounts.iter().map(AccountView::from).collect::<Vec<_>>());
            }
            let rows: Vec<_> = accounts
                .iter()
                .map(|a| {
                    vec![
                        a.address.to_string(),
                        a.name.clone().unwrap_or_default(),
                        a.department.clone().unwrap_or_default(),
                        a.level.clone().unwrap_or_default(),
                        format!(
                            "{} / {}",
                            human_bytes(a.used_bytes),
                            a.quota_bytes
                                .map(human_bytes)
                                .unwrap_or_else(|| "unlimited".into())
                        ),
                        if a.disabled { "disabled" } else { "active" }.into(),
                    ]
                })
                .collect();
            table(
                &[
                    "ADDRESS",
                    "NAME",
                    "DEPARTMENT",
                    "LEVEL",
                    "USED / QUOTA",
                    "STATUS",
                ],
                &rows,
            );
            Ok(())
        }
        UserCmd::Show { address } => {
            let account =
                store.meta().account(address).await?.ok_or_else(|| {
                    anyhow::anyhow!("no account {address} (see `rampart user list`)")
                })?;
            let view = AccountView::from(&account);
            if cli.json {
                return json(&view);
            }
            let value = serde_json::to_value(&view)?;
            for (k, v) in value.as_object().into_iter().flatten() {
                let v = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => "-".into(),
                    other => other.to_string(),
                };
                println!("{k:<13} {v}");
            }
            Ok(())
        }
        UserCmd::Password { .. }
        | UserCmd::AppPassword(_)
        | UserCmd::Sessions { .. }
        | UserCmd::Revoke { .. }
        | UserCmd::MfaReset { .. } => crate::identity_cmd::user(cli, store, cmd).await,
        UserCmd::Role { address, role } => {
            let account = store.meta().set_role(address, *role, now, &actor()).await?;
            done(
                cli,
                &AccountView::from(&account),
                &format!("{address} is now {role}"),
            )
        }
        UserCmd::Disable { address } | UserCmd::Enable { address } => {
            let disable = matches!(cmd, UserCmd::Disable { .. });
            let account = store
                .meta()
                .set_disabled(address, disable, now, &actor())
                .await?;
            let what = if disable { "disabled" } else { "enabled" };
            done(
                cli,
                &AccountView::from(&account),
                &format!("account {address} {what}"),
            )
        }
    }
}

async fn alias(cli: &Cli, store: &Mailstore, cmd: &AliasCmd) -> anyhow::Result<()> {
    let now = store.now();
    match cmd {
        AliasCmd::Add { alias, target } => {
            let a = store.meta().add_alias(alias, target, now, &actor()).await?;
            done(cli, &a, &format!("{alias} now delivers to {target}"))
        }
        AliasCmd::Remove { alias, target } => {
            store
                .meta()
                .remove_alias(alias, target.as_ref(), now, &actor())
                .await?;
            done(
                cli,
                &serde_json::json!({ "removed": alias, "target": target }),
                &format!("alias {alias} removed"),
            )
        }
        AliasCmd::List => {
            let aliases = store.meta().list_aliases().await?;
            if cli.json {
                return json(&aliases);
            }
            let rows: Vec<_> = aliases
                .iter()
                .map(|a| {
                    let targets: Vec<_> = a.targets.iter().map(|t| t.as_str()).collect();
                    vec![a.address.to_string(), targets.join(", ")]
                })
                .collect();
            table(&["ALIAS", "DELIVERS TO"], &rows);
            Ok(())
        }
    }
}

/// A message as listings show it.
#[derive(Serialize)]
struct MessageView<'a> {
    id: i64,
    folder: &'a str,
    uid: u32,
    from: &'a str,
    to: &'a str,
    subject: &'a str,
    date: &'a str,
    size: u64,
    received_at: String,
    flags: &'a [rampart_model::Flag],
    blob: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recoverable_until: Option<String>,
}

impl<'a> From<&'a MessageMeta> for MessageView<'a> {
    fn from(m: &'a MessageMeta) -> Self {
        MessageView {
            id: m.id.0,
            folder: &m.mailbox,
            uid: m.uid,
            from: &m.from,
            to: &m.to,
            subject: &m.subject,
            date: &m.date,
            size: m.size,
            received_at: rfc3339(m.received_at),
            flags: &m.flags,
            blob: &m.blob.0,
            deleted_at: m.deleted_at.map(rfc3339),
            recoverable_until: m.recoverable_until.map(rfc3339),
        }
    }
}

async fn mail(cli: &Cli, store: &Mailstore, cmd: &MailCmd) -> anyhow::Result<()> {
    let actor = actor();
    match cmd {
        MailCmd::List { address, folder } => {
            let list = store.list(address, *folder).await?;
            if cli.json {
                return json(&list.iter().map(MessageView::from).collect::<Vec<_>>());
            }
            let rows: Vec<_> = list
                .iter()
                .map(|m| {
                    vec![
                        m.id.to_string(),
                        m.mailbox.clone(),
                        rfc3339(m.received_at),
                        m.from.clone(),
                        m.subject.clone(),
                        human_bytes(m.size),
                    ]
                })
                .collect();
            table(
                &["ID", "FOLDER", "RECEIVED", "FROM", "SUBJECT", "SIZE"],
                &rows,
            );
            Ok(())
        }
        MailCmd::Show { address, id } => {
            use std::io::Write;
            let raw = store.raw(address, MessageId(*id)).await?;
            std::io::stdout().write_all(&raw)?;
            Ok(())
        }
        MailCmd::Delete { address, id } => {
            let m = store.delete(address, MessageId(*id), &actor).await?;
            let until = m.recoverable_until.map(rfc3339).unwrap_or_default();
            done(
                cli,
                &MessageView::from(&m),
                &format!("message {id} deleted; restore it with `rampart mail restore {address} {id}` until {until}"),
            )
        }
        MailCmd::Deleted { address } => {
            let list = store.deleted(address).await?;
            if cli.json {
                return json(&list.iter().map(MessageView::from).collect::<Vec<_>>());
            }
            let rows: Vec<_> = list
                .iter()
                .map(|m| {
                    vec![
                        m.id.to_string(),
                        m.mailbox.clone(),
                        m.deleted_at.map(rfc3339).unwrap_or_default(),
                        m.recoverable_until.map(rfc3339).unwrap_or_default(),
                        m.from.clone(),
                        m.subject.clone(),
                    ]
                })
                .collect();
            table(
                &[
                    "ID",
                    "FOLDER",
                    "DELETED",
                    "RECOVERABLE UNTIL",
                    "FROM",
                    "SUBJECT",
                ],
                &rows,
            );
            Ok(())
        }
        MailCmd::Restore { address, id } => {
            let m = store.restore(address, MessageId(*id), &actor).await?;
            done(
                cli,
                &MessageView::from(&m),
                &format!("message {id} restored to {}", m.mailbox),
            )
        }
        MailCmd::Import {
            address,
            file,
            folder,
        } => {
            let raw =
                std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let message = rampart_store::NewMessage {
                summary: rampart_smtp::summarize(&raw),
                raw: raw.into(),
            };
            let stored = store
                .deliver(message, std::slice::from_ref(address), *folder, &actor)
                .await?;
            let m = &stored[0];
            done(
                cli,
                &MessageView::from(m),
                &format!("imported as message {} in {}", m.id, m.mailbox),
            )
        }
        MailCmd::Report {
            address,
            id,
            verdict,
        } => {
            let spam = match verdict.as_str() {
                "spam" => true,
                "ham" | "not-spam" => false,
                other => anyhow::bail!("unknown verdict {other:?} (spam or ham)"),
            };
            let config = crate::config::load(cli.config.as_deref())?;
            let r = crate::feedback::report(store, &config, address, MessageId(*id), spam, &actor)
                .await?;
            done(
                cli,
                &serde_json::json!({ "id": id, "account": address, "as": verdict, "spam_probability_before": r.before, "spam_probability_after": r.after }),
                &format!("learned: message {id} is {verdict} for {address} (spam probability {:.3} -> {:.3})", r.before, r.after),
            )
        }
        MailCmd::Purge => {
            let report = store.purge(&actor).await?;
            let text = format!(
                "purged {} message(s), {} blob(s), {}, deleted before {}; {} orphaned blob(s) swept",
                report.messages,
                report.blobs,
                human_bytes(report.bytes),
                rfc3339(report.cutoff),
                report.orphans
            );
            done(cli, &report, &text)
        }
    }
}

/// A quarantine entry as the CLI shows it (the report inlined as JSON, not a string).
#[derive(Serialize)]
struct QuarantineView<'a> {
    id: i64,
    status: &'static str,
    received_at: String,
    direction: rampart_model::Direction,
    mail_from: &'a str,
    recipients: &'a [EmailAddress],
    from: &'a str,
    subject: &'a str,
    size: u64,
    score: f32,
    report: serde_json::Value,
    decided_at: Option<String>,
    decided_by: Option<&'a str>,
}

impl<'a> From<&'a QuarantineEntry> for QuarantineView<'a> {
    fn from(q: &'a QuarantineEntry) -> Self {
        QuarantineView {
            id: q.id,
            status: q.status.as_str(),
            received_at: rfc3339(q.received_at),
            direction: q.direction,
            mail_from: &q.mail_from,
            recipients: &q.recipients,
            from: &q.from,
            subject: &q.subject,
            size: q.size,
            score: q.score,
            report: serde_json::from_str(&q.report).unwrap_or(serde_json::Value::Null),
            decided_at: q.decided_at.map(rfc3339),
            decided_by: q.decided_by.as_deref(),
        }
    }
}

async fn quarantine(cli: &Cli, store: &Mailstore, cmd: &QuarantineCmd) -> anyhow::Result<()> {
    let actor = actor();
    match cmd {
        QuarantineCmd::List { all } => {
            let status = (!all).then_some(QuarantineStatus::Held);
            let entries = store.meta().list_quarantine(status).await?;
            if cli.json {
                return json(&entries.iter().map(QuarantineView::from).collect::<Vec<_>>());
            }
            let rows: Vec<_> = entries
                .iter()
                .map(|q| {
                    let findings = serde_json::from_str::<serde_json::Value>(&q.report)
                        .ok()
                        .and_then(|r| {
                            r.get("findings")?.as_array().map(|a| {
                                a.iter()
                                    .filter_map(|f| f.get("name")?.as_str().map(str::to_string))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            })
                        })
                        .unwrap_or_default();
                    vec![
                        q.id.to_string(),
                        q.status.as_str().into(),
                        rfc3339(q.received_at),
                        q.from.clone(),
                        q.subject.clone(),
                        format!("{:.1}", q.score),
                        findings,
                    ]
                })
                .collect();
            table(
                &[
                    "ID", "STATUS", "RECEIVED", "FROM", "SUBJECT", "SCORE", "FINDINGS",
                ],
                &rows,
            );
            Ok(())
        }
        QuarantineCmd::Show { id, raw } => {
            if *raw {
                use std::io::Write;
                std::io::stdout().write_all(&store.quarantined_raw(*id).await?)?;
                return Ok(());
            }
            let entry = store.meta().quarantine_entry(*id).await?.ok_or_else(|| {
                anyhow::anyhow!("no quarantined message {id} (see `rampart quarantine list --all`)")
            })?;
            let view = QuarantineView::from(&entry);
            if cli.json {
                return json(&view);
            }
            println!("{}", serde_json::to_string_pretty(&view)?);
            Ok(())
        }
        QuarantineCmd::Release { id } => {
            let (entry, delivered) = store.release(*id, &actor).await?;
            let to: Vec<_> = delivered.iter().map(|m| m.account.to_string()).collect();
            done(
                cli,
                &QuarantineView::from(&entry),
                &format!("released message {id} to {}", to.join(", ")),
            )
        }
        QuarantineCmd::Delete { id } => {
            let entry = store.delete_quarantined(*id, &actor).await?;
            done(
                cli,
                &QuarantineView::from(&entry),
                &format!("quarantined message {id} deleted"),
            )
        }
    }
}

#[derive(Serialize)]
struct EventView<'a> {
    id: i64,
    at: String,
    kind: EventKind,
    actor: &'a str,
    subject: Option<&'a str>,
    detail: &'a std::collections::BTreeMap<String, String>,
}

async fn events(cli: &Cli, store: &Mailstore, cmd: &EventsCmd) -> anyhow::Result<()> {
    let EventsCmd::List {
        kind,
        account,
        limit,
    } = cmd;
    let kind = match kind {
        Some(k) => {
            Some(EventKind::parse(k).ok_or_else(|| anyhow::anyhow!("unknown event kind {k:?}"))?)
        }
        None => None,
    };
    let events: Vec<Event> = store
        .meta()
        .list_events(&EventFilter {
            kind,
            subject: account.clone(),
            limit: Some(*limit),
            ..Default::default()
        })
        .await?;
    let views: Vec<_> = events
        .iter()
        .map(|e| EventView {
            id: e.id,
            at: rfc3339(e.at),
            kind: e.kind,
            actor: &e.actor,
            subject: e.subject.as_deref(),
            detail: &e.detail,
        })
        .collect();
    if cli.json {
        return json(&views);
    }
    let rows: Vec<_> = views
        .iter()
        .map(|e| {
            let detail: Vec<_> = e.detail.iter().map(|(k, v)| format!("{k}={v}")).collect();
            vec![
                e.id.to_string(),
                e.at.clone(),
                e.kind.to_string(),
                e.actor.to_string(),
                e.subject.unwrap_or("").to_string(),
                detail.join(" "),
            ]
        })
        .collect();
    table(&["ID", "AT", "KIND", "ACTOR", "ACCOUNT", "DETAIL"], &rows);
    Ok(())
}

/// Reports a completed action: a sentence for people, the object for scripts.
pub(crate) fn done<T: Serialize>(cli: &Cli, value: &T, text: &str) -> anyhow::Result<()> {
    if cli.json {
        json(value)
    } else {
        println!("{text}");
        Ok(())
    }
}
