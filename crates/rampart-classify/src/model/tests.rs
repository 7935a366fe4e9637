use super::*;
use crate::features::FeatureBuilder;

fn config() -> FeatureConfig {
    FeatureConfig {
        bits: 18,
        ..FeatureConfig::default()
    }
}

fn features(config: &FeatureConfig, text: &str) -> SparseVector {
    FeatureBuilder::new(config).text("body", text).finish()
}

pub(crate) const SPAM: &[&str] = &[
    "Congratulations! You have won a FREE iPhone, click here to claim your prize now",
    "Cheap meds online, no prescription needed, order viagra today and save 80%",
    "Make $5000 a week working from home, limited offer, act now",
    "Your account has been suspended, verify your password at http://secure-login.example-bank.test",
    "URGENT: claim your lottery winnings, send your bank details to claims@lotto-win.test",
    "Lowest price guaranteed! Buy replica watches, free shipping worldwide",
    "免费领取优惠券，点击链接立即领取大奖",
    "低价代开发票，欢迎来电咨询，优惠多多",
    "恭喜您中奖了！请点击链接领取现金红包",
    "贷款无抵押，快速放款，利息低，详情加微信",
    "Hot singles in your area are waiting, click now for free access",
    "You are pre-approved for a loan, no credit check, apply now",
];

pub(crate) const HAM: &[&str] = &[
    "Hi Anna, attached are the minutes from Monday's project meeting",
    "Can we move our call to Thursday afternoon? The client review slipped",
    "The quarterly report draft is ready for your comments by Friday",
    "Reminder: the office will be closed on the public holiday next week",
    "Please review the pull request for the storage migration before the release",
    "Thanks for the lunch yesterday, let's do it again next month",
    "明天上午十点在三楼会议室开项目周会，请准时参加",
    "附件是上个月的财务报表，请审阅后回复意见",
    "周五之前请提交本季度的工作总结",
    "下周二的培训改到下午两点，地点不变",
    "The build is green again after the dependency fix, deploying tonight",
    "Could you send me the slides from your conference talk?",
];

fn train_set(model: &mut Model, config: &FeatureConfig, epochs: usize) {
    for _ in 0..epochs {
        for (s, h) in SPAM.iter().zip(HAM) {
            model.train(&features(config, s), true);
            model.train(&features(config, h), false);
        }
    }
}

fn trained() -> Model {
    let config = config();
    let mut model = Model::new(config.clone(), LearnerParams::default(), Storage::Dense);
    train_set(&mut model, &config, 10);
    model
}

#[test]
fn separates_english_and_chinese_spam_from_ham() {
    let config = config();
    let model = trained();
    for s in SPAM {
        assert!(
            model.predict(&features(&config, s)) > 0.8,
            "spam scored low: {s}"
        );
    }
    for h in HAM {
        assert!(
            model.predict(&features(&config, h)) < 0.2,
            "ham scored high: {h}"
        );
    }
}

#[test]
fn generalises_to_held_out_sentences() {
    let config = config();
    let model = trained();
    let held_out_spam = [
        "Click here to claim your free prize, limited offer",
        "点击链接免费领取现金红包",
    ];
    let held_out_ham = [
        "Could we review the project report at the meeting on Thursday?",
        "请在周五之前审阅会议记录",
    ];
    for s in held_out_spam {
        assert!(
            model.predict(&features(&config, s)) > 0.5,
            "held-out spam: {s}"
        );
    }
    for h in held_out_ham {
        assert!(
            model.predict(&features(&config, h)) < 0.5,
            "held-out ham: {h}"
        );
    }
}

#[test]
fn training_is_deterministic_bit_for_bit() {
    let a = trained();
    let b = trained();
    let (Coords::Dense(wa), Coords::Dense(wb)) = (&a.coords, &b.coords) else {
        panic!("dense models expected");
    };
    assert!(wa
        .iter()
        .zip(wb.iter())
        .all(|(x, y)| x.w.to_bits() == y.w.to_bits()
            && x.z.to_bits() == y.z.to_bits()
            && x.n.to_bits() == y.n.to_bits()));
    assert_eq!(a.bias, b.bias);
    assert!(a.nonzero_weights() > 100);
}

