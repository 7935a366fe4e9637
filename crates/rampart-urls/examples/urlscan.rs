//! Prints the links and findings of files: `cargo run -p rampart-urls --example urlscan -- FILE...`.
//! Files ending in `.html`/`.htm` are scanned as HTML, others as text. With `--summary`, prints
//! one line per file: the highest score and the finding names.

use rampart_urls::{judge, links_in_text, scan_html, UrlPolicy};

fn main() {
    let mut summary = false;
    let policy = UrlPolicy::default();
    for arg in std::env::args().skip(1) {
        if arg == "--summary" {
            summary = true;
            continue;
        }
        let bytes = match std::fs::read(&arg) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("{arg}: {e}");
                continue;
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        let links = if arg.ends_with(".html") || arg.ends_with(".htm") {
            scan_html(&text).links
        } else {
            links_in_text(&text)
        };
        let findings = judge(&links, &policy);
        if summary {
            let top = findings.iter().map(|f| f.score).fold(0.0f32, f32::max);
            let names: Vec<String> = findings
                .iter()
                .map(|f| format!("{}={}", f.name, f.score))
                .collect();
            println!("{top:5.1} {arg} {}", names.join(" "));
            continue;
        }
        println!("== {arg}: {} links", links.len());
        for link in &links {
            println!(
                "  {:<12} {} {}",
                link.source,
                link.url,
                link.shown_text
                    .as_deref()
                    .map(|t| format!("[{t}]"))
                    .unwrap_or_default()
            );
        }
        for finding in &findings {
            println!(
                "  {:>5.1} {} {:?}",
                finding.score, finding.name, finding.evidence
            );
        }
    }
}
