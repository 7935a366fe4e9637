use super::*;
use crate::features::{FeatureBuilder, SparseVector};
use crate::model::tests::{HAM, SPAM};
use proptest::prelude::*;

fn config() -> FeatureConfig {
    FeatureConfig {
        bits: 16,
        ..FeatureConfig::default()
    }
}

fn docs() -> Vec<(SparseVector, bool)> {
    let config = config();
    SPAM.iter()
        .map(|t| (*t, true))
        .chain(HAM.iter().map(|t| (*t, false)))
        .map(|(t, y)| (FeatureBuilder::new(&config).text("body", t).finish(), y))
        .collect()
}

fn trained(storage: Storage) -> Model {
    let mut model = Model::new(config(), LearnerParams::default(), storage);
    for _ in 0..5 {
        for (x, y) in docs() {
            model.train(&x, y);
        }
    }
    model.set_calibration(Calibration { a: 0.9, b: -0.1 });
    model
}

fn bytes(model: &Model, encoding: WeightEncoding) -> Vec<u8> {
    let mut out = Vec::new();
    model
        .save_with(&mut out, encoding)
        .expect("writing to a Vec");
    out
}

/// Rewrites the trailing checksum after a deliberate edit, to reach the checks behind it.
fn reseal(file: &mut [u8]) {
    let end = file.len() - 4;
    let crc = crc32fast::hash(&file[..end]);
    file[end..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn lossless_round_trip_gives_identical_predictions_and_training_state() {
    for storage in [Storage::Dense, Storage::Sparse] {
        let model = trained(storage);
        let mut loaded =
            Model::load(&mut bytes(&model, WeightEncoding::Full).as_slice()).expect("loads");
        assert_eq!(loaded.storage(), storage);
        assert_eq!(loaded.feature_config(), model.feature_config());
        assert_eq!(loaded.params(), model.params());
        assert_eq!(loaded.calibration(), model.calibration());
        assert_eq!(loaded.examples_seen(), model.examples_seen());
        for (x, _) in docs() {
            assert_eq!(loaded.predict(&x).to_bits(), model.predict(&x).to_bits());
        }
        // Training continues exactly where it stopped.
        let mut original = model.clone();
        let (x, y) = &docs()[0];
        original.train(x, *y);
        loaded.train(x, *y);
        assert_eq!(loaded.logit(x).to_bits(), original.logit(x).to_bits());
    }
}

#[test]
fn quantised_round_trip_stays_within_quantisation_error_and_is_smaller() {
    let model = trained(Storage::Dense);
    let full = bytes(&model, WeightEncoding::Full);
    let compact = bytes(&model, WeightEncoding::Quantized16);
    assert!(
        compact.len() * 2 < full.len(),
        "{} vs {}",
        compact.len(),
        full.len()
    );
    let loaded = Model::load(&mut compact.as_slice()).expect("loads");
    for (x, _) in docs() {
        assert!((loaded.predict(&x) - model.predict(&x)).abs() < 1e-3);
    }
}

#[test]
fn a_quantised_model_keeps_learning_after_loading() {
    let model = trained(Storage::Dense);
    let mut loaded =
        Model::load(&mut bytes(&model, WeightEncoding::Quantized16).as_slice()).expect("loads");
    let config = config();
    let x = FeatureBuilder::new(&config)
        .text("body", "quarterly report meeting minutes")
        .finish();
    let before = loaded.predict(&x);
    for _ in 0..5 {
        loaded.train(&x, true);
    }
    assert!(loaded.predict(&x) > before);
}

#[test]
fn files_start_with_magic_and_version() {
    let file = bytes(&trained(Storage::Sparse), WeightEncoding::Full);
    assert_eq!(file[..8], MAGIC);
    assert_eq!(u16::from_le_bytes([file[8], file[9]]), FORMAT_VERSION);
}

#[test]
fn rejects_a_file_with_the_wrong_magic() {
    let mut file = bytes(&trained(Storage::Sparse), WeightEncoding::Full);
    file[0] = b'X';
    assert!(matches!(
        Model::load(&mut file.as_slice()),
        Err(ModelError::WrongMagic)
    ));
    let text = b"this is not a model file at all, just some text";
    assert!(matches!(
        Model::load(&mut &text[..]),
        Err(ModelError::WrongMagic)
    ));
}

#[test]
fn rejects_an_unknown_format_version() {
    let mut file = bytes(&trained(Storage::Sparse), WeightEncoding::Full);
    file[8..10].copy_from_slice(&2u16.to_le_bytes());
    reseal(&mut file);
    let err = Model::load(&mut file.as_slice()).expect_err("version 2 is unknown");
    assert!(matches!(
        err,
        ModelError::UnsupportedVersion {
            found: 2,
            supported: 1
        }
    ));
    assert!(err.to_string().contains("version 2"));
}

#[test]
fn rejects_a_bad_checksum() {
    let mut file = bytes(&trained(Storage::Dense), WeightEncoding::Quantized16);
    let middle = file.len() / 2;
    file[middle] ^= 0x40;
    assert!(matches!(
        Model::load(&mut file.as_slice()),
        Err(ModelError::ChecksumMismatch { .. })
    ));
}

#[test]
fn rejects_every_truncation_as_truncated() {
    let file = bytes(&trained(Storage::Sparse), WeightEncoding::Quantized16);
    for len in 0..file.len() {
        match Model::load(&mut &file[..len]) {
            Err(ModelError::Truncated { found, .. }) => assert_eq!(found, len as u64),
            other => panic!("prefix of {len} bytes: {other:?}"),
        }
    }
}

#[test]
fn rejects_inconsistent_contents_even_with_a_valid_checksum() {
    let file = bytes(&trained(Storage::Sparse), WeightEncoding::Full);
    // bits = 40 is outside the supported range.
    let mut bad = file.clone();
    bad[HEADER_LEN] = 40;
    reseal(&mut bad);
    assert!(matches!(
        Model::load(&mut bad.as_slice()),
        Err(ModelError::Corrupt(_))
    ));
    // An absurd payload length is refused before anything is allocated for it.
    let mut bad = file.clone();
    bad[12..20].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    assert!(matches!(
        Model::load(&mut bad.as_slice()),
        Err(ModelError::Corrupt(_))
    ));
}

#[test]
fn bytes_after_the_checksum_are_left_in_the_reader() {
    let mut file = bytes(&trained(Storage::Sparse), WeightEncoding::Full);
    let len = file.len();
    file.extend_from_slice(b"next");
    let mut reader = file.as_slice();
    Model::load(&mut reader).expect("loads");
    assert_eq!(reader, b"next");
    assert_eq!(len + 4, file.len());
}

#[test]
fn saves_and_loads_through_a_path() {
    let dir = std::env::temp_dir().join(format!("rampart-classify-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("model.bin");
    let model = trained(Storage::Dense);
    model
        .save_to_path(&path, WeightEncoding::Quantized16)
        .expect("saves");
    let loaded = Model::load_from_path(&path).expect("loads");
    assert_eq!(loaded.nonzero_weights(), model.nonzero_weights());
    std::fs::remove_dir_all(&dir).ok();
    assert!(matches!(
        Model::load_from_path(&path),
        Err(ModelError::Io(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn corrupted_files_give_errors_never_panics(
        at in any::<prop::sample::Index>(), xor in 1u8..=255, reseal_after in any::<bool>(),
    ) {
        let mut file = bytes(&trained(Storage::Sparse), WeightEncoding::Quantized16);
        let i = at.index(file.len());
        file[i] ^= xor;
        if reseal_after {
            reseal(&mut file);
        }
        // Any outcome but a panic is fine; without resealing it must be an error.
        let result = Model::load(&mut file.as_slice());
        if !reseal_after {
            prop_assert!(result.is_err());
        }
    }
}
