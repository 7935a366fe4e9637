//! Labelled corpora: an index file of `<label> <path>` lines, paths relative to the index
//! (the format of ../shared/corpora).

use std::path::{Path, PathBuf};

use anyhow::Context;

pub struct Sample {
    pub label: String,
    pub path: PathBuf,
}

pub fn read_index(index: &Path) -> anyhow::Result<Vec<Sample>> {
    let text = std::fs::read_to_string(index).with_context(|| {
        format!(
            "cannot read corpus index {} (unpack the corpora first: see ../shared/corpora/README.md)",
            index.display()
        )
    })?;
    let base = index.parent().unwrap_or(Path::new("."));
    let mut samples = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (label, path) = line
            .split_once(char::is_whitespace)
            .with_context(|| format!("{}:{}: expected `<label> <path>`", index.display(), n + 1))?;
        samples.push(Sample {
            label: label.to_ascii_lowercase(),
            path: base.join(path.trim()),
        });
    }
    Ok(samples)
}

pub fn progress(len: u64, what: &str, quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {what} ({{per_sec}}, eta {{eta}})"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}
