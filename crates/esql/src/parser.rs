//! A recursive-descent parser for ES|QL, following the precedence of Elasticsearch's grammar:
//! OR < AND < NOT < comparison, LIKE, RLIKE, IN, IS NULL < + - < * / % < unary - < `::`.

use crate::ast::*;
use crate::error::{EsqlError, Span};
use crate::lexer::{Lexer, Tok, Token};
use crate::value::{DataType, Value};

/// Parses a whole query, with expressions nested at most as deeply as Elasticsearch allows
/// (`Limits::default().max_expression_depth`).
pub fn parse(query: &str) -> Result<Query, EsqlError> {
    parse_within(
        query,
        modelward_rule::Limits::default().max_expression_depth,
    )
}

/// Parses a whole query whose expressions nest at most `max_depth` levels: both the
/// parser's own recursion (parentheses, `NOT`, unary minus, function calls) and the depth of
/// the trees it builds (also operator chains such as `a + a + ...`, built without
/// recursion) are bounded, so that neither parsing nor what recurses over the tree later
/// (compiling, evaluating, dropping it) can exhaust the stack. Deeper is an error at the
/// spot, naming the limit.
pub fn parse_within(query: &str, max_depth: usize) -> Result<Query, EsqlError> {
    let mut p = Parser {
        src: query,
        lexer: Lexer::new(query),
        peeked: None,
        last_end: 0,
        depth: 0,
        max_depth,
    };
    p.query()
}

struct Parser<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    peeked: Option<Token>,
    /// Where the last consumed token ended.
    last_end: usize,
    /// Nesting of the expression being parsed: how many recursive descents are open.
    depth: usize,
    max_depth: usize,
}

const UNSUPPORTED: [&str; 12] = [
    "ENRICH",
    "LOOKUP",
    "JOIN",
    "INLINESTATS",
    "CHANGE_POINT",
    "FORK",
    "SAMPLE",
    "COMPLETION",
    "RERANK",
    "FUSE",
    "INSIST",
    "METRICS",
];

impl<'a> Parser<'a> {
    fn err(&self, at: usize, msg: impl Into<String>) -> EsqlError {
        EsqlError::at(self.src, at, msg)
    }

    fn too_deep(&self, at: usize) -> EsqlError {
        self.err(
            at,
            format!(
                "expression nested deeper than {} levels (max_expression_depth)",
                self.max_depth
            ),
        )
    }

