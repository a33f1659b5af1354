//! Normalizer for AWS Bedrock model invocation logs.
//!
//! Turns one raw Bedrock model invocation log record (`schemaType`
//! `ModelInvocationLog`, as Bedrock writes it to CloudWatch Logs or S3) into
//! the document Elastic's `aws_bedrock` integration indexes into
//! `logs-aws_bedrock.invocation-*`, reproducing its ingest pipeline
//! (`data_stream/invocation/elasticsearch/ingest_pipeline/default.yml`) so
//! that Elastic's Bedrock ES|QL rules see the same fields and values.
//! The guardrail part follows the newer pipeline (with `gen_ai.guardrail_id`
//! and Converse `trace.guardrail.inputAssessment`).
//!
//! # Field mapping
//!
//! | Raw record key                              | Normalized field                                   | Notes |
//! |---------------------------------------------|----------------------------------------------------|-------|
//! | `timestamp`                                 | `@timestamp`, `gen_ai.response.timestamp`          | ISO-8601 → UTC, milliseconds (`2024-04-18T22:54:57Z` → `2024-04-18T22:54:57.000Z`). Unparsable: no `@timestamp` (Elastic keeps the agent's). Removed from the record. |
//! | `operation`                                 | `event.action`                                     | `InvokeModel`, `Converse`, … |
//! | `identity.arn`                              | `user.id`, `gen_ai.user.id`                        | The caller's IAM ARN, verbatim. |
//! | `accountId`                                 | `cloud.account.id`                                 | |
//! | `region`                                    | `cloud.region`                                     | |
//! | `modelId`                                   | `aws_bedrock.invocation.model_id`, `gen_ai.request.model.id` | |
//! | (from `modelId`)                            | `gen_ai.request.model.type`                        | Text before the first `.` (`anthropic`; `us` for an inference profile). |
//! | `input.inputBodyJson.<type>_version`        | `gen_ai.request.model.version`                     | e.g. `anthropic_version`. |
//! | `requestId`                                 | `aws_bedrock.invocation.request_id`, `gen_ai.request.id` | |
//! | `errorCode`                                 | `aws_bedrock.invocation.error_code`, `gen_ai.response.error_code` | Sets `event.outcome: failure`. |
//! | `input.inputTokenCount`                     | `aws_bedrock.invocation.input.input_token_count`, `gen_ai.usage.prompt_tokens` | `convert` to long (`Long.decode`). |
//! | `output.outputTokenCount`                   | `aws_bedrock.invocation.output.output_token_count`, `gen_ai.usage.completion_tokens` | Same. |
//! | `input.inputBodyJson.top_k`, `top_p`, `temperature` | `gen_ai.request.top_k`, `.top_p`, `.temperature` | `convert` to float: `1` becomes `1.0`. Top level of the body only, so Converse's `inferenceConfig` is not read. |
//! | `input.inputBodyJson.max_tokens`            | `gen_ai.request.max_tokens`                        | Long. |
//! | `input.inputBodyJson` (whole body)          | `gen_ai.prompt`, `gen_ai.performance.request_size` | The body re-serialized by the pipeline's Painless `json()`: keys sorted, **strings not escaped** (a newline stays a newline), Java number text (`1.0E-4`). Size is the text's UTF-16 length. |
//! | `output.outputBodyJson` (whole body)        | `gen_ai.completion`, `gen_ai.performance.response_size` | Same. |
//! | `inputBodyJson` / `outputBodyJson` longer than 32 766 | `…input.input_body_json_massive_hash`, `…output.output_body_json_massive_hash` | SHA-1 hex of the text; Elastic then drops `gen_ai.prompt` / `gen_ai.completion`. **modelward addition:** in that case `gen_ai.prompt` / `gen_ai.completion` get the extracted text instead (see below). |
//! | `input.inputBodyJson`, `output.outputBodyJson` | (removed)                                       | Elastic removes the parsed bodies unless the `preserve_duplicate_custom_fields` tag is set; see [`normalize_with`]. Kept under `aws_bedrock.invocation.input.input_body_json` / `output.output_body_json` with it. |
//! | streaming `outputBodyJson[].message.id` / `.role` | `gen_ai.response.id`, `gen_ai.request.model.role` | First chunk with a `message.id`. |
//! | object `outputBodyJson.id`                  | `gen_ai.response.id`                               | |
//! | `outputBodyJson.output.message.role` (Converse) | `gen_ai.request.model.role`                    | |
//! | `outputBodyJson.stop_reason` / `stopReason` | `gen_ai.response.finish_reasons`                   | A string, not a list. |
//! | last `outputBodyJson[].amazon-bedrock-invocationMetrics` | `gen_ai.performance.start_response_time`, `.response_time` | `firstByteLatency`, `invocationLatency` (ms). |
//! | guardrail trace: `outputBodyJson.amazon-bedrock-trace.guardrail.input` / `.outputs[]` (InvokeModel), `outputBodyJson.trace.guardrail.inputAssessment` / `.outputAssessments` (Converse) | `gen_ai.guardrail_id`, `gen_ai.policy.name`, `gen_ai.policy.action`, `gen_ai.policy.confidence`, `gen_ai.policy.match_detail`, `gen_ai.compliance.violation_code` | Policy names snake_cased (`content_policy`, `word_policy`, `topic_policy`, `sensitive_information_policy`, `contextual_grounding_policy`). Lists are distinct and sorted (`match_detail`: findings with a `match`, and all contextual-grounding findings, in trace order). Guardrail ids come from the input assessments only. |
//! | `amazon-bedrock-guardrailAction: INTERVENED` or `stop_reason`/`stopReason: guardrail_intervened` | `gen_ai.compliance.violation_detected: true`, `event.outcome: failure` | Only when a violation code (finding `type`) was found. |
//! | every other key (`schemaType`, `schemaVersion`, `inputContentType`, `outputBodyS3Path`, `artifacts`, …) | `aws_bedrock.invocation.*` | Renamed by the pipeline's fixed table (`schemaType` → `schema_type`, `inputBodyS3Path` → `input_body_s3_path`, `amazon-bedrock-invocationMetrics` → `amazon_bedrock_invocation_metrics`, `contentPolicy` → `content_policy`, `stopReason` → `stop_reason`, …) at any depth; keys not in the table keep their spelling. `artifacts[].base64` over 32 766 chars becomes `base64_massive_hash` + `base64_massive_length`. |
//! | —                                           | `event.outcome`                                    | `failure` (guardrail intervention or `errorCode`), else `success`. |
//! | —                                           | `gen_ai.system`                                    | Always `aws`. |
//! | Converse `toolUse` / `toolResult`, Anthropic `tool_use` / `tool_result` in the bodies | `gen_ai.tool.calls`, `.results`, `.name` | **modelward addition** (see `openai_body::tool_fields`). Streaming output bodies (chunk lists) are not read. |
//! | —                                           | `cloud.service.name`, `ecs.version`                | `bedrock`, `8.11.0`. |
//! | —                                           | `data_stream.{type,dataset,namespace}`, `event.dataset`, `event.module` | `logs`, `aws_bedrock.invocation`, `default`; `aws`. Added by Elastic Agent / constant_keyword mappings, not by the pipeline. |
//!
//! # Prompt and completion text (modelward addition)
//!
//! Elastic's `gen_ai.prompt` / `gen_ai.completion` hold the whole body as
//! JSON text, so text detectors see the prompt. Only when Elastic drops them
//! (bodies over 32 766 UTF-16 units) does modelward write the extracted text
//! instead, joined with newlines: Anthropic Messages (`system`,
//! `messages[].content` text) and legacy `prompt`, Titan `inputText`, Llama /
//! Mistral `prompt`, Converse `system[].text` and `messages[].content[].text`;
//! completions from Anthropic `content[].text` and streaming
//! `delta.text`, Titan `results[].outputText` / `outputText`, Llama
//! `generation`, Mistral `outputs[].text`, Converse
//! `output.message.content[].text`. Bodies only stored in S3
//! (`inputBodyS3Path`) give no text.
//!
//! # Behaviour worth knowing
//!
//! * Empty values (`null`, `""`, then empty objects and lists) are removed,
//!   recursively, before the bodies are removed (so an `input` holding only
//!   a body stays as `{}`, as in Elastic).
//! * Non-object items of a streaming `outputBodyJson` list become
//!   `{"value": item}`.
//! * `event.original` is not reproduced (Elastic keeps the raw line).
//!
//! # Errors
//!
//! Elastic's pipeline fails (and indexes the partial document with
//! `error.message`) when `inputBodyJson` is not an object but the model id
//! has a `.` (the version lookup), or when a streaming output names a
//! `message.id` while there is no `modelId`. [`NormalizeError::PipelineFailed`]
//! carries that partial document. Malformed guardrail traces are skipped
//! here where Painless would throw.
//!
//! # Input already in Elastic form
//!
//! An event with `aws_bedrock` (nested or as dotted keys) or `data_stream`
//! passes through: dotted keys are expanded and `data_stream` /
//! `event.dataset` filled in if absent.

