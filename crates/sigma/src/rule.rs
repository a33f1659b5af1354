//! Sigma rule documents: detection rules, correlation rules and filters, read from the YAML
//! tree with every error at its line and column.

use crate::yaml::{Node, Yaml};

/// A problem in a rule document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: {message}")]
pub struct SigmaError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl SigmaError {
    pub fn at(node: &Node, message: impl Into<String>) -> SigmaError {
        SigmaError {
            line: node.line,
            col: node.col,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    fn parse(text: &str) -> Option<Level> {
        Some(match text.to_ascii_lowercase().as_str() {
            "informational" => Level::Informational,
            "low" => Level::Low,
            "medium" => Level::Medium,
            "high" => Level::High,
            "critical" => Level::Critical,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

/// Where a rule's events come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogSource {
    pub category: Option<String>,
    pub product: Option<String>,
    pub service: Option<String>,
    pub definition: Option<String>,
    /// Other keys, as the specification allows.
    pub custom: Vec<(String, String)>,
}

impl LogSource {
    pub fn is_empty(&self) -> bool {
        self.category.is_none() && self.product.is_none() && self.service.is_none()
    }
}

/// What every kind of rule document shares.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Common {
    pub title: String,
    pub id: Option<String>,
    /// Where `id` is (line, column), or the document's start.
    pub id_at: (usize, usize),
    pub name: Option<String>,
    pub status: Option<String>,
    pub description: String,
    pub license: Option<String>,
    pub author: Option<String>,
    pub references: Vec<String>,
    pub date: Option<String>,
    pub modified: Option<String>,
    pub tags: Vec<String>,
    pub level: Option<Level>,
    pub falsepositives: Vec<String>,
    pub line: usize,
}

/// A detection rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleDoc {
    pub common: Common,
    pub logsource: LogSource,
    /// The `detection` mapping, compiled later (see `detection`).
    pub detection: Node,
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrelationType {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
    ValueSum,
    ValueAvg,
    ValuePercentile,
    ValueMedian,
    ValueMin,
    ValueMax,
}

impl CorrelationType {
    fn parse(text: &str) -> Option<CorrelationType> {
        Some(match text.to_ascii_lowercase().as_str() {
            "event_count" => CorrelationType::EventCount,
            "value_count" => CorrelationType::ValueCount,
            "temporal" => CorrelationType::Temporal,
            "temporal_ordered" => CorrelationType::TemporalOrdered,
            "value_sum" => CorrelationType::ValueSum,
            "value_avg" => CorrelationType::ValueAvg,
            "value_percentile" => CorrelationType::ValuePercentile,
            "value_median" => CorrelationType::ValueMedian,
            "value_min" => CorrelationType::ValueMin,
            "value_max" => CorrelationType::ValueMax,
            _ => return None,
        })
    }

    pub fn needs_field(self) -> bool {
        !matches!(
            self,
            CorrelationType::EventCount
                | CorrelationType::Temporal
                | CorrelationType::TemporalOrdered
        )
    }

    pub fn is_temporal(self) -> bool {
        matches!(
            self,
            CorrelationType::Temporal | CorrelationType::TemporalOrdered
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

impl CmpOp {
    pub fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            CmpOp::Gt => value > bound,
            CmpOp::Gte => value >= bound,
            CmpOp::Lt => value < bound,
            CmpOp::Lte => value <= bound,
            CmpOp::Eq => value == bound,
            CmpOp::Neq => value != bound,
        }
    }
}

/// A correlation rule.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationDoc {
    pub common: Common,
    pub kind: CorrelationType,
    /// Referenced rules, by id or name, in order.
    pub rules: Vec<String>,
    /// Where `rules` is (line, column), for errors about references.
    pub rules_at: (usize, usize),
    pub group_by: Vec<String>,
    pub timespan_ms: i64,
    /// Every criterion must hold (a range is two).
    pub condition: Vec<(CmpOp, f64)>,
    pub field: Option<String>,
    pub percentile: Option<f64>,
    /// alias -> (rule name -> field)
    pub aliases: Vec<(String, Vec<(String, String)>)>,
    pub generate: bool,
}

/// A Sigma filter: extra conditions applied to referenced rules.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterDoc {
    pub common: Common,
    pub logsource: LogSource,
    /// Rules the filter applies to (ids or names); empty means every rule of the log source.
    pub rules: Vec<String>,
    /// The `filter` mapping: search identifiers and a condition, like a detection.
    pub filter: Node,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    Rule(RuleDoc),
    Correlation(CorrelationDoc),
    Filter(FilterDoc),
}

fn string(node: &Node, what: &str) -> Result<String, SigmaError> {
    match &node.value {
        Yaml::Str(s) => Ok(s.clone()),
        _ => node
            .scalar_text()
            .filter(|_| !matches!(node.value, Yaml::Null))
            .ok_or_else(|| {
                SigmaError::at(
                    node,
                    format!("`{what}` must be a string, found {}", node.kind()),
                )
            }),
    }
}

fn opt_string(doc: &Node, key: &str) -> Result<Option<String>, SigmaError> {
    doc.get(key)
        .filter(|n| n.value != Yaml::Null)
        .map(|n| string(n, key))
        .transpose()
}

/// A list of strings; a single string is accepted as a list of one.
fn string_list(doc: &Node, key: &str) -> Result<Vec<String>, SigmaError> {
    match doc.get(key) {
        None => Ok(Vec::new()),
        Some(n) => match &n.value {
            Yaml::Null => Ok(Vec::new()),
            Yaml::Seq(items) => items.iter().map(|i| string(i, key)).collect(),
            _ => Ok(vec![string(n, key)?]),
        },
    }
}

/// The keys of a Sigma rule, correlation or filter document (the specification's, and the
/// `name` rules may be referred to by).
pub const KNOWN_KEYS: &[&str] = &[
    "title",
    "id",
    "name",
    "related",
    "taxonomy",
    "status",
    "description",
    "license",
    "author",
    "references",
    "date",
    "modified",
    "tags",
    "level",
    "logsource",
    "detection",
    "fields",
    "falsepositives",
    "scope",
    "correlation",
    "filter",
    "generate",
];

/// The top-level keys of a document that are not Sigma's but one edit or so from one of its
/// keys (`logsorce`, `levl`): each with the key it probably means. Sigma allows keys of
/// one's own, so these are only said, not refused.
pub fn misspelt_keys(doc: &Node) -> Vec<(&Node, &'static str)> {
    doc.as_map()
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| {
            let key = k.as_str()?;
            if KNOWN_KEYS.contains(&key) {
                return None;
            }
            let known = modelward_event::suggest::closest(key, KNOWN_KEYS.iter().copied())?;
            (doc.get(known).is_none()).then_some((k, known))
        })
        .collect()
}

/// "missing `key`", at the misspelt key that probably means it when there is one.
fn missing(doc: &Node, key: &str) -> SigmaError {
    match misspelt_keys(doc)
        .into_iter()
        .find(|(_, known)| *known == key)
    {
        Some((at, _)) => SigmaError::at(
            at,
            format!(
                "missing `{key}` (did you mean `{key}` for `{}`?)",
                at.as_str().unwrap_or_default()
            ),
        ),
        None => SigmaError::at(doc, format!("missing `{key}`")),
    }
}

fn common(doc: &Node) -> Result<Common, SigmaError> {
    let title = match doc.get("title") {
        Some(t) => string(t, "title")?,
        None => return Err(missing(doc, "title")),
    };
    if title.chars().count() > 256 {
        return Err(SigmaError::at(
            doc.get("title").unwrap_or(doc),
            "`title` is longer than 256 characters",
        ));
    }
    let level = match doc.get("level") {
        Some(n) => {
            let text = string(n, "level")?;
            Some(Level::parse(&text).ok_or_else(|| {
                SigmaError::at(n, format!("unknown level `{text}`: expected informational, low, medium, high or critical"))
            })?)
        }
        None => None,
    };
    let tags = string_list(doc, "tags")?;
    if let Some(n) = doc.get("tags") {
        if let Some(bad) = tags.iter().find(|t| !t.contains('.')) {
            return Err(SigmaError::at(
                n,
                format!("tag `{bad}` has no namespace (e.g. `attack.t1059`)"),
            ));
        }
    }
    let id = opt_string(doc, "id")?;
    if let (Some(id), Some(n)) = (&id, doc.get("id")) {
        if id.trim().is_empty() {
            return Err(SigmaError::at(n, "`id` is empty"));
        }
    }
    Ok(Common {
        title,
        id_at: doc
            .get("id")
            .map_or((doc.line, doc.col), |n| (n.line, n.col)),
        id,
        name: opt_string(doc, "name")?,
        status: opt_string(doc, "status")?,
        description: opt_string(doc, "description")?.unwrap_or_default(),
        license: opt_string(doc, "license")?,
        author: opt_string(doc, "author")?,
        references: string_list(doc, "references")?,
        date: opt_string(doc, "date")?,
        modified: opt_string(doc, "modified")?,
        tags,
        level,
        falsepositives: string_list(doc, "falsepositives")?,
        line: doc.line,
    })
}

fn logsource(doc: &Node) -> Result<LogSource, SigmaError> {
    let Some(node) = doc.get("logsource") else {
        return Err(missing(doc, "logsource"));
    };
    let Some(map) = node.as_map() else {
        return Err(SigmaError::at(
            node,
            format!("`logsource` must be a mapping, found {}", node.kind()),
        ));
    };
    let mut ls = LogSource::default();
    for (k, v) in map {
        let key = string(k, "logsource key")?;
        let value = string(v, &format!("logsource.{key}"))?;
        match key.as_str() {
            "category" => ls.category = Some(value),
            "product" => ls.product = Some(value),
            "service" => ls.service = Some(value),
            "definition" => ls.definition = Some(value),
            _ => ls.custom.push((key, value)),
        }
    }
    if ls.is_empty() {
        return Err(SigmaError::at(
            node,
            "`logsource` needs at least one of category, product, service",
        ));
    }
    Ok(ls)
}

/// Reads one document (after collection actions are applied).
pub fn parse_document(doc: &Node) -> Result<Document, SigmaError> {
    if doc.as_map().is_none() {
        return Err(SigmaError::at(
            doc,
            format!("a rule must be a mapping, found {}", doc.kind()),
        ));
    }
    if doc.get("correlation").is_some() {
        return parse_correlation(doc).map(Document::Correlation);
    }
    if doc.get("filter").is_some() {
        return parse_filter(doc).map(Document::Filter);
    }
    let common = common(doc)?;
    let logsource = logsource(doc)?;
    let Some(detection) = doc.get("detection") else {
        return Err(missing(doc, "detection"));
    };
    if detection.as_map().is_none() {
        return Err(SigmaError::at(
            detection,
            format!("`detection` must be a mapping, found {}", detection.kind()),
        ));
    }
    Ok(Document::Rule(RuleDoc {
        common,
        logsource,
        detection: detection.clone(),
        fields: string_list(doc, "fields")?,
    }))
}

/// `5m`, `1h`, `30s`, `2d` (and `1w`, `1M`, `1y` as pySigma accepts).
pub fn parse_timespan(text: &str) -> Option<i64> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let n: i64 = text[..text.len() - unit.len_utf8()].trim().parse().ok()?;
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 604_800,
        'M' => 2_629_746,
        'y' => 31_556_952,
        _ => return None,
    };
    (n > 0).then_some(n * seconds * 1000)
}

