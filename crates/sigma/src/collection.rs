//! Loading Sigma files into a [`SigmaSet`]: detection rules compiled, correlation rules with
//! their references resolved (by id or name, across files), filters applied to the rules they
//! name. Every document that fails is reported with file, line and column; the rest load.

use std::sync::Arc;

use modelward_rule::RuleMeta;

use crate::detection::{Detection, FieldCache};
use crate::gate::Gates;
use crate::logsource::{self, SourceFilter};
use crate::meta::rule_meta;
use crate::pipeline::{self, FieldRenames, Pipeline};
use crate::rule::{
    expand_collection, parse_document, CorrelationDoc, Document, LogSource, RuleDoc, SigmaError,
};
use crate::yaml::{parse_documents_within, Node};

/// A document that failed to load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{col}: {message}")]
pub struct LoadError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// A compiled detection rule.
#[derive(Debug, Clone)]
pub struct SigmaRule {
    pub meta: Arc<RuleMeta>,
    pub name: Option<String>,
    pub id: Option<String>,
    pub logsource: LogSource,
    /// Which events the log source selects (None: every event, with a warning at load).
    pub source: Option<SourceFilter>,
    pub detection: Detection,
    /// Filters that apply to this rule: their conditions must hold too.
    pub filters: Vec<Detection>,
    /// Fields the rule asks to show (`fields:`), copied into alerts.
    pub fields: Vec<String>,
    /// Whether a match raises an alert (false for rules only a correlation uses).
    pub emits: bool,
    /// The field renames pipelines applied to the rule, for the correlations that count it.
    pub renames: FieldRenames,
    /// Fields its event time is read from, first first, before the source's (a pipeline's
    /// `modelward.timestamp_field`); empty: the source's.
    pub timestamp_fields: Vec<String>,
    pub requirement: modelward_event::source::Requirement,
    pub tests: Option<RuleTests>,
}

/// A rule's own test events (`modelward_tests`): for a detection rule, each true positive
/// must match and each true negative must not; for a correlation, the true positives as a
/// sequence must raise it and the true negatives must not.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleTests {
    pub true_positives: Vec<serde_json::Value>,
    pub true_negatives: Vec<serde_json::Value>,
    pub line: usize,
}

fn rule_tests(doc: &Node) -> Result<Option<RuleTests>, SigmaError> {
    let Some(node) = doc.get("modelward_tests") else {
        return Ok(None);
    };
    let list = |key: &str| -> Result<Vec<serde_json::Value>, SigmaError> {
        match node.get(key) {
            None => Ok(Vec::new()),
            Some(n) => match n.as_seq() {
                Some(items) => items
                    .iter()
                    .map(|i| match i.to_json() {
                        v @ serde_json::Value::Object(_) => Ok(v),
                        _ => Err(SigmaError::at(
                            i,
                            format!("each of `{key}` must be an event (a mapping)"),
                        )),
                    })
                    .collect(),
                None => Err(SigmaError::at(
                    n,
                    format!("`{key}` must be a list of events"),
                )),
            },
        }
    };
    Ok(Some(RuleTests {
        true_positives: list("true_positives")?,
        true_negatives: list("true_negatives")?,
        line: node.line,
    }))
}

impl SigmaRule {
    /// Whether the event matches: log source, detection, and every filter's condition (a
    /// filter's condition is ANDed with the rule's, as pySigma applies filters: a filter
    /// that removes matches says `condition: not selection`).
    pub fn matches(&self, event: &modelward_event::Event) -> bool {
        self.matches_cached(&FieldCache::new(event, 0))
    }

    /// [`SigmaRule::matches`], the event's fields read through `cache` (slots from
    /// [`SigmaSet::index_fields`]).
    pub fn matches_cached(&self, cache: &FieldCache) -> bool {
        let event = cache.event();
        self.source.as_ref().is_none_or(|s| s.admits(event))
            && self.detection.matches_cached(cache)
            && self.filters.iter().all(|f| f.matches_cached(cache))
    }
}

/// What a correlation counts: a detection rule or another correlation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Rule(usize),
    Correlation(usize),
}

