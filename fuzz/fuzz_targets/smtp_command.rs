//! The SMTP command parser must be total: any bytes yield a `Command` or a `CommandError`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    let _ = rampart_smtp::command::parse_command(line);
});
