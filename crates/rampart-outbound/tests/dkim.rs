//! DKIM keys on disk and signatures checked by mail-auth's own verifier, with the DNS records
//! served from memory (no query leaves the test).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::hickory_resolver::config::{ResolverConfig, ResolverOpts};
use mail_auth::{
    AuthenticatedMessage, DkimResult, MessageAuthenticator, Parameters, ResolverCache, Txt,
};
use rampart_outbound::dkim::{self, Algorithm, DkimError, DkimKeys, KeyInfo};

const MESSAGE: &str = concat!(
    "From: Ann <ann@example.com>\r\n",
    "To: bob@example.net\r\n",
    "Subject: Quarterly numbers\r\n",
    "Date: Mon, 2 Mar 2026 10:00:00 +0000\r\n",
    "Message-ID: <q1@example.com>\r\n",
    "MIME-Version: 1.0\r\n",
    "Content-Type: text/plain; charset=utf-8\r\n",
    "\r\n",
    "The numbers are attached.\r\n",
);

/// Published DKIM records, answered from memory: mail-auth asks its TXT cache before the network.
struct Records(HashMap<Box<str>, Txt>);

impl Records {
    fn of(keys: &[&KeyInfo]) -> Records {
        Records(
            keys.iter()
                .map(|key| {
                    let record =
                        DomainKey::parse(key.txt.as_bytes()).expect("published record parses");
                    (
                        format!("{}.", key.dns_name).into_boxed_str(),
                        Txt::from(record),
                    )
                })
                .collect(),
        )
    }
}

impl ResolverCache<Box<str>, Txt> for Records {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.get(name).cloned()
    }

    fn remove<Q>(&self, _: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }

    fn insert(&self, _: Box<str>, _: Txt, _: std::time::Instant) {}
}

/// The DKIM results mail-auth reaches for `message`, one per signature.
async fn verify(message: &[u8], records: &Records) -> Vec<DkimResult> {
    // No nameservers: a record missing from `records` fails instead of reaching the network.
    let authenticator = MessageAuthenticator::new(
        ResolverConfig::from_name_servers(Vec::new()),
        ResolverOpts::default(),
    )
    .expect("resolver");
    let parsed = AuthenticatedMessage::parse(message).expect("message parses");
    authenticator
        .verify_dkim(Parameters::new(&parsed).with_txt_cache(records))
        .await
        .into_iter()
        .map(|output| output.result().clone())
        .collect()
}

fn signed(keys: &DkimKeys, message: &str) -> Vec<u8> {
    let headers = keys
        .sign(message.as_bytes())
        .expect("signs")
        .expect("a key applies");
    [headers.as_bytes(), message.as_bytes()].concat()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn generated_rsa_and_ed25519_keys_dual_sign_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let rsa = dkim::generate(dir.path(), "Example.com", "rsa1", Algorithm::Rsa2048, false).unwrap();
    let ed = dkim::generate(dir.path(), "example.com", "ed1", Algorithm::Ed25519, false).unwrap();

    assert_eq!(rsa.path, dir.path().join("example.com/rsa1.pem"));
    assert_eq!(rsa.dns_name, "rsa1._domainkey.example.com");
    assert!(
        rsa.txt
            .starts_with("v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A"),
        "{}",
        rsa.txt
    );
    assert!(ed.txt.starts_with("v=DKIM1; k=ed25519; p="), "{}", ed.txt);
    // 32 raw bytes are 44 base64 characters.
    assert_eq!(ed.txt.rsplit_once("p=").unwrap().1.len(), 44);
    assert_eq!(mode(&rsa.path), 0o600);
    assert_eq!(mode(&ed.path), 0o600);
    assert_eq!(mode(&dir.path().join("example.com")), 0o700);
    assert!(std::fs::read_to_string(&ed.path)
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(std::fs::read_to_string(&rsa.path)
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));

    assert_eq!(
        dkim::list(dir.path()).unwrap(),
        vec![ed.clone(), rsa.clone()]
    );

    let keys = DkimKeys::load(dir.path()).unwrap();
    assert_eq!(keys.domains(), ["example.com"]);
    let message = signed(&keys, MESSAGE);
    let text = String::from_utf8_lossy(&message);
    assert_eq!(text.matches("DKIM-Signature: ").count(), 2, "{text}");
    assert!(text.contains("a=ed25519-sha256") && text.contains("a=rsa-sha256"));
    assert!(text.contains("c=relaxed/relaxed"));
    assert!(text.contains(" t="), "t= is set");
    assert!(
        !text.contains(" l=") && !text.contains(" x="),
        "no body length, no expiry"
    );
    let records = Records::of(&[&rsa, &ed]);
    assert_eq!(
        verify(&message, &records).await,
        [DkimResult::Pass, DkimResult::Pass]
    );

    // Tampering with the body or a signed header breaks both signatures.
    let tampered = String::from_utf8(message.clone())
        .unwrap()
        .replace("numbers are attached", "numbers are wrong");
    for result in verify(tampered.as_bytes(), &records).await {
        assert!(
            matches!(result, DkimResult::Neutral(_) | DkimResult::Fail(_)),
            "{result:?}"
        );
    }
    let added_from = [b"From: mallory@example.org\r\n".as_slice(), &message].concat();
    for result in verify(&added_from, &records).await {
        assert!(
            matches!(result, DkimResult::Fail(_)),
            "oversigned From: {result:?}"
        );
    }

    // Older tooling (opendkim-genkey, `openssl genrsa`) writes PKCS#1 ("BEGIN RSA PRIVATE KEY");
    // such a key loads and lists too. Converted from the key above: one slow generation is enough.
    let legacy = dir.path().join("legacy.example");
    std::fs::create_dir(&legacy).unwrap();
    std::fs::write(legacy.join("old.pem"), pkcs1_pem(&rsa.path)).unwrap();
    let listed = dkim::list(dir.path()).unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(
        (listed[2].algorithm, listed[2].txt.as_str()),
        (Algorithm::Rsa2048, rsa.txt.as_str())
    );
    let keys = DkimKeys::load(dir.path()).unwrap();
    let from_legacy = MESSAGE.replace("ann@example.com", "ann@legacy.example");
    let message = signed(&keys, &from_legacy);
    assert_eq!(
        verify(&message, &Records::of(&[&listed[2]])).await,
        [DkimResult::Pass]
    );
}

