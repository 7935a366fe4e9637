//! Each detector against the real standards: positives as people write them, and the hard
//! negatives that must never match.

use rampart_dlp::{
    Confidence, Detectors, Dictionary, DlpConfig, DlpError, Entity, Match, PatternRule,
};

fn detectors() -> Detectors {
    Detectors::new(&DlpConfig::default()).expect("default configuration")
}

fn builtin(text: &str) -> Vec<Match> {
    detectors()
        .scan(text)
        .into_iter()
        .filter(|m| m.entity.is_builtin())
        .collect()
}

/// The only built-in match in `text`: its entity, confidence and value.
fn only(text: &str) -> (Entity, Confidence, String) {
    let found = builtin(text);
    assert_eq!(found.len(), 1, "{text:?}: {found:?}");
    let m = &found[0];
    (m.entity.clone(), m.confidence, m.value(text).to_string())
}

fn none(text: &str) {
    let found = builtin(text);
    assert!(found.is_empty(), "{text:?} should not match: {found:?}");
}

fn none_of(entity: Entity, text: &str) {
    let found: Vec<_> = builtin(text)
        .into_iter()
        .filter(|m| m.entity == entity)
        .collect();
    assert!(
        found.is_empty(),
        "{text:?} should not be {entity}: {found:?}"
    );
}

// ---------------------------------------------------------------- resident IDs

#[test]
fn finds_resident_id_with_checksum_and_raises_confidence_with_context() {
    assert_eq!(
        only("请核对身份证号320925197308114120是否正确。"),
        (
            Entity::CnResidentId,
            Confidence::High,
            "320925197308114120".into()
        )
    );
    assert_eq!(
        only("附件 110101199003071233 请查收"),
        (
            Entity::CnResidentId,
            Confidence::Medium,
            "110101199003071233".into()
        )
    );
}

#[test]
fn resident_id_check_character_x_in_either_case() {
    assert_eq!(only("证件号码：44030520120229001X").1, Confidence::High);
    assert_eq!(only("证件号码：44030520120229001x").2, "44030520120229001x");
}

#[test]
fn resident_id_in_full_width_digits_reports_original_offsets() {
    let text = "身份证：３２０９２５１９７３０８１１４１２０。";
    let found = builtin(text);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].value(text), "３２０９２５１９７３０８１１４１２０");
    assert_eq!(found[0].start, "身份证：".len());
    assert_eq!(found[0].masked, "3209**********4120");
}

#[test]
fn resident_id_with_separators() {
    assert_eq!(
        only("身份证 110101-19900307-1233").2,
        "110101-19900307-1233"
    );
    assert_eq!(
        only("身份证 110101 1990 0307 1233").2,
        "110101 1990 0307 1233"
    );
}

#[test]
fn rejects_resident_id_look_alikes() {
    // Wrong MOD 11-2 check character.
    none("订单编号 320925197308114121 已发货。");
    none("身份证号320925197308114121");
    // 30 February 1999, with a correct check character.
    none("身份证 110101199902301231");
    // Region 99 is no province, with a correct check character.
    none("身份证 990101199003071237");
    // Born in the future.
    none_of(Entity::CnResidentId, "身份证 110101299001011234");
    // Embedded in a longer number.
    none("流水号 9320925197308114120 与 3209251973081141207");
    none("ref 1234567320925197308114120");
    // Glued to letters.
    none("ID320925197308114120ABC");
}

#[test]
fn id_shaped_number_with_bad_check_is_a_card_only_with_card_context() {
    // 62 (Gansu) + valid date + wrong ID check, but Luhn-valid as a UnionPay card.
    none("参考号 620501198001011239，请保留。");
    assert_eq!(only("银行卡号 620501198001011239").0, Entity::CnBankCard);
}

#[test]
fn old_fifteen_digit_id_only_with_context_and_low() {
    assert_eq!(
        only("身份证 110101900307123"),
        (
            Entity::CnResidentId,
            Confidence::Low,
            "110101900307123".into()
        )
    );
    none("编号 110101900307123");
}

// ---------------------------------------------------------------- cards

