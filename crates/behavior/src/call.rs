//! One LLM call, reduced to what the behavioural analyzers compare: extracted from each event
//! in the parallel per-event stage, analyzed later in event-time order.
//!
//! | feature | fields read, first present |
//! |---|---|
//! | time | `@timestamp` |
//! | principal | `modelward_event::fields::PRINCIPAL`: `user.id`, `user.name`, `api_key.id`, `azure.open_ai.properties.object_id` (Entra object id of RequestResponse logs), `azure.open_ai.properties.apim_subscription_id` (API Management gateway logs), `aws.bedrock.identity.arn` (Elastic's Bedrock integration), `principal`; else the address fields, `source.ip`, `client.ip`; with `principal = "api_key"` or `"ip"` ([`crate::PrincipalKind`]) the API key id or the client address first |
//! | client address | `source.ip`, `client.ip`, `azure.open_ai.caller_ip_address` (Azure's masked `a.b.c.***`, whose /24 is still known) |
//! | user agent | `user_agent.original` |
//! | auth method | `modelward.auth` (modelward's LLM log: `principal.auth`); AWS Bedrock: the identity ARN's type (`aws_assumed_role`, `aws_iam_user`, `aws_federated_user`, `aws_root`); Azure RequestResponse: `entra_id` when the record has an Entra object id, `key` when it is empty; none for LiteLLM and API Management gateway logs, which do not record it |
//! | prompt fingerprint | `gen_ai.prompt` (see [`crate::prompt_hash`]) |
//! | tokens | `gen_ai.usage.input_tokens` or `prompt_tokens`; `gen_ai.usage.output_tokens` or `completion_tokens` |
//! | sensitive data | the number of MW-AI-0004 findings in the event |
//! | model | `modelward_event::fields::MODEL`: `gen_ai.request.model`, `azure.open_ai.properties.model_name`, `.model_deployment_name`, `gen_ai.response.model`, `gen_ai.request.model.id` (AWS Bedrock) |
//! | request parameters ([`Params`]) | `gen_ai.request.max_tokens`, `.logprobs` (a boolean, or the legacy Completions integer, which also counts as `top_logprobs`), `.top_logprobs`, `.logit_bias` (token id → bias), `.n`, `.temperature`, `.seed` |
//! | latency | `event.duration` (ns), else `gen_ai.performance.response_time` (ms) |
//! | prompt text ([`PromptFeatures`]) | `gen_ai.prompt`; reasoning requested by parameter: `gen_ai.request.reasoning_effort`, `.include_reasoning: true`, `.reasoning` |
//!
//! What each source gives the theft analyzers (the normalizers in `modelward_event::source`):
//!
//! | source | request parameters | latency | prompt text |
//! |---|---|---|---|
//! | modelward LLM log | all of them, from the request body (`openai_body`) | `duration_ms` → `event.duration` | messages, `prompt` or `input` |
//! | LiteLLM | all of them, from `model_parameters` | `endTime − startTime` → `event.duration` | `messages` |
//! | Azure API Management gateway logs with bodies | all of them, from the request body | `event.duration` as Elastic writes it (Java `int` × 10⁶: wraps above 2,147 ms, so a negative value is ignored) | messages |
//! | Azure RequestResponse | none (the record has no body) | as above | none |
//! | AWS Bedrock | `temperature`, `max_tokens` (top level of the body only); no logprobs or logit bias (Bedrock has neither) | `gen_ai.performance.response_time` | the whole request body as JSON text (Elastic's `gen_ai.prompt`) |
//!
//! No normalizer writes the reasoning parameters yet (`reasoning_effort` and
//! `include_reasoning` are not among the body keys `openai_body` maps), so today a request for
//! reasoning traces is seen in the prompt's words only.
//!
//! An event is a call when it has `gen_ai.*` request, response or usage fields, is an
//! Azure OpenAI `RequestResponse` record, or is an object-storage access (it has
//! `storage.operation`, written by the storage normalizers); an event without a time or a
//! principal is not.
//!
//! A storage access carries a [`Storage`] part, read from `storage.operation`,
//! `storage.bytes`, `storage.account`, `storage.bucket`, `storage.object.key` (else
//! `file.path`), `file.extension` (else the key's) and `event.outcome`. Only the storage
//! analyzers (MW-TH-0007, MW-TH-0008) look at such calls; every other analyzer skips them.
//!
//! A control-plane operation on an AI resource (an Azure activity-log record: it has
//! `modelward.control.operation`, written by the `azure_activity` normalizer) is a call too,
//! with a [`Control`] part read from `modelward.control.operation`, `event.action`,
//! `azure.resource.id` and `event.outcome`. Only MW-AI-0022 looks at such calls; the other
//! analyzers skip them ([`Call::is_llm`]).

