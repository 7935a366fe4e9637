//! `rampart backup --out DIR` and `rampart restore DIR`: consistent online backups of the data
//! directory, incremental for blobs, and verified restores.
//!
//! Layout of a backup directory:
//!
//! ```text
//! DIR/blobs/ab/<sha256>                  every blob of every snapshot (content-addressed, shared)
//! DIR/snapshots/<UTC stamp>/meta.sqlite  metadata snapshot (VACUUM INTO)
//! DIR/snapshots/<UTC stamp>/files/...    every other file of the data directory, with its mode
//! DIR/snapshots/<UTC stamp>/manifest.json
//! DIR/LATEST                             the newest complete snapshot's name
//! ```
//!
//! A snapshot is written as `<stamp>.partial` and renamed only once everything in it (and every
//! blob it needs) is on stable storage, so an interrupted backup never looks finished.
//!
//! Consistency beside a running server rests on two store rules: a blob is durable before the
//! metadata that references it commits, and the purge only deletes blobs nothing references. So
//! pass 1 copies every blob present, then the metadata is snapshotted, then pass 2 copies the
//! blobs the snapshot references that pass 1 did not see. A referenced blob found nowhere is an
//! error, unless the store itself says it no longer needs it (sent outbound mail, for example).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use rampart_store::backup::{self, TableDigest};
use rampart_store::StoreError;
use serde::{Deserialize, Serialize};

use crate::Cli;

/// The manifest format this build writes and reads.
const FORMAT: u32 = 1;
/// Files of the data directory a backup leaves out: the metadata (snapshotted instead), the blobs
/// (copied by content address), and the search index (rebuilt from the metadata).
const NOT_COPIED: &[&str] = &[
    "meta.sqlite",
    "meta.sqlite-wal",
    "meta.sqlite-shm",
    "meta.sqlite-journal",
    "blobs",
    "archive-index",
];
/// A restore that fails verification leaves this file in the data directory, saying why.
const FAILED_MARKER: &str = "RESTORE-FAILED.txt";

