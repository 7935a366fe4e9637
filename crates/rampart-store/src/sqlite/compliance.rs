//! The audit chain, the archive journal and legal holds (schema: migration 9). Each function runs
//! inside the caller's transaction, so a journal entry commits with the delivery that made it and
//! a decision with its event.

use std::collections::{BTreeMap, BTreeSet};

use rampart_model::config::ArchiveConfig;
use rampart_model::{
    ArchiveEntry, ArchivePurge, AuditEntry, BlobId, Checkpoint, EventKind, Journal, LegalHold,
    LegalHoldKind, Timestamp,
};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{bad, detail, insert_event};
use crate::audit::{entry_hash, parse_hash, GENESIS};
use crate::StoreError;

/// Appends one event to the chain: its id is the last id + 1 and its hash commits to the last
/// row's hash. The writer serialises transactions (in this process and, through SQLite's write
/// lock, across processes), so the last row cannot change underneath.
pub(super) fn append_event(
    conn: &Connection,
    at: Timestamp,
    kind: &str,
    actor: &str,
    subject: Option<&str>,
    detail_json: &str,
) -> Result<i64, StoreError> {
    let (id, prev) = match audit_head(conn)? {
        None => (1, GENESIS),
        Some((id, hash)) => {
            let prev = parse_hash(&hash).ok_or_else(|| {
                StoreError::Backend(format!(
                    "the audit chain is damaged at event {id} (no valid hash); run `rampart audit verify`"
                ))
            })?;
            (id + 1, prev)
        }
    };
    let hash = hex::encode(entry_hash(
        &prev,
        id,
        at.0,
        kind,
        actor,
        subject,
        detail_json,
    ));
    conn.prepare_cached(
        "INSERT INTO events(id, at, kind, actor, subject, detail, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![id, at.0, kind, actor, subject, detail_json, hash])?;
    roll_up(conn, at, kind, subject, detail_json)?;
    Ok(id)
}

/// Keeps the dashboard's counters (migration 10) in step with the log.
fn roll_up(
    conn: &Connection,
    at: Timestamp,
    kind: &str,
    subject: Option<&str>,
    detail_json: &str,
) -> Result<(), StoreError> {
    // The detail is a serialised BTreeMap<String, String>: this exact text is the Junk folder.
    let junk = kind == "message_delivered" && detail_json.contains("\"folder\":\"Junk\"");
    conn.prepare_cached(
        "INSERT INTO event_rollup(hour, kind, junk, n) VALUES (?1, ?2, ?3, 1) \
         ON CONFLICT(hour, kind, junk) DO UPDATE SET n = n + 1",
    )?
    .execute(params![at.0.div_euclid(3600), kind, junk])?;
    let (denied, challenged) = match kind {
        "login_denied" | "login_blocked" => (1, 0),
        "login_challenged" => (0, 1),
        _ => return Ok(()),
    };
    let ip = serde_json::from_str::<BTreeMap<String, String>>(detail_json)
        .ok()
        .and_then(|d| d.get("ip").cloned());
    let mut add = conn.prepare_cached(
        "INSERT INTO login_rollup(day, who_kind, who, denied, challenged) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT(day, who_kind, who) DO UPDATE SET denied = denied + ?4, challenged = challenged + ?5",
    )?;
    let day = at.0.div_euclid(86_400);
    if let Some(subject) = subject {
        add.execute(params![day, "account", subject, denied, challenged])?;
    }
    if let Some(ip) = ip {
        add.execute(params![day, "source", ip, denied, challenged])?;
    }
    Ok(())
}

/// Migration 9's step, inside its transaction: chains the events written before the chain
/// existed (once, here; never later, which would launder rows someone blanked), then makes the
/// log append-only. A trigger stops the server's own code (and casual SQL) from rewriting
/// history; it does not stop someone who drops it, which is what the hash chain and the signed
/// checkpoints are for.
pub(super) fn chain_and_seal(conn: &Connection) -> Result<(), StoreError> {
    let rows: Vec<(i64, i64, String, String, Option<String>, String)> = {
        let mut stmt =
            conn.prepare("SELECT id, at, kind, actor, subject, detail FROM events ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let mut prev = GENESIS;
    let mut update = conn.prepare("UPDATE events SET hash = ?1 WHERE id = ?2")?;
    for (id, at, kind, actor, subject, detail) in rows {
        prev = entry_hash(&prev, id, at, &kind, &actor, subject.as_deref(), &detail);
        update.execute(params![hex::encode(prev), id])?;
    }
    conn.execute_batch(
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events \
             BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END; \
         CREATE TRIGGER events_no_delete BEFORE DELETE ON events \
             BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END; \
         CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON audit_checkpoints \
             BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END; \
         CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON audit_checkpoints \
             BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END; \
         CREATE TRIGGER archive_no_update BEFORE UPDATE ON archive \
             BEGIN SELECT RAISE(ABORT, 'archived messages cannot be altered'); END;",
    )?;
    Ok(())
}

fn row_to_audit(r: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: r.get(0)?,
        at: Timestamp(r.get(1)?),
        kind: r.get(2)?,
        actor: r.get(3)?,
        subject: r.get(4)?,
        detail: r.get(5)?,
        hash: r.get(6)?,
    })
}

/// Raw chain rows after `after_id`, in id order.
pub(super) fn audit_entries(
    conn: &Connection,
    after_id: i64,
    limit: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, kind, actor, subject, detail, hash FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after_id, limit as i64], row_to_audit)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn audit_head(conn: &Connection) -> Result<Option<(i64, String)>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1")?
        .query_row([], |r| {
            Ok((
                r.get(0)?,
                r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            ))
        })
        .optional()?)
}

