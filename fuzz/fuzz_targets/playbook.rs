//! Arbitrary text as a playbook file: an error with a position or a checked playbook, never a
//! panic; the built-in PB-53 with arbitrary bytes appended or spliced in the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelward_respond::playbook::{Condition, Playbook, PB53};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = Playbook::parse(&text, "fuzz.toml");
    let mut spliced = PB53.to_string();
    let at = (data.first().copied().unwrap_or(0) as usize * PB53.len() / 256).min(PB53.len());
    if PB53.is_char_boundary(at) {
        spliced.insert_str(at, &text);
        let _ = Playbook::parse(&spliced, "fuzz.toml");
    }
    let parts: Vec<String> = text.lines().map(str::to_string).collect();
    let _ = Condition::parse(&parts);
});
