//! The cost of extracting one document, with peak memory:
//!
//! * `... --example extract_cost -- docx 10`: a generated text-dense document (docx, xlsx or
//!   pdf) of about 10 MB, all of it read;
//! * `... -- gen pdf 10 /tmp/x.pdf`: write that document to a file instead;
//! * `... -- file /tmp/x.pdf [all]`: a file, with the default limits (`all`: text caps raised).
//!
//! Peak memory is the process's VmHWM, reset (Linux `clear_refs`) just before extraction. A
//! generated document leaves the allocator's freed memory behind, which extraction may reuse
//! unseen; `gen` then `file` in a fresh process measures from a clean start.

use std::time::Instant;

use rampart_extract::bench::{bench_limits, build};
use rampart_extract::{extract, Limits};

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_else(|| "docx".into());
    let arg = args.next().unwrap_or_else(|| "10".into());
    let (doc, name, limits) = if kind == "file" {
        let bytes = std::fs::read(&arg).expect("readable file");
        let limits = match args.next().as_deref() {
            Some("all") => bench_limits(),
            _ => Limits::default(),
        };
        (bytes, arg.clone(), limits)
    } else if kind == "gen" {
        let target = args
            .next()
            .and_then(|m| m.parse::<usize>().ok())
            .unwrap_or(10)
            * 1024
            * 1024;
        let path = args.next().expect("output path");
        let doc = match arg.as_str() {
            "xlsx" => build::sample_xlsx(target),
            "pdf" => build::sample_pdf(target),
            _ => build::sample_docx(target),
        };
        std::fs::write(&path, &doc).expect("writable path");
        println!("wrote {} bytes to {path}", doc.len());
        return;
    } else {
        let target = arg.parse::<usize>().unwrap_or(10) * 1024 * 1024;
        let doc = match kind.as_str() {
            "xlsx" => build::sample_xlsx(target),
            "pdf" => build::sample_pdf(target),
            _ => build::sample_docx(target),
        };
        (doc, format!("sample.{kind}"), bench_limits())
    };
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = peak_kib();
    let start = Instant::now();
    let out = extract(&doc, Some(&name), &limits);
    let millis = start.elapsed().as_secs_f64() * 1000.0;
    let mib = |k: Option<u64>| k.map_or("?".into(), |k| format!("{:.0}", k as f64 / 1024.0));
    println!(
        "{name} {:.1} MB: {millis:.0} ms, {:.1} MB of text in {} texts, {} problems, \
         peak RSS {} MiB (at start {} MiB, peak reset: {reset})",
        doc.len() as f64 / 1e6,
        out.text_bytes() as f64 / 1e6,
        out.texts.len(),
        out.problems.len(),
        mib(peak_kib()),
        mib(before),
    );
    for p in out.problems.iter().take(5) {
        println!("  {:?} {}: {}", p.kind, p.path, p.detail);
    }
}

/// VmHWM (peak resident set) of this process, in KiB, where /proc has it.
fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
