//! The submission half of a session: AUTH (RFC 4954: PLAIN and LOGIN, only under TLS) and the
//! hand-off of an authenticated user's message: local recipients are delivered through the
//! content pipeline, remote ones queued durably for outbound delivery, and a copy kept in `Sent`.

use std::sync::Arc;

use bytes::Bytes;
use data_encoding::BASE64;
use rampart_auth::login::{LoginOutcome, LoginRequest};
use rampart_model::{Action, Direction, EmailAddress, EventKind, Flag, Folder, Protocol};
use rampart_store::NewMessage;

use rampart_model::{HoldKind, NewHold, Timestamp};
use rampart_scan::dlp::{DlpAction, DlpVerdict};

use super::{queue_id, Authed, Flow, Session, Transaction};
use crate::hold;
use crate::io::{read_line, LineEnd};
use crate::message::{author_addresses, summarize};
use crate::sending::{Gate, Outgoing};

/// RFC 4954 §4: a server must accept AUTH lines of at least 12288 octets.
const MAX_AUTH_LINE: usize = 12_288 + 2;

enum Response {
    Line(Vec<u8>),
    Cancelled,
    Gone,
}

impl Session {
    pub(super) async fn auth(
        &mut self,
        mechanism: String,
        initial: Option<String>,
    ) -> std::io::Result<Flow> {
        let Some(submission) = self.ctx.submission.as_ref() else {
            self.reply(
                "503 5.5.1 Error: authentication is not offered on this port; use submission",
            );
            return Ok(self.count_error());
        };
        let login = Arc::clone(&submission.login);
        if self.helo.is_none() {
            self.reply("503 5.5.1 Error: send EHLO first");
            return Ok(self.count_error());
        }
        if self.tls.is_none() {
            self.reply("538 5.7.11 Error: encryption required; use STARTTLS first");
            return Ok(self.count_error());
        }
        if self.authed.is_some() {
            self.reply("503 5.5.1 Error: already authenticated");
            return Ok(self.count_error());
        }
        if self.tx.is_some() {
            self.reply("503 5.5.1 Error: AUTH is not allowed during a mail transaction");
            return Ok(self.count_error());
        }
        let credentials = match mechanism.as_str() {
            "PLAIN" => {
                let response = match initial {
                    Some(i) => Response::Line(i.into_bytes()),
                    None => self.ask("334 ").await?,
                };
                match response {
                    Response::Line(l) => decode(&l).and_then(|b| split_plain(&b)),
                    Response::Cancelled => return Ok(self.cancelled()),
                    Response::Gone => return Ok(Flow::Close),
                }
            }
            "LOGIN" => {
                let user = match initial {
                    Some(i) => Response::Line(i.into_bytes()),
                    // base64("Username:")
                    None => self.ask("334 VXNlcm5hbWU6").await?,
                };
                let user = match user {
                    Response::Line(l) => decode(&l),
                    Response::Cancelled => return Ok(self.cancelled()),
                    Response::Gone => return Ok(Flow::Close),
                };
                // base64("Password:")
                let pass = match self.ask("334 UGFzc3dvcmQ6").await? {
                    Response::Line(l) => decode(&l),
                    Response::Cancelled => return Ok(self.cancelled()),
                    Response::Gone => return Ok(Flow::Close),
                };
                match (user, pass) {
                    (Some(u), Some(p)) => match (String::from_utf8(u), String::from_utf8(p)) {
                        (Ok(u), Ok(p)) => Some((u, p)),
                        _ => None,
                    },
                    _ => None,
                }
            }
            _ => {
                self.reply(
                    "504 5.5.4 Error: unsupported authentication mechanism; use PLAIN or LOGIN",
                );
                return Ok(self.count_error());
            }
        };
        let Some((user, secret)) = credentials else {
            self.reply("501 5.5.2 Error: cannot decode the authentication response");
            return Ok(self.count_error());
        };
        let request = LoginRequest {
            user,
            secret,
            protocol: Protocol::Smtp,
            ip: self.peer.ip(),
            user_agent: self.helo.clone().map(|h| format!("smtp-client ehlo={h}")),
            device_id: None,
        };
        match login.login(&request).await {
            LoginOutcome::Allowed(grant) => {
                let addresses = own_addresses(self.ctx.store.clone(), &grant.account.address).await;
                tracing::info!(peer = %self.peer, account = %grant.account.address, "authenticated");
                self.authed = Some(Authed {
                    account: grant.account.address,
                    addresses,
                    department: grant.account.department,
                    level: grant.account.level,
                });
                self.reply("235 2.7.0 Authentication successful");
                Ok(Flow::Continue)
            }
            LoginOutcome::Refused(r) if r.temporary => {
                self.reply(&format!("454 4.7.0 Error: {}", one_line(&r.message)));
                Ok(Flow::Continue)
            }
            LoginOutcome::Refused(r) => {
                if !r.delay.is_zero() {
                    tokio::time::sleep(r.delay).await;
                }
                tracing::info!(peer = %self.peer, code = %r.code, "authentication refused");
                let text = if r.code == "invalid_credentials" {
                    "authentication credentials invalid".to_string()
                } else {
                    one_line(&r.message)
                };
                self.reply(&format!("535 5.7.8 Error: {text}"));
                Ok(self.count_error())
            }
            LoginOutcome::Challenged { .. } => {
                // SMTP cannot ask a question; the login layer turns challenges into refusals for
                // such protocols, so this is only reached if that contract breaks.
                self.reply("535 5.7.8 Error: this sign-in needs approval");
                Ok(self.count_error())
            }
        }
    }

