//! The generated corpus parses, normalizes, and makes the seed rule fire
//! for the attacked resources only.

use std::collections::BTreeMap;

use modelward_corpus::{events_for_size, generate, CorpusSpec};
use modelward_event::source::azure_openai;
use serde_json::{Map, Value};

fn spec() -> CorpusSpec {
    CorpusSpec {
        seed: 7,
        events: 6_000,
        start_unix_ms: 1_740_787_200_000,
        span_ms: 2 * 86_400_000,
        resources: 6,
        attack_resources: 2,
    }
}

fn corpus(spec: &CorpusSpec) -> (Vec<u8>, u64) {
    let mut out = Vec::new();
    let bytes = generate(spec, &mut out).expect("generate");
    (out, bytes)
}

fn records(bytes: &[u8]) -> Vec<Map<String, Value>> {
    let text = std::str::from_utf8(bytes).expect("UTF-8 output");
    text.lines()
        .enumerate()
        .map(|(number, line)| match serde_json::from_str(line) {
            Ok(Value::Object(map)) => map,
            other => panic!("line {} is not a JSON object: {other:?}", number + 1),
        })
        .collect()
}

fn text_at<'a>(doc: &'a Map<String, Value>, path: &str) -> Option<&'a str> {
    let mut parts = path.split('.');
    let first = doc.get(parts.next()?)?;
    parts.try_fold(first, |value, key| value.get(key))?.as_str()
}

#[test]
fn every_line_parses_and_normalizes() {
    let (out, _) = corpus(&spec());
    let records = records(&out);
    assert_eq!(records.len() as u64, spec().events);
    for (number, record) in records.into_iter().enumerate() {
        assert!(azure_openai::looks_like(&record), "line {}", number + 1);
        if let Err(error) = azure_openai::normalize(record) {
            panic!("line {} does not normalize: {error}", number + 1);
        }
    }
}

#[test]
fn byte_count_matches_output_and_output_is_deterministic() {
    let (first, bytes) = corpus(&spec());
    assert_eq!(bytes, first.len() as u64);
    let (second, _) = corpus(&spec());
    assert!(first == second, "same spec gave different output");
    let (other, _) = corpus(&CorpusSpec { seed: 8, ..spec() });
    assert!(first != other, "different seeds gave the same output");
}

#[test]
fn timestamps_never_decrease_and_stay_in_the_span() {
    let spec = spec();
    let (out, _) = corpus(&spec);
    let times: Vec<String> = records(&out)
        .iter()
        .map(|r| text_at(r, "time").expect("time").to_owned())
        .collect();
    assert!(
        times.windows(2).all(|pair| pair[0] <= pair[1]),
        "timestamps go backwards"
    );
    let first = times.first().expect("records");
    let last = times.last().expect("records");
    assert!(first.as_str() >= "2025-03-01T00:00:00.0000000Z", "{first}");
    assert!(last.as_str() < "2025-03-03T00:00:00.0000000Z", "{last}");
}

#[test]
fn the_mix_is_dominated_by_request_response() {
    let (out, _) = corpus(&spec());
    let mut categories: BTreeMap<String, usize> = BTreeMap::new();
    for record in records(&out) {
        let category = text_at(&record, "category").unwrap_or("?").to_owned();
        *categories.entry(category).or_default() += 1;
        if text_at(&record, "category") == Some("GatewayLogs") {
            let body = text_at(&record, "properties.backendRequestBody").expect("request body");
            assert!(
                (150..=3_000).contains(&body.len()),
                "request body of {} bytes",
                body.len()
            );
        }
    }
    let total: usize = categories.values().sum();
    let share = |name: &str| categories.get(name).copied().unwrap_or(0) as f64 / total as f64;
    assert!(share("RequestResponse") > 0.75, "{categories:?}");
    assert!(
        (0.05..0.2).contains(&share("GatewayLogs")),
        "{categories:?}"
    );
    assert!(
        (0.0..0.15).contains(&share("Audit")) && share("Audit") > 0.0,
        "{categories:?}"
    );
}

/// The seed rule: ListKey audit records per resource group and name,
/// alerting at 100 or more.
fn list_key_times_by_resource(out: &[u8]) -> BTreeMap<(String, String), Vec<String>> {
    let mut by_resource: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for record in records(out) {
        let Ok(doc) = azure_openai::normalize(record) else {
            continue;
        };
        let is_list_key = text_at(&doc, "azure.open_ai.operation_name") == Some("ListKey")
            && text_at(&doc, "azure.open_ai.category") == Some("Audit");
        if !is_list_key {
            continue;
        }
        let group = text_at(&doc, "azure.resource.group")
            .unwrap_or_default()
            .to_owned();
        let name = text_at(&doc, "azure.resource.name")
            .unwrap_or_default()
            .to_owned();
        let time = text_at(&doc, "@timestamp").unwrap_or_default().to_owned();
        by_resource.entry((group, name)).or_default().push(time);
    }
    by_resource
}

fn max_in_one_hour(times: &[String]) -> usize {
    let millis: Vec<i64> = times
        .iter()
        .filter_map(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_millis())
        .collect();
    let mut best = 0;
    let mut start = 0;
    for end in 0..millis.len() {
        while millis[end] - millis[start] >= 3_600_000 {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

#[test]
fn the_seed_rule_fires_for_attacked_resources_only() {
    for (seed, resources, attacked) in [(7, 6, 2), (11, 20, 3), (3, 4, 0), (5, 1, 1)] {
        let spec = CorpusSpec {
            seed,
            resources,
            attack_resources: attacked,
            events: 20_000,
            ..spec()
        };
        let (out, _) = corpus(&spec);
        let by_resource = list_key_times_by_resource(&out);
        let alerting: Vec<_> = by_resource
            .iter()
            .filter(|(_, times)| times.len() >= 100)
            .collect();
        assert_eq!(
            alerting.len(),
            attacked,
            "seed {seed}: {:?}",
            by_resource.keys()
        );
        for ((group, name), times) in alerting {
            assert!(!group.is_empty() && !name.is_empty());
            assert!(
                max_in_one_hour(times) >= 100,
                "{name}: burst not within an hour"
            );
        }
    }
}

#[test]
fn unusable_specs_are_rejected() {
    let cases = [
        CorpusSpec {
            attack_resources: 7,
            ..spec()
        },
        CorpusSpec {
            resources: 0,
            attack_resources: 0,
            ..spec()
        },
        CorpusSpec {
            span_ms: 0,
            ..spec()
        },
        CorpusSpec {
            events: 50,
            ..spec()
        },
        CorpusSpec {
            start_unix_ms: i64::MAX - 10,
            ..spec()
        },
    ];
    for case in cases {
        let error = generate(&case, &mut Vec::new()).expect_err("should be rejected");
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{case:?}");
    }
}

#[test]
fn zero_events_write_nothing() {
    let empty = CorpusSpec {
        events: 0,
        attack_resources: 0,
        ..spec()
    };
    assert_eq!(corpus(&empty).1, 0);
}

#[test]
fn size_estimate_lands_near_the_target() {
    let target = 3_000_000;
    let base = spec();
    let events = events_for_size(&base, target).expect("estimate");
    let (_, bytes) = corpus(&CorpusSpec { events, ..base });
    let ratio = bytes as f64 / target as f64;
    assert!(
        (0.85..1.15).contains(&ratio),
        "{bytes} bytes for a {target} target"
    );
}
