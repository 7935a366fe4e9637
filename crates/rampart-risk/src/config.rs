use serde::{Deserialize, Serialize};

/// Thresholds, limits and model parameters. Every field has a default (`RiskConfig::default()`),
/// so a TOML/JSON section only names what it changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RiskConfig {
    /// Score above which a successful login is challenged. Scores are log-likelihood ratios
    /// (attacker vs. user); familiar logins score around -6, so the default (-1.5) challenges
    /// logins whose evidence for the user is weak. Measured on synthetic logs (see
    /// `rampart_risk::synth`) it stops all targeted takeovers of users with 30+ logins of
    /// history while interrupting about 5% of their legitimate logins.
    pub challenge_score: f64,
    /// Added to the challenge threshold for an account without history, shrinking linearly to 0
    /// at `model.full_history` logins: a short history proves little either way, so a new
    /// account is not challenged for being new.
    pub cold_start_margin: f64,
    /// Score at or above which a successful login is refused.
    pub deny_score: f64,
    /// Score at or above which the source is blocked as well.
    pub block_score: f64,

    /// Failures of one account from one IP answered without delay.
    pub free_failures: u32,
    /// Delay after the first failure past the free ones; doubles with each further failure.
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    /// Failures of one account from one IP that lock that pair (never the whole account).
    pub lock_after_failures: u32,
    pub lock_ms: u64,
    /// An account+IP failure count is forgotten after this long without failures.
    pub failure_memory_ms: u64,

    /// Failures from one IP (any accounts) within `source_window_ms` that block the IP.
    pub ip_failure_limit: u32,
    /// Failures from one /24 (/48) within `source_window_ms` that block the network.
    pub subnet_failure_limit: u32,
    pub source_window_ms: u64,
    pub source_block_ms: u64,
    /// Distinct accounts failing from one IP within `spray_window_ms`: password spray.
    pub spray_accounts_ip: u32,
    /// Distinct accounts failing from one /24 (/48) within `spray_window_ms`.
    pub spray_accounts_subnet: u32,
    pub spray_window_ms: u64,
    pub spray_block_ms: u64,

    /// Faster than this between consecutive logins is impossible travel.
    pub max_travel_kmh: f64,
    /// Jumps shorter than this are ignored (geolocation is imprecise).
    pub min_travel_km: f64,
    pub travel_weight: f64,
    /// No trusted login for this long makes an account dormant.
    pub dormant_days: u32,
    pub dormant_weight: f64,
    /// Added for an IP on a threat list (log of how much likelier an attacker is there).
    pub threat_weight: f64,
    /// Per log(1 + n) of recent failures on the account from other sources.
    pub account_failures_weight: f64,
    /// Per log(1 + n) of distinct accounts recently failing from the same IP.
    pub failing_source_weight: f64,

    /// The statistical model (see [`ModelParams`]).
    pub model: ModelParams,
    /// Upper bound on tracked failure counters and spray sets of each kind.
    pub max_tracked_sources: usize,
}

/// Parameters of the likelihood-ratio model. Weights scale each feature group's log-ratio
/// (naive Bayes over-counts correlated features); smoothing constants say how many logins of
/// history it takes before a user's own frequencies dominate the population's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelParams {
    /// Weight of the country → region → city chain.
    pub geo_weight: f64,
    /// Weight of the ASN → subnet → IP chain.
    pub network_weight: f64,
    /// Weight of the device type → OS → browser → full UA chain.
    pub agent_weight: f64,
    pub hour_weight: f64,
    pub rtt_weight: f64,
    pub device_id_weight: f64,
    pub protocol_weight: f64,
    /// Witten-Bell smoothing: λ = n / (n + smoothing × distinct values seen).
    pub smoothing: f64,
    /// Pseudo-logins of "the wide world" mixed into the population statistics (see
    /// `world_share` per feature): they dominate while the server has few logins and fade as
    /// it learns.
    pub world_prior_logins: f64,
    /// How much likelier a value nobody has used is for an attacker (1 + boost / (1 + count)).
    pub rarity_boost: f64,
    /// Logins of history at which the score counts fully (cold start: fewer count less).
    pub full_history: f64,
    /// Share of attacker logins assumed uniform over the day (the rest follow the population).
    pub attacker_uniform_hours: f64,
    /// Mimicry priors: the share of attackers assumed to copy the user's values down to each
    /// level of a chain (index 0: copy nothing; index i: copy levels 1..=i), e.g. a VPN exit in
    /// the user's country, a residential proxy in the user's ISP, the user's OS family. The
    /// attacker's distribution is the mixture over these, so familiar values an attacker can
    /// copy say little, and a new subnet in a familiar ISP still counts.
    /// Geo: nothing, country, region, city.
    pub geo_mimicry: [f64; 4],
    /// Network: nothing, ASN, subnet, IP.
    pub network_mimicry: [f64; 4],
    /// Agent: nothing, device type, OS family, OS version, browser, browser major, full UA.
    pub agent_mimicry: [f64; 7],
    /// Share of attackers matching the user's hours / round-trip times / device ids.
    pub hour_mimicry: f64,
    pub rtt_mimicry: f64,
    pub device_id_mimicry: f64,
    /// Upper bound on one chain's log-ratio, so a single odd feature cannot dominate.
    pub max_chain_llr: f64,
}

impl Default for ModelParams {
    fn default() -> Self {
        ModelParams {
            geo_weight: 1.0,
            network_weight: 1.0,
            agent_weight: 1.0,
            hour_weight: 1.0,
            rtt_weight: 1.0,
            device_id_weight: 1.0,
            protocol_weight: 0.5,
            smoothing: 1.0,
            rarity_boost: 1.0,
            world_prior_logins: 1000.0,
            full_history: 5.0,
            attacker_uniform_hours: 0.5,
            max_chain_llr: 12.0,
            geo_mimicry: [0.5, 0.3, 0.15, 0.05],
            network_mimicry: [0.6, 0.37, 0.02, 0.01],
            agent_mimicry: [0.4, 0.05, 0.25, 0.1, 0.05, 0.05, 0.1],
            hour_mimicry: 0.2,
            rtt_mimicry: 0.2,
            device_id_mimicry: 0.01,
        }
    }
}

impl Default for RiskConfig {
    fn default() -> Self {
        RiskConfig {
            challenge_score: -1.5,
            cold_start_margin: 3.0,
            deny_score: 20.0,
            block_score: 40.0,
            free_failures: 3,
            base_delay_ms: 1_000,
            max_delay_ms: 30_000,
            lock_after_failures: 10,
            lock_ms: 15 * 60_000,
            failure_memory_ms: 60 * 60_000,
            ip_failure_limit: 50,
            subnet_failure_limit: 200,
            source_window_ms: 15 * 60_000,
            source_block_ms: 60 * 60_000,
            spray_accounts_ip: 10,
            spray_accounts_subnet: 20,
            spray_window_ms: 60 * 60_000,
            spray_block_ms: 24 * 60 * 60_000,
            max_travel_kmh: 1_000.0,
            min_travel_km: 300.0,
            travel_weight: 4.0,
            dormant_days: 90,
            dormant_weight: 2.0,
            threat_weight: 3.0,
            account_failures_weight: 1.0,
            failing_source_weight: 1.5,
            model: ModelParams::default(),
            max_tracked_sources: 500_000,
        }
    }
}
