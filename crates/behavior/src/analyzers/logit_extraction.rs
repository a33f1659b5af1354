//! # Model extraction through the API - logit extraction
//!
//! ## What it detects
//! A principal extracting the model's logits through the API, as Carlini et al. (2024) and
//! Finlayson et al. (2024) do it. A *probe* is a call for at most `max_tokens` (2) tokens with
//! log probabilities of at least `min_top_logprobs` (5) top tokens or a logit bias of at least
//! `min_bias` (50) in magnitude. Two variants, each at most once per principal per `window`
//! (24 hours, starting at the first probe):
//! - *vocabulary sweep*: at least `min_calls` (100) probes whose large biases cover at least
//!   `min_distinct_tokens` (200) distinct token ids, at most `max_repeat_share` (20%) of the
//!   biased ids being repeats: the biases walk across the vocabulary;
//! - *bisection*: the same prompt again and again with the bias on one token changing by
//!   halving steps (each change half the previous one, ±15%): `min_halvings` (16) halving
//!   steps over the principal's (prompt, token) chains (at most `max_chains`, 64, tracked).
//!
//! The score is the smallest ratio of a statistic to its threshold (1 at the threshold).
//!
//! ## Why it matters
//! Logit extraction recovers the model's hidden dimension and its final projection layer
//! (Carlini et al. extracted OpenAI's ada and babbage projection matrices for under $20) and
//! leaks the architecture and size of a proprietary model; it is PB-53's "Model extraction
//! via API" vector. The calls are cheap and look harmless one by one: only the pattern across
//! calls shows.
//!
//! ## Example
//! The key `key-9c1d` sends calls with `max_tokens: 1`, `top_logprobs: 20` and a
//! `logit_bias` of +100 on eight token ids each, the ids moving through the vocabulary; at
//! the 100th: "key-9c1d sent 100 logit probes since 2025-03-03T00:00:00.000Z (max_tokens ≤
//! 2, top_logprobs up to 20, |bias| up to 100) biasing 800 distinct token ids, 0% repeats: a
//! vocabulary sweep", with the counts, the thresholds and sample records. Evidence: `pb53_vector:
//! model_extraction_api`, `score`.
//!
//! ## False positives
//! Classification and evaluation jobs that read `max_tokens: 1` with log probabilities do not
//! alert: without a large bias that sweeps token ids they are no sweep. Applications that ban
//! or force a fixed set of tokens with ±100 biases repeat the same ids and stay below the
//! distinct-id threshold. Research on calibration that biases many tokens on purpose does
//! alert: allow-list it by disabling the code for its key's runs.
//!
//! ## Response
//! Treat as PB-53 "Model extraction via API": rate-limit or block the principal at the
//! gateway, preserve the logs of the window, remove or cap `logit_bias` and `logprobs` for the
//! key (or for everyone: OpenAI restricted them after Carlini et al.), and check other keys of
//! the same owner, network and client for the same pattern (MW-TH-0005).
//!
//! ## References
//! - Carlini et al., Stealing Part of a Production Language Model, ICML 2024: https://arxiv.org/abs/2403.06634
//! - Finlayson, Ren, Swayamdipta, Logits of API-Protected LLMs Leak Proprietary Information, 2024: https://arxiv.org/abs/2403.09539
//! - MITRE ATLAS AML.T0024 Exfiltration via AI Inference API: https://atlas.mitre.org/techniques/AML.T0024
//! - OWASP Top 10 for LLM Applications, LLM10 Unbounded Consumption (model extraction): https://genai.owasp.org/llmrisk/llm102025-unbounded-consumption/

use std::collections::HashSet;

use modelward_rule::Severity;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use super::theft::{biased, finding, is_probe, MODEL_EXTRACTION_API};
use super::{iso, round2};
use crate::finding::{keep_sample, Sample};
use crate::ProfileStore;
use crate::{Analyzer, Call, Code, Finding, LogitSettings, Profiles};

pub const CODE: Code = Code {
    code: "MW-TH-0001",
    name: "Model extraction through the API - logit extraction",
    defender: None,
    severity: Severity::High,
    tactics: &["Exfiltration"],
    atlas: ("AML.T0024", "Exfiltration via AI Inference API"),
    doc: include_str!("logit_extraction.rs"),
};

/// The registry's constructor (`analyzers/mod.rs`): the analyzer, from
/// `[behavior.logit_extraction]` and `max_principals`.
pub fn build(s: &crate::Settings) -> Box<dyn Analyzer> {
    Box::new(LogitExtraction::new(&s.theft.logit, s.max_principals))
}

/// One token's bias on one prompt, call after call.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Chain {
    pub prompt: u64,
    pub token: u32,
    pub bias: f32,
    pub step: f32,
    pub last: i64,
    pub halvings: u32,
}

/// A principal's probes in the current window.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Profile {
    pub start: i64,
    pub probes: u64,
    pub biased_total: u64,
    pub distinct: HashSet<u32>,
    pub top_logprobs: u8,
    pub bias_max: f32,
    pub chains: Vec<Chain>,
    pub halvings: u64,
    pub fired_sweep: bool,
    pub fired_bisection: bool,
    pub samples: Vec<Sample>,
}

