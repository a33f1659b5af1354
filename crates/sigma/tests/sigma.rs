//! Sigma semantics, rule by rule, on events.

use std::sync::Arc;

use modelward_event::Event;
use modelward_sigma::correlation::{evaluate, Hit, Limits};
use modelward_sigma::{SigmaSet, Source};
use serde_json::{json, Value};

fn set(yaml: &str) -> SigmaSet {
    let mut s = SigmaSet::default();
    let errors = s.add_file(yaml, "test.yml");
    assert!(errors.is_empty(), "{errors:?}");
    let errors = s.resolve();
    assert!(errors.is_empty(), "{errors:?}");
    s
}

fn errors(yaml: &str) -> Vec<String> {
    let mut s = SigmaSet::default();
    let mut e = s.add_file(yaml, "bad.yml");
    e.extend(s.resolve());
    e.iter().map(|e| e.to_string()).collect()
}

fn event(v: Value) -> Event {
    Event::from_json(&v.to_string()).unwrap()
}

/// A rule with one detection: `detection` is the YAML body under `detection:`.
fn rule(detection: &str) -> SigmaSet {
    set(&format!(
        "title: t\nlogsource:\n  product: test\ndetection:\n{detection}\n"
    ))
}

fn matches(s: &SigmaSet, v: Value) -> bool {
    s.rules[0].matches(&event(v))
}

#[test]
fn maps_are_and_lists_are_or() {
    let s = rule("  sel:\n    a: x\n    b: [y, z]\n  condition: sel");
    assert!(matches(&s, json!({"a": "x", "b": "z"})));
    assert!(matches(&s, json!({"a": "X", "b": "Y"})), "case-insensitive");
    assert!(!matches(&s, json!({"a": "x", "b": "w"})));
    assert!(!matches(&s, json!({"b": "y"})));
    let s = rule("  sel:\n    - a: x\n    - b: y\n  condition: sel");
    assert!(matches(&s, json!({"b": "y"})));
}

#[test]
fn wildcards_and_escaping() {
    // `\\*` is a backslash then a wildcard; `\*` alone is a literal star.
    let s = rule("  sel:\n    p: 'C:\\Windows\\\\*\\cmd.exe'\n  condition: sel");
    assert!(matches(&s, json!({"p": "c:\\windows\\system32\\CMD.EXE"})));
    let s = rule("  sel:\n    p: 'C:\\Windows\\*\\cmd.exe'\n  condition: sel");
    assert!(matches(&s, json!({"p": "C:\\Windows*\\cmd.exe"})));
    assert!(!matches(&s, json!({"p": "C:\\Windows\\System32\\cmd.exe"})));
    let s = rule("  sel:\n    p: 'a\\*b'\n  condition: sel");
    assert!(matches(&s, json!({"p": "a*b"})));
    assert!(!matches(&s, json!({"p": "aXb"})));
    let s = rule("  sel:\n    p: 'a?c'\n  condition: sel");
    assert!(matches(&s, json!({"p": "abc"})) && !matches(&s, json!({"p": "ac"})));
}

#[test]
fn modifiers_contains_startswith_endswith_all_cased() {
    let s =
        rule("  sel:\n    cmd|contains|all:\n      - ' -enc '\n      - 'hidden'\n  condition: sel");
    assert!(matches(&s, json!({"cmd": "powershell -ENC xyz -w HIDDEN"})));
    assert!(!matches(&s, json!({"cmd": "powershell -enc xyz"})));
    let s = rule("  sel:\n    ua|startswith: 'python-requests'\n  condition: sel");
    assert!(matches(&s, json!({"ua": "Python-Requests/2.31"})));
    let s = rule("  sel:\n    f|endswith|cased: '.Safetensors'\n  condition: sel");
    assert!(
        matches(&s, json!({"f": "model.Safetensors"}))
            && !matches(&s, json!({"f": "model.safetensors"}))
    );
}

#[test]
fn numbers_nulls_and_exists() {
    let s = rule("  sel:\n    EventID: 4624\n  condition: sel");
    assert!(matches(&s, json!({"EventID": 4624})) && matches(&s, json!({"EventID": "4624"})));
    let s = rule("  sel:\n    user: null\n  condition: sel");
    assert!(
        matches(&s, json!({"user": null}))
            && matches(&s, json!({}))
            && !matches(&s, json!({"user": "x"}))
    );
    let s = rule("  sel:\n    user|exists: true\n  condition: sel");
    assert!(matches(&s, json!({"user": null})) && !matches(&s, json!({})));
    let s = rule("  sel:\n    user: ''\n  condition: sel");
    assert!(matches(&s, json!({"user": ""})) && !matches(&s, json!({})));
}

