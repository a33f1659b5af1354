//! LiteLLM proxy logs: the `StandardLoggingPayload` LiteLLM hands to its logging callbacks
//! (`kwargs["standard_logging_object"]`; what its S3, GCS, generic-API and custom callbacks
//! write). One JSON object per call, successful or failed. This module maps it to ECS and
//! OpenTelemetry GenAI fields:
//!
//! | payload | field |
//! |---|---|
//! | `startTime` (epoch seconds, number or string, or ISO 8601) | `@timestamp` |
//! | `endTime` − `startTime` | `event.duration` (ns) |
//! | `completionStartTime` − `startTime` (streams, or when before `endTime`) | `modelward.timings.first_token_ms` |
//! | `id` | `event.id` |
//! | `status` (`success` / `failure`; else `failure` when `error_str` is set) | `event.outcome` |
//! | `metadata.user_api_key_hash` (a hash; values that look like raw `sk-` keys are dropped) | `api_key.id` |
//! | `metadata.user_api_key_user_id`, `metadata.user_api_key_user_email` | `user.id`, `user.email` |
//! | `metadata.requester_ip_address` / `requester_ip_address` | `source.ip` |
//! | `metadata.user_api_key_request_route` | `url.path` |
//! | `metadata.user_agent`, else `metadata.requester_custom_headers.user-agent`, else the longest `User-Agent: …` of `request_tags` / `metadata.tags` | `user_agent.original` |
//! | `custom_llm_provider` / `hidden_params.custom_llm_provider` / `error_information.llm_provider` | `gen_ai.system` (`litellm` when none) |
//! | `model` (else `hidden_params.litellm_model_name`) | `gen_ai.request.model` |
//! | `model_parameters` (`max_tokens`, `temperature`, `logprobs`, `top_logprobs`, `logit_bias`, `n`, ...), `stream` | `gen_ai.request.*` (see `openai_body`) |
//! | `messages` (list, dict or string) | `gen_ai.prompt` |
//! | `response` (OpenAI-style object, or a JSON string of one) | `gen_ai.completion`, `gen_ai.response.*` (see `openai_body`) |
//! | `response` (plain string) | `gen_ai.completion` (`[response]`) |
//! | `prompt_tokens`, `completion_tokens` (else the response's `usage`) | `gen_ai.usage.input_tokens`, `.output_tokens` |
//! | the response's `usage` cache counts, else `metadata.usage_object.prompt_tokens_details.cached_tokens` / `.cache_read_input_tokens` | `gen_ai.usage.cache_read.input_tokens` |
//! | `response_cost` | `modelward.cost.usd` |
//! | `error_information.error_code` (an HTTP status) | `http.response.status_code` |
//! | `error_str` / `error_information.error_message`, `.error_code`, `.error_class`, `.llm_provider` | `litellm.error.message`, `.code`, `.class`, `.provider` |
//! | the provider's error inside that text (`… Error code: 400 - {Python repr of the body}`) | `http.response.status_code`, `gen_ai.content_filter.*` (see `openai_body`: a prompt Prompt Shields blocked) |
//! | `call_type`, `trace_id`, `model_id`, `model_group`, `api_base`, `cache_hit`, `cache_key`, `saved_cache_cost`, `request_tags`, `total_tokens` | `litellm.*` (same names) |
//! | `end_user` / `metadata.user_api_key_end_user_id` | `litellm.end_user` |
//! | `metadata.user_api_key_alias`, `_team_id`, `_team_alias`, `_org_id` | `litellm.key_alias`, `.team_id`, `.team_alias`, `.org_id` |
//! | `status_fields.guardrail_status` | `litellm.guardrail_status` |
//! | `model_parameters` (all of it) | `litellm.model_parameters` |
//!
//! `data_stream` is `{dataset: litellm.logs, namespace: default, type: logs}` and
//! `event.dataset` is `litellm.logs`. Fields the payload lacks (or holds as null) are left
//! out; an unparseable `startTime` is kept as `litellm.start_time`. Tracebacks, the model
//! cost map and the other hidden parameters are not kept.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use super::openai_body::genai_fields;
use super::paths::{get, put, put_dataset};

pub const DATASET: &str = "litellm.logs";

/// `gen_ai.system` when the payload names no provider.
pub const DEFAULT_SYSTEM: &str = "litellm";