use super::paths::{drop_empty_values, expand_dotted_keys};
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Map, Number, Value};

/// `data_stream.dataset` of the normalized events.
pub const DATASET: &str = "aws_bedrock.invocation";
/// `data_stream.namespace` of the normalized events.
pub const NAMESPACE: &str = "default";
/// `data_stream.type` of the normalized events.
pub const DATA_STREAM_TYPE: &str = "logs";
/// `event.module` (a constant_keyword in the integration's mapping).
pub const EVENT_MODULE: &str = "aws";
/// `gen_ai.system` set by the pipeline.
pub const GEN_AI_SYSTEM: &str = "aws";
/// `cloud.service.name` set by the pipeline.
pub const CLOUD_SERVICE: &str = "bedrock";
/// `ecs.version` set by the pipeline.
pub const ECS_VERSION: &str = "8.11.0";

/// Longest string Elastic keeps in a keyword-like field before hashing it.
const MASSIVE: usize = 32766;

/// The pipeline's key renames, applied at every depth under `aws_bedrock`.
const RENAMES: &[(&str, &str)] = &[
    ("modelId", "model_id"),
    ("inputBodyJson", "input_body_json"),
    ("inputContentType", "input_content_type"),
    ("inputTokenCount", "input_token_count"),
    ("outputBodyJson", "output_body_json"),
    ("outputContentType", "output_content_type"),
    ("outputTokenCount", "output_token_count"),
    ("requestId", "request_id"),
    ("schemaType", "schema_type"),
    ("schemaVersion", "schema_version"),
    ("errorCode", "error_code"),
    ("imageGenerationConfig", "image_generation_config"),
    ("cfgScale", "cfg_scale"),
    ("numberOfImages", "number_of_images"),
    ("imageVariationParams", "image_variation_params"),
    ("inputBodyS3Path", "input_body_s3_path"),
    ("outputBodyS3Path", "output_body_s3_path"),
    ("taskType", "task_type"),
    ("finishReason", "finish_reason"),
    (
        "amazon-bedrock-invocationMetrics",
        "amazon_bedrock_invocation_metrics",
    ),
    ("firstByteLatency", "first_byte_latency"),
    ("invocationLatency", "invocation_latency"),
    (
        "amazon-bedrock-guardrailAction",
        "amazon_bedrock_guardrail_action",
    ),
    ("amazon-bedrock-trace", "amazon_bedrock_trace"),
    ("contentPolicy", "content_policy"),
    ("wordPolicy", "word_policy"),
    ("topicPolicy", "topic_policy"),
    ("customWords", "custom_words"),
    ("sensitiveInformationPolicy", "sensitive_information_policy"),
    ("contextualGroundingPolicy", "contextual_grounding_policy"),
    ("invocationMetrics", "invocation_metrics"),
    ("guardrailCoverage", "guardrail_coverage"),
    ("textCharacters", "text_characters"),
    ("guardrailProcessingLatency", "guardrail_processing_latency"),
    ("contentPolicyUnits", "content_policy_units"),
    (
        "contextualGroundingPolicyUnits",
        "contextual_grounding_policy_units",
    ),
    (
        "sensitiveInformationPolicyFreeUnits",
        "sensitive_information_policy_free_units",
    ),
    (
        "sensitiveInformationPolicyUnits",
        "sensitive_information_policy_units",
    ),
    ("topicPolicyUnits", "topic_policy_units"),
    ("wordPolicyUnits", "word_policy_units"),
    ("piiEntities", "pii_entities"),
    ("normalizeIndex", "normalize_index"),
    ("latencyMs", "latency_ms"),
    ("stopReason", "stop_reason"),
];

