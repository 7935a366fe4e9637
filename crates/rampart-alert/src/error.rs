use std::io;
use std::time::Duration;

/// Why a sink could not be built or an alert could not be delivered. No variant ever carries the
/// webhook secret or the webhook URL's path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AlertError {
    /// A setting in `[alerts]` (or given to a sink's constructor) is unusable.
    #[error("alerts configuration: {0}")]
    Config(String),
    /// The webhook answered with a status other than 2xx.
    #[error("webhook {endpoint} answered HTTP {status}")]
    Status { endpoint: String, status: u16 },
    /// The webhook request failed before a status arrived (connect, TLS, timeout).
    #[error("webhook {endpoint} request failed: {reason}")]
    Request { endpoint: String, reason: String },
    /// A file or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// A sink did not finish within its time.
    #[error("{what} did not finish within {after:?}")]
    Timeout { what: String, after: Duration },
    /// The mail transport refused the message.
    #[error("mail transport: {0}")]
    Mail(String),
    /// The sink's task ended abnormally (it panicked).
    #[error("sink {0} failed: {1}")]
    Sink(String, String),
}

impl AlertError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        AlertError::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        AlertError::Config(message.into())
    }
}
