//! ES|QL detection rules: Elastic's TOML rule files and bare `.esql` files.
//!
//! A TOML file has `[metadata]` and `[rule]` (with `type = "esql"`, `query`, `interval`,
//! `from`, `max_signals`, `severity`, `risk_score`, `threat`, `note`, `alert_suppression`,
//! ...) exactly as elastic/detection-rules writes them. A `.esql` file is a query whose
//! leading `// key: value` comment lines carry the metadata.

use std::path::Path;
use std::sync::Arc;

use modelward_rule::{RuleMeta, RuleType, Severity, Threat};
use serde::Deserialize;

use crate::plan::{Plan, PlanOptions};
use crate::prefilter::{requirement, Requirement};
use modelward_rule::{Limits, RegexBudget};

/// A rule file that could not be loaded: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct RuleError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingFields {
    Suppress,
    DoNotSuppress,
}

/// Kibana's alert suppression for a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuppressionSpec {
    pub group_by: Vec<String>,
    /// None: per rule execution.
    pub duration_ms: Option<i64>,
    pub missing_fields: MissingFields,
}

/// A loaded ES|QL rule with its schedule.
#[derive(Debug, Clone)]
pub struct EsqlRule {
    pub meta: Arc<RuleMeta>,
    pub plan: Plan,
    pub interval_ms: i64,
    /// How long each execution's window is: `from` minus `to` (`from = "now-60m"` with the
    /// default `to = "now"` gives 3,600,000).
    pub lookback_ms: i64,
    /// How far before the execution time the window ends (`to = "now-5m"` gives 300,000).
    pub end_offset_ms: i64,
    pub max_signals: usize,
    pub timestamp_override: Option<String>,
    pub suppression: Option<SuppressionSpec>,
    /// Whether the query aggregates (has STATS): Kibana deduplicates only non-aggregating
    /// rules' alerts across executions.
    pub aggregating: bool,
    pub requirement: Requirement,
}

pub const DEFAULT_INTERVAL_MS: i64 = 5 * 60_000;
pub const DEFAULT_LOOKBACK_MS: i64 = 6 * 60_000;
pub const DEFAULT_MAX_SIGNALS: usize = 100;

#[derive(Deserialize)]
struct TomlFile {
    #[serde(default)]
    metadata: toml::Table,
    rule: TomlRule,
}

