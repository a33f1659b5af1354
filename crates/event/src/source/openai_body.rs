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

use serde_json::{json, Map, Value};

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

/// `gen_ai.*` fields (flattened keys) from a request and a response body, either of which
/// may be JSON null.
pub fn genai_fields(request: &Value, response: &Value) -> Map<String, Value> {
    let mut out = Map::new();
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
