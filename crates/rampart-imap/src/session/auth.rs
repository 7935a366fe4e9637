//! Getting in: STARTTLS, LOGIN and AUTHENTICATE PLAIN (RFC 4616, with SASL-IR), both only
//! under TLS, through the login flow every door shares ([`rampart_auth::login::Login`]).
//!
//! Outcomes map to RFC 5530 codes: bad credentials are `NO [AUTHENTICATIONFAILED]` after the
//! refusal's delay; a temporary refusal is `NO [UNAVAILABLE]`; a sign-in that needs approval
//! (IMAP cannot ask a question) is `NO [ALERT]` with the text that says where to approve, which
//! clients show to the user; a contained, disabled or reset-pending account is
//! `NO [CONTACTADMIN]` with its text.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use imap_codec::decode::Decoder;
use imap_codec::imap_types::auth::AuthMechanism;
use imap_codec::imap_types::core::{AString, Tag};
use imap_codec::imap_types::secret::Secret;
use imap_codec::AuthenticateDataCodec;
use rampart_auth::login::{LoginOutcome, LoginRequest};
use rampart_model::Protocol;

use super::framing::{self, LineRead};
use super::{respond, Flow, Session, User};
use respond::RespCode;

/// RFC 4954 §4 (which IMAP implementations follow): SASL lines of at least 12288 octets.
const MAX_SASL_LINE: usize = 12_288 + 2;

/// Failed logins on one connection before it is closed (the login flow itself slows and locks
/// brute force per account and address; this only ends a hopeless conversation).
const MAX_LOGIN_FAILURES: u32 = 3;

impl Session {
    pub(super) async fn starttls(&mut self, tag: &Tag<'_>) -> std::io::Result<Flow> {
        if self.tls {
            return Ok(self.bad(tag, "TLS is already active"));
        }
        if !self.conn.buffer().is_empty() {
            // Commands pipelined behind STARTTLS would cross into the TLS session (CVE-2011-0411
            // style injection). Refuse instead of guessing.
            tracing::warn!(peer = %self.peer, "data pipelined after STARTTLS; closing");
            self.bad(tag, "Command pipelined after STARTTLS");
            return Ok(Flow::Close);
        }
        self.ok(tag, None, "Begin TLS negotiation now");
        self.flush().await?;
        if !self.upgrade_tls().await {
            return Ok(Flow::Close);
        }
        Ok(Flow::Continue)
    }

    pub(super) async fn login(
        &mut self,
        tag: &Tag<'_>,
        username: AString<'_>,
        password: Secret<AString<'_>>,
    ) -> std::io::Result<Flow> {
        if !self.tls {
            return Ok(self.no(
                tag,
                Some(RespCode::ext("PRIVACYREQUIRED")),
                "LOGIN is only allowed under TLS; use STARTTLS first",
            ));
        }
        let user = String::from_utf8_lossy(username.as_ref()).into_owned();
        let Ok(secret) = std::str::from_utf8(password.declassify().as_ref()) else {
            return self.sign_in_failed(tag, Duration::ZERO).await;
        };
        let secret = secret.to_string();
        self.sign_in(tag, user, secret).await
    }

    pub(super) async fn authenticate(
        &mut self,
        tag: &Tag<'_>,
        mechanism: AuthMechanism<'_>,
        initial: Option<Secret<Cow<'_, [u8]>>>,
    ) -> std::io::Result<Flow> {
        if mechanism != AuthMechanism::Plain {
            return Ok(self.no(tag, None, "Unsupported mechanism; use PLAIN"));
        }
        if !self.tls {
            return Ok(self.no(
                tag,
                Some(RespCode::ext("PRIVACYREQUIRED")),
                "Authentication is only allowed under TLS; use STARTTLS first",
            ));
        }
        let data = match initial {
            Some(d) => d.declassify().to_vec(),
            None => {
                respond::continuation_sasl(&mut self.out);
                self.flush().await?;
                let mut line = Vec::new();
                let timeout = self.timeout();
                let read = tokio::time::timeout(
                    timeout,
                    framing::read_line(&mut self.conn, &mut line, MAX_SASL_LINE),
                )
                .await;
                match read {
                    Ok(Ok(LineRead::Complete)) => {}
                    Ok(Ok(LineRead::TooLong)) => {
                        return Ok(self.bad(tag, "Authentication data too long"))
                    }
                    Ok(Ok(LineRead::Eof)) | Err(_) => return Ok(Flow::Close),
                    Ok(Err(e)) => return Err(e),
                }
                if line == b"*\r\n" {
                    return Ok(self.bad(tag, "Authentication cancelled"));
                }
                match AuthenticateDataCodec::default().decode(&line) {
                    Ok(([], data)) => data.0.declassify().clone(),
                    _ => return Ok(self.bad(tag, "Authentication data is not base64")),
                }
            }
        };
        let Some((user, secret)) = split_plain(&data) else {
            return Ok(self.bad(tag, "Malformed PLAIN credentials"));
        };
        self.sign_in(tag, user, secret).await
    }

