//! Sending control, as specifications.

use rampart_model::config::{SendLimits, SendingConfig};

use super::account::{half_from_f64, half_to_f64, AccountState, Model, PopulationPrior};
use super::clock::{slot_label, LocalClock, DAY_MS, HOUR_MS, MINUTE_MS, SLOTS};
use super::*;
use crate::PolicyScope;

/// 2024-01-01 00:00 UTC, a Monday.
const MONDAY: i64 = 1_704_067_200_000;
const WEEK: i64 = 7 * DAY_MS;
const ANA: &str = "ana@example.org";

fn limits(
    per_hour: Option<u32>,
    per_day: Option<u32>,
    per_message: Option<u32>,
    external: Option<u32>,
) -> SendLimits {
    SendLimits {
        messages_per_hour: per_hour,
        messages_per_day: per_day,
        recipients_per_message: per_message,
        external_recipients_per_day: external,
    }
}

fn with_org(org: SendLimits) -> SendingConfig {
    SendingConfig {
        org,
        ..SendingConfig::default()
    }
}

fn control(config: &SendingConfig) -> SendingControl {
    match SendingControl::new(config) {
        Ok(c) => c,
        Err(e) => panic!("valid test configuration refused: {e}"),
    }
}

fn req(account: &str, recipients: u32) -> SendRequest<'_> {
    SendRequest {
        account,
        department: None,
        level: None,
        recipients,
        external_recipients: 0,
    }
}

/// splitmix64: the tests' seeded noise.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        crate::util::mix64(self.0)
    }

    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// `weeks` of office mail from `start` (a Monday 00:00 UTC): `lo..=hi` messages an hour on
/// weekdays 09–17, at random minutes. A hold is released at once (the user verifies); returns
/// how many holds there were.
fn office_weeks(
    c: &mut SendingControl,
    account: &str,
    start: i64,
    weeks: i64,
    lo: u64,
    hi: u64,
    noise: &mut Noise,
) -> u32 {
    let mut holds = 0;
    for day in 0..weeks * 7 {
        if day % 7 >= 5 {
            continue;
        }
        for hour in 9..17 {
            let n = noise.between(lo, hi);
            let mut minutes: Vec<i64> = (0..n).map(|_| noise.between(0, 59) as i64).collect();
            minutes.sort_unstable();
            for m in minutes {
                let at = start + day * DAY_MS + hour * HOUR_MS + m * MINUTE_MS;
                match c.check(&req(account, 1 + noise.between(0, 2) as u32), at) {
                    SendDecision::Allow => {}
                    SendDecision::Hold(_) => {
                        holds += 1;
                        c.release(account, at);
                    }
                    d => panic!("office mail at {at}: {d:?}"),
                }
            }
        }
    }
    holds
}

// ---------------------------------------------------------------------------------------------
// Limits by scope

fn layered_config() -> SendingConfig {
    let mut config = with_org(limits(Some(300), Some(2000), Some(500), Some(2000)));
    config
        .departments
        .insert("sales".into(), limits(Some(100), None, None, Some(5000)));
    config
        .levels
        .insert("manager".into(), limits(None, Some(4000), None, None));
    config
        .users
        .insert("Ana@Example.org".into(), limits(None, None, Some(50), None));
    config
}

#[test]
fn each_limit_comes_from_the_most_specific_scope_that_sets_it() {
    let c = control(&layered_config());
    let l = c.limits_for(ANA, Some("sales"), Some("manager"));
    let scoped = |max, scope| Some(ScopedLimit { max, scope });
    assert_eq!(
        l.messages_per_hour,
        scoped(100, PolicyScope::Department("sales".into()))
    );
    assert_eq!(
        l.messages_per_day,
        scoped(4000, PolicyScope::Level("manager".into()))
    );
    assert_eq!(
        l.recipients_per_message,
        scoped(50, PolicyScope::User("Ana@Example.org".into()))
    );
    assert_eq!(
        l.external_recipients_per_day,
        scoped(5000, PolicyScope::Department("sales".into()))
    );
    let explained: Vec<String> = l
        .explain()
        .iter()
        .map(|(name, max, scope)| format!("{name}={max} from {scope}"))
        .collect();
    assert_eq!(
        explained,
        [
            "messages_per_hour=100 from department:sales",
            "messages_per_day=4000 from level:manager",
            "recipients_per_message=50 from user:Ana@Example.org",
            "external_recipients_per_day=5000 from department:sales",
        ]
    );
}

#[test]
fn unknown_department_and_level_fall_back_to_the_organisation() {
    let c = control(&layered_config());
    let l = c.limits_for("bo@example.org", Some("legal"), Some("intern"));
    assert!(l
        .explain()
        .iter()
        .all(|(_, _, scope)| *scope == PolicyScope::Org));
    assert_eq!(l.messages_per_hour.map(|l| l.max), Some(300));
}

#[test]
fn a_limit_no_scope_sets_is_unlimited() {
    let config = SendingConfig {
        org: SendLimits::default(),
        spike_min_messages: 1_000_000,
        ..SendingConfig::default()
    };
    let mut c = control(&config);
    assert_eq!(c.limits_for(ANA, None, None), EffectiveLimits::default());
    for i in 0..1000 {
        assert_eq!(c.check(&req(ANA, 1000), MONDAY + i * 1000).code(), "allow");
    }
}

// ---------------------------------------------------------------------------------------------
// Hourly and per-message limits

