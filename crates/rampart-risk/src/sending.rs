//! Sending-behaviour control: per-account quotas layered by scope, and spike detection against
//! each account's own hour-of-week baseline, for the SMTP submission path.
//!
//! **Input**: a [`SendRequest`] per message (account, department, level, recipient counts) and
//! the time. **Output**: a [`SendDecision`]: allow, defer (an hourly limit: try later), reject
//! (too many recipients for one message) or hold (a spike or a passed daily limit: the
//! account's sending waits for step-up verification, then [`SendingControl::release`]). The
//! engine does no I/O and keeps no clock of its own; the caller holds it behind a mutex, calls
//! [`SendingControl::check`] once per message and persists [`SendingControl::snapshot`].
//!
//! **Limits.** `[sending]` sets [`rampart_model::config::SendLimits`] for the organisation,
//! departments, levels and users. Each limit is taken from the most specific scope that sets it
//! (user > level > department > organisation), and the scope travels with every refusal
//! ([`SendingControl::limits_for`], [`EffectiveLimits::explain`]).
//!
//! **Windows.** "Per hour" is a sliding 60 minutes kept in one-minute buckets, so a refusal can
//! say exactly when the oldest message leaves the window ([`QuotaBreach::retry_after_ms`]).
//! "Per day" is the calendar day in `timezone`, reset at local midnight: that is what people
//! mean by "today", the counts match what the console shows for the day, and everybody's quota
//! renews at a predictable moment (a sliding 24 hours would renew message by message, a day
//! later than each was sent). Only `external_recipients` count toward
//! `external_recipients_per_day`.
//!
//! **Decisions, in order.** More recipients than `recipients_per_message`: reject (not
//! counted). An account on hold: hold (counted). `messages_per_hour` already reached in the
//! sliding hour: defer (not counted). Otherwise the message is counted; if that passes
//! `messages_per_day` or `external_recipients_per_day`, or makes the sliding hour a spike, the
//! message and every later one are held until release.
//!
//! **The baseline.** Per account, 168 hour-of-week slots of messages and recipients per hour.
//! Hours lie on the UTC grid (they never repeat or skip); each maps to the local hour-of-week of
//! its midpoint. When an hour ends, its slot moves toward the hour's count with weight
//! `max(baseline_alpha, 1/n)` for the slot's n-th week (a plain mean at first, so early weeks
//! are not pulled toward zero; then exponential smoothing with `baseline_alpha` as the newest
//! week's weight). Hours without mail are folded in as zeros when the account next sends; a
//! silence longer than a week decays each slot once by the product of its zero updates, so
//! months of idleness cost no more than a week. Messages sent while held are not learned unless
//! released. The hour's expected traffic is
//!
//! ```text
//! expected(slot) = c · (0.8 · own(slot) + 0.2 · own_mean) + (1 − c) · population(slot)
//! c = 1 − (1 − baseline_alpha)^weeks_of_history
//! ```
//!
//! so a slot is shrunk toward the account's all-hours mean (a rarely used hour is not judged
//! against zero), and a new account is judged against the population: the typical rate of the
//! accounts with a full week of history in that slot, exp(mean(ln(1 + rate))) − 1, which one
//! bulk sender cannot drag up. The sliding hour spans two slots; the larger expectation is used.
//!
//! **Spikes.** The sliding hour is a spike when it holds more than `spike_factor` × expected
//! messages and at least `spike_min_messages`, or more than `spike_factor` × expected recipients
//! and at least 10 × `spike_min_messages` recipients. After [`SendingControl::release`], the
//! burst in progress is accepted for the next sliding hour (and the day's counts for the rest of
//! the local day): only a doubling of the counts seen at release holds again.
//!
//! **Bounds.** About 1.3 KB per account (half-float slots, 32-bit minute buckets);
//! [`SendingControl::prune`] evicts accounts idle for 60 days (never a held one). A check is a
//! few hundred nanoseconds ([`bench::bench_sending`]). Time comes from the caller: a step back of
//! up to a day is treated as jitter (the account stays at its latest instant), a longer one as a
//! clock that was wrong (the sliding hour and the day restart; baseline and holds stay).
//!
//! ```
//! use rampart_model::config::SendingConfig;
//! use rampart_risk::sending::{SendDecision, SendRequest, SendingControl};
//!
//! let mut control = SendingControl::new(&SendingConfig::default()).unwrap();
//! let req = SendRequest {
//!     account: "ana@example.org",
//!     department: Some("sales"),
//!     level: None,
//!     recipients: 3,
//!     external_recipients: 1,
//! };
//! let now_ms = 1_704_099_600_000; // a Monday, 09:00 UTC
//! assert_eq!(control.check(&req, now_ms), SendDecision::Allow);
//! assert_eq!(control.usage("ana@example.org", now_ms).messages_last_hour, 1);
//! let too_many = SendRequest { recipients: 501, ..req };
//! assert_eq!(control.check(&too_many, now_ms).code(), "reject");
//! ```

