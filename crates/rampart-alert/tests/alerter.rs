//! The alerter: dedup, rate limits, queues, isolation between sinks, configuration.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_alert::{
    AlertSink, Alerter, JsonLinesSink, Raised, Severity, WebhookOptions, WebhookSink,
    QUEUE_CAPACITY,
};
use rampart_model::config::AlertsConfig;
use rampart_model::{ManualClock, Timestamp};
use support::{spike, FailingSink, GatedSink, HttpServer, PanickingSink, RecordingSink, Reply};

const HOUR: Duration = Duration::from_secs(3600);
const FLUSH: Duration = Duration::from_secs(10);

fn clock() -> ManualClock {
    ManualClock::at(Timestamp(1_700_000_000))
}

fn alerter(
    sinks: Vec<Arc<dyn AlertSink>>,
    dedup: Duration,
    per_minute: u32,
    clock: &ManualClock,
) -> Alerter {
    Alerter::with_clock(sinks, dedup, per_minute, Arc::new(clock.clone()))
}

#[tokio::test]
async fn folds_duplicates_within_the_window_into_the_next_alert_after_it() {
    let clock = clock();
    let sink = Arc::new(RecordingSink::default());
    let alerter = alerter(vec![sink.clone()], HOUR, 0, &clock);

    assert_eq!(alerter.raise(spike("ana@example.com", 1)), Raised::Queued);
    clock.advance_secs(60);
    assert_eq!(
        alerter.raise(spike("ana@example.com", 2)),
        Raised::Duplicate
    );
    clock.advance_secs(3000);
    assert_eq!(
        alerter.raise(spike("ana@example.com", 3)),
        Raised::Duplicate
    );
    // Another account is another key.
    assert_eq!(alerter.raise(spike("bo@example.com", 4)), Raised::Queued);
    clock.advance_secs(541); // 3601 s after the first
    assert_eq!(alerter.raise(spike("ana@example.com", 5)), Raised::Queued);
    assert_eq!(
        alerter.raise(spike("ana@example.com", 6)),
        Raised::Duplicate
    );

    assert!(alerter.flush(FLUSH).await);
    let received = sink.received();
    let seen: Vec<(i64, u64)> = received
        .iter()
        .map(|d| (d.alert.at_ms, d.suppressed))
        .collect();
    assert_eq!(seen, vec![(1, 0), (4, 0), (5, 2)]);
    let stats = alerter.stats();
    assert_eq!(stats.deduplicated, 3);
    assert_eq!(stats.sinks[0].sent, 3);
}

#[tokio::test]
async fn an_escalation_is_never_folded_into_a_milder_alert() {
    let clock = clock();
    let sink = Arc::new(RecordingSink::default());
    let alerter = alerter(vec![sink.clone()], HOUR, 0, &clock);
    let at = |severity, at_ms| {
        let mut alert = spike("ana@example.com", at_ms);
        alert.severity = severity;
        alert
    };

    assert_eq!(alerter.raise(at(Severity::Warning, 1)), Raised::Queued);
    assert_eq!(alerter.raise(at(Severity::Info, 2)), Raised::Duplicate);
    assert_eq!(alerter.raise(at(Severity::Critical, 3)), Raised::Queued);
    assert_eq!(alerter.raise(at(Severity::Warning, 4)), Raised::Duplicate);
    assert_eq!(alerter.raise(at(Severity::Critical, 5)), Raised::Duplicate);

    assert!(alerter.flush(FLUSH).await);
    let seen: Vec<(Severity, u64)> = sink
        .received()
        .iter()
        .map(|d| (d.alert.severity, d.suppressed))
        .collect();
    assert_eq!(seen, vec![(Severity::Warning, 0), (Severity::Critical, 1)]);
}

#[tokio::test]
async fn zero_dedup_window_sends_every_alert() {
    let clock = clock();
    let sink = Arc::new(RecordingSink::default());
    let alerter = alerter(vec![sink.clone()], Duration::ZERO, 0, &clock);
    for i in 0..5 {
        assert_eq!(alerter.raise(spike("ana@example.com", i)), Raised::Queued);
    }
    assert!(alerter.flush(FLUSH).await);
    assert_eq!(sink.received().len(), 5);
}

