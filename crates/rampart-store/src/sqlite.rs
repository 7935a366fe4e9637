//! The embedded metadata backend: one SQLite database in WAL mode.
//!
//! Writes go to a single writer thread that commits whatever has queued up as one transaction
//! (group commit): each job runs inside its own savepoint so one failing job never takes its
//! neighbours down, and every job's caller hears back only after the shared `COMMIT` (with
//! `synchronous=FULL`) has reached the disk. Reads use a small pool of connections; WAL lets them
//! run beside the writer, and beside other processes (the admin CLI) on the same file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rampart_model::{
    config::ArchiveConfig, ArchiveEntry, ArchivePurge, AuditEntry, Checkpoint, LegalHold,
    LegalHoldKind, Role,
};
use rampart_model::{
    Account, AccountId, Alias, ApiSession, AppPassword, BlobId, Challenge, ChallengeStatus,
    Direction, Domain, EmailAddress, Event, EventKind, Flag, FlagChange, Folder, Hold, HoldStatus,
    ImapMessage, MailboxInfo, MessageId, MessageMeta, NewAccount, NewHold, OutboundEntry,
    PolicyRecord, Protocol, QuarantineEntry, QuarantineStatus, SourceBlock, Timestamp, TotpState,
    Trust,
};
use rusqlite::{params, Connection, OptionalExtension, Row};
use tokio::sync::oneshot;

use crate::meta::{
    Append, ContainSummary, EventFilter, Filing, MetaStore, NewOutbound, NewQuarantine,
    OutboundUpdate, Recipient,
};
use crate::StoreError;

mod compliance;
mod holds;
mod identity;
mod imap;
mod outbound;

/// A column that holds a value the model refuses (a bad address, an unknown status): a
/// conversion error naming the column, as rusqlite reports its own.
pub(super) fn bad(i: usize, e: impl ToString) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.to_string().into())
}

/// Jobs a write transaction may hold; bounds the latency one batch adds to the next.
const MAX_BATCH: usize = 512;

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE domains(
    name TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
);
CREATE TABLE accounts(
    id INTEGER PRIMARY KEY,
    address TEXT NOT NULL UNIQUE,
    domain TEXT NOT NULL REFERENCES domains(name),
    name TEXT,
    department TEXT,
    level TEXT,
    quota_bytes INTEGER,
    used_bytes INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE TABLE aliases(
    address TEXT NOT NULL,
    domain TEXT NOT NULL REFERENCES domains(name),
    target_id INTEGER NOT NULL REFERENCES accounts(id),
    PRIMARY KEY(address, target_id)
);
CREATE TABLE mailboxes(
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uidnext INTEGER NOT NULL DEFAULT 1,
    UNIQUE(account_id, name)
);
CREATE TABLE messages(
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),
    uid INTEGER NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    from_addr TEXT NOT NULL,
    to_addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    date TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    flags INTEGER NOT NULL DEFAULT 0,
    deleted_at INTEGER
);
CREATE INDEX messages_by_account ON messages(account_id, deleted_at, id);
CREATE INDEX messages_by_mailbox ON messages(mailbox_id, uid);
CREATE INDEX messages_by_blob ON messages(blob);
CREATE INDEX messages_deleted ON messages(deleted_at) WHERE deleted_at IS NOT NULL;
CREATE TABLE events(
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    subject TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX events_by_subject ON events(subject, id);
"#,
    r#"
CREATE TABLE quarantine(
    id INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    direction TEXT NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    mail_from TEXT NOT NULL,
    recipients TEXT NOT NULL,
    from_addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    score REAL NOT NULL,
    report TEXT NOT NULL,
    status TEXT NOT NULL,
    decided_at INTEGER,
    decided_by TEXT
);
CREATE INDEX quarantine_by_status ON quarantine(status, id);
CREATE INDEX quarantine_by_blob ON quarantine(blob);
"#,
    r#"
CREATE TABLE user_models(
    account_id INTEGER PRIMARY KEY REFERENCES accounts(id),
    model BLOB NOT NULL,
    updated_at INTEGER NOT NULL
);
"#,
    // Identities and login-risk state. Tokens and app passwords are stored as the caller's
    // hashes; the TOTP secret is the one secret kept as is.
    r#"
CREATE TABLE app_passwords(
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    protocols TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX app_passwords_by_account ON app_passwords(account_id, id);
CREATE TABLE api_sessions(
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    ip TEXT,
    user_agent TEXT,
    mfa INTEGER NOT NULL
);
CREATE INDEX api_sessions_live_by_account ON api_sessions(account_id, id) WHERE revoked_at IS NULL;
CREATE TABLE totp(
    account_id INTEGER PRIMARY KEY REFERENCES accounts(id),
    secret BLOB NOT NULL,
    confirmed INTEGER NOT NULL,
    last_step INTEGER,
    created_at INTEGER NOT NULL
);
CREATE TABLE risk_profiles(
    account_id INTEGER PRIMARY KEY REFERENCES accounts(id),
    profile BLOB NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE source_blocks(
    id INTEGER PRIMARY KEY,
    cidr TEXT NOT NULL UNIQUE,
    reason TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    actor TEXT NOT NULL
);
CREATE TABLE challenges(
    id TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    kind TEXT NOT NULL CHECK(kind IN ('totp', 'approval')),
    protocol TEXT NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT,
    device_id TEXT,
    reasons TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK(status IN ('pending', 'approved', 'denied', 'expired', 'completed')),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    decided_at INTEGER,
    decided_by TEXT
);
CREATE INDEX challenges_pending_by_account ON challenges(account_id, created_at)
    WHERE status = 'pending';
CREATE TABLE trust(
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    kind TEXT NOT NULL CHECK(kind IN ('ip', 'device')),
    value TEXT NOT NULL,
    until INTEGER NOT NULL,
    PRIMARY KEY(account_id, kind, value)
) WITHOUT ROWID;
CREATE TABLE login_policies(
    scope_kind TEXT NOT NULL CHECK(scope_kind IN ('org', 'department', 'level', 'user')),
    scope_value TEXT NOT NULL,
    policy TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY(scope_kind, scope_value)
);
"#,
    // 5: the outbound queue (submission's remote recipients), one row per recipient.
    r#"
CREATE TABLE outbound_queue(
    id INTEGER PRIMARY KEY,
    queue_id TEXT NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    mail_from TEXT NOT NULL,
    rcpt TEXT NOT NULL,
    account TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued' CHECK(status IN ('queued', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX outbound_due ON outbound_queue(next_attempt_at) WHERE status = 'queued';
CREATE INDEX outbound_by_blob ON outbound_queue(blob);
"#,
    // 6: outbound messages held by data-leak prevention.
    r#"
CREATE TABLE holds(
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK(kind IN ('sender', 'admin')),
    account TEXT NOT NULL,
    mail_from TEXT NOT NULL,
    recipients TEXT NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    subject TEXT NOT NULL,
    rule TEXT NOT NULL,
    findings TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'held' CHECK(status IN ('held', 'released', 'rejected', 'expired')),
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    decided_at INTEGER,
    decided_by TEXT
);
CREATE INDEX holds_by_account ON holds(account, id);
CREATE INDEX holds_due ON holds(expires_at) WHERE status = 'held';
CREATE INDEX holds_by_blob ON holds(blob);
"#,
    // 7: delivery state on the outbound queue (claim leases, held rows, the remote answer),
    // containment and the sending hold on accounts.
    r#"
CREATE TABLE outbound_queue_new(
    id INTEGER PRIMARY KEY,
    queue_id TEXT NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    mail_from TEXT NOT NULL,
    rcpt TEXT NOT NULL,
    account TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued'
        CHECK(status IN ('queued', 'sending', 'sent', 'failed', 'held')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    lease_until INTEGER,
    last_attempt_at INTEGER,
    remote TEXT,
    delay_notified INTEGER NOT NULL DEFAULT 0
);
INSERT INTO outbound_queue_new(id, queue_id, blob, size, mail_from, rcpt, account, status,
    attempts, next_attempt_at, last_error, created_at)
    SELECT id, queue_id, blob, size, mail_from, rcpt, account, status, attempts,
    next_attempt_at, last_error, created_at FROM outbound_queue;
DROP TABLE outbound_queue;
ALTER TABLE outbound_queue_new RENAME TO outbound_queue;
CREATE INDEX outbound_due ON outbound_queue(next_attempt_at) WHERE status = 'queued';
CREATE INDEX outbound_leased ON outbound_queue(lease_until) WHERE status = 'sending';
CREATE INDEX outbound_by_blob ON outbound_queue(blob);
CREATE INDEX outbound_by_account ON outbound_queue(account, status);
CREATE INDEX outbound_by_queue_id ON outbound_queue(queue_id);
ALTER TABLE accounts ADD COLUMN contained_at INTEGER;
ALTER TABLE accounts ADD COLUMN contain_reason TEXT;
ALTER TABLE accounts ADD COLUMN password_reset_required INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN step_up_required INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN sending_held_at INTEGER;
"#,
    // 8: IMAP. Subscriptions and CONDSTORE mod-sequences on mailboxes (with the visible-message
    // count that sessions poll), mod-sequences and keywords on messages, where a message of a
    // deleted mailbox came from, and the highest UIDVALIDITY an account ever used.
    r#"
ALTER TABLE mailboxes ADD COLUMN subscribed INTEGER NOT NULL DEFAULT 1;
ALTER TABLE mailboxes ADD COLUMN highest_modseq INTEGER NOT NULL DEFAULT 1;
ALTER TABLE mailboxes ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN modseq INTEGER NOT NULL DEFAULT 1;
ALTER TABLE messages ADD COLUMN keywords TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN origin_mailbox TEXT;
ALTER TABLE accounts ADD COLUMN last_uidvalidity INTEGER NOT NULL DEFAULT 0;
UPDATE mailboxes SET message_count =
    (SELECT count(*) FROM messages m WHERE m.mailbox_id = mailboxes.id AND m.deleted_at IS NULL);
UPDATE accounts SET last_uidvalidity =
    coalesce((SELECT max(uidvalidity) FROM mailboxes b WHERE b.account_id = accounts.id), 0);
CREATE INDEX messages_live_by_uid ON messages(mailbox_id, uid) WHERE deleted_at IS NULL;
CREATE INDEX messages_live_by_modseq ON messages(mailbox_id, modseq) WHERE deleted_at IS NULL;
"#,
    // 9: compliance. The audit chain (a hash per event row, signed checkpoints), account roles,
    // the archive journal (one row per distinct blob, the local accounts it concerned) and legal
    // holds. Hashes of older rows and the append-only triggers are added in Rust after this runs
    // (`compliance::seal`).
    r#"
ALTER TABLE events ADD COLUMN hash TEXT;
CREATE INDEX events_by_at ON events(at);
CREATE INDEX events_by_actor ON events(actor, id);
CREATE INDEX events_by_kind ON events(kind, id);
CREATE TABLE audit_checkpoints(
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    event_id INTEGER NOT NULL,
    hash TEXT NOT NULL,
    public_key TEXT NOT NULL,
    signature TEXT NOT NULL
);
ALTER TABLE accounts ADD COLUMN role TEXT NOT NULL DEFAULT 'user'
    CHECK(role IN ('user', 'admin', 'auditor'));
CREATE TABLE archive(
    id INTEGER PRIMARY KEY,
    blob TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    at INTEGER NOT NULL,
    direction TEXT NOT NULL,
    mail_from TEXT NOT NULL,
    recipients TEXT NOT NULL,
    from_addr TEXT NOT NULL,
    subject TEXT NOT NULL
);
CREATE INDEX archive_by_at ON archive(at);
CREATE TABLE archive_parties(
    archive_id INTEGER NOT NULL REFERENCES archive(id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    PRIMARY KEY(archive_id, address)
) WITHOUT ROWID;
CREATE INDEX archive_parties_by_address ON archive_parties(address);
CREATE TABLE legal_holds(
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK(kind IN ('person', 'search')),
    target TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    released_at INTEGER,
    released_by TEXT
);
"#,
    // 10: dashboard rollups, kept by `compliance::append_event` in the same transaction as each
    // event: counts per hour and kind (Junk deliveries apart), and denied/challenged logins per
    // day and account or source address. The dashboard reads hundreds of rows, not millions.
    r#"
CREATE TABLE event_rollup(
    hour INTEGER NOT NULL,
    kind TEXT NOT NULL,
    junk INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY(hour, kind, junk)
) WITHOUT ROWID;
CREATE TABLE login_rollup(
    day INTEGER NOT NULL,
    who_kind TEXT NOT NULL CHECK(who_kind IN ('account', 'source')),
    who TEXT NOT NULL,
    denied INTEGER NOT NULL,
    challenged INTEGER NOT NULL,
    PRIMARY KEY(day, who_kind, who)
) WITHOUT ROWID;
INSERT INTO event_rollup(hour, kind, junk, n)
    SELECT at / 3600, kind,
        kind = 'message_delivered' AND coalesce(json_extract(detail, '$.folder'), '') = 'Junk',
        count(*)
    FROM events GROUP BY 1, 2, 3;
INSERT INTO login_rollup(day, who_kind, who, denied, challenged)
    SELECT at / 86400, 'account', subject,
        sum(kind IN ('login_denied', 'login_blocked')), sum(kind = 'login_challenged')
    FROM events
    WHERE kind IN ('login_denied', 'login_blocked', 'login_challenged') AND subject IS NOT NULL
    GROUP BY 1, 3;
INSERT INTO login_rollup(day, who_kind, who, denied, challenged)
    SELECT at / 86400, 'source', json_extract(detail, '$.ip'),
        sum(kind IN ('login_denied', 'login_blocked')), sum(kind = 'login_challenged')
    FROM events
    WHERE kind IN ('login_denied', 'login_blocked', 'login_challenged')
        AND json_extract(detail, '$.ip') IS NOT NULL
    GROUP BY 1, 3;
"#,
];

type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A write job runs on the writer thread, given the connection (or why the transaction could not
/// start), and returns whether it succeeded plus what to tell its caller once the commit is known.
type Job = Box<dyn FnOnce(Result<&Connection, &str>) -> (bool, Completion) + Send>;

/// [`MetaStore`] on a SQLite file.
pub struct SqliteMetaStore {
    jobs: Mutex<mpsc::Sender<Job>>,
    readers: Arc<ReaderPool>,
}

struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
    )?;
    Ok(conn)
}

impl SqliteMetaStore {
    /// Opens (creating and migrating if needed) the database at `path` and starts its writer.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let writer = open_connection(path)?;
        migrate(&writer)?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("rampart-meta-writer".into())
            .spawn(move || run_writer(writer, rx))?;
        Ok(SqliteMetaStore {
            jobs: Mutex::new(tx),
            readers: Arc::new(ReaderPool {
                path: path.to_path_buf(),
                idle: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Runs `f` inside the next group-committed write transaction.
    async fn write<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<R, StoreError>>();
        let job: Job = Box::new(move |conn| {
            let result = match conn {
                Ok(conn) => f(conn),
                Err(e) => Err(StoreError::Backend(format!(
                    "could not start a write transaction: {e}"
                ))),
            };
            let ok = result.is_ok();
            let completion: Completion = Box::new(move |commit| {
                let outcome = match commit {
                    Ok(()) => result,
                    Err(e) => Err(StoreError::Backend(format!("commit failed: {e}"))),
                };
                let _ = tx.send(outcome);
            });
            (ok, completion)
        });
        self.jobs
            .lock()
            .map_err(|_| StoreError::Backend("writer lock poisoned".into()))?
            .send(job)
            .map_err(|_| StoreError::Backend("metadata writer has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Backend("metadata writer dropped a job".into()))?
    }

    async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let pool = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || {
            let conn = match pool.idle.lock().ok().and_then(|mut idle| idle.pop()) {
                Some(conn) => conn,
                None => open_connection(&pool.path)?,
            };
            let result = f(&conn);
            if let Ok(mut idle) = pool.idle.lock() {
                if idle.len() < 8 {
                    idle.push(conn);
                }
            }
            result
        })
        .await?
    }
}

/// Brings the schema up to date, each migration in its own transaction with its Rust step (if
/// any), so a crash leaves the database at one version or the next, never between.
fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        return Err(StoreError::Invalid(format!(
            "database schema version {version} is newer than this build knows ({}); upgrade rampart",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let to = i + 1;
        let step = conn
            .execute_batch(&format!("BEGIN IMMEDIATE; {sql};"))
            .map_err(StoreError::from)
            .and_then(|()| match to {
                9 => compliance::chain_and_seal(conn),
                _ => Ok(()),
            })
            .and_then(
                |()| Ok(conn.execute_batch(&format!("PRAGMA user_version = {to}; COMMIT;"))?),
            );
        if let Err(e) = step {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e);
        }
    }
    Ok(())
}

fn run_writer(conn: Connection, jobs: mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut completions = Vec::with_capacity(batch.len());
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            // Most likely another process held the write lock past the busy timeout.
            let msg = e.to_string();
            tracing::error!(error = %msg, "metadata write transaction could not start");
            for job in batch {
                let (_, completion) = job(Err(&msg));
                completion(Err(msg.clone()));
            }
            continue;
        }
        for job in batch {
            let _ = conn.execute_batch("SAVEPOINT job");
            let (ok, completion) = job(Ok(&conn));
            let _ = if ok {
                conn.execute_batch("RELEASE job")
            } else {
                conn.execute_batch("ROLLBACK TO job; RELEASE job")
            };
            completions.push(completion);
        }
        let committed = conn.execute_batch("COMMIT").map_err(|e| e.to_string());
        if committed.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for completion in completions {
            completion(committed.clone());
        }
    }
}

fn row_to_account(r: &Row<'_>) -> rusqlite::Result<Account> {
    let address: String = r.get("address")?;
    Ok(Account {
        id: AccountId(r.get("id")?),
        address: address.parse().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })?,
        name: r.get("name")?,
        department: r.get("department")?,
        level: r.get("level")?,
        quota_bytes: r.get::<_, Option<i64>>("quota_bytes")?.map(|q| q as u64),
        used_bytes: r.get::<_, i64>("used_bytes")?.max(0) as u64,
        disabled: r.get::<_, i64>("disabled")? != 0,
        has_password: r.get::<_, Option<String>>("password_hash")?.is_some(),
        created_at: Timestamp(r.get("created_at")?),
        contained_at: r.get::<_, Option<i64>>("contained_at")?.map(Timestamp),
        contain_reason: r.get("contain_reason")?,
        password_reset_required: r.get::<_, i64>("password_reset_required")? != 0,
        step_up_required: r.get::<_, i64>("step_up_required")? != 0,
        sending_held_at: r.get::<_, Option<i64>>("sending_held_at")?.map(Timestamp),
        role: r
            .get::<_, String>("role")?
            .parse()
            .map_err(|e: String| bad(0, e))?,
    })
}

const ACCOUNT_COLUMNS: &str = "id, address, name, department, level, quota_bytes, used_bytes, \
     password_hash, disabled, created_at, contained_at, contain_reason, password_reset_required, \
     step_up_required, sending_held_at, role";

fn account_by_address(conn: &Connection, address: &str) -> Result<Option<Account>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE address = ?1"),
            [address],
            row_to_account,
        )
        .optional()?)
}

