//! # Suspected wallet attack - volume anomaly
//!
//! ## What it detects
//! A principal whose calls or tokens in one time bucket (an hour by default) are far above
//! its own usage: at least `ratio` (5) times the median of its previous active buckets (up to
//! `baseline_buckets`, 24), more than `mad_factor` (6) scaled median absolute deviations above
//! that median, and at least `min_calls` (100) calls or `min_tokens` (200,000 tokens, input
//! and output) in the bucket. A principal needs `warmup_buckets` (6) active buckets before it
//! may alert, so a steady high-volume job never alerts on its own level. Buckets without calls
//! are not part of the baseline: a principal used only in office hours is compared with its
//! office hours.
//!
//! ## Why it matters
//! Denial of wallet and LLMjacking: a stolen key resold or used to run someone else's
//! workload shows as a step change in its volume, before the invoice does. Defender for Cloud
//! raises this alert when requests and responses are inconsistent with the resource's
//! historical usage.
//!
//! ## Example
//! The key `key-7f3a` makes 20 to 40 calls an hour for two days, then 2,400 calls between
//! 03:00 and 04:00: "2400 calls in the 1h bucket from 03:00, 80× its median of 30 over the
//! last 24 active buckets", with its tokens, the baseline's median and deviation, and
//! sample records.
//!
//! ## False positives
//! A launch, a backfill or a new batch job on an existing key; a team that moves its traffic
//! onto a shared key; a daily job whose burst is the principal's busiest hour by far (give
//! the job its own key). The baseline is the principal's own recent past, so a change of use
//! alerts once and becomes the norm once it fills half of the baseline.
//!
//! ## Response
//! Ask the principal's owner whether the volume is expected. If not, rotate the key, block the
//! client address at the gateway, set a rate or spend limit, and look at the prompts of the
//! sample records for what the volume was used for (extraction, resale, abuse).
//!
//! ## References
//! - Microsoft Defender for Cloud, Alerts for AI services: "Suspected wallet attack - volume anomaly" (`AI.Azure_DOWVolumeAnomaly`), Impact, Medium: https://learn.microsoft.com/en-us/azure/defender-for-cloud/alerts-ai-workloads
//! - MITRE ATLAS AML.T0034 Cost Harvesting: https://atlas.mitre.org/techniques/AML.T0034
//! - Sysdig, LLMjacking: https://sysdig.com/blog/llmjacking-stolen-cloud-credentials-used-in-new-ai-attack/

use std::collections::VecDeque;

use modelward_rule::Severity;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use super::{iso, median_mad, round2, times};
use crate::finding::{keep_sample, Sample};
use crate::window::{Bucket, BucketedBaseline, Crossed, Report};
use crate::ProfileStore;
use crate::{Analyzer, Call, Code, Finding, Profiles, Span, VolumeSettings};

pub const CODE: Code = Code {
    code: "MW-AI-0013",
    name: "Suspected wallet attack - volume anomaly",
    defender: Some("AI.Azure_DOWVolumeAnomaly"),
    severity: Severity::Medium,
    tactics: &["Impact"],
    atlas: ("AML.T0034", "Cost Harvesting"),
    doc: include_str!("volume_anomaly.rs"),
};

/// The registry's constructor (`analyzers/mod.rs`): the analyzer, from
/// `[behavior.volume_anomaly]` and `max_principals`.
pub fn build(s: &crate::Settings) -> Box<dyn Analyzer> {
    Box::new(VolumeAnomaly::new(&s.volume, s.max_principals))
}

/// A past active bucket.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Closed {
    pub start: i64,
    pub calls: u64,
    pub tokens: u64,
}

/// The baseline a bucket is judged against, fixed when the bucket opens.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Baseline {
    pub buckets: usize,
    pub median_calls: f64,
    pub mad_calls: f64,
    pub median_tokens: f64,
    pub mad_tokens: f64,
    pub call_threshold: u64,
    /// `None` when the baseline has no tokens (the log does not record them).
    pub token_threshold: Option<u64>,
}

