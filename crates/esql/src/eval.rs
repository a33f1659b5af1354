//! Expressions bound to a table layout, and their evaluation with ES|QL's null semantics:
//! a null operand gives null, a multi-valued operand of a single-value operation gives null
//! and a warning, WHERE keeps only rows where the condition is true.

use std::cmp::Ordering;
use std::sync::Arc;

use modelward_event::Schema;
use modelward_rule::{RegexBudget, RegexError};
use regex::Regex;

use crate::ast::{BinOp, Expr, ExprKind};
use crate::error::{EsqlError, Span};
use crate::functions::{self, Function};
use crate::table::{source_value, Layout, Row};
use crate::value::{compare, DataType, Value};

/// Warnings raised while evaluating, in Elasticsearch's wording, at most 20 kept.
#[derive(Debug, Default, Clone)]
pub struct Warnings {
    pub messages: Vec<String>,
    pub total: usize,
}

impl Warnings {
    pub const KEPT: usize = 20;

    pub fn push(&mut self, message: String) {
        self.total += 1;
        if self.messages.len() < Self::KEPT {
            self.messages.push(message);
        }
    }
}

/// What evaluation needs beyond the row.
pub struct Env<'a> {
    pub query: &'a str,
    pub schema: &'a Schema,
    /// `NOW()`: the execution time, epoch milliseconds.
    pub now: i64,
    pub warnings: &'a mut Warnings,
}

impl Env<'_> {
    pub fn warn(&mut self, span: Span, why: &str) {
        let err = EsqlError::at(self.query, span.start, "");
        let text = self.query.get(span.start..span.end).unwrap_or("");
        self.warnings.push(format!(
            "Line {}:{}: evaluation of [{text}] failed, treating result as null. Only first {} failures recorded.: {why}",
            err.line,
            err.column,
            Warnings::KEPT
        ));
    }
}

#[derive(Debug, Clone)]
pub enum BExpr {
    Lit(Value),
    Col(usize),
    Source(Arc<str>),
    Call {
        func: Function,
        args: Vec<BExpr>,
        span: Span,
    },
    /// `replace(s, "constant pattern", r)`: the regex compiled once, at load, within the
    /// rule set's budget (a pattern from the data is compiled per row by the function).
    Replace {
        args: Vec<BExpr>,
        regex: Regex,
        span: Span,
    },
    Neg(Box<BExpr>, Span),
    Not(Box<BExpr>),
    Binary(BinOp, Box<BExpr>, Box<BExpr>, Span),
    In {
        expr: Box<BExpr>,
        list: Vec<BExpr>,
        negated: bool,
        span: Span,
    },
    IsNull(Box<BExpr>, bool),
    Like {
        expr: Box<BExpr>,
        regexes: Vec<Regex>,
        negated: bool,
        span: Span,
    },
    Cast(Box<BExpr>, DataType, Span),
}

/// Binds field names to columns of `layout` (or to the source document while the rest is
/// implicit), and function names to functions. Aggregate functions are errors here.
pub fn bind(expr: &Expr, layout: &Layout, query: &str) -> Result<BExpr, EsqlError> {
    bind_within(expr, layout, query, &RegexBudget::unlimited())
}