#[test]
fn finds_unionpay_bank_card_in_layouts() {
    assert_eq!(
        only("工资卡（银联）6222021234567890128，开户行：招商银行。").0,
        Entity::CnBankCard
    );
    assert_eq!(
        only("卡号 6222 0212 3456 7890 128").2,
        "6222 0212 3456 7890 128"
    );
    assert_eq!(
        only("转入 6222-0212-3456-7894 即可").2,
        "6222-0212-3456-7894"
    );
    let (entity, confidence, value) = only("卡号：６２２２０２１２３４５６７８９０１２８");
    assert_eq!((entity, confidence), (Entity::CnBankCard, Confidence::High));
    assert_eq!(value, "６２２２０２１２３４５６７８９０１２８");
}

#[test]
fn sixteen_digit_unionpay_is_one_bank_card_not_also_a_credit_card() {
    let found = builtin("card 6222021234567894");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].entity, Entity::CnBankCard);
}

#[test]
fn finds_credit_cards_of_each_brand() {
    for number in [
        "4111111111111111",    // Visa
        "5555555555554444",    // Mastercard 51-55
        "2223000048400011",    // Mastercard 2-series
        "378282246310005",     // Amex
        "6011111111111117",    // Discover
        "3530111333300000",    // JCB
        "30569309025904",      // Diners
        "4111 1111 1111 1111", // spaced
        "3782 822463 10005",   // Amex layout
    ] {
        let text = format!("Please charge card {number} for the invoice.");
        assert_eq!(
            only(&text),
            (Entity::CreditCard, Confidence::High, number.to_string()),
            "{number}"
        );
    }
    assert_eq!(only("reference 4111111111111111").1, Confidence::Low);
    assert_eq!(only("see 4111111111111111").1, Confidence::Medium);
}

#[test]
fn weak_card_rules_need_context_for_medium() {
    assert_eq!(only("4222222222222").1, Confidence::Low); // 13-digit Visa
    assert_eq!(only("card 4222222222222").1, Confidence::Medium);
}

#[test]
fn rejects_card_look_alikes() {
    none("快递单号 4111111111111112"); // Luhn fails
    none("会员号 6222021234567895 积分已到账。"); // Luhn fails
    none("Order 40128888888818810000000001 shipped"); // 4012888888881881 inside 28 digits
    none("1234567890123452"); // Luhn-valid, no issuer
    none("0.4111111111111111 and 2024-4111111111111111"); // joined by dot / hyphen
    none("4111 1111 1111 1111 1111"); // the spaced layout goes on
    none_of(
        Entity::CreditCard,
        "timestamp 20261127123045 and 1732700000000",
    );
}

// ---------------------------------------------------------------- mobile numbers

#[test]
fn finds_mobile_numbers_with_context_and_country_prefix() {
    assert_eq!(
        only("联系人王伟，手机13912345678。"),
        (Entity::CnMobile, Confidence::Medium, "13912345678".into())
    );
    assert_eq!(only("有事请打 18912345678").1, Confidence::Medium);
    assert_eq!(only("13912345678").1, Confidence::Low);
    assert_eq!(only("call +86 139 1234 5678 now").2, "+86 139 1234 5678");
    assert_eq!(only("+8613912345678").2, "+8613912345678");
    assert_eq!(only("0086-139-1234-5678").2, "0086-139-1234-5678");
    assert_eq!(only("(+86) 13912345678").2, "(+86) 13912345678");
    assert_eq!(only("电话：１３９１２３４５６７８").0, Entity::CnMobile);
}

#[test]
fn rejects_mobile_look_alikes() {
    none("12912345678"); // no 12x prefix
    none("15412345678"); // 154 is unallocated
    none("139123456789"); // 12 digits
    none("订单 2139123456781");
    none("x13912345678");
    none("20261127123045");
}

// ---------------------------------------------------------------- USCC, passports

#[test]
fn finds_unified_social_credit_codes() {
    assert_eq!(
        only("统一社会信用代码：9144030071526726XG"),
        (
            Entity::CnUscc,
            Confidence::High,
            "9144030071526726XG".into()
        )
    );
    assert_eq!(only("供应商 91350100M000100Y43").0, Entity::CnUscc);
    none("统一社会信用代码：9144030071526726XH"); // check character
    none("统一社会信用代码：0144030071526726XG"); // no department 0
}