#[tokio::test]
async fn rate_limits_each_minute_and_carries_the_count_to_the_next_alert() {
    let clock = clock();
    let sink = Arc::new(RecordingSink::default());
    let alerter = alerter(vec![sink.clone()], HOUR, 2, &clock);

    let outcomes: Vec<Raised> = (0..5)
        .map(|i| alerter.raise(spike(&format!("u{i}@example.com"), i)))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            Raised::Queued,
            Raised::Queued,
            Raised::RateLimited,
            Raised::RateLimited,
            Raised::RateLimited
        ]
    );
    clock.advance_secs(59);
    assert_eq!(
        alerter.raise(spike("late@example.com", 5)),
        Raised::RateLimited
    );
    clock.advance_secs(1);
    assert_eq!(alerter.raise(spike("next@example.com", 6)), Raised::Queued);
    assert_eq!(alerter.raise(spike("after@example.com", 7)), Raised::Queued);

    assert!(alerter.flush(FLUSH).await);
    let carried: Vec<u64> = sink.received().iter().map(|d| d.rate_limited).collect();
    assert_eq!(carried, vec![0, 0, 4, 0]);
    let stats = alerter.stats();
    assert_eq!(stats.sinks[0].rate_limited, 4);
    assert_eq!(stats.sinks[0].sent, 4);
}

