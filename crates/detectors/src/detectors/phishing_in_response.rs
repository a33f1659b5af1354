//! ## What it detects
//! A known phishing URL in a model's completion that was not in the prompt: the model, its
//! training or grounding data, or a poisoned retrieval source produced it. URLs are found in
//! plain text, markdown links and autolinks, in defanged form (`hxxps://evil[.]example`),
//! and as bare mentions of listed domains, international host names matched in both their
//! Unicode and punycode (`xn--`) forms, and looked up in the phishing feeds the user
//! provides (OpenPhish, PhishTank, URLhaus, domain lists): by exact URL, by listed domain
//! (and its subdomains), or by a listed URL's host and path prefix.
//!
//! ## Why it matters
//! Users trust links that an AI application gives them. A phishing link in an answer means
//! the model or the data it draws on has been corrupted (data poisoning, indirect prompt
//! injection through retrieved pages) and is now used against the application's users.
//! Microsoft Defender for Cloud raises "Corrupted AI application\model\data directed a
//! phishing attempt at a user" (AI.Azure_MaliciousUrl.ModelResponse).
//!
//! ## Example
//! The user asks "How do I reset my bank password?" and the completion answers "Sign in at
//! [your bank](https://evil.example/login) and follow the steps" while
//! `https://evil.example/login` is in the OpenPhish feed.
//!
//! ## False positives
//! Stale feed entries (sites cleaned up since), and answers that discuss a phishing site
//! the model knows about without the user having named it. Documentation addresses
//! (learn.microsoft.com, example.com) are never reported.
//!
//! ## Response
//! Read the conversation: find where the URL came from (retrieved documents, tool results,
//! fine-tuning data, the system prompt) and remove it; warn the user who received it, and
//! check whether they opened it; block the domain at the proxy.
//!
//! ## References
//! - https://learn.microsoft.com/en-us/azure/defender-for-cloud/alerts-ai-workloads
//! - https://atlas.mitre.org/techniques/AML.T0048
//! - https://openphish.com/
//! - https://urlhaus.abuse.ch/
//! - https://www.rfc-editor.org/rfc/rfc3492

use modelward_rule::Severity;

use crate::detector::Code;

pub const CODE: Code = Code {
    code: "MW-AI-0005",
    name: "Corrupted AI application\\model\\data directed a phishing attempt at a user",
    defender: Some("AI.Azure_MaliciousUrl.ModelResponse"),
    severity: Severity::High,
    tactics: &["Impact"],
    atlas: ("AML.T0048", "External Harms"),
    doc: include_str!("phishing_in_response.rs"),
};

#[cfg(test)]
mod tests {
    use crate::detector::Finding;
    use crate::text::Role;
    use serde_json::json;

    fn find(prompt: &str, completion: &str) -> Vec<Finding> {
        crate::detectors::phishing::tests::find_in("MW-AI-0005", prompt, completion)
    }

    #[test]
    fn phishing_url_made_up_by_the_model() {
        let f = find(
            "How do I reset my bank password?",
            "Sign in at [your bank](https://evil.example/login) or hxxps://evil[.]example/login/2",
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "MW-AI-0005");
        assert_eq!(f[0].role, Some(Role::Completion));
        assert_eq!(
            f[0].evidence["urls"],
            json!([
                "hxxps://evil[.]example/login",
                "hxxps://evil[.]example/login/2"
            ])
        );
        assert_eq!(f[0].evidence["feeds"], json!(["openphish.txt"]));
        assert_eq!(f[0].evidence["roles"], json!(["completion"]));
    }

    #[test]
    fn echoes_and_documentation_are_not_this_alert() {
        assert!(find(
            "is https://evil.example/login safe?",
            "https://evil.example/login is phishing"
        )
        .is_empty());
        assert!(find(
            "hi",
            "See https://learn.microsoft.com/en-us/azure/ and https://example.com/login"
        )
        .is_empty());
        assert!(find("hi", "Visit https://contoso.test/").is_empty());
    }
}
