//! # Model extraction through the API - distributed across accounts
//!
//! ## What it detects
//! Logit extraction (MW-TH-0001's probes: tiny completions with log probabilities at their
//! maximum or large logit biases) spread over several principals that share infrastructure,
//! so that each stays below MW-TH-0001's thresholds while together they cross them. Within a
//! window (MW-TH-0001's `window`, 24 hours, aligned to UTC), principals that sent probes are
//! linked when they share
//! - an address range (the /24 of an IPv4 address, the /48 of an IPv6 one), or
//! - a client and a request shape: the user agent's family and major version, with the same
//!   `max_tokens`, `logprobs`, `top_logprobs`, `temperature` and use of `logit_bias`, or
//! - a prompt template (first three words, digits left out) and a request shape;
//!
//! and the linked principals form a cluster. The alert is raised when a cluster of at least
//! `cluster_min_members` (2) principals crosses MW-TH-0001's sweep thresholds together
//! (`min_calls` probes, `min_distinct_tokens` distinct biased token ids, at most
//! `max_repeat_share` repeats) while none of its members crosses them alone. Once per cluster
//! per window; the evidence lists the principals, their probes and what links them. The
//! score is the smallest ratio of a combined statistic to its threshold.
//!
//! ## Why it matters
//! Per-key thresholds and rate limits invite the obvious evasion: split the extraction over
//! many keys or accounts (trial accounts, stolen keys, one key per worker). What the workers
//! share — the network they run in, their client, the exact request parameters of the attack,
//! the prompt they probe with — gives them away.
//!
//! ## Example
//! Five keys created for a trial each send 40 probes from `203.0.113.0/24` with
//! `python-requests/2.31` and `max_tokens: 1, top_logprobs: 20` and biases of +100 on new
//! token ids: "5 principals sharing address range 203.0.113.0/24, client python-requests/2
//! with shape max_tokens=1 logprobs top_logprobs=20 logit_bias sent 100 logit probes together
//! since 2025-03-01T00:00:00Z biasing 800 distinct token ids (each alone at most 20 probes):
//! distributed vocabulary sweep".
//!
//! ## False positives
//! Several keys of one evaluation team behind one NAT address that all read logprobs with a
//! `logit_bias` sweep on purpose (calibration research). Evaluation jobs without large biases,
//! and applications banning a fixed set of tokens, do not alert.
//!
//! ## Response
//! Treat as one extraction (PB-53 "Model extraction via API"): block or rate-limit every
//! member, block the shared address range, and look for the accounts' common owner (billing,
//! sign-up details, key creation times).
//!
//! ## References
//! - Carlini et al., Stealing Part of a Production Language Model, ICML 2024: https://arxiv.org/abs/2403.06634
//! - MITRE ATLAS AML.T0024 Exfiltration via AI Inference API: https://atlas.mitre.org/techniques/AML.T0024

use std::collections::{BTreeMap, HashMap, HashSet};

use modelward_rule::Severity;
use serde_json::{json, Map};

use super::theft::{biased, finding, is_probe, MODEL_EXTRACTION_API};
use super::{iso, round2};
use crate::features::{ip_range, user_agent_family};
use crate::finding::{keep_sample, Sample};
use crate::{Analyzer, Call, Code, Finding, LogitSettings};

pub const CODE: Code = Code {
    code: "MW-TH-0005",
    name: "Model extraction through the API - distributed across accounts",
    defender: None,
    severity: Severity::High,
    tactics: &["Exfiltration"],
    atlas: ("AML.T0024", "Exfiltration via AI Inference API"),
    doc: include_str!("distributed_extraction.rs"),
};

/// Principals listed in the evidence.
const LISTED: usize = 20;
/// Links (shared attributes) listed in the evidence.
const LINKS: usize = 10;

/// One principal's probes in the window.
#[derive(Debug, Clone, Default)]
pub struct Member {
    pub name: String,
    pub probes: u64,
    pub biased_total: u64,
    pub distinct: HashSet<u32>,
    /// Union-find parent (index into the members).
    pub parent: usize,
    pub fired: bool,
}

/// A cluster's combined figures, kept at its root.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    pub members: usize,
    pub probes: u64,
    pub biased_total: u64,
    pub distinct: HashSet<u32>,
    pub links: Vec<String>,
    pub samples: Vec<Sample>,
    pub fired: bool,
}

