//! From a decision's action steps to concrete actions on the incident's entities.

use std::collections::BTreeSet;

use crate::incident::Incident;
use crate::playbook::DecisionRule;

use super::{Action, PlannedAction, TargetKind};

/// What actions may act on.
pub struct Targets<'a> {
    /// The entities of the alerts that show a theft vector (all the incident's when none
    /// does): alerts riding along give no targets.
    pub entities: Vec<(String, String)>,
    /// Values never acted on (approved principals).
    pub excluded: &'a dyn Fn(&str) -> bool,
    /// Principals of the organisation: the only ones an account freeze applies to.
    pub internal: &'a dyn Fn(&str) -> bool,
}

/// The actions `rule` calls for on `incident`: each step on every target of its kind. A key
/// revocation with no API key id in the alerts revokes the principal's credentials instead;
/// evidence preservation covers the incident's alerts as they are now.
pub fn plan(
    rule: &DecisionRule,
    incident: &Incident,
    rules: &[String],
    targets: &Targets<'_>,
) -> Vec<PlannedAction> {
    let values = |kind: TargetKind| -> BTreeSet<String> {
        if kind == TargetKind::Incident {
            return BTreeSet::from([incident.id.clone()]);
        }
        targets
            .entities
            .iter()
            .filter(|(k, _)| k == kind.entity_kind())
            .map(|(_, v)| v.clone())
            .filter(|v| !(targets.excluded)(v))
            .collect()
    };
    let mut out = Vec::new();
    for step in &rule.actions {
        let mut kind = step.target;
        let mut found = values(kind);
        if found.is_empty() && matches!(step.action, Action::RevokeKey) {
            kind = TargetKind::Principal;
            found = values(kind);
        }
        if matches!(step.action, Action::FreezeAccount) {
            found.retain(|p| (targets.internal)(p));
        }
        let action = match step.action {
            Action::PreserveEvidence { .. } => Action::PreserveEvidence {
                alerts: incident.alerts.len(),
            },
            ref other => other.clone(),
        };
        for target in found {
            out.push(PlannedAction {
                incident: incident.id.clone(),
                action: action.clone(),
                target_kind: kind,
                target,
                decision: rule.id.clone(),
                reason: format!("{} ({})", rule.decision, rule.condition),
                rules: rules.to_vec(),
            });
        }
    }
    out
}
