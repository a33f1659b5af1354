//! Runs a playbook over an incident: classifies the vectors, computes the facts, answers the
//! triage checks and scope questions, applies the escalation criteria and the decision
//! matrix, plans the actions and lays out the tasks.

pub mod answers;
pub mod facts;
pub mod settings;
pub mod tasks;

use std::collections::{BTreeMap, BTreeSet};

use modelward_event::glob::glob_match;

use crate::action::{plan::plan, AuditEntry};
use crate::alert_view::AlertView;
use crate::incident::{Answer, Decision, Escalation, Incident, VectorMatch};
use crate::objects::{object_kind, ObjectKind};
use crate::playbook::{Check, Condition, Playbook, Predicate};
use crate::volume::VolumeSeries;

pub use answers::KnownArtifact;
pub use settings::RespondSettings;

/// What the analysis reads besides the incident.
pub struct Inputs<'a> {
    pub settings: &'a RespondSettings,
    pub volume: &'a VolumeSeries,
    pub inventory: Option<&'a [KnownArtifact]>,
    /// Whether object-storage access logs were among the inputs.
    pub storage_logs: bool,
    /// Facts about the deployment: `baselines_kept`, `inventory_verified`, `report_written`.
    pub context_facts: BTreeMap<String, bool>,
    /// The incident's audit log so far (actions carried out complete tasks and decisions).
    pub audit: &'a [AuditEntry],
    /// What gateways have in force of the incident's measures: a measure written to the
    /// enforcement table is carried out once a gateway has it in force, not before.
    pub enforced: &'a [modelward_store::gateway::Applied],
    /// The latest scan for copies of registered models (`inventory find --copies`), which
    /// answers checklist items with `done_by_scan = "model_copies"`.
    pub copy_scan: Option<&'a modelward_store::copy_scans::CopyScan>,
}

/// Whether `condition` holds for `alert`.
pub fn holds_for(
    condition: &Condition,
    alert: &AlertView,
    settings: &RespondSettings,
    facts: &BTreeMap<String, bool>,
) -> bool {
    condition.holds(&mut |p| facts::alert_predicate(p, alert, settings, facts))
}

/// Whether an incident-level condition holds over `facts`; a per-alert predicate holds when
/// it holds for some alert.
pub fn holds(
    condition: &Condition,
    alerts: &[AlertView],
    settings: &RespondSettings,
    facts: &BTreeMap<String, bool>,
) -> bool {
    condition.holds(&mut |p| match p {
        Predicate::Fact(f) => facts.get(f).copied().unwrap_or(false),
        other => alerts
            .iter()
            .any(|a| facts::alert_predicate(other, a, settings, facts)),
    })
}

