//! Antivirus for Rampart: a client for ClamAV's `clamd` and built-in SHA-256 hash signatures.
//!
//! Two detectors, one result type. [`ClamdClient`] streams bytes (one attachment, or a whole
//! message: clamd unpacks MIME and archives itself) to a clamd over a Unix socket or TCP with
//! `zINSTREAM`, bounded by a connect timeout, a scan timeout and a stream size; [`HashSignatures`]
//! matches exact SHA-256 digests in process, with no daemon. Both produce a [`ScanOutcome`], and
//! [`findings_for`] turns an outcome into [`Finding`](rampart_model::Finding)s under an
//! [`AvPolicy`]: `av.virus` (score 100) for a detection; when clamd could not give an answer,
//! `av.unavailable` (score 0, fail-open) or `av.unavailable_fail_closed` (score 10, enough for the
//! policy to quarantine).
//!
//! **Invariant:** this crate knows nothing of mail or of what happens to a message; it reports
//! findings and the policy decides. It never panics on bytes from a message or from clamd.
//!
//! ```
//! use rampart_av::{findings_for, AvPolicy, HashSignatures, ScanOutcome};
//!
//! let signatures = HashSignatures::builtin();
//! let eicar = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
//! assert_eq!(signatures.check(eicar), Some("Rampart.Test.EICAR"));
//!
//! let findings = findings_for(&signatures.outcome(eicar), AvPolicy::default());
//! assert_eq!(findings[0].name, "av.virus");
//! assert_eq!(findings[0].score, 100.0);
//!
//! // A clamd that cannot be reached is a finding too; fail-closed makes it count.
//! let down = ScanOutcome::Error("cannot connect to clamd".into());
//! let findings = findings_for(&down, AvPolicy { fail_closed: true });
//! assert_eq!(findings[0].name, "av.unavailable_fail_closed");
//! ```
//!
//! With a clamd:
//!
//! ```no_run
//! use rampart_av::{ClamdAddr, ClamdClient, ClamdOptions, ScanOutcome};
//! # async fn scan(attachment: &[u8]) {
//! let clamd = ClamdClient::new(
//!     ClamdAddr::Unix("/run/clamav/clamd.ctl".into()),
//!     ClamdOptions::default(),
//! );
//! match clamd.scan(attachment).await {
//!     ScanOutcome::Infected(names) => println!("virus: {}", names.join(", ")),
//!     outcome => println!("{outcome:?}"),
//! }
//! # }
//! ```

mod clamd;
mod hashsig;
mod outcome;
mod version;

pub use clamd::{ClamdAddr, ClamdClient, ClamdError, ClamdOptions, DEFAULT_STREAM_MAX_LENGTH};
pub use hashsig::{HashSignatures, SignatureError, EICAR_SHA256};
pub use outcome::{
    findings_for, AvPolicy, ScanOutcome, FAIL_CLOSED_SCORE, TOO_LARGE, TOO_LARGE_FAIL_CLOSED,
    UNAVAILABLE, UNAVAILABLE_FAIL_CLOSED, VIRUS, VIRUS_SCORE,
};
pub use version::ClamdVersion;
