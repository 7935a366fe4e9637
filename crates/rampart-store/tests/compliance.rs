//! The archive journal, retention and legal holds as the store's callers see them, with time
//! driven by a manual clock.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use rampart_model::config::{ArchiveConfig, RetentionRule};
use rampart_model::{
    Direction, EmailAddress, EventKind, Flag, Folder, Journal, LegalHoldKind, ManualClock,
    NewAccount, Role, Timestamp,
};
use rampart_store::{EventFilter, Mailstore, MessageSummary, NewMessage};

const T0: Timestamp = Timestamp(1_795_000_000);

fn addr(s: &str) -> EmailAddress {
    s.parse().unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    clock: ManualClock,
    store: Mailstore,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(T0);
    let store = Mailstore::open_embedded(dir.path(), Arc::new(clock.clone()), 7).unwrap();
    let meta = store.meta();
    meta.add_domain("example.com", T0, "test").await.unwrap();
    for (user, department) in [("alice", Some("Legal")), ("bob", None), ("carol", None)] {
        meta.create_account(
            NewAccount {
                address: Some(addr(&format!("{user}@example.com"))),
                department: department.map(str::to_string),
                ..Default::default()
            },
            T0,
            "test",
        )
        .await
        .unwrap();
    }
    Fixture {
        _dir: dir,
        clock,
        store,
    }
}

fn message(subject: &str) -> NewMessage {
    NewMessage {
        raw: Bytes::from(format!(
            "From: x@partner.test\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n"
        )),
        summary: MessageSummary {
            from: "x@partner.test".into(),
            subject: subject.into(),
            ..Default::default()
        },
    }
}

#[tokio::test]
async fn accepted_mail_is_journaled_once_with_its_envelope_and_the_accounts_it_concerns() {
    let f = fixture().await;
    let (alice, bob) = (addr("alice@example.com"), addr("bob@example.com"));
    f.store
        .deliver_journaled(
            message("contract"),
            &[alice.clone(), bob.clone()],
            Folder::Inbox,
            &[],
            Journal::inbound("x@partner.test", ["alice@example.com", "bob@example.com"]),
            "smtp",
        )
        .await
        .unwrap();
    // Submission: a local copy, the queue and the Sent copy of one message share its blob.
    let sent = message("reply");
    let journal = Journal::outbound(
        "bob@example.com",
        ["alice@example.com", "far@elsewhere.test"],
        "bob@example.com",
    );
    f.store
        .deliver_journaled(
            sent.clone(),
            std::slice::from_ref(&alice),
            Folder::Inbox,
            &[],
            journal.clone(),
            "bob@example.com",
        )
        .await
        .unwrap();
    f.store
        .enqueue_outbound(
            sent.raw.clone(),
            "bob@example.com",
            &[addr("far@elsewhere.test")],
            "Q1",
            "bob@example.com",
        )
        .await
        .unwrap();
    f.store
        .deliver_journaled(
            sent,
            std::slice::from_ref(&bob),
            Folder::Sent,
            &[Flag::Seen],
            journal,
            "bob@example.com",
        )
        .await
        .unwrap();

    let entries = f.store.meta().archive_entries(0, 10).await.unwrap();
    assert_eq!(entries.len(), 2, "{entries:#?}");
    let contract = &entries[0];
    assert_eq!(contract.direction, "inbound");
    assert_eq!(contract.mail_from, "x@partner.test");
    assert_eq!(contract.subject, "contract");
    assert_eq!(contract.parties, ["alice@example.com", "bob@example.com"]);
    let reply = &entries[1];
    assert_eq!(reply.direction, "outbound");
    assert_eq!(
        reply.recipients,
        ["alice@example.com", "far@elsewhere.test"]
    );
    assert_eq!(reply.parties, ["alice@example.com", "bob@example.com"]);
    assert_eq!(f.store.meta().archive_stats().await.unwrap().0, 2);
    let (_, raw) = f.store.archived_raw(contract.id).await.unwrap();
    assert!(raw.starts_with(b"From: x@partner.test"));
    assert_eq!(
        f.store.meta().archive_ids_of(&alice).await.unwrap(),
        [contract.id, reply.id]
    );
}

