//! `modelward incident`: the incidents `hunt --incidents` built — list, show, move along
//! PB-53's flow, set tasks and facts, act, report, export and verify evidence bundles.

mod acts;
mod export;
mod redact;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use modelward_respond::action::run::{audit_of, from_record};
use modelward_respond::incident::{Closure, Task};
use modelward_respond::ioc::safe_value;
use modelward_respond::{repo, Incident, Stage, Status, TaskState};
use modelward_store::audit::AuditRecord;
use modelward_store::Store;

use crate::args::{Format, IncidentArgs, IncidentCommand, IncidentFormat, IocFormat, ReportFormat};
use crate::config::Options;
use crate::respond::{now_ms, Setup};
use acts::Act;

pub fn run(args: IncidentArgs) -> Result<u8> {
    let options = match &args.config {
        Some(path) => Options::load(path)?,
        None => Options::default(),
    };
    let db = args.db.as_path();
    let playbook = args.playbook.as_deref();
    match args.command {
        IncidentCommand::Verify { dir, format } => return export::verify(&dir, db, format),
        IncidentCommand::Playbook => {
            let setup = Setup::new(options.respond, playbook)?;
            return print_playbook(&setup, playbook);
        }
        _ => {}
    }
    let mut store = crate::db::open_existing(db, crate::db::Purpose::Incidents)?;
    match args.command {
        IncidentCommand::List { all, format, now } => {
            let now = match now {
                Some(t) => modelward_event::parse_timestamp(&t)
                    .ok_or_else(|| anyhow!("--now: `{t}` is not an RFC 3339 time"))?,
                None => now_ms(),
            };
            list(&store, all, format, now)
        }
        IncidentCommand::Show { id, format } => {
            let incident = repo::load(&store, &id)?;
            let text = match format {
                IncidentFormat::Ndjson => {
                    modelward_event::terminal::printable_json(&serde_json::to_string(&incident)?)
                        .into_owned()
                        + "\n"
                }
                IncidentFormat::Json => {
                    modelward_event::terminal::printable_json(&serde_json::to_string_pretty(
                        &incident,
                    )?)
                    .into_owned()
                        + "\n"
                }
                // Bound for a terminal: what came from the logs escaped.
                _ => modelward_event::terminal::printable_text(&export::render(
                    &store,
                    &incident,
                    ReportFormat::Markdown,
                )?)
                .into_owned(),
            };
            write_out(None, text.as_bytes())?;
            Ok(0)
        }
        IncidentCommand::Advance { id, to, by, note } => {
            let mut incident = repo::load(&store, &id)?;
            let to = match to {
                Some(s) => Stage::parse(&s).ok_or_else(|| {
                    anyhow!("--to: `{s}` is not a stage (detect, analyze, contain, eradicate, recover, lessons)")
                })?,
                None => incident
                    .stage
                    .next()
                    .ok_or_else(|| anyhow!("{} is at the last stage (lessons): close it", incident.id))?,
            };
            if incident.status == Status::Closed {
                bail!("{} is closed", incident.id);
            }
            let from = incident.stage;
            modelward_respond::responder::move_to(&mut incident, to, now_ms(), &by, &note);
            repo::save(&mut store, &mut incident)?;
            modelward_event::outln!("{}: {from} → {to} (by {by})", incident.id);
            Ok(0)
        }
        IncidentCommand::Close { id, by, resolution } => {
            let mut incident = repo::load(&store, &id)?;
            if incident.status == Status::Closed {
                bail!("{} is already closed", incident.id);
            }
            incident.status = Status::Closed;
            incident.closed = Some(Closure {
                at: now_ms(),
                by: by.clone(),
                resolution,
            });
            repo::save(&mut store, &mut incident)?;
            modelward_event::outln!("{}: closed by {by}", incident.id);
            // Closing lifts nothing: a revoked key or a block may be meant to stay.
            let measures = store
                .measures(now_ms())?
                .into_iter()
                .filter(|m| m.incident_id == incident.id)
                .count();
            if measures > 0 {
                modelward_event::errln!(
                    "modelward: {measures} measure(s) of {} still in force (`incident lift {} --by NAME` ends them)",
                    incident.id, incident.id
                );
            }
            let open: Vec<&str> = incident
                .tasks
                .iter()
                .filter(|t| t.state == TaskState::Open)
                .map(|t| t.id.as_str())
                .collect();
            if !open.is_empty() {
                modelward_event::errln!(
                    "modelward: {} task(s) of {} left open: {}",
                    open.len(),
                    incident.id,
                    open.join(", ")
                );
            }
            Ok(0)
        }
        IncidentCommand::Task {
            id,
            task,
            state,
            by,
            note,
        } => {
            let state = TaskState::parse(&state)
                .ok_or_else(|| anyhow!("--state: `{state}` (expected done, open or n/a)"))?;
            let setup = setup_for(options, playbook)?;
            let mut incident = repo::load(&store, &id)?;
            let incident_id = incident.id.clone();
            let now = now_ms();
            let t = find_task(&mut incident, &task)?;
            let was = t.state;
            t.state = state;
            // Who set it is kept whatever the state: a person's reopening stands too.
            t.done_by = Some(by.clone());
            t.done_at = Some(now);
            if !note.is_empty() {
                t.note = note;
            }
            let task_id = t.id.clone();
            let act = Act {
                incident: &incident_id,
                action: "set_task".into(),
                target_kind: "task",
                target: &task_id,
                params: serde_json::json!({"state": state.as_str(), "was": was.as_str()})
                    .to_string(),
                reason: "set by a responder",
                detail: format!("{} → {}", was.as_str(), state.as_str()),
                executor: "responder",
                by: &by,
                at: now,
            };
            reanalyse(&setup, &mut store, &mut incident, &[act.record()])?;
            modelward_event::outln!(
                "{incident_id}: task {task_id} is {} (by {by})",
                state.as_str()
            );
            Ok(0)
        }
        IncidentCommand::Fact { id, fact, by } => {
            let (name, value) = fact
                .split_once('=')
                .and_then(|(n, v)| Some((n.trim().to_string(), v.trim().parse::<bool>().ok()?)))
                .ok_or_else(|| anyhow!("`{fact}`: expected NAME=true or NAME=false"))?;
            let setup = setup_for(options, playbook)?;
            let mut incident = repo::load(&store, &id)?;
            let known = setup.playbook.facts_named();
            if !known.contains(name.as_str()) && !incident.analysis.facts.contains_key(&name) {
                let mut names: Vec<&str> = known.into_iter().collect();
                names.extend(incident.analysis.facts.keys().map(String::as_str));
                names.sort_unstable();
                names.dedup();
                bail!(
                    "{}: no fact `{name}` in playbook {} (its facts: {})",
                    incident.id,
                    setup.playbook.id,
                    names.join(", ")
                );
            }
            let was = incident
                .manual_facts
                .get(&name)
                .or(incident.analysis.facts.get(&name))
                .copied();
            incident.manual_facts.insert(name.clone(), value);
            let incident_id = incident.id.clone();
            let act = Act {
                incident: &incident_id,
                action: "set_fact".into(),
                target_kind: "fact",
                target: &name,
                params: serde_json::json!({"value": value, "was": was}).to_string(),
                reason: "set by a responder",
                detail: format!(
                    "{name}: {} → {value}",
                    was.map_or("unset".to_string(), |w| w.to_string())
                ),
                executor: "responder",
                by: &by,
                at: now_ms(),
            };
            reanalyse(&setup, &mut store, &mut incident, &[act.record()])?;
            modelward_event::outln!(
                "{}: {name} = {value} (by {by}); decisions now: {}",
                incident.id,
                decisions(&incident)
            );
            Ok(0)
        }
        IncidentCommand::Act {
            id,
            by,
            dry_run,
            format,
        } => {
            let setup = setup_for(options, playbook)?;
            let dry_run = dry_run || setup.respond.dry_run;
            act(&setup, db, &mut store, &id, &by, dry_run, format)
        }
        IncidentCommand::Report { id, format, output } => {
            let mut incident = repo::load(&store, &id)?;
            let mut text = export::render(&store, &incident, format)?;
            if output.is_none() {
                // Bound for standard output, a terminal perhaps: what came from the logs
                // escaped (a file keeps the report as it is).
                text = modelward_event::terminal::printable_text(&text).into_owned();
            }
            let setup = output
                .is_some()
                .then(|| setup_for(options, playbook))
                .transpose()?;
            write_out(output.as_deref(), text.as_bytes())?;
            if let Some(setup) = setup {
                mark_report_written(&setup, &mut store, &mut incident)?;
            }
            Ok(0)
        }
        IncidentCommand::Iocs { id, format, output } => {
            let incident = repo::load(&store, &id)?;
            let bytes = match format {
                IocFormat::Csv => export::iocs_csv(&incident)?,
                IocFormat::Stix => export::iocs_stix(&incident, now_ms())?,
            };
            write_out(output.as_deref(), &bytes)?;
            Ok(0)
        }
        IncidentCommand::Export {
            id,
            output,
            out,
            by,
            redact,
            attribution,
        } => {
            if out.is_some() {
                crate::args::deprecated("--out", "--output");
            }
            let out = output
                .or(out)
                .ok_or_else(|| anyhow!("--output DIR is required"))?;
            let setup = setup_for(options, playbook)?;
            let mut incident = repo::load(&store, &id)?;
            // Refused before the report counts as written (the bundle is the report).
            modelward_respond::evidence::ensure_empty(&out)
                .with_context(|| format!("{}", out.display()))?;
            let attribution = export::attribution(&attribution)?;
            mark_report_written(&setup, &mut store, &mut incident)?;
            export::export(&mut store, &incident, &out, redact, &by, attribution)
        }
        IncidentCommand::Lift { id, by, target } => {
            let incident = repo::load(&store, &id)?;
            lift(&mut store, &incident, &by, target.as_deref())
        }
        IncidentCommand::Audit { id, format } => {
            let id = match id {
                Some(id) => Some(repo::load(&store, &id)?.id),
                None => None,
            };
            let format = format.unwrap_or(if io::stdout().is_terminal() {
                Format::Table
            } else {
                Format::Ndjson
            });
            let mut out = BufWriter::new(io::stdout().lock());
            let mut docs = crate::jsonout::JsonDocs::new(format == Format::Json);
            for r in store.audit_log(id.as_deref())? {
                let mut entry = from_record(r);
                entry.target = safe_value(&entry.target_kind, &entry.target).into_owned();
                match format {
                    Format::Ndjson | Format::Json => docs.write(&mut out, audit_doc(&entry)?)?,
                    Format::Table => modelward_event::textln!(
                        out,
                        "{:>4}  {}  {}  {:<14} {:<10} {}  {}  by {}{}",
                        entry.seq,
                        modelward_event::format_timestamp(entry.at),
                        entry.incident,
                        entry.action,
                        entry.outcome.as_str(),
                        entry.target_kind,
                        crate::output::printable(&entry.target),
                        crate::output::printable(&entry.actor),
                        if entry.detail.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", crate::output::printable(&entry.detail))
                        }
                    )?,
                }
            }
            docs.finish(&mut out)?;
            out.flush()?;
            Ok(0)
        }
        IncidentCommand::Enforcement { format } => {
            let format = format.unwrap_or(if io::stdout().is_terminal() {
                Format::Table
            } else {
                Format::Ndjson
            });
            let mut out = BufWriter::new(io::stdout().lock());
            let mut docs = crate::jsonout::JsonDocs::new(format == Format::Json);
            let mut applied = BTreeMap::new();
            for m in store.measures(now_ms())? {
                let until = m
                    .expires_at
                    .map_or("-".to_string(), modelward_event::format_timestamp);
                if !applied.contains_key(&m.incident_id) {
                    applied.insert(m.incident_id.clone(), store.applied(&m.incident_id)?);
                }
                let in_force: Vec<_> = applied[&m.incident_id]
                    .iter()
                    .filter(|a| {
                        a.measure == m.measure
                            && a.target_kind == m.target_kind
                            && a.target == m.target
                    })
                    .collect();
                if format != Format::Table {
                    let enforced: Vec<serde_json::Value> = in_force
                        .iter()
                        .map(|a| {
                            serde_json::json!({
                                "gateway": a.gateway,
                                "since": modelward_event::format_timestamp(a.in_force_at),
                                "requests": a.requests,
                            })
                        })
                        .collect();
                    let doc = serde_json::json!({
                        "measure": m.measure,
                        "target_kind": m.target_kind,
                        "target": safe_value(&m.target_kind, &m.target),
                        "until": m.expires_at.map(modelward_event::format_timestamp),
                        "incident": m.incident_id,
                        "params": serde_json::from_str::<serde_json::Value>(&m.params)
                            .unwrap_or_else(|_| m.params.clone().into()),
                        "enforced": enforced,
                    });
                    docs.write(&mut out, doc)?;
                    continue;
                }
                let at: Vec<String> = in_force
                    .iter()
                    .map(|a| {
                        format!(
                            "{} since {}, {} request(s) changed or refused",
                            crate::output::printable(&a.gateway),
                            modelward_event::format_timestamp(a.in_force_at),
                            a.requests
                        )
                    })
                    .collect();
                modelward_event::textln!(
                    out,
                    "{:<22} {:<10} {:<60} until {until}  {} {}\n    enforced: {}",
                    m.measure,
                    m.target_kind,
                    safe_value(&m.target_kind, &m.target),
                    m.incident_id,
                    m.params,
                    if at.is_empty() {
                        "no gateway has it in force".to_string()
                    } else {
                        at.join("; ")
                    }
                )?;
            }
            docs.finish(&mut out)?;
            out.flush()?;
            Ok(0)
        }
        IncidentCommand::Verify { .. } | IncidentCommand::Playbook => unreachable!(),
    }
}

