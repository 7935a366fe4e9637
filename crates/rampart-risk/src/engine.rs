//! The login risk engine: hard rules (blocks, admin policy, failure counters) and the statistical
//! score, combined into one [`RiskDecision`] per attempt.

use std::net::IpAddr;

use ipnet::IpNet;
use rampart_model::Protocol;
use serde::{Deserialize, Serialize};

use crate::config::RiskConfig;
use crate::decision::{Decision, Reason, RiskDecision};
use crate::features::{kind_bits, Kind, Observation, Parts};
use crate::geo::Geo;
use crate::policy::EffectivePolicy;
use crate::population::Population;
use crate::profile::Profile;
use crate::util::{combine, haversine_km, FastMap, NetMap};

/// One login attempt as the protocol front ends see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginAttempt {
    pub account: String,
    pub protocol: Protocol,
    pub ip: IpAddr,
    pub user_agent: Option<String>,
    /// A stable client identifier (cookie, app instance id), when the client has one.
    pub device_id: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// Whether the password (or app password) was right.
    pub credential_ok: bool,
    /// Where the IP is (from [`crate::GeoDb::lookup`]).
    pub geo: Geo,
    /// Round-trip time measured by the server, when known.
    pub rtt_ms: Option<f64>,
}

impl LoginAttempt {
    pub(crate) fn observe(&self) -> Observation {
        Observation::from_parts(&Parts {
            account: &self.account,
            ip: self.ip,
            country: self.geo.country.as_deref(),
            region: self.geo.region.as_deref(),
            city: self.geo.city.as_deref(),
            asn: self.geo.asn,
            user_agent: self.user_agent.as_deref(),
            browser: None,
            os: None,
            device_type: None,
            device_id: self.device_id.as_deref(),
            protocol: self.protocol,
            at_ms: self.at_ms,
            rtt_ms: self.rtt_ms,
            location: self.geo.location,
            credential_ok: self.credential_ok,
        })
    }
}

/// A blocked source network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Block {
    pub net: IpNet,
    /// When the block ends (ms since the epoch); `None` = until unblocked.
    pub until_ms: Option<i64>,
    pub reason: String,
    /// Set by the engine (failure limits, spray) rather than by an admin.
    pub automatic: bool,
}

