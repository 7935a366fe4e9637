//! Sending-behaviour control on the submission path: quotas and spike detection
//! (`rampart_risk::SendingControl`) with the store as the authority on whether an account's
//! sending is held, events that name the numbers, burst signals for the threat picture, and
//! alerts.
//!
//! The order, once per message before its body is read: a contained account is refused; an
//! account whose sending is held has the message held too; otherwise the engine decides (and
//! counts). A spike or a passed daily limit holds the account's sending in the store (event
//! `sending_spike` with the numbers, `burst_recipients` with who was written to and from where),
//! raises an alert, and holds this message for the sender's step-up verification. Releasing
//! such a hold after verification ([`release_after_verification`]) lifts the account's hold.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;

use rampart_alert::{Alert, Alerter, Severity};
use rampart_model::config::SendingConfig;
use rampart_model::{EmailAddress, EventKind, Timestamp};
use rampart_risk::sending::{SendDecision, SendRequest, SendingControl, SpikeReason};
use rampart_store::{Mailstore, StoreError};

/// Hold rules for messages held by sending control (the DLP hold machinery carries them).
pub const SPIKE_RULE: &str = "sending-spike";
pub const LIMIT_RULE: &str = "sending-limit";
pub const HELD_RULE: &str = "sending-held";

/// What the submission path does with a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    Pass,
    /// `451 4.7.1` with this text: try later.
    Defer(String),
    /// `550 5.7.1` with this text.
    Reject(String),
    /// Accept and hold for the sender's verification under `rule`, telling them `reason`.
    Hold {
        rule: &'static str,
        reason: String,
    },
}

/// Who is sending what, for one message.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub account: &'a EmailAddress,
    pub department: Option<&'a str>,
    pub level: Option<&'a str>,
    pub recipients: &'a [EmailAddress],
    /// Recipients outside the local domains.
    pub external: usize,
    pub ip: IpAddr,
    pub queue_id: &'a str,
}

/// The engine plus the store and the alert sinks.
pub struct SendingGuard {
    control: Mutex<SendingControl>,
    store: Mailstore,
    alerter: Alerter,
    enabled: bool,
}

impl SendingGuard {
    pub fn new(config: &SendingConfig, store: Mailstore, alerter: Alerter) -> Result<Self, String> {
        let control = SendingControl::new(config).map_err(|e| e.to_string())?;
        Ok(SendingGuard {
            control: Mutex::new(control),
            store,
            alerter,
            enabled: config.enabled,
        })
    }

    /// Restores the engine's history from a snapshot taken by [`SendingGuard::snapshot`].
    pub fn restore(&self, json: &str, config: &SendingConfig) -> Result<(), String> {
        let restored = SendingControl::restore(json, config).map_err(|e| e.to_string())?;
        *self.lock() = restored;
        Ok(())
    }

