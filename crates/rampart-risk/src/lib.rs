//! Login risk: judges every login attempt (SMTP AUTH, IMAP, HTTP) and says allow, challenge,
//! deny or block the source, with a score and every reason.
//!
//! **Inputs**: a [`LoginAttempt`] (account, protocol, address with its [`Geo`] facts from a
//! [`GeoDb`], user agent, device id, time, whether the credential was right), the account's
//! [`Profile`] (its history of trusted logins), the [`EffectivePolicy`] of admin rules for it,
//! and whether the device was approved recently. **Output**: a [`RiskDecision`].
//!
//! **The model.** Hard rules first: blocked sources, admin deny rules (geofence, login hours in
//! the policy's time zone, IP allow/deny, device binding), per account+IP failure counters with a
//! progressive delay and a temporary lock of that pair (never a global account lock an attacker
//! could use against the user), per-IP and per-/24 failure limits and password-spray detection
//! that block the source. Then a score: the log-likelihood ratio of "an attacker" against "this
//! user" over the login's features, after Freeman et al., *Who Are You? A Statistical Approach to
//! Measuring User Authenticity* (NDSS 2016), as evaluated by Wiefling et al. on the RBA data set.
//! Features form hierarchies (country → region → city; ASN → /24 → IP; device type → OS →
//! browser → version → full user agent) whose user frequencies are smoothed toward the
//! population's, so a new IP in a familiar ISP costs little and a new country a lot; hour of day
//! and round-trip time are compared with the user's habits. Threat-listed addresses, impossible
//! travel, dormant accounts and recent failures add weight. The engine learns only from
//! successful logins it allowed, or challenged and saw verified.
//!
//! The engine does no I/O (reading a geo database file is the caller's choice) and keeps its
//! memory bounded: profiles keep at most [`MAX_VALUES_PER_FEATURE`] values per feature, global
//! counters evict old entries.
//!
//! **Sending behaviour** ([`sending`]) is the same idea for outgoing mail: [`SendingControl`]
//! judges each submitted message against quotas layered by organisation, department, level and
//! user, and against the account's own hour-of-week baseline, and says allow, defer, reject or
//! hold the account's sending until step-up verification. Also pure: the caller passes the time
//! and persists the snapshot.
//!
//! ```
//! use rampart_risk::{Decision, EffectivePolicy, Geo, LoginAttempt, Profile, RiskConfig, RiskEngine};
//! use rampart_model::Protocol;
//!
//! let mut engine = RiskEngine::new(RiskConfig::default());
//! let mut profile = Profile::new();
//! let policy = EffectivePolicy::default();
//! let attempt = LoginAttempt {
//!     account: "ana@example.org".into(),
//!     protocol: Protocol::Imap,
//!     ip: "192.0.2.10".parse().unwrap(),
//!     user_agent: Some("Thunderbird/115.3".into()),
//!     device_id: None,
//!     at_ms: 1_700_000_000_000,
//!     credential_ok: true,
//!     geo: Geo { country: Some("NO".into()), asn: Some(2119), ..Geo::default() },
//!     rtt_ms: None,
//! };
//! let decision = engine.assess(&attempt, &profile, &policy, false);
//! assert_eq!(decision.action, Decision::Allow); // a first login: nothing to compare with yet
//! engine.record(&attempt, &decision, &mut profile, false);
//! assert_eq!(profile.logins(), 1);
//! ```

mod config;
mod decision;
mod engine;
mod error;
mod features;
mod geo;
mod policy;
mod population;
mod profile;
mod ua;
mod util;

pub mod bench;
pub mod eval;
pub mod sending;
pub mod synth;

pub use config::{ModelParams, RiskConfig};
pub use decision::{Decision, Reason, RiskDecision};
pub use engine::{Block, LoginAttempt, RiskEngine};
pub use error::RiskError;
pub use geo::{Geo, GeoDb};
pub use policy::{AdminPolicy, EffectivePolicy, LoginWindow, PolicyScope, Weekday};
pub use population::{Population, DEFAULT_POPULATION_CAP};
pub use profile::{Profile, MAX_PROFILE_ENTRIES, MAX_VALUES_PER_FEATURE};
pub use sending::{SendDecision, SendRequest, SendingControl, SendingError};
pub use ua::{parse_user_agent, DeviceType, UaFamily};
