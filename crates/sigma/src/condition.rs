//! The `condition` of a Sigma rule: parsing it and resolving its search identifiers.
//!
//! A Sigma rule's `detection` section holds named *search identifiers* (`selection`,
//! `filter_admin`, …) and a `condition` that combines them. This module turns the condition
//! text into a [`Condition`] tree whose leaves are identifiers that are known to exist, so a
//! rule whose condition names a missing identifier is rejected when it is loaded rather than
//! silently never matching.
//!
//! # Grammar
//!
//! ```text
//! condition   = or-expr
//! or-expr     = and-expr { "or" and-expr }
//! and-expr    = not-expr { "and" not-expr }
//! not-expr    = "not" not-expr | primary
//! primary     = "(" or-expr ")" | selector | identifier
//! selector    = quantifier "of" ( "them" | pattern )
//! quantifier  = "1" | "any" | "all"
//! identifier  = word of ASCII letters, digits, "_" and "-"
//! pattern     = like identifier, and may also contain "*"
//! ```
//!
//! * Precedence, from least to most binding: `or`, `and`, `not`, `x of …`, parentheses.
//!   `a or b and c` is `a or (b and c)`, `not a and b` is `(not a) and b`, and both binary
//!   operators are left-associative. `not not a` is allowed.
//! * Keywords are lowercase. `AND`, `Or`, `NOT`… are rejected with an error that says so, as
//!   pySigma does (except where such a word is itself a declared search identifier used as an
//!   operand).
//! * Words are whole words: `notepad`, `android` and `order` are identifiers, never `not epad`
//!   and friends (pySigma's parser splits them; the Sigma specification does not).
//! * `1 of P` and `any of P` are true when at least one of the selected identifiers matches,
//!   `all of P` when all of them match. `P` is either `them`, which selects every search
//!   identifier, or a pattern in which `*` stands for any number of characters.
//! * Identifiers starting with `_` are never selected by `them` nor by a pattern (by
//!   convention they are helpers), but can still be named directly: `selection and not _x`.
//! * A selector that selects nothing is an error (`1 of filter*` with no `filter…`
//!   identifier is almost certainly a typo); so is a quantifier other than `1`, `any` and
//!   `all`: Sigma has no `2 of …`.
//! * `|` is an error anywhere in a condition: the aggregations of Sigma 1
//!   (`selection | count() > 5`) were replaced by correlation rules.
//! * A rule may have a list of conditions; the list means their `or`
//!   ([`parse_conditions`]).
//!
//! # Difference from pySigma: patterns match whole identifiers
//!
//! pySigma turns a pattern into a regular expression that is only anchored at the start of
//! the identifier, so a pattern without `*` is a prefix match: in pySigma `all of selection`
//! also selects `selection_extra`, and `1 of sel*x` selects `sel_x_more`. modelward follows
//! the text of the specification instead — "Matching is done with * wildcards (any number of
//! characters) at arbitrary positions in the pattern" — and matches the pattern against the
//! *whole* identifier: `all of selection` selects exactly `selection`, and a pattern that is
//! meant as a prefix says so with a trailing `*` (`selection*`), as every rule in the Sigma
//! repository does. pySigma also does not allow `-` in patterns; modelward does, since it is
//! allowed in identifiers.
//!
//! # Example
//!
//! ```
//! use modelward_sigma::condition::{parse_condition, Condition};
//!
//! let identifiers = ["selection_a", "selection_b", "filter"].map(String::from);
//! let condition = parse_condition("1 of selection* and not filter", &identifiers).unwrap();
//! assert_eq!(
//!     condition,
//!     Condition::And(vec![
//!         Condition::OneOf(vec!["selection_a".into(), "selection_b".into()]),
//!         Condition::Not(Box::new(Condition::Id("filter".into()))),
//!     ])
//! );
//! assert_eq!(condition.to_string(), "(selection_a or selection_b) and not filter");
//!
//! let error = parse_condition("1 of selection* and not fliter", &identifiers).unwrap_err();
//! assert_eq!(error.offset, 24);
//! assert_eq!(error.message, "search identifier `fliter` is not defined");
//! ```

use std::fmt;

use modelward_event::glob::glob_match;

/// Conditions nested deeper than this (parentheses and `not` together) are rejected, so that
/// no input can exhaust the stack.
const MAX_DEPTH: usize = 100;

/// A parsed condition whose identifiers all exist in the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// A search identifier, matched with the default behaviour of its map (and) or list (or).
    Id(String),
    /// `not x`.
    Not(Box<Condition>),
    /// `x and y and …`: flattened (an `And` never directly contains an `And`), 2 or more items.
    And(Vec<Condition>),
    /// `x or y or …`: flattened (an `Or` never directly contains an `Or`), 2 or more items.
    Or(Vec<Condition>),
    /// `1 of P` / `any of P` / `1 of them`: true when at least one of these identifiers
    /// matches. They are the identifiers selected by `P`, in declaration order, never empty.
    /// A selector that selects a single identifier still gives `OneOf` with one item.
    OneOf(Vec<String>),
    /// `all of P` / `all of them`: true when all of these identifiers match. They are the
    /// identifiers selected by `P`, in declaration order, never empty.
    AllOf(Vec<String>),
}

/// Why a condition was rejected, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConditionError {
    /// Byte offset in the condition text of the offending token (for a condition that ends
    /// too early, of the last token; for an empty condition, 0). Always a char boundary and at
    /// most the length of the text.
    pub offset: usize,
    /// What is wrong, in one sentence without the position.
    pub message: String,
}

impl ConditionError {
    fn new(offset: usize, message: impl Into<String>) -> Self {
        Self {
            offset,
            message: message.into(),
        }
    }
}

