//! What the pipeline writes into a message, and what it refuses to take from outside.

use mail_parser::{HeaderName, MessageParser};

use crate::ScanReport;

/// Removes every `X-Rampart-*` header field, and every `Authentication-Results` field whose
/// authserv-id is `hostname`, from the top-level header block. Everything else is kept byte-exact.
pub fn strip_untrusted_headers(raw: &[u8], hostname: &str) -> Vec<u8> {
    let Some(msg) = MessageParser::new().parse_headers(raw) else {
        return raw.to_vec();
    };
    let mut cut: Vec<(usize, usize)> = Vec::new();
    for h in msg.headers() {
        let name = h.name.as_str();
        let ours = if name.len() > 10 && name[..10].eq_ignore_ascii_case("x-rampart-") {
            true
        } else if name.eq_ignore_ascii_case("authentication-results") {
            let start = h.offset_start as usize;
            let end = (h.offset_end as usize).min(raw.len());
            let value = String::from_utf8_lossy(raw.get(start..end).unwrap_or_default());
            let authserv = value
                .trim_start()
                .split([';', ' ', '\t', '\r', '\n'])
                .next();
            authserv.is_some_and(|id| id.eq_ignore_ascii_case(hostname))
        } else {
            false
        };
        if ours {
            let start = h.offset_field as usize;
            let end = (h.offset_end as usize).min(raw.len());
            if start < end {
                cut.push((start, end));
            }
        }
    }
    if cut.is_empty() {
        return raw.to_vec();
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut at = 0;
    for (start, end) in cut {
        if start >= at {
            out.extend_from_slice(&raw[at..start]);
            at = end;
        }
    }
    out.extend_from_slice(&raw[at..]);
    out
}

/// Header fields recording the verdict, ready to prepend (each ends with CRLF).
pub(crate) fn verdict_headers(report: &ScanReport, hostname: &str) -> String {
    let mut h = String::new();
    if let Some(ar) = &report.authentication_results {
        // Sender authentication hands over a value it has folded itself.
        let value = if ar.contains("\r\n") {
            ar.clone()
        } else {
            fold(ar)
        };
        h.push_str(&format!("Authentication-Results: {value}\r\n"));
    } else {
        h.push_str(&format!("Authentication-Results: {hostname}; none\r\n"));
    }
    h.push_str(&format!(
        "X-Rampart-Verdict: {}; score={:.1}\r\n",
        report.action, report.score
    ));
    if !report.findings.is_empty() {
        let list: Vec<String> = report
            .findings
            .iter()
            .map(|f| format!("{}({:.1})", f.name, f.score))
            .collect();
        h.push_str(&format!(
            "X-Rampart-Findings: {}\r\n",
            fold(&list.join(", "))
        ));
    }
    h
}

/// Folds a long header value at spaces so lines stay under 78 characters where possible.
fn fold(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 16);
    let mut line = 0;
    for (i, word) in value.split(' ').enumerate() {
        if i > 0 {
            if line + word.len() + 1 > 72 {
                out.push_str("\r\n\t");
                line = 1;
            } else {
                out.push(' ');
                line += 1;
            }
        }
        let clean: String = word.chars().filter(|c| !c.is_control()).collect();
        line += clean.len();
        out.push_str(&clean);
    }
    out
}

/// The message as it is stored: our verdict headers, then the original with forged verdict
/// headers removed and, when `subject_prefix` is set and the action calls for it, the prefix
/// added to the Subject.
pub fn apply_verdict(
    report: &ScanReport,
    raw: &[u8],
    hostname: &str,
    subject_prefix: &str,
) -> Vec<u8> {
    let headers = verdict_headers(report, hostname);
    let mut body = strip_untrusted_headers(raw, hostname);
    let prefixed = matches!(
        report.action,
        rampart_model::Action::Tag | rampart_model::Action::Junk
    );
    if prefixed && !subject_prefix.is_empty() {
        body = prefix_subject(&body, subject_prefix);
    }
    let mut out = Vec::with_capacity(headers.len() + body.len());
    out.extend_from_slice(headers.as_bytes());
    out.extend_from_slice(&body);
    out
}

fn prefix_subject(raw: &[u8], prefix: &str) -> Vec<u8> {
    let Some(msg) = MessageParser::new().parse_headers(raw) else {
        return raw.to_vec();
    };
    let Some(h) = msg.headers().iter().find(|h| h.name == HeaderName::Subject) else {
        let mut out = format!("Subject: {}\r\n", prefix.trim_end()).into_bytes();
        out.extend_from_slice(raw);
        return out;
    };
    let start = (h.offset_start as usize).min(raw.len());
    let value = String::from_utf8_lossy(&raw[start..(h.offset_end as usize).min(raw.len())]);
    if value.trim_start().starts_with(prefix.trim()) {
        return raw.to_vec();
    }
    // Insert after the whitespace that follows the colon.
    let skip = raw[start..]
        .iter()
        .take_while(|b| **b == b' ' || **b == b'\t')
        .count();
    let mut out = Vec::with_capacity(raw.len() + prefix.len());
    out.extend_from_slice(&raw[..start + skip]);
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(&raw[start + skip..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::{Action, Direction, Finding};

    #[test]
    fn strips_forged_verdicts_and_our_authentication_results_only() {
        let raw = b"Received: from x\r\nX-Rampart-Verdict: accept; score=-100\r\nx-rampart-findings: none\r\n\
Authentication-Results: mx.example.com; dkim=pass\r\nAuthentication-Results: other.example; spf=pass\r\n\
Subject: hi\r\n\r\nX-Rampart-Verdict: in the body stays\r\n";
        let out = strip_untrusted_headers(raw, "mx.example.com");
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "Received: from x\r\nAuthentication-Results: other.example; spf=pass\r\nSubject: hi\r\n\r\nX-Rampart-Verdict: in the body stays\r\n"
        );
    }

    #[test]
    fn writes_verdict_headers_and_the_subject_prefix() {
        let report = ScanReport {
            direction: Direction::Inbound,
            action: Action::Junk,
            score: 7.5,
            findings: vec![Finding::new("url.lookalike", 7.5)],
            authentication_results: Some("mx.example.com; spf=fail smtp.mailfrom=a@b.test".into()),
            dlp: None,
            elapsed_ms: 0.1,
        };
        let out = apply_verdict(
            &report,
            b"Subject: cheap pills\r\n\r\nbody\r\n",
            "mx.example.com",
            "[SPAM] ",
        );
        let text = std::str::from_utf8(&out).unwrap();
        assert!(
            text.starts_with(
                "Authentication-Results: mx.example.com; spf=fail smtp.mailfrom=a@b.test\r\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("X-Rampart-Verdict: junk; score=7.5\r\n"),
            "{text}"
        );
        assert!(
            text.contains("X-Rampart-Findings: url.lookalike(7.5)\r\n"),
            "{text}"
        );
        assert!(text.contains("Subject: [SPAM] cheap pills\r\n"), "{text}");
    }
}
