//! `rampart backup` and `rampart restore` as an administrator uses them: real processes on real
//! data directories, the restored store read back through the library and compared with the
//! source at snapshot time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use rampart_model::{EmailAddress, Event, Flag, FlagChange, Folder, MailboxInfo, SystemClock};
use rampart_store::{backup, EventFilter, Mailstore, NewMessage};
use serde_json::Value;

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";

fn rampart(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rampart"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("RAMPART_DATA")
        .env_remove("RAMPART_CONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("run rampart")
}

fn ok(data: &Path, args: &[&str]) -> String {
    let out = rampart(data, args);
    assert!(
        out.status.success(),
        "`rampart {}` failed:\nstdout: {}\nstderr: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 stdout")
}

fn json(data: &Path, args: &[&str]) -> Value {
    let args = [args, &["--json"]].concat();
    let stdout = ok(data, &args);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("no JSON ({e}): {stdout}"))
}

fn fails(data: &Path, args: &[&str]) -> String {
    let out = rampart(data, args);
    assert!(
        !out.status.success(),
        "`rampart {}` should have failed; stdout: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).expect("UTF-8 stderr")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn addr(s: &str) -> EmailAddress {
    s.parse().expect("address")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn open(dir: &Path) -> Mailstore {
    Mailstore::open_embedded(dir, Arc::new(SystemClock), 7).expect("open store")
}

/// A data directory with a domain and two accounts, made with the CLI.
fn data_dir_with_users(parent: &Path) -> PathBuf {
    let data = parent.join("data");
    ok(&data, &["domain", "add", "example.com"]);
    ok(&data, &["user", "add", ALICE]);
    ok(&data, &["user", "add", BOB]);
    data
}

fn message(n: usize) -> Bytes {
    Bytes::from(format!(
        "From: carol@example.net\r\nTo: {ALICE}\r\nSubject: report {n}\r\n\
         Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\nbody {n}\r\nwith a bare \n and \0 byte\r\n"
    ))
}

async fn deliver(store: &Mailstore, n: usize, to: &[&str]) {
    let to: Vec<EmailAddress> = to.iter().map(|a| addr(a)).collect();
    store
        .deliver(NewMessage::new(message(n)), &to, Folder::Inbox, "smtp")
        .await
        .expect("deliver");
}

async fn mailbox(store: &Mailstore, account: &str, name: &str) -> MailboxInfo {
    store
        .meta()
        .mailbox(&addr(account), name)
        .await
        .expect("mailbox lookup")
        .expect("mailbox exists")
}

/// Everything a user or an auditor can see, read through the library.
#[derive(Debug, PartialEq)]
struct Visible {
    /// Per account: every message (visible and deleted) with its raw bytes.
    messages: BTreeMap<String, Vec<(rampart_model::MessageMeta, Bytes)>>,
    /// Per account: mailboxes, and per mailbox the IMAP view (flags, keywords, mod-sequences).
    mailboxes: BTreeMap<String, Vec<(MailboxInfo, Vec<rampart_model::ImapMessage>)>>,
    events: Vec<Event>,
}

async fn visible(store: &Mailstore) -> Visible {
    let mut messages = BTreeMap::new();
    let mut mailboxes = BTreeMap::new();
    for account in [ALICE, BOB] {
        let who = addr(account);
        let mut all = store.list(&who, None).await.expect("list");
        all.extend(store.deleted(&who).await.expect("deleted"));
        all.sort_by_key(|m| m.id);
        let mut with_bytes = Vec::new();
        for meta in all {
            let raw = store.raw(&who, meta.id).await.expect("raw bytes");
            with_bytes.push((meta, raw));
        }
        messages.insert(account.to_string(), with_bytes);
        let mut boxes = Vec::new();
        for info in store.meta().list_mailboxes(&who).await.expect("mailboxes") {
            let imap = store
                .meta()
                .imap_messages(info.id)
                .await
                .expect("imap view");
            boxes.push((info, imap));
        }
        mailboxes.insert(account.to_string(), boxes);
    }
    let events = store
        .meta()
        .list_events(&EventFilter::default())
        .await
        .expect("events");
    Visible {
        messages,
        mailboxes,
        events,
    }
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

#[cfg(unix)]
fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn restores_every_message_flag_mailbox_deletion_and_event_exactly() {
    let root = tempfile::tempdir().unwrap();
    let data = data_dir_with_users(root.path());
    let backups = root.path().join("backups");
    let rt = runtime();
    let store = open(&data);

    rt.block_on(async {
        for n in 0..4 {
            deliver(&store, n, &[ALICE]).await;
        }
        deliver(&store, 4, &[ALICE, BOB]).await; // one blob, two mailbox entries
        let alice = addr(ALICE);
        store
            .meta()
            .create_mailbox(&alice, "Projects/Falcon", store.now())
            .await
            .unwrap();
        store
            .append(
                &alice,
                "Projects/Falcon",
                NewMessage::new(message(5)),
                &[Flag::Seen, Flag::Answered],
                &["$Important".to_string()],
                None,
                "imap",
            )
            .await
            .unwrap();
        let inbox = mailbox(&store, ALICE, "INBOX").await;
        let uids: Vec<u32> = store
            .meta()
            .imap_messages(inbox.id)
            .await
            .unwrap()
            .iter()
            .map(|m| m.uid)
            .collect();
        let at = store.now();
        let flag = |uids: Vec<u32>, flags: Vec<Flag>| {
            let store = &store;
            async move {
                store
                    .meta()
                    .store_flags(inbox.id, &uids, FlagChange::Add, &flags, &[], None, at)
                    .await
                    .unwrap();
            }
        };
        flag(vec![uids[0], uids[1]], vec![Flag::Seen]).await;
        flag(vec![uids[1]], vec![Flag::Flagged]).await;
        let listed = store.list(&alice, Some(Folder::Inbox)).await.unwrap();
        store.delete(&alice, listed[2].id, "cli").await.unwrap();
    });
    // Files beside the metadata: keys stay private; the search index and blob scratch are not
    // backed up.
    // A real signing key and a signed checkpoint over the chain so far.
    let signed = json(&data, &["audit", "checkpoint"]);
    assert!(signed["event_id"].as_i64().unwrap() > 0, "{signed}");
    let key = std::fs::read(data.join("audit/signing.key")).unwrap();
    std::fs::write(data.join("risk-population.json"), b"{\"n\":1}").unwrap();
    std::fs::create_dir_all(data.join("archive-index")).unwrap();
    std::fs::write(data.join("archive-index/segment"), b"rebuilt from metadata").unwrap();
    std::fs::write(data.join("blobs/tmp/half-written"), b"partial").unwrap();
    #[cfg(unix)]
    {
        set_mode(&data.join("audit"), 0o700);
        set_mode(&data.join("audit/signing.key"), 0o600);
        set_mode(&data.join("risk-population.json"), 0o644);
    }

    let first = json(&data, &["backup", "--out", path(&backups)]);
    assert_eq!(first["blobs"]["count"], 6, "{first}");
    assert_eq!(first["blobs_copied"], 6, "{first}");
    assert_eq!(first["blobs_skipped"], 0, "{first}");
    assert_eq!(first["files"], 2, "{first}");

    rt.block_on(async {
        deliver(&store, 6, &[ALICE]).await;
        deliver(&store, 7, &[BOB]).await;
        let inbox = mailbox(&store, BOB, "INBOX").await;
        let uids: Vec<u32> = store
            .meta()
            .imap_messages(inbox.id)
            .await
            .unwrap()
            .iter()
            .map(|m| m.uid)
            .collect();
        store
            .meta()
            .store_flags(
                inbox.id,
                &uids,
                FlagChange::Add,
                &[Flag::Seen],
                &[],
                None,
                store.now(),
            )
            .await
            .unwrap();
    });
    let second = json(&data, &["backup", "--out", path(&backups)]);
    assert_eq!(second["blobs"]["count"], 8, "{second}");
    assert_eq!(second["blobs_copied"], 2, "only the new blobs: {second}");
    assert_eq!(second["blobs_skipped"], 6, "{second}");
    assert_ne!(first["snapshot"], second["snapshot"]);
    let latest = std::fs::read_to_string(backups.join("LATEST")).unwrap();
    assert_eq!(latest.trim(), second["snapshot"].as_str().unwrap());

    let before = rt.block_on(visible(&store));
    let source_tables = backup::table_digests(&data.join("meta.sqlite")).unwrap();

    let restored = root.path().join("restored");
    let report = json(&restored, &["restore", path(&backups)]);
    assert_eq!(report["verified"], true, "{report}");
    assert_eq!(report["snapshot"], second["snapshot"]);
    assert_eq!(
        backup::table_digests(&restored.join("meta.sqlite")).unwrap(),
        source_tables,
        "every row of every table, whatever the schema"
    );
    let restored_store = open(&restored);
    let after = rt.block_on(visible(&restored_store));
    assert_eq!(after.messages, before.messages);
    assert_eq!(after.mailboxes, before.mailboxes);
    assert_eq!(after.events, before.events);
    // What the comparison covered is what this test set up.
    let alice_msgs = &after.messages[ALICE];
    assert_eq!(alice_msgs.len(), 7);
    assert_eq!(
        alice_msgs
            .iter()
            .filter(|(m, _)| m.deleted_at.is_some())
            .count(),
        1
    );
    assert!(alice_msgs
        .iter()
        .any(|(m, _)| m.flags.contains(&Flag::Flagged) && m.flags.contains(&Flag::Seen)));
    assert!(after.mailboxes[ALICE]
        .iter()
        .any(|(b, msgs)| b.name == "Projects/Falcon"
            && msgs[0].keywords == ["$Important".to_string()]));
    assert!(after.events.len() > 10, "{} events", after.events.len());

    assert_eq!(
        std::fs::read(restored.join("audit/signing.key")).unwrap(),
        key
    );
    // Every audit entry came back with its chain and the signed checkpoint still matches.
    let audit = json(&restored, &["audit", "verify"]);
    assert_eq!(audit["ok"], true, "{audit}");
    assert_eq!(audit["checkpoints"], 1, "{audit}");
    assert_eq!(
        audit["entries"].as_u64().unwrap() as usize,
        after.events.len()
    );
    #[cfg(unix)]
    {
        assert_eq!(mode(&restored.join("audit/signing.key")), 0o600);
        assert_eq!(mode(&restored.join("audit")), 0o700);
        assert_eq!(mode(&restored.join("risk-population.json")), 0o644);
    }
    assert!(!restored.join("archive-index").exists());
    assert!(!restored.join("blobs/tmp/half-written").exists());

    // The first snapshot is still whole and restorable on its own.
    let older = root.path().join("older");
    let report = json(
        &older,
        &[
            "restore",
            path(&backups),
            "--snapshot",
            first["snapshot"].as_str().unwrap(),
        ],
    );
    assert_eq!(report["blobs"]["count"], 6, "{report}");
    let verified = json(
        &root.path().join("unused"),
        &["restore", path(&backups), "--verify-only"],
    );
    assert_eq!(verified["verified"], true);
    assert!(!root.path().join("unused").exists());
}

#[test]
fn refuses_to_restore_into_a_directory_that_is_not_empty() {
    let root = tempfile::tempdir().unwrap();
    let data = data_dir_with_users(root.path());
    let backups = root.path().join("backups");
    ok(&data, &["backup", "--out", path(&backups)]);

    let stderr = fails(&data, &["restore", path(&backups)]);
    assert!(stderr.contains("is not empty"), "{stderr}");
    assert!(
        stderr.contains("-restored"),
        "suggests a new directory: {stderr}"
    );

    let occupied = root.path().join("occupied");
    std::fs::create_dir_all(&occupied).unwrap();
    std::fs::write(occupied.join("notes.txt"), b"mine").unwrap();
    let stderr = fails(&occupied, &["restore", path(&backups)]);
    assert!(stderr.contains("is not empty"), "{stderr}");
    assert_eq!(std::fs::read(occupied.join("notes.txt")).unwrap(), b"mine");
    assert!(!occupied.join("meta.sqlite").exists());
}

#[test]
fn refuses_a_backup_directory_inside_the_data_directory() {
    let root = tempfile::tempdir().unwrap();
    let data = data_dir_with_users(root.path());
    let stderr = fails(&data, &["backup", "--out", path(&data.join("backups"))]);
    assert!(stderr.contains("inside the data directory"), "{stderr}");
}

#[test]
fn restore_detects_a_corrupted_blob_in_the_backup() {
    let root = tempfile::tempdir().unwrap();
    let data = data_dir_with_users(root.path());
    let rt = runtime();
    {
        let store = open(&data);
        rt.block_on(async {
            for n in 0..3 {
                deliver(&store, n, &[ALICE]).await;
            }
        });
    }
    let backups = root.path().join("backups");
    ok(&data, &["backup", "--out", path(&backups)]);

    // Flip one byte of one blob, keeping its size (what bit rot does).
    let victim = walk_files(&backups.join("blobs"))
        .into_iter()
        .find(|p| backup::is_blob_id(p.file_name().unwrap().to_str().unwrap()))
        .expect("a blob in the backup");
    let id = victim.file_name().unwrap().to_str().unwrap().to_string();
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[10] ^= 0x20;
    #[cfg(unix)]
    set_mode(&victim, 0o644);
    std::fs::write(&victim, &bytes).unwrap();

    let restored = root.path().join("restored");
    let stderr = fails(&restored, &["restore", path(&backups)]);
    assert!(stderr.contains("FAILED VERIFICATION"), "{stderr}");
    assert!(stderr.contains(&id), "names the blob: {stderr}");
    assert!(stderr.contains("corrupt"), "{stderr}");
    assert!(restored.join("RESTORE-FAILED.txt").exists());

    let stderr = fails(&restored, &["restore", path(&backups), "--verify-only"]);
    assert!(stderr.contains(&id), "{stderr}");
}

#[test]
fn backup_taken_while_mail_keeps_arriving_restores_consistently() {
    let root = tempfile::tempdir().unwrap();
    let data = data_dir_with_users(root.path());
    let backups = root.path().join("backups");
    let stop = Arc::new(AtomicBool::new(false));
    let delivered = Arc::new(AtomicUsize::new(0));
    let writer = {
        let data = data.clone();
        let stop = stop.clone();
        let delivered = delivered.clone();
        std::thread::spawn(move || {
            let rt = runtime();
            let store = open(&data);
            rt.block_on(async {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    deliver(&store, n, &[ALICE, BOB]).await;
                    n += 1;
                    delivered.store(n, Ordering::Relaxed);
                }
            });
        })
    };
    while delivered.load(Ordering::Relaxed) < 20 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let first = json(&data, &["backup", "--out", path(&backups)]);
    let second = json(&data, &["backup", "--out", path(&backups)]);
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let total = delivered.load(Ordering::Relaxed);

    let rt = runtime();
    for (snapshot, label) in [(&first, "first"), (&second, "second")] {
        let name = snapshot["snapshot"].as_str().unwrap();
        let restored = root.path().join(label);
        let report = json(&restored, &["restore", path(&backups), "--snapshot", name]);
        assert_eq!(report["verified"], true, "{report}");
        let store = open(&restored);
        let count = rt.block_on(async {
            let msgs = store.list(&addr(ALICE), None).await.unwrap();
            for m in &msgs {
                let raw = store.raw(&addr(ALICE), m.id).await.unwrap();
                assert!(backup::is_blob_id(&m.blob.0), "{:?}", m.blob);
                assert!(raw.starts_with(b"From: carol@example.net"));
            }
            let bobs = store.list(&addr(BOB), None).await.unwrap();
            assert_eq!(bobs.len(), msgs.len(), "each delivery is one transaction");
            msgs.len()
        });
        assert!((20..=total).contains(&count), "{count} of {total}");
        assert_eq!(snapshot["blobs"]["count"], count, "{snapshot}");
    }
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    found
}
