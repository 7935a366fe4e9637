//! Sender authentication against seeded DNS: messages signed here with mail-auth's own signer and
//! sealer, and real messages from rspamd's fixtures with their signers' published keys
//! (`fixtures/public-keys.txt`). No test sends a packet beyond 127.0.0.1.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mail_auth::arc::ArcSealer;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use mail_auth::{ArcOutput, AuthenticatedMessage, AuthenticationResults};
use rampart_senderauth::finding::*;
use rampart_senderauth::{
    AuthConfig, AuthOutcome, AuthRequest, AuthResult, DmarcPolicy, DnsRecords, SenderAuth,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;

const RSA_2048_PEM: &str = include_str!("fixtures/dkim-rsa2048.pem");
const PUBLIC_KEYS: &str = include_str!("fixtures/public-keys.txt");
const RECEIVER: &str = "mx.rampart.test";
const PEER: &str = "192.0.2.10";
const STRANGER: &str = "198.51.100.7";

// ---------------------------------------------------------------------------------------------
// Helpers

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn request<'a>(raw: &'a [u8], peer: &str, helo: &'a str, mail_from: &'a str) -> AuthRequest<'a> {
    AuthRequest {
        raw,
        peer_ip: ip(peer),
        helo,
        mail_from,
        receiver: RECEIVER,
    }
}

fn seeded(records: DnsRecords) -> SenderAuth {
    SenderAuth::with_records(&AuthConfig::default(), records).unwrap()
}

fn names(outcome: &AuthOutcome) -> Vec<&str> {
    outcome.findings.iter().map(|f| f.name.as_str()).collect()
}

fn plain_message(from: &str, subject: &str, body: &str) -> String {
    format!(
        "From: Sender <{from}>\r\nTo: Bob <bob@rampart.test>\r\nSubject: {subject}\r\n\
         Date: Mon, 2 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{subject}.1@example.com>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    )
}

fn rsa_key() -> RsaKey<Sha256> {
    RsaKey::<Sha256>::from_key_der(PrivateKeyDer::from_pem_slice(RSA_2048_PEM.as_bytes()).unwrap())
        .unwrap()
}

/// A signing key (kept as its encoding: mail-auth's signers take keys by value) and the DKIM
/// record that publishes its public half.
enum TestKey {
    Rsa,
    Ed25519(Vec<u8>),
}

impl TestKey {
    fn rsa() -> Self {
        TestKey::Rsa
    }

    fn ed25519() -> Self {
        TestKey::Ed25519(Ed25519Key::generate_pkcs8().unwrap())
    }

    fn ed25519_key(pkcs8: &[u8]) -> Ed25519Key {
        Ed25519Key::from_pkcs8_der(pkcs8).unwrap()
    }

    fn dns_record(&self) -> String {
        match self {
            TestKey::Rsa => format!("v=DKIM1; k=rsa; p={}", base64(&rsa_key().public_key())),
            TestKey::Ed25519(pkcs8) => format!(
                "v=DKIM1; k=ed25519; p={}",
                base64(&Self::ed25519_key(pkcs8).public_key())
            ),
        }
    }

    /// Returns the message with a DKIM-Signature for `domain`/`selector` prepended.
    fn sign(&self, message: &str, domain: &str, selector: &str) -> String {
        const SIGNED: [&str; 5] = ["From", "To", "Subject", "Date", "Message-ID"];
        let header = match self {
            TestKey::Rsa => DkimSigner::from_key(rsa_key())
                .domain(domain)
                .selector(selector)
                .headers(SIGNED)
                .sign(message.as_bytes())
                .unwrap()
                .to_header(),
            TestKey::Ed25519(pkcs8) => DkimSigner::from_key(Self::ed25519_key(pkcs8))
                .domain(domain)
                .selector(selector)
                .headers(SIGNED)
                .sign(message.as_bytes())
                .unwrap()
                .to_header(),
        };
        format!("{header}{message}")
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The published keys of the rspamd fixtures' signers.
fn public_keys(mut records: DnsRecords) -> DnsRecords {
    for line in PUBLIC_KEYS.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line.split_once(' ').unwrap();
        records = records.txt(name, value);
    }
    records
}

/// rspamd's functional-test messages, unpacked once per test run under the target directory.
fn rspamd_fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let archive = std::env::var_os("RAMPART_CORPORA")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora")
            })
            .join("rspamd-fixtures.tar.xz");
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("senderauth-corpora");
        let dir = root.join("rspamd-fixtures");
        if !dir.join("messages").is_dir() {
            // nextest runs tests as separate processes: unpack privately, then rename into place.
            let staging = root.join(format!("staging-{}", std::process::id()));
            std::fs::create_dir_all(&staging).unwrap();
            let status = std::process::Command::new("tar")
                .arg("-xJf")
                .arg(&archive)
                .arg("-C")
                .arg(&staging)
                .status()
                .unwrap_or_else(|e| panic!("cannot run tar for {}: {e}", archive.display()));
            assert!(status.success(), "cannot unpack {}", archive.display());
            // Losing the race to another process is fine: its copy is identical.
            let _ = std::fs::rename(staging.join("rspamd-fixtures"), &dir);
            let _ = std::fs::remove_dir_all(&staging);
        }
        dir
    })
}

