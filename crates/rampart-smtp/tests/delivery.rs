//! The outbound queue worker against a real SMTP server on 127.0.0.1 (the discard sink from
//! `rampart-outbound`), with an injected clock: delivery with DKIM, per-recipient outcomes,
//! retries with backoff, the delay notice, give-up bounces, lease recovery after a crash, and
//! containment holding the queue.

use std::sync::Arc;

use bytes::Bytes;
use rampart_model::{
    EmailAddress, EventKind, Folder, ManualClock, NewAccount, OutboundEntry, Timestamp,
};
use rampart_outbound::client::{Client, ClientConfig};
use rampart_outbound::dkim::{self, Algorithm, DkimKeys};
use rampart_outbound::dns::{Resolve, StaticResolver};
use rampart_outbound::mtasts::{MtaSts, MtaStsConfig};
use rampart_outbound::route::{Router, RouterConfig, TlsMode};
use rampart_outbound::sink::{Sink, SinkConfig};
use rampart_smtp::delivery::{Delivery, PassReport, QueuePolicy};
use rampart_store::{EventFilter, Mailstore};

const T0: Timestamp = Timestamp(1_795_000_000);

fn addr(s: &str) -> EmailAddress {
    s.parse().unwrap()
}

struct World {
    _dir: tempfile::TempDir,
    clock: ManualClock,
    store: Mailstore,
    sink: Sink,
    worker: Arc<Delivery>,
}

async fn world(dkim: bool) -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(T0);
    let store = Mailstore::open_embedded(dir.path(), Arc::new(clock.clone()), 7).unwrap();
    store
        .meta()
        .add_domain("example.com", T0, "t")
        .await
        .unwrap();
    store
        .meta()
        .create_account(
            NewAccount {
                address: Some(addr("alice@example.com")),
                ..Default::default()
            },
            T0,
            "t",
        )
        .await
        .unwrap();
    let sink = Sink::start(SinkConfig::default()).await.unwrap();
    let silent = silent_server().await;
    let keys_dir = dir.path().join("dkim");
    if dkim {
        dkim::generate(&keys_dir, "example.com", "t1", Algorithm::Ed25519, false).unwrap();
    }
    let resolver: Arc<dyn Resolve> = Arc::new(StaticResolver::new());
    let router = Router::new(
        resolver,
        RouterConfig {
            relay: None,
            mx_override: [
                ("partner.example".to_string(), sink.addr().to_string()),
                // Nothing listens here: connection refused, a temporary failure.
                ("down.example".to_string(), "127.0.0.1:1".to_string()),
                // Accepts and never says a word.
                ("slow.example".to_string(), silent.to_string()),
            ]
            .into(),
            port: 25,
            tls: TlsMode::None,
            mta_sts: false,
            dane: false,
        },
        Arc::new(MtaSts::new(MtaStsConfig::default())),
    );
    let mut client = ClientConfig::new("mx.example.com");
    client.connect_timeout = std::time::Duration::from_secs(2);
    client.command_timeout = std::time::Duration::from_secs(5);
    let worker = Arc::new(Delivery::new(
        store.clone(),
        router,
        Client::new(client),
        DkimKeys::load(&keys_dir).unwrap(),
        "mx.example.com",
        QueuePolicy {
            concurrency: 4,
            per_domain_concurrency: 2,
            retry_secs: 300,
            max_retry_secs: 3600,
            give_up_secs: 5 * 86_400,
            delay_notice_secs: 4 * 3600,
        },
    ));
    World {
        _dir: dir,
        clock,
        store,
        sink,
        worker,
    }
}

/// A server that accepts connections and never answers: the slowest destination there is.
async fn silent_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    addr
}

async fn submit(w: &World, to: &[&str], id: &str) -> Vec<OutboundEntry> {
    let raw = format!(
        "From: Alice <alice@example.com>\r\nTo: {}\r\nSubject: quarterly numbers\r\n\
         Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{id}@example.com>\r\n\r\n\
         See attached.\r\n",
        to.join(", ")
    );
    let rcpts: Vec<EmailAddress> = to.iter().map(|a| addr(a)).collect();
    w.store
        .enqueue_outbound(
            Bytes::from(raw),
            "alice@example.com",
            &rcpts,
            id,
            "alice@example.com",
        )
        .await
        .unwrap()
}

async fn pass(w: &World) -> PassReport {
    w.worker.clone().pass().await.unwrap()
}

async fn row(w: &World, id: i64) -> OutboundEntry {
    w.store
        .meta()
        .outbound_entries(&id.to_string())
        .await
        .unwrap()
        .pop()
        .unwrap()
}

