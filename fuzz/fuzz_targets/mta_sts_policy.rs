//! The MTA-STS policy parser must be total: any text yields a `Policy` or a `PolicyError`, and
//! a parsed policy's MX patterns can be matched against any host without panicking.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(policy) = rampart_outbound::mtasts::parse_policy(text) {
        let _ = policy.matches("mx.example.net");
        let _ = policy.matches(text);
        let _ = rampart_outbound::mtasts::parse_policy(&policy.to_text());
    }
    let _ = rampart_outbound::mtasts::parse_txt(&[text.to_string()]);
});
