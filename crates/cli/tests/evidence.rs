//! `fingerprint match --evidence`: a signed report of the match that `evidence verify`
//! checks, with the suspect's and the database's SHA-256 and the command that reproduces it.

use std::process::{Command, Output};

use modelward_fingerprint::dtype::DType;
use modelward_fingerprint::synth::{gguf_name, Arch};
use modelward_fingerprint::write::{self, Tensor};
use serde_json::Value;

mod common;
use common::{checks, Dir};

const KEY_VAR: &str = "MW_TEST_EVIDENCE_FP_KEY";

fn modelward(dir: &Dir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modelward"))
        .args(args)
        .env(KEY_VAR, "a secret for the test")
        .env_remove("MODELWARD_FINGERPRINT_KEY")
        .env("MODELWARD_EVIDENCE_KEY", dir.path("signing.pem"))
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_match_writes_a_signed_report_that_verifies() {
    let dir = Dir::new("evidence-fingerprint");
    let db = dir.path("fp.db");
    let db = db.to_str().unwrap();
    let arch = Arch::tiny_llama(1);
    let ours = arch.random(31);
    let model = dir.write(
        "ours.safetensors",
        write::safetensors(&ours, DType::F16).unwrap(),
    );
    let renamed: Vec<Tensor> = ours
        .iter()
        .map(|t| Tensor::new(&gguf_name(&t.name), &t.shape, t.values.clone()))
        .collect();
    let leak = dir.write(
        "leak-q4.gguf",
        write::gguf(&renamed, DType::Q4_0, "llama").unwrap(),
    );
    let o = modelward(
        &dir,
        &[
            "fingerprint",
            "build",
            "--db",
            db,
            "--key-env",
            KEY_VAR,
            "--name",
            "ours",
            model.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let report = dir.path("match.json");
    let report_s = report.to_str().unwrap();
    let matching = || {
        modelward(
            &dir,
            &[
                "fingerprint",
                "match",
                "--db",
                db,
                "--key-env",
                KEY_VAR,
                "--evidence",
                report_s,
                leak.to_str().unwrap(),
            ],
        )
    };
    // No signing key yet: refused before any work.
    let o = matching();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("signing.pem"),
        "{}",
        text(&o.stderr)
    );
    assert!(!report.exists());

    let o = modelward(
        &dir,
        &[
            "evidence",
            "keygen",
            "--output",
            dir.path("signing.pem").to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let key_id = text(&o.stdout)
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_string();
    let o = matching();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let doc: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let r = &doc["report"];
    assert_eq!(r["kind"], "fingerprint-match");
    assert_eq!(r["inputs"][0]["role"], "suspect");
    assert_eq!(
        r["inputs"][0]["sha256"],
        modelward_respond::evidence::sha256_hex(&std::fs::read(&leak).unwrap())
    );
    assert_eq!(r["inputs"][1]["role"], "fingerprint-db");
    let m = &r["results"]["suspects"][0]["models"][0];
    assert_eq!(m["model"], "ours");
    assert_eq!(m["match"], true);
    assert!(m["log10_false_match_probability"].as_f64().unwrap() < -9.0);
    assert_eq!(r["method"]["parameters"]["models"][0], "ours");
    let command: Vec<&str> = r["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(&command[1..3], ["fingerprint", "match"]);
    assert!(command.contains(&leak.to_str().unwrap()));

    let verify_json = || {
        let args = ["evidence", "verify", report_s, "--public-key", &key_id];
        modelward(&dir, &[&args[..], &["--format", "json"]].concat())
    };
    let o = modelward(
        &dir,
        &["evidence", "verify", report_s, "--public-key", &key_id],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    assert!(text(&o.stdout).starts_with("OK "), "{}", text(&o.stdout));
    // For scripts: one JSON array, a document a report with its checks and verdict.
    let o = verify_json();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let docs: Value = serde_json::from_slice(&o.stdout).unwrap();
    let doc = &docs[0];
    assert_eq!(docs.as_array().unwrap().len(), 1);
    assert_eq!(doc["verdict"], "ok");
    assert_eq!(doc["file"], report_s);
    assert_eq!(doc["kind"], "fingerprint-match");
    assert_eq!(doc["key_id"], key_id.as_str());
    assert_eq!(doc["pinned"], true);
    assert_eq!(
        checks(doc),
        [
            ("report", "pass"),
            ("signature", "pass"),
            ("key", "pass"),
            ("inputs", "pass")
        ]
    );
    assert_eq!(doc["inputs"][0]["role"], "suspect");
    assert_eq!(doc["inputs"][0]["result"], "match");

    // Another key pinned: the key check fails, the inputs are not looked at.
    let o = modelward(
        &dir,
        &[
            "evidence",
            "verify",
            report_s,
            "--public-key",
            "0000000000000000",
            "--format",
            "ndjson",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["verdict"], "failed");
    assert_eq!(doc["key_id"], key_id.as_str());
    assert_eq!(
        checks(&doc),
        [
            ("report", "pass"),
            ("signature", "pass"),
            ("key", "fail"),
            ("inputs", "skipped")
        ]
    );

    // The report changed after signing (same length, one letter): the signature fails.
    let forged = dir.write(
        "forged.json",
        text(&std::fs::read(&report).unwrap()).replace("fingerprint-match", "fingerprint-matcx"),
    );
    let o = modelward(
        &dir,
        &[
            "evidence",
            "verify",
            forged.to_str().unwrap(),
            report_s,
            "--format",
            "ndjson",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let docs: Vec<Value> = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 2, "{}", text(&o.stdout));
    assert_eq!(docs[0]["verdict"], "failed");
    assert_eq!(docs[0]["kind"], Value::Null);
    assert_eq!(
        checks(&docs[0]),
        [
            ("report", "pass"),
            ("signature", "fail"),
            ("key", "skipped"),
            ("inputs", "skipped")
        ]
    );
    assert_eq!(docs[1]["verdict"], "ok");
    assert_eq!(checks(&docs[1])[2], ("key", "skipped"));

    // The suspect replaced after the report: the signature holds, its input does not.
    std::fs::write(&leak, b"other bytes").unwrap();
    let o = modelward(
        &dir,
        &["evidence", "verify", report_s, "--public-key", &key_id],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).contains("leak-q4.gguf"),
        "{}",
        text(&o.stdout)
    );
    let o = verify_json();
    assert_eq!(o.status.code(), Some(1));
    let docs: Value = serde_json::from_slice(&o.stdout).unwrap();
    let doc = &docs[0];
    assert_eq!(doc["verdict"], "failed");
    assert_eq!(
        checks(doc),
        [
            ("report", "pass"),
            ("signature", "pass"),
            ("key", "pass"),
            ("inputs", "fail")
        ]
    );
    assert_eq!(doc["inputs"][0]["source"], leak.to_str().unwrap());
    assert_eq!(doc["inputs"][0]["result"], "changed");
    assert_eq!(doc["inputs"][1]["result"], "match");
}

/// `evidence keygen` spells its output flag as every other command does (`--output`, `-o`);
/// the old `--out` still works and says it is deprecated.
#[test]
fn keygen_takes_output_like_every_command() {
    let dir = Dir::new("evidence-keygen-output");
    for (flag, key) in [
        ("-o", "short.pem"),
        ("--output", "long.pem"),
        ("--out", "old.pem"),
    ] {
        let path = dir.path(key);
        let o = modelward(&dir, &["evidence", "keygen", flag, path.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{flag}: {}", text(&o.stderr));
        assert!(path.exists(), "{flag}");
        assert_eq!(
            text(&o.stderr).contains("`--out` is deprecated; use `--output`"),
            flag == "--out",
            "{flag}: {}",
            text(&o.stderr)
        );
    }
    let help = modelward(&dir, &["evidence", "keygen", "--help"]);
    assert!(
        text(&help.stdout).contains("-o, --output <FILE>"),
        "{}",
        text(&help.stdout)
    );
    let none = modelward(&dir, &["evidence", "keygen"]);
    assert_eq!(none.status.code(), Some(2), "{}", text(&none.stderr));
}

/// `evidence keygen --format json`: the key id and public key for a script to pin, unmasked.
#[test]
fn keygen_prints_its_key_as_json() {
    let dir = Dir::new("evidence-keygen-json");
    let pem = dir.path("k.pem");
    let o = modelward(
        &dir,
        &[
            "evidence",
            "keygen",
            "-o",
            pem.to_str().unwrap(),
            "--format",
            "ndjson",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["file"], pem.to_str().unwrap());
    let public_key = doc["public_key"].as_str().unwrap();
    let bytes: Vec<u8> = (0..public_key.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&public_key[i..i + 2], 16).unwrap())
        .collect();
    assert_eq!(bytes.len(), 32, "{doc}");
    // The key id is the first 8 bytes of the public key's SHA-256.
    let sha = modelward_respond::evidence::sha256_hex(&bytes);
    assert_eq!(doc["key_id"], &sha[..16], "{doc}");
}