/// What the bucket being filled counts (saved beside its start, times, baseline and
/// crossing: [`crate::window::Open`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counts {
    pub calls: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    /// Calls from the one that crossed on.
    pub samples: Vec<Sample>,
    pub ip: Option<String>,
    pub model: Option<String>,
}

/// A principal's recent volume.
pub type Profile = BucketedBaseline<Counts>;

pub struct VolumeAnomaly {
    settings: VolumeSettings,
    profiles: Profiles<Profile>,
}

impl VolumeAnomaly {
    pub fn new(settings: &VolumeSettings, max_principals: usize) -> VolumeAnomaly {
        VolumeAnomaly {
            settings: settings.clone(),
            profiles: Profiles::new(max_principals),
        }
    }
}

fn threshold(s: &VolumeSettings, median: f64, mad: f64, floor: u64) -> u64 {
    let by_ratio = (s.ratio * median).ceil();
    let by_mad = (median + s.mad_factor * 1.4826 * mad).floor() + 1.0;
    let t = by_ratio.max(by_mad).max(floor as f64);
    if t >= u64::MAX as f64 {
        u64::MAX
    } else {
        t as u64
    }
}

impl Counts {
    fn tokens(&self) -> u64 {
        self.tokens_in.saturating_add(self.tokens_out)
    }
}

impl Bucket for Counts {
    const CODE: &'static str = CODE.code;
    type Settings = VolumeSettings;
    type Event = Call;
    type Closed = Closed;
    type Baseline = Baseline;

    fn width(s: &VolumeSettings) -> Span {
        s.bucket
    }

    fn kept(s: &VolumeSettings) -> usize {
        s.baseline_buckets
    }

    fn baseline(s: &VolumeSettings, history: &VecDeque<Closed>) -> Option<Baseline> {
        if history.len() < s.warmup_buckets.max(1) {
            return None;
        }
        let calls: Vec<f64> = history.iter().map(|b| b.calls as f64).collect();
        let tokens: Vec<f64> = history.iter().map(|b| b.tokens as f64).collect();
        let (median_calls, mad_calls) = median_mad(&calls);
        let (median_tokens, mad_tokens) = median_mad(&tokens);
        Some(Baseline {
            buckets: history.len(),
            median_calls,
            mad_calls,
            median_tokens,
            mad_tokens,
            call_threshold: threshold(s, median_calls, mad_calls, s.min_calls),
            token_threshold: (median_tokens > 0.0)
                .then(|| threshold(s, median_tokens, mad_tokens, s.min_tokens)),
        })
    }

    fn add(&mut self, call: &Call) {
        self.calls += 1;
        self.tokens_in = self.tokens_in.saturating_add(call.tokens_in);
        self.tokens_out = self.tokens_out.saturating_add(call.tokens_out);
        if let Some(ip) = &call.ip {
            self.ip = Some(ip.to_string());
        }
        if self.model.is_none() {
            self.model = call.model.as_deref().map(str::to_string);
        }
    }

    fn crosses(&self, _: &VolumeSettings, b: &Baseline) -> bool {
        self.calls >= b.call_threshold || b.token_threshold.is_some_and(|t| self.tokens() >= t)
    }

    fn add_crossed(&mut self, call: &Call) {
        keep_sample(&mut self.samples, call);
    }

    fn closed(&self, start: i64) -> Closed {
        Closed {
            start,
            calls: self.calls,
            tokens: self.tokens(),
        }
    }

