//! Whatever a peer sends, the server answers and stays up: malformed commands, literals of
//! both kinds, lines and literals over the limits.

mod common;

use std::time::Duration;

use common::*;

#[tokio::test]
async fn malformed_commands_are_bad_and_the_server_survives() {
    let s = start().await;
    let mut c = Client::login(&s, ALICE).await;
    for junk in [
        "a1 FETCH\r\n",
        "a2 SELECT\r\n",
        "* NOOP\r\n",
        "a3 STORE 1 +FLAGS (\\Seen\r\n",
        "a4 UID FROB 1\r\n",
    ] {
        c.send(junk.as_bytes()).await;
        let line = c.line().await.unwrap();
        assert!(line.contains(" BAD "), "{junk:?} -> {line}");
    }
    // Binary noise.
    c.send(b"\x00\xff\xfe garbage \x01\r\n").await;
    let line = c.line().await.unwrap();
    assert!(line.starts_with("* BAD"), "{line}");
    let r = c.cmd("NOOP").await;
    assert!(ok(&r), "{r:?}");

    // Errors in a row end the connection, not the server.
    for _ in 0..10 {
        c.send(b"x BOGUS\r\n").await;
    }
    let mut lines = Vec::new();
    while let Some(l) = c.line_within(Duration::from_secs(2)).await {
        lines.push(l);
    }
    assert!(lines.iter().any(|l| l.starts_with("* BYE")), "{lines:?}");
    let mut again = Client::login(&s, ALICE).await;
    let r = again.cmd("NOOP").await;
    assert!(ok(&r), "{r:?}");
}

#[tokio::test]
async fn synchronising_and_non_synchronising_literals() {
    let s = start().await;
    let mut c = Client::connect(&s).await;
    c.starttls().await;
    // LOGIN with two synchronising literals: the server says `+` before each.
    c.send(format!("a1 LOGIN {{{}}}\r\n", ALICE.len()).as_bytes())
        .await;
    assert!(c.line().await.unwrap().starts_with("+ "));
    c.send(format!("{ALICE} {{{}}}\r\n", PASSWORD.len()).as_bytes())
        .await;
    assert!(c.line().await.unwrap().starts_with("+ "));
    c.send(format!("{PASSWORD}\r\n").as_bytes()).await;
    let r = c.until("a1").await;
    assert!(ok(&r), "{r:?}");
    // LITERAL+: everything at once, no continuation.
    let r = c.cmd("CREATE {7+}\r\nProject").await;
    assert!(ok(&r) && r.len() == 1, "{r:?}");
    let r = c.cmd("LIST \"\" {7+}\r\nProject").await;
    assert!(has(&r, "Project"), "{r:?}");
    // A synchronising literal the command cannot take is refused before the client sends it.
    c.send(b"a9 NOOP {5}\r\n").await;
    let line = c.line().await.unwrap();
    assert!(line.starts_with("a9 BAD"), "{line}");
    let r = c.cmd("NOOP").await;
    assert!(ok(&r), "{r:?}");
}

