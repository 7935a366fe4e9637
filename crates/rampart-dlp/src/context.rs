//! Supporting words near a candidate: what raises (or, for order and tracking numbers, caps) its
//! confidence. One automaton, searched only inside the window around a candidate.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

pub(crate) const ID: u16 = 1;
/// Words about payment cards specifically.
pub(crate) const CARD: u16 = 1 << 1;
/// Words about accounts and transfers: support cards and IBANs alike.
pub(crate) const ACCOUNT: u16 = 1 << 8;
pub(crate) const MOBILE: u16 = 1 << 2;
pub(crate) const PASSPORT: u16 = 1 << 3;
pub(crate) const SSN: u16 = 1 << 4;
pub(crate) const IBAN: u16 = 1 << 5;
pub(crate) const USCC: u16 = 1 << 6;
/// Words that name a number as something other than personal data: order, tracking, serial.
pub(crate) const REFERENCE: u16 = 1 << 7;

const WORDS: &[(u16, &[&str])] = &[
    (
        ID,
        &[
            "身份证",
            "身份证号",
            "身份号码",
            "身分證",
            "身份證",
            "证件号",
            "证件号码",
            "证件",
            "公民身份",
            "居民身份",
            "id card",
            "id no",
            "id number",
            "identity",
            "resident id",
            "national id",
            "citizen id",
        ],
    ),
    (
        ACCOUNT,
        &[
            "账号", "帐号", "账户", "帐户", "帳號", "户名", "汇款", "转账", "转入", "收款",
            "account", "acct",
        ],
    ),
    (
        CARD,
        &[
            "卡号",
            "卡號",
            "银行卡",
            "信用卡",
            "借记卡",
            "储蓄卡",
            "银联",
            "工资卡",
            "开户行",
            "开户银行",
            "付款",
            "还款",
            "刷卡",
            "card",
            "cards",
            "credit card",
            "debit",
            "visa",
            "mastercard",
            "amex",
            "american express",
            "discover",
            "jcb",
            "diners",
            "maestro",
            "unionpay",
            "pan",
            "cc",
        ],
    ),
    (
        MOBILE,
        &[
            "手机",
            "手機",
            "电话",
            "電話",
            "联系",
            "聯繫",
            "联络",
            "致电",
            "拨打",
            "请打",
            "打给",
            "来电",
            "短信",
            "微信",
            "mobile",
            "phone",
            "cell",
            "cellphone",
            "tel",
            "call",
            "contact",
            "sms",
            "whatsapp",
            "wechat",
        ],
    ),
    (
        PASSPORT,
        &["护照", "護照", "passport", "passport no", "travel document"],
    ),
    (
        SSN,
        &["ssn", "ssns", "social security", "soc sec", "社会安全号"],
    ),
    (
        IBAN,
        &[
            "iban", "bank", "transfer", "wire", "swift", "bic", "银行", "开户",
        ],
    ),
    (
        USCC,
        &[
            "统一社会信用代码",
            "社会信用代码",
            "信用代码",
            "纳税人识别号",
            "税号",
            "营业执照",
            "uscc",
            "credit code",
            "tax id",
            "taxpayer",
        ],
    ),
    (
        REFERENCE,
        &[
            "订单",
            "单号",
            "流水号",
            "编号",
            "运单",
            "快递",
            "物流",
            "工单",
            "批次",
            "会员",
            "序列号",
            "条码",
            "发票号",
            "order",
            "tracking",
            "invoice",
            "ref",
            "reference",
            "serial",
            "sku",
            "isbn",
            "batch",
            "ticket",
        ],
    ),
];

#[derive(Debug)]
pub(crate) struct ContextIndex {
    automaton: AhoCorasick,
    /// Per pattern: categories, and whether each end must sit on an ASCII word boundary.
    patterns: Vec<(u16, bool, bool)>,
}

impl ContextIndex {
    pub fn new() -> ContextIndex {
        let mut words = Vec::new();
        let mut patterns = Vec::new();
        for &(cats, list) in WORDS {
            for w in list {
                let b = w.as_bytes();
                words.push(*w);
                patterns.push((
                    cats,
                    b[0].is_ascii_alphanumeric(),
                    b[b.len() - 1].is_ascii_alphanumeric(),
                ));
            }
        }
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&words)
            .expect("context words are a small literal set");
        ContextIndex {
            automaton,
            patterns,
        }
    }

    /// Categories of the supporting words within `window` characters before `start` or after
    /// `end` (normalised offsets into `text`).
    pub fn around(&self, text: &str, start: usize, end: usize, window: usize) -> u16 {
        let b = text.as_bytes();
        let from = chars_back(text, start, window);
        let to = chars_forward(text, end, window);
        let mut cats = 0;
        for m in self.automaton.find_overlapping_iter(&text[from..to]) {
            let (s, e) = (from + m.start(), from + m.end());
            let (c, bound_start, bound_end) = self.patterns[m.pattern().as_usize()];
            if bound_start && s > 0 && b[s - 1].is_ascii_alphanumeric() {
                continue;
            }
            if bound_end && e < b.len() && b[e].is_ascii_alphanumeric() {
                continue;
            }
            cats |= c;
        }
        cats
    }
}

fn chars_back(text: &str, mut pos: usize, n: usize) -> usize {
    for _ in 0..n {
        if pos == 0 {
            break;
        }
        pos -= 1;
        while !text.is_char_boundary(pos) {
            pos -= 1;
        }
    }
    pos
}

fn chars_forward(text: &str, mut pos: usize, n: usize) -> usize {
    for _ in 0..n {
        if pos >= text.len() {
            break;
        }
        pos += 1;
        while !text.is_char_boundary(pos) {
            pos += 1;
        }
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_words_within_the_window_only() {
        let index = ContextIndex::new();
        let text = "身份证号码：110105194912310021 备注";
        let start = text.find('1').unwrap();
        assert_eq!(index.around(text, start, start + 18, 32) & ID, ID);
        assert_eq!(index.around(text, start, start + 18, 2), 0);
    }

    #[test]
    fn ascii_words_need_word_boundaries() {
        let index = ContextIndex::new();
        let text = "Valid numbers: 4111111111111111";
        let start = text.find('4').unwrap();
        assert_eq!(index.around(text, start, text.len(), 32) & ID, 0);
        let text = "Card: 4111111111111111";
        assert_eq!(index.around(text, 6, text.len(), 32) & CARD, CARD);
    }
}
