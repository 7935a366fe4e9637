//! Identities and login-risk state on SQLite: passwords, app passwords, API sessions, TOTP, risk
//! profiles, source blocks, challenges, trust and login policies (schema: migration 4).
//!
//! Each function runs inside the caller's transaction (a write job's savepoint, or a reader), so
//! a change and its event commit together. Clear secrets never arrive here except the TOTP
//! secret; hashes are compared by the caller.

use std::collections::BTreeMap;
use std::net::IpAddr;

use rampart_model::{
    ApiSession, AppPassword, Challenge, ChallengeKind, ChallengeStatus, EmailAddress, EventKind,
    PolicyRecord, Protocol, SourceBlock, Timestamp, TotpState, Trust, TrustKind,
};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{bad, detail, insert_event, require_account};
use crate::StoreError;

fn non_empty<'a>(what: &str, value: &'a str) -> Result<&'a str, StoreError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(StoreError::Invalid(format!("{what} must not be empty")));
    }
    Ok(value)
}

// ---- passwords

pub(super) fn set_password(
    conn: &Connection,
    account: &EmailAddress,
    hash: &str,
    at: Timestamp,
    actor: &str,
) -> Result<(), StoreError> {
    let hash = non_empty("a password hash", hash)?;
    let acc = require_account(conn, account)?;
    conn.execute(
        "UPDATE accounts SET password_hash = ?1, password_reset_required = 0 WHERE id = ?2",
        params![hash, acc.id.0],
    )?;
    insert_event(
        conn,
        EventKind::PasswordChanged,
        at,
        actor,
        Some(account.as_str()),
        BTreeMap::new(),
    )?;
    Ok(())
}

pub(super) fn password_hash(
    conn: &Connection,
    account: &EmailAddress,
) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT password_hash FROM accounts WHERE address = ?1")?
        .query_row([account.as_str()], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

// ---- app passwords

const APP_PASSWORD_COLUMNS: &str = "p.id, a.address, p.name, p.protocols, p.created_at, \
     p.last_used_at, p.revoked_at, p.secret_hash";
const APP_PASSWORD_FROM: &str = "app_passwords p JOIN accounts a ON a.id = p.account_id";

fn encode_protocols(protocols: &[Protocol]) -> String {
    let mut list = protocols.to_vec();
    list.sort();
    list.dedup();
    list.iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn row_to_app_password(r: &Row<'_>) -> rusqlite::Result<AppPassword> {
    let address: String = r.get(1)?;
    let protocols: String = r.get(3)?;
    Ok(AppPassword {
        id: r.get(0)?,
        account: address.parse().map_err(|e| bad(1, e))?,
        name: r.get(2)?,
        protocols: protocols
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| p.parse().map_err(|e| bad(3, e)))
            .collect::<Result<_, _>>()?,
        created_at: Timestamp(r.get(4)?),
        last_used_at: r.get::<_, Option<i64>>(5)?.map(Timestamp),
        revoked_at: r.get::<_, Option<i64>>(6)?.map(Timestamp),
    })
}

pub(super) fn create_app_password(
    conn: &Connection,
    account: &EmailAddress,
    name: &str,
    protocols: &[Protocol],
    secret_hash: &str,
    at: Timestamp,
    actor: &str,
) -> Result<AppPassword, StoreError> {
    let name = non_empty("an app password's name", name)?;
    let secret_hash = non_empty("an app password hash", secret_hash)?;
    if protocols.is_empty() {
        return Err(StoreError::Invalid(
            "an app password needs at least one protocol".into(),
        ));
    }
    let acc = require_account(conn, account)?;
    if acc.disabled {
        return Err(StoreError::Conflict(format!(
            "account {account} is disabled"
        )));
    }
    let protocols = encode_protocols(protocols);
    conn.execute(
        "INSERT INTO app_passwords(account_id, name, protocols, secret_hash, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![acc.id.0, name, protocols, secret_hash, at.0],
    )?;
    let id = conn.last_insert_rowid();
    insert_event(
        conn,
        EventKind::AppPasswordCreated,
        at,
        actor,
        Some(account.as_str()),
        detail([
            ("id", id.to_string()),
            ("name", name.to_string()),
            ("protocols", protocols),
        ]),
    )?;
    app_password_by_id(conn, id, acc.id.0)?
        .ok_or_else(|| StoreError::Backend("app password row vanished".into()))
}

fn app_password_by_id(
    conn: &Connection,
    id: i64,
    account_id: i64,
) -> Result<Option<AppPassword>, StoreError> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {APP_PASSWORD_COLUMNS} FROM {APP_PASSWORD_FROM} \
                 WHERE p.id = ?1 AND p.account_id = ?2"
            ),
            params![id, account_id],
            row_to_app_password,
        )
        .optional()?)
}

