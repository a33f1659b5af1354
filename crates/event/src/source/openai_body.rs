//! OpenTelemetry GenAI fields from OpenAI-style request and response bodies (the Chat
//! Completions, Completions and Embeddings APIs, as Azure OpenAI and OpenAI-compatible
//! gateways carry them):
//!
//! | from | field |
//! |---|---|
//! | request `model` | `gen_ai.request.model` |
//! | request `max_tokens` / `max_completion_tokens` | `gen_ai.request.max_tokens` |
//! | request `temperature`, `top_p`, `n`, `logprobs`, `top_logprobs`, `logit_bias`, `seed`, `stream` | `gen_ai.request.*` |
//! | request `messages` (chat) / `prompt` / `input` | `gen_ai.prompt` (list of `{role, content}` or strings) |
//! | response `choices[].message.content` / `choices[].text` | `gen_ai.completion` (list of strings) |
//! | response `model`, `id`, `choices[].finish_reason` | `gen_ai.response.model`, `.id`, `.finish_reasons` |
//! | response `usage.prompt_tokens` / `input_tokens`, `completion_tokens` / `output_tokens` | `gen_ai.usage.input_tokens`, `.output_tokens` |
//! | response `usage.prompt_tokens_details.cached_tokens` (Chat Completions) / `input_tokens_details.cached_tokens` (Responses) / `cache_read_input_tokens` (Anthropic-style) | `gen_ai.usage.cache_read.input_tokens` |
//! | response `usage.cache_creation_input_tokens` | `gen_ai.usage.cache_creation.input_tokens` |
//! | response `prompt_filter_results[].content_filter_results.jailbreak` | `gen_ai.content_filter.jailbreak.{filtered,detected}` |
//! | error `innererror.content_filter_result.jailbreak` (a prompt Azure refused) | the same, and `gen_ai.content_filter.blocked: true` |
//! | response `choices[].content_filter_results` with a `filtered` category | `gen_ai.content_filter.completion_filtered: true` |
//!
//! Content-filter verdicts of every category are also kept under
//! `gen_ai.content_filter.categories` as `{category: {filtered, detected, severity}}`.
//!
//! Tool calls and tool results ([`tool_fields`], also applied to Bedrock's bodies):
//!
//! | from | field |
//! |---|---|
//! | response `choices[].message.tool_calls[]` (`id`, `function.name`, `function.arguments`), legacy `function_call` | `gen_ai.tool.calls` (list of `{id, name, arguments}`) |
//! | Anthropic Messages response `content[]` of `type: tool_use` (`id`, `name`, `input`) | the same |
//! | Bedrock Converse response `output.message.content[].toolUse` (`toolUseId`, `name`, `input`) | the same |
//! | request `messages[]` with `role: tool` (`tool_call_id`, `content`) or `role: function` (`name`, `content`) | `gen_ai.tool.results` (list of `{id, name, content}`) |
//! | Anthropic request `messages[].content[]` of `type: tool_result` (`tool_use_id`, `content`) | the same |
//! | Bedrock Converse request `messages[].content[].toolResult` (`toolUseId`, `content[].text` / `.json`) | the same |
//! | the names of the calls | `gen_ai.tool.name` (list, distinct, in call order) |
//!
//! Arguments and inputs that are objects, and JSON result parts, are kept as compact JSON
//! text; a result's text parts are joined with newlines.

use serde_json::{json, Map, Value};

use super::contract::{self, Domain, Synthesized};

/// The fields [`genai_fields`] writes itself rather than copying (see [`super::contract`]):
/// numbers it reads as text, verdicts, messages it rebuilds, tool calls and results
/// (arguments re-serialized, text parts joined). Every normalizer that uses it declares these.
pub const SYNTHESIZED: &[Synthesized] = &[
    Synthesized::new("gen_ai.request", contract::NUMBER),
    Synthesized::new("gen_ai.usage", contract::NUMBER),
    Synthesized::new("gen_ai.content_filter", contract::BOOL),
    Synthesized::new("gen_ai.prompt", Domain::Any),
    Synthesized::new("gen_ai.completion", Domain::Any),
    Synthesized::new("gen_ai.tool", Domain::Any),
];

/// Input tokens read from the provider's prompt cache (OpenTelemetry GenAI's name).
pub const CACHE_READ: &str = "gen_ai.usage.cache_read.input_tokens";
/// Input tokens written to the provider's prompt cache.
pub const CACHE_CREATION: &str = "gen_ai.usage.cache_creation.input_tokens";

fn set(out: &mut Map<String, Value>, key: &str, value: Value) {
    if !value.is_null() {
        out.insert(key.to_string(), value);
    }
}

