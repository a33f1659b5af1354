//! Conditions: when a vector, decision, escalation or checklist item applies.
//!
//! A condition is a list of alternatives; an alternative is predicates joined by `&`; a
//! predicate may be negated with `!`. `["vector:side_channel", "fact:a & !fact:b"]` holds
//! when the first holds or both parts of the second do. An empty list always holds.
//!
//! Predicates on one alert: `vector:ID` (the alert's `pb53_vector`, or its rule's tag
//! `pb53.ID`), `tag:TAG`, `rule:ID-OR-NAME`, `code:MW-…`, `object:model` / `object:dataset`
//! (the storage object it names is a model file / a dataset file), `principal:internal` /
//! `principal:external`. On the incident: `fact:NAME` (docs/playbooks.md lists the facts).

use std::fmt;

pub use crate::objects::ObjectKind;

/// One predicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Predicate {
    Vector(String),
    Tag(String),
    Rule(String),
    Code(String),
    Object(ObjectKind),
    Principal(Origin),
    Fact(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    Internal,
    External,
}

/// A predicate, possibly negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal {
    pub negated: bool,
    pub predicate: Predicate,
}

/// Alternatives of conjunctions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Condition {
    pub alternatives: Vec<Vec<Literal>>,
}

/// Why a condition does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("condition `{text}`: {why}")]
pub struct ConditionError {
    pub text: String,
    pub why: String,
}

impl Condition {
    /// The facts its `fact:` predicates name.
    pub fn facts(&self) -> impl Iterator<Item = &str> {
        self.alternatives
            .iter()
            .flatten()
            .filter_map(|l| match &l.predicate {
                Predicate::Fact(f) => Some(f.as_str()),
                _ => None,
            })
    }

    pub fn parse(alternatives: &[String]) -> Result<Condition, ConditionError> {
        let mut out = Vec::new();
        for text in alternatives {
            let mut conj = Vec::new();
            for part in text.split('&') {
                conj.push(literal(part.trim()).map_err(|why| ConditionError {
                    text: text.clone(),
                    why,
                })?);
            }
            out.push(conj);
        }
        Ok(Condition { alternatives: out })
    }

    /// Whether it holds, with `eval` answering each predicate.
    pub fn holds(&self, eval: &mut dyn FnMut(&Predicate) -> bool) -> bool {
        self.alternatives.is_empty()
            || self
                .alternatives
                .iter()
                .any(|conj| conj.iter().all(|l| eval(&l.predicate) != l.negated))
    }
}

fn literal(text: &str) -> Result<Literal, String> {
    let (negated, text) = match text.strip_prefix('!') {
        Some(rest) => (true, rest.trim()),
        None => (false, text),
    };
    let Some((kind, value)) = text.split_once(':') else {
        return Err(format!(
            "`{text}` is not `kind:value` (kinds: vector, tag, rule, code, object, principal, fact)"
        ));
    };
    let value = value.trim();
    if value.is_empty() {
        return Err(format!("`{text}` has no value"));
    }
    let predicate = match kind.trim() {
        "vector" => Predicate::Vector(value.into()),
        "tag" => Predicate::Tag(value.into()),
        "rule" => Predicate::Rule(value.into()),
        "code" => Predicate::Code(value.into()),
        "fact" => Predicate::Fact(value.into()),
        "object" => Predicate::Object(match value {
            "model" => ObjectKind::Model,
            "dataset" => ObjectKind::Dataset,
            _ => return Err(format!("`object:{value}`: expected object:model or object:dataset")),
        }),
        "principal" => Predicate::Principal(match value {
            "internal" => Origin::Internal,
            "external" => Origin::External,
            _ => {
                return Err(format!(
                    "`principal:{value}`: expected principal:internal or principal:external"
                ))
            }
        }),
        other => {
            return Err(format!(
                "unknown predicate kind `{other}` (expected vector, tag, rule, code, object, principal, fact)"
            ))
        }
    };
    Ok(Literal { negated, predicate })
}

impl fmt::Display for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Predicate::Vector(v) => write!(f, "vector:{v}"),
            Predicate::Tag(v) => write!(f, "tag:{v}"),
            Predicate::Rule(v) => write!(f, "rule:{v}"),
            Predicate::Code(v) => write!(f, "code:{v}"),
            Predicate::Object(ObjectKind::Model) => f.write_str("object:model"),
            Predicate::Object(ObjectKind::Dataset) => f.write_str("object:dataset"),
            Predicate::Principal(Origin::Internal) => f.write_str("principal:internal"),
            Predicate::Principal(Origin::External) => f.write_str("principal:external"),
            Predicate::Fact(v) => write!(f, "fact:{v}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(parts: &[&str]) -> Condition {
        Condition::parse(&parts.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn alternatives_of_conjunctions_with_negation() {
        let c = cond(&["fact:a & !fact:b", "fact:c"]);
        let facts = |set: &'static [&'static str]| move |p: &Predicate| matches!(p, Predicate::Fact(f) if set.contains(&f.as_str()));
        assert!(c.holds(&mut facts(&["a"])));
        assert!(!c.holds(&mut facts(&["a", "b"])));
        assert!(c.holds(&mut facts(&["a", "b", "c"])));
        assert!(!c.holds(&mut facts(&[])));
        assert!(cond(&[]).holds(&mut facts(&[])));
    }

    #[test]
    fn bad_predicates_say_what_was_expected() {
        let err = Condition::parse(&["fact".to_string()]).unwrap_err();
        assert!(err.why.contains("kind:value"), "{err}");
        let err = Condition::parse(&["object:weights".to_string()]).unwrap_err();
        assert!(err.why.contains("object:model"), "{err}");
        let err = Condition::parse(&["color:red".to_string()]).unwrap_err();
        assert!(
            err.to_string().contains("unknown predicate kind `color`"),
            "{err}"
        );
    }
}
