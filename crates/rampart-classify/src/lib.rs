//! Rampart's text classifier: text in, a calibrated probability out, learning as it goes.
//!
//! Three steps, all pure computation (the only I/O is reading and writing model files through
//! `std::io::Read`/`Write`):
//!
//! 1. **Text.** [`normalize`] folds text to one canonical form (NFKC, lower case, digits to `0`,
//!    invisible characters dropped); [`tokenize`] splits it into words for scripts written with
//!    spaces, character unigrams and bigrams for Chinese, Japanese, Korean (and Thai, Lao, Khmer,
//!    Myanmar), URL hosts and e-mail addresses.
//! 2. **Features.** [`FeatureBuilder`] hashes each field's tokens, word bigrams and character
//!    n-grams into `2^bits` buckets with a stable hash, one namespace per field (`"subject"`,
//!    `"body"`, `"from_domain"`, ...), and returns a [`SparseVector`] (log term frequency, unit
//!    length by default). Work per document is bounded by [`FeatureConfig`].
//! 3. **Learning.** [`Model`] is logistic regression trained online with FTRL-Proximal
//!    (per-coordinate learning rates, L1/L2), deterministic: the same examples in the same order
//!    give the same weights bit for bit. [`LayeredModel`] adds a user's own sparse layer to the
//!    shared global model, so feedback is learned per user without touching the global weights.
//!    [`Calibration::fit_platt`] maps raw scores to calibrated probabilities on held-out data.
//!
//! A model saves to a versioned, checksummed file ([`Model::save`], [`Model::load`]); the shipped
//! global model uses i16 weights ([`WeightEncoding::Quantized16`]), per-user layers keep their full
//! learner state so they can keep learning.
//!
//! **Architecture invariant:** this crate knows nothing of mail. The scan pipeline decides which
//! parts of a message become which fields; this crate sees strings and labels.
//!
//! ```
//! use rampart_classify::{FeatureBuilder, FeatureConfig, LayeredModel, LearnerParams, Model, Storage};
//!
//! let config = FeatureConfig::default();
//! let features = |subject: &str, body: &str| {
//!     FeatureBuilder::new(&config).text("subject", subject).text("body", body).finish()
//! };
//! let mut global = Model::new(config.clone(), LearnerParams::default(), Storage::Dense);
//! for _ in 0..20 {
//!     global.train(&features("免费领取优惠券", "Claim your FREE prize now"), true);
//!     global.train(&features("Minutes of Monday's meeting", "Attached are the notes"), false);
//! }
//! assert!(global.predict(&features("领取免费优惠", "free prize")) > 0.5);
//!
//! // A user who wants this newsletter teaches their own layer; the global model is untouched.
//! let mut user = Model::user_layer_for(&global);
//! let newsletter = features("Free webinar", "Claim your seat now");
//! for _ in 0..5 {
//!     user.train_over(&global, &newsletter, false);
//! }
//! let layered = LayeredModel { global: &global, user: &user };
//! assert!(layered.predict(&newsletter) < global.predict(&newsletter));
//! ```

mod features;
mod file;
mod hash;
mod model;
mod text;

pub use features::{
    FeatureBuilder, FeatureConfig, SparseVector, TermWeight, MAX_BITS, MAX_CHAR_NGRAM, MIN_BITS,
};
pub use file::{ModelError, WeightEncoding, FORMAT_VERSION, MAGIC};
pub use hash::stable_hash;
pub use model::{Calibration, LayeredModel, LearnerParams, Model, Storage};
pub use text::{normalize, tokenize, Token, TokenKind, MAX_DIGIT_RUN, MAX_WORD_BYTES};
