//! ## What it detects
//! A known phishing URL that a user sent in a prompt and the model did not repeat in its
//! completion. URLs are found in plain text, markdown links and autolinks, in defanged form
//! (`hxxps://evil[.]example`), and as bare mentions of listed domains (Unicode and punycode
//! host names alike), and looked up in the phishing feeds the user provides (OpenPhish,
//! PhishTank, URLhaus, domain lists). Links in prompt messages that are not the user's
//! (system, tool, history) are MW-AI-0006 instead.
//!
//! ## Why it matters
//! Someone is feeding phishing links to an AI application: to have it summarise, rewrite or
//! spread phishing content, to plant the link in shared conversation history or memory, or
//! to make the model fetch the page (indirect prompt injection). Microsoft Defender for
//! Cloud raises "Phishing attempt detected in an AI application"
//! (AI.Azure_MaliciousUrl.UserPrompt).
//!
//! ## Example
//! A prompt "Rewrite this email to sound more urgent: ... log in at
//! http://paypa1-secure.net/verify/account ..." while `http://paypa1-secure.net/verify/` is
//! in the OpenPhish feed.
//!
//! ## False positives
//! Users who paste a suspicious link to ask whether it is safe, and security teams at work;
//! stale feed entries. Documentation addresses (learn.microsoft.com, example.com) are never
//! reported.
//!
//! ## Response
//! Identify the user or key; check what the model did with the link (tool calls, fetches);
//! if the use is abusive (crafting phishing), suspend the account; block the domain.
//!
//! ## References
//! - https://learn.microsoft.com/en-us/azure/defender-for-cloud/alerts-ai-workloads
//! - https://atlas.mitre.org/techniques/AML.T0051
//! - https://openphish.com/
//! - https://www.phishtank.com/developer_info.php

use modelward_rule::Severity;

use crate::detector::Code;

pub const CODE: Code = Code {
    code: "MW-AI-0007",
    name: "Phishing attempt detected in an AI application",
    defender: Some("AI.Azure_MaliciousUrl.UserPrompt"),
    severity: Severity::High,
    tactics: &["Collection"],
    atlas: ("AML.T0051", "LLM Prompt Injection"),
    doc: include_str!("phishing_in_prompt.rs"),
};

#[cfg(test)]
mod tests {
    use crate::detector::Finding;
    use crate::text::Role;
    use serde_json::json;

    fn find(prompt: &str, completion: &str) -> Vec<Finding> {
        crate::detectors::phishing::tests::find_in("MW-AI-0007", prompt, completion)
    }

    #[test]
    fn phishing_url_from_the_user() {
        let f = find(
            "Rewrite this email to sound urgent: log in at http://paypa1-secure.net/verify/account and at bücher.example",
            "Here is a more urgent version of the email.",
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "MW-AI-0007");
        assert_eq!(f[0].role, Some(Role::Prompt));
        assert_eq!(
            f[0].evidence["urls"],
            json!([
                "hxxp://paypa1-secure[.]net/verify/account",
                "xn--bcher-kva[.]example"
            ])
        );
        assert_eq!(
            f[0].evidence["feeds"],
            json!(["domains.txt", "openphish.txt"])
        );
        assert_eq!(f[0].evidence["count"], json!(2));
    }

    #[test]
    fn clean_echoed_and_documentation_prompts_are_not_this_alert() {
        assert!(find("Summarise https://contoso.test/news", "ok").is_empty());
        assert!(find(
            "is bad-bank.test safe?",
            "bad-bank.test is a known phishing site"
        )
        .is_empty());
        assert!(find(
            "read https://learn.microsoft.com/en-us/azure/ and example.com",
            "ok"
        )
        .is_empty());
    }
}
