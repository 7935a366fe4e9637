//! Data-leak prevention: every text the message carries (subject, each body part in its
//! charset, the visible text of HTML parts, the text of attached PDF, Office, ODF, CSV and ZIP
//! files) through `rampart-dlp`'s detectors. Findings carry masked values only. What to do about
//! them is for the DLP rules (`crate::dlp::Rules`), not for the score: a spreadsheet of ID
//! numbers is not spam.

use std::collections::BTreeMap;

use async_trait::async_trait;
use rampart_dlp::{Confidence, Detectors, Match};
use rampart_extract::Limits;
use rampart_model::{Direction, Finding};

use crate::checks::CheckOutput;
use crate::dlp::{DlpFinding, DlpScan};
use crate::{Check, Envelope, Mail};

/// Examples and locations kept per entity and confidence.
const KEEP: usize = 3;
/// Text scanned per message; beyond this the rest is skipped (and said so).
const MAX_TEXT: usize = 64 * 1024 * 1024;

pub struct DataLeak {
    detectors: Detectors,
    limits: Limits,
    directions: Vec<Direction>,
}

impl DataLeak {
    /// Runs on mail going `directions` (those some DLP rule looks at).
    pub fn new(detectors: Detectors, directions: Vec<Direction>) -> Self {
        DataLeak {
            detectors,
            limits: Limits::default(),
            directions,
        }
    }
}

#[derive(Default)]
struct Tally {
    count: u32,
    examples: Vec<String>,
    locations: Vec<String>,
}

fn confidence_name(c: Confidence) -> &'static str {
    match c {
        Confidence::Low => "low",
        Confidence::Medium => "medium",
        Confidence::High => "high",
    }
}

#[async_trait]
impl Check for DataLeak {
    fn name(&self) -> &'static str {
        "dlp"
    }

    fn applies_to(&self, direction: Direction) -> bool {
        self.directions.contains(&direction)
    }

    async fn run(&self, mail: &Mail<'_>, _envelope: &Envelope, out: &mut CheckOutput) {
        let mut tallies: BTreeMap<(String, &'static str), Tally> = BTreeMap::new();
        let mut budget = MAX_TEXT;
        let mut skipped = false;
        let mut scan =
            |place: &str, text: &str, tallies: &mut BTreeMap<(String, &'static str), Tally>| {
                if text.len() > budget {
                    skipped = true;
                    return;
                }
                budget -= text.len();
                for m in self.detectors.scan(text) {
                    record(tallies, place, &m);
                }
            };
        let subject = mail.subject().to_string();
        scan("subject", &subject, &mut tallies);
        for (i, body) in mail.text_bodies().into_iter().enumerate() {
            scan(&format!("body {}", i + 1), body, &mut tallies);
        }
        // The link check (which runs first) extracted what HTML parts show a reader.
        let visible = std::mem::take(&mut out.visible_texts);
        for (i, text) in visible.iter().enumerate() {
            scan(&format!("html {}", i + 1), text, &mut tallies);
        }
        out.visible_texts = visible;
        let mut unreadable = Tally::default();
        for attachment in mail.attachments() {
            let name = attachment.name.as_deref();
            let extraction = rampart_extract::extract(attachment.bytes, name, &self.limits);
            for t in &extraction.texts {
                scan(&format!("attachment {}", t.path), &t.text, &mut tallies);
            }
            for p in &extraction.problems {
                use rampart_extract::ProblemKind::*;
                if matches!(p.kind, Encrypted | Corrupt | TooLarge | Bomb | TooDeep) {
                    unreadable.count += 1;
                    if unreadable.locations.len() < KEEP {
                        unreadable
                            .locations
                            .push(format!("{} ({})", p.path, p.kind.as_str()));
                    }
                }
            }
        }
        if skipped {
            out.push(Finding::new("dlp.text_over_cap", 0.0).with_evidence(
                "the message carries more text than DLP reads; the rest was not scanned",
            ));
        }
        let mut findings: Vec<DlpFinding> = tallies
            .into_iter()
            .map(|((entity, confidence), t)| DlpFinding {
                entity,
                confidence: confidence.to_string(),
                count: t.count,
                examples: t.examples,
                locations: t.locations,
            })
            .collect();
        if unreadable.count > 0 {
            findings.push(DlpFinding {
                entity: "unreadable_attachment".into(),
                confidence: "high".into(),
                count: unreadable.count,
                examples: Vec::new(),
                locations: unreadable.locations,
            });
        }
        for f in &findings {
            out.push(
                Finding::new(format!("dlp.{}", f.entity.to_ascii_lowercase()), 0.0).with_evidence(
                    format!(
                        "{} × {} ({}){}{}",
                        f.count,
                        f.entity,
                        f.confidence,
                        if f.examples.is_empty() { "" } else { ": " },
                        f.examples.join(", ")
                    ),
                ),
            );
        }
        out.dlp = Some(DlpScan { findings });
    }
}

fn record(tallies: &mut BTreeMap<(String, &'static str), Tally>, place: &str, m: &Match) {
    let key = (m.entity.to_string(), confidence_name(m.confidence));
    let t = tallies.entry(key).or_default();
    t.count += 1;
    if t.examples.len() < KEEP && !t.examples.contains(&m.masked) {
        t.examples.push(m.masked.clone());
    }
    if t.locations.len() < KEEP {
        t.locations.push(format!("{place}@{}", m.start));
    }
}
