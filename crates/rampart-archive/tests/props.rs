//! Properties over arbitrary input: nothing a user types or a peer sends makes a panic.

use proptest::prelude::*;
use rampart_archive::{doc_from_raw, ArchiveIndex, ArchiveQuery};

/// Strings made of the pieces the query syntax is built from, so that the interesting cases
/// (prefixes, quotes, dates, dashes, CJK) come up often.
fn query_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("from:".to_string()),
        Just("to:".to_string()),
        Just("subject:".to_string()),
        Just("attachment:".to_string()),
        Just("direction:".to_string()),
        Just("after:".to_string()),
        Just("before:".to_string()),
        Just("messageid:".to_string()),
        Just("\"".to_string()),
        Just(" ".to_string()),
        Just("-".to_string()),
        Just("2024-01-02".to_string()),
        Just("2024-01-02T03:04:05+08:00".to_string()),
        Just("inbound".to_string()),
        Just("alice@example.com".to_string()),
        Just("季度报告".to_string()),
        Just("<id@x>".to_string()),
        "[a-z0-9.@:]{1,6}",
        "\\PC{1,4}",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_and_display_round_trips(s in prop_oneof![query_like(), "\\PC{0,40}"]) {
        if let Ok(q) = ArchiveQuery::parse(&s) {
            let shown = q.to_string();
            match ArchiveQuery::parse(&shown) {
                Ok(again) => prop_assert_eq!(again, q, "{:?} shown as {:?}", s, shown),
                Err(e) => prop_assert!(false, "{:?} shown as {:?}: {}", s, shown, e),
            }
        }
    }

    #[test]
    fn doc_from_raw_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let doc = doc_from_raw(1, 0, "inbound", "", &[], &raw);
        prop_assert_eq!(doc.size, raw.len() as u64);
    }

    #[test]
    fn doc_from_raw_never_panics_on_mime_shaped_input(
        parts in proptest::collection::vec(prop_oneof![
            Just("Content-Type: multipart/mixed; boundary=\"b\"\r\n".to_string()),
            Just("Content-Type: message/rfc822\r\n".to_string()),
            Just("Content-Type: text/html; charset=gb2312\r\n".to_string()),
            Just("Content-Transfer-Encoding: base64\r\n".to_string()),
            Just("Content-Disposition: attachment; filename=\"a.pdf\"\r\n".to_string()),
            Just("\r\n".to_string()),
            Just("--b\r\n".to_string()),
            Just("--b--\r\n".to_string()),
            Just("From: =?gb2312?B?1cXI/Q==?= <a@b>\r\n".to_string()),
            Just("JVBERi0xLjQK\r\n".to_string()),
            "[ -~]{0,20}\r\n",
        ], 0..40)
    ) {
        let raw = parts.concat();
        let _ = doc_from_raw(1, 0, "inbound", "", &[], raw.as_bytes());
    }
}

/// Queries from arbitrary strings run against a small index without panicking.
#[test]
fn searching_with_arbitrary_queries_never_panics() {
    let index = ArchiveIndex::open_in_ram().unwrap();
    let raw = b"From: a@b.example\r\nSubject: hello\r\n\r\n\xe5\x90\x88\xe5\x90\x8c body\r\n";
    index
        .add(vec![doc_from_raw(1, 0, "inbound", "", &[], raw)])
        .unwrap();
    index.commit(1).unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(256));
    runner
        .run(&query_like(), |s| {
            if let Ok(q) = ArchiveQuery::parse(&s) {
                let _ = index.search(&q, 5, 0);
                let _ = index.matching_ids(&q);
            }
            Ok(())
        })
        .unwrap();
}