#[test]
fn user_layer_changes_the_verdict_after_a_few_reports_without_touching_the_global_model() {
    let config = config();
    let global = trained();
    let snapshot = global.clone();
    let mut user = Model::user_layer_for(&global);

    // This user subscribes to a discount newsletter the global model calls spam.
    let reported = features(
        &config,
        "Exclusive offer: free shipping and 50% discount, click here to shop now",
    );
    let similar = features(
        &config,
        "Exclusive offer: 40% discount and free shipping this weekend, click to shop",
    );
    assert!(
        global.predict(&similar) > 0.5,
        "precondition: the global model calls it spam"
    );
    for _ in 0..3 {
        user.train_over(&global, &reported, false);
    }
    let layered = LayeredModel {
        global: &global,
        user: &user,
    };
    assert!(
        layered.predict(&similar) < 0.5,
        "after three reports the similar message is ham"
    );
    // Unrelated spam is still spam for this user.
    let other_spam = features(&config, "恭喜您中奖了！点击链接领取现金");
    assert!(layered.predict(&other_spam) > 0.5);

    let (Coords::Dense(now), Coords::Dense(before)) = (&global.coords, &snapshot.coords) else {
        panic!("dense models expected");
    };
    assert!(now == before && global.bias == snapshot.bias);
    assert!(user.nonzero_weights() <= reported.len());
}

#[test]
fn an_untrained_model_predicts_one_half() {
    let config = config();
    let model = Model::new(config.clone(), LearnerParams::default(), Storage::Sparse);
    assert_eq!(model.predict(&features(&config, "anything")), 0.5);
}

#[test]
fn indices_outside_the_model_are_ignored() {
    let mut model = Model::new(config(), LearnerParams::default(), Storage::Dense);
    let x = SparseVector::from_pairs(vec![(u32::MAX, 1.0), (3, 1.0)]);
    model.train(&x, true);
    let mut sparse = Model::new(config(), LearnerParams::default(), Storage::Sparse);
    sparse.train(&x, true);
    assert_eq!(model.logit(&x), sparse.logit(&x));
    assert_eq!(sparse.nonzero_weights(), 1);
}

#[test]
fn l1_keeps_features_seen_once_at_zero_under_strong_regularisation() {
    let config = config();
    let params = LearnerParams {
        l1: 1.0,
        ..LearnerParams::default()
    };
    let mut model = Model::new(config.clone(), params, Storage::Dense);
    model.train(&features(&config, "a rare campaign word"), true);
    assert_eq!(model.nonzero_weights(), 0);
    assert!(model.bias() > 0.0, "the intercept is not regularised");
}

#[test]
fn platt_scaling_matches_observed_frequencies() {
    // Raw logit 2.0 is spam 3 times in 4, logit -2.0 is spam 1 time in 4: a well-calibrated map
    // sends them to about 0.75 and 0.25, not to sigmoid(2) = 0.88.
    let mut scores = Vec::new();
    for i in 0..400 {
        scores.push((2.0, i % 4 != 0));
        scores.push((-2.0, i % 4 == 0));
    }
    let c = Calibration::fit_platt(&scores);
    assert!((c.probability(2.0) - 0.75).abs() < 0.01, "{c:?}");
    assert!((c.probability(-2.0) - 0.25).abs() < 0.01, "{c:?}");
    assert_eq!(
        Calibration::fit_platt(&[(1.0, true)]),
        Calibration::IDENTITY
    );
}

#[test]
fn sigmoid_saturates_without_overflow() {
    assert_eq!(sigmoid(f32::INFINITY), sigmoid(1e9));
    assert!(sigmoid(-1e9) > 0.0 && sigmoid(1e9) < 1.0 + f32::EPSILON);
}
