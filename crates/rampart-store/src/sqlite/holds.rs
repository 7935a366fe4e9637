//! Outbound messages held by data-leak prevention (schema: migration 6). Each function runs
//! inside the caller's transaction, so a decision and its event commit together.

use rampart_model::{EmailAddress, EventKind, Hold, HoldKind, HoldStatus, NewHold, Timestamp};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{bad, detail, insert_event};
use crate::StoreError;

const COLUMNS: &str = "id, kind, account, mail_from, recipients, blob, size, subject, rule, \
     findings, status, created_at, expires_at, decided_at, decided_by";

fn row_to_hold(r: &Row<'_>) -> rusqlite::Result<Hold> {
    let kind: String = r.get(1)?;
    let account: String = r.get(2)?;
    let recipients: String = r.get(4)?;
    let status: String = r.get(10)?;
    let recipients = recipients
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<EmailAddress>().map_err(|e| bad(4, e)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Hold {
        id: r.get(0)?,
        kind: kind.parse().map_err(|e| bad(1, e))?,
        account: account.parse().map_err(|e| bad(2, e))?,
        mail_from: r.get(3)?,
        recipients,
        blob: rampart_model::BlobId(r.get(5)?),
        size: r.get::<_, i64>(6)? as u64,
        subject: r.get(7)?,
        rule: r.get(8)?,
        findings: r.get(9)?,
        status: status.parse().map_err(|e| bad(10, e))?,
        created_at: Timestamp(r.get(11)?),
        expires_at: r.get::<_, Option<i64>>(12)?.map(Timestamp),
        decided_at: r.get::<_, Option<i64>>(13)?.map(Timestamp),
        decided_by: r.get(14)?,
    })
}

pub(super) fn hold_by_id(conn: &Connection, id: i64) -> Result<Option<Hold>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM holds WHERE id = ?1"))?
        .query_row([id], row_to_hold)
        .optional()?)
}

pub(super) fn create_hold(
    conn: &Connection,
    h: &NewHold,
    at: Timestamp,
    actor: &str,
) -> Result<Hold, StoreError> {
    if h.recipients.is_empty() {
        return Err(StoreError::Invalid(
            "a held message needs a recipient".into(),
        ));
    }
    let recipients = h
        .recipients
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",");
    conn.prepare_cached(
        "INSERT INTO holds(kind, account, mail_from, recipients, blob, size, subject, rule, findings, \
         created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        h.kind.as_str(),
        h.account.as_str(),
        h.mail_from,
        recipients,
        h.blob.0,
        h.size as i64,
        h.subject,
        h.rule,
        h.findings,
        at.0,
        h.expires_at.map(|t| t.0),
    ])?;
    let id = conn.last_insert_rowid();
    insert_event(
        conn,
        EventKind::DlpHeld,
        at,
        actor,
        Some(h.account.as_str()),
        detail([
            ("hold", id.to_string()),
            ("kind", h.kind.as_str().to_string()),
            ("rule", h.rule.clone()),
            ("recipients", h.recipients.len().to_string()),
            ("findings", h.findings.clone()),
        ]),
    )?;
    hold_by_id(conn, id)?.ok_or_else(|| StoreError::NotFound(format!("hold {id}")))
}

pub(super) fn list_holds(
    conn: &Connection,
    account: Option<&EmailAddress>,
    status: Option<HoldStatus>,
) -> Result<Vec<Hold>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM holds WHERE (?1 IS NULL OR account = ?1) \
         AND (?2 IS NULL OR status = ?2) ORDER BY id DESC"
    ))?;
    let rows = stmt.query_map(
        params![account.map(|a| a.as_str()), status.map(|s| s.as_str())],
        row_to_hold,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn due_holds(conn: &Connection, now: Timestamp) -> Result<Vec<Hold>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM holds WHERE status = 'held' AND expires_at IS NOT NULL \
         AND expires_at <= ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([now.0], row_to_hold)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Moves a held message to `status`; only from `held`, so two deciders cannot both win.
pub(super) fn decide_hold(
    conn: &Connection,
    id: i64,
    status: HoldStatus,
    at: Timestamp,
    actor: &str,
) -> Result<Hold, StoreError> {
    let hold = hold_by_id(conn, id)?.ok_or_else(|| StoreError::NotFound(format!("hold {id}")))?;
    if hold.status != HoldStatus::Held {
        return Err(StoreError::Conflict(format!(
            "hold {id} is already {}",
            hold.status
        )));
    }
    let kind = match status {
        HoldStatus::Released => EventKind::DlpReleased,
        HoldStatus::Rejected => EventKind::DlpRejected,
        HoldStatus::Expired => EventKind::DlpExpired,
        HoldStatus::Held => {
            return Err(StoreError::Invalid(
                "a hold cannot be decided as held".into(),
            ))
        }
    };
    conn.prepare_cached(
        "UPDATE holds SET status = ?1, decided_at = ?2, decided_by = ?3 WHERE id = ?4",
    )?
    .execute(params![status.as_str(), at.0, actor, id])?;
    insert_event(
        conn,
        kind,
        at,
        actor,
        Some(hold.account.as_str()),
        detail([
            ("hold", id.to_string()),
            ("rule", hold.rule.clone()),
            (
                "by",
                if hold.kind == HoldKind::Sender {
                    "sender"
                } else {
                    "admin"
                }
                .to_string(),
            ),
        ]),
    )?;
    hold_by_id(conn, id)?.ok_or_else(|| StoreError::NotFound(format!("hold {id}")))
}

/// Puts a `released` hold back to `held` (its delivery failed after it was claimed), with an
/// event saying so.
pub(super) fn reopen_hold(
    conn: &Connection,
    id: i64,
    at: Timestamp,
    why: &str,
) -> Result<Hold, StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE holds SET status = 'held', decided_at = NULL, decided_by = NULL \
             WHERE id = ?1 AND status = 'released'",
        )?
        .execute([id])?;
    let hold = hold_by_id(conn, id)?.ok_or_else(|| StoreError::NotFound(format!("hold {id}")))?;
    if changed == 0 {
        return Err(StoreError::Conflict(format!(
            "hold {id} is {}, not released",
            hold.status
        )));
    }
    insert_event(
        conn,
        EventKind::DlpHeld,
        at,
        "dlp",
        Some(hold.account.as_str()),
        detail([
            ("hold", id.to_string()),
            ("reopened", why.chars().take(200).collect()),
        ]),
    )?;
    Ok(hold)
}
