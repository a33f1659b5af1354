//! Any text through the output escapers and the masking every output goes through: none may
//! panic, and each keeps its promise. `terminal::printable` leaves nothing a terminal acts on;
//! `printable_json` of a JSON string is JSON for the same string; `csv::field` is one RFC 4180
//! field (quoted when it must be, never starting a formula); `report::escape_html` leaves no
//! markup; `secret::mask` is idempotent and `mask_json` keeps a document JSON; a secret
//! planted in the text does not survive masking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelward_event::{csv, secret, terminal};

const PLANTED: &str = "ghp_Iw60f8idwH8q4H9GdCGbjaLCY8EoSjRkGNyp";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();

    let shown = terminal::printable(text);
    assert!(!shown.chars().any(terminal::hostile), "{shown:?}");
    let lines = terminal::printable_text(text);
    assert!(
        !lines
            .chars()
            .any(|c| c != '\n' && c != '\t' && terminal::hostile(c)),
        "{lines:?}"
    );

    let json = serde_json::to_string(text).unwrap();
    let safe = terminal::printable_json(&json);
    assert!(!safe.chars().any(|c| c != ' ' && terminal::hostile(c)));
    let back: String = serde_json::from_str(&safe).expect("printable_json keeps JSON");
    assert_eq!(back, text);

    let cell = csv::field(text);
    assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']));
    if cell.contains([',', '"', '\r', '\n']) {
        assert!(cell.starts_with('"') && cell.ends_with('"') && cell.len() >= 2);
        assert!(!cell[1..cell.len() - 1].replace("\"\"", "").contains('"'));
    }

    let html = modelward_respond::report::escape_html(text);
    assert!(!html.contains(['<', '>', '"', '\'']));

    let masked = secret::mask(text);
    assert_eq!(secret::mask(&masked), masked, "masking is idempotent");
    let with_key_ids = secret::mask_with_key_ids(text);
    let _ = secret::mask_with_key_ids(&with_key_ids);

    // A secret planted among the text is masked, wherever it lands.
    let cut = (0..=text.len().min(64))
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    let planted = format!("{} {PLANTED} {}", &text[..cut], &text[cut..]);
    assert!(
        !secret::mask(&planted).contains(&PLANTED[4..16]),
        "{planted:?}"
    );

    let mut doc = serde_json::json!({ "v": text, text: [text, 1] });
    secret::mask_json(&mut doc);
    let written = doc.to_string();
    let _: serde_json::Value = serde_json::from_str(&written).unwrap();
});
