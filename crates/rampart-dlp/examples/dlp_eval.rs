//! Scores the default detectors on labelled corpora, at `low` and `medium`.
//!
//! `cargo run --release -p rampart-dlp --example dlp_eval -- ../shared/corpora/pii/*.json*`
//! Set `DLP_EVAL_MISTAKES=1` to include the first mistakes (masked) in the output.

use rampart_dlp::eval::{evaluate, read_corpus};
use rampart_dlp::{Confidence, Detectors, DlpConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let detectors = Detectors::new(&DlpConfig::default())?;
    let show_mistakes = std::env::var_os("DLP_EVAL_MISTAKES").is_some();
    for path in std::env::args().skip(1) {
        let samples = read_corpus(&path)?;
        for min in [Confidence::Low, Confidence::Medium] {
            let mut report = evaluate(&detectors, &samples, min);
            if !show_mistakes {
                report.mistakes.clear();
            }
            println!(
                "{path} @ {min}:\n{}",
                serde_json::to_string_pretty(&report)?
            );
        }
    }
    Ok(())
}
