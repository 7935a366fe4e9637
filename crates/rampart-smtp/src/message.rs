//! What the SMTP layer adds to and reads from a message: the `Received` trace header and the
//! summary fields shown in listings.

use std::net::IpAddr;

use mail_parser::MessageParser;
use rampart_model::EmailAddress;
use rampart_store::MessageSummary;
use time::format_description::well_known::Rfc2822;
use time::OffsetDateTime;

/// The negotiated TLS parameters, for the `Received` header.
#[derive(Debug, Clone)]
pub struct TlsInfo {
    pub version: String,
    pub cipher: String,
}

/// Builds the RFC 5321 §4.4 trace header, with RFC 3848 `with` keywords.
#[allow(clippy::too_many_arguments)]
pub fn received_header(
    helo: &str,
    peer: IpAddr,
    hostname: &str,
    esmtp: bool,
    smtputf8: bool,
    tls: Option<&TlsInfo>,
    queue_id: &str,
    single_rcpt: Option<&EmailAddress>,
    now: OffsetDateTime,
) -> String {
    let protocol = match (smtputf8, esmtp, tls.is_some()) {
        (true, _, true) => "UTF8SMTPS",
        (true, _, false) => "UTF8SMTP",
        (false, true, true) => "ESMTPS",
        (false, true, false) => "ESMTP",
        (false, false, _) => "SMTP",
    };
    // The EHLO name was validated by the parser (domain or address literal): safe in a header.
    let mut h = format!("Received: from {helo} ([{peer}])\r\n\tby {hostname} (Rampart)");
    if let Some(tls) = tls {
        h.push_str(&format!(
            " (using {} with cipher {})",
            tls.version, tls.cipher
        ));
    }
    h.push_str(&format!("\r\n\twith {protocol} id {queue_id}"));
    if let Some(rcpt) = single_rcpt {
        h.push_str(&format!("\r\n\tfor <{rcpt}>"));
    }
    let date = now
        .format(&Rfc2822)
        .unwrap_or_else(|_| "Thu, 01 Jan 1970 00:00:00 +0000".into());
    h.push_str(&format!("; {date}\r\n"));
    h
}

/// Reads From, To, Subject and Date from the header block ([`MessageSummary::of`]).
pub fn summarize(raw: &[u8]) -> MessageSummary {
    MessageSummary::of(raw)
}

/// Every address in the From and Sender header fields, lower-cased; `None` when the header block
/// has no From (RFC 5322 requires one).
pub fn author_addresses(raw: &[u8]) -> Option<Vec<String>> {
    let msg = MessageParser::new().parse_headers(raw)?;
    let mut out: Vec<String> = Vec::new();
    for list in [msg.from(), msg.sender()].into_iter().flatten() {
        for a in list.iter() {
            match a.address() {
                Some(addr) => out.push(addr.trim().to_lowercase()),
                // A From with a display name and no address cannot be checked: refuse it.
                None => out.push(String::new()),
            }
        }
    }
    msg.from().is_some().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarizes_encoded_headers() {
        let raw = b"From: =?UTF-8?B?5byg5LiJ?= <zhang@example.cn>\r\nTo: a@x.org, b@y.org\r\n\
Subject: =?GB2312?B?xOO6ww==?=\r\nDate: Fri, 27 Nov 2026 10:00:00 +0800\r\n\r\nbody\r\n";
        let s = summarize(raw);
        assert_eq!(s.from, "张三 <zhang@example.cn>");
        assert_eq!(s.to, "a@x.org, b@y.org");
        assert_eq!(s.subject, "你好");
        assert!(s.date.contains("27 Nov 2026"), "{}", s.date);
    }

    #[test]
    fn author_addresses_lists_from_and_sender() {
        let raw = b"From: Alice <Alice@Example.com>, bob@example.com\r\nSender: c@example.com\r\n\r\nx\r\n";
        assert_eq!(
            author_addresses(raw).unwrap(),
            vec!["alice@example.com", "bob@example.com", "c@example.com"]
        );
        assert!(author_addresses(b"Subject: no from\r\n\r\nx\r\n").is_none());
    }

    #[test]
    fn garbage_headers_give_empty_summary() {
        let s = summarize(b"\x00\xff\xfe not a header\r\n");
        assert_eq!(s.subject, "");
    }

    #[test]
    fn received_header_names_protocol_and_recipient() {
        let rcpt: EmailAddress = "a@example.com".parse().unwrap();
        let tls = TlsInfo {
            version: "TLSv1_3".into(),
            cipher: "TLS13_AES_128_GCM_SHA256".into(),
        };
        let h = received_header(
            "client.example",
            "192.0.2.1".parse().unwrap(),
            "mx.example.com",
            true,
            false,
            Some(&tls),
            "abc",
            Some(&rcpt),
            OffsetDateTime::UNIX_EPOCH,
        );
        assert!(h.starts_with("Received: from client.example ([192.0.2.1])\r\n\tby mx.example.com"));
        assert!(h.contains("with ESMTPS id abc"));
        assert!(h.contains("for <a@example.com>; Thu, 01 Jan 1970 00:00:00 +0000\r\n"));
    }
}
