"""Outbound delivery and sending control, end to end: Python smtplib submits to `rampart serve`,
which delivers to a second SMTP server (aiosmtpd on 127.0.0.1) named by `[outbound] mx_override`.
The DKIM signature is checked with dkimpy (an independent implementation) against the record
`rampart dkim generate` printed. Nothing leaves 127.0.0.1.
"""
import json
import smtplib
import ssl
import subprocess
import time

import dkim
import pytest
from aiosmtpd.controller import Controller

from conftest import free_port


class Inbox:
    """An aiosmtpd handler that keeps what it receives and refuses chosen recipients."""

    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 <%s>: no such user here" % address
        if address.startswith("later@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "data": envelope.original_content or envelope.content,
                "tls": session.ssl is not None,
            }
        )
        return "250 2.0.0 Message accepted"


def tls_context(tmp_path):
    """A self-signed certificate for the receiver's STARTTLS (opportunistic TLS does not verify)."""
    key, cert = tmp_path / "rx.key", tmp_path / "rx.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=rx.remote.test"],
        check=True, capture_output=True,
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


@pytest.fixture
def receiver(tmp_path):
    inbox = Inbox()
    port = free_port()
    ctrl = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=tls_context(tmp_path))
    ctrl.start()
    inbox.port = port
    yield inbox
    ctrl.stop()


def configure(rampart, receiver, extra=""):
    with open(rampart.config, "a") as f:
        f.write(
            "[outbound]\n"
            f'mx_override = {{ "remote.test" = "127.0.0.1:{receiver.port}" }}\n'
            "retry_secs = 1\nmax_retry_secs = 2\n"
            "[alerts]\n"
            f'jsonl_path = "{rampart.data.parent / "alerts.jsonl"}"\n'
            + extra
        )


def submit(rampart, to, subject="hello", sender="alice@example.com", password="pw-alice-123456"):
    body = (
        f"From: {sender}\r\nTo: {', '.join(to)}\r\nSubject: {subject}\r\n"
        "Message-ID: <%s@example.com>\r\n\r\nHi there.\r\n" % time.time_ns()
    )
    with smtplib.SMTP("127.0.0.1", rampart.submission_port, timeout=30) as s:
        s.starttls(context=ssl._create_unverified_context())
        s.login(sender, password)
        return s.sendmail(sender, to, body)


