//! Outbound administration: the delivery queue, DKIM keys, and account containment.

use anyhow::Context;
use clap::Subcommand;
use rampart_model::{EmailAddress, OutboundEntry};
use rampart_store::Mailstore;

use crate::admin::{actor, done, human_bytes};
use crate::output::{json, rfc3339, table};
use crate::Cli;

#[derive(Subcommand)]
pub enum QueueCmd {
    /// Oldest first; waiting entries (queued, being sent, held) unless --all or --status.
    List {
        #[arg(long)]
        all: bool,
        /// Only entries in this state: queued, sending, sent, failed, held.
        #[arg(long)]
        status: Option<String>,
    },
    /// Every recipient of one queue id (or one row id): attempts, last error, the remote
    /// server's answer.
    Show { id: String },
    /// Try now: waiting, failed or held entries of a queue id (or row id) become due.
    Retry { id: String },
    /// Remove entries from the queue; they are not sent and the sender is not told.
    Delete { id: String },
}

pub async fn queue(cli: &Cli, store: &Mailstore, cmd: &QueueCmd) -> anyhow::Result<()> {
    let now = store.now();
    match cmd {
        QueueCmd::List { all, status } => {
            if let Some(s) = status {
                if !["queued", "sending", "sent", "failed", "held"].contains(&s.as_str()) {
                    anyhow::bail!(
                        "unknown status {s:?}; use queued, sending, sent, failed or held"
                    );
                }
            }
            let mut entries = store.meta().list_outbound(status.as_deref()).await?;
            if !*all && status.is_none() {
                entries.retain(|e| matches!(e.status.as_str(), "queued" | "sending" | "held"));
            }
            if cli.json {
                return json(&entries);
            }
            list(&entries);
            Ok(())
        }
        QueueCmd::Show { id } => {
            let entries = store.meta().outbound_entries(id).await?;
            if entries.is_empty() {
                anyhow::bail!("no queue entry {id} (see `rampart queue list --all`)");
            }
            if cli.json {
                return json(&entries);
            }
            let first = &entries[0];
            let raw = store.outbound_raw(first).await.ok();
            let summary = raw.as_ref().map(|r| rampart_smtp::summarize(r));
            println!("queue id:  {}", first.queue_id);
            println!("account:   {}", first.account);
            println!("sender:    <{}>", first.mail_from);
            println!("since:     {}", rfc3339(first.created_at));
            println!("size:      {}", human_bytes(first.size));
            if let Some(s) = summary {
                println!("subject:   {}", s.subject);
            }
            for e in &entries {
                println!();
                println!("  to {} (row {}): {}", e.recipient, e.id, e.status);
                println!("    attempts: {}", e.attempts);
                if let Some(t) = e.last_attempt_at {
                    println!("    last try: {}", rfc3339(t));
                }
                if e.status == "queued" {
                    println!("    next try: {}", rfc3339(e.next_attempt_at));
                }
                if let Some(err) = &e.last_error {
                    println!("    error:    {err}");
                }
                if let Some(r) = &e.remote {
                    println!("    remote:   {r}");
                }
            }
            Ok(())
        }
        QueueCmd::Retry { id } => {
            let entries = store.meta().retry_outbound(id, now, &actor()).await?;
            done(
                cli,
                &entries,
                &format!(
                    "{} entr{} of {id} due now; a running server sends {} within a second",
                    entries.len(),
                    if entries.len() == 1 { "y" } else { "ies" },
                    if entries.len() == 1 { "it" } else { "them" }
                ),
            )
        }
        QueueCmd::Delete { id } => {
            let entries = store.meta().delete_outbound(id, now, &actor()).await?;
            done(
                cli,
                &entries,
                &format!(
                    "{} entr{} of {id} removed from the queue",
                    entries.len(),
                    if entries.len() == 1 { "y" } else { "ies" }
                ),
            )
        }
    }
}

