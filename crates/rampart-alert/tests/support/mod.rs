//! Test doubles: a scripted HTTP/1.1 server (plain or TLS) on 127.0.0.1, and sinks that record,
//! fail, panic or wait.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rampart_alert::{Alert, AlertError, AlertSink, BoxFuture, Delivered, Severity};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct Request {
    pub request_line: String,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the server does with the next request.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    Status(u16),
    /// Reads the request and never answers.
    Hang,
}

/// A small HTTP/1.1 server: answers each request with the next scripted [`Reply`] (then 200).
pub struct HttpServer {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Request>>>,
    pub arrived: Arc<Notify>,
}

impl HttpServer {
    pub async fn start(script: Vec<Reply>) -> Self {
        Self::start_with_tls(script, None).await
    }

    pub async fn start_with_tls(
        script: Vec<Reply>,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Notify::new());
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let (reqs, notify) = (requests.clone(), arrived.clone());
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (reqs, notify, script, tls) =
                    (reqs.clone(), notify.clone(), script.clone(), tls.clone());
                tokio::spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                serve(stream, reqs, notify, script).await;
                            }
                        }
                        None => serve(tcp, reqs, notify, script).await,
                    }
                });
            }
        });
        HttpServer {
            port,
            requests,
            arrived,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests have arrived.
    pub async fn wait_for(&self, n: usize) {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let arrived = self.arrived.notified();
                if self.requests.lock().unwrap().len() >= n {
                    return;
                }
                arrived.await;
            }
        })
        .await
        .expect("requests did not arrive");
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    requests: Arc<Mutex<Vec<Request>>>,
    arrived: Arc<Notify>,
    script: Arc<Mutex<VecDeque<Reply>>>,
) {
    // One request per connection (`connection: close`).
    let mut buf = Vec::new();
    let Some(request) = read_request(&mut stream, &mut buf).await else {
        return;
    };
    let reply = script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Reply::Status(200));
    requests.lock().unwrap().push(request);
    arrived.notify_waiters();
    match reply {
        Reply::Hang => tokio::time::sleep(Duration::from_secs(3600)).await,
        Reply::Status(code) => {
            let response = format!(
                "HTTP/1.1 {code} Scripted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    }
}

async fn read_request<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut Vec<u8>) -> Option<Request> {
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 1 << 20 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let body_start = head_end + 4;
    while buf.len() < body_start + length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[body_start..body_start + length].to_vec();
    buf.drain(..body_start + length);
    Some(Request {
        request_line,
        headers,
        body,
    })
}

/// Keeps every alert it is sent.
#[derive(Default)]
pub struct RecordingSink {
    pub received: Mutex<Vec<Delivered>>,
}

impl RecordingSink {
    pub fn received(&self) -> Vec<Delivered> {
        self.received.lock().unwrap().clone()
    }
}

impl AlertSink for RecordingSink {
    fn name(&self) -> &str {
        "recording"
    }

    fn send<'a>(&'a self, delivered: &'a Delivered) -> BoxFuture<'a, Result<(), AlertError>> {
        self.received.lock().unwrap().push(delivered.clone());
        Box::pin(async { Ok(()) })
    }
}

/// Fails every send.
pub struct FailingSink;

impl AlertSink for FailingSink {
    fn name(&self) -> &str {
        "failing"
    }

    fn send<'a>(&'a self, _: &'a Delivered) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async { Err(AlertError::Mail("refused".into())) })
    }
}

/// Panics on every send.
pub struct PanickingSink;

impl AlertSink for PanickingSink {
    fn name(&self) -> &str {
        "panicking"
    }

    fn send<'a>(&'a self, _: &'a Delivered) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async { panic!("sink bug") })
    }
}

/// Waits for a permit before each send completes: a sink that is stuck until the test opens it.
pub struct GatedSink {
    pub gate: Semaphore,
    pub sent: Mutex<u64>,
}

impl GatedSink {
    pub fn closed() -> Self {
        GatedSink {
            gate: Semaphore::new(0),
            sent: Mutex::new(0),
        }
    }
}

impl AlertSink for GatedSink {
    fn name(&self) -> &str {
        "gated"
    }

    fn send<'a>(&'a self, _: &'a Delivered) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async {
            let permit = self
                .gate
                .acquire()
                .await
                .map_err(|e| AlertError::Mail(e.to_string()))?;
            permit.forget();
            *self.sent.lock().unwrap() += 1;
            Ok(())
        })
    }
}

/// A typical alert at `at_ms`.
pub fn spike(account: &str, at_ms: i64) -> Alert {
    Alert::new(
        "sending_spike",
        Severity::Warning,
        format!("{account} sent 240 messages in an hour"),
        at_ms,
    )
    .account(account)
    .details(serde_json::json!({ "messages": 240, "baseline": 12 }))
}

pub fn delivered(alert: Alert) -> Delivered {
    Delivered {
        alert,
        suppressed: 0,
        rate_limited: 0,
    }
}
