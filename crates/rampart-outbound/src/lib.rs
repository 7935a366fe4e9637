//! Outbound delivery, one attempt at a time: where a domain's mail goes ([`route`]), how the
//! connection must be protected ([`mtasts`], [`dane`]), one SMTP transaction ([`client`]), the
//! DKIM signature it carries ([`dkim`]) and the bounce when it finally fails ([`dsn`]). The queue
//! that decides *when* to try lives in `rampart-smtp`; this crate keeps no state on disk.
//!
//! All DNS goes through the [`dns::Resolve`] trait ([`dns::HickoryResolver`] in production,
//! [`dns::StaticResolver`] in tests), so nothing here needs the internet to be tested; a
//! [`sink::Sink`] stands in for the remote server.
//!
//! ```no_run
//! use std::sync::Arc;
//! use rampart_outbound::client::{Client, ClientConfig, Envelope};
//! use rampart_outbound::dns::{HickoryOptions, HickoryResolver};
//! use rampart_outbound::mtasts::{MtaSts, MtaStsConfig};
//! use rampart_outbound::route::{Router, RouterConfig, TlsMode};
//! # async fn deliver(message: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! let resolver = Arc::new(HickoryResolver::new(&HickoryOptions::default())?);
//! let config = RouterConfig { port: 25, tls: TlsMode::Opportunistic, mta_sts: true, dane: true, ..Default::default() };
//! let router = Router::new(resolver, config, Arc::new(MtaSts::new(MtaStsConfig::default())));
//! let client = Client::new(ClientConfig::new("mail.example.org"));
//!
//! let route = router.route("example.net").await?;
//! let envelope = Envelope { mail_from: "alice@example.org".into(), recipients: vec!["bob@example.net".into()] };
//! let sent = client.send(&route, &envelope, message).await?;
//! for result in &sent.recipients {
//!     println!("{}: {:?}", result.recipient, result.status);
//! }
//! # Ok(()) }
//! ```
//!
//! **Invariant:** no queue, no storage, no retry timing: one call is one attempt, and its result
//! says per recipient what happened and whether trying again can help.
//! **Invariant:** TLS and crypto come from rustls and ring (never aws-lc-rs), SMTP from
//! mail-send/smtp-proto; nothing from the network can make this crate panic or grow without
//! bound (replies, policies, DNS answers and targets are capped).

pub mod client;
pub mod dane;
pub mod dkim;
pub mod dns;
pub mod dsn;
pub mod mtasts;
pub mod route;
pub mod sink;
pub mod tls;

pub use client::{
    Client, ClientConfig, DeliveryError, Envelope, RcptResult, RcptStatus, Reply, Sent, TlsUsed,
};
pub use route::{Route, Router, RouterConfig, Target, TlsMode, TlsRequirement};
