//! Link extraction and judgement must be total and bounded: any bytes, read as lossy UTF-8 the
//! way the pipeline hands decoded parts over, yield links and findings without panicking.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_urls::{judge, links_in_text, scan_html, UrlPolicy};

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let policy = UrlPolicy::default();
    let links = links_in_text(&input);
    let _ = judge(&links, &policy);
    let scan = scan_html(&input);
    let _ = judge(&scan.links, &policy);
});