pub(super) fn add_checkpoint(conn: &Connection, c: &Checkpoint) -> Result<Checkpoint, StoreError> {
    conn.execute(
        "INSERT INTO audit_checkpoints(at, event_id, hash, public_key, signature) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![c.at.0, c.event_id, c.hash, c.public_key, c.signature],
    )?;
    Ok(Checkpoint {
        id: conn.last_insert_rowid(),
        ..c.clone()
    })
}

pub(super) fn checkpoints(conn: &Connection) -> Result<Vec<Checkpoint>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, at, event_id, hash, public_key, signature FROM audit_checkpoints ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Checkpoint {
            id: r.get(0)?,
            at: Timestamp(r.get(1)?),
            event_id: r.get(2)?,
            hash: r.get(3)?,
            public_key: r.get(4)?,
            signature: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Journals a message once per distinct blob: a second journaling of the same bytes (a `Sent`
/// copy of a message already queued, a second recipient batch) only adds the accounts it
/// concerns. Returns the archive id.
#[allow(clippy::too_many_arguments)]
pub(super) fn journal(
    conn: &Connection,
    blob: &BlobId,
    size: u64,
    at: Timestamp,
    journal: &Journal,
    from: &str,
    subject: &str,
    filed_into: &[String],
) -> Result<i64, StoreError> {
    let recipients = serde_json::to_string(&journal.recipients)
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    conn.prepare_cached(
        "INSERT INTO archive(blob, size, at, direction, mail_from, recipients, from_addr, subject) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(blob) DO NOTHING",
    )?
    .execute(params![
        blob.0,
        size as i64,
        at.0,
        journal.direction.as_str(),
        journal.mail_from,
        recipients,
        from,
        subject
    ])?;
    let id: i64 = conn
        .prepare_cached("SELECT id FROM archive WHERE blob = ?1")?
        .query_row([&blob.0], |r| r.get(0))?;
    let mut add = conn.prepare_cached(
        "INSERT OR IGNORE INTO archive_parties(archive_id, address) VALUES (?1, ?2)",
    )?;
    for party in journal.parties.iter().chain(filed_into) {
        add.execute(params![id, party.to_ascii_lowercase()])?;
    }
    Ok(id)
}

const ARCHIVE_COLUMNS: &str =
    "id, blob, size, at, direction, mail_from, recipients, from_addr, subject";

fn row_to_archive(r: &Row<'_>) -> rusqlite::Result<ArchiveEntry> {
    let recipients: String = r.get(6)?;
    Ok(ArchiveEntry {
        id: r.get(0)?,
        blob: BlobId(r.get(1)?),
        size: r.get::<_, i64>(2)?.max(0) as u64,
        at: Timestamp(r.get(3)?),
        direction: r.get(4)?,
        mail_from: r.get(5)?,
        recipients: serde_json::from_str(&recipients).map_err(|e| bad(6, e))?,
        from: r.get(7)?,
        subject: r.get(8)?,
        parties: Vec::new(),
    })
}

fn with_parties(
    conn: &Connection,
    mut entries: Vec<ArchiveEntry>,
) -> Result<Vec<ArchiveEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT address FROM archive_parties WHERE archive_id = ?1 ORDER BY address",
    )?;
    for e in &mut entries {
        e.parties = stmt
            .query_map([e.id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
    }
    Ok(entries)
}

pub(super) fn archive_entries(
    conn: &Connection,
    after_id: i64,
    limit: usize,
) -> Result<Vec<ArchiveEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ARCHIVE_COLUMNS} FROM archive WHERE id > ?1 ORDER BY id LIMIT ?2"
    ))?;
    let rows: Vec<ArchiveEntry> = stmt
        .query_map(params![after_id, limit as i64], row_to_archive)?
        .collect::<Result<_, _>>()?;
    with_parties(conn, rows)
}