/// [`bind`], the regexes of `LIKE` and `RLIKE` charged to `regexes` (the rule set's
/// budget: past it, an error for this query).
pub fn bind_within(
    expr: &Expr,
    layout: &Layout,
    query: &str,
    regexes: &RegexBudget,
) -> Result<BExpr, EsqlError> {
    let bind = |e: &Expr, layout: &Layout, query: &str| bind_within(e, layout, query, regexes);
    let err = |span: Span, msg: String| EsqlError::at(query, span.start, msg);
    Ok(match &expr.kind {
        ExprKind::Literal(v) => BExpr::Lit(v.clone()),
        ExprKind::Field(name) => bind_field(name, layout)
            .ok_or_else(|| err(expr.span, format!("Unknown column [{name}]")))?,
        ExprKind::Call { name, args, star } => {
            if crate::agg::is_aggregate(name) {
                return Err(err(
                    expr.span,
                    format!("aggregate function [{name}] is only allowed in STATS"),
                ));
            }
            if *star {
                return Err(err(
                    expr.span,
                    format!("[{name}(*)] is not a valid function call"),
                ));
            }
            let func = functions::lookup(name, args.len()).map_err(|m| err(expr.span, m))?;
            let pattern = match args.get(1).map(|a| &a.kind) {
                Some(ExprKind::Literal(Value::Str(p))) if func.name() == "replace" => Some(p),
                _ => None,
            };
            let args = args
                .iter()
                .map(|a| bind(a, layout, query))
                .collect::<Result<_, _>>()?;
            match pattern.map(|p| regexes.compile(p)) {
                Some(Ok(regex)) => BExpr::Replace {
                    args,
                    regex,
                    span: expr.span,
                },
                Some(Err(over @ RegexError::OverBudget { .. })) => {
                    return Err(err(expr.span, over.to_string()))
                }
                // An invalid pattern is each row's warning, as Elasticsearch reports it.
                Some(Err(RegexError::Invalid(_))) | None => BExpr::Call {
                    func,
                    args,
                    span: expr.span,
                },
            }
        }
        ExprKind::Neg(e) => BExpr::Neg(Box::new(bind(e, layout, query)?), expr.span),
        ExprKind::Not(e) => BExpr::Not(Box::new(bind(e, layout, query)?)),
        ExprKind::Binary(op, l, r) => BExpr::Binary(
            *op,
            Box::new(bind(l, layout, query)?),
            Box::new(bind(r, layout, query)?),
            expr.span,
        ),
        ExprKind::In {
            expr: e,
            list,
            negated,
        } => BExpr::In {
            expr: Box::new(bind(e, layout, query)?),
            list: list
                .iter()
                .map(|a| bind(a, layout, query))
                .collect::<Result<_, _>>()?,
            negated: *negated,
            span: expr.span,
        },
        ExprKind::IsNull { expr: e, negated } => {
            BExpr::IsNull(Box::new(bind(e, layout, query)?), *negated)
        }
        ExprKind::Like {
            expr: e,
            patterns,
            negated,
            regex,
        } => {
            let mut compiled = Vec::new();
            for p in patterns {
                let source = if *regex {
                    rlike_regex(p)
                } else {
                    like_regex(p)
                };
                compiled.push(regexes.compile(&source).map_err(|e| match e {
                    RegexError::Invalid(e) => err(expr.span, format!("invalid pattern [{p}]: {e}")),
                    over => err(expr.span, over.to_string()),
                })?);
            }
            BExpr::Like {
                expr: Box::new(bind(e, layout, query)?),
                regexes: compiled,
                negated: *negated,
                span: expr.span,
            }
        }
        ExprKind::Cast(e, ty) => BExpr::Cast(Box::new(bind(e, layout, query)?), *ty, expr.span),
    })
}

pub fn bind_field(name: &str, layout: &Layout) -> Option<BExpr> {
    if let Some(i) = layout.position(name) {
        return Some(BExpr::Col(i));
    }
    match &layout.rest {
        Some(rest) if rest.admits(name) => Some(BExpr::Source(Arc::from(name))),
        _ => None,
    }
}

/// LIKE: `*` any run, `?` one character, `\` escapes; case-sensitive, whole string.
pub fn like_regex(pattern: &str) -> String {
    let mut out = String::from("(?s)^");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '\\' => match chars.next() {
                Some(n) => out.push_str(&regex::escape(&n.to_string())),
                None => out.push_str(r"\\"),
            },
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push('$');
    out
}

/// RLIKE: the pattern must match the whole string; `.` matches line breaks too.
pub fn rlike_regex(pattern: &str) -> String {
    format!("(?s)^(?:{pattern})$")
}

impl BExpr {
    /// How deeply the expression nests (a leaf is 1): how deeply [`BExpr::eval`] recurses.
    pub fn depth(&self) -> usize {
        let below = match self {
            BExpr::Lit(_) | BExpr::Col(_) | BExpr::Source(_) => 0,
            BExpr::Call { args, .. } | BExpr::Replace { args, .. } => {
                args.iter().map(BExpr::depth).max().unwrap_or(0)
            }
            BExpr::Neg(e, _)
            | BExpr::Not(e)
            | BExpr::IsNull(e, _)
            | BExpr::Cast(e, _, _)
            | BExpr::Like { expr: e, .. } => e.depth(),
            BExpr::Binary(_, l, r, _) => l.depth().max(r.depth()),
            BExpr::In { expr, list, .. } => list
                .iter()
                .map(BExpr::depth)
                .max()
                .unwrap_or(0)
                .max(expr.depth()),
        };
        below + 1
    }