#[test]
fn passports_only_with_context() {
    assert_eq!(
        only("护照号码 E12345678"),
        (Entity::CnPassport, Confidence::Medium, "E12345678".into())
    );
    assert_eq!(only("passport: EA1234567").0, Entity::CnPassport);
    none("E12345678");
    none("护照 EI1234567"); // I is not used
    none("护照 E123456789");
}

// ---------------------------------------------------------------- US SSN

#[test]
fn finds_ssn_by_layout_and_context() {
    assert_eq!(
        only("Here's my SSN: 308-63-0237"),
        (Entity::UsSsn, Confidence::High, "308-63-0237".into())
    );
    assert_eq!(only("308-63-0237").1, Confidence::Low);
    assert_eq!(
        only("social security number 308630237").1,
        Confidence::Medium
    );
    assert_eq!(only("SSN 308 63 0237").1, Confidence::Medium);
}

#[test]
fn rejects_invalid_ssns() {
    for s in [
        "000-12-3456",
        "666-12-3456",
        "912-12-3456",
        "123-00-4567",
        "123-45-0000",
        "078-05-1120",
    ] {
        none(&format!("SSN: {s}"));
    }
    none("308630237"); // bare nine digits without context
    none("Suite 680 36 4022 Oakridge Lane"); // spaced, no context
    none("SSN: 308-63-0237-11");
}

// ---------------------------------------------------------------- IBAN

#[test]
fn finds_ibans_compact_and_grouped() {
    assert_eq!(only("GB29NWBK60161331926819").1, Confidence::Medium);
    assert_eq!(
        only("IBAN: GB29 NWBK 6016 1331 9268 19."),
        (
            Entity::IbanCode,
            Confidence::High,
            "GB29 NWBK 6016 1331 9268 19".into()
        )
    );
    assert_eq!(
        only("my iban is gb29nwbk60161331926819").0,
        Entity::IbanCode
    );
    assert_eq!(
        only("DE89 3704 0044 0532 0130 00").2,
        "DE89 3704 0044 0532 0130 00"
    );
    assert_eq!(
        only("FR14 2004 1010 0505 0001 3M02 606").0,
        Entity::IbanCode
    );
    assert_eq!(only("BE68539007547034").0, Entity::IbanCode);
}

#[test]
fn rejects_iban_look_alikes() {
    none("GB28NWBK60161331926819"); // check digits
    none("GB29NWBK6016133192681"); // length for GB is 22
    none("ZZ29NWBK60161331926819"); // no such country
    none("XGB29NWBK60161331926819");
}

// ---------------------------------------------------------------- e-mail

#[test]
fn finds_email_addresses() {
    let text = "请发送至 yanchang@example.org。";
    let m = &builtin(text)[0];
    assert_eq!(
        (m.entity.clone(), m.confidence),
        (Entity::EmailAddress, Confidence::High)
    );
    assert_eq!(m.value(text), "yanchang@example.org");
    assert_eq!(m.masked, "y*******@example.org");
    assert_eq!(
        only("mail john.doe+tag@mail.example.co.uk.").2,
        "john.doe+tag@mail.example.co.uk"
    );
    assert_eq!(
        only("ａｂｃ＠ｅｘａｍｐｌｅ．ｃｏｍ").2,
        "ａｂｃ＠ｅｘａｍｐｌｅ．ｃｏｍ"
    );
}

#[test]
fn rejects_email_look_alikes() {
    none("root@localhost");
    none("a..b@example.com");
    none("image001.png@01D8C3A5.6B2F1E90");
    none("user@example.c0m");
    none("@example.com");
}

// ---------------------------------------------------------------- keywords and patterns

#[test]
fn default_dictionary_marks_confidential_text_low() {
    let d = detectors();
    let found = d.scan("本文件为机密，STRICTLY CONFIDENTIAL, not nonconfidential.");
    let words: Vec<_> = found
        .iter()
        .map(|m| (m.rule.clone().unwrap(), m.confidence, m.masked.clone()))
        .collect();
    assert_eq!(
        words,
        vec![
            (
                "confidential".to_string(),
                Confidence::Low,
                "**".to_string()
            ),
            (
                "confidential".to_string(),
                Confidence::Low,
                "STRI*************TIAL".to_string()
            ),
        ]
    );
    assert_eq!(found[0].entity, Entity::Keyword("confidential".into()));
}

