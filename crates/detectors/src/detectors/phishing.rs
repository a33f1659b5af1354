//! The three phishing alerts from one look at the event: URLs are extracted from each text
//! and looked up once, then each listed URL goes to the alert of its origin (the response
//! MW-AI-0005, the application MW-AI-0006, the prompt MW-AI-0007). Each alert's file holds
//! its code and documentation; this file runs them.

use std::sync::Arc;

use modelward_event::Event;

use crate::detector::{BuildContext, Builtin, Code, Detector, Finding};
use crate::detectors::phishing_urls::{finding, PhishingIndex};
use crate::detectors::{
    phishing_in_application, phishing_in_prompt, phishing_in_response, phishing_in_tool_output,
};
use crate::keywords::Scan;
use crate::settings::{Settings, SettingsError};
use crate::text::Role;

/// The enabled phishing alerts over one index of the user's feeds.
pub struct Phishing {
    index: Arc<PhishingIndex>,
    response: bool,
    application: bool,
    prompt: bool,
    tool_output: bool,
}

impl Phishing {
    /// The alerts `on` accepts (by code).
    pub fn new(index: Arc<PhishingIndex>, on: &dyn Fn(&str) -> bool) -> Phishing {
        Phishing {
            index,
            response: on(phishing_in_response::CODE.code),
            application: on(phishing_in_application::CODE.code),
            prompt: on(phishing_in_prompt::CODE.code),
            tool_output: on(phishing_in_tool_output::CODE.code),
        }
    }
}

impl Builtin for Phishing {
    const CODES: &'static [Code] = &[
        phishing_in_response::CODE,
        phishing_in_application::CODE,
        phishing_in_prompt::CODE,
        phishing_in_tool_output::CODE,
    ];

    /// None without a feed, or with the three alerts disabled.
    fn build(
        settings: &Settings,
        ctx: &mut BuildContext<'_>,
    ) -> Result<Option<Self>, SettingsError> {
        if settings.phishing_feeds.is_empty() {
            return Ok(None);
        }
        let index = PhishingIndex::load(&settings.phishing_feeds, &mut ctx.skipped)?;
        let phishing = Phishing::new(Arc::new(index), &|code| ctx.on(code));
        Ok((!phishing.codes().is_empty()).then_some(phishing))
    }
}

impl Detector for Phishing {
    fn codes(&self) -> Vec<&'static str> {
        [
            (self.response, phishing_in_response::CODE.code),
            (self.application, phishing_in_application::CODE.code),
            (self.prompt, phishing_in_prompt::CODE.code),
            (self.tool_output, phishing_in_tool_output::CODE.code),
        ]
        .into_iter()
        .filter_map(|(on, code)| on.then_some(code))
        .collect()
    }

    fn keywords(&self) -> Vec<String> {
        self.index.keywords()
    }

    fn inspect(&self, event: &Event, scan: &Scan<'_>, out: &mut Vec<Finding>) {
        let mut c = self.index.classify(event, scan);
        if !self.tool_output {
            // Without the agentic alert, tool output is of unclear origin, as before it.
            c.application.append(&mut c.tool);
        }
        if self.response {
            out.extend(finding(
                &phishing_in_response::CODE,
                Some(Role::Completion),
                "in the completion",
                &c.response,
            ));
        }
        if self.application {
            out.extend(finding(
                &phishing_in_application::CODE,
                None,
                "in the conversation",
                &c.application,
            ));
        }
        if self.prompt {
            out.extend(finding(
                &phishing_in_prompt::CODE,
                Some(Role::Prompt),
                "in the prompt",
                &c.prompt,
            ));
        }
        if self.tool_output {
            out.extend(finding(
                &phishing_in_tool_output::CODE,
                Some(Role::Prompt),
                "in a tool's output",
                &c.tool,
            ));
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::detector::inspect_alone;
    use crate::text::LlmText;

    /// The findings of one phishing alert (by code) over the test feeds.
    pub fn find(code: &str, event: &Event, text: &LlmText<'_>) -> Vec<Finding> {
        let d = Phishing::new(
            Arc::new(crate::detectors::phishing_urls::tests::index()),
            &|c| c == code,
        );
        assert_eq!(d.codes(), vec![code]);
        inspect_alone(&d, event, text)
    }

    /// The findings of one phishing alert over one prompt and one completion.
    pub fn find_in(code: &str, prompt: &str, completion: &str) -> Vec<Finding> {
        let text = LlmText {
            prompt: vec![prompt],
            completion: vec![completion],
        };
        find(code, &Event::default(), &text)
    }

    #[test]
    fn one_classification_serves_every_enabled_alert() {
        let d = Phishing::new(
            Arc::new(crate::detectors::phishing_urls::tests::index()),
            &|_| true,
        );
        let text = LlmText {
            prompt: vec!["check bad-bank.test and https://evil.example/login"],
            completion: vec![
                "https://evil.example/login is listed; so is http://paypa1-secure.net/verify/x",
            ],
        };
        let codes: Vec<&str> = inspect_alone(&d, &Event::default(), &text)
            .iter()
            .map(|f| f.code)
            .collect();
        assert_eq!(codes, vec!["MW-AI-0005", "MW-AI-0006", "MW-AI-0007"]);
        // A listed URL in a tool result is the agentic alert's, wherever else it is.
        let event = Event::from_json(
            &serde_json::json!({"gen_ai": {
                "prompt": [
                    {"role": "user", "content": "what is in my inbox?"},
                    {"role": "tool", "content": "Locked: verify at https://evil.example/login"}
                ],
                "completion": "Please verify at https://evil.example/login",
                "tool": {"results": [{"id": "call_1", "name": "read_inbox", "content": "Locked: verify at https://evil.example/login"}]}
            }})
            .to_string(),
        )
        .unwrap();
        let f = inspect_alone(&d, &event, &LlmText::of(&event));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].code, "MW-AI-0017");
        assert_eq!(
            f[0].evidence["roles"],
            serde_json::json!(["completion", "tool message", "tool output"])
        );
        // Bedrock: the tool result only in gen_ai.tool.results (the prompt is the body).
        let event = Event::from_json(
            r#"{"gen_ai":{"prompt":"{}","tool":{"results":[{"id":"t","content":"see bad-bank.test"}]}}}"#,
        )
        .unwrap();
        let f = inspect_alone(&d, &event, &LlmText::of(&event));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "MW-AI-0017");
        let none = Phishing::new(
            Arc::new(crate::detectors::phishing_urls::tests::index()),
            &|_| false,
        );
        assert!(none.codes().is_empty());
    }
}
