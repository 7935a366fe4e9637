//! `rampart health`: is the store there, is clamd answering, how old are its signatures.

use rampart_model::QuarantineStatus;
use serde::Serialize;

use crate::output::json;
use crate::Cli;

/// Signatures older than this are reported stale: freshclam is not running.
const STALE_AFTER_DAYS: f64 = 2.0;

#[derive(Serialize)]
struct Health {
    status: &'static str,
    domains: usize,
    accounts: usize,
    quarantine_held: usize,
    antivirus: Antivirus,
}

#[derive(Serialize)]
struct Antivirus {
    /// `not configured`, `ok`, `stale`, `unreachable`.
    status: &'static str,
    clamd: Option<String>,
    engine: Option<String>,
    signature_version: Option<u32>,
    signature_date: Option<String>,
    signature_age_days: Option<f64>,
    error: Option<String>,
}

pub fn run(cli: &Cli) -> anyhow::Result<()> {
    let config = crate::config::load(cli.config.as_deref())?;
    crate::block_on(async {
        let store = crate::open_store(cli, &config)?;
        let antivirus = antivirus(&config, store.now()).await;
        let health = Health {
            status: if matches!(antivirus.status, "unreachable" | "stale") {
                "degraded"
            } else {
                "ok"
            },
            domains: store.meta().list_domains().await?.len(),
            accounts: store.meta().list_accounts(None).await?.len(),
            quarantine_held: store
                .meta()
                .list_quarantine(Some(QuarantineStatus::Held))
                .await?
                .len(),
            antivirus,
        };
        if cli.json {
            return json(&health);
        }
        println!("status      {}", health.status);
        println!(
            "domains     {}   accounts {}   quarantined (held) {}",
            health.domains, health.accounts, health.quarantine_held
        );
        let av = &health.antivirus;
        match av.status {
            "not configured" => println!(
                "antivirus   not configured (set [scan] clamd; built-in hash signatures still run)"
            ),
            "unreachable" => println!(
                "antivirus   UNREACHABLE {}: {}",
                av.clamd.as_deref().unwrap_or(""),
                av.error.as_deref().unwrap_or("")
            ),
            status => println!(
                "antivirus   {status}: {} signatures {} from {} ({})",
                av.engine.as_deref().unwrap_or("clamd"),
                av.signature_version.map_or("?".into(), |v| v.to_string()),
                av.signature_date.as_deref().unwrap_or("unknown date"),
                av.signature_age_days
                    .map_or("age unknown".into(), |d| format!("{d:.1} days old")),
            ),
        }
        Ok(())
    })
}

async fn antivirus(config: &rampart_model::Config, now: rampart_model::Timestamp) -> Antivirus {
    let mut av = Antivirus {
        status: "not configured",
        clamd: None,
        engine: None,
        signature_version: None,
        signature_date: None,
        signature_age_days: None,
        error: None,
    };
    let Some(client) = rampart_scan::checks::clamd(&config.scan) else {
        return av;
    };
    av.clamd = Some(config.scan.clamd.clone());
    match client.version().await {
        Err(e) => {
            av.status = "unreachable";
            av.error = Some(e.to_string());
        }
        Ok(version) => {
            av.engine = Some(version.engine.clone());
            av.signature_version = version.signature_version;
            av.signature_date = version.database_date.map(crate::output::rfc3339);
            av.signature_age_days = version
                .database_age(now)
                .map(|d| d.as_secs_f64() / 86_400.0);
            av.status = match av.signature_age_days {
                Some(days) if days > STALE_AFTER_DAYS => "stale",
                _ => "ok",
            };
        }
    }
    av
}
