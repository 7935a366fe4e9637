//! Replaying a login log through the engine to measure it: the RBA dataset layout (Wiefling et
//! al.'s 33M-login data set from a Norwegian SSO), or a synthetic log from [`crate::synth`].
//!
//! Each attempt is scored BEFORE the engine learns from it. Profiles are keyed by user id and
//! learn per the engine's rules: successful logins that were allowed, or challenged and then
//! verified; a challenged login counts as verified when it is not an account takeover.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::io::Read;
use std::net::IpAddr;
use std::time::Instant;

use ipnet::IpNet;
use rampart_model::Protocol;
use serde::{Deserialize, Serialize};

use crate::features::{Observation, Parts};
use crate::util::{days_from_civil, hash_str, FastMap};
use crate::{Decision, EffectivePolicy, GeoDb, Profile, RiskConfig, RiskEngine, RiskError};

/// The column layout of the RBA dataset (and of [`crate::synth::write_csv`]).
pub const RBA_HEADER: [&str; 16] = [
    "index",
    "Login Timestamp",
    "User ID",
    "Round-Trip Time [ms]",
    "IP Address",
    "Country",
    "Region",
    "City",
    "ASN",
    "User Agent String",
    "Browser Name and Version",
    "OS Name and Version",
    "Device Type",
    "Login Successful",
    "Is Attack IP",
    "Is Account Takeover",
];

/// Which kind of attacker produced a synthetic takeover (Wiefling et al.'s attacker models).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttackerKind {
    /// Random IPs, countries and user agents from anywhere.
    Naive,
    /// Knows the victim's country: a VPN or proxy exit there, a common user agent.
    Vpn,
    /// Knows the victim's country, region and ISP, and uses a common user agent of the victim's
    /// OS family.
    Targeted,
}

impl AttackerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AttackerKind::Naive => "naive",
            AttackerKind::Vpn => "vpn",
            AttackerKind::Targeted => "targeted",
        }
    }
}

/// One row of a login log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginRecord {
    pub index: u64,
    /// Milliseconds since the Unix epoch (UTC).
    pub at_ms: i64,
    pub user_id: String,
    pub rtt_ms: Option<f64>,
    pub ip: IpAddr,
    pub country: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
    pub asn: Option<u32>,
    pub user_agent: Option<String>,
    /// `Name Version`, e.g. `Chrome 85.0.4183`.
    pub browser: Option<String>,
    /// `Name Version`, e.g. `iOS 13.4`.
    pub os: Option<String>,
    pub device_type: Option<String>,
    pub success: bool,
    pub attack_ip: bool,
    pub takeover: bool,
    /// Synthetic logs only (not a CSV column): who made this attempt, if an attacker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attacker: Option<AttackerKind>,
}

impl LoginRecord {
    /// The record as the engine's input (geo from the record's own columns).
    pub fn to_attempt(&self) -> crate::LoginAttempt {
        crate::LoginAttempt {
            account: self.user_id.clone(),
            protocol: Protocol::Http,
            ip: self.ip,
            user_agent: self.user_agent.clone(),
            device_id: None,
            at_ms: self.at_ms,
            credential_ok: self.success,
            geo: crate::Geo {
                country: self.country.clone(),
                region: self.region.clone(),
                city: self.city.clone(),
                asn: self.asn,
                asn_name: None,
                location: None,
            },
            rtt_ms: self.rtt_ms,
        }
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim() {
        "True" | "true" | "TRUE" | "1" => Some(true),
        "False" | "false" | "FALSE" | "0" => Some(false),
        _ => None,
    }
}

/// `2020-02-03 12:43:30.772` (UTC), or epoch seconds/milliseconds.
pub(crate) fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let v: i64 = s.parse().ok()?;
        return Some(if v > 100_000_000_000 { v } else { v * 1000 });
    }
    let (date, time) = s.split_once([' ', 'T'])?;
    let mut d = date.split('-');
    let y: i64 = d.next()?.parse().ok()?;
    let m: u32 = d.next()?.parse().ok()?;
    let day: u32 = d.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let time = time.trim_end_matches('Z');
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.split(':');
    let h: i64 = t.next()?.parse().ok()?;
    let mi: i64 = t.next()?.parse().ok()?;
    let sec: i64 = t.next().unwrap_or("0").parse().ok()?;
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut millis = 0i64;
    for (i, c) in frac.bytes().take(3).enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        millis += i64::from(c - b'0') * [100, 10, 1][i];
    }
    let days = days_from_civil(y, m, day);
    Some((((days * 24 + h) * 60 + mi) * 60 + sec) * 1000 + millis)
}

