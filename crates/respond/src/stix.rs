//! The incident and its IoCs as a STIX 2.1 bundle (OASIS STIX Version 2.1), for threat
//! intelligence platforms (OpenCTI, MISP, a TAXII server).
//!
//! The bundle holds:
//! - an `identity` for modelward (`identity_class: system`), the `created_by_ref` of the rest;
//! - an `incident` with the title as `name` and a `description` of the incident: its id,
//!   severity, stage, alerts, theft vectors and the principals' query volumes; its
//!   `external_references` name the modelward incident id;
//! - per address, principal, downloaded file and user agent: an `indicator` with a STIX
//!   pattern (`[ipv4-addr:value = '…']`, `ipv6-addr`, `[user-account:user_id = '…']`,
//!   `[file:name = '…']`, the `User-Agent` request header of `network-traffic`), with
//!   `valid_from` the first time it was seen; for all but user agents also the SCO
//!   (`ipv4-addr`, `ipv6-addr`, `user-account`, `file`) and an `observed-data` of it with
//!   the first and last time and the number of alerts;
//! - `relationship`s: each indicator `indicates` the incident and is `based-on` its
//!   observed data;
//! - a `note` on the incident with what is no indicator: query volumes, API key ids,
//!   target models, employee ids, partly masked addresses.
//!
//! Ids are deterministic (see [`id`]): the same incident, IoCs and `now_ms` give the same
//! bundle; SDOs keep their ids across exports and `modified` (the export time) versions them.
//! API keys are masked and secret-looking text is masked everywhere, the incident's title
//! and description included.

pub mod id;

use std::net::IpAddr;

use serde_json::{json, Map, Value};

use crate::incident::{Incident, Ioc};
use crate::ioc::{key_id, mask_secrets};

/// When modelward's identity object was first written (it never changes).
const IDENTITY_CREATED: &str = "2025-01-01T00:00:00.000Z";

/// The last millisecond of year 9999, the latest RFC 3339 time.
const MAX_MS: i64 = 253_402_300_799_999;

/// `incident` and `iocs` as a STIX 2.1 bundle, exported at `now_ms` (wall clock, ms).
pub fn to_stix(incident: &Incident, iocs: &[Ioc], now_ms: i64) -> Value {
    let b = Builder::new(incident, now_ms);
    let mut objects = vec![b.identity(), b.incident(iocs)];
    let mut notes: Vec<String> = Vec::new();
    for ioc in iocs {
        let value = b.scrub(&crate::ioc::safe_value(&ioc.kind, &ioc.value));
        match Observable::of(&ioc.kind, &value) {
            Some(obs) => objects.extend(b.indicator(ioc, &value, &obs)),
            None => notes.push(format!("- {}: {value} ({})", label(&ioc.kind), ioc.source)),
        }
    }
    if !notes.is_empty() {
        objects.push(b.note(&notes));
    }
    // Two IoCs may share an SCO (files of the same name in two buckets): keep the first.
    let mut seen = std::collections::HashSet::new();
    objects.retain(|o| seen.insert(o["id"].as_str().unwrap_or_default().to_string()));
    let content = Value::Array(objects.clone()).to_string();
    json!({
        "type": "bundle",
        "id": id::sdo_id("bundle", &[&incident.id, &now_ms.to_string(), &content]),
        "objects": objects,
    })
}

/// An RFC 3339 time with milliseconds, as STIX timestamps are written.
fn ts(ms: i64) -> String {
    modelward_event::format_timestamp(ms.clamp(0, MAX_MS))
}

/// A string literal of a STIX pattern: `'` and `\` escaped with `\`.
pub fn pattern_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn label(kind: &str) -> &str {
    match kind {
        "ip" => "Address",
        "principal" => "Principal",
        "api_key" => "API key id",
        "query_volume" => "Query volume",
        "downloaded_file" => "Downloaded file",
        "target_model" => "Target model",
        "employee_id" => "Employee id (insider)",
        "user_agent" => "User agent",
        other => other,
    }
}

/// What an indicator is about.
enum Observable {
    Ip(IpAddr),
    Account(String),
    /// The file's name (the last part of the object's path).
    File(String),
    UserAgent(String),
}

impl Observable {
    fn of(kind: &str, value: &str) -> Option<Observable> {
        match kind {
            "ip" => value.parse().ok().map(Observable::Ip),
            "principal" => Some(Observable::Account(value.to_string())),
            "downloaded_file" => {
                let name = value.rsplit('/').next().filter(|n| !n.is_empty())?;
                Some(Observable::File(name.to_string()))
            }
            "user_agent" => Some(Observable::UserAgent(value.to_string())),
            _ => None,
        }
    }

    /// The SCO (type and ID contributing properties), for all but user agents.
    fn sco(&self) -> Option<(&'static str, &'static str, String)> {
        match self {
            Observable::Ip(IpAddr::V4(ip)) => Some(("ipv4-addr", "value", ip.to_string())),
            Observable::Ip(IpAddr::V6(ip)) => Some(("ipv6-addr", "value", ip.to_string())),
            Observable::Account(user) => Some(("user-account", "user_id", user.clone())),
            Observable::File(name) => Some(("file", "name", name.clone())),
            Observable::UserAgent(_) => None,
        }
    }

