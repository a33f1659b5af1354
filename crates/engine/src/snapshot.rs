//! A session's state as data: what a live driver checkpoints beside its input offsets, so
//! that a restart (or another instance taking over a partition) goes on where it stopped,
//! with the same alerts as if it had not stopped.
//!
//! A [`Snapshot`] holds every ES|QL rule's rows, next tick, deduplication and suppression
//! state and held alerts; the Sigma matches correlations have not seen and each
//! correlation's windows; the LLM calls not yet analysed and the analyzers' profiles and
//! cross-principal state; the alerts ready and not taken; the counters. It is plain serde
//! data (JSON, say) of a version ([`SNAPSHOT_VERSION`]). State is matched to rules by id
//! on restore (an ES|QL rule also by its query): state of a rule no longer loaded, or
//! changed, is left out and counted in [`RunStats::state_not_restored`].

use std::collections::HashMap;
use std::sync::Arc;

use modelward_behavior::{Call, SavedState};
use modelward_esql::table::Row;
use modelward_event::Event;
use modelward_rule::{Alert, AlertWindow, RuleMeta, Severity, Suppression};
use modelward_sigma::correlation::Correlator;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::alerting::Order;
use crate::{Engine, RunStats};

/// The version of the snapshot format this build writes and reads.
pub const SNAPSHOT_VERSION: u32 = 1;

/// A session's state (see the module documentation).
#[derive(Serialize, Deserialize)]
pub struct Snapshot {
    pub(crate) version: u32,
    pub(crate) watermark: Option<i64>,
    pub(crate) clock: Option<i64>,
    pub(crate) seq: u64,
    pub(crate) esql: Vec<EsqlState>,
    pub(crate) sigma: SigmaState,
    pub(crate) calls: Vec<Call>,
    pub(crate) behavior: SavedState,
    pub(crate) ready: Vec<(Order, AlertState)>,
    pub(crate) stats: RunStats,
}

impl Snapshot {
    /// The event time up to which the snapshotted session had every record.
    pub fn watermark(&self) -> Option<i64> {
        self.watermark
    }
}

/// A snapshot that cannot be restored.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SnapshotError {
    #[error("snapshot format version {found}; this build reads version {expected}")]
    Version { found: u32, expected: u32 },
}

/// One ES|QL rule's scheduling state.
#[derive(Serialize, Deserialize)]
pub(crate) struct EsqlState {
    pub rule: String,
    pub query: String,
    pub rows: Vec<(i64, Row)>,
    pub pending: Vec<(i64, Row)>,
    pub next_tick: Option<i64>,
    pub alerted_docs: HashMap<String, i64>,
    pub alerted_ids: HashMap<String, i64>,
    pub last_group_alert: HashMap<String, i64>,
    pub open: Vec<(String, Order, i64)>,
    pub held: Vec<(Order, AlertState)>,
    pub made: u64,
}

/// Matches with their event time.
pub(crate) type TimedEvents = Vec<(i64, Arc<Event>)>;

/// The Sigma rules' state: per rule (by id) the matches correlations have not seen, per
/// correlation (by id) its windows.
#[derive(Serialize, Deserialize, Default)]
pub(crate) struct SigmaState {
    pub pending: Vec<(String, TimedEvents)>,
    pub correlators: Vec<(String, Correlator)>,
}

/// A suppression as data: (terms, start, end, docs_count).
type SuppressionState = (Vec<(String, Json)>, i64, i64, u64);

/// An alert as data, its rule by id.
#[derive(Serialize, Deserialize)]
pub(crate) struct AlertState {
    rule: String,
    timestamp: i64,
    id: String,
    window: Option<(i64, i64)>,
    original_time: Option<i64>,
    entity: Map<String, Json>,
    fields: Map<String, Json>,
    evidence: Map<String, Json>,
    suppression: Option<SuppressionState>,
    severity: Option<Severity>,
    #[serde(default)]
    risk_score: Option<u8>,
}

impl AlertState {
    pub fn of(a: &Alert) -> AlertState {
        AlertState {
            rule: a.rule.id.clone(),
            timestamp: a.timestamp,
            id: a.id.clone(),
            window: a.window.map(|w| (w.start, w.end)),
            original_time: a.original_time,
            entity: a.entity.clone(),
            fields: a.fields.clone(),
            evidence: a.evidence.clone(),
            suppression: a
                .suppression
                .as_ref()
                .map(|s| (s.terms.clone(), s.start, s.end, s.docs_count)),
            severity: a.severity,
            risk_score: a.risk_score,
        }
    }

    /// The alert, if its rule is still loaded.
    pub fn into_alert(self, engine: &Engine) -> Option<Alert> {
        let mut meta = engine.meta_by_id(&self.rule)?;
        // A detector's alert named for who judged (see `findings.rs`) keeps its name.
        if let Some(name) = modelward_detectors::alert_name(&self.rule, &self.evidence) {
            let mut renamed = (*meta).clone();
            renamed.name = name;
            meta = Arc::new(renamed);
        }
        let mut alert = Alert::new(meta, self.timestamp, self.id);
        alert.window = self.window.map(|(start, end)| AlertWindow { start, end });
        alert.original_time = self.original_time;
        alert.entity = self.entity;
        alert.fields = self.fields;
        alert.evidence = self.evidence;
        alert.suppression = self
            .suppression
            .map(|(terms, start, end, docs_count)| Suppression {
                terms,
                start,
                end,
                docs_count,
            });
        alert.severity = self.severity;
        alert.risk_score = self.risk_score;
        Some(alert)
    }
}

impl Engine {
    /// The metadata of the rule, detector or analyzer with this id.
    pub fn meta_by_id(&self, id: &str) -> Option<Arc<RuleMeta>> {
        let rules = self
            .rules
            .iter()
            .map(|r| &r.meta)
            .chain(self.sigma.rules.iter().map(|r| &r.meta))
            .chain(self.sigma.correlations.iter().map(|c| &c.meta));
        rules
            .chain(self.detectors.metas())
            .chain(self.behavior.metas())
            .find(|m| m.id == id)
            .cloned()
    }
}
