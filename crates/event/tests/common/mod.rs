//! Shared by the normalizers' fixture tests: reading fixtures, and a readable diff of two
//! JSON documents.
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// `tests/fixtures/<source>`.
pub fn fixtures_dir(source: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(source)
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

pub fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("expected a JSON object, got {other}"),
    }
}

/// Every leaf of `value` keyed by its dotted path (array items as `[i]`).
pub fn leaves(value: &Value, prefix: &str, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, item) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                leaves(item, &path, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (index, item) in items.iter().enumerate() {
                leaves(item, &format!("{prefix}[{index}]"), out);
            }
        }
        leaf => {
            out.insert(prefix.to_owned(), leaf.to_string());
        }
    }
}

pub fn json_diff(expected: &Value, actual: &Value) -> String {
    let (mut want, mut got) = (BTreeMap::new(), BTreeMap::new());
    leaves(expected, "", &mut want);
    leaves(actual, "", &mut got);
    let mut lines = Vec::new();
    for (path, value) in &want {
        match got.get(path) {
            None => lines.push(format!("  missing  {path} = {value}")),
            Some(other) if other != value => {
                lines.push(format!("  changed  {path}: expected {value}, got {other}"));
            }
            Some(_) => {}
        }
    }
    for (path, value) in &got {
        if !want.contains_key(path) {
            lines.push(format!("  extra    {path} = {value}"));
        }
    }
    lines.join("\n")
}

/// Names of the `*.raw.json` fixtures of a source, sorted.
pub fn fixture_names(source: &str) -> Vec<String> {
    names_ending(source, ".raw.json")
}

/// Names of the `*.raw.log` fixtures of a source (text formats, one record a line), sorted.
pub fn line_fixture_names(source: &str) -> Vec<String> {
    names_ending(source, ".raw.log")
}

/// Names of the fixtures of a source whose file name ends with `suffix`, sorted.
fn names_ending(source: &str, suffix: &str) -> Vec<String> {
    let entries = std::fs::read_dir(fixtures_dir(source)).expect("fixtures directory");
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| entry.file_name().to_str().map(str::to_owned))
        .filter_map(|name| name.strip_suffix(suffix).map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// The raw record of fixture `name`.
pub fn fixture(source: &str, name: &str) -> Map<String, Value> {
    object(read_json(
        &fixtures_dir(source).join(format!("{name}.raw.json")),
    ))
}

/// Normalizes every fixture of `source` and compares it with its `*.expected.json`; panics
/// with a diff per mismatch. There must be at least `min` fixtures.
pub fn assert_fixtures_normalize(
    source: &str,
    min: usize,
    normalize: impl Fn(Map<String, Value>) -> Result<Map<String, Value>, String>,
) {
    assert_each_normalizes(source, min, &fixture_names(source), |name| {
        normalize(fixture(source, name))
    });
}

/// Like [`assert_fixtures_normalize`] for a line format: the first line of every
/// `*.raw.log` fixture goes through `normalize` (which parses and normalizes it) and is
/// compared with its `*.expected.json`.
pub fn assert_line_fixtures_normalize(
    source: &str,
    min: usize,
    normalize: impl Fn(&[u8]) -> Result<Map<String, Value>, String>,
) {
    assert_each_normalizes(source, min, &line_fixture_names(source), |name| {
        let raw =
            std::fs::read(fixtures_dir(source).join(format!("{name}.raw.log"))).expect("fixture");
        normalize(raw.split(|b| *b == b'\n').next().unwrap_or_default())
    });
}

/// Compares what `normalize` makes of each of the fixtures `names` (at least `min`) with
/// its `*.expected.json`; panics with a diff per mismatch.
fn assert_each_normalizes(
    source: &str,
    min: usize,
    names: &[String],
    normalize: impl Fn(&str) -> Result<Map<String, Value>, String>,
) {
    assert!(
        names.len() >= min,
        "expected at least {min} fixtures, found {names:?}"
    );
    let mut failures = Vec::new();
    for name in names {
        let expected = read_json(&fixtures_dir(source).join(format!("{name}.expected.json")));
        match normalize(name) {
            Ok(actual) => {
                let actual = Value::Object(actual);
                if actual != expected {
                    failures.push(format!("{name}:\n{}", json_diff(&expected, &actual)));
                }
            }
            Err(error) => failures.push(format!("{name}: normalize failed: {error}")),
        }
    }
    assert!(
        failures.is_empty(),
        "fixture mismatches:\n{}",
        failures.join("\n")
    );
}
