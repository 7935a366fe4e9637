//! The outbound queue's life after submission (schema: migrations 5 and 7), containment and the
//! sending hold. Each function runs inside the caller's transaction, so a state change and its
//! event commit together.

use rampart_model::{EmailAddress, EventKind, OutboundEntry, Timestamp};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{bad, detail, insert_event, require_account};
use crate::meta::{ContainSummary, OutboundUpdate};
use crate::StoreError;

pub(super) const COLUMNS: &str = "id, queue_id, blob, size, mail_from, rcpt, account, status, \
     attempts, next_attempt_at, last_error, created_at, last_attempt_at, remote, delay_notified";

pub(super) fn row_to_entry(r: &Row<'_>) -> rusqlite::Result<OutboundEntry> {
    let rcpt: String = r.get(5)?;
    let account: String = r.get(6)?;
    Ok(OutboundEntry {
        id: r.get(0)?,
        queue_id: r.get(1)?,
        blob: rampart_model::BlobId(r.get(2)?),
        size: r.get::<_, i64>(3)? as u64,
        mail_from: r.get(4)?,
        recipient: rcpt.parse().map_err(|e| bad(5, e))?,
        account: account.parse().map_err(|e| bad(6, e))?,
        status: r.get(7)?,
        attempts: r.get::<_, i64>(8)?.max(0) as u32,
        next_attempt_at: Timestamp(r.get(9)?),
        last_error: r.get(10)?,
        created_at: Timestamp(r.get(11)?),
        last_attempt_at: r.get::<_, Option<i64>>(12)?.map(Timestamp),
        remote: r.get(13)?,
        delay_notified: r.get::<_, i64>(14)? != 0,
    })
}

/// Due rows looked at per claim (oldest first): bounds the cost of a claim under a backlog.
const CANDIDATES: i64 = 2000;

/// Claims up to `limit` due rows: `queued` ones whose time has come, and `sending` ones whose
/// lease ran out (the worker that claimed them died). Claimed rows are `sending` until `lease`.
/// Fair to destinations: per recipient domain, at most `per_domain` messages are `sending` at
/// once (counting claims still under lease), oldest first, so one slow or huge destination
/// cannot take every slot.
pub(super) fn claim(
    conn: &Connection,
    now: Timestamp,
    lease: Timestamp,
    limit: usize,
    per_domain: usize,
) -> Result<Vec<OutboundEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "WITH due AS ( \
           SELECT * FROM ( \
             SELECT id, queue_id, created_at, rcpt FROM outbound_queue \
               WHERE status = 'queued' AND next_attempt_at <= ?1 \
               ORDER BY next_attempt_at LIMIT ?5) \
           UNION ALL \
           SELECT * FROM ( \
             SELECT id, queue_id, created_at, rcpt FROM outbound_queue \
               WHERE status = 'sending' AND lease_until <= ?1 LIMIT ?5)), \
         busy AS ( \
           SELECT lower(substr(rcpt, instr(rcpt, '@') + 1)) AS d, COUNT(DISTINCT queue_id) AS n \
             FROM outbound_queue WHERE status = 'sending' AND lease_until > ?1 GROUP BY d), \
         ranked AS ( \
           SELECT due.id AS id, \
             DENSE_RANK() OVER (PARTITION BY lower(substr(due.rcpt, instr(due.rcpt, '@') + 1)) \
                                ORDER BY due.created_at, due.queue_id) AS r, \
             COALESCE(busy.n, 0) AS b \
           FROM due LEFT JOIN busy ON busy.d = lower(substr(due.rcpt, instr(due.rcpt, '@') + 1))) \
         UPDATE outbound_queue SET status = 'sending', lease_until = ?2 WHERE id IN ( \
           SELECT id FROM ranked WHERE r + b <= ?4 ORDER BY id LIMIT ?3) \
         RETURNING {COLUMNS}"
    ))?;
    let rows = stmt.query_map(
        params![
            now.0,
            lease.0,
            limit as i64,
            per_domain.max(1) as i64,
            CANDIDATES
        ],
        row_to_entry,
    )?;
    let mut out = rows.collect::<Result<Vec<_>, _>>()?;
    out.sort_by_key(|e| e.id);
    Ok(out)
}

