//! The mail store as its callers see it: delivery, soft delete, the recovery window, purge and
//! the events they leave behind, with time driven by a manual clock.

use std::sync::Arc;

use bytes::Bytes;
use rampart_model::{
    EmailAddress, EventKind, Folder, ManualClock, MessageId, NewAccount, Timestamp,
};
use rampart_store::{EventFilter, Mailstore, MessageSummary, NewMessage, Recipient, StoreError};

const T0: Timestamp = Timestamp(1_795_000_000);

fn addr(s: &str) -> EmailAddress {
    s.parse().unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    clock: ManualClock,
    store: Mailstore,
}

async fn fixture() -> Fixture {
    archived_fixture(true).await
}

/// Without the archive, a purge frees the blobs of purged messages (with it, the archive keeps
/// them for their retention).
async fn archived_fixture(archive: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(T0);
    let store = Mailstore::open_embedded(dir.path(), Arc::new(clock.clone()), 7)
        .unwrap()
        .with_archive(archive);
    let meta = store.meta();
    meta.add_domain("Example.com", T0, "test").await.unwrap();
    for user in ["alice@example.com", "bob@example.com"] {
        meta.create_account(
            NewAccount {
                address: Some(addr(user)),
                quota_bytes: Some(1_000_000),
                ..Default::default()
            },
            T0,
            "test",
        )
        .await
        .unwrap();
    }
    Fixture {
        path: dir.path().to_path_buf(),
        _dir: dir,
        clock,
        store,
    }
}

fn message(subject: &str) -> NewMessage {
    NewMessage {
        raw: Bytes::from(format!("Subject: {subject}\r\n\r\nbody of {subject}\r\n")),
        summary: MessageSummary {
            subject: subject.into(),
            ..Default::default()
        },
    }
}

#[tokio::test]
async fn delivers_one_blob_to_every_recipient_mailbox() {
    let f = fixture().await;
    let rcpts = [addr("alice@example.com"), addr("bob@example.com")];
    let stored = f
        .store
        .deliver(message("team"), &rcpts, Folder::Inbox, "smtp")
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(
        stored[0].blob, stored[1].blob,
        "recipients share the content-addressed blob"
    );
    for r in &rcpts {
        let list = f.store.list(r, None).await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].subject, "team");
        assert_eq!(list[0].folder, Some(Folder::Inbox));
        assert_eq!(list[0].uid, 1);
    }
    let alice = f.store.meta().account(&rcpts[0]).await.unwrap().unwrap();
    assert_eq!(alice.used_bytes, stored[0].size);
}

