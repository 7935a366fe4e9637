//! Admin rules: keyword dictionaries (one Aho-Corasick automaton per case mode) and regular
//! expressions (a `RegexSet` pass first, so only rules that match run again for positions).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use crate::normalize::fold;
use crate::{Confidence, Dictionary, DlpError, PatternRule};

/// Compiled-program limit for admin regexes: generous for real rules, bounded for hostile ones.
const REGEX_SIZE_LIMIT: usize = 2 << 20;

/// A dictionary hit in normalised offsets.
pub(crate) struct RuleHit {
    pub rule: usize,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug)]
struct Automaton {
    automaton: AhoCorasick,
    /// Per pattern: dictionary index, and whether each end must sit on an ASCII word boundary.
    patterns: Vec<(usize, bool, bool)>,
}

#[derive(Debug)]
pub(crate) struct DictionaryIndex {
    pub rules: Vec<(String, Confidence)>,
    automata: Vec<Automaton>,
}

impl DictionaryIndex {
    pub fn new(dictionaries: &[Dictionary]) -> Result<DictionaryIndex, DlpError> {
        let mut rules = Vec::new();
        let mut words: [Vec<String>; 2] = [Vec::new(), Vec::new()];
        let mut patterns: [Vec<(usize, bool, bool)>; 2] = [Vec::new(), Vec::new()];
        for (k, dict) in dictionaries.iter().enumerate() {
            if dict.name.trim().is_empty() {
                return Err(DlpError::UnnamedRule { kind: "dictionary" });
            }
            let mode = usize::from(dict.case_sensitive);
            let mut any = false;
            for word in &dict.words {
                let w = fold(word.trim());
                if w.is_empty() {
                    continue;
                }
                let b = w.as_bytes();
                patterns[mode].push((
                    k,
                    b[0].is_ascii_alphanumeric(),
                    b[b.len() - 1].is_ascii_alphanumeric(),
                ));
                words[mode].push(w);
                any = true;
            }
            if !any {
                return Err(DlpError::InvalidDictionary {
                    name: dict.name.clone(),
                    reason: "no words".to_string(),
                });
            }
            rules.push((dict.name.clone(), dict.confidence));
        }
        let mut automata = Vec::new();
        for (mode, (words, patterns)) in words.into_iter().zip(patterns).enumerate() {
            if words.is_empty() {
                continue;
            }
            let automaton = AhoCorasickBuilder::new()
                .ascii_case_insensitive(mode == 0)
                .match_kind(MatchKind::LeftmostLongest)
                .build(&words)
                .map_err(|e| DlpError::InvalidDictionary {
                    name: "(all)".to_string(),
                    reason: e.to_string(),
                })?;
            automata.push(Automaton {
                automaton,
                patterns,
            });
        }
        Ok(DictionaryIndex { rules, automata })
    }

    pub fn find(&self, text: &str, out: &mut Vec<RuleHit>) {
        let b = text.as_bytes();
        for a in &self.automata {
            for m in a.automaton.find_iter(text) {
                let (rule, bound_start, bound_end) = a.patterns[m.pattern().as_usize()];
                let (s, e) = (m.start(), m.end());
                if bound_start && s > 0 && b[s - 1].is_ascii_alphanumeric() {
                    continue;
                }
                if bound_end && e < b.len() && b[e].is_ascii_alphanumeric() {
                    continue;
                }
                out.push(RuleHit {
                    rule,
                    start: s,
                    end: e,
                });
            }
        }
    }
}

#[derive(Debug)]
pub(crate) struct PatternIndex {
    pub rules: Vec<(String, Confidence)>,
    set: Option<RegexSet>,
    regexes: Vec<Regex>,
}

impl PatternIndex {
    pub fn new(patterns: &[PatternRule]) -> Result<PatternIndex, DlpError> {
        let mut rules = Vec::new();
        let mut regexes = Vec::new();
        for p in patterns {
            if p.name.trim().is_empty() {
                return Err(DlpError::UnnamedRule { kind: "pattern" });
            }
            let invalid = |e: regex::Error| DlpError::InvalidPattern {
                rule: p.name.clone(),
                reason: e.to_string(),
            };
            let re = RegexBuilder::new(&p.regex)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(invalid)?;
            if re.is_match("") {
                return Err(DlpError::EmptyPatternMatch {
                    rule: p.name.clone(),
                });
            }
            regexes.push(re);
            rules.push((p.name.clone(), p.confidence));
        }
        let set = if patterns.is_empty() {
            None
        } else {
            let set = RegexSetBuilder::new(patterns.iter().map(|p| &p.regex))
                .size_limit(REGEX_SIZE_LIMIT * patterns.len().min(8))
                .build()
                .map_err(|e| DlpError::InvalidPattern {
                    rule: "(all patterns together)".to_string(),
                    reason: e.to_string(),
                })?;
            Some(set)
        };
        Ok(PatternIndex {
            rules,
            set,
            regexes,
        })
    }

    pub fn find(&self, text: &str, out: &mut Vec<RuleHit>) {
        let Some(set) = &self.set else { return };
        for rule in set.matches(text).iter() {
            for m in self.regexes[rule].find_iter(text) {
                if m.start() < m.end() {
                    out.push(RuleHit {
                        rule,
                        start: m.start(),
                        end: m.end(),
                    });
                }
            }
        }
    }
}
