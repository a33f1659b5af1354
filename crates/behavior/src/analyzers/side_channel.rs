//! # Model extraction through the API - side-channel probing
//!
//! ## What it detects
//! A principal probing the serving stack rather than the model's answers:
//! - *prefix probes*: at least `min_variants` (30) prompts within `window` (24 hours, so that
//!   probes minutes apart are seen too) that share
//!   everything but their last 32 characters (the same prefix hash, different full prompts),
//!   on prompts of at least `min_chars` (1024) characters: the shape of prompt-cache timing
//!   attacks, which need a cacheable prefix (providers cache prefixes of 1,024 tokens and
//!   more) and vary what follows it;
//! - *timing probes*: one prompt sent at least `min_repeats` (20) times within the window with
//!   latency-sensitive parameters: temperature 0 or a fixed seed, and at most `max_tokens` (2)
//!   tokens, so that the only thing that varies is how long the call takes.
//!
//! Each alert carries the latency statistics of the calls (minimum, percentiles, mean,
//! standard deviation) where the log records durations, and its score: the count over its
//! threshold. At most one alert per principal and prefix or prompt per window.
//!
//! ## Why it matters
//! Timing and confidence side channels reveal what a proprietary deployment hides: whether
//! another user's prompt is in a shared prompt cache (Gu et al. 2024), the size and
//! architecture of the model, speculative decoding and batching behaviour. PB-53 classifies
//! this as "Side-channel extraction".
//!
//! ## Example
//! The key `key-5e2a` sends a 2,000-character document followed by 40 different short
//! endings, each with `max_tokens: 1`; at the 30th: "key-5e2a sent 30 prompts of 1024+
//! characters sharing one prefix with 30 different endings since 2025-03-03T00:00:00.000Z
//! (latency over 30 calls: median 450.0 ms, p10 80.0 ms, p90 450.0 ms): prefix probing",
//! `pb53_vector: side_channel`.
//!
//! ## False positives
//! Question answering over one long document (many questions about the same text, each asked
//! once): it has the prefix-probe shape; its calls usually ask for long answers and are spread
//! over time. Latency monitoring with a fixed prompt at temperature 0 has the timing-probe
//! shape: give it its own key and disable the code for it. A nightly evaluation suite sending
//! each prompt once per night does not alert.
//!
//! ## Response
//! Confirm who owns the principal and what the traffic is for. If it is not known: block or
//! rate-limit it, isolate the prompt cache per tenant (or disable cross-tenant caching), add
//! jitter to response times, and follow PB-53 "Side-channel extraction".
//!
//! ## References
//! - Gu et al., Auditing Prompt Caching in Language Model APIs, 2025: https://arxiv.org/abs/2502.07776
//! - Carlini et al., Stealing Part of a Production Language Model, ICML 2024: https://arxiv.org/abs/2403.06634
//! - MITRE ATLAS AML.T0040 AI Model Inference API Access: https://atlas.mitre.org/techniques/AML.T0040

use modelward_rule::Severity;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use super::iso;
use super::theft::{finding, latency_stats, SIDE_CHANNEL};
use crate::finding::{keep_sample, Sample};
use crate::ProfileStore;
use crate::{Analyzer, Call, Code, Finding, Profiles, SideChannelSettings};

pub const CODE: Code = Code {
    code: "MW-TH-0006",
    name: "Model extraction through the API - side-channel probing",
    defender: None,
    severity: Severity::Medium,
    tactics: &["Discovery", "Collection"],
    atlas: ("AML.T0040", "AI Model Inference API Access"),
    doc: include_str!("side_channel.rs"),
};

/// The registry's constructor (`analyzers/mod.rs`): the analyzer, from
/// `[behavior.side_channel]` and `max_principals`.
pub fn build(s: &crate::Settings) -> Box<dyn Analyzer> {
    Box::new(SideChannel::new(&s.theft.side_channel, s.max_principals))
}

/// Latencies kept per tracked prefix or prompt.
const LATENCIES: usize = 64;

/// One prefix (or one prompt) a principal sent within the window.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Track {
    pub key: u64,
    pub start: i64,
    pub last: i64,
    /// Full-prompt hashes (prefix probes) or the count (timing probes).
    pub endings: Vec<u64>,
    pub count: u64,
    pub latencies: Vec<f32>,
    pub fired: bool,
    pub samples: Vec<Sample>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Profile {
    pub prefixes: Vec<Track>,
    pub repeats: Vec<Track>,
}

pub struct SideChannel {
    settings: SideChannelSettings,
    profiles: Profiles<Profile>,
}

