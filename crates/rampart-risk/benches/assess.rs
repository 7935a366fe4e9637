//! Decisions per second of `assess` + `record` on an engine warmed with realistic profiles.
//! `cargo bench -p rampart-risk --bench assess`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rampart_risk::bench::{bench_decisions, warmed_engine};
use rampart_risk::EffectivePolicy;

fn assess_and_record(c: &mut Criterion) {
    let (mut engine, mut profiles, attempts) = warmed_engine(400, 60);
    let policy = EffectivePolicy::default();
    let span = attempts.last().map_or(0, |a| a.at_ms) - attempts.first().map_or(0, |a| a.at_ms) + 1;
    let mut i = 0usize;
    let mut group = c.benchmark_group("login");
    group.throughput(Throughput::Elements(1));
    group.bench_function("assess+record", |b| {
        b.iter(|| {
            let mut a = attempts[i % attempts.len()].clone();
            a.at_ms += span * (i / attempts.len()) as i64;
            i += 1;
            let p = profiles.entry(a.account.clone()).or_default();
            let d = engine.assess(black_box(&a), p, &policy, false);
            engine.record(&a, &d, p, true);
            black_box(d.score)
        })
    });
    group.finish();

    let r = bench_decisions(200_000);
    println!(
        "bench_decisions: {:.0} decisions/s, p50 {:.1} us, p99 {:.1} us",
        r.per_sec, r.p50_us, r.p99_us
    );
}

criterion_group!(benches, assess_and_record);
criterion_main!(benches);