/// Why a record could not be normalized.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    /// Elastic's pipeline fails on this record; Elastic indexes the
    /// document as it stood, with `error.message` set (in `partial`).
    #[error(
        "the aws_bedrock ingest pipeline fails on this record in its {processor} processor: \
         {message}"
    )]
    PipelineFailed {
        /// Type of the failing processor.
        processor: &'static str,
        /// What went wrong.
        message: String,
        /// The partially processed document Elastic would index.
        partial: Box<Map<String, Value>>,
    },
    /// An Elastic-form event uses the same path for a value and an object.
    #[error("field {path} is both a value and an object in this event")]
    FieldConflict {
        /// The dotted path in conflict.
        path: String,
    },
}

/// Options matching the integration's optional tags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// The `preserve_duplicate_custom_fields` tag: keep
    /// `aws_bedrock.invocation.input.input_body_json` and
    /// `output.output_body_json`.
    pub preserve_duplicate_custom_fields: bool,
}

/// True for a raw Bedrock model invocation log record (not one already in
/// Elastic form).
pub fn looks_like(obj: &Map<String, Value>) -> bool {
    if is_elastic_form(obj) {
        return false;
    }
    if obj.get("schemaType").and_then(Value::as_str) == Some("ModelInvocationLog") {
        return true;
    }
    obj.get("modelId").is_some_and(Value::is_string)
        && obj.get("operation").is_some_and(Value::is_string)
        && obj.contains_key("timestamp")
        && (obj.contains_key("input") || obj.contains_key("output"))
}

/// Normalize one raw record with the integration's default settings (see
/// the module documentation). An event already in Elastic form passes
/// through.
pub fn normalize(raw: Map<String, Value>) -> Result<Map<String, Value>, NormalizeError> {
    normalize_with(raw, Options::default())
}

/// [`normalize`] with the integration's optional tags.
pub fn normalize_with(
    raw: Map<String, Value>,
    options: Options,
) -> Result<Map<String, Value>, NormalizeError> {
    if is_elastic_form(&raw) {
        return normalize_elastic_form(raw);
    }
    let extras = extras(&raw);
    let mut doc = Map::new();
    let mut invocation = Map::new();
    invocation.insert("invocation".into(), Value::Object(raw));
    doc.insert("aws_bedrock".into(), Value::Object(invocation));
    let result = run_pipeline(&mut doc, options);
    for (path, value) in extras {
        if get(&doc, path).is_none() {
            put(&mut doc, path, value);
        }
    }
    match result {
        Ok(()) => {
            add_agent_fields(&mut doc);
            Ok(doc)
        }
        Err(failure) => {
            let text = format!(
                "Processor '{}' failed with message '{}'",
                failure.processor, failure.message
            );
            put(&mut doc, "error.message", Value::String(text));
            add_agent_fields(&mut doc);
            Err(NormalizeError::PipelineFailed {
                processor: failure.processor,
                message: failure.message,
                partial: Box::new(doc),
            })
        }
    }
}

