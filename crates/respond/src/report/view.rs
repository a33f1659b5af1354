//! What both renderers show, computed once: badges, SLA states, action outcomes from the
//! audit log, the merged timeline, the checklists by section.

use crate::action::{AuditEntry, Outcome, PlannedAction};
use crate::incident::{AnswerState, Decision, Incident, Task, TaskState};

use super::time;
use super::ReportInput;

/// How a badge is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tone {
    Critical,
    High,
    Medium,
    Low,
    Good,
    Bad,
    Warn,
    Info,
    Muted,
}

impl Tone {
    /// The CSS class of the HTML badge.
    pub(super) fn class(self) -> &'static str {
        match self {
            Tone::Critical => "critical",
            Tone::High => "high",
            Tone::Medium => "medium",
            Tone::Low => "low",
            Tone::Good => "good",
            Tone::Bad => "bad",
            Tone::Warn => "warn",
            Tone::Info => "info",
            Tone::Muted => "muted",
        }
    }
}

/// A short coloured label: a severity, a state, an outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Badge {
    pub label: String,
    pub tone: Tone,
}

impl Badge {
    fn new(label: impl Into<String>, tone: Tone) -> Badge {
        Badge {
            label: label.into(),
            tone,
        }
    }
}

pub(super) fn severity(s: &str) -> Badge {
    let tone = match s.to_ascii_lowercase().as_str() {
        "critical" => Tone::Critical,
        "high" => Tone::High,
        "medium" => Tone::Medium,
        "low" => Tone::Low,
        _ => Tone::Muted,
    };
    Badge::new(s.to_ascii_lowercase(), tone)
}

pub(super) fn answer(state: AnswerState) -> Badge {
    let tone = match state {
        AnswerState::Finding => Tone::Bad,
        AnswerState::Clear => Tone::Good,
        AnswerState::NoData => Tone::Muted,
    };
    Badge::new(state.as_str(), tone)
}

/// What the audit log says became of an action (`None`: not run yet).
pub(super) fn outcome(entry: Option<&AuditEntry>) -> Badge {
    match entry.map(|e| e.outcome) {
        Some(Outcome::Done) => Badge::new("done", Tone::Good),
        Some(Outcome::AlreadyDone) => Badge::new("already done", Tone::Good),
        Some(Outcome::DryRun) => Badge::new("dry run", Tone::Info),
        Some(Outcome::Manual) => Badge::new("manual", Tone::Warn),
        Some(Outcome::Failed) => Badge::new("failed", Tone::Bad),
        None => Badge::new("not run", Tone::Muted),
    }
}

/// The audit log's last word on a planned action: its latest entry with the same
/// idempotency key, else the latest with the same action, target and decision.
pub(super) fn audit_of<'a>(
    action: &PlannedAction,
    audit: &'a [AuditEntry],
) -> Option<&'a AuditEntry> {
    let key = action.idempotency_key();
    let latest = |f: &dyn Fn(&AuditEntry) -> bool| {
        audit
            .iter()
            .filter(|e| e.incident == action.incident && f(e))
            .max_by_key(|e| (e.seq, e.at))
    };
    // An `already_done` entry repeats an earlier success: the success is the outcome.
    let effective = |f: &dyn Fn(&AuditEntry) -> bool| {
        let last = latest(f)?;
        if last.outcome == Outcome::AlreadyDone {
            latest(&|e| f(e) && e.outcome == Outcome::Done).or(Some(last))
        } else {
            Some(last)
        }
    };
    effective(&|e| e.idempotency_key == key).or_else(|| {
        effective(&|e| {
            e.action == action.action.kind()
                && e.target == action.target
                && e.target_kind == action.target_kind.as_str()
                && e.decision == action.decision
        })
    })
}

/// Where a decision stands against its SLA at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sla {
    /// Met at this time; `late` by so many ms (0 when in time).
    Met { at: i64, late: i64 },
    /// Open, due in so many ms.
    DueIn(i64),
    /// Open and past due by so many ms.
    Overdue(i64),
    /// Open, with no clock (per incident policy).
    NoClock,
}

