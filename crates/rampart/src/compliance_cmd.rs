//! `rampart audit`, `rampart archive`, `rampart legal-hold`: the after-the-fact commands. Every
//! read of the archive and every export of the audit trail is itself an event.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use rampart_archive::{ArchiveIndex, ArchiveQuery, SortBy};
use rampart_model::{EmailAddress, EventKind, LegalHoldKind, Timestamp};
use rampart_store::{EventFilter, Mailstore};
use serde_json::json;

use crate::admin::actor;
use crate::output::{json, rfc3339, table};
use crate::Cli;

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Check every link of the hash chain and every signed checkpoint; names the first bad
    /// entry. Exit status 1 when anything is wrong.
    Verify {
        /// Trusted public key (hex, from `rampart audit key`); repeat for rotated keys. Without
        /// it, the key in the data directory is trusted.
        #[arg(long = "public-key")]
        public_keys: Vec<String>,
    },
    /// Sign a checkpoint of the chain now (`serve` does it every `audit.checkpoint_secs`).
    Checkpoint,
    /// Print the public half of the signing key, to keep where the server cannot write.
    Key,
    /// Find events: time range, actor, kind, subject.
    Search(AuditFilter),
    /// Write events as JSON lines (oldest first, with their chain hashes), for a SIEM or an
    /// auditor. Recorded as an `audit_exported` event.
    Export {
        #[command(flatten)]
        filter: AuditFilter,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(clap::Args, Clone)]
pub struct AuditFilter {
    /// From this moment (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    since: Option<String>,
    /// Before this moment (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    until: Option<String>,
    /// Who did it (`cli:alice`, `smtp`, an address).
    #[arg(long)]
    actor: Option<String>,
    /// Event kind (e.g. login_denied); repeat for several.
    #[arg(long = "kind")]
    kinds: Vec<String>,
    /// The account concerned.
    #[arg(long)]
    subject: Option<String>,
    /// At most this many (search only; default 100).
    #[arg(long)]
    limit: Option<usize>,
}

#[derive(Subcommand)]
pub enum ArchiveCmd {
    /// Search archived mail: words, "phrases", from: to: subject: attachment: direction:
    /// after:YYYY-MM-DD before:YYYY-MM-DD. Recorded as an `archive_searched` event.
    Search {
        query: Vec<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Best match first instead of newest first.
        #[arg(long)]
        relevance: bool,
    },
    /// One archived message: its envelope, or its raw bytes with `--raw` (audited).
    Show {
        id: i64,
        #[arg(long)]
        raw: bool,
    },
    /// Write every message a search matches to an mbox file (audited).
    Export {
        query: Vec<String>,
        #[arg(long)]
        mbox: PathBuf,
    },
    /// Rebuild the search index from the archive (stop `serve` first: it holds the index).
    Reindex,
    /// Run the retention job now: remove archived mail past retention that no legal hold covers.
    Purge,
    /// Entries, bytes, index state.
    Stats,
}

#[derive(Subcommand)]
pub enum LegalHoldCmd {
    /// Suspend deletion of everything a person sent or received (and their deleted mail), or of
    /// everything a search matches.
    #[command(group(clap::ArgGroup::new("target").required(true).args(["person", "search"])))]
    Add {
        #[arg(long)]
        person: Option<EmailAddress>,
        /// An archive search, as `rampart archive search` takes it.
        #[arg(long)]
        search: Option<String>,
        /// The matter or case it is for.
        #[arg(long)]
        reason: String,
    },
    List {
        /// Released holds too.
        #[arg(long)]
        all: bool,
    },
    Release {
        id: i64,
    },
}

fn parse_time(s: &str) -> anyhow::Result<Timestamp> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(Timestamp(t.unix_timestamp()));
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(s, &fmt).with_context(|| {
        format!("{s:?}: expected RFC 3339 (2026-11-27T10:00:00Z) or YYYY-MM-DD")
    })?;
    Ok(Timestamp(d.midnight().assume_utc().unix_timestamp()))
}

