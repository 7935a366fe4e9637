//! `rampart audit verify`: every link of the chain and every signed checkpoint.

use std::collections::BTreeMap;

use rampart_model::Checkpoint;
use rampart_store::audit::{checkpoint_message, entry_hash, parse_hash, GENESIS};
use rampart_store::MetaStore;
use serde::Serialize;

use crate::key::signature_ok;
use crate::AuditError;

/// Entries read per store round trip.
const PAGE: usize = 5000;

/// One thing wrong with the trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The entry it concerns (the first one, for a range).
    pub entry: Option<i64>,
    /// The checkpoint it concerns.
    pub checkpoint: Option<i64>,
    pub what: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub entries: u64,
    pub first_id: Option<i64>,
    pub last_id: Option<i64>,
    pub checkpoints: u64,
    /// The entry the newest valid checkpoint covers.
    pub signed_up_to: Option<i64>,
    /// Entries after the newest checkpoint: intact links, but not yet signed.
    pub unsigned_tail: u64,
    /// Public keys that signed checkpoints (hex).
    pub keys: Vec<String>,
    /// The first bad entry, the one to look at first.
    pub first_bad_entry: Option<i64>,
    pub problems: Vec<Problem>,
}

/// Checks the chain. `trusted_keys` (hex Ed25519 public keys) are the keys a checkpoint may be
/// signed with; a checkpoint signed by any other key is a problem (the signing key was replaced).
/// `progress(done, total)` is called as entries are read.
pub async fn verify(
    store: &dyn MetaStore,
    trusted_keys: &[String],
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> Result<VerifyReport, AuditError> {
    let checkpoints = store.checkpoints().await?;
    let total = store
        .audit_head()
        .await?
        .map(|(id, _)| id.max(0) as u64)
        .unwrap_or(0);
    let mut report = VerifyReport {
        checkpoints: checkpoints.len() as u64,
        ..Default::default()
    };
    let mut by_entry: BTreeMap<i64, Vec<&Checkpoint>> = BTreeMap::new();
    for c in &checkpoints {
        by_entry.entry(c.event_id).or_default().push(c);
        if !report.keys.contains(&c.public_key) {
            report.keys.push(c.public_key.clone());
        }
    }
    let mut problems: Vec<Problem> = Vec::new();
    for c in &checkpoints {
        let signed = parse_hash(&c.hash)
            .map(|h| {
                signature_ok(
                    &c.public_key,
                    &checkpoint_message(c.event_id, &h, c.at.0),
                    &c.signature,
                )
            })
            .unwrap_or(false);
        if !signed {
            problems.push(Problem {
                entry: Some(c.event_id),
                checkpoint: Some(c.id),
                what: format!(
                    "checkpoint {} (entry {}) has no valid signature: it was forged or altered",
                    c.id, c.event_id
                ),
            });
        } else if !trusted_keys.is_empty()
            && !trusted_keys
                .iter()
                .any(|k| k.eq_ignore_ascii_case(&c.public_key))
        {
            problems.push(Problem {
                entry: Some(c.event_id),
                checkpoint: Some(c.id),
                what: format!(
                    "checkpoint {} (entry {}) is signed by key {}…, which is not a trusted audit key (was the signing key replaced?)",
                    c.id,
                    c.event_id,
                    short(&c.public_key)
                ),
            });
        }
    }
    let mut after = 0i64;
    let mut prev_stored = GENESIS;
    let mut expected = 1i64;
    let mut done = 0u64;
    loop {
        let page = store.audit_entries(after, PAGE).await?;
        if page.is_empty() {
            break;
        }
        for e in &page {
            report.first_id.get_or_insert(e.id);
            report.last_id = Some(e.id);
            report.entries += 1;
            if e.id != expected {
                let what = if e.id > expected {
                    if e.id - expected == 1 {
                        format!("entry {expected} is missing (deleted)")
                    } else {
                        format!("entries {expected} to {} are missing (deleted)", e.id - 1)
                    }
                } else {
                    format!("entry {} appears out of order", e.id)
                };
                problems.push(Problem {
                    entry: Some(expected.min(e.id)),
                    checkpoint: None,
                    what,
                });
            }
            let computed = entry_hash(
                &prev_stored,
                e.id,
                e.at.0,
                &e.kind,
                &e.actor,
                e.subject.as_deref(),
                &e.detail,
            );
            let stored = e.hash.as_deref().and_then(parse_hash);
            match stored {
                Some(h) if h == computed => {}
                Some(_) => problems.push(Problem {
                    entry: Some(e.id),
                    checkpoint: None,
                    what: format!(
                        "entry {} does not match its chain hash: it was edited, or an entry before it was removed or moved",
                        e.id
                    ),
                }),
                None => problems.push(Problem {
                    entry: Some(e.id),
                    checkpoint: None,
                    what: format!("entry {} has no chain hash", e.id),
                }),
            }
            for c in by_entry.get(&e.id).into_iter().flatten() {
                if !c.hash.eq_ignore_ascii_case(e.hash.as_deref().unwrap_or(""))
                    || stored != Some(computed)
                {
                    problems.push(Problem {
                        entry: Some(e.id),
                        checkpoint: Some(c.id),
                        what: format!(
                            "signed checkpoint {} says entry {} had hash {}…, the chain now differs: entries up to {} were rewritten after it was signed",
                            c.id,
                            e.id,
                            short(&c.hash),
                            e.id
                        ),
                    });
                }
            }
            // Links are checked against the stored hash of the row before, so one edit names
            // exactly one entry instead of every entry after it.
            prev_stored = stored.unwrap_or(computed);
            expected = e.id + 1;
            after = e.id;
            done += 1;
        }
        progress(done, total.max(done));
    }
    let last = report.last_id.unwrap_or(0);
    for c in &checkpoints {
        if c.event_id > last {
            problems.push(Problem {
                entry: Some(last + 1),
                checkpoint: Some(c.id),
                what: format!(
                    "signed checkpoint {} covers entry {}, but the log ends at entry {last}: entries after {last} were deleted",
                    c.id, c.event_id
                ),
            });
        }
    }
    // A rewritten stretch that a later checkpoint covers: the checkpoint's entry matches no more,
    // reported above at the checkpoint's entry; narrow it to the first entry after the previous
    // good checkpoint is not possible without the old data, so the report says "up to".
    report.signed_up_to = checkpoints
        .iter()
        .filter(|c| c.event_id <= last && !problems.iter().any(|p| p.checkpoint == Some(c.id)))
        .map(|c| c.event_id)
        .max();
    report.unsigned_tail = report
        .last_id
        .map(|l| (l - report.signed_up_to.unwrap_or(0)).max(0) as u64)
        .unwrap_or(0);
    problems.sort_by_key(|p| (p.entry.unwrap_or(i64::MAX), p.checkpoint.unwrap_or(0)));
    report.first_bad_entry = problems.iter().filter_map(|p| p.entry).min();
    report.ok = problems.is_empty();
    report.problems = problems;
    Ok(report)
}

/// The start of a stored hex value for a message; stored text may be anything after tampering,
/// so cut by characters, never by bytes.
fn short(s: &str) -> String {
    s.chars().take(16).collect()
}
