//! [`WebhookSink`]: a JSON POST per alert, signed with HMAC-SHA256.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderValue, CONTENT_TYPE};
use reqwest::{redirect, Client, Url};
use ring::hmac;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

use crate::{AlertError, AlertSink, BoxFuture, Delivered};

/// Timeouts, retries and trust for a [`WebhookSink`].
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// For one attempt, connect to last byte.
    pub timeout: Duration,
    /// Further attempts after a 5xx, a 429 or a connection error (not after another 4xx).
    pub retries: u32,
    /// Wait before the first retry; doubles for each further one.
    pub backoff: Duration,
    /// Certificate authorities trusted besides the bundled Mozilla roots and the system's.
    pub extra_roots: Vec<CertificateDer<'static>>,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        WebhookOptions {
            timeout: Duration::from_secs(10),
            retries: 2,
            backoff: Duration::from_secs(1),
            extra_roots: Vec::new(),
        }
    }
}

/// POSTs `{"alert": ..., "suppressed": n, "rate_limited": m, "source": hostname}` as JSON, with
/// `X-Rampart-Event: <kind>` and, when a secret is set, `X-Rampart-Signature: sha256=<hex>`, the
/// HMAC-SHA256 of the exact body under the secret. Redirects are not followed; any status other
/// than 2xx is an error naming it.
pub struct WebhookSink {
    client: Client,
    url: Url,
    /// `scheme://host[:port]`: what logs and errors show (the path may hold a token).
    endpoint: String,
    key: Option<hmac::Key>,
    source: String,
    retries: u32,
    backoff: Duration,
}

impl WebhookSink {
    /// A webhook with the default options: 10 s per attempt, 2 retries, 1 s backoff.
    pub fn new(url: &str, secret: Option<&str>, source: &str) -> Result<Self, AlertError> {
        Self::with_options(url, secret, source, WebhookOptions::default())
    }

    /// A webhook to `url` (http or https), signed with `secret` when given, naming `source` (the
    /// host name) in each body.
    pub fn with_options(
        url: &str,
        secret: Option<&str>,
        source: &str,
        options: WebhookOptions,
    ) -> Result<Self, AlertError> {
        let url = Url::parse(url)
            .map_err(|e| AlertError::config(format!("webhook_url is not a valid URL: {e}")))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(AlertError::config(format!(
                "webhook_url must be http or https, not {}",
                url.scheme()
            )));
        }
        let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
            return Err(AlertError::config("webhook_url has no host"));
        };
        let endpoint = match url.port() {
            Some(port) => format!("{}://{host}:{port}", url.scheme()),
            None => format!("{}://{host}", url.scheme()),
        };
        let key = match secret {
            Some("") => {
                return Err(AlertError::config(
                    "webhook_secret is empty; remove it or set a real secret",
                ))
            }
            Some(secret) => Some(hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes())),
            None => None,
        };
        let client = Client::builder()
            .tls_backend_preconfigured(tls_config(&options.extra_roots)?)
            .timeout(options.timeout)
            .redirect(redirect::Policy::none())
            .user_agent(concat!("rampart/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AlertError::config(format!("cannot build the webhook client: {e}")))?;
        Ok(WebhookSink {
            client,
            url,
            endpoint,
            key,
            source: source.to_string(),
            retries: options.retries,
            backoff: options.backoff,
        })
    }

    /// `scheme://host[:port]` of the webhook, safe to show.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn deliver(&self, delivered: &Delivered) -> Result<(), AlertError> {
        let body = delivered.payload_json(&self.source);
        let signature = self.key.as_ref().map(|key| signature(key, &body));
        let event = HeaderValue::from_str(&crate::text::ascii_token(&delivered.alert.kind, 64))
            .unwrap_or(HeaderValue::from_static("alert"));
        let mut attempt = 0;
        loop {
            let mut request = self
                .client
                .post(self.url.clone())
                .header(CONTENT_TYPE, "application/json")
                .header("X-Rampart-Event", event.clone())
                .body(body.clone());
            if let Some(signature) = &signature {
                request = request.header("X-Rampart-Signature", signature.as_str());
            }
            let (error, retryable) = match request.send().await {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => {
                    let status = response.status();
                    let error = AlertError::Status {
                        endpoint: self.endpoint.clone(),
                        status: status.as_u16(),
                    };
                    (error, status.is_server_error() || status.as_u16() == 429)
                }
                Err(e) => {
                    let retryable = !e.is_builder();
                    let error = AlertError::Request {
                        endpoint: self.endpoint.clone(),
                        reason: describe(e),
                    };
                    (error, retryable)
                }
            };
            if !retryable || attempt >= self.retries {
                return Err(error);
            }
            let wait = self
                .backoff
                .saturating_mul(2u32.saturating_pow(attempt.min(16)));
            tracing::debug!(endpoint = %self.endpoint, %error, ?wait, "webhook failed, retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

impl AlertSink for WebhookSink {
    fn name(&self) -> &str {
        "webhook"
    }

    fn send<'a>(&'a self, delivered: &'a Delivered) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(self.deliver(delivered))
    }
}

impl std::fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSink")
            .field("endpoint", &self.endpoint)
            .field("signed", &self.key.is_some())
            .field("retries", &self.retries)
            .finish()
    }
}

/// `sha256=<lower-case hex HMAC-SHA256 of body>`.
fn signature(key: &hmac::Key, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac::sign(key, body).as_ref()))
}

/// The error and its causes on one line, without the URL.
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// rustls on the ring provider, trusting the bundled Mozilla roots, the system's and `extra`.
fn tls_config(extra: &[CertificateDer<'static>]) -> Result<rustls::ClientConfig, AlertError> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
    let native = rustls_native_certs::load_native_certs();
    if !native.errors.is_empty() {
        tracing::debug!(
            errors = native.errors.len(),
            "some system CA certificates were unreadable"
        );
    }
    roots.add_parsable_certificates(native.certs);
    for cert in extra {
        roots
            .add(cert.clone())
            .map_err(|e| AlertError::config(format!("extra webhook CA certificate: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AlertError::config(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unusable_urls_and_secrets_clearly() {
        let err = |url: &str, secret: Option<&str>| {
            WebhookSink::new(url, secret, "mx").unwrap_err().to_string()
        };
        assert!(err("not a url", None).contains("not a valid URL"));
        assert!(err("ftp://example.com/x", None).contains("http or https"));
        assert!(err("https://example.com/x", Some("")).contains("webhook_secret is empty"));
        let sink =
            WebhookSink::new("https://hooks.example.com:8443/T0K3N?x=1", None, "mx").unwrap();
        assert_eq!(sink.endpoint(), "https://hooks.example.com:8443");
        assert!(!format!("{sink:?}").contains("T0K3N"));
    }

    #[test]
    fn signature_is_hex_hmac_sha256() {
        // RFC 4231 test case 2.
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"Jefe");
        assert_eq!(
            signature(&key, b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
