//! [`SyslogSink`]: RFC 5424 messages over a Unix datagram socket or UDP.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use tokio::net::{UdpSocket, UnixDatagram};

use crate::text::{ascii_token, one_line, rfc3339_ms, truncate_bytes};
use crate::{AlertError, AlertSink, BoxFuture, Delivered, Severity};

/// The largest datagram sent, in bytes: under the 2048 that RFC 5424 receivers should accept.
pub const MAX_SYSLOG_MESSAGE: usize = 2000;

/// The `auth` facility (4): security and authorization messages.
const FACILITY_AUTH: u8 = 4;

/// Time for one send, name resolution included.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Where syslog messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyslogTarget {
    /// A local datagram socket such as `/dev/log`.
    Unix(PathBuf),
    /// `HOST:PORT` (a name or an IP address; IPv6 in brackets).
    Udp(String),
}

impl FromStr for SyslogTarget {
    type Err = AlertError;

    /// `/dev/log` or `unix:/dev/log`; `udp:HOST:PORT`.
    fn from_str(s: &str) -> Result<Self, AlertError> {
        if let Some(addr) = s.strip_prefix("udp:") {
            let port = addr
                .rsplit_once(':')
                .map(|(host, port)| (host, port.parse::<u16>()));
            return match port {
                Some((host, Ok(port))) if !host.is_empty() && port != 0 => {
                    Ok(SyslogTarget::Udp(addr.to_string()))
                }
                _ => Err(AlertError::config(format!(
                    "syslog {s:?}: expected udp:HOST:PORT"
                ))),
            };
        }
        let path = s.strip_prefix("unix:").unwrap_or(s);
        if path.starts_with('/') {
            return Ok(SyslogTarget::Unix(PathBuf::from(path)));
        }
        Err(AlertError::config(format!(
            "syslog {s:?}: expected an absolute Unix socket path (/dev/log) or udp:HOST:PORT"
        )))
    }
}

impl std::fmt::Display for SyslogTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyslogTarget::Unix(path) => write!(f, "{}", path.display()),
            SyslogTarget::Udp(addr) => write!(f, "udp:{addr}"),
        }
    }
}

/// Sends each alert as one RFC 5424 datagram ([`render_syslog`]) with facility `auth`; each send
/// gives up after 5 seconds (a full `/dev/log` would otherwise block).
#[derive(Debug, Clone)]
pub struct SyslogSink {
    target: SyslogTarget,
    hostname: String,
}

impl SyslogSink {
    /// A sink for `target` (`/dev/log`, `unix:/path` or `udp:HOST:PORT`), naming `hostname` as the
    /// message's HOSTNAME.
    pub fn new(target: &str, hostname: &str) -> Result<Self, AlertError> {
        Ok(SyslogSink {
            target: target.parse()?,
            hostname: hostname.to_string(),
        })
    }

    pub fn target(&self) -> &SyslogTarget {
        &self.target
    }

    async fn deliver(&self, delivered: &Delivered) -> Result<(), AlertError> {
        let message = render_syslog(delivered, &self.hostname, std::process::id());
        send_datagram(&self.target, &message).await
    }
}

/// Sends one syslog datagram to `target`, giving up after 5 seconds. Shared with the audit
/// trail's SIEM forwarder.
pub async fn send_datagram(target: &SyslogTarget, message: &[u8]) -> Result<(), AlertError> {
    let what = format!("syslog send to {target}");
    let send = async {
        match target {
            SyslogTarget::Unix(path) => {
                let socket = UnixDatagram::unbound()?;
                socket.send_to(message, path).await.map(drop)
            }
            SyslogTarget::Udp(addr) => {
                let peer = tokio::net::lookup_host(addr.as_str())
                    .await?
                    .next()
                    .ok_or_else(|| std::io::Error::other("name resolved to no address"))?;
                let local: SocketAddr = if peer.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                let socket = UdpSocket::bind(local).await?;
                socket.send_to(message, peer).await.map(drop)
            }
        }
    };
    match tokio::time::timeout(SEND_TIMEOUT, send).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(AlertError::io(what, e)),
        Err(_) => Err(AlertError::Timeout {
            what,
            after: SEND_TIMEOUT,
        }),
    }
}

impl AlertSink for SyslogSink {
    fn name(&self) -> &str {
        "syslog"
    }

    fn send<'a>(&'a self, delivered: &'a Delivered) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(self.deliver(delivered))
    }
}

