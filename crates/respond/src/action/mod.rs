//! Containment actions: typed, planned from the decision matrix against the incident's
//! entities, carried out by executors, every one recorded in the append-only audit log.
//!
//! - [`spec`]: how a playbook names an action (TOML) and its parameters, checked.
//! - [`plan`]: the concrete actions a decision calls for on this incident's entities.
//! - [`run`]: the runner: idempotency, dry runs, the audit log.
//! - executors: [`enforcement`] (state the gateway reads, in SQLite), [`webhook`] (signed
//!   JSON over HTTP), [`command`] (a local program; off unless configured).

pub mod command;
pub mod document;
pub mod enforcement;
pub mod plan;
pub mod run;
pub mod spec;
pub mod webhook;

use std::fmt;

use serde::{Deserialize, Serialize};

/// What kind of thing an action acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// The calling identity: user, API key id, role.
    Principal,
    /// The client address.
    SourceIp,
    /// The API key (a key id; never the key itself).
    ApiKey,
    /// The storage container or cloud resource.
    Resource,
    /// The served model.
    Model,
    /// The incident itself (evidence, notifications).
    Incident,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Principal => "principal",
            TargetKind::SourceIp => "source_ip",
            TargetKind::ApiKey => "api_key",
            TargetKind::Resource => "resource",
            TargetKind::Model => "model",
            TargetKind::Incident => "incident",
        }
    }

    /// The incident entity kind a target is taken from.
    pub fn entity_kind(self) -> &'static str {
        match self {
            TargetKind::Principal => "principal",
            TargetKind::SourceIp => "source.ip",
            TargetKind::ApiKey => "api_key",
            TargetKind::Resource => "resource",
            TargetKind::Model => "model",
            TargetKind::Incident => "incident",
        }
    }
}

/// The containment actions of PB-53 sections 2.1 and 2.2, with their parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Refuse every request of the target (2.1 #1).
    Block { duration_ms: Option<i64> },
    /// At most so many requests a minute (2.1 #1).
    RateLimit {
        requests_per_minute: u32,
        duration_ms: Option<i64>,
    },
    /// Revoke the API key or token (2.1 #2).
    RevokeKey,
    /// Lock access to model weight storage (2.1 #3).
    LockStorage,
    /// Disable artifact export, snapshot and clone paths (2.1 #6).
    DisableExport,
    /// Freeze the account under investigation (2.1 #5).
    FreezeAccount,
    /// Hide confidence scores and logprobs (2.2 #3).
    ReduceOutputDetail {
        strip_logprobs: bool,
        max_top_logprobs: Option<u32>,
    },
    /// Add randomized perturbation to outputs (2.2 #1).
    PerturbOutput { noise: f64 },
    /// Require proof-of-work for high-volume requests (2.2 #2).
    ProofOfWork { difficulty_bits: u32 },
    /// Preserve the raw log records behind the incident's alerts (2.3 #1); `alerts` is how
    /// many alerts it covers, so an incident that grows is preserved again.
    PreserveEvidence {
        #[serde(default)]
        alerts: usize,
    },
    /// Notify people (escalation, 2.3 #2).
    Notify { recipients: String },
}

impl Action {
    /// The action's name as playbooks, configs and the audit log write it.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Block { .. } => "block",
            Action::RateLimit { .. } => "rate_limit",
            Action::RevokeKey => "revoke_key",
            Action::LockStorage => "lock_storage",
            Action::DisableExport => "disable_export",
            Action::FreezeAccount => "freeze_account",
            Action::ReduceOutputDetail { .. } => "reduce_output_detail",
            Action::PerturbOutput { .. } => "perturb_output",
            Action::ProofOfWork { .. } => "proof_of_work",
            Action::PreserveEvidence { .. } => "preserve_evidence",
            Action::Notify { .. } => "notify",
        }
    }

    /// Every action name, for error messages and documentation.
    pub const KINDS: [&'static str; 11] = [
        "block",
        "rate_limit",
        "revoke_key",
        "lock_storage",
        "disable_export",
        "freeze_account",
        "reduce_output_detail",
        "perturb_output",
        "proof_of_work",
        "preserve_evidence",
        "notify",
    ];
}

