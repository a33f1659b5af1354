//! # Model extraction through the API - near-duplicate query flood
//!
//! ## What it detects
//! A flood of near-duplicate queries from one principal, detected as Blacklight (Li et al.
//! 2022) does: each query is reduced to fingerprints, the hashes of its overlapping windows
//! of four words, of which the 20 smallest are kept; a query *matches* when it shares at
//! least `match_marks` (10) fingerprints with one of the principal's last `history` (500)
//! queries sent in the same context (system prompt, model and answer-shaping parameters:
//! a prober varies the query and keeps the rest fixed), exact repeats left out (they are
//! MW-AI-0012's). A query of more than 32 words must also end like that earlier query:
//! the windows of its last 16 words (where a templated or few-shot prompt puts its item)
//! share at least half of their fingerprints with the earlier query's, so that a long
//! constant template does not make every query of a job a near-duplicate of the last.
//! The alert is raised when at least
//! `min_matches` (50) queries within `window` (24 hours, so that a flood at one query every
//! few minutes is seen too) match and they are at least
//! `min_share` (50%) of the window's queries (at most the latest 2,000); at most once per
//! principal per window. The
//! score is the matches over `min_matches`.
//!
//! ## Why it matters
//! Query-based extraction and evasion search alike send many small variations of a few
//! queries: perturbations to map the model's decision boundary, paraphrases to harvest the
//! same answer from several angles, one word changed to find what the guardrails let through.
//! Blacklight showed that such floods stand out by how many near-duplicates they contain,
//! whatever the search strategy.
//!
//! ## Example
//! The key `key-3f8b` sends seed questions each followed by five variations with one word
//! changed; at its 60th query: "key-3f8b sent 50 near-duplicate queries (≥ 10 of 20
//! fingerprints shared with an earlier query) of 60 within 1d from
//! 2025-03-03T00:00:00.000Z", `pb53_vector: model_extraction_api`.
//!
//! ## False positives
//! Templated batch jobs do not match when each item brings its own text and the instructions
//! are in the system prompt (the query is the user's message); a job whose items differ by a
//! word or two does (for example product descriptions filled from a catalogue). A job that
//! puts a long instruction or few-shot examples in every user message and its item at the
//! end stays quiet when its items are of their own (their last 16 words differ: an item of
//! six words or more); one whose item is shorter, or sits before a long constant ending,
//! is compared on the template and matches. An application key whose users' messages share
//! stock sentences is compared per feature (system prompt and parameters), not across them. Users retrying a prompt with small edits
//! stay far below 50 near-duplicates making half of their day's queries.
//!
//! ## Response
//! Look at the sample records: variations of one question aimed at the model's boundaries
//! (extraction, jailbreak search). Rate-limit or block the principal and follow PB-53 "Model
//! extraction via API".
//!
//! ## References
//! - Li et al., Blacklight: Scalable Defense for Neural Networks against Query-Based Black-Box Attacks, USENIX Security 2022: https://arxiv.org/abs/2006.14042
//! - MITRE ATLAS AML.T0040 AI Model Inference API Access: https://atlas.mitre.org/techniques/AML.T0040

use std::collections::VecDeque;

use modelward_rule::Severity;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use super::iso;
use super::theft::{finding, MODEL_EXTRACTION_API};
use crate::finding::{keep_sample, Sample};
use crate::text::{MARKS, TAIL_WORDS, WINDOW};
use crate::ProfileStore;
use crate::{Analyzer, Call, Code, Finding, FloodSettings, Profiles};

pub const CODE: Code = Code {
    code: "MW-TH-0004",
    name: "Model extraction through the API - near-duplicate query flood",
    defender: None,
    severity: Severity::Medium,
    tactics: &["Exfiltration"],
    atlas: ("AML.T0040", "AI Model Inference API Access"),
    doc: include_str!("query_flood.rs"),
};

/// The registry's constructor (`analyzers/mod.rs`): the analyzer, from
/// `[behavior.query_flood]` and `max_principals`.
pub fn build(s: &crate::Settings) -> Box<dyn Analyzer> {
    Box::new(QueryFlood::new(&s.theft.flood, s.max_principals))
}

