//! The built-in computations that answer triage checks (PB-53 1.1) and scope questions (1.3)
//! from the alerts and the logs. Each says `finding`, `clear`, or `no data` (the logs read
//! cannot tell: the question becomes a task for its owner).

use std::collections::{BTreeMap, BTreeSet};

use modelward_event::glob::glob_match;
use serde_json::Value;

use crate::alert_view::AlertView;
use crate::incident::{AnswerState, VectorMatch};
use crate::playbook::condition::{ObjectKind, Origin};
use crate::volume::VolumeSeries;

use super::facts::{employee_id, origin};
use super::settings::RespondSettings;
use crate::objects::object_kind;
use crate::text::{human_bytes, thousands, time_range};

/// Computations a triage check may name.
pub const TRIAGE: &[&str] = &[
    "api_volume",
    "query_pattern",
    "who",
    "data_downloads",
    "internal_access",
    "inventory_status",
];

/// Computations a scope question may name.
pub const SCOPE: &[&str] = &[
    "targeted_models",
    "extraction_extent",
    "insider_or_external",
    "assets_at_risk",
];

/// A registered model artifact, as the inventory knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownArtifact {
    pub path: String,
    pub format: String,
    pub size: u64,
    pub hash: String,
}

/// What the computations read.
pub struct Context<'a> {
    pub alerts: &'a [AlertView],
    pub volume: &'a VolumeSeries,
    pub settings: &'a RespondSettings,
    /// The model inventory, when one was given.
    pub inventory: Option<&'a [KnownArtifact]>,
    pub vectors: &'a [VectorMatch],
    /// Whether object-storage access logs were among the inputs.
    pub storage_logs: bool,
    /// The incident's last seen: its latest alert, or the latest call of its principals that
    /// continues the activity (the responder moves it as the attack goes on).
    pub last_seen: i64,
}

/// An answer before it gets the check's id and wording.
pub struct Computed {
    pub state: AnswerState,
    pub answer: String,
    pub details: Vec<String>,
}

fn computed(state: AnswerState, answer: impl Into<String>, details: Vec<String>) -> Computed {
    Computed {
        state,
        answer: answer.into(),
        details,
    }
}

/// Runs the computation `name` (one of [`TRIAGE`] or [`SCOPE`]).
pub fn compute(name: &str, cx: &Context<'_>) -> Computed {
    match name {
        "api_volume" => api_volume(cx),
        "query_pattern" => query_pattern(cx),
        "who" => who(cx),
        "data_downloads" => data_downloads(cx),
        "internal_access" => internal_access(cx),
        "inventory_status" => inventory_status(cx),
        "targeted_models" => targeted_models(cx),
        "extraction_extent" => extraction_extent(cx),
        "insider_or_external" => insider_or_external(cx),
        "assets_at_risk" => assets_at_risk(cx),
        other => computed(
            AnswerState::NoData,
            format!("no computation `{other}`"),
            Vec::new(),
        ),
    }
}

/// The bucket width in words.
fn unit(bucket_ms: i64) -> &'static str {
    match bucket_ms {
        60_000 => "minute",
        3_600_000 => "hour",
        86_400_000 => "day",
        _ => "bucket",
    }
}

fn principals(cx: &Context<'_>) -> BTreeSet<String> {
    cx.alerts
        .iter()
        .filter_map(|a| a.entity("principal"))
        .map(str::to_string)
        .collect()
}

/// The incident's time frame: from its earliest alert's first seen to its last seen.
fn window(cx: &Context<'_>) -> (i64, i64) {
    let first = cx.alerts.iter().map(|a| a.first_seen).min().unwrap_or(0);
    let last = cx.alerts.iter().map(|a| a.timestamp).max().unwrap_or(0);
    (first, last.max(cx.last_seen))
}

/// Vectors of extraction through the API (the playbook's classification says which alerts).
pub const EXTRACTION_VECTORS: [&str; 2] = ["model_extraction_api", "side_channel"];

fn is_extraction(cx: &Context<'_>, a: &AlertView) -> bool {
    cx.vectors
        .iter()
        .any(|v| EXTRACTION_VECTORS.contains(&v.id.as_str()) && v.alerts.contains(&a.id))
}