pub struct DistributedExtraction {
    settings: LogitSettings,
    min_members: usize,
    max_principals: usize,
    window: i64,
    members: Vec<Member>,
    index: HashMap<Box<str>, usize>,
    clusters: HashMap<usize, Cluster>,
    /// Attribute → the first member that had it.
    keys: HashMap<String, usize>,
    evicted: u64,
}

impl DistributedExtraction {
    pub fn new(
        settings: &LogitSettings,
        min_members: usize,
        max_principals: usize,
    ) -> DistributedExtraction {
        DistributedExtraction {
            settings: settings.clone(),
            min_members: min_members.max(2),
            max_principals: max_principals.max(1),
            window: i64::MIN,
            members: Vec::new(),
            index: HashMap::new(),
            clusters: HashMap::new(),
            keys: HashMap::new(),
            evicted: 0,
        }
    }

    fn root(&mut self, mut i: usize) -> usize {
        while self.members[i].parent != i {
            let grand = self.members[self.members[i].parent].parent;
            self.members[i].parent = grand;
            i = grand;
        }
        i
    }

    fn cap(&self) -> usize {
        (self.settings.min_distinct_tokens as usize)
            .saturating_mul(4)
            .clamp(64, 65_536)
    }

    fn union(&mut self, a: usize, b: usize, link: &str) {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra == rb {
            return;
        }
        let (big, small) = match (self.clusters.get(&ra), self.clusters.get(&rb)) {
            (Some(x), Some(y)) if x.members < y.members => (rb, ra),
            _ => (ra, rb),
        };
        self.members[small].parent = big;
        let cap = self.cap();
        if let Some(s) = self.clusters.remove(&small) {
            let c = self.clusters.entry(big).or_default();
            c.members += s.members;
            c.probes += s.probes;
            c.biased_total += s.biased_total;
            for t in s.distinct {
                if c.distinct.len() < cap {
                    c.distinct.insert(t);
                }
            }
            c.fired |= s.fired;
            for l in s.links.into_iter().chain(std::iter::once(link.to_string())) {
                if c.links.len() < LINKS && !c.links.contains(&l) {
                    c.links.push(l);
                }
            }
            for sample in s.samples {
                if c.samples.len() < crate::finding::SAMPLES {
                    c.samples.push(sample);
                }
            }
        }
    }
}

fn shape(call: &Call) -> String {
    let p = &call.params;
    let mut s = format!(
        "max_tokens={}",
        p.max_tokens.map_or("unset".into(), |m| m.to_string())
    );
    if p.logprobs {
        s.push_str(" logprobs");
    }
    if let Some(t) = p.top_logprobs {
        s.push_str(&format!(" top_logprobs={t}"));
    }
    if let Some(t) = p.temperature {
        s.push_str(&format!(" temperature={t}"));
    }
    if p.bias_entries > 0 {
        s.push_str(" logit_bias");
    }
    s
}

fn crosses(s: &LogitSettings, probes: u64, distinct: u64, total: u64) -> bool {
    let repeats = if total > 0 {
        1.0 - distinct as f64 / total as f64
    } else {
        1.0
    };
    probes >= s.min_calls && distinct >= s.min_distinct_tokens && repeats <= s.max_repeat_share
}