    pub fn eval(&self, row: &Row, env: &mut Env) -> Value {
        match self {
            BExpr::Lit(v) => v.clone(),
            BExpr::Col(i) => row.values.get(*i).cloned().unwrap_or(Value::Null),
            BExpr::Source(path) => row
                .source
                .as_ref()
                .map_or(Value::Null, |src| source_value(src, path, env.schema)),
            BExpr::Call { func, args, span } => {
                let values: Vec<Value> = args.iter().map(|a| a.eval(row, env)).collect();
                match func.call(&values, env.now) {
                    Ok(v) => v,
                    Err(why) => {
                        env.warn(*span, &why);
                        Value::Null
                    }
                }
            }
            BExpr::Replace { args, regex, span } => {
                let values: Vec<Value> = args.iter().map(|a| a.eval(row, env)).collect();
                match functions::replace_compiled(regex, &values) {
                    Ok(v) => v,
                    Err(why) => {
                        env.warn(*span, &why);
                        Value::Null
                    }
                }
            }
            BExpr::Neg(e, span) => {
                let v = e.eval(row, env);
                single(v, *span, env).map_or(Value::Null, |v| match negate(&v) {
                    Ok(v) => v,
                    Err(why) => {
                        env.warn(*span, &why);
                        Value::Null
                    }
                })
            }
            BExpr::Not(e) => match e.eval(row, env) {
                Value::Bool(b) => Value::Bool(!b),
                _ => Value::Null,
            },
            BExpr::Binary(BinOp::And, l, r, _) => and(l.eval(row, env), || r.eval(row, env)),
            BExpr::Binary(BinOp::Or, l, r, _) => or(l.eval(row, env), || r.eval(row, env)),
            BExpr::Binary(op, l, r, span) => {
                let (a, b) = (l.eval(row, env), r.eval(row, env));
                let (Some(a), Some(b)) = (single(a, *span, env), single(b, *span, env)) else {
                    return Value::Null;
                };
                match binary(*op, &a, &b) {
                    Ok(v) => v,
                    Err(why) => {
                        env.warn(*span, &why);
                        Value::Null
                    }
                }
            }
            BExpr::In {
                expr,
                list,
                negated,
                span,
            } => {
                let Some(v) = single(expr.eval(row, env), *span, env) else {
                    return Value::Null;
                };
                let mut saw_null = false;
                for item in list {
                    let candidate = item.eval(row, env);
                    for c in candidate.values() {
                        if compare(&v, c) == Some(Ordering::Equal) {
                            return Value::Bool(!negated);
                        }
                    }
                    saw_null |= candidate.is_null();
                }
                if saw_null {
                    Value::Null
                } else {
                    Value::Bool(*negated)
                }
            }
            BExpr::IsNull(e, negated) => Value::Bool(e.eval(row, env).is_null() != *negated),
            BExpr::Like {
                expr,
                regexes,
                negated,
                span,
            } => match single(expr.eval(row, env), *span, env) {
                Some(Value::Str(s)) => {
                    Value::Bool(regexes.iter().any(|r| r.is_match(&s)) != *negated)
                }
                Some(other) => {
                    let s = other.to_string();
                    Value::Bool(regexes.iter().any(|r| r.is_match(&s)) != *negated)
                }
                None => Value::Null,
            },
            BExpr::Cast(e, ty, span) => match functions::convert(&e.eval(row, env), *ty) {
                Ok(v) => v,
                Err(why) => {
                    env.warn(*span, &why);
                    Value::Null
                }
            },
        }
    }
}

/// A single value, or None (null; multi-valued with a warning).
fn single(v: Value, span: Span, env: &mut Env) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Multi(_) => {
            env.warn(
                span,
                "java.lang.IllegalArgumentException: single-value function encountered multi-value",
            );
            None
        }
        v => Some(v),
    }
}

fn and(left: Value, right: impl FnOnce() -> Value) -> Value {
    match left {
        Value::Bool(false) => Value::Bool(false),
        Value::Bool(true) => match right() {
            Value::Bool(b) => Value::Bool(b),
            _ => Value::Null,
        },
        _ => match right() {
            Value::Bool(false) => Value::Bool(false),
            _ => Value::Null,
        },
    }
}

fn or(left: Value, right: impl FnOnce() -> Value) -> Value {
    match left {
        Value::Bool(true) => Value::Bool(true),
        Value::Bool(false) => match right() {
            Value::Bool(b) => Value::Bool(b),
            _ => Value::Null,
        },
        _ => match right() {
            Value::Bool(true) => Value::Bool(true),
            _ => Value::Null,
        },
    }
}

fn negate(v: &Value) -> Result<Value, String> {
    Ok(match v {
        Value::Int(i) => Value::Int(
            i.checked_neg()
                .ok_or("java.lang.ArithmeticException: integer overflow")?,
        ),
        Value::Long(l) => Value::Long(
            l.checked_neg()
                .ok_or("java.lang.ArithmeticException: long overflow")?,
        ),
        Value::Double(d) => Value::Double(-d),
        Value::Duration(d) => Value::Duration(-d),
        Value::Period { months, days } => Value::Period {
            months: -months,
            days: -days,
        },
        other => return Err(format!("cannot negate [{}]", other.data_type().name())),
    })
}