fn fixture(name: &str) -> Vec<u8> {
    let path = rspamd_fixtures().join("messages").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// SPF

fn spf_records() -> DnsRecords {
    DnsRecords::new()
        .txt("example.com", "v=spf1 ip4:192.0.2.0/24 -all")
        .txt("soft.example", "v=spf1 ip4:192.0.2.0/24 ~all")
        .txt("mail.example.org", "v=spf1 a -all")
        .a("mail.example.org", "192.0.2.10".parse().unwrap())
        .txt("example.net", "v=spf1 mx include:_spf.example.org -all")
        .mx("example.net", 10, "mx1.example.net")
        .a("mx1.example.net", "203.0.113.5".parse().unwrap())
        .txt("_spf.example.org", "v=spf1 ip4:192.0.2.0/24 -all")
}

#[tokio::test]
async fn passes_spf_when_the_peer_ip_is_in_the_envelope_domains_record() {
    let auth = seeded(spf_records());
    let raw = plain_message("ann@example.com", "spf", "hi\r\n");
    let out = auth
        .verify(&request(
            raw.as_bytes(),
            PEER,
            "gw.example.com",
            "ann@example.com",
        ))
        .await;
    assert_eq!(out.spf, AuthResult::Pass);
    assert!(!names(&out).iter().any(|n| n.starts_with("auth.spf")));
    assert!(out
        .authentication_results
        .contains("spf=pass (mx.rampart.test: domain of ann@example.com designates 192.0.2.10"));
    assert!(out
        .authentication_results
        .contains("smtp.mailfrom=ann@example.com"));
}

#[tokio::test]
async fn fails_spf_when_the_peer_ip_is_not_permitted() {
    let auth = seeded(spf_records());
    let raw = plain_message("ann@example.com", "spf", "hi\r\n");
    let out = auth
        .verify(&request(
            raw.as_bytes(),
            STRANGER,
            "gw.example.com",
            "ann@example.com",
        ))
        .await;
    assert_eq!(out.spf, AuthResult::Fail);
    let f = out.finding(SPF_FAIL).expect("auth.spf_fail");
    assert_eq!(f.score, 3.0);
    assert!(f.evidence[0].contains("smtp.mailfrom=ann@example.com ip=198.51.100.7"));
    assert!(out.authentication_results.contains("spf=fail"));
}

#[tokio::test]
async fn softfails_spf_for_a_tilde_all_record() {
    let auth = seeded(spf_records());
    let raw = plain_message("ann@soft.example", "spf", "hi\r\n");
    let out = auth
        .verify(&request(
            raw.as_bytes(),
            STRANGER,
            "gw.example.com",
            "ann@soft.example",
        ))
        .await;
    assert_eq!(out.spf, AuthResult::SoftFail);
    assert_eq!(out.finding(SPF_SOFTFAIL).map(|f| f.score), Some(1.0));
    assert!(out.finding(SPF_FAIL).is_none());
}

#[tokio::test]
async fn resolves_mx_and_include_mechanisms_from_seeded_records() {
    let auth = seeded(spf_records());
    let raw = plain_message("ann@example.net", "spf", "hi\r\n");
    let via_include = auth
        .verify(&request(
            raw.as_bytes(),
            PEER,
            "gw.example.net",
            "ann@example.net",
        ))
        .await;
    assert_eq!(via_include.spf, AuthResult::Pass);
    let via_mx = auth
        .verify(&request(
            raw.as_bytes(),
            "203.0.113.5",
            "gw.example.net",
            "ann@example.net",
        ))
        .await;
    assert_eq!(via_mx.spf, AuthResult::Pass);
}

#[tokio::test]
async fn checks_the_helo_identity_for_the_null_sender() {
    let auth = seeded(spf_records());
    let raw = plain_message("mailer-daemon@example.org", "bounce", "undeliverable\r\n");
    let pass = auth
        .verify(&request(raw.as_bytes(), PEER, "mail.example.org", ""))
        .await;
    assert_eq!(pass.spf_helo, AuthResult::Pass);
    assert_eq!(pass.spf, AuthResult::Pass);
    assert!(pass
        .authentication_results
        .contains("smtp.helo=mail.example.org"));

    let fail = auth
        .verify(&request(raw.as_bytes(), STRANGER, "mail.example.org", ""))
        .await;
    assert_eq!(fail.spf, AuthResult::Fail);
    let f = fail.finding(SPF_FAIL).expect("auth.spf_fail");
    assert!(f.evidence[0].starts_with("smtp.helo=mail.example.org"));
}

#[tokio::test]
async fn treats_a_helo_spf_fail_as_conclusive_even_when_mail_from_passes() {
    let auth = seeded(spf_records());
    let raw = plain_message("ann@example.com", "helo", "hi\r\n");
    let auth_denying_helo = seeded(spf_records().txt("relay.example.org", "v=spf1 -all"));
    let out = auth_denying_helo
        .verify(&request(
            raw.as_bytes(),
            PEER,
            "relay.example.org",
            "ann@example.com",
        ))
        .await;
    assert_eq!(out.spf, AuthResult::Pass);
    assert_eq!(out.spf_helo, AuthResult::Fail);
    let f = out.finding(SPF_FAIL).expect("auth.spf_fail");
    assert!(f.evidence[0].starts_with("smtp.helo=relay.example.org"));
    // And an address-literal HELO is no SPF identity at all.
    let literal = auth
        .verify(&request(
            raw.as_bytes(),
            PEER,
            "[192.0.2.10]",
            "ann@example.com",
        ))
        .await;
    assert_eq!(literal.spf_helo, AuthResult::None);
    assert_eq!(literal.spf, AuthResult::Pass);
}

#[tokio::test]
async fn reports_spf_none_and_no_finding_when_the_domain_has_no_record() {
    let auth = seeded(spf_records());
    let raw = plain_message("ann@norecord.example", "spf", "hi\r\n");
    let out = auth
        .verify(&request(
            raw.as_bytes(),
            PEER,
            "gw.norecord.example",
            "ann@norecord.example",
        ))
        .await;
    assert_eq!(out.spf, AuthResult::None);
    assert!(out.findings.is_empty(), "{:?}", out.findings);
    assert!(out.authentication_results.contains("spf=none"));
}

// ---------------------------------------------------------------------------------------------
// DKIM

async fn signed_and_verified(key: TestKey, tamper: impl Fn(String) -> String) -> AuthOutcome {
    let raw = key.sign(
        &plain_message("ann@example.com", "dkim", "Quarterly numbers attached.\r\n"),
        "example.com",
        "sel1",
    );
    let auth = seeded(DnsRecords::new().txt("sel1._domainkey.example.com", &key.dns_record()));
    let raw = tamper(raw);
    auth.verify(&request(
        raw.as_bytes(),
        PEER,
        "gw.example.com",
        "ann@example.com",
    ))
    .await
}

#[tokio::test]
async fn passes_dkim_for_a_message_signed_with_rsa_2048() {
    let out = signed_and_verified(TestKey::rsa(), |m| m).await;
    assert_eq!(out.dkim.len(), 1);
    assert_eq!(out.dkim[0].domain, "example.com");
    assert_eq!(out.dkim[0].selector, "sel1");
    assert_eq!(out.dkim[0].result, AuthResult::Pass);
    assert!(out.finding(DKIM_FAIL).is_none());
    assert!(out
        .authentication_results
        .contains("dkim=pass header.d=example.com header.s=sel1"));
}

#[tokio::test]
async fn passes_dkim_for_a_message_signed_with_ed25519() {
    let out = signed_and_verified(TestKey::ed25519(), |m| m).await;
    assert_eq!(out.dkim[0].result, AuthResult::Pass);
    assert!(out.finding(DKIM_FAIL).is_none());
}

#[tokio::test]
async fn fails_dkim_when_the_body_was_altered_after_signing() {
    let out = signed_and_verified(TestKey::rsa(), |m| {
        m.replace("Quarterly numbers attached.", "Wire 40,000 USD today.")
    })
    .await;
    assert_eq!(out.dkim[0].result, AuthResult::Fail);
    let f = out.finding(DKIM_FAIL).expect("auth.dkim_fail");
    assert_eq!(f.score, 2.0);
    assert!(
        f.evidence[0].contains("d=example.com s=sel1: Calculated body hash does not match"),
        "{f:?}"
    );
    assert!(out
        .authentication_results
        .contains("dkim=fail (body hash did not verify) header.d=example.com"));
}

#[tokio::test]
async fn fails_dkim_when_a_signed_header_was_altered_after_signing() {
    let out = signed_and_verified(TestKey::ed25519(), |m| {
        m.replace("Subject: dkim", "Subject: urgent")
    })
    .await;
    assert_eq!(out.dkim[0].result, AuthResult::Fail);
    assert!(out.finding(DKIM_FAIL).is_some());
}

#[tokio::test]
async fn fails_dkim_when_the_signing_key_is_not_published() {
    let key = TestKey::rsa();
    let raw = key.sign(
        &plain_message("ann@example.com", "dkim", "x\r\n"),
        "example.com",
        "gone",
    );
    let out = seeded(DnsRecords::new())
        .verify(&request(
            raw.as_bytes(),
            PEER,
            "gw.example.com",
            "ann@example.com",
        ))
        .await;
    assert_eq!(out.dkim[0].result, AuthResult::PermError);
    assert!(out.finding(DKIM_FAIL).is_some());
    assert!(out.finding(DNS_TEMPERROR).is_none());
}

#[tokio::test]
async fn reports_no_dkim_finding_for_an_unsigned_message() {
    let raw = plain_message("ann@example.com", "plain", "hi\r\n");
    let out = seeded(DnsRecords::new())
        .verify(&request(
            raw.as_bytes(),
            PEER,
            "gw.example.com",
            "ann@example.com",
        ))
        .await;
    assert!(out.dkim.is_empty());
    assert!(out.findings.is_empty(), "{:?}", out.findings);
    assert!(out.authentication_results.contains("dkim=none"));
}

#[tokio::test]
async fn verifies_the_rfc_8463_ed25519_and_rsa_signatures_of_an_rspamd_fixture() {
    let raw = fixture("ed25519.eml");
    let auth = seeded(
        public_keys(DnsRecords::new()).txt("_dmarc.football.example.com", "v=DMARC1; p=reject"),
    );
    let out = auth
        .verify(&request(
            &raw,
            PEER,
            "mail.football.example.com",
            "joe@football.example.com",
        ))
        .await;
    assert_eq!(out.dkim.len(), 2);
    assert!(
        out.dkim.iter().all(|s| s.result == AuthResult::Pass),
        "{:?}",
        out.dkim
    );
    assert_eq!(out.dmarc, AuthResult::Pass);
    assert_eq!(out.dmarc_policy, Some(DmarcPolicy::Reject));
    assert_eq!(names(&out), [DMARC_PASS]);
}

#[tokio::test]
async fn fails_both_signatures_of_the_rspamd_fixture_whose_from_was_rewritten() {
    // ed25519-broken.eml is ed25519.eml with From changed to joe@evil.example.com; example.com
    // publishes p=none for itself and sp=reject for its subdomains.
    let raw = fixture("ed25519-broken.eml");
    let auth = seeded(
        public_keys(DnsRecords::new()).txt("_dmarc.example.com", "v=DMARC1; p=none; sp=reject"),
    );
    let out = auth
        .verify(&request(
            &raw,
            PEER,
            "mail.evil.example.com",
            "joe@evil.example.com",
        ))
        .await;
    assert_eq!(out.from_domain.as_deref(), Some("evil.example.com"));
    assert!(
        out.dkim.iter().all(|s| s.result == AuthResult::Fail),
        "{:?}",
        out.dkim
    );
    assert_eq!(out.finding(DKIM_FAIL).unwrap().evidence.len(), 2);
    assert_eq!(out.dmarc, AuthResult::Fail);
    assert_eq!(out.dmarc_policy, Some(DmarcPolicy::Reject));
    assert!(out.finding(DMARC_REJECT).is_some());
}

// ---------------------------------------------------------------------------------------------
// DMARC

struct DmarcCase {
    from: &'static str,
    signer: Option<&'static str>,
    mail_from: &'static str,
    peer: &'static str,
    dmarc: &'static str,
}

/// Records: the signer's key, `v=spf1 ip4:192.0.2.0/24 -all` for every envelope domain used,
/// and `dmarc` at `_dmarc.example.com`.
async fn dmarc_case(case: DmarcCase) -> AuthOutcome {
    let key = TestKey::ed25519();
    let mut raw = plain_message(case.from, "dmarc", "Please review.\r\n");
    let mut records = DnsRecords::new()
        .txt("_dmarc.example.com", case.dmarc)
        .txt("example.com", "v=spf1 ip4:192.0.2.0/24 -all")
        .txt("bounce.example.com", "v=spf1 ip4:192.0.2.0/24 -all")
        .txt("attacker.example", "v=spf1 ip4:198.51.100.0/24 -all");
    if let Some(signer) = case.signer {
        raw = key.sign(&raw, signer, "s1");
        records = records.txt(&format!("s1._domainkey.{signer}"), &key.dns_record());
    }
    seeded(records)
        .verify(&request(
            raw.as_bytes(),
            case.peer,
            "gw.example.net",
            case.mail_from,
        ))
        .await
}

#[tokio::test]
async fn passes_dmarc_with_an_aligned_dkim_signature() {
    let out = dmarc_case(DmarcCase {
        from: "ann@example.com",
        signer: Some("example.com"),
        mail_from: "ann@unrelated.example",
        peer: PEER,
        dmarc: "v=DMARC1; p=reject",
    })
    .await;
    assert_eq!(out.dmarc, AuthResult::Pass);
    assert_eq!(out.dmarc_policy, Some(DmarcPolicy::Reject));
    assert_eq!(out.finding(DMARC_PASS).map(|f| f.score), Some(-2.0));
    assert!(out.finding(DMARC_FAIL).is_none() && out.finding(DMARC_REJECT).is_none());
    assert!(out
        .authentication_results
        .contains("dmarc=pass header.from=example.com policy.dmarc=reject"));
}

#[tokio::test]
async fn fails_dmarc_with_p_reject_when_only_an_unaligned_domain_authenticates() {
    // A valid signature and an SPF pass, both for attacker.example, on mail "from" example.com.
    let out = dmarc_case(DmarcCase {
        from: "ceo@example.com",
        signer: Some("attacker.example"),
        mail_from: "bounce@attacker.example",
        peer: STRANGER,
        dmarc: "v=DMARC1; p=reject",
    })
    .await;
    assert_eq!(out.spf, AuthResult::Pass);
    assert_eq!(out.dkim[0].result, AuthResult::Pass);
    assert_eq!(out.dmarc, AuthResult::Fail);
    assert_eq!(out.dmarc_policy, Some(DmarcPolicy::Reject));
    assert_eq!(out.finding(DMARC_FAIL).map(|f| f.score), Some(5.0));
    assert_eq!(out.finding(DMARC_REJECT).map(|f| f.score), Some(12.0));
    assert!(out.finding(DMARC_PASS).is_none());
    assert!(out.authentication_results.contains("dmarc=fail"));
}

#[tokio::test]
async fn reports_dmarc_quarantine_when_the_failing_domain_asks_for_it() {
    let out = dmarc_case(DmarcCase {
        from: "ceo@example.com",
        signer: None,
        mail_from: "bounce@attacker.example",
        peer: STRANGER,
        dmarc: "v=DMARC1; p=quarantine",
    })
    .await;
    assert_eq!(out.dmarc, AuthResult::Fail);
    assert_eq!(out.finding(DMARC_QUARANTINE).map(|f| f.score), Some(8.0));
    assert!(out.finding(DMARC_REJECT).is_none());
}

#[tokio::test]
async fn reports_only_dmarc_fail_when_the_failing_domain_publishes_p_none() {
    let out = dmarc_case(DmarcCase {
        from: "ceo@example.com",
        signer: None,
        mail_from: "bounce@attacker.example",
        peer: STRANGER,
        dmarc: "v=DMARC1; p=none",
    })
    .await;
    assert_eq!(out.dmarc, AuthResult::Fail);
    assert_eq!(out.dmarc_policy, Some(DmarcPolicy::None));
    assert!(out.finding(DMARC_FAIL).is_some());
    assert!(out.finding(DMARC_REJECT).is_none() && out.finding(DMARC_QUARANTINE).is_none());
}

#[tokio::test]
async fn passes_relaxed_dkim_alignment_for_a_subdomain_signature() {
    let out = dmarc_case(DmarcCase {
        from: "ann@example.com",
        signer: Some("mail.example.com"),
        mail_from: "ann@unrelated.example",
        peer: PEER,
        dmarc: "v=DMARC1; p=reject",
    })
    .await;
    assert_eq!(out.dkim[0].result, AuthResult::Pass);
    assert_eq!(out.dmarc, AuthResult::Pass);
}

#[tokio::test]
async fn fails_dmarc_when_the_dkim_domain_is_not_aligned_under_strict_alignment() {
    let out = dmarc_case(DmarcCase {
        from: "ann@example.com",
        signer: Some("mail.example.com"),
        mail_from: "ann@unrelated.example",
        peer: PEER,
        dmarc: "v=DMARC1; p=reject; adkim=s",
    })
    .await;
    assert_eq!(out.dkim[0].result, AuthResult::Pass);
    assert_eq!(out.dmarc, AuthResult::Fail);
    assert!(out.finding(DMARC_REJECT).is_some());
}

#[tokio::test]
async fn aligns_spf_relaxed_but_not_strict_for_a_subdomain_envelope() {
    let relaxed = dmarc_case(DmarcCase {
        from: "ann@example.com",
        signer: None,
        mail_from: "ann@bounce.example.com",
        peer: PEER,
        dmarc: "v=DMARC1; p=quarantine",
    })
    .await;
    assert_eq!(relaxed.spf, AuthResult::Pass);
    assert_eq!(relaxed.dmarc, AuthResult::Pass);

    let strict = dmarc_case(DmarcCase {
        from: "ann@example.com",
        signer: None,
        mail_from: "ann@bounce.example.com",
        peer: PEER,
        dmarc: "v=DMARC1; p=quarantine; aspf=s",
    })
    .await;
    assert_eq!(strict.spf, AuthResult::Pass);
    assert_eq!(strict.dmarc, AuthResult::Fail);
    assert!(strict.finding(DMARC_QUARANTINE).is_some());
}

#[tokio::test]
async fn applies_the_subdomain_policy_to_mail_from_a_subdomain() {
    let out = dmarc_case(DmarcCase {
        from: "news@news.example.com",
        signer: None,
        mail_from: "bounce@attacker.example",
        peer: STRANGER,
        dmarc: "v=DMARC1; p=reject; sp=quarantine",
    })
    .await;
    assert_eq!(out.from_domain.as_deref(), Some("news.example.com"));
    assert_eq!(out.dmarc, AuthResult::Fail);
    assert_eq!(out.dmarc_policy, Some(DmarcPolicy::Quarantine));
    assert!(out.finding(DMARC_QUARANTINE).is_some());
    assert!(out.finding(DMARC_REJECT).is_none());
}

#[tokio::test]
async fn softens_the_policy_one_level_in_testing_mode() {
    let out = dmarc_case(DmarcCase {
        from: "ceo@example.com",
        signer: None,
        mail_from: "bounce@attacker.example",
        peer: STRANGER,
        dmarc: "v=DMARC1; p=reject; t=y",
    })
    .await;
    assert_eq!(out.dmarc_policy, Some(DmarcPolicy::Quarantine));
    assert!(out.finding(DMARC_QUARANTINE).is_some());
}

#[tokio::test]
async fn ignores_pct_as_rfc_9989_does() {
    // RFC 9989 removed pct (t=y replaces pct=0): the stated policy applies to every message,
    // so policy decisions do not depend on a coin toss.
    let out = dmarc_case(DmarcCase {
        from: "ceo@example.com",
        signer: None,
        mail_from: "bounce@attacker.example",
        peer: STRANGER,
        dmarc: "v=DMARC1; p=reject; pct=0",
    })
    .await;
    assert_eq!(out.dmarc_policy, Some(DmarcPolicy::Reject));
    assert!(out.finding(DMARC_REJECT).is_some());
}

#[tokio::test]
async fn reports_dmarc_none_without_a_policy_record() {
    let key = TestKey::ed25519();
    let raw = key.sign(
        &plain_message("ann@example.org", "x", "y\r\n"),
        "example.org",
        "s1",
    );
    let auth = seeded(DnsRecords::new().txt("s1._domainkey.example.org", &key.dns_record()));
    let out = auth
        .verify(&request(
            raw.as_bytes(),
            PEER,
            "gw.example.org",
            "ann@example.org",
        ))
        .await;
    assert_eq!(out.dmarc, AuthResult::None);
    assert_eq!(out.dmarc_policy, None);
    assert!(out.findings.is_empty(), "{:?}", out.findings);
}

#[tokio::test]
async fn writes_one_authentication_results_entry_per_method() {
    let out = dmarc_case(DmarcCase {
        from: "ann@example.com",
        signer: Some("example.com"),
        mail_from: "ann@bounce.example.com",
        peer: PEER,
        dmarc: "v=DMARC1; p=reject",
    })
    .await;
    let entries: Vec<&str> = out.authentication_results.split(";\r\n\t").collect();
    assert_eq!(entries[0], RECEIVER);
    assert!(entries[1].starts_with("spf=none (mx.rampart.test: no SPF records found for postmaster@gw.example.net) smtp.helo=gw.example.net"));
    assert!(entries[2].starts_with("spf=pass (mx.rampart.test: domain of ann@bounce.example.com designates 192.0.2.10 as permitted sender)"));
    assert!(entries[2].ends_with("smtp.mailfrom=ann@bounce.example.com"));
    assert!(entries[3].starts_with("dkim=pass header.d=example.com header.s=s1 header.b="));
    assert_eq!(
        entries[4],
        "dmarc=pass header.from=example.com policy.dmarc=reject"
    );
    assert_eq!(entries[5], "arc=none smtp.remote-ip=192.0.2.10");
    assert_eq!(entries.len(), 6);
}

// ---------------------------------------------------------------------------------------------
// ARC

#[tokio::test]
async fn passes_the_arc_chain_of_an_rspamd_fixture_relayed_by_microsoft_and_google() {
    let raw = fixture("arcallow.eml");
    let out = seeded(public_keys(DnsRecords::new()))
        .verify(&request(
            &raw,
            "209.85.220.41",
            "mail-sor-f41.google.com",
            "testcpsf@outlook.com",
        ))
        .await;
    assert_eq!(out.arc, AuthResult::Pass);
    assert!(out.finding(ARC_FAIL).is_none());
    assert!(out.authentication_results.contains("arc=pass"));
}

#[tokio::test]
async fn fails_the_arc_chain_of_the_rspamd_fixture_modified_after_sealing() {
    // arcbad.eml: sealed by Microsoft, then rewritten by a mailing list.
    let raw = fixture("arcbad.eml");
    let out = seeded(public_keys(DnsRecords::new()))
        .verify(&request(
            &raw,
            "96.47.72.81",
            "mx2.freebsd.org",
            "owner-freebsd-test@freebsd.org",
        ))
        .await;
    assert_eq!(out.arc, AuthResult::Fail);
    let f = out.finding(ARC_FAIL).unwrap();
    assert_eq!(f.score, 2.0);
    assert!(f.evidence[0].starts_with("arc=fail: "), "{f:?}");
    assert!(out.authentication_results.contains("arc=fail"));
}

fn arc_sealed(message: &str) -> String {
    let parsed = AuthenticatedMessage::parse(message.as_bytes()).unwrap();
    let results = AuthenticationResults::new("relay.example.net");
    let set = ArcSealer::from_key(rsa_key())
        .domain("example.net")
        .selector("arc1")
        .headers(["From", "To", "Subject", "Date", "Message-ID"])
        .seal(&parsed, &results, &ArcOutput::default())
        .unwrap();
    format!("{}{message}", set.to_header())
}

#[tokio::test]
async fn passes_an_arc_chain_sealed_here_and_fails_it_once_the_body_changes() {
    let sealed = arc_sealed(&plain_message(
        "ann@example.com",
        "arc",
        "Forwarded once.\r\n",
    ));
    let records =
        DnsRecords::new().txt("arc1._domainkey.example.net", &TestKey::rsa().dns_record());
    let auth = seeded(records);
    let intact = auth
        .verify(&request(
            sealed.as_bytes(),
            PEER,
            "relay.example.net",
            "ann@example.com",
        ))
        .await;
    assert_eq!(intact.arc, AuthResult::Pass);

    let tampered = sealed.replace("Forwarded once.", "Forwarded twice.");
    let broken = auth
        .verify(&request(
            tampered.as_bytes(),
            PEER,
            "relay.example.net",
            "ann@example.com",
        ))
        .await;
    assert_eq!(broken.arc, AuthResult::Fail);
    assert!(broken.finding(ARC_FAIL).is_some());
}

#[tokio::test]
async fn reports_arc_none_without_arc_headers() {
    let raw = plain_message("ann@example.com", "x", "y\r\n");
    let out = seeded(DnsRecords::new())
        .verify(&request(
            raw.as_bytes(),
            PEER,
            "gw.example.com",
            "ann@example.com",
        ))
        .await;
    assert_eq!(out.arc, AuthResult::None);
    assert!(out
        .authentication_results
        .contains("arc=none smtp.remote-ip=192.0.2.10"));
}

// ---------------------------------------------------------------------------------------------
// From header

#[tokio::test]
async fn exposes_the_from_domain_of_every_rspamd_from_fixture() {
    let auth = seeded(DnsRecords::new());
    let dir = rspamd_fixtures().join("messages/from");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let raw = std::fs::read(&path).unwrap();
        let out = auth
            .verify(&request(&raw, PEER, "gw.example.org", "user@example.org"))
            .await;
        assert_eq!(
            out.from_domain.as_deref(),
            Some("example.org"),
            "{}",
            path.display()
        );
        assert_eq!(
            out.from_addresses,
            ["user@example.org"],
            "{}",
            path.display()
        );
        assert!(out.finding(NO_FROM).is_none());
        seen += 1;
    }
    assert!(seen >= 9);
}