#[test]
fn defers_past_the_hourly_limit_until_the_oldest_message_leaves_the_hour() {
    let mut config = layered_config();
    config
        .departments
        .insert("sales".into(), limits(Some(5), None, None, None));
    let mut c = control(&config);
    let ten = MONDAY + 10 * HOUR_MS;
    let sales = |recipients| SendRequest {
        department: Some("sales"),
        ..req("bo@example.org", recipients)
    };
    for i in 0..5 {
        assert_eq!(
            c.check(&sales(1), ten + i * 10 * MINUTE_MS),
            SendDecision::Allow
        );
    }
    let at = ten + 50 * MINUTE_MS;
    let SendDecision::Defer(breach) = c.check(&sales(1), at) else {
        panic!("the sixth message in an hour must be deferred");
    };
    assert_eq!(breach.limit, "messages_per_hour");
    assert_eq!(breach.scope, "department:sales");
    assert_eq!((breach.max, breach.current), (5, 5));
    assert_eq!(breach.retry_after_ms, Some(ten + HOUR_MS));
    assert_eq!(
        breach.message(),
        "hourly message limit reached: 5 of 5 (department sales); try again after 11:00 UTC"
    );
    // A deferred message is not counted, and the window frees exactly on time.
    assert_eq!(c.usage("bo@example.org", at).messages_last_hour, 5);
    assert_eq!(c.check(&sales(1), ten + HOUR_MS - 1).code(), "defer");
    assert_eq!(c.check(&sales(1), ten + HOUR_MS), SendDecision::Allow);
    let SendDecision::Defer(breach) = c.check(&sales(1), ten + HOUR_MS) else {
        panic!("still five in the hour");
    };
    assert_eq!(breach.retry_after_ms, Some(ten + HOUR_MS + 10 * MINUTE_MS));
}

#[test]
fn retry_time_is_shown_in_the_configured_time_zone() {
    let mut config = with_org(limits(Some(1), None, None, None));
    config.timezone = "Asia/Shanghai".into();
    let mut c = control(&config);
    let at = MONDAY + 6 * HOUR_MS + 5 * MINUTE_MS; // 14:05 in Shanghai
    assert!(c.check(&req(ANA, 1), at).is_allowed());
    let SendDecision::Defer(breach) = c.check(&req(ANA, 1), at) else {
        panic!("over the limit of one");
    };
    assert_eq!(breach.retry_after_local.as_deref(), Some("15:05 CST"));
    assert!(breach.message().ends_with("try again after 15:05 CST"));
}

#[test]
fn a_limit_of_zero_defers_without_a_retry_time() {
    let config = with_org(limits(Some(0), None, None, None));
    let mut c = control(&config);
    let SendDecision::Defer(breach) = c.check(&req(ANA, 1), MONDAY) else {
        panic!("nothing may be sent");
    };
    assert_eq!(breach.retry_after_ms, None);
    assert_eq!(
        breach.message(),
        "hourly message limit reached: 0 of 0 (organisation)"
    );
}

#[test]
fn rejects_a_message_with_too_many_recipients_without_counting_it() {
    let mut c = control(&layered_config());
    let d = c.check(&req(ANA, 51), MONDAY);
    let SendDecision::Reject(breach) = &d else {
        panic!("51 recipients against a user limit of 50: {d:?}");
    };
    assert_eq!(breach.limit, "recipients_per_message");
    assert_eq!(breach.scope, "user:Ana@Example.org");
    assert_eq!((breach.max, breach.current), (50, 51));
    assert_eq!(breach.retry_after_ms, None);
    assert_eq!(
        d.message().as_deref(),
        Some("too many recipients: 51 in one message, the limit is 50 (user Ana@Example.org)")
    );
    assert!(!c.usage(ANA, MONDAY).known);
    assert_eq!(c.check(&req(ANA, 50), MONDAY), SendDecision::Allow);
    assert_eq!(c.usage(ANA, MONDAY).recipients_last_hour, 50);
}

// ---------------------------------------------------------------------------------------------
// Daily limits

#[test]
fn passing_the_daily_limit_holds_the_account_until_release() {
    let config = with_org(limits(None, Some(10), None, None));
    let mut c = control(&config);
    // Ten messages over the day, at office hours: no spike, no hold.
    for i in 0..10 {
        let at = MONDAY + 8 * HOUR_MS + i * HOUR_MS;
        assert_eq!(c.check(&req(ANA, 1), at), SendDecision::Allow);
    }
    let at = MONDAY + 19 * HOUR_MS;
    let SendDecision::Hold(report) = c.check(&req(ANA, 1), at) else {
        panic!("the eleventh message of the day must be held");
    };
    assert_eq!(
        report.reason,
        SpikeReason::DailyLimit(DailyLimit::MessagesPerDay)
    );
    assert_eq!(report.reason.code(), "messages_per_day");
    assert_eq!(report.messages_today, 11);
    assert_eq!(report.daily_limit, Some(10));
    assert_eq!(report.scope.as_deref(), Some("org"));
    assert_eq!(
        report.message(),
        "daily limit passed: 11 messages today, the limit is 10 (organisation)"
    );
    // Sticky: every later message is held too, even the next day, and counted.
    for at in [at + MINUTE_MS, at + DAY_MS, at + 3 * DAY_MS] {
        assert_eq!(
            c.check(&req(ANA, 1), at),
            SendDecision::Hold(report.clone())
        );
    }
    assert_eq!(c.held().count(), 1);
    let later = at + 3 * DAY_MS;
    assert_eq!(c.usage(ANA, later).held, Some(report));
    c.release(ANA, later);
    assert_eq!(c.usage(ANA, later).held, None);
    assert_eq!(
        c.check(&req(ANA, 1), later + MINUTE_MS),
        SendDecision::Allow
    );
    assert_eq!(c.held().count(), 0);
}

