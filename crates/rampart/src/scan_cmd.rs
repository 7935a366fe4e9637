//! `rampart scan`, `rampart eval phish`, `rampart bench scan`: the content pipeline offline.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use rampart_model::{Action, Config, Direction};
use rampart_scan::{Envelope, OrgDirectory, ScanReport, Scanner};
use serde::Serialize;

use crate::corpus::{progress, read_index};
use crate::output::json;
use crate::Cli;

#[derive(clap::Args)]
pub struct ScanArgs {
    /// The message to scan (.eml, raw RFC 5322).
    #[arg(required_unless_present = "index")]
    file: Option<PathBuf>,
    /// Scan every message of a labelled corpus index instead (`<label> <path>` lines).
    #[arg(long, conflicts_with = "file")]
    index: Option<PathBuf>,
    /// Which way the message travels.
    #[arg(long, default_value = "inbound")]
    direction: Direction,
    /// Check SPF/DKIM/DMARC/ARC over DNS (off by default: offline scans make no network traffic).
    #[arg(long)]
    dns: bool,
    /// Scan as mail for this account: its personal spam layer applies.
    #[arg(long = "for")]
    recipient: Option<String>,
    /// Outbound: the recipients (DLP rules for outside recipients need to know them; repeat).
    #[arg(long = "to")]
    to: Vec<String>,
    /// Outbound: the sending account (its department and level select DLP rules).
    #[arg(long)]
    from: Option<String>,
}

#[derive(clap::Subcommand)]
pub enum EvalCmd {
    /// Phishing detection rate and ham false positives of the phishing/impersonation checks.
    Phish(EvalPhishArgs),
    /// Spam recall, ham false positives, AUC and (1-ROCA)% of the spam classifier.
    Spam(crate::spam_cmd::EvalSpamArgs),
    /// Replay a login log through the risk engine: AUC for account takeovers and the share of
    /// legitimate logins challenged at 99% detection.
    Login(crate::login::EvalLoginArgs),
    /// Precision, recall and F1 per entity of the DLP detectors on span-labelled text, and hits
    /// on hard negatives.
    Dlp(crate::dlp_cmd::EvalDlpArgs),
}