impl Sla {
    pub(super) fn of(d: &Decision, now: i64) -> Sla {
        match (d.met_at, d.due_at()) {
            (Some(at), due) => Sla::Met {
                at,
                late: due.map_or(0, |due| at.saturating_sub(due).max(0)),
            },
            (None, Some(due)) if d.overdue(now) => Sla::Overdue(now.saturating_sub(due)),
            (None, Some(due)) => Sla::DueIn(due.saturating_sub(now)),
            (None, None) => Sla::NoClock,
        }
    }

    pub(super) fn badge(self) -> Badge {
        match self {
            Sla::Met { late: 0, .. } => Badge::new("met", Tone::Good),
            Sla::Met { late, .. } => {
                Badge::new(format!("met, late by {}", time::duration(late)), Tone::Warn)
            }
            Sla::DueIn(ms) => Badge::new(format!("due in {}", time::duration(ms)), Tone::Warn),
            Sla::Overdue(ms) => {
                Badge::new(format!("OVERDUE by {}", time::duration(ms)), Tone::Critical)
            }
            Sla::NoClock => Badge::new("open, no SLA clock", Tone::Muted),
        }
    }
}

/// The incident's SLA state in one badge: overdue if any decision is, else the nearest due,
/// else met.
pub(super) fn overall_sla(incident: &Incident, now: i64) -> Badge {
    let states: Vec<Sla> = incident
        .analysis
        .decisions
        .iter()
        .map(|d| Sla::of(d, now))
        .collect();
    let overdue = states
        .iter()
        .filter(|s| matches!(s, Sla::Overdue(_)))
        .count();
    if overdue > 0 {
        return Badge::new(
            format!("OVERDUE ({overdue} of {} decisions)", states.len()),
            Tone::Critical,
        );
    }
    let next_due = states
        .iter()
        .filter_map(|s| match s {
            Sla::DueIn(ms) => Some(*ms),
            _ => None,
        })
        .min();
    if let Some(ms) = next_due {
        return Badge::new(format!("due in {}", time::duration(ms)), Tone::Warn);
    }
    if states.is_empty() {
        Badge::new("no decision yet", Tone::Muted)
    } else if states.iter().all(|s| matches!(s, Sla::Met { .. })) {
        Badge::new("met", Tone::Good)
    } else {
        Badge::new("open, no SLA clock", Tone::Muted)
    }
}

/// A checklist item's state: ☐ open (OVERDUE when past its due time), ☑ done, n/a.
pub(super) fn task(t: &Task, now: i64) -> Badge {
    match t.state {
        TaskState::Done => Badge::new("☑ done", Tone::Good),
        TaskState::NotApplicable => Badge::new("n/a", Tone::Muted),
        TaskState::Open if t.due_at.is_some_and(|due| now > due) => {
            Badge::new("☐ OVERDUE", Tone::Critical)
        }
        TaskState::Open => Badge::new("☐ open", Tone::Warn),
    }
}

/// The task sections in PB-53's order, with their titles; others follow.
const SECTIONS: [(&str, &str); 7] = [
    ("triage", "1.1 Triage: checks the logs could not answer"),
    ("scope", "1.3 Scope: questions the logs could not answer"),
    ("containment", "2. Containment"),
    ("escalation", "4. Escalation"),
    ("decision", "5. Decisions"),
    ("recovery", "6. Recovery"),
    ("post_incident", "7. Post-incident"),
];

/// One checklist: a section's tasks, in parts (`containment: If model extraction via API`
/// is the part "If model extraction via API" of containment; `None` for no part).
pub(super) struct Checklist<'a> {
    pub title: String,
    pub parts: Vec<(Option<&'a str>, Vec<&'a Task>)>,
}

