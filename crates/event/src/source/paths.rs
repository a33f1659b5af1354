//! Dotted-path reads and writes on JSON documents, for normalizers that build their output
//! field by field, and the whole-document steps the Elastic pipelines share.

use serde_json::{Map, Value};

/// The value at `path` (`a.b.c`), None when missing or null.
pub(crate) fn get<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(v, |cur, key| cur.get(key))
        .filter(|v| !v.is_null())
}

/// A non-empty string at `path`.
pub(crate) fn text<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    get(v, path)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Sets `path` to `value`, creating the objects on the way (a non-object in the way is
/// replaced); None and null write nothing.
pub(crate) fn put(out: &mut Map<String, Value>, path: &str, value: Option<Value>) {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return;
    };
    match path.split_once('.') {
        None => {
            out.insert(path.to_string(), value);
        }
        Some((head, rest)) => {
            let entry = out
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(inner) = entry {
                put(inner, rest, Some(value));
            }
        }
    }
}

/// An event's data stream (`dataset`, namespace `default`, type `logs`) and
/// `event.dataset`, as Elastic Agent sets them.
pub(crate) fn put_dataset(out: &mut Map<String, Value>, dataset: &str) {
    put(
        out,
        "data_stream",
        Some(serde_json::json!({"dataset": dataset, "namespace": "default", "type": "logs"})),
    );
    put(
        out,
        "event.dataset",
        Some(Value::String(dataset.to_string())),
    );
}

/// The last script of the Elastic integrations' pipelines: drops `null` and `""`, then
/// empty objects and arrays, recursively.
pub(crate) fn drop_empty_values(doc: &mut Map<String, Value>) {
    doc.retain(|_, value| !prune(value));
}

/// Prunes `value` in place and says whether it should itself be dropped.
fn prune(value: &mut Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        Value::Object(map) => {
            map.retain(|_, item| !prune(item));
            map.is_empty()
        }
        Value::Array(items) => {
            items.retain_mut(|item| !prune(item));
            items.is_empty()
        }
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Nests an event's dotted keys (`{"a.b": 1}` -> `{"a": {"b": 1}}`), merging objects
/// that meet; keys with an empty segment (`a..b`, `.a`) stay as they are. Err names the key
/// whose value collides with a non-object already there.
pub(crate) fn expand_dotted_keys(map: Map<String, Value>) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (key, value) in map {
        let value = match value {
            Value::Object(inner) => Value::Object(expand_dotted_keys(inner)?),
            other => other,
        };
        let segments: Vec<&str> = key.split('.').collect();
        if segments.iter().any(|segment| segment.is_empty()) {
            merge_at(&mut out, &[key.as_str()], value, &key)?;
        } else {
            merge_at(&mut out, &segments, value, &key)?;
        }
    }
    Ok(out)
}

fn merge_at(
    target: &mut Map<String, Value>,
    segments: &[&str],
    value: Value,
    full_key: &str,
) -> Result<(), String> {
    let Some((first, rest)) = segments.split_first() else {
        return Ok(());
    };
    if !rest.is_empty() {
        let slot = target
            .entry((*first).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        return match slot {
            Value::Object(inner) => merge_at(inner, rest, value, full_key),
            _ => Err(full_key.to_owned()),
        };
    }
    match (target.get_mut(*first), value) {
        (None, value) => {
            target.insert((*first).to_owned(), value);
            Ok(())
        }
        (Some(Value::Object(existing)), Value::Object(incoming)) => {
            for (key, item) in incoming {
                merge_at(existing, &[key.as_str()], item, full_key)?;
            }
            Ok(())
        }
        (Some(_), _) => Err(full_key.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn put_creates_and_replaces_get_skips_null() {
        let mut out = Map::new();
        put(&mut out, "a", Some(json!(1)));
        put(&mut out, "a.b", Some(json!(2)));
        put(&mut out, "c.d", None);
        put(&mut out, "e", Some(Value::Null));
        let doc = Value::Object(out);
        assert_eq!(doc, json!({"a": {"b": 2}}));
        assert_eq!(get(&doc, "a.b"), Some(&json!(2)));
        assert_eq!(get(&json!({"x": null}), "x"), None);
    }
}