pub(super) fn list_app_passwords(
    conn: &Connection,
    account: &EmailAddress,
    active_only: bool,
) -> Result<Vec<(AppPassword, String)>, StoreError> {
    let acc = require_account(conn, account)?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {APP_PASSWORD_COLUMNS} FROM {APP_PASSWORD_FROM} \
         WHERE p.account_id = ?1 AND (NOT ?2 OR p.revoked_at IS NULL) ORDER BY p.id DESC"
    ))?;
    let rows = stmt.query_map(params![acc.id.0, active_only], |r| {
        Ok((row_to_app_password(r)?, r.get::<_, String>(7)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn revoke_app_password(
    conn: &Connection,
    account: &EmailAddress,
    id: i64,
    at: Timestamp,
    actor: &str,
) -> Result<AppPassword, StoreError> {
    let acc = require_account(conn, account)?;
    let pw = app_password_by_id(conn, id, acc.id.0)?
        .ok_or_else(|| StoreError::NotFound(format!("app password {id} of {account}")))?;
    if pw.revoked_at.is_some() {
        return Err(StoreError::Conflict(format!(
            "app password {id} of {account} is already revoked"
        )));
    }
    conn.execute(
        "UPDATE app_passwords SET revoked_at = ?1 WHERE id = ?2",
        params![at.0, id],
    )?;
    insert_event(
        conn,
        EventKind::AppPasswordRevoked,
        at,
        actor,
        Some(account.as_str()),
        detail([("id", id.to_string()), ("name", pw.name.clone())]),
    )?;
    Ok(AppPassword {
        revoked_at: Some(at),
        ..pw
    })
}

pub(super) fn touch_app_password(
    conn: &Connection,
    id: i64,
    at: Timestamp,
) -> Result<(), StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE app_passwords SET last_used_at = max(coalesce(last_used_at, ?2), ?2) \
             WHERE id = ?1",
        )?
        .execute(params![id, at.0])?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("app password {id}")));
    }
    Ok(())
}

// ---- API sessions

const SESSION_COLUMNS: &str = "s.id, a.address, s.created_at, s.expires_at, s.revoked_at, s.ip, \
     s.user_agent, s.mfa";
const SESSION_FROM: &str = "api_sessions s JOIN accounts a ON a.id = s.account_id";

fn row_to_session(r: &Row<'_>) -> rusqlite::Result<ApiSession> {
    let address: String = r.get(1)?;
    Ok(ApiSession {
        id: r.get(0)?,
        account: address.parse().map_err(|e| bad(1, e))?,
        created_at: Timestamp(r.get(2)?),
        expires_at: Timestamp(r.get(3)?),
        revoked_at: r.get::<_, Option<i64>>(4)?.map(Timestamp),
        ip: r.get(5)?,
        user_agent: r.get(6)?,
        mfa: r.get::<_, i64>(7)? != 0,
    })
}

fn session_by_id(conn: &Connection, id: i64) -> Result<Option<ApiSession>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {SESSION_COLUMNS} FROM {SESSION_FROM} WHERE s.id = ?1"),
            [id],
            row_to_session,
        )
        .optional()?)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn create_session(
    conn: &Connection,
    account: &EmailAddress,
    token_hash: &str,
    expires_at: Timestamp,
    ip: Option<&str>,
    user_agent: Option<&str>,
    mfa: bool,
    at: Timestamp,
) -> Result<ApiSession, StoreError> {
    let token_hash = non_empty("a session token hash", token_hash)?;
    if expires_at <= at {
        return Err(StoreError::Invalid(
            "a session must expire after it starts".into(),
        ));
    }
    let acc = require_account(conn, account)?;
    if acc.disabled {
        return Err(StoreError::Conflict(format!(
            "account {account} is disabled"
        )));
    }
    let inserted = conn
        .prepare_cached(
            "INSERT INTO api_sessions(account_id, token_hash, created_at, expires_at, ip, user_agent, mfa) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(token_hash) DO NOTHING",
        )?
        .execute(params![acc.id.0, token_hash, at.0, expires_at.0, ip, user_agent, mfa])?;
    if inserted == 0 {
        return Err(StoreError::Conflict(
            "a session with this token already exists".into(),
        ));
    }
    Ok(ApiSession {
        id: conn.last_insert_rowid(),
        account: account.clone(),
        created_at: at,
        expires_at,
        revoked_at: None,
        ip: ip.map(str::to_string),
        user_agent: user_agent.map(str::to_string),
        mfa,
    })
}