#[tokio::test]
async fn restores_message_deleted_six_days_ago_byte_identical_to_its_folder() {
    let f = fixture().await;
    let alice = addr("alice@example.com");
    let stored = f
        .store
        .deliver(
            message("keep me"),
            std::slice::from_ref(&alice),
            Folder::Archive,
            "smtp",
        )
        .await
        .unwrap();
    let id = stored[0].id;
    let original = f.store.raw(&alice, id).await.unwrap();

    let deleted = f.store.delete(&alice, id, "cli").await.unwrap();
    assert_eq!(deleted.recoverable_until, Some(T0.plus_days(7)));
    assert!(f.store.list(&alice, None).await.unwrap().is_empty());
    assert_eq!(
        f.store
            .meta()
            .account(&alice)
            .await
            .unwrap()
            .unwrap()
            .used_bytes,
        0
    );
    let recoverable = f.store.deleted(&alice).await.unwrap();
    assert_eq!(recoverable.len(), 1);
    assert_eq!(recoverable[0].recoverable_until, Some(T0.plus_days(7)));

    f.clock.advance_days(6);
    assert_eq!(f.store.purge("purge-job").await.unwrap().messages, 0);
    let restored = f.store.restore(&alice, id, "cli").await.unwrap();
    assert_eq!(restored.folder, Some(Folder::Archive));
    assert!(
        restored.uid > stored[0].uid,
        "a restored message is a new arrival for IMAP"
    );
    assert_eq!(f.store.raw(&alice, id).await.unwrap(), original);
    assert_eq!(
        f.store
            .list(&alice, Some(Folder::Archive))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(f.store.deleted(&alice).await.unwrap().is_empty());
}

#[tokio::test]
async fn refuses_to_restore_once_the_window_has_passed() {
    let f = fixture().await;
    let alice = addr("alice@example.com");
    let id = f
        .store
        .deliver(
            message("old"),
            std::slice::from_ref(&alice),
            Folder::Inbox,
            "smtp",
        )
        .await
        .unwrap()[0]
        .id;
    f.store.delete(&alice, id, "cli").await.unwrap();
    f.clock.advance_days(7);
    f.clock.advance_secs(1);
    let err = f.store.restore(&alice, id, "cli").await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
}

#[tokio::test]
async fn purge_removes_only_messages_deleted_longer_ago_than_the_window() {
    let f = archived_fixture(false).await;
    let alice = addr("alice@example.com");
    let bob = addr("bob@example.com");
    let shared = f
        .store
        .deliver(
            message("shared"),
            &[alice.clone(), bob.clone()],
            Folder::Inbox,
            "smtp",
        )
        .await
        .unwrap();
    let old = f
        .store
        .deliver(
            message("old"),
            std::slice::from_ref(&alice),
            Folder::Inbox,
            "smtp",
        )
        .await
        .unwrap()[0]
        .clone();
    let recent = f
        .store
        .deliver(
            message("recent"),
            std::slice::from_ref(&alice),
            Folder::Inbox,
            "smtp",
        )
        .await
        .unwrap()[0]
        .clone();
    let kept = f
        .store
        .deliver(
            message("kept"),
            std::slice::from_ref(&alice),
            Folder::Inbox,
            "smtp",
        )
        .await
        .unwrap()[0]
        .clone();

    f.store.delete(&alice, old.id, "cli").await.unwrap();
    f.store.delete(&alice, shared[0].id, "cli").await.unwrap();
    f.clock.advance_days(2);
    f.store.delete(&alice, recent.id, "cli").await.unwrap();

    // Exactly at the end of the window the oldest deletions are still recoverable.
    f.clock.set(T0.plus_days(7));
    assert_eq!(f.store.purge("purge-job").await.unwrap().messages, 0);

    f.clock.advance_secs(1);
    let report = f.store.purge("purge-job").await.unwrap();
    assert_eq!(report.messages, 2, "old + alice's copy of shared");
    assert_eq!(report.blobs, 1, "bob still references the shared blob");
    assert!(matches!(
        f.store.raw(&alice, old.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        f.store.raw(&bob, shared[1].id).await.unwrap(),
        message("shared").raw
    );
    let still_deleted: Vec<MessageId> = f
        .store
        .deleted(&alice)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(still_deleted, vec![recent.id]);
    let visible: Vec<MessageId> = f
        .store
        .list(&alice, None)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(visible, vec![kept.id]);
    let blob_file = f
        .path
        .join("blobs")
        .join(&old.blob.0[..2])
        .join(&old.blob.0);
    assert!(!blob_file.exists(), "unreferenced blob file removed");
}

#[tokio::test]
async fn records_every_delete_restore_and_purge_as_an_event() {
    let f = fixture().await;
    let alice = addr("alice@example.com");
    let id = f
        .store
        .deliver(
            message("x"),
            std::slice::from_ref(&alice),
            Folder::Inbox,
            "smtp",
        )
        .await
        .unwrap()[0]
        .id;
    f.store.delete(&alice, id, "cli:root").await.unwrap();
    f.store.restore(&alice, id, "cli:root").await.unwrap();
    f.store.delete(&alice, id, "cli:root").await.unwrap();
    f.clock.advance_days(8);
    f.store.purge("purge-job").await.unwrap();

    let events = f
        .store
        .meta()
        .list_events(&EventFilter {
            subject: Some(alice.to_string()),
            ..Default::default()
        })
        .await
        .unwrap();
    let kinds: Vec<EventKind> = events.iter().rev().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            EventKind::AccountCreated,
            EventKind::MessageDelivered,
            EventKind::MessageDeleted,
            EventKind::MessageRestored,
            EventKind::MessageDeleted,
            EventKind::MessagePurged,
        ]
    );
    let purge = &events[0];
    assert_eq!(purge.actor, "purge-job");
    assert_eq!(purge.detail.get("id"), Some(&id.to_string()));
    assert_eq!(purge.at, T0.plus_days(8));
}

#[tokio::test]
async fn resolves_recipients_through_domains_accounts_aliases_and_status() {
    let f = fixture().await;
    let meta = f.store.meta();
    let now = T0;
    assert_eq!(
        meta.resolve(&addr("x@elsewhere.org")).await.unwrap(),
        Recipient::NotLocal
    );
    assert_eq!(
        meta.resolve(&addr("nobody@example.com")).await.unwrap(),
        Recipient::Unknown
    );
    meta.add_alias(
        &addr("team@example.com"),
        &addr("alice@example.com"),
        now,
        "t",
    )
    .await
    .unwrap();
    meta.add_alias(
        &addr("team@example.com"),
        &addr("bob@example.com"),
        now,
        "t",
    )
    .await
    .unwrap();
    match meta.resolve(&addr("TEAM@example.COM")).await.unwrap() {
        Recipient::Accounts(a) => assert_eq!(a.len(), 2),
        other => panic!("{other:?}"),
    }
    meta.set_disabled(&addr("bob@example.com"), true, now, "t")
        .await
        .unwrap();
    assert!(matches!(
        meta.resolve(&addr("bob@example.com")).await.unwrap(),
        Recipient::Disabled(_)
    ));
    match meta.resolve(&addr("team@example.com")).await.unwrap() {
        Recipient::Accounts(a) => assert_eq!(a.len(), 1, "disabled target skipped"),
        other => panic!("{other:?}"),
    }
    let err = meta
        .remove_domain("example.com", now, "t")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert!(matches!(
        meta.create_account(
            NewAccount {
                address: Some(addr("a@nowhere.org")),
                ..Default::default()
            },
            now,
            "t"
        )
        .await,
        Err(StoreError::UnknownDomain(d)) if d == "nowhere.org"
    ));
    assert!(matches!(
        meta.create_account(
            NewAccount {
                address: Some(addr("alice@example.com")),
                ..Default::default()
            },
            now,
            "t"
        )
        .await,
        Err(StoreError::Conflict(_))
    ));
}

#[tokio::test]
async fn concurrent_deliveries_are_group_committed_without_loss() {
    let f = fixture().await;
    let alice = addr("alice@example.com");
    let mut tasks = Vec::new();
    for i in 0..200 {
        let store = f.store.clone();
        let alice = alice.clone();
        tasks.push(tokio::spawn(async move {
            store
                .deliver(message(&format!("m{i}")), &[alice], Folder::Inbox, "smtp")
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let list = f.store.list(&alice, None).await.unwrap();
    assert_eq!(list.len(), 200);
    let mut uids: Vec<u32> = list.iter().map(|m| m.uid).collect();
    uids.sort();
    uids.dedup();
    assert_eq!(uids.len(), 200, "UIDs are unique");

    // A failing write in the same batch must not take the others down.
    let (good_rcpt, bad_rcpt) = ([alice.clone()], [addr("ghost@example.com")]);
    let (ok, bad) = tokio::join!(
        f.store
            .deliver(message("good"), &good_rcpt, Folder::Inbox, "smtp"),
        f.store
            .deliver(message("bad"), &bad_rcpt, Folder::Inbox, "smtp"),
    );
    assert!(ok.is_ok());
    assert!(matches!(bad, Err(StoreError::NotFound(_))));
}

#[tokio::test]
async fn data_survives_reopening_the_store() {
    let f = fixture().await;
    let alice = addr("alice@example.com");
    let id = f
        .store
        .deliver(
            message("persist"),
            std::slice::from_ref(&alice),
            Folder::Inbox,
            "smtp",
        )
        .await
        .unwrap()[0]
        .id;
    let path = f.path.clone();
    drop(f.store);
    let reopened = Mailstore::open_embedded(&path, Arc::new(ManualClock::at(T0)), 7).unwrap();
    assert_eq!(reopened.list(&alice, None).await.unwrap()[0].id, id);
    assert_eq!(
        reopened.raw(&alice, id).await.unwrap(),
        message("persist").raw
    );
}

#[tokio::test]
async fn purge_sweeps_blobs_whose_delivery_never_committed_once_a_day_old() {
    use rampart_store::{BlobStore, FsBlobStore};
    let f = fixture().await;
    let alice = addr("alice@example.com");
    let kept = f
        .store
        .deliver(
            message("kept"),
            std::slice::from_ref(&alice),
            Folder::Inbox,
            "smtp",
        )
        .await
        .unwrap()[0]
        .clone();
    // A crash between the blob write and the metadata commit leaves a blob nobody references.
    let blobs = FsBlobStore::open(&f.path.join("blobs")).unwrap();
    let fresh = blobs
        .put(Bytes::from_static(b"fresh orphan"))
        .await
        .unwrap();
    let old = blobs.put(Bytes::from_static(b"old orphan")).await.unwrap();
    let two_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400);
    for id in [&old, &kept.blob] {
        let path = f.path.join("blobs").join(&id.0[..2]).join(&id.0);
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(two_days_ago)
            .unwrap();
    }
    f.clock.set(Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    ));
    let report = f.store.purge("purge-job").await.unwrap();
    assert_eq!(report.orphans, 1);
    assert!(!blobs.exists(&old).await.unwrap(), "day-old orphan removed");
    assert!(
        blobs.exists(&fresh).await.unwrap(),
        "a young blob may still be on its way to the index"
    );
    assert_eq!(
        f.store.raw(&alice, kept.id).await.unwrap(),
        message("kept").raw,
        "referenced blobs are never orphans"
    );
}

#[tokio::test]
async fn releases_a_quarantined_message_byte_identical_into_the_inbox_once() {
    use rampart_model::{Direction, QuarantineStatus};
    let f = fixture().await;
    let rcpts = [addr("alice@example.com"), addr("bob@example.com")];
    let held = f
        .store
        .quarantine(
            message("suspicious"),
            &rcpts,
            Direction::Inbound,
            "x@evil.test",
            14.5,
            "{\"findings\":[]}".into(),
            "smtp",
        )
        .await
        .unwrap();
    assert_eq!(held.status, QuarantineStatus::Held);
    assert!(
        f.store.list(&rcpts[0], None).await.unwrap().is_empty(),
        "not in the mailbox while held"
    );
    let listed = f
        .store
        .meta()
        .list_quarantine(Some(QuarantineStatus::Held))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].subject, "suspicious");
    assert_eq!(listed[0].recipients, rcpts.to_vec());
    assert_eq!(listed[0].report, "{\"findings\":[]}");
    assert_eq!(
        f.store.quarantined_raw(held.id).await.unwrap(),
        message("suspicious").raw
    );

    let (released, delivered) = f.store.release(held.id, "cli:admin").await.unwrap();
    assert_eq!(released.status, QuarantineStatus::Released);
    assert_eq!(released.decided_by.as_deref(), Some("cli:admin"));
    assert_eq!(delivered.len(), 2);
    for (rcpt, meta) in rcpts.iter().zip(&delivered) {
        assert_eq!(meta.folder, Some(Folder::Inbox));
        assert_eq!(
            f.store.raw(rcpt, meta.id).await.unwrap(),
            message("suspicious").raw
        );
    }
    assert!(matches!(
        f.store.release(held.id, "cli:admin").await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        f.store.delete_quarantined(held.id, "cli:admin").await,
        Err(StoreError::Conflict(_))
    ));
    let kinds: Vec<EventKind> = f
        .store
        .meta()
        .list_events(&EventFilter {
            subject: Some("bob@example.com".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        &kinds[..3],
        &[
            EventKind::QuarantineReleased,
            EventKind::MessageDelivered,
            EventKind::MessageQuarantined
        ]
    );
}

#[tokio::test]
async fn a_held_message_keeps_its_blob_until_deleted_from_quarantine() {
    use rampart_model::Direction;
    let f = archived_fixture(false).await;
    let rcpts = [addr("alice@example.com")];
    let held = f
        .store
        .quarantine(
            message("held"),
            &rcpts,
            Direction::Inbound,
            "",
            13.0,
            "{}".into(),
            "smtp",
        )
        .await
        .unwrap();
    let path = f
        .path
        .join("blobs")
        .join(&held.blob.0[..2])
        .join(&held.blob.0);
    let two_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(two_days_ago)
        .unwrap();
    let now = Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    );
    f.clock.set(now);
    assert_eq!(
        f.store.purge("purge-job").await.unwrap().orphans,
        0,
        "held: still needed"
    );
    f.store
        .delete_quarantined(held.id, "cli:admin")
        .await
        .unwrap();
    assert_eq!(
        f.store.purge("purge-job").await.unwrap().orphans,
        1,
        "deleted: swept"
    );
    assert!(!path.exists());
}

#[tokio::test]
async fn queued_outbound_mail_keeps_its_blob_and_sent_copies_start_seen() {
    use rampart_model::Flag;
    let f = fixture().await;
    let remote = [addr("carol@remote.example"), addr("dan@remote.example")];
    let queued = f
        .store
        .enqueue_outbound(
            Bytes::from_static(b"Subject: out\r\n\r\nhello\r\n"),
            "alice@example.com",
            &remote,
            "q123",
            "alice@example.com",
        )
        .await
        .unwrap();
    assert_eq!(queued.len(), 2);
    let listed = f.store.meta().list_outbound(Some("queued")).await.unwrap();
    assert_eq!(listed, queued);
    assert_eq!(listed[1].recipient, addr("dan@remote.example"));
    assert_eq!(listed[0].account, addr("alice@example.com"));

    // An old queued blob is not an orphan: the queue still needs it.
    let path = f
        .path
        .join("blobs")
        .join(&queued[0].blob.0[..2])
        .join(&queued[0].blob.0);
    let two_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(two_days_ago)
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    f.clock.set(Timestamp(now));
    assert_eq!(f.store.purge("purge-job").await.unwrap().orphans, 0);
    assert!(path.exists());

    let sent = f
        .store
        .deliver_with_flags(
            message("sent copy"),
            &[addr("alice@example.com")],
            Folder::Sent,
            &[Flag::Seen],
            "alice@example.com",
        )
        .await
        .unwrap();
    assert_eq!(sent[0].flags, vec![Flag::Seen]);
    let listed = f
        .store
        .meta()
        .list_messages(&addr("alice@example.com"), Some(Folder::Sent), false)
        .await
        .unwrap();
    assert_eq!(listed[0].flags, vec![Flag::Seen]);
}

#[tokio::test]
async fn dlp_holds_keep_their_blob_and_are_decided_once() {
    use rampart_model::{BlobId, HoldKind, HoldStatus, NewHold};
    let f = fixture().await;
    let alice = addr("alice@example.com");
    let held = f
        .store
        .hold_outbound(
            Bytes::from_static(b"Subject: ids\r\n\r\n320925197308114120\r\n"),
            NewHold {
                kind: HoldKind::Sender,
                account: alice.clone(),
                mail_from: "alice@example.com".into(),
                recipients: vec![addr("x@remote.example"), addr("bob@example.com")],
                blob: BlobId(String::new()),
                size: 0,
                subject: "ids".into(),
                rule: "ids-outside".into(),
                findings: r#"[{"entity":"CN_RESIDENT_ID","masked":"3209**********4120"}]"#.into(),
                expires_at: Some(Timestamp(T0.0 + 3600)),
            },
            "alice@example.com",
        )
        .await
        .unwrap();
    assert_eq!(held.status, HoldStatus::Held);
    assert_eq!(held.recipients.len(), 2);
    let (_, raw) = f.store.held_raw(held.id).await.unwrap();
    assert!(raw.ends_with(b"4120\r\n"));
    let mine = f
        .store
        .meta()
        .list_holds(Some(&alice), Some(HoldStatus::Held))
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert!(f.store.meta().due_holds(T0).await.unwrap().is_empty());
    assert_eq!(
        f.store
            .meta()
            .due_holds(Timestamp(T0.0 + 3600))
            .await
            .unwrap()
            .len(),
        1
    );

    // Held blobs are not orphans.
    let path = f
        .path
        .join("blobs")
        .join(&held.blob.0[..2])
        .join(&held.blob.0);
    let two_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(two_days_ago)
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    f.clock.set(Timestamp(now));
    assert_eq!(f.store.purge("purge-job").await.unwrap().orphans, 0);

    let released = f
        .store
        .meta()
        .decide_hold(
            held.id,
            HoldStatus::Released,
            Timestamp(now),
            "alice@example.com",
        )
        .await
        .unwrap();
    assert_eq!(released.status, HoldStatus::Released);
    // A release whose sending failed is undone: held again, with an event.
    let reopened = f
        .store
        .meta()
        .reopen_hold(held.id, Timestamp(now), "disk full")
        .await
        .unwrap();
    assert_eq!(reopened.status, HoldStatus::Held);
    assert!(f
        .store
        .meta()
        .reopen_hold(held.id, Timestamp(now), "again")
        .await
        .is_err());
    f.store
        .meta()
        .decide_hold(
            held.id,
            HoldStatus::Released,
            Timestamp(now),
            "alice@example.com",
        )
        .await
        .unwrap();
    let again = f
        .store
        .meta()
        .decide_hold(held.id, HoldStatus::Rejected, Timestamp(now), "cli")
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))));
    let events = f
        .store
        .meta()
        .list_events(&EventFilter {
            kinds: vec![EventKind::DlpHeld, EventKind::DlpReleased],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 4, "held, released, reopened, released");
    assert!(!events[3].detail["findings"].contains("320925197308114120"));
}
