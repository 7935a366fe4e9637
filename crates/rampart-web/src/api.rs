//! `/api/v1/auth/*`: login, step-up challenges, approvals, TOTP enrolment, app passwords.
//!
//! Answers are JSON. A login answers `200` with a session, `202` with a challenge, `401` for wrong
//! credentials, `403` for a policy or risk denial, `429` (with `Retry-After`) for a locked or
//! blocked source, `503` for a temporary failure. Errors always carry `code` and `message`.

use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use rampart_auth::login::{Login, LoginOutcome, LoginRequest, Refusal, SessionGrant};
use rampart_model::Protocol;
use rampart_model::{ApiSession, Challenge};
use rampart_risk::RiskDecision;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Clone)]
pub struct AppState {
    pub login: Arc<Login>,
    /// For releasing held messages: the server's name (notices) and whether to file `Sent`
    /// copies.
    pub hostname: String,
    pub save_sent: bool,
    /// Where containment alerts go.
    pub alerter: rampart_alert::Alerter,
    /// The archive's search index, for auditors (`None`: search unavailable).
    pub archive: Option<Arc<rampart_archive::ArchiveIndex>>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/api/v1/openapi.json",
            get(|| async { Json(crate::openapi::document()) }),
        )
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/session", get(whoami))
        .route("/api/v1/auth/challenges", get(pending))
        .route("/api/v1/auth/challenges/{id}", get(poll))
        .route("/api/v1/auth/challenges/{id}/totp", post(totp))
        .route("/api/v1/auth/challenges/{id}/approve", post(approve))
        .route("/api/v1/auth/challenges/{id}/deny", post(deny))
        .route("/api/v1/auth/totp/enroll", post(totp_enroll))
        .route("/api/v1/auth/totp/confirm", post(totp_confirm))
        .route(
            "/api/v1/auth/app-passwords",
            get(list_app_passwords).post(create_app_password),
        )
        .route(
            "/api/v1/auth/app-passwords/{id}",
            delete(revoke_app_password),
        )
        .route("/api/v1/holds", get(list_holds))
        .route("/api/v1/holds/{id}", get(show_hold))
        .route("/api/v1/holds/{id}/release", post(release_hold))
        .route("/api/v1/holds/{id}/cancel", post(cancel_hold))
        .route("/api/v1/holds/{id}/report", post(report_hold))
        .merge(crate::compliance::routes())
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Headers on every answer. The API serves JSON only: nothing may run, frame or be sniffed from
/// it, nothing is cached (answers carry personal data and tokens), and browsers keep to HTTPS.
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    h.insert(
        header::HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    resp
}

/// A JSON error with a stable code.
pub(crate) struct ApiError {
    status: StatusCode,
    code: String,
    message: String,
    retry_after: Option<u64>,
    extra: Option<Value>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &str, message: &str) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            retry_after: None,
            extra: None,
        }
    }

    pub(crate) fn internal() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporary_failure",
            "The service is busy; try again in a moment.",
        )
    }

    fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Send a valid session token as `Authorization: Bearer rps_...`.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"status": "denied", "code": self.code, "message": self.message});
        if let (Some(extra), Some(obj)) = (self.extra, body.as_object_mut()) {
            if let Some(e) = extra.as_object() {
                obj.extend(e.clone());
            }
        }
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