#[tokio::test]
async fn oversized_lines_and_literals_are_refused() {
    let s = start().await;
    // Before login no literal may be large, APPEND or not.
    let mut anonymous = Client::connect(&s).await;
    anonymous.send(b"a0 APPEND INBOX {100000}\r\n").await;
    let line = anonymous.line().await.unwrap();
    assert!(line.starts_with("a0 BAD [TOOBIG]"), "{line}");
    let mut c = Client::login(&s, ALICE).await;
    // A line over the limit is dropped whole.
    let long = format!("a1 SELECT {}\r\n", "x".repeat(70 * 1024));
    c.send(long.as_bytes()).await;
    let line = c.line().await.unwrap();
    assert!(line.contains("BAD") && line.contains("too long"), "{line}");
    let r = c.cmd("NOOP").await;
    assert!(ok(&r), "{r:?}");
    // A synchronising literal over the limit is refused; the session goes on.
    c.send(b"a2 SELECT {10000000}\r\n").await;
    let line = c.line().await.unwrap();
    assert!(line.starts_with("a2 BAD [TOOBIG]"), "{line}");
    let r = c.cmd("NOOP").await;
    assert!(ok(&r), "{r:?}");
    // A non-synchronising one is on its way already: the connection closes.
    c.send(b"a3 SELECT {10000000+}\r\n").await;
    let line = c.line().await.unwrap();
    assert!(line.starts_with("a3 BAD [TOOBIG]"), "{line}");
    assert!(c.line().await.unwrap().starts_with("* BYE"));
    // APPEND above the message size limit.
    let s = start_with(Options {
        limits: rampart_imap::ImapLimits {
            max_message_size: 1000,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let mut c = Client::login(&s, ALICE).await;
    c.send(b"a4 APPEND INBOX {2000}\r\n").await;
    let line = c.line().await.unwrap();
    assert!(line.starts_with("a4 BAD [TOOBIG]"), "{line}");
    c.send(b"a5 APPEND INBOX {900}\r\n").await;
    assert!(c.line().await.unwrap().starts_with("+ "));
}

#[tokio::test]
async fn unknown_mailboxes_and_states_are_refused_politely() {
    let s = start().await;
    let mut c = Client::login(&s, ALICE).await;
    let r = c.cmd("SELECT Nowhere").await;
    assert!(tagged(&r).contains("NO [NONEXISTENT]"), "{r:?}");
    let r = c.cmd("FETCH 1 FLAGS").await;
    assert!(tagged(&r).contains("BAD"), "{r:?}");
    let r = c.cmd("STATUS Nowhere (MESSAGES)").await;
    assert!(tagged(&r).contains("NO"), "{r:?}");
    let r = c.cmd("LOGIN x y").await;
    assert!(tagged(&r).contains("BAD"), "{r:?}");
}

/// A signed-in session fed a script of odd and valid commands in one go, through the in-memory
/// entry point the fuzz target uses.
#[tokio::test]
async fn in_memory_session_answers_every_command() {
    let (ctx, parts) = context(Options::default()).await;
    deliver(&parts.store, &alice(), MESSAGE).await;
    let ctx = std::sync::Arc::new(ctx);
    let script = b"a1 SELECT INBOX\r\n\
a2 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)] MODSEQ)\r\n\
a3 FETCH 1 (BODY[1.2.3.MIME] BODY[999] BODY[]<5.10>)\r\n\
a4 SEARCH OR (NOT (NOT SEEN)) SUBJECT {3+}\r\nabc UID 1:*\r\n\
a5 STORE 1 +FLAGS ($a $b)\r\n\
a6 UID EXPUNGE 9:*\r\n\
a7 LIST (SUBSCRIBED) \"\" % RETURN (CHILDREN STATUS (MESSAGES SIZE))\r\n\
a8 IDLE\r\nDONE\r\n\
a9 FETCH 2 FLAGS\r\n\
b1 \x00\x01\r\n\
b2 APPEND INBOX (\\Seen) {12+}\r\nSubject: x\r\n\r\n\
b3 LOGOUT\r\n";
    let out = rampart_imap::serve_bytes_for_fuzz(ctx, Some(alice()), script).await;
    let out = String::from_utf8_lossy(&out);
    for (tag, answer) in [
        ("a1", "OK"),
        ("a2", "OK"),
        ("a3", "OK"),
        ("a4", "OK"),
        ("a5", "OK"),
        ("a6", "OK"),
        ("a7", "OK"),
        ("a8", "OK"),
        ("a9", "BAD"),
        ("b2", "OK"),
        ("b3", "OK"),
    ] {
        assert!(
            out.contains(&format!("\r\n{tag} {answer} ")),
            "{tag}: {out}"
        );
    }
    assert!(!out.contains("* BAD"), "{out}");
}

#[test]
fn fuzz_entry_point_survives_garbage() {
    for input in [
        &b""[..],
        b"\r\n",
        b"a FETCH 1 (BODY[HEADER.FIELDS (A B)] MODSEQ) (CHANGEDSINCE 5)\r\n",
        b"a LIST (SPECIAL-USE) \"\" * RETURN (STATUS (MESSAGES SIZE))\r\n",
        b"a ID (\"name\" {3}\r\nabc)\r\n",
        b"{99999999999999999999}\r\n",
        b"a SELECT {3}\r\nab",
        b"\xff\xfe\x00\r\n",
        b"a UID EXPUNGE 1:*\r\n",
        b"a STORE 1 (UNCHANGEDSINCE 18446744073709551616) FLAGS ()\r\n",
    ] {
        rampart_imap::handle_line_for_fuzz(input);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

    #[test]
    fn decoding_any_bytes_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        rampart_imap::handle_line_for_fuzz(&bytes);
    }

    #[test]
    fn decoding_command_shaped_noise_never_panics(
        words in proptest::collection::vec("[A-Za-z0-9*%:,()\\[\\]{}<>.+\" $-]{0,12}", 0..12)
    ) {
        let line = format!("a {}\r\n", words.join(" "));
        rampart_imap::handle_line_for_fuzz(line.as_bytes());
    }
}