#[derive(clap::Args)]
pub struct BackupArgs {
    /// Backup directory: created if missing; blobs are shared by every snapshot in it, so each
    /// backup after the first copies only new messages. Keep it outside the data directory,
    /// ideally on another disk.
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
pub struct RestoreArgs {
    /// Backup directory written by `rampart backup --out DIR`.
    dir: PathBuf,
    /// Snapshot to restore (its name under DIR/snapshots); default: the newest (DIR/LATEST).
    #[arg(long)]
    snapshot: Option<String>,
    /// Check the snapshot inside the backup directory (metadata, blobs, files) and write nothing.
    #[arg(long)]
    verify_only: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    rampart_version: String,
    /// RFC 3339, UTC.
    created_at: String,
    snapshot: String,
    /// The data directory the backup was taken from.
    source: PathBuf,
    /// `PRAGMA user_version` of the metadata.
    schema_version: u32,
    meta: FileEntry,
    tables: BTreeMap<String, TableDigest>,
    /// Blobs the metadata references and the backup holds.
    blobs: BlobTotals,
    /// Blobs the metadata mentions that were gone from the data directory and that the store no
    /// longer needs (sent outbound mail, decided quarantine entries); restore does not expect them.
    #[serde(default)]
    absent_blobs: Vec<String>,
    files: Vec<FileEntry>,
    dirs: Vec<DirEntry>,
    blobs_copied: u64,
    blobs_skipped: u64,
    bytes_copied: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct BlobTotals {
    count: u64,
    bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FileEntry {
    /// Relative to the data directory, `/`-separated.
    path: String,
    sha256: String,
    bytes: u64,
    /// Unix permission bits (`0o600` is 384).
    mode: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DirEntry {
    /// Relative to the data directory; `""` is the data directory itself.
    path: String,
    mode: u32,
}

#[derive(Serialize)]
struct BackupReport {
    snapshot: String,
    path: PathBuf,
    schema_version: u32,
    tables: usize,
    rows: u64,
    meta_bytes: u64,
    blobs: BlobTotals,
    blobs_copied: u64,
    blobs_skipped: u64,
    bytes_copied: u64,
    absent_blobs: usize,
    files: usize,
    skipped_files: Vec<String>,
    seconds: f64,
}

#[derive(Serialize)]
struct RestoreReport {
    snapshot: String,
    /// Where it was restored (`null` with `--verify-only`).
    data: Option<PathBuf>,
    schema_version: u32,
    tables: usize,
    rows: u64,
    blobs: BlobTotals,
    files: usize,
    verified: bool,
    seconds: f64,
}

pub fn backup(cli: &Cli, args: &BackupArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let data = &cli.data;
    let source_meta = data.join("meta.sqlite");
    if !source_meta.is_file() {
        bail!(
            "{} has no meta.sqlite: nothing to back up (pass the server's data directory with --data)",
            data.display()
        );
    }
    let out = &args.out;
    fs::create_dir_all(out.join("blobs").join("tmp"))
        .and_then(|_| fs::create_dir_all(out.join("snapshots")))
        .map_err(|e| explain_io(e, out))
        .with_context(|| format!("cannot create the backup directory {}", out.display()))?;
    let data_real = data.canonicalize()?;
    let out_real = out.canonicalize()?;
    if out_real.starts_with(&data_real) {
        bail!(
            "the backup directory {} is inside the data directory {}: choose a directory outside \
             it (ideally on another disk)",
            out.display(),
            data.display()
        );
    }
    sweep_stale_temporaries(&out.join("blobs").join("tmp"));

    let now = time::OffsetDateTime::now_utc();
    let stamp = now
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .context("formatting the snapshot name")?;
    let snapshots = out.join("snapshots");
    let mut name = stamp.clone();
    let mut n = 1;
    while snapshots.join(&name).exists() || snapshots.join(format!("{name}.partial")).exists() {
        n += 1;
        name = format!("{stamp}-{n}");
    }
    let partial = snapshots.join(format!("{name}.partial"));
    fs::create_dir(&partial).map_err(|e| explain_io(e, out))?;
    let result = write_snapshot(cli, data, out, &partial, &name, now);
    let (manifest, skipped_files) = match result {
        Ok(done) => done,
        Err(e) => {
            let _ = fs::remove_dir_all(&partial);
            return Err(e.context(format!(
                "backup of {} failed; no snapshot was marked complete",
                data.display()
            )));
        }
    };
    let complete = snapshots.join(&name);
    fs::rename(&partial, &complete)?;
    backup::fsync_dir(&snapshots)?;
    write_latest(out, &name)?;

    let report = BackupReport {
        snapshot: name,
        path: complete,
        schema_version: manifest.schema_version,
        tables: manifest.tables.len(),
        rows: manifest.tables.values().map(|t| t.rows).sum(),
        meta_bytes: manifest.meta.bytes,
        blobs: manifest.blobs,
        blobs_copied: manifest.blobs_copied,
        blobs_skipped: manifest.blobs_skipped,
        bytes_copied: manifest.bytes_copied,
        absent_blobs: manifest.absent_blobs.len(),
        files: manifest.files.len(),
        skipped_files,
        seconds: started.elapsed().as_secs_f64(),
    };
    if cli.json {
        return crate::output::json(&report);
    }
    for path in &report.skipped_files {
        eprintln!("warning: {path} is not a regular file or directory; not backed up");
    }
    println!(
        "backup {} complete in {:.1}s: {} tables, {} rows, metadata {}; {} blobs ({}): {} copied \
         ({}), {} already in the backup; {} other files",
        report.path.display(),
        report.seconds,
        report.tables,
        report.rows,
        human_bytes(report.meta_bytes),
        report.blobs.count,
        human_bytes(report.blobs.bytes),
        report.blobs_copied,
        human_bytes(report.bytes_copied),
        report.blobs_skipped,
        report.files
    );
    if report.absent_blobs > 0 {
        println!(
            "{} blobs the metadata mentions were already purged and are not needed (sent or \
             decided mail)",
            report.absent_blobs
        );
    }
    Ok(())
}

/// Everything of one snapshot into `partial`; returns its manifest (already written and
/// fsynced) and the paths it skipped.
fn write_snapshot(
    cli: &Cli,
    data: &Path,
    out: &Path,
    partial: &Path,
    name: &str,
    now: time::OffsetDateTime,
) -> anyhow::Result<(Manifest, Vec<String>)> {
    let source_blobs = data.join("blobs");
    let backup_blobs = out.join("blobs");
    let tmp = backup_blobs.join("tmp");
    let mut copies = BlobCopies::default();

    // Pass 1: every blob present now, so that the metadata snapshot taken next finds them.
    let present = list_blobs(&source_blobs)?;
    let bar = crate::corpus::progress(present.len() as u64, "blobs copied", cli.json);
    let outcomes = in_parallel(&present, &bar, |id| {
        copy_blob(&source_blobs, &backup_blobs, &tmp, id)
    })?;
    bar.finish_and_clear();
    for (id, outcome) in present.iter().zip(&outcomes) {
        copies.record(&backup_blobs, id, outcome);
    }

    let meta = partial.join("meta.sqlite");
    backup::snapshot_meta(&data.join("meta.sqlite"), &meta)
        .map_err(|e| explain_store(e, out))
        .context("cannot snapshot the metadata")?;
    backup::integrity_check(&meta).context(
        "the live metadata fails SQLite's integrity check; restore from an earlier backup or \
         repair it before backing up",
    )?;

    // Pass 2: blobs the snapshot references that appeared after pass 1 looked.
    let referenced = backup::referenced_blobs(&meta)?;
    let mut totals = BlobTotals::default();
    let mut missing = BTreeSet::new();
    for id in &referenced {
        let dest = blob_path(&backup_blobs, id);
        let size = match fs::metadata(&dest) {
            Ok(m) => Some(m.len()),
            Err(_) => {
                let outcome = copy_blob(&source_blobs, &backup_blobs, &tmp, id)?;
                copies.record(&backup_blobs, id, &outcome);
                match outcome {
                    Copied::Vanished => None,
                    Copied::Yes(bytes) | Copied::Skipped(bytes) => Some(bytes),
                }
            }
        };
        match size {
            Some(bytes) => {
                totals.count += 1;
                totals.bytes += bytes;
            }
            None => {
                missing.insert(id.clone());
            }
        }
    }
    let needed = crate::block_on(async { Ok(backup::blobs_still_needed(&meta, &missing).await?) })?;
    if !needed.is_empty() {
        bail!(
            "{} blob(s) the metadata needs are missing from {}: {}. That message content is \
             lost from the data directory; restore those messages from an earlier backup \
             (`rampart restore DIR --snapshot S --data /tmp/old` and copy the blobs over)",
            needed.len(),
            source_blobs.display(),
            needed
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut shards: Vec<PathBuf> = copies.shards.iter().cloned().collect();
    shards.push(backup_blobs.clone());
    for dir in shards {
        backup::fsync_dir(&dir)?;
    }

    let (files, dirs, skipped) = copy_other_files(data, &partial.join("files"))?;
    let meta_file = backup::sha256_file(&meta)?;
    let manifest = Manifest {
        format: FORMAT,
        rampart_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        snapshot: name.to_string(),
        source: data.canonicalize().unwrap_or_else(|_| data.to_path_buf()),
        schema_version: backup::schema_version(&meta)?,
        meta: FileEntry {
            path: "meta.sqlite".into(),
            sha256: meta_file.sha256,
            bytes: meta_file.bytes,
            mode: mode_of(&data.join("meta.sqlite")).unwrap_or(0o600),
        },
        tables: backup::table_digests(&meta)?,
        blobs: totals,
        absent_blobs: missing.into_iter().collect(),
        files,
        dirs,
        blobs_copied: copies.copied,
        blobs_skipped: copies.skipped,
        bytes_copied: copies.bytes,
    };
    let text = serde_json::to_vec_pretty(&manifest)?;
    let staged = partial.join("manifest.json.tmp");
    fs::write(&staged, &text).map_err(|e| explain_io(e, out))?;
    fs::File::open(&staged)?.sync_all()?;
    fs::rename(&staged, partial.join("manifest.json"))?;
    backup::fsync_dir(partial)?;
    Ok((manifest, skipped))
}

#[derive(Default)]
struct BlobCopies {
    copied: u64,
    skipped: u64,
    bytes: u64,
    /// Shard directories that received a file (fsynced once at the end).
    shards: BTreeSet<PathBuf>,
}

enum Copied {
    Yes(u64),
    Skipped(u64),
    /// Gone from the data directory (purged since it was listed).
    Vanished,
}

impl BlobCopies {
    fn record(&mut self, backup_blobs: &Path, id: &str, outcome: &Copied) {
        match outcome {
            Copied::Yes(bytes) => {
                self.copied += 1;
                self.bytes += bytes;
                self.shards.insert(backup_blobs.join(&id[..2]));
            }
            Copied::Skipped(_) => self.skipped += 1,
            Copied::Vanished => {}
        }
    }
}

/// Copies one blob unless the backup already has it; content-addressed files never change, so
/// an equal size is enough to skip (a restore checks every hash).
fn copy_blob(source: &Path, backup_blobs: &Path, tmp: &Path, id: &str) -> anyhow::Result<Copied> {
    let src = blob_path(source, id);
    let dest = blob_path(backup_blobs, id);
    let src_len = match fs::metadata(&src) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Copied::Vanished),
        Err(e) => return Err(e).with_context(|| format!("cannot read blob {}", src.display())),
    };
    if let Ok(existing) = fs::metadata(&dest) {
        if existing.len() == src_len {
            return Ok(Copied::Skipped(src_len));
        }
    }
    let shard = dest.parent().expect("blob path has a shard");
    fs::create_dir_all(shard).map_err(|e| explain_io(e, backup_blobs))?;
    match backup::copy_durably(&src, &dest, tmp, Some(id), Some(0o600)) {
        Ok(copy) => Ok(Copied::Yes(copy.bytes)),
        Err(StoreError::Io(e)) if e.kind() == ErrorKind::NotFound && !src.exists() => {
            Ok(Copied::Vanished)
        }
        Err(StoreError::Invalid(why)) => bail!(
            "blob {id} in the data directory is damaged ({why}); the message it holds must come \
             from an earlier backup (`rampart restore DIR --snapshot S --verify-only` finds a \
             good copy)"
        ),
        Err(e) => Err(explain_store(e, backup_blobs))
            .with_context(|| format!("cannot copy blob {}", src.display())),
    }
}

/// Threads for blob copies: each copy waits on its own fsync, and those waits overlap.
const COPY_THREADS: usize = 8;

/// `work` on every item, on [`COPY_THREADS`] threads; results in item order. Stops at the first
/// error and returns it.
fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    bar: &indicatif::ProgressBar,
    work: impl Fn(&T) -> anyhow::Result<R> + Sync,
) -> anyhow::Result<Vec<R>> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..COPY_THREADS.min(items.len().max(1)))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    while !failed.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        match work(item) {
                            Ok(r) => done.push((i, r)),
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                        bar.inc(1);
                    }
                    Ok(done)
                })
            })
            .collect();
        let mut all = Vec::with_capacity(items.len());
        let mut first_error = None;
        for worker in workers {
            match worker.join().expect("copy thread panicked") {
                Ok(done) => all.extend(done),
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(all),
        }
    })?;
    let mut results = results;
    results.sort_by_key(|(i, _)| *i);
    Ok(results.into_iter().map(|(_, r)| r).collect())
}

