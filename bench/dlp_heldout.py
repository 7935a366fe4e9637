#!/usr/bin/env python3
"""A held-out DLP test set that is not ../shared/corpora: other templates, other generators.

Writes JSONL in the span format `rampart eval dlp` reads (character offsets). Positives are
built from the standards themselves (GB 11643-1999 MOD 11-2, Luhn, GB 32100-2015, ISO 13616
MOD 97, SSA area/group/serial rules), negatives are their near misses and the numbers business
mail is full of (order numbers, timestamps, tracking numbers, invoice totals, phone extensions).
Standard library only; fixed seed.

    python3 bench/dlp_heldout.py > /tmp/dlp-heldout.jsonl
    rampart eval dlp --input /tmp/dlp-heldout.jsonl
"""
import json
import random
import sys

rnd = random.Random(20261128)
W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
C = "10X98765432"
REGIONS = ["110105", "310115", "440305", "330106", "510107", "420102", "610113", "350203"]


def id_check(p):
    return C[sum(int(a) * b for a, b in zip(p, W)) % 11]


def resident_id(bad=False):
    y = rnd.randint(1950, 2004)
    m = rnd.randint(1, 12)
    d = rnd.randint(1, 28)
    p = f"{rnd.choice(REGIONS)}{y:04d}{m:02d}{d:02d}{rnd.randint(0, 999):03d}"
    c = id_check(p)
    if bad:
        c = rnd.choice([x for x in C if x != c])
    return p + c


def luhn_digit(p):
    total = 0
    for i, ch in enumerate(reversed(p)):
        n = int(ch)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return str((10 - total % 10) % 10)


def card(prefix, length, bad=False):
    p = prefix + "".join(rnd.choice("0123456789") for _ in range(length - len(prefix) - 1))
    c = luhn_digit(p)
    if bad:
        c = str((int(c) + rnd.randint(1, 9)) % 10)
    return p + c


def grouped(s, n=4, sep=" "):
    return sep.join(s[i:i + n] for i in range(0, len(s), n))


USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_W = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def uscc(bad=False):
    body = "91" + rnd.choice(REGIONS) + "".join(rnd.choice(USCC_CHARS) for _ in range(9))
    s = sum(USCC_CHARS.index(ch) * w for ch, w in zip(body, USCC_W))
    c = (31 - s % 31) % 31
    if bad:
        c = (c + rnd.randint(1, 30)) % 31
    return body + USCC_CHARS[c]


def iban(country="DE", bban_len=18):
    bban = "".join(rnd.choice("0123456789") for _ in range(bban_len))
    rearranged = bban + country + "00"
    num = int("".join(str(int(ch, 36)) for ch in rearranged))
    check = 98 - num % 97
    return f"{country}{check:02d}{bban}"


def ssn():
    while True:
        area = rnd.randint(1, 899)
        if area != 666:
            break
    return f"{area:03d}-{rnd.randint(1, 99):02d}-{rnd.randint(1, 9999):04d}"


def mobile():
    return rnd.choice(["13", "15", "17", "18", "19"]) + "".join(rnd.choice("0123456789") for _ in range(9))


POS = [
    ("CN_RESIDENT_ID", lambda: resident_id(), [
        "入职材料：姓名王磊，公民身份号码 {v}，请HR归档。",
        "Per the visa form, applicant ID card number {v} (PRC).",
        "报销人身份证：{v}",
    ]),
    ("CN_BANK_CARD", lambda: grouped(card("6222", 19)), [
        "工资发放账户 {v}（工商银行）",
        "Please wire the refund to UnionPay card {v}.",
    ]),
    ("CREDIT_CARD", lambda: rnd.choice([card("4", 16), card("5" + str(rnd.randint(1, 5)), 16), card("37", 15)]), [
        "Corporate card on file: {v}, exp 09/28.",
        "公司信用卡卡号 {v} 用于差旅预订。",
    ]),
    ("CN_USCC", lambda: uscc(), [
        "供应商统一社会信用代码：{v}",
        "Vendor registration (unified social credit code) {v}",
    ]),
    ("IBAN_CODE", lambda: iban(), [
        "Beneficiary IBAN: {v}",
        "Bank details - IBAN {v} - BIC DEUTDEFF",
    ]),
    ("US_SSN", lambda: ssn(), [
        "Employee SSN {v} for the W-2 correction.",
        "Social security number: {v}",
    ]),
    ("CN_MOBILE", lambda: mobile(), [
        "如有问题请联系手机 {v}。",
        "Mobile: {v} (after 6pm)",
    ]),
]

NEG = [
    ("NEG_ID_BAD_CHECKSUM", lambda: resident_id(bad=True), [
        "身份证号 {v} 校验失败，请重新填写。",
        "ID {v} was rejected by the registry.",
    ]),
    ("NEG_CARD_BAD_LUHN", lambda: card("6222", 19, bad=True), [
        "卡号 {v} 无效。",
        "Card number {v} failed verification.",
    ]),
    ("NEG_USCC_BAD_CHECK", lambda: uscc(bad=True), [
        "统一社会信用代码 {v} 不正确。",
    ]),
    ("NEG_PLAIN", lambda: str(rnd.randint(10**17, 10**18 - 1)), [
        "订单号 {v} 已发货，物流单号见附件。",
        "Tracking number {v} - expected Friday.",
    ]),
    ("NEG_PLAIN", lambda: f"2026{rnd.randint(1, 12):02d}{rnd.randint(1, 28):02d}{rnd.randint(0, 23):02d}{rnd.randint(0, 59):02d}{rnd.randint(0, 59):02d}", [
        "日志时间戳 {v}，请核对。",
        "Build {v} deployed to staging.",
    ]),
    ("NEG_PLAIN", lambda: f"{rnd.randint(1000, 99999)}.{rnd.randint(0, 99):02d}", [
        "发票金额 {v} 元，已付款。",
        "Invoice total {v} USD, net 30.",
    ]),
]

for i in range(2000):
    positive = rnd.random() < 0.6
    label, gen, templates = rnd.choice(POS if positive else NEG)
    v = gen()
    text = rnd.choice(templates).format(v=v)
    spans = []
    if positive:
        start = text.index(v)
        spans.append({"entity_type": label, "start": start, "end": start + len(v), "value": v})
    print(json.dumps({
        "id": i,
        "text": text,
        "label": label if positive else "NEGATIVE",
        # Checksum-failing kinds count as hard negatives in `negative_hits`.
        "negative_kind": None if positive else ("NEG_ID_BAD_CHECKSUM" if label == "NEG_USCC_BAD_CHECK" else label),
        "spans": spans,
    }, ensure_ascii=False), file=sys.stdout)
