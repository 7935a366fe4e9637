//! The content pipeline: every message that enters or leaves passes one list of checks.
//!
//! Each [`Check`] looks at a parsed message ([`Mail`]) and its [`Envelope`] and reports
//! [`Finding`]s (name, score, evidence) as if each always meant "reject"; the [`Policy`], from
//! configuration, turns the findings into one [`Action`]. The result is a [`ScanReport`]: JSON for
//! the console and the audit trail, headers (`Authentication-Results`, `X-Rampart-Verdict`,
//! `X-Rampart-Findings`) for the message.
//!
//! Adding a check is one file in `checks/` and one line in [`checks::builtin`].
//!
//! ```
//! # async fn demo() {
//! use rampart_model::config::ScanConfig;
//! use rampart_model::{Action, Direction};
//! use rampart_scan::{Envelope, OrgDirectory, Scanner};
//!
//! let mut config = ScanConfig::default();
//! config.dns.enabled = false; // no network in this example
//! let scanner = Scanner::new(&config, "mx.example.com", OrgDirectory::default()).unwrap();
//! let raw = b"From: a@b.example\r\nSubject: hi\r\n\r\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n";
//! let report = scanner.scan(raw, &Envelope::new(Direction::Inbound)).await;
//! assert_eq!(report.action, Action::Reject);
//! assert!(report.findings.iter().any(|f| f.name == "content.gtube"));
//! # }
//! ```
//!
//! **Architecture invariant:** checks never decide; only [`Policy`] maps findings to actions.
//! **Architecture invariant:** headers named `X-Rampart-*`, and `Authentication-Results` carrying
//! our own host name, are removed from incoming mail before ours are added: outsiders cannot forge
//! a verdict.

pub mod checks;
pub mod dlp;
mod domain;
mod headers;
mod mail;
mod pipeline;
mod policy;
pub mod spam;

pub use headers::{apply_verdict, strip_untrusted_headers};
pub use mail::{Attachment, Mail};
pub use pipeline::{Check, Envelope, OrgDirectory, ScanError, ScanReport, Scanner};
pub use policy::Policy;
pub use rampart_model::{Action, Direction, Finding};
