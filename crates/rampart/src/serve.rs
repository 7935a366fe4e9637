use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rampart_model::config::ScanConfig;
use rampart_model::{Config, SystemClock};
use rampart_scan::{OrgDirectory, Scanner};
use rampart_smtp::session::Submission;
use rampart_smtp::{SessionContext, SmtpServer};
use rampart_store::Mailstore;
use tokio::sync::watch;

use crate::Cli;

pub fn run(cli: &Cli) -> anyhow::Result<()> {
    let config = crate::config::load(cli.config.as_deref())?;
    init_logging(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("rampart")
        .build()?;
    runtime.block_on(serve(cli, config))
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log.level))
        .context("log.level is not a valid filter")?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let installed = if config.log.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    installed.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}

async fn serve(cli: &Cli, config: Config) -> anyhow::Result<()> {
    std::fs::create_dir_all(&cli.data)
        .with_context(|| format!("cannot create data directory {}", cli.data.display()))?;
    let store = Mailstore::open_embedded(
        &cli.data,
        Arc::new(SystemClock),
        config.retention.deleted_days,
    )
    .map(|store| store.with_archive(config.archive.enabled))
    .with_context(|| format!("cannot open the store in {}", cli.data.display()))?;
    if store.meta().list_domains().await?.is_empty() {
        tracing::warn!("no local domains yet: every recipient will be refused; add one with `rampart domain add example.com`");
    }
    if config.hostname == "localhost" {
        tracing::warn!("hostname is \"localhost\"; set `hostname` in the config to the name your MX record points at");
    }
    let tls = crate::tls::server_config(&config, &cli.data)?;
    let (stop, shutdown) = watch::channel(false);
    let archive_dir = crate::archive_job::index_dir(&cli.data, &config.archive);
    let archive_index = match crate::archive_job::open_for_serve(&archive_dir) {
        Ok(index) => Some(Arc::new(index)),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "archive search index unavailable; journaling continues, search and search holds do not");
            None
        }
    };
    let scanner = if config.scan.enabled {
        let org = org_directory(&store, &config.scan).await?;
        let scanner = Arc::new(
            Scanner::new(&config.scan, &config.hostname, org)
                .and_then(|s| s.with_dlp(&config.dlp))
                .context("cannot set up the content pipeline")?,
        );
        scanner.set_user_models(Arc::new(crate::feedback::StoreUserModels {
            store: store.clone(),
        }));
        tracing::info!(checks = ?scanner.check_names(), "content pipeline ready");
        if let Some(clamd) = rampart_scan::checks::clamd(&config.scan) {
            tokio::spawn(watch_clamd(clamd, store.clone(), shutdown.clone()));
        }
        tokio::spawn(refresh_org(
            store.clone(),
            config.scan.clone(),
            Arc::clone(&scanner),
            shutdown.clone(),
        ));
        Some(scanner)
    } else {
        tracing::warn!("content scanning is disabled ([scan] enabled = false)");
        None
    };

    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    if let Some(file) = &config.auth.policy_file {
        let n = crate::identity_cmd::import_policies(&store, file, "config")
            .await
            .context("[auth] policy_file")?;
        tracing::info!(policies = n, file = %file.display(), "login policies applied");
    }
    let login = Arc::new(crate::login::service(&config, &store)?);
    let population_file = cli.data.join("risk-population.json");
    if let Some(bytes) = read_snapshot(&population_file) {
        match login.restore_population(&bytes) {
            Ok(()) => tracing::info!("login risk population restored"),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read {}; starting afresh", population_file.display())
            }
        }
    }
    let population_task = {
        let login = Arc::clone(&login);
        tokio::spawn(save_every(
            population_file,
            "login risk population",
            move || login.population_json().map_err(|e| e.to_string()),
            shutdown.clone(),
        ))
    };
    let alerter = rampart_smtp::alerts::alerter(&config, &store)
        .context("cannot set up the alert sinks in [alerts]")?;
    let guard = Arc::new(
        rampart_smtp::sending::SendingGuard::new(&config.sending, store.clone(), alerter.clone())
            .map_err(|e| anyhow::anyhow!("[sending]: {e}"))?,
    );
    let sending_file = cli.data.join("sending-baselines.json");
    if let Some(bytes) = read_snapshot(&sending_file) {
        match guard.restore(&String::from_utf8_lossy(&bytes), &config.sending) {
            Ok(()) => tracing::info!("sending baselines restored"),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read {}; starting afresh", sending_file.display())
            }
        }
    }
    let sending_task = {
        let guard = Arc::clone(&guard);
        tokio::spawn(save_every(
            sending_file,
            "sending baselines",
            move || Ok(guard.snapshot().into_bytes()),
            shutdown.clone(),
        ))
    };
    let delivery = crate::outbound::delivery(&config, &cli.data, &store).await?;
    let delivery_task = delivery
        .clone()
        .map(|d| tokio::spawn(d.run(shutdown.clone())));
    let smtp = SmtpServer::bind(
        &config.smtp.listen,
        SessionContext {
            hostname: config.hostname.clone(),
            limits: config.smtp.clone(),
            store: store.clone(),
            tls: Some(acceptor.clone()),
            scanner: scanner.clone(),
            shutdown: shutdown.clone(),
            submission: None,
            implicit_tls: false,
        },
    )
    .await?;
    let mut listeners = Vec::new();
    for (addr, implicit_tls) in [
        (&config.submission.listen, false),
        (&config.submission.listen_tls, true),
    ] {
        if addr.is_empty() {
            continue;
        }
        let server = SmtpServer::bind(
            addr,
            SessionContext {
                hostname: config.hostname.clone(),
                limits: config.smtp.clone(),
                store: store.clone(),
                tls: Some(acceptor.clone()),
                scanner: scanner.clone(),
                shutdown: shutdown.clone(),
                submission: Some(Submission {
                    login: Arc::clone(&login),
                    save_sent: config.submission.save_sent,
                    hold_minutes: config.dlp.hold_minutes,
                    // Beside the approval page the login service names.
                    verify_url: format!(
                        "{}/holds",
                        login.settings().approve_url.trim_end_matches('/')
                    ),
                    sending: Some(Arc::clone(&guard)),
                    outbound: delivery.as_ref().map(|d| d.waker()),
                }),
                implicit_tls,
            },
        )
        .await?;
        tracing::info!(
            addr = %server.local_addr()?,
            tls = if implicit_tls { "implicit" } else { "starttls" },
            "SMTP submission listening"
        );
        listeners.push(tokio::spawn(server.run(shutdown.clone())));
    }
    let junk: Option<Arc<dyn rampart_imap::JunkFeedback>> = if config.scan.enabled {
        Some(Arc::new(crate::feedback::ImapJunkFeedback {
            store: store.clone(),
            global: crate::feedback::global_model(&config)?,
        }))
    } else {
        None
    };
    for (addr, implicit_tls) in [
        (&config.imap.listen, false),
        (&config.imap.listen_tls, true),
    ] {
        if addr.is_empty() {
            continue;
        }
        let server = rampart_imap::ImapServer::bind(
            addr,
            rampart_imap::ImapContext {
                hostname: config.hostname.clone(),
                store: store.clone(),
                login: Arc::clone(&login),
                tls: acceptor.clone(),
                implicit_tls,
                shutdown: shutdown.clone(),
                limits: rampart_imap::ImapLimits {
                    max_connections: config.imap.max_connections,
                    max_connections_per_ip: config.imap.max_connections_per_ip,
                    max_message_size: config.smtp.max_message_size,
                    ..rampart_imap::ImapLimits::default()
                },
                junk: junk.clone(),
            },
        )
        .await
        .with_context(|| format!("cannot listen on {addr} ([imap])"))?;
        tracing::info!(
            addr = %server.local_addr()?,
            tls = if implicit_tls { "implicit" } else { "starttls" },
            "IMAP listening"
        );
        listeners.push(tokio::spawn(server.run(shutdown.clone())));
    }
    if !config.http.listen.is_empty() {
        let listener = tokio::net::TcpListener::bind(&config.http.listen)
            .await
            .with_context(|| format!("cannot listen on {} (http.listen)", config.http.listen))?;
        tracing::info!(
            addr = %listener.local_addr()?,
            tls = config.http.tls,
            "HTTP API listening"
        );
        let app = rampart_web::router(rampart_web::AppState {
            login: Arc::clone(&login),
            hostname: config.hostname.clone(),
            save_sent: config.submission.save_sent,
            alerter: alerter.clone(),
            archive: archive_index.clone(),
        });
        let tls = config.http.tls.then(|| acceptor.clone());
        let shutdown = shutdown.clone();
        listeners.push(tokio::spawn(async move {
            if let Err(e) = rampart_web::serve(listener, tls, app, shutdown).await {
                tracing::error!(error = %e, "HTTP server failed");
            }
        }));
    }
    tracing::info!(
        addr = %smtp.local_addr()?,
        data = %cli.data.display(),
        hostname = %config.hostname,
        "SMTP (MX) listening"
    );
    let smtp_task = tokio::spawn(smtp.run(shutdown.clone()));
    let holds_task = tokio::spawn(expire_holds(
        store.clone(),
        config.hostname.clone(),
        shutdown.clone(),
    ));
    let purge_task = tokio::spawn(purge_loop(
        store.clone(),
        Duration::from_secs(config.retention.purge_interval_secs.max(60)),
        shutdown.clone(),
    ));
    let compliance_task = tokio::spawn(crate::archive_job::run_compliance(
        store.clone(),
        archive_index.clone(),
        cli.data.clone(),
        config.clone(),
        shutdown.clone(),
    ));

    wait_for_signal().await?;
    tracing::info!("shutting down: finishing in-flight transactions");
    let _ = stop.send(true);
    smtp_task.await.context("SMTP listener task failed")?;
    for task in listeners {
        let _ = task.await;
    }
    purge_task.abort();
    holds_task.abort();
    if let Some(task) = delivery_task {
        let _ = task.await;
    }
    let _ = population_task.await;
    let _ = sending_task.await;
    // Last index commit and a final signed checkpoint over everything this run recorded.
    let _ = compliance_task.await;
    alerter.flush(Duration::from_secs(10)).await;
    tracing::info!("stopped");
    Ok(())
}

