//! `rampart bench archive`: archive indexing throughput and search latency over labelled
//! corpora. The work is `rampart_archive::bench`; this is arguments, progress and the report.

use std::path::PathBuf;

use anyhow::Context;

use crate::corpus::{progress, read_index};
use crate::Cli;

#[derive(clap::Args)]
pub struct BenchArchiveArgs {
    /// Corpus index files (`<label> <path>` lines); all their messages are indexed.
    #[arg(long = "index", required = true)]
    indexes: Vec<PathBuf>,
    /// Directory for the search index (it must not hold one already); default a temporary one.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Index at most this many messages of all indexes together.
    #[arg(long)]
    limit: Option<usize>,
}

/// Searches a mail archive gets: words, phrases, senders, dates, Chinese, attachments, and
/// combinations, over what the public corpora hold (Enron business mail, SpamAssassin, spam
/// and phishing).
const QUERIES: &[&str] = &[
    "meeting",
    "invoice payment",
    "\"conference call\"",
    "\"please find attached\"",
    "from:enron.com",
    "from:enron.com subject:meeting",
    "to:kaminski",
    "after:2001-01-01 before:2001-07-01",
    "energy after:2000-06-01 before:2001-01-01",
    "合同",
    "公司",
    "attachment:pdf",
    "attachment:txt",
    "subject:free",
    "\"click here\" unsubscribe",
    "password verify account",
    "from:paypal",
    "body:\"wire transfer\"",
    "direction:inbound gas",
    "california power prices",
];

pub fn archive(cli: &Cli, args: &BenchArchiveArgs) -> anyhow::Result<()> {
    let mut paths = Vec::new();
    for index in &args.indexes {
        paths.extend(read_index(index)?.into_iter().map(|s| s.path));
    }
    if let Some(limit) = args.limit {
        paths.truncate(limit);
    }
    let scratch;
    let dir = match &args.out {
        Some(dir) => dir.clone(),
        None => {
            scratch = tempfile::tempdir().context("cannot make a temporary directory")?;
            scratch.path().join("archive")
        }
    };
    if dir.join("meta.json").exists() {
        anyhow::bail!(
            "{} already holds an index; give an empty directory",
            dir.display()
        );
    }
    let queries: Vec<String> = QUERIES.iter().map(|q| q.to_string()).collect();
    let bar = progress(paths.len() as u64, "messages", cli.json);
    let report = rampart_archive::bench::bench_archive(&paths, Some(&dir), &queries, |n| {
        bar.set_position(n)
    })?;
    bar.finish_and_clear();
    if cli.json {
        return crate::output::json(&report);
    }
    println!(
        "indexed {} messages ({:.0} MB) in {:.1} s: {:.0} messages/s on {} cores{}",
        report.messages,
        report.bytes as f64 / 1e6,
        report.index_secs,
        report.msgs_per_sec,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        if report.unreadable > 0 {
            format!(" ({} files unreadable)", report.unreadable)
        } else {
            String::new()
        }
    );
    println!(
        "index on disk: {:.0} MB ({:.0}% of the mail)",
        report.index_bytes_on_disk as f64 / 1e6,
        100.0 * report.index_bytes_on_disk as f64 / (report.bytes.max(1) as f64)
    );
    println!(
        "search (first page of 20, newest first): p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        report.search_p50_ms, report.search_p95_ms, report.search_max_ms
    );
    let rows: Vec<Vec<String>> = report
        .queries
        .iter()
        .map(|q| {
            vec![
                q.query.clone(),
                q.total.to_string(),
                format!("{:.2}", q.p50_ms),
                format!("{:.2}", q.max_ms),
            ]
        })
        .collect();
    crate::output::table(&["query", "matches", "p50 ms", "max ms"], &rows);
    Ok(())
}
