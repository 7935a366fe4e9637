//! A self-contained measurement of [`SendingControl::check`] (`rampart bench sending`): accounts
//! warmed with two weeks of office traffic, then the following days' messages timed one at a
//! time, hour closes and idle folds included.

use std::time::Instant;

use rampart_model::config::{SendLimits, SendingConfig};
use serde::Serialize;

use super::{SendDecision, SendRequest, SendingControl};
use crate::util::mix64;

/// 2024-01-01 00:00 UTC, a Monday.
const MONDAY_MS: i64 = 1_704_067_200_000;
const HOUR_MS: i64 = 3_600_000;
const WARM_WEEKS: i64 = 2;

/// Result of [`bench_sending`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SendingBench {
    pub accounts: usize,
    pub checks: usize,
    pub checks_per_sec: f64,
    pub per_check_ns_p50: f64,
    pub per_check_ns_p99: f64,
    /// Decisions other than allow during the timed checks (the workload is ordinary office
    /// mail, so these should be rare).
    pub holds: usize,
    pub defers: usize,
}

/// One message of the synthetic workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchMessage {
    /// Index into [`OfficeTraffic::accounts`].
    pub account: usize,
    pub recipients: u32,
    pub external_recipients: u32,
    pub at_ms: i64,
}

/// Seeded office traffic: each account sends a few messages an hour on weekdays 09–17 UTC
/// (its own rate, with noise) and now and then outside them.
#[derive(Debug, Clone)]
pub struct OfficeTraffic {
    pub accounts: Vec<String>,
    pub departments: Vec<String>,
    rates: Vec<f64>,
    state: u64,
    next_hour: i64,
}

impl OfficeTraffic {
    /// Traffic for `accounts` accounts from Monday 2024-01-01 00:00 UTC.
    pub fn new(accounts: usize, seed: u64) -> OfficeTraffic {
        let mut t = OfficeTraffic {
            accounts: (0..accounts)
                .map(|i| format!("user{i}@example.org"))
                .collect(),
            departments: (0..accounts).map(|i| format!("dept{}", i % 10)).collect(),
            rates: Vec::with_capacity(accounts),
            state: seed,
            next_hour: MONDAY_MS / HOUR_MS,
        };
        for _ in 0..accounts {
            let r = 1.0 + 7.0 * t.uniform();
            t.rates.push(r);
        }
        t
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.state)
    }

    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The next hour's messages, in time order.
    pub fn next_hour(&mut self) -> Vec<BenchMessage> {
        let hour = self.next_hour;
        self.next_hour += 1;
        let day = hour.div_euclid(24);
        let weekday = (day + 3).rem_euclid(7);
        let hour_of_day = hour.rem_euclid(24);
        let office = weekday < 5 && (9..17).contains(&hour_of_day);
        let mut out = Vec::new();
        for account in 0..self.accounts.len() {
            let rate = if office { self.rates[account] } else { 0.05 };
            let n = (rate * (0.5 + self.uniform()) + self.uniform() - 0.5)
                .round()
                .max(0.0) as u32;
            for _ in 0..n {
                let recipients = 1 + (self.next_u64() % 4) as u32;
                let external_recipients = (self.next_u64() % u64::from(recipients + 1)) as u32;
                let at_ms = hour * HOUR_MS + (self.next_u64() % HOUR_MS as u64) as i64;
                out.push(BenchMessage {
                    account,
                    recipients,
                    external_recipients,
                    at_ms,
                });
            }
        }
        out.sort_by_key(|m| m.at_ms);
        out
    }

    /// The next `n` messages (whole hours, then cut).
    pub fn messages(&mut self, n: usize) -> Vec<BenchMessage> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let hour = self.next_hour();
            if hour.is_empty() && self.accounts.is_empty() {
                break;
            }
            out.extend(hour);
        }
        out.truncate(n);
        out
    }

    /// A request for one message of this workload.
    pub fn request(&self, m: &BenchMessage) -> SendRequest<'_> {
        SendRequest {
            account: &self.accounts[m.account],
            department: Some(&self.departments[m.account]),
            level: None,
            recipients: m.recipients,
            external_recipients: m.external_recipients,
        }
    }
}

/// The benchmark's configuration: the defaults plus department layers to resolve.
pub fn bench_config() -> SendingConfig {
    let mut config = SendingConfig::default();
    for d in 0..10 {
        config.departments.insert(
            format!("dept{d}"),
            SendLimits {
                messages_per_hour: Some(200 + d),
                ..SendLimits::default()
            },
        );
    }
    config
}

/// An engine that has seen two weeks of [`OfficeTraffic`] for `accounts` accounts, and the
/// traffic generator positioned after them.
pub fn warmed_control(accounts: usize) -> (SendingControl, OfficeTraffic) {
    let mut traffic = OfficeTraffic::new(accounts, 7);
    let Ok(mut control) = SendingControl::new(&bench_config()) else {
        unreachable!("the benchmark configuration is valid");
    };
    for _ in 0..WARM_WEEKS * 168 {
        for m in traffic.next_hour() {
            control.check(&traffic.request(&m), m.at_ms);
        }
    }
    (control, traffic)
}

/// Times `messages` checks on an engine warmed with `accounts` accounts: checks per second and
/// the 50th/99th percentile latency of one check, in nanoseconds.
pub fn bench_sending(accounts: usize, messages: usize) -> SendingBench {
    let accounts = accounts.max(1);
    let (mut control, mut traffic) = warmed_control(accounts);
    let work = traffic.messages(messages);
    let mut latencies = Vec::with_capacity(work.len());
    let (mut holds, mut defers) = (0, 0);
    for m in &work {
        let req = traffic.request(m);
        let t = Instant::now();
        let d = control.check(&req, m.at_ms);
        latencies.push(t.elapsed().as_nanos() as f64);
        match d {
            SendDecision::Hold(_) => holds += 1,
            SendDecision::Defer(_) => defers += 1,
            _ => {}
        }
    }
    let total_ns: f64 = latencies.iter().sum();
    latencies.sort_by(f64::total_cmp);
    let q = |x: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * x) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    SendingBench {
        accounts,
        checks: work.len(),
        checks_per_sec: if total_ns > 0.0 {
            work.len() as f64 / total_ns * 1e9
        } else {
            0.0
        },
        per_check_ns_p50: q(0.5),
        per_check_ns_p99: q(0.99),
        holds,
        defers,
    }
}
