//! Antivirus: built-in and configured SHA-256 signatures over every attachment and every file
//! inside an archive (from the attachments check), then clamd over the whole message (clamd
//! decodes MIME and archives itself). An unreachable clamd is a finding; fail-open or
//! fail-closed is configuration.

use async_trait::async_trait;
use rampart_av::{findings_for, AvPolicy, ClamdClient, HashSignatures};
use rampart_model::Finding;

use crate::checks::CheckOutput;
use crate::{Check, Envelope, Mail};

pub struct Antivirus {
    hashes: HashSignatures,
    clamd: Option<ClamdClient>,
    policy: AvPolicy,
}

impl Antivirus {
    pub fn new(hashes: HashSignatures, clamd: Option<ClamdClient>, policy: AvPolicy) -> Self {
        Antivirus {
            hashes,
            clamd,
            policy,
        }
    }
}

#[async_trait]
impl Check for Antivirus {
    fn name(&self) -> &'static str {
        "av"
    }

    async fn run(&self, mail: &Mail<'_>, _: &Envelope, out: &mut CheckOutput) {
        let mut hits = Vec::new();
        for file in &out.files {
            if let Some(signature) = self.hashes.lookup_hex(&file.sha256) {
                hits.push(
                    Finding::new("av.virus", 100.0)
                        .with_evidence(format!("{signature} in {}", file.path)),
                );
            }
        }
        let found_by_hash = !hits.is_empty();
        out.findings.extend(hits);
        if found_by_hash {
            return; // conclusive already; spare clamd the work
        }
        if let Some(clamd) = &self.clamd {
            let outcome = clamd.scan(mail.raw).await;
            out.findings.extend(findings_for(&outcome, self.policy));
        }
    }
}