pub struct LogitExtraction {
    settings: LogitSettings,
    profiles: Profiles<Profile>,
}

impl LogitExtraction {
    pub fn new(settings: &LogitSettings, max_principals: usize) -> LogitExtraction {
        LogitExtraction {
            settings: settings.clone(),
            profiles: Profiles::new(max_principals),
        }
    }
}

/// Whether `step` is half of `previous` (±15%).
fn halves(previous: f32, step: f32) -> bool {
    previous > 0.0 && step > 0.0 && (step - previous / 2.0).abs() <= 0.15 * previous / 2.0
}

fn bisect(s: &LogitSettings, p: &mut Profile, call: &Call) {
    let Some(prompt) = call.prompt_hash else {
        return;
    };
    for (token, bias) in call.params.bias.iter() {
        match p
            .chains
            .iter_mut()
            .find(|c| c.prompt == prompt && c.token == *token)
        {
            Some(c) => {
                let step = (bias - c.bias).abs();
                if halves(c.step, step) {
                    c.halvings += 1;
                    p.halvings += 1;
                }
                if step > 0.0 {
                    c.step = step;
                }
                c.bias = *bias;
                c.last = call.ts;
            }
            None => {
                if p.chains.len() >= s.max_chains {
                    if let Some((i, _)) = p.chains.iter().enumerate().min_by_key(|(_, c)| c.last) {
                        p.chains.swap_remove(i);
                    }
                }
                p.chains.push(Chain {
                    prompt,
                    token: *token,
                    bias: *bias,
                    step: 0.0,
                    last: call.ts,
                    halvings: 0,
                });
            }
        }
    }
}

