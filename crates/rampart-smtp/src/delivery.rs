//! The outbound queue worker: claims due rows from the store, delivers each message once per
//! destination domain (all its recipients there in one SMTP transaction) through
//! `rampart-outbound`, signs with DKIM, records every outcome, retries temporary failures with
//! exponential backoff, and bounces to the sender (RFC 3464) after a permanent failure or the
//! give-up time. A delay notice goes out once when a message has waited `delay_notice_hours`.
//!
//! Durability: a claimed row is `sending` under a lease; a worker that dies leaves it to be
//! claimed again when the lease ends, so a crash can send a message twice but never loses one
//! (the usual MTA trade: RFC 5321 §6.1 prefers duplicates to loss).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rampart_model::config::OutboundConfig;
use rampart_model::{EmailAddress, Folder, OutboundEntry, Timestamp};
use rampart_outbound::client::{Client, Envelope, RcptStatus};
use rampart_outbound::dkim::DkimKeys;
use rampart_outbound::dsn::{self, DsnAction, DsnRecipient};
use rampart_outbound::route::Router;
use rampart_store::{Mailstore, NewMessage, OutboundUpdate, Recipient, StoreError};
use tokio::sync::{Notify, Semaphore};

use crate::message::summarize;

/// Most recipients in one SMTP transaction (RFC 5321 §4.5.3.1.8 asks servers to take 100).
const MAX_RCPTS: usize = 100;
/// How long a claimed row stays ours: longer than any single attempt can take.
const LEASE_SECS: i64 = 15 * 60;
/// How long shutdown waits for attempts in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Timing and limits for the worker, from `[outbound]`.
#[derive(Debug, Clone)]
pub struct QueuePolicy {
    pub concurrency: usize,
    pub per_domain_concurrency: usize,
    pub retry_secs: u64,
    pub max_retry_secs: u64,
    pub give_up_secs: i64,
    pub delay_notice_secs: i64,
}

impl From<&OutboundConfig> for QueuePolicy {
    fn from(c: &OutboundConfig) -> Self {
        QueuePolicy {
            concurrency: c.concurrency.max(1),
            per_domain_concurrency: c.per_domain_concurrency.max(1),
            retry_secs: c.retry_secs.max(1),
            max_retry_secs: c.max_retry_secs.max(c.retry_secs.max(1)),
            give_up_secs: (c.give_up_hours as i64).saturating_mul(3600),
            delay_notice_secs: (c.delay_notice_hours as i64).saturating_mul(3600),
        }
    }
}

/// What one pass over the queue did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PassReport {
    pub claimed: usize,
    pub delivered: usize,
    pub deferred: usize,
    pub bounced: usize,
}

/// The delivery worker. Cheap to share; [`Delivery::run`] drives it until shutdown.
pub struct Delivery {
    store: Mailstore,
    router: Router,
    client: Client,
    dkim: DkimKeys,
    hostname: String,
    policy: QueuePolicy,
    slots: Arc<Semaphore>,
    domains: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Rows this process is delivering right now.
    in_flight: Mutex<HashSet<i64>>,
    wake: Arc<Notify>,
}