/// Formats ms since the epoch as the dataset does: `2020-02-03 12:43:30.772`.
pub(crate) fn format_timestamp(at_ms: i64) -> String {
    let days = at_ms.div_euclid(86_400_000);
    let rem = at_ms.rem_euclid(86_400_000);
    let (y, m, d) = crate::util::civil_from_days(days);
    let (h, mi, s, ms) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}.{ms:03}")
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty() && s != "-").then(|| s.to_string())
}

/// Streams records from a CSV in the RBA layout (header required). Rows are parsed one at a
/// time, so a 33M-row file never sits in memory; a bad row is an `Err` item and reading goes on.
pub fn read_rba_csv<R: Read>(reader: R) -> impl Iterator<Item = Result<LoginRecord, RiskError>> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(reader);
    let header_error = match rdr.headers() {
        Ok(h) if h.len() >= 16 && h.get(1) == Some("Login Timestamp") => None,
        Ok(h) => Some(RiskError::LoginLog {
            line: 1,
            message: format!("unexpected header {:?}", h.iter().collect::<Vec<_>>()),
        }),
        Err(e) => Some(RiskError::LoginLog {
            line: 1,
            message: e.to_string(),
        }),
    };
    let mut record = csv::StringRecord::new();
    let mut done = false;
    let mut header_error = header_error;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        if let Some(e) = header_error.take() {
            done = true;
            return Some(Err(e));
        }
        match rdr.read_record(&mut record) {
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                Some(parse_row(&record, line))
            }
            Ok(false) => {
                done = true;
                None
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                if !matches!(
                    e.kind(),
                    csv::ErrorKind::UnequalLengths { .. } | csv::ErrorKind::Utf8 { .. }
                ) {
                    done = true;
                }
                Some(Err(RiskError::LoginLog {
                    line,
                    message: e.to_string(),
                }))
            }
        }
    })
}

fn parse_row(r: &csv::StringRecord, line: u64) -> Result<LoginRecord, RiskError> {
    let err = |message: String| RiskError::LoginLog { line, message };
    if r.len() < 16 {
        return Err(err(format!("{} columns, expected 16", r.len())));
    }
    let f = |i: usize| r.get(i).unwrap_or("");
    let index = f(0)
        .trim()
        .parse()
        .map_err(|_| err(format!("index {:?} is not a number", f(0))))?;
    let at_ms = parse_timestamp(f(1)).ok_or_else(|| err(format!("bad timestamp {:?}", f(1))))?;
    let ip: IpAddr = f(4)
        .trim()
        .parse()
        .map_err(|_| err(format!("bad IP address {:?}", f(4))))?;
    let rtt_ms = opt(f(3))
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite());
    let asn = opt(f(8)).and_then(|v| v.parse::<u32>().ok());
    let flag = |i: usize| parse_bool(f(i)).ok_or_else(|| err(format!("bad boolean {:?}", f(i))));
    Ok(LoginRecord {
        index,
        at_ms,
        user_id: f(2).trim().to_string(),
        rtt_ms,
        ip,
        country: opt(f(5)),
        region: opt(f(6)),
        city: opt(f(7)),
        asn,
        user_agent: opt(f(9)),
        browser: opt(f(10)),
        os: opt(f(11)),
        device_type: opt(f(12)),
        success: flag(13)?,
        attack_ip: flag(14)?,
        takeover: flag(15)?,
        attacker: None,
    })
}

