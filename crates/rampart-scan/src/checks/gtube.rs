//! GTUBE: the standard test string every spam filter must treat as spam.

use async_trait::async_trait;
use rampart_model::Finding;

use crate::checks::CheckOutput;
use crate::{Check, Envelope, Mail};

const GTUBE: &[u8] = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

pub struct Gtube;

#[async_trait]
impl Check for Gtube {
    fn name(&self) -> &'static str {
        "content"
    }

    async fn run(&self, mail: &Mail<'_>, _: &Envelope, out: &mut CheckOutput) {
        // Raw bytes for the plain case, decoded bodies for base64/quoted-printable ones.
        let in_text = || {
            mail.text_bodies()
                .iter()
                .chain(mail.html_bodies().iter())
                .any(|t| memchr::memmem::find(t.as_bytes(), GTUBE).is_some())
        };
        if memchr::memmem::find(mail.raw, GTUBE).is_some() || in_text() {
            out.push(Finding::new("content.gtube", 100.0).with_evidence("GTUBE test string"));
        }
    }
}
