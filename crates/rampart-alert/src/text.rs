//! Small renderers shared by the sinks: one-line text, bounded ASCII tokens, RFC 3339 times.

use time::OffsetDateTime;

/// `s` on one line: control characters (CR, LF, tab, ...) become spaces, surrounding space is
/// trimmed, and at most `max_chars` characters remain (the last one `…` when cut).
pub(crate) fn one_line(s: &str, max_chars: usize) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.chars().count() <= max_chars {
        return trimmed.to_string();
    }
    let mut out: String = trimmed.chars().take(max_chars.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `s` reduced to printable US-ASCII without spaces (RFC 5424 `PRINTUSASCII`), at most `max`
/// bytes; other characters become `_`. Empty input gives `-` (the syslog NILVALUE).
pub(crate) fn ascii_token(s: &str, max: usize) -> String {
    let out: String = s
        .chars()
        .take(max)
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .collect();
    if out.is_empty() {
        "-".to_string()
    } else {
        out
    }
}

/// A host name usable after `@` in an address or a Message-ID: letters, digits, `.` and `-`.
pub(crate) fn mail_host(hostname: &str) -> String {
    let host: String = hostname
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .take(253)
        .collect();
    let host = host.trim_matches('.');
    if host.is_empty() {
        "localhost".to_string()
    } else {
        host.to_string()
    }
}

/// `at_ms` as `2026-03-01T12:00:00.123Z`, or `None` outside years 0000..=9999.
pub(crate) fn rfc3339_ms(at_ms: i64) -> Option<String> {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000).ok()?;
    if !(0..=9999).contains(&t.year()) {
        return None;
    }
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    ))
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub(crate) fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_removes_line_breaks_and_cuts_long_text() {
        assert_eq!(one_line(" a\r\nBcc: x\tb ", 100), "a  Bcc: x b");
        assert_eq!(one_line("abcdef", 4), "abc…");
        assert_eq!(one_line("", 0), "");
    }

    #[test]
    fn ascii_token_keeps_printable_ascii_only() {
        assert_eq!(ascii_token("dlp alert\u{e9}", 32), "dlp_alert_");
        assert_eq!(ascii_token("", 32), "-");
        assert_eq!(ascii_token("abcdef", 3), "abc");
    }

    #[test]
    fn mail_host_falls_back_to_localhost() {
        assert_eq!(mail_host("mx.example.com"), "mx.example.com");
        assert_eq!(mail_host("a b>\r\n"), "ab");
        assert_eq!(mail_host("<>"), "localhost");
    }

    #[test]
    fn rfc3339_with_milliseconds_and_bounds() {
        assert_eq!(
            rfc3339_ms(1_700_000_000_123).as_deref(),
            Some("2023-11-14T22:13:20.123Z")
        );
        assert_eq!(rfc3339_ms(0).as_deref(), Some("1970-01-01T00:00:00.000Z"));
        assert_eq!(rfc3339_ms(i64::MAX), None);
        assert_eq!(rfc3339_ms(i64::MIN), None);
    }

    #[test]
    fn truncate_bytes_respects_char_boundaries() {
        assert_eq!(truncate_bytes("héllo", 2), "h");
        assert_eq!(truncate_bytes("héllo", 3), "hé");
        assert_eq!(truncate_bytes("abc", 10), "abc");
    }
}
