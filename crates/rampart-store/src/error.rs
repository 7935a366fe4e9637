/// Why a storage operation failed. Backend-specific errors are flattened into `Backend` so no
/// backend type leaks to callers.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} is not a local domain; add it first with `rampart domain add {0}`")]
    UnknownDomain(String),
    #[error("{0}")]
    Conflict(String),
    #[error("invalid: {0}")]
    Invalid(String),
    /// The account's mailbox quota would be passed (IMAP `[OVERQUOTA]`, SMTP `552`).
    #[error("{0}")]
    QuotaExceeded(String),
    /// A login challenge cannot take the requested decision: it was already decided, completed,
    /// or has expired (`status` is where it stands now).
    #[error("login challenge {id} is {status}; it can no longer be decided")]
    ChallengeNotPending {
        id: String,
        status: rampart_model::ChallengeStatus,
    },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("storage backend error: {0}")]
    Backend(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

impl From<tokio::task::JoinError> for StoreError {
    fn from(e: tokio::task::JoinError) -> Self {
        StoreError::Backend(format!("storage task failed: {e}"))
    }
}
