//! Throughput measurement on synthetic business mail text (for `rampart bench dlp` and the
//! criterion benchmark).

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::checks;
use crate::{Detectors, DlpConfig};

const PLAIN: &[&str] = &[
    "各位同事，附件是本季度的销售报表，请在周五前审阅并反馈意见。",
    "会议改到下午三点，地点在三楼大会议室，请准时参加。",
    "关于新项目的预算申请，财务部已经初步审核通过，请项目组尽快提交实施计划。",
    "客户反馈产品质量良好，希望下个月继续追加订单，请销售部跟进。",
    "请各部门负责人于本周内提交年度工作总结和明年的工作计划。",
    "本次培训内容包括信息安全意识、数据保护规范以及邮件使用守则。",
    "感谢大家在上个项目中的辛勤付出，公司将在月底组织团建活动。",
    "Please find attached the quarterly report for your review and comments.",
    "The meeting has been moved to Thursday afternoon; the agenda is unchanged.",
    "Let me know if you have any questions about the proposal or the timeline.",
    "We expect delivery of the remaining items by the end of next week.",
    "Thanks again for your help with the migration over the weekend.",
    "As discussed, legal will review the contract before we send it to the customer.",
];

const WITH_NUMBERS: &[&str] = &[
    "订单编号 {order} 已发货，预计 {small} 天内送达。",
    "合同金额为 {amount} 元，付款期限为 {date}。",
    "Invoice #{small}{small} totals ${amount} and is due on {date}.",
    "会议时间：{date} {time}，会议室 {small}。",
    "Order {order} shipped on {date}; tracking number {order}.",
    "版本 {small}.{small}.{small} 已发布，修复了 {small} 个问题。",
    "The server logged {order} requests between {time} and {time} on {date}.",
    "本月销售额同比增长 {small}.{small}%，环比增长 {small}%。",
];

const SENSITIVE: &[&str] = &[
    "请核对身份证号{id}是否正确。",
    "信用卡号 {card}，有效期见附件。",
    "联系人王先生，手机{mobile}。",
    "请发送至 {email} 。",
    "Please wire the deposit to IBAN {iban} by Friday.",
    "工资卡（银联）{bank}，开户行：招商银行。",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.below(list.len() as u64) as usize]
    }
}

fn luhn_complete(mut prefix: String) -> String {
    for c in b'0'..=b'9' {
        prefix.push(char::from(c));
        if checks::luhn(prefix.as_bytes()) {
            return prefix;
        }
        prefix.pop();
    }
    unreachable!("one Luhn check digit always fits")
}

fn resident_id(rng: &mut Rng) -> String {
    let regions = ["110105", "310104", "440305", "320925", "510107", "620501"];
    let mut id = format!(
        "{}{}{:02}{:02}{}",
        rng.pick(&regions),
        1950 + rng.below(60),
        1 + rng.below(12),
        1 + rng.below(28),
        rng.digits(3)
    );
    id.push(char::from(checks::resident_id_check_char(id.as_bytes())));
    id
}

fn iban(rng: &mut Rng) -> String {
    let bank: String = (0..4)
        .map(|_| char::from(b'A' + rng.below(26) as u8))
        .collect();
    let bban = format!("{bank}{}", rng.digits(14));
    for check in 2..=98 {
        let candidate = format!("GB{check:02}{bban}");
        if checks::iban_checksum_ok(candidate.as_bytes()) {
            return candidate;
        }
    }
    unreachable!("exactly one pair of check digits fits")
}

fn fill(rng: &mut Rng, template: &str) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = open + rest[open..].find('}').expect("templates are well formed");
        let value = match &rest[open + 1..close] {
            "order" => {
                let n = 10 + rng.below(10) as usize;
                rng.digits(n)
            }
            "small" => (1 + rng.below(99)).to_string(),
            "amount" => format!(
                "{},{:03}.{:02}",
                1 + rng.below(999),
                rng.below(1000),
                rng.below(100)
            ),
            "date" => format!("2026-{:02}-{:02}", 1 + rng.below(12), 1 + rng.below(28)),
            "time" => format!("{:02}:{:02}", rng.below(24), rng.below(60)),
            "id" => resident_id(rng),
            "card" => luhn_complete(format!("4{}", rng.digits(14))),
            "bank" => luhn_complete(format!("62{}", rng.digits(15))),
            "mobile" => format!("13{}", rng.digits(9)),
            "email" => format!("user{}@example.com", rng.below(1000)),
            "iban" => iban(rng),
            other => unreachable!("unknown placeholder {other}"),
        };
        out.push_str(&value);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// About `bytes` of mixed Chinese/English business text: mostly plain sentences, a quarter with
/// ordinary numbers (amounts, dates, order numbers), one in fifty with personal data.
/// Deterministic for a given `seed`.
pub fn synthetic_business_text(bytes: usize, seed: u64) -> String {
    let mut rng = Rng(seed | 1);
    let mut text = String::with_capacity(bytes + 256);
    while text.len() < bytes {
        let roll = rng.below(100);
        let sentence = if roll < 2 {
            let t = rng.pick(SENSITIVE);
            fill(&mut rng, t)
        } else if roll < 27 {
            let t = rng.pick(WITH_NUMBERS);
            fill(&mut rng, t)
        } else {
            rng.pick(PLAIN).to_string()
        };
        text.push_str(&sentence);
        text.push(if rng.below(5) == 0 { '\n' } else { ' ' });
    }
    text
}

/// Scan throughput of the default detectors on `bytes` of [`synthetic_business_text`], in 10^6
/// bytes per second on one core (the best of several runs of at least half a second in total).
pub fn bench_throughput(bytes: usize) -> f64 {
    let text = synthetic_business_text(bytes.max(1024), 20261127);
    let detectors =
        Detectors::new(&DlpConfig::default()).expect("the default configuration compiles");
    black_box(detectors.scan(&text));
    let mut best = Duration::MAX;
    let started = Instant::now();
    let mut runs = 0;
    while runs < 3 || started.elapsed() < Duration::from_millis(500) {
        let t0 = Instant::now();
        black_box(detectors.scan(black_box(&text)));
        best = best.min(t0.elapsed());
        runs += 1;
    }
    text.len() as f64 / best.as_secs_f64().max(1e-9) / 1e6
}