#[test]
fn after_a_daily_release_only_a_doubling_holds_again_that_day() {
    let config = with_org(limits(None, Some(10), None, None));
    let mut c = control(&config);
    let at = |i: i64| MONDAY + 8 * HOUR_MS + i * 20 * MINUTE_MS;
    for i in 0..10 {
        assert!(c.check(&req(ANA, 1), at(i)).is_allowed());
    }
    assert_eq!(c.check(&req(ANA, 1), at(10)).code(), "hold");
    c.release(ANA, at(10));
    for i in 11..21 {
        assert!(c.check(&req(ANA, 1), at(i)).is_allowed(), "message {i}");
    }
    assert_eq!(c.check(&req(ANA, 1), at(21)).code(), "hold"); // 22 = twice 11
}

#[test]
fn the_day_resets_at_local_midnight() {
    let mut config = with_org(limits(None, Some(2), None, None));
    config.timezone = "Asia/Shanghai".into();
    let mut c = control(&config);
    let local_midnight = MONDAY + DAY_MS - 8 * HOUR_MS; // Tuesday 00:00 in Shanghai
    assert!(c
        .check(&req(ANA, 1), local_midnight - 2 * MINUTE_MS)
        .is_allowed());
    assert!(c
        .check(&req(ANA, 1), local_midnight - MINUTE_MS)
        .is_allowed());
    assert_eq!(c.usage(ANA, local_midnight - 1).messages_today, 2);
    assert_eq!(c.usage(ANA, local_midnight).messages_today, 0);
    assert!(c.check(&req(ANA, 1), local_midnight).is_allowed());
    assert!(c.check(&req(ANA, 1), local_midnight + 1).is_allowed());
    assert_eq!(c.check(&req(ANA, 1), local_midnight + 2).code(), "hold");
}

#[test]
fn only_external_recipients_count_toward_the_external_daily_limit() {
    let config = with_org(limits(None, None, None, Some(100)));
    let mut c = control(&config);
    let send = |c: &mut SendingControl, recipients, external, at| {
        c.check(
            &SendRequest {
                recipients,
                external_recipients: external,
                ..req(ANA, 0)
            },
            at,
        )
    };
    for i in 0..10 {
        let at = MONDAY + 9 * HOUR_MS + i * 30 * MINUTE_MS;
        assert!(send(&mut c, 20, 10, at).is_allowed());
    }
    assert_eq!(
        c.usage(ANA, MONDAY + 15 * HOUR_MS)
            .external_recipients_today,
        100
    );
    let SendDecision::Hold(report) = send(&mut c, 1, 1, MONDAY + 15 * HOUR_MS) else {
        panic!("the 101st external recipient of the day must hold the account");
    };
    assert_eq!(
        report.reason,
        SpikeReason::DailyLimit(DailyLimit::ExternalRecipientsPerDay)
    );
    assert_eq!(report.external_recipients_today, 101);
    assert_eq!(
        report.message(),
        "daily limit passed: 101 external recipients today, the limit is 100 (organisation)"
    );
}

// ---------------------------------------------------------------------------------------------
// Spikes

/// Four weeks of 2–6 messages an hour on weekdays 09–17, then Tuesday of week five.
fn office_account() -> (SendingControl, i64) {
    let mut c = control(&SendingConfig::default());
    let mut noise = Noise(42);
    assert_eq!(office_weeks(&mut c, ANA, MONDAY, 4, 2, 6, &mut noise), 0);
    (c, MONDAY + 4 * WEEK + DAY_MS)
}

#[test]
fn holds_a_burst_after_four_weeks_of_office_mail_with_the_numbers_that_tripped_it() {
    let (mut c, tuesday) = office_account();
    let mut noise = Noise(7);
    let mut today = 0u32;
    // A normal 09:00 hour first.
    for m in [5, 17, 33, 48] {
        assert!(c
            .check(&req(ANA, 2), tuesday + 9 * HOUR_MS + m * MINUTE_MS)
            .is_allowed());
        today += 1;
    }
    let ten = tuesday + 10 * HOUR_MS;
    let usual = c.usage(ANA, ten);
    assert!(
        (2.0..6.0).contains(&usual.baseline_messages),
        "baseline for Tuesday 10:00 should be near the usual 2–6: {usual:?}"
    );
    assert!((4.0..4.2).contains(&usual.weeks_of_history));
    let mut first_hold = None;
    for i in 0..150 {
        let at = ten + i * 24_000; // 150 messages in the hour
        let before = c.usage(ANA, at);
        let d = c.check(&req(ANA, 1 + noise.between(0, 2) as u32), at);
        today += 1;
        match (&d, &first_hold) {
            (SendDecision::Allow, None) => {}
            (SendDecision::Hold(r), None) => first_hold = Some((i, r.clone(), before, today)),
            (SendDecision::Hold(r), Some((_, first, _, _))) => assert_eq!(r, first),
            _ => panic!("message {i} of the burst: {d:?}"),
        }
    }
    let Some((i, report, before, today_at_hold)) = first_hold else {
        panic!("a burst of 150 in an hour was not held");
    };
    assert_eq!(report.reason, SpikeReason::HourlySpike);
    assert_eq!(
        report.messages_last_hour, 30,
        "held when the hour reached the minimum"
    );
    assert_eq!(before.messages_last_hour, 29);
    assert!(i < 30, "the hour also held some of the 09:00 messages");
    assert_eq!(report.messages_today, today_at_hold);
    assert_eq!(report.baseline_messages, before.baseline_messages);
    assert!(report.baseline_messages * report.spike_factor < 30.0);
    assert!((report.factor - 30.0 / report.baseline_messages).abs() < 1e-3);
    assert!([33, 34].contains(&report.hour_of_week));
    assert_eq!(report.spike_factor, 6.0);
    let message = report.message();
    assert!(
        message.starts_with("30 messages in the last hour against a usual ")
            && message.contains(&format!("{:.1} for Tuesday", report.baseline_messages))
            && message.ends_with("×, limit +500%)"),
        "{message}"
    );
    // The whole burst is counted (held messages are kept, not refused).
    assert_eq!(c.usage(ANA, ten + HOUR_MS - 1).messages_last_hour, 150);
    assert_eq!(c.usage(ANA, ten + HOUR_MS).held, Some(report));
}

