//! Loading rules: the built-in pack and the user's files and directories. Every rule that
//! fails to load is reported with file, line and reason; the others still load.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use modelward_esql::{parse_esql_file_within, parse_toml_rule_within, EsqlRule, RuleError};
use modelward_event::input::{InputError, Walk};
use modelward_rule::{Limits, RegexBudget, RuleMeta};
use modelward_sigma::{LoadError, SigmaSet};

use crate::args::RuleSource;
use crate::builtin;

#[derive(Default)]
pub struct RuleSet {
    pub esql: Vec<EsqlRule>,
    pub sigma: SigmaSet,
    /// The built-in detectors' and behavioural analyzers' metadata (every one, whether its
    /// lists are configured).
    pub detectors: Vec<Arc<RuleMeta>>,
    pub errors: Vec<RuleError>,
    /// Rule files seen (loaded or failed).
    pub files: usize,
    /// What one rule may cost to load (a rule past a limit fails alone).
    limits: Limits,
    /// The rule files and directories read so far: each is read once.
    walk: Walk,
    /// The compiled regexes of every rule, ES|QL and Sigma, against `limits.regex_budget`.
    regexes: RegexBudget,
}

impl RuleSet {
    fn new(limits: Limits) -> RuleSet {
        let regexes = RegexBudget::new(limits.regex_budget);
        RuleSet {
            sigma: SigmaSet::with_budget(limits, regexes.clone()),
            limits,
            regexes,
            ..RuleSet::default()
        }
    }

    pub fn load(source: &RuleSource) -> RuleSet {
        RuleSet::load_within(source, Limits::default())
    }

    /// The built-in pack (unless `no_builtin`) and the user's rules, each within `limits`.
    pub fn load_within(source: &RuleSource, limits: Limits) -> RuleSet {
        let mut set = RuleSet::new(limits);
        set.load_pipelines(&source.pipelines);
        if !source.no_builtin {
            for (origin, text) in builtin::ESQL_RULES {
                set.add(parse_toml_rule_within(text, origin, &limits, &set.regexes));
            }
            for (origin, text) in builtin::SIGMA_RULES {
                set.add_sigma(text, origin);
            }
            set.detectors = modelward_detectors::CODES
                .iter()
                .map(|c| Arc::new(c.meta(modelward_detectors::FAMILY)))
                .chain(
                    modelward_behavior::CODES
                        .iter()
                        .map(|c| Arc::new(modelward_behavior::meta(c))),
                )
                .collect();
        }
        for path in &source.rules {
            set.load_path(path);
        }
        set.finish();
        set
    }

    /// Resolves Sigma references across files and checks ids are unique.
    fn finish(&mut self) {
        let errors = self.sigma.resolve();
        self.errors.extend(errors.into_iter().map(from_sigma));
        self.reject_duplicate_ids();
    }

    /// Pipelines load before any rule, since they apply as rules are compiled.
    fn load_pipelines(&mut self, paths: &[PathBuf]) {
        for path in paths {
            let origin = path.display().to_string();
            let result = fs::read_to_string(path)
                .map_err(|e| RuleError {
                    file: origin.clone(),
                    line: 1,
                    column: 1,
                    message: e.to_string(),
                })
                .and_then(|text| {
                    modelward_sigma::pipeline::parse_pipeline_within(
                        &text,
                        &self.limits,
                        &self.regexes,
                    )
                    .map_err(|e| RuleError {
                        file: origin.clone(),
                        line: e.line,
                        column: e.col,
                        message: format!("pipeline: {}", e.message),
                    })
                });
            match result {
                Ok(p) => self.sigma.add_pipeline(p),
                Err(e) => self.errors.push(e),
            }
        }
    }

    fn add_sigma(&mut self, text: &str, origin: &str) {
        self.files += 1;
        let errors = self.sigma.add_file(text, origin);
        self.errors.extend(errors.into_iter().map(from_sigma));
    }

    /// How many rules loaded, of every kind.
    pub fn loaded(&self) -> usize {
        self.esql.len()
            + self.sigma.rules.len()
            + self.sigma.correlations.len()
            + self.detectors.len()
    }

    /// Metadata of every loaded rule, ES|QL first.
    pub fn metas(&self) -> Vec<&Arc<RuleMeta>> {
        self.esql
            .iter()
            .map(|r| &r.meta)
            .chain(self.sigma.rules.iter().map(|r| &r.meta))
            .chain(self.sigma.correlations.iter().map(|c| &c.meta))
            .chain(self.detectors.iter())
            .collect()
    }

