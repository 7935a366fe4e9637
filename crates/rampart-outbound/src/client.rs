//! One delivery attempt: connect to a [`Route`]'s targets in order and run one SMTP transaction
//! (mail-send's `SmtpClient` for the protocol, rustls through it for STARTTLS).
//!
//! Per target: connect (timeout), greeting, EHLO (HELO if EHLO is refused), STARTTLS as the
//! target's [`TlsRequirement`] says, EHLO again, `MAIL FROM` with `SIZE`, `BODY=8BITMIME` and
//! `SMTPUTF8` as offered and needed, one `RCPT TO` per recipient, `DATA`, `QUIT`.
//!
//! What moves on to the next target: no connection, a 4xx or 5xx greeting, a refused EHLO/HELO,
//! a failed TLS handshake or missing STARTTLS where TLS is required, a 4xx to `MAIL FROM`, a
//! message over the server's `SIZE`, an internationalised envelope the server cannot take.
//! Opportunistic TLS that fails in the handshake is retried once on the same host in plain text
//! (RFC 7435). A 5xx to `MAIL FROM` ends the attempt: the server has spoken for the domain.
//! Once recipients are being answered the results are per recipient and final for this
//! attempt ([`RcptStatus`]): a 4xx/5xx at `RCPT` applies to that recipient, a 4xx/5xx to `DATA`
//! or after the message to every accepted one, and a connection lost after `MAIL FROM` leaves
//! the undecided recipients temporary (never a second copy to another host).
//!
//! When every target failed, the error is temporary unless the last failure was a permanent
//! answer. Every network step has a timeout; replies are bounded by smtp-proto (4 KiB) and
//! shortened further for logs.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use mail_send::SmtpClient;
use rampart_model::config::OutboundConfig;
use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName};
use smtp_proto::{EhloResponse, Response, EXT_8BIT_MIME, EXT_SIZE, EXT_SMTP_UTF8, EXT_START_TLS};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::dane::DaneVerifier;
use crate::route::{Route, Target, TlsRequirement};
use crate::tls::{self, AcceptAnyCertificate, WebPkiForNames};

/// Longest reply text kept, in characters.
pub const MAX_REPLY_TEXT: usize = 512;
/// Longest envelope address accepted (RFC 5321 §4.5.3.1.3: 256 octets for a path).
const MAX_PATH: usize = 256;
/// Size of the writes while sending the message.
const DATA_CHUNK: usize = 64 * 1024;

/// Settings of the delivery client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Name sent in EHLO/HELO: this server's host name.
    pub helo: String,
    /// Budget for the TCP connection.
    pub connect_timeout: Duration,
    /// Budget for each reply (and each 64 KiB of the message).
    pub command_timeout: Duration,
    /// Trust anchors besides Mozilla's, for verified TLS.
    pub extra_roots: Vec<CertificateDer<'static>>,
}

impl ClientConfig {
    /// RFC 5321 §4.5.3.2-ish defaults: 30 s to connect, 5 minutes per reply.
    pub fn new(helo: impl Into<String>) -> Self {
        ClientConfig {
            helo: helo.into(),
            connect_timeout: Duration::from_secs(30),
            command_timeout: Duration::from_secs(300),
            extra_roots: Vec::new(),
        }
    }

    /// From `[outbound]`; reads the `extra_roots` PEM files.
    pub fn from_outbound(config: &OutboundConfig, helo: &str) -> std::io::Result<Self> {
        Ok(ClientConfig {
            helo: helo.to_string(),
            connect_timeout: Duration::from_secs(config.connect_timeout_secs.max(1)),
            command_timeout: Duration::from_secs(config.command_timeout_secs.max(1)),
            extra_roots: tls::load_pem_certs(&config.extra_roots)?,
        })
    }
}

/// Who gets the message: `mail_from` `""` is the null reverse path (bounces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub mail_from: String,
    pub recipients: Vec<String>,
}

