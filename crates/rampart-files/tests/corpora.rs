//! Real mail from `../shared/corpora`: every attachment of the phishing corpus and the antivirus
//! test messages is inspected. The corpora are unpacked into this test's temporary folder; when
//! they are absent (a checkout without `shared/`) the test says so and passes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use mail_parser::{MessageParser, MimeHeaders};
use rampart_files::{inspect, FileReport, Limits};

fn corpora() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora");
    dir.is_dir().then_some(dir)
}

/// Every attachment of one message, inspected.
fn attachments(eml: &[u8]) -> Vec<(String, FileReport)> {
    let Some(message) = MessageParser::default().parse(eml) else {
        return Vec::new();
    };
    message
        .attachments()
        .map(|part| {
            let name = part.attachment_name().unwrap_or("").to_string();
            let declared = part.content_type().map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{sub}", ct.ctype()),
                None => ct.ctype().to_string(),
            });
            let named = (!name.is_empty()).then_some(name.as_str());
            let report = inspect(
                named,
                declared.as_deref(),
                part.contents(),
                &Limits::default(),
            );
            (name, report)
        })
        .collect()
}

#[test]
fn exposes_the_eicar_file_inside_a_zip_attachment_for_the_antivirus() {
    let Some(dir) = corpora() else {
        eprintln!("shared/corpora not found: skipped");
        return;
    };
    let eml = std::fs::read(dir.join("av-test/eicar-in-zip.eml")).expect("read eml");
    let found = attachments(&eml);
    let child = found.iter().flat_map(|(_, r)| &r.children).find(|c| {
        c.bytes.as_deref().is_some_and(|b| {
            b.windows(34)
                .any(|w| w == b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE")
        })
    });
    assert!(child.is_some(), "{found:?}");
}

#[test]
fn inspects_every_attachment_of_the_phishing_corpus() {
    let Some(dir) = corpora() else {
        eprintln!("shared/corpora not found: skipped");
        return;
    };
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rampart-files-corpora");
    std::fs::create_dir_all(&out).expect("temp dir");
    let unpacked = Command::new("tar")
        .arg("-xJf")
        .arg(dir.join("nazario-phishing.tar.xz"))
        .arg("-C")
        .arg(&out)
        .status();
    if !unpacked.is_ok_and(|s| s.success()) {
        eprintln!("could not unpack the phishing corpus (tar/xz missing?): skipped");
        return;
    }
    let root = out.join("nazario-phishing");
    let index = std::fs::read_to_string(root.join("index")).expect("index");
    let started = Instant::now();
    let (mut messages, mut files) = (0, 0);
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut findings: BTreeMap<String, usize> = BTreeMap::new();
    for line in index.lines() {
        let Some((_, path)) = line.split_once(' ') else {
            continue;
        };
        let Ok(eml) = std::fs::read(root.join(path)) else {
            continue;
        };
        messages += 1;
        for (_, report) in attachments(&eml) {
            files += 1;
            *kinds.entry(report.kind.to_string()).or_default() += 1;
            for f in &report.findings {
                *findings.entry(f.name.clone()).or_default() += 1;
            }
        }
    }
    eprintln!(
        "{messages} messages, {files} attachments in {:?}\nkinds: {kinds:?}\nfindings: {findings:?}",
        started.elapsed()
    );
    assert!(messages > 1000);
    assert!(files > 50);
    // The corpus carries 2005-era mass-mailer zips; their executables must be seen.
    assert!(findings.get("file.executable").copied().unwrap_or(0) > 0);
}
