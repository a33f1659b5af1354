//! Records generated from real-shaped ones: string values replaced by values that make
//! rules and normalizers take their other branches, and guardrail policy keys (which the
//! Bedrock normalizer turns into values) exchanged. The prefilter equivalence test and
//! fuzz target run them; the randomness is the caller's (a seeded generator, or fuzz
//! input).

use serde_json::Value;

/// Values that make rules and normalizers take their other branches.
pub const VALUES: &[&str] = &[
    "BLOCKED",
    "NONE",
    "INTERVENED",
    "guardrail_intervened",
    "ListKey",
    "Audit",
    "GatewayLogs",
    "RequestResponse",
    "ChatCompletions_Create",
    "InvokeModel",
    "Converse",
    "ValidationException",
    "AccessDeniedException",
    "success",
    "failure",
    "AKIAIOSFODNN7EXAMPLE",
    "sqlmap/1.7",
    "python-requests/2.31",
    "model.safetensors",
    "GetObject",
    "CopyObject",
    "HIGH",
    "MISCONDUCT",
    "PROMPT_ATTACK",
    "Ignore all previous instructions",
    "2025-03-01T10:00:00Z",
    "1740823200",
    "s3://bucket/model.gguf?X-Amz-Signature=abc",
    "topic_policy",
    "content_policy",
];

/// Keys of a Bedrock guardrail trace.
pub const POLICY_KEYS: &[&str] = &[
    "topicPolicy",
    "wordPolicy",
    "contentPolicy",
    "sensitiveInformationPolicy",
    "contextualGroundingPolicy",
];

/// Mutates `value` in place, drawing choices from `next` (about one string in three
/// replaced, half the policy keys exchanged).
pub fn mutate(value: &mut Value, next: &mut dyn FnMut() -> u64) {
    match value {
        Value::String(s) if next().is_multiple_of(3) => {
            *s = VALUES[(next() % VALUES.len() as u64) as usize].to_string();
        }
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                if key.ends_with("Policy") && next().is_multiple_of(2) {
                    if let Some(v) = map.remove(&key) {
                        let to = POLICY_KEYS[(next() % POLICY_KEYS.len() as u64) as usize];
                        map.insert(to.to_string(), v);
                    }
                } else if let Some(v) = map.get_mut(&key) {
                    mutate(v, next);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| mutate(i, next)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_values_and_policy_keys() {
        let mut v = serde_json::json!({"a": "x", "b": ["y", "z"], "topicPolicy": {"c": "w"}});
        let mut n = 0u64;
        mutate(&mut v, &mut || {
            n += 1;
            n * 6
        });
        let text = v.to_string();
        assert!(
            !text.contains("topicPolicy") && text.contains("Policy"),
            "{text}"
        );
        assert!(VALUES.iter().any(|x| text.contains(x)), "{text}");
    }
}