fn api_volume(cx: &Context<'_>) -> Computed {
    let (first, last) = window(cx);
    let bucket = cx.volume.bucket_ms.max(1);
    let mut details = Vec::new();
    let mut anomalous = false;
    for p in principals(cx) {
        let Some(series) = cx.volume.series.get(&p) else {
            continue;
        };
        let during = cx.volume.calls_between(&p, first, last);
        let peak = series
            .range(first - first.rem_euclid(bucket)..=last)
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(0);
        let (mean, buckets) = cx.volume.baseline(&p, first);
        let per = unit(bucket);
        if buckets == 0 {
            anomalous |= during > 0;
            details.push(format!(
                "{p}: {} calls {}, peak {}/{per}; no earlier calls in the logs read (a new caller)",
                thousands(during),
                time_range(first, last),
                thousands(peak)
            ));
        } else {
            let ratio = peak as f64 / mean.max(1e-9);
            anomalous |= ratio >= 3.0;
            details.push(format!(
                "{p}: {} calls {}, peak {}/{per} vs a baseline of {mean:.1}/{per} over {buckets} earlier active {per}s (×{ratio:.1})",
                thousands(during),
                time_range(first, last),
                thousands(peak)
            ));
        }
    }
    let volume_alerts: Vec<String> = cx
        .alerts
        .iter()
        .filter(|a| matches!(a.code(), Some("MW-AI-0013" | "MW-TH-0004")))
        .map(|a| format!("{}: {}", a.rule_name, a.message.as_deref().unwrap_or("")))
        .collect();
    anomalous |= !volume_alerts.is_empty();
    details.extend(volume_alerts);
    if details.is_empty() {
        return computed(
            AnswerState::NoData,
            "no inference calls of the incident's principals in the logs read",
            details,
        );
    }
    if anomalous {
        computed(
            AnswerState::Finding,
            "call volume above the principal's baseline",
            details,
        )
    } else {
        computed(
            AnswerState::Clear,
            "call volume within the principal's baseline",
            details,
        )
    }
}

fn query_pattern(cx: &Context<'_>) -> Computed {
    let details: Vec<String> = cx
        .alerts
        .iter()
        .filter(|a| is_extraction(cx, a))
        .map(|a| {
            let variant = a
                .evidence("variant")
                .and_then(Value::as_str)
                .map(|v| format!(" [{v}]"))
                .unwrap_or_default();
            let what = a.message.clone().unwrap_or_else(|| {
                let n = a.evidence("events").and_then(Value::as_u64).unwrap_or(1);
                format!(
                    "{} matching request(s) {}",
                    thousands(n),
                    time_range(a.first_seen, a.timestamp)
                )
            });
            format!("{}{variant}: {what}", a.rule_name)
        })
        .collect();
    if !details.is_empty() {
        computed(
            AnswerState::Finding,
            "systematic probing: the query patterns of model extraction",
            details,
        )
    } else if !cx.volume.series.is_empty() {
        computed(
            AnswerState::Clear,
            "no extraction pattern in the principals' calls",
            details,
        )
    } else {
        computed(
            AnswerState::NoData,
            "no inference calls of the incident's principals in the logs read",
            details,
        )
    }
}