    /// Refuses the message with the rule's tip; nothing is stored.
    async fn dlp_block(&mut self, id: &str, authed: &Authed, dlp: &DlpVerdict) {
        tracing::warn!(peer = %self.peer, queue_id = %id, account = %authed.account, rule = ?dlp.rule, "DLP blocked a message");
        let store = &self.ctx.store;
        dlp_event(store, EventKind::DlpBlocked, id, &authed.account, dlp).await;
        dlp_alert(store, self.alerter(), id, &authed.account, dlp).await;
        let tip = one_line(
            dlp.tip
                .as_deref()
                .unwrap_or("the message carries data that may not leave by mail"),
        );
        self.reply(&format!(
            "550 5.7.1 Error: blocked by data-leak policy {}: {tip} ({id})",
            dlp.rule.as_deref().unwrap_or("dlp")
        ));
    }

    /// Holds the message for DLP until the sender verifies (or an administrator decides).
    #[allow(clippy::too_many_arguments)]
    async fn dlp_hold(
        &mut self,
        id: &str,
        authed: &Authed,
        tx: &Transaction,
        from: &str,
        subject: &str,
        raw: Vec<u8>,
        dlp: &DlpVerdict,
    ) {
        let kind = if dlp.action == DlpAction::HoldSender {
            HoldKind::Sender
        } else {
            HoldKind::Admin
        };
        let held = HeldFor {
            kind,
            rule: dlp.rule.clone().unwrap_or_else(|| "dlp".into()),
            findings: dlp.findings_json(),
            why: dlp.tip.clone().unwrap_or_default(),
            found: Some(describe(dlp)),
        };
        if self
            .hold_message(id, authed, tx, from, subject, raw, held)
            .await
        {
            dlp_alert(&self.ctx.store, self.alerter(), id, &authed.account, dlp).await;
        }
    }

