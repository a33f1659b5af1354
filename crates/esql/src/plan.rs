//! Compiling a parsed query into steps bound to column layouts, and running them.
//!
//! Every command's input and output layout is known when the query is compiled, so unknown
//! columns, unknown functions and misplaced aggregates are errors at load time, with the
//! position in the query. The leading row-local steps (WHERE, EVAL, KEEP, DROP, RENAME,
//! DISSECT, GROK, MV_EXPAND) form the *streaming prefix*: they run per event as events are
//! read; the rest (STATS, SORT, LIMIT and what follows) runs per rule execution.

use std::collections::HashMap;
use std::sync::Arc;

use modelward_event::glob::glob_match;
use modelward_event::{Event, Schema};

use crate::agg::{is_aggregate, AggKind, AggState};
use crate::ast::{Command, Expr, ExprKind, Field, Query, SourceCommand};
use crate::dissect::Dissect;
use crate::error::EsqlError;
use crate::eval::BExpr;
use crate::eval::{bind_within, Env, Warnings};
use crate::grok::{Grok, GrokValue};
use crate::table::{source_value, Layout, Provenance, Rest, Row, Table};
use crate::value::{total_cmp, Key, Value};
use modelward_rule::RegexBudget;

/// Where a projected column comes from.
#[derive(Debug, Clone)]
enum Pick {
    Col(usize),
    Source(Arc<str>),
}

#[derive(Debug, Clone)]
struct AggCall {
    kind: AggKind,
    arg: Option<BExpr>,
}

#[derive(Debug, Clone)]
struct StatsPlan {
    by: Vec<BExpr>,
    calls: Vec<AggCall>,
    /// Output expressions over [aggregate results..., group keys...].
    outputs: Vec<BExpr>,
    by_count: usize,
}

#[derive(Debug, Clone)]
enum Step {
    Where(BExpr),
    /// Appends a computed column, removing the column it replaces.
    Eval {
        expr: BExpr,
        replaces: Option<usize>,
    },
    Project {
        picks: Vec<Pick>,
        keep_source: bool,
    },
    Stats(Box<StatsPlan>),
    Sort(Vec<(BExpr, bool, bool)>),
    Limit(usize),
    MvExpand(usize),
    Dissect {
        input: BExpr,
        dissect: Box<Dissect>,
        replaces: Vec<usize>,
    },
    Grok {
        input: BExpr,
        grok: Box<Grok>,
        replaces: Vec<usize>,
    },
}

impl Step {
    fn row_local(&self) -> bool {
        !matches!(self, Step::Stats(_) | Step::Sort(_) | Step::Limit(_))
    }

    /// The deepest expression the step evaluates.
    fn depth(&self) -> usize {
        let deepest =
            |exprs: &mut dyn Iterator<Item = &BExpr>| exprs.map(BExpr::depth).max().unwrap_or(0);
        match self {
            Step::Where(e)
            | Step::Eval { expr: e, .. }
            | Step::Dissect { input: e, .. }
            | Step::Grok { input: e, .. } => e.depth(),
            Step::Stats(plan) => deepest(
                &mut plan
                    .by
                    .iter()
                    .chain(plan.outputs.iter())
                    .chain(plan.calls.iter().filter_map(|c| c.arg.as_ref())),
            ),
            Step::Sort(keys) => deepest(&mut keys.iter().map(|(e, _, _)| e)),
            Step::Project { .. } | Step::Limit(_) | Step::MvExpand(_) => 0,
        }
    }
}

/// Options for compiling a query.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// A LIMIT appended to the query, as Kibana appends `| limit max_signals+1`. Without it,
    /// the implicit `LIMIT 1000` applies.
    pub limit: Option<usize>,
    /// How deeply expressions may nest (None: `Limits::default().max_expression_depth`);
    /// see [`crate::parser::parse_within`].
    pub max_depth: Option<usize>,
    /// The rule set's budget of compiled regexes (`LIKE`, `RLIKE`, `GROK`) this query's
    /// are charged to (None: none but each regex's own limit).
    pub regexes: Option<RegexBudget>,
}

/// A compiled query.
#[derive(Debug, Clone)]
pub struct Plan {
    text: String,
    query: Query,
    /// The bound fields of a `ROW` source command.
    row: Vec<BExpr>,
    initial: Layout,
    steps: Vec<Step>,
    streaming: usize,
    output: Layout,
}

/// A result row, the source document it came from (non-aggregating queries) and the events
/// it stands for.
#[derive(Debug, Clone)]
pub struct ResultRow {
    pub values: Vec<Value>,
    pub source: Option<Arc<Event>>,
    pub provenance: Option<Box<Provenance>>,
}

/// The result of running a query: column names and rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

pub const DEFAULT_LIMIT: usize = 1000;

/// Stack a thread compiling a query needs per level of expression nesting, with room for
/// unoptimized builds (about 40 KiB a level there, 5 KiB in a release build).
const STACK_PER_LEVEL: usize = 64 << 10;