/// Queries of the window kept per principal (the latest).
const WINDOW_MAX: usize = 2_000;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Profile {
    /// Earlier queries: (time, prompt hash, fingerprints).
    /// (time, prompt hash, fingerprints, how many), the fingerprints inline so that the
    /// comparisons read contiguous memory.
    pub history: VecDeque<(i64, u64, [u32; MARKS], u8)>,
    /// The context of each query of `history` ([`Call::context`]), in step with it; 0 is
    /// unknown (profiles saved before contexts were kept) and compares with any.
    #[serde(default)]
    pub contexts: VecDeque<u64>,
    /// The tail fingerprints of each query of `history` ([`crate::text::PromptFeatures::tail`]),
    /// in step with it, padded, and how many; none (profiles saved before tails were kept,
    /// short queries) compares with any.
    #[serde(default)]
    pub tails: VecDeque<([u32; TAIL_MARKS], u8)>,
    /// Times of the window's queries and whether each matched.
    pub window: VecDeque<(i64, bool)>,
    pub matches: u64,
    pub fired_until: i64,
    pub samples: Vec<Sample>,
}

/// Tail fingerprints kept per query: the windows of the last [`TAIL_WORDS`] words.
const TAIL_MARKS: usize = TAIL_WORDS + 1 - WINDOW;

/// Whether two queries' tails agree: they share at least half of the smaller one's
/// fingerprints, or either has none (a short query is compared whole).
fn tails_agree(a: &[u32], b: &[u32]) -> bool {
    a.is_empty() || b.is_empty() || 2 * crate::text::shared(a, b) >= a.len().min(b.len())
}

/// Fillers of unused fingerprint slots, different on each side so that they never match.
const QUERY_PAD: u32 = u32::MAX;
const HISTORY_PAD: u32 = u32::MAX - 1;

fn padded(marks: &[u32], pad: u32) -> [u32; MARKS] {
    let mut out = [pad; MARKS];
    let n = marks.len().min(MARKS);
    out[..n].copy_from_slice(&marks[..n]);
    out
}

/// Fingerprints two padded sets share: every pair compared, without branches, which the
/// compiler vectorizes (faster than merging two sorted lists of 20).
fn shared_fixed(a: &[u32; MARKS], b: &[u32; MARKS]) -> usize {
    let mut n = 0u32;
    for x in a {
        for y in b {
            n += u32::from(x == y);
        }
    }
    n as usize
}

pub struct QueryFlood {
    settings: FloodSettings,
    profiles: Profiles<Profile>,
}

impl QueryFlood {
    pub fn new(settings: &FloodSettings, max_principals: usize) -> QueryFlood {
        QueryFlood {
            settings: settings.clone(),
            profiles: Profiles::new(max_principals),
        }
    }
}

