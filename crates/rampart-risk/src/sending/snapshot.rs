//! The persisted form of the engine's state: versioned JSON, one record per account. What can
//! be derived (sums, blend weights, the population prior) is recomputed on restore, and
//! everything read is checked so a damaged file is an error, never a panic or a wrong count.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::account::{half_is_valid, AccountState, Release, WINDOW};
use super::clock::{MAX_TIME_MS, MINUTE_MS, SLOTS};
use super::decision::SpikeReport;
use super::SendingError;

/// Format version written by this build.
pub(crate) const SNAPSHOT_VERSION: u32 = 1;

#[derive(Debug, Deserialize)]
struct Header {
    version: u32,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SnapshotFile {
    version: u32,
    accounts: BTreeMap<String, AccountRecord>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountRecord {
    last_ms: i64,
    ring_minute: i64,
    minute_messages: Vec<u32>,
    minute_recipients: Vec<u32>,
    hour: i64,
    hour_messages: u32,
    hour_recipients: u32,
    held_messages: u32,
    held_recipients: u32,
    hours_tracked: u32,
    day: i32,
    messages_today: u32,
    external_today: u32,
    baseline_messages: Vec<u16>,
    baseline_recipients: Vec<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    release: Option<Release>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hold: Option<SpikeReport>,
}

pub(crate) fn write<'a>(accounts: impl Iterator<Item = (&'a String, &'a AccountState)>) -> String {
    let file = SnapshotFile {
        version: SNAPSHOT_VERSION,
        accounts: accounts
            .map(|(k, a)| (k.clone(), AccountRecord::from_state(a)))
            .collect(),
    };
    // Cannot fail: string keys and plain data, every float finite.
    serde_json::to_string(&file).unwrap_or_default()
}

pub(crate) fn read(json: &str) -> Result<Vec<(String, AccountState)>, SendingError> {
    let header: Header =
        serde_json::from_str(json).map_err(|e| SendingError::Snapshot(e.to_string()))?;
    if header.version != SNAPSHOT_VERSION {
        return Err(SendingError::SnapshotVersion {
            found: header.version,
            expected: SNAPSHOT_VERSION,
        });
    }
    let file: SnapshotFile =
        serde_json::from_str(json).map_err(|e| SendingError::Snapshot(e.to_string()))?;
    file.accounts
        .into_iter()
        .map(|(k, r)| {
            r.into_state()
                .map(|a| (k.clone(), a))
                .map_err(|e| SendingError::Snapshot(format!("account {k}: {e}")))
        })
        .collect()
}

impl AccountRecord {
    fn from_state(a: &AccountState) -> AccountRecord {
        AccountRecord {
            last_ms: a.last_ms,
            ring_minute: a.ring_minute,
            minute_messages: a.minute_messages.to_vec(),
            minute_recipients: a.minute_recipients.to_vec(),
            hour: a.hour,
            hour_messages: a.hour_messages,
            hour_recipients: a.hour_recipients,
            held_messages: a.held_messages,
            held_recipients: a.held_recipients,
            hours_tracked: a.hours_tracked,
            day: a.day,
            messages_today: a.messages_today,
            external_today: a.external_today,
            baseline_messages: a.base_messages.to_vec(),
            baseline_recipients: a.base_recipients.to_vec(),
            release: a.release,
            hold: a.hold.as_deref().cloned(),
        }
    }

    fn into_state(self) -> Result<AccountState, String> {
        let in_range = |ms: i64| (0..=MAX_TIME_MS).contains(&ms);
        if !in_range(self.last_ms) {
            return Err("last_ms out of range".into());
        }
        if !in_range(self.ring_minute.saturating_mul(MINUTE_MS))
            || self.ring_minute.saturating_mul(MINUTE_MS) > self.last_ms
        {
            return Err("ring_minute out of range".into());
        }
        if !in_range(self.hour.saturating_mul(super::clock::HOUR_MS))
            || self.hour.saturating_mul(super::clock::HOUR_MS) > self.last_ms
        {
            return Err("hour out of range".into());
        }
        let minute_messages: [u32; WINDOW] = self
            .minute_messages
            .try_into()
            .map_err(|_| format!("minute_messages must have {WINDOW} entries"))?;
        let minute_recipients: [u32; WINDOW] = self
            .minute_recipients
            .try_into()
            .map_err(|_| format!("minute_recipients must have {WINDOW} entries"))?;
        let base_messages: [u16; SLOTS] = self
            .baseline_messages
            .try_into()
            .map_err(|_| format!("baseline_messages must have {SLOTS} entries"))?;
        let base_recipients: [u16; SLOTS] = self
            .baseline_recipients
            .try_into()
            .map_err(|_| format!("baseline_recipients must have {SLOTS} entries"))?;
        if !base_messages
            .iter()
            .chain(base_recipients.iter())
            .all(|&h| half_is_valid(h))
        {
            return Err("baseline holds a negative or infinite value".into());
        }
        if let Some(hold) = &self.hold {
            let floats = [
                hold.baseline_messages,
                hold.baseline_recipients,
                hold.factor,
                hold.spike_factor,
                hold.weeks_of_history,
            ];
            if !floats.iter().all(|f| f.is_finite()) {
                return Err("hold report has a non-finite number".into());
            }
        }
        let sum = |xs: &[u32; WINDOW]| xs.iter().fold(0u32, |acc, &x| acc.saturating_add(x));
        Ok(AccountState {
            last_ms: self.last_ms,
            ring_minute: self.ring_minute,
            window_messages: sum(&minute_messages),
            window_recipients: sum(&minute_recipients),
            minute_messages,
            minute_recipients,
            hour: self.hour,
            hour_messages: self.hour_messages,
            hour_recipients: self.hour_recipients,
            held_messages: self.held_messages.min(self.hour_messages),
            held_recipients: self.held_recipients.min(self.hour_recipients),
            hours_tracked: self.hours_tracked,
            day: self.day,
            messages_today: self.messages_today,
            external_today: self.external_today,
            base_messages,
            base_recipients,
            release: self.release,
            hold: self.hold.map(Box::new),
            evidence: 0.0,
            sum_messages: 0.0,
            sum_recipients: 0.0,
            in_prior: false,
        })
    }
}
