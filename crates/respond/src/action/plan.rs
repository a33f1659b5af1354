//! From a decision's action steps to concrete actions on the incident's entities.

use std::collections::BTreeSet;

use crate::incident::Incident;
use crate::playbook::DecisionRule;

use super::{Action, PlannedAction, TargetKind};

/// The actions `rule` calls for on `incident`: each step on every entity of its target kind
/// (except `excluded` values: approved principals). A key revocation with no API key id in
/// the alerts revokes the principal's credentials instead.
pub fn plan(
    rule: &DecisionRule,
    incident: &Incident,
    rules: &[String],
    excluded: &dyn Fn(&str) -> bool,
) -> Vec<PlannedAction> {
    let values = |kind: TargetKind| -> BTreeSet<String> {
        if kind == TargetKind::Incident {
            return BTreeSet::from([incident.id.clone()]);
        }
        incident
            .entities
            .iter()
            .filter(|(k, _)| k == kind.entity_kind())
            .map(|(_, v)| v.clone())
            .filter(|v| !excluded(v))
            .collect()
    };
    let mut out = Vec::new();
    for step in &rule.actions {
        let mut kind = step.target;
        let mut targets = values(kind);
        if targets.is_empty() && matches!(step.action, Action::RevokeKey) {
            kind = TargetKind::Principal;
            targets = values(kind);
        }
        for target in targets {
            out.push(PlannedAction {
                incident: incident.id.clone(),
                action: step.action.clone(),
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
