//! `modelward rules list|explain|check`.

use std::io::{self, Write};

use anyhow::{bail, Result};
use modelward_esql::EsqlRule;
use serde_json::json;

use crate::args::RulesCommand;
use crate::ruleset::RuleSet;

pub fn run(command: RulesCommand) -> Result<u8> {
    match command {
        RulesCommand::List { rules, json } => {
            let set = RuleSet::load(&rules);
            set.report_errors();
            list(&set.esql, json)?;
            Ok(if set.errors.is_empty() { 0 } else { 2 })
        }
        RulesCommand::Explain { id, rules } => {
            let set = RuleSet::load(&rules);
            let matches: Vec<&EsqlRule> = set
                .esql
                .iter()
                .filter(|r| r.meta.id == id || r.meta.name == id || r.meta.id.starts_with(&id))
                .collect();
            match matches.as_slice() {
                [rule] => {
                    explain(rule)?;
                    Ok(0)
                }
                [] => bail!("no rule with id or name [{id}]; see `modelward rules list`"),
                many => bail!("[{id}] matches {} rules; give more of the id", many.len()),
            }
        }
        RulesCommand::Check { paths } => {
            let set = RuleSet::load_paths(&paths);
            set.report_errors();
            let mut by_reason: std::collections::BTreeMap<String, usize> = Default::default();
            for e in &set.errors {
                let reason = e
                    .message
                    .lines()
                    .next()
                    .unwrap_or("")
                    .split('[')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string();
                *by_reason.entry(reason).or_default() += 1;
            }
            println!(
                "{} rule file(s): {} loaded, {} failed",
                set.files,
                set.esql.len(),
                set.errors.len()
            );
            for (reason, n) in by_reason {
                println!("  {n:>4}  {reason}");
            }
            Ok(if set.errors.is_empty() { 0 } else { 1 })
        }
    }
}

fn list(rules: &[EsqlRule], as_json: bool) -> Result<()> {
    let mut out = io::stdout().lock();
    if as_json {
        for r in rules {
            let m = &r.meta;
            let line = json!({"id": m.id, "name": m.name, "type": m.rule_type.as_str(), "severity": m.severity.as_str(), "risk_score": m.risk_score, "origin": m.origin, "techniques": m.technique_ids()});
            writeln!(out, "{line}")?;
        }
        return Ok(());
    }
    writeln!(
        out,
        "{:<38}  {:<6}  {:<8}  {:>4}  NAME",
        "ID", "TYPE", "SEVERITY", "RISK"
    )?;
    for r in rules {
        let m = &r.meta;
        writeln!(
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

fn minutes(ms: i64) -> String {
    if ms % 3_600_000 == 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms % 60_000 == 0 {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", ms / 1000)
    }
}

fn explain(rule: &EsqlRule) -> Result<()> {
    let m = &rule.meta;
    let mut out = io::stdout().lock();
    writeln!(out, "# {}\n", m.name)?;
    writeln!(out, "- id: {}", m.id)?;
    writeln!(out, "- type: {}", m.rule_type.as_str())?;
    writeln!(
        out,
        "- severity: {}, risk score {}",
        m.severity.as_str(),
        m.risk_score
    )?;
    writeln!(
        out,
        "- runs every {} over now-{}, at most {} alerts per execution{}",
        minutes(rule.interval_ms),
        minutes(rule.lookback_ms),
        rule.max_signals,
        rule.timestamp_override
            .as_ref()
            .map(|t| format!(", time field {t} (falling back to @timestamp)"))
            .unwrap_or_default()
    )?;
    for t in &m.threat {
        let techniques: Vec<String> = t
            .technique
            .iter()
            .map(|x| format!("{} {}", x.id, x.name))
            .collect();
        writeln!(
            out,
            "- {}: {} {} — {}",
            t.framework,
            t.tactic.id,
            t.tactic.name,
            techniques.join(", ")
        )?;
    }
    if !m.tags.is_empty() {
        writeln!(out, "- tags: {}", m.tags.join(", "))?;
    }
    if let Some(s) = &rule.suppression {
        writeln!(out, "- alert suppression by {}", s.group_by.join(", "))?;
    }
    writeln!(out, "- from: {}\n", m.origin)?;
    if !m.description.is_empty() {
        writeln!(out, "{}\n", m.description)?;
    }
    writeln!(
        out,
        "## Query\n\n```esql\n{}\n```\n",
        rule.plan.text().trim()
    )?;
    if !m.false_positives.is_empty() {
        writeln!(out, "## False positives\n")?;
        for f in &m.false_positives {
            writeln!(out, "- {f}")?;
        }
        writeln!(out)?;
    }
    if let Some(note) = &m.note {
        writeln!(out, "{}", note.trim())?;
    }
    Ok(())
}
