//! Tests of the Azure OpenAI normalizer: every `*.raw.json` fixture must
//! normalize to its `*.expected.json`, plus edge cases.

mod common;

use common::object;

use modelward_event::source::azure_openai::{self, NormalizeError, DATASET};
use serde_json::{json, Map, Value};

const SUBSCRIPTION: &str = "5F0C3E7A-2B9D-4C61-9A8E-1D2F3B4C5A6E";

fn fixture_names() -> Vec<String> {
    common::fixture_names("azure_openai")
}

fn fixture(name: &str) -> Map<String, Value> {
    common::fixture("azure_openai", name)
}

#[test]
fn fixtures_normalize_to_their_expected_output() {
    common::assert_fixtures_normalize("azure_openai", 5, |raw| {
        azure_openai::normalize(raw).map_err(|e| e.to_string())
    });
}

#[test]
fn fixtures_are_detected_as_raw_unless_already_in_elastic_form() {
    for name in fixture_names() {
        let raw = fixture(&name);
        let expect_raw = !name.starts_with("elastic_form");
        assert_eq!(
            azure_openai::looks_like(&raw),
            expect_raw,
            "looks_like for {name}"
        );
    }
}

#[test]
fn normalizing_twice_changes_nothing() {
    for name in fixture_names() {
        let raw = fixture(&name);
        let once = azure_openai::normalize(raw).expect("first pass");
        let twice = azure_openai::normalize(once.clone()).expect("second pass");
        assert_eq!(once, twice, "{name}");
    }
}

// ---------------------------------------------------------------------------
// Helpers for the edge cases
// ---------------------------------------------------------------------------

fn resource_id(provider_path: &str) -> String {
    format!("/SUBSCRIPTIONS/{SUBSCRIPTION}/RESOURCEGROUPS/RG-AI/PROVIDERS/{provider_path}")
}

fn audit_record() -> Map<String, Value> {
    object(json!({
        "category": "Audit",
        "operationName": "ListKey",
        "properties": {"objectId": "a41b6e0d-92c3-4f7a-b5d8-0e3c6f19d2a7"},
        "resourceId": resource_id("MICROSOFT.COGNITIVESERVICES/ACCOUNTS/AI-ONE"),
        "time": "2025-03-14T09:26:53.1873320Z"
    }))
}

fn request_response_record() -> Map<String, Value> {
    object(json!({
        "callerIpAddress": "203.0.113.***",
        "category": "RequestResponse",
        "durationMs": 120,
        "operationName": "ChatCompletions_Create",
        "properties": {"apiName": "Azure OpenAI API version 2024-10-21", "responseLength": 900},
        "resourceId": resource_id("MICROSOFT.COGNITIVESERVICES/ACCOUNTS/AI-ONE"),
        "resultSignature": "200",
        "time": "2025-03-14T09:31:07.4127781Z"
    }))
}

fn gateway_record() -> Map<String, Value> {
    object(json!({
        "callerIpAddress": "198.51.100.23",
        "category": "GatewayLogs",
        "durationMs": 80,
        "operationName": "Microsoft.ApiManagement/GatewayLogs",
        "properties": {
            "backendRequestBody": "{\"messages\":[]}",
            "backendResponseBody": "{\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}",
            "method": "POST",
            "responseCode": 200,
            "url": "https://gw.azure-api.net/openai/deployments/d/chat/completions?api-version=1"
        },
        "resourceId": resource_id("MICROSOFT.APIMANAGEMENT/SERVICE/GW"),
        "resultType": "Succeeded",
        "time": "2025-03-14T09:56:51.9023417Z"
    }))
}

fn with(mut record: Map<String, Value>, key: &str, value: Value) -> Map<String, Value> {
    record.insert(key.to_owned(), value);
    record
}

fn with_property(mut record: Map<String, Value>, key: &str, value: Value) -> Map<String, Value> {
    if let Some(Value::Object(properties)) = record.get_mut("properties") {
        properties.insert(key.to_owned(), value);
    }
    record
}