fn verdicts(results: &Value, categories: &mut Map<String, Value>) {
    let Some(map) = results.as_object() else {
        return;
    };
    for (category, verdict) in map {
        let Some(v) = verdict.as_object() else {
            continue;
        };
        let entry = categories
            .entry(category.clone())
            .or_insert_with(|| json!({}));
        if let Some(e) = entry.as_object_mut() {
            for key in ["filtered", "detected", "severity"] {
                if let Some(x) = v.get(key) {
                    // Any true wins over false across prompts and choices.
                    if e.get(key) != Some(&Value::Bool(true)) {
                        e.insert(key.to_string(), x.clone());
                    }
                }
            }
        }
    }
}

/// The tool calls of a response.
pub const TOOL_CALLS: &str = "gen_ai.tool.calls";
/// The tool results a request hands back to the model.
pub const TOOL_RESULTS: &str = "gen_ai.tool.results";
/// The names of the tools a response calls.
pub const TOOL_NAME: &str = "gen_ai.tool.name";

/// Text of a value: a string as it is, anything else as compact JSON.
fn as_text(value: &Value) -> Value {
    match value {
        Value::Null => Value::Null,
        Value::String(s) => Value::String(s.clone()),
        other => Value::String(other.to_string()),
    }
}

/// The text of a tool result's content: a string, or parts (`{"text"}`, `{"json"}`,
/// `{"type":"text","text"}`) joined with newlines.
fn result_text(content: &Value) -> Value {
    match content {
        Value::Array(parts) => {
            let texts: Vec<String> = parts
                .iter()
                .filter_map(|p| match p {
                    Value::String(s) => Some(s.clone()),
                    Value::Object(m) => m
                        .get("text")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .or_else(|| m.get("json").map(Value::to_string)),
                    _ => None,
                })
                .collect();
            if texts.is_empty() {
                Value::Null
            } else {
                Value::String(texts.join("\n"))
            }
        }
        other => as_text(other),
    }
}

fn entry(pairs: [(&str, Value); 3]) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        if !v.is_null() {
            m.insert(k.to_string(), v);
        }
    }
    Value::Object(m)
}

fn field(v: &Value, key: &str) -> Value {
    v.get(key).cloned().unwrap_or(Value::Null)
}

/// The tool calls of a response body and the tool results of a request body, in the
/// OpenAI (Chat Completions), Anthropic Messages and Bedrock Converse shapes: the
/// `gen_ai.tool.*` fields, flattened keys; empty when there are none.
pub fn tool_fields(request: &Value, response: &Value) -> Map<String, Value> {
    let mut calls = Vec::new();
    // OpenAI: choices[].message.tool_calls / function_call.
    for choice in response
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(message) = choice.get("message").or_else(|| choice.get("delta")) else {
            continue;
        };
        for call in message
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let function = call.get("function").unwrap_or(&Value::Null);
            calls.push(entry([
                ("id", field(call, "id")),
                ("name", field(function, "name")),
                ("arguments", as_text(&field(function, "arguments"))),
            ]));
        }
        if let Some(function) = message.get("function_call").filter(|f| f.is_object()) {
            calls.push(entry([
                ("id", Value::Null),
                ("name", field(function, "name")),
                ("arguments", as_text(&field(function, "arguments"))),
            ]));
        }
    }
    // Anthropic: content[] of type tool_use; Converse: output.message.content[].toolUse.
    let parts = response
        .get("content")
        .or_else(|| response.pointer("/output/message/content"))
        .and_then(Value::as_array);
    for part in parts.into_iter().flatten() {
        if part.get("type").and_then(Value::as_str) == Some("tool_use") {
            calls.push(entry([
                ("id", field(part, "id")),
                ("name", field(part, "name")),
                ("arguments", as_text(&field(part, "input"))),
            ]));
        } else if let Some(tool) = part.get("toolUse") {
            calls.push(entry([
                ("id", field(tool, "toolUseId")),
                ("name", field(tool, "name")),
                ("arguments", as_text(&field(tool, "input"))),
            ]));
        }
    }
    let mut results = Vec::new();
    for message in request
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match message.get("role").and_then(Value::as_str) {
            Some("tool") => results.push(entry([
                ("id", field(message, "tool_call_id")),
                ("name", field(message, "name")),
                ("content", result_text(&field(message, "content"))),
            ])),
            Some("function") => results.push(entry([
                ("id", Value::Null),
                ("name", field(message, "name")),
                ("content", result_text(&field(message, "content"))),
            ])),
            _ => {}
        }
        for part in message
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if part.get("type").and_then(Value::as_str) == Some("tool_result") {
                results.push(entry([
                    ("id", field(part, "tool_use_id")),
                    ("name", Value::Null),
                    ("content", result_text(&field(part, "content"))),
                ]));
            } else if let Some(tool) = part.get("toolResult") {
                results.push(entry([
                    ("id", field(tool, "toolUseId")),
                    ("name", Value::Null),
                    ("content", result_text(&field(tool, "content"))),
                ]));
            }
        }
    }
    let mut out = Map::new();
    let mut names: Vec<Value> = Vec::new();
    for name in calls.iter().filter_map(|c| c.get("name")) {
        if name.is_string() && !names.contains(name) {
            names.push(name.clone());
        }
    }
    if !names.is_empty() {
        out.insert(TOOL_NAME.into(), Value::Array(names));
    }
    if !calls.is_empty() {
        out.insert(TOOL_CALLS.into(), Value::Array(calls));
    }
    if !results.is_empty() {
        out.insert(TOOL_RESULTS.into(), Value::Array(results));
    }
    out
}

