//! One LLM call, reduced to what the behavioural analyzers compare: extracted from each event
//! in the parallel per-event stage, analyzed later in event-time order.
//!
//! | feature | fields read, first present |
//! |---|---|
//! | time | `@timestamp` |
//! | principal | `user.id`, `api_key.id`, `azure.open_ai.properties.object_id` (Entra object id of RequestResponse logs), `azure.open_ai.properties.apim_subscription_id` (API Management gateway logs), `principal`, else `source.ip` |
//! | client address | `source.ip`, `client.ip`, `azure.open_ai.caller_ip_address` (Azure's masked `a.b.c.***`, whose /24 is still known) |
//! | user agent | `user_agent.original` |
//! | auth method | `modelward.auth` (modelward's LLM log: `principal.auth`); AWS Bedrock: the identity ARN's type (`aws_assumed_role`, `aws_iam_user`, `aws_federated_user`, `aws_root`); Azure RequestResponse: `entra_id` when the record has an Entra object id, `key` when it is empty; none for LiteLLM and API Management gateway logs, which do not record it |
//! | prompt fingerprint | `gen_ai.prompt` (see [`crate::prompt_hash`]) |
//! | tokens | `gen_ai.usage.input_tokens` or `prompt_tokens`; `gen_ai.usage.output_tokens` or `completion_tokens` |
//! | sensitive data | the number of MW-AI-0004 findings in the event |
//! | model | `gen_ai.request.model`, `gen_ai.response.model`, `azure.open_ai.properties.model_name` |
//!
//! An event is a call when it has `gen_ai.*` request, response or usage fields, or is an
//! Azure OpenAI `RequestResponse` record; an event without a time or a principal is not.

use std::sync::Arc;

use modelward_event::{parse_timestamp, Event};
use serde_json::Value;

use crate::features::prompt_hash;

/// The code of the content detector whose findings count as sensitive data.
pub const SENSITIVE_DATA_CODE: &str = "MW-AI-0004";

/// The compact features of one LLM call event.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Event time, ms since the epoch.
    pub ts: i64,
    pub principal: Box<str>,
    /// The field the principal came from.
    pub principal_field: &'static str,
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
    /// Where the event was read.
    pub file: Arc<str>,
    pub line: u64,
}

const PRINCIPAL: [&str; 6] = [
    "user.id",
    "api_key.id",
    "azure.open_ai.properties.object_id",
    "azure.open_ai.properties.apim_subscription_id",
    "principal",
    "source.ip",
];
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
        let is_call = CALL_MARKERS.iter().any(|p| !event.get(p).is_empty())
            || event.get_str("azure.open_ai.category") == Some("RequestResponse");
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
            .find_map(|f| text(event, f).map(|v| (*f, v)))?;
        let ip = text(event, "source.ip")
            .or_else(|| text(event, "client.ip"))
            .or_else(|| text(event, "azure.open_ai.caller_ip_address"));
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
        let prompt = event.get("gen_ai.prompt");
        Some(Call {
            ts,
            principal,
            principal_field,
            ip,
            user_agent: text(event, "user_agent.original"),
            auth,
            prompt_hash: prompt_hash(&prompt),
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
            model: text(event, "gen_ai.request.model")
                .or_else(|| text(event, "gen_ai.response.model"))
                .or_else(|| text(event, "azure.open_ai.properties.model_name")),
            file: event.origin.file.clone(),
            line: event.origin.line,
        })
    }

    /// A call by `principal` at `ts` with nothing else: for tests and examples.
    pub fn test(principal: &str, ts: i64) -> Call {
        Call {
            ts,
            principal: principal.into(),
            principal_field: "api_key.id",
            ip: None,
            user_agent: None,
            auth: None,
            prompt_hash: None,
            tokens_in: 0,
            tokens_out: 0,
            sensitive: 0,
            model: None,
            file: Arc::from("test.ndjson"),
            line: 1,
        }
    }

    pub fn with_prompt(mut self, prompt: &str) -> Call {
        self.prompt_hash = prompt_hash(&[&Value::String(prompt.to_string())]);
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
        assert_eq!(c.tokens_in + c.tokens_out, 12);
        assert_eq!(c.sensitive, 2);
        assert!(c.prompt_hash.is_some());
        let bedrock = event(
            json!({"@timestamp": "2025-03-01T10:00:00Z", "user": {"id": "arn:aws:sts::123456789012:assumed-role/app/session"}, "gen_ai": {"request": {"model": {"id": "anthropic.claude"}}, "usage": {"prompt_tokens": 3, "completion_tokens": 4}}}),
        );
        let c = Call::from_event(&bedrock, 0).unwrap();
        assert_eq!(c.auth.as_deref(), Some("aws_assumed_role"));
        assert_eq!((c.tokens_in, c.tokens_out), (3, 4));
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
}
