//! Detections compiled into matchers, and their evaluation on events.
//!
//! A search identifier is a mapping (every field item must match), a list (any element
//! must match; a list of plain values is a keyword search) or a plain value (a keyword).
//! A field item's values are alternatives (`|all` makes every value required); each value
//! goes through its modifiers in order, as the specification says, and becomes one or more
//! matchers: the values `windash` and `base64offset` expand it into stay alternatives of that
//! one value even under `|all` (pySigma's `SigmaExpansion`). Values compare as case-insensitive strings unless `|cased` or a numeric modifier
//! applies; a number matches the same number in JSON or in text; `null` (and `[]`) matches a
//! missing or null field; a field whose JSON value is an array matches when any element does.

use std::net::IpAddr;
use std::ops::Range;
use std::sync::OnceLock;

use chrono::{DateTime, Datelike, Timelike, Utc};
use modelward_event::ip::{IpRange, IpRangeError};
use modelward_event::source::{Literal, Requirement};
use modelward_event::{parse_timestamp, Event};
use regex::Regex;
use serde_json::Value as Json;

use crate::condition::{parse_conditions, Condition};
use modelward_rule::{RegexBudget, RegexError};

use crate::encoding::{self, Utf16};
use crate::pattern::{ContainsSet, SigmaString, StringMatcher};
use crate::rule::{CmpOp, SigmaError};
use crate::yaml::{Node, Yaml};

/// Where a placeholder's values come from (`|expand`): a pipeline's value placeholders.
pub type Placeholders<'a> = &'a dyn Fn(&str) -> Option<Vec<String>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefMode {
    Equals,
    StartsWith,
    EndsWith,
    Contains,
}

/// Parses the value of `|cidr`: `a.b.c.d/n` or an IPv6 network, strictly as pySigma does (no
/// host bits set, no brackets). It matches as Elasticsearch would, IPv4 and IPv6 in one space
/// (see [`modelward_event::ip`]).
pub fn parse_cidr(text: &str) -> Result<IpRange, String> {
    if text.contains(['[', ']']) {
        return Err(format!("`{text}` is not an IP network"));
    }
    let range: IpRange = text.parse().map_err(|e: IpRangeError| e.to_string())?;
    if range.has_host_bits() {
        return Err(format!("`{text}` has host bits set"));
    }
    Ok(range)
}

#[derive(Debug, Clone)]
enum Matcher {
    Str(StringMatcher),
    Regex(Regex),
    Number(f64),
    Bool(bool),
    Null,
    Exists(bool),
    Compare(CmpOp, f64),
    Time(TimePart, CmpOp, f64),
    Cidr(IpRange),
    FieldRef {
        field: String,
        mode: RefMode,
        cased: bool,
    },
}

/// The compiled values of a field item or a keyword list: the matchers, grouped by the value
/// they came from. A modifier that expands one value into several (`windash`, `base64offset`)
/// gives one group of alternatives: `|all` needs every group to match and any matcher of a
/// group to do so (pySigma's `SigmaExpansion`). A placeholder's values are values of their own,
/// as a pySigma pipeline inserts them into the value list.
#[derive(Debug, Clone, Default)]
struct Values {
    matchers: Vec<Matcher>,
    groups: Vec<Range<usize>>,
    /// Per group, literals one of which a raw record must contain for the group to match;
    /// None if some matcher of the group has no usable literal.
    literals: Vec<Option<Vec<String>>>,
    /// Many `contains` values searched in one pass (built at first use; None when few).
    fast: OnceLock<Option<FastAny>>,
}

/// A value list's case-insensitive `contains` matchers as one set, and the other matchers
/// (`rest`), by index.
#[derive(Debug, Clone)]
struct FastAny {
    set: ContainsSet,
    rest: Vec<usize>,
}

/// Value lists with at least this many `contains` values search them in one pass.
const SET_MIN: usize = 4;

impl Values {
    /// Adds one value: `add` pushes its matchers and literals.
    fn value(
        &mut self,
        add: impl FnOnce(&mut Vec<Matcher>, &mut Option<Vec<String>>) -> Result<(), String>,
    ) -> Result<(), String> {
        let start = self.matchers.len();
        let mut literals = Some(Vec::new());
        add(&mut self.matchers, &mut literals)?;
        self.groups.push(start..self.matchers.len());
        self.literals.push(literals);
        Ok(())
    }

    /// Adds a value of one matcher that has no literal.
    fn single(&mut self, m: Matcher) {
        let start = self.matchers.len();
        self.matchers.push(m);
        self.groups.push(start..self.matchers.len());
        self.literals.push(None);
    }

    fn fast(&self) -> Option<&FastAny> {
        self.fast
            .get_or_init(|| {
                let (mut needles, mut rest) = (Vec::new(), Vec::new());
                for (i, m) in self.matchers.iter().enumerate() {
                    match m {
                        Matcher::Str(s) if s.contains_needle().is_some() => {
                            needles.extend(s.contains_needle());
                        }
                        _ => rest.push(i),
                    }
                }
                if needles.len() < SET_MIN {
                    return None;
                }
                ContainsSet::new(&needles).map(|set| FastAny { set, rest })
            })
            .as_ref()
    }

