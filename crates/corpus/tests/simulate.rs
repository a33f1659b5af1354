//! The simulated LLM traffic: deterministic, every line a modelward LLM log record that
//! normalizes, labels that match the lines, and each profile with the properties it
//! promises (docs/simulator.md).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use modelward_corpus::sim::{simulate, Class, Profile, SimSpec};
use modelward_event::source::{self, modelward_llm, Normalized, SourceKind};
use serde_json::{Map, Value};

/// A day at a quarter of the default volume (about 7 000 calls).
fn spec() -> SimSpec {
    SimSpec {
        seed: 11,
        scale: 0.25,
        ..SimSpec::default()
    }
}

struct Corpus {
    log: Vec<u8>,
    labels: Vec<u8>,
    records: Vec<Map<String, Value>>,
    label_rows: Vec<Map<String, Value>>,
}

fn objects(bytes: &[u8]) -> Vec<Map<String, Value>> {
    std::str::from_utf8(bytes)
        .expect("UTF-8")
        .lines()
        .enumerate()
        .map(|(n, line)| match serde_json::from_str(line) {
            Ok(Value::Object(map)) => map,
            other => panic!("line {} is not a JSON object: {other:?}", n + 1),
        })
        .collect()
}

fn run(spec: &SimSpec) -> Corpus {
    let (mut log, mut labels) = (Vec::new(), Vec::new());
    let stats = simulate(spec, &mut log, &mut labels).expect("simulate");
    assert_eq!(stats.bytes, log.len() as u64);
    let records = objects(&log);
    let label_rows = objects(&labels);
    assert_eq!(stats.calls, records.len() as u64);
    Corpus {
        log,
        labels,
        records,
        label_rows,
    }
}

fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| run(&spec()))
}

fn at<'a>(doc: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let first = doc.get(parts.next()?)?;
    parts.try_fold(first, |value, key| match key.parse::<usize>() {
        Ok(index) => value.get(index),
        Err(_) => value.get(key),
    })
}

fn text<'a>(doc: &'a Map<String, Value>, path: &str) -> &'a str {
    at(doc, path).and_then(Value::as_str).unwrap_or("")
}

fn num(doc: &Map<String, Value>, path: &str) -> Option<i64> {
    at(doc, path).and_then(Value::as_i64)
}

type Doc = Map<String, Value>;
/// A record and its label.
type Row = (&'static Doc, &'static Doc);

/// The records of one profile, with their labels.
fn of(profile: &str) -> Vec<Row> {
    let c = corpus();
    let rows: Vec<_> = c
        .records
        .iter()
        .zip(&c.label_rows)
        .filter(|(_, l)| text(l, "profile") == profile)
        .collect();
    assert!(!rows.is_empty(), "no calls of {profile}");
    rows
}

fn ok(rows: &[Row]) -> Vec<&'static Map<String, Value>> {
    rows.iter()
        .filter(|(r, _)| num(r, "http.status") == Some(200))
        .map(|(r, _)| *r)
        .collect()
}

fn last_user_message(record: &Map<String, Value>) -> &str {
    at(record, "request.messages")
        .and_then(Value::as_array)
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
}

fn principals(rows: &[Row]) -> BTreeSet<String> {
    rows.iter()
        .map(|(r, _)| text(r, "principal.api_key_id").to_owned())
        .collect()
}

#[test]
fn deterministic_for_a_seed() {
    let small = SimSpec {
        span_ms: 6 * 3_600_000,
        scale: 0.1,
        ..SimSpec::default()
    };
    let (a, b) = (run(&small), run(&small));
    assert_eq!(a.log, b.log);
    assert_eq!(a.labels, b.labels);
    let other = run(&SimSpec { seed: 12, ..small });
    assert_ne!(a.log, other.log);
}

#[test]
fn every_line_normalizes_and_timestamps_increase() {
    let c = corpus();
    let mut previous = String::new();
    for (n, record) in c.records.iter().enumerate() {
        assert!(modelward_llm::looks_like(record), "line {}", n + 1);
        let stamp = text(record, "@timestamp").to_owned();
        assert!(
            stamp >= previous,
            "line {}: {stamp} before {previous}",
            n + 1
        );
        previous = stamp;
        let event = match source::normalize(record.clone(), SourceKind::Auto) {
            Ok(Normalized::Event(event)) => event,
            other => panic!("line {} does not normalize: {other:?}", n + 1),
        };
        assert_eq!(
            text(&event, "event.dataset"),
            "modelward.llm",
            "line {}",
            n + 1
        );
        let direct = Value::Object(modelward_llm::normalize(record.clone()));
        assert!(
            direct["gen_ai"]["request"]["model"].is_string(),
            "line {}",
            n + 1
        );
        assert!(direct["api_key"]["id"].is_string(), "line {}", n + 1);
    }
}

