//! The enforcement executor: puts blocks, rate limits, key revocations, reduced output
//! detail, output perturbation and proof-of-work in force in the `enforcement` table, which
//! an inline gateway reads on every request. Writing a measure that is already in force
//! changes nothing.

use std::path::Path;

use modelward_store::enforcement::Measure;
use modelward_store::Store;

use super::{Action, ExecError, Executed, Executor, PlannedAction, TargetKind};

/// Writes measures into a store (its own connection to the database file).
pub struct EnforcementExecutor {
    store: Store,
    now: i64,
}

impl EnforcementExecutor {
    /// Opens the database at `path` (created if needed); `now` (ms) dates the measures.
    pub fn open(path: &Path, now: i64) -> Result<EnforcementExecutor, ExecError> {
        Ok(EnforcementExecutor {
            store: Store::open(path)?,
            now,
        })
    }

    /// Writes into an open store (tests).
    pub fn with_store(store: Store, now: i64) -> EnforcementExecutor {
        EnforcementExecutor { store, now }
    }
}

/// The measure an action puts in force and how long, if the gateway enforces it.
fn measure_of(action: &Action) -> Option<Option<i64>> {
    match action {
        Action::Block { duration_ms } | Action::RateLimit { duration_ms, .. } => Some(*duration_ms),
        Action::RevokeKey
        | Action::ReduceOutputDetail { .. }
        | Action::PerturbOutput { .. }
        | Action::ProofOfWork { .. } => Some(None),
        _ => None,
    }
}

impl Executor for EnforcementExecutor {
    fn name(&self) -> String {
        "enforcement".into()
    }

    fn handles(&self, action: &PlannedAction) -> bool {
        measure_of(&action.action).is_some()
            && matches!(
                action.target_kind,
                TargetKind::Principal
                    | TargetKind::SourceIp
                    | TargetKind::ApiKey
                    | TargetKind::Model
            )
    }

    fn execute(&mut self, action: &PlannedAction) -> Result<Executed, ExecError> {
        let Some(duration) = measure_of(&action.action) else {
            return Err(ExecError::Failed(format!(
                "`{}` is not an enforcement measure",
                action.action.kind()
            )));
        };
        let measure = Measure {
            measure: action.action.kind().to_string(),
            target_kind: action.target_kind.as_str().to_string(),
            target: action.target.clone(),
            params: serde_json::to_string(&action.action).unwrap_or_default(),
            incident_id: action.incident.clone(),
            reason: action.reason.clone(),
            created_at: self.now,
            expires_at: duration.map(|d| self.now + d),
        };
        let mut batch = self.store.batch()?;
        let changed = batch.put_measure(&measure)?;
        batch.commit()?;
        let until = match measure.expires_at {
            Some(t) => format!(" until {}", modelward_event::format_timestamp(t)),
            None => String::new(),
        };
        Ok(Executed {
            detail: if changed {
                format!("{} in force{until}", action)
            } else {
                format!("{} was already in force", action)
            },
        })
    }
}
