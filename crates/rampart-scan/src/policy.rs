//! From findings to one action: score thresholds, then findings that force at least an action.

use rampart_model::config::PolicyConfig;
use rampart_model::{Action, Direction, Finding};

#[derive(Debug, Clone)]
pub struct Policy {
    config: PolicyConfig,
}

impl Policy {
    pub fn new(config: PolicyConfig) -> Self {
        Policy { config }
    }

    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

    /// The action for a message with these findings. A forced action applies when a finding's
    /// exact name, or its family, is listed; the stronger of score and forced action wins.
    pub fn decide(&self, direction: Direction, score: f32, findings: &[Finding]) -> Action {
        let c = &self.config;
        let by_score = match direction {
            Direction::Inbound if score >= c.reject_score => Action::Reject,
            Direction::Inbound if score >= c.quarantine_score => Action::Quarantine,
            Direction::Inbound if score >= c.junk_score => Action::Junk,
            Direction::Inbound if score >= c.tag_score => Action::Tag,
            Direction::Outbound if score >= c.block_score => Action::Reject,
            Direction::Outbound if score >= c.hold_score => Action::Hold,
            _ => Action::Accept,
        };
        let forced = findings
            .iter()
            .filter_map(|f| {
                c.actions
                    .get(&f.name)
                    .or_else(|| c.actions.get(f.family()))
                    .copied()
            })
            .max()
            .unwrap_or(Action::Accept);
        let action = by_score.max(forced);
        match direction {
            Direction::Inbound => action,
            // Outbound mail is never junked or quarantined at the recipient's side: it is held
            // for the sender to verify, or blocked.
            Direction::Outbound => match action {
                Action::Junk | Action::Quarantine => Action::Hold,
                other => other,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str, score: f32) -> Finding {
        Finding::new(name, score)
    }

    #[test]
    fn maps_scores_to_actions_by_threshold() {
        let p = Policy::new(PolicyConfig::default());
        let d = |s: f32| p.decide(Direction::Inbound, s, &[]);
        assert_eq!(d(0.0), Action::Accept);
        assert_eq!(d(3.0), Action::Tag);
        assert_eq!(d(6.5), Action::Junk);
        assert_eq!(d(12.0), Action::Quarantine);
        assert_eq!(d(25.0), Action::Reject);
    }

    #[test]
    fn named_findings_force_their_action_even_at_low_scores() {
        let p = Policy::new(PolicyConfig::default());
        assert_eq!(
            p.decide(Direction::Inbound, 1.0, &[f("file.macro", 1.0)]),
            Action::Quarantine
        );
        assert_eq!(
            p.decide(Direction::Inbound, 100.0, &[f("av.virus", 100.0)]),
            Action::Reject
        );
    }

    #[test]
    fn a_family_entry_covers_every_finding_of_the_family() {
        let mut config = PolicyConfig::default();
        config.actions.insert("url".into(), Action::Junk);
        let p = Policy::new(config);
        assert_eq!(
            p.decide(Direction::Inbound, 0.5, &[f("url.shortener", 0.5)]),
            Action::Junk
        );
    }

    #[test]
    fn outbound_mail_is_held_or_blocked_never_junked() {
        let p = Policy::new(PolicyConfig::default());
        assert_eq!(p.decide(Direction::Outbound, 9.0, &[]), Action::Hold);
        assert_eq!(
            p.decide(Direction::Outbound, 2.0, &[f("file.macro", 2.0)]),
            Action::Hold
        );
        assert_eq!(p.decide(Direction::Outbound, 50.0, &[]), Action::Reject);
        assert_eq!(p.decide(Direction::Outbound, 4.0, &[]), Action::Accept);
    }
}