/// An SMTP reply, or one this client made up for something the server never answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code.
    pub code: u16,
    /// The enhanced status code (RFC 3463), when there was one.
    pub enhanced: Option<(u8, u8, u8)>,
    /// The text, lines joined with spaces, control characters removed, at most
    /// [`MAX_REPLY_TEXT`] characters.
    pub text: String,
    /// `true` when this client wrote it (connection lost, invalid address, ...).
    pub local: bool,
}

impl Reply {
    fn from_response(response: &Response<String>) -> Self {
        let [class, subject, detail] = response.esc;
        Reply {
            code: response.code,
            enhanced: (class != 0).then_some((class, subject, detail)),
            text: clean_text(&response.message),
            local: false,
        }
    }

    fn local(code: u16, enhanced: (u8, u8, u8), text: impl AsRef<str>) -> Self {
        Reply {
            code,
            enhanced: Some(enhanced),
            text: clean_text(text.as_ref()),
            local: true,
        }
    }

    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 5xx.
    pub fn is_permanent(&self) -> bool {
        self.code >= 500
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some((class, subject, detail)) = self.enhanced {
            write!(f, " {class}.{subject}.{detail}")?;
        }
        if !self.text.is_empty() {
            write!(f, " {}", self.text)?;
        }
        Ok(())
    }
}

fn clean_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_REPLY_TEXT));
    for c in text.chars() {
        if out.chars().count() >= MAX_REPLY_TEXT {
            out.push('…');
            break;
        }
        match c {
            '\r' | '\n' | '\t' => {
                if !out.ends_with(' ') && !out.is_empty() {
                    out.push(' ');
                }
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.trim_end().to_string()
}

/// What became of one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptStatus {
    /// The server took responsibility (2xx after the message).
    Delivered { reply: Reply },
    /// Try again later (4xx, or the connection was lost).
    Temporary { reply: Reply },
    /// Bounce (5xx, or an address this client refuses to send).
    Permanent { reply: Reply },
}

impl RcptStatus {
    /// The reply behind the status, whichever it is.
    pub fn reply(&self) -> &Reply {
        match self {
            RcptStatus::Delivered { reply }
            | RcptStatus::Temporary { reply }
            | RcptStatus::Permanent { reply } => reply,
        }
    }

    fn from_reply(reply: Reply) -> Self {
        if reply.is_positive() {
            RcptStatus::Delivered { reply }
        } else if reply.is_permanent() {
            RcptStatus::Permanent { reply }
        } else {
            RcptStatus::Temporary { reply }
        }
    }
}

/// One recipient's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcptResult {
    pub recipient: String,
    pub status: RcptStatus,
}

/// How the session that carried the message was protected. `version` is `TLSv1.2`/`TLSv1.3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsUsed {
    None,
    /// Encrypted, certificate not checked (opportunistic, or DANE without usable records).
    Unverified {
        version: String,
    },
    WebPki {
        version: String,
    },
    Dane {
        version: String,
    },
}

/// For logs: `no TLS`, `TLSv1.3, unverified`, `TLSv1.3, WebPKI`, `TLSv1.3, DANE`.
impl fmt::Display for TlsUsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsUsed::None => f.write_str("no TLS"),
            TlsUsed::Unverified { version } => write!(f, "{version}, unverified"),
            TlsUsed::WebPki { version } => write!(f, "{version}, WebPKI"),
            TlsUsed::Dane { version } => write!(f, "{version}, DANE"),
        }
    }
}

/// The outcome of a transaction with one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The host name of the target that answered.
    pub host: String,
    pub addr: std::net::SocketAddr,
    pub tls: TlsUsed,
    /// One result per envelope recipient, in envelope order.
    pub recipients: Vec<RcptResult>,
    /// Why the targets tried before this one failed, for logs.
    pub failed_targets: Vec<String>,
}

impl Sent {
    /// `true` when every recipient was delivered.
    pub fn all_delivered(&self) -> bool {
        self.recipients
            .iter()
            .all(|r| matches!(r.status, RcptStatus::Delivered { .. }))
    }
}

/// A delivery that reached no recipient decision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    /// `true`: bounce now; `false`: try again later.
    pub permanent: bool,
    /// For people: `mx1.example.net[192.0.2.1] said: 550 5.7.1 ... (in reply to MAIL FROM)`,
    /// `connection to mx1.example.net[192.0.2.1] timed out`.
    pub message: String,
    /// The remote server's reply, when one caused this.
    pub remote: Option<String>,
}