fn user_agents(a: &AlertView) -> Vec<String> {
    [a.field("user_agent.original"), a.evidence("user_agent")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

fn who(cx: &Context<'_>) -> Computed {
    let mut details = Vec::new();
    for p in principals(cx) {
        let of: Vec<&AlertView> = cx
            .alerts
            .iter()
            .filter(|a| a.entity("principal") == Some(p.as_str()))
            .collect();
        let ips: BTreeSet<&str> = of.iter().filter_map(|a| a.entity("source.ip")).collect();
        let keys: BTreeSet<String> = of
            .iter()
            .filter_map(|a| a.field("api_key.id").and_then(Value::as_str))
            .map(crate::ioc::mask_key)
            .collect();
        let uas: BTreeSet<String> = of.iter().flat_map(|a| user_agents(a)).collect();
        let mut line = format!("{p} ({} alert(s))", of.len());
        if let Some(e) = employee_id(&p) {
            line.push_str(&format!("; employee {e}"));
        }
        if !keys.is_empty() {
            line.push_str(&format!("; API key {}", join(&keys)));
        }
        if !ips.is_empty() {
            line.push_str(&format!(
                "; from {}",
                ips.iter().copied().collect::<Vec<_>>().join(", ")
            ));
        }
        if !uas.is_empty() {
            line.push_str(&format!("; user agent {}", join(&uas)));
        }
        details.push(line);
    }
    if details.is_empty() {
        let ips: BTreeSet<String> = cx
            .alerts
            .iter()
            .filter_map(|a| a.entity("source.ip"))
            .map(str::to_string)
            .collect();
        if ips.is_empty() {
            return computed(
                AnswerState::NoData,
                "the alerts name no principal or address",
                details,
            );
        }
        return computed(
            AnswerState::Finding,
            format!("unauthenticated callers from {}", join(&ips)),
            details,
        );
    }
    computed(
        AnswerState::Finding,
        format!("{} principal(s) identified", details.len()),
        details,
    )
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

fn downloaded_bytes(a: &AlertView) -> u64 {
    a.evidence("bytes")
        .or_else(|| a.field("storage.bytes"))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

fn data_downloads(cx: &Context<'_>) -> Computed {
    let mut objects: BTreeSet<String> = BTreeSet::new();
    let mut total = 0u64;
    let mut per_rule = Vec::new();
    for a in cx.alerts {
        let objs = a.objects();
        let n = downloaded_bytes(a);
        if objs.is_empty() && n == 0 {
            continue;
        }
        total += n;
        per_rule.push(format!(
            "{} ({}): {}",
            a.rule_name,
            a.entity("principal").unwrap_or("-"),
            a.message.clone().unwrap_or_else(|| objs.join(", "))
        ));
        objects.extend(objs);
    }
    if objects.is_empty() && total == 0 {
        return if cx.storage_logs {
            computed(
                AnswerState::Clear,
                "no model, configuration or training-data downloads by the incident's principals in the storage logs read",
                Vec::new(),
            )
        } else {
            computed(
                AnswerState::NoData,
                "no object-storage access logs among the inputs: check the storage access logs",
                Vec::new(),
            )
        };
    }
    let models = objects
        .iter()
        .filter(|o| object_kind(o) == Some(ObjectKind::Model))
        .count();
    let datasets = objects
        .iter()
        .filter(|o| object_kind(o) == Some(ObjectKind::Dataset))
        .count();
    let mut details: Vec<String> = objects.iter().take(20).cloned().collect();
    if objects.len() > 20 {
        details.push(format!("… and {} more", objects.len() - 20));
    }
    details.extend(per_rule);
    computed(
        AnswerState::Finding,
        format!(
            "{} object(s) read ({models} model file(s), {datasets} dataset file(s)), {}",
            objects.len(),
            human_bytes(total)
        ),
        details,
    )
}

fn internal_access(cx: &Context<'_>) -> Computed {
    let insiders: BTreeSet<String> = cx
        .alerts
        .iter()
        .filter(|a| origin(a, cx.settings) == Origin::Internal)
        .filter_map(|a| a.entity("principal"))
        .map(|p| match employee_id(p) {
            Some(e) => format!("{e} ({p})"),
            None => p.to_string(),
        })
        .collect();
    if !insiders.is_empty() {
        return computed(
            AnswerState::Finding,
            format!(
                "{} principal(s) of the organisation involved: review their access to model repositories",
                insiders.len()
            ),
            insiders.into_iter().collect(),
        );
    }
    if cx.storage_logs {
        computed(
            AnswerState::Clear,
            "no principal of the organisation among the incident's alerts",
            Vec::new(),
        )
    } else {
        computed(
            AnswerState::NoData,
            "no IAM or storage logs among the inputs: review employee access in the IAM logs",
            Vec::new(),
        )
    }
}

fn inventory_status(cx: &Context<'_>) -> Computed {
    let objects: BTreeSet<String> = cx
        .alerts
        .iter()
        .flat_map(|a| a.objects())
        .filter(|o| object_kind(o) == Some(ObjectKind::Model))
        .collect();
    let Some(inventory) = cx.inventory else {
        return computed(
            AnswerState::NoData,
            "no model inventory configured (`modelward inventory scan`, then `[respond] inventory`)",
            objects.into_iter().collect(),
        );
    };
    if objects.is_empty() {
        return computed(
            AnswerState::Clear,
            format!(
                "no model files involved; {} artifact(s) registered",
                inventory.len()
            ),
            Vec::new(),
        );
    }
    let mut details = Vec::new();
    let mut registered = 0;
    for o in &objects {
        let name = o.rsplit('/').next().unwrap_or(o);
        let hits: Vec<&KnownArtifact> = inventory
            .iter()
            .filter(|k| {
                k.path
                    .ends_with(o.split_once('/').map_or(o.as_str(), |(_, k)| k))
                    || k.path.rsplit(['/', '!']).next() == Some(name)
            })
            .collect();
        if hits.is_empty() {
            details.push(format!("{o}: not in the inventory"));
        } else {
            registered += 1;
            for k in hits {
                details.push(format!(
                    "{o}: registered as {} ({}, {}, sha256 {}…)",
                    k.path,
                    k.format,
                    human_bytes(k.size),
                    &k.hash[..k.hash.len().min(12)]
                ));
            }
        }
    }
    computed(
        AnswerState::Finding,
        format!(
            "{registered} of {} model file(s) involved are registered artifacts",
            objects.len()
        ),
        details,
    )
}

fn targeted_models(cx: &Context<'_>) -> Computed {
    let mut models: BTreeSet<String> = cx
        .alerts
        .iter()
        .filter_map(|a| a.entity("model"))
        .map(str::to_string)
        .collect();
    models.extend(
        cx.alerts
            .iter()
            .flat_map(|a| a.objects())
            .filter_map(|o| crate::ioc::model_of(&o)),
    );
    if models.is_empty() {
        return computed(
            AnswerState::NoData,
            "the alerts name no model: check the service routing",
            Vec::new(),
        );
    }
    let regulated: Vec<String> = models
        .iter()
        .filter(|m| {
            cx.settings
                .regulated_models
                .iter()
                .any(|g| glob_match(g, m))
        })
        .cloned()
        .collect();
    let mut details: Vec<String> = models.iter().cloned().collect();
    if !regulated.is_empty() {
        details.push(format!("regulated: {}", regulated.join(", ")));
    }
    details.push("business value: for the model owner to state".into());
    computed(
        AnswerState::Finding,
        format!("{} model(s) targeted", models.len()),
        details,
    )
}

fn extraction_extent(cx: &Context<'_>) -> Computed {
    let (first, last) = window(cx);
    let mut details = Vec::new();
    // Calls of the principals whose alerts show extraction, in the incident's frame: what
    // the logs say was answered, where an alert's count stops at its threshold.
    let extractors: BTreeSet<String> = cx
        .alerts
        .iter()
        .filter(|a| is_extraction(cx, a))
        .filter_map(|a| a.entity("principal").map(str::to_string))
        .collect();
    let mut answered = 0u64;
    for p in principals(cx) {
        let n = cx.volume.calls_between(&p, first, last);
        if extractors.contains(&p) {
            answered += n;
        }
        if n > 0 {
            details.push(format!(
                "{p}: {} calls {}",
                thousands(n),
                time_range(first, last)
            ));
        }
    }
    let mut probes = 0u64;
    for a in cx.alerts.iter().filter(|a| is_extraction(cx, a)) {
        for key in [
            "probe_calls",
            "calls",
            "distinct_biased_tokens",
            "distinct_prompts",
        ] {
            if let Some(n) = a.evidence(key).and_then(Value::as_u64) {
                details.push(format!("{}: {key} = {}", a.rule_name, thousands(n)));
                if key == "probe_calls" || key == "calls" {
                    probes = probes.max(n);
                }
            }
        }
    }
    let downloaded: u64 = cx.alerts.iter().map(downloaded_bytes).sum();
    if downloaded > 0 {
        details.push(format!(
            "{} read from object storage",
            human_bytes(downloaded)
        ));
    }
    if details.is_empty() {
        return computed(
            AnswerState::NoData,
            "the logs read do not show how much was extracted",
            details,
        );
    }
    let answer = match (probes, downloaded) {
        (0, 0) => "see the call counts".to_string(),
        (p, 0) if answered > p => format!(
            "{} calls of the extracting principal(s) answered {} ({} counted as probes when the alert fired)",
            thousands(answered),
            time_range(first, last),
            thousands(p)
        ),
        (p, 0) => format!("at least {} extraction queries answered", thousands(p)),
        (0, d) => format!("{} of artifacts or data read", human_bytes(d)),
        (p, d) => format!(
            "{} extraction queries and {} read",
            thousands(p),
            human_bytes(d)
        ),
    };
    computed(AnswerState::Finding, answer, details)
}

fn insider_or_external(cx: &Context<'_>) -> Computed {
    let mut by: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    for a in cx.alerts {
        let who = a
            .entity("principal")
            .or_else(|| a.entity("source.ip"))
            .unwrap_or("-")
            .to_string();
        let side = match origin(a, cx.settings) {
            Origin::Internal => "insider",
            Origin::External => "external",
        };
        by.entry(side).or_default().insert(who);
    }
    let details: Vec<String> = by
        .iter()
        .map(|(side, who)| format!("{side}: {}", join(who)))
        .collect();
    let answer = match (by.contains_key("insider"), by.contains_key("external")) {
        (true, true) => "both: principals of the organisation and outside callers",
        (true, false) => {
            "insider: principals of the organisation (confirm with HR before acting on a person)"
        }
        (false, true) => "external: no principal of the organisation is involved",
        (false, false) => "unknown",
    };
    computed(AnswerState::Finding, answer, details)
}

fn assets_at_risk(cx: &Context<'_>) -> Computed {
    let has = |id: &str| cx.vectors.iter().any(|v| v.id == id);
    let weights = has("weight_checkpoint_theft") || has("insider_model_copy");
    let data = has("training_data_exfiltration");
    let behaviour = has("model_extraction_api") || has("side_channel");
    let answer = match (weights, data) {
        (true, true) => "both: model weights and training data",
        (true, false) => "model weights",
        (false, true) => "training data",
        (false, false) if behaviour => {
            "the model's behaviour (through its API); no weights or training data read"
        }
        (false, false) => "none shown by the alerts",
    };
    computed(
        if weights || data || behaviour {
            AnswerState::Finding
        } else {
            AnswerState::Clear
        },
        answer,
        cx.vectors.iter().map(|v| v.name.clone()).collect(),
    )
}
