//! Properties of the MTA-STS policy parser: total, faithful to what it parses, and strict about
//! what a wildcard covers.

use proptest::prelude::*;
use rampart_outbound::mtasts::{mx_pattern_matches, parse_policy, Mode, Policy, MAX_AGE_LIMIT};

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?"
}

fn domain() -> impl Strategy<Value = String> {
    proptest::collection::vec(label(), 1..4).prop_map(|labels| labels.join("."))
}

fn pattern() -> impl Strategy<Value = String> {
    (any::<bool>(), domain()).prop_map(|(wild, d)| if wild { format!("*.{d}") } else { d })
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        prop_oneof![Just(Mode::Enforce), Just(Mode::Testing), Just(Mode::None)],
        proptest::collection::vec(pattern(), 1..6),
        0..=MAX_AGE_LIMIT,
    )
        .prop_map(|(mode, mx, max_age)| Policy { mode, mx, max_age })
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_text(text in "\\PC{0,400}") {
        let _ = parse_policy(&text);
    }

    #[test]
    fn never_panics_on_policy_like_lines(
        lines in proptest::collection::vec(
            prop_oneof![
                Just("version: STSv1".to_string()),
                "(mode|mx|max_age|version) ?: ?[ -~]{0,20}",
                "[ -~]{0,30}",
            ],
            0..12,
        ),
        crlf in any::<bool>(),
    ) {
        let _ = parse_policy(&lines.join(if crlf { "\r\n" } else { "\n" }));
    }

    #[test]
    fn reads_back_what_it_renders(policy in policy(), crlf in any::<bool>()) {
        let text = policy.to_text();
        let text = if crlf { text } else { text.replace("\r\n", "\n") };
        prop_assert_eq!(parse_policy(&text), Ok(policy));
    }

    #[test]
    fn ignores_unknown_fields_and_field_order(policy in policy(), seed in any::<u64>()) {
        let text = policy.to_text();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.push("x-extension: whatever");
        // Rotate deterministically; mx lines keep their relative order.
        let turn = (seed as usize) % lines.len();
        lines.rotate_left(turn);
        let parsed = parse_policy(&lines.join("\n")).expect("valid");
        prop_assert_eq!(parsed.mode, policy.mode);
        prop_assert_eq!(parsed.max_age, policy.max_age);
        let mut got = parsed.mx.clone();
        let mut want = policy.mx.clone();
        got.sort();
        want.sort();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn a_wildcard_covers_exactly_one_label(first in label(), second in label(), base in domain()) {
        let pattern = format!("*.{base}");
        let one = format!("{first}.{base}");
        let two = format!("{second}.{first}.{base}");
        prop_assert!(mx_pattern_matches(&pattern, &one));
        prop_assert!(mx_pattern_matches(&pattern, &one.to_uppercase()));
        prop_assert!(!mx_pattern_matches(&pattern, &two));
        prop_assert!(!mx_pattern_matches(&pattern, &base));
        prop_assert!(mx_pattern_matches(&one, &one));
        prop_assert!(!mx_pattern_matches(&one, &two));
    }
}
