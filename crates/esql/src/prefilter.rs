//! Literals a record must contain for a query to possibly select it.
//!
//! From the WHERE commands that run on source fields (before any STATS, and only on fields
//! no earlier command redefined), equality, IN, LIKE and prefix/suffix tests against string
//! literals give *requirements*: a conjunction of clauses, each a set of literals of which
//! the raw record must contain at least one (compared ASCII-case-insensitively, since
//! normalizers may change case). Literals that JSON might escape (quotes, backslashes,
//! slashes, control and non-ASCII characters) give no requirement. The caller must treat a
//! record containing a `\u` escape as possibly matching anything.

use std::collections::HashSet;

use modelward_event::source::contract::{literal_byte, MIN_LITERAL};
pub use modelward_event::source::{Literal, Requirement};

use crate::ast::{BinOp, Command, Expr, ExprKind, Query};

/// The requirement a query puts on raw records; empty means "every record may match".
pub fn requirement(query: &Query) -> Requirement {
    let mut redefined: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    for command in &query.commands {
        match &command.node {
            Command::Where(e) => out.extend(clauses(e, &redefined)),
            Command::Eval(fields) => redefined.extend(fields.iter().map(|f| f.name.clone())),
            Command::Rename(pairs) => redefined.extend(pairs.iter().map(|(_, new)| new.clone())),
            Command::Keep(_) | Command::Drop(_) | Command::Sort(_) | Command::MvExpand(_) => {}
            Command::Dissect { .. } | Command::Grok { .. } => {
                // Their output names are only known after compiling the pattern; stop here.
                break;
            }
            Command::Stats { .. } | Command::Limit(_) => break,
        }
    }
    out
}

fn usable(lit: &str) -> bool {
    lit.len() >= MIN_LITERAL && lit.bytes().all(literal_byte)
}

fn source_field<'a>(e: &'a Expr, redefined: &HashSet<String>) -> Option<&'a str> {
    match &e.kind {
        ExprKind::Field(name) if !redefined.contains(name) => Some(name),
        // Case changes do not matter to a case-insensitive search.
        ExprKind::Call { name, args, .. }
            if (name == "to_lower" || name == "to_upper") && args.len() == 1 =>
        {
            source_field(&args[0], redefined)
        }
        _ => None,
    }
}

fn string_literal(e: &Expr) -> Option<&str> {
    match &e.kind {
        ExprKind::Literal(crate::value::Value::Str(s)) => Some(s),
        _ => None,
    }
}