#[derive(Debug, Clone)]
pub struct SigmaCorrelation {
    pub meta: Arc<RuleMeta>,
    pub doc: CorrelationDoc,
    pub tests: Option<RuleTests>,
    /// The referenced rules, in the order of `rules`.
    pub sources: Vec<Source>,
    /// Per source, the field of each `group-by` entry (aliases resolved, then renamed by the
    /// pipelines that applied to the source rule): the first of these the event has.
    pub group_fields: Vec<Vec<Vec<String>>>,
    /// Per source, the field the condition's `field` reads (aliases resolved and renamed as
    /// `group_fields`).
    pub value_field: Vec<Option<Vec<String>>>,
}

/// A correlation waiting for its references to be resolved.
#[derive(Debug, Clone)]
struct PendingCorrelation {
    meta: Arc<RuleMeta>,
    doc: CorrelationDoc,
    origin: String,
    tests: Option<RuleTests>,
}

/// Everything loaded.
#[derive(Debug, Clone, Default)]
pub struct SigmaSet {
    pub rules: Vec<SigmaRule>,
    pub correlations: Vec<SigmaCorrelation>,
    /// Warnings (not errors): e.g. a log source no mapping knows.
    pub warnings: Vec<String>,
    pending_correlations: Vec<PendingCorrelation>,
    pipelines: Vec<Pipeline>,
    ids: std::collections::HashSet<String>,
    pending_filters: Vec<(Vec<String>, LogSource, Detection, String, usize)>,
    limits: modelward_rule::Limits,
    /// The rule set's budget of compiled regexes, shared by its clones.
    regexes: modelward_rule::RegexBudget,
    /// The rules' requirements by field, for the prefilter's second tier on parsed events
    /// (built by [`SigmaSet::index_fields`]; empty until then: every rule admitted).
    pub gates: Gates,
}

impl SigmaSet {
    /// Gives every field the rules read a slot in a [`FieldCache`], shared by the rules that
    /// read it; returns the number of slots (the cache's size).
    /// Also builds the [`SigmaSet::gates`] of the rules' requirements.
    pub fn index_fields(&mut self) -> usize {
        let mut table = std::collections::HashMap::new();
        for rule in &mut self.rules {
            rule.detection.index_fields(&mut table);
            rule.filters
                .iter_mut()
                .for_each(|f| f.index_fields(&mut table));
        }
        let requirements: Vec<_> = self.rules.iter().map(|r| &r.requirement).collect();
        self.gates = Gates::new(&requirements, &table);
        table.len()
    }
}

fn error(file: &str, e: SigmaError) -> LoadError {
    LoadError {
        file: file.to_string(),
        line: e.line,
        col: e.col,
        message: e.message,
    }
}

impl SigmaSet {
    /// A set whose files load within `limits` (the default ones otherwise), with a budget
    /// of `limits.regex_budget` for its regexes.
    pub fn with_limits(limits: modelward_rule::Limits) -> SigmaSet {
        SigmaSet::with_budget(
            limits,
            modelward_rule::RegexBudget::new(limits.regex_budget),
        )
    }

    /// A set whose files load within `limits`, its regexes charged to `regexes` (a budget
    /// shared with the rule set's other rules).
    pub fn with_budget(
        limits: modelward_rule::Limits,
        regexes: modelward_rule::RegexBudget,
    ) -> SigmaSet {
        SigmaSet {
            limits,
            regexes,
            ..SigmaSet::default()
        }
    }

    /// The limits files load within.
    pub fn limits(&self) -> &modelward_rule::Limits {
        &self.limits
    }

