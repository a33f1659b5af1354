//! Tests of the AWS Bedrock normalizer: every `*.raw.json` fixture must
//! normalize to its `*.expected.json`, plus edge cases.

mod common;

use common::object;

use modelward_event::source::aws_bedrock::{self, NormalizeError, Options, DATASET};
use serde_json::{json, Map, Value};

fn fixture_names() -> Vec<String> {
    common::fixture_names("aws_bedrock")
}

fn fixture(name: &str) -> Map<String, Value> {
    common::fixture("aws_bedrock", name)
}

fn normalized(raw: Value) -> Value {
    Value::Object(aws_bedrock::normalize(object(raw)).expect("normalizes"))
}

fn at<'a>(doc: &'a Value, path: &str) -> &'a Value {
    path.split('.')
        .fold(doc, |value, key| value.get(key).unwrap_or(&Value::Null))
}

#[test]
fn fixtures_normalize_to_their_expected_output() {
    common::assert_fixtures_normalize("aws_bedrock", 4, |raw| {
        aws_bedrock::normalize(raw).map_err(|e| e.to_string())
    });
}

#[test]
fn fixtures_are_detected_as_raw_unless_already_in_elastic_form() {
    for name in fixture_names() {
        let expect_raw = !name.starts_with("elastic_form");
        assert_eq!(
            aws_bedrock::looks_like(&fixture(&name)),
            expect_raw,
            "looks_like for {name}"
        );
    }
}

#[test]
fn normalizing_twice_changes_nothing() {
    for name in fixture_names() {
        let once = aws_bedrock::normalize(fixture(&name)).expect("first pass");
        assert!(!aws_bedrock::looks_like(&once), "{name}");
        let twice = aws_bedrock::normalize(once.clone()).expect("second pass");
        assert_eq!(once, twice, "{name}");
    }
}

#[test]
fn other_records_are_not_bedrock() {
    for value in [
        json!({}),
        json!({"message": "hello"}),
        json!({"category": "Audit", "operationName": "ListKey", "time": "2025-01-01T00:00:00Z"}),
        json!({"modelId": "x", "operation": "InvokeModel"}),
    ] {
        assert!(!aws_bedrock::looks_like(&object(value.clone())), "{value}");
    }
    assert!(aws_bedrock::looks_like(&object(json!({
        "modelId": "amazon.titan-text-express-v1",
        "operation": "InvokeModel",
        "timestamp": "2025-01-01T00:00:00Z",
        "input": {}
    }))));
}

#[test]
fn prompt_is_the_pipeline_remarshal_with_unescaped_strings_and_java_numbers() {
    let doc = normalized(json!({
        "schemaType": "ModelInvocationLog",
        "timestamp": "2025-01-01T00:00:00Z",
        "modelId": "amazon.titan-text-express-v1",
        "operation": "InvokeModel",
        "input": {"inputBodyJson": {
            "inputText": "a \"quoted\"\nline",
            "textGenerationConfig": {"temperature": 0.0001, "maxTokenCount": 10, "stop": null, "big": 1.0e20}
        }}
    }));
    assert_eq!(
        at(&doc, "gen_ai.prompt"),
        &json!("{\"inputText\":\"a \"quoted\"\nline\",\"textGenerationConfig\":{\"big\":1.0E20,\"maxTokenCount\":10,\"stop\":null,\"temperature\":1.0E-4}}")
    );
    // UTF-16 length of the text.
    let len = at(&doc, "gen_ai.prompt").as_str().unwrap().chars().count();
    assert_eq!(at(&doc, "gen_ai.performance.request_size"), &json!(len));
    assert_eq!(at(&doc, "gen_ai.performance.response_size"), &json!(0));
    assert_eq!(at(&doc, "gen_ai.request.model.type"), &json!("amazon"));
    // Elastic removes the body after dropping empty values: `input` stays `{}`.
    assert_eq!(at(&doc, "aws_bedrock.invocation.input"), &json!({}));
    assert_eq!(at(&doc, "event.outcome"), &json!("success"));
}

#[test]
fn bodies_are_kept_with_preserve_duplicate_custom_fields() {
    let options = Options {
        preserve_duplicate_custom_fields: true,
    };
    let doc = aws_bedrock::normalize_with(fixture("converse"), options).expect("normalizes");
    let doc = Value::Object(doc);
    assert_eq!(
        at(
            &doc,
            "aws_bedrock.invocation.output.output_body_json.stop_reason"
        ),
        &json!("end_turn")
    );
    assert_eq!(
        at(
            &doc,
            "aws_bedrock.invocation.output.output_body_json.metrics.latency_ms"
        ),
        &json!(812)
    );
}