#[derive(clap::Args)]
pub struct EvalPhishArgs {
    /// Corpus index files; `phish` and `ham` labels count, others are skipped.
    #[arg(long, required = true)]
    index: Vec<PathBuf>,
    /// Also write `path<TAB>label<TAB>score<TAB>action` per message.
    #[arg(long)]
    scores: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct BenchScanArgs {
    /// Corpus index whose messages are scanned (read into memory first).
    #[arg(long)]
    index: Option<PathBuf>,
    /// Scan at most this many messages of the index.
    #[arg(long)]
    limit: Option<usize>,
    /// Instead, scan one synthetic message of this many MB and report peak memory.
    #[arg(long)]
    large_mb: Option<usize>,
    /// Scan as mail going this way (`outbound` adds DLP, to an outside recipient).
    #[arg(long, default_value = "inbound")]
    direction: Direction,
}

/// The offline pipeline: the configured checks, without DNS unless asked, with the
/// organisation directory from the data directory when there is one.
async fn offline_scanner(cli: &Cli, config: &Config, dns: bool) -> anyhow::Result<Scanner> {
    let mut scan = config.scan.clone();
    scan.dns.enabled = dns;
    let mut org = OrgDirectory {
        local_domains: Vec::new(),
        people: scan.vips.clone(),
    };
    let mut store = None;
    if cli.data.join("meta.sqlite").exists() {
        let opened = crate::open_store(cli, config)?;
        org = crate::serve::org_directory(&opened, &scan).await?;
        store = Some(opened);
    }
    let scanner = Scanner::new(&scan, &config.hostname, org)?.with_dlp(&config.dlp)?;
    if let Some(store) = store {
        scanner.set_user_models(std::sync::Arc::new(crate::feedback::StoreUserModels {
            store,
        }));
    }
    Ok(scanner)
}

fn exit_code(action: Action) -> u8 {
    match action {
        Action::Accept | Action::Tag => 0,
        Action::Junk => 1,
        Action::Quarantine | Action::Hold | Action::Reject => 2,
    }
}

pub fn scan(cli: &Cli, args: &ScanArgs) -> anyhow::Result<ExitCode> {
    let config = crate::config::load(cli.config.as_deref())?;
    crate::block_on(async {
        let scanner = offline_scanner(cli, &config, args.dns).await?;
        if let Some(index) = &args.index {
            return scan_index(cli, &scanner, index, args.direction)
                .await
                .map(|()| ExitCode::SUCCESS);
        }
        let file = args.file.as_ref().expect("clap requires file or index");
        let raw = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let mut envelope = Envelope::new(args.direction);
        envelope.recipients.extend(args.recipient.clone());
        envelope.recipients.extend(args.to.iter().cloned());
        if let Some(from) = &args.from {
            envelope.authenticated = Some(from.clone());
            envelope.mail_from = from.clone();
            if cli.data.join("meta.sqlite").exists() {
                if let Ok(addr) = from.parse() {
                    let store = crate::open_store(cli, &config)?;
                    if let Some(a) = store.meta().account(&addr).await? {
                        envelope.sender_department = a.department;
                        envelope.sender_level = a.level;
                    }
                }
            }
        }
        let report = scanner.scan(&raw, &envelope).await;
        if cli.json {
            json(&report)?;
        } else {
            print_report(&report);
        }
        Ok(ExitCode::from(exit_code(report.action)))
    })
}

fn print_report(report: &ScanReport) {
    println!(
        "verdict  {}  (score {:.1}, {:.2} ms)",
        report.action, report.score, report.elapsed_ms
    );
    if let Some(ar) = &report.authentication_results {
        println!("auth     {ar}");
    }
    if report.findings.is_empty() {
        println!("findings none");
    }
    for f in &report.findings {
        println!("  {:>6.1}  {}  {}", f.score, f.name, f.evidence.join("; "));
    }
    if let Some(dlp) = &report.dlp {
        match &dlp.rule {
            Some(rule) => println!(
                "dlp      {} (rule {rule}{})",
                dlp.action,
                if dlp.alert { ", alert" } else { "" }
            ),
            None => println!("dlp      {}", dlp.action),
        }
        if let Some(tip) = &dlp.tip {
            println!("         {tip}");
        }
        for f in &dlp.findings {
            println!(
                "  {:>4} × {} ({}): {}  at {}",
                f.count,
                f.entity,
                f.confidence,
                f.examples.join(", "),
                f.locations.join(", ")
            );
        }
    }
}

#[derive(Serialize)]
struct IndexScan {
    messages: usize,
    errors: usize,
    /// label -> action -> count
    by_label: BTreeMap<String, BTreeMap<String, usize>>,
    /// finding name -> how many messages had it
    findings: BTreeMap<String, usize>,
    msgs_per_sec: f64,
}

async fn scan_index(
    cli: &Cli,
    scanner: &Scanner,
    index: &std::path::Path,
    direction: Direction,
) -> anyhow::Result<()> {
    let samples = read_index(index)?;
    let bar = progress(
        samples.len() as u64,
        "messages",
        cli.json && !std::io::IsTerminal::is_terminal(&std::io::stderr()),
    );
    let mut out = IndexScan {
        messages: 0,
        errors: 0,
        by_label: BTreeMap::new(),
        findings: BTreeMap::new(),
        msgs_per_sec: 0.0,
    };
    let started = Instant::now();
    for s in &samples {
        bar.inc(1);
        let Ok(raw) = std::fs::read(&s.path) else {
            out.errors += 1;
            continue;
        };
        let report = scanner.scan(&raw, &Envelope::new(direction)).await;
        out.messages += 1;
        *out.by_label
            .entry(s.label.clone())
            .or_default()
            .entry(report.action.to_string())
            .or_default() += 1;
        for f in &report.findings {
            *out.findings.entry(f.name.clone()).or_default() += 1;
        }
    }
    bar.finish_and_clear();
    out.msgs_per_sec = out.messages as f64 / started.elapsed().as_secs_f64().max(1e-9);
    if cli.json {
        return json(&out);
    }
    println!(
        "{} messages ({} unreadable), {:.0} msgs/s",
        out.messages, out.errors, out.msgs_per_sec
    );
    for (label, actions) in &out.by_label {
        let parts: Vec<String> = actions.iter().map(|(a, n)| format!("{a} {n}")).collect();
        println!("  {label:<6} {}", parts.join(", "));
    }
    println!("findings:");
    let mut by_count: Vec<_> = out.findings.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1));
    for (name, n) in by_count.iter().take(25) {
        println!("  {n:>6}  {name}");
    }
    Ok(())
}

