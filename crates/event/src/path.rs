//! Dotted field paths over nested and flattened JSON objects.

use serde_json::{Map, Value};

/// Collects every value at `path` into `out`.
///
/// At each object the path may continue through any key equal to a dot-separated prefix of
/// what remains, so `a.b.c` finds `{"a":{"b":{"c":1}}}`, `{"a.b":{"c":1}}`, `{"a.b.c":1}`.
/// Arrays met along the way are walked element by element; an array at the end contributes
/// each of its (non-array) elements, arrays of arrays are flattened. JSON `null` contributes
/// nothing, as a missing field.
pub fn lookup<'a>(obj: &'a Map<String, Value>, path: &str, out: &mut Vec<&'a Value>) {
    if let Some(value) = obj.get(path) {
        push_leaf(value, out);
    }
    let bytes = path.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b != b'.' {
            continue;
        }
        if let Some(inner) = obj.get(&path[..i]) {
            descend(inner, &path[i + 1..], out);
        }
    }
}

/// Whether the field at `path` is present, even with a `null` value (Sigma's `exists`).
pub fn exists(obj: &Map<String, Value>, path: &str) -> bool {
    if obj.contains_key(path) {
        return true;
    }
    path.bytes().enumerate().any(|(i, b)| {
        b == b'.'
            && obj.get(&path[..i]).is_some_and(|inner| match inner {
                Value::Object(map) => exists(map, &path[i + 1..]),
                Value::Array(items) => items
                    .iter()
                    .any(|item| item.as_object().is_some_and(|m| exists(m, &path[i + 1..]))),
                _ => false,
            })
    })
}

fn descend<'a>(value: &'a Value, rest: &str, out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => lookup(map, rest, out),
        Value::Array(items) => {
            for item in items {
                descend(item, rest, out);
            }
        }
        _ => {}
    }
}

fn push_leaf<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Null => {}
        Value::Array(items) => {
            for item in items {
                push_leaf(item, out);
            }
        }
        other => out.push(other),
    }
}

/// Calls `f(path, value)` for every leaf of `obj` with its full dotted path; arrays of scalars
/// are passed whole as one leaf (a multi-valued field), arrays of objects are walked.
pub fn for_each_leaf<'a>(obj: &'a Map<String, Value>, f: &mut dyn FnMut(&str, &'a Value)) {
    let mut prefix = String::new();
    walk(obj, &mut prefix, f);
}

fn walk<'a>(obj: &'a Map<String, Value>, prefix: &mut String, f: &mut dyn FnMut(&str, &'a Value)) {
    for (key, value) in obj {
        let len = prefix.len();
        if !prefix.is_empty() {
            prefix.push('.');
        }
        prefix.push_str(key);
        match value {
            Value::Object(inner) => walk(inner, prefix, f),
            Value::Array(items) if items.iter().any(Value::is_object) => {
                for item in items {
                    if let Value::Object(inner) = item {
                        walk(inner, prefix, f);
                    }
                }
            }
            _ => f(prefix, value),
        }
        prefix.truncate(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(doc: Value, path: &str) -> Vec<Value> {
        let Value::Object(map) = doc else {
            panic!("not an object")
        };
        let mut out = Vec::new();
        lookup(&map, path, &mut out);
        out.into_iter().cloned().collect()
    }

    #[test]
    fn nested_flat_and_mixed() {
        assert_eq!(values(json!({"a":{"b":{"c":1}}}), "a.b.c"), vec![json!(1)]);
        assert_eq!(values(json!({"a.b.c":1}), "a.b.c"), vec![json!(1)]);
        assert_eq!(values(json!({"a":{"b.c":1}}), "a.b.c"), vec![json!(1)]);
        assert_eq!(values(json!({"a.b":{"c":1}}), "a.b.c"), vec![json!(1)]);
    }

    #[test]
    fn both_forms_present_give_both_values() {
        let got = values(json!({"a.b":1,"a":{"b":2}}), "a.b");
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn arrays_are_multi_valued() {
        assert_eq!(
            values(json!({"t":["x","y"]}), "t"),
            vec![json!("x"), json!("y")]
        );
        assert_eq!(
            values(json!({"a":[{"b":1},{"b":2}]}), "a.b"),
            vec![json!(1), json!(2)]
        );
        assert_eq!(
            values(json!({"t":[["x"],["y"]]}), "t"),
            vec![json!("x"), json!("y")]
        );
    }

    #[test]
    fn null_and_missing_give_nothing() {
        assert!(values(json!({"a":null}), "a").is_empty());
        assert!(values(json!({"a":{"b":1}}), "a.c").is_empty());
        assert!(values(json!({"a":1}), "a.b").is_empty());
    }

    #[test]
    fn exists_counts_explicit_nulls() {
        let Value::Object(map) = json!({"a":{"b":null},"c.d":1,"e":[{"f":2}]}) else {
            unreachable!()
        };
        assert!(exists(&map, "a.b"));
        assert!(exists(&map, "c.d"));
        assert!(exists(&map, "e.f"));
        assert!(!exists(&map, "a.x"));
        assert!(!exists(&map, "z"));
    }

    #[test]
    fn leaves_have_full_paths() {
        let Value::Object(map) = json!({"a":{"b":1,"c":[1,2]},"d.e":"x","f":[{"g":1}]}) else {
            unreachable!()
        };
        let mut seen = Vec::new();
        for_each_leaf(&map, &mut |p, _| seen.push(p.to_string()));
        seen.sort();
        assert_eq!(seen, vec!["a.b", "a.c", "d.e", "f.g"]);
    }
}