/// What extraction detection needs that Elastic's pipeline does not map, read from the raw
/// record before the pipeline removes the bodies: prompt-cache token counts (the log's
/// `input.cacheReadInputTokenCount` / `cacheWriteInputTokenCount`, or the response body's
/// `usage`: Converse's `cacheReadInputTokens` / `cacheWriteInputTokens`, Anthropic's
/// `cache_read_input_tokens` / `cache_creation_input_tokens`), and the OpenAI-style
/// sampling parameters of OpenAI-compatible models (`logprobs`, `top_logprobs`,
/// `logit_bias`, `n`, `seed`).
fn extras(raw: &Map<String, Value>) -> Vec<(&'static str, Value)> {
    let raw = Value::Object(raw.clone());
    let first = |paths: &[&str]| {
        paths
            .iter()
            .find_map(|p| raw.pointer(p).filter(|v| v.is_number()).cloned())
    };
    let mut out = Vec::new();
    if let Some(n) = first(&[
        "/input/cacheReadInputTokenCount",
        "/output/outputBodyJson/usage/cacheReadInputTokens",
        "/output/outputBodyJson/usage/cache_read_input_tokens",
    ]) {
        out.push((super::openai_body::CACHE_READ, n));
    }
    if let Some(n) = first(&[
        "/input/cacheWriteInputTokenCount",
        "/output/outputBodyJson/usage/cacheWriteInputTokens",
        "/output/outputBodyJson/usage/cache_creation_input_tokens",
    ]) {
        out.push((super::openai_body::CACHE_CREATION, n));
    }
    for (key, path) in [
        ("logprobs", "gen_ai.request.logprobs"),
        ("top_logprobs", "gen_ai.request.top_logprobs"),
        ("logit_bias", "gen_ai.request.logit_bias"),
        ("n", "gen_ai.request.n"),
        ("seed", "gen_ai.request.seed"),
    ] {
        if let Some(v) = raw
            .pointer(&format!("/input/inputBodyJson/{key}"))
            .filter(|v| !v.is_null())
        {
            out.push((path, v.clone()));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The pipeline
// ---------------------------------------------------------------------------

struct Failure {
    processor: &'static str,
    message: String,
}

const INV: &str = "aws_bedrock.invocation";
const INPUT_BODY: &str = "aws_bedrock.invocation.input.input_body_json";
const OUTPUT_BODY: &str = "aws_bedrock.invocation.output.output_body_json";

fn run_pipeline(doc: &mut Map<String, Value>, options: Options) -> Result<(), Failure> {
    put(doc, "ecs.version", Value::String(ECS_VERSION.into()));
    put(
        doc,
        "cloud.service.name",
        Value::String(CLOUD_SERVICE.into()),
    );
    if let Some(ts) = get(doc, "aws_bedrock.invocation.timestamp").and_then(timestamp) {
        put(doc, "@timestamp", Value::String(ts));
    }
    take(doc, "aws_bedrock.invocation.timestamp");
    for (from, to) in [
        ("operation", "event.action"),
        ("identity.arn", "user.id"),
        ("accountId", "cloud.account.id"),
        ("region", "cloud.region"),
    ] {
        let from = format!("{INV}.{from}");
        if let Some(value) = take(doc, &from) {
            put(doc, to, value);
        }
    }
    hash_massive_artifacts(doc);

    put(doc, "gen_ai.system", Value::String(GEN_AI_SYSTEM.into()));
    if let Some(ts) = get(doc, "@timestamp").cloned() {
        put(doc, "gen_ai.response.timestamp", ts);
    }
    let prompt = get(doc, "aws_bedrock.invocation.input.inputBodyJson").and_then(painless_json);
    let completion =
        get(doc, "aws_bedrock.invocation.output.outputBodyJson").and_then(painless_json);
    put(doc, "gen_ai.performance.request_size", Value::from(0));
    put(doc, "gen_ai.performance.response_size", Value::from(0));

    if let Some(Value::Object(bedrock)) = doc.remove("aws_bedrock") {
        doc.insert("aws_bedrock".into(), Value::Object(rename_keys(bedrock)));
    }
    wrap_non_object_chunks(doc);

    if let Some(id) = get(doc, "aws_bedrock.invocation.model_id").cloned() {
        put(doc, "gen_ai.request.model.id", id);
    }
    model_type_and_version(doc)?;
    convert(
        doc,
        "aws_bedrock.invocation.input.input_token_count",
        "gen_ai.usage.prompt_tokens",
        to_long,
    );
    convert(
        doc,
        &format!("{INPUT_BODY}.top_k"),
        "gen_ai.request.top_k",
        to_float,
    );
    convert(
        doc,
        &format!("{INPUT_BODY}.top_p"),
        "gen_ai.request.top_p",
        to_float,
    );
    convert(
        doc,
        &format!("{INPUT_BODY}.temperature"),
        "gen_ai.request.temperature",
        to_float,
    );
    convert(
        doc,
        &format!("{INPUT_BODY}.max_tokens"),
        "gen_ai.request.max_tokens",
        to_long,
    );
    convert(
        doc,
        "aws_bedrock.invocation.output.output_token_count",
        "gen_ai.usage.completion_tokens",
        to_long,
    );
    if let Some(id) = non_null(get(doc, "aws_bedrock.invocation.request_id")) {
        put(doc, "gen_ai.request.id", id);
    }
    response_fields(doc)?;
    if let Some(user) = non_null(get(doc, "user.id")) {
        put(doc, "gen_ai.user.id", user);
    }
    if let Some(code) = non_null(get(doc, "aws_bedrock.invocation.error_code")) {
        put(doc, "gen_ai.response.error_code", code);
    }
    guardrail_details(doc);
    if non_null(get(doc, "gen_ai.response.error_code")).is_some() {
        put(doc, "event.outcome", Value::String("failure".into()));
    }
    if non_null(get(doc, "event.outcome")).is_none() {
        put(doc, "event.outcome", Value::String("success".into()));
    }

    // Sizes and massive bodies.
    let mut prompt_dropped = false;
    let mut completion_dropped = false;
    if let Some(text) = &prompt {
        let len = utf16_len(text);
        put(doc, "gen_ai.performance.request_size", Value::from(len));
        if len > MASSIVE {
            put(
                doc,
                "aws_bedrock.invocation.input.input_body_json_massive_hash",
                Value::String(sha1_hex(text.as_bytes())),
            );
            prompt_dropped = true;
        } else {
            put(doc, "gen_ai.prompt", Value::String(text.clone()));
        }
    }
    if let Some(text) = &completion {
        let len = utf16_len(text);
        put(doc, "gen_ai.performance.response_size", Value::from(len));
        if len > MASSIVE {
            put(
                doc,
                "aws_bedrock.invocation.output.output_body_json_massive_hash",
                Value::String(sha1_hex(text.as_bytes())),
            );
            completion_dropped = true;
        } else {
            put(doc, "gen_ai.completion", Value::String(text.clone()));
        }
    }
    // modelward addition: tool calls and results (Converse and Anthropic Messages bodies).
    let request = get(doc, INPUT_BODY).cloned().unwrap_or(Value::Null);
    let response = get(doc, OUTPUT_BODY).cloned().unwrap_or(Value::Null);
    for (key, value) in super::openai_body::tool_fields(&request, &response) {
        put(doc, &key, value);
    }
    // modelward addition: readable text where Elastic keeps none.
    if prompt_dropped {
        if let Some(text) = get(doc, INPUT_BODY).and_then(prompt_text) {
            put(doc, "gen_ai.prompt", Value::String(text));
        }
        take(doc, INPUT_BODY);
    }
    if completion_dropped {
        if let Some(text) = get(doc, OUTPUT_BODY).and_then(completion_text) {
            put(doc, "gen_ai.completion", Value::String(text));
        }
        take(doc, OUTPUT_BODY);
    }

    drop_empty_values(doc);
    if !options.preserve_duplicate_custom_fields {
        take(doc, INPUT_BODY);
        take(doc, OUTPUT_BODY);
    }
    Ok(())
}

fn non_null(value: Option<&Value>) -> Option<Value> {
    value.filter(|v| !v.is_null()).cloned()
}

fn hash_massive_artifacts(doc: &mut Map<String, Value>) {
    let Some(Value::Array(items)) = get_mut(doc, "aws_bedrock.invocation.artifacts") else {
        return;
    };
    for item in items {
        let Value::Object(artifact) = item else {
            continue;
        };
        let Some(Value::String(b64)) = artifact.get("base64") else {
            continue;
        };
        let len = utf16_len(b64);
        if len > MASSIVE {
            let hash = sha1_hex(b64.as_bytes());
            artifact.insert("base64_massive_hash".into(), Value::String(hash));
            artifact.insert("base64_massive_length".into(), Value::from(len));
            artifact.remove("base64");
        }
    }
}

/// The pipeline's `renameKeys`: maps and maps directly inside lists.
fn rename_keys(map: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in map {
        let value = match value {
            Value::Object(inner) => Value::Object(rename_keys(inner)),
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|item| match item {
                        Value::Object(inner) => Value::Object(rename_keys(inner)),
                        other => other,
                    })
                    .collect(),
            ),
            other => other,
        };
        let key = RENAMES
            .iter()
            .find(|(from, _)| *from == key)
            .map_or(key, |(_, to)| (*to).to_owned());
        out.insert(key, value);
    }
    out
}

fn wrap_non_object_chunks(doc: &mut Map<String, Value>) {
    if let Some(Value::Array(items)) = get_mut(doc, OUTPUT_BODY) {
        for item in items.iter_mut() {
            if !item.is_object() {
                let mut wrapped = Map::new();
                wrapped.insert("value".into(), item.take());
                *item = Value::Object(wrapped);
            }
        }
    }
}

fn model_type_and_version(doc: &mut Map<String, Value>) -> Result<(), Failure> {
    let Some(body) = non_null(get(doc, INPUT_BODY)) else {
        return Ok(());
    };
    let Some(Value::String(id)) = get(doc, "gen_ai.request.model.id") else {
        return Ok(());
    };
    let Some(dot) = id.find('.') else {
        return Ok(());
    };
    let typ = id[..dot].to_owned();
    put(doc, "gen_ai.request.model.type", Value::String(typ.clone()));
    let version = match &body {
        Value::Object(map) => map
            .get(&format!("{typ}_version"))
            .cloned()
            .unwrap_or(Value::Null),
        _ => {
            return Err(Failure {
                processor: "script",
                message: "runtime error".into(),
            })
        }
    };
    put(doc, "gen_ai.request.model.version", version);
    Ok(())
}

fn response_fields(doc: &mut Map<String, Value>) -> Result<(), Failure> {
    let body = get(doc, OUTPUT_BODY).cloned().unwrap_or(Value::Null);
    match &body {
        Value::Array(items) => {
            for item in items {
                let message = item.get("message");
                if let Some(id) = non_null(message.and_then(|m| m.get("id"))) {
                    if !matches!(get(doc, "gen_ai.request"), Some(Value::Object(_))) {
                        return Err(Failure {
                            processor: "script",
                            message: "runtime error".into(),
                        });
                    }
                    let role = message
                        .and_then(|m| m.get("role"))
                        .cloned()
                        .unwrap_or(Value::Null);
                    put(doc, "gen_ai.request.model.role", role);
                    put(doc, "gen_ai.response.id", id);
                    break;
                }
            }
            for item in items.iter().rev() {
                let Some(metrics) = item.get("amazon_bedrock_invocation_metrics") else {
                    continue;
                };
                if non_null(metrics.get("invocation_latency")).is_some() {
                    let first = metrics
                        .get("first_byte_latency")
                        .cloned()
                        .unwrap_or(Value::Null);
                    let total = metrics
                        .get("invocation_latency")
                        .cloned()
                        .unwrap_or(Value::Null);
                    put(doc, "gen_ai.performance.start_response_time", first);
                    put(doc, "gen_ai.performance.response_time", total);
                    break;
                }
            }
        }
        Value::Object(map) => {
            if let Some(id) = non_null(map.get("id")) {
                put(doc, "gen_ai.response.id", id);
            }
            let role = map
                .get("output")
                .and_then(|o| o.get("message"))
                .and_then(|m| m.get("role"));
            if let Some(role) = non_null(role) {
                put(doc, "gen_ai.request.model.role", role);
            }
            if let Some(reason) = non_null(map.get("stop_reason")) {
                put(doc, "gen_ai.response.finish_reasons", reason);
            }
        }
        _ => {}
    }
    Ok(())
}

/// The guardrail script: findings from InvokeModel and Converse traces.
fn guardrail_details(doc: &mut Map<String, Value>) {
    let bodies: Vec<Value> = match get(doc, OUTPUT_BODY) {
        None | Some(Value::Null) => return,
        Some(Value::Array(items)) => items.clone(),
        Some(other) => vec![other.clone()],
    };
    // Assessments: maps of guardrail id -> policies.
    let mut assessments: Vec<&Map<String, Value>> = Vec::new();
    let mut guardrail_ids: Vec<Value> = Vec::new();
    for body in &bodies {
        let converse = body.get("trace").and_then(|t| t.get("guardrail"));
        let invoke = body
            .get("amazon_bedrock_trace")
            .and_then(|t| t.get("guardrail"));
        for (trace, input_key, outputs_key) in [
            (converse, "inputAssessment", "outputAssessments"),
            (invoke, "input", "outputs"),
        ] {
            let Some(trace) = trace else { continue };
            if let Some(Value::Object(input)) = trace.get(input_key) {
                assessments.push(input);
                for id in input.keys() {
                    push_distinct(&mut guardrail_ids, Value::String(id.clone()));
                }
            }
            if let Some(Value::Array(outputs)) = trace.get(outputs_key) {
                assessments.extend(outputs.iter().filter_map(Value::as_object));
            }
        }
    }
    // Findings: (policy name, details).
    let mut findings: Vec<(String, Value)> = Vec::new();
    for assessment in assessments {
        for policies in assessment.values() {
            let Some(policies) = policies.as_object() else {
                continue;
            };
            for (name, policy) in policies {
                if !name.ends_with("_policy") {
                    continue;
                }
                let Some(policy) = policy.as_object() else {
                    continue;
                };
                for list in policy.values() {
                    let Some(list) = list.as_array() else {
                        continue;
                    };
                    for details in list {
                        findings.push((name.clone(), details.clone()));
                    }
                }
            }
        }
    }
    let mut names = Vec::new();
    let mut actions = Vec::new();
    let mut matches = Vec::new();
    let mut confidences = Vec::new();
    let mut codes = Vec::new();
    for (name, details) in &findings {
        push_distinct(&mut names, Value::String(name.clone()));
        if let Some(action) = non_null(details.get("action")) {
            push_distinct(&mut actions, action);
        }
        if non_null(details.get("match")).is_some() || name == "contextual_grounding_policy" {
            push_distinct(&mut matches, details.clone());
        }
        if let Some(confidence) = non_null(details.get("confidence")) {
            push_distinct(&mut confidences, confidence);
        }
        if let Some(code) = non_null(details.get("type")) {
            push_distinct(&mut codes, code);
        }
    }
    let intervened = bodies.iter().any(|body| {
        body.get("amazon_bedrock_guardrail_action")
            .and_then(Value::as_str)
            == Some("INTERVENED")
            || body.get("stop_reason").and_then(Value::as_str) == Some("guardrail_intervened")
    });
    let violation = !codes.is_empty() && intervened;
    put(
        doc,
        "gen_ai.guardrail_id",
        Value::Array(sorted(guardrail_ids)),
    );
    put(doc, "gen_ai.policy.name", Value::Array(sorted(names)));
    put(doc, "gen_ai.policy.action", Value::Array(sorted(actions)));
    put(doc, "gen_ai.policy.match_detail", Value::Array(matches));
    put(
        doc,
        "gen_ai.policy.confidence",
        Value::Array(sorted(confidences)),
    );
    put(
        doc,
        "gen_ai.compliance.violation_code",
        Value::Array(sorted(codes)),
    );
    if violation {
        put(
            doc,
            "gen_ai.compliance.violation_detected",
            Value::Bool(true),
        );
        put(doc, "event.outcome", Value::String("failure".into()));
    }
}

fn push_distinct(list: &mut Vec<Value>, value: Value) {
    if !list.contains(&value) {
        list.push(value);
    }
}

/// Sorts like Java's natural order for strings (UTF-16) and numbers;
/// other values keep their order after them.
fn sorted(mut values: Vec<Value>) -> Vec<Value> {
    values.sort_by(|a, b| match (a, b) {
        (Value::String(x), Value::String(y)) => x.encode_utf16().cmp(y.encode_utf16()),
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(std::cmp::Ordering::Equal),
        (Value::String(_), _) => std::cmp::Ordering::Less,
        (_, Value::String(_)) => std::cmp::Ordering::Greater,
        _ => std::cmp::Ordering::Equal,
    });
    values
}

fn convert(doc: &mut Map<String, Value>, from: &str, to: &str, f: fn(&Value) -> Option<Value>) {
    let Some(value) = get(doc, from) else { return };
    if value.is_null() {
        return;
    }
    let converted = match value {
        Value::Array(items) => items
            .iter()
            .map(f)
            .collect::<Option<Vec<_>>>()
            .map(Value::Array),
        other => f(other),
    };
    if let Some(converted) = converted {
        put(doc, to, converted);
    }
}

/// Java's `toString` of a value from Elasticsearch's JSON parser.
fn java_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(java_number(n)),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `convert` to long: `Long.decode(value.toString())`.
fn to_long(value: &Value) -> Option<Value> {
    let text = java_text(value)?;
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text.as_str()),
    };
    let (radix, digits) = if let Some(hex) = rest
        .strip_prefix("0x")
        .or_else(|| rest.strip_prefix("0X"))
        .or_else(|| rest.strip_prefix('#'))
    {
        (16, hex)
    } else if rest.len() > 1 && rest.starts_with('0') {
        (8, &rest[1..])
    } else {
        (10, rest)
    };
    if digits.is_empty() || digits.starts_with(['-', '+']) {
        return None;
    }
    let signed = if negative {
        format!("-{digits}")
    } else {
        digits.to_owned()
    };
    i64::from_str_radix(&signed, radix).ok().map(Value::from)
}