    async fn sign_in(
        &mut self,
        tag: &Tag<'_>,
        user: String,
        secret: String,
    ) -> std::io::Result<Flow> {
        let request = LoginRequest {
            user,
            secret,
            protocol: Protocol::Imap,
            ip: self.peer.ip(),
            user_agent: self.user_agent.clone(),
            device_id: None,
        };
        let login = std::sync::Arc::clone(&self.ctx.login);
        match login.login(&request).await {
            LoginOutcome::Allowed(grant) => {
                tracing::info!(peer = %self.peer, account = %grant.account.address, "IMAP login");
                self.user = Some(User {
                    account: grant.account.address,
                });
                self.account_checked = Instant::now();
                let code = self.capability_code();
                Ok(self.ok(tag, code, "Logged in"))
            }
            LoginOutcome::Refused(r) if r.temporary => {
                Ok(self.no(tag, Some(RespCode::ext("UNAVAILABLE")), &r.message))
            }
            LoginOutcome::Refused(r) => {
                tracing::info!(peer = %self.peer, code = %r.code, "IMAP login refused");
                let code = match r.code.as_str() {
                    "invalid_credentials" => return self.sign_in_failed(tag, r.delay).await,
                    "approval_required" | "step_up_required" => "ALERT",
                    "account_contained" | "account_disabled" | "password_reset_required" => {
                        "CONTACTADMIN"
                    }
                    _ => "AUTHENTICATIONFAILED",
                };
                if !r.delay.is_zero() {
                    tokio::time::sleep(r.delay).await;
                }
                self.no(tag, Some(RespCode::ext(code)), &r.message);
                Ok(self.count_login_failure())
            }
            LoginOutcome::Challenged { .. } => {
                // The login flow turns challenges into refusals for protocols that cannot ask;
                // this is only reached if that contract breaks.
                self.no(
                    tag,
                    Some(RespCode::ext("ALERT")),
                    "This sign-in needs approval",
                );
                Ok(self.count_login_failure())
            }
        }
    }

    async fn sign_in_failed(&mut self, tag: &Tag<'_>, delay: Duration) -> std::io::Result<Flow> {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        self.no(
            tag,
            Some(RespCode::ext("AUTHENTICATIONFAILED")),
            "Authentication failed",
        );
        Ok(self.count_login_failure())
    }

    fn count_login_failure(&mut self) -> Flow {
        self.login_failures += 1;
        if self.login_failures >= MAX_LOGIN_FAILURES {
            respond::bye(&mut self.out, None, "Too many failed logins");
            return Flow::Close;
        }
        Flow::Continue
    }
}

/// RFC 4616: `[authzid] NUL authcid NUL passwd`. An authorisation identity other than the
/// authentication one (acting as someone else) is refused.
fn split_plain(data: &[u8]) -> Option<(String, String)> {
    let mut parts = data.split(|&b| b == 0);
    let authz = parts.next()?;
    let authc = parts.next()?;
    let pass = parts.next()?;
    if parts.next().is_some() || authc.is_empty() {
        return None;
    }
    let authc = std::str::from_utf8(authc).ok()?;
    if !authz.is_empty() && authz != authc.as_bytes() {
        return None;
    }
    Some((
        authc.to_string(),
        std::str::from_utf8(pass).ok()?.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_credentials() {
        assert_eq!(
            split_plain(b"\0alice@example.com\0pw"),
            Some(("alice@example.com".into(), "pw".into()))
        );
        assert_eq!(
            split_plain(b"alice@example.com\0alice@example.com\0pw"),
            Some(("alice@example.com".into(), "pw".into()))
        );
        assert_eq!(split_plain(b"bob@example.com\0alice@example.com\0pw"), None);
        assert_eq!(split_plain(b"\0\0pw"), None);
        assert_eq!(split_plain(b"alice"), None);
        assert_eq!(split_plain(b"\0a\0b\0c"), None);
    }
}
