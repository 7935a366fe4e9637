//! Attachments: what each file really is (magic bytes, not its name), dangerous types, double
//! extensions, archives (nested, encrypted, bombs), Office macros, risky PDFs, HTML smuggling —
//! all by rampart-files. Text found inside goes on to the link check; file hashes to antivirus.

use async_trait::async_trait;
use rampart_files::{inspect, Limits};

use crate::checks::{CheckOutput, ScannedFile};
use crate::{Check, Envelope, Mail};

pub struct Attachments {
    limits: Limits,
}

impl Attachments {
    pub fn new(limits: Limits) -> Self {
        Attachments { limits }
    }
}

#[async_trait]
impl Check for Attachments {
    fn name(&self) -> &'static str {
        "file"
    }

    async fn run(&self, mail: &Mail<'_>, _: &Envelope, out: &mut CheckOutput) {
        for attachment in mail.attachments() {
            let report = inspect(
                attachment.name.as_deref(),
                attachment.content_type.as_deref(),
                attachment.bytes,
                &self.limits,
            );
            let name = attachment
                .name
                .as_deref()
                .unwrap_or("(unnamed)")
                .to_string();
            out.findings.extend(report.findings);
            out.linked_texts.extend(report.texts);
            out.files.push(ScannedFile {
                path: name.clone(),
                sha256: report.sha256,
            });
            for child in report.children {
                if let Some(sha256) = child.sha256 {
                    out.files.push(ScannedFile {
                        path: format!("{name}!/{}", child.path),
                        sha256,
                    });
                }
            }
        }
    }
}