pub(super) fn session_by_token_hash(
    conn: &Connection,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<ApiSession>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS} FROM {SESSION_FROM} WHERE s.token_hash = ?1 \
             AND s.revoked_at IS NULL AND s.expires_at > ?2 AND a.disabled = 0"
        ))?
        .query_row(params![token_hash, now.0], row_to_session)
        .optional()?)
}

pub(super) fn list_sessions(
    conn: &Connection,
    account: &EmailAddress,
    now: Timestamp,
) -> Result<Vec<ApiSession>, StoreError> {
    let acc = require_account(conn, account)?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM {SESSION_FROM} WHERE s.account_id = ?1 \
         AND s.revoked_at IS NULL AND s.expires_at > ?2 ORDER BY s.id DESC"
    ))?;
    let rows = stmt.query_map(params![acc.id.0, now.0], row_to_session)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn revoke_session(
    conn: &Connection,
    id: i64,
    at: Timestamp,
    actor: &str,
) -> Result<ApiSession, StoreError> {
    let session =
        session_by_id(conn, id)?.ok_or_else(|| StoreError::NotFound(format!("session {id}")))?;
    if session.revoked_at.is_some() {
        return Err(StoreError::Conflict(format!(
            "session {id} is already revoked"
        )));
    }
    conn.execute(
        "UPDATE api_sessions SET revoked_at = ?1 WHERE id = ?2",
        params![at.0, id],
    )?;
    insert_event(
        conn,
        EventKind::SessionRevoked,
        at,
        actor,
        Some(session.account.as_str()),
        detail([("session", id.to_string())]),
    )?;
    Ok(ApiSession {
        revoked_at: Some(at),
        ..session
    })
}

/// Revokes the account's live sessions and its app passwords; no event (the caller's records
/// the counts). Sessions already expired are left as they are and not counted.
pub(super) fn revoke_credentials(
    conn: &Connection,
    account_id: i64,
    at: Timestamp,
) -> Result<(u64, u64), StoreError> {
    let sessions = conn.execute(
        "UPDATE api_sessions SET revoked_at = ?2 \
         WHERE account_id = ?1 AND revoked_at IS NULL AND expires_at > ?2",
        params![account_id, at.0],
    )?;
    let app_passwords = conn.execute(
        "UPDATE app_passwords SET revoked_at = ?2 WHERE account_id = ?1 AND revoked_at IS NULL",
        params![account_id, at.0],
    )?;
    Ok((sessions as u64, app_passwords as u64))
}

pub(super) fn revoke_all(
    conn: &Connection,
    account: &EmailAddress,
    at: Timestamp,
    actor: &str,
) -> Result<(u64, u64), StoreError> {
    let acc = require_account(conn, account)?;
    let (sessions, app_passwords) = revoke_credentials(conn, acc.id.0, at)?;
    insert_event(
        conn,
        EventKind::SessionRevoked,
        at,
        actor,
        Some(account.as_str()),
        detail([
            ("session", "all".to_string()),
            ("sessions", sessions.to_string()),
            ("app_passwords", app_passwords.to_string()),
        ]),
    )?;
    Ok((sessions, app_passwords))
}

// ---- TOTP

pub(super) fn totp(
    conn: &Connection,
    account: &EmailAddress,
) -> Result<Option<TotpState>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT t.secret, t.confirmed, t.last_step, t.created_at \
             FROM totp t JOIN accounts a ON a.id = t.account_id WHERE a.address = ?1",
        )?
        .query_row([account.as_str()], |r| {
            Ok(TotpState {
                secret: r.get(0)?,
                confirmed: r.get::<_, i64>(1)? != 0,
                last_step: r.get(2)?,
                created_at: Timestamp(r.get(3)?),
            })
        })
        .optional()?)
}

pub(super) fn set_totp(
    conn: &Connection,
    account: &EmailAddress,
    secret: &[u8],
    confirmed: bool,
    at: Timestamp,
    actor: &str,
) -> Result<(), StoreError> {
    if secret.is_empty() {
        return Err(StoreError::Invalid(
            "a TOTP secret must not be empty".into(),
        ));
    }
    let acc = require_account(conn, account)?;
    conn.execute(
        "INSERT INTO totp(account_id, secret, confirmed, last_step, created_at) \
         VALUES (?1, ?2, ?3, NULL, ?4) ON CONFLICT(account_id) DO UPDATE SET \
         secret = excluded.secret, confirmed = excluded.confirmed, last_step = NULL, \
         created_at = excluded.created_at",
        params![acc.id.0, secret, confirmed, at.0],
    )?;
    if confirmed {
        insert_event(
            conn,
            EventKind::TotpEnrolled,
            at,
            actor,
            Some(account.as_str()),
            BTreeMap::new(),
        )?;
    }
    Ok(())
}

