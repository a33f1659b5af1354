//! Tests of the LiteLLM `StandardLoggingPayload` normalizer: every `*.raw.json` fixture
//! must normalize to its `*.expected.json`, plus edge cases.

mod common;

use common::object;

use modelward_event::source::litellm::{self, DATASET};
use serde_json::{json, Map, Value};

fn fixture_names() -> Vec<String> {
    common::fixture_names("litellm")
}

fn fixture(name: &str) -> Map<String, Value> {
    common::fixture("litellm", name)
}

fn normalized(raw: Value) -> Value {
    Value::Object(litellm::normalize(object(raw)))
}

fn at<'a>(doc: &'a Value, path: &str) -> &'a Value {
    path.split('.')
        .fold(doc, |value, key| value.get(key).unwrap_or(&Value::Null))
}

/// The smallest payload `looks_like` accepts, with `extra` merged in.
fn minimal(extra: Value) -> Value {
    let mut base = object(json!({
        "call_type": "acompletion",
        "startTime": 1740823200.0,
        "model_group": "gpt-4o",
    }));
    base.extend(object(extra));
    Value::Object(base)
}

#[test]
fn fixtures_normalize_to_their_expected_output() {
    common::assert_fixtures_normalize("litellm", 3, |raw| Ok(litellm::normalize(raw)));
}

#[test]
fn fixtures_are_detected_and_their_output_is_not() {
    for name in fixture_names() {
        let raw = fixture(&name);
        assert!(litellm::looks_like(&raw), "looks_like for {name}");
        assert!(
            !litellm::looks_like(&litellm::normalize(raw)),
            "normalized {name} still looks raw"
        );
    }
}

#[test]
fn other_records_are_not_litellm() {
    for value in [
        json!({}),
        json!({"message": "hello"}),
        json!({"call_type": "acompletion"}),
        json!({"call_type": "acompletion", "startTime": 1.0}),
        json!({"call_type": 3, "startTime": 1.0, "model_group": "x"}),
        json!({"modelward": {"log": "llm"}, "@timestamp": "2025-01-01T00:00:00Z"}),
        json!({"modelId": "x", "operation": "InvokeModel", "timestamp": "2025-01-01T00:00:00Z"}),
    ] {
        assert!(!litellm::looks_like(&object(value.clone())), "{value}");
    }
    assert!(litellm::looks_like(&object(minimal(json!({})))));
    assert!(litellm::looks_like(&object(json!({
        "call_type": "embedding", "startTime": "2025-01-01T00:00:00Z", "hidden_params": {}
    }))));
}

#[test]
fn a_minimal_payload_gets_only_what_it_has() {
    let doc = normalized(minimal(json!({})));
    assert_eq!(
        doc,
        json!({
            "@timestamp": "2025-03-01T10:00:00.000Z",
            "gen_ai": {"system": "litellm"},
            "litellm": {"call_type": "acompletion", "model_group": "gpt-4o"},
            "data_stream": {"dataset": DATASET, "namespace": "default", "type": "logs"},
            "event": {"dataset": DATASET}
        })
    );
}

#[test]
fn anything_goes_without_panicking() {
    for value in [
        json!({}),
        json!({"startTime": null, "endTime": "soon", "metadata": "x", "messages": 5, "response": [1, {"a": 2}]}),
        json!({"startTime": 1e300, "endTime": -1e300, "completionStartTime": "NaN", "model_parameters": [1]}),
        json!({"metadata": {"user_api_key_hash": 7}, "error_information": "boom", "hidden_params": null}),
        json!({"response": "{not json", "response_cost": "free", "prompt_tokens": "12"}),
        json!({"startTime": "1e20", "endTime": "2025-13-45T99:99:99"}),
    ] {
        let doc = normalized(value.clone());
        assert_eq!(at(&doc, "event.dataset"), &json!(DATASET), "{value}");
    }
}

#[test]
fn times_may_be_numbers_numeric_strings_or_iso_strings() {
    let epoch = normalized(minimal(
        json!({"startTime": 1740823200.25, "endTime": 1740823201.5}),
    ));
    let numeric = normalized(minimal(
        json!({"startTime": "1740823200.25", "endTime": "1740823201.5"}),
    ));
    let iso = normalized(minimal(json!({
        "startTime": "2025-03-01T10:00:00.250Z",
        "endTime": "2025-03-01T11:00:01.500+01:00"
    })));
    let naive = normalized(minimal(json!({
        "startTime": "2025-03-01 10:00:00.250000",
        "endTime": "2025-03-01T10:00:01.5"
    })));
    for doc in [&epoch, &numeric, &iso, &naive] {
        assert_eq!(
            at(doc, "@timestamp"),
            &json!("2025-03-01T10:00:00.250Z"),
            "{doc}"
        );
        assert_eq!(
            at(doc, "event.duration"),
            &json!(1_250_000_000_i64),
            "{doc}"
        );
    }
}

#[test]
fn unusable_times_are_kept_or_dropped_not_guessed() {
    let doc = normalized(minimal(
        json!({"startTime": "yesterday", "endTime": 1740823201.0}),
    ));
    assert_eq!(at(&doc, "@timestamp"), &Value::Null);
    assert_eq!(at(&doc, "event.duration"), &Value::Null);
    assert_eq!(at(&doc, "litellm.start_time"), &json!("yesterday"));
    // An end before the start gives no duration.
    let doc = normalized(minimal(json!({"endTime": 1740823199.0})));
    assert_eq!(at(&doc, "event.duration"), &Value::Null);
    assert_eq!(at(&doc, "@timestamp"), &json!("2025-03-01T10:00:00.000Z"));
}

