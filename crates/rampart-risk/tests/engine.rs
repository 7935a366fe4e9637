//! The engine's rules, as specifications.

use std::net::IpAddr;

use ipnet::IpNet;
use rampart_model::Protocol;
use rampart_risk::{
    AdminPolicy, Decision, EffectivePolicy, Geo, LoginAttempt, LoginWindow, PolicyScope, Profile,
    RiskConfig, RiskDecision, RiskEngine, Weekday, MAX_PROFILE_ENTRIES,
};

/// 2024-01-01 00:00 UTC, a Monday.
const MONDAY: i64 = 1_704_067_200_000;
const HOUR: i64 = 3_600_000;
const MIN: i64 = 60_000;

fn oslo() -> Geo {
    Geo {
        country: Some("NO".into()),
        region: Some("Oslo County".into()),
        city: Some("Oslo".into()),
        asn: Some(2119),
        asn_name: Some("Telenor".into()),
        location: Some((59.91, 10.75)),
    }
}

fn singapore() -> Geo {
    Geo {
        country: Some("SG".into()),
        region: Some("Central".into()),
        city: Some("Singapore".into()),
        asn: Some(4773),
        asn_name: None,
        location: Some((1.29, 103.85)),
    }
}

fn attempt(account: &str, ip: &str, at_ms: i64, ok: bool) -> LoginAttempt {
    LoginAttempt {
        account: account.into(),
        protocol: Protocol::Http,
        ip: ip.parse().unwrap(),
        user_agent: Some(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/120.0.6099.110 Safari/537.36"
                .into(),
        ),
        device_id: None,
        at_ms,
        credential_ok: ok,
        geo: oslo(),
        rtt_ms: Some(20.0),
    }
}

fn none() -> EffectivePolicy {
    EffectivePolicy::default()
}

/// Assesses and records (verifying challenges), returning the decision.
fn run(engine: &mut RiskEngine, a: &LoginAttempt, p: &mut Profile) -> RiskDecision {
    let d = engine.assess(a, p, &none(), false);
    engine.record(a, &d, p, true);
    d
}

/// A profile with `n` daily logins from the same place and device.
fn habitual(engine: &mut RiskEngine, account: &str, n: i64) -> Profile {
    let mut p = Profile::new();
    for i in 0..n {
        let a = attempt(
            account,
            "192.0.2.10",
            MONDAY + i * 24 * HOUR + 9 * HOUR,
            true,
        );
        run(engine, &a, &mut p);
    }
    p
}

fn decided(action: Decision) -> RiskDecision {
    RiskDecision {
        action,
        score: 0.0,
        reasons: vec![],
        delay_ms: 0,
        retry_after_ms: None,
    }
}

#[test]
fn learns_only_from_allowed_or_verified_successful_logins() {
    let mut e = RiskEngine::new(RiskConfig::default());
    let mut p = Profile::new();
    let ok = attempt("ana", "192.0.2.10", MONDAY, true);
    let bad = attempt("ana", "192.0.2.10", MONDAY, false);

    e.record(&bad, &decided(Decision::Deny), &mut p, true);
    assert_eq!(p.logins(), 0, "a failure never teaches the profile");
    e.record(&ok, &decided(Decision::Challenge), &mut p, false);
    assert_eq!(p.logins(), 0, "an unverified challenge teaches nothing");
    e.record(&ok, &decided(Decision::Deny), &mut p, true);
    e.record(&ok, &decided(Decision::BlockSource), &mut p, true);
    assert_eq!(p.logins(), 0, "refused logins teach nothing");
    e.record(&ok, &decided(Decision::Challenge), &mut p, true);
    assert_eq!(p.logins(), 1, "a verified challenge is learned");
    e.record(&ok, &decided(Decision::Allow), &mut p, false);
    assert_eq!(p.logins(), 2);
    assert_eq!(e.population().logins(), 2);
}

#[test]
fn first_login_of_a_new_account_is_allowed() {
    let mut e = RiskEngine::new(RiskConfig::default());
    let p = Profile::new();
    let d = e.assess(
        &attempt("new", "192.0.2.10", MONDAY, true),
        &p,
        &none(),
        false,
    );
    assert_eq!(d.action, Decision::Allow, "{d:?}");
}