    fn report(self, s: &VolumeSettings, _: &str, c: &Crossed<Baseline>) -> Report {
        let b = &c.baseline;
        let tokens = self.tokens();
        let call_ratio = times(self.calls as f64, b.median_calls);
        let token_ratio = times(tokens as f64, b.median_tokens);
        let by_tokens = b.token_threshold.is_some_and(|t| tokens >= t);
        let mut summary = format!(
            "{} calls in the {} bucket from {}, {}× its median of {} over the last {} active buckets",
            self.calls,
            s.bucket,
            iso(c.start),
            call_ratio,
            round2(b.median_calls),
            b.buckets
        );
        if by_tokens {
            summary.push_str(&format!(
                "; {tokens} tokens, {token_ratio}× its median of {}",
                round2(b.median_tokens)
            ));
        }
        let mut evidence = Map::new();
        evidence.insert("calls".into(), json!(self.calls));
        evidence.insert("tokens_in".into(), json!(self.tokens_in));
        evidence.insert("tokens_out".into(), json!(self.tokens_out));
        evidence.insert("bucket".into(), c.bucket());
        evidence.insert(
            "baseline".into(),
            json!({
                "buckets": b.buckets,
                "median_calls": round2(b.median_calls),
                "mad_calls": round2(b.mad_calls),
                "median_tokens": round2(b.median_tokens),
                "mad_tokens": round2(b.mad_tokens),
                "call_threshold": b.call_threshold,
                "token_threshold": b.token_threshold,
            }),
        );
        evidence.insert("calls_vs_median".into(), json!(call_ratio));
        evidence.insert("tokens_vs_median".into(), json!(token_ratio));
        Report {
            summary,
            evidence,
            samples: self.samples,
            source_ip: self.ip,
            model: self.model,
        }
    }
}

impl Analyzer for VolumeAnomaly {
    fn code(&self) -> &'static str {
        CODE.code
    }

    fn observe(&mut self, call: &Call, out: &mut Vec<Finding>) {
        if !call.is_llm() {
            // An object-storage access, not an LLM call (MW-TH-0007 and MW-TH-0008 see it).
            return;
        }
        let s = &self.settings;
        self.profiles
            .touch_reporting(&call.principal, call.ts, s, out)
            .observe(s, &call.principal, call.ts, call, out);
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
            &mut VolumeAnomaly::new(&Settings::default().volume, 100),
            calls,
        )
    }

    /// `per_hour[h]` calls spread over hour `h`.
    fn traffic(principal: &str, per_hour: &[u64]) -> Vec<Call> {
        let mut calls = Vec::new();
        for (h, n) in per_hour.iter().enumerate() {
            for i in 0..*n {
                let ts = h as i64 * HOUR + (i as i64 * HOUR) / (*n as i64);
                calls.push(Call::test(principal, ts).with_tokens(300, 200));
            }
        }
        calls
    }

    #[test]
    fn a_step_change_alerts_with_its_baseline() {
        let mut hours: Vec<u64> = (0..48).map(|h| 20 + (h * 7) % 21).collect();
        hours.push(2400);
        let f = run(&traffic("key-7f3a", &hours));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].evidence["calls"], json!(2400));
        assert!(
            f[0].summary.contains("2400 calls in the 1h bucket"),
            "{}",
            f[0].summary
        );
        assert!(f[0].summary.contains("over the last 24 active buckets"));
        assert_eq!(f[0].key, (48 * HOUR).to_string());
        assert!(f[0].timestamp >= 48 * HOUR);
    }

    #[test]
    fn steady_users_and_batch_jobs_do_not() {
        // Office hours only: nights are not part of the baseline.
        let mut office = Vec::new();
        for day in 0..5 {
            for h in 0..24 {
                office.push(if (9..17).contains(&h) {
                    40 + day * 3
                } else {
                    0
                });
            }
        }
        assert!(run(&traffic("alice", &office)).is_empty());
        // A batch job at 5,000 calls an hour from its first hour.
        let batch: Vec<u64> = (0..72).map(|h| 5000 + (h % 5) * 100).collect();
        assert!(run(&traffic("batch", &batch)).is_empty());
        // Growth by half is no anomaly; nor is a jump below the absolute minimum.
        let mut small: Vec<u64> = vec![5; 30];
        small.push(60);
        assert!(run(&traffic("small", &small)).is_empty());
        // No alert during warm-up, however high.
        assert!(run(&traffic("new", &[3, 3, 3, 3000])).is_empty());
    }

    #[test]
    fn tokens_alone_can_alert() {
        let mut calls = traffic("k", &[50; 30]);
        let t = 30 * HOUR;
        calls.extend((0..50).map(|i| Call::test("k", t + i * 1000).with_tokens(20_000, 10_000)));
        let f = run(&calls);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].summary.contains("tokens"), "{}", f[0].summary);
    }
}
