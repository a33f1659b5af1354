//! The jailbreak classifier (`detectors::jailbreak_model`) alone, and the whole scorer (the
//! heuristic and the classifier, `JailbreakScorer::score`), on
//! prompts of 2 KiB, in the same run:
//! `cargo bench -p modelward-detectors --bench jailbreak_model`.
//! For a figure that does not depend on how busy the machine is, count instructions:
//! `perf stat -e instructions target/release/deps/jailbreak_model-* --bench classifier_2k`
//! over the default sample count, or see docs/detectors.md.

use divan::{black_box, Bencher};
use modelward_detectors::detectors::jailbreak_model::JailbreakModel;
use modelward_detectors::detectors::jailbreak_score::JailbreakScorer;

fn main() {
    divan::main();
}

/// 2,048 bytes of the project's own prompts (its hard negatives, then its attacks), cut at a
/// character boundary.
fn prompt_2k(file: &str) -> String {
    let lines: Vec<&str> = file
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    let mut out = String::new();
    for line in lines.iter().cycle() {
        if out.len() + line.len() + 1 > 2048 {
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    while out.len() < 2048 {
        out.push(' ');
    }
    out
}

fn benign() -> String {
    prompt_2k(include_str!("../fixtures/jailbreak/hard_negatives.txt"))
}

#[divan::bench(sample_count = 20, sample_size = 200)]
fn classifier_2k(bencher: Bencher) {
    let model = JailbreakModel::builtin();
    let text = benign();
    bencher.bench(|| model.score(black_box(&text)));
}

#[divan::bench(sample_count = 20, sample_size = 200)]
fn scorer_2k(bencher: Bencher) {
    let scorer = JailbreakScorer::new();
    let text = benign();
    bencher.bench(|| scorer.score(black_box(&text)));
}
