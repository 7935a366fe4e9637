//! `rampart bench audit`: how fast events join the hash chain (durable, group-committed, from
//! many concurrent writers as a busy server produces them), how fast the whole chain verifies,
//! and what a signed checkpoint costs. A temporary data directory; nothing leaves the machine.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use rampart_model::{EventKind, SystemClock};
use rampart_store::Mailstore;
use serde::Serialize;

use crate::Cli;

#[derive(Args)]
pub struct BenchAuditArgs {
    /// Events to append.
    #[arg(long, default_value_t = 200_000)]
    events: usize,
    /// Tasks appending at once (each append is its own durable write, as in the server).
    #[arg(long, default_value_t = 256)]
    writers: usize,
}

#[derive(Debug, Serialize)]
struct AuditReport {
    events: usize,
    writers: usize,
    append_secs: f64,
    events_per_sec: f64,
    append_us_p50: f64,
    append_us_p99: f64,
    verify_secs: f64,
    verified_per_sec: f64,
    checkpoint_ms: f64,
    db_bytes: u64,
}

pub fn audit(cli: &Cli, args: &BenchAuditArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run(args, cli.json))?;
    if cli.json {
        crate::output::json(&report)
    } else {
        println!(
            "append:     {} events in {:.2} s = {:.0} events/s ({} writers; p50 {:.0} µs, p99 {:.0} µs per durable append)",
            report.events, report.append_secs, report.events_per_sec, report.writers,
            report.append_us_p50, report.append_us_p99
        );
        println!(
            "verify:     {:.2} s = {:.0} entries/s",
            report.verify_secs, report.verified_per_sec
        );
        println!(
            "checkpoint: {:.2} ms (Ed25519 signature + durable write)",
            report.checkpoint_ms
        );
        println!("database:   {:.1} MiB", report.db_bytes as f64 / 1048576.0);
        Ok(())
    }
}

async fn run(args: &BenchAuditArgs, quiet: bool) -> anyhow::Result<AuditReport> {
    let dir = tempfile::tempdir()?;
    let store = Mailstore::open_embedded(dir.path(), Arc::new(SystemClock), 7)?;
    let writers = args.writers.max(1);
    let per = args.events.div_ceil(writers);
    let bar = crate::corpus::progress((per * writers) as u64, "events", quiet);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(writers);
    for w in 0..writers {
        let store = store.clone();
        let bar = bar.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per);
            for i in 0..per {
                // A realistic login decision event: a handful of fields.
                let detail = BTreeMap::from([
                    ("ip".to_string(), format!("198.51.100.{}", (w + i) % 250)),
                    ("protocol".to_string(), "imap".to_string()),
                    ("decision".to_string(), "deny".to_string()),
                    (
                        "reasons".to_string(),
                        "new_device,impossible_travel".to_string(),
                    ),
                    ("score".to_string(), "0.83".to_string()),
                ]);
                let t = Instant::now();
                store
                    .meta()
                    .record_event(
                        EventKind::LoginDenied,
                        store.now(),
                        "imap",
                        Some(&format!("user{}@example.com", i % 1000)),
                        detail,
                    )
                    .await?;
                lat.push(t.elapsed().as_secs_f64() * 1e6);
                bar.inc(1);
            }
            anyhow::Ok(lat)
        }));
    }
    let mut lat = Vec::with_capacity(per * writers);
    for t in tasks {
        lat.extend(t.await??);
    }
    let append_secs = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    lat.sort_by(f64::total_cmp);
    let pick = |q: f64| lat[((lat.len() - 1) as f64 * q) as usize];

    let key = rampart_audit::AuditKey::load_or_create(&dir.path().join("audit/signing.key"))?;
    let t = Instant::now();
    rampart_audit::checkpoint(store.meta(), &key, store.now()).await?;
    let checkpoint_ms = t.elapsed().as_secs_f64() * 1000.0;

    let t = Instant::now();
    let report = rampart_audit::verify(store.meta(), &[key.public_key_hex()], &|_, _| {}).await?;
    let verify_secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        report.ok,
        "the fresh chain did not verify: {:?}",
        report.problems
    );
    let db_bytes = ["meta.sqlite", "meta.sqlite-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.path().join(f)).ok())
        .map(|m| m.len())
        .sum();
    Ok(AuditReport {
        events: lat.len(),
        writers,
        append_secs,
        events_per_sec: lat.len() as f64 / append_secs,
        append_us_p50: pick(0.5),
        append_us_p99: pick(0.99),
        verify_secs,
        verified_per_sec: report.entries as f64 / verify_secs,
        checkpoint_ms,
        db_bytes,
    })
}

