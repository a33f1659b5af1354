//! # Anomalous tool invocation
//!
//! ## What it detects
//! A principal whose model calls a tool it never called before: the names in
//! `gen_ai.tool.name` (the tool calls of OpenAI-style, Anthropic and Bedrock Converse
//! responses, see docs/input.md) against the tools the principal's calls used so far. A
//! principal must first be known, with the warm-up of the access anomaly
//! (`[behavior.access_anomaly]`: `warmup_calls` calls, 20, over at least `warmup`, 24 hours);
//! tools used during the warm-up form its baseline. A principal that called no tool in its
//! warm-up and then calls one alerts too. One alert per new tool per principal, counting the
//! calls that used it; the tool then joins the baseline. A principal whose baseline holds
//! `max_values` (32) tools is too varied to judge.
//!
//! ## Why it matters
//! An agent's tools are its reach: mail, files, code execution, payments. An application
//! that suddenly calls a tool it never used — or a key that starts making tool calls at all —
//! is what a prompt injection steering the agent, a poisoned tool definition, or a stolen
//! key driving the model through someone else's tool set look like. Microsoft Defender for
//! Cloud raises "Anomalous tool invocation" (AI.Azure_AnomalousToolInvocation) when an
//! application "attempted to invoke a tool in a manner that deviates from expected
//! behavior".
//!
//! ## Example
//! For a week the key `key-7f3a` makes calls whose responses call `search_docs`; at 02:14 a
//! response calls `send_email` three times: "key-7f3a invoked a new tool send_email (3 calls
//! from ...), known since ... with search_docs".
//!
//! ## False positives
//! A release that gives the application a new tool; a rarely used tool first used after the
//! warm-up. Unusual arguments to a known tool are not judged.
//!
//! ## Response
//! Read the sample calls (their tool arguments are in the events), check whether the tool
//! was added on purpose, and what the model read before it called it (a tool result with
//! hidden text or a link, MW-AI-0016/0017). If not expected, remove the tool from the
//! application or revoke the key.
//!
//! ## References
//! - https://learn.microsoft.com/en-us/azure/defender-for-cloud/alerts-ai-workloads
//! - MITRE ATLAS AML.T0053 AI Agent Tool Invocation: https://atlas.mitre.org/techniques/AML.T0053

use modelward_rule::Severity;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use super::iso;
use crate::finding::{keep_sample, Sample};
use crate::{AccessSettings, Analyzer, Call, Code, Finding, Profiles};
use crate::{Pending, ProfileStore};

pub const CODE: Code = Code {
    code: "MW-AI-0019",
    name: "Anomalous tool invocation",
    defender: Some("AI.Azure_AnomalousToolInvocation"),
    severity: Severity::Low,
    tactics: &["Execution"],
    atlas: ("AML.T0053", "AI Agent Tool Invocation"),
    doc: include_str!("tool_invocation.rs"),
};

/// The registry's constructor (`analyzers/mod.rs`): the analyzer, from the access anomaly's
/// warm-up (`[behavior.access_anomaly]`) and `max_principals`.
pub fn build(s: &crate::Settings) -> Box<dyn Analyzer> {
    Box::new(ToolInvocation::new(&s.access, s.max_principals))
}

/// New tools pending report per principal; more are counted only.
const PENDING: usize = 16;
/// Baseline tools listed in the evidence.
const LISTED: usize = 10;

/// A tool new to a principal after its warm-up.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewTool {
    pub tool: String,
    pub first: i64,
    pub last: i64,
    pub calls: u64,
    /// The baseline when it appeared.
    pub baseline: Vec<String>,
    pub baseline_size: usize,
    pub calls_before: u64,
    pub samples: Vec<Sample>,
    pub ip: Option<String>,
    pub model: Option<String>,
}

/// The tools a principal is known to call.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Profile {
    pub first_seen: i64,
    pub calls: u64,
    pub known: Vec<String>,
    pub pending: Vec<NewTool>,
    /// New tools not kept for lack of room.
    pub unreported: u64,
}

pub struct ToolInvocation {
    settings: AccessSettings,
    profiles: Profiles<Profile>,
}

impl ToolInvocation {
    pub fn new(settings: &AccessSettings, max_principals: usize) -> ToolInvocation {
        ToolInvocation {
            settings: settings.clone(),
            profiles: Profiles::new(max_principals),
        }
    }
}

impl Pending for Profile {
    type Settings = AccessSettings;

    fn flush(self, _: &AccessSettings, principal: &str, out: &mut Vec<Finding>) {
        for n in self.pending {
            let mut evidence = Map::new();
            evidence.insert("new_tool".into(), json!(n.tool));
            evidence.insert("calls_with_new_tool".into(), json!(n.calls));
            evidence.insert(
                "baseline".into(),
                json!({
                    "tools": n.baseline,
                    "size": n.baseline_size,
                    "principal_first_seen": iso(self.first_seen),
                    "calls_before": n.calls_before,
                }),
            );
            if self.unreported > 0 {
                evidence.insert("unreported_new_tools".into(), json!(self.unreported));
            }
            out.push(Finding {
                code: CODE.code,
                principal: principal.to_string(),
                timestamp: n.first,
                key: format!("tool:{}", n.tool),
                summary: format!(
                    "{principal} invoked a new tool {} ({} calls from {}), known since {} with {}",
                    n.tool,
                    n.calls,
                    iso(n.first),
                    iso(self.first_seen),
                    if n.baseline.is_empty() {
                        "no tool before".to_string()
                    } else {
                        n.baseline.join(", ")
                    }
                ),
                first_seen: n.first,
                last_seen: n.last,
                evidence,
                samples: n.samples,
                source_ip: n.ip,
                model: n.model,
            });
        }
    }
}

