//! Features of a call that profiles compare: a prompt fingerprint, a user-agent family, an
//! address range; and what a logged prompt is (a request body logged as JSON text is read
//! as the request it is, a redaction placeholder is no prompt).

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};

use modelward_event::hash::{fnv1a_extend, FNV_OFFSET};
use serde_json::{json, Value};

/// What logging layers write in place of a prompt or completion they leave out: LiteLLM's
/// `turn_off_message_logging` replaces every message's content with `redacted-by-litellm`.
/// A prompt made only of these is no prompt: without this, every call of a key would be
/// "the same prompt" (timing probes, recurring requests).
pub const REDACTED: [&str; 1] = ["redacted-by-litellm"];

/// Request bodies longer than this, logged as JSON text, are taken as text.
const MAX_BODY: usize = 1 << 20;

/// Whether every text of a prompt is a redaction placeholder (and there is one).
fn redacted(prompt: &[&Value]) -> bool {
    fn walk(v: &Value, key: Option<&str>, placeholder: &mut bool) -> bool {
        match v {
            Value::String(s) if key == Some("role") || key == Some("type") => {
                let _ = s;
                true
            }
            Value::String(s) => {
                let s = s.trim();
                if REDACTED.contains(&s) {
                    *placeholder = true;
                    true
                } else {
                    s.is_empty()
                }
            }
            Value::Array(items) => items.iter().all(|i| walk(i, None, placeholder)),
            Value::Object(map) => map.iter().all(|(k, x)| walk(x, Some(k), placeholder)),
            _ => true,
        }
    }
    let mut placeholder = false;
    prompt.iter().all(|v| walk(v, None, &mut placeholder)) && placeholder
}

/// The prompt of a model request body logged as JSON text, as chat messages: AWS Bedrock's
/// invocation logs (and Elastic's `gen_ai.prompt` from them) hold the whole `InvokeModel` or
/// `Converse` body, with its parameters and system prompt. Read: `system` (a string or
/// Converse's `[{"text"}]`), `messages` (Anthropic, Converse, Jamba, Mistral chat),
/// `prompt` (Llama, Mistral, Cohere Command, legacy Claude), `inputText` (Titan) and
/// `message` with `chat_history` (Cohere Command R). `None` when the text is not such a body.
pub fn request_prompt(text: &str) -> Option<Value> {
    let t = text.trim();
    if t.len() > MAX_BODY || !t.starts_with('{') || !t.ends_with('}') {
        return None;
    }
    let parsed = serde_json::from_str::<Value>(t).or_else(|_| serde_json::from_str(&escaped(t)));
    let Ok(Value::Object(body)) = parsed else {
        return None;
    };
    let mut messages: Vec<Value> = Vec::new();
    if let Some(system) = body.get("system").filter(|s| !s.is_null()) {
        messages.push(json!({"role": "system", "content": system}));
    }
    for (i, turn) in body
        .get("chat_history")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let role = turn.get("role").and_then(Value::as_str).unwrap_or("");
        let role = match role.to_ascii_uppercase().as_str() {
            "CHATBOT" => "assistant",
            "SYSTEM" => "system",
            "USER" => "user",
            _ if i % 2 == 0 => "user",
            _ => "assistant",
        };
        let content = turn.get("message").cloned().unwrap_or(Value::Null);
        messages.push(json!({"role": role, "content": content}));
    }
    if let Some(Value::Array(items)) = body.get("messages") {
        messages.extend(items.iter().cloned());
    }
    for key in ["prompt", "inputText", "message"] {
        if let Some(p @ Value::String(_)) = body.get(key) {
            messages.push(json!({"role": "user", "content": p}));
        }
    }
    let has_user = messages
        .iter()
        .any(|m| m.get("role").and_then(Value::as_str) != Some("system"));
    has_user.then_some(Value::Array(messages))
}