#[test]
fn admin_dictionaries_and_patterns() {
    let config = DlpConfig {
        dictionaries: vec![Dictionary {
            name: "projects".into(),
            words: vec!["Falcon".into(), "猎鹰计划".into()],
            case_sensitive: true,
            confidence: Confidence::Medium,
        }],
        patterns: vec![PatternRule {
            name: "employee-id".into(),
            regex: r"\bEMP-\d{6}\b".into(),
            confidence: Confidence::High,
        }],
        context_window: 32,
    };
    let d = Detectors::new(&config).unwrap();
    let text = "Falcon 与 falcon 以及猎鹰计划，工号 EMP-123456，ＥＭＰ－６５４３２１";
    let found = d.scan(text);
    let got: Vec<_> = found
        .iter()
        .map(|m| (m.entity.to_string(), m.confidence, m.value(text)))
        .collect();
    assert_eq!(
        got,
        vec![
            ("keyword:projects".to_string(), Confidence::Medium, "Falcon"),
            (
                "keyword:projects".to_string(),
                Confidence::Medium,
                "猎鹰计划"
            ),
            (
                "pattern:employee-id".to_string(),
                Confidence::High,
                "EMP-123456"
            ),
            (
                "pattern:employee-id".to_string(),
                Confidence::High,
                "ＥＭＰ－６５４３２１"
            ),
        ]
    );
    assert_eq!(found[2].masked, "EM******56");
}

#[test]
fn bad_admin_regex_is_an_error_naming_the_rule() {
    let mut config = DlpConfig::default();
    config.patterns.push(PatternRule {
        name: "contracts".into(),
        regex: "HT-(\\d+".into(),
        confidence: Confidence::Low,
    });
    let err = Detectors::new(&config).unwrap_err();
    assert!(
        matches!(&err, DlpError::InvalidPattern { rule, .. } if rule == "contracts"),
        "{err}"
    );
    assert!(err.to_string().contains("contracts"));

    config.patterns[0].regex = "x*".into();
    assert!(
        matches!(Detectors::new(&config), Err(DlpError::EmptyPatternMatch { rule }) if rule == "contracts")
    );
}

// ---------------------------------------------------------------- API properties

#[test]
fn matches_are_sorted_masked_and_hide_values_from_debug() {
    let text = "机密：身份证 320925197308114120，卡号 6222021234567890128，手机 13912345678，\
                邮箱 a.li@example.com，IBAN GB29NWBK60161331926819，SSN 308-63-0237。";
    let d = detectors();
    let found = d.scan(text);
    assert_eq!(found.len(), 7, "{found:?}");
    assert!(found.windows(2).all(|w| w[0].start <= w[1].start));
    for m in &found {
        let value = m.value(text);
        let debug = format!("{m:?}");
        let json = serde_json::to_string(m).unwrap();
        if value.chars().count() > 2 {
            assert!(!debug.contains(value) && !json.contains(value), "{debug}");
        }
        if m.entity == Entity::EmailAddress {
            assert_eq!(m.masked, "a***@example.com");
        } else {
            let shown = m.masked.chars().filter(|&c| c != '*').count();
            assert!(
                shown <= 8 && shown * 2 <= m.masked.chars().count(),
                "{}",
                m.masked
            );
        }
    }
    let summary = Detectors::summarize(&found);
    assert_eq!(summary.total, 7);
    assert_eq!(summary.entities[&Entity::CnResidentId].high, 1);
    assert_eq!(
        summary.entities[&Entity::Keyword("confidential".into())].low,
        1
    );
    assert_eq!(summary.max_confidence(), Some(Confidence::High));
    let json = serde_json::to_value(&summary).unwrap();
    assert_eq!(json["entities"]["CN_MOBILE"]["medium"], 1);
}

#[test]
fn same_entity_never_overlaps() {
    let found = builtin("a@b.cc@example.com 13912345678 13812345678");
    for (k, a) in found.iter().enumerate() {
        for b in &found[k + 1..] {
            assert!(a.entity != b.entity || a.end <= b.start, "{a:?} {b:?}");
        }
    }
    assert_eq!(
        found
            .iter()
            .filter(|m| m.entity == Entity::CnMobile)
            .count(),
        2
    );
}

