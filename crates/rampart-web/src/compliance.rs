//! `/api/v1/audit/*` and `/api/v1/archive/*` for auditors; `/api/v1/mail/deleted` for everyone's
//! own "Recently deleted".
//!
//! Least privilege: the archive and the audit trail are for the `auditor` role only (an
//! administrator is refused too), and every archive search and read is itself an event.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rampart_model::{ApiSession, EventKind, MessageId, Role, Timestamp};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{ApiError, AppState, Authed};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/audit/events", get(audit_events))
        .route("/api/v1/archive/search", get(archive_search))
        .route("/api/v1/archive/messages/{id}", get(archive_message))
        .route("/api/v1/admin/dashboard", get(dashboard))
        .route("/api/v1/mail/deleted", get(deleted))
        .route("/api/v1/mail/deleted/{id}/restore", post(restore))
}

/// The account behind the session must hold `role` (and be neither disabled nor contained):
/// checked on the server for every call, from the store, so a role change or containment takes
/// effect on the next request.
async fn require_role(st: &AppState, s: &ApiSession, role: Role) -> Result<(), ApiError> {
    let account = st
        .login
        .store()
        .meta()
        .account(&s.account)
        .await
        .map_err(|_| ApiError::internal())?;
    match account {
        Some(a) if a.role == role && !a.disabled && a.contained_at.is_none() => Ok(()),
        _ => Err(match role {
            Role::Auditor => ApiError::new(
                StatusCode::FORBIDDEN,
                "auditor_only",
                "The audit trail and the archive are for the auditor role.",
            ),
            _ => ApiError::new(
                StatusCode::FORBIDDEN,
                "admin_only",
                "This is for administrators.",
            ),
        }),
    }
}

async fn require_auditor(st: &AppState, s: &ApiSession) -> Result<(), ApiError> {
    require_role(st, s, Role::Auditor).await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DashboardQuery {
    /// Unix seconds; default: 24 hours before `until`.
    since: Option<i64>,
    /// Unix seconds; default: now.
    until: Option<i64>,
    /// Bucket length in seconds; default: an hour.
    bucket: Option<i64>,
}

/// The security dashboard's numbers: mail flow over time, detections by type, login decisions,
/// the riskiest accounts and sources (administrators).
async fn dashboard(
    State(st): State<AppState>,
    Authed(s): Authed,
    Query(q): Query<DashboardQuery>,
) -> Result<Json<Value>, ApiError> {
    require_role(&st, &s, Role::Admin).await?;
    let store = st.login.store();
    let until = q.until.unwrap_or(store.now().0);
    let since = q.since.unwrap_or(until - Timestamp::DAY);
    let started = std::time::Instant::now();
    let dash = store
        .meta()
        .dashboard(Timestamp(since), Timestamp(until), q.bucket.unwrap_or(3600))
        .await
        .map_err(|e| match e {
            rampart_store::StoreError::Invalid(m) => {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_range", &m)
            }
            _ => ApiError::internal(),
        })?;
    let took_ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok(Json(
        json!({"status": "ok", "took_ms": took_ms, "dashboard": dash}),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    since: Option<i64>,
    until: Option<i64>,
    actor: Option<String>,
    kind: Option<String>,
    subject: Option<String>,
    /// Events with a smaller id (paging backwards from the newest).
    before: Option<i64>,
    limit: Option<usize>,
}

async fn audit_events(
    State(st): State<AppState>,
    Authed(s): Authed,
    Query(q): Query<EventsQuery>,
) -> Result<Json<Value>, ApiError> {
    require_auditor(&st, &s).await?;
    let kind = match q.kind.as_deref() {
        Some(k) => Some(EventKind::parse(k).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_kind",
                &format!("unknown event kind {k:?}"),
            )
        })?),
        None => None,
    };
    let limit = q.limit.unwrap_or(100).min(1000);
    let events = st
        .login
        .store()
        .meta()
        .list_events(&rampart_store::EventFilter {
            kind,
            subject: q.subject,
            since: q.since.map(Timestamp),
            until: q.until.map(Timestamp),
            actor: q.actor,
            before_id: q.before,
            limit: Some(limit),
            ..Default::default()
        })
        .await
        .map_err(|_| ApiError::internal())?;
    Ok(Json(json!({"status": "ok", "events": events})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    q: String,
    limit: Option<usize>,
    offset: Option<usize>,
}

fn no_index() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "archive_unavailable",
        "The archive search index is not available on this server.",
    )
}

