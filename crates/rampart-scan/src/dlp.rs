//! What data-leak prevention concluded about a message: the matches (masked) and what the
//! configured rules say to do. Filled in by the DLP check and the rules after the pipeline.

use serde::{Deserialize, Serialize};

/// What the DLP rules want done with a message (independent of the spam/phishing action).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DlpAction {
    Allow,
    /// Deliver, and tell the sender what was found.
    Notify,
    /// Hold until the sender verifies with a second factor.
    HoldSender,
    /// Hold until an administrator decides.
    HoldAdmin,
    /// Refuse, with the rule's tip.
    Block,
}

impl DlpAction {
    pub fn as_str(self) -> &'static str {
        match self {
            DlpAction::Allow => "allow",
            DlpAction::Notify => "notify",
            DlpAction::HoldSender => "hold_sender",
            DlpAction::HoldAdmin => "hold_admin",
            DlpAction::Block => "block",
        }
    }

    pub fn parse(s: &str) -> Option<DlpAction> {
        [
            DlpAction::Allow,
            DlpAction::Notify,
            DlpAction::HoldSender,
            DlpAction::HoldAdmin,
            DlpAction::Block,
        ]
        .into_iter()
        .find(|a| a.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl std::fmt::Display for DlpAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Matches of one entity at one confidence, with masked examples and where they were.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DlpFinding {
    /// `CN_RESIDENT_ID`, `keyword:projects`, `unreadable_attachment`, ...
    pub entity: String,
    /// `low`, `medium` or `high`.
    pub confidence: String,
    pub count: u32,
    /// Masked values (`3209**********4120`), at most a few.
    pub examples: Vec<String>,
    /// Where: `body`, `subject`, `attachment report.xlsx#Sheet1`, with byte offsets of the first
    /// matches in that text.
    pub locations: Vec<String>,
}

/// The DLP outcome of one message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DlpVerdict {
    pub action: DlpAction,
    /// The rule that decided, with its tip for the sender.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tip: Option<String>,
    /// Some matching rule asks to alert administrators.
    pub alert: bool,
    /// Every rule that matched.
    pub matched_rules: Vec<String>,
    pub findings: Vec<DlpFinding>,
}

impl DlpVerdict {
    /// The findings as a compact JSON array for holds and events (masked values only).
    pub fn findings_json(&self) -> String {
        serde_json::to_string(&self.findings).unwrap_or_else(|_| "[]".into())
    }
}

/// The detectors for `[dlp]`: the built-ins, the built-in "confidential" dictionary, and the
/// admin's dictionaries and patterns.
pub fn detectors(
    config: &rampart_model::config::DlpConfig,
) -> Result<rampart_dlp::Detectors, crate::ScanError> {
    use crate::ScanError;
    let parse_confidence = |what: &str, c: &str| {
        c.parse::<rampart_dlp::Confidence>().map_err(|_| {
            ScanError::Config(format!(
                "dlp {what}: confidence must be low, medium or high, not {c:?}"
            ))
        })
    };
    let mut dictionaries = vec![rampart_dlp::Dictionary::confidential()];
    for d in &config.dictionaries {
        dictionaries.push(rampart_dlp::Dictionary {
            name: d.name.clone(),
            words: d.words.clone(),
            case_sensitive: d.case_sensitive,
            confidence: parse_confidence(&format!("dictionary {:?}", d.name), &d.confidence)?,
        });
    }
    let mut patterns = Vec::new();
    for p in &config.patterns {
        patterns.push(rampart_dlp::PatternRule {
            name: p.name.clone(),
            regex: p.regex.clone(),
            confidence: parse_confidence(&format!("pattern {:?}", p.name), &p.confidence)?,
        });
    }
    rampart_dlp::Detectors::new(&rampart_dlp::DlpConfig {
        dictionaries,
        patterns,
        ..Default::default()
    })
    .map_err(|e| ScanError::Config(format!("dlp: {e}")))
}

/// What the DLP check saw in one message, before the rules.
#[derive(Debug, Clone, Default)]
pub struct DlpScan {
    pub findings: Vec<DlpFinding>,
}

/// Confidence levels as the rules name them.
fn confidence_rank(s: &str) -> Option<u8> {
    match s.trim().to_ascii_lowercase().as_str() {
        "low" => Some(0),
        "medium" => Some(1),
        "high" => Some(2),
        _ => None,
    }
}

/// One configured rule, checked.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    entities: Vec<String>,
    min_confidence: u8,
    min_count: u32,
    direction: Option<rampart_model::Direction>,
    external_only: bool,
    departments: Vec<String>,
    levels: Vec<String>,
    pub action: DlpAction,
    alert: bool,
    tip: String,
}

