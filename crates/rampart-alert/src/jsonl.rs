//! [`JsonLinesSink`]: one JSON line per alert, appended to a file.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::{AlertError, AlertSink, BoxFuture, Delivered};

/// Appends [`Delivered::payload_json`] and a newline to a file, creating it with mode 0600. The
/// file is opened for each alert, so a log rotator may move it away at any time; each line is one
/// `write` on an `O_APPEND` descriptor, so lines never interleave.
#[derive(Debug, Clone)]
pub struct JsonLinesSink {
    path: PathBuf,
    source: String,
}

impl JsonLinesSink {
    /// A sink appending to `path` (its directory must exist), naming `source` in each line.
    pub fn new(path: impl AsRef<Path>, source: &str) -> Result<Self, AlertError> {
        let path = path.as_ref();
        if path.as_os_str().is_empty() {
            return Err(AlertError::config("jsonl_path is empty"));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                return Err(AlertError::config(format!(
                    "jsonl_path {}: directory {} does not exist",
                    path.display(),
                    dir.display()
                )));
            }
        }
        Ok(JsonLinesSink {
            path: path.to_path_buf(),
            source: source.to_string(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn append(&self, delivered: &Delivered) -> Result<(), AlertError> {
        let mut line = delivered.payload_json(&self.source);
        line.push(b'\n');
        let path = self.path.clone();
        let context = || format!("appending an alert to {}", self.path.display());
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut file = OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .open(&path)?;
            file.write_all(&line)?;
            file.flush()
        })
        .await
        .map_err(|e| AlertError::io(context(), std::io::Error::other(e.to_string())))?
        .map_err(|e| AlertError::io(context(), e))
    }
}

impl AlertSink for JsonLinesSink {
    fn name(&self) -> &str {
        "jsonl"
    }

    fn send<'a>(&'a self, delivered: &'a Delivered) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(self.append(delivered))
    }
}
