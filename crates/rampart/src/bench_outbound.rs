//! `rampart bench delivery` and `rampart bench sending`: outbound throughput to a local discard
//! server, and the per-message cost of sending control. Everything stays on 127.0.0.1 in a
//! temporary data directory.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use clap::Args;
use rampart_model::{EmailAddress, NewAccount, SystemClock};
use rampart_outbound::client::{Client, ClientConfig};
use rampart_outbound::dkim::{self, DkimKeys};
use rampart_outbound::dns::{Resolve, StaticResolver};
use rampart_outbound::mtasts::{MtaSts, MtaStsConfig};
use rampart_outbound::route::{Router, RouterConfig, TlsMode};
use rampart_outbound::sink::{Sink, SinkConfig};
use rampart_smtp::delivery::{Delivery, QueuePolicy};
use rampart_smtp::sending::{Gate, Outgoing, SendingGuard};
use rampart_store::Mailstore;
use serde::Serialize;

use crate::Cli;

#[derive(Args)]
pub struct BenchDeliveryArgs {
    /// Messages to queue and deliver.
    #[arg(long, default_value_t = 5000)]
    messages: usize,
    /// Size of each message in bytes.
    #[arg(long, default_value_t = 10 * 1024)]
    size: usize,
    /// Deliveries in flight at once (the sink is one destination domain).
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// DKIM key to sign with: rsa, ed25519 or none.
    #[arg(long, default_value = "rsa")]
    dkim: String,
    /// Use STARTTLS to the sink (self-signed, opportunistic).
    #[arg(long)]
    tls: bool,
}

#[derive(Debug, Serialize)]
struct DeliveryReport {
    messages: usize,
    size: usize,
    connections: usize,
    dkim: String,
    tls: bool,
    enqueue_secs: f64,
    deliver_secs: f64,
    msgs_per_sec: f64,
    mb_per_sec: f64,
    delivered: u64,
    failed: usize,
}

pub fn delivery(cli: &Cli, args: &BenchDeliveryArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run_delivery(args, !cli.json))?;
    if cli.json {
        return crate::output::json(&report);
    }
    println!(
        "delivered {} of {} messages ({} bytes each, DKIM {}, {}) over {} connections",
        report.delivered,
        report.messages,
        report.size,
        report.dkim,
        if report.tls { "STARTTLS" } else { "plain" },
        report.connections
    );
    println!(
        "queue → sink: {:.2} s, {:.0} msgs/s, {:.1} MB/s (queueing took {:.2} s)",
        report.deliver_secs, report.msgs_per_sec, report.mb_per_sec, report.enqueue_secs
    );
    if report.failed > 0 {
        anyhow::bail!("{} messages failed", report.failed);
    }
    Ok(())
}

