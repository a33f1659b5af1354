//! The normalizers' contract with the prefilter, on every fixture: each value of a
//! normalized document is a copy of the raw record or in a field the normalizer declares it
//! writes itself, within the declared domain (`source::contract`).

mod common;

use modelward_event::input::parse_record;
use modelward_event::source::{check_provenance, normalizer_for, Normalized, SourceKind, REGISTRY};

/// Every raw fixture of every source: `(path, bytes)`.
fn raw_fixtures() -> Vec<(String, Vec<u8>)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(&root).unwrap().flatten().collect();
    dirs.sort_by_key(|d| d.path());
    for dir in dirs {
        let mut files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        files.sort_by_key(|f| f.path());
        for file in files {
            let path = file.path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.contains(".raw.") {
                out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out
}

#[test]
fn every_fixture_keeps_the_contract() {
    let fixtures = raw_fixtures();
    assert!(fixtures.len() >= 30, "fixtures found: {}", fixtures.len());
    let mut failures = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (path, raw) in &fixtures {
        let trimmed = raw.trim_ascii();
        let objects = parse_record(trimmed).unwrap_or_else(|e| panic!("{path}: {e:?}"));
        for object in objects {
            // The fixture's directory names its source; the record is normalized as when
            // that source is forced (an Elastic-form record is only recognised then).
            let normalizer = REGISTRY
                .iter()
                .find(|n| path.contains(&format!("/{}/", n.name())))
                .copied()
                .or_else(|| normalizer_for(&object, SourceKind::Auto))
                .unwrap_or_else(|| panic!("{path}: no normalizer recognises it"));
            seen.insert(normalizer.name());
            let doc = match normalizer.normalize(object) {
                Ok(Normalized::Event(doc) | Normalized::Partial(doc, _)) => doc,
                Err(_) => continue,
            };
            for v in check_provenance(trimmed, &doc, &normalizer.synthesized()) {
                failures.push(format!("{path} ({}): {v}", normalizer.name()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every registered normalizer has fixtures.
    let names: std::collections::BTreeSet<_> = REGISTRY.iter().map(|n| n.name()).collect();
    let untested: Vec<_> = names.difference(&seen).collect();
    assert!(
        untested.is_empty(),
        "normalizers without fixtures: {untested:?}"
    );
}