/// Records an archive read under the session's account.
async fn audit_read(
    st: &AppState,
    s: &ApiSession,
    kind: EventKind,
    query: Option<&str>,
    results: usize,
    archive_id: Option<i64>,
) -> Result<(), ApiError> {
    st.login
        .store()
        .record_archive_read(kind, s.account.as_str(), query, results, archive_id)
        .await
        .map_err(|_| ApiError::internal())
}

async fn archive_search(
    State(st): State<AppState>,
    Authed(s): Authed,
    Query(q): Query<SearchQuery>,
) -> Result<Json<Value>, ApiError> {
    require_auditor(&st, &s).await?;
    let index = st.archive.clone().ok_or_else(no_index)?;
    let query = rampart_archive::ArchiveQuery::parse(&q.q)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", &e.to_string()))?;
    let (limit, offset) = (q.limit.unwrap_or(50).min(500), q.offset.unwrap_or(0));
    let started = std::time::Instant::now();
    let found = tokio::task::spawn_blocking(move || index.search(&query, limit, offset))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", &e.to_string()))?;
    let took_ms = started.elapsed().as_secs_f64() * 1000.0;
    audit_read(
        &st,
        &s,
        EventKind::ArchiveSearched,
        Some(&q.q),
        found.total,
        None,
    )
    .await?;
    Ok(Json(
        json!({"status": "ok", "total": found.total, "took_ms": took_ms, "hits": found.hits}),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MessageQuery {
    /// `raw` for the message itself (message/rfc822), else its envelope as JSON.
    format: Option<String>,
}

async fn archive_message(
    State(st): State<AppState>,
    Authed(s): Authed,
    Path(id): Path<i64>,
    Query(q): Query<MessageQuery>,
) -> Result<Response, ApiError> {
    require_auditor(&st, &s).await?;
    let (entry, raw) = match st.login.store().archived_raw(id).await {
        Ok(found) => found,
        Err(rampart_store::StoreError::NotFound(_)) => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "No such archived message.",
            ))
        }
        Err(_) => return Err(ApiError::internal()),
    };
    audit_read(&st, &s, EventKind::ArchiveViewed, None, 1, Some(id)).await?;
    if q.format.as_deref() == Some("raw") {
        return Ok(([(header::CONTENT_TYPE, "message/rfc822")], raw).into_response());
    }
    Ok(Json(json!({"status": "ok", "message": entry})).into_response())
}

async fn deleted(State(st): State<AppState>, Authed(s): Authed) -> Result<Json<Value>, ApiError> {
    let messages = st
        .login
        .store()
        .deleted(&s.account)
        .await
        .map_err(|_| ApiError::internal())?;
    Ok(Json(json!({"status": "ok", "messages": messages})))
}

async fn restore(
    State(st): State<AppState>,
    Authed(s): Authed,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    match st
        .login
        .store()
        .restore(&s.account, MessageId(id), s.account.as_str())
        .await
    {
        Ok(message) => Ok(Json(json!({"status": "ok", "message": message}))),
        Err(rampart_store::StoreError::NotFound(_)) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "No such message in your recently deleted mail (it may be past the recovery window).",
        )),
        Err(rampart_store::StoreError::QuotaExceeded(m)) => {
            Err(ApiError::new(StatusCode::CONFLICT, "over_quota", &m))
        }
        Err(rampart_store::StoreError::Invalid(m)) => {
            Err(ApiError::new(StatusCode::CONFLICT, "not_deleted", &m))
        }
        Err(_) => Err(ApiError::internal()),
    }
}