/// Detection quality for one slice of the log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Successful attacker logins in the slice.
    pub takeovers: u64,
    /// Successful legitimate logins in the slice.
    pub legit_logins: u64,
    /// ROC AUC of the score, takeovers against legitimate successful logins.
    pub auc: Option<f64>,
    /// Share of legitimate logins scored at or above the threshold that catches 99% of takeovers.
    pub legit_challenged_at_99: Option<f64>,
    /// That threshold.
    pub threshold_at_99: Option<f64>,
    /// Share of takeovers the configured thresholds did not allow (challenged or refused).
    pub takeovers_stopped: Option<f64>,
    /// Share of legitimate logins the configured thresholds challenged or refused.
    pub legit_interrupted: Option<f64>,
}

/// What a replay measured. `auc` and `legit_challenged_at_99` are over all successful logins;
/// `history30` restricts both sides to attempts on users with at least 30 learned logins.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub attempts: u64,
    pub failures: u64,
    pub users: u64,
    pub takeovers: u64,
    pub legit_logins: u64,
    pub auc: Option<f64>,
    pub legit_challenged_at_99: Option<f64>,
    pub threshold_at_99: Option<f64>,
    pub takeovers_stopped: Option<f64>,
    pub legit_interrupted: Option<f64>,
    /// Engine decisions (assess + record) per second of engine time.
    pub decisions_per_sec: f64,
    pub history30: Metrics,
    /// Attempts on users with fewer than 5 learned logins (cold start).
    pub cold_start: Metrics,
    /// Per attacker kind (synthetic logs only): `all` and `history30` slices.
    pub by_attacker: BTreeMap<String, BTreeMap<String, Metrics>>,
    /// Count of each decision over all attempts.
    pub decisions: BTreeMap<String, u64>,
}

/// Options of [`replay_with`].
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Treat the log's `Is Attack IP` column as a threat list the server has (an input the
    /// dataset provides, like a feed); `false` ignores it.
    pub use_attack_ip_column: bool,
    /// History (learned logins) of the `history30` slice.
    pub min_history: u32,
    /// Rows are re-ordered by time within this many rows (tolerates small disorder).
    pub reorder_window: usize,
    /// Progress callback interval, in attempts.
    pub progress_every: u64,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            use_attack_ip_column: true,
            min_history: 30,
            reorder_window: 4096,
            progress_every: 10_000,
        }
    }
}

const HIST_LO: f64 = -64.0;
const HIST_STEP: f64 = 1.0 / 256.0;
const HIST_BINS: usize = 128 * 256;

/// Scores of legitimate logins as a fine histogram: bounded memory for any log size.
#[derive(Clone)]
struct ScoreHistogram {
    bins: Vec<u64>,
    n: u64,
    interrupted: u64,
}

impl ScoreHistogram {
    fn new() -> Self {
        ScoreHistogram {
            bins: vec![0; HIST_BINS],
            n: 0,
            interrupted: 0,
        }
    }

    fn bin(score: f64) -> usize {
        (((score - HIST_LO) / HIST_STEP).floor().max(0.0) as usize).min(HIST_BINS - 1)
    }

    fn add(&mut self, score: f64, interrupted: bool) {
        self.bins[Self::bin(score)] += 1;
        self.n += 1;
        self.interrupted += u64::from(interrupted);
    }
}

#[derive(Clone, Copy)]
struct Takeover {
    score: f64,
    history: u32,
    kind: Option<AttackerKind>,
    stopped: bool,
}