async fn inbox_subjects(w: &World) -> Vec<String> {
    w.store
        .meta()
        .list_messages(&addr("alice@example.com"), Some(Folder::Inbox), false)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.subject)
        .collect()
}

#[tokio::test]
async fn delivers_signed_in_one_transaction_and_bounces_the_refused_recipient() {
    let w = world(true).await;
    let rows = submit(
        &w,
        &[
            "carol@partner.example",
            "dave@partner.example",
            "reject-me@partner.example",
        ],
        "Q1",
    )
    .await;
    let r = pass(&w).await;
    assert_eq!((r.claimed, r.delivered, r.bounced), (3, 2, 1));
    let got = w.sink.messages();
    assert_eq!(got.len(), 1, "one transaction for the domain");
    assert_eq!(got[0].mail_from, "alice@example.com");
    assert_eq!(
        got[0].recipients,
        vec!["carol@partner.example", "dave@partner.example"]
    );
    let text = String::from_utf8_lossy(&got[0].data);
    assert!(text.starts_with("DKIM-Signature:"), "{text}");
    assert!(text.contains("d=example.com") && text.contains("s=t1"));

    let carol = row(&w, rows[0].id).await;
    assert_eq!(carol.status, "sent");
    assert!(
        carol.remote.as_deref().unwrap().contains("250"),
        "{carol:?}"
    );
    let bad = row(&w, rows[2].id).await;
    assert_eq!(bad.status, "failed");
    assert!(bad.last_error.as_deref().unwrap().contains("550 5.1.1"));

    // The bounce is an RFC 3464 report in the sender's INBOX naming the refused address only.
    let subjects = inbox_subjects(&w).await;
    assert_eq!(subjects.len(), 1, "{subjects:?}");
    assert!(subjects[0].contains("Undelivered"), "{subjects:?}");
    let meta = w
        .store
        .meta()
        .list_messages(&addr("alice@example.com"), Some(Folder::Inbox), false)
        .await
        .unwrap();
    let raw = w
        .store
        .raw(&addr("alice@example.com"), meta[0].id)
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&raw);
    assert!(report.contains("multipart/report"));
    assert!(report.contains("Final-Recipient: rfc822; reject-me@partner.example"));
    assert!(!report.contains("Final-Recipient: rfc822; carol@partner.example"));
    assert!(
        !report.contains("See attached."),
        "the body is not returned"
    );

    let events = w
        .store
        .meta()
        .list_events(&EventFilter {
            kinds: vec![EventKind::OutboundDelivered, EventKind::OutboundBounced],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(pass(&w).await.claimed, 0, "nothing left to do");
}

#[tokio::test]
async fn temporary_failures_back_off_notify_once_and_bounce_after_the_give_up_time() {
    let w = world(false).await;
    let rows = submit(&w, &["ed@down.example"], "Q2").await;
    let r = pass(&w).await;
    assert_eq!((r.claimed, r.deferred), (1, 1));
    let e = row(&w, rows[0].id).await;
    assert_eq!((e.status.as_str(), e.attempts), ("queued", 1));
    let wait = e.next_attempt_at.0 - T0.0;
    assert!(
        (300..=330).contains(&wait),
        "first retry after ~5 min: {wait}"
    );
    assert!(e.last_error.as_deref().unwrap().contains("127.0.0.1"));

    // Not due yet: nothing is claimed.
    w.clock.advance_secs(60);
    assert_eq!(pass(&w).await.claimed, 0);
    // Due: the second try waits twice as long.
    w.clock.advance_secs(300);
    pass(&w).await;
    let e = row(&w, rows[0].id).await;
    let wait = e.next_attempt_at.0 - w.store.now().0;
    assert_eq!(e.attempts, 2);
    assert!((600..=660).contains(&wait), "{wait}");
    assert!(inbox_subjects(&w).await.is_empty(), "no notice yet");

    // After four hours the sender hears once that it is delayed.
    for _ in 0..3 {
        w.clock.advance_secs(2 * 3600);
        pass(&w).await;
    }
    let subjects = inbox_subjects(&w).await;
    assert_eq!(
        subjects.iter().filter(|s| s.contains("Delayed")).count(),
        1,
        "{subjects:?}"
    );
    assert!(row(&w, rows[0].id).await.delay_notified);

    // Past five days it bounces.
    w.clock.advance_secs(5 * 86_400);
    let r = pass(&w).await;
    assert_eq!(r.bounced, 1);
    let e = row(&w, rows[0].id).await;
    assert_eq!(e.status, "failed");
    assert!(e
        .last_error
        .as_deref()
        .unwrap()
        .starts_with("gave up after"));
    let subjects = inbox_subjects(&w).await;
    assert_eq!(
        subjects
            .iter()
            .filter(|s| s.contains("Undelivered"))
            .count(),
        1
    );
}

#[tokio::test]
async fn a_claim_whose_worker_died_is_delivered_after_the_lease() {
    let w = world(false).await;
    let rows = submit(&w, &["carol@partner.example"], "Q3").await;
    // A worker claims the row and dies before recording anything.
    let claimed = w
        .store
        .meta()
        .claim_outbound(T0, Timestamp(T0.0 + 900), 10, 2)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(row(&w, rows[0].id).await.status, "sending");
    assert_eq!(pass(&w).await.claimed, 0, "the lease protects it");
    w.clock.advance_secs(901);
    let r = pass(&w).await;
    assert_eq!((r.claimed, r.delivered), (1, 1));
    assert_eq!(w.sink.received(), 1);
    assert_eq!(row(&w, rows[0].id).await.status, "sent");
}

#[tokio::test]
async fn containment_holds_the_queue_and_release_sends_it() {
    let w = world(false).await;
    let rows = submit(&w, &["carol@partner.example"], "Q4").await;
    let summary = w
        .store
        .meta()
        .contain_account(&addr("alice@example.com"), "phished", T0, "admin")
        .await
        .unwrap();
    assert_eq!(summary.queued_held, 1);
    assert_eq!(pass(&w).await.claimed, 0);
    assert_eq!(row(&w, rows[0].id).await.status, "held");
    let refused = w
        .store
        .meta()
        .retry_outbound("Q4", T0, "admin")
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("contained"), "{refused}");

    w.store
        .meta()
        .release_account(&addr("alice@example.com"), false, T0, "admin")
        .await
        .unwrap();
    let r = pass(&w).await;
    assert_eq!(r.delivered, 1);
    assert_eq!(w.sink.received(), 1);
    let account = w
        .store
        .meta()
        .account(&addr("alice@example.com"))
        .await
        .unwrap()
        .unwrap();
    assert!(account.contained_at.is_none());
    assert!(account.password_reset_required && account.step_up_required);
}