    /// Whether any value matches (no `|all`): `texts` offers its argument every text the
    /// values are matched against until it says true; `one` tells whether a matcher does.
    /// Many `contains` values are one pass over each text.
    fn any_matches(
        &self,
        texts: impl Fn(&mut dyn FnMut(&str) -> bool) -> bool,
        one: impl Fn(&Matcher) -> bool,
    ) -> bool {
        let Some(fast) = self.fast() else {
            return self.matchers.iter().any(one);
        };
        texts(&mut |t| fast.set.is_match(t)) || fast.rest.iter().any(|&i| one(&self.matchers[i]))
    }

    /// Any value matches (`all`: every value does), a value when one of its matchers does.
    fn matches(&self, all: bool, one: impl Fn(&Matcher) -> bool) -> bool {
        if all {
            self.groups
                .iter()
                .all(|g| self.matchers[g.clone()].iter().any(&one))
        } else {
            self.matchers.iter().any(one)
        }
    }

    /// The prefilter's requirement (a conjunction of any-of sets): with `all`, one set per
    /// value that has literals; otherwise one set of every value's literals, or nothing if
    /// some value has none.
    fn requirement(&self, all: bool) -> Vec<Vec<String>> {
        let mut clauses: Vec<Vec<String>> = if all {
            self.literals.iter().flatten().cloned().collect()
        } else {
            self.literals
                .iter()
                .cloned()
                .collect::<Option<Vec<_>>>()
                .map(|l| vec![l.concat()])
                .unwrap_or_default()
        };
        // An empty set would be unsatisfiable; leaving it out keeps the prefilter sound.
        clauses.retain(|c| !c.is_empty());
        clauses
    }
}

/// A value after its modifiers, split into the values it stands for: a string with
/// placeholders becomes one value per replacement (pySigma inserts them into the value list).
fn split_placeholders(v: V, placeholders: Placeholders) -> Result<Vec<V>, String> {
    match v {
        V::Str(s) if !s.placeholders().is_empty() => Ok(s
            .replace_placeholders(placeholders)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(V::Str)
            .collect()),
        other => Ok(vec![other]),
    }
}

#[derive(Debug, Clone)]
struct FieldItem {
    field: String,
    /// The field's slot in a [`FieldCache`] ([`Detection::index_fields`]); None: looked up
    /// each time.
    slot: Option<usize>,
    values: Values,
    all: bool,
    negate: bool,
}

/// The values of the fields a rule set reads, looked up once per event and shared by its
/// rules: slots given by [`Detection::index_fields`], filled when first read.
pub struct FieldCache<'e> {
    event: &'e Event,
    slots: Vec<std::cell::OnceCell<Vec<&'e Json>>>,
}

impl<'e> FieldCache<'e> {
    /// An empty cache for `event`, of `slots` fields (the number `index_fields` gave).
    pub fn new(event: &'e Event, slots: usize) -> FieldCache<'e> {
        FieldCache {
            event,
            slots: (0..slots).map(|_| std::cell::OnceCell::new()).collect(),
        }
    }

    pub fn event(&self) -> &'e Event {
        self.event
    }

    pub(crate) fn values(&self, slot: usize, field: &str) -> Option<&[&'e Json]> {
        let cell = self.slots.get(slot)?;
        Some(cell.get_or_init(|| self.event.get(field)))
    }
}

#[derive(Debug, Clone)]
enum Search {
    All(Vec<Search>),
    Any(Vec<Search>),
    Field(FieldItem),
    /// Keywords: string matchers over every value of the event.
    Keywords {
        values: Values,
        all: bool,
    },
}

/// A compiled detection: named searches and the condition over them.
#[derive(Debug, Clone)]
pub struct Detection {
    names: Vec<String>,
    searches: Vec<Search>,
    condition: Condition,
}

/// A value on its way through the modifiers.
#[derive(Debug, Clone)]
enum V {
    Raw(String),
    Str(SigmaString),
    Bytes(Vec<u8>),
    Many(Vec<V>),
    Regex(String, String),
    Num(f64),
    Bool(bool),
    Null,
    Cmp(CmpOp, f64),
    Time(TimePart, Option<CmpOp>, f64),
    Cidr(IpRange),
    FieldRef(String, RefMode),
}

#[derive(Default)]
struct Flags {
    all: bool,
    cased: bool,
    negate: bool,
}

fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// Applies one modifier.
fn modify(v: V, name: &str, first: bool) -> Result<V, String> {
    let wrong = |v: &V| format!("modifier `{name}` cannot apply to {}", describe(v));
    Ok(match (name, v) {
        (_, V::Many(vs)) if !matches!(name, "all" | "cased" | "neq") => V::Many(
            vs.into_iter()
                .map(|x| modify(x, name, false))
                .collect::<Result<_, _>>()?,
        ),
        ("contains" | "startswith" | "endswith", V::Num(n)) => {
            modify(V::Str(SigmaString::literal(&number_text(n))), name, first)?
        }
        ("contains", V::Str(s)) => V::Str(s.contains()),
        ("startswith", V::Str(s)) => V::Str(s.startswith()),
        ("endswith", V::Str(s)) => V::Str(s.endswith()),
        ("contains" | "startswith" | "endswith", V::Regex(src, flags)) => V::Regex(src, flags),
        ("contains", V::FieldRef(f, _)) => V::FieldRef(f, RefMode::Contains),
        ("startswith", V::FieldRef(f, _)) => V::FieldRef(f, RefMode::StartsWith),
        ("endswith", V::FieldRef(f, _)) => V::FieldRef(f, RefMode::EndsWith),
        ("windash", V::Str(s)) => V::Many(encoding::windash(&s).into_iter().map(V::Str).collect()),
        ("re", V::Raw(text)) if first => {
            // The syntax only: the regex is compiled once, with its flags, in `finish`.
            modelward_rule::check_syntax(&text)
                .map_err(|e| format!("invalid regular expression: {e}"))?;
            V::Regex(text, String::new())
        }
        ("re", _) => return Err("modifier `re` must come first".to_string()),
        ("i" | "ignorecase", V::Regex(src, flags)) => V::Regex(src, flags + "i"),
        ("m" | "multiline", V::Regex(src, flags)) => V::Regex(src, flags + "m"),
        ("s" | "dotall", V::Regex(src, flags)) => V::Regex(src, flags + "s"),
        ("i" | "ignorecase" | "m" | "multiline" | "s" | "dotall", v) => {
            return Err(format!(
                "regex flag `{name}` needs `re` before it, not {}",
                describe(&v)
            ))
        }
        ("base64", v @ (V::Str(_) | V::Bytes(_))) => {
            V::Str(SigmaString::literal(&encoding::base64(&bytes_of(&v)?)))
        }
        ("base64offset", v @ (V::Str(_) | V::Bytes(_))) => V::Many(
            encoding::base64offset(&bytes_of(&v)?)
                .iter()
                .map(|s| V::Str(SigmaString::literal(s)))
                .collect(),
        ),
        ("wide" | "utf16le" | "utf16be" | "utf16", V::Str(s)) => {
            let text = s
                .plain()
                .ok_or_else(|| format!("modifier `{name}` cannot encode a value with wildcards"))?;
            let kind = match name {
                "utf16be" => Utf16::Be,
                "utf16" => Utf16::WithBom,
                _ => Utf16::Le,
            };
            V::Bytes(encoding::utf16(&text, kind))
        }
        ("lt" | "lte" | "gt" | "gte", v) => {
            let op = match name {
                "lt" => CmpOp::Lt,
                "lte" => CmpOp::Lte,
                "gt" => CmpOp::Gt,
                _ => CmpOp::Gte,
            };
            match v {
                V::Num(n) => V::Cmp(op, n),
                V::Time(part, None, n) => V::Time(part, Some(op), n),
                other => return Err(wrong(&other)),
            }
        }
        ("minute" | "hour" | "day" | "week" | "month" | "year", V::Num(n)) => {
            let part = match name {
                "minute" => TimePart::Minute,
                "hour" => TimePart::Hour,
                "day" => TimePart::Day,
                "week" => TimePart::Week,
                "month" => TimePart::Month,
                _ => TimePart::Year,
            };
            V::Time(part, None, n)
        }
        ("cidr", V::Raw(text)) if first => V::Cidr(parse_cidr(&text)?),
        ("cidr", _) => return Err("modifier `cidr` must come first".to_string()),
        ("expand", V::Str(s)) => V::Str(s.expand_placeholders()),
        ("fieldref", V::Raw(text)) if first => V::FieldRef(text, RefMode::Equals),
        ("fieldref", _) => return Err("modifier `fieldref` must come first".to_string()),
        ("exists", _) => return Err("modifier `exists` must be the only modifier".to_string()),
        (other, v) if KNOWN.contains(&other) => return Err(wrong(&v)),
        (other, _) => {
            return Err(format!(
                "unknown modifier `{other}`{}",
                modelward_event::suggest::did_you_mean(other, KNOWN)
            ))
        }
    })
}

const KNOWN: [&str; 34] = [
    "contains",
    "startswith",
    "endswith",
    "all",
    "exists",
    "cased",
    "neq",
    "windash",
    "re",
    "i",
    "m",
    "s",
    "ignorecase",
    "multiline",
    "dotall",
    "base64",
    "base64offset",
    "wide",
    "utf16le",
    "utf16be",
    "utf16",
    "lt",
    "lte",
    "gt",
    "gte",
    "minute",
    "hour",
    "day",
    "week",
    "month",
    "year",
    "cidr",
    "expand",
    "fieldref",
];