/// The configured rules, validated once.
#[derive(Debug, Clone, Default)]
pub struct Rules(Vec<Rule>);

impl Rules {
    /// The directions some rule looks at (the DLP check runs only for those).
    pub fn directions(&self) -> Vec<rampart_model::Direction> {
        use rampart_model::Direction::{Inbound, Outbound};
        [Inbound, Outbound]
            .into_iter()
            .filter(|d| self.0.iter().any(|r| r.direction.is_none_or(|rd| rd == *d)))
            .collect()
    }

    pub fn new(rules: &[rampart_model::config::DlpRule]) -> Result<Rules, String> {
        let mut out = Vec::with_capacity(rules.len());
        for r in rules {
            let ctx = |what: &str| format!("[[dlp.rules]] {:?}: {what}", r.name);
            let action = DlpAction::parse(&r.action).ok_or_else(|| {
                ctx("action must be allow, notify, hold_sender, hold_admin or block")
            })?;
            let min_confidence = confidence_rank(&r.min_confidence)
                .ok_or_else(|| ctx("min_confidence must be low, medium or high"))?;
            let direction = match r.direction.trim().to_ascii_lowercase().as_str() {
                "outbound" => Some(rampart_model::Direction::Outbound),
                "inbound" => Some(rampart_model::Direction::Inbound),
                "any" => None,
                _ => return Err(ctx("direction must be outbound, inbound or any")),
            };
            if r.entities.is_empty() {
                return Err(ctx("entities must name at least one entity"));
            }
            out.push(Rule {
                name: r.name.clone(),
                entities: r.entities.iter().map(|e| normalize_entity(e)).collect(),
                min_confidence,
                min_count: r.min_count.max(1),
                direction,
                external_only: r.external_only,
                departments: r.departments.clone(),
                levels: r.levels.clone(),
                action,
                alert: r.alert,
                tip: r.tip.clone(),
            });
        }
        Ok(Rules(out))
    }

    /// The strongest action of the rules that match (block > hold_admin > hold_sender > notify >
    /// allow); alert if any matching rule alerts.
    pub fn decide(
        &self,
        scan: DlpScan,
        envelope: &crate::Envelope,
        org: &crate::OrgDirectory,
    ) -> DlpVerdict {
        let external = envelope.recipients.iter().any(|r| {
            r.rsplit_once('@')
                .is_none_or(|(_, domain)| !org.is_local(domain))
        });
        let mut matched: Vec<&Rule> = Vec::new();
        for rule in &self.0 {
            if rule.direction.is_some_and(|d| d != envelope.direction) {
                continue;
            }
            if rule.external_only && !external {
                continue;
            }
            let in_list = |list: &[String], v: &Option<String>| {
                list.is_empty()
                    || v.as_deref()
                        .is_some_and(|v| list.iter().any(|x| x.eq_ignore_ascii_case(v)))
            };
            if !in_list(&rule.departments, &envelope.sender_department)
                || !in_list(&rule.levels, &envelope.sender_level)
            {
                continue;
            }
            let count: u32 = scan
                .findings
                .iter()
                .filter(|f| {
                    rule.entities
                        .iter()
                        .any(|e| *e == normalize_entity(&f.entity))
                })
                .filter(|f| confidence_rank(&f.confidence).unwrap_or(2) >= rule.min_confidence)
                .map(|f| f.count)
                .sum();
            if count >= rule.min_count {
                matched.push(rule);
            }
        }
        let decider = matched.iter().max_by_key(|r| r.action).copied();
        DlpVerdict {
            action: decider.map_or(DlpAction::Allow, |r| r.action),
            rule: decider.map(|r| r.name.clone()),
            tip: decider.map(|r| r.tip.clone()).filter(|t| !t.is_empty()),
            alert: matched.iter().any(|r| r.alert),
            matched_rules: matched.iter().map(|r| r.name.clone()).collect(),
            findings: scan.findings,
        }
    }
}

