//! Playbooks as data: a TOML file (format in docs/playbooks.md) with the triage checks, the
//! theft vectors, the scope questions, the escalation criteria, the decision matrix and the
//! containment, recovery and post-incident checklists. PB-53 is built in
//! ([`Playbook::builtin`]); a user's file replaces it.

pub mod condition;

use std::path::Path;

use serde::Deserialize;

use crate::action::spec::{ActionSpec, ActionStep};
use crate::analyze::answers;
pub use condition::{Condition, Predicate};

/// PB-53 as modelward ships it.
pub const PB53: &str = include_str!("../../playbooks/pb53.toml");

/// A playbook, checked.
#[derive(Debug, Clone)]
pub struct Playbook {
    pub id: String,
    pub name: String,
    pub severity: String,
    pub category: String,
    pub mitre: Vec<String>,
    pub trigger: String,
    /// The alerts it handles.
    pub handles: Condition,
    pub triage: Vec<Check>,
    pub vectors: Vec<Vector>,
    pub scope: Vec<Check>,
    pub escalation: Vec<EscalationRule>,
    pub decisions: Vec<DecisionRule>,
    pub containment: Vec<ChecklistItem>,
    pub recovery: Vec<ChecklistItem>,
    pub post_incident: Vec<ChecklistItem>,
}

/// A triage check or scope question.
#[derive(Debug, Clone)]
pub struct Check {
    pub id: String,
    /// The check (triage) or question (scope).
    pub text: String,
    pub how: String,
    pub tool: String,
    /// The built-in computation that answers it ([`answers::NAMES`]).
    pub answer: String,
    /// Who answers it when the logs cannot.
    pub owner: String,
}

#[derive(Debug, Clone)]
pub struct Vector {
    pub id: String,
    pub name: String,
    pub indicator: String,
    pub severity: String,
    pub when: Condition,
}

#[derive(Debug, Clone)]
pub struct EscalationRule {
    pub condition: String,
    pub when: Condition,
    pub escalate_to: String,
}

#[derive(Debug, Clone)]
pub struct DecisionRule {
    pub id: String,
    pub condition: String,
    pub when: Condition,
    pub decision: String,
    pub owner: String,
    /// `None`: no clock (per incident policy).
    pub sla_ms: Option<i64>,
    pub sla_label: String,
    pub actions: Vec<ActionStep>,
}

/// A checklist item: a task with an owner, done by actions, by a fact, or by a person.
#[derive(Debug, Clone)]
pub struct ChecklistItem {
    pub id: String,
    pub section: String,
    pub title: String,
    pub tool: String,
    pub owner: String,
    pub sla_ms: Option<i64>,
    pub when: Condition,
    /// Action kinds that complete it when carried out.
    pub done_by: Vec<String>,
    /// A fact that completes it when true.
    pub done_when: Option<Condition>,
    /// A scan whose latest result is the item's state ([`SCANS`]): done only when that scan
    /// found nothing, never without one.
    pub done_by_scan: Option<String>,
}

/// The scans a checklist item's `done_by_scan` can name: `model_copies`, the latest
/// `modelward inventory find --copies` (copies of registered models found by their weights).
pub const SCANS: [&str; 1] = ["model_copies"];