fn refusal_status(r: &Refusal) -> StatusCode {
    if r.temporary {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    match r.code.as_str() {
        "invalid_credentials" | "invalid_code" => StatusCode::UNAUTHORIZED,
        "account_ip_locked" | "source_blocked" | "password_spray" | "ip_failures"
        | "subnet_failures" | "too_many_codes" => StatusCode::TOO_MANY_REQUESTS,
        "unknown_challenge" => StatusCode::NOT_FOUND,
        "challenge_closed" => StatusCode::GONE,
        _ => StatusCode::FORBIDDEN,
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        let status = refusal_status(&r);
        let retry_after = r
            .decision
            .as_ref()
            .and_then(|d| d.retry_after_ms)
            .map(|ms| ms.div_ceil(1000));
        let extra = r.decision.as_ref().map(|d| json!({"risk": risk_json(d)}));
        ApiError {
            status,
            code: r.code,
            message: r.message,
            retry_after,
            extra,
        }
    }
}

fn risk_json(d: &RiskDecision) -> Value {
    json!({
        "decision": d.action,
        "score": d.score,
        "reasons": d.reasons,
    })
}

fn session_json(grant: &SessionGrant) -> Value {
    json!({
        "status": "ok",
        "token": grant.token,
        "account": grant.session.account,
        "expires_at": grant.session.expires_at,
        "mfa": grant.session.mfa,
    })
}

fn challenge_json(c: &Challenge) -> Value {
    json!({
        "id": c.id,
        "kind": c.kind,
        "status": c.status,
        "protocol": c.protocol,
        "ip": c.ip,
        "user_agent": c.user_agent,
        "reasons": c.reasons,
        "created_at": c.created_at,
        "expires_at": c.expires_at,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    address: String,
    password: String,
    #[serde(default)]
    device_id: Option<String>,
}

fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(512).collect())
}

async fn login(
    State(st): State<AppState>,
    ConnectInfo(crate::Peer(peer)): ConnectInfo<crate::Peer>,
    headers: HeaderMap,
    Json(body): Json<LoginBody>,
) -> Result<Response, ApiError> {
    let request = LoginRequest {
        user: body.address,
        secret: body.password,
        protocol: Protocol::Http,
        ip: peer.ip(),
        user_agent: user_agent(&headers),
        device_id: body.device_id.map(|d| d.chars().take(128).collect()),
    };
    match st.login.login(&request).await {
        LoginOutcome::Allowed(grant) => {
            let session = st
                .login
                .new_session(
                    &grant.account.address,
                    &peer.ip().to_string(),
                    request.user_agent.as_deref(),
                    false,
                )
                .await
                .map_err(|_| ApiError::internal())?;
            let mut body = session_json(&session);
            body["risk"] = risk_json(&grant.decision);
            Ok((StatusCode::OK, Json(body)).into_response())
        }
        LoginOutcome::Challenged {
            challenge,
            decision,
        } => Ok((
            StatusCode::ACCEPTED,
            Json(json!({
                "status": "challenge",
                "challenge": challenge_json(&challenge),
                "risk": risk_json(&decision),
            })),
        )
            .into_response()),
        LoginOutcome::Refused(r) => {
            if !r.delay.is_zero() {
                tokio::time::sleep(r.delay).await;
            }
            Err(r.into())
        }
    }
}

/// The caller's live session, from `Authorization: Bearer rps_...`.
pub(crate) struct Authed(pub(crate) ApiSession);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(ApiError::unauthorized)?;
        match st.login.session(token.trim()).await {
            Ok(Some(s)) => Ok(Authed(s)),
            Ok(None) => Err(ApiError::unauthorized()),
            Err(_) => Err(ApiError::internal()),
        }
    }
}

async fn logout(State(st): State<AppState>, Authed(s): Authed) -> Result<Json<Value>, ApiError> {
    st.login
        .logout(&s)
        .await
        .map_err(|_| ApiError::internal())?;
    Ok(Json(json!({"status": "ok"})))
}

async fn whoami(Authed(s): Authed) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "account": s.account,
        "session_id": s.id,
        "created_at": s.created_at,
        "expires_at": s.expires_at,
        "mfa": s.mfa,
        "ip": s.ip,
    }))
}

async fn pending(State(st): State<AppState>, Authed(s): Authed) -> Result<Json<Value>, ApiError> {
    let now = st.login.store().now();
    let list = st
        .login
        .store()
        .meta()
        .pending_challenges(&s.account, now)
        .await
        .map_err(|_| ApiError::internal())?;
    Ok(Json(json!({
        "status": "ok",
        "challenges": list.iter().map(challenge_json).collect::<Vec<_>>(),
    })))
}

/// The waiting client polls its challenge; once approved it receives its session here (once).
async fn poll(State(st): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let (challenge, grant) = st.login.poll(&id).await?;
    let mut body = json!({"status": "challenge", "challenge": challenge_json(&challenge)});
    if let Some(grant) = grant {
        body = session_json(&grant);
        body["challenge"] = challenge_json(&challenge);
    }
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    code: String,
}

async fn totp(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<CodeBody>,
) -> Result<Json<Value>, ApiError> {
    let grant = st.login.complete_totp(&id, &body.code).await?;
    Ok(Json(session_json(&grant)))
}

async fn decide(
    st: AppState,
    s: ApiSession,
    id: String,
    approve: bool,
) -> Result<Json<Value>, ApiError> {
    let c = st.login.decide(&s, &id, approve).await?;
    Ok(Json(
        json!({"status": "ok", "challenge": challenge_json(&c)}),
    ))
}

async fn approve(
    State(st): State<AppState>,
    Authed(s): Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    decide(st, s, id, true).await
}

async fn deny(
    State(st): State<AppState>,
    Authed(s): Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    decide(st, s, id, false).await
}

async fn totp_enroll(
    State(st): State<AppState>,
    Authed(s): Authed,
) -> Result<Json<Value>, ApiError> {
    let (secret, uri) = st
        .login
        .begin_totp(&s.account)
        .await
        .map_err(|_| ApiError::internal())?;
    Ok(Json(json!({
        "status": "ok",
        "secret": secret.base32(),
        "otpauth_uri": uri,
        "next": "POST /api/v1/auth/totp/confirm with {\"code\": \"123456\"} from your authenticator app",
    })))
}