    fn pattern(&self) -> String {
        match self {
            Observable::Ip(IpAddr::V4(ip)) => {
                format!("[ipv4-addr:value = {}]", pattern_literal(&ip.to_string()))
            }
            Observable::Ip(IpAddr::V6(ip)) => {
                format!("[ipv6-addr:value = {}]", pattern_literal(&ip.to_string()))
            }
            Observable::Account(user) => {
                format!("[user-account:user_id = {}]", pattern_literal(user))
            }
            Observable::File(name) => format!("[file:name = {}]", pattern_literal(name)),
            Observable::UserAgent(ua) => format!(
                "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = {}]",
                pattern_literal(ua)
            ),
        }
    }

    fn indicator_types(&self) -> [&'static str; 1] {
        match self {
            Observable::Ip(_) | Observable::File(_) => ["malicious-activity"],
            Observable::Account(_) | Observable::UserAgent(_) => ["anomalous-activity"],
        }
    }
}

struct Builder<'a> {
    incident: &'a Incident,
    identity_id: String,
    incident_id: String,
    created: String,
    modified: String,
    /// Raw API key ids the incident names, longest first, to mask in free text.
    keys: Vec<String>,
}

impl<'a> Builder<'a> {
    fn new(incident: &'a Incident, now_ms: i64) -> Builder<'a> {
        let mut keys: Vec<String> = crate::ioc::raw_key_ids(&incident.alerts);
        keys.extend(
            incident
                .entities
                .iter()
                .filter(|(k, _)| k == "api_key")
                .map(|(_, v)| v.trim().to_string())
                .filter(|v| !v.is_empty()),
        );
        keys.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        keys.dedup();
        Builder {
            incident,
            identity_id: id::sdo_id("identity", &["modelward"]),
            incident_id: id::sdo_id("incident", &[&incident.id]),
            created: ts(incident.created_at),
            modified: ts(now_ms.max(incident.created_at)),
            keys,
        }
    }

    /// `text` with any secret masked; the incident's API key ids stay whole (they are the
    /// identifiers to revoke the keys by) unless they look like keys themselves.
    fn scrub(&self, text: &str) -> String {
        let key = self
            .keys
            .iter()
            .filter(|k| !k.is_empty())
            .filter_map(|k| text.find(k.as_str()).map(|i| (i, k)))
            .min_by_key(|(i, k)| (*i, std::cmp::Reverse(k.len())));
        match key {
            Some((i, k)) => format!(
                "{}{}{}",
                mask_secrets(&text[..i]),
                key_id(k),
                self.scrub(&text[i + k.len()..])
            ),
            None => mask_secrets(text).into_owned(),
        }
    }

    /// The properties every SDO and SRO has.
    fn common(&self, kind: &str, id: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("type".into(), json!(kind));
        m.insert("spec_version".into(), json!("2.1"));
        m.insert("id".into(), json!(id));
        m.insert("created_by_ref".into(), json!(self.identity_id));
        m.insert("created".into(), json!(self.created));
        m.insert("modified".into(), json!(self.modified));
        m
    }

    fn identity(&self) -> Value {
        json!({
            "type": "identity",
            "spec_version": "2.1",
            "id": self.identity_id,
            "created": IDENTITY_CREATED,
            "modified": IDENTITY_CREATED,
            "name": "modelward",
            "description": "Detection of AI model theft and abuse from logs; incident response playbook PB-53.",
            "identity_class": "system",
        })
    }

    fn incident(&self, iocs: &[Ioc]) -> Value {
        let inc = self.incident;
        let mut m = self.common("incident", &self.incident_id);
        let name = if inc.title.trim().is_empty() {
            inc.id.clone()
        } else {
            self.scrub(&inc.title)
        };
        m.insert("name".into(), json!(name));
        m.insert("description".into(), json!(self.description(iocs)));
        m.insert(
            "external_references".into(),
            json!([{"source_name": "modelward", "external_id": inc.id}]),
        );
        Value::Object(m)
    }

    fn description(&self, iocs: &[Ioc]) -> String {
        let inc = self.incident;
        let mut lines = vec![
            format!(
                "modelward incident {} (playbook {}): severity {}, stage {}, status {}.",
                inc.id,
                inc.playbook,
                inc.severity,
                inc.stage,
                inc.status.as_str()
            ),
            format!(
                "{} alert(s), event time {} to {}.",
                inc.alerts.len(),
                ts(inc.first_seen),
                ts(inc.last_seen)
            ),
        ];
        if !inc.analysis.vectors.is_empty() {
            lines.push("Theft vectors:".into());
            for v in &inc.analysis.vectors {
                lines.push(format!("- {} ({}): {}", v.name, v.severity, v.indicator));
            }
        }
        let volumes: Vec<&Ioc> = iocs.iter().filter(|i| i.kind == "query_volume").collect();
        if !volumes.is_empty() {
            lines.push("Query volume:".into());
            lines.extend(volumes.iter().map(|i| format!("- {}", i.value)));
        }
        self.scrub(&lines.join("\n"))
    }

    /// The SCO, observed data, indicator and relationships of one IoC.
    fn indicator(&self, ioc: &Ioc, value: &str, obs: &Observable) -> Vec<Value> {
        let inc = &self.incident.id;
        let mut out = Vec::new();
        let indicator_id = id::sdo_id("indicator", &[inc, &ioc.kind, value]);
        let mut m = self.common("indicator", &indicator_id);
        m.insert(
            "name".into(),
            json!(format!("{}: {value}", label(&ioc.kind))),
        );
        m.insert(
            "description".into(),
            json!(self.scrub(&format!(
                "PB-53 IoC of modelward incident {inc}, from {}; seen {} to {} in alert(s) {}.",
                ioc.source,
                ts(ioc.first_seen),
                ts(ioc.last_seen),
                ioc.alerts.join(", ")
            ))),
        );
        m.insert("indicator_types".into(), json!(obs.indicator_types()));
        m.insert("pattern".into(), json!(obs.pattern()));
        m.insert("pattern_type".into(), json!("stix"));
        m.insert("pattern_version".into(), json!("2.1"));
        m.insert("valid_from".into(), json!(ts(ioc.first_seen)));
        out.push(Value::Object(m));
        out.push(self.relationship("indicates", &indicator_id, &self.incident_id));

        if let Some((kind, prop, v)) = obs.sco() {
            let sco_id = id::sco_id(kind, &[(prop, &v)]);
            let mut sco = Map::new();
            sco.insert("type".into(), json!(kind));
            sco.insert("spec_version".into(), json!("2.1"));
            sco.insert("id".into(), json!(sco_id));
            sco.insert(prop.into(), json!(v));
            let observed_id = id::sdo_id("observed-data", &[inc, &ioc.kind, value]);
            let mut od = self.common("observed-data", &observed_id);
            od.insert("first_observed".into(), json!(ts(ioc.first_seen)));
            od.insert(
                "last_observed".into(),
                json!(ts(ioc.last_seen.max(ioc.first_seen))),
            );
            od.insert(
                "number_observed".into(),
                json!(ioc.alerts.len().clamp(1, 999_999_999)),
            );
            od.insert("object_refs".into(), json!([sco_id]));
            out.insert(0, Value::Object(sco));
            out.insert(1, Value::Object(od));
            out.push(self.relationship("based-on", &indicator_id, &observed_id));
        }
        out
    }

    fn relationship(&self, kind: &str, source: &str, target: &str) -> Value {
        let rel_id = id::sdo_id("relationship", &[&self.incident.id, kind, source, target]);
        let mut m = self.common("relationship", &rel_id);
        m.insert("relationship_type".into(), json!(kind));
        m.insert("source_ref".into(), json!(source));
        m.insert("target_ref".into(), json!(target));
        Value::Object(m)
    }

    fn note(&self, lines: &[String]) -> Value {
        let note_id = id::sdo_id("note", &[&self.incident.id]);
        let mut m = self.common("note", &note_id);
        m.insert(
            "abstract".into(),
            json!("PB-53 IoCs that are not indicators"),
        );
        m.insert("content".into(), json!(self.scrub(&lines.join("\n"))));
        m.insert("object_refs".into(), json!([self.incident_id]));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_literals_escape_quotes_and_backslashes() {
        assert_eq!(pattern_literal("plain"), "'plain'");
        assert_eq!(pattern_literal("O'Brien"), r"'O\'Brien'");
        assert_eq!(pattern_literal(r"C:\models\w.pt"), r"'C:\\models\\w.pt'");
        assert_eq!(pattern_literal(r"\'"), r"'\\\''");
    }

    #[test]
    fn observables_and_their_patterns() {
        let p = |k: &str, v: &str| Observable::of(k, v).map(|o| o.pattern());
        assert_eq!(
            p("ip", "203.0.113.66").as_deref(),
            Some("[ipv4-addr:value = '203.0.113.66']")
        );
        assert_eq!(
            p("ip", "2001:db8::1").as_deref(),
            Some("[ipv6-addr:value = '2001:db8::1']")
        );
        assert_eq!(p("ip", "81.2.69.***"), None);
        assert_eq!(
            p("downloaded_file", "s3://b/dir/it's.gguf").as_deref(),
            Some(r"[file:name = 'it\'s.gguf']")
        );
        assert_eq!(p("downloaded_file", "s3://b/dir/"), None);
        assert_eq!(
            p("user_agent", "curl/8.5.0").as_deref(),
            Some("[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'curl/8.5.0']")
        );
        assert_eq!(p("query_volume", "x"), None);
        assert_eq!(p("api_key", "key_vT…4Oi"), None);
    }

    #[test]
    fn timestamps_stay_in_rfc_3339_range() {
        assert_eq!(ts(-5), "1970-01-01T00:00:00.000Z");
        assert_eq!(ts(i64::MAX), "9999-12-31T23:59:59.999Z");
    }
}
