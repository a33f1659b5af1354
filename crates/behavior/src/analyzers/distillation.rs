//! # Model extraction through the API - distillation harvesting
//!
//! ## What it detects
//! A principal harvesting the model's answers to train a copy (distillation, a shadow model):
//! in one `bucket` (1 hour), at least `min_calls` (200) calls, far above its usual volume, made
//! of diverse, unconnected questions whose answers are what it keeps; and the same at a
//! daily scale for slow harvests: `slow_bucket` (1 day), `slow_min_calls` (300), a baseline of
//! `slow_baseline_buckets` (28) active days after `slow_warmup_buckets` (3). All of these must
//! hold:
//! - *volume*: at least `ratio` (5) times the median of its previous active buckets (up to
//!   `baseline_buckets`, 168: a week of hours) once it has `warmup_buckets` (6) of them; before
//!   that, at least `peer_ratio` (10) times the median volume of the principals active in the
//!   previous bucket (at least `min_peers`, 3, of them); with neither (a new principal, the
//!   first bucket of a run) the volume is judged on `min_calls` alone, and the other
//!   conditions decide;
//! - *breadth*: at least `min_breadth` (50%) of the calls open a new topic (a query whose
//!   SimHash of character 5-grams is more than `topic_bits`, 8, bits from the last 64 topics);
//! - *no conversation*: at most `max_continuity` (20%) of the calls continue one (earlier turns
//!   in the prompt, or two thirds of the fingerprints shared with the previous query: a
//!   rewrite of it);
//! - *harvesting*: the answers are longer than the questions, at least `min_expansion` (1.5)
//!   output tokens per input token, or at least `min_reasoning` (20%) of the calls ask for
//!   reasoning traces ("step by step", "show your reasoning", a reasoning parameter).
//!
//! The share of calls on the principal's most common template (first three words, digits left
//! out) is reported, not required: templates alone are what batch jobs look like. The score
//! is the volume ratio; the message says against what ("41× its median of 12 over 30
//! active buckets" or "25× the median of 14 principals"). At most one alert per bucket, and
//! none for a bucket right after one that alerted (the same harvest going on).
//!
//! ## Why it matters
//! Distillation copies a model's capabilities at the price of its API calls (Stanford's
//! Alpaca from 52k answers, the many "distilled from GPT-4" models); OWASP LLM10 names shadow
//! models and functional replication. The calls look like any user's, one by one; the
//! pattern — many, diverse, unconnected, answer-heavy, often asking for the reasoning — does
//! not.
//!
//! ## Example
//! A key used for 20 calls an hour sends 1,000 in an hour: short questions on many topics,
//! no conversation, 30 tokens in and 700 out, a third asking to "explain step by step"; at
//! its 200th call: "key-d1 sent 200 calls in the 1h bucket from 2025-03-03T02:00:00.000Z, 10×
//! its median of 20 over 24 active buckets: 79.5% new topics, 0% in conversations, 23.33
//! output tokens per input token, 33.5% asking for reasoning".
//!
//! ## False positives
//! A heavy batch job with templated prompts ("Summarise ticket #N: <text>") does not alert:
//! each item brings its own material, so its answers are shorter than its prompts and it asks
//! for no reasoning; once warm, its own steady volume is its baseline. A new synthetic-data
//! generation job, a benchmark run with chain-of-thought prompts on a new key, or a new
//! single-turn question-answering application (short questions, long answers, no retrieved
//! context) in its first day, before its own baseline and without peers to compare with, look
//! like harvesting and alert once.
//!
//! ## Response
//! Check the terms of use for the principal's owner (most providers forbid training competing
//! models on outputs). Rate-limit or suspend the key, keep the logs, and follow PB-53 "Model
//! extraction via API"; look for the same pattern across accounts (MW-TH-0005).
//!
//! ## References
//! - Tramèr et al., Stealing Machine Learning Models via Prediction APIs, USENIX Security 2016: https://arxiv.org/abs/1609.02943
//! - Taori et al., Alpaca: A Strong, Replicable Instruction-Following Model, 2023: https://crfm.stanford.edu/2023/03/13/alpaca.html
//! - OWASP Top 10 for LLM Applications, LLM10 Unbounded Consumption (functional model replication): https://genai.owasp.org/llmrisk/llm102025-unbounded-consumption/
//! - MITRE ATLAS AML.T0005 Create Proxy AI Model: https://atlas.mitre.org/techniques/AML.T0005