fn metrics<'a>(takeovers: impl Iterator<Item = &'a Takeover>, legit: &ScoreHistogram) -> Metrics {
    let mut scores: Vec<(f64, bool)> = takeovers.map(|t| (t.score, t.stopped)).collect();
    scores.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut m = Metrics {
        takeovers: scores.len() as u64,
        legit_logins: legit.n,
        ..Metrics::default()
    };
    if legit.n > 0 {
        m.legit_interrupted = Some(legit.interrupted as f64 / legit.n as f64);
    }
    if scores.is_empty() {
        return m;
    }
    m.takeovers_stopped = Some(scores.iter().filter(|s| s.1).count() as f64 / scores.len() as f64);
    if legit.n == 0 {
        return m;
    }
    // below[i] = legitimate logins in bins < i.
    let mut below = Vec::with_capacity(HIST_BINS + 1);
    let mut acc = 0u64;
    below.push(0);
    for b in &legit.bins {
        acc += b;
        below.push(acc);
    }
    let mut wins = 0.0;
    for (s, _) in &scores {
        let i = ScoreHistogram::bin(*s);
        wins += below[i] as f64 + 0.5 * legit.bins[i] as f64;
    }
    m.auc = Some(wins / (scores.len() as f64 * legit.n as f64));
    let n = scores.len();
    let must_catch = (0.99 * n as f64).ceil() as usize;
    let threshold = scores[n - must_catch.max(1)].0;
    let at_or_above = legit.n - below[ScoreHistogram::bin(threshold)];
    m.threshold_at_99 = Some(threshold);
    m.legit_challenged_at_99 = Some(at_or_above as f64 / legit.n as f64);
    m
}

/// Replays records (in time order; see [`replay_with`]) and measures detection.
pub fn replay(
    records: impl Iterator<Item = LoginRecord>,
    cfg: &RiskConfig,
    geo: Option<&GeoDb>,
) -> EvalReport {
    replay_with(
        records,
        cfg,
        geo,
        &ReplayOptions::default(),
        |_, _, _| {},
        |_| {},
    )
}

