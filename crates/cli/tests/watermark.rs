//! `modelward watermark verify` and `modelward evidence` as users run them, on the texts
//! Transformers generated for the cross-check (crates/watermark/tests/fixtures/crosscheck).

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::Dir;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../watermark/tests/fixtures/crosscheck")
}

fn cases() -> Value {
    serde_json::from_slice(&std::fs::read(fixtures().join("cases.json")).unwrap()).unwrap()
}

fn modelward(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modelward"))
        .args(args)
        .env_remove("MODELWARD_EVIDENCE_KEY")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tokenizer() -> String {
    fixtures().join("tokenizer.json").display().to_string()
}

/// `modelward watermark verify --tokenizer <the fixture's> ARGS...`
fn verify(args: &[&str]) -> Output {
    let tokenizer = tokenizer();
    let mut all = vec!["watermark", "verify", "--tokenizer", &tokenizer];
    all.extend_from_slice(args);
    modelward(&all)
}

/// The documents of `--format ndjson` output.
fn ndjson(o: &Output) -> Vec<Value> {
    text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Exit 2 with `message` on stderr.
fn fails_saying(o: &Output, message: &str) {
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains(message), "{}", text(&o.stderr));
}

fn case(name: &str) -> Value {
    cases()["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
        .clone()
}

#[test]
fn verify_gives_transformers_z_scores_and_exit_1_on_a_watermark() {
    let case = case("selfhash-width3");
    let texts = case["texts"].as_array().unwrap();
    let marked = texts.iter().find(|t| t["watermarked"] == true).unwrap();
    let plain = texts.iter().find(|t| t["watermarked"] == false).unwrap();
    let key = case["watermarking_config"]["hashing_key"].to_string();
    let args = |t: &Value| {
        vec![
            "watermark".to_string(),
            "verify".into(),
            "--tokenizer".into(),
            tokenizer(),
            "--key".into(),
            key.clone(),
            "--seeding-scheme".into(),
            "selfhash".into(),
            "--context-width".into(),
            "3".into(),
            "--format".into(),
            "json".into(),
            t["text"].as_str().unwrap().to_string(),
        ]
    };
    let run = |t: &Value| {
        let a = args(t);
        modelward(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let o = run(marked);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let docs: Value = serde_json::from_slice(&o.stdout).unwrap();
    let z = docs[0]["score"]["z_score"].as_f64().unwrap();
    assert!(
        (z - marked["z_score"].as_f64().unwrap()).abs() < 1e-9,
        "{z}"
    );
    assert_eq!(
        docs[0]["score"]["green_tokens"],
        marked["num_green_tokens"].as_u64().unwrap()
    );
    let o = run(plain);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let docs: Value = serde_json::from_slice(&o.stdout).unwrap();
    let z = docs[0]["score"]["z_score"].as_f64().unwrap();
    assert!((z - plain["z_score"].as_f64().unwrap()).abs() < 1e-9);
    // The key is not printed.
    assert!(!text(&o.stdout).contains(&key) && !text(&o.stderr).contains(&key));
}

#[test]
fn many_weak_texts_one_a_line_are_watermarked_pooled() {
    let dir = Dir::new("watermark-lines");
    let case = case("weak-bias-many");
    let lines: Vec<String> = case["texts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["watermarked"] == true)
        .map(|t| t["text"].as_str().unwrap().replace('\n', " "))
        .collect();
    let file = dir.write("samples.txt", lines.join("\n"));
    let o = verify(&[
        "--key",
        "15485863",
        "--lines",
        "--file",
        file.to_str().unwrap(),
        "--format",
        "ndjson",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let docs = ndjson(&o);
    assert_eq!(docs.len(), lines.len() + 1);
    let alone = docs[..lines.len()]
        .iter()
        .filter(|d| d["score"]["watermarked"] == true)
        .count();
    assert!(alone * 4 < lines.len(), "{alone} of {}", lines.len());
    let pooled = &docs[lines.len()]["pooled"];
    assert_eq!(pooled["texts"], lines.len());
    assert!(
        pooled["score"]["p_value"].as_f64().unwrap() < 1e-9,
        "{pooled}"
    );
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = Dir::new("watermark-bad");
    let not_json = dir.write("tokenizer.json", "not a tokenizer");
    let o = modelward(&[
        "watermark",
        "verify",
        "--tokenizer",
        not_json.to_str().unwrap(),
        "--key",
        "1",
        "some text",
    ]);
    fails_saying(&o, "cannot read the tokenizer");
    let o = verify(&["--key", "1", "--gamma", "1.5", "some text"]);
    fails_saying(&o, "greenlist ratio 1.5");
    // A text of one token cannot be tested: reported, and with nothing else, an error.
    let o = verify(&["--key", "1", "a"]);
    fails_saying(&o, "at least 2");
    // --evidence without a key fails before any work.
    let o = verify(&[
        "--key",
        "1",
        "--evidence",
        dir.path("e.json").to_str().unwrap(),
        "some text",
    ]);
    fails_saying(&o, "signing key");
}

#[test]
fn evidence_is_signed_verifiable_and_tamper_evident() {
    let dir = Dir::new("watermark-evidence");
    let key = dir.path("key.pem");
    let o = modelward(&["evidence", "keygen", "--out", key.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let key_id = text(&o.stdout)
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_string();
    let case = case("lefthash-default");
    let marked = case["texts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["watermarked"] == true)
        .unwrap();
    let sample = dir.write("sample.txt", marked["text"].as_str().unwrap());
    let report = dir.path("report.json");
    let o = verify(&[
        "--key",
        "15485863",
        "--file",
        sample.to_str().unwrap(),
        "--evidence",
        report.to_str().unwrap(),
        "--signing-key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let doc: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let r = &doc["report"];
    assert_eq!(r["kind"], "watermark-verify");
    assert_eq!(r["inputs"][1]["source"], sample.to_str().unwrap());
    assert_eq!(
        r["inputs"][1]["bytes"],
        std::fs::metadata(&sample).unwrap().len()
    );
    let z = r["results"]["texts"][0]["score"]["z_score"]
        .as_f64()
        .unwrap();
    assert!((z - marked["z_score"].as_f64().unwrap()).abs() < 1e-9);
    let command: Vec<&str> = r["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(command.contains(&"<redacted>") && !command.contains(&"15485863"));
    assert_eq!(doc["signature"]["key_id"], key_id.as_str());

    let check = |pin: Option<&str>| {
        let mut args = vec!["evidence", "verify", report.to_str().unwrap()];
        if let Some(p) = pin {
            args.extend(["--public-key", p]);
        }
        modelward(&args)
    };
    assert_eq!(check(None).status.code(), Some(0));
    assert_eq!(check(Some(&key_id)).status.code(), Some(0));
    assert_eq!(check(Some(key.to_str().unwrap())).status.code(), Some(0));
    let o = check(Some("0123456789abcdef"));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).contains("not the pinned key"),
        "{}",
        text(&o.stdout)
    );

    // An input changed since: the signature holds, the check fails.
    std::fs::write(&sample, "something else").unwrap();
    let o = check(None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).contains("input(s) changed"),
        "{}",
        text(&o.stdout)
    );
    std::fs::write(&sample, marked["text"].as_str().unwrap()).unwrap();

    // The report changed: refused.
    let body = std::fs::read_to_string(&report).unwrap();
    std::fs::write(
        &report,
        body.replace("\"watermarked\": true", "\"watermarked\": false"),
    )
    .unwrap();
    let o = check(None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).contains("signature does not match"),
        "{}",
        text(&o.stdout)
    );
}

/// A signed report rides in an incident's bundle (`incident export --attribution`), and
/// `incident verify` checks its signature again, even under a rewritten manifest.
#[test]
fn an_incident_bundle_carries_signed_reports() {
    use modelward_corpus::sim::{simulate, Profile, SimSpec};
    let dir = Dir::new("watermark-bundle");
    let spec = SimSpec {
        seed: 11,
        span_ms: 2 * 86_400_000,
        profiles: vec![Profile::ChatUsers, Profile::LogitSweepFast],
        ..SimSpec::default()
    };
    let (mut log, mut labels) = (Vec::new(), Vec::new());
    simulate(&spec, &mut log, &mut labels).unwrap();
    let log = dir.write("sim.ndjson", log);
    let db = dir.path("incidents.db");
    let db_s = db.to_str().unwrap();
    let o = modelward(&[
        "hunt",
        "--source",
        "auto",
        "--format",
        "ndjson",
        "-o",
        "/dev/null",
        "--dry-run",
        "--incidents",
        db_s,
        log.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let o = modelward(&[
        "incident", "list", "--all", "--format", "json", "--db", db_s,
    ]);
    let list: Value = serde_json::from_slice(&o.stdout).unwrap();
    let id = list[0]["id"].as_str().unwrap().to_string();

    let key = dir.path("key.pem");
    assert!(
        modelward(&["evidence", "keygen", "--out", key.to_str().unwrap()])
            .status
            .success()
    );
    let report = dir.path("wm.json");
    let o = verify(&[
        "--key",
        "15485863",
        "--evidence",
        report.to_str().unwrap(),
        "--signing-key",
        key.to_str().unwrap(),
        "some words to test",
    ]);
    assert!(o.status.code() == Some(0) || o.status.code() == Some(1));

    // An unsigned file is refused, and nothing is exported.
    let unsigned = dir.write("unsigned.json", "{\"report\": {}}");
    let bundle = dir.path("bundle");
    let o = modelward(&[
        "incident",
        "export",
        &id,
        "--by",
        "erin",
        "--db",
        db_s,
        "--output",
        bundle.to_str().unwrap(),
        "--attribution",
        unsigned.to_str().unwrap(),
    ]);
    fails_saying(&o, "--attribution");
    assert!(!bundle.join("SHA256SUMS").exists());

    let o = modelward(&[
        "incident",
        "export",
        &id,
        "--by",
        "erin",
        "--db",
        db_s,
        "--output",
        bundle.to_str().unwrap(),
        "--attribution",
        report.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let carried = bundle.join("attribution/01-watermark-verify.json");
    assert_eq!(
        std::fs::read(&carried).unwrap(),
        std::fs::read(&report).unwrap()
    );
    let manifest = std::fs::read_to_string(bundle.join("SHA256SUMS")).unwrap();
    assert!(manifest.contains("  attribution/01-watermark-verify.json"));
    let o = modelward(&["incident", "verify", "--db", db_s, bundle.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stdout));
    assert!(
        text(&o.stdout).contains("signed watermark-verify report"),
        "{}",
        text(&o.stdout)
    );
    let o = modelward(&[
        "incident",
        "verify",
        "--db",
        db_s,
        bundle.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", text(&o.stdout));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    let doc = &doc[0];
    assert_eq!(doc["verdict"], "ok");
    assert_eq!(doc["checks"][1]["check"], "attribution");
    assert_eq!(doc["checks"][1]["result"], "pass", "{doc}");
    assert_eq!(doc["attribution"][0]["kind"], "watermark-verify");

    // The report changed and the manifest rewritten to match it: the signature still tells.
    let body = std::fs::read_to_string(&carried).unwrap().replace(
        "\"kind\": \"watermark-verify\"",
        "\"kind\": \"watermark-verify \"",
    );
    std::fs::write(&carried, &body).unwrap();
    let hash = modelward_respond::evidence::sha256_hex(body.as_bytes());
    let rewritten: String = manifest
        .lines()
        .map(
            |l| match l.strip_suffix("  attribution/01-watermark-verify.json") {
                Some(_) => format!("{hash}  attribution/01-watermark-verify.json\n"),
                None => format!("{l}\n"),
            },
        )
        .collect();
    std::fs::write(bundle.join("SHA256SUMS"), rewritten).unwrap();
    let verify = [
        "incident",
        "verify",
        bundle.to_str().unwrap(),
        "--db",
        "/nonexistent.db",
    ];
    let o = modelward(&verify);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).contains("signature does not match"),
        "{}",
        text(&o.stdout)
    );
    // In JSON: the attribution check fails and names the report; the files match.
    let o = modelward(&[&verify[..], &["--format", "ndjson"]].concat());
    assert_eq!(o.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["verdict"], "failed");
    assert_eq!(doc["checks"][0]["result"], "pass", "{doc}");
    assert_eq!(doc["checks"][1]["check"], "attribution");
    assert_eq!(doc["checks"][1]["result"], "fail", "{doc}");
    assert_eq!(doc["checks"][2]["result"], "skipped", "{doc}");
    assert_eq!(
        doc["attribution"][0]["file"],
        "attribution/01-watermark-verify.json"
    );
    assert_eq!(doc["attribution"][0]["result"], "fail");
}

/// A chat completion with log probabilities: `n` positions, 3 top candidates each.
fn completion(seed: u64, n: usize, jitter: f64) -> Value {
    let unit = |i: u64| {
        let mut z = (seed * 1_000_003 + i).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let content: Vec<Value> = (0..n as u64)
        .map(|i| {
            let top: Vec<Value> = (0..3u64)
                .map(|k| {
                    let lp = -0.2 - 1.5 * k as f64 - unit(i * 8 + k) + jitter * (unit(i * 8 + k + 4) - 0.5);
                    serde_json::json!({"token": format!("t{}", (i * 3 + k) % 50), "logprob": lp, "bytes": [116]})
                })
                .collect();
            serde_json::json!({"token": top[0]["token"], "logprob": top[0]["logprob"], "bytes": [116], "top_logprobs": top})
        })
        .collect();
    serde_json::json!({"object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}, "logprobs": {"content": content}}]})
}

/// `watermark perturbation`: answers the gateway served to one principal, perturbed with its
/// seed, are told from another principal's, also against a reference run with jitter of its
/// own larger than the noise.
#[test]
fn perturbation_tells_the_principal_the_answers_were_served_to() {
    let dir = Dir::new("watermark-perturbation");
    let secret = "a gateway secret of 16+ bytes";
    let (mut observed, mut reference) = (String::new(), String::new());
    for seed in 0..40 {
        let mut served = completion(seed, 30, 0.0);
        modelward_gateway::perturb::Perturber::new(secret.as_bytes(), "key-alice", 0.01)
            .apply(&mut served);
        observed.push_str(&format!("{served}\n"));
        reference.push_str(&format!("{}\n", completion(seed, 30, 0.02)));
    }
    let observed = dir.write("observed.ndjson", observed);
    let reference = dir.write("reference.ndjson", reference);
    let o = Command::new(env!("CARGO_BIN_EXE_modelward"))
        .args(["watermark", "perturbation", "--observed"])
        .arg(&observed)
        .arg("--reference")
        .arg(&reference)
        .args(["--principal", "key-alice", "--principal", "key-bob"])
        .args((0..20).flat_map(|i| ["--principal".to_string(), format!("key-{i}")]))
        .args(["--secret-env", "MW_TEST_GATEWAY_SECRET", "--format", "json"])
        .env("MW_TEST_GATEWAY_SECRET", secret)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let docs: Value = serde_json::from_slice(&o.stdout).unwrap();
    let (alice, bob) = (&docs[0], &docs[1]);
    assert_eq!(alice["principal"], "key-alice");
    // 40 answers × 30 positions × (its token + 3 candidates); one unit per distinct
    // (position, token): the answers repeat them, and so their noise.
    assert_eq!(alice["entries"], 4800);
    assert_eq!(alice["units"], 90);
    assert_eq!(alice["found"], true, "{alice}");
    assert!(alice["p_value"].as_f64().unwrap() < 1e-9);
    assert_eq!(bob["found"], false, "{bob}");
    assert!(bob["p_value"].as_f64().unwrap() > 1e-3, "{bob}");
    // Calibrated: of 21 principals it was not served to, about 1% fall below 0.01 (counted
    // per entry, 3 of them fell below 1e-9).
    let low = docs.as_array().unwrap()[1..]
        .iter()
        .filter(|d| d["p_value"].as_f64().unwrap() < 0.01)
        .count();
    assert!(low <= 2, "{docs}");

    // Not the same requests: refused.
    let short = dir.write("short.ndjson", format!("{}\n", completion(0, 3, 0.0)));
    let o = Command::new(env!("CARGO_BIN_EXE_modelward"))
        .args(["watermark", "perturbation", "--observed"])
        .arg(&observed)
        .arg("--reference")
        .arg(&short)
        .args([
            "--principal",
            "key-alice",
            "--secret-env",
            "MW_TEST_GATEWAY_SECRET",
        ])
        .env("MW_TEST_GATEWAY_SECRET", secret)
        .output()
        .unwrap();
    fails_saying(&o, "line for line");
}

#[test]
fn verify_reads_tiktoken_encodings() {
    let run = |args: &[&str]| {
        let mut all = vec!["watermark", "verify", "--key", "15485863"];
        all.extend_from_slice(args);
        modelward(&all)
    };
    // cl100k_base: "hello world" is [15339, 1917] and the 18-token text below is the one in
    // crates/watermark/tests/tiktoken.rs: 1 and 17 tokens scored, 18 pooled.
    let o = run(&[
        "--tiktoken",
        "cl100k_base",
        "--format",
        "ndjson",
        "hello world",
        "Hello, world! It's 2026 — naïve café 👍 你好",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let docs = ndjson(&o);
    assert_eq!(docs[0]["score"]["tokens_scored"], 1);
    assert_eq!(docs[1]["score"]["tokens_scored"], 17);
    assert_eq!(docs[2]["pooled"]["score"]["tokens_scored"], 18);
    // o200k_base gives other ids: 15 tokens for the same text.
    let o = run(&[
        "--tiktoken",
        "o200k_base",
        "--format",
        "ndjson",
        "Hello, world! It's 2026 — naïve café 👍 你好",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(ndjson(&o)[0]["score"]["tokens_scored"], 14);

    let tokenizer = tokenizer();
    let o = run(&[
        "--tiktoken",
        "cl100k_base",
        "--tokenizer",
        &tokenizer,
        "hello world",
    ]);
    fails_saying(&o, "cannot be used with");
    fails_saying(&run(&["hello world"]), "--tokenizer");
    fails_saying(&run(&["--tiktoken", "gpt2", "hello world"]), "r50k_base");
}
