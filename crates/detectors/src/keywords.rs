//! The keyword pass every content detector shares: one Aho-Corasick automaton over the
//! keywords of all of them (ASCII case-insensitive, overlapping matches), run once over each
//! text of an event. A detector then runs its expensive matchers (regular expressions,
//! validators, URL parsing) only where one of its keywords occurred.
//!
//! Keywords are a detector's necessary conditions: a detector that declares keywords
//! promises that, in a text where none of them occurs, it finds nothing that its keyword-gated
//! matchers could find.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use crate::text::{LlmText, Role};

/// One keyword occurrence: the detector-local keyword id and the byte span in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeywordMatch {
    pub keyword: usize,
    pub start: usize,
    pub end: usize,
}

/// Up to this many keywords the automaton is a DFA.
const DFA_MAX_PATTERNS: usize = 5_000;

/// The automaton over every detector's keywords.
pub struct KeywordPass {
    ac: Option<AhoCorasick>,
    /// For each automaton pattern: (detector slot, local keyword id).
    owners: Vec<(usize, usize)>,
    slots: usize,
}

impl KeywordPass {
    /// The pass over the keywords of each detector slot (`keywords[slot]`). Empty keywords
    /// are ignored; keywords that cannot be built into an automaton (never, for literal
    /// strings within the crate's limits) leave the pass empty, which detectors read as
    /// "no keyword information" and scan in full.
    pub fn new(keywords: &[Vec<String>]) -> KeywordPass {
        let mut patterns: Vec<&str> = Vec::new();
        let mut owners = Vec::new();
        for (slot, words) in keywords.iter().enumerate() {
            for (local, w) in words.iter().enumerate() {
                if !w.is_empty() {
                    patterns.push(w);
                    owners.push((slot, local));
                }
            }
        }
        // A DFA is several times faster than the NFA the builder picks for some hundreds of
        // keywords; past a few thousand (large phishing domain lists) its memory is not
        // worth it.
        let kind = match patterns.len() <= DFA_MAX_PATTERNS {
            true => Some(AhoCorasickKind::DFA),
            false => None,
        };
        let ac = match patterns.is_empty() {
            true => None,
            false => AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .kind(kind)
                .build(&patterns)
                .ok(),
        };
        if ac.is_none() {
            owners.clear();
        }
        KeywordPass {
            ac,
            owners,
            slots: keywords.len(),
        }
    }

    /// Every keyword occurrence in every text of the call, by detector slot.
    pub fn scan(&self, text: &LlmText<'_>) -> Scanned {
        let texts = text.prompt.len() + text.completion.len();
        let mut matches = vec![Vec::new(); texts * self.slots];
        let complete = self.ac.is_some();
        if let Some(ac) = &self.ac {
            for (t, (_, s)) in text.all().enumerate() {
                for m in ac.find_overlapping_iter(s) {
                    if let Some(&(slot, keyword)) = self.owners.get(m.pattern().as_usize()) {
                        matches[t * self.slots + slot].push(KeywordMatch {
                            keyword,
                            start: m.start(),
                            end: m.end(),
                        });
                    }
                }
            }
        }
        Scanned {
            matches,
            slots: self.slots,
            complete,
        }
    }
}

/// The keyword occurrences of one call, per text and detector slot.
#[derive(Debug, Clone, Default)]
pub struct Scanned {
    matches: Vec<Vec<KeywordMatch>>,
    slots: usize,
    /// False when no pass ran: detectors must then scan every text in full.
    complete: bool,
}

/// What one detector sees of one call: its texts and where its keywords occur in them.
#[derive(Clone, Copy)]
pub struct Scan<'a> {
    pub text: &'a LlmText<'a>,
    scanned: &'a Scanned,
    slot: usize,
}

/// One text as a detector sees it.
#[derive(Debug, Clone, Copy)]
pub struct TextScan<'a> {
    pub role: Role,
    pub text: &'a str,
    /// The detector's keyword occurrences in order of their end; `None` when no keyword
    /// pass ran (every keyword may occur).
    pub keywords: Option<&'a [KeywordMatch]>,
}

impl TextScan<'_> {
    /// Whether any of the detector's keywords may occur in the text.
    pub fn any_keyword(&self) -> bool {
        self.keywords.is_none_or(|k| !k.is_empty())
    }

    /// Whether this keyword (by local id) may occur in the text.
    pub fn has_keyword(&self, keyword: usize) -> bool {
        self.keywords
            .is_none_or(|k| k.iter().any(|m| m.keyword == keyword))
    }
}

impl<'a> Scan<'a> {
    /// The view of detector `slot`.
    pub fn new(text: &'a LlmText<'a>, scanned: &'a Scanned, slot: usize) -> Scan<'a> {
        Scan {
            text,
            scanned,
            slot,
        }
    }

    /// Every text, with its role and this detector's keyword occurrences.
    pub fn texts(&self) -> impl Iterator<Item = TextScan<'a>> + '_ {
        self.text.all().enumerate().map(|(t, (role, text))| {
            let keywords = match self.scanned.complete {
                true => Some(
                    self.scanned
                        .matches
                        .get(t * self.scanned.slots + self.slot)
                        .map_or(&[][..], Vec::as_slice),
                ),
                false => None,
            };
            TextScan {
                role,
                text,
                keywords,
            }
        })
    }

    /// The texts of one side of the conversation.
    pub fn role(&self, role: Role) -> impl Iterator<Item = TextScan<'a>> + '_ {
        self.texts().filter(move |t| t.role == role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_go_to_their_detector_with_local_ids() {
        let pass = KeywordPass::new(&[
            vec!["key".into(), "token".into()],
            vec![],
            vec!["http".into(), "KEY".into()],
        ]);
        let text = LlmText {
            prompt: vec!["nothing to see"],
            completion: vec!["the Key and the token at http://x"],
        };
        let scanned = pass.scan(&text);
        let first: Vec<_> = Scan::new(&text, &scanned, 0).texts().collect();
        assert_eq!(first[0].keywords, Some(&[][..]));
        assert!(!first[0].any_keyword());
        let ids: Vec<usize> = first[1]
            .keywords
            .unwrap()
            .iter()
            .map(|m| m.keyword)
            .collect();
        assert_eq!(ids, vec![0, 1]);
        assert_eq!(&text.completion[0][4..7], "Key");
        let third: Vec<_> = Scan::new(&text, &scanned, 2)
            .role(Role::Completion)
            .collect();
        let spans: Vec<_> = third[0]
            .keywords
            .unwrap()
            .iter()
            .map(|m| (m.keyword, m.start))
            .collect();
        assert_eq!(spans, vec![(1, 4), (0, 25)]);
        assert!(Scan::new(&text, &scanned, 1)
            .texts()
            .all(|t| !t.any_keyword()));
    }

    #[test]
    fn without_a_pass_every_keyword_may_occur() {
        let text = LlmText {
            prompt: vec!["a"],
            completion: vec![],
        };
        let scanned = Scanned::default();
        let t: Vec<_> = Scan::new(&text, &scanned, 3).texts().collect();
        assert!(t[0].any_keyword() && t[0].has_keyword(7));
    }
}
