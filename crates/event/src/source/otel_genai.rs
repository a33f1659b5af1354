//! OpenTelemetry GenAI: spans and log records of model calls, as the GenAI semantic
//! conventions name them and OpenLLMetry, OpenLIT and the OpenTelemetry SDKs' instrumentations
//! emit them, read from OTLP/JSON (`crate::input::otlp` makes one object of each span, and of
//! the log records of one span). They get the fields modelward's LLM log gets, so the
//! per-call detectors and the behavioural analyzers read them like any other call.
//!
//! | OpenTelemetry | field |
//! |---|---|
//! | span `startTimeUnixNano` (log record `timeUnixNano`, else `observedTimeUnixNano`) | `@timestamp` |
//! | span `endTimeUnixNano` − `startTimeUnixNano` | `event.duration` (ns) |
//! | span `status.code` 2 (`STATUS_CODE_ERROR`) or an `error.type` attribute | `event.outcome: failure` (else `success`), `error.type` |
//! | `gen_ai.system`, else `gen_ai.provider.name` | `gen_ai.system` |
//! | `gen_ai.operation.name`, `gen_ai.conversation.id`, `gen_ai.request.top_k`, `gen_ai.request.stop_sequences`, `gen_ai.response.finish_reasons` | the same |
//! | `gen_ai.request.model`, `max_tokens`, `temperature`, `top_p`, `seed`, `frequency_penalty`, `presence_penalty`, `logprobs`, `top_logprobs`, `logit_bias`, `choice.count` | `gen_ai.request.*` (`choice.count` as `n`), as the OpenAI body mapping writes them (`openai_body`) |
//! | `gen_ai.response.model`, `gen_ai.response.id` | the same |
//! | `gen_ai.usage.input_tokens` / `prompt_tokens`, `output_tokens` / `completion_tokens` | `gen_ai.usage.input_tokens`, `.output_tokens` |
//! | prompts (below) | `gen_ai.prompt` (list of `{role, content}`) |
//! | completions (below) | `gen_ai.completion` (list of strings) |
//! | `user.id`, else `enduser.id`, `gen_ai.request.user`, `llm.user` | `user.id` |
//! | `client.address` (an IP address), `client.port` | `source.ip`, `source.port` |
//! | `user_agent.original` | the same |
//! | `server.address`, `server.port` | `destination.address`, `destination.port` |
//! | `traceId`, `spanId` | `trace.id`, `span.id` |
//! | resource `service.name`, `service.version`; scope `name`, `version` | `service.name`, `service.version`, `opentelemetry.scope.name`, `.version` |
//! | — | `data_stream.dataset: otel_genai` |
//!
//! Prompts and completions, from whichever the instrumentation wrote (all are read; the
//! first found of each kind is used):
//!
//! * `gen_ai.input.messages`, `gen_ai.system_instructions` and `gen_ai.output.messages`
//!   (semantic conventions 1.37 on: JSON text or structured, messages of `role` and `parts`
//!   `[{type: "text", content}]`), as span attributes or on a
//!   `gen_ai.client.inference.operation.details` event;
//! * span or log events `gen_ai.system.message`, `gen_ai.user.message`,
//!   `gen_ai.assistant.message`, `gen_ai.tool.message` (the role from the name; `content`
//!   from the body or the `gen_ai.event.content` attribute's JSON) and `gen_ai.choice`
//!   (`message.content`, `finish_reason`);
//! * span events `gen_ai.content.prompt` / `gen_ai.content.completion` with the attribute
//!   `gen_ai.prompt` / `gen_ai.completion` (a JSON list of messages, or text: OpenLIT);
//! * span attributes `gen_ai.prompt.N.role` / `.content` and `gen_ai.completion.N.content`
//!   (OpenLLMetry).
//!
//! Content given as a list of parts is its text parts joined with newlines. A span or log
//! record group is this source when an attribute (of the span, its events or its records)
//! starts with `gen_ai.` or `llm.`, or a log record's event is named `gen_ai.*`; other spans
//! pass through as the OTLP objects they are.

use serde_json::{json, Map, Value};

use super::contract::{self, Domain, Synthesized};
use super::openai_body::genai_fields;
use super::paths::{put, put_dataset};

