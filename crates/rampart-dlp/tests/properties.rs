//! `scan` is total: any text gives sorted, in-bounds, char-aligned matches without panicking.

use proptest::prelude::*;
use rampart_dlp::{Detectors, DlpConfig};

fn check(detectors: &Detectors, text: &str) -> Result<(), TestCaseError> {
    let matches = detectors.scan(text);
    let mut last_start = 0;
    for m in &matches {
        prop_assert!(m.start < m.end && m.end <= text.len(), "{m:?}");
        prop_assert!(
            text.is_char_boundary(m.start) && text.is_char_boundary(m.end),
            "{m:?}"
        );
        prop_assert!(m.start >= last_start);
        prop_assert!(!m.masked.is_empty());
        last_start = m.start;
    }
    Ok(())
}

/// Characters that exercise the detectors: digits (ASCII and full-width), separators, letters,
/// `@`, `+`, `X`, CJK, multi-byte folding candidates.
fn pii_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::char::range('0', '9'),
        2 => prop::char::range('０', '９'),
        2 => prop::sample::select(vec![' ', '-', '.', '@', '+', 'X', 'x', '(', ')', '\u{3000}', '\u{a0}', '－', '＠', '．', '\u{2013}']),
        1 => prop::char::range('A', 'Z'),
        1 => prop::char::range('a', 'z'),
        1 => prop::sample::select(vec!['身', '份', '证', '卡', '号', '手', '机', '密', '护', '照', '，', '：']),
        1 => any::<char>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn scan_never_panics_on_arbitrary_unicode(text in any::<String>()) {
        let detectors = Detectors::new(&DlpConfig::default()).unwrap();
        check(&detectors, &text)?;
    }

    #[test]
    fn scan_never_panics_on_number_like_text(chars in prop::collection::vec(pii_char(), 0..300)) {
        let detectors = Detectors::new(&DlpConfig::default()).unwrap();
        let text: String = chars.into_iter().collect();
        check(&detectors, &text)?;
    }

    #[test]
    fn full_width_input_finds_what_ascii_input_finds(digits in "[0-9]{18}") {
        let detectors = Detectors::new(&DlpConfig::default()).unwrap();
        let ascii = format!("身份证 {digits}");
        let wide: String = ascii.chars().map(|c| if c.is_ascii_digit() { char::from_u32(c as u32 + 0xFEE0).unwrap() } else { c }).collect();
        let a = detectors.scan(&ascii);
        let w = detectors.scan(&wide);
        prop_assert_eq!(a.len(), w.len());
        for (a, w) in a.iter().zip(&w) {
            prop_assert_eq!(&a.entity, &w.entity);
            prop_assert_eq!(&a.masked, &w.masked);
            prop_assert_eq!(w.value(&wide).chars().count(), a.value(&ascii).chars().count());
        }
    }
}