/// Re-analyses `incident` in place at wall-clock `now`. Decisions keep their SLA clocks and
/// tasks their states across re-analyses.
pub fn analyze(playbook: &Playbook, incident: &mut Incident, inputs: &Inputs<'_>, now: i64) {
    let settings = inputs.settings;
    let alerts = &incident.alerts;
    let mut facts: BTreeMap<String, bool> = inputs.context_facts.clone();
    for m in facts::MANUAL {
        facts.entry(m.to_string()).or_insert(false);
    }
    facts.extend(incident.manual_facts.clone());

    let vectors: Vec<VectorMatch> = playbook
        .vectors
        .iter()
        .filter_map(|v| {
            let ids: Vec<String> = alerts
                .iter()
                .filter(|a| holds_for(&v.when, a, settings, &facts))
                .map(|a| a.id.clone())
                .collect();
            (!ids.is_empty()).then(|| VectorMatch {
                id: v.id.clone(),
                name: v.name.clone(),
                indicator: v.indicator.clone(),
                severity: v.severity.clone(),
                alerts: ids,
            })
        })
        .collect();
    let has = |id: &str| vectors.iter().any(|v| v.id == id);
    // Whether an alert of one of `ids` names an object it read whose kind `fits`.
    let took = |ids: &[&str], fits: &dyn Fn(Option<ObjectKind>) -> bool| {
        vectors
            .iter()
            .filter(|v| ids.contains(&v.id.as_str()))
            .flat_map(|v| &v.alerts)
            .filter_map(|id| alerts.iter().find(|a| &a.id == id))
            .flat_map(|a| a.objects())
            .any(|o| fits(object_kind(&o)))
    };
    for v in &playbook.vectors {
        facts.insert(format!("vector.{}", v.id), has(&v.id));
    }
    let vector_alerts: BTreeSet<&str> = vectors
        .iter()
        .flat_map(|v| v.alerts.iter().map(String::as_str))
        .collect();
    let shown: Vec<&AlertView> = alerts
        .iter()
        .filter(|a| vector_alerts.contains(a.id.as_str()))
        .collect();
    let origins: BTreeSet<_> = shown.iter().map(|a| facts::origin(a, settings)).collect();
    let principals: BTreeSet<&str> = alerts
        .iter()
        .filter_map(|a| a.entity("principal"))
        .collect();
    let approved = |p: &str| {
        settings
            .approved_principals
            .iter()
            .any(|g| glob_match(g, p))
    };
    let models: Vec<String> = alerts
        .iter()
        .filter_map(|a| a.entity("model").map(str::to_string))
        .chain(alerts.iter().flat_map(|a| a.objects()))
        .collect();
    let computed = [
        (
            "extraction_pattern",
            answers::EXTRACTION_VECTORS.iter().any(|v| has(v)),
        ),
        (
            "artifact_accessed",
            has("weight_checkpoint_theft")
                || has("training_data_exfiltration")
                || has("insider_model_copy"),
        ),
        // PB-53's "confirmed": an alert of the vector names the objects that were read or
        // copied (a key listed or a share link issued is a way in, not a theft).
        (
            "weights_stolen",
            // Any object but a dataset, as the vectors read it: a model file, an archive
            // or a checkpoint folder.
            took(&["weight_checkpoint_theft", "insider_model_copy"], &|k| {
                k != Some(ObjectKind::Dataset)
            }),
        ),
        (
            "training_data_exfiltrated",
            took(&["training_data_exfiltration"], &|_| true),
        ),
        (
            "insider",
            origins.contains(&crate::playbook::condition::Origin::Internal),
        ),
        (
            "external",
            origins.contains(&crate::playbook::condition::Origin::External),
        ),
        (
            "explained",
            !principals.is_empty() && principals.iter().all(|p| approved(p)),
        ),
        (
            "regulated_model",
            models
                .iter()
                .any(|m| settings.regulated_models.iter().any(|g| glob_match(g, m))),
        ),
    ];
    for (name, value) in computed {
        facts.insert(name.to_string(), value);
    }
    // A responder's word wins over a computation.
    facts.extend(incident.manual_facts.clone());

    let cx = answers::Context {
        alerts,
        volume: inputs.volume,
        settings,
        inventory: inputs.inventory,
        vectors: &vectors,
        storage_logs: inputs.storage_logs,
        last_seen: incident.last_seen,
    };
    let answer = |c: &Check| {
        let r = answers::compute(&c.answer, &cx);
        Answer {
            id: c.id.clone(),
            question: c.text.clone(),
            how: [c.how.as_str(), c.tool.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" — "),
            state: r.state,
            // Principals and values from the logs: nothing secret-looking leaves unmasked.
            answer: crate::ioc::mask_secrets(&r.answer).into_owned(),
            details: r
                .details
                .iter()
                .map(|d| crate::ioc::mask_secrets(d).into_owned())
                .collect(),
        }
    };
    let triage: Vec<Answer> = playbook.triage.iter().map(answer).collect();
    let scope: Vec<Answer> = playbook.scope.iter().map(answer).collect();
    let escalations: Vec<Escalation> = playbook
        .escalation
        .iter()
        .enumerate()
        .filter(|(_, e)| holds(&e.when, alerts, settings, &facts))
        .map(|(n, e)| Escalation {
            id: (n + 1).to_string(),
            condition: e.condition.clone(),
            escalate_to: e.escalate_to.clone(),
        })
        .collect();
    let rule_names: Vec<String> = shown
        .iter()
        .map(|a| a.rule_name.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let internal = |p: &str| {
        alerts.iter().any(|a| {
            a.entity("principal") == Some(p)
                && facts::origin(a, settings) == crate::playbook::condition::Origin::Internal
        })
    };
    let mut entities: Vec<(String, String)> = if shown.is_empty() {
        alerts.iter().flat_map(crate::grouping::entities).collect()
    } else {
        shown
            .iter()
            .flat_map(|a| crate::grouping::entities(a))
            .collect()
    };
    entities.sort();
    entities.dedup();
    let targets = crate::action::plan::Targets {
        entities,
        excluded: &approved,
        internal: &internal,
    };
    let previous = std::mem::take(&mut incident.analysis.decisions);
    let decisions: Vec<Decision> = playbook
        .decisions
        .iter()
        .filter(|d| holds(&d.when, alerts, settings, &facts))
        .map(|d| {
            let before = previous.iter().find(|p| p.id == d.id);
            Decision {
                id: d.id.clone(),
                condition: d.condition.clone(),
                decision: d.decision.clone(),
                owner: d.owner.clone(),
                sla: d.sla_label.clone(),
                sla_ms: d.sla_ms,
                decided_at: before.map_or(now, |b| b.decided_at),
                met_at: before.and_then(|b| b.met_at),
                actions: plan(d, incident, &rule_names, &targets),
            }
        })
        .collect();
    let iocs = crate::ioc::collect(alerts, inputs.volume);
    let severity = vectors
        .iter()
        .map(|v| v.severity.as_str())
        .chain(alerts.iter().map(|a| a.severity.as_str()))
        .max_by_key(|s| severity_rank(s))
        .unwrap_or("medium")
        .to_string();
    incident.severity = severity;
    let mut analysis = crate::incident::Analysis {
        facts,
        triage,
        vectors,
        scope,
        escalations,
        decisions,
        iocs,
        volume: inputs
            .volume
            .for_chart(incident.first_seen, incident.last_seen),
    };
    let done = tasks::carried_out(inputs.audit, inputs.enforced);
    incident.tasks = tasks::lay_out(playbook, incident, &analysis, inputs, &done, now);
    tasks::meet_decisions(&mut analysis.decisions, &incident.tasks, &done);
    incident.analysis = analysis;
}

/// low < medium < high < critical.
pub fn severity_rank(s: &str) -> u8 {
    match s {
        "critical" => 4,
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        _ => 0,
    }
}
