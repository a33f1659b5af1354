//! Google Vertex AI request-response logs: the rows Vertex AI writes to a BigQuery table
//! when request-response logging is on for a Gemini model, a tuned model's endpoint or a
//! partner model (`PublisherModelConfig` / `PredictRequestResponseLoggingConfig`; the table
//! is `request_response_logging` unless named), as they come out of BigQuery: `bq query
//! --format=json` / `prettyjson` (a JSON array of rows), `bq extract
//! --destination_format NEWLINE_DELIMITED_JSON` (one row a line), or a client library's rows
//! written as JSON. The columns are those Elastic's `gcp.vertexai_logs` metricset selects
//! from the table (schema v1/v2):
//!
//! | column | type | field |
//! |---|---|---|
//! | `logging_time` | TIMESTAMP (RFC 3339, `2025-09-08 21:04:22.248 UTC`, `2025-09-08 21:04:22`, epoch seconds) | `@timestamp` |
//! | `model` | STRING (`publishers/google/models/gemini-2.5-pro`) | `gen_ai.request.model` (`full_request.model` first; the segment after the last `models/`) |
//! | `model_version` | STRING (`default` for Gemini) | kept |
//! | `api_method` | STRING (`generateContent`, `streamGenerateContent`, `rawPredict`, `streamRawPredict`) | `event.action` |
//! | `endpoint`, `deployed_model_id` | STRING (a tuned model's endpoint) | kept |
//! | `request_id` | NUMERIC | `event.id` |
//! | `full_request` | JSON: the `GenerateContentRequest` (proto field names, `contents`, `system_instruction`, `generation_config`), or a partner model's body (Anthropic Messages) | `gen_ai.prompt`, `gen_ai.request.*` |
//! | `full_response` | JSON: the `GenerateContentResponse` (`candidates`, `usage_metadata`, `model_version`, `response_id`), a list of them for a stream, or a partner model's body | `gen_ai.completion`, `gen_ai.response.*`, `gen_ai.usage.*` |
//! | `request_payload`, `response_payload` | ARRAY&lt;STRING&gt; (the predict endpoint's log, partner models) | read as the bodies when `full_request` / `full_response` are empty |
//! | `metadata` | JSON (`request_latency`, ms) | `event.duration` (ns) |
//! | `otel_log` | JSON (only with `enable_otel_logging`) | kept |
//!
//! JSON columns are read as objects or as JSON text (how `bq query --format=json` prints
//! them); field names in `camelCase` (the REST form) are read too. Gemini's roles become
//! the LLM log's (`model` → `assistant`), a message's text parts are joined with newlines,
//! `function_call` parts are tool calls and `function_response` parts tool results.
//! `generation_config` gives `temperature`, `top_p`, `top_k`, `max_output_tokens`
//! (`gen_ai.request.max_tokens`), `candidate_count` (`n`), `seed`, `presence_penalty`,
//! `frequency_penalty`, `stop_sequences`, `response_logprobs` / `logprobs`
//! (`gen_ai.request.logprobs` / `top_logprobs`); `usage_metadata` gives
//! `prompt_token_count`, `candidates_token_count` and `cached_content_token_count`.
//!
//! The columns are kept under `gcp.vertexai.prompt_response_logs.*` (Elastic's
//! `gcp_vertexai.prompt_response_logs` data stream), the JSON ones parsed. The table holds no
//! caller identity, address or user agent: alerts on these rows name the model, not who
//! called (the call's Data Access audit entry names the principal).

use serde_json::{json, Map, Value};

use super::contract::{self, Domain, Synthesized};
use super::gcs_audit::VERTEX_AI_SYSTEM;
use super::openai_body::genai_fields;
use super::paths::{put, put_dataset};

/// Elastic's data stream for these rows.
pub const DATASET: &str = "gcp_vertexai.prompt_response_logs";
/// Where the row's columns are kept.
const KEPT: &str = "gcp.vertexai.prompt_response_logs";

/// This source's normalizer in the [`super::REGISTRY`].
pub static SOURCE: contract::Source = contract::Source {
    kind: super::SourceKind::VertexAi,
    name: "vertex_ai",
    looks_like,
    normalize: normalize_record,
    synthesized: &[SYNTHESIZED, super::openai_body::SYNTHESIZED],
};

/// The fields this normalizer writes itself (see [`super::contract`]).
const SYNTHESIZED: &[Synthesized] = &[
    Synthesized::new("data_stream.dataset", Domain::Consts(&[DATASET])),
    Synthesized::new("event.dataset", Domain::Consts(&[DATASET])),
    Synthesized::new("gen_ai.system", Domain::Consts(&[VERTEX_AI_SYSTEM])),
    // JSON columns parsed from their text (escapes undone).
    Synthesized::new(KEPT, Domain::Any),
    Synthesized::new("gen_ai.request.stop_sequences", Domain::Any),
    Synthesized::new("gen_ai.response.finish_reasons", Domain::Any),
];