    /// Runs `f` one level deeper, past the limit an error instead.
    fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, EsqlError>,
    ) -> Result<T, EsqlError> {
        if self.depth >= self.max_depth {
            let at = self.peek()?.span.start;
            return Err(self.too_deep(at));
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    /// A node just built, unless its tree is deeper than the limit.
    fn bounded(&self, e: Expr) -> Result<Expr, EsqlError> {
        if e.depth() > self.max_depth {
            return Err(self.too_deep(e.span.start));
        }
        Ok(e)
    }

    fn peek(&mut self) -> Result<&Token, EsqlError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next_token()?);
        }
        Ok(self.peeked.as_ref().expect("just filled"))
    }

    fn next(&mut self) -> Result<Token, EsqlError> {
        let t = match self.peeked.take() {
            Some(t) => t,
            None => self.lexer.next_token()?,
        };
        self.last_end = t.span.end;
        Ok(t)
    }

    /// Drops a peeked token so the lexer can be used in a raw mode at its start.
    fn unpeek(&mut self) {
        if let Some(t) = self.peeked.take() {
            self.lexer.set_pos(t.span.start);
        }
    }

    fn describe(tok: &Tok) -> String {
        match tok {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Quoted(s) => format!("'`{s}`'"),
            Tok::Str(s) => format!("'\"{s}\"'"),
            Tok::Int(n) => format!("'{n}'"),
            Tok::Dec(d) => format!("'{d}'"),
            Tok::Param(p) => format!("'?{p}'"),
            Tok::Op(op) => format!("'{op}'"),
            Tok::Eof => "end of query".to_string(),
        }
    }

    fn unexpected(&mut self, expecting: &str) -> EsqlError {
        match self.peek() {
            Ok(t) => {
                let (at, found) = (t.span.start, Self::describe(&t.tok));
                self.err(
                    at,
                    format!("mismatched input {found} expecting {expecting}"),
                )
            }
            Err(e) => e,
        }
    }

    fn is_keyword(&mut self, kw: &str) -> Result<bool, EsqlError> {
        Ok(matches!(&self.peek()?.tok, Tok::Ident(s) if s.eq_ignore_ascii_case(kw)))
    }

    fn eat_keyword(&mut self, kw: &str) -> Result<bool, EsqlError> {
        if self.is_keyword(kw)? {
            self.next()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn expect_keyword(&mut self, kw: &str) -> Result<Span, EsqlError> {
        if self.is_keyword(kw)? {
            return Ok(self.next()?.span);
        }
        Err(self.unexpected(kw))
    }

    fn is_op(&mut self, op: &str) -> Result<bool, EsqlError> {
        Ok(matches!(&self.peek()?.tok, Tok::Op(o) if *o == op))
    }

    fn eat_op(&mut self, op: &str) -> Result<bool, EsqlError> {
        if self.is_op(op)? {
            self.next()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn expect_op(&mut self, op: &str) -> Result<Span, EsqlError> {
        if self.is_op(op)? {
            return Ok(self.next()?.span);
        }
        Err(self.unexpected(&format!("'{op}'")))
    }

    fn query(&mut self) -> Result<Query, EsqlError> {
        let source = self.source_command()?;
        let mut commands = Vec::new();
        while self.eat_op("|")? {
            commands.push(self.processing_command()?);
        }
        if self.peek()?.tok != Tok::Eof {
            return Err(self.unexpected("'|' or end of query"));
        }
        Ok(Query { source, commands })
    }

    fn source_command(&mut self) -> Result<SourceCommand, EsqlError> {
        if self.eat_keyword("FROM")? {
            return self.from();
        }
        if self.eat_keyword("ROW")? {
            return Ok(SourceCommand::Row(self.fields()?));
        }
        Err(self.unexpected("FROM or ROW"))
    }

    fn from(&mut self) -> Result<SourceCommand, EsqlError> {
        self.unpeek();
        let mut patterns = Vec::new();
        loop {
            match self.lexer.index_pattern()? {
                Some(Token {
                    tok: Tok::Ident(p) | Tok::Str(p),
                    span,
                }) if !p.eq_ignore_ascii_case("METADATA") => {
                    if p.is_empty() {
                        return Err(self.err(span.start, "empty index pattern"));
                    }
                    patterns.extend(
                        p.split(',')
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty()),
                    );
                }
                Some(t) => {
                    self.lexer.set_pos(t.span.start);
                    return Err(self.unexpected("an index pattern"));
                }
                None => return Err(self.unexpected("an index pattern")),
            }
            if !self.eat_op(",")? {
                break;
            }
            self.unpeek();
        }
        let mut metadata = Vec::new();
        if self.eat_keyword("METADATA")? {
            loop {
                metadata.push(self.qualified_name()?.0);
                if !self.eat_op(",")? {
                    break;
                }
            }
        }
        Ok(SourceCommand::From { patterns, metadata })
    }

    fn processing_command(&mut self) -> Result<Spanned<Command>, EsqlError> {
        let start = self.peek()?.span.start;
        let word = match &self.peek()?.tok {
            Tok::Ident(s) => s.to_ascii_uppercase(),
            _ => return Err(self.unexpected("a processing command")),
        };
        self.next()?;
        let node = match word.as_str() {
            "WHERE" => Command::Where(self.expr()?),
            "EVAL" => Command::Eval(self.fields()?),
            "KEEP" => Command::Keep(self.name_patterns()?),
            "DROP" => Command::Drop(self.name_patterns()?),
            "RENAME" => Command::Rename(self.renames()?),
            "STATS" => self.stats()?,
            "SORT" => Command::Sort(self.sort_keys()?),
            "LIMIT" => match self.next()? {
                Token {
                    tok: Tok::Int(n), ..
                } => Command::Limit(n),
                t => {
                    return Err(self.err(
                        t.span.start,
                        format!(
                            "mismatched input {} expecting an integer",
                            Self::describe(&t.tok)
                        ),
                    ))
                }
            },
            "MV_EXPAND" => Command::MvExpand(self.qualified_name()?.0),
            "DISSECT" => {
                let input = self.primary_chain()?;
                let pattern = self.string_literal()?;
                let mut append_separator = String::new();
                if self.eat_keyword("APPEND_SEPARATOR")? {
                    self.expect_op("=")?;
                    append_separator = self.string_literal()?;
                }
                Command::Dissect {
                    input,
                    pattern,
                    append_separator,
                }
            }
            "GROK" => {
                let input = self.primary_chain()?;
                let pattern = self.string_literal()?;
                Command::Grok { input, pattern }
            }
            other if UNSUPPORTED.contains(&other) => {
                return Err(self.err(start, format!("{other} is not supported: it needs Elasticsearch-side state (enrich policies, lookup indices) that modelward does not have")));
            }
            other => return Err(self.err(start, format!("unknown command [{other}]"))),
        };
        let end = self.last_end.max(start);
        Ok(Spanned {
            node,
            span: Span::new(start, end),
        })
    }

    fn string_literal(&mut self) -> Result<String, EsqlError> {
        match self.next()? {
            Token {
                tok: Tok::Str(s), ..
            } => Ok(s),
            t => Err(self.err(
                t.span.start,
                format!(
                    "mismatched input {} expecting a string",
                    Self::describe(&t.tok)
                ),
            )),
        }
    }

    fn stats(&mut self) -> Result<Command, EsqlError> {
        let mut aggs = Vec::new();
        if !self.is_keyword("BY")? && !self.at_command_end()? {
            aggs = self.fields()?;
        }
        let mut by = Vec::new();
        if self.eat_keyword("BY")? {
            by = self.fields()?;
        }
        if aggs.is_empty() && by.is_empty() {
            return Err(self.unexpected("an aggregation or BY"));
        }
        Ok(Command::Stats { aggs, by })
    }

    fn at_command_end(&mut self) -> Result<bool, EsqlError> {
        Ok(matches!(self.peek()?.tok, Tok::Eof | Tok::Op("|")))
    }

    /// `name = expr, expr, ...`
    fn fields(&mut self) -> Result<Vec<Field>, EsqlError> {
        let mut out = Vec::new();
        loop {
            out.push(self.field()?);
            if !self.eat_op(",")? {
                return Ok(out);
            }
        }
    }

    fn field(&mut self) -> Result<Field, EsqlError> {
        // Look ahead for `qualified.name =` (but not `==`).
        let save = (self.lexer.pos(), self.peeked.clone());
        if matches!(self.peek()?.tok, Tok::Ident(_) | Tok::Quoted(_)) {
            if let Ok((name, _)) = self.qualified_name() {
                if self.eat_op("=")? {
                    let expr = self.expr()?;
                    return Ok(Field { name, expr });
                }
            }
            self.lexer.set_pos(save.0);
            self.peeked = save.1;
        }
        let expr = self.expr()?;
        let name = self.src[expr.span.start..expr.span.end].to_string();
        Ok(Field { name, expr })
    }

    fn renames(&mut self) -> Result<Vec<(String, String)>, EsqlError> {
        let mut out = Vec::new();
        loop {
            let (first, _) = self.qualified_name()?;
            if self.eat_keyword("AS")? {
                out.push((first, self.qualified_name()?.0));
            } else if self.eat_op("=")? {
                let old = self.qualified_name()?.0;
                out.push((old, first));
            } else {
                return Err(self.unexpected("AS"));
            }
            if !self.eat_op(",")? {
                return Ok(out);
            }
        }
    }

    fn sort_keys(&mut self) -> Result<Vec<SortKey>, EsqlError> {
        let mut out = Vec::new();
        loop {
            let expr = self.expr()?;
            let descending = if self.eat_keyword("DESC")? {
                true
            } else {
                self.eat_keyword("ASC")?;
                false
            };
            let mut nulls_first = None;
            if self.eat_keyword("NULLS")? {
                if self.eat_keyword("FIRST")? {
                    nulls_first = Some(true);
                } else if self.eat_keyword("LAST")? {
                    nulls_first = Some(false);
                } else {
                    return Err(self.unexpected("FIRST or LAST"));
                }
            }
            out.push(SortKey {
                expr,
                descending,
                nulls_first,
            });
            if !self.eat_op(",")? {
                return Ok(out);
            }
        }
    }

    /// KEEP/DROP patterns: names with `*` wildcards, possibly backtick-quoted.
    fn name_patterns(&mut self) -> Result<Vec<String>, EsqlError> {
        let mut out = Vec::new();
        loop {
            self.unpeek();
            self.lexer.skip_trivia()?;
            let start = self.lexer.pos();
            let mut pattern = String::new();
            loop {
                let pos = self.lexer.pos();
                let rest = &self.src[pos..];
                if rest.starts_with('`') {
                    match self.lexer.next_token()? {
                        Token {
                            tok: Tok::Quoted(q),
                            ..
                        } => pattern.push_str(&q),
                        t => return Err(self.err(t.span.start, "expected a quoted name")),
                    }
                    continue;
                }
                let len = rest
                    .find(|c: char| {
                        !(c.is_ascii_alphanumeric() || matches!(c, '_' | '@' | '.' | '*'))
                    })
                    .unwrap_or(rest.len());
                if len == 0 {
                    break;
                }
                pattern.push_str(&rest[..len]);
                self.lexer.set_pos(pos + len);
            }
            if pattern.is_empty() {
                return Err(self.err(start, "expected a field name or pattern"));
            }
            out.push(pattern);
            self.last_end = self.lexer.pos();
            if !self.eat_op(",")? {
                return Ok(out);
            }
        }
    }

    fn qualified_name(&mut self) -> Result<(String, Span), EsqlError> {
        let mut name = String::new();
        let mut span: Option<Span> = None;
        loop {
            let t = self.next()?;
            match t.tok {
                Tok::Ident(s) | Tok::Quoted(s) => name.push_str(&s),
                other => {
                    return Err(self.err(
                        t.span.start,
                        format!(
                            "mismatched input {} expecting a field name",
                            Self::describe(&other)
                        ),
                    ))
                }
            }
            span = Some(span.map_or(t.span, |s| s.to(t.span)));
            if !self.is_op(".")? {
                break;
            }
            self.next()?;
            name.push('.');
        }
        Ok((name, span.unwrap_or_default()))
    }

    pub fn expr(&mut self) -> Result<Expr, EsqlError> {
        self.nested(Self::or)
    }

    fn or(&mut self) -> Result<Expr, EsqlError> {
        let mut left = self.and()?;
        while self.eat_keyword("OR")? {
            let right = self.and()?;
            let span = left.span.to(right.span);
            left = self.bounded(Expr::new(
                ExprKind::Binary(BinOp::Or, Box::new(left), Box::new(right)),
                span,
            ))?;
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, EsqlError> {
        let mut left = self.not()?;
        while self.eat_keyword("AND")? {
            let right = self.not()?;
            let span = left.span.to(right.span);
            left = self.bounded(Expr::new(
                ExprKind::Binary(BinOp::And, Box::new(left), Box::new(right)),
                span,
            ))?;
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, EsqlError> {
        if self.is_keyword("NOT")? {
            let start = self.next()?.span;
            let inner = self.nested(Self::not)?;
            let span = start.to(inner.span);
            return self.bounded(Expr::new(ExprKind::Not(Box::new(inner)), span));
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr, EsqlError> {
        let mut left = self.additive()?;
        let op = match &self.peek()?.tok {
            Tok::Op("==") => Some(BinOp::Eq),
            Tok::Op("!=") => Some(BinOp::Neq),
            Tok::Op("<") => Some(BinOp::Lt),
            Tok::Op("<=") => Some(BinOp::Lte),
            Tok::Op(">") => Some(BinOp::Gt),
            Tok::Op(">=") => Some(BinOp::Gte),
            _ => None,
        };
        // A comparison is a value expression: LIKE, IN and IS NULL may follow it.
        if let Some(op) = op {
            self.next()?;
            let right = self.additive()?;
            let span = left.span.to(right.span);
            left = self.bounded(Expr::new(
                ExprKind::Binary(op, Box::new(left), Box::new(right)),
                span,
            ))?;
        }
        let negated = self.is_keyword("NOT")?;
        if negated {
            self.next()?;
        }
        if self.is_keyword("LIKE")? || self.is_keyword("RLIKE")? {
            let regex = self.is_keyword("RLIKE")?;
            self.next()?;
            let mut patterns = Vec::new();
            let end = if self.eat_op("(")? {
                loop {
                    patterns.push(self.string_literal()?);
                    if !self.eat_op(",")? {
                        break;
                    }
                }
                self.expect_op(")")?
            } else {
                let t = self.peek()?.span;
                patterns.push(self.string_literal()?);
                t
            };
            let span = left.span.to(end);
            return self.bounded(Expr::new(
                ExprKind::Like {
                    expr: Box::new(left),
                    patterns,
                    negated,
                    regex,
                },
                span,
            ));
        }
        if self.eat_keyword("IN")? {
            self.expect_op("(")?;
            let mut list = Vec::new();
            loop {
                list.push(self.expr()?);
                if !self.eat_op(",")? {
                    break;
                }
            }
            let end = self.expect_op(")")?;
            let span = left.span.to(end);
            return self.bounded(Expr::new(
                ExprKind::In {
                    expr: Box::new(left),
                    list,
                    negated,
                },
                span,
            ));
        }
        if negated {
            return Err(self.unexpected("LIKE, RLIKE or IN"));
        }
        if self.is_keyword("IS")? {
            self.next()?;
            let negated = self.eat_keyword("NOT")?;
            let end = self.expect_keyword("NULL")?;
            let span = left.span.to(end);
            return self.bounded(Expr::new(
                ExprKind::IsNull {
                    expr: Box::new(left),
                    negated,
                },
                span,
            ));
        }
        Ok(left)
    }

    fn additive(&mut self) -> Result<Expr, EsqlError> {
        let mut left = self.multiplicative()?;
        loop {
            let op = match self.peek()?.tok {
                Tok::Op("+") => BinOp::Add,
                Tok::Op("-") => BinOp::Sub,
                _ => return Ok(left),
            };
            self.next()?;
            let right = self.multiplicative()?;
            let span = left.span.to(right.span);
            left = self.bounded(Expr::new(
                ExprKind::Binary(op, Box::new(left), Box::new(right)),
                span,
            ))?;
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, EsqlError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek()?.tok {
                Tok::Op("*") => BinOp::Mul,
                Tok::Op("/") => BinOp::Div,
                Tok::Op("%") => BinOp::Mod,
                _ => return Ok(left),
            };
            self.next()?;
            let right = self.unary()?;
            let span = left.span.to(right.span);
            left = self.bounded(Expr::new(
                ExprKind::Binary(op, Box::new(left), Box::new(right)),
                span,
            ))?;
        }
    }

    fn unary(&mut self) -> Result<Expr, EsqlError> {
        if self.is_op("-")? {
            let start = self.next()?.span;
            // The sign belongs to an integer literal: -2147483648 is an integer and
            // -9223372036854775808 a long, although their magnitudes are not.
            if let Tok::Int(n) = self.peek()?.tok {
                let magnitude = self.peek()?.span;
                let value = match n {
                    2_147_483_648 => Some(Value::Int(i32::MIN)),
                    9_223_372_036_854_775_808 => Some(Value::Long(i64::MIN)),
                    _ => None,
                };
                if let Some(v) = value {
                    self.next()?;
                    return self.maybe_time_span(v, start.to(magnitude));
                }
            }
            let inner = self.nested(Self::unary)?;
            let span = start.to(inner.span);
            // Fold negative literals so that i64::MIN and `-1 hour` parse.
            return Ok(match inner.kind {
                ExprKind::Literal(Value::Long(n)) => {
                    Expr::new(ExprKind::Literal(Value::Long(n.wrapping_neg())), span)
                }
                ExprKind::Literal(Value::Int(n)) => {
                    Expr::new(ExprKind::Literal(Value::Int(n.wrapping_neg())), span)
                }
                ExprKind::Literal(Value::Double(d)) => {
                    Expr::new(ExprKind::Literal(Value::Double(-d)), span)
                }
                ExprKind::Literal(Value::Duration(d)) => {
                    Expr::new(ExprKind::Literal(Value::Duration(-d)), span)
                }
                ExprKind::Literal(Value::Period { months, days }) => Expr::new(
                    ExprKind::Literal(Value::Period {
                        months: -months,
                        days: -days,
                    }),
                    span,
                ),
                _ => self.bounded(Expr::new(ExprKind::Neg(Box::new(inner)), span))?,
            });
        }
        if self.eat_op("+")? {
            return self.nested(Self::unary);
        }
        self.primary_chain()
    }

    /// A primary expression followed by any `::type` casts.
    fn primary_chain(&mut self) -> Result<Expr, EsqlError> {
        let mut expr = self.primary()?;
        while self.is_op("::")? {
            self.next()?;
            let t = self.next()?;
            let Tok::Ident(name) = &t.tok else {
                return Err(self.err(t.span.start, "expected a data type after '::'"));
            };
            let ty = cast_type(name)
                .ok_or_else(|| self.err(t.span.start, format!("unsupported cast to [{name}]")))?;
            let span = expr.span.to(t.span);
            expr = self.bounded(Expr::new(ExprKind::Cast(Box::new(expr), ty), span))?;
        }
        Ok(expr)
    }

    fn primary(&mut self) -> Result<Expr, EsqlError> {
        let t = self.peek()?.clone();
        match t.tok {
            Tok::Int(n) => {
                self.next()?;
                let value = match i64::try_from(n) {
                    Ok(l) => match i32::try_from(l) {
                        Ok(i) => Value::Int(i),
                        Err(_) => Value::Long(l),
                    },
                    Err(_) => Value::Double(n as f64),
                };
                self.maybe_time_span(value, t.span)
            }
            Tok::Dec(d) => {
                self.next()?;
                self.maybe_time_span(Value::Double(d), t.span)
            }
            Tok::Str(s) => {
                self.next()?;
                Ok(Expr::new(ExprKind::Literal(Value::Str(s)), t.span))
            }
            Tok::Param(p) => Err(self.err(
                t.span.start,
                format!("query parameter ?{p} is not supported in rules"),
            )),
            Tok::Op("(") => {
                self.next()?;
                let mut inner = self.expr()?;
                let end = self.expect_op(")")?;
                inner.span = t.span.to(end);
                Ok(inner)
            }
            Tok::Op("[") => self.array_literal(),
            Tok::Ident(ref word) => {
                let upper = word.to_ascii_uppercase();
                match upper.as_str() {
                    "NULL" => {
                        self.next()?;
                        return Ok(Expr::new(ExprKind::Literal(Value::Null), t.span));
                    }
                    "TRUE" | "FALSE" => {
                        self.next()?;
                        return Ok(Expr::new(
                            ExprKind::Literal(Value::Bool(upper == "TRUE")),
                            t.span,
                        ));
                    }
                    _ => {}
                }
                let (name, span) = self.qualified_name()?;
                if !name.contains('.') && self.is_op("(")? {
                    return self.call(name, span);
                }
                Ok(Expr::new(ExprKind::Field(name), span))
            }
            Tok::Quoted(_) => {
                let (name, span) = self.qualified_name()?;
                Ok(Expr::new(ExprKind::Field(name), span))
            }
            _ => Err(self.unexpected("an expression")),
        }
    }

    fn call(&mut self, name: String, span: Span) -> Result<Expr, EsqlError> {
        self.expect_op("(")?;
        let mut args = Vec::new();
        let mut star = false;
        if self.is_op("*")? {
            self.next()?;
            star = true;
        } else if !self.is_op(")")? {
            loop {
                args.push(self.expr()?);
                if !self.eat_op(",")? {
                    break;
                }
            }
        }
        let end = self.expect_op(")")?;
        self.bounded(Expr::new(
            ExprKind::Call {
                name: name.to_ascii_lowercase(),
                args,
                star,
            },
            span.to(end),
        ))
    }

    fn array_literal(&mut self) -> Result<Expr, EsqlError> {
        let start = self.expect_op("[")?;
        let mut values: Vec<Value> = Vec::new();
        if self.is_op("]")? {
            return Err(self.unexpected("a constant"));
        }
        loop {
            let e = self.unary()?;
            match e.kind {
                ExprKind::Literal(Value::Multi(_)) => {
                    return Err(self.err(e.span.start, "array literals cannot be nested"))
                }
                ExprKind::Literal(v) => {
                    let same_type = values.first().is_none_or(|first| {
                        let (a, b) = (first.data_type(), v.data_type());
                        a == b || (a.is_numeric() && b.is_numeric())
                    });
                    if !same_type || v.is_null() {
                        return Err(self.err(
                            e.span.start,
                            "array literals must hold constants of one type",
                        ));
                    }
                    values.push(v);
                }
                _ => {
                    return Err(self.err(e.span.start, "array literals may contain only constants"))
                }
            }
            if !self.eat_op(",")? {
                break;
            }
        }
        let end = self.expect_op("]")?;
        Ok(Expr::new(
            ExprKind::Literal(Value::from_values(values)),
            start.to(end),
        ))
    }

    /// `1 hour`, `30 minutes`, `2 days`: a number followed by a time unit.
    fn maybe_time_span(&mut self, number: Value, span: Span) -> Result<Expr, EsqlError> {
        let unit = match &self.peek()?.tok {
            Tok::Ident(word) => time_unit(word),
            _ => None,
        };
        let Some(unit) = unit else {
            return Ok(Expr::new(ExprKind::Literal(number), span));
        };
        let Some(n) = number.as_i64() else {
            return Err(self.err(span.start, "a time span needs a whole number"));
        };
        let end = self.next()?.span;
        let value = match unit {
            Unit::Millis(ms) => Value::Duration(n.saturating_mul(ms)),
            Unit::Days(d) => Value::Period {
                months: 0,
                days: n
                    .checked_mul(d)
                    .and_then(|v| i32::try_from(v).ok())
                    .ok_or_else(|| self.err(span.start, "time span out of range"))?,
            },
            Unit::Months(m) => Value::Period {
                months: n
                    .checked_mul(m)
                    .and_then(|v| i32::try_from(v).ok())
                    .ok_or_else(|| self.err(span.start, "time span out of range"))?,
                days: 0,
            },
        };
        Ok(Expr::new(ExprKind::Literal(value), span.to(end)))
    }
}

enum Unit {
    Millis(i64),
    Days(i64),
    Months(i64),
}

fn time_unit(word: &str) -> Option<Unit> {
    Some(match word.to_ascii_lowercase().as_str() {
        "millisecond" | "milliseconds" | "ms" => Unit::Millis(1),
        "second" | "seconds" | "sec" | "s" => Unit::Millis(1_000),
        "minute" | "minutes" | "min" => Unit::Millis(60_000),
        "hour" | "hours" | "h" => Unit::Millis(3_600_000),
        "day" | "days" | "d" => Unit::Days(1),
        "week" | "weeks" | "w" => Unit::Days(7),
        "month" | "months" | "mo" => Unit::Months(1),
        "quarter" | "quarters" | "q" => Unit::Months(3),
        "year" | "years" | "yr" | "y" => Unit::Months(12),
        _ => return None,
    })
}

/// The target of a `::` cast.
pub fn cast_type(name: &str) -> Option<DataType> {
    Some(match name.to_ascii_lowercase().as_str() {
        "bool" | "boolean" => DataType::Boolean,
        "int" | "integer" => DataType::Integer,
        "long" => DataType::Long,
        "double" => DataType::Double,
        "keyword" | "string" | "text" => DataType::Keyword,
        "datetime" | "date" => DataType::Date,
        "ip" => DataType::Ip,
        "time_duration" => DataType::TimeDuration,
        "date_period" => DataType::DatePeriod,
        _ => return None,
    })
}
