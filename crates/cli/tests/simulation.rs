//! Model-extraction analytics end to end on simulated traffic: a day of labelled benign and
//! attack LLM calls (crates/corpus's simulator) through `modelward hunt`, scored against the
//! labels. Every attack profile (logit-bias sweeps and bisection, distillation, near-duplicate
//! floods, distributed extraction, prefix and cache side channels; fast, slow, distributed)
//! must raise an alert about its principals, and no benign profile (chat users, a heavy
//! batch job with templated prompts, a nightly evaluation suite) may raise any.

use std::path::PathBuf;
use std::process::Command;

use modelward_corpus::sim::score::{score, ProfileScore};
use modelward_corpus::sim::{simulate, SimSpec};

fn run(seed: u64, scale: f64) -> Vec<ProfileScore> {
    let dir = std::env::temp_dir().join(format!("mw-sim-{seed}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let spec = SimSpec {
        seed,
        scale,
        ..SimSpec::default()
    };
    let (mut log, mut labels) = (Vec::new(), Vec::new());
    simulate(&spec, &mut log, &mut labels).unwrap();
    let log_path: PathBuf = dir.join("sim.ndjson");
    std::fs::write(&log_path, &log).unwrap();
    let alerts_path = dir.join("alerts.ndjson");
    let out = Command::new(env!("CARGO_BIN_EXE_modelward"))
        .args([
            "hunt",
            "--quiet",
            "--source",
            "modelward_llm",
            "--format",
            "ndjson",
        ])
        .arg("--output")
        .arg(&alerts_path)
        .arg(&log_path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts = std::fs::read(&alerts_path).unwrap();
    let scores = score(log.as_slice(), labels.as_slice(), alerts.as_slice()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    scores
}

fn check(scores: &[ProfileScore]) {
    let mut wrong = Vec::new();
    for s in scores {
        match s.class.as_str() {
            "attack" if s.calls_until_alert.is_none() => {
                wrong.push(format!("{} missed", s.profile))
            }
            "benign" if s.alerts > 0 => wrong.push(format!(
                "{} raised {} alert(s): {:?}",
                s.profile, s.alerts, s.rules
            )),
            _ => {}
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(scores.iter().filter(|s| s.class == "attack").count() >= 14);
    assert!(scores.iter().filter(|s| s.class == "benign").count() >= 3);
}

#[test]
fn every_attack_is_detected_and_no_benign_profile_alerts() {
    check(&run(7, 0.25));
}

#[test]
fn the_same_holds_for_another_seed() {
    check(&run(42, 0.25));
}