#[test]
fn numeric_comparisons_and_neq() {
    let s = rule("  sel:\n    tokens|gte: 1000\n  condition: sel");
    assert!(
        matches(&s, json!({"tokens": 1000}))
            && matches(&s, json!({"tokens": "4096"}))
            && !matches(&s, json!({"tokens": 999}))
    );
    let s = rule("  sel:\n    status|neq: 200\n  condition: sel");
    assert!(matches(&s, json!({"status": 500})) && !matches(&s, json!({"status": 200})));
}

#[test]
fn regex_with_flags_and_cidr() {
    let s = rule("  sel:\n    ua|re: '^curl/[0-9.]+$'\n  condition: sel");
    assert!(matches(&s, json!({"ua": "curl/8.4.0"})) && !matches(&s, json!({"ua": "CURL/8.4.0"})));
    let s = rule("  sel:\n    ua|re|i: '^curl/'\n  condition: sel");
    assert!(matches(&s, json!({"ua": "CURL/8.4.0"})));
    let s =
        rule("  sel:\n    ip|cidr:\n      - 10.0.0.0/8\n      - '2001:db8::/32'\n  condition: sel");
    assert!(
        matches(&s, json!({"ip": "10.1.2.3"}))
            && matches(&s, json!({"ip": "2001:db8::1"}))
            && !matches(&s, json!({"ip": "11.0.0.1"}))
    );
}

#[test]
fn encodings_windash_base64offset_wide() {
    let s = rule("  sel:\n    cmd|windash|contains: ' -encodedcommand '\n  condition: sel");
    assert!(matches(
        &s,
        json!({"cmd": "powershell /encodedcommand AAA"})
    ));
    assert!(matches(
        &s,
        json!({"cmd": "powershell \u{2013}encodedcommand AAA"})
    ));
    let s = rule("  sel:\n    body|base64offset|contains: 'foobar'\n  condition: sel");
    for encoded in ["xxZm9vYmFyxx", "Zvb2Jhc", "xmb29iYX"] {
        assert!(matches(&s, json!({"body": encoded})), "{encoded}");
    }
    let s = rule("  sel:\n    body|wide|base64offset|contains: 'cmd'\n  condition: sel");
    assert!(matches(&s, json!({"body": "..YwBtAGQA.."})));
    let s = rule("  sel:\n    body|base64: 'cmd'\n  condition: sel");
    assert!(matches(&s, json!({"body": "Y21k"})) && !matches(&s, json!({"body": "xY21k"})));
}

#[test]
fn keywords_search_every_value() {
    let s = rule("  keywords:\n    - 'ignore previous instructions'\n    - 'DAN mode'\n  condition: keywords");
    assert!(matches(
        &s,
        json!({"gen_ai": {"prompt": "Please IGNORE previous instructions and..."}})
    ));
    assert!(!matches(&s, json!({"gen_ai": {"prompt": "hello"}})));
    let s =
        rule("  keywords:\n    '|all':\n      - 'alpha'\n      - 'beta'\n  condition: keywords");
    assert!(
        matches(&s, json!({"a": "alpha", "b": ["x", "beta"]}))
            && !matches(&s, json!({"a": "alpha"}))
    );
}

#[test]
fn conditions_one_of_all_of_not() {
    let d = "  selection_a:\n    a: 1\n  selection_b:\n    b: 1\n  filter:\n    c: 1\n  _hidden:\n    d: 1\n  condition: 1 of selection_* and not filter";
    let s = rule(d);
    assert!(matches(&s, json!({"b": 1})) && !matches(&s, json!({"b": 1, "c": 1})));
    let s = rule("  sel1:\n    a: 1\n  sel2:\n    b: 1\n  _x:\n    z: 1\n  condition: all of them");
    assert!(matches(&s, json!({"a": 1, "b": 1})), "`them` leaves out _x");
    let s = rule("  sel:\n    a: 1\n  other:\n    b: 1\n  condition:\n    - sel\n    - other");
    assert!(matches(&s, json!({"b": 1})), "a list of conditions is OR");
}

