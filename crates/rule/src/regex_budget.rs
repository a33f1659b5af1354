//! One budget of compiled regular expressions for a whole rule set.
//!
//! Each regex is bounded by the `regex` crate's own size limit (10 MiB compiled), but a
//! rule set of thousands of rules, each with regexes under that limit, can still compile to
//! gigabytes. Every regex a rule compiles is charged to one [`RegexBudget`] shared by the
//! rule set (`[rules] regex_budget`): the rule whose regex would cross it fails to load with
//! an error that names the budget, the others load.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use regex::{Regex, RegexBuilder};
use regex_automata::{meta, util::syntax, MatchKind};

/// The `regex` crate's limit on one compiled regex (its default).
pub const REGEX_SIZE_LIMIT: usize = 10 << 20;

/// The `regex` crate's default capacity of a regex's lazy DFA cache, per thread.
pub const REGEX_DFA_SIZE_LIMIT: usize = 2 << 20;

/// Why a regex did not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegexError {
    /// Not a valid regex, or larger than one regex may be.
    #[error("{0}")]
    Invalid(String),
    /// Compiling it would take the rule set past its budget.
    #[error("the rule set's compiled regular expressions would take more than the {limit}-byte budget (regex_budget); {used} bytes are taken")]
    OverBudget { limit: usize, used: usize },
}

/// The compiled size of every regex a rule set holds, against a limit. Clones share one
/// budget (loading is sequential; the count is atomic so that a budget can cross threads).
#[derive(Debug, Clone)]
pub struct RegexBudget {
    limit: usize,
    used: Arc<AtomicUsize>,
}

impl Default for RegexBudget {
    /// A budget of the default [`crate::Limits::regex_budget`].
    fn default() -> RegexBudget {
        RegexBudget::new(crate::Limits::default().regex_budget)
    }
}

impl RegexBudget {
    pub fn new(limit: usize) -> RegexBudget {
        RegexBudget {
            limit,
            used: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A budget nothing exceeds (each regex is still bounded by itself).
    pub fn unlimited() -> RegexBudget {
        RegexBudget::new(usize::MAX)
    }

    /// Bytes of compiled regexes charged so far.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Compiles `pattern` as `Regex::new` does, charging its compiled size.
    pub fn compile(&self, pattern: &str) -> Result<Regex, RegexError> {
        self.compile_sized(pattern, REGEX_SIZE_LIMIT, REGEX_DFA_SIZE_LIMIT)
    }

    /// Compiles `pattern` as `RegexBuilder` does with `size_limit` and `dfa_size_limit`,
    /// charging its compiled size. A regex larger than the budget has left fails without
    /// being compiled past it.
    pub fn compile_sized(
        &self,
        pattern: &str,
        size_limit: usize,
        dfa_size_limit: usize,
    ) -> Result<Regex, RegexError> {
        let used = self.used();
        let left = self.limit.saturating_sub(used);
        let over = || RegexError::OverBudget {
            limit: self.limit,
            used,
        };
        if left == 0 {
            return Err(over());
        }
        let bounded = size_limit.min(left);
        let regex = RegexBuilder::new(pattern)
            .size_limit(bounded)
            .dfa_size_limit(dfa_size_limit)
            .build();
        let regex = match regex {
            Ok(r) => r,
            // Too big for what the budget has left, though not for a regex: the budget's.
            Err(regex::Error::CompiledTooBig(_)) if bounded < size_limit => return Err(over()),
            Err(e) => return Err(RegexError::Invalid(e.to_string())),
        };
        let size = compiled_size(pattern, bounded, dfa_size_limit).unwrap_or(bounded);
        if size > left {
            return Err(over());
        }
        self.used.fetch_add(size, Ordering::Relaxed);
        Ok(regex)
    }
}

/// Whether `pattern` is a regex as `Regex::new` parses it (its message as `Regex::new`
/// gives it when not), without compiling it: a rule's syntax checked before the regex is
/// compiled (and charged) once.
pub fn check_syntax(pattern: &str) -> Result<(), RegexError> {
    syntax::parse(pattern)
        .map(|_| ())
        .map_err(|e| RegexError::Invalid(e.to_string()))
}

/// The heap a regex compiled as `RegexBuilder` compiles it holds (its lazy DFA caches,
/// which grow per thread as it matches, aside): the same compilation through
/// `regex-automata`, which tells.
fn compiled_size(pattern: &str, size_limit: usize, dfa_size_limit: usize) -> Option<usize> {
    let config = meta::Config::new()
        .nfa_size_limit(Some(size_limit))
        .hybrid_cache_capacity(dfa_size_limit)
        .match_kind(MatchKind::LeftmostFirst)
        .utf8_empty(true);
    meta::Builder::new()
        .configure(config)
        .syntax(syntax::Config::default().utf8(true))
        .build(pattern)
        .ok()
        .map(|r| r.memory_usage())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_is_checked_as_regex_new_checks_it() {
        assert!(check_syntax(r"a+\d{2,}(?i)x").is_ok());
        for bad in ["a(b", "[z-a]", r"\p{NoSuchClass}", "a{3,1}"] {
            let ours = check_syntax(bad).unwrap_err().to_string();
            let theirs = Regex::new(bad).unwrap_err().to_string();
            assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn regexes_are_charged_until_the_budget_is_spent() {
        let budget = RegexBudget::new(2 << 20);
        let small = budget.compile("a+b").unwrap();
        assert!(small.is_match("aab"));
        let after_one = budget.used();
        assert!(after_one > 0 && after_one < 64 << 10, "{after_one}");
        // Each about 560 KB compiled: three fit, the fourth does not.
        let big = r"\w{10}";
        let shared = budget.clone();
        let mut ok = 0;
        let err = loop {
            match shared.compile(big) {
                Ok(_) => ok += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(ok, 3);
        assert!(matches!(err, RegexError::OverBudget { .. }), "{err}");
        assert!(budget.used() <= 2 << 20);
        assert!(err.to_string().contains("regex_budget"), "{err}");
        // Invalid is invalid, whatever the budget.
        let e = RegexBudget::unlimited().compile("(").unwrap_err();
        assert!(matches!(e, RegexError::Invalid(_)), "{e}");
    }
}