mod account;
pub mod bench;
mod clock;
mod decision;
mod limits;
mod snapshot;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::HashMap;

use rampart_model::config::SendingConfig;

use account::{AccountState, Model, PopulationPrior, Release};
use clock::{clamp_ms, slot_label, LocalClock, Moment, DAY_MS, HOUR_MS};
use limits::{Limit, LimitTable};

pub use decision::{
    DailyLimit, QuotaBreach, SendDecision, SendRequest, SpikeReason, SpikeReport, Usage,
};
pub use limits::{EffectiveLimits, ScopedLimit};

/// Accounts idle this long may be evicted by [`SendingControl::prune`].
pub const IDLE_EVICTION_MS: i64 = 60 * DAY_MS;

/// Configuration and snapshot errors. Each message says what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendingError {
    #[error(
        "sending.timezone {0:?} is not a known time zone (use an IANA name such as UTC, \
         Europe/Oslo or Asia/Shanghai)"
    )]
    Timezone(String),
    #[error("sending configuration: {0}")]
    Config(String),
    #[error(
        "sending state snapshot is corrupt: {0} (delete it; counts restart and baselines are \
         relearned)"
    )]
    Snapshot(String),
    #[error(
        "sending state snapshot has format version {found}, this build reads version {expected} \
         (upgrade Rampart, or delete the snapshot to start over)"
    )]
    SnapshotVersion { found: u32, expected: u32 },
}

/// The sending-behaviour engine: quotas, baselines and holds for every account.
#[derive(Debug, Clone)]
pub struct SendingControl {
    config: SendingConfig,
    limits: LimitTable,
    model: Model,
    clock: LocalClock,
    accounts: HashMap<String, Box<AccountState>>,
    prior: PopulationPrior,
}

impl SendingControl {
    /// An engine with no history. Fails on an unknown time zone or out-of-range parameters.
    pub fn new(config: &SendingConfig) -> Result<SendingControl, SendingError> {
        let (model, clock) = validate(config)?;
        Ok(SendingControl {
            config: config.clone(),
            limits: LimitTable::new(config),
            model,
            clock,
            accounts: HashMap::new(),
            prior: PopulationPrior::default(),
        })
    }

    /// Applies a new configuration and keeps every account's history. A new time zone maps
    /// later hours to slots in that zone, and the day's counts restart at its next check.
    pub fn set_config(&mut self, config: &SendingConfig) -> Result<(), SendingError> {
        let (model, clock) = validate(config)?;
        self.config = config.clone();
        self.limits = LimitTable::new(config);
        self.model = model;
        self.clock = clock;
        self.rebuild_derived();
        Ok(())
    }

    /// The configuration in force.
    pub fn config(&self) -> &SendingConfig {
        &self.config
    }

    /// The limits for an account, each from the most specific scope that sets it.
    pub fn limits_for(
        &self,
        account: &str,
        department: Option<&str>,
        level: Option<&str>,
    ) -> EffectiveLimits {
        self.limits
            .resolve(&account_key(account), department, level)
            .to_effective()
    }

