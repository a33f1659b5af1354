//! Model-extraction analytics end to end on simulated traffic: a day of labelled benign and
//! attack LLM calls (crates/corpus's simulator) through `modelward hunt`, scored against the
//! labels. Every attack profile (logit-bias sweeps and bisection, distillation, near-duplicate
//! floods, distributed extraction, prefix and cache side channels; fast, slow, distributed)
//! must raise an alert about its principals, and no benign profile (chat users, a heavy
//! batch job with templated prompts, a nightly evaluation suite) may raise any.
//!
//! The storage profiles (CloudTrail S3 data events in the same stream, `--source auto`) run
//! apart, over eight days so the storage baselines warm up: weight theft, training-data
//! exfiltration and an insider's cross-account copy must each raise the detection made for
//! them, and the training pipeline and the model deployment role must stay quiet (the deploy
//! role's weight pulls through an exception in the configuration file, as a user would).

use std::path::PathBuf;
use std::process::Command;

use modelward_corpus::sim::score::{score, ProfileScore};
use modelward_corpus::sim::{simulate, Profile, SimSpec};

fn run(seed: u64, scale: f64) -> Vec<ProfileScore> {
    run_spec(
        &SimSpec {
            seed,
            scale,
            ..SimSpec::default()
        },
        "modelward_llm",
        None,
    )
    .0
}

/// The scores of a hunt over the simulated logs (with a configuration file when given), and
/// its summary.
fn run_spec(spec: &SimSpec, source: &str, config: Option<&str>) -> (Vec<ProfileScore>, String) {
    let seed = spec.seed;
    let dir = std::env::temp_dir().join(format!("mw-sim-{source}-{seed}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (mut log, mut labels) = (Vec::new(), Vec::new());
    simulate(spec, &mut log, &mut labels).unwrap();
    let log_path: PathBuf = dir.join("sim.ndjson");
    std::fs::write(&log_path, &log).unwrap();
    let alerts_path = dir.join("alerts.ndjson");
    let mut hunt = Command::new(env!("CARGO_BIN_EXE_modelward"));
    hunt.args(["hunt", "--source", source, "--format", "ndjson"])
        .arg("--output")
        .arg(&alerts_path);
    if let Some(text) = config {
        let path = dir.join("modelward.toml");
        std::fs::write(&path, text).unwrap();
        hunt.arg("--config").arg(path);
    }
    let out = hunt.arg(&log_path).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts = std::fs::read(&alerts_path).unwrap();
    let scores = score(log.as_slice(), labels.as_slice(), alerts.as_slice()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (scores, String::from_utf8_lossy(&out.stderr).into_owned())
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

/// "Model weights downloaded from object storage" (`rules/sigma/model_weights_download.yml`,
/// level medium) alerts on every read of a weights file, by design, so the deployment role's
/// pulls raise it too (the rule's documented false positive, "serving infrastructure loading
/// its own model"). The configuration excludes the role from that rule, and only from it:
/// MW-TH-0007 still judges its downloads.
const DEPLOY_ROLE_EXCEPTION: &str = r#"
[[exceptions]]
name = "deploy role pulls weights"
rules = ["Model weights downloaded from object storage"]
principals = ["arn:aws:sts::123456789012:assumed-role/ModelDeploy/*"]
reason = "the serving fleet loads its own model"
"#;
/// "Object storage copy to another account" (`rules/sigma/storage_cross_account_copy.yml`).
const CROSS_ACCOUNT_COPY: &str = "6a1f3c52-8d4e-4b7a-9c21-3e5f7a9b1d01";

fn run_storage(seed: u64) {
    let mut profiles = Profile::storage();
    profiles.push(Profile::ChatUsers);
    let spec = SimSpec {
        seed,
        span_ms: 8 * 86_400_000,
        scale: 0.1,
        profiles,
        ..SimSpec::default()
    };
    let (scores, summary) = run_spec(&spec, "auto", Some(DEPLOY_ROLE_EXCEPTION));
    let mut wrong = Vec::new();
    let expected = [
        ("weight_theft", "MW-TH-0007"),
        ("training_data_exfiltration", "MW-TH-0008"),
        ("insider_model_copy", CROSS_ACCOUNT_COPY),
    ];
    for (profile, rule) in expected {
        match scores.iter().find(|s| s.profile == profile) {
            Some(s) if s.rules.contains(rule) => {}
            Some(s) => wrong.push(format!("{profile} missed by {rule}: {:?}", s.rules)),
            None => wrong.push(format!("{profile} not simulated")),
        }
    }
    for s in scores.iter().filter(|s| s.class == "benign") {
        if s.alerts > 0 {
            wrong.push(format!("{} raised {:?}", s.profile, s.rules));
        }
    }
    // Four shards, four pulls a day, eight days: each pull's alerts left out, and counted.
    let excluded = "128 alerts excluded by exceptions (deploy role pulls weights: 128)";
    if !summary.contains(excluded) {
        wrong.push(format!("the summary lacks \"{excluded}\": {summary}"));
    }
    for benign in ["training_pipeline", "model_deploy", "chat_users"] {
        if !scores.iter().any(|s| s.profile == benign && s.calls > 0) {
            wrong.push(format!("{benign} not simulated"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn storage_attacks_are_detected_and_storage_baselines_stay_quiet() {
    run_storage(7);
    run_storage(42);
}
