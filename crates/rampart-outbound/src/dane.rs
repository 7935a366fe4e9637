//! DANE for SMTP (RFC 7672): a rustls certificate verifier that checks the chain a server
//! presents against its DNSSEC-validated TLSA records.
//!
//! * **DANE-EE(3)**: the leaf itself must match (selector 0 the whole certificate, 1 its
//!   SubjectPublicKeyInfo; matching type 0 exact, 1 SHA-256, 2 SHA-512). Names, dates and issuer
//!   are deliberately not checked (RFC 7672 §3.1.1): the DNS record is the trust.
//! * **DANE-TA(2)**: a certificate the server sent (not the leaf) must match; it becomes the only
//!   trust anchor, and the leaf must chain to it (WebPKI path validation, dates included) and be
//!   valid for one of the reference names: the MX host name, or the next-hop domain (§3.2.2).
//!
//! PKIX-TA(0) and PKIX-EE(1) records are unusable for SMTP and ignored (§3.1.3); so are
//! unknown selectors and matching types. Digests come from `ring`; certificates are parsed by
//! `rustls-webpki`. Handshake signatures are verified as always.
//!
//! ```
//! use rampart_outbound::dane::tlsa_matches;
//! use rampart_outbound::dns::TlsaRecord;
//! use rustls::pki_types::CertificateDer;
//!
//! let cert = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x01]);
//! let exact = TlsaRecord { usage: 3, selector: 0, matching: 0, data: cert.to_vec() };
//! assert!(tlsa_matches(&exact, &cert));
//! ```

use std::sync::Arc;

use ring::digest;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::dns::TlsaRecord;
use crate::tls;

/// `true` when `cert` matches `record` under its selector and matching type (the usage is not
/// looked at). A certificate that cannot be parsed never matches selector 1.
pub fn tlsa_matches(record: &TlsaRecord, cert: &CertificateDer<'_>) -> bool {
    let spki;
    let selected: &[u8] = match record.selector {
        0 => cert.as_ref(),
        1 => match webpki::EndEntityCert::try_from(cert) {
            Ok(parsed) => {
                spki = parsed.subject_public_key_info();
                spki.as_ref()
            }
            Err(_) => return false,
        },
        _ => return false,
    };
    match record.matching {
        0 => selected == record.data.as_slice(),
        1 => digest::digest(&digest::SHA256, selected).as_ref() == record.data.as_slice(),
        2 => digest::digest(&digest::SHA512, selected).as_ref() == record.data.as_slice(),
        _ => false,
    }
}

/// A certificate verifier for one DANE-protected connection.
#[derive(Debug)]
pub struct DaneVerifier {
    records: Vec<TlsaRecord>,
    names: Vec<ServerName<'static>>,
    provider: Arc<CryptoProvider>,
}

impl DaneVerifier {
    /// `records`: the TLSA RRset (unusable records are dropped here); `names`: the reference
    /// identifiers for DANE-TA (the MX host name first; the next-hop domain may follow).
    pub fn new(records: &[TlsaRecord], names: &[String]) -> Self {
        DaneVerifier {
            records: records.iter().filter(|r| r.is_usable()).cloned().collect(),
            names: names
                .iter()
                .filter_map(|n| ServerName::try_from(n.as_str()).ok())
                .map(|n| n.to_owned())
                .collect(),
            provider: tls::provider(),
        }
    }

    /// DANE-TA: `anchor` (a certificate from the presented chain) is the only root.
    fn chains_to(
        &self,
        anchor: &CertificateDer<'_>,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        let mut roots = RootCertStore::empty();
        roots
            .add(anchor.clone().into_owned())
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|error| rustls::Error::General(error.to_string()))?;
        let mut last = rustls::Error::InvalidCertificate(CertificateError::NotValidForName);
        for name in &self.names {
            match verifier.verify_server_cert(end_entity, intermediates, name, &[], now) {
                Ok(_) => return Ok(()),
                Err(error) => last = error,
            }
        }
        Err(last)
    }
}

impl ServerCertVerifier for DaneVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self
            .records
            .iter()
            .any(|r| r.usage == 3 && tlsa_matches(r, end_entity))
        {
            return Ok(ServerCertVerified::assertion());
        }
        let mut last = None;
        for anchor in intermediates {
            if !self
                .records
                .iter()
                .any(|r| r.usage == 2 && tlsa_matches(r, anchor))
            {
                continue;
            }
            match self.chains_to(anchor, end_entity, intermediates, now) {
                Ok(()) => return Ok(ServerCertVerified::assertion()),
                Err(error) => last = Some(error),
            }
        }
        Err(last.unwrap_or_else(|| {
            rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure)
        }))
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

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

    fn sha256(bytes: &[u8]) -> Vec<u8> {
        digest::digest(&digest::SHA256, bytes).as_ref().to_vec()
    }

    fn now() -> UnixTime {
        UnixTime::now()
    }

    #[test]
    fn dane_ee_matches_certificate_and_key_by_every_matching_type() {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["unrelated.example".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = cert.der().clone();
        let spki = rcgen::PublicKeyData::subject_public_key_info(&key);
        let sha512 = digest::digest(&digest::SHA512, &spki).as_ref().to_vec();
        for (selector, matching, data) in [
            (0, 0, der.to_vec()),
            (0, 1, sha256(&der)),
            (1, 0, spki.clone()),
            (1, 1, sha256(&spki)),
            (1, 2, sha512),
        ] {
            let record = TlsaRecord {
                usage: 3,
                selector,
                matching,
                data,
            };
            assert!(tlsa_matches(&record, &der), "{selector} {matching}");
            // Names are ignored for DANE-EE: the certificate is for another host entirely.
            let verifier = DaneVerifier::new(&[record], &["mx.example.net".into()]);
            let name = ServerName::try_from("mx.example.net").unwrap();
            assert!(verifier
                .verify_server_cert(&der, &[], &name, &[], now())
                .is_ok());
        }
    }

    #[test]
    fn dane_ee_mismatch_and_pkix_usages_fail() {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["mx.example.net".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = cert.der().clone();
        let name = ServerName::try_from("mx.example.net").unwrap();
        let wrong = TlsaRecord {
            usage: 3,
            selector: 0,
            matching: 1,
            data: vec![0; 32],
        };
        let pkix = TlsaRecord {
            usage: 1,
            selector: 0,
            matching: 1,
            data: sha256(&der),
        };
        let verifier = DaneVerifier::new(&[wrong, pkix], &["mx.example.net".into()]);
        assert!(verifier
            .verify_server_cert(&der, &[], &name, &[], now())
            .is_err());
    }

    #[test]
    fn dane_ta_requires_chain_and_name() {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["mx.example.net".into()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        let ta = TlsaRecord {
            usage: 2,
            selector: 0,
            matching: 1,
            data: sha256(ca.der()),
        };
        let name = ServerName::try_from("mx.example.net").unwrap();
        let chain = [ca.der().clone()];

        let good = DaneVerifier::new(std::slice::from_ref(&ta), &["mx.example.net".into()]);
        assert!(good
            .verify_server_cert(leaf.der(), &chain, &name, &[], now())
            .is_ok());
        // The anchor must be in the presented chain.
        assert!(good
            .verify_server_cert(leaf.der(), &[], &name, &[], now())
            .is_err());
        // And the leaf must carry a reference name.
        let other = DaneVerifier::new(&[ta], &["mx.other.example".into()]);
        assert!(other
            .verify_server_cert(leaf.der(), &chain, &name, &[], now())
            .is_err());
    }
}