fn field<'a>(doc: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let first = parts.next()?;
    parts.try_fold(doc.get(first)?, |value, key| value.get(key))
}

fn normalized(record: Map<String, Value>) -> Map<String, Value> {
    azure_openai::normalize(record).unwrap_or_else(|e| panic!("normalize failed: {e}"))
}

/// The partial document of a pipeline failure, checking the processor.
fn pipeline_failure(record: Map<String, Value>, processor: &str) -> Map<String, Value> {
    match azure_openai::normalize(record) {
        Err(NormalizeError::PipelineFailed {
            processor: failed,
            partial,
            ..
        }) => {
            assert_eq!(failed, processor);
            *partial
        }
        other => panic!("expected a {processor} failure, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Edge cases
// ---------------------------------------------------------------------------

#[test]
fn properties_string_that_is_not_json_fails_the_pipeline() {
    let record = with(
        request_response_record(),
        "properties",
        json!("{\"apiName\": oops"),
    );
    let partial = pipeline_failure(record, "script");
    assert_eq!(
        field(&partial, "error.message"),
        Some(&json!("runtime error script"))
    );
    assert_eq!(field(&partial, "azure.open_ai.properties"), None);
    assert_eq!(
        field(&partial, "azure.open_ai.category"),
        Some(&json!("RequestResponse"))
    );
    assert_eq!(
        field(&partial, "data_stream.dataset"),
        Some(&json!(DATASET))
    );
}

#[test]
fn properties_string_with_json_is_parsed_and_snake_cased() {
    let record = with(
        request_response_record(),
        "properties",
        json!("{\"modelDeploymentName\":\"gpt-4o\",\"responseLength\":12}"),
    );
    let doc = normalized(record);
    assert_eq!(
        field(&doc, "azure.open_ai.properties.model_deployment_name"),
        Some(&json!("gpt-4o"))
    );
    assert_eq!(
        field(&doc, "azure.open_ai.properties.response_length"),
        Some(&json!(12))
    );
}

#[test]
fn properties_that_are_not_an_object_fail_the_pipeline() {
    for properties in [
        json!(42),
        json!([1, 2]),
        json!(true),
        json!("[1, 2]"),
        json!("\"text\""),
    ] {
        let record = with(audit_record(), "properties", properties.clone());
        let partial = pipeline_failure(record, "script");
        assert!(field(&partial, "error.message").is_some(), "{properties}");
    }
    let mut record = audit_record();
    record.remove("properties");
    pipeline_failure(record, "script");
}

#[test]
fn missing_resource_id_still_normalizes() {
    let mut record = audit_record();
    record.remove("resourceId");
    assert!(azure_openai::looks_like(&record));
    let doc = normalized(record);
    assert_eq!(field(&doc, "azure.resource"), None);
    assert_eq!(field(&doc, "azure.subscription_id"), None);
    assert_eq!(field(&doc, "cloud.account"), None);
    assert_eq!(field(&doc, "cloud.provider"), Some(&json!("azure")));
    assert_eq!(
        field(&doc, "azure.open_ai.operation_name"),
        Some(&json!("ListKey"))
    );
}

#[test]
fn mixed_case_resource_ids_are_lowercased_and_split() {
    let id = "/subscriptions/5f0c3e7a-2b9d-4C61-9A8E-1d2f3b4c5a6e/resourceGroups/My-RG/providers/\
              Microsoft.CognitiveServices/accounts/My-OpenAI";
    let doc = normalized(with(audit_record(), "resourceId", json!(id)));
    assert_eq!(
        field(&doc, "azure.resource.id"),
        Some(&json!(id.to_lowercase()))
    );
    assert_eq!(field(&doc, "azure.resource.group"), Some(&json!("my-rg")));
    assert_eq!(
        field(&doc, "azure.resource.name"),
        Some(&json!("my-openai"))
    );
    assert_eq!(
        field(&doc, "azure.resource.provider"),
        Some(&json!("microsoft.cognitiveservices/accounts"))
    );
    let subscription = json!("5f0c3e7a-2b9d-4c61-9a8e-1d2f3b4c5a6e");
    assert_eq!(field(&doc, "azure.subscription_id"), Some(&subscription));
    assert_eq!(field(&doc, "cloud.account.id"), Some(&subscription));
}

#[test]
fn resource_id_without_the_full_shape_is_only_lowercased() {
    let id = format!("/SUBSCRIPTIONS/{SUBSCRIPTION}/RESOURCEGROUPS/RG-AI");
    let doc = normalized(with(audit_record(), "resourceId", json!(id)));
    assert_eq!(
        field(&doc, "azure.resource.id"),
        Some(&json!(id.to_lowercase()))
    );
    assert_eq!(field(&doc, "azure.resource.group"), None);
    assert_eq!(field(&doc, "azure.subscription_id"), None);
}

#[test]
fn resource_id_that_is_not_a_string_sets_error_message() {
    let doc = normalized(with(audit_record(), "resourceId", json!(17)));
    assert_eq!(field(&doc, "azure.resource.id"), Some(&json!(17)));
    assert_eq!(
        field(&doc, "error.message"),
        Some(&json!(
            "field [azure.resource.id] of type [java.lang.Integer] cannot be cast to [java.lang.String]"
        ))
    );
}

#[test]
fn gateway_caller_ip_goes_to_source_ip_or_source_address() {
    let cases = [
        ("198.51.100.23", "source.ip"),
        ("2001:db8::7", "source.ip"),
        ("::ffff:198.51.100.23", "source.ip"),
        ("10.0.0.***", "source.address"),
        ("198.51.100.256", "source.address"),
        ("010.1.1.1", "source.address"),
        (" 198.51.100.23", "source.address"),
        ("unknown", "source.address"),
    ];
    for (ip, target) in cases {
        let doc = normalized(with(gateway_record(), "callerIpAddress", json!(ip)));
        assert_eq!(field(&doc, target), Some(&json!(ip)), "{ip}");
        let other = if target == "source.ip" {
            "source.address"
        } else {
            "source.ip"
        };
        assert_eq!(field(&doc, other), None, "{ip}");
        assert_eq!(field(&doc, "azure.open_ai.caller_ip_address"), None, "{ip}");
    }
}

#[test]
fn non_gateway_caller_ip_stays_in_azure_open_ai() {
    for ip in ["203.0.113.***", "198.51.100.7"] {
        let doc = normalized(with(
            request_response_record(),
            "callerIpAddress",
            json!(ip),
        ));
        assert_eq!(
            field(&doc, "azure.open_ai.caller_ip_address"),
            Some(&json!(ip))
        );
        assert_eq!(field(&doc, "source"), None);
    }
}

#[test]
fn gateway_fields_move_to_ecs() {
    let doc = normalized(gateway_record());
    assert_eq!(field(&doc, "event.outcome"), Some(&json!("success")));
    assert_eq!(field(&doc, "azure.open_ai.result_type"), None);
    assert_eq!(field(&doc, "http.request.method"), Some(&json!("POST")));
    assert_eq!(field(&doc, "http.response.status_code"), Some(&json!(200)));
    assert_eq!(field(&doc, "url.domain"), Some(&json!("gw.azure-api.net")));
    assert_eq!(field(&doc, "azure.open_ai.properties.url"), None);
    let usage = "azure.open_ai.properties.backend_response_body.usage";
    assert_eq!(
        field(&doc, &format!("{usage}.input_tokens")),
        Some(&json!(3))
    );
    assert_eq!(
        field(&doc, &format!("{usage}.output_tokens")),
        Some(&json!(4))
    );
    // `messages` was an empty list, so it is dropped with its parent.
    assert_eq!(
        field(&doc, "azure.open_ai.properties.backend_request_body"),
        None
    );
}

#[test]
fn result_type_outcome_is_kept_for_request_response() {
    let doc = normalized(with(
        request_response_record(),
        "resultType",
        json!("FAILED"),
    ));
    assert_eq!(field(&doc, "event.outcome"), Some(&json!("failure")));
    assert_eq!(
        field(&doc, "azure.open_ai.result_type"),
        Some(&json!("FAILED"))
    );
}

#[test]
fn durations_use_java_int_arithmetic() {
    let cases = [
        (json!(120), json!(120_000_000)),
        (json!(2147), json!(2_147_000_000)),
        (json!(3000), json!(-1_294_967_296)),
        (json!(3_000_000_000u64), json!(3_000_000_000_000_000u64)),
        (json!(1.5), json!(1_500_000.0)),
        (json!("250"), json!("250")),
    ];
    for (raw, expected) in cases {
        let doc = normalized(with(request_response_record(), "durationMs", raw.clone()));
        assert_eq!(field(&doc, "event.duration"), Some(&expected), "{raw}");
        assert_eq!(field(&doc, "azure.open_ai.duration_ms"), None);
    }
}

#[test]
fn unparsable_time_leaves_no_timestamp() {
    let doc = normalized(with(audit_record(), "time", json!("14/03/2025 09:26")));
    assert_eq!(doc.get("@timestamp"), None);
    assert_eq!(field(&doc, "azure.open_ai.time"), None);
}

#[test]
fn timestamps_with_offsets_are_converted_to_utc() {
    let doc = normalized(with(
        audit_record(),
        "time",
        json!("2025-03-14T11:26:53.1+02:00"),
    ));
    assert_eq!(
        doc.get("@timestamp"),
        Some(&json!("2025-03-14T09:26:53.100Z"))
    );
}

#[test]
fn other_categories_are_dropped() {
    for category in [json!("Trace"), json!("audit"), json!(3)] {
        let record = with(audit_record(), "category", category.clone());
        assert!(
            matches!(
                azure_openai::normalize(record),
                Err(NormalizeError::Dropped { .. })
            ),
            "{category}"
        );
    }
    let mut record = audit_record();
    record.remove("category");
    assert!(matches!(
        azure_openai::normalize(record),
        Err(NormalizeError::Dropped { .. })
    ));
}

#[test]
fn invalid_backend_request_body_fails_but_response_body_is_kept() {
    let record = with_property(
        gateway_record(),
        "backendRequestBody",
        json!("{\"messages\":"),
    );
    let partial = pipeline_failure(record, "json");
    let message = field(&partial, "error.message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    assert!(message.ends_with(" json"), "{message}");

    let body = json!("{\"choices\": [truncated");
    let doc = normalized(with_property(
        gateway_record(),
        "backendResponseBody",
        body.clone(),
    ));
    assert_eq!(
        field(&doc, "azure.open_ai.properties.backend_response_body"),
        Some(&body)
    );
}

#[test]
fn duplicate_keys_in_embedded_json_are_rejected() {
    let record = with_property(
        gateway_record(),
        "backendRequestBody",
        json!("{\"a\":1,\"a\":2}"),
    );
    pipeline_failure(record, "json");
}

#[test]
fn rename_onto_an_existing_field_fails_the_pipeline() {
    let record = with_property(
        with_property(gateway_record(), "requestSize", json!(10)),
        "requestLength",
        json!(11),
    );
    let partial = pipeline_failure(record, "rename");
    assert_eq!(
        field(&partial, "error.message"),
        Some(&json!(
            "field [azure.open_ai.properties.request_length] already exists rename"
        ))
    );
}

#[test]
fn unparsable_url_is_kept_with_an_error() {
    let url = json!("ht tp://bad url");
    let doc = normalized(with_property(gateway_record(), "url", url.clone()));
    assert_eq!(field(&doc, "azure.open_ai.properties.url"), Some(&url));
    assert_eq!(doc.get("url"), None);
    let messages = field(&doc, "error.message")
        .and_then(Value::as_array)
        .cloned();
    assert_eq!(messages.map(|m| m.len()), Some(1));
}

#[test]
fn level_is_converted_to_a_string() {
    for (level, expected) in [
        (json!(4), "4"),
        (json!("Informational"), "Informational"),
        (json!(2.0), "2.0"),
    ] {
        let doc = normalized(with(gateway_record(), "Level", level));
        assert_eq!(field(&doc, "log.level"), Some(&json!(expected)));
        assert_eq!(field(&doc, "azure.open_ai.level"), None);
    }
}

#[test]
fn unknown_keys_are_kept_in_snake_case_and_empty_values_dropped() {
    let record = with(
        with(
            audit_record(),
            "someNewField",
            json!({"innerKey": [{"deepKey": 1}, []], "blank": ""}),
        ),
        "nothing",
        Value::Null,
    );
    let doc = normalized(record);
    assert_eq!(
        field(&doc, "azure.open_ai.some_new_field"),
        Some(&json!({"inner_key": [{"deep_key": 1}]}))
    );
    assert_eq!(field(&doc, "azure.open_ai.nothing"), None);
}

#[test]
fn backend_header_keys_lose_their_dots() {
    let record = with_property(
        gateway_record(),
        "backendRequest",
        json!({"x.ms.region": "weu"}),
    );
    let doc = normalized(record);
    assert_eq!(
        field(&doc, "azure.open_ai.properties.backend_request"),
        Some(&json!({"x_ms_region": "weu"}))
    );
}

#[test]
fn looks_like_recognizes_raw_records_only() {
    assert!(azure_openai::looks_like(&audit_record()));
    assert!(azure_openai::looks_like(&gateway_record()));
    let key_vault = with(
        audit_record(),
        "resourceId",
        json!(resource_id("MICROSOFT.KEYVAULT/VAULTS/KV")),
    );
    assert!(!azure_openai::looks_like(&key_vault));
    let lower = with(
        audit_record(),
        "resourceId",
        json!(
            "/subscriptions/x/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a"
        ),
    );
    assert!(azure_openai::looks_like(&lower));
    let flattened =
        object(json!({"azure.open_ai.category": "Audit", "time": "2025-03-14T09:26:53Z"}));
    assert!(!azure_openai::looks_like(&flattened));
    let with_stream = with(audit_record(), "data_stream", json!({"dataset": DATASET}));
    assert!(!azure_openai::looks_like(&with_stream));
    assert!(!azure_openai::looks_like(&Map::new()));
}

#[test]
fn elastic_form_conflicts_are_reported() {
    let event = object(json!({"azure.open_ai": "oops", "azure.open_ai.category": "Audit"}));
    assert!(matches!(
        azure_openai::normalize(event),
        Err(NormalizeError::FieldConflict { .. })
    ));
}

#[test]
fn odd_values_never_panic() {
    let odd = [
        Value::Null,
        json!(""),
        json!(0),
        json!(-1),
        json!(u64::MAX),
        json!(1e300),
        json!(true),
        json!([]),
        json!([null, {"a": []}]),
        json!({}),
        json!({"nested": {"deeper": [1, "x"]}}),
        json!("\u{0}\u{1F600}%zz[]"),
        json!("/subscriptions/{/resourcegroups//providers//"),
    ];
    let keys = [
        "time",
        "resourceId",
        "callerIpAddress",
        "durationMs",
        "Level",
        "resultType",
        "properties",
        "category",
    ];
    for record in [audit_record(), request_response_record(), gateway_record()] {
        for key in keys {
            for value in &odd {
                let _ = azure_openai::normalize(with(record.clone(), key, value.clone()));
                let _ =
                    azure_openai::normalize(with_property(record.clone(), "url", value.clone()));
                let _ = azure_openai::normalize(with_property(
                    record.clone(),
                    "backendResponseBody",
                    value.clone(),
                ));
            }
        }
    }
}
