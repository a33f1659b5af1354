//! The literal prefilter: which rules can possibly match a raw record, decided before any
//! parse by searching the record's bytes (ASCII case-insensitively) for the literals the
//! rules require.
//!
//! It searches the raw bytes only for literals that must be there when the rule can match:
//! a literal on a field some normalizer (or the engine) may write itself, with a value that
//! can contain it, is taken as present (see `modelward_event::source::contract`; the caller
//! decides, per literal, through `synthesized`).

use modelward_event::input::cloudwatch;
use modelward_event::source::{Literal, Requirement};

use aho_corasick::{packed, AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use memchr::memmem;

/// Candidate rules of one record, as a bit set: the rules that can match its events when a
/// normalizer may have written them, and ([`Candidates::unnormalized`]) the fewer that can
/// when none did (every value is then a copy of the raw record).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Candidates {
    bits: Vec<u64>,
    /// The candidates when no normalizer wrote the events; None: the same as `bits`.
    strict: Option<Vec<u64>>,
}

impl Candidates {
    pub fn all(n: usize) -> Candidates {
        let mut c = Candidates {
            bits: vec![0; n.div_ceil(64)],
            strict: None,
        };
        for i in 0..n {
            c.insert(i);
        }
        c
    }

    fn insert(&mut self, i: usize) {
        self.bits[i / 64] |= 1 << (i % 64);
    }

    /// The candidates of the record's events when no normalizer wrote them: literals only a
    /// normalizer could have written (a keyword, which a normalizer's composed text might
    /// hold) must then be in the raw record like any other.
    pub fn unnormalized(self) -> Candidates {
        match self.strict {
            Some(bits) => Candidates { bits, strict: None },
            None => self,
        }
    }

    pub fn contains(&self, i: usize) -> bool {
        self.bits
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// The candidate rules, in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.bits.iter().enumerate().flat_map(|(w, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    w * 64 + bit
                })
            })
        })
    }

    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|w| *w == 0)
    }
}