fn parse_correlation(doc: &Node) -> Result<CorrelationDoc, SigmaError> {
    let common = common(doc)?;
    let node = doc.get("correlation").unwrap_or(doc);
    if node.as_map().is_none() {
        return Err(SigmaError::at(
            node,
            format!("`correlation` must be a mapping, found {}", node.kind()),
        ));
    }
    let type_node = node
        .get("type")
        .ok_or_else(|| SigmaError::at(node, "correlation needs a `type`"))?;
    let type_text = string(type_node, "type")?;
    let kind = CorrelationType::parse(&type_text).ok_or_else(|| {
        SigmaError::at(
            type_node,
            format!("unknown correlation type `{type_text}`: expected event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile, value_median, value_min or value_max"),
        )
    })?;
    let rules = string_list(node, "rules")?;
    let rules_at = node
        .get("rules")
        .map_or((node.line, node.col), |n| (n.line, n.col));
    if rules.is_empty() {
        return Err(SigmaError::at(
            node,
            "correlation needs `rules`: the ids or names of the rules it correlates",
        ));
    }
    let group_by = string_list(node, "group-by")?;
    let timespan_node = node
        .get("timespan")
        .ok_or_else(|| SigmaError::at(node, "correlation needs a `timespan`"))?;
    let timespan_text = string(timespan_node, "timespan")?;
    let timespan_ms = parse_timespan(&timespan_text).ok_or_else(|| {
        SigmaError::at(
            timespan_node,
            format!(
                "invalid timespan `{timespan_text}`: expected a number and a unit, e.g. 5m, 1h, 1d"
            ),
        )
    })?;
    let mut condition = Vec::new();
    let mut field = None;
    let mut percentile = None;
    match node.get("condition") {
        Some(c) => {
            let Some(map) = c.as_map() else {
                return Err(SigmaError::at(
                    c,
                    format!(
                        "correlation `condition` must be a mapping, found {}",
                        c.kind()
                    ),
                ));
            };
            for (k, v) in map {
                let key = string(k, "condition key")?;
                let number = || match v.value {
                    Yaml::Int(i) => Ok(i as f64),
                    Yaml::Float(f) => Ok(f),
                    _ => Err(SigmaError::at(
                        v,
                        format!("`{key}` needs a number, found {}", v.kind()),
                    )),
                };
                let op = match key.as_str() {
                    "gt" => CmpOp::Gt,
                    "gte" => CmpOp::Gte,
                    "lt" => CmpOp::Lt,
                    "lte" => CmpOp::Lte,
                    "eq" => CmpOp::Eq,
                    "neq" => CmpOp::Neq,
                    "field" => {
                        field = Some(match &v.value {
                            Yaml::Seq(items) if items.len() == 1 => string(&items[0], "field")?,
                            _ => string(v, "field")?,
                        });
                        continue;
                    }
                    "percentile" => {
                        percentile = Some(number()?);
                        continue;
                    }
                    other => return Err(SigmaError::at(k, format!("unknown condition `{other}`: expected gt, gte, lt, lte, eq, neq, field or percentile"))),
                };
                condition.push((op, number()?));
            }
            if condition.is_empty() {
                return Err(SigmaError::at(
                    c,
                    "correlation `condition` has no criterion (gt, gte, lt, lte, eq, neq)",
                ));
            }
        }
        None if kind.is_temporal() => condition.push((CmpOp::Gte, rules.len() as f64)),
        None => return Err(SigmaError::at(node, "correlation needs a `condition`")),
    }
    if kind.needs_field() && field.is_none() {
        return Err(SigmaError::at(
            node,
            format!("a {type_text} correlation needs `condition.field`"),
        ));
    }
    let mut aliases = Vec::new();
    if let Some(a) = node.get("aliases") {
        let Some(map) = a.as_map() else {
            return Err(SigmaError::at(a, "`aliases` must be a mapping"));
        };
        for (alias, per_rule) in map {
            let alias = string(alias, "alias")?;
            let Some(entries) = per_rule.as_map() else {
                return Err(SigmaError::at(
                    per_rule,
                    format!("alias `{alias}` must map rule names to fields"),
                ));
            };
            let mut pairs = Vec::new();
            for (r, f) in entries {
                pairs.push((string(r, "rule name")?, string(f, "field")?));
            }
            aliases.push((alias, pairs));
        }
    }
    let generate = match node.get("generate").or_else(|| doc.get("generate")) {
        Some(Node {
            value: Yaml::Bool(b),
            ..
        }) => *b,
        Some(other) => return Err(SigmaError::at(other, "`generate` must be true or false")),
        None => false,
    };
    Ok(CorrelationDoc {
        common,
        kind,
        rules,
        rules_at,
        group_by,
        timespan_ms,
        condition,
        field,
        percentile,
        aliases,
        generate,
    })
}

