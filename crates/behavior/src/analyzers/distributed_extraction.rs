//! # Model extraction through the API - distributed across accounts
//!
//! ## What it detects
//! Extraction spread over several principals that share infrastructure, so that each stays
//! below the single-principal thresholds while together they cross them. Within a window of
//! 24 hours (MW-TH-0001's `window`, aligned to UTC), principals are linked when they share
//! - an address range (the /24 of an IPv4 address, the /48 of an IPv6 one), or
//! - a client and a request shape: the user agent's family and major version, with the same
//!   `max_tokens`, `logprobs`, `top_logprobs`, `temperature` and use of `logit_bias`, or
//! - a prompt template (first three words, digits left out) and a request shape;
//!
//! and linked principals form a cluster. Two kinds of clusters are kept:
//! - *logit sweep*: principals sending MW-TH-0001's probes (tiny completions with log
//!   probabilities at their maximum or large logit biases); the cluster alerts when its probes
//!   together cross MW-TH-0001's sweep thresholds (`min_calls` probes, `min_distinct_tokens`
//!   distinct biased token ids, at most `max_repeat_share` repeats);
//! - *harvest*: principals sending prompts; the cluster alerts when its calls together reach
//!   MW-TH-0002's daily `slow_min_calls` (300) with MW-TH-0002's shape: `min_breadth` new
//!   topics, at most `max_continuity` in conversations, and `min_expansion` output tokens per
//!   input token or `min_reasoning` requests for reasoning.
//!
//! Members that cross the thresholds alone are left out of the combined figures (MW-TH-0001
//! and MW-TH-0002 report them), and so are, for a harvest, members that do not have the
//! harvest shape themselves (after 10 calls): neighbours in a shared network do not dilute
//! it. The rest must number at least `cluster_min_members` (2). Once
//! per cluster and kind per window; the evidence lists the principals, their calls and what
//! links them. The score is the smallest ratio of a combined statistic to its threshold.
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
//! token ids: "5 principals (trial-0, trial-1, trial-2, trial-3, trial-4) sharing address range
//! 203.0.113.0/24 sent 100 logit probes together since 2025-03-03T00:00:00.000Z, biasing 800
//! distinct token ids (each alone at most 20): distributed vocabulary sweep".
//!
//! ## False positives
//! Several keys of one evaluation team behind one NAT address that all read logprobs with a
//! `logit_bias` sweep on purpose (calibration research); a team generating synthetic training
//! data from several keys of one network. Evaluation jobs without large biases, applications
//! banning a fixed set of tokens, and chat users of one office (they hold conversations) do
//! not alert.
//!
//! ## Response
//! Treat as one extraction (PB-53 "Model extraction via API"): block or rate-limit every
//! member, block the shared address range, and look for the accounts' common owner (billing,
//! sign-up details, key creation times).
//!
//! ## References
//! - Carlini et al., Stealing Part of a Production Language Model, ICML 2024: https://arxiv.org/abs/2403.06634
//! - Tramèr et al., Stealing Machine Learning Models via Prediction APIs, USENIX Security 2016: https://arxiv.org/abs/1609.02943
//! - MITRE ATLAS AML.T0024 Exfiltration via AI Inference API: https://atlas.mitre.org/techniques/AML.T0024

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use modelward_rule::Severity;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::theft::{biased, finding, is_probe, MODEL_EXTRACTION_API};
use super::{iso, round2};
use crate::features::{ip_range, user_agent_family};
use crate::finding::{keep_sample, Sample};
use crate::text::hamming;
use crate::{Analyzer, Call, Code, DistillationSettings, Finding, LogitSettings};

pub const CODE: Code = Code {
    code: "MW-TH-0005",
    name: "Model extraction through the API - distributed across accounts",
    defender: None,
    severity: Severity::High,
    tactics: &["Exfiltration"],
    atlas: ("AML.T0024", "Exfiltration via AI Inference API"),
    doc: include_str!("distributed_extraction.rs"),
};

/// The registry's constructor (`analyzers/mod.rs`): the analyzer, from
/// `[behavior.distributed_extraction]` (`min_members`), logit extraction's and distillation's
/// thresholds (which it applies to a cluster's combined calls) and `max_principals`.
pub fn build(s: &crate::Settings) -> Box<dyn Analyzer> {
    Box::new(DistributedExtraction::new(
        &s.theft.logit,
        &s.theft.distillation,
        s.theft.cluster_min_members,
        s.max_principals,
    ))
}

