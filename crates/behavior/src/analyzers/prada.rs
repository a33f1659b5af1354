//! # Model extraction through the API - PRADA distance test
//!
//! ## What it detects
//! A principal whose stream of queries is not shaped like natural use, by the PRADA test
//! (Juuti et al. 2019): for each new query, its minimum distance to the principal's earlier
//! queries (cosine distance between hashed character 3-gram vectors of 256 dimensions; the
//! earlier queries are a reservoir sample of `reservoir`, 256, vectors; distances are recorded
//! from the 33rd query on, as the minimum distance to a handful of queries is larger than to
//! many); a query is compared with the earlier queries of its context only (system prompt,
//! model and answer-shaping parameters, as PRADA compares a query with the earlier queries of
//! its class), and its distance is recorded once 32 of them are in the reservoir; the latest
//! `max_queries` (1000) of these distances are tested for normality with Shapiro–Wilk
//! (Royston's algorithm AS R94) every `test_every` (25) queries once there are `min_queries`
//! (100). The alert is raised when W falls below `delta` (0.90, in the range Juuti et al.
//! used; in the tests the benign batch job's W stays at 0.98 or more, the nightly evaluation's
//! at 0.99, the seed-and-variation attack's is 0.52): "W = 0.71 over 412 queries,
//! p = 3.1e-25". Exact repeats of a query seen before are left out (a nightly evaluation that
//! repeats its prompts is no new information), and so are the turns of conversations (a
//! prompt with earlier turns is a follow-up, not a probe). At most one alert per principal per `window`
//! (24 hours). The score is δ / W.
//!
//! ## Why it matters
//! Extraction attacks that synthesize queries (perturbations of seed samples, as in
//! Papernot's and Tramèr's attacks and their text counterparts) produce a distance
//! distribution with a mass of tiny distances beside the seeds' large ones: far from the
//! roughly normal distances of natural queries. PRADA caught every such attack it was
//! evaluated on, with no false positives on natural data, after some hundred queries.
//!
//! ## Example
//! The key `key-3f8b` sends 300 queries: 50 seed questions, each followed by five variations
//! with one word changed. After 133 queries: "W = 0.52 over 100 queries (p = 1.4e-16), below
//! δ = 0.9: the distances between its queries are not those of natural use", with the
//! distances' mean, median and quartiles. `pb53_vector: model_extraction_api`.
//!
//! ## False positives
//! Templated traffic whose items differ by a word or two (a form filled with a name or a
//! city; items assembled from a few stock phrases: a batch built from 8 × 8 phrases reached
//! W = 0.72 in an early version of the tests) has the shape of seeds and variations; test
//! suites of paraphrases too. Numbers do not count (digits are left out of the vectors), so
//! prompts that differ only by an id are one query. Natural chat (its follow-ups are left out)
//! and batch jobs whose items carry their own text pass the test.
//!
//! ## Response
//! Read the sample records for seed-and-variation queries. Rate-limit or block the principal,
//! and follow PB-53 "Model extraction via API"; check MW-TH-0004 (near-duplicate floods) for
//! the same principal.
//!
//! ## References
//! - Juuti, Szyller, Marchal, Asokan, PRADA: Protecting against DNN Model Stealing Attacks, IEEE EuroS&P 2019: https://arxiv.org/abs/1805.02628
//! - Royston, Remark AS R94: A Remark on Algorithm AS 181: The W-test for Normality, Applied Statistics 44 (1995) 547–551
//! - MITRE ATLAS AML.T0024 Exfiltration via AI Inference API: https://atlas.mitre.org/techniques/AML.T0024

use std::collections::{HashSet, VecDeque};

use modelward_event::hash::fnv1a_extend;
use modelward_rule::Severity;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use super::theft::{finding, MODEL_EXTRACTION_API};
use super::{iso, round2};
use crate::finding::{keep_sample, Sample};
use crate::stats::shapiro_wilk;
use crate::text::{distance_with, norm};
use crate::ProfileStore;
use crate::{Analyzer, Call, Code, Finding, PradaSettings, Profiles};

