//! Measures the library's speed on synthetic 10 KB documents:
//! `cargo run --release -p rampart-classify --example throughput [docs] [KB per body]`
//! (defaults: 4,000 documents of 10 KB; one in five mostly Chinese).
//!
//! Reports features-only, features + predict and features + train rates (single thread), and the
//! size and load time of a 2^20-bucket model trained until nearly every bucket is used.

use std::time::Instant;

use rampart_classify::{
    FeatureBuilder, FeatureConfig, LearnerParams, Model, Storage, WeightEncoding,
};

/// A deterministic xorshift generator: the benchmark text is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const HAN: &str = "免费领取优惠券点击链接中奖现金红包贷款发票会议报表项目周五审阅培训下午地点不变公司客户合同产品价格服务";

fn document(rng: &mut Rng, vocabulary: &[String], bytes: usize) -> String {
    let han: Vec<char> = HAN.chars().collect();
    let chinese = rng.below(5) == 0;
    let mut text = String::with_capacity(bytes + 64);
    while text.len() < bytes {
        if chinese && rng.below(3) > 0 {
            for _ in 0..(4 + rng.below(12)) {
                text.push(han[rng.below(han.len())]);
            }
            text.push('，');
        } else {
            text.push_str(&vocabulary[rng.below(vocabulary.len())]);
            text.push(if rng.below(12) == 0 { '.' } else { ' ' });
            if rng.below(200) == 0 {
                text.push_str("https://www.example-shop.test/offer?id=12345 ");
            }
        }
    }
    text
}

fn rate(n: usize, since: Instant) -> f64 {
    n as f64 / since.elapsed().as_secs_f64()
}

fn main() {
    let docs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(4_000);
    let kb: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let vocabulary: Vec<String> = (0..20_000)
        .map(|_| {
            let len = 2 + rng.below(9);
            (0..len)
                .map(|_| char::from(b'a' + rng.below(26) as u8))
                .collect()
        })
        .collect();
    let corpus: Vec<(String, String, bool)> = (0..docs)
        .map(|i| {
            let subject = document(&mut rng, &vocabulary, 60);
            (
                subject,
                document(&mut rng, &vocabulary, kb * 1024),
                i % 2 == 0,
            )
        })
        .collect();
    let config = FeatureConfig::default();
    let features = |subject: &str, body: &str| {
        FeatureBuilder::new(&config)
            .text("subject", subject)
            .text("body", body)
            .token("from_domain", "example.test")
            .finish()
    };

    println!("{docs} documents, {kb} KB body + 60-byte subject + one token each, one thread");
    let start = Instant::now();
    let mut total_features = 0usize;
    for (s, b, _) in &corpus {
        total_features += features(s, b).len();
    }
    println!(
        "features only:      {:>9.0} docs/s  ({} distinct features per doc)",
        rate(docs, start),
        total_features / docs
    );

    let mut model = Model::new(config.clone(), LearnerParams::default(), Storage::Dense);
    let start = Instant::now();
    for (s, b, y) in &corpus {
        model.train(&features(s, b), *y);
    }
    println!("features + train:   {:>9.0} docs/s", rate(docs, start));

    let vectors: Vec<_> = corpus
        .iter()
        .map(|(s, b, y)| (features(s, b), *y))
        .collect();
    let start = Instant::now();
    for (x, y) in &vectors {
        model.train(x, *y);
    }
    println!("train only:         {:>9.0} docs/s", rate(docs, start));

    let start = Instant::now();
    let mut sum = 0.0f32;
    for (s, b, _) in &corpus {
        sum += model.predict(&features(s, b));
    }
    println!(
        "features + predict: {:>9.0} docs/s  (mean score {:.3})",
        rate(docs, start),
        sum / docs as f32
    );

    for (name, chinese) in [("English", false), ("Chinese", true)] {
        let subset: Vec<_> = corpus
            .iter()
            .filter(|(_, b, _)| b.is_ascii() != chinese)
            .collect();
        let start = Instant::now();
        let mut subset_sum = 0.0f32;
        for (s, b, _) in &subset {
            subset_sum += model.predict(&features(s, b));
        }
        println!(
            "  {name} documents only: {:>9.0} docs/s  (mean score {:.3})",
            rate(subset.len(), start),
            subset_sum / subset.len().max(1) as f32
        );
    }

    let mut user = Model::user_layer_for(&model);
    let start = Instant::now();
    for (x, y) in vectors.iter().take(200) {
        user.train_over(&model, x, !*y);
    }
    println!(
        "user-layer train:   {:>9.0} docs/s",
        rate(200.min(docs), start)
    );

    println!(
        "model: 2^{} buckets, {} non-zero weights",
        config.bits,
        model.nonzero_weights()
    );
    for encoding in [WeightEncoding::Quantized16, WeightEncoding::Full] {
        let mut file = Vec::new();
        let start = Instant::now();
        model
            .save_with(&mut file, encoding)
            .expect("save to memory");
        let saved = start.elapsed();
        let start = Instant::now();
        let loaded = Model::load(&mut file.as_slice()).expect("load from memory");
        let loaded_in = start.elapsed();
        println!(
            "{encoding:?}: {:.2} MB, save {:.1} ms, load {:.1} ms ({} weights)",
            file.len() as f64 / 1e6,
            saved.as_secs_f64() * 1e3,
            loaded_in.as_secs_f64() * 1e3,
            loaded.nonzero_weights()
        );
    }
}