use std::sync::Arc;

use modelward_event::fields::{MODEL, PRINCIPAL, SOURCE_IP};
use modelward_event::{parse_timestamp, Event};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::features::prompt_hash;
use crate::text::PromptFeatures;

/// Logit-bias entries a call keeps (those of largest magnitude).
pub const BIAS_KEPT: usize = 8;

/// The request parameters extraction detection reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Params {
    pub max_tokens: Option<u32>,
    /// Log probabilities requested.
    pub logprobs: bool,
    pub top_logprobs: Option<u8>,
    pub n: Option<u16>,
    pub temperature: Option<f32>,
    pub seed: Option<i64>,
    /// Entries of the logit-bias map.
    pub bias_entries: u16,
    /// The largest |bias| in it.
    pub bias_max: f32,
    /// Up to [`BIAS_KEPT`] entries (token id, bias), those of largest |bias|, by token id.
    pub bias: Box<[(u32, f32)]>,
}

/// The object-storage part of a call: one access to a bucket or container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Storage {
    /// `storage.operation`: `read`, `write`, `list`, `delete`, `copy`, `share`, `keys`, …
    pub operation: Box<str>,
    /// `storage.bytes`: bytes moved (0 when not logged).
    pub bytes: u64,
    /// `storage.account`, when logged.
    pub account: Option<Box<str>>,
    /// `storage.bucket` (or Azure container).
    pub bucket: Option<Box<str>>,
    /// `storage.object.key`, else `file.path`.
    pub key: Option<Box<str>>,
    /// `file.extension`, else the key's, lowercased.
    pub extension: Option<Box<str>>,
    /// `event.outcome: failure`.
    pub failed: bool,
}

impl Storage {
    /// The bucket as the storage analyzers key it: `account/bucket` when the account is known.
    pub fn container(&self) -> String {
        match (&self.account, &self.bucket) {
            (Some(a), Some(b)) => format!("{a}/{b}"),
            (None, Some(b)) => b.to_string(),
            (Some(a), None) => format!("{a}/"),
            (None, None) => String::new(),
        }
    }

    /// A successful read.
    pub fn is_read(&self) -> bool {
        &*self.operation == "read" && !self.failed
    }
}

/// The control-plane part of a call: one operation on an AI resource (key listing, a
/// deployment written, a role assignment).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Control {
    /// `modelward.control.operation`: `list_keys`, `regenerate_key`, `deployment_write`, …
    pub operation: Box<str>,
    /// `event.action`: the operation as the log names it.
    pub action: Option<Box<str>>,
    /// `azure.resource.id`: the AI resource.
    pub resource: Option<Box<str>>,
    /// `event.outcome` (none: an operation begun, whose result is another record).
    pub outcome: Option<Box<str>>,
    /// `azure.activitylogs.identity.app_id`: the application the caller's token was issued
    /// to (the `appid` claim: Azure CLI, the portal, PowerShell, a pipeline's own app
    /// registration), the client the activity log records in place of a user agent.
    pub client_app: Option<Box<str>>,
}

fn control(event: &Event) -> Option<Box<Control>> {
    Some(Box::new(Control {
        operation: text(event, "modelward.control.operation")?,
        action: text(event, "event.action"),
        resource: text(event, "azure.resource.id"),
        outcome: text(event, "event.outcome"),
        client_app: text(event, "azure.activitylogs.identity.app_id"),
    }))
}

