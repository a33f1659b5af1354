//! # Suspected wallet attack - recurring requests
//!
//! ## What it detects
//! One principal sending the same prompt over and over: at least `min_count` identical
//! requests (50 by default) within a sliding `window` (10 minutes). The prompt is compared by
//! a fingerprint of its text (each string trimmed), never stored. One alert per burst: it
//! lasts while the same prompt keeps coming at least once per window, and its evidence
//! counts every repeat of the burst.
//!
//! ## Why it matters
//! Denial of wallet: an attacker who holds a key, or who found an application that forwards
//! prompts, replays one expensive request to run up the bill or exhaust the quota and deny
//! the service to everyone else. Defender for Cloud raises this alert from the same
//! signal: high volumes of identical requests against one AI resource.
//!
//! ## Example
//! The key `key-7f3a` sends "Write a 4,000-word essay on every country's history" 340 times
//! between 02:00 and 02:40, several per second: one alert at the 50th request within ten
//! minutes, with the count of the whole burst, its first and last request and sample records.
//!
//! ## False positives
//! Health checks and synthetic monitoring that send a fixed prompt (one every 12 seconds
//! reaches the default threshold); retry loops of a faulty client; load tests; batch jobs
//! whose prompts are fully templated with no per-item text. Raise `min_count`, or disable
//! the code for a run over test traffic.
//!
//! ## Response
//! Identify the principal's owner and the client (user agent, address). If the traffic is
//! not theirs, revoke or rotate the key and block the address at the gateway; if it is a
//! broken client, rate-limit it. Check the resource's spend and quota for the period.
//!
//! ## References
//! - Microsoft Defender for Cloud, Alerts for AI services: "Suspected wallet attack - recurring requests" (`AI.Azure_DOWDuplicateRequests`), Impact, Medium: https://learn.microsoft.com/en-us/azure/defender-for-cloud/alerts-ai-workloads
//! - MITRE ATLAS AML.T0034 Cost Harvesting: https://atlas.mitre.org/techniques/AML.T0034
//! - OWASP Top 10 for LLM Applications, LLM10 Unbounded Consumption: https://genai.owasp.org/llmrisk/llm102025-unbounded-consumption/

use std::collections::VecDeque;

use modelward_rule::Severity;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use super::iso;
use crate::finding::{keep_sample, Sample};
use crate::{Analyzer, Call, Code, Finding, Profiles, RecurringSettings};
use crate::{Pending, ProfileStore};

pub const CODE: Code = Code {
    code: "MW-AI-0012",
    name: "Suspected wallet attack - recurring requests",
    defender: Some("AI.Azure_DOWDuplicateRequests"),
    severity: Severity::Medium,
    tactics: &["Impact"],
    atlas: ("AML.T0034", "Cost Harvesting"),
    doc: include_str!("recurring_requests.rs"),
};

/// The registry's constructor (`analyzers/mod.rs`): the analyzer, from
/// `[behavior.recurring_requests]` and `max_principals`.
pub fn build(s: &crate::Settings) -> Box<dyn Analyzer> {
    Box::new(RecurringRequests::new(&s.recurring, s.max_principals))
}

/// A burst of one prompt that crossed the threshold.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Burst {
    pub window_start: i64,
    pub fired: i64,
    pub count: u64,
    pub last: i64,
    pub samples: Vec<Sample>,
    pub ip: Option<String>,
    pub model: Option<String>,
}

/// One prompt a principal sent recently.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Tracked {
    pub hash: u64,
    /// The latest times it was sent (at most `min_count`).
    pub times: VecDeque<i64>,
    pub burst: Option<Burst>,
}

/// A principal's recent prompts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Profile {
    pub prompts: Vec<Tracked>,
}

pub struct RecurringRequests {
    settings: RecurringSettings,
    profiles: Profiles<Profile>,
}

impl RecurringRequests {
    pub fn new(settings: &RecurringSettings, max_principals: usize) -> RecurringRequests {
        RecurringRequests {
            settings: settings.clone(),
            profiles: Profiles::new(max_principals),
        }
    }
}

fn report(s: &RecurringSettings, principal: &str, hash: u64, b: Burst, out: &mut Vec<Finding>) {
    let mut evidence = Map::new();
    evidence.insert("identical_requests".into(), json!(b.count));
    evidence.insert("prompt_fingerprint".into(), json!(format!("{hash:016x}")));
    evidence.insert(
        "threshold".into(),
        json!(format!("{} within {}", s.min_count, s.window)),
    );
    out.push(Finding {
        code: CODE.code,
        principal: principal.to_string(),
        timestamp: b.fired,
        key: format!("{hash:016x}@{}", b.window_start),
        summary: format!(
            "{principal} sent the same prompt {} times between {} and {} (at least {} within {})",
            b.count,
            iso(b.window_start),
            iso(b.last),
            s.min_count,
            s.window
        ),
        first_seen: b.window_start,
        last_seen: b.last,
        evidence,
        samples: b.samples,
        source_ip: b.ip,
        model: b.model,
    });
}

/// The bursts still going on are reported.
impl Pending for Profile {
    type Settings = RecurringSettings;