pub fn restore(cli: &Cli, args: &RestoreArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let name = match &args.snapshot {
        Some(name) => name.clone(),
        None => fs::read_to_string(args.dir.join("LATEST"))
            .map(|s| s.trim().to_string())
            .with_context(|| {
                format!(
                    "{} has no LATEST file: is it a backup directory written by `rampart backup \
                     --out`? (name a snapshot with --snapshot)",
                    args.dir.display()
                )
            })?,
    };
    if name.is_empty()
        || name.contains(['/', '\\'])
        || name.starts_with('.')
        || name.ends_with(".partial")
    {
        bail!(
            "{name:?} is not a snapshot name; see {}",
            args.dir.join("snapshots").display()
        );
    }
    let snapshot = args.dir.join("snapshots").join(&name);
    if !snapshot.join("manifest.json").is_file() {
        let mut known: Vec<String> = fs::read_dir(args.dir.join("snapshots"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.ends_with(".partial"))
                    .collect()
            })
            .unwrap_or_default();
        known.sort();
        bail!(
            "no complete snapshot {name} in {} (complete snapshots: {})",
            args.dir.display(),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    }
    let manifest: Manifest = serde_json::from_slice(&fs::read(snapshot.join("manifest.json"))?)
        .with_context(|| {
            format!(
                "{} is not a readable manifest",
                snapshot.join("manifest.json").display()
            )
        })?;
    if manifest.format != FORMAT {
        bail!(
            "snapshot {name} has manifest format {} but this build reads format {FORMAT}; \
             restore it with rampart {} or newer",
            manifest.format,
            manifest.rampart_version
        );
    }

    let stored = Tree {
        meta: snapshot.join("meta.sqlite"),
        blobs: args.dir.join("blobs"),
        files: snapshot.join("files"),
    };
    if args.verify_only {
        let problems = verify(&stored, &manifest, cli.json);
        if !problems.is_empty() {
            bail!(
                "snapshot {name} in {} FAILED verification:\n  - {}",
                args.dir.display(),
                problems.join("\n  - ")
            );
        }
        return report_restore(cli, &manifest, None, started);
    }

    let data = &cli.data;
    if let Ok(mut entries) = fs::read_dir(data) {
        if entries.next().is_some() {
            bail!(
                "the data directory {} is not empty: restore only into an empty or new directory \
                 (for example --data {}-restored), then point the server at it",
                data.display(),
                data.display()
            );
        }
    } else if data.exists() {
        bail!("{} exists and is not a directory", data.display());
    }
    let restored = Tree {
        meta: data.join("meta.sqlite"),
        blobs: data.join("blobs"),
        files: data.to_path_buf(),
    };
    let mut problems = copy_into(&stored, &restored, &manifest, data, cli.json)
        .map_err(|e| e.context(format!("restore into {} failed", data.display())))?;
    if problems.is_empty() {
        problems = verify(&restored, &manifest, cli.json);
    }
    if problems.is_empty() {
        let opened =
            rampart_store::Mailstore::open_embedded(data, Arc::new(rampart_model::SystemClock), 7);
        match opened {
            Err(e) => problems.push(format!(
                "this build of rampart cannot open the restored store: {e}"
            )),
            // The audit trail must come back intact: every link and signed checkpoint, with
            // the restored signing key trusted.
            Ok(store) => {
                let key = data.join("audit").join("signing.key");
                let trusted: Vec<String> = rampart_audit::AuditKey::load(&key)
                    .map(|k| vec![k.public_key_hex()])
                    .unwrap_or_default();
                match crate::block_on(async {
                    Ok(rampart_audit::verify(store.meta(), &trusted, &|_, _| {}).await?)
                }) {
                    Ok(report) if report.ok => {}
                    Ok(report) => problems.extend(
                        report
                            .problems
                            .into_iter()
                            .map(|p| format!("audit trail: {}", p.what)),
                    ),
                    Err(e) => problems.push(format!("audit trail cannot be read: {e:#}")),
                }
            }
        }
    }
    if !problems.is_empty() {
        let text = format!(
            "RESTORE FAILED VERIFICATION: {} is NOT a faithful copy of snapshot {name}; do not \
             start a server on it.\n  - {}\n",
            data.display(),
            problems.join("\n  - ")
        );
        let _ = fs::write(data.join(FAILED_MARKER), &text);
        bail!("{}", text.trim_end());
    }
    report_restore(cli, &manifest, Some(data.clone()), started)
}

