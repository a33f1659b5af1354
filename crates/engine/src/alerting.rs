//! Turning result rows into alerts: fields, entity, ids.

use serde_json::{Map, Value as Json};

use modelward_esql::Value;

/// The result row's columns as alert fields; null columns are left out, as Kibana asks
/// ES|QL with `drop_null_columns`.
pub fn row_fields(columns: &[String], values: &[Value]) -> Map<String, Json> {
    let mut fields = Map::new();
    for (c, v) in columns.iter().zip(values) {
        if !v.is_null() {
            fields.insert(c.clone(), v.to_json());
        }
    }
    fields
}

/// Fields naming who made a request, in the order an alert's entity prefers them (an
/// exception's `principals` match any of them).
pub(crate) const PRINCIPAL: [&str; 6] = [
    "user.id",
    "user.name",
    "api_key.id",
    "azure.open_ai.properties.object_id",
    "aws.bedrock.identity.arn",
    "principal",
];
/// Fields of the caller's address, likewise.
pub(crate) const SOURCE_IP: [&str; 2] = ["source.ip", "client.ip"];
const MODEL: [&str; 4] = [
    "gen_ai.request.model",
    "azure.open_ai.properties.model_name",
    "azure.open_ai.properties.model_deployment_name",
    "gen_ai.response.model",
];

/// Who or what an alert is about, from well-known field names among its fields.
pub fn entity_of(
    fields: &Map<String, Json>,
    lookup: &dyn Fn(&str) -> Option<Json>,
) -> Map<String, Json> {
    let get = |name: &str| {
        fields
            .get(name)
            .cloned()
            .or_else(|| lookup(name))
            .filter(|v| !v.is_null())
    };
    let first = |names: &[&str]| names.iter().find_map(|n| get(n));
    let mut entity = Map::new();
    if let Some(v) = first(&PRINCIPAL) {
        entity.insert("principal".into(), scalar_text(v));
    }
    if let Some(v) = first(&SOURCE_IP) {
        entity.insert("source.ip".into(), scalar_text(v));
    }
    let resource = match (get("azure.resource.group"), get("azure.resource.name")) {
        (Some(g), Some(n)) => Some(Json::String(format!("{}/{}", text(&g), text(&n)))),
        (None, Some(n)) => Some(scalar_text(n)),
        _ => first(&["cloud.resource.name", "url.domain", "bucket.name"]),
    };
    if let Some(v) = resource {
        entity.insert("resource".into(), scalar_text(v));
    }
    if let Some(v) = first(&MODEL) {
        entity.insert("model".into(), scalar_text(v));
    }
    entity
}

fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn scalar_text(v: Json) -> Json {
    match v {
        Json::String(_) => v,
        Json::Array(items) => Json::String(items.iter().map(text).collect::<Vec<_>>().join(",")),
        other => Json::String(other.to_string()),
    }
}

/// A stable 64-bit id (FNV-1a) of parts, as 16 hex digits.
pub fn stable_id(parts: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0xff)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entity_from_fields() {
        let Json::Object(fields) = json!({"azure.resource.group": "rg", "azure.resource.name": "oai", "source.ip": "10.0.0.1"})
        else {
            unreachable!()
        };
        let e = entity_of(&fields, &|_| None);
        assert_eq!(
            Json::Object(e),
            json!({"resource": "rg/oai", "source.ip": "10.0.0.1"})
        );
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(stable_id(&["a", "b"]), stable_id(&["a", "b"]));
        assert_ne!(stable_id(&["ab", ""]), stable_id(&["a", "b"]));
        assert_eq!(stable_id(&["x"]).len(), 16);
    }
}