async fn totp_confirm(
    State(st): State<AppState>,
    Authed(s): Authed,
    Json(body): Json<CodeBody>,
) -> Result<Json<Value>, ApiError> {
    let ok = st
        .login
        .confirm_totp(&s.account, &body.code)
        .await
        .map_err(|_| ApiError::internal())?;
    if !ok {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_code",
            "The code is wrong, expired or already used; enrol first, then send a fresh code.",
        ));
    }
    Ok(Json(json!({"status": "ok", "totp": "enabled"})))
}

async fn list_app_passwords(
    State(st): State<AppState>,
    Authed(s): Authed,
) -> Result<Json<Value>, ApiError> {
    let list = st
        .login
        .store()
        .meta()
        .list_app_passwords(&s.account)
        .await
        .map_err(|_| ApiError::internal())?;
    Ok(Json(json!({"status": "ok", "app_passwords": list})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAppPasswordBody {
    name: String,
    #[serde(default)]
    protocols: Option<Vec<Protocol>>,
}

async fn create_app_password(
    State(st): State<AppState>,
    Authed(s): Authed,
    Json(body): Json<NewAppPasswordBody>,
) -> Result<Response, ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_name",
            "Give the app password a name of 1 to 64 characters (e.g. \"Thunderbird on laptop\").",
        ));
    }
    let protocols = body
        .protocols
        .unwrap_or_else(|| vec![Protocol::Smtp, Protocol::Imap]);
    let actor = s.account.to_string();
    let (app, secret) = st
        .login
        .create_app_password(&s.account, name, &protocols, &actor)
        .await
        .map_err(|_| ApiError::internal())?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "status": "ok",
            "app_password": app,
            "secret": secret,
            "note": "Shown once. Use it instead of your password in the mail client.",
        })),
    )
        .into_response())
}

async fn revoke_app_password(
    State(st): State<AppState>,
    Authed(s): Authed,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let actor = s.account.to_string();
    let now = st.login.store().now();
    match st
        .login
        .store()
        .meta()
        .revoke_app_password(&s.account, id, now, &actor)
        .await
    {
        Ok(app) => Ok(Json(json!({"status": "ok", "app_password": app}))),
        Err(_) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_app_password",
            "No such app password on your account.",
        )),
    }
}

// ---- messages held by data-leak prevention, for their senders

async fn my_hold(st: &AppState, s: &ApiSession, id: i64) -> Result<rampart_model::Hold, ApiError> {
    st.login
        .store()
        .meta()
        .hold(id)
        .await
        .map_err(|_| ApiError::internal())?
        .filter(|h| h.account == s.account)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_hold",
                "No such held message of yours.",
            )
        })
}

fn hold_json(h: &rampart_model::Hold) -> Value {
    json!({
        "id": h.id,
        "kind": h.kind,
        "status": h.status,
        "subject": h.subject,
        "recipients": h.recipients,
        "rule": h.rule,
        "findings": serde_json::from_str::<Value>(&h.findings).unwrap_or(Value::Null),
        "created_at": h.created_at,
        "expires_at": h.expires_at,
        "decided_at": h.decided_at,
    })
}

async fn list_holds(
    State(st): State<AppState>,
    Authed(s): Authed,
) -> Result<Json<Value>, ApiError> {
    let holds = st
        .login
        .store()
        .meta()
        .list_holds(Some(&s.account), None)
        .await
        .map_err(|_| ApiError::internal())?;
    Ok(Json(
        json!({"status": "ok", "holds": holds.iter().map(hold_json).collect::<Vec<_>>()}),
    ))
}

