//! Severities that separate what matters (issue 14, item 8): the built-in detectors' and
//! analyzers' severities follow the criteria of docs/detectors.md ("Severities": impact ×
//! confidence), so they are not all one level, and the alerts that mean a credential, a
//! model's weights or its behaviour has left rank high.

use std::collections::BTreeMap;

use modelward_rule::Severity;

fn all() -> Vec<(&'static str, Severity)> {
    modelward_detectors::CODES
        .iter()
        .chain(modelward_behavior::CODES.iter())
        .map(|c| (c.code, c.severity))
        .collect()
}

#[test]
fn the_distribution_is_not_flat() {
    let codes = all();
    let mut by: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, s) in &codes {
        *by.entry(s.as_str()).or_default() += 1;
    }
    assert!(by.len() >= 3, "{by:?}");
    let most = by.values().max().copied().unwrap_or_default();
    assert!(
        most * 2 <= codes.len() + 1,
        "one severity holds more than half the codes: {by:?}"
    );
}

#[test]
fn what_has_left_ranks_high_and_what_was_stopped_low() {
    let codes: BTreeMap<_, _> = all().into_iter().collect();
    for (code, what) in [
        ("MW-AI-0001", "credential theft: a credential in a response"),
        ("MW-TH-0007", "weights exfiltration"),
        ("MW-TH-0001", "model extraction: logit extraction"),
        ("MW-TH-0005", "model extraction distributed across accounts"),
        ("MW-AI-0021", "a copy of a registered model found"),
    ] {
        let s = codes[code];
        assert!(s >= Severity::High, "{code} ({what}) is {}", s.as_str());
        assert!(
            s.default_risk_score() > Severity::Medium.default_risk_score(),
            "{code}"
        );
    }
    // A jailbreak the shield blocked reached nothing: below one that was only detected.
    assert!(codes["MW-AI-0002"] < codes["MW-AI-0003"]);
}
