//! Processing pipelines, in the YAML of pySigma's pipelines (the transformations a native
//! matcher needs), applied to each rule before it is compiled.
//!
//! ```yaml
//! name: my_ecs_mapping
//! priority: 20
//! vars:
//!   admins: ["admin*", "root"]            # for `user|expand: '%admins%'`
//! transformations:
//!   - id: proc_fields
//!     type: field_name_mapping
//!     mapping:
//!       CommandLine: process.command_line
//!       User: [user.name, winlog.user.name]   # one-to-many: either field
//!     rule_conditions:
//!       - type: logsource
//!         category: process_creation
//!   - type: field_name_prefix
//!     prefix: "winlog.event_data."
//!     field_name_conditions:
//!       - type: exclude_fields
//!         fields: [EventID]
//!   - type: add_condition
//!     conditions: {data_stream.dataset: azure_openai.logs}
//!     rule_conditions: [{type: logsource, product: azure, service: openai}]
//!   - type: value_placeholders
//! ```
//!
//! Transformations: `field_name_mapping`, `field_name_prefix_mapping`, `field_name_prefix`,
//! `field_name_suffix`, `add_condition` (`conditions`, `negated`), `change_logsource`,
//! `value_placeholders`, `wildcard_placeholders`, `drop_detection_item`, `rule_failure`, and
//! `set_custom_attribute` with `attribute: modelward.timestamp_field` (or rsigma's
//! `rsigma.timestamp_field`): the field(s) the rules it applies to take their event time from
//! for correlations, tried in order before the source's.
//!
//! The field renames also apply to the correlations that count a rule: its `group-by` fields,
//! the `aliases` field it maps to and the condition's `field` are renamed by the items that
//! applied to that rule (a one-to-many mapping: the first of the fields the event has).
//! Conditions: `rule_conditions` of type `logsource` (with `rule_cond_op: and|or` and
//! `rule_cond_not`), and `field_name_conditions` of type `include_fields` / `exclude_fields`
//! (`mode: plain|re`). Pipelines apply in `priority` order, lowest first; their `vars` merge.
//! Any other transformation type is an error that names it.

use regex::Regex;

use crate::rule::{LogSource, SigmaError};
use crate::yaml::{parse_documents_within, Node, Yaml};

#[derive(Debug, Clone)]
enum Transform {
    FieldMapping(Vec<(String, Vec<String>)>),
    PrefixMapping(Vec<(String, String)>),
    Prefix(String),
    Suffix(String),
    AddCondition { conditions: Node, negated: bool },
    ChangeLogsource(LogSource),
    ValuePlaceholders,
    WildcardPlaceholders,
    DropDetectionItem,
    RuleFailure(String),
    TimestampFields(Vec<String>),
}

#[derive(Debug, Clone)]
enum FieldFilter {
    Include(Vec<FieldPattern>),
    Exclude(Vec<FieldPattern>),
}

#[derive(Debug, Clone)]
enum FieldPattern {
    Plain(String),
    Re(Regex),
}

impl FieldPattern {
    fn matches(&self, field: &str) -> bool {
        match self {
            FieldPattern::Plain(p) => p == field,
            // pySigma uses `re.match`: anchored at the start only.
            FieldPattern::Re(r) => r.find(field).is_some_and(|m| m.start() == 0),
        }
    }
}

#[derive(Debug, Clone)]
struct Item {
    transform: Transform,
    logsources: Vec<LogSource>,
    any_logsource: bool,
    negate_logsource: bool,
    fields: Vec<FieldFilter>,
}

/// A loaded pipeline.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    pub name: String,
    pub priority: i64,
    pub vars: Vec<(String, Vec<String>)>,
    items: Vec<Item>,
}

fn err(node: &Node, message: impl Into<String>) -> SigmaError {
    SigmaError::at(node, message)
}

fn text(node: &Node, what: &str) -> Result<String, SigmaError> {
    node.scalar_text().ok_or_else(|| {
        err(
            node,
            format!("`{what}` must be a string, found {}", node.kind()),
        )
    })
}

