//! The spam classifier: the global model (shipped or configured) scores the message's features
//! (see [`crate::spam`]); the probability becomes a finding whose score grows with confidence.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use rampart_classify::{LayeredModel, Model};
use rampart_model::{Direction, Finding};

use crate::checks::CheckOutput;
use crate::{spam::mail_features, Check, Envelope, Mail};

/// Where personal spam layers come from (the store, in the server). Feedback a user gave
/// ("this is spam", "this is not spam") trains their layer; it is added to the global model's
/// verdict for mail addressed to them alone.
#[async_trait]
pub trait UserModels: Send + Sync {
    async fn layer(&self, recipient: &str) -> Option<Arc<Model>>;
}

/// The slot the server fills with its [`UserModels`] once the store is open.
pub type UserModelSlot = Arc<RwLock<Option<Arc<dyn UserModels>>>>;

pub struct SpamClassifier {
    model: Arc<Model>,
    users: UserModelSlot,
}

impl SpamClassifier {
    pub fn new(model: Arc<Model>, users: UserModelSlot) -> Self {
        SpamClassifier { model, users }
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

    async fn run(&self, mail: &Mail<'_>, envelope: &Envelope, out: &mut CheckOutput) {
        let features = mail_features(mail, self.model.feature_config());
        let source = self.users.read().ok().and_then(|s| s.clone());
        let layer = match (&source, envelope.recipients.as_slice()) {
            (Some(source), [only]) => source.layer(only).await,
            _ => None,
        };
        let p = match &layer {
            Some(user) => LayeredModel {
                global: &self.model,
                user,
            }
            .predict(&features),
            None => self.model.predict(&features),
        };
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
