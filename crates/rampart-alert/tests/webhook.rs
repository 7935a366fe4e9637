//! The webhook sink against a real HTTP server on 127.0.0.1 (plain and TLS).

mod support;

use std::sync::Arc;
use std::time::Duration;

use rampart_alert::{AlertError, AlertSink, WebhookOptions, WebhookSink};
use ring::hmac;
use support::{delivered, spike, HttpServer, Reply};

fn fast() -> WebhookOptions {
    WebhookOptions {
        timeout: Duration::from_secs(5),
        backoff: Duration::from_millis(10),
        ..WebhookOptions::default()
    }
}

#[tokio::test]
async fn posts_the_alert_as_json_signed_with_hmac_sha256() {
    let server = HttpServer::start(vec![]).await;
    let sink = WebhookSink::with_options(
        &server.url("/hooks/T0K3N"),
        Some("s3cret"),
        "mx.example.com",
        fast(),
    )
    .unwrap();
    let mut alert = delivered(spike("ana@example.com", 1_700_000_000_000));
    alert.suppressed = 4;
    sink.send(&alert).await.unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.request_line, "POST /hooks/T0K3N HTTP/1.1");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("x-rampart-event"), Some("sending_spike"));

    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["source"], "mx.example.com");
    assert_eq!(body["suppressed"], 4);
    assert_eq!(body["rate_limited"], 0);
    assert_eq!(body["alert"]["kind"], "sending_spike");
    assert_eq!(body["alert"]["severity"], "warning");
    assert_eq!(body["alert"]["account"], "ana@example.com");
    assert_eq!(body["alert"]["key"], "sending_spike:ana@example.com");
    assert_eq!(body["alert"]["at_ms"], 1_700_000_000_000i64);
    assert_eq!(body["alert"]["details"]["messages"], 240);

    let signature = request.header("x-rampart-signature").unwrap();
    let hex_mac = signature.strip_prefix("sha256=").unwrap();
    let mac = hex::decode(hex_mac).unwrap();
    let key = hmac::Key::new(hmac::HMAC_SHA256, b"s3cret");
    hmac::verify(&key, &request.body, &mac).expect("signature verifies over the exact body");
}

#[tokio::test]
async fn unsigned_webhook_sends_no_signature_header() {
    let server = HttpServer::start(vec![]).await;
    let sink = WebhookSink::with_options(&server.url("/"), None, "mx", fast()).unwrap();
    sink.send(&delivered(spike("ana@example.com", 0)))
        .await
        .unwrap();
    assert_eq!(server.requests()[0].header("x-rampart-signature"), None);
}

#[tokio::test]
async fn retries_after_a_500_and_succeeds() {
    let server = HttpServer::start(vec![Reply::Status(500)]).await;
    let sink = WebhookSink::with_options(&server.url("/"), Some("k"), "mx", fast()).unwrap();
    sink.send(&delivered(spike("ana@example.com", 0)))
        .await
        .unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].body, requests[1].body,
        "a retry resends the same body"
    );
    assert_eq!(
        requests[0].header("x-rampart-signature"),
        requests[1].header("x-rampart-signature")
    );
}

#[tokio::test]
async fn gives_up_after_two_retries_and_names_the_status() {
    let server = HttpServer::start(vec![Reply::Status(503); 3]).await;
    let sink = WebhookSink::with_options(&server.url("/"), None, "mx", fast()).unwrap();
    let error = sink
        .send(&delivered(spike("ana@example.com", 0)))
        .await
        .unwrap_err();
    assert!(
        matches!(error, AlertError::Status { status: 503, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("503"));
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn does_not_retry_a_client_error() {
    let server = HttpServer::start(vec![Reply::Status(404)]).await;
    let sink = WebhookSink::with_options(&server.url("/"), None, "mx", fast()).unwrap();
    let error = sink
        .send(&delivered(spike("ana@example.com", 0)))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("HTTP 404"), "{error}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn does_not_follow_redirects() {
    let server = HttpServer::start(vec![Reply::Status(302)]).await;
    let sink = WebhookSink::with_options(&server.url("/"), None, "mx", fast()).unwrap();
    let error = sink
        .send(&delivered(spike("ana@example.com", 0)))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("HTTP 302"), "{error}");
}

#[tokio::test]
async fn connection_errors_are_retried_and_never_show_the_url_path() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/hooks/T0K3N");
    let sink = WebhookSink::with_options(&url, Some("s3cret"), "mx", fast()).unwrap();
    let error = sink
        .send(&delivered(spike("ana@example.com", 0)))
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, AlertError::Request { .. }), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(
        !text.contains("T0K3N") && !text.contains("s3cret"),
        "{text}"
    );
}

#[tokio::test]
async fn a_webhook_that_never_answers_times_out() {
    let server = HttpServer::start(vec![Reply::Hang; 3]).await;
    let options = WebhookOptions {
        timeout: Duration::from_millis(200),
        retries: 0,
        ..fast()
    };
    let sink = WebhookSink::with_options(&server.url("/"), None, "mx", options).unwrap();
    let started = std::time::Instant::now();
    let error = sink
        .send(&delivered(spike("ana@example.com", 0)))
        .await
        .unwrap_err();
    assert!(matches!(error, AlertError::Request { .. }), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// A CA, and a TLS acceptor for 127.0.0.1 with a certificate it issued.
fn tls_server() -> (
    rustls::pki_types::CertificateDer<'static>,
    tokio_rustls::TlsAcceptor,
) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(server_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![server_cert.der().clone()], key)
    .unwrap();
    (
        ca.der().clone(),
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    )
}

#[tokio::test]
async fn https_webhook_trusts_an_extra_root() {
    let (ca, acceptor) = tls_server();
    let server = HttpServer::start_with_tls(vec![], Some(acceptor)).await;
    let url = format!("https://127.0.0.1:{}/hook", server.port);
    let options = WebhookOptions {
        extra_roots: vec![ca],
        ..fast()
    };
    let sink = WebhookSink::with_options(&url, Some("k"), "mx", options).unwrap();
    sink.send(&delivered(spike("ana@example.com", 0)))
        .await
        .unwrap();
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn https_webhook_refuses_an_unknown_certificate_authority() {
    let (_, acceptor) = tls_server();
    let server = HttpServer::start_with_tls(vec![], Some(acceptor)).await;
    let url = format!("https://127.0.0.1:{}/hook", server.port);
    let options = WebhookOptions {
        retries: 0,
        ..fast()
    };
    let sink = WebhookSink::with_options(&url, None, "mx", options).unwrap();
    let error = sink
        .send(&delivered(spike("ana@example.com", 0)))
        .await
        .unwrap_err();
    assert!(matches!(error, AlertError::Request { .. }), "{error}");
    assert!(server.requests().is_empty());
}