/// One action on one target, planned for an incident by a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedAction {
    pub incident: String,
    pub action: Action,
    pub target_kind: TargetKind,
    /// The entity value (an API key id, an address, a principal, a bucket).
    pub target: String,
    /// The decision that calls for it (its id) and its text.
    pub decision: String,
    pub reason: String,
    /// The rules whose alerts led to it.
    pub rules: Vec<String>,
}

impl PlannedAction {
    /// Same action, same target, same parameters, same incident: the same key. The runner
    /// does not repeat an action whose key already succeeded.
    pub fn idempotency_key(&self) -> String {
        let params = serde_json::to_string(&self.action).unwrap_or_default();
        idempotency_key(
            &self.incident,
            self.target_kind.as_str(),
            &self.target,
            &params,
        )
    }
}

/// The idempotency key of an action: its incident, target and parameters (JSON), hashed.
pub fn idempotency_key(incident: &str, target_kind: &str, target: &str, params: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [incident, target_kind, target, params] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    modelward_event::hash::hex(&h.finalize()[..16])
}

impl fmt::Display for PlannedAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.action.kind(),
            self.target_kind.as_str(),
            crate::ioc::safe_value(self.target_kind.as_str(), &self.target)
        )?;
        match &self.action {
            Action::RateLimit {
                requests_per_minute,
                ..
            } => write!(f, " ({requests_per_minute}/min)"),
            Action::ProofOfWork { difficulty_bits } => write!(f, " ({difficulty_bits} bits)"),
            Action::ReduceOutputDetail {
                max_top_logprobs: Some(n),
                ..
            } => write!(f, " (top_logprobs ≤ {n})"),
            Action::Notify { recipients } => write!(f, " ({recipients})"),
            _ => Ok(()),
        }
    }
}

/// What became of one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Carried out.
    Done,
    /// A dry run: shown, not carried out.
    DryRun,
    /// Already carried out for this incident (same idempotency key): not repeated.
    AlreadyDone,
    /// No executor handles it: a task for its owner.
    Manual,
    /// The executor failed (after its retries).
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::DryRun => "dry_run",
            Outcome::AlreadyDone => "already_done",
            Outcome::Manual => "manual",
            Outcome::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        [
            Outcome::Done,
            Outcome::DryRun,
            Outcome::AlreadyDone,
            Outcome::Manual,
            Outcome::Failed,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log (1, 2, ...).
    pub seq: i64,
    /// Wall clock, ms.
    pub at: i64,
    pub incident: String,
    /// `block`, `rate_limit`, ...
    pub action: String,
    pub target_kind: String,
    pub target: String,
    /// The action's parameters (JSON).
    pub params: String,
    pub decision: String,
    pub reason: String,
    pub rules: Vec<String>,
    /// `enforcement`, `webhook:<name>`, `command:<name>`, `evidence`, or none.
    pub executor: String,
    pub outcome: Outcome,
    /// What the executor said (HTTP status, rows written, error).
    pub detail: String,
    pub idempotency_key: String,
    /// Who ran it (`modelward hunt`, a responder's name).
    pub actor: String,
}

/// What an executor reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Executed {
    pub detail: String,
}

/// Why an executor failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("{0}")]
    Failed(String),
    #[error("store: {0}")]
    Store(#[from] modelward_store::StoreError),
}

/// Carries out actions of the kinds it handles.
pub trait Executor {
    /// `enforcement`, `webhook:<name>`, `command:<name>`.
    fn name(&self) -> String;
    /// Whether it carries out `action` on `target_kind`.
    fn handles(&self, action: &PlannedAction) -> bool;
    /// Carries it out. Called at most once per idempotency key that succeeded.
    fn execute(&mut self, action: &PlannedAction) -> Result<Executed, ExecError>;
    /// When the run's budget for actions ends: an executor that retries or waits does not
    /// start a wait that ends past it (see [`run::Budget`]).
    fn set_deadline(&mut self, _deadline: std::time::Instant) {}
}
