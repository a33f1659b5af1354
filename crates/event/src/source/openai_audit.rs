//! OpenAI's organisation audit log: the audit log objects `GET /v1/organization/audit_logs`
//! returns (an Admin API key reads them once audit logging is on), one object a record, or
//! the list response itself (`{"object": "list", "data": [...], "first_id", "last_id",
//! "has_more"}`, whose `data` stands for its objects). Key creation, deletion and changes,
//! project, member, invite, service-account and login events are what key theft and misuse
//! leave in it.
//!
//! | audit log | field |
//! |---|---|
//! | `effective_at` (Unix seconds) | `@timestamp` |
//! | `type` (`api_key.created`, `project.updated`, `invite.sent`, `login.failed`, …) | `event.action` |
//! | `id` | `event.id` |
//! | `type` `*.failed` | `event.outcome: failure` (else `success`) |
//! | `actor.type` (`session`, `api_key`) | `openai.audit.actor.type` |
//! | `actor.session.user.id` / `.email`, else `actor.api_key.user.*`, else `actor.api_key.service_account.id` | `user.id`, `user.email` |
//! | `actor.api_key.id` (the key used), `.type` (`user`, `service_account`) | `api_key.id`, `openai.audit.actor.api_key.type` |
//! | `actor.session.ip_address`, `.user_agent` | `source.ip`, `user_agent.original` |
//! | `actor.session.ip_address_details.country`, `.city`, `.asn` | `source.geo.country_iso_code`, `source.geo.city_name`, `source.as.number` |
//! | `project.id`, `project.name` | `openai.project.id`, `openai.project.name` |
//! | the object under the event's type (`"api_key.created": {"id", "data": {"scopes"}}`) | `openai.audit.target.id` (its `id`), `openai.audit.details` (all of it) |
//! | — | `data_stream.dataset: openai.audit`, `cloud.provider` not set |
//!
//! The record's own keys stay beside these, so rules can also be written against
//! OpenAI's names (`type`, `actor.session.user.email`).

use serde_json::{Map, Value};

use super::contract::{self, Domain, Synthesized};
use super::paths::{get, put, put_dataset};

pub const DATASET: &str = "openai.audit";

/// This source's normalizer in the [`super::REGISTRY`].
pub static SOURCE: contract::Source = contract::Source {
    kind: super::SourceKind::OpenAiAudit,
    name: "openai_audit",
    looks_like,
    normalize: normalize_record,
    synthesized: &[SYNTHESIZED],
};

/// The fields this normalizer writes itself (see [`super::contract`]).
const SYNTHESIZED: &[Synthesized] = &[
    Synthesized::new("data_stream.dataset", Domain::Consts(&[DATASET])),
    Synthesized::new("event.dataset", Domain::Consts(&[DATASET])),
];

/// Whether a record is an OpenAI audit log object.
pub fn looks_like(obj: &Map<String, Value>) -> bool {
    obj.get("id")
        .and_then(Value::as_str)
        .is_some_and(|id| id.starts_with("audit_log"))
        && obj.get("type").is_some_and(Value::is_string)
        && obj.get("effective_at").is_some_and(Value::is_number)
        && obj.get("actor").is_some_and(Value::is_object)
}

/// The audit log objects of a list response (`{"object": "list", "data": [...]}` whose items
/// are audit log objects); None for anything else.
pub fn list_items(obj: &mut Map<String, Value>) -> Option<Vec<Map<String, Value>>> {
    if obj.get("object").and_then(Value::as_str) != Some("list") {
        return None;
    }
    let items = obj.get("data")?.as_array()?;
    let audit = !items.is_empty() && items.iter().all(|i| i.as_object().is_some_and(looks_like));
    if !audit {
        return None;
    }
    let Some(Value::Array(items)) = obj.remove("data") else {
        return None;
    };
    Some(
        items
            .into_iter()
            .filter_map(|i| match i {
                Value::Object(m) => Some(m),
                _ => None,
            })
            .collect(),
    )
}

fn normalize_record(raw: Map<String, Value>) -> Result<super::Normalized, super::SourceError> {
    Ok(super::Normalized::Event(normalize(raw)))
}

/// Maps one audit log object (its own keys kept).
pub fn normalize(raw: Map<String, Value>) -> Map<String, Value> {
    let value = Value::Object(raw.clone());
    let mut out = raw;
    let at = |path: &str| get(&value, path).cloned();
    if let Some(secs) = get(&value, "effective_at").and_then(Value::as_i64) {
        put(
            &mut out,
            "@timestamp",
            Some(Value::String(crate::time::format_timestamp(
                secs.saturating_mul(1000),
            ))),
        );
    }
    let kind = get(&value, "type").and_then(Value::as_str).unwrap_or("");
    put(&mut out, "event.action", at("type"));
    put(&mut out, "event.id", at("id"));
    put(
        &mut out,
        "event.outcome",
        Some(Value::String(
            if kind.ends_with(".failed") {
                "failure"
            } else {
                "success"
            }
            .into(),
        )),
    );
    put(&mut out, "openai.audit.actor.type", at("actor.type"));
    let user = ["actor.session.user", "actor.api_key.user"]
        .into_iter()
        .find(|p| get(&value, p).is_some_and(Value::is_object));
    match user {
        Some(user) => {
            put(&mut out, "user.id", at(&format!("{user}.id")));
            put(&mut out, "user.email", at(&format!("{user}.email")));
        }
        None => put(&mut out, "user.id", at("actor.api_key.service_account.id")),
    }
    put(&mut out, "api_key.id", at("actor.api_key.id"));
    put(
        &mut out,
        "openai.audit.actor.api_key.type",
        at("actor.api_key.type"),
    );
    put(&mut out, "source.ip", at("actor.session.ip_address"));
    put(
        &mut out,
        "user_agent.original",
        at("actor.session.user_agent"),
    );
    let details = "actor.session.ip_address_details";
    put(
        &mut out,
        "source.geo.country_iso_code",
        at(&format!("{details}.country")),
    );
    put(
        &mut out,
        "source.geo.city_name",
        at(&format!("{details}.city")),
    );
    // ECS's AS number is a number; OpenAI writes it as text.
    let asn = at(&format!("{details}.asn")).map(|v| match v {
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map_or(Value::String(s), Value::from),
        other => other,
    });
    put(&mut out, "source.as.number", asn);
    put(&mut out, "openai.project.id", at("project.id"));
    put(&mut out, "openai.project.name", at("project.name"));
    // The event's own object sits under its type's name (a key with dots).
    if let Some(target) = value.get(kind).filter(|t| t.is_object()) {
        put(
            &mut out,
            "openai.audit.target.id",
            target.get("id").cloned(),
        );
        put(&mut out, "openai.audit.details", Some(target.clone()));
    }
    put_dataset(&mut out, DATASET);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_responses_stand_for_their_objects() {
        let Value::Object(mut list) = json!({"object":"list","data":[
            {"id":"audit_log-1","type":"project.archived","effective_at":1722461446,"actor":{"type":"api_key"}}
        ],"first_id":"audit_log-1","last_id":"audit_log-1","has_more":false}) else {
            unreachable!()
        };
        assert_eq!(list_items(&mut list).unwrap().len(), 1);
        let Value::Object(mut other) = json!({"object":"list","data":[{"id":"file-1"}]}) else {
            unreachable!()
        };
        assert!(list_items(&mut other).is_none());
    }
}
