//! Every source through the one registry, as `hunt` reads it: an insta snapshot of the
//! normalized document of every fixture (so a change to any normalizer's output is
//! reviewed), and the fields detectors and analyzers need, from every source that records
//! them: the caller's user agent, GenAI fields from API Management's frontend bodies, a
//! provider's content-filter verdict inside a LiteLLM failure's text, prompt-cache token
//! counts and the logprob and logit-bias parameters.

mod common;

use modelward_event::source::{self, Normalized, SourceKind, REGISTRY};
use serde_json::{json, Map, Value};

/// The normalized document of a fixture, its source forced (as `--source` does); a fixture
/// that stands for one event of another shape (an OTLP export request's one span) is read
/// as the input reader reads it first.
fn normalized(source: &str, name: &str) -> Map<String, Value> {
    let kind: SourceKind = source.parse().unwrap();
    let raw = common::fixture(source, name);
    let bytes = serde_json::to_vec(&raw).unwrap();
    let raw = match modelward_event::input::parse_record(&bytes) {
        Ok(mut objects) if objects.len() == 1 => objects.remove(0),
        _ => raw,
    };
    match source::normalize(raw, kind) {
        Ok(Normalized::Event(doc) | Normalized::Partial(doc, _)) => doc,
        Err(e) => panic!("{source}/{name}: {e}"),
    }
}

fn at<'a>(doc: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut cur: Option<&Value> = None;
    for (i, key) in path.split('.').enumerate() {
        cur = if i == 0 { doc.get(key) } else { cur?.get(key) };
    }
    cur
}

#[test]
fn every_fixture_normalizes_as_its_snapshot() {
    let mut count = 0;
    for normalizer in REGISTRY {
        let source = normalizer.name();
        if !common::fixtures_dir(source).is_dir() {
            continue;
        }
        for name in common::fixture_names(source) {
            let doc = normalized(source, &name);
            insta::assert_json_snapshot!(format!("{source}__{name}"), doc);
            count += 1;
        }
    }
    assert!(count >= 35, "{count} fixtures");
}

#[test]
fn user_agents_where_each_source_records_them() {
    let cases = [
        // API Management, when the diagnostic setting logs request headers.
        (
            "azure_openai",
            "gateway_frontend_bodies_headers",
            "AsyncOpenAI/Python 1.51.0",
        ),
        // LiteLLM's metadata.
        (
            "litellm",
            "prompt_shield_block",
            "garak/0.9.0.16 (LLM vulnerability scanner https://garak.ai)",
        ),
        // LiteLLM's `User-Agent: …` request tags (the full one, not the product alone).
        ("litellm", "logprobs_cached_tags", "python-requests/2.32.3"),
        // CloudTrail (and so Bedrock's API calls as CloudTrail records them).
        ("cloudtrail", "get_object_weights", ""),
        ("modelward_llm", "chat_logprobs", "OpenAI/Python 1.51.0"),
    ];
    for (source, name, want) in cases {
        let doc = normalized(source, name);
        let got = at(&doc, "user_agent.original").and_then(Value::as_str);
        if want.is_empty() {
            assert!(got.is_some_and(|ua| !ua.is_empty()), "{source}/{name}");
        } else {
            assert_eq!(got, Some(want), "{source}/{name}");
        }
    }
}

#[test]
fn api_management_frontend_bodies_give_genai_fields() {
    let doc = normalized("azure_openai", "gateway_frontend_bodies_headers");
    assert!(at(&doc, "azure.open_ai.properties.backend_request_body").is_none());
    assert_eq!(
        at(&doc, "gen_ai.request.model"),
        Some(&json!("gpt-4o-prod"))
    );
    assert_eq!(at(&doc, "gen_ai.request.max_tokens"), Some(&json!(1)));
    assert_eq!(at(&doc, "gen_ai.completion"), Some(&json!(["negative"])));
    assert_eq!(at(&doc, "gen_ai.usage.input_tokens"), Some(&json!(1540)));
}

#[test]
fn a_prompt_shields_block_logged_by_litellm_is_a_blocked_jailbreak() {
    let doc = normalized("litellm", "prompt_shield_block");
    assert_eq!(
        at(&doc, "gen_ai.content_filter.jailbreak"),
        Some(&json!({"filtered": true, "detected": true}))
    );
    assert_eq!(
        at(&doc, "gen_ai.content_filter.blocked"),
        Some(&json!(true))
    );
    assert_eq!(at(&doc, "http.response.status_code"), Some(&json!(400)));
    // A failure without a provider body (a rate limit) has no verdict.
    let other = normalized("litellm", "call_failure");
    assert!(at(&other, "gen_ai.content_filter").is_none());
}

#[test]
fn cached_tokens_logprobs_and_logit_bias_from_every_llm_source() {
    let cases = [
        ("azure_openai", "gateway_frontend_bodies_headers", 1408),
        ("litellm", "logprobs_cached_tags", 1152),
        ("aws_bedrock", "converse_cached_openai_params", 1280),
        ("modelward_llm", "chat_logprobs", 0),
    ];
    for (source, name, cached) in cases {
        let doc = normalized(source, name);
        assert_eq!(
            at(&doc, "gen_ai.usage.cache_read.input_tokens"),
            Some(&json!(cached)),
            "{source}/{name}"
        );
        assert_eq!(
            at(&doc, "gen_ai.request.logprobs"),
            Some(&json!(true)),
            "{source}/{name}"
        );
        assert!(
            at(&doc, "gen_ai.request.top_logprobs").is_some_and(Value::is_number),
            "{source}/{name}"
        );
        assert!(
            at(&doc, "gen_ai.request.logit_bias").is_some_and(Value::is_object),
            "{source}/{name}"
        );
    }
}

#[test]
fn litellm_cached_tokens_from_its_usage_object() {
    let mut raw = common::fixture("litellm", "chat_success");
    raw["metadata"].as_object_mut().unwrap().insert(
        "usage_object".into(),
        json!({"prompt_tokens": 2048, "prompt_tokens_details": {"cached_tokens": 1920}}),
    );
    let Ok(Normalized::Event(doc)) = source::normalize(raw, SourceKind::LiteLlm) else {
        panic!()
    };
    assert_eq!(
        at(&doc, "gen_ai.usage.cache_read.input_tokens"),
        Some(&json!(1920))
    );
}

/// Writes the `*.expected.json` of fixtures that have none, from the module normalizers
/// the per-source fixture tests compare with (`MODELWARD_WRITE_EXPECTED=1`); review them.
#[test]
fn write_missing_expected_files() {
    if std::env::var_os("MODELWARD_WRITE_EXPECTED").is_none() {
        return;
    }
    use modelward_event::source::{aws_bedrock, azure_openai, litellm};
    for source in ["azure_openai", "aws_bedrock", "litellm"] {
        for name in common::fixture_names(source) {
            let path = common::fixtures_dir(source).join(format!("{name}.expected.json"));
            if path.exists() {
                continue;
            }
            let raw = common::fixture(source, &name);
            let doc = match source {
                "azure_openai" => azure_openai::normalize(raw).unwrap(),
                "aws_bedrock" => aws_bedrock::normalize(raw).unwrap(),
                _ => litellm::normalize(raw),
            };
            let text = serde_json::to_string_pretty(&Value::Object(doc)).unwrap();
            std::fs::write(&path, text + "\n").unwrap();
        }
    }
}
