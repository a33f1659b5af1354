//! Baselines saved by an earlier version still load (`hunt --state` keeps them in SQLite, one
//! JSON profile per analyzer and principal).
//!
//! `fixtures/saved_profiles.json` was written by the code of commit d3f9e16 (before the volume,
//! sensitive-data and bulk-download analyzers shared one bucketed-baseline window): the
//! state after [`first_part`], and the findings of resuming from it with [`second_part`].
//! Resuming from that file must restore every profile and raise the same findings, with the
//! same baselines, as that code did. The fixture is the old format: do not re-write it when
//! a profile's shape changes; write a migration that reads it.
//!
//! `MODELWARD_WRITE_PROFILE_FIXTURE=1 cargo test -p modelward-behavior --test saved_profiles`
//! wrote it.

use modelward_behavior::{Behavior, Call, Finding, Params, SavedProfile, SavedState, Settings};
use serde_json::{json, Value};

const HOUR: i64 = 3_600_000;
const MINUTE: i64 = 60_000;
/// 2025-03-01T00:00:00Z.
const T0: i64 = 1_740_787_200_000;
/// Where the first part ends and the second begins: hour 30 and 20 minutes.
const SPLIT: i64 = T0 + 30 * HOUR + 20 * MINUTE;
const MB: u64 = 1_000_000;

fn fixture_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/saved_profiles.json")
}

/// `n` calls spread evenly over `[from, to)`.
fn spread(n: u64, from: i64, to: i64) -> impl Iterator<Item = i64> {
    (0..n).map(move |i| from + (i as i64 * (to - from)) / n as i64)
}

/// A call of the volume analyzer's principal.
fn volume(ts: i64, ip: &str) -> Call {
    Call::test("vol", ts)
        .with_tokens(300, 200)
        .with_model("gpt-4o")
        .with_ip(ip)
}

/// An object read by the bulk-download analyzer's principal.
fn object_read(ts: i64, key: &str, bytes: u64) -> Call {
    Call::test("etl", ts)
        .with_ip("10.0.0.3")
        .with_storage("read", "acme-training-data", key, bytes)
}

fn probe(principal: &str, ts: i64, i: u32) -> Call {
    let bias: Vec<(u32, f32)> = (0..8).map(|k| (1000 + i * 8 + k, 100.0)).collect();
    Call::test(principal, ts).with_params(Params {
        max_tokens: Some(1),
        logprobs: true,
        top_logprobs: Some(5),
        bias_entries: 8,
        bias_max: 100.0,
        bias: bias.into(),
        ..Params::default()
    })
}

fn timing(principal: &str, ts: i64) -> Call {
    Call::test(principal, ts)
        .with_prompt("Repeat the word 'cache' exactly once.")
        .with_params(Params {
            max_tokens: Some(1),
            temperature: Some(0.0),
            ..Params::default()
        })
        .with_latency(120.0)
}

/// Thirty hours of every analyzer's traffic, and the first twenty minutes of hour 30, where
/// some buckets are open (one has already crossed its baseline).
fn first_part() -> Vec<Call> {
    let mut calls = Vec::new();
    let h = |n: i64| T0 + n * HOUR;
    for hour in 0..30 {
        // Volume anomaly: 20 to 40 calls an hour.
        let n = 20 + (hour as u64 * 7) % 21;
        for ts in spread(n, h(hour), h(hour + 1)) {
            calls.push(volume(ts, "10.0.0.1"));
        }
        // Sensitive-data anomaly: 40 calls an hour, one in a thousand with sensitive data.
        for (i, ts) in spread(40, h(hour), h(hour + 1)).enumerate() {
            let c = Call::test("sens", ts).with_ip("10.0.0.2");
            let k = hour * 40 + i as i64;
            calls.push(if k % 1000 == 7 {
                c.with_sensitive(1)
            } else {
                c
            });
        }
        // Bulk download: 10 to 14 objects of 12 MB an hour.
        for (i, ts) in spread(10 + hour as u64 % 5, h(hour), h(hour + 1)).enumerate() {
            calls.push(object_read(
                ts,
                &format!("shards/{hour}/{i}.parquet"),
                12 * MB,
            ));
        }
        // Access anomaly: one client, network and auth method.
        calls.push(
            Call::test("acc", h(hour) + 5 * MINUTE)
                .with_user_agent("OpenAI/Python 1.12.0")
                .with_ip(&format!("10.20.30.{}", hour % 200))
                .with_auth("key"),
        );
        // Weights download: a serving role loading its model.
        calls.push(Call::test("serving", h(hour) + 7 * MINUTE).with_storage(
            "read",
            "acme-models",
            "llama/model.safetensors",
            5_000 * MB,
        ));
        // Prompts for the text analyzers (distillation, PRADA, flood, side channel).
        for (i, ts) in spread(2, h(hour), h(hour + 1)).enumerate() {
            calls.push(
                Call::test("chat", ts)
                    .with_prompt(&format!(
                        "Question {i} of hour {hour}: how do I configure the nightly backup of volume {}?",
                        hour * 2 + i as i64
                    ))
                    .with_tokens(40, 300),
            );
        }
    }
    let open = h(30);
    // The volume burst has begun: 400 calls in twenty minutes (crossed, samples kept).
    for ts in spread(400, open, SPLIT) {
        calls.push(volume(ts, "10.0.0.9"));
    }
    // Sensitive data: an open bucket, not yet crossed.
    for (i, ts) in spread(10, open, SPLIT).enumerate() {
        let c = Call::test("sens", ts).with_ip("10.0.0.2");
        calls.push(if i % 5 == 0 { c.with_sensitive(1) } else { c });
    }
    // Bulk download: 1,500 objects already (crossed on objects).
    for (i, ts) in spread(1500, open, SPLIT).enumerate() {
        calls.push(object_read(ts, &format!("export/{i}.parquet"), 1_200_000));
    }
    // Recurring requests: 30 of a burst's 50 within ten minutes.
    for i in 0..30 {
        calls.push(
            Call::test("rep", open + 15 * MINUTE + i * 10_000).with_prompt("What is my balance?"),
        );
    }
    // Logit sweep: 60 probes of 8 new token ids each.
    for (i, ts) in spread(60, open, SPLIT).enumerate() {
        calls.push(probe("sweep", ts, i as u32));
    }
    // Timing probes: 12 of 20.
    for ts in spread(12, open, SPLIT) {
        calls.push(timing("timer", ts));
    }
    calls.sort_by_key(|c| c.ts);
    calls
}

