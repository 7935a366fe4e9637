//! Rampart's data-leak-prevention detectors: text in, masked matches out.
//!
//! [`Detectors::scan`] finds personal and financial identifiers in one pass over the text:
//! Chinese resident ID numbers (GB 11643), UnionPay bank cards and international credit cards
//! (IIN ranges, lengths, Luhn), Chinese mobile numbers, unified social credit codes (GB 32100),
//! Chinese passports, US social security numbers, IBANs (ISO 13616, every registered country's
//! length, MOD 97-10) and e-mail addresses, plus the administrator's keyword dictionaries
//! ([`Dictionary`]) and regular expressions ([`PatternRule`]).
//!
//! How it works, and why it can be trusted:
//!
//! * **Normalisation with offsets.** Full-width digits and letters (`６２２２`), ideographic and
//!   no-break spaces and Unicode hyphens are folded to ASCII first; every [`Match`] still reports
//!   byte offsets into the *original* text.
//! * **One pass.** A single scan walks the ASCII words of the text: digit runs (with the
//!   separators people write inside numbers: `6222 0212 3456 7890 123`, `110101-19900307-1234`)
//!   go to the number validators, mixed words to the IBAN/USCC/passport validators, `@` to the
//!   address parser; dictionaries are one Aho-Corasick automaton. No detector re-scans the text.
//! * **Standards, not shapes.** A number is reported only if it passes its real check (MOD 11-2,
//!   Luhn, MOD 97-10, GB 32100 MOD 31, birth date, region code, issuer range and length). A number
//!   glued to other letters or digits is not a match; a checksum-failing look-alike is never one.
//! * **Confidence.** [`Confidence::Medium`] means "the check passed"; a supporting word nearby
//!   (`身份证`, `卡号`, `IBAN`, `SSN`, ... within [`DlpConfig::context_window`] characters) raises
//!   it to [`Confidence::High`]; a shape without a checksum (a mobile number, a dashed SSN) is
//!   [`Confidence::Low`] until context supports it; passports and bare 9-digit SSNs are reported
//!   only with context. E-mail addresses are unambiguous and always `High`.
//! * **Nothing leaks through logs.** A [`Match`] holds offsets and a masked form
//!   (`3209**********4120`); the value itself is only available through [`Match::value`] with the
//!   text in hand.
//!
//! [`eval`] measures precision and recall on labelled corpora; [`bench_throughput`] measures speed.
//!
//! **Architecture invariant:** this crate knows nothing of mail and does no I/O (except
//! [`eval::read_corpus`]): strings in, matches out. Policy (what a match means for a message) lives
//! with the caller.
//!
//! ```
//! use rampart_dlp::{Confidence, Detectors, DlpConfig, Entity};
//!
//! let detectors = Detectors::new(&DlpConfig::default()).unwrap();
//! let text = "请核对身份证号３２０９２５１９７３０８１１４１２０，机密。";
//! let matches = detectors.scan(text);
//! let id = &matches[0];
//! assert_eq!(id.entity, Entity::CnResidentId);
//! assert_eq!(id.confidence, Confidence::High);
//! assert_eq!(id.masked, "3209**********4120");
//! assert_eq!(id.value(text), "３２０９２５１９７３０８１１４１２０");
//! assert_eq!(matches[1].entity, Entity::Keyword("confidential".into()));
//! let summary = Detectors::summarize(&matches);
//! assert_eq!(summary.total, 2);
//! ```

mod bench;
mod checks;
mod context;
mod dictionary;
pub mod eval;
mod mask;
mod normalize;
mod scan;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use bench::{bench_throughput, synthetic_business_text};

/// What a match is. Built-in kinds have stable upper-case names (those of the evaluation
/// corpora); admin rules carry their rule name.
///
/// Textual form ([`fmt::Display`], [`FromStr`], serde): the built-in name (`CN_RESIDENT_ID`), or
/// `keyword:<dictionary name>` / `pattern:<rule name>`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entity {
    /// Chinese resident identity card number, GB 11643-1999 (18 characters; 15-digit first
    /// generation numbers only with context, at `Low`).
    CnResidentId,
    /// UnionPay card number: 62 prefix, 16-19 digits, Luhn.
    CnBankCard,
    /// Payment card of an international brand (Visa, Mastercard, Amex, Discover, JCB, Diners,
    /// Maestro, Mir): issuer range, brand length, Luhn.
    CreditCard,
    /// Chinese mobile number: 11 digits on an allocated 1[3-9]x prefix, optional +86/0086.
    CnMobile,
    /// Unified social credit code of a Chinese organisation, GB 32100-2015.
    CnUscc,
    /// Chinese ordinary passport number (E/G + 8 digits, E + letter + 7 digits); context only.
    CnPassport,
    /// US social security number.
    UsSsn,
    /// International bank account number, ISO 13616.
    IbanCode,
    /// E-mail address.
    EmailAddress,
    /// A word from the named admin dictionary.
    Keyword(String),
    /// A match of the named admin regular expression.
    Pattern(String),
}