impl Plan {
    /// Parses and compiles a query. Expressions nest at most `options.max_depth` levels
    /// (an error past it); parsing and compiling recurse along that nesting, so they run on
    /// a thread whose stack is sized for it, whatever the caller's stack. Evaluating
    /// recurses along the same depth (binding adds no levels), about 1 KiB a level in a
    /// release build.
    pub fn compile(text: &str, options: &PlanOptions) -> Result<Plan, EsqlError> {
        let max_depth = options
            .max_depth
            .unwrap_or(modelward_rule::Limits::default().max_expression_depth);
        let stack = (1 << 20) + max_depth.saturating_mul(STACK_PER_LEVEL);
        std::thread::scope(|scope| {
            let compiling = std::thread::Builder::new()
                .name("esql-compile".into())
                .stack_size(stack)
                .spawn_scoped(scope, || Plan::compile_here(text, options, max_depth));
            match compiling {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                // No thread to be had: on this one (a query nested that deeply may then
                // exhaust its stack).
                Err(_) => Plan::compile_here(text, options, max_depth),
            }
        })
    }

    fn compile_here(
        text: &str,
        options: &PlanOptions,
        max_depth: usize,
    ) -> Result<Plan, EsqlError> {
        let query = crate::parser::parse_within(text, max_depth)?;
        let aggregating = query
            .commands
            .iter()
            .any(|c| matches!(c.node, Command::Stats { .. }));
        let mut c = Compiler {
            text,
            layout: Layout::default(),
            steps: Vec::new(),
            // Rows of a non-aggregating query keep their source document: an alert on a
            // row names the event it came from.
            keep_sources: !aggregating,
            regexes: options
                .regexes
                .clone()
                .unwrap_or_else(RegexBudget::unlimited),
        };
        let initial = match &query.source {
            SourceCommand::From { metadata, .. } => {
                for m in metadata {
                    if !matches!(
                        m.as_str(),
                        "_id" | "_index" | "_version" | "_source" | "_score" | "_ignored"
                    ) {
                        return Err(EsqlError::at(
                            text,
                            0,
                            format!("unsupported metadata field [{m}]"),
                        ));
                    }
                }
                Layout {
                    columns: metadata.clone(),
                    rest: Some(Rest::default()),
                }
            }
            SourceCommand::Row(fields) => Layout {
                columns: fields.iter().map(|f| f.name.clone()).collect(),
                rest: None,
            },
        };
        c.layout = initial.clone();
        for command in &query.commands {
            c.command(&command.node)?;
        }
        let limit = options.limit.unwrap_or(DEFAULT_LIMIT);
        c.steps.push(Step::Limit(limit));
        // NOW() is the execution time, unknown while events stream in.
        let uses_now = text.to_ascii_lowercase().contains("now(");
        let streaming = if uses_now {
            0
        } else {
            c.steps.iter().take_while(|s| s.row_local()).count()
        };
        let row = match &query.source {
            SourceCommand::Row(fields) => bind_row(fields, text, &c.regexes)?,
            SourceCommand::From { .. } => Vec::new(),
        };
        // Evaluation recurses along the compiled expressions: never deeper than parsing
        // allowed (binding maps a node to a node; aggregates become column references).
        let deepest = c
            .steps
            .iter()
            .map(Step::depth)
            .chain(row.iter().map(BExpr::depth))
            .max()
            .unwrap_or(0);
        if deepest > max_depth {
            return Err(EsqlError::at(
                text,
                0,
                format!(
                    "compiled expression nested deeper than {max_depth} levels (max_expression_depth)"
                ),
            ));
        }
        Ok(Plan {
            text: text.to_string(),
            row,
            query,
            initial,
            steps: c.steps,
            streaming,
            output: c.layout,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn query(&self) -> &Query {
        &self.query
    }

    /// The FROM index patterns (empty for ROW).
    pub fn patterns(&self) -> &[String] {
        match &self.query.source {
            SourceCommand::From { patterns, .. } => patterns,
            SourceCommand::Row(_) => &[],
        }
    }

    /// Whether FROM selects an index (a data stream name such as `logs-azure_openai.logs-default`).
    /// Patterns may use `*`, exclusions (`-pattern`) and a remote cluster prefix (`c:pattern`).
    pub fn selects_index(&self, index: &str) -> bool {
        let mut selected = false;
        for pattern in self.patterns() {
            let pattern = pattern.rsplit(':').next().unwrap_or(pattern);
            if let Some(excluded) = pattern.strip_prefix('-') {
                if glob_match(excluded, index) {
                    selected = false;
                }
            } else if glob_match(pattern, index) {
                selected = true;
            }
        }
        selected
    }

    /// Whether any step after the streaming prefix exists (STATS, SORT, ...).
    pub fn streaming_steps(&self) -> usize {
        self.streaming
    }

    /// The first row of an event, as FROM produces it.
    pub fn start_row(&self, event: Arc<Event>, schema: &Schema) -> Row {
        let values = self
            .initial
            .columns
            .iter()
            .map(|m| metadata_value(&event, m, schema))
            .collect();
        Row {
            values,
            source: Some(event),
            provenance: None,
        }
    }

    /// Runs the streaming prefix on rows (typically one event's row).
    pub fn run_prefix(&self, rows: Vec<Row>, env: &mut Env) -> Vec<Row> {
        run_steps(&self.steps[..self.streaming], rows, env)
    }

    /// Runs the steps after the prefix and renders the result.
    pub fn run_rest(&self, rows: Vec<Row>, env: &mut Env) -> Output {
        let rows = run_steps(&self.steps[self.streaming..], rows, env);
        let table = Table {
            layout: self.output.clone(),
            rows,
        };
        let (columns, rows) = table.materialize(env.schema);
        Output { columns, rows }
    }

    /// Runs the steps after the prefix; each result row with the source document it came
    /// from (for non-aggregating queries).
    pub fn run_rest_rows(&self, rows: Vec<Row>, env: &mut Env) -> (Vec<String>, Vec<ResultRow>) {
        let mut rows = run_steps(&self.steps[self.streaming..], rows, env);
        let origins: Vec<Row> = rows
            .iter_mut()
            .map(|r| Row {
                values: Vec::new(),
                source: r.source.clone(),
                provenance: r.provenance.take(),
            })
            .collect();
        let table = Table {
            layout: self.output.clone(),
            rows,
        };
        let (columns, values) = table.materialize(env.schema);
        let rows = values
            .into_iter()
            .zip(origins)
            .map(|(values, o)| ResultRow {
                values,
                source: o.source,
                provenance: o.provenance,
            })
            .collect();
        (columns, rows)
    }

    /// The partition key of the group a row of the streaming prefix goes to: its values of
    /// the BY expressions when STATS follows the prefix (the hash of no bytes without BY, or
    /// when another command follows: SORT or LIMIT over every row is one group). `watch`'s
    /// scale-out routes the row's record by it, so each group's rows meet on one instance.
    pub fn group_key(&self, row: &Row, env: &mut Env) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = modelward_event::hash::Fnv::default();
        if let Some(Step::Stats(plan)) = self.steps.get(self.streaming) {
            for by in &plan.by {
                Key(by.eval(row, env)).hash(&mut hasher);
            }
        }
        hasher.finish()
    }

    /// The output columns that are BY keys of the last STATS: what identifies a group.
    pub fn group_columns(&self) -> Vec<String> {
        let last_by = self
            .query
            .commands
            .iter()
            .rev()
            .find_map(|c| match &c.node {
                Command::Stats { by, .. } => Some(by),
                _ => None,
            });
        last_by
            .map(|by| {
                by.iter()
                    .map(|f| f.name.clone())
                    .filter(|n| self.output.columns.contains(n))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Runs the whole query over events (FROM) or its own row (ROW).
    pub fn run(&self, events: impl IntoIterator<Item = Arc<Event>>, env: &mut Env) -> Output {
        let rows: Vec<Row> = match &self.query.source {
            SourceCommand::Row(_) => vec![row_command(&self.row, env)],
            SourceCommand::From { .. } => events
                .into_iter()
                .map(|e| self.start_row(e, env.schema))
                .collect(),
        };
        let rows = self.run_prefix(rows, env);
        self.run_rest(rows, env)
    }
}

fn metadata_value(event: &Event, name: &str, schema: &Schema) -> Value {
    match name {
        "_version" => Value::Long(1),
        "_score" => Value::Double(0.0),
        "_source" => Value::Str(serde_json::Value::Object(event.fields.clone()).to_string()),
        "_ignored" => Value::Null,
        _ => source_value(event, name, schema),
    }
}

/// `ROW a = ..., b = ...`: each field may use the ones before it.
fn bind_row(fields: &[Field], text: &str, regexes: &RegexBudget) -> Result<Vec<BExpr>, EsqlError> {
    let mut layout = Layout::default();
    let mut bound = Vec::with_capacity(fields.len());
    for f in fields {
        bound.push(bind_within(&f.expr, &layout, text, regexes)?);
        layout.columns.push(f.name.clone());
    }
    Ok(bound)
}

fn row_command(exprs: &[BExpr], env: &mut Env) -> Row {
    let mut row = Row::default();
    for e in exprs {
        let v = e.eval(&row, env);
        row.values.push(v);
    }
    row
}

struct Compiler<'a> {
    text: &'a str,
    layout: Layout,
    steps: Vec<Step>,
    keep_sources: bool,
    regexes: RegexBudget,
}

impl Compiler<'_> {
    fn err(&self, expr: &Expr, msg: impl Into<String>) -> EsqlError {
        EsqlError::at(self.text, expr.span.start, msg)
    }

    fn command(&mut self, command: &Command) -> Result<(), EsqlError> {
        match command {
            Command::Where(e) => {
                let b = bind_within(e, &self.layout, self.text, &self.regexes)?;
                self.steps.push(Step::Where(b));
            }
            Command::Eval(fields) => {
                for f in fields {
                    let b = bind_within(&f.expr, &self.layout, self.text, &self.regexes)?;
                    let replaces = self.add_column(&f.name);
                    self.steps.push(Step::Eval { expr: b, replaces });
                }
            }
            Command::Keep(patterns) => self.keep(patterns)?,
            Command::Drop(patterns) => self.drop(patterns)?,
            Command::Rename(pairs) => {
                for (old, new) in pairs {
                    self.rename(old, new)?;
                }
            }
            Command::Stats { aggs, by } => self.stats(aggs, by)?,
            Command::Sort(keys) => {
                let mut bound = Vec::new();
                for k in keys {
                    let b = bind_within(&k.expr, &self.layout, self.text, &self.regexes)?;
                    // Nulls are the largest values unless told otherwise.
                    let nulls_first = k.nulls_first.unwrap_or(k.descending);
                    bound.push((b, k.descending, nulls_first));
                }
                self.steps.push(Step::Sort(bound));
            }
            Command::Limit(n) => self
                .steps
                .push(Step::Limit(usize::try_from(*n).unwrap_or(usize::MAX))),
            Command::MvExpand(name) => {
                let col = self.materialize(name)?;
                self.steps.push(Step::MvExpand(col));
            }
            Command::Dissect {
                input,
                pattern,
                append_separator,
            } => {
                let b = bind_within(input, &self.layout, self.text, &self.regexes)?;
                let dissect = Dissect::new(pattern, append_separator)
                    .map_err(|e| self.err(input, format!("invalid DISSECT pattern: {e}")))?;
                let replaces = dissect
                    .keys()
                    .iter()
                    .filter_map(|k| self.add_column(k))
                    .collect();
                self.steps.push(Step::Dissect {
                    input: b,
                    dissect: Box::new(dissect),
                    replaces,
                });
            }
            Command::Grok { input, pattern } => {
                let b = bind_within(input, &self.layout, self.text, &self.regexes)?;
                let grok = Grok::new_within(pattern, &self.regexes)
                    .map_err(|e| self.err(input, format!("invalid GROK pattern: {e}")))?;
                let names: Vec<String> = grok.columns().iter().map(|(n, _)| n.clone()).collect();
                let replaces = names.iter().filter_map(|k| self.add_column(k)).collect();
                self.steps.push(Step::Grok {
                    input: b,
                    grok: Box::new(grok),
                    replaces,
                });
            }
        }
        Ok(())
    }

    /// Appends a column named `name` to the layout; returns the index of the column it
    /// replaces (removed from the layout), and hides a source field of that name.
    fn add_column(&mut self, name: &str) -> Option<usize> {
        let replaced = self.layout.position(name);
        if let Some(i) = replaced {
            self.layout.columns.remove(i);
            if let Some(rest) = &mut self.layout.rest {
                if rest.pos > i {
                    rest.pos -= 1;
                }
            }
        }
        if let Some(rest) = &mut self.layout.rest {
            rest.exclude.push(name.to_string());
        }
        self.layout.columns.push(name.to_string());
        replaced
    }

    /// Makes `name` an explicit column (pulling it from the source if needed); its index.
    fn materialize(&mut self, name: &str) -> Result<usize, EsqlError> {
        if let Some(i) = self.layout.position(name) {
            return Ok(i);
        }
        match &self.layout.rest {
            Some(rest) if rest.admits(name) => {
                let mut picks: Vec<Pick> = (0..self.layout.columns.len()).map(Pick::Col).collect();
                picks.push(Pick::Source(Arc::from(name)));
                self.steps.push(Step::Project {
                    picks,
                    keep_source: true,
                });
                self.layout.columns.push(name.to_string());
                if let Some(rest) = &mut self.layout.rest {
                    rest.exclude.push(name.to_string());
                }
                Ok(self.layout.columns.len() - 1)
            }
            _ => Err(EsqlError::at(
                self.text,
                0,
                format!("Unknown column [{name}]"),
            )),
        }
    }

    fn keep(&mut self, patterns: &[String]) -> Result<(), EsqlError> {
        let mut picks = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut rest_out: Option<Rest> = None;
        for pattern in patterns {
            let mut matched = false;
            for (i, col) in self.layout.columns.iter().enumerate() {
                if glob_match(pattern, col) && !names.contains(col) {
                    picks.push(Pick::Col(i));
                    names.push(col.clone());
                    matched = true;
                }
            }
            let Some(rest) = &self.layout.rest else {
                if !matched && !pattern.contains('*') {
                    return Err(EsqlError::at(
                        self.text,
                        0,
                        format!("Unknown column [{pattern}]"),
                    ));
                }
                continue;
            };
            if pattern.contains('*') {
                let out = rest_out.get_or_insert_with(|| {
                    let mut include = rest.include.clone();
                    include.push(Vec::new());
                    Rest {
                        pos: names.len(),
                        include,
                        exclude: rest.exclude.clone(),
                    }
                });
                if let Some(layer) = out.include.last_mut() {
                    layer.push(pattern.clone());
                }
            } else if !matched && rest.admits(pattern) {
                picks.push(Pick::Source(Arc::from(pattern.as_str())));
                names.push(pattern.clone());
            }
        }
        if let Some(out) = &mut rest_out {
            // What an explicit column already shows is not shown again.
            out.exclude.extend(names.iter().cloned());
        }
        let keep_source = rest_out.is_some() || self.keep_sources;
        self.steps.push(Step::Project { picks, keep_source });
        self.layout = Layout {
            columns: names,
            rest: rest_out,
        };
        Ok(())
    }

    fn drop(&mut self, patterns: &[String]) -> Result<(), EsqlError> {
        let mut keep = Vec::new();
        let mut names = Vec::new();
        for (i, col) in self.layout.columns.iter().enumerate() {
            if !patterns.iter().any(|p| glob_match(p, col)) {
                keep.push(Pick::Col(i));
                names.push(col.clone());
            }
        }
        for p in patterns {
            let known = self.layout.columns.iter().any(|c| glob_match(p, c));
            if !known && !p.contains('*') && self.layout.rest.is_none() {
                return Err(EsqlError::at(self.text, 0, format!("Unknown column [{p}]")));
            }
        }
        let mut rest = self.layout.rest.clone();
        if let Some(rest) = &mut rest {
            let before = self.layout.columns[..rest.pos.min(self.layout.columns.len())]
                .iter()
                .filter(|c| !patterns.iter().any(|p| glob_match(p, c)))
                .count();
            rest.pos = before;
            rest.exclude.extend(patterns.iter().cloned());
        }
        let keep_source = rest.is_some() || self.keep_sources;
        self.steps.push(Step::Project {
            picks: keep,
            keep_source,
        });
        self.layout = Layout {
            columns: names,
            rest,
        };
        Ok(())
    }

    fn rename(&mut self, old: &str, new: &str) -> Result<(), EsqlError> {
        let i = self.materialize(old)?;
        // A column that already has the new name goes away.
        if let Some(j) = self.layout.position(new) {
            if j != i {
                let picks = (0..self.layout.columns.len())
                    .filter(|&k| k != j)
                    .map(Pick::Col)
                    .collect();
                let keep_source = self.layout.rest.is_some() || self.keep_sources;
                self.steps.push(Step::Project { picks, keep_source });
                self.layout.columns.remove(j);
                if let Some(rest) = &mut self.layout.rest {
                    if rest.pos > j {
                        rest.pos -= 1;
                    }
                }
            }
        }
        let i = self.layout.position(old).unwrap_or(i);
        self.layout.columns[i] = new.to_string();
        if let Some(rest) = &mut self.layout.rest {
            rest.exclude.push(old.to_string());
            rest.exclude.push(new.to_string());
        }
        Ok(())
    }

    fn stats(&mut self, aggs: &[Field], by: &[Field]) -> Result<(), EsqlError> {
        let mut by_bound = Vec::new();
        for f in by {
            if contains_aggregate(&f.expr) {
                return Err(self.err(&f.expr, "aggregate functions are not allowed in BY"));
            }
            by_bound.push(bind_within(
                &f.expr,
                &self.layout,
                self.text,
                &self.regexes,
            )?);
        }
        let by_names: Vec<String> = by.iter().map(|f| f.name.clone()).collect();
        let mut calls = Vec::new();
        let mut outputs = Vec::new();
        for f in aggs {
            if !contains_aggregate(&f.expr) {
                return Err(self.err(
                    &f.expr,
                    format!(
                        "expected an aggregate function in STATS, found [{}]",
                        &self.text[f.expr.span.start..f.expr.span.end]
                    ),
                ));
            }
            outputs.push(self.agg_expr(&f.expr, &mut calls, &by_names, aggs.len())?);
        }
        let n_aggs = aggs.len();
        let by_count = by.len();
        // Output columns: aggregates, then the BY keys (each key as an output expression).
        for k in 0..by_count {
            outputs.push(BExpr::Col(n_aggs + k));
        }
        // Placeholders for aggregate results are numbered after the declared outputs.
        self.steps.push(Step::Stats(Box::new(StatsPlan {
            by: by_bound,
            calls,
            outputs,
            by_count,
        })));
        let mut columns: Vec<String> = aggs.iter().map(|f| f.name.clone()).collect();
        columns.extend(by_names);
        // A later column of the same name wins.
        dedup_keep_last(&mut columns);
        self.layout = Layout {
            columns,
            rest: None,
        };
        Ok(())
    }

    /// Binds an aggregate output expression: aggregate calls become references to their
    /// results (placed after the outputs and keys), other fields must be BY keys.
    fn agg_expr(
        &self,
        expr: &Expr,
        calls: &mut Vec<AggCall>,
        by_names: &[String],
        n_aggs: usize,
    ) -> Result<BExpr, EsqlError> {
        match &expr.kind {
            ExprKind::Call { name, args, star } if is_aggregate(name) => {
                if args.iter().any(contains_aggregate) {
                    return Err(self.err(expr, "aggregate functions cannot be nested"));
                }
                let consts: Vec<Value> = args
                    .iter()
                    .skip(1)
                    .filter_map(|a| match &a.kind {
                        ExprKind::Literal(v) => Some(v.clone()),
                        _ => None,
                    })
                    .collect();
                let kind = AggKind::from_call(name, *star, args.len(), &consts).map_err(|m| self.err(expr, m))?;
                let arg = match (kind, args.first()) {
                    (AggKind::CountRows, _) | (_, None) => None,
                    (_, Some(a)) => Some(bind_within(a, &self.layout, self.text, &self.regexes)?),
                };
                calls.push(AggCall { kind, arg });
                Ok(BExpr::Col(n_aggs + by_names.len() + calls.len() - 1))
            }
            ExprKind::Field(name) => match by_names.iter().position(|b| b == name) {
                Some(k) => Ok(BExpr::Col(n_aggs + k)),
                None => Err(self.err(expr, format!("column [{name}] must appear in the STATS BY clause or be used in an aggregate function"))),
            },
            _ => {
                // Rebuild the expression with aggregate calls replaced by references.
                let mut replaced = expr.clone();
                let mut err = None;
                let mut slots: Vec<(String, BExpr)> = Vec::new();
                replace_aggs(&mut replaced, &mut |sub| match self.agg_expr(sub, calls, by_names, n_aggs) {
                    Ok(b) => {
                        let name = format!("\u{0}agg{}", slots.len());
                        slots.push((name.clone(), b));
                        Some(name)
                    }
                    Err(e) => {
                        err.get_or_insert(e);
                        None
                    }
                });
                if let Some(e) = err {
                    return Err(e);
                }
                let layout = Layout {
                    columns: slots.iter().map(|(name, _)| name.clone()).collect(),
                    rest: None,
                };
                let bound = bind_within(&replaced, &layout, self.text, &self.regexes)?;
                Ok(substitute(bound, &slots.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>()))
            }
        }
    }
}

fn dedup_keep_last(columns: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<String> = columns
        .iter()
        .rev()
        .filter(|c| seen.insert((*c).clone()))
        .cloned()
        .collect();
    out.reverse();
    *columns = out;
}

fn contains_aggregate(e: &Expr) -> bool {
    let mut found = false;
    e.walk(&mut |x| {
        if let ExprKind::Call { name, .. } = &x.kind {
            found |= is_aggregate(name);
        }
    });
    found
}

/// Replaces aggregate calls and bare fields (outermost first) by fields named by `f`.
fn replace_aggs(e: &mut Expr, f: &mut dyn FnMut(&Expr) -> Option<String>) {
    let is_leaf = matches!(&e.kind, ExprKind::Call { name, .. } if is_aggregate(name))
        || matches!(e.kind, ExprKind::Field(_));
    if is_leaf {
        if let Some(name) = f(e) {
            e.kind = ExprKind::Field(name);
        }
        return;
    }
    match &mut e.kind {
        ExprKind::Literal(_) | ExprKind::Field(_) => {}
        ExprKind::Call { args, .. } => args.iter_mut().for_each(|a| replace_aggs(a, f)),
        ExprKind::Neg(x) | ExprKind::Not(x) | ExprKind::Cast(x, _) => replace_aggs(x, f),
        ExprKind::Binary(_, l, r) => {
            replace_aggs(l, f);
            replace_aggs(r, f);
        }
        ExprKind::In { expr, list, .. } => {
            replace_aggs(expr, f);
            list.iter_mut().for_each(|a| replace_aggs(a, f));
        }
        ExprKind::IsNull { expr, .. } | ExprKind::Like { expr, .. } => replace_aggs(expr, f),
    }
}

/// Replaces `Col(i)` (a slot) by `slots[i]`.
fn substitute(e: BExpr, slots: &[BExpr]) -> BExpr {
    let s = |x: Box<BExpr>| Box::new(substitute(*x, slots));
    match e {
        BExpr::Col(i) => slots.get(i).cloned().unwrap_or(BExpr::Lit(Value::Null)),
        BExpr::Lit(_) | BExpr::Source(_) => e,
        BExpr::Replace { args, regex, span } => BExpr::Replace {
            args: args.into_iter().map(|a| substitute(a, slots)).collect(),
            regex,
            span,
        },
        BExpr::Call { func, args, span } => BExpr::Call {
            func,
            args: args.into_iter().map(|a| substitute(a, slots)).collect(),
            span,
        },
        BExpr::Neg(x, span) => BExpr::Neg(s(x), span),
        BExpr::Not(x) => BExpr::Not(s(x)),
        BExpr::Binary(op, l, r, span) => BExpr::Binary(op, s(l), s(r), span),
        BExpr::In {
            expr,
            list,
            negated,
            span,
        } => BExpr::In {
            expr: s(expr),
            list: list.into_iter().map(|a| substitute(a, slots)).collect(),
            negated,
            span,
        },
        BExpr::IsNull(x, n) => BExpr::IsNull(s(x), n),
        BExpr::Like {
            expr,
            regexes,
            negated,
            span,
        } => BExpr::Like {
            expr: s(expr),
            regexes,
            negated,
            span,
        },
        BExpr::Cast(x, ty, span) => BExpr::Cast(s(x), ty, span),
    }
}

fn run_steps(steps: &[Step], mut rows: Vec<Row>, env: &mut Env) -> Vec<Row> {
    for step in steps {
        rows = run_step(step, rows, env);
    }
    rows
}

fn run_step(step: &Step, rows: Vec<Row>, env: &mut Env) -> Vec<Row> {
    match step {
        Step::Where(cond) => rows
            .into_iter()
            .filter(|r| cond.eval(r, env) == Value::Bool(true))
            .collect(),
        Step::Eval { expr, replaces } => rows
            .into_iter()
            .map(|mut r| {
                let v = expr.eval(&r, env);
                if let Some(i) = replaces {
                    r.values.remove(*i);
                }
                r.values.push(v);
                r
            })
            .collect(),
        Step::Project { picks, keep_source } => rows
            .into_iter()
            .map(|r| {
                let values = picks
                    .iter()
                    .map(|p| match p {
                        Pick::Col(i) => r.values.get(*i).cloned().unwrap_or(Value::Null),
                        Pick::Source(path) => r
                            .source
                            .as_ref()
                            .map_or(Value::Null, |s| source_value(s, path, env.schema)),
                    })
                    .collect();
                Row {
                    values,
                    source: if *keep_source { r.source } else { None },
                    provenance: r.provenance,
                }
            })
            .collect(),
        Step::Stats(plan) => run_stats(plan, rows, env),
        Step::Sort(keys) => sort_rows(keys, rows, env),
        Step::Limit(n) => {
            let mut rows = rows;
            rows.truncate(*n);
            rows
        }
        Step::MvExpand(col) => {
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                match r.values.get(*col) {
                    Some(Value::Multi(values)) => {
                        for v in values.clone() {
                            let mut copy = r.clone();
                            copy.values[*col] = v;
                            out.push(copy);
                        }
                    }
                    _ => out.push(r),
                }
            }
            out
        }
        Step::Dissect {
            input,
            dissect,
            replaces,
        } => extract_columns(rows, input, dissect.keys().len(), replaces, env, |s| {
            dissect
                .apply(s)
                .map(|vs| vs.into_iter().map(|v| vec![Value::Str(v)]).collect())
        }),
        Step::Grok {
            input,
            grok,
            replaces,
        } => extract_columns(rows, input, grok.columns().len(), replaces, env, |s| {
            grok.apply(s).map(|cols| {
                cols.into_iter()
                    .map(|vs| vs.into_iter().map(grok_value).collect())
                    .collect()
            })
        }),
    }
}

/// DISSECT and GROK: parses the input of each row (each value of a multi-valued input, the
/// results accumulating) into `n` new columns, replacing the columns they shadow. A row
/// whose input does not match gets nulls.
fn extract_columns(
    rows: Vec<Row>,
    input: &BExpr,
    n: usize,
    replaces: &[usize],
    env: &mut Env,
    parse: impl Fn(&str) -> Option<Vec<Vec<Value>>>,
) -> Vec<Row> {
    rows.into_iter()
        .map(|mut r| {
            let mut columns: Vec<Vec<Value>> = vec![Vec::new(); n];
            for v in input.eval(&r, env).values() {
                if let Value::Str(s) = v {
                    for (col, parsed) in columns.iter_mut().zip(parse(s).unwrap_or_default()) {
                        col.extend(parsed);
                    }
                }
            }
            remove_columns(&mut r, replaces);
            r.values.extend(columns.into_iter().map(Value::from_values));
            r
        })
        .collect()
}

fn remove_columns(row: &mut Row, indices: &[usize]) {
    let mut sorted = indices.to_vec();
    sorted.sort_unstable();
    for i in sorted.into_iter().rev() {
        if i < row.values.len() {
            row.values.remove(i);
        }
    }
}

fn grok_value(v: GrokValue) -> Value {
    match v {
        GrokValue::Keyword(s) => Value::Str(s),
        GrokValue::Integer(i) => Value::Int(i),
        GrokValue::Long(l) => Value::Long(l),
        GrokValue::Double(d) => Value::Double(d),
        GrokValue::Boolean(b) => Value::Bool(b),
    }
}

fn run_stats(plan: &StatsPlan, rows: Vec<Row>, env: &mut Env) -> Vec<Row> {
    let mut index: HashMap<Vec<Key>, usize> = HashMap::new();
    let mut groups: Vec<(Vec<Value>, Vec<AggState>, Provenance)> = Vec::new();
    let n_calls = plan.calls.len();
    if plan.by.is_empty() {
        index.insert(Vec::new(), 0);
        groups.push((
            Vec::new(),
            vec![AggState::default(); n_calls],
            Provenance::default(),
        ));
    }
    for row in &rows {
        let keys: Vec<Value> = plan.by.iter().map(|b| b.eval(row, env)).collect();
        let args: Vec<Option<Value>> = plan
            .calls
            .iter()
            .map(|c| c.arg.as_ref().map(|a| a.eval(row, env)))
            .collect();
        for combo in key_combinations(&keys) {
            let hash_key: Vec<Key> = combo.iter().cloned().map(Key).collect();
            let g = *index.entry(hash_key).or_insert_with(|| {
                groups.push((
                    combo.clone(),
                    vec![AggState::default(); n_calls],
                    Provenance::default(),
                ));
                groups.len() - 1
            });
            if let Some(p) = &row.provenance {
                groups[g].2.merge(p);
            }
            let states = &mut groups[g].1;
            for ((call, arg), state) in plan.calls.iter().zip(&args).zip(states.iter_mut()) {
                match (call.kind, arg) {
                    (AggKind::CountRows, _) => state.add_row(),
                    (kind, Some(v)) => state.add(kind, v),
                    (_, None) => {}
                }
            }
        }
    }
    let n_out = plan.outputs.len() - plan.by_count;
    let mut out = Vec::with_capacity(groups.len());
    for (keys, mut states, provenance) in groups {
        // Slots: [outputs placeholder..., keys..., aggregate results...]
        let mut slots = vec![Value::Null; n_out];
        slots.extend(keys);
        for (call, state) in plan.calls.iter().zip(states.iter_mut()) {
            let v = state.finish(call.kind).unwrap_or_else(|why| {
                env.warnings.push(format!(
                    "aggregation failed, treating result as null: {why}"
                ));
                Value::Null
            });
            slots.push(v);
        }
        let scratch = Row {
            values: slots,
            ..Row::default()
        };
        let values = plan.outputs.iter().map(|o| o.eval(&scratch, env)).collect();
        out.push(Row {
            values,
            source: None,
            provenance: (provenance.count > 0).then(|| Box::new(provenance)),
        });
    }
    out
}

/// Every combination of the keys' values: a multi-valued key puts the row in each group,
/// a null key is its own group.
fn key_combinations(keys: &[Value]) -> Vec<Vec<Value>> {
    let mut combos: Vec<Vec<Value>> = vec![Vec::with_capacity(keys.len())];
    for k in keys {
        let values: Vec<Value> = match k {
            Value::Multi(vs) => vs.clone(),
            other => vec![other.clone()],
        };
        if values.len() == 1 {
            for c in &mut combos {
                c.push(values[0].clone());
            }
            continue;
        }
        let mut next = Vec::with_capacity(combos.len() * values.len());
        for c in &combos {
            for v in &values {
                let mut c = c.clone();
                c.push(v.clone());
                next.push(c);
            }
        }
        combos = next;
    }
    combos
}

fn sort_rows(keys: &[(BExpr, bool, bool)], rows: Vec<Row>, env: &mut Env) -> Vec<Row> {
    let mut keyed: Vec<(Vec<Value>, Row)> = rows
        .into_iter()
        .map(|r| {
            let ks = keys
                .iter()
                .map(|(e, desc, _)| match e.eval(&r, env) {
                    // A multi-valued key sorts by its smallest value ascending, largest descending.
                    Value::Multi(vs) => {
                        let pick = if *desc {
                            vs.iter().max_by(|a, b| total_cmp(a, b))
                        } else {
                            vs.iter().min_by(|a, b| total_cmp(a, b))
                        };
                        pick.cloned().unwrap_or(Value::Null)
                    }
                    v => v,
                })
                .collect();
            (ks, r)
        })
        .collect();
    sort_rows_stable(&mut keyed, keys);
    keyed.into_iter().map(|(_, r)| r).collect()
}

fn sort_rows_stable(keyed: &mut [(Vec<Value>, Row)], keys: &[(BExpr, bool, bool)]) {
    keyed.sort_by(|(a, _), (b, _)| {
        for (i, (_, desc, nulls_first)) in keys.iter().enumerate() {
            let ord = match (a[i].is_null(), b[i].is_null()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => {
                    if *nulls_first {
                        std::cmp::Ordering::Less
                    } else {
                        std::cmp::Ordering::Greater
                    }
                }
                (false, true) => {
                    if *nulls_first {
                        std::cmp::Ordering::Greater
                    } else {
                        std::cmp::Ordering::Less
                    }
                }
                (false, false) => {
                    let o = total_cmp(&a[i], &b[i]);
                    if *desc {
                        o.reverse()
                    } else {
                        o
                    }
                }
            };
            if ord != std::cmp::Ordering::Equal {
                return ord;
            }
        }
        std::cmp::Ordering::Equal
    });
}

/// Runs a query over events: a convenience for tests and one-shot use.
pub fn run_query(
    text: &str,
    events: &[Event],
    schema: &Schema,
) -> Result<(Output, Warnings), EsqlError> {
    let plan = Plan::compile(text, &PlanOptions::default())?;
    let mut warnings = Warnings::default();
    let mut env = Env {
        query: plan.text(),
        schema,
        now: 0,
        warnings: &mut warnings,
    };
    let out = plan.run(events.iter().cloned().map(Arc::new), &mut env);
    Ok((out, warnings))
}
