//! The [`Alerter`]: dedup, per-sink rate limits, bounded queues and one worker per sink.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rampart_model::config::AlertsConfig;
use rampart_model::{Clock, EmailAddress, SystemClock};
use serde::Serialize;
use tokio::sync::{mpsc, Notify};

use crate::{Alert, Severity, WebhookOptions};
use crate::{
    AlertError, AlertSink, Delivered, JsonLinesSink, MailSink, MailTransport, SyslogSink,
    WebhookSink,
};

/// Alerts waiting for one sink; beyond this they are dropped and counted.
pub const QUEUE_CAPACITY: usize = 1024;

/// Dedup keys remembered; beyond this the oldest are forgotten.
pub const MAX_DEDUP_KEYS: usize = 10_000;

/// A backstop over each sink's own timeouts: a send still running after this is abandoned.
const SEND_DEADLINE: Duration = Duration::from_secs(120);

/// The length of a rate-limit window, seconds.
const RATE_WINDOW_SECS: i64 = 60;

/// What [`Alerter::raise`] did with an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Raised {
    /// On at least one sink's queue.
    Queued,
    /// Same key within the dedup window: counted, and folded into the next alert of that key.
    Duplicate,
    /// Every sink's per-minute budget is spent: counted, and carried by each sink's next alert.
    RateLimited,
    /// Every sink that had budget left had a full queue: counted as dropped.
    Dropped,
    /// There are no sinks.
    Disabled,
}

/// Counters since the [`Alerter`] was built.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AlertStats {
    /// Alerts folded into an earlier one with the same key (shared by every sink).
    pub deduplicated: u64,
    /// One entry per sink, in the order given.
    pub sinks: Vec<SinkStats>,
}

/// Counters for one sink.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SinkStats {
    pub sink: String,
    pub sent: u64,
    pub failed: u64,
    /// Skipped because the sink's per-minute budget was spent.
    pub rate_limited: u64,
    /// Skipped because the sink's queue was full.
    pub dropped: u64,
    /// Queued or being sent right now.
    pub pending: u64,
}

/// Raises alerts to every sink, deduplicated and rate-limited, without blocking the caller.
/// Cheap to clone (all clones share the queues and counters); when the last clone is dropped the
/// workers send what is queued and stop.
#[derive(Clone)]
pub struct Alerter {
    inner: Arc<Inner>,
}

struct Inner {
    clock: Arc<dyn Clock>,
    dedup_secs: i64,
    max_per_minute: u32,
    state: Mutex<State>,
    sinks: Vec<SinkSlot>,
    deduplicated: AtomicU64,
    /// Notified whenever a worker finishes a send, for [`Alerter::flush`].
    progress: Arc<Notify>,
}

struct SinkSlot {
    name: String,
    queue: mpsc::Sender<Delivered>,
    counters: Arc<SinkCounters>,
}

#[derive(Default)]
struct SinkCounters {
    sent: AtomicU64,
    failed: AtomicU64,
    rate_limited: AtomicU64,
    dropped: AtomicU64,
    pending: AtomicU64,
}

/// Everything `raise` decides under its one lock.
#[derive(Default)]
struct State {
    dedup: HashMap<String, DedupEntry>,
    /// One per sink, same order as `Inner::sinks`.
    budgets: Vec<Budget>,
}

struct DedupEntry {
    /// When the last alert with this key was let through, seconds.
    sent_at: i64,
    /// Its severity: a more severe alert with the key is let through within the window.
    severity: Severity,
    /// Duplicates since then.
    folded: u64,
}

#[derive(Default)]
struct Budget {
    window_start: i64,
    used: u32,
    /// Alerts skipped since this sink's last queued alert.
    carried: u64,
}

impl Alerter {
    /// Alerts to `sinks`, each key at most once per `dedup` (zero: no dedup), each sink at most
    /// `max_per_minute` alerts a minute (zero: no limit), on the system clock.
    ///
    /// Spawns one worker per sink on the current Tokio runtime, or, called outside one, on a
    /// small runtime of its own in a background thread.
    pub fn new(sinks: Vec<Arc<dyn AlertSink>>, dedup: Duration, max_per_minute: u32) -> Self {
        Self::with_clock(sinks, dedup, max_per_minute, Arc::new(SystemClock))
    }