pub const CODE: Code = Code {
    code: "MW-TH-0003",
    name: "Model extraction through the API - PRADA distance test",
    defender: None,
    severity: Severity::Medium,
    tactics: &["Exfiltration"],
    atlas: ("AML.T0024", "Exfiltration via AI Inference API"),
    doc: include_str!("prada.rs"),
};

/// The registry's constructor (`analyzers/mod.rs`): the analyzer, from
/// `[behavior.prada]` and `max_principals`.
pub fn build(s: &crate::Settings) -> Box<dyn Analyzer> {
    Box::new(Prada::new(&s.theft.prada, s.max_principals))
}

/// Earlier queries needed before distances are recorded: the minimum distance to a handful
/// of queries is larger than to many, so the first ones would skew the distribution.
const BURN_IN: usize = 32;

/// Prompt fingerprints remembered per principal to leave out exact repeats.
const SEEN: usize = 1024;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Profile {
    /// Earlier query vectors with their norms.
    pub reservoir: Vec<(Box<[u8]>, f64)>,
    /// The context of each reservoir query ([`Call::context`]), in step with it; 0 is
    /// unknown (profiles saved before contexts were kept) and compares with any.
    #[serde(default)]
    pub contexts: Vec<u64>,
    /// Queries offered to the reservoir.
    pub offered: u64,
    pub rng: u64,
    pub distances: VecDeque<f64>,
    pub since_test: usize,
    pub seen: HashSet<u64>,
    pub seen_order: VecDeque<u64>,
    pub first: i64,
    pub fired_until: i64,
    pub samples: Vec<Sample>,
}

pub struct Prada {
    settings: PradaSettings,
    profiles: Profiles<Profile>,
}

impl Prada {
    pub fn new(settings: &PradaSettings, max_principals: usize) -> Prada {
        Prada {
            settings: settings.clone(),
            profiles: Profiles::new(max_principals),
        }
    }
}

