//! Hashed features: fields of text in, one [`SparseVector`] out.

use crate::hash::{combine, stable_hash};
use crate::text::{for_each_token, normalize_into, truncate, TokenKind};

/// Smallest and largest bucket counts a model may use (2^10 .. 2^24). A dense model holds 12
/// bytes per bucket while training (12 MB at 2^20, 200 MB at 2^24).
pub const MIN_BITS: u8 = 10;
pub const MAX_BITS: u8 = 24;
/// Longest character n-gram a configuration may ask for.
pub const MAX_CHAR_NGRAM: u8 = 8;

/// How repeated features count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TermWeight {
    /// Present or not: 1.0.
    Binary,
    /// `1 + ln(count)`: repetition counts, with diminishing returns.
    Log,
}

/// Which features a document yields. Stored in the model file: a model only makes sense with the
/// configuration it was trained with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FeatureConfig {
    /// Features are hashed into `2^bits` buckets ([`MIN_BITS`]..=[`MAX_BITS`]; values outside
    /// are clamped).
    pub bits: u8,
    /// Also hash adjacent word pairs.
    pub word_bigrams: bool,
    /// Length of character n-grams over the normalised text, at most [`MAX_CHAR_NGRAM`]; 0 turns
    /// them off.
    pub char_ngram: u8,
    /// Character n-grams per text field are taken from its start, up to this many. The TREC
    /// filters that won with byte 4-grams used the first ~3,000 bytes of each message.
    pub max_char_ngrams: u32,
    /// Only the first this-many bytes of each text field are read (cut at a character boundary).
    pub max_text_bytes: u32,
    pub term_weight: TermWeight,
    /// Scale each document's vector to unit Euclidean length, so long and short documents move
    /// the learner alike.
    pub l2_normalize: bool,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            bits: 20,
            word_bigrams: true,
            char_ngram: 4,
            max_char_ngrams: 3_000,
            max_text_bytes: 16 * 1024,
            term_weight: TermWeight::Log,
            l2_normalize: true,
        }
    }
}

impl FeatureConfig {
    /// Number of buckets, `2^bits`.
    pub fn buckets(&self) -> usize {
        1usize << self.bits.clamp(MIN_BITS, MAX_BITS)
    }

    /// Whether every field is in range (what [`crate::Model::load`] checks).
    pub fn is_valid(&self) -> bool {
        (MIN_BITS..=MAX_BITS).contains(&self.bits) && self.char_ngram <= MAX_CHAR_NGRAM
    }

    /// The same configuration with out-of-range fields clamped into range.
    pub fn clamped(mut self) -> Self {
        self.bits = self.bits.clamp(MIN_BITS, MAX_BITS);
        self.char_ngram = self.char_ngram.min(MAX_CHAR_NGRAM);
        self
    }

    fn mask(&self) -> u64 {
        self.buckets() as u64 - 1
    }
}

/// A sparse feature vector: strictly increasing bucket indices with their values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseVector {
    indices: Vec<u32>,
    values: Vec<f32>,
}

impl SparseVector {
    /// Builds a vector from `(index, value)` pairs in any order; values of repeated indices add up.
    pub fn from_pairs(mut pairs: Vec<(u32, f32)>) -> Self {
        pairs.sort_unstable_by_key(|&(i, _)| i);
        let mut v = SparseVector::default();
        for (i, x) in pairs {
            match v.indices.last() {
                Some(&last) if last == i => {
                    if let Some(acc) = v.values.last_mut() {
                        *acc += x;
                    }
                }
                _ => {
                    v.indices.push(i);
                    v.values.push(x);
                }
            }
        }
        v
    }

    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    pub fn values(&self) -> &[f32] {
        &self.values
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, f32)> + '_ {
        self.indices
            .iter()
            .copied()
            .zip(self.values.iter().copied())
    }

    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Euclidean length.
    pub fn norm(&self) -> f32 {
        self.values.iter().map(|x| x * x).sum::<f32>().sqrt()
    }
}

/// Feature families, hashed apart so that the word `free` and the 4-gram `free` never share a
/// bucket by construction.
#[derive(Clone, Copy)]
enum Family {
    Word = 1,
    WordBigram = 2,
    CharNgram = 3,
    CjkChar = 4,
    CjkBigram = 5,
    UrlHost = 6,
    Email = 7,
    EmailDomain = 8,
    Token = 9,
}

