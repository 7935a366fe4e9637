//! Security alerts for Rampart: one [`Alert`] in, delivered to every configured sink, without ever
//! making the caller wait.
//!
//! The SMTP server, the login service and the CLI call [`Alerter::raise`], which is synchronous
//! and never blocks: it decides, under one short lock, whether the alert is a duplicate (same
//! [`Alert::key`] within the dedup window and no more severe than the one sent: counted, and
//! folded into the next alert of that key sent), whether each sink's per-minute budget allows it (if not: counted, and
//! carried by that sink's next alert), and puts it on each sink's bounded queue (a full queue
//! drops the alert and counts it). One worker task per sink sends; a slow or failing sink never
//! delays the others. Sinks: [`WebhookSink`] (JSON POST signed with HMAC-SHA256),
//! [`JsonLinesSink`] (one line per alert, file mode 0600), [`SyslogSink`] (RFC 5424 over a Unix
//! datagram socket or UDP) and [`MailSink`] (a plain-text message to the administrator, handed to
//! a [`MailTransport`] the server implements over its store). Anything else implements
//! [`AlertSink`].
//!
//! **Invariant:** this crate knows nothing of SMTP sessions, logins or storage: alerts come in as
//! values, mail leaves through [`MailTransport`]. Recording the alert as an `Event` is the
//! caller's job.
//! **Invariant:** secrets never reach a log line or an error: the webhook secret is only a key,
//! and the webhook URL (which often carries a token in its path) is shown as scheme and host.
//! **Invariant:** time comes from an injected [`Clock`](rampart_model::Clock); tests use
//! `ManualClock`.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use rampart_alert::{Alert, Alerter, AlertSink, JsonLinesSink, Raised, Severity};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), rampart_alert::AlertError> {
//! # let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("alerts.jsonl");
//! let sinks: Vec<Arc<dyn AlertSink>> = vec![Arc::new(JsonLinesSink::new(&path, "mx.example.com")?)];
//! let alerter = Alerter::new(sinks, Duration::from_secs(3600), 20);
//!
//! let spike = Alert::new("sending_spike", Severity::Warning, "ana sent 240 messages in an hour", 0)
//!     .account("ana@example.com")
//!     .details(serde_json::json!({ "messages": 240, "baseline": 12 }));
//! assert_eq!(spike.key, "sending_spike:ana@example.com");
//! assert_eq!(alerter.raise(spike.clone()), Raised::Queued);
//! assert_eq!(alerter.raise(spike), Raised::Duplicate); // same key within the hour
//!
//! assert!(alerter.flush(Duration::from_secs(5)).await);
//! assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
//! assert_eq!(alerter.stats().deduplicated, 1);
//! # Ok(())
//! # }
//! ```

mod alerter;
mod error;
mod jsonl;
mod mail;
mod syslog;
mod text;
mod webhook;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

pub use alerter::{
    sinks_from_config, AlertStats, Alerter, Raised, SinkStats, MAX_DEDUP_KEYS, QUEUE_CAPACITY,
};
pub use error::AlertError;
pub use jsonl::JsonLinesSink;
pub use mail::{render_mail, MailSink, MailTransport};
pub use syslog::{render_syslog, send_datagram, SyslogSink, SyslogTarget, MAX_SYSLOG_MESSAGE};
pub use webhook::{WebhookOptions, WebhookSink};

/// A boxed, sendable future: what [`AlertSink::send`] and [`MailTransport::send`] return, so both
/// traits stay object-safe without an `async-trait` dependency.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How urgent an alert is. Ordered: `Info < Warning < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    /// The lower-case name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One security alert: what happened, to whom, and the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// What kind of alert: `sending_spike`, `dlp_alert`, `account_contained`, ...
    pub kind: String,
    pub severity: Severity,
    /// The account concerned, when there is one.
    #[serde(default)]
    pub account: Option<String>,
    /// One human line; control characters are replaced wherever it is rendered.
    pub summary: String,
    /// An object with the numbers (counts, baselines, rule names); never secrets or unmasked values.
    #[serde(default)]
    pub details: serde_json::Value,
    /// When it happened, milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// Alerts with the same key within the dedup window are sent once (unless more severe than
    /// the one sent); e.g. `sending_spike:ana@example.com`.
    pub key: String,
}

impl Alert {
    /// An alert with no account and empty details, keyed by its kind alone.
    pub fn new(
        kind: impl Into<String>,
        severity: Severity,
        summary: impl Into<String>,
        at_ms: i64,
    ) -> Self {
        let kind = kind.into();
        Alert {
            key: kind.clone(),
            kind,
            severity,
            account: None,
            summary: summary.into(),
            details: serde_json::Value::Object(Default::default()),
            at_ms,
        }
    }

    /// Sets the account and re-keys the alert as `kind:account`, so each account's alerts are
    /// deduplicated separately. Call [`Alert::key`] afterwards for another key.
    pub fn account(mut self, account: impl Into<String>) -> Self {
        let account = account.into();
        self.key = format!("{}:{account}", self.kind);
        self.account = Some(account);
        self
    }

    /// Sets the details (an object with the numbers).
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }

    /// Sets the dedup key.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }
}

/// An alert as one sink receives it, with what was held back since that sink's last alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    pub alert: Alert,
    /// Alerts with the same key folded into this one (duplicates within the dedup window).
    pub suppressed: u64,
    /// Alerts of any key this sink skipped for its per-minute budget since its last alert.
    pub rate_limited: u64,
}

impl Delivered {
    /// The JSON document every structured sink sends:
    /// `{"alert": {...}, "suppressed": n, "rate_limited": m, "source": "<hostname>"}`.
    pub fn payload_json(&self, source: &str) -> Vec<u8> {
        #[derive(Serialize)]
        struct Payload<'a> {
            alert: &'a Alert,
            suppressed: u64,
            rate_limited: u64,
            source: &'a str,
        }
        serde_json::to_vec(&Payload {
            alert: &self.alert,
            suppressed: self.suppressed,
            rate_limited: self.rate_limited,
            source,
        })
        // Serializing a `Value` cannot fail (its map keys are strings); keep a valid document anyway.
        .unwrap_or_else(|_| b"{}".to_vec())
    }
}

/// Somewhere alerts go. Implementations bound their own time (every built-in sink has timeouts;
/// the worker also gives up on a send after two minutes) and report failure as an error, which
/// is logged and counted; they are never retried by the [`Alerter`].
pub trait AlertSink: Send + Sync {
    /// A short name for logs and [`AlertStats`]: `webhook`, `jsonl`, `syslog`, `mail`.
    fn name(&self) -> &str;

    /// Delivers one alert.
    fn send<'a>(&'a self, delivered: &'a Delivered) -> BoxFuture<'a, Result<(), AlertError>>;
}