impl DeliveryError {
    /// A failure worth retrying, with no remote reply.
    pub fn temporary(message: impl Into<String>) -> Self {
        DeliveryError {
            permanent: false,
            message: message.into(),
            remote: None,
        }
    }

    /// A failure to bounce now, with no remote reply.
    pub fn permanent(message: impl Into<String>) -> Self {
        DeliveryError {
            permanent: true,
            message: message.into(),
            remote: None,
        }
    }
}

/// Why one target failed.
#[derive(Debug)]
struct Failure {
    permanent: bool,
    /// Do not try further targets (a 5xx to MAIL FROM).
    stop: bool,
    /// The TLS handshake failed (opportunistic TLS retries in plain text).
    handshake: bool,
    message: String,
    remote: Option<String>,
}

impl Failure {
    fn temporary(message: String) -> Self {
        Failure {
            permanent: false,
            stop: false,
            handshake: false,
            message,
            remote: None,
        }
    }

    fn permanent(message: String) -> Self {
        Failure {
            permanent: true,
            ..Failure::temporary(message)
        }
    }

    fn reply(peer: &str, reply: &Reply, stage: &str) -> Self {
        Failure {
            permanent: reply.is_permanent(),
            stop: false,
            handshake: false,
            message: format!("{peer} said: {reply} (in reply to {stage})"),
            remote: Some(reply.to_string()),
        }
    }

    fn io(peer: &str, stage: &str, error: &mail_send::Error) -> Self {
        Failure::temporary(format!("{peer}: {} ({stage})", describe(error)))
    }

    fn into_error(self) -> DeliveryError {
        DeliveryError {
            permanent: self.permanent,
            message: self.message,
            remote: self.remote,
        }
    }
}

fn describe(error: &mail_send::Error) -> String {
    match error {
        mail_send::Error::Timeout => "timed out".into(),
        mail_send::Error::UnparseableReply => "connection closed or unparseable reply".into(),
        mail_send::Error::Io(error) => format!("I/O error: {error}"),
        mail_send::Error::Tls(error) => format!("TLS: {error}"),
        mail_send::Error::InvalidTLSName => "no valid TLS name".into(),
        other => other.to_string(),
    }
}

/// The delivery client. Build one and share it; each [`Client::send`] is independent.
pub struct Client {
    config: ClientConfig,
    unverified: Result<TlsConnector, String>,
    webpki: Result<Arc<WebPkiServerVerifier>, String>,
}

impl Client {
    /// Prepares the TLS configurations (Mozilla's roots plus the extra ones) once.
    pub fn new(config: ClientConfig) -> Self {
        let unverified = tls::client_config(Arc::new(AcceptAnyCertificate::new()))
            .map(|c| TlsConnector::from(Arc::new(c)))
            .map_err(|e| e.to_string());
        let webpki = tls::webpki_verifier(Arc::new(tls::root_store(&config.extra_roots)));
        Client {
            config,
            unverified,
            webpki,
        }
    }

