//! The playbook's steps for people: checklist items, unanswered checks, escalations,
//! decisions and the actions no executor carried out — each a task with an owner and, where
//! the playbook gives one, a due time. A person's word on a task (done, n/a) is kept across
//! re-analyses; the rest is recomputed from the facts and the audit log.

use std::collections::BTreeMap;

use crate::action::{AuditEntry, Outcome};
use crate::incident::{Analysis, AnswerState, Decision, Incident, Task, TaskState};
use crate::playbook::{ChecklistItem, Playbook};

use super::{holds, Inputs};

/// Who completes tasks that the analysis completes itself.
pub const BY_FACT: &str = "modelward";

fn automatic(by: &Option<String>) -> bool {
    by.as_deref().is_some_and(|b| {
        b == BY_FACT
            || b.starts_with("action:")
            || b.starts_with("gateway:")
            || b.starts_with("scan:")
    })
}

/// What the latest scan for copies says of a `done_by_scan = "model_copies"` item: done
/// (at the scan's time, ms) when a scan since the incident's first alert read every file
/// and found no copy of a registered model; otherwise open, and why. The text goes after
/// the item's title.
pub fn copy_scan_state(
    scan: Option<&modelward_store::copy_scans::CopyScan>,
    first_seen: i64,
) -> (Option<i64>, String) {
    let Some(scan) = scan else {
        return (
            None,
            "no scan for copies recorded: run `modelward inventory find --copies PATH...` over the places copies could be".into(),
        );
    };
    let at = scan.scanned_at.saturating_mul(1000);
    let when = modelward_event::format_timestamp(at);
    let roots: Vec<String> = serde_json::from_str(&scan.roots).unwrap_or_default();
    let copies: Vec<serde_json::Value> = serde_json::from_str(&scan.copies).unwrap_or_default();
    let of = format!(
        "scan {} of {} ({} file(s), {} compared with {} model(s))",
        when,
        roots.join(", "),
        scan.files,
        scan.examined,
        serde_json::from_str::<Vec<String>>(&scan.models)
            .map(|m| m.len())
            .unwrap_or(0)
    );
    if !copies.is_empty() {
        let listed: Vec<String> = copies
            .iter()
            .take(5)
            .map(|c| {
                format!(
                    "{} ({})",
                    c["location"].as_str().unwrap_or("?"),
                    c["model"].as_str().unwrap_or("?")
                )
            })
            .collect();
        let more = copies.len().saturating_sub(listed.len());
        return (
            None,
            format!(
                "{of}: {} cop{} found: {}{}: remove or account for them, then scan again",
                copies.len(),
                if copies.len() == 1 { "y" } else { "ies" },
                listed.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ),
        );
    }
    if scan.errors > 0 {
        return (
            None,
            format!(
                "{of}: no copy found, but {} path(s) could not be read: scan again",
                scan.errors
            ),
        );
    }
    if at < first_seen {
        return (None, format!("{of} predates the incident: scan again"));
    }
    (Some(at), format!("{of}: no copy found"))
}

/// An action carried out: when, and by what (`action:KIND`, or `gateway:NAME` for a measure
/// a gateway has in force).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarriedOut {
    pub action: String,
    pub idempotency_key: String,
    pub at: i64,
    pub by: String,
}

/// The actions of the audit log that were carried out. A measure the enforcement executor
/// wrote to the enforcement table is only recorded there: it is carried out when a gateway
/// has it in force (`enforced`), at that time, and not before (a table nothing reads
/// contains nothing).
pub fn carried_out(
    audit: &[AuditEntry],
    enforced: &[modelward_store::gateway::Applied],
) -> Vec<CarriedOut> {
    audit
        .iter()
        .filter(|e| e.outcome == Outcome::Done)
        .filter_map(|e| {
            let (at, by) = if e.executor == crate::action::enforcement::EXECUTOR {
                let first = enforced
                    .iter()
                    .filter(|a| {
                        a.measure == e.action
                            && a.target_kind == e.target_kind
                            && a.target == e.target
                    })
                    .min_by_key(|a| a.in_force_at)?;
                (first.in_force_at, format!("gateway:{}", first.gateway))
            } else {
                (e.at, format!("action:{}", e.action))
            };
            Some(CarriedOut {
                action: e.action.clone(),
                idempotency_key: e.idempotency_key.clone(),
                at,
                by,
            })
        })
        .collect()
}