#[tokio::test]
async fn reports_no_from_for_a_message_without_a_from_address() {
    let raw = b"To: bob@rampart.test\r\nSubject: anonymous\r\n\r\nhi\r\n";
    let out = seeded(DnsRecords::new())
        .verify(&request(raw, PEER, "gw.example.com", "ann@example.com"))
        .await;
    assert_eq!(out.from_domain, None);
    assert_eq!(out.finding(NO_FROM).map(|f| f.score), Some(3.0));
    assert_eq!(out.dmarc, AuthResult::None);
    assert!(out.authentication_results.contains("dmarc=none"));
}

#[tokio::test]
async fn reports_no_from_for_a_message_with_several_from_addresses() {
    let raw = b"From: a@example.com, b@example.org\r\nSubject: two authors\r\n\r\nhi\r\n";
    let out = seeded(DnsRecords::new().txt("_dmarc.example.com", "v=DMARC1; p=reject"))
        .verify(&request(raw, PEER, "gw.example.com", "a@example.com"))
        .await;
    assert_eq!(out.from_addresses.len(), 2);
    assert_eq!(out.from_domain, None);
    let f = out.finding(NO_FROM).unwrap();
    assert!(f.evidence[0].starts_with("2 From addresses"));
    // DMARC cannot evaluate several author domains (RFC 9989 §4.10.1): no verdict, no policy.
    assert_eq!(out.dmarc, AuthResult::None);
}

