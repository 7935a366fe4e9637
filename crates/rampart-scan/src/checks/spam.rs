//! The spam classifier: the global model (shipped or configured) scores the message's features
//! (see [`crate::spam`]); the probability becomes a finding whose score grows with confidence.

use std::sync::Arc;

use async_trait::async_trait;
use rampart_classify::Model;
use rampart_model::{Direction, Finding};

use crate::checks::CheckOutput;
use crate::{spam::mail_features, Check, Envelope, Mail};

pub struct SpamClassifier {
    model: Arc<Model>,
}

impl SpamClassifier {
    pub fn new(model: Arc<Model>) -> Self {
        SpamClassifier { model }
    }
}

/// How a spam probability counts: its log-odds, so 0.99 scores about 6 (Junk) and 0.99999 about
/// 15 (quarantine). A ham-looking message scores 0, never below: short business mail looks like
/// ham to the classifier, and that must not cancel an impersonation or malware finding.
pub fn spam_score(probability: f32) -> f32 {
    let p = probability.clamp(1e-6, 1.0 - 1e-6);
    let logit = (p / (1.0 - p)).ln();
    (1.3 * logit).clamp(0.0, 15.0)
}

#[async_trait]
impl Check for SpamClassifier {
    fn name(&self) -> &'static str {
        "spam"
    }

    fn applies_to(&self, direction: Direction) -> bool {
        direction == Direction::Inbound
    }

    async fn run(&self, mail: &Mail<'_>, _: &Envelope, out: &mut CheckOutput) {
        let features = mail_features(mail, self.model.feature_config());
        let p = self.model.predict(&features);
        let score = spam_score(p);
        if score >= 0.5 {
            out.push(
                Finding::new("spam.classifier", score)
                    .with_evidence(format!("spam probability {p:.4}")),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confident_spam_reaches_junk_and_ham_never_subtracts() {
        assert!(spam_score(0.99) >= 5.9 && spam_score(0.99) < 6.1);
        assert!(spam_score(0.99999) >= 14.9);
        assert_eq!(spam_score(0.01), 0.0);
        assert_eq!(spam_score(0.5), 0.0);
    }
}