/// JSON text with the control characters inside its strings escaped: Elastic's Bedrock
/// pipeline (and modelward's normalizer, as it) writes the body's text with its newlines as
/// they are, which strict JSON refuses.
fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let (mut in_string, mut escape) = (false, false);
    for c in text.chars() {
        if in_string && !escape && (c as u32) < 0x20 {
            out.push_str(&format!("\\u{:04x}", c as u32));
            continue;
        }
        if in_string {
            if escape {
                escape = false;
            } else if c == '\\' {
                escape = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
    }
    out
}

/// A prompt field's values as the features read them: a request body logged as JSON text
/// becomes its messages ([`request_prompt`]); `None` when the prompt is only redaction
/// placeholders ([`REDACTED`]).
pub fn prompt_values<'a>(prompt: &[&'a Value]) -> Option<Vec<Cow<'a, Value>>> {
    if redacted(prompt) {
        return None;
    }
    Some(
        prompt
            .iter()
            .map(|v| match v {
                Value::String(s) => request_prompt(s).map_or(Cow::Borrowed(*v), Cow::Owned),
                _ => Cow::Borrowed(*v),
            })
            .collect(),
    )
}

/// A stable 64-bit fingerprint (FNV-1a) of a prompt: strings, lists or chat messages, with
/// each string trimmed and object keys in sorted order; a request body logged as JSON text
/// is fingerprinted as its messages ([`prompt_values`]). `None` for an empty or redacted
/// prompt.
pub fn prompt_hash(prompt: &[&Value]) -> Option<u64> {
    let values = prompt_values(prompt)?;
    let refs: Vec<&Value> = values.iter().map(|v| v.as_ref()).collect();
    fingerprint(&refs)
}

fn fingerprint(prompt: &[&Value]) -> Option<u64> {
    fn walk(v: &Value, hash: &mut u64, text: &mut bool) {
        match v {
            Value::String(s) => {
                let s = s.trim();
                *text |= !s.is_empty();
                *hash = fnv1a_extend(fnv1a_extend(*hash, b"s"), s.as_bytes());
                *hash = fnv1a_extend(*hash, &[0xff]);
            }
            Value::Array(items) => {
                *hash = fnv1a_extend(*hash, b"[");
                items.iter().for_each(|i| walk(i, hash, text));
                *hash = fnv1a_extend(*hash, b"]");
            }
            Value::Object(map) => {
                *hash = fnv1a_extend(*hash, b"{");
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                for k in keys {
                    *hash = fnv1a_extend(fnv1a_extend(*hash, k.as_bytes()), b":");
                    walk(&map[k], hash, text);
                }
                *hash = fnv1a_extend(*hash, b"}");
            }
            Value::Null => {}
            other => *hash = fnv1a_extend(*hash, other.to_string().as_bytes()),
        }
    }
    let mut hash = FNV_OFFSET;
    let mut text = false;
    for v in prompt {
        walk(v, &mut hash, &mut text);
    }
    text.then_some(hash)
}

/// A user agent's family and major versions, lower case: each `product/version` token keeps
/// its version up to the first `.`; comments in parentheses are left out. So
/// `OpenAI/Python 1.12.0` is `openai/python 1` and a patch release changes nothing.
pub fn user_agent_family(ua: &str) -> Option<String> {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if token.is_empty() {
            return;
        }
        let major = match token.split_once('/') {
            Some((name, version)) => {
                let v = version.split('.').next().unwrap_or("");
                format!("{name}/{v}")
            }
            None => token.split('.').next().unwrap_or("").to_string(),
        };
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&major);
        token.clear();
    };
    for c in ua.chars() {
        match c {
            '(' => {
                flush(&mut token, &mut out);
                depth += 1;
            }
            ')' => depth = depth.saturating_sub(1),
            c if depth > 0 => {
                let _ = c;
            }
            c if c.is_whitespace() => flush(&mut token, &mut out),
            c => token.extend(c.to_lowercase()),
        }
        if out.len() > 200 {
            break;
        }
    }
    flush(&mut token, &mut out);
    out.truncate(200);
    (!out.is_empty()).then_some(out)
}

