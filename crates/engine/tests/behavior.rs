//! The behavioural analyzers end to end: modelward's own LLM request log in, through the
//! normalizer, the content detectors and the engine, behavioural alerts out.

mod common;

use std::collections::BTreeMap;

use modelward_behavior::{Behavior, Settings as BehaviorSettings};
use modelward_engine::RunStats;
use modelward_rule::Alert;
use serde_json::{json, Value};

const HOUR: i64 = 3_600_000;
/// 2025-03-01T00:00:00Z
const T0: i64 = 1_740_787_200_000;

/// One call as modelward's gateway logs it.
fn call(ts: i64, key: &str, ip: &str, ua: &str, prompt: &str, completion: &str) -> Value {
    let request = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": prompt}]});
    common::gateway_call(ts, key, ip, ua, request, completion, (120, 80))
}

/// Two quiet days for three keys, then an abused key and a harvesting one.
fn traffic() -> Vec<Value> {
    let mut lines = Vec::new();
    for h in 0..48 {
        for i in 0..30 {
            let ts = T0 + h * HOUR + i * (HOUR / 30);
            let n = h * 30 + i;
            lines.push(call(
                ts,
                "key-victim",
                &format!("10.20.30.{}", n % 50),
                "OpenAI/Python 1.51.0",
                &format!("Summarise ticket {n}"),
                "Done.",
            ));
            lines.push(call(
                ts + 1,
                "key-harvest",
                "10.9.8.7",
                "OpenAI/Python 1.51.0",
                &format!("Order status {n}?"),
                "It ships tomorrow.",
            ));
            // A steady user whose SDK gets a patch release on the second day.
            let ua = if h < 24 {
                "OpenAI/Python 1.51.0"
            } else {
                "OpenAI/Python 1.51.2"
            };
            lines.push(call(
                ts + 2,
                "key-steady",
                "10.1.1.5",
                ua,
                &format!("Translate line {n}"),
                "Voilà.",
            ));
        }
    }
    let t = T0 + 48 * HOUR;
    // The stolen key: one prompt replayed 600 times from a new client and network.
    for i in 0..600 {
        lines.push(call(
            t + i * 5_000,
            "key-victim",
            "198.51.100.23",
            "python-requests/2.31.0",
            "Write a 4,000-word essay on the history of every country.",
            "Once upon a time.",
        ));
    }
    // The harvesting key: card numbers in most responses within an hour.
    for i in 0..30 {
        let completion = if i % 3 == 0 {
            "No record.".to_string()
        } else {
            "The card on file is 4539 1488 0343 6467, expiring 09/27.".to_string()
        };
        lines.push(call(
            t + i * 60_000,
            "key-harvest",
            "10.9.8.7",
            "OpenAI/Python 1.51.0",
            &format!("Customer {i} payment details"),
            &completion,
        ));
    }
    lines
}

fn hunt(lines: &[Value], behavior: Behavior) -> (Vec<Alert>, RunStats) {
    common::hunt_lines("gateway.ndjson", lines, behavior)
}

