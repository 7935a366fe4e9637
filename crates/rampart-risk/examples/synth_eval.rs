//! Generates a synthetic log and replays it through the engine; prints the report as JSON.
//!
//! `cargo run --release -p rampart-risk --example synth_eval -- [users] [days] [seed] [--no-rtt] [--csv out.csv]`

use rampart_risk::eval::{replay_with, ReplayOptions};
use rampart_risk::synth::{generate, geo_db, write_csv, SynthConfig};
use rampart_risk::RiskConfig;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let cfg = SynthConfig {
        users: num(0, 2000) as usize,
        days: num(1, 120) as u32,
        seed: num(2, 1),
        with_rtt: !args.iter().any(|a| a == "--no-rtt"),
        ..SynthConfig::default()
    };
    let records = generate(&cfg);
    if let Some(i) = args.iter().position(|a| a == "--csv") {
        let path = args.get(i + 1).expect("--csv needs a path");
        let f = std::fs::File::create(path).expect("create csv");
        write_csv(std::io::BufWriter::new(f), &records).expect("write csv");
    }
    let geo = geo_db(&cfg);
    let risk = match std::env::var("RISK_CONFIG") {
        Ok(json) => serde_json::from_str(&json).expect("RISK_CONFIG is RiskConfig JSON"),
        Err(_) => RiskConfig::default(),
    };
    let use_geo = !args.iter().any(|a| a == "--no-geo");
    let report = replay_with(
        records.into_iter(),
        &risk,
        use_geo.then_some(&geo),
        &ReplayOptions::default(),
        |_, _, _| {},
        |_| {},
    );
    println!(
        "{}",
        serde_json::to_string_pretty(&report).expect("report is JSON")
    );
}
