//! One account's sending state (sliding hour, calendar day, hour-of-week baseline) and the
//! population prior every account's baseline is blended with.

use serde::{Deserialize, Serialize};

use super::clock::{LocalClock, Moment, HOUR_MS, SLOTS};
use super::decision::SpikeReport;

/// Minutes in the sliding hour.
pub(crate) const WINDOW: usize = 60;
/// Weight of a slot's own value against the account's all-hours mean (the rest).
const SLOT_WEIGHT: f64 = 0.8;

/// The baseline parameters from the configuration, checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Model {
    pub alpha: f64,
    pub spike_factor: f64,
    pub spike_min_messages: u32,
}

/// After a release: the burst then in progress is tolerated; only a doubling holds again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Release {
    /// End of the tolerated sliding hour (ms since the epoch).
    pub until_ms: i64,
    pub hour_messages: u32,
    pub hour_recipients: u32,
    /// The local day of the release and its counts then.
    pub day: i32,
    pub day_messages: u32,
    pub day_external: u32,
}

/// What the engine remembers about one account: about 1.3 KB.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AccountState {
    /// Latest instant seen: the account's clock never runs backwards.
    pub last_ms: i64,
    /// The minute `minutes[ring_minute % 60]` holds; the 59 before it are the rest of the
    /// sliding hour.
    pub ring_minute: i64,
    pub minute_messages: [u32; WINDOW],
    pub minute_recipients: [u32; WINDOW],
    /// Sums over the sliding hour.
    pub window_messages: u32,
    pub window_recipients: u32,
    /// The UTC-grid hour being accumulated for the baseline, its counts, and how much of them
    /// was sent while held (not learned unless released).
    pub hour: i64,
    pub hour_messages: u32,
    pub hour_recipients: u32,
    pub held_messages: u32,
    pub held_recipients: u32,
    /// Hours folded into the baseline (idle ones included).
    pub hours_tracked: u32,
    /// Local calendar day and its counts.
    pub day: i32,
    pub messages_today: u32,
    pub external_today: u32,
    /// Per hour-of-week slot, messages and recipients per hour (IEEE half floats).
    pub base_messages: [u16; SLOTS],
    pub base_recipients: [u16; SLOTS],
    pub release: Option<Release>,
    pub hold: Option<Box<SpikeReport>>,
    /// Derived: blend weight of the account's own baseline, slot sums, prior membership.
    pub evidence: f32,
    pub sum_messages: f32,
    pub sum_recipients: f32,
    pub in_prior: bool,
}

impl AccountState {
    pub(crate) fn new(at: &Moment) -> AccountState {
        AccountState {
            last_ms: at.ms,
            ring_minute: at.minute,
            minute_messages: [0; WINDOW],
            minute_recipients: [0; WINDOW],
            window_messages: 0,
            window_recipients: 0,
            hour: at.hour,
            hour_messages: 0,
            hour_recipients: 0,
            held_messages: 0,
            held_recipients: 0,
            hours_tracked: 0,
            day: at.day,
            messages_today: 0,
            external_today: 0,
            base_messages: [0; SLOTS],
            base_recipients: [0; SLOTS],
            release: None,
            hold: None,
            evidence: 0.0,
            sum_messages: 0.0,
            sum_recipients: 0.0,
            in_prior: false,
        }
    }

    /// Brings the account to `now`: closes finished hours into the baseline, slides the hour,
    /// starts a new day. Returns the instant the account is at, which is `now` unless the clock
    /// went backwards a little (then the account stays at its latest instant).
    pub(crate) fn advance(
        &mut self,
        now: Moment,
        clock: &LocalClock,
        model: &Model,
        prior: &mut PopulationPrior,
    ) -> Moment {
        /// A step back up to this long is treated as clock jitter; a longer one as a clock
        /// that was wrong before (the short-term counts restart, the baseline stays).
        const MAX_STEP_BACK_MS: i64 = 24 * HOUR_MS;
        let now = if now.ms >= self.last_ms {
            now
        } else if self.last_ms - now.ms <= MAX_STEP_BACK_MS {
            clock.moment(self.last_ms)
        } else {
            self.restart(&now);
            now
        };
        self.roll_hours(now.hour, clock, model, prior);
        self.slide(now.minute);
        if now.day != self.day {
            self.day = now.day;
            self.messages_today = 0;
            self.external_today = 0;
        }
        if self
            .release
            .is_some_and(|r| now.ms >= r.until_ms && r.day != now.day)
        {
            self.release = None;
        }
        self.last_ms = now.ms;
        now
    }

