//! `[[exceptions]]` in the configuration file, end to end: a key-rotation automation (the
//! documented false positive of the key-listing rules) excluded without editing a rule,
//! counted in the summary; expired exceptions, misspelt rules and bad entries reported.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

mod common;
use common::Dir;

const SEED_RULE: &str = "Potential Azure OpenAI Model Theft";
const BURST: &str = "Burst of Azure OpenAI key listings";

/// 120 ListKey calls on the account of `group` by `object_id` within 40 minutes.
fn listkeys(group: &str, object_id: &str) -> String {
    (0..120)
        .map(|i| {
            json!({
                "category": "Audit",
                "operationName": "ListKey",
                "properties": {"objectId": object_id},
                "resourceId": format!("/SUBSCRIPTIONS/5F0C3E7A-2B9D-4C61-9A8E-1D2F3B4C5A6E/RESOURCEGROUPS/{group}/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/OAI"),
                "time": format!("2025-03-14T09:{:02}:{:02}.1234567Z", 10 + i / 3, (i % 3) * 20),
            })
            .to_string()
                + "\n"
        })
        .collect()
}

fn logs(dir: &Dir) -> PathBuf {
    dir.write(
        "audit.ndjson",
        listkeys("RG-AUTO", "automation-sp-7") + &listkeys("RG-EVIL", "0c8d3f1e-mallory"),
    )
}

fn hunt(config: &Path, logs: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modelward"))
        .args(["hunt", "--format", "ndjson", "--config"])
        .arg(config)
        .arg(logs)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// (rule name, resource group) of every alert, sorted.
fn alerts(o: &Output) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let a: Value = serde_json::from_str(l).unwrap();
            let resource = a["entity"]["resource"].as_str().unwrap_or("").to_string();
            (a["rule"]["name"].as_str().unwrap().to_string(), resource)
        })
        .collect();
    out.sort();
    out
}

fn pair(rule: &str, group: &str) -> (String, String) {
    (rule.to_string(), format!("{group}/oai"))
}

#[test]
fn an_allow_listed_automation_raises_nothing_and_is_counted() {
    let dir = Dir::new("exc-allow");
    let logs = logs(&dir);
    let config = dir.write(
        "mw.toml",
        r#"
[[exceptions]]
name = "key rotation automation"
principals = ["automation-sp-*"]
reason = "rotates the account keys nightly, CHG-2231"
expires = "2999-01-01T00:00:00Z"
"#,
    );
    let o = hunt(&config, &logs);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        alerts(&o),
        vec![pair(BURST, "rg-evil"), pair(SEED_RULE, "rg-evil")],
        "{}",
        stderr(&o)
    );
    // Its 120 events counted by neither the ES|QL rule nor the Sigma correlation: no alert
    // to leave out, 240 events kept out.
    let e = stderr(&o);
    assert!(
        e.contains(
            "240 events kept out of correlations and aggregations by exceptions (key rotation automation: 240)"
        ),
        "{e}"
    );
    assert!(!e.contains("warning"), "{e}");

    // For one rule only: the other still alerts on it.
    let config = dir.write(
        "mw.toml",
        format!("[[exceptions]]\nname = \"rotation\"\nrules = [\"{BURST}\"]\nprincipals = [\"automation-sp-*\"]\n"),
    );
    let o = hunt(&config, &logs);
    assert_eq!(
        alerts(&o),
        vec![
            pair(BURST, "rg-evil"),
            pair(SEED_RULE, "rg-auto"),
            pair(SEED_RULE, "rg-evil")
        ],
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("(rotation: 120)"), "{}", stderr(&o));

    // Everything excluded: no alerts, exit code 0.
    let config = dir.write(
        "mw.toml",
        "[[exceptions]]\nname = \"audit account\"\nwindows = [{ start = \"2025-03-14T09:00:00Z\", end = \"2025-03-14T10:00:00Z\" }]\n",
    );
    let o = hunt(&config, &logs);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(alerts(&o).is_empty());
}

#[test]
fn alerts_on_single_events_are_counted_as_alerts_excluded() {
    let dir = Dir::new("exc-single");
    // The offensive-tool user agent detector and Sigma rule alert on every call.
    let calls: String = (0..3)
        .map(|i| {
            json!({"@timestamp": format!("2025-03-14T09:0{i}:00Z"), "user_agent": {"original": "sqlmap/1.8.2#stable"},
                   "gen_ai": {"prompt": "hello"}, "user": {"id": "red-team"}})
            .to_string()
                + "\n"
        })
        .collect();
    let logs = dir.write("calls.ndjson", calls);
    let config = dir.write(
        "mw.toml",
        "[[exceptions]]\nname = \"pentest\"\nuser_agents = [\"SQLMAP/*\"]\nips = [\"10.0.0.0/8\"]\n[[exceptions]]\nname = \"red team\"\nprincipals = [\"red-team\"]\nwindows = [{ days = [\"fri\"], from = \"08:00\", to = \"18:00\" }]\n",
    );
    let o = hunt(&config, &logs);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{e}");
    // 2025-03-14 is a Friday; the calls have no address, so "pentest" does not hold.
    assert!(
        e.contains("alerts excluded by exceptions (red team: "),
        "{e}"
    );
    assert!(!e.contains("pentest:"), "{e}");
}

#[test]
fn expired_exceptions_and_misspelt_rules_are_reported() {
    let dir = Dir::new("exc-expired");
    let logs = logs(&dir);
    let config = dir.write(
        "mw.toml",
        r#"
[[exceptions]]
name = "old rotation"
principals = ["automation-sp-*"]
expires = "2020-01-01T00:00:00Z"

[[exceptions]]
name = "typo"
rules = ["Burst of Azure OpenAI key listing"]
principals = ["x"]
"#,
    );
    let o = hunt(&config, &logs);
    let e = stderr(&o);
    assert_eq!(alerts(&o).len(), 4, "{e}");
    assert!(
        e.contains(
            "exception \"old rotation\" expired at 2020-01-01T00:00:00.000Z and was not applied"
        ),
        "{e}"
    );
    assert!(
        e.contains("warning: exception \"typo\": no rule loaded has the id, name or code \"Burst of Azure OpenAI key listing\""),
        "{e}"
    );
}

#[test]
fn bad_exceptions_stop_the_run_with_the_file_and_key() {
    let dir = Dir::new("exc-bad");
    let logs = logs(&dir);
    for (text, what) in [
        (
            "name = \"everything\"\n",
            "mw.toml: exceptions[0] (\"everything\"): no criteria",
        ),
        ("name = \"x\"\nips = [\"10.0.0.0/40\"]\n", "mw.toml:3:"),
        (
            "name = \"x\"\nwindows = [{ from = \"22:00\" }]\n",
            "exceptions[0] (\"x\"): windows[0]: expected",
        ),
    ] {
        let config = dir.write("mw.toml", format!("[[exceptions]]\n{text}"));
        let o = hunt(&config, &logs);
        assert_eq!(o.status.code(), Some(2), "{text}");
        assert!(stderr(&o).contains(what), "{text}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
}
