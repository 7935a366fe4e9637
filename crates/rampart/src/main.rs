//! `rampart`: the command line and the server's wiring. Work lives in the library crates; this
//! crate parses arguments, loads configuration, opens the store and starts listeners.

mod admin;
mod archive_job;
mod backup_cmd;
mod bench_archive;
mod bench_audit;
mod bench_imap;
mod bench_outbound;
mod compliance_cmd;
mod config;
mod corpus;
mod dlp_cmd;
mod feedback;
mod health;
mod identity_cmd;
mod login;
mod outbound;
mod outbound_cmd;
mod output;
mod scan_cmd;
mod serve;
mod spam_cmd;
mod tls;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "rampart",
    version,
    about = "Rampart: a self-hosted mail system built around security",
    propagate_version = true
)]
pub struct Cli {
    /// Data directory (metadata, message blobs, certificates). Created if missing.
    #[arg(
        long,
        global = true,
        env = "RAMPART_DATA",
        default_value = "rampart-data"
    )]
    data: PathBuf,
    /// Configuration file (TOML). Without one, safe defaults apply; see `rampart config example`.
    #[arg(long, global = true, env = "RAMPART_CONFIG")]
    config: Option<PathBuf>,
    /// Print listings and results as JSON, for scripts.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the mail server (SMTP MX today; more listeners as they land).
    Serve,
    /// Configuration helpers.
    #[command(subcommand)]
    Config(config::ConfigCmd),
    /// Domains this server accepts mail for.
    #[command(subcommand)]
    Domain(admin::DomainCmd),
    /// Accounts (mailboxes).
    #[command(subcommand)]
    User(admin::UserCmd),
    /// Extra addresses that deliver to accounts.
    #[command(subcommand)]
    Alias(admin::AliasCmd),
    /// Messages in a mailbox: list, delete, recover, purge.
    #[command(subcommand)]
    Mail(admin::MailCmd),
    /// Messages held by policy: list, inspect, release to the mailbox, delete.
    #[command(subcommand)]
    Quarantine(admin::QuarantineCmd),
    /// The event log (admin actions, deliveries, deletes, restores, purges, quarantine, logins).
    #[command(subcommand)]
    Events(admin::EventsCmd),
    /// Sources (IP addresses, networks) refused at every login door.
    #[command(subcommand)]
    Block(identity_cmd::BlockCmd),
    /// Login rules per organisation, department, job level or user: geofence, device binding,
    /// login hours, IP lists, MFA.
    #[command(subcommand)]
    Policy(identity_cmd::PolicyCmd),
    /// Login decisions and their reasons.
    #[command(subcommand)]
    Login(identity_cmd::LoginCmd),
    /// Outbound mail held by data-leak prevention: list, inspect, release, reject.
    #[command(subcommand)]
    Hold(identity_cmd::HoldCmd),
    /// The outbound delivery queue: list, show, retry, delete.
    #[command(subcommand)]
    Queue(outbound_cmd::QueueCmd),
    /// Account security: contain a compromised account, release it, show its state.
    #[command(subcommand)]
    Account(outbound_cmd::AccountCmd),
    /// The tamper-evident audit trail: verify, checkpoint, search, export.
    #[command(subcommand)]
    Audit(compliance_cmd::AuditCmd),
    /// The mail archive (journal): search, show, export, reindex, retention.
    #[command(subcommand)]
    Archive(compliance_cmd::ArchiveCmd),
    /// Legal holds: suspend deletion for a person or a search.
    #[command(subcommand, name = "legal-hold")]
    LegalHold(compliance_cmd::LegalHoldCmd),
    /// DKIM signing keys for outbound mail: generate (prints the DNS record), list.
    #[command(subcommand)]
    Dkim(outbound_cmd::DkimCmd),
    /// Store, antivirus and signature freshness at a glance (`--json` for monitoring).
    Health,
    /// Consistent online backup of the data directory: metadata snapshot plus blobs (incremental).
    Backup(backup_cmd::BackupArgs),
    /// Restore a backup into an empty data directory and verify it.
    Restore(backup_cmd::RestoreArgs),
    /// Run the content pipeline on a message file or a labelled corpus, offline.
    /// Exit status: 0 clean, 1 spam/junk, 2 quarantine/reject, 3 error.
    Scan(scan_cmd::ScanArgs),
    /// Measure detection quality on labelled corpora.
    #[command(subcommand)]
    Eval(scan_cmd::EvalCmd),
    /// Train models on labelled corpora.
    #[command(subcommand)]
    Train(spam_cmd::TrainCmd),
    /// Load generators that measure any mail server.
    #[command(subcommand)]
    Bench(BenchCmd),
}