impl Analyzer for DistributedExtraction {
    fn code(&self) -> &'static str {
        CODE.code
    }

    fn observe(&mut self, call: &Call, out: &mut Vec<Finding>) {
        if !is_probe(&self.settings, call) {
            return;
        }
        let window = call
            .ts
            .div_euclid(self.settings.window.0)
            .saturating_mul(self.settings.window.0);
        if window != self.window {
            self.window = window;
            self.members.clear();
            self.index.clear();
            self.clusters.clear();
            self.keys.clear();
        }
        let i = match self.index.get(&*call.principal) {
            Some(i) => *i,
            None => {
                if self.members.len() >= self.max_principals {
                    self.evicted += 1;
                    return;
                }
                let i = self.members.len();
                self.members.push(Member {
                    name: call.principal.to_string(),
                    parent: i,
                    ..Member::default()
                });
                self.index.insert(call.principal.clone(), i);
                self.clusters.insert(
                    i,
                    Cluster {
                        members: 1,
                        ..Cluster::default()
                    },
                );
                i
            }
        };
        let cap = self.cap();
        let ids: Vec<u32> = biased(&self.settings, call).collect();
        {
            let m = &mut self.members[i];
            m.probes += 1;
            for t in &ids {
                m.biased_total += 1;
                if m.distinct.len() < cap {
                    m.distinct.insert(*t);
                }
            }
        }
        let r = self.root(i);
        if let Some(c) = self.clusters.get_mut(&r) {
            c.probes += 1;
            for t in &ids {
                c.biased_total += 1;
                if c.distinct.len() < cap {
                    c.distinct.insert(*t);
                }
            }
            keep_sample(&mut c.samples, call);
        }
        let shape = shape(call);
        let mut attributes = Vec::new();
        if let Some(range) = call.ip.as_deref().and_then(ip_range) {
            attributes.push(format!("address range {range}"));
        }
        if let Some(ua) = call.user_agent.as_deref().and_then(user_agent_family) {
            attributes.push(format!("client {ua} with shape {shape}"));
        }
        if let Some(t) = call.text.as_deref() {
            attributes.push(format!(
                "prompt template {:016x} with shape {shape}",
                t.template
            ));
        }
        for a in attributes {
            match self.keys.get(&a) {
                Some(j) => {
                    let j = *j;
                    self.union(i, j, &a);
                }
                None => {
                    if self.keys.len() < self.max_principals.saturating_mul(3) {
                        self.keys.insert(a, i);
                    }
                }
            }
        }
        let r = self.root(i);
        let s = self.settings.clone();
        let s = &s;
        let Some(c) = self.clusters.get(&r) else {
            return;
        };
        if c.fired
            || c.members < self.min_members
            || !crosses(s, c.probes, c.distinct.len() as u64, c.biased_total)
        {
            return;
        }
        // The members, and whether any crosses alone (then MW-TH-0001 reports it).
        let mut members: BTreeMap<String, u64> = BTreeMap::new();
        let mut alone = false;
        for k in 0..self.members.len() {
            if self.root(k) == r {
                let m = &self.members[k];
                alone |= crosses(s, m.probes, m.distinct.len() as u64, m.biased_total);
                members.insert(m.name.clone(), m.probes);
            }
        }
        let Some(c) = self.clusters.get_mut(&r) else {
            return;
        };
        c.fired = true;
        if alone {
            return;
        }
        let distinct = c.distinct.len() as u64;
        let repeats = 1.0 - distinct as f64 / c.biased_total.max(1) as f64;
        let most = members.values().copied().max().unwrap_or(0);
        let score = (c.probes as f64 / s.min_calls as f64)
            .min(distinct as f64 / s.min_distinct_tokens.max(1) as f64);
        let mut e = Map::new();
        e.insert("variant".into(), json!("distributed_vocabulary_sweep"));
        e.insert(
            "principals".into(),
            json!(members
                .iter()
                .take(LISTED)
                .map(|(k, v)| json!({"principal": k, "probe_calls": v}))
                .collect::<Vec<_>>()),
        );
        e.insert("members".into(), json!(members.len()));
        e.insert("shared".into(), json!(c.links));
        e.insert("probe_calls".into(), json!(c.probes));
        e.insert("distinct_biased_tokens".into(), json!(distinct));
        e.insert("repeat_share".into(), json!(round2(repeats)));
        e.insert("max_member_probe_calls".into(), json!(most));
        e.insert("thresholds".into(), json!({"window": s.window.to_string(), "min_calls": s.min_calls, "min_distinct_tokens": s.min_distinct_tokens, "max_repeat_share": s.max_repeat_share, "min_members": self.min_members}));
        let names: Vec<&str> = members.keys().map(String::as_str).collect();
        let summary = format!(
            "{} principals ({}) sharing {} sent {} logit probes together since {} biasing {} distinct token ids (each alone at most {} probes): distributed vocabulary sweep",
            members.len(), names.iter().take(5).copied().collect::<Vec<_>>().join(", "), c.links.join("; "), c.probes, iso(self.window), distinct, most
        );
        let principal = names.first().copied().unwrap_or("");
        let key = format!("cluster@{}:{}", self.window, names.join(","));
        out.push(finding(
            CODE.code,
            principal,
            call,
            key,
            summary,
            self.window,
            MODEL_EXTRACTION_API,
            score,
            e,
            c.samples.clone(),
        ));
    }

    fn finish(&mut self, _out: &mut Vec<Finding>) {}

    fn evicted(&self) -> u64 {
        self.evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Params, Settings};

    fn run(calls: &[Call]) -> Vec<Finding> {
        let s = Settings::default();
        let mut a = DistributedExtraction::new(&s.theft.logit, s.theft.cluster_min_members, 1000);
        let mut out = Vec::new();
        for c in calls {
            a.observe(c, &mut out);
        }
        out
    }

    fn probe(key: &str, ts: i64, ip: &str, ua: &str, ids: Vec<u32>, bias: f32) -> Call {
        Call::test(key, ts)
            .with_ip(ip)
            .with_user_agent(ua)
            .with_prompt("Say nothing.")
            .with_params(Params {
                max_tokens: Some(1),
                logprobs: true,
                top_logprobs: Some(20),
                bias_entries: ids.len() as u16,
                bias_max: bias.abs(),
                bias: ids.into_iter().map(|t| (t, bias)).collect(),
                ..Params::default()
            })
    }

    /// `keys` keys taking turns, each call biasing eight new token ids.
    fn spread(keys: usize, n: usize, every: i64, ip: impl Fn(usize) -> String) -> Vec<Call> {
        (0..n)
            .map(|i| {
                let k = i % keys;
                let ids = (0..8).map(|j| (i * 8 + j) as u32).collect();
                probe(
                    &format!("trial-{k}"),
                    i as i64 * every,
                    &ip(k),
                    "python-requests/2.31.0",
                    ids,
                    100.0,
                )
            })
            .collect()
    }

    #[test]
    fn a_sweep_split_over_five_keys_alerts_fast_and_slow() {
        for every in [1_000, 60_000] {
            let f = run(&spread(5, 400, every, |k| format!("203.0.113.{}", 10 + k)));
            assert_eq!(f.len(), 1, "{f:?}");
            assert_eq!(f[0].evidence["members"], json!(5));
            assert_eq!(f[0].evidence["probe_calls"], json!(100));
            assert_eq!(
                f[0].timestamp,
                99 * every,
                "at the 100th probe of the cluster"
            );
            assert_eq!(f[0].evidence["max_member_probe_calls"], json!(20));
            assert!(
                f[0].summary.contains("address range 203.0.113.0/24"),
                "{}",
                f[0].summary
            );
        }
        // Different networks, same client and request shape.
        let f = run(&spread(5, 400, 1_000, |k| format!("198.51.{k}.7")));
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].summary.contains("client python-requests/2 with shape max_tokens=1 logprobs top_logprobs=20 logit_bias"), "{}", f[0].summary);
    }

    #[test]
    fn single_sweeps_unrelated_keys_and_fixed_bans_do_not() {
        // One key alone crossing is MW-TH-0001's, not a cluster's, even when another key of
        // its network joins later.
        assert!(run(&spread(1, 400, 1_000, |_| "203.0.113.5".into())).is_empty());
        let mut calls = spread(1, 400, 1_000, |_| "203.0.113.5".into());
        calls.extend(
            spread(1, 10, 1_000, |_| "203.0.113.6".into())
                .into_iter()
                .map(|mut c| {
                    c.principal = "helper".into();
                    c.ts += 200_000;
                    c
                }),
        );
        calls.sort_by_key(|c| c.ts);
        assert!(run(&calls).is_empty());
        // Five keys on five networks with five clients: not linked.
        let calls: Vec<Call> = (0..400)
            .map(|i| {
                let k = i % 5;
                let ids = (0..8).map(|j| (i * 8 + j) as u32).collect();
                probe(
                    &format!("k{k}"),
                    i as i64 * 1_000,
                    &format!("10.{k}.0.1"),
                    &format!("client{k}/1.0"),
                    ids,
                    100.0,
                )
                .with_prompt(
                    [
                        "alpha one",
                        "bravo two",
                        "charlie three",
                        "delta four",
                        "echo five",
                    ][k],
                )
            })
            .collect();
        assert!(run(&calls).is_empty());
        // Five keys of one application banning the same tokens.
        let calls: Vec<Call> = (0..2000)
            .map(|i| {
                probe(
                    &format!("app-{}", i % 5),
                    i as i64 * 1_000,
                    "10.0.0.1",
                    "app/1.0",
                    vec![50256, 198],
                    -100.0,
                )
            })
            .collect();
        assert!(run(&calls).is_empty());
    }
}