const BODY_COLUMNS: [&str; 4] = [
    "full_request",
    "full_response",
    "request_payload",
    "response_payload",
];

/// Whether a record is a row of a request-response logging table: `logging_time` and a
/// request or response column.
pub fn looks_like(raw: &Map<String, Value>) -> bool {
    raw.get("logging_time").is_some_and(|t| !t.is_null())
        && BODY_COLUMNS.iter().any(|c| raw.contains_key(*c))
}

fn normalize_record(raw: Map<String, Value>) -> Result<super::Normalized, super::SourceError> {
    Ok(super::Normalized::Event(normalize(raw)))
}

/// A JSON column: an object or list, or JSON text of one; None when empty.
fn json_column(v: Option<&Value>) -> Option<Value> {
    match v? {
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty() || t == "{}" || t == "null" {
                return None;
            }
            serde_json::from_str(t)
                .ok()
                .or_else(|| Some(Value::String(s.clone())))
        }
        Value::Null => None,
        Value::Object(m) if m.is_empty() => None,
        other => Some(other.clone()),
    }
}

/// A body from `full_*`, else the first JSON object of a `*_payload` list.
fn body(raw: &Map<String, Value>, full: &str, payload: &str) -> Value {
    if let Some(v) = json_column(raw.get(full)).filter(|v| v.is_object() || v.is_array()) {
        return v;
    }
    let items = match raw.get(payload) {
        Some(Value::Array(items)) => items.clone(),
        Some(v @ Value::String(_)) => vec![v.clone()],
        _ => Vec::new(),
    };
    items
        .iter()
        .find_map(|i| json_column(Some(i)).filter(Value::is_object))
        .unwrap_or(Value::Null)
}

/// A key in snake_case or its camelCase form.
fn key<'a>(m: &'a Value, snake: &str) -> Option<&'a Value> {
    if let Some(v) = m.get(snake).filter(|v| !v.is_null()) {
        return Some(v);
    }
    let mut camel = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            camel.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            camel.push(c);
        }
    }
    m.get(&camel).filter(|v| !v.is_null())
}