pub const DATASET: &str = "otel_genai";

const ROLES: [&str; 4] = ["system", "user", "assistant", "tool"];

/// This source's normalizer in the [`super::REGISTRY`].
pub static SOURCE: contract::Source = contract::Source {
    kind: super::SourceKind::OtelGenAi,
    name: "otel_genai",
    looks_like,
    normalize: normalize_record,
    synthesized: &[SYNTHESIZED, super::openai_body::SYNTHESIZED],
};

/// The fields this normalizer writes itself (see [`super::contract`]).
const SYNTHESIZED: &[Synthesized] = &[
    Synthesized::new("data_stream.dataset", Domain::Consts(&[DATASET])),
    Synthesized::new("event.dataset", Domain::Consts(&[DATASET])),
    Synthesized::new("source.port", contract::NUMBER),
    Synthesized::new("destination.port", contract::NUMBER),
];

/// An OTLP object's parts: the object, its span (None for log records), and the span's
/// events or the log records.
type Parts<'a> = (
    &'a Map<String, Value>,
    Option<&'a Map<String, Value>>,
    Vec<&'a Map<String, Value>>,
);

/// The span, or the log records, of an OTLP object.
fn items(raw: &Map<String, Value>) -> Option<Parts<'_>> {
    let otlp = raw.get("otlp")?.as_object()?;
    if raw.len() != 1 {
        return None;
    }
    if let Some(span) = otlp.get("span").and_then(Value::as_object) {
        let events = span
            .get("events")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .collect();
        return Some((otlp, Some(span), events));
    }
    let records = otlp
        .get("log_records")?
        .as_array()?
        .iter()
        .filter_map(Value::as_object)
        .collect();
    Some((otlp, None, records))
}

fn attrs(item: &Map<String, Value>) -> Option<&Map<String, Value>> {
    item.get("attributes").and_then(Value::as_object)
}

