//! The login flow every door shares (SMTP AUTH, HTTP API, later IMAP and the web console):
//! credential check → risk engine → allow, challenge, deny or block the source → event, counters,
//! profile update.
//!
//! Profiles learn only from logins that were allowed without a challenge or were verified (TOTP,
//! approval). Every decision is an event carrying its reasons (`rampart login history`).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use rampart_model::{Account, EmailAddress, EventKind, PolicyRecord, Protocol, Timestamp};
use rampart_model::{
    ApiSession, AppPassword, Challenge, ChallengeKind, ChallengeStatus, Trust, TrustKind,
};
use rampart_risk::{
    AdminPolicy, Decision, EffectivePolicy, GeoDb, LoginAttempt, PolicyScope, Profile, RiskConfig,
    RiskDecision, RiskEngine,
};
use rampart_store::{Mailstore, StoreError};
use serde::Serialize;

use crate::secret::{digests_equal, public_id, AppPasswordSecret, SessionToken};
use crate::{AuthError, PasswordHasher, TotpSecret};

/// Tunables of the login flow (`[auth]` in the config file).
#[derive(Debug, Clone)]
pub struct LoginSettings {
    /// Shown in authenticator apps next to the code.
    pub issuer: String,
    /// Where users approve a sign-in that needs it; quoted in refusals to SMTP/IMAP clients.
    pub approve_url: String,
    pub session_ttl_secs: i64,
    pub challenge_ttl_secs: i64,
    /// How long an approved IP or device is trusted (no novelty challenges).
    pub trust_secs: i64,
    /// Wrong TOTP codes tolerated on one challenge before it is denied.
    pub max_totp_failures: u32,
}

impl LoginSettings {
    pub fn for_host(hostname: &str) -> Self {
        LoginSettings {
            issuer: format!("Rampart {hostname}"),
            approve_url: format!("https://{hostname}/approve"),
            session_ttl_secs: 8 * 3600,
            challenge_ttl_secs: 10 * 60,
            trust_secs: 30 * Timestamp::DAY,
            max_totp_failures: 5,
        }
    }
}

/// One attempt at any door.
#[derive(Debug, Clone)]
pub struct LoginRequest {
    pub user: String,
    pub secret: String,
    pub protocol: Protocol,
    pub ip: IpAddr,
    pub user_agent: Option<String>,
    pub device_id: Option<String>,
}

/// Which credential matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Via {
    Password,
    AppPassword { id: i64, name: String },
}

#[derive(Debug, Clone)]
pub struct Grant {
    pub account: Account,
    pub via: Via,
    pub decision: RiskDecision,
}

/// A login that was not let in, with a stable reason code and a text for the user.
#[derive(Debug, Clone, Serialize)]
pub struct Refusal {
    pub code: String,
    pub message: String,
    /// A temporary condition (busy, store trouble): the client may retry as it is.
    pub temporary: bool,
    #[serde(skip)]
    pub delay: Duration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<RiskDecision>,
    /// For SMTP/IMAP logins that need approval: the challenge the user approves elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge_id: Option<String>,
}

#[derive(Debug, Clone)]
pub enum LoginOutcome {
    Allowed(Grant),
    /// HTTP only: complete with a TOTP code or wait for approval from a trusted session.
    Challenged {
        challenge: Challenge,
        decision: RiskDecision,
    },
    Refused(Refusal),
}

/// A new API session; the token is shown once.
#[derive(Debug, Clone, Serialize)]
pub struct SessionGrant {
    pub token: String,
    pub session: ApiSession,
}

/// The shared login service.
pub struct Login {
    store: Mailstore,
    hasher: PasswordHasher,
    risk: Mutex<RiskEngine>,
    geo: GeoDb,
    settings: LoginSettings,
    totp_failures: Mutex<HashMap<String, u32>>,
    blocks_synced_at: Mutex<i64>,
}

/// How often the engine re-reads source blocks the CLI may have changed.
const BLOCK_SYNC_SECS: i64 = 5;

impl Login {
    pub fn new(
        store: Mailstore,
        hasher: PasswordHasher,
        risk: RiskConfig,
        geo: GeoDb,
        settings: LoginSettings,
    ) -> Self {
        Login {
            store,
            hasher,
            risk: Mutex::new(RiskEngine::new(risk)),
            geo,
            settings,
            totp_failures: Mutex::new(HashMap::new()),
            blocks_synced_at: Mutex::new(i64::MIN),
        }
    }