pub(super) fn confirm_totp(
    conn: &Connection,
    account: &EmailAddress,
    step: i64,
    at: Timestamp,
    actor: &str,
) -> Result<bool, StoreError> {
    let acc = require_account(conn, account)?;
    let changed = conn.execute(
        "UPDATE totp SET confirmed = 1, last_step = ?2 \
         WHERE account_id = ?1 AND confirmed = 0 AND (last_step IS NULL OR last_step < ?2)",
        params![acc.id.0, step],
    )?;
    if changed == 0 {
        let enrolled: bool = conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM totp WHERE account_id = ?1)",
            [acc.id.0],
            |r| r.get(0),
        )?;
        if !enrolled {
            return Err(StoreError::NotFound(format!("TOTP enrolment of {account}")));
        }
        return Ok(false);
    }
    insert_event(
        conn,
        EventKind::TotpEnrolled,
        at,
        actor,
        Some(account.as_str()),
        BTreeMap::new(),
    )?;
    Ok(true)
}

pub(super) fn use_totp_step(
    conn: &Connection,
    account: &EmailAddress,
    step: i64,
) -> Result<bool, StoreError> {
    // One statement on the single writer: the check and the update cannot interleave with
    // another use of the same code.
    let changed = conn
        .prepare_cached(
            "UPDATE totp SET last_step = ?2 \
             WHERE account_id = (SELECT id FROM accounts WHERE address = ?1) \
             AND confirmed = 1 AND (last_step IS NULL OR last_step < ?2)",
        )?
        .execute(params![account.as_str(), step])?;
    Ok(changed == 1)
}

pub(super) fn remove_totp(
    conn: &Connection,
    account: &EmailAddress,
    at: Timestamp,
    actor: &str,
) -> Result<bool, StoreError> {
    let acc = require_account(conn, account)?;
    if conn.execute("DELETE FROM totp WHERE account_id = ?1", [acc.id.0])? == 0 {
        return Ok(false);
    }
    insert_event(
        conn,
        EventKind::TotpRemoved,
        at,
        actor,
        Some(account.as_str()),
        BTreeMap::new(),
    )?;
    Ok(true)
}

// ---- risk profiles

pub(super) fn risk_profile(
    conn: &Connection,
    account: &EmailAddress,
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT p.profile FROM risk_profiles p JOIN accounts a ON a.id = p.account_id \
             WHERE a.address = ?1",
        )?
        .query_row([account.as_str()], |r| r.get(0))
        .optional()?)
}

pub(super) fn save_risk_profile(
    conn: &Connection,
    account: &EmailAddress,
    bytes: &[u8],
    at: Timestamp,
) -> Result<(), StoreError> {
    let acc = require_account(conn, account)?;
    conn.prepare_cached(
        "INSERT INTO risk_profiles(account_id, profile, updated_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT(account_id) DO UPDATE SET profile = excluded.profile, updated_at = excluded.updated_at",
    )?
    .execute(params![acc.id.0, bytes, at.0])?;
    Ok(())
}

// ---- source blocks

/// `203.0.113.7` → `203.0.113.7/32`; `10.1.2.3/8` → `10.0.0.0/8`; IPv6 in its RFC 5952 form.
pub(super) fn canonical_cidr(raw: &str) -> Result<String, StoreError> {
    let raw = raw.trim();
    let invalid = || StoreError::Invalid(format!("{raw:?} is not an IP address or CIDR network"));
    let (addr, len) = match raw.split_once('/') {
        Some((addr, len)) => (addr, Some(len)),
        None => (raw, None),
    };
    let ip: IpAddr = addr.parse().map_err(|_| invalid())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len: u32 = match len {
        None => max,
        Some(len) if !len.is_empty() && len.bytes().all(|b| b.is_ascii_digit()) => {
            len.parse().ok().filter(|l| *l <= max).ok_or_else(invalid)?
        }
        Some(_) => return Err(invalid()),
    };
    let network = match ip {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    };
    Ok(format!("{network}/{len}"))
}

