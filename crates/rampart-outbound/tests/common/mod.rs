//! Shared fixtures: a test CA, TLS configurations, a local HTTPS server for MTA-STS policies,
//! and the router/client wiring over a `StaticResolver`. Everything runs on 127.0.0.1.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rampart_outbound::client::{Client, ClientConfig};
use rampart_outbound::dns::{Resolve, StaticResolver};
use rampart_outbound::mtasts::{MtaSts, MtaStsConfig};
use rampart_outbound::route::{Router, RouterConfig, TlsMode};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Nothing listens here: connections are refused at once.
pub const DEAD: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// A private CA that signs server certificates.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate with its private key and the SubjectPublicKeyInfo (for TLSA records).
pub struct Issued {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: Vec<u8>,
    pub spki: Vec<u8>,
}

impl TestCa {
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Rampart Test CA");
        let key = KeyPair::generate().expect("key");
        TestCa {
            issuer: CertifiedIssuer::self_signed(params, key).expect("CA"),
        }
    }

    pub fn der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// A leaf for `names`, signed by this CA; the chain includes the CA certificate.
    pub fn issue(&self, names: &[&str]) -> Issued {
        let key = KeyPair::generate().expect("key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let cert = CertificateParams::new(names)
            .expect("params")
            .signed_by(&key, &self.issuer)
            .expect("sign");
        Issued {
            chain: vec![cert.der().clone(), self.der()],
            key: key.serialize_der(),
            spki: rcgen::PublicKeyData::subject_public_key_info(&key),
        }
    }
}

/// A self-signed certificate for `names`.
pub fn self_signed(names: &[&str]) -> Issued {
    let key = KeyPair::generate().expect("key");
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let cert = CertificateParams::new(names)
        .expect("params")
        .self_signed(&key)
        .expect("self-signed");
    Issued {
        chain: vec![cert.der().clone()],
        key: key.serialize_der(),
        spki: rcgen::PublicKeyData::subject_public_key_info(&key),
    }
}

pub fn server_config(issued: &Issued) -> Arc<rustls::ServerConfig> {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        issued.chain.clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(issued.key.clone())),
    )
    .expect("server config");
    Arc::new(config)
}

/// A tiny HTTPS server answering every request with `status` and `body`.
pub struct PolicyServer {
    pub port: u16,
    task: JoinHandle<()>,
}

impl PolicyServer {
    pub async fn start(tls: Arc<rustls::ServerConfig>, status: &str, body: &str) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let response = response.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = tls.write_all(response.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        PolicyServer { port, task }
    }
}

impl Drop for PolicyServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn enforce_policy(mx: &[&str]) -> String {
    policy_text("enforce", mx)
}

pub fn policy_text(mode: &str, mx: &[&str]) -> String {
    let mut text = format!("version: STSv1\r\nmode: {mode}\r\n");
    for pattern in mx {
        text.push_str(&format!("mx: {pattern}\r\n"));
    }
    text.push_str("max_age: 86400\r\n");
    text
}

/// Router settings for tests: MX hosts on `port`, no DANE or MTA-STS unless asked.
pub fn router_config(port: u16, tls: TlsMode) -> RouterConfig {
    RouterConfig {
        relay: None,
        mx_override: Default::default(),
        port,
        tls,
        mta_sts: false,
        dane: false,
    }
}

pub fn mta_sts(https_port: u16, ca: Option<&TestCa>) -> Arc<MtaSts> {
    Arc::new(MtaSts::new(MtaStsConfig {
        https_port,
        extra_roots: ca.map(|ca| vec![ca.der()]).unwrap_or_default(),
        timeout: Duration::from_secs(5),
        max_entries: 100,
    }))
}

pub fn router(dns: StaticResolver, config: RouterConfig, sts: Arc<MtaSts>) -> Router {
    let resolver: Arc<dyn Resolve> = Arc::new(dns);
    Router::new(resolver, config, sts)
}

/// A client with short timeouts that trusts `ca` besides Mozilla's roots.
pub fn client(ca: Option<&TestCa>) -> Client {
    Client::new(ClientConfig {
        helo: "out.rampart.test".into(),
        connect_timeout: Duration::from_secs(2),
        command_timeout: Duration::from_secs(5),
        extra_roots: ca.map(|ca| vec![ca.der()]).unwrap_or_default(),
    })
}

pub fn sha256(bytes: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

pub fn addr(port: u16) -> SocketAddr {
    SocketAddr::new(LOCALHOST, port)
}

pub const MESSAGE: &[u8] = b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: hello\r\n\r\nHello Bob.\r\n.hidden dot line\r\n.\r\nend\r\n";
