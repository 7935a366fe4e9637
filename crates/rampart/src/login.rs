//! The login service's wiring (`serve`) and the login risk engine's offline tools: replaying a
//! login log (`rampart eval login`), making synthetic logs (`rampart login synth`), and the
//! decision benchmark (`rampart bench login`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use rampart_auth::login::{Login, LoginSettings};
use rampart_auth::PasswordHasher;
use rampart_model::Config;
use rampart_risk::{GeoDb, RiskConfig};
use rampart_store::Mailstore;

use crate::Cli;

/// The risk engine's settings from `[auth]`.
pub fn risk_config(config: &Config) -> RiskConfig {
    RiskConfig {
        lock_after_failures: config.auth.lockout_failures.max(1),
        lock_ms: config.auth.lockout_secs.saturating_mul(1000),
        base_delay_ms: config.auth.failure_delay_ms,
        max_delay_ms: config
            .auth
            .max_failure_delay_ms
            .max(config.auth.failure_delay_ms),
        ..Default::default()
    }
}

/// The login flow every door of `serve` shares.
pub fn service(config: &Config, store: &Mailstore) -> anyhow::Result<Login> {
    let geo = if config.auth.geoip.is_empty() {
        GeoDb::empty()
    } else {
        GeoDb::open_all(&config.auth.geoip).context("cannot load [auth] geoip")?
    };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let concurrency = match config.auth.hash_concurrency {
        0 => cores,
        n => n,
    };
    let hasher = PasswordHasher::new(concurrency, concurrency * 32);
    let mut settings = LoginSettings::for_host(&config.hostname);
    settings.session_ttl_secs = config.auth.session_ttl_secs.max(60);
    settings.challenge_ttl_secs = config.auth.challenge_ttl_secs.max(30);
    settings.trust_secs = i64::from(config.auth.trust_days) * 86_400;
    if let Some(url) = &config.auth.approve_url {
        settings.approve_url = url.clone();
    }
    Ok(Login::new(
        store.clone(),
        hasher,
        risk_config(config),
        geo,
        settings,
    ))
}

#[derive(clap::Args)]
pub struct EvalLoginArgs {
    /// A login log in the RBA dataset's column layout (see ../shared/corpora/logins), in time
    /// order.
    #[arg(long)]
    input: PathBuf,
    /// Geo/ASN database (MMDB, or CSV `cidr,asn,asn_name,country,region,city`) for rows whose
    /// own Country/ASN columns are empty.
    #[arg(long)]
    geo: Option<PathBuf>,
    /// Also write `index<TAB>score<TAB>decision` per attempt.
    #[arg(long)]
    scores: Option<PathBuf>,
    /// Treat the log's `Is Attack IP` column as a threat list the server already has. Off by
    /// default: it is a label of the data set, and a real server learns such lists from feeds.
    #[arg(long)]
    attack_ip_column: bool,
}

pub fn eval(cli: &Cli, args: &EvalLoginArgs) -> anyhow::Result<()> {
    let config = crate::config::load(cli.config.as_deref())?;
    let geo = match &args.geo {
        Some(p) => Some(GeoDb::open(p).with_context(|| format!("cannot load {}", p.display()))?),
        None => None,
    };
    let file = std::fs::File::open(&args.input)
        .with_context(|| format!("cannot open {}", args.input.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut scores = match &args.scores {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => None,
    };
    // The file is streamed (the real data set has 33 M rows); the bar counts attempts, with
    // the byte size as a rough total of ~150 bytes a row.
    let bar = crate::corpus::progress((size / 150).max(1), "attempts", cli.json);
    let mut first_error: Option<String> = None;
    let records =
        rampart_risk::eval::read_rba_csv(std::io::BufReader::new(file)).map_while(|r| match r {
            Ok(rec) => Some(rec),
            Err(e) => {
                first_error = Some(e.to_string());
                None
            }
        });
    let opts = rampart_risk::eval::ReplayOptions {
        use_attack_ip_column: args.attack_ip_column,
        ..Default::default()
    };
    let mut write_error = None;
    let report = rampart_risk::eval::replay_with(
        records,
        &risk_config(&config),
        geo.as_ref(),
        &opts,
        |index, score, decision| {
            if let Some(w) = scores.as_mut() {
                if let Err(e) = writeln!(w, "{index}\t{score:.4}\t{decision}") {
                    write_error.get_or_insert(e);
                }
            }
        },
        |n| bar.set_position(n),
    );
    bar.finish_and_clear();
    if let Some(e) = first_error {
        anyhow::bail!("{}: {e}", args.input.display());
    }
    if let Some(e) = write_error {
        anyhow::bail!("cannot write the scores file: {e}");
    }
    if let Some(w) = scores.as_mut() {
        w.flush()?;
    }
    if cli.json {
        return crate::output::json(&report);
    }
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.2}%", v * 100.0));
    let num = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    println!(
        "{} attempts, {} users, {} takeovers, {} legitimate successful logins",
        report.attempts, report.users, report.takeovers, report.legit_logins
    );
    println!(
        "all users:         AUC {}, legitimate challenged at 99% detection {}",
        num(report.auc),
        pct(report.legit_challenged_at_99)
    );
    println!(
        ">= 30 logins seen: AUC {}, legitimate challenged at 99% detection {} ({} takeovers)",
        num(report.history30.auc),
        pct(report.history30.legit_challenged_at_99),
        report.history30.takeovers
    );
    println!(
        "at the configured thresholds: {} of takeovers stopped, {} of legitimate logins interrupted",
        pct(report.takeovers_stopped),
        pct(report.legit_interrupted)
    );
    println!("{:.0} decisions/s", report.decisions_per_sec);
    Ok(())
}

#[derive(clap::Args)]
pub struct SynthArgs {
    #[arg(long, default_value_t = 2000)]
    users: usize,
    #[arg(long, default_value_t = 120)]
    days: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Include round-trip times (the public RBA data mostly has none).
    #[arg(long)]
    rtt: bool,
    /// Where to write the CSV (RBA layout).
    #[arg(long)]
    out: PathBuf,
}

pub fn synth(cli: &Cli, args: &SynthArgs) -> anyhow::Result<()> {
    let cfg = rampart_risk::synth::SynthConfig {
        users: args.users,
        days: args.days,
        seed: args.seed,
        with_rtt: args.rtt,
        ..Default::default()
    };
    let records = rampart_risk::synth::generate(&cfg);
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    rampart_risk::synth::write_csv(std::io::BufWriter::new(file), &records)?;
    let takeovers = records.iter().filter(|r| r.takeover).count();
    crate::admin::done(
        cli,
        &serde_json::json!({"attempts": records.len(), "takeovers": takeovers, "out": args.out}),
        &format!(
            "{} attempts ({takeovers} takeovers) written to {}",
            records.len(),
            args.out.display()
        ),
    )
}

#[derive(clap::Args)]
pub struct BenchLoginArgs {
    /// Decisions to time (assess + record on a warmed engine).
    #[arg(long, default_value_t = 200_000)]
    decisions: usize,
}

pub fn bench(cli: &Cli, args: &BenchLoginArgs) -> anyhow::Result<()> {
    let r = rampart_risk::bench::bench_decisions(args.decisions.max(1000));
    crate::admin::done(
        cli,
        &r,
        &format!(
            "{} decisions: {:.0}/s on one core, p50 {:.1} µs, p99 {:.1} µs",
            r.decisions, r.per_sec, r.p50_us, r.p99_us
        ),
    )
}