fn storage(event: &Event) -> Option<Box<Storage>> {
    let operation = text(event, "storage.operation")?;
    let key = text(event, "storage.object.key").or_else(|| text(event, "file.path"));
    let extension = text(event, "file.extension")
        .or_else(|| {
            let name = key.as_deref()?.rsplit('/').next()?;
            let (stem, ext) = name.rsplit_once('.')?;
            (!stem.is_empty()).then(|| ext.into())
        })
        .map(|e| e.to_ascii_lowercase().into());
    Some(Box::new(Storage {
        operation: operation.to_ascii_lowercase().into(),
        bytes: number(event, &["storage.bytes"]),
        account: text(event, "storage.account"),
        bucket: text(event, "storage.bucket"),
        key,
        extension,
        failed: event.get_str("event.outcome") == Some("failure"),
    }))
}

/// The name of one of the shared fields. (An alias, so that serde reads it through
/// [`principal_field`] and does not take it for a string borrowed from the input.)
pub type FieldName = &'static str;

/// A principal's field by name: one of [`PRINCIPAL`] or [`SOURCE_IP`].
mod principal_field {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    use super::{PRINCIPAL, SOURCE_IP};

    pub fn serialize<S: Serializer>(field: &&'static str, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(field)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
        let name = String::deserialize(d)?;
        PRINCIPAL
            .iter()
            .chain(&SOURCE_IP)
            .find(|f| **f == name)
            .copied()
            .ok_or_else(|| D::Error::custom(format!("`{name}` is not a principal field")))
    }
}

/// The code of the content detector whose findings count as sensitive data.
pub const SENSITIVE_DATA_CODE: &str = "MW-AI-0004";

/// The compact features of one LLM call event. Plain data: a live engine's checkpoint keeps
/// the calls it has not analysed yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// Event time, ms since the epoch.
    pub ts: i64,
    pub principal: Box<str>,
    /// The field the principal came from.
    #[serde(with = "principal_field")]
    pub principal_field: FieldName,
    /// `api_key.id` when the principal is another field (for `principal = "api_key"`).
    pub api_key: Option<Box<str>>,
    /// The client address as the log wrote it (possibly Azure's masked form).
    pub ip: Option<Box<str>>,
    pub user_agent: Option<Box<str>>,
    pub auth: Option<Box<str>>,
    pub prompt_hash: Option<u64>,
    pub tokens_in: u64,
    pub tokens_out: u64,
    /// MW-AI-0004 findings in the event (sensitive data in the response).
    pub sensitive: u32,
    pub model: Option<Box<str>>,
    pub params: Params,
    /// The call's duration in milliseconds, when the log has it.
    pub latency_ms: Option<f32>,
    /// Features of the prompt's text; no prompt is kept.
    pub text: Option<Box<PromptFeatures>>,
    /// The object-storage access, when the event is one (no LLM call then).
    pub storage: Option<Box<Storage>>,
    /// The names of the tools the response calls (`gen_ai.tool.name`).
    #[serde(default)]
    pub tools: Box<[Box<str>]>,
    /// The control-plane operation, when the event is one (no LLM call then).
    #[serde(default)]
    pub control: Option<Box<Control>>,
    /// Where the event was read.
    pub file: Arc<str>,
    pub line: u64,
    /// Byte offset of the record in its file.
    pub offset: u64,
    /// Hash of the record as read (0: unknown).
    pub hash: u64,
}

/// Azure OpenAI's client address, masked (`a.b.c.***`).
const AZURE_CALLER_IP: &str = "azure.open_ai.caller_ip_address";
const CALL_MARKERS: [&str; 7] = [
    "gen_ai.prompt",
    "gen_ai.completion",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "gen_ai.request.model.id",
];

fn text(event: &Event, path: &str) -> Option<Box<str>> {
    event.get(path).into_iter().find_map(|v| match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().into()),
        Value::Number(n) => Some(n.to_string().into()),
        _ => None,
    })
}