fn texts(node: &Node, what: &str) -> Result<Vec<String>, SigmaError> {
    match &node.value {
        Yaml::Seq(items) => items.iter().map(|i| text(i, what)).collect(),
        _ => Ok(vec![text(node, what)?]),
    }
}

fn logsource_of(node: &Node) -> Result<LogSource, SigmaError> {
    let get = |k: &str| node.get(k).map(|v| text(v, k)).transpose();
    Ok(LogSource {
        category: get("category")?,
        product: get("product")?,
        service: get("service")?,
        ..LogSource::default()
    })
}

fn parse_item(node: &Node, regexes: &modelward_rule::RegexBudget) -> Result<Item, SigmaError> {
    let kind = node
        .get("type")
        .ok_or_else(|| err(node, "a transformation needs a `type`"))?;
    let kind_text = text(kind, "type")?;
    let param = |k: &str| {
        node.get(k)
            .ok_or_else(|| err(node, format!("`{kind_text}` needs `{k}`")))
    };
    let transform = match kind_text.as_str() {
        "field_name_mapping" => {
            let m = param("mapping")?;
            let entries = m
                .as_map()
                .ok_or_else(|| err(m, "`mapping` must be a mapping"))?;
            Transform::FieldMapping(
                entries
                    .iter()
                    .map(|(k, v)| Ok((text(k, "field")?, texts(v, "field")?)))
                    .collect::<Result<_, SigmaError>>()?,
            )
        }
        "field_name_prefix_mapping" => {
            let m = param("mapping")?;
            let entries = m
                .as_map()
                .ok_or_else(|| err(m, "`mapping` must be a mapping"))?;
            Transform::PrefixMapping(
                entries
                    .iter()
                    .map(|(k, v)| Ok((text(k, "prefix")?, text(v, "prefix")?)))
                    .collect::<Result<_, SigmaError>>()?,
            )
        }
        "field_name_prefix" => Transform::Prefix(text(param("prefix")?, "prefix")?),
        "field_name_suffix" => Transform::Suffix(text(param("suffix")?, "suffix")?),
        "add_condition" => {
            let c = param("conditions")?;
            if c.as_map().is_none() {
                return Err(err(c, "`conditions` must be a mapping of fields to values"));
            }
            let negated = matches!(
                node.get("negated").map(|n| &n.value),
                Some(Yaml::Bool(true))
            );
            Transform::AddCondition {
                conditions: c.clone(),
                negated,
            }
        }
        "change_logsource" => Transform::ChangeLogsource(logsource_of(node)?),
        "value_placeholders" => Transform::ValuePlaceholders,
        "wildcard_placeholders" => Transform::WildcardPlaceholders,
        "drop_detection_item" => Transform::DropDetectionItem,
        "set_custom_attribute" => {
            let attribute = param("attribute")?;
            match text(attribute, "attribute")?.as_str() {
                "modelward.timestamp_field" | "rsigma.timestamp_field" => {
                    let fields = texts(param("value")?, "value")?;
                    if fields.iter().any(String::is_empty) {
                        return Err(err(node, "a timestamp field name must not be empty"));
                    }
                    Transform::TimestampFields(fields)
                }
                other => {
                    return Err(err(
                        attribute,
                        format!(
                            "custom attribute `{other}` is not supported (only \
                             `modelward.timestamp_field`)"
                        ),
                    ))
                }
            }
        }
        "rule_failure" | "detection_item_failure" => Transform::RuleFailure(
            node.get("message")
                .and_then(Node::scalar_text)
                .unwrap_or_else(|| "rule rejected by the pipeline".into()),
        ),
        other => {
            return Err(err(
                kind,
                format!("transformation `{other}` is not supported by modelward's native matcher"),
            ))
        }
    };
    let mut logsources = Vec::new();
    if let Some(conds) = node.get("rule_conditions") {
        for c in conds
            .as_seq()
            .ok_or_else(|| err(conds, "`rule_conditions` must be a list"))?
        {
            match c
                .get("type")
                .map(|t| text(t, "type"))
                .transpose()?
                .as_deref()
            {
                Some("logsource") => logsources.push(logsource_of(c)?),
                Some(other) => {
                    return Err(err(
                        c,
                        format!("rule condition `{other}` is not supported (only `logsource`)"),
                    ))
                }
                None => return Err(err(c, "a rule condition needs a `type`")),
            }
        }
    }
    let any_logsource = match node
        .get("rule_cond_op")
        .map(|o| text(o, "rule_cond_op"))
        .transpose()?
        .as_deref()
    {
        None | Some("and") => false,
        Some("or") => true,
        Some(other) => {
            return Err(err(
                node,
                format!("`rule_cond_op` must be and or or, not `{other}`"),
            ))
        }
    };
    let negate_logsource = matches!(
        node.get("rule_cond_not").map(|n| &n.value),
        Some(Yaml::Bool(true))
    );
    let mut fields = Vec::new();
    if let Some(conds) = node.get("field_name_conditions") {
        for c in conds
            .as_seq()
            .ok_or_else(|| err(conds, "`field_name_conditions` must be a list"))?
        {
            let names = texts(
                c.get("fields")
                    .ok_or_else(|| err(c, "a field name condition needs `fields`"))?,
                "fields",
            )?;
            let re = c.get("mode").and_then(Node::scalar_text).as_deref() == Some("re");
            let patterns = names
                .into_iter()
                .map(|n| {
                    if re {
                        regexes
                            .compile(&n)
                            .map(FieldPattern::Re)
                            .map_err(|e| match e {
                                modelward_rule::RegexError::Invalid(e) => {
                                    err(c, format!("invalid field regex: {e}"))
                                }
                                over => err(c, over.to_string()),
                            })
                    } else {
                        Ok(FieldPattern::Plain(n))
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            match c.get("type").and_then(Node::scalar_text).as_deref() {
                Some("include_fields") => fields.push(FieldFilter::Include(patterns)),
                Some("exclude_fields") => fields.push(FieldFilter::Exclude(patterns)),
                other => {
                    return Err(err(
                        c,
                        format!(
                            "field name condition `{}` is not supported",
                            other.unwrap_or("(none)")
                        ),
                    ))
                }
            }
        }
    }
    Ok(Item {
        transform,
        logsources,
        any_logsource,
        negate_logsource,
        fields,
    })
}

/// Parses a pipeline file.
pub fn parse_pipeline(yaml: &str) -> Result<Pipeline, SigmaError> {
    parse_pipeline_within(
        yaml,
        &modelward_rule::Limits::default(),
        &modelward_rule::RegexBudget::unlimited(),
    )
}

/// Parses a pipeline file within `limits` (past them, an error naming the limit), its
/// regexes charged to the rule set's `regexes`.
pub fn parse_pipeline_within(
    yaml: &str,
    limits: &modelward_rule::Limits,
    regexes: &modelward_rule::RegexBudget,
) -> Result<Pipeline, SigmaError> {
    let docs = parse_documents_within(yaml, limits).map_err(|e| SigmaError {
        line: e.line,
        col: e.col,
        message: format!("invalid YAML: {}", e.message),
    })?;
    let doc = docs.first().ok_or_else(|| SigmaError {
        line: 1,
        col: 1,
        message: "empty pipeline".into(),
    })?;
    let mut p = Pipeline {
        name: doc
            .get("name")
            .and_then(Node::scalar_text)
            .unwrap_or_default(),
        priority: match doc.get("priority").map(|n| &n.value) {
            Some(Yaml::Int(i)) => *i,
            _ => 0,
        },
        ..Pipeline::default()
    };
    if let Some(vars) = doc.get("vars") {
        for (k, v) in vars
            .as_map()
            .ok_or_else(|| err(vars, "`vars` must be a mapping"))?
        {
            p.vars.push((text(k, "var")?, texts(v, "var value")?));
        }
    }
    if let Some(items) = doc.get("transformations") {
        for item in items
            .as_seq()
            .ok_or_else(|| err(items, "`transformations` must be a list"))?
        {
            p.items.push(parse_item(item, regexes)?);
        }
    }
    Ok(p)
}

/// The outcome of applying pipelines to one rule.
#[derive(Debug, Clone)]
pub struct Applied {
    pub detection: Node,
    pub logsource: LogSource,
    pub fields: Vec<String>,
    /// Whether some item with a log-source condition applied (the log source is mapped).
    pub mapped: bool,
    pub vars: Vec<(String, Vec<String>)>,
    pub wildcard_placeholders: bool,
    /// The renames that applied, for the fields correlations read.
    pub renames: FieldRenames,
    /// Fields to take the event time from, first first (empty: the source's).
    pub timestamp_fields: Vec<String>,
}

/// The field renames (mappings, prefixes, suffixes) pipelines applied to one rule, in order:
/// what a correlation that counts the rule applies to the fields it reads.
#[derive(Debug, Clone, Default)]
pub struct FieldRenames(Vec<Item>);

impl FieldRenames {
    /// The names `field` has after the renames: several for a one-to-many mapping. A field a
    /// `drop_detection_item` would drop keeps its name.
    pub fn rename(&self, field: &str) -> Vec<String> {
        let mut names = vec![field.to_string()];
        for item in &self.0 {
            names = names
                .iter()
                .flat_map(|n| item.rename(n).unwrap_or_else(|| vec![n.clone()]))
                .collect();
        }
        names
    }
}

fn logsource_matches(want: &LogSource, have: &LogSource) -> bool {
    let eq = |w: &Option<String>, h: &Option<String>| {
        w.as_ref()
            .is_none_or(|w| h.as_ref().is_some_and(|h| h.eq_ignore_ascii_case(w)))
    };
    eq(&want.category, &have.category)
        && eq(&want.product, &have.product)
        && eq(&want.service, &have.service)
}

impl Item {
    fn applies(&self, ls: &LogSource) -> bool {
        if self.logsources.is_empty() {
            return true;
        }
        let hit = if self.any_logsource {
            self.logsources.iter().any(|l| logsource_matches(l, ls))
        } else {
            self.logsources.iter().all(|l| logsource_matches(l, ls))
        };
        hit != self.negate_logsource
    }

    fn field_selected(&self, field: &str) -> bool {
        self.fields.iter().all(|f| match f {
            FieldFilter::Include(ps) => ps.iter().any(|p| p.matches(field)),
            FieldFilter::Exclude(ps) => !ps.iter().any(|p| p.matches(field)),
        })
    }

    /// The new names of a field (one or more), or None to drop it.
    fn rename(&self, field: &str) -> Option<Vec<String>> {
        if field.is_empty() || !self.field_selected(field) {
            return Some(vec![field.to_string()]);
        }
        Some(match &self.transform {
            Transform::FieldMapping(m) => m
                .iter()
                .find(|(from, _)| from == field)
                .map_or_else(|| vec![field.to_string()], |(_, to)| to.clone()),
            Transform::PrefixMapping(m) => {
                vec![m
                    .iter()
                    .find(|(from, _)| field.starts_with(from.as_str()))
                    .map_or_else(
                        || field.to_string(),
                        |(from, to)| format!("{to}{}", &field[from.len()..]),
                    )]
            }
            Transform::Prefix(p) => vec![format!("{p}{field}")],
            Transform::Suffix(s) => vec![format!("{field}{s}")],
            Transform::DropDetectionItem => return None,
            _ => vec![field.to_string()],
        })
    }
}

/// Renames (or drops) the fields of a search identifier's value.
fn rename_search(node: &Node, item: &Item) -> Node {
    match &node.value {
        Yaml::Map(entries) => {
            // Each entry may become several alternatives: the map becomes a list of maps
            // (AND of ORs distributed into an OR of ANDs).
            let mut alternatives: Vec<Vec<(Node, Node)>> = vec![Vec::new()];
            for (k, v) in entries {
                let key = k.scalar_text().unwrap_or_default();
                let (field, mods) = key
                    .split_once('|')
                    .map_or((key.as_str(), ""), |(f, m)| (f, m));
                let Some(names) = item.rename(field) else {
                    continue;
                };
                let keys: Vec<Node> = names
                    .iter()
                    .map(|n| Node {
                        value: Yaml::Str(if mods.is_empty() {
                            n.clone()
                        } else {
                            format!("{n}|{mods}")
                        }),
                        ..k.clone()
                    })
                    .collect();
                alternatives = alternatives
                    .into_iter()
                    .flat_map(|alt| {
                        keys.iter().map(move |key| {
                            let mut a = alt.clone();
                            a.push((key.clone(), v.clone()));
                            a
                        })
                    })
                    .collect();
            }
            let maps: Vec<Node> = alternatives
                .into_iter()
                .filter(|a| !a.is_empty())
                .map(|a| Node {
                    value: Yaml::Map(a),
                    ..node.clone()
                })
                .collect();
            match maps.len() {
                1 => maps.into_iter().next().unwrap_or_else(|| node.clone()),
                // Everything dropped: an empty list fails to compile with a clear error.
                _ => Node {
                    value: Yaml::Seq(maps),
                    ..node.clone()
                },
            }
        }
        Yaml::Seq(items) if items.iter().any(|i| matches!(i.value, Yaml::Map(_))) => Node {
            value: Yaml::Seq(items.iter().map(|i| rename_search(i, item)).collect()),
            ..node.clone()
        },
        _ => node.clone(),
    }
}

fn with_condition(detection: &Node, conditions: &Node, negated: bool, n: usize) -> Node {
    let name = format!("_pipeline_condition_{n}");
    let Yaml::Map(entries) = &detection.value else {
        return detection.clone();
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        if k.as_str() == Some("condition") {
            let wrap = |c: &Node| Node {
                value: Yaml::Str(format!(
                    "({}) and {}{name}",
                    c.scalar_text().unwrap_or_default(),
                    if negated { "not " } else { "" }
                )),
                ..c.clone()
            };
            let new = match &v.value {
                Yaml::Seq(items) => Node {
                    value: Yaml::Seq(items.iter().map(wrap).collect()),
                    ..v.clone()
                },
                _ => wrap(v),
            };
            out.push((k.clone(), new));
        } else {
            out.push((k.clone(), v.clone()));
        }
    }
    out.push((
        Node {
            value: Yaml::Str(name),
            ..conditions.clone()
        },
        conditions.clone(),
    ));
    Node {
        value: Yaml::Map(out),
        ..detection.clone()
    }
}

/// Applies pipelines (sorted by priority) to a rule's detection, log source and fields.
pub fn apply(
    pipelines: &[Pipeline],
    detection: &Node,
    logsource: &LogSource,
    fields: &[String],
) -> Result<Applied, SigmaError> {
    let mut ordered: Vec<&Pipeline> = pipelines.iter().collect();
    ordered.sort_by_key(|p| p.priority);
    let mut out = Applied {
        detection: detection.clone(),
        logsource: logsource.clone(),
        fields: fields.to_vec(),
        mapped: false,
        vars: Vec::new(),
        wildcard_placeholders: false,
        renames: FieldRenames::default(),
        timestamp_fields: Vec::new(),
    };
    let mut added = 0;
    for p in ordered {
        out.vars.extend(p.vars.iter().cloned());
        for item in &p.items {
            if !item.applies(&out.logsource) {
                continue;
            }
            out.mapped |= !item.logsources.is_empty();
            match &item.transform {
                Transform::AddCondition {
                    conditions,
                    negated,
                } => {
                    out.detection = with_condition(&out.detection, conditions, *negated, added);
                    added += 1;
                }
                Transform::ChangeLogsource(ls) => out.logsource = ls.clone(),
                Transform::ValuePlaceholders => {}
                Transform::WildcardPlaceholders => out.wildcard_placeholders = true,
                // A later item's fields are tried first (as rsigma prepends them).
                Transform::TimestampFields(fields) => {
                    let mut all = fields.clone();
                    all.extend(std::mem::take(&mut out.timestamp_fields));
                    let mut seen = std::collections::HashSet::new();
                    all.retain(|f| seen.insert(f.clone()));
                    out.timestamp_fields = all;
                }
                Transform::RuleFailure(message) => {
                    return Err(SigmaError::at(
                        detection,
                        format!("pipeline `{}`: {message}", p.name),
                    ))
                }
                _ => {
                    if !matches!(item.transform, Transform::DropDetectionItem) {
                        out.renames.0.push(item.clone());
                    }
                    let Yaml::Map(entries) = &out.detection.value else {
                        continue;
                    };
                    let renamed: Vec<(Node, Node)> = entries
                        .iter()
                        .map(|(k, v)| {
                            if k.as_str() == Some("condition") {
                                (k.clone(), v.clone())
                            } else {
                                (k.clone(), rename_search(v, item))
                            }
                        })
                        .collect();
                    out.detection = Node {
                        value: Yaml::Map(renamed),
                        ..out.detection.clone()
                    };
                    out.fields = out
                        .fields
                        .iter()
                        .flat_map(|f| item.rename(f).unwrap_or_default())
                        .collect();
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(yaml: &str) -> Node {
        crate::yaml::parse_documents(yaml).unwrap().remove(0)
    }

    #[test]
    fn mapping_prefix_and_conditions() {
        let p = parse_pipeline(
            "name: t\ntransformations:\n  - type: field_name_mapping\n    mapping:\n      User: [user.name, winlog.user.name]\n      Cmd: process.command_line\n    rule_conditions: [{type: logsource, category: process_creation}]\n  - type: field_name_prefix\n    prefix: 'x.'\n    field_name_conditions: [{type: include_fields, fields: [Other]}]\n  - type: add_condition\n    conditions: {event.code: '1'}\n",
        )
        .unwrap();
        let ls = LogSource {
            category: Some("process_creation".into()),
            ..LogSource::default()
        };
        let det = node("sel:\n  User: bob\n  Cmd|contains: calc\n  Other: 1\ncondition: sel\n");
        let out = apply(&[p], &det, &ls, &["User".into()]).unwrap();
        assert!(out.mapped);
        assert_eq!(out.fields, vec!["user.name", "winlog.user.name"]);
        let sel = out.detection.get("sel").unwrap().as_seq().unwrap();
        assert_eq!(sel.len(), 2);
        assert!(
            sel[0].get("user.name").is_some()
                && sel[0].get("process.command_line|contains").is_some()
                && sel[0].get("x.Other").is_some()
        );
        assert!(sel[1].get("winlog.user.name").is_some());
        assert_eq!(
            out.detection.get("condition").unwrap().as_str(),
            Some("(sel) and _pipeline_condition_0")
        );
    }

    #[test]
    fn timestamp_fields_and_renames_for_correlations() {
        let p = parse_pipeline(
            "transformations:\n  - type: set_custom_attribute\n    attribute: modelward.timestamp_field\n    value: time\n  - type: field_name_mapping\n    mapping: {User: [user.name, winlog.user.name]}\n  - type: field_name_prefix\n    prefix: 'x.'\n    field_name_conditions: [{type: include_fields, fields: [winlog.user.name]}]\n  - type: set_custom_attribute\n    attribute: rsigma.timestamp_field\n    value: [TimeCreated, time]\n",
        )
        .unwrap();
        let det = node("sel:\n  User: bob\ncondition: sel\n");
        let out = apply(&[p], &det, &LogSource::default(), &[]).unwrap();
        // The later item's fields first, without repeats.
        assert_eq!(out.timestamp_fields, vec!["TimeCreated", "time"]);
        assert_eq!(
            out.renames.rename("User"),
            vec!["user.name", "x.winlog.user.name"]
        );
        assert_eq!(out.renames.rename("Other"), vec!["Other"]);
        let e = parse_pipeline(
            "transformations:\n  - type: set_custom_attribute\n    attribute: rsigma.suppress\n    value: 5m\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.col), (3, 16));
        assert!(
            e.message.contains("`rsigma.suppress` is not supported"),
            "{}",
            e.message
        );
    }

    #[test]
    fn unsupported_transformations_are_errors_with_positions() {
        let e = parse_pipeline("transformations:\n  - type: query_expression_placeholders\n")
            .unwrap_err();
        assert_eq!((e.line, e.col), (2, 11));
        assert!(e.message.contains("query_expression_placeholders"));
    }
}
