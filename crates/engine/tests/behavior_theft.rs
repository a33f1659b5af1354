//! The theft analyzers (MW-TH-…) end to end: modelward's own LLM request log in, through the
//! normalizer and the engine, theft alerts out — and the benign profiles quiet.

mod common;

use modelward_behavior::{Behavior, Settings as BehaviorSettings};
use modelward_rule::Alert;
use serde_json::{json, Map, Value};

const HOUR: i64 = 3_600_000;
/// 2025-03-01T00:00:00Z
const T0: i64 = 1_740_787_200_000;

/// One call as modelward's gateway logs it; `params` go into the request body.
#[allow(clippy::too_many_arguments)]
fn call(
    ts: i64,
    key: &str,
    ip: &str,
    ua: &str,
    messages: Value,
    params: Value,
    tokens: (u64, u64),
    ms: u64,
) -> Value {
    let mut request = Map::new();
    request.insert("model".into(), json!("gpt-4o"));
    request.insert("messages".into(), messages);
    if let Value::Object(p) = params {
        request.extend(p);
    }
    let mut line = common::gateway_call(ts, key, ip, ua, Value::Object(request), "ok", tokens);
    line["duration_ms"] = json!(ms);
    line
}

fn user(text: &str) -> Value {
    json!([{"role": "user", "content": text}])
}

