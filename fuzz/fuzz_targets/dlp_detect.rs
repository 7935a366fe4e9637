//! DLP detection must be total: any bytes, read as lossy UTF-8 the way the pipeline hands decoded
//! text over, yield matches whose offsets are char boundaries inside the text, never a panic.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rampart_dlp::{Detectors, DlpConfig};

fn detectors() -> &'static Detectors {
    static DETECTORS: OnceLock<Detectors> = OnceLock::new();
    DETECTORS
        .get_or_init(|| Detectors::new(&DlpConfig::default()).expect("default DLP configuration"))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let matches = detectors().scan(&text);
    for m in &matches {
        assert!(m.start < m.end && m.end <= text.len());
        assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end));
        assert!(!m.value(&text).is_empty());
    }
    let summary = Detectors::summarize(&matches);
    assert_eq!(summary.total, matches.len());
});