#[tokio::test]
async fn a_hanging_webhook_blocks_neither_raise_nor_the_other_sinks() {
    let server = HttpServer::start(vec![Reply::Hang; 10]).await;
    let webhook = WebhookSink::with_options(
        &server.url("/hook"),
        None,
        "mx",
        WebhookOptions {
            timeout: Duration::from_secs(60),
            ..WebhookOptions::default()
        },
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alerts.jsonl");
    let jsonl = JsonLinesSink::new(&path, "mx").unwrap();
    let clock = clock();
    let alerter = alerter(vec![Arc::new(webhook), Arc::new(jsonl)], HOUR, 0, &clock);

    let started = Instant::now();
    for i in 0..3 {
        assert_eq!(
            alerter.raise(spike(&format!("u{i}@example.com"), i)),
            Raised::Queued
        );
    }
    assert!(started.elapsed() < Duration::from_secs(1));
    server.wait_for(1).await;

    // The JSON lines sink has written all three while the webhook still hangs on the first.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&path)
        .unwrap_or_default()
        .lines()
        .count()
        < 3
    {
        assert!(Instant::now() < deadline, "jsonl sink was held up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!alerter.flush(Duration::from_millis(200)).await);
    let stats = alerter.stats();
    assert_eq!(stats.sinks[0].sink, "webhook");
    assert_eq!(stats.sinks[0].pending, 3);
    assert_eq!(stats.sinks[1].sink, "jsonl");
    assert_eq!(stats.sinks[1].sent, 3);
    assert_eq!(stats.sinks[1].pending, 0);
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_without_blocking() {
    let clock = clock();
    let gated = Arc::new(GatedSink::closed());
    let alerter = alerter(vec![gated.clone()], HOUR, 0, &clock);
    let total = QUEUE_CAPACITY + 50;

    let started = Instant::now();
    let outcomes: Vec<Raised> = (0..total)
        .map(|i| alerter.raise(spike(&format!("u{i}@example.com"), i as i64)))
        .collect();
    assert!(started.elapsed() < Duration::from_secs(2));
    let queued = outcomes.iter().filter(|r| **r == Raised::Queued).count();
    let dropped = outcomes.iter().filter(|r| **r == Raised::Dropped).count();
    assert_eq!(queued + dropped, total);
    // At most one alert left the queue for the stuck sink before the rest arrived.
    assert!(
        (QUEUE_CAPACITY..=QUEUE_CAPACITY + 1).contains(&queued),
        "{queued}"
    );
    assert_eq!(alerter.stats().sinks[0].dropped, dropped as u64);

    gated.gate.add_permits(total);
    assert!(alerter.flush(FLUSH).await);
    assert_eq!(*gated.sent.lock().unwrap(), queued as u64);
    assert_eq!(alerter.stats().sinks[0].sent, queued as u64);
}

#[tokio::test]
async fn a_full_queue_on_one_sink_leaves_the_others_alone() {
    let clock = clock();
    let gated = Arc::new(GatedSink::closed());
    let recording = Arc::new(RecordingSink::default());
    let alerter = alerter(vec![gated.clone(), recording.clone()], HOUR, 0, &clock);
    let total = QUEUE_CAPACITY + 10;
    for i in 0..total {
        assert_eq!(
            alerter.raise(spike(&format!("u{i}@example.com"), i as i64)),
            Raised::Queued
        );
        // Lets the recording sink keep up; the gated one stays stuck on its first alert.
        tokio::task::yield_now().await;
    }
    gated.gate.add_permits(total);
    assert!(alerter.flush(FLUSH).await);
    assert_eq!(recording.received().len(), total);
    assert!(alerter.stats().sinks[0].dropped >= 9);
}

#[tokio::test]
async fn failing_and_panicking_sinks_are_counted_and_do_not_affect_the_others() {
    let clock = clock();
    let recording = Arc::new(RecordingSink::default());
    let alerter = alerter(
        vec![
            Arc::new(FailingSink),
            Arc::new(PanickingSink),
            recording.clone(),
        ],
        HOUR,
        0,
        &clock,
    );
    assert_eq!(alerter.raise(spike("ana@example.com", 1)), Raised::Queued);
    assert_eq!(alerter.raise(spike("bo@example.com", 2)), Raised::Queued);
    assert!(alerter.flush(FLUSH).await);

    let stats = alerter.stats();
    let by_name = |name: &str| stats.sinks.iter().find(|s| s.sink == name).unwrap().clone();
    assert_eq!(by_name("failing").failed, 2);
    // The worker survives its sink's panics: both alerts were attempted.
    assert_eq!(by_name("panicking").failed, 2);
    assert_eq!(by_name("recording").sent, 2);
    assert_eq!(recording.received().len(), 2);
}

#[tokio::test]
async fn disabled_alerter_accepts_and_ignores() {
    let alerter = Alerter::disabled();
    assert!(!alerter.is_enabled());
    assert_eq!(alerter.raise(spike("ana@example.com", 1)), Raised::Disabled);
    assert!(alerter.flush(Duration::from_millis(10)).await);
    assert!(alerter.stats().sinks.is_empty());
}

#[test]
fn works_without_a_tokio_runtime_in_the_caller() {
    let sink = Arc::new(RecordingSink::default());
    let alerter = Alerter::new(vec![sink.clone()], HOUR, 20);
    assert_eq!(alerter.raise(spike("ana@example.com", 1)), Raised::Queued);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(runtime.block_on(alerter.flush(FLUSH)));
    assert_eq!(sink.received().len(), 1);
}

#[tokio::test]
async fn builds_the_configured_sinks_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = AlertsConfig {
        webhook_url: Some("https://hooks.example.com/T0K3N".into()),
        webhook_secret: Some("s3cret".into()),
        admin_address: Some("admin@example.com".into()),
        jsonl_path: Some(dir.path().join("alerts.jsonl")),
        syslog: Some("udp:127.0.0.1:514".into()),
        ..AlertsConfig::default()
    };
    let alerter = Alerter::from_config(&cfg, "mx.example.com", None).unwrap();
    let names: Vec<String> = alerter.stats().sinks.into_iter().map(|s| s.sink).collect();
    // No mail transport in this process: the mail sink is left out.
    assert_eq!(names, ["webhook", "jsonl", "syslog"]);
    assert!(!format!("{alerter:?}").contains("s3cret"));

    let none = Alerter::from_config(&AlertsConfig::default(), "mx", None).unwrap();
    assert!(!none.is_enabled());
}

#[tokio::test]
async fn explains_bad_configuration() {
    let error = |cfg: AlertsConfig| {
        Alerter::from_config(&cfg, "mx", None)
            .expect_err("configuration should be refused")
            .to_string()
    };
    let base = AlertsConfig::default;
    let e = error(AlertsConfig {
        webhook_url: Some("hooks.example.com/x".into()),
        ..base()
    });
    assert!(e.contains("webhook_url is not a valid URL"), "{e}");
    let e = error(AlertsConfig {
        webhook_url: Some("file:///etc/passwd".into()),
        ..base()
    });
    assert!(e.contains("http or https"), "{e}");
    let e = error(AlertsConfig {
        webhook_secret: Some("s3cret".into()),
        ..base()
    });
    assert!(
        e.contains("webhook_url is not") && !e.contains("s3cret"),
        "{e}"
    );
    let e = error(AlertsConfig {
        syslog: Some("tcp:log.example.com:514".into()),
        ..base()
    });
    assert!(e.contains("udp:HOST:PORT"), "{e}");
    let e = error(AlertsConfig {
        admin_address: Some("root".into()),
        ..base()
    });
    assert!(e.contains("admin_address"), "{e}");
    let e = error(AlertsConfig {
        jsonl_path: Some("/nonexistent-rampart-dir/a.jsonl".into()),
        ..base()
    });
    assert!(e.contains("does not exist"), "{e}");
}