#[test]
fn massive_bodies_are_hashed_and_replaced_by_their_text() {
    let long = "x".repeat(40_000);
    let doc = normalized(json!({
        "schemaType": "ModelInvocationLog",
        "timestamp": "2025-01-01T00:00:00Z",
        "modelId": "meta.llama3-8b-instruct-v1:0",
        "operation": "InvokeModel",
        "input": {"inputContentType": "application/json", "inputBodyJson": {"prompt": long, "max_gen_len": 10}},
        "output": {"outputContentType": "application/json", "outputBodyJson": {"generation": "ok", "stop_reason": "stop"}}
    }));
    let hash = at(
        &doc,
        "aws_bedrock.invocation.input.input_body_json_massive_hash",
    );
    assert_eq!(hash.as_str().map(str::len), Some(40));
    assert_eq!(at(&doc, "gen_ai.prompt"), &json!(long));
    assert!(
        at(&doc, "gen_ai.performance.request_size")
            .as_u64()
            .unwrap()
            > 40_000
    );
    assert_eq!(
        at(&doc, "gen_ai.completion"),
        &json!("{\"generation\":\"ok\",\"stop_reason\":\"stop\"}")
    );
    assert_eq!(at(&doc, "gen_ai.response.finish_reasons"), &json!("stop"));
}

#[test]
fn sha1_matches_a_known_digest() {
    // SHA-1 of the 32 767-unit remarshalled body, as `.sha1()` in Painless.
    let body = "a".repeat(32_765);
    let doc = normalized(json!({
        "schemaType": "ModelInvocationLog",
        "timestamp": "2025-01-01T00:00:00Z",
        "modelId": "m",
        "operation": "InvokeModel",
        "input": {"inputContentType": "text/plain", "inputBodyJson": body}
    }));
    // The remarshalled text is the string in quotes: 32 767 UTF-16 units.
    assert_eq!(at(&doc, "gen_ai.performance.request_size"), &json!(32_767));
    assert!(at(&doc, "gen_ai.prompt").is_null());
    let hash = at(
        &doc,
        "aws_bedrock.invocation.input.input_body_json_massive_hash",
    );
    assert_eq!(hash, &json!("827d654129e20ee24f60398bf34834f393878e09"));
}