/// Parses one condition.
///
/// `identifiers` are the rule's search identifiers in declaration order (the keys of
/// `detection` other than `condition`). Every identifier the condition names must be one of
/// them, and `them` and patterns select among them.
pub fn parse_condition(text: &str, identifiers: &[String]) -> Result<Condition, ConditionError> {
    if let Some(offset) = text.find('|') {
        return Err(ConditionError::new(
            offset,
            "`|` is not allowed in a condition: the aggregations of Sigma 1 \
             (`selection | count() > 5`) were replaced by correlation rules",
        ));
    }
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err(ConditionError::new(0, "the condition is empty"));
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        identifiers,
    };
    let condition = parser.parse_or(0)?;
    match parser.peek() {
        None => Ok(condition),
        Some(token) => Err(match token.kind {
            Kind::RParen => ConditionError::new(
                token.offset,
                "unbalanced parentheses: this `)` has no matching `(`",
            ),
            Kind::LParen | Kind::Word(_) => parser.expected_operator(token, false),
        }),
    }
}

/// Parses the conditions of a rule whose `condition` is a list: the result is their `or`.
///
/// On error, returns the index of the faulty condition in `texts` with its error. An empty
/// list is an error (index 0).
pub fn parse_conditions(
    texts: &[&str],
    identifiers: &[String],
) -> Result<Condition, (usize, ConditionError)> {
    if texts.is_empty() {
        return Err((0, ConditionError::new(0, "the list of conditions is empty")));
    }
    let mut items = Vec::with_capacity(texts.len());
    for (index, text) in texts.iter().enumerate() {
        items.push(parse_condition(text, identifiers).map_err(|error| (index, error))?);
    }
    Ok(combine(items, Operator::Or))
}

impl Condition {
    /// Every search identifier the condition refers to, directly or through a selector, each
    /// once, in order of first appearance.
    pub fn identifiers(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_identifiers(&mut out);
        out
    }

    fn collect_identifiers<'a>(&'a self, out: &mut Vec<&'a str>) {
        let mut add = |id: &'a str| {
            if !out.contains(&id) {
                out.push(id);
            }
        };
        match self {
            Condition::Id(id) => add(id),
            Condition::OneOf(ids) | Condition::AllOf(ids) => ids.iter().for_each(|id| add(id)),
            Condition::Not(inner) => inner.collect_identifiers(out),
            Condition::And(items) | Condition::Or(items) => {
                for item in items {
                    item.collect_identifiers(out);
                }
            }
        }
    }

    /// Binding strength of the text [`Display`](fmt::Display) writes for this condition:
    /// 1 for an `or`, 2 for an `and`, 3 for a `not`, 4 for an atom.
    fn precedence(&self) -> u8 {
        match self {
            Condition::Or(items) | Condition::And(items) if items.len() == 1 => {
                items[0].precedence()
            }
            Condition::Or(items) if items.len() > 1 => 1,
            Condition::OneOf(ids) if ids.len() > 1 => 1,
            Condition::And(items) if items.len() > 1 => 2,
            Condition::AllOf(ids) if ids.len() > 1 => 2,
            Condition::Not(_) => 3,
            _ => 4,
        }
    }

    fn write(&self, f: &mut fmt::Formatter<'_>, min_precedence: u8) -> fmt::Result {
        if let Condition::Or(items) | Condition::And(items) = self {
            if let [item] = items.as_slice() {
                return item.write(f, min_precedence);
            }
        }
        if self.precedence() < min_precedence {
            f.write_str("(")?;
            self.write(f, 0)?;
            return f.write_str(")");
        }
        match self {
            Condition::Id(id) => f.write_str(id),
            Condition::Not(inner) => {
                f.write_str("not ")?;
                inner.write(f, 3)
            }
            Condition::Or(items) | Condition::And(items) => {
                let (separator, precedence, empty) = match self {
                    Condition::Or(_) => (" or ", 1, "1 of ()"),
                    _ => (" and ", 2, "all of ()"),
                };
                if items.is_empty() {
                    return f.write_str(empty);
                }
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        f.write_str(separator)?;
                    }
                    item.write(f, precedence)?;
                }
                Ok(())
            }
            Condition::OneOf(ids) | Condition::AllOf(ids) => {
                let (separator, empty) = match self {
                    Condition::OneOf(_) => (" or ", "1 of ()"),
                    _ => (" and ", "all of ()"),
                };
                if ids.is_empty() {
                    return f.write_str(empty);
                }
                f.write_str(&ids.join(separator))
            }
        }
    }
}

/// Canonical text of the condition: operators in lowercase separated by single spaces, and
/// parentheses only where precedence needs them. Selectors are written as what they
/// selected: `1 of sel*` becomes `sel1 or sel2` (or just `sel1`), `all of sel*` becomes
/// `sel1 and sel2`. The text of a parsed condition parses again to the same meaning.
/// (`Or`, `And`, `OneOf` and `AllOf` built by hand with no items, which [`parse_condition`]
/// never returns, are written `1 of ()` or `all of ()`.)
impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, 0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    And,
    Or,
}

/// The `and`/`or` of `items` (at least one), flattening nested operations of the same kind.
fn combine(mut items: Vec<Condition>, operator: Operator) -> Condition {
    if items.len() == 1 {
        return items.remove(0);
    }
    let mut flat = Vec::with_capacity(items.len());
    for item in items {
        match (operator, item) {
            (Operator::And, Condition::And(inner)) | (Operator::Or, Condition::Or(inner)) => {
                flat.extend(inner)
            }
            (_, item) => flat.push(item),
        }
    }
    match operator {
        Operator::And => Condition::And(flat),
        Operator::Or => Condition::Or(flat),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind<'a> {
    LParen,
    RParen,
    /// A run of ASCII letters, digits, `_`, `-` and `*`.
    Word(&'a str),
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind<'a>,
    offset: usize,
}

impl<'a> Token<'a> {
    /// The token for messages: `` `and` ``, `` `(` ``.
    fn describe(&self) -> String {
        match self.kind {
            Kind::LParen => "`(`".to_owned(),
            Kind::RParen => "`)`".to_owned(),
            Kind::Word(word) => format!("`{word}`"),
        }
    }

    fn word(&self) -> Option<&'a str> {
        match self.kind {
            Kind::Word(word) => Some(word),
            _ => None,
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '*')
}

fn tokenize(text: &str) -> Result<Vec<Token<'_>>, ConditionError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        let kind = match c {
            c if c.is_whitespace() => continue,
            '(' => Kind::LParen,
            ')' => Kind::RParen,
            c if is_word_char(c) => {
                let mut end = offset + c.len_utf8();
                while let Some(&(next, c)) = chars.peek() {
                    if !is_word_char(c) {
                        break;
                    }
                    end = next + c.len_utf8();
                    chars.next();
                }
                Kind::Word(&text[offset..end])
            }
            c => {
                return Err(ConditionError::new(
                    offset,
                    format!(
                        "unexpected character `{}` in the condition: search identifiers are made \
                         of ASCII letters, digits, `_` and `-`",
                        c.escape_debug()
                    ),
                ));
            }
        };
        tokens.push(Token { kind, offset });
    }
    Ok(tokens)
}