#[derive(Deserialize)]
struct TomlRule {
    #[serde(rename = "type")]
    rule_type: String,
    name: String,
    rule_id: String,
    #[serde(default)]
    description: String,
    severity: String,
    risk_score: i64,
    query: toml::Spanned<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    interval: Option<toml::Spanned<String>>,
    #[serde(default)]
    from: Option<toml::Spanned<String>>,
    #[serde(default)]
    to: Option<toml::Spanned<String>>,
    #[serde(default)]
    max_signals: Option<i64>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    references: Vec<String>,
    #[serde(default)]
    false_positives: Vec<String>,
    #[serde(default)]
    author: Vec<String>,
    #[serde(default)]
    license: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    setup: Option<String>,
    #[serde(default)]
    version: Option<toml::Value>,
    #[serde(default)]
    timestamp_override: Option<String>,
    #[serde(default)]
    threat: Vec<Threat>,
    #[serde(default)]
    alert_suppression: Option<TomlSuppression>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlSuppression {
    group_by: Vec<String>,
    #[serde(default)]
    duration: Option<TomlDuration>,
    #[serde(default)]
    missing_fields_strategy: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlDuration {
    value: i64,
    unit: String,
}

/// Position of a byte offset: 1-based line and column (in characters).
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn at(&self, offset: usize, message: impl Into<String>) -> RuleError {
        let (line, column) = line_col(self.text, offset);
        RuleError {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }
}

/// Loads an Elastic TOML rule. `origin` names the file in errors and in the rule metadata.
pub fn parse_toml_rule(text: &str, origin: &str) -> Result<EsqlRule, RuleError> {
    parse_toml_rule_within(text, origin, &Limits::default(), &RegexBudget::unlimited())
}

/// [`parse_toml_rule`] within `limits` (a query nested past `max_expression_depth` is an
/// error for this rule), its regexes charged to the rule set's `regexes` (past the budget,
/// an error for this rule).
pub fn parse_toml_rule_within(
    text: &str,
    origin: &str,
    limits: &Limits,
    regexes: &RegexBudget,
) -> Result<EsqlRule, RuleError> {
    let cx = Ctx { file: origin, text };
    let file: TomlFile = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        cx.at(offset, e.message().to_string())
    })?;
    let _ = &file.metadata;
    let rule = file.rule;
    if rule.rule_type != "esql" {
        return Err(cx.at(
            0,
            format!(
                "rule type [{}] is not supported here; only type = \"esql\" rules run as ES|QL",
                rule.rule_type
            ),
        ));
    }
    if let Some(lang) = &rule.language {
        if lang != "esql" {
            return Err(cx.at(0, format!("language [{lang}] is not esql")));
        }
    }
    let severity = Severity::parse(&rule.severity)
        .ok_or_else(|| cx.at(0, format!("unknown severity [{}]", rule.severity)))?;
    let risk_score = u8::try_from(rule.risk_score)
        .ok()
        .filter(|r| *r <= 100)
        .ok_or_else(|| {
            cx.at(
                0,
                format!("risk_score must be 0..100, got {}", rule.risk_score),
            )
        })?;
    let interval_ms = match &rule.interval {
        Some(s) => parse_span(s.get_ref()).ok_or_else(|| {
            cx.at(
                s.span().start,
                format!("invalid interval [{}]; expected e.g. \"10m\"", s.get_ref()),
            )
        })?,
        None => DEFAULT_INTERVAL_MS,
    };
    let to_ms = match &rule.to {
        Some(s) => parse_date_math(s.get_ref())
            .ok_or_else(|| cx.at(s.span().start, format!("invalid to [{}]", s.get_ref())))?,
        None => 0,
    };
    let lookback_ms = match &rule.from {
        Some(s) => {
            parse_date_math(s.get_ref()).ok_or_else(|| {
                cx.at(
                    s.span().start,
                    format!("invalid from [{}]; expected e.g. \"now-60m\"", s.get_ref()),
                )
            })? - to_ms
        }
        None => DEFAULT_LOOKBACK_MS,
    };
    if lookback_ms <= 0 {
        return Err(cx.at(0, "from must be earlier than to"));
    }
    let max_signals = match rule.max_signals {
        Some(n) if n >= 1 => n as usize,
        Some(n) => return Err(cx.at(0, format!("max_signals must be at least 1, got {n}"))),
        None => DEFAULT_MAX_SIGNALS,
    };
    let suppression = rule
        .alert_suppression
        .as_ref()
        .map(|s| suppression_spec(s, &cx))
        .transpose()?;
    let mut meta = RuleMeta::new(
        &rule.rule_id,
        &rule.name,
        RuleType::Esql,
        severity,
        risk_score,
    );
    meta.description = rule.description.trim().to_string();
    // MITRE's current names for the ids it knows (Elastic's rules may carry older ones).
    meta.threat = modelward_rule::mitre::canonical(rule.threat);
    meta.tags = rule.tags;
    meta.references = rule.references;
    meta.false_positives = rule.false_positives;
    meta.author = rule.author;
    meta.license = rule.license;
    meta.note = rule.note;
    meta.setup = rule.setup;
    meta.version = rule.version.map(|v| match v {
        toml::Value::String(s) => s,
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        other => format!("{other:?}"),
    });
    meta.origin = origin.to_string();
    let query_start = query_offset(text, rule.query.span().start);
    let plan = Plan::compile(
        rule.query.get_ref(),
        &PlanOptions {
            limit: Some(max_signals + 1),
            max_depth: Some(limits.max_expression_depth),
            regexes: Some(regexes.clone()),
        },
    )
    .map_err(|e| {
        let (line, column) = line_col(
            text,
            query_start + byte_offset(rule.query.get_ref(), e.line, e.column),
        );
        query_error(origin, line, column, &e)
    })?;
    let mut loaded = finish(
        meta,
        plan,
        interval_ms,
        lookback_ms,
        max_signals,
        rule.timestamp_override,
        suppression,
    );
    loaded.end_offset_ms = to_ms;
    Ok(loaded)
}