/// Comparison and arithmetic on two non-null single values.
pub fn binary(op: BinOp, a: &Value, b: &Value) -> Result<Value, String> {
    use BinOp::*;
    let cmp = |ord: fn(Ordering) -> bool| -> Result<Value, String> {
        match compare(a, b) {
            Some(o) => Ok(Value::Bool(ord(o))),
            None => Err(format!(
                "cannot compare [{}] with [{}]",
                a.data_type().name(),
                b.data_type().name()
            )),
        }
    };
    match op {
        Eq => cmp(|o| o == Ordering::Equal),
        Neq => cmp(|o| o != Ordering::Equal),
        Lt => cmp(|o| o == Ordering::Less),
        Lte => cmp(|o| o != Ordering::Greater),
        Gt => cmp(|o| o == Ordering::Greater),
        Gte => cmp(|o| o != Ordering::Less),
        Add | Sub | Mul | Div | Mod => arithmetic(op, a, b),
        And | Or => Err("logical operator on non-boolean".to_string()),
    }
}

fn arithmetic(op: BinOp, a: &Value, b: &Value) -> Result<Value, String> {
    use Value::*;
    match (a, b) {
        (Date(d), Duration(_) | Period { .. }) if matches!(op, BinOp::Add | BinOp::Sub) => {
            let span = if op == BinOp::Sub {
                negate(b)?
            } else {
                b.clone()
            };
            functions::date_add(*d, &span).map(Date)
        }
        (Duration(_) | Period { .. }, Date(d)) if op == BinOp::Add => {
            functions::date_add(*d, a).map(Date)
        }
        (Duration(x), Duration(y)) if matches!(op, BinOp::Add | BinOp::Sub) => {
            Ok(Duration(if op == BinOp::Add { x + y } else { x - y }))
        }
        (Int(x), Int(y)) => int_op(op, i64::from(*x), i64::from(*y)).and_then(|v| {
            i32::try_from(v)
                .map(Int)
                .map_err(|_| "java.lang.ArithmeticException: integer overflow".to_string())
        }),
        (Int(_) | Long(_), Int(_) | Long(_)) => {
            int_op(op, a.as_i64().unwrap_or(0), b.as_i64().unwrap_or(0)).map(Long)
        }
        (Int(_) | Long(_) | Double(_), Int(_) | Long(_) | Double(_)) => {
            let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            let r = match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div => x / y,
                _ => x % y,
            };
            if r.is_finite() {
                Ok(Double(r))
            } else {
                Err("java.lang.ArithmeticException: / by zero".to_string())
            }
        }
        _ => Err(format!(
            "[{}] has arguments of incompatible types [{}] and [{}]",
            op.symbol(),
            a.data_type().name(),
            b.data_type().name()
        )),
    }
}

fn int_op(op: BinOp, x: i64, y: i64) -> Result<i64, String> {
    let overflow = || "java.lang.ArithmeticException: long overflow".to_string();
    match op {
        BinOp::Add => x.checked_add(y).ok_or_else(overflow),
        BinOp::Sub => x.checked_sub(y).ok_or_else(overflow),
        BinOp::Mul => x.checked_mul(y).ok_or_else(overflow),
        BinOp::Div if y == 0 => Err("java.lang.ArithmeticException: / by zero".to_string()),
        BinOp::Div => x.checked_div(y).ok_or_else(overflow),
        BinOp::Mod if y == 0 => Err("java.lang.ArithmeticException: / by zero".to_string()),
        _ => x.checked_rem(y).ok_or_else(overflow),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_translation() {
        let r = Regex::new(&like_regex("foo*b?r\\*")).unwrap();
        assert!(r.is_match("fooXXbar*"));
        assert!(!r.is_match("fooXXbar"));
        assert!(!r.is_match("FOObar*"));
    }

    #[test]
    fn three_valued_logic() {
        assert_eq!(and(Value::Null, || Value::Bool(false)), Value::Bool(false));
        assert_eq!(and(Value::Bool(true), || Value::Null), Value::Null);
        assert_eq!(or(Value::Null, || Value::Bool(true)), Value::Bool(true));
        assert_eq!(or(Value::Bool(false), || Value::Null), Value::Null);
    }

    #[test]
    fn integer_arithmetic() {
        assert_eq!(
            binary(BinOp::Div, &Value::Int(7), &Value::Int(2)),
            Ok(Value::Int(3))
        );
        assert!(binary(BinOp::Div, &Value::Long(1), &Value::Long(0)).is_err());
        assert!(binary(BinOp::Add, &Value::Int(i32::MAX), &Value::Int(1)).is_err());
        assert_eq!(
            binary(BinOp::Add, &Value::Int(1), &Value::Double(0.5)),
            Ok(Value::Double(1.5))
        );
    }
}
