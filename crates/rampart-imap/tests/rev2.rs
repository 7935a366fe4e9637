//! IMAP4rev2 parts over real sessions: BINARY (RFC 3516), SEARCHRES (RFC 5182), and a selected
//! mailbox renamed by another session.

mod common;

use base64::Engine;
use common::*;

/// Every byte value, NUL included: what the attachment decodes to.
fn payload() -> Vec<u8> {
    (0..=255u8).cycle().take(700).collect()
}

/// A message whose part 2 is `payload()` in base64 and part 1 quoted-printable text.
fn with_attachment() -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(payload());
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "From: ann@example.org\n\
To: alice@example.com\n\
Subject: report\n\
MIME-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=\"b1\"\n\
\n\
--b1\n\
Content-Type: text/plain; charset=utf-8\n\
Content-Transfer-Encoding: quoted-printable\n\
\n\
caf=C3=A9\n\
--b1\n\
Content-Type: application/octet-stream\n\
Content-Transfer-Encoding: base64\n\
\n\
{}\n\
--b1\n\
Content-Type: text/plain\n\
Content-Transfer-Encoding: x-made-up\n\
\n\
???\n\
--b1--\n",
        lines.join("\n")
    )
}

/// Sends `tag command` and returns every line, as bytes, up to the tagged one.
async fn cmd_bytes(c: &mut Client, command: &str) -> Vec<Vec<u8>> {
    let tag = c.tag();
    c.send(format!("{tag} {command}\r\n").as_bytes()).await;
    let mut lines = Vec::new();
    loop {
        let line = c.line_bytes().await.expect("connection open");
        let done = line.starts_with(format!("{tag} ").as_bytes());
        lines.push(line);
        if done {
            return lines;
        }
    }
}

/// The data of the literal following `marker` in `line`.
fn literal_after<'l>(line: &'l [u8], marker: &str) -> &'l [u8] {
    let at = line
        .windows(marker.len())
        .position(|w| w == marker.as_bytes())
        .unwrap_or_else(|| panic!("{marker} in {:?}", String::from_utf8_lossy(line)));
    let rest = &line[at + marker.len()..];
    let rest = rest.strip_prefix(b"~").unwrap_or(rest);
    let close = rest.iter().position(|&b| b == b'}').unwrap();
    let n: usize = std::str::from_utf8(&rest[1..close])
        .unwrap()
        .parse()
        .unwrap();
    &rest[close + 3..close + 3 + n]
}

fn text(lines: &[Vec<u8>]) -> Vec<String> {
    lines
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect()
}