#[test]
fn fieldref_and_time_parts() {
    let s = rule("  sel:\n    src|fieldref: dst\n  condition: sel");
    assert!(
        matches(&s, json!({"src": "A", "dst": "a"}))
            && !matches(&s, json!({"src": "a", "dst": "b"}))
    );
    let s = rule("  sel:\n    '@timestamp|hour|gte': 22\n  condition: sel");
    assert!(
        matches(&s, json!({"@timestamp": "2025-01-01T23:10:00Z"}))
            && !matches(&s, json!({"@timestamp": "2025-01-01T08:00:00Z"}))
    );
}

#[test]
fn errors_name_line_and_column() {
    let e = errors("title: t\nlogsource: {product: x}\ndetection:\n  sel:\n    a|frobnicate: 1\n  condition: sel\n");
    assert_eq!(e, vec!["bad.yml:5:5: unknown modifier `frobnicate`"]);
    let e = errors("title: t\nlogsource: {product: x}\ndetection:\n  sel:\n    a|contians: x\n  condition: sel\n");
    assert_eq!(
        e,
        vec!["bad.yml:5:5: unknown modifier `contians` (did you mean `contains`?)"]
    );
    let e = errors("title: t\nlogsource: {product: x}\ndetection:\n  sel:\n    a: 1\n  condition: sel and nope\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("bad.yml:6:"), "{e:?}");
    assert!(e[0].contains("nope"), "{e:?}");
    let e = errors("title: t\nlogsource: {product: x}\ndetection:\n  sel:\n    a|re: '(unclosed'\n  condition: sel\n");
    assert!(e[0].contains("invalid regular expression"), "{e:?}");
    let e = errors("title: t\nlogsource: {product: x}\ndetection:\n  sel:\n    a: 1\n  condition: sel | count() > 5\n");
    assert!(e[0].contains("correlation"), "{e:?}");
    let e = errors("title: [unclosed\n");
    assert!(e[0].starts_with("bad.yml:"), "{e:?}");
}

#[test]
fn multi_document_files_keep_good_rules_and_report_bad_ones() {
    let mut s = SigmaSet::default();
    let text = "title: good\nlogsource: {product: x}\ndetection: {sel: {a: 1}, condition: sel}\n---\ntitle: bad\nlogsource: {product: x}\ndetection: {sel: {a|nope: 1}, condition: sel}\n---\ntitle: good2\nlogsource: {product: x}\ndetection: {sel: {b: 1}, condition: sel}\n";
    let errors = s.add_file(text, "multi.yml");
    assert_eq!(errors.len(), 1);
    assert_eq!(s.rules.len(), 2);
}

fn hits(s: &SigmaSet, source: usize, events: &[(i64, Value)]) -> Vec<Hit> {
    events
        .iter()
        .map(|(ts, v)| Hit {
            ts: *ts,
            source,
            event: Arc::new(event(v.clone())),
        })
        .collect::<Vec<_>>()
        .into_iter()
        .inspect(|_| {
            let _ = s;
        })
        .collect()
}

const CORRELATED: &str = "title: Many failed logins\nname: failed_login\nlogsource: {product: x}\ndetection: {sel: {outcome: failure}, condition: sel}\n---\ntitle: Brute force\nid: 0e95725d-7320-415d-80f7-004da920fc11\ncorrelation:\n  type: event_count\n  rules: failed_login\n  group-by: [user]\n  timespan: 10m\n  condition:\n    gte: 10\n";

#[test]
fn event_count_uses_a_sliding_window() {
    let s = set(CORRELATED);
    assert!(
        !s.rules[0].emits,
        "a rule a correlation uses raises no alert of its own"
    );
    assert_eq!(s.correlations[0].sources, vec![Source::Rule(0)]);
    let minute = 60_000;
    // Ten failures from 09:55 to 10:04: no fixed 10-minute bucket holds them all, the
    // sliding window does.
    let start = 1_741_946_100_000; // 09:55
    let events: Vec<(i64, Value)> = (0..10)
        .map(|i| {
            (
                start + i * minute,
                json!({"user": "alice", "outcome": "failure"}),
            )
        })
        .collect();
    let (found, _) = evaluate(&s.correlations[0], hits(&s, 0, &events), Limits::default());
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].value, 10.0);
    assert_eq!(found[0].group, vec![("user".to_string(), json!("alice"))]);
    // Spread over more than the timespan: no match.
    let slow: Vec<(i64, Value)> = (0..10)
        .map(|i| (start + i * 2 * minute, json!({"user": "bob"})))
        .collect();
    assert!(
        evaluate(&s.correlations[0], hits(&s, 0, &slow), Limits::default())
            .0
            .is_empty()
    );
}

