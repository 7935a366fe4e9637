//! [`MailSink`]: a plain-text message to the administrator, through the server's transport.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use mail_builder::headers::raw::Raw;
use mail_builder::MessageBuilder;
use ring::digest;

use crate::text::{mail_host, one_line, rfc3339_ms};
use crate::{AlertError, AlertSink, BoxFuture, Delivered};

/// Time the transport gets for one message.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Hands a finished message to whatever delivers mail; the server implements it over its store
/// (local delivery or the outbound queue), tests with a `Vec`.
pub trait MailTransport: Send + Sync {
    /// Delivers `raw` (a complete RFC 5322 message) to `to`.
    fn send<'a>(&'a self, to: &'a str, raw: Vec<u8>) -> BoxFuture<'a, Result<(), AlertError>>;
}

/// Mails each alert ([`render_mail`]) to one administrator address.
pub struct MailSink {
    transport: Arc<dyn MailTransport>,
    hostname: String,
    to: String,
}

impl MailSink {
    /// A sink mailing `to` from `Rampart Security <postmaster@hostname>`.
    pub fn new(
        transport: Arc<dyn MailTransport>,
        hostname: &str,
        to: &str,
    ) -> Result<Self, AlertError> {
        let to: rampart_model::EmailAddress = to
            .parse()
            .map_err(|e| AlertError::config(format!("admin_address {to:?}: {e}")))?;
        Ok(MailSink {
            transport,
            hostname: hostname.to_string(),
            to: to.to_string(),
        })
    }

    async fn deliver(&self, delivered: &Delivered) -> Result<(), AlertError> {
        let raw = render_mail(delivered, &self.hostname, &self.to);
        match tokio::time::timeout(SEND_TIMEOUT, self.transport.send(&self.to, raw)).await {
            Ok(result) => result,
            Err(_) => Err(AlertError::Timeout {
                what: "mail transport".into(),
                after: SEND_TIMEOUT,
            }),
        }
    }
}

impl AlertSink for MailSink {
    fn name(&self) -> &str {
        "mail"
    }

    fn send<'a>(&'a self, delivered: &'a Delivered) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(self.deliver(delivered))
    }
}

/// The alert as a plain-text message: `From: Rampart Security <postmaster@hostname>`, `To: to`,
/// `Subject: [Rampart alert] <summary>`, `Auto-Submitted: auto-generated` (so no autoresponder
/// answers it), the alert's time as `Date`, a Message-ID derived from the alert, and a body
/// listing the fields, each detail, and what was folded in. Pure: same input, same bytes.
pub fn render_mail(delivered: &Delivered, hostname: &str, to: &str) -> Vec<u8> {
    let alert = &delivered.alert;
    let host = mail_host(hostname);
    let summary = one_line(&alert.summary, 200);
    let mut body = String::new();
    // `write!` to a String cannot fail.
    let _ = writeln!(body, "Rampart raised a security alert on {host}.\n");
    let _ = writeln!(body, "Summary:  {summary}");
    let _ = writeln!(body, "Kind:     {}", one_line(&alert.kind, 100));
    let _ = writeln!(body, "Severity: {}", alert.severity);
    if let Some(account) = &alert.account {
        let _ = writeln!(body, "Account:  {}", one_line(account, 200));
    }
    let at = rfc3339_ms(alert.at_ms).unwrap_or_else(|| alert.at_ms.to_string());
    let _ = writeln!(body, "Time:     {at}");
    let _ = writeln!(body, "Key:      {}", one_line(&alert.key, 200));
    match &alert.details {
        serde_json::Value::Object(map) if map.is_empty() => {}
        serde_json::Value::Object(map) => {
            let _ = writeln!(body, "\nDetails:");
            for (name, value) in map {
                let value = match value {
                    serde_json::Value::String(s) => one_line(s, 500),
                    other => one_line(&other.to_string(), 500),
                };
                let _ = writeln!(body, "  {}: {value}", one_line(name, 100));
            }
        }
        serde_json::Value::Null => {}
        other => {
            let _ = writeln!(body, "\nDetails: {}", one_line(&other.to_string(), 2000));
        }
    }
    if delivered.suppressed > 0 || delivered.rate_limited > 0 {
        let _ = writeln!(body);
    }
    if delivered.suppressed > 0 {
        let _ = writeln!(
            body,
            "{} more alert(s) with the same key were folded into this one since the last was sent.",
            delivered.suppressed
        );
    }
    if delivered.rate_limited > 0 {
        let _ = writeln!(
            body,
            "{} other alert(s) were not mailed because of the per-minute limit.",
            delivered.rate_limited
        );
    }
    let _ = write!(body, "\n-- \nRampart on {host}\n");

    let id = digest::digest(
        &digest::SHA256,
        format!("{}\0{}\0{}", alert.key, alert.at_ms, delivered.suppressed).as_bytes(),
    );
    let message_id = format!(
        "alert.{}.{}@{host}",
        alert.at_ms,
        hex::encode(id.as_ref().get(..8).unwrap_or_default())
    );
    let date = (alert.at_ms / 1000).clamp(0, 253_402_300_799);
    MessageBuilder::new()
        .from(("Rampart Security".to_string(), format!("postmaster@{host}")))
        .to(one_line(to, 320))
        .subject(format!("[Rampart alert] {summary}"))
        .date(date)
        .message_id(message_id)
        .header("Auto-Submitted", Raw::new("auto-generated"))
        .header(
            "X-Rampart-Alert",
            Raw::new(crate::text::ascii_token(&alert.kind, 64)),
        )
        .text_body(body)
        .write_to_vec()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Alert, Severity};

    #[test]
    fn header_injection_through_the_summary_is_neutralised() {
        let delivered = Delivered {
            alert: Alert::new("x", Severity::Info, "hi\r\nBcc: victim@example.org", 0),
            suppressed: 0,
            rate_limited: 0,
        };
        let raw = String::from_utf8(render_mail(
            &delivered,
            "mx.example.com",
            "admin@example.com",
        ))
        .unwrap();
        assert!(!raw.contains("\r\nBcc:"), "{raw}");
    }

    #[test]
    fn renders_the_same_bytes_for_the_same_alert() {
        let delivered = Delivered {
            alert: Alert::new("x", Severity::Info, "hi", 1_000),
            suppressed: 1,
            rate_limited: 0,
        };
        assert_eq!(
            render_mail(&delivered, "h", "a@b.c"),
            render_mail(&delivered, "h", "a@b.c")
        );
    }
}