    /// [`Alerter::new`] with the clock that dedup windows and rate limits are measured on.
    pub fn with_clock(
        sinks: Vec<Arc<dyn AlertSink>>,
        dedup: Duration,
        max_per_minute: u32,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let progress = Arc::new(Notify::new());
        let mut slots = Vec::with_capacity(sinks.len());
        let mut workers: Vec<Pin<Box<dyn Future<Output = ()> + Send>>> = Vec::new();
        for sink in sinks {
            let (queue, rx) = mpsc::channel(QUEUE_CAPACITY);
            let counters = Arc::new(SinkCounters::default());
            slots.push(SinkSlot {
                name: sink.name().to_string(),
                queue,
                counters: counters.clone(),
            });
            workers.push(Box::pin(run_worker(sink, rx, counters, progress.clone())));
        }
        spawn_workers(workers);
        let state = State {
            dedup: HashMap::new(),
            budgets: slots.iter().map(|_| Budget::default()).collect(),
        };
        Alerter {
            inner: Arc::new(Inner {
                clock,
                dedup_secs: i64::try_from(dedup.as_secs()).unwrap_or(i64::MAX),
                max_per_minute,
                state: Mutex::new(state),
                sinks: slots,
                deduplicated: AtomicU64::new(0),
                progress,
            }),
        }
    }

    /// The sinks `[alerts]` asks for, on the system clock. See [`sinks_from_config`].
    pub fn from_config(
        cfg: &AlertsConfig,
        hostname: &str,
        mail: Option<Arc<dyn MailTransport>>,
    ) -> Result<Self, AlertError> {
        Ok(Self::new(
            sinks_from_config(cfg, hostname, mail)?,
            Duration::from_secs(cfg.dedup_minutes.saturating_mul(60)),
            cfg.max_per_minute,
        ))
    }

    /// An alerter with no sinks: every alert is [`Raised::Disabled`].
    pub fn disabled() -> Self {
        Self::new(Vec::new(), Duration::ZERO, 0)
    }

    /// Whether there is at least one sink.
    pub fn is_enabled(&self) -> bool {
        !self.inner.sinks.is_empty()
    }

    /// Queues `alert` for every sink whose budget allows it. Synchronous and non-blocking.
    pub fn raise(&self, alert: Alert) -> Raised {
        let inner = &*self.inner;
        if inner.sinks.is_empty() {
            return Raised::Disabled;
        }
        let now = inner.clock.now().0;
        let mut state = lock(&inner.state);
        let Some(suppressed) = state.admit_key(&alert.key, alert.severity, now, inner.dedup_secs)
        else {
            inner.deduplicated.fetch_add(1, Ordering::Relaxed);
            return Raised::Duplicate;
        };
        let (mut queued, mut dropped) = (false, false);
        for (slot, budget) in inner.sinks.iter().zip(state.budgets.iter_mut()) {
            if !budget.admit(now, inner.max_per_minute) {
                budget.carried = budget.carried.saturating_add(1);
                slot.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let rate_limited = std::mem::take(&mut budget.carried);
            let delivered = Delivered {
                alert: alert.clone(),
                suppressed,
                rate_limited,
            };
            slot.counters.pending.fetch_add(1, Ordering::SeqCst);
            if slot.queue.try_send(delivered).is_ok() {
                queued = true;
                continue;
            }
            // Full (or the worker is gone): give back the budget and the carried count.
            slot.counters.pending.fetch_sub(1, Ordering::SeqCst);
            budget.used = budget.used.saturating_sub(1);
            budget.carried = rate_limited;
            dropped = true;
            let before = slot.counters.dropped.fetch_add(1, Ordering::Relaxed);
            if before % 1000 == 0 {
                tracing::warn!(
                    sink = %slot.name,
                    dropped = before + 1,
                    "alert queue full, alert dropped"
                );
            }
        }
        if queued {
            Raised::Queued
        } else if dropped {
            Raised::Dropped
        } else {
            Raised::RateLimited
        }
    }

    /// Counters for dedup and for each sink.
    pub fn stats(&self) -> AlertStats {
        AlertStats {
            deduplicated: self.inner.deduplicated.load(Ordering::Relaxed),
            sinks: self
                .inner
                .sinks
                .iter()
                .map(|slot| SinkStats {
                    sink: slot.name.clone(),
                    sent: slot.counters.sent.load(Ordering::Relaxed),
                    failed: slot.counters.failed.load(Ordering::Relaxed),
                    rate_limited: slot.counters.rate_limited.load(Ordering::Relaxed),
                    dropped: slot.counters.dropped.load(Ordering::Relaxed),
                    pending: slot.counters.pending.load(Ordering::SeqCst),
                })
                .collect(),
        }
    }

    /// Waits until every queue is empty and no send is running, or `timeout` has passed. Returns
    /// whether everything was sent (or failed). For tests and graceful shutdown.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let progress = self.inner.progress.notified();
            tokio::pin!(progress);
            // Register before checking, so a send finishing in between still wakes us.
            progress.as_mut().enable();
            if self.pending() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, progress).await.is_err() {
                return self.pending() == 0;
            }
        }
    }

    fn pending(&self) -> u64 {
        self.inner
            .sinks
            .iter()
            .map(|slot| slot.counters.pending.load(Ordering::SeqCst))
            .sum()
    }
}