fn report_restore(
    cli: &Cli,
    manifest: &Manifest,
    data: Option<PathBuf>,
    started: Instant,
) -> anyhow::Result<()> {
    let report = RestoreReport {
        snapshot: manifest.snapshot.clone(),
        data,
        schema_version: manifest.schema_version,
        tables: manifest.tables.len(),
        rows: manifest.tables.values().map(|t| t.rows).sum(),
        blobs: manifest.blobs,
        files: manifest.files.len(),
        verified: true,
        seconds: started.elapsed().as_secs_f64(),
    };
    if cli.json {
        return crate::output::json(&report);
    }
    let what = match &report.data {
        Some(dir) => format!("restored into {} and verified", dir.display()),
        None => "verified in place".to_string(),
    };
    println!(
        "snapshot {} (taken {}) {what} in {:.1}s: integrity ok, {} tables / {} rows match the \
         manifest, {} blobs ({}) hashed, {} other files",
        report.snapshot,
        manifest.created_at,
        report.seconds,
        report.tables,
        report.rows,
        report.blobs.count,
        human_bytes(report.blobs.bytes),
        report.files
    );
    Ok(())
}

/// Where a snapshot's parts are: inside a backup directory, or restored into a data directory.
struct Tree {
    meta: PathBuf,
    blobs: PathBuf,
    /// Root of the other files.
    files: PathBuf,
}

