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

/// Candidate rules of one record, as a bit set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Candidates {
    bits: Vec<u64>,
}

impl Candidates {
    pub fn all(n: usize) -> Candidates {
        let mut c = Candidates {
            bits: vec![0; n.div_ceil(64)],
        };
        for i in 0..n {
            c.insert(i);
        }
        c
    }

    fn insert(&mut self, i: usize) {
        self.bits[i / 64] |= 1 << (i % 64);
    }

    pub fn contains(&self, i: usize) -> bool {
        self.bits
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
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

/// Per rule, clauses of literal ids: the rule can match when every clause has a literal
/// present. A rule with no clauses can match anything.
pub struct Prefilter {
    searcher: Option<Searcher>,
    /// Some rule can match any record.
    open: bool,
    literals: usize,
    rules: Vec<Vec<Vec<usize>>>,
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

thread_local! {
    static FOLDED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Prefilter {
    /// `requirements[r]` is rule r's conjunction of any-of literal sets. A literal for
    /// which `synthesized` holds (a normalizer may write it without the raw record holding
    /// it) is always satisfied, and so is its clause.
    pub fn new(requirements: &[Requirement], synthesized: impl Fn(&Literal) -> bool) -> Prefilter {
        let mut always: Vec<Literal> = Vec::new();
        let mut literals: Vec<String> = Vec::new();
        let mut rules = Vec::new();
        for req in requirements {
            let mut clauses: Vec<Vec<usize>> = Vec::new();
            for clause in req {
                if let Some(lit) = clause.iter().find(|l| synthesized(l)) {
                    always.push(lit.clone());
                    continue;
                }
                let ids = clause
                    .iter()
                    .map(|lit| {
                        let lit = lit.text.to_ascii_lowercase();
                        match literals.iter().position(|l| *l == lit) {
                            Some(i) => i,
                            None => {
                                literals.push(lit);
                                literals.len() - 1
                            }
                        }
                    })
                    .collect();
                clauses.push(ids);
            }
            // Most selective first: the clause whose shortest literal is longest.
            clauses.sort_by_key(|c| {
                std::cmp::Reverse(c.iter().map(|&i| literals[i].len()).min().unwrap_or(0))
            });
            rules.push(clauses);
        }
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
            synthesized: always,
            escape: memmem::Finder::new(b"\\u").into_owned(),
        }
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// The rules that can match any record.
    fn open_only(&self) -> Candidates {
        let mut out = Candidates::default();
        if self.open {
            out.bits = vec![0; self.rules.len().div_ceil(64)];
            for (r, clauses) in self.rules.iter().enumerate() {
                if clauses.is_empty() {
                    out.insert(r);
                }
            }
        }
        out
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
        FOLDED.with(|cell| {
            let mut folded = cell.borrow_mut();
            folded.clear();
            folded.extend(raw.iter().map(u8::to_ascii_lowercase));
            // Most records hold none of the literals: a fast pass that may stop early says so.
            if let Searcher::Automaton { any, all } = searcher {
                let none = if any.is_empty() {
                    !all.is_match(folded.as_slice())
                } else {
                    any.iter().all(|p| p.find(folded.as_slice()).is_none())
                };
                if none {
                    // Only the open rules can match; with none, an empty set needs no
                    // allocation.
                    return self.open_only();
                }
            }
            // Per literal: unknown (0), absent (1), present (2); on the stack when few.
            let mut inline = [0u8; 64];
            let mut heap = Vec::new();
            let state: &mut [u8] = if self.literals <= inline.len() {
                &mut inline[..self.literals]
            } else {
                heap.resize(self.literals, 0);
                &mut heap
            };
            if let Searcher::Automaton { all, .. } = searcher {
                state.iter_mut().for_each(|s| *s = 1);
                for m in all.find_overlapping_iter(folded.as_slice()) {
                    state[m.pattern().as_usize()] = 2;
                }
            }
            let mut present = |id: usize| {
                if state[id] == 0 {
                    let found = match searcher {
                        Searcher::Memmem(finders) => finders[id].find(&folded).is_some(),
                        Searcher::Automaton { .. } => false,
                    };
                    state[id] = if found { 2 } else { 1 };
                }
                state[id] == 2
            };
            // The set is allocated only once some rule is a candidate.
            let mut out = Candidates::default();
            for (r, clauses) in self.rules.iter().enumerate() {
                if clauses.iter().all(|c| c.iter().any(|&id| present(id))) {
                    if out.bits.is_empty() {
                        out.bits = vec![0; n.div_ceil(64)];
                    }
                    out.insert(r);
                }
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
        );
        let c = p.candidates(br#"{"operationName":"listkey","category":"Audit"}"#);
        assert!(c.contains(0) && !c.contains(1));
        let c = p.candidates(br#"{"x":"BETA"}"#);
        assert!(!c.contains(0) && c.contains(1));
        assert!(!p.is_open());
        // A rule that can match anything is a candidate of every record; the others still
        // need their literals (they were all made candidates of every record).
        let open = Prefilter::new(&[req(&[&["ListKey"]]), req(&[])], none);
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
        let open = Prefilter::new(&reqs, none);
        let c = open.candidates(br#"{"a":"nothing"}"#);
        assert!((0..20).all(|i| !c.contains(i)) && c.contains(20));
        let c = open.candidates(br#"{"a":"WORD07X"}"#);
        assert!(c.contains(7) && !c.contains(8) && c.contains(20));
    }

    #[test]
    fn unicode_escapes_defeat_the_prefilter() {
        let p = Prefilter::new(&[req(&[&["ListKey"]])], none);
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
        let p = Prefilter::new(&reqs, none);
        assert!(matches!(&p.searcher, Some(Searcher::Automaton { any, .. }) if !any.is_empty()));
        let c = p.candidates(b"{\"a\":\"WORD03X and word17x\"}");
        let hits: Vec<usize> = (0..20).filter(|&i| c.contains(i)).collect();
        assert_eq!(hits, vec![3, 17]);
    }

    #[test]
    fn synthesized_literals_are_always_present() {
        let p = Prefilter::new(&[req(&[&["topic_policy"], &["BLOCKED"]])], |l| {
            l.text == "topic_policy"
        });
        assert!(p.candidates(br#"{"action":"BLOCKED"}"#).contains(0));
        assert!(p.candidates(b"{}").is_empty());
    }
}