    /// Decides what to do with one message and, when it is allowed or held, counts it.
    pub fn check(&mut self, req: &SendRequest<'_>, now_ms: i64) -> SendDecision {
        if !self.config.enabled {
            return SendDecision::Allow;
        }
        let key = account_key(req.account);
        let limits = self.limits.resolve(&key, req.department, req.level);
        if let Some((max, scope)) = limits.recipients_per_message {
            if req.recipients > max {
                return SendDecision::Reject(QuotaBreach {
                    limit: "recipients_per_message",
                    scope: scope.to_scope().to_string(),
                    max,
                    current: req.recipients,
                    retry_after_ms: None,
                    retry_after_local: None,
                });
            }
        }
        let now_ms = clamp_ms(now_ms);
        self.clock.refresh(now_ms);
        let now = self.clock.moment(now_ms);
        if !self.accounts.contains_key(key.as_ref()) {
            self.accounts
                .insert(key.to_string(), Box::new(AccountState::new(&now)));
        }
        let Some(account) = self.accounts.get_mut(key.as_ref()) else {
            return SendDecision::Allow;
        };
        let now = account.advance(now, &self.clock, &self.model, &mut self.prior);

        if let Some(hold) = &account.hold {
            let report = (**hold).clone();
            account.count(req.recipients, req.external_recipients, true);
            return SendDecision::Hold(report);
        }
        if let Some((max, scope)) = limits.messages_per_hour {
            if account.window_messages >= max {
                let retry_after_ms = account.window_frees_at(max);
                return SendDecision::Defer(QuotaBreach {
                    limit: "messages_per_hour",
                    scope: scope.to_scope().to_string(),
                    max,
                    current: account.window_messages,
                    retry_after_ms,
                    retry_after_local: retry_after_ms.map(|ms| self.clock.local_hhmm(ms)),
                });
            }
        }
        account.count(req.recipients, req.external_recipients, false);

        let judge = Judge {
            model: &self.model,
            clock: &self.clock,
            prior: &self.prior,
        };
        let report = match daily_breach(account, &limits) {
            Some((limit, max, scope)) => Some(judge.report(
                account,
                &now,
                SpikeReason::DailyLimit(limit),
                Some((max, scope.to_scope().to_string())),
            )),
            None => judge.spike(account, &now),
        };
        match report {
            Some(report) => {
                account.held_messages = account.held_messages.saturating_add(1);
                account.held_recipients = account.held_recipients.saturating_add(req.recipients);
                account.hold = Some(Box::new(report.clone()));
                SendDecision::Hold(report)
            }
            None => SendDecision::Allow,
        }
    }

    /// After the account passed step-up verification: ends the hold, learns the held messages,
    /// and accepts the burst in progress: no new hold for the next hour (and, for the day's
    /// limits, the rest of the local day) unless the counts double.
    pub fn release(&mut self, account: &str, now_ms: i64) {
        let now_ms = clamp_ms(now_ms);
        self.clock.refresh(now_ms);
        let now = self.clock.moment(now_ms);
        let Some(a) = self.accounts.get_mut(account_key(account).as_ref()) else {
            return;
        };
        let now = a.advance(now, &self.clock, &self.model, &mut self.prior);
        a.hold = None;
        a.held_messages = 0;
        a.held_recipients = 0;
        a.release = Some(Release {
            until_ms: now.ms.saturating_add(HOUR_MS),
            hour_messages: a.window_messages,
            hour_recipients: a.window_recipients,
            day: a.day,
            day_messages: a.messages_today,
            day_external: a.external_today,
        });
    }

    /// An account's counts, baseline and hold state at `now_ms` (changes nothing).
    pub fn usage(&self, account: &str, now_ms: i64) -> Usage {
        let key = account_key(account);
        let now = self.clock.moment(clamp_ms(now_ms));
        let stored = self.accounts.get(key.as_ref());
        let known = stored.is_some();
        let mut a = stored.map_or_else(|| AccountState::new(&now), |a| (**a).clone());
        let mut prior = self.prior.clone();
        let now = a.advance(now, &self.clock, &self.model, &mut prior);
        let judge = Judge {
            model: &self.model,
            clock: &self.clock,
            prior: &prior,
        };
        let (slot, m, r) = judge.window_expected(&a, &now);
        Usage {
            account: key.into_owned(),
            known,
            messages_last_hour: a.window_messages,
            recipients_last_hour: a.window_recipients,
            messages_today: a.messages_today,
            external_recipients_today: a.external_today,
            hour_of_week: slot,
            hour_label: slot_label(slot),
            baseline_messages: tidy(m),
            baseline_recipients: tidy(r),
            weeks_of_history: tidy(a.weeks_of_history()),
            held: a.hold.as_deref().cloned(),
            released_until_ms: a.release.map(|r| r.until_ms),
        }
    }

