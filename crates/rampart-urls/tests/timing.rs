//! Timings, run on demand in release mode:
//! `cargo nextest run -p rampart-urls --release --run-ignored only --no-capture timing`.

use std::hint::black_box;
use std::time::Instant;

use rampart_urls::{judge, scan_html, Blocklist, UrlPolicy};

const NEWSLETTER: &str = include_str!("fixtures/newsletter-retail-own-tracking.html");

fn per_call(iterations: u32, mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(iterations)
}

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4)
}

#[test]
#[ignore = "timing; run in release with --no-capture"]
fn timing_scan_and_judge() {
    let policy = UrlPolicy::default();
    let scan = scan_html(NEWSLETTER);
    println!(
        "10 KB newsletter: {} bytes, {} links, {} bytes of visible text",
        NEWSLETTER.len(),
        scan.links.len(),
        scan.visible_text.len()
    );
    let t_scan = per_call(20_000, || {
        black_box(scan_html(black_box(NEWSLETTER)));
    });
    let t_judge = per_call(20_000, || {
        black_box(judge(black_box(&scan.links), &policy));
    });
    let t_both = per_call(20_000, || {
        let scan = scan_html(black_box(NEWSLETTER));
        black_box(judge(&scan.links, &policy));
    });
    println!("  scan_html {t_scan:.1} µs, judge {t_judge:.1} µs, both {t_both:.1} µs per call");

    // 1 MB: the newsletter a hundred times over, with prose between the copies.
    let prose =
        "Lorem ipsum dolor sit amet, see www.example.org/docs and reply to team@example.com. "
            .repeat(20);
    let mut blob = String::new();
    while blob.len() < 1_000_000 {
        blob.push_str(NEWSLETTER);
        blob.push_str("<p>");
        blob.push_str(&prose);
        blob.push_str("</p>");
    }
    let scan = scan_html(&blob);
    println!(
        "1 MB blob: {} bytes, {} links",
        blob.len(),
        scan.links.len()
    );
    let t_scan = per_call(50, || {
        black_box(scan_html(black_box(&blob)));
    });
    let t_both = per_call(50, || {
        let scan = scan_html(black_box(&blob));
        black_box(judge(&scan.links, &policy));
    });
    println!(
        "  scan_html {:.2} ms, scan + judge {:.2} ms per call",
        t_scan / 1e3,
        t_both / 1e3
    );
}

#[test]
#[ignore = "timing; run in release with --no-capture"]
fn timing_blocklist_load() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpora/urls/");
    for name in [
        "phishing-domains-ACTIVE2.txt",
        "phishing-links-INACTIVE1.txt",
    ] {
        let path = format!("{dir}{name}");
        let Ok(text) = std::fs::read_to_string(&path) else {
            println!("skipped: {path}");
            continue;
        };
        let before = resident_kib();
        let start = Instant::now();
        let list = Blocklist::load([&path]).unwrap();
        let took = start.elapsed();
        let after = resident_kib();
        let stats = list.stats();
        println!(
            "{name}: {} lines, {} KB file, loaded in {:.1} ms; {} domains, {} urls, {} invalid, {} too broad; \
             {} KB of entries, resident +{} KB",
            text.lines().count(),
            text.len() / 1024,
            took.as_secs_f64() * 1e3,
            stats.domains,
            stats.urls,
            stats.invalid,
            stats.too_broad,
            stats.bytes / 1024,
            after.saturating_sub(before)
        );
        let set = list.snapshot();
        let links = rampart_urls::links_in_text(
            "https://login.example-kit.vercel.app/a https://phish.example.org/x",
        );
        let t = per_call(200_000, || {
            for link in &links {
                black_box(set.check(black_box(link)));
            }
        });
        println!("  lookup of 2 links: {:.0} ns", t * 1e3);
        let t = per_call(1_000_000, || {
            black_box(list.reload_if_changed().ok());
        });
        println!("  reload_if_changed between checks: {:.0} ns", t * 1e3);
    }
}