    fn restart(&mut self, now: &Moment) {
        self.ring_minute = now.minute;
        self.minute_messages = [0; WINDOW];
        self.minute_recipients = [0; WINDOW];
        self.window_messages = 0;
        self.window_recipients = 0;
        self.hour = now.hour;
        self.hour_messages = 0;
        self.hour_recipients = 0;
        self.held_messages = 0;
        self.held_recipients = 0;
        self.day = now.day;
        self.messages_today = 0;
        self.external_today = 0;
        self.release = None;
        self.last_ms = now.ms;
    }

    /// Moves the sliding hour so that `minute` is its newest minute.
    fn slide(&mut self, minute: i64) {
        if minute <= self.ring_minute {
            return;
        }
        if minute - self.ring_minute >= WINDOW as i64 {
            self.minute_messages = [0; WINDOW];
            self.minute_recipients = [0; WINDOW];
            self.window_messages = 0;
            self.window_recipients = 0;
        } else {
            for m in self.ring_minute + 1..=minute {
                let i = ring_index(m);
                self.window_messages = self.window_messages.saturating_sub(self.minute_messages[i]);
                self.window_recipients = self
                    .window_recipients
                    .saturating_sub(self.minute_recipients[i]);
                self.minute_messages[i] = 0;
                self.minute_recipients[i] = 0;
            }
        }
        self.ring_minute = minute;
    }

    /// Counts one message at the account's current minute.
    pub(crate) fn count(&mut self, recipients: u32, external: u32, held: bool) {
        let i = ring_index(self.ring_minute);
        let before = self.minute_messages[i];
        self.minute_messages[i] = before.saturating_add(1);
        self.window_messages = self
            .window_messages
            .saturating_add(self.minute_messages[i] - before);
        let before = self.minute_recipients[i];
        self.minute_recipients[i] = before.saturating_add(recipients);
        self.window_recipients = self
            .window_recipients
            .saturating_add(self.minute_recipients[i] - before);
        self.hour_messages = self.hour_messages.saturating_add(1);
        self.hour_recipients = self.hour_recipients.saturating_add(recipients);
        if held {
            self.held_messages = self.held_messages.saturating_add(1);
            self.held_recipients = self.held_recipients.saturating_add(recipients);
        }
        self.messages_today = self.messages_today.saturating_add(1);
        self.external_today = self.external_today.saturating_add(external);
    }

    /// When enough messages leave the sliding hour for one more to fit under `max`.
    pub(crate) fn window_frees_at(&self, max: u32) -> Option<i64> {
        if max == 0 {
            return None;
        }
        let need = (u64::from(self.window_messages) + 1).saturating_sub(u64::from(max));
        let mut freed = 0u64;
        for m in self.ring_minute - (WINDOW as i64 - 1)..=self.ring_minute {
            freed += u64::from(self.minute_messages[ring_index(m)]);
            if freed >= need {
                return Some((m + WINDOW as i64).saturating_mul(super::clock::MINUTE_MS));
            }
        }
        None
    }

    /// Closes the hour being accumulated and every idle hour up to `hour`.
    fn roll_hours(
        &mut self,
        hour: i64,
        clock: &LocalClock,
        model: &Model,
        prior: &mut PopulationPrior,
    ) {
        if hour <= self.hour {
            return;
        }
        let slot = usize::from(clock.slot_of_hour(self.hour)) % SLOTS;
        let learn_messages = self.hour_messages.saturating_sub(self.held_messages);
        let learn_recipients = self.hour_recipients.saturating_sub(self.held_recipients);
        let weight = update_weight(model.alpha, self.hours_tracked);
        self.set_slot(
            slot,
            |v| v + weight * (f64::from(learn_messages) - v),
            |v| v + weight * (f64::from(learn_recipients) - v),
            prior,
        );
        self.hours_tracked = self.hours_tracked.saturating_add(1);
        let idle = hour - self.hour - 1;
        if idle > 0 {
            self.fold_idle((slot + 1) % SLOTS, idle, model, prior);
        }
        self.hour = hour;
        self.hour_messages = 0;
        self.hour_recipients = 0;
        self.held_messages = 0;
        self.held_recipients = 0;
        self.refresh_derived(model);
        if !self.in_prior && self.hours_tracked >= SLOTS as u32 {
            self.in_prior = true;
            prior.add(self);
        }
    }