fn row_to_block(r: &Row<'_>) -> rusqlite::Result<SourceBlock> {
    Ok(SourceBlock {
        id: r.get(0)?,
        cidr: r.get(1)?,
        reason: r.get(2)?,
        created_at: Timestamp(r.get(3)?),
        expires_at: r.get::<_, Option<i64>>(4)?.map(Timestamp),
        actor: r.get(5)?,
    })
}

pub(super) fn add_block(
    conn: &Connection,
    cidr: &str,
    reason: &str,
    expires_at: Option<Timestamp>,
    at: Timestamp,
    actor: &str,
) -> Result<SourceBlock, StoreError> {
    let cidr = canonical_cidr(cidr)?;
    if expires_at.is_some_and(|e| e <= at) {
        return Err(StoreError::Invalid(format!(
            "the block of {cidr} would already have expired"
        )));
    }
    // Re-adding a block that had run out starts it afresh.
    let block = conn.query_row(
        "INSERT INTO source_blocks(cidr, reason, created_at, expires_at, actor) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(cidr) DO UPDATE SET \
         reason = excluded.reason, expires_at = excluded.expires_at, actor = excluded.actor, \
         created_at = CASE WHEN source_blocks.expires_at <= excluded.created_at \
                      THEN excluded.created_at ELSE source_blocks.created_at END \
         RETURNING id, cidr, reason, created_at, expires_at, actor",
        params![cidr, reason.trim(), at.0, expires_at.map(|t| t.0), actor],
        row_to_block,
    )?;
    insert_event(
        conn,
        EventKind::SourceBlocked,
        at,
        actor,
        None,
        detail([
            ("cidr", block.cidr.clone()),
            ("reason", block.reason.clone()),
            (
                "expires_at",
                expires_at.map(|t| t.0.to_string()).unwrap_or_default(),
            ),
        ]),
    )?;
    Ok(block)
}

pub(super) fn remove_block(
    conn: &Connection,
    cidr: &str,
    at: Timestamp,
    actor: &str,
) -> Result<bool, StoreError> {
    let cidr = canonical_cidr(cidr)?;
    if conn.execute("DELETE FROM source_blocks WHERE cidr = ?1", [&cidr])? == 0 {
        return Ok(false);
    }
    insert_event(
        conn,
        EventKind::SourceUnblocked,
        at,
        actor,
        None,
        detail([("cidr", cidr)]),
    )?;
    Ok(true)
}

pub(super) fn list_blocks(
    conn: &Connection,
    now: Timestamp,
) -> Result<Vec<SourceBlock>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, cidr, reason, created_at, expires_at, actor FROM source_blocks \
         WHERE expires_at IS NULL OR expires_at > ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([now.0], row_to_block)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

// ---- challenges

const CHALLENGE_COLUMNS: &str = "c.id, a.address, c.kind, c.protocol, c.ip, c.user_agent, \
     c.device_id, c.reasons, c.status, c.created_at, c.expires_at, c.decided_at, c.decided_by";
const CHALLENGE_FROM: &str = "challenges c JOIN accounts a ON a.id = c.account_id";

fn row_to_challenge(r: &Row<'_>) -> rusqlite::Result<Challenge> {
    let address: String = r.get(1)?;
    let kind: String = r.get(2)?;
    let protocol: String = r.get(3)?;
    let reasons: String = r.get(7)?;
    let status: String = r.get(8)?;
    Ok(Challenge {
        id: r.get(0)?,
        account: address.parse().map_err(|e| bad(1, e))?,
        kind: kind.parse().map_err(|e| bad(2, e))?,
        protocol: protocol.parse().map_err(|e| bad(3, e))?,
        ip: r.get(4)?,
        user_agent: r.get(5)?,
        device_id: r.get(6)?,
        reasons: serde_json::from_str(&reasons).map_err(|e| bad(7, e))?,
        status: status.parse().map_err(|e| bad(8, e))?,
        created_at: Timestamp(r.get(9)?),
        expires_at: Timestamp(r.get(10)?),
        decided_at: r.get::<_, Option<i64>>(11)?.map(Timestamp),
        decided_by: r.get(12)?,
    })
}

pub(super) fn challenge_by_id(
    conn: &Connection,
    id: &str,
) -> Result<Option<Challenge>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {CHALLENGE_COLUMNS} FROM {CHALLENGE_FROM} WHERE c.id = ?1"
        ))?
        .query_row([id], row_to_challenge)
        .optional()?)
}