fn list(entries: &[OutboundEntry]) {
    let rows: Vec<_> = entries
        .iter()
        .map(|e| {
            vec![
                e.id.to_string(),
                e.queue_id.clone(),
                rfc3339(e.created_at),
                e.account.to_string(),
                e.recipient.to_string(),
                human_bytes(e.size),
                e.status.clone(),
                e.attempts.to_string(),
                e.last_error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "QUEUE ID",
            "SINCE",
            "ACCOUNT",
            "RECIPIENT",
            "SIZE",
            "STATUS",
            "TRIES",
            "LAST ERROR",
        ],
        &rows,
    );
}

#[derive(Subcommand)]
pub enum DkimCmd {
    /// Create a signing key for DOMAIN and print the DNS TXT record to publish.
    Generate {
        domain: String,
        /// The DNS selector (`<selector>._domainkey.<domain>`).
        #[arg(long, default_value = "rampart")]
        selector: String,
        /// rsa (2048 bits, verified everywhere) or ed25519 (RFC 8463; add it beside an RSA key).
        #[arg(long, default_value = "rsa")]
        algorithm: String,
        /// Replace an existing key with the same selector (mail signed with it stops verifying
        /// once the DNS record changes).
        #[arg(long)]
        force: bool,
    },
    /// Every signing key and its DNS record.
    List,
}

pub fn dkim(cli: &Cli, cmd: &DkimCmd) -> anyhow::Result<()> {
    use rampart_outbound::dkim;
    let config = crate::config::load(cli.config.as_deref())?;
    let dir = cli.data.join(&config.outbound.dkim_dir);
    match cmd {
        DkimCmd::Generate {
            domain,
            selector,
            algorithm,
            force,
        } => {
            let algorithm: dkim::Algorithm =
                algorithm.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            let key = dkim::generate(&dir, domain, selector, algorithm, *force)?;
            if cli.json {
                return json(&key);
            }
            println!(
                "Key written to {} (readable by this user only).",
                key.path.display()
            );
            println!("Publish this TXT record, then restart `rampart serve` to start signing:");
            println!();
            println!("{} IN TXT (", key.dns_name);
            for chunk in txt_chunks(&key.txt) {
                println!("    \"{chunk}\"");
            }
            println!(")");
            Ok(())
        }
        DkimCmd::List => {
            let keys = dkim::list(&dir)?;
            if cli.json {
                return json(&keys);
            }
            let rows: Vec<_> = keys
                .iter()
                .map(|k| {
                    vec![
                        k.domain.clone(),
                        k.selector.clone(),
                        k.algorithm.to_string(),
                        k.dns_name.clone(),
                        k.path.display().to_string(),
                    ]
                })
                .collect();
            table(
                &["DOMAIN", "SELECTOR", "ALGORITHM", "DNS NAME", "FILE"],
                &rows,
            );
            Ok(())
        }
    }
}

/// DNS TXT strings hold at most 255 octets each.
fn txt_chunks(txt: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = txt;
    while rest.len() > 250 {
        let (a, b) = rest.split_at(250);
        out.push(a);
        rest = b;
    }
    out.push(rest);
    out
}

#[derive(Subcommand)]
pub enum AccountCmd {
    /// Lock down a compromised account at once: no login anywhere, sessions and app passwords
    /// revoked, trusted devices forgotten, its queued mail held, a password reset and step-up
    /// verification required afterwards. Admins are alerted.
    Contain {
        address: EmailAddress,
        /// Why (kept in the event log and shown to the console).
        #[arg(long, default_value = "contained by an administrator")]
        reason: String,
    },
    /// End containment (and any sending hold): logins work again once a new password is set
    /// (`rampart user password`), the first one with step-up; held mail is sent unless
    /// --discard-held.
    Release {
        address: EmailAddress,
        #[arg(long)]
        discard_held: bool,
    },
    /// The account's security state: containment, pending requirements, sending hold, queue,
    /// and the sending limits that apply with the scope each comes from.
    Show { address: EmailAddress },
}

pub async fn account(
    cli: &Cli,
    store: &Mailstore,
    config: &rampart_model::Config,
    cmd: &AccountCmd,
) -> anyhow::Result<()> {
    let now = store.now();
    match cmd {
        AccountCmd::Contain { address, reason } => {
            let summary = store
                .meta()
                .contain_account(address, reason, now, &actor())
                .await?;
            let alerter = rampart_smtp::alerts::alerter(config, store)
                .context("cannot set up the alert sinks from [alerts]")?;
            rampart_smtp::alerts::contained(&alerter, address, reason, &summary, &actor(), now);
            alerter.flush(std::time::Duration::from_secs(15)).await;
            let mut text = format!(
                "{address} contained: {} session(s) and {} app password(s) revoked, {} trusted device(s) forgotten, {} queued message(s) held",
                summary.sessions_revoked,
                summary.app_passwords_revoked,
                summary.trusted_devices_forgotten,
                summary.queued_held
            );
            if summary.in_flight > 0 {
                text.push_str(&format!(
                    "; {} message(s) were being delivered at that moment and may have left",
                    summary.in_flight
                ));
            }
            text.push_str(&format!(
                ".\nNext: set a new password (`rampart user password {address}`), then `rampart account release {address}`."
            ));
            done(cli, &summary, &text)
        }
        AccountCmd::Release {
            address,
            discard_held,
        } => {
            let moved = store
                .meta()
                .release_account(address, *discard_held, now, &actor())
                .await?;
            let account = store
                .meta()
                .account(address)
                .await?
                .with_context(|| format!("no account {address}"))?;
            let mut text = format!(
                "{address} released; {moved} held message(s) {}",
                if *discard_held {
                    "discarded"
                } else {
                    "queued again"
                }
            );
            if account.password_reset_required {
                text.push_str(&format!(
                    ".\nThe old password still does not work: set a new one with `rampart user password {address}`"
                ));
            }
            if account.step_up_required {
                text.push_str(".\nThe first sign-in must pass step-up verification");
            }
            done(
                cli,
                &serde_json::json!({"account": address, "requeued_or_discarded": moved, "password_reset_required": account.password_reset_required, "step_up_required": account.step_up_required}),
                &text,
            )
        }
        AccountCmd::Show { address } => {
            let account = store
                .meta()
                .account(address)
                .await?
                .with_context(|| format!("no account {address}"))?;
            let queue: Vec<_> = store
                .meta()
                .list_outbound(None)
                .await?
                .into_iter()
                .filter(|e| &e.account == address && e.status != "sent")
                .collect();
            let count = |s: &str| queue.iter().filter(|e| e.status == s).count();
            let control = rampart_risk::sending::SendingControl::new(&config.sending)
                .map_err(|e| anyhow::anyhow!("[sending]: {e}"))?;
            let limits: Vec<_> = control
                .limits_for(
                    address.as_str(),
                    account.department.as_deref(),
                    account.level.as_deref(),
                )
                .explain()
                .into_iter()
                .map(|(name, max, scope)| serde_json::json!({"limit": name, "max": max, "from": scope.to_string()}))
                .collect();
            let state = serde_json::json!({
                "account": address,
                "disabled": account.disabled,
                "contained_at": account.contained_at.map(rfc3339),
                "contain_reason": account.contain_reason,
                "password_reset_required": account.password_reset_required,
                "step_up_required": account.step_up_required,
                "sending_held_at": account.sending_held_at.map(rfc3339),
                "queue": {"queued": count("queued"), "sending": count("sending"), "held": count("held"), "failed": count("failed")},
                "sending_limits": limits,
            });
            if cli.json {
                return json(&state);
            }
            let yes_no = |b: bool| if b { "yes" } else { "no" };
            println!("account:                 {address}");
            println!("disabled:                {}", yes_no(account.disabled));
            match account.contained_at {
                Some(t) => println!(
                    "contained:               since {} ({})",
                    rfc3339(t),
                    account.contain_reason.as_deref().unwrap_or("")
                ),
                None => println!("contained:               no"),
            }
            println!(
                "password reset required: {}",
                yes_no(account.password_reset_required)
            );
            println!(
                "step-up required:        {}",
                yes_no(account.step_up_required)
            );
            match account.sending_held_at {
                Some(t) => println!("sending held:            since {}", rfc3339(t)),
                None => println!("sending held:            no"),
            }
            println!(
                "queue:                   {} queued, {} sending, {} held, {} failed",
                count("queued"),
                count("sending"),
                count("held"),
                count("failed")
            );
            if config.sending.enabled {
                println!("sending limits (most specific scope wins):");
            } else {
                println!("sending limits:          off ([sending] enabled = false)");
            }
            for l in &limits {
                println!(
                    "  {:<28} {:>6}  (from {})",
                    l["limit"].as_str().unwrap_or(""),
                    l["max"],
                    l["from"].as_str().unwrap_or("")
                );
            }
            Ok(())
        }
    }
}