/// `gen_ai.*` fields (flattened keys) from a request and a response body, either of which
/// may be JSON null.
pub fn genai_fields(request: &Value, response: &Value) -> Map<String, Value> {
    let mut out = tool_fields(request, response);
    if let Some(req) = request.as_object() {
        set(
            &mut out,
            "gen_ai.request.model",
            req.get("model").cloned().unwrap_or(Value::Null),
        );
        let max = req
            .get("max_completion_tokens")
            .or_else(|| req.get("max_tokens"))
            .cloned()
            .unwrap_or(Value::Null);
        set(&mut out, "gen_ai.request.max_tokens", max);
        for key in [
            "temperature",
            "top_p",
            "n",
            "logprobs",
            "top_logprobs",
            "logit_bias",
            "seed",
            "stream",
            "frequency_penalty",
            "presence_penalty",
        ] {
            set(
                &mut out,
                &format!("gen_ai.request.{key}"),
                req.get(key).cloned().unwrap_or(Value::Null),
            );
        }
        let prompt = req
            .get("messages")
            .or_else(|| req.get("prompt"))
            .or_else(|| req.get("input"))
            .cloned()
            .unwrap_or(Value::Null);
        set(&mut out, "gen_ai.prompt", prompt);
    }
    let Some(resp) = response.as_object() else {
        return out;
    };
    set(
        &mut out,
        "gen_ai.response.model",
        resp.get("model").cloned().unwrap_or(Value::Null),
    );
    set(
        &mut out,
        "gen_ai.response.id",
        resp.get("id").cloned().unwrap_or(Value::Null),
    );
    let mut completion = Vec::new();
    let mut finish = Vec::new();
    let mut categories = Map::new();
    let mut completion_filtered = false;
    for choice in resp
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(text) = choice
            .pointer("/message/content")
            .or_else(|| choice.get("text"))
            .and_then(Value::as_str)
        {
            completion.push(Value::String(text.to_string()));
        }
        if let Some(reason) = choice.get("finish_reason").filter(|r| !r.is_null()) {
            finish.push(reason.clone());
        }
        if let Some(results) = choice.get("content_filter_results") {
            completion_filtered |= results.as_object().is_some_and(|m| {
                m.values()
                    .any(|v| v.get("filtered") == Some(&Value::Bool(true)))
            });
            verdicts(results, &mut categories);
        }
    }
    if !completion.is_empty() {
        out.insert("gen_ai.completion".into(), Value::Array(completion));
    }
    if !finish.is_empty() {
        out.insert(
            "gen_ai.response.finish_reasons".into(),
            Value::Array(finish),
        );
    }
    if let Some(usage) = resp.get("usage").and_then(Value::as_object) {
        set(
            &mut out,
            "gen_ai.usage.input_tokens",
            usage
                .get("prompt_tokens")
                .or_else(|| usage.get("input_tokens"))
                .cloned()
                .unwrap_or(Value::Null),
        );
        set(
            &mut out,
            "gen_ai.usage.output_tokens",
            usage
                .get("completion_tokens")
                .or_else(|| usage.get("output_tokens"))
                .cloned()
                .unwrap_or(Value::Null),
        );
        set(
            &mut out,
            CACHE_READ,
            response
                .pointer("/usage/prompt_tokens_details/cached_tokens")
                .or_else(|| response.pointer("/usage/input_tokens_details/cached_tokens"))
                .or_else(|| usage.get("cache_read_input_tokens"))
                .cloned()
                .unwrap_or(Value::Null),
        );
        set(
            &mut out,
            CACHE_CREATION,
            usage
                .get("cache_creation_input_tokens")
                .cloned()
                .unwrap_or(Value::Null),
        );
    }
    let mut prompt_categories = Map::new();
    for p in resp
        .get("prompt_filter_results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(results) = p.get("content_filter_results") {
            verdicts(results, &mut prompt_categories);
        }
    }
    // A prompt Azure refused comes back as an error with the verdicts inside.
    let refused = response
        .pointer("/error/innererror/content_filter_result")
        .or_else(|| response.pointer("/error/inner_error/content_filter_results"));
    if let Some(results) = refused {
        verdicts(results, &mut prompt_categories);
        out.insert("gen_ai.content_filter.blocked".into(), Value::Bool(true));
    }
    if let Some(j) = prompt_categories.get("jailbreak") {
        for key in ["filtered", "detected"] {
            if let Some(v) = j.get(key) {
                out.insert(format!("gen_ai.content_filter.jailbreak.{key}"), v.clone());
            }
        }
    }
    if completion_filtered {
        out.insert(
            "gen_ai.content_filter.completion_filtered".into(),
            Value::Bool(true),
        );
    }
    for (k, v) in prompt_categories {
        categories.entry(k).or_insert(v);
    }
    if !categories.is_empty() {
        out.insert(
            "gen_ai.content_filter.categories".into(),
            Value::Object(categories),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_request_and_response() {
        let req = json!({"model": "gpt-4o", "max_tokens": 1, "logprobs": true, "top_logprobs": 20, "logit_bias": {"1234": 100}, "messages": [{"role": "user", "content": "hi"}]});
        let resp = json!({"model": "gpt-4o-2024-08-06", "choices": [{"message": {"content": "Hello"}, "finish_reason": "length"}], "usage": {"prompt_tokens": 5, "completion_tokens": 1}});
        let f = genai_fields(&req, &resp);
        assert_eq!(f["gen_ai.request.max_tokens"], json!(1));
        assert_eq!(f["gen_ai.request.logit_bias"], json!({"1234": 100}));
        assert_eq!(
            f["gen_ai.prompt"],
            json!([{"role": "user", "content": "hi"}])
        );
        assert_eq!(f["gen_ai.completion"], json!(["Hello"]));
        assert_eq!(f["gen_ai.usage.output_tokens"], json!(1));
    }

    #[test]
    fn tool_calls_and_results_of_each_shape() {
        // OpenAI Chat Completions.
        let req = json!({"messages": [{"role": "user", "content": "weather?"}, {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]}, {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"}]});
        let resp = json!({"choices": [{"message": {"role": "assistant", "content": null, "tool_calls": [{"id": "call_2", "type": "function", "function": {"name": "send_email", "arguments": "{\"to\":\"a@b.c\"}"}}]}, "finish_reason": "tool_calls"}]});
        let f = genai_fields(&req, &resp);
        assert_eq!(f[TOOL_NAME], json!(["send_email"]));
        assert_eq!(
            f[TOOL_CALLS],
            json!([{"id": "call_2", "name": "send_email", "arguments": "{\"to\":\"a@b.c\"}"}])
        );
        assert_eq!(
            f[TOOL_RESULTS],
            json!([{"id": "call_1", "content": "Sunny"}])
        );
        // Anthropic Messages.
        let req = json!({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "42 rows"}]}]}]});
        let resp = json!({"content": [{"type": "text", "text": "ok"}, {"type": "tool_use", "id": "toolu_2", "name": "run_sql", "input": {"q": "select 1"}}]});
        let f = tool_fields(&req, &resp);
        assert_eq!(
            f[TOOL_CALLS],
            json!([{"id": "toolu_2", "name": "run_sql", "arguments": "{\"q\":\"select 1\"}"}])
        );
        assert_eq!(
            f[TOOL_RESULTS],
            json!([{"id": "toolu_1", "content": "42 rows"}])
        );
        // Bedrock Converse.
        let req = json!({"messages": [{"role": "user", "content": [{"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "page text"}, {"json": {"a": 1}}], "status": "success"}}]}]});
        let resp = json!({"output": {"message": {"role": "assistant", "content": [{"toolUse": {"toolUseId": "tooluse_2", "name": "fetch_url", "input": {"url": "https://x.example"}}}]}}, "stopReason": "tool_use"});
        let f = tool_fields(&req, &resp);
        assert_eq!(f[TOOL_NAME], json!(["fetch_url"]));
        assert_eq!(
            f[TOOL_RESULTS],
            json!([{"id": "tooluse_1", "content": "page text\n{\"a\":1}"}])
        );
        assert!(tool_fields(&json!({"messages": []}), &json!({})).is_empty());
    }

    #[test]
    fn prompt_shields_verdicts() {
        let detected = json!({"prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {"jailbreak": {"filtered": false, "detected": true}}}], "choices": []});
        let f = genai_fields(&Value::Null, &detected);
        assert_eq!(f["gen_ai.content_filter.jailbreak.detected"], json!(true));
        assert_eq!(f["gen_ai.content_filter.jailbreak.filtered"], json!(false));
        let refused = json!({"error": {"code": "content_filter", "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": {"jailbreak": {"filtered": true, "detected": true}}}}});
        let f = genai_fields(&Value::Null, &refused);
        assert_eq!(f["gen_ai.content_filter.jailbreak.filtered"], json!(true));
        assert_eq!(f["gen_ai.content_filter.blocked"], json!(true));
    }
}