fn require_account(conn: &Connection, address: &EmailAddress) -> Result<Account, StoreError> {
    account_by_address(conn, address.as_str())?
        .ok_or_else(|| StoreError::NotFound(format!("account {address}")))
}

/// A message of a deleted mailbox waits in INBOX's rows but is listed under its old mailbox.
const MESSAGE_COLUMNS: &str =
    "m.id, a.address, coalesce(m.origin_mailbox, b.name) AS folder, m.uid, m.blob, m.size, \
     m.from_addr, m.to_addr, m.subject, m.date, m.received_at, m.flags, m.deleted_at";
const MESSAGE_FROM: &str =
    "messages m JOIN accounts a ON a.id = m.account_id JOIN mailboxes b ON b.id = m.mailbox_id";

fn row_to_message(r: &Row<'_>) -> rusqlite::Result<MessageMeta> {
    let address: String = r.get(1)?;
    let mailbox: String = r.get(2)?;
    Ok(MessageMeta {
        id: MessageId(r.get(0)?),
        account: address.parse().map_err(|e| bad(1, format!("{e}")))?,
        folder: Folder::of_mailbox(&mailbox),
        mailbox,
        uid: r.get::<_, i64>(3)? as u32,
        blob: BlobId(r.get(4)?),
        size: r.get::<_, i64>(5)? as u64,
        from: r.get(6)?,
        to: r.get(7)?,
        subject: r.get(8)?,
        date: r.get(9)?,
        received_at: Timestamp(r.get(10)?),
        flags: Flag::from_bits(r.get::<_, i64>(11)? as u32),
        deleted_at: r.get::<_, Option<i64>>(12)?.map(Timestamp),
        recoverable_until: None,
    })
}

fn message_by_id(
    conn: &Connection,
    account: &EmailAddress,
    id: MessageId,
) -> Result<Option<MessageMeta>, StoreError> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM} WHERE m.id = ?1 AND a.address = ?2"
            ),
            params![id.0, account.as_str()],
            row_to_message,
        )
        .optional()?)
}