impl Analyzer for LogitExtraction {
    fn code(&self) -> &'static str {
        CODE.code
    }

    fn observe(&mut self, call: &Call, out: &mut Vec<Finding>) {
        let s = &self.settings;
        if !is_probe(s, call) && call.params.bias_entries == 0 {
            return;
        }
        let p = self
            .profiles
            .touch(&call.principal, call.ts, &mut |_, _| {});
        if p.probes == 0 && p.chains.is_empty() || call.ts.saturating_sub(p.start) > s.window.0 {
            *p = Profile {
                start: call.ts,
                ..Profile::default()
            };
        }
        bisect(s, p, call);
        if is_probe(s, call) {
            p.probes += 1;
            p.top_logprobs = p.top_logprobs.max(call.params.top_logprobs.unwrap_or(0));
            p.bias_max = p.bias_max.max(call.params.bias_max);
            let cap = (s.min_distinct_tokens as usize)
                .saturating_mul(4)
                .clamp(64, 65_536);
            for t in biased(s, call) {
                p.biased_total += 1;
                if p.distinct.len() < cap {
                    p.distinct.insert(t);
                }
            }
            keep_sample(&mut p.samples, call);
        }
        let distinct = p.distinct.len() as u64;
        let repeats = if p.biased_total > 0 {
            1.0 - distinct as f64 / p.biased_total as f64
        } else {
            1.0
        };
        if !p.fired_sweep
            && p.probes >= s.min_calls
            && distinct >= s.min_distinct_tokens
            && repeats <= s.max_repeat_share
        {
            p.fired_sweep = true;
            let score = (p.probes as f64 / s.min_calls as f64)
                .min(distinct as f64 / s.min_distinct_tokens.max(1) as f64);
            let mut e = Map::new();
            e.insert("variant".into(), json!("vocabulary_sweep"));
            e.insert("probe_calls".into(), json!(p.probes));
            e.insert("distinct_biased_tokens".into(), json!(distinct));
            e.insert("biased_token_uses".into(), json!(p.biased_total));
            e.insert("repeat_share".into(), json!(round2(repeats)));
            e.insert("max_top_logprobs".into(), json!(p.top_logprobs));
            e.insert("max_abs_bias".into(), json!(p.bias_max));
            e.insert(
                "thresholds".into(),
                json!({"window": s.window.to_string(), "max_tokens": s.max_tokens, "min_calls": s.min_calls, "min_distinct_tokens": s.min_distinct_tokens, "max_repeat_share": s.max_repeat_share, "min_bias": s.min_bias}),
            );
            let summary = format!(
                "{} sent {} logit probes since {} (max_tokens ≤ {}, top_logprobs up to {}, |bias| up to {}) biasing {} distinct token ids, {}% repeats: a vocabulary sweep",
                call.principal, p.probes, iso(p.start), s.max_tokens, p.top_logprobs, p.bias_max, distinct, round2(repeats * 100.0)
            );
            out.push(finding(
                CODE.code,
                &call.principal,
                call,
                format!("sweep@{}", p.start),
                summary,
                p.start,
                MODEL_EXTRACTION_API,
                score,
                e,
                p.samples.clone(),
            ));
        }
        if !p.fired_bisection && p.halvings >= s.min_halvings {
            p.fired_bisection = true;
            let longest = p.chains.iter().map(|c| c.halvings).max().unwrap_or(0);
            let chains = p.chains.iter().filter(|c| c.halvings > 0).count();
            let mut e = Map::new();
            e.insert("variant".into(), json!("bisection"));
            e.insert("halving_steps".into(), json!(p.halvings));
            e.insert("chains_with_halvings".into(), json!(chains));
            e.insert("longest_chain".into(), json!(longest));
            e.insert(
                "last_bias".into(),
                json!(call.params.bias.first().map(|b| b.1)),
            );
            e.insert(
                "threshold".into(),
                json!({"min_halvings": s.min_halvings, "window": s.window.to_string()}),
            );
            let summary = format!(
                "{} bisected logit biases: {} halving steps on {} (prompt, token) chains since {}, the longest {} steps",
                call.principal, p.halvings, chains, iso(p.start), longest
            );
            let score = p.halvings as f64 / s.min_halvings as f64;
            let mut samples = Vec::new();
            keep_sample(&mut samples, call);
            out.push(finding(
                CODE.code,
                &call.principal,
                call,
                format!("bisection@{}", p.start),
                summary,
                p.start,
                MODEL_EXTRACTION_API,
                score,
                e,
                samples,
            ));
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
mod tests {
    use super::*;
    use crate::{Params, Settings};

    const MINUTE: i64 = 60_000;

    fn run(calls: &[Call]) -> Vec<Finding> {
        crate::analyzer::feed::finished(
            &mut LogitExtraction::new(&Settings::default().theft.logit, 100),
            calls,
        )
    }

    fn probe(key: &str, ts: i64, tokens: &[u32], bias: f32) -> Call {
        Call::test(key, ts)
            .with_prompt("Say nothing.")
            .with_params(Params {
                max_tokens: Some(1),
                logprobs: true,
                top_logprobs: Some(20),
                bias_entries: tokens.len() as u16,
                bias_max: bias.abs(),
                bias: tokens.iter().map(|t| (*t, bias)).collect(),
                ..Params::default()
            })
    }

    /// Call `i` biases eight new token ids.
    fn sweep(key: &str, n: i64, every: i64) -> Vec<Call> {
        (0..n)
            .map(|i| {
                let ids: Vec<u32> = (0..8).map(|k| (i * 8 + k) as u32 * 7 % 100_000).collect();
                probe(key, i * every, &ids, 100.0)
            })
            .collect()
    }

    #[test]
    fn sweeps_fast_and_slow_alert_at_the_100th_probe() {
        for every in [1_000, MINUTE] {
            let f = run(&sweep("key-9c1d", 1440, every));
            assert_eq!(f.len(), 1, "{f:?}");
            assert_eq!(f[0].timestamp, 99 * every, "alerts at the 100th probe");
            assert_eq!(f[0].evidence["variant"], json!("vocabulary_sweep"));
            assert_eq!(f[0].evidence["pb53_vector"], json!("model_extraction_api"));
            assert!(
                f[0].summary.contains("800 distinct token ids"),
                "{}",
                f[0].summary
            );
            assert_eq!(f[0].evidence["score"], json!(1.0));
        }
    }

    #[test]
    fn bisection_alerts_fast_and_slow() {
        // Binary search of the bias that flips the argmax, token by token, on one prompt.
        for every in [2_000, 20 * MINUTE] {
            let mut calls = Vec::new();
            let mut ts = 0;
            for token in [11u32, 12, 13] {
                let (mut lo, mut hi) = (0.0f32, 100.0f32);
                for step in 0..8 {
                    let mid = (lo + hi) / 2.0;
                    calls.push(probe("key-b", ts, &[token], mid).with_params(Params {
                        max_tokens: Some(1),
                        bias_entries: 1,
                        bias_max: mid,
                        bias: vec![(token, mid)].into(),
                        ..Params::default()
                    }));
                    ts += every;
                    if step % 2 == 0 {
                        hi = mid
                    } else {
                        lo = mid
                    }
                }
            }
            let f = run(&calls);
            assert_eq!(f.len(), 1, "{f:?}");
            assert_eq!(f[0].evidence["variant"], json!("bisection"));
            assert_eq!(f[0].evidence["halving_steps"], json!(16));
            assert_eq!(f[0].timestamp, 21 * every, "the 22nd call");
        }
    }

    #[test]
    fn evaluations_and_fixed_biases_do_not() {
        // Multiple-choice scoring: max_tokens 1, top 5 logprobs, no bias, every night.
        let eval: Vec<Call> = (0..3000)
            .map(|i| {
                Call::test("eval", i * 1_000)
                    .with_prompt(&format!("Question {}", i % 500))
                    .with_params(Params {
                        max_tokens: Some(1),
                        logprobs: true,
                        top_logprobs: Some(5),
                        temperature: Some(0.0),
                        ..Params::default()
                    })
            })
            .collect();
        assert!(run(&eval).is_empty());
        // An application banning the same four tokens on every call.
        let banned: Vec<Call> = (0..2000)
            .map(|i| probe("app", i * 1_000, &[50256, 198, 628, 13], -100.0))
            .collect();
        assert!(run(&banned).is_empty());
        // A sweep too small to matter: 99 probes.
        assert!(run(&sweep("small", 99, 1_000)).is_empty());
    }
}
