//! Sender authentication: SPF, DKIM, DMARC and ARC (rampart-senderauth over mail-auth).

use async_trait::async_trait;
use rampart_model::Direction;
use rampart_senderauth::{AuthRequest, SenderAuth};

use crate::checks::CheckOutput;
use crate::{Check, Envelope, Mail};

pub struct SenderAuthentication {
    auth: SenderAuth,
    hostname: String,
}

impl SenderAuthentication {
    pub fn new(auth: SenderAuth, hostname: &str) -> Self {
        SenderAuthentication {
            auth,
            hostname: hostname.to_string(),
        }
    }
}

#[async_trait]
impl Check for SenderAuthentication {
    fn name(&self) -> &'static str {
        "auth"
    }

    fn applies_to(&self, direction: Direction) -> bool {
        direction == Direction::Inbound
    }

    async fn run(&self, mail: &Mail<'_>, envelope: &Envelope, out: &mut CheckOutput) {
        // Without the peer's address SPF means nothing (offline scans of a file).
        let Some(peer_ip) = envelope.peer_ip else {
            return;
        };
        let outcome = self
            .auth
            .verify(&AuthRequest {
                raw: mail.raw,
                peer_ip,
                helo: &envelope.helo,
                mail_from: &envelope.mail_from,
                receiver: &self.hostname,
            })
            .await;
        out.findings.extend(outcome.findings);
        out.authentication_results = Some(outcome.authentication_results);
    }
}
