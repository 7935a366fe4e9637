//! Sending control on the submission path with an injected clock: four weeks of ordinary
//! office mail, then a simulated burst from the same account. The burst holds the account's
//! sending in the store with an event naming the numbers, a burst signal for the threat picture
//! and an alert; later messages are held too until the user verifies.

use std::sync::Arc;

use rampart_alert::{Alerter, JsonLinesSink};
use rampart_model::config::SendingConfig;
use rampart_model::{EmailAddress, EventKind, ManualClock, NewAccount, Timestamp};
use rampart_smtp::sending::{self, Gate, Outgoing, SendingGuard};
use rampart_store::{EventFilter, Mailstore};

/// Monday 2026-11-02 00:00 UTC.
const MONDAY: i64 = 1_793_577_600;

fn addr(s: &str) -> EmailAddress {
    s.parse().unwrap()
}

async fn setup() -> (
    tempfile::TempDir,
    ManualClock,
    Mailstore,
    SendingGuard,
    Alerter,
) {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(Timestamp(MONDAY));
    let store = Mailstore::open_embedded(dir.path(), Arc::new(clock.clone()), 7).unwrap();
    store
        .meta()
        .add_domain("example.com", clock_now(&clock), "t")
        .await
        .unwrap();
    store
        .meta()
        .create_account(
            NewAccount {
                address: Some(addr("ana@example.com")),
                department: Some("sales".into()),
                ..Default::default()
            },
            clock_now(&clock),
            "t",
        )
        .await
        .unwrap();
    let sink = JsonLinesSink::new(dir.path().join("alerts.jsonl"), "mx.example.com").unwrap();
    let alerter = Alerter::new(
        vec![Arc::new(sink)],
        std::time::Duration::from_secs(3600),
        0,
    );
    let config = SendingConfig::default();
    let guard = SendingGuard::new(&config, store.clone(), alerter.clone()).unwrap();
    (dir, clock, store, guard, alerter)
}

fn clock_now(clock: &ManualClock) -> Timestamp {
    use rampart_model::Clock;
    clock.now()
}

async fn send(guard: &SendingGuard, rcpts: &[EmailAddress]) -> Gate {
    let account = addr("ana@example.com");
    guard
        .gate(&Outgoing {
            account: &account,
            department: Some("sales"),
            level: None,
            recipients: rcpts,
            external: rcpts.iter().filter(|r| r.domain() != "example.com").count(),
            ip: "203.0.113.9".parse().unwrap(),
            queue_id: "Q",
        })
        .await
}