#[test]
fn first_token_time_only_when_it_means_one() {
    // Non-streaming calls carry completionStartTime == endTime.
    let doc = normalized(minimal(json!({
        "stream": false, "endTime": 1740823201.0, "completionStartTime": 1740823201.0
    })));
    assert_eq!(at(&doc, "modelward.timings.first_token_ms"), &Value::Null);
    let doc = normalized(minimal(json!({
        "stream": true, "endTime": 1740823201.0, "completionStartTime": 1740823200.125
    })));
    assert_eq!(at(&doc, "modelward.timings.first_token_ms"), &json!(125.0));
}

#[test]
fn response_as_a_plain_string_is_the_completion() {
    let doc = normalized(minimal(
        json!({"response": "Hello there", "messages": "Say hi"}),
    ));
    assert_eq!(at(&doc, "gen_ai.completion"), &json!(["Hello there"]));
    assert_eq!(at(&doc, "gen_ai.prompt"), &json!("Say hi"));
    assert_eq!(at(&doc, "event.outcome"), &json!("success"));
}

#[test]
fn response_as_a_json_string_is_parsed() {
    let doc = normalized(minimal(json!({
        "response": "{\"model\":\"m\",\"choices\":[{\"message\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}"
    })));
    assert_eq!(at(&doc, "gen_ai.completion"), &json!(["ok"]));
    assert_eq!(at(&doc, "gen_ai.response.model"), &json!("m"));
    assert_eq!(at(&doc, "gen_ai.response.finish_reasons"), &json!(["stop"]));
    // Without top-level token counts, the response's usage is used.
    assert_eq!(at(&doc, "gen_ai.usage.input_tokens"), &json!(3));
    assert_eq!(at(&doc, "gen_ai.usage.output_tokens"), &json!(1));
}

#[test]
fn model_parameters_become_request_fields() {
    let doc = normalized(minimal(json!({
        "model": "gpt-4o",
        "model_parameters": {"max_completion_tokens": 2, "top_p": 0.5, "seed": 7, "logprobs": true, "top_logprobs": 5}
    })));
    assert_eq!(at(&doc, "gen_ai.request.model"), &json!("gpt-4o"));
    assert_eq!(at(&doc, "gen_ai.request.max_tokens"), &json!(2));
    assert_eq!(at(&doc, "gen_ai.request.top_p"), &json!(0.5));
    assert_eq!(at(&doc, "gen_ai.request.seed"), &json!(7));
    assert_eq!(at(&doc, "gen_ai.request.logprobs"), &json!(true));
    assert_eq!(at(&doc, "gen_ai.request.top_logprobs"), &json!(5));
}

#[test]
fn the_key_id_is_never_a_raw_key() {
    let doc = normalized(minimal(
        json!({"metadata": {"user_api_key_hash": "sk-live-secret"}}),
    ));
    assert_eq!(at(&doc, "api_key.id"), &Value::Null);
    assert!(!doc.to_string().contains("sk-live-secret"));
    let doc = normalized(minimal(json!({"metadata": {"user_api_key_hash": "ab12"}})));
    assert_eq!(at(&doc, "api_key.id"), &json!("ab12"));
}

#[test]
fn provider_falls_back_through_hidden_params_and_error_information() {
    let doc = normalized(minimal(
        json!({"hidden_params": {"custom_llm_provider": "bedrock"}}),
    ));
    assert_eq!(at(&doc, "gen_ai.system"), &json!("bedrock"));
    let doc = normalized(minimal(
        json!({"error_information": {"llm_provider": "vertex_ai"}}),
    ));
    assert_eq!(at(&doc, "gen_ai.system"), &json!("vertex_ai"));
    let doc = normalized(minimal(json!({"custom_llm_provider": ""})));
    assert_eq!(at(&doc, "gen_ai.system"), &json!("litellm"));
}

#[test]
fn outcome_without_status_follows_the_error() {
    let doc = normalized(minimal(json!({"error_str": "boom"})));
    assert_eq!(at(&doc, "event.outcome"), &json!("failure"));
    assert_eq!(at(&doc, "litellm.error.message"), &json!("boom"));
    let doc = normalized(minimal(json!({"error_information": {"error_code": 500}})));
    assert_eq!(at(&doc, "http.response.status_code"), &json!(500));
    assert_eq!(at(&doc, "event.outcome"), &Value::Null);
    let doc = normalized(minimal(
        json!({"error_information": {"error_code": "not-http"}}),
    ));
    assert_eq!(at(&doc, "http.response.status_code"), &Value::Null);
}

#[test]
fn logged_tool_messages_and_tool_calls_become_tool_fields() {
    let doc = normalized(minimal(json!({
        "messages": [
            {"role": "user", "content": "what is in my inbox?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "read_inbox", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "1 new mail from the bank"}
        ],
        "response": {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null, "tool_calls": [{"id": "call_2", "type": "function", "function": {"name": "open_url", "arguments": "{\"url\":\"https://bank.example\"}"}}]}}]}
    })));
    assert_eq!(at(&doc, "gen_ai.tool.name"), &json!(["open_url"]));
    assert_eq!(
        at(&doc, "gen_ai.tool.results"),
        &json!([{"id": "call_1", "content": "1 new mail from the bank"}])
    );
    assert_eq!(
        at(&doc, "gen_ai.tool.calls"),
        &json!([{"id": "call_2", "name": "open_url", "arguments": "{\"url\":\"https://bank.example\"}"}])
    );
}