// ---------------------------------------------------------------------------------------------
// DNS failures

fn closed_udp_port() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap()
    // Dropped here: nothing listens on the port any more.
}

#[tokio::test]
async fn reports_temperror_quickly_when_the_nameserver_port_is_closed() {
    let config = AuthConfig {
        nameservers: vec![closed_udp_port()],
        dns_timeout: Duration::from_millis(200),
        dns_attempts: 1,
        verify_budget: Duration::from_secs(5),
        ..AuthConfig::default()
    };
    let auth = SenderAuth::new(&config).unwrap();
    let key = TestKey::ed25519();
    let raw = key.sign(
        &plain_message("ann@example.com", "x", "y\r\n"),
        "example.com",
        "s1",
    );
    let started = Instant::now();
    let out = auth
        .verify(&request(
            raw.as_bytes(),
            PEER,
            "gw.example.com",
            "ann@example.com",
        ))
        .await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert_eq!(out.spf, AuthResult::TempError);
    assert_eq!(out.dkim[0].result, AuthResult::TempError);
    assert_eq!(out.dmarc, AuthResult::TempError);
    let f = out.finding(DNS_TEMPERROR).expect("auth.dns_temperror");
    assert_eq!(f.score, 0.5);
    // A DNS outage is never evidence against the sender.
    assert!(out.finding(SPF_FAIL).is_none() && out.finding(DKIM_FAIL).is_none());
    assert!(out.finding(DMARC_FAIL).is_none());
    assert!(out.authentication_results.contains("spf=temperror"));
}

