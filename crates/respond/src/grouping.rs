//! Alerts about the same entity close in time become one group: the seed of an incident.
//!
//! Two alerts are linked when they share a value of one of the linking entity kinds
//! (principal and API key by default) and the later one is raised within `gap` of the
//! earlier. An alert that names no principal (an aggregation over a resource, an
//! unauthenticated caller) links by its client address and resource instead: to other such
//! alerts, and to alerts with a principal on the same resource or address that the playbook
//! handles. Two principals are thus linked only through an alert that names neither (a
//! resource-wide aggregation), never by sharing an address or a busy resource between
//! themselves, since many people use one account and share office or NAT addresses. Links are transitive (union-find over the
//! alerts in time order). A group becomes an incident only when the playbook handles at
//! least one of its alerts; the others ride along as context.

use std::collections::HashMap;

use crate::alert_view::AlertView;

/// How alerts are grouped.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupingSettings {
    /// Longest quiet time between two alerts of one incident, ms.
    pub gap_ms: i64,
    /// Entity kinds that link alerts: `principal`, `api_key`, `source.ip`, `resource`, `model`.
    pub link_by: Vec<String>,
}

impl Default for GroupingSettings {
    fn default() -> GroupingSettings {
        GroupingSettings {
            gap_ms: 24 * 3_600_000,
            link_by: vec!["principal".into(), "api_key".into()],
        }
    }
}

/// The (kind, value) pairs an alert links by.
pub fn link_keys(alert: &AlertView, settings: &GroupingSettings) -> Vec<(String, String)> {
    let mut keys = Vec::new();
    let has_principal = alert.entity("principal").is_some();
    for kind in &settings.link_by {
        let value = match kind.as_str() {
            "api_key" => alert
                .field("api_key.id")
                .and_then(|v| v.as_str())
                .map(str::to_string),
            other => alert.entity(other).map(str::to_string),
        };
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            keys.push((kind.clone(), v));
        }
    }
    if !has_principal {
        keys.extend(fallback_keys(alert));
    }
    keys.sort();
    keys.dedup();
    keys
}

/// The address and resource of an alert: how alerts without a principal link.
fn fallback_keys(alert: &AlertView) -> Vec<(String, String)> {
    ["source.ip", "resource"]
        .into_iter()
        .filter_map(|k| alert.entity(k).map(|v| (k.to_string(), v.to_string())))
        .collect()
}

/// Every entity of an alert, for the incident's entity list.
pub fn entities(alert: &AlertView) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = alert
        .entity
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
        .collect();
    if let Some(key) = alert.field("api_key.id").and_then(|v| v.as_str()) {
        out.push(("api_key".into(), key.to_string()));
    }
    for bucket in alert.buckets() {
        out.push(("resource".into(), bucket));
    }
    out.sort();
    out.dedup();
    out
}