    /// `idle` hours without mail from `first_slot` on. Under a week, hour by hour; beyond, each
    /// slot is decayed once by the product of its zero updates, so months of silence cost the
    /// same as one week. Slots advance one per hour here: a DST change inside a silence shifts
    /// which slot gets a zero by an hour, which is harmless.
    fn fold_idle(
        &mut self,
        first_slot: usize,
        idle: i64,
        model: &Model,
        prior: &mut PopulationPrior,
    ) {
        let idle = u32::try_from(idle).unwrap_or(u32::MAX);
        if idle < SLOTS as u32 {
            for i in 0..idle {
                let keep = 1.0 - update_weight(model.alpha, self.hours_tracked.saturating_add(i));
                self.set_slot(
                    (first_slot + i as usize) % SLOTS,
                    |v| v * keep,
                    |v| v * keep,
                    prior,
                );
            }
        } else {
            let weeks = idle / SLOTS as u32;
            let extra = (idle % SLOTS as u32) as usize;
            let first_update = self.hours_tracked / SLOTS as u32 + 1;
            let keep = decay_product(model.alpha, first_update, weeks);
            let keep_extra = decay_product(model.alpha, first_update, weeks.saturating_add(1));
            for i in 0..SLOTS {
                let k = if i < extra { keep_extra } else { keep };
                self.set_slot((first_slot + i) % SLOTS, |v| v * k, |v| v * k, prior);
            }
        }
        self.hours_tracked = self.hours_tracked.saturating_add(idle);
    }

    fn set_slot(
        &mut self,
        slot: usize,
        messages: impl Fn(f64) -> f64,
        recipients: impl Fn(f64) -> f64,
        prior: &mut PopulationPrior,
    ) {
        let (old_m, old_r) = (self.base_messages[slot], self.base_recipients[slot]);
        let new_m = half_from_f64(messages(half_to_f64(old_m)));
        let new_r = half_from_f64(recipients(half_to_f64(old_r)));
        if (new_m, new_r) == (old_m, old_r) {
            return;
        }
        self.base_messages[slot] = new_m;
        self.base_recipients[slot] = new_r;
        if self.in_prior {
            prior.replace(slot, (old_m, old_r), (new_m, new_r));
        }
    }

    /// Recomputes what is derived from the stored baseline (after a fold, restore or new
    /// `baseline_alpha`).
    pub(crate) fn refresh_derived(&mut self, model: &Model) {
        let weeks = f64::from(self.hours_tracked) / SLOTS as f64;
        self.evidence = (1.0 - (1.0 - model.alpha).powf(weeks)) as f32;
        self.sum_messages = self
            .base_messages
            .iter()
            .map(|&h| half_to_f64(h))
            .sum::<f64>() as f32;
        self.sum_recipients = self
            .base_recipients
            .iter()
            .map(|&h| half_to_f64(h))
            .sum::<f64>() as f32;
    }

    /// Messages and recipients expected in one hour of `slot`: the account's slot (shrunk
    /// toward its all-hours mean) blended with the population prior by weeks of history.
    pub(crate) fn expected(&self, slot: u16, prior: &PopulationPrior) -> (f64, f64) {
        let s = usize::from(slot) % SLOTS;
        let c = f64::from(self.evidence);
        let (prior_m, prior_r) = prior.expected(s);
        let own = |slot_value: u16, sum: f32| {
            SLOT_WEIGHT * half_to_f64(slot_value)
                + (1.0 - SLOT_WEIGHT) * f64::from(sum) / SLOTS as f64
        };
        (
            c * own(self.base_messages[s], self.sum_messages) + (1.0 - c) * prior_m,
            c * own(self.base_recipients[s], self.sum_recipients) + (1.0 - c) * prior_r,
        )
    }

    pub(crate) fn weeks_of_history(&self) -> f64 {
        f64::from(self.hours_tracked) / SLOTS as f64
    }
}

fn ring_index(minute: i64) -> usize {
    minute.rem_euclid(WINDOW as i64) as usize
}

/// Weight of a slot's newest week: the plain mean while the slot has fewer than 1/α weeks
/// (so early weeks are not biased toward zero), `alpha` after.
fn update_weight(alpha: f64, hours_tracked: u32) -> f64 {
    let n = f64::from(hours_tracked / SLOTS as u32 + 1);
    alpha.max(1.0 / n)
}

/// What is left of a slot value after `updates` zero updates, the first being the slot's
/// `first`-th: ∏ (1 − max(α, 1/n)). The 1/n phase lasts under 1/α ≤ 100 steps, the rest is a
/// power.
fn decay_product(alpha: f64, first: u32, updates: u32) -> f64 {
    let mut keep = 1.0;
    let mut done = 0u32;
    while done < updates {
        let n = f64::from(first.saturating_add(done));
        if n * alpha >= 1.0 {
            break;
        }
        keep *= 1.0 - 1.0 / n;
        done += 1;
    }
    keep * (1.0 - alpha).powf(f64::from(updates - done))
}

