//! `hunt --state`: the behavioural baselines carry over from one run to the next through
//! the SQLite store, and a log read twice is not counted twice.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

/// Modelward LLM log lines: `n` identical requests of one key, a second apart from `start`.
fn calls(start: u64, n: u64) -> String {
    (start..start + n)
        .map(|i| {
            json!({
                "modelward": {"log": "llm", "version": 1},
                "@timestamp": format!("2025-03-03T10:{:02}:{:02}.000Z", i / 60, i % 60),
                "duration_ms": 420,
                "client": {"ip": "203.0.113.7"},
                "principal": {"api_key_id": "key_7f3a", "auth": "api_key"},
                "http": {"method": "POST", "path": "/v1/chat/completions", "status": 200,
                          "request_headers": {"user-agent": "OpenAI/Python 1.51.0"}},
                "request": {"model": "gpt-4o", "messages": [{"role": "user", "content": "What is my balance?"}]},
                "response": {"model": "gpt-4o", "choices": [{"index": 0, "message": {"role": "assistant", "content": "I cannot see your account."}}],
                              "usage": {"prompt_tokens": 6, "completion_tokens": 7}}
            })
            .to_string()
                + "\n"
        })
        .collect()
}

fn hunt(log: &Path, db: &Path) -> (Vec<Value>, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_modelward"))
        .args(["hunt", "--format", "ndjson", "--state"])
        .arg(db)
        .arg(log)
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    let alerts = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (alerts, String::from_utf8(out.stderr).unwrap())
}

fn ids(alerts: &[Value]) -> Vec<String> {
    alerts
        .iter()
        .map(|a| a["rule"]["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn baselines_carry_over_between_runs() {
    let dir: PathBuf = std::env::temp_dir().join(format!("mw-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (first, second) = (dir.join("first.ndjson"), dir.join("second.ndjson"));
    std::fs::write(&first, calls(0, 30)).unwrap();
    std::fs::write(&second, calls(30, 30)).unwrap();
    let db = dir.join("state.db");
    // 30 identical requests: below the recurring-requests threshold (50).
    let (alerts, _) = hunt(&first, &db);
    assert!(alerts.is_empty(), "{alerts:?}");
    // 30 more: 60 within ten minutes across the two runs.
    let (alerts, _) = hunt(&second, &db);
    assert_eq!(ids(&alerts), vec!["MW-AI-0012"]);
    assert!(
        alerts[0]["message"].as_str().unwrap().contains("60"),
        "{}",
        alerts[0]["message"]
    );
    // The same file again: nothing is counted twice (the open burst is the same alert).
    let (again, stderr) = hunt(&second, &db);
    assert_eq!(ids(&again), ids(&alerts));
    assert_eq!(again[0]["alert"]["id"], alerts[0]["alert"]["id"]);
    assert_eq!(again[0]["message"], alerts[0]["message"]);
    assert!(
        stderr.contains("calls already in the saved baselines"),
        "{stderr}"
    );
    // Without the state, the second file alone raises nothing.
    let (alone, _) = hunt(&second, &dir.join("fresh.db"));
    assert!(alone.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