#[test]
fn value_count_temporal_and_ordered() {
    let yaml = "title: a\nname: a\nlogsource: {product: x}\ndetection: {sel: {kind: a}, condition: sel}\n---\ntitle: b\nname: b\nlogsource: {product: x}\ndetection: {sel: {kind: b}, condition: sel}\n---\ntitle: distinct models\ncorrelation:\n  type: value_count\n  rules: a\n  group-by: user\n  timespan: 1h\n  condition: {gte: 3, field: model}\n---\ntitle: a then b\ncorrelation:\n  type: temporal_ordered\n  rules: [a, b]\n  group-by: user\n  timespan: 1h\n";
    let s = set(yaml);
    let models: Vec<(i64, Value)> = ["m1", "m2", "m2", "m3"]
        .iter()
        .enumerate()
        .map(|(i, m)| (i as i64 * 1000, json!({"user": "u", "model": m})))
        .collect();
    let (found, _) = evaluate(&s.correlations[0], hits(&s, 0, &models), Limits::default());
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].value, 3.0);
    let c = &s.correlations[1];
    let mut in_order = hits(&s, 0, &[(1000, json!({"user": "u"}))]);
    in_order.extend(hits(&s, 1, &[(2000, json!({"user": "u"}))]));
    assert_eq!(evaluate(c, in_order, Limits::default()).0.len(), 1);
    let mut reversed = hits(&s, 1, &[(1000, json!({"user": "u"}))]);
    reversed.extend(hits(&s, 0, &[(2000, json!({"user": "u"}))]));
    assert!(evaluate(c, reversed, Limits::default()).0.is_empty());
}

#[test]
fn correlations_reference_correlations_and_unknown_rules_are_errors() {
    let yaml = format!("{CORRELATED}---\ntitle: outer\ncorrelation:\n  type: event_count\n  rules: 0e95725d-7320-415d-80f7-004da920fc11\n  timespan: 1h\n  condition: {{gte: 1}}\n");
    let s = set(&yaml);
    assert_eq!(s.correlations[1].sources, vec![Source::Correlation(0)]);
    let e = errors("title: c\ncorrelation:\n  type: event_count\n  rules: missing_rule\n  timespan: 1h\n  condition: {gte: 1}\n");
    assert!(e[0].contains("missing_rule"), "{e:?}");
}

#[test]
fn duplicate_ids_skip_the_second_rule_at_its_id_line() {
    let mut s = SigmaSet::default();
    let rule = "title: X\nid: 11111111-1111-4111-8111-111111111111\nlogsource: {product: test}\ndetection: {selection: {a: 1}, condition: selection}\n";
    assert!(s.add_file(rule, "a.yml").is_empty());
    let e = s.add_file(rule, "b.yml");
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].file.as_str(), e[0].line, e[0].col), ("b.yml", 2, 5));
    assert_eq!(s.rules.len(), 1);
}

#[test]
fn missing_keys_point_at_the_document_start_and_references_at_rules() {
    let e = errors("name: x\ndetection:\n    selection:\n        a: 1\n    condition: selection\n");
    assert!(e[0].starts_with("bad.yml:1:1: missing `title`"), "{e:?}");
    let e = errors("title: c\ncorrelation:\n  type: event_count\n  rules: missing_rule\n  timespan: 1h\n  condition: {gte: 1}\n");
    assert!(e[0].starts_with("bad.yml:4:10:"), "{e:?}");
}

#[test]
fn filters_and_their_condition_with_the_rule() {
    let yaml = "title: Logon\nid: 6f3e2987-db24-4c78-a860-b4f4095a7095\nlogsource: {product: windows, service: security}\ndetection: {sel: {EventID: 4624}, condition: sel}\n---\ntitle: Not on domain controllers\nlogsource: {product: windows, service: security}\nfilter:\n  rules:\n    - 6f3e2987-db24-4c78-a860-b4f4095a7095\n  selection:\n    ComputerName|startswith: 'DC'\n  condition: not selection\n";
    let s = set(yaml);
    assert!(matches(
        &s,
        json!({"EventID": 4624, "ComputerName": "WKS01"})
    ));
    assert!(!matches(
        &s,
        json!({"EventID": 4624, "ComputerName": "DC01"})
    ));
}