    fn flush(self, s: &RecurringSettings, principal: &str, out: &mut Vec<Finding>) {
        for t in self.prompts {
            if let Some(b) = t.burst {
                report(s, principal, t.hash, b, out);
            }
        }
    }
}

impl Analyzer for RecurringRequests {
    fn code(&self) -> &'static str {
        CODE.code
    }

    fn observe(&mut self, call: &Call, out: &mut Vec<Finding>) {
        let Some(hash) = call.prompt_hash else {
            return;
        };
        let s = &self.settings;
        let window = s.window.0;
        let ts = call.ts;
        let p = self.profiles.touch_reporting(&call.principal, ts, s, out);
        // Bursts that went quiet end; prompts outside the window are forgotten.
        let mut kept = Vec::with_capacity(p.prompts.len());
        for mut t in p.prompts.drain(..) {
            let last = t.times.back().copied().unwrap_or(i64::MIN);
            let quiet = ts.saturating_sub(last) > window;
            if quiet {
                if let Some(b) = t.burst.take() {
                    report(s, &call.principal, t.hash, b, out);
                }
                if t.hash != hash {
                    continue;
                }
                t.times.clear();
            }
            kept.push(t);
        }
        p.prompts = kept;
        let index = match p.prompts.iter().position(|t| t.hash == hash) {
            Some(i) => i,
            None => {
                if p.prompts.len() >= s.max_prompts {
                    // Forget the prompt sent least recently.
                    if let Some((i, _)) = p
                        .prompts
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, t)| t.times.back().copied().unwrap_or(i64::MIN))
                    {
                        let t = p.prompts.swap_remove(i);
                        if let Some(b) = t.burst {
                            report(s, &call.principal, t.hash, b, out);
                        }
                    }
                }
                p.prompts.push(Tracked {
                    hash,
                    ..Tracked::default()
                });
                p.prompts.len() - 1
            }
        };
        let Some(t) = p.prompts.get_mut(index) else {
            return;
        };
        t.times.push_back(ts);
        while t.times.len() > s.min_count as usize {
            t.times.pop_front();
        }
        match &mut t.burst {
            Some(b) => {
                b.count += 1;
                b.last = ts;
                keep_sample(&mut b.samples, call);
                if let Some(ip) = &call.ip {
                    b.ip = Some(ip.to_string());
                }
            }
            None => {
                let first = t.times.front().copied().unwrap_or(ts);
                if t.times.len() >= s.min_count as usize && ts - first <= window {
                    let mut b = Burst {
                        window_start: first,
                        fired: ts,
                        count: t.times.len() as u64,
                        last: ts,
                        samples: Vec::new(),
                        ip: call.ip.as_deref().map(str::to_string),
                        model: call.model.as_deref().map(str::to_string),
                    };
                    keep_sample(&mut b.samples, call);
                    t.burst = Some(b);
                }
            }
        }
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

    fn run(calls: &[Call]) -> Vec<Finding> {
        crate::analyzer::feed::finished(
            &mut RecurringRequests::new(&Settings::default().recurring, 100),
            calls,
        )
    }

    #[test]
    fn a_replayed_prompt_alerts_once_per_burst() {
        let calls: Vec<Call> = (0..340)
            .map(|i| {
                Call::test("key-7f3a", i * 2_000)
                    .with_prompt("Write a 4,000-word essay")
                    .with_line(i as u64 + 1)
            })
            .collect();
        let f = run(&calls);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].evidence["identical_requests"], json!(340));
        assert_eq!(f[0].timestamp, 49 * 2_000);
        assert_eq!(f[0].first_seen, 0);
        assert_eq!(f[0].samples.len(), 3);
        // A second burst after a quiet hour is a second alert.
        let mut twice = calls.clone();
        twice.extend(calls.iter().map(|c| {
            let mut c = c.clone();
            c.ts += 3 * 3_600_000;
            c
        }));
        assert_eq!(run(&twice).len(), 2);
    }

    #[test]
    fn varied_or_slow_prompts_do_not() {
        let varied: Vec<Call> = (0..500)
            .map(|i| Call::test("u", i * 1_000).with_prompt(&format!("question {i}")))
            .collect();
        assert!(run(&varied).is_empty());
        // A health check every 15 seconds: 40 per ten minutes.
        let probe: Vec<Call> = (0..1000)
            .map(|i| Call::test("monitor", i * 15_000).with_prompt("ping"))
            .collect();
        assert!(run(&probe).is_empty());
        // 49 identical, then a pause, then 49 more: never 50 within ten minutes.
        let split: Vec<Call> = (0..98)
            .map(|i| {
                let ts = if i < 49 {
                    i * 1_000
                } else {
                    700_000 + i * 1_000
                };
                Call::test("u", ts).with_prompt("same")
            })
            .collect();
        assert!(run(&split).is_empty());
    }

    #[test]
    fn many_prompts_stay_bounded() {
        let mut a = RecurringRequests::new(&Settings::default().recurring, 10);
        let mut out = Vec::new();
        for i in 0..10_000i64 {
            let c = Call::test(&format!("p{}", i % 50), i).with_prompt(&format!("q{i}"));
            a.observe(&c, &mut out);
        }
        assert!(a.profiles.len() <= 10);
        assert!(a.evicted() > 0);
        assert!(out.is_empty());
    }
}
