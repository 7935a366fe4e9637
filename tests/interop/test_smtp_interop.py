import email
import shutil
import smtplib
import ssl
import subprocess
import threading
import time
import uuid

import pytest

USERS = ["alice@example.com", "bob@example.com", "carol@example.com"]


def message(subject, to, body="hello from the interop suite\r\n"):
    return (
        f"From: Sender <sender@client.test>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
        f"Message-ID: <{uuid.uuid4()}@client.test>\r\nDate: Fri, 27 Nov 2026 12:00:00 +0000\r\n\r\n{body}"
    ).encode()


def smtp(r, timeout=30):
    return smtplib.SMTP("127.0.0.1", r.port, local_hostname="client.test", timeout=timeout)


def test_smtplib_delivers_over_several_connections(rampart):
    rampart.start()
    errors = []

    def worker(n):
        try:
            with smtp(rampart) as s:
                for i in range(10):
                    to = USERS[(n + i) % 3]
                    s.sendmail("sender@client.test", [to], message(f"w{n}-m{i}", to))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    total = sum(len(rampart.json("mail", "list", u)) for u in USERS)
    assert total == 60
    listing = rampart.json("mail", "list", "alice@example.com")
    for key in ("id", "folder", "from", "subject", "date", "size"):
        assert key in listing[0]
    assert listing[0]["folder"] == "INBOX"
    assert listing[0]["from"] == "Sender <sender@client.test>"


def test_kill9_mid_stream_loses_no_acknowledged_message_and_duplicates_none(rampart):
    rampart.start()
    acked, lock, stop = [], threading.Lock(), threading.Event()

    def sender(n):
        seq = 0
        while not stop.is_set():
            try:
                with smtp(rampart, timeout=10) as s:
                    while not stop.is_set():
                        subject = f"kill9-{n}-{seq}"
                        seq += 1
                        to = USERS[seq % 3]
                        s.sendmail("sender@client.test", [to], message(subject, to, "x" * 4000 + "\r\n"))
                        with lock:  # only after the server's 250
                            acked.append((to, subject))
            except (OSError, smtplib.SMTPException):
                time.sleep(0.05)

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    deadline = time.time() + 30
    while len(acked) < 400 and time.time() < deadline:
        time.sleep(0.02)
    rampart.kill9()
    with lock:
        confirmed = list(acked)
    stop.set()
    for t in threads:
        t.join()
    assert len(confirmed) >= 400, "the load ran before the kill"

    rampart.start()
    stored = {}
    for u in USERS:
        for m in rampart.json("mail", "list", u):
            stored.setdefault((u, m["subject"]), []).append(m["id"])
    missing = [c for c in confirmed if c not in stored]
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {missing[:3]}"
    dups = {k: v for k, v in stored.items() if len(v) > 1}
    assert not dups, f"duplicated: {list(dups.items())[:3]}"
    # And the restarted server takes mail again.
    with smtp(rampart) as s:
        s.sendmail("sender@client.test", ["alice@example.com"], message("after-restart", "alice@example.com"))


def test_starttls_with_the_self_signed_certificate_created_on_first_run(rampart):
    rampart.start()
    cert = rampart.data / "tls" / "cert.pem"
    assert cert.exists()
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.check_hostname = False  # the self-signed cert names mx.interop.test, we dial 127.0.0.1
    with smtp(rampart) as s:
        s.starttls(context=ctx)
        assert s.sock.version() in ("TLSv1.3", "TLSv1.2")
        s.ehlo()
        assert not s.has_extn("starttls")
        s.sendmail("sender@client.test", ["bob@example.com"], message("over tls", "bob@example.com"))
    [m] = rampart.json("mail", "list", "bob@example.com")
    raw = rampart.cli("mail", "show", "bob@example.com", str(m["id"])).stdout.decode()
    assert "with ESMTPS id" in raw