#[tokio::test]
async fn quarantined_mail_is_journaled_and_its_release_is_not_journaled_twice() {
    let f = fixture().await;
    let q = f
        .store
        .quarantine(
            message("phish"),
            &[addr("carol@example.com")],
            Direction::Inbound,
            "evil@bad.test",
            9.0,
            "{}".into(),
            "smtp",
        )
        .await
        .unwrap();
    f.store.release(q.id, "cli:admin").await.unwrap();
    let entries = f.store.meta().archive_entries(0, 10).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].mail_from, "evil@bad.test");
    assert_eq!(entries[0].parties, ["carol@example.com"]);
}

#[tokio::test]
async fn users_cannot_destroy_archived_mail_by_deleting_it() {
    let f = fixture().await;
    let alice = addr("alice@example.com");
    let stored = f
        .store
        .deliver(
            message("evidence"),
            std::slice::from_ref(&alice),
            Folder::Inbox,
            "smtp",
        )
        .await
        .unwrap();
    f.store
        .delete(&alice, stored[0].id, "alice@example.com")
        .await
        .unwrap();
    f.clock.advance_days(8);
    let report = f.store.purge("purge-job").await.unwrap();
    assert_eq!(
        (report.messages, report.blobs),
        (1, 0),
        "the archive keeps the blob"
    );
    let entry = &f.store.meta().archive_entries(0, 1).await.unwrap()[0];
    let (_, raw) = f.store.archived_raw(entry.id).await.unwrap();
    assert!(raw.windows(8).any(|w| w == b"evidence"));
}