#[test]
fn delays_progressively_then_locks_only_the_account_and_address_pair() {
    let mut e = RiskEngine::new(RiskConfig::default());
    let mut p = Profile::new();
    let mut delays = Vec::new();
    let mut last = None;
    for i in 0..10 {
        let d = run(
            &mut e,
            &attempt("bo", "192.0.2.66", MONDAY + i * 1000, false),
            &mut p,
        );
        assert_eq!(d.action, Decision::Deny);
        delays.push(d.delay_ms);
        last = Some(d);
    }
    assert_eq!(&delays[..6], &[0, 0, 0, 1_000, 2_000, 4_000]);
    assert!(delays.windows(2).all(|w| w[1] >= w[0]));
    assert!(delays.iter().all(|&d| d <= 30_000), "capped: {delays:?}");
    let tenth = last.unwrap();
    assert!(tenth.has("account_ip_locked"), "{tenth:?}");
    assert_eq!(tenth.retry_after_ms, Some(15 * 60_000));

    // Even the right password from that address is refused while locked.
    let right = attempt("bo", "192.0.2.66", MONDAY + 20_000, true);
    let d = e.assess(&right, &p, &none(), false);
    assert_eq!(d.action, Decision::Deny);
    assert!(d.has("account_ip_locked"));
    assert!(d.retry_after_ms.unwrap() > 14 * 60_000);

    // The same account from another address is not locked: no global account lockout.
    let elsewhere = attempt("bo", "198.51.100.7", MONDAY + 21_000, true);
    let d = e.assess(&elsewhere, &p, &none(), false);
    assert_ne!(d.action, Decision::Deny, "{d:?}");
    assert!(!d.has("account_ip_locked"));
    let fail_elsewhere = attempt("bo", "198.51.100.7", MONDAY + 22_000, false);
    assert_eq!(e.assess(&fail_elsewhere, &p, &none(), false).delay_ms, 0);

    // Another account from the locked address is not locked either.
    let other = attempt("cy", "192.0.2.66", MONDAY + 23_000, true);
    assert!(!e
        .assess(&other, &p, &none(), false)
        .has("account_ip_locked"));

    // After the lock, the right password works and resets the counter.
    let later = attempt("bo", "192.0.2.66", MONDAY + 16 * MIN, true);
    let d = run(&mut e, &later, &mut p);
    assert!(!d.has("account_ip_locked"), "{d:?}");
    let fail_again = attempt("bo", "192.0.2.66", MONDAY + 17 * MIN, false);
    assert_eq!(e.assess(&fail_again, &p, &none(), false).delay_ms, 0);
}

#[test]
fn password_spray_from_one_address_blocks_the_source() {
    let mut e = RiskEngine::new(RiskConfig::default());
    let mut p = Profile::new();
    let mut decisions = Vec::new();
    for i in 0..10 {
        let a = attempt(
            &format!("user{i}"),
            "203.0.113.9",
            MONDAY + i * 30_000,
            false,
        );
        decisions.push(run(&mut e, &a, &mut p));
    }
    assert!(decisions[..9].iter().all(|d| d.action == Decision::Deny));
    let tenth = &decisions[9];
    assert_eq!(tenth.action, Decision::BlockSource, "{tenth:?}");
    assert!(tenth.has("password_spray"));
    let blocks = e.blocks();
    assert!(blocks
        .iter()
        .any(|b| b.net == "203.0.113.9/32".parse::<IpNet>().unwrap() && b.automatic));

    // Now everything from there is refused, even a right password.
    let d = e.assess(
        &attempt("user0", "203.0.113.9", MONDAY + 6 * MIN, true),
        &p,
        &none(),
        false,
    );
    assert_eq!(d.action, Decision::BlockSource);
    assert!(d.has("source_blocked"));
    assert!(d.retry_after_ms.is_some());
    // A neighbour address is not blocked by an IP block.
    let d = e.assess(
        &attempt("user0", "203.0.113.10", MONDAY + 6 * MIN, true),
        &p,
        &none(),
        false,
    );
    assert!(!d.has("source_blocked"));
}

