//! The SIEM forwarder: every event, in id order, at least once, to JSON lines and/or syslog.
//!
//! Each sink keeps its own cursor (the last id it delivered) in a small file next to the signing
//! key, written after the sink accepted the batch; a crash repeats at most one batch, never skips
//! one. A sink that fails is retried on the next tick with the same events.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rampart_alert::SyslogTarget;
use rampart_model::AuditEntry;
use rampart_store::MetaStore;
use serde::Serialize;
use serde_json::json;

use crate::AuditError;

const BATCH: usize = 1000;
/// RFC 5424 receivers should take 2048 bytes; longer events are cut (their `hash` still lets the
/// SIEM match them with `rampart audit export`).
const MAX_SYSLOG: usize = 2000;

enum Sink {
    Jsonl(PathBuf),
    Syslog(SyslogTarget),
}

impl Sink {
    fn name(&self) -> &'static str {
        match self {
            Sink::Jsonl(_) => "jsonl",
            Sink::Syslog(_) => "syslog",
        }
    }
}

/// How many events each sink has delivered, for health output.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ForwarderStats {
    pub forwarded: u64,
    pub failures: u64,
}

pub struct Forwarder {
    sinks: Vec<(Sink, PathBuf)>,
    hostname: String,
}

/// One event as the SIEM gets it: the stored fields, the detail as JSON, and the chain hash.
pub fn event_json(e: &AuditEntry) -> serde_json::Value {
    let detail: serde_json::Value =
        serde_json::from_str(&e.detail).unwrap_or_else(|_| json!(e.detail));
    let at = rfc3339(e.at.0);
    json!({
        "id": e.id,
        "at": e.at.0,
        "time": at,
        "kind": e.kind,
        "actor": e.actor,
        "subject": e.subject,
        "detail": detail,
        "hash": e.hash,
    })
}

impl Forwarder {
    /// A forwarder for the configured sinks; `None` when none is configured. Cursors live in
    /// `state_dir`.
    pub fn new(
        jsonl: Option<&Path>,
        syslog: Option<&str>,
        state_dir: &Path,
        hostname: &str,
    ) -> Result<Option<Self>, AuditError> {
        let mut sinks = Vec::new();
        if let Some(path) = jsonl {
            sinks.push((
                Sink::Jsonl(path.to_path_buf()),
                state_dir.join("forward-jsonl.cursor"),
            ));
        }
        if let Some(target) = syslog {
            let target: SyslogTarget = target.parse().map_err(|e: rampart_alert::AlertError| {
                AuditError::Invalid(format!("audit.forward_syslog: {e}"))
            })?;
            sinks.push((
                Sink::Syslog(target),
                state_dir.join("forward-syslog.cursor"),
            ));
        }
        if sinks.is_empty() {
            return Ok(None);
        }
        std::fs::create_dir_all(state_dir).map_err(|source| AuditError::Io {
            what: format!("creating {}", state_dir.display()),
            source,
        })?;
        Ok(Some(Forwarder {
            sinks,
            hostname: hostname.to_string(),
        }))
    }

    /// Forwards everything new once; returns how many events each sink delivered.
    pub async fn tick(&self, store: &dyn MetaStore) -> Vec<(String, Result<u64, String>)> {
        let mut out = Vec::new();
        for (sink, cursor_path) in &self.sinks {
            let mut cursor = read_cursor(cursor_path);
            let mut sent = 0u64;
            let result = loop {
                let batch = match store.audit_entries(cursor, BATCH).await {
                    Ok(b) => b,
                    Err(e) => break Err(e.to_string()),
                };
                let Some(last) = batch.last().map(|e| e.id) else {
                    break Ok(sent);
                };
                if let Err(e) = self.send(sink, &batch).await {
                    break Err(e);
                }
                if let Err(e) = write_cursor(cursor_path, last) {
                    break Err(e.to_string());
                }
                cursor = last;
                sent += batch.len() as u64;
            };
            out.push((sink.name().to_string(), result));
        }
        out
    }

    /// Runs until `stop` resolves, once a second.
    pub async fn run(
        self,
        store: std::sync::Arc<dyn MetaStore>,
        stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut stop = stop;
        loop {
            for (sink, result) in self.tick(&*store).await {
                if let Err(e) = result {
                    tracing::warn!(sink, error = %e, "audit forwarding failed; retrying");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => return,
            }
        }
    }

    async fn send(&self, sink: &Sink, batch: &[AuditEntry]) -> Result<(), String> {
        match sink {
            Sink::Jsonl(path) => {
                let mut buf = Vec::with_capacity(batch.len() * 256);
                for e in batch {
                    serde_json::to_writer(&mut buf, &event_json(e)).map_err(|e| e.to_string())?;
                    buf.push(b'\n');
                }
                let shown = path.display().to_string();
                let path = path.clone();
                tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir)?;
                    }
                    let mut file = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)?;
                    file.write_all(&buf)?;
                    file.sync_data()
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("{shown}: {e}"))
            }
            Sink::Syslog(target) => {
                for e in batch {
                    let message = syslog_line(e, &self.hostname);
                    rampart_alert::send_datagram(target, &message)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok(())
            }
        }
    }
}

/// `<110>1 TIME HOST rampart PID KIND ID {json}`: facility security/audit (13), severity info.
fn syslog_line(e: &AuditEntry, hostname: &str) -> Vec<u8> {
    let time = rfc3339(e.at.0).unwrap_or_else(|| "-".into());
    let token = |s: &str| -> String {
        let t: String = s
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(48)
            .collect();
        if t.is_empty() {
            "-".into()
        } else {
            t
        }
    };
    let head = format!(
        "<110>1 {time} {} rampart {} {} {} ",
        token(hostname),
        std::process::id(),
        token(&e.kind),
        e.id
    );
    let mut body = serde_json::to_vec(&event_json(e)).unwrap_or_default();
    if head.len() + body.len() > MAX_SYSLOG {
        let short = json!({"id": e.id, "kind": e.kind, "actor": e.actor, "subject": e.subject,
            "hash": e.hash, "truncated": true});
        body = serde_json::to_vec(&short).unwrap_or_default();
        body.truncate(MAX_SYSLOG.saturating_sub(head.len()));
    }
    let mut out = head.into_bytes();
    out.extend_from_slice(&body);
    out
}

fn rfc3339(unix: i64) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
}

fn read_cursor(path: &Path) -> i64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn write_cursor(path: &Path, id: i64) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(id.to_string().as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(tmp, path)
}