impl AuditFilter {
    fn to_filter(&self) -> anyhow::Result<EventFilter> {
        let kinds = self
            .kinds
            .iter()
            .map(|k| {
                EventKind::parse(k).with_context(|| {
                    format!("unknown event kind {k:?}; see `rampart events list --help`")
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(EventFilter {
            kinds,
            subject: self.subject.clone(),
            since: self.since.as_deref().map(parse_time).transpose()?,
            until: self.until.as_deref().map(parse_time).transpose()?,
            actor: self.actor.clone(),
            ..Default::default()
        })
    }
}

fn key_path(cli: &Cli, config: &rampart_model::Config) -> PathBuf {
    cli.data.join(&config.audit.signing_key)
}

pub async fn audit(
    cli: &Cli,
    store: &Mailstore,
    config: &rampart_model::Config,
    cmd: &AuditCmd,
) -> anyhow::Result<()> {
    match cmd {
        AuditCmd::Verify { public_keys } => {
            let mut trusted = public_keys.clone();
            if trusted.is_empty() {
                let path = key_path(cli, config);
                if path.exists() {
                    trusted.push(rampart_audit::AuditKey::load(&path)?.public_key_hex());
                }
            }
            let total = store
                .meta()
                .audit_head()
                .await?
                .map(|(id, _)| id)
                .unwrap_or(0);
            let bar = crate::corpus::progress(total.max(0) as u64, "entries", cli.json);
            let report =
                rampart_audit::verify(store.meta(), &trusted, &|done, _| bar.set_position(done))
                    .await?;
            bar.finish_and_clear();
            if cli.json {
                json(&report)?;
            } else {
                println!(
                    "{} entries ({}..{}), {} checkpoints, signed up to entry {}, {} entries after the last checkpoint",
                    report.entries,
                    report.first_id.unwrap_or(0),
                    report.last_id.unwrap_or(0),
                    report.checkpoints,
                    report.signed_up_to.map_or("-".to_string(), |i| i.to_string()),
                    report.unsigned_tail
                );
                if report.ok {
                    println!("OK: the audit trail is intact.");
                } else {
                    println!(
                        "TAMPERED: first bad entry {}",
                        report.first_bad_entry.map_or("-".into(), |i| i.to_string())
                    );
                    for p in &report.problems {
                        println!("  - {}", p.what);
                    }
                }
            }
            if !report.ok {
                std::process::exit(1);
            }
            Ok(())
        }
        AuditCmd::Checkpoint => {
            let key = rampart_audit::AuditKey::load_or_create(&key_path(cli, config))?;
            let made = rampart_audit::checkpoint(store.meta(), &key, store.now()).await?;
            match (&made, cli.json) {
                (_, true) => json(&made)?,
                (Some(c), false) => println!("signed checkpoint {} at entry {}", c.id, c.event_id),
                (None, false) => println!("nothing new since the last checkpoint"),
            }
            Ok(())
        }
        AuditCmd::Key => {
            let key = rampart_audit::AuditKey::load_or_create(&key_path(cli, config))?;
            if cli.json {
                json(&json!({"public_key": key.public_key_hex(), "algorithm": "ed25519"}))
            } else {
                println!("{}", key.public_key_hex());
                Ok(())
            }
        }
        AuditCmd::Search(filter) => {
            let mut f = filter.to_filter()?;
            f.limit = Some(filter.limit.unwrap_or(100));
            let events = store.meta().list_events(&f).await?;
            if cli.json {
                return json(&events);
            }
            let rows: Vec<Vec<String>> = events
                .iter()
                .map(|e| {
                    vec![
                        e.id.to_string(),
                        rfc3339(e.at),
                        e.kind.to_string(),
                        e.actor.clone(),
                        e.subject.clone().unwrap_or_default(),
                        e.detail
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(" "),
                    ]
                })
                .collect();
            table(&["ID", "AT", "KIND", "ACTOR", "SUBJECT", "DETAIL"], &rows);
            Ok(())
        }
        AuditCmd::Export { filter, out } => {
            let mut f = filter.to_filter()?;
            f.ascending = true;
            f.limit = Some(5000);
            let total = store
                .meta()
                .audit_head()
                .await?
                .map(|(id, _)| id)
                .unwrap_or(0);
            let quiet = cli.json || out.is_none();
            let bar = crate::corpus::progress(total.max(0) as u64, "events", quiet);
            let mut sink: Box<dyn Write> = match out {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("cannot create {}", path.display()))?,
                )),
                None => Box::new(std::io::stdout().lock()),
            };
            let mut written = 0u64;
            loop {
                let events = store.meta().list_events(&f).await?;
                let Some(last) = events.last().map(|e| e.id) else {
                    break;
                };
                // The chain rows carry the hashes a SIEM can check against `audit verify`.
                let first = events[0].id;
                let raw = store
                    .meta()
                    .audit_entries(first - 1, (last - first + 1) as usize)
                    .await?;
                let by_id: BTreeMap<i64, _> = raw.into_iter().map(|e| (e.id, e)).collect();
                for e in &events {
                    if let Some(entry) = by_id.get(&e.id) {
                        serde_json::to_writer(&mut sink, &rampart_audit_event_json(entry))?;
                        sink.write_all(b"\n")?;
                        written += 1;
                    }
                }
                bar.set_position(last.max(0) as u64);
                f.after_id = Some(last);
            }
            sink.flush()?;
            bar.finish_and_clear();
            store
                .meta()
                .record_event(
                    EventKind::AuditExported,
                    store.now(),
                    &actor(),
                    None,
                    BTreeMap::from([
                        ("events".to_string(), written.to_string()),
                        (
                            "to".to_string(),
                            out.as_ref()
                                .map_or("stdout".into(), |p| p.display().to_string()),
                        ),
                    ]),
                )
                .await?;
            if let Some(path) = out {
                eprintln!("wrote {written} events to {}", path.display());
            }
            Ok(())
        }
    }
}

fn rampart_audit_event_json(e: &rampart_model::AuditEntry) -> serde_json::Value {
    rampart_audit::event_json(e)
}

/// The index for reading: the server's, read-only, when it runs; else opened (and caught up)
/// here.
async fn open_index(
    cli: &Cli,
    store: &Mailstore,
    config: &rampart_model::Config,
) -> anyhow::Result<Arc<ArchiveIndex>> {
    let dir = crate::archive_job::index_dir(&cli.data, &config.archive);
    match ArchiveIndex::open(&dir) {
        Ok(index) => {
            let index = Arc::new(index);
            let (count, _) = store.meta().archive_stats().await?;
            let pending = count.saturating_sub(index.doc_count());
            let bar = crate::corpus::progress(pending, "messages indexed", cli.json);
            crate::archive_job::index_pending(store, &index, crate::archive_job::Pace::Full, &bar)
                .await?;
            bar.finish_and_clear();
            Ok(index)
        }
        // A running server holds the writer: read beside it.
        Err(rampart_archive::ArchiveError::Busy(_)) => {
            Ok(Arc::new(ArchiveIndex::open_read_only(&dir)?))
        }
        Err(e) => Err(e).with_context(|| format!("archive index in {}", dir.display())),
    }
}

fn query_of(words: &[String]) -> anyhow::Result<(String, ArchiveQuery)> {
    let text = words.join(" ");
    let q = ArchiveQuery::parse(&text)?;
    if q.is_empty() {
        anyhow::bail!("give a search, e.g. `from:example.com invoice after:2026-01-01`");
    }
    Ok((text, q))
}

pub async fn archive(
    cli: &Cli,
    store: &Mailstore,
    config: &rampart_model::Config,
    cmd: &ArchiveCmd,
) -> anyhow::Result<()> {
    match cmd {
        ArchiveCmd::Search {
            query,
            limit,
            relevance,
        } => {
            let (text, q) = query_of(query)?;
            let index = open_index(cli, store, config).await?;
            let sort = if *relevance {
                SortBy::Relevance
            } else {
                SortBy::Newest
            };
            let started = std::time::Instant::now();
            let found = index.search_by(&q, sort, *limit, 0)?;
            let took_ms = started.elapsed().as_secs_f64() * 1000.0;
            store
                .record_archive_read(
                    EventKind::ArchiveSearched,
                    &actor(),
                    Some(&text),
                    found.total,
                    None,
                )
                .await?;
            if cli.json {
                return json(
                    &json!({"query": text, "total": found.total, "took_ms": took_ms, "hits": found.hits}),
                );
            }
            let rows: Vec<Vec<String>> = found
                .hits
                .iter()
                .map(|h| {
                    vec![
                        h.id.to_string(),
                        rfc3339(Timestamp(h.at)),
                        h.direction.clone(),
                        h.from.clone(),
                        h.subject.clone(),
                    ]
                })
                .collect();
            table(&["ID", "ARCHIVED", "DIRECTION", "FROM", "SUBJECT"], &rows);
            println!(
                "{} found ({took_ms:.1} ms); showing {}",
                found.total,
                rows.len()
            );
            Ok(())
        }
        ArchiveCmd::Show { id, raw } => {
            let (entry, bytes) = store.archived_raw(*id).await?;
            store
                .record_archive_read(EventKind::ArchiveViewed, &actor(), None, 1, Some(*id))
                .await?;
            if *raw {
                std::io::stdout().write_all(&bytes)?;
                return Ok(());
            }
            if cli.json {
                return json(&entry);
            }
            println!("id:         {}", entry.id);
            println!("archived:   {}", rfc3339(entry.at));
            println!("direction:  {}", entry.direction);
            println!("mail from:  {}", entry.mail_from);
            println!("recipients: {}", entry.recipients.join(", "));
            println!("from:       {}", entry.from);
            println!("subject:    {}", entry.subject);
            println!("parties:    {}", entry.parties.join(", "));
            println!("size:       {} bytes, blob {}", entry.size, entry.blob);
            Ok(())
        }
        ArchiveCmd::Export { query, mbox } => {
            let (text, q) = query_of(query)?;
            let index = open_index(cli, store, config).await?;
            let ids = index.matching_ids(&q)?;
            let bar = crate::corpus::progress(ids.len() as u64, "messages", cli.json);
            let tmp = mbox.with_extension("partial");
            let mut out = std::io::BufWriter::new(
                std::fs::File::create(&tmp)
                    .with_context(|| format!("cannot create {}", tmp.display()))?,
            );
            let (mut written, mut missing) = (0u64, 0u64);
            for id in &ids {
                match store.archived_raw(*id as i64).await {
                    Ok((entry, raw)) => {
                        write_mbox_message(&mut out, &entry.mail_from, entry.at, &raw)?;
                        written += 1;
                    }
                    // Removed by retention since the index saw it.
                    Err(rampart_store::StoreError::NotFound(_)) => missing += 1,
                    Err(e) => return Err(e.into()),
                }
                bar.inc(1);
            }
            out.flush()?;
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&tmp, mbox)?;
            bar.finish_and_clear();
            store
                .record_archive_read(
                    EventKind::ArchiveExported,
                    &actor(),
                    Some(&text),
                    written as usize,
                    None,
                )
                .await?;
            if cli.json {
                json(&json!({"query": text, "exported": written, "gone": missing, "mbox": mbox}))
            } else {
                println!("exported {written} messages to {}", mbox.display());
                Ok(())
            }
        }
        ArchiveCmd::Reindex => {
            let dir = crate::archive_job::index_dir(&cli.data, &config.archive);
            if dir.exists() {
                // Refuse while a server holds it, before deleting anything.
                drop(ArchiveIndex::open(&dir).with_context(|| {
                    format!(
                        "cannot take the index in {} (stop `rampart serve` first)",
                        dir.display()
                    )
                })?);
                std::fs::remove_dir_all(&dir)?;
            }
            let index = Arc::new(ArchiveIndex::open(&dir)?);
            let (count, _) = store.meta().archive_stats().await?;
            let bar = crate::corpus::progress(count, "messages indexed", cli.json);
            let started = std::time::Instant::now();
            let n = crate::archive_job::index_pending(
                store,
                &index,
                crate::archive_job::Pace::Full,
                &bar,
            )
            .await?;
            bar.finish_and_clear();
            let secs = started.elapsed().as_secs_f64();
            if cli.json {
                json(
                    &json!({"indexed": n, "seconds": secs, "msgs_per_sec": n as f64 / secs.max(1e-9)}),
                )
            } else {
                println!("indexed {n} messages in {secs:.1} s");
                Ok(())
            }
        }
        ArchiveCmd::Purge => {
            let index = open_index(cli, store, config).await?;
            let (report, blobs) =
                crate::archive_job::retention(store, Some(&index), &config.archive, &actor())
                    .await?;
            if cli.json {
                json(
                    &json!({"removed": report.removed.len(), "held": report.held, "unindexed": report.unindexed, "blobs_deleted": blobs}),
                )
            } else {
                println!(
                    "removed {} archived messages past retention ({} blobs freed); {} kept under legal hold",
                    report.removed.len(),
                    blobs,
                    report.held
                );
                Ok(())
            }
        }
        ArchiveCmd::Stats => {
            let (count, bytes) = store.meta().archive_stats().await?;
            let dir = crate::archive_job::index_dir(&cli.data, &config.archive);
            let indexed = ArchiveIndex::open_read_only(&dir)
                .map(|i| (i.doc_count(), i.last_indexed()))
                .ok();
            let holds = store.meta().legal_holds(true).await?.len();
            if cli.json {
                json(
                    &json!({"messages": count, "bytes": bytes, "indexed": indexed.map(|i| i.0),
                    "last_indexed": indexed.map(|i| i.1), "active_legal_holds": holds,
                    "retention_days": config.archive.retention_days, "enabled": config.archive.enabled}),
                )
            } else {
                println!("archived:     {count} messages, {bytes} bytes");
                println!(
                    "search index: {}",
                    indexed.map_or("not built (rampart archive reindex)".into(), |i| format!(
                        "{} messages",
                        i.0
                    ))
                );
                println!("legal holds:  {holds} active");
                println!(
                    "retention:    {} days (plus {} rules)",
                    config.archive.retention_days,
                    config.archive.rules.len()
                );
                Ok(())
            }
        }
    }
}