/// An event's or log record's name: `name`, `eventName`, or the `event.name` attribute.
fn event_name(item: &Map<String, Value>) -> &str {
    item.get("name")
        .or_else(|| item.get("eventName"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or_else(|| attrs(item)?.get("event.name")?.as_str())
        .unwrap_or("")
}

fn genai_key(key: &str) -> bool {
    key.starts_with("gen_ai.") || key.starts_with("llm.")
}

/// Whether an OTLP object is a GenAI span or a GenAI call's log records.
pub fn looks_like(raw: &Map<String, Value>) -> bool {
    let Some((_, span, events)) = items(raw) else {
        return false;
    };
    span.and_then(attrs)
        .is_some_and(|a| a.keys().any(|k| genai_key(k)))
        || events.iter().any(|e| {
            event_name(e).starts_with("gen_ai.")
                || attrs(e).is_some_and(|a| a.keys().any(|k| genai_key(k)))
        })
}

fn normalize_record(raw: Map<String, Value>) -> Result<super::Normalized, super::SourceError> {
    Ok(super::Normalized::Event(normalize(&raw)))
}

/// A number that may be written as text (OTLP's 64-bit integers).
fn number(v: &Value) -> Option<Value> {
    match v {
        Value::Number(_) => Some(v.clone()),
        Value::String(s) => s.trim().parse::<i64>().ok().map(Value::from),
        _ => None,
    }
}

fn nanos(v: Option<&Value>) -> Option<i128> {
    match v? {
        Value::Number(n) => n.as_u64().map(i128::from),
        Value::String(s) => s.trim().parse::<i128>().ok(),
        _ => None,
    }
    .filter(|n| *n > 0)
}

/// Text of a message's content: a string, or its text parts joined with newlines.
fn text_of(content: &Value) -> Option<String> {
    match content {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Array(parts) => {
            let texts: Vec<String> = parts
                .iter()
                .filter_map(|p| match p {
                    Value::String(s) => Some(s.clone()),
                    Value::Object(part) => part
                        .get("content")
                        .or_else(|| part.get("text"))
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    _ => None,
                })
                .filter(|s| !s.is_empty())
                .collect();
            (!texts.is_empty()).then(|| texts.join("\n"))
        }
        Value::Object(map) => map
            .get("content")
            .or_else(|| map.get("text"))
            .and_then(text_of),
        _ => None,
    }
}

/// A value that may be JSON text of a structure.
fn parsed(v: &Value) -> Value {
    match v {
        Value::String(s) if s.trim_start().starts_with(['[', '{']) => {
            serde_json::from_str(s).unwrap_or_else(|_| v.clone())
        }
        other => other.clone(),
    }
}

/// Messages (`{role, content}`) of a list in any of the conventions' forms.
fn messages_of(list: &Value, default_role: &str) -> Vec<Value> {
    match parsed(list) {
        Value::Array(items) => items
            .iter()
            .filter_map(|m| {
                let role = m
                    .get("role")
                    .and_then(Value::as_str)
                    .unwrap_or(default_role)
                    .to_string();
                let content = m
                    .get("parts")
                    .or_else(|| m.get("content"))
                    .or_else(|| m.get("message").and_then(|x| x.get("content")))
                    .and_then(text_of)
                    .or_else(|| m.as_str().map(str::to_string))?;
                Some(json!({"role": role, "content": content}))
            })
            .collect(),
        Value::String(s) if !s.is_empty() => vec![json!({"role": default_role, "content": s})],
        _ => Vec::new(),
    }
}

#[derive(Default)]
struct Found {
    prompt: Option<Vec<Value>>,
    completion: Option<Vec<Value>>,
    finish: Vec<Value>,
}

impl Found {
    fn prompt(&mut self, messages: Vec<Value>) {
        if self.prompt.is_none() && !messages.is_empty() {
            self.prompt = Some(messages);
        }
    }
    fn completion(&mut self, messages: Vec<Value>) {
        let texts: Vec<Value> = messages
            .into_iter()
            .filter_map(|m| m.get("content").cloned())
            .collect();
        if self.completion.is_none() && !texts.is_empty() {
            self.completion = Some(texts);
        }
    }
}

/// Prompts and completions from attributes in the 1.37 form.
fn from_message_attributes(a: &Map<String, Value>, found: &mut Found) {
    let mut prompt = Vec::new();
    if let Some(system) = a.get("gen_ai.system_instructions") {
        prompt.extend(messages_of(system, "system"));
    }
    if let Some(input) = a.get("gen_ai.input.messages") {
        prompt.extend(messages_of(input, "user"));
    }
    found.prompt(prompt);
    if let Some(output) = a.get("gen_ai.output.messages") {
        found.completion(messages_of(output, "assistant"));
    }
}

/// Prompts and completions from OpenLLMetry's indexed attributes.
fn from_indexed_attributes(a: &Map<String, Value>, found: &mut Found) {
    let indexed = |prefix: &str| {
        let mut items: Vec<(u32, String, Value)> = Vec::new();
        for (key, value) in a {
            let Some(rest) = key.strip_prefix(prefix) else {
                continue;
            };
            let Some((n, field)) = rest.split_once('.') else {
                continue;
            };
            let Ok(n) = n.parse::<u32>() else { continue };
            items.push((n, field.to_string(), value.clone()));
        }
        items.sort_by(|x, y| (x.0, &x.1).cmp(&(y.0, &y.1)));
        let mut messages: Vec<(u32, Map<String, Value>)> = Vec::new();
        for (n, field, value) in items {
            if messages.last().is_none_or(|m| m.0 != n) {
                messages.push((n, Map::new()));
            }
            if let Some(last) = messages.last_mut() {
                last.1.insert(field, value);
            }
        }
        Value::Array(messages.into_iter().map(|m| Value::Object(m.1)).collect())
    };
    found.prompt(messages_of(&indexed("gen_ai.prompt."), "user"));
    found.completion(messages_of(&indexed("gen_ai.completion."), "assistant"));
}

/// Prompts and completions from span events or log records.
fn from_events(events: &[&Map<String, Value>], found: &mut Found) {
    let mut prompt = Vec::new();
    let mut completion = Vec::new();
    for event in events {
        let name = event_name(event);
        let a = attrs(event);
        let attr = |k: &str| a.and_then(|a| a.get(k));
        if let Some(a) = a {
            from_message_attributes(a, found);
        }
        let body = event
            .get("body")
            .map(parsed)
            .or_else(|| attr("gen_ai.event.content").map(parsed));
        match name {
            "gen_ai.content.prompt" => {
                if let Some(p) = attr("gen_ai.prompt") {
                    found.prompt(messages_of(p, "user"));
                }
            }
            "gen_ai.content.completion" => {
                if let Some(c) = attr("gen_ai.completion") {
                    found.completion(messages_of(c, "assistant"));
                }
            }
            "gen_ai.choice" => {
                let Some(body) = body else { continue };
                if let Some(text) = body
                    .get("message")
                    .and_then(|m| m.get("content"))
                    .or_else(|| body.get("content"))
                    .and_then(text_of)
                {
                    completion.push(json!({"role": "assistant", "content": text}));
                }
                if let Some(reason) = body.get("finish_reason").filter(|r| !r.is_null()) {
                    found.finish.push(reason.clone());
                }
            }
            _ => {
                let Some(role) = name
                    .strip_prefix("gen_ai.")
                    .and_then(|r| r.strip_suffix(".message"))
                    .filter(|r| ROLES.contains(r))
                else {
                    continue;
                };
                let role = body
                    .as_ref()
                    .and_then(|b| b.get("role"))
                    .and_then(Value::as_str)
                    .unwrap_or(role);
                if let Some(text) = body.as_ref().and_then(text_of) {
                    prompt.push(json!({"role": role, "content": text}));
                }
            }
        }
    }
    found.prompt(prompt);
    found.completion(completion);
}

/// Maps one GenAI span or one call's log records.
pub fn normalize(raw: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let Some((otlp, span, events)) = items(raw) else {
        return raw.clone();
    };
    // The call's attributes: the span's, else every record's (the first of a key wins).
    let mut a: Map<String, Value> = span.and_then(attrs).cloned().unwrap_or_default();
    if span.is_none() {
        for record in &events {
            for (k, v) in attrs(record).into_iter().flatten() {
                a.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    let get = |k: &str| a.get(k).filter(|v| !v.is_null());
    let first = |ks: &[&str]| ks.iter().find_map(|k| get(k)).cloned();

    let mut found = Found::default();
    from_message_attributes(&a, &mut found);
    from_events(&events, &mut found);
    from_indexed_attributes(&a, &mut found);

    // The call as OpenAI-style bodies, mapped as every other source's are.
    let mut request = Map::new();
    let set = |m: &mut Map<String, Value>, key: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(key.into(), v);
        }
    };
    set(&mut request, "model", first(&["gen_ai.request.model"]));
    for (attr, key) in [
        ("gen_ai.request.max_tokens", "max_tokens"),
        ("gen_ai.request.seed", "seed"),
        ("gen_ai.request.top_logprobs", "top_logprobs"),
        ("gen_ai.request.choice.count", "n"),
    ] {
        set(&mut request, key, get(attr).and_then(number));
    }
    for (attr, key) in [
        ("gen_ai.request.temperature", "temperature"),
        ("gen_ai.request.top_p", "top_p"),
        ("gen_ai.request.frequency_penalty", "frequency_penalty"),
        ("gen_ai.request.presence_penalty", "presence_penalty"),
        ("gen_ai.request.logprobs", "logprobs"),
        ("gen_ai.request.logit_bias", "logit_bias"),
    ] {
        set(&mut request, key, get(attr).map(parsed));
    }
    set(&mut request, "messages", found.prompt.map(Value::Array));
    let mut response = Map::new();
    set(&mut response, "model", first(&["gen_ai.response.model"]));
    set(&mut response, "id", first(&["gen_ai.response.id"]));
    let mut usage = Map::new();
    set(
        &mut usage,
        "prompt_tokens",
        first(&["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"])
            .and_then(|v| number(&v)),
    );
    set(
        &mut usage,
        "completion_tokens",
        first(&[
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.completion_tokens",
        ])
        .and_then(|v| number(&v)),
    );
    if !usage.is_empty() {
        response.insert("usage".into(), Value::Object(usage));
    }
    if let Some(texts) = found.completion {
        let choices = texts
            .into_iter()
            .map(|t| json!({"message": {"content": t}}))
            .collect();
        response.insert("choices".into(), Value::Array(choices));
    }
    for (key, value) in genai_fields(&Value::Object(request), &Value::Object(response)) {
        put(&mut out, &key, Some(value));
    }
    put(
        &mut out,
        "gen_ai.system",
        first(&["gen_ai.system", "gen_ai.provider.name"]),
    );
    for key in [
        "gen_ai.operation.name",
        "gen_ai.conversation.id",
        "gen_ai.request.top_k",
        "gen_ai.request.stop_sequences",
    ] {
        put(&mut out, key, get(key).map(parsed));
    }
    let finish = get("gen_ai.response.finish_reasons")
        .map(parsed)
        .or_else(|| (!found.finish.is_empty()).then(|| Value::Array(found.finish.clone())));
    put(&mut out, "gen_ai.response.finish_reasons", finish);

    // Who called, from where.
    put(
        &mut out,
        "user.id",
        first(&["user.id", "enduser.id", "gen_ai.request.user", "llm.user"]),
    );
    if let Some(addr) = get("client.address").and_then(Value::as_str) {
        if addr.parse::<std::net::IpAddr>().is_ok() {
            put(&mut out, "source.ip", Some(Value::String(addr.to_string())));
        } else {
            put(
                &mut out,
                "source.address",
                Some(Value::String(addr.to_string())),
            );
        }
    }
    put(&mut out, "source.port", get("client.port").and_then(number));
    put(
        &mut out,
        "user_agent.original",
        first(&["user_agent.original"]),
    );
    put(&mut out, "destination.address", first(&["server.address"]));
    put(
        &mut out,
        "destination.port",
        get("server.port").and_then(number),
    );

    // When, how long, how it ended.
    let item = span.or_else(|| events.first().copied());
    let start = item.and_then(|i| {
        nanos(i.get("startTimeUnixNano"))
            .or_else(|| nanos(i.get("timeUnixNano")))
            .or_else(|| nanos(i.get("observedTimeUnixNano")))
    });
    if let Some(start) = start {
        let ms = i64::try_from(start / 1_000_000).unwrap_or(i64::MAX);
        put(
            &mut out,
            "@timestamp",
            Some(Value::String(crate::time::format_timestamp(ms))),
        );
        if let Some(end) = span.and_then(|s| nanos(s.get("endTimeUnixNano"))) {
            if end >= start {
                let d = i64::try_from(end - start).unwrap_or(i64::MAX);
                put(&mut out, "event.duration", Some(Value::from(d)));
            }
        }
    }
    let status = span
        .and_then(|s| s.get("status"))
        .and_then(|s| s.get("code"));
    let error = matches!(status, Some(Value::Number(n)) if n.as_u64() == Some(2))
        || status.and_then(Value::as_str) == Some("STATUS_CODE_ERROR")
        || get("error.type").is_some();
    put(
        &mut out,
        "event.outcome",
        Some(Value::String(
            if error { "failure" } else { "success" }.into(),
        )),
    );
    put(&mut out, "error.type", first(&["error.type"]));
    if let Some(message) = span
        .and_then(|s| s.get("status"))
        .and_then(|s| s.get("message"))
        .filter(|m| m.as_str().is_some_and(|m| !m.is_empty()))
    {
        put(&mut out, "error.message", Some(message.clone()));
    }
    put(
        &mut out,
        "trace.id",
        item.and_then(|i| i.get("traceId"))
            .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
            .cloned(),
    );
    put(
        &mut out,
        "span.id",
        item.and_then(|i| i.get("spanId"))
            .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
            .cloned(),
    );
    if let Some(name) = span.and_then(|s| s.get("name")) {
        put(&mut out, "span.name", Some(name.clone()));
    }
    let resource = otlp.get("resource");
    for (from, to) in [
        ("service.name", "service.name"),
        ("service.version", "service.version"),
    ] {
        put(&mut out, to, resource.and_then(|r| r.get(from)).cloned());
    }
    let scope = otlp.get("scope");
    put(
        &mut out,
        "opentelemetry.scope.name",
        scope.and_then(|s| s.get("name")).cloned(),
    );
    put(
        &mut out,
        "opentelemetry.scope.version",
        scope.and_then(|s| s.get("version")).cloned(),
    );
    put_dataset(&mut out, DATASET);
    out
}
