//! The incident and what the playbook found out about it.
//!
//! Everything here is plain data (serde), stored in SQLite by [`crate::repo`] and rendered by
//! the reports; the computations live in their own modules.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::alert_view::AlertView;
use crate::volume::VolumeSeries;

/// PB-53's flow: Detect → Analyze → Contain → Eradicate → Recover → Lessons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Detect,
    Analyze,
    Contain,
    Eradicate,
    Recover,
    Lessons,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Stage::Detect,
        Stage::Analyze,
        Stage::Contain,
        Stage::Eradicate,
        Stage::Recover,
        Stage::Lessons,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Detect => "detect",
            Stage::Analyze => "analyze",
            Stage::Contain => "contain",
            Stage::Eradicate => "eradicate",
            Stage::Recover => "recover",
            Stage::Lessons => "lessons",
        }
    }

    /// The stage after this one (`None` after Lessons).
    pub fn next(self) -> Option<Stage> {
        let i = Stage::ALL.iter().position(|s| *s == self)?;
        Stage::ALL.get(i + 1).copied()
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Open until a responder closes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Closed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Closed => "closed",
        }
    }
}

/// One move along the flow: when, by whom, why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub from: Option<Stage>,
    pub to: Stage,
    /// Wall-clock time, ms since the epoch.
    pub at: i64,
    pub by: String,
    pub note: String,
}

/// An incident: alerts about the same entities close in time, and the playbook's analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// `INC-` and 12 hex digits, stable for the same first alert.
    pub id: String,
    pub title: String,
    pub playbook: String,
    pub status: Status,
    pub stage: Stage,
    /// The highest severity among the alerts and the classified vectors.
    pub severity: String,
    /// When modelward opened it (wall clock, ms).
    pub created_at: i64,
    /// Event time of the first and last alert.
    pub first_seen: i64,
    pub last_seen: i64,
    /// (kind, value): `principal`, `source.ip`, `resource`, `model`, `api_key`.
    pub entities: Vec<(String, String)>,
    pub alerts: Vec<AlertView>,
    pub transitions: Vec<Transition>,
    /// Facts a responder set by hand (`incident fact`), which override computed ones.
    pub manual_facts: BTreeMap<String, bool>,
    /// Facts about the runs that built it (`baselines_kept`), kept for later analyses.
    #[serde(default)]
    pub context_facts: BTreeMap<String, bool>,
    pub analysis: Analysis,
    /// The playbook's steps for people and their state.
    pub tasks: Vec<Task>,
    pub closed: Option<Closure>,
    /// The stored revision it was read at (0: never stored); not part of the document.
    #[serde(skip)]
    pub revision: i64,
}

impl Incident {
    /// A new open incident at Detect, with nothing in it yet.
    pub fn new(id: String, playbook: &str, severity: &str, created_at: i64) -> Incident {
        Incident {
            id,
            title: String::new(),
            playbook: playbook.to_string(),
            status: Status::Open,
            stage: Stage::Detect,
            severity: severity.to_string(),
            created_at,
            first_seen: 0,
            last_seen: 0,
            entities: Vec::new(),
            alerts: Vec::new(),
            transitions: Vec::new(),
            manual_facts: BTreeMap::new(),
            context_facts: BTreeMap::new(),
            analysis: Analysis::default(),
            tasks: Vec::new(),
            closed: None,
            revision: 0,
        }
    }
}

/// Why and by whom an incident was closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closure {
    pub at: i64,
    pub by: String,
    pub resolution: String,
}

/// What the playbook computed about an incident.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Every fact the conditions can use, computed and manual, by name.
    pub facts: BTreeMap<String, bool>,
    pub triage: Vec<Answer>,
    pub vectors: Vec<VectorMatch>,
    pub scope: Vec<Answer>,
    pub escalations: Vec<Escalation>,
    pub decisions: Vec<Decision>,
    pub iocs: Vec<Ioc>,
    /// The principals' call volume over time (the report's chart).
    pub volume: VolumeSeries,
}