    /// Holds the message until the sender verifies (or an administrator decides): `250`, because
    /// it is durably held, with where to verify, and a notice in the sender's inbox. Returns
    /// whether it was held.
    #[allow(clippy::too_many_arguments)]
    async fn hold_message(
        &mut self,
        id: &str,
        authed: &Authed,
        tx: &Transaction,
        from: &str,
        subject: &str,
        raw: Vec<u8>,
        why: HeldFor,
    ) -> bool {
        let Some(submission) = self.ctx.submission.as_ref() else {
            return false;
        };
        let (hold_minutes, verify_url) = (submission.hold_minutes, submission.verify_url.clone());
        let kind = why.kind;
        let store = self.ctx.store.clone();
        let now = store.now();
        let new = NewHold {
            kind,
            account: authed.account.clone(),
            mail_from: from.to_string(),
            recipients: tx.rcpt_addresses.clone(),
            blob: rampart_model::BlobId(String::new()),
            size: 0,
            subject: subject.chars().take(200).collect(),
            rule: why.rule.clone(),
            findings: why.findings.clone(),
            expires_at: (kind == HoldKind::Sender)
                .then(|| Timestamp(now.0 + (hold_minutes.max(1) as i64) * 60)),
        };
        let held = match store
            .hold_outbound(Bytes::from(raw), new, authed.account.as_str())
            .await
        {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(queue_id = %id, error = %e, "could not hold the message");
                self.reply("451 4.3.0 Error: could not store the message, try again later");
                return false;
            }
        };
        tracing::info!(peer = %self.peer, queue_id = %id, hold = held.id, kind = %kind, rule = %held.rule, "message held");
        let tip = why.why.as_str();
        let (how, reply) = match kind {
            HoldKind::Sender => (
                format!(
                    "To send it, verify within {} hours at {verify_url} (hold {}), or let it expire and it comes back to you unsent.",
                    hold_minutes.max(1).div_ceil(60),
                    held.id
                ),
                format!(
                    "250 2.0.0 Ok: held as {id} until you verify (hold {}): {}",
                    held.id,
                    one_line(tip)
                ),
            ),
            HoldKind::Admin => (
                "An administrator will review it; you will hear back either way.".to_string(),
                format!("250 2.0.0 Ok: held as {id} for review (hold {})", held.id),
            ),
        };
        let found = why
            .found
            .as_deref()
            .map(|f| format!("Found:\n{f}\n"))
            .unwrap_or_default();
        let body = format!(
            "Your message \"{subject}\" is held and has not been sent.\n\nWhy: {tip}\nPolicy: {}\n{found}\n{how}\n",
            held.rule,
        );
        if let Err(e) = hold::deliver_notice(
            &store,
            &self.ctx.hostname,
            &authed.account,
            &format!("Held: {subject}"),
            &body,
        )
        .await
        {
            tracing::warn!(error = %e, "cannot file the hold notice");
        }
        self.reply(&reply);
        true
    }

    fn alerter(&self) -> Option<&rampart_alert::Alerter> {
        self.ctx
            .submission
            .as_ref()?
            .sending
            .as_ref()
            .map(|g| g.alerter())
    }

    /// The per-message recipient limit for the signed-in account, if sending control is on.
    pub(super) fn recipient_limit(&self) -> Option<u32> {
        let authed = self.authed.as_ref()?;
        let guard = self.ctx.submission.as_ref()?.sending.as_ref()?;
        guard.recipient_limit(
            authed.account.as_str(),
            authed.department.as_deref(),
            authed.level.as_deref(),
        )
    }

    /// Asks sending control about the current transaction (and counts it when it may go).
    pub(super) async fn sending_gate(&mut self) -> Gate {
        let (Some(authed), Some(tx)) = (self.authed.as_ref(), self.tx.as_mut()) else {
            return Gate::Pass;
        };
        let Some(guard) = self.ctx.submission.as_ref().and_then(|s| s.sending.clone()) else {
            return Gate::Pass;
        };
        let id = tx.id.get_or_insert_with(queue_id).clone();
        let out = Outgoing {
            account: &authed.account,
            department: authed.department.as_deref(),
            level: authed.level.as_deref(),
            recipients: &tx.rcpt_addresses,
            external: tx.remote.len(),
            ip: self.peer.ip(),
            queue_id: &id,
        };
        guard.gate(&out).await
    }

    /// Replies to a refusal from sending control; `true` when the message may be received.
    pub(super) fn gate_allows(&mut self, gate: &Gate) -> bool {
        match gate {
            Gate::Pass | Gate::Hold { .. } => true,
            Gate::Defer(why) => {
                tracing::info!(peer = %self.peer, why = %why, "sending deferred");
                self.reply(&format!("451 4.7.1 Error: {}", one_line(why)));
                false
            }
            Gate::Reject(why) => {
                tracing::info!(peer = %self.peer, why = %why, "sending refused");
                self.reply(&format!("550 5.7.1 Error: {}", one_line(why)));
                false
            }
        }
    }

    fn cancelled(&mut self) -> Flow {
        self.reply("501 5.7.0 Error: authentication cancelled");
        self.count_error()
    }

    /// Sends a `334` continuation and reads the client's answer line.
    async fn ask(&mut self, prompt: &str) -> std::io::Result<Response> {
        self.reply(prompt);
        self.flush(true).await?;
        let mut line = Vec::new();
        let read = tokio::time::timeout(
            self.idle(),
            read_line(&mut self.conn, &mut line, MAX_AUTH_LINE),
        )
        .await;
        let Ok(read) = read else {
            return Ok(Response::Gone);
        };
        let read = read?;
        if read.end != LineEnd::CrLf || read.too_long {
            return Ok(Response::Gone);
        }
        if line == b"*" {
            return Ok(Response::Cancelled);
        }
        Ok(Response::Line(line))
    }

    /// Accepts an authenticated user's message: checks the From header, runs the outbound
    /// pipeline, then delivers locally, queues remote recipients and files the `Sent` copy.
    /// `250` only after all of it is durable.
    pub(super) async fn submit(&mut self, body: Vec<u8>, mut tx: Transaction, authed: Authed) {
        let gate = match tx.gate.take() {
            Some(g) => g,
            None => {
                // BDAT: sending control decides now that the whole message is here.
                self.tx = Some(tx);
                let g = self.sending_gate().await;
                tx = self.tx.take().unwrap_or_default();
                if !self.gate_allows(&g) {
                    return;
                }
                g
            }
        };
        let id = tx.id.clone().unwrap_or_else(queue_id);
        let authors = author_addresses(&body);
        let Some(authors) = authors else {
            self.reply("550 5.6.0 Error: the message has no From header");
            return;
        };
        if let Some(bad) = authors.iter().find(|a| {
            !authed
                .addresses
                .iter()
                .any(|own| own.as_str() == a.as_str())
        }) {
            tracing::info!(peer = %self.peer, account = %authed.account, from = %bad, "From header not owned");
            self.reply(&format!(
                "550 5.7.1 Error: the From header names <{bad}>, which is not one of your addresses"
            ));
            return;
        }
        let from = tx.from.as_ref().map(|a| a.to_string()).unwrap_or_default();
        let header = self.trace_header(&tx, &id);
        let summary = summarize(&body);
        let summary_subject = summary.subject.clone();
        let mut local_folder = Folder::Inbox;
        let mut notify: Option<DlpVerdict> = None;
        let mut raw = match self.ctx.scanner.clone() {
            None => body,
            Some(scanner) => {
                let envelope = self.envelope(&tx, Direction::Outbound, Some(&authed));
                let Some((report, body)) = self.scan_isolated(&scanner, body, envelope, &id).await
                else {
                    return;
                };
                tracing::info!(peer = %self.peer, queue_id = %id, account = %authed.account, action = %report.action, score = report.score, "outbound scanned");
                let mut everyone = tx.accounts.clone();
                everyone.extend(tx.remote.iter().cloned());
                if report.action == Action::Reject {
                    self.reject(&id, &from, &everyone, &report).await;
                    return;
                }
                if let Some(dlp) = report.dlp.clone() {
                    match dlp.action {
                        DlpAction::Block => {
                            self.dlp_block(&id, &authed, &dlp).await;
                            return;
                        }
                        DlpAction::HoldSender | DlpAction::HoldAdmin => {
                            let mut raw = scanner.apply(&report, &body);
                            raw.splice(0..0, header.into_bytes());
                            self.dlp_hold(&id, &authed, &tx, &from, &summary.subject, raw, &dlp)
                                .await;
                            return;
                        }
                        DlpAction::Notify => notify = Some(dlp),
                        DlpAction::Allow => {}
                    }
                }
                match report.action {
                    Action::Reject => unreachable!("handled above"),
                    Action::Hold | Action::Quarantine => {
                        let mut raw = body;
                        raw.splice(0..0, header.into_bytes());
                        let report_json =
                            serde_json::to_string(&report).unwrap_or_else(|_| "{}".into());
                        let held = self
                            .ctx
                            .store
                            .quarantine(
                                NewMessage {
                                    raw: Bytes::from(raw),
                                    summary,
                                },
                                &everyone,
                                Direction::Outbound,
                                &from,
                                report.score,
                                report_json,
                                authed.account.as_str(),
                            )
                            .await;
                        match held {
                            Ok(entry) => self.reply(&format!(
                                "250 2.0.0 Ok: held for review as {id} (quarantine {})",
                                entry.id
                            )),
                            Err(e) => {
                                tracing::error!(error = %e, "could not hold outbound message");
                                self.reply(
                                    "451 4.3.0 Error: could not store the message, try again later",
                                );
                            }
                        }
                        return;
                    }
                    Action::Junk => local_folder = Folder::Junk,
                    Action::Accept | Action::Tag => {}
                }
                scanner.apply(&report, &body)
            }
        };
        raw.splice(0..0, header.into_bytes());
        if let Gate::Hold { rule, reason } = gate {
            let held = HeldFor {
                kind: HoldKind::Sender,
                rule: rule.to_string(),
                findings: serde_json::json!([{"entity": "sending", "reason": reason}]).to_string(),
                why: reason,
                found: None,
            };
            self.hold_message(&id, &authed, &tx, &from, &summary_subject, raw, held)
                .await;
            return;
        }
        let raw = Bytes::from(raw);
        let actor = authed.account.to_string();
        let store = &self.ctx.store;
        // Local copies, the queue and the Sent copy share one blob, so the archive journals the
        // message once, as sent by this account to every recipient.
        let journal =
            rampart_model::Journal::outbound(&from, &tx.rcpt_addresses, authed.account.as_str());
        let mut result = Ok(());
        if !tx.accounts.is_empty() {
            let message = NewMessage {
                raw: raw.clone(),
                summary: summary.clone(),
            };
            result = store
                .deliver_journaled(
                    message,
                    &tx.accounts,
                    local_folder,
                    &[],
                    journal.clone(),
                    &actor,
                )
                .await
                .map(|_| ());
        }
        if result.is_ok() && !tx.remote.is_empty() {
            result = store
                .enqueue_outbound(raw.clone(), &from, &tx.remote, &id, &actor)
                .await
                .map(|_| ());
            if let Some(wake) = self
                .ctx
                .submission
                .as_ref()
                .and_then(|s| s.outbound.as_ref())
            {
                wake.notify_one();
            }
        }
        let save_sent = self.ctx.submission.as_ref().is_some_and(|s| s.save_sent);
        if result.is_ok() && save_sent {
            let message = NewMessage {
                raw: raw.clone(),
                summary,
            };
            result = store
                .deliver_journaled(
                    message,
                    std::slice::from_ref(&authed.account),
                    Folder::Sent,
                    &[Flag::Seen],
                    journal,
                    &actor,
                )
                .await
                .map(|_| ());
        }
        if let Err(e) = result {
            tracing::error!(peer = %self.peer, queue_id = %id, error = %e, "could not store submitted message");
            self.reply("451 4.3.0 Error: could not store the message, try again later");
            return;
        }
        let detail = [
            ("queue_id".to_string(), id.clone()),
            ("from".to_string(), from.clone()),
            ("local".to_string(), tx.accounts.len().to_string()),
            ("remote".to_string(), tx.remote.len().to_string()),
            ("size".to_string(), raw.len().to_string()),
        ]
        .into_iter()
        .collect();
        if let Err(e) = store
            .meta()
            .record_event(
                EventKind::MessageSubmitted,
                store.now(),
                &actor,
                Some(&actor),
                detail,
            )
            .await
        {
            tracing::error!(error = %e, "could not record the submission");
        }
        tracing::info!(peer = %self.peer, queue_id = %id, account = %authed.account, local = tx.accounts.len(), remote = tx.remote.len(), "message submitted");
        if let Some(dlp) = notify {
            let body = format!(
                "Your message \"{}\" was sent. It contains data the policy \"{}\" watches:\n\n{}\n{}\n",
                summary_subject,
                dlp.rule.as_deref().unwrap_or("dlp"),
                describe(&dlp),
                dlp.tip.as_deref().unwrap_or("")
            );
            let subject = format!("Sent with sensitive data: {summary_subject}");
            if let Err(e) =
                hold::deliver_notice(store, &self.ctx.hostname, &authed.account, &subject, &body)
                    .await
            {
                tracing::warn!(error = %e, "cannot file the DLP notice");
            }
            dlp_event(store, EventKind::DlpNotified, &id, &authed.account, &dlp).await;
        }
        self.reply(&format!("250 2.0.0 Ok: queued as {id}"));
    }
}

