//! Someone with write access to the database edits, deletes, reorders or rewrites audit rows, or
//! forges a checkpoint: `verify` finds each and names the first bad entry.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use rampart_audit::{checkpoint, verify, AuditKey, VerifyReport};
use rampart_model::{EventKind, ManualClock, Timestamp};
use rampart_store::Mailstore;
use rusqlite::{params, Connection};

const T0: Timestamp = Timestamp(1_795_000_000);

struct Trail {
    dir: tempfile::TempDir,
    key: AuditKey,
}

/// 50 events, checkpoints signed after events 30 and 50.
async fn trail() -> Trail {
    let dir = tempfile::tempdir().unwrap();
    let key = AuditKey::load_or_create(&dir.path().join("audit/signing.key")).unwrap();
    let clock = ManualClock::at(T0);
    let store = Mailstore::open_embedded(dir.path(), Arc::new(clock.clone()), 7).unwrap();
    for i in 1..=50 {
        let detail = BTreeMap::from([("n".to_string(), i.to_string())]);
        store
            .meta()
            .record_event(
                EventKind::LoginDenied,
                Timestamp(T0.0 + i),
                "smtp",
                Some("alice@example.com"),
                detail,
            )
            .await
            .unwrap();
        if i == 30 || i == 50 {
            checkpoint(store.meta(), &key, Timestamp(T0.0 + i))
                .await
                .unwrap()
                .unwrap();
        }
    }
    Trail { dir, key }
}

async fn check(dir: &Path, trusted: &[String]) -> VerifyReport {
    let store = Mailstore::open_embedded(dir, Arc::new(ManualClock::at(T0)), 7).unwrap();
    verify(store.meta(), trusted, &|_, _| {}).await.unwrap()
}

/// A connection without the append-only triggers, as an attacker would make one.
fn tamper(dir: &Path) -> Connection {
    let conn = Connection::open(dir.join("meta.sqlite")).unwrap();
    conn.execute_batch(
        "DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete; \
         DROP TRIGGER IF EXISTS checkpoints_no_update; \
         DROP TRIGGER IF EXISTS checkpoints_no_delete;",
    )
    .unwrap();
    conn
}

#[tokio::test]
async fn an_untouched_trail_verifies_and_its_checkpoints_are_counted() {
    let t = trail().await;
    let report = check(t.dir.path(), &[t.key.public_key_hex()]).await;
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.entries, 50);
    assert_eq!(report.checkpoints, 2);
    assert_eq!(report.signed_up_to, Some(50));
    assert_eq!(report.first_bad_entry, None);
}

#[tokio::test]
async fn the_store_itself_refuses_to_change_or_delete_audit_rows() {
    let t = trail().await;
    let conn = Connection::open(t.dir.path().join("meta.sqlite")).unwrap();
    let err = conn
        .execute("UPDATE events SET actor = 'nobody' WHERE id = 3", [])
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = conn
        .execute("DELETE FROM events WHERE id = 3", [])
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
}

#[tokio::test]
async fn an_edited_entry_is_named() {
    let t = trail().await;
    tamper(t.dir.path())
        .execute(
            "UPDATE events SET detail = '{\"n\":\"999\"}' WHERE id = 10",
            [],
        )
        .unwrap();
    let report = check(t.dir.path(), &[]).await;
    assert!(!report.ok);
    assert_eq!(report.first_bad_entry, Some(10), "{:?}", report.problems);
    assert!(report.problems[0].what.contains("entry 10"));
}

#[tokio::test]
async fn a_deleted_entry_is_named() {
    let t = trail().await;
    tamper(t.dir.path())
        .execute("DELETE FROM events WHERE id = 20", [])
        .unwrap();
    let report = check(t.dir.path(), &[]).await;
    assert_eq!(report.first_bad_entry, Some(20), "{:?}", report.problems);
    assert!(report
        .problems
        .iter()
        .any(|p| p.what.contains("entry 20 is missing")));
}

