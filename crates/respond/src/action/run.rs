//! The runner: carries out planned actions through the first executor that handles each,
//! never twice (an action whose idempotency key already succeeded is not repeated), and
//! appends every outcome to the audit log. In a dry run nothing is carried out; the log
//! records what would have been done.
//!
//! A run of actions has a [`Budget`]: a total deadline (a receiver that hangs or refuses
//! cannot stretch a run to tens of minutes: webhooks do not start a retry wait that ends past
//! it) and a circuit breaker per executor (after so many failures in a row in one run, its
//! other actions are not attempted). What was not attempted is recorded as failed, saying
//! why, and, like every failed action, tried again on the next run.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use modelward_store::audit::AuditRecord;
use modelward_store::{Store, StoreError};

use super::{AuditEntry, Executor, Outcome, PlannedAction};

/// What one run of actions may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// From the runner's start to the last action it attempts.
    pub total: Duration,
    /// Failures in a row of one executor after which its other actions of the run are not
    /// attempted (the circuit opens).
    pub failures_in_a_row: u32,
}

/// The default [`Budget::total`].
pub const DEFAULT_TOTAL: Duration = Duration::from_secs(120);
/// The default [`Budget::failures_in_a_row`].
pub const DEFAULT_FAILURES_IN_A_ROW: u32 = 3;

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            total: DEFAULT_TOTAL,
            failures_in_a_row: DEFAULT_FAILURES_IN_A_ROW,
        }
    }
}

/// Carries out actions.
pub struct Runner {
    executors: Vec<Box<dyn Executor>>,
    dry_run: bool,
    /// Who runs them, for the audit log.
    actor: String,
    budget: Budget,
    deadline: Instant,
    /// Per executor, its failures in a row in this run.
    failures: HashMap<String, u32>,
}

impl Runner {
    /// A runner with the default [`Budget`], which starts now.
    pub fn new(executors: Vec<Box<dyn Executor>>, dry_run: bool, actor: &str) -> Runner {
        let budget = Budget::default();
        Runner {
            executors,
            dry_run,
            actor: actor.to_string(),
            budget,
            deadline: Instant::now() + budget.total,
            failures: HashMap::new(),
        }
    }

    /// The same runner with another budget, starting now.
    pub fn with_budget(mut self, budget: Budget) -> Runner {
        self.budget = budget;
        self.deadline = Instant::now() + budget.total;
        self
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
                Some(e) => {
                    let name = e.name();
                    let failed = self.failures.get(&name).copied().unwrap_or(0);
                    let open = may_attempt(self.deadline, self.budget, &name, failed);
                    match open {
                        Err(why) => (name, Outcome::Failed, why),
                        Ok(()) => {
                            e.set_deadline(self.deadline);
                            match e.execute(action) {
                                Ok(done) => {
                                    self.failures.remove(&name);
                                    (name, Outcome::Done, done.detail)
                                }
                                Err(err) => {
                                    *self.failures.entry(name.clone()).or_default() += 1;
                                    (name, Outcome::Failed, err.to_string())
                                }
                            }
                        }
                    }
                }
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

/// Whether `executor`, which failed `failed` times in a row, may be given an action:
/// `Err(why not)` when the budget is spent or its circuit is open. (The webhook alert sink of
/// `modelward-sinks` asks the same before each alert.)
pub fn may_attempt(
    deadline: Instant,
    budget: Budget,
    executor: &str,
    failed: u32,
) -> Result<(), String> {
    if Instant::now() >= deadline {
        return Err(format!(
            "not attempted: this run's budget for actions ({:?}) was spent; tried again on the next run",
            budget.total
        ));
    }
    if failed >= budget.failures_in_a_row {
        return Err(format!(
            "not attempted: {executor} failed {failed} times in a row in this run (circuit open); tried again on the next run"
        ));
    }
    Ok(())
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

    /// An executor for every action that takes `takes` and fails (or succeeds), counting
    /// its calls.
    struct Slow {
        takes: Duration,
        fails: bool,
        calls: std::rc::Rc<std::cell::Cell<u32>>,
    }

    impl Executor for Slow {
        fn name(&self) -> String {
            "webhook:slow".into()
        }
        fn handles(&self, _: &PlannedAction) -> bool {
            true
        }
        fn execute(
            &mut self,
            _: &PlannedAction,
        ) -> Result<super::super::Executed, super::super::ExecError> {
            self.calls.set(self.calls.get() + 1);
            std::thread::sleep(self.takes);
            if self.fails {
                Err(super::super::ExecError::Failed("HTTP 503".into()))
            } else {
                Ok(super::super::Executed {
                    detail: "HTTP 200".into(),
                })
            }
        }
    }

    #[test]
    fn a_run_of_actions_keeps_to_its_budget_and_tries_the_rest_next_run() {
        let actions: Vec<PlannedAction> = (0..8)
            .map(|i| {
                planned(
                    Action::LockStorage,
                    TargetKind::Resource,
                    &format!("bucket-{i}"),
                )
            })
            .collect();
        let outcomes = |entries: &[AuditEntry]| {
            entries
                .iter()
                .map(|e| {
                    (
                        e.outcome,
                        e.detail.split(':').next().unwrap_or("").to_string(),
                    )
                })
                .collect::<Vec<_>>()
        };
        // A receiver that refuses: the circuit opens after 3 failures in a row.
        let mut store = Store::open_in_memory().unwrap();
        let calls = std::rc::Rc::new(std::cell::Cell::new(0));
        let refusing = Slow {
            takes: Duration::ZERO,
            fails: true,
            calls: calls.clone(),
        };
        let entries = Runner::new(vec![Box::new(refusing)], false, "test")
            .run(&actions, &mut store, 10)
            .unwrap();
        assert_eq!(calls.get(), 3);
        assert!(entries.iter().all(|e| e.outcome == Outcome::Failed));
        assert!(
            entries[3]
                .detail
                .contains("failed 3 times in a row in this run (circuit open)"),
            "{}",
            entries[3].detail
        );
        // A receiver that is slow: the budget ends the run; what was not attempted is
        // attempted by the next run, and what was done is not done again.
        let calls = std::rc::Rc::new(std::cell::Cell::new(0));
        let slow = || Slow {
            takes: Duration::from_millis(150),
            fails: false,
            calls: calls.clone(),
        };
        let budget = Budget {
            total: Duration::from_millis(400),
            failures_in_a_row: 3,
        };
        let started = Instant::now();
        let entries = Runner::new(vec![Box::new(slow())], false, "test")
            .with_budget(budget)
            .run(&actions, &mut store, 20)
            .unwrap();
        assert!(started.elapsed() < Duration::from_millis(1000));
        let done = entries
            .iter()
            .filter(|e| e.outcome == Outcome::Done)
            .count();
        assert!((2..=4).contains(&done), "{:?}", outcomes(&entries));
        assert!(entries[done].detail.contains(
            "this run's budget for actions (400ms) was spent; tried again on the next run"
        ));
        let entries = Runner::new(vec![Box::new(slow())], false, "test")
            .run(&actions, &mut store, 30)
            .unwrap();
        assert_eq!(
            entries
                .iter()
                .filter(|e| e.outcome == Outcome::AlreadyDone)
                .count(),
            done
        );
        assert_eq!(
            entries
                .iter()
                .filter(|e| e.outcome == Outcome::Done)
                .count(),
            8 - done
        );
        assert_eq!(calls.get(), 8);
    }
}