/// Returns messages held for their sender's verification to the sender once their time is up.
async fn expire_holds(store: Mailstore, hostname: String, mut shutdown: watch::Receiver<bool>) {
    loop {
        match rampart_smtp::hold::expire_due(&store, &hostname).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                returned = n,
                "held messages expired and returned to their senders"
            ),
            Err(e) => tracing::error!(error = %e, "hold expiry failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Snapshots learned state (the login risk population, sending baselines) every ten minutes and
/// at shutdown (write to a temp file, then rename: a crash never leaves half a file).
async fn save_every(
    path: std::path::PathBuf,
    what: &'static str,
    snapshot: impl Fn() -> Result<Vec<u8>, String>,
    mut shutdown: watch::Receiver<bool>,
) {
    let save = || {
        let tmp = path.with_extension("json.tmp");
        let result = snapshot()
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot save the {what}");
        }
    };
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(600)) => save(),
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    save();
                    return;
                }
            }
        }
    }
}

/// Reads a snapshot written by [`save_every`]; a missing file is a fresh start.
fn read_snapshot(path: &std::path::Path) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read {}", path.display());
            None
        }
    }
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

/// Local domains, account display names and configured VIPs, for the impersonation checks.
pub async fn org_directory(store: &Mailstore, scan: &ScanConfig) -> anyhow::Result<OrgDirectory> {
    let local_domains = store
        .meta()
        .list_domains()
        .await?
        .into_iter()
        .map(|d| d.name)
        .collect();
    let mut people: Vec<String> = store
        .meta()
        .list_accounts(None)
        .await?
        .into_iter()
        .filter_map(|a| a.name)
        .collect();
    people.extend(scan.vips.iter().cloned());
    Ok(OrgDirectory {
        local_domains,
        people,
    })
}

