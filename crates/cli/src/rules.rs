//! `modelward rules list|explain|check|test`.

use std::io::{self, Write};
use std::sync::Arc;

use anyhow::{bail, Result};
use modelward_rule::RuleMeta;
use serde_json::json;

use crate::args::{Format, RulesCommand};
use crate::ruleset::RuleSet;

pub fn run(command: RulesCommand) -> Result<u8> {
    match command {
        RulesCommand::List {
            rules,
            mut format,
            json,
        } => {
            if json {
                crate::args::deprecated("--json", "--format ndjson");
                format = Format::Ndjson;
            }
            let set = RuleSet::load(&rules);
            set.report_errors();
            list(&set.metas(), format)?;
            Ok(if set.errors.is_empty() { 0 } else { 2 })
        }
        RulesCommand::Explain { id, rules } => {
            let set = RuleSet::load(&rules);
            let metas = set.metas();
            let matches: Vec<&Arc<RuleMeta>> = metas
                .iter()
                .copied()
                .filter(|m| {
                    m.id.eq_ignore_ascii_case(&id)
                        || m.name.to_lowercase() == id.to_lowercase()
                        || m.id
                            .get(..id.len())
                            .is_some_and(|p| p.eq_ignore_ascii_case(&id))
                })
                .collect();
            // An exact id or name wins over the prefixes it is one of.
            let exact: Vec<&Arc<RuleMeta>> = matches
                .iter()
                .copied()
                .filter(|m| {
                    m.id.eq_ignore_ascii_case(&id) || m.name.to_lowercase() == id.to_lowercase()
                })
                .collect();
            let matches = if exact.len() == 1 { exact } else { matches };
            match matches.as_slice() {
                [meta] => {
                    explain(&set, meta)?;
                    Ok(0)
                }
                [] => bail!("no rule with id or name [{id}]; see `modelward rules list`"),
                many => bail!("[{id}] matches {} rules; give more of the id", many.len()),
            }
        }
        RulesCommand::Check {
            paths,
            pipelines,
            format,
        } => {
            let set = RuleSet::load_paths(&paths, &pipelines);
            if format != Format::Table {
                let errors: Vec<_> = set
                    .errors
                    .iter()
                    .map(|e| {
                        serde_json::json!({"file": e.file, "line": e.line, "column": e.column,
                            "message": e.message})
                    })
                    .collect();
                let doc = serde_json::json!({
                    "files": set.files,
                    "loaded": set.loaded(),
                    "failed": set.errors.len(),
                    "errors": errors,
                });
                let mut out = io::stdout().lock();
                let mut docs = crate::jsonout::JsonDocs::new(format == Format::Json);
                docs.write(&mut out, doc)?;
                docs.finish(&mut out)?;
                return Ok(if set.errors.is_empty() { 0 } else { 1 });
            }
            set.report_errors();
            let mut by_reason: std::collections::BTreeMap<String, usize> = Default::default();
            for e in &set.errors {
                let first = e.message.lines().next().unwrap_or("");
                let reason = first
                    .split(['`', '['])
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string();
                *by_reason.entry(reason).or_default() += 1;
            }
            modelward_event::outln!(
                "{} rule file(s): {} rule(s) loaded, {} failed",
                set.files,
                set.loaded(),
                set.errors.len()
            );
            for (reason, n) in by_reason {
                modelward_event::outln!("  {n:>4}  {reason}");
            }
            Ok(if set.errors.is_empty() { 0 } else { 1 })
        }
        RulesCommand::Test {
            paths,
            pipelines,
            format,
        } => crate::ruletest::run(&paths, &pipelines, format),
    }
}

fn list(metas: &[&Arc<RuleMeta>], format: Format) -> Result<()> {
    let mut out = io::stdout().lock();
    let doc = |m: &RuleMeta| json!({"id": m.id, "name": m.name, "type": m.rule_type.as_str(), "severity": m.severity.as_str(), "risk_score": m.risk_score, "origin": m.origin, "techniques": m.technique_ids()});
    if format != Format::Table {
        let mut docs = crate::jsonout::JsonDocs::new(format == Format::Json);
        for m in metas {
            docs.write(&mut out, doc(m))?;
        }
        return Ok(docs.finish(&mut out)?);
    }
    modelward_event::textln!(
        out,
        "{:<38}  {:<6}  {:<8}  {:>4}  NAME",
        "ID",
        "TYPE",
        "SEVERITY",
        "RISK"
    )?;
    for m in metas {
        modelward_event::textln!(
            out,
            "{:<38}  {:<6}  {:<8}  {:>4}  {}",
            m.id,
            m.rule_type.as_str(),
            m.severity.as_str(),
            m.risk_score,
            m.name
        )?;
    }
    Ok(())
}