impl std::fmt::Debug for Alerter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerter")
            .field(
                "sinks",
                &self.inner.sinks.iter().map(|s| &s.name).collect::<Vec<_>>(),
            )
            .field("dedup_secs", &self.inner.dedup_secs)
            .field("max_per_minute", &self.inner.max_per_minute)
            .finish()
    }
}

/// The sinks `[alerts]` asks for, in a fixed order: webhook, JSON lines, syslog, mail.
///
/// `hostname` is the alert's source (webhook and JSON lines), the syslog HOSTNAME and the
/// domain of the mail's `postmaster@` sender. `admin_address` needs `mail`; without one (the CLI
/// may have none) the mail sink is left out with a warning.
pub fn sinks_from_config(
    cfg: &AlertsConfig,
    hostname: &str,
    mail: Option<Arc<dyn MailTransport>>,
) -> Result<Vec<Arc<dyn AlertSink>>, AlertError> {
    let mut sinks: Vec<Arc<dyn AlertSink>> = Vec::new();
    match (&cfg.webhook_url, &cfg.webhook_secret) {
        (Some(url), secret) => sinks.push(Arc::new(WebhookSink::with_options(
            url,
            secret.as_deref(),
            hostname,
            WebhookOptions::default(),
        )?)),
        (None, Some(_)) => {
            return Err(AlertError::config(
                "webhook_secret is set but webhook_url is not",
            ))
        }
        (None, None) => {}
    }
    if let Some(path) = &cfg.jsonl_path {
        sinks.push(Arc::new(JsonLinesSink::new(path, hostname)?));
    }
    if let Some(target) = &cfg.syslog {
        sinks.push(Arc::new(SyslogSink::new(target, hostname)?));
    }
    if let Some(to) = &cfg.admin_address {
        let to: EmailAddress = to
            .parse()
            .map_err(|e| AlertError::config(format!("admin_address {to:?}: {e}")))?;
        match mail {
            Some(transport) => {
                sinks.push(Arc::new(MailSink::new(transport, hostname, to.as_str())?));
            }
            None => tracing::warn!(
                "alerts.admin_address is set but no mail transport is available here; \
                 alerts are not mailed from this process"
            ),
        }
    }
    Ok(sinks)
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding the lock cannot leave the maps inconsistent in a way that matters.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl State {
    /// `Some(folded duplicates)` when an alert with `key` may go out now, `None` for a duplicate:
    /// the key was let through less than `window` seconds ago at the same or a higher severity.
    fn admit_key(&mut self, key: &str, severity: Severity, now: i64, window: i64) -> Option<u64> {
        if window <= 0 {
            return Some(0);
        }
        if let Some(entry) = self.dedup.get_mut(key) {
            if now < entry.sent_at {
                // The clock went back: restart the window rather than suppress until it catches up.
                entry.sent_at = now;
            }
            if now - entry.sent_at < window && severity <= entry.severity {
                entry.folded = entry.folded.saturating_add(1);
                return None;
            }
            // After the window, or an escalation: send, carrying what was folded.
            let folded = std::mem::take(&mut entry.folded);
            entry.sent_at = now;
            entry.severity = severity;
            return Some(folded);
        }
        self.evict(now, window);
        self.dedup.insert(
            key.to_string(),
            DedupEntry {
                sent_at: now,
                severity,
                folded: 0,
            },
        );
        Some(0)
    }

    /// Keeps the dedup map under [`MAX_DEDUP_KEYS`]: first forgets expired keys, then the oldest,
    /// down to nine tenths, so the scan runs at most once per thousand new keys.
    fn evict(&mut self, now: i64, window: i64) {
        if self.dedup.len() < MAX_DEDUP_KEYS {
            return;
        }
        self.dedup
            .retain(|_, e| now.saturating_sub(e.sent_at) < window);
        let target = MAX_DEDUP_KEYS / 10 * 9;
        if self.dedup.len() <= target {
            return;
        }
        let excess = self.dedup.len() - target;
        let mut times: Vec<i64> = self.dedup.values().map(|e| e.sent_at).collect();
        let (_, cutoff, _) = times.select_nth_unstable(excess - 1);
        let cutoff = *cutoff;
        self.dedup.retain(|_, e| e.sent_at > cutoff);
    }
}

impl Budget {
    fn admit(&mut self, now: i64, max_per_minute: u32) -> bool {
        if max_per_minute == 0 {
            return true;
        }
        if now < self.window_start || now - self.window_start >= RATE_WINDOW_SECS {
            self.window_start = now;
            self.used = 0;
        }
        if self.used < max_per_minute {
            self.used += 1;
            true
        } else {
            false
        }
    }
}

/// Sends one sink's alerts in order until every [`Alerter`] clone is gone and the queue is empty.
async fn run_worker(
    sink: Arc<dyn AlertSink>,
    mut queue: mpsc::Receiver<Delivered>,
    counters: Arc<SinkCounters>,
    progress: Arc<Notify>,
) {
    let name = sink.name().to_string();
    while let Some(delivered) = queue.recv().await {
        let kind = delivered.alert.kind.clone();
        let key = delivered.alert.key.clone();
        // Its own task, so a panicking sink costs one alert, not the worker.
        let task_sink = sink.clone();
        let mut task = tokio::spawn(async move { task_sink.send(&delivered).await });
        let result = match tokio::time::timeout(SEND_DEADLINE, &mut task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(AlertError::Sink(name.clone(), join.to_string())),
            Err(_) => {
                task.abort();
                Err(AlertError::Timeout {
                    what: format!("sink {name}"),
                    after: SEND_DEADLINE,
                })
            }
        };
        match result {
            Ok(()) => {
                counters.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(sink = %name, %kind, %key, %error, "alert not delivered");
            }
        }
        counters.pending.fetch_sub(1, Ordering::SeqCst);
        progress.notify_waiters();
    }
}

fn spawn_workers(workers: Vec<Pin<Box<dyn Future<Output = ()> + Send>>>) {
    if workers.is_empty() {
        return;
    }
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        for worker in workers {
            handle.spawn(worker);
        }
        return;
    }
    // No runtime here (a synchronous caller): run the workers on one of our own.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the alert runtime; alerts will be dropped");
            return;
        }
    };
    let handles: Vec<_> = workers.into_iter().map(|w| runtime.spawn(w)).collect();
    let spawned = std::thread::Builder::new()
        .name("rampart-alert".into())
        .spawn(move || {
            runtime.block_on(async move {
                for handle in handles {
                    let _ = handle.await;
                }
            })
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "cannot start the alert thread; alerts will be dropped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: Severity = Severity::Info;

    #[test]
    fn dedup_map_stays_bounded_and_keeps_recent_keys() {
        let mut state = State::default();
        for i in 0..(MAX_DEDUP_KEYS as i64 + 500) {
            assert_eq!(
                state.admit_key(&format!("k{i}"), INFO, i, 1_000_000),
                Some(0)
            );
            assert!(state.dedup.len() <= MAX_DEDUP_KEYS);
        }
        let newest = format!("k{}", MAX_DEDUP_KEYS + 499);
        assert_eq!(state.admit_key(&newest, INFO, 20_000, 1_000_000), None);
        // The oldest were forgotten, so they pass again.
        assert_eq!(state.admit_key("k0", INFO, 20_000, 1_000_000), Some(0));
    }

    #[test]
    fn eviction_prefers_expired_keys() {
        let mut state = State::default();
        for i in 0..MAX_DEDUP_KEYS {
            state.admit_key(&format!("old{i}"), INFO, 0, 60);
        }
        state.admit_key("fresh", INFO, 100, 60);
        assert_eq!(state.dedup.len(), 1);
    }

    #[test]
    fn same_second_burst_does_not_panic_on_eviction() {
        let mut state = State::default();
        for i in 0..(MAX_DEDUP_KEYS * 2) {
            state.admit_key(&format!("k{i}"), INFO, 5, 60);
        }
        assert!(state.dedup.len() <= MAX_DEDUP_KEYS);
    }

    #[test]
    fn clock_going_back_restarts_the_window() {
        let mut state = State::default();
        assert_eq!(state.admit_key("k", INFO, 10_000, 60), Some(0));
        assert_eq!(state.admit_key("k", INFO, 100, 60), None);
        assert_eq!(state.admit_key("k", INFO, 170, 60), Some(1));
    }

    #[test]
    fn budget_resets_each_minute_and_zero_means_unlimited() {
        let mut budget = Budget::default();
        assert!(budget.admit(0, 2));
        assert!(budget.admit(1, 2));
        assert!(!budget.admit(59, 2));
        assert!(budget.admit(60, 2));
        let mut unlimited = Budget::default();
        assert!((0..10_000).all(|_| unlimited.admit(0, 0)));
    }
}
