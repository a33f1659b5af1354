//! A planned call as a modelward LLM log record: the response the request gets (usage
//! consistent with the texts, `choices[].logprobs` when asked for, the answer cut at
//! `max_tokens`), durations, and a 429 error body for rate-limited calls.

use chrono::DateTime;
use serde_json::{json, Map, Value};

use super::{Call, Principal, Slot};
use crate::rng::Rng;

/// Pieces of the simulated vocabulary (token ids map onto them deterministically).
const PIECES: [&str; 64] = [
    "the", "ing", "tion", "and", "of", "to", "er", "ed", "re", "in", "on", "at", "en", "es", "or",
    "an", "al", "is", "it", "ar", "st", "le", "ent", "ly", "ic", "ou", "as", "ro", "il", "ad",
    "ver", "ment", "ers", "ance", "ist", "ure", "ive", "con", "pro", "com", "ex", "un", "dis",
    "per", "ell", "ight", "ous", "ness", "able", "form", "ward", "sh", "qu", "ph", "ck", "ow",
    "ay", "ee", "oo", "ch", "th", "wh", "str", "gr",
];

/// The text of token `id` in the simulated vocabulary of about 100 000 tokens.
pub(crate) fn token_text(id: u64) -> String {
    let space = if id.is_multiple_of(3) { " " } else { "" };
    let n = PIECES.len() as u64;
    let mut text = String::from(space);
    text.push_str(PIECES[(id % n) as usize]);
    if id >= n {
        text.push_str(PIECES[((id / n) % n) as usize]);
    }
    if id >= n * n {
        text.push_str(PIECES[((id / (n * n)) % n) as usize]);
    }
    text
}

/// Splits text into tokens the way the simulation counts them: a word with its leading
/// space is one token, two when longer than seven bytes; punctuation and newlines are
/// tokens of their own.
pub(crate) fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b' ' && i > start {
            push_word(&mut out, &text[start..i]);
            start = i;
        } else if matches!(b, b'\n' | b'.' | b',' | b':' | b'?' | b'!' | b';') {
            if i > start {
                push_word(&mut out, &text[start..i]);
            }
            out.push(&text[i..=i]);
            start = i + 1;
        }
        i += 1;
    }
    if start < bytes.len() {
        push_word(&mut out, &text[start..]);
    }
    out
}

fn push_word<'a>(out: &mut Vec<&'a str>, word: &'a str) {
    if word.len() > 7 {
        let mut cut = word.len() / 2;
        while !word.is_char_boundary(cut) {
            cut += 1;
        }
        out.push(&word[..cut]);
        out.push(&word[cut..]);
    } else {
        out.push(word);
    }
}

/// Tokens of a text.
pub(crate) fn token_count(text: &str) -> u64 {
    tokens(text).len() as u64
}

/// Prompt tokens of a chat request: each message's content plus four, plus three.
pub(crate) fn prompt_tokens(request: &Map<String, Value>) -> u64 {
    let messages = request.get("messages").and_then(Value::as_array);
    3 + messages
        .into_iter()
        .flatten()
        .map(|m| {
            4 + m
                .get("content")
                .and_then(Value::as_str)
                .map_or(0, token_count)
        })
        .sum::<u64>()
}

fn timestamp(t_ms: i64) -> String {
    DateTime::from_timestamp_millis(t_ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

fn response_model(model: &str) -> &'static str {
    match model {
        "gpt-4o-mini" => "gpt-4o-mini-2024-07-18",
        "gpt-4.1" => "gpt-4.1-2025-04-14",
        "gpt-4.1-mini" => "gpt-4.1-mini-2025-04-14",
        _ => "gpt-4o-2024-08-06",
    }
}

fn fingerprint(model: &str) -> &'static str {
    match model {
        "gpt-4o-mini" => "fp_0ba0d124f1",
        "gpt-4.1" | "gpt-4.1-mini" => "fp_b38e740b47",
        _ => "fp_a7d06e42a7",
    }
}

/// One top-logprob entry.
fn entry(token: &str, logprob: f64) -> Value {
    json!({
        "token": token,
        "logprob": (logprob * 1e6).round() / 1e6,
        "bytes": token.as_bytes(),
    })
}

/// The `logprobs` object of a choice: for each output token, its logprob and the `k` most
/// likely tokens. Tokens with a positive `logit_bias` crowd the top of the first position.
fn logprobs(rng: &mut Rng, output: &[&str], k: u64, boosted: &[u64]) -> Value {
    let content: Vec<Value> = output
        .iter()
        .enumerate()
        .map(|(position, token)| {
            let chosen = if position == 0 && !boosted.is_empty() {
                -rng.unit() * 0.9 - 0.05
            } else {
                -rng.log_normal(0.08, 1.6).min(6.0)
            };
            let mut top = vec![entry(token, chosen)];
            let mut next = chosen;
            let mut alternatives: Vec<String> = Vec::new();
            if position == 0 {
                alternatives.extend(boosted.iter().map(|id| token_text(*id)));
            }
            while (alternatives.len() as u64) < k {
                alternatives.push(token_text(rng.below(100_000)));
            }
            for alt in alternatives
                .iter()
                .filter(|a| a.as_str() != *token)
                .take(k.saturating_sub(1) as usize)
            {
                next -= rng.unit()
                    * if position == 0 && !boosted.is_empty() {
                        0.4
                    } else {
                        2.0
                    }
                    + 0.01;
                top.push(entry(alt, next));
            }
            top.truncate(k as usize);
            let mut item = entry(token, chosen);
            if let Some(map) = item.as_object_mut() {
                map.insert("top_logprobs".into(), Value::Array(top));
            }
            item
        })
        .collect();
    json!({"content": content, "refusal": null})
}

