//! IMAP mailboxes and the message state IMAP sessions see (schema: migration 8). Each function
//! runs on a connection the caller gives it: a reader, or the writer inside its group-committed
//! transaction.
//!
//! Every change a client can see in a mailbox goes through [`touch_mailbox`], which raises the
//! mailbox's `highest_modseq` by one and keeps its `message_count` (what `EXISTS` reports) in step;
//! the touched messages take the new mod-sequence. That is what lets sessions poll
//! [`mailbox_state`] (one primary-key read) instead of counting rows.

use std::collections::BTreeSet;

use rampart_model::{
    canonical_mailbox_name, is_valid_keyword, normalize_mailbox_name, BlobId, EmailAddress,
    EventKind, Flag, FlagChange, Folder, ImapMessage, MailboxInfo, MessageId, Timestamp,
    MAX_KEYWORDS,
};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{account_by_address, detail, insert_event, require_account};
use crate::meta::Append;
use crate::StoreError;

/// Most mailboxes one account may have: enough for any real hierarchy, small enough that LIST
/// stays cheap and a runaway client cannot fill the database with names.
pub(super) const MAX_MAILBOXES: i64 = 10_000;

/// The arguments of STORE, owned so they can travel to the writer thread.
pub(super) struct StoreFlags {
    pub mailbox_id: i64,
    pub uids: Vec<u32>,
    pub change: FlagChange,
    pub flags: Vec<Flag>,
    pub keywords: Vec<String>,
    pub unchanged_since: Option<u64>,
}

/// COPY keeps the source entry; MOVE takes it along.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transfer {
    Copy,
    Move,
}

/// Records a visible change in a mailbox: `highest_modseq` goes up by one and `message_count`
/// by `exists_delta`. Returns the new mod-sequence, for the messages the change touched.
pub(super) fn touch_mailbox(
    conn: &Connection,
    mailbox_id: i64,
    exists_delta: i64,
) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "UPDATE mailboxes SET highest_modseq = highest_modseq + 1, \
         message_count = max(message_count + ?2, 0) WHERE id = ?1 RETURNING highest_modseq",
    )?
    .query_row(params![mailbox_id, exists_delta], |r| r.get(0))
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("mailbox {mailbox_id}")))
}

/// Reserves `count` consecutive UIDs in a mailbox and returns the first. UIDs are 32-bit in
/// IMAP: a mailbox that has used them all refuses new messages.
pub(super) fn allocate_uids(
    conn: &Connection,
    mailbox_id: i64,
    count: usize,
) -> Result<i64, StoreError> {
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    let first: i64 = conn
        .prepare_cached(
            "UPDATE mailboxes SET uidnext = uidnext + ?2 WHERE id = ?1 RETURNING uidnext - ?2",
        )?
        .query_row(params![mailbox_id, count], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("mailbox {mailbox_id}")))?;
    if first.saturating_add(count) > i64::from(u32::MAX) {
        return Err(StoreError::Conflict(format!(
            "mailbox {mailbox_id} has used every IMAP UID; move its messages to a new mailbox"
        )));
    }
    Ok(first)
}