/// Copies a snapshot into an empty data directory. Returns the problems found in the backup
/// (corrupt or missing blobs and files); an `Err` is a failure to write.
fn copy_into(
    from: &Tree,
    to: &Tree,
    manifest: &Manifest,
    data: &Path,
    quiet: bool,
) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    fs::create_dir_all(data).map_err(|e| explain_io(e, data))?;
    let scratch = data.join("blobs").join("tmp");
    fs::create_dir_all(&scratch).map_err(|e| explain_io(e, data))?;

    match backup::copy_durably(
        &from.meta,
        &to.meta,
        data,
        Some(&manifest.meta.sha256),
        Some(manifest.meta.mode),
    ) {
        Ok(_) => {}
        Err(StoreError::Invalid(why)) => {
            problems.push(format!("the metadata snapshot is damaged: {why}"));
            return Ok(problems);
        }
        Err(e) => return Err(explain_store(e, data)).context("cannot copy meta.sqlite"),
    }
    let needed: Vec<String> = needed_blobs(&to.meta, manifest)?.into_iter().collect();
    let shards: BTreeSet<PathBuf> = needed.iter().map(|id| to.blobs.join(&id[..2])).collect();
    for shard in &shards {
        fs::create_dir_all(shard).map_err(|e| explain_io(e, data))?;
    }
    let bar = crate::corpus::progress(needed.len() as u64, "blobs restored", quiet);
    let outcomes = in_parallel(&needed, &bar, |id| {
        let src = blob_path(&from.blobs, id);
        let dest = blob_path(&to.blobs, id);
        match backup::copy_durably(&src, &dest, &scratch, Some(id), Some(0o600)) {
            Ok(_) => Ok(None),
            Err(StoreError::Io(e)) if e.kind() == ErrorKind::NotFound => Ok(Some(format!(
                "blob {id} is missing from the backup ({})",
                src.display()
            ))),
            Err(StoreError::Invalid(why)) => {
                Ok(Some(format!("blob {id} in the backup is corrupt: {why}")))
            }
            Err(e) => {
                Err(explain_store(e, data)).with_context(|| format!("cannot restore blob {id}"))
            }
        }
    })?;
    bar.finish_and_clear();
    problems.extend(outcomes.into_iter().flatten());
    for shard in &shards {
        backup::fsync_dir(shard)?;
    }
    backup::fsync_dir(&to.blobs)?;

    let mut dirs_touched = BTreeSet::new();
    for dir in &manifest.dirs {
        let path = safe_join(data, &dir.path)?;
        fs::create_dir_all(&path).map_err(|e| explain_io(e, data))?;
    }
    for file in &manifest.files {
        let src = safe_join(&from.files, &file.path)?;
        let dest = safe_join(data, &file.path)?;
        let parent = dest.parent().unwrap_or(data).to_path_buf();
        fs::create_dir_all(&parent).map_err(|e| explain_io(e, data))?;
        match backup::copy_durably(&src, &dest, &parent, Some(&file.sha256), Some(file.mode)) {
            Ok(_) => {}
            Err(StoreError::Io(e)) if e.kind() == ErrorKind::NotFound => {
                problems.push(format!("{} is missing from the backup", file.path))
            }
            Err(StoreError::Invalid(why)) => {
                problems.push(format!("{} in the backup is corrupt: {why}", file.path))
            }
            Err(e) => {
                return Err(explain_store(e, data))
                    .with_context(|| format!("cannot restore {}", file.path))
            }
        }
        dirs_touched.insert(parent);
    }
    // Modes last (deepest first): a read-only directory would refuse the files going into it.
    let mut dirs = manifest.dirs.clone();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.path.len()));
    for dir in &dirs {
        let path = safe_join(data, &dir.path)?;
        set_mode(&path, dir.mode)?;
        dirs_touched.insert(path);
    }
    dirs_touched.insert(data.to_path_buf());
    for dir in &dirs_touched {
        backup::fsync_dir(dir)?;
    }
    if let Some(parent) = data.parent().filter(|p| !p.as_os_str().is_empty()) {
        let _ = backup::fsync_dir(parent);
    }
    Ok(problems)
}