#[tokio::test]
async fn stops_at_the_verification_budget_when_the_nameserver_never_answers() {
    // A socket that receives queries and never replies: each lookup would wait 30 s.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let config = AuthConfig {
        nameservers: vec![silent.local_addr().unwrap()],
        dns_timeout: Duration::from_secs(30),
        dns_attempts: 1,
        verify_budget: Duration::from_millis(300),
        ..AuthConfig::default()
    };
    let auth = SenderAuth::new(&config).unwrap();
    let key = TestKey::ed25519();
    let raw = key.sign(
        &plain_message("ann@example.com", "x", "y\r\n"),
        "example.com",
        "s1",
    );
    let started = Instant::now();
    let out = auth
        .verify(&request(
            raw.as_bytes(),
            PEER,
            "gw.example.com",
            "ann@example.com",
        ))
        .await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    assert_eq!(out.spf, AuthResult::TempError);
    assert_eq!(out.spf_helo, AuthResult::TempError);
    assert_eq!(out.dkim[0].result, AuthResult::TempError);
    assert_eq!(out.dmarc, AuthResult::TempError);
    assert!(out.finding(DNS_TEMPERROR).is_some());
    drop(silent);
}

#[tokio::test]
async fn answers_unseeded_address_lookups_with_a_quick_temperror_in_seeded_mode() {
    // A seeded SenderAuth has no nameserver: a host the test forgot to seed must not hang, and
    // must not look like a policy result either.
    let auth = seeded(DnsRecords::new().txt("example.com", "v=spf1 a:unseeded.example.com -all"));
    let raw = plain_message("ann@example.com", "x", "y\r\n");
    let started = Instant::now();
    let out = auth
        .verify(&request(
            raw.as_bytes(),
            PEER,
            "gw.example.com",
            "ann@example.com",
        ))
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(out.spf, AuthResult::TempError);
    assert!(out.finding(DNS_TEMPERROR).is_some());
}