async fn show_hold(
    State(st): State<AppState>,
    Authed(s): Authed,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let h = my_hold(&st, &s, id).await?;
    Ok(Json(json!({"status": "ok", "hold": hold_json(&h)})))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ReleaseBody {
    /// A fresh TOTP code.
    #[serde(default)]
    code: Option<String>,
    /// An approval challenge this endpoint opened earlier, now approved from a trusted session.
    #[serde(default)]
    challenge: Option<String>,
}

/// The sender releases a message held for their verification: a TOTP code, a session that
/// itself passed a second factor, or an approval from one of their trusted sessions (without
/// either, this answers `202` with an approval challenge to approve elsewhere, then call again
/// with `{"challenge": id}`).
async fn release_hold(
    State(st): State<AppState>,
    Authed(s): Authed,
    Path(id): Path<i64>,
    ConnectInfo(crate::Peer(peer)): ConnectInfo<crate::Peer>,
    headers: HeaderMap,
    body: Option<Json<ReleaseBody>>,
) -> Result<Response, ApiError> {
    let h = my_hold(&st, &s, id).await?;
    if h.kind != rampart_model::HoldKind::Sender {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin_hold",
            "This message waits for an administrator's review.",
        ));
    }
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let reason = format!("hold:{id}");
    let verified = match (&body.code, &body.challenge) {
        (Some(code), _) => st
            .login
            .verify_totp(&s.account, code)
            .await
            .map_err(|_| ApiError::internal())?,
        (None, Some(challenge)) => {
            if !st
                .login
                .redeem_approval(&s.account, challenge, &reason)
                .await
                .map_err(|_| ApiError::internal())?
            {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "not_approved",
                    "That approval is not (yet) granted for this message; approve it from a trusted session first.",
                ));
            }
            true
        }
        (None, None) if s.mfa => true,
        (None, None) => {
            let challenge = st
                .login
                .request_approval(
                    &s.account,
                    peer.ip(),
                    user_agent(&headers).as_deref(),
                    &reason,
                )
                .await
                .map_err(|_| ApiError::internal())?;
            return Ok((
                StatusCode::ACCEPTED,
                Json(json!({
                    "status": "challenge",
                    "challenge": challenge_json(&challenge),
                    "message": "Send a fresh authenticator code as {\"code\": \"123456\"}, or approve this from a device where you are signed in and call again with {\"challenge\": \"<id>\"}.",
                })),
            )
                .into_response());
        }
    };
    if !verified {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "verification_required",
            "The code is wrong or was already used; send a fresh one from your authenticator app.",
        ));
    }
    let actor = s.account.to_string();
    if rampart_smtp::sending::is_sending_rule(&h.rule) {
        // Verified: the account's sending hold ends, and everything it held goes out.
        let store = st.login.store();
        return match rampart_smtp::sending::release_after_verification(
            store,
            &s.account,
            st.save_sent,
            &actor,
        )
        .await
        {
            Ok(n) => {
                let h = my_hold(&st, &s, id).await?;
                Ok(Json(json!({"status": "ok", "hold": hold_json(&h), "released": n, "sending": "resumed"}))
                    .into_response())
            }
            Err(_) => Err(ApiError::internal()),
        };
    }
    match rampart_smtp::hold::release(st.login.store(), id, st.save_sent, &actor).await {
        Ok(h) => Ok(Json(json!({"status": "ok", "hold": hold_json(&h)})).into_response()),
        Err(rampart_store::StoreError::Conflict(m)) => {
            Err(ApiError::new(StatusCode::GONE, "hold_closed", &m))
        }
        Err(_) => Err(ApiError::internal()),
    }
}

async fn cancel_hold(
    State(st): State<AppState>,
    Authed(s): Authed,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    my_hold(&st, &s, id).await?;
    let actor = s.account.to_string();
    match rampart_smtp::hold::reject(st.login.store(), &st.hostname, id, &actor).await {
        Ok(h) => Ok(Json(json!({"status": "ok", "hold": hold_json(&h)}))),
        Err(rampart_store::StoreError::Conflict(m)) => {
            Err(ApiError::new(StatusCode::GONE, "hold_closed", &m))
        }
        Err(_) => Err(ApiError::internal()),
    }
}

/// "This was not me": the sender reports a message held by sending control as not theirs. That
/// is a confirmed compromise signal: the account is contained at once (which also ends this
/// session) and administrators are alerted.
async fn report_hold(
    State(st): State<AppState>,
    Authed(s): Authed,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let h = my_hold(&st, &s, id).await?;
    if !rampart_smtp::sending::is_sending_rule(&h.rule) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "not_a_sending_hold",
            "Only messages held for unusual sending can be reported; cancel this one instead.",
        ));
    }
    let store = st.login.store();
    let actor = s.account.to_string();
    let reason = format!("the user reported held message {id} as not sent by them");
    let summary = store
        .meta()
        .contain_account(&s.account, &reason, store.now(), &actor)
        .await
        .map_err(|_| ApiError::internal())?;
    for held in store
        .meta()
        .list_holds(Some(&s.account), Some(rampart_model::HoldStatus::Held))
        .await
        .map_err(|_| ApiError::internal())?
    {
        if rampart_smtp::sending::is_sending_rule(&held.rule) {
            if let Err(e) = rampart_smtp::hold::reject(store, &st.hostname, held.id, &actor).await {
                tracing::warn!(hold = held.id, error = %e, "cannot reject a reported hold");
            }
        }
    }
    rampart_smtp::alerts::contained(
        &st.alerter,
        &s.account,
        &reason,
        &summary,
        &actor,
        store.now(),
    );
    Ok(Json(json!({
        "status": "ok",
        "contained": true,
        "summary": summary,
        "message": "Thank you. Your account is locked down: the held messages will not be sent, every session is signed out, and your security team has been alerted. They will reset your password.",
    })))
}
