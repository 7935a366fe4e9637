//! The detectors on the labelled DLP corpus (`../shared/corpora/pii/cn_pii_synth.jsonl`): the
//! targets for checksum-backed and context-dependent entities, and no hit on any look-alike.

use std::path::PathBuf;

use rampart_dlp::eval::{evaluate, read_corpus};
use rampart_dlp::{Confidence, Detectors, DlpConfig};

fn corpus(name: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpora/pii")
        .join(name);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipped: corpus {} not found", path.display());
        None
    }
}

const CHECKSUM_BACKED: &[&str] = &[
    "CN_RESIDENT_ID",
    "CN_BANK_CARD",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
];
const CONTEXT_DEPENDENT: &[&str] = &["CN_MOBILE", "CN_PASSPORT", "EMAIL_ADDRESS", "CN_USCC"];

fn assert_targets(name: &str) {
    let Some(path) = corpus(name) else { return };
    let samples = read_corpus(&path).unwrap();
    assert!(!samples.is_empty());
    let detectors = Detectors::new(&DlpConfig::default()).unwrap();
    for min in [Confidence::Low, Confidence::Medium] {
        let report = evaluate(&detectors, &samples, min);
        let json = serde_json::to_string_pretty(&report).unwrap();
        assert_eq!(report.negative_hits, 0, "{json}");
        assert_eq!(report.negative_plain_hits, 0, "{json}");
        for (entity, score) in &report.entities {
            if CHECKSUM_BACKED.contains(&entity.as_str()) {
                assert!(
                    score.precision >= 0.99 && score.recall >= 0.99,
                    "{name} {entity} @ {min}: {json}"
                );
            } else {
                assert!(CONTEXT_DEPENDENT.contains(&entity.as_str()));
                assert!(score.precision >= 0.9, "{name} {entity} @ {min}: {json}");
            }
        }
    }
}

#[test]
fn meets_targets_on_cn_pii_synth() {
    assert_targets("cn_pii_synth.jsonl");
}

#[test]
fn meets_targets_on_presidio_generated_large() {
    assert_targets("generated_large.json");
}

#[test]
fn meets_targets_on_presidio_synth_dataset_v2() {
    assert_targets("synth_dataset_v2.json");
}

#[test]
fn reads_code_point_offsets_as_byte_offsets() {
    let Some(path) = corpus("cn_pii_synth.jsonl") else {
        return;
    };
    let samples = read_corpus(&path).unwrap();
    let first = &samples[0];
    let span = &first.spans[0];
    assert_eq!(&first.text[span.start..span.end], "624822463412702303");
    assert_eq!(span.entity_type, "CN_BANK_CARD");
    let negatives = samples.iter().filter(|s| s.negative_kind.is_some()).count();
    assert!(negatives > 1000);
}
