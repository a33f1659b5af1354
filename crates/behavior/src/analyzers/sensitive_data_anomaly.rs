//! # Sensitive data anomaly in AI model responses
//!
//! ## What it detects
//! A principal whose responses carry sensitive data (the findings of MW-AI-0004: payment
//! cards, IBANs, national identifiers, ...) far more often than its own baseline: in one
//! time bucket (an hour by default), at least `min_sensitive` (5) responses with sensitive
//! data, and at least `ratio` (3) times what the principal's rate over its previous active
//! buckets (up to `baseline_buckets`, 24) predicts for the bucket's calls (never less than 3
//! responses). A principal needs `warmup_calls` (50) calls in its baseline before it may
//! alert. It reads what MW-AI-0004 finds, so it is silent when that detector is disabled.
//!
//! ## Why it matters
//! One response with a card number may be the application working as designed (a support
//! bot reading back an order); the same principal suddenly pulling many of them is what data
//! harvesting through a model looks like: a stolen key, a prompt injection that makes a
//! retrieval-augmented application dump its index, or an insider exporting records through
//! the assistant. Defender for Cloud's catalogue has a sensitive-data anomaly alert for this.
//!
//! ## Example
//! The key `key-7f3a` makes about 40 calls an hour with a sensitive response every other day;
//! between 14:00 and 15:00 it makes 60 calls and 41 responses carry card numbers or IBANs:
//! "41 of 60 responses carried sensitive data in the 1h bucket from 14:00, against a
//! baseline rate of 0.1% over 960 calls".
//!
//! ## False positives
//! A new feature that legitimately returns personal data (an account-lookup tool); a test
//! run over synthetic records that pass the validators. The per-event alert MW-AI-0004 shows
//! each response; this one only says the rate changed.
//!
//! ## Response
//! Review the sample responses (masked in the per-event MW-AI-0004 alerts of the same
//! principal and time), find which data source the model read them from, and whether the
//! principal's owner asked for them. If not, revoke the principal's access, restrict the
//! application's retrieval scope, and start the data-breach process for the records exposed.
//!
//! ## References
//! - Defender for Cloud's alert id `AI.Azure_SensitiveDataAnomaly` (preview) is named in
//!   third-party material but not on Microsoft's alert reference page as stored on
//!   2025-05-01 (https://learn.microsoft.com/en-us/azure/defender-for-cloud/alerts-ai-workloads),
//!   so its name, severity and tactics here are modelward's: Collection, as Microsoft lists for
//!   "Sensitive Data Exposure Detected in Azure AI Model Deployment"
//!   (`AI.Azure_DataLeakInModelResponse.Sensitive`), and medium, one step above that per-event
//!   alert's low.
//! - MITRE ATLAS AML.T0057 LLM Data Leakage: https://atlas.mitre.org/techniques/AML.T0057

use std::collections::VecDeque;

use modelward_rule::Severity;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use super::{iso, round2};
use crate::finding::{keep_sample, Sample};
use crate::window::{Bucket, BucketedBaseline, Crossed, Report};
use crate::ProfileStore;
use crate::{Analyzer, Call, Code, Finding, Profiles, SensitiveSettings, Span};

pub const CODE: Code = Code {
    code: "MW-AI-0015",
    name: "Sensitive data anomaly in AI model responses",
    defender: Some("AI.Azure_SensitiveDataAnomaly"),
    severity: Severity::Medium,
    tactics: &["Collection"],
    atlas: ("AML.T0057", "LLM Data Leakage"),
    doc: include_str!("sensitive_data_anomaly.rs"),
};

/// The registry's constructor (`analyzers/mod.rs`): the analyzer, from
/// `[behavior.sensitive_data_anomaly]` and `max_principals`.
pub fn build(s: &crate::Settings) -> Box<dyn Analyzer> {
    Box::new(SensitiveDataAnomaly::new(&s.sensitive, s.max_principals))
}

/// A past active bucket: calls and responses with sensitive data.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Closed {
    pub start: i64,
    pub calls: u64,
    pub sensitive: u64,
}

/// What the bucket being filled counts (saved beside its start, times, baseline and
/// crossing: [`crate::window::Open`]). Its baseline is the history's calls and sensitive
/// calls, once warm.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counts {
    pub calls: u64,
    /// Calls whose response had sensitive data.
    pub sensitive: u64,
    /// MW-AI-0004 findings in them.
    pub findings: u64,
    /// Calls with sensitive data.
    pub samples: Vec<Sample>,
    pub ip: Option<String>,
    pub model: Option<String>,
}

/// A principal's recent responses.
pub type Profile = BucketedBaseline<Counts>;

pub struct SensitiveDataAnomaly {
    settings: SensitiveSettings,
    profiles: Profiles<Profile>,
}

impl SensitiveDataAnomaly {
    pub fn new(settings: &SensitiveSettings, max_principals: usize) -> SensitiveDataAnomaly {
        SensitiveDataAnomaly {
            settings: settings.clone(),
            profiles: Profiles::new(max_principals),
        }
    }
}