/// Groups alerts (any order); each group's alerts in time order, groups by first alert.
/// `handled`: whether the playbook handles an alert (alerts without a principal link to
/// those on their resource or address).
pub fn group(
    mut alerts: Vec<AlertView>,
    settings: &GroupingSettings,
    handled: &dyn Fn(&AlertView) -> bool,
) -> Vec<Vec<AlertView>> {
    alerts.sort_by(|a, b| (a.timestamp, &a.id).cmp(&(b.timestamp, &b.id)));
    alerts.dedup_by(|a, b| a.id == b.id);
    let mut parent: Vec<usize> = (0..alerts.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    // Per link key: the latest alert seen with it; per address and resource, the latest
    // handled alert with a principal (which principal-less alerts link to).
    let mut last: HashMap<(String, String), usize> = HashMap::new();
    let mut handled_on: HashMap<(String, String), usize> = HashMap::new();
    let close = |alerts: &[AlertView], i: usize, j: usize| {
        (alerts[i].first_seen - alerts[j].timestamp).abs() <= settings.gap_ms
            || (alerts[j].first_seen - alerts[i].timestamp).abs() <= settings.gap_ms
    };
    // Principal-less alerts seen so far, to link a later handled alert back to them.
    let mut orphans: HashMap<(String, String), usize> = HashMap::new();
    for i in 0..alerts.len() {
        let keys = link_keys(&alerts[i], settings);
        let mut links: Vec<usize> = keys.iter().filter_map(|k| last.get(k).copied()).collect();
        if alerts[i].entity("principal").is_none() {
            links.extend(keys.iter().filter_map(|k| handled_on.get(k).copied()));
            for k in fallback_keys(&alerts[i]) {
                orphans.insert(k, i);
            }
        } else if handled(&alerts[i]) {
            for k in fallback_keys(&alerts[i]) {
                links.extend(orphans.get(&k).copied());
                handled_on.insert(k, i);
            }
        }
        for j in links {
            if close(&alerts, i, j) {
                let (ri, rj) = (root(&mut parent, i), root(&mut parent, j));
                parent[ri.max(rj)] = ri.min(rj);
            }
        }
        for key in keys {
            last.insert(key, i);
        }
    }
    let mut groups: Vec<Vec<AlertView>> = Vec::new();
    let mut index: HashMap<usize, usize> = HashMap::new();
    let roots: Vec<usize> = (0..alerts.len()).map(|i| root(&mut parent, i)).collect();
    for (alert, r) in alerts.into_iter().zip(roots) {
        let g = *index.entry(r).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(alert);
    }
    groups
}

/// `INC-` and 12 hex digits of the SHA-256 of the group's first alert id.
pub fn incident_id(first_alert: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(first_alert.as_bytes());
    format!("INC-{}", modelward_event::hash::hex(&digest[..6]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alert(id: &str, ts: &str, principal: Option<&str>, ip: &str) -> AlertView {
        let mut entity = json!({"source.ip": ip});
        if let Some(p) = principal {
            entity["principal"] = json!(p);
        }
        AlertView::from_json(json!({
            "@timestamp": ts, "alert": {"id": id}, "rule": {"id": "r", "name": "r"},
            "entity": entity
        }))
        .unwrap()
    }

    #[test]
    fn same_principal_close_in_time_is_one_group() {
        let groups = group(
            vec![
                alert("a", "2025-03-01T10:00:00Z", Some("mallory"), "203.0.113.5"),
                alert("b", "2025-03-01T12:00:00Z", Some("mallory"), "203.0.113.9"),
                alert("c", "2025-03-01T12:30:00Z", Some("alice"), "203.0.113.5"),
                alert("d", "2025-03-04T12:00:00Z", Some("mallory"), "203.0.113.5"),
            ],
            &GroupingSettings::default(),
            &|_| true,
        );
        let ids: Vec<Vec<&str>> = groups
            .iter()
            .map(|g| g.iter().map(|a| a.id.as_str()).collect())
            .collect();
        // alice shares mallory's address, not her principal; d comes three days later.
        assert_eq!(ids, vec![vec!["a", "b"], vec!["c"], vec!["d"]]);
    }

    #[test]
    fn alerts_without_a_principal_link_by_address_and_chains_are_transitive() {
        let settings = GroupingSettings {
            link_by: vec!["principal".into(), "source.ip".into()],
            ..GroupingSettings::default()
        };
        let groups = group(
            vec![
                alert("a", "2025-03-01T10:00:00Z", Some("p1"), "198.51.100.1"),
                alert("b", "2025-03-01T11:00:00Z", Some("p2"), "198.51.100.1"),
                alert("c", "2025-03-01T12:00:00Z", Some("p2"), "198.51.100.2"),
                alert("e", "2025-03-01T12:00:00Z", None, "192.0.2.1"),
                alert("f", "2025-03-01T13:00:00Z", None, "192.0.2.1"),
            ],
            &settings,
            &|_| true,
        );
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].len(), 3);
        assert_eq!(groups[1].len(), 2);
    }

    #[test]
    fn alerts_without_a_principal_join_handled_alerts_on_their_resource() {
        let on = |id: &str, ts: &str, principal: Option<&str>, resource: &str| {
            let mut a = alert(id, ts, principal, "192.0.2.1");
            a.entity.remove("source.ip");
            a.entity.insert("resource".into(), json!(resource));
            if id.starts_with('j') {
                a.rule_name = "jailbreak".into();
            }
            a
        };
        let groups = group(
            vec![
                on("theft", "2025-03-01T10:00:00Z", None, "rg/acct"),
                on("burst", "2025-03-01T10:05:00Z", Some("lister"), "rg/acct"),
                on("jail", "2025-03-01T10:06:00Z", Some("chatter"), "rg/acct"),
                on("burst2", "2025-03-01T10:07:00Z", Some("other"), "rg/acct"),
            ],
            &GroupingSettings::default(),
            &|a| a.rule_name != "jailbreak",
        );
        let ids: Vec<Vec<&str>> = groups
            .iter()
            .map(|g| g.iter().map(|a| a.id.as_str()).collect())
            .collect();
        // The resource-wide alert joins the handled alerts on its resource (both), not the
        // unhandled one; two principals are linked only through it.
        assert_eq!(ids, vec![vec!["theft", "burst", "burst2"], vec!["jail"]]);
    }

    #[test]
    fn incident_ids_are_stable() {
        assert_eq!(
            incident_id("a4c85a6c877a2ee8"),
            incident_id("a4c85a6c877a2ee8")
        );
        assert_eq!(incident_id("x").len(), 16);
    }
}