#[test]
fn streaming_output_gives_response_id_role_and_latency() {
    let doc = normalized(json!({
        "schemaType": "ModelInvocationLog",
        "timestamp": "2024-04-18T22:54:57Z",
        "modelId": "anthropic.claude-3-haiku-20240307-v1:0",
        "operation": "InvokeModelWithResponseStream",
        "input": {"inputBodyJson": {"anthropic_version": "bedrock-2023-05-31", "messages": []}},
        "output": {"outputBodyJson": [
            {"type": "message_start", "message": {"id": "msg_1", "role": "assistant", "content": []}},
            "stray",
            {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hi"}},
            {"type": "message_stop", "amazon-bedrock-invocationMetrics": {"firstByteLatency": 509, "invocationLatency": 3848}}
        ], "outputTokenCount": "0x10"}
    }));
    assert_eq!(at(&doc, "gen_ai.response.id"), &json!("msg_1"));
    assert_eq!(at(&doc, "gen_ai.request.model.role"), &json!("assistant"));
    assert_eq!(
        at(&doc, "gen_ai.request.model.version"),
        &json!("bedrock-2023-05-31")
    );
    assert_eq!(
        at(&doc, "gen_ai.performance.start_response_time"),
        &json!(509)
    );
    assert_eq!(at(&doc, "gen_ai.performance.response_time"), &json!(3848));
    assert_eq!(at(&doc, "gen_ai.usage.completion_tokens"), &json!(16));
    assert!(at(&doc, "gen_ai.completion")
        .as_str()
        .unwrap()
        .contains("\"content\":[]"));
}

#[test]
fn error_code_sets_failure() {
    let doc = normalized(json!({
        "schemaType": "ModelInvocationLog",
        "timestamp": "2025-01-01T00:00:00Z",
        "identity": {"arn": "arn:aws:iam::1:user/u"},
        "modelId": "anthropic.claude-v2",
        "operation": "InvokeModel",
        "errorCode": "AccessDeniedException",
        "input": {"inputContentType": "application/json"}
    }));
    assert_eq!(
        at(&doc, "gen_ai.response.error_code"),
        &json!("AccessDeniedException")
    );
    assert_eq!(
        at(&doc, "aws_bedrock.invocation.error_code"),
        &json!("AccessDeniedException")
    );
    assert_eq!(at(&doc, "event.outcome"), &json!("failure"));
    assert_eq!(at(&doc, "user.id"), &json!("arn:aws:iam::1:user/u"));
    assert_eq!(at(&doc, "gen_ai.user.id"), &json!("arn:aws:iam::1:user/u"));
    assert!(at(&doc, "aws_bedrock.invocation.identity").is_null());
}

#[test]
fn converse_guardrail_trace_and_word_policy_matches() {
    let doc = normalized(json!({
        "schemaType": "ModelInvocationLog",
        "timestamp": "2025-01-01T00:00:00Z",
        "modelId": "amazon.nova-lite-v1:0",
        "operation": "Converse",
        "input": {"inputBodyJson": {"messages": [{"role": "user", "content": [{"text": "bad words"}]}]}},
        "output": {"outputBodyJson": {
            "output": {"message": {"role": "assistant", "content": [{"text": "Blocked."}]}},
            "stopReason": "guardrail_intervened",
            "trace": {"guardrail": {"inputAssessment": {"gid2": {
                "wordPolicy": {"customWords": [{"match": "bad", "action": "BLOCKED"}]},
                "topicPolicy": {"topics": [{"name": "Crime", "type": "DENY", "action": "BLOCKED"}]}
            }}}}
        }}
    }));
    assert_eq!(at(&doc, "gen_ai.guardrail_id"), &json!(["gid2"]));
    assert_eq!(
        at(&doc, "gen_ai.policy.name"),
        &json!(["topic_policy", "word_policy"])
    );
    assert_eq!(at(&doc, "gen_ai.policy.action"), &json!(["BLOCKED"]));
    assert_eq!(
        at(&doc, "gen_ai.policy.match_detail"),
        &json!([{"match": "bad", "action": "BLOCKED"}])
    );
    assert_eq!(
        at(&doc, "gen_ai.compliance.violation_code"),
        &json!(["DENY"])
    );
    assert_eq!(
        at(&doc, "gen_ai.compliance.violation_detected"),
        &json!(true)
    );
    assert_eq!(
        at(&doc, "gen_ai.response.finish_reasons"),
        &json!("guardrail_intervened")
    );
    assert_eq!(at(&doc, "event.outcome"), &json!("failure"));
}

#[test]
fn pipeline_failure_returns_the_partial_document() {
    let result = aws_bedrock::normalize(object(json!({
        "schemaType": "ModelInvocationLog",
        "timestamp": "2025-01-01T00:00:00Z",
        "modelId": "amazon.titan-text-express-v1",
        "operation": "InvokeModel",
        "input": {"inputBodyJson": "plain text body"}
    })));
    match result {
        Err(NormalizeError::PipelineFailed { partial, .. }) => {
            let partial = Value::Object(*partial);
            assert!(at(&partial, "error.message").is_string());
            assert_eq!(at(&partial, "data_stream.dataset"), &json!(DATASET));
        }
        other => panic!("expected a pipeline failure, got {other:?}"),
    }
}

#[test]
fn odd_inputs_do_not_panic() {
    let odd = [
        json!({"schemaType": "ModelInvocationLog"}),
        json!({"schemaType": "ModelInvocationLog", "timestamp": 5, "identity": "x", "input": [], "output": 3}),
        json!({"schemaType": "ModelInvocationLog", "timestamp": "not a date", "modelId": ".", "input": {"inputBodyJson": {}, "inputTokenCount": "abc"}}),
        json!({"schemaType": "ModelInvocationLog", "modelId": 7, "output": {"outputBodyJson": [null, 1, [2], {"message": {"id": null}}]}}),
        json!({"schemaType": "ModelInvocationLog", "output": {"outputBodyJson": [{"message": {"id": "m"}}]}}),
        json!({"schemaType": "ModelInvocationLog", "output": {"outputBodyJson": {
            "amazon-bedrock-guardrailAction": "INTERVENED",
            "amazon-bedrock-trace": {"guardrail": {"input": {"g": {"contentPolicy": 1, "x": {"filters": "no"}}}, "outputs": [1, {"g": []}]}}
        }}}),
        json!({"schemaType": "ModelInvocationLog", "artifacts": [1, {"base64": "abc"}], "input": {"inputBodyJson": {"top_k": "1e99", "temperature": "NaN", "max_tokens": "-"}}}),
        json!({"aws_bedrock.invocation": 1, "aws_bedrock.invocation.model_id": "x"}),
    ];
    for value in odd {
        let _ = aws_bedrock::normalize(object(value));
    }
}

#[test]
fn elastic_form_conflicts_are_errors() {
    let result = aws_bedrock::normalize(object(json!({
        "aws_bedrock.invocation": 1,
        "aws_bedrock.invocation.model_id": "x"
    })));
    assert!(matches!(result, Err(NormalizeError::FieldConflict { .. })));
}

#[test]
fn converse_tool_use_and_tool_result_become_tool_fields() {
    let doc = normalized(json!({
        "schemaType": "ModelInvocationLog",
        "timestamp": "2025-01-01T00:00:00Z",
        "modelId": "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "operation": "Converse",
        "input": {"inputBodyJson": {"messages": [
            {"role": "user", "content": [{"text": "Summarise the page"}]},
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "tooluse_a", "name": "fetch_url", "input": {"url": "https://example.com"}}}]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "tooluse_a", "content": [{"text": "Welcome to Example"}], "status": "success"}}]}
        ]}},
        "output": {"outputBodyJson": {
            "output": {"message": {"role": "assistant", "content": [{"toolUse": {"toolUseId": "tooluse_b", "name": "send_email", "input": {"to": "x@example.com"}}}]}},
            "stopReason": "tool_use"
        }}
    }));
    assert_eq!(at(&doc, "gen_ai.tool.name"), &json!(["send_email"]));
    assert_eq!(
        at(&doc, "gen_ai.tool.calls"),
        &json!([{"id": "tooluse_b", "name": "send_email", "arguments": "{\"to\":\"x@example.com\"}"}])
    );
    assert_eq!(
        at(&doc, "gen_ai.tool.results"),
        &json!([{"id": "tooluse_a", "content": "Welcome to Example"}])
    );
}