/// The text of Gemini parts (`[{text}]`) or of Anthropic content (a string, or blocks of
/// `type: text`), joined with newlines.
fn text_of(content: &Value) -> Option<String> {
    let texts: Vec<&str> = match content {
        Value::String(s) => vec![s.as_str()],
        Value::Array(parts) => parts
            .iter()
            .filter(|p| p.get("type").is_none_or(|t| t == "text"))
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        Value::Object(_) => return key(content, "parts").and_then(text_of),
        _ => Vec::new(),
    };
    let texts: Vec<&str> = texts.into_iter().filter(|t| !t.is_empty()).collect();
    (!texts.is_empty()).then(|| texts.join("\n"))
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Gemini's role as the LLM log's.
fn role(r: Option<&Value>) -> &str {
    match r.and_then(Value::as_str) {
        Some("model") => "assistant",
        Some("function") => "tool",
        Some(other) => other,
        None => "user",
    }
}

/// The OpenAI-style messages of a `GenerateContentRequest`.
fn gemini_messages(request: &Value) -> Vec<Value> {
    let mut messages = Vec::new();
    if let Some(text) = key(request, "system_instruction").and_then(text_of) {
        messages.push(json!({"role": "system", "content": text}));
    }
    for content in key(request, "contents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let parts = key(content, "parts").cloned().unwrap_or(Value::Null);
        let role = role(content.get("role"));
        for part in parts.as_array().into_iter().flatten() {
            if let Some(result) = key(part, "function_response") {
                let name = result.get("name").cloned().unwrap_or(Value::Null);
                let response = result.get("response").map(compact).unwrap_or_default();
                messages.push(json!({"role": "tool", "name": name, "content": response}));
            }
        }
        if let Some(text) = text_of(&parts) {
            messages.push(json!({"role": role, "content": text}));
        }
    }
    messages
}

/// An OpenAI-style response of a `GenerateContentResponse`, or of a stream's list of them
/// (texts of one candidate joined, usage and ids from the last chunk that has them).
fn gemini_response(response: &Value) -> Map<String, Value> {
    let chunks: Vec<&Value> = match response {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut texts: Vec<String> = Vec::new();
    let mut calls: Vec<Vec<Value>> = Vec::new();
    let mut finish: Vec<Value> = Vec::new();
    let mut out = Map::new();
    for chunk in chunks {
        for (i, candidate) in key(chunk, "candidates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let index = candidate
                .get("index")
                .and_then(Value::as_u64)
                .map_or(i, |n| n as usize)
                .min(64);
            if texts.len() <= index {
                texts.resize(index + 1, String::new());
                calls.resize(index + 1, Vec::new());
                finish.resize(index + 1, Value::Null);
            }
            if let Some(content) = candidate.get("content") {
                if let Some(text) = text_of(content) {
                    texts[index].push_str(&text);
                }
                for part in key(content, "parts")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(call) = key(part, "function_call") {
                        let args = call.get("args").map(compact).unwrap_or_default();
                        calls[index].push(json!({
                            "id": call.get("id").cloned().unwrap_or(Value::Null),
                            "type": "function",
                            "function": {"name": call.get("name").cloned().unwrap_or(Value::Null), "arguments": args},
                        }));
                    }
                }
            }
            if let Some(reason) = key(candidate, "finish_reason") {
                finish[index] = reason.clone();
            }
        }
        if let Some(usage) = key(chunk, "usage_metadata") {
            let mut u = Map::new();
            for (from, to) in [
                ("prompt_token_count", "prompt_tokens"),
                ("candidates_token_count", "completion_tokens"),
            ] {
                if let Some(v) = key(usage, from) {
                    u.insert(to.into(), v.clone());
                }
            }
            if let Some(cached) = key(usage, "cached_content_token_count") {
                u.insert(
                    "prompt_tokens_details".into(),
                    json!({"cached_tokens": cached}),
                );
            }
            out.insert("usage".into(), Value::Object(u));
        }
        if let Some(v) = key(chunk, "model_version") {
            out.insert("model".into(), v.clone());
        }
        if let Some(v) = key(chunk, "response_id") {
            out.insert("id".into(), v.clone());
        }
    }
    let choices: Vec<Value> = texts
        .into_iter()
        .zip(calls)
        .zip(finish)
        .map(|((text, calls), reason)| {
            let mut message = Map::new();
            if !text.is_empty() {
                message.insert("content".into(), Value::String(text));
            }
            if !calls.is_empty() {
                message.insert("tool_calls".into(), Value::Array(calls));
            }
            json!({"message": message, "finish_reason": reason})
        })
        .collect();
    if !choices.is_empty() {
        out.insert("choices".into(), Value::Array(choices));
    }
    out
}

/// A partner model's (Anthropic Messages) bodies as OpenAI-style ones: the system prompt
/// as a message, content blocks as text; the response's text blocks as its one choice.
fn messages_bodies(request: &Value, response: &Value) -> (Value, Value) {
    let mut req = request.as_object().cloned().unwrap_or_default();
    let mut messages = Vec::new();
    if let Some(system) = req.remove("system").as_ref().and_then(text_of) {
        messages.push(json!({"role": "system", "content": system}));
    }
    for m in req
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let role = role(m.get("role"));
        match m.get("content").and_then(text_of) {
            Some(text) => messages.push(json!({"role": role, "content": text})),
            None => messages.push(m.clone()),
        }
    }
    req.insert("messages".into(), Value::Array(messages));
    let mut resp = response.as_object().cloned().unwrap_or_default();
    if resp.get("choices").is_none() {
        if let Some(text) = resp.get("content").and_then(text_of) {
            let reason = resp.get("stop_reason").cloned().unwrap_or(Value::Null);
            resp.insert(
                "choices".into(),
                json!([{"message": {"content": text}, "finish_reason": reason}]),
            );
        }
    }
    (Value::Object(req), Value::Object(resp))
}

/// `logging_time` as epoch milliseconds, in any of the forms BigQuery's tools write.
fn logging_time(v: &Value) -> Option<i64> {
    let seconds = |f: f64| (f.is_finite()).then(|| (f * 1000.0).round() as i64);
    match v {
        Value::Number(n) => n.as_f64().and_then(seconds),
        Value::String(s) => {
            let t = s.trim();
            let t = t.strip_suffix(" UTC").unwrap_or(t);
            crate::time::parse_timestamp(t).or_else(|| t.parse::<f64>().ok().and_then(seconds))
        }
        _ => None,
    }
}