#[test]
fn failures_spread_over_a_subnet_block_the_subnet() {
    let cfg = RiskConfig {
        subnet_failure_limit: 20,
        ip_failure_limit: 1000,
        spray_accounts_subnet: 1000,
        spray_accounts_ip: 1000,
        ..RiskConfig::default()
    };
    let mut e = RiskEngine::new(cfg);
    let mut p = Profile::new();
    let mut last = None;
    for i in 0..20 {
        let a = attempt(
            "dee",
            &format!("198.51.100.{}", i + 1),
            MONDAY + i * 1000,
            false,
        );
        last = Some(run(&mut e, &a, &mut p));
    }
    let d = last.unwrap();
    assert_eq!(d.action, Decision::BlockSource, "{d:?}");
    assert!(d.has("subnet_failure_limit"));
    assert!(e
        .blocks()
        .iter()
        .any(|b| b.net == "198.51.100.0/24".parse::<IpNet>().unwrap()));
    let d = e.assess(
        &attempt("eve", "198.51.100.200", MONDAY + 30_000, true),
        &p,
        &none(),
        false,
    );
    assert!(d.has("source_blocked"), "{d:?}");
}

#[test]
fn blocks_expire_and_can_be_lifted() {
    let mut e = RiskEngine::new(RiskConfig::default());
    let p = Profile::new();
    let net: IpNet = "192.0.2.0/24".parse().unwrap();
    e.block(net, Some(MONDAY + HOUR), "abuse report");
    let d = e.assess(
        &attempt("fay", "192.0.2.10", MONDAY, true),
        &p,
        &none(),
        false,
    );
    assert_eq!(d.action, Decision::BlockSource);
    assert_eq!(d.retry_after_ms, Some(HOUR as u64));
    assert!(d.reasons[0].detail.contains("abuse report"));
    let d = e.assess(
        &attempt("fay", "192.0.2.10", MONDAY + 2 * HOUR, true),
        &p,
        &none(),
        false,
    );
    assert!(!d.has("source_blocked"), "expired: {d:?}");
    assert!(e.blocks().is_empty());

    e.block(net, None, "permanent");
    assert!(e
        .assess(
            &attempt("fay", "192.0.2.10", MONDAY + 3 * HOUR, true),
            &p,
            &none(),
            false
        )
        .has("source_blocked"));
    assert!(e.unblock(net));
    assert!(!e
        .assess(
            &attempt("fay", "192.0.2.10", MONDAY + 3 * HOUR, true),
            &p,
            &none(),
            false
        )
        .has("source_blocked"));
}

#[test]
fn automatic_spray_blocks_end_after_their_duration() {
    let mut e = RiskEngine::new(RiskConfig::default());
    let mut p = Profile::new();
    for i in 0..10 {
        run(
            &mut e,
            &attempt(&format!("u{i}"), "203.0.113.50", MONDAY + i * 1000, false),
            &mut p,
        );
    }
    let day = 24 * HOUR;
    let blocked = e.assess(
        &attempt("u1", "203.0.113.50", MONDAY + day - MIN, true),
        &p,
        &none(),
        false,
    );
    assert!(blocked.has("source_blocked"));
    let free = e.assess(
        &attempt("u1", "203.0.113.50", MONDAY + day + MIN, true),
        &p,
        &none(),
        false,
    );
    assert!(!free.has("source_blocked"), "{free:?}");
}

#[test]
fn impossible_travel_is_flagged() {
    let mut e = RiskEngine::new(RiskConfig::default());
    let mut p = habitual(&mut e, "gus", 10);
    let last = MONDAY + 9 * 24 * HOUR + 9 * HOUR;
    let mut far = attempt("gus", "198.51.100.20", last + HOUR, true);
    far.geo = singapore();
    let d = e.assess(&far, &p, &none(), false);
    assert!(d.has("impossible_travel"), "{d:?}");
    assert!(d.has("new_country"));
    assert_ne!(d.action, Decision::Allow);

    // Two weeks later the same trip is possible.
    far.at_ms = last + 14 * 24 * HOUR;
    let d = e.assess(&far, &p, &none(), false);
    assert!(!d.has("impossible_travel"));
    e.record(&far, &d, &mut p, true);
}