// ---------------------------------------------------------------------------------------------
// Malformed input

#[tokio::test]
async fn gives_none_results_and_findings_for_garbage_without_panicking() {
    let auth = seeded(spf_records());
    let mut inputs: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"\r\n\r\n".to_vec(),
        vec![0u8; 4096],
        (0..=255u8).cycle().take(70_000).collect(),
        b"From:\r\n\r\n".to_vec(),
        b"From: <@>\r\nDKIM-Signature: v=1; a=rsa-sha256; d=; s=; b=!!!; bh=???\r\n\r\nx".to_vec(),
        b"DKIM-Signature: garbage\r\nARC-Seal: i=99; cv=maybe\r\nFrom: a@example.com\r\n\r\n"
            .to_vec(),
        b"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.net; s=x; b=AAAA\r\n\
          ARC-Message-Signature: i=1; a=rsa-sha256; d=example.net; s=x; h=from; bh=AAAA; b=AAAA\r\n\
          From: a@example.com\r\n\r\nbody"
            .to_vec(),
        format!("Subject: {}\r\n\r\n", "x".repeat(100_000)).into_bytes(),
    ];
    // A byte-flipped copy of a signed message.
    let signed = TestKey::rsa().sign(
        &plain_message("a@example.com", "s", "b\r\n"),
        "example.com",
        "s",
    );
    inputs.push(
        signed
            .bytes()
            .map(|b| if b == b';' { b'\0' } else { b })
            .collect(),
    );

    for raw in &inputs {
        let out = auth
            .verify(&request(raw, PEER, "gw.example.com", "ann@example.com"))
            .await;
        assert!(out.authentication_results.starts_with("mx.rampart.test;"));
        assert_eq!(
            out.spf,
            AuthResult::Pass,
            "the envelope still authenticates"
        );
        assert!(matches!(out.dmarc, AuthResult::None | AuthResult::Fail));
        assert!(!out.authentication_results.contains("header.from=;"));
    }
    let empty = auth
        .verify(&request(b"", PEER, "gw.example.com", "ann@example.com"))
        .await;
    assert!(empty.dkim.is_empty());
    assert_eq!(empty.arc, AuthResult::None);
    assert_eq!(names(&empty), [NO_FROM]);

    let malformed_signature = auth
        .verify(&request(
            &inputs[6],
            PEER,
            "gw.example.com",
            "ann@example.com",
        ))
        .await;
    let f = malformed_signature
        .finding(DKIM_FAIL)
        .expect("auth.dkim_fail");
    assert!(
        f.evidence[0].starts_with("malformed DKIM-Signature"),
        "{f:?}"
    );
}