/// Records what the attempts found. Rows that are no longer `sending` (deleted or held by an
/// administrator meanwhile) are left alone.
pub(super) fn finish(
    conn: &Connection,
    updates: &[OutboundUpdate],
    at: Timestamp,
) -> Result<(), StoreError> {
    for u in updates {
        match u {
            OutboundUpdate::Sent { id, remote } => {
                let row = update_returning(
                    conn,
                    "UPDATE outbound_queue SET status = 'sent', attempts = attempts + 1, \
                     last_attempt_at = ?2, remote = ?3, last_error = NULL, lease_until = NULL \
                     WHERE id = ?1 AND status = 'sending'",
                    params![id, at.0, remote],
                    *id,
                )?;
                if let Some(e) = row {
                    insert_event(
                        conn,
                        EventKind::OutboundDelivered,
                        at,
                        "delivery",
                        Some(e.account.as_str()),
                        detail([
                            ("queue_id", e.queue_id),
                            ("recipient", e.recipient.to_string()),
                            ("remote", remote.clone()),
                            ("attempts", e.attempts.to_string()),
                        ]),
                    )?;
                }
            }
            OutboundUpdate::Retry {
                id,
                next_attempt_at,
                error,
            } => {
                update_returning(
                    conn,
                    "UPDATE outbound_queue SET status = 'queued', attempts = attempts + 1, \
                     last_attempt_at = ?2, next_attempt_at = ?3, last_error = ?4, lease_until = NULL \
                     WHERE id = ?1 AND status = 'sending'",
                    params![id, at.0, next_attempt_at.0, error],
                    *id,
                )?;
            }
            OutboundUpdate::Failed { id, error } => {
                let row = update_returning(
                    conn,
                    "UPDATE outbound_queue SET status = 'failed', attempts = attempts + 1, \
                     last_attempt_at = ?2, last_error = ?3, lease_until = NULL \
                     WHERE id = ?1 AND status = 'sending'",
                    params![id, at.0, error],
                    *id,
                )?;
                if let Some(e) = row {
                    insert_event(
                        conn,
                        EventKind::OutboundBounced,
                        at,
                        "delivery",
                        Some(e.account.as_str()),
                        detail([
                            ("queue_id", e.queue_id),
                            ("recipient", e.recipient.to_string()),
                            ("error", error.clone()),
                            ("attempts", e.attempts.to_string()),
                        ]),
                    )?;
                }
            }
            OutboundUpdate::DelayNotified { id } => {
                conn.prepare_cached("UPDATE outbound_queue SET delay_notified = 1 WHERE id = ?1")?
                    .execute([id])?;
            }
        }
    }
    Ok(())
}

fn update_returning(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    id: i64,
) -> Result<Option<OutboundEntry>, StoreError> {
    if conn.prepare_cached(sql)?.execute(params)? == 0 {
        return Ok(None);
    }
    entry(conn, id)
}

pub(super) fn entry(conn: &Connection, id: i64) -> Result<Option<OutboundEntry>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM outbound_queue WHERE id = ?1"
        ))?
        .query_row([id], row_to_entry)
        .optional()?)
}