#[test]
fn a_habitual_login_is_allowed_and_a_stranger_is_challenged() {
    let mut e = RiskEngine::new(RiskConfig::default());
    let p = habitual(&mut e, "hal", 40);
    let usual = attempt(
        "hal",
        "192.0.2.10",
        MONDAY + 41 * 24 * HOUR + 9 * HOUR,
        true,
    );
    let d = e.assess(&usual, &p, &none(), false);
    assert_eq!(d.action, Decision::Allow, "{d:?}");

    let mut stranger = attempt(
        "hal",
        "198.51.100.20",
        MONDAY + 41 * 24 * HOUR + 3 * HOUR,
        true,
    );
    stranger.geo = singapore();
    stranger.geo.location = None;
    stranger.user_agent = Some("python-requests/2.31".into());
    let d = e.assess(&stranger, &p, &none(), false);
    assert_eq!(d.action, Decision::Challenge, "{d:?}");
    for code in ["new_country", "new_asn", "new_device"] {
        assert!(d.has(code), "missing {code}: {d:?}");
    }
    assert!(d.score > usual_score(&mut e, &usual, &p) + 5.0);

    // A recently approved device skips novelty challenges...
    let d = e.assess(&stranger, &p, &none(), true);
    assert_eq!(d.action, Decision::Allow, "{d:?}");
    // ...but not admin deny rules.
    let fence = EffectivePolicy::from_policy(AdminPolicy {
        allowed_countries: Some(vec!["NO".into()]),
        ..AdminPolicy::default()
    });
    let d = e.assess(&stranger, &p, &fence, true);
    assert_eq!(d.action, Decision::Deny);
    assert!(d.has("geofence"));
}

fn usual_score(e: &mut RiskEngine, a: &LoginAttempt, p: &Profile) -> f64 {
    e.assess(a, p, &none(), false).score
}

#[test]
fn threat_listed_addresses_and_dormant_accounts_add_risk() {
    let mut e = RiskEngine::new(RiskConfig::default());
    let p = habitual(&mut e, "ida", 10);
    e.set_threat_ips(["198.51.100.0/24".parse().unwrap()]);
    let d = e.assess(
        &attempt("ida", "198.51.100.5", MONDAY + 10 * 24 * HOUR, true),
        &p,
        &none(),
        false,
    );
    assert!(d.has("threat_ip"), "{d:?}");
    let d = e.assess(
        &attempt(
            "ida",
            "192.0.2.10",
            MONDAY + 120 * 24 * HOUR + 9 * HOUR,
            true,
        ),
        &p,
        &none(),
        false,
    );
    assert!(d.has("dormant_account"), "{d:?}");
}

#[test]
fn geofence_rules_allow_and_deny_countries() {
    let mut e = RiskEngine::new(RiskConfig::default());
    let p = Profile::new();
    let allow_no = EffectivePolicy::from_policy(AdminPolicy {
        allowed_countries: Some(vec!["no".into()]),
        ..AdminPolicy::default()
    });
    let home = attempt("jo", "192.0.2.10", MONDAY, true);
    assert_eq!(
        e.assess(&home, &p, &allow_no, false).action,
        Decision::Allow
    );
    let mut abroad = home.clone();
    abroad.geo = singapore();
    let d = e.assess(&abroad, &p, &allow_no, false);
    assert_eq!(d.action, Decision::Deny);
    assert!(d.has("geofence"));
    let mut unknown = home.clone();
    unknown.geo = Geo::default();
    assert!(e.assess(&unknown, &p, &allow_no, false).has("geofence"));

    let deny_sg = EffectivePolicy::from_policy(AdminPolicy {
        denied_countries: Some(vec!["SG".into()]),
        ..AdminPolicy::default()
    });
    assert!(e.assess(&abroad, &p, &deny_sg, false).has("geofence"));
    assert!(!e.assess(&home, &p, &deny_sg, false).has("geofence"));
}

