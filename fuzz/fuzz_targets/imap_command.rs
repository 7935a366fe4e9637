//! IMAP command handling must be total: framing, the imap-codec decoder and our extension
//! parsing never panic, whatever the client sends.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    rampart_imap::handle_line_for_fuzz(bytes);
});
