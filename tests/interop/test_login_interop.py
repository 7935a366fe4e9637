"""Submission with AUTH and the HTTP login API, driven by real clients: Python's smtplib (STARTTLS
and implicit TLS) and urllib over HTTPS. Step-up: TOTP computed here from RFC 6238, approval of
an SMTP sign-in from an API session, brute-force lockout, admin blocks."""
import base64
import hashlib
import hmac
import json
import smtplib
import ssl
import struct
import time
import urllib.error
import urllib.request
import uuid

import pytest

PASSWORD = "correct horse battery staple"


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the server's self-signed certificate
    return ctx


def totp(secret_b32, at=None):
    key = base64.b32decode(secret_b32 + "=" * ((8 - len(secret_b32) % 8) % 8))
    counter = int((at if at is not None else time.time()) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 15
    code = (struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


def msg(frm, to, subject="hello"):
    return (
        f"From: <{frm}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
        f"Message-ID: <{uuid.uuid4()}@client.test>\r\nDate: Fri, 27 Nov 2026 12:00:00 +0000\r\n\r\n"
        "Quarterly numbers attached as discussed.\r\n"
    ).encode()


def submission(r, source="127.0.0.1"):
    s = smtplib.SMTP(
        "127.0.0.1", r.submission_port, local_hostname="laptop.client.test", timeout=30,
        source_address=(source, 0),
    )
    s.starttls(context=tls_context())
    s.ehlo()
    return s


def api(r, method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        f"https://127.0.0.1:{r.http_port}{path}", data=data, method=method
    )
    req.add_header("Content-Type", "application/json")
    req.add_header("User-Agent", "interop-tests/1.0")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, context=tls_context(), timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture
def users(rampart):
    # Short failure delays so the brute-force test runs in seconds (defaults: 1 s doubling to 30 s).
    rampart.config.write_text(
        rampart.config.read_text() + "[auth]\nfailure_delay_ms = 20\nmax_failure_delay_ms = 200\n"
    )
    for user in ("alice", "bob"):
        rampart.cli("user", "password", f"{user}@example.com", stdin=(PASSWORD + "\n").encode())
    rampart.cli("alias", "add", "sales@example.com", "alice@example.com")
    rampart.start()
    return rampart


def test_submission_delivers_locally_queues_remote_and_files_sent_copy(users):
    r = users
    with submission(r) as s:
        assert "auth" in s.esmtp_features
        s.login("alice@example.com", PASSWORD)
        s.sendmail(
            "alice@example.com",
            ["bob@example.com", "partner@remote.example"],
            msg("alice@example.com", "bob@example.com", "numbers"),
        )
        # An alias of the account is one of its own addresses.
        s.sendmail("sales@example.com", ["bob@example.com"], msg("sales@example.com", "bob@example.com", "from sales"))
    inbox = r.json("mail", "list", "bob@example.com")
    assert sorted(m["subject"] for m in inbox) == ["from sales", "numbers"]
    sent = r.json("mail", "list", "alice@example.com", "--folder", "Sent")
    assert len(sent) == 2 and all("Seen" in m["flags"] for m in sent)
    queued = r.json("queue", "list")
    assert [q["recipient"] for q in queued] == ["partner@remote.example"]
    assert queued[0]["account"] == "alice@example.com"
    events = r.json("events", "list", "--kind", "message_submitted")
    assert len(events) == 2


def test_implicit_tls_port_authenticates(users):
    r = users
    with smtplib.SMTP_SSL(
        "127.0.0.1", r.submission_tls_port, local_hostname="laptop.client.test",
        context=tls_context(), timeout=30,
    ) as s:
        s.login("bob@example.com", PASSWORD)
        s.sendmail("bob@example.com", ["alice@example.com"], msg("bob@example.com", "alice@example.com"))
    assert len(r.json("mail", "list", "alice@example.com")) == 1


def test_no_auth_in_clear_no_relay_no_spoofing(users):
    r = users
    with smtplib.SMTP("127.0.0.1", r.submission_port, local_hostname="x.test", timeout=30) as s:
        s.ehlo()
        assert "auth" not in s.esmtp_features, "AUTH must not be offered before TLS"
        code, text = s.docmd("AUTH PLAIN " + base64.b64encode(b"\0alice@example.com\0" + PASSWORD.encode()).decode())
        assert code == 538, text
        code, _ = s.docmd("MAIL FROM:<alice@example.com>")
        assert code == 530
    with submission(r) as s:
        code, _ = s.docmd("MAIL FROM:<alice@example.com>")
        assert code == 530, "unauthenticated relay must be impossible"
        s.login("alice@example.com", PASSWORD)
        code, text = s.mail("bob@example.com")
        assert code == 553 and b"alice@example.com" in text
        s.rset()
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("alice@example.com", ["bob@example.com"], msg("ceo@example.com", "bob@example.com"))
        assert e.value.smtp_code == 550
    assert r.json("mail", "list", "bob@example.com") == []


def test_wrong_password_and_disabled_account_are_refused(users):
    r = users
    with submission(r) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login("alice@example.com", "not the password")
        assert e.value.smtp_code == 535
    r.cli("user", "disable", "bob@example.com")
    with submission(r) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login("bob@example.com", PASSWORD)
        assert b"disabled" in e.value.smtp_error
    status, body = api(r, "POST", "/api/v1/auth/login", {"address": "bob@example.com", "password": PASSWORD})
    assert status == 403 and body["code"] == "account_disabled"
    history = r.json("login", "history", "bob@example.com")
    assert {h["decision"] for h in history} == {"deny"}
    assert "account_disabled" in history[0]["reasons"]


def test_app_password_scoped_and_revocable(users):
    r = users
    created = r.json("user", "app-password", "add", "alice@example.com", "Thunderbird", "--protocols", "smtp")
    secret = created["secret"]
    with submission(r) as s:
        s.login("alice@example.com", secret.replace(" ", ""))
    status, _ = api(r, "POST", "/api/v1/auth/login", {"address": "alice@example.com", "password": secret})
    assert status == 401, "an smtp-scoped app password must not open an API session"
    r.cli("user", "app-password", "revoke", "alice@example.com", str(created["app_password"]["id"]))
    with submission(r) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            s.login("alice@example.com", secret)


def test_http_login_session_totp_step_up_and_smtp_approval(users):
    r = users
    status, body = api(r, "POST", "/api/v1/auth/login", {"address": "alice@example.com", "password": PASSWORD})
    assert status == 200, body
    token = body["token"]
    assert body["risk"]["decision"] == "allow"
    status, me = api(r, "GET", "/api/v1/auth/session", token=token)
    assert status == 200 and me["account"] == "alice@example.com"

    # Enrol TOTP with this session.
    status, enrol = api(r, "POST", "/api/v1/auth/totp/enroll", {}, token=token)
    assert status == 200 and enrol["otpauth_uri"].startswith("otpauth://totp/")
    now = time.time()
    status, _ = api(r, "POST", "/api/v1/auth/totp/confirm", {"code": totp(enrol["secret"], now)}, token=token)
    assert status == 200

    # The admin requires MFA for Alice: a password alone now gets a TOTP challenge.
    r.cli("policy", "set", "user:alice@example.com", "--mfa-required", "true")
    status, body = api(r, "POST", "/api/v1/auth/login", {"address": "alice@example.com", "password": PASSWORD})
    assert status == 202, body
    challenge = body["challenge"]
    assert challenge["kind"] == "totp" and "mfa_required" in challenge["reasons"]
    # The code already used for enrolment is refused (replay); the next step's code works.
    status, bad = api(r, "POST", f"/api/v1/auth/challenges/{challenge['id']}/totp", {"code": totp(enrol["secret"], now)})
    assert status == 401 and bad["code"] == "invalid_code"
    status, body = api(r, "POST", f"/api/v1/auth/challenges/{challenge['id']}/totp", {"code": totp(enrol["secret"], now + 30)})
    assert status == 200 and body["mfa"] is True
    trusted = body["token"]

    # SMTP cannot ask for a code: the refusal says where to approve, the approval from the
    # MFA session lets the client's retry in. (127.0.0.1 was just verified by TOTP and is
    # trusted; the mail client connects from another loopback address.)
    with submission(r, source="127.0.0.2") as s:
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login("alice@example.com", PASSWORD)
        assert b"approve" in e.value.smtp_error.lower()
    status, pending = api(r, "GET", "/api/v1/auth/challenges", token=trusted)
    assert status == 200 and len(pending["challenges"]) == 1
    cid = pending["challenges"][0]["id"]
    assert pending["challenges"][0]["protocol"] == "smtp"
    status, _ = api(r, "POST", f"/api/v1/auth/challenges/{cid}/approve", {}, token=trusted)
    assert status == 200
    with submission(r, source="127.0.0.2") as s:
        s.login("alice@example.com", PASSWORD)
    kinds = [h["decision"] for h in r.json("login", "history", "alice@example.com")]
    assert "challenge" in kinds and "allow" in kinds

    # Disabling the user ends every session at once.
    r.cli("user", "disable", "alice@example.com")
    status, _ = api(r, "GET", "/api/v1/auth/session", token=trusted)
    assert status == 401


def test_brute_force_locks_the_account_ip_pair_and_admin_blocks_apply(users):
    r = users
    for _ in range(10):
        status, body = api(r, "POST", "/api/v1/auth/login", {"address": "bob@example.com", "password": "guess"})
        assert status in (401, 429), body
    status, body = api(r, "POST", "/api/v1/auth/login", {"address": "bob@example.com", "password": PASSWORD})
    assert status == 429 and body["code"] == "account_ip_locked", body
    # Another account from the same address is not locked (no global lockout).
    status, _ = api(r, "POST", "/api/v1/auth/login", {"address": "alice@example.com", "password": PASSWORD})
    assert status == 200

    r.cli("block", "add", "127.0.0.1", "--reason", "interop test", "--hours", "1")
    assert [b["cidr"] for b in r.json("block", "list")] == ["127.0.0.1/32"]
    time.sleep(6)  # the server re-reads blocks every few seconds
    status, body = api(r, "POST", "/api/v1/auth/login", {"address": "alice@example.com", "password": PASSWORD})
    assert status == 429 and body["code"] == "source_blocked", body
    r.cli("block", "remove", "127.0.0.1")
    time.sleep(6)
    status, _ = api(r, "POST", "/api/v1/auth/login", {"address": "alice@example.com", "password": PASSWORD})
    assert status == 200