    /// Every account whose sending is held, and why.
    pub fn held(&self) -> impl Iterator<Item = (&str, &SpikeReport)> {
        self.accounts
            .iter()
            .filter_map(|(k, a)| a.hold.as_deref().map(|h| (k.as_str(), h)))
    }

    /// Accounts the engine keeps state for.
    pub fn accounts(&self) -> usize {
        self.accounts.len()
    }

    /// Drops everything known about an account (its hold included).
    pub fn forget(&mut self, account: &str) {
        if let Some(a) = self.accounts.remove(account_key(account).as_ref()) {
            self.prior.remove(&a);
        }
    }

    /// Evicts accounts that sent nothing for [`IDLE_EVICTION_MS`] (held accounts are kept).
    /// Returns how many were evicted.
    pub fn prune(&mut self, now_ms: i64) -> usize {
        let cutoff = clamp_ms(now_ms).saturating_sub(IDLE_EVICTION_MS);
        let before = self.accounts.len();
        self.accounts
            .retain(|_, a| a.last_ms >= cutoff || a.hold.is_some());
        let evicted = before - self.accounts.len();
        if evicted > 0 {
            self.rebuild_derived();
        }
        evicted
    }

    /// The whole state as versioned JSON, for [`SendingControl::restore`].
    pub fn snapshot(&self) -> String {
        snapshot::write(self.accounts.iter().map(|(k, a)| (k, &**a)))
    }

    /// An engine from a [`SendingControl::snapshot`] and the current configuration.
    pub fn restore(json: &str, config: &SendingConfig) -> Result<SendingControl, SendingError> {
        let mut control = SendingControl::new(config)?;
        for (key, account) in snapshot::read(json)? {
            control.accounts.insert(key, Box::new(account));
        }
        control.rebuild_derived();
        Ok(control)
    }

    /// Recomputes per-account derived values and the population prior from scratch.
    fn rebuild_derived(&mut self) {
        self.prior = PopulationPrior::default();
        for a in self.accounts.values_mut() {
            a.refresh_derived(&self.model);
            a.in_prior = a.hours_tracked >= clock::SLOTS as u32;
            if a.in_prior {
                self.prior.add(a);
            }
        }
    }
}

/// What a decision reads besides the account: the model, the clock and the population.
struct Judge<'a> {
    model: &'a Model,
    clock: &'a LocalClock,
    prior: &'a PopulationPrior,
}