fn float(event: &Event, path: &str) -> Option<f64> {
    event
        .get(path)
        .into_iter()
        .find_map(|v| match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
        .filter(|f: &f64| f.is_finite())
}

fn params(event: &Event) -> Params {
    let mut p = Params {
        max_tokens: float(event, "gen_ai.request.max_tokens")
            .filter(|f| *f >= 0.0)
            .map(|f| f.min(u32::MAX as f64) as u32),
        top_logprobs: float(event, "gen_ai.request.top_logprobs")
            .filter(|f| *f >= 0.0)
            .map(|f| f.min(255.0) as u8),
        n: float(event, "gen_ai.request.n")
            .filter(|f| *f >= 0.0)
            .map(|f| f.min(u16::MAX as f64) as u16),
        temperature: float(event, "gen_ai.request.temperature").map(|f| f as f32),
        seed: float(event, "gen_ai.request.seed").map(|f| f as i64),
        ..Params::default()
    };
    for v in event.get("gen_ai.request.logprobs") {
        match v {
            Value::Bool(b) => p.logprobs |= *b,
            Value::Number(n) => {
                // The Completions API's `logprobs: k` asks for the top k.
                let k = n.as_f64().unwrap_or(0.0);
                if k > 0.0 {
                    p.logprobs = true;
                    let k = k.min(255.0) as u8;
                    p.top_logprobs = Some(p.top_logprobs.map_or(k, |t| t.max(k)));
                }
            }
            _ => {}
        }
    }
    if p.top_logprobs.is_some_and(|t| t > 0) {
        p.logprobs = true;
    }
    let mut entries: Vec<(u32, f32)> = Vec::new();
    for v in event.get("gen_ai.request.logit_bias") {
        if let Value::Object(map) = v {
            for (token, bias) in map {
                let (Ok(id), Some(b)) = (token.trim().parse::<u32>(), bias.as_f64()) else {
                    continue;
                };
                if b.is_finite() {
                    entries.push((id, b as f32));
                }
            }
        }
    }
    p.bias_entries = entries.len().min(u16::MAX as usize) as u16;
    p.bias_max = entries.iter().map(|e| e.1.abs()).fold(0.0, f32::max);
    entries.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
    entries.truncate(BIAS_KEPT);
    entries.sort_by_key(|e| e.0);
    p.bias = entries.into_boxed_slice();
    p
}

fn latency(event: &Event) -> Option<f32> {
    float(event, "event.duration")
        .map(|ns| ns / 1e6)
        .or_else(|| float(event, "gen_ai.performance.response_time"))
        .filter(|ms| *ms > 0.0)
        .map(|ms| ms as f32)
}

fn reasoning_param(event: &Event) -> bool {
    let effort = text(event, "gen_ai.request.reasoning_effort").is_some();
    let include = event
        .get("gen_ai.request.include_reasoning")
        .iter()
        .any(|v| **v == Value::Bool(true));
    let reasoning = event
        .get("gen_ai.request.reasoning")
        .iter()
        .any(|v| v.is_object() || **v == Value::Bool(true));
    effort || include || reasoning
}

fn number(event: &Event, paths: &[&str]) -> u64 {
    paths
        .iter()
        .find_map(|p| {
            event.get(p).into_iter().find_map(|v| match v {
                Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            })
        })
        .unwrap_or(0)
}

/// The auth method an AWS identity ARN implies.
fn arn_auth(arn: &str) -> Option<&'static str> {
    let resource = arn.strip_prefix("arn:")?.split(':').nth(4)?;
    Some(if resource.starts_with("assumed-role/") {
        "aws_assumed_role"
    } else if resource.starts_with("user/") {
        "aws_iam_user"
    } else if resource.starts_with("federated-user/") {
        "aws_federated_user"
    } else if resource == "root" {
        "aws_root"
    } else {
        return None;
    })
}

impl Call {
    /// The call an event records, with the number of sensitive-data findings in it; `None`
    /// when the event is not an LLM call or has no time or principal.
    pub fn from_event(event: &Event, sensitive: u32) -> Option<Call> {
        Call::read(event, sensitive, true)
    }

    /// The call without its prompt's features (`prompt_hash` and `text` empty): who, when,
    /// from where, with which parameters, what it read from storage. A fraction of the cost,
    /// for counting calls.
    pub fn without_text(event: &Event) -> Option<Call> {
        Call::read(event, 0, false)
    }