/// Whether a person set this task's state, whichever it is (kept across analyses: a task a
/// person reopened stays open even when an action or a fact would complete it).
pub fn by_person(task: &Task) -> bool {
    task.done_by.is_some() && !automatic(&task.done_by)
}

/// When the incident's first decision was made (its clocks start there), else `now`.
fn clock_start(decisions: &[Decision], now: i64) -> i64 {
    decisions.iter().map(|d| d.decided_at).min().unwrap_or(now)
}

/// The tasks of `incident` (whose earlier tasks keep a person's word) under `analysis`, with
/// the settings, audit log and latest scan for copies of `inputs`.
pub fn lay_out(
    playbook: &Playbook,
    incident: &Incident,
    analysis: &Analysis,
    inputs: &Inputs<'_>,
    done: &[CarriedOut],
    now: i64,
) -> Vec<Task> {
    let (settings, audit, copy_scan) = (inputs.settings, inputs.audit, inputs.copy_scan);
    let Analysis {
        facts,
        triage,
        scope,
        escalations,
        decisions,
        ..
    } = analysis;
    let start = clock_start(decisions, now);
    // The first time each kind of action was carried out, and by what.
    let mut done_actions: BTreeMap<&str, (i64, &str)> = BTreeMap::new();
    for d in done {
        let e = done_actions
            .entry(d.action.as_str())
            .or_insert((d.at, &d.by));
        if d.at < e.0 {
            *e = (d.at, &d.by);
        }
    }
    let mut tasks = Vec::new();
    let mut item = |section: &str, prefix: &str, i: &ChecklistItem| {
        let applies = holds(&i.when, &incident.alerts, settings, facts);
        let by_action = i
            .done_by
            .iter()
            .find_map(|k| done_actions.get(k.as_str()).copied());
        let by_fact = i
            .done_when
            .as_ref()
            .is_some_and(|c| holds(c, &incident.alerts, settings, facts));
        let (mut state, mut done_by, mut done_at) = match (applies, by_action, by_fact) {
            (_, Some((at, by)), _) => (TaskState::Done, Some(by.to_string()), Some(at)),
            (_, None, true) => (TaskState::Done, Some(BY_FACT.to_string()), Some(now)),
            (false, None, false) => (TaskState::NotApplicable, None, None),
            (true, None, false) => (TaskState::Open, None, None),
        };
        let mut title = if i.tool.is_empty() {
            i.title.clone()
        } else {
            format!("{} ({})", i.title, i.tool)
        };
        // The latest scan is the state: done only when it found nothing, never without one.
        if i.done_by_scan.is_some() && state != TaskState::NotApplicable {
            let (scanned, said) = copy_scan_state(copy_scan, incident.first_seen);
            title = format!("{title} — {said}");
            (state, done_by, done_at) = match scanned {
                Some(at) => (
                    TaskState::Done,
                    copy_scan.map(|s| format!("scan:{}", s.id)),
                    Some(at),
                ),
                None => (TaskState::Open, None, None),
            };
        }
        tasks.push(Task {
            id: format!("{prefix}.{}", i.id),
            section: if i.section.is_empty() {
                section.to_string()
            } else {
                format!("{section}: {}", i.section)
            },
            title,
            owner: i.owner.clone(),
            due_at: i.sla_ms.map(|ms| start + ms),
            state,
            done_by,
            done_at,
            note: String::new(),
        });
    };
    for i in &playbook.containment {
        item("containment", "contain", i);
    }
    for i in &playbook.recovery {
        item("recovery", "recover", i);
    }
    for i in &playbook.post_incident {
        item("post_incident", "lessons", i);
    }
    let open =
        |id: String, section: &str, title: String, owner: String, due_at: Option<i64>| Task {
            id,
            section: section.to_string(),
            title,
            owner,
            due_at,
            state: TaskState::Open,
            done_by: None,
            done_at: None,
            note: String::new(),
        };
    for (answers, section) in [(triage.as_slice(), "triage"), (scope.as_slice(), "scope")] {
        let checks = if section == "triage" {
            &playbook.triage
        } else {
            &playbook.scope
        };
        for a in answers.iter().filter(|a| a.state == AnswerState::NoData) {
            let owner = checks
                .iter()
                .find(|c| c.id == a.id)
                .map_or_else(|| "SOC Analyst".to_string(), |c| c.owner.clone());
            tasks.push(open(
                format!("{section}.{}", a.id),
                section,
                format!("{} — {}", a.question, a.answer),
                owner,
                None,
            ));
        }
    }
    let first_due = decisions.iter().filter_map(Decision::due_at).min();
    for e in escalations {
        tasks.push(open(
            format!("escalate.{}", e.id),
            "escalation",
            format!("Escalate to {}: {}", e.escalate_to, e.condition),
            "SOC Manager".into(),
            first_due,
        ));
    }
    for d in decisions {
        tasks.push(open(
            format!("decision.{}", d.id),
            "decision",
            format!("{} — {}", d.decision, d.condition),
            d.owner.clone(),
            d.due_at(),
        ));
        for a in &d.actions {
            let key = a.idempotency_key();
            let latest = audit.iter().rev().find(|e| e.idempotency_key == key);
            let carried = done.iter().any(|c| c.idempotency_key == key);
            let why = match latest {
                Some(e) if matches!(e.outcome, Outcome::Manual | Outcome::Failed) => {
                    Some("no executor carried it out: do it by hand")
                }
                Some(e) if e.outcome == Outcome::Done && !carried => Some(
                    "recorded in the enforcement table, but no gateway has it in force: run `modelward gateway` in front of the API, or apply it by hand",
                ),
                _ => None,
            };
            if let Some(why) = why {
                tasks.push(open(
                    format!("action.{key}"),
                    "containment",
                    format!("{a} — {why}"),
                    d.owner.clone(),
                    d.due_at(),
                ));
            }
        }
    }
    // Items a scan answers: a person may say n/a, never done (the scan says that).
    let scanned: Vec<String> = playbook
        .recovery
        .iter()
        .chain(&playbook.containment)
        .chain(&playbook.post_incident)
        .filter(|i| i.done_by_scan.is_some())
        .flat_map(|i| ["contain", "recover", "lessons"].map(|p| format!("{p}.{}", i.id)))
        .collect();
    // A person's word is kept; what was already done keeps its time.
    for t in &mut tasks {
        if let Some(before) = incident.tasks.iter().find(|b| b.id == t.id) {
            let overruled = scanned.contains(&t.id) && before.state != TaskState::NotApplicable;
            if by_person(before) && !overruled {
                t.state = before.state;
                t.done_by = before.done_by.clone();
                t.done_at = before.done_at;
            } else if before.state == t.state && before.done_by == t.done_by {
                t.done_at = before.done_at.or(t.done_at);
            }
            t.note = before.note.clone();
        }
    }
    tasks
}