/// The tasks grouped by section and part, in PB-53's order; empty sections left out.
pub(super) fn checklists(tasks: &[Task]) -> Vec<Checklist<'_>> {
    fn split(t: &Task) -> (String, Option<&str>) {
        match t.section.split_once(':') {
            Some((main, part)) => (main.trim().to_string(), Some(part.trim())),
            None => (t.section.trim().to_string(), None),
        }
    }
    let mut sections: Vec<String> = SECTIONS.iter().map(|(s, _)| s.to_string()).collect();
    let mut others: Vec<String> = tasks
        .iter()
        .map(|t| split(t).0)
        .filter(|s| !SECTIONS.iter().any(|(known, _)| known == s))
        .collect();
    others.sort_unstable();
    others.dedup();
    sections.extend(others);
    let mut out = Vec::new();
    for section in sections {
        let mut parts: Vec<(Option<&str>, Vec<&Task>)> = Vec::new();
        for t in tasks {
            let (main, part) = split(t);
            if main != section {
                continue;
            }
            match parts.iter_mut().find(|(p, _)| *p == part) {
                Some((_, items)) => items.push(t),
                None => parts.push((part, vec![t])),
            }
        }
        if parts.is_empty() {
            continue;
        }
        // Tasks of no part after the named parts, under "Other" when there are any.
        parts.sort_by_key(|(part, _)| part.is_none());
        if parts.len() > 1 {
            for (part, _) in &mut parts {
                if part.is_none() {
                    *part = Some("Other");
                }
            }
        }
        let title = SECTIONS
            .iter()
            .find(|(s, _)| *s == section)
            .map_or_else(|| section.replace('_', " "), |(_, title)| title.to_string());
        out.push(Checklist { title, parts });
    }
    out
}

/// Counts of tasks: (open, overdue, done, n/a).
pub(super) fn task_counts(tasks: &[Task], now: i64) -> (usize, usize, usize, usize) {
    let open = tasks.iter().filter(|t| t.state == TaskState::Open).count();
    let overdue = tasks
        .iter()
        .filter(|t| t.state == TaskState::Open && t.due_at.is_some_and(|due| now > due))
        .count();
    let done = tasks.iter().filter(|t| t.state == TaskState::Done).count();
    (open, overdue, done, tasks.len() - open - done)
}

/// What kind of thing a timeline line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Kind {
    Alert,
    Stage,
    Decision,
    Action,
    Closed,
}

impl Kind {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Kind::Alert => "alert",
            Kind::Stage => "stage",
            Kind::Decision => "decision",
            Kind::Action => "action",
            Kind::Closed => "closed",
        }
    }
}

/// One line of the timeline.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub at: i64,
    pub kind: Kind,
    pub badge: Option<Badge>,
    pub text: String,
}

/// Alerts (event time), stage moves, decisions, audit entries and the closure (wall clock)
/// in time order.
pub(super) fn timeline(input: &ReportInput) -> Vec<Entry> {
    let incident = input.incident;
    let mut out = Vec::new();
    for a in &incident.alerts {
        let mut text = format!("{} ({})", a.rule_name, a.rule_id);
        let entity = entity_text(&a.entity);
        if !entity.is_empty() {
            text.push_str(&format!(" on {entity}"));
        }
        if let Some(m) = &a.message {
            text.push_str(": ");
            text.push_str(m);
        }
        out.push(Entry {
            at: a.timestamp,
            kind: Kind::Alert,
            badge: Some(severity(&a.severity)),
            text,
        });
    }
    for t in &incident.transitions {
        let from = t
            .from
            .map_or_else(|| "opened".to_string(), |s| s.to_string());
        let mut text = format!("{from} → {} by {}", t.to, t.by);
        if !t.note.is_empty() {
            text.push_str(": ");
            text.push_str(&t.note);
        }
        out.push(Entry {
            at: t.at,
            kind: Kind::Stage,
            badge: None,
            text,
        });
    }
    for d in &incident.analysis.decisions {
        out.push(Entry {
            at: d.decided_at,
            kind: Kind::Decision,
            badge: None,
            text: format!(
                "{} ({}): owner {}, SLA {}",
                d.decision, d.id, d.owner, d.sla
            ),
        });
    }
    for e in input.audit.iter().filter(|e| e.incident == incident.id) {
        let mut text = format!(
            "{} {} {}",
            e.action,
            e.target_kind,
            shown(&e.target_kind, &e.target)
        );
        if !e.executor.is_empty() {
            text.push_str(&format!(" via {}", e.executor));
        }
        text.push_str(&format!(" by {}", e.actor));
        if !e.detail.is_empty() {
            text.push_str(": ");
            text.push_str(&e.detail);
        }
        out.push(Entry {
            at: e.at,
            kind: Kind::Action,
            badge: Some(outcome(Some(e))),
            text,
        });
    }
    if let Some(c) = &incident.closed {
        out.push(Entry {
            at: c.at,
            kind: Kind::Closed,
            badge: None,
            text: format!("closed by {}: {}", c.by, c.resolution),
        });
    }
    out.sort_by_key(|e| (e.at, e.kind));
    out
}