#[test]
fn labels_match_the_lines() {
    let c = corpus();
    assert_eq!(c.records.len(), c.label_rows.len());
    let names: BTreeSet<&str> = Profile::llm().iter().map(|p| p.name()).collect();
    let mut seen = BTreeSet::new();
    for (n, (record, label)) in c.records.iter().zip(&c.label_rows).enumerate() {
        assert_eq!(num(label, "line"), Some(n as i64 + 1));
        assert_eq!(
            text(label, "principal"),
            text(record, "principal.api_key_id")
        );
        assert_eq!(text(label, "source_ip"), text(record, "client.ip"));
        assert_eq!(num(label, "status"), num(record, "http.status"));
        let profile = Profile::parse(text(label, "profile")).expect("known profile");
        seen.insert(profile.name());
        assert_eq!(text(label, "class"), profile.class().name());
        assert_eq!(
            at(label, "attack").and_then(Value::as_str),
            profile.attack()
        );
        assert_eq!(
            profile.class() == Class::Attack,
            profile.attack().is_some() && profile.speed().is_some()
        );
        match at(record, "response.id").and_then(Value::as_str) {
            Some(id) => assert_eq!(text(label, "request_id"), id),
            None => assert!(label["request_id"].is_null()),
        }
    }
    assert_eq!(seen, names, "every profile appears");
}

#[test]
fn responses_fit_their_requests() {
    for record in &corpus().records {
        let status = num(record, "http.status").unwrap_or(0);
        let duration = num(record, "duration_ms").expect("duration");
        if status == 429 {
            assert_eq!(text(record, "response.error.code"), "rate_limit_exceeded");
            continue;
        }
        let max = num(record, "request.max_tokens").expect("max_tokens");
        let completion = num(record, "response.usage.completion_tokens").expect("usage");
        let prompt = num(record, "response.usage.prompt_tokens").expect("usage");
        assert!(completion >= 1 && completion <= max);
        assert_eq!(
            num(record, "response.usage.total_tokens"),
            Some(prompt + completion)
        );
        let content = text(record, "response.choices.0.message.content");
        assert!(prompt as usize >= last_user_message(record).len() / 12);
        assert!(
            content.len() as i64 >= completion,
            "{content:?} {completion}"
        );
        let finish = text(record, "response.choices.0.finish_reason");
        assert!(finish == "stop" || (finish == "length" && completion == max));
        let choice = &at(record, "response.choices")
            .and_then(Value::as_array)
            .expect("choices")[0];
        if at(record, "request.logprobs") == Some(&Value::Bool(true)) {
            let k = num(record, "request.top_logprobs").unwrap_or(0) as usize;
            let content = choice["logprobs"]["content"].as_array().expect("logprobs");
            assert_eq!(content.len() as i64, completion);
            for token in content {
                assert_eq!(token["top_logprobs"].as_array().map(Vec::len), Some(k));
                assert!(token["logprob"].as_f64().is_some_and(|l| l <= 0.0));
            }
        } else {
            assert!(choice["logprobs"].is_null());
        }
        if record.get("stream") == Some(&Value::Bool(true)) {
            let first = num(record, "timings.first_token_ms").expect("first token");
            assert!(first > 0 && first <= duration);
        } else {
            assert!(record.get("timings").is_none());
        }
    }
}

