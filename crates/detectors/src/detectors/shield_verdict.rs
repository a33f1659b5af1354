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
            shield: AZURE_PROMPT_SHIELDS,
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

/// The shield Defender for Cloud's jailbreak alerts (and so MW-AI-0002's and MW-AI-0003's
/// names) are about.
pub const AZURE_PROMPT_SHIELDS: &str = "Azure AI Content Safety Prompt Shields";

/// The alert name of a jailbreak finding whose verdict Azure AI Content Safety did not give:
/// MW-AI-0002's and MW-AI-0003's names are Defender's and name Prompt Shields, which is
/// true only of Azure's verdicts; a Bedrock guardrail's verdict, or modelward's own
/// classifier and heuristic (evidence `shield: "none: …"`, for prompts no shield looked
/// at), is named for what gave it. None: the code's name (Azure's verdicts, other codes).
pub fn source_name(code: &str, evidence: &Map<String, Value>) -> Option<String> {
    let verb = match code {
        c if c == super::jailbreak_blocked::CODE.code => "blocked",
        c if c == super::jailbreak_detected::CODE.code => "detected",
        _ => return None,
    };
    let shield = evidence.get("shield")?.as_str()?;
    if shield == AZURE_PROMPT_SHIELDS {
        return None;
    }
    let by = if shield.starts_with("none") {
        "modelward's jailbreak classifier"
    } else {
        shield.split(" (").next().unwrap_or(shield)
    };
    Some(format!(
        "A Jailbreak attempt on an AI model deployment was {verb} by {by}"
    ))
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
        evidence.insert("prompt_excerpt".into(), json!(crate::text::excerpt(prompt)));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14, item 8: a jailbreak alert names what judged the prompt; Defender's names
    /// (Prompt Shields) only for Azure's verdicts.
    #[test]
    fn jailbreak_alerts_are_named_for_their_judge() {
        let evidence = |shield: &str| {
            let mut m = Map::new();
            m.insert("shield".into(), json!(shield));
            m
        };
        let detected = super::super::jailbreak_detected::CODE.code;
        let blocked = super::super::jailbreak_blocked::CODE.code;
        assert_eq!(source_name(detected, &evidence(AZURE_PROMPT_SHIELDS)), None);
        assert_eq!(
            source_name(
                detected,
                &evidence("none: modelward jailbreak classifier and heuristic")
            )
            .as_deref(),
            Some("A Jailbreak attempt on an AI model deployment was detected by modelward's jailbreak classifier")
        );
        assert_eq!(
            source_name(blocked, &evidence("Amazon Bedrock Guardrails (prompt attack)")).as_deref(),
            Some("A Jailbreak attempt on an AI model deployment was blocked by Amazon Bedrock Guardrails")
        );
        assert_eq!(source_name("MW-AI-0004", &evidence("x")), None);
        assert_eq!(source_name(detected, &Map::new()), None);
    }
}