    pub fn snapshot(&self) -> String {
        self.lock().snapshot()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SendingControl> {
        self.control.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn alerter(&self) -> &Alerter {
        &self.alerter
    }

    /// The most recipients one message may have, for the RCPT stage.
    pub fn recipient_limit(
        &self,
        account: &str,
        department: Option<&str>,
        level: Option<&str>,
    ) -> Option<u32> {
        if !self.enabled {
            return None;
        }
        self.lock()
            .limits_for(account, department, level)
            .recipients_per_message
            .map(|l| l.max)
    }

    /// Decides, counts, and records what it decided.
    pub async fn gate(&self, out: &Outgoing<'_>) -> Gate {
        let meta = self.store.meta();
        let account = match meta.account(out.account).await {
            Ok(Some(a)) => a,
            Ok(None) => return Gate::Reject("the account no longer exists".into()),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the account for sending control");
                return Gate::Defer("cannot check sending limits right now".into());
            }
        };
        if account.contained_at.is_some() {
            return Gate::Reject(
                "this account is locked down after a suspected compromise; contact your security team"
                    .into(),
            );
        }
        if account.sending_held_at.is_some() {
            return Gate::Hold {
                rule: HELD_RULE,
                reason: "sending from your account is paused after unusual activity until you verify it is you".into(),
            };
        }
        if !self.enabled {
            return Gate::Pass;
        }
        let now = self.store.now();
        let now_ms = now.0 * 1000;
        let req = SendRequest {
            account: out.account.as_str(),
            department: out.department,
            level: out.level,
            recipients: out.recipients.len() as u32,
            external_recipients: out.external as u32,
        };
        let decision = {
            let mut control = self.lock();
            // The store is the authority: a hold lifted there (by verification or an
            // administrator) is lifted here too before deciding.
            if control.usage(out.account.as_str(), now_ms).held.is_some() {
                control.release(out.account.as_str(), now_ms);
            }
            control.check(&req, now_ms)
        };
        match decision {
            SendDecision::Allow => Gate::Pass,
            SendDecision::Defer(breach) => {
                let text = breach.message();
                self.breach_event(EventKind::SendingDeferred, out, now, &breach)
                    .await;
                Gate::Defer(text)
            }
            SendDecision::Reject(breach) => {
                let text = breach.message();
                self.breach_event(EventKind::SendingRejected, out, now, &breach)
                    .await;
                Gate::Reject(text)
            }
            SendDecision::Hold(report) => {
                let text = report.message();
                let rule = if !matches!(report.reason, SpikeReason::DailyLimit(_)) {
                    SPIKE_RULE
                } else {
                    LIMIT_RULE
                };
                if let Err(e) = meta
                    .set_sending_hold(out.account, true, now, "sending-control", &text)
                    .await
                {
                    tracing::error!(error = %e, "cannot hold the account's sending");
                }
                let numbers = serde_json::to_value(&report).unwrap_or_default();
                self.event(
                    EventKind::SendingSpike,
                    out,
                    now,
                    [
                        ("reason", text.clone()),
                        ("rule", rule.to_string()),
                        ("numbers", numbers.to_string()),
                        ("ip", out.ip.to_string()),
                    ],
                )
                .await;
                self.burst_signal(out, now).await;
                self.alerter.raise(Alert {
                    kind: "sending_held".into(),
                    severity: Severity::Critical,
                    account: Some(out.account.to_string()),
                    summary: format!("Sending held for {}: {text}", out.account),
                    details: serde_json::json!({
                        "rule": rule,
                        "numbers": numbers,
                        "ip": out.ip.to_string(),
                        "queue_id": out.queue_id,
                        "recipients": out.recipients.iter().take(50).map(|r| r.as_str()).collect::<Vec<_>>(),
                    }),
                    at_ms: now_ms,
                    key: format!("sending_held:{}", out.account),
                });
                Gate::Hold { rule, reason: text }
            }
        }
    }

    async fn breach_event(
        &self,
        kind: EventKind,
        out: &Outgoing<'_>,
        now: Timestamp,
        breach: &rampart_risk::sending::QuotaBreach,
    ) {
        let pairs = [
            ("limit", breach.limit.to_string()),
            ("scope", breach.scope.clone()),
            ("max", breach.max.to_string()),
            ("current", breach.current.to_string()),
        ];
        self.event(kind, out, now, pairs).await;
    }

    /// The recipients and source of a burst, as an event the threat-intelligence side turns
    /// into indicators.
    async fn burst_signal(&self, out: &Outgoing<'_>, now: Timestamp) {
        let mut domains: BTreeMap<&str, usize> = BTreeMap::new();
        for r in out.recipients {
            *domains.entry(r.domain()).or_default() += 1;
        }
        self.event(
            EventKind::BurstRecipients,
            out,
            now,
            [
                ("ip", out.ip.to_string()),
                (
                    "addresses",
                    out.recipients
                        .iter()
                        .take(200)
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                (
                    "domains",
                    serde_json::to_string(&domains).unwrap_or_default(),
                ),
            ],
        )
        .await;
    }

    async fn event<const N: usize>(
        &self,
        kind: EventKind,
        out: &Outgoing<'_>,
        now: Timestamp,
        pairs: [(&str, String); N],
    ) {
        let mut detail: BTreeMap<String, String> =
            pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        detail.insert("queue_id".into(), out.queue_id.to_string());
        detail.insert("recipients".into(), out.recipients.len().to_string());
        detail.insert("external".into(), out.external.to_string());
        if let Err(e) = self
            .store
            .meta()
            .record_event(
                kind,
                now,
                "sending-control",
                Some(out.account.as_str()),
                detail,
            )
            .await
        {
            tracing::error!(error = %e, "cannot record the sending event");
        }
    }
}

/// After the sender passed step-up verification for a message held by sending control: the
/// account's sending hold is lifted and its other messages held for the same reason are sent.
/// Returns how many other held messages were released.
pub async fn release_after_verification(
    store: &Mailstore,
    account: &EmailAddress,
    save_sent: bool,
    actor: &str,
) -> Result<usize, StoreError> {
    let meta = store.meta();
    meta.set_sending_hold(account, false, store.now(), actor, "verified by the sender")
        .await?;
    let held = meta
        .list_holds(Some(account), Some(rampart_model::HoldStatus::Held))
        .await?;
    let mut released = 0;
    for h in held {
        if is_sending_rule(&h.rule) {
            crate::hold::release(store, h.id, save_sent, actor).await?;
            released += 1;
        }
    }
    Ok(released)
}

/// Whether a hold was made by sending control (not by DLP).
pub fn is_sending_rule(rule: &str) -> bool {
    matches!(rule, SPIKE_RULE | LIMIT_RULE | HELD_RULE)
}
