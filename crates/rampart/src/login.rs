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
    let login = Login::new(store.clone(), hasher, risk_config(config), geo, settings);
    let mut threats = Vec::new();
    for path in &config.auth.threat_ips {
        threats.extend(read_threat_list(path)?);
    }
    if !threats.is_empty() {
        tracing::info!(networks = threats.len(), "login threat lists loaded");
        login.set_threat_ips(threats);
    }
    Ok(login)
}

/// One IP address or CIDR network per line; blank lines and `#` comments are skipped, and so
/// are lines that are neither (with a count in the log, so a wrong file is noticed).
pub fn read_threat_list(path: &std::path::Path) -> anyhow::Result<Vec<ipnet::IpNet>> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read threat list {} ([auth] threat_ips)",
            path.display()
        )
    })?;
    let mut nets = Vec::new();
    let mut skipped = 0usize;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        match line.parse::<ipnet::IpNet>() {
            Ok(n) => nets.push(n.trunc()),
            Err(_) => match line.parse::<std::net::IpAddr>() {
                Ok(ip) => nets.push(ipnet::IpNet::from(ip)),
                Err(_) => skipped += 1,
            },
        }
    }
    if skipped > 0 {
        tracing::warn!(file = %path.display(), skipped, "threat list lines that are not IPs or networks were skipped");
    }
    Ok(nets)
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
    /// Relative shares of naive, VPN and targeted attackers, e.g. `0,0,1` for targeted only.
    #[arg(long, value_delimiter = ',', default_values_t = [1.0, 1.0, 1.0])]
    attacker_mix: Vec<f64>,
    /// Where to write the CSV (RBA layout).
    #[arg(long)]
    out: PathBuf,
}

pub fn synth(cli: &Cli, args: &SynthArgs) -> anyhow::Result<()> {
    if args.attacker_mix.len() != 3 {
        anyhow::bail!("--attacker-mix takes three shares: naive,vpn,targeted (e.g. 0,0,1)");
    }
    let cfg = rampart_risk::synth::SynthConfig {
        users: args.users,
        days: args.days,
        seed: args.seed,
        with_rtt: args.rtt,
        attacker_mix: [
            args.attacker_mix[0].max(0.0),
            args.attacker_mix[1].max(0.0),
            args.attacker_mix[2].max(0.0),
        ],
        ..Default::default()
    };
    if cfg.attacker_mix.iter().sum::<f64>() <= 0.0 {
        anyhow::bail!("--attacker-mix needs at least one share above zero, e.g. 0,0,1");
    }
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
    /// Instead: whole logins through the login service on a scratch store (credential check,
    /// profile, policy, trust, risk, event, profile save), as SMTP AUTH runs them.
    #[arg(long)]
    flow: bool,
    /// Logins to time with --flow.
    #[arg(long, default_value_t = 2_000)]
    logins: usize,
}

pub fn bench(cli: &Cli, args: &BenchLoginArgs) -> anyhow::Result<()> {
    if args.flow {
        return bench_flow(cli, args.logins.max(10));
    }
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

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[derive(serde::Serialize)]
struct FlowReport {
    logins: usize,
    login_p50_ms: f64,
    login_p99_ms: f64,
    hash_p50_ms: f64,
    hash_p99_ms: f64,
    /// Login time beyond the password hash, at the median and the 99th percentile.
    overhead_p50_ms: f64,
    overhead_p99_ms: f64,
}

fn bench_flow(cli: &Cli, logins: usize) -> anyhow::Result<()> {
    use rampart_auth::login::{LoginOutcome, LoginRequest};
    use rampart_model::{NewAccount, Protocol, SystemClock};
    use std::sync::Arc;
    use std::time::Instant;

    let dir = std::env::temp_dir().join(format!("rampart-bench-login-{}", std::process::id()));
    let _cleanup = RemoveOnDrop(dir.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        let store = Mailstore::open_embedded(&dir, Arc::new(SystemClock), 7)?;
        let now = store.now();
        store
            .meta()
            .add_domain("bench.example", now, "bench")
            .await?;
        // The argon2id parameters of production; hash once and share (verification cost is
        // what a login pays, and it is measured separately below).
        let hasher = PasswordHasher::new(1, 1024);
        let phc = hasher.hash("bench password 1").await?;
        let users = 200;
        for i in 0..users {
            store
                .meta()
                .create_account(
                    NewAccount {
                        address: Some(format!("user{i}@bench.example").parse()?),
                        password_hash: Some(phc.clone()),
                        ..Default::default()
                    },
                    now,
                    "bench",
                )
                .await?;
        }
        let login = Login::new(
            store.clone(),
            hasher.clone(),
            RiskConfig::default(),
            GeoDb::empty(),
            LoginSettings::for_host("bench.example"),
        );
        let mut hash_ms = Vec::with_capacity(logins);
        let mut login_ms = Vec::with_capacity(logins);
        for n in 0..logins {
            let user = n % users;
            let t = Instant::now();
            hasher.verify("bench password 1", Some(&phc)).await?;
            hash_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            let request = LoginRequest {
                user: format!("user{user}@bench.example"),
                secret: "bench password 1".into(),
                protocol: Protocol::Smtp,
                ip: std::net::IpAddr::from([10, 0, (user / 250) as u8, (user % 250) as u8]),
                user_agent: Some("smtp-client ehlo=laptop".into()),
                device_id: None,
            };
            let t = Instant::now();
            let outcome = login.login(&request).await;
            login_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            if let LoginOutcome::Refused(r) = outcome {
                anyhow::bail!("bench login refused: {} ({})", r.code, r.message);
            }
        }
        hash_ms.sort_by(f64::total_cmp);
        login_ms.sort_by(f64::total_cmp);
        let (h50, h99) = (percentile(&hash_ms, 0.5), percentile(&hash_ms, 0.99));
        let (l50, l99) = (percentile(&login_ms, 0.5), percentile(&login_ms, 0.99));
        anyhow::Ok(FlowReport {
            logins,
            login_p50_ms: l50,
            login_p99_ms: l99,
            hash_p50_ms: h50,
            hash_p99_ms: h99,
            overhead_p50_ms: l50 - h50,
            overhead_p99_ms: l99 - h99,
        })
    })?;
    crate::admin::done(
        cli,
        &report,
        &format!(
            "{} logins: p50 {:.2} ms, p99 {:.2} ms; the argon2id check alone p50 {:.2} ms, p99 {:.2} ms; \
             everything else p50 {:.2} ms, p99 {:.2} ms",
            report.logins,
            report.login_p50_ms,
            report.login_p99_ms,
            report.hash_p50_ms,
            report.hash_p99_ms,
            report.overhead_p50_ms,
            report.overhead_p99_ms
        ),
    )
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