/// The blobs a restore must bring: every one the metadata references, except those the backup
/// recorded as already purged and not needed.
fn needed_blobs(meta: &Path, manifest: &Manifest) -> anyhow::Result<BTreeSet<String>> {
    let mut needed = backup::referenced_blobs(meta)?;
    for absent in &manifest.absent_blobs {
        needed.remove(absent);
    }
    Ok(needed)
}

/// Checks a snapshot's parts against its manifest; returns the problems (empty: all good).
fn verify(tree: &Tree, manifest: &Manifest, quiet: bool) -> Vec<String> {
    let mut problems = Vec::new();
    match backup::sha256_file(&tree.meta) {
        Ok(file) if file.sha256 == manifest.meta.sha256 => {}
        Ok(file) => problems.push(format!(
            "meta.sqlite hashes to {}, the manifest says {}",
            file.sha256, manifest.meta.sha256
        )),
        Err(e) => problems.push(format!("cannot read {}: {e}", tree.meta.display())),
    }
    if let Err(e) = backup::integrity_check(&tree.meta) {
        problems.push(e.to_string());
        return problems;
    }
    match backup::schema_version(&tree.meta) {
        Ok(v) if v == manifest.schema_version => {}
        Ok(v) => problems.push(format!(
            "schema version {v}, the manifest says {}",
            manifest.schema_version
        )),
        Err(e) => problems.push(e.to_string()),
    }
    match backup::table_digests(&tree.meta) {
        Ok(digests) => {
            for (table, want) in &manifest.tables {
                match digests.get(table) {
                    Some(got) if got == want => {}
                    Some(got) => problems.push(format!(
                        "table {table} differs from the snapshot ({} rows, expected {})",
                        got.rows, want.rows
                    )),
                    None => problems.push(format!("table {table} is missing")),
                }
            }
            for table in digests.keys().filter(|t| !manifest.tables.contains_key(*t)) {
                problems.push(format!("table {table} is not in the snapshot"));
            }
        }
        Err(e) => problems.push(format!("cannot read every table: {e}")),
    }
    let needed = match needed_blobs(&tree.meta, manifest) {
        Ok(needed) => needed,
        Err(e) => {
            problems.push(format!("cannot list the referenced blobs: {e:#}"));
            return problems;
        }
    };
    let bar = crate::corpus::progress(needed.len() as u64, "blobs verified", quiet);
    let mut totals = BlobTotals::default();
    let mut blob_problems = 0;
    for id in &needed {
        bar.inc(1);
        let path = blob_path(&tree.blobs, id);
        let problem = match backup::sha256_file(&path) {
            Ok(file) if file.sha256 == *id => {
                totals.count += 1;
                totals.bytes += file.bytes;
                None
            }
            Ok(file) => Some(format!(
                "blob {id} is corrupt (its content hashes to {})",
                file.sha256
            )),
            Err(StoreError::Io(e)) if e.kind() == ErrorKind::NotFound => {
                Some(format!("blob {id} is missing ({})", path.display()))
            }
            Err(e) => Some(format!("blob {id} cannot be read: {e}")),
        };
        if let Some(problem) = problem {
            blob_problems += 1;
            if blob_problems <= 20 {
                problems.push(problem);
            }
        }
    }
    bar.finish_and_clear();
    if blob_problems > 20 {
        problems.push(format!("and {} more blob problems", blob_problems - 20));
    }
    if blob_problems == 0 && totals != manifest.blobs {
        problems.push(format!(
            "{} blobs ({} bytes) where the manifest lists {} ({} bytes)",
            totals.count, totals.bytes, manifest.blobs.count, manifest.blobs.bytes
        ));
    }
    for file in &manifest.files {
        let path = match safe_join(&tree.files, &file.path) {
            Ok(path) => path,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        match backup::sha256_file(&path) {
            Ok(got) if got.sha256 == file.sha256 => {}
            Ok(_) => problems.push(format!("{} differs from the snapshot", file.path)),
            Err(e) => problems.push(format!("{}: {e}", file.path)),
        }
        match mode_of(&path) {
            Some(mode) if mode == file.mode => {}
            Some(mode) => problems.push(format!(
                "{} has mode {mode:o}, the snapshot says {:o}",
                file.path, file.mode
            )),
            None => {}
        }
    }
    problems
}

/// Blob ids present under `root/<2 hex>/`, sorted.
fn list_blobs(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    let shards = match fs::read_dir(root) {
        Ok(shards) => shards,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(ids),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", root.display())),
    };
    for shard in shards {
        let shard = shard?;
        let shard_name = shard.file_name().to_string_lossy().into_owned();
        if shard_name.len() != 2 || !shard.file_type()?.is_dir() {
            continue; // `tmp`, and anything that is not a shard
        }
        for entry in fs::read_dir(shard.path())? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if backup::is_blob_id(&name) && name.starts_with(&shard_name) {
                ids.push(name);
            }
        }
    }
    ids.sort();
    Ok(ids)
}