fn describe(v: &V) -> &'static str {
    match v {
        V::Raw(_) | V::Str(_) => "a string",
        V::Bytes(_) => "encoded bytes",
        V::Many(_) => "a list of variants",
        V::Regex(..) => "a regular expression",
        V::Num(_) => "a number",
        V::Bool(_) => "a boolean",
        V::Null => "null",
        V::Cmp(..) => "a comparison",
        V::Time(..) => "a time part",
        V::Cidr(_) => "a network",
        V::FieldRef(..) => "a field reference",
    }
}

fn bytes_of(v: &V) -> Result<Vec<u8>, String> {
    match v {
        V::Bytes(b) => Ok(b.clone()),
        V::Str(s) => encoding::encode_value(s).map_err(|e| e.to_string()),
        other => Err(format!("cannot encode {}", describe(other))),
    }
}

/// The value's matchers (and prefilter literals) once all modifiers ran.
fn finish(
    v: V,
    flags: &Flags,
    placeholders: Placeholders,
    regexes: &RegexBudget,
    out: &mut Vec<Matcher>,
    literals: &mut Option<Vec<String>>,
) -> Result<(), String> {
    let no_literal = |literals: &mut Option<Vec<String>>| *literals = None;
    match v {
        V::Many(vs) => {
            for x in vs {
                finish(x, flags, placeholders, regexes, out, literals)?;
            }
        }
        V::Raw(text) => finish(
            V::Str(SigmaString::parse(&text)),
            flags,
            placeholders,
            regexes,
            out,
            literals,
        )?,
        V::Bytes(b) => finish(
            V::Str(SigmaString::literal(&String::from_utf8_lossy(&b))),
            flags,
            placeholders,
            regexes,
            out,
            literals,
        )?,
        V::Str(s) => {
            let strings = if s.placeholders().is_empty() {
                vec![s]
            } else {
                s.replace_placeholders(placeholders)
                    .map_err(|e| e.to_string())?
            };
            for s in strings {
                match (literals.as_mut(), usable_literal(&s)) {
                    (Some(list), Some(l)) => list.push(l),
                    (Some(_), None) => no_literal(literals),
                    _ => {}
                }
                out.push(Matcher::Str(
                    StringMatcher::new(&s, flags.cased).map_err(|e| e.to_string())?,
                ));
            }
        }
        V::Regex(src, f) => {
            let pattern = if f.is_empty() {
                src.clone()
            } else {
                format!("(?{f}){src}")
            };
            out.push(Matcher::Regex(regexes.compile(&pattern).map_err(
                |e| match e {
                    RegexError::Invalid(e) => format!("invalid regular expression: {e}"),
                    over => over.to_string(),
                },
            )?));
            // The literals every match contains gate it like a string value's.
            match (
                literals.as_mut(),
                crate::regex_literals::required_literals(&pattern),
            ) {
                (Some(list), Some(required)) => list.extend(required),
                _ => no_literal(literals),
            }
        }
        V::Num(n) => {
            match (literals.as_mut(), n.fract() == 0.0 && n.abs() >= 100.0) {
                (Some(list), true) => list.push(number_text(n)),
                _ => no_literal(literals),
            }
            out.push(Matcher::Number(n));
        }
        V::Bool(b) => {
            no_literal(literals);
            out.push(Matcher::Bool(b));
        }
        V::Null => {
            no_literal(literals);
            out.push(Matcher::Null);
        }
        V::Cmp(op, n) => {
            no_literal(literals);
            out.push(Matcher::Compare(op, n));
        }
        V::Time(part, op, n) => {
            no_literal(literals);
            out.push(Matcher::Time(part, op.unwrap_or(CmpOp::Eq), n));
        }
        V::Cidr(c) => {
            no_literal(literals);
            out.push(Matcher::Cidr(c));
        }
        V::FieldRef(field, mode) => {
            no_literal(literals);
            out.push(Matcher::FieldRef {
                field,
                mode,
                cased: flags.cased,
            });
        }
    }
    Ok(())
}

/// The longest run of a value's literal text that a raw JSON record must contain, if it is
/// at least 3 characters of printable ASCII that JSON never escapes.
fn usable_literal(s: &SigmaString) -> Option<String> {
    let text = s.longest_literal()?;
    let mut best = "";
    for run in
        text.split(|c: char| !(c.is_ascii_graphic() || c == ' ') || matches!(c, '"' | '\\' | '/'))
    {
        if run.len() > best.len() {
            best = run;
        }
    }
    (best.len() >= 3).then(|| best.to_string())
}

