//! The whole pipeline on real messages: what a demanding admin expects each to come out as.

use std::io::Write;

use base64::Engine;
use rampart_model::config::ScanConfig;
use rampart_model::{Action, Direction};
use rampart_scan::{Envelope, OrgDirectory, ScanReport, Scanner};

const AV_TEST: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpora/av-test"
);

fn scanner() -> Scanner {
    let mut config = ScanConfig::default();
    config.dns.enabled = false;
    let org = OrgDirectory {
        local_domains: vec!["example.com".into()],
        people: vec!["Wei Li".into()],
    };
    Scanner::new(&config, "mx.example.com", org).unwrap()
}

async fn scan(raw: &[u8]) -> ScanReport {
    scanner()
        .scan(raw, &Envelope::new(Direction::Inbound))
        .await
}

fn names(report: &ScanReport) -> Vec<&str> {
    report.findings.iter().map(|f| f.name.as_str()).collect()
}

fn corpus(name: &str) -> Vec<u8> {
    std::fs::read(format!("{AV_TEST}/{name}")).unwrap()
}

fn zip_of(name: &str, data: &[u8]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file(name, opts).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap();
    }
    out.into_inner()
}

fn mail_with_attachment(filename: &str, content_type: &str, data: &[u8]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let mut lines = String::new();
    for chunk in b64.as_bytes().chunks(76) {
        lines.push_str(std::str::from_utf8(chunk).unwrap());
        lines.push_str("\r\n");
    }
    format!(
        "From: partner@vendor.test\r\nTo: wei@example.com\r\nSubject: documents\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nPlease see attached.\r\n\
--b\r\nContent-Type: {content_type}; name=\"{filename}\"\r\nContent-Disposition: attachment; filename=\"{filename}\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{lines}--b--\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn rejects_eicar_attached_plain_and_inside_a_zip_by_hash_signature() {
    for eml in ["eicar-attachment.eml", "eicar-in-zip.eml"] {
        let report = scan(&corpus(eml)).await;
        assert_eq!(report.action, Action::Reject, "{eml}: {:?}", names(&report));
        assert!(
            names(&report).contains(&"av.virus"),
            "{eml}: {:?}",
            names(&report)
        );
    }
}

#[tokio::test]
async fn rejects_eicar_in_a_zip_inside_a_zip() {
    let inner = zip_of("eicar.com", &corpus("eicar.com.txt"));
    let outer = zip_of("inner.zip", &inner);
    let report = scan(&mail_with_attachment(
        "outer.zip",
        "application/zip",
        &outer,
    ))
    .await;
    assert_eq!(report.action, Action::Reject, "{:?}", report.findings);
    let virus = report
        .findings
        .iter()
        .find(|f| f.name == "av.virus")
        .unwrap();
    assert!(
        virus.evidence[0].contains("outer.zip!/inner.zip!/eicar.com"),
        "{:?}",
        virus.evidence
    );
}

#[tokio::test]
async fn quarantines_an_executable_disguised_as_a_pdf() {
    let mut pe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00".to_vec();
    pe.resize(512, 0);
    pe[0x3c] = 0x80;
    pe.splice(0x80..0x84, b"PE\0\0".iter().copied());
    let report = scan(&mail_with_attachment("invoice.pdf", "application/pdf", &pe)).await;
    assert_eq!(report.action, Action::Quarantine, "{:?}", report.findings);
    assert!(
        names(&report).contains(&"file.executable"),
        "{:?}",
        names(&report)
    );
}

#[tokio::test]
async fn flags_a_credential_phish_that_hides_its_real_link() {
    let raw = b"From: \"PayPal\" <service@paypa1-secure.test>\r\nTo: wei@example.com\r\nSubject: Your account is limited\r\n\
MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<p>Dear customer, confirm your identity:</p><a href=\"http://198.51.100.7/paypal/login.php\">https://www.paypal.com/signin</a>\r\n";
    let report = scan(raw).await;
    assert!(report.action >= Action::Junk, "{:?}", report.findings);
    let found = names(&report);
    assert!(found.contains(&"url.text_href_mismatch"), "{found:?}");
    assert!(found.contains(&"url.ip_literal"), "{found:?}");
}

#[tokio::test]
async fn accepts_ordinary_mail_without_findings() {
    let raw = b"From: Alice <alice@vendor.test>\r\nTo: wei@example.com\r\nSubject: minutes\r\n\r\n\
Hi Wei, the minutes are at https://wiki.vendor.test/minutes/2026-11-26 as discussed.\r\n";
    let report = scan(raw).await;
    assert_eq!(report.action, Action::Accept, "{:?}", report.findings);
    let stored = scanner().apply(&report, raw);
    let text = String::from_utf8(stored).unwrap();
    assert!(
        text.contains("X-Rampart-Verdict: accept; score=0.0\r\n"),
        "{text}"
    );
}

/// The shape of a real Enron spam (a bounce with a base64 message/delivery-status part and a
/// message/rfc822 part whose body starts with another Content-Type line) on which mail-parser
/// 0.11.9 panics ("Invalid part ID, could not find multipart").
const PARSER_PANIC: &[u8] = b"From: a@b.test\r\nSubject: x\r\nMime-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"NP\"\r\n\r\npreamble\r\n\r\n--NP\r\n\
Content-Type: text/html; charset=iso-8859-1\r\n\r\n<html>hi</html>\r\n\r\n--NP\r\n\
Content-Type: message/delivery-status; name=\"attach3\"\r\nContent-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=\"attach3\"\r\n\r\n\
Q29udGVudC1UeXBlOiBtZXNzYWdlL2RlbGl2ZXJ5LXN0YXR1cwoKUmVwb3J0\r\n\
aW5nLU1UQTogZG5zO2hvdG1haWwuY29tDQpSZWNlaXZlZC1Gcm9tLU1UQTog\r\n\r\n\r\n--NP\r\n\
Content-Type: message/rfc822; name=\"message4.txt\"\r\nContent-Transfer-Encoding: 8bit\r\n\
Content-Disposition: attachment; filename=\"message4.txt\"\r\n\r\nContent-Type: message/rfc822\r\n\r\n\
From: c@d.test\r\nSubject: inner\r\nMime-Version: 1.0\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n\
<html>inner</html>\r\n\r\n\r\n\r\n--NP--\r\n";

#[tokio::test]
async fn survives_a_message_that_makes_the_mime_parser_panic() {
    let report = scan(PARSER_PANIC).await;
    assert!(
        names(&report).contains(&"content.unparseable"),
        "{:?}",
        report.findings
    );
    assert!(report.action <= Action::Tag, "{:?}", report.findings);
}

#[tokio::test]
async fn flags_bank_lure_wording_that_links_away() {
    let raw = b"From: \"Online Banking\" <alerts@bank.test>\r\nSubject: Account notice\r\nContent-Type: text/html\r\n\r\n\
<p>As part of our security measures we have limited access to your online account.</p>\
<p>Please <a href=\"http://login.bank-verify.test/\">log in to your account</a> as soon as possible \
to restore your account access.</p>\r\n";
    let report = scan(raw).await;
    let lure = report
        .findings
        .iter()
        .find(|f| f.name == "phish.lure_language")
        .expect("lure wording");
    assert!(lure.score >= 6.0, "{lure:?}");
    assert!(report.action >= Action::Junk);
}

#[tokio::test]
async fn ordinary_mail_with_one_lure_category_stays_clean() {
    let raw = b"From: it@example.com\r\nSubject: reminder\r\n\r\nPlease update your password before Friday; \
details at https://intranet.example.com/password\r\n";
    let report = scan(raw).await;
    assert!(
        names(&report).iter().all(|n| *n != "phish.lure_language"),
        "{:?}",
        report.findings
    );
}

#[test]
fn every_check_family_is_registered() {
    let names = scanner().check_names();
    for family in ["content", "phish", "file", "url", "av"] {
        assert!(names.contains(&family), "{family} missing from {names:?}");
    }
}

#[tokio::test]
async fn the_shipped_spam_model_loads_and_junks_obvious_spam() {
    assert!(
        rampart_scan::checks::default_spam_model().is_some(),
        "built-in model loads"
    );
    assert!(scanner().check_names().contains(&"spam"));
    let raw = b"From: \"Best Deals\" <deals@cheap-meds-online.test>\r\nSubject: CHEAP VIAGRA CIALIS 80% OFF - ORDER NOW\r\n\
Content-Type: text/html\r\n\r\n<html><body><b>Best prices on Viagra, Cialis, Levitra!</b> No prescription needed. \
Lose weight fast, refinance your mortgage at the lowest rates, make money from home. \
<a href=\"http://cheap-meds-online.test/buy\">CLICK HERE TO ORDER NOW</a> Limited time offer!!! \
To be removed from our mailing list click here.</body></html>\r\n";
    let report = scan(raw).await;
    let spam = report
        .findings
        .iter()
        .find(|f| f.name == "spam.classifier")
        .expect("classified");
    assert!(spam.score >= 6.0, "{spam:?}");
    assert!(report.action >= Action::Junk);
}