/// A decision is met when its task is done, or when every action it calls for was carried
/// out (and it calls for at least one).
pub fn meet_decisions(decisions: &mut [Decision], tasks: &[Task], done: &[CarriedOut]) {
    for d in decisions.iter_mut() {
        let by_task = tasks
            .iter()
            .find(|t| t.id == format!("decision.{}", d.id) && t.state == TaskState::Done)
            .and_then(|t| t.done_at);
        let by_actions = if d.actions.is_empty() {
            None
        } else {
            d.actions
                .iter()
                .map(|a| {
                    let key = a.idempotency_key();
                    let carried = done
                        .iter()
                        .filter(|d| d.idempotency_key == key)
                        .map(|d| d.at)
                        .min();
                    carried.or_else(|| {
                        tasks
                            .iter()
                            .find(|t| t.id == format!("action.{key}") && t.state == TaskState::Done)
                            .and_then(|t| t.done_at)
                    })
                })
                .collect::<Option<Vec<i64>>>()
                .and_then(|times| times.into_iter().max())
        };
        // Met again (a re-analysis) keeps the first time; new targets not yet acted on
        // make it unmet.
        d.met_at = by_task
            .or(by_actions)
            .map(|t| d.met_at.map_or(t, |m| m.min(t)));
    }
}