def wait_for(cond, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def set_password(rampart, user="alice@example.com", password="pw-alice-123456"):
    rampart.cli("user", "password", user, stdin=(password + "\n").encode())


def test_delivers_dkim_signed_over_starttls_and_bounces_refused_recipients(rampart, receiver):
    configure(rampart, receiver)
    set_password(rampart)
    key = rampart.json("dkim", "generate", "example.com", "--selector", "s1")
    assert key["dns_name"] == "s1._domainkey.example.com"
    rampart.start()

    refused = submit(rampart, ["carol@remote.test", "nobody@remote.test"], subject="report")
    assert refused == {}
    msg = wait_for(lambda: receiver.messages and receiver.messages[0])
    assert msg["to"] == ["carol@remote.test"]
    assert msg["from"] == "alice@example.com"
    assert msg["tls"], "opportunistic STARTTLS was not used"

    txt = key["txt"].encode()

    def dns(name, timeout=5):
        return txt if name.rstrip(b".") == b"s1._domainkey.example.com" else None

    assert dkim.verify(msg["data"], dnsfunc=dns), "dkimpy could not verify our signature"
    tampered = msg["data"].replace(b"Hi there.", b"Hi there!")
    assert not dkim.verify(tampered, dnsfunc=dns)

    # The refused recipient bounces to alice's INBOX as an RFC 3464 report.
    def bounce():
        mails = rampart.json("mail", "list", "alice@example.com")
        return [m for m in mails if "Undelivered" in (m.get("subject") or "")]

    wait_for(bounce)
    rows = wait_for(lambda: [r for r in rampart.json("queue", "list", "--all") if r["status"] in ("sent", "failed")
                             and len(rampart.json("queue", "list", "--all")) == 2 and r])
    statuses = {r["recipient"]: r["status"] for r in rampart.json("queue", "list", "--all")}
    assert statuses == {"carol@remote.test": "sent", "nobody@remote.test": "failed"}
    show = rampart.cli("queue", "show", rows[0]["queue_id"]).stdout.decode()
    assert "no such user" in show and "Message accepted" in show


def test_temporary_failures_are_retried_and_the_queue_cli_manages_them(rampart, receiver):
    configure(rampart, receiver)
    set_password(rampart)
    rampart.start()
    submit(rampart, ["later@remote.test"])
    entry = wait_for(lambda: [r for r in rampart.json("queue", "list") if r["attempts"] >= 2])[0]
    assert entry["status"] in ("queued", "sending")
    assert "try again later" in entry["last_error"]
    rampart.json("queue", "delete", str(entry["id"]))
    assert rampart.json("queue", "list") == []


def test_hourly_quota_defers_and_daily_limit_holds_sending_with_an_alert(rampart, receiver):
    configure(rampart, receiver, "[sending.org]\nmessages_per_hour = 2\n"
              "[sending.users.\"bob@example.com\"]\nmessages_per_day = 1\n")
    set_password(rampart)
    set_password(rampart, "bob@example.com", "pw-bob-1234567")
    rampart.start()
    submit(rampart, ["carol@remote.test"])
    submit(rampart, ["carol@remote.test"])
    with pytest.raises(smtplib.SMTPException) as e:
        submit(rampart, ["carol@remote.test"])
    assert "4.7" in str(e.value) and "hour" in str(e.value)

    # Bob's second message passes his daily limit: it is held, and so is his sending.
    submit(rampart, ["carol@remote.test"], sender="bob@example.com", password="pw-bob-1234567")
    submit(rampart, ["carol@remote.test"], sender="bob@example.com", password="pw-bob-1234567")
    state = rampart.json("account", "show", "bob@example.com")
    assert state["sending_held_at"] is not None
    holds = rampart.json("hold", "list", "--account", "bob@example.com")
    assert len(holds) == 1 and holds[0]["rule"] == "sending-limit"
    alerts_file = rampart.data.parent / "alerts.jsonl"
    alerts = wait_for(lambda: alerts_file.exists() and [json.loads(l) for l in alerts_file.read_text().splitlines()])
    assert any(a["alert"]["kind"] == "sending_held" and a["alert"]["account"] == "bob@example.com" for a in alerts)


def test_containment_stops_logins_and_holds_queued_mail_until_release(rampart, receiver):
    configure(rampart, receiver)
    set_password(rampart)
    rampart.start()
    summary = rampart.json("account", "contain", "alice@example.com", "--reason", "phished")
    assert summary["sessions_revoked"] >= 0
    with pytest.raises(smtplib.SMTPAuthenticationError) as e:
        submit(rampart, ["carol@remote.test"])
    assert b"locked down" in e.value.smtp_error
    rampart.json("account", "release", "alice@example.com")
    # Released, but the old password stays dead until an administrator sets a new one.
    with pytest.raises(smtplib.SMTPAuthenticationError) as e:
        submit(rampart, ["carol@remote.test"])
    assert b"reset" in e.value.smtp_error
    state = rampart.json("account", "show", "alice@example.com")
    assert state["contained_at"] is None and state["password_reset_required"]


def test_sending_hold_released_by_totp_or_reported_as_not_me(rampart, receiver):
    from test_login_interop import api, totp

    configure(rampart, receiver, "[sending.users.\"bob@example.com\"]\nmessages_per_day = 1\n"
              "[sending.users.\"carol@example.com\"]\nmessages_per_day = 1\n")
    set_password(rampart, "bob@example.com", "pw-bob-1234567")
    set_password(rampart, "carol@example.com", "pw-carol-123456")
    rampart.start()

    # Bob passes his limit; he verifies with a fresh TOTP code and everything held goes out.
    status, body = api(rampart, "POST", "/api/v1/auth/login", {"address": "bob@example.com", "password": "pw-bob-1234567"})
    token = body["token"]
    status, enrol = api(rampart, "POST", "/api/v1/auth/totp/enroll", {}, token=token)
    now = time.time()
    assert api(rampart, "POST", "/api/v1/auth/totp/confirm", {"code": totp(enrol["secret"], now)}, token=token)[0] == 200
    for i in range(3):
        submit(rampart, ["carol@remote.test"], subject=f"b{i}", sender="bob@example.com", password="pw-bob-1234567")
    held = rampart.json("hold", "list", "--account", "bob@example.com")
    assert len(held) == 2, held
    assert {h["rule"] for h in held} == {"sending-limit", "sending-held"}
    status, body = api(rampart, "POST", f"/api/v1/holds/{held[0]['id']}/release",
                       {"code": totp(enrol["secret"], now + 30)}, token=token)
    assert status == 200 and body["sending"] == "resumed" and body["released"] == 2, body
    assert rampart.json("account", "show", "bob@example.com")["sending_held_at"] is None
    wait_for(lambda: len(receiver.messages) == 3)

    # Carol's held message was not hers: reporting it contains her account at once.
    submit(rampart, ["x@remote.test"], sender="carol@example.com", password="pw-carol-123456")
    status, body = api(rampart, "POST", "/api/v1/auth/login", {"address": "carol@example.com", "password": "pw-carol-123456"})
    token = body["token"]
    submit(rampart, ["y@remote.test"], sender="carol@example.com", password="pw-carol-123456")
    held = rampart.json("hold", "list", "--account", "carol@example.com")
    status, body = api(rampart, "POST", f"/api/v1/holds/{held[0]['id']}/report", {}, token=token)
    assert status == 200 and body["contained"], body
    state = rampart.json("account", "show", "carol@example.com")
    assert state["contained_at"] is not None and state["password_reset_required"]
    assert rampart.json("hold", "list", "--account", "carol@example.com") == []
    assert api(rampart, "GET", "/api/v1/auth/session", token=token)[0] == 401
    alerts = rampart.data.parent / "alerts.jsonl"
    wait_for(lambda: alerts.exists() and '"account_contained"' in alerts.read_text())