pub(super) fn create_challenge(conn: &Connection, c: &Challenge) -> Result<(), StoreError> {
    non_empty("a challenge id", &c.id)?;
    if c.status != ChallengeStatus::Pending {
        return Err(StoreError::Invalid(format!(
            "a new challenge must be pending, not {}",
            c.status
        )));
    }
    if c.expires_at <= c.created_at {
        return Err(StoreError::Invalid(
            "a challenge must expire after it is created".into(),
        ));
    }
    let acc = require_account(conn, &c.account)?;
    let reasons =
        serde_json::to_string(&c.reasons).map_err(|e| StoreError::Backend(e.to_string()))?;
    let inserted = conn.execute(
        "INSERT INTO challenges(id, account_id, kind, protocol, ip, user_agent, device_id, reasons, \
         status, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9, ?10) \
         ON CONFLICT(id) DO NOTHING",
        params![
            c.id,
            acc.id.0,
            c.kind.as_str(),
            c.protocol.as_str(),
            c.ip,
            c.user_agent,
            c.device_id,
            reasons,
            c.created_at.0,
            c.expires_at.0
        ],
    )?;
    if inserted == 0 {
        return Err(StoreError::Conflict(format!(
            "login challenge {} already exists",
            c.id
        )));
    }
    // The device id is not recorded: it may work as a credential (trusted devices).
    insert_event(
        conn,
        EventKind::LoginChallenged,
        c.created_at,
        c.protocol.as_str(),
        Some(c.account.as_str()),
        detail([
            ("challenge", c.id.clone()),
            ("kind", c.kind.to_string()),
            ("protocol", c.protocol.to_string()),
            ("ip", c.ip.clone()),
            ("reasons", c.reasons.join(", ")),
        ]),
    )?;
    Ok(())
}

pub(super) fn pending_challenges(
    conn: &Connection,
    account: &EmailAddress,
    now: Timestamp,
) -> Result<Vec<Challenge>, StoreError> {
    let acc = require_account(conn, account)?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CHALLENGE_COLUMNS} FROM {CHALLENGE_FROM} WHERE c.account_id = ?1 \
         AND c.status = 'pending' AND c.expires_at > ?2 ORDER BY c.created_at DESC, c.rowid DESC"
    ))?;
    let rows = stmt.query_map(params![acc.id.0, now.0], row_to_challenge)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The outer `Result` decides commit (`Ok`) or rollback; the inner one is the caller's answer,
/// so a challenge found expired is marked `Expired` durably and still reported as an error.
pub(super) fn decide_challenge(
    conn: &Connection,
    id: &str,
    to: ChallengeStatus,
    at: Timestamp,
    by: &str,
) -> Result<Result<Challenge, StoreError>, StoreError> {
    use ChallengeStatus::*;
    if to == Pending {
        return Err(StoreError::Invalid(
            "a challenge cannot be moved back to pending".into(),
        ));
    }
    let c = challenge_by_id(conn, id)?
        .ok_or_else(|| StoreError::NotFound(format!("login challenge {id}")))?;
    let open = matches!(c.status, Pending | Approved);
    if open && at >= c.expires_at {
        let expired = set_status(conn, c, Expired, at, None)?;
        return Ok(if to == Expired {
            Ok(expired)
        } else {
            Err(StoreError::ChallengeNotPending {
                id: id.to_string(),
                status: Expired,
            })
        });
    }
    let allowed = match (c.status, to) {
        (Pending, Approved | Denied | Expired) => true,
        // Only a TOTP challenge is finished by the client alone; an approval needs the approval.
        (Pending, Completed) => c.kind == ChallengeKind::Totp,
        (Approved, Completed) => true,
        _ => false,
    };
    if !allowed {
        return Err(StoreError::ChallengeNotPending {
            id: id.to_string(),
            status: c.status,
        });
    }
    let event = match to {
        Approved => Some(EventKind::ChallengeApproved),
        Denied => Some(EventKind::ChallengeDenied),
        _ => None,
    };
    let decided = set_status(conn, c, to, at, Some(by))?;
    if let Some(kind) = event {
        insert_event(
            conn,
            kind,
            at,
            by,
            Some(decided.account.as_str()),
            detail([
                ("challenge", decided.id.clone()),
                ("kind", decided.kind.to_string()),
                ("protocol", decided.protocol.to_string()),
                ("ip", decided.ip.clone()),
            ]),
        )?;
    }
    Ok(Ok(decided))
}