impl Delivery {
    pub fn new(
        store: Mailstore,
        router: Router,
        client: Client,
        dkim: DkimKeys,
        hostname: &str,
        policy: QueuePolicy,
    ) -> Self {
        Delivery {
            slots: Arc::new(Semaphore::new(policy.concurrency)),
            store,
            router,
            client,
            dkim,
            hostname: hostname.to_string(),
            policy,
            domains: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashSet::new()),
            wake: Arc::new(Notify::new()),
        }
    }

    /// Asks the worker to look at the queue now (after a submission queued something).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// A handle that wakes the worker, for the submission listeners.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Runs until `shutdown` flips. Deliveries are started as slots free up, never in lockstep:
    /// a slow destination holds its own slots only, and everything else keeps moving. On
    /// shutdown, attempts in flight get `SHUTDOWN_GRACE` to finish; what is cut off is claimed
    /// again after its lease.
    pub async fn run(self: Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            while tasks.try_join_next().is_some() {}
            match self.claim().await {
                Ok(groups) => {
                    for group in groups {
                        let me = self.clone();
                        tasks.spawn(async move {
                            me.deliver_group(group).await;
                        });
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot claim queued mail"),
            }
            tokio::select! {
                _ = self.wake.notified() => {
                    // Let the attempts finishing around now free their slots together: one
                    // claim for them all instead of one each.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.changed() => {}
            }
        }
        let drain = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
            tracing::warn!(
                "deliveries still in flight at shutdown; they are retried after their lease"
            );
        }
    }

    /// One pass, for tests and benchmarks: claims what is due now, delivers it, and waits.
    pub async fn pass(self: Arc<Self>) -> Result<PassReport, StoreError> {
        let groups = self.claim().await?;
        let mut report = PassReport {
            claimed: groups.iter().map(Vec::len).sum(),
            ..PassReport::default()
        };
        let mut tasks = tokio::task::JoinSet::new();
        for group in groups {
            let me = self.clone();
            tasks.spawn(async move { me.deliver_group(group).await });
        }
        while let Some(done) = tasks.join_next().await {
            let Ok(updates) = done else {
                tracing::error!("a delivery task panicked; its rows are retried after the lease");
                continue;
            };
            for u in &updates {
                match u {
                    OutboundUpdate::Sent { .. } => report.delivered += 1,
                    OutboundUpdate::Retry { .. } => report.deferred += 1,
                    OutboundUpdate::Failed { .. } => report.bounced += 1,
                    OutboundUpdate::DelayNotified { .. } => {}
                }
            }
        }
        Ok(report)
    }

    /// Claims due rows for the free slots (the store keeps each domain within its limit), minus
    /// any this process is already delivering (a lease that ran out under a very slow attempt),
    /// grouped one message and domain per group.
    async fn claim(&self) -> Result<Vec<Vec<OutboundEntry>>, StoreError> {
        let busy = self
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len();
        let free = self.policy.concurrency.saturating_sub(busy);
        if free == 0 {
            return Ok(Vec::new());
        }
        let now = self.store.now();
        let rows = self
            .store
            .meta()
            .claim_outbound(
                now,
                Timestamp(now.0 + LEASE_SECS),
                free * 4,
                self.policy.per_domain_concurrency,
            )
            .await?;
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let rows: Vec<_> = rows
            .into_iter()
            .filter(|r| in_flight.insert(r.id))
            .collect();
        Ok(group_rows(rows))
    }

    /// Delivers one group, sends the notices it calls for, records the outcome, and frees the
    /// rows. Returns the outcome.
    async fn deliver_group(self: Arc<Self>, group: Vec<OutboundEntry>) -> Vec<OutboundUpdate> {
        let ids: Vec<i64> = group.iter().map(|r| r.id).collect();
        let (updates, notices) = self.attempt(group).await;
        // Notices go before the outcome is recorded: a crash in between repeats the notice
        // rather than losing it.
        for n in notices {
            self.notify_sender(n).await;
        }
        if let Err(e) = self
            .store
            .meta()
            .finish_outbound(updates.clone(), self.store.now())
            .await
        {
            tracing::error!(error = %e, "cannot record delivery outcomes; rows retry after the lease");
        }
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        for id in ids {
            in_flight.remove(&id);
        }
        drop(in_flight);
        self.wake.notify_one();
        updates
    }

    fn domain_slots(&self, domain: &str) -> Arc<Semaphore> {
        let mut map = self.domains.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, s| Arc::strong_count(s) > 1);
        }
        map.entry(domain.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.policy.per_domain_concurrency)))
            .clone()
    }

    /// Delivers one group (one message, one domain) and says what happened to each row, plus
    /// the notices the sender must get.
    async fn attempt(&self, group: Vec<OutboundEntry>) -> (Vec<OutboundUpdate>, Vec<Notice>) {
        let domain = group[0].recipient.domain().to_string();
        let domain_slots = self.domain_slots(&domain);
        let _slot = self.slots.clone().acquire_owned().await;
        let _domain_slot = domain_slots.acquire_owned().await;

        let raw = match self.store.outbound_raw(&group[0]).await {
            Ok(r) => r,
            Err(e) => {
                // The blob is gone: nothing can ever send this. Bounce rather than retry forever.
                let why = format!("the stored message is unreadable: {e}");
                return self.fail_all(&group, &why, Bytes::new());
            }
        };
        // RSA signing is CPU work: off the async workers.
        let (keys, bytes) = (self.dkim.clone(), raw.clone());
        let signature = tokio::task::spawn_blocking(move || keys.sign(&bytes))
            .await
            .unwrap_or_else(|e| Err(rampart_outbound::dkim::DkimError::Generate(e.to_string())));
        let signed = match signature {
            Ok(Some(sig)) => {
                let mut v = Vec::with_capacity(sig.len() + raw.len());
                v.extend_from_slice(sig.as_bytes());
                v.extend_from_slice(&raw);
                Bytes::from(v)
            }
            Ok(None) => raw.clone(),
            Err(e) => {
                tracing::error!(error = %e, queue_id = %group[0].queue_id, "DKIM signing failed; sending unsigned");
                raw.clone()
            }
        };
        let envelope = Envelope {
            mail_from: group[0].mail_from.clone(),
            recipients: group.iter().map(|e| e.recipient.to_string()).collect(),
        };
        let outcome = match self.router.route(&domain).await {
            Ok(route) => self.client.send(&route, &envelope, &signed).await,
            Err(e) => Err(e),
        };
        let now = self.store.now();
        let mut updates = Vec::with_capacity(group.len());
        let mut failed = Vec::new();
        let mut delayed = Vec::new();
        match outcome {
            Err(e) if e.permanent => {
                for row in &group {
                    updates.push(OutboundUpdate::Failed {
                        id: row.id,
                        error: e.message.clone(),
                    });
                    failed.push((row, e.message.clone(), e.remote.clone()));
                }
            }
            Err(e) => {
                for row in &group {
                    self.temporary(
                        row,
                        &e.message,
                        e.remote.clone(),
                        now,
                        &mut updates,
                        &mut failed,
                        &mut delayed,
                    );
                }
            }
            Ok(sent) => {
                let by_rcpt: BTreeMap<String, RcptStatus> = sent
                    .recipients
                    .into_iter()
                    .map(|r| (r.recipient.to_ascii_lowercase(), r.status))
                    .collect();
                let remote = Some(sent.host.clone());
                for row in &group {
                    match by_rcpt.get(&row.recipient.as_str().to_ascii_lowercase()) {
                        Some(RcptStatus::Delivered { reply }) => {
                            updates.push(OutboundUpdate::Sent {
                                id: row.id,
                                remote: format!(
                                    "{}[{}] {}; {}",
                                    sent.host,
                                    sent.addr.ip(),
                                    one_line(&reply.to_string()),
                                    sent.tls
                                ),
                            })
                        }
                        Some(RcptStatus::Permanent { reply }) => {
                            let why = format!(
                                "{}[{}] said: {}",
                                sent.host,
                                sent.addr.ip(),
                                one_line(&reply.to_string())
                            );
                            updates.push(OutboundUpdate::Failed {
                                id: row.id,
                                error: why.clone(),
                            });
                            failed.push((row, why, remote.clone()));
                        }
                        Some(RcptStatus::Temporary { reply }) => {
                            let why = format!(
                                "{}[{}] said: {}",
                                sent.host,
                                sent.addr.ip(),
                                one_line(&reply.to_string())
                            );
                            self.temporary(
                                row,
                                &why,
                                remote.clone(),
                                now,
                                &mut updates,
                                &mut failed,
                                &mut delayed,
                            );
                        }
                        None => {
                            let why = format!("{} gave no answer for this recipient", sent.host);
                            self.temporary(
                                row,
                                &why,
                                remote.clone(),
                                now,
                                &mut updates,
                                &mut failed,
                                &mut delayed,
                            );
                        }
                    }
                }
            }
        }
        let mut notices = Vec::new();
        if !failed.is_empty() {
            notices.push(self.notice(&group[0], &raw, DsnAction::Failed, &failed, now));
        }
        if !delayed.is_empty() {
            let until = group[0].created_at.0 + self.policy.give_up_secs;
            let rows: Vec<_> = delayed
                .iter()
                .map(|(r, w, m)| (*r, w.clone(), m.clone()))
                .collect();
            let mut n = self.notice(&group[0], &raw, DsnAction::Delayed, &rows, now);
            n.retry_until = Some(until);
            notices.push(n);
            for (row, _, _) in &delayed {
                updates.push(OutboundUpdate::DelayNotified { id: row.id });
            }
        }
        (updates, notices)
    }

    /// A temporary failure: retry with backoff, or give up once the message is too old; tell
    /// the sender once when it has waited long.
    #[allow(clippy::too_many_arguments)]
    fn temporary<'a>(
        &self,
        row: &'a OutboundEntry,
        why: &str,
        remote: Option<String>,
        now: Timestamp,
        updates: &mut Vec<OutboundUpdate>,
        failed: &mut Vec<(&'a OutboundEntry, String, Option<String>)>,
        delayed: &mut Vec<(&'a OutboundEntry, String, Option<String>)>,
    ) {
        let age = now.0 - row.created_at.0;
        if age >= self.policy.give_up_secs {
            let error = format!(
                "gave up after {} attempts over {} hours; last: {why}",
                row.attempts + 1,
                age / 3600
            );
            updates.push(OutboundUpdate::Failed {
                id: row.id,
                error: error.clone(),
            });
            failed.push((row, error, remote));
            return;
        }
        let next = Timestamp(now.0 + backoff(&self.policy, row.attempts, row.id) as i64);
        updates.push(OutboundUpdate::Retry {
            id: row.id,
            next_attempt_at: next,
            error: why.to_string(),
        });
        if self.policy.delay_notice_secs > 0
            && !row.delay_notified
            && age >= self.policy.delay_notice_secs
            && !row.mail_from.is_empty()
        {
            delayed.push((row, why.to_string(), remote));
        }
    }

    fn fail_all(
        &self,
        group: &[OutboundEntry],
        why: &str,
        raw: Bytes,
    ) -> (Vec<OutboundUpdate>, Vec<Notice>) {
        let now = self.store.now();
        let updates = group
            .iter()
            .map(|r| OutboundUpdate::Failed {
                id: r.id,
                error: why.to_string(),
            })
            .collect();
        let rows: Vec<_> = group.iter().map(|r| (r, why.to_string(), None)).collect();
        (
            updates,
            vec![self.notice(&group[0], &raw, DsnAction::Failed, &rows, now)],
        )
    }

    fn notice(
        &self,
        first: &OutboundEntry,
        raw: &Bytes,
        action: DsnAction,
        rows: &[(&OutboundEntry, String, Option<String>)],
        now: Timestamp,
    ) -> Notice {
        Notice {
            to: first.mail_from.clone(),
            account: first.account.clone(),
            queue_id: first.queue_id.clone(),
            arrival: first.created_at.0,
            original: raw.clone(),
            now: now.0,
            retry_until: None,
            recipients: rows
                .iter()
                .map(|(r, why, remote)| DsnRecipient {
                    recipient: r.recipient.to_string(),
                    action,
                    status: enhanced_status(why, action),
                    diagnostic: Some(why.clone()),
                    remote_mta: remote.clone(),
                    last_attempt: Some(now.0),
                    will_retry_until: None,
                })
                .collect(),
        }
    }

    /// Sends a bounce or delay notice to the sender: into their mailbox when they are local
    /// (always, for submitted mail), else queued with the null reverse path. A bounce never
    /// answers a bounce.
    async fn notify_sender(&self, n: Notice) {
        if n.to.is_empty() {
            return;
        }
        let mut recipients = n.recipients;
        if let Some(until) = n.retry_until {
            for r in &mut recipients {
                r.will_retry_until = Some(until);
            }
        }
        let raw = dsn::build(&dsn::Dsn {
            reporting_mta: &self.hostname,
            to: &n.to,
            original: &n.original,
            arrival: n.arrival,
            queue_id: &n.queue_id,
            recipients,
            now: n.now,
        });
        let summary = summarize(&raw);
        let to = match n.to.parse::<EmailAddress>() {
            Ok(a) => a,
            Err(_) => n.account.clone(),
        };
        let local = match self.store.meta().resolve(&to).await {
            Ok(Recipient::Accounts(a)) => a.into_iter().map(|a| a.address).collect::<Vec<_>>(),
            _ => Vec::new(),
        };
        let result = if local.is_empty() {
            self.store
                .enqueue_outbound(
                    Bytes::from(raw),
                    "",
                    std::slice::from_ref(&to),
                    &n.queue_id,
                    n.account.as_str(),
                )
                .await
                .map(|_| ())
        } else {
            self.store
                .deliver(
                    NewMessage {
                        raw: Bytes::from(raw),
                        summary,
                    },
                    &local,
                    Folder::Inbox,
                    "delivery",
                )
                .await
                .map(|_| ())
        };
        if let Err(e) = result {
            tracing::error!(queue_id = %n.queue_id, error = %e, "cannot file the delivery notice");
        }
    }
}