/// The finding families whose accuracy `eval phish` measures.
const PHISH_FAMILIES: &[&str] = &["url", "phish", "file"];

#[derive(Serialize)]
struct PhishEval {
    messages: usize,
    phish: usize,
    ham: usize,
    detection_rate: f64,
    ham_fpr: f64,
    msgs_per_sec: f64,
}

pub fn eval_phish(cli: &Cli, args: &EvalPhishArgs) -> anyhow::Result<()> {
    let config = crate::config::load(cli.config.as_deref())?;
    crate::block_on(async {
        let scanner = offline_scanner(cli, &config, false).await?;
        let mut samples = Vec::new();
        for index in &args.index {
            samples.extend(
                read_index(index)?
                    .into_iter()
                    .filter(|s| s.label == "phish" || s.label == "ham"),
            );
        }
        let mut scores_out = match &args.scores {
            Some(p) => Some(std::io::BufWriter::new(
                std::fs::File::create(p)
                    .with_context(|| format!("cannot write {}", p.display()))?,
            )),
            None => None,
        };
        let bar = progress(samples.len() as u64, "messages", false);
        let (mut phish, mut ham, mut caught, mut false_pos) = (0usize, 0usize, 0usize, 0usize);
        let started = Instant::now();
        for s in &samples {
            bar.inc(1);
            let raw = std::fs::read(&s.path)
                .with_context(|| format!("cannot read {}", s.path.display()))?;
            let report = scanner.scan(&raw, &Envelope::new(Direction::Inbound)).await;
            let family: Vec<_> = report
                .findings
                .iter()
                .filter(|f| PHISH_FAMILIES.contains(&f.family()))
                .cloned()
                .collect();
            let score: f32 = family.iter().map(|f| f.score).sum::<f32>() + 0.0;
            let action = scanner.policy().decide(Direction::Inbound, score, &family);
            let flagged = action >= Action::Junk;
            if s.label == "phish" {
                phish += 1;
                caught += usize::from(flagged);
            } else {
                ham += 1;
                false_pos += usize::from(flagged);
            }
            if let Some(w) = scores_out.as_mut() {
                writeln!(
                    w,
                    "{}\t{}\t{:.3}\t{}",
                    s.path.display(),
                    s.label,
                    score,
                    action
                )?;
            }
        }
        bar.finish_and_clear();
        if let Some(mut w) = scores_out {
            w.flush()?;
        }
        let result = PhishEval {
            messages: phish + ham,
            phish,
            ham,
            detection_rate: caught as f64 / phish.max(1) as f64,
            ham_fpr: false_pos as f64 / ham.max(1) as f64,
            msgs_per_sec: (phish + ham) as f64 / started.elapsed().as_secs_f64().max(1e-9),
        };
        if cli.json {
            return json(&result);
        }
        println!(
            "phish {}  ham {}  detection {:.2}%  ham false positives {:.3}%  ({:.0} msgs/s)",
            result.phish,
            result.ham,
            100.0 * result.detection_rate,
            100.0 * result.ham_fpr,
            result.msgs_per_sec
        );
        Ok(())
    })
}