/// Why a message is held, for the hold record and the sender's notice.
struct HeldFor {
    kind: HoldKind,
    rule: String,
    findings: String,
    /// One line for the sender.
    why: String,
    /// What was found, one line per entity (DLP).
    found: Option<String>,
}

/// The account's own address and every alias that delivers to it.
async fn own_addresses(
    store: rampart_store::Mailstore,
    account: &EmailAddress,
) -> Vec<EmailAddress> {
    let mut out = vec![account.clone()];
    match store.meta().list_aliases().await {
        Ok(aliases) => out.extend(
            aliases
                .into_iter()
                .filter(|a| a.targets.contains(account))
                .map(|a| a.address),
        ),
        Err(e) => tracing::error!(error = %e, "cannot list aliases"),
    }
    out
}

/// Logs an alert and records it as an event, when a matching rule asks for alerts.
async fn dlp_alert(
    store: &rampart_store::Mailstore,
    alerter: Option<&rampart_alert::Alerter>,
    id: &str,
    account: &EmailAddress,
    dlp: &DlpVerdict,
) {
    if dlp.alert {
        tracing::error!(queue_id = %id, %account, rule = ?dlp.rule, findings = %dlp.findings_json(), "DLP alert");
        dlp_event(store, EventKind::DlpAlert, id, account, dlp).await;
        if let Some(alerter) = alerter {
            let rule = dlp.rule.clone().unwrap_or_else(|| "dlp".into());
            let findings: serde_json::Value =
                serde_json::from_str(&dlp.findings_json()).unwrap_or_default();
            alerter.raise(
                rampart_alert::Alert::new(
                    "dlp_alert",
                    rampart_alert::Severity::Warning,
                    format!("{account}: data-leak rule {rule} ({}) on {id}", dlp.action),
                    store.now().0 * 1000,
                )
                .account(account.as_str())
                .details(serde_json::json!({"queue_id": id, "rule": rule, "action": dlp.action.to_string(), "findings": findings})),
            );
        }
    }
}