fn behavioural(alerts: &[Alert]) -> BTreeMap<(String, String), Vec<Value>> {
    let mut by = BTreeMap::new();
    for a in alerts
        .iter()
        .filter(|a| a.rule.origin.starts_with("builtin:behavior/"))
    {
        let doc = a.to_json();
        by.entry((
            a.rule.id.clone(),
            doc["entity"]["principal"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        ))
        .or_insert_with(Vec::new)
        .push(doc);
    }
    by
}

#[test]
fn behavioural_alerts_from_a_gateway_log() {
    let lines = traffic();
    let (alerts, stats) = hunt(&lines, Behavior::new(&BehaviorSettings::default()).unwrap());
    assert_eq!(stats.behavior_calls, lines.len() as u64);
    assert_eq!(stats.behavior_evicted, 0);
    let by = behavioural(&alerts);
    let keys: Vec<(&str, &str)> = by
        .iter()
        .flat_map(|((c, p), v)| std::iter::repeat_n((c.as_str(), p.as_str()), v.len()))
        .collect();
    assert_eq!(
        keys,
        [
            ("MW-AI-0012", "key-victim"),
            ("MW-AI-0013", "key-victim"),
            ("MW-AI-0014", "key-victim"),
            ("MW-AI-0014", "key-victim"),
            ("MW-AI-0015", "key-harvest"),
        ],
        "{by:#?}"
    );
    let recurring = &by[&("MW-AI-0012".into(), "key-victim".into())][0];
    assert_eq!(recurring["evidence"]["identical_requests"], json!(600));
    assert_eq!(recurring["entity"]["source.ip"], json!("198.51.100.23"));
    assert_eq!(
        recurring["rule"]["tags"],
        json!([
            "Defender for Cloud: AI.Azure_DOWDuplicateRequests",
            "behavioural"
        ])
    );
    let volume = &by[&("MW-AI-0013".into(), "key-victim".into())][0];
    assert!(
        volume["message"]
            .as_str()
            .unwrap()
            .starts_with("600 calls in the 1h bucket"),
        "{volume:#}"
    );
    let access = &by[&("MW-AI-0014".into(), "key-victim".into())];
    let new: Vec<&Value> = access.iter().map(|a| &a["evidence"]["new_value"]).collect();
    assert_eq!(
        new,
        [&json!("python-requests/2"), &json!("198.51.100.0/24")]
    );
    let sensitive = &by[&("MW-AI-0015".into(), "key-harvest".into())][0];
    assert_eq!(
        sensitive["evidence"]["responses_with_sensitive_data"],
        json!(20)
    );
    assert_eq!(
        sensitive["evidence"]["samples"].as_array().unwrap().len(),
        3
    );

    // The same input gives the same ids.
    let (again, _) = hunt(&lines, Behavior::new(&BehaviorSettings::default()).unwrap());
    let ids = |a: &[Alert]| a.iter().map(|a| a.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&alerts), ids(&again));

    let mut doc = volume.clone();
    doc["rule"]["investigation_guide"] = json!("(elided)");
    insta::assert_json_snapshot!(doc);
}

#[test]
fn disabled_analyzers_and_bounded_state() {
    let lines = traffic();
    let settings = BehaviorSettings {
        disabled: vec!["MW-AI-0012".into(), "MW-AI-0015".into()],
        max_principals: 1,
        ..BehaviorSettings::default()
    };
    let (alerts, stats) = hunt(&lines, Behavior::new(&settings).unwrap());
    let by = behavioural(&alerts);
    assert!(
        by.keys()
            .all(|(code, _)| code == "MW-AI-0013" || code == "MW-AI-0014"),
        "{by:#?}"
    );
    // One profile per analyzer: every change of principal evicts.
    assert!(stats.behavior_evicted > 1000, "{stats:?}");
    let (none, stats) = hunt(&lines, Behavior::none());
    assert!(behavioural(&none).is_empty());
    assert_eq!(stats.behavior_calls, 0);
}

#[test]
fn behaviour_codes_do_not_collide_with_detector_codes() {
    for c in modelward_behavior::CODES {
        assert!(
            modelward_detectors::CODES.iter().all(|d| d.code != c.code),
            "{}",
            c.code
        );
    }
}

/// Issue 14, item 4: the application keys of a `gen-azure-logs` corpus (API Management
/// subscriptions whose users' messages share stock sentences, each call with one of six
/// system prompts and its own temperature and `max_tokens`) raised PRADA and near-duplicate
/// flood alerts: their queries were compared across features. Compared within their context,
/// they raise no theft alert.
#[test]
fn generated_azure_application_keys_raise_no_theft_alert() {
    let spec = modelward_corpus::CorpusSpec {
        events: 30_000,
        span_ms: 6 * 3_600_000,
        ..modelward_corpus::CorpusSpec::default()
    };
    let mut bytes = Vec::new();
    modelward_corpus::generate(&spec, &mut bytes).unwrap();
    let lines: Vec<Value> = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    let (alerts, stats) = hunt(&lines, Behavior::new(&BehaviorSettings::default()).unwrap());
    assert!(stats.events > 20_000, "{stats:?}");
    let theft: Vec<String> = alerts
        .iter()
        .filter(|a| a.rule.id.starts_with("MW-TH"))
        .map(|a| format!("{} {}", a.rule.id, a.to_json()["message"]))
        .collect();
    assert!(theft.is_empty(), "{theft:#?}");
}
