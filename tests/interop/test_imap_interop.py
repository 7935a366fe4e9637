"""IMAP with real clients: Python's imaplib (STARTTLS and implicit TLS) and mbsync (isync), a
headless mail client that syncs a Maildir both ways. Everything on 127.0.0.1."""
import imaplib
import shutil
import smtplib
import ssl
import subprocess
import time
import uuid

import pytest

PASSWORD = "correct horse battery staple"


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the server's self-signed certificate
    return ctx


@pytest.fixture
def imap(rampart):
    for user in ("alice", "bob"):
        rampart.cli("user", "password", f"{user}@example.com", stdin=(PASSWORD + "\n").encode())
    rampart.start()
    return rampart


def deliver(r, to, subject, body="Hello there.\r\n"):
    msg = (
        f"From: Carol <carol@example.com>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
        f"Message-ID: <{uuid.uuid4()}@example.com>\r\nDate: Fri, 27 Nov 2026 12:00:00 +0000\r\n\r\n{body}"
    )
    with smtplib.SMTP("127.0.0.1", r.port, timeout=30) as s:
        s.sendmail("carol@example.com", [to], msg.encode())


def connect(r, user="alice@example.com"):
    c = imaplib.IMAP4("127.0.0.1", r.imap_port, timeout=30)
    c.starttls(ssl_context=tls_context())
    c.login(user, PASSWORD)
    return c


def test_login_needs_tls_and_the_right_password(imap):
    c = imaplib.IMAP4("127.0.0.1", imap.imap_port, timeout=30)
    assert "LOGINDISABLED" in c.capabilities
    with pytest.raises(imaplib.IMAP4.error):
        c.login("alice@example.com", PASSWORD)
    c.starttls(ssl_context=tls_context())
    with pytest.raises(imaplib.IMAP4.error):
        c.login("alice@example.com", "wrong")
    c.login("alice@example.com", PASSWORD)
    c.logout()
    # Implicit TLS port.
    c = imaplib.IMAP4_SSL("127.0.0.1", imap.imap_tls_port, ssl_context=tls_context(), timeout=30)
    c.login("alice@example.com", PASSWORD)
    typ, caps = c.capability()
    for cap in (b"IDLE", b"UIDPLUS", b"MOVE", b"SPECIAL-USE", b"CONDSTORE"):
        assert cap in caps[0], caps
    c.logout()


def test_read_search_flag_move_append_and_expunge_is_recoverable(imap):
    deliver(imap, "alice@example.com", "first")
    deliver(imap, "alice@example.com", "second 季度报告", body="Budget numbers inside.\r\n")
    c = connect(imap)
    typ, data = c.select("INBOX")
    assert typ == "OK" and int(data[0]) == 2
    typ, data = c.uid("SEARCH", None, "BODY", "Budget")
    uids = data[0].split()
    assert len(uids) == 1
    typ, data = c.uid("FETCH", uids[0], "(BODY.PEEK[HEADER.FIELDS (SUBJECT)] FLAGS)")
    assert b"second" in data[0][1] and b"\\Seen" not in data[0][0]
    typ, data = c.uid("FETCH", uids[0], "(BODY[])")
    assert b"Budget numbers inside." in data[0][1]
    typ, data = c.uid("FETCH", uids[0], "(FLAGS)")
    assert b"\\Seen" in data[0]
    assert c.uid("STORE", uids[0], "+FLAGS", "(\\Flagged)")[0] == "OK"
    typ, data = c.search(None, "FLAGGED")
    assert data[0] == b"2"

    # Folders, MOVE and APPEND.
    assert c.create("Projects/Falcon")[0] == "OK"
    typ, data = c.list()
    names = b"\n".join(data)
    assert b"Projects/Falcon" in names and b"\\Junk" in names and b"\\Sent" in names
    typ, data = c.uid("MOVE", uids[0], "Projects/Falcon")
    assert typ == "OK"
    typ, data = c.select("Projects/Falcon")
    assert int(data[0]) == 1
    typ, data = c.append("Drafts", "(\\Draft)", None, b"From: alice@example.com\r\nSubject: draft\r\n\r\nwip\r\n")
    assert typ == "OK" and b"APPENDUID" in data[0]

    # Emptying a folder with EXPUNGE keeps the message recoverable.
    c.select("Projects/Falcon")
    c.store("1", "+FLAGS", "(\\Deleted)")
    assert c.expunge()[0] == "OK"
    typ, data = c.select("Projects/Falcon")
    assert int(data[0]) == 0
    c.logout()
    deleted = imap.json("mail", "deleted", "alice@example.com")
    assert any("second" in m["subject"] for m in deleted), deleted