use std::collections::{HashMap, VecDeque};

use modelward_rule::Severity;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use super::theft::{finding, MODEL_EXTRACTION_API};
use super::{iso, median, round2};
use crate::finding::{keep_sample, Sample};
use crate::text::{hamming, shared};
use crate::ProfileStore;
use crate::{Analyzer, Call, Code, DistillationSettings, Finding, Profiles, Span};

pub const CODE: Code = Code {
    code: "MW-TH-0002",
    name: "Model extraction through the API - distillation harvesting",
    defender: None,
    severity: Severity::Medium,
    tactics: &["Exfiltration", "Collection"],
    atlas: ("AML.T0005", "Create Proxy AI Model"),
    doc: include_str!("distillation.rs"),
};

/// The registry's constructor (`analyzers/mod.rs`): the analyzer, from
/// `[behavior.distillation]` and `max_principals`.
pub fn build(s: &crate::Settings) -> Box<dyn Analyzer> {
    Box::new(Distillation::new(&s.theft.distillation, s.max_principals))
}

/// Topics remembered per principal.
const TOPICS: usize = 64;
/// Templates counted per bucket.
const TEMPLATES: usize = 16;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Current {
    pub start: i64,
    pub calls: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub novel: u64,
    pub continuing: u64,
    pub reasoning: u64,
    pub templates: Vec<(u64, u64)>,
    pub fired: bool,
    pub samples: Vec<Sample>,
}

/// A principal's buckets at one time scale.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ScaleState {
    pub history: VecDeque<u64>,
    pub current: Option<Current>,
    /// The start of the last bucket that alerted.
    pub fired: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Profile {
    /// The hourly and the daily scale.
    pub scales: [ScaleState; 2],
    pub topics: VecDeque<u64>,
    pub last_marks: Option<Box<[u32]>>,
    /// When the principal last alerted, at either scale.
    pub last_alert: Option<i64>,
}

/// Calls per principal in the current bucket, for the peers' median.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Peers {
    start: i64,
    counts: HashMap<Box<str>, u64>,
    /// The previous bucket's median and number of principals.
    previous: Option<(f64, usize)>,
}

impl Peers {
    fn count(&mut self, bucket: i64, start: i64, principal: &str, max: usize) {
        if start != self.start {
            if start == self.start.saturating_add(bucket) && !self.counts.is_empty() {
                let mut v: Vec<f64> = self.counts.values().map(|c| *c as f64).collect();
                self.previous = Some((median(&mut v), v.len()));
            } else {
                self.previous = None;
            }
            self.counts.clear();
            self.start = start;
        }
        if let Some(c) = self.counts.get_mut(principal) {
            *c += 1;
        } else if self.counts.len() < max {
            self.counts.insert(principal.into(), 1);
        }
    }
}

/// One time scale's parameters.
#[derive(Debug, Clone, Copy)]
struct Scale {
    bucket: Span,
    min_calls: u64,
    baseline_buckets: usize,
    warmup_buckets: usize,
}

pub struct Distillation {
    settings: DistillationSettings,
    scales: [Scale; 2],
    profiles: Profiles<Profile>,
    peers: [Peers; 2],
    max_principals: usize,
}

impl Distillation {
    pub fn new(settings: &DistillationSettings, max_principals: usize) -> Distillation {
        let s = settings;
        Distillation {
            settings: settings.clone(),
            scales: [
                Scale {
                    bucket: s.bucket,
                    min_calls: s.min_calls,
                    baseline_buckets: s.baseline_buckets,
                    warmup_buckets: s.warmup_buckets,
                },
                Scale {
                    bucket: s.slow_bucket,
                    min_calls: s.slow_min_calls,
                    baseline_buckets: s.slow_baseline_buckets,
                    warmup_buckets: s.slow_warmup_buckets,
                },
            ],
            profiles: Profiles::new(max_principals),
            peers: [Peers::default(), Peers::default()],
            max_principals: max_principals.max(1),
        }
    }
}

