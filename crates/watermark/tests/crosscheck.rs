//! modelward's watermark test against Hugging Face Transformers' `WatermarkDetector`.
//!
//! The fixture is written by `tools/watermark-crosscheck.sh`: a tokenizer trained on text made
//! there, a tiny randomly initialised GPT-2 generating with and without
//! `WatermarkingConfig`s (lefthash and selfhash, context widths 1 to 3, other keys and
//! ratios), and what Transformers' detector reported on each text's token ids.

use std::path::Path;

use modelward_watermark::{pooled, Detector, Params, Score, Tokenizer};
use serde_json::Value;

fn fixture() -> (Tokenizer, Value) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/crosscheck");
    let tokenizer = Tokenizer::from_file(&dir.join("tokenizer.json")).unwrap();
    let cases = std::fs::read_to_string(dir.join("cases.json")).unwrap();
    (tokenizer, serde_json::from_str(&cases).unwrap())
}

fn named<'a>(fixture: &'a Value, name: &str) -> &'a Value {
    fixture["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name} in the fixture"))
}

fn params(case: &Value) -> Params {
    let wm = &case["watermarking_config"];
    let mut params = Params::new(case["vocab_size"].as_u64().unwrap() as u32);
    params.greenlist_ratio = wm["greenlist_ratio"].as_f64().unwrap();
    params.hashing_key = wm["hashing_key"].as_u64().unwrap();
    params.seeding_scheme = wm["seeding_scheme"].as_str().unwrap().parse().unwrap();
    params.context_width = wm["context_width"].as_u64().unwrap() as usize;
    params.bos_token_id = case["bos_token_id"].as_u64().map(|b| b as u32);
    params.ignore_repeated_ngrams = case["ignore_repeated_ngrams"].as_bool().unwrap();
    params
}

#[test]
fn z_scores_agree_with_transformers() {
    let (tokenizer, fixture) = fixture();
    let mut compared = 0;
    let mut worst = 0f64;
    for case in fixture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let mut detector = Detector::new(params(case)).unwrap();
        for text in case["texts"].as_array().unwrap() {
            let ids = tokenizer.encode(text["text"].as_str().unwrap()).unwrap();
            let expected_ids: Vec<u32> = text["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect();
            assert_eq!(ids, expected_ids, "{name}: tokenization differs");
            let score = detector.score(&ids).unwrap();
            assert_eq!(
                score.tokens_scored,
                text["num_tokens_scored"].as_u64().unwrap(),
                "{name}: {text}"
            );
            assert_eq!(
                score.green_tokens,
                text["num_green_tokens"].as_u64().unwrap(),
                "{name}: {text}"
            );
            let z = text["z_score"].as_f64().unwrap();
            worst = worst.max((score.z_score - z).abs());
            assert!(
                (score.z_score - z).abs() < 1e-9,
                "{name}: z {} vs {z}",
                score.z_score
            );
            let p = text["p_value"].as_f64().unwrap();
            assert!(
                (score.p_value - p).abs() <= 1e-6 * p,
                "{name}: p {} vs {p}",
                score.p_value
            );
            compared += 1;
        }
    }
    println!("{compared} texts, largest |z difference| {worst:e}");
    assert!(compared >= 90, "{compared}");
}

#[test]
fn the_watermark_is_found_and_plain_text_is_not() {
    let (tokenizer, fixture) = fixture();
    for case in fixture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        if name == "weak-bias-many" {
            continue;
        }
        let mut detector = Detector::new(params(case)).unwrap();
        let (mut marked, mut plain) = (Vec::new(), Vec::new());
        for text in case["texts"].as_array().unwrap() {
            let ids = tokenizer.encode(text["text"].as_str().unwrap()).unwrap();
            let score = detector.score(&ids).unwrap();
            if text["watermarked"].as_bool().unwrap() {
                marked.push(score);
            } else {
                plain.push(score);
            }
        }
        let gamma = detector.params().greenlist_ratio;
        let marked = pooled(&marked, gamma).unwrap();
        let plain = pooled(&plain, gamma).unwrap();
        assert!(marked.z_score > 4.0, "{name}: {marked:?}");
        assert!(plain.z_score < 3.0, "{name}: {plain:?}");
    }
}

/// With `ignore_repeated_ngrams` each distinct n-gram counts once, in Transformers and here.
#[test]
fn repeated_ngrams_count_once() {
    let (tokenizer, fixture) = fixture();
    let case = named(&fixture, "lefthash-ignore-repeated");
    assert!(case["ignore_repeated_ngrams"].as_bool().unwrap());
    let mut detector = Detector::new(params(case)).unwrap();
    let mut fewer = 0;
    for text in case["texts"].as_array().unwrap() {
        let ids = tokenizer.encode(text["text"].as_str().unwrap()).unwrap();
        let distinct: std::collections::HashSet<&[u32]> = ids.windows(2).collect();
        assert_eq!(
            text["num_tokens_scored"].as_u64().unwrap(),
            distinct.len() as u64
        );
        assert_eq!(
            detector.score(&ids).unwrap().tokens_scored,
            distinct.len() as u64
        );
        fewer += usize::from(distinct.len() < ids.len() - 1);
    }
    assert!(
        fewer > 0,
        "no text repeated a bigram: the case tests nothing"
    );
}

/// A weak watermark (bias 0.7 on a tiny model's output, retokenized) is rarely significant in
/// one 60-token text; over fifty texts pooled it is beyond doubt.
#[test]
fn a_weak_signal_is_significant_pooled() {
    let (tokenizer, fixture) = fixture();
    let case = named(&fixture, "weak-bias-many");
    let mut detector = Detector::new(params(case)).unwrap();
    let scores: Vec<Score> = case["texts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["watermarked"].as_bool().unwrap())
        .map(|t| {
            let ids = tokenizer.encode(t["text"].as_str().unwrap()).unwrap();
            detector.score(&ids).unwrap()
        })
        .collect();
    let significant = scores.iter().filter(|s| s.p_value < 0.001).count();
    let pooled = pooled(&scores, detector.params().greenlist_ratio).unwrap();
    println!(
        "{} texts, {significant} with p < 0.001 alone; pooled z {:.2}, p {:e}",
        scores.len(),
        pooled.z_score,
        pooled.p_value
    );
    assert!(significant * 4 < scores.len(), "{significant}");
    assert!(pooled.p_value < 1e-9, "{pooled:?}");
}