/// Principals listed in the evidence.
const LISTED: usize = 20;
/// Links (shared attributes) listed in the evidence.
const LINKS: usize = 10;
/// Topics remembered per member (harvest clusters).
const TOPICS: usize = 16;

/// What a member or a cluster did in the window.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Stats {
    pub calls: u64,
    pub biased_total: u64,
    pub distinct: HashSet<u32>,
    pub novel: u64,
    pub continuing: u64,
    pub reasoning: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
}

impl Stats {
    fn add(&mut self, other: &Stats, cap: usize) {
        self.calls += other.calls;
        self.biased_total += other.biased_total;
        self.novel += other.novel;
        self.continuing += other.continuing;
        self.reasoning += other.reasoning;
        self.tokens_in = self.tokens_in.saturating_add(other.tokens_in);
        self.tokens_out = self.tokens_out.saturating_add(other.tokens_out);
        for t in &other.distinct {
            if self.distinct.len() < cap {
                self.distinct.insert(*t);
            }
        }
    }
}

/// One harvest call's signals.
#[derive(Debug, Clone, Copy, Default)]
struct Contribution {
    novel: bool,
    continuing: bool,
    reasoning: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    pub stats: Stats,
    pub topics: VecDeque<u64>,
    /// Union-find parent (index into the members).
    pub parent: usize,
}

/// A cluster, kept at its root.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Cluster {
    pub members: usize,
    /// The members' indices.
    pub list: Vec<usize>,
    pub stats: Stats,
    pub links: Vec<String>,
    pub samples: Vec<Sample>,
    pub fired: bool,
    /// Calls at which the cluster is judged again after a check that failed.
    pub next_check: u64,
}

/// Which behaviour a set of clusters combines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Kind {
    Sweep,
    Harvest,
}

/// Principals linked by what they share, within one window.
#[derive(Debug, Serialize, Deserialize)]
struct Clusters {
    kind: Kind,
    members: Vec<Member>,
    index: HashMap<Box<str>, usize>,
    clusters: HashMap<usize, Cluster>,
    keys: HashMap<String, usize>,
}

impl Clusters {
    fn new(kind: Kind) -> Clusters {
        Clusters {
            kind,
            members: Vec::new(),
            index: HashMap::new(),
            clusters: HashMap::new(),
            keys: HashMap::new(),
        }
    }

    fn clear(&mut self) {
        self.members.clear();
        self.index.clear();
        self.clusters.clear();
        self.keys.clear();
    }

    fn root(&mut self, mut i: usize) -> usize {
        while self.members[i].parent != i {
            let grand = self.members[self.members[i].parent].parent;
            self.members[i].parent = grand;
            i = grand;
        }
        i
    }

    fn union(&mut self, a: usize, b: usize, link: &str, cap: usize) {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra == rb {
            return;
        }
        let (big, small) = match (self.clusters.get(&ra), self.clusters.get(&rb)) {
            (Some(x), Some(y)) if x.members < y.members => (rb, ra),
            _ => (ra, rb),
        };
        self.members[small].parent = big;
        if let Some(s) = self.clusters.remove(&small) {
            let c = self.clusters.entry(big).or_default();
            c.members += s.members;
            c.list.extend(s.list);
            c.stats.add(&s.stats, cap);
            c.fired |= s.fired;
            c.next_check = c.next_check.max(s.next_check);
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

    /// Adds a call of `principal`; returns the root of its cluster, `None` when full.
    fn add(
        &mut self,
        call: &Call,
        attributes: &[String],
        topic_bits: u32,
        max: usize,
        cap: usize,
    ) -> Option<usize> {
        let i = match self.index.get(&*call.principal) {
            Some(i) => *i,
            None => {
                if self.members.len() >= max {
                    return None;
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
                        list: vec![i],
                        ..Cluster::default()
                    },
                );
                i
            }
        };
        let mut one = Stats {
            calls: 1,
            tokens_in: call.tokens_in,
            tokens_out: call.tokens_out,
            ..Stats::default()
        };
        if self.kind == Kind::Harvest {
            let c = contribution(call, &mut self.members[i].topics, topic_bits);
            one.novel = u64::from(c.novel);
            one.continuing = u64::from(c.continuing);
            one.reasoning = u64::from(c.reasoning);
        }
        one.biased_total = call.params.bias.len() as u64;
        one.distinct = call.params.bias.iter().map(|b| b.0).collect();
        self.members[i].stats.add(&one, cap);
        let r = self.root(i);
        if let Some(c) = self.clusters.get_mut(&r) {
            c.stats.add(&one, cap);
            keep_sample(&mut c.samples, call);
        }
        for a in attributes {
            match self.keys.get(a) {
                Some(j) => {
                    let j = *j;
                    self.union(i, j, a, cap);
                }
                None => {
                    if self.keys.len() < max.saturating_mul(3) {
                        self.keys.insert(a.clone(), i);
                    }
                }
            }
        }
        Some(self.root(i))
    }
}

/// A harvest call's signals, against the member's own topics.
fn contribution(call: &Call, topics: &mut VecDeque<u64>, topic_bits: u32) -> Contribution {
    let mut c = Contribution::default();
    if let Some(t) = call.text.as_deref() {
        c.continuing = t.turns > 1;
        c.reasoning = t.reasoning;
        if topics.iter().all(|h| hamming(*h, t.simhash) > topic_bits) {
            c.novel = true;
            topics.push_back(t.simhash);
            if topics.len() > TOPICS {
                topics.pop_front();
            }
        }
    }
    c
}

pub struct DistributedExtraction {
    logit: LogitSettings,
    harvest: DistillationSettings,
    min_members: usize,
    max_principals: usize,
    window: i64,
    sweeps: Clusters,
    harvests: Clusters,
    evicted: u64,
}

impl DistributedExtraction {
    pub fn new(
        logit: &LogitSettings,
        harvest: &DistillationSettings,
        min_members: usize,
        max_principals: usize,
    ) -> DistributedExtraction {
        DistributedExtraction {
            logit: logit.clone(),
            harvest: harvest.clone(),
            min_members: min_members.max(2),
            max_principals: max_principals.max(1),
            window: i64::MIN,
            sweeps: Clusters::new(Kind::Sweep),
            harvests: Clusters::new(Kind::Harvest),
            evicted: 0,
        }
    }

