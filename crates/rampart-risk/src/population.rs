//! Global feature statistics over every account's trusted logins: how common each value is.
//! The model uses them to smooth a user's sparse history and as the attacker's distribution
//! (an attacker looks like a random login from anywhere).

use serde::{Deserialize, Serialize};

use crate::features::{kind_bits, Kind, Observation, KIND_COUNT};
use crate::util::FastMap;

/// Default bound on distinct values tracked (all features together).
pub const DEFAULT_POPULATION_CAP: usize = 2_000_000;

/// Counts of feature values over all successful, trusted logins of all users.
/// Serialize it to snapshot the state; memory is bounded by `cap` (counts are halved and zeros
/// dropped when it is exceeded, so rare old values go first).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Population {
    counts: FastMap<u64, u32>,
    kind_totals: Vec<u64>,
    hours: Vec<u64>,
    rtt: Vec<u64>,
    logins: u64,
    cap: usize,
}

impl Default for Population {
    fn default() -> Self {
        Population::with_cap(DEFAULT_POPULATION_CAP)
    }
}

impl Population {
    pub fn with_cap(cap: usize) -> Population {
        Population {
            counts: FastMap::default(),
            kind_totals: vec![0; KIND_COUNT],
            hours: vec![0; 24],
            rtt: vec![0; 64],
            logins: 0,
            cap: cap.max(1024),
        }
    }

    /// Trusted logins learned.
    pub fn logins(&self) -> u64 {
        self.logins
    }

    /// Distinct values tracked.
    pub fn tracked_values(&self) -> usize {
        self.counts.len()
    }

    pub(crate) fn count(&self, key: u64) -> u32 {
        self.counts.get(&key).copied().unwrap_or(0)
    }

    pub(crate) fn kind_total(&self, kind: Kind) -> u64 {
        self.kind_totals.get(kind as usize).copied().unwrap_or(0)
    }

    /// Share of logins at this UTC hour, smoothed with `prior` uniform pseudo-logins.
    pub(crate) fn hour_share(&self, hour: usize, prior: f64) -> f64 {
        let total: u64 = self.hours.iter().sum();
        let c = self.hours.get(hour).copied().unwrap_or(0) as f64;
        (c + prior / 24.0 + 0.1) / (total as f64 + prior + 2.4)
    }

    /// Share of logins in this round-trip-time bucket (kernel-smoothed like the user's),
    /// smoothed with `prior` uniform pseudo-logins.
    pub(crate) fn rtt_share(&self, bucket: usize, prior: f64) -> f64 {
        const KERNEL: [f64; 5] = [0.1, 0.2, 0.4, 0.2, 0.1];
        let total: u64 = self.rtt.iter().sum();
        let mut c = 0.0;
        for (i, w) in KERNEL.iter().enumerate() {
            let j = bucket as isize + i as isize - 2;
            if (0..64).contains(&j) {
                c += w * self.rtt[j as usize] as f64;
            }
        }
        (c + prior / 64.0 + 0.05) / (total as f64 + prior + 3.2)
    }

    pub(crate) fn learn(&mut self, obs: &Observation) {
        self.logins += 1;
        for key in obs.learn_keys() {
            let kind = kind_bits(key) as usize;
            if kind == Kind::HourOfWeek as usize {
                self.hours[usize::from(obs.hour_of_week) % 24] += 1;
                continue;
            }
            if kind == Kind::Rtt as usize {
                if let Some(b) = obs.rtt_bucket {
                    self.rtt[usize::from(b) % 64] += 1;
                }
                continue;
            }
            *self.counts.entry(key).or_insert(0) += 1;
            if let Some(t) = self.kind_totals.get_mut(kind) {
                *t += 1;
            }
        }
        if self.counts.len() > self.cap {
            self.decay();
        }
    }

    fn decay(&mut self) {
        self.counts.retain(|_, c| {
            *c /= 2;
            *c > 0
        });
        for t in &mut self.kind_totals {
            *t /= 2;
        }
        for h in self.hours.iter_mut().chain(self.rtt.iter_mut()) {
            *h /= 2;
        }
    }
}