fn insert_event(
    conn: &Connection,
    kind: EventKind,
    at: Timestamp,
    actor: &str,
    subject: Option<&str>,
    detail: BTreeMap<String, String>,
) -> Result<Event, StoreError> {
    let json = serde_json::to_string(&detail).map_err(|e| StoreError::Backend(e.to_string()))?;
    let id = compliance::append_event(conn, at, kind.as_str(), actor, subject, &json)?;
    Ok(Event {
        id,
        at,
        kind,
        actor: actor.to_string(),
        subject: subject.map(str::to_string),
        detail,
    })
}

fn detail<const N: usize>(pairs: [(&str, String); N]) -> BTreeMap<String, String> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Allocates the next UID in a mailbox.
fn next_uid(conn: &Connection, mailbox_id: i64) -> Result<i64, StoreError> {
    imap::allocate_uids(conn, mailbox_id, 1)
}

fn mailbox_id(conn: &Connection, account_id: i64, folder: Folder) -> Result<i64, StoreError> {
    conn.prepare_cached("SELECT id FROM mailboxes WHERE account_id = ?1 AND name = ?2")?
        .query_row(params![account_id, folder.as_str()], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("folder {folder} of account {account_id}")))
}

#[async_trait]
impl MetaStore for SqliteMetaStore {
    async fn add_domain(
        &self,
        name: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<Domain, StoreError> {
        let name = Domain::normalize(name).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let actor = actor.to_string();
        self.write(move |conn| {
            let inserted = conn.execute(
                "INSERT OR IGNORE INTO domains(name, created_at) VALUES (?1, ?2)",
                params![name, at.0],
            )?;
            if inserted == 0 {
                return Err(StoreError::Conflict(format!(
                    "domain {name} already exists"
                )));
            }
            insert_event(
                conn,
                EventKind::DomainAdded,
                at,
                &actor,
                None,
                detail([("domain", name.clone())]),
            )?;
            Ok(Domain {
                name,
                created_at: at,
            })
        })
        .await
    }

    async fn remove_domain(
        &self,
        name: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<(), StoreError> {
        let name = Domain::normalize(name).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let actor = actor.to_string();
        self.write(move |conn| {
            let accounts: i64 =
                conn.query_row("SELECT count(*) FROM accounts WHERE domain = ?1", [&name], |r| r.get(0))?;
            let aliases: i64 =
                conn.query_row("SELECT count(*) FROM aliases WHERE domain = ?1", [&name], |r| r.get(0))?;
            if accounts + aliases > 0 {
                return Err(StoreError::Conflict(format!(
                    "domain {name} still has {accounts} account(s) and {aliases} alias target(s); remove them first"
                )));
            }
            if conn.execute("DELETE FROM domains WHERE name = ?1", [&name])? == 0 {
                return Err(StoreError::NotFound(format!("domain {name}")));
            }
            insert_event(conn, EventKind::DomainRemoved, at, &actor, None, detail([("domain", name)]))?;
            Ok(())
        })
        .await
    }

    async fn list_domains(&self) -> Result<Vec<Domain>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare("SELECT name, created_at FROM domains ORDER BY name")?;
            let rows = stmt.query_map([], |r| {
                Ok(Domain {
                    name: r.get(0)?,
                    created_at: Timestamp(r.get(1)?),
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn create_account(
        &self,
        new: NewAccount,
        at: Timestamp,
        actor: &str,
    ) -> Result<Account, StoreError> {
        let address = new
            .address
            .clone()
            .ok_or_else(|| StoreError::Invalid("an account needs an address".into()))?;
        let actor = actor.to_string();
        self.write(move |conn| {
            let domain = address.domain().to_string();
            let known: Option<String> = conn
                .query_row("SELECT name FROM domains WHERE name = ?1", [&domain], |r| r.get(0))
                .optional()?;
            if known.is_none() {
                return Err(StoreError::UnknownDomain(domain));
            }
            let alias: Option<String> = conn
                .query_row("SELECT address FROM aliases WHERE address = ?1 LIMIT 1", [address.as_str()], |r| r.get(0))
                .optional()?;
            if alias.is_some() {
                return Err(StoreError::Conflict(format!("{address} is already an alias")));
            }
            let inserted = conn.execute(
                "INSERT OR IGNORE INTO accounts(address, domain, name, department, level, quota_bytes, password_hash, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    address.as_str(),
                    domain,
                    new.name,
                    new.department,
                    new.level,
                    new.quota_bytes.map(|q| q as i64),
                    new.password_hash,
                    at.0
                ],
            )?;
            if inserted == 0 {
                return Err(StoreError::Conflict(format!("account {address} already exists")));
            }
            let id = conn.last_insert_rowid();
            for (i, folder) in Folder::ALL.iter().enumerate() {
                // UIDVALIDITY must differ from any earlier mailbox of the same name: time-based.
                conn.execute(
                    "INSERT INTO mailboxes(account_id, name, uidvalidity) VALUES (?1, ?2, ?3)",
                    params![id, folder.as_str(), (at.0 & 0x7fff_ffff) + i as i64],
                )?;
            }
            insert_event(
                conn,
                EventKind::AccountCreated,
                at,
                &actor,
                Some(address.as_str()),
                detail([
                    ("department", new.department.clone().unwrap_or_default()),
                    ("level", new.level.clone().unwrap_or_default()),
                ]),
            )?;
            require_account(conn, &address)
        })
        .await
    }

    async fn account(&self, address: &EmailAddress) -> Result<Option<Account>, StoreError> {
        let address = address.clone();
        self.read(move |conn| account_by_address(conn, address.as_str()))
            .await
    }

    async fn list_accounts(&self, domain: Option<&str>) -> Result<Vec<Account>, StoreError> {
        let domain = domain.map(str::to_lowercase);
        self.read(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE ?1 IS NULL OR domain = ?1 ORDER BY address"
            ))?;
            let rows = stmt.query_map([domain], row_to_account)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn set_disabled(
        &self,
        address: &EmailAddress,
        disabled: bool,
        at: Timestamp,
        actor: &str,
    ) -> Result<Account, StoreError> {
        let (address, actor) = (address.clone(), actor.to_string());
        self.write(move |conn| {
            let account = require_account(conn, &address)?;
            conn.execute(
                "UPDATE accounts SET disabled = ?1 WHERE address = ?2",
                params![disabled as i64, address.as_str()],
            )?;
            let (kind, detail) = if disabled {
                // A disabled account keeps no working credential, even once enabled again.
                let (sessions, app_passwords) =
                    identity::revoke_credentials(conn, account.id.0, at)?;
                (
                    EventKind::AccountDisabled,
                    detail([
                        ("sessions_revoked", sessions.to_string()),
                        ("app_passwords_revoked", app_passwords.to_string()),
                    ]),
                )
            } else {
                (EventKind::AccountEnabled, BTreeMap::new())
            };
            insert_event(conn, kind, at, &actor, Some(address.as_str()), detail)?;
            require_account(conn, &address)
        })
        .await
    }

    async fn add_alias(
        &self,
        alias: &EmailAddress,
        target: &EmailAddress,
        at: Timestamp,
        actor: &str,
    ) -> Result<Alias, StoreError> {
        let (alias, target, actor) = (alias.clone(), target.clone(), actor.to_string());
        self.write(move |conn| {
            let domain = alias.domain().to_string();
            let known: Option<String> = conn
                .query_row("SELECT name FROM domains WHERE name = ?1", [&domain], |r| {
                    r.get(0)
                })
                .optional()?;
            if known.is_none() {
                return Err(StoreError::UnknownDomain(domain));
            }
            if account_by_address(conn, alias.as_str())?.is_some() {
                return Err(StoreError::Conflict(format!(
                    "{alias} is an account, not an alias"
                )));
            }
            let target_account = require_account(conn, &target)?;
            let inserted = conn.execute(
                "INSERT OR IGNORE INTO aliases(address, domain, target_id) VALUES (?1, ?2, ?3)",
                params![alias.as_str(), domain, target_account.id.0],
            )?;
            if inserted == 0 {
                return Err(StoreError::Conflict(format!(
                    "{alias} already delivers to {target}"
                )));
            }
            insert_event(
                conn,
                EventKind::AliasAdded,
                at,
                &actor,
                Some(target.as_str()),
                detail([("alias", alias.to_string())]),
            )?;
            let targets = alias_targets(conn, &alias)?;
            Ok(Alias {
                address: alias,
                targets,
            })
        })
        .await
    }

    async fn remove_alias(
        &self,
        alias: &EmailAddress,
        target: Option<&EmailAddress>,
        at: Timestamp,
        actor: &str,
    ) -> Result<(), StoreError> {
        let (alias, target, actor) = (alias.clone(), target.cloned(), actor.to_string());
        self.write(move |conn| {
            let removed = match &target {
                Some(t) => conn.execute(
                    "DELETE FROM aliases WHERE address = ?1 AND target_id = (SELECT id FROM accounts WHERE address = ?2)",
                    params![alias.as_str(), t.as_str()],
                )?,
                None => conn.execute("DELETE FROM aliases WHERE address = ?1", [alias.as_str()])?,
            };
            if removed == 0 {
                return Err(StoreError::NotFound(format!("alias {alias}")));
            }
            insert_event(
                conn,
                EventKind::AliasRemoved,
                at,
                &actor,
                target.as_ref().map(|t| t.as_str()),
                detail([("alias", alias.to_string())]),
            )?;
            Ok(())
        })
        .await
    }

    async fn list_aliases(&self) -> Result<Vec<Alias>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT l.address, a.address FROM aliases l JOIN accounts a ON a.id = l.target_id \
                 ORDER BY l.address, a.address",
            )?;
            let mut aliases: Vec<Alias> = Vec::new();
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            for row in rows {
                let (alias, target) = row?;
                let alias: EmailAddress = alias
                    .parse()
                    .map_err(|e| StoreError::Backend(format!("{e}")))?;
                let target: EmailAddress = target
                    .parse()
                    .map_err(|e| StoreError::Backend(format!("{e}")))?;
                match aliases.last_mut() {
                    Some(last) if last.address == alias => last.targets.push(target),
                    _ => aliases.push(Alias {
                        address: alias,
                        targets: vec![target],
                    }),
                }
            }
            Ok(aliases)
        })
        .await
    }

    async fn resolve(&self, address: &EmailAddress) -> Result<Recipient, StoreError> {
        let address = address.clone();
        self.read(move |conn| {
            let local: Option<String> = conn
                .prepare_cached("SELECT name FROM domains WHERE name = ?1")?
                .query_row([address.domain()], |r| r.get(0))
                .optional()?;
            if local.is_none() {
                return Ok(Recipient::NotLocal);
            }
            let mut accounts = match account_by_address(conn, address.as_str())? {
                Some(account) => vec![account],
                None => {
                    let mut stmt = conn.prepare_cached(&format!(
                        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id IN \
                         (SELECT target_id FROM aliases WHERE address = ?1) ORDER BY address"
                    ))?;
                    let rows = stmt.query_map([address.as_str()], row_to_account)?;
                    rows.collect::<Result<Vec<_>, _>>()?
                }
            };
            if accounts.is_empty() {
                return Ok(Recipient::Unknown);
            }
            let before = accounts.len();
            accounts.retain(|a| !a.disabled);
            if accounts.is_empty() && before > 0 {
                return Ok(Recipient::Disabled(address));
            }
            Ok(Recipient::Accounts(accounts))
        })
        .await
    }

    async fn insert_messages(
        &self,
        filing: &Filing,
        at: Timestamp,
        actor: &str,
    ) -> Result<Vec<MessageMeta>, StoreError> {
        let (filing, actor) = (filing.clone(), actor.to_string());
        self.write(move |conn| file_messages(conn, &filing, at, &actor))
            .await
    }

    async fn list_messages(
        &self,
        account: &EmailAddress,
        folder: Option<Folder>,
        deleted: bool,
    ) -> Result<Vec<MessageMeta>, StoreError> {
        let account = account.clone();
        self.read(move |conn| {
            require_account(conn, &account)?;
            let mut stmt = conn.prepare(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM} WHERE a.address = ?1 \
                 AND (m.deleted_at IS NOT NULL) = ?2 AND (?3 IS NULL OR coalesce(m.origin_mailbox, b.name) = ?3) \
                 ORDER BY m.id"
            ))?;
            let rows = stmt.query_map(
                params![account.as_str(), deleted, folder.map(|f| f.as_str())],
                row_to_message,
            )?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn message(
        &self,
        account: &EmailAddress,
        id: MessageId,
    ) -> Result<Option<MessageMeta>, StoreError> {
        let account = account.clone();
        self.read(move |conn| message_by_id(conn, &account, id))
            .await
    }

    async fn mark_deleted(
        &self,
        account: &EmailAddress,
        id: MessageId,
        at: Timestamp,
        actor: &str,
    ) -> Result<MessageMeta, StoreError> {
        let (account, actor) = (account.clone(), actor.to_string());
        self.write(move |conn| {
            let msg = message_by_id(conn, &account, id)?
                .ok_or_else(|| StoreError::NotFound(format!("message {id} of {account}")))?;
            if msg.deleted_at.is_some() {
                return Err(StoreError::Conflict(format!(
                    "message {id} is already deleted"
                )));
            }
            let mailbox: i64 = conn.query_row(
                "SELECT mailbox_id FROM messages WHERE id = ?1",
                [id.0],
                |r| r.get(0),
            )?;
            let modseq = imap::touch_mailbox(conn, mailbox, -1)?;
            conn.execute(
                "UPDATE messages SET deleted_at = ?1, modseq = ?2 WHERE id = ?3",
                params![at.0, modseq, id.0],
            )?;
            conn.execute(
                "UPDATE accounts SET used_bytes = max(used_bytes - ?1, 0) WHERE address = ?2",
                params![msg.size as i64, account.as_str()],
            )?;
            insert_event(
                conn,
                EventKind::MessageDeleted,
                at,
                &actor,
                Some(account.as_str()),
                detail([
                    ("id", id.to_string()),
                    ("folder", msg.mailbox.clone()),
                    ("blob", msg.blob.0.clone()),
                ]),
            )?;
            Ok(MessageMeta {
                deleted_at: Some(at),
                ..msg
            })
        })
        .await
    }

    async fn restore(
        &self,
        account: &EmailAddress,
        id: MessageId,
        at: Timestamp,
        actor: &str,
    ) -> Result<MessageMeta, StoreError> {
        let (account, actor) = (account.clone(), actor.to_string());
        self.write(move |conn| {
            let msg = message_by_id(conn, &account, id)?.ok_or_else(|| {
                StoreError::NotFound(format!(
                    "message {id} of {account} (purged, or never existed)"
                ))
            })?;
            if msg.deleted_at.is_none() {
                return Err(StoreError::Conflict(format!("message {id} is not deleted")));
            }
            let (mut mailbox, origin): (i64, Option<String>) = conn.query_row(
                "SELECT mailbox_id, origin_mailbox FROM messages WHERE id = ?1",
                [id.0],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            // A message of a deleted mailbox goes back to a mailbox of that name if there is
            // one again; otherwise it stays in INBOX, where its row waited.
            if let Some(origin) = origin {
                let again: Option<i64> = conn
                    .query_row(
                        "SELECT b.id FROM mailboxes b JOIN accounts a ON a.id = b.account_id \
                         WHERE a.address = ?1 AND b.name = ?2",
                        params![account.as_str(), origin],
                        |r| r.get(0),
                    )
                    .optional()?;
                mailbox = again.unwrap_or(mailbox);
            }
            // Its old UID was expunged; IMAP clients must see it as a new arrival, without the
            // `\Deleted` flag that got it expunged.
            let uid = next_uid(conn, mailbox)?;
            let modseq = imap::touch_mailbox(conn, mailbox, 1)?;
            conn.execute(
                "UPDATE messages SET deleted_at = NULL, uid = ?1, mailbox_id = ?2, modseq = ?3, \
                 origin_mailbox = NULL, flags = flags & ~?4 WHERE id = ?5",
                params![uid, mailbox, modseq, Flag::Deleted.bit(), id.0],
            )?;
            let restored = message_by_id(conn, &account, id)?
                .ok_or_else(|| StoreError::Backend(format!("message {id} vanished")))?;
            conn.execute(
                "UPDATE accounts SET used_bytes = used_bytes + ?1 WHERE address = ?2",
                params![msg.size as i64, account.as_str()],
            )?;
            insert_event(
                conn,
                EventKind::MessageRestored,
                at,
                &actor,
                Some(account.as_str()),
                detail([
                    ("id", id.to_string()),
                    ("folder", restored.mailbox.clone()),
                    ("blob", msg.blob.0.clone()),
                ]),
            )?;
            Ok(restored)
        })
        .await
    }

    async fn purge_deleted(
        &self,
        cutoff: Timestamp,
        at: Timestamp,
        actor: &str,
    ) -> Result<(Vec<MessageMeta>, Vec<BlobId>), StoreError> {
        let actor = actor.to_string();
        self.write(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM} WHERE m.deleted_at IS NOT NULL AND m.deleted_at <= ?1 \
                 AND m.account_id NOT IN (SELECT a.id FROM accounts a JOIN legal_holds h \
                     ON h.kind = 'person' AND h.released_at IS NULL AND h.target = a.address) \
                 ORDER BY m.id"
            ))?;
            let expired: Vec<MessageMeta> =
                stmt.query_map([cutoff.0], row_to_message)?.collect::<Result<_, _>>()?;
            let mut orphaned = Vec::new();
            let mut mailboxes = std::collections::BTreeSet::new();
            for msg in &expired {
                let mailbox: i64 = conn
                    .prepare_cached("DELETE FROM messages WHERE id = ?1 RETURNING mailbox_id")?
                    .query_row([msg.id.0], |r| r.get(0))?;
                mailboxes.insert(mailbox);
                insert_event(
                    conn,
                    EventKind::MessagePurged,
                    at,
                    &actor,
                    Some(msg.account.as_str()),
                    detail([
                        ("id", msg.id.to_string()),
                        ("deleted_at", msg.deleted_at.map(|t| t.0).unwrap_or_default().to_string()),
                        ("blob", msg.blob.0.clone()),
                    ]),
                )?;
            }
            // Nothing visible changed, but the expunged rows are gone for good: a client
            // resynchronising from an old mod-sequence must not rely on them.
            for mailbox in mailboxes {
                imap::touch_mailbox(conn, mailbox, 0)?;
            }
            for msg in &expired {
                if !blob_in_use(conn, &msg.blob.0)? && !orphaned.contains(&msg.blob) {
                    orphaned.push(msg.blob.clone());
                }
            }
            Ok((expired, orphaned))
        })
        .await
    }

    async fn list_mailboxes(&self, account: &EmailAddress) -> Result<Vec<MailboxInfo>, StoreError> {
        let account = account.clone();
        self.read(move |conn| imap::list_mailboxes(conn, &account))
            .await
    }

    async fn mailbox(
        &self,
        account: &EmailAddress,
        name: &str,
    ) -> Result<Option<MailboxInfo>, StoreError> {
        let (account, name) = (account.clone(), name.to_string());
        self.read(move |conn| imap::mailbox_by_name(conn, &account, &name))
            .await
    }

    async fn mailbox_state(&self, mailbox_id: i64) -> Result<(u32, u64, u32), StoreError> {
        self.read(move |conn| imap::mailbox_state(conn, mailbox_id))
            .await
    }

    async fn create_mailbox(
        &self,
        account: &EmailAddress,
        name: &str,
        at: Timestamp,
    ) -> Result<MailboxInfo, StoreError> {
        let (account, name) = (account.clone(), name.to_string());
        self.write(move |conn| imap::create_mailbox(conn, &account, &name, at))
            .await
    }

    async fn rename_mailbox(
        &self,
        account: &EmailAddress,
        from: &str,
        to: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let (account, from, to) = (account.clone(), from.to_string(), to.to_string());
        self.write(move |conn| imap::rename_mailbox(conn, &account, &from, &to, at))
            .await
    }

    async fn delete_mailbox(
        &self,
        account: &EmailAddress,
        name: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<u64, StoreError> {
        let (account, name, actor) = (account.clone(), name.to_string(), actor.to_string());
        self.write(move |conn| imap::delete_mailbox(conn, &account, &name, at, &actor))
            .await
    }

    async fn subscribe_mailbox(
        &self,
        account: &EmailAddress,
        name: &str,
        subscribed: bool,
    ) -> Result<(), StoreError> {
        let (account, name) = (account.clone(), name.to_string());
        self.write(move |conn| imap::subscribe_mailbox(conn, &account, &name, subscribed))
            .await
    }

    async fn imap_messages(&self, mailbox_id: i64) -> Result<Vec<ImapMessage>, StoreError> {
        self.read(move |conn| imap::imap_messages(conn, mailbox_id, None))
            .await
    }

    async fn imap_changes_since(
        &self,
        mailbox_id: i64,
        modseq: u64,
    ) -> Result<Vec<ImapMessage>, StoreError> {
        self.read(move |conn| imap::imap_messages(conn, mailbox_id, Some(modseq)))
            .await
    }

    async fn store_flags(
        &self,
        mailbox_id: i64,
        uids: &[u32],
        change: FlagChange,
        flags: &[Flag],
        keywords: &[String],
        unchanged_since: Option<u64>,
        at: Timestamp,
    ) -> Result<(Vec<ImapMessage>, Vec<u32>), StoreError> {
        let store = imap::StoreFlags {
            mailbox_id,
            uids: uids.to_vec(),
            change,
            flags: flags.to_vec(),
            keywords: keywords.to_vec(),
            unchanged_since,
        };
        self.write(move |conn| imap::store_flags(conn, &store, at))
            .await
    }

    async fn copy_messages(
        &self,
        mailbox_id: i64,
        uids: &[u32],
        target_mailbox_id: i64,
        at: Timestamp,
        actor: &str,
    ) -> Result<Vec<(u32, u32)>, StoreError> {
        let (uids, actor) = (uids.to_vec(), actor.to_string());
        self.write(move |conn| {
            imap::transfer(
                conn,
                mailbox_id,
                &uids,
                target_mailbox_id,
                imap::Transfer::Copy,
                at,
                &actor,
            )
        })
        .await
    }

    async fn move_messages(
        &self,
        mailbox_id: i64,
        uids: &[u32],
        target_mailbox_id: i64,
        at: Timestamp,
        actor: &str,
    ) -> Result<Vec<(u32, u32)>, StoreError> {
        let (uids, actor) = (uids.to_vec(), actor.to_string());
        self.write(move |conn| {
            imap::transfer(
                conn,
                mailbox_id,
                &uids,
                target_mailbox_id,
                imap::Transfer::Move,
                at,
                &actor,
            )
        })
        .await
    }

    async fn expunge(
        &self,
        mailbox_id: i64,
        uids: Option<&[u32]>,
        at: Timestamp,
        actor: &str,
    ) -> Result<Vec<u32>, StoreError> {
        let (uids, actor) = (uids.map(<[u32]>::to_vec), actor.to_string());
        self.write(move |conn| imap::expunge(conn, mailbox_id, uids.as_deref(), at, &actor))
            .await
    }

    async fn append_message(
        &self,
        append: &Append,
        at: Timestamp,
        actor: &str,
    ) -> Result<(u32, u32), StoreError> {
        let (append, actor) = (append.clone(), actor.to_string());
        self.write(move |conn| imap::append_message(conn, &append, at, &actor))
            .await
    }

    async fn quarantine(
        &self,
        item: &NewQuarantine,
        at: Timestamp,
        actor: &str,
    ) -> Result<QuarantineEntry, StoreError> {
        let (item, actor) = (item.clone(), actor.to_string());
        self.write(move |conn| {
            let recipients = serde_json::to_string(&item.recipients)
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            let direction = item.direction.as_str();
            conn.execute(
                "INSERT INTO quarantine(received_at, direction, blob, size, mail_from, recipients, from_addr, subject, score, report, status) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'held')",
                params![
                    at.0,
                    direction,
                    item.blob.0,
                    item.size as i64,
                    item.mail_from,
                    recipients,
                    item.summary.from,
                    item.summary.subject,
                    f64::from(item.score),
                    item.report
                ],
            )?;
            let id = conn.last_insert_rowid();
            if item.journal {
                let journal = rampart_model::Journal {
                    direction: item.direction,
                    ..rampart_model::Journal::inbound(&item.mail_from, &item.recipients)
                };
                let local: Vec<String> = match item.direction {
                    Direction::Inbound => journal.recipients.clone(),
                    Direction::Outbound => local_party(conn, &item.mail_from)?,
                };
                compliance::journal(
                    conn,
                    &item.blob,
                    item.size,
                    at,
                    &journal,
                    &item.summary.from,
                    &item.summary.subject,
                    &local,
                )?;
            }
            for rcpt in &item.recipients {
                insert_event(
                    conn,
                    EventKind::MessageQuarantined,
                    at,
                    &actor,
                    Some(rcpt.as_str()),
                    detail([
                        ("quarantine_id", id.to_string()),
                        ("score", format!("{:.1}", item.score)),
                        ("blob", item.blob.0.clone()),
                    ]),
                )?;
            }
            quarantine_by_id(conn, id)?
                .ok_or_else(|| StoreError::Backend("quarantine row vanished".into()))
        })
        .await
    }

    async fn list_quarantine(
        &self,
        status: Option<QuarantineStatus>,
    ) -> Result<Vec<QuarantineEntry>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {QUARANTINE_COLUMNS} FROM quarantine WHERE ?1 IS NULL OR status = ?1 ORDER BY id DESC"
            ))?;
            let rows = stmt.query_map([status.map(|s| s.as_str())], row_to_quarantine)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn quarantine_entry(&self, id: i64) -> Result<Option<QuarantineEntry>, StoreError> {
        self.read(move |conn| quarantine_by_id(conn, id)).await
    }

    async fn release_quarantined(
        &self,
        id: i64,
        folder: Folder,
        at: Timestamp,
        actor: &str,
    ) -> Result<(QuarantineEntry, Vec<MessageMeta>), StoreError> {
        let actor = actor.to_string();
        self.write(move |conn| {
            let entry = decide_quarantine(conn, id, QuarantineStatus::Released, at, &actor)?;
            // Recipients whose account has gone since are skipped, not fatal.
            let mut accounts = Vec::new();
            for rcpt in &entry.recipients {
                if account_by_address(conn, rcpt.as_str())?.is_some() {
                    accounts.push(rcpt.clone());
                }
            }
            let filing = Filing {
                blob: entry.blob.clone(),
                size: entry.size,
                summary: crate::MessageSummary {
                    from: entry.from.clone(),
                    subject: entry.subject.clone(),
                    ..Default::default()
                },
                accounts,
                folder,
                flags: Vec::new(),
                journal: None,
                archive: false,
            };
            let delivered = file_messages(conn, &filing, at, &actor)?;
            for rcpt in &entry.recipients {
                insert_event(
                    conn,
                    EventKind::QuarantineReleased,
                    at,
                    &actor,
                    Some(rcpt.as_str()),
                    detail([
                        ("quarantine_id", id.to_string()),
                        ("folder", folder.to_string()),
                    ]),
                )?;
            }
            Ok((entry, delivered))
        })
        .await
    }

    async fn delete_quarantined(
        &self,
        id: i64,
        at: Timestamp,
        actor: &str,
    ) -> Result<QuarantineEntry, StoreError> {
        let actor = actor.to_string();
        self.write(move |conn| {
            let entry = decide_quarantine(conn, id, QuarantineStatus::Deleted, at, &actor)?;
            for rcpt in &entry.recipients {
                insert_event(
                    conn,
                    EventKind::QuarantineDeleted,
                    at,
                    &actor,
                    Some(rcpt.as_str()),
                    detail([("quarantine_id", id.to_string())]),
                )?;
            }
            Ok(entry)
        })
        .await
    }

    async fn user_model(&self, account: &EmailAddress) -> Result<Option<Vec<u8>>, StoreError> {
        let account = account.clone();
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT m.model FROM user_models m JOIN accounts a ON a.id = m.account_id WHERE a.address = ?1",
                    [account.as_str()],
                    |r| r.get(0),
                )
                .optional()?)
        })
        .await
    }

    async fn save_user_model(
        &self,
        account: &EmailAddress,
        model: Vec<u8>,
        feedback: &str,
        message: MessageId,
        at: Timestamp,
        actor: &str,
    ) -> Result<(), StoreError> {
        let (account, feedback, actor) = (account.clone(), feedback.to_string(), actor.to_string());
        self.write(move |conn| {
            let acc = require_account(conn, &account)?;
            conn.execute(
                "INSERT INTO user_models(account_id, model, updated_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(account_id) DO UPDATE SET model = excluded.model, updated_at = excluded.updated_at",
                params![acc.id.0, model, at.0],
            )?;
            insert_event(
                conn,
                EventKind::SpamReported,
                at,
                &actor,
                Some(account.as_str()),
                detail([("id", message.to_string()), ("as", feedback)]),
            )?;
            Ok(())
        })
        .await
    }

    async fn enqueue_outbound(
        &self,
        item: &NewOutbound,
        at: Timestamp,
    ) -> Result<Vec<OutboundEntry>, StoreError> {
        if item.recipients.is_empty() {
            return Err(StoreError::Invalid(
                "an outbound message needs a recipient".into(),
            ));
        }
        let item = item.clone();
        self.write(move |conn| {
            let mut out = Vec::with_capacity(item.recipients.len());
            for rcpt in &item.recipients {
                conn.prepare_cached(
                    "INSERT INTO outbound_queue(queue_id, blob, size, mail_from, rcpt, account, next_attempt_at, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                )?
                .execute(params![
                    item.queue_id,
                    item.blob.0,
                    item.size as i64,
                    item.mail_from,
                    rcpt.as_str(),
                    item.account.as_str(),
                    at.0
                ])?;
                out.push(OutboundEntry {
                    id: conn.last_insert_rowid(),
                    queue_id: item.queue_id.clone(),
                    blob: item.blob.clone(),
                    size: item.size,
                    mail_from: item.mail_from.clone(),
                    recipient: rcpt.clone(),
                    account: item.account.clone(),
                    status: "queued".into(),
                    attempts: 0,
                    next_attempt_at: at,
                    last_error: None,
                    created_at: at,
                    last_attempt_at: None,
                    remote: None,
                    delay_notified: false,
                });
            }
            if item.journal {
                let journal = rampart_model::Journal::outbound(
                    &item.mail_from,
                    &item.recipients,
                    item.account.as_str(),
                );
                let summary = crate::MessageSummary::default();
                compliance::journal(
                    conn,
                    &item.blob,
                    item.size,
                    at,
                    &journal,
                    &summary.from,
                    &summary.subject,
                    &[],
                )?;
            }
            Ok(out)
        })
        .await
    }

    async fn list_outbound(&self, status: Option<&str>) -> Result<Vec<OutboundEntry>, StoreError> {
        let status = status.map(str::to_string);
        self.read(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {} FROM outbound_queue WHERE (?1 IS NULL OR status = ?1) ORDER BY id",
                outbound::COLUMNS
            ))?;
            let rows = stmt.query_map(params![status], outbound::row_to_entry)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn outbound_entries(&self, which: &str) -> Result<Vec<OutboundEntry>, StoreError> {
        let which = which.to_string();
        self.read(move |conn| outbound::select(conn, &which)).await
    }

    async fn claim_outbound(
        &self,
        now: Timestamp,
        lease: Timestamp,
        limit: usize,
        per_domain: usize,
    ) -> Result<Vec<OutboundEntry>, StoreError> {
        self.write(move |conn| outbound::claim(conn, now, lease, limit, per_domain))
            .await
    }

    async fn finish_outbound(
        &self,
        updates: Vec<OutboundUpdate>,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |conn| outbound::finish(conn, &updates, at))
            .await
    }

    async fn retry_outbound(
        &self,
        which: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<Vec<OutboundEntry>, StoreError> {
        let (which, actor) = (which.to_string(), actor.to_string());
        self.write(move |conn| outbound::retry(conn, &which, at, &actor))
            .await
    }

    async fn delete_outbound(
        &self,
        which: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<Vec<OutboundEntry>, StoreError> {
        let (which, actor) = (which.to_string(), actor.to_string());
        self.write(move |conn| outbound::delete(conn, &which, at, &actor))
            .await
    }

    async fn contain_account(
        &self,
        address: &EmailAddress,
        reason: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<ContainSummary, StoreError> {
        let (address, reason, actor) = (address.clone(), reason.to_string(), actor.to_string());
        self.write(move |conn| outbound::contain(conn, &address, &reason, at, &actor))
            .await
    }

    async fn release_account(
        &self,
        address: &EmailAddress,
        discard_held: bool,
        at: Timestamp,
        actor: &str,
    ) -> Result<u64, StoreError> {
        let (address, actor) = (address.clone(), actor.to_string());
        self.write(move |conn| {
            outbound::release(conn, &address, discard_held, at, &actor).map(|n| n as u64)
        })
        .await
    }

    async fn set_sending_hold(
        &self,
        address: &EmailAddress,
        held: bool,
        at: Timestamp,
        actor: &str,
        why: &str,
    ) -> Result<bool, StoreError> {
        let (address, actor, why) = (address.clone(), actor.to_string(), why.to_string());
        self.write(move |conn| outbound::set_sending_hold(conn, &address, held, at, &actor, &why))
            .await
    }

    async fn clear_step_up(&self, address: &EmailAddress) -> Result<(), StoreError> {
        let address = address.clone();
        self.write(move |conn| {
            conn.execute(
                "UPDATE accounts SET step_up_required = 0 WHERE address = ?1",
                [address.as_str()],
            )?;
            Ok(())
        })
        .await
    }

    async fn unreferenced_blobs(&self, candidates: Vec<BlobId>) -> Result<Vec<BlobId>, StoreError> {
        self.read(move |conn| {
            let mut orphans = Vec::new();
            for blob in candidates {
                if !blob_in_use(conn, &blob.0)? {
                    orphans.push(blob);
                }
            }
            Ok(orphans)
        })
        .await
    }

    async fn record_event(
        &self,
        kind: EventKind,
        at: Timestamp,
        actor: &str,
        subject: Option<&str>,
        detail: BTreeMap<String, String>,
    ) -> Result<Event, StoreError> {
        let (actor, subject) = (actor.to_string(), subject.map(str::to_string));
        self.write(move |conn| insert_event(conn, kind, at, &actor, subject.as_deref(), detail))
            .await
    }

    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        let filter = filter.clone();
        self.read(move |conn| {
            use rusqlite::types::Value;
            let mut sql =
                String::from("SELECT id, at, kind, actor, subject, detail FROM events WHERE 1 = 1");
            let mut args: Vec<Value> = Vec::new();
            if let Some(kind) = filter.kind {
                sql.push_str(" AND kind = ?");
                args.push(Value::Text(kind.as_str().into()));
            }
            if !filter.kinds.is_empty() {
                let marks = vec!["?"; filter.kinds.len()].join(", ");
                sql.push_str(&format!(" AND kind IN ({marks})"));
                args.extend(filter.kinds.iter().map(|k| Value::Text(k.as_str().into())));
            }
            if let Some(subject) = filter.subject {
                sql.push_str(" AND subject = ?");
                args.push(Value::Text(subject));
            }
            if let Some(since) = filter.since {
                sql.push_str(" AND at >= ?");
                args.push(Value::Integer(since.0));
            }
            if let Some(until) = filter.until {
                sql.push_str(" AND at < ?");
                args.push(Value::Integer(until.0));
            }
            if let Some(actor) = filter.actor {
                sql.push_str(" AND actor = ?");
                args.push(Value::Text(actor));
            }
            if let Some(after) = filter.after_id {
                sql.push_str(" AND id > ?");
                args.push(Value::Integer(after));
            }
            if let Some(before) = filter.before_id {
                sql.push_str(" AND id < ?");
                args.push(Value::Integer(before));
            }
            sql.push_str(if filter.ascending {
                " ORDER BY id ASC LIMIT ?"
            } else {
                " ORDER BY id DESC LIMIT ?"
            });
            args.push(Value::Integer(filter.limit.map(|l| l as i64).unwrap_or(-1)));
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })?;
            let mut events = Vec::new();
            for row in rows {
                let (id, at, kind, actor, subject, detail) = row?;
                events.push(Event {
                    id,
                    at: Timestamp(at),
                    kind: EventKind::parse(&kind)
                        .ok_or_else(|| StoreError::Backend(format!("unknown event kind {kind}")))?,
                    actor,
                    subject,
                    detail: serde_json::from_str(&detail).unwrap_or_default(),
                });
            }
            Ok(events)
        })
        .await
    }

    async fn audit_entries(
        &self,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(move |conn| compliance::audit_entries(conn, after_id, limit))
            .await
    }

    async fn audit_head(&self) -> Result<Option<(i64, String)>, StoreError> {
        self.read(compliance::audit_head).await
    }

    async fn add_checkpoint(&self, checkpoint: &Checkpoint) -> Result<Checkpoint, StoreError> {
        let checkpoint = checkpoint.clone();
        self.write(move |conn| compliance::add_checkpoint(conn, &checkpoint))
            .await
    }

    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        self.read(compliance::checkpoints).await
    }

    async fn set_role(
        &self,
        account: &EmailAddress,
        role: Role,
        at: Timestamp,
        actor: &str,
    ) -> Result<Account, StoreError> {
        let (account, actor) = (account.clone(), actor.to_string());
        self.write(move |conn| {
            let before = require_account(conn, &account)?;
            conn.execute(
                "UPDATE accounts SET role = ?1 WHERE id = ?2",
                params![role.as_str(), before.id.0],
            )?;
            insert_event(
                conn,
                EventKind::RoleChanged,
                at,
                &actor,
                Some(account.as_str()),
                detail([("from", before.role.to_string()), ("to", role.to_string())]),
            )?;
            require_account(conn, &account)
        })
        .await
    }

    async fn archive_entries(
        &self,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<ArchiveEntry>, StoreError> {
        self.read(move |conn| compliance::archive_entries(conn, after_id, limit))
            .await
    }

    async fn archive_entry(&self, id: i64) -> Result<Option<ArchiveEntry>, StoreError> {
        self.read(move |conn| compliance::archive_entry(conn, id))
            .await
    }

    async fn archive_ids_of(&self, address: &EmailAddress) -> Result<Vec<i64>, StoreError> {
        let address = address.to_string();
        self.read(move |conn| compliance::archive_ids_of(conn, &address))
            .await
    }

    async fn archive_stats(&self) -> Result<(u64, u64), StoreError> {
        self.read(|conn| {
            Ok(conn.query_row(
                "SELECT count(*), coalesce(sum(size), 0) FROM archive",
                [],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )?)
        })
        .await
    }

    async fn purge_archive(
        &self,
        config: &ArchiveConfig,
        search_held: &BTreeSet<i64>,
        indexed_up_to: i64,
        now: Timestamp,
        actor: &str,
    ) -> Result<ArchivePurge, StoreError> {
        let (config, held, actor) = (config.clone(), search_held.clone(), actor.to_string());
        self.write(move |conn| {
            compliance::purge_archive(conn, &config, &held, indexed_up_to, now, &actor)
        })
        .await
    }

    async fn place_legal_hold(
        &self,
        kind: LegalHoldKind,
        target: &str,
        reason: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<LegalHold, StoreError> {
        let (target, reason, actor) = (target.to_string(), reason.to_string(), actor.to_string());
        self.write(move |conn| compliance::place_hold(conn, kind, &target, &reason, at, &actor))
            .await
    }

    async fn release_legal_hold(
        &self,
        id: i64,
        at: Timestamp,
        actor: &str,
    ) -> Result<LegalHold, StoreError> {
        let actor = actor.to_string();
        self.write(move |conn| compliance::release_hold(conn, id, at, &actor))
            .await
    }

    async fn dashboard(
        &self,
        since: Timestamp,
        until: Timestamp,
        bucket_secs: i64,
    ) -> Result<rampart_model::Dashboard, StoreError> {
        self.read(move |conn| compliance::dashboard(conn, since, until, bucket_secs))
            .await
    }

    async fn legal_holds(&self, active_only: bool) -> Result<Vec<LegalHold>, StoreError> {
        self.read(move |conn| compliance::legal_holds(conn, active_only))
            .await
    }

    async fn set_password(
        &self,
        account: &EmailAddress,
        hash: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<(), StoreError> {
        let (account, hash, actor) = (account.clone(), hash.to_string(), actor.to_string());
        self.write(move |conn| identity::set_password(conn, &account, &hash, at, &actor))
            .await
    }

    async fn password_hash(&self, account: &EmailAddress) -> Result<Option<String>, StoreError> {
        let account = account.clone();
        self.read(move |conn| identity::password_hash(conn, &account))
            .await
    }

    async fn create_app_password(
        &self,
        account: &EmailAddress,
        name: &str,
        protocols: &[Protocol],
        secret_hash: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<AppPassword, StoreError> {
        let (account, name, protocols) = (account.clone(), name.to_string(), protocols.to_vec());
        let (secret_hash, actor) = (secret_hash.to_string(), actor.to_string());
        self.write(move |conn| {
            identity::create_app_password(
                conn,
                &account,
                &name,
                &protocols,
                &secret_hash,
                at,
                &actor,
            )
        })
        .await
    }

    async fn list_app_passwords(
        &self,
        account: &EmailAddress,
    ) -> Result<Vec<AppPassword>, StoreError> {
        let account = account.clone();
        self.read(move |conn| {
            let list = identity::list_app_passwords(conn, &account, false)?;
            Ok(list.into_iter().map(|(pw, _)| pw).collect())
        })
        .await
    }

    async fn active_app_password_hashes(
        &self,
        account: &EmailAddress,
    ) -> Result<Vec<(AppPassword, String)>, StoreError> {
        let account = account.clone();
        self.read(move |conn| identity::list_app_passwords(conn, &account, true))
            .await
    }

    async fn revoke_app_password(
        &self,
        account: &EmailAddress,
        id: i64,
        at: Timestamp,
        actor: &str,
    ) -> Result<AppPassword, StoreError> {
        let (account, actor) = (account.clone(), actor.to_string());
        self.write(move |conn| identity::revoke_app_password(conn, &account, id, at, &actor))
            .await
    }

    async fn touch_app_password(&self, id: i64, at: Timestamp) -> Result<(), StoreError> {
        self.write(move |conn| identity::touch_app_password(conn, id, at))
            .await
    }

    async fn create_session(
        &self,
        account: &EmailAddress,
        token_hash: &str,
        expires_at: Timestamp,
        ip: Option<&str>,
        user_agent: Option<&str>,
        mfa: bool,
        at: Timestamp,
    ) -> Result<ApiSession, StoreError> {
        let (account, token_hash) = (account.clone(), token_hash.to_string());
        let (ip, user_agent) = (ip.map(str::to_string), user_agent.map(str::to_string));
        self.write(move |conn| {
            identity::create_session(
                conn,
                &account,
                &token_hash,
                expires_at,
                ip.as_deref(),
                user_agent.as_deref(),
                mfa,
                at,
            )
        })
        .await
    }

    async fn session_by_token_hash(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<ApiSession>, StoreError> {
        let token_hash = token_hash.to_string();
        self.read(move |conn| identity::session_by_token_hash(conn, &token_hash, now))
            .await
    }

    async fn list_sessions(
        &self,
        account: &EmailAddress,
        now: Timestamp,
    ) -> Result<Vec<ApiSession>, StoreError> {
        let account = account.clone();
        self.read(move |conn| identity::list_sessions(conn, &account, now))
            .await
    }

    async fn revoke_session(
        &self,
        id: i64,
        at: Timestamp,
        actor: &str,
    ) -> Result<ApiSession, StoreError> {
        let actor = actor.to_string();
        self.write(move |conn| identity::revoke_session(conn, id, at, &actor))
            .await
    }

    async fn revoke_all(
        &self,
        account: &EmailAddress,
        at: Timestamp,
        actor: &str,
    ) -> Result<(u64, u64), StoreError> {
        let (account, actor) = (account.clone(), actor.to_string());
        self.write(move |conn| identity::revoke_all(conn, &account, at, &actor))
            .await
    }

    async fn totp(&self, account: &EmailAddress) -> Result<Option<TotpState>, StoreError> {
        let account = account.clone();
        self.read(move |conn| identity::totp(conn, &account)).await
    }

    async fn set_totp(
        &self,
        account: &EmailAddress,
        secret: &[u8],
        confirmed: bool,
        at: Timestamp,
        actor: &str,
    ) -> Result<(), StoreError> {
        let (account, secret, actor) = (account.clone(), secret.to_vec(), actor.to_string());
        self.write(move |conn| identity::set_totp(conn, &account, &secret, confirmed, at, &actor))
            .await
    }

    async fn confirm_totp(
        &self,
        account: &EmailAddress,
        step: i64,
        at: Timestamp,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let (account, actor) = (account.clone(), actor.to_string());
        self.write(move |conn| identity::confirm_totp(conn, &account, step, at, &actor))
            .await
    }

    async fn use_totp_step(&self, account: &EmailAddress, step: i64) -> Result<bool, StoreError> {
        let account = account.clone();
        self.write(move |conn| identity::use_totp_step(conn, &account, step))
            .await
    }

    async fn remove_totp(
        &self,
        account: &EmailAddress,
        at: Timestamp,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let (account, actor) = (account.clone(), actor.to_string());
        self.write(move |conn| identity::remove_totp(conn, &account, at, &actor))
            .await
    }

    async fn risk_profile(&self, account: &EmailAddress) -> Result<Option<Vec<u8>>, StoreError> {
        let account = account.clone();
        self.read(move |conn| identity::risk_profile(conn, &account))
            .await
    }

    async fn save_risk_profile(
        &self,
        account: &EmailAddress,
        bytes: Vec<u8>,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let account = account.clone();
        self.write(move |conn| identity::save_risk_profile(conn, &account, &bytes, at))
            .await
    }

    async fn add_block(
        &self,
        cidr: &str,
        reason: &str,
        expires_at: Option<Timestamp>,
        at: Timestamp,
        actor: &str,
    ) -> Result<SourceBlock, StoreError> {
        let (cidr, reason, actor) = (cidr.to_string(), reason.to_string(), actor.to_string());
        self.write(move |conn| identity::add_block(conn, &cidr, &reason, expires_at, at, &actor))
            .await
    }

    async fn remove_block(
        &self,
        cidr: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let (cidr, actor) = (cidr.to_string(), actor.to_string());
        self.write(move |conn| identity::remove_block(conn, &cidr, at, &actor))
            .await
    }

    async fn list_blocks(&self, now: Timestamp) -> Result<Vec<SourceBlock>, StoreError> {
        self.read(move |conn| identity::list_blocks(conn, now))
            .await
    }

    async fn create_challenge(&self, challenge: &Challenge) -> Result<(), StoreError> {
        let challenge = challenge.clone();
        self.write(move |conn| identity::create_challenge(conn, &challenge))
            .await
    }

    async fn challenge(&self, id: &str) -> Result<Option<Challenge>, StoreError> {
        let id = id.to_string();
        self.read(move |conn| identity::challenge_by_id(conn, &id))
            .await
    }

    async fn pending_challenges(
        &self,
        account: &EmailAddress,
        now: Timestamp,
    ) -> Result<Vec<Challenge>, StoreError> {
        let account = account.clone();
        self.read(move |conn| identity::pending_challenges(conn, &account, now))
            .await
    }

    async fn decide_challenge(
        &self,
        id: &str,
        status: ChallengeStatus,
        at: Timestamp,
        by: &str,
    ) -> Result<Challenge, StoreError> {
        let (id, by) = (id.to_string(), by.to_string());
        self.write(move |conn| identity::decide_challenge(conn, &id, status, at, &by))
            .await?
    }

    async fn add_trust(&self, trust: &Trust) -> Result<(), StoreError> {
        let trust = trust.clone();
        self.write(move |conn| identity::add_trust(conn, &trust))
            .await
    }

    async fn is_trusted(
        &self,
        account: &EmailAddress,
        ip: &str,
        device_id: Option<&str>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let (account, ip, device_id) = (
            account.clone(),
            ip.to_string(),
            device_id.map(str::to_string),
        );
        self.read(move |conn| identity::is_trusted(conn, &account, &ip, device_id.as_deref(), now))
            .await
    }

    async fn set_policy(
        &self,
        scope_kind: &str,
        scope_value: &str,
        policy_json: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<PolicyRecord, StoreError> {
        let (kind, value) = (scope_kind.to_string(), scope_value.to_string());
        let (policy, actor) = (policy_json.to_string(), actor.to_string());
        self.write(move |conn| identity::set_policy(conn, &kind, &value, &policy, at, &actor))
            .await
    }

    async fn remove_policy(
        &self,
        scope_kind: &str,
        scope_value: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let (kind, value, actor) = (
            scope_kind.to_string(),
            scope_value.to_string(),
            actor.to_string(),
        );
        self.write(move |conn| identity::remove_policy(conn, &kind, &value, at, &actor))
            .await
    }

    async fn list_policies(&self) -> Result<Vec<PolicyRecord>, StoreError> {
        self.read(identity::list_policies).await
    }

    async fn create_hold(
        &self,
        hold: &NewHold,
        at: Timestamp,
        actor: &str,
    ) -> Result<Hold, StoreError> {
        let (hold, actor) = (hold.clone(), actor.to_string());
        self.write(move |conn| holds::create_hold(conn, &hold, at, &actor))
            .await
    }

    async fn hold(&self, id: i64) -> Result<Option<Hold>, StoreError> {
        self.read(move |conn| holds::hold_by_id(conn, id)).await
    }

    async fn list_holds(
        &self,
        account: Option<&EmailAddress>,
        status: Option<HoldStatus>,
    ) -> Result<Vec<Hold>, StoreError> {
        let account = account.cloned();
        self.read(move |conn| holds::list_holds(conn, account.as_ref(), status))
            .await
    }

    async fn reopen_hold(&self, id: i64, at: Timestamp, why: &str) -> Result<Hold, StoreError> {
        let why = why.to_string();
        self.write(move |conn| holds::reopen_hold(conn, id, at, &why))
            .await
    }

    async fn due_holds(&self, now: Timestamp) -> Result<Vec<Hold>, StoreError> {
        self.read(move |conn| holds::due_holds(conn, now)).await
    }

    async fn decide_hold(
        &self,
        id: i64,
        status: HoldStatus,
        at: Timestamp,
        actor: &str,
    ) -> Result<Hold, StoreError> {
        let actor = actor.to_string();
        self.write(move |conn| holds::decide_hold(conn, id, status, at, &actor))
            .await
    }
}

/// Inserts one mailbox entry per account of `filing`, with quota and events.
fn file_messages(
    conn: &Connection,
    filing: &Filing,
    at: Timestamp,
    actor: &str,
) -> Result<Vec<MessageMeta>, StoreError> {
    let Filing {
        blob,
        size,
        summary,
        accounts,
        folder,
        flags,
        journal,
        archive,
    } = filing;
    let flag_bits: u32 = flags.iter().fold(0, |acc, f| acc | f.bit());
    let (size, folder) = (*size, *folder);
    let mut stored = Vec::with_capacity(accounts.len());
    for address in accounts {
        let account = require_account(conn, address)?;
        let mailbox = mailbox_id(conn, account.id.0, folder)?;
        let uid = next_uid(conn, mailbox)?;
        let modseq = imap::touch_mailbox(conn, mailbox, 1)?;
        conn.prepare_cached(
            "INSERT INTO messages(account_id, mailbox_id, uid, blob, size, from_addr, to_addr, subject, date, received_at, flags, modseq) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?
        .execute(params![
            account.id.0,
            mailbox,
            uid,
            blob.0,
            size as i64,
            summary.from,
            summary.to,
            summary.subject,
            summary.date,
            at.0,
            flag_bits as i64,
            modseq
        ])?;
        let id = MessageId(conn.last_insert_rowid());
        conn.prepare_cached("UPDATE accounts SET used_bytes = used_bytes + ?1 WHERE id = ?2")?
            .execute(params![size as i64, account.id.0])?;
        let mut fields = detail([
            ("id", id.to_string()),
            ("folder", folder.to_string()),
            ("blob", blob.0.clone()),
        ]);
        if let Some(verdict) = journal.as_ref().and_then(|j| j.verdict.as_ref()) {
            fields.insert("verdict".into(), verdict.clone());
        }
        insert_event(
            conn,
            EventKind::MessageDelivered,
            at,
            actor,
            Some(address.as_str()),
            fields,
        )?;
        stored.push(MessageMeta {
            id,
            account: address.clone(),
            mailbox: folder.as_str().to_string(),
            folder: Some(folder),
            uid: uid as u32,
            blob: blob.clone(),
            size,
            from: summary.from.clone(),
            to: summary.to.clone(),
            subject: summary.subject.clone(),
            date: summary.date.clone(),
            received_at: at,
            flags: flags.clone(),
            deleted_at: None,
            recoverable_until: None,
        });
    }
    if let Some(journal) = journal.as_ref().filter(|_| *archive) {
        let filed: Vec<String> = accounts.iter().map(|a| a.to_string()).collect();
        compliance::journal(
            conn,
            blob,
            size,
            at,
            journal,
            &summary.from,
            &summary.subject,
            &filed,
        )?;
    }
    Ok(stored)
}

/// `[address]` when it is a local account, else nothing.
fn local_party(conn: &Connection, address: &str) -> Result<Vec<String>, StoreError> {
    let address = address.trim().to_ascii_lowercase();
    Ok(account_by_address(conn, &address)?
        .map(|a| vec![a.address.to_string()])
        .unwrap_or_default())
}

/// Whether any message row, or any quarantine entry still held, needs the blob.
fn blob_in_use(conn: &Connection, blob: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM messages WHERE blob = ?1) \
             OR EXISTS(SELECT 1 FROM quarantine WHERE blob = ?1 AND status = 'held') \
             OR EXISTS(SELECT 1 FROM outbound_queue WHERE blob = ?1 AND status IN ('queued', 'sending', 'held')) \
             OR EXISTS(SELECT 1 FROM holds WHERE blob = ?1 AND status IN ('held', 'released')) \
             OR EXISTS(SELECT 1 FROM archive WHERE blob = ?1)",
        )?
        .query_row([blob], |r| r.get(0))?)
}

const QUARANTINE_COLUMNS: &str = "id, received_at, direction, blob, size, mail_from, recipients, \
     from_addr, subject, score, report, status, decided_at, decided_by";

fn row_to_quarantine(r: &Row<'_>) -> rusqlite::Result<QuarantineEntry> {
    let direction: String = r.get(2)?;
    let recipients: String = r.get(6)?;
    let status: String = r.get(11)?;
    Ok(QuarantineEntry {
        id: r.get(0)?,
        received_at: Timestamp(r.get(1)?),
        direction: direction.parse().map_err(|e: String| bad(2, e))?,
        blob: BlobId(r.get(3)?),
        size: r.get::<_, i64>(4)? as u64,
        mail_from: r.get(5)?,
        recipients: serde_json::from_str(&recipients).map_err(|e| bad(6, e.to_string()))?,
        from: r.get(7)?,
        subject: r.get(8)?,
        score: r.get::<_, f64>(9)? as f32,
        report: r.get(10)?,
        status: QuarantineStatus::parse(&status).ok_or_else(|| bad(11, status.clone()))?,
        decided_at: r.get::<_, Option<i64>>(12)?.map(Timestamp),
        decided_by: r.get(13)?,
    })
}

fn quarantine_by_id(conn: &Connection, id: i64) -> Result<Option<QuarantineEntry>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {QUARANTINE_COLUMNS} FROM quarantine WHERE id = ?1"),
            [id],
            row_to_quarantine,
        )
        .optional()?)
}