pub(super) fn archive_entry(
    conn: &Connection,
    id: i64,
) -> Result<Option<ArchiveEntry>, StoreError> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {ARCHIVE_COLUMNS} FROM archive WHERE id = ?1"
        ))?
        .query_row([id], row_to_archive)
        .optional()?;
    Ok(with_parties(conn, row.into_iter().collect())?.pop())
}

/// Archive entries concerning `address` (legal holds on a person, exports by person).
pub(super) fn archive_ids_of(conn: &Connection, address: &str) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT archive_id FROM archive_parties WHERE address = ?1 ORDER BY archive_id",
    )?;
    let rows = stmt.query_map([address.to_ascii_lowercase()], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Removes entries past their retention, except those a legal hold covers. `search_held` are the
/// ids active search holds match, as of an index that has seen every entry up to `indexed_up_to`;
/// while search holds exist, entries the index has not seen are kept too.
pub(super) fn purge_archive(
    conn: &Connection,
    config: &ArchiveConfig,
    search_held: &BTreeSet<i64>,
    indexed_up_to: i64,
    now: Timestamp,
    actor: &str,
) -> Result<ArchivePurge, StoreError> {
    let shortest = config
        .rules
        .iter()
        .map(|r| r.days)
        .chain([config.retention_days])
        .min()
        .unwrap_or(config.retention_days);
    let candidates_before = now.0 - i64::from(shortest) * Timestamp::DAY;
    let candidates: Vec<(i64, String, i64)> = {
        let mut stmt =
            conn.prepare("SELECT id, blob, at FROM archive WHERE at < ?1 ORDER BY id")?;
        let rows = stmt.query_map([candidates_before], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let holds = active_holds(conn)?;
    let held_people: BTreeSet<String> = holds
        .iter()
        .filter(|h| h.kind == LegalHoldKind::Person)
        .map(|h| h.target.to_ascii_lowercase())
        .collect();
    let search_holds = holds.iter().any(|h| h.kind == LegalHoldKind::Search);
    let mut departments: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut report = ArchivePurge::default();
    let mut parties_of =
        conn.prepare_cached("SELECT address FROM archive_parties WHERE archive_id = ?1")?;
    for (id, blob, at) in candidates {
        let parties: Vec<String> = parties_of
            .query_map([id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for p in &parties {
            if !departments.contains_key(p) {
                let dep: Option<String> = conn
                    .prepare_cached("SELECT department FROM accounts WHERE address = ?1")?
                    .query_row([p], |r| r.get(0))
                    .optional()?
                    .flatten();
                departments.insert(p.clone(), dep);
            }
        }
        let days = config.retention_days_for(
            parties
                .iter()
                .map(|p| (p.as_str(), departments.get(p).and_then(|d| d.as_deref()))),
        );
        if at >= now.0 - i64::from(days) * Timestamp::DAY {
            continue;
        }
        if parties.iter().any(|p| held_people.contains(p)) || search_held.contains(&id) {
            report.held += 1;
            continue;
        }
        if search_holds && id > indexed_up_to {
            report.unindexed += 1;
            continue;
        }
        conn.prepare_cached("DELETE FROM archive WHERE id = ?1")?
            .execute([id])?;
        report.removed.push((id, BlobId(blob)));
    }
    if !report.removed.is_empty() || report.held > 0 {
        insert_event(
            conn,
            EventKind::ArchivePurged,
            now,
            actor,
            None,
            detail([
                ("removed", report.removed.len().to_string()),
                ("held", report.held.to_string()),
                ("unindexed", report.unindexed.to_string()),
                (
                    "ids",
                    compact_ranges(report.removed.iter().map(|(id, _)| *id)),
                ),
            ]),
        )?;
    }
    Ok(report)
}

/// `1-3,7,9-10`: the removed ids, short enough for an event.
fn compact_ranges(ids: impl Iterator<Item = i64>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut run: Option<(i64, i64)> = None;
    for id in ids {
        run = match run {
            Some((a, b)) if id == b + 1 => Some((a, id)),
            Some((a, b)) => {
                out.push(if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                });
                Some((id, id))
            }
            None => Some((id, id)),
        };
    }
    if let Some((a, b)) = run {
        out.push(if a == b {
            a.to_string()
        } else {
            format!("{a}-{b}")
        });
    }
    out.join(",")
}

fn row_to_hold(r: &Row<'_>) -> rusqlite::Result<LegalHold> {
    let kind: String = r.get(1)?;
    Ok(LegalHold {
        id: r.get(0)?,
        kind: LegalHoldKind::parse(&kind)
            .ok_or_else(|| bad(1, format!("unknown hold kind {kind}")))?,
        target: r.get(2)?,
        reason: r.get(3)?,
        created_at: Timestamp(r.get(4)?),
        created_by: r.get(5)?,
        released_at: r.get::<_, Option<i64>>(6)?.map(Timestamp),
        released_by: r.get(7)?,
    })
}

const HOLD_COLUMNS: &str =
    "id, kind, target, reason, created_at, created_by, released_at, released_by";

pub(super) fn active_holds(conn: &Connection) -> Result<Vec<LegalHold>, StoreError> {
    legal_holds(conn, true)
}

pub(super) fn legal_holds(
    conn: &Connection,
    active_only: bool,
) -> Result<Vec<LegalHold>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {HOLD_COLUMNS} FROM legal_holds WHERE (?1 = 0 OR released_at IS NULL) ORDER BY id"
    ))?;
    let rows = stmt.query_map([active_only as i64], row_to_hold)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn place_hold(
    conn: &Connection,
    kind: LegalHoldKind,
    target: &str,
    reason: &str,
    at: Timestamp,
    actor: &str,
) -> Result<LegalHold, StoreError> {
    let target = match kind {
        LegalHoldKind::Person => target.trim().to_ascii_lowercase(),
        LegalHoldKind::Search => target.trim().to_string(),
    };
    if target.is_empty() {
        return Err(StoreError::Invalid(
            "a legal hold needs a person or a search".into(),
        ));
    }
    if reason.trim().is_empty() {
        return Err(StoreError::Invalid(
            "a legal hold needs a reason (the matter or case it is for)".into(),
        ));
    }
    conn.execute(
        "INSERT INTO legal_holds(kind, target, reason, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![kind.as_str(), target, reason.trim(), at.0, actor],
    )?;
    let id = conn.last_insert_rowid();
    insert_event(
        conn,
        EventKind::LegalHoldPlaced,
        at,
        actor,
        (kind == LegalHoldKind::Person).then_some(target.as_str()),
        detail([
            ("hold", id.to_string()),
            ("kind", kind.as_str().to_string()),
            ("target", target.clone()),
            ("reason", reason.trim().to_string()),
        ]),
    )?;
    hold_by_id(conn, id)?.ok_or_else(|| StoreError::Backend("legal hold vanished".into()))
}

pub(super) fn hold_by_id(conn: &Connection, id: i64) -> Result<Option<LegalHold>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {HOLD_COLUMNS} FROM legal_holds WHERE id = ?1"
        ))?
        .query_row([id], row_to_hold)
        .optional()?)
}

