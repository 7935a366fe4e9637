//! The archive's query parser and document builder must be total: any string yields a query or
//! an error (and a parsed query prints back to itself and runs against an index without
//! panicking); any bytes yield an index document.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rampart_archive::{doc_from_raw, ArchiveIndex, ArchiveQuery};

fn index() -> &'static ArchiveIndex {
    static INDEX: OnceLock<ArchiveIndex> = OnceLock::new();
    INDEX.get_or_init(|| {
        let index = ArchiveIndex::open_in_ram().expect("index in RAM");
        let raw = b"From: Alice <alice@example.com>\r\nSubject: quarterly report\r\n\r\n\xe5\xad\xa3\xe5\xba\xa6 contract\r\n";
        index
            .add(vec![doc_from_raw(1, 1_700_000_000, "inbound", "a@example.com", &["b@example.org".into()], raw)])
            .expect("add");
        index.commit(1).expect("commit");
        index
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = doc_from_raw(7, 0, "inbound", "x@y", &[], data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(q) = ArchiveQuery::parse(text) {
        let again = ArchiveQuery::parse(&q.to_string()).expect("a printed query parses");
        assert_eq!(again, q, "print/parse round trip");
        if !q.is_empty() {
            let _ = index().search(&q, 10, 0);
            let _ = index().matching_ids(&q);
        }
    }
});