fn scalar_value(node: &Node, raw: bool) -> Result<V, SigmaError> {
    Ok(match &node.value {
        Yaml::Str(s) if raw => V::Raw(s.clone()),
        Yaml::Str(s) => V::Str(SigmaString::parse(s)),
        Yaml::Int(i) => V::Num(*i as f64),
        Yaml::Float(f) => V::Num(*f),
        Yaml::Bool(b) => V::Bool(*b),
        Yaml::Null => V::Null,
        Yaml::Seq(_) | Yaml::Map(_) => {
            return Err(SigmaError::at(
                node,
                format!("expected a value, found {}", node.kind()),
            ))
        }
    })
}

fn compile_item(
    key: &Node,
    value: &Node,
    placeholders: Placeholders,
    regexes: &RegexBudget,
) -> Result<Search, SigmaError> {
    let key_text = key
        .scalar_text()
        .ok_or_else(|| SigmaError::at(key, "a field name must be a string"))?;
    let mut parts = key_text.split('|');
    let field = parts.next().unwrap_or("").to_string();
    let modifiers: Vec<&str> = parts.collect();
    if modifiers.iter().any(|m| m.is_empty()) {
        return Err(SigmaError::at(
            key,
            format!("empty modifier in `{key_text}`"),
        ));
    }
    let mut flags = Flags::default();
    let transforming: Vec<&str> = modifiers
        .iter()
        .copied()
        .filter(|m| match *m {
            "all" => {
                flags.all = true;
                false
            }
            "cased" => {
                flags.cased = true;
                false
            }
            "neq" => {
                flags.negate = true;
                false
            }
            _ => true,
        })
        .collect();
    let raw = matches!(transforming.first(), Some(&"re" | &"cidr" | &"fieldref"));
    let values: Vec<&Node> = match &value.value {
        Yaml::Seq(items) => items.iter().collect(),
        _ => vec![value],
    };
    let mut compiled = Values::default();
    if modifiers.contains(&"exists") {
        if modifiers.len() != 1 || field.is_empty() {
            return Err(SigmaError::at(
                key,
                "`exists` must be the only modifier, on a field",
            ));
        }
        match value.value {
            Yaml::Bool(b) => compiled.single(Matcher::Exists(b)),
            _ => {
                return Err(SigmaError::at(
                    value,
                    format!("`exists` needs true or false, found {}", value.kind()),
                ))
            }
        }
    } else if values.is_empty() {
        // `field: []` means the field is absent, as pySigma reads it.
        compiled.single(Matcher::Null);
    }
    for node in values.iter().filter(|_| !modifiers.contains(&"exists")) {
        let mut v = scalar_value(node, raw)?;
        for (i, m) in transforming.iter().enumerate() {
            v = modify(v, m, i == 0).map_err(|e| SigmaError::at(key, e))?;
        }
        add_value(v, &flags, placeholders, regexes, &mut compiled)
            .map_err(|e| SigmaError::at(node, e))?;
    }
    if field.is_empty() {
        if compiled
            .matchers
            .iter()
            .any(|m| !matches!(m, Matcher::Str(_) | Matcher::Regex(_)))
        {
            return Err(SigmaError::at(
                value,
                "keywords must be strings (null and numbers need a field)",
            ));
        }
        // Keywords match anywhere in a value.
        return keyword_search(&values, &transforming, &flags, placeholders, regexes, key);
    }
    Ok(Search::Field(FieldItem {
        field,
        slot: None,
        values: compiled,
        all: flags.all,
        negate: flags.negate,
    }))
}

/// Adds a value, once its modifiers ran, to `compiled`: its placeholders' replacements as
/// values of their own, a modifier's expansions as one value.
fn add_value(
    v: V,
    flags: &Flags,
    placeholders: Placeholders,
    regexes: &RegexBudget,
    compiled: &mut Values,
) -> Result<(), String> {
    for v in split_placeholders(v, placeholders)? {
        compiled.value(|out, literals| finish(v, flags, placeholders, regexes, out, literals))?;
    }
    Ok(())
}

/// A keyword search: each value, after its modifiers, is searched as a substring of every
/// value of the event.
fn keyword_search(
    values: &[&Node],
    modifiers: &[&str],
    flags: &Flags,
    placeholders: Placeholders,
    regexes: &RegexBudget,
    at: &Node,
) -> Result<Search, SigmaError> {
    let mut compiled = Values::default();
    for node in values {
        let raw = modifiers.first() == Some(&"re");
        let mut v = scalar_value(node, raw)?;
        if let V::Num(n) = v {
            v = V::Str(SigmaString::literal(&number_text(n)));
        }
        for (i, m) in modifiers.iter().enumerate() {
            v = modify(v, m, i == 0).map_err(|e| SigmaError::at(at, e))?;
        }
        let v = match v {
            V::Str(s) => V::Str(s.contains()),
            V::Many(vs) => V::Many(
                vs.into_iter()
                    .map(|x| {
                        if let V::Str(s) = x {
                            V::Str(s.contains())
                        } else {
                            x
                        }
                    })
                    .collect(),
            ),
            other => other,
        };
        add_value(v, flags, placeholders, regexes, &mut compiled)
            .map_err(|e| SigmaError::at(node, e))?;
    }
    if compiled
        .matchers
        .iter()
        .any(|m| !matches!(m, Matcher::Str(_) | Matcher::Regex(_)))
    {
        return Err(SigmaError::at(at, "keywords must be strings"));
    }
    Ok(Search::Keywords {
        values: compiled,
        all: flags.all,
    })
}