/// How a triage check or scope question was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerState {
    /// The evidence shows something to act on.
    Finding,
    /// The evidence was there and shows nothing.
    Clear,
    /// The logs read cannot answer it: a task for a person.
    NoData,
}

impl AnswerState {
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerState::Finding => "finding",
            AnswerState::Clear => "clear",
            AnswerState::NoData => "no data",
        }
    }
}

/// A triage check or scope question with its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub id: String,
    pub question: String,
    /// How PB-53 says to check, and with which tool.
    pub how: String,
    pub state: AnswerState,
    pub answer: String,
    /// Supporting lines: alert ids, counts, samples.
    pub details: Vec<String>,
}

/// A theft vector the alerts show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorMatch {
    pub id: String,
    pub name: String,
    pub indicator: String,
    pub severity: String,
    /// The alerts that show it.
    pub alerts: Vec<String>,
}

/// An escalation the criteria call for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    /// Its row in the playbook (1, 2, ...): the task `escalate.<id>`.
    #[serde(default)]
    pub id: String,
    pub condition: String,
    pub escalate_to: String,
}

/// A row of the decision matrix whose condition holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub id: String,
    pub condition: String,
    pub decision: String,
    pub owner: String,
    /// The SLA as the playbook says it ("15 minutes", "Immediate").
    pub sla: String,
    /// The SLA in ms (`None`: per incident policy, no clock).
    pub sla_ms: Option<i64>,
    /// When the decision was made (wall clock, ms): the SLA clock starts here.
    pub decided_at: i64,
    /// When its actions and tasks were all done.
    pub met_at: Option<i64>,
    /// The containment actions it calls for.
    pub actions: Vec<crate::action::PlannedAction>,
}

impl Decision {
    /// When the SLA runs out.
    pub fn due_at(&self) -> Option<i64> {
        self.sla_ms.map(|ms| self.decided_at + ms)
    }

    /// Past its SLA at `now` and not met.
    pub fn overdue(&self, now: i64) -> bool {
        self.met_at.is_none() && self.due_at().is_some_and(|due| now > due)
    }
}

/// An indicator of compromise, as PB-53's IoC table lists them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Ioc {
    /// `ip`, `principal`, `api_key`, `query_volume`, `downloaded_file`, `target_model`,
    /// `employee_id`, `user_agent`.
    pub kind: String,
    /// The value (API keys masked).
    pub value: String,
    /// Where it was seen: the log source ("API gateway logs", "Storage access logs", ...).
    pub source: String,
    pub first_seen: i64,
    pub last_seen: i64,
    /// The alerts it came from.
    pub alerts: Vec<String>,
}

/// A state of a task: a checklist item, a manual containment step, an escalation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Open,
    Done,
    /// Does not apply to this incident (its condition does not hold).
    NotApplicable,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Open => "open",
            TaskState::Done => "done",
            TaskState::NotApplicable => "n/a",
        }
    }

    pub fn parse(s: &str) -> Option<TaskState> {
        match s {
            "open" => Some(TaskState::Open),
            "done" => Some(TaskState::Done),
            "n/a" | "not_applicable" => Some(TaskState::NotApplicable),
            _ => None,
        }
    }
}

/// A step of the playbook a person (or an action) has to complete, with its owner and SLA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// The playbook's id of the item (`contain.1`, `recover.3`, `escalate.insider`).
    pub id: String,
    /// `triage`, `containment`, `escalation`, `recovery`, `post_incident`.
    pub section: String,
    pub title: String,
    pub owner: String,
    pub due_at: Option<i64>,
    pub state: TaskState,
    /// Who or what set its state last: a person (any state, reopening included), `modelward`
    /// when a fact completed it, or `action:<kind>` when an action did; none when the analysis
    /// left it open or found it not applicable.
    pub done_by: Option<String>,
    pub done_at: Option<i64>,
    pub note: String,
}