impl Entity {
    /// The built-in detectors, in a fixed order.
    pub const BUILTIN: [Entity; 9] = [
        Entity::CnResidentId,
        Entity::CnBankCard,
        Entity::CreditCard,
        Entity::CnMobile,
        Entity::CnUscc,
        Entity::CnPassport,
        Entity::UsSsn,
        Entity::IbanCode,
        Entity::EmailAddress,
    ];

    /// The stable name of the kind: `CN_RESIDENT_ID`, ..., or `keyword` / `pattern` for admin
    /// rules (whose rule name is in the variant and in [`Match::rule`]).
    pub fn as_str(&self) -> &'static str {
        match self {
            Entity::CnResidentId => "CN_RESIDENT_ID",
            Entity::CnBankCard => "CN_BANK_CARD",
            Entity::CreditCard => "CREDIT_CARD",
            Entity::CnMobile => "CN_MOBILE",
            Entity::CnUscc => "CN_USCC",
            Entity::CnPassport => "CN_PASSPORT",
            Entity::UsSsn => "US_SSN",
            Entity::IbanCode => "IBAN_CODE",
            Entity::EmailAddress => "EMAIL_ADDRESS",
            Entity::Keyword(_) => "keyword",
            Entity::Pattern(_) => "pattern",
        }
    }

    /// The admin rule name, for [`Entity::Keyword`] and [`Entity::Pattern`].
    pub fn rule(&self) -> Option<&str> {
        match self {
            Entity::Keyword(name) | Entity::Pattern(name) => Some(name),
            _ => None,
        }
    }

    pub fn is_builtin(&self) -> bool {
        self.rule().is_none()
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entity::Keyword(name) => write!(f, "keyword:{name}"),
            Entity::Pattern(name) => write!(f, "pattern:{name}"),
            builtin => f.write_str(builtin.as_str()),
        }
    }
}

impl fmt::Debug for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Entity {
    type Err = DlpError;

    fn from_str(s: &str) -> Result<Entity, DlpError> {
        if let Some(found) = Entity::BUILTIN.iter().find(|e| e.as_str() == s) {
            return Ok(found.clone());
        }
        let rule = |prefix: &str| {
            s.get(..prefix.len())
                .filter(|p| p.eq_ignore_ascii_case(prefix))
                .map(|_| s[prefix.len()..].to_string())
                .filter(|name| !name.is_empty())
        };
        if let Some(name) = rule("keyword:") {
            return Ok(Entity::Keyword(name));
        }
        if let Some(name) = rule("pattern:") {
            return Ok(Entity::Pattern(name));
        }
        Err(DlpError::UnknownEntity(s.to_string()))
    }
}

impl Serialize for Entity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Entity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Entity, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How sure a detector is. Ordered: `Low < Medium < High`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// The shape fits but nothing confirms it (no checksum, or a checksum weak for this shape).
    #[default]
    #[serde(alias = "Low", alias = "LOW")]
    Low,
    /// A checksum or structural check confirms it.
    #[serde(alias = "Medium", alias = "MEDIUM")]
    Medium,
    /// Confirmed, and a supporting word stands nearby.
    #[serde(alias = "High", alias = "HIGH")]
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }

    /// One step up, saturating at `High`.
    pub(crate) fn raised(self) -> Confidence {
        match self {
            Confidence::Low => Confidence::Medium,
            _ => Confidence::High,
        }
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Confidence {
    type Err = DlpError;

    fn from_str(s: &str) -> Result<Confidence, DlpError> {
        [Confidence::Low, Confidence::Medium, Confidence::High]
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| DlpError::UnknownConfidence(s.to_string()))
    }
}

/// One finding. Holds no sensitive value: offsets into the scanned text and a masked form, so it
/// can be logged, serialised and shown as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Match {
    pub entity: Entity,
    /// The admin rule (dictionary or pattern name); `None` for built-in detectors.
    pub rule: Option<String>,
    /// Byte offset of the first byte in the original text (a char boundary).
    pub start: usize,
    /// Byte offset one past the last byte in the original text (a char boundary).
    pub end: usize,
    pub confidence: Confidence,
    /// At most the first and last four characters of the (normalised, separator-free) value,
    /// the rest as `*`: `3209**********4120`; e-mail addresses as `y*******@example.org`.
    pub masked: String,
}

impl Match {
    /// The matched text, for callers that hold `text` (the string that was scanned) and need the
    /// value itself. Returns `""` if `text` is not the scanned string.
    pub fn value<'t>(&self, text: &'t str) -> &'t str {
        text.get(self.start..self.end).unwrap_or("")
    }
}

/// Match counts per confidence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfidenceCounts {
    pub low: usize,
    pub medium: usize,
    pub high: usize,
}

impl ConfidenceCounts {
    pub fn total(&self) -> usize {
        self.low + self.medium + self.high
    }

    /// Matches at `min` or above.
    pub fn at_least(&self, min: Confidence) -> usize {
        match min {
            Confidence::Low => self.total(),
            Confidence::Medium => self.medium + self.high,
            Confidence::High => self.high,
        }
    }
}