/// `convert` to float: `Float.parseFloat(value.toString())`, stored as the
/// float's shortest decimal text.
fn to_float(value: &Value) -> Option<Value> {
    let text = java_text(value)?;
    let trimmed = text.trim_matches(|c: char| c <= ' ');
    let trimmed = trimmed
        .strip_suffix(['f', 'F', 'd', 'D'])
        .unwrap_or(trimmed);
    if trimmed.is_empty()
        || !trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
    {
        return None;
    }
    let parsed: f32 = trimmed.parse().ok()?;
    if !parsed.is_finite() {
        return None;
    }
    let wide: f64 = parsed.to_string().parse().ok()?;
    Number::from_f64(wide).map(Value::Number)
}

/// Java's `Integer/Long/Double.toString`.
fn java_number(n: &Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let Some(x) = n.as_f64() else {
        return n.to_string();
    };
    java_double(x)
}

fn java_double(x: f64) -> String {
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let abs = x.abs();
    if (1e-3..1e7).contains(&abs) {
        let text = format!("{x}");
        return if text.contains('.') {
            text
        } else {
            format!("{text}.0")
        };
    }
    // Shortest digits in scientific form: "d.ddde-N".
    let sci = format!("{x:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_owned()
    } else {
        format!("{mantissa}.0")
    };
    format!("{mantissa}E{exponent}")
}