fn family_seed(namespace: &str, family: Family) -> u64 {
    stable_hash(0x5241_4D50_4152_5400 ^ family as u64, namespace.as_bytes())
}

/// Collects the features of one document, field by field.
///
/// ```
/// use rampart_classify::{FeatureBuilder, FeatureConfig};
/// let config = FeatureConfig::default();
/// let x = FeatureBuilder::new(&config)
///     .text("subject", "免费领取优惠券")
///     .text("body", "Claim your FREE coupon now")
///     .token("from_domain", "promo.example")
///     .finish();
/// assert!(!x.is_empty());
/// ```
pub struct FeatureBuilder<'a> {
    config: &'a FeatureConfig,
    buckets: Vec<u32>,
    norm: String,
}

/// Sorts bucket indices below `2^bits` with a two-pass LSD radix sort (`bits / 2` bits per pass,
/// at most 12): two linear passes instead of a comparison sort's ~13 on ~6,000 keys.
fn radix_sort(keys: &mut Vec<u32>, scratch: &mut Vec<u32>, bits: u8) {
    if keys.len() < 256 {
        keys.sort_unstable();
        return;
    }
    let radix = u32::from(bits).div_ceil(2).min(12);
    let mask = (1u32 << radix) - 1;
    scratch.clear();
    scratch.resize(keys.len(), 0);
    let mut counts = [0u32; 1 << 12];
    let counts = &mut counts[..1 << radix];
    let mut shift = 0;
    while shift < u32::from(bits) {
        counts.fill(0);
        for &k in keys.iter() {
            counts[((k >> shift) & mask) as usize] += 1;
        }
        let mut sum = 0;
        for c in counts.iter_mut() {
            let here = *c;
            *c = sum;
            sum += here;
        }
        for &k in keys.iter() {
            let digit = ((k >> shift) & mask) as usize;
            if let Some(slot) = scratch.get_mut(counts[digit] as usize) {
                *slot = k;
            }
            counts[digit] += 1;
        }
        std::mem::swap(keys, scratch);
        shift += radix;
    }
}

/// Calls `f` with the first `max` windows of `n` characters of `text` (none if it is shorter).
fn char_ngrams(text: &str, n: usize, max: usize, mut f: impl FnMut(&[u8])) {
    if n == 0 || n > usize::from(MAX_CHAR_NGRAM) {
        return;
    }
    if text.is_ascii() {
        // One byte per character: the windows are plain byte slices.
        text.as_bytes().windows(n).take(max).for_each(f);
        return;
    }
    // Start offsets of the last n characters, as a ring; after each write `slot` names the
    // oldest of them.
    let mut starts = [0usize; MAX_CHAR_NGRAM as usize];
    let mut slot = 0;
    let mut seen = 0;
    let mut emitted = 0;
    for (i, c) in text.char_indices() {
        starts[slot] = i;
        slot = if slot + 1 == n { 0 } else { slot + 1 };
        seen += 1;
        if seen >= n {
            f(&text.as_bytes()[starts[slot]..i + c.len_utf8()]);
            emitted += 1;
            if emitted >= max {
                break;
            }
        }
    }
}

impl<'a> FeatureBuilder<'a> {
    pub fn new(config: &'a FeatureConfig) -> Self {
        FeatureBuilder {
            config,
            buckets: Vec::new(),
            norm: String::new(),
        }
    }

    /// Adds the features of a free-text field under `namespace`: words, word bigrams, character
    /// n-grams, CJK characters and bigrams, URL hosts, e-mail addresses and domains.
    pub fn text(mut self, namespace: &str, text: &str) -> Self {
        self.add_text(namespace, text);
        self
    }

    /// Adds one feature for the whole (normalised) `value` under `namespace`, e.g. a sender domain.
    pub fn token(mut self, namespace: &str, value: &str) -> Self {
        self.add_token(namespace, value);
        self
    }