/// Why a playbook cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PlaybookError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {place}: {message}")]
    Invalid {
        file: String,
        place: String,
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCheck {
    id: String,
    #[serde(alias = "question")]
    check: String,
    #[serde(default)]
    how: String,
    #[serde(default)]
    tool: String,
    answer: String,
    #[serde(default = "default_owner")]
    owner: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileVector {
    id: String,
    name: String,
    #[serde(default)]
    indicator: String,
    severity: String,
    when: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEscalation {
    condition: String,
    when: Vec<String>,
    escalate_to: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDecision {
    id: String,
    condition: String,
    when: Vec<String>,
    decision: String,
    owner: String,
    sla: Option<String>,
    sla_label: Option<String>,
    #[serde(default)]
    actions: Vec<ActionSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileItem {
    id: String,
    #[serde(default)]
    section: String,
    title: String,
    #[serde(default)]
    tool: String,
    #[serde(default = "default_owner")]
    owner: String,
    sla: Option<String>,
    #[serde(default)]
    when: Vec<String>,
    #[serde(default)]
    done_by: Vec<String>,
    done_when: Option<String>,
    done_by_scan: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePlaybook {
    id: String,
    name: String,
    #[serde(default = "default_severity")]
    severity: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    mitre: Vec<String>,
    #[serde(default)]
    trigger: String,
    handles: Vec<String>,
    #[serde(default)]
    triage: Vec<FileCheck>,
    vectors: Vec<FileVector>,
    #[serde(default)]
    scope: Vec<FileCheck>,
    #[serde(default)]
    escalation: Vec<FileEscalation>,
    decisions: Vec<FileDecision>,
    #[serde(default)]
    containment: Vec<FileItem>,
    #[serde(default)]
    recovery: Vec<FileItem>,
    #[serde(default)]
    post_incident: Vec<FileItem>,
}

fn default_owner() -> String {
    "SOC Analyst".into()
}

fn default_severity() -> String {
    "high".into()
}

const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];

impl Playbook {
    /// Every fact its conditions name (a responder may set these, whatever they are).
    pub fn facts_named(&self) -> std::collections::BTreeSet<&str> {
        let items = self
            .containment
            .iter()
            .chain(&self.recovery)
            .chain(&self.post_incident);
        std::iter::once(&self.handles)
            .chain(self.vectors.iter().map(|v| &v.when))
            .chain(self.escalation.iter().map(|e| &e.when))
            .chain(self.decisions.iter().map(|d| &d.when))
            .chain(items.flat_map(|i| std::iter::once(&i.when).chain(&i.done_when)))
            .flat_map(Condition::facts)
            .collect()
    }

    /// PB-53 as shipped.
    pub fn builtin() -> Playbook {
        match Playbook::parse(PB53, "builtin:pb53.toml") {
            Ok(p) => p,
            // The shipped file is checked by a test; this cannot fail in a release.
            Err(e) => unreachable!("the built-in PB-53 is invalid: {e}"),
        }
    }

    /// Reads a playbook file.
    pub fn load(path: &Path) -> Result<Playbook, PlaybookError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PlaybookError::Read {
            file: file.clone(),
            source,
        })?;
        Playbook::parse(&text, &file)
    }

    /// Parses and checks a playbook; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Playbook, PlaybookError> {
        let raw: FilePlaybook = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|s| line_column(text, s.start))
                .unwrap_or((1, 1));
            PlaybookError::Syntax {
                file: file.into(),
                line,
                column,
                message: format!(
                    "{}{}",
                    e.message(),
                    modelward_event::suggest::for_unknown_name(e.message())
                ),
            }
        })?;
        let invalid = |place: String, message: String| PlaybookError::Invalid {
            file: file.into(),
            place,
            message,
        };
        let cond = |place: String, parts: &[String]| {
            Condition::parse(parts).map_err(|e| invalid(place, e.to_string()))
        };
        let severity = |place: String, s: &str| {
            if SEVERITIES.contains(&s) {
                Ok(s.to_string())
            } else {
                Err(invalid(
                    place,
                    format!("severity `{s}`: expected low, medium, high or critical"),
                ))
            }
        };
        let check = |section: &str, c: FileCheck, names: &[&str]| {
            if !names.contains(&c.answer.as_str()) {
                return Err(invalid(
                    format!("{section} `{}`", c.id),
                    format!(
                        "unknown answer `{}` (expected one of: {})",
                        c.answer,
                        names.join(", ")
                    ),
                ));
            }
            Ok(Check {
                id: c.id,
                text: c.check,
                how: c.how,
                tool: c.tool,
                answer: c.answer,
                owner: c.owner,
            })
        };
        let sla = |place: String, s: Option<&str>| -> Result<Option<i64>, PlaybookError> {
            match s {
                None => Ok(None),
                Some("immediate") => Ok(Some(0)),
                Some(text) => text
                    .parse::<modelward_behavior::Span>()
                    .map(|s| Some(s.0))
                    .map_err(|e| invalid(place, format!("`sla`: {e} (or `immediate`)"))),
            }
        };
        let item = |section: &str, i: FileItem| -> Result<ChecklistItem, PlaybookError> {
            let place = format!("{section} `{}`", i.id);
            for kind in &i.done_by {
                if !crate::action::Action::KINDS.contains(&kind.as_str()) {
                    return Err(invalid(
                        place,
                        format!("`done_by`: unknown action `{kind}`"),
                    ));
                }
            }
            if let Some(scan) = &i.done_by_scan {
                if !SCANS.contains(&scan.as_str()) {
                    return Err(invalid(
                        place,
                        format!(
                            "`done_by_scan`: unknown scan `{scan}` (known: {})",
                            SCANS.join(", ")
                        ),
                    ));
                }
            }
            Ok(ChecklistItem {
                done_by_scan: i.done_by_scan,
                sla_ms: sla(place.clone(), i.sla.as_deref())?,
                when: cond(place.clone(), &i.when)?,
                done_when: match &i.done_when {
                    Some(d) => Some(cond(place.clone(), std::slice::from_ref(d))?),
                    None => None,
                },
                id: i.id,
                section: i.section,
                title: i.title,
                tool: i.tool,
                owner: i.owner,
                done_by: i.done_by,
            })
        };
        let mut vectors = Vec::new();
        for v in raw.vectors {
            let place = format!("vector `{}`", v.id);
            vectors.push(Vector {
                severity: severity(place.clone(), &v.severity)?,
                when: cond(place, &v.when)?,
                id: v.id,
                name: v.name,
                indicator: v.indicator,
            });
        }
        let mut decisions = Vec::new();
        for d in raw.decisions {
            let place = format!("decision `{}`", d.id);
            let mut actions = Vec::new();
            for a in &d.actions {
                actions.push(a.resolve().map_err(|m| invalid(place.clone(), m))?);
            }
            let sla_ms = sla(place.clone(), d.sla.as_deref())?;
            decisions.push(DecisionRule {
                when: cond(place, &d.when)?,
                sla_label: d.sla_label.or(d.sla).unwrap_or_else(|| "none".into()),
                sla_ms,
                id: d.id,
                condition: d.condition,
                decision: d.decision,
                owner: d.owner,
                actions,
            });
        }
        let mut escalation = Vec::new();
        for e in raw.escalation {
            escalation.push(EscalationRule {
                when: cond(format!("escalation `{}`", e.condition), &e.when)?,
                condition: e.condition,
                escalate_to: e.escalate_to,
            });
        }
        let items = |section: &str, list: Vec<FileItem>| {
            list.into_iter()
                .map(|i| item(section, i))
                .collect::<Result<Vec<_>, _>>()
        };
        let playbook = Playbook {
            severity: severity("playbook".into(), &raw.severity)?,
            handles: cond("handles".into(), &raw.handles)?,
            triage: raw
                .triage
                .into_iter()
                .map(|c| check("triage", c, answers::TRIAGE))
                .collect::<Result<_, _>>()?,
            scope: raw
                .scope
                .into_iter()
                .map(|c| check("scope", c, answers::SCOPE))
                .collect::<Result<_, _>>()?,
            containment: items("containment", raw.containment)?,
            recovery: items("recovery", raw.recovery)?,
            post_incident: items("post_incident", raw.post_incident)?,
            id: raw.id,
            name: raw.name,
            category: raw.category,
            mitre: raw.mitre,
            trigger: raw.trigger,
            vectors,
            escalation,
            decisions,
        };
        playbook
            .check_unique()
            .map_err(|m| invalid("playbook".into(), m))?;
        Ok(playbook)
    }

    fn check_unique(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        let ids = self
            .vectors
            .iter()
            .map(|v| ("vector", &v.id))
            .chain(self.decisions.iter().map(|d| ("decision", &d.id)))
            .chain(self.triage.iter().map(|c| ("triage", &c.id)))
            .chain(self.scope.iter().map(|c| ("scope", &c.id)))
            .chain(
                self.containment
                    .iter()
                    .chain(&self.recovery)
                    .chain(&self.post_incident)
                    .map(|i| ("checklist item", &i.id)),
            );
        for (kind, id) in ids {
            if !seen.insert((kind, id.as_str())) {
                return Err(format!("{kind} id `{id}` is used twice"));
            }
        }
        Ok(())
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_pb53_is_complete() {
        let p = Playbook::parse(PB53, "pb53.toml").unwrap();
        assert_eq!(p.id, "PB-53");
        assert_eq!(p.triage.len(), 6);
        assert_eq!(p.vectors.len(), 5);
        assert_eq!(p.scope.len(), 4);
        assert_eq!(p.escalation.len(), 5);
        assert_eq!(p.decisions.len(), 4);
        assert_eq!(p.containment.len(), 13);
        assert_eq!(p.recovery.len(), 6);
        assert_eq!(p.post_incident.len(), 6);
        let contain = p.decisions.iter().find(|d| d.id == "contain").unwrap();
        assert_eq!(contain.sla_ms, Some(0));
        assert_eq!(contain.sla_label, "Immediate");
        let rate = p.decisions.iter().find(|d| d.id == "rate_limit").unwrap();
        assert_eq!(rate.sla_ms, Some(15 * 60_000));
        assert_eq!(rate.actions.len(), 4);
    }

    #[test]
    fn syntax_errors_have_a_line_and_column() {
        let text =
            "id = \"X\"\nname = \"n\"\nhandles = []\nvectors = []\ndecisions = []\ncolour = 3\n";
        let err = Playbook::parse(text, "my.toml").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("my.toml:6:1: "), "{msg}");
        assert!(msg.contains("colour"), "{msg}");
        let misspelt = text.replace("colour = 3", "decisons = []");
        let msg = Playbook::parse(&misspelt, "my.toml")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("(did you mean `decisions`?)"), "{msg}");
    }

    #[test]
    fn bad_answers_actions_and_conditions_are_named() {
        let base = "id = \"X\"\nname = \"n\"\nhandles = []\nvectors = []\n";
        let err = Playbook::parse(
            &format!(
                "{base}decisions = []\n[[triage]]\nid = \"t\"\ncheck = \"c\"\nanswer = \"magic\"\n"
            ),
            "f",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("triage `t`: unknown answer `magic`"),
            "{err}"
        );
        let err = Playbook::parse(
            &format!("{base}[[decisions]]\nid = \"d\"\ncondition = \"c\"\nwhen = [\"fact:x\"]\ndecision = \"d\"\nowner = \"o\"\nactions = [{{ action = \"rate_limit\" }}]\n"),
            "f",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("decision `d`: `rate_limit` needs `requests_per_minute`"),
            "{err}"
        );
        let err = Playbook::parse(
            &format!("{base}[[decisions]]\nid = \"d\"\ncondition = \"c\"\nwhen = [\"facts:x\"]\ndecision = \"d\"\nowner = \"o\"\n"),
            "f",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("unknown predicate kind `facts`"),
            "{err}"
        );
    }
}