/// A bounce or delay notice waiting to be sent.
struct Notice {
    to: String,
    account: EmailAddress,
    queue_id: String,
    arrival: i64,
    original: Bytes,
    now: i64,
    retry_until: Option<i64>,
    recipients: Vec<DsnRecipient>,
}

/// Rows of one message to one domain, at most [`MAX_RCPTS`] per group.
fn group_rows(rows: Vec<OutboundEntry>) -> Vec<Vec<OutboundEntry>> {
    let mut groups: BTreeMap<(String, String, String, String), Vec<Vec<OutboundEntry>>> =
        BTreeMap::new();
    for row in rows {
        let key = (
            row.queue_id.clone(),
            row.blob.0.clone(),
            row.mail_from.clone(),
            row.recipient.domain().to_ascii_lowercase(),
        );
        let slot = groups.entry(key).or_default();
        match slot.last_mut() {
            Some(g) if g.len() < MAX_RCPTS => g.push(row),
            _ => slot.push(vec![row]),
        }
    }
    groups.into_values().flatten().collect()
}

/// Seconds until the next attempt: `retry_secs` doubling per attempt, capped, with up to 10%
/// jitter (from the row id, so it is stable) so a backlog does not retry in lockstep.
pub fn backoff(policy: &QueuePolicy, attempts: u32, id: i64) -> u64 {
    let base = policy
        .retry_secs
        .saturating_mul(1u64 << attempts.min(20))
        .min(policy.max_retry_secs);
    let jitter = (id.unsigned_abs().wrapping_mul(2_654_435_761) % 100) * base / 1000;
    base + jitter
}