/// Moves `c` to `to`. Leaving `Pending` records when (and, with `by`, by whom); completing an
/// approved challenge keeps the approval's record.
fn set_status(
    conn: &Connection,
    c: Challenge,
    to: ChallengeStatus,
    at: Timestamp,
    by: Option<&str>,
) -> Result<Challenge, StoreError> {
    let (decided_at, decided_by) = if c.status == ChallengeStatus::Pending {
        (Some(at), by.map(str::to_string))
    } else {
        (c.decided_at, c.decided_by.clone())
    };
    conn.execute(
        "UPDATE challenges SET status = ?1, decided_at = ?2, decided_by = ?3 WHERE id = ?4",
        params![to.as_str(), decided_at.map(|t| t.0), decided_by, c.id],
    )?;
    Ok(Challenge {
        status: to,
        decided_at,
        decided_by,
        ..c
    })
}

// ---- trust

fn trust_value(kind: TrustKind, value: &str) -> Result<String, StoreError> {
    let value = non_empty("a trusted value", value)?;
    Ok(match kind {
        TrustKind::Ip => value
            .parse::<IpAddr>()
            .map_err(|_| StoreError::Invalid(format!("{value:?} is not an IP address")))?
            .to_string(),
        TrustKind::Device => value.to_string(),
    })
}

pub(super) fn add_trust(conn: &Connection, t: &Trust) -> Result<(), StoreError> {
    let value = trust_value(t.kind, &t.value)?;
    let acc = require_account(conn, &t.account)?;
    conn.prepare_cached(
        "INSERT INTO trust(account_id, kind, value, until) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT(account_id, kind, value) DO UPDATE SET until = max(until, excluded.until)",
    )?
    .execute(params![acc.id.0, t.kind.as_str(), value, t.until.0])?;
    Ok(())
}

pub(super) fn is_trusted(
    conn: &Connection,
    account: &EmailAddress,
    ip: &str,
    device_id: Option<&str>,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let ip = ip
        .trim()
        .parse::<IpAddr>()
        .map(|ip| ip.to_string())
        .unwrap_or_else(|_| ip.to_string());
    let device_id = device_id.map(str::trim).filter(|d| !d.is_empty());
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM trust t JOIN accounts a ON a.id = t.account_id \
             WHERE a.address = ?1 AND t.until > ?4 AND \
             ((t.kind = 'ip' AND t.value = ?2) OR (t.kind = 'device' AND t.value = ?3)))",
        )?
        .query_row(params![account.as_str(), ip, device_id, now.0], |r| {
            r.get(0)
        })?)
}

// ---- login policies

/// Checks and normalises a policy scope: `org` has no value, `user` takes an address.
fn policy_scope(kind: &str, value: &str) -> Result<(String, String), StoreError> {
    let kind = kind.trim().to_ascii_lowercase();
    let value = value.trim();
    let value = match kind.as_str() {
        "org" if value.is_empty() => String::new(),
        "org" => {
            return Err(StoreError::Invalid(
                "the org policy scope takes no value".into(),
            ))
        }
        "department" | "level" => non_empty(&format!("a {kind} scope"), value)?.to_string(),
        "user" => value
            .parse::<EmailAddress>()
            .map_err(|e| StoreError::Invalid(format!("user scope: {e}")))?
            .to_string(),
        _ => {
            return Err(StoreError::Invalid(format!(
                "unknown policy scope {kind:?} (expected org, department, level or user)"
            )))
        }
    };
    Ok((kind, value))
}

fn policy_event(
    conn: &Connection,
    kind: &str,
    value: &str,
    action: &str,
    policy: Option<&str>,
    at: Timestamp,
    actor: &str,
) -> Result<(), StoreError> {
    let mut d = detail([
        ("scope_kind", kind.to_string()),
        ("scope_value", value.to_string()),
        ("action", action.to_string()),
    ]);
    if let Some(policy) = policy {
        d.insert("policy".into(), policy.to_string());
    }
    let subject = (kind == "user").then_some(value);
    insert_event(conn, EventKind::PolicyChanged, at, actor, subject, d)?;
    Ok(())
}

pub(super) fn set_policy(
    conn: &Connection,
    scope_kind: &str,
    scope_value: &str,
    policy_json: &str,
    at: Timestamp,
    actor: &str,
) -> Result<PolicyRecord, StoreError> {
    let (kind, value) = policy_scope(scope_kind, scope_value)?;
    serde_json::from_str::<serde_json::Value>(policy_json)
        .map_err(|e| StoreError::Invalid(format!("policy is not valid JSON: {e}")))?;
    conn.execute(
        "INSERT INTO login_policies(scope_kind, scope_value, policy, updated_at, updated_by) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(scope_kind, scope_value) DO UPDATE SET \
         policy = excluded.policy, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        params![kind, value, policy_json, at.0, actor],
    )?;
    policy_event(conn, &kind, &value, "set", Some(policy_json), at, actor)?;
    Ok(PolicyRecord {
        scope_kind: kind,
        scope_value: value,
        policy_json: policy_json.to_string(),
        updated_at: at,
        updated_by: actor.to_string(),
    })
}