#[test]
fn login_windows_follow_the_policy_time_zone() {
    let mut e = RiskEngine::new(RiskConfig::default());
    let p = Profile::new();
    let office = EffectivePolicy::from_policy(AdminPolicy {
        login_windows: Some(vec![LoginWindow {
            days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            start: "08:00".into(),
            end: "19:00".into(),
        }]),
        timezone: Some("Asia/Shanghai".into()),
        ..AdminPolicy::default()
    });
    office.validate().unwrap();
    // Monday 01:00 UTC = Monday 09:00 in Shanghai: inside.
    let inside = attempt("kai", "192.0.2.10", MONDAY + HOUR, true);
    assert_eq!(
        e.assess(&inside, &p, &office, false).action,
        Decision::Allow
    );
    // Monday 12:00 UTC = 20:00 in Shanghai: outside, although inside 08-19 in UTC.
    let evening = attempt("kai", "192.0.2.10", MONDAY + 12 * HOUR, true);
    let d = e.assess(&evening, &p, &office, false);
    assert_eq!(d.action, Decision::Deny);
    assert!(d.has("outside_login_window"));
    // Sunday 02:00 UTC = Sunday 10:00 in Shanghai: not a working day.
    let sunday = attempt("kai", "192.0.2.10", MONDAY - 22 * HOUR, true);
    assert!(e
        .assess(&sunday, &p, &office, false)
        .has("outside_login_window"));

    // A window across midnight belongs to the day it starts.
    let night = EffectivePolicy::from_policy(AdminPolicy {
        login_windows: Some(vec![LoginWindow {
            days: vec![Weekday::Mon],
            start: "22:00".into(),
            end: "06:00".into(),
        }]),
        ..AdminPolicy::default()
    });
    assert!(night.in_login_window(MONDAY + 23 * HOUR));
    assert!(night.in_login_window(MONDAY + 29 * HOUR), "Tuesday 05:00");
    assert!(
        !night.in_login_window(MONDAY + 2 * HOUR),
        "Monday 02:00 belongs to Sunday"
    );

    let broken = EffectivePolicy::from_policy(AdminPolicy {
        timezone: Some("Mars/Olympus".into()),
        ..AdminPolicy::default()
    });
    assert!(broken.validate().unwrap_err().to_string().contains("IANA"));
}

#[test]
fn address_allow_and_deny_lists_are_enforced() {
    let mut e = RiskEngine::new(RiskConfig::default());
    let p = Profile::new();
    let policy = EffectivePolicy::from_policy(AdminPolicy {
        ip_allow: Some(vec![
            "192.0.2.0/24".parse().unwrap(),
            "2001:db8::/32".parse().unwrap(),
        ]),
        ip_deny: Some(vec!["192.0.2.128/25".parse().unwrap()]),
        ..AdminPolicy::default()
    });
    let inside = attempt("lu", "192.0.2.10", MONDAY, true);
    assert_eq!(
        e.assess(&inside, &p, &policy, false).action,
        Decision::Allow
    );
    let v6 = attempt("lu", "2001:db8::5", MONDAY, true);
    assert_eq!(e.assess(&v6, &p, &policy, false).action, Decision::Allow);
    for ip in ["192.0.2.200", "198.51.100.1"] {
        let d = e.assess(&attempt("lu", ip, MONDAY, true), &p, &policy, true);
        assert_eq!(d.action, Decision::Deny, "{ip}");
        assert!(d.has("ip_denied"));
    }
}

#[test]
fn device_binding_admits_only_known_or_enrolled_devices() {
    let mut e = RiskEngine::new(RiskConfig::default());
    let policy = EffectivePolicy::from_policy(AdminPolicy {
        device_binding: Some(true),
        ..AdminPolicy::default()
    });
    let mut p = Profile::new();
    let mut first = attempt("mo", "192.0.2.10", MONDAY, true);
    first.device_id = Some("laptop-1".into());
    // The first device is enrolled by verifying it.
    let d = e.assess(&first, &p, &policy, false);
    assert_eq!(d.action, Decision::Challenge);
    assert!(d.has("device_not_enrolled"));
    e.record(&first, &d, &mut p, true);
    assert!(p.knows_device("laptop-1"));
    assert_eq!(e.assess(&first, &p, &policy, false).action, Decision::Allow);

    let mut other = first.clone();
    other.device_id = Some("phone-9".into());
    let d = e.assess(&other, &p, &policy, false);
    assert_eq!(d.action, Decision::Deny);
    assert!(d.has("device_not_enrolled"));
    p.enroll_device("phone-9", MONDAY);
    assert_ne!(e.assess(&other, &p, &policy, false).action, Decision::Deny);
    p.revoke_device("phone-9");
    assert_eq!(e.assess(&other, &p, &policy, false).action, Decision::Deny);

    let mut anonymous = first.clone();
    anonymous.device_id = None;
    assert_eq!(
        e.assess(&anonymous, &p, &policy, false).action,
        Decision::Deny
    );
}

