//! A self-contained throughput measurement (`rampart bench login`): a warmed engine with
//! realistic profiles from a synthetic log, then `assess` + `record` timed one decision at a time.

use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;

use crate::eval::LoginRecord;
use crate::synth::{generate, SynthConfig};
use crate::{EffectivePolicy, LoginAttempt, Profile, RiskConfig, RiskEngine};

/// Result of [`bench_decisions`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BenchResult {
    pub decisions: usize,
    pub per_sec: f64,
    pub p50_us: f64,
    pub p99_us: f64,
}

/// Builds the warmed engine and the attempts [`bench_decisions`] times (also used by the
/// criterion benchmark).
pub fn warmed_engine(
    users: usize,
    days: u32,
) -> (RiskEngine, HashMap<String, Profile>, Vec<LoginAttempt>) {
    let records = generate(&SynthConfig {
        users,
        days,
        seed: 7,
        ..SynthConfig::default()
    });
    let split = records.len() * 4 / 5;
    let mut engine = RiskEngine::new(RiskConfig::default());
    let policy = EffectivePolicy::default();
    let mut profiles: HashMap<String, Profile> = HashMap::new();
    for r in &records[..split] {
        let a = r.to_attempt();
        let p = profiles.entry(r.user_id.clone()).or_default();
        let d = engine.assess(&a, p, &policy, false);
        engine.record(&a, &d, p, !r.takeover);
    }
    let rest = records[split..]
        .iter()
        .map(LoginRecord::to_attempt)
        .collect();
    (engine, profiles, rest)
}

/// Times `n` decisions (`assess` + `record`) on a warmed engine: decisions per second and the
/// 50th/99th percentile latency of one decision, in microseconds.
pub fn bench_decisions(n: usize) -> BenchResult {
    let (mut engine, mut profiles, attempts) = warmed_engine(400, 60);
    let policy = EffectivePolicy::default();
    let span = attempts.last().map_or(0, |a| a.at_ms) - attempts.first().map_or(0, |a| a.at_ms) + 1;
    let mut lat = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        let mut a = attempts[i % attempts.len()].clone();
        a.at_ms += span * (i / attempts.len()) as i64;
        let p = profiles.entry(a.account.clone()).or_default();
        let t = Instant::now();
        let d = engine.assess(&a, p, &policy, false);
        engine.record(&a, &d, p, true);
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let total = start.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let q = |x: f64| {
        lat.get(((lat.len() as f64 - 1.0) * x) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    BenchResult {
        decisions: n,
        per_sec: if total > 0.0 {
            n as f64 / lat.iter().sum::<f64>() * 1e6
        } else {
            0.0
        },
        p50_us: q(0.5),
        p99_us: q(0.99),
    }
}