def test_refuses_relay_and_unknown_users_to_smtplib(rampart):
    rampart.start()
    with smtp(rampart) as s:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            s.sendmail("spam@evil.test", ["victim@gmail.com"], message("relay?", "victim@gmail.com"))
        code, text = e.value.recipients["victim@gmail.com"]
        assert (code, text[:5]) == (550, b"5.7.1")
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            s.sendmail("x@evil.test", ["nobody@example.com"], message("who?", "nobody@example.com"))
        assert e.value.recipients["nobody@example.com"][0] == 550


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks not installed (.ci/run installs it)")
def test_swaks_delivers_with_pipelining_and_starttls(rampart):
    rampart.start()
    r = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{rampart.port}", "--to", "carol@example.com", "--from", "s@client.test",
         "--helo", "client.test", "--pipeline", "--tls", "--header", "Subject: from swaks"],
        capture_output=True, text=True, timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    [m] = rampart.json("mail", "list", "carol@example.com")
    assert m["subject"] == "from swaks"
    r = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{rampart.port}", "--to", "someone@elsewhere.test", "--from", "s@client.test"],
        capture_output=True, text=True, timeout=60,
    )
    assert r.returncode != 0 and "5.7.1" in r.stdout


def test_sigterm_lets_the_transaction_in_flight_finish(rampart):
    rampart.start()
    s = smtp(rampart)
    s.ehlo()
    assert s.mail("sender@client.test")[0] == 250
    assert s.rcpt("alice@example.com")[0] == 250
    rampart.proc.terminate()
    time.sleep(0.5)
    assert rampart.proc.poll() is None, "still draining"
    code, _ = s.data(message("in flight", "alice@example.com"))
    assert code == 250
    rampart.proc.wait(timeout=30)
    assert rampart.proc.returncode == 0
    subjects = [m["subject"] for m in rampart.json("mail", "list", "alice@example.com")]
    assert subjects == ["in flight"]


def test_deleted_mail_is_listed_with_its_deadline_and_restored_byte_identical(rampart):
    rampart.start()
    with smtp(rampart) as s:
        s.sendmail("sender@client.test", ["alice@example.com"], message("precious", "alice@example.com"))
    [m] = rampart.json("mail", "list", "alice@example.com")
    before = rampart.cli("mail", "show", "alice@example.com", str(m["id"])).stdout
    assert email.message_from_bytes(before)["Subject"] == "precious"

    rampart.cli("mail", "delete", "alice@example.com", str(m["id"]))
    assert rampart.json("mail", "list", "alice@example.com") == []
    [d] = rampart.json("mail", "deleted", "alice@example.com")
    assert d["id"] == m["id"] and d["folder"] == "INBOX"
    assert d["recoverable_until"] > d["deleted_at"]

    out = rampart.cli("mail", "restore", "alice@example.com", str(m["id"])).stdout.decode()
    assert "restored to INBOX" in out
    after = rampart.cli("mail", "show", "alice@example.com", str(m["id"])).stdout
    assert after == before
    kinds = [e["kind"] for e in rampart.json("events", "list", "--account", "alice@example.com")]
    assert kinds[:2] == ["message_restored", "message_deleted"]


GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def test_content_policy_rejects_in_session_and_quarantines_with_a_report(rampart):
    rampart.start()
    with smtp(rampart) as s:
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("x@outside.test", ["alice@example.com"], message("test", "alice@example.com", GTUBE + "\r\n"))
        assert e.value.smtp_code == 550 and b"content.gtube" in e.value.smtp_error
        # An executable dressed as an invoice: held for an admin, not delivered, not bounced.
        pe = bytearray(b"MZ" + b"\0" * 510)
        pe[0x3C] = 0x80
        pe[0x80:0x84] = b"PE\0\0"
        import base64
        body = base64.encodebytes(bytes(pe)).decode().replace("\n", "\r\n")
        raw = (
            "From: billing@vendor.test\r\nTo: alice@example.com\r\nSubject: invoice\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
            "--b\r\nContent-Type: application/pdf; name=invoice.pdf\r\nContent-Disposition: attachment; filename=invoice.pdf\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{body}--b--\r\n"
        )
        s.sendmail("billing@vendor.test", ["alice@example.com"], raw.encode())
    assert rampart.json("mail", "list", "alice@example.com") == []
    [held] = rampart.json("quarantine", "list")
    assert held["subject"] == "invoice" and held["status"] == "held"
    names = [f["name"] for f in held["report"]["findings"]]
    assert "file.executable" in names
    original = rampart.cli("quarantine", "show", str(held["id"]), "--raw").stdout
    assert b"Subject: invoice" in original
    rampart.cli("quarantine", "release", str(held["id"]))
    [m] = rampart.json("mail", "list", "alice@example.com")
    assert rampart.cli("mail", "show", "alice@example.com", str(m["id"])).stdout == original
    kinds = [e["kind"] for e in rampart.json("events", "list", "--account", "alice@example.com")]
    assert {"message_rejected", "message_quarantined", "quarantine_released"} <= set(kinds)
