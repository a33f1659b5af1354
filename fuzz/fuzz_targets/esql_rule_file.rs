//! Any UTF-8 text as a rule file, TOML or `.esql`: loading must return, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = modelward_esql::parse_toml_rule(text, "fuzz.toml");
    let _ = modelward_esql::parse_esql_file(text, "fuzz.esql");
});