pub(super) fn remove_policy(
    conn: &Connection,
    scope_kind: &str,
    scope_value: &str,
    at: Timestamp,
    actor: &str,
) -> Result<bool, StoreError> {
    let (kind, value) = policy_scope(scope_kind, scope_value)?;
    let removed = conn.execute(
        "DELETE FROM login_policies WHERE scope_kind = ?1 AND scope_value = ?2",
        params![kind, value],
    )?;
    if removed == 0 {
        return Ok(false);
    }
    policy_event(conn, &kind, &value, "removed", None, at, actor)?;
    Ok(true)
}

pub(super) fn list_policies(conn: &Connection) -> Result<Vec<PolicyRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT scope_kind, scope_value, policy, updated_at, updated_by FROM login_policies \
         ORDER BY CASE scope_kind WHEN 'org' THEN 0 WHEN 'department' THEN 1 \
         WHEN 'level' THEN 2 ELSE 3 END, scope_value",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(PolicyRecord {
            scope_kind: r.get(0)?,
            scope_value: r.get(1)?,
            policy_json: r.get(2)?,
            updated_at: Timestamp(r.get(3)?),
            updated_by: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use rampart_model::{EmailAddress, Protocol, Timestamp};
    use rusqlite::Connection;

    use super::super::{SqliteMetaStore, MIGRATIONS};
    use super::canonical_cidr;
    use crate::MetaStore;

    #[tokio::test]
    async fn migrates_a_version_3_database_and_keeps_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.sqlite");
        {
            // A database as the previous release left it: migrations 1..=3 and some data.
            let conn = Connection::open(&path).unwrap();
            for (i, sql) in MIGRATIONS[..3].iter().enumerate() {
                conn.execute_batch(&format!(
                    "BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;",
                    i + 1
                ))
                .unwrap();
            }
            conn.execute_batch(
                "INSERT INTO domains(name, created_at) VALUES ('example.com', 1);
                 INSERT INTO accounts(address, domain, password_hash, created_at)
                     VALUES ('alice@example.com', 'example.com', '$argon2id$old', 1);
                 INSERT INTO user_models(account_id, model, updated_at) VALUES (1, x'0102', 1);",
            )
            .unwrap();
        }
        let alice: EmailAddress = "alice@example.com".parse().unwrap();
        for _ in 0..2 {
            // The first open migrates, the second finds nothing to do.
            let store = SqliteMetaStore::open(&path).unwrap();
            assert_eq!(
                store.password_hash(&alice).await.unwrap().as_deref(),
                Some("$argon2id$old")
            );
            assert_eq!(store.user_model(&alice).await.unwrap(), Some(vec![1, 2]));
            store.list_app_passwords(&alice).await.unwrap();
            store.list_policies().await.unwrap();
            drop(store);
        }
        let version: usize = Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len());
        assert!(version >= 4);

        let store = SqliteMetaStore::open(&path).unwrap();
        let now = Timestamp(1_000);
        store
            .create_app_password(&alice, "phone", &[Protocol::Imap], "h", now, "cli")
            .await
            .unwrap();
        store
            .create_session(&alice, "tok", Timestamp(2_000), None, None, false, now)
            .await
            .unwrap();
        assert!(store
            .session_by_token_hash("tok", now)
            .await
            .unwrap()
            .is_some());
        // Foreign keys hold: no row for an account that does not exist.
        let orphan = store
            .write(|conn| {
                conn.execute(
                    "INSERT INTO totp(account_id, secret, confirmed, created_at) VALUES (99, x'00', 1, 0)",
                    [],
                )?;
                Ok(())
            })
            .await;
        assert!(orphan.is_err(), "{orphan:?}");
    }

    #[test]
    fn cidrs_are_canonical() {
        assert_eq!(canonical_cidr("203.0.113.7").unwrap(), "203.0.113.7/32");
        assert_eq!(canonical_cidr(" 10.1.2.3/8 ").unwrap(), "10.0.0.0/8");
        assert_eq!(canonical_cidr("0.0.0.0/0").unwrap(), "0.0.0.0/0");
        assert_eq!(
            canonical_cidr("2001:DB8:0:0::1/32").unwrap(),
            "2001:db8::/32"
        );
        assert_eq!(canonical_cidr("::1").unwrap(), "::1/128");
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "host/8",
            "::/129",
        ] {
            assert!(canonical_cidr(bad).is_err(), "{bad}");
        }
    }
}
