"""After the fact, with real clients: mail sent over SMTP is journaled into the archive and found
by an auditor (and only an auditor) over the HTTP API, including Chinese text; every search is
itself audited; users restore their own deleted mail; the audit trail verifies, is forwarded to a
JSON-lines SIEM file with signed checkpoints, and an mbox export carries every matched message."""
import json
import mailbox
import smtplib
import time
import uuid
from email.header import Header

import pytest

from test_login_interop import PASSWORD, api, submission

CN_SUBJECT = "季度报告 第三季度"


def inbound(r, frm, to, subject, body):
    raw = (
        f"From: Partner <{frm}>\r\nTo: <{to}>\r\n"
        f"Subject: {Header(subject, 'utf-8').encode()}\r\n"
        f"Message-ID: <{uuid.uuid4()}@partner.test>\r\nDate: Fri, 27 Nov 2026 12:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + body.encode("utf-8") + b"\r\n"
    with smtplib.SMTP("127.0.0.1", r.port, local_hostname="mail.partner.test", timeout=30) as s:
        s.sendmail(frm, [to], raw)


def login(r, user):
    status, body = api(r, "POST", "/api/v1/auth/login",
                       {"address": f"{user}@example.com", "password": PASSWORD})
    assert status == 200, body
    return body["token"]


@pytest.fixture
def compliance(rampart, tmp_path):
    rampart.siem = tmp_path / "siem" / "audit.jsonl"
    rampart.config.write_text(
        rampart.config.read_text()
        + f'[audit]\ncheckpoint_secs = 1\nforward_jsonl = "{rampart.siem}"\n'
        + '[archive]\nindex_interval_secs = 1\n'
    )
    for user in ("alice", "bob", "carol"):
        rampart.cli("user", "password", f"{user}@example.com", stdin=(PASSWORD + "\n").encode())
    rampart.cli("user", "role", "carol@example.com", "auditor")
    rampart.cli("user", "role", "bob@example.com", "admin")
    rampart.start()
    return rampart


def wait_for(fn, what, timeout=45):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_archive_search_is_for_auditors_and_audited_and_the_trail_verifies(compliance, tmp_path):
    r = compliance
    inbound(r, "cfo@partner.example.org", "alice@example.com", CN_SUBJECT,
            "请查收附件中的季度报告，合同已经签署。")
    inbound(r, "sales@partner.example.org", "alice@example.com", "Invoice 4471",
            "The signed contract for the warehouse lease is attached.")
    s = submission(r)
    s.login("alice@example.com", PASSWORD)
    s.sendmail("alice@example.com", ["bob@example.com"],
               b"From: <alice@example.com>\r\nTo: <bob@example.com>\r\nSubject: lunch\r\n"
               b"Message-ID: <lunch@example.com>\r\n\r\nTacos at noon?\r\n")
    s.quit()

    carol, alice, bob = login(r, "carol"), login(r, "alice"), login(r, "bob")

    # Every delivery event says what the content scan decided.
    delivered = r.json("events", "list", "--kind", "message_delivered", "--account",
                       "alice@example.com")
    scanned = [e for e in delivered if e["actor"] == "smtp"]
    assert len(scanned) == 2 and all(e["detail"]["verdict"].startswith("action=") for e in scanned)

    def search(q, token=carol):
        return api(r, "GET", "/api/v1/archive/search?q=" + urllib_quote(q), token=token)

    # The index follows the journal within seconds.
    hits = wait_for(lambda: search("季度报告")[1].get("hits"), "the Chinese message to be indexed")
    assert len(hits) == 1 and "partner.example.org" in hits[0]["from"]
    assert search("合同")[1]["total"] == 1, "Chinese body text is searchable too"
    assert search("from:partner.example.org contract")[1]["total"] == 1
    lunch = wait_for(lambda: search("tacos")[1].get("hits"), "the submitted message")
    # Sent once, to bob, with a Sent copy: journaled once, as outbound.
    assert len(lunch) == 1 and lunch[0]["direction"] == "outbound"

    # Least privilege: neither the user nor the administrator may search the archive.
    for token in (alice, bob):
        status, body = search("季度报告", token)
        assert status == 403 and body["code"] == "auditor_only", body
        status, body = api(r, "GET", "/api/v1/audit/events", token=token)
        assert status == 403

    # The dashboard is the administrator's: counts from the event log, refused to others.
    status, body = api(r, "GET", "/api/v1/admin/dashboard", token=bob)
    assert status == 200, body
    flow = body["dashboard"]["flow"]
    assert sum(b["accepted"] + b["junk"] for b in flow) >= 3, flow
    assert body["dashboard"]["logins"]["login_allowed"] >= 3
    for token in (alice, carol):
        status, body = api(r, "GET", "/api/v1/admin/dashboard", token=token)
        assert status == 403 and body["code"] == "admin_only", body

    status, body = api(r, "GET", f"/api/v1/archive/messages/{hits[0]['id']}", token=carol)
    assert status == 200 and body["message"]["parties"] == ["alice@example.com"], body

    status, body = api(r, "GET", "/api/v1/audit/events?kind=archive_searched&limit=50", token=carol)
    assert status == 200
    searched = [e for e in body["events"] if e["actor"] == "carol@example.com"]
    assert any(e["detail"]["query"] == "季度报告" for e in searched), body

    # The CLI searches beside the running server (read-only index) and is audited as well.
    out = r.json("archive", "search", "invoice")
    assert out["total"] == 1

    # "Recently deleted": alice deletes and restores her own message over the API.
    listed = r.json("mail", "list", "alice@example.com")
    victim = listed[0]["id"]
    r.cli("mail", "delete", "alice@example.com", str(victim))
    status, body = api(r, "GET", "/api/v1/mail/deleted", token=alice)
    assert status == 200 and [m["id"] for m in body["messages"]] == [victim]
    status, body = api(r, "POST", f"/api/v1/mail/deleted/{victim}/restore", token=alice)
    assert status == 200, body
    status, body = api(r, "POST", f"/api/v1/mail/deleted/{victim}/restore", token=bob)
    assert status == 404, "bob cannot restore alice's mail"

    # The SIEM file receives every event in order, and checkpoints get signed.
    def forwarded():
        if not r.siem.exists():
            return None
        lines = [json.loads(line) for line in r.siem.read_text().splitlines()]
        return lines if any(e["kind"] == "message_restored" for e in lines) else None

    lines = wait_for(forwarded, "events to be forwarded")
    ids = [e["id"] for e in lines]
    assert ids == list(range(1, len(ids) + 1)), "in order, none missing"
    assert all(len(e["hash"]) == 64 for e in lines)

    r.stop()
    report = r.json("audit", "verify")
    assert report["ok"], report
    assert report["checkpoints"] >= 1 and report["signed_up_to"] == report["last_id"], report

    mbox_path = tmp_path / "export.mbox"
    out = r.json("archive", "export", "from:partner.example.org", "--mbox", str(mbox_path))
    assert out["exported"] == 2
    subjects = sorted(str(m["subject"]) for m in mailbox.mbox(str(mbox_path)))
    assert len(subjects) == 2
    kinds = [e["kind"] for e in r.json("audit", "search", "--kind", "archive_exported")]
    assert kinds == ["archive_exported"]


def urllib_quote(s):
    from urllib.parse import quote
    return quote(s, safe="")