impl Block {
    fn active(&self, at_ms: i64) -> bool {
        self.until_ms.is_none_or(|u| at_ms < u)
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct PairState {
    failures: u32,
    last_ms: i64,
    locked_until: i64,
}

/// A two-bucket sliding window counter: constant memory per source.
#[derive(Debug, Clone, Copy, Default)]
struct Sliding {
    start: i64,
    cur: u32,
    prev: u32,
}

impl Sliding {
    fn rolled(mut self, at: i64, w: i64) -> Sliding {
        if self.cur == 0 && self.prev == 0 {
            self.start = at;
        } else if at >= self.start + w {
            let k = (at - self.start) / w;
            self.prev = if k == 1 { self.cur } else { 0 };
            self.cur = 0;
            self.start += k * w;
        }
        self
    }

    fn estimate(self, at: i64, w: i64) -> f64 {
        let s = self.rolled(at, w);
        let frac = ((at - s.start) as f64 / w as f64).clamp(0.0, 1.0);
        f64::from(s.prev) * (1.0 - frac) + f64::from(s.cur)
    }

    fn add(&mut self, at: i64, w: i64) {
        *self = self.rolled(at, w);
        self.cur = self.cur.saturating_add(1);
    }
}

/// Distinct accounts recently failing from one source (bounded).
#[derive(Debug, Clone, Default)]
struct SpraySet {
    accounts: Vec<(u64, i64)>,
}

const SPRAY_SET_CAP: usize = 128;
const ACCOUNT_FAILS_CAP: usize = 8;
const ACCOUNT_FAILS_WINDOW_MS: i64 = 24 * 3_600_000;
const SWEEP_EVERY: u64 = 4096;

impl SpraySet {
    fn distinct(&self, at: i64, w: i64, with: Option<u64>) -> u32 {
        let mut n = 0;
        let mut has = false;
        for (a, t) in &self.accounts {
            if at - t < w {
                n += 1;
                has |= Some(*a) == with;
            }
        }
        n + u32::from(with.is_some() && !has)
    }

    fn add(&mut self, account: u64, at: i64, w: i64) {
        self.accounts.retain(|(_, t)| at - t < w);
        if let Some(e) = self.accounts.iter_mut().find(|(a, _)| *a == account) {
            e.1 = at;
        } else {
            if self.accounts.len() >= SPRAY_SET_CAP {
                self.accounts.remove(0);
            }
            self.accounts.push((account, at));
        }
    }

    fn last(&self) -> i64 {
        self.accounts.iter().map(|x| x.1).max().unwrap_or(i64::MIN)
    }
}

/// Judges login attempts. Holds only global state (population statistics, failure counters,
/// blocks, threat lists); per-account history is the caller's [`Profile`].
#[derive(Debug)]
pub struct RiskEngine {
    cfg: RiskConfig,
    population: Population,
    threats: NetMap<()>,
    blocks: NetMap<Block>,
    pairs: FastMap<u64, PairState>,
    ip_failures: FastMap<u64, Sliding>,
    subnet_failures: FastMap<u64, Sliding>,
    spray_ip: FastMap<u64, SpraySet>,
    spray_subnet: FastMap<u64, SpraySet>,
    account_failures: FastMap<u64, Vec<(u64, i64)>>,
    now_ms: i64,
    records: u64,
}

fn ms(x: u64) -> i64 {
    i64::try_from(x).unwrap_or(i64::MAX / 4)
}

/// Names of each level of the three feature chains, for reasons.
const GEO_CODES: [(&str, &str); 3] = [
    ("new_country", "country"),
    ("new_region", "region"),
    ("new_city", "city"),
];
const NET_CODES: [(&str, &str); 3] = [
    ("new_asn", "network (ASN)"),
    ("new_subnet", "subnet"),
    ("new_ip", "IP address"),
];
const UA_CODES: [(&str, &str); 6] = [
    ("new_device", "device type"),
    ("new_device", "operating system"),
    ("new_device", "operating system version"),
    ("new_device", "browser or client"),
    ("new_browser_version", "browser version"),
    ("new_user_agent", "user agent"),
];

struct Scored {
    /// Log-likelihood ratio of the statistical model (novelty).
    llr: f64,
    /// Rules that are not about novelty (threat lists, impossible travel, failures).
    rules: f64,
    /// Novelty rules (dormant account) counted with the model.
    novelty_rules: f64,
    reasons: Vec<Reason>,
}

impl RiskEngine {
    pub fn new(cfg: RiskConfig) -> RiskEngine {
        RiskEngine {
            cfg,
            population: Population::default(),
            threats: NetMap::default(),
            blocks: NetMap::default(),
            pairs: FastMap::default(),
            ip_failures: FastMap::default(),
            subnet_failures: FastMap::default(),
            spray_ip: FastMap::default(),
            spray_subnet: FastMap::default(),
            account_failures: FastMap::default(),
            now_ms: i64::MIN,
            records: 0,
        }
    }

    pub fn config(&self) -> &RiskConfig {
        &self.cfg
    }

    pub fn population(&self) -> &Population {
        &self.population
    }

    /// Replaces the global statistics (restoring a snapshot).
    pub fn set_population(&mut self, population: Population) {
        self.population = population;
    }

    /// Replaces the threat list (known attacker addresses and networks).
    pub fn set_threat_ips(&mut self, nets: impl IntoIterator<Item = IpNet>) {
        self.threats.clear();
        self.add_threat_ips(nets);
    }

    pub fn add_threat_ips(&mut self, nets: impl IntoIterator<Item = IpNet>) {
        for n in nets {
            self.threats.insert(n, ());
        }
    }

    pub fn is_threat_ip(&self, ip: IpAddr) -> bool {
        self.threats.lookup(ip).is_some()
    }

    /// Blocks a network (until `until_ms`, or until unblocked).
    pub fn block(&mut self, net: IpNet, until_ms: Option<i64>, reason: impl Into<String>) {
        let net = net.trunc();
        self.blocks.insert(
            net,
            Block {
                net,
                until_ms,
                reason: reason.into(),
                automatic: false,
            },
        );
    }

    /// Lifts a block; returns whether there was one for exactly this network.
    pub fn unblock(&mut self, net: IpNet) -> bool {
        self.blocks.remove(net).is_some()
    }

    /// Replaces every block with `blocks` (`net`, until, reason): the store is the truth the
    /// server re-reads, so blocks an admin lifted go and blocks added elsewhere arrive.
    pub fn replace_blocks(
        &mut self,
        blocks: impl IntoIterator<Item = (IpNet, Option<i64>, String)>,
    ) {
        self.blocks.clear();
        for (net, until_ms, reason) in blocks {
            self.block(net, until_ms, reason);
        }
    }

    /// The refusal an attempt gets before its credential is even checked: a blocked source, or
    /// an account+address pair that is locked. `None` means go on and check the password. This
    /// keeps a locked or blocked attacker from costing a password hash per guess.
    pub fn precheck(&mut self, attempt: &LoginAttempt) -> Option<RiskDecision> {
        let obs = attempt.observe();
        let at = obs.at_ms;
        self.now_ms = self.now_ms.max(at);
        if let Some((net, b)) = self.blocks.find(obs.ip, |b| b.active(at)) {
            return Some(RiskDecision {
                action: Decision::BlockSource,
                score: self.cfg.deny_score,
                reasons: vec![Reason::new(
                    "source_blocked",
                    format!("{net} is blocked: {}", b.reason),
                    0.0,
                )],
                delay_ms: 0,
                retry_after_ms: b.until_ms.map(|u| (u - at).max(0) as u64),
            });
        }
        let pair = self.pair_state(&obs);
        (pair.locked_until > at).then(|| RiskDecision {
            action: Decision::Deny,
            score: self.cfg.deny_score,
            reasons: vec![Reason::new(
                "account_ip_locked",
                "too many failures for this account from this address; wait for the lock to end \
                 (other addresses are not affected)",
                0.0,
            )],
            delay_ms: 0,
            retry_after_ms: Some((pair.locked_until - at) as u64),
        })
    }

    /// Blocks in force (as of the latest attempt seen).
    pub fn blocks(&self) -> Vec<Block> {
        let now = self.now_ms;
        let mut v: Vec<Block> = self
            .blocks
            .iter()
            .map(|(_, b)| b.clone())
            .filter(|b| b.active(now))
            .collect();
        v.sort_by_key(|b| b.net);
        v
    }

    fn auto_block(&mut self, net: IpNet, at: i64, dur_ms: u64, reason: String) {
        let net = net.trunc();
        let until = at.saturating_add(ms(dur_ms));
        if let Some(b) = self.blocks.get_exact(net) {
            if !b.automatic || b.until_ms.is_none_or(|u| u >= until) {
                return;
            }
        }
        self.blocks.insert(
            net,
            Block {
                net,
                until_ms: Some(until),
                reason,
                automatic: true,
            },
        );
    }

    /// Judges one attempt. `trusted`: the device or IP was approved by the user recently, so
    /// nothing score-based challenges (blocks, locks, admin deny rules, and rule weights such as
    /// threat lists reaching the deny score still apply).
    pub fn assess(
        &mut self,
        attempt: &LoginAttempt,
        profile: &Profile,
        policy: &EffectivePolicy,
        trusted: bool,
    ) -> RiskDecision {
        let obs = attempt.observe();
        self.assess_observation(
            &obs,
            attempt.device_id.as_deref(),
            attempt.geo.country.as_deref(),
            profile,
            policy,
            trusted,
        )
    }

    /// Updates counters and, for a successful login that was allowed (or challenged and then
    /// `verified`), learns it into `profile` and the population.
    pub fn record(
        &mut self,
        attempt: &LoginAttempt,
        decision: &RiskDecision,
        profile: &mut Profile,
        verified: bool,
    ) {
        let obs = attempt.observe();
        self.record_observation(&obs, decision, profile, verified);
    }

    fn pair_key(obs: &Observation) -> u64 {
        combine(obs.account, obs.ip_hash)
    }

    fn pair_state(&self, obs: &Observation) -> PairState {
        let p = self
            .pairs
            .get(&Self::pair_key(obs))
            .copied()
            .unwrap_or_default();
        let at = obs.at_ms;
        if p.locked_until > at || at - p.last_ms < ms(self.cfg.failure_memory_ms) {
            p
        } else {
            PairState::default()
        }
    }

    /// Progressive delay for the `n`-th consecutive failure.
    pub fn delay_for_failure(&self, n: u32) -> u64 {
        if n <= self.cfg.free_failures {
            return 0;
        }
        let doublings = (n - self.cfg.free_failures - 1).min(40);
        self.cfg
            .base_delay_ms
            .saturating_mul(1u64 << doublings)
            .min(self.cfg.max_delay_ms)
    }

    pub(crate) fn assess_observation(
        &mut self,
        obs: &Observation,
        device_id: Option<&str>,
        country: Option<&str>,
        profile: &Profile,
        policy: &EffectivePolicy,
        trusted: bool,
    ) -> RiskDecision {
        let at = obs.at_ms;
        self.now_ms = self.now_ms.max(at);

        if let Some((net, b)) = self.blocks.find(obs.ip, |b| b.active(at)) {
            let retry = b.until_ms.map(|u| (u - at).max(0) as u64);
            let scored = self.score(obs, profile);
            let score = scored.llr + scored.novelty_rules + scored.rules;
            return RiskDecision {
                action: Decision::BlockSource,
                // A blocked source is at least as risky as what gets refused.
                score: score.max(self.cfg.deny_score),
                reasons: vec![Reason::new(
                    "source_blocked",
                    format!("{net} is blocked: {}", b.reason),
                    0.0,
                )],
                delay_ms: 0,
                retry_after_ms: retry,
            };
        }

        let (mut hard, policy_challenges) = policy.denials(obs.ip, country, at, device_id, profile);
        let scored = self.score(obs, profile);
        let pair = self.pair_state(obs);
        let locked = pair.locked_until > at;
        let mut retry_after_ms = None;
        let mut delay_ms = 0;
        let mut action;
        let score = scored.llr + scored.novelty_rules + scored.rules;

        if !obs.credential_ok {
            let n = pair.failures + 1;
            delay_ms = self.delay_for_failure(n);
            action = Decision::Deny;
            if locked {
                retry_after_ms = Some((pair.locked_until - at) as u64);
                hard.push(Reason::new(
                    "account_ip_locked",
                    "too many failures for this account from this address; wait for the lock \
                     to end (other addresses are not affected)",
                    0.0,
                ));
            } else if n >= self.cfg.lock_after_failures {
                retry_after_ms = Some(self.cfg.lock_ms);
                hard.push(Reason::new(
                    "account_ip_locked",
                    format!(
                        "failure {n} for this account from this address locks the pair for {} min",
                        self.cfg.lock_ms / 60_000
                    ),
                    0.0,
                ));
            } else {
                hard.push(Reason::new(
                    "credential_failed",
                    format!(
                        "wrong credential (failure {n} of {} before this address is locked out \
                         of the account)",
                        self.cfg.lock_after_failures
                    ),
                    0.0,
                ));
            }
            if delay_ms > 0 {
                hard.push(Reason::new(
                    "progressive_delay",
                    format!("answer delayed {delay_ms} ms"),
                    0.0,
                ));
            }
            for r in self.source_limits(obs) {
                action = Decision::BlockSource;
                hard.push(r);
            }
            if action == Decision::BlockSource {
                let spray = hard.iter().any(|r| r.code == "password_spray");
                let block = if spray {
                    self.cfg.spray_block_ms
                } else {
                    self.cfg.source_block_ms
                };
                retry_after_ms = Some(block);
            }
        } else if locked {
            action = Decision::Deny;
            retry_after_ms = Some((pair.locked_until - at) as u64);
            hard.push(Reason::new(
                "account_ip_locked",
                "this address is locked out of the account after repeated failures",
                0.0,
            ));
        } else if !hard.is_empty() {
            action = Decision::Deny;
        } else {
            let effective = if trusted { scored.rules } else { score };
            let history = f64::from(profile.total()) / self.cfg.model.full_history.max(1e-9);
            let challenge_at =
                self.cfg.challenge_score + self.cfg.cold_start_margin * (1.0 - history.min(1.0));
            action = if effective >= self.cfg.block_score {
                Decision::BlockSource
            } else if effective >= self.cfg.deny_score {
                Decision::Deny
            } else if effective > challenge_at && !trusted {
                Decision::Challenge
            } else {
                Decision::Allow
            };
            if !trusted && action == Decision::Allow && !policy_challenges.is_empty() {
                action = Decision::Challenge;
            }
        }
        if !trusted {
            hard.extend(policy_challenges);
        }
        hard.extend(scored.reasons);
        RiskDecision {
            action,
            score,
            reasons: hard,
            delay_ms,
            retry_after_ms,
        }
    }

    /// Reasons this failure trips a source limit (counting the failure itself).
    fn source_limits(&self, obs: &Observation) -> Vec<Reason> {
        let at = obs.at_ms;
        let c = &self.cfg;
        let w = ms(c.source_window_ms);
        let sw = ms(c.spray_window_ms);
        let mut out = Vec::new();
        let ip_n = self
            .ip_failures
            .get(&obs.ip_hash)
            .map_or(0.0, |s| s.estimate(at, w))
            + 1.0;
        if ip_n >= f64::from(c.ip_failure_limit) {
            out.push(Reason::new(
                "ip_failure_limit",
                format!(
                    "{} failures from {} within {} min",
                    ip_n.round(),
                    obs.ip,
                    c.source_window_ms / 60_000
                ),
                0.0,
            ));
        }
        let net_n = self
            .subnet_failures
            .get(&obs.subnet_hash)
            .map_or(0.0, |s| s.estimate(at, w))
            + 1.0;
        if net_n >= f64::from(c.subnet_failure_limit) {
            out.push(Reason::new(
                "subnet_failure_limit",
                format!(
                    "{} failures from {} within {} min",
                    net_n.round(),
                    obs.subnet,
                    c.source_window_ms / 60_000
                ),
                0.0,
            ));
        }
        let spray_ip = self
            .spray_ip
            .get(&obs.ip_hash)
            .map_or(1, |s| s.distinct(at, sw, Some(obs.account)));
        let spray_net = self
            .spray_subnet
            .get(&obs.subnet_hash)
            .map_or(1, |s| s.distinct(at, sw, Some(obs.account)));
        if spray_ip >= c.spray_accounts_ip {
            out.push(Reason::new(
                "password_spray",
                format!("{} failed on {spray_ip} different accounts", obs.ip),
                0.0,
            ));
        } else if spray_net >= c.spray_accounts_subnet {
            out.push(Reason::new(
                "password_spray",
                format!("{} failed on {spray_net} different accounts", obs.subnet),
                0.0,
            ));
        }
        out
    }

    pub(crate) fn record_observation(
        &mut self,
        obs: &Observation,
        decision: &RiskDecision,
        profile: &mut Profile,
        verified: bool,
    ) {
        let at = obs.at_ms;
        self.now_ms = self.now_ms.max(at);
        self.records += 1;
        if !obs.credential_ok {
            self.record_failure(obs);
        } else {
            let learn = match decision.action {
                Decision::Allow => true,
                Decision::Challenge => verified,
                Decision::Deny | Decision::BlockSource => false,
            };
            if learn {
                self.pairs.remove(&Self::pair_key(obs));
                profile.learn(obs);
                self.population.learn(obs);
            }
        }
        if !obs.credential_ok {
            self.block_failing_source(obs);
        } else if decision.action == Decision::BlockSource && !decision.has("source_blocked") {
            let why = format!("risk score {:.1} on a successful login", decision.score);
            self.auto_block(IpNet::from(obs.ip), at, self.cfg.source_block_ms, why);
        }
        if self.records.is_multiple_of(SWEEP_EVERY) {
            self.sweep();
        }
    }

    /// After a failure was counted: blocks the IP or its network if a limit is now reached.
    fn block_failing_source(&mut self, obs: &Observation) {
        let at = obs.at_ms;
        let c = self.cfg.clone();
        let w = ms(c.source_window_ms);
        let sw = ms(c.spray_window_ms);
        let ip_n = self
            .ip_failures
            .get(&obs.ip_hash)
            .map_or(0.0, |s| s.estimate(at, w));
        let net_n = self
            .subnet_failures
            .get(&obs.subnet_hash)
            .map_or(0.0, |s| s.estimate(at, w));
        let spray_ip = self
            .spray_ip
            .get(&obs.ip_hash)
            .map_or(0, |s| s.distinct(at, sw, None));
        let spray_net = self
            .spray_subnet
            .get(&obs.subnet_hash)
            .map_or(0, |s| s.distinct(at, sw, None));
        let ip = IpNet::from(obs.ip);
        let (source_block, spray_block) = (c.source_block_ms, c.spray_block_ms);
        if spray_ip >= c.spray_accounts_ip {
            let why = format!("password spray: failed on {spray_ip} accounts");
            self.auto_block(ip, at, spray_block, why);
        } else if ip_n >= f64::from(c.ip_failure_limit) {
            let why = format!("{} failed logins", ip_n.round());
            self.auto_block(ip, at, source_block, why);
        }
        if spray_net >= c.spray_accounts_subnet {
            let why = format!("password spray: failed on {spray_net} accounts");
            self.auto_block(obs.subnet, at, spray_block, why);
        } else if net_n >= f64::from(c.subnet_failure_limit) {
            let why = format!("{} failed logins", net_n.round());
            self.auto_block(obs.subnet, at, source_block, why);
        }
    }

    fn record_failure(&mut self, obs: &Observation) {
        let at = obs.at_ms;
        let mut p = self.pair_state(obs);
        if p.locked_until <= at {
            p.failures += 1;
            if p.failures >= self.cfg.lock_after_failures {
                p.locked_until = at + ms(self.cfg.lock_ms);
            }
        }
        p.last_ms = at;
        self.pairs.insert(Self::pair_key(obs), p);

        let w = ms(self.cfg.source_window_ms);
        let sw = ms(self.cfg.spray_window_ms);
        self.ip_failures.entry(obs.ip_hash).or_default().add(at, w);
        self.subnet_failures
            .entry(obs.subnet_hash)
            .or_default()
            .add(at, w);
        self.spray_ip
            .entry(obs.ip_hash)
            .or_default()
            .add(obs.account, at, sw);
        self.spray_subnet
            .entry(obs.subnet_hash)
            .or_default()
            .add(obs.account, at, sw);
        let fails = self.account_failures.entry(obs.account).or_default();
        fails.retain(|(_, t)| at - t < ACCOUNT_FAILS_WINDOW_MS);
        if fails.len() >= ACCOUNT_FAILS_CAP {
            fails.remove(0);
        }
        fails.push((obs.ip_hash, at));
    }

    /// Drops expired counters and, past `max_tracked_sources`, the least recently active half.
    fn sweep(&mut self) {
        let now = self.now_ms;
        let c = &self.cfg;
        let memory = ms(c.failure_memory_ms);
        let w = ms(c.source_window_ms);
        let sw = ms(c.spray_window_ms);
        let cap = c.max_tracked_sources.max(1024);
        self.pairs
            .retain(|_, p| p.locked_until > now || now - p.last_ms < memory);
        self.ip_failures.retain(|_, s| now - s.start < 2 * w);
        self.subnet_failures.retain(|_, s| now - s.start < 2 * w);
        for m in [&mut self.spray_ip, &mut self.spray_subnet] {
            m.retain(|_, s| {
                s.accounts.retain(|(_, t)| now - t < sw);
                !s.accounts.is_empty()
            });
        }
        self.account_failures.retain(|_, v| {
            v.retain(|(_, t)| now - t < ACCOUNT_FAILS_WINDOW_MS);
            !v.is_empty()
        });
        self.blocks.retain(|_, b| b.active(now) || !b.automatic);

        shrink(&mut self.pairs, cap, |p| p.last_ms.max(p.locked_until));
        shrink(&mut self.ip_failures, cap, |s| s.start);
        shrink(&mut self.subnet_failures, cap, |s| s.start);
        shrink(&mut self.spray_ip, cap, SpraySet::last);
        shrink(&mut self.spray_subnet, cap, SpraySet::last);
        shrink(&mut self.account_failures, cap, |v| {
            v.iter().map(|x| x.1).max().unwrap_or(i64::MIN)
        });
    }

    fn score(&self, obs: &Observation, profile: &Profile) -> Scored {
        let m = &self.cfg.model;
        let c = &self.cfg;
        let hist = f64::from(profile.total());
        let mut reasons: Vec<Reason> = Vec::new();
        let mut llr = 0.0;
        let has_history = profile.logins() > 0;

        let mut add_chain = |levels: &[Option<u64>],
                             weight: f64,
                             mimicry: &[f64],
                             codes: &[(&str, &str)],
                             label: &str| {
            let (v, unseen) = self.chain_llr(profile, levels, mimicry);
            let v = weight * v;
            if has_history && v > 0.3 {
                if let Some(i) = unseen {
                    let (code, what) = codes[i];
                    reasons.push(Reason::new(
                        code,
                        format!("first login from this {what}{label}"),
                        v,
                    ));
                }
            }
            llr += v;
        };
        add_chain(&obs.geo, m.geo_weight, &m.geo_mimicry, &GEO_CODES, "");
        add_chain(
            &obs.net,
            m.network_weight,
            &m.network_mimicry,
            &NET_CODES,
            "",
        );
        add_chain(&obs.ua, m.agent_weight, &m.agent_mimicry, &UA_CODES, "");
        let device = [("new_device", "device")];
        let dm = [1.0 - m.device_id_mimicry, m.device_id_mimicry];
        add_chain(
            &[obs.device],
            m.device_id_weight,
            &dm,
            &device,
            " (device id)",
        );
        let protocol = [("new_protocol", "protocol")];
        add_chain(
            &[Some(obs.protocol)],
            m.protocol_weight,
            &[0.7, 0.3],
            &protocol,
            "",
        );

        let hour = mimic(self.hour_llr(obs, profile), m.hour_mimicry) * m.hour_weight;
        llr += hour;
        if has_history && hour > 1.0 {
            reasons.push(Reason::new(
                "unusual_hour",
                format!(
                    "{:02}:00 UTC is an unusual hour for this account",
                    obs.hour_of_week % 24
                ),
                hour,
            ));
        }
        let rtt = mimic(self.rtt_llr(obs, profile), m.rtt_mimicry) * m.rtt_weight;
        llr += rtt;
        if has_history && rtt > 1.0 {
            reasons.push(Reason::new(
                "unusual_rtt",
                "unusual network round-trip time",
                rtt,
            ));
        }
        // Cold start: a short history says little, so it counts less.
        let confidence = (hist / m.full_history.max(1e-9)).min(1.0);
        llr *= confidence;
        for r in &mut reasons {
            r.weight *= confidence;
        }

        let mut rules = 0.0;
        let mut novelty_rules = 0.0;
        if self.is_threat_ip(obs.ip) {
            rules += c.threat_weight;
            reasons.push(Reason::new(
                "threat_ip",
                format!("{} is on a threat list", obs.ip),
                c.threat_weight,
            ));
        }
        if let (Some(last_ms), Some(from), Some(to)) = (
            profile.last_login_ms(),
            profile.last_location(),
            obs.location,
        ) {
            let km = haversine_km(from, to);
            let hours = ((obs.at_ms - last_ms) as f64 / 3_600_000.0).max(1.0 / 60.0);
            if obs.at_ms >= last_ms && km >= c.min_travel_km && km / hours > c.max_travel_kmh {
                rules += c.travel_weight;
                reasons.push(Reason::new(
                    "impossible_travel",
                    format!(
                        "{km:.0} km from the last login {:.1} h ago ({:.0} km/h)",
                        hours,
                        km / hours
                    ),
                    c.travel_weight,
                ));
            }
        }
        if let Some(last_ms) = profile.last_login_ms() {
            let days = (obs.at_ms - last_ms) / 86_400_000;
            if days >= i64::from(c.dormant_days) {
                novelty_rules += c.dormant_weight;
                reasons.push(Reason::new(
                    "dormant_account",
                    format!("no trusted login for {days} days"),
                    c.dormant_weight,
                ));
            }
        }
        if let Some(fails) = self.account_failures.get(&obs.account) {
            let n = fails
                .iter()
                .filter(|(ip, t)| *ip != obs.ip_hash && obs.at_ms - t < ACCOUNT_FAILS_WINDOW_MS)
                .count();
            if n > 0 {
                let w = c.account_failures_weight * (1.0 + n as f64).ln();
                rules += w;
                reasons.push(Reason::new(
                    "recent_failures",
                    format!("{n} recent failed logins to this account from other addresses"),
                    w,
                ));
            }
        }
        if let Some(s) = self.spray_ip.get(&obs.ip_hash) {
            let sw = ms(c.spray_window_ms);
            let n = s
                .accounts
                .iter()
                .filter(|(a, t)| *a != obs.account && obs.at_ms - t < sw)
                .count() as u32;
            if n >= 2 {
                let w = c.failing_source_weight * (1.0 + f64::from(n)).ln();
                rules += w;
                reasons.push(Reason::new(
                    "failing_source",
                    format!("{} recently failed on {n} other accounts", obs.ip),
                    w,
                ));
            }
        }
        reasons.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        Scored {
            llr,
            rules,
            novelty_rules,
            reasons,
        }
    }

    /// Log p(x | attacker) / p(x | user) along one hierarchy (coarse to fine).
    ///
    /// Per level, the user's conditional frequency is smoothed toward the population's
    /// (Witten-Bell: the more distinct values the user already has below the parent, the less a
    /// new one surprises), and the attacker draws from the population, rare values a little
    /// likelier. Attackers may copy the user's values down to some level (`mimicry` priors by
    /// depth), so the ratio is a mixture over those depths. Returns the ratio and the first level
    /// the user has never used.
    fn chain_llr(
        &self,
        profile: &Profile,
        levels: &[Option<u64>],
        mimicry: &[f64],
    ) -> (f64, Option<usize>) {
        let m = &self.cfg.model;
        let pop = &self.population;
        let mut level_llr = [0.0f64; 8];
        // (user count, population count, distinct values the user has below it) of the parent.
        let mut parent: Option<(f64, f64, f64)> = None;
        let mut unseen = None;
        for (i, key) in levels.iter().enumerate().take(level_llr.len()) {
            let Some(key) = *key else { continue };
            let Some(kind) = Kind::from_u8(kind_bits(key)) else {
                continue;
            };
            let (n_parent, pop_parent, distinct) = parent.unwrap_or_else(|| {
                (
                    f64::from(profile.kind_total(kind)),
                    pop.kind_total(kind) as f64,
                    profile.distinct(kind) as f64,
                )
            });
            if n_parent <= 0.0 {
                break;
            }
            let entry = profile.get(key);
            let c_u = f64::from(entry.map_or(0, |e| e.count));
            let c_pop = f64::from(pop.count(key));
            let world = m.world_prior_logins.max(0.0);
            let p_pop = ((c_pop + world * kind.world_share() + 0.01) / (pop_parent + world + 0.02))
                .min(1.0);
            let distinct = distinct.max(1.0);
            let lambda = n_parent / (n_parent + m.smoothing * distinct);
            let p_user = lambda * (c_u / n_parent).min(1.0) + (1.0 - lambda) * p_pop;
            let p_attacker = (p_pop * (1.0 + m.rarity_boost / (1.0 + c_pop))).min(1.0);
            level_llr[i] = (p_attacker / p_user).ln();
            if c_u == 0.0 {
                unseen = Some(i);
                break;
            }
            parent = Some((c_u, c_pop, f64::from(entry.map_or(0, |e| e.children))));
        }
        // Mixture over copy depths d: attackers copying levels < d contribute e^(sum of the
        // ratios of levels >= d).
        let n = levels.len().min(level_llr.len());
        let total: f64 = mimicry.iter().take(n + 1).sum();
        let mut suffix = 0.0;
        let mut terms = [f64::NEG_INFINITY; 9];
        for d in (0..=n).rev() {
            if d < n {
                suffix += level_llr[d];
            }
            let prior = mimicry.get(d).copied().unwrap_or(0.0) / total.max(1e-12);
            if prior > 0.0 {
                terms[d] = prior.ln() + suffix;
            }
        }
        let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let llr = if max.is_finite() {
            max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
        } else {
            suffix
        };
        (llr.clamp(-m.max_chain_llr, m.max_chain_llr), unseen)
    }

    fn hour_llr(&self, obs: &Observation, profile: &Profile) -> f64 {
        let m = &self.cfg.model;
        let hours = profile.hours_of_day();
        let n: f64 = hours.iter().map(|&c| f64::from(c)).sum();
        if n <= 0.0 {
            return 0.0;
        }
        let h = usize::from(obs.hour_of_week % 24);
        let at = |d: usize| f64::from(hours[(h + d) % 24]);
        let k = 0.5 * at(0) + 0.25 * (at(23) + at(1));
        let lambda = n / (n + 4.0 * m.smoothing);
        let p_pop = self.population.hour_share(h, m.world_prior_logins);
        let p_user = lambda * k / n + (1.0 - lambda) * p_pop;
        let u = m.attacker_uniform_hours.clamp(0.0, 1.0);
        let p_attacker = u / 24.0 + (1.0 - u) * p_pop;
        (p_attacker / p_user).ln()
    }

    fn rtt_llr(&self, obs: &Observation, profile: &Profile) -> f64 {
        let m = &self.cfg.model;
        let Some(b) = obs.rtt_bucket else { return 0.0 };
        let (hist, n) = profile.rtt_histogram();
        if n == 0 {
            return 0.0;
        }
        let n = f64::from(n);
        let b = usize::from(b);
        const KERNEL: [f64; 5] = [0.1, 0.2, 0.4, 0.2, 0.1];
        let mut k = 0.0;
        for (i, w) in KERNEL.iter().enumerate() {
            let j = b as isize + i as isize - 2;
            if (0..64).contains(&j) {
                k += w * f64::from(hist[j as usize]);
            }
        }
        let lambda = n / (n + 4.0 * m.smoothing);
        let p_pop = self.population.rtt_share(b, m.world_prior_logins);
        let p_user = lambda * k / n + (1.0 - lambda) * p_pop;
        (p_pop / p_user).ln()
    }
}

/// The log-ratio when a share `m` of attackers copies the user's value:
/// ln((1 - m) · e^llr + m), which is ≥ ln m and ≈ llr + ln(1 - m) for large llr.
fn mimic(llr: f64, m: f64) -> f64 {
    let m = m.clamp(0.0, 0.999);
    if m == 0.0 {
        return llr;
    }
    if llr > 30.0 {
        return llr + (1.0 - m).ln();
    }
    ((1.0 - m) * llr.exp() + m).ln()
}

/// Keeps the `cap / 2` most recently active entries when a map grows past `cap`.
fn shrink<V>(map: &mut FastMap<u64, V>, cap: usize, last: impl Fn(&V) -> i64) {
    if map.len() <= cap {
        return;
    }
    let mut times: Vec<i64> = map.values().map(&last).collect();
    let keep = cap / 2;
    let idx = times.len() - keep;
    let (_, cutoff, _) = times.select_nth_unstable(idx);
    let cutoff = *cutoff;
    map.retain(|_, v| last(v) >= cutoff);
}