/// `and`, `or` and `not`.
const OPERATORS: [&str; 3] = ["and", "or", "not"];

/// The lowercase operator `word` is a different spelling of (`AND` → `and`), if any.
fn miscased_operator(word: &str) -> Option<&'static str> {
    OPERATORS
        .into_iter()
        .find(|operator| word != *operator && word.eq_ignore_ascii_case(operator))
}

struct Parser<'a, 'i> {
    tokens: Vec<Token<'a>>,
    pos: usize,
    identifiers: &'i [String],
}

impl<'a> Parser<'a, '_> {
    fn peek(&self) -> Option<Token<'a>> {
        self.tokens.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<Token<'a>> {
        self.tokens.get(self.pos + ahead).copied()
    }

    fn previous(&self) -> Option<Token<'a>> {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .copied()
    }

    fn is_declared(&self, word: &str) -> bool {
        self.identifiers.iter().any(|id| id == word)
    }

    /// Consumes the binary operator `operator` if it is next. A miscased operator in this
    /// position is an error (an identifier cannot follow an operand anyway).
    fn eat_operator(&mut self, operator: &str) -> Result<bool, ConditionError> {
        let Some(token) = self.peek() else {
            return Ok(false);
        };
        let Some(word) = token.word() else {
            return Ok(false);
        };
        if word == operator {
            self.pos += 1;
            return Ok(true);
        }
        if let Some(lowercase) = miscased_operator(word) {
            return Err(lowercase_error(token.offset, lowercase));
        }
        Ok(false)
    }

    /// The error for `token` found where `and`, `or` (or `)` when `in_parentheses`) was
    /// expected.
    fn expected_operator(&self, token: Token<'a>, in_parentheses: bool) -> ConditionError {
        if let Some(lowercase) = token.word().and_then(miscased_operator) {
            return lowercase_error(token.offset, lowercase);
        }
        let expected = if in_parentheses {
            "`and`, `or` or `)`"
        } else {
            "`and` or `or`"
        };
        let hint = if token.word() == Some("not") {
            " (did you mean `and not`?)"
        } else {
            ""
        };
        ConditionError::new(
            token.offset,
            format!("expected {expected} before {}{hint}", token.describe()),
        )
    }

    /// The error for a missing operand: `found` is what came instead, `None` at the end.
    fn expected_operand(&self, found: Option<Token<'a>>) -> ConditionError {
        let after = self
            .previous()
            .map(|previous| format!(" after {}", previous.describe()))
            .unwrap_or_default();
        match found {
            Some(token) => ConditionError::new(
                token.offset,
                format!(
                    "expected a search identifier{after}, found {}",
                    token.describe()
                ),
            ),
            None => ConditionError::new(
                self.previous().map_or(0, |previous| previous.offset),
                format!("expected a search identifier{after}, found the end of the condition"),
            ),
        }
    }

    fn parse_or(&mut self, depth: usize) -> Result<Condition, ConditionError> {
        let mut items = vec![self.parse_and(depth)?];
        while self.eat_operator("or")? {
            items.push(self.parse_and(depth)?);
        }
        Ok(combine(items, Operator::Or))
    }

    fn parse_and(&mut self, depth: usize) -> Result<Condition, ConditionError> {
        let mut items = vec![self.parse_not(depth)?];
        while self.eat_operator("and")? {
            items.push(self.parse_not(depth)?);
        }
        Ok(combine(items, Operator::And))
    }

    fn parse_not(&mut self, depth: usize) -> Result<Condition, ConditionError> {
        match self.peek() {
            Some(token) if token.word() == Some("not") => {
                check_depth(depth, token)?;
                self.pos += 1;
                Ok(Condition::Not(Box::new(self.parse_not(depth + 1)?)))
            }
            _ => self.parse_primary(depth),
        }
    }

    fn parse_primary(&mut self, depth: usize) -> Result<Condition, ConditionError> {
        let Some(token) = self.peek() else {
            return Err(self.expected_operand(None));
        };
        let word = match token.kind {
            Kind::LParen => {
                check_depth(depth, token)?;
                self.pos += 1;
                let inner = self.parse_or(depth + 1)?;
                return match self.peek() {
                    Some(Token {
                        kind: Kind::RParen, ..
                    }) => {
                        self.pos += 1;
                        Ok(inner)
                    }
                    Some(next) => Err(self.expected_operator(next, true)),
                    None => Err(ConditionError::new(
                        token.offset,
                        "unbalanced parentheses: this `(` is never closed",
                    )),
                };
            }
            Kind::RParen => return Err(self.expected_operand(Some(token))),
            Kind::Word(word) => word,
        };

        // `x of …`
        let of = self
            .peek_at(1)
            .and_then(|of| Some((of, of.word()?)))
            .filter(|(_, of_word)| of_word.eq_ignore_ascii_case("of"));
        if let Some((of, of_word)) = of {
            if !OPERATORS.contains(&word) {
                return self.parse_selector(token, word, of, of_word);
            }
        }

        let declared = self.is_declared(word);
        let error = |message: String| Err(ConditionError::new(token.offset, message));
        if word == "and" || word == "or" {
            return Err(self.expected_operand(Some(token)));
        }
        if !declared {
            if let Some(lowercase) = miscased_operator(word) {
                return Err(lowercase_error(token.offset, lowercase));
            }
            if word == "of" {
                return error(
                    "`of` must follow `1`, `any` or `all`, as in `1 of selection*`".into(),
                );
            }
            if word == "them" {
                return error("`them` can only be used in `1 of them` or `all of them`".into());
            }
            if word.contains('*') {
                return error(format!(
                    "the wildcard pattern `{word}` can only be used after `1 of`, `any of` or \
                     `all of`, as in `1 of {word}`"
                ));
            }
            let hint = self
                .identifiers
                .iter()
                .find(|id| id.eq_ignore_ascii_case(word))
                .map(|id| format!(" (identifiers are case-sensitive: did you mean `{id}`?)"))
                .unwrap_or_default();
            return error(format!("search identifier `{word}` is not defined{hint}"));
        }
        self.pos += 1;
        Ok(Condition::Id(word.to_owned()))
    }

    /// Parses `quantifier of target`; `self.pos` is at `quantifier`, followed by `of` (in any
    /// case).
    fn parse_selector(
        &mut self,
        quantifier_token: Token<'a>,
        quantifier: &'a str,
        of: Token<'a>,
        of_word: &str,
    ) -> Result<Condition, ConditionError> {
        if of_word != "of" {
            return Err(ConditionError::new(
                of.offset,
                "keywords are lowercase: use `of`",
            ));
        }
        let all = match quantifier {
            "1" | "any" => false,
            "all" => true,
            _ => {
                let message = if quantifier.eq_ignore_ascii_case("any")
                    || quantifier.eq_ignore_ascii_case("all")
                {
                    format!(
                        "keywords are lowercase: use `{}`",
                        quantifier.to_ascii_lowercase()
                    )
                } else {
                    format!(
                        "unsupported quantifier `{quantifier}`: Sigma only has `1 of`, `any of` \
                         and `all of`"
                    )
                };
                return Err(ConditionError::new(quantifier_token.offset, message));
            }
        };
        self.pos += 2;
        let selector = format!("{quantifier} of");
        let target = match self.peek() {
            Some(token) => match token.word() {
                Some(word) if !OPERATORS.contains(&word) => (token, word),
                _ => {
                    return Err(ConditionError::new(
                        token.offset,
                        format!(
                            "`{selector}` must be followed by `them` or a search identifier \
                             pattern such as `selection*`, found {}",
                            token.describe()
                        ),
                    ));
                }
            },
            None => {
                return Err(ConditionError::new(
                    of.offset,
                    format!(
                        "`{selector}` must be followed by `them` or a search identifier pattern \
                         such as `selection*`"
                    ),
                ));
            }
        };
        let (target_token, target) = target;
        let mut selected: Vec<String> = Vec::new();
        for id in self.identifiers {
            if !id.starts_with('_')
                && (target == "them" || glob_match(target, id))
                && !selected.contains(id)
            {
                selected.push(id.clone());
            }
        }
        if selected.is_empty() {
            let hint = if target.eq_ignore_ascii_case("them") && target != "them" {
                " (keywords are lowercase: use `them`)"
            } else if target == "them" || target.starts_with('_') {
                " (identifiers starting with `_` are never selected by `them` or a pattern)"
            } else {
                ""
            };
            return Err(ConditionError::new(
                target_token.offset,
                format!("`{selector} {target}` matches no search identifier{hint}"),
            ));
        }
        self.pos += 1;
        Ok(if all {
            Condition::AllOf(selected)
        } else {
            Condition::OneOf(selected)
        })
    }
}