    fn read(event: &Event, sensitive: u32, with_text: bool) -> Option<Call> {
        let is_call = CALL_MARKERS.iter().any(|p| !event.get(p).is_empty())
            || event.get_str("azure.open_ai.category") == Some("RequestResponse")
            || text(event, "storage.operation").is_some()
            || text(event, "modelward.control.operation").is_some();
        if !is_call {
            return None;
        }
        let ts = event.get("@timestamp").into_iter().find_map(|v| match v {
            Value::String(s) => parse_timestamp(s),
            Value::Number(n) => n.as_i64(),
            _ => None,
        })?;
        let (principal_field, principal) = PRINCIPAL
            .iter()
            .chain(&SOURCE_IP)
            .find_map(|f| text(event, f).map(|v| (*f, v)))?;
        let ip = SOURCE_IP
            .iter()
            .chain(&[AZURE_CALLER_IP])
            .find_map(|f| text(event, f));
        let auth = text(event, "modelward.auth").or_else(|| {
            if principal_field == "user.id" {
                if let Some(a) = arn_auth(&principal) {
                    return Some(a.into());
                }
            }
            if event.get_str("azure.open_ai.category") == Some("RequestResponse") {
                let entra = text(event, "azure.open_ai.properties.object_id").is_some();
                return Some(if entra { "entra_id" } else { "key" }.into());
            }
            None
        });
        let prompt = if with_text {
            event.get("gen_ai.prompt")
        } else {
            Vec::new()
        };
        Some(Call {
            ts,
            api_key: (principal_field != "api_key.id")
                .then(|| text(event, "api_key.id"))
                .flatten(),
            principal,
            principal_field,
            ip,
            user_agent: text(event, "user_agent.original"),
            auth,
            prompt_hash: prompt_hash(&prompt),
            text: PromptFeatures::of(&prompt, reasoning_param(event)).map(Box::new),
            params: params(event),
            latency_ms: latency(event),
            tokens_in: number(
                event,
                &["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"],
            ),
            tokens_out: number(
                event,
                &[
                    "gen_ai.usage.output_tokens",
                    "gen_ai.usage.completion_tokens",
                ],
            ),
            sensitive,
            model: MODEL.iter().find_map(|f| text(event, f)),
            storage: storage(event),
            control: control(event),
            tools: event
                .get("gen_ai.tool.name")
                .into_iter()
                .filter_map(Value::as_str)
                .filter(|t| !t.trim().is_empty())
                .map(Box::from)
                .collect(),
            file: event.origin.file.clone(),
            line: event.origin.line,
            offset: event.origin.offset,
            hash: event.origin.hash,
        })
    }

    /// Whether the call is an LLM call: neither an object-storage access nor a control-plane
    /// operation.
    pub fn is_llm(&self) -> bool {
        self.storage.is_none() && self.control.is_none()
    }

    /// A call by `principal` at `ts` with nothing else: for tests and examples.
    pub fn test(principal: &str, ts: i64) -> Call {
        Call {
            ts,
            principal: principal.into(),
            principal_field: "api_key.id",
            api_key: None,
            ip: None,
            user_agent: None,
            auth: None,
            prompt_hash: None,
            tokens_in: 0,
            tokens_out: 0,
            sensitive: 0,
            model: None,
            params: Params::default(),
            latency_ms: None,
            text: None,
            storage: None,
            tools: Box::default(),
            control: None,
            file: Arc::from("test.ndjson"),
            line: 1,
            offset: 0,
            hash: 0,
        }
    }

    pub fn with_prompt(mut self, prompt: &str) -> Call {
        self.prompt_hash = prompt_hash(&[&Value::String(prompt.to_string())]);
        self.text = PromptFeatures::of_text(prompt).map(Box::new);
        self
    }