async fn dlp_event(
    store: &rampart_store::Mailstore,
    kind: EventKind,
    id: &str,
    account: &EmailAddress,
    dlp: &DlpVerdict,
) {
    let detail = [
        ("queue_id".to_string(), id.to_string()),
        ("rule".to_string(), dlp.rule.clone().unwrap_or_default()),
        ("action".to_string(), dlp.action.to_string()),
        ("findings".to_string(), dlp.findings_json()),
    ]
    .into_iter()
    .collect();
    if let Err(e) = store
        .meta()
        .record_event(
            kind,
            store.now(),
            account.as_str(),
            Some(account.as_str()),
            detail,
        )
        .await
    {
        tracing::error!(error = %e, "could not record the DLP event");
    }
}

/// The findings for people: one line per entity, masked.
fn describe(dlp: &DlpVerdict) -> String {
    dlp.findings
        .iter()
        .map(|f| {
            format!(
                "- {} × {} ({} confidence): {}",
                f.count,
                f.entity,
                f.confidence,
                f.examples.join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn decode(line: &[u8]) -> Option<Vec<u8>> {
    if line == b"=" {
        return Some(Vec::new());
    }
    BASE64.decode(line).ok()
}

/// `authzid NUL authcid NUL passwd` (RFC 4616); acting as someone else is not supported.
fn split_plain(raw: &[u8]) -> Option<(String, String)> {
    let mut parts = raw.splitn(3, |b| *b == 0);
    let authz = parts.next()?;
    let authc = std::str::from_utf8(parts.next()?).ok()?;
    let pass = std::str::from_utf8(parts.next()?).ok()?;
    if !authz.is_empty() && !authz.eq_ignore_ascii_case(authc.as_bytes()) {
        return None;
    }
    if authc.is_empty() || pass.is_empty() {
        return None;
    }
    Some((authc.to_string(), pass.to_string()))
}

fn one_line(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(400).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_responses_split_and_refuse_proxy_logins() {
        assert_eq!(
            split_plain(b"\0alice@example.com\0secret pass"),
            Some(("alice@example.com".into(), "secret pass".into()))
        );
        assert_eq!(
            split_plain(b"alice@example.com\0alice@example.com\0pw"),
            Some(("alice@example.com".into(), "pw".into()))
        );
        assert_eq!(split_plain(b"bob@example.com\0alice@example.com\0pw"), None);
        assert_eq!(split_plain(b"\0alice@example.com"), None);
        assert_eq!(split_plain(b"\0\0pw"), None);
        assert_eq!(decode(b"!!"), None);
        assert_eq!(decode(b"="), Some(vec![]));
    }
}