#[test]
fn chat_users_hold_multi_turn_conversations_in_office_hours() {
    let rows = of("chat_users");
    assert!(principals(&rows).len() >= 10);
    let mut earlier: BTreeSet<(String, String)> = BTreeSet::new();
    let (mut multi, mut continued) = (0, 0);
    let mut openings = BTreeSet::new();
    for (record, _) in &rows {
        let messages = at(record, "request.messages")
            .and_then(Value::as_array)
            .expect("messages");
        let key = text(record, "principal.api_key_id").to_owned();
        let users = messages.iter().filter(|m| m["role"] == "user").count();
        if users == 1 {
            openings.insert(last_user_message(record).to_owned());
        } else {
            multi += 1;
            assert_eq!(messages[messages.len() - 2]["role"], "assistant");
            let before = serde_json::to_string(&messages[..messages.len() - 2]).unwrap_or_default();
            if earlier.contains(&(key.clone(), before)) {
                continued += 1;
            }
        }
        earlier.insert((key, serde_json::to_string(messages).unwrap_or_default()));
        let max = num(record, "request.max_tokens").unwrap_or(0);
        assert!((256..=2048).contains(&max));
        assert!(at(record, "request.logprobs").is_none());
        let hour: u32 = text(record, "@timestamp")[11..13].parse().unwrap_or(99);
        assert!((7..=20).contains(&hour), "{hour}");
    }
    assert!(multi * 2 > rows.len(), "{multi} of {}", rows.len());
    assert!(continued * 10 >= multi * 9, "{continued} of {multi}");
    let count = rows
        .iter()
        .filter(|(r, _)| last_user_message(r).is_empty())
        .count();
    assert_eq!(count, 0);
    let firsts = rows
        .iter()
        .filter(|(r, _)| {
            at(r, "request.messages")
                .and_then(Value::as_array)
                .is_some_and(|m| m.iter().filter(|m| m["role"] == "user").count() == 1)
        })
        .count();
    assert!(
        openings.len() * 10 >= firsts * 9,
        "openings vary: {} of {firsts}",
        openings.len()
    );
}

#[test]
fn batch_job_is_heavy_from_the_first_hour_with_constant_parameters() {
    let rows = of("batch_job");
    assert_eq!(principals(&rows).len(), 1);
    let start = &text(rows[0].0, "@timestamp")[..13];
    let first_hour = rows
        .iter()
        .filter(|(r, _)| text(r, "@timestamp").starts_with(start))
        .count();
    assert!(
        first_hour as f64 >= 2_000.0 * spec().scale * 0.9,
        "{first_hour}"
    );
    let mut texts = BTreeSet::new();
    for (record, _) in &rows {
        let prompt = last_user_message(record);
        assert!(prompt.starts_with("Summarise support ticket #"), "{prompt}");
        texts.insert(prompt.split_once(": ").map(|(_, t)| t.to_owned()));
        assert_eq!(num(record, "request.max_tokens"), Some(300));
        assert_eq!(
            at(record, "request.temperature").and_then(Value::as_f64),
            Some(0.2)
        );
        assert_eq!(num(record, "http.status"), Some(200));
    }
    assert!(texts.len() * 10 > rows.len() * 8, "ticket texts vary");
}

#[test]
fn nightly_eval_repeats_a_fixed_suite() {
    let two_nights = run(&SimSpec {
        span_ms: 2 * 86_400_000,
        scale: 0.02,
        profiles: vec![Profile::NightlyEval],
        ..spec()
    });
    let mut nights: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for record in &two_nights.records {
        assert_eq!(num(record, "request.temperature"), Some(0));
        assert_eq!(num(record, "request.seed"), Some(1234));
        assert!(num(record, "request.max_tokens").unwrap_or(0) <= 128);
        assert!(text(record, "@timestamp")[11..].starts_with("02:"));
        nights
            .entry(text(record, "@timestamp")[..10].to_owned())
            .or_default()
            .push(last_user_message(record).to_owned());
    }
    let suites: Vec<_> = nights.values().collect();
    assert_eq!(suites.len(), 2);
    assert_eq!(suites[0], suites[1]);
    assert_eq!(suites[0].len(), 300);
}

#[test]
fn logit_sweeps_ask_for_one_token_and_bias_windows_of_the_vocabulary() {
    for profile in [
        "logit_sweep_fast",
        "logit_sweep_slow",
        "logit_sweep_distributed",
    ] {
        let rows = of(profile);
        let mut ids = BTreeSet::new();
        for (record, _) in &rows {
            assert_eq!(num(record, "request.max_tokens"), Some(1));
            assert_eq!(at(record, "request.logprobs"), Some(&Value::Bool(true)));
            assert_eq!(num(record, "request.top_logprobs"), Some(20));
            let bias = at(record, "request.logit_bias")
                .and_then(Value::as_object)
                .expect("bias");
            assert!(bias.len() >= 20);
            for (id, value) in bias {
                assert_eq!(value.as_i64().map(i64::abs), Some(100), "{profile}");
                if value.as_i64() == Some(100) {
                    ids.insert(id.parse::<u64>().expect("token id"));
                }
            }
        }
        let calls = rows.len();
        assert!(
            ids.len() >= calls.min(5_000) * 20 * 9 / 10,
            "{profile}: {} ids over {calls} calls",
            ids.len()
        );
    }
}