async fn run_delivery(args: &BenchDeliveryArgs, progress: bool) -> anyhow::Result<DeliveryReport> {
    let tmp = tempfile::tempdir()?;
    let store = Mailstore::open_embedded(tmp.path(), Arc::new(SystemClock), 7)?;
    let now = store.now();
    store.meta().add_domain("example.com", now, "bench").await?;
    let sender: EmailAddress = "bench@example.com".parse()?;
    store
        .meta()
        .create_account(
            NewAccount {
                address: Some(sender.clone()),
                ..NewAccount::default()
            },
            now,
            "bench",
        )
        .await?;

    let mut sink_config = SinkConfig {
        keep: 0,
        ..SinkConfig::default()
    };
    if args.tls {
        let config = rampart_model::Config {
            hostname: "sink.bench.test".into(),
            ..rampart_model::Config::default()
        };
        sink_config.tls = Some(crate::tls::server_config(&config, tmp.path())?);
    }
    let sink = Sink::start(sink_config).await?;

    let dkim_dir = tmp.path().join("dkim");
    if args.dkim != "none" {
        let algorithm: dkim::Algorithm = args.dkim.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
        dkim::generate(&dkim_dir, "example.com", "bench", algorithm, false)?;
    }
    let keys = DkimKeys::load(&dkim_dir)?;

    let resolver: Arc<dyn Resolve> = Arc::new(StaticResolver::new());
    let router = Router::new(
        resolver,
        RouterConfig {
            relay: None,
            mx_override: [("sink.test".to_string(), sink.addr().to_string())].into(),
            port: 25,
            tls: if args.tls {
                TlsMode::Opportunistic
            } else {
                TlsMode::None
            },
            mta_sts: false,
            dane: false,
        },
        Arc::new(MtaSts::new(MtaStsConfig::default())),
    );
    let client = Client::new(ClientConfig::new("bench.example.com"));
    let policy = QueuePolicy {
        concurrency: args.connections.max(1),
        per_domain_concurrency: args.connections.max(1),
        retry_secs: 60,
        max_retry_secs: 60,
        give_up_secs: 3600,
        delay_notice_secs: 0,
    };
    let worker = Arc::new(Delivery::new(
        store.clone(),
        router,
        client,
        keys,
        "bench.example.com",
        policy,
    ));

    let body = message(args.size);
    let bar = crate::corpus::progress(args.messages as u64, "queueing", !progress);
    let t0 = Instant::now();
    let mut pending = tokio::task::JoinSet::new();
    for i in 0..args.messages {
        let store = store.clone();
        let raw = Bytes::from(body.replace("{n}", &i.to_string()));
        let rcpt: EmailAddress = format!("r{}@sink.test", i % 97).parse()?;
        let sender = sender.clone();
        pending.spawn(async move {
            store
                .enqueue_outbound(
                    raw,
                    sender.as_str(),
                    &[rcpt],
                    &format!("B{i}"),
                    sender.as_str(),
                )
                .await
        });
        while pending.len() >= 256 {
            if let Some(r) = pending.join_next().await {
                r??;
                bar.inc(1);
            }
        }
    }
    while let Some(r) = pending.join_next().await {
        r??;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let enqueue_secs = t0.elapsed().as_secs_f64();

    let bar = crate::corpus::progress(args.messages as u64, "delivering", !progress);
    let t1 = Instant::now();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(worker.clone().run(shutdown));
    worker.wake();
    let mut failed = 0;
    let mut ticks = 0u64;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        ticks += 1;
        bar.set_position(sink.received());
        if sink.received() as usize + failed >= args.messages {
            break;
        }
        if ticks.is_multiple_of(50) {
            failed = store.meta().list_outbound(Some("failed")).await?.len();
        }
        if t1.elapsed() > std::time::Duration::from_secs(600) {
            anyhow::bail!("delivery did not finish within 10 minutes");
        }
    }
    let _ = stop.send(true);
    runner.await?;
    let deliver_secs = t1.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let delivered = sink.received();
    sink.shutdown().await;
    Ok(DeliveryReport {
        messages: args.messages,
        size: args.size,
        connections: args.connections,
        dkim: args.dkim.clone(),
        tls: args.tls,
        enqueue_secs,
        deliver_secs,
        msgs_per_sec: delivered as f64 / deliver_secs.max(1e-9),
        mb_per_sec: delivered as f64 * args.size as f64 / deliver_secs.max(1e-9) / 1e6,
        delivered,
        failed,
    })
}

/// A plain message of about `size` bytes; `{n}` is replaced per message.
fn message(size: usize) -> String {
    let mut m = String::from(
        "From: Bench <bench@example.com>\r\nTo: <r@sink.test>\r\nSubject: bench {n}\r\n\
         Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{n}@bench.example.com>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
    );
    let line = "The quick brown fox jumps over the lazy dog, again and again and again.\r\n";
    while m.len() + line.len() <= size {
        m.push_str(line);
    }
    m
}