/// The rest of hour 30 and hour 31: the open buckets and bursts go on and cross.
fn second_part() -> Vec<Call> {
    let mut calls = Vec::new();
    let end = T0 + 31 * HOUR;
    for ts in spread(2000, SPLIT + 1, end) {
        calls.push(volume(ts, "10.0.0.9"));
    }
    for (i, ts) in spread(50, SPLIT + 1, end).enumerate() {
        let c = Call::test("sens", ts).with_ip("10.0.0.2");
        calls.push(if i % 4 != 0 { c.with_sensitive(2) } else { c });
    }
    for (i, ts) in spread(2700, SPLIT + 1, end).enumerate() {
        calls.push(object_read(ts, &format!("export/b{i}.parquet"), 1_200_000));
    }
    for i in 0..30 {
        calls.push(Call::test("rep", SPLIT + 1 + i * 10_000).with_prompt("What is my balance?"));
    }
    for (i, ts) in spread(60, SPLIT + 1, SPLIT + 20 * MINUTE).enumerate() {
        calls.push(probe("sweep", ts, 60 + i as u32));
    }
    for ts in spread(12, SPLIT + 1, SPLIT + 20 * MINUTE) {
        calls.push(timing("timer", ts));
    }
    for i in 0..5 {
        calls.push(
            Call::test("acc", SPLIT + 1 + i * 1000)
                .with_user_agent("python-requests/2.31.0")
                .with_ip("198.51.100.23")
                .with_auth("entra_id"),
        );
    }
    // The next hour closes the open buckets.
    for who in ["vol", "sens"] {
        calls.push(Call::test(who, end + MINUTE));
    }
    calls.push(Call::test("etl", end + MINUTE).with_storage("read", "acme-training-data", "x", MB));
    calls.sort_by_key(|c| c.ts);
    calls
}

fn state_to_json(state: &SavedState) -> Value {
    let analyzers: serde_json::Map<String, Value> = state
        .analyzers
        .iter()
        .map(|(code, (profiles, watermark))| {
            let profiles: Vec<Value> = profiles
                .iter()
                .map(|p| json!({"principal": p.principal, "last_seen": p.last_seen, "profile": p.profile}))
                .collect();
            (code.clone(), json!({"watermark": watermark, "profiles": profiles}))
        })
        .collect();
    Value::Object(analyzers)
}

fn state_from_json(v: &Value) -> SavedState {
    let mut state = SavedState::default();
    for (code, a) in v.as_object().expect("analyzers") {
        let profiles = a["profiles"]
            .as_array()
            .expect("profiles")
            .iter()
            .map(|p| SavedProfile {
                principal: p["principal"].as_str().expect("principal").to_string(),
                profile: p["profile"].clone(),
                last_seen: p["last_seen"].as_i64().expect("last_seen"),
            })
            .collect();
        let watermark = a["watermark"].as_i64().expect("watermark");
        state.analyzers.insert(code.clone(), (profiles, watermark));
    }
    state
}