fn pkcs1_pem(pkcs8_path: &Path) -> String {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    let pkcs8 = std::fs::read_to_string(pkcs8_path).unwrap();
    let key = rsa::PrivateKey::from_pkcs8_pem(&pkcs8).unwrap();
    let pem = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    pem.to_string()
}

/// The header names in the `h=` tag of the (first) signature, lower-case.
fn signed_header_names(message: &[u8]) -> Vec<String> {
    let parsed = mail_parser::MessageParser::new()
        .parse_headers(message)
        .unwrap();
    let signature = parsed.header_raw("DKIM-Signature").unwrap();
    let h: String = signature
        .split(';')
        .map(str::trim)
        .find_map(|tag| tag.strip_prefix("h="))
        .unwrap()
        .split_whitespace()
        .collect();
    h.split(':').map(str::to_ascii_lowercase).collect()
}

#[tokio::test]
async fn signature_oversigns_from_and_covers_list_unsubscribe_only_when_present() {
    let dir = tempfile::tempdir().unwrap();
    let key = dkim::generate(dir.path(), "example.com", "ed1", Algorithm::Ed25519, false).unwrap();
    let keys = DkimKeys::load(dir.path()).unwrap();
    let records = Records::of(&[&key]);

    let message = signed(&keys, MESSAGE);
    let names = signed_header_names(&message);
    assert_eq!(
        names.iter().filter(|n| *n == "from").count(),
        2,
        "{names:?}"
    );
    for present in [
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
    ] {
        assert!(
            names.iter().any(|n| n == present),
            "{present} not signed: {names:?}"
        );
    }
    // A list that adds List-Unsubscribe on the way must not break the signature.
    assert!(!names.iter().any(|n| n.starts_with("list-")), "{names:?}");
    assert_eq!(verify(&message, &records).await, [DkimResult::Pass]);
    let via_list = [
        b"List-Unsubscribe: <https://lists.example.org/u>\r\n".as_slice(),
        &message,
    ]
    .concat();
    assert_eq!(verify(&via_list, &records).await, [DkimResult::Pass]);

    let newsletter = MESSAGE.replace(
        "MIME-Version",
        "List-Unsubscribe: <https://example.com/u/1>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nMIME-Version",
    );
    let message = signed(&keys, &newsletter);
    let names = signed_header_names(&message);
    assert!(names.iter().any(|n| n == "list-unsubscribe"), "{names:?}");
    assert!(
        names.iter().any(|n| n == "list-unsubscribe-post"),
        "{names:?}"
    );
    assert_eq!(verify(&message, &records).await, [DkimResult::Pass]);
}

#[tokio::test]
async fn subdomain_uses_its_own_key_else_the_nearest_parents() {
    let dir = tempfile::tempdir().unwrap();
    let parent = dkim::generate(dir.path(), "example.com", "p", Algorithm::Ed25519, false).unwrap();
    let own = dkim::generate(
        dir.path(),
        "news.example.com",
        "n",
        Algorithm::Ed25519,
        false,
    )
    .unwrap();
    let keys = DkimKeys::load(dir.path()).unwrap();
    let records = Records::of(&[&parent, &own]);

    let from_news = MESSAGE.replace("ann@example.com", "ann@news.example.com");
    let message = signed(&keys, &from_news);
    assert!(String::from_utf8_lossy(&message).contains("d=news.example.com"));
    assert_eq!(verify(&message, &records).await, [DkimResult::Pass]);

    let from_deep = MESSAGE.replace("ann@example.com", "ann@a.b.example.com");
    let message = signed(&keys, &from_deep);
    assert!(String::from_utf8_lossy(&message).contains("d=example.com;"));
    assert_eq!(verify(&message, &records).await, [DkimResult::Pass]);

    // Upper-case From domains match lower-case key directories.
    let upper = MESSAGE.replace("ann@example.com", "ann@EXAMPLE.COM");
    assert!(keys.sign(upper.as_bytes()).unwrap().is_some());
}