fn parse_filter(doc: &Node) -> Result<FilterDoc, SigmaError> {
    let common = common(doc)?;
    let logsource = logsource(doc)?;
    let node = doc.get("filter").unwrap_or(doc);
    if node.as_map().is_none() {
        return Err(SigmaError::at(
            node,
            format!("`filter` must be a mapping, found {}", node.kind()),
        ));
    }
    let rules = match node.get("rules") {
        Some(Node {
            value: Yaml::Str(s),
            ..
        }) if s == "any" => Vec::new(),
        _ => string_list(node, "rules")?,
    };
    if node.get("condition").is_none() {
        return Err(SigmaError::at(node, "filter needs a `condition`"));
    }
    Ok(FilterDoc {
        common,
        logsource,
        rules,
        filter: node.clone(),
    })
}

/// Applies v1 collection actions (`action: global`, `reset`, `repeat`) and returns the rule
/// documents of a YAML stream, as pySigma reads them.
pub fn expand_collection(docs: Vec<Node>) -> Result<Vec<Node>, SigmaError> {
    let mut global: Option<Node> = None;
    let mut previous: Option<Node> = None;
    let mut out = Vec::new();
    for doc in docs {
        if doc.value == Yaml::Null {
            continue;
        }
        let action = doc.get("action").map(|a| string(a, "action")).transpose()?;
        let without_action = remove_key(&doc, "action");
        match action.as_deref() {
            None => {
                let merged = match (&global, doc.get("correlation").is_some()) {
                    (Some(g), false) => merge(&without_action, g),
                    _ => without_action,
                };
                previous = Some(merged.clone());
                out.push(merged);
            }
            Some("global") => global = Some(without_action),
            Some("reset") => global = None,
            Some("repeat") => {
                let base = previous.as_ref().ok_or_else(|| {
                    SigmaError::at(&doc, "`action: repeat` without a rule before it")
                })?;
                let merged = merge(base, &without_action);
                previous = Some(merged.clone());
                out.push(merged);
            }
            Some(other) => {
                return Err(SigmaError::at(
                    doc.get("action").unwrap_or(&doc),
                    format!(
                        "unknown collection action `{other}`: expected global, reset or repeat"
                    ),
                ))
            }
        }
    }
    Ok(out)
}

