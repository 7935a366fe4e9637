//! What the index costs on real mail: [`bench_archive`] reads message files, builds their
//! documents on two threads, indexes and commits them, then times a list of searches.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::{doc_from_raw, header_date, ArchiveDoc, ArchiveError, ArchiveIndex, ArchiveQuery};

/// Threads building documents (reading, parsing, extracting); tantivy's writer has its own.
const PARSE_THREADS: usize = 2;
/// Documents handed to the writer at a time.
const BATCH: usize = 256;
/// Times each query is run; percentiles are over all runs of all queries.
const RUNS: usize = 25;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    /// Messages indexed.
    pub messages: u64,
    /// Raw bytes of those messages.
    pub bytes: u64,
    /// Files that could not be read (skipped).
    pub unreadable: u64,
    /// Wall time from the first file read to the commit returning: reading, parsing,
    /// extraction, indexing.
    pub index_secs: f64,
    pub msgs_per_sec: f64,
    /// Bytes of the committed index (0 in memory).
    pub index_bytes_on_disk: u64,
    pub queries: Vec<QueryTiming>,
    pub search_p50_ms: f64,
    pub search_p95_ms: f64,
    pub search_max_ms: f64,
}

/// One query of the list, run [`RUNS`] times (a page of 20, newest first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryTiming {
    pub query: String,
    /// Messages matching.
    pub total: usize,
    pub p50_ms: f64,
    pub max_ms: f64,
}

/// Indexes the messages in `paths` (into `index_dir`, or in memory) and times `queries`.
/// `progress` is called with the number of messages indexed so far. Each message is archived
/// at its `Date` header (0 without one), inbound, with no envelope.
pub fn bench_archive(
    paths: &[PathBuf],
    index_dir: Option<&Path>,
    queries: &[String],
    progress: impl Fn(u64),
) -> Result<BenchReport, ArchiveError> {
    let parsed: Vec<ArchiveQuery> = queries
        .iter()
        .map(|q| ArchiveQuery::parse(q))
        .collect::<Result<_, _>>()?;
    let index = match index_dir {
        Some(dir) => ArchiveIndex::open(dir)?,
        None => ArchiveIndex::open_in_ram()?,
    };
    let start = Instant::now();
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<(Vec<ArchiveDoc>, u64)>(PARSE_THREADS * 2);
    let mut messages = 0u64;
    let mut bytes = 0u64;
    let mut unreadable = 0u64;
    std::thread::scope(|s| -> Result<(), ArchiveError> {
        for _ in 0..PARSE_THREADS {
            let tx = tx.clone();
            let next = &next;
            s.spawn(move || {
                let mut batch = Vec::with_capacity(BATCH);
                let mut failed = 0u64;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = paths.get(i) else { break };
                    match std::fs::read(path) {
                        Ok(raw) => {
                            let at = header_date(&raw).unwrap_or(0);
                            batch.push(doc_from_raw(i as u64 + 1, at, "inbound", "", &[], &raw));
                        }
                        Err(_) => failed += 1,
                    }
                    if batch.len() == BATCH {
                        if tx.send((std::mem::take(&mut batch), failed)).is_err() {
                            return;
                        }
                        failed = 0;
                    }
                }
                let _ = tx.send((batch, failed));
            });
        }
        drop(tx);
        for (docs, failed) in rx {
            messages += docs.len() as u64;
            bytes += docs.iter().map(|d| d.size).sum::<u64>();
            unreadable += failed;
            index.add(docs)?;
            progress(messages);
        }
        Ok(())
    })?;
    index.commit(paths.len() as u64)?;
    let index_secs = start.elapsed().as_secs_f64();

    let mut all = Vec::with_capacity(parsed.len() * RUNS);
    let mut timings = Vec::with_capacity(parsed.len());
    for (text, q) in queries.iter().zip(&parsed) {
        let mut runs = Vec::with_capacity(RUNS);
        let mut total = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            total = index.search(q, 20, 0)?.total;
            runs.push(t.elapsed().as_secs_f64() * 1e3);
        }
        runs.sort_by(f64::total_cmp);
        timings.push(QueryTiming {
            query: text.clone(),
            total,
            p50_ms: percentile(&runs, 0.50),
            max_ms: runs.last().copied().unwrap_or(0.0),
        });
        all.extend(runs);
    }
    all.sort_by(f64::total_cmp);
    Ok(BenchReport {
        messages,
        bytes,
        unreadable,
        index_secs,
        msgs_per_sec: messages as f64 / index_secs.max(1e-9),
        index_bytes_on_disk: index.bytes_on_disk(),
        queries: timings,
        search_p50_ms: percentile(&all, 0.50),
        search_p95_ms: percentile(&all, 0.95),
        search_max_ms: all.last().copied().unwrap_or(0.0),
    })
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
