//! Text extraction must be total and bounded: any bytes, under every name that steers the
//! detection a different way, yield an `Extraction` within small limits, without a panic (not
//! even one that `catch_unwind` would hide: it would show as a "parser failed" problem).

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_extract::{extract, Limits};

const NAMES: &[&str] = &["x.zip", "x.pdf", "x.docx", "x.xlsx", "x.csv", "x.html", "x.rtf", "x"];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_depth: 3,
        max_entries: 64,
        max_total_bytes: 4 << 20,
        max_ratio: 100,
        max_text_bytes: 64 << 10,
        max_input_bytes: 1 << 20,
    };
    let name = NAMES[usize::from(selector) % NAMES.len()];
    let out = extract(bytes, Some(name), &limits);
    for text in &out.texts {
        assert!(text.text.len() <= limits.max_text_bytes);
    }
    for problem in &out.problems {
        assert!(!problem.detail.contains("parser failed"), "{problem:?}");
    }
});
