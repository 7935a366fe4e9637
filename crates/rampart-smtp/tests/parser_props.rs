//! Properties of the SMTP command parser: it is total (any bytes give a `Command` or a
//! `CommandError`, never a panic), and well-formed commands come back exactly as sent.

use proptest::prelude::*;
use rampart_smtp::command::{parse_command, Command, CommandError, Param};

/// Verbs the parser knows, with the separator a client puts after them.
const VERBS: &[&str] = &[
    "MAIL FROM:",
    "MAIL FROM: ",
    "RCPT TO:",
    "RCPT TO: ",
    "EHLO ",
    "HELO ",
    "BDAT ",
    "DATA",
    "RSET",
    "NOOP ",
    "QUIT",
    "VRFY ",
    "EXPN ",
    "HELP",
    "STARTTLS",
    "AUTH ",
];

/// A known verb in random letter case.
fn any_verb() -> impl Strategy<Value = String> {
    (prop::sample::select(VERBS), any::<u64>()).prop_map(|(verb, case_bits)| {
        verb.chars()
            .enumerate()
            .map(|(i, c)| {
                if case_bits >> (i % 64) & 1 == 1 {
                    c.to_ascii_lowercase()
                } else {
                    c
                }
            })
            .collect()
    })
}

/// Characters that stress the argument parsing: the syntax characters, printable ASCII, control
/// characters and arbitrary Unicode.
fn argument_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select(&['<', '>', '@', '"', '\\', ':', ',', '.', '=', ' ', '[', ']'][..]),
        4 => proptest::char::range(' ', '~'),
        1 => proptest::char::range('\0', '\x1f'),
        1 => Just('\x7f'),
        2 => any::<char>(),
    ]
}

/// A known verb followed by argument soup, optionally with raw (possibly invalid UTF-8) bytes.
fn near_valid_line() -> impl Strategy<Value = Vec<u8>> {
    (
        any_verb(),
        prop::collection::vec(argument_char(), 0..120),
        prop::collection::vec(any::<u8>(), 0..4),
    )
        .prop_map(|(verb, args, tail)| {
            let mut line = verb.into_bytes();
            line.extend(args.into_iter().collect::<String>().into_bytes());
            line.extend(tail);
            line
        })
}

/// A dot-atom local part from `[a-z0-9+_-]` atoms: no leading, trailing or double dots.
fn local_part() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-z0-9+_-]{1,12}", 1..4).prop_map(|atoms| atoms.join("."))
}

fn domain() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-z0-9-]{1,15}", 1..4).prop_map(|labels| labels.join("."))
}

fn address() -> impl Strategy<Value = String> {
    (local_part(), domain()).prop_map(|(local, domain)| format!("{local}@{domain}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn any_byte_sequence_yields_a_command_or_an_error_never_a_panic(
        line in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let _ = parse_command(&line);
    }

    #[test]
    fn known_verbs_followed_by_garbage_never_panic(line in near_valid_line()) {
        let _ = parse_command(&line);
    }

    #[test]
    fn unrecognized_verbs_are_reported_as_at_most_16_printable_ascii_characters(
        line in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        if let Err(CommandError::Unrecognized(verb)) = parse_command(&line) {
            prop_assert!(verb.len() <= 16, "{verb:?}");
            prop_assert!(verb.chars().all(|c| c.is_ascii_graphic()), "{verb:?}");
        }
    }
}

proptest! {
    #[test]
    fn rcpt_to_returns_the_address_exactly_as_sent(addr in address()) {
        prop_assert_eq!(
            parse_command(format!("RCPT TO:<{addr}>").as_bytes()),
            Ok(Command::Rcpt { to: addr, params: vec![] })
        );
    }

    #[test]
    fn rcpt_to_verb_is_case_insensitive(addr in address(), verb in "[rR][cC][pP][tT] [tT][oO]:") {
        prop_assert_eq!(
            parse_command(format!("{verb}<{addr}>").as_bytes()),
            Ok(Command::Rcpt { to: addr, params: vec![] })
        );
    }

    #[test]
    fn mail_from_with_size_returns_the_sender_and_the_declared_size(
        addr in address(),
        size in any::<u64>(),
    ) {
        let parsed = parse_command(format!("MAIL FROM:<{addr}> SIZE={size}").as_bytes());
        let Ok(Command::Mail { from, params }) = parsed else {
            return Err(TestCaseError::fail(format!("not a MAIL command: {parsed:?}")));
        };
        prop_assert_eq!(from, Some(addr));
        prop_assert_eq!(
            params,
            vec![Param { key: "SIZE".into(), value: Some(size.to_string()) }]
        );
    }

    #[test]
    fn bdat_returns_its_chunk_size(size in any::<u64>()) {
        prop_assert_eq!(
            parse_command(format!("BDAT {size}").as_bytes()),
            Ok(Command::Bdat { size, last: false })
        );
    }

    #[test]
    fn bdat_last_returns_its_chunk_size_and_marks_the_last_chunk(
        size in any::<u64>(),
        last in "[lL][aA][sS][tT]",
    ) {
        prop_assert_eq!(
            parse_command(format!("BDAT {size} {last}").as_bytes()),
            Ok(Command::Bdat { size, last: true })
        );
    }
}

/// A chunk size that does not fit in 64 bits is a syntax error, not a wrapped-around number.
#[test]
fn bdat_sizes_beyond_u64_are_a_syntax_error() {
    for size in [
        "18446744073709551616",
        "99999999999999999999",
        "1000000000000000000000000",
    ] {
        assert!(
            matches!(
                parse_command(format!("BDAT {size} LAST").as_bytes()),
                Err(CommandError::Syntax(_))
            ),
            "{size}"
        );
    }
}