pub(super) fn release_hold(
    conn: &Connection,
    id: i64,
    at: Timestamp,
    actor: &str,
) -> Result<LegalHold, StoreError> {
    let hold =
        hold_by_id(conn, id)?.ok_or_else(|| StoreError::NotFound(format!("legal hold {id}")))?;
    if hold.released_at.is_some() {
        return Err(StoreError::Invalid(format!(
            "legal hold {id} is already released"
        )));
    }
    conn.execute(
        "UPDATE legal_holds SET released_at = ?1, released_by = ?2 WHERE id = ?3",
        params![at.0, actor, id],
    )?;
    insert_event(
        conn,
        EventKind::LegalHoldReleased,
        at,
        actor,
        (hold.kind == LegalHoldKind::Person).then_some(hold.target.as_str()),
        detail([
            ("hold", id.to_string()),
            ("kind", hold.kind.as_str().to_string()),
            ("target", hold.target.clone()),
        ]),
    )?;
    hold_by_id(conn, id)?.ok_or_else(|| StoreError::Backend("legal hold vanished".into()))
}

/// Detections and interventions the dashboard counts by kind.
const DETECTIONS: &[&str] = &[
    "message_quarantined",
    "message_rejected",
    "dlp_held",
    "dlp_blocked",
    "dlp_alert",
    "sending_spike",
    "sending_held",
    "sending_rejected",
    "burst_recipients",
    "account_contained",
    "source_blocked",
];

