//! Copies of registered models found by their weights (issue 18 item 2): `inventory find
//! --copies` over a folder holding a renamed, converted and 4-bit quantized copy, the same
//! inside a zip, an unrelated model of the same shapes and the registered file itself; the
//! scan recorded for PB-53; and `hunt` raising MW-AI-0021 for an S3 access log's object
//! whose bucket is mirrored locally.

use std::path::Path;
use std::process::{Command, Output};

use modelward_fingerprint::dtype::DType;
use modelward_fingerprint::synth::{gguf_renamed, Arch};
use modelward_fingerprint::write;
use serde_json::Value;

mod common;
use common::Dir;

const KEY_VAR: &str = "MW_TEST_FINGERPRINT_KEY";

fn modelward(dir: &Dir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modelward"))
        .current_dir(&dir.0)
        .args(args)
        .env(KEY_VAR, "a secret for the copies test")
        .env_remove("MODELWARD_FINGERPRINT_KEY")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A registered model (`registry/ours.safetensors`, fingerprinted as `ours-v1`), and a share
/// holding a Q4_0 GGUF copy renamed `tmp/notes.bin`, a zip whose member is a Q4_K GGUF copy,
/// an unrelated model of the same architecture and a text file.
fn setup(name: &str) -> Dir {
    let dir = Dir::new(name);
    let arch = Arch::tiny_llama(1);
    let ours = arch.random(21);
    dir.write(
        "registry/ours.safetensors",
        write::safetensors(&ours, DType::F16).unwrap(),
    );
    let o = modelward(
        &dir,
        &[
            "fingerprint",
            "build",
            "--db",
            "fp.db",
            "--key-env",
            KEY_VAR,
            "--name",
            "ours-v1",
            "registry/ours.safetensors",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    dir.write(
        "share/tmp/notes.bin",
        write::gguf(&gguf_renamed(&ours), DType::Q4_0, "llama").unwrap(),
    );
    dir.write(
        "share/export.zip",
        write::zip_stored(&[
            ("README.md".into(), b"quarterly export".to_vec()),
            (
                "weights/model.gguf".into(),
                write::gguf(&gguf_renamed(&ours), DType::Q4_K, "llama").unwrap(),
            ),
        ]),
    );
    dir.write(
        "share/other.gguf",
        write::gguf(&gguf_renamed(&arch.random(22)), DType::Q4_0, "llama").unwrap(),
    );
    dir.write("share/readme.txt", "not a model");
    dir
}

fn find(dir: &Dir, format: &str, paths: &[&str]) -> Output {
    let mut args = vec![
        "inventory",
        "find",
        "--copies",
        "--db",
        "fp.db",
        "--key-env",
        KEY_VAR,
        "--format",
        format,
    ];
    args.extend(paths);
    modelward(dir, &args)
}

#[test]
fn find_copies_names_converted_quantized_copies_in_folders_and_zips() {
    let dir = setup("copies-find");
    let o = find(&dir, "ndjson", &["share", "registry"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let docs: Vec<Value> = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let row = |loc: &str| {
        docs.iter()
            .find(|d| d["location"].as_str() == Some(loc))
            .unwrap_or_else(|| panic!("{loc}: {docs:#?}"))
    };
    for copy in ["share/tmp/notes.bin", "share/export.zip!weights/model.gguf"] {
        let r = row(copy);
        assert_eq!(r["copies"][0]["model"], "ours-v1", "{r}");
        assert_eq!(r["copies"][0]["registered_file"], false);
        let log10 = r["copies"][0]["log10_false_match_probability"]
            .as_f64()
            .unwrap();
        assert!(log10 < -9.0, "{copy}: {log10}");
        assert_eq!(r["copies"][0]["matched_tensors"], 9, "{r}");
    }
    // the unrelated model of the same shapes was compared and is no copy
    let other = row("share/other.gguf");
    assert_eq!(other["examined"], true);
    assert_eq!(other["copies"], serde_json::json!([]));
    // the file the model was registered from is the model, not a copy
    let own = row("registry/ours.safetensors");
    assert_eq!(own["copies"][0]["registered_file"], true, "{own}");
    // one alert per copy
    let alerts: Vec<&Value> = docs.iter().filter(|d| d["change"] == "alert").collect();
    assert_eq!(alerts.len(), 2, "{docs:#?}");
    for a in &alerts {
        assert_eq!(a["alert"]["rule"]["id"], "MW-AI-0021", "{a}");
        assert_eq!(a["alert"]["evidence"]["model"], "ours-v1");
    }
    assert!(
        text(&o.stderr).contains("compared with 1 registered model(s): 2 copies found"),
        "{}",
        text(&o.stderr)
    );

    // the scan is recorded for PB-53 6.6
    let store = modelward_store::Store::open_existing(&dir.path("fp.db")).unwrap();
    let scan = store.latest_copy_scan().unwrap().unwrap();
    let copies: Vec<Value> = serde_json::from_str(&scan.copies).unwrap();
    assert_eq!(copies.len(), 2, "{copies:?}");
    assert_eq!((scan.examined, scan.errors), (4, 0));
    let roots: Vec<String> = serde_json::from_str(&scan.roots).unwrap();
    assert!(roots[0].ends_with("/share") && Path::new(&roots[0]).is_absolute());

    // the found files' documents (the alerts carry the time of the scan)
    let rows: Vec<&Value> = docs.iter().filter(|d| d.get("change").is_none()).collect();
    insta::assert_json_snapshot!("find_copies_ndjson", rows);

    // the table, as people read it
    let o = find(&dir, "table", &["share", "registry"]);
    assert_eq!(o.status.code(), Some(1));
    insta::assert_snapshot!("find_copies_table", text(&o.stdout));

    // a scan of the unrelated model alone finds no copy: exit 0, recorded as such
    let o = find(&dir, "ndjson", &["share/other.gguf"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let store = modelward_store::Store::open_existing(&dir.path("fp.db")).unwrap();
    let scan = store.latest_copy_scan().unwrap().unwrap();
    assert_eq!((scan.copies.as_str(), scan.files), ("[]", 1));
}

#[test]
fn hunt_raises_a_copy_for_a_mirrored_storage_object() {
    let dir = setup("copies-hunt");
    // the bucket acme-exports mirrored at mirror/acme-exports: its export archive is there
    std::fs::create_dir_all(dir.path("mirror/acme-exports/q3")).unwrap();
    std::fs::copy(
        dir.path("share/export.zip"),
        dir.path("mirror/acme-exports/q3/archive.zip"),
    )
    .unwrap();
    std::fs::copy(
        dir.path("share/other.gguf"),
        dir.path("mirror/acme-exports/q3/other.gguf"),
    )
    .unwrap();
    let fixture = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../event/tests/fixtures/s3_access/get_weights.raw.log"),
    )
    .unwrap();
    let line = |key: &str| {
        fixture
            .replace("acme-ml-models", "acme-exports")
            .replace("llama-3-8b/model-00001-of-00004.safetensors", key)
    };
    let log = dir.write(
        "s3.log",
        line("q3/archive.zip") + &line("q3/other.gguf") + &line("q3/absent.zip"),
    );
    let cfg = dir.write(
        "modelward.toml",
        format!(
            "[detectors]\nfingerprint_db = \"fp.db\"\nfingerprint_key_env = \"{KEY_VAR}\"\n\n[[detectors.storage_mirrors]]\nbucket = \"acme-*\"\npath = \"mirror/{{bucket}}\"\n"
        ),
    );
    let o = modelward(
        &dir,
        &[
            "hunt",
            "--format",
            "ndjson",
            "--config",
            cfg.to_str().unwrap(),
            log.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let copies: Vec<Value> = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|a| a["rule"]["id"] == "MW-AI-0021")
        .collect();
    assert_eq!(copies.len(), 1, "{}", text(&o.stdout));
    let a = &copies[0];
    assert_eq!(a["evidence"]["model"], "ours-v1", "{a}");
    assert_eq!(a["evidence"]["storage.object.key"], "q3/archive.zip");
    assert!(a["evidence"]["path"]
        .as_str()
        .unwrap()
        .ends_with("q3/archive.zip!weights/model.gguf"));
    assert!(a
        .to_string()
        .contains("arn:aws:iam::123456789012:user/mlops-ci"));
    assert!(
        a["evidence"]["log10_false_match_probability"]
            .as_f64()
            .unwrap()
            < -9.0
    );

    // PB-53: the copy opens an incident; 6.6 "verify no unauthorized model copies exist"
    // stays open until a scan says so, and is done by the scan once one finds nothing.
    let o = modelward(
        &dir,
        &[
            "hunt",
            "--format",
            "ndjson",
            "-o",
            "/dev/null",
            "--config",
            cfg.to_str().unwrap(),
            "--incidents",
            "fp.db",
            log.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let incident_id = |dir: &Dir| -> String {
        let list = modelward(
            dir,
            &["incident", "list", "--format", "json", "--db", "fp.db"],
        );
        let incidents: Value = serde_json::from_slice(&list.stdout).unwrap();
        incidents[0]["id"].as_str().unwrap().to_string()
    };
    let task = |dir: &Dir| -> Value {
        let id = incident_id(dir);
        let show = modelward(
            dir,
            &["incident", "show", &id, "--format", "json", "--db", "fp.db"],
        );
        let incident: Value = serde_json::from_slice(&show.stdout).unwrap();
        incident["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == "recover.6.6")
            .cloned()
            .unwrap()
    };
    // the playbook runs again when a responder sets a fact
    let rerun = |dir: &Dir| {
        let id = incident_id(dir);
        let o = modelward(
            dir,
            &[
                "incident",
                "fact",
                &id,
                "legal_exposure=true",
                "--by",
                "alice",
                "--db",
                "fp.db",
            ],
        );
        assert!(o.status.success(), "{}", text(&o.stderr));
    };
    let before = task(&dir);
    assert_eq!(before["state"], "open", "{before}");
    assert!(
        before["title"]
            .as_str()
            .unwrap()
            .contains("no scan for copies recorded"),
        "{before}"
    );
    // a scan that finds the copy in the mirror: still open, naming it
    let o = find(&dir, "ndjson", &["mirror"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    rerun(&dir);
    let found = task(&dir);
    assert_eq!(found["state"], "open");
    assert!(
        found["title"].as_str().unwrap().contains(
            "1 copy found: mirror/acme-exports/q3/archive.zip!weights/model.gguf (ours-v1)"
        ),
        "{found}"
    );
    // the copy removed, a clean scan: done by the scan
    std::fs::remove_file(dir.path("mirror/acme-exports/q3/archive.zip")).unwrap();
    let o = find(&dir, "ndjson", &["mirror"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    rerun(&dir);
    let done = task(&dir);
    assert_eq!(done["state"], "done", "{done}");
    assert!(
        done["done_by"].as_str().unwrap().starts_with("scan:"),
        "{done}"
    );
    assert!(
        done["title"].as_str().unwrap().ends_with("no copy found"),
        "{done}"
    );
}