/// A fresh UIDVALIDITY for one of the account's mailboxes: time-based, but always above every
/// value the account ever had, so re-creating a name within the same second (or after the
/// clock stepped back) still tells clients to drop their caches.
fn next_uidvalidity(conn: &Connection, account_id: i64, at: Timestamp) -> Result<i64, StoreError> {
    let (last, highest): (i64, Option<i64>) = conn.query_row(
        "SELECT last_uidvalidity, (SELECT max(uidvalidity) FROM mailboxes WHERE account_id = ?1) \
         FROM accounts WHERE id = ?1",
        [account_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let value = (at.0 & 0x7fff_ffff)
        .max(last.saturating_add(1))
        .max(highest.unwrap_or(0).saturating_add(1))
        .max(1);
    if value > i64::from(u32::MAX) {
        return Err(StoreError::Conflict(
            "this account has used every UIDVALIDITY value".into(),
        ));
    }
    conn.execute(
        "UPDATE accounts SET last_uidvalidity = ?1 WHERE id = ?2",
        params![value, account_id],
    )?;
    Ok(value)
}

fn to_u32(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn invalid_name(e: rampart_model::InvalidMailboxName) -> StoreError {
    StoreError::Invalid(e.to_string())
}

/// Mailbox columns plus the unseen count and first unseen UID, for one account (`?1`), optionally
/// one name (`?2`, NULL for all).
const MAILBOX_QUERY: &str = "\
SELECT b.id, b.name, b.uidvalidity, b.uidnext, b.highest_modseq, b.subscribed, b.message_count, \
       coalesce(u.unseen, 0), u.first_unseen \
FROM mailboxes b \
LEFT JOIN (SELECT mailbox_id, count(*) AS unseen, min(uid) AS first_unseen FROM messages \
           WHERE deleted_at IS NULL AND (flags & 1) = 0 \
             AND mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?1 \
                                AND (?2 IS NULL OR name = ?2)) \
           GROUP BY mailbox_id) u ON u.mailbox_id = b.id \
WHERE b.account_id = ?1 AND (?2 IS NULL OR b.name = ?2) \
ORDER BY b.name <> 'INBOX', b.name";

fn row_to_mailbox(r: &Row<'_>) -> rusqlite::Result<MailboxInfo> {
    let name: String = r.get(1)?;
    Ok(MailboxInfo {
        id: r.get(0)?,
        special_use: Folder::of_mailbox(&name),
        name,
        uidvalidity: to_u32(r.get(2)?),
        uidnext: to_u32(r.get(3)?),
        highest_modseq: to_u64(r.get(4)?),
        subscribed: r.get::<_, i64>(5)? != 0,
        exists: to_u32(r.get(6)?),
        unseen: to_u32(r.get(7)?),
        first_unseen_uid: r.get::<_, Option<i64>>(8)?.map(to_u32),
    })
}

fn account_id(conn: &Connection, account: &EmailAddress) -> Result<i64, StoreError> {
    Ok(require_account(conn, account)?.id.0)
}

fn mailbox_info(
    conn: &Connection,
    account_id: i64,
    name: &str,
) -> Result<Option<MailboxInfo>, StoreError> {
    Ok(conn
        .prepare_cached(MAILBOX_QUERY)?
        .query_row(params![account_id, name], row_to_mailbox)
        .optional()?)
}

fn require_mailbox(
    conn: &Connection,
    account: &EmailAddress,
    account_id: i64,
    name: &str,
) -> Result<MailboxInfo, StoreError> {
    mailbox_info(conn, account_id, name)?
        .ok_or_else(|| StoreError::NotFound(format!("mailbox {name:?} of {account}")))
}

pub(super) fn list_mailboxes(
    conn: &Connection,
    account: &EmailAddress,
) -> Result<Vec<MailboxInfo>, StoreError> {
    let id = account_id(conn, account)?;
    let mut stmt = conn.prepare_cached(MAILBOX_QUERY)?;
    let rows = stmt.query_map(params![id, None::<String>], row_to_mailbox)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn mailbox_by_name(
    conn: &Connection,
    account: &EmailAddress,
    name: &str,
) -> Result<Option<MailboxInfo>, StoreError> {
    let id = account_id(conn, account)?;
    mailbox_info(conn, id, &canonical_mailbox_name(name))
}

pub(super) fn mailbox_state(
    conn: &Connection,
    mailbox_id: i64,
) -> Result<(u32, u64, u32), StoreError> {
    conn.prepare_cached(
        "SELECT uidnext, highest_modseq, message_count FROM mailboxes WHERE id = ?1",
    )?
    .query_row([mailbox_id], |r| {
        Ok((to_u32(r.get(0)?), to_u64(r.get(1)?), to_u32(r.get(2)?)))
    })
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("mailbox {mailbox_id}")))
}

/// The account (id, address) a mailbox belongs to, and its name.
fn mailbox_owner(conn: &Connection, mailbox_id: i64) -> Result<(i64, String, String), StoreError> {
    conn.prepare_cached(
        "SELECT b.account_id, a.address, b.name FROM mailboxes b \
         JOIN accounts a ON a.id = b.account_id WHERE b.id = ?1",
    )?
    .query_row([mailbox_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("mailbox {mailbox_id}")))
}

fn insert_mailbox(
    conn: &Connection,
    account_id: i64,
    name: &str,
    at: Timestamp,
) -> Result<i64, StoreError> {
    let count: i64 = conn.query_row(
        "SELECT count(*) FROM mailboxes WHERE account_id = ?1",
        [account_id],
        |r| r.get(0),
    )?;
    if count >= MAX_MAILBOXES {
        return Err(StoreError::Conflict(format!(
            "an account may have at most {MAX_MAILBOXES} mailboxes"
        )));
    }
    let uidvalidity = next_uidvalidity(conn, account_id, at)?;
    let inserted = conn.execute(
        "INSERT OR IGNORE INTO mailboxes(account_id, name, uidvalidity) VALUES (?1, ?2, ?3)",
        params![account_id, name, uidvalidity],
    )?;
    if inserted == 0 {
        return Err(StoreError::Conflict(format!(
            "mailbox {name:?} already exists"
        )));
    }
    Ok(conn.last_insert_rowid())
}

pub(super) fn create_mailbox(
    conn: &Connection,
    account: &EmailAddress,
    name: &str,
    at: Timestamp,
) -> Result<MailboxInfo, StoreError> {
    let name = normalize_mailbox_name(name).map_err(invalid_name)?;
    let id = account_id(conn, account)?;
    insert_mailbox(conn, id, &name, at)?;
    insert_event(
        conn,
        EventKind::MailboxCreated,
        at,
        account.as_str(),
        Some(account.as_str()),
        detail([("mailbox", name.clone())]),
    )?;
    require_mailbox(conn, account, id, &name)
}

pub(super) fn rename_mailbox(
    conn: &Connection,
    account: &EmailAddress,
    from: &str,
    to: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    let from = canonical_mailbox_name(from);
    let to = normalize_mailbox_name(to).map_err(invalid_name)?;
    let id = account_id(conn, account)?;
    let source = require_mailbox(conn, account, id, &from)?;
    match source.special_use {
        Some(Folder::Inbox) => return rename_inbox(conn, account, id, &source, &to, at),
        Some(folder) => {
            return Err(StoreError::Invalid(format!(
                "{folder} is a standard folder and cannot be renamed"
            )))
        }
        None => {}
    }
    let prefix = format!("{from}/");
    if to == from || to.starts_with(&prefix) {
        return Err(StoreError::Invalid(format!(
            "cannot rename {from:?} to {to:?}, inside itself"
        )));
    }
    // The mailbox and everything below it, each with its new name.
    let mut stmt = conn.prepare(
        "SELECT id, name FROM mailboxes WHERE account_id = ?1 \
         AND (name = ?2 OR substr(name, 1, length(?3)) = ?3)",
    )?;
    let found: Vec<(i64, String)> = stmt
        .query_map(params![id, from, prefix], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut renamed = Vec::with_capacity(found.len());
    for (mid, old) in found {
        let rest = old
            .strip_prefix(from.as_str())
            .ok_or_else(|| StoreError::Backend(format!("mailbox {old:?} is not below {from:?}")))?;
        let new = format!("{to}{rest}");
        renamed.push((mid, old, new));
    }
    for (_, _, new) in &renamed {
        if new.len() > rampart_model::MAX_MAILBOX_NAME_LEN {
            return Err(StoreError::Invalid(format!(
                "renaming would make {new:?} longer than 255 bytes"
            )));
        }
        let taken: Option<i64> = conn
            .query_row(
                "SELECT id FROM mailboxes WHERE account_id = ?1 AND name = ?2",
                params![id, new],
                |r| r.get(0),
            )
            .optional()?;
        if taken.is_some_and(|t| !renamed.iter().any(|(mid, _, _)| *mid == t)) {
            return Err(StoreError::Conflict(format!(
                "mailbox {new:?} already exists"
            )));
        }
    }
    // Two steps, so a new name that equals another renamed mailbox's old one never collides.
    for (mid, _, _) in &renamed {
        conn.execute(
            "UPDATE mailboxes SET name = ?1 WHERE id = ?2",
            params![format!("\u{1}renaming/{mid}"), mid],
        )?;
    }
    for (mid, _, new) in &renamed {
        let uidvalidity = next_uidvalidity(conn, id, at)?;
        conn.execute(
            "UPDATE mailboxes SET name = ?1, uidvalidity = ?2 WHERE id = ?3",
            params![new, uidvalidity, mid],
        )?;
        touch_mailbox(conn, *mid, 0)?;
    }
    insert_event(
        conn,
        EventKind::MailboxRenamed,
        at,
        account.as_str(),
        Some(account.as_str()),
        detail([
            ("from", from),
            ("to", to),
            ("mailboxes", renamed.len().to_string()),
        ]),
    )?;
    Ok(())
}

/// RFC 3501 §6.3.5: renaming INBOX moves its messages into a new mailbox and leaves INBOX, and
/// the mailboxes below it, in place. Deleted messages in their recovery window stay with INBOX.
fn rename_inbox(
    conn: &Connection,
    account: &EmailAddress,
    account_id: i64,
    inbox: &MailboxInfo,
    to: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    let target = insert_mailbox(conn, account_id, to, at)?;
    let ids: Vec<i64> = conn
        .prepare(
            "SELECT id FROM messages WHERE mailbox_id = ?1 AND deleted_at IS NULL ORDER BY uid",
        )?
        .query_map([inbox.id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let moved = ids.len() as i64;
    if moved > 0 {
        touch_mailbox(conn, inbox.id, -moved)?;
        let modseq = touch_mailbox(conn, target, moved)?;
        let first = allocate_uids(conn, target, ids.len())?;
        let mut update = conn.prepare_cached(
            "UPDATE messages SET mailbox_id = ?1, uid = ?2, modseq = ?3 WHERE id = ?4",
        )?;
        for (i, id) in ids.iter().enumerate() {
            update.execute(params![target, first + i as i64, modseq, id])?;
        }
    }
    insert_event(
        conn,
        EventKind::MailboxRenamed,
        at,
        account.as_str(),
        Some(account.as_str()),
        detail([
            ("from", "INBOX".to_string()),
            ("to", to.to_string()),
            ("messages", moved.to_string()),
        ]),
    )?;
    Ok(())
}

pub(super) fn delete_mailbox(
    conn: &Connection,
    account: &EmailAddress,
    name: &str,
    at: Timestamp,
    actor: &str,
) -> Result<u64, StoreError> {
    let name = canonical_mailbox_name(name);
    let id = account_id(conn, account)?;
    let mailbox = require_mailbox(conn, account, id, &name)?;
    if let Some(folder) = mailbox.special_use {
        return Err(StoreError::Invalid(format!(
            "{folder} is a standard folder and cannot be deleted"
        )));
    }
    let inbox = require_mailbox(conn, account, id, "INBOX")?;
    let (count, bytes): (i64, i64) = conn.query_row(
        "SELECT count(*), coalesce(sum(size), 0) FROM messages \
         WHERE mailbox_id = ?1 AND deleted_at IS NULL",
        [mailbox.id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    conn.execute(
        "UPDATE messages SET deleted_at = ?1 WHERE mailbox_id = ?2 AND deleted_at IS NULL",
        params![at.0, mailbox.id],
    )?;
    // The rows must outlive the mailbox row: they wait in INBOX's recovery area, remembering
    // where they came from (listings show it; restore goes back there if it exists again).
    conn.execute(
        "UPDATE messages SET mailbox_id = ?1, origin_mailbox = ?2 WHERE mailbox_id = ?3",
        params![inbox.id, name, mailbox.id],
    )?;
    conn.execute(
        "UPDATE accounts SET used_bytes = max(used_bytes - ?1, 0) WHERE id = ?2",
        params![bytes, id],
    )?;
    conn.execute("DELETE FROM mailboxes WHERE id = ?1", [mailbox.id])?;
    insert_event(
        conn,
        EventKind::MailboxDeleted,
        at,
        actor,
        Some(account.as_str()),
        detail([("mailbox", name), ("messages", count.to_string())]),
    )?;
    Ok(to_u64(count))
}

pub(super) fn subscribe_mailbox(
    conn: &Connection,
    account: &EmailAddress,
    name: &str,
    subscribed: bool,
) -> Result<(), StoreError> {
    let name = canonical_mailbox_name(name);
    let id = account_id(conn, account)?;
    let updated = conn.execute(
        "UPDATE mailboxes SET subscribed = ?1 WHERE account_id = ?2 AND name = ?3",
        params![subscribed, id, name],
    )?;
    if updated == 0 {
        return Err(StoreError::NotFound(format!(
            "mailbox {name:?} of {account}"
        )));
    }
    Ok(())
}

const IMAP_COLUMNS: &str = "id, uid, flags, keywords, size, received_at, modseq, blob";

fn row_to_imap(r: &Row<'_>) -> rusqlite::Result<ImapMessage> {
    let keywords: String = r.get(3)?;
    Ok(ImapMessage {
        id: MessageId(r.get(0)?),
        uid: to_u32(r.get(1)?),
        flags: Flag::from_bits(to_u32(r.get(2)?)),
        keywords: split_keywords(&keywords),
        size: to_u64(r.get(4)?),
        received_at: Timestamp(r.get(5)?),
        modseq: to_u64(r.get(6)?),
        blob: BlobId(r.get(7)?),
    })
}

fn split_keywords(stored: &str) -> Vec<String> {
    stored
        .split_ascii_whitespace()
        .map(str::to_string)
        .collect()
}

pub(super) fn imap_messages(
    conn: &Connection,
    mailbox_id: i64,
    changed_since: Option<u64>,
) -> Result<Vec<ImapMessage>, StoreError> {
    mailbox_state(conn, mailbox_id)?;
    let rows = match changed_since {
        None => conn
            .prepare_cached(&format!(
                "SELECT {IMAP_COLUMNS} FROM messages \
                 WHERE mailbox_id = ?1 AND deleted_at IS NULL ORDER BY uid"
            ))?
            .query_map([mailbox_id], row_to_imap)?
            .collect::<Result<_, _>>()?,
        Some(modseq) => conn
            .prepare_cached(&format!(
                "SELECT {IMAP_COLUMNS} FROM messages \
                 WHERE mailbox_id = ?1 AND deleted_at IS NULL AND modseq > ?2 ORDER BY uid"
            ))?
            .query_map(
                params![mailbox_id, i64::try_from(modseq).unwrap_or(i64::MAX)],
                row_to_imap,
            )?
            .collect::<Result<_, _>>()?,
    };
    Ok(rows)
}

/// Up to this many UIDs are looked up one by one; more are matched against a scan of the mailbox.
const POINT_LOOKUPS: usize = 256;

/// The visible messages among `uids` (each once), by ascending UID.
fn live_messages(
    conn: &Connection,
    mailbox_id: i64,
    uids: &[u32],
) -> Result<Vec<ImapMessage>, StoreError> {
    let wanted: BTreeSet<u32> = uids.iter().copied().collect();
    if wanted.len() > POINT_LOOKUPS {
        // A large set (`1:*` spelled out): one range scan beats as many point lookups.
        let mut all = imap_messages(conn, mailbox_id, None)?;
        all.retain(|m| wanted.contains(&m.uid));
        return Ok(all);
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {IMAP_COLUMNS} FROM messages \
         WHERE mailbox_id = ?1 AND uid = ?2 AND deleted_at IS NULL"
    ))?;
    let mut out = Vec::with_capacity(wanted.len());
    for uid in wanted {
        if let Some(msg) = stmt
            .query_row(params![mailbox_id, uid], row_to_imap)
            .optional()?
        {
            out.push(msg);
        }
    }
    Ok(out)
}

/// Checks keywords from a client and removes case-insensitive duplicates (the first spelling
/// wins).
fn checked_keywords(keywords: &[String]) -> Result<Vec<String>, StoreError> {
    let mut out: Vec<String> = Vec::new();
    for k in keywords {
        if !is_valid_keyword(k) {
            let shown: String = k.chars().take(80).collect();
            return Err(StoreError::Invalid(format!(
                "{shown:?} is not a valid IMAP keyword (an atom of at most 64 characters)"
            )));
        }
        if !out.iter().any(|o| o.eq_ignore_ascii_case(k)) {
            out.push(k.clone());
        }
    }
    if out.len() > MAX_KEYWORDS {
        return Err(StoreError::Invalid(format!(
            "a message may carry at most {MAX_KEYWORDS} keywords"
        )));
    }
    Ok(out)
}

fn apply_keywords(current: &[String], change: FlagChange, given: &[String]) -> Vec<String> {
    match change {
        FlagChange::Replace => given.to_vec(),
        FlagChange::Add => {
            let mut out = current.to_vec();
            for k in given {
                if !out.iter().any(|o| o.eq_ignore_ascii_case(k)) {
                    out.push(k.clone());
                }
            }
            out
        }
        FlagChange::Remove => current
            .iter()
            .filter(|k| !given.iter().any(|g| g.eq_ignore_ascii_case(k)))
            .cloned()
            .collect(),
    }
}

pub(super) fn store_flags(
    conn: &Connection,
    store: &StoreFlags,
    _at: Timestamp,
) -> Result<(Vec<ImapMessage>, Vec<u32>), StoreError> {
    let keywords = checked_keywords(&store.keywords)?;
    let bits = Flag::bits_of(&store.flags);
    mailbox_state(conn, store.mailbox_id)?;
    let mut failed = Vec::new();
    let mut changed = Vec::new();
    for msg in live_messages(conn, store.mailbox_id, &store.uids)? {
        if let Some(since) = store.unchanged_since {
            if msg.modseq > since {
                failed.push(msg.uid);
                continue;
            }
        }
        let old = Flag::bits_of(&msg.flags);
        let new = match store.change {
            FlagChange::Add => old | bits,
            FlagChange::Remove => old & !bits,
            FlagChange::Replace => bits,
        };
        let new_keywords = apply_keywords(&msg.keywords, store.change, &keywords);
        if new_keywords.len() > MAX_KEYWORDS {
            return Err(StoreError::Invalid(format!(
                "message UID {} would carry more than {MAX_KEYWORDS} keywords",
                msg.uid
            )));
        }
        if new == old && new_keywords == msg.keywords {
            continue;
        }
        changed.push(ImapMessage {
            flags: Flag::from_bits(new),
            keywords: new_keywords,
            ..msg
        });
    }
    if !changed.is_empty() {
        let modseq = touch_mailbox(conn, store.mailbox_id, 0)?;
        let mut update = conn.prepare_cached(
            "UPDATE messages SET flags = ?1, keywords = ?2, modseq = ?3 WHERE id = ?4",
        )?;
        for msg in &mut changed {
            update.execute(params![
                Flag::bits_of(&msg.flags),
                msg.keywords.join(" "),
                modseq,
                msg.id.0
            ])?;
            msg.modseq = to_u64(modseq);
        }
    }
    Ok((changed, failed))
}

pub(super) fn transfer(
    conn: &Connection,
    from: i64,
    uids: &[u32],
    to: i64,
    how: Transfer,
    at: Timestamp,
    actor: &str,
) -> Result<Vec<(u32, u32)>, StoreError> {
    let (account_id, address, from_name) = mailbox_owner(conn, from)?;
    let (target_account, _, to_name) = mailbox_owner(conn, to)?;
    if target_account != account_id {
        return Err(StoreError::Invalid(
            "messages can only be copied or moved between mailboxes of the same account".into(),
        ));
    }
    let messages = live_messages(conn, from, uids)?;
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let count = messages.len() as i64;
    let first = allocate_uids(conn, to, messages.len())?;
    let mut pairs = Vec::with_capacity(messages.len());
    match how {
        Transfer::Copy => {
            let bytes: u64 = messages.iter().map(|m| m.size).sum();
            let account = account_by_address(conn, &address)?
                .ok_or_else(|| StoreError::NotFound(format!("account {address}")))?;
            if !account.has_room_for(bytes) {
                return Err(crate::mailstore::over_quota(&account.address, bytes));
            }
            let modseq = touch_mailbox(conn, to, count)?;
            let mut insert = conn.prepare_cached(
                "INSERT INTO messages(account_id, mailbox_id, uid, blob, size, from_addr, to_addr, \
                 subject, date, received_at, flags, keywords, modseq) \
                 SELECT account_id, ?1, ?2, blob, size, from_addr, to_addr, subject, date, \
                 received_at, flags, keywords, ?3 FROM messages WHERE id = ?4",
            )?;
            for (i, msg) in messages.iter().enumerate() {
                let uid = first + i as i64;
                insert.execute(params![to, uid, modseq, msg.id.0])?;
                let new_id = conn.last_insert_rowid();
                pairs.push((msg.uid, to_u32(uid)));
                insert_event(
                    conn,
                    EventKind::MessageCopied,
                    at,
                    actor,
                    Some(&address),
                    detail([
                        ("id", new_id.to_string()),
                        ("from_id", msg.id.to_string()),
                        ("from", from_name.clone()),
                        ("folder", to_name.clone()),
                        ("blob", msg.blob.0.clone()),
                    ]),
                )?;
            }
            conn.execute(
                "UPDATE accounts SET used_bytes = used_bytes + ?1 WHERE id = ?2",
                params![i64::try_from(bytes).unwrap_or(i64::MAX), account_id],
            )?;
        }
        Transfer::Move => {
            touch_mailbox(conn, from, -count)?;
            let modseq = touch_mailbox(conn, to, count)?;
            let mut update = conn.prepare_cached(
                "UPDATE messages SET mailbox_id = ?1, uid = ?2, modseq = ?3 WHERE id = ?4",
            )?;
            for (i, msg) in messages.iter().enumerate() {
                let uid = first + i as i64;
                update.execute(params![to, uid, modseq, msg.id.0])?;
                pairs.push((msg.uid, to_u32(uid)));
                insert_event(
                    conn,
                    EventKind::MessageMoved,
                    at,
                    actor,
                    Some(&address),
                    detail([
                        ("id", msg.id.to_string()),
                        ("from", from_name.clone()),
                        ("folder", to_name.clone()),
                    ]),
                )?;
            }
        }
    }
    Ok(pairs)
}

pub(super) fn expunge(
    conn: &Connection,
    mailbox_id: i64,
    uids: Option<&[u32]>,
    at: Timestamp,
    actor: &str,
) -> Result<Vec<u32>, StoreError> {
    let (account_id, address, name) = mailbox_owner(conn, mailbox_id)?;
    let candidates = match uids {
        Some(uids) => live_messages(conn, mailbox_id, uids)?,
        None => imap_messages(conn, mailbox_id, None)?,
    };
    let doomed: Vec<ImapMessage> = candidates
        .into_iter()
        .filter(|m| m.flags.contains(&Flag::Deleted))
        .collect();
    if doomed.is_empty() {
        return Ok(Vec::new());
    }
    let modseq = touch_mailbox(conn, mailbox_id, -(doomed.len() as i64))?;
    let mut update =
        conn.prepare_cached("UPDATE messages SET deleted_at = ?1, modseq = ?2 WHERE id = ?3")?;
    let mut bytes = 0u64;
    for msg in &doomed {
        update.execute(params![at.0, modseq, msg.id.0])?;
        bytes = bytes.saturating_add(msg.size);
        insert_event(
            conn,
            EventKind::MessageDeleted,
            at,
            actor,
            Some(&address),
            detail([
                ("id", msg.id.to_string()),
                ("folder", name.clone()),
                ("blob", msg.blob.0.clone()),
                ("via", "expunge".to_string()),
            ]),
        )?;
    }
    conn.execute(
        "UPDATE accounts SET used_bytes = max(used_bytes - ?1, 0) WHERE id = ?2",
        params![i64::try_from(bytes).unwrap_or(i64::MAX), account_id],
    )?;
    Ok(doomed.iter().map(|m| m.uid).collect())
}

pub(super) fn append_message(
    conn: &Connection,
    append: &Append,
    at: Timestamp,
    actor: &str,
) -> Result<(u32, u32), StoreError> {
    let keywords = checked_keywords(&append.keywords)?;
    let account = require_account(conn, &append.account)?;
    let name = canonical_mailbox_name(&append.mailbox);
    let mailbox = require_mailbox(conn, &append.account, account.id.0, &name)?;
    if !account.has_room_for(append.size) {
        return Err(crate::mailstore::over_quota(&account.address, append.size));
    }
    let uid = allocate_uids(conn, mailbox.id, 1)?;
    let modseq = touch_mailbox(conn, mailbox.id, 1)?;
    let size = i64::try_from(append.size).unwrap_or(i64::MAX);
    conn.prepare_cached(
        "INSERT INTO messages(account_id, mailbox_id, uid, blob, size, from_addr, to_addr, subject, \
         date, received_at, flags, keywords, modseq) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        account.id.0,
        mailbox.id,
        uid,
        append.blob.0,
        size,
        append.summary.from,
        append.summary.to,
        append.summary.subject,
        append.summary.date,
        append.internal_date.unwrap_or(at).0,
        Flag::bits_of(&append.flags),
        keywords.join(" "),
        modseq
    ])?;
    let id = conn.last_insert_rowid();
    conn.execute(
        "UPDATE accounts SET used_bytes = used_bytes + ?1 WHERE id = ?2",
        params![size, account.id.0],
    )?;
    insert_event(
        conn,
        EventKind::MessageDelivered,
        at,
        actor,
        Some(append.account.as_str()),
        detail([
            ("id", id.to_string()),
            ("folder", name),
            ("blob", append.blob.0.clone()),
            ("via", "append".to_string()),
        ]),
    )?;
    Ok((mailbox.uidvalidity, to_u32(uid)))
}