fn blob_path(root: &Path, id: &str) -> PathBuf {
    debug_assert!(backup::is_blob_id(id));
    root.join(&id[..2]).join(id)
}

/// Copies every regular file of the data directory except [`NOT_COPIED`] into `dest`, keeping
/// modes. Returns the files, the directories (with modes, the data directory itself as `""`)
/// and the paths skipped (symbolic links, sockets).
#[allow(clippy::type_complexity)]
fn copy_other_files(
    data: &Path,
    dest: &Path,
) -> anyhow::Result<(Vec<FileEntry>, Vec<DirEntry>, Vec<String>)> {
    let mut files = Vec::new();
    let mut dirs = vec![DirEntry {
        path: String::new(),
        mode: mode_of(data).unwrap_or(0o700),
    }];
    let mut skipped = Vec::new();
    let mut pending = vec![PathBuf::new()];
    fs::create_dir_all(dest)?;
    let mut fsync = vec![dest.to_path_buf()];
    while let Some(rel) = pending.pop() {
        let mut entries: Vec<_> = fs::read_dir(data.join(&rel))?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name();
            if rel.as_os_str().is_empty() && NOT_COPIED.iter().any(|n| name == **n) {
                continue;
            }
            let path = rel.join(&name);
            let Some(text) = path.to_str().map(|s| s.replace('\\', "/")) else {
                skipped.push(path.to_string_lossy().into_owned());
                continue;
            };
            let kind = entry.file_type()?;
            if kind.is_dir() {
                fs::create_dir_all(dest.join(&path))?;
                fsync.push(dest.join(&path));
                dirs.push(DirEntry {
                    path: text,
                    mode: mode_of(&entry.path()).unwrap_or(0o700),
                });
                pending.push(path);
            } else if kind.is_file() {
                let mode = mode_of(&entry.path()).unwrap_or(0o600);
                let target = dest.join(&path);
                let parent = target.parent().unwrap_or(dest).to_path_buf();
                match backup::copy_durably(&entry.path(), &target, &parent, None, Some(mode)) {
                    Ok(copy) => files.push(FileEntry {
                        path: text,
                        sha256: copy.sha256,
                        bytes: copy.bytes,
                        mode,
                    }),
                    // Removed while we looked (a rotated temporary file): not part of the state.
                    Err(StoreError::Io(e)) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(explain_store(e, dest))
                            .with_context(|| format!("cannot copy {}", entry.path().display()))
                    }
                }
            } else {
                skipped.push(text);
            }
        }
    }
    for dir in fsync {
        backup::fsync_dir(&dir)?;
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((files, dirs, skipped))
}

