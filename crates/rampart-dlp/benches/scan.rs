//! Scan throughput on ~10 MB of mixed Chinese/English business text with a realistic sprinkling
//! of numbers (target: 50 MB/s per core or more).
//! `cargo bench -p rampart-dlp --bench scan`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rampart_dlp::{bench_throughput, synthetic_business_text, Detectors, DlpConfig};

fn scan(c: &mut Criterion) {
    let text = synthetic_business_text(10 << 20, 20261127);
    let detectors = Detectors::new(&DlpConfig::default()).expect("default configuration");
    let mut group = c.benchmark_group("dlp");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(10);
    group.bench_function("scan_10MB_mixed", |b| {
        b.iter(|| black_box(detectors.scan(black_box(&text))).len())
    });
    group.finish();

    println!(
        "bench_throughput(10 MB): {:.0} MB/s",
        bench_throughput(10 << 20)
    );
}

criterion_group!(benches, scan);
criterion_main!(benches);
