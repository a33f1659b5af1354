//! Incidents and playbook PB-53 end to end, through the `modelward` binary: simulated logs →
//! `hunt --incidents` → incident → vector → decision → actions (dry run, then carried out,
//! never twice) → report → evidence bundle checked against its manifest.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use modelward_corpus::sim::{simulate, Profile, SimSpec};
use serde_json::Value;

mod common;
use common::Dir;

fn modelward(args: &[&str], extra: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modelward"))
        .args(args)
        .args(extra)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn write_log(dir: &Dir, profiles: Vec<Profile>, span_days: i64) -> PathBuf {
    let spec = SimSpec {
        seed: 11,
        span_ms: span_days * 86_400_000,
        profiles,
        ..SimSpec::default()
    };
    let (mut log, mut labels) = (Vec::new(), Vec::new());
    simulate(&spec, &mut log, &mut labels).unwrap();
    let path = dir.path("sim.ndjson");
    std::fs::write(&path, log).unwrap();
    path
}

fn incidents(db: &Path) -> Vec<Value> {
    let out = modelward(
        &["incident", "list", "--all", "--format", "ndjson", "--db"],
        &[db],
    );
    assert!(out.status.success(), "{}", text(&out));
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // `--format json`: the same incidents in one array (their SLA state read a moment later).
    let json = modelward(
        &["incident", "list", "--all", "--format", "json", "--db"],
        &[db],
    );
    let array: Value = serde_json::from_slice(&json.stdout).unwrap();
    let ids = |docs: &[Value]| docs.iter().map(|d| d["id"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(array.as_array().unwrap()), ids(&lines));
    lines
}

fn hunt(log: &Path, db: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["hunt", "--source", "auto", "--format", "ndjson", "-o"];
    args.extend_from_slice(&[if cfg!(windows) { "NUL" } else { "/dev/null" }]);
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_modelward"))
        .args(&args)
        .arg("--incidents")
        .arg(db)
        .arg(log)
        .output()
        .unwrap()
}

#[test]
fn an_extraction_attack_is_rate_limited_with_evidence_preserved_and_reported() {
    let dir = Dir::new("incidents-extraction");
    let log = write_log(&dir, vec![Profile::ChatUsers, Profile::LogitSweepFast], 2);
    let db = dir.path("incidents.db");

    // A dry run: the incident, its vector and decision, and the actions it would take.
    let out = hunt(&log, &db, &["--dry-run"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("opened INC-"), "{said}");
    assert!(
        said.contains("decision: Rate-limit, preserve evidence, and continue investigation"),
        "{said}"
    );
    assert!(
        said.contains("action would: rate_limit principal"),
        "{said}"
    );
    let list = incidents(&db);
    assert_eq!(list.len(), 1, "chat users open no incident: {list:?}");
    let inc = &list[0];
    let id = inc["id"].as_str().unwrap().to_string();
    assert_eq!(
        inc["vectors"],
        serde_json::json!(["Model extraction via API"])
    );
    assert_eq!(
        inc["decisions"],
        serde_json::json!(["Rate-limit, preserve evidence, and continue investigation"])
    );
    assert_eq!(inc["stage"], "analyze");
    let enforcement = modelward(&["incident", "enforcement", "--db"], &[&db]);
    assert!(
        String::from_utf8_lossy(&enforcement.stdout)
            .trim()
            .is_empty(),
        "a dry run puts nothing in force"
    );
    let report = modelward(&["incident", "show", &id, "--db"], &[&db]);
    let md = String::from_utf8_lossy(&report.stdout);
    for part in [
        "## 1.1 Triage",
        "systematic probing",
        "Model extraction via API",
        "| dry run |",
        "## 5. Decisions",
    ] {
        assert!(md.contains(part), "report lacks {part:?}:\n{md}");
    }

    // Carried out: measures in force, evidence preserved, the incident at Contain.
    let act = modelward(&["incident", "act", &id, "--by", "alice", "--db"], &[&db]);
    let said = text(&act);
    assert!(act.status.success(), "{said}");
    assert!(said.contains("done rate_limit principal"), "{said}");
    assert!(said.contains("raw record(s) preserved"), "{said}");
    let enforcement = modelward(&["incident", "enforcement", "--db"], &[&db]);
    let measures = String::from_utf8_lossy(&enforcement.stdout).into_owned();
    for m in ["rate_limit", "reduce_output_detail", "proof_of_work"] {
        assert!(measures.contains(m), "{m} not in force:\n{measures}");
    }
    // The same measures as one JSON array (`--format`, as every listing takes it).
    let json = modelward(
        &["incident", "enforcement", "--format", "json", "--db"],
        &[&db],
    );
    let array: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let names: Vec<&str> = array
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["measure"].as_str().unwrap())
        .collect();
    for m in ["rate_limit", "reduce_output_detail", "proof_of_work"] {
        assert!(names.contains(&m), "{m} not in {array}");
    }
    assert!(array
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["incident"] == id.as_str()
            && m["target_kind"].is_string()
            && m["enforced"].is_array()));
    let table = modelward(
        &["incident", "enforcement", "--format", "table", "--db"],
        &[&db],
    );
    assert!(text(&table).contains("enforced:"), "{}", text(&table));
    assert_eq!(incidents(&db)[0]["stage"], "contain");

    // Read again: nothing new, nothing repeated.
    let again = hunt(&log, &db, &[]);
    let said = text(&again);
    assert!(said.contains("(0 new)"), "{said}");
    assert!(!said.contains("action done"), "{said}");
    assert!(said.contains("action already_done: rate_limit"), "{said}");
    let audit = modelward(&["incident", "audit", &id, "--db"], &[&db]);
    let entries: Vec<Value> = String::from_utf8_lossy(&audit.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let done = entries.iter().filter(|e| e["outcome"] == "done").count();
    assert_eq!(done, 4, "each action carried out once: {entries:?}");

    // Recovery: the measures lifted, on the record, and not put back by the next hunt.
    let lift = modelward(&["incident", "lift", &id, "--by", "alice", "--db"], &[&db]);
    assert!(lift.status.success(), "{}", text(&lift));
    assert_eq!(text(&lift).matches("lifted ").count(), 3, "{}", text(&lift));
    let enforcement = modelward(&["incident", "enforcement", "--db"], &[&db]);
    assert!(String::from_utf8_lossy(&enforcement.stdout)
        .trim()
        .is_empty());
    let audit = modelward(&["incident", "audit", &id, "--db"], &[&db]);
    assert!(String::from_utf8_lossy(&audit.stdout).contains("\"lift_rate_limit\""));
    hunt(&log, &db, &[]);
    let enforcement = modelward(&["incident", "enforcement", "--db"], &[&db]);
    assert!(String::from_utf8_lossy(&enforcement.stdout)
        .trim()
        .is_empty());

    // The evidence bundle, checked, then tampered with.
    let bundle = dir.path("bundle");
    let out = modelward(
        &["incident", "export", &id, "--by", "erin", "--db"],
        &[&db, Path::new("--output"), &bundle],
    );
    assert!(out.status.success(), "{}", text(&out));
    let manifest = std::fs::read_to_string(bundle.join("SHA256SUMS")).unwrap();
    for f in [
        "alerts.ndjson",
        "actions.ndjson",
        "iocs.csv",
        "iocs.stix.json",
        "report.html",
        "evidence/0001.raw",
    ] {
        assert!(
            manifest.contains(&format!("  {f}\n")),
            "{f} not in the manifest:\n{manifest}"
        );
    }
    // The raw records are the log's bytes at the recorded offsets.
    let index = std::fs::read_to_string(bundle.join("evidence/records.ndjson")).unwrap();
    let raw_log = std::fs::read(&log).unwrap();
    for line in index.lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        let raw = std::fs::read(bundle.join(r["bundle_file"].as_str().unwrap())).unwrap();
        let at = r["offset"].as_u64().unwrap() as usize;
        assert_eq!(&raw_log[at..at + raw.len()], raw.as_slice());
    }
    // A redacted bundle for a wider audience: key ids masked, still verifiable.
    let redacted = dir.path("redacted");
    let out = modelward(
        &[
            "incident", "export", &id, "--by", "erin", "--redact", "--db",
        ],
        &[&db, Path::new("--output"), &redacted],
    );
    assert!(out.status.success(), "{}", text(&out));
    let first = std::fs::read_to_string(redacted.join("evidence/0001.redacted")).unwrap();
    let raw_first = std::fs::read_to_string(bundle.join("evidence/0001.raw")).unwrap();
    let key = raw_first
        .split('"')
        .find(|w| w.starts_with("key_") && w.len() > 10)
        .expect("the raw record names its API key id");
    assert!(!first.contains(key), "{key} left in {first}");
    assert!(
        modelward(&["incident", "verify", "--db"], &[&db, &redacted])
            .status
            .success()
    );
    let ok = modelward(&["incident", "verify", "--db"], &[&db, &bundle]);
    assert!(ok.status.success(), "{}", text(&ok));
    std::fs::write(bundle.join("evidence/0001.raw"), b"{}").unwrap();
    let bad = modelward(&["incident", "verify", "--db"], &[&db, &bundle]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(
        text(&bad).contains("evidence/0001.raw: changed"),
        "{}",
        text(&bad)
    );
}

#[test]
fn stolen_weights_and_data_are_contained_immediately() {
    let dir = Dir::new("incidents-storage");
    let log = write_log(
        &dir,
        vec![
            Profile::ModelDeploy,
            Profile::WeightTheft,
            Profile::InsiderModelCopy,
            Profile::TrainingDataExfiltration,
        ],
        8,
    );
    let db = dir.path("incidents.db");
    let config = dir.path("modelward.toml");
    std::fs::write(
        &config,
        r#"
[[exceptions]]
name = "deploy role pulls weights"
rules = ["Model weights downloaded from object storage"]
principals = ["arn:aws:sts::123456789012:assumed-role/ModelDeploy/*"]
reason = "the serving fleet loads its own model"
"#,
    )
    .unwrap();
    let out = hunt(
        &log,
        &db,
        &["--dry-run", "--config", config.to_str().unwrap()],
    );
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    let list = incidents(&db);
    let titles: Vec<&str> = list.iter().map(|i| i["title"].as_str().unwrap()).collect();
    assert_eq!(
        list.len(),
        3,
        "one incident per thief, none for the deploy role: {titles:?}"
    );
    for inc in &list {
        assert_eq!(
            inc["decisions"],
            serde_json::json!(["Contain immediately and revoke access"]),
            "{inc}"
        );
        assert_eq!(inc["severity"], "critical");
    }
    let vectors: Vec<String> = list
        .iter()
        .flat_map(|i| {
            i["vectors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
        })
        .collect();
    for v in [
        "Weight/checkpoint theft",
        "Training data exfiltration",
        "Insider model copy",
    ] {
        assert!(
            vectors.iter().any(|x| x == v),
            "{v} not classified: {vectors:?}"
        );
    }
    assert!(
        said.contains("action would: lock_storage resource acme-ml-models"),
        "{said}"
    );
    assert!(
        !said.contains("lock_storage resource jsmith-archive"),
        "another account's bucket is not ours to lock: {said}"
    );
    // Nothing was carried out (a dry run): past the immediate SLA, every decision is overdue.
    let late = modelward(
        &["incident", "list", "--now", "2099-01-01T00:00:00Z", "--db"],
        &[&db],
    );
    let said = text(&late);
    assert_eq!(said.matches("! INC-").count(), 3, "{said}");
    assert!(said.contains("contain: OVERDUE"), "{said}");
    assert!(said.contains("3 with an overdue decision"), "{said}");
    // The insider's incident escalates and lists the employee.
    let insider = list
        .iter()
        .find(|i| i["title"].as_str().unwrap().contains("jsmith"))
        .unwrap();
    let id = insider["id"].as_str().unwrap();
    let show = modelward(&["incident", "show", id, "--db"], &[&db]);
    let md = String::from_utf8_lossy(&show.stdout);
    assert!(md.contains("CTO + CISO + Legal"), "{md}");
    assert!(md.contains("jsmith"), "{md}");
    // A responder confirms the insider: PB-53's notification decision joins.
    let fact = modelward(
        &[
            "incident",
            "fact",
            id,
            "insider_confirmed=true",
            "--by",
            "bob",
            "--db",
        ],
        &[&db],
    );
    let said = text(&fact);
    assert!(fact.status.success(), "{said}");
    assert!(
        said.contains("Notify legal, HR, privacy, and executive stakeholders"),
        "{said}"
    );
}

/// The extraction attack's log, hunted in a dry run into `incidents.db`: its incident's id.
fn extraction_incident(dir: &Dir) -> (PathBuf, String) {
    let log = write_log(dir, vec![Profile::ChatUsers, Profile::LogitSweepFast], 2);
    let db = dir.path("incidents.db");
    let out = hunt(&log, &db, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let id = incidents(&db)[0]["id"].as_str().unwrap().to_string();
    (db, id)
}

#[test]
fn a_bundle_rewritten_with_its_manifest_fails_verify_against_the_database() {
    let dir = Dir::new("incidents-rewritten");
    let (db, id) = extraction_incident(&dir);
    let bundle = dir.path("bundle");
    let out = modelward(
        &["incident", "export", &id, "--by", "erin", "--db"],
        &[&db, Path::new("--output"), &bundle],
    );
    assert!(out.status.success(), "{}", text(&out));
    let ok = modelward(&["incident", "verify", "--db"], &[&db, &bundle]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("the manifest is the one exported for"));
    // For scripts: one document, each check's result and the verdict.
    let verify_json = |format: &str| {
        let o = modelward(
            &["incident", "verify", "--format", format, "--db"],
            &[&db, &bundle],
        );
        let doc: Value = match format {
            "json" => serde_json::from_slice::<Vec<Value>>(&o.stdout).unwrap()[0].clone(),
            _ => serde_json::from_slice(&o.stdout).unwrap(),
        };
        (o.status.code(), doc)
    };
    let (code, doc) = verify_json("json");
    assert_eq!(code, Some(0), "{doc}");
    assert_eq!(doc["verdict"], "ok");
    assert_eq!(
        common::checks(&doc),
        [
            ("manifest", "pass"),
            ("attribution", "skipped"),
            ("export_recorded", "pass")
        ]
    );
    assert_eq!(doc["export"]["incident"], id.as_str());
    assert_eq!(
        doc["manifest_sha256"],
        modelward_respond::evidence::sha256_hex(&std::fs::read(bundle.join("SHA256SUMS")).unwrap())
    );
    assert_eq!(doc["mismatches"], serde_json::json!([]));

    // A file changed: the manifest check fails and names it.
    std::fs::write(bundle.join("iocs.csv"), b"type,value\nip,192.0.2.1\n").unwrap();
    let (code, doc) = verify_json("ndjson");
    assert_eq!(code, Some(1), "{doc}");
    assert_eq!(doc["verdict"], "failed");
    assert_eq!(common::checks(&doc)[0], ("manifest", "fail"));
    assert_eq!(common::checks(&doc)[2], ("export_recorded", "pass"));
    assert_eq!(
        doc["mismatches"],
        serde_json::json!([{"file": "iocs.csv", "why": "changed"}])
    );

    // ... and the manifest rewritten to match: consistent on its own.
    let hash = modelward_respond::evidence::sha256_hex(b"type,value\nip,192.0.2.1\n");
    let manifest: String = std::fs::read_to_string(bundle.join("SHA256SUMS"))
        .unwrap()
        .lines()
        .map(|l| match l.strip_suffix("  iocs.csv") {
            Some(_) => format!("{hash}  iocs.csv\n"),
            None => format!("{l}\n"),
        })
        .collect();
    std::fs::write(bundle.join("SHA256SUMS"), manifest).unwrap();
    let before = std::fs::read(&db).unwrap();
    let bad = modelward(&["incident", "verify", "--db"], &[&db, &bundle]);
    let said = text(&bad);
    assert_eq!(bad.status.code(), Some(1), "{said}");
    assert!(said.contains("file(s) match SHA256SUMS"), "{said}");
    assert!(said.contains("SHA256SUMS was not exported from"), "{said}");
    let (code, doc) = verify_json("ndjson");
    assert_eq!(code, Some(1), "{doc}");
    assert_eq!(doc["verdict"], "failed");
    assert_eq!(
        common::checks(&doc),
        [
            ("manifest", "pass"),
            ("attribution", "skipped"),
            ("export_recorded", "fail")
        ]
    );
    assert_eq!(doc["export"], Value::Null);
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "verify wrote to the db"
    );
    // Without a database the files are all it can check.
    let alone = modelward(
        &["incident", "verify", "--db"],
        &[&dir.path("no-such.db"), &bundle],
    );
    assert!(alone.status.success(), "{}", text(&alone));
    assert!(text(&alone).contains("was not checked"), "{}", text(&alone));
    assert!(!dir.path("no-such.db").exists());
}

#[test]
fn a_redacted_bundle_holds_no_raw_api_key_id() {
    let dir = Dir::new("incidents-redact");
    let (db, id) = extraction_incident(&dir);
    // Confirmed theft: the contain decision revokes the key, so the audit log names it.
    let fact = modelward(
        &[
            "incident",
            "fact",
            &id,
            "artifact_accessed=true",
            "--by",
            "bob",
            "--db",
        ],
        &[&db],
    );
    assert!(fact.status.success(), "{}", text(&fact));
    let act = modelward(&["incident", "act", &id, "--by", "alice", "--db"], &[&db]);
    assert!(
        text(&act).contains("done revoke_key api_key"),
        "{}",
        text(&act)
    );
    let show = modelward(
        &["incident", "show", &id, "--format", "json", "--db"],
        &[&db],
    );
    let incident: Value = serde_json::from_slice(&show.stdout).unwrap();
    let key = incident["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e[0] == "api_key")
        .and_then(|e| e[1].as_str())
        .expect("the incident names its API key id")
        .to_string();

    let full = dir.path("full");
    let out = modelward(
        &["incident", "export", &id, "--by", "erin", "--db"],
        &[&db, Path::new("--output"), &full],
    );
    assert!(out.status.success(), "{}", text(&out));
    // The bundle for legal keeps raw values.
    for f in ["actions.ndjson", "incident.json", "alerts.ndjson"] {
        let body = std::fs::read_to_string(full.join(f)).unwrap();
        assert!(body.contains(&key), "{f} lacks {key}");
    }
    let redacted = dir.path("redacted");
    let out = modelward(
        &[
            "incident", "export", &id, "--by", "erin", "--redact", "--db",
        ],
        &[&db, Path::new("--output"), &redacted],
    );
    assert!(out.status.success(), "{}", text(&out));
    let mut files = vec![redacted.clone()];
    let mut seen = 0;
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let body = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
        assert!(!body.contains(&key), "{key} left in {}", p.display());
        seen += 1;
    }
    assert!(seen >= 10, "{seen} file(s)");
    let actions = std::fs::read_to_string(redacted.join("actions.ndjson")).unwrap();
    let revoke: Value = actions
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["action"] == "revoke_key")
        .unwrap();
    assert_eq!(
        revoke["target"].as_str().unwrap(),
        modelward_respond::ioc::mask_key(&key)
    );
    let ok = modelward(&["incident", "verify", "--db"], &[&db, &redacted]);
    assert!(ok.status.success(), "{}", text(&ok));
}

#[test]
fn commands_that_do_not_act_need_no_webhook_secret() {
    let dir = Dir::new("incidents-secret");
    let (db, id) = extraction_incident(&dir);
    let config = dir.write(
        "modelward.toml",
        "[respond]\n[[respond.webhooks]]\nname = \"soar\"\nurl = \"http://127.0.0.1:9/\"\nsecret = \"env:MODELWARD_TEST_SOAR_SECRET\"\nactions = [\"notify\"]\n",
    );
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_modelward"))
            .args(args)
            .arg("--db")
            .arg(&db)
            .arg("--config")
            .arg(&config)
            .env_remove("MODELWARD_TEST_SOAR_SECRET")
            .output()
            .unwrap()
    };
    let show = modelward(
        &["incident", "show", &id, "--format", "json", "--db"],
        &[&db],
    );
    let incident: Value = serde_json::from_slice(&show.stdout).unwrap();
    let task = incident["tasks"][0]["id"].as_str().unwrap().to_string();
    let out = run(&[
        "incident", "task", &id, &task, "--state", "done", "--by", "bob",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&["incident", "fact", &id, "explained=false", "--by", "bob"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&["incident", "playbook"]);
    assert!(out.status.success(), "{}", text(&out));
    let report = dir.path("report.md");
    let out = run(&["incident", "report", &id, "-o", report.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    // A dry run sends nothing and needs none; acting needs it, and says which webhook and
    // variable.
    let out = run(&["incident", "act", &id, "--by", "alice", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    // For a SOAR: each action as `incident audit` writes it, in one array.
    let out = run(&[
        "incident",
        "act",
        &id,
        "--by",
        "alice",
        "--dry-run",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let actions: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!actions.is_empty(), "{}", text(&out));
    for a in &actions {
        assert_eq!(a["incident"], id.as_str(), "{a}");
        assert!(
            ["dry_run", "manual", "already_done"].contains(&a["outcome"].as_str().unwrap()),
            "{a}"
        );
        assert!(a["action"].as_str().is_some_and(|s| !s.is_empty()), "{a}");
        assert!(a["at_time"].as_str().unwrap().ends_with('Z'), "{a}");
    }
    assert!(
        actions.iter().any(|a| a["outcome"] == "dry_run"),
        "{}",
        text(&out)
    );
    let out = run(&["incident", "act", &id, "--by", "alice"]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("`soar`") && said.contains("MODELWARD_TEST_SOAR_SECRET"),
        "{said}"
    );
}

#[test]
fn respond_paths_are_relative_to_the_configuration_file() {
    let dir = Dir::new("incidents-relative");
    let pb53 = modelward(&["incident", "playbook"], &[]);
    assert!(pb53.status.success(), "{}", text(&pb53));
    let mut playbook = b"# the organisation's copy\n".to_vec();
    playbook.extend_from_slice(&pb53.stdout);
    dir.write("conf/pb.toml", playbook);
    drop(modelward_store::Store::open(&dir.path("conf/inventory.db")).unwrap());
    dir.write(
        "conf/modelward.toml",
        "[respond]\nplaybook = \"pb.toml\"\ninventory = \"inventory.db\"\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_modelward"))
        .args(["incident", "playbook", "--config", "conf/modelward.toml"])
        .current_dir(&dir.0)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("# the organisation's copy"));
    // A missing inventory is named with its key and path.
    dir.write(
        "conf/modelward.toml",
        "[respond]\ninventory = \"gone.db\"\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_modelward"))
        .args(["incident", "playbook", "--config", "conf/modelward.toml"])
        .current_dir(&dir.0)
        .output()
        .unwrap();
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("[respond] inventory")
            && said.contains(&format!("conf{}gone.db", std::path::MAIN_SEPARATOR)),
        "{said}"
    );
}

#[test]
fn a_responders_facts_and_tasks_are_audited_and_closing_says_what_remains() {
    let dir = Dir::new("incidents-responder-acts");
    let log = write_log(&dir, vec![Profile::LogitSweepFast], 1);
    let db = dir.path("incidents.db");
    let out = hunt(&log, &db, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let id = incidents(&db)[0]["id"].as_str().unwrap().to_string();

    // A misspelt fact is refused with the names there are, and changes nothing.
    let typo = modelward(
        &[
            "incident",
            "fact",
            &id,
            "insider_confirm=true",
            "--by",
            "bob",
            "--db",
        ],
        &[&db],
    );
    assert!(!typo.status.success(), "{}", text(&typo));
    assert!(text(&typo).contains("insider_confirmed"), "{}", text(&typo));
    let fact = modelward(
        &[
            "incident",
            "fact",
            &id,
            "insider_confirmed=true",
            "--by",
            "bob",
            "--db",
        ],
        &[&db],
    );
    assert!(fact.status.success(), "{}", text(&fact));
    let task = modelward(
        &[
            "incident",
            "task",
            &id,
            "lessons.7.1",
            "--state",
            "n/a",
            "--by",
            "carol",
            "--db",
        ],
        &[&db],
    );
    assert!(task.status.success(), "{}", text(&task));
    let bundle = dir.path("bundle");
    let export = modelward(
        &["incident", "export", &id, "--by", "erin", "--db"],
        &[&db, Path::new("--output"), &bundle],
    );
    assert!(export.status.success(), "{}", text(&export));

    let audit = modelward(&["incident", "audit", &id, "--db"], &[&db]);
    let entries: Vec<Value> = String::from_utf8_lossy(&audit.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by = |action: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {entries:?}"))
    };
    let set_fact = by("set_fact");
    assert_eq!(
        (set_fact["actor"].as_str(), set_fact["target"].as_str()),
        (Some("bob"), Some("insider_confirmed"))
    );
    assert!(
        set_fact["detail"]
            .as_str()
            .unwrap()
            .contains("false → true"),
        "{set_fact}"
    );
    assert_eq!(by("set_task")["actor"], "carol");
    assert_eq!(by("export_evidence")["actor"], "erin", "chain of custody");

    // Closing lifts nothing, and says so.
    let close = modelward(
        &[
            "incident",
            "close",
            &id,
            "--by",
            "dana",
            "--resolution",
            "contained",
            "--db",
        ],
        &[&db],
    );
    let said = text(&close);
    assert!(close.status.success(), "{said}");
    assert!(said.contains("still in force"), "{said}");
    assert!(said.contains("left open"), "{said}");
}

#[test]
fn by_defaults_to_the_user_running_it_and_the_audit_log_reads_times() {
    let dir = Dir::new("incidents-by-default");
    let (db, id) = extraction_incident(&dir);
    let advance = Command::new(env!("CARGO_BIN_EXE_modelward"))
        .args(["incident", "advance", &id, "--note", "looked at it", "--db"])
        .arg(&db)
        .env("USER", "carol")
        .env_remove("USERNAME")
        .output()
        .unwrap();
    assert!(advance.status.success(), "{}", text(&advance));
    assert!(text(&advance).contains("(by carol)"), "{}", text(&advance));
    let fact = Command::new(env!("CARGO_BIN_EXE_modelward"))
        .args(["incident", "fact", &id, "insider_confirmed=false", "--db"])
        .arg(&db)
        .env("USER", "carol")
        .env_remove("USERNAME")
        .output()
        .unwrap();
    assert!(fact.status.success(), "{}", text(&fact));

    // NDJSON (not a terminal): the number as it was, and the time as people read it.
    let audit = modelward(&["incident", "audit", &id, "--db"], &[&db]);
    let entries: Vec<Value> = String::from_utf8_lossy(&audit.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let moved = entries
        .iter()
        .find(|e| e["actor"] == "carol")
        .unwrap_or_else(|| panic!("carol moved it: {entries:?}"));
    let at = moved["at"].as_i64().unwrap();
    let at_time = moved["at_time"].as_str().unwrap();
    assert_eq!(modelward_event::parse_timestamp(at_time), Some(at));
    assert!(at_time.ends_with('Z'), "{at_time}");

    // `--format json`: the same entries in one array.
    let json = modelward(
        &["incident", "audit", &id, "--format", "json", "--db"],
        &[&db],
    );
    let array: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(array.as_array(), Some(&entries));

    // The table: RFC 3339 UTC, no milliseconds since the epoch.
    let table = modelward(
        &["incident", "audit", &id, "--format", "table", "--db"],
        &[&db],
    );
    let table = String::from_utf8_lossy(&table.stdout);
    let row = table.lines().find(|l| l.contains("by carol")).unwrap();
    assert!(row.contains(at_time), "{row}");
    assert!(!row.contains(&at.to_string()), "{row}");
}

#[test]
fn export_takes_output_and_still_the_old_out() {
    let dir = Dir::new("incidents-export-output");
    let (db, id) = extraction_incident(&dir);
    let new = dir.path("new");
    let out = modelward(
        &["incident", "export", &id, "--by", "erin", "--db"],
        &[&db, Path::new("--output"), &new],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(new.read_dir().unwrap().count() > 0);
    assert!(!text(&out).contains("deprecated"), "{}", text(&out));
    let old = dir.path("old");
    let out = modelward(
        &["incident", "export", &id, "--by", "erin", "--db"],
        &[&db, Path::new("--out"), &old],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(old.read_dir().unwrap().count() > 0);
    let warned = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        warned
            .matches("`--out` is deprecated; use `--output`")
            .count(),
        1,
        "{warned}"
    );
}

#[test]
fn a_missing_database_names_the_command_that_creates_it() {
    let dir = Dir::new("missing-databases");
    let db = dir.path("nothing.db");
    for (args, creates) in [
        (
            vec!["incident", "list", "--db"],
            "modelward hunt --incidents",
        ),
        (
            vec!["inventory", "verify", "--db"],
            "modelward inventory scan --db",
        ),
        (
            vec!["fingerprint", "list", "--db"],
            "modelward fingerprint build --db",
        ),
    ] {
        let out = modelward(&args, &[&db]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains(creates), "{args:?}: {said}");
        assert!(!db.exists(), "{args:?} created it");
    }
}
