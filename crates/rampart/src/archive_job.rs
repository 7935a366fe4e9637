//! The archive's background work, shared by `serve` and the CLI: catching the search index up
//! with the journal, and the retention job.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::Context;
use rampart_archive::{doc_from_raw, ArchiveIndex, ArchiveQuery};
use rampart_model::config::ArchiveConfig;
use rampart_model::{ArchivePurge, LegalHoldKind};
use rampart_store::Mailstore;

/// Journal rows read per round.
const BATCH: usize = 512;

pub fn index_dir(data: &std::path::Path, config: &ArchiveConfig) -> PathBuf {
    data.join(&config.index_dir)
}

/// How `index_pending` shares the machine.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Beside live mail (`serve`): one parsing thread at a lower CPU priority, so under full
    /// load the index lags a little instead of slowing SMTP; it catches up when load drops.
    Background,
    /// A rebuild: every core, normal priority.
    Full,
}

/// Lowers the calling thread's CPU priority (nice 10; Linux schedules threads separately).
/// Threads it starts inherit it.
pub fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its arguments; on Linux a thread id names one thread.
    unsafe {
        let _ = libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10);
    }
}

/// Indexes every journaled message the index has not seen, committing after each batch (so a
/// crash resumes where it stopped). Returns how many were indexed.
pub async fn index_pending(
    store: &Mailstore,
    index: &std::sync::Arc<ArchiveIndex>,
    pace: Pace,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<u64> {
    let threads = match pace {
        Pace::Background => 1,
        Pace::Full => std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    let mut done = 0u64;
    loop {
        let after = index.last_indexed() as i64;
        let entries = store.meta().archive_entries(after, BATCH).await?;
        let Some(last) = entries.last().map(|e| e.id) else {
            return Ok(done);
        };
        let mut raws = Vec::with_capacity(entries.len());
        for e in &entries {
            // A blob that cannot be read still gets its envelope indexed: findable, and the
            // export says what is missing.
            let raw = match store.blobs().get(&e.blob).await {
                Ok(raw) => raw,
                Err(err) => {
                    tracing::error!(archive_id = e.id, blob = %e.blob, error = %err, "archived message unreadable; indexing its envelope only");
                    bytes::Bytes::new()
                }
            };
            raws.push(raw);
        }
        let index2 = std::sync::Arc::clone(index);
        let n = entries.len() as u64;
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let work = move || -> anyhow::Result<()> {
            if pace == Pace::Background {
                lower_priority();
            }
            // Parsing and text extraction are the cost.
            let half = entries.len().div_ceil(threads.max(1)).max(1);
            let docs: Vec<_> = std::thread::scope(|s| {
                let handles: Vec<_> = entries
                    .chunks(half)
                    .zip(raws.chunks(half))
                    .map(|(es, rs)| {
                        s.spawn(move || {
                            es.iter()
                                .zip(rs)
                                .map(|(e, raw)| {
                                    doc_from_raw(
                                        e.id as u64,
                                        e.at.0,
                                        &e.direction,
                                        &e.mail_from,
                                        &e.recipients,
                                        raw,
                                    )
                                })
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_default())
                    .collect()
            });
            index2.add(docs)?;
            index2.commit(last as u64)?;
            Ok(())
        };
        // Its own thread: a lowered priority must not stay on a shared pool thread.
        std::thread::Builder::new()
            .name("archive-index".into())
            .spawn(move || {
                let _ = done_tx.send(work());
            })?;
        done_rx
            .await
            .map_err(|_| anyhow::anyhow!("the archive indexing thread died"))??;
        done += n;
        progress.inc(n);
    }
}

/// The ids active search holds match (the index must be caught up for this to be complete;
/// [`Mailstore::purge_archive`] keeps what the index has not seen).
pub async fn search_held(
    store: &Mailstore,
    index: Option<&ArchiveIndex>,
) -> anyhow::Result<(BTreeSet<i64>, i64)> {
    let holds = store.meta().legal_holds(true).await?;
    let searches: Vec<_> = holds
        .iter()
        .filter(|h| h.kind == LegalHoldKind::Search)
        .collect();
    let Some(index) = index else {
        if !searches.is_empty() {
            anyhow::bail!(
                "legal holds on searches need the archive search index; run `rampart archive reindex` first"
            );
        }
        return Ok((BTreeSet::new(), 0));
    };
    let mut held = BTreeSet::new();
    for h in searches {
        let q = ArchiveQuery::parse(&h.target)
            .with_context(|| format!("legal hold {} has an unreadable search", h.id))?;
        held.extend(index.matching_ids(&q)?.into_iter().map(|id| id as i64));
    }
    Ok((held, index.last_indexed() as i64))
}

/// The retention job: removes archived messages past retention that no legal hold covers, and
/// drops them from the index when this process holds its writer.
pub async fn retention(
    store: &Mailstore,
    index: Option<&ArchiveIndex>,
    config: &ArchiveConfig,
    actor: &str,
) -> anyhow::Result<(ArchivePurge, usize)> {
    let (held, indexed) = search_held(store, index).await?;
    let (report, blobs) = store.purge_archive(config, &held, indexed, actor).await?;
    if let Some(index) = index {
        if !report.removed.is_empty() {
            let ids: Vec<u64> = report.removed.iter().map(|(id, _)| *id as u64).collect();
            // Read-only beside a running server: the server's index keeps the ids, and searches
            // skip entries the store no longer has.
            if index.remove(&ids).is_ok() {
                index.commit(index.last_indexed())?;
            }
        }
    }
    Ok((report, blobs))
}

/// Opens the server's index, rebuilding it when it was written by another schema (it is derived
/// data: the archive in the store is the truth).
pub fn open_for_serve(dir: &std::path::Path) -> anyhow::Result<ArchiveIndex> {
    // The index writer's threads start here and inherit this thread's priority: open it from a
    // lowered thread so they, too, give way to mail.
    let dir = dir.to_path_buf();
    std::thread::Builder::new()
        .name("archive-open".into())
        .spawn(move || {
            lower_priority();
            open_writer(&dir)
        })?
        .join()
        .map_err(|_| anyhow::anyhow!("opening the archive index panicked"))?
}

fn open_writer(dir: &std::path::Path) -> anyhow::Result<ArchiveIndex> {
    match ArchiveIndex::open(dir) {
        Ok(index) => Ok(index),
        Err(rampart_archive::ArchiveError::SchemaMismatch { .. }) => {
            tracing::warn!(dir = %dir.display(), "archive index from another version; rebuilding it from the archive");
            std::fs::remove_dir_all(dir)?;
            Ok(ArchiveIndex::open(dir)?)
        }
        Err(e) => Err(e).with_context(|| format!("archive index in {}", dir.display())),
    }
}

/// `serve`'s after-the-fact work: the index follows the journal (every `index_interval_secs`), the retention job
/// (every `retention_interval_secs`), signed audit checkpoints (every `checkpoint_secs`, and at
/// shutdown) and the SIEM forwarder.
pub async fn run_compliance(
    store: Mailstore,
    index: Option<std::sync::Arc<ArchiveIndex>>,
    data: PathBuf,
    config: rampart_model::Config,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let key = match rampart_audit::AuditKey::load_or_create(&data.join(&config.audit.signing_key)) {
        Ok(key) => Some(key),
        Err(e) => {
            tracing::error!(error = %e, "audit checkpoints cannot be signed");
            None
        }
    };
    let forwarder = match rampart_audit::Forwarder::new(
        config.audit.forward_jsonl.as_deref(),
        config.audit.forward_syslog.as_deref(),
        &data
            .join(&config.audit.signing_key)
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|| data.clone()),
        &config.hostname,
    ) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "audit forwarding disabled");
            None
        }
    };
    let hidden = indicatif::ProgressBar::hidden();
    let tick = std::time::Duration::from_secs(1);
    let checkpoint_every = std::time::Duration::from_secs(config.audit.checkpoint_secs.max(1));
    let retention_every =
        std::time::Duration::from_secs(config.archive.retention_interval_secs.max(60));
    // Each round ends in a commit, and every commit makes a segment that tantivy later merges:
    // fewer, larger rounds cost the mail flow less CPU (2 s rounds took 29% off SMTP throughput
    // at full load, 10 s rounds at a lower priority 18%).
    let index_every = std::time::Duration::from_secs(config.archive.index_interval_secs.max(1));
    let mut last_index = std::time::Instant::now() - std::time::Duration::from_secs(60);
    let mut last_checkpoint = std::time::Instant::now();
    // The first retention run waits a little: the index catches up first.
    let mut last_retention = std::time::Instant::now();
    let mut stopping = false;
    loop {
        if let Some(index) = &index {
            if last_index.elapsed() >= index_every || stopping {
                last_index = std::time::Instant::now();
                match index_pending(&store, index, Pace::Background, &hidden).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(messages = n, "archive indexed"),
                    Err(e) => {
                        tracing::error!(error = %format!("{e:#}"), "archive indexing failed; retrying")
                    }
                }
            }
        }
        if last_retention.elapsed() >= retention_every && !stopping {
            last_retention = std::time::Instant::now();
            match retention(&store, index.as_deref(), &config.archive, "retention-job").await {
                Ok((report, blobs)) if !report.removed.is_empty() || report.held > 0 => {
                    tracing::info!(
                        removed = report.removed.len(),
                        held = report.held,
                        blobs,
                        "archive retention"
                    )
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "archive retention job failed")
                }
            }
        }
        if let Some(key) = &key {
            if last_checkpoint.elapsed() >= checkpoint_every || stopping {
                last_checkpoint = std::time::Instant::now();
                if let Err(e) = rampart_audit::checkpoint(store.meta(), key, store.now()).await {
                    tracing::error!(error = %e, "audit checkpoint failed");
                }
            }
        }
        if let Some(forwarder) = &forwarder {
            for (sink, result) in forwarder.tick(store.meta()).await {
                if let Err(e) = result {
                    tracing::warn!(sink, error = %e, "audit forwarding failed; retrying");
                }
            }
        }
        if stopping {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => stopping = true,
        }
    }
}
