//! The enforcement executor: puts blocks, rate limits, key revocations, reduced output
//! detail, output perturbation and proof-of-work in force in the `enforcement` table, which
//! an inline gateway reads on every request. Writing a measure that is already in force
//! changes nothing.

use std::path::Path;

use modelward_store::enforcement::Measure;
use modelward_store::Store;

use super::{Action, ExecError, Executed, Executor, PlannedAction, TargetKind};

/// The executor's name in the audit log.
pub const EXECUTOR: &str = "enforcement";

/// How recently a gateway must have been seen for a measure to be called enforced (ms).
pub const GATEWAY_SEEN_MS: i64 = 60_000;

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
        EXECUTOR.into()
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
        let gateways: Vec<String> = self
            .store
            .gateways_seen(self.now - GATEWAY_SEEN_MS)?
            .into_iter()
            .map(|g| g.name)
            .collect();
        let enforcer = if gateways.is_empty() {
            "no gateway has been seen running in the last minute: nothing enforces it yet"
                .to_string()
        } else {
            format!("enforced by {} from its next refresh", gateways.join(", "))
        };
        Ok(Executed {
            detail: if changed {
                format!("{action} recorded in the enforcement table{until}; {enforcer}")
            } else {
                format!("{action} was already recorded in the enforcement table; {enforcer}")
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Action, PlannedAction, TargetKind};

    #[test]
    fn a_measure_is_said_to_be_enforced_only_by_a_gateway_seen_running() {
        let mut store = Store::open_in_memory().unwrap();
        let mut b = store.batch().unwrap();
        b.gateway_seen("gw-east", 0, 95_000).unwrap();
        b.commit().unwrap();
        let action = PlannedAction {
            incident: "INC-1".into(),
            action: Action::Block { duration_ms: None },
            target_kind: TargetKind::Principal,
            target: "mallory".into(),
            decision: "contain".into(),
            reason: "r".into(),
            rules: vec![],
        };
        let seen = EnforcementExecutor::with_store(store, 100_000)
            .execute(&action)
            .unwrap();
        assert!(
            seen.detail
                .ends_with("enforced by gw-east from its next refresh"),
            "{}",
            seen.detail
        );
        let mut store = Store::open_in_memory().unwrap();
        let mut b = store.batch().unwrap();
        b.gateway_seen("gw-east", 0, 10_000).unwrap();
        b.commit().unwrap();
        let stale = EnforcementExecutor::with_store(store, 100_000)
            .execute(&action)
            .unwrap();
        assert!(
            stale.detail.contains("nothing enforces it yet"),
            "{}",
            stale.detail
        );
    }
}