#[test]
fn entity_and_confidence_names_round_trip() {
    for e in Entity::BUILTIN.iter().cloned().chain([
        Entity::Keyword("机密".into()),
        Entity::Pattern("p-1".into()),
    ]) {
        let s = e.to_string();
        assert_eq!(s.parse::<Entity>().unwrap(), e);
        assert_eq!(
            serde_json::from_str::<Entity>(&serde_json::to_string(&e).unwrap()).unwrap(),
            e
        );
    }
    assert_eq!(Entity::CnResidentId.as_str(), "CN_RESIDENT_ID");
    assert!("NOPE".parse::<Entity>().is_err());
    assert!(Confidence::Low < Confidence::Medium && Confidence::Medium < Confidence::High);
    assert_eq!("High".parse::<Confidence>().unwrap(), Confidence::High);
}

#[test]
fn config_reads_with_defaults() {
    let config: DlpConfig =
        serde_json::from_str(r#"{"patterns":[{"name":"p","regex":"HT-\\d{6}"}]}"#).unwrap();
    assert_eq!(config.context_window, 32);
    assert_eq!(config.dictionaries[0].name, "confidential");
    assert_eq!(config.patterns[0].confidence, Confidence::Low);
    assert!(serde_json::from_str::<DlpConfig>(r#"{"context_windw": 3}"#).is_err());
}

#[test]
fn throughput_is_measured() {
    assert!(rampart_dlp::bench_throughput(64 * 1024) > 0.0);
}

#[test]
fn context_window_is_configurable() {
    let narrow = Detectors::new(&DlpConfig {
        context_window: 0,
        ..DlpConfig::default()
    })
    .unwrap();
    let found = narrow.scan("身份证号码：320925197308114120");
    assert_eq!(found[0].confidence, Confidence::Medium);
}

#[test]
fn detectors_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Detectors>();
}

#[test]
fn synthetic_bench_text_carries_each_kind_of_personal_data() {
    let text = rampart_dlp::synthetic_business_text(256 * 1024, 7);
    let summary = Detectors::summarize(&detectors().scan(&text));
    for entity in [
        Entity::CnResidentId,
        Entity::CnBankCard,
        Entity::CreditCard,
        Entity::CnMobile,
        Entity::EmailAddress,
        Entity::IbanCode,
    ] {
        assert!(
            summary
                .entities
                .get(&entity)
                .is_some_and(|c| c.at_least(Confidence::Medium) > 0),
            "{entity}: {summary:?}"
        );
    }
    // Order numbers, amounts, dates and times are not personal data.
    let numbers_only = summary
        .entities
        .get(&Entity::CreditCard)
        .map_or(0, |c| c.low);
    assert!(numbers_only * 20 < summary.total, "{summary:?}");
}

#[test]
fn ordinary_business_numbers_are_not_personal_data() {
    none(
        "发票代码 144031900111，发票号码 12345678，开票日期 2026-11-27 12:30:45。\
         顺丰单号 SF1234567890123，EMS EA123456789CN，京东订单 2895634567890123456。\
         座机 010-62345678 / 0755-83897951 转 8001，传真 +86-755-2752-8752。\
         设备 IMEI 356938035643809，ISBN 978-7-111-21382-6，版本 v2.13.9012345678。\
         合计 ¥1,234,567.89 元，时间戳 1732700000000，日志 20261127123045，QQ 123456789。\
         SKU 4006381333931 条码 6901234567892 邮编 100081。\
         IP 192.168.100.200，MAC 00-1A-2B-3C-4D-5E，UUID 550e8400-e29b-41d4-a716-446655440000。\
         Order #40128888888818810 shipped; invoice INV-2024-000123; ref 2024112700001234; \
         boundary=\"--4593088693542540\"; Message-ID: <587693758175.BDW22343>.",
    );
}

#[test]
fn lists_of_numbers_are_read_one_by_one() {
    let text = "SSNs: 308-63-0237 412-55-1234 501-22-3456 219-11-2222 123-45-6789";
    let found = builtin(text);
    assert_eq!(found.len(), 5, "{found:?}");
    assert!(found.iter().all(|m| m.entity == Entity::UsSsn));
    assert_eq!(found[0].confidence, Confidence::High);
    assert_eq!(builtin("13912345678 13812345678、15912345678").len(), 3);
}