/// What [`Detectors::summarize`] makes of a list of matches: counts per entity per confidence.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub entities: BTreeMap<Entity, ConfidenceCounts>,
    pub total: usize,
}

impl Summary {
    /// The highest confidence of any match, if there is one.
    pub fn max_confidence(&self) -> Option<Confidence> {
        self.entities
            .values()
            .map(|c| {
                if c.high > 0 {
                    Confidence::High
                } else if c.medium > 0 {
                    Confidence::Medium
                } else {
                    Confidence::Low
                }
            })
            .max()
    }
}

/// An admin keyword list. Words are matched after the same normalisation as the text
/// (full-width forms folded); a word that starts or ends with an ASCII letter or digit matches
/// only as a whole word at that end (`confidential` does not fire inside `nonconfidential`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dictionary {
    pub name: String,
    pub words: Vec<String>,
    /// ASCII case: `false` (default) matches `CONFIDENTIAL` for `confidential`.
    #[serde(default)]
    pub case_sensitive: bool,
    /// A dictionary word is an indication, not proof: `Low` unless the admin raises it.
    #[serde(default)]
    pub confidence: Confidence,
}

/// An admin regular expression (Rust `regex` syntax, run on the normalised text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternRule {
    pub name: String,
    pub regex: String,
    #[serde(default)]
    pub confidence: Confidence,
}

/// Detector configuration. Every key has a default; `DlpConfig::default()` carries the built-in
/// `confidential` dictionary (a configured `dictionaries` list replaces it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DlpConfig {
    pub dictionaries: Vec<Dictionary>,
    pub patterns: Vec<PatternRule>,
    /// How far (in characters, each side) to look for supporting words such as `身份证` or `IBAN`.
    pub context_window: usize,
}

impl Default for DlpConfig {
    fn default() -> DlpConfig {
        DlpConfig {
            dictionaries: vec![Dictionary::confidential()],
            patterns: Vec::new(),
            context_window: 32,
        }
    }
}

impl Dictionary {
    /// The built-in `confidential` dictionary: classification markings in Chinese and English.
    pub fn confidential() -> Dictionary {
        let words = [
            "机密",
            "绝密",
            "秘密",
            "内部资料",
            "内部文件",
            "仅限内部",
            "严禁外传",
            "请勿外传",
            "confidential",
            "strictly confidential",
            "internal only",
            "internal use only",
            "top secret",
        ];
        Dictionary {
            name: "confidential".to_string(),
            words: words.iter().map(|w| w.to_string()).collect(),
            case_sensitive: false,
            confidence: Confidence::Low,
        }
    }
}

/// Why detectors could not be built, or a corpus not read.
#[derive(Debug, thiserror::Error)]
pub enum DlpError {
    #[error("DLP pattern rule {rule:?}: invalid regular expression: {reason}")]
    InvalidPattern { rule: String, reason: String },
    #[error("DLP pattern rule {rule:?} matches the empty string; it would fire on every text")]
    EmptyPatternMatch { rule: String },
    #[error("DLP {kind} rule with an empty name")]
    UnnamedRule { kind: &'static str },
    #[error("DLP dictionary {name:?}: {reason}")]
    InvalidDictionary { name: String, reason: String },
    #[error("unknown DLP entity {0:?}")]
    UnknownEntity(String),
    #[error("unknown DLP confidence {0:?} (low, medium, high)")]
    UnknownConfidence(String),
    #[error("corpus {path}: {reason}")]
    Corpus { path: String, reason: String },
}

/// The compiled detectors. Build once ([`Detectors::new`]), share freely (`Send + Sync`), scan
/// many texts.
#[derive(Debug)]
pub struct Detectors {
    context: context::ContextIndex,
    dictionaries: dictionary::DictionaryIndex,
    patterns: dictionary::PatternIndex,
    context_window: usize,
    /// Latest acceptable birth date, `yyyymmdd` (today, UTC, when built).
    today: u32,
}

impl Detectors {
    /// Compiles the configuration. Fails on an invalid or empty-matching admin regex, or a rule
    /// without a name, naming the rule.
    pub fn new(config: &DlpConfig) -> Result<Detectors, DlpError> {
        Ok(Detectors {
            context: context::ContextIndex::new(),
            dictionaries: dictionary::DictionaryIndex::new(&config.dictionaries)?,
            patterns: dictionary::PatternIndex::new(&config.patterns)?,
            context_window: config.context_window,
            today: checks::today_yyyymmdd(),
        })
    }

    /// Every match in `text`, sorted by start (then longest first). Matches of one entity never
    /// overlap; different entities may (a keyword inside an e-mail address, say).
    pub fn scan(&self, text: &str) -> Vec<Match> {
        scan::scan(self, text)
    }

    /// Counts per entity per confidence.
    pub fn summarize(matches: &[Match]) -> Summary {
        let mut summary = Summary::default();
        for m in matches {
            let counts = summary.entities.entry(m.entity.clone()).or_default();
            match m.confidence {
                Confidence::Low => counts.low += 1,
                Confidence::Medium => counts.medium += 1,
                Confidence::High => counts.high += 1,
            }
            summary.total += 1;
        }
        summary
    }
}