    /// [`Self::text`] through a mutable reference.
    pub fn add_text(&mut self, namespace: &str, text: &str) {
        let config = self.config;
        let mask = config.mask();
        let text = truncate(text, config.max_text_bytes as usize);
        normalize_into(text, &mut self.norm);
        let buckets = &mut self.buckets;
        let norm = &self.norm;

        let seeds = [
            family_seed(namespace, Family::Word),
            family_seed(namespace, Family::CjkChar),
            family_seed(namespace, Family::CjkBigram),
            family_seed(namespace, Family::UrlHost),
            family_seed(namespace, Family::Email),
            family_seed(namespace, Family::EmailDomain),
        ];
        let bigram_seed = family_seed(namespace, Family::WordBigram);
        let mut prev_word: Option<u64> = None;
        for_each_token(norm, |kind, token| {
            let seed = match kind {
                TokenKind::Word => seeds[0],
                TokenKind::CjkChar => seeds[1],
                TokenKind::CjkBigram => seeds[2],
                TokenKind::UrlHost => seeds[3],
                TokenKind::Email => seeds[4],
                TokenKind::EmailDomain => seeds[5],
            };
            let h = stable_hash(seed, token.as_bytes());
            buckets.push((h & mask) as u32);
            if kind == TokenKind::Word {
                if config.word_bigrams {
                    if let Some(p) = prev_word {
                        buckets.push((combine(p ^ bigram_seed, h) & mask) as u32);
                    }
                }
                prev_word = Some(h);
            } else if kind != TokenKind::CjkBigram {
                prev_word = None;
            }
        });

        let n = config.char_ngram.min(MAX_CHAR_NGRAM) as usize;
        if n > 0 && config.max_char_ngrams > 0 {
            let seed = family_seed(namespace, Family::CharNgram);
            let max = config.max_char_ngrams as usize;
            char_ngrams(norm, n, max, |gram| {
                buckets.push((stable_hash(seed, gram) & mask) as u32);
            });
        }
    }

    /// [`Self::token`] through a mutable reference.
    pub fn add_token(&mut self, namespace: &str, value: &str) {
        let value = truncate(value, self.config.max_text_bytes as usize);
        normalize_into(value, &mut self.norm);
        let h = stable_hash(family_seed(namespace, Family::Token), self.norm.as_bytes());
        self.buckets.push((h & self.config.mask()) as u32);
    }