/// Accounts and domains change while serving; the impersonation checks follow within a minute.
async fn refresh_org(
    store: Mailstore,
    scan: ScanConfig,
    scanner: Arc<Scanner>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
            _ = shutdown.changed() => return,
        }
        match org_directory(&store, &scan).await {
            Ok(org) => scanner.set_org(org),
            Err(e) => tracing::warn!(error = %e, "cannot refresh the organisation directory"),
        }
    }
}

/// Says, at start and hourly, whether clamd answers and how old its signatures are.
async fn watch_clamd(
    clamd: rampart_av::ClamdClient,
    store: Mailstore,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        match clamd.version().await {
            Ok(v) => {
                let age_days = v
                    .database_age(store.now())
                    .map(|d| d.as_secs_f64() / 86_400.0);
                match age_days {
                    Some(days) if days > 2.0 => tracing::warn!(
                        engine = %v.engine, signatures = ?v.signature_version, age_days = days,
                        "antivirus signatures are stale: is freshclam running?"
                    ),
                    _ => {
                        tracing::info!(engine = %v.engine, signatures = ?v.signature_version, age_days = ?age_days, "clamd ready")
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "clamd is unreachable; mail is scanned by hash signatures only")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Removes messages whose recovery window has passed, on a timer.
async fn purge_loop(store: Mailstore, every: Duration, mut shutdown: watch::Receiver<bool>) {
    loop {
        match store.purge("purge-job").await {
            Ok(report) if report.messages > 0 => tracing::info!(
                messages = report.messages,
                blobs = report.blobs,
                bytes = report.bytes,
                "purged messages past the recovery window"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "purge job failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}
