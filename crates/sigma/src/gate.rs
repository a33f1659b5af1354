//! The second tier of the literal prefilter, on the parsed event: a rule is judged only when
//! each clause of its requirement ([`crate::SigmaRule::requirement`]) has a literal in the
//! values of the field it is tested on (a keyword's: in any value), not merely somewhere in
//! the raw record (a field's name, another field's value).
//!
//! Each field the requirements name has one Aho-Corasick automaton over the literals tested
//! on it, run (ASCII case ignored) once per event over the field's values, as the rules read
//! them (through the [`FieldCache`]), the first time a candidate rule asks; the keywords' one
//! over every value of the event. A rule whose detection matches has, in every clause, a
//! literal in the text its matcher matched (the literals are chosen so), so this never
//! drops a match the first tier would keep.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use modelward_event::source::Requirement;
use serde_json::Value as Json;

use crate::detection::FieldCache;

/// One automaton: the literals tested on one field (or, `slot` None, on every value).
#[derive(Debug, Clone)]
struct Searcher {
    /// Keywords: every value of the event is searched.
    keywords: bool,
    slot: Option<usize>,
    field: String,
    automaton: AhoCorasick,
    /// The id of pattern 0 in the event's found set (the others follow).
    base: usize,
}

/// A field's name (None: keywords), its literals, and each literal's number.
type FieldLiterals = (Option<String>, Vec<String>, HashMap<String, u32>);

/// The rules' requirements by field, built once per rule set.
#[derive(Debug, Clone, Default)]
pub struct Gates {
    /// Per rule, its clauses, each a list of literal ids (one must be found); no clauses:
    /// every event admitted.
    rules: Vec<Vec<Vec<(u32, u32)>>>,
    searchers: Vec<Searcher>,
    literals: usize,
}

/// What one event's values hold, filled as rules ask: per searcher whether it ran, and the
/// literal ids found.
pub struct GateScratch {
    ran: Vec<Cell<bool>>,
    found: RefCell<Vec<u64>>,
}

