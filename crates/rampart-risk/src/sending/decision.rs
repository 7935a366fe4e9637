//! What the sending engine is asked and what it answers: requests, decisions, quota breaches,
//! spike reports and usage, each with a message for people.

use serde::{Deserialize, Serialize};

use super::clock::slot_label;

/// One message about to be sent, as the submission path sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendRequest<'a> {
    /// The authenticated account (its address, as the store names it).
    pub account: &'a str,
    /// The account's department, selecting `[sending.departments.<name>]`.
    pub department: Option<&'a str>,
    /// The account's job level, selecting `[sending.levels.<name>]`.
    pub level: Option<&'a str>,
    /// Every envelope recipient.
    pub recipients: u32,
    /// Recipients outside the organisation's domains (also counted in `recipients`).
    pub external_recipients: u32,
}

/// What the submission path should do with one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", content = "detail", rename_all = "snake_case")]
pub enum SendDecision {
    /// Send it. The message was counted.
    Allow,
    /// An hourly limit is reached: refuse temporarily (the client retries later). Not counted.
    Defer(QuotaBreach),
    /// The message itself breaks a limit (too many recipients): refuse it permanently. Not
    /// counted.
    Reject(QuotaBreach),
    /// The account's sending is held until it passes step-up verification: keep this message
    /// (counted) and every later one until [`super::SendingControl::release`].
    Hold(SpikeReport),
}

impl SendDecision {
    /// Whether the message may go out now.
    pub fn is_allowed(&self) -> bool {
        matches!(self, SendDecision::Allow)
    }

    /// Stable snake_case name for events and dashboards.
    pub fn code(&self) -> &'static str {
        match self {
            SendDecision::Allow => "allow",
            SendDecision::Defer(_) => "defer",
            SendDecision::Reject(_) => "reject",
            SendDecision::Hold(_) => "hold",
        }
    }

    /// The explanation for people, `None` for [`SendDecision::Allow`].
    pub fn message(&self) -> Option<String> {
        match self {
            SendDecision::Allow => None,
            SendDecision::Defer(b) | SendDecision::Reject(b) => Some(b.message()),
            SendDecision::Hold(r) => Some(r.message()),
        }
    }
}

/// A quota the message would break.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaBreach {
    /// The limit's configuration key: `messages_per_hour` or `recipients_per_message`.
    pub limit: &'static str,
    /// Where the limit is set: `org`, `department:<name>`, `level:<name>` or `user:<address>`.
    pub scope: String,
    pub max: u32,
    /// Messages already sent in the last hour, or this message's recipients.
    pub current: u32,
    /// When enough of the sliding hour has passed for the message to go out (ms since the
    /// epoch); `None` when waiting cannot help (a limit of 0, or a per-message limit).
    pub retry_after_ms: Option<i64>,
    /// `retry_after_ms` as local time for people ("14:05 UTC").
    pub retry_after_local: Option<String>,
}

impl QuotaBreach {
    /// "hourly message limit reached: 300 of 300 (department sales); try again after 14:05 UTC"
    pub fn message(&self) -> String {
        let scope = scope_phrase(&self.scope);
        match self.limit {
            "recipients_per_message" => format!(
                "too many recipients: {} in one message, the limit is {} ({scope})",
                self.current, self.max
            ),
            limit => {
                let what = match limit {
                    "messages_per_hour" => "hourly message limit",
                    other => other,
                };
                let mut s = format!("{what} reached: {} of {} ({scope})", self.current, self.max);
                if let Some(at) = &self.retry_after_local {
                    s.push_str("; try again after ");
                    s.push_str(at);
                }
                s
            }
        }
    }
}

/// Why an account's sending is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpikeReason {
    /// More messages in the last hour than `spike_factor` times the account's baseline.
    HourlySpike,
    /// More recipients in the last hour than `spike_factor` times the account's baseline.
    RecipientSpike,
    /// A daily limit was passed.
    DailyLimit(DailyLimit),
}

impl SpikeReason {
    /// Stable snake_case name: `hourly_spike`, `recipient_spike`, `messages_per_day` or
    /// `external_recipients_per_day`.
    pub fn code(self) -> &'static str {
        match self {
            SpikeReason::HourlySpike => "hourly_spike",
            SpikeReason::RecipientSpike => "recipient_spike",
            SpikeReason::DailyLimit(l) => l.as_str(),
        }
    }
}

/// The daily limits whose passing holds an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DailyLimit {
    MessagesPerDay,
    ExternalRecipientsPerDay,
}