/// The range of an address: its /24 (IPv4) or /48 (IPv6), as `a.b.c.0/24` or
/// `x:y:z::/48`. Accepts Azure's masked form (`81.2.69.***`), which hides exactly the last
/// octet, and IPv4-mapped IPv6 addresses.
pub fn ip_range(text: &str) -> Option<String> {
    let text = text.trim();
    if let Some(prefix) = text.strip_suffix(".***") {
        let parts: Vec<&str> = prefix.split('.').collect();
        if parts.len() == 3 && parts.iter().all(|p| p.parse::<u8>().is_ok()) {
            return Some(format!("{prefix}.0/24"));
        }
        return None;
    }
    let ip: IpAddr = text.parse().ok()?;
    let v4 = |a: Ipv4Addr| {
        let o = a.octets();
        format!("{}.{}.{}.0/24", o[0], o[1], o[2])
    };
    Some(match ip {
        IpAddr::V4(a) => v4(a),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(m) => v4(m),
            None => {
                let s = a.segments();
                format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prompt_hashes_are_pinned() {
        // Persisted in baselines: this value must not change.
        let p = json!([{"role": "user", "content": "Hello"}]);
        assert_eq!(prompt_hash(&[&p]), Some(0xc974_1ceb_62b9_37e5));
    }

    #[test]
    fn redacted_prompts_are_none_and_bodies_are_their_messages() {
        let redacted = json!([
            {"role": "system", "content": "redacted-by-litellm"},
            {"role": "user", "content": "redacted-by-litellm"}
        ]);
        assert_eq!(prompt_hash(&[&redacted]), None);
        assert!(prompt_hash(&[&json!([{"role": "user", "content": "redacted"}])]).is_some());
        // Bedrock's InvokeModel body: its messages, not its parameters.
        let a = json!("{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}],\"temperature\":0}");
        let b =
            json!("{\"max_tokens\":2,\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}");
        assert_eq!(prompt_hash(&[&a]), prompt_hash(&[&b]));
        assert_eq!(
            prompt_hash(&[&a]),
            prompt_hash(&[&json!([{"role": "user", "content": "Hello"}])])
        );
        let titan = request_prompt("{\"inputText\":\"Hi\",\"textGenerationConfig\":{}}");
        assert_eq!(titan, Some(json!([{"role": "user", "content": "Hi"}])));
        let converse = request_prompt(
            "{\"system\":[{\"text\":\"Be brief.\"}],\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"Hi\"}]}]}",
        )
        .unwrap();
        assert_eq!(converse[0]["role"], "system");
        assert_eq!(request_prompt("{\"system\":\"only\"}"), None);
        assert_eq!(
            request_prompt("{\"messages\":[{\"role\":\"user\",\"content\":\"two\nlines\"}]}"),
            Some(json!([{"role": "user", "content": "two\nlines"}]))
        );
        assert_eq!(request_prompt("not json"), None);
        assert_eq!(request_prompt("{broken"), None);
    }

    #[test]
    fn prompts_hash_the_same_when_only_outer_space_differs() {
        let a = json!([{"role": "user", "content": "Hello "}]);
        let b = json!([{"content": " Hello", "role": "user"}]);
        let c = json!([{"role": "user", "content": "Hello!"}]);
        assert_eq!(prompt_hash(&[&a]), prompt_hash(&[&b]));
        assert_ne!(prompt_hash(&[&a]), prompt_hash(&[&c]));
        assert_eq!(prompt_hash(&[&json!("  ")]), None);
        assert_eq!(prompt_hash(&[]), None);
    }

    #[test]
    fn user_agents_keep_family_and_major() {
        assert_eq!(
            user_agent_family("OpenAI/Python 1.12.0").as_deref(),
            Some("openai/python 1")
        );
        assert_eq!(
            user_agent_family("python-requests/2.31.0"),
            user_agent_family("python-requests/2.32.3")
        );
        assert_ne!(
            user_agent_family("python-requests/2.31.0"),
            user_agent_family("python-requests/3.0.0")
        );
        assert_eq!(
            user_agent_family("Mozilla/5.0 (Windows NT 10.0; Win64) Chrome/120.0.1 Safari/537.36")
                .as_deref(),
            Some("mozilla/5 chrome/120 safari/537")
        );
        assert_eq!(user_agent_family("   "), None);
        assert!(user_agent_family(&"x".repeat(10_000)).unwrap().len() <= 200);
    }

    #[test]
    fn ranges() {
        assert_eq!(ip_range("203.0.113.7").as_deref(), Some("203.0.113.0/24"));
        assert_eq!(ip_range("81.2.69.***").as_deref(), Some("81.2.69.0/24"));
        assert_eq!(
            ip_range("2001:db8:abcd:12::1").as_deref(),
            Some("2001:db8:abcd::/48")
        );
        assert_eq!(ip_range("::ffff:10.1.2.3").as_deref(), Some("10.1.2.0/24"));
        assert_eq!(ip_range("not an ip"), None);
        assert_eq!(ip_range("1.2.***"), None);
    }
}