fn span(ms: i64) -> String {
    if ms % 3_600_000 == 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms % 60_000 == 0 {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", ms / 1000)
    }
}

fn explain(set: &RuleSet, meta: &Arc<RuleMeta>) -> Result<()> {
    let mut out = io::stdout().lock();
    modelward_event::textln!(out, "# {}\n", meta.name)?;
    modelward_event::textln!(out, "- id: {}", meta.id)?;
    modelward_event::textln!(out, "- type: {}", meta.rule_type.as_str())?;
    modelward_event::textln!(
        out,
        "- severity: {}, risk score {}",
        meta.severity.as_str(),
        meta.risk_score
    )?;
    if let Some(rule) = set.esql.iter().find(|r| Arc::ptr_eq(&r.meta, meta)) {
        modelward_event::textln!(
            out,
            "- runs every {} over now-{}, at most {} alerts per execution{}",
            span(rule.interval_ms),
            span(rule.lookback_ms),
            rule.max_signals,
            rule.timestamp_override
                .as_ref()
                .map(|t| format!(", time field {t} (falling back to @timestamp)"))
                .unwrap_or_default()
        )?;
        if let Some(s) = &rule.suppression {
            modelward_event::textln!(out, "- alert suppression by {}", s.group_by.join(", "))?;
        }
    }
    if let Some(rule) = set.sigma.rules.iter().find(|r| Arc::ptr_eq(&r.meta, meta)) {
        modelward_event::textln!(
            out,
            "- log source: {}",
            modelward_sigma::logsource::describe(&rule.logsource)
        )?;
        if !rule.emits {
            modelward_event::textln!(
                out,
                "- raises no alert of its own: a correlation rule counts its matches"
            )?;
        }
    }
    if let Some(c) = set
        .sigma
        .correlations
        .iter()
        .find(|c| Arc::ptr_eq(&c.meta, meta))
    {
        let conds: Vec<String> = c
            .doc
            .condition
            .iter()
            .map(|(op, v)| format!("{op:?} {v}").to_lowercase())
            .collect();
        modelward_event::textln!(
            out,
            "- correlation {:?} of {} within {}, grouped by [{}], when {}",
            c.doc.kind,
            c.doc.rules.join(", "),
            span(c.doc.timespan_ms),
            c.doc.group_by.join(", "),
            conds.join(" and ")
        )?;
    }
    for t in &meta.threat {
        let techniques: Vec<String> = t
            .technique
            .iter()
            .map(|x| format!("{} {}", x.id, x.name))
            .collect();
        modelward_event::textln!(
            out,
            "- {}: {} {} — {}",
            t.framework,
            t.tactic.id,
            t.tactic.name,
            techniques.join(", ")
        )?;
    }
    if !meta.tags.is_empty() {
        modelward_event::textln!(out, "- tags: {}", meta.tags.join(", "))?;
    }
    modelward_event::textln!(out, "- from: {}\n", meta.origin)?;
    // A detector's documentation (its note) opens with its description.
    if !meta.description.is_empty() && meta.rule_type != modelward_rule::RuleType::Detector {
        modelward_event::textln!(out, "{}\n", meta.description)?;
    }
    if let Some(rule) = set.esql.iter().find(|r| Arc::ptr_eq(&r.meta, meta)) {
        modelward_event::textln!(
            out,
            "## Query\n\n```esql\n{}\n```\n",
            rule.plan.text().trim()
        )?;
    }
    if !meta.false_positives.is_empty() {
        modelward_event::textln!(out, "## False positives\n")?;
        for f in &meta.false_positives {
            modelward_event::textln!(out, "- {f}")?;
        }
        writeln!(out)?;
    }
    if !meta.references.is_empty() {
        modelward_event::textln!(out, "## References\n")?;
        for r in &meta.references {
            modelward_event::textln!(out, "- {r}")?;
        }
        writeln!(out)?;
    }
    if let Some(note) = &meta.note {
        modelward_event::textln!(out, "{}", note.trim())?;
    }
    Ok(())
}