/// How literals are searched: few literals one SIMD `memmem` each, lazily; many literals in
/// one Aho-Corasick pass. Both run on the record folded to ASCII lower case, which keeps
/// the searchers' SIMD prefilters (a case-insensitive automaton would lose them).
enum Searcher {
    Memmem(Vec<memmem::Finder<'static>>),
    /// A fast "any literal at all?" pass (SIMD Teddy searchers of up to 64 literals each,
    /// when there are not too many), then the exact overlapping scan.
    Automaton {
        any: Vec<packed::Searcher>,
        all: AhoCorasick,
    },
}

/// Literals per packed (Teddy) searcher, and how many such searchers are worth it before one
/// DFA pass is faster.
const PACKED_SIZE: usize = 64;
const PACKED_MAX: usize = 8;

/// Literals up to this count are searched one by one.
const MEMMEM_MAX: usize = 8;

/// One clause of a rule's requirement: one of its literals must be present, unless
/// `normalized` and a normalizer wrote the event (it may write one of them itself).
struct Clause {
    ids: Vec<usize>,
    normalized: bool,
}

/// Per rule, clauses of literal ids: the rule can match when every clause has a literal
/// present. A rule with no clauses can match anything.
pub struct Prefilter {
    searcher: Option<Searcher>,
    /// Some rule can match any record.
    open: bool,
    literals: usize,
    rules: Vec<Vec<Clause>>,
    /// Per literal, the rules to check when it is present: those whose first clause (the
    /// first one not satisfied by a normalizer, if any) holds it.
    posting: Vec<Vec<usize>>,
    /// The rules that are candidates of every record (no clause), and of every normalized
    /// record (only clauses a normalizer can satisfy).
    open_rules: Vec<u64>,
    loose_rules: Vec<u64>,
    /// Some clause can be satisfied by a normalizer.
    two_tier: bool,
    /// Literals taken as present because a normalizer may write them (as given).
    synthesized: Vec<Literal>,
    escape: memmem::Finder<'static>,
}

/// Teddy searchers over the literals in groups of 64; none when there are too many groups
/// (or Teddy is not available on this CPU).
fn packed_searchers(literals: &[String]) -> Vec<packed::Searcher> {
    if literals.len() > PACKED_SIZE * PACKED_MAX {
        return Vec::new();
    }
    let searchers: Option<Vec<packed::Searcher>> = literals
        .chunks(PACKED_SIZE)
        .map(|chunk| {
            let mut builder = packed::Config::new()
                .match_kind(packed::MatchKind::LeftmostFirst)
                .builder();
            builder.extend(chunk.iter().map(String::as_bytes));
            builder.build()
        })
        .collect();
    searchers.unwrap_or_default()
}

/// Whether a raw JSON record holds a `\uXXXX` escape, which can spell a literal's bytes
/// otherwise: a `\u` preceded by an even number of backslashes (`\\u` is an escaped
/// backslash before a `u`, as in the Windows path `C:\\users` written in JSON).
fn has_unicode_escape(raw: &[u8], escape: &memmem::Finder<'_>) -> bool {
    escape.find_iter(raw).any(|at| {
        let backslashes = raw[..at].iter().rev().take_while(|&&b| b == b'\\').count();
        backslashes % 2 == 0
    })
}

/// A thread's working memory for [`Prefilter::candidates`], kept between records: the
/// folded record, and per literal whether it was found (all false between calls).
#[derive(Default)]
struct Scratch {
    folded: Vec<u8>,
    found: Vec<bool>,
    present: Vec<usize>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Sets bit `i` of `bits`.
fn set_bit(bits: &mut [u64], i: usize) {
    bits[i / 64] |= 1 << (i % 64);
}

fn has_bit(bits: &[u64], i: usize) -> bool {
    bits.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
}

impl Prefilter {
    /// `requirements[r]` is rule r's conjunction of any-of literal sets. A literal for
    /// which `always` holds (the engine may write it into any event) is always satisfied,
    /// and so is its clause; one for which `normalized` holds (a normalizer may write it
    /// without the raw record holding it) satisfies its clause when a normalizer wrote the
    /// event ([`Candidates::unnormalized`] are the candidates when none did).
    pub fn new(
        requirements: &[Requirement],
        always: impl Fn(&Literal) -> bool,
        normalized: impl Fn(&Literal) -> bool,
    ) -> Prefilter {
        let mut synthesized: Vec<Literal> = Vec::new();
        let mut literals: Vec<String> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = Default::default();
        let mut rules = Vec::new();
        for req in requirements {
            let mut clauses: Vec<Clause> = Vec::new();
            for clause in req {
                if let Some(lit) = clause.iter().find(|l| always(l)) {
                    synthesized.push(lit.clone());
                    continue;
                }
                let by_normalizer = clause.iter().find(|l| normalized(l));
                if let Some(lit) = by_normalizer {
                    synthesized.push(lit.clone());
                }
                let ids = clause
                    .iter()
                    .map(|lit| {
                        let lit = lit.text.to_ascii_lowercase();
                        *index.entry(lit.clone()).or_insert_with(|| {
                            literals.push(lit);
                            literals.len() - 1
                        })
                    })
                    .collect();
                clauses.push(Clause {
                    ids,
                    normalized: by_normalizer.is_some(),
                });
            }
            // Most selective first: the clause whose shortest literal is longest.
            clauses.sort_by_key(|c| {
                std::cmp::Reverse(c.ids.iter().map(|&i| literals[i].len()).min().unwrap_or(0))
            });
            rules.push(clauses);
        }
        let words = rules.len().div_ceil(64);
        let (mut open_rules, mut loose_rules) = (vec![0; words], vec![0; words]);
        let mut posting: Vec<Vec<usize>> = vec![Vec::new(); literals.len()];
        for (r, clauses) in rules.iter().enumerate() {
            if clauses.is_empty() {
                set_bit(&mut open_rules, r);
                continue;
            }
            if clauses.iter().all(|c| c.normalized) {
                set_bit(&mut loose_rules, r);
            }
            let first = clauses
                .iter()
                .find(|c| !c.normalized)
                .unwrap_or(&clauses[0]);
            for &id in &first.ids {
                posting[id].push(r);
            }
        }
        for list in &mut posting {
            list.dedup();
        }
        let two_tier = rules.iter().flatten().any(|c| c.normalized);
        let searcher = if literals.is_empty() {
            None
        } else if literals.len() <= MEMMEM_MAX {
            Some(Searcher::Memmem(
                literals
                    .iter()
                    .map(|l| memmem::Finder::new(l.as_bytes()).into_owned())
                    .collect(),
            ))
        } else {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .kind(Some(AhoCorasickKind::DFA))
                .build(&literals)
                .ok()
                .map(|all| Searcher::Automaton {
                    any: packed_searchers(&literals),
                    all,
                })
        };
        Prefilter {
            literals: literals.len(),
            open: rules.iter().any(Vec::is_empty),
            searcher,
            rules,
            posting,
            open_rules,
            loose_rules,
            two_tier,
            synthesized,
            escape: memmem::Finder::new(b"\\u").into_owned(),
        }
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// The rules that can match a record holding none of the literals.
    fn open_only(&self) -> Candidates {
        let mut out = self.finished(self.open_rules.clone(), self.open_rules.clone());
        if out.bits.iter().all(|w| *w == 0) {
            out.bits = Vec::new();
        }
        out
    }

    /// Candidates from the loose and the strict bits.
    fn finished(&self, mut bits: Vec<u64>, strict: Vec<u64>) -> Candidates {
        bits.iter_mut()
            .zip(&self.loose_rules)
            .for_each(|(b, l)| *b |= l);
        let strict = (self.two_tier && strict != bits).then_some(strict);
        Candidates { bits, strict }
    }

    /// Whether some rule accepts every record (so nothing can be skipped).
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// The literals taken as present without a search (normalizers may write them).
    pub fn synthesized(&self) -> &[Literal] {
        &self.synthesized
    }

    /// How many rules can match any record (they are candidates of every record).
    pub fn open_rules(&self) -> usize {
        self.rules.iter().filter(|c| c.is_empty()).count()
    }

    /// How many rules can match any record some normalizer wrote (every clause of theirs
    /// can be satisfied by a normalizer), beside the open ones.
    pub fn normalized_open_rules(&self) -> usize {
        self.rules
            .iter()
            .filter(|c| !c.is_empty() && c.iter().all(|c| c.normalized))
            .count()
    }

    /// The rules that can match this raw record. Rules that can match any record are always
    /// among them; the others only when the record holds their literals.
    pub fn candidates(&self, raw: &[u8]) -> Candidates {
        let n = self.rules.len();
        let Some(searcher) = self.searcher.as_ref() else {
            return Candidates::all(n);
        };
        // A compressed CloudWatch payload (`awslogs.data`) shows nothing of its events.
        if has_unicode_escape(raw, &self.escape) || cloudwatch::hides_content(raw) {
            return Candidates::all(n);
        }
        SCRATCH.with(|cell| {
            let scratch = &mut *cell.borrow_mut();
            scratch.folded.clear();
            scratch
                .folded
                .extend(raw.iter().map(u8::to_ascii_lowercase));
            let folded = scratch.folded.as_slice();
            let words = n.div_ceil(64);
            let (mut loose, mut strict) = (self.open_rules.clone(), self.open_rules.clone());
            // Judges rule r: every clause needs a present literal, but a clause a normalizer
            // can satisfy only for the strict set.
            let mut judge = |r: usize, present: &mut dyn FnMut(usize) -> bool| {
                let mut strict_ok = true;
                for c in &self.rules[r] {
                    if !c.ids.iter().any(|&id| present(id)) {
                        if !c.normalized {
                            return;
                        }
                        strict_ok = false;
                    }
                }
                set_bit(&mut loose, r);
                if strict_ok {
                    set_bit(&mut strict, r);
                }
            };
            match searcher {
                // Few literals: every rule, each literal searched (once) when first asked.
                Searcher::Memmem(finders) => {
                    let mut state = [0u8; MEMMEM_MAX];
                    let mut present = |id: usize| {
                        if state[id] == 0 {
                            state[id] = if finders[id].find(folded).is_some() {
                                2
                            } else {
                                1
                            };
                        }
                        state[id] == 2
                    };
                    for r in 0..n {
                        if !self.rules[r].is_empty() {
                            judge(r, &mut present);
                        }
                    }
                }
                Searcher::Automaton { any, all } => {
                    // Most records hold none of the literals: a fast pass that may stop early
                    // says so.
                    let none = if any.is_empty() {
                        !all.is_match(folded)
                    } else {
                        any.iter().all(|p| p.find(folded).is_none())
                    };
                    if none {
                        return self.open_only();
                    }
                    let Scratch { found, present, .. } = scratch;
                    found.resize(self.literals, false);
                    present.clear();
                    for m in all.find_overlapping_iter(folded) {
                        let id = m.pattern().as_usize();
                        if !found[id] {
                            found[id] = true;
                            present.push(id);
                        }
                    }
                    // Only the rules a present literal posts, each judged once.
                    let mut seen = vec![0u64; words];
                    for &id in present.iter() {
                        for &r in &self.posting[id] {
                            if !has_bit(&seen, r) {
                                set_bit(&mut seen, r);
                                judge(r, &mut |id| found[id]);
                            }
                        }
                    }
                    for &id in present.iter() {
                        found[id] = false;
                    }
                }
            }
            let mut out = self.finished(loose, strict);
            if out.bits.iter().all(|w| *w == 0) {
                out.bits = Vec::new();
            }
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(clauses: &[&[&str]]) -> Requirement {
        clauses
            .iter()
            .map(|c| c.iter().map(|s| Literal::new(Some("f"), *s)).collect())
            .collect()
    }

    fn none(_: &Literal) -> bool {
        false
    }

    #[test]
    fn selects_rules_whose_clauses_are_all_present() {
        let p = Prefilter::new(
            &[req(&[&["ListKey"], &["Audit"]]), req(&[&["alpha", "beta"]])],
            none,
            none,
        );
        let c = p.candidates(br#"{"operationName":"listkey","category":"Audit"}"#);
        assert!(c.contains(0) && !c.contains(1));
        let c = p.candidates(br#"{"x":"BETA"}"#);
        assert!(!c.contains(0) && c.contains(1));
        assert!(!p.is_open());
        // A rule that can match anything is a candidate of every record; the others still
        // need their literals (they were all made candidates of every record).
        let open = Prefilter::new(&[req(&[&["ListKey"]]), req(&[])], none, none);
        assert!(open.is_open());
        assert_eq!(open.open_rules(), 1);
        let c = open.candidates(b"{}");
        assert!(!c.contains(0) && c.contains(1));
        let c = open.candidates(br#"{"op":"ListKey"}"#);
        assert!(c.contains(0) && c.contains(1));
        // The same through the automaton's fast "no literal at all" pass.
        let words: Vec<String> = (0..20).map(|i| format!("word{i:02}x")).collect();
        let mut reqs: Vec<Requirement> = words
            .iter()
            .map(|w| vec![vec![Literal::new(None, w.as_str())]])
            .collect();
        reqs.push(Vec::new());
        let open = Prefilter::new(&reqs, none, none);
        let c = open.candidates(br#"{"a":"nothing"}"#);
        assert!((0..20).all(|i| !c.contains(i)) && c.contains(20));
        let c = open.candidates(br#"{"a":"WORD07X"}"#);
        assert!(c.contains(7) && !c.contains(8) && c.contains(20));
        assert_eq!(c.iter().collect::<Vec<_>>(), vec![7, 20]);
    }

    #[test]
    fn unicode_escapes_defeat_the_prefilter() {
        let p = Prefilter::new(&[req(&[&["ListKey"]])], none, none);
        assert!(p.candidates(br#"{"op":"\u004cistKey"}"#).contains(0));
        assert!(p.candidates(br#"{"op":"Other"}"#).is_empty());
        // An escaped backslash before a `u` is no escape (Windows paths are full of them).
        assert!(p.candidates(br#"{"Image":"C:\\users\\a.exe"}"#).is_empty());
        assert!(p.candidates(br#"{"op":"\\\u004cistKey"}"#).contains(0));
    }

    #[test]
    fn many_literals_use_one_automaton_pass() {
        let words: Vec<String> = (0..20).map(|i| format!("word{i:02}x")).collect();
        let reqs: Vec<Requirement> = words
            .iter()
            .map(|w| vec![vec![Literal::new(None, w.as_str())]])
            .collect();
        let p = Prefilter::new(&reqs, none, none);
        assert!(matches!(&p.searcher, Some(Searcher::Automaton { any, .. }) if !any.is_empty()));
        let c = p.candidates(b"{\"a\":\"WORD03X and word17x\"}");
        let hits: Vec<usize> = (0..20).filter(|&i| c.contains(i)).collect();
        assert_eq!(hits, vec![3, 17]);
    }

    #[test]
    fn literals_a_normalizer_writes_are_needed_when_none_did() {
        // A keyword a normalizer's composed text might hold: a candidate of any record a
        // normalizer may have written, but of a record read as it is only with the literal.
        let words: Vec<String> = (0..20).map(|i| format!("word{i:02}x")).collect();
        let mut reqs: Vec<Requirement> = words
            .iter()
            .map(|w| vec![vec![Literal::new(None, w.as_str())]])
            .collect();
        reqs.push(vec![vec![Literal::new(None, "chmod 4777")]]);
        reqs.push(vec![
            vec![Literal::new(None, "word03x")],
            vec![Literal::new(None, "chmod 4777")],
        ]);
        let p = Prefilter::new(&reqs, none, |l| l.text == "chmod 4777");
        assert_eq!(p.normalized_open_rules(), 1);
        let c = p.candidates(br#"{"a":"WORD03X"}"#);
        assert!(c.contains(3) && c.contains(20) && c.contains(21));
        let c = c.unnormalized();
        assert!(c.contains(3) && !c.contains(20) && !c.contains(21));
        let c = p.candidates(br#"{"a":"nothing"}"#);
        assert!(c.contains(20) && !c.contains(21));
        assert!(c.unnormalized().is_empty());
        let c = p
            .candidates(br#"{"a":"chmod 4777 word03x"}"#)
            .unnormalized();
        assert!(c.contains(3) && c.contains(20) && c.contains(21));
        // The same with few literals (searched one by one).
        let p = Prefilter::new(
            &[
                vec![vec![Literal::new(None, "chmod 4777")]],
                vec![vec![Literal::new(None, "other")]],
            ],
            none,
            |l| l.text == "chmod 4777",
        );
        let c = p.candidates(br#"{"a":"other"}"#);
        assert!(c.contains(0) && c.contains(1));
        let c = c.unnormalized();
        assert!(!c.contains(0) && c.contains(1));
    }

    #[test]
    fn synthesized_literals_are_always_present() {
        let p = Prefilter::new(
            &[req(&[&["topic_policy"], &["BLOCKED"]])],
            |l| l.text == "topic_policy",
            none,
        );
        assert!(p.candidates(br#"{"action":"BLOCKED"}"#).contains(0));
        assert!(p.candidates(b"{}").is_empty());
    }
}
