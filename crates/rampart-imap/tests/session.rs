//! IMAP sessions against a real server and store: logins, mailboxes, messages.

mod common;

use common::*;
use rampart_model::Protocol;

#[tokio::test]
async fn refuses_login_before_tls_and_offers_starttls() {
    let s = start().await;
    let mut c = Client::connect(&s).await;
    assert!(
        c.greeting.starts_with("* OK [CAPABILITY "),
        "{}",
        c.greeting
    );
    assert!(c.greeting.contains("STARTTLS") && c.greeting.contains("LOGINDISABLED"));
    assert!(!c.greeting.contains("AUTH=PLAIN"));
    let r = c.cmd(&format!("LOGIN {ALICE} \"{PASSWORD}\"")).await;
    assert!(tagged(&r).contains("NO [PRIVACYREQUIRED]"), "{r:?}");
    let r = c
        .cmd("AUTHENTICATE PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHB3")
        .await;
    assert!(tagged(&r).contains("NO [PRIVACYREQUIRED]"), "{r:?}");
    let r = c.cmd("SELECT INBOX").await;
    assert!(tagged(&r).contains("BAD"), "{r:?}");
}

#[tokio::test]
async fn logs_in_after_starttls_with_new_capabilities() {
    let s = start().await;
    let mut c = Client::connect(&s).await;
    c.starttls().await;
    let r = c.cmd("CAPABILITY").await;
    assert!(
        has(&r, "AUTH=PLAIN") && !has(&r, "STARTTLS") && !has(&r, "LOGINDISABLED"),
        "{r:?}"
    );
    let r = c.cmd(&format!("LOGIN {ALICE} \"{PASSWORD}\"")).await;
    assert!(tagged(&r).contains("OK [CAPABILITY IMAP4REV1"), "{r:?}");
    assert!(!tagged(&r).contains("AUTH=PLAIN"));
    let r = c.cmd("LOGOUT").await;
    assert!(has(&r, "* BYE") && ok(&r), "{r:?}");
}

#[tokio::test]
async fn wrong_password_is_authenticationfailed() {
    let s = start().await;
    let mut c = Client::connect(&s).await;
    c.starttls().await;
    let r = c.cmd(&format!("LOGIN {ALICE} wrong")).await;
    assert!(tagged(&r).contains("NO [AUTHENTICATIONFAILED]"), "{r:?}");
    let r = c.cmd("LOGIN nobody@example.com wrong").await;
    assert!(tagged(&r).contains("NO [AUTHENTICATIONFAILED]"), "{r:?}");
    // Still not logged in.
    let r = c.cmd("LIST \"\" *").await;
    assert!(tagged(&r).contains("BAD"), "{r:?}");
}

#[tokio::test]
async fn app_password_and_authenticate_plain() {
    let s = start().await;
    let (_, secret) = s
        .login
        .create_app_password(&alice(), "phone", &[Protocol::Imap], "test")
        .await
        .unwrap();
    let mut c = Client::connect(&s).await;
    c.starttls().await;
    // SASL-IR: \0alice@example.com\0<secret>
    let ir = base64(format!("\0{ALICE}\0{secret}").as_bytes());
    let r = c.cmd(&format!("AUTHENTICATE PLAIN {ir}")).await;
    assert!(ok(&r), "{r:?}");

    // Without SASL-IR: the server asks with an empty challenge.
    let mut c = Client::connect(&s).await;
    c.starttls().await;
    let tag = c.tag();
    c.send(format!("{tag} AUTHENTICATE PLAIN\r\n").as_bytes())
        .await;
    assert_eq!(c.line().await.unwrap(), "+ ");
    let creds = base64(format!("\0{ALICE}\0{PASSWORD}").as_bytes());
    c.send(format!("{creds}\r\n").as_bytes()).await;
    let r = c.until(&tag).await;
    assert!(ok(&r), "{r:?}");
}

#[tokio::test]
async fn implicit_tls_listener() {
    let s = start_with(Options {
        implicit_tls: true,
        ..Default::default()
    })
    .await;
    let mut c = Client::connect_tls(&s).await;
    assert!(c.greeting.contains("AUTH=PLAIN") && !c.greeting.contains("STARTTLS"));
    let r = c.cmd(&format!("LOGIN {ALICE} \"{PASSWORD}\"")).await;
    assert!(ok(&r), "{r:?}");
}

