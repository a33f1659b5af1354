//! The runner: carries out planned actions through the first executor that handles each,
//! never twice (an action whose idempotency key already succeeded is not repeated), and
//! appends every outcome to the audit log. In a dry run nothing is carried out; the log
//! records what would have been done.

use modelward_store::audit::AuditRecord;
use modelward_store::{Store, StoreError};

use super::{AuditEntry, Executor, Outcome, PlannedAction};

/// Carries out actions.
pub struct Runner {
    executors: Vec<Box<dyn Executor>>,
    dry_run: bool,
    /// Who runs them, for the audit log.
    actor: String,
}

impl Runner {
    pub fn new(executors: Vec<Box<dyn Executor>>, dry_run: bool, actor: &str) -> Runner {
        Runner {
            executors,
            dry_run,
            actor: actor.to_string(),
        }
    }

    /// Runs `actions` in order; returns the entries it appended, and the earlier `done`
    /// entries of actions it did not repeat (outcome `already_done`, their own sequence
    /// numbers). An entry like the latest one for the same action (a second dry run, an
    /// action still without executor) is not appended again.
    pub fn run(
        &mut self,
        actions: &[PlannedAction],
        store: &mut Store,
        now: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut out = Vec::new();
        for action in actions {
            let key = action.idempotency_key();
            if let Some(done) = store.audit_done(&key)? {
                let mut entry = from_record(done);
                entry.outcome = Outcome::AlreadyDone;
                out.push(entry);
                continue;
            }
            let executor = self.executors.iter_mut().find(|e| e.handles(action));
            let (executor_name, outcome, detail) = match executor {
                None if self.dry_run => (
                    String::new(),
                    Outcome::DryRun,
                    "no executor would carry it out: a task for its owner".to_string(),
                ),
                None => (
                    String::new(),
                    Outcome::Manual,
                    "no executor handles it: a task for its owner".to_string(),
                ),
                Some(e) if self.dry_run => (e.name(), Outcome::DryRun, "dry run".to_string()),
                Some(e) => match e.execute(action) {
                    Ok(done) => (e.name(), Outcome::Done, done.detail),
                    Err(err) => (e.name(), Outcome::Failed, err.to_string()),
                },
            };
            if matches!(outcome, Outcome::DryRun | Outcome::Manual) {
                if let Some(latest) = store.audit_latest(&key, None)? {
                    if latest.outcome == outcome.as_str() && latest.executor == executor_name {
                        out.push(from_record(latest));
                        continue;
                    }
                }
            }
            let mut entry = AuditEntry {
                seq: 0,
                at: now,
                incident: action.incident.clone(),
                action: action.action.kind().to_string(),
                target_kind: action.target_kind.as_str().to_string(),
                target: action.target.clone(),
                params: serde_json::to_string(&action.action).unwrap_or_default(),
                decision: action.decision.clone(),
                reason: action.reason.clone(),
                rules: action.rules.clone(),
                executor: executor_name,
                outcome,
                detail,
                idempotency_key: key,
                actor: self.actor.clone(),
            };
            let mut batch = store.batch()?;
            entry.seq = batch.append_audit(&to_record(&entry))?;
            batch.commit()?;
            out.push(entry);
        }
        Ok(out)
    }
}

/// An audit entry as stored.
pub fn to_record(e: &AuditEntry) -> AuditRecord {
    AuditRecord {
        seq: e.seq,
        at: e.at,
        incident_id: e.incident.clone(),
        action: e.action.clone(),
        target_kind: e.target_kind.clone(),
        target: e.target.clone(),
        params: e.params.clone(),
        decision: e.decision.clone(),
        reason: e.reason.clone(),
        rules: serde_json::to_string(&e.rules).unwrap_or_else(|_| "[]".into()),
        executor: e.executor.clone(),
        outcome: e.outcome.as_str().to_string(),
        detail: e.detail.clone(),
        idempotency_key: e.idempotency_key.clone(),
        actor: e.actor.clone(),
    }
}

/// A stored audit row as an entry (an unknown outcome reads as `failed`).
pub fn from_record(r: AuditRecord) -> AuditEntry {
    AuditEntry {
        seq: r.seq,
        at: r.at,
        incident: r.incident_id,
        rules: serde_json::from_str(&r.rules).unwrap_or_default(),
        outcome: Outcome::parse(&r.outcome).unwrap_or(Outcome::Failed),
        action: r.action,
        target_kind: r.target_kind,
        target: r.target,
        params: r.params,
        decision: r.decision,
        reason: r.reason,
        executor: r.executor,
        detail: r.detail,
        idempotency_key: r.idempotency_key,
        actor: r.actor,
    }
}

/// The audit log of one incident.
pub fn audit_of(store: &Store, incident: &str) -> Result<Vec<AuditEntry>, StoreError> {
    Ok(store
        .audit_log(Some(incident))?
        .into_iter()
        .map(from_record)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::enforcement::EnforcementExecutor;
    use crate::action::{Action, TargetKind};

    fn planned(action: Action, target_kind: TargetKind, target: &str) -> PlannedAction {
        PlannedAction {
            incident: "INC-1".into(),
            action,
            target_kind,
            target: target.into(),
            decision: "contain".into(),
            reason: "Contain immediately".into(),
            rules: vec!["r".into()],
        }
    }

    fn runner(dry_run: bool) -> Runner {
        let enforcement = EnforcementExecutor::with_store(Store::open_in_memory().unwrap(), 1_000);
        Runner::new(vec![Box::new(enforcement)], dry_run, "test")
    }

    #[test]
    fn dry_runs_then_once_done_never_again_and_manual_when_no_executor_handles_it() {
        let mut store = Store::open_in_memory().unwrap();
        let actions = [
            planned(
                Action::Block { duration_ms: None },
                TargetKind::Principal,
                "mallory",
            ),
            planned(Action::LockStorage, TargetKind::Resource, "acme-ml-models"),
        ];
        let outcomes =
            |entries: &[AuditEntry]| entries.iter().map(|e| e.outcome).collect::<Vec<_>>();
        let first = runner(true).run(&actions, &mut store, 10).unwrap();
        assert_eq!(outcomes(&first), [Outcome::DryRun, Outcome::DryRun]);
        assert_eq!(
            first[1].executor, "",
            "no executor would carry out lock_storage"
        );
        // A second dry run appends nothing new.
        runner(true).run(&actions, &mut store, 20).unwrap();
        assert_eq!(store.audit_log(None).unwrap().len(), 2);
        let done = runner(false).run(&actions, &mut store, 30).unwrap();
        assert_eq!(outcomes(&done), [Outcome::Done, Outcome::Manual]);
        // Recorded, and said to be enforced by nothing: no gateway runs.
        assert!(
            done[0].detail.contains("recorded in the enforcement table")
                && done[0].detail.contains("nothing enforces it yet"),
            "{}",
            done[0].detail
        );
        let again = runner(false).run(&actions, &mut store, 40).unwrap();
        assert_eq!(outcomes(&again), [Outcome::AlreadyDone, Outcome::Manual]);
        assert_eq!(again[0].seq, done[0].seq, "points at the entry that did it");
        let log = store.audit_log(Some("INC-1")).unwrap();
        assert_eq!(
            log.iter().map(|r| r.outcome.as_str()).collect::<Vec<_>>(),
            ["dry_run", "dry_run", "done", "manual"]
        );
        assert_eq!(from_record(log[2].clone()), done[0]);
    }
}