/// One mboxrd message: a `From ` line, the bytes with `From ` lines quoted, a blank line.
pub fn write_mbox_message(
    out: &mut impl Write,
    mail_from: &str,
    at: Timestamp,
    raw: &[u8],
) -> std::io::Result<()> {
    let when =
        time::OffsetDateTime::from_unix_timestamp(at.0).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day padding:space] [hour]:[minute]:[second] [year]"
    );
    let sender = if mail_from.is_empty() || mail_from.contains(char::is_whitespace) {
        "MAILER-DAEMON"
    } else {
        mail_from
    };
    writeln!(
        out,
        "From {sender} {}",
        when.format(&fmt).unwrap_or_default()
    )?;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        let unquoted = body.iter().position(|&b| b != b'>').unwrap_or(body.len());
        if body[unquoted..].starts_with(b"From ") {
            out.write_all(b">")?;
        }
        out.write_all(body)?;
        out.write_all(b"\n")?;
    }
    out.write_all(b"\n")
}

pub async fn legal_hold(cli: &Cli, store: &Mailstore, cmd: &LegalHoldCmd) -> anyhow::Result<()> {
    match cmd {
        LegalHoldCmd::Add {
            person,
            search,
            reason,
        } => {
            let (kind, target) = match (person, search) {
                (Some(p), _) => {
                    if store.meta().account(p).await?.is_none() {
                        eprintln!(
                            "note: {p} is not a local account; its archived mail is still held"
                        );
                    }
                    (LegalHoldKind::Person, p.to_string())
                }
                (None, Some(s)) => {
                    let q = ArchiveQuery::parse(s)?;
                    if q.is_empty() {
                        anyhow::bail!("a search hold needs a search");
                    }
                    (LegalHoldKind::Search, s.clone())
                }
                (None, None) => anyhow::bail!("give --person ADDRESS or --search QUERY"),
            };
            let hold = store
                .meta()
                .place_legal_hold(kind, &target, reason, store.now(), &actor())
                .await?;
            if cli.json {
                json(&hold)
            } else {
                println!(
                    "legal hold {} placed on {} {}",
                    hold.id,
                    kind.as_str(),
                    hold.target
                );
                Ok(())
            }
        }
        LegalHoldCmd::List { all } => {
            let holds = store.meta().legal_holds(!all).await?;
            if cli.json {
                return json(&holds);
            }
            let rows: Vec<Vec<String>> = holds
                .iter()
                .map(|h| {
                    vec![
                        h.id.to_string(),
                        h.kind.as_str().to_string(),
                        h.target.clone(),
                        h.reason.clone(),
                        format!("{} by {}", rfc3339(h.created_at), h.created_by),
                        h.released_at
                            .map(|t| {
                                format!(
                                    "{} by {}",
                                    rfc3339(t),
                                    h.released_by.clone().unwrap_or_default()
                                )
                            })
                            .unwrap_or_else(|| "active".into()),
                    ]
                })
                .collect();
            table(
                &["ID", "KIND", "TARGET", "REASON", "PLACED", "RELEASED"],
                &rows,
            );
            Ok(())
        }
        LegalHoldCmd::Release { id } => {
            let hold = store
                .meta()
                .release_legal_hold(*id, store.now(), &actor())
                .await?;
            if cli.json {
                json(&hold)
            } else {
                println!("legal hold {} released", hold.id);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbox_quotes_from_lines_and_normalises_line_ends() {
        let mut out = Vec::new();
        write_mbox_message(
            &mut out,
            "a@example.com",
            Timestamp(0),
            b"Subject: x\r\n\r\nFrom here\r\n>From there\r\nok\r\n",
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("From a@example.com Thu Jan  1 00:00:00 1970\n"),
            "{text}"
        );
        assert!(
            text.contains("\n>From here\n>>From there\nok\n\n"),
            "{text}"
        );
    }

    #[test]
    fn times_parse_as_dates_or_rfc3339() {
        assert_eq!(parse_time("1970-01-02").unwrap(), Timestamp(86_400));
        assert_eq!(parse_time("1970-01-01T00:01:00Z").unwrap(), Timestamp(60));
        assert!(parse_time("yesterday").is_err());
    }
}
