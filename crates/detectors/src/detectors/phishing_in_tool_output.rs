//! ## What it detects
//! A known phishing URL in what a tool handed back to the model: a tool result
//! (`gen_ai.tool.results`: OpenAI `role: tool` / `function` messages, Anthropic
//! `tool_result` blocks, Bedrock Converse `toolResult`), or a chat message of role `tool` or
//! `function`. URLs are found and looked up in the user's phishing feeds as for the other
//! phishing alerts (plain, markdown, defanged, bare listed domains). A listed URL found in
//! tool output raises this alert and not MW-AI-0005/0006/0007, wherever else it also
//! appears: its origin is known, a tool. With this alert disabled such URLs go to MW-AI-0006.
//!
//! ## Why it matters
//! An agent's tools read the web, mailboxes and documents an attacker can write to; a
//! phishing link in their output can be repeated to the user with the application's
//! credibility, or followed by the agent's own browsing tools. Microsoft Defender for
//! Cloud's agent alerts cover phishing URLs reaching an agent; the Learn page read for this
//! code lists no id for tool output, so this alert carries none (see docs/detectors.md).
//!
//! ## Example
//! A `read_inbox` tool returns "Your account is locked: verify at
//! https://evil.example/login", and `https://evil.example/login` is in the OpenPhish feed.
//!
//! ## False positives
//! Tools that scan or triage phishing (a mail security tool listing reported links); stale
//! feed entries. Documentation addresses are never reported.
//!
//! ## Response
//! Find the page, mail or record the tool read (tool name and call id in the evidence),
//! remove or quarantine it; check whether the agent repeated the link or visited it;
//! block the domain at the proxy the agent's tools use.
//!
//! ## References
//! - https://learn.microsoft.com/en-us/azure/defender-for-cloud/alerts-ai-workloads
//! - https://atlas.mitre.org/techniques/AML.T0051
//! - https://openphish.com/

use modelward_rule::Severity;

use crate::detector::Code;

pub const CODE: Code = Code {
    code: "MW-AI-0017",
    name: "Phishing URL in an AI agent's tool output",
    defender: None,
    severity: Severity::High,
    tactics: &["Initial Access", "Collection"],
    atlas: ("AML.T0051", "LLM Prompt Injection"),
    doc: include_str!("phishing_in_tool_output.rs"),
};