#[tokio::test]
async fn binary_decodes_parts_and_sets_seen_unless_peek() {
    let s = start().await;
    deliver(&s.store, &alice(), &with_attachment()).await;
    let mut c = Client::login(&s, ALICE).await;
    let r = c.cmd("CAPABILITY").await;
    assert!(has(&r, " BINARY") && has(&r, " SEARCHRES"), "{r:?}");
    c.select("INBOX").await;

    // PEEK: the decoded bytes, as a literal8 since they hold NUL; \Seen untouched.
    let r = cmd_bytes(&mut c, "FETCH 1 (BINARY.PEEK[2])").await;
    let t = text(&r);
    assert!(ok(&t), "{t:?}");
    assert!(t[0].starts_with("* 1 FETCH (BINARY[2] ~{700}\r\n"), "{t:?}");
    assert_eq!(literal_after(&r[0], "BINARY[2] "), &payload()[..]);
    assert!(!has(&t, "\\Seen"), "{t:?}");
    let r = c.cmd("FETCH 1 FLAGS").await;
    assert!(!has(&r, "\\Seen"), "{r:?}");

    // SIZE, partial, quoted-printable, and a plain literal when there is no NUL.
    let r = c.cmd("FETCH 1 (BINARY.SIZE[2] BINARY.SIZE[1])").await;
    assert!(
        has(&r, "* 1 FETCH (BINARY.SIZE[2] 700 BINARY.SIZE[1] 5)"),
        "{r:?}"
    );
    let r = cmd_bytes(&mut c, "FETCH 1 (BINARY.PEEK[2]<256.3> BINARY.PEEK[1])").await;
    assert_eq!(literal_after(&r[0], "BINARY[2] "), &[0u8, 1, 2]);
    assert_eq!(literal_after(&r[0], "BINARY[1] "), "café".as_bytes());
    let t = text(&r);
    assert!(t[0].contains("BINARY[1] {5}\r\ncafé"), "{t:?}");
    let r = c.cmd("FETCH 1 (BINARY.PEEK[9])").await;
    assert!(has(&r, "BINARY[9] NIL") && ok(&r), "{r:?}");

    // Not PEEK: \Seen is set and reported with the data.
    let r = cmd_bytes(&mut c, "FETCH 1 (BINARY[2]<0.4>)").await;
    let t = text(&r);
    assert!(ok(&t) && t[0].contains("\\Seen"), "{t:?}");
    assert_eq!(literal_after(&r[0], "BINARY[2] "), &[0u8, 1, 2, 3]);

    // Unknown encoding and multipart.
    let r = c.cmd("FETCH 1 (FLAGS BINARY.PEEK[3])").await;
    assert!(tagged(&r).contains("NO [UNKNOWN-CTE]"), "{r:?}");
    assert!(has(&r, "* 1 FETCH (FLAGS"), "{r:?}");
    let r = c.cmd("UID FETCH 1:* (BINARY.PEEK[1] BINARY.SIZE[3])").await;
    assert!(tagged(&r).contains("NO [UNKNOWN-CTE]"), "{r:?}");
    let r = c.cmd("FETCH 1 BINARY.SIZE[]").await;
    assert!(ok(&r) && has(&r, "BINARY.SIZE[] "), "{r:?}");
    assert!(!has(&r, "UID"), "{r:?}");
    let r = c.cmd("FETCH 1 BINARY[0]").await;
    assert!(tagged(&r).contains("BAD"), "{r:?}");
}

#[tokio::test]
async fn search_return_save_then_dollar() {
    let s = start().await;
    for subject in ["one", "two", "three", "four"] {
        deliver(
            &s.store,
            &alice(),
            &MESSAGE.replace("Quarterly numbers", subject),
        )
        .await;
    }
    let mut c = Client::login(&s, ALICE).await;
    c.select("INBOX").await;
    // `$` before any SAVE is empty.
    let r = c.cmd("FETCH $ FLAGS").await;
    assert!(ok(&r) && r.len() == 1, "{r:?}");

    let r = c
        .cmd("SEARCH RETURN (SAVE) OR SUBJECT two SUBJECT four")
        .await;
    assert!(
        ok(&r) && r.len() == 1,
        "SAVE alone answers no ESEARCH: {r:?}"
    );
    let r = c.cmd("FETCH $ (UID)").await;
    assert!(
        has(&r, "* 2 FETCH (UID 2)") && has(&r, "* 4 FETCH (UID 4)") && r.len() == 3,
        "{r:?}"
    );
    let r = c.cmd("UID STORE $ +FLAGS.SILENT (\\Flagged)").await;
    assert!(ok(&r), "{r:?}");
    let r = c.cmd("SEARCH FLAGGED").await;
    assert!(has(&r, "* SEARCH 2 4"), "{r:?}");
    let r = c.cmd("UID SEARCH UID $ SUBJECT four").await;
    assert!(has(&r, "* SEARCH 4"), "{r:?}");
    let r = c.cmd("SEARCH NOT $").await;
    assert!(has(&r, "* SEARCH 1 3"), "{r:?}");

    // MIN with SAVE: only the lowest is saved; ESEARCH still answers MIN.
    let r = c.cmd("UID SEARCH RETURN (SAVE MIN) ALL").await;
    assert!(
        has(&r, "* ESEARCH (TAG \"a") && has(&r, "UID MIN 1"),
        "{r:?}"
    );
    let r = c.cmd("UID COPY $ Archive").await;
    assert!(
        ok(&r) && tagged(&r).contains("COPYUID") && tagged(&r).contains(" 1 1]"),
        "{r:?}"
    );

    // Expunged messages leave the saved result.
    let r = c.cmd("SEARCH RETURN (SAVE) SUBJECT t").await;
    assert!(ok(&r), "{r:?}");
    let r = c.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)").await;
    assert!(ok(&r), "{r:?}");
    let r = c.cmd("EXPUNGE").await;
    assert!(has(&r, "* 2 EXPUNGE"), "{r:?}");
    let r = c.cmd("FETCH $ (UID)").await;
    assert!(has(&r, "* 2 FETCH (UID 3)") && r.len() == 2, "{r:?}");

    // A new selection starts empty.
    c.select("INBOX").await;
    let r = c.cmd("UID FETCH $ (FLAGS)").await;
    assert!(ok(&r) && r.len() == 1, "{r:?}");
    let r = c.cmd("MOVE $ Trash").await;
    assert!(ok(&r), "{r:?}");
}

