//! Sending control: one `check` per message on an engine warmed with two weeks of office mail.
//! `cargo bench -p rampart-risk --bench sending`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rampart_risk::sending::bench::{bench_sending, warmed_control};

fn check(c: &mut Criterion) {
    let (mut control, mut traffic) = warmed_control(1000);
    let work = traffic.messages(200_000);
    let span = work.last().map_or(0, |m| m.at_ms) - work.first().map_or(0, |m| m.at_ms) + 1;
    let mut i = 0usize;
    let mut group = c.benchmark_group("sending");
    group.throughput(Throughput::Elements(1));
    group.bench_function("check", |b| {
        b.iter(|| {
            let m = &work[i % work.len()];
            let at_ms = m.at_ms + span * (i / work.len()) as i64;
            i += 1;
            let d = control.check(black_box(&traffic.request(m)), at_ms);
            black_box(d.is_allowed())
        })
    });
    group.finish();

    let r = bench_sending(1000, 200_000);
    println!(
        "bench_sending: {} accounts, {} checks: {:.0} checks/s, p50 {:.0} ns, p99 {:.0} ns \
         ({} holds, {} defers)",
        r.accounts,
        r.checks,
        r.checks_per_sec,
        r.per_check_ns_p50,
        r.per_check_ns_p99,
        r.holds,
        r.defers
    );
}

criterion_group!(benches, check);
criterion_main!(benches);