fn clauses(e: &Expr, redefined: &HashSet<String>) -> Requirement {
    let single = |field: &str, lits: Vec<String>| -> Requirement {
        if !lits.is_empty() && lits.iter().all(|l| usable(l)) {
            vec![lits
                .into_iter()
                .map(|l| Literal::new(Some(field), l))
                .collect()]
        } else {
            Vec::new()
        }
    };
    match &e.kind {
        ExprKind::Binary(BinOp::And, l, r) => {
            let mut out = clauses(l, redefined);
            out.extend(clauses(r, redefined));
            out
        }
        ExprKind::Binary(BinOp::Or, l, r) => {
            let (a, b) = (best(clauses(l, redefined)), best(clauses(r, redefined)));
            match (a, b) {
                (Some(mut a), Some(b)) => {
                    a.extend(b);
                    a.sort();
                    a.dedup();
                    vec![a]
                }
                _ => Vec::new(),
            }
        }
        ExprKind::Binary(BinOp::Eq, l, r) => {
            let lit = match (source_field(l, redefined), source_field(r, redefined)) {
                (Some(f), _) => string_literal(r).map(|s| (f, s)),
                (_, Some(f)) => string_literal(l).map(|s| (f, s)),
                _ => None,
            };
            lit.map_or_else(Vec::new, |(f, s)| single(f, vec![s.to_string()]))
        }
        ExprKind::In {
            expr,
            list,
            negated: false,
        } => {
            let Some(field) = source_field(expr, redefined) else {
                return Vec::new();
            };
            let lits: Option<Vec<String>> = list
                .iter()
                .map(|x| string_literal(x).map(str::to_string))
                .collect();
            lits.map_or_else(Vec::new, |l| single(field, l))
        }
        ExprKind::Like {
            expr,
            patterns,
            negated: false,
            regex: false,
        } => {
            let Some(field) = source_field(expr, redefined) else {
                return Vec::new();
            };
            let runs: Option<Vec<String>> = patterns.iter().map(|p| longest_fixed_run(p)).collect();
            runs.map_or_else(Vec::new, |r| single(field, r))
        }
        ExprKind::Call { name, args, .. }
            if (name == "starts_with" || name == "ends_with") && args.len() == 2 =>
        {
            match (source_field(&args[0], redefined), string_literal(&args[1])) {
                (Some(field), Some(s)) => single(field, vec![s.to_string()]),
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}

/// The most selective clause: the one whose shortest literal is longest.
fn best(req: Requirement) -> Option<Vec<Literal>> {
    req.into_iter().max_by_key(|c| {
        (
            c.iter().map(|l| l.text.len()).min().unwrap_or(0),
            usize::MAX - c.len(),
        )
    })
}

/// The longest run of a LIKE pattern without wildcards (escapes resolved).
fn longest_fixed_run(pattern: &str) -> Option<String> {
    let mut best = String::new();
    let mut current = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' | '?' => {
                if current.len() > best.len() {
                    best = std::mem::take(&mut current);
                }
                current.clear();
            }
            '\\' => current.extend(chars.next()),
            c => current.push(c),
        }
    }
    if current.len() > best.len() {
        best = current;
    }
    usable(&best).then_some(best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse;

    /// The requirement's literals as text.
    fn req(q: &str) -> Vec<Vec<String>> {
        requirement(&parse(q).unwrap())
            .into_iter()
            .map(|c| c.into_iter().map(|l| l.text).collect())
            .collect()
    }

    #[test]
    fn literals_carry_their_field() {
        let r = requirement(
            &parse(r#"from x | where to_lower(gen_ai.policy.name) == "topic_policy""#).unwrap(),
        );
        assert_eq!(
            r,
            vec![vec![Literal::new(
                Some("gen_ai.policy.name"),
                "topic_policy"
            )]]
        );
    }

    #[test]
    fn seed_rule_requires_both_literals() {
        let r = req(
            r#"from logs-* | where azure.open_ai.operation_name == "ListKey" and azure.open_ai.category == "Audit" | stats count() by x"#,
        );
        assert_eq!(
            r,
            vec![vec!["ListKey".to_string()], vec!["Audit".to_string()]]
        );
    }

    #[test]
    fn or_unions_best_clauses_and_gives_up_when_a_side_is_open() {
        assert_eq!(
            req(r#"from x | where a == "alpha" or b in ("beta", "gamma")"#),
            vec![vec![
                "alpha".to_string(),
                "beta".to_string(),
                "gamma".to_string()
            ]]
        );
        assert!(req(r#"from x | where a == "alpha" or b > 3"#).is_empty());
    }

    #[test]
    fn eval_redefinitions_and_negations_give_nothing() {
        assert!(req(r#"from x | eval a = "q" | where a == "alpha""#).is_empty());
        assert!(req(r#"from x | where not a == "alpha""#).is_empty());
        assert!(req(r#"from x | where a != "alpha""#).is_empty());
        assert!(req(r#"from x | stats c = count() by a | where a == "alpha""#).is_empty());
    }

    #[test]
    fn like_uses_longest_fixed_run() {
        assert_eq!(
            req(r#"from x | where a like "*Invoke*Model*""#),
            vec![vec!["Invoke".to_string()]]
        );
        assert!(req(r#"from x | where a like "*ab*""#).is_empty());
        assert!(req(r#"from x | where a == "a/b/c""#).is_empty());
    }
}