fn compile_search(
    node: &Node,
    placeholders: Placeholders,
    regexes: &RegexBudget,
) -> Result<Search, SigmaError> {
    match &node.value {
        Yaml::Map(entries) => {
            if entries.is_empty() {
                return Err(SigmaError::at(node, "empty search identifier"));
            }
            let items = entries
                .iter()
                .map(|(k, v)| compile_item(k, v, placeholders, regexes))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if items.len() == 1 {
                items.into_iter().next().unwrap_or(Search::All(Vec::new()))
            } else {
                Search::All(items)
            })
        }
        Yaml::Seq(items)
            if items
                .iter()
                .all(|i| !matches!(i.value, Yaml::Map(_) | Yaml::Seq(_))) =>
        {
            if items.is_empty() {
                return Err(SigmaError::at(node, "empty list of keywords"));
            }
            let refs: Vec<&Node> = items.iter().collect();
            keyword_search(&refs, &[], &Flags::default(), placeholders, regexes, node)
        }
        Yaml::Seq(items) => Ok(Search::Any(
            items
                .iter()
                .map(|i| compile_search(i, placeholders, regexes))
                .collect::<Result<_, _>>()?,
        )),
        Yaml::Null => Err(SigmaError::at(
            node,
            "a search identifier needs a value (null must be bound to a field)",
        )),
        _ => keyword_search(&[node], &[], &Flags::default(), placeholders, regexes, node),
    }
}

impl Detection {
    /// Compiles a `detection` mapping (or a filter's mapping: its `rules` key is skipped).
    pub fn compile(node: &Node, placeholders: Placeholders) -> Result<Detection, SigmaError> {
        Detection::compile_within(node, placeholders, &RegexBudget::unlimited())
    }

    /// [`Detection::compile`], its regexes charged to the rule set's `regexes` (past the
    /// budget, an error for this rule).
    pub fn compile_within(
        node: &Node,
        placeholders: Placeholders,
        regexes: &RegexBudget,
    ) -> Result<Detection, SigmaError> {
        let entries = node
            .as_map()
            .ok_or_else(|| SigmaError::at(node, "`detection` must be a mapping"))?;
        let mut names = Vec::new();
        let mut searches = Vec::new();
        let mut condition_node = None;
        for (k, v) in entries {
            let name = k
                .scalar_text()
                .ok_or_else(|| SigmaError::at(k, "a search identifier must be a string"))?;
            match name.as_str() {
                "condition" => condition_node = Some(v),
                "timeframe" => return Err(SigmaError::at(k, "`timeframe` in a detection is Sigma v1 aggregation syntax; write a correlation rule with `timespan`")),
                "rules" => {}
                _ => {
                    searches.push(compile_search(v, placeholders, regexes)?);
                    names.push(name);
                }
            }
        }
        let cnode = condition_node.ok_or_else(|| SigmaError::at(node, "missing `condition`"))?;
        if names.is_empty() {
            return Err(SigmaError::at(node, "no search identifier is defined"));
        }
        let texts: Vec<(String, &Node)> = match &cnode.value {
            Yaml::Seq(items) => items
                .iter()
                .map(|i| i.scalar_text().map(|t| (t, i)))
                .collect::<Option<_>>()
                .ok_or_else(|| SigmaError::at(cnode, "a condition must be a string"))?,
            _ => vec![(
                cnode
                    .scalar_text()
                    .ok_or_else(|| SigmaError::at(cnode, "a condition must be a string"))?,
                cnode,
            )],
        };
        let refs: Vec<&str> = texts.iter().map(|(t, _)| t.as_str()).collect();
        let condition = parse_conditions(&refs, &names).map_err(|(i, e)| {
            let at = texts.get(i).map_or(cnode, |(_, n)| n);
            // Plain scalars start at their first character; point into the condition text.
            SigmaError {
                line: at.line,
                col: at.col + e.offset,
                message: format!("condition: {}", e.message),
            }
        })?;
        Ok(Detection {
            names,
            searches,
            condition,
        })
    }

    /// Whether the event matches.
    pub fn matches(&self, event: &Event) -> bool {
        self.matches_cached(&FieldCache::new(event, 0))
    }

    /// Whether the cache's event matches, its fields read through the cache.
    pub fn matches_cached(&self, event: &FieldCache) -> bool {
        self.eval(&self.condition, event)
    }

