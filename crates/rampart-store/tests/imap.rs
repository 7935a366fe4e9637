//! The store as an IMAP server sees it: mailboxes and their name rules, rename and delete,
//! flags and keywords with CONDSTORE mod-sequences, COPY/MOVE/EXPUNGE/APPEND, and how all of it
//! meets the recovery window, with time driven by a manual clock.

use std::sync::Arc;

use bytes::Bytes;
use rampart_model::{
    EmailAddress, EventKind, Flag, FlagChange, Folder, ManualClock, NewAccount, Timestamp,
};
use rampart_store::{EventFilter, Mailstore, MessageSummary, NewMessage, StoreError};

const T0: Timestamp = Timestamp(1_795_000_000);

fn addr(s: &str) -> EmailAddress {
    s.parse().unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    clock: ManualClock,
    store: Mailstore,
    alice: EmailAddress,
}

async fn fixture_with_quota(quota: Option<u64>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(T0);
    let store = Mailstore::open_embedded(dir.path(), Arc::new(clock.clone()), 7).unwrap();
    let meta = store.meta();
    meta.add_domain("example.com", T0, "test").await.unwrap();
    for user in ["alice@example.com", "bob@example.com"] {
        meta.create_account(
            NewAccount {
                address: Some(addr(user)),
                quota_bytes: quota,
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
        alice: addr("alice@example.com"),
    }
}

async fn fixture() -> Fixture {
    fixture_with_quota(Some(1_000_000)).await
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

impl Fixture {
    async fn mailbox_id(&self, name: &str) -> i64 {
        self.store
            .meta()
            .mailbox(&self.alice, name)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no mailbox {name}"))
            .id
    }

    async fn deliver(&self, subject: &str) -> u32 {
        self.store
            .deliver(
                message(subject),
                std::slice::from_ref(&self.alice),
                Folder::Inbox,
                "smtp",
            )
            .await
            .unwrap()[0]
            .uid
    }

    async fn append(&self, mailbox: &str, subject: &str, flags: &[Flag]) -> u32 {
        self.store
            .append(
                &self.alice,
                mailbox,
                message(subject),
                flags,
                &[],
                None,
                "imap",
            )
            .await
            .unwrap()
            .1
    }

    async fn uids(&self, mailbox: &str) -> Vec<u32> {
        let id = self.mailbox_id(mailbox).await;
        let msgs = self.store.meta().imap_messages(id).await.unwrap();
        msgs.iter().map(|m| m.uid).collect()
    }

    async fn modseq(&self, mailbox: &str) -> u64 {
        let id = self.mailbox_id(mailbox).await;
        self.store.meta().mailbox_state(id).await.unwrap().1
    }

    async fn used_bytes(&self) -> u64 {
        self.store
            .meta()
            .account(&self.alice)
            .await
            .unwrap()
            .unwrap()
            .used_bytes
    }

    /// The polled state agrees with the rows, for every mailbox of the account.
    async fn assert_state_matches_rows(&self) {
        let meta = self.store.meta();
        for mb in meta.list_mailboxes(&self.alice).await.unwrap() {
            let msgs = meta.imap_messages(mb.id).await.unwrap();
            let (uidnext, modseq, exists) = meta.mailbox_state(mb.id).await.unwrap();
            assert_eq!(exists as usize, msgs.len(), "EXISTS of {}", mb.name);
            assert_eq!((uidnext, modseq), (mb.uidnext, mb.highest_modseq));
            assert!(msgs.iter().all(|m| m.uid < uidnext && m.modseq <= modseq));
            let unseen: Vec<u32> = msgs
                .iter()
                .filter(|m| !m.flags.contains(&Flag::Seen))
                .map(|m| m.uid)
                .collect();
            assert_eq!(mb.unseen as usize, unseen.len(), "unseen of {}", mb.name);
            assert_eq!(mb.first_unseen_uid, unseen.first().copied());
        }
    }
}

#[tokio::test]
async fn lists_the_standard_folders_with_their_special_uses_inbox_first() {
    let f = fixture().await;
    let list = f.store.meta().list_mailboxes(&f.alice).await.unwrap();
    let names: Vec<&str> = list.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        ["INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"]
    );
    for mb in &list {
        assert_eq!(mb.special_use, Folder::of_mailbox(&mb.name));
        assert!(mb.special_use.is_some() && mb.subscribed);
        assert_eq!((mb.exists, mb.unseen, mb.uidnext), (0, 0, 1));
        assert_eq!(mb.highest_modseq, 1);
    }
    f.deliver("one").await;
    f.deliver("two").await;
    let inbox = f.store.meta().mailbox(&f.alice, "inbox").await.unwrap();
    let inbox = inbox.expect("INBOX matches case-insensitively");
    assert_eq!((inbox.exists, inbox.unseen, inbox.uidnext), (2, 2, 3));
    assert_eq!(inbox.first_unseen_uid, Some(1));
    f.assert_state_matches_rows().await;
}

#[tokio::test]
async fn creates_nested_mailboxes_and_refuses_bad_names() {
    let f = fixture().await;
    let meta = f.store.meta();
    let falcon = meta
        .create_mailbox(&f.alice, "Projects/Falcon", T0)
        .await
        .unwrap();
    assert_eq!(falcon.name, "Projects/Falcon");
    assert_eq!(
        (falcon.special_use, falcon.exists, falcon.uidnext),
        (None, 0, 1)
    );
    assert!(falcon.subscribed, "a new mailbox starts subscribed");
    assert!(
        meta.mailbox(&f.alice, "Projects").await.unwrap().is_none(),
        "the parent is not created"
    );
    assert!(
        meta.mailbox(&f.alice, "projects/falcon")
            .await
            .unwrap()
            .is_none(),
        "names other than INBOX are case-sensitive"
    );
    let sent = meta.create_mailbox(&f.alice, "sent", T0).await.unwrap();
    assert_eq!(
        sent.special_use, None,
        "a user's `sent` is not the Sent folder"
    );

    for taken in ["Projects/Falcon", "Sent", "inbox", "INBOX"] {
        let err = meta.create_mailbox(&f.alice, taken, T0).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{taken}: {err}");
    }
    let long = "x".repeat(256);
    for bad in [
        "", "/a", "a/", "a//b", "a\tb", "a\u{7f}", "a*", "50%", &long,
    ] {
        let err = meta.create_mailbox(&f.alice, bad, T0).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{bad:?}: {err}");
    }
    meta.create_mailbox(&f.alice, &"y".repeat(255), T0)
        .await
        .unwrap();
    let kid = meta
        .create_mailbox(&f.alice, "inbox/Old", T0)
        .await
        .unwrap();
    assert_eq!(
        kid.name, "INBOX/Old",
        "the INBOX level is spelled canonically"
    );

    meta.subscribe_mailbox(&f.alice, "Projects/Falcon", false)
        .await
        .unwrap();
    let falcon = meta.mailbox(&f.alice, "Projects/Falcon").await.unwrap();
    assert!(!falcon.unwrap().subscribed);
    let err = meta
        .subscribe_mailbox(&f.alice, "Nowhere", true)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");

    let events = meta
        .list_events(&EventFilter {
            kind: Some(EventKind::MailboxCreated),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 4);
}

#[tokio::test]
async fn recreating_a_mailbox_in_the_same_second_gets_a_new_uidvalidity() {
    let f = fixture().await;
    let meta = f.store.meta();
    let first = meta.create_mailbox(&f.alice, "Temp", T0).await.unwrap();
    meta.delete_mailbox(&f.alice, "Temp", T0, "imap")
        .await
        .unwrap();
    let again = meta.create_mailbox(&f.alice, "Temp", T0).await.unwrap();
    assert!(again.uidvalidity > first.uidvalidity);
}

#[tokio::test]
async fn renames_a_mailbox_with_its_children_under_new_uidvalidities() {
    let f = fixture().await;
    let meta = f.store.meta();
    for name in ["A", "A/x", "A/x/y", "AB", "B/keep"] {
        meta.create_mailbox(&f.alice, name, T0).await.unwrap();
    }
    f.append("A/x", "inside", &[]).await;
    let before = meta.mailbox(&f.alice, "A/x").await.unwrap().unwrap();

    meta.rename_mailbox(&f.alice, "A", "B", T0).await.unwrap();
    let names: Vec<String> = meta
        .list_mailboxes(&f.alice)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.special_use.is_none())
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["AB", "B", "B/keep", "B/x", "B/x/y"]);
    let after = meta.mailbox(&f.alice, "B/x").await.unwrap().unwrap();
    assert_eq!(after.id, before.id);
    assert_eq!(after.exists, 1, "messages go along");
    assert_ne!(after.uidvalidity, before.uidvalidity);
    assert!(
        after.highest_modseq > before.highest_modseq,
        "sessions polling it notice"
    );
    let listed = f.store.list(&f.alice, None).await.unwrap();
    assert_eq!(listed[0].mailbox, "B/x");
    assert_eq!(listed[0].folder, None);

    let err = meta.rename_mailbox(&f.alice, "B", "AB", T0).await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    let err = meta.rename_mailbox(&f.alice, "B", "B/x/z", T0).await;
    assert!(matches!(err, Err(StoreError::Invalid(_))), "{err:?}");
    let err = meta.rename_mailbox(&f.alice, "Sent", "Outbox", T0).await;
    assert!(matches!(err, Err(StoreError::Invalid(_))), "{err:?}");
    let err = meta.rename_mailbox(&f.alice, "Nope", "Other", T0).await;
    assert!(matches!(err, Err(StoreError::NotFound(_))), "{err:?}");
    let err = meta.rename_mailbox(&f.alice, "AB", "Trash", T0).await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");

    // A child's new name may be another renamed mailbox's old one.
    for name in ["P/Q", "P/Q/c", "P/Q/Q/c"] {
        meta.create_mailbox(&f.alice, name, T0).await.unwrap();
    }
    meta.rename_mailbox(&f.alice, "P/Q", "P", T0).await.unwrap();
    for name in ["P", "P/c", "P/Q/c"] {
        assert!(
            meta.mailbox(&f.alice, name).await.unwrap().is_some(),
            "{name}"
        );
    }
    assert!(meta.mailbox(&f.alice, "P/Q/Q/c").await.unwrap().is_none());
    f.assert_state_matches_rows().await;
}

#[tokio::test]
async fn renaming_inbox_moves_its_messages_and_leaves_it_empty() {
    let f = fixture().await;
    let meta = f.store.meta();
    f.deliver("one").await;
    f.deliver("two").await;
    let gone = f.deliver("deleted").await;
    let inbox_id = f.mailbox_id("INBOX").await;
    let deleted_id = meta.imap_messages(inbox_id).await.unwrap()[2].id;
    f.store.delete(&f.alice, deleted_id, "cli").await.unwrap();
    meta.create_mailbox(&f.alice, "INBOX/kid", T0)
        .await
        .unwrap();
    let modseq = f.modseq("INBOX").await;

    meta.rename_mailbox(&f.alice, "inbox", "Old Mail", T0)
        .await
        .unwrap();
    let inbox = meta.mailbox(&f.alice, "INBOX").await.unwrap().unwrap();
    assert_eq!(inbox.exists, 0);
    assert_eq!(inbox.id, inbox_id, "INBOX itself stays");
    assert!(
        inbox.highest_modseq > modseq,
        "clients see the messages leave"
    );
    assert!(meta.mailbox(&f.alice, "INBOX/kid").await.unwrap().is_some());
    assert_eq!(f.uids("Old Mail").await, [1, 2]);
    let old = meta.mailbox(&f.alice, "Old Mail").await.unwrap().unwrap();
    assert_eq!(old.special_use, None);
    assert_eq!(old.uidnext, 3);

    // The deleted one still waits in INBOX's recovery window and comes back there.
    let restored = f.store.restore(&f.alice, deleted_id, "cli").await.unwrap();
    assert_eq!(restored.folder, Some(Folder::Inbox));
    assert!(restored.uid > gone);
    f.deliver("new").await;
    assert_eq!(
        meta.mailbox(&f.alice, "INBOX")
            .await
            .unwrap()
            .unwrap()
            .exists,
        2
    );
    f.assert_state_matches_rows().await;
}

#[tokio::test]
async fn deleting_a_mailbox_keeps_its_messages_recoverable() {
    let f = fixture().await;
    let meta = f.store.meta();
    meta.create_mailbox(&f.alice, "Projects", T0).await.unwrap();
    meta.create_mailbox(&f.alice, "Projects/Falcon", T0)
        .await
        .unwrap();
    f.append("Projects", "plan", &[Flag::Seen]).await;
    f.append("Projects", "budget", &[]).await;
    let expunged = f.append("Projects", "old", &[Flag::Deleted]).await;
    let projects = f.mailbox_id("Projects").await;
    assert_eq!(
        meta.expunge(projects, None, T0, "imap").await.unwrap(),
        [expunged]
    );
    let used = f.used_bytes().await;
    assert!(used > 0);

    f.clock.advance_secs(60);
    let moved = meta
        .delete_mailbox(&f.alice, "Projects", f.store.now(), "imap")
        .await
        .unwrap();
    assert_eq!(moved, 2, "the visible messages went to the recovery window");
    assert!(meta.mailbox(&f.alice, "Projects").await.unwrap().is_none());
    assert!(
        meta.mailbox(&f.alice, "Projects/Falcon")
            .await
            .unwrap()
            .is_some(),
        "mailboxes below it are kept"
    );
    assert!(matches!(
        meta.mailbox_state(projects).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(f.used_bytes().await, 0);
    let deleted = f.store.deleted(&f.alice).await.unwrap();
    assert_eq!(deleted.len(), 3);
    assert!(deleted
        .iter()
        .all(|m| m.mailbox == "Projects" && m.folder.is_none()));
    assert!(deleted
        .iter()
        .all(|m| m.recoverable_until.is_some_and(|t| t > f.store.now())));
    let events = meta
        .list_events(&EventFilter {
            kind: Some(EventKind::MailboxDeleted),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events[0].detail["mailbox"], "Projects");
    assert_eq!(events[0].detail["messages"], "2");

    // Restored while no mailbox of that name exists: into INBOX.
    let first = f
        .store
        .restore(&f.alice, deleted[0].id, "cli")
        .await
        .unwrap();
    assert_eq!(
        (first.mailbox.as_str(), first.folder),
        ("INBOX", Some(Folder::Inbox))
    );
    assert_eq!(first.subject, "plan");
    // Once the name exists again, back into it.
    meta.create_mailbox(&f.alice, "Projects", f.store.now())
        .await
        .unwrap();
    let second = f
        .store
        .restore(&f.alice, deleted[1].id, "cli")
        .await
        .unwrap();
    assert_eq!(second.mailbox, "Projects");
    assert_eq!(f.uids("Projects").await, [second.uid]);
    // An expunged one comes back without the `\Deleted` that got it expunged.
    let third = f
        .store
        .restore(&f.alice, deleted[2].id, "cli")
        .await
        .unwrap();
    assert!(!third.flags.contains(&Flag::Deleted));
    assert_eq!(f.used_bytes().await, used + third.size);

    for standard in ["INBOX", "inbox", "Sent", "Trash"] {
        let err = meta
            .delete_mailbox(&f.alice, standard, T0, "imap")
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{standard}: {err}");
    }
    let err = meta.delete_mailbox(&f.alice, "Nope", T0, "imap").await;
    assert!(matches!(err, Err(StoreError::NotFound(_))), "{err:?}");
    f.assert_state_matches_rows().await;
}

#[tokio::test]
async fn messages_of_a_deleted_mailbox_are_purged_after_the_window() {
    let f = fixture().await;
    let meta = f.store.meta();
    meta.create_mailbox(&f.alice, "Old", T0).await.unwrap();
    f.append("Old", "bye", &[]).await;
    meta.delete_mailbox(&f.alice, "Old", T0, "imap")
        .await
        .unwrap();
    f.clock.advance_days(7);
    f.clock.advance_secs(1);
    let report = f.store.purge("purge-job").await.unwrap();
    assert_eq!((report.messages, report.blobs), (1, 1));
    assert!(f.store.deleted(&f.alice).await.unwrap().is_empty());
}

#[tokio::test]
async fn store_flags_adds_removes_and_replaces_with_rising_modseq() {
    let f = fixture().await;
    let meta = f.store.meta();
    for s in ["a", "b", "c"] {
        f.deliver(s).await;
    }
    let inbox = f.mailbox_id("INBOX").await;
    let start = f.modseq("INBOX").await;
    let kw = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    let (updated, failed) = meta
        .store_flags(
            inbox,
            &[1, 2, 99],
            FlagChange::Add,
            &[Flag::Seen, Flag::Flagged],
            &kw(&["$Forwarded", "Project-X"]),
            None,
            T0,
        )
        .await
        .unwrap();
    assert!(failed.is_empty());
    assert_eq!(updated.iter().map(|m| m.uid).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(updated[0].flags, [Flag::Seen, Flag::Flagged]);
    assert_eq!(updated[0].keywords, kw(&["$Forwarded", "Project-X"]));
    let after_add = f.modseq("INBOX").await;
    assert_eq!(after_add, start + 1, "one STORE is one change");
    assert!(updated.iter().all(|m| m.modseq == after_add));

    // Setting what is already set changes nothing, and nothing is bumped.
    let (updated, _) = meta
        .store_flags(
            inbox,
            &[1],
            FlagChange::Add,
            &[Flag::Seen],
            &kw(&["project-x"]),
            None,
            T0,
        )
        .await
        .unwrap();
    assert!(updated.is_empty());
    assert_eq!(f.modseq("INBOX").await, after_add);

    let (updated, _) = meta
        .store_flags(
            inbox,
            &[1],
            FlagChange::Remove,
            &[Flag::Flagged],
            &kw(&["PROJECT-X"]),
            None,
            T0,
        )
        .await
        .unwrap();
    assert_eq!(updated[0].flags, [Flag::Seen]);
    assert_eq!(updated[0].keywords, kw(&["$Forwarded"]));
    let (updated, _) = meta
        .store_flags(
            inbox,
            &[2],
            FlagChange::Replace,
            &[Flag::Answered, Flag::Deleted],
            &[],
            None,
            T0,
        )
        .await
        .unwrap();
    assert_eq!(updated[0].flags, [Flag::Answered, Flag::Deleted]);
    assert!(updated[0].keywords.is_empty());
    let now = f.modseq("INBOX").await;
    assert_eq!(now, after_add + 2);

    // Other sessions catch up from the mod-sequence they last saw.
    let changes = meta.imap_changes_since(inbox, after_add).await.unwrap();
    assert_eq!(changes.iter().map(|m| m.uid).collect::<Vec<_>>(), [1, 2]);
    assert!(meta
        .imap_changes_since(inbox, now)
        .await
        .unwrap()
        .is_empty());
    let all = meta.imap_messages(inbox).await.unwrap();
    assert!(all[2].flags.is_empty());
    assert_eq!(all[2].modseq, start, "untouched");

    // UNCHANGEDSINCE: message 1 changed after `after_add`, message 3 did not.
    let (updated, failed) = meta
        .store_flags(
            inbox,
            &[1, 3],
            FlagChange::Add,
            &[Flag::Draft],
            &[],
            Some(after_add),
            T0,
        )
        .await
        .unwrap();
    assert_eq!(failed, [1]);
    assert_eq!(updated.iter().map(|m| m.uid).collect::<Vec<_>>(), [3]);
    f.assert_state_matches_rows().await;
}

#[tokio::test]
async fn store_flags_refuses_bad_keywords_and_too_many() {
    let f = fixture().await;
    let meta = f.store.meta();
    f.deliver("a").await;
    let inbox = f.mailbox_id("INBOX").await;
    let before = f.modseq("INBOX").await;
    let long = "k".repeat(65);
    for bad in [
        "",
        "two words",
        "a(b",
        "\\Seen",
        "star*",
        "quote\"",
        "ü",
        &long,
    ] {
        let err = meta
            .store_flags(
                inbox,
                &[1],
                FlagChange::Add,
                &[],
                &[bad.to_string()],
                None,
                T0,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{bad:?}: {err}");
    }
    let forty: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
    meta.store_flags(inbox, &[1], FlagChange::Add, &[], &forty, None, T0)
        .await
        .unwrap();
    let twenty: Vec<String> = (40..60).map(|i| format!("k{i}")).collect();
    let err = meta
        .store_flags(inbox, &[1], FlagChange::Add, &[], &twenty, None, T0)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    let msg = &meta.imap_messages(inbox).await.unwrap()[0];
    assert_eq!(msg.keywords.len(), 40, "a refused STORE changes nothing");
    assert_eq!(f.modseq("INBOX").await, before + 1);
}

#[tokio::test]
async fn copy_and_move_give_new_uids_and_copyuid_pairs() {
    let f = fixture().await;
    let meta = f.store.meta();
    for s in ["a", "b", "c"] {
        f.deliver(s).await;
    }
    meta.create_mailbox(&f.alice, "Keep", T0).await.unwrap();
    f.append("Keep", "already there", &[]).await;
    let (inbox, keep) = (f.mailbox_id("INBOX").await, f.mailbox_id("Keep").await);
    let inbox_id_of = |uid: u32, msgs: &[rampart_model::ImapMessage]| {
        msgs.iter().find(|m| m.uid == uid).map(|m| m.id)
    };
    meta.store_flags(
        inbox,
        &[3],
        FlagChange::Add,
        &[Flag::Flagged],
        &["$Important".to_string()],
        None,
        T0,
    )
    .await
    .unwrap();
    let used = f.used_bytes().await;
    let keep_modseq = f.modseq("Keep").await;

    let pairs = meta
        .copy_messages(inbox, &[3, 1, 3, 42], keep, T0, "imap")
        .await
        .unwrap();
    assert_eq!(pairs, [(1, 2), (3, 3)]);
    assert_eq!(f.uids("INBOX").await, [1, 2, 3], "COPY leaves the source");
    assert_eq!(f.uids("Keep").await, [1, 2, 3]);
    let kept = meta.imap_messages(keep).await.unwrap();
    let source = meta.imap_messages(inbox).await.unwrap();
    assert_eq!(kept[2].blob, source[2].blob, "same blob");
    assert_ne!(kept[2].id, source[2].id, "a new entry");
    assert_eq!(kept[2].flags, [Flag::Flagged]);
    assert_eq!(kept[2].keywords, ["$Important"]);
    assert_eq!(kept[2].received_at, source[2].received_at);
    assert!(kept[2].modseq > keep_modseq);
    assert_eq!(used + source[0].size + source[2].size, f.used_bytes().await);

    let inbox_modseq = f.modseq("INBOX").await;
    let moving = inbox_id_of(2, &source).unwrap();
    let pairs = meta
        .move_messages(inbox, &[2], keep, T0, "imap")
        .await
        .unwrap();
    assert_eq!(pairs, [(2, 4)]);
    assert_eq!(f.uids("INBOX").await, [1, 3]);
    assert_eq!(f.uids("Keep").await, [1, 2, 3, 4]);
    assert!(f.modseq("INBOX").await > inbox_modseq);
    let moved = meta.imap_messages(keep).await.unwrap();
    assert_eq!(moved[3].id, moving, "MOVE keeps the entry");
    assert!(
        f.store.deleted(&f.alice).await.unwrap().is_empty(),
        "a move leaves nothing to recover"
    );
    assert_eq!(
        used + source[0].size + source[2].size,
        f.used_bytes().await,
        "a move costs no quota"
    );
    assert_eq!(
        f.store.list(&f.alice, None).await.unwrap().len(),
        6,
        "3 delivered + 1 appended + 2 copies + 0 for the move"
    );

    // Nothing crosses accounts.
    let bob_inbox = meta
        .mailbox(&addr("bob@example.com"), "INBOX")
        .await
        .unwrap()
        .unwrap()
        .id;
    let err = meta
        .copy_messages(inbox, &[1], bob_inbox, T0, "imap")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    let err = meta
        .move_messages(inbox, &[1], bob_inbox, T0, "imap")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    let copied = meta
        .list_events(&EventFilter {
            kind: Some(EventKind::MessageCopied),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(copied.len(), 2);
    f.assert_state_matches_rows().await;
}

#[tokio::test]
async fn copy_and_append_refuse_to_pass_the_quota() {
    let quota = 40;
    let f = fixture_with_quota(Some(quota)).await;
    let meta = f.store.meta();
    let uid = f.append("INBOX", "fits", &[]).await;
    let inbox = f.mailbox_id("INBOX").await;
    let size = meta.imap_messages(inbox).await.unwrap()[0].size;
    assert!(size * 2 > quota && size < quota);
    let err = meta
        .copy_messages(inbox, &[uid], f.mailbox_id("Archive").await, T0, "imap")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::QuotaExceeded(_)), "{err}");
    assert!(f.uids("Archive").await.is_empty());
    let err = f
        .store
        .append(&f.alice, "INBOX", message("more"), &[], &[], None, "imap")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::QuotaExceeded(_)), "{err}");
    // Moving costs nothing, so it still works.
    let archive = f.mailbox_id("Archive").await;
    meta.move_messages(inbox, &[uid], archive, T0, "imap")
        .await
        .unwrap();
    assert_eq!(f.uids("Archive").await, [1]);
    assert_eq!(f.used_bytes().await, size);
}

#[tokio::test]
async fn expunge_removes_only_deleted_messages_into_the_recovery_window() {
    let f = fixture().await;
    let meta = f.store.meta();
    for s in ["a", "b", "c", "d"] {
        f.deliver(s).await;
    }
    let inbox = f.mailbox_id("INBOX").await;
    meta.store_flags(
        inbox,
        &[1, 2, 4],
        FlagChange::Add,
        &[Flag::Deleted],
        &[],
        None,
        T0,
    )
    .await
    .unwrap();
    let before = f.modseq("INBOX").await;

    // UID EXPUNGE: only the given ones that carry `\Deleted`.
    let gone = meta
        .expunge(inbox, Some(&[2, 3]), T0, "imap")
        .await
        .unwrap();
    assert_eq!(gone, [2]);
    assert_eq!(f.uids("INBOX").await, [1, 3, 4]);
    let gone = meta.expunge(inbox, None, T0, "imap").await.unwrap();
    assert_eq!(gone, [1, 4]);
    assert_eq!(f.uids("INBOX").await, [3]);
    assert_eq!(f.modseq("INBOX").await, before + 2);
    assert!(meta
        .expunge(inbox, None, T0, "imap")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(f.modseq("INBOX").await, before + 2, "nothing to expunge");

    let deleted = f.store.deleted(&f.alice).await.unwrap();
    let subjects: Vec<&str> = deleted.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects, ["a", "b", "d"]);
    assert!(deleted
        .iter()
        .all(|m| m.mailbox == "INBOX" && m.recoverable_until == Some(T0.plus_days(7))));
    let events = meta
        .list_events(&EventFilter {
            kind: Some(EventKind::MessageDeleted),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.detail["via"] == "expunge"));

    let back = f
        .store
        .restore(&f.alice, deleted[1].id, "cli")
        .await
        .unwrap();
    assert_eq!(back.uid, 5, "a new arrival");
    assert_eq!(f.uids("INBOX").await, [3, 5]);
    assert_eq!(f.modseq("INBOX").await, before + 3);
    f.assert_state_matches_rows().await;
}

#[tokio::test]
async fn highest_modseq_rises_on_delivery_delete_restore_and_purge() {
    let f = fixture().await;
    let meta = f.store.meta();
    let inbox = f.mailbox_id("INBOX").await;
    let m0 = f.modseq("INBOX").await;
    let stored = f
        .store
        .deliver(
            message("x"),
            &[f.alice.clone(), addr("bob@example.com")],
            Folder::Inbox,
            "smtp",
        )
        .await
        .unwrap();
    let m1 = f.modseq("INBOX").await;
    assert_eq!(m1, m0 + 1);
    assert_eq!(meta.mailbox_state(inbox).await.unwrap(), (2, m1, 1));
    assert_eq!(meta.imap_messages(inbox).await.unwrap()[0].modseq, m1);

    f.store.delete(&f.alice, stored[0].id, "cli").await.unwrap();
    let m2 = f.modseq("INBOX").await;
    assert_eq!(meta.mailbox_state(inbox).await.unwrap(), (2, m2, 0));
    assert!(m2 > m1);

    let back = f
        .store
        .restore(&f.alice, stored[0].id, "cli")
        .await
        .unwrap();
    let m3 = f.modseq("INBOX").await;
    assert_eq!(meta.mailbox_state(inbox).await.unwrap(), (3, m3, 1));
    assert!(m3 > m2);
    assert_eq!(meta.imap_messages(inbox).await.unwrap()[0].modseq, m3);

    f.store.delete(&f.alice, back.id, "cli").await.unwrap();
    let m4 = f.modseq("INBOX").await;
    f.clock.advance_days(8);
    assert_eq!(f.store.purge("purge-job").await.unwrap().messages, 1);
    assert!(f.modseq("INBOX").await > m4);

    // Releasing from quarantine is a delivery too.
    let bob = addr("bob@example.com");
    let bob_inbox = meta.mailbox(&bob, "INBOX").await.unwrap().unwrap();
    let q = f
        .store
        .quarantine(
            message("held"),
            std::slice::from_ref(&bob),
            rampart_model::Direction::Inbound,
            "",
            9.0,
            "{}".into(),
            "smtp",
        )
        .await
        .unwrap();
    f.store.release(q.id, "cli").await.unwrap();
    let after = meta.mailbox(&bob, "INBOX").await.unwrap().unwrap();
    assert!(after.highest_modseq > bob_inbox.highest_modseq);
    assert_eq!(after.exists, bob_inbox.exists + 1);
}

#[tokio::test]
async fn append_stores_flags_keywords_and_internal_date_durably() {
    let f = fixture().await;
    let meta = f.store.meta();
    meta.create_mailbox(&f.alice, "Drafts/Old", T0)
        .await
        .unwrap();
    let raw = Bytes::from_static(b"Subject: draft\r\n\r\nnot yet\r\n");
    let when = Timestamp(T0.0 - 86_400);
    let (uidvalidity, uid) = f
        .store
        .append(
            &f.alice,
            "Drafts/Old",
            NewMessage {
                raw: raw.clone(),
                summary: MessageSummary {
                    subject: "draft".into(),
                    ..Default::default()
                },
            },
            &[Flag::Draft, Flag::Seen],
            &["$NotJunk".to_string(), "$notjunk".to_string()],
            Some(when),
            "imap",
        )
        .await
        .unwrap();
    let mb = meta.mailbox(&f.alice, "Drafts/Old").await.unwrap().unwrap();
    assert_eq!((uidvalidity, uid), (mb.uidvalidity, 1));
    assert_eq!((mb.exists, mb.unseen, mb.uidnext), (1, 0, 2));
    let msgs = meta.imap_messages(mb.id).await.unwrap();
    assert_eq!(msgs[0].flags, [Flag::Seen, Flag::Draft]);
    assert_eq!(
        msgs[0].keywords,
        ["$NotJunk"],
        "keywords are case-insensitive"
    );
    assert_eq!(msgs[0].received_at, when);
    assert_eq!(msgs[0].size, raw.len() as u64);
    assert_eq!(f.store.imap_raw(&msgs[0]).await.unwrap(), raw);
    assert_eq!(f.used_bytes().await, raw.len() as u64);
    let listed = f.store.list(&f.alice, None).await.unwrap();
    assert_eq!(
        (listed[0].mailbox.as_str(), listed[0].subject.as_str()),
        ("Drafts/Old", "draft")
    );

    let err = f
        .store
        .append(&f.alice, "Nowhere", message("x"), &[], &[], None, "imap")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");
    let err = f
        .store
        .append(
            &f.alice,
            "INBOX",
            message("x"),
            &[],
            &["bad keyword".to_string()],
            None,
            "imap",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    // Appending to "inbox" lands in INBOX.
    f.append("inbox", "lower", &[]).await;
    assert_eq!(f.uids("INBOX").await, [1]);
    f.assert_state_matches_rows().await;
}

#[tokio::test]
async fn imap_messages_reads_ten_thousand_messages_in_one_query() {
    let f = fixture_with_quota(None).await;
    let meta = f.store.meta();
    meta.create_mailbox(&f.alice, "Big", T0).await.unwrap();
    let big = f.mailbox_id("Big").await;
    let inbox = f.mailbox_id("INBOX").await;
    // Fill INBOX through concurrent filings of one blob (group commit), then move them all.
    let raw = Bytes::from_static(b"Subject: many\r\n\r\nsame\r\n");
    let blob = f
        .store
        .deliver(
            NewMessage::new(raw.clone()),
            std::slice::from_ref(&f.alice),
            Folder::Inbox,
            "smtp",
        )
        .await
        .unwrap()[0]
        .blob
        .clone();
    let mut tasks = Vec::new();
    for _ in 0..9 {
        let store = f.store.clone();
        let filing = rampart_store::Filing {
            blob: blob.clone(),
            size: raw.len() as u64,
            summary: MessageSummary::default(),
            accounts: vec![f.alice.clone(); 1111],
            folder: Folder::Inbox,
            flags: Vec::new(),
            journal: None,
            archive: false,
        };
        tasks.push(tokio::spawn(async move {
            store
                .meta()
                .insert_messages(&filing, T0, "smtp")
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let uids: Vec<u32> = (1..=10_000).collect();
    let pairs = meta
        .move_messages(inbox, &uids, big, T0, "imap")
        .await
        .unwrap();
    assert_eq!(pairs.len(), 10_000);
    let started = std::time::Instant::now();
    let msgs = meta.imap_messages(big).await.unwrap();
    let took = started.elapsed();
    assert_eq!(msgs.len(), 10_000);
    assert!(msgs.windows(2).all(|w| w[0].uid < w[1].uid));
    assert!(took.as_secs_f64() < 2.0, "took {took:?}");
    assert_eq!(meta.mailbox_state(big).await.unwrap().2, 10_000);
    assert_eq!(meta.mailbox_state(inbox).await.unwrap().2, 0);
}
