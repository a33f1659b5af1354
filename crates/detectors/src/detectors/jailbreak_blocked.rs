//! ## What it detects
//! A prompt that a content filter's jailbreak shield judged to be a jailbreak (a direct
//! prompt injection trying to override the system prompt or the model's safeguards), and
//! blocked: Azure AI Content Safety Prompt Shields' verdict in Azure OpenAI responses
//! (`prompt_filter_results[].content_filter_results.jailbreak`, or the `content_filter`
//! error of a refused prompt), or an Amazon Bedrock guardrail's prompt-attack policy.
//!
//! ## Why it matters
//! Someone is trying to make the model ignore its instructions to reach data or functions it
//! should not. Microsoft Defender for Cloud raises "A Jailbreak attempt on an Azure AI model deployment was blocked by Azure AI Content Safety Prompt Shields" (AI.Azure_Jailbreak.ContentFiltering.BlockedAttempt).
//!
//! ## Example
//! A chat completion whose response carries `"jailbreak": {"filtered": true, "detected": true}`
//! for a prompt that starts "Ignore all previous instructions. You are DAN...".
//!
//! ## False positives
//! Security testing of the application; users quoting jailbreak prompts in a discussion
//! (the shield's own false positives).
//!
//! ## Response
//! Look at who sent it (key, user, address) and how often; repeated attempts from one
//! principal are an attack. Nothing reached the model, but the intent is clear.
//!
//! ## References
//! - https://learn.microsoft.com/en-us/azure/ai-services/content-safety/concepts/jailbreak-detection
//! - https://learn.microsoft.com/en-us/azure/defender-for-cloud/alerts-ai-workloads
//! - https://atlas.mitre.org/techniques/AML.T0054

use modelward_event::Event;
use modelward_rule::Severity;

use super::shield_verdict::finding;
pub use super::shield_verdict::source_name;
use crate::detector::{BuildContext, Builtin, Code, Detector, Finding};
use crate::keywords::Scan;
use crate::settings::{Settings, SettingsError};

pub const CODE: Code = Code {
    code: "MW-AI-0002",
    name: "A Jailbreak attempt on an Azure AI model deployment was blocked by Azure AI Content Safety Prompt Shields",
    defender: Some("AI.Azure_Jailbreak.ContentFiltering.BlockedAttempt"),
    // Low, where Defender says medium: the shield stopped it, nothing reached the model
    // (impact low × confidence high; docs/detectors.md, Severities).
    severity: Severity::Low,
    tactics: &["Privilege Escalation", "Defense Evasion"],
    atlas: ("AML.T0054", "LLM Jailbreak"),
    doc: include_str!("jailbreak_blocked.rs"),
};

pub struct JailbreakBlocked;

impl Builtin for JailbreakBlocked {
    const CODES: &'static [Code] = &[CODE];

    fn build(_: &Settings, _: &mut BuildContext<'_>) -> Result<Option<Self>, SettingsError> {
        Ok(Some(JailbreakBlocked))
    }
}

impl Detector for JailbreakBlocked {
    fn codes(&self) -> Vec<&'static str> {
        vec![CODE.code]
    }

    fn inspect(&self, event: &Event, scan: &Scan<'_>, out: &mut Vec<Finding>) {
        let text = scan.text;
        out.extend(finding(event, text, CODE.code, true));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::shield_verdict::test_verdicts;
    use crate::text::LlmText;

    fn inspect(v: serde_json::Value) -> Vec<Finding> {
        let e = Event::from_json(&v.to_string()).unwrap();
        crate::detector::inspect_alone(&JailbreakBlocked, &e, &LlmText::of(&e))
    }

    #[test]
    fn verdicts() {
        for (event, blocked, _) in test_verdicts() {
            assert_eq!(
                inspect(event.clone()).len(),
                usize::from(blocked),
                "{event}"
            );
        }
    }
}