#[test]
fn bisection_halves_the_bias_on_one_token() {
    for profile in ["logit_bisection_fast", "logit_bisection_slow"] {
        let rows = of(profile);
        let prompts: BTreeSet<&str> = rows.iter().map(|(r, _)| last_user_message(r)).collect();
        assert_eq!(prompts.len(), 1);
        let mut previous: Option<(String, i64)> = None;
        let mut steps = 0;
        for (record, _) in &rows {
            assert_eq!(num(record, "request.max_tokens"), Some(1));
            let bias = at(record, "request.logit_bias")
                .and_then(Value::as_object)
                .expect("bias");
            assert_eq!(bias.len(), 1);
            let (token, value) = bias
                .iter()
                .next()
                .map(|(k, v)| (k.clone(), v.as_i64().unwrap_or(0)))
                .expect("one");
            match &previous {
                Some((t, v)) if *t == token => {
                    let step = (value - v).abs();
                    assert!(
                        (step as u64).is_power_of_two() && step <= 32,
                        "{v} -> {value}"
                    );
                    steps += 1;
                }
                _ => assert_eq!(value, 64),
            }
            previous = Some((token, value));
        }
        assert!(steps * 10 >= rows.len() * 8);
    }
}

fn is_single_turn(record: &Map<String, Value>) -> bool {
    at(record, "request.messages")
        .and_then(Value::as_array)
        .is_some_and(|m| m.len() == 1)
}

#[test]
fn distillation_harvests_diverse_reasoning_without_continuity() {
    let chat_daily_max = {
        let mut per_key: BTreeMap<String, usize> = BTreeMap::new();
        for (r, _) in of("chat_users") {
            *per_key
                .entry(text(r, "principal.api_key_id").to_owned())
                .or_default() += 1;
        }
        per_key.values().copied().max().unwrap_or(0)
    };
    for profile in [
        "distillation_fast",
        "distillation_slow",
        "distillation_distributed",
    ] {
        let rows = of(profile);
        let prompts: BTreeSet<&str> = rows.iter().map(|(r, _)| last_user_message(r)).collect();
        assert_eq!(prompts.len(), rows.len(), "{profile}: no prompt repeats");
        let reasoning = prompts
            .iter()
            .filter(|p| p.contains("step by step") || p.contains("step-by-step"))
            .count();
        assert!(
            reasoning * 10 >= prompts.len() * 6,
            "{profile}: {reasoning} of {}",
            prompts.len()
        );
        for record in ok(&rows) {
            assert!(is_single_turn(record));
            assert!(num(record, "request.max_tokens").unwrap_or(0) >= 2048);
        }
        let per_key = rows.len() / principals(&rows).len();
        if profile == "distillation_distributed" {
            assert!(per_key < of("distillation_fast").len() / 4);
        } else {
            assert!(
                per_key > 3 * chat_daily_max,
                "{profile}: {per_key} against {chat_daily_max}"
            );
        }
    }
}

#[test]
fn duplicate_floods_perturb_one_template_and_get_rate_limited() {
    for profile in ["duplicate_flood_fast", "duplicate_flood_slow"] {
        let rows = of(profile);
        let prompts: Vec<&str> = rows.iter().map(|(r, _)| last_user_message(r)).collect();
        let base = prompts[0];
        for p in &prompts {
            assert!(p.starts_with("Classify the following product review"));
            let shared = base
                .bytes()
                .zip(p.bytes())
                .take_while(|(a, b)| a == b)
                .count();
            assert!(shared >= 100);
            assert!(p.len().abs_diff(base.len()) <= 20);
        }
        let distinct: BTreeSet<&&str> = prompts.iter().collect();
        assert!(distinct.len() > 10);
    }
    let limited = of("duplicate_flood_fast")
        .iter()
        .filter(|(r, _)| num(r, "http.status") == Some(429))
        .count();
    assert!(limited > 0);
}