#[test]
fn the_same_volume_spread_over_the_week_is_not_a_spike() {
    let (mut c, tuesday) = office_account();
    let monday = tuesday - DAY_MS;
    let mut noise = Noise(9);
    let mut extra = 0;
    for day in 0..5 {
        for hour in 9..17 {
            let n = noise.between(2, 6) + if extra < 150 { 4 } else { 0 };
            for k in 0..n as i64 {
                let at = monday + day * DAY_MS + hour * HOUR_MS + k * 60 / n as i64 * MINUTE_MS;
                assert_eq!(c.check(&req(ANA, 2), at), SendDecision::Allow);
            }
            extra += 4;
        }
    }
    assert!(extra >= 150);
}

#[test]
fn a_new_accounts_first_busy_hour_needs_the_minimum_to_be_a_spike() {
    let (mut c, tuesday) = office_account();
    let ten = tuesday + 10 * HOUR_MS;
    // Judged against the population (here the one office account), not against zero.
    let fresh = c.usage("new@example.org", ten);
    assert!(!fresh.known);
    assert!(fresh.baseline_messages > 1.0, "{fresh:?}");
    for i in 0..25 {
        assert!(c
            .check(&req("new@example.org", 1), ten + i * MINUTE_MS)
            .is_allowed());
    }
    let mut first_hold = None;
    for i in 0..200 {
        if let SendDecision::Hold(r) = c.check(&req("bulk@example.org", 1), ten + i * 15_000) {
            first_hold.get_or_insert(r);
        }
    }
    let Some(report) = first_hold else {
        panic!("200 messages in a new account's first hour must hold it");
    };
    let n = f64::from(report.messages_last_hour);
    assert!(
        n > 6.0 * report.baseline_messages && n >= 30.0,
        "{report:?}"
    );
    assert!(
        n == 30.0 || n - 1.0 <= 6.0 * report.baseline_messages,
        "held late: {report:?}"
    );
}

#[test]
fn a_recipient_spike_holds_even_with_few_messages() {
    let mut c = control(&SendingConfig::default());
    let at = MONDAY + 10 * HOUR_MS;
    assert!(c.check(&req(ANA, 150), at).is_allowed());
    let SendDecision::Hold(report) = c.check(&req(ANA, 150), at + MINUTE_MS) else {
        panic!("300 recipients in an hour from a new account must hold it");
    };
    assert_eq!(report.reason, SpikeReason::RecipientSpike);
    assert_eq!(report.recipients_last_hour, 300);
    assert!(report
        .message()
        .starts_with("300 recipients in the last hour"));
}

#[test]
fn release_clears_the_hold_and_tolerates_the_burst_until_it_doubles() {
    let mut c = control(&SendingConfig::default());
    let ten = MONDAY + 10 * HOUR_MS;
    let at = |i: i64| ten + i * 20_000;
    for i in 0..29 {
        assert!(c.check(&req(ANA, 1), at(i)).is_allowed());
    }
    assert_eq!(c.check(&req(ANA, 1), at(29)).code(), "hold");
    assert_eq!(c.check(&req(ANA, 1), at(30)).code(), "hold");
    c.release(ANA, at(31));
    let usage = c.usage(ANA, at(31));
    assert_eq!(usage.held, None);
    assert_eq!(usage.released_until_ms, Some(at(31) + HOUR_MS));
    // 31 at release: tolerated up to 61, held again at 62.
    for i in 31..61 {
        assert!(c.check(&req(ANA, 1), at(i)).is_allowed(), "message {i}");
    }
    assert_eq!(c.check(&req(ANA, 1), at(61)).code(), "hold");
}

#[test]
fn release_of_an_account_without_state_is_harmless() {
    let mut c = control(&SendingConfig::default());
    c.release("nobody@example.org", MONDAY);
    assert_eq!(c.accounts(), 0);
}

#[test]
fn held_messages_are_not_learned_but_released_ones_are() {
    let run = |release: bool| {
        let mut c = control(&SendingConfig::default());
        let ten = MONDAY + 10 * HOUR_MS;
        for i in 0..100 {
            c.check(&req(ANA, 1), ten + i * 30_000);
        }
        if release {
            c.release(ANA, ten + 59 * MINUTE_MS);
        }
        c.usage(ANA, ten + WEEK).baseline_messages
    };
    let (kept, released) = (run(false), run(true));
    assert!(
        kept < 30.0,
        "only the 29 messages before the hold are learned: {kept}"
    );
    assert!(released > 90.0, "a verified burst is learned: {released}");
}