#[derive(Subcommand)]
enum BenchCmd {
    /// SMTP delivery throughput and per-message latency against HOST:PORT.
    Smtp(rampart_bench::SmtpBenchArgs),
    /// Content pipeline throughput on one core (no DNS, no clamd), or peak memory on one large
    /// message.
    Scan(scan_cmd::BenchScanArgs),
    /// Login risk decisions per second on one core, with latency percentiles.
    Login(login::BenchLoginArgs),
    /// DLP detector throughput on text, and the cost of extracting text from documents.
    Dlp(dlp_cmd::BenchDlpArgs),
    /// Outbound delivery throughput: queue → DKIM → SMTP to a local discard server.
    Delivery(bench_outbound::BenchDeliveryArgs),
    /// Cost of the sending quota and spike checks per message.
    Sending(bench_outbound::BenchSendingArgs),
    /// Concurrent IMAP sessions (sign in, SELECT, FETCH 100 headers, IDLE) against a scratch
    /// server: throughput, latency, memory per idle session.
    Imap(bench_imap::BenchImapArgs),
    /// Archive indexing throughput and search latency over labelled corpora.
    Archive(bench_archive::BenchArchiveArgs),
    /// Audit trail: durable appends to the hash chain per second, chain verification speed,
    /// checkpoint cost.
    Audit(bench_audit::BenchAuditArgs),
    /// The security dashboard's query (flow, detections, logins, risky accounts) over a large
    /// event log.
    Dashboard(bench_audit::BenchDashboardArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Cmd::Serve) {
        // `rampart audit export | head` should stop quietly like any Unix tool, not panic on a
        // closed pipe. Not for `serve`: a peer closing a socket must never kill the server.
        #[cfg(unix)]
        // SAFETY: restoring the default action of one signal before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let result = match &cli.command {
        Cmd::Serve => serve::run(&cli),
        Cmd::Config(cmd) => config::run(&cli, cmd),
        Cmd::Bench(BenchCmd::Smtp(args)) => bench_smtp(&cli, args),
        Cmd::Bench(BenchCmd::Scan(args)) => scan_cmd::bench_scan(&cli, args),
        Cmd::Bench(BenchCmd::Login(args)) => login::bench(&cli, args),
        Cmd::Bench(BenchCmd::Dlp(args)) => dlp_cmd::bench(&cli, args),
        Cmd::Bench(BenchCmd::Delivery(args)) => bench_outbound::delivery(&cli, args),
        Cmd::Bench(BenchCmd::Sending(args)) => bench_outbound::sending(&cli, args),
        Cmd::Bench(BenchCmd::Imap(args)) => bench_imap::imap(&cli, args),
        Cmd::Bench(BenchCmd::Audit(args)) => bench_audit::audit(&cli, args),
        Cmd::Bench(BenchCmd::Dashboard(args)) => bench_audit::dashboard(&cli, args),
        Cmd::Bench(BenchCmd::Archive(args)) => bench_archive::archive(&cli, args),
        Cmd::Dkim(cmd) => outbound_cmd::dkim(&cli, cmd),
        Cmd::Eval(scan_cmd::EvalCmd::Dlp(args)) => dlp_cmd::eval(&cli, args),
        Cmd::Eval(scan_cmd::EvalCmd::Login(args)) => login::eval(&cli, args),
        Cmd::Login(identity_cmd::LoginCmd::Synth(args)) => login::synth(&cli, args),
        Cmd::Eval(scan_cmd::EvalCmd::Phish(args)) => scan_cmd::eval_phish(&cli, args),
        Cmd::Eval(scan_cmd::EvalCmd::Spam(args)) => spam_cmd::eval(&cli, args),
        Cmd::Train(cmd) => spam_cmd::train(&cli, cmd),
        Cmd::Health => health::run(&cli),
        Cmd::Scan(args) => {
            return scan_cmd::scan(&cli, args).unwrap_or_else(|e| {
                eprintln!("error: {e:#}");
                ExitCode::from(3)
            })
        }
        Cmd::Backup(args) => backup_cmd::backup(&cli, args),
        Cmd::Restore(args) => backup_cmd::restore(&cli, args),
        Cmd::Domain(_)
        | Cmd::User(_)
        | Cmd::Alias(_)
        | Cmd::Mail(_)
        | Cmd::Quarantine(_)
        | Cmd::Events(_)
        | Cmd::Block(_)
        | Cmd::Policy(_)
        | Cmd::Login(_)
        | Cmd::Queue(_)
        | Cmd::Account(_)
        | Cmd::Audit(_)
        | Cmd::Archive(_)
        | Cmd::LegalHold(_)
        | Cmd::Hold(_) => admin::run(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a one-shot command's async work on a single-threaded runtime.
fn block_on<T>(work: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(work)
}

/// The embedded store in `--data`.
fn open_store(
    cli: &Cli,
    config: &rampart_model::Config,
) -> anyhow::Result<rampart_store::Mailstore> {
    use anyhow::Context;
    rampart_store::Mailstore::open_embedded(
        &cli.data,
        std::sync::Arc::new(rampart_model::SystemClock),
        config.retention.deleted_days,
    )
    .map(|store| store.with_archive(config.archive.enabled))
    .with_context(|| format!("cannot open the store in {}", cli.data.display()))
}

fn bench_smtp(cli: &Cli, args: &rampart_bench::SmtpBenchArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(rampart_bench::run_smtp(args, !cli.json))?;
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    if report.failed > 0 && report.delivered == 0 {
        anyhow::bail!(
            "no message was accepted; first error: {}",
            report.first_error.unwrap_or_default()
        );
    }
    Ok(())
}
