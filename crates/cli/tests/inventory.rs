//! `modelward inventory` as users run it: scan, verify (exit codes 0/1/2), find.

use std::path::Path;
use std::process::{Command, Output};

use modelward_inventory::samples;
use serde_json::Value;

mod common;
use common::Dir;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_modelward"))
}

fn inventory(args: &[&str], paths: &[&Path]) -> Output {
    bin()
        .arg("inventory")
        .args(args)
        .args(paths)
        .output()
        .unwrap()
}

fn ndjson(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// (status, file name) of each line of `verify --format ndjson`.
fn statuses(o: &Output) -> Vec<(String, String)> {
    ndjson(o)
        .iter()
        .map(|v| {
            (
                v["status"].as_str().unwrap().to_string(),
                Path::new(v["path"].as_str().unwrap())
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            )
        })
        .collect()
}

#[test]
fn scan_verify_round_trip_with_exit_codes() {
    let dir = Dir::new("inv-roundtrip");
    let models = dir.0.join("models");
    let a = dir.write("models/a.safetensors", samples::safetensors());
    let b = dir.write("models/llama.bin", samples::gguf());
    dir.write("models/notes.txt", "not a model");
    let db = dir.0.join("inv.db");
    let db_arg = db.to_str().unwrap();

    let scan = inventory(&["scan", "--db", db_arg, "--format", "ndjson"], &[&models]);
    assert_eq!(scan.status.code(), Some(0), "{}", stderr(&scan));
    let rows = ndjson(&scan);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["change"], "new");
    assert_eq!(rows[0]["format"], "safetensors");
    assert_eq!(rows[0]["metadata"]["tensors"], 3);
    assert_eq!(rows[1]["format"], "gguf");
    assert_eq!(rows[1]["metadata"]["architecture"], "llama");
    assert_eq!(rows[1]["hash"].as_str().unwrap().len(), 64);
    assert!(
        stderr(&scan).contains("2 model artifact(s): 2 new"),
        "{}",
        stderr(&scan)
    );

    let ok = inventory(&["verify", "--db", db_arg, "--format", "ndjson"], &[]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert_eq!(
        statuses(&ok),
        vec![
            ("intact".into(), "a.safetensors".into()),
            ("intact".into(), "llama.bin".into())
        ]
    );

    let mut changed = samples::safetensors();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    std::fs::write(&a, changed).unwrap();
    std::fs::remove_file(&b).unwrap();
    dir.write("models/deeper/renamed.dat", samples::onnx());
    let bad = inventory(&["verify", "--db", db_arg, "--format", "ndjson"], &[]);
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
    assert_eq!(
        statuses(&bad),
        vec![
            ("modified".into(), "a.safetensors".into()),
            ("missing".into(), "llama.bin".into()),
            ("new".into(), "renamed.dat".into()),
        ]
    );
    assert!(
        stderr(&bad).contains("1 modified, 1 missing, 1 new"),
        "{}",
        stderr(&bad)
    );

    // a table for people
    let table = inventory(&["verify", "--db", db_arg], &[]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("STATUS"), "{text}");
    assert!(text.contains("missing"), "{text}");

    // a new scan accepts the changes; verify is clean again
    let rescan = inventory(
        &[
            "scan", "--db", db_arg, "--hash", "blake3", "--format", "ndjson",
        ],
        &[&models],
    );
    assert_eq!(rescan.status.code(), Some(0), "{}", stderr(&rescan));
    let changes: Vec<String> = ndjson(&rescan)
        .iter()
        .map(|v| v["change"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(changes, ["rehashed", "new", "removed"]);
    let clean = inventory(&["verify", "--db", db_arg, "--format", "ndjson"], &[]);
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
}

#[test]
fn errors_exit_2() {
    let dir = Dir::new("inv-errors");
    let missing_db = dir.0.join("none.db");
    let o = inventory(&["verify", "--db", missing_db.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no inventory database at")
            && stderr(&o).contains("`modelward inventory scan --db"),
        "{}",
        stderr(&o)
    );
    assert!(!missing_db.exists());

    dir.write("m/broken.gguf", &samples::gguf()[..30]);
    dir.write("m/ok.gguf", samples::gguf());
    let db = dir.0.join("inv.db");
    let o = inventory(
        &["scan", "--db", db.to_str().unwrap(), "--format", "ndjson"],
        &[&dir.0.join("m"), &dir.0.join("nonexistent")],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(ndjson(&o).len(), 1);
    let err = stderr(&o);
    assert!(err.contains("broken.gguf: gguf: truncated header"), "{err}");
    assert!(err.contains("nonexistent"), "{err}");
}

/// data/: a model under another name, an ONNX model in a tar, a Keras model in a zip; returns
/// the tar's path.
fn models_and_archives(dir: &Dir) -> std::path::PathBuf {
    dir.write("data/weights.txt", samples::safetensors());
    dir.write(
        "data/keras.zip",
        samples::zip(&[("nested/model", &samples::keras_v3(), false)]),
    );
    dir.write(
        "data/bundle.tar",
        samples::tar(&[
            ("export/model.onnx.bak", &samples::onnx()),
            ("README", b"hi"),
        ]),
    )
}

#[test]
fn find_by_bytes_in_folders_and_archives() {
    let dir = Dir::new("inv-find");
    models_and_archives(&dir);
    dir.write("data/plain.txt", "hello");
    let o = inventory(&["find", "--format", "ndjson"], &[&dir.0.join("data")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let found: Vec<(String, String)> = ndjson(&o)
        .iter()
        .map(|v| {
            let loc = v["location"].as_str().unwrap();
            (
                loc[loc.find("data/").unwrap()..].to_string(),
                v["format"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (
                "data/bundle.tar!export/model.onnx.bak".into(),
                "onnx".into()
            ),
            ("data/keras.zip!nested/model".into(), "keras_v3".into()),
            ("data/weights.txt".into(), "safetensors".into()),
        ]
    );
    let none = inventory(&["find"], &[&dir.0.join("data/plain.txt")]);
    assert_eq!(none.status.code(), Some(1));
    assert!(none.stdout.is_empty());
}

#[test]
fn pickles_are_flagged() {
    let dir = Dir::new("inv-pickle");
    dir.write("model.ckpt", samples::pickle_malicious());
    let o = inventory(&["find"], &[&dir.0]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("pickle"), "{text}");
    assert!(
        text.contains("dangerous_imports=[\"posix.system\"]"),
        "{text}"
    );
}

#[test]
fn scan_raises_the_model_malware_alert_on_dangerous_pickle_imports() {
    let dir = Dir::new("inv-malware");
    dir.write("model.ckpt", samples::pickle_malicious());
    dir.write("clean.pkl", samples::pickle_ordered_dict());
    let db = dir.0.join("inv.db");
    let o = inventory(
        &["scan", "--db", db.to_str().unwrap(), "--format", "ndjson"],
        &[&dir.0],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let alerts: Vec<Value> = ndjson(&o)
        .into_iter()
        .filter(|r| r["change"] == "alert")
        .collect();
    assert_eq!(alerts.len(), 1, "{}", String::from_utf8_lossy(&o.stdout));
    let alert = &alerts[0]["alert"];
    let text = alert.to_string();
    assert!(text.contains("MW-AI-0020"), "{text}");
    assert!(text.contains("AI.AIModelScan_MalwareDetected"), "{text}");
    assert!(text.contains("posix.system"), "{text}");
    assert!(text.contains("model.ckpt"), "{text}");
    assert!(stderr(&o).contains("1 alert(s)"), "{}", stderr(&o));
}

#[test]
fn scan_records_the_archive_members_find_lists_and_verify_checks_them() {
    let dir = Dir::new("inv-archive-members");
    let data = dir.0.join("data");
    let bundle = models_and_archives(&dir);
    let db = dir.0.join("inv.db");
    let db_arg = db.to_str().unwrap();
    let locations = |o: &Output, key: &str| {
        let mut l: Vec<String> = ndjson(o)
            .iter()
            .map(|v| v[key].as_str().unwrap().to_string())
            .collect();
        l.sort();
        l
    };
    let find = inventory(&["find", "--format", "ndjson"], &[&data]);
    let scan = inventory(&["scan", "--db", db_arg, "--format", "ndjson"], &[&data]);
    assert_eq!(scan.status.code(), Some(0), "{}", stderr(&scan));
    let canonical = std::fs::canonicalize(&data).unwrap();
    let found: Vec<String> = locations(&find, "location")
        .iter()
        .map(|l| {
            l.replacen(
                &data.display().to_string(),
                &canonical.display().to_string(),
                1,
            )
        })
        .collect();
    assert_eq!(locations(&scan, "path"), found);
    assert_eq!(found.len(), 3, "{found:?}");
    let member = scan
        .stdout
        .split(|b| *b == b'\n')
        .filter_map(|l| serde_json::from_slice::<Value>(l).ok())
        .find(|v| {
            v["path"]
                .as_str()
                .unwrap()
                .ends_with("bundle.tar!export/model.onnx.bak")
        })
        .unwrap();
    assert_eq!(member["format"], "onnx");
    assert_eq!(member["size"], samples::onnx().len());

    let clean = inventory(&["verify", "--db", db_arg, "--format", "ndjson"], &[]);
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );

    // The member's bytes change; then it leaves the archive.
    let mut other = samples::onnx();
    let last = other.len() - 1;
    other[last] ^= 1;
    std::fs::write(&bundle, samples::tar(&[("export/model.onnx.bak", &other)])).unwrap();
    let changed = inventory(&["verify", "--db", db_arg, "--format", "ndjson"], &[]);
    assert_eq!(changed.status.code(), Some(1));
    assert!(
        statuses(&changed).contains(&("modified".into(), "model.onnx.bak".into())),
        "{:?}",
        statuses(&changed)
    );
    std::fs::write(&bundle, samples::tar(&[("README", b"hi")])).unwrap();
    let gone = inventory(&["verify", "--db", db_arg, "--format", "ndjson"], &[]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(
        statuses(&gone).contains(&("missing".into(), "model.onnx.bak".into())),
        "{:?}",
        statuses(&gone)
    );
    let rescan = inventory(&["scan", "--db", db_arg, "--format", "ndjson"], &[&data]);
    let removed: Vec<Value> = ndjson(&rescan)
        .into_iter()
        .filter(|v| v["change"] == "removed")
        .collect();
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert!(removed[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("bundle.tar!export/model.onnx.bak"));
}

#[test]
fn names_from_archives_reach_the_terminal_escaped_and_json_is_one_array() {
    let dir = Dir::new("inv-hostile-names");
    let name = "evil\u{1b}]8;;http://x\u{7}\u{202e}.onnx";
    dir.write("data/bundle.tar", samples::tar(&[(name, &samples::onnx())]));
    let data = dir.0.join("data");
    for format in ["table", "ndjson", "json"] {
        let o = inventory(&["find", "--format", format], &[&data]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let out = String::from_utf8(o.stdout).unwrap();
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{7}') && !out.contains('\u{202e}'),
            "{format}: {out:?}"
        );
        assert!(out.contains("evil"), "{format}: {out}");
    }
    let ndjson = ndjson(&inventory(&["find", "--format", "ndjson"], &[&data]));
    let json = inventory(&["find", "--format", "json"], &[&data]);
    let array: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(array.as_array(), Some(&ndjson));
    assert!(ndjson[0]["location"].as_str().unwrap().ends_with(name));
}