/// Moves a held entry to `status`; anything else is a conflict (a decision is final).
fn decide_quarantine(
    conn: &Connection,
    id: i64,
    status: QuarantineStatus,
    at: Timestamp,
    actor: &str,
) -> Result<QuarantineEntry, StoreError> {
    let entry = quarantine_by_id(conn, id)?
        .ok_or_else(|| StoreError::NotFound(format!("quarantined message {id}")))?;
    if entry.status != QuarantineStatus::Held {
        return Err(StoreError::Conflict(format!(
            "quarantined message {id} was already {}",
            entry.status.as_str()
        )));
    }
    conn.execute(
        "UPDATE quarantine SET status = ?1, decided_at = ?2, decided_by = ?3 WHERE id = ?4",
        params![status.as_str(), at.0, actor, id],
    )?;
    Ok(QuarantineEntry {
        status,
        decided_at: Some(at),
        decided_by: Some(actor.to_string()),
        ..entry
    })
}

fn alias_targets(conn: &Connection, alias: &EmailAddress) -> Result<Vec<EmailAddress>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT a.address FROM aliases l JOIN accounts a ON a.id = l.target_id WHERE l.address = ?1 ORDER BY a.address",
    )?;
    let rows = stmt.query_map([alias.as_str()], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(
            row?.parse()
                .map_err(|e| StoreError::Backend(format!("{e}")))?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store made before migration 7 keeps its queue: rows, ids and states survive the table
    /// rebuild, and accounts gain the containment columns unset.
    #[tokio::test]
    async fn migration_7_keeps_a_queue_written_by_an_older_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..6] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch(
                "PRAGMA user_version = 6;
                 INSERT INTO domains(name, created_at) VALUES ('example.com', 1);
                 INSERT INTO accounts(address, domain, created_at) VALUES ('a@example.com', 'example.com', 1);
                 INSERT INTO outbound_queue(id, queue_id, blob, size, mail_from, rcpt, account, status, attempts, next_attempt_at, last_error, created_at)
                   VALUES (41, 'Q1', 'b', 10, 'a@example.com', 'x@partner.example', 'a@example.com', 'queued', 2, 100, 'greylisted', 5),
                          (42, 'Q1', 'b', 10, 'a@example.com', 'y@partner.example', 'a@example.com', 'failed', 9, 100, 'gone', 5);",
            )
            .unwrap();
        }
        let store = SqliteMetaStore::open(&path).unwrap();
        let rows = store.list_outbound(None).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].id, rows[0].status.as_str(), rows[0].attempts),
            (41, "queued", 2)
        );
        assert_eq!(rows[0].last_error.as_deref(), Some("greylisted"));
        assert_eq!((rows[1].id, rows[1].status.as_str()), (42, "failed"));
        let claimed = store
            .claim_outbound(Timestamp(200), Timestamp(500), 10, 8)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        let a = store
            .account(&"a@example.com".parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(a.contained_at.is_none() && !a.password_reset_required);
    }

    /// A store made at version 7 keeps its mailboxes and messages through migration 8: the
    /// visible messages are counted, everything starts at mod-sequence 1 and subscribed, and
    /// new UIDVALIDITY values stay above the old ones.
    #[tokio::test]
    async fn migration_9_chains_the_events_written_before_it_and_seals_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..8] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch(
                "PRAGMA user_version = 8;
                 INSERT INTO events(id, at, kind, actor, subject, detail) VALUES
                   (1, 5, 'domain_added', 'cli:root', NULL, '{\"domain\":\"example.com\"}'),
                   (2, 6, 'account_created', 'cli:root', 'a@example.com', '{}');",
            )
            .unwrap();
        }
        let store = SqliteMetaStore::open(&path).unwrap();
        let entries = store.audit_entries(0, 10).await.unwrap();
        let mut prev = crate::audit::GENESIS;
        for e in &entries {
            prev = crate::audit::entry_hash(
                &prev,
                e.id,
                e.at.0,
                &e.kind,
                &e.actor,
                e.subject.as_deref(),
                &e.detail,
            );
            assert_eq!(e.hash.as_deref(), Some(hex::encode(prev).as_str()));
        }
        let next = store
            .record_event(
                EventKind::PolicyChanged,
                Timestamp(7),
                "cli",
                None,
                BTreeMap::new(),
            )
            .await
            .unwrap();
        assert_eq!(next.id, 3);
        let head = store.audit_head().await.unwrap().unwrap();
        let third = &store.audit_entries(2, 1).await.unwrap()[0];
        assert_eq!(
            head.1,
            hex::encode(crate::audit::entry_hash(
                &prev,
                3,
                7,
                "policy_changed",
                "cli",
                None,
                &third.detail
            ))
        );
        drop(store);
        // Blanking hashes and reopening must not re-chain (that would launder edits).
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "DROP TRIGGER events_no_update; UPDATE events SET hash = NULL WHERE id = 2;",
            )
            .unwrap();
        }
        let store = SqliteMetaStore::open(&path).unwrap();
        assert_eq!(store.audit_entries(1, 1).await.unwrap()[0].hash, None);
    }

    #[tokio::test]
    async fn migration_8_keeps_mailboxes_and_messages_written_by_version_7() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..7] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch(
                "PRAGMA user_version = 7;
                 INSERT INTO domains(name, created_at) VALUES ('example.com', 1);
                 INSERT INTO accounts(id, address, domain, used_bytes, created_at)
                   VALUES (1, 'a@example.com', 'example.com', 30, 1);
                 INSERT INTO mailboxes(id, account_id, name, uidvalidity, uidnext) VALUES
                   (1, 1, 'INBOX', 2000000000, 4), (2, 1, 'Sent', 2000000001, 1),
                   (3, 1, 'Drafts', 2000000002, 1), (4, 1, 'Junk', 2000000003, 1),
                   (5, 1, 'Trash', 2000000004, 1), (6, 1, 'Archive', 2000000005, 1);
                 INSERT INTO messages(id, account_id, mailbox_id, uid, blob, size, from_addr,
                   to_addr, subject, date, received_at, flags, deleted_at) VALUES
                   (10, 1, 1, 1, 'b1', 10, 'x', 'a', 'one', '', 5, 1, NULL),
                   (11, 1, 1, 2, 'b2', 20, 'x', 'a', 'two', '', 6, 0, NULL),
                   (12, 1, 1, 3, 'b3', 30, 'x', 'a', 'gone', '', 7, 0, 8);",
            )
            .unwrap();
        }
        let store = SqliteMetaStore::open(&path).unwrap();
        let alice: EmailAddress = "a@example.com".parse().unwrap();
        let inbox = store.mailbox(&alice, "INBOX").await.unwrap().unwrap();
        assert_eq!((inbox.id, inbox.uidnext, inbox.exists), (1, 4, 2));
        assert_eq!((inbox.unseen, inbox.first_unseen_uid), (1, Some(2)));
        assert_eq!((inbox.highest_modseq, inbox.subscribed), (1, true));
        assert_eq!(inbox.uidvalidity, 2_000_000_000);
        assert_eq!(store.mailbox_state(1).await.unwrap(), (4, 1, 2));
        let msgs = store.imap_messages(1).await.unwrap();
        assert_eq!(msgs.iter().map(|m| m.uid).collect::<Vec<_>>(), [1, 2]);
        assert!(msgs.iter().all(|m| m.modseq == 1 && m.keywords.is_empty()));
        assert_eq!(msgs[0].flags, [Flag::Seen]);
        let deleted = store.list_messages(&alice, None, true).await.unwrap();
        assert_eq!(deleted.len(), 1);
        assert_eq!(
            (deleted[0].mailbox.as_str(), deleted[0].folder),
            ("INBOX", Some(Folder::Inbox))
        );

        let created = store
            .create_mailbox(&alice, "Later", Timestamp(10))
            .await
            .unwrap();
        assert!(created.uidvalidity > 2_000_000_005);
        let filing = Filing {
            blob: BlobId("b4".into()),
            size: 5,
            summary: crate::MessageSummary::default(),
            accounts: vec![alice.clone()],
            folder: Folder::Inbox,
            flags: Vec::new(),
            journal: None,
            archive: false,
        };
        store
            .insert_messages(&filing, Timestamp(11), "smtp")
            .await
            .unwrap();
        assert_eq!(store.mailbox_state(1).await.unwrap(), (5, 2, 3));
    }
}
