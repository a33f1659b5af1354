//! A responder's own acts on an incident (a fact set, a task's state, a measure lifted, an
//! evidence export), each an entry of the append-only audit log with who, when, what and the
//! value before.

use modelward_store::audit::AuditRecord;

/// One act of a person.
pub struct Act<'a> {
    pub incident: &'a str,
    /// `set_fact`, `set_task`, `lift_<measure>`, `export_evidence`.
    pub action: String,
    pub target_kind: &'a str,
    pub target: &'a str,
    /// JSON.
    pub params: String,
    pub reason: &'a str,
    pub detail: String,
    /// What carried it out: `responder` for a record only, `enforcement` for a lift,
    /// `evidence` for an export.
    pub executor: &'a str,
    pub by: &'a str,
    pub at: i64,
}

impl Act<'_> {
    /// The audit entry; its idempotency key is unique per act (acts are never deduplicated).
    pub fn record(&self) -> AuditRecord {
        AuditRecord {
            seq: 0,
            at: self.at,
            incident_id: self.incident.to_string(),
            action: self.action.clone(),
            target_kind: self.target_kind.to_string(),
            target: self.target.to_string(),
            params: self.params.clone(),
            decision: String::new(),
            reason: self.reason.to_string(),
            rules: "[]".into(),
            executor: self.executor.to_string(),
            outcome: "done".into(),
            detail: self.detail.clone(),
            idempotency_key: modelward_respond::action::idempotency_key(
                self.incident,
                self.target_kind,
                self.target,
                &format!("{} by {} at {}", self.action, self.by, self.at),
            ),
            actor: self.by.to_string(),
        }
    }
}
