//! modelward's own LLM request log (`data_stream.dataset: modelward.llm`): one JSON object
//! per call through an OpenAI-compatible endpoint, as the modelward gateway writes it. The
//! format is documented in `docs/llm-log.md`; this module maps it to ECS and OpenTelemetry
//! GenAI fields:
//!
//! | log | field |
//! |---|---|
//! | `@timestamp` | `@timestamp` |
//! | `client.ip`, `client.port` | `source.ip`, `source.port` |
//! | `principal.api_key_id`, `principal.user`, `principal.auth` | `api_key.id`, `user.id`, `modelward.auth` |
//! | `http.method`, `http.path`, `http.status` | `http.request.method`, `url.path`, `http.response.status_code` |
//! | `http.request_headers.user-agent` | `user_agent.original` |
//! | `upstream.provider`, `upstream.model` | `gen_ai.system`, `gen_ai.request.model` (when the body has none) |
//! | `request`, `response` (bodies) | `gen_ai.*` (see `openai_body`) |
//! | `duration_ms`, `timings.first_token_ms` | `event.duration` (ns), `modelward.timings.first_token_ms` |
//! | `http.status` | `event.outcome` (`success` below 400, else `failure`) |
//! | `principal.team` | `user.group.name` |
//! | `modelward.measures`, `modelward.masked` | the same (measures the gateway applied; credentials it masked in the completion) |

use serde_json::{json, Map, Value};

use super::openai_body::genai_fields;
use super::paths::{get, put, put_dataset};

pub const DATASET: &str = "modelward.llm";

/// Whether a record is a modelward LLM log record.
pub fn looks_like(obj: &Map<String, Value>) -> bool {
    obj.get("modelward")
        .and_then(|m| m.get("log"))
        .and_then(Value::as_str)
        == Some("llm")
}

/// Maps one record.
pub fn normalize(raw: Map<String, Value>) -> Map<String, Value> {
    let raw = Value::Object(raw);
    let mut out = Map::new();
    let copy =
        |out: &mut Map<String, Value>, from: &str, to: &str| put(out, to, get(&raw, from).cloned());
    copy(&mut out, "@timestamp", "@timestamp");
    copy(&mut out, "client.ip", "source.ip");
    copy(&mut out, "client.port", "source.port");
    copy(&mut out, "principal.api_key_id", "api_key.id");
    copy(&mut out, "principal.user", "user.id");
    copy(&mut out, "principal.auth", "modelward.auth");
    copy(&mut out, "http.method", "http.request.method");
    copy(&mut out, "http.path", "url.path");
    copy(&mut out, "http.status", "http.response.status_code");
    copy(
        &mut out,
        "timings.first_token_ms",
        "modelward.timings.first_token_ms",
    );
    copy(&mut out, "stream", "modelward.stream");
    copy(&mut out, "modelward.masked", "modelward.masked");
    copy(&mut out, "modelward.measures", "modelward.measures");
    copy(&mut out, "principal.team", "user.group.name");
    let ua = get(&raw, "http.request_headers")
        .and_then(|h| h.as_object())
        .and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
                .map(|(_, v)| v.clone())
        });
    put(&mut out, "user_agent.original", ua);
    if let Some(ms) = get(&raw, "duration_ms").and_then(Value::as_f64) {
        put(
            &mut out,
            "event.duration",
            Some(json!((ms * 1_000_000.0) as i64)),
        );
    }
    if let Some(status) = get(&raw, "http.status").and_then(Value::as_i64) {
        put(
            &mut out,
            "event.outcome",
            Some(json!(if status < 400 { "success" } else { "failure" })),
        );
    }
    let null = Value::Null;
    let request = get(&raw, "request").unwrap_or(&null);
    let response = get(&raw, "response").unwrap_or(&null);
    for (key, value) in genai_fields(request, response) {
        put(&mut out, &key, Some(value));
    }
    put(
        &mut out,
        "gen_ai.system",
        get(&raw, "upstream.provider").cloned(),
    );
    if out
        .get("gen_ai")
        .and_then(|genai| get(genai, "request.model"))
        .is_none()
    {
        put(
            &mut out,
            "gen_ai.request.model",
            get(&raw, "upstream.model").cloned(),
        );
    }
    put_dataset(&mut out, DATASET);
    out
}

use super::contract::{self, Domain, Synthesized};

/// This source's normalizer in the [`super::REGISTRY`].
pub static SOURCE: contract::Source = contract::Source {
    kind: super::SourceKind::ModelwardLlm,
    name: "modelward_llm",
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
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_a_record() {
        let raw = json!({
            "modelward": {"log": "llm", "version": 1},
            "@timestamp": "2025-03-01T10:00:00.123Z",
            "duration_ms": 812,
            "client": {"ip": "203.0.113.7", "port": 53211},
            "principal": {"api_key_id": "key_7f3a", "user": "alice@example.com", "auth": "api_key"},
            "http": {"method": "POST", "path": "/v1/chat/completions", "status": 200, "request_headers": {"User-Agent": "OpenAI/Python 1.51.0"}},
            "upstream": {"provider": "openai", "model": "gpt-4o"},
            "request": {"model": "gpt-4o", "max_tokens": 1, "logprobs": true, "messages": [{"role": "user", "content": "hi"}]},
            "response": {"choices": [{"message": {"content": "Hello"}, "finish_reason": "length"}], "usage": {"prompt_tokens": 5, "completion_tokens": 1}}
        });
        let Value::Object(raw) = raw else {
            unreachable!()
        };
        assert!(looks_like(&raw));
        let out = Value::Object(normalize(raw));
        assert_eq!(out["source"]["ip"], json!("203.0.113.7"));
        assert_eq!(out["api_key"]["id"], json!("key_7f3a"));
        assert_eq!(out["user_agent"]["original"], json!("OpenAI/Python 1.51.0"));
        assert_eq!(out["gen_ai"]["request"]["max_tokens"], json!(1));
        assert_eq!(out["gen_ai"]["completion"], json!(["Hello"]));
        assert_eq!(out["gen_ai"]["system"], json!("openai"));
        assert_eq!(out["event"]["duration"], json!(812_000_000));
        assert_eq!(out["event"]["outcome"], json!("success"));
        assert_eq!(out["data_stream"]["dataset"], json!("modelward.llm"));
    }
}