    pub fn settings(&self) -> &LoginSettings {
        &self.settings
    }

    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    pub fn store(&self) -> &Mailstore {
        &self.store
    }

    fn engine(&self) -> std::sync::MutexGuard<'_, RiskEngine> {
        self.risk.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks one attempt and decides. Never panics on odd input; store trouble is a temporary
    /// refusal. Callers wait `Refusal::delay` before answering a failure (progressive delay).
    pub async fn login(&self, req: &LoginRequest) -> LoginOutcome {
        match self.try_login(req).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(error = %e, protocol = %req.protocol, "login check failed");
                LoginOutcome::Refused(Refusal {
                    code: "temporary_failure".into(),
                    message: "The login service is busy; try again in a moment.".into(),
                    temporary: true,
                    delay: Duration::ZERO,
                    decision: None,
                    challenge_id: None,
                })
            }
        }
    }

    async fn try_login(&self, req: &LoginRequest) -> Result<LoginOutcome, LoginError> {
        let now = self.store.now();
        self.sync_blocks(now).await?;
        let address = req.user.trim().parse::<EmailAddress>().ok();
        let account = match &address {
            Some(a) => self.store.meta().account(a).await?,
            None => None,
        };
        let subject = address
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_else(|| req.user.chars().take(128).collect());
        let mut attempt = LoginAttempt {
            account: subject.clone(),
            protocol: req.protocol,
            ip: req.ip,
            user_agent: req.user_agent.clone(),
            device_id: req.device_id.clone(),
            at_ms: now.0 * 1000,
            credential_ok: false,
            geo: self.geo.lookup(req.ip),
            rtt_ms: None,
        };

        // A blocked source or a locked account+IP pair is refused before any hashing: the
        // attacker pays nothing, but neither do we.
        let pre = self.engine().precheck(&attempt);
        if let Some(decision) = pre {
            let outcome = self.refuse(&attempt, &subject, decision, None, now).await?;
            return Ok(outcome);
        }

        let via = self.check_credential(account.as_ref(), req).await?;
        attempt.credential_ok = via.is_some();
        let mut profile = match &account {
            Some(a) => self.profile(&a.address).await?,
            None => Profile::default(),
        };
        let policy = self.effective_policy(account.as_ref()).await?;
        let trusted = match &account {
            Some(a) => {
                self.store
                    .meta()
                    .is_trusted(
                        &a.address,
                        &req.ip.to_string(),
                        req.device_id.as_deref(),
                        now,
                    )
                    .await?
            }
            None => false,
        };
        let decision = self
            .engine()
            .assess(&attempt, &profile, &policy.effective, trusted);

        let (Some(account), Some(via)) = (account, via) else {
            self.engine()
                .record(&attempt, &decision, &mut profile, false);
            return self.refuse(&attempt, &subject, decision, None, now).await;
        };
        if account.disabled {
            let mut decision = decision;
            decision.action = Decision::Deny;
            decision.reasons.insert(
                0,
                rampart_risk::Reason {
                    code: "account_disabled".into(),
                    detail: "the account is disabled".into(),
                    weight: 0.0,
                },
            );
            return self.refuse(&attempt, &subject, decision, None, now).await;
        }
        // Containment and its aftermath outrank the risk score: a contained account signs in
        // nowhere; after release, the old password is dead until an administrator sets a new
        // one, and the first login must pass step-up whatever its risk.
        let hold = if account.contained_at.is_some() {
            Some((
                "account_contained",
                "the account is contained after a suspected compromise",
            ))
        } else if account.password_reset_required && via == Via::Password {
            Some((
                "password_reset_required",
                "the password must be reset by an administrator",
            ))
        } else {
            None
        };
        if let Some((code, detail)) = hold {
            let mut decision = decision;
            decision.action = Decision::Deny;
            decision.reasons.insert(
                0,
                rampart_risk::Reason {
                    code: code.into(),
                    detail: detail.into(),
                    weight: 0.0,
                },
            );
            return self.refuse(&attempt, &subject, decision, None, now).await;
        }
        let mut decision = decision;
        if account.step_up_required && decision.action == Decision::Allow {
            decision.action = Decision::Challenge;
            decision.reasons.insert(
                0,
                rampart_risk::Reason {
                    code: "step_up_required".into(),
                    detail: "the first sign-in after containment must be verified".into(),
                    weight: 0.0,
                },
            );
        }

        match decision.action {
            Decision::Allow => {
                self.engine()
                    .record(&attempt, &decision, &mut profile, false);
                self.save_profile(&account.address, &profile, now).await?;
                self.event(
                    EventKind::LoginAllowed,
                    &attempt,
                    &subject,
                    &decision,
                    Some(&via),
                )
                .await?;
                Ok(LoginOutcome::Allowed(Grant {
                    account,
                    via,
                    decision,
                }))
            }
            Decision::Challenge => {
                self.engine()
                    .record(&attempt, &decision, &mut profile, false);
                let has_totp = self
                    .store
                    .meta()
                    .totp(&account.address)
                    .await?
                    .is_some_and(|t| t.confirmed);
                let kind = if req.protocol.can_challenge() && has_totp {
                    ChallengeKind::Totp
                } else {
                    ChallengeKind::Approval
                };
                let challenge = self
                    .open_challenge(&account.address, kind, req, &decision, now)
                    .await?;
                if req.protocol.can_challenge() {
                    Ok(LoginOutcome::Challenged {
                        challenge,
                        decision,
                    })
                } else {
                    let message = format!(
                        "This sign-in from {} needs your approval. Approve it at {} (or in the Rampart app) from a device where you are signed in, then try again.",
                        req.ip, self.settings.approve_url
                    );
                    Ok(LoginOutcome::Refused(Refusal {
                        code: "approval_required".into(),
                        message,
                        temporary: false,
                        delay: Duration::ZERO,
                        decision: Some(decision),
                        challenge_id: Some(challenge.id),
                    }))
                }
            }
            Decision::Deny | Decision::BlockSource => {
                self.engine()
                    .record(&attempt, &decision, &mut profile, false);
                self.refuse(&attempt, &subject, decision, None, now).await
            }
        }
    }

    async fn refuse(
        &self,
        attempt: &LoginAttempt,
        subject: &str,
        decision: RiskDecision,
        challenge_id: Option<String>,
        now: Timestamp,
    ) -> Result<LoginOutcome, LoginError> {
        // A refusal because the source is already blocked adds no block of its own.
        let kind = if decision.action == Decision::BlockSource && !decision.has("source_blocked") {
            let net = source_net(attempt.ip);
            let expires = decision
                .retry_after_ms
                .map(|ms| Timestamp(now.0 + (ms / 1000) as i64 + 1));
            let reason = decision
                .reasons
                .first()
                .map(|r| r.code.clone())
                .unwrap_or_else(|| "risk".into());
            self.store
                .meta()
                .add_block(&net, &reason, expires, now, "risk-engine")
                .await?;
            EventKind::LoginBlocked
        } else if decision.action == Decision::BlockSource {
            EventKind::LoginBlocked
        } else {
            EventKind::LoginDenied
        };
        self.event(kind, attempt, subject, &decision, None).await?;
        let (code, message) = refusal_text(attempt, &decision);
        Ok(LoginOutcome::Refused(Refusal {
            code,
            message,
            temporary: false,
            delay: Duration::from_millis(decision.delay_ms),
            decision: Some(decision),
            challenge_id,
        }))
    }

    async fn check_credential(
        &self,
        account: Option<&Account>,
        req: &LoginRequest,
    ) -> Result<Option<Via>, LoginError> {
        if let (Some(account), Some(digest)) = (account, AppPasswordSecret::digest_of(&req.secret))
        {
            let candidates = self
                .store
                .meta()
                .active_app_password_hashes(&account.address)
                .await?;
            for (app, hash) in candidates {
                if digests_equal(&hash, &digest) {
                    if !app.protocols.contains(&req.protocol) {
                        tracing::info!(account = %account.address, app_password = app.id, protocol = %req.protocol, "app password used outside its scope");
                        return Ok(None);
                    }
                    let now = self.store.now();
                    self.store.meta().touch_app_password(app.id, now).await?;
                    return Ok(Some(Via::AppPassword {
                        id: app.id,
                        name: app.name,
                    }));
                }
            }
        }
        let stored = match account {
            Some(a) if a.has_password => self.store.meta().password_hash(&a.address).await?,
            _ => None,
        };
        let ok = self.hasher.verify(&req.secret, stored.as_deref()).await?;
        Ok(ok.then_some(Via::Password))
    }

    async fn profile(&self, account: &EmailAddress) -> Result<Profile, LoginError> {
        Ok(match self.store.meta().risk_profile(account).await? {
            Some(bytes) => Profile::from_bytes(&bytes).unwrap_or_else(|e| {
                tracing::warn!(%account, error = %e, "unreadable risk profile; starting a new one");
                Profile::default()
            }),
            None => Profile::default(),
        })
    }

    async fn save_profile(
        &self,
        account: &EmailAddress,
        profile: &Profile,
        now: Timestamp,
    ) -> Result<(), LoginError> {
        self.store
            .meta()
            .save_risk_profile(account, profile.to_bytes(), now)
            .await?;
        Ok(())
    }

    /// The policy layers that apply to `account` (org, its department, its level, itself) and
    /// their merge.
    pub async fn effective_policy(
        &self,
        account: Option<&Account>,
    ) -> Result<ExplainedPolicy, LoginError> {
        let records = self.store.meta().list_policies().await?;
        Ok(policy_for(&records, account))
    }

    async fn open_challenge(
        &self,
        account: &EmailAddress,
        kind: ChallengeKind,
        req: &LoginRequest,
        decision: &RiskDecision,
        now: Timestamp,
    ) -> Result<Challenge, LoginError> {
        let ip = req.ip.to_string();
        // A mail client retrying every minute must not pile up approvals: reuse the pending one.
        if kind == ChallengeKind::Approval {
            let pending = self.store.meta().pending_challenges(account, now).await?;
            if let Some(c) = pending
                .into_iter()
                .find(|c| c.kind == kind && c.ip == ip && c.protocol == req.protocol)
            {
                return Ok(c);
            }
        }
        let challenge = Challenge {
            id: public_id(),
            account: account.clone(),
            kind,
            protocol: req.protocol,
            ip,
            user_agent: req.user_agent.clone(),
            device_id: req.device_id.clone(),
            reasons: decision.reasons.iter().map(|r| r.code.clone()).collect(),
            status: ChallengeStatus::Pending,
            created_at: now,
            expires_at: Timestamp(now.0 + self.settings.challenge_ttl_secs),
            decided_at: None,
            decided_by: None,
        };
        self.store.meta().create_challenge(&challenge).await?;
        Ok(challenge)
    }

    /// A challenge by id (of `owner` only, when given: nobody learns of another's challenges).
    async fn load_challenge(
        &self,
        id: &str,
        owner: Option<&EmailAddress>,
    ) -> Result<Challenge, Refusal> {
        self.store
            .meta()
            .challenge(id)
            .await
            .map_err(store_refusal)?
            .filter(|c| owner.is_none_or(|o| *o == c.account))
            .ok_or_else(|| plain_refusal("unknown_challenge", "No such sign-in challenge."))
    }

    /// Finishes a TOTP challenge: a valid, unused code gives a session with `mfa = true`, trusts
    /// the IP and device, and teaches the profile.
    pub async fn complete_totp(
        &self,
        challenge_id: &str,
        code: &str,
    ) -> Result<SessionGrant, Refusal> {
        let now = self.store.now();
        let challenge = self.load_challenge(challenge_id, None).await?;
        if challenge.kind != ChallengeKind::Totp {
            return Err(plain_refusal(
                "wrong_challenge_kind",
                "This sign-in waits for approval, not a code.",
            ));
        }
        if challenge.status != ChallengeStatus::Pending || challenge.expires_at <= now {
            return Err(plain_refusal(
                "challenge_closed",
                "This sign-in challenge has expired or was already used; sign in again.",
            ));
        }
        let state = self
            .store
            .meta()
            .totp(&challenge.account)
            .await
            .map_err(store_refusal)?
            .filter(|t| t.confirmed)
            .ok_or_else(|| plain_refusal("totp_not_enrolled", "No authenticator is enrolled."))?;
        let secret = TotpSecret::from_bytes(state.secret).map_err(|_| {
            plain_refusal(
                "totp_not_enrolled",
                "The enrolled authenticator is unreadable; enrol again.",
            )
        })?;
        let step = secret.verify(code, now.0.max(0) as u64);
        let accepted = match step {
            Some(step) => self
                .store
                .meta()
                .use_totp_step(&challenge.account, step)
                .await
                .map_err(store_refusal)?,
            None => false,
        };
        if !accepted {
            let failures = {
                let mut map = self.totp_failures.lock().unwrap_or_else(|p| p.into_inner());
                let n = map.entry(challenge.id.clone()).or_insert(0);
                *n += 1;
                *n
            };
            if failures >= self.settings.max_totp_failures {
                let _ = self
                    .store
                    .meta()
                    .decide_challenge(&challenge.id, ChallengeStatus::Denied, now, "totp")
                    .await;
                return Err(plain_refusal(
                    "too_many_codes",
                    "Too many wrong codes; sign in again.",
                ));
            }
            return Err(plain_refusal(
                "invalid_code",
                "The code is wrong or was already used; wait for the next one.",
            ));
        }
        self.totp_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&challenge.id);
        self.store
            .meta()
            .decide_challenge(&challenge.id, ChallengeStatus::Approved, now, "totp")
            .await
            .map_err(store_refusal)?;
        self.verified(&challenge, now)
            .await
            .map_err(store_refusal)?;
        self.store
            .meta()
            .decide_challenge(&challenge.id, ChallengeStatus::Completed, now, "totp")
            .await
            .map_err(store_refusal)?;
        self.new_session(
            &challenge.account,
            &challenge.ip,
            challenge.user_agent.as_deref(),
            true,
        )
        .await
        .map_err(store_refusal)
    }

    /// A signed-in user approves or denies a pending sign-in of their own account.
    pub async fn decide(
        &self,
        approver: &ApiSession,
        challenge_id: &str,
        approve: bool,
    ) -> Result<Challenge, Refusal> {
        let now = self.store.now();
        let challenge = self
            .load_challenge(challenge_id, Some(&approver.account))
            .await?;
        let status = if approve {
            ChallengeStatus::Approved
        } else {
            ChallengeStatus::Denied
        };
        let by = format!("session:{}", approver.id);
        let decided = self
            .store
            .meta()
            .decide_challenge(&challenge.id, status, now, &by)
            .await
            .map_err(|e| match e {
                StoreError::ChallengeNotPending { .. } => plain_refusal(
                    "challenge_closed",
                    "This sign-in was already decided or has expired.",
                ),
                other => store_refusal(other),
            })?;
        if approve {
            self.verified(&decided, now).await.map_err(store_refusal)?;
        }
        Ok(decided)
    }

    /// For the HTTP client waiting on an approval: the challenge, and a session once approved
    /// (given once: the challenge then becomes `completed`).
    pub async fn poll(
        &self,
        challenge_id: &str,
    ) -> Result<(Challenge, Option<SessionGrant>), Refusal> {
        let now = self.store.now();
        let challenge = self.load_challenge(challenge_id, None).await?;
        if challenge.status != ChallengeStatus::Approved || !challenge.protocol.can_challenge() {
            return Ok((challenge, None));
        }
        let completed = self
            .store
            .meta()
            .decide_challenge(&challenge.id, ChallengeStatus::Completed, now, "poll")
            .await
            .map_err(store_refusal)?;
        let grant = self
            .new_session(
                &challenge.account,
                &challenge.ip,
                challenge.user_agent.as_deref(),
                true,
            )
            .await
            .map_err(store_refusal)?;
        Ok((completed, Some(grant)))
    }

    /// Trusts the challenge's IP and device for `trust_secs` and teaches the profile.
    async fn verified(&self, challenge: &Challenge, now: Timestamp) -> Result<(), LoginError> {
        let until = Timestamp(now.0 + self.settings.trust_secs);
        let mut trusts = vec![Trust {
            account: challenge.account.clone(),
            kind: TrustKind::Ip,
            value: challenge.ip.clone(),
            until,
        }];
        if let Some(device) = &challenge.device_id {
            trusts.push(Trust {
                account: challenge.account.clone(),
                kind: TrustKind::Device,
                value: device.clone(),
                until,
            });
        }
        for t in &trusts {
            self.store.meta().add_trust(t).await?;
        }
        self.store.meta().clear_step_up(&challenge.account).await?;
        let Ok(ip) = challenge.ip.parse::<IpAddr>() else {
            return Ok(());
        };
        let attempt = LoginAttempt {
            account: challenge.account.to_string(),
            protocol: challenge.protocol,
            ip,
            user_agent: challenge.user_agent.clone(),
            device_id: challenge.device_id.clone(),
            at_ms: now.0 * 1000,
            credential_ok: true,
            geo: self.geo.lookup(ip),
            rtt_ms: None,
        };
        let mut profile = self.profile(&challenge.account).await?;
        let decision = RiskDecision {
            action: Decision::Allow,
            score: 0.0,
            reasons: Vec::new(),
            delay_ms: 0,
            retry_after_ms: None,
        };
        self.engine()
            .record(&attempt, &decision, &mut profile, true);
        self.save_profile(&challenge.account, &profile, now).await
    }

    /// Opens an API session for an allowed login.
    pub async fn new_session(
        &self,
        account: &EmailAddress,
        ip: &str,
        user_agent: Option<&str>,
        mfa: bool,
    ) -> Result<SessionGrant, LoginError> {
        let now = self.store.now();
        let token = SessionToken::generate();
        let session = self
            .store
            .meta()
            .create_session(
                account,
                &token.digest(),
                Timestamp(now.0 + self.settings.session_ttl_secs),
                Some(ip),
                user_agent,
                mfa,
                now,
            )
            .await?;
        Ok(SessionGrant {
            token: token.0,
            session,
        })
    }

    /// The live session a bearer token names, if any.
    pub async fn session(&self, token: &str) -> Result<Option<ApiSession>, LoginError> {
        if !token.starts_with(SessionToken::PREFIX) || token.len() > 128 {
            return Ok(None);
        }
        let digest = crate::secret::digest(token);
        Ok(self
            .store
            .meta()
            .session_by_token_hash(&digest, self.store.now())
            .await?)
    }

    pub async fn logout(&self, session: &ApiSession) -> Result<(), LoginError> {
        let actor = session.account.to_string();
        self.store
            .meta()
            .revoke_session(session.id, self.store.now(), &actor)
            .await?;
        Ok(())
    }

    /// Starts TOTP enrolment: a new secret (not yet active) and its `otpauth://` URI.
    pub async fn begin_totp(
        &self,
        account: &EmailAddress,
    ) -> Result<(TotpSecret, String), LoginError> {
        let secret = TotpSecret::generate();
        let now = self.store.now();
        self.store
            .meta()
            .set_totp(account, secret.as_bytes(), false, now, account.as_str())
            .await?;
        let uri = secret.otpauth_uri(&self.settings.issuer, account.as_str());
        Ok((secret, uri))
    }

    /// Activates the pending secret once the user proves their app has it.
    pub async fn confirm_totp(
        &self,
        account: &EmailAddress,
        code: &str,
    ) -> Result<bool, LoginError> {
        let now = self.store.now();
        let Some(state) = self.store.meta().totp(account).await? else {
            return Ok(false);
        };
        let Ok(secret) = TotpSecret::from_bytes(state.secret) else {
            return Ok(false);
        };
        let Some(step) = secret.verify(code, now.0.max(0) as u64) else {
            return Ok(false);
        };
        Ok(self
            .store
            .meta()
            .confirm_totp(account, step, now, account.as_str())
            .await?)
    }

    /// Asks the user's trusted sessions to approve an action that needs a second factor (e.g.
    /// releasing a message held by DLP) when the user has no authenticator at hand. `reason` is
    /// recorded with the challenge (`hold:42`) so the approval is good for that action only.
    pub async fn request_approval(
        &self,
        account: &EmailAddress,
        ip: IpAddr,
        user_agent: Option<&str>,
        reason: &str,
    ) -> Result<Challenge, LoginError> {
        let now = self.store.now();
        let pending = self.store.meta().pending_challenges(account, now).await?;
        if let Some(c) = pending
            .into_iter()
            .find(|c| c.kind == ChallengeKind::Approval && c.reasons.iter().any(|r| r == reason))
        {
            return Ok(c);
        }
        let challenge = Challenge {
            id: public_id(),
            account: account.clone(),
            kind: ChallengeKind::Approval,
            protocol: Protocol::Http,
            ip: ip.to_string(),
            user_agent: user_agent.map(str::to_string),
            device_id: None,
            reasons: vec![reason.to_string()],
            status: ChallengeStatus::Pending,
            created_at: now,
            expires_at: Timestamp(now.0 + self.settings.challenge_ttl_secs),
            decided_at: None,
            decided_by: None,
        };
        self.store.meta().create_challenge(&challenge).await?;
        Ok(challenge)
    }

    /// Uses up an approved challenge that was requested for `reason` by `account`; `false` if it
    /// is not (yet) approved, is for something else, or belongs to someone else.
    pub async fn redeem_approval(
        &self,
        account: &EmailAddress,
        challenge_id: &str,
        reason: &str,
    ) -> Result<bool, LoginError> {
        let Some(c) = self.store.meta().challenge(challenge_id).await? else {
            return Ok(false);
        };
        if &c.account != account
            || c.status != ChallengeStatus::Approved
            || !c.reasons.iter().any(|r| r == reason)
        {
            return Ok(false);
        }
        match self
            .store
            .meta()
            .decide_challenge(
                challenge_id,
                ChallengeStatus::Completed,
                self.store.now(),
                "redeem",
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::ChallengeNotPending { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Checks a TOTP code of the account's confirmed authenticator and uses it up (a code works
    /// once). For step-up outside logins, e.g. releasing a message held by DLP.
    pub async fn verify_totp(
        &self,
        account: &EmailAddress,
        code: &str,
    ) -> Result<bool, LoginError> {
        let now = self.store.now();
        let Some(state) = self
            .store
            .meta()
            .totp(account)
            .await?
            .filter(|t| t.confirmed)
        else {
            return Ok(false);
        };
        let Ok(secret) = TotpSecret::from_bytes(state.secret) else {
            return Ok(false);
        };
        let Some(step) = secret.verify(code, now.0.max(0) as u64) else {
            return Ok(false);
        };
        Ok(self.store.meta().use_totp_step(account, step).await?)
    }

    /// A new app password; its secret is returned once and only its SHA-256 is kept.
    pub async fn create_app_password(
        &self,
        account: &EmailAddress,
        name: &str,
        protocols: &[Protocol],
        actor: &str,
    ) -> Result<(AppPassword, String), LoginError> {
        let secret = AppPasswordSecret::generate();
        let app = self
            .store
            .meta()
            .create_app_password(
                account,
                name,
                protocols,
                &secret.digest(),
                self.store.now(),
                actor,
            )
            .await?;
        Ok((app, secret.display))
    }

    /// Replaces the list of networks known for attacks (threat feeds); logins from them score
    /// higher.
    pub fn set_threat_ips(&self, nets: Vec<ipnet::IpNet>) {
        self.engine().set_threat_ips(nets);
    }

    /// The population statistics the risk engine learned (for a snapshot across restarts).
    pub fn population_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self.engine().population())
    }

    /// Restores a snapshot made by [`Login::population_json`].
    pub fn restore_population(&self, json: &[u8]) -> Result<(), serde_json::Error> {
        let population = serde_json::from_slice(json)?;
        self.engine().set_population(population);
        Ok(())
    }

    /// Re-reads source blocks (the CLI may have added or removed some) at most every few seconds.
    async fn sync_blocks(&self, now: Timestamp) -> Result<(), LoginError> {
        {
            let mut at = self
                .blocks_synced_at
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if now.0.saturating_sub(*at) < BLOCK_SYNC_SECS {
                return Ok(());
            }
            *at = now.0;
        }
        let blocks = self.store.meta().list_blocks(now).await?;
        let mut engine = self.engine();
        engine.replace_blocks(blocks.iter().filter_map(|b| {
            let net = b.cidr.parse().ok()?;
            Some((net, b.expires_at.map(|t| t.0 * 1000), b.reason.clone()))
        }));
        Ok(())
    }

    async fn event(
        &self,
        kind: EventKind,
        attempt: &LoginAttempt,
        subject: &str,
        decision: &RiskDecision,
        via: Option<&Via>,
    ) -> Result<(), LoginError> {
        let mut detail = BTreeMap::new();
        detail.insert("protocol".into(), attempt.protocol.to_string());
        detail.insert("ip".into(), attempt.ip.to_string());
        detail.insert("decision".into(), decision.action.as_str().to_string());
        detail.insert("score".into(), format!("{:.2}", decision.score));
        detail.insert(
            "reasons".into(),
            decision
                .reasons
                .iter()
                .map(|r| r.code.as_str())
                .collect::<Vec<_>>()
                .join(","),
        );
        if let Some(c) = &attempt.geo.country {
            detail.insert("country".into(), c.clone());
        }
        if let Some(asn) = attempt.geo.asn {
            detail.insert("asn".into(), asn.to_string());
        }
        if let Some(ua) = &attempt.user_agent {
            detail.insert("user_agent".into(), ua.chars().take(200).collect());
        }
        match via {
            Some(Via::Password) => {
                detail.insert("via".into(), "password".into());
            }
            Some(Via::AppPassword { id, name }) => {
                detail.insert("via".into(), format!("app_password:{id}:{name}"));
            }
            None => {}
        }
        let actor = attempt.protocol.as_str();
        self.store
            .meta()
            .record_event(kind, self.store.now(), actor, Some(subject), detail)
            .await?;
        Ok(())
    }
}