/// The RFC 3463 code in a reply, or a generic one.
fn enhanced_status(why: &str, action: DsnAction) -> String {
    let found = why.split_whitespace().find(|w| {
        let parts: Vec<_> = w.split('.').collect();
        parts.len() == 3
            && matches!(parts[0], "2" | "4" | "5")
            && parts[1..]
                .iter()
                .all(|p| !p.is_empty() && p.len() <= 3 && p.chars().all(|c| c.is_ascii_digit()))
    });
    match (found, action) {
        (Some(code), DsnAction::Failed) if code.starts_with('5') => code.to_string(),
        (Some(code), DsnAction::Delayed) if code.starts_with('4') => code.to_string(),
        (_, DsnAction::Failed) => "5.0.0".into(),
        (_, DsnAction::Delayed) => "4.0.0".into(),
    }
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> QueuePolicy {
        QueuePolicy::from(&OutboundConfig::default())
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_small_jitter() {
        let p = policy();
        let first = backoff(&p, 0, 1);
        assert!((300..=330).contains(&first), "{first}");
        let third = backoff(&p, 2, 1);
        assert!((1200..=1320).contains(&third), "{third}");
        let late = backoff(&p, 40, 7);
        assert!((4 * 3600..=4 * 3600 + 1440).contains(&late), "{late}");
        assert_ne!(backoff(&p, 1, 1), backoff(&p, 1, 2), "jitter spreads rows");
    }

    #[test]
    fn enhanced_codes_come_from_the_reply_when_they_fit() {
        assert_eq!(
            enhanced_status(
                "mx[1.2.3.4] said: 550 5.1.1 no such user",
                DsnAction::Failed
            ),
            "5.1.1"
        );
        assert_eq!(
            enhanced_status("connection refused", DsnAction::Failed),
            "5.0.0"
        );
        assert_eq!(
            enhanced_status("said: 451 4.7.1 greylisted", DsnAction::Delayed),
            "4.7.1"
        );
        assert_eq!(
            enhanced_status("said: 451 4.7.1 greylisted", DsnAction::Failed),
            "5.0.0",
            "a give-up after temporary errors is still a failure"
        );
    }
}