    /// Gives every field item a slot in a [`FieldCache`]: the same field the same slot
    /// across the detections indexed with one `table`.
    pub fn index_fields(&mut self, table: &mut std::collections::HashMap<String, usize>) {
        fn walk(s: &mut Search, table: &mut std::collections::HashMap<String, usize>) {
            match s {
                Search::All(items) | Search::Any(items) => {
                    items.iter_mut().for_each(|i| walk(i, table));
                }
                Search::Field(item) => {
                    let next = table.len();
                    item.slot = Some(*table.entry(item.field.clone()).or_insert(next));
                }
                Search::Keywords { .. } => {}
            }
        }
        self.searches.iter_mut().for_each(|s| walk(s, table));
    }

    fn search(&self, name: &str) -> Option<&Search> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.searches[i])
    }

    fn eval(&self, c: &Condition, event: &FieldCache) -> bool {
        match c {
            Condition::Id(name) => self.search(name).is_some_and(|s| search_matches(s, event)),
            Condition::Not(inner) => !self.eval(inner, event),
            Condition::And(items) => items.iter().all(|i| self.eval(i, event)),
            Condition::Or(items) => items.iter().any(|i| self.eval(i, event)),
            Condition::OneOf(names) => names
                .iter()
                .any(|n| self.search(n).is_some_and(|s| search_matches(s, event))),
            Condition::AllOf(names) => names
                .iter()
                .all(|n| self.search(n).is_some_and(|s| search_matches(s, event))),
        }
    }

    /// Literals a raw record must contain for the detection to match (conjunction of
    /// any-of sets), as the ES|QL prefilter defines them, each with the field it is tested
    /// on (none for keywords).
    pub fn requirement(&self) -> Requirement {
        self.requirement_of(&self.condition)
    }

    fn requirement_of(&self, c: &Condition) -> Requirement {
        let of_search = |name: &str| {
            self.search(name)
                .map(search_requirement)
                .unwrap_or_default()
        };
        match c {
            Condition::Id(name) => of_search(name),
            Condition::Not(_) => Vec::new(),
            Condition::And(items) => items.iter().flat_map(|i| self.requirement_of(i)).collect(),
            Condition::AllOf(names) => names.iter().flat_map(|n| of_search(n)).collect(),
            Condition::Or(items) => {
                union_of_best(items.iter().map(|i| self.requirement_of(i)).collect())
            }
            Condition::OneOf(names) => union_of_best(names.iter().map(|n| of_search(n)).collect()),
        }
    }
}

fn search_requirement(s: &Search) -> Requirement {
    // Each literal with the field it is tested on (none for keywords): the prefilter takes
    // one a normalizer may write itself as present.
    let tagged = |field: Option<&str>, requirement: Vec<Vec<String>>| -> Requirement {
        requirement
            .into_iter()
            .map(|c| c.into_iter().map(|l| Literal::new(field, l)).collect())
            .collect()
    };
    match s {
        Search::All(items) => items.iter().flat_map(search_requirement).collect(),
        Search::Any(items) => union_of_best(items.iter().map(search_requirement).collect()),
        // A negated item matches where its values are absent: it requires nothing.
        Search::Field(f) if f.negate => Vec::new(),
        Search::Field(f) => tagged(Some(&f.field), f.values.requirement(f.all)),
        Search::Keywords { values, all } => tagged(None, values.requirement(*all)),
    }
}

/// For an OR: one clause per alternative (its most selective), unioned; nothing if any
/// alternative requires nothing.
fn union_of_best(alternatives: Vec<Requirement>) -> Requirement {
    let mut union = Vec::new();
    for alt in alternatives {
        let best = alt.into_iter().max_by_key(|c| {
            (
                c.iter().map(|l| l.text.len()).min().unwrap_or(0),
                usize::MAX - c.len(),
            )
        });
        match best {
            Some(clause) => union.extend(clause),
            None => return Vec::new(),
        }
    }
    union.sort();
    union.dedup();
    if union.is_empty() {
        Vec::new()
    } else {
        vec![union]
    }
}

fn search_matches(s: &Search, cache: &FieldCache) -> bool {
    let event = cache.event;
    match s {
        Search::All(items) => items.iter().all(|i| search_matches(i, cache)),
        Search::Any(items) => items.iter().any(|i| search_matches(i, cache)),
        Search::Field(item) => item_matches(item, cache) != item.negate,
        Search::Keywords { values, all: false } => values.any_matches(
            |f| any_value(&event.fields, f),
            |m| any_value(&event.fields, &mut |text| text_matches(m, text)),
        ),
        Search::Keywords { values, all } => values.matches(*all, |m| {
            any_value(&event.fields, &mut |text| text_matches(m, text))
        }),
    }
}

/// Whether `f` holds for some value of the event (strings as they are, numbers and booleans
/// as text), at any depth, stopping at the first.
fn any_value(fields: &serde_json::Map<String, Json>, f: &mut dyn FnMut(&str) -> bool) -> bool {
    fields.values().any(|v| value_any(v, f))
}