/// The layers of `records` that apply to `account` (all but org need an account), merged.
/// Unreadable layers are skipped with an error in the log; `rampart policy set` validates.
pub fn policy_for(records: &[PolicyRecord], account: Option<&Account>) -> ExplainedPolicy {
    let mut layers = Vec::new();
    for r in records {
        let scope = match r.scope_kind.as_str() {
            "org" => Some(PolicyScope::Org),
            "department"
                if account
                    .and_then(|a| a.department.as_deref())
                    .is_some_and(|d| d.eq_ignore_ascii_case(&r.scope_value)) =>
            {
                Some(PolicyScope::Department(r.scope_value.clone()))
            }
            "level"
                if account
                    .and_then(|a| a.level.as_deref())
                    .is_some_and(|l| l.eq_ignore_ascii_case(&r.scope_value)) =>
            {
                Some(PolicyScope::Level(r.scope_value.clone()))
            }
            "user" if account.is_some_and(|a| a.address.as_str() == r.scope_value) => {
                Some(PolicyScope::User(r.scope_value.clone()))
            }
            _ => None,
        };
        let Some(scope) = scope else { continue };
        match serde_json::from_str::<AdminPolicy>(&r.policy_json) {
            Ok(p) => layers.push((scope, p)),
            Err(e) => {
                tracing::error!(scope = %r.scope_kind, value = %r.scope_value, error = %e, "unreadable login policy skipped")
            }
        }
    }
    layers.sort_by_key(|(s, _)| scope_rank(s));
    let effective = EffectivePolicy::merge(&layers);
    ExplainedPolicy { layers, effective }
}

