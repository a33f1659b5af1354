//! `modelward fingerprint` as users run it: build from a safetensors file, match a GGUF 4-bit
//! copy (exit 1, false-match p below 1e-9) and an unrelated model (exit 0), a folder of
//! suspects, the key's checks.

use std::process::{Command, Output};

use modelward_fingerprint::dtype::DType;
use modelward_fingerprint::synth::{gguf_name, gguf_renamed, Arch};
use modelward_fingerprint::write::{self, Tensor};
use serde_json::Value;

mod common;
use common::Dir;

const KEY_VAR: &str = "MW_TEST_FINGERPRINT_KEY";

fn fingerprint(dir: &Dir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modelward"))
        .arg("fingerprint")
        .args(args)
        .arg("--db")
        .arg(dir.path("fp.db"))
        .env(KEY_VAR, "a secret for the test")
        .env_remove("MODELWARD_FINGERPRINT_KEY")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn fingerprint_build_then_match_quantized_and_unrelated_copies() {
    let dir = Dir::new("fingerprint");
    let arch = Arch::tiny_llama(1);
    let ours = arch.random(21);
    let model = dir.write(
        "registry/ours.safetensors",
        write::safetensors(&ours, DType::BF16).unwrap(),
    );
    let o = fingerprint(
        &dir,
        &[
            "build",
            "--key-env",
            KEY_VAR,
            "--name",
            "ours-v1",
            model.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("recorded ours-v1: 9 tensor(s)"),
        "{}",
        text(&o.stdout)
    );

    let q4 = dir.write(
        "suspects/leak-q4_0.gguf",
        write::gguf(&gguf_renamed(&ours), DType::Q4_0, "llama").unwrap(),
    );
    let other = dir.write(
        "suspects/other.gguf",
        write::gguf(&gguf_renamed(&arch.random(22)), DType::Q4_K, "llama").unwrap(),
    );
    dir.write("suspects/notes.txt", "not a model");

    // one suspect, JSON: a match below 1e-9 with every tensor paired by content
    let o = fingerprint(
        &dir,
        &[
            "match",
            "--key-env",
            KEY_VAR,
            "--format",
            "ndjson",
            q4.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let doc: Value = serde_json::from_str(text(&o.stdout).trim()).unwrap();
    let m = &doc["models"][0];
    assert_eq!(m["model"], "ours-v1");
    assert_eq!(m["match"], true);
    assert!(
        m["log10_false_match_probability"].as_f64().unwrap() < -9.0,
        "{m}"
    );
    assert_eq!(m["matched_tensors"], 9);
    assert!(m["agreement"].as_f64().unwrap() > 0.85);
    let pairs = m["pairs"].as_array().unwrap();
    assert!(pairs
        .iter()
        .all(|p| p["suspect"].as_str().unwrap() == gguf_name(p["reference"].as_str().unwrap())));

    // the unrelated model alone: no match, exit 0
    let o = fingerprint(
        &dir,
        &["match", "--key-env", KEY_VAR, other.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let table = text(&o.stdout);
    assert!(table.contains("no match"), "{table}");

    // the folder: both suspects, the text file passed over, exit 1 for the match
    let o = fingerprint(
        &dir,
        &[
            "match",
            "--key-env",
            KEY_VAR,
            dir.path("suspects").to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let table = text(&o.stdout);
    let rows: Vec<&str> = table.lines().filter(|l| l.contains("ours-v1")).collect();
    assert!(
        rows.iter()
            .any(|r| r.starts_with("match") && r.ends_with("leak-q4_0.gguf")),
        "{table}"
    );
    assert!(
        rows.iter()
            .any(|r| r.starts_with("no match") && r.ends_with("other.gguf")),
        "{table}"
    );
    assert!(text(&o.stderr).contains("2 suspect file(s) against 1 model(s): 1 match(es)"));

    // another key: the model is not compared, an error
    let o = Command::new(env!("CARGO_BIN_EXE_modelward"))
        .args(["fingerprint", "match", "--db"])
        .arg(dir.path("fp.db"))
        .arg(&q4)
        .env_remove("MODELWARD_FINGERPRINT_KEY")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("public key"),
        "{}",
        text(&o.stderr)
    );
    let o = fingerprint(
        &dir,
        &[
            "match",
            "--key-env",
            "MW_NOT_SET_ANYWHERE",
            q4.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("MW_NOT_SET_ANYWHERE"));

    // list
    let o = fingerprint(&dir, &["list", "--format", "ndjson"]);
    let doc: Value = serde_json::from_str(text(&o.stdout).trim()).unwrap();
    // `--format json`: the same documents in one array.
    let o = fingerprint(&dir, &["list", "--format", "json"]);
    let array: Value = serde_json::from_str(&text(&o.stdout)).unwrap();
    assert_eq!(array, Value::Array(vec![doc.clone()]));
    assert_eq!(doc["tensors"], 9);
    assert_eq!(doc["files"][0]["format"], "safetensors");
}

/// A model's name and a suspect's tensor names come from files strangers made: the table
/// shows them escaped (an OSC sequence, a bidi override), never raw.
#[test]
fn names_from_model_files_reach_the_terminal_escaped() {
    let dir = Dir::new("fingerprint-escape");
    let arch = Arch::tiny_llama(1);
    let ours = arch.random(31);
    let model = dir.write(
        "registry/ours.safetensors",
        write::safetensors(&ours, DType::F16).unwrap(),
    );
    let hostile = "m\u{1b}]8;;http://x\u{7}\u{202e}1v";
    let o = fingerprint(
        &dir,
        &[
            "build",
            "--key-env",
            KEY_VAR,
            "--name",
            hostile,
            model.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    // The suspect's tensors renamed with control characters.
    let suspect: Vec<Tensor> = ours
        .iter()
        .map(|t| Tensor::new(&format!("{}\u{1b}[2J", t.name), &t.shape, t.values.clone()))
        .collect();
    let copy = dir.write(
        "suspects/copy.safetensors",
        write::safetensors(&suspect, DType::F16).unwrap(),
    );
    let listed = fingerprint(&dir, &["list"]);
    let matched = fingerprint(
        &dir,
        &["match", "--key-env", KEY_VAR, copy.to_str().unwrap()],
    );
    assert_eq!(matched.status.code(), Some(1), "{}", text(&matched.stderr));
    for out in [&o, &listed, &matched] {
        let shown = text(&out.stdout);
        assert!(!shown.is_empty());
        assert!(
            !shown.contains('\u{1b}') && !shown.contains('\u{202e}') && !shown.contains('\u{7}'),
            "{shown:?}"
        );
    }
}