fn setup_for(options: Options, playbook: Option<&Path>) -> Result<Setup> {
    Setup::new(options.respond, playbook)
}

fn find_task<'a>(incident: &'a mut Incident, task: &str) -> Result<&'a mut Task> {
    let id = incident.id.clone();
    let ids: Vec<String> = incident.tasks.iter().map(|t| t.id.clone()).collect();
    incident
        .tasks
        .iter_mut()
        .find(|t| t.id == task)
        .ok_or_else(|| anyhow!("{id} has no task `{task}` (its tasks: {})", ids.join(", ")))
}

/// Re-runs the incident's playbook; refuses another one (its decisions and tasks would be
/// replaced by that playbook's).
/// Re-runs the incident's playbook and saves it with `acts`, the responder's record of what
/// they did, in one transaction.
fn reanalyse(
    setup: &Setup,
    store: &mut Store,
    incident: &mut Incident,
    acts: &[AuditRecord],
) -> Result<()> {
    same_playbook(setup, incident)?;
    let responder = setup.responder("modelward incident", BTreeMap::new());
    responder.reanalyse_recording(store, incident, now_ms(), acts)?;
    Ok(())
}

fn mark_report_written(setup: &Setup, store: &mut Store, incident: &mut Incident) -> Result<()> {
    incident.manual_facts.insert("report_written".into(), true);
    reanalyse(setup, store, incident, &[])
}