impl Gates {
    /// Gates for rules of these requirements, fields numbered by `slots` (the table
    /// [`crate::SigmaSet::index_fields`] filled; a field it lacks is looked up by name).
    pub fn new(requirements: &[&Requirement], slots: &HashMap<String, usize>) -> Gates {
        // Per field (None: keywords), its literals, each numbered once.
        let mut by_field: Vec<FieldLiterals> = Vec::new();
        let mut field_index: HashMap<Option<String>, usize> = HashMap::new();
        let mut rules = Vec::with_capacity(requirements.len());
        for req in requirements {
            let mut clauses = Vec::with_capacity(req.len());
            for clause in req.iter() {
                let mut ids = Vec::with_capacity(clause.len());
                for lit in clause {
                    let s = *field_index.entry(lit.field.clone()).or_insert_with(|| {
                        by_field.push((lit.field.clone(), Vec::new(), HashMap::new()));
                        by_field.len() - 1
                    });
                    let (_, texts, index) = &mut by_field[s];
                    let text = lit.text.to_ascii_lowercase();
                    let id = *index.entry(text.clone()).or_insert_with(|| {
                        texts.push(text);
                        (texts.len() - 1) as u32
                    });
                    ids.push((s as u32, id));
                }
                clauses.push(ids);
            }
            rules.push(clauses);
        }
        let mut searchers = Vec::with_capacity(by_field.len());
        let mut base = 0;
        for (field, texts, _) in by_field {
            // A DFA: an overlapping search through an NFA cost several times as much per
            // byte, and every event runs the automata of the fields its candidates read.
            let build = |kind| {
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .kind(kind)
                    .build(&texts)
            };
            let automaton = build(Some(AhoCorasickKind::DFA)).or_else(|_| build(None));
            let Ok(automaton) = automaton else {
                // Too large an automaton: every literal of the field taken as present.
                return Gates::default();
            };
            searchers.push(Searcher {
                keywords: field.is_none(),
                slot: field.as_ref().and_then(|f| slots.get(f).copied()),
                field: field.unwrap_or_default(),
                automaton,
                base,
            });
            base += texts.len();
        }
        // Literal ids become ids in the event's found set.
        let rules = rules
            .into_iter()
            .map(|clauses: Vec<Vec<(u32, u32)>>| {
                clauses
                    .into_iter()
                    .map(|ids| {
                        ids.into_iter()
                            .map(|(s, id)| (s, searchers[s as usize].base as u32 + id))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        Gates {
            rules,
            searchers,
            literals: base,
        }
    }

    /// An event's empty scratch.
    pub fn scratch(&self) -> GateScratch {
        GateScratch {
            ran: (0..self.searchers.len())
                .map(|_| Cell::new(false))
                .collect(),
            found: RefCell::new(vec![0; self.literals.div_ceil(64)]),
        }
    }

    /// Whether rule `r` may match the cache's event: every clause has a literal in the
    /// values of its field. A rule the gates do not know is admitted.
    pub fn admits(&self, r: usize, cache: &FieldCache, scratch: &GateScratch) -> bool {
        let Some(clauses) = self.rules.get(r) else {
            return true;
        };
        clauses.iter().all(|ids| {
            ids.iter().any(|&(s, id)| {
                self.search(s as usize, cache, scratch);
                let found = scratch.found.borrow();
                found[id as usize / 64] & (1 << (id % 64)) != 0
            })
        })
    }

    /// Runs searcher `s` over its field's values once per event.
    fn search(&self, s: usize, cache: &FieldCache, scratch: &GateScratch) {
        if scratch.ran[s].replace(true) {
            return;
        }
        let searcher = &self.searchers[s];
        let mut found = scratch.found.borrow_mut();
        let mut note = |text: &str| {
            for m in searcher.automaton.find_overlapping_iter(text) {
                let id = searcher.base + m.pattern().as_usize();
                found[id / 64] |= 1 << (id % 64);
            }
        };
        if searcher.keywords {
            // Keywords: every value of the event, at any depth.
            for v in cache.event().fields.values() {
                each_text(v, &mut note);
            }
            return;
        }
        let looked_up;
        let values: &[&Json] = match searcher
            .slot
            .and_then(|slot| cache.values(slot, &searcher.field))
        {
            Some(values) => values,
            None => {
                looked_up = cache.event().get(&searcher.field);
                &looked_up
            }
        };
        for v in values {
            each_text(v, &mut note);
        }
    }
}

/// Calls `f` with every text a matcher reads of `v`: strings, numbers and booleans as text,
/// arrays and objects element by element.
fn each_text(v: &Json, f: &mut dyn FnMut(&str)) {
    match v {
        Json::String(s) => f(s),
        Json::Number(n) => f(&n.to_string()),
        Json::Bool(b) => f(if *b { "true" } else { "false" }),
        Json::Array(items) => items.iter().for_each(|i| each_text(i, f)),
        Json::Object(map) => map.values().for_each(|i| each_text(i, f)),
        Json::Null => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::detection::FieldCache;
    use crate::SigmaSet;
    use modelward_event::Event;

    const RULES: &str = r#"
title: cmd
logsource: {product: windows, category: process_creation}
detection:
    selection:
        Image|endswith: '\cmd.exe'
    condition: selection
---
title: keyword
logsource: {product: windows}
detection:
    keywords:
        - 'mimikatz'
    condition: keywords
---
title: regex
logsource: {product: windows}
detection:
    selection:
        CommandLine|re: 'ipconfig\s+/all'
    condition: selection
---
title: open
logsource: {product: windows}
detection:
    selection:
        CommandLine|re: '\d{4}'
    condition: selection
"#;

    /// (gate admits, rule matches) of each rule on the event.
    fn judge(set: &SigmaSet, slots: usize, json: &str) -> Vec<(bool, bool)> {
        let event = Event::from_json(json).unwrap();
        let cache = FieldCache::new(&event, slots);
        let scratch = set.gates.scratch();
        (0..set.rules.len())
            .map(|r| {
                (
                    set.gates.admits(r, &cache, &scratch),
                    set.rules[r].matches_cached(&cache),
                )
            })
            .collect()
    }

    #[test]
    fn literals_must_be_in_their_fields_values() {
        let mut set = SigmaSet::default();
        assert!(set.add_file(RULES, "t.yml").is_empty());
        let slots = set.index_fields();
        // `cmd.exe` in another field, `mimikatz` and `ipconfig` in names only: only the
        // rule without literals is judged.
        let v = judge(
            &set,
            slots,
            r#"{"Image":"C:\\x\\a.exe","ParentImage":"C:\\Windows\\cmd.exe","mimikatz":"1","ipconfig":2}"#,
        );
        assert_eq!(
            v,
            [
                (false, false),
                (false, false),
                (false, false),
                (true, false)
            ]
        );
        // In their values (any case, a keyword at any depth): judged, and they match.
        let v = judge(
            &set,
            slots,
            r#"{"Image":"C:\\Windows\\CMD.EXE","CommandLine":"IPCONFIG  /all 1234","x":{"y":["Mimikatz"]}}"#,
        );
        assert_eq!(v, [(true, true), (true, true), (true, false), (true, true)]);
        // The regex is case-sensitive: judged, no match.
        assert_eq!(
            judge(&set, slots, r#"{"CommandLine":"ipconfig /all"}"#)[2],
            (true, true)
        );
    }
}