#[derive(Args)]
pub struct BenchSendingArgs {
    /// Accounts in the synthetic organisation.
    #[arg(long, default_value_t = 1000)]
    accounts: usize,
    /// Quota and spike checks to time (engine alone).
    #[arg(long, default_value_t = 200_000)]
    messages: usize,
    /// Messages through the whole gate (engine, the account read from the store, events).
    #[arg(long, default_value_t = 5000)]
    gated: usize,
}

#[derive(Debug, Serialize)]
struct SendingReport {
    engine: rampart_risk::sending::bench::SendingBench,
    gate_messages: usize,
    gate_us_p50: f64,
    gate_us_p99: f64,
    gate_us_max: f64,
}

pub fn sending(cli: &Cli, args: &BenchSendingArgs) -> anyhow::Result<()> {
    let engine = rampart_risk::sending::bench::bench_sending(args.accounts, args.messages);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut us = runtime.block_on(gate_latencies(args.gated))?;
    us.sort_by(f64::total_cmp);
    let pick = |q: f64| us[((us.len() - 1) as f64 * q) as usize];
    let report = SendingReport {
        engine,
        gate_messages: us.len(),
        gate_us_p50: pick(0.5),
        gate_us_p99: pick(0.99),
        gate_us_max: pick(1.0),
    };
    if cli.json {
        return crate::output::json(&report);
    }
    println!(
        "engine ({} accounts, {} checks after two weeks of office traffic): {:.0} checks/s, p50 {:.2} µs, p99 {:.2} µs",
        report.engine.accounts,
        report.engine.checks,
        report.engine.checks_per_sec,
        report.engine.per_check_ns_p50 / 1000.0,
        report.engine.per_check_ns_p99 / 1000.0
    );
    println!(
        "whole gate per message ({} messages, account read from the store included): p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        report.gate_messages, report.gate_us_p50, report.gate_us_p99, report.gate_us_max
    );
    Ok(())
}

async fn gate_latencies(n: usize) -> anyhow::Result<Vec<f64>> {
    let tmp = tempfile::tempdir()?;
    let store = Mailstore::open_embedded(tmp.path(), Arc::new(SystemClock), 7)?;
    let now = store.now();
    store.meta().add_domain("example.com", now, "bench").await?;
    let mut accounts = Vec::new();
    for i in 0..50 {
        let a: EmailAddress = format!("user{i}@example.com").parse()?;
        store
            .meta()
            .create_account(
                NewAccount {
                    address: Some(a.clone()),
                    department: Some(["sales", "legal", "it"][i % 3].into()),
                    ..NewAccount::default()
                },
                now,
                "bench",
            )
            .await?;
        accounts.push(a);
    }
    // Every limit and the spike test are evaluated on every message, but set so that a burst of
    // thousands of messages within seconds (this benchmark) never trips them.
    let config = rampart_model::config::SendingConfig {
        org: rampart_model::config::SendLimits {
            messages_per_hour: Some(u32::MAX),
            messages_per_day: Some(u32::MAX),
            recipients_per_message: Some(u32::MAX),
            external_recipients_per_day: Some(u32::MAX),
        },
        spike_min_messages: u32::MAX,
        ..Default::default()
    };
    let guard = SendingGuard::new(&config, store.clone(), rampart_alert::Alerter::disabled())
        .map_err(|e| anyhow::anyhow!(e))?;
    let rcpts: Vec<EmailAddress> = vec!["x@partner.example".parse()?, "y@example.com".parse()?];
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let account = &accounts[i % accounts.len()];
        let o = Outgoing {
            account,
            department: Some("sales"),
            level: None,
            recipients: &rcpts,
            external: 1,
            ip: "127.0.0.1".parse()?,
            queue_id: "bench",
        };
        let t = Instant::now();
        let gate = guard.gate(&o).await;
        out.push(t.elapsed().as_secs_f64() * 1e6);
        if gate != Gate::Pass {
            anyhow::bail!("the gate refused message {i}: {gate:?}");
        }
    }
    Ok(out)
}
