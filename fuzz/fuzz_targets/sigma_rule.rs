//! Arbitrary text as a Sigma rule file: loading never panics, and a rule that loads can be
//! matched against an event built from the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelward_event::Event;
use modelward_sigma::SigmaSet;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut set = SigmaSet::default();
    let _ = set.add_file(text, "fuzz.yml");
    let _ = set.resolve();
    let event =
        Event::from_json(r#"{"a":"x","b":{"c":[1,"two",null]},"CommandLine":"cmd /c whoami"}"#)
            .expect("event");
    for rule in &set.rules {
        let _ = rule.matches(&event);
    }
});