/// The log record of a call, and the response id (none for an error).
pub(crate) fn record(
    slot: &Slot,
    principal: &Principal,
    call: &Call,
    rng: &mut Rng,
) -> (Value, Option<String>) {
    let request = &call.request;
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("gpt-4o");
    let stream = request.get("stream") == Some(&Value::Bool(true));
    let port = rng.between(49_152, 65_535);
    let mut record = json!({
        "modelward": {"log": "llm", "version": 1},
        "@timestamp": timestamp(slot.t_ms),
        "client": {"ip": principal.ip, "port": port},
        "principal": {"api_key_id": principal.api_key_id, "user": principal.user, "auth": principal.auth},
        "http": {
            "method": "POST",
            "path": "/v1/chat/completions",
            "status": slot.status,
            "request_headers": {"user-agent": principal.user_agent},
        },
        "upstream": {"provider": "openai", "url": "https://api.openai.com/v1/chat/completions", "model": model},
        "stream": stream,
        "request": Value::Object(request.clone()),
    });
    let Some(out) = record.as_object_mut() else {
        return (record, None);
    };
    if slot.status == 429 {
        out.insert("duration_ms".into(), json!(rng.between(6, 40)));
        out.insert(
            "response".into(),
            json!({"error": {
                "message": format!("Rate limit reached for {model} in organization org-{} on requests per min (RPM): Limit 60, Used 60, Requested 1. Please try again in 1s. Visit https://platform.openai.com/account/rate-limits to learn more.", principal.api_key_id.trim_start_matches("key_")),
                "type": "requests",
                "param": null,
                "code": "rate_limit_exceeded",
            }}),
        );
        return (record, None);
    }
    let max_tokens = request
        .get("max_completion_tokens")
        .or_else(|| request.get("max_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(4096);
    // A single vocabulary token (a logit-bias probe's answer) stays one token.
    let all = if call.answer.trim_start().contains([' ', '\n']) || call.answer.is_empty() {
        tokens(&call.answer)
    } else {
        vec![call.answer.as_str()]
    };
    let cut = all.len().min(max_tokens as usize).max(1.min(all.len()));
    let output = &all[..cut];
    let truncated = cut < all.len();
    let content: String = output.concat();
    let prompt = prompt_tokens(request);
    let completion = output.len() as u64;
    let boosted: Vec<u64> = request
        .get("logit_bias")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(_, v)| v.as_f64().is_some_and(|b| b > 0.0))
        .filter_map(|(k, _)| k.parse().ok())
        .collect();
    let logprobs_value = if request.get("logprobs") == Some(&Value::Bool(true)) {
        let k = request
            .get("top_logprobs")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        logprobs(rng, output, k, &boosted)
    } else {
        Value::Null
    };
    let id = format!("chatcmpl-{}", rng.alphanumeric(29));
    let cached = match call.cache_hit {
        Some(true) => prompt / 128 * 128,
        _ => 0,
    };
    let per_token = rng.log_normal(14.0, 0.25);
    let first_token = match call.cache_hit {
        Some(true) => rng.log_normal(95.0, 0.18),
        Some(false) => rng.log_normal(240.0, 0.18) + prompt as f64 * 0.12,
        None => rng.log_normal(330.0, 0.35) + prompt as f64 * 0.06,
    };
    let duration = first_token + completion as f64 * per_token;
    out.insert("duration_ms".into(), json!(duration.round() as u64));
    if stream {
        out.insert(
            "timings".into(),
            json!({"first_token_ms": first_token.round() as u64}),
        );
    }
    let created = slot.t_ms.div_euclid(1000);
    out.insert(
        "response".into(),
        json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": response_model(model),
            "system_fingerprint": fingerprint(model),
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": null},
                "logprobs": logprobs_value,
                "finish_reason": if truncated { "length" } else { "stop" },
            }],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": cached},
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
        }),
    );
    (record, Some(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_cover_the_text() {
        let text = "Hello, wonderful world.\nStep 1: tokenization";
        let pieces = tokens(text);
        assert_eq!(pieces.concat(), text);
        assert_eq!(token_count(text), pieces.len() as u64);
    }

    #[test]
    fn vocabulary_is_deterministic() {
        assert_eq!(token_text(70_123), token_text(70_123));
        assert_ne!(token_text(1), token_text(2));
    }
}
