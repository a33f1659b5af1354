//! The literal prefilter: which rules can possibly match a raw record, decided before any
//! parse with one Aho-Corasick automaton (ASCII case-insensitive) over the record's bytes.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
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

/// Per rule, clauses of literal ids: the rule can match when every clause has a literal
/// present. A rule with no clauses can match anything.
pub struct Prefilter {
    automaton: Option<AhoCorasick>,
    literals: usize,
    rules: Vec<Vec<Vec<usize>>>,
    /// Values normalizers write that a raw record need not contain.
    synthesized: Vec<String>,
    escape: memmem::Finder<'static>,
}

impl Prefilter {
    /// `requirements[r]` is rule r's conjunction of any-of literal sets. Literals equal
    /// (case-insensitively) to a value some normalizer synthesizes are always satisfied.
    pub fn new(requirements: &[Vec<Vec<String>>], synthesized: &[&str]) -> Prefilter {
        let synthesized: Vec<String> = synthesized.iter().map(|s| s.to_ascii_lowercase()).collect();
        let mut literals: Vec<String> = Vec::new();
        let mut rules = Vec::new();
        for req in requirements {
            let mut clauses = Vec::new();
            for clause in req {
                if clause
                    .iter()
                    .any(|l| synthesized.contains(&l.to_ascii_lowercase()))
                {
                    continue;
                }
                let ids = clause
                    .iter()
                    .map(
                        |lit| match literals.iter().position(|l| l.eq_ignore_ascii_case(lit)) {
                            Some(i) => i,
                            None => {
                                literals.push(lit.clone());
                                literals.len() - 1
                            }
                        },
                    )
                    .collect();
                clauses.push(ids);
            }
            rules.push(clauses);
        }
        let automaton = (!literals.is_empty())
            .then(|| {
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .build(&literals)
                    .ok()
            })
            .flatten();
        Prefilter {
            literals: literals.len(),
            automaton,
            rules,
            synthesized,
            escape: memmem::Finder::new(b"\\u").into_owned(),
        }
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Whether some rule accepts every record (so nothing can be skipped).
    pub fn is_open(&self) -> bool {
        self.rules.iter().any(Vec::is_empty)
    }

    pub fn synthesized(&self) -> &[String] {
        &self.synthesized
    }

    /// The rules that can match this raw record.
    pub fn candidates(&self, raw: &[u8]) -> Candidates {
        let n = self.rules.len();
        let (Some(ac), false) = (&self.automaton, self.escape.find(raw).is_some()) else {
            return Candidates::all(n);
        };
        let mut found = vec![false; self.literals];
        let mut remaining = self.literals;
        for m in ac.find_overlapping_iter(raw) {
            let id = m.pattern().as_usize();
            if !found[id] {
                found[id] = true;
                remaining -= 1;
                if remaining == 0 {
                    break;
                }
            }
        }
        let mut out = Candidates {
            bits: vec![0; n.div_ceil(64)],
        };
        for (r, clauses) in self.rules.iter().enumerate() {
            if clauses.iter().all(|c| c.iter().any(|&id| found[id])) {
                out.insert(r);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(clauses: &[&[&str]]) -> Vec<Vec<String>> {
        clauses
            .iter()
            .map(|c| c.iter().map(|s| s.to_string()).collect())
            .collect()
    }

    #[test]
    fn selects_rules_whose_clauses_are_all_present() {
        let p = Prefilter::new(
            &[
                req(&[&["ListKey"], &["Audit"]]),
                req(&[&["alpha", "beta"]]),
                req(&[]),
            ],
            &[],
        );
        let c = p.candidates(br#"{"operationName":"listkey","category":"Audit"}"#);
        assert!(c.contains(0) && !c.contains(1) && c.contains(2));
        let c = p.candidates(br#"{"x":"BETA"}"#);
        assert!(!c.contains(0) && c.contains(1));
        assert!(p.is_open());
    }

    #[test]
    fn unicode_escapes_defeat_the_prefilter() {
        let p = Prefilter::new(&[req(&[&["ListKey"]])], &[]);
        assert!(p.candidates(br#"{"op":"\u004cistKey"}"#).contains(0));
        assert!(p.candidates(br#"{"op":"Other"}"#).is_empty());
    }

    #[test]
    fn synthesized_values_are_always_present() {
        let p = Prefilter::new(&[req(&[&["azure_openai.logs"]])], &["azure_openai.logs"]);
        assert!(p.candidates(b"{}").contains(0));
    }
}