impl Analyzer for QueryFlood {
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
        while p
            .window
            .front()
            .is_some_and(|(t, _)| call.ts.saturating_sub(*t) > s.window.0)
        {
            if let Some((_, m)) = p.window.pop_front() {
                p.matches -= u64::from(m);
            }
        }
        while p
            .history
            .front()
            .is_some_and(|(t, _, _, _)| call.ts.saturating_sub(*t) > s.window.0)
        {
            p.history.pop_front();
            p.contexts.pop_front();
            p.tails.pop_front();
        }
        // Profiles saved before contexts and tails were kept: their queries compare with any.
        while p.contexts.len() < p.history.len() {
            p.contexts.push_front(0);
        }
        p.contexts.truncate(p.history.len());
        while p.tails.len() < p.history.len() {
            p.tails.push_front(([0; TAIL_MARKS], 0));
        }
        p.tails.truncate(p.history.len());
        if p.history.iter().any(|(_, h, _, _)| *h == hash) {
            // An exact repeat (MW-AI-0012's business), not a near-duplicate.
            return;
        }
        let query = padded(&text.marks, QUERY_PAD);
        let context = call.context();
        let tail = &text.tail[..text.tail.len().min(TAIL_MARKS)];
        let matched = p.history.iter().zip(&p.contexts).zip(&p.tails).any(
            |(((_, _, marks, _), c), (t, tn))| {
                (*c == context || *c == 0)
                    && shared_fixed(&query, marks) >= s.match_marks
                    && tails_agree(tail, &t[..usize::from(*tn)])
            },
        );
        p.window.push_back((call.ts, matched));
        p.matches += u64::from(matched);
        while p.window.len() > WINDOW_MAX {
            if let Some((_, m)) = p.window.pop_front() {
                p.matches -= u64::from(m);
            }
        }
        let n = text.marks.len().min(MARKS);
        p.history
            .push_back((call.ts, hash, padded(&text.marks, HISTORY_PAD), n as u8));
        p.contexts.push_back(context);
        let mut t = [0; TAIL_MARKS];
        t[..tail.len()].copy_from_slice(tail);
        p.tails.push_back((t, tail.len() as u8));
        while p.history.len() > s.history {
            p.history.pop_front();
            p.contexts.pop_front();
            p.tails.pop_front();
        }
        if matched {
            keep_sample(&mut p.samples, call);
        }
        let n = p.window.len() as u64;
        let share = p.matches as f64 / n.max(1) as f64;
        if call.ts >= p.fired_until && p.matches >= s.min_matches && share >= s.min_share {
            let first = p.window.front().map_or(call.ts, |w| w.0);
            p.fired_until = call.ts.saturating_add(s.window.0);
            let mut e = Map::new();
            e.insert("near_duplicate_queries".into(), json!(p.matches));
            e.insert("queries_in_window".into(), json!(n));
            e.insert("share".into(), json!(super::round2(share)));
            e.insert("threshold".into(), json!({"match_marks": s.match_marks, "of_marks": crate::text::MARKS, "min_matches": s.min_matches, "min_share": s.min_share, "window": s.window.to_string()}));
            let summary = format!(
                "{} sent {} near-duplicate queries (≥ {} of {} fingerprints shared with an earlier query) of {} within {} from {}",
                call.principal, p.matches, s.match_marks, crate::text::MARKS, n, s.window, iso(first)
            );
            let score = p.matches as f64 / s.min_matches as f64;
            let samples = std::mem::take(&mut p.samples);
            out.push(finding(
                CODE.code,
                &call.principal,
                call,
                format!("flood@{first}"),
                summary,
                first,
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
pub(crate) mod tests {
    use super::*;
    use crate::Settings;

    fn run(calls: &[Call]) -> Vec<Finding> {
        crate::analyzer::feed::observed(
            &mut QueryFlood::new(&Settings::default().theft.flood, 100),
            calls,
        )
    }

    /// Seed questions, each followed by five variations with one word changed (the shape of
    /// synthetic-query extraction: seeds and their augmentations).
    pub(crate) fn perturbations(n: usize) -> Vec<String> {
        use crate::analyzers::distillation::tests::words;
        (0..n)
            .map(|i| {
                let (seed, variant) = (i / 6, i % 6);
                let mut w: Vec<String> = words(7_000 + seed as u64, 24)
                    .split(' ')
                    .map(str::to_string)
                    .collect();
                if variant > 0 {
                    w[variant * 4 - 1] = words(90_000 + i as u64, 1);
                }
                w.join(" ")
            })
            .collect()
    }

    #[test]
    fn fixed_comparison_counts_as_the_merge_does() {
        let a = [1u32, 5, 9, 12, 40];
        let b = [2u32, 5, 12, 40, 41, 42];
        assert_eq!(
            shared_fixed(&padded(&a, QUERY_PAD), &padded(&b, HISTORY_PAD)),
            crate::text::shared(&a, &b)
        );
        assert_eq!(
            shared_fixed(&padded(&[], QUERY_PAD), &padded(&[], HISTORY_PAD)),
            0
        );
    }

    #[test]
    fn floods_alert_fast_and_slow() {
        for every in [2_000, 60_000] {
            let calls: Vec<Call> = perturbations(300)
                .iter()
                .enumerate()
                .map(|(i, p)| Call::test("key-3f8b", i as i64 * every).with_prompt(p))
                .collect();
            let f = run(&calls);
            assert!(!f.is_empty(), "{every}");
            assert_eq!(f[0].evidence["near_duplicate_queries"], json!(50));
            eprintln!(
                "flood every {every} ms: alert at call {}",
                f[0].timestamp / every + 1
            );
        }
    }

    /// A classification job whose every prompt is one long few-shot template (instruction
    /// and twelve labelled examples, in the user message itself) and then its item, a short
    /// text of its own: the template is most of every query.
    fn few_shot(i: u64) -> String {
        use crate::analyzers::distillation::tests::words;
        let mut p = String::from(
            "Classify the sentiment of the customer message as positive, negative or neutral. \
             Answer with one word. Examples:\n",
        );
        for e in 0..12u64 {
            let label = ["positive", "negative", "neutral"][(e % 3) as usize];
            p.push_str(&format!(
                "Message: {}\nSentiment: {label}\n",
                words(300 + e, 14)
            ));
        }
        let n = 6 + (i % 15) as usize;
        p.push_str(&format!("Message: {}\nSentiment:", words(1_000_000 + i, n)));
        p
    }

    #[test]
    fn a_few_shot_template_with_its_own_items_is_not_a_flood() {
        let job: Vec<Call> = (0..3_000u64)
            .map(|i| Call::test("classifier", i as i64 * 1_000).with_prompt(&few_shot(i)))
            .collect();
        // Whole, the queries are near-duplicates (the template's fingerprints win)...
        let (a, b) = (
            job[0].text.as_deref().unwrap(),
            job[1].text.as_deref().unwrap(),
        );
        assert!(
            a.shared_marks(b) >= Settings::default().theft.flood.match_marks,
            "{}",
            a.shared_marks(b)
        );
        // ... their items are not, and the job is quiet.
        assert!(!tails_agree(&a.tail, &b.tail), "{:?} {:?}", a.tail, b.tail);
        let f = run(&job);
        assert!(f.is_empty(), "{:?}", f.first().map(|f| &f.summary));
        // The same template perturbed by a word or two (the item kept) is a flood.
        use crate::analyzers::distillation::tests::words;
        let item = few_shot(7);
        let flood: Vec<Call> = (0..300u64)
            .map(|i| {
                let p = item.replacen("Answer with one word", &words(50_000 + i, 2), 1);
                Call::test("prober", i as i64 * 1_000).with_prompt(&p)
            })
            .collect();
        assert!(!run(&flood).is_empty());
    }

    #[test]
    fn templated_batches_and_repeats_do_not() {
        let topics = [
            "printer", "login", "invoice", "refund", "password", "delivery", "upgrade", "outage",
        ];
        let batch: Vec<Call> = (0..3000)
            .map(|i| {
                Call::test("batch", i * 1_000).with_prompt(&format!(
                    "Summarise ticket #{}: customer {} reports a {} problem since {} and asks for {} on account {}",
                    1000 + i, i * 7 % 991, topics[i as usize % 8], i % 28 + 1, topics[(i as usize / 8) % 8], i * 13 % 977
                ))
            })
            .collect();
        assert!(run(&batch).is_empty());
        // A nightly suite where a third of the prompts are a word away from another, sent again
        // every night: the repeats are not near-duplicates.
        use crate::analyzers::distillation::tests::words;
        let mut suite = Vec::new();
        for night in 0..4i64 {
            for q in 0..300u64 {
                let mut w: Vec<String> = words(5_000 + q / 3 * 2 + (q % 3).min(1), 24)
                    .split(' ')
                    .map(str::to_string)
                    .collect();
                if q % 3 == 2 {
                    w[10] = "different".into();
                }
                suite.push(
                    Call::test("evals", night * 86_400_000 + q as i64 * 1_000)
                        .with_prompt(&w.join(" ")),
                );
            }
        }
        assert!(run(&suite).is_empty(), "{:?}", run(&suite));
        let same: Vec<Call> = (0..500)
            .map(|i| Call::test("loop", i * 1_000).with_prompt("the same prompt again"))
            .collect();
        assert!(run(&same).is_empty());
    }
}