/// Maps one row.
pub fn normalize(raw: Map<String, Value>) -> Map<String, Value> {
    let request = body(&raw, "full_request", "request_payload");
    let response = body(&raw, "full_response", "response_payload");
    let mut out = Map::new();

    let gemini = key(&request, "contents").is_some()
        || key(&response, "candidates").is_some()
        || response
            .as_array()
            .is_some_and(|a| a.iter().any(|c| key(c, "candidates").is_some()));
    let (req, resp) = if gemini {
        let mut req = Map::new();
        let messages = gemini_messages(&request);
        if !messages.is_empty() {
            req.insert("messages".into(), Value::Array(messages));
        }
        if let Some(config) = key(&request, "generation_config") {
            for (from, to) in [
                ("temperature", "temperature"),
                ("top_p", "top_p"),
                ("max_output_tokens", "max_tokens"),
                ("candidate_count", "n"),
                ("seed", "seed"),
                ("presence_penalty", "presence_penalty"),
                ("frequency_penalty", "frequency_penalty"),
                ("response_logprobs", "logprobs"),
                ("logprobs", "top_logprobs"),
            ] {
                if let Some(v) = key(config, from) {
                    req.insert(to.into(), v.clone());
                }
            }
            put(
                &mut out,
                "gen_ai.request.top_k",
                key(config, "top_k").cloned(),
            );
            put(
                &mut out,
                "gen_ai.request.stop_sequences",
                key(config, "stop_sequences").cloned(),
            );
        }
        if let Some(tools) = request.get("tools") {
            req.insert("tools".into(), tools.clone());
        }
        (
            Value::Object(req),
            Value::Object(gemini_response(&response)),
        )
    } else {
        messages_bodies(&request, &response)
    };
    for (k, value) in genai_fields(&req, &resp) {
        if k != "gen_ai.request.model" {
            put(&mut out, &k, Some(value));
        }
    }
    let model = [request.get("model"), raw.get("model")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find_map(|m| super::gcs_audit::vertex_model(m).or(Some(m).filter(|m| !m.is_empty())));
    put(&mut out, "gen_ai.request.model", model.map(Value::from));
    put(
        &mut out,
        "gen_ai.system",
        Some(Value::from(VERTEX_AI_SYSTEM)),
    );

    if let Some(ms) = raw.get("logging_time").and_then(logging_time) {
        put(
            &mut out,
            "@timestamp",
            Some(Value::String(crate::time::format_timestamp(ms))),
        );
    }
    put(&mut out, "event.action", raw.get("api_method").cloned());
    put(
        &mut out,
        "event.id",
        raw.get("request_id")
            .filter(|v| v.as_str().is_none_or(|s| !s.is_empty()))
            .cloned(),
    );
    let metadata = json_column(raw.get("metadata"));
    if let Some(latency) = metadata
        .as_ref()
        .and_then(|m| m.get("request_latency"))
        .and_then(|v| v.as_f64().or_else(|| v.as_str()?.parse().ok()))
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
    {
        put(
            &mut out,
            "event.duration",
            Some(Value::from((latency * 1e6).round() as i64)),
        );
    }
    put(&mut out, "cloud.provider", Some(Value::from("gcp")));

    let mut kept = Map::new();
    for (column, value) in raw {
        let value = match column.as_str() {
            "full_request" | "full_response" | "metadata" | "otel_log" => {
                json_column(Some(&value)).unwrap_or(Value::Null)
            }
            _ => value,
        };
        let empty = value.is_null()
            || value.as_str() == Some("")
            || value.as_array().is_some_and(Vec::is_empty);
        if !empty {
            kept.insert(column, value);
        }
    }
    put(&mut out, KEPT, Some(Value::Object(kept)));
    put_dataset(&mut out, DATASET);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logging_time_in_every_form_bigquery_writes() {
        let ms = 1_757_365_462_248;
        for v in [
            json!("2025-09-08T21:04:22.248Z"),
            json!("2025-09-08 21:04:22.248 UTC"),
            json!("2025-09-08 21:04:22.248000 UTC"),
            json!("2025-09-08 21:04:22.248"),
            json!("1.757365462248E9"),
            json!(1_757_365_462.248),
        ] {
            assert_eq!(logging_time(&v), Some(ms), "{v}");
        }
        assert_eq!(logging_time(&json!("2025-09-08 21:04:22")), Some(ms - 248));
        assert_eq!(logging_time(&json!("yesterday")), None);
    }

    #[test]
    fn recognised_by_logging_time_and_a_body_column() {
        let row = json!({"logging_time": "2025-09-08 21:04:22 UTC", "full_request": "{}"});
        assert!(looks_like(row.as_object().unwrap()));
        let other = json!({"logging_time": "2025-09-08 21:04:22 UTC", "message": "x"});
        assert!(!looks_like(other.as_object().unwrap()));
    }

    #[test]
    fn a_stream_is_one_completion() {
        let r = json!([
            {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}]},
            {"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "STOP"}],
             "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2}}
        ]);
        let out = gemini_response(&r);
        assert_eq!(out["choices"][0]["message"]["content"], "Hello");
        assert_eq!(out["choices"][0]["finish_reason"], "STOP");
        assert_eq!(out["usage"]["completion_tokens"], 2);
    }
}