impl Bucket for Counts {
    const CODE: &'static str = CODE.code;
    type Settings = SensitiveSettings;
    type Event = Call;
    type Closed = Closed;
    /// Calls and sensitive calls in the history.
    type Baseline = (u64, u64);

    fn width(s: &SensitiveSettings) -> Span {
        s.bucket
    }

    fn kept(s: &SensitiveSettings) -> usize {
        s.baseline_buckets
    }

    fn baseline(s: &SensitiveSettings, history: &VecDeque<Closed>) -> Option<(u64, u64)> {
        let calls: u64 = history.iter().map(|b| b.calls).sum();
        let sensitive: u64 = history.iter().map(|b| b.sensitive).sum();
        (calls >= s.warmup_calls).then_some((calls, sensitive))
    }

    fn add(&mut self, call: &Call) {
        self.calls += 1;
        if call.sensitive > 0 {
            self.sensitive += 1;
            self.findings += u64::from(call.sensitive);
            keep_sample(&mut self.samples, call);
            if let Some(ip) = &call.ip {
                self.ip = Some(ip.to_string());
            }
            if self.model.is_none() {
                self.model = call.model.as_deref().map(str::to_string);
            }
        }
    }

    /// At least `min_sensitive`, and `ratio` times what the baseline rate predicts for the
    /// bucket's calls (at least one).
    fn crosses(&self, s: &SensitiveSettings, base: &(u64, u64)) -> bool {
        let rate = base.1 as f64 / base.0.max(1) as f64;
        let expected = (rate * self.calls as f64).max(1.0);
        self.sensitive >= s.min_sensitive && self.sensitive as f64 >= s.ratio * expected
    }

    fn closed(&self, start: i64) -> Closed {
        Closed {
            start,
            calls: self.calls,
            sensitive: self.sensitive,
        }
    }

    fn report(self, s: &SensitiveSettings, principal: &str, c: &Crossed<(u64, u64)>) -> Report {
        let (base_calls, base_sensitive) = c.baseline;
        let rate = base_sensitive as f64 / base_calls.max(1) as f64;
        let mut evidence = Map::new();
        evidence.insert("calls".into(), json!(self.calls));
        evidence.insert(
            "responses_with_sensitive_data".into(),
            json!(self.sensitive),
        );
        evidence.insert("sensitive_data_findings".into(), json!(self.findings));
        evidence.insert("bucket".into(), c.bucket());
        evidence.insert(
            "baseline".into(),
            json!({
                "calls": base_calls,
                "responses_with_sensitive_data": base_sensitive,
                "rate": round2(rate * 100.0) / 100.0,
                "buckets": c.buckets,
            }),
        );
        Report {
            summary: format!(
                "{} of {} responses to {principal} carried sensitive data in the {} bucket from {}, against a baseline rate of {}% over {} calls",
                self.sensitive,
                self.calls,
                s.bucket,
                iso(c.start),
                round2(rate * 100.0),
                base_calls
            ),
            evidence,
            samples: self.samples,
            source_ip: self.ip,
            model: self.model,
        }
    }
}

impl Analyzer for SensitiveDataAnomaly {
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
            &mut SensitiveDataAnomaly::new(&Settings::default().sensitive, 100),
            calls,
        )
    }

    /// `hours` hours of 40 calls, one in `every` with sensitive data.
    fn usual(principal: &str, hours: i64, every: i64) -> Vec<Call> {
        (0..hours * 40)
            .map(|i| {
                let c = Call::test(principal, i * HOUR / 40);
                if every > 0 && i % every == 0 {
                    c.with_sensitive(1)
                } else {
                    c
                }
            })
            .collect()
    }

    #[test]
    fn harvesting_alerts_against_the_baseline() {
        let mut calls = usual("key-7f3a", 24, 1000);
        let t = 24 * HOUR;
        calls.extend((0..60).map(|i| {
            let c = Call::test("key-7f3a", t + i * 60_000);
            if i % 3 != 0 {
                c.with_sensitive(2)
            } else {
                c
            }
        }));
        let f = run(&calls);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].evidence["responses_with_sensitive_data"], json!(40));
        assert_eq!(f[0].evidence["sensitive_data_findings"], json!(80));
        assert!(
            f[0].summary.contains("40 of 60 responses"),
            "{}",
            f[0].summary
        );
    }

    #[test]
    fn a_steady_rate_and_the_warm_up_do_not() {
        // A support bot: one response in ten reads back an order with a card number.
        assert!(run(&usual("bot", 72, 10)).is_empty());
        // Sensitive from the first call: no baseline yet.
        let new: Vec<Call> = (0..30)
            .map(|i| Call::test("new", i * 1000).with_sensitive(1))
            .collect();
        assert!(run(&new).is_empty());
    }
}