#[test]
fn distributed_keys_share_infrastructure_and_stay_low() {
    for (profile, single) in [
        ("logit_sweep_distributed", "logit_sweep_fast"),
        ("distillation_distributed", "distillation_fast"),
    ] {
        let rows = of(profile);
        let keys = principals(&rows);
        assert!((10..=30).contains(&keys.len()), "{profile}: {}", keys.len());
        let nets: BTreeSet<&str> = rows
            .iter()
            .map(|(r, _)| text(r, "client.ip").rsplit_once('.').map_or("", |(n, _)| n))
            .collect();
        assert_eq!(nets.len(), 1);
        let agents: BTreeSet<&str> = rows
            .iter()
            .map(|(r, _)| text(r, "http.request_headers.user-agent"))
            .collect();
        assert_eq!(agents.len(), 1);
        let mut per_key: BTreeMap<&str, usize> = BTreeMap::new();
        for (r, _) in &rows {
            *per_key.entry(text(r, "principal.api_key_id")).or_default() += 1;
        }
        let most = per_key.values().copied().max().unwrap_or(0);
        assert!(most * 4 < of(single).len(), "{profile}: {most}");
        assert!(rows.len() > of(single).len());
    }
}

#[test]
fn side_channel_probes_share_prefixes_and_cache_hits_are_faster() {
    for profile in ["prefix_probe_fast", "prefix_probe_slow"] {
        let rows = ok(&of(profile));
        let base = last_user_message(rows[0]);
        assert!(base.len() > 4_000);
        for r in &rows {
            let p = last_user_message(r);
            let shared = base
                .bytes()
                .zip(p.bytes())
                .take_while(|(a, b)| a == b)
                .count();
            assert!(shared + 6 >= base.len().max(p.len()), "{profile}");
            assert_eq!(num(r, "request.max_tokens"), Some(1));
        }
    }
    for profile in [
        "prefix_probe_fast",
        "cache_timing_fast",
        "cache_timing_slow",
    ] {
        let rows = ok(&of(profile));
        let (mut hits, mut misses) = (Vec::new(), Vec::new());
        for r in &rows {
            let cached = num(r, "response.usage.prompt_tokens_details.cached_tokens").unwrap_or(0);
            let d = num(r, "duration_ms").unwrap_or(0) as f64;
            if cached > 0 {
                hits.push(d)
            } else {
                misses.push(d)
            }
        }
        assert!(!hits.is_empty() && !misses.is_empty(), "{profile}");
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(
            mean(&hits) * 1.8 < mean(&misses),
            "{profile}: {} vs {}",
            mean(&hits),
            mean(&misses)
        );
    }
    for profile in ["cache_timing_fast", "cache_timing_slow"] {
        let rows = ok(&of(profile));
        let prompts: BTreeSet<&str> = rows.iter().map(|r| last_user_message(r)).collect();
        assert!(prompts.len() <= 4 && rows.len() > 10 * prompts.len());
        for r in &rows {
            assert_eq!(num(r, "request.temperature"), Some(0));
            assert_eq!(num(r, "request.seed"), Some(7));
            assert_eq!(num(r, "request.max_tokens"), Some(1));
        }
    }
}

#[test]
fn addresses_are_documentation_ranges() {
    for record in &corpus().records {
        let ip = text(record, "client.ip");
        assert!(
            ["192.0.2.", "198.51.100.", "203.0.113.", "2001:db8:"]
                .iter()
                .any(|p| ip.starts_with(p)),
            "{ip}"
        );
    }
}

#[test]
fn a_profile_subset_and_bad_specs() {
    let only = run(&SimSpec {
        span_ms: 3_600_000,
        profiles: vec![Profile::LogitSweepFast],
        scale: 0.1,
        ..SimSpec::default()
    });
    assert!(only
        .label_rows
        .iter()
        .all(|l| text(l, "profile") == "logit_sweep_fast"));
    assert!(!only.records.is_empty());
    for bad in [
        SimSpec {
            span_ms: 0,
            ..SimSpec::default()
        },
        SimSpec {
            scale: 0.0,
            ..SimSpec::default()
        },
        SimSpec {
            scale: f64::NAN,
            ..SimSpec::default()
        },
    ] {
        let error = simulate(&bad, &mut Vec::new(), &mut Vec::new()).expect_err("invalid");
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    }
}

#[test]
fn a_profile_is_the_same_whatever_else_is_selected() {
    let base = SimSpec {
        span_ms: 12 * 3_600_000,
        scale: 0.1,
        profiles: vec![Profile::ChatUsers, Profile::NightlyEval],
        ..SimSpec::default()
    };
    let alone = run(&base);
    let mixed = run(&SimSpec {
        profiles: vec![
            Profile::ChatUsers,
            Profile::NightlyEval,
            Profile::DistillationFast,
        ],
        ..base
    });
    let benign: Vec<&Doc> = mixed
        .records
        .iter()
        .zip(&mixed.label_rows)
        .filter(|(_, l)| text(l, "class") == "benign")
        .map(|(r, _)| r)
        .collect();
    assert_eq!(benign.len(), alone.records.len());
    assert!(benign.iter().zip(&alone.records).all(|(a, b)| *a == b));
}