/// Rows named by a row id (all digits) or a queue id.
pub(super) fn select(conn: &Connection, which: &str) -> Result<Vec<OutboundEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM outbound_queue WHERE queue_id = ?1 OR CAST(id AS TEXT) = ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([which], row_to_entry)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Makes waiting, held or failed rows due now (`rampart queue retry`); sent rows stay sent.
pub(super) fn retry(
    conn: &Connection,
    which: &str,
    at: Timestamp,
    actor: &str,
) -> Result<Vec<OutboundEntry>, StoreError> {
    let rows = select(conn, which)?;
    if rows.is_empty() {
        return Err(StoreError::NotFound(format!("queue entry {which}")));
    }
    let mut out = Vec::new();
    for e in rows {
        if !matches!(e.status.as_str(), "queued" | "failed" | "held") {
            continue;
        }
        if e.status == "held" {
            let account = e.account.clone();
            let contained: Option<i64> = conn
                .query_row(
                    "SELECT contained_at FROM accounts WHERE address = ?1",
                    [account.as_str()],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            if contained.is_some() {
                return Err(StoreError::Conflict(format!(
                    "{account} is contained; release the account first (rampart account release {account})"
                )));
            }
        }
        conn.prepare_cached(
            "UPDATE outbound_queue SET status = 'queued', next_attempt_at = ?2, lease_until = NULL \
             WHERE id = ?1",
        )?
        .execute(params![e.id, at.0])?;
        insert_event(
            conn,
            EventKind::OutboundRetried,
            at,
            actor,
            Some(e.account.as_str()),
            detail([
                ("queue_id", e.queue_id.clone()),
                ("recipient", e.recipient.to_string()),
                ("was", e.status.clone()),
            ]),
        )?;
        if let Some(e) = entry(conn, e.id)? {
            out.push(e);
        }
    }
    Ok(out)
}

/// Removes rows (`rampart queue delete`); the blob goes with the next purge once nothing else
/// refers to it. A row being sent right now is refused: its attempt would still go out.
pub(super) fn delete(
    conn: &Connection,
    which: &str,
    at: Timestamp,
    actor: &str,
) -> Result<Vec<OutboundEntry>, StoreError> {
    let rows = select(conn, which)?;
    if rows.is_empty() {
        return Err(StoreError::NotFound(format!("queue entry {which}")));
    }
    if let Some(busy) = rows.iter().find(|e| e.status == "sending") {
        return Err(StoreError::Conflict(format!(
            "entry {} to {} is being delivered right now; try again in a minute",
            busy.id, busy.recipient
        )));
    }
    for e in &rows {
        conn.prepare_cached("DELETE FROM outbound_queue WHERE id = ?1")?
            .execute([e.id])?;
        insert_event(
            conn,
            EventKind::OutboundDeleted,
            at,
            actor,
            Some(e.account.as_str()),
            detail([
                ("queue_id", e.queue_id.clone()),
                ("recipient", e.recipient.to_string()),
                ("status", e.status.clone()),
            ]),
        )?;
    }
    Ok(rows)
}

/// Contains an account: no login, credentials revoked, trust forgotten, password reset and
/// step-up required, its waiting mail held.
pub(super) fn contain(
    conn: &Connection,
    address: &EmailAddress,
    reason: &str,
    at: Timestamp,
    actor: &str,
) -> Result<ContainSummary, StoreError> {
    let account = require_account(conn, address)?;
    conn.execute(
        "UPDATE accounts SET contained_at = COALESCE(contained_at, ?2), contain_reason = ?3, \
         password_reset_required = 1, step_up_required = 1 WHERE id = ?1",
        params![account.id.0, at.0, reason],
    )?;
    let (sessions, app_passwords) = super::identity::revoke_credentials(conn, account.id.0, at)?;
    let trusted = conn.execute("DELETE FROM trust WHERE account_id = ?1", [account.id.0])?;
    let held = conn.execute(
        "UPDATE outbound_queue SET status = 'held' WHERE account = ?1 AND status = 'queued'",
        [address.as_str()],
    )?;
    let in_flight: i64 = conn.query_row(
        "SELECT COUNT(*) FROM outbound_queue WHERE account = ?1 AND status = 'sending'",
        [address.as_str()],
        |r| r.get(0),
    )?;
    let summary = ContainSummary {
        sessions_revoked: sessions,
        app_passwords_revoked: app_passwords,
        trusted_devices_forgotten: trusted as u64,
        queued_held: held as u64,
        in_flight: in_flight.max(0) as u64,
    };
    insert_event(
        conn,
        EventKind::AccountContained,
        at,
        actor,
        Some(address.as_str()),
        detail([
            ("reason", reason.to_string()),
            ("sessions_revoked", sessions.to_string()),
            ("app_passwords_revoked", app_passwords.to_string()),
            ("trusted_devices_forgotten", trusted.to_string()),
            ("queued_held", held.to_string()),
        ]),
    )?;
    Ok(summary)
}

/// Ends containment: logins work again (a password reset is still required until an
/// administrator sets one, and the next login must pass step-up), held mail is queued again
/// unless `discard_held`, which deletes it.
pub(super) fn release(
    conn: &Connection,
    address: &EmailAddress,
    discard_held: bool,
    at: Timestamp,
    actor: &str,
) -> Result<usize, StoreError> {
    let account = require_account(conn, address)?;
    if account.contained_at.is_none() {
        return Err(StoreError::Conflict(format!("{address} is not contained")));
    }
    conn.execute(
        "UPDATE accounts SET contained_at = NULL, contain_reason = NULL, sending_held_at = NULL \
         WHERE id = ?1",
        [account.id.0],
    )?;
    let moved = if discard_held {
        conn.execute(
            "DELETE FROM outbound_queue WHERE account = ?1 AND status = 'held'",
            [address.as_str()],
        )?
    } else {
        conn.execute(
            "UPDATE outbound_queue SET status = 'queued', next_attempt_at = ?2 \
             WHERE account = ?1 AND status = 'held'",
            params![address.as_str(), at.0],
        )?
    };
    insert_event(
        conn,
        EventKind::AccountReleased,
        at,
        actor,
        Some(address.as_str()),
        detail([
            (
                if discard_held {
                    "held_discarded"
                } else {
                    "held_requeued"
                },
                moved.to_string(),
            ),
            (
                "password_reset_pending",
                account.password_reset_required.to_string(),
            ),
        ]),
    )?;
    Ok(moved)
}

/// Sets or clears the sending hold; returns whether it changed.
pub(super) fn set_sending_hold(
    conn: &Connection,
    address: &EmailAddress,
    held: bool,
    at: Timestamp,
    actor: &str,
    why: &str,
) -> Result<bool, StoreError> {
    let account = require_account(conn, address)?;
    if account.sending_held_at.is_some() == held {
        return Ok(false);
    }
    conn.execute(
        "UPDATE accounts SET sending_held_at = ?2 WHERE id = ?1",
        params![account.id.0, held.then_some(at.0)],
    )?;
    let kind = if held {
        EventKind::SendingHeld
    } else {
        EventKind::SendingReleased
    };
    insert_event(
        conn,
        kind,
        at,
        actor,
        Some(address.as_str()),
        detail([("why", why.to_string())]),
    )?;
    Ok(true)
}