#[tokio::test]
async fn lists_mailboxes_with_special_use_and_children() {
    let s = start().await;
    let mut c = Client::login(&s, ALICE).await;
    let r = c.cmd("CREATE Projects/Falcon").await;
    assert!(ok(&r), "{r:?}");
    let r = c.cmd("LIST \"\" *").await;
    assert!(ok(&r), "{r:?}");
    assert!(has(&r, "* LIST (\\HasNoChildren) \"/\" INBOX"), "{r:?}");
    assert!(has(&r, "\\Junk \\HasNoChildren) \"/\" Junk"), "{r:?}");
    assert!(has(&r, "\\Sent"), "{r:?}");
    assert!(
        has(&r, "(\\Noselect \\HasChildren) \"/\" Projects"),
        "{r:?}"
    );
    assert!(has(&r, "\"/\" Projects/Falcon"), "{r:?}");
    let r = c.cmd("LIST \"\" %").await;
    assert!(!has(&r, "Projects/Falcon") && has(&r, "Projects"), "{r:?}");
    let r = c.cmd("LIST (SPECIAL-USE) \"\" *").await;
    assert!(ok(&r) && !has(&r, "INBOX") && has(&r, "\\Trash"), "{r:?}");
    let r = c.cmd("LIST \"\" \"\"").await;
    assert!(has(&r, "* LIST (\\Noselect) \"/\" \"\""), "{r:?}");
    let r = c.cmd("RENAME Projects/Falcon Projects/Hawk").await;
    assert!(ok(&r), "{r:?}");
    let r = c.cmd("SUBSCRIBE Projects/Hawk").await;
    assert!(ok(&r), "{r:?}");
    let r = c.cmd("LSUB \"\" *").await;
    assert!(has(&r, "Projects/Hawk"), "{r:?}");
    let r = c.cmd("DELETE Projects/Hawk").await;
    assert!(ok(&r), "{r:?}");
    let r = c.cmd("DELETE INBOX").await;
    assert!(tagged(&r).contains("NO"), "{r:?}");
    let r = c.cmd("CREATE INBOX").await;
    assert!(tagged(&r).contains("NO [ALREADYEXISTS]"), "{r:?}");
    let r = c.cmd("NAMESPACE").await;
    assert!(
        has(&r, "* NAMESPACE ((\"\" \"/\")) NIL NIL") && ok(&r),
        "{r:?}"
    );
    let r = c
        .cmd("ID (\"name\" \"Thunderbird\" \"version\" \"128.0\")")
        .await;
    assert!(has(&r, "* ID (") && ok(&r), "{r:?}");
}