/// Whether a record is a LiteLLM `StandardLoggingPayload`.
pub fn looks_like(obj: &Map<String, Value>) -> bool {
    obj.get("call_type").is_some_and(Value::is_string)
        && obj.contains_key("startTime")
        && ["model_group", "hidden_params", "model_parameters"]
            .iter()
            .any(|k| obj.contains_key(*k))
}

fn has(out: &Map<String, Value>, path: &str) -> bool {
    let mut cur = out;
    let mut keys = path.split('.').peekable();
    while let Some(key) = keys.next() {
        match cur.get(key) {
            None | Some(Value::Null) => return false,
            Some(v) if keys.peek().is_none() => return !v.is_null(),
            Some(Value::Object(inner)) => cur = inner,
            Some(_) => return false,
        }
    }
    false
}

/// The caller's user agent: `metadata.user_agent` (what the proxy records), a
/// `user-agent` among `metadata.requester_custom_headers`, or the longest `User-Agent: …`
/// tag LiteLLM adds to `request_tags` (it adds the full agent and its product name).
fn user_agent(raw: &Value) -> Option<&str> {
    if let Some(ua) = text(get(raw, "metadata.user_agent")) {
        return Some(ua);
    }
    if let Some(Value::Object(headers)) = get(raw, "metadata.requester_custom_headers") {
        if let Some(ua) = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
            .and_then(|(_, v)| text(Some(v)))
        {
            return Some(ua);
        }
    }
    ["request_tags", "metadata.tags"]
        .iter()
        .filter_map(|path| get(raw, path).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|tag| {
            let (name, value) = tag.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("user-agent")
                .then(|| value.trim())
        })
        .filter(|v| !v.is_empty())
        .max_by_key(|v| v.len())
}

