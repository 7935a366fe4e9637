//! Data-leak prevention: every text the message carries (subject, each body part in its
//! charset, the visible text of HTML parts (all of it), the text of attached PDF, Office, ODF, CSV and ZIP
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

/// One distinct value: the same ID in the plain and the HTML alternative of a message (or
/// repeated in an attachment) is one ID, at the best confidence it was seen with.
struct Seen {
    confidence: Confidence,
    masked: String,
    location: String,
}

type Values = BTreeMap<(String, u64), Seen>;

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
        let mut tallies: Values = BTreeMap::new();
        let mut budget = MAX_TEXT;
        let mut skipped = false;
        let mut scan = |place: &str, text: &str, tallies: &mut Values| {
            if text.len() > budget {
                skipped = true;
                return;
            }
            budget -= text.len();
            for m in self.detectors.scan(text) {
                record(tallies, place, text, &m);
            }
        };
        let subject = mail.subject().to_string();
        scan("subject", &subject, &mut tallies);
        for (i, body) in mail.text_bodies().into_iter().enumerate() {
            scan(&format!("body {}", i + 1), body, &mut tallies);
        }
        // What HTML parts show a reader, in full (the link check keeps only a prefix).
        for (i, html) in mail.html_bodies().into_iter().enumerate() {
            let extraction = rampart_extract::extract_decoded_html(html, &self.limits);
            for t in &extraction.texts {
                scan(&format!("html {}", i + 1), &t.text, &mut tallies);
            }
        }
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
        let mut grouped: BTreeMap<(String, &'static str), Tally> = BTreeMap::new();
        for ((entity, _), seen) in tallies {
            let t = grouped
                .entry((entity, confidence_name(seen.confidence)))
                .or_default();
            t.count += 1;
            if t.examples.len() < KEEP {
                t.examples.push(seen.masked);
                t.locations.push(seen.location);
            }
        }
        let mut findings: Vec<DlpFinding> = grouped
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

fn record(values: &mut Values, place: &str, text: &str, m: &Match) {
    use std::hash::{Hash, Hasher};
    // A fingerprint of the value without separators or case, kept in memory only.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for c in m
        .value(text)
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '@')
    {
        c.to_ascii_uppercase().hash(&mut h);
    }
    let key = (m.entity.to_string(), h.finish());
    match values.get_mut(&key) {
        Some(seen) if seen.confidence >= m.confidence => {}
        Some(seen) => seen.confidence = m.confidence,
        None => {
            values.insert(
                key,
                Seen {
                    confidence: m.confidence,
                    masked: m.masked.clone(),
                    location: format!("{place}@{}", m.start),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use rampart_model::config::{DlpConfig, ScanConfig};
    use rampart_model::Direction;

    use crate::dlp::DlpAction;
    use crate::{Envelope, OrgDirectory, Scanner};

    const IDS: [&str; 6] = [
        "11010519491231002X",
        "440524198001010013",
        "320925197308114120",
        "620501196603293823",
        "110101199003070011",
        "11010119900307002X",
    ];

    fn scanner() -> Scanner {
        let mut config = ScanConfig::default();
        config.dns.enabled = false;
        config.spam = false;
        let org = OrgDirectory {
            local_domains: vec!["example.com".into()],
            people: vec![],
        };
        Scanner::new(&config, "mx.example.com", org)
            .unwrap()
            .with_dlp(&DlpConfig::default())
            .unwrap()
    }

    fn outbound(to: &str) -> Envelope {
        Envelope {
            direction: Direction::Outbound,
            recipients: vec![to.into()],
            authenticated: Some("alice@example.com".into()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn the_same_ids_in_plain_and_html_alternatives_count_once() {
        let list: String = IDS.iter().map(|i| format!("身份证号 {i}\r\n")).collect();
        let html: String = IDS.iter().map(|i| format!("<p>身份证号 {i}</p>")).collect();
        let raw = format!(
            "From: alice@example.com\r\nTo: x@partner.example\r\nSubject: staff\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{list}\r\n\
--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>{html}</body></html>\r\n--b--\r\n"
        );
        let report = scanner()
            .scan(raw.as_bytes(), &outbound("x@partner.example"))
            .await;
        let dlp = report.dlp.expect("DLP ran");
        let ids = dlp
            .findings
            .iter()
            .find(|f| f.entity == "CN_RESIDENT_ID")
            .expect("IDs found");
        assert_eq!(ids.count, 6, "{:?}", dlp.findings);
        assert_eq!(ids.confidence, "high");
        assert_eq!(
            dlp.action,
            DlpAction::HoldSender,
            "6 < 10: held, not blocked"
        );
        assert!(!format!("{dlp:?}").contains(IDS[2]), "values are masked");
        // Inbound mail is not DLP-scanned by the default (outbound) rules.
        let inbound = scanner()
            .scan(raw.as_bytes(), &Envelope::new(Direction::Inbound))
            .await;
        assert!(inbound.dlp.is_none());
    }

    #[tokio::test]
    async fn an_encrypted_attachment_is_an_unreadable_finding() {
        // A ZIP whose only entry has the "encrypted" general-purpose flag set.
        let mut zip = Vec::new();
        let name = b"secret.csv";
        let data = b"xxxxxxxxxxxx";
        zip.extend_from_slice(b"PK\x03\x04\x14\x00\x01\x00\x00\x00\x00\x00\x00\x00");
        zip.extend_from_slice(&0u32.to_le_bytes());
        zip.extend_from_slice(&(data.len() as u32).to_le_bytes());
        zip.extend_from_slice(&(data.len() as u32).to_le_bytes());
        zip.extend_from_slice(&(name.len() as u16).to_le_bytes());
        zip.extend_from_slice(&0u16.to_le_bytes());
        zip.extend_from_slice(name);
        zip.extend_from_slice(data);
        let cd_offset = zip.len() as u32;
        zip.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00\x01\x00\x00\x00\x00\x00\x00\x00");
        zip.extend_from_slice(&0u32.to_le_bytes());
        zip.extend_from_slice(&(data.len() as u32).to_le_bytes());
        zip.extend_from_slice(&(data.len() as u32).to_le_bytes());
        zip.extend_from_slice(&(name.len() as u16).to_le_bytes());
        zip.extend_from_slice(&[0u8; 12]);
        zip.extend_from_slice(&0u32.to_le_bytes());
        zip.extend_from_slice(name);
        let cd_len = zip.len() as u32 - cd_offset;
        zip.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00");
        zip.extend_from_slice(&cd_len.to_le_bytes());
        zip.extend_from_slice(&cd_offset.to_le_bytes());
        zip.extend_from_slice(&0u16.to_le_bytes());
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &zip);
        let raw = format!(
            "From: alice@example.com\r\nTo: x@partner.example\r\nSubject: data\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
--b\r\nContent-Type: application/zip; name=\"data.zip\"\r\nContent-Disposition: attachment; filename=\"data.zip\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--b--\r\n"
        );
        let report = scanner()
            .scan(raw.as_bytes(), &outbound("x@partner.example"))
            .await;
        let dlp = report.dlp.expect("DLP ran");
        assert!(
            dlp.findings
                .iter()
                .any(|f| f.entity == "unreadable_attachment"),
            "{:?}",
            dlp.findings
        );
    }
}