/// [`replay`] with options, a per-attempt callback `(index, score, decision)` (for writing
/// `index<TAB>score<TAB>decision`) and a progress callback (attempts processed so far).
pub fn replay_with<I, F, P>(
    records: I,
    cfg: &RiskConfig,
    geo: Option<&GeoDb>,
    opts: &ReplayOptions,
    mut on_decision: F,
    mut on_progress: P,
) -> EvalReport
where
    I: Iterator<Item = LoginRecord>,
    F: FnMut(u64, f64, Decision),
    P: FnMut(u64),
{
    let mut engine = RiskEngine::new(cfg.clone());
    let policy = EffectivePolicy::default();
    let mut profiles: FastMap<u64, Profile> = FastMap::default();
    let mut legit = ScoreHistogram::new();
    let mut legit_hist = ScoreHistogram::new();
    let mut legit_cold = ScoreHistogram::new();
    let mut takeovers: Vec<Takeover> = Vec::new();
    let mut report = EvalReport::default();
    let mut engine_secs = 0.0f64;
    // Min-heap on (time, arrival) for small disorder.
    let mut buffer: BinaryHeap<Reverse<(i64, u64, usize)>> = BinaryHeap::new();
    let mut slots: Vec<Option<LoginRecord>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let window = opts.reorder_window.max(1);

    let mut process = |rec: LoginRecord, report: &mut EvalReport| {
        report.attempts += 1;
        let user = hash_str(&rec.user_id);
        let profile = profiles.entry(user).or_default();
        let mut country = rec.country.clone();
        let mut region = rec.region.clone();
        let mut city = rec.city.clone();
        let mut asn = rec.asn;
        let mut location = None;
        if let Some(db) = geo {
            let g = db.lookup(rec.ip);
            country = country.or(g.country);
            region = region.or(g.region);
            city = city.or(g.city);
            asn = asn.or(g.asn);
            location = g.location;
        }
        if opts.use_attack_ip_column && rec.attack_ip {
            engine.add_threat_ips([IpNet::from(rec.ip)]);
        }
        let parts = Parts {
            account: &rec.user_id,
            ip: rec.ip,
            country: country.as_deref(),
            region: region.as_deref(),
            city: city.as_deref(),
            asn,
            user_agent: rec.user_agent.as_deref(),
            browser: rec.browser.as_deref(),
            os: rec.os.as_deref(),
            device_type: rec.device_type.as_deref(),
            device_id: None,
            protocol: Protocol::Http,
            at_ms: rec.at_ms,
            rtt_ms: rec.rtt_ms,
            location,
            credential_ok: rec.success,
        };
        let history = profile.logins();
        let t0 = Instant::now();
        let obs = Observation::from_parts(&parts);
        let decision =
            engine.assess_observation(&obs, None, country.as_deref(), profile, &policy, false);
        let verified = decision.action == Decision::Challenge && !rec.takeover;
        engine.record_observation(&obs, &decision, profile, verified);
        engine_secs += t0.elapsed().as_secs_f64();
        *report
            .decisions
            .entry(decision.action.as_str().to_string())
            .or_insert(0) += 1;
        on_decision(rec.index, decision.score, decision.action);
        let interrupted = decision.action != Decision::Allow;
        if !rec.success {
            report.failures += 1;
        } else if rec.takeover {
            takeovers.push(Takeover {
                score: decision.score,
                history,
                kind: rec.attacker,
                stopped: interrupted,
            });
        } else {
            legit.add(decision.score, interrupted);
            if history >= opts.min_history {
                legit_hist.add(decision.score, interrupted);
            }
            if history < 5 {
                legit_cold.add(decision.score, interrupted);
            }
        }
        if opts.progress_every > 0 && report.attempts.is_multiple_of(opts.progress_every) {
            on_progress(report.attempts);
        }
    };

    for (seq, rec) in records.enumerate() {
        let slot = match free.pop() {
            Some(i) => {
                slots[i] = Some(rec);
                i
            }
            None => {
                slots.push(Some(rec));
                slots.len() - 1
            }
        };
        let at = slots[slot].as_ref().map_or(0, |r| r.at_ms);
        buffer.push(Reverse((at, seq as u64, slot)));
        if buffer.len() > window {
            if let Some(Reverse((_, _, i))) = buffer.pop() {
                if let Some(r) = slots[i].take() {
                    free.push(i);
                    process(r, &mut report);
                }
            }
        }
    }
    while let Some(Reverse((_, _, i))) = buffer.pop() {
        if let Some(r) = slots[i].take() {
            process(r, &mut report);
        }
    }
    on_progress(report.attempts);

    report.users = profiles.len() as u64;
    report.takeovers = takeovers.len() as u64;
    report.legit_logins = legit.n;
    let all = metrics(takeovers.iter(), &legit);
    report.auc = all.auc;
    report.legit_challenged_at_99 = all.legit_challenged_at_99;
    report.threshold_at_99 = all.threshold_at_99;
    report.takeovers_stopped = all.takeovers_stopped;
    report.legit_interrupted = all.legit_interrupted;
    let min_h = opts.min_history;
    report.history30 = metrics(takeovers.iter().filter(|t| t.history >= min_h), &legit_hist);
    report.cold_start = metrics(takeovers.iter().filter(|t| t.history < 5), &legit_cold);
    for kind in [
        AttackerKind::Naive,
        AttackerKind::Vpn,
        AttackerKind::Targeted,
    ] {
        if !takeovers.iter().any(|t| t.kind == Some(kind)) {
            continue;
        }
        let mut slices = BTreeMap::new();
        slices.insert(
            "all".to_string(),
            metrics(takeovers.iter().filter(|t| t.kind == Some(kind)), &legit),
        );
        slices.insert(
            "history30".to_string(),
            metrics(
                takeovers
                    .iter()
                    .filter(|t| t.kind == Some(kind) && t.history >= min_h),
                &legit_hist,
            ),
        );
        report.by_attacker.insert(kind.as_str().to_string(), slices);
    }
    report.decisions_per_sec = if engine_secs > 0.0 {
        report.attempts as f64 / engine_secs
    } else {
        0.0
    };
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_and_format_like_the_dataset() {
        let t = parse_timestamp("2020-02-03 12:43:30.772").unwrap();
        assert_eq!(format_timestamp(t), "2020-02-03 12:43:30.772");
        assert_eq!(parse_timestamp("2020-02-03 12:43:30"), Some(t - 772));
        assert_eq!(parse_timestamp("1580733810772"), Some(t));
        assert_eq!(parse_timestamp("2020-13-03 12:43:30"), None);
        assert_eq!(parse_timestamp("garbage"), None);
    }
}