def test_idle_sees_new_mail_from_smtp(imap):
    c = connect(imap)
    c.select("INBOX")
    tag = c._new_tag()
    c.send(tag + b" IDLE\r\n")
    assert c.readline().startswith(b"+")
    deliver(imap, "alice@example.com", "while idle")
    c.sock.settimeout(10)
    line = c.readline()
    assert b"EXISTS" in line, line
    c.send(b"DONE\r\n")
    while not c.readline().startswith(tag):
        pass
    c.logout()


@pytest.mark.skipif(shutil.which("mbsync") is None, reason="mbsync (isync) is not installed")
def test_mbsync_syncs_a_maildir_both_ways(imap, tmp_path):
    deliver(imap, "bob@example.com", "to be synced")
    maildir = tmp_path / "mail"
    maildir.mkdir()
    rc = tmp_path / "mbsyncrc"
    rc.write_text(
        f"IMAPAccount rampart\nHost 127.0.0.1\nPort {imap.imap_port}\nUser bob@example.com\n"
        f"Pass \"{PASSWORD}\"\nSSLType STARTTLS\nSSLVersions TLSv1.2 TLSv1.3\n"
        # The server's own self-signed certificate, trusted explicitly.
        f"CertificateFile {imap.data / 'tls' / 'cert.pem'}\n\n"
        "IMAPStore remote\nAccount rampart\n\n"
        f"MaildirStore local\nPath {maildir}/\nInbox {maildir}/INBOX\nSubFolders Verbatim\n\n"
        "Channel sync\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nExpunge Both\nSyncState *\n"
    )
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def sync():
        r = subprocess.run(["mbsync", "-c", str(rc), "-a"], capture_output=True, timeout=60, env=env)
        assert r.returncode == 0, r.stderr.decode() + r.stdout.decode()

    sync()
    new = list((maildir / "INBOX" / "new").iterdir()) + list((maildir / "INBOX" / "cur").iterdir())
    assert len(new) == 1 and b"to be synced" in new[0].read_bytes()
    # A message written locally goes up to the server.
    (maildir / "Archive" / "new").mkdir(parents=True, exist_ok=True)
    (maildir / "Archive" / "cur").mkdir(exist_ok=True)
    (maildir / "Archive" / "tmp").mkdir(exist_ok=True)
    (maildir / "Archive" / "new" / f"{int(time.time())}.1.local").write_bytes(
        b"From: bob@example.com\r\nSubject: written offline\r\n\r\nhello\r\n"
    )
    sync()
    c = connect(imap, "bob@example.com")
    typ, data = c.select("Archive")
    assert int(data[0]) == 1
    typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert b"written offline" in data[0][1]
    c.logout()


def test_moving_mail_into_junk_trains_the_personal_filter(imap):
    # Ordinary-looking mail lands in INBOX; the user disagrees and files it as Junk.
    deliver(imap, "alice@example.com", "Lunch on Friday?", body="Shall we try the new place?\r\n")
    c = connect(imap)
    c.select("INBOX")
    typ, data = c.uid("SEARCH", None, "ALL")
    uid = data[0].split()[-1]
    assert c.uid("MOVE", uid, "Junk")[0] == "OK"
    c.logout()

    def reported():
        events = imap.json("events", "list", "--kind", "spam_reported")
        return [e for e in events if e.get("subject") == "alice@example.com"]

    deadline = time.time() + 20
    while not reported():
        assert time.time() < deadline, "moving to Junk trained nothing"
        time.sleep(0.2)
    assert reported()[0]["detail"]["as"] == "spam"