    fn cap(&self) -> usize {
        (self.logit.min_distinct_tokens as usize)
            .saturating_mul(4)
            .clamp(64, 65_536)
    }

    fn judge(&mut self, kind: Kind, r: usize, call: &Call, out: &mut Vec<Finding>) {
        let cap = self.cap();
        let set = match kind {
            Kind::Sweep => &self.sweeps,
            Kind::Harvest => &self.harvests,
        };
        let Some(c) = set.clusters.get(&r) else {
            return;
        };
        let needed = match kind {
            Kind::Sweep => self.logit.min_calls,
            Kind::Harvest => self.harvest.slow_min_calls,
        };
        if c.fired || c.members < self.min_members || c.stats.calls < c.next_check.max(needed) {
            return;
        }
        // The members that do not cross alone (and, for a harvest, look like harvesters),
        // combined.
        let set = match kind {
            Kind::Sweep => &mut self.sweeps,
            Kind::Harvest => &mut self.harvests,
        };
        let mut rest = Stats::default();
        let mut listed: BTreeMap<String, u64> = BTreeMap::new();
        let members: Vec<usize> = set
            .clusters
            .get(&r)
            .map(|c| c.list.clone())
            .unwrap_or_default();
        let alone: Vec<bool> = members
            .iter()
            .map(|k| crosses(&self.logit, &self.harvest, kind, &set.members[*k].stats).is_some())
            .collect();
        for (k, a) in members.iter().zip(&alone) {
            if !a && eligible(&self.harvest, kind, &set.members[*k].stats) {
                rest.add(&set.members[*k].stats, cap);
                listed.insert(set.members[*k].name.clone(), set.members[*k].stats.calls);
            }
        }
        let score = if listed.len() >= self.min_members {
            crosses(&self.logit, &self.harvest, kind, &rest)
        } else {
            None
        };
        let set = match kind {
            Kind::Sweep => &mut self.sweeps,
            Kind::Harvest => &mut self.harvests,
        };
        let Some(c) = set.clusters.get_mut(&r) else {
            return;
        };
        let Some(score) = score else {
            c.next_check = c.stats.calls + (c.stats.calls / 10).max(1);
            return;
        };
        c.fired = true;
        let most = listed.values().copied().max().unwrap_or(0);
        let names: Vec<&str> = listed.keys().map(String::as_str).collect();
        let mut e = Map::new();
        let (variant, what) = match kind {
            Kind::Sweep => ("distributed_vocabulary_sweep", "logit probes"),
            Kind::Harvest => ("distributed_harvest", "calls"),
        };
        e.insert("variant".into(), json!(variant));
        e.insert(
            "principals".into(),
            Value::Array(
                listed
                    .iter()
                    .take(LISTED)
                    .map(|(k, v)| json!({"principal": k, "calls": v}))
                    .collect(),
            ),
        );
        e.insert("members".into(), json!(listed.len()));
        e.insert(
            "members_crossing_alone".into(),
            json!(alone.iter().filter(|a| **a).count()),
        );
        e.insert("shared".into(), json!(c.links));
        e.insert("calls".into(), json!(rest.calls));
        e.insert("max_member_calls".into(), json!(most));
        let n = rest.calls.max(1) as f64;
        let detail = match kind {
            Kind::Sweep => {
                let distinct = rest.distinct.len() as u64;
                let repeats = 1.0 - distinct as f64 / rest.biased_total.max(1) as f64;
                e.insert("distinct_biased_tokens".into(), json!(distinct));
                e.insert("repeat_share".into(), json!(round2(repeats)));
                e.insert("thresholds".into(), json!({"window": self.logit.window.to_string(), "min_calls": self.logit.min_calls, "min_distinct_tokens": self.logit.min_distinct_tokens, "max_repeat_share": self.logit.max_repeat_share, "min_members": self.min_members}));
                format!("biasing {distinct} distinct token ids")
            }
            Kind::Harvest => {
                let expansion = rest.tokens_out as f64 / rest.tokens_in.max(1) as f64;
                e.insert(
                    "new_topic_share".into(),
                    json!(round2(rest.novel as f64 / n)),
                );
                e.insert(
                    "conversation_share".into(),
                    json!(round2(rest.continuing as f64 / n)),
                );
                e.insert(
                    "reasoning_share".into(),
                    json!(round2(rest.reasoning as f64 / n)),
                );
                e.insert("output_per_input_token".into(), json!(round2(expansion)));
                e.insert("thresholds".into(), json!({"window": self.logit.window.to_string(), "slow_min_calls": self.harvest.slow_min_calls, "min_breadth": self.harvest.min_breadth, "max_continuity": self.harvest.max_continuity, "min_expansion": self.harvest.min_expansion, "min_reasoning": self.harvest.min_reasoning, "min_members": self.min_members}));
                format!(
                    "{}% new topics, {}% in conversations, {} output tokens per input token, {}% asking for reasoning",
                    round2(rest.novel as f64 / n * 100.0),
                    round2(rest.continuing as f64 / n * 100.0),
                    round2(expansion),
                    round2(rest.reasoning as f64 / n * 100.0)
                )
            }
        };
        let summary = format!(
            "{} principals ({}) sharing {} sent {} {what} together since {}, {detail} (each alone at most {most}): {}",
            listed.len(),
            names.iter().take(5).copied().collect::<Vec<_>>().join(", "),
            c.links.join("; "),
            rest.calls,
            iso(self.window),
            variant.replace('_', " ")
        );
        let principal = names.first().copied().unwrap_or("");
        let key = format!("{variant}@{}:{}", self.window, names.join(","));
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
}

/// Whether stats cross the single-principal thresholds of a kind, and the score.
fn crosses(
    logit: &LogitSettings,
    harvest: &DistillationSettings,
    kind: Kind,
    s: &Stats,
) -> Option<f64> {
    match kind {
        Kind::Sweep => {
            let l = logit;
            let distinct = s.distinct.len() as u64;
            let repeats = if s.biased_total > 0 {
                1.0 - distinct as f64 / s.biased_total as f64
            } else {
                1.0
            };
            (s.calls >= l.min_calls
                && distinct >= l.min_distinct_tokens
                && repeats <= l.max_repeat_share)
                .then(|| {
                    (s.calls as f64 / l.min_calls as f64)
                        .min(distinct as f64 / l.min_distinct_tokens.max(1) as f64)
                })
        }
        Kind::Harvest => (s.calls >= harvest.slow_min_calls && harvest_shape(harvest, s))
            .then(|| s.calls as f64 / harvest.slow_min_calls.max(1) as f64),
    }
}

/// Calls a member needs before its shares mean something.
const MIN_MEMBER_CALLS: u64 = 10;

/// MW-TH-0002's shape: breadth, no conversation, harvesting.
fn harvest_shape(d: &DistillationSettings, s: &Stats) -> bool {
    let n = s.calls.max(1) as f64;
    let expansion = if s.tokens_in > 0 {
        s.tokens_out as f64 / s.tokens_in as f64
    } else {
        0.0
    };
    s.novel as f64 / n >= d.min_breadth
        && s.continuing as f64 / n <= d.max_continuity
        && (expansion >= d.min_expansion || s.reasoning as f64 / n >= d.min_reasoning)
}

/// Whether a member's calls join its cluster's combined figures: every prober for a sweep;
/// for a harvest, members that look like harvesters themselves (so that benign neighbours
/// in a shared network do not dilute the shape).
fn eligible(harvest: &DistillationSettings, kind: Kind, s: &Stats) -> bool {
    match kind {
        Kind::Sweep => true,
        Kind::Harvest => s.calls >= MIN_MEMBER_CALLS && harvest_shape(harvest, s),
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

impl Analyzer for DistributedExtraction {
    fn code(&self) -> &'static str {
        CODE.code
    }

    fn observe(&mut self, call: &Call, out: &mut Vec<Finding>) {
        let probe = is_probe(&self.logit, call);
        if !probe && call.text.is_none() {
            return;
        }
        let window = call
            .ts
            .div_euclid(self.logit.window.0)
            .saturating_mul(self.logit.window.0);
        if window != self.window {
            self.window = window;
            self.sweeps.clear();
            self.harvests.clear();
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
        let cap = self.cap();
        let bits = self.harvest.topic_bits;
        let max = self.max_principals;
        if probe {
            // Only the large biases count towards a sweep.
            let mut c = call.clone();
            let ids: Vec<u32> = biased(&self.logit, call).collect();
            c.params.bias = ids.iter().map(|t| (*t, 0.0)).collect();
            match self.sweeps.add(&c, &attributes, bits, max, cap) {
                Some(r) => self.judge(Kind::Sweep, r, call, out),
                None => self.evicted += 1,
            }
        }
        if call.text.is_some() {
            let mut c = call.clone();
            c.params.bias = Box::new([]);
            match self.harvests.add(&c, &attributes, bits, max, cap) {
                Some(r) => self.judge(Kind::Harvest, r, call, out),
                None => self.evicted += 1,
            }
        }
    }

    fn finish(&mut self, _out: &mut Vec<Finding>) {}

    fn evicted(&self) -> u64 {
        self.evicted
    }

    fn cross_principal(&self) -> bool {
        true
    }

    fn save_shared(&self) -> Option<serde_json::Value> {
        serde_json::to_value((self.window, &self.sweeps, &self.harvests, self.evicted)).ok()
    }

    fn load_shared(&mut self, shared: serde_json::Value) -> bool {
        match serde_json::from_value::<(i64, Clusters, Clusters, u64)>(shared) {
            Ok((window, sweeps, harvests, evicted)) => {
                (self.window, self.sweeps, self.harvests, self.evicted) =
                    (window, sweeps, harvests, evicted);
                true
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Params, Settings};

    fn run(calls: &[Call]) -> Vec<Finding> {
        let s = Settings::default();
        let mut a = DistributedExtraction::new(
            &s.theft.logit,
            &s.theft.distillation,
            s.theft.cluster_min_members,
            1000,
        );
        crate::analyzer::feed::observed(&mut a, calls)
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
            assert_eq!(f[0].evidence["calls"], json!(100));
            assert_eq!(
                f[0].timestamp,
                99 * every,
                "at the 100th probe of the cluster"
            );
            assert_eq!(f[0].evidence["max_member_calls"], json!(20));
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

    #[test]
    fn a_harvest_split_over_fifteen_keys_alerts_and_offices_do_not() {
        use crate::analyzers::distillation::tests::{chat_user, harvester, ticket_batch};
        let mut calls = Vec::new();
        for k in 0..15 {
            calls.extend(
                harvester(&format!("h{k:02}"), k as i64 * 1_000, 40, 15 * 60_000)
                    .into_iter()
                    .enumerate()
                    .map(|(i, c)| {
                        // Each key its own questions.
                        let mut c = c.with_ip(&format!("198.51.100.{}", 100 + k));
                        c.ts += (i as i64 * 7 + k as i64 * 13) % 1000;
                        c
                    }),
            );
        }
        calls.sort_by_key(|c| c.ts);
        let f = run(&calls);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].evidence["variant"], json!("distributed_harvest"));
        assert_eq!(f[0].evidence["members"], json!(15));
        assert_eq!(f[0].evidence["calls"], json!(300));
        // Twelve chat users of one office, and three batch jobs of one team.
        let mut calls = Vec::new();
        for u in 0..12 {
            calls.extend(
                chat_user(&format!("u{u}"), u as i64, 60)
                    .into_iter()
                    .map(|c| c.with_ip("10.20.30.40")),
            );
        }
        for b in 0..3 {
            calls.extend(
                ticket_batch(&format!("b{b}"), b as i64, 500, 60_000)
                    .into_iter()
                    .map(|c| c.with_ip("10.20.31.1")),
            );
        }
        calls.sort_by_key(|c| c.ts);
        assert!(run(&calls).is_empty());
    }
}