/// Whether a raw record passes the rule's prefilter (every clause has a literal in it,
/// ignoring ASCII case), as the engine checks it before parsing.
fn passes_prefilter(s: &SigmaSet, v: &Value) -> bool {
    let raw = v.to_string().to_ascii_lowercase();
    s.rules[0].requirement.iter().all(|clause| {
        clause
            .iter()
            .any(|l| raw.contains(&l.text.to_ascii_lowercase()))
    })
}

/// `|all` ANDs the listed values; the values a modifier expands one value into (`windash`,
/// `base64offset`) stay alternatives of that value (pySigma's `SigmaExpansion`), in every
/// modifier order and chain of the specification's appendix that expands.
#[test]
fn all_ands_values_and_ors_each_values_expansions() {
    let b64 = |bytes: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    let le = |s: &str| {
        s.encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect::<Vec<u8>>()
    };
    let be = |s: &str| {
        s.encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect::<Vec<u8>>()
    };
    let bom = |s: &str| [&[0xFF, 0xFE][..], &le(s)].concat();
    // (modifier chain, a document holding both values as the chain encodes them, one holding
    // only the first).
    let both_and_one: Vec<(&str, String, String)> = vec![
        (
            "windash|contains|all",
            "powershell /enc AAA \u{2013}nop".into(),
            "powershell /enc AAA".into(),
        ),
        (
            "all|windash|contains",
            "powershell \u{2015}enc AAA -nop".into(),
            "powershell -enc AAA".into(),
        ),
        (
            "contains|all|windash",
            "powershell \u{2014}enc AAA /nop".into(),
            "powershell \u{2014}enc AAA".into(),
        ),
        (
            "base64offset|contains|all",
            format!("x{}", b64(b"zz -enc and -nop zz")),
            format!("x{}", b64(b"zz -enc zz")),
        ),
        (
            "wide|base64offset|contains|all",
            b64(&le("ab -enc and -nop")),
            b64(&le("ab -enc")),
        ),
        (
            "utf16le|base64offset|contains|all",
            b64(&le("a -enc and -nop")),
            b64(&le("a -enc")),
        ),
        (
            "utf16be|base64offset|contains|all",
            b64(&be("-enc and -nop")),
            b64(&be("-enc")),
        ),
        (
            "utf16|base64offset|contains|all",
            format!("{} {}", b64(&bom("-enc")), b64(&bom("-nop"))),
            b64(&bom("-enc")),
        ),
        // Chains without an expansion keep `all` as it was.
        (
            "wide|base64|contains|all",
            format!("{} {}", b64(&le("-enc")), b64(&le("-nop"))),
            b64(&le("-enc")),
        ),
        (
            "base64|contains|all",
            format!("{}.{}", b64(b"-enc"), b64(b"-nop")),
            b64(b"-enc"),
        ),
    ];
    for (chain, both, one) in both_and_one {
        let s = rule(&format!(
            "  sel:\n    cmd|{chain}:\n      - '-enc'\n      - '-nop'\n  condition: sel"
        ));
        let hit = json!({ "cmd": both });
        assert!(matches(&s, hit.clone()), "{chain}: {both}");
        assert!(passes_prefilter(&s, &hit), "{chain}: prefilter on {both}");
        assert!(!matches(&s, json!({ "cmd": one })), "{chain}: {one}");
    }

    // One value with `all`: any of its expansions.
    let s = rule("  sel:\n    cmd|windash|contains|all: ' -enc'\n  condition: sel");
    assert!(matches(&s, json!({"cmd": "powershell /enc AAA"})));
    // startswith/endswith after windash.
    let s = rule(
        "  sel:\n    cmd|windash|startswith|all:\n      - '-a'\n      - '-a -b'\n  condition: sel",
    );
    assert!(matches(&s, json!({"cmd": "/a \u{2013}b c"})));
    assert!(!matches(&s, json!({"cmd": "/a c"})));
    let s = rule(
        "  sel:\n    cmd|windash|endswith|all:\n      - '-b'\n      - ' -b'\n  condition: sel",
    );
    assert!(matches(&s, json!({"cmd": "x /b"})));

    // Keywords: `'|all|windash'`.
    let s = rule(
        "  keywords:\n    '|all|windash':\n      - '-enc'\n      - '-nop'\n  condition: keywords",
    );
    let hit = json!({"a": "powershell /enc x", "b": ["\u{2013}nop"]});
    assert!(matches(&s, hit.clone()) && passes_prefilter(&s, &hit));
    assert!(!matches(&s, json!({"a": "powershell /enc x"})));
    let s = rule(
        "  keywords:\n    '|base64offset|all':\n      - 'foobar'\n      - 'bazqux'\n  condition: keywords",
    );
    let hit = json!({"a": format!("{} {}", b64(b"xfoobar"), b64(b"bazqux"))});
    assert!(matches(&s, hit.clone()) && passes_prefilter(&s, &hit));
    assert!(!matches(&s, json!({"a": b64(b"xfoobar")})));
}