/// A query error at its place in the rule file, with the query's caret snippet.
fn query_error(origin: &str, line: usize, column: usize, e: &crate::EsqlError) -> RuleError {
    let snippet: Vec<String> = e.snippet.lines().map(|l| format!("    {l}")).collect();
    RuleError {
        file: origin.to_string(),
        line,
        column,
        message: format!("{}\n{}", e.message, snippet.join("\n")),
    }
}

fn finish(
    meta: RuleMeta,
    plan: Plan,
    interval_ms: i64,
    lookback_ms: i64,
    max_signals: usize,
    timestamp_override: Option<String>,
    suppression: Option<SuppressionSpec>,
) -> EsqlRule {
    let aggregating = plan
        .query()
        .commands
        .iter()
        .any(|c| matches!(c.node, crate::ast::Command::Stats { .. }));
    let requirement = requirement(plan.query());
    EsqlRule {
        meta: Arc::new(meta),
        plan,
        interval_ms,
        lookback_ms,
        end_offset_ms: 0,
        max_signals,
        timestamp_override,
        suppression,
        aggregating,
        requirement,
    }
}

fn suppression_spec(s: &TomlSuppression, cx: &Ctx) -> Result<SuppressionSpec, RuleError> {
    if s.group_by.is_empty() || s.group_by.len() > 3 {
        return Err(cx.at(0, "alert_suppression.group_by takes 1 to 3 fields"));
    }
    let duration_ms = match &s.duration {
        Some(d) => {
            let unit = match d.unit.as_str() {
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                other => {
                    return Err(cx.at(
                        0,
                        format!("alert_suppression.duration.unit must be s, m or h, got [{other}]"),
                    ))
                }
            };
            if d.value < 1 {
                return Err(cx.at(0, "alert_suppression.duration.value must be at least 1"));
            }
            Some(d.value * unit)
        }
        None => None,
    };
    let missing_fields = match s.missing_fields_strategy.as_deref() {
        None | Some("suppress") => MissingFields::Suppress,
        Some("doNotSuppress") => MissingFields::DoNotSuppress,
        Some(other) => return Err(cx.at(0, format!("unknown missing_fields_strategy [{other}]"))),
    };
    Ok(SuppressionSpec {
        group_by: s.group_by.clone(),
        duration_ms,
        missing_fields,
    })
}

/// Where a TOML string's content starts, given the span of the value (with its quotes).
fn query_offset(text: &str, value_start: usize) -> usize {
    let rest = &text[value_start.min(text.len())..];
    for quote in ["'''", "\"\"\""] {
        if let Some(after) = rest.strip_prefix(quote) {
            // A newline right after the opening delimiter is not part of the string.
            let skip = if after.starts_with("\r\n") {
                2
            } else if after.starts_with('\n') {
                1
            } else {
                0
            };
            return value_start + 3 + skip;
        }
    }
    value_start + 1
}

/// Byte offset of (line, column) in `text` (both 1-based, column in characters).
fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            return offset
                + l.char_indices()
                    .nth(column.saturating_sub(1))
                    .map_or(l.len(), |(b, _)| b);
        }
        offset += l.len();
    }
    text.len()
}