const LOGINS: &[&str] = &[
    "login_allowed",
    "login_challenged",
    "login_denied",
    "login_blocked",
];

pub(super) fn dashboard(
    conn: &Connection,
    since: Timestamp,
    until: Timestamp,
    bucket_secs: i64,
) -> Result<rampart_model::Dashboard, StoreError> {
    use rampart_model::{FlowBucket, RiskyCount};
    if bucket_secs < 3600 || bucket_secs % 3600 != 0 {
        return Err(StoreError::Invalid(
            "dashboard buckets are whole hours (3600, 7200, ... seconds)".into(),
        ));
    }
    if until.0 <= since.0 || (until.0 - since.0) / bucket_secs > 10_000 {
        return Err(StoreError::Invalid(
            "the dashboard range must be positive and at most 10,000 buckets".into(),
        ));
    }
    // Hour resolution: the range widens to whole hours, the risky lists to whole days.
    let first_hour = since.0.div_euclid(3600);
    let end_hour = (until.0 - 1).div_euclid(3600) + 1;
    let per_bucket = bucket_secs / 3600;
    let start_bucket = first_hour.div_euclid(per_bucket);
    let buckets = (end_hour - 1).div_euclid(per_bucket) - start_bucket + 1;
    let mut dash = rampart_model::Dashboard {
        since: since.0,
        until: until.0,
        bucket_secs,
        flow: (0..buckets)
            .map(|i| FlowBucket {
                start: (start_bucket + i) * bucket_secs,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let mut stmt = conn.prepare_cached(
        "SELECT hour, kind, junk, n FROM event_rollup WHERE hour >= ?1 AND hour < ?2",
    )?;
    let mut rows = stmt.query(params![first_hour, end_hour])?;
    while let Some(r) = rows.next()? {
        let hour: i64 = r.get(0)?;
        let kind: String = r.get(1)?;
        let junk: bool = r.get(2)?;
        let n = r.get::<_, i64>(3)?.max(0) as u64;
        if DETECTIONS.contains(&kind.as_str()) {
            *dash.detections.entry(kind.clone()).or_default() += n;
        }
        if LOGINS.contains(&kind.as_str()) {
            *dash.logins.entry(kind.clone()).or_default() += n;
        }
        let Some(slot) = usize::try_from(hour.div_euclid(per_bucket) - start_bucket)
            .ok()
            .and_then(|i| dash.flow.get_mut(i))
        else {
            continue;
        };
        match kind.as_str() {
            "message_delivered" if junk => slot.junk += n,
            "message_delivered" => slot.accepted += n,
            "message_quarantined" => slot.quarantined += n,
            "message_rejected" | "dlp_blocked" | "sending_rejected" => slot.rejected += n,
            "dlp_held" | "sending_held" => slot.held += n,
            _ => {}
        }
    }
    let (first_day, end_day) = (
        since.0.div_euclid(86_400),
        (until.0 - 1).div_euclid(86_400) + 1,
    );
    let risky = |who_kind: &str| -> Result<Vec<RiskyCount>, StoreError> {
        let mut stmt = conn.prepare_cached(
            "SELECT who, sum(denied) AS d, sum(challenged) AS c FROM login_rollup \
             WHERE who_kind = ?3 AND day >= ?1 AND day < ?2 \
             GROUP BY who ORDER BY d DESC, c DESC, who LIMIT 10",
        )?;
        let rows = stmt.query_map(params![first_day, end_day, who_kind], |r| {
            Ok(RiskyCount {
                name: r.get(0)?,
                denied: r.get::<_, i64>(1)?.max(0) as u64,
                challenged: r.get::<_, i64>(2)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    };
    dash.risky_accounts = risky("account")?;
    dash.risky_sources = risky("source")?;
    Ok(dash)
}

#[cfg(test)]
mod tests {
    use super::compact_ranges;

    #[test]
    fn ranges_are_compact() {
        assert_eq!(
            compact_ranges([1, 2, 3, 7, 9, 10].into_iter()),
            "1-3,7,9-10"
        );
        assert_eq!(compact_ranges(std::iter::empty()), "");
    }
}