impl Analyzer for ToolInvocation {
    fn code(&self) -> &'static str {
        CODE.code
    }

    fn observe(&mut self, call: &Call, out: &mut Vec<Finding>) {
        if !call.is_llm() {
            return;
        }
        let s = &self.settings;
        let p = self
            .profiles
            .touch_reporting(&call.principal, call.ts, s, out);
        if p.calls == 0 {
            p.first_seen = call.ts;
        }
        let warm = p.calls >= s.warmup_calls && call.ts.saturating_sub(p.first_seen) >= s.warmup.0;
        for tool in call.tools.iter() {
            let tool: &str = tool;
            if let Some(n) = p.pending.iter_mut().find(|n| n.tool == tool) {
                n.calls += 1;
                n.last = call.ts;
                keep_sample(&mut n.samples, call);
                continue;
            }
            if p.known.iter().any(|k| k == tool) || p.known.len() >= s.max_values {
                continue;
            }
            if warm {
                if p.pending.len() < PENDING {
                    let mut n = NewTool {
                        tool: tool.to_string(),
                        first: call.ts,
                        last: call.ts,
                        calls: 1,
                        baseline: p.known.iter().take(LISTED).cloned().collect(),
                        baseline_size: p.known.len(),
                        calls_before: p.calls,
                        samples: Vec::new(),
                        ip: call.ip.as_deref().map(str::to_string),
                        model: call.model.as_deref().map(str::to_string),
                    };
                    keep_sample(&mut n.samples, call);
                    p.pending.push(n);
                } else {
                    p.unreported += 1;
                }
            }
            p.known.push(tool.to_string());
        }
        p.calls += 1;
    }

    fn finish(&mut self, out: &mut Vec<Finding>) {
        self.profiles.flush(&self.settings, out);
    }

    fn profiles(&self) -> Option<&dyn ProfileStore> {
        Some(&self.profiles)
    }

    fn profiles_mut(&mut self) -> Option<&mut dyn ProfileStore> {
        Some(&mut self.profiles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Settings;

    const HOUR: i64 = 3_600_000;

    fn run(calls: &[Call]) -> Vec<Finding> {
        crate::analyzer::feed::finished(
            &mut ToolInvocation::new(&Settings::default().access, 100),
            calls,
        )
    }

    /// Two days of hourly calls, every other one calling `search_docs`.
    fn usual(principal: &str) -> Vec<Call> {
        (0..48)
            .map(|h| {
                let c = Call::test(principal, h * HOUR);
                if h % 2 == 0 {
                    c.with_tools(&["search_docs"])
                } else {
                    c
                }
            })
            .collect()
    }

    #[test]
    fn a_new_tool_after_the_warm_up_alerts_once() {
        let mut calls = usual("key-7f3a");
        for i in 0..3 {
            calls.push(Call::test("key-7f3a", 48 * HOUR + i * 1000).with_tools(&["send_email"]));
        }
        calls.push(Call::test("key-7f3a", 49 * HOUR).with_tools(&["search_docs"]));
        let f = run(&calls);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].code, "MW-AI-0019");
        assert_eq!(f[0].evidence["new_tool"], json!("send_email"));
        assert_eq!(f[0].evidence["calls_with_new_tool"], json!(3));
        assert_eq!(f[0].evidence["baseline"]["tools"], json!(["search_docs"]));
    }

    #[test]
    fn tool_names_are_read_from_normalized_events() {
        let e = modelward_event::Event::from_json(
            r#"{"@timestamp":"2026-01-01T00:00:00Z","api_key":{"id":"k"},"gen_ai":{"request":{"model":"gpt-4o"},"tool":{"name":["send_email","read_inbox"]}}}"#,
        )
        .unwrap();
        let call = Call::from_event(&e, 0).unwrap();
        assert_eq!(&*call.tools[0], "send_email");
        assert_eq!(call.tools.len(), 2);
    }

    #[test]
    fn known_tools_and_the_warm_up_do_not_but_a_first_tool_does() {
        assert!(run(&usual("bot")).is_empty());
        // Every tool is new in the first day: nothing alerts.
        let young: Vec<Call> = (0..30)
            .map(|i| Call::test("new", i * 60_000).with_tools(&[&format!("tool{i}")]))
            .collect();
        assert!(run(&young).is_empty());
        // A chat-only key that starts calling a tool.
        let mut calls: Vec<Call> = (0..48).map(|h| Call::test("chat", h * HOUR)).collect();
        calls.push(Call::test("chat", 48 * HOUR).with_tools(&["run_shell"]));
        let f = run(&calls);
        assert_eq!(f.len(), 1);
        assert!(f[0].summary.contains("no tool before"), "{}", f[0].summary);
    }
}