/// What the provider's error says when LiteLLM logged it only as text (`error_str`,
/// `error_information.error_message`: `litellm.ContentPolicyViolationError: …
/// AzureException - Error code: 400 - {Python repr of the error body}`): the status code,
/// and the content-filter verdicts of the body (a prompt Prompt Shields blocked).
fn provider_error(out: &mut Map<String, Value>, message: &str) {
    const MARK: &str = "Error code: ";
    let Some(at) = message.find(MARK) else {
        return;
    };
    let rest = &message[at + MARK.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if let Ok(code) = digits.parse::<i64>() {
        if (100..=599).contains(&code) && !has(out, "http.response.status_code") {
            put(out, "http.response.status_code", Some(json!(code)));
        }
    }
    let Some(body) = super::pyrepr::first_dict(rest) else {
        return;
    };
    for (key, value) in genai_fields(&Value::Null, &body) {
        if key.starts_with("gen_ai.content_filter.") && !has(out, &key) {
            put(out, &key, Some(value));
        }
    }
}

/// A non-empty string value.
fn text(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A number, or a string holding one.
fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

/// A time as LiteLLM writes it: epoch seconds (number or numeric string, rounded to the
/// microsecond), or an ISO 8601 string (UTC when it has no offset).
fn instant(v: Option<&Value>) -> Option<DateTime<Utc>> {
    let v = v?;
    if let Some(secs) = number(Some(v)) {
        let micros = (secs * 1_000_000.0).round();
        if micros.abs() >= 9.0e15 {
            return None;
        }
        return DateTime::from_timestamp_micros(micros as i64);
    }
    let s = v.as_str()?.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|t| t.and_utc())
}

/// Keeps a key hash; drops anything that looks like a raw LiteLLM or OpenAI key.
fn key_hash(v: Option<&Value>) -> Option<Value> {
    let s = text(v)?;
    if s.starts_with("sk-") {
        return None;
    }
    Some(Value::String(s.to_string()))
}

/// The response as an OpenAI-style body, if it is one (possibly JSON-encoded).
fn response_body(response: Option<&Value>) -> (Value, Option<Vec<Value>>) {
    match response {
        Some(Value::Object(_)) => (response.cloned().unwrap_or(Value::Null), None),
        Some(Value::String(s)) => {
            let trimmed = s.trim();
            if trimmed.starts_with('{') {
                if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(trimmed) {
                    return (v, None);
                }
            }
            if trimmed.is_empty() {
                (Value::Null, None)
            } else {
                (Value::Null, Some(vec![Value::String(s.clone())]))
            }
        }
        Some(Value::Array(items)) if !items.is_empty() && items.iter().all(Value::is_string) => {
            (Value::Null, Some(items.clone()))
        }
        _ => (Value::Null, None),
    }
}

/// Maps one payload.
pub fn normalize(raw: Map<String, Value>) -> Map<String, Value> {
    let raw = Value::Object(raw);
    let mut out = Map::new();
    let field = |path: &str| get(&raw, path).cloned();
    let meta = |key: &str| get(&raw, &format!("metadata.{key}")).cloned();

    // Time.
    let start_raw = get(&raw, "startTime");
    let start = instant(start_raw);
    let end = instant(get(&raw, "endTime"));
    match start {
        Some(t) => put(
            &mut out,
            "@timestamp",
            Some(json!(t.to_rfc3339_opts(SecondsFormat::Millis, true))),
        ),
        None => put(&mut out, "litellm.start_time", start_raw.cloned()),
    }
    if let (Some(s), Some(e)) = (start, end) {
        if let Some(ns) = (e - s).num_nanoseconds().filter(|ns| *ns >= 0) {
            put(&mut out, "event.duration", Some(json!(ns)));
        }
    }
    let first = instant(get(&raw, "completionStartTime"));
    let stream = get(&raw, "stream")
        .or_else(|| get(&raw, "model_parameters.stream"))
        .and_then(Value::as_bool);
    if let (Some(s), Some(f)) = (start, first) {
        let before_end = end.is_some_and(|e| f < e);
        if stream == Some(true) || (stream.is_none() && before_end) {
            if let Some(us) = (f - s).num_microseconds().filter(|us| *us >= 0) {
                put(
                    &mut out,
                    "modelward.timings.first_token_ms",
                    Some(json!(us as f64 / 1000.0)),
                );
            }
        }
    }

    // Event.
    put(&mut out, "event.id", field("id"));
    let error_message = text(get(&raw, "error_str"))
        .or_else(|| text(get(&raw, "error_information.error_message")))
        .map(str::to_string);
    let outcome = match text(get(&raw, "status")) {
        Some("success") => Some("success"),
        Some("failure") => Some("failure"),
        _ if error_message.is_some() => Some("failure"),
        _ if get(&raw, "response").is_some() => Some("success"),
        _ => None,
    };
    put(&mut out, "event.outcome", outcome.map(|o| json!(o)));

    // Who.
    put(
        &mut out,
        "api_key.id",
        key_hash(get(&raw, "metadata.user_api_key_hash")),
    );
    put(&mut out, "user.id", meta("user_api_key_user_id"));
    put(&mut out, "user.email", meta("user_api_key_user_email"));
    put(
        &mut out,
        "source.ip",
        meta("requester_ip_address").or_else(|| field("requester_ip_address")),
    );
    put(&mut out, "url.path", meta("user_api_key_request_route"));
    put(
        &mut out,
        "user_agent.original",
        user_agent(&raw).map(|s| json!(s)),
    );

    // GenAI: an OpenAI-style request from the model, its parameters and the messages.
    let mut request = match get(&raw, "model_parameters") {
        Some(Value::Object(params)) => params.clone(),
        _ => Map::new(),
    };
    request.remove("messages");
    request.remove("prompt");
    request.remove("input");
    if let Some(model) = field("model").or_else(|| field("hidden_params.litellm_model_name")) {
        request.insert("model".into(), model);
    }
    if let Some(stream) = get(&raw, "stream").filter(|s| s.is_boolean()) {
        request.entry("stream").or_insert_with(|| stream.clone());
    }
    match get(&raw, "messages") {
        Some(Value::String(s)) if !s.trim().is_empty() => {
            request.insert("prompt".into(), Value::String(s.clone()));
        }
        Some(Value::String(_)) => {}
        Some(v) => {
            request.insert("messages".into(), v.clone());
        }
        None => {}
    }
    let (response, completion) = response_body(get(&raw, "response"));
    for (key, value) in genai_fields(&Value::Object(request), &response) {
        put(&mut out, &key, Some(value));
    }
    if let Some(completion) = completion {
        put(
            &mut out,
            "gen_ai.completion",
            Some(Value::Array(completion)),
        );
    }
    // Prompt-cache reads when the response does not say: the usage LiteLLM keeps in its
    // metadata (`usage_object`, OpenAI's or Anthropic's names).
    if !has(&out, super::openai_body::CACHE_READ) {
        let cached = get(
            &raw,
            "metadata.usage_object.prompt_tokens_details.cached_tokens",
        )
        .or_else(|| get(&raw, "metadata.usage_object.cache_read_input_tokens"))
        .filter(|v| v.is_number());
        put(&mut out, super::openai_body::CACHE_READ, cached.cloned());
    }
    let system = text(get(&raw, "custom_llm_provider"))
        .or_else(|| text(get(&raw, "hidden_params.custom_llm_provider")))
        .or_else(|| text(get(&raw, "error_information.llm_provider")))
        .unwrap_or(DEFAULT_SYSTEM);
    put(&mut out, "gen_ai.system", Some(json!(system)));
    for (from, to) in [
        ("prompt_tokens", "gen_ai.usage.input_tokens"),
        ("completion_tokens", "gen_ai.usage.output_tokens"),
    ] {
        if let Some(n) = get(&raw, from).filter(|v| v.is_number()) {
            put(&mut out, to, Some(n.clone()));
        }
    }

    // Cost.
    if let Some(cost) = number(get(&raw, "response_cost")) {
        put(&mut out, "modelward.cost.usd", Some(json!(cost)));
    }

    // Errors.
    if let Some(message) = error_message.as_deref() {
        provider_error(&mut out, message);
    }
    put(
        &mut out,
        "litellm.error.message",
        error_message.map(Value::String),
    );
    // Successful calls may carry `error_information` with every value empty.
    let code = get(&raw, "error_information.error_code")
        .filter(|c| c.is_number() || text(Some(c)).is_some());
    put(&mut out, "litellm.error.code", code.cloned());
    for (from, to) in [("error_class", "class"), ("llm_provider", "provider")] {
        put(
            &mut out,
            &format!("litellm.error.{to}"),
            text(get(&raw, &format!("error_information.{from}"))).map(|s| json!(s)),
        );
    }
    if let Some(status) = number(code)
        .filter(|c| c.fract() == 0.0 && (100.0..=599.0).contains(c))
        .map(|c| c as i64)
    {
        put(&mut out, "http.response.status_code", Some(json!(status)));
    }

    // The rest, under litellm.*.
    for key in [
        "call_type",
        "trace_id",
        "model_id",
        "model_group",
        "api_base",
        "cache_hit",
        "cache_key",
        "saved_cache_cost",
        "request_tags",
        "total_tokens",
    ] {
        let value = field(key).filter(|v| match v {
            Value::Array(a) => !a.is_empty(),
            Value::String(s) => !s.is_empty(),
            _ => true,
        });
        put(&mut out, &format!("litellm.{key}"), value);
    }
    if !has(&out, "litellm.api_base") {
        put(
            &mut out,
            "litellm.api_base",
            field("hidden_params.api_base"),
        );
    }
    put(
        &mut out,
        "litellm.end_user",
        text(get(&raw, "end_user"))
            .or_else(|| text(get(&raw, "metadata.user_api_key_end_user_id")))
            .map(|s| json!(s)),
    );
    for (from, to) in [
        ("user_api_key_alias", "key_alias"),
        ("user_api_key_team_id", "team_id"),
        ("user_api_key_team_alias", "team_alias"),
        ("user_api_key_org_id", "org_id"),
    ] {
        put(&mut out, &format!("litellm.{to}"), meta(from));
    }
    put(
        &mut out,
        "litellm.guardrail_status",
        field("status_fields.guardrail_status"),
    );
    if let Some(Value::Object(params)) = get(&raw, "model_parameters") {
        if !params.is_empty() {
            put(
                &mut out,
                "litellm.model_parameters",
                Some(Value::Object(params.clone())),
            );
        }
    }

    put_dataset(&mut out, DATASET);
    out
}

use super::contract::{self, Domain, Synthesized};

/// This source's normalizer in the [`super::REGISTRY`].
pub static SOURCE: contract::Source = contract::Source {
    kind: super::SourceKind::LiteLlm,
    name: "litellm",
    looks_like,
    normalize: normalize_record,
    synthesized: &[SYNTHESIZED, super::openai_body::SYNTHESIZED],
};

/// [`normalize`] under the one contract.
fn normalize_record(raw: Map<String, Value>) -> Result<super::Normalized, super::SourceError> {
    Ok(super::Normalized::Event(normalize(raw)))
}

/// The fields this normalizer writes itself (see [`super::contract`]).
const SYNTHESIZED: &[Synthesized] = &[
    Synthesized::new("data_stream.dataset", Domain::Consts(&[DATASET])),
    Synthesized::new("event.dataset", Domain::Consts(&[DATASET])),
    Synthesized::new("gen_ai.system", Domain::Consts(&[DEFAULT_SYSTEM])),
    Synthesized::new("modelward.cost", contract::NUMBER),
    Synthesized::new("modelward.timings", contract::NUMBER),
    Synthesized::new("litellm", contract::NUMBER),
];