/// `base/rel` for a manifest path, refusing anything that would leave `base`.
fn safe_join(base: &Path, rel: &str) -> anyhow::Result<PathBuf> {
    let rel = Path::new(rel);
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) && !rel.as_os_str().is_empty() {
        bail!(
            "the manifest names {}, which is outside the data directory",
            rel.display()
        );
    }
    Ok(base.join(rel))
}

fn write_latest(out: &Path, name: &str) -> anyhow::Result<()> {
    let staged = out.join("LATEST.tmp");
    fs::write(&staged, format!("{name}\n"))?;
    fs::File::open(&staged)?.sync_all()?;
    fs::rename(&staged, out.join("LATEST"))?;
    backup::fsync_dir(out)?;
    Ok(())
}

/// Removes temporary files an interrupted backup left (older than an hour, so a backup running
/// beside this one keeps its own).
fn sweep_stale_temporaries(tmp: &Path) {
    let Ok(entries) = fs::read_dir(tmp) else {
        return;
    };
    let cutoff = SystemTime::now() - Duration::from_secs(3600);
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < cutoff);
        if old {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(unix)]
fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn mode_of(_path: &Path) -> Option<u32> {
    None
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o7777))
        .with_context(|| format!("cannot set the mode of {}", path.display()))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> anyhow::Result<()> {
    Ok(())
}

/// An I/O error with the fix in its message where there is an obvious one.
fn explain_io(e: std::io::Error, place: &Path) -> anyhow::Error {
    match e.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => anyhow::anyhow!(
            "no space left on the disk of {}: free space there or choose another directory ({e})",
            place.display()
        ),
        ErrorKind::PermissionDenied => anyhow::anyhow!(
            "permission denied under {}: run as the user that owns the data directory, or fix \
             the directory's permissions ({e})",
            place.display()
        ),
        ErrorKind::ReadOnlyFilesystem => anyhow::anyhow!(
            "{} is on a read-only file system: choose a writable directory ({e})",
            place.display()
        ),
        _ => anyhow::Error::new(e),
    }
}

fn explain_store(e: StoreError, place: &Path) -> anyhow::Error {
    match e {
        StoreError::Io(e) => explain_io(e, place),
        other => anyhow::Error::new(other),
    }
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