/// The pipeline's Painless `json()`: keys sorted, strings not escaped.
fn painless_json(value: &Value) -> Option<String> {
    if value.is_null() {
        return None;
    }
    let mut out = String::new();
    write_painless_json(value, &mut out);
    Some(out)
}

fn write_painless_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&java_number(n)),
        Value::String(s) => {
            out.push('"');
            out.push_str(s);
            out.push('"');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i != 0 {
                    out.push(',');
                }
                write_painless_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i != 0 {
                    out.push(',');
                }
                out.push('"');
                out.push_str(key);
                out.push_str("\":");
                if let Some(item) = map.get(key) {
                    write_painless_json(item, out);
                }
            }
            out.push('}');
        }
    }
}

fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

fn timestamp(value: &Value) -> Option<String> {
    let text = value.as_str()?.trim();
    let parsed: DateTime<Utc> = if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        t.with_timezone(&Utc)
    } else if let Ok(t) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        t.and_utc()
    } else if let Ok(t) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M") {
        t.and_utc()
    } else {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)?
            .and_utc()
    };
    Some(parsed.to_rfc3339_opts(SecondsFormat::Millis, true))
}

// ---------------------------------------------------------------------------
// Text extraction (modelward addition)
// ---------------------------------------------------------------------------

fn push_text(parts: &mut Vec<String>, value: Option<&Value>) {
    match value {
        Some(Value::String(s)) if !s.is_empty() => parts.push(s.clone()),
        Some(Value::Array(items)) => {
            for item in items {
                match item {
                    Value::String(_) => push_text(parts, Some(item)),
                    Value::Object(block) => push_text(parts, block.get("text")),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

fn joined(parts: Vec<String>) -> Option<String> {
    (!parts.is_empty()).then(|| parts.join("\n"))
}

fn prompt_text(body: &Value) -> Option<String> {
    let map = body.as_object()?;
    let mut parts = Vec::new();
    push_text(&mut parts, map.get("system"));
    if let Some(Value::Array(messages)) = map.get("messages") {
        for message in messages {
            push_text(&mut parts, message.get("content"));
        }
    }
    push_text(&mut parts, map.get("prompt"));
    push_text(&mut parts, map.get("inputText"));
    joined(parts)
}

fn completion_text(body: &Value) -> Option<String> {
    let mut parts = Vec::new();
    let chunks: Vec<&Value> = match body {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut streamed = String::new();
    for chunk in chunks {
        let Some(map) = chunk.as_object() else {
            continue;
        };
        if let Some(Value::String(s)) = map.get("delta").and_then(|d| d.get("text")) {
            streamed.push_str(s);
        }
        push_text(&mut parts, map.get("content"));
        push_text(&mut parts, map.get("completion"));
        push_text(&mut parts, map.get("generation"));
        push_text(&mut parts, map.get("outputText"));
        for key in ["results", "outputs"] {
            if let Some(Value::Array(items)) = map.get(key) {
                for item in items {
                    push_text(&mut parts, item.get("outputText"));
                    push_text(&mut parts, item.get("text"));
                }
            }
        }
        let converse = map
            .get("output")
            .and_then(|o| o.get("message"))
            .and_then(|m| m.get("content"));
        push_text(&mut parts, converse);
    }
    if !streamed.is_empty() {
        parts.push(streamed);
    }
    joined(parts)
}

// ---------------------------------------------------------------------------
// SHA-1 (for the `*_massive_hash` fields)
// ---------------------------------------------------------------------------

fn sha1_hex(data: &[u8]) -> String {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let mut message = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&bit_len.to_be_bytes());
    for block in message.chunks_exact(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, word) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let temp = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*word);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = temp;
        }
        for (slot, value) in h.iter_mut().zip([a, b, c, d, e]) {
            *slot = slot.wrapping_add(value);
        }
    }
    h.iter().map(|word| format!("{word:08x}")).collect()
}

// ---------------------------------------------------------------------------
// Paths, empty values, agent fields, Elastic form
// ---------------------------------------------------------------------------

fn get<'a>(doc: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut segments = path.split('.');
    let mut current = doc.get(segments.next()?)?;
    for segment in segments {
        current = current.as_object()?.get(segment)?;
    }
    Some(current)
}

fn get_mut<'a>(doc: &'a mut Map<String, Value>, path: &str) -> Option<&'a mut Value> {
    let mut segments = path.split('.');
    let mut current = doc.get_mut(segments.next()?)?;
    for segment in segments {
        current = current.as_object_mut()?.get_mut(segment)?;
    }
    Some(current)
}

