//! Any UTF-8 text as an ES|QL query: parsing and planning must return, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelward_esql::{Plan, PlanOptions};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if modelward_esql::parser::parse(text).is_ok() {
        let _ = Plan::compile(text, &PlanOptions::default());
    }
});