/// `10m`, `5m`, `1h`, `30s`, `2d`.
pub fn parse_span(text: &str) -> Option<i64> {
    let text = text.trim();
    let (num, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = num.parse().ok()?;
    let per = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    (n > 0).then_some(n * per)
}

/// `now`, `now-60m`: how far before the execution time, in milliseconds.
pub fn parse_date_math(text: &str) -> Option<i64> {
    let text = text.trim();
    let rest = text.strip_prefix("now")?;
    if rest.is_empty() {
        return Some(0);
    }
    let span = rest.strip_prefix('-')?;
    let span = span.split('/').next()?;
    parse_span(span)
}

/// Loads a `.esql` file: a query with `// key: value` header comments.
pub fn parse_esql_file(text: &str, origin: &str) -> Result<EsqlRule, RuleError> {
    parse_esql_file_within(text, origin, &Limits::default(), &RegexBudget::unlimited())
}

/// [`parse_esql_file`] within `limits`, its regexes charged to `regexes`.
pub fn parse_esql_file_within(
    text: &str,
    origin: &str,
    limits: &Limits,
    regexes: &RegexBudget,
) -> Result<EsqlRule, RuleError> {
    let cx = Ctx { file: origin, text };
    let stem = Path::new(origin)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(origin);
    let mut meta = RuleMeta::new(stem, stem, RuleType::Esql, Severity::Medium, 47);
    meta.origin = origin.to_string();
    let (mut interval_ms, mut lookback_ms, mut max_signals) = (
        DEFAULT_INTERVAL_MS,
        DEFAULT_LOOKBACK_MS,
        DEFAULT_MAX_SIGNALS,
    );
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        let Some(comment) = trimmed.strip_prefix("//") else {
            if trimmed.is_empty() {
                offset += line.len();
                continue;
            }
            break;
        };
        if let Some((key, value)) = comment.split_once(':') {
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
            let bad = |what: &str| cx.at(offset, format!("invalid {what} [{value}]"));
            match key.as_str() {
                "name" => meta.name = value.to_string(),
                "id" | "rule_id" => meta.id = value.to_string(),
                "description" => meta.description = value.to_string(),
                "severity" => {
                    meta.severity = Severity::parse(value).ok_or_else(|| bad("severity"))?
                }
                "risk_score" => {
                    meta.risk_score = value
                        .parse()
                        .ok()
                        .filter(|r| *r <= 100)
                        .ok_or_else(|| bad("risk_score"))?
                }
                "interval" => interval_ms = parse_span(value).ok_or_else(|| bad("interval"))?,
                "from" => lookback_ms = parse_date_math(value).ok_or_else(|| bad("from"))?,
                "max_signals" => {
                    max_signals = value
                        .parse()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| bad("max_signals"))?
                }
                "tags" => {
                    meta.tags = value
                        .split(',')
                        .map(|t| t.trim().to_string())
                        .filter(|t| !t.is_empty())
                        .collect()
                }
                "references" | "reference" => meta.references.push(value.to_string()),
                "note" => meta.note = Some(value.to_string()),
                _ => {}
            }
        }
        offset += line.len();
    }
    let plan = Plan::compile(
        text,
        &PlanOptions {
            limit: Some(max_signals + 1),
            max_depth: Some(limits.max_expression_depth),
            regexes: Some(regexes.clone()),
        },
    )
    .map_err(|e| query_error(origin, e.line, e.column, &e))?;
    Ok(finish(
        meta,
        plan,
        interval_ms,
        lookback_ms,
        max_signals,
        None,
        None,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_date_math() {
        assert_eq!(parse_span("10m"), Some(600_000));
        assert_eq!(parse_span("1h"), Some(3_600_000));
        assert_eq!(parse_span("m"), None);
        assert_eq!(parse_date_math("now-60m"), Some(3_600_000));
        assert_eq!(parse_date_math("now"), Some(0));
        assert_eq!(parse_date_math("yesterday"), None);
    }

    #[test]
    fn query_errors_point_into_the_file() {
        let text = "[metadata]\ncreation_date = \"2024/01/01\"\n\n[rule]\ntype = \"esql\"\nname = \"x\"\nrule_id = \"r\"\nseverity = \"low\"\nrisk_score = 21\nquery = '''\nfrom logs-*\n| where a ==\n'''\n";
        let e = parse_toml_rule(text, "r.toml").unwrap_err();
        assert_eq!((e.line, e.column), (12, 13), "{e}");
        let e = parse_toml_rule("[rule]\ntype = 3\n", "r.toml").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
    }
}