#[test]
fn mfa_required_challenges_unless_recently_approved() {
    let mut e = RiskEngine::new(RiskConfig::default());
    let p = Profile::new();
    let policy = EffectivePolicy::from_policy(AdminPolicy {
        mfa_required: Some(true),
        ..AdminPolicy::default()
    });
    let a = attempt("ned", "192.0.2.10", MONDAY, true);
    let d = e.assess(&a, &p, &policy, false);
    assert_eq!(d.action, Decision::Challenge);
    assert!(d.has("mfa_required"));
    assert_eq!(e.assess(&a, &p, &policy, true).action, Decision::Allow);
}

#[test]
fn policy_layers_merge_by_specificity_and_explain_their_origin() {
    let org = AdminPolicy {
        allowed_countries: Some(vec!["NO".into()]),
        mfa_required: Some(false),
        timezone: Some("Europe/Oslo".into()),
        ..AdminPolicy::default()
    };
    let finance = AdminPolicy {
        mfa_required: Some(true),
        ..AdminPolicy::default()
    };
    let exec = AdminPolicy {
        device_binding: Some(true),
        mfa_required: Some(false),
        ..AdminPolicy::default()
    };
    let travelling_user = AdminPolicy {
        allowed_countries: Some(vec!["NO".into(), "SE".into()]),
        ..AdminPolicy::default()
    };
    // Given out of order: the user layer first, the org layer last.
    let layers = vec![
        (PolicyScope::User("ola@example.org".into()), travelling_user),
        (PolicyScope::Level("executive".into()), exec),
        (PolicyScope::Department("finance".into()), finance),
        (PolicyScope::Org, org),
    ];
    let eff = EffectivePolicy::merge(&layers);
    let p = eff.policy();
    assert_eq!(
        p.allowed_countries.as_deref(),
        Some(&["NO".to_string(), "SE".to_string()][..])
    );
    assert_eq!(p.mfa_required, Some(false), "level overrides department");
    assert_eq!(p.device_binding, Some(true));
    assert_eq!(p.timezone.as_deref(), Some("Europe/Oslo"));
    assert_eq!(p.ip_allow, None);

    let explained = eff.explain();
    let fields: Vec<&str> = explained.iter().map(|(f, _, _)| *f).collect();
    assert_eq!(
        fields,
        [
            "allowed_countries",
            "device_binding",
            "timezone",
            "mfa_required"
        ]
    );
    assert_eq!(explained[0].1, r#"["NO","SE"]"#);
    assert_eq!(explained[0].2, PolicyScope::User("ola@example.org".into()));
    assert_eq!(explained[1].2, PolicyScope::Level("executive".into()));
    assert_eq!(explained[2].2, PolicyScope::Org);
    assert_eq!(
        explained[3],
        (
            "mfa_required",
            "false".to_string(),
            PolicyScope::Level("executive".into())
        )
    );

    // Policies come from configuration: the JSON shape.
    let json = r#"{"allowed_countries":["NO"],"login_windows":[{"days":["mon","friday"],"start":"08:00","end":"19:00"}],"ip_deny":["203.0.113.0/24"]}"#;
    let parsed: AdminPolicy = serde_json::from_str(json).unwrap();
    assert_eq!(
        parsed.login_windows.unwrap()[0].days,
        vec![Weekday::Mon, Weekday::Fri]
    );
    assert!(
        serde_json::from_str::<AdminPolicy>(r#"{"alowed_countries":[]}"#).is_err(),
        "typos are errors"
    );
}

#[test]
fn profile_stays_bounded_after_100k_logins_from_distinct_addresses() {
    let mut e = RiskEngine::new(RiskConfig::default());
    let mut p = Profile::new();
    for i in 0..100_000u32 {
        let ip = IpAddr::from([10 + (i >> 16) as u8, (i >> 8) as u8, i as u8, 7]);
        let mut a = attempt("pia", "192.0.2.1", MONDAY + i64::from(i) * MIN, true);
        a.ip = ip;
        a.geo.asn = Some(64_500 + i % 300);
        a.user_agent = Some(format!("Client/{i}"));
        e.record(&a, &decided(Decision::Allow), &mut p, false);
    }
    assert_eq!(p.logins(), 100_000);
    assert!(
        p.stored_values() <= MAX_PROFILE_ENTRIES,
        "{}",
        p.stored_values()
    );
    let bytes = p.to_bytes();
    assert!(bytes.len() < 32 * 1024, "{} bytes", bytes.len());
    assert_eq!(Profile::from_bytes(&bytes).unwrap(), p);
}

#[test]
fn profile_bytes_round_trip_and_corruption_is_an_error() {
    let mut e = RiskEngine::new(RiskConfig::default());
    let mut p = habitual(&mut e, "rae", 20);
    p.enroll_device("tablet", MONDAY);
    let bytes = p.to_bytes();
    let back = Profile::from_bytes(&bytes).unwrap();
    assert_eq!(back, p);
    assert!(back.knows_device("tablet"));
    assert_eq!(back.last_location(), p.last_location());

    assert!(Profile::from_bytes(&[]).is_err());
    assert!(Profile::from_bytes(&[9, 0, 0])
        .unwrap_err()
        .to_string()
        .contains("version"));
    for cut in [1, 2, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            Profile::from_bytes(&bytes[..cut]).is_err(),
            "truncated at {cut}"
        );
    }
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(Profile::from_bytes(&trailing).is_err());
    // serde works too (for JSON APIs).
    let json = serde_json::to_string(&p).unwrap();
    assert_eq!(serde_json::from_str::<Profile>(&json).unwrap(), p);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Profile::from_bytes(&bytes);
            let mut with_version = vec![1u8];
            with_version.extend_from_slice(&bytes);
            let _ = Profile::from_bytes(&with_version);
        }

        #[test]
        fn flipped_bytes_of_a_real_profile_never_panic(i in 0usize..400, x in 1u8..=255) {
            let mut e = RiskEngine::new(RiskConfig::default());
            let p = habitual(&mut e, "sam", 5);
            let mut bytes = p.to_bytes();
            let n = bytes.len();
            bytes[i % n] ^= x;
            if let Ok(q) = Profile::from_bytes(&bytes) {
                // Whatever decodes is still usable.
                let _ = e.assess(&attempt("sam", "192.0.2.10", MONDAY, true), &q, &none(), false);
            }
        }
    }
}

