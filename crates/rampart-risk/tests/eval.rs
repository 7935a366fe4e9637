//! Replay and synthetic logs.

use std::path::PathBuf;

use rampart_risk::eval::{read_rba_csv, replay, replay_with, AttackerKind, ReplayOptions};
use rampart_risk::synth::{generate, geo_db, write_csv, SynthConfig};
use rampart_risk::{Decision, RiskConfig};

fn rba_sample() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpora/logins/rba-dataset-first18rows.csv");
    p.exists().then_some(p)
}

#[test]
fn replays_the_rba_sample() {
    let Some(path) = rba_sample() else {
        eprintln!("shared/corpora/logins not found: skipped");
        return;
    };
    let file = std::fs::File::open(path).unwrap();
    let records: Vec<_> = read_rba_csv(file).collect::<Result<_, _>>().unwrap();
    assert_eq!(records.len(), 19);
    assert_eq!(records[0].user_id, "-4324475583306591935");
    assert_eq!(records[15].rtt_ms, Some(1123.0));
    assert_eq!(records[0].region, None, "`-` is unknown");
    assert_eq!(records[4].asn, Some(398_986));
    assert!(records[4].attack_ip);

    let mut lines = Vec::new();
    let mut progress = 0;
    let opts = ReplayOptions {
        progress_every: 5,
        ..ReplayOptions::default()
    };
    let report = replay_with(
        records.into_iter(),
        &RiskConfig::default(),
        None,
        &opts,
        |index, score, decision| lines.push(format!("{index}\t{score:.3}\t{decision}")),
        |n| progress = n,
    );
    assert_eq!(report.attempts, 19);
    assert_eq!(report.failures, 12);
    assert_eq!(report.legit_logins, 7);
    assert_eq!(report.takeovers, 0);
    assert_eq!(report.auc, None, "no takeovers, no AUC");
    assert_eq!(progress, 19);
    assert_eq!(lines.len(), 19);
    assert!(lines[0].starts_with("0\t"), "{}", lines[0]);
    let decided: u64 = report.decisions.values().sum();
    assert_eq!(decided, 19);
    // Failures are always refused; first logins of new users are allowed.
    assert_eq!(report.decisions.get("allow").copied().unwrap_or(0), 7);
    let json = serde_json::to_value(&report).unwrap();
    for k in [
        "attempts",
        "takeovers",
        "auc",
        "legit_challenged_at_99",
        "decisions_per_sec",
        "history30",
    ] {
        assert!(json.get(k).is_some(), "{k}");
    }
}

#[test]
fn a_bad_header_or_row_is_an_error_not_a_panic() {
    let bad_header = "a,b,c\n1,2,3\n";
    let first = read_rba_csv(bad_header.as_bytes()).next().unwrap();
    assert!(first
        .unwrap_err()
        .to_string()
        .contains("RBA dataset layout"));

    let header = "index,Login Timestamp,User ID,Round-Trip Time [ms],IP Address,Country,Region,City,ASN,User Agent String,Browser Name and Version,OS Name and Version,Device Type,Login Successful,Is Attack IP,Is Account Takeover\n";
    let rows = format!(
        "{header}0,2020-02-03 12:43:30.772,1,,10.0.0.1,NO,-,-,29695,ua,Chrome 80,Windows 10,desktop,True,False,False\n\
         1,yesterday,1,,10.0.0.1,NO,-,-,1,ua,-,-,-,True,False,False\n\
         2,2020-02-03 12:43:31.000,1,,300.0.0.1,NO,-,-,1,ua,-,-,-,True,False,False\n\
         3,2020-02-03 12:43:32.000,1,,10.0.0.1,NO,-,-,1,ua,-,-,-,Maybe,False,False\n\
         4,2020-02-03 12:43:33.000,1,,10.0.0.1\n\
         5,2020-02-03 12:43:34.000,1,,10.0.0.1,NO,-,-,1,ua,-,-,-,False,False,False\n"
    );
    let results: Vec<_> = read_rba_csv(rows.as_bytes()).collect();
    assert_eq!(results.len(), 6);
    assert!(results[0].is_ok());
    for (i, r) in results.iter().enumerate().skip(1).take(4) {
        let e = r.as_ref().unwrap_err().to_string();
        assert!(e.contains("line"), "row {i}: {e}");
    }
    assert!(results[5].is_ok(), "reading goes on after a bad row");
}

#[test]
fn synthetic_logs_round_trip_through_the_rba_layout() {
    let cfg = SynthConfig {
        users: 40,
        days: 14,
        seed: 3,
        ..SynthConfig::default()
    };
    let records = generate(&cfg);
    assert_eq!(records, generate(&cfg), "deterministic from the seed");
    assert!(records.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    let mut csv = Vec::new();
    write_csv(&mut csv, &records).unwrap();
    let back: Vec<_> = read_rba_csv(&csv[..]).collect::<Result<_, _>>().unwrap();
    assert_eq!(back.len(), records.len());
    for (a, b) in records.iter().zip(&back) {
        assert_eq!(
            (a.index, a.at_ms, &a.user_id, a.ip, a.success, a.takeover),
            (b.index, b.at_ms, &b.user_id, b.ip, b.success, b.takeover)
        );
        assert_eq!(
            (&a.user_agent, &a.browser, &a.os, a.asn),
            (&b.user_agent, &b.browser, &b.os, b.asn)
        );
    }
    // The synthetic world's geo database covers every address in the log.
    let geo = geo_db(&cfg);
    for r in records.iter().take(200) {
        let g = geo.lookup(r.ip);
        assert_eq!(g.asn, r.asn);
        assert!(g.location.is_some());
    }
}

#[test]
fn synthetic_attackers_are_caught_and_few_legitimate_logins_are_challenged() {
    // A small log (the 2,000-user measurement is in the synth_eval example and the bench).
    let cfg = SynthConfig {
        users: 300,
        days: 90,
        seed: 11,
        attacked_share: 0.3,
        ..SynthConfig::default()
    };
    let records = generate(&cfg);
    let geo = geo_db(&cfg);
    let report = replay(records.into_iter(), &RiskConfig::default(), Some(&geo));
    eprintln!("{}", serde_json::to_string_pretty(&report).unwrap());
    assert!(report.takeovers > 50, "{}", report.takeovers);
    assert!(report.auc.unwrap() > 0.97, "auc {:?}", report.auc);
    let targeted = &report.by_attacker[AttackerKind::Targeted.as_str()]["history30"];
    assert!(targeted.takeovers >= 10, "{targeted:?}");
    assert!(
        targeted.legit_challenged_at_99.unwrap() <= 0.10,
        "legitimate logins challenged at 99% detection of targeted attackers: {targeted:?}"
    );
    assert!(report.history30.legit_interrupted.unwrap() < 0.10);
    assert!(
        report.cold_start.legit_interrupted.unwrap() < 0.10,
        "cold start: {:?}",
        report.cold_start
    );
    assert!(
        report
            .decisions
            .get(Decision::BlockSource.as_str())
            .copied()
            .unwrap_or(0)
            > 0,
        "spray blocked"
    );
}