// ---------------------------------------------------------------------------------------------
// Baseline over time

#[test]
fn months_of_silence_decay_the_baseline() {
    let mut c = control(&SendingConfig::default());
    let mut noise = Noise(3);
    // A heavy sender: held in its first busy hours (nothing to compare with yet), verified.
    let holds = office_weeks(&mut c, ANA, MONDAY, 4, 15, 25, &mut noise);
    assert!((1..5).contains(&holds), "{holds}");
    let tuesday = MONDAY + 4 * WEEK + DAY_MS;
    let busy = c.usage(ANA, tuesday + 10 * HOUR_MS).baseline_messages;
    assert!(busy > 12.0, "{busy}");
    // 40 in an hour is ordinary for this account...
    let mut d = c.clone();
    for i in 0..40 {
        assert!(d
            .check(&req(ANA, 1), tuesday + 10 * HOUR_MS + i * MINUTE_MS)
            .is_allowed());
    }
    // ...but not after half a year without a single message.
    let later = tuesday + 26 * WEEK + 10 * HOUR_MS;
    let quiet = c.usage(ANA, later);
    assert!(quiet.baseline_messages < 0.01, "{quiet:?}");
    assert!(quiet.weeks_of_history > 29.0);
    let held = (0..40)
        .map(|i| c.check(&req(ANA, 1), later + i * MINUTE_MS))
        .position(|d| d.code() == "hold");
    assert_eq!(held, Some(29));
}