/// Sets a dotted path, creating objects (and replacing non-objects) on the
/// way, as the `set` processor does.
fn put(doc: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            doc.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let slot = doc
                .entry(head.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(inner) = slot {
                put(inner, rest, value);
            }
        }
    }
}

fn take(doc: &mut Map<String, Value>, path: &str) -> Option<Value> {
    match path.rsplit_once('.') {
        None => doc.remove(path),
        Some((parent, last)) => match get_mut(doc, parent)? {
            Value::Object(map) => map.remove(last),
            _ => None,
        },
    }
}

/// Elastic Agent adds the data stream fields; `event.dataset` and
/// `event.module` are constant_keyword fields of the integration.
fn add_agent_fields(doc: &mut Map<String, Value>) {
    let mut data_stream = Map::new();
    data_stream.insert("dataset".into(), Value::String(DATASET.into()));
    data_stream.insert("namespace".into(), Value::String(NAMESPACE.into()));
    data_stream.insert("type".into(), Value::String(DATA_STREAM_TYPE.into()));
    doc.insert("data_stream".into(), Value::Object(data_stream));
    if get(doc, "event.dataset").is_none() {
        put(doc, "event.dataset", Value::String(DATASET.into()));
    }
    if get(doc, "event.module").is_none() {
        put(doc, "event.module", Value::String(EVENT_MODULE.into()));
    }
}

