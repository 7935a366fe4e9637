//! Precision and recall on labelled corpora.
//!
//! Two formats are read ([`read_corpus`]): JSON Lines with `text`, `spans: [{entity_type, start,
//! end}]` and `negative_kind` (`cn_pii_synth.jsonl`), and presidio-research JSON arrays with
//! `full_text` and `spans: [{entity_type, start_position, end_position}]`. Both count offsets in
//! Unicode code points (Python string indices); [`Sample`] holds byte offsets.
//!
//! Scoring ([`evaluate`]) is by overlap: a prediction of a built-in entity is a true positive if it
//! overlaps a label of the same entity, a false positive otherwise; a label no prediction of its
//! entity overlaps is a false negative. Labels of entities this crate does not detect (`PERSON`,
//! `PHONE_NUMBER`, ...) are only counted, under `unsupported`. Samples with a `negative_kind` are
//! hard negatives: every match on them (any entity, any confidence) is counted, `NEG_PLAIN`
//! separately from the look-alikes (`NEG_ID_BAD_CHECKSUM`, `NEG_CARD_BAD_LUHN`, ...).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::mask::{compact, mask};
use crate::{Confidence, Detectors, DlpError, Entity};

/// One labelled text; offsets are bytes into `text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    pub id: String,
    pub text: String,
    pub spans: Vec<LabelledSpan>,
    /// `NEG_ID_BAD_CHECKSUM`, `NEG_CARD_BAD_LUHN`, `NEG_PLAIN`, ...: nothing should match.
    pub negative_kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelledSpan {
    pub entity_type: String,
    pub start: usize,
    pub end: usize,
}

/// The negative kind of plain text without look-alike numbers.
pub const NEG_PLAIN: &str = "NEG_PLAIN";

#[derive(Deserialize)]
struct JsonlRow {
    #[serde(default)]
    id: serde_json::Value,
    text: String,
    #[serde(default)]
    spans: Vec<JsonlSpan>,
    #[serde(default)]
    negative_kind: Option<String>,
}

#[derive(Deserialize)]
struct JsonlSpan {
    entity_type: String,
    start: usize,
    end: usize,
}

#[derive(Deserialize)]
struct PresidioRow {
    full_text: String,
    #[serde(default)]
    spans: Vec<PresidioSpan>,
}

#[derive(Deserialize)]
struct PresidioSpan {
    entity_type: String,
    start_position: usize,
    end_position: usize,
}

/// Reads a corpus in either format (a file starting with `[` is a presidio-research array).
pub fn read_corpus(path: impl AsRef<Path>) -> Result<Vec<Sample>, DlpError> {
    let path = path.as_ref();
    let err = |reason: String| DlpError::Corpus {
        path: path.display().to_string(),
        reason,
    };
    let data = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let mut samples = Vec::new();
    if data.trim_start().starts_with('[') {
        let rows: Vec<PresidioRow> = serde_json::from_str(&data).map_err(|e| err(e.to_string()))?;
        for (k, row) in rows.into_iter().enumerate() {
            let spans = row
                .spans
                .into_iter()
                .map(|s| (s.entity_type, s.start_position, s.end_position));
            let id = k.to_string();
            samples.push(sample(id, row.full_text, spans, None).map_err(err)?);
        }
    } else {
        for (k, line) in data.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let row: JsonlRow =
                serde_json::from_str(line).map_err(|e| err(format!("line {}: {e}", k + 1)))?;
            let id = match row.id {
                serde_json::Value::Null => (k + 1).to_string(),
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            let spans = row
                .spans
                .into_iter()
                .map(|s| (s.entity_type, s.start, s.end));
            samples.push(sample(id, row.text, spans, row.negative_kind).map_err(err)?);
        }
    }
    Ok(samples)
}

/// Converts code-point offsets to byte offsets.
fn sample(
    id: String,
    text: String,
    spans: impl Iterator<Item = (String, usize, usize)>,
    negative_kind: Option<String>,
) -> Result<Sample, String> {
    let mut bytes: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
    bytes.push(text.len());
    let mut out = Vec::new();
    for (entity_type, start, end) in spans {
        match (bytes.get(start), bytes.get(end)) {
            (Some(&s), Some(&e)) if s <= e => out.push(LabelledSpan {
                entity_type,
                start: s,
                end: e,
            }),
            _ => return Err(format!("sample {id}: span {start}..{end} outside the text")),
        }
    }
    Ok(Sample {
        id,
        text,
        spans: out,
        negative_kind,
    })
}

/// Scores of one entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityScore {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Predictions overlapping a label of their entity.
    pub tp: usize,
    /// Predictions overlapping none.
    pub fp: usize,
    /// Labels no prediction overlaps.
    #[serde(rename = "fn")]
    pub fn_: usize,
    /// Labels.
    pub support: usize,
}

/// A prediction or label the detectors got wrong, without the value (masked only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mistake {
    pub sample: String,
    pub entity: String,
    /// `fp` or `fn`.
    pub kind: String,
    pub start: usize,
    pub end: usize,
    pub masked: String,
}