/// The RFC 5424 message for an alert, at most [`MAX_SYSLOG_MESSAGE`] bytes:
/// `<PRI>1 TIMESTAMP HOSTNAME rampart PROCID KIND - {json}`, where PRI is facility `auth` (4)
/// times 8 plus the severity (critical 2, warning 4, info 6), and the JSON is
/// [`Delivered::payload_json`]. Too long, the details are replaced by `{"truncated": true}`, then
/// the text fields are shortened.
pub fn render_syslog(delivered: &Delivered, hostname: &str, procid: u32) -> Vec<u8> {
    let alert = &delivered.alert;
    let severity = match alert.severity {
        Severity::Critical => 2,
        Severity::Warning => 4,
        Severity::Info => 6,
    };
    let header = format!(
        "<{}>1 {} {} rampart {procid} {} - ",
        FACILITY_AUTH * 8 + severity,
        rfc3339_ms(alert.at_ms).unwrap_or_else(|| "-".into()),
        ascii_token(hostname, 255),
        ascii_token(&alert.kind, 32),
    );
    let room = MAX_SYSLOG_MESSAGE.saturating_sub(header.len());
    let mut body = delivered.payload_json(hostname);
    if body.len() > room {
        let mut short = delivered.clone();
        short.alert.details = serde_json::json!({ "truncated": true });
        body = short.payload_json(hostname);
        if body.len() > room {
            short.alert.kind = one_line(&short.alert.kind, 64);
            short.alert.summary = one_line(&short.alert.summary, 200);
            short.alert.key = one_line(&short.alert.key, 200);
            short.alert.account = short.alert.account.map(|a| one_line(&a, 200));
            body = short.payload_json(&one_line(hostname, 200));
        }
    }
    let body = String::from_utf8_lossy(&body);
    let mut message = header.into_bytes();
    message.extend_from_slice(truncate_bytes(&body, room).as_bytes());
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Alert;

    fn delivered(severity: Severity) -> Delivered {
        Delivered {
            alert: Alert::new(
                "dlp_alert",
                severity,
                "resident ID in outbound mail",
                1_700_000_000_123,
            )
            .account("ana@example.com"),
            suppressed: 3,
            rate_limited: 0,
        }
    }

    #[test]
    fn parses_targets() {
        assert_eq!(
            "/dev/log".parse::<SyslogTarget>().unwrap(),
            SyslogTarget::Unix("/dev/log".into())
        );
        assert_eq!(
            "unix:/run/log".parse::<SyslogTarget>().unwrap(),
            SyslogTarget::Unix("/run/log".into())
        );
        assert_eq!(
            "udp:[::1]:514".parse::<SyslogTarget>().unwrap(),
            SyslogTarget::Udp("[::1]:514".into())
        );
        for bad in [
            "udp:host",
            "udp::514",
            "udp:host:0",
            "tcp:host:514",
            "dev/log",
            "",
        ] {
            assert!(bad.parse::<SyslogTarget>().is_err(), "{bad}");
        }
    }

    #[test]
    fn renders_rfc5424_header_with_auth_facility() {
        let text = String::from_utf8(render_syslog(
            &delivered(Severity::Critical),
            "mx.example.com",
            42,
        ))
        .unwrap();
        assert!(
            text.starts_with(
                "<34>1 2023-11-14T22:13:20.123Z mx.example.com rampart 42 dlp_alert - {"
            ),
            "{text}"
        );
        let json: serde_json::Value =
            serde_json::from_str(text.split_once(" - ").unwrap().1).unwrap();
        assert_eq!(json["suppressed"], 3);
        assert_eq!(json["alert"]["account"], "ana@example.com");
        assert!(render_syslog(&delivered(Severity::Warning), "h", 1).starts_with(b"<36>1 "));
        assert!(render_syslog(&delivered(Severity::Info), "h", 1).starts_with(b"<38>1 "));
    }

    #[test]
    fn bounds_huge_alerts_and_keeps_them_valid_json_when_possible() {
        let mut big = delivered(Severity::Info);
        big.alert.details = serde_json::json!({ "blob": "x".repeat(10_000) });
        let text = String::from_utf8(render_syslog(&big, "h", 1)).unwrap();
        assert!(text.len() <= MAX_SYSLOG_MESSAGE);
        let json: serde_json::Value =
            serde_json::from_str(text.split_once(" - ").unwrap().1).unwrap();
        assert_eq!(json["alert"]["details"]["truncated"], true);

        big.alert.summary = "é\n".repeat(10_000);
        big.alert.key = "k".repeat(10_000);
        big.alert.kind = "kind ".repeat(1000);
        let bytes = render_syslog(&big, &"host".repeat(1000), u32::MAX);
        assert!(bytes.len() <= MAX_SYSLOG_MESSAGE);
        assert!(std::str::from_utf8(&bytes).is_ok());
    }
}