fn same_playbook(setup: &Setup, incident: &Incident) -> Result<()> {
    if incident.playbook != setup.playbook.id {
        bail!(
            "{} was built with playbook {}, not {}: pass it with --playbook FILE (or [respond] playbook)",
            incident.id,
            incident.playbook,
            setup.playbook.id
        );
    }
    Ok(())
}

/// An audit log entry as `incident audit` and `incident act` write it in JSON: the entry, and
/// `at_time`, `at` in RFC 3339 UTC (its target masked as the caller made it).
fn audit_doc(entry: &modelward_respond::action::AuditEntry) -> Result<serde_json::Value> {
    let mut doc = serde_json::to_value(entry)?;
    doc["at_time"] = modelward_event::format_timestamp(entry.at).into();
    Ok(doc)
}

fn act(
    setup: &Setup,
    db: &Path,
    store: &mut Store,
    id: &str,
    by: &str,
    dry_run: bool,
    format: Format,
) -> Result<u8> {
    let mut incident = repo::load(store, id)?;
    same_playbook(setup, &incident)?;
    if incident.status == Status::Closed {
        bail!("{} is closed", incident.id);
    }
    let now = now_ms();
    let mut runner = setup.runner(db, dry_run, by, now)?;
    let responder = setup.responder(by, BTreeMap::new());
    let entries = responder.act(store, &mut incident, &mut runner, now)?;
    let mut failed = false;
    let mut out = BufWriter::new(io::stdout().lock());
    let mut docs = crate::jsonout::JsonDocs::new(format == Format::Json);
    for e in &entries {
        failed |= e.outcome == modelward_respond::action::Outcome::Failed;
        if format != Format::Table {
            let mut entry = e.clone();
            entry.target = safe_value(&entry.target_kind, &entry.target).into_owned();
            docs.write(&mut out, audit_doc(&entry)?)?;
            continue;
        }
        modelward_event::textln!(
            out,
            "{} {} {} {}: {}{}",
            e.outcome.as_str(),
            e.action,
            e.target_kind,
            safe_value(&e.target_kind, &e.target),
            e.detail,
            if e.executor.is_empty() {
                String::new()
            } else {
                format!(" [{}]", e.executor)
            }
        )?;
    }
    docs.finish(&mut out)?;
    out.flush()?;
    Ok(if failed { 1 } else { 0 })
}