/// An entity or action target as reports show it: API key ids masked (`key_vT…4Oi`).
pub(super) fn shown(kind: &str, value: &str) -> String {
    if kind == "api_key" {
        crate::ioc::mask_key(value)
    } else {
        value.to_string()
    }
}

/// A planned action as its `Display` writes it, with an API key target masked.
pub(super) fn action_text(a: &PlannedAction) -> String {
    let text = a.to_string();
    let kind = a.target_kind.entity_kind();
    if kind == "api_key" && !a.target.is_empty() {
        text.replace(&a.target, &shown(kind, &a.target))
    } else {
        text
    }
}

/// `principal=dev-7731@example.net, source.ip=203.0.113.66`.
pub(super) fn entity_text(entity: &serde_json::Map<String, serde_json::Value>) -> String {
    entity
        .iter()
        .map(|(k, v)| match v.as_str() {
            Some(s) => format!("{k}={}", shown(k, s)),
            None => format!("{k}={v}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The audit entries of this incident, in log order.
pub(super) fn audit<'a>(input: &ReportInput<'a>) -> Vec<&'a AuditEntry> {
    let mut out: Vec<&AuditEntry> = input
        .audit
        .iter()
        .filter(|e| e.incident == input.incident.id)
        .collect();
    out.sort_by_key(|e| (e.seq, e.at));
    out
}

/// `file:line` of an alert's samples, at most `max`, with `+N more`.
pub(super) fn samples(a: &crate::AlertView, max: usize) -> Vec<String> {
    let mut out: Vec<String> = a
        .samples
        .iter()
        .take(max)
        .map(|s| format!("{}:{}", s.file, s.line))
        .collect();
    if a.samples.len() > max {
        out.push(format!("+{} more", a.samples.len() - max));
    }
    out
}

/// The vectors' names with their severity: `Model extraction via API (critical)`.
pub(super) fn vectors_text(incident: &Incident) -> String {
    if incident.analysis.vectors.is_empty() {
        return "none classified".to_string();
    }
    incident
        .analysis
        .vectors
        .iter()
        .map(|v| format!("{} ({})", v.name, v.severity.to_ascii_lowercase()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(sla_ms: Option<i64>, met_at: Option<i64>) -> Decision {
        Decision {
            id: "D2".into(),
            condition: String::new(),
            decision: String::new(),
            owner: String::new(),
            sla: String::new(),
            sla_ms,
            decided_at: 1_000_000,
            met_at,
            actions: Vec::new(),
        }
    }

    #[test]
    fn sla_states() {
        let now = 1_000_000 + 20 * 60_000;
        assert_eq!(
            Sla::of(&decision(Some(900_000), None), now),
            Sla::Overdue(300_000)
        );
        assert_eq!(
            Sla::of(&decision(Some(1_800_000), None), now),
            Sla::DueIn(600_000)
        );
        assert_eq!(
            Sla::of(&decision(Some(900_000), Some(1_500_000)), now),
            Sla::Met {
                at: 1_500_000,
                late: 0
            }
        );
        assert_eq!(
            Sla::of(&decision(Some(60_000), Some(1_120_000)), now)
                .badge()
                .label,
            "met, late by 1m"
        );
        assert_eq!(Sla::of(&decision(None, None), now), Sla::NoClock);
        assert_eq!(
            Sla::Overdue(300_000).badge(),
            Badge::new("OVERDUE by 5m", Tone::Critical)
        );
    }
}