/// Eight days of the storage profiles with the chat users, normalized by auto-detection.
#[test]
fn storage_profiles_write_cloudtrail_s3_data_events_among_llm_calls() {
    let mut profiles = Profile::storage();
    profiles.push(Profile::ChatUsers);
    let c = run(&SimSpec {
        seed: 5,
        span_ms: 8 * 86_400_000,
        scale: 0.05,
        profiles,
        ..SimSpec::default()
    });
    let mut previous = String::new();
    let mut by_profile: BTreeMap<String, Vec<Map<String, Value>>> = BTreeMap::new();
    for (n, (record, label)) in c.records.iter().zip(&c.label_rows).enumerate() {
        let event = match source::normalize(record.clone(), SourceKind::Auto) {
            Ok(Normalized::Event(event)) => event,
            other => panic!("line {} does not normalize: {other:?}", n + 1),
        };
        let stamp = text(&event, "@timestamp").to_owned();
        assert!(
            stamp >= previous,
            "line {}: {stamp} before {previous}",
            n + 1
        );
        previous = stamp;
        let profile = text(label, "profile");
        if profile == "chat_users" {
            assert_eq!(text(&event, "event.dataset"), "modelward.llm");
            continue;
        }
        assert_eq!(
            text(&event, "event.dataset"),
            "aws.cloudtrail",
            "line {}",
            n + 1
        );
        assert_eq!(text(record, "eventSource"), "s3.amazonaws.com");
        assert_eq!(text(record, "eventCategory"), "Data");
        assert_eq!(at(record, "managementEvent"), Some(&Value::Bool(false)));
        assert!(
            !text(&event, "storage.operation").is_empty(),
            "line {}",
            n + 1
        );
        assert_eq!(text(label, "principal"), text(&event, "user.id"));
        assert_eq!(text(label, "user"), text(&event, "user.name"));
        assert_eq!(text(label, "request_id"), text(record, "eventID"));
        by_profile
            .entry(profile.to_owned())
            .or_default()
            .push(event);
    }
    assert_eq!(by_profile.len(), 5, "{:?}", by_profile.keys());
    let op = |e: &Map<String, Value>| text(e, "storage.operation").to_owned();
    // The deployment role reads weights from its one bucket only.
    let deploy = &by_profile["model_deploy"];
    assert!(deploy
        .iter()
        .all(|e| op(e) == "read" && text(e, "storage.bucket") == "acme-ml-models"));
    // The training pipeline reads the same volume every night.
    let mut nights: BTreeMap<String, u64> = BTreeMap::new();
    for e in &by_profile["training_pipeline"] {
        assert_eq!(text(e, "storage.bucket"), "acme-training-data");
        if op(e) == "read" {
            *nights
                .entry(text(e, "@timestamp")[..10].to_owned())
                .or_default() += 1;
        }
    }
    assert_eq!(nights.len(), 8);
    assert_eq!(
        nights.values().collect::<BTreeSet<_>>().len(),
        1,
        "{nights:?}"
    );
    // Weight theft: weights read with the principal's key, then through a presigned URL.
    let theft = &by_profile["weight_theft"];
    let weights: Vec<_> = theft
        .iter()
        .filter(|e| text(e, "storage.bucket") == "acme-ml-models" && op(e) == "read")
        .collect();
    assert_eq!(weights.len(), 5);
    assert!(weights
        .iter()
        .any(|e| text(e, "storage.auth.method") == "presigned"
            && text(e, "file.extension") == "gguf"));
    assert!(theft.len() > 50);
    // Exfiltration: thousands of reads on the last day against a few an hour before.
    let exfil = &by_profile["training_data_exfiltration"];
    let last_day = exfil
        .iter()
        .filter(|e| text(e, "@timestamp").starts_with("2025-03-10"))
        .count();
    assert!(last_day > 4_000, "{last_day}");
    // The insider copies checkpoints to another account.
    let copies: Vec<_> = by_profile["insider_model_copy"]
        .iter()
        .filter(|e| op(e) == "copy")
        .collect();
    assert_eq!(copies.len(), 6);
    for e in copies {
        assert_eq!(at(e, "storage.cross_account"), Some(&Value::Bool(true)));
        assert_eq!(text(e, "storage.copy.source.bucket"), "acme-ml-models");
        assert_eq!(text(e, "storage.copy.target.account"), "444455556666");
    }
}