#[tokio::test]
async fn reordered_entries_are_named() {
    let t = trail().await;
    tamper(t.dir.path())
        .execute_batch(
            "UPDATE events SET id = -5 WHERE id = 5; UPDATE events SET id = 5 WHERE id = 6; \
             UPDATE events SET id = 6 WHERE id = -5;",
        )
        .unwrap();
    let report = check(t.dir.path(), &[]).await;
    assert_eq!(report.first_bad_entry, Some(5), "{:?}", report.problems);
}

#[tokio::test]
async fn a_rewritten_chain_is_caught_by_the_signed_checkpoint() {
    let t = trail().await;
    let conn = tamper(t.dir.path());
    // Edit entry 12 and recompute every hash after it: every link is fine again.
    conn.execute("UPDATE events SET actor = 'someone-else' WHERE id = 12", [])
        .unwrap();
    let rows: Vec<(i64, i64, String, String, Option<String>, String)> = conn
        .prepare("SELECT id, at, kind, actor, subject, detail FROM events ORDER BY id")
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut prev = rampart_store::audit::GENESIS;
    for (id, at, kind, actor, subject, detail) in rows {
        prev = rampart_store::audit::entry_hash(
            &prev,
            id,
            at,
            &kind,
            &actor,
            subject.as_deref(),
            &detail,
        );
        conn.execute(
            "UPDATE events SET hash = ?1 WHERE id = ?2",
            params![hex::encode(prev), id],
        )
        .unwrap();
    }
    let report = check(t.dir.path(), &[]).await;
    assert!(!report.ok);
    assert_eq!(report.first_bad_entry, Some(30), "{:?}", report.problems);
    assert!(report.problems[0].what.contains("rewritten"));
    assert_eq!(report.signed_up_to, None);
}

#[tokio::test]
async fn a_cut_off_tail_is_caught_by_the_last_checkpoint() {
    let t = trail().await;
    tamper(t.dir.path())
        .execute("DELETE FROM events WHERE id > 40", [])
        .unwrap();
    let report = check(t.dir.path(), &[]).await;
    assert_eq!(report.first_bad_entry, Some(41), "{:?}", report.problems);
    assert!(report.problems[0].what.contains("deleted"));
}

#[tokio::test]
async fn a_forged_checkpoint_or_a_replaced_key_is_caught() {
    let t = trail().await;
    let trusted = vec![t.key.public_key_hex()];
    tamper(t.dir.path())
        .execute(
            "UPDATE audit_checkpoints SET event_id = 29 WHERE event_id = 30",
            [],
        )
        .unwrap();
    let report = check(t.dir.path(), &trusted).await;
    assert!(report
        .problems
        .iter()
        .any(|p| p.what.contains("no valid signature")));

    // Garbage where hex should be (multi-byte text too) is a finding, never a crash.
    tamper(t.dir.path())
        .execute_batch(
            "UPDATE audit_checkpoints SET public_key = 'aéééééééééééééééé', hash = 'aüüüüüüüüüü' \
         WHERE event_id = 50",
        )
        .unwrap();
    let report = check(t.dir.path(), &trusted).await;
    assert!(report.problems.len() >= 2, "{:?}", report.problems);

    // Someone replaces the key and signs their own checkpoint: valid signature, untrusted key.
    let t = trail().await;
    let other = AuditKey::load_or_create(&t.dir.path().join("other.key")).unwrap();
    {
        let store =
            Mailstore::open_embedded(t.dir.path(), Arc::new(ManualClock::at(T0)), 7).unwrap();
        store
            .meta()
            .record_event(EventKind::LoginDenied, T0, "x", None, BTreeMap::new())
            .await
            .unwrap();
        checkpoint(store.meta(), &other, T0).await.unwrap().unwrap();
    }
    let report = check(t.dir.path(), &trusted).await;
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.what.contains("not a trusted audit key")),
        "{:?}",
        report.problems
    );
    assert!(
        check(t.dir.path(), &[]).await.ok,
        "without pinning, any valid key passes"
    );
}

#[tokio::test]
async fn a_checkpoint_is_only_signed_when_the_chain_moved() {
    let t = trail().await;
    let store = Mailstore::open_embedded(t.dir.path(), Arc::new(ManualClock::at(T0)), 7).unwrap();
    assert!(checkpoint(store.meta(), &t.key, T0)
        .await
        .unwrap()
        .is_none());
}
