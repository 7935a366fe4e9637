//! What a scan found, and the findings that the policy sees.

use rampart_model::Finding;

/// A detection: clamd or a hash signature named the content. Evidence: the signature name(s).
pub const VIRUS: &str = "av.virus";
/// The content could not be scanned (clamd down, timed out, or answered with an error), fail-open.
pub const UNAVAILABLE: &str = "av.unavailable";
/// As [`UNAVAILABLE`], under a fail-closed policy: scored so that the policy quarantines.
pub const UNAVAILABLE_FAIL_CLOSED: &str = "av.unavailable_fail_closed";
/// The content is bigger than the stream limit, so it was not scanned, fail-open.
pub const TOO_LARGE: &str = "av.too_large";
/// As [`TOO_LARGE`], under a fail-closed policy.
pub const TOO_LARGE_FAIL_CLOSED: &str = "av.too_large_fail_closed";

/// Score of [`VIRUS`]: far above any quarantine or reject threshold.
pub const VIRUS_SCORE: f32 = 100.0;
/// Score of the `*_fail_closed` findings: content nobody could vouch for is held, not delivered.
pub const FAIL_CLOSED_SCORE: f32 = 10.0;

/// The result of scanning one buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanOutcome {
    /// Nothing matched.
    Clean,
    /// Signature names, as the scanner reported them (clamd appends `.UNOFFICIAL` to local ones).
    Infected(Vec<String>),
    /// Not scanned: bigger than the client's `max_stream_size` or clamd's `StreamMaxLength`.
    TooLarge,
    /// Not scanned: clamd could not be reached, timed out or replied with an error.
    Error(String),
}

impl ScanOutcome {
    /// True when the content was scanned and nothing matched.
    pub fn is_clean(&self) -> bool {
        matches!(self, ScanOutcome::Clean)
    }

    /// True when the content was not scanned at all (too large or error).
    pub fn is_unscanned(&self) -> bool {
        matches!(self, ScanOutcome::TooLarge | ScanOutcome::Error(_))
    }
}

/// What an unscannable message means. Fail-open (the default) delivers mail when the scanner is
/// down and says so in a zero-score finding; fail-closed scores it so the policy holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AvPolicy {
    pub fail_closed: bool,
}

/// Turns a scan outcome into findings: none when clean, [`VIRUS`] when infected, and for content
/// that was not scanned, [`UNAVAILABLE`]/[`TOO_LARGE`] (score 0) or, fail-closed,
/// [`UNAVAILABLE_FAIL_CLOSED`]/[`TOO_LARGE_FAIL_CLOSED`] (score [`FAIL_CLOSED_SCORE`]).
pub fn findings_for(outcome: &ScanOutcome, policy: AvPolicy) -> Vec<Finding> {
    match outcome {
        ScanOutcome::Clean => Vec::new(),
        ScanOutcome::Infected(names) => {
            let mut finding = Finding::new(VIRUS, VIRUS_SCORE);
            for name in names {
                finding = finding.with_evidence(name.as_str());
            }
            if names.is_empty() {
                finding = finding.with_evidence("unnamed signature");
            }
            vec![finding]
        }
        ScanOutcome::TooLarge => vec![unscanned(
            policy,
            TOO_LARGE,
            TOO_LARGE_FAIL_CLOSED,
            "content exceeds the antivirus stream size limit",
        )],
        ScanOutcome::Error(why) => {
            vec![unscanned(policy, UNAVAILABLE, UNAVAILABLE_FAIL_CLOSED, why)]
        }
    }
}

fn unscanned(policy: AvPolicy, open: &str, closed: &str, why: &str) -> Finding {
    if policy.fail_closed {
        Finding::new(closed, FAIL_CLOSED_SCORE).with_evidence(why)
    } else {
        Finding::new(open, 0.0).with_evidence(why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: AvPolicy = AvPolicy { fail_closed: false };
    const CLOSED: AvPolicy = AvPolicy { fail_closed: true };

    #[test]
    fn clean_content_produces_no_finding_under_either_policy() {
        assert!(findings_for(&ScanOutcome::Clean, OPEN).is_empty());
        assert!(findings_for(&ScanOutcome::Clean, CLOSED).is_empty());
    }

    #[test]
    fn infected_content_is_one_virus_finding_scoring_100_with_every_signature_as_evidence() {
        let outcome = ScanOutcome::Infected(vec!["Eicar-Signature".into(), "Other.Sig".into()]);
        for policy in [OPEN, CLOSED] {
            let findings = findings_for(&outcome, policy);
            assert_eq!(findings.len(), 1);
            assert_eq!(findings[0].name, "av.virus");
            assert_eq!(findings[0].score, 100.0);
            assert_eq!(findings[0].evidence, ["Eicar-Signature", "Other.Sig"]);
        }
    }

    #[test]
    fn unavailable_clamd_scores_zero_when_failing_open() {
        let findings = findings_for(&ScanOutcome::Error("connection refused".into()), OPEN);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].name, "av.unavailable");
        assert_eq!(findings[0].score, 0.0);
        assert_eq!(findings[0].evidence, ["connection refused"]);
    }

    #[test]
    fn unavailable_clamd_scores_ten_under_its_own_name_when_failing_closed() {
        let findings = findings_for(&ScanOutcome::Error("timed out".into()), CLOSED);
        assert_eq!(findings[0].name, "av.unavailable_fail_closed");
        assert_eq!(findings[0].score, 10.0);
    }

    #[test]
    fn oversized_content_follows_the_fail_policy_too() {
        let open = findings_for(&ScanOutcome::TooLarge, OPEN);
        assert_eq!(
            (open[0].name.as_str(), open[0].score),
            ("av.too_large", 0.0)
        );
        let closed = findings_for(&ScanOutcome::TooLarge, CLOSED);
        assert_eq!(
            (closed[0].name.as_str(), closed[0].score),
            ("av.too_large_fail_closed", 10.0)
        );
    }

    #[test]
    fn error_evidence_from_clamd_is_kept_single_line() {
        let findings = findings_for(&ScanOutcome::Error("bad\r\nreply\0".into()), OPEN);
        assert_eq!(findings[0].evidence, ["badreply"]);
    }
}
