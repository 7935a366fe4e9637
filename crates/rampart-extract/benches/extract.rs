//! Extraction throughput on generated text-dense documents (1 MB each under criterion), then one
//! timed 10 MB run per kind. `cargo bench -p rampart-extract --bench extract`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rampart_extract::bench::{bench_extract, bench_limits, build};
use rampart_extract::extract;

fn extraction(c: &mut Criterion) {
    let mb = 1024 * 1024;
    let documents = [
        ("docx", "a.docx", build::sample_docx(mb)),
        ("xlsx", "a.xlsx", build::sample_xlsx(mb)),
        ("pdf", "a.pdf", build::sample_pdf(mb)),
    ];
    let limits = bench_limits();
    let mut group = c.benchmark_group("extract");
    group.sample_size(10);
    for (kind, name, doc) in &documents {
        group.throughput(Throughput::Bytes(doc.len() as u64));
        group.bench_function(*kind, |b| {
            b.iter(|| black_box(extract(black_box(doc), Some(name), &limits)))
        });
    }
    group.finish();

    for kind in ["docx", "pdf", "xlsx"] {
        let r = bench_extract(kind, 10);
        println!(
            "bench_extract({kind}, 10): {} bytes in {:.0} ms, {} bytes of text, {} problems",
            r.bytes, r.millis, r.text_bytes, r.problems
        );
    }
}

criterion_group!(benches, extraction);
criterion_main!(benches);