/// What one call adds to a bucket.
#[derive(Debug, Clone, Copy, Default)]
struct Signals {
    novel: bool,
    continuing: bool,
    reasoning: bool,
    template: Option<u64>,
}

impl Analyzer for Distillation {
    fn code(&self) -> &'static str {
        CODE.code
    }

    fn observe(&mut self, call: &Call, out: &mut Vec<Finding>) {
        if !call.is_llm() {
            // An object-storage access, not an LLM call (MW-TH-0007 and MW-TH-0008 see it).
            return;
        }
        let s = &self.settings;
        let starts = self
            .scales
            .map(|k| call.ts.div_euclid(k.bucket.0).saturating_mul(k.bucket.0));
        for (i, peers) in self.peers.iter_mut().enumerate() {
            peers.count(
                self.scales[i].bucket.0,
                starts[i],
                &call.principal,
                self.max_principals,
            );
        }
        let p = self
            .profiles
            .touch(&call.principal, call.ts, &mut |_, _| {});
        let mut sig = Signals::default();
        if let Some(t) = call.text.as_deref() {
            sig.continuing = t.turns > 1
                || p.last_marks
                    .as_ref()
                    .is_some_and(|m| 3 * shared(m, &t.marks) >= 2 * t.marks.len().max(1));
            sig.reasoning = t.reasoning;
            if p.topics
                .iter()
                .all(|h| hamming(*h, t.simhash) > s.topic_bits)
            {
                sig.novel = true;
                p.topics.push_back(t.simhash);
                if p.topics.len() > TOPICS {
                    p.topics.pop_front();
                }
            }
            sig.template = Some(t.template);
            p.last_marks = Some(t.marks.clone());
        }
        for (k, scale) in self.scales.iter().enumerate() {
            let start = starts[k];
            let st = &mut p.scales[k];
            if st.current.as_ref().is_some_and(|c| c.start != start) {
                if let Some(c) = st.current.take() {
                    st.history.push_back(c.calls);
                    while st.history.len() > scale.baseline_buckets {
                        st.history.pop_front();
                    }
                }
            }
            let c = st.current.get_or_insert_with(|| Current {
                start,
                ..Current::default()
            });
            c.calls += 1;
            c.tokens_in = c.tokens_in.saturating_add(call.tokens_in);
            c.tokens_out = c.tokens_out.saturating_add(call.tokens_out);
            c.novel += u64::from(sig.novel);
            c.continuing += u64::from(sig.continuing);
            c.reasoning += u64::from(sig.reasoning);
            if let Some(t) = sig.template {
                if let Some(e) = c.templates.iter_mut().find(|(h, _)| *h == t) {
                    e.1 += 1;
                } else if c.templates.len() < TEMPLATES {
                    c.templates.push((t, 1));
                }
            }
            keep_sample(&mut c.samples, call);
            if c.fired || c.calls < scale.min_calls {
                continue;
            }
            let warm = st.history.len() >= scale.warmup_buckets.max(1);
            let peers = self.peers[k].previous;
            let (pass, ratio, basis, against) = if warm {
                let mut h: Vec<f64> = st.history.iter().map(|x| *x as f64).collect();
                let m = median(&mut h).max(1.0);
                let r = c.calls as f64 / m;
                (
                    r >= s.ratio,
                    r,
                    format!(
                        "{}× its median of {} over {} active buckets",
                        round2(r),
                        round2(m),
                        st.history.len()
                    ),
                    "own_baseline",
                )
            } else {
                match peers {
                    Some((m, n)) if n >= s.min_peers => {
                        let m = m.max(1.0);
                        let r = c.calls as f64 / m;
                        (
                            r >= s.peer_ratio,
                            r,
                            format!(
                                "{}× the median of {} principals in the previous bucket ({}); too new for its own baseline ({} of {} buckets)",
                                round2(r),
                                n,
                                round2(m),
                                st.history.len(),
                                scale.warmup_buckets
                            ),
                            "peers",
                        )
                    }
                    _ => {
                        let r = c.calls as f64 / scale.min_calls.max(1) as f64;
                        (
                            true,
                            r,
                            format!(
                                "with no baseline yet ({} of {} buckets) and no peers in the previous bucket, at least {} calls",
                                st.history.len(),
                                scale.warmup_buckets,
                                scale.min_calls
                            ),
                            "min_calls",
                        )
                    }
                }
            };
            let n = c.calls as f64;
            let breadth = c.novel as f64 / n;
            let continuity = c.continuing as f64 / n;
            let reasoning = c.reasoning as f64 / n;
            let expansion = if c.tokens_in > 0 {
                c.tokens_out as f64 / c.tokens_in as f64
            } else {
                0.0
            };
            let template = c.templates.iter().map(|t| t.1).max().unwrap_or(0) as f64 / n;
            if !pass
                || breadth < s.min_breadth
                || continuity > s.max_continuity
                || (expansion < s.min_expansion && reasoning < s.min_reasoning)
            {
                continue;
            }
            c.fired = true;
            let ongoing = st.fired == Some(c.start.saturating_sub(scale.bucket.0))
                || (k == 1 && p.last_alert.is_some_and(|t| t >= c.start));
            st.fired = Some(c.start);
            if ongoing {
                // The harvest that alerted already goes on: one alert for it.
                continue;
            }
            p.last_alert = Some(call.ts);
            let mut e = Map::new();
            e.insert("calls".into(), json!(c.calls));
            e.insert(
                "bucket".into(),
                json!({"start": iso(c.start), "size": scale.bucket.to_string()}),
            );
            e.insert(
                "volume".into(),
                json!({"ratio": round2(ratio), "against": against, "baseline_buckets": st.history.len(), "warm": warm, "peer_median": peers.map(|x| round2(x.0)), "peers": peers.map(|x| x.1)}),
            );
            e.insert("new_topic_share".into(), json!(round2(breadth)));
            e.insert("conversation_share".into(), json!(round2(continuity)));
            e.insert("reasoning_share".into(), json!(round2(reasoning)));
            e.insert("output_per_input_token".into(), json!(round2(expansion)));
            e.insert("top_template_share".into(), json!(round2(template)));
            e.insert("thresholds".into(), json!({"min_calls": scale.min_calls, "ratio": s.ratio, "peer_ratio": s.peer_ratio, "min_breadth": s.min_breadth, "max_continuity": s.max_continuity, "min_expansion": s.min_expansion, "min_reasoning": s.min_reasoning}));
            let summary = format!(
                "{} sent {} calls in the {} bucket from {}, {}: {}% new topics, {}% in conversations, {} output tokens per input token, {}% asking for reasoning",
                call.principal,
                c.calls,
                scale.bucket,
                iso(c.start),
                basis,
                round2(breadth * 100.0),
                round2(continuity * 100.0),
                round2(expansion),
                round2(reasoning * 100.0)
            );
            let cstart = c.start;
            out.push(finding(
                CODE.code,
                &call.principal,
                call,
                format!("{}@{cstart}", scale.bucket),
                summary,
                cstart,
                MODEL_EXTRACTION_API,
                ratio,
                e,
                c.samples.clone(),
            ));
        }
    }

    fn cross_principal(&self) -> bool {
        true
    }

    fn save_shared(&self) -> Option<serde_json::Value> {
        serde_json::to_value(&self.peers).ok()
    }

    fn load_shared(&mut self, shared: serde_json::Value) -> bool {
        match serde_json::from_value::<[Peers; 2]>(shared) {
            Ok(peers) => {
                self.peers = peers;
                true
            }
            Err(_) => false,
        }
    }

    fn finish(&mut self, _out: &mut Vec<Finding>) {}

    fn profiles(&self) -> Option<&dyn ProfileStore> {
        Some(&self.profiles)
    }

    fn profiles_mut(&mut self) -> Option<&mut dyn ProfileStore> {
        Some(&mut self.profiles)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::{Params, Settings};

    const HOUR: i64 = 3_600_000;
    const SUBJECTS: [&str; 24] = [
        "photosynthesis",
        "the french revolution",
        "quantum tunnelling",
        "compound interest",
        "the krebs cycle",
        "plate tectonics",
        "neural networks",
        "the roman senate",
        "supply and demand",
        "black holes",
        "vaccination",
        "the printing press",
        "sorting algorithms",
        "jazz harmony",
        "volcanic eruptions",
        "the cold war",
        "protein folding",
        "game theory",
        "ocean currents",
        "baroque architecture",
        "public key cryptography",
        "the immune system",
        "climate feedback loops",
        "medieval trade routes",
    ];
    const ASPECTS: [&str; 12] = [
        "history",
        "key equations",
        "common misconceptions",
        "practical uses",
        "main critics",
        "open problems",
        "teaching analogies",
        "edge cases",
        "cost",
        "ethics",
        "future",
        "measurement",
    ];

    /// Short diverse questions with long answers.
    pub(crate) fn harvester(key: &str, start: i64, n: usize, every: i64) -> Vec<Call> {
        (0..n)
            .map(|i| {
                let q = format!(
                    "{} {} of {}, focusing on {}.",
                    if i % 3 == 0 {
                        "Explain step by step the"
                    } else {
                        "Describe in detail the"
                    },
                    ASPECTS[(i / 24) % 12],
                    SUBJECTS[i % 24],
                    ASPECTS[(i * 7 + 3) % 12]
                );
                Call::test(key, start + i as i64 * every)
                    .with_prompt(&q)
                    .with_tokens(30, 700)
            })
            .collect()
    }

    /// Conversations of five turns about one subject each.
    pub(crate) fn chat_user(key: &str, start: i64, n: usize) -> Vec<Call> {
        let mut out = Vec::new();
        let mut history: Vec<String> = Vec::new();
        for i in 0..n {
            if i % 5 == 0 {
                history.clear();
            }
            let subject = SUBJECTS[(i / 5) % 24];
            let q = match i % 5 {
                0 => {
                    format!("Can you help me write a short paragraph about {subject} for my class?")
                }
                1 => "Make it a bit shorter and simpler please.".to_string(),
                2 => format!("Add one example about {} to it.", ASPECTS[i % 12]),
                3 => {
                    "Thanks. Could you fix the grammar in my version: i think its good but not sure"
                        .to_string()
                }
                _ => format!("Last thing: suggest a title about {subject}."),
            };
            let h: Vec<&str> = history.iter().map(String::as_str).collect();
            out.push(
                Call::test(key, start + i as i64 * 90_000)
                    .with_chat(&h, &q)
                    .with_tokens(300, 200),
            );
            history.push(q);
            history.push(format!("Here is a reply about {subject}, number {i}."));
        }
        out
    }

    /// Pseudo-random words: free text that differs from item to item.
    pub(crate) fn words(seed: u64, n: usize) -> String {
        const VOCAB: [&str; 64] = [
            "account",
            "after",
            "again",
            "app",
            "asked",
            "before",
            "billing",
            "broken",
            "browser",
            "cannot",
            "card",
            "changed",
            "charged",
            "checkout",
            "colleague",
            "crash",
            "customer",
            "data",
            "delivery",
            "device",
            "email",
            "error",
            "export",
            "failed",
            "file",
            "invoice",
            "laptop",
            "license",
            "login",
            "manager",
            "message",
            "missing",
            "mobile",
            "monday",
            "network",
            "office",
            "order",
            "password",
            "payment",
            "phone",
            "plan",
            "printer",
            "profile",
            "refund",
            "report",
            "reset",
            "screen",
            "server",
            "shipment",
            "slow",
            "subscription",
            "support",
            "team",
            "timeout",
            "tried",
            "update",
            "upgrade",
            "upload",
            "urgent",
            "user",
            "vpn",
            "warehouse",
            "website",
            "yesterday",
        ];
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                VOCAB[(x % 64) as usize]
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A heavy batch job: one template, each ticket its own text; long inputs, short outputs.
    pub(crate) fn ticket_batch(key: &str, start: i64, n: usize, every: i64) -> Vec<Call> {
        (0..n)
            .map(|i| {
                let t = format!(
                    "Summarise ticket #{}: {}",
                    10_000 + i,
                    words(i as u64, 12 + i % 20)
                );
                Call::test(key, start + i as i64 * every)
                    .with_prompt(&t)
                    .with_tokens(450, 60)
            })
            .collect()
    }

    /// The same 500 questions, at temperature 0, one token each.
    pub(crate) fn eval_suite(key: &str, start: i64) -> Vec<Call> {
        (0..500)
            .map(|q| {
                Call::test(key, start + q * 3_000)
                    .with_prompt(&format!(
                        "Question {q}: which of the options A, B, C or D best completes: {}?",
                        words(1_000_000 + q as u64, 8 + q as usize % 10)
                    ))
                    .with_tokens(200, 1)
                    .with_params(Params {
                        max_tokens: Some(1),
                        temperature: Some(0.0),
                        logprobs: true,
                        top_logprobs: Some(5),
                        ..Params::default()
                    })
            })
            .collect()
    }

    fn run(calls: &mut [Call]) -> Vec<Finding> {
        calls.sort_by_key(|c| c.ts);
        let mut a = Distillation::new(&Settings::default().theft.distillation, 100);
        crate::analyzer::feed::observed(&mut a, calls)
    }

    /// Three ordinary users for 48 hours, 20 calls an hour each.
    fn background() -> Vec<Call> {
        let mut calls = Vec::new();
        for u in 0..3 {
            for h in 0..48 {
                for i in 0..20 {
                    calls.push(
                        Call::test(&format!("user-{u}"), h * HOUR + i * 170_000 + u)
                            .with_prompt(&format!("Question {i} of hour {h}"))
                            .with_tokens(100, 100),
                    );
                }
            }
        }
        calls
    }

    #[test]
    fn harvesting_alerts_against_its_baseline_and_against_peers() {
        // Warm: a day at 20 an hour, then 1,000 in an hour.
        let mut calls = background();
        for h in 0..24 {
            calls.extend(harvester("key-d1", h * HOUR, 20, 150_000));
        }
        calls.extend(harvester("key-d1", 30 * HOUR, 1000, 3_600));
        let f = run(&mut calls);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].summary
                .contains("its median of 20 over 24 active buckets"),
            "{}",
            f[0].summary
        );
        assert_eq!(f[0].evidence["calls"], json!(200));
        assert_eq!(
            f[0].timestamp,
            30 * HOUR + 199 * 3_600,
            "its 200th call of the hour"
        );
        // New and slow: 250 an hour on a new key, against the peers.
        let mut calls = background();
        calls.extend(harvester("key-new", 10 * HOUR, 250 * 5, HOUR / 250));
        let f = run(&mut calls);
        // Five hours of harvesting: one alert.
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].evidence["volume"]["against"], json!("peers"));
        assert_eq!(
            f[0].timestamp,
            10 * HOUR + 199 * (HOUR / 250),
            "its 200th call"
        );
        assert_eq!(f[0].evidence["calls"], json!(200));
    }

    #[test]
    fn slow_harvesting_alerts_at_the_daily_scale() {
        // One call every 2.5 minutes for a day, no peers: judged at 300 calls a day.
        let mut calls = harvester("key-slow", 0, 576, 150_000);
        let f = run(&mut calls);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].evidence["bucket"]["size"], json!("1d"));
        assert_eq!(f[0].evidence["volume"]["against"], json!("min_calls"));
        assert_eq!(f[0].timestamp, 299 * 150_000, "its 300th call");
    }

    #[test]
    fn batch_jobs_chat_users_and_evaluations_do_not() {
        let mut calls = background();
        calls.extend(ticket_batch("batch", 0, 48 * 3000, 1_200));
        calls.extend(chat_user("alice", 0, 1500));
        for night in 0..2 {
            calls.extend(eval_suite("eval", night * 24 * HOUR + 2 * HOUR));
        }
        let f = run(&mut calls);
        assert!(f.is_empty(), "{f:?}");
    }
}