#[derive(Serialize)]
struct ScanBench {
    messages: usize,
    bytes: u64,
    elapsed_secs: f64,
    msgs_per_sec: f64,
    megabytes_per_sec: f64,
    latency_ms_p50: f64,
    latency_ms_p99: f64,
    peak_rss_mb: f64,
}

/// Peak resident memory of this process so far (Linux `VmHWM`).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A message of about `mb` megabytes: text body plus a base64 attachment.
fn large_message(mb: usize) -> Vec<u8> {
    let mut m = b"From: big@sender.test\r\nTo: a@example.com\r\nSubject: large\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nsee attachment http://example.org/x\r\n\
--XX\r\nContent-Type: application/octet-stream; name=data.bin\r\nContent-Disposition: attachment; filename=data.bin\r\n\
Content-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    let line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n";
    while m.len() < mb * 1024 * 1024 {
        m.extend_from_slice(line);
    }
    m.extend_from_slice(b"--XX--\r\n");
    m
}

pub fn bench_scan(cli: &Cli, args: &BenchScanArgs) -> anyhow::Result<()> {
    let config = crate::config::load(cli.config.as_deref())?;
    crate::block_on(async {
        let scanner = offline_scanner(cli, &config, false).await?;
        let messages: Vec<Vec<u8>> = if let Some(mb) = args.large_mb {
            vec![large_message(mb)]
        } else {
            let index = args
                .index
                .as_ref()
                .context("give --index INDEX or --large-mb N")?;
            let samples = read_index(index)?;
            let take = args.limit.unwrap_or(samples.len());
            samples
                .iter()
                .take(take)
                .filter_map(|s| std::fs::read(&s.path).ok())
                .collect()
        };
        let rss_before = peak_rss_mb();
        let bar = progress(messages.len() as u64, "messages", cli.json);
        let mut latencies = Vec::with_capacity(messages.len());
        let mut env = Envelope::new(args.direction);
        if args.direction == Direction::Outbound {
            env.recipients.push("someone@outside.example".into());
            env.authenticated = Some("bench@example.com".into());
        }
        let started = Instant::now();
        for raw in &messages {
            let t = Instant::now();
            let report = scanner.scan(raw, &env).await;
            std::hint::black_box(&report);
            latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            bar.inc(1);
        }
        let elapsed = started.elapsed().as_secs_f64();
        bar.finish_and_clear();
        latencies.sort_by(|a, b| a.total_cmp(b));
        let pct = |p: f64| {
            latencies
                .get(((p / 100.0) * (latencies.len().max(1) - 1) as f64).round() as usize)
                .copied()
                .unwrap_or(0.0)
        };
        let bytes: u64 = messages.iter().map(|m| m.len() as u64).sum();
        let result = ScanBench {
            messages: messages.len(),
            bytes,
            elapsed_secs: elapsed,
            msgs_per_sec: messages.len() as f64 / elapsed.max(1e-9),
            megabytes_per_sec: bytes as f64 / 1e6 / elapsed.max(1e-9),
            latency_ms_p50: pct(50.0),
            latency_ms_p99: pct(99.0),
            peak_rss_mb: peak_rss_mb(),
        };
        if cli.json {
            return json(&result);
        }
        println!(
            "{} messages ({:.1} MB) in {:.2} s on one core: {:.0} msgs/s, {:.1} MB/s; latency p50 {:.3} ms, p99 {:.3} ms",
            result.messages, bytes as f64 / 1e6, elapsed, result.msgs_per_sec, result.megabytes_per_sec, result.latency_ms_p50, result.latency_ms_p99
        );
        println!(
            "peak RSS {:.1} MB (input held in memory: {:.1} MB; before scanning {:.1} MB)",
            result.peak_rss_mb,
            bytes as f64 / 1e6 / 1.048576,
            rss_before
        );
        Ok(())
    })
}