#[tokio::test]
async fn a_person_under_legal_hold_keeps_their_deleted_mail_until_release() {
    let f = fixture().await;
    let bob = addr("bob@example.com");
    let stored = f
        .store
        .deliver(
            message("memo"),
            std::slice::from_ref(&bob),
            Folder::Inbox,
            "smtp",
        )
        .await
        .unwrap();
    let hold = f
        .store
        .meta()
        .place_legal_hold(
            LegalHoldKind::Person,
            "Bob@Example.com",
            "matter 42",
            T0,
            "cli:counsel",
        )
        .await
        .unwrap();
    assert_eq!(hold.target, "bob@example.com");
    f.store
        .delete(&bob, stored[0].id, "bob@example.com")
        .await
        .unwrap();
    f.clock.advance_days(30);
    assert_eq!(f.store.purge("purge-job").await.unwrap().messages, 0);
    assert_eq!(
        f.store.deleted(&bob).await.unwrap().len(),
        1,
        "still recoverable"
    );
    f.store
        .meta()
        .release_legal_hold(hold.id, f.store.now(), "cli:counsel")
        .await
        .unwrap();
    assert_eq!(f.store.purge("purge-job").await.unwrap().messages, 1);
    let kinds: Vec<EventKind> = f
        .store
        .meta()
        .list_events(&EventFilter {
            kinds: vec![EventKind::LegalHoldPlaced, EventKind::LegalHoldReleased],
            ascending: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [EventKind::LegalHoldPlaced, EventKind::LegalHoldReleased]
    );
    assert!(
        f.store
            .meta()
            .place_legal_hold(LegalHoldKind::Person, "bob@example.com", "  ", T0, "x")
            .await
            .is_err(),
        "a hold needs a reason"
    );
}

#[tokio::test]
async fn retention_follows_the_longest_rule_and_spares_what_legal_holds_cover() {
    let f = fixture().await;
    let config = ArchiveConfig {
        retention_days: 30,
        rules: vec![RetentionRule {
            domain: None,
            department: Some("legal".into()),
            days: 90,
        }],
        ..Default::default()
    };
    let deliver = |to: &'static str, subject: &'static str| {
        let store = f.store.clone();
        async move {
            store
                .deliver(message(subject), &[addr(to)], Folder::Inbox, "smtp")
                .await
                .unwrap();
        }
    };
    deliver("bob@example.com", "bob-1").await; // id 1: 30 days
    deliver("alice@example.com", "alice-1").await; // id 2: Legal, 90 days
    deliver("carol@example.com", "carol-1").await; // id 3: 30 days, person hold
    deliver("bob@example.com", "bob-2").await; // id 4: 30 days, search hold
    deliver("bob@example.com", "bob-3").await; // id 5: 30 days, not yet indexed
    f.store
        .meta()
        .place_legal_hold(
            LegalHoldKind::Person,
            "carol@example.com",
            "case 1",
            T0,
            "cli",
        )
        .await
        .unwrap();

    f.clock.advance_days(30);
    let none = BTreeSet::new();
    let (report, _) = f
        .store
        .purge_archive(&config, &none, 5, "retention-job")
        .await
        .unwrap();
    assert!(
        report.removed.is_empty(),
        "exactly at the end of retention nothing goes"
    );

    f.clock.advance_days(1);
    f.store
        .meta()
        .place_legal_hold(
            LegalHoldKind::Search,
            "subject:bob-2",
            "case 2",
            f.store.now(),
            "cli",
        )
        .await
        .unwrap();
    let search_held = BTreeSet::from([4]);
    let (report, blobs) = f
        .store
        .purge_archive(&config, &search_held, 4, "retention-job")
        .await
        .unwrap();
    let removed: Vec<i64> = report.removed.iter().map(|(id, _)| *id).collect();
    assert_eq!(removed, [1], "{report:?}");
    assert_eq!((report.held, report.unindexed), (2, 1));
    assert_eq!(blobs, 0, "bob's mailbox still has the message");

    f.clock.advance_days(60);
    let (report, _) = f
        .store
        .purge_archive(&config, &search_held, 5, "retention-job")
        .await
        .unwrap();
    let removed: Vec<i64> = report.removed.iter().map(|(id, _)| *id).collect();
    assert_eq!(removed, [2, 5], "Legal's 90 days are over too");
    let purged = f
        .store
        .meta()
        .list_events(&EventFilter {
            kind: Some(EventKind::ArchivePurged),
            ascending: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(purged.len(), 2);
    assert_eq!(purged[0].detail["ids"], "1");
    assert_eq!(purged[1].detail["ids"], "2,5");
    assert_eq!(purged[0].actor, "retention-job");
}

#[tokio::test]
async fn the_archive_can_be_switched_off() {
    let f = fixture().await;
    let store = f.store.clone().with_archive(false);
    store
        .deliver(
            message("ephemeral"),
            &[addr("bob@example.com")],
            Folder::Inbox,
            "smtp",
        )
        .await
        .unwrap();
    assert_eq!(store.meta().archive_stats().await.unwrap(), (0, 0));
}

#[tokio::test]
async fn roles_change_with_an_event() {
    let f = fixture().await;
    let carol = addr("carol@example.com");
    assert_eq!(
        f.store.meta().account(&carol).await.unwrap().unwrap().role,
        Role::User
    );
    let changed = f
        .store
        .meta()
        .set_role(&carol, Role::Auditor, T0, "cli:root")
        .await
        .unwrap();
    assert_eq!(changed.role, Role::Auditor);
    let events = f
        .store
        .meta()
        .list_events(&EventFilter {
            kind: Some(EventKind::RoleChanged),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events[0].detail["from"], "user");
    assert_eq!(events[0].detail["to"], "auditor");
    assert_eq!("Auditor".parse::<Role>().unwrap(), Role::Auditor);
    assert!("root".parse::<Role>().is_err());
}

#[tokio::test]
async fn event_filters_page_by_id_time_and_actor() {
    let f = fixture().await;
    let meta = f.store.meta();
    for i in 0..5 {
        meta.record_event(
            EventKind::PolicyChanged,
            Timestamp(T0.0 + 100 + i),
            if i % 2 == 0 { "cli:a" } else { "cli:b" },
            None,
            Default::default(),
        )
        .await
        .unwrap();
    }
    let base = EventFilter {
        kind: Some(EventKind::PolicyChanged),
        ascending: true,
        ..Default::default()
    };
    let all = meta.list_events(&base).await.unwrap();
    assert_eq!(all.len(), 5);
    let by_a = meta
        .list_events(&EventFilter {
            actor: Some("cli:a".into()),
            ..base.clone()
        })
        .await
        .unwrap();
    assert_eq!(by_a.len(), 3);
    let window = meta
        .list_events(&EventFilter {
            since: Some(Timestamp(T0.0 + 101)),
            until: Some(Timestamp(T0.0 + 103)),
            ..base.clone()
        })
        .await
        .unwrap();
    assert_eq!(window.len(), 2);
    let page = meta
        .list_events(&EventFilter {
            after_id: Some(all[2].id),
            ..base.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|e| e.id).collect::<Vec<_>>(),
        [all[3].id, all[4].id]
    );
    let back = meta
        .list_events(&EventFilter {
            before_id: Some(all[3].id),
            ascending: false,
            limit: Some(2),
            ..base
        })
        .await
        .unwrap();
    assert_eq!(
        back.iter().map(|e| e.id).collect::<Vec<_>>(),
        [all[2].id, all[1].id]
    );
}

#[tokio::test]
async fn the_dashboard_counts_flow_per_bucket_detections_logins_and_risky_sources() {
    let f = fixture().await;
    let meta = f.store.meta();
    // Hour-aligned, so two hours are exactly two buckets.
    let base = Timestamp((T0.0 / 3600 + 1) * 3600);
    let at = |mins: i64| Timestamp(base.0 + mins * 60);
    let ev =
        |kind: EventKind, t: Timestamp, subject: Option<&'static str>, pairs: &[(&str, &str)]| {
            let detail = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let meta = f.store.meta();
            async move {
                meta.record_event(kind, t, "test", subject, detail)
                    .await
                    .unwrap();
            }
        };
    ev(
        EventKind::MessageDelivered,
        at(1),
        Some("alice@example.com"),
        &[("folder", "INBOX")],
    )
    .await;
    ev(
        EventKind::MessageDelivered,
        at(2),
        Some("bob@example.com"),
        &[("folder", "Junk")],
    )
    .await;
    ev(
        EventKind::MessageDelivered,
        at(61),
        Some("bob@example.com"),
        &[("folder", "INBOX")],
    )
    .await;
    ev(
        EventKind::MessageQuarantined,
        at(62),
        Some("bob@example.com"),
        &[],
    )
    .await;
    ev(EventKind::MessageRejected, at(63), None, &[]).await;
    ev(EventKind::DlpHeld, at(64), Some("alice@example.com"), &[]).await;
    for _ in 0..3 {
        ev(
            EventKind::LoginDenied,
            at(5),
            Some("carol@example.com"),
            &[("ip", "203.0.113.9")],
        )
        .await;
    }
    ev(
        EventKind::LoginChallenged,
        at(6),
        Some("bob@example.com"),
        &[("ip", "198.51.100.7")],
    )
    .await;
    ev(
        EventKind::LoginAllowed,
        at(7),
        Some("alice@example.com"),
        &[("ip", "192.0.2.1")],
    )
    .await;
    // Outside the range: not counted.
    ev(
        EventKind::MessageDelivered,
        at(200),
        Some("bob@example.com"),
        &[("folder", "INBOX")],
    )
    .await;

    let d = meta.dashboard(base, at(120), 3600).await.unwrap();
    assert_eq!(d.flow.len(), 2);
    assert_eq!((d.flow[0].accepted, d.flow[0].junk), (1, 1));
    let second = &d.flow[1];
    assert_eq!(
        (
            second.accepted,
            second.quarantined,
            second.rejected,
            second.held
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(d.detections["message_quarantined"], 1);
    assert_eq!(d.detections["dlp_held"], 1);
    assert_eq!(d.logins["login_denied"], 3);
    assert_eq!(d.logins["login_allowed"], 1);
    assert_eq!(d.risky_accounts[0].name, "carol@example.com");
    assert_eq!(
        (d.risky_accounts[0].denied, d.risky_accounts[1].challenged),
        (3, 1)
    );
    assert_eq!(d.risky_sources[0].name, "203.0.113.9");
    assert!(
        d.risky_sources.iter().all(|s| s.name != "192.0.2.1"),
        "allowed logins are not risky"
    );
    assert!(meta.dashboard(base, base, 3600).await.is_err());
    assert!(meta.dashboard(base, at(120), 1).await.is_err());
}