#[tokio::test]
async fn rename_of_the_selected_mailbox_ends_the_other_session() {
    let s = start().await;
    let mut a = Client::login(&s, ALICE).await;
    let r = a.cmd("CREATE Projects").await;
    assert!(ok(&r), "{r:?}");
    a.select("Projects").await;
    let mut b = Client::login(&s, ALICE).await;
    let r = b.cmd("RENAME Projects Archive/Projects").await;
    assert!(ok(&r), "{r:?}");

    // The next command's poll notices; the session says why and closes.
    let tag = a.tag();
    a.send(format!("{tag} NOOP\r\n").as_bytes()).await;
    let mut lines = Vec::new();
    while let Some(line) = a.line().await {
        lines.push(line);
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("* BYE") && l.contains("renamed")),
        "{lines:?}"
    );

    // Reselecting under the new name gives the new UIDVALIDITY.
    let mut a = Client::login(&s, ALICE).await;
    let r = a.select("Archive/Projects").await;
    assert!(has(&r, "[UIDVALIDITY "), "{r:?}");

    // Renamed away while IDLE: the same.
    let r = b.cmd("RENAME Archive/Projects Old").await;
    assert!(ok(&r), "{r:?}");
    let r = b.cmd("CREATE Archive/Projects").await;
    assert!(ok(&r), "{r:?}");
    let tag = a.tag();
    a.send(format!("{tag} IDLE\r\n").as_bytes()).await;
    let mut lines = Vec::new();
    while let Some(line) = a.line().await {
        lines.push(line);
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("* BYE") && l.contains("renamed")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn append_takes_a_literal8() {
    let s = start().await;
    let mut c = Client::login(&s, ALICE).await;
    let message = b"Subject: raw\r\nContent-Transfer-Encoding: binary\r\n\r\nnul\0here\r\n";
    // Synchronising: the server asks for the data.
    let tag = c.tag();
    c.send(format!("{tag} APPEND INBOX (\\Seen) ~{{{}}}\r\n", message.len()).as_bytes())
        .await;
    let plus = c.line().await.unwrap();
    assert!(plus.starts_with("+ "), "{plus}");
    c.send(message).await;
    c.send(b"\r\n").await;
    let r = c.until(&tag).await;
    assert!(ok(&r) && tagged(&r).contains("APPENDUID"), "{r:?}");
    // LITERAL+ form.
    let tag = c.tag();
    let mut command = format!("{tag} APPEND INBOX ~{{{}+}}\r\n", message.len()).into_bytes();
    command.extend_from_slice(message);
    command.extend_from_slice(b"\r\n");
    c.send(&command).await;
    let r = c.until(&tag).await;
    assert!(ok(&r), "{r:?}");

    c.select("INBOX").await;
    let r = cmd_bytes(&mut c, "FETCH 1:2 (BINARY.PEEK[] BINARY.PEEK[1])").await;
    assert_eq!(r.len(), 3, "{:?}", text(&r));
    for line in &r[..2] {
        assert_eq!(literal_after(line, "BINARY[] "), &message[..]);
        assert_eq!(literal_after(line, "BINARY[1] "), b"nul\0here\r\n");
    }
}