#[tokio::test]
async fn a_burst_after_weeks_of_office_mail_holds_sending_until_verified() {
    let (dir, clock, store, guard, alerter) = setup().await;
    let colleague = vec![addr("bo@example.com")];
    // Four weeks: on weekdays, three messages in each hour from 9:00 to 17:00.
    for day in 0..28 {
        if day % 7 >= 5 {
            continue;
        }
        for hour in 9..17 {
            for minute in [5, 25, 45] {
                clock.set(Timestamp(MONDAY + day * 86_400 + hour * 3600 + minute * 60));
                assert_eq!(send(&guard, &colleague).await, Gate::Pass);
            }
        }
    }
    // Week five, Tuesday 10:00: a burst of 150 messages to outside addresses in 25 minutes.
    let burst_start = MONDAY + (28 + 1) * 86_400 + 10 * 3600;
    let mut held_at = None;
    for i in 0..150 {
        clock.set(Timestamp(burst_start + i * 10));
        let victims = vec![addr(&format!("target{i}@victims.example"))];
        match send(&guard, &victims).await {
            Gate::Pass => {}
            Gate::Hold { rule, reason } => {
                assert_eq!(rule, sending::SPIKE_RULE);
                assert!(reason.contains("messages in the last hour"), "{reason}");
                held_at = Some(i);
                break;
            }
            other => panic!("unexpected {other:?} at message {i}"),
        }
    }
    let held_at = held_at.expect("the burst was never held");
    // The minimum for a spike is 30 messages in the hour; the usual for Tuesday 10:00 is ~3.
    assert!((29..40).contains(&held_at), "held at message {held_at}");

    let account = store
        .meta()
        .account(&addr("ana@example.com"))
        .await
        .unwrap()
        .unwrap();
    assert!(account.sending_held_at.is_some());
    let events = |kind| {
        let store = store.clone();
        async move {
            store
                .meta()
                .list_events(&EventFilter {
                    kind: Some(kind),
                    ..Default::default()
                })
                .await
                .unwrap()
        }
    };
    let spike = events(EventKind::SendingSpike).await;
    assert_eq!(spike.len(), 1);
    let numbers: serde_json::Value = serde_json::from_str(&spike[0].detail["numbers"]).unwrap();
    assert!(
        numbers["messages_last_hour"].as_u64().unwrap() >= 30,
        "{numbers}"
    );
    let baseline = numbers["baseline_messages"].as_f64().unwrap();
    assert!((1.0..6.0).contains(&baseline), "{numbers}");
    assert_eq!(spike[0].detail["ip"], "203.0.113.9");
    let burst = events(EventKind::BurstRecipients).await;
    assert_eq!(burst.len(), 1);
    assert!(burst[0].detail["addresses"].contains("@victims.example"));
    assert!(burst[0].detail["domains"].contains("victims.example"));

    // Every later message is held while the account's sending is held.
    clock.set(Timestamp(burst_start + 3000));
    match send(&guard, &colleague).await {
        Gate::Hold { rule, .. } => assert_eq!(rule, sending::HELD_RULE),
        other => panic!("{other:?}"),
    }

    // The administrators heard about it once, with the numbers.
    assert!(alerter.flush(std::time::Duration::from_secs(10)).await);
    let alerts = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    let alerts: Vec<serde_json::Value> = alerts
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["alert"]["kind"], "sending_held");
    assert_eq!(alerts[0]["alert"]["severity"], "critical");
    assert!(alerts[0]["alert"]["details"]["numbers"]["messages_last_hour"].is_number());

    // The user verifies: sending resumes, and the engine forgives the rest of this burst hour.
    sending::release_after_verification(&store, &addr("ana@example.com"), false, "ana")
        .await
        .unwrap();
    assert_eq!(send(&guard, &colleague).await, Gate::Pass);
    let released = events(EventKind::SendingReleased).await;
    assert_eq!(released.len(), 1);
}

#[tokio::test]
async fn quota_deferrals_name_the_limit_and_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(Timestamp(MONDAY + 10 * 3600));
    let store = Mailstore::open_embedded(dir.path(), Arc::new(clock.clone()), 7).unwrap();
    let now = clock_now(&clock);
    store
        .meta()
        .add_domain("example.com", now, "t")
        .await
        .unwrap();
    store
        .meta()
        .create_account(
            NewAccount {
                address: Some(addr("ana@example.com")),
                department: Some("sales".into()),
                ..Default::default()
            },
            now,
            "t",
        )
        .await
        .unwrap();
    let mut config = SendingConfig::default();
    config.departments.insert(
        "sales".into(),
        rampart_model::config::SendLimits {
            messages_per_hour: Some(2),
            recipients_per_message: Some(3),
            ..Default::default()
        },
    );
    let guard = SendingGuard::new(&config, store.clone(), Alerter::disabled()).unwrap();
    assert_eq!(
        guard.recipient_limit("ana@example.com", Some("sales"), None),
        Some(3)
    );
    let one = vec![addr("x@partner.example")];
    assert_eq!(send(&guard, &one).await, Gate::Pass);
    assert_eq!(send(&guard, &one).await, Gate::Pass);
    match send(&guard, &one).await {
        Gate::Defer(why) => {
            assert!(why.contains("hour") && why.contains("sales"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    let deferred = store
        .meta()
        .list_events(&EventFilter {
            kind: Some(EventKind::SendingDeferred),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(deferred.len(), 1);
    assert_eq!(deferred[0].detail["limit"], "messages_per_hour");
    assert_eq!(deferred[0].detail["scope"], "department:sales");
    // An hour later the window has room again.
    clock.advance_secs(3601);
    assert_eq!(send(&guard, &one).await, Gate::Pass);

    // A contained account may not send at all.
    store
        .meta()
        .contain_account(&addr("ana@example.com"), "test", clock_now(&clock), "t")
        .await
        .unwrap();
    assert!(matches!(send(&guard, &one).await, Gate::Reject(_)));
}