/// Pseudo-random words: free text that differs from item to item.
fn words(seed: u64, n: usize) -> String {
    const VOCAB: [&str; 32] = [
        "account",
        "billing",
        "browser",
        "card",
        "checkout",
        "crash",
        "customer",
        "delivery",
        "device",
        "email",
        "error",
        "export",
        "invoice",
        "laptop",
        "login",
        "mobile",
        "network",
        "order",
        "password",
        "payment",
        "printer",
        "profile",
        "refund",
        "report",
        "reset",
        "server",
        "shipment",
        "slow",
        "subscription",
        "timeout",
        "upgrade",
        "vpn",
    ];
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            VOCAB[(x % 32) as usize]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

const SDK: &str = "OpenAI/Python 1.51.0";

/// Two days of benign traffic, then the attacks.
fn traffic() -> Vec<Value> {
    let mut lines = Vec::new();
    for h in 0..48 {
        // A heavy batch job: one template, each ticket its own text.
        for i in 0..200 {
            let n = h * 200 + i;
            let text = format!(
                "Summarise ticket #{}: {}",
                50_000 + n,
                words(n as u64, 14 + (n % 9) as usize)
            );
            lines.push(call(
                T0 + h * HOUR + i * 18_000,
                "key-batch",
                "10.0.0.5",
                SDK,
                user(&text),
                json!({"max_tokens": 120}),
                (450, 60),
                900,
            ));
        }
        // Three chat users in conversations.
        for u in 0..3 {
            for i in 0..10 {
                let topic = words((h * 100 + u * 10 + i / 5) as u64, 3);
                let mut messages = Vec::new();
                for t in 0..(i % 5) {
                    messages.push(json!({"role": "user", "content": format!("earlier question {t} about {topic}")}));
                    messages.push(json!({"role": "assistant", "content": "earlier answer"}));
                }
                messages.push(json!({"role": "user", "content": format!("Could you help me with {topic}, part {i}?")}));
                lines.push(call(
                    T0 + h * HOUR + i * 300_000 + u,
                    &format!("user-{u}"),
                    &format!("10.1.{u}.9"),
                    SDK,
                    Value::Array(messages),
                    json!({"temperature": 0.7}),
                    (300, 250),
                    1500,
                ));
            }
        }
    }
    // A nightly evaluation: the same 500 prompts, temperature 0, one token, top 5 logprobs.
    for night in 0..2 {
        for q in 0..500 {
            let text = format!(
                "Question {q}: which option best completes: {}?",
                words(900_000 + q, 10)
            );
            lines.push(call(
                T0 + night * 24 * HOUR + 2 * HOUR + q as i64 * 3_000,
                "key-eval",
                "10.0.0.6",
                SDK,
                user(&text),
                json!({"max_tokens": 1, "temperature": 0, "logprobs": true, "top_logprobs": 5}),
                (200, 1),
                300,
            ));
        }
    }
    let t = T0 + 48 * HOUR;
    // A logit sweep: +100 on eight new token ids per call.
    for i in 0..150u32 {
        let bias: Map<String, Value> = (0..8)
            .map(|k| ((i * 8 + k) * 13 % 100_000).to_string())
            .map(|id| (id, json!(100)))
            .collect();
        lines.push(call(
            t + i as i64 * 1_000,
            "key-sweep",
            "198.51.100.23",
            "python-requests/2.31.0",
            user("Say nothing."),
            json!({"max_tokens": 1, "logprobs": true, "top_logprobs": 20, "logit_bias": bias}),
            (5, 1),
            120,
        ));
    }
    // The same sweep split over five trial keys in one /24.
    for i in 0..150u32 {
        let bias: Map<String, Value> = (0..8)
            .map(|k| (200_000 + i * 8 + k).to_string())
            .map(|id| (id, json!(100)))
            .collect();
        let k = i % 5;
        lines.push(call(
            t + i as i64 * 7_000,
            &format!("trial-{k}"),
            &format!("203.0.113.{}", 20 + k),
            "curl/8.5.0",
            user(&format!("Token probe {i}")),
            json!({"max_tokens": 1, "logprobs": true, "top_logprobs": 20, "logit_bias": bias}),
            (5, 1),
            120,
        ));
    }
    // Prefix probes: one long document, different endings, timed.
    let doc = "Internal handbook, chapter on incident response and escalation. ".repeat(30);
    for i in 0..40 {
        lines.push(call(
            t + i * 20_000,
            "key-cache",
            "2001:db8:1::44",
            SDK,
            user(&format!("{doc} Probe {i:03}: yes?")),
            json!({"max_tokens": 1, "temperature": 0}),
            (900, 1),
            if i % 3 == 0 { 80 } else { 450 },
        ));
    }
    // Seed questions and their one-word variations.
    for i in 0..300u64 {
        let (seed, variant) = (i / 6, i % 6);
        let mut w: Vec<String> = words(7_000 + seed, 24)
            .split(' ')
            .map(str::to_string)
            .collect();
        if variant > 0 {
            w[variant as usize * 4 - 1] = words(90_000 + i, 1);
        }
        lines.push(call(
            t + i as i64 * 10_000,
            "key-synth",
            "2001:db8:2::77",
            SDK,
            user(&w.join(" ")),
            json!({"temperature": 0.2}),
            (40, 200),
            700,
        ));
    }
    // Distillation: 400 short, diverse questions in an hour with long answers.
    for i in 0..400u64 {
        let q = format!(
            "{} how {} relates to {}.",
            if i % 3 == 0 {
                "Explain step by step"
            } else {
                "Describe in detail"
            },
            words(300_000 + i, 3),
            words(400_000 + i, 2)
        );
        lines.push(call(
            t + i as i64 * 9_000,
            "key-harvest",
            "2001:db8:3::90",
            SDK,
            user(&q),
            json!({"temperature": 0.7}),
            (30, 700),
            9000,
        ));
    }
    lines
}

fn hunt(lines: &[Value]) -> Vec<Alert> {
    let (alerts, stats) = common::hunt_lines(
        "gateway.ndjson",
        lines,
        Behavior::new(&BehaviorSettings::default()).unwrap(),
    );
    assert_eq!(stats.behavior_calls, lines.len() as u64);
    assert_eq!(stats.behavior_evicted, 0);
    alerts
}

#[test]
fn theft_alerts_from_a_gateway_log_and_quiet_benign_profiles() {
    let lines = traffic();
    let alerts = hunt(&lines);
    let by = common::by_rule_and_principal(&alerts, "MW-TH-");
    let keys: Vec<(&str, &str, usize)> = by
        .iter()
        .map(|((c, p), v)| (c.as_str(), p.as_str(), v.len()))
        .collect();
    assert_eq!(
        keys,
        [
            ("MW-TH-0001", "key-sweep", 1),
            ("MW-TH-0002", "key-harvest", 1),
            ("MW-TH-0003", "key-synth", 1),
            ("MW-TH-0004", "key-synth", 1),
            ("MW-TH-0005", "trial-0", 1),
            ("MW-TH-0006", "key-cache", 1),
        ],
        "{by:#?}"
    );
    let distributed = &by[&("MW-TH-0005".into(), "trial-0".into())][0];
    assert_eq!(distributed["evidence"]["members"], json!(5));
    assert_eq!(
        distributed["evidence"]["pb53_vector"],
        json!("model_extraction_api")
    );
    let cache = &by[&("MW-TH-0006".into(), "key-cache".into())][0];
    assert_eq!(cache["evidence"]["pb53_vector"], json!("side_channel"));
    assert_eq!(cache["evidence"]["latency"]["min_ms"], json!(80.0));
    let harvest = &by[&("MW-TH-0002".into(), "key-harvest".into())][0];
    assert!(
        harvest["message"]
            .as_str()
            .unwrap()
            .contains("× the median of 4 principals in the previous bucket"),
        "{harvest:#}"
    );
    let prada = &by[&("MW-TH-0003".into(), "key-synth".into())][0];
    assert!(
        prada["message"].as_str().unwrap().contains(" W = "),
        "{prada:#}"
    );

    let mut doc = by[&("MW-TH-0001".into(), "key-sweep".into())][0].clone();
    doc["rule"]["investigation_guide"] = json!("(elided)");
    insta::assert_json_snapshot!(doc);
}