/// The outcome of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Built-in entities with labels or predictions, by name.
    pub entities: BTreeMap<String, EntityScore>,
    /// Matches (any entity, any confidence) on hard negatives other than `NEG_PLAIN`.
    pub negative_hits: usize,
    /// Matches (any entity, any confidence) on `NEG_PLAIN` samples.
    pub negative_plain_hits: usize,
    pub negative_hits_by_kind: BTreeMap<String, usize>,
    /// Labels of entities not detected here, counted by entity type.
    pub unsupported: BTreeMap<String, usize>,
    /// Scan throughput over the samples' texts (10^6 bytes per second; short texts make this a
    /// measure of per-call overhead more than of scanning).
    pub mb_per_sec: f64,
    pub min_confidence: Confidence,
    pub samples: usize,
    /// The first mistakes, for inspection (masked).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mistakes: Vec<Mistake>,
}

impl EvalReport {
    pub fn entity(&self, entity: &Entity) -> Option<&EntityScore> {
        self.entities.get(entity.as_str())
    }
}

const MAX_MISTAKES: usize = 40;

#[derive(Default)]
struct Tally {
    tp: usize,
    fp: usize,
    fn_: usize,
    support: usize,
}

/// Scans every sample and scores the predictions at `min_confidence` or above.
pub fn evaluate(
    detectors: &Detectors,
    samples: &[Sample],
    min_confidence: Confidence,
) -> EvalReport {
    let all = Entity::BUILTIN;
    let builtin: Vec<&'static str> = all.iter().map(Entity::as_str).collect();
    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut report = EvalReport {
        entities: BTreeMap::new(),
        negative_hits: 0,
        negative_plain_hits: 0,
        negative_hits_by_kind: BTreeMap::new(),
        unsupported: BTreeMap::new(),
        mb_per_sec: 0.0,
        min_confidence,
        samples: samples.len(),
        mistakes: Vec::new(),
    };
    let mut elapsed = Duration::ZERO;
    let mut bytes = 0usize;
    let overlaps = |a: (usize, usize), b: (usize, usize)| a.0 < b.1 && b.0 < a.1;

    for sample in samples {
        let t0 = Instant::now();
        let matches = detectors.scan(&sample.text);
        elapsed += t0.elapsed();
        bytes += sample.text.len();

        if let Some(kind) = &sample.negative_kind {
            *report
                .negative_hits_by_kind
                .entry(kind.clone())
                .or_default() += matches.len();
            if kind == NEG_PLAIN {
                report.negative_plain_hits += matches.len();
            } else {
                report.negative_hits += matches.len();
            }
        }

        let predictions: Vec<_> = matches
            .iter()
            .filter(|m| m.entity.is_builtin() && m.confidence >= min_confidence)
            .collect();
        for label in &sample.spans {
            let Some(&name) = builtin.iter().find(|&&b| b == label.entity_type) else {
                *report
                    .unsupported
                    .entry(label.entity_type.clone())
                    .or_default() += 1;
                continue;
            };
            let tally = tallies.entry(name).or_default();
            tally.support += 1;
            let found = predictions.iter().any(|m| {
                m.entity.as_str() == name && overlaps((m.start, m.end), (label.start, label.end))
            });
            if !found {
                tally.fn_ += 1;
                if report.mistakes.len() < MAX_MISTAKES {
                    report.mistakes.push(Mistake {
                        sample: sample.id.clone(),
                        entity: name.to_string(),
                        kind: "fn".to_string(),
                        start: label.start,
                        end: label.end,
                        masked: mask(&compact(&sample.text[label.start..label.end])),
                    });
                }
            }
        }
        for m in predictions {
            let name = m.entity.as_str();
            let tally = tallies.entry(name).or_default();
            let hit = sample
                .spans
                .iter()
                .any(|l| l.entity_type == name && overlaps((m.start, m.end), (l.start, l.end)));
            if hit {
                tally.tp += 1;
            } else {
                tally.fp += 1;
                if report.mistakes.len() < MAX_MISTAKES {
                    report.mistakes.push(Mistake {
                        sample: sample.id.clone(),
                        entity: name.to_string(),
                        kind: "fp".to_string(),
                        start: m.start,
                        end: m.end,
                        masked: m.masked.clone(),
                    });
                }
            }
        }
    }

    for (name, t) in tallies {
        let predicted = t.tp + t.fp;
        let precision = if predicted == 0 {
            0.0
        } else {
            t.tp as f64 / predicted as f64
        };
        let recall = if t.support == 0 {
            0.0
        } else {
            (t.support - t.fn_) as f64 / t.support as f64
        };
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        report.entities.insert(
            name.to_string(),
            EntityScore {
                precision,
                recall,
                f1,
                tp: t.tp,
                fp: t.fp,
                fn_: t.fn_,
                support: t.support,
            },
        );
    }
    let secs = elapsed.as_secs_f64();
    report.mb_per_sec = if secs > 0.0 {
        bytes as f64 / secs / 1e6
    } else {
        0.0
    };
    report
}