#[tokio::test]
async fn never_panics_on_any_rspamd_fixture() {
    let auth = seeded(public_keys(spf_records()));
    let mut stack = vec![rspamd_fixtures().join("messages")];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let raw = std::fs::read(&path).unwrap();
            let out = auth
                .verify(&request(&raw, PEER, "gw.example.com", "ann@example.com"))
                .await;
            assert!(out.authentication_results.starts_with("mx.rampart.test;"));
            seen += 1;
        }
    }
    assert!(seen > 200, "only {seen} fixtures");
}

// ---------------------------------------------------------------------------------------------
// Timing (run with `cargo nextest run -p rampart-senderauth --run-ignored only --no-capture`)

#[tokio::test]
#[ignore = "measurement, not a check"]
async fn measures_verify_time_with_every_record_cached() {
    let body: String = (0..130)
        .map(|i| {
            format!("Line {i:03} of the quarterly report, with enough words to be realistic.\r\n")
        })
        .collect();
    for (label, key) in [
        ("rsa-2048", TestKey::rsa()),
        ("ed25519", TestKey::ed25519()),
    ] {
        let raw = key.sign(
            &plain_message("ann@example.com", "timing", &body),
            "example.com",
            "s1",
        );
        let auth = seeded(
            DnsRecords::new()
                .txt("s1._domainkey.example.com", &key.dns_record())
                .txt("example.com", "v=spf1 ip4:192.0.2.0/24 -all")
                .txt("gw.example.com", "v=spf1 ip4:192.0.2.0/24 -all")
                .txt("_dmarc.example.com", "v=DMARC1; p=reject"),
        );
        let req = request(raw.as_bytes(), PEER, "gw.example.com", "ann@example.com");
        let first = auth.verify(&req).await;
        assert_eq!(first.dmarc, AuthResult::Pass);
        let rounds = 2000;
        let started = Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(auth.verify(&req).await);
        }
        let per = started.elapsed() / rounds;
        println!(
            "{label}: {} byte message, verify() = {per:?} per message",
            raw.len()
        );
    }
}

/// A real Enron spam on which mail-parser 0.11.9's full parse panics; authentication only reads
/// headers and must come through it.
#[tokio::test]
async fn survives_the_message_shape_that_panics_mail_parser() {
    let raw = b"From: a@b.test\r\nSubject: x\r\nMime-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"NP\"\r\n\r\npreamble\r\n\r\n--NP\r\n\
Content-Type: message/delivery-status; name=\"attach3\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
Q29udGVudC1UeXBlOiBtZXNzYWdlL2RlbGl2ZXJ5LXN0YXR1cwoKUmVwb3J0\r\n\r\n\r\n--NP\r\n\
Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@d.test\r\n\
Content-Type: text/html\r\n\r\n<html>inner</html>\r\n\r\n--NP--\r\n";
    let auth = seeded(DnsRecords::new());
    let outcome = auth
        .verify(&request(raw, "192.0.2.1", "mx.b.test", "a@b.test"))
        .await;
    assert_eq!(outcome.from_domain.as_deref(), Some("b.test"));
}