/// Policy layers in the order they apply, and what they add up to.
#[derive(Debug, Clone)]
pub struct ExplainedPolicy {
    pub layers: Vec<(PolicyScope, AdminPolicy)>,
    pub effective: EffectivePolicy,
}

fn scope_rank(s: &PolicyScope) -> u8 {
    match s {
        PolicyScope::Org => 0,
        PolicyScope::Department(_) => 1,
        PolicyScope::Level(_) => 2,
        PolicyScope::User(_) => 3,
    }
}

/// The block a source earns: the address itself (an IPv6 host gets its /64).
fn source_net(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}/32"),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

fn refusal_text(attempt: &LoginAttempt, decision: &RiskDecision) -> (String, String) {
    let top = decision.reasons.first();
    let code = match (attempt.credential_ok, top) {
        (_, Some(r))
            if matches!(
                r.code.as_str(),
                "account_disabled" | "account_contained" | "password_reset_required"
            ) =>
        {
            r.code.clone()
        }
        (false, _)
            if decision.action != Decision::BlockSource
                && !decision
                    .reasons
                    .iter()
                    .any(|r| r.code == "account_ip_locked" || r.code == "source_blocked") =>
        {
            "invalid_credentials".to_string()
        }
        (_, Some(r)) => r.code.clone(),
        (_, None) => "denied".to_string(),
    };
    let message = match code.as_str() {
        "invalid_credentials" => "Wrong address or password.".to_string(),
        "account_disabled" => "This account is disabled; ask your administrator.".to_string(),
        "account_contained" => {
            "This account is locked down after a suspected compromise; contact your security team.".to_string()
        }
        "password_reset_required" => {
            "Your password must be reset before you can sign in; ask your administrator for a new one.".to_string()
        }
        _ => match top {
            Some(r) => format!("Sign-in refused: {}.", r.detail),
            None => "Sign-in refused.".to_string(),
        },
    };
    (code, message)
}

fn plain_refusal(code: &str, message: &str) -> Refusal {
    Refusal {
        code: code.into(),
        message: message.into(),
        temporary: false,
        delay: Duration::ZERO,
        decision: None,
        challenge_id: None,
    }
}

fn store_refusal(e: impl std::fmt::Display) -> Refusal {
    tracing::error!(error = %e, "login store operation failed");
    Refusal {
        code: "temporary_failure".into(),
        message: "The login service is busy; try again in a moment.".into(),
        temporary: true,
        delay: Duration::ZERO,
        decision: None,
        challenge_id: None,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Auth(#[from] AuthError),
}