fn value_any(v: &Json, f: &mut dyn FnMut(&str) -> bool) -> bool {
    match v {
        Json::String(s) => f(s),
        Json::Number(n) => f(&n.to_string()),
        Json::Bool(b) => f(if *b { "true" } else { "false" }),
        Json::Array(items) => items.iter().any(|i| value_any(i, f)),
        Json::Object(map) => any_value(map, f),
        Json::Null => false,
    }
}

fn item_matches(item: &FieldItem, cache: &FieldCache) -> bool {
    let event = cache.event;
    let looked_up;
    let values: &[&Json] = match item.slot.and_then(|slot| cache.values(slot, &item.field)) {
        Some(values) => values,
        None => {
            looked_up = event.get(&item.field);
            &looked_up
        }
    };
    let one = |m: &Matcher| match m {
        Matcher::Exists(b) => event.has(&item.field) == *b,
        Matcher::Null => values.is_empty(),
        Matcher::FieldRef { field, mode, cased } => {
            let others = event.get(field);
            values.iter().any(|v| {
                let Some(a) = text_of(v) else { return false };
                others
                    .iter()
                    .filter_map(|o| text_of(o))
                    .any(|b| field_ref(&a, &b, *mode, *cased))
            })
        }
        other => values.iter().any(|v| value_matches(other, v)),
    };
    if item.all {
        return item.values.matches(true, one);
    }
    let texts = |f: &mut dyn FnMut(&str) -> bool| {
        values.iter().any(|v| match v {
            Json::String(s) => f(s),
            other => text_of(other).is_some_and(|t| f(&t)),
        })
    };
    item.values.any_matches(texts, one)
}

fn field_ref(a: &str, b: &str, mode: RefMode, cased: bool) -> bool {
    let (a, b) = if cased {
        (a.to_string(), b.to_string())
    } else {
        (a.to_lowercase(), b.to_lowercase())
    };
    match mode {
        RefMode::Equals => a == b,
        RefMode::StartsWith => a.starts_with(&b),
        RefMode::EndsWith => a.ends_with(&b),
        RefMode::Contains => a.contains(&b),
    }
}

fn text_of(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn number_of(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text_matches(m: &Matcher, text: &str) -> bool {
    match m {
        Matcher::Str(s) => s.is_match(text),
        Matcher::Regex(r) => r.is_match(text),
        _ => false,
    }
}

fn value_matches(m: &Matcher, v: &Json) -> bool {
    match m {
        Matcher::Str(_) | Matcher::Regex(_) => match v {
            Json::String(s) => text_matches(m, s),
            other => text_of(other).is_some_and(|t| text_matches(m, &t)),
        },
        Matcher::Number(n) => number_of(v).is_some_and(|x| x == *n),
        Matcher::Bool(b) => match v {
            Json::Bool(x) => x == b,
            Json::String(s) => s.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
            _ => false,
        },
        Matcher::Compare(op, n) => number_of(v).is_some_and(|x| op.holds(x, *n)),
        Matcher::Time(part, op, n) => time_part(v, *part).is_some_and(|x| op.holds(x as f64, *n)),
        Matcher::Cidr(c) => text_of(v)
            .and_then(|t| t.trim().parse::<IpAddr>().ok())
            .is_some_and(|ip| c.contains(ip)),
        Matcher::Null | Matcher::Exists(_) | Matcher::FieldRef { .. } => false,
    }
}

fn time_part(v: &Json, part: TimePart) -> Option<i64> {
    let ms = match v {
        Json::String(s) => parse_timestamp(s)?,
        Json::Number(n) => n.as_i64()?,
        _ => return None,
    };
    let dt = DateTime::<Utc>::from_timestamp_millis(ms)?;
    Some(i64::from(match part {
        TimePart::Minute => dt.minute(),
        TimePart::Hour => dt.hour(),
        TimePart::Day => dt.day(),
        TimePart::Week => dt.iso_week().week(),
        TimePart::Month => dt.month(),
        TimePart::Year => return Some(i64::from(dt.year())),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_values_are_strict_networks() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let net = parse_cidr("10.0.0.0/8").unwrap();
        assert!(net.contains(ip("10.1.2.3")) && !net.contains(ip("11.0.0.1")));
        assert!(net.contains(ip("::ffff:10.1.2.3")));
        assert!(parse_cidr(" 2001:db8::/32 ")
            .unwrap()
            .contains(ip("2001:db8::1")));
        assert!(parse_cidr("192.0.2.7").unwrap().contains(ip("192.0.2.7")));
        for (bad, message) in [
            ("10.0.0.1/8", "`10.0.0.1/8` has host bits set"),
            (
                "10.0.0.0/33",
                "`10.0.0.0/33`: the prefix length must be 0 to 32",
            ),
            ("[2001:db8::]/32", "`[2001:db8::]/32` is not an IP network"),
            ("ten", "`ten` is not an IP address or CIDR range"),
        ] {
            assert_eq!(parse_cidr(bad).unwrap_err(), message);
        }
    }
}