fn xorshift(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

impl Analyzer for Prada {
    fn code(&self) -> &'static str {
        CODE.code
    }

    fn observe(&mut self, call: &Call, out: &mut Vec<Finding>) {
        let s = &self.settings;
        let (Some(text), Some(hash)) = (call.text.as_deref(), call.prompt_hash) else {
            return;
        };
        let p = self
            .profiles
            .touch(&call.principal, call.ts, &mut |_, _| {});
        if p.offered == 0 {
            p.first = call.ts;
            p.rng = fnv1a_extend(0x9e37_79b9_7f4a_7c15, call.principal.as_bytes()) | 1;
        }
        if text.turns > 1 || !p.seen.insert(hash) {
            return;
        }
        p.seen_order.push_back(hash);
        if p.seen_order.len() > SEEN {
            if let Some(old) = p.seen_order.pop_front() {
                p.seen.remove(&old);
            }
        }
        p.contexts.resize(p.reservoir.len(), 0);
        let context = call.context();
        let comparable = p
            .contexts
            .iter()
            .filter(|c| **c == context || **c == 0)
            .count();
        if comparable >= BURN_IN.min(s.reservoir) {
            let nq = norm(&text.vector);
            let d = p
                .reservoir
                .iter()
                .zip(&p.contexts)
                .filter(|(_, c)| **c == context || **c == 0)
                .map(|((v, nv), _)| distance_with(&text.vector, nq, v, *nv))
                .fold(1.0, f64::min);
            if d <= 0.0 {
                // The same query again (in other words of a chat, or after the seen set
                // forgot it): no new information.
                return;
            }
            p.distances.push_back(d);
            if p.distances.len() > s.max_queries {
                p.distances.pop_front();
            }
            p.since_test += 1;
        }
        // Reservoir sampling (Algorithm R) of the earlier queries.
        p.offered += 1;
        if p.reservoir.len() < s.reservoir {
            p.reservoir.push((text.vector.clone(), norm(&text.vector)));
            p.contexts.push(context);
        } else {
            let j = xorshift(&mut p.rng) % p.offered;
            if let Some(slot) = p.reservoir.get_mut(j as usize) {
                *slot = (text.vector.clone(), norm(&text.vector));
                p.contexts[j as usize] = context;
            }
        }
        keep_sample(&mut p.samples, call);
        if p.distances.len() < s.min_queries
            || p.since_test < s.test_every
            || call.ts < p.fired_until
        {
            return;
        }
        p.since_test = 0;
        let values: Vec<f64> = p.distances.iter().copied().collect();
        let Some(sw) = shapiro_wilk(&values) else {
            return;
        };
        if sw.w >= s.delta {
            return;
        }
        p.fired_until = call.ts.saturating_add(s.window.0);
        let mut sorted = values.clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let q = |f: f64| round2(sorted[((sorted.len() - 1) as f64 * f).round() as usize]);
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let mut e = Map::new();
        e.insert(
            "shapiro_wilk".into(),
            json!({"w": (sw.w * 10_000.0).round() / 10_000.0, "p": sw.p, "n": sw.n}),
        );
        e.insert("distances".into(), json!({"mean": round2(mean), "min": q(0.0), "q1": q(0.25), "median": q(0.5), "q3": q(0.75), "max": q(1.0)}));
        e.insert("queries".into(), json!(p.offered));
        e.insert(
            "threshold".into(),
            json!({"delta": s.delta, "min_queries": s.min_queries}),
        );
        let summary = format!(
            "{}: W = {:.2} over {} queries (p = {:.2e}), below δ = {}: the distances between its queries since {} are not those of natural use",
            call.principal, sw.w, sw.n, sw.p, s.delta, iso(p.first)
        );
        let score = s.delta / sw.w.max(1e-9);
        out.push(finding(
            CODE.code,
            &call.principal,
            call,
            format!("prada@{}", call.ts),
            summary,
            p.first,
            MODEL_EXTRACTION_API,
            score,
            e,
            std::mem::take(&mut p.samples),
        ));
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
    use crate::analyzers::query_flood::tests::perturbations;
    use crate::Settings;

    fn run(calls: &[Call]) -> Vec<Finding> {
        crate::analyzer::feed::observed(
            &mut Prada::new(&Settings::default().theft.prada, 100),
            calls,
        )
    }

    #[test]
    fn synthetic_queries_fail_the_test() {
        for every in [1_000, 300_000] {
            let calls: Vec<Call> = perturbations(400)
                .iter()
                .enumerate()
                .map(|(i, p)| Call::test("key-3f8b", i as i64 * every).with_prompt(p))
                .collect();
            let f = run(&calls);
            assert_eq!(f.len(), 1, "{f:?}");
            let w = f[0].evidence["shapiro_wilk"]["w"].as_f64().unwrap();
            assert!(w < 0.9, "{w}");
            eprintln!(
                "PRADA every {every} ms: alert at call {}: {}",
                f[0].timestamp / every + 1,
                f[0].summary
            );
        }
    }

    #[test]
    fn natural_traffic_and_repeats_pass() {
        let calls = crate::analyzers::distillation::tests::chat_user("alice", 0, 600);
        let f = run(&calls);
        assert!(f.is_empty(), "{f:?}");
        let batch = crate::analyzers::distillation::tests::ticket_batch("batch", 0, 3000, 1_000);
        let f = run(&batch);
        assert!(f.is_empty(), "{f:?}");
        // The same 500 prompts every night.
        let mut eval = Vec::new();
        for night in 0..5 {
            eval.extend(crate::analyzers::distillation::tests::eval_suite(
                "eval",
                night * 86_400_000,
            ));
        }
        let f = run(&eval);
        assert!(f.is_empty(), "{f:?}");
        // Prompts that differ only by a number are one query.
        let ids: Vec<Call> = (0..500)
            .map(|i| Call::test("ids", i * 1_000).with_prompt(&format!("Order status {i}?")))
            .collect();
        assert!(run(&ids).is_empty());
    }
}
