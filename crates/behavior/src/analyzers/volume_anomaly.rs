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

use super::{iso, median_mad, round2};
use crate::finding::{keep_sample, Sample};
use crate::ProfileStore;
use crate::{Analyzer, Call, Code, Finding, Profiles, VolumeSettings};

pub const CODE: Code = Code {
    code: "MW-AI-0013",
    name: "Suspected wallet attack - volume anomaly",
    defender: Some("AI.Azure_DOWVolumeAnomaly"),
    severity: Severity::Medium,
    tactics: &["Impact"],
    atlas: ("AML.T0034", "Cost Harvesting"),
    doc: include_str!("volume_anomaly.rs"),
};

/// A past active bucket.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Bucket {
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

/// The bucket being filled.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Current {
    pub start: i64,
    pub calls: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub first: i64,
    pub last: i64,
    pub baseline: Option<Baseline>,
    pub crossed: Option<i64>,
    pub samples: Vec<Sample>,
    pub ip: Option<String>,
    pub model: Option<String>,
}

/// A principal's recent volume.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Profile {
    pub history: VecDeque<Bucket>,
    pub current: Option<Current>,
}

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

fn baseline(s: &VolumeSettings, history: &VecDeque<Bucket>) -> Option<Baseline> {
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

/// Ends the current bucket: reports it if it crossed, and adds it to the history.
fn close(s: &VolumeSettings, principal: &str, p: &mut Profile, out: &mut Vec<Finding>) {
    let Some(c) = p.current.take() else {
        return;
    };
    let tokens = c.tokens_in.saturating_add(c.tokens_out);
    if let (Some(crossed), Some(b)) = (c.crossed, c.baseline) {
        let times = |x: f64, m: f64| if m > 0.0 { round2(x / m) } else { 0.0 };
        let call_ratio = times(c.calls as f64, b.median_calls);
        let token_ratio = times(tokens as f64, b.median_tokens);
        let by_tokens = b.token_threshold.is_some_and(|t| tokens >= t);
        let mut summary = format!(
            "{} calls in the {} bucket from {}, {}× its median of {} over the last {} active buckets",
            c.calls,
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
        evidence.insert("calls".into(), json!(c.calls));
        evidence.insert("tokens_in".into(), json!(c.tokens_in));
        evidence.insert("tokens_out".into(), json!(c.tokens_out));
        evidence.insert(
            "bucket".into(),
            json!({"start": iso(c.start), "end": iso(c.start.saturating_add(s.bucket.0)), "size": s.bucket.to_string()}),
        );
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
        out.push(Finding {
            code: CODE.code,
            principal: principal.to_string(),
            timestamp: crossed,
            key: c.start.to_string(),
            summary,
            first_seen: c.first,
            last_seen: c.last,
            evidence,
            samples: c.samples,
            source_ip: c.ip,
            model: c.model,
        });
    }
    p.history.push_back(Bucket {
        start: c.start,
        calls: c.calls,
        tokens,
    });
    while p.history.len() > s.baseline_buckets {
        p.history.pop_front();
    }
}

impl Analyzer for VolumeAnomaly {
    fn code(&self) -> &'static str {
        CODE.code
    }

    fn observe(&mut self, call: &Call, out: &mut Vec<Finding>) {
        if call.storage.is_some() {
            // An object-storage access, not an LLM call (MW-TH-0007 and MW-TH-0008 see it).
            return;
        }
        let s = &self.settings;
        let start = call.ts.div_euclid(s.bucket.0).saturating_mul(s.bucket.0);
        let p = self
            .profiles
            .touch(&call.principal, call.ts, &mut |k, mut p| {
                close(s, &k, &mut p, out);
            });
        if p.current.as_ref().is_some_and(|c| c.start != start) {
            close(s, &call.principal, p, out);
        }
        let history = &p.history;
        let c = p.current.get_or_insert_with(|| Current {
            start,
            first: call.ts,
            baseline: baseline(s, history),
            ..Current::default()
        });
        c.calls += 1;
        c.tokens_in = c.tokens_in.saturating_add(call.tokens_in);
        c.tokens_out = c.tokens_out.saturating_add(call.tokens_out);
        c.last = call.ts;
        if let Some(ip) = &call.ip {
            c.ip = Some(ip.to_string());
        }
        if c.model.is_none() {
            c.model = call.model.as_deref().map(str::to_string);
        }
        if let (None, Some(b)) = (c.crossed, c.baseline) {
            let tokens = c.tokens_in.saturating_add(c.tokens_out);
            if c.calls >= b.call_threshold || b.token_threshold.is_some_and(|t| tokens >= t) {
                c.crossed = Some(call.ts);
            }
        }
        if c.crossed.is_some() {
            keep_sample(&mut c.samples, call);
        }
    }

    fn finish(&mut self, out: &mut Vec<Finding>) {
        for (principal, mut p) in self.profiles.drain() {
            close(&self.settings, &principal, &mut p, out);
        }
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