fn is_elastic_form(obj: &Map<String, Value>) -> bool {
    obj.contains_key("aws_bedrock")
        || obj.contains_key("data_stream")
        || obj
            .keys()
            .any(|key| key.starts_with("aws_bedrock.") || key.starts_with("data_stream."))
}

fn normalize_elastic_form(event: Map<String, Value>) -> Result<Map<String, Value>, NormalizeError> {
    let mut nested =
        expand_dotted_keys(event).map_err(|path| NormalizeError::FieldConflict { path })?;
    if !nested.contains_key("data_stream") {
        add_agent_fields(&mut nested);
    }
    Ok(nested)
}

use super::contract::{self, Domain, Synthesized};

/// This source's normalizer in the [`super::REGISTRY`].
pub static SOURCE: contract::Source = contract::Source {
    kind: super::SourceKind::AwsBedrock,
    name: "aws_bedrock",
    looks_like,
    normalize: normalize_record,
    synthesized: &[SYNTHESIZED],
};

/// [`normalize`] under the one contract.
fn normalize_record(raw: Map<String, Value>) -> Result<super::Normalized, super::SourceError> {
    let result = normalize(raw).map_err(|e| match e {
        NormalizeError::PipelineFailed {
            processor,
            message,
            partial,
        } => pipeline_failed(processor, message, *partial),
        other => (other.to_string(), None),
    });
    super::partial_or_invalid("aws_bedrock", result)
}

/// A pipeline failure's message, and the document the vendor indexes anyway.
fn pipeline_failed(
    processor: &'static str,
    message: String,
    partial: Map<String, Value>,
) -> (String, Option<Map<String, Value>>) {
    let text = NormalizeError::PipelineFailed {
        processor,
        message,
        partial: Box::default(),
    }
    .to_string();
    (text, Some(partial))
}

/// The fields this normalizer writes itself (see [`super::contract`]).
const SYNTHESIZED: &[Synthesized] = &[
    Synthesized::new("data_stream.dataset", Domain::Consts(&[DATASET])),
    Synthesized::new("event.dataset", Domain::Consts(&[DATASET])),
    Synthesized::new("gen_ai.system", Domain::Consts(&[GEN_AI_SYSTEM])),
    Synthesized::new("cloud.service.name", Domain::Consts(&[CLOUD_SERVICE])),
    Synthesized::new("gen_ai.response.timestamp", contract::TIME),
    // Sizes, token counts and sampling parameters as numbers.
    Synthesized::new("gen_ai.performance", contract::NUMBER),
    Synthesized::new("gen_ai.request", contract::NUMBER),
    Synthesized::new("gen_ai.usage", contract::NUMBER),
    Synthesized::new("aws_bedrock.invocation", contract::NUMBER),
    // The bodies, serialized again (keys in another order, escapes of their own).
    Synthesized::new("gen_ai.prompt", Domain::Any),
    Synthesized::new("gen_ai.completion", Domain::Any),
    // Tool calls and results (`openai_body::tool_fields`): arguments re-serialized, text
    // parts joined.
    Synthesized::new("gen_ai.tool", Domain::Any),
    // Guardrail trace keys renamed to snake case become the policy names.
    Synthesized::new(
        "gen_ai.policy.name",
        Domain::Consts(&[
            "content_policy",
            "word_policy",
            "topic_policy",
            "sensitive_information_policy",
            "contextual_grounding_policy",
        ]),
    ),
    Synthesized::new("gen_ai.compliance.violation_detected", contract::BOOL),
];