    /// The settings it was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Delivers `message` (the bytes as stored: headers, blank line, body; CRLF line ends) to
    /// the first target of `route` that takes a decision on the recipients.
    pub async fn send(
        &self,
        route: &Route,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<Sent, DeliveryError> {
        if envelope.recipients.is_empty() {
            return Err(DeliveryError::permanent("no recipients"));
        }
        if !valid_path(&envelope.mail_from, true) {
            return Err(DeliveryError::permanent(format!(
                "invalid sender address {:?}",
                clean_text(&envelope.mail_from)
            )));
        }
        if route.targets.is_empty() {
            return Err(DeliveryError::temporary(format!(
                "no host to deliver to for {}",
                route.domain
            )));
        }
        let mut failed = Vec::new();
        let mut last: Option<Failure> = None;
        for target in &route.targets {
            let mut outcome = self.attempt(target, envelope, message, false).await;
            if let Err(failure) = &outcome {
                if failure.handshake && target.tls == TlsRequirement::Opportunistic {
                    tracing::info!(
                        target = %target, reason = %failure.message,
                        "opportunistic TLS failed; retrying in plain text"
                    );
                    failed.push(failure.message.clone());
                    outcome = self.attempt(target, envelope, message, true).await;
                }
            }
            match outcome {
                Ok(mut sent) => {
                    sent.failed_targets = failed;
                    tracing::info!(
                        domain = %route.domain, host = %sent.host, addr = %sent.addr,
                        tls = ?sent.tls, delivered = sent.all_delivered(), "delivery attempt done"
                    );
                    return Ok(sent);
                }
                Err(failure) if failure.stop => {
                    tracing::info!(target = %target, reason = %failure.message, "delivery refused");
                    return Err(failure.into_error());
                }
                Err(failure) => {
                    tracing::info!(target = %target, reason = %failure.message, "target failed");
                    failed.push(failure.message.clone());
                    last = Some(failure);
                }
            }
        }
        Err(last.map(Failure::into_error).unwrap_or_else(|| {
            DeliveryError::temporary(format!("no host to deliver to for {}", route.domain))
        }))
    }

    async fn attempt(
        &self,
        target: &Target,
        envelope: &Envelope,
        message: &[u8],
        plain: bool,
    ) -> Result<Sent, Failure> {
        let peer = format!("{}[{}]", target.mx, target.addr.ip());
        let stream = match tokio::time::timeout(
            self.config.connect_timeout,
            TcpStream::connect(target.addr),
        )
        .await
        {
            Err(_) => {
                return Err(Failure::temporary(format!(
                    "connection to {peer} timed out"
                )))
            }
            Ok(Err(error)) => {
                return Err(Failure::temporary(format!(
                    "connection to {peer} failed: {error}"
                )))
            }
            Ok(Ok(stream)) => stream,
        };
        let _ = stream.set_nodelay(true);
        let mut client = SmtpClient {
            stream,
            timeout: self.config.command_timeout,
        };

        let greeting = match tokio::time::timeout(self.config.command_timeout, client.read()).await
        {
            Err(_) => return Err(Failure::io(&peer, "greeting", &mail_send::Error::Timeout)),
            Ok(Err(error)) => return Err(Failure::io(&peer, "greeting", &error)),
            Ok(Ok(response)) => Reply::from_response(&response),
        };
        if !greeting.is_positive() {
            self.quit(client).await;
            return Err(Failure::reply(&peer, &greeting, "the greeting"));
        }
        let capabilities = self.hello(&mut client, &peer).await?;

        let requirement = if plain {
            &TlsRequirement::None
        } else {
            &target.tls
        };
        if *requirement == TlsRequirement::None {
            return self
                .finish(
                    client,
                    &capabilities,
                    target,
                    TlsUsed::None,
                    envelope,
                    message,
                )
                .await;
        }
        if !capabilities.has_capability(EXT_START_TLS) {
            if *requirement == TlsRequirement::Opportunistic {
                return self
                    .finish(
                        client,
                        &capabilities,
                        target,
                        TlsUsed::None,
                        envelope,
                        message,
                    )
                    .await;
            }
            self.quit(client).await;
            return Err(Failure::temporary(format!(
                "{peer} does not offer STARTTLS, which {} requires",
                requirement.label()
            )));
        }
        let reply = client
            .cmd(b"STARTTLS\r\n")
            .await
            .map(|r| Reply::from_response(&r))
            .map_err(|e| Failure::io(&peer, "STARTTLS", &e))?;
        if reply.code != 220 {
            if *requirement == TlsRequirement::Opportunistic {
                return self
                    .finish(
                        client,
                        &capabilities,
                        target,
                        TlsUsed::None,
                        envelope,
                        message,
                    )
                    .await;
            }
            self.quit(client).await;
            return Err(Failure::reply(&peer, &reply, "STARTTLS"));
        }

        let connector = self
            .connector(requirement)
            .map_err(|e| Failure::temporary(format!("{peer}: TLS configuration: {e}")))?;
        // A name rustls accepts: the host name, or the address when the name is not one.
        let name = if ServerName::try_from(target.mx.as_str()).is_ok() {
            target.mx.clone()
        } else {
            target.addr.ip().to_string()
        };
        let mut client = match client.into_tls(&connector, &name).await {
            Ok(client) => client,
            Err(error) => {
                return Err(Failure {
                    handshake: true,
                    ..Failure::temporary(format!(
                        "TLS handshake with {peer} failed ({}): {}",
                        requirement.label(),
                        describe(&error)
                    ))
                })
            }
        };
        let version = client
            .tls_connection()
            .protocol_version()
            .map(|v| match v {
                rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
                rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
                other => format!("{other:?}"),
            })
            .unwrap_or_default();
        let used = match requirement {
            TlsRequirement::VerifyWebPki { .. } => TlsUsed::WebPki { version },
            TlsRequirement::Dane { .. } => TlsUsed::Dane { version },
            _ => TlsUsed::Unverified { version },
        };
        let capabilities = self.hello(&mut client, &peer).await?;
        self.finish(client, &capabilities, target, used, envelope, message)
            .await
    }

    fn connector(&self, requirement: &TlsRequirement) -> Result<TlsConnector, String> {
        let verifier: Arc<dyn ServerCertVerifier> = match requirement {
            TlsRequirement::None | TlsRequirement::Opportunistic | TlsRequirement::EncryptOnly => {
                return self.unverified.clone()
            }
            TlsRequirement::VerifyWebPki { names } => {
                Arc::new(WebPkiForNames::new(self.webpki.clone()?, names))
            }
            TlsRequirement::Dane { records, names } => Arc::new(DaneVerifier::new(records, names)),
        };
        tls::client_config(verifier)
            .map(|c| TlsConnector::from(Arc::new(c)))
            .map_err(|e| e.to_string())
    }

    /// EHLO, or HELO when EHLO is refused with 5xx (RFC 5321 §4.1.4): no extensions then.
    async fn hello<T: AsyncRead + AsyncWrite + Unpin>(
        &self,
        client: &mut SmtpClient<T>,
        peer: &str,
    ) -> Result<EhloResponse<String>, Failure> {
        match client.ehlo(&self.config.helo).await {
            Ok(capabilities) => Ok(capabilities),
            Err(mail_send::Error::UnexpectedReply(response)) if response.code >= 500 => {
                let reply = client
                    .cmd(format!("HELO {}\r\n", self.config.helo))
                    .await
                    .map(|r| Reply::from_response(&r))
                    .map_err(|e| Failure::io(peer, "HELO", &e))?;
                if reply.is_positive() {
                    Ok(EhloResponse::default())
                } else {
                    Err(Failure::reply(peer, &reply, "HELO"))
                }
            }
            Err(mail_send::Error::UnexpectedReply(response)) => Err(Failure::reply(
                peer,
                &Reply::from_response(&response),
                "EHLO",
            )),
            Err(error) => Err(Failure::io(peer, "EHLO", &error)),
        }
    }

    /// The transaction, then QUIT.
    async fn finish<T: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut client: SmtpClient<T>,
        capabilities: &EhloResponse<String>,
        target: &Target,
        tls: TlsUsed,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<Sent, Failure> {
        let peer = format!("{}[{}]", target.mx, target.addr.ip());
        let outcome = self
            .transaction(&mut client, capabilities, &peer, envelope, message)
            .await;
        match outcome {
            Ok((recipients, connection_ok)) => {
                if connection_ok {
                    self.quit(client).await;
                }
                Ok(Sent {
                    host: target.mx.clone(),
                    addr: target.addr,
                    tls,
                    recipients,
                    failed_targets: Vec::new(),
                })
            }
            Err((failure, connection_ok)) => {
                if connection_ok {
                    self.quit(client).await;
                }
                Err(failure)
            }
        }
    }

    /// Returns the per-recipient results and whether the connection is still usable (for QUIT).
    async fn transaction<T: AsyncRead + AsyncWrite + Unpin>(
        &self,
        client: &mut SmtpClient<T>,
        capabilities: &EhloResponse<String>,
        peer: &str,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<(Vec<RcptResult>, bool), (Failure, bool)> {
        if capabilities.has_capability(EXT_SIZE)
            && capabilities.size > 0
            && message.len() > capabilities.size
        {
            return Err((
                Failure::permanent(format!(
                    "message of {} bytes exceeds the {} bytes {peer} accepts (SIZE)",
                    message.len(),
                    capabilities.size
                )),
                true,
            ));
        }
        let needs_utf8 =
            !envelope.mail_from.is_ascii() || envelope.recipients.iter().any(|r| !r.is_ascii());
        if needs_utf8 && !capabilities.has_capability(EXT_SMTP_UTF8) {
            return Err((
                Failure::permanent(format!(
                    "the envelope needs SMTPUTF8, which {peer} does not offer"
                )),
                true,
            ));
        }

        let mut mail = format!("MAIL FROM:<{}>", envelope.mail_from);
        if capabilities.has_capability(EXT_SIZE) {
            mail.push_str(&format!(" SIZE={}", message.len()));
        }
        if capabilities.has_capability(EXT_8BIT_MIME) {
            mail.push_str(" BODY=8BITMIME");
        }
        if needs_utf8 {
            mail.push_str(" SMTPUTF8");
        }
        mail.push_str("\r\n");
        let reply = match client.cmd(mail.as_bytes()).await {
            Ok(response) => Reply::from_response(&response),
            Err(error) => return Err((Failure::io(peer, "MAIL FROM", &error), false)),
        };
        if !reply.is_positive() {
            let mut failure = Failure::reply(peer, &reply, "MAIL FROM");
            failure.stop = reply.is_permanent();
            return Err((failure, true));
        }

        let mut results: Vec<RcptResult> = Vec::with_capacity(envelope.recipients.len());
        let mut accepted = Vec::new();
        let mut broken: Option<String> = None;
        for (index, recipient) in envelope.recipients.iter().enumerate() {
            let status = if let Some(reason) = &broken {
                RcptStatus::Temporary {
                    reply: Reply::local(451, (4, 4, 2), reason),
                }
            } else if !valid_path(recipient, false) {
                RcptStatus::Permanent {
                    reply: Reply::local(553, (5, 1, 3), "invalid recipient address (not sent)"),
                }
            } else {
                match client
                    .cmd(format!("RCPT TO:<{recipient}>\r\n").as_bytes())
                    .await
                {
                    Ok(response) => {
                        let reply = Reply::from_response(&response);
                        if reply.is_positive() {
                            accepted.push(index);
                            // Decided after DATA; a placeholder until then.
                            RcptStatus::Temporary { reply }
                        } else {
                            RcptStatus::from_reply(reply)
                        }
                    }
                    Err(error) => {
                        let reason = format!("{peer}: {} (RCPT TO)", describe(&error));
                        broken = Some(reason.clone());
                        RcptStatus::Temporary {
                            reply: Reply::local(451, (4, 4, 2), reason),
                        }
                    }
                }
            };
            results.push(RcptResult {
                recipient: recipient.clone(),
                status,
            });
        }

        let settle = |results: &mut Vec<RcptResult>, reply: &Reply| {
            for &index in &accepted {
                if let Some(result) = results.get_mut(index) {
                    result.status = RcptStatus::from_reply(reply.clone());
                }
            }
        };
        if let Some(reason) = broken {
            settle(&mut results, &Reply::local(451, (4, 4, 2), reason));
            return Ok((results, false));
        }
        if accepted.is_empty() {
            return Ok((results, true));
        }

        let reply = match client.cmd(b"DATA\r\n").await {
            Ok(response) => Reply::from_response(&response),
            Err(error) => {
                let reason = format!("{peer}: {} (DATA)", describe(&error));
                settle(&mut results, &Reply::local(451, (4, 4, 2), reason));
                return Ok((results, false));
            }
        };
        if reply.code != 354 {
            let reply = if reply.is_positive() {
                // A 2xx to DATA is a protocol error; the message was not sent.
                Reply::local(451, (4, 5, 0), format!("{peer} answered DATA with {reply}"))
            } else {
                reply
            };
            settle(&mut results, &reply);
            return Ok((results, true));
        }
        let reply = match self.send_message(client, message).await {
            Ok(response) => Reply::from_response(&response),
            Err(error) => {
                let reason = format!(
                    "{peer}: {} (end of data; the message may have been delivered)",
                    describe(&error)
                );
                settle(&mut results, &Reply::local(451, (4, 4, 2), reason));
                return Ok((results, false));
            }
        };
        settle(&mut results, &reply);
        Ok((results, true))
    }

    /// Writes the message with dot-stuffing and the terminating dot, then reads the reply.
    /// A `.` at the start of the message or after any CR or LF is doubled: a receiver that
    /// takes a bare CR or LF for a line end must not see an end of data (SMTP smuggling).
    async fn send_message<T: AsyncRead + AsyncWrite + Unpin>(
        &self,
        client: &mut SmtpClient<T>,
        message: &[u8],
    ) -> Result<Response<String>, mail_send::Error> {
        let timeout = self.config.command_timeout;
        let mut chunk = Vec::with_capacity(DATA_CHUNK + 64);
        let mut line_start = true;
        for &byte in message {
            if byte == b'.' && line_start {
                chunk.push(b'.');
            }
            chunk.push(byte);
            line_start = byte == b'\n' || byte == b'\r';
            if chunk.len() >= DATA_CHUNK {
                write_with_timeout(client, &chunk, timeout).await?;
                chunk.clear();
            }
        }
        if message.is_empty() || message.ends_with(b"\r\n") {
            chunk.extend_from_slice(b".\r\n");
        } else {
            chunk.extend_from_slice(b"\r\n.\r\n");
        }
        write_with_timeout(client, &chunk, timeout).await?;
        tokio::time::timeout(timeout, async {
            client.stream.flush().await?;
            client.read().await
        })
        .await
        .map_err(|_| mail_send::Error::Timeout)?
    }

    /// QUIT politely, without waiting long for the answer, then close.
    async fn quit<T: AsyncRead + AsyncWrite + Unpin>(&self, mut client: SmtpClient<T>) {
        let wait = self.config.command_timeout.min(Duration::from_secs(5));
        client.timeout = wait;
        let _ = client.cmd(b"QUIT\r\n").await;
        let _ = tokio::time::timeout(wait, client.stream.shutdown()).await;
    }
}

async fn write_with_timeout<T: AsyncRead + AsyncWrite + Unpin>(
    client: &mut SmtpClient<T>,
    bytes: &[u8],
    timeout: Duration,
) -> Result<(), mail_send::Error> {
    tokio::time::timeout(timeout, client.stream.write_all(bytes))
        .await
        .map_err(|_| mail_send::Error::Timeout)?
        .map_err(mail_send::Error::Io)
}

/// An address that can go between `<` and `>` as is: no controls, spaces or angle brackets, at
/// most [`MAX_PATH`] bytes; a recipient needs an `@`. (`""` is the null sender.)
fn valid_path(address: &str, sender: bool) -> bool {
    if address.is_empty() {
        return sender;
    }
    address.len() <= MAX_PATH
        && address.contains('@')
        && !address
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '<' || c == '>')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_render_like_postfix_logs() {
        let reply = Reply {
            code: 550,
            enhanced: Some((5, 7, 1)),
            text: "no thanks".into(),
            local: false,
        };
        assert_eq!(reply.to_string(), "550 5.7.1 no thanks");
        assert_eq!(clean_text("line one\r\nline\u{7}two"), "line one linetwo");
        assert!(clean_text(&"x".repeat(5000)).chars().count() <= MAX_REPLY_TEXT + 1);
    }

    #[test]
    fn envelope_addresses_cannot_inject_commands() {
        assert!(valid_path("", true));
        assert!(!valid_path("", false));
        assert!(valid_path("user@example.net", false));
        assert!(valid_path("用户@例子.中国", false));
        assert!(!valid_path("a@b>\r\nRCPT TO:<c@d", false));
        assert!(!valid_path("a b@example.net", false));
        assert!(!valid_path(&format!("{}@x", "a".repeat(300)), false));
    }
}