/// Lifts the incident's measures (on `target` only, if given), each recorded in the audit log.
fn lift(store: &mut Store, incident: &Incident, by: &str, target: Option<&str>) -> Result<u8> {
    let now = now_ms();
    let measures: Vec<_> = store
        .measures(now)?
        .into_iter()
        .filter(|m| {
            // A key id as `incident enforcement` shows it (masked) names it too.
            m.incident_id == incident.id
                && target
                    .is_none_or(|t| m.target == t || safe_value(&m.target_kind, &m.target) == t)
        })
        .collect();
    let targets: std::collections::BTreeSet<(&str, &str)> = measures
        .iter()
        .map(|m| (m.target_kind.as_str(), m.target.as_str()))
        .collect();
    if let (Some(t), true) = (target, targets.len() > 1) {
        // A short key id masks to little (`k…`): never lift more than the one meant.
        bail!(
            "{}: `{t}` matches the measures of {} different targets: give the full value",
            incident.id,
            targets.len()
        );
    }
    if measures.is_empty() {
        match target {
            Some(_) => modelward_event::outln!(
                "{}: no measure of it is in force on that target (`incident enforcement` lists them, key ids masked as there)",
                incident.id
            ),
            None => modelward_event::outln!("{}: no measure of it is in force", incident.id),
        }
        return Ok(0);
    }
    for m in measures {
        let mut batch = store.batch()?;
        batch.lift_measure(&m.measure, &m.target_kind, &m.target, &incident.id)?;
        let act = Act {
            incident: &incident.id,
            action: format!("lift_{}", m.measure),
            target_kind: &m.target_kind,
            target: &m.target,
            params: m.params.clone(),
            reason: "lifted by a responder (recovery)",
            detail: format!("{} lifted", m.measure),
            executor: "enforcement",
            by,
            at: now,
        };
        batch.append_audit(&act.record())?;
        batch.commit()?;
        modelward_event::outln!(
            "lifted {} {} {}",
            m.measure,
            m.target_kind,
            safe_value(&m.target_kind, &m.target)
        );
    }
    Ok(0)
}