/// The Python with pySigma for the cross-check: `MODELWARD_PYSIGMA_PYTHON`, else
/// `target/pysigma-venv` (see tools/pysigma-modifiers.py).
fn pysigma_python() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("MODELWARD_PYSIGMA_PYTHON") {
        return Some(p.into());
    }
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/pysigma-venv/bin/python");
    p.exists().then_some(p)
}

/// `|all` over values a modifier expands, as pySigma itself converts it (its test backend's
/// query read back as an AND of ORs by tools/pysigma-modifiers.py): a document holding any
/// value of every group matches, for every value pySigma lists; one missing a group does not.
#[test]
fn all_over_expansions_matches_what_pysigma_converts() {
    let Some(python) = pysigma_python() else {
        eprintln!("skipped: no target/pysigma-venv (see tools/pysigma-modifiers.py)");
        return;
    };
    let chains = [
        "windash|contains|all",
        "all|windash|contains",
        "contains|all|windash",
        "base64offset|contains|all",
        "wide|base64offset|contains|all",
        // pySigma (2.0) has no `utf16le`, the appendix's other name of `wide`: the test
        // above covers it.
        "utf16be|base64offset|contains|all",
        "utf16|base64offset|contains|all",
        "wide|base64|contains|all",
        "utf16be|base64|contains|all",
        "base64|contains|all",
        "contains|all",
    ];
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/pysigma-modifiers.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .args(chains)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), chains.len());
    for line in lines {
        let chain = line["chain"].as_str().unwrap();
        let groups: Vec<Vec<String>> = serde_json::from_value(line["groups"].clone()).unwrap();
        assert_eq!(groups.len(), 2, "{chain}: {groups:?}");
        let s = rule(&format!(
            "  sel:\n    cmd|{chain}:\n      - '-enc'\n      - '-nop'\n  condition: sel"
        ));
        let doc = |parts: Vec<&str>| json!({ "cmd": format!("x {} y", parts.join(" . ")) });
        for (g, values) in groups.iter().enumerate() {
            for v in values {
                let d = doc((0..groups.len())
                    .map(|i| {
                        if i == g {
                            v.as_str()
                        } else {
                            groups[i][0].as_str()
                        }
                    })
                    .collect());
                assert!(matches(&s, d.clone()), "{chain}: {d}");
            }
            let d = doc((0..groups.len())
                .filter(|i| *i != g)
                .map(|i| groups[i][0].as_str())
                .collect());
            assert!(!matches(&s, d.clone()), "{chain}: {d} lacks group {g}");
        }
    }
}

/// A misspelt rule key gets a "did you mean": a required one (`logsorce`) is an error at the
/// misspelt key, an optional one (`levl`) a warning; keys of one's own far from Sigma's are
/// let be.
#[test]
fn misspelt_rule_keys_get_a_did_you_mean() {
    let e = errors(
        "title: t\nlogsorce:\n  product: x\ndetection:\n  sel:\n    a: 1\n  condition: sel\n",
    );
    assert_eq!(
        e,
        vec!["bad.yml:2:1: missing `logsource` (did you mean `logsource` for `logsorce`?)"]
    );
    let e = errors(
        "title: t\nlogsource: {product: x}\ndetecton:\n  sel:\n    a: 1\n  condition: sel\n",
    );
    assert_eq!(
        e,
        vec!["bad.yml:3:1: missing `detection` (did you mean `detection` for `detecton`?)"]
    );
    let mut s = SigmaSet::default();
    let loaded = s.add_file(
        "title: t\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n    a: 1\n  condition: sel\nlevl: high\nmy_team: blue\n",
        "w.yml",
    );
    assert!(loaded.is_empty(), "{loaded:?}");
    assert_eq!(
        s.warnings,
        vec!["w.yml:7:1: unknown key `levl` (did you mean `level`?); not read"]
    );
}