fn remove_key(doc: &Node, key: &str) -> Node {
    match &doc.value {
        Yaml::Map(entries) => Node {
            value: Yaml::Map(
                entries
                    .iter()
                    .filter(|(k, _)| k.as_str() != Some(key))
                    .cloned()
                    .collect(),
            ),
            ..doc.clone()
        },
        _ => doc.clone(),
    }
}

/// `over` merged into `base`: mappings merge key by key, anything else from `over` wins.
fn merge(base: &Node, over: &Node) -> Node {
    match (&base.value, &over.value) {
        (Yaml::Map(b), Yaml::Map(o)) => {
            let mut entries = b.clone();
            for (k, v) in o {
                match entries
                    .iter_mut()
                    .find(|(ek, _)| ek.scalar_text() == k.scalar_text())
                {
                    Some((_, existing)) => *existing = merge(existing, v),
                    None => entries.push((k.clone(), v.clone())),
                }
            }
            Node {
                value: Yaml::Map(entries),
                ..base.clone()
            }
        }
        _ => over.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;

    fn doc(text: &str) -> Result<Document, SigmaError> {
        parse_document(&parse_documents(text).unwrap()[0])
    }

    #[test]
    fn a_rule_and_its_errors() {
        let ok = doc("title: t\nlogsource:\n  product: azure\ndetection:\n  sel:\n    a: 1\n  condition: sel\nlevel: high\ntags: [attack.t1059]\n").unwrap();
        let Document::Rule(r) = ok else { panic!() };
        assert_eq!(r.common.level, Some(Level::High));
        assert_eq!(r.logsource.product.as_deref(), Some("azure"));
        assert_eq!(
            doc("logsource: {product: x}\ndetection: {a: {b: 1}, condition: a}\n")
                .unwrap_err()
                .message,
            "missing `title`"
        );
        let e = doc("title: t\nlogsource: {}\ndetection: {a: {b: 1}, condition: a}\n").unwrap_err();
        assert_eq!(
            (e.line, e.message.as_str()),
            (
                2,
                "`logsource` needs at least one of category, product, service"
            )
        );
        let e = doc("title: t\nlogsource: {product: x}\nlevel: severe\ndetection: {a: {b: 1}, condition: a}\n").unwrap_err();
        assert_eq!((e.line, e.col), (3, 8));
        let e = doc("title: t\nlogsource: {product: x}\ntags: [nonamespace]\ndetection: {a: {b: 1}, condition: a}\n").unwrap_err();
        assert!(e.message.contains("no namespace"), "{e}");
    }

    #[test]
    fn correlations() {
        let text = "title: c\nname: c1\ncorrelation:\n  type: event_count\n  rules: [a, b]\n  group-by: [user]\n  timespan: 15m\n  condition:\n    gt: 100\n    lte: 200\n";
        let Document::Correlation(c) = doc(text).unwrap() else {
            panic!()
        };
        assert_eq!(c.timespan_ms, 900_000);
        assert_eq!(c.condition, vec![(CmpOp::Gt, 100.0), (CmpOp::Lte, 200.0)]);
        let e = doc("title: c\ncorrelation:\n  type: value_count\n  rules: a\n  timespan: 1h\n  condition: {gte: 3}\n").unwrap_err();
        assert!(e.message.contains("needs `condition.field`"), "{e}");
        let Document::Correlation(t) =
            doc("title: t\ncorrelation:\n  type: temporal\n  rules: [a, b, c]\n  timespan: 1h\n")
                .unwrap()
        else {
            panic!()
        };
        assert_eq!(t.condition, vec![(CmpOp::Gte, 3.0)]);
        let e = doc("title: c\ncorrelation:\n  type: event_count\n  rules: a\n  timespan: 5 minutes\n  condition: {gte: 3}\n").unwrap_err();
        assert_eq!((e.line, e.col), (5, 13));
    }

    #[test]
    fn collection_actions() {
        let docs = parse_documents("action: global\ntitle: shared\nlogsource: {product: x}\ndetection: {condition: sel}\n---\ndetection: {sel: {a: 1}}\n---\naction: repeat\ndetection: {sel: {a: 2}}\n").unwrap();
        let rules = expand_collection(docs).unwrap();
        assert_eq!(rules.len(), 2);
        for r in &rules {
            assert!(matches!(parse_document(r).unwrap(), Document::Rule(_)));
        }
    }

    #[test]
    fn timespans() {
        assert_eq!(parse_timespan("90m"), Some(5_400_000));
        assert_eq!(parse_timespan("1d"), Some(86_400_000));
        assert_eq!(parse_timespan("0m"), None);
        assert_eq!(parse_timespan("5"), None);
        assert_eq!(parse_timespan(""), None);
    }
}