fn decisions(incident: &Incident) -> String {
    let d: Vec<&str> = incident
        .analysis
        .decisions
        .iter()
        .map(|d| d.decision.as_str())
        .collect();
    if d.is_empty() {
        "none".into()
    } else {
        d.join("; ")
    }
}

/// SLA state of an incident's decisions at `now`.
fn sla_state(incident: &Incident, now: i64) -> String {
    let mut states = Vec::new();
    for d in &incident.analysis.decisions {
        let state = match (d.met_at, d.due_at()) {
            (Some(_), _) => "met".to_string(),
            (None, Some(due)) if now > due => format!("OVERDUE {}", minutes(now - due)),
            (None, Some(due)) => format!("due in {}", minutes(due - now)),
            (None, None) => "no SLA".to_string(),
        };
        states.push(format!("{}: {state}", d.id));
    }
    if states.is_empty() {
        "-".into()
    } else {
        states.join(", ")
    }
}

fn minutes(ms: i64) -> String {
    let m = ms / 60_000;
    if m >= 120 {
        format!("{}h", m / 60)
    } else {
        format!("{m}m")
    }
}

fn list(store: &Store, all: bool, format: IncidentFormat, now: i64) -> Result<u8> {
    let incidents = repo::list(store, !all)?;
    let mut out = BufWriter::new(io::stdout().lock());
    let mut overdue = 0;
    let mut docs = crate::jsonout::JsonDocs::new(format == IncidentFormat::Json);
    for i in &incidents {
        let late = i.status == Status::Open && i.analysis.decisions.iter().any(|d| d.overdue(now));
        overdue += usize::from(late);
        let vectors: Vec<&str> = i.analysis.vectors.iter().map(|v| v.name.as_str()).collect();
        match format {
            IncidentFormat::Json | IncidentFormat::Ndjson => {
                let audit = audit_of(store, &i.id)?;
                let doc = serde_json::json!({
                    "id": i.id, "title": i.title, "status": i.status.as_str(), "stage": i.stage.as_str(),
                    "severity": i.severity, "first_seen": modelward_event::format_timestamp(i.first_seen),
                    "last_seen": modelward_event::format_timestamp(i.last_seen), "alerts": i.alerts.len(),
                    "vectors": vectors, "decisions": i.analysis.decisions.iter().map(|d| &d.decision).collect::<Vec<_>>(),
                    "sla": sla_state(i, now), "overdue": late, "actions": audit.len(),
                    "open_tasks": i.tasks.iter().filter(|t| t.state == TaskState::Open).count(),
                });
                docs.write(&mut out, doc)?;
            }
            _ => {
                modelward_event::textln!(
                    out,
                    "{}{} {:<8} {:<9} {:<8} {} alert(s)  {}\n    vectors: {}\n    decisions: {}\n    SLA: {}  open tasks: {}",
                    if late { "! " } else { "" },
                    i.id,
                    i.severity,
                    i.stage.as_str(),
                    i.status.as_str(),
                    i.alerts.len(),
                    i.title,
                    if vectors.is_empty() { "-".into() } else { vectors.join(", ") },
                    decisions(i),
                    sla_state(i, now),
                    i.tasks.iter().filter(|t| t.state == TaskState::Open).count(),
                )?;
            }
        }
    }
    docs.finish(&mut out)?;
    out.flush()?;
    if !matches!(format, IncidentFormat::Json | IncidentFormat::Ndjson) {
        modelward_event::errln!(
            "modelward: {} incident(s){}",
            incidents.len(),
            if overdue > 0 {
                format!(", {overdue} with an overdue decision (marked !)")
            } else {
                String::new()
            }
        );
    }
    Ok(0)
}

fn print_playbook(setup: &Setup, given: Option<&Path>) -> Result<u8> {
    match given.or(setup.respond.playbook.as_deref()) {
        Some(path) => {
            let text = std::fs::read(path).with_context(|| path.display().to_string())?;
            write_out(None, &text)?;
        }
        None => write_out(None, modelward_respond::playbook::PB53.as_bytes())?,
    }
    Ok(0)
}

/// Writes to FILE, or stdout.
pub fn write_out(path: Option<&Path>, bytes: &[u8]) -> Result<()> {
    match path {
        Some(p) => {
            let mut f = BufWriter::new(
                File::create(p).with_context(|| format!("creating {}", p.display()))?,
            );
            f.write_all(bytes)?;
            f.flush()?;
        }
        None => {
            let mut out = io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()?;
        }
    }
    Ok(())
}