impl DailyLimit {
    /// The limit's configuration key.
    pub fn as_str(self) -> &'static str {
        match self {
            DailyLimit::MessagesPerDay => "messages_per_day",
            DailyLimit::ExternalRecipientsPerDay => "external_recipients_per_day",
        }
    }
}

/// Why and on what numbers an account was held; kept (and persisted) until release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikeReport {
    pub reason: SpikeReason,
    /// When the hold began (ms since the epoch).
    pub at_ms: i64,
    /// In the sliding hour, the message that caused the hold included.
    pub messages_last_hour: u32,
    pub recipients_last_hour: u32,
    /// Messages expected in an hour like this one (see the module doc for the model).
    pub baseline_messages: f64,
    pub baseline_recipients: f64,
    /// Observed over expected for the measure that tripped (messages, or recipients for
    /// [`SpikeReason::RecipientSpike`]); the expectation is floored at 0.1 so it is finite.
    pub factor: f64,
    /// The configured `spike_factor` at the time.
    pub spike_factor: f64,
    /// The configured `spike_min_messages` at the time.
    pub spike_min_messages: u32,
    /// Hour-of-week slot the baseline is for (0 = Monday 00:00 local).
    pub hour_of_week: u16,
    /// Weeks of sending history behind the baseline.
    pub weeks_of_history: f64,
    /// In the local calendar day, the message that caused the hold included.
    pub messages_today: u32,
    pub external_recipients_today: u32,
    /// For a daily hold: the limit passed and the scope that set it.
    pub daily_limit: Option<u32>,
    pub scope: Option<String>,
}

impl SpikeReport {
    /// "142 messages in the last hour against a usual 3.1 for Tuesday 10:00 (46×, limit +500%)"
    pub fn message(&self) -> String {
        let label = slot_label(self.hour_of_week);
        let limit_pct = (self.spike_factor - 1.0) * 100.0;
        let spike = |n: u32, what: &str, usual: f64, floor: u32| {
            if usual < 0.05 {
                format!(
                    "{n} {what} in the last hour where this account usually sends none for \
                     {label} (a quiet hour: {floor} or more make a spike)"
                )
            } else {
                format!(
                    "{n} {what} in the last hour against a usual {usual:.1} for {label} ({}×, \
                     limit +{limit_pct:.0}%)",
                    ratio(self.factor)
                )
            }
        };
        match self.reason {
            SpikeReason::HourlySpike => spike(
                self.messages_last_hour,
                "messages",
                self.baseline_messages,
                self.spike_min_messages,
            ),
            SpikeReason::RecipientSpike => spike(
                self.recipients_last_hour,
                "recipients",
                self.baseline_recipients,
                self.spike_min_messages.saturating_mul(10),
            ),
            SpikeReason::DailyLimit(limit) => {
                let (what, n) = match limit {
                    DailyLimit::MessagesPerDay => ("messages", self.messages_today),
                    DailyLimit::ExternalRecipientsPerDay => {
                        ("external recipients", self.external_recipients_today)
                    }
                };
                let max = self.daily_limit.map_or_else(String::new, |m| m.to_string());
                let scope = scope_phrase(self.scope.as_deref().unwrap_or("org"));
                format!("daily limit passed: {n} {what} today, the limit is {max} ({scope})")
            }
        }
    }
}

/// An account's sending right now, for the CLI and the console.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Usage {
    pub account: String,
    /// Whether the engine has any history for the account.
    pub known: bool,
    pub messages_last_hour: u32,
    pub recipients_last_hour: u32,
    /// In the local calendar day.
    pub messages_today: u32,
    pub external_recipients_today: u32,
    /// The hour-of-week slot whose baseline applies (0 = Monday 00:00 local; the sliding hour
    /// spans two, the busier counts) and its label ("Tuesday 10:00").
    pub hour_of_week: u16,
    pub hour_label: String,
    /// Messages and recipients expected in this hour (the spike rule's baseline).
    pub baseline_messages: f64,
    pub baseline_recipients: f64,
    pub weeks_of_history: f64,
    /// Set while the account's sending is held.
    pub held: Option<SpikeReport>,
    /// After a release: until when the burst that was released is tolerated.
    pub released_until_ms: Option<i64>,
}

/// "department:sales" → "department sales"; "org" → "organisation".
pub(crate) fn scope_phrase(scope: &str) -> String {
    match scope.split_once(':') {
        Some((kind, name)) => format!("{kind} {name}"),
        None if scope == "org" => "organisation".to_string(),
        None => scope.to_string(),
    }
}

fn ratio(x: f64) -> String {
    if x >= 10.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}