    /// A chat prompt: earlier turns, then the new user message.
    pub fn with_chat(mut self, history: &[&str], prompt: &str) -> Call {
        let mut messages: Vec<Value> = history
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let role = if i % 2 == 0 { "user" } else { "assistant" };
                serde_json::json!({"role": role, "content": t})
            })
            .collect();
        messages.push(serde_json::json!({"role": "user", "content": prompt}));
        let v = Value::Array(messages);
        self.prompt_hash = prompt_hash(&[&v]);
        self.text = PromptFeatures::of(&[&v], false).map(Box::new);
        self
    }

    /// The context a query is sent in: the system prompt ([`PromptFeatures::system`]), the
    /// model and the parameters that shape the answer (temperature, `max_tokens`, log
    /// probabilities, `n`, a seed, the logit-bias ids). A prober that varies its query keeps
    /// them fixed, so that what changes in the answers comes from the query; an application
    /// key serving several features (another system prompt, other limits) sends its queries
    /// in several contexts. The near-duplicate and PRADA analyzers compare a query with the
    /// earlier queries of its context, as PRADA compares a query with the earlier queries of
    /// its class.
    pub fn context(&self) -> u64 {
        use modelward_event::hash::{fnv1a_extend, FNV_OFFSET};
        let p = &self.params;
        let mut h = FNV_OFFSET;
        h = fnv1a_extend(h, &self.text.as_ref().map_or(0, |t| t.system).to_le_bytes());
        h = fnv1a_extend(h, self.model.as_deref().unwrap_or("").as_bytes());
        h = fnv1a_extend(h, &[0xff]);
        h = fnv1a_extend(
            h,
            &p.temperature.map_or(u32::MAX, f32::to_bits).to_le_bytes(),
        );
        h = fnv1a_extend(h, &p.max_tokens.map_or(u32::MAX, |m| m).to_le_bytes());
        h = fnv1a_extend(h, &[u8::from(p.logprobs), p.top_logprobs.unwrap_or(0)]);
        h = fnv1a_extend(h, &p.n.unwrap_or(1).to_le_bytes());
        h = fnv1a_extend(h, &[u8::from(p.seed.is_some())]);
        for (id, _) in p.bias.iter() {
            h = fnv1a_extend(h, &id.to_le_bytes());
        }
        h
    }

    pub fn with_params(mut self, params: Params) -> Call {
        self.params = params;
        self
    }

    pub fn with_latency(mut self, ms: f32) -> Call {
        self.latency_ms = Some(ms);
        self
    }

    pub fn with_model(mut self, model: &str) -> Call {
        self.model = Some(model.into());
        self
    }

    pub fn with_ip(mut self, ip: &str) -> Call {
        self.ip = Some(ip.into());
        self
    }

    pub fn with_user_agent(mut self, ua: &str) -> Call {
        self.user_agent = Some(ua.into());
        self
    }

    pub fn with_tools(mut self, tools: &[&str]) -> Call {
        self.tools = tools.iter().map(|t| Box::from(*t)).collect();
        self
    }

    pub fn with_auth(mut self, auth: &str) -> Call {
        self.auth = Some(auth.into());
        self
    }

    pub fn with_tokens(mut self, tokens_in: u64, tokens_out: u64) -> Call {
        self.tokens_in = tokens_in;
        self.tokens_out = tokens_out;
        self
    }

    pub fn with_sensitive(mut self, findings: u32) -> Call {
        self.sensitive = findings;
        self
    }

    /// Makes the call an object-storage access: `operation` on `bucket`/`key`, `bytes` moved.
    pub fn with_storage(mut self, operation: &str, bucket: &str, key: &str, bytes: u64) -> Call {
        let extension = key
            .rsplit('/')
            .next()
            .and_then(|n| n.rsplit_once('.'))
            .filter(|(stem, _)| !stem.is_empty())
            .map(|(_, e)| e.to_ascii_lowercase().into());
        self.storage = Some(Box::new(Storage {
            operation: operation.into(),
            bytes,
            account: None,
            bucket: Some(bucket.into()),
            key: Some(key.into()),
            extension,
            failed: false,
        }));
        self
    }

    pub fn with_line(mut self, line: u64) -> Call {
        self.line = line;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(v: Value) -> Event {
        Event::from_json(&v.to_string()).unwrap()
    }

    #[test]
    fn extraction_per_source() {
        let litellm = event(
            json!({"@timestamp": "2025-03-01T10:00:00Z", "api_key": {"id": "h1"}, "user": {"id": "u1"}, "source": {"ip": "10.0.0.1"}, "gen_ai": {"prompt": "hi", "usage": {"input_tokens": 5, "output_tokens": 7}}}),
        );
        let c = Call::from_event(&litellm, 2).unwrap();
        assert_eq!(&*c.principal, "u1");
        assert_eq!(c.principal_field, "user.id");
        assert_eq!(c.api_key.as_deref(), Some("h1"));
        assert_eq!(c.tokens_in + c.tokens_out, 12);
        assert_eq!(c.sensitive, 2);
        assert!(c.prompt_hash.is_some());
        let bedrock = event(
            json!({"@timestamp": "2025-03-01T10:00:00Z", "user": {"id": "arn:aws:sts::123456789012:assumed-role/app/session"}, "gen_ai": {"request": {"model": {"id": "anthropic.claude"}}, "usage": {"prompt_tokens": 3, "completion_tokens": 4}}}),
        );
        let c = Call::from_event(&bedrock, 0).unwrap();
        assert_eq!(c.auth.as_deref(), Some("aws_assumed_role"));
        assert_eq!((c.tokens_in, c.tokens_out), (3, 4));
        assert_eq!(c.model.as_deref(), Some("anthropic.claude"));
        let azure = event(
            json!({"@timestamp": "2025-03-01T10:00:00Z", "azure": {"open_ai": {"category": "RequestResponse", "caller_ip_address": "81.2.69.***", "properties": {"object_id": "oid-1", "model_name": "gpt-4o"}}}}),
        );
        let c = Call::from_event(&azure, 0).unwrap();
        assert_eq!(&*c.principal, "oid-1");
        assert_eq!(c.auth.as_deref(), Some("entra_id"));
        assert_eq!(c.ip.as_deref(), Some("81.2.69.***"));
        assert_eq!(c.model.as_deref(), Some("gpt-4o"));
    }

    #[test]
    fn extraction_parameters_latency_and_text() {
        let gateway = event(
            json!({"@timestamp": "2025-03-01T10:00:00Z", "api_key": {"id": "k"}, "event": {"duration": 812_000_000},
                "gen_ai": {"prompt": [{"role": "user", "content": "Think step by step: 2+2?"}],
                "request": {"max_tokens": 1, "logprobs": true, "top_logprobs": 20, "n": 1, "temperature": 0, "seed": 7,
                "logit_bias": {"15": 100, "900": -100, "3": 2.5, "x": 1, "7": 100, "8": 100, "9": 100, "10": 100, "11": 100, "12": 100, "13": 100}}}}),
        );
        let c = Call::from_event(&gateway, 0).unwrap();
        let p = &c.params;
        assert_eq!(
            (p.max_tokens, p.logprobs, p.top_logprobs, p.n),
            (Some(1), true, Some(20), Some(1))
        );
        assert_eq!((p.temperature, p.seed), (Some(0.0), Some(7)));
        assert_eq!(p.bias_entries, 10);
        assert_eq!(p.bias_max, 100.0);
        assert_eq!(p.bias.len(), BIAS_KEPT);
        assert!(p.bias.iter().all(|(_, b)| b.abs() == 100.0));
        assert!(p.bias.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(c.latency_ms, Some(812.0));
        let t = c.text.as_ref().unwrap();
        assert!(t.reasoning);
        assert_eq!(t.turns, 1);
        // Legacy Completions: `logprobs: 5` is the top 5; Bedrock's latency in ms.
        let legacy = event(
            json!({"@timestamp": "2025-03-01T10:00:00Z", "user": {"id": "u"}, "gen_ai": {"prompt": "x", "request": {"logprobs": 5}, "performance": {"response_time": 95}}}),
        );
        let c = Call::from_event(&legacy, 0).unwrap();
        assert_eq!((c.params.logprobs, c.params.top_logprobs), (true, Some(5)));
        assert_eq!(c.latency_ms, Some(95.0));
        // Nonsense is ignored, never a panic.
        let odd = event(
            json!({"@timestamp": "2025-03-01T10:00:00Z", "user": {"id": "u"}, "event": {"duration": -5}, "gen_ai": {"prompt": "x", "request": {"max_tokens": -3, "top_logprobs": "many", "logit_bias": [1, 2], "temperature": "hot", "seed": 1e300}}}),
        );
        let c = Call::from_event(&odd, 0).unwrap();
        assert_eq!(c.params.max_tokens, None);
        assert_eq!(c.params.bias_entries, 0);
        assert_eq!(c.latency_ms, None);
        assert_eq!(c.params.temperature, None);
    }

    #[test]
    fn principal_fields_in_order_then_the_address() {
        let principal = |doc: Value| {
            let mut doc = doc;
            doc["@timestamp"] = json!("2025-03-01T10:00:00Z");
            doc["gen_ai"] = json!({"prompt": "hi"});
            Call::from_event(&event(doc), 0).map(|c| (c.principal_field, c.principal.to_string()))
        };
        let at = |field: &'static str, value: &str| Some((field, value.to_string()));
        assert_eq!(
            principal(json!({"user": {"name": "jdoe"}, "api_key": {"id": "k1"}})),
            at("user.name", "jdoe")
        );
        assert_eq!(
            principal(
                json!({"azure": {"open_ai": {"properties": {"apim_subscription_id": "support-bot"}}}, "source": {"ip": "10.0.0.1"}})
            ),
            at(
                "azure.open_ai.properties.apim_subscription_id",
                "support-bot"
            )
        );
        assert_eq!(
            principal(json!({"aws": {"bedrock": {"identity": {"arn": "arn:aws:iam::1:user/a"}}}})),
            at("aws.bedrock.identity.arn", "arn:aws:iam::1:user/a")
        );
        assert_eq!(
            principal(json!({"source": {"ip": "10.0.0.1"}, "client": {"ip": "10.0.0.2"}})),
            at("source.ip", "10.0.0.1")
        );
        assert_eq!(
            principal(json!({"client": {"ip": "10.0.0.2"}})),
            at("client.ip", "10.0.0.2")
        );
    }

    #[test]
    fn not_calls() {
        let audit = event(
            json!({"@timestamp": "2025-03-01T10:00:00Z", "user": {"id": "u"}, "event": {"action": "ListKey"}}),
        );
        assert_eq!(Call::from_event(&audit, 0), None);
        let no_principal =
            event(json!({"@timestamp": "2025-03-01T10:00:00Z", "gen_ai": {"prompt": "hi"}}));
        assert_eq!(Call::from_event(&no_principal, 0), None);
        let no_time = event(json!({"user": {"id": "u"}, "gen_ai": {"prompt": "hi"}}));
        assert_eq!(Call::from_event(&no_time, 0), None);
        let empty_object_id = event(
            json!({"@timestamp": "2025-03-01T10:00:00Z", "azure": {"open_ai": {"category": "RequestResponse", "properties": {"object_id": ""}}}}),
        );
        assert_eq!(Call::from_event(&empty_object_id, 0), None);
    }

    #[test]
    fn storage_accesses_are_calls_with_a_storage_part() {
        let get = event(
            json!({"@timestamp": "2025-03-14T09:12:44Z", "user": {"id": "arn:aws:sts::123456789012:assumed-role/DataScientist/jdoe"}, "event": {"action": "GetObject", "outcome": "success"},
                "storage": {"operation": "read", "bucket": "acme-ml-models", "account": "123456789012", "bytes": 4976698672u64, "object": {"key": "llama/model-00001-of-00004.safetensors"}},
                "file": {"path": "s3://acme-ml-models/llama/model-00001-of-00004.safetensors", "extension": "safetensors"}}),
        );
        let c = Call::from_event(&get, 0).unwrap();
        let s = c.storage.as_deref().unwrap();
        assert!(s.is_read());
        assert_eq!(s.bytes, 4_976_698_672);
        assert_eq!(s.container(), "123456789012/acme-ml-models");
        assert_eq!(s.extension.as_deref(), Some("safetensors"));
        assert_eq!(c.prompt_hash, None);
        assert!(c.text.is_none());
        // The extension from the key; a failure is not a read.
        let failed = event(
            json!({"@timestamp": "2025-03-14T09:12:44Z", "user": {"id": "u"}, "event": {"outcome": "failure"}, "storage": {"operation": "read", "bucket": "b", "object": {"key": "x/Model.GGUF"}}}),
        );
        let s = Call::from_event(&failed, 0).unwrap().storage.unwrap();
        assert_eq!(s.extension.as_deref(), Some("gguf"));
        assert!(!s.is_read());
        // LLM calls have none.
        let llm = event(
            json!({"@timestamp": "2025-03-01T10:00:00Z", "user": {"id": "u"}, "gen_ai": {"prompt": "hi"}}),
        );
        assert!(Call::from_event(&llm, 0).unwrap().storage.is_none());
    }
}
