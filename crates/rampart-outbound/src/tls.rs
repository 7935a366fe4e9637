//! The rustls pieces shared by the SMTP client and the MTA-STS fetch: the ring provider, trust
//! roots (Mozilla's, from `webpki-root-certs`, plus configured extra anchors), and the two
//! certificate checks that are not plain WebPKI: none at all (opportunistic TLS, RFC 7435) and
//! WebPKI against a list of acceptable names.
//!
//! Handshake signatures are always verified, whatever the certificate check: an unverified
//! certificate still proves the server holds its key.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

/// The one crypto provider of this crate (ring; never aws-lc-rs).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every certificate from PEM files (extra trust anchors: a private CA, a test CA).
pub fn load_pem_certs<P: AsRef<Path>>(paths: &[P]) -> io::Result<Vec<CertificateDer<'static>>> {
    let mut certs = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let iter = CertificateDer::pem_file_iter(path).map_err(|error| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {error}", path.display()),
            )
        })?;
        let before = certs.len();
        for cert in iter {
            certs.push(cert.map_err(|error| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {error}", path.display()),
                )
            })?);
        }
        if certs.len() == before {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: no certificate in the file", path.display()),
            ));
        }
    }
    Ok(certs)
}

/// Mozilla's roots plus `extra`. An extra certificate that is not a usable anchor is skipped.
pub fn root_store(extra: &[CertificateDer<'static>]) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
    let (_, skipped) = roots.add_parsable_certificates(extra.iter().cloned());
    if skipped > 0 {
        tracing::warn!(
            skipped,
            "extra trust roots that are not usable certificates"
        );
    }
    roots
}

/// A WebPKI verifier over `roots` with the ring provider.
pub fn webpki_verifier(roots: Arc<RootCertStore>) -> Result<Arc<WebPkiServerVerifier>, String> {
    WebPkiServerVerifier::builder_with_provider(roots, provider())
        .build()
        .map_err(|error| format!("cannot build the certificate verifier: {error}"))
}

/// A client configuration (TLS 1.2 and 1.3, ring, no client certificate) around `verifier`.
pub fn client_config(
    verifier: Arc<dyn ServerCertVerifier>,
) -> Result<rustls::ClientConfig, rustls::Error> {
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// Accepts any certificate (opportunistic TLS, RFC 7435 §3; DANE with only unusable TLSA
/// records, RFC 7672 §2.2): the session is encrypted against passive eavesdroppers but the
/// server is not authenticated.
#[derive(Debug)]
pub struct AcceptAnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl AcceptAnyCertificate {
    /// Checks handshake signatures with the ring provider; accepts any certificate.
    pub fn new() -> Self {
        AcceptAnyCertificate {
            provider: provider(),
        }
    }
}

impl Default for AcceptAnyCertificate {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// WebPKI validation where the certificate must be valid for at least one of `names` (the MX
/// host name; a relay's name or IP address), whatever name the connection was opened with.
#[derive(Debug)]
pub struct WebPkiForNames {
    inner: Arc<WebPkiServerVerifier>,
    names: Vec<ServerName<'static>>,
}

impl WebPkiForNames {
    /// Names that are neither DNS names nor IP addresses are dropped; with none left, every
    /// certificate fails.
    pub fn new(inner: Arc<WebPkiServerVerifier>, names: &[String]) -> Self {
        let names = names
            .iter()
            .filter_map(|name| ServerName::try_from(name.as_str()).ok())
            .map(|name| name.to_owned())
            .collect();
        WebPkiForNames { inner, names }
    }
}

impl ServerCertVerifier for WebPkiForNames {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut last = rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName);
        for name in &self.names {
            match self
                .inner
                .verify_server_cert(end_entity, intermediates, name, ocsp_response, now)
            {
                Ok(verified) => return Ok(verified),
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