#[test]
fn folding_a_long_silence_at_once_equals_folding_it_hour_by_hour() {
    let clock = match LocalClock::new("UTC") {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let model = Model {
        alpha: 0.3,
        spike_factor: 6.0,
        spike_min_messages: 30,
    };
    for weeks_before in [0, 1, 5] {
        for idle in [1_i64, 100, 167, 168, 169, 1000, 5000] {
            let start = clock.moment(MONDAY);
            let mut a = AccountState::new(&start);
            let mut prior = PopulationPrior::default();
            // Some history: hour h of the week has h % 7 messages.
            for h in 0..weeks_before * 168 {
                let t = clock.moment(MONDAY + h * HOUR_MS);
                a.advance(t, &clock, &model, &mut prior);
                for _ in 0..h % 7 {
                    a.count(1, 0, false);
                }
            }
            let base = MONDAY + weeks_before * 168 * HOUR_MS;
            let mut b = a.clone();
            let mut prior_b = prior.clone();
            a.advance(
                clock.moment(base + idle * HOUR_MS),
                &clock,
                &model,
                &mut prior,
            );
            for h in 1..=idle {
                b.advance(
                    clock.moment(base + h * HOUR_MS),
                    &clock,
                    &model,
                    &mut prior_b,
                );
            }
            assert_eq!(a.hours_tracked, b.hours_tracked);
            for s in 0..SLOTS {
                let (x, y) = (
                    half_to_f64(a.base_messages[s]),
                    half_to_f64(b.base_messages[s]),
                );
                assert!(
                    (x - y).abs() <= 0.01 * x.max(y) + 1e-4,
                    "weeks {weeks_before}, idle {idle}, slot {s}: {x} vs {y}"
                );
            }
        }
    }
}

#[test]
fn centuries_of_silence_cost_no_more_than_a_week() {
    let mut c = control(&SendingConfig::default());
    assert!(c.check(&req(ANA, 1), MONDAY).is_allowed());
    let start = std::time::Instant::now();
    assert!(c
        .check(&req(ANA, 1), MONDAY + 300 * 365 * DAY_MS)
        .is_allowed());
    assert!(c.check(&req(ANA, 1), i64::MAX).is_allowed());
    assert!(start.elapsed() < std::time::Duration::from_millis(50));
    assert_eq!(c.usage(ANA, i64::MAX).messages_last_hour, 1);
}

#[test]
fn hours_map_to_local_hour_of_week_slots() {
    let slot = |tz: &str, ms: i64| match LocalClock::new(tz) {
        Ok(c) => c.moment(ms).slot,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(slot("UTC", MONDAY), 0);
    assert_eq!(
        slot("UTC", MONDAY + DAY_MS + 10 * HOUR_MS + 59 * MINUTE_MS),
        34
    );
    assert_eq!(slot_label(34), "Tuesday 10:00");
    assert_eq!(slot("UTC", MONDAY - 1), 167);
    // Shanghai is UTC+8: Monday 02:00 UTC is Monday 10:00 there.
    assert_eq!(slot("Asia/Shanghai", MONDAY + 2 * HOUR_MS), 10);
    // Kolkata is UTC+5:30: the UTC hour 04:00–05:00 is 09:30–10:30, mostly the 10:00 hour.
    assert_eq!(
        slot("Asia/Kolkata", MONDAY + 4 * HOUR_MS + 5 * MINUTE_MS),
        10
    );
    // Oslo in summer time (UTC+2): Monday 2024-07-01 08:00 UTC is 10:00.
    let july = MONDAY + 26 * WEEK;
    assert_eq!(slot("Europe/Oslo", july + 8 * HOUR_MS), 10);
    assert_eq!(slot("Europe/Oslo", MONDAY + 9 * HOUR_MS), 10);
}

// ---------------------------------------------------------------------------------------------
// Time, configuration, state

#[test]
fn time_going_backwards_neither_panics_nor_loses_counts() {
    let config = with_org(limits(Some(5), None, None, None));
    let mut c = control(&config);
    let t = MONDAY + 10 * HOUR_MS;
    for _ in 0..3 {
        assert!(c.check(&req(ANA, 1), t).is_allowed());
    }
    // A small step back is jitter: counted at the account's latest instant.
    assert!(c.check(&req(ANA, 1), t - 10 * MINUTE_MS).is_allowed());
    assert!(c.check(&req(ANA, 1), t - 50 * MINUTE_MS).is_allowed());
    assert_eq!(c.usage(ANA, t).messages_last_hour, 5);
    let SendDecision::Defer(breach) = c.check(&req(ANA, 1), t - 30 * MINUTE_MS) else {
        panic!("the hourly limit holds whatever the clock says");
    };
    assert_eq!(breach.retry_after_ms, Some(t + HOUR_MS));
    assert_eq!(c.check(&req(ANA, 1), t + HOUR_MS).code(), "allow");
    // A clock that was days ahead: the short-term counts restart, nothing breaks.
    let back = t - 3 * DAY_MS;
    assert!(c.check(&req(ANA, 1), back).is_allowed());
    let u = c.usage(ANA, back);
    assert_eq!((u.messages_last_hour, u.messages_today), (1, 1));
    assert!(c.check(&req(ANA, 1), back + MINUTE_MS).is_allowed());
    assert!(c.check(&req(ANA, 1), -5).is_allowed());
    assert!(c.check(&req(ANA, 1), i64::MIN).is_allowed());
}

#[test]
fn set_config_keeps_history_and_applies_new_limits() {
    let mut c = control(&SendingConfig::default());
    let mut noise = Noise(5);
    assert_eq!(office_weeks(&mut c, ANA, MONDAY, 2, 2, 6, &mut noise), 0);
    let at = MONDAY + 2 * WEEK + 10 * HOUR_MS;
    for i in 0..3 {
        assert!(c.check(&req(ANA, 1), at + i * MINUTE_MS).is_allowed());
    }
    let before = c.usage(ANA, at + 5 * MINUTE_MS);
    let config = with_org(limits(Some(3), None, None, None));
    assert_eq!(c.set_config(&config), Ok(()));
    assert_eq!(c.usage(ANA, at + 5 * MINUTE_MS), before);
    assert_eq!(c.check(&req(ANA, 1), at + 5 * MINUTE_MS).code(), "defer");
    let mut bad = config.clone();
    bad.timezone = "Mars/Olympus".into();
    assert!(c.set_config(&bad).is_err());
    assert_eq!(
        c.config(),
        &config,
        "a refused configuration changes nothing"
    );
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let config = SendingConfig {
        timezone: "Europe/Atlantis".into(),
        ..SendingConfig::default()
    };
    let Err(e) = SendingControl::new(&config) else {
        panic!("unknown time zone accepted");
    };
    assert_eq!(e, SendingError::Timezone("Europe/Atlantis".into()));
    assert!(e.to_string().contains("IANA name such as"), "{e}");
    for (factor, alpha) in [(0.5, 0.3), (f64::NAN, 0.3), (6.0, 0.0), (6.0, 1.5)] {
        let config = SendingConfig {
            spike_factor: factor,
            baseline_alpha: alpha,
            ..SendingConfig::default()
        };
        assert!(matches!(
            SendingControl::new(&config),
            Err(SendingError::Config(_))
        ));
    }
}

#[test]
fn a_disabled_control_allows_everything_and_counts_nothing() {
    let config = SendingConfig {
        enabled: false,
        ..SendingConfig::default()
    };
    let mut c = control(&config);
    assert_eq!(c.check(&req(ANA, 100_000), MONDAY), SendDecision::Allow);
    assert_eq!(c.accounts(), 0);
}

#[test]
fn account_names_are_case_insensitive() {
    let mut c = control(&SendingConfig::default());
    assert!(c.check(&req("Ana@Example.ORG", 1), MONDAY).is_allowed());
    assert!(c.check(&req(ANA, 1), MONDAY).is_allowed());
    assert_eq!(c.usage("ANA@example.org", MONDAY).messages_last_hour, 2);
    assert_eq!(c.accounts(), 1);
}

#[test]
fn snapshot_and_restore_preserve_every_decision() {
    let (mut c, tuesday) = office_account();
    let ten = tuesday + 10 * HOUR_MS;
    for i in 0..10 {
        c.check(&req("bo@example.org", 40), ten - HOUR_MS + i * MINUTE_MS);
    }
    let json = c.snapshot();
    let mut r = match SendingControl::restore(&json, &SendingConfig::default()) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(r.snapshot(), json);
    for i in 0..150 {
        let at = ten + i * 24_000;
        for account in [ANA, "bo@example.org"] {
            assert_eq!(c.check(&req(account, 2), at), r.check(&req(account, 2), at));
        }
    }
    assert_eq!(c.held().count(), 2);
    let json = c.snapshot();
    let r = match SendingControl::restore(&json, &SendingConfig::default()) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(r.usage(ANA, ten + HOUR_MS), c.usage(ANA, ten + HOUR_MS));
}

#[test]
fn restore_refuses_other_versions_and_damaged_snapshots() {
    let config = SendingConfig::default();
    let mut c = control(&config);
    c.check(&req(ANA, 1), MONDAY);
    let json = c.snapshot();
    let v2 = json.replacen("\"version\":1", "\"version\":2", 1);
    assert_eq!(
        SendingControl::restore(&v2, &config).err(),
        Some(SendingError::SnapshotVersion {
            found: 2,
            expected: 1
        })
    );
    let damaged = [
        String::new(),
        "{}".to_string(),
        json.replacen("\"minute_messages\":[", "\"minute_messages\":[1,", 1),
        json.replacen(
            "\"baseline_messages\":[0",
            "\"baseline_messages\":[64512",
            1,
        ),
        json.replacen("\"last_ms\":", "\"last_ms\":-", 1),
        json[..json.len() / 2].to_string(),
    ];
    for bad in damaged {
        assert!(
            matches!(
                SendingControl::restore(&bad, &config),
                Err(SendingError::Snapshot(_))
            ),
            "{bad}"
        );
    }
    assert!(SendingControl::restore(&json, &config).is_ok());
}

#[test]
fn forget_and_prune_drop_state_but_keep_held_accounts() {
    let mut c = control(&SendingConfig::default());
    c.check(&req(ANA, 1), MONDAY);
    c.check(&req("bo@example.org", 1), MONDAY);
    for i in 0..30 {
        c.check(&req("held@example.org", 1), MONDAY + i * 1000);
    }
    assert_eq!(c.held().count(), 1);
    c.forget("BO@example.org");
    assert!(!c.usage("bo@example.org", MONDAY).known);
    assert_eq!(c.prune(MONDAY + IDLE_EVICTION_MS), 0);
    assert_eq!(c.prune(MONDAY + IDLE_EVICTION_MS + MINUTE_MS), 1);
    assert_eq!(c.accounts(), 1);
    assert!(c.usage("held@example.org", MONDAY).held.is_some());
}

#[test]
fn an_account_fits_the_memory_budget() {
    let size = std::mem::size_of::<AccountState>();
    assert!(size <= 1400, "{size} bytes per account");
    let (c, _) = office_account();
    assert!(c.snapshot().len() < 4000);
}

#[test]
fn half_floats_round_trip_every_value_they_can_hold() {
    for h in 0..0x7c00_u16 {
        let x = half_to_f64(h);
        let expected = if h < 0x0400 { 0 } else { h };
        assert_eq!(half_from_f64(x), expected, "{h:#x} = {x}");
    }
    assert_eq!(half_from_f64(-1.0), 0);
    assert_eq!(half_from_f64(f64::NAN), 0);
    assert_eq!(half_from_f64(1e9), 0x7bff);
    assert_eq!(half_to_f64(half_from_f64(3.1)), 3.099_609_375);
    for x in [0.5, 1.0, 2.75, 100.0, 1234.5] {
        assert!((half_to_f64(half_from_f64(x)) - x).abs() <= x / 2048.0);
    }
}

#[test]
fn decisions_explain_themselves() {
    assert_eq!(SendDecision::Allow.message(), None);
    assert_eq!(SendDecision::Allow.code(), "allow");
    let report = SpikeReport {
        reason: SpikeReason::HourlySpike,
        at_ms: MONDAY,
        messages_last_hour: 142,
        recipients_last_hour: 300,
        baseline_messages: 3.1,
        baseline_recipients: 6.0,
        factor: 142.0 / 3.1,
        spike_factor: 6.0,
        spike_min_messages: 30,
        hour_of_week: 34,
        weeks_of_history: 8.0,
        messages_today: 150,
        external_recipients_today: 20,
        daily_limit: None,
        scope: None,
    };
    assert_eq!(
        report.message(),
        "142 messages in the last hour against a usual 3.1 for Tuesday 10:00 (46×, limit +500%)"
    );
    let quiet = SpikeReport {
        baseline_messages: 0.0,
        factor: 420.0,
        messages_last_hour: 42,
        hour_of_week: 3,
        ..report
    };
    assert_eq!(
        quiet.message(),
        "42 messages in the last hour where this account usually sends none for Monday 03:00 \
         (a quiet hour: 30 or more make a spike)"
    );
}

// ---------------------------------------------------------------------------------------------
// Properties

mod properties {
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Check {
            account: usize,
            recipients: u32,
            external: u32,
            department: bool,
            step_ms: i64,
        },
        Release(usize),
        Forget(usize),
        Prune,
        Restore,
        ChangeZone(bool),
    }

    const ACCOUNTS: [&str; 3] = ["a@example.org", "b@example.org", "c@example.org"];

    fn step() -> impl Strategy<Value = i64> {
        prop_oneof![
            8 => 0..2 * MINUTE_MS,
            4 => 0..3 * HOUR_MS,
            1 => -2 * HOUR_MS..0,
            1 => -5 * DAY_MS..5 * DAY_MS,
            1 => 0..60 * DAY_MS,
            1 => any::<i64>(),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            20 => (0..3usize, 0..12u32, 0..12u32, any::<bool>(), step()).prop_map(
                |(account, recipients, external, department, step_ms)| Op::Check {
                    account,
                    recipients,
                    external: external.min(recipients),
                    department,
                    step_ms,
                }
            ),
            1 => (0..3usize).prop_map(Op::Release),
            1 => (0..3usize).prop_map(Op::Forget),
            1 => Just(Op::Prune),
            1 => Just(Op::Restore),
            1 => any::<bool>().prop_map(Op::ChangeZone),
        ]
    }

    fn small_limits(tz: &str) -> SendingConfig {
        let mut config = with_org(limits(Some(6), Some(15), Some(10), Some(20)));
        config
            .departments
            .insert("ops".into(), limits(Some(3), None, Some(8), None));
        config.spike_min_messages = 4;
        config.timezone = tz.into();
        config
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn no_sequence_of_requests_panics_or_counts_more_than_was_accepted(
            ops in proptest::collection::vec(op(), 1..250)
        ) {
            let mut config = small_limits("UTC");
            let mut c = control(&config);
            let mut now = MONDAY;
            // Messages and recipients accepted (allowed or held) per account since forgotten.
            let mut accepted = [(0u32, 0u32, 0u32); 3];
            for op in ops {
                match op {
                    Op::Check { account, recipients, external, department, step_ms } => {
                        now = now.saturating_add(step_ms);
                        let r = SendRequest {
                            account: ACCOUNTS[account],
                            department: department.then_some("ops"),
                            level: None,
                            recipients,
                            external_recipients: external,
                        };
                        let d = c.check(&r, now);
                        if let SendDecision::Reject(b) = &d {
                            prop_assert!(recipients > b.max);
                        }
                        if matches!(d, SendDecision::Allow | SendDecision::Hold(_)) {
                            let a = &mut accepted[account];
                            *a = (a.0 + 1, a.1 + recipients, a.2 + external);
                        }
                        if d.is_allowed() {
                            let max = if department { 8 } else { 10 };
                            prop_assert!(recipients <= max);
                        }
                    }
                    Op::Release(account) => c.release(ACCOUNTS[account], now),
                    Op::Forget(account) => {
                        c.forget(ACCOUNTS[account]);
                        accepted[account] = (0, 0, 0);
                    }
                    Op::Prune => {
                        c.prune(now);
                    }
                    Op::Restore => {
                        let json = c.snapshot();
                        let restored = SendingControl::restore(&json, &config);
                        prop_assert!(restored.is_ok());
                        if let Ok(r) = restored {
                            prop_assert_eq!(r.snapshot(), json);
                            c = r;
                        }
                    }
                    Op::ChangeZone(shanghai) => {
                        config = small_limits(if shanghai { "Asia/Shanghai" } else { "UTC" });
                        prop_assert!(c.set_config(&config).is_ok());
                    }
                }
                for (i, account) in ACCOUNTS.iter().enumerate() {
                    let u = c.usage(account, now);
                    let (m, r, x) = accepted[i];
                    if !u.known {
                        continue;
                    }
                    prop_assert!(u.messages_last_hour <= m, "{u:?} vs {m}");
                    prop_assert!(u.messages_today <= m);
                    prop_assert!(u.recipients_last_hour <= r);
                    prop_assert!(u.external_recipients_today <= x);
                    prop_assert!(u.baseline_messages.is_finite() && u.baseline_messages >= 0.0);
                    prop_assert!(u.baseline_recipients.is_finite() && u.baseline_recipients >= 0.0);
                }
            }
        }

        #[test]
        fn with_time_moving_forward_counts_are_exact_and_the_hourly_limit_holds(
            steps in proptest::collection::vec(
                (0..2usize, 0..12u32, prop_oneof![6 => 0..3 * MINUTE_MS, 1 => 0..2 * HOUR_MS], any::<bool>()),
                1..300,
            )
        ) {
            let config = small_limits("UTC");
            let mut c = control(&config);
            let mut now = MONDAY;
            // (minute, day) of every accepted message, per account.
            let mut log: [Vec<(i64, i64)>; 2] = [Vec::new(), Vec::new()];
            for (account, recipients, step_ms, release) in steps {
                now += step_ms;
                if release {
                    c.release(ACCOUNTS[account], now);
                }
                let d = c.check(&req(ACCOUNTS[account], recipients), now);
                let minute = now.div_euclid(MINUTE_MS);
                let day = now.div_euclid(DAY_MS);
                if matches!(d, SendDecision::Allow | SendDecision::Hold(_)) {
                    log[account].push((minute, day));
                }
                let in_hour = |log: &[(i64, i64)]| {
                    log.iter().filter(|(m, _)| *m > minute - 60).count() as u32
                };
                if d.is_allowed() {
                    prop_assert!(in_hour(&log[account]) <= 6);
                }
                if let SendDecision::Defer(b) = &d {
                    prop_assert_eq!(b.current, in_hour(&log[account]));
                    prop_assert!(b.retry_after_ms.is_some_and(|t| t > now && t <= now + HOUR_MS));
                }
                for (i, acc) in ACCOUNTS.iter().take(2).enumerate() {
                    let u = c.usage(acc, now);
                    prop_assert_eq!(u.messages_last_hour, in_hour(&log[i]));
                    let today = log[i].iter().filter(|(_, d)| *d == day).count() as u32;
                    prop_assert_eq!(u.messages_today, today);
                }
            }
        }

        #[test]
        fn damaged_snapshots_never_panic(
            cut in 0usize..4000,
            flips in proptest::collection::vec((0usize..4000, any::<u8>()), 0..4),
            garbage in proptest::collection::vec(any::<char>(), 0..200),
        ) {
            let (mut c, tuesday) = office_account();
            for i in 0..40 {
                c.check(&req(ANA, 3), tuesday + 10 * HOUR_MS + i * MINUTE_MS);
            }
            let mut bytes = c.snapshot().into_bytes();
            let len = bytes.len().max(1);
            for (at, b) in flips {
                if let Some(x) = bytes.get_mut(at % len) {
                    *x = b;
                }
            }
            bytes.truncate(cut.max(bytes.len() / 2));
            let text = String::from_utf8_lossy(&bytes);
            let _ = SendingControl::restore(&text, &SendingConfig::default());
            let garbage: String = garbage.into_iter().collect();
            let _ = SendingControl::restore(&garbage, &SendingConfig::default());
        }
    }
}