fn lowercase_error(offset: usize, lowercase: &str) -> ConditionError {
    ConditionError::new(
        offset,
        format!("operators are lowercase: use `{lowercase}`"),
    )
}

fn check_depth(depth: usize, token: Token<'_>) -> Result<(), ConditionError> {
    if depth >= MAX_DEPTH {
        Err(ConditionError::new(
            token.offset,
            format!("the condition is nested more than {MAX_DEPTH} levels deep"),
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    fn id(name: &str) -> Condition {
        Condition::Id(name.to_owned())
    }

    fn not(condition: Condition) -> Condition {
        Condition::Not(Box::new(condition))
    }

    const ABC: &[&str] = &["a", "b", "c", "d"];

    fn parse(text: &str, declared: &[&str]) -> Condition {
        parse_condition(text, &ids(declared))
            .unwrap_or_else(|error| panic!("{text:?}: {error} at {}", error.offset))
    }

    fn error(text: &str, declared: &[&str]) -> ConditionError {
        match parse_condition(text, &ids(declared)) {
            Ok(condition) => panic!("{text:?} parsed as {condition:?}"),
            Err(error) => error,
        }
    }

    /// Asserts the error's offset and that its message contains `needle`.
    fn assert_error(text: &str, declared: &[&str], offset: usize, needle: &str) {
        let error = error(text, declared);
        assert!(
            error.message.contains(needle),
            "{text:?}: message {:?} does not contain {needle:?}",
            error.message
        );
        assert_eq!(error.offset, offset, "{text:?}: {}", error.message);
    }

    // --- Precedence and associativity ---

    #[test]
    fn single_identifier() {
        assert_eq!(parse("a", ABC), id("a"));
        assert_eq!(parse("  a\n", ABC), id("a"));
    }

    #[test]
    fn and_binds_tighter_than_or() {
        assert_eq!(
            parse("a or b and c", ABC),
            Condition::Or(vec![id("a"), Condition::And(vec![id("b"), id("c")])])
        );
        assert_eq!(
            parse("a and b or c", ABC),
            Condition::Or(vec![Condition::And(vec![id("a"), id("b")]), id("c")])
        );
        assert_eq!(
            parse("a and b or c and d", ABC),
            Condition::Or(vec![
                Condition::And(vec![id("a"), id("b")]),
                Condition::And(vec![id("c"), id("d")]),
            ])
        );
    }

    #[test]
    fn not_binds_tighter_than_and() {
        assert_eq!(
            parse("not a and b", ABC),
            Condition::And(vec![not(id("a")), id("b")])
        );
        assert_eq!(
            parse("a and not b or c", ABC),
            Condition::Or(vec![Condition::And(vec![id("a"), not(id("b"))]), id("c")])
        );
    }

    #[test]
    fn double_negation_is_kept() {
        assert_eq!(parse("not not a", ABC), not(not(id("a"))));
        assert_eq!(parse("not not a", ABC).to_string(), "not not a");
    }

    #[test]
    fn chains_are_flattened() {
        assert_eq!(
            parse("a and b and c", ABC),
            Condition::And(vec![id("a"), id("b"), id("c")])
        );
        assert_eq!(
            parse("a or (b or c) or d", ABC),
            Condition::Or(vec![id("a"), id("b"), id("c"), id("d")])
        );
        assert_eq!(
            parse("(a and b) and (c and d)", ABC),
            Condition::And(vec![id("a"), id("b"), id("c"), id("d")])
        );
    }

    #[test]
    fn parentheses_override_precedence() {
        assert_eq!(
            parse("(a or b) and c", ABC),
            Condition::And(vec![Condition::Or(vec![id("a"), id("b")]), id("c")])
        );
        assert_eq!(
            parse("not (a or b)", ABC),
            not(Condition::Or(vec![id("a"), id("b")]))
        );
        assert_eq!(parse("((a))", ABC), id("a"));
        assert_eq!(parse("(not(a))", ABC), not(id("a")));
        assert_eq!(
            parse("(a)and(b)", ABC),
            Condition::And(vec![id("a"), id("b")])
        );
    }

    // --- The examples of the specification ---

    #[test]
    fn spec_examples() {
        let declared = [
            "selection",
            "selection1",
            "selection2",
            "selection3",
            "filter",
            "filter_admin",
            "filter_system",
            "keywords",
            "keywords1",
            "keywords2",
        ];
        assert_eq!(
            parse("selection and not filter", &declared),
            Condition::And(vec![id("selection"), not(id("filter"))])
        );
        assert_eq!(
            parse("keywords1 or keywords2", &declared),
            Condition::Or(vec![id("keywords1"), id("keywords2")])
        );
        assert_eq!(
            parse("(selection1 and selection2) or selection3", &declared),
            Condition::Or(vec![
                Condition::And(vec![id("selection1"), id("selection2")]),
                id("selection3"),
            ])
        );
        let selections = ids(&["selection", "selection1", "selection2", "selection3"]);
        assert_eq!(
            parse("all of selection*", &declared),
            Condition::AllOf(selections.clone())
        );
        assert_eq!(
            parse("1 of selection* and keywords", &declared),
            Condition::And(vec![Condition::OneOf(selections.clone()), id("keywords")])
        );
        assert_eq!(
            parse("1 of selection* and not 1 of filter*", &declared),
            Condition::And(vec![
                Condition::OneOf(selections),
                not(Condition::OneOf(ids(&[
                    "filter",
                    "filter_admin",
                    "filter_system"
                ]))),
            ])
        );
        assert_eq!(
            parse("1 of them", &declared),
            Condition::OneOf(ids(&declared))
        );
        assert_eq!(
            parse("all of them", &declared),
            Condition::AllOf(ids(&declared))
        );
    }

    // --- Selectors ---

    #[test]
    fn selectors_keep_declaration_order() {
        let declared = ["selection_b", "filter", "selection_a", "selection_c"];
        assert_eq!(
            parse("1 of selection*", &declared),
            Condition::OneOf(ids(&["selection_b", "selection_a", "selection_c"]))
        );
        assert_eq!(
            parse("all of selection*", &declared),
            Condition::AllOf(ids(&["selection_b", "selection_a", "selection_c"]))
        );
    }

    #[test]
    fn any_is_one() {
        let declared = ["sel1", "sel2", "other"];
        assert_eq!(
            parse("any of sel*", &declared),
            parse("1 of sel*", &declared)
        );
        assert_eq!(
            parse("any of them", &declared),
            Condition::OneOf(ids(&declared))
        );
    }

    #[test]
    fn them_and_patterns_exclude_underscore_identifiers() {
        let declared = ["selection", "_helper", "filter", "_sel_x"];
        assert_eq!(
            parse("1 of them", &declared),
            Condition::OneOf(ids(&["selection", "filter"]))
        );
        assert_eq!(
            parse("all of them", &declared),
            Condition::AllOf(ids(&["selection", "filter"]))
        );
        assert_eq!(
            parse("1 of *sel*", &declared),
            Condition::OneOf(ids(&["selection"]))
        );
        // Named directly, an underscore identifier is fine.
        assert_eq!(
            parse("selection and not _helper", &declared),
            Condition::And(vec![id("selection"), not(id("_helper"))])
        );
        assert_error(
            "1 of _sel*",
            &declared,
            5,
            "`1 of _sel*` matches no search identifier (identifiers starting with `_`",
        );
        assert_error(
            "all of them",
            &["_a", "_b"],
            7,
            "`all of them` matches no search identifier (identifiers starting with `_`",
        );
    }

    #[test]
    fn patterns_match_whole_identifiers() {
        let declared = [
            "selection",
            "selection_extra",
            "sel_x_more",
            "sel_x",
            "a-b-c",
            "xsel",
        ];
        // Unlike pySigma, no implicit prefix match.
        assert_eq!(
            parse("all of selection", &declared),
            Condition::AllOf(ids(&["selection"]))
        );
        assert_eq!(
            parse("1 of sel*x", &declared),
            Condition::OneOf(ids(&["sel_x"]))
        );
        assert_eq!(
            parse("1 of *sel*", &declared),
            Condition::OneOf(ids(&[
                "selection",
                "selection_extra",
                "sel_x_more",
                "sel_x",
                "xsel"
            ]))
        );
        assert_eq!(
            parse("1 of *_*_*", &declared),
            Condition::OneOf(ids(&["sel_x_more"]))
        );
        assert_eq!(
            parse("1 of a-*-c", &declared),
            Condition::OneOf(ids(&["a-b-c"]))
        );
        assert_eq!(parse("1 of *", &declared), Condition::OneOf(ids(&declared)));
        assert_eq!(
            parse("1 of **selection**", &declared),
            Condition::OneOf(ids(&["selection", "selection_extra"]))
        );
        assert_error(
            "1 of selection_",
            &declared,
            5,
            "`1 of selection_` matches no search identifier",
        );
    }

    #[test]
    fn selector_binds_tighter_than_not() {
        let declared = ["sel1", "sel2", "filter"];
        assert_eq!(
            parse("not 1 of sel* or filter", &declared),
            Condition::Or(vec![
                not(Condition::OneOf(ids(&["sel1", "sel2"]))),
                id("filter"),
            ])
        );
        assert_eq!(
            parse("(all of sel*)", &declared),
            Condition::AllOf(ids(&["sel1", "sel2"]))
        );
    }

    #[test]
    fn single_match_is_still_a_selector() {
        assert_eq!(
            parse("1 of sel*", &["sel1", "x"]),
            Condition::OneOf(ids(&["sel1"]))
        );
    }

    #[test]
    fn quantifier_words_are_identifiers_when_not_quantifying() {
        let declared = ["any", "all", "1", "them", "of"];
        assert_eq!(
            parse("any and all or 1", &declared),
            Condition::Or(vec![Condition::And(vec![id("any"), id("all")]), id("1")])
        );
        assert_eq!(
            parse("them and of", &declared),
            Condition::And(vec![id("them"), id("of")])
        );
        assert_eq!(
            parse("all of them", &declared),
            Condition::AllOf(ids(&declared))
        );
    }

    #[test]
    fn selector_errors() {
        let declared = ["selection", "sel2", "filter"];
        assert_error(
            "1 of filter_*",
            &declared,
            5,
            "`1 of filter_*` matches no search identifier",
        );
        assert_error(
            "selection and not all of filters*",
            &declared,
            25,
            "`all of filters*` matches no search identifier",
        );
        assert_error(
            "2 of sel*",
            &declared,
            0,
            "unsupported quantifier `2`: Sigma only has `1 of`, `any of` and `all of`",
        );
        assert_error(
            "selection and none of sel*",
            &declared,
            14,
            "unsupported quantifier `none`",
        );
        assert_error("1 of", &declared, 2, "`1 of` must be followed by `them`");
        assert_error(
            "all of (sel*)",
            &declared,
            7,
            "`all of` must be followed by",
        );
        assert_error("1 of and sel*", &declared, 5, "found `and`");
        assert_error(
            "1 OF sel*",
            &declared,
            2,
            "keywords are lowercase: use `of`",
        );
        assert_error(
            "ALL of sel*",
            &declared,
            0,
            "keywords are lowercase: use `all`",
        );
        assert_error(
            "Any of sel*",
            &declared,
            0,
            "keywords are lowercase: use `any`",
        );
        assert_error("1 of THEM", &declared, 5, "use `them`");
        assert_error(
            "of sel*",
            &declared,
            0,
            "`of` must follow `1`, `any` or `all`",
        );
        assert_error(
            "selection and them",
            &declared,
            14,
            "`them` can only be used in `1 of them` or `all of them`",
        );
        assert_error(
            "sel* and filter",
            &declared,
            0,
            "the wildcard pattern `sel*` can only be used after `1 of`",
        );
    }

    // --- Words and identifiers ---

    #[test]
    fn operator_prefixes_are_identifiers() {
        let declared = [
            "notepad",
            "android",
            "order",
            "not_filter",
            "ornot",
            "andand",
        ];
        assert_eq!(
            parse("notepad and android or order", &declared),
            Condition::Or(vec![
                Condition::And(vec![id("notepad"), id("android")]),
                id("order"),
            ])
        );
        assert_eq!(
            parse("not not_filter and not ornot", &declared),
            Condition::And(vec![not(id("not_filter")), not(id("ornot"))])
        );
        assert_eq!(parse("andand", &declared), id("andand"));
        assert_error(
            "notepad",
            &["epad"],
            0,
            "search identifier `notepad` is not defined",
        );
    }

    #[test]
    fn identifiers_with_dashes_digits_and_underscores() {
        let declared = ["sel-1", "2nd_selection", "filter-A_b", "-"];
        assert_eq!(
            parse("sel-1 and not filter-A_b or 2nd_selection", &declared),
            Condition::Or(vec![
                Condition::And(vec![id("sel-1"), not(id("filter-A_b"))]),
                id("2nd_selection"),
            ])
        );
        assert_eq!(parse("-", &declared), id("-"));
        assert_eq!(
            parse("1 of sel-*", &declared),
            Condition::OneOf(ids(&["sel-1"]))
        );
    }

    #[test]
    fn unknown_identifiers() {
        assert_error("a and x", ABC, 6, "search identifier `x` is not defined");
        assert_eq!(
            error("a and x", ABC).message,
            "search identifier `x` is not defined"
        );
        assert_error(
            "Selection",
            &["selection"],
            0,
            "search identifier `Selection` is not defined (identifiers are case-sensitive: \
             did you mean `selection`?)",
        );
        assert_error("condition", &["selection"], 0, "`condition` is not defined");
    }

    #[test]
    fn uppercase_operators_are_rejected() {
        assert_error("a AND b", ABC, 2, "operators are lowercase: use `and`");
        assert_error("a Or b", ABC, 2, "operators are lowercase: use `or`");
        assert_error("NOT a", ABC, 0, "operators are lowercase: use `not`");
        assert_error("a and NOT b", ABC, 6, "operators are lowercase: use `not`");
        assert_error("(a) AND (b)", ABC, 4, "operators are lowercase: use `and`");
        assert_eq!(
            error("a AND b", ABC).message,
            "operators are lowercase: use `and`"
        );
        // A declared identifier that happens to be spelled like an operator is an operand.
        assert_eq!(
            parse("AND and not Not", &["AND", "Not"]),
            Condition::And(vec![id("AND"), not(id("Not"))])
        );
    }

    // --- Structural errors ---

    #[test]
    fn empty_conditions() {
        assert_error("", ABC, 0, "the condition is empty");
        assert_error(" \n\t ", ABC, 0, "the condition is empty");
        assert_error(
            "()",
            ABC,
            1,
            "expected a search identifier after `(`, found `)`",
        );
    }

    #[test]
    fn unbalanced_parentheses() {
        assert_error("(a and b", ABC, 0, "this `(` is never closed");
        assert_error("a and ((b or c)", ABC, 6, "this `(` is never closed");
        assert_error("a and (b or c))", ABC, 14, "this `)` has no matching `(`");
        assert_error(")a", ABC, 0, "expected a search identifier, found `)`");
        assert_error("a)", ABC, 1, "this `)` has no matching `(`");
        assert_error("(a b)", ABC, 3, "expected `and`, `or` or `)` before `b`");
        assert_error("(", ABC, 0, "expected a search identifier after `(`");
    }

    #[test]
    fn missing_operands_and_operators() {
        assert_error(
            "a and",
            ABC,
            2,
            "expected a search identifier after `and`, found the end of the condition",
        );
        assert_error("a or", ABC, 2, "after `or`, found the end");
        assert_error("a and not", ABC, 6, "after `not`, found the end");
        assert_error("and a", ABC, 0, "expected a search identifier, found `and`");
        assert_error(
            "and of them",
            ABC,
            0,
            "expected a search identifier, found `and`",
        );
        assert_error("a and or b", ABC, 6, "after `and`, found `or`");
        assert_error("a and (or b)", ABC, 7, "after `(`, found `or`");
        assert_error("a b", ABC, 2, "expected `and` or `or` before `b`");
        assert_error("a (b)", ABC, 2, "expected `and` or `or` before `(`");
        assert_error(
            "a not b",
            ABC,
            2,
            "expected `and` or `or` before `not` (did you mean `and not`?)",
        );
        assert_error("not", ABC, 0, "after `not`, found the end");
    }

    #[test]
    fn pipes_are_rejected() {
        assert_error(
            "selection | count() > 5",
            &["selection"],
            10,
            "aggregations of Sigma 1",
        );
        assert_error("a|b", ABC, 1, "replaced by correlation rules");
        // Even where another error would come first.
        assert_error("AND ( | x", ABC, 6, "`|` is not allowed in a condition");
    }

    #[test]
    fn unexpected_characters() {
        assert_error("a && b", ABC, 2, "unexpected character `&`");
        assert_error("a and sél", ABC, 7, "unexpected character `é`");
        assert_error("a.b", ABC, 1, "unexpected character `.`");
        assert_error("a\0", ABC, 1, "unexpected character `\\0`");
    }

    #[test]
    fn offsets_are_bytes() {
        // U+00A0 (2 bytes) and U+3000 (3 bytes) are whitespace.
        assert_error("a\u{a0}and\u{3000}x", ABC, 9, "`x` is not defined");
        assert_error("é", ABC, 0, "unexpected character `é`");
    }

    #[test]
    fn too_deep_nesting_is_an_error() {
        let deep = format!("{}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(parse(&deep, ABC), id("a"));
        let deeper = format!("({deep})");
        assert_error(&deeper, ABC, MAX_DEPTH, "nested more than 100 levels deep");
        let nots = format!("{}a", "not ".repeat(MAX_DEPTH + 1));
        assert_error(&nots, ABC, 4 * MAX_DEPTH, "nested more than");
        let huge = "(".repeat(1_000_000);
        assert_error(&huge, ABC, MAX_DEPTH, "nested more than");
    }

    // --- Lists of conditions ---

    #[test]
    fn condition_lists_are_ored() {
        let declared = ids(&["sel1", "sel2", "filter", "keywords"]);
        assert_eq!(
            parse_conditions(&["sel1 and not filter", "keywords or sel2"], &declared),
            Ok(Condition::Or(vec![
                Condition::And(vec![id("sel1"), not(id("filter"))]),
                id("keywords"),
                id("sel2"),
            ]))
        );
        assert_eq!(
            parse_conditions(&["keywords"], &declared),
            Ok(id("keywords"))
        );
        let (index, error) = parse_conditions(&["sel1", "sel1 or", "nope"], &declared)
            .expect_err("the second condition is incomplete");
        assert_eq!(index, 1);
        assert_eq!(error.offset, 5);
        let (index, error) = parse_conditions(&[], &declared).expect_err("empty list");
        assert_eq!(index, 0);
        assert_eq!(error.message, "the list of conditions is empty");
    }

    // --- Display and identifiers() ---

    #[test]
    fn display_is_canonical() {
        let declared = ["a", "b", "c", "d", "sel1", "sel2", "f1", "f2"];
        for (text, canonical) in [
            ("a", "a"),
            ("(a)", "a"),
            ("a  or\nb and c", "a or b and c"),
            ("(a or b) and c", "(a or b) and c"),
            ("not (a and b)", "not (a and b)"),
            ("not a and b", "not a and b"),
            ("not (not a)", "not not a"),
            (
                "a and (b or c) and not (d or a)",
                "a and (b or c) and not (d or a)",
            ),
            ("(a and b) or (c and d)", "a and b or c and d"),
            ("1 of sel*", "sel1 or sel2"),
            ("1 of sel* and all of f*", "(sel1 or sel2) and f1 and f2"),
            ("not all of f*", "not (f1 and f2)"),
            ("all of f* or a", "f1 and f2 or a"),
            ("not 1 of sel1", "not sel1"),
        ] {
            let condition = parse(text, &declared);
            assert_eq!(condition.to_string(), canonical, "{text:?}");
            let reparsed = parse(canonical, &declared);
            assert_eq!(reparsed.to_string(), canonical, "{text:?}");
        }
    }

    #[test]
    fn display_of_hand_built_conditions() {
        assert_eq!(Condition::Or(vec![]).to_string(), "1 of ()");
        assert_eq!(Condition::AllOf(vec![]).to_string(), "all of ()");
        assert_eq!(
            Condition::And(vec![Condition::Or(vec![id("a")]), id("b")]).to_string(),
            "a and b"
        );
        assert_eq!(
            not(Condition::And(vec![Condition::Or(vec![id("a"), id("b")])])).to_string(),
            "not (a or b)"
        );
        assert_eq!(
            Condition::And(vec![id("a"), Condition::And(vec![id("b"), id("c")])]).to_string(),
            "a and b and c"
        );
    }

    #[test]
    fn referenced_identifiers() {
        let declared = ["sel1", "sel2", "filter", "_x", "unused"];
        let condition = parse(
            "(1 of sel* and not filter) or sel1 or all of sel* or _x",
            &declared,
        );
        assert_eq!(condition.identifiers(), ["sel1", "sel2", "filter", "_x"]);
        assert_eq!(parse("filter", &declared).identifiers(), ["filter"]);
    }

    // --- Robustness ---

    /// xorshift64*: deterministic pseudo-random numbers without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            // `n` is small: the modulo bias does not matter here.
            (self.next() % n as u64) as usize
        }
    }

    /// Appends the words of a random valid condition over the identifiers of
    /// `random_inputs_never_panic`.
    fn generate(rng: &mut Rng, depth: usize, out: &mut Vec<&'static str>) {
        const OPERANDS: [&str; 9] = [
            "a", "b", "sel1", "sel2", "sel-3", "_x", "filter", "AND", "them",
        ];
        const SELECTORS: [&str; 5] = ["sel*", "them", "*", "filter", "*-*"];
        match if depth > 4 { 0 } else { rng.below(6) } {
            0 | 1 => out.push(OPERANDS[rng.below(OPERANDS.len())]),
            2 => {
                out.push("not");
                generate(rng, depth + 1, out);
            }
            3 => {
                out.push("(");
                generate(rng, depth + 1, out);
                out.push(")");
            }
            4 => {
                generate(rng, depth + 1, out);
                out.push(if rng.below(2) == 0 { "and" } else { "or" });
                generate(rng, depth + 1, out);
            }
            _ => {
                out.push(["1", "any", "all"][rng.below(3)]);
                out.push("of");
                out.push(SELECTORS[rng.below(SELECTORS.len())]);
            }
        }
    }

    fn check_never_panics(text: &str, declared: &[String]) {
        match parse_condition(text, declared) {
            Ok(condition) => {
                let canonical = condition.to_string();
                let reparsed = parse_condition(&canonical, declared).unwrap_or_else(|error| {
                    panic!("{text:?} -> {canonical:?} does not parse again: {error}")
                });
                assert_eq!(reparsed.to_string(), canonical, "{text:?}");
                for name in condition.identifiers() {
                    assert!(declared.iter().any(|d| d == name), "{text:?}: {name}");
                }
            }
            Err(error) => {
                assert!(error.offset <= text.len(), "{text:?}: {error:?}");
                assert!(text.is_char_boundary(error.offset), "{text:?}: {error:?}");
                assert!(!error.message.is_empty());
            }
        }
    }

    #[test]
    fn random_inputs_never_panic() {
        let declared = ids(&[
            "a", "b", "sel1", "sel2", "sel-3", "_x", "filter", "AND", "them", "any",
        ]);
        let pieces = [
            "a", "b", "sel1", "sel2", "sel-3", "_x", "filter", "x", "(", ")", "((", "))", " ",
            "  ", "\n", "and", "or", "not", "AND", "Or", "NOT", "1", "2", "any", "all", "ALL",
            "of", "OF", "them", "THEM", "sel*", "*", "_*", "**", "|", "é", "\u{3000}", "\0", "&",
            "notepad", "-", "1of", "of1", ".", "😀",
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..3000 {
            let mut text = String::new();
            for _ in 0..rng.below(14) {
                text.push_str(pieces[rng.below(pieces.len())]);
                if rng.below(3) > 0 {
                    text.push(' ');
                }
            }
            check_never_panics(&text, &declared);
        }

        // Mostly valid conditions from the grammar, some with one piece mutated.
        let mut parsed = 0;
        for _ in 0..3000 {
            let mut words = Vec::new();
            generate(&mut rng, 0, &mut words);
            if rng.below(3) == 0 && !words.is_empty() {
                let at = rng.below(words.len());
                match rng.below(3) {
                    0 => {
                        words.remove(at);
                    }
                    1 => words.insert(at, pieces[rng.below(pieces.len())]),
                    _ => words[at] = pieces[rng.below(pieces.len())],
                }
            }
            let text = words.join(if rng.below(2) == 0 { " " } else { "\n " });
            if parse_condition(&text, &declared).is_ok() {
                parsed += 1;
            }
            check_never_panics(&text, &declared);
        }
        // The generator must exercise the success path too.
        assert!(parsed > 1500, "only {parsed} generated conditions parsed");

        // Arbitrary bytes, made valid UTF-8.
        for _ in 0..2000 {
            let bytes: Vec<u8> = (0..rng.below(24)).map(|_| rng.next() as u8).collect();
            check_never_panics(&String::from_utf8_lossy(&bytes), &declared);
        }

        for text in [
            "",
            " ",
            "(",
            ")",
            ")(",
            "*",
            "|",
            "of",
            "1 of",
            "1 of of",
            "all of them of",
            "not",
            "not not",
            "a and",
            "and",
            "or or or",
            "1 of * and not 1 of *",
            "\u{feff}a",
        ] {
            check_never_panics(text, &declared);
            check_never_panics(text, &[]);
        }
        check_never_panics(&"not ".repeat(100_000), &declared);
        check_never_panics(&"a and ".repeat(100_000), &declared);
        check_never_panics(&format!("{}a", "a or ".repeat(100_000)), &declared);
    }
}