/// `cn_resident_id` and `CN_RESIDENT_ID` are the same; `keyword:`/`pattern:` names keep case.
fn normalize_entity(e: &str) -> String {
    let e = e.trim();
    match e.split_once(':') {
        Some((kind, name)) => format!("{}:{name}", kind.to_ascii_lowercase()),
        None => e.to_ascii_uppercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Envelope, OrgDirectory};
    use rampart_model::config::DlpRule;
    use rampart_model::Direction;

    fn finding(entity: &str, confidence: &str, count: u32) -> DlpFinding {
        DlpFinding {
            entity: entity.into(),
            confidence: confidence.into(),
            count,
            examples: vec!["3209**********4120".into()],
            locations: vec!["body@12".into()],
        }
    }

    fn envelope(to: &str) -> Envelope {
        Envelope {
            direction: Direction::Outbound,
            recipients: vec![to.into()],
            authenticated: Some("alice@example.com".into()),
            sender_department: Some("Finance".into()),
            ..Default::default()
        }
    }

    fn org() -> OrgDirectory {
        OrgDirectory {
            local_domains: vec!["example.com".into()],
            people: vec![],
        }
    }

    #[test]
    fn default_rules_hold_one_id_to_outside_and_block_ten() {
        let rules = Rules::new(&DlpRule::defaults()).unwrap();
        let one = DlpScan {
            findings: vec![finding("CN_RESIDENT_ID", "high", 1)],
        };
        let v = rules.decide(one.clone(), &envelope("x@partner.example"), &org());
        assert_eq!(v.action, DlpAction::HoldSender);
        assert_eq!(v.rule.as_deref(), Some("ids-or-cards-outside"));
        assert!(!v.alert);
        // Inside the company: nothing to do.
        let v = rules.decide(one, &envelope("bob@example.com"), &org());
        assert_eq!(v.action, DlpAction::Allow);
        // Medium confidence (checksum without a supporting word) does not trip the default.
        let medium = DlpScan {
            findings: vec![finding("CN_BANK_CARD", "medium", 3)],
        };
        assert_eq!(
            rules
                .decide(medium, &envelope("x@partner.example"), &org())
                .action,
            DlpAction::Allow
        );
        let bulk = DlpScan {
            findings: vec![
                finding("CN_RESIDENT_ID", "high", 6),
                finding("CN_BANK_CARD", "high", 4),
            ],
        };
        let v = rules.decide(bulk, &envelope("x@partner.example"), &org());
        assert_eq!(v.action, DlpAction::Block);
        assert!(v.alert);
        assert_eq!(v.matched_rules.len(), 2);
    }

    #[test]
    fn rules_filter_by_department_and_validate() {
        let mut rule = DlpRule::defaults().remove(0);
        rule.departments = vec!["HR".into()];
        rule.entities = vec!["keyword:projects".into()];
        rule.min_confidence = "low".into();
        let rules = Rules::new(std::slice::from_ref(&rule)).unwrap();
        let scan = DlpScan {
            findings: vec![finding("keyword:projects", "low", 1)],
        };
        assert_eq!(
            rules
                .decide(scan.clone(), &envelope("x@partner.example"), &org())
                .action,
            DlpAction::Allow,
            "Finance is not HR"
        );
        rule.departments = vec!["finance".into()];
        let rules = Rules::new(std::slice::from_ref(&rule)).unwrap();
        assert_eq!(
            rules
                .decide(scan, &envelope("x@partner.example"), &org())
                .action,
            DlpAction::HoldSender
        );
        rule.action = "shred".into();
        assert!(Rules::new(&[rule]).unwrap_err().contains("action"));
    }
}
