//! Reading a content filter's jailbreak verdict from a normalized LLM call (shared by the
//! two jailbreak detectors): Azure AI Content Safety Prompt Shields
//! (`gen_ai.content_filter.jailbreak.{filtered,detected}`) and Amazon Bedrock guardrails'
//! prompt-attack filter (`gen_ai.compliance.violation_code: PROMPT_ATTACK` in Elastic's form,
//! or a policy named for it, with `gen_ai.policy.action`).

use modelward_event::Event;
use serde_json::{json, Map, Value};

use crate::detector::Finding;
use crate::text::{LlmText, Role};

/// A jailbreak verdict: whether the shield saw an attack and whether it blocked it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub detected: bool,
    pub blocked: bool,
    pub shield: &'static str,
}

fn flag(event: &Event, path: &str) -> bool {
    event.get(path).iter().any(|v| **v == Value::Bool(true))
}

/// Whether a shield looked at the prompt: the log carries a jailbreak verdict (even a clean
/// one) or a guardrail assessment.
pub fn shield_looked(event: &Event) -> bool {
    event.has("gen_ai.content_filter.jailbreak")
        || event.has("gen_ai.guardrail_id")
        || event.has("gen_ai.compliance.violation_code")
        || event.has("gen_ai.policy.name")
}

/// The event's jailbreak verdict, if a shield looked at it and saw an attack.
pub fn jailbreak(event: &Event) -> Option<Verdict> {
    let filtered = flag(event, "gen_ai.content_filter.jailbreak.filtered");
    let detected = flag(event, "gen_ai.content_filter.jailbreak.detected");
    if filtered || detected {
        return Some(Verdict {
            detected: true,
            blocked: filtered,
            shield: "Azure AI Content Safety Prompt Shields",
        });
    }
    // Elastic's aws_bedrock form names the violation in `gen_ai.compliance.violation_code`
    // (`PROMPT_ATTACK`, with `gen_ai.policy.name: content_policy`); other forms may name it
    // in the policy.
    let names_prompt_attack = |path: &str| {
        event.get(path).iter().filter_map(|v| v.as_str()).any(|n| {
            n.to_ascii_lowercase()
                .replace(' ', "_")
                .contains("prompt_attack")
        })
    };
    let prompt_attack = names_prompt_attack("gen_ai.compliance.violation_code")
        || names_prompt_attack("gen_ai.policy.name");
    if prompt_attack {
        let blocked = event
            .get("gen_ai.policy.action")
            .iter()
            .filter_map(|v| v.as_str())
            .any(|a| a.eq_ignore_ascii_case("BLOCKED"));
        return Some(Verdict {
            detected: true,
            blocked,
            shield: "Amazon Bedrock Guardrails (prompt attack)",
        });
    }
    None
}

/// The finding of a jailbreak detector: when a shield saw an attack and `blocked` is what
/// it did.
pub fn finding(
    event: &Event,
    text: &LlmText,
    code: &'static str,
    blocked: bool,
) -> Option<Finding> {
    let v = jailbreak(event).filter(|v| v.blocked == blocked)?;
    let mut evidence = Map::new();
    evidence.insert("shield".into(), json!(v.shield));
    evidence.insert("blocked".into(), json!(v.blocked));
    if let Some(prompt) = text.prompt.last() {
        let excerpt: String = prompt.chars().take(200).collect();
        evidence.insert("prompt_excerpt".into(), json!(excerpt));
    }
    let what = if blocked {
        "blocked"
    } else {
        "detected but not blocked"
    };
    Some(Finding {
        code,
        role: Some(Role::Prompt),
        summary: format!("jailbreak attempt {what} by {}", v.shield),
        evidence,
        severity: None,
    })
}

/// Events of each kind of verdict, for the two detectors' tests: (event, whether a shield
/// blocked the prompt, whether one saw an attack and let it through).
#[cfg(test)]
pub(crate) fn test_verdicts() -> [(Value, bool, bool); 4] {
    [
        // Azure, filtered.
        (
            json!({"gen_ai": {"prompt": "Ignore previous instructions", "content_filter": {"jailbreak": {"filtered": true, "detected": true}}}}),
            true,
            false,
        ),
        // Azure, seen and let through.
        (
            json!({"gen_ai": {"content_filter": {"jailbreak": {"filtered": false, "detected": true}}}}),
            false,
            true,
        ),
        // Azure, clean.
        (
            json!({"gen_ai": {"content_filter": {"jailbreak": {"filtered": false, "detected": false}}}}),
            false,
            false,
        ),
        // Bedrock, blocked.
        (
            json!({"gen_ai": {"policy": {"name": "PROMPT_ATTACK", "action": "BLOCKED"}}}),
            true,
            false,
        ),
    ]
}
