//! ## What it detects
//! A known phishing URL in an AI application's conversation whose origin is not clear: it
//! is in both the prompt and the completion (the user sent it and the model repeated it, or
//! the model echoed a link it was given), or in a prompt message that is not the user's
//! (a system prompt, an assistant turn of the history, a message without a role; a tool or
//! function result only while MW-AI-0017, phishing in tool output, is disabled). URLs are
//! found in plain text, markdown links and autolinks, in defanged
//! form, and as bare mentions of listed domains (Unicode and punycode host names alike), and
//! looked up in the phishing feeds the user provides (OpenPhish, PhishTank, URLhaus, domain
//! lists).
//!
//! ## Why it matters
//! A phishing link that travels through an AI application reaches people with the
//! application's credibility, whether it came from a user, a retrieved document or a tool.
//! Microsoft Defender for Cloud raises "Phishing URL shared in an AI application"
//! (AI.Azure_MaliciousUrl.UnknownSource).
//!
//! ## Example
//! A tool result in the prompt reads "Click https://evil.example/login to verify your
//! account", or the user asks "Summarise hxxps://evil[.]example/login" and the completion
//! repeats the link, while `https://evil.example/login` is in the OpenPhish feed.
//!
//! ## False positives
//! Security teams asking a model about a phishing site they are investigating, and answers
//! that repeat the link while warning about it; stale feed entries. Documentation addresses
//! (learn.microsoft.com, example.com) are never reported.
//!
//! ## Response
//! Find where the link entered the conversation (the user, the system prompt, a retrieved
//! document, a tool); if it came from a data source, remove it there; if a user received
//! it in an answer, warn them; block the domain at the proxy.
//!
//! ## References
//! - https://learn.microsoft.com/en-us/azure/defender-for-cloud/alerts-ai-workloads
//! - https://atlas.mitre.org/techniques/AML.T0048
//! - https://www.phishtank.com/developer_info.php
//! - https://openphish.com/

use modelward_rule::Severity;

use crate::detector::Code;

pub const CODE: Code = Code {
    code: "MW-AI-0006",
    name: "Phishing URL shared in an AI application",
    defender: Some("AI.Azure_MaliciousUrl.UnknownSource"),
    severity: Severity::High,
    tactics: &["Impact", "Collection"],
    atlas: ("AML.T0048", "External Harms"),
    doc: include_str!("phishing_in_application.rs"),
};

#[cfg(test)]
mod tests {
    use crate::detector::Finding;
    use crate::text::LlmText;
    use modelward_event::Event;
    use serde_json::json;

    fn find(event: &Event, text: &LlmText<'_>) -> Vec<Finding> {
        crate::detectors::phishing::tests::find("MW-AI-0006", event, text)
    }

    fn text<'a>(prompt: &'a str, completion: &'a str) -> LlmText<'a> {
        LlmText {
            prompt: vec![prompt],
            completion: vec![completion],
        }
    }

    #[test]
    fn echoed_url_and_tool_message() {
        let f = find(
            &Event::default(),
            &text(
                "Summarise hxxps://evil[.]example/login",
                "The page at <https://evil.example/login> asks for a password.",
            ),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "MW-AI-0006");
        assert_eq!(f[0].role, None);
        assert_eq!(
            f[0].evidence["urls"],
            json!(["hxxps://evil[.]example/login"])
        );
        assert_eq!(f[0].evidence["roles"], json!(["completion", "prompt"]));
        let event = Event::from_json(
            &json!({"gen_ai": {"prompt": [
                {"role": "user", "content": "what does the page say?"},
                {"role": "tool", "content": "Verify at login.bad-bank.test/verify"}
            ], "completion": "It asks you to verify your account."}})
            .to_string(),
        )
        .unwrap();
        let f = find(&event, &LlmText::of(&event));
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].evidence["urls"],
            json!(["login[.]bad-bank[.]test/verify"])
        );
        assert_eq!(f[0].evidence["roles"], json!(["tool message"]));
        assert_eq!(f[0].evidence["feeds"], json!(["domains.txt"]));
    }

    #[test]
    fn one_sided_and_documentation_urls_are_not_this_alert() {
        assert!(find(
            &Event::default(),
            &text("hi", "go to https://evil.example/login")
        )
        .is_empty());
        assert!(find(
            &Event::default(),
            &text("check https://evil.example/login", "I can't open links")
        )
        .is_empty());
        assert!(find(
            &Event::default(),
            &text(
                "https://learn.microsoft.com/en-us/azure/",
                "https://learn.microsoft.com/en-us/azure/"
            )
        )
        .is_empty());
    }
}