fn findings_to_json(findings: &[Finding]) -> Value {
    findings
        .iter()
        .map(|f| {
            json!({
                "code": f.code,
                "principal": f.principal,
                "timestamp": f.timestamp,
                "key": f.key,
                "summary": f.summary,
                "first_seen": f.first_seen,
                "last_seen": f.last_seen,
                "evidence": f.evidence,
                "samples": f.samples,
                "source_ip": f.source_ip,
                "model": f.model,
            })
        })
        .collect()
}

fn write_fixture(behavior: &Behavior) {
    let (_, state) = behavior.analyze_resumed(first_part(), None);
    let (resumed, _) = behavior.analyze_resumed(second_part(), Some(state.clone()));
    // One profile, one finding a line.
    let line = |v: &Value| serde_json::to_string(v).unwrap();
    let mut text = String::from("{\n  \"analyzers\": {\n");
    let analyzers = state_to_json(&state);
    let analyzers = analyzers.as_object().unwrap();
    for (n, (code, a)) in analyzers.iter().enumerate() {
        text += &format!(
            "    {}: {{\"watermark\": {}, \"profiles\": [\n",
            line(&json!(code)),
            a["watermark"]
        );
        let profiles = a["profiles"].as_array().unwrap();
        for (i, p) in profiles.iter().enumerate() {
            let comma = if i + 1 < profiles.len() { "," } else { "" };
            text += &format!("      {}{comma}\n", line(p));
        }
        let comma = if n + 1 < analyzers.len() { "," } else { "" };
        text += &format!("    ]}}{comma}\n");
    }
    text += "  },\n  \"resumed_findings\": [\n";
    let findings = findings_to_json(&resumed.findings);
    let findings = findings.as_array().unwrap();
    for (i, f) in findings.iter().enumerate() {
        let comma = if i + 1 < findings.len() { "," } else { "" };
        text += &format!("    {}{comma}\n", line(f));
    }
    text += "  ]\n}\n";
    let path = fixture_path();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
}

#[test]
fn profiles_saved_by_an_earlier_version_load_with_their_baselines() {
    let behavior = Behavior::new(&Settings::default()).unwrap();
    if std::env::var_os("MODELWARD_WRITE_PROFILE_FIXTURE").is_some() {
        write_fixture(&behavior);
    }
    let text = std::fs::read_to_string(fixture_path()).unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    let state = state_from_json(&fixture["analyzers"]);
    // Each of these analyzers saved profiles, and raises findings once resumed.
    let codes = [
        "MW-AI-0012",
        "MW-AI-0013",
        "MW-AI-0014",
        "MW-AI-0015",
        "MW-TH-0008",
    ];
    for code in codes {
        assert!(!state.analyzers[code].0.is_empty(), "{code} saved nothing");
    }
    let (resumed, _) = behavior.analyze_resumed(second_part(), Some(state.clone()));
    assert_eq!(resumed.not_restored, 0);
    let raised: Vec<&str> = resumed.findings.iter().map(|f| f.code).collect();
    for code in codes {
        assert!(raised.contains(&code), "{code} raised nothing: {raised:?}");
    }
    // The same findings, alert ids and baselines as the code that saved them.
    let found = findings_to_json(&resumed.findings);
    let expected = &fixture["resumed_findings"];
    assert_eq!(
        found.as_array().map(Vec::len),
        expected.as_array().map(Vec::len)
    );
    for (f, e) in found
        .as_array()
        .unwrap()
        .iter()
        .zip(expected.as_array().unwrap())
    {
        assert!(holds(f, e), "found {f:#}\nexpected {e:#}");
    }
    // Nothing lost: saved again at once, every profile holds what was read.
    let (_, again) = behavior.analyze_resumed(Vec::new(), Some(state.clone()));
    let again = state_to_json(&again);
    for (code, a) in fixture["analyzers"].as_object().unwrap() {
        assert!(holds(&again[code], a), "{code}: {:#}", again[code]);
    }
}

/// Whether `found` holds everything `expected` has: the same values, objects with the same
/// keys or more (fields added since the fixture was written, such as a sample's offset),
/// arrays of plain values in any order (some profiles keep hash sets, written in no fixed
/// order).
fn holds(found: &Value, expected: &Value) -> bool {
    match (found, expected) {
        (Value::Object(f), Value::Object(e)) => {
            e.iter().all(|(k, v)| f.get(k).is_some_and(|x| holds(x, v)))
        }
        (Value::Array(f), Value::Array(e)) => {
            if f.len() != e.len() {
                return false;
            }
            let plain = |a: &[Value]| a.iter().all(|i| !i.is_array() && !i.is_object());
            if plain(f) && plain(e) {
                let sorted = |a: &[Value]| {
                    let mut v: Vec<String> = a.iter().map(Value::to_string).collect();
                    v.sort();
                    v
                };
                sorted(f) == sorted(e)
            } else {
                f.iter().zip(e).all(|(x, y)| holds(x, y))
            }
        }
        _ => found == expected,
    }
}
