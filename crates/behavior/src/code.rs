//! The codes table of the behavioural analyzers, and their rule metadata.
//!
//! The same shape as the content detectors' table (`modelward_detectors::CODES`), whose row
//! type that crate does not export; the CLI lists both tables.

use modelward_rule::RuleMeta;

use crate::analyzers;

/// One row of the codes table (the same type as the content detectors' table).
pub use modelward_rule::BuiltinCode as Code;

/// The family of the analyzers' rule metadata (`builtin:behavior/MW-AI-…`).
pub const FAMILY: &str = "behavior";

/// Every behavioural analyzer, sorted by code: the rows of the registry
/// (`analyzers::REGISTRY`), in its order, taken at compile time.
pub static CODES: &[Code] = &REGISTRY_CODES;

const REGISTRY_CODES: [Code; analyzers::REGISTRY.len()] = registry_codes(analyzers::REGISTRY);

/// The registry's codes, in its order; a registry not sorted by code (or with a code twice)
/// does not compile.
const fn registry_codes<const N: usize>(registry: &[analyzers::Entry]) -> [Code; N] {
    let mut out = [registry[0].code; N];
    let mut i = 1;
    while i < N {
        assert!(
            registry[i - 1].code.sorts_before(&registry[i].code),
            "the analyzers' registry is not sorted by code"
        );
        out[i] = registry[i].code;
        i += 1;
    }
    out
}

/// The rule metadata of an analyzer: its row's, tagged `behavioural`.
pub fn meta(code: &Code) -> RuleMeta {
    let mut meta = code.meta(FAMILY);
    meta.tags.push("behavioural".to_string());
    meta
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sorted_unique_documented_and_mapped() {
        assert_eq!(Code::table_problems(CODES), Vec::<String>::new());
        for c in CODES {
            let meta = meta(c);
            assert_eq!(meta.origin, format!("builtin:behavior/{}", c.code));
            assert!(meta.tags.iter().any(|t| t == "behavioural"));
        }
    }

    /// Each registry line's `build` makes the analyzer of its `CODE`, and every file of
    /// `analyzers/` with a `build` has its line (without it, the file compiles but its
    /// analyzer never runs and its code is not in `CODES`).
    #[test]
    fn every_analyzer_has_its_registry_line() {
        let settings = crate::Settings::default();
        for entry in analyzers::REGISTRY {
            assert_eq!((entry.build)(&settings).code(), entry.code.code);
        }
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/analyzers");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                std::fs::read_to_string(p)
                    .unwrap()
                    .contains("\npub fn build(")
            })
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut registered: Vec<&str> = analyzers::REGISTRY.iter().map(|e| e.module).collect();
        registered.sort();
        assert_eq!(
            registered, files,
            "a file with `pub fn build` but no registry line"
        );
    }
}