#[test]
fn no_key_for_the_from_domain_means_no_signature() {
    let dir = tempfile::tempdir().unwrap();
    dkim::generate(dir.path(), "example.com", "ed1", Algorithm::Ed25519, false).unwrap();
    let keys = DkimKeys::load(dir.path()).unwrap();
    let other = MESSAGE.replace("ann@example.com", "ann@example.org");
    assert_eq!(keys.sign(other.as_bytes()).unwrap(), None);
    // A lookalike suffix is not a parent domain.
    let lookalike = MESSAGE.replace("ann@example.com", "ann@badexample.com");
    assert_eq!(keys.sign(lookalike.as_bytes()).unwrap(), None);
    assert_eq!(
        keys.sign(b"To: bob@example.net\r\n\r\nno From\r\n")
            .unwrap(),
        None
    );
    assert_eq!(keys.sign(b"").unwrap(), None);
    assert_eq!(DkimKeys::empty().sign(MESSAGE.as_bytes()).unwrap(), None);
    assert!(DkimKeys::empty().domains().is_empty());
}

#[test]
fn missing_key_directory_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("dkim");
    assert!(dkim::list(&missing).unwrap().is_empty());
    assert!(DkimKeys::load(&missing).unwrap().is_empty());
}

#[test]
fn refuses_to_overwrite_a_key_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let first =
        dkim::generate(dir.path(), "example.com", "ed1", Algorithm::Ed25519, false).unwrap();
    let before = std::fs::read(&first.path).unwrap();

    let err =
        dkim::generate(dir.path(), "example.com", "ED1", Algorithm::Ed25519, false).unwrap_err();
    assert!(matches!(err, DkimError::KeyExists { .. }));
    let message = err.to_string();
    assert!(
        message.contains("example.com/ed1.pem") && message.contains("--force"),
        "{message}"
    );
    assert_eq!(std::fs::read(&first.path).unwrap(), before);

    let second =
        dkim::generate(dir.path(), "example.com", "ed1", Algorithm::Ed25519, true).unwrap();
    assert_ne!(second.txt, first.txt);
    assert_eq!(mode(&second.path), 0o600);
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path().join("example.com"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["ed1.pem"]);
}

#[test]
fn garbage_key_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("example.com")).unwrap();
    let path = dir.path().join("example.com/broken.pem");
    std::fs::write(
        &path,
        "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    for err in [
        DkimKeys::load(dir.path()).unwrap_err(),
        dkim::list(dir.path()).unwrap_err(),
    ] {
        assert!(matches!(err, DkimError::InvalidKey { .. }), "{err:?}");
        assert!(err.to_string().contains("example.com/broken.pem"), "{err}");
    }

    std::fs::write(&path, "not even PEM").unwrap();
    let err = DkimKeys::load(dir.path()).unwrap_err();
    assert!(err.to_string().contains("example.com/broken.pem"), "{err}");
}

#[test]
fn unrelated_files_in_the_key_directory_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let key = dkim::generate(dir.path(), "example.com", "ed1", Algorithm::Ed25519, false).unwrap();
    std::fs::write(dir.path().join("README"), "keys live here").unwrap();
    std::fs::write(dir.path().join("example.com/notes.txt"), "rotated 2026").unwrap();
    std::fs::write(
        dir.path().join("example.com/.ed2.pem.1.2.tmp"),
        "half-written",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("lost+found")).unwrap();
    assert_eq!(dkim::list(dir.path()).unwrap(), vec![key]);
}

#[test]
fn rejects_domains_and_selectors_that_could_escape_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    for domain in [
        "../etc",
        "..",
        "a/b.com",
        "/etc/passwd",
        "example.com/..",
        "",
        "com",
        "exa mple.com",
    ] {
        let err = dkim::generate(&keys, domain, "s", Algorithm::Ed25519, false).unwrap_err();
        assert!(
            matches!(err, DkimError::InvalidDomain { .. }),
            "{domain:?}: {err:?}"
        );
    }
    for selector in ["../x", "..", "a/b", "", ".", "s.", "_s", "s\n"] {
        let err =
            dkim::generate(&keys, "example.com", selector, Algorithm::Ed25519, false).unwrap_err();
        assert!(
            matches!(err, DkimError::InvalidSelector { .. }),
            "{selector:?}: {err:?}"
        );
    }
    assert!(!keys.exists(), "nothing was written");
}