#[test]
fn decisions_serialize_with_stable_names() {
    let mut e = RiskEngine::new(RiskConfig::default());
    let p = Profile::new();
    let d = e.assess(
        &attempt("tia", "192.0.2.10", MONDAY, true),
        &p,
        &none(),
        false,
    );
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["action"], "allow");
    assert_eq!(
        serde_json::to_value(Decision::BlockSource).unwrap(),
        "block_source"
    );
    for k in ["score", "reasons", "delay_ms", "retry_after_ms"] {
        assert!(json.get(k).is_some(), "{k}");
    }
    let cfg: RiskConfig = serde_json::from_str(r#"{"challenge_score": 2.5}"#).unwrap();
    assert_eq!(cfg.lock_after_failures, 10);
}

#[test]
fn population_snapshots_restore_the_same_judgement() {
    let mut e = RiskEngine::new(RiskConfig::default());
    let p = habitual(&mut e, "uma", 12);
    let json = serde_json::to_string(e.population()).unwrap();
    let mut restored = RiskEngine::new(RiskConfig::default());
    restored.set_population(serde_json::from_str(&json).unwrap());
    assert_eq!(restored.population().logins(), 12);
    let a = attempt("uma", "198.51.100.3", MONDAY + 13 * 24 * HOUR, true);
    assert_eq!(
        e.assess(&a, &p, &none(), false).score,
        restored.assess(&a, &p, &none(), false).score
    );
}