    /// The document's vector: one entry per distinct bucket, weighted and normalised as configured.
    pub fn finish(mut self) -> SparseVector {
        let mut scratch = Vec::new();
        let bits = self.config.bits.clamp(MIN_BITS, MAX_BITS);
        radix_sort(&mut self.buckets, &mut scratch, bits);
        let mut v = SparseVector {
            indices: Vec::with_capacity(self.buckets.len()),
            values: Vec::with_capacity(self.buckets.len()),
        };
        let mut i = 0;
        while i < self.buckets.len() {
            let b = self.buckets[i];
            let mut j = i + 1;
            while j < self.buckets.len() && self.buckets[j] == b {
                j += 1;
            }
            let count = (j - i) as f32;
            v.indices.push(b);
            v.values.push(match self.config.term_weight {
                TermWeight::Binary => 1.0,
                TermWeight::Log if count == 1.0 => 1.0,
                TermWeight::Log => 1.0 + count.ln(),
            });
            i = j;
        }
        if self.config.l2_normalize {
            let norm = v.norm();
            if norm > 0.0 {
                for x in &mut v.values {
                    *x /= norm;
                }
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn unnormalised() -> FeatureConfig {
        FeatureConfig {
            l2_normalize: false,
            ..FeatureConfig::default()
        }
    }

    #[test]
    fn feature_buckets_are_pinned_for_the_default_config() {
        // Part of the model format, like the hash itself.
        let config = FeatureConfig {
            char_ngram: 0,
            word_bigrams: false,
            ..unnormalised()
        };
        let x = FeatureBuilder::new(&config).text("body", "free").finish();
        assert_eq!(x.indices(), &[PINNED_FREE_BUCKET]);
    }

    const PINNED_FREE_BUCKET: u32 = 263_111;

    #[test]
    fn the_same_word_in_different_fields_gives_different_features() {
        let config = unnormalised();
        let a = FeatureBuilder::new(&config)
            .text("subject", "winner")
            .finish();
        let b = FeatureBuilder::new(&config).text("body", "winner").finish();
        assert_eq!(a.len(), b.len());
        assert!(a.indices().iter().all(|i| !b.indices().contains(i)));
    }

    #[test]
    fn vectors_are_sorted_unique_and_unit_length() {
        let config = FeatureConfig::default();
        let x = FeatureBuilder::new(&config)
            .text(
                "body",
                "Free free FREE money, claim your free money now 免费领取优惠券",
            )
            .token("from_domain", "example.test")
            .finish();
        assert!(x.indices().windows(2).all(|w| w[0] < w[1]));
        assert!((x.norm() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn binary_weight_ignores_repetition_and_log_weight_counts_it() {
        let binary = FeatureConfig {
            term_weight: TermWeight::Binary,
            char_ngram: 0,
            word_bigrams: false,
            ..unnormalised()
        };
        let x = FeatureBuilder::new(&binary)
            .text("body", "free free free")
            .finish();
        assert_eq!(x.values(), &[1.0]);
        let log = FeatureConfig {
            term_weight: TermWeight::Log,
            ..binary
        };
        let x = FeatureBuilder::new(&log)
            .text("body", "free free free")
            .finish();
        assert!((x.values()[0] - (1.0 + 3f32.ln())).abs() < 1e-6);
    }

    #[test]
    fn word_bigrams_are_ordered() {
        let config = FeatureConfig {
            char_ngram: 0,
            ..unnormalised()
        };
        let ab = FeatureBuilder::new(&config)
            .text("body", "click here")
            .finish();
        let ba = FeatureBuilder::new(&config)
            .text("body", "here click")
            .finish();
        assert_eq!(ab.len(), 3);
        assert_ne!(ab.indices(), ba.indices());
    }

    #[test]
    fn character_ngrams_are_bounded_per_field() {
        let config = FeatureConfig {
            word_bigrams: false,
            max_char_ngrams: 10,
            ..unnormalised()
        };
        let text: String = (0..500)
            .map(|i| char::from(b'a' + (i * 7 % 26) as u8))
            .collect();
        let x = FeatureBuilder::new(&config).text("body", &text).finish();
        assert!(
            x.len() <= 11,
            "one word and at most 10 n-grams, got {}",
            x.len()
        );
    }

    #[test]
    fn text_beyond_the_byte_budget_is_ignored() {
        let config = FeatureConfig {
            max_text_bytes: 8,
            ..unnormalised()
        };
        let short = FeatureBuilder::new(&config)
            .text("body", "buy now!")
            .finish();
        let long = FeatureBuilder::new(&config)
            .text("body", "buy now! and then something else entirely")
            .finish();
        assert_eq!(short, long);
    }

    #[test]
    fn full_width_and_ascii_spellings_give_the_same_features() {
        let config = FeatureConfig::default();
        let a = FeatureBuilder::new(&config)
            .text("body", "ＦＲＥＥ ＭＯＮＥＹ")
            .finish();
        let b = FeatureBuilder::new(&config)
            .text("body", "free money")
            .finish();
        assert_eq!(a, b);
    }

    #[test]
    fn radix_sort_agrees_with_a_comparison_sort() {
        let mut state = 12345u32;
        let mut keys: Vec<u32> = (0..5000)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                state >> 8
            })
            .collect();
        let mut expected = keys.clone();
        expected.sort_unstable();
        radix_sort(&mut keys, &mut Vec::new(), 24);
        assert_eq!(keys, expected);
    }

    #[test]
    fn character_ngrams_slide_over_characters_not_bytes() {
        let mut grams = Vec::new();
        char_ngrams("免费a领取", 2, 10, |g| {
            grams.push(String::from_utf8_lossy(g).into_owned())
        });
        assert_eq!(grams, ["免费", "费a", "a领", "领取"]);
        let mut grams = Vec::new();
        char_ngrams("abcdef", 4, 2, |g| {
            grams.push(String::from_utf8_lossy(g).into_owned())
        });
        assert_eq!(grams, ["abcd", "bcde"]);
        char_ngrams("免费", 4, 10, |_| panic!("shorter than n"));
    }

    #[test]
    fn from_pairs_sorts_and_merges_repeated_indices() {
        let v = SparseVector::from_pairs(vec![(5, 1.0), (2, 0.5), (5, 2.0)]);
        assert_eq!(v.indices(), &[2, 5]);
        assert_eq!(v.values(), &[0.5, 3.0]);
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic_the_feature_builder(
            a in any::<String>(), b in "\\PC{0,200}", bits in 0u8..=40, n in 0u8..=20,
        ) {
            let config = FeatureConfig { bits, char_ngram: n, max_text_bytes: 64, ..FeatureConfig::default() };
            let x = FeatureBuilder::new(&config).text(&b, &a).text("body", &b).token(&a, &b).finish();
            prop_assert!(x.indices().windows(2).all(|w| w[0] < w[1]));
            prop_assert!(x.indices().iter().all(|&i| (i as usize) < config.buckets()));
            prop_assert!(config.buckets() <= 1 << MAX_BITS);
            prop_assert!(x.values().iter().all(|v| v.is_finite()));
        }
    }
}