#[derive(Args)]
pub struct BenchDashboardArgs {
    /// Events in the log (a realistic mix over `days`).
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Days the events spread over.
    #[arg(long, default_value_t = 30)]
    days: i64,
    /// Times each dashboard query runs.
    #[arg(long, default_value_t = 20)]
    runs: usize,
}

#[derive(Debug, Serialize)]
struct DashboardReport {
    events: usize,
    fill_secs: f64,
    /// The whole range, hourly buckets.
    all_ms_p50: f64,
    all_ms_p95: f64,
    /// The last 24 hours, hourly.
    day_ms_p50: f64,
    day_ms_p95: f64,
    buckets: usize,
}

/// `rampart bench dashboard`: the dashboard's query over a large event log.
pub fn dashboard(cli: &Cli, args: &BenchDashboardArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run_dashboard(args, cli.json))?;
    if cli.json {
        return crate::output::json(&report);
    }
    println!(
        "{} events over {} days written in {:.1} s",
        report.events, args.days, report.fill_secs
    );
    println!(
        "dashboard, whole range ({} hourly buckets): p50 {:.0} ms, p95 {:.0} ms",
        report.buckets, report.all_ms_p50, report.all_ms_p95
    );
    println!(
        "dashboard, last 24 hours: p50 {:.1} ms, p95 {:.1} ms",
        report.day_ms_p50, report.day_ms_p95
    );
    Ok(())
}

async fn run_dashboard(args: &BenchDashboardArgs, quiet: bool) -> anyhow::Result<DashboardReport> {
    let dir = tempfile::tempdir()?;
    let store = Mailstore::open_embedded(dir.path(), Arc::new(SystemClock), 7)?;
    let now = store.now().0;
    let span = args.days.max(1) * 86_400;
    let writers = 256usize;
    let per = args.events.div_ceil(writers);
    let bar = crate::corpus::progress((per * writers) as u64, "events", quiet);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(writers);
    for w in 0..writers {
        let store = store.clone();
        let bar = bar.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                let n = w * per + i;
                // Spread evenly over the span; a mail-heavy mix as a busy organisation has.
                let at = rampart_model::Timestamp(
                    now - span + (n as i64 * span) / (per * writers) as i64,
                );
                let user = format!("user{}@example.com", n % 5000);
                let (kind, detail) = match n % 100 {
                    0..=59 => (
                        EventKind::MessageDelivered,
                        vec![("folder", "INBOX".to_string())],
                    ),
                    60..=69 => (
                        EventKind::MessageDelivered,
                        vec![("folder", "Junk".to_string())],
                    ),
                    70..=71 => (EventKind::MessageQuarantined, vec![]),
                    72 => (EventKind::MessageRejected, vec![]),
                    73 => (EventKind::DlpHeld, vec![]),
                    74..=89 => (
                        EventKind::LoginAllowed,
                        vec![("ip", format!("10.0.{}.{}", n % 200, n % 250))],
                    ),
                    90..=93 => (
                        EventKind::LoginChallenged,
                        vec![("ip", format!("198.51.100.{}", n % 250))],
                    ),
                    94..=97 => (
                        EventKind::LoginDenied,
                        vec![("ip", format!("203.0.113.{}", n % 250))],
                    ),
                    _ => (EventKind::MessageSubmitted, vec![]),
                };
                let detail = detail
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect();
                store
                    .meta()
                    .record_event(kind, at, "bench", Some(&user), detail)
                    .await?;
                bar.inc(1);
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    bar.finish_and_clear();
    let fill_secs = started.elapsed().as_secs_f64();
    let time = |since: i64| {
        let store = store.clone();
        async move {
            let mut ms = Vec::with_capacity(args.runs);
            let mut buckets = 0;
            for _ in 0..args.runs.max(1) {
                let t = Instant::now();
                let d = store
                    .meta()
                    .dashboard(
                        rampart_model::Timestamp(since),
                        rampart_model::Timestamp(now + 1),
                        3600,
                    )
                    .await?;
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
                buckets = d.flow.len();
            }
            ms.sort_by(f64::total_cmp);
            let pick = |q: f64| ms[((ms.len() - 1) as f64 * q) as usize];
            anyhow::Ok((pick(0.5), pick(0.95), buckets))
        }
    };
    let (all_ms_p50, all_ms_p95, buckets) = time(now - span).await?;
    let (day_ms_p50, day_ms_p95, _) = time(now - 86_400).await?;
    Ok(DashboardReport {
        events: per * writers,
        fill_secs,
        all_ms_p50,
        all_ms_p95,
        day_ms_p50,
        day_ms_p95,
        buckets,
    })
}