impl SideChannel {
    pub fn new(settings: &SideChannelSettings, max_principals: usize) -> SideChannel {
        SideChannel {
            settings: settings.clone(),
            profiles: Profiles::new(max_principals),
        }
    }
}

/// The track of `key`, restarted when its window is over; the least recently used one makes
/// room.
fn track<'a>(
    s: &SideChannelSettings,
    tracks: &'a mut Vec<Track>,
    key: u64,
    ts: i64,
) -> &'a mut Track {
    let i = match tracks.iter().position(|t| t.key == key) {
        Some(i) => i,
        None => {
            if tracks.len() >= s.max_prompts {
                if let Some((i, _)) = tracks.iter().enumerate().min_by_key(|(_, t)| t.last) {
                    tracks.swap_remove(i);
                }
            }
            tracks.push(Track {
                key,
                start: ts,
                ..Track::default()
            });
            tracks.len() - 1
        }
    };
    let t = &mut tracks[i];
    if ts.saturating_sub(t.start) > s.window.0 {
        *t = Track {
            key,
            start: ts,
            ..Track::default()
        };
    }
    t.last = ts;
    t.count += 1;
    t
}

impl Analyzer for SideChannel {
    fn code(&self) -> &'static str {
        CODE.code
    }

    fn observe(&mut self, call: &Call, out: &mut Vec<Finding>) {
        let s = &self.settings;
        let (Some(text), Some(full)) = (call.text.as_deref(), call.prompt_hash) else {
            return;
        };
        let prefix = text.prefix.filter(|_| text.len >= s.min_chars);
        let p_ = &call.params;
        let sensitive = p_.max_tokens.is_some_and(|m| m <= s.max_tokens)
            && (p_.temperature == Some(0.0) || p_.seed.is_some());
        if prefix.is_none() && !sensitive {
            return;
        }
        let p = self
            .profiles
            .touch(&call.principal, call.ts, &mut |_, _| {});
        if let Some(prefix) = prefix {
            let t = track(s, &mut p.prefixes, prefix, call.ts);
            if !t.endings.contains(&full) && t.endings.len() < s.min_variants as usize {
                t.endings.push(full);
            }
            if let Some(ms) = call.latency_ms {
                if t.latencies.len() < LATENCIES {
                    t.latencies.push(ms);
                }
            }
            keep_sample(&mut t.samples, call);
            let variants = t.endings.len() as u64;
            if !t.fired && variants >= s.min_variants {
                t.fired = true;
                let lat = latency_stats(&t.latencies);
                let mut e = Map::new();
                e.insert("variant".into(), json!("prefix_probes"));
                e.insert("prompts_with_prefix".into(), json!(t.count));
                e.insert("different_endings".into(), json!(variants));
                e.insert("prefix_fingerprint".into(), json!(format!("{prefix:016x}")));
                e.insert("prompt_chars".into(), json!(text.len));
                e.insert("latency".into(), lat.clone());
                e.insert("threshold".into(), json!({"min_variants": s.min_variants, "window": s.window.to_string(), "min_chars": s.min_chars}));
                let summary = format!(
                    "{} sent {} prompts of {}+ characters sharing one prefix with {} different endings since {}{}: prefix probing",
                    call.principal, t.count, s.min_chars, variants, iso(t.start), latency_text(&lat)
                );
                let score = variants as f64 / s.min_variants as f64;
                out.push(finding(
                    CODE.code,
                    &call.principal,
                    call,
                    format!("prefix:{prefix:016x}@{}", t.start),
                    summary,
                    t.start,
                    SIDE_CHANNEL,
                    score,
                    e,
                    t.samples.clone(),
                ));
            }
        }
        if sensitive {
            let t = track(s, &mut p.repeats, full, call.ts);
            if let Some(ms) = call.latency_ms {
                if t.latencies.len() < LATENCIES {
                    t.latencies.push(ms);
                }
            }
            keep_sample(&mut t.samples, call);
            if !t.fired && t.count >= s.min_repeats {
                t.fired = true;
                let lat = latency_stats(&t.latencies);
                let mut e = Map::new();
                e.insert("variant".into(), json!("timing_probes"));
                e.insert("identical_prompts".into(), json!(t.count));
                e.insert("prompt_fingerprint".into(), json!(format!("{full:016x}")));
                e.insert("temperature".into(), json!(p_.temperature));
                e.insert("seed".into(), json!(p_.seed));
                e.insert("max_tokens".into(), json!(p_.max_tokens));
                e.insert("latency".into(), lat.clone());
                e.insert("threshold".into(), json!({"min_repeats": s.min_repeats, "window": s.window.to_string(), "max_tokens": s.max_tokens}));
                let summary = format!(
                    "{} sent one prompt {} times since {} at temperature {} with max_tokens {}{}: timing probes",
                    call.principal, t.count, iso(t.start),
                    p_.temperature.map_or("unset".to_string(), |t| t.to_string()),
                    p_.max_tokens.unwrap_or(0), latency_text(&lat)
                );
                let score = t.count as f64 / s.min_repeats as f64;
                out.push(finding(
                    CODE.code,
                    &call.principal,
                    call,
                    format!("timing:{full:016x}@{}", t.start),
                    summary,
                    t.start,
                    SIDE_CHANNEL,
                    score,
                    e,
                    t.samples.clone(),
                ));
            }
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

fn latency_text(lat: &serde_json::Value) -> String {
    match (
        lat.get("median_ms"),
        lat.get("p10_ms"),
        lat.get("p90_ms"),
        lat.get("n"),
    ) {
        (Some(m), Some(a), Some(b), Some(n)) => {
            format!(" (latency over {n} calls: median {m} ms, p10 {a} ms, p90 {b} ms)")
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Params, Settings};

    fn run(calls: &[Call]) -> Vec<Finding> {
        crate::analyzer::feed::observed(
            &mut SideChannel::new(&Settings::default().theft.side_channel, 100),
            calls,
        )
    }

    fn tiny(temperature: f32) -> Params {
        Params {
            max_tokens: Some(1),
            temperature: Some(temperature),
            ..Params::default()
        }
    }

    #[test]
    fn prefix_probes_alert_fast_and_slow_with_latency() {
        let doc = "Confidential onboarding handbook. ".repeat(60);
        for every in [1_000, 100_000] {
            let calls: Vec<Call> = (0..40)
                .map(|i| {
                    Call::test("key-5e2a", i * every)
                        .with_prompt(&format!("{doc} Q{i:03}: is it cached?"))
                        .with_params(tiny(0.0))
                        .with_latency(if i % 2 == 0 { 95.0 } else { 410.0 })
                })
                .collect();
            let f = run(&calls);
            assert_eq!(f.len(), 1, "{f:?}");
            assert_eq!(f[0].timestamp, 29 * every, "the 30th variant");
            assert_eq!(f[0].evidence["pb53_vector"], json!("side_channel"));
            assert_eq!(f[0].evidence["latency"]["n"], json!(30));
            assert!(f[0].summary.contains("p10 95.0 ms"), "{}", f[0].summary);
        }
    }

    #[test]
    fn timing_probes_alert_fast_and_slow() {
        for every in [5_000, 30 * 60_000] {
            let calls: Vec<Call> = (0..25)
                .map(|i| {
                    Call::test("k", i * every)
                        .with_prompt("Hi")
                        .with_params(tiny(0.0))
                        .with_latency(100.0 + i as f32)
                })
                .collect();
            let f = run(&calls);
            assert_eq!(f.len(), 1, "{f:?}");
            assert_eq!(f[0].evidence["variant"], json!("timing_probes"));
            assert_eq!(f[0].timestamp, 19 * every, "the 20th repeat");
            assert_eq!(f[0].evidence["latency"]["min_ms"], json!(100.0));
        }
    }

    #[test]
    fn nightly_evaluations_conversations_and_short_templates_do_not() {
        let day = 86_400_000;
        let mut eval = Vec::new();
        for night in 0..7 {
            for q in 0..500 {
                eval.push(
                    Call::test("eval", night * day + q * 2_000)
                        .with_prompt(&format!(
                            "Evaluation item {q}: what is {q} times {}?",
                            q + 3
                        ))
                        .with_params(tiny(0.0)),
                );
            }
        }
        assert!(run(&eval).is_empty());
        // A long conversation: each prompt extends the previous one.
        let mut history: Vec<String> = Vec::new();
        let mut chat = Vec::new();
        for i in 0..60 {
            let h: Vec<&str> = history.iter().map(String::as_str).collect();
            chat.push(Call::test("alice", i * 30_000).with_chat(
                &h,
                &format!(
                    "And what about point {i} of the long report? {}",
                    "details ".repeat(150)
                ),
            ));
            history.push(format!("question {i}"));
            history.push(format!("answer {i}"));
        }
        assert!(run(&chat).is_empty());
        // Short classification prompts differing at the end are below min_chars.
        let cls: Vec<Call> = (0..500)
            .map(|i| {
                Call::test("cls", i * 1_000)
                    .with_prompt(&format!(
                        "Classify the sentiment of this review as positive or negative: review {i}"
                    ))
                    .with_params(tiny(0.0))
            })
            .collect();
        assert!(run(&cls).is_empty());
    }
}
