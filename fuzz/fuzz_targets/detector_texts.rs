//! Arbitrary prompt and completion text through every built-in detector: no panic, and the
//! shared keyword pass finds exactly what each detector finds on its own.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use modelward_detectors::{Detectors, Settings};
use modelward_event::Event;

fn detectors() -> &'static Detectors {
    static D: OnceLock<Detectors> = OnceLock::new();
    D.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("mw-fuzz-texts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let feed = dir.join("feed.txt");
        std::fs::write(
            &feed,
            "https://evil.example/login\nbad-bank.test\nmünchen-login.test\n",
        )
        .expect("feed");
        Detectors::new(&Settings {
            phishing_feeds: vec![feed],
            ..Settings::default()
        })
        .expect("detectors")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mid = (0..=text.len() / 2)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let (prompt, completion) = text.split_at(mid);
    let doc = serde_json::json!({"gen_ai": {"prompt": prompt, "completion": completion}});
    let Ok(event) = Event::from_json(&doc.to_string()) else {
        return;
    };
    let d = detectors();
    assert_eq!(d.inspect(&event), d.inspect_each_alone(&event));
});