/// The population's typical hourly rate per slot: exp of the mean of ln(1 + rate) over every
/// account with a full week of history, a geometric-style mean that one bulk sender cannot drag
/// up. Kept as running sums, updated as slots change; the sums are fixed-point integers, so
/// adding and removing accounts in any order (or rebuilding after a restore) gives exactly the
/// same prior.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PopulationPrior {
    log_messages: Box<[i64; SLOTS]>,
    log_recipients: Box<[i64; SLOTS]>,
    accounts: u32,
}

impl Default for PopulationPrior {
    fn default() -> Self {
        PopulationPrior {
            log_messages: Box::new([0; SLOTS]),
            log_recipients: Box::new([0; SLOTS]),
            accounts: 0,
        }
    }
}

/// Fixed-point scale of the prior's sums: ln(1 + 65504) · 2^32 · a million accounts fits i64.
const LOG_SCALE: f64 = 4_294_967_296.0;

fn log_fixed(h: u16) -> i64 {
    (half_to_f64(h).ln_1p() * LOG_SCALE).round() as i64
}

impl PopulationPrior {
    pub(crate) fn add(&mut self, a: &AccountState) {
        for s in 0..SLOTS {
            self.log_messages[s] =
                self.log_messages[s].saturating_add(log_fixed(a.base_messages[s]));
            self.log_recipients[s] =
                self.log_recipients[s].saturating_add(log_fixed(a.base_recipients[s]));
        }
        self.accounts = self.accounts.saturating_add(1);
    }

    pub(crate) fn remove(&mut self, a: &AccountState) {
        if !a.in_prior {
            return;
        }
        for s in 0..SLOTS {
            self.log_messages[s] =
                self.log_messages[s].saturating_sub(log_fixed(a.base_messages[s]));
            self.log_recipients[s] =
                self.log_recipients[s].saturating_sub(log_fixed(a.base_recipients[s]));
        }
        self.accounts = self.accounts.saturating_sub(1);
    }

    fn replace(&mut self, slot: usize, old: (u16, u16), new: (u16, u16)) {
        self.log_messages[slot] =
            self.log_messages[slot].saturating_add(log_fixed(new.0) - log_fixed(old.0));
        self.log_recipients[slot] =
            self.log_recipients[slot].saturating_add(log_fixed(new.1) - log_fixed(old.1));
    }

    fn expected(&self, slot: usize) -> (f64, f64) {
        if self.accounts == 0 {
            return (0.0, 0.0);
        }
        let mean = |sum: i64| {
            (sum as f64 / LOG_SCALE / f64::from(self.accounts))
                .exp_m1()
                .max(0.0)
        };
        (
            mean(self.log_messages[slot]),
            mean(self.log_recipients[slot]),
        )
    }
}

/// Largest finite half float.
const HALF_MAX: f64 = 65504.0;

/// Nearest IEEE 754 half float of a rate: 11 significant bits (0.05 %), up to 65504. Negative
/// and NaN become 0, values under 2^-14 (no sender's rate) flush to 0.
pub(crate) fn half_from_f64(x: f64) -> u16 {
    if x.is_nan() || x < 6.103_515_625e-5 {
        return 0;
    }
    if x >= HALF_MAX {
        return 0x7bff;
    }
    let bits = (x as f32).to_bits();
    let exp = ((bits >> 23) & 0xff) as i32 - 127 + 15;
    if exp < 1 {
        return 0;
    }
    let mantissa = bits & 0x7f_ffff;
    let mut h = ((exp as u32) << 10) | (mantissa >> 13);
    let rest = mantissa & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) {
        h += 1;
    }
    h.min(0x7bff) as u16
}

/// The value of a half float written by [`half_from_f64`] (any other bits read as 0 or the
/// largest value; restore rejects them first).
pub(crate) fn half_to_f64(h: u16) -> f64 {
    if h & 0x8000 != 0 {
        return 0.0;
    }
    let exp = u32::from(h >> 10) & 0x1f;
    let mantissa = u32::from(h) & 0x3ff;
    match exp {
        0 => f64::from(mantissa) * 2f64.powi(-24),
        31 => HALF_MAX,
        _ => f64::from(f32::from_bits(((exp + 112) << 23) | (mantissa << 13))),
    }
}

/// Whether restore may accept these bits: a non-negative finite half float.
pub(crate) fn half_is_valid(h: u16) -> bool {
    h & 0x8000 == 0 && (h >> 10) & 0x1f != 31
}