impl Judge<'_> {
    /// The expectation for the sliding hour: the larger of its two slots'.
    fn window_expected(&self, a: &AccountState, now: &Moment) -> (u16, f64, f64) {
        let previous = self.clock.slot_of_hour(now.hour - 1);
        let (m_now, r_now) = a.expected(now.slot, self.prior);
        let (m_prev, r_prev) = a.expected(previous, self.prior);
        let slot = if m_prev > m_now { previous } else { now.slot };
        (slot, m_now.max(m_prev), r_now.max(r_prev))
    }

    /// A spike report if the sliding hour is a spike (and not within a released burst).
    fn spike(&self, a: &AccountState, now: &Moment) -> Option<SpikeReport> {
        let min = self.model.spike_min_messages;
        if a.window_messages < min && a.window_recipients < min.saturating_mul(10) {
            return None;
        }
        let (_, m, r) = self.window_expected(a, now);
        let factor = self.model.spike_factor;
        let released = a.release.filter(|rel| now.ms < rel.until_ms);
        let messages = a.window_messages;
        let recipients = a.window_recipients;
        let doubled = |count: u32, at_release: Option<u32>| {
            at_release.is_none_or(|n| count >= n.saturating_mul(2))
        };
        if f64::from(messages) > factor * m
            && messages >= min
            && doubled(messages, released.map(|r| r.hour_messages))
        {
            return Some(self.report(a, now, SpikeReason::HourlySpike, None));
        }
        if f64::from(recipients) > factor * r
            && recipients >= min.saturating_mul(10)
            && doubled(recipients, released.map(|r| r.hour_recipients))
        {
            return Some(self.report(a, now, SpikeReason::RecipientSpike, None));
        }
        None
    }

    fn report(
        &self,
        a: &AccountState,
        now: &Moment,
        reason: SpikeReason,
        daily: Option<(u32, String)>,
    ) -> SpikeReport {
        let (slot, m, r) = self.window_expected(a, now);
        let factor = match reason {
            SpikeReason::RecipientSpike => f64::from(a.window_recipients) / r.max(0.1),
            _ => f64::from(a.window_messages) / m.max(0.1),
        };
        let (daily_limit, scope) = daily.unzip();
        SpikeReport {
            reason,
            at_ms: now.ms,
            messages_last_hour: a.window_messages,
            recipients_last_hour: a.window_recipients,
            baseline_messages: tidy(m),
            baseline_recipients: tidy(r),
            factor: tidy(factor),
            spike_factor: tidy(self.model.spike_factor),
            spike_min_messages: self.model.spike_min_messages,
            hour_of_week: slot,
            weeks_of_history: tidy(a.weeks_of_history()),
            messages_today: a.messages_today,
            external_recipients_today: a.external_today,
            daily_limit,
            scope,
        }
    }
}

/// The first daily limit the account's counts have passed, outside a released day's allowance.
fn daily_breach<'a>(
    a: &AccountState,
    limits: &limits::Resolved<'a>,
) -> Option<(DailyLimit, u32, limits::ScopeRef<'a>)> {
    let released = a.release.filter(|r| r.day == a.day);
    let passed = |count: u32, limit: Limit<'a>, at_release: Option<u32>| {
        limit.filter(|(max, _)| {
            count > *max && at_release.is_none_or(|n| count >= n.saturating_mul(2))
        })
    };
    if let Some((max, scope)) = passed(
        a.messages_today,
        limits.messages_per_day,
        released.map(|r| r.day_messages),
    ) {
        return Some((DailyLimit::MessagesPerDay, max, scope));
    }
    passed(
        a.external_today,
        limits.external_recipients_per_day,
        released.map(|r| r.day_external),
    )
    .map(|(max, scope)| (DailyLimit::ExternalRecipientsPerDay, max, scope))
}

/// A reported number rounded to 4 decimals: enough for people, and exactly what reading the
/// JSON snapshot back gives (a held account's report must survive a restore unchanged).
fn tidy(x: f64) -> f64 {
    if !x.is_finite() {
        0.0
    } else if x.abs() < 1e11 {
        (x * 1e4).round() / 1e4
    } else {
        x.round()
    }
}

/// Accounts are addresses, and Rampart's addresses are lower-case.
fn account_key(account: &str) -> Cow<'_, str> {
    if account.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(account.to_ascii_lowercase())
    } else {
        Cow::Borrowed(account)
    }
}

fn validate(config: &SendingConfig) -> Result<(Model, LocalClock), SendingError> {
    let clock = LocalClock::new(&config.timezone)?;
    if !(config.spike_factor.is_finite() && config.spike_factor >= 1.0) {
        return Err(SendingError::Config(format!(
            "spike_factor is {}; it must be a number of at least 1 (6.0 means +500%)",
            config.spike_factor
        )));
    }
    if !(0.01..=1.0).contains(&config.baseline_alpha) {
        return Err(SendingError::Config(format!(
            "baseline_alpha is {}; it must be between 0.01 and 1 (the weight of the newest week; \
             0.3 is usual)",
            config.baseline_alpha
        )));
    }
    Ok((
        Model {
            alpha: config.baseline_alpha,
            spike_factor: config.spike_factor,
            spike_min_messages: config.spike_min_messages,
        },
        clock,
    ))
}