#[tokio::test]
async fn selects_and_fetches_a_delivered_message() {
    let s = start().await;
    let uid = deliver(&s.store, &alice(), MESSAGE).await;
    let mut c = Client::login(&s, ALICE).await;
    let r = c.select("INBOX").await;
    assert!(has(&r, "* 1 EXISTS"), "{r:?}");
    assert!(has(&r, "[UIDVALIDITY "), "{r:?}");
    assert!(has(&r, &format!("[UIDNEXT {}]", uid + 1)), "{r:?}");
    assert!(
        has(
            &r,
            "[PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)]"
        ),
        "{r:?}"
    );
    assert!(has(&r, "[UNSEEN 1]"), "{r:?}");
    assert!(tagged(&r).contains("OK [READ-WRITE]"), "{r:?}");
    let r = c
        .cmd("FETCH 1 (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)")
        .await;
    assert!(ok(&r), "{r:?}");
    let f = &r[0];
    assert!(f.starts_with("* 1 FETCH ("), "{f}");
    assert!(f.contains(&format!("UID {uid}")), "{f}");
    assert!(f.contains("\"Quarterly numbers\""), "{f}");
    assert!(
        f.contains("INTERNALDATE \"18-Nov-2026 11:06:40 +0000\""),
        "{f}"
    );
    assert!(f.contains("RFC822.SIZE"), "{f}");
    let r = c
        .cmd("UID FETCH 1:* (BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        .await;
    assert!(ok(&r), "{r:?}");
    assert!(
        r[0].to_ascii_uppercase().contains("\"TEXT\" \"PLAIN\""),
        "{r:?}"
    );
    assert!(r[0].contains("Subject: Quarterly numbers"), "{r:?}");
    let r = c.cmd("FETCH 1 BODY.PEEK[]<0.4>").await;
    assert!(r[0].contains("BODY[]<0> {4}\r\nFrom"), "{r:?}");
    let r = c.cmd("FETCH 2 FLAGS").await;
    assert!(tagged(&r).contains("BAD"), "{r:?}");
    let r = c.cmd("EXAMINE INBOX").await;
    assert!(tagged(&r).contains("[READ-ONLY]"), "{r:?}");
    assert!(has(&r, "[CLOSED]"), "{r:?}");
}

#[tokio::test]
async fn body_sets_seen_but_peek_and_examine_do_not() {
    let s = start().await;
    deliver(&s.store, &alice(), MESSAGE).await;
    let mut c = Client::login(&s, ALICE).await;
    c.cmd("EXAMINE INBOX").await;
    let r = c.cmd("FETCH 1 BODY[TEXT]").await;
    assert!(r[0].contains("The numbers look good."), "{r:?}");
    assert!(!r[0].contains("\\Seen"), "{r:?}");
    c.select("INBOX").await;
    let r = c.cmd("FETCH 1 BODY.PEEK[]").await;
    assert!(!r[0].contains("\\Seen"), "{r:?}");
    let r = c.cmd("FETCH 1 FLAGS").await;
    assert!(r[0].contains("FLAGS ()"), "{r:?}");
    let r = c.cmd("FETCH 1 BODY[]").await;
    assert!(r[0].contains("FLAGS (\\Seen)"), "{r:?}");
    let msgs = s
        .store
        .list(&alice(), Some(rampart_model::Folder::Inbox))
        .await
        .unwrap();
    assert!(msgs[0].flags.contains(&rampart_model::Flag::Seen));
}

#[tokio::test]
async fn stores_flags_and_searches() {
    let s = start().await;
    for i in 0..3 {
        deliver(
            &s.store,
            &alice(),
            &MESSAGE.replace("Quarterly numbers", &format!("Report {i}")),
        )
        .await;
    }
    let mut c = Client::login(&s, ALICE).await;
    c.select("INBOX").await;
    let r = c.cmd("STORE 1:2 +FLAGS (\\Flagged $Important)").await;
    assert!(ok(&r), "{r:?}");
    assert!(has(&r, "* 1 FETCH (FLAGS (\\Flagged $Important))"), "{r:?}");
    let r = c.cmd("STORE 2 -FLAGS.SILENT (\\Flagged)").await;
    assert!(ok(&r) && r.len() == 1, "{r:?}");
    let r = c.cmd("SEARCH FLAGGED").await;
    assert!(has(&r, "* SEARCH 1") && ok(&r), "{r:?}");
    let r = c.cmd("SEARCH KEYWORD $Important").await;
    assert!(has(&r, "* SEARCH 1 2"), "{r:?}");
    let r = c.cmd("UID SEARCH SUBJECT \"report 2\"").await;
    assert!(has(&r, "* SEARCH 3"), "{r:?}");
    let r = c.cmd("SEARCH CHARSET UTF-8 BODY numbers").await;
    assert!(has(&r, "* SEARCH 1 2 3"), "{r:?}");
    let r = c.cmd("SEARCH CHARSET KOI8-R BODY x").await;
    assert!(tagged(&r).contains("NO [BADCHARSET"), "{r:?}");
    let r = c.cmd("SEARCH RETURN (MIN MAX COUNT) UNFLAGGED").await;
    let tag = tagged(&r).split(' ').next().unwrap().to_string();
    assert!(
        has(
            &r,
            &format!("* ESEARCH (TAG \"{tag}\") MIN 2 MAX 3 COUNT 2")
        ),
        "{r:?}"
    );
    let r = c.cmd("ENABLE IMAP4rev2").await;
    assert!(has(&r, "* ENABLED IMAP4rev2"), "{r:?}");
    let r = c.cmd("UID SEARCH ALL").await;
    assert!(has(&r, "UID ALL 1:3"), "{r:?}");
}

#[tokio::test]
async fn copies_and_moves_with_copyuid_and_junk_feedback() {
    let s = start().await;
    for _ in 0..3 {
        deliver(&s.store, &alice(), MESSAGE).await;
    }
    let mut c = Client::login(&s, ALICE).await;
    c.select("INBOX").await;
    let r = c.cmd("COPY 1:2 Archive").await;
    assert!(tagged(&r).contains("OK [COPYUID "), "{r:?}");
    assert!(tagged(&r).contains(" 1:2 1:2]"), "{r:?}");
    let r = c.cmd("UID MOVE 3 Junk").await;
    assert!(
        has(&r, "* OK [COPYUID ") && has(&r, "* 3 EXPUNGE") && ok(&r),
        "{r:?}"
    );
    let r = c.cmd("COPY 1 Nowhere").await;
    assert!(tagged(&r).contains("NO [TRYCREATE]"), "{r:?}");
    // Moving into Junk says "spam"; out of Junk into the inbox says "not spam".
    c.select("Junk").await;
    let r = c.cmd("MOVE 1 INBOX").await;
    assert!(ok(&r), "{r:?}");
    for _ in 0..50 {
        if s.junk.0.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let reports = s.junk.0.lock().unwrap().clone();
    assert_eq!(
        reports
            .iter()
            .map(|r| (r.0.as_str(), r.1))
            .collect::<Vec<_>>(),
        vec![(ALICE, true), (ALICE, false)]
    );
    let r = c.cmd("STATUS Archive (MESSAGES UIDNEXT UNSEEN SIZE)").await;
    assert!(
        has(&r, "* STATUS Archive (MESSAGES 2 UIDNEXT 3 UNSEEN 2 SIZE "),
        "{r:?}"
    );
}

#[tokio::test]
async fn appends_with_appenduid_and_trycreate() {
    let s = start().await;
    let mut c = Client::login(&s, ALICE).await;
    let body = MESSAGE.replace('\n', "\r\n");
    let tag = c.tag();
    c.send(
        format!(
            "{tag} APPEND Drafts (\\Draft $Todo) \"18-Nov-2026 10:00:00 +0100\" {{{}}}\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await;
    assert!(c.line().await.unwrap().starts_with("+ "));
    c.send(format!("{body}\r\n").as_bytes()).await;
    let r = c.until(&tag).await;
    assert!(tagged(&r).contains("OK [APPENDUID "), "{r:?}");
    // LITERAL+: no continuation.
    let tag = c.tag();
    c.send(format!("{tag} APPEND Drafts {{{}+}}\r\n{body}\r\n", body.len()).as_bytes())
        .await;
    let r = c.until(&tag).await;
    assert!(
        tagged(&r).contains("OK [APPENDUID ") && tagged(&r).ends_with(" 2] APPEND completed"),
        "{r:?}"
    );
    let r = c.cmd("APPEND Missing {5+}\r\nHello").await;
    assert!(tagged(&r).contains("NO [TRYCREATE]"), "{r:?}");
    c.select("Drafts").await;
    let r = c.cmd("FETCH 1 (FLAGS INTERNALDATE)").await;
    assert!(r[0].contains("\\Draft") && r[0].contains("$Todo"), "{r:?}");
    assert!(r[0].contains("18-Nov-2026 09:00:00 +0000"), "{r:?}");
    // APPEND to the selected mailbox announces the new message.
    let r = c
        .cmd(&format!("APPEND Drafts {{{}+}}\r\n{body}", body.len()))
        .await;
    assert!(has(&r, "* 3 EXISTS"), "{r:?}");
}

#[tokio::test]
async fn expunge_keeps_messages_recoverable() {
    let s = start().await;
    for _ in 0..3 {
        deliver(&s.store, &alice(), MESSAGE).await;
    }
    let mut c = Client::login(&s, ALICE).await;
    c.select("INBOX").await;
    c.cmd("STORE 1,3 +FLAGS.SILENT (\\Deleted)").await;
    let r = c.cmd("UID EXPUNGE 3").await;
    assert!(has(&r, "* 3 EXPUNGE") && ok(&r), "{r:?}");
    let r = c.cmd("EXPUNGE").await;
    assert!(has(&r, "* 1 EXPUNGE") && ok(&r), "{r:?}");
    let r = c.cmd("FETCH 1:* UID").await;
    assert!(has(&r, "* 1 FETCH (UID 2)") && r.len() == 2, "{r:?}");
    let deleted = s.store.deleted(&alice()).await.unwrap();
    assert_eq!(deleted.len(), 2);
    assert!(deleted.iter().all(|m| m.recoverable_until.is_some()));
    // CLOSE expunges silently.
    c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    let r = c.cmd("CLOSE").await;
    assert!(ok(&r) && r.len() == 1, "{r:?}");
    assert_eq!(s.store.deleted(&alice()).await.unwrap().len(), 3);
}

#[tokio::test]
async fn condstore_modseqs_and_unchangedsince() {
    let s = start().await;
    deliver(&s.store, &alice(), MESSAGE).await;
    deliver(&s.store, &alice(), MESSAGE).await;
    let mut c = Client::login(&s, ALICE).await;
    let r = c.cmd("SELECT INBOX (CONDSTORE)").await;
    let modseq: u64 = r
        .iter()
        .find_map(|l| l.split("[HIGHESTMODSEQ ").nth(1))
        .and_then(|v| v.split(']').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{r:?}"));
    let r = c.cmd("FETCH 1:* (FLAGS MODSEQ)").await;
    assert!(r[0].contains("MODSEQ ("), "{r:?}");
    let r = c.cmd("STORE 1 +FLAGS (\\Seen)").await;
    assert!(r[0].contains("MODSEQ ("), "{r:?}");
    let r = c
        .cmd(&format!(
            "STORE 1:2 (UNCHANGEDSINCE {modseq}) +FLAGS (\\Flagged)"
        ))
        .await;
    assert!(tagged(&r).contains("[MODIFIED 1]"), "{r:?}");
    let r = c
        .cmd(&format!("FETCH 1:* FLAGS (CHANGEDSINCE {modseq})"))
        .await;
    assert_eq!(r.len(), 3, "{r:?}");
    let r = c.cmd("STATUS INBOX (HIGHESTMODSEQ MESSAGES)").await;
    assert!(has(&r, "HIGHESTMODSEQ "), "{r:?}");
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Interoperability smoke test with Python's imaplib (a strict, widely used client): run with
/// `cargo test -p rampart-imap --test session -- --ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn python_imaplib_client_works() {
    const SCRIPT: &str = r#"
import imaplib, ssl, sys
port = int(sys.argv[1])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4("127.0.0.1", port)
assert "LOGINDISABLED" in m.capabilities, m.capabilities
m.starttls(ssl_context=ctx)
typ, _ = m.login("alice@example.com", "correct horse battery staple")
assert typ == "OK"
typ, boxes = m.list()
assert typ == "OK" and any(b"Junk" in b for b in boxes), boxes
typ, data = m.select("INBOX")
assert typ == "OK" and data == [b"1"], data
typ, data = m.fetch("1", "(FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE)")
assert typ == "OK", data
typ, data = m.fetch("1", "(BODY.PEEK[])")
assert typ == "OK" and b"The numbers look good." in data[0][1], data
typ, data = m.uid("SEARCH", None, "ALL")
assert typ == "OK" and data == [b"1"], data
typ, data = m.append("Drafts", r"(\Draft)", imaplib.Time2Internaldate(1795000000), b"Subject: d\r\n\r\nbody\r\n")
assert typ == "OK" and b"APPENDUID" in data[0], data
typ, data = m.uid("COPY", "1", "Archive")
assert typ == "OK", data
typ, data = m.store("1", "+FLAGS", r"(\Deleted)")
assert typ == "OK", data
typ, data = m.expunge()
assert typ == "OK" and data == [b"1"], data
typ, data = m.status("Archive", "(MESSAGES UIDNEXT UNSEEN)")
assert typ == "OK" and b"MESSAGES 1" in data[0], data
m.logout()
print("imaplib ok")
"#;
    let s = start().await;
    deliver(&s.store, &alice(), MESSAGE).await;
    let port = s.addr.port().to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args(["-c", SCRIPT, &port])
            .output()
            .expect("python3")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("imaplib ok"), "{stdout}\n{stderr}");
}
