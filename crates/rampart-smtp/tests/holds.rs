//! Messages held by DLP: release sends them on, expiry returns them to the sender unsent.

use std::sync::Arc;

use bytes::Bytes;
use rampart_model::{
    BlobId, EmailAddress, Folder, HoldKind, HoldStatus, ManualClock, NewAccount, NewHold, Timestamp,
};
use rampart_store::Mailstore;

const T0: Timestamp = Timestamp(1_795_000_000);

fn addr(s: &str) -> EmailAddress {
    s.parse().unwrap()
}

async fn store() -> (tempfile::TempDir, ManualClock, Mailstore) {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(T0);
    let store = Mailstore::open_embedded(dir.path(), Arc::new(clock.clone()), 7).unwrap();
    store
        .meta()
        .add_domain("example.com", T0, "t")
        .await
        .unwrap();
    for a in ["alice@example.com", "bob@example.com"] {
        store
            .meta()
            .create_account(
                NewAccount {
                    address: Some(addr(a)),
                    ..Default::default()
                },
                T0,
                "t",
            )
            .await
            .unwrap();
    }
    (dir, clock, store)
}

async fn hold(store: &Mailstore, expires: Option<Timestamp>) -> i64 {
    store
        .hold_outbound(
            Bytes::from_static(
                b"From: alice@example.com\r\nSubject: ids\r\n\r\n320925197308114120\r\n",
            ),
            NewHold {
                kind: HoldKind::Sender,
                account: addr("alice@example.com"),
                mail_from: "alice@example.com".into(),
                recipients: vec![addr("bob@example.com"), addr("x@partner.example")],
                blob: BlobId(String::new()),
                size: 0,
                subject: "ids".into(),
                rule: "ids-or-cards-outside".into(),
                findings: "[]".into(),
                expires_at: expires,
            },
            "alice@example.com",
        )
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn release_delivers_locally_queues_remote_and_files_sent() {
    let (_dir, _clock, store) = store().await;
    let id = hold(&store, None).await;
    let h = rampart_smtp::hold::release(&store, id, true, "alice@example.com")
        .await
        .unwrap();
    assert_eq!(h.status, HoldStatus::Released);
    let bob = store
        .meta()
        .list_messages(&addr("bob@example.com"), Some(Folder::Inbox), false)
        .await
        .unwrap();
    assert_eq!(bob.len(), 1);
    let queued = store.meta().list_outbound(Some("queued")).await.unwrap();
    assert_eq!(queued[0].recipient, addr("x@partner.example"));
    let sent = store
        .meta()
        .list_messages(&addr("alice@example.com"), Some(Folder::Sent), false)
        .await
        .unwrap();
    assert_eq!(sent.len(), 1);
    assert!(
        rampart_smtp::hold::release(&store, id, true, "cli")
            .await
            .is_err(),
        "only once"
    );
}

#[tokio::test]
async fn expired_holds_go_back_to_the_sender_unsent() {
    let (_dir, clock, store) = store().await;
    let id = hold(&store, Some(Timestamp(T0.0 + 3600))).await;
    assert_eq!(
        rampart_smtp::hold::expire_due(&store, "mx.example.com")
            .await
            .unwrap(),
        0
    );
    clock.advance_secs(3601);
    assert_eq!(
        rampart_smtp::hold::expire_due(&store, "mx.example.com")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.meta().hold(id).await.unwrap().unwrap().status,
        HoldStatus::Expired
    );
    let inbox = store
        .meta()
        .list_messages(&addr("alice@example.com"), Some(Folder::Inbox), false)
        .await
        .unwrap();
    assert_eq!(inbox.len(), 2, "the message itself and a notice");
    assert!(inbox.iter().any(|m| m.subject == "Returned unsent: ids"));
    let returned = inbox.iter().find(|m| m.subject == "ids").unwrap();
    let raw = store
        .raw(&addr("alice@example.com"), returned.id)
        .await
        .unwrap();
    assert!(raw.starts_with(b"X-Rampart-Hold: returned unsent"));
    assert!(store.meta().list_outbound(None).await.unwrap().is_empty());
    assert!(store
        .meta()
        .list_messages(&addr("bob@example.com"), None, false)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        rampart_smtp::hold::expire_due(&store, "mx.example.com")
            .await
            .unwrap(),
        0
    );
}