    pub fn load_paths(paths: &[PathBuf], pipelines: &[PathBuf]) -> RuleSet {
        let mut set = RuleSet::new(Limits::default());
        set.load_pipelines(pipelines);
        for p in paths {
            set.load_path(p);
        }
        set.finish();
        set
    }

    fn add(&mut self, result: Result<EsqlRule, RuleError>) {
        self.files += 1;
        match result {
            Ok(rule) => self.esql.push(rule),
            Err(e) => self.errors.push(e),
        }
    }

    /// A rule file, or every rule file below a directory (each real file once, symbolic
    /// link cycles reported and not followed).
    fn load_path(&mut self, root: &Path) {
        let (files, errors) = self.walk.files(root, &is_rule_file);
        for e in errors {
            self.files += 1;
            self.errors.push(walk_error(e, root));
        }
        for file in files {
            self.load_file(&file);
        }
    }

    fn load_file(&mut self, path: &Path) {
        let origin = path.display().to_string();
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => return self.io_error(path, &e),
        };
        match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => self.add(parse_toml_rule_within(
                &text,
                &origin,
                &self.limits,
                &self.regexes,
            )),
            Some("esql") => self.add(parse_esql_file_within(
                &text,
                &origin,
                &self.limits,
                &self.regexes,
            )),
            Some("yml" | "yaml") => self.add_sigma(&text, &origin),
            _ => self.errors.push(RuleError {
                file: origin,
                line: 1,
                column: 1,
                message: "not a rule file: expected .toml (Elastic rule), .esql or .yml (Sigma)"
                    .to_string(),
            }),
        }
    }

    fn io_error(&mut self, path: &Path, e: &std::io::Error) {
        self.files += 1;
        self.errors.push(RuleError {
            file: path.display().to_string(),
            line: 1,
            column: 1,
            message: e.to_string(),
        });
    }

    /// ES|QL ids must be unique, also against Sigma rules (the Sigma loader checks its own).
    fn reject_duplicate_ids(&mut self) {
        let mut seen: HashMap<String, String> = HashMap::new();
        for meta in self
            .sigma
            .rules
            .iter()
            .map(|r| &r.meta)
            .chain(self.sigma.correlations.iter().map(|c| &c.meta))
        {
            seen.entry(meta.id.clone())
                .or_insert_with(|| meta.origin.clone());
        }
        let mut kept = Vec::new();
        for rule in std::mem::take(&mut self.esql) {
            match seen.get(&rule.meta.id) {
                Some(first) => self.errors.push(RuleError {
                    file: rule.meta.origin.clone(),
                    line: 1,
                    column: 1,
                    message: format!(
                        "duplicate rule id {} (first loaded from {first}); skipped",
                        rule.meta.id
                    ),
                }),
                None => {
                    seen.insert(rule.meta.id.clone(), rule.meta.origin.clone());
                    kept.push(rule);
                }
            }
        }
        self.esql = kept;
    }

    /// Prints every load error to stderr (`rules check` and `rules test`, whose job it is).
    pub fn report_errors(&self) {
        self.report_errors_capped(usize::MAX, &[]);
    }

    /// Prints the load errors and then `warnings` to stderr, at most `shown` lines, then
    /// how many more there were: a directory of hostile rule files cannot flood a run's
    /// diagnostics.
    pub fn report_errors_capped(&self, shown: usize, warnings: &[String]) {
        let lines = self
            .errors
            .iter()
            .map(|e| format!("rule not loaded: {e}"))
            .chain(warnings.iter().map(|w| format!("warning: {w}")));
        let mut hidden = 0u64;
        for (n, line) in lines.enumerate() {
            if n < shown {
                modelward_event::errln!("modelward: {line}");
            } else {
                hidden += 1;
            }
        }
        if hidden > 0 {
            modelward_event::errln!(
                "modelward: … and {hidden} more rule errors and warnings not shown (`modelward rules check` lists every error)"
            );
        }
    }
}

fn is_rule_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("toml" | "esql" | "yml" | "yaml")
    )
}

/// A path the walk could not read, as a rule error.
fn walk_error(e: InputError, root: &Path) -> RuleError {
    let (file, message) = match e {
        InputError::Open { path, source } => (path, source.to_string()),
        InputError::Cycle { path } => (
            path,
            "a symbolic link back to a directory it is in (a cycle); not followed".to_string(),
        ),
        other => (root.display().to_string(), other.to_string()),
    };
    RuleError {
        file,
        line: 1,
        column: 1,
        message,
    }
}

fn from_sigma(e: LoadError) -> RuleError {
    RuleError {
        file: e.file,
        line: e.line,
        column: e.col,
        message: e.message,
    }
}
