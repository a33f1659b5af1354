//! The `modelward` binary as users run it.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

mod common;
use common::Dir;

#[path = "../../respond/tests/chromium/mod.rs"]
mod chromium;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_modelward"))
}

fn listkey(group: &str, i: usize) -> String {
    json!({
        "category": "Audit",
        "operationName": "ListKey",
        "properties": {"objectId": "a41b6e0d"},
        "resourceId": format!("/SUBSCRIPTIONS/5F0C3E7A-2B9D-4C61-9A8E-1D2F3B4C5A6E/RESOURCEGROUPS/{group}/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/OAI"),
        "time": format!("2025-03-14T09:{:02}:{:02}.1234567Z", 10 + i / 6, (i % 6) * 10),
    })
    .to_string()
}

fn burst(group: &str, n: usize) -> String {
    (0..n).map(|i| listkey(group, i) + "\n").collect()
}

fn hunt(args: &[&str], paths: &[&Path]) -> Output {
    let mut cmd = bin();
    cmd.arg("hunt").args(args);
    for p in paths {
        cmd.arg(p);
    }
    cmd.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const SEED_RULE: &str = "4021e78d-5293-48d3-adee-a70fa4c18fab";

/// The alerts of the seed ES|QL rule (the built-in pack has other rules too).
fn seed_alerts(o: &Output) -> Vec<Value> {
    alerts(o)
        .into_iter()
        .filter(|a| a["rule"]["id"] == json!(SEED_RULE))
        .collect()
}

/// The rule ids of alerts, sorted.
fn rule_ids(alerts: &[Value]) -> Vec<&str> {
    let mut ids: Vec<&str> = alerts
        .iter()
        .map(|a| a["rule"]["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

fn alerts(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn alerts_exit_1_and_ndjson_when_not_a_terminal() {
    let d = Dir::new("basic");
    let logs = d.write("a.ndjson", burst("RG-A", 100) + &burst("RG-B", 99));
    let o = hunt(&[], &[&logs]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let a = seed_alerts(&o);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["azure.resource.group"], json!("rg-a"));
    // The seed rule, and the built-in Sigma correlation over the same key listings.
    assert!(
        stderr(&o).contains("1 file(s), 199 events, 0 malformed, 2 alert(s)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn no_alerts_exit_0() {
    let d = Dir::new("quiet");
    let logs = d.write("a.ndjson", burst("RG-B", 99));
    let o = hunt(&[], &[&logs]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
}

#[test]
fn malformed_lines_are_reported_and_the_rest_is_processed() {
    let d = Dir::new("malformed");
    let mut text = burst("RG-A", 50);
    text.push_str("{\"category\":\"Audit\",\"operationName\":\"ListKey\",\"time\":\n");
    text.push_str("\u{0}\u{1}binary\u{7f} garbage ListKey Audit\n");
    text.push_str("[1,2,3]\n");
    text.push_str("{\"records\": \"not a list\", \"x\": 1}\n");
    text.push_str("{\"records\": 7}\n");
    text.push_str(
        &(50..100)
            .map(|i| listkey("RG-A", i) + "\n")
            .collect::<String>(),
    );
    let logs = d.write("m.ndjson", text);
    let o = hunt(&[], &[&logs]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(
        seed_alerts(&o)[0]["count"],
        json!(100),
        "lines after the bad ones still count"
    );
    assert!(err.contains("m.ndjson:51:"), "{err}");
    assert!(err.contains("m.ndjson:52:1:"), "{err}");
    assert!(
        err.contains("m.ndjson:53:1: expected a JSON object (one event), found an array"),
        "{err}"
    );
    assert!(
        err.contains(
            "m.ndjson:55:1: envelope `records` must be an array of events, found a number"
        ),
        "{err}"
    );
    assert!(err.contains("4 malformed"), "{err}");
    // An object with a `records` field beside others is an ordinary event.
    assert!(!err.contains("m.ndjson:54:"), "{err}");
}

#[test]
fn a_100_mb_line_is_skipped_with_a_clear_error() {
    let d = Dir::new("hugeline");
    let mut text = burst("RG-A", 60);
    let mut huge = String::with_capacity(100 << 20);
    huge.push_str("{\"pad\":\"");
    huge.push_str(&"x".repeat(100 << 20));
    huge.push_str("\"}\n");
    text.push_str(&huge);
    drop(huge);
    text.push_str(
        &(60..100)
            .map(|i| listkey("RG-A", i) + "\n")
            .collect::<String>(),
    );
    let logs = d.write("huge.ndjson", text);
    let o = hunt(&[], &[&logs]);
    let err = stderr(&o);
    assert!(
        err.contains(
            "huge.ndjson:61: record longer than the 67108864-byte limit for one event; skipped"
        ),
        "{err}"
    );
    assert_eq!(seed_alerts(&o)[0]["count"], json!(100), "{err}");
}

#[test]
fn empty_files_and_directories_are_fine() {
    let d = Dir::new("empty");
    d.write("empty.ndjson", "");
    d.write("blank.ndjson", "\n\n  \n");
    let o = hunt(&[], &[&d.0]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("2 file(s), 0 events"), "{}", stderr(&o));
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn gzip_is_read_transparently_and_corrupt_gzip_is_an_error_that_does_not_stop_the_run() {
    let d = Dir::new("gzip");
    let good = d.write("logs.json.gz", gzip(burst("RG-GZ", 100).as_bytes()));
    let mut bad = gzip(burst("RG-BAD", 100).as_bytes());
    let mid = bad.len() / 2;
    bad.truncate(mid);
    bad.extend_from_slice(b"\x00garbage");
    let corrupt = d.write("corrupt.gz", bad);
    let o = hunt(&[], &[&corrupt, &good]);
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "an unreadable input is an error: {err}"
    );
    assert!(
        err.contains("corrupt.gz: corrupt or truncated gzip data"),
        "{err}"
    );
    let a = seed_alerts(&o);
    assert_eq!(a.len(), 1, "{err}");
    assert_eq!(a[0]["azure.resource.group"], json!("rg-gz"));
}

#[test]
fn json_arrays_and_records_envelopes_and_pretty_documents() {
    let d = Dir::new("shapes");
    let records: Vec<Value> = burst("RG-ENV", 100)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let array = d.write(
        "array.json",
        serde_json::to_string_pretty(&records[..40]).unwrap(),
    );
    let envelope_line = d.write(
        "hub.ndjson",
        format!("{}\n", json!({"records": &records[40..70]})),
    );
    let pretty = d.write(
        "pretty.json",
        serde_json::to_string_pretty(&json!({"records": &records[70..]})).unwrap(),
    );
    let o = hunt(&[], &[&array, &envelope_line, &pretty]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(seed_alerts(&o)[0]["count"], json!(100));
}

#[test]
fn stdin_is_read_with_dash() {
    let mut child = bin()
        .args(["hunt", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(burst("RG-STDIN", 100).as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        seed_alerts(&o)[0]["azure.resource.group"],
        json!("rg-stdin")
    );
}

#[test]
fn formats_and_output_file() {
    let d = Dir::new("formats");
    let logs = d.write("a.ndjson", burst("RG-A", 100));
    let o = hunt(&["--format", "json"], &[&logs]);
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc.as_array().unwrap().len(), 2);
    let o = hunt(&["--format", "table"], &[&logs]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.starts_with("SEVERITY  RULE"), "{table}");
    assert!(
        table.contains("Potential Azure OpenAI Model Theft") && table.contains(SEED_RULE),
        "{table}"
    );
    let out = d.0.join("alerts.ndjson");
    let o = hunt(&["--output", out.to_str().unwrap()], &[&logs]);
    assert!(o.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 2);
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let d = Dir::new("pipe");
    let text: String = (0..30).map(|g| burst(&format!("RG-{g}"), 100)).collect();
    let logs = d.write("many.ndjson", text);
    let mut child = bin()
        .args(["hunt", "--format", "json"])
        .arg(&logs)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert!(!err.contains("error"), "{err}");
    assert_ne!(o.status.code(), Some(2), "{err}");
}

#[test]
fn user_rules_load_and_bad_rules_are_reported_with_position() {
    let d = Dir::new("rules");
    let rules = d.0.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("many_listkeys.esql"),
        "// name: Any ListKey burst\n// id: test-listkey\n// severity: high\n// risk_score: 73\n// interval: 10m\n// from: now-60m\nfrom logs-azure_openai.logs-* | where azure.open_ai.operation_name == \"ListKey\" | stats calls = count(*) by azure.resource.name | where calls >= 10\n",
    )
    .unwrap();
    std::fs::write(rules.join("broken.esql"), "from logs-*\n| where x ==\n").unwrap();
    std::fs::write(
        rules.join("bad.toml"),
        "[rule]\ntype = \"esql\"\nname = \"n\"\n",
    )
    .unwrap();
    let logs = d.write("a.ndjson", burst("RG-A", 20));
    let o = hunt(
        &["--no-builtin", "--rules", rules.to_str().unwrap()],
        &[&logs],
    );
    let err = stderr(&o);
    assert!(
        err.contains("broken.esql:2:13: mismatched input end of query expecting an expression"),
        "{err}"
    );
    assert!(err.contains("bad.toml:1:1: missing field"), "{err}");
    assert_eq!(
        o.status.code(),
        Some(2),
        "a rule that failed to load is an error: {err}"
    );
    let a = alerts(&o);
    assert_eq!(a.len(), 1, "the good rule still ran: {err}");
    assert_eq!(a[0]["rule"]["id"], json!("test-listkey"));
    assert_eq!(a[0]["calls"], json!(20));

    let o = bin().args(["rules", "check"]).arg(&rules).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out.contains("3 rule file(s): 1 rule(s) loaded, 2 failed"),
        "{out}"
    );
    // For scripts (CI annotations): the counts and every failure's position in JSON.
    let o = bin()
        .args(["rules", "check", "--format", "json"])
        .arg(&rules)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let docs: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let doc = &docs[0];
    assert_eq!(
        (&doc["files"], &doc["loaded"], &doc["failed"]),
        (&json!(3), &json!(1), &json!(2)),
        "{doc}"
    );
    let broken = doc["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["file"].as_str().unwrap().ends_with("broken.esql"))
        .unwrap_or_else(|| panic!("{doc}"));
    assert_eq!(
        (&broken["line"], &broken["column"]),
        (&json!(2), &json!(13))
    );
    assert!(
        broken["message"]
            .as_str()
            .unwrap()
            .contains("mismatched input end of query"),
        "{broken}"
    );
    let good = d.0.join("good");
    std::fs::create_dir_all(&good).unwrap();
    std::fs::copy(rules.join("many_listkeys.esql"), good.join("a.esql")).unwrap();
    let o = bin()
        .args(["rules", "check", "--format", "ndjson"])
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["failed"], json!(0));
    assert_eq!(doc["errors"], json!([]));
}

/// `rules test --format json`: the counts, each failed test with its rule and file, the
/// untested rules; the text as before.
#[test]
fn rules_test_reports_failures_in_json() {
    let d = Dir::new("rules-test-json");
    let rules = d.0.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("tested.yml"),
        "title: ListKey called\nid: 5b1f6a52-1d5e-4a43-9a0e-2f6f4c1e0a01\nlevel: high\nlogsource:\n  product: azure\ndetection:\n  sel:\n    action: ListKey\n  condition: sel\nmodelward_tests:\n  true_positives:\n    - action: ListKey\n  true_negatives:\n    - action: Other\n    - action: ListKey\n",
    )
    .unwrap();
    std::fs::write(
        rules.join("untested.yml"),
        "title: No tests\nid: 5b1f6a52-1d5e-4a43-9a0e-2f6f4c1e0a02\nlevel: low\nlogsource:\n  product: azure\ndetection:\n  sel:\n    action: Delete\n  condition: sel\n",
    )
    .unwrap();
    let o = bin().args(["rules", "test"]).arg(&rules).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    assert!(
        out.contains("FAIL ListKey called (") && out.contains("): true negative #2 matches"),
        "{out}"
    );
    assert!(
        out.contains("rule tests: 2 passed, 1 failed, 1 skipped"),
        "{out}"
    );
    let o = bin()
        .args(["rules", "test", "--format", "ndjson"])
        .arg(&rules)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (&doc["passed"], &doc["failed"], &doc["skipped"]),
        (&json!(2), &json!(1), &json!(1)),
        "{doc}"
    );
    let failure = &doc["failures"][0];
    assert_eq!(failure["rule"], "ListKey called");
    assert!(
        failure["file"].as_str().unwrap().contains("tested.yml"),
        "{doc}"
    );
    assert_eq!(failure["message"], "true negative #2 matches");
    assert_eq!(doc["untested"][0]["rule"], "No tests");
    assert_eq!(doc["errors"], json!([]));
}

#[test]
fn rules_list_and_explain() {
    let o = bin().args(["rules", "list"]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("4021e78d-5293-48d3-adee-a70fa4c18fab"),
        "{out}"
    );
    let o = bin()
        .args(["rules", "explain", "4021e78d"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        out.contains("runs every 10m over now-1h, at most 100 alerts per execution"),
        "{out}"
    );
    assert!(out.contains("### Possible investigation steps"), "{out}");
    assert!(
        out.contains("| where count >= 100 or max_data_transferred >= 1000000"),
        "{out}"
    );
    let o = bin()
        .args(["rules", "explain", "no-such-rule"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn config_file_unknown_keys_are_errors() {
    let d = Dir::new("config");
    let cfg = d.write("modelward.toml", "[input]\nsource = \"auto\"\nsauce = 1\n");
    let logs = d.write("a.ndjson", burst("RG-A", 1));
    let o = hunt(&["--config", cfg.to_str().unwrap()], &[&logs]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("modelward.toml:3:1: unknown field `sauce`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn sigma_rules_with_a_pipeline_on_plain_json() {
    let d = Dir::new("sigma");
    let rule = d.write(
        "proc.yml",
        "title: Encoded PowerShell\nid: 3b7e1a2c-9d4f-4e5a-8b6c-7d8e9f0a1b2c\nlogsource:\n  category: process_creation\n  product: windows\ndetection:\n  sel:\n    CommandLine|windash|contains: ' -enc '\n    User|expand: '%admins%'\n  condition: sel\nfields: [CommandLine]\nlevel: high\n",
    );
    let pipeline = d.write(
        "ecs.yml",
        "name: ecs\nvars:\n  admins: ['adm_*', root]\ntransformations:\n  - type: field_name_mapping\n    mapping:\n      CommandLine: process.command_line\n      User: user.name\n    rule_conditions: [{type: logsource, product: windows}]\n  - type: value_placeholders\n",
    );
    let logs = d.write(
        "p.ndjson",
        [
            json!({"@timestamp": "2025-03-01T10:00:00Z", "process": {"command_line": "powershell /enc SQBFAFgA"}, "user": {"name": "adm_bob"}}),
            json!({"@timestamp": "2025-03-01T10:00:01Z", "process": {"command_line": "powershell /enc SQBFAFgA"}, "user": {"name": "alice"}}),
            json!({"@timestamp": "2025-03-01T10:00:02Z", "process": {"command_line": "notepad"}, "user": {"name": "root"}}),
        ]
        .iter()
        .map(|v| format!("{v}\n"))
        .collect::<String>(),
    );
    let o = hunt(
        &[
            "--no-builtin",
            "--rules",
            rule.to_str().unwrap(),
            "--pipeline",
            pipeline.to_str().unwrap(),
        ],
        &[&logs],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let a = alerts(&o);
    assert_eq!(a.len(), 1, "{err}");
    assert_eq!(a[0]["rule"]["type"], json!("sigma"));
    assert_eq!(
        a[0]["process.command_line"],
        json!("powershell /enc SQBFAFgA")
    );
    assert_eq!(a[0]["original_time"], json!("2025-03-01T10:00:00.000Z"));
    assert!(
        !err.contains("not mapped"),
        "the pipeline maps the log source: {err}"
    );
    // Without the pipeline the placeholder cannot be resolved: a clear load error.
    let o = hunt(
        &["--no-builtin", "--rules", rule.to_str().unwrap()],
        &[&logs],
    );
    assert!(stderr(&o).contains("proc.yml:9:"), "{}", stderr(&o));
}

#[test]
fn phishing_feeds_from_the_config_file_raise_alerts_by_origin() {
    let d = Dir::new("phishing");
    std::fs::create_dir_all(d.0.join("feeds")).unwrap();
    d.write(
        "feeds/openphish.txt",
        "https://login.contoso-verify.test/signin\n",
    );
    d.write("feeds/domains.txt", "# phishing domains\nbad-bank.test\n");
    let cfg = d.write(
        "modelward.toml",
        "[detectors]\nphishing_feeds = [\"feeds/openphish.txt\", \"feeds/domains.txt\"]\n",
    );
    let logs = d.write(
        "llm.ndjson",
        [
            json!({"@timestamp": "2026-11-22T10:00:00Z", "gen_ai": {
                "prompt": "How do I reset my password?",
                "completion": "Go to https://login.contoso-verify.test/signin/reset and sign in."}}),
            json!({"@timestamp": "2026-11-22T10:01:00Z", "gen_ai": {
                "prompt": "Write an email asking staff to log in at www.bad-bank.test today",
                "completion": "Sure."}}),
            json!({"@timestamp": "2026-11-22T10:02:00Z", "gen_ai": {
                "prompt": "Summarise https://learn.microsoft.com/azure",
                "completion": "It is documentation."}}),
        ]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect::<String>(),
    );
    let o = hunt(&["--config", cfg.to_str().unwrap()], &[&logs]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let found = alerts(&o);
    let ids = rule_ids(&found);
    assert_eq!(ids, ["MW-AI-0005", "MW-AI-0007"], "{found:#?}");
    let text = serde_json::to_string(&found).unwrap();
    assert!(
        text.contains("login[.]contoso-verify[.]test"),
        "URLs are defanged in evidence: {text}"
    );

    // A bad feed line is reported with its file and line and skipped; the rest is used.
    d.write("feeds/domains.txt", "not a domain at all\nbad-bank.test\n");
    let o = hunt(&["--config", cfg.to_str().unwrap()], &[&logs]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(
            "domains.txt:1: expected a URL or a domain, found `not a domain at all` (skipped)"
        ),
        "{}",
        stderr(&o)
    );
    assert_eq!(alerts(&o).len(), 2);
    // A feed that cannot be read stops the run before any input is read.
    std::fs::remove_file(d.0.join("feeds/domains.txt")).unwrap();
    let o = hunt(&["--config", cfg.to_str().unwrap()], &[&logs]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("domains.txt"), "{}", stderr(&o));
}

#[test]
fn gitleaks_rules_and_ip_lists_from_the_config_file() {
    let d = Dir::new("gitleaks");
    d.write(
        "gitleaks.toml",
        "title = \"contoso\"\n\n[[rules]]\nid = \"contoso-internal-token\"\ndescription = \"Contoso internal API token\"\nregex = '''\\b(ctso_[a-zA-Z0-9]{32})\\b'''\nsecretGroup = 1\nentropy = 3.0\nkeywords = [\"ctso_\"]\n\n[[rules]]\nid = \"broken\"\nregex = '''(unclosed'''\n",
    );
    d.write("drop.txt", "; DROP\n198.51.100.0/24 ; SBL000001\n");
    let cfg = d.write(
        "modelward.toml",
        "[detectors]\ngitleaks_config = \"gitleaks.toml\"\nsuspicious_ip_lists = [\"drop.txt\"]\n",
    );
    let rules = d.write(
        "completions.esql",
        "from logs-* | where gen_ai.completion like \"*token*\" | keep gen_ai.completion",
    );
    // Built at run time so no secret-shaped literal sits in the source.
    let token = ["ctso_", "Xq7LmP2vR9tK4wZ8", "bN3cF6hJ1sD5gY0a"].concat();
    let logs = d.write(
        "llm.ndjson",
        format!(
            "{}\n",
            json!({"@timestamp": "2026-11-22T10:00:00Z", "source": {"ip": "198.51.100.77"},
                "gen_ai": {"prompt": "what is the deploy token?",
                "completion": format!("The deploy token is {token}.")}})
        ),
    );
    let o = hunt(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--rules",
            rules.to_str().unwrap(),
        ],
        &[&logs],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("broken") && err.contains("gitleaks.toml"),
        "the bad rule is reported: {err}"
    );
    let found = alerts(&o);
    let ids = rule_ids(&found);
    assert_eq!(
        ids,
        ["MW-AI-0001", "MW-AI-0011", "completions"],
        "{found:#?}"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        !out.contains(&token) && !err.contains(&token),
        "the user rule's secret is masked everywhere: {out}"
    );
    assert!(out.contains("contoso-internal-token"), "{out}");
}

#[test]
fn behavioural_analyzers_are_listed_explained_configured_and_disabled() {
    let o = bin().args(["rules", "list"]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    for code in ["MW-AI-0012", "MW-AI-0013", "MW-AI-0014", "MW-AI-0015"] {
        assert!(out.contains(code), "{code}: {out}");
    }
    let o = bin()
        .args(["rules", "explain", "MW-AI-0012"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("AI.Azure_DOWDuplicateRequests"), "{out}");
    assert!(out.contains("## False positives"), "{out}");

    let d = Dir::new("behavior");
    let lines: String = (0..5)
        .map(|i| {
            let rec = json!({
                "modelward": {"log": "llm", "version": 1},
                "@timestamp": format!("2025-03-01T10:00:0{i}Z"),
                "client": {"ip": "203.0.113.7"},
                "principal": {"api_key_id": "key_7f3a"},
                "http": {"status": 200},
                "request": {"model": "gpt-4o", "messages": [{"role": "user", "content": "same again"}]},
                "response": {"choices": [{"message": {"content": "ok"}}]}
            });
            format!("{rec}\n")
        })
        .collect();
    let logs = d.write("llm.ndjson", lines);
    let cfg = d.write(
        "modelward.toml",
        "[behavior.recurring_requests]\nmin_count = 3\nwindow = \"1m\"\n",
    );
    let o = hunt(
        &["--format", "ndjson", "--config", cfg.to_str().unwrap()],
        &[&logs],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    let alerts: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let recurring: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["rule"]["id"] == json!("MW-AI-0012"))
        .collect();
    assert_eq!(recurring.len(), 1, "{out}\n{}", stderr(&o));
    assert_eq!(recurring[0]["evidence"]["identical_requests"], json!(5));
    assert_eq!(recurring[0]["entity"]["principal"], json!("key_7f3a"));

    let cfg = d.write(
        "off.toml",
        "[detectors]\ndisable = [\"MW-AI-0012\"]\n[behavior.recurring_requests]\nmin_count = 3\n",
    );
    let o = hunt(
        &["--format", "ndjson", "--config", cfg.to_str().unwrap()],
        &[&logs],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains("MW-AI-0012"), "{out}");

    let cfg = d.write(
        "bad.toml",
        "[behavior.recurring_requests]\nwindow = \"soon\"\n",
    );
    let o = hunt(&["--config", cfg.to_str().unwrap()], &[&logs]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.toml:2:"), "{}", stderr(&o));
}

#[test]
fn pow_solve_answers_a_gateway_challenge() {
    let pow = modelward_gateway::pow::ProofOfWork::with_secret([3; 32]);
    let now = 1_700_000_000_000;
    let challenge = pow.challenge("key-abc", 12, now);
    let out = bin().args(["pow", "solve", &challenge]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let solution = String::from_utf8(out.stdout).unwrap();
    assert_eq!(pow.check(solution.trim(), "key-abc", 12, now + 1), Ok(()));
    let bad = bin()
        .args(["pow", "solve", "not-a-challenge"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("not a modelward proof-of-work challenge"));
}

/// After every hunt a summary (by severity, rule, entity, source, time range; what was
/// suppressed, excepted and filtered); `--min-severity`, `--since`/`--until` and `--rule`
/// choose what is reported; `--report` writes a self-contained HTML page that headless
/// Chromium renders.
#[test]
fn hunt_summarises_filters_and_writes_a_report() {
    let d = Dir::new("triage");
    let logs = d.write("keys.ndjson", burst("RG-A", 100) + &burst("RG-B", 100));
    let report = d.0.join("hunt.html");
    let o = hunt(
        &["--format", "table", "--report", report.to_str().unwrap()],
        &[&logs],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.starts_with("SEVERITY  RULE"), "{table}");
    assert!(table.contains(SEED_RULE), "{table}");
    let err = stderr(&o);
    for line in [
        "modelward: alerts:     ",
        "modelward: rules:      4021e78d-5293-48d3-adee-a70fa4c18fab Potential Azure OpenAI Model Theft (2)",
        "modelward: entities:   ",
        "keys.ndjson (",
        "modelward: time range: 2025-03-14 ",
        "modelward: suppressed: ",
        "modelward: excepted:   0",
        "modelward: report written to ",
    ] {
        assert!(err.contains(line), "{line} in {err}");
    }
    let all = alerts(&hunt(&[], &[&logs]));
    let seed = all
        .iter()
        .filter(|a| a["rule"]["id"] == json!(SEED_RULE))
        .count();
    assert_eq!(seed, 2);

    // Filters.
    let o = hunt(&["--min-severity", "critical"], &[&logs]);
    assert_eq!(o.status.code(), Some(0), "nothing reported: exit 0");
    assert!(o.stdout.is_empty());
    assert!(
        stderr(&o).contains(&format!(
            "modelward: filtered:   {} (alerts left out by --min-severity critical)",
            all.len()
        )),
        "{}",
        stderr(&o)
    );
    let by_rule = alerts(&hunt(&["--rule", "*model THEFT*"], &[&logs]));
    assert_eq!(rule_ids(&by_rule), vec![SEED_RULE, SEED_RULE]);
    let by_id = alerts(&hunt(&["--rule", &SEED_RULE.to_uppercase()], &[&logs]));
    assert_eq!(by_id.len(), 2);
    assert!(alerts(&hunt(&["--since", "2025-03-15"], &[&logs])).is_empty());
    assert!(alerts(&hunt(&["--until", "2025-03-14T09:00:00Z"], &[&logs])).is_empty());
    assert_eq!(
        alerts(&hunt(
            &["--since", "2025-03-14", "--until", "2025-03-14 23:59:59"],
            &[&logs]
        ))
        .len(),
        all.len()
    );
    let o = hunt(&["--min-severity", "urgent"], &[&logs]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`urgent` is not a severity"),
        "{}",
        stderr(&o)
    );

    // The report.
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for banned in ["<script", "<link", "src=", "@import", "url("] {
        assert!(!html.contains(banned), "{banned}");
    }
    for part in [
        "id=\"timeline\"",
        "<svg",
        "id=\"top-rules\"",
        "id=\"top-entities\"",
        SEED_RULE,
    ] {
        assert!(html.contains(part), "{part}");
    }
    let Some(program) = chromium::find_chromium() else {
        return;
    };
    let dir = chromium::scratch_dir("hunt-report");
    let page = dir.join("hunt.html");
    std::fs::copy(&report, &page).unwrap();
    let url = format!("file://{}", page.display());
    let shot = chromium::screenshot(&program, &dir, &url);
    let (pixels, width, height) = chromium::decode_png(&shot);
    assert_eq!((width, height), (1280, 3600));
    let inked = pixels.iter().filter(|p| p.iter().any(|c| *c < 235)).count();
    assert!(inked * 100 > pixels.len(), "the page is blank");
    // The timeline's bars, in the medium colour (#f59e0b).
    let bars = pixels
        .iter()
        .filter(|p| {
            p.iter()
                .zip([0xf5, 0x9e, 0x0b])
                .all(|(a, b)| a.abs_diff(b) <= 6)
        })
        .count();
    assert!(bars >= 100, "the timeline's bars: {bars} pixels");
    let dom = chromium::dump_dom(&program, &dir, &url);
    assert!(dom.contains("Hunt summary") && dom.contains(SEED_RULE));
    chromium::remove_dir(&dir);
}

/// `--timestamp-field` (and `[input] timestamp_fields`): a correlation over logs whose time is
/// in `time` raises its alert; with only `@timestamp` read, the matches have no time.
#[test]
fn timestamp_fields_from_the_command_line_and_the_configuration() {
    let d = Dir::new("timestamp-field");
    let rules = d.write(
        "rules/spray.yml",
        "title: Login failed\nname: login_failed\nlogsource: {product: test}\nlevel: low\ndetection:\n  sel:\n    action: login_failed\n  condition: sel\n---\ntitle: Password spraying\ncorrelation:\n  type: event_count\n  rules: login_failed\n  group-by: [user]\n  timespan: 5m\n  condition: {gte: 3}\nlevel: high\n",
    );
    let lines: String = (0..3)
        .map(|i| {
            json!({"time": format!("2025-03-14T09:0{i}:00Z"), "action": "login_failed", "user": "mallory"})
                .to_string()
                + "\n"
        })
        .collect();
    let logs = d.write("logins.ndjson", lines);
    let rules_arg = ["--no-builtin", "--rules", rules.to_str().unwrap()];
    let o = hunt(&rules_arg, &[&logs]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("without a timestamp"), "{}", stderr(&o));
    let spraying = |o: &Output| {
        alerts(o)
            .iter()
            .filter(|a| a["rule"]["name"] == json!("Password spraying"))
            .count()
    };
    let mut args = rules_arg.to_vec();
    args.extend([
        "--timestamp-field",
        "eventTime",
        "--timestamp-field",
        "time",
    ]);
    let o = hunt(&args, &[&logs]);
    assert_eq!(spraying(&o), 1, "{}", stderr(&o));
    let config = d.write("modelward.toml", "[input]\ntimestamp_fields = [\"time\"]\n");
    let mut args = rules_arg.to_vec();
    args.extend(["--config", config.to_str().unwrap()]);
    assert_eq!(spraying(&hunt(&args, &[&logs])), 1);
}

#[test]
fn rules_list_takes_format_and_still_the_old_json_flag() {
    let run = |args: &[&str]| bin().arg("rules").arg("list").args(args).output().unwrap();
    let ndjson = run(&["--format", "ndjson"]);
    assert_eq!(ndjson.status.code(), Some(0), "{}", stderr(&ndjson));
    let lines: Vec<Value> = String::from_utf8_lossy(&ndjson.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().any(|r| r["id"] == SEED_RULE));
    let array: Value = serde_json::from_slice(&run(&["--format", "json"]).stdout).unwrap();
    assert_eq!(array.as_array().unwrap(), &lines);
    let old = run(&["--json"]);
    assert_eq!(old.stdout, ndjson.stdout);
    let warned = stderr(&old);
    assert_eq!(
        warned
            .matches("`--json` is deprecated; use `--format ndjson`")
            .count(),
        1,
        "{warned}"
    );
    assert!(!stderr(&ndjson).contains("deprecated"));
    assert!(String::from_utf8_lossy(
        &bin()
            .args(["rules", "list", "--help"])
            .output()
            .unwrap()
            .stdout
    )
    .contains("--format"));
}

#[test]
fn rules_explain_ids_and_names_in_any_case() {
    for id in ["4021E78D", "4021E78D-5293-48D3-ADEE-A70FA4C18FAB"] {
        let o = bin().args(["rules", "explain", id]).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{id}: {}", stderr(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains(SEED_RULE),
            "{id}"
        );
    }
    let name = bin()
        .args(["rules", "explain", "4021e78d"])
        .output()
        .unwrap();
    let name = String::from_utf8_lossy(&name.stdout)
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("# ")
        .to_uppercase();
    let o = bin().args(["rules", "explain", &name]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
}

#[test]
fn misspelt_config_keys_get_a_did_you_mean() {
    let d = Dir::new("config-did-you-mean");
    let logs = d.write("a.ndjson", burst("RG-A", 1));
    for (text, said) in [
        (
            "[input]\nsorce = \"auto\"\n",
            "modelward.toml:2:1: unknown field `sorce`, expected one of",
        ),
        ("[input]\nsorce = \"auto\"\n", "(did you mean `source`?)"),
        ("[hunt]\ntreads = 2\n", "(did you mean `threads`?)"),
    ] {
        let cfg = d.write("modelward.toml", text);
        let o = hunt(&["--config", cfg.to_str().unwrap()], &[&logs]);
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains(said), "{}", stderr(&o));
    }
    // Nothing close: no guess.
    let cfg = d.write("modelward.toml", "[input]\nzzzzzz = 1\n");
    let o = hunt(&["--config", cfg.to_str().unwrap()], &[&logs]);
    assert!(
        stderr(&o).contains("unknown field `zzzzzz`"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("did you mean"), "{}", stderr(&o));
}

#[test]
fn gateway_keys_list_json_is_one_array_and_ndjson_one_line_each() {
    let d = Dir::new("keys-formats");
    let db = d.path("keys.db");
    let cfg = d.write(
        "gw.toml",
        format!("[gateway]\ndatabase = {:?}\n", db.to_str().unwrap()),
    );
    let keys = |args: &[&str]| {
        bin()
            .arg("gateway")
            .arg("--config")
            .arg(&cfg)
            .arg("keys")
            .args(args)
            .output()
            .unwrap()
    };
    for principal in ["alice@example.com", "bob\u{202e}@example.com"] {
        let o = keys(&["create", "--principal", principal]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let ndjson = keys(&["list", "--format", "ndjson"]);
    let lines: Vec<Value> = String::from_utf8(ndjson.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let json = keys(&["list", "--format", "json"]);
    let text = String::from_utf8(json.stdout).unwrap();
    assert!(!text.contains('\u{202e}'), "escaped: {text}");
    let array: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(array.as_array().unwrap(), &lines);
    assert_eq!(array[1]["principal"], "bob\u{202e}@example.com");
}

#[test]
fn issuing_and_revoking_a_gateway_key_is_in_the_audit_log() {
    let d = Dir::new("keys-audit");
    let db = d.path("keys.db");
    let cfg = d.write(
        "gw.toml",
        format!("[gateway]\ndatabase = {:?}\n", db.to_str().unwrap()),
    );
    let keys = |args: &[&str]| {
        let o = bin()
            .arg("gateway")
            .arg("--config")
            .arg(&cfg)
            .arg("keys")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        o
    };
    let created = keys(&[
        "create",
        "--principal",
        "alice@example.com",
        "--by",
        "secops-oncall",
    ]);
    let key = String::from_utf8(created.stdout)
        .unwrap()
        .trim()
        .to_string();
    let listed = keys(&["list", "--format", "json"]);
    let list: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let id = list[0]["id"].as_str().unwrap().to_string();
    keys(&["revoke", &id, "--by", "secops-oncall"]);
    let audit = bin()
        .args(["incident", "audit", "--db"])
        .arg(&db)
        .args(["--format", "ndjson"])
        .output()
        .unwrap();
    assert_eq!(audit.status.code(), Some(0), "{}", stderr(&audit));
    let text = String::from_utf8(audit.stdout).unwrap();
    assert!(
        !text.contains(&key),
        "the key itself is never written: {text}"
    );
    let entries: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            ("gateway_key_create", "secops-oncall"),
            ("gateway_key_revoke", "secops-oncall")
        ]
    );
    // The key's id names the target (the audit output shortens identifiers that look like
    // keys, as it does everywhere).
    for e in &entries {
        let target = e["target"].as_str().unwrap();
        assert!(
            target == id || (target.starts_with(&id[..6]) && target.ends_with(&id[id.len() - 3..])),
            "{target} for {id}"
        );
    }
}