    /// Adds the documents of one file; returns the errors (the other documents still load).
    /// A file past a limit ([`modelward_rule::Limits`]) is one error naming the limit.
    pub fn add_file(&mut self, text: &str, origin: &str) -> Vec<LoadError> {
        let docs = match parse_documents_within(text, &self.limits) {
            Ok(d) => d,
            Err(e) => {
                return vec![LoadError {
                    file: origin.to_string(),
                    line: e.line,
                    col: e.col,
                    message: format!("invalid YAML: {}", e.message),
                }]
            }
        };
        let docs = match expand_collection(docs) {
            Ok(d) => d,
            Err(e) => return vec![error(origin, e)],
        };
        let mut errors = Vec::new();
        for (n, node) in docs.iter().enumerate() {
            let fallback = format!("{origin}#{}", n + 1);
            let tests = match rule_tests(node) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(error(origin, e));
                    continue;
                }
            };
            for (key, known) in crate::rule::misspelt_keys(node) {
                self.warnings.push(format!(
                    "{origin}:{}:{}: unknown key `{}` (did you mean `{known}`?); not read",
                    key.line,
                    key.col,
                    key.as_str().unwrap_or_default()
                ));
            }
            let document = parse_document(node).and_then(|d| self.check_unique_id(d));
            match document {
                Ok(Document::Rule(doc)) => match self.compile_rule(doc, &fallback, origin, tests) {
                    Ok(rule) => self.rules.push(rule),
                    Err(e) => errors.push(error(origin, e)),
                },
                Ok(Document::Correlation(doc)) => {
                    let meta = Arc::new(rule_meta(&doc.common, &fallback, origin));
                    self.pending_correlations.push(PendingCorrelation {
                        meta,
                        doc,
                        origin: origin.to_string(),
                        tests,
                    });
                }
                Ok(Document::Filter(doc)) => {
                    let no_placeholders = |_: &str| None;
                    match Detection::compile_within(&doc.filter, &no_placeholders, &self.regexes) {
                        Ok(d) => self.pending_filters.push((
                            doc.rules,
                            doc.logsource,
                            d,
                            origin.to_string(),
                            doc.common.line,
                        )),
                        Err(e) => errors.push(error(origin, e)),
                    }
                }
                Err(e) => errors.push(error(origin, e)),
            }
        }
        errors
    }

    /// An id already taken by a loaded rule is an error at the `id:` line; the document is
    /// skipped (the first one loaded stays).
    fn check_unique_id(&mut self, doc: Document) -> Result<Document, SigmaError> {
        let common = match &doc {
            Document::Rule(r) => &r.common,
            Document::Correlation(c) => &c.common,
            Document::Filter(_) => return Ok(doc),
        };
        if let Some(id) = &common.id {
            if !self.ids.insert(id.clone()) {
                return Err(SigmaError {
                    line: common.id_at.0,
                    col: common.id_at.1,
                    message: format!(
                        "duplicate rule id {id}: a rule with this id is already loaded; skipped"
                    ),
                });
            }
        }
        Ok(doc)
    }

    /// Pipelines apply to every rule added after them.
    pub fn add_pipeline(&mut self, pipeline: Pipeline) {
        self.pipelines.push(pipeline);
    }

    fn compile_rule(
        &mut self,
        doc: RuleDoc,
        fallback: &str,
        origin: &str,
        tests: Option<RuleTests>,
    ) -> Result<SigmaRule, SigmaError> {
        let applied =
            pipeline::apply(&self.pipelines, &doc.detection, &doc.logsource, &doc.fields)?;
        let vars = applied.vars.clone();
        let wildcard = applied.wildcard_placeholders;
        let placeholders = move |name: &str| -> Option<Vec<String>> {
            vars.iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .or_else(|| wildcard.then(|| vec!["*".to_string()]))
        };
        let detection =
            Detection::compile_within(&applied.detection, &placeholders, &self.regexes)?;
        let source = logsource::filter_for(&applied.logsource);
        if source.is_none() && !applied.mapped {
            self.warnings.push(format!(
                "{origin}:{}: log source {} is not mapped to a data source; the rule applies to every event",
                doc.common.line,
                logsource::describe(&applied.logsource)
            ));
        }
        let requirement = detection.requirement();
        Ok(SigmaRule {
            meta: Arc::new(rule_meta(&doc.common, fallback, origin)),
            name: doc.common.name.clone(),
            id: doc.common.id.clone(),
            logsource: applied.logsource,
            source,
            detection,
            filters: Vec::new(),
            fields: applied.fields,
            emits: true,
            renames: applied.renames,
            timestamp_fields: applied.timestamp_fields,
            requirement,
            tests,
        })
    }

    fn find_rule(&self, reference: &str) -> Option<usize> {
        self.rules
            .iter()
            .position(|r| r.id.as_deref() == Some(reference))
            .or_else(|| {
                self.rules
                    .iter()
                    .position(|r| r.name.as_deref() == Some(reference))
            })
    }

    /// Resolves correlation references and applies filters, once every file is added.
    pub fn resolve(&mut self) -> Vec<LoadError> {
        let mut errors = Vec::new();
        for (refs, logsource, detection, origin, line) in std::mem::take(&mut self.pending_filters)
        {
            let targets: Vec<usize> = if refs.is_empty() {
                (0..self.rules.len())
                    .filter(|&i| logsource::same_source(&self.rules[i].logsource, &logsource))
                    .collect()
            } else {
                let mut found = Vec::new();
                for r in &refs {
                    match self.find_rule(r) {
                        Some(i) => found.push(i),
                        None => self.warnings.push(format!("{origin}:{line}: filter refers to rule `{r}`, which is not loaded; ignored for it")),
                    }
                }
                found
            };
            for i in targets {
                self.rules[i].filters.push(detection.clone());
            }
        }
        let pending = std::mem::take(&mut self.pending_correlations);
        let refers_to = |j: usize, r: &str| {
            let p = &pending[j];
            p.meta.id == r || p.doc.common.name.as_deref() == Some(r)
        };
        // Resolve in rounds, so a correlation may refer to one defined after it; each is
        // appended once what it refers to is, so dependencies come first.
        let base = self.correlations.len();
        let mut position: Vec<Option<usize>> = vec![None; pending.len()];
        let mut progress = true;
        while progress {
            progress = false;
            for i in 0..pending.len() {
                if position[i].is_some() {
                    continue;
                }
                let PendingCorrelation {
                    meta, doc, tests, ..
                } = &pending[i];
                let sources: Option<Vec<Source>> = doc
                    .rules
                    .iter()
                    .map(|r| match self.find_rule(r) {
                        Some(idx) => Some(Source::Rule(idx)),
                        None => (0..pending.len())
                            .find(|&j| j != i && refers_to(j, r))
                            .and_then(|j| position[j])
                            .map(Source::Correlation),
                    })
                    .collect();
                if let Some(sources) = sources {
                    let mut c = self.bind_correlation(meta.clone(), doc.clone(), sources);
                    c.tests = tests.clone();
                    position[i] = Some(self.correlations.len());
                    self.correlations.push(c);
                    progress = true;
                }
            }
        }
        for (i, PendingCorrelation { doc, origin, .. }) in pending.iter().enumerate() {
            if position[i].is_none() {
                let missing: Vec<&str> = doc
                    .rules
                    .iter()
                    .map(String::as_str)
                    .filter(|r| {
                        self.find_rule(r).is_none()
                            && !(0..pending.len()).any(|j| position[j].is_some() && refers_to(j, r))
                    })
                    .collect();
                errors.push(LoadError {
                    file: origin.clone(),
                    line: doc.rules_at.0,
                    col: doc.rules_at.1,
                    message: format!("correlation refers to rules that are not loaded, or to itself through a cycle: {}", missing.join(", ")),
                });
            }
        }
        for c in &self.correlations[base..] {
            if !c.doc.generate {
                for s in &c.sources {
                    if let Source::Rule(r) = s {
                        self.rules[*r].emits = false;
                    }
                }
            }
        }
        errors
    }

    fn bind_correlation(
        &self,
        meta: Arc<RuleMeta>,
        doc: CorrelationDoc,
        sources: Vec<Source>,
    ) -> SigmaCorrelation {
        let source_name = |s: &Source| -> Option<String> {
            match s {
                Source::Rule(i) => self.rules[*i].name.clone(),
                Source::Correlation(_) => None,
            }
        };
        // A field of the correlation as the source rule's events name it: an alias resolved
        // to the rule's field, then renamed by the pipelines that applied to the rule (an
        // alias the rule has no entry for stays as it is, as pySigma leaves aliases).
        let alias_for = |field: &str, s: &Source| -> Vec<String> {
            let name = source_name(s);
            let alias = doc.aliases.iter().find(|(alias, _)| alias == field);
            let mapped = alias.and_then(|(_, per_rule)| {
                per_rule
                    .iter()
                    .find(|(rule, _)| Some(rule) == name.as_ref())
                    .map(|(_, f)| f.clone())
            });
            match (s, alias, mapped) {
                (Source::Rule(i), None, _) => self.rules[*i].renames.rename(field),
                (Source::Rule(i), Some(_), Some(f)) => self.rules[*i].renames.rename(&f),
                (_, _, mapped) => vec![mapped.unwrap_or_else(|| field.to_string())],
            }
        };
        let group_fields = sources
            .iter()
            .map(|s| doc.group_by.iter().map(|g| alias_for(g, s)).collect())
            .collect();
        let value_field = sources
            .iter()
            .map(|s| doc.field.as_ref().map(|f| alias_for(f, s)))
            .collect();
        SigmaCorrelation {
            meta,
            doc,
            tests: None,
            sources,
            group_fields,
            value_field,
        }
    }
}
