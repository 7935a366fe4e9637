//! Data-leak prevention tools: `rampart eval dlp` (precision and recall on span-labelled
//! corpora) and `rampart bench dlp` (detector throughput; document extraction cost).

use std::path::PathBuf;

use anyhow::Context;

use crate::Cli;

#[derive(clap::Args)]
pub struct EvalDlpArgs {
    /// Span-labelled files: JSONL (`text`, `spans: [{entity_type, start, end}]`) or
    /// Presidio-research JSON (`full_text`, `spans: [{entity_type, start_position,
    /// end_position}]`). Offsets are in characters. Repeat for several.
    #[arg(long, required = true)]
    input: Vec<PathBuf>,
    /// Count matches at or above this confidence (low, medium, high).
    #[arg(long, default_value = "low")]
    min_confidence: String,
}

pub fn eval(cli: &Cli, args: &EvalDlpArgs) -> anyhow::Result<()> {
    let config = crate::config::load(cli.config.as_deref())?;
    let min: rampart_dlp::Confidence = args
        .min_confidence
        .parse()
        .map_err(|_| anyhow::anyhow!("--min-confidence must be low, medium or high"))?;
    let detectors = rampart_scan::dlp::detectors(&config.dlp)?;
    let mut samples = Vec::new();
    for path in &args.input {
        samples.extend(
            rampart_dlp::eval::read_corpus(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        );
    }
    let report = rampart_dlp::eval::evaluate(&detectors, &samples, min);
    if cli.json {
        return crate::output::json(&report);
    }
    println!(
        "{} samples, matches at {} confidence or above",
        report.samples, args.min_confidence
    );
    let rows: Vec<Vec<String>> = report
        .entities
        .iter()
        .map(|(name, s)| {
            vec![
                name.clone(),
                format!("{:.4}", s.precision),
                format!("{:.4}", s.recall),
                format!("{:.4}", s.f1),
                s.tp.to_string(),
                s.fp.to_string(),
                s.fn_.to_string(),
            ]
        })
        .collect();
    crate::output::table(
        &["ENTITY", "PRECISION", "RECALL", "F1", "TP", "FP", "FN"],
        &rows,
    );
    println!(
        "hits on checksum-failing negatives: {}; on plain negatives: {}",
        report.negative_hits, report.negative_plain_hits
    );
    if !report.unsupported.is_empty() {
        let names: Vec<&str> = report.unsupported.keys().map(String::as_str).collect();
        println!("labels not detected by design: {}", names.join(", "));
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct BenchDlpArgs {
    /// Megabytes of mixed Chinese/English business text to scan, and the size of the DOCX and
    /// PDF documents whose extraction is timed.
    #[arg(long, default_value_t = 10)]
    mb: usize,
}

pub fn bench(cli: &Cli, args: &BenchDlpArgs) -> anyhow::Result<()> {
    let mb = args.mb.max(1);
    let scan_mb_s = rampart_dlp::bench_throughput(mb * 1_000_000);
    let docx = rampart_extract::bench_extract("docx", mb);
    let pdf = rampart_extract::bench_extract("pdf", mb);
    let extract: Vec<serde_json::Value> = [&docx, &pdf]
        .iter()
        .map(|r| {
            serde_json::json!({
                "kind": r.kind,
                "bytes": r.bytes,
                "millis": r.millis,
                "text_bytes": r.text_bytes,
                "problems": r.problems,
            })
        })
        .collect();
    let report = serde_json::json!({
        "text_mb": mb,
        "scan_mb_per_sec": scan_mb_s,
        "extract": extract,
    });
    if cli.json {
        return crate::output::json(&report);
    }
    println!("DLP detectors on {mb} MB of text: {scan_mb_s:.0} MB/s on one core");
    for r in [&docx, &pdf] {
        println!(
            "{} of {:.1} MB: text extracted in {:.0} ms ({:.1} MB of text{})",
            r.kind,
            r.bytes as f64 / 1e6,
            r.millis,
            r.text_bytes as f64 / 1e6,
            if r.problems == 0 {
                String::new()
            } else {
                format!("; {} problems (the text cap)", r.problems)
            }
        );
    }
    Ok(())
}