#[tokio::test]
async fn the_queue_cli_operations_retry_and_delete() {
    let w = world(false).await;
    submit(&w, &["ed@down.example", "fred@down.example"], "Q5").await;
    pass(&w).await;
    let retried = w
        .store
        .meta()
        .retry_outbound("Q5", w.store.now(), "admin")
        .await
        .unwrap();
    assert_eq!(retried.len(), 2);
    assert!(retried.iter().all(|e| e.next_attempt_at == w.store.now()));
    let deleted = w
        .store
        .meta()
        .delete_outbound("Q5", w.store.now(), "admin")
        .await
        .unwrap();
    assert_eq!(deleted.len(), 2);
    assert!(w.store.meta().list_outbound(None).await.unwrap().is_empty());
    assert!(w
        .store
        .meta()
        .delete_outbound("Q5", w.store.now(), "admin")
        .await
        .is_err());
}

#[tokio::test]
async fn claims_are_fair_to_destinations() {
    let w = world(false).await;
    for i in 0..5 {
        submit(&w, &["ed@down.example"], &format!("D{i}")).await;
    }
    submit(&w, &["carol@partner.example"], "P0").await;
    let meta = w.store.meta();
    let lease = Timestamp(T0.0 + 900);
    let first = meta.claim_outbound(T0, lease, 100, 2).await.unwrap();
    let domains: Vec<_> = first
        .iter()
        .map(|r| r.recipient.domain().to_string())
        .collect();
    assert_eq!(domains, ["down.example", "down.example", "partner.example"]);
    assert_eq!(
        (first[0].queue_id.as_str(), first[1].queue_id.as_str()),
        ("D0", "D1"),
        "oldest first"
    );
    // Two messages to down.example are in flight: its limit is reached until they finish.
    assert!(meta
        .claim_outbound(T0, lease, 100, 2)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_destination_does_not_hold_up_the_others() {
    let w = world(false).await;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(w.worker.clone().run(shutdown));
    submit(&w, &["ed@slow.example"], "S1").await;
    w.worker.wake();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    submit(&w, &["carol@partner.example"], "P1").await;
    w.worker.wake();
    let started = std::time::Instant::now();
    while w.sink.received() == 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "partner mail waited for the slow one"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let slow = w.store.meta().outbound_entries("S1").await.unwrap();
    assert_eq!(
        slow[0].status, "sending",
        "still talking to the silent server"
    );
    stop.send(true).unwrap();
    runner.await.unwrap();
    // The silent server's command timeout ended that attempt; it waits for a retry.
    let slow = w.store.meta().outbound_entries("S1").await.unwrap();
    assert_eq!(slow[0].status, "queued");
    assert!(
        slow[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("127.0.0.1"),
        "{slow:?}"
    );
}
