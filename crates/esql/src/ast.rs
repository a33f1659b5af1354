//! The syntax tree of an ES|QL query.

use crate::error::Span;
use crate::value::{DataType, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub source: SourceCommand,
    pub commands: Vec<Spanned<Command>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub node: T,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SourceCommand {
    /// `FROM pattern, ... [METADATA field, ...]`
    From {
        patterns: Vec<String>,
        metadata: Vec<String>,
    },
    /// `ROW a = 1, b = "x"`
    Row(Vec<Field>),
}

/// A named expression: `name = expr`, or `expr` named by its own text.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub expr: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub expr: Expr,
    pub descending: bool,
    /// `NULLS FIRST` / `NULLS LAST`; by default nulls sort as the largest values.
    pub nulls_first: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Where(Expr),
    Eval(Vec<Field>),
    Keep(Vec<String>),
    Drop(Vec<String>),
    /// (old, new)
    Rename(Vec<(String, String)>),
    Stats {
        aggs: Vec<Field>,
        by: Vec<Field>,
    },
    Sort(Vec<SortKey>),
    Limit(u64),
    MvExpand(String),
    Dissect {
        input: Expr,
        pattern: String,
        append_separator: String,
    },
    Grok {
        input: Expr,
        pattern: String,
    },
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Where(_) => "WHERE",
            Command::Eval(_) => "EVAL",
            Command::Keep(_) => "KEEP",
            Command::Drop(_) => "DROP",
            Command::Rename(_) => "RENAME",
            Command::Stats { .. } => "STATS",
            Command::Sort(_) => "SORT",
            Command::Limit(_) => "LIMIT",
            Command::MvExpand(_) => "MV_EXPAND",
            Command::Dissect { .. } => "DISSECT",
            Command::Grok { .. } => "GROK",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    And,
    Or,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Eq => "==",
            BinOp::Neq => "!=",
            BinOp::Lt => "<",
            BinOp::Lte => "<=",
            BinOp::Gt => ">",
            BinOp::Gte => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::And => "AND",
            BinOp::Or => "OR",
        }
    }
}

#[derive(Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
    /// The depth of the tree as built (a leaf is 1); see [`Expr::depth`].
    depth: usize,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expr")
            .field("kind", &self.kind)
            .field("span", &self.span)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Literal(Value),
    Field(String),
    /// `name(args)`; `star` for `count(*)`.
    Call {
        name: String,
        args: Vec<Expr>,
        star: bool,
    },
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    In {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    Like {
        expr: Box<Expr>,
        patterns: Vec<String>,
        negated: bool,
        regex: bool,
    },
    Cast(Box<Expr>, DataType),
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        let below = match &kind {
            ExprKind::Literal(_) | ExprKind::Field(_) => 0,
            ExprKind::Call { args, .. } => args.iter().map(|a| a.depth).max().unwrap_or(0),
            ExprKind::Neg(e) | ExprKind::Not(e) | ExprKind::Cast(e, _) => e.depth,
            ExprKind::Binary(_, l, r) => l.depth.max(r.depth),
            ExprKind::In { expr, list, .. } => list
                .iter()
                .map(|a| a.depth)
                .max()
                .unwrap_or(0)
                .max(expr.depth),
            ExprKind::IsNull { expr, .. } | ExprKind::Like { expr, .. } => expr.depth,
        };
        Expr {
            kind,
            span,
            depth: below + 1,
        }
    }

    /// How deeply the tree nests (a leaf is 1), as built by [`Expr::new`]: what parsing
    /// bounds (`max_expression_depth`), since compiling, evaluating and dropping the tree
    /// recurse along it. (An expression edited in place after parsing keeps the figure it
    /// was built with.)
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Calls `f` on this expression and every sub-expression, parents first.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        f(self);
        match &self.kind {
            ExprKind::Literal(_) | ExprKind::Field(_) => {}
            ExprKind::Call { args, .. } => args.iter().for_each(|a| a.walk(f)),
            ExprKind::Neg(e) | ExprKind::Not(e) | ExprKind::Cast(e, _) => e.walk(f),
            ExprKind::Binary(_, l, r) => {
                l.walk(f);
                r.walk(f);
            }
            ExprKind::In { expr, list, .. } => {
                expr.walk(f);
                list.iter().for_each(|a| a.walk(f));
            }
            ExprKind::IsNull { expr, .. } | ExprKind::Like { expr, .. } => expr.walk(f),
        }
    }

    /// The field names this expression reads.
    pub fn fields(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let ExprKind::Field(name) = &e.kind {
                out.push(name.as_str());
            }
        });
        out
    }
}
