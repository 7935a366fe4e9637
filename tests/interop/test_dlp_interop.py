"""Data-leak prevention on submission, driven by real clients: smtplib sends, the sender
verifies over the HTTP API with a TOTP code computed here, an administrator uses the CLI.
Full ID numbers must never appear in events or the server log."""
import io
import smtplib
import time
import uuid
import zipfile
from email.message import EmailMessage

import pytest

from test_login_interop import PASSWORD, api, submission, totp

# Valid GB 11643-1999 numbers (check digit computed per the standard) and UnionPay cards (Luhn).
IDS = [
    "11010519491231002X",
    "440524198001010013",
    "320925197308114120",
    "620501196603293823",
    "110101199003070011",
    "11010119900307002X",
    "110101199003070038",
    "110101199003070046",
    "110101199003070054",
    "110101199003070062",
    "110101199003070070",
]


def id_ok(s):
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(a) * b for a, b in zip(s[:17], w)) % 11] == s[17].upper()


def message(frm, to, subject, body, attachment=None):
    m = EmailMessage()
    m["From"] = frm
    m["To"] = to
    m["Subject"] = subject
    m["Message-ID"] = f"<{uuid.uuid4()}@client.test>"
    m.set_content(body)
    if attachment:
        name, data, maintype, subtype = attachment
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return m


@pytest.fixture
def dlp(rampart):
    rampart.config.write_text(
        rampart.config.read_text() + "[auth]\nfailure_delay_ms = 20\nmax_failure_delay_ms = 200\n"
    )
    rampart.cli("user", "password", "alice@example.com", stdin=(PASSWORD + "\n").encode())
    rampart.start()
    return rampart


def send(r, m, to):
    with submission(r) as s:
        s.login("alice@example.com", PASSWORD)
        return s.send_message(m, "alice@example.com", [to])


def test_fixture_numbers_are_valid():
    assert all(id_ok(i) for i in IDS)


def test_one_id_to_outside_is_held_until_the_sender_verifies(dlp):
    r = dlp
    m = message("alice@example.com", "hr@partner.example", "new hire",
                f"请核对身份证号{IDS[2]}是否正确。")
    send(r, m, "hr@partner.example")
    held = r.json("hold", "list")
    assert len(held) == 1 and held[0]["rule"] == "ids-or-cards-outside"
    assert held[0]["kind"] == "sender"
    assert r.json("queue", "list") == [], "held mail is not queued"
    shown = r.json("hold", "show", str(held[0]["id"]))
    assert shown["findings"][0]["entity"] == "CN_RESIDENT_ID"
    assert IDS[2] not in str(shown["findings"])
    # The sender was told, in their inbox.
    inbox = r.json("mail", "list", "alice@example.com")
    assert any(x["subject"].startswith("Held:") for x in inbox)

    # Inside the company the same text flows.
    send(r, message("alice@example.com", "bob@example.com", "internal", f"身份证号{IDS[2]}"), "bob@example.com")
    assert len(r.json("mail", "list", "bob@example.com")) == 1

    # A second held message, to release the other way.
    send(r, message("alice@example.com", "payroll@partner.example", "card",
                    f"工资卡卡号 6222 0212 3456 7890 128 请核对"), "payroll@partner.example")
    held = r.json("hold", "list")
    assert len(held) == 2, held
    first, second = held[1]["id"], held[0]["id"]

    # Without a second factor at hand, releasing asks for an approval from a trusted session.
    status, body = api(r, "POST", "/api/v1/auth/login", {"address": "alice@example.com", "password": PASSWORD})
    token = body["token"]
    status, body = api(r, "POST", f"/api/v1/holds/{first}/release", {}, token=token)
    assert status == 202 and body["challenge"]["kind"] == "approval", body
    cid = body["challenge"]["id"]
    status, body = api(r, "POST", f"/api/v1/holds/{first}/release", {"challenge": cid}, token=token)
    assert status == 403 and body["code"] == "not_approved"
    status, other = api(r, "POST", "/api/v1/auth/login", {"address": "alice@example.com", "password": PASSWORD})
    assert api(r, "POST", f"/api/v1/auth/challenges/{cid}/approve", {}, token=other["token"])[0] == 200
    status, body = api(r, "POST", f"/api/v1/holds/{first}/release", {"challenge": cid}, token=token)
    assert status == 200 and body["hold"]["status"] == "released", body
    assert [q["recipient"] for q in r.json("queue", "list")] == ["hr@partner.example"]
    # The approval was for that message only.
    status, body = api(r, "POST", f"/api/v1/holds/{second}/release", {"challenge": cid}, token=token)
    assert status == 403

    # With an authenticator: a fresh TOTP code releases it.
    status, enrol = api(r, "POST", "/api/v1/auth/totp/enroll", {}, token=token)
    now = time.time()
    assert api(r, "POST", "/api/v1/auth/totp/confirm", {"code": totp(enrol["secret"], now)}, token=token)[0] == 200
    status, body = api(r, "POST", f"/api/v1/holds/{second}/release", {"code": totp(enrol["secret"], now)}, token=token)
    assert status == 403 and body["code"] == "verification_required", "a used code does not work twice"
    status, body = api(r, "POST", f"/api/v1/holds/{second}/release", {"code": totp(enrol["secret"], now + 30)}, token=token)
    assert status == 200 and body["hold"]["status"] == "released", body
    assert sorted(q["recipient"] for q in r.json("queue", "list")) == ["hr@partner.example", "payroll@partner.example"]

    # Nothing ever wrote the full number to an event or the log.
    events = r.cli("--json", "events", "list", "--limit", "500").stdout.decode()
    assert "dlp_held" in events and "dlp_released" in events
    assert IDS[2] not in events
    assert IDS[2] not in r.log.read_text()


def test_ten_ids_are_blocked_with_the_policy_tip(dlp):
    r = dlp
    body = "员工身份证号清单：\n" + "\n".join(f"身份证 {i}" for i in IDS[:10])
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(r, message("alice@example.com", "x@partner.example", "list", body), "x@partner.example")
    assert e.value.smtp_code == 550
    assert b"bulk-ids-or-cards-outside" in e.value.smtp_error
    assert r.json("hold", "list") == [] and r.json("queue", "list") == []
    kinds = {e["kind"] for e in r.json("events", "list", "--limit", "50")}
    assert {"dlp_blocked", "dlp_alert"} <= kinds


def test_ids_inside_a_zipped_spreadsheet_are_found_and_admin_can_reject(dlp):
    r = dlp
    csv = "name,身份证号码\n张三," + IDS[3] + "\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("staff.csv", csv.encode("utf-8"))
    m = message("alice@example.com", "x@partner.example", "staff", "see attachment",
                ("staff.zip", buf.getvalue(), "application", "zip"))
    send(r, m, "x@partner.example")
    held = r.json("hold", "list")
    assert len(held) == 1
    r.cli("hold", "reject", str(held[0]["id"]))
    assert r.json("hold", "list") == []
    assert r.json("hold", "list", "--all")[0]["status"] == "rejected"
    inbox = r.json("mail", "list", "alice@example.com")
    assert any(x["subject"].startswith("Not sent:") for x in inbox)
