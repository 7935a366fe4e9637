//! File inspection must be total and bounded: any bytes, named like an archive so the ZIP path is
//! tried first, yield a `FileReport` without panicking.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_files::{inspect, Limits};

fuzz_target!(|data: &[u8]| {
    let _ = inspect(Some("x.zip"), None, data, &Limits::default());
});
