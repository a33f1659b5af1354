//! Hostile input: rules written by strangers and logs written by attackers' traffic must not
//! crash a run, nor grow its memory or time without bound. One small test per class of
//! attack; each runs the binary (or the library it exercises) under a memory and a time
//! limit, so that a regression fails the test instead of taking the machine down.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::Dir;

/// Virtual memory a child may map (KiB): far above what these small inputs need, far below
/// what an unbounded expansion takes.
const MEMORY_KIB: u64 = 2 << 20;

/// How long a child may run.
const DEADLINE: Duration = Duration::from_secs(120);

/// The binary with `args`, under [`MEMORY_KIB`] of address space and [`DEADLINE`]: killed
/// when it runs past it (the test then fails, saying so).
fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {MEMORY_KIB} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_modelward"));
    for a in args {
        cmd.arg(a);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if started.elapsed() > DEADLINE {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "still running after {DEADLINE:?}; stderr:\n{}",
                tail(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The last few KB of an output, for failure messages.
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let start = text.len().saturating_sub(4000);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    text[start..].to_string()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// How a run ended, for assertions: its exit code, or the signal that killed it.
fn ended(out: &Output) -> String {
    match out.status.code() {
        Some(code) => format!("exit {code}"),
        None => format!("killed ({:?}); stderr:\n{}", out.status, tail(&out.stderr)),
    }
}

/// A Sigma rule that matches `event.action: <action>`, with its own test events.
fn sigma_rule(id: &str, action: &str) -> String {
    format!(
        "title: {action} seen\nid: {id}\nlogsource:\n  product: test\ndetection:\n  sel:\n    event.action: {action}\n  condition: sel\nlevel: high\nmodelward_tests:\n  true_positives:\n    - {{event.action: {action}}}\n  true_negatives:\n    - {{event.action: other}}\n"
    )
}

/// A YAML document whose nine levels of nine aliases expand to 9^9 copies of a string.
fn billion_laughs(key: &str) -> String {
    let mut text = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        let (prev, next) = (w[0], w[1]);
        let refs = vec![format!("*{prev}"); 9].join(",");
        text.push_str(&format!("{next}: &{next} [{refs}]\n"));
    }
    text.push_str(&format!("{key}: *i\n"));
    text
}

fn events(dir: &Dir, lines: &[&str]) -> std::path::PathBuf {
    let text: String = lines
        .iter()
        .enumerate()
        .map(|(i, action)| {
            format!(
                "{{\"@timestamp\":\"2025-03-01T00:00:{:02}Z\",\"event\":{{\"action\":\"{action}\"}}}}\n",
                i % 60
            )
        })
        .collect();
    dir.write("events.ndjson", text)
}

/// YAML aliases expanding to gigabytes ("billion laughs"), in a Sigma rule, in a rule's
/// test events and in a processing pipeline: each file fails alone, naming the limit; the
/// other rules load, test and run.
#[test]
fn yaml_alias_expansion_fails_alone() {
    let dir = Dir::new("hostile-yaml");
    let rules = dir.path("rules");
    dir.write(
        "rules/good.yml",
        sigma_rule("a0000000-0000-4000-8000-000000000001", "good"),
    );
    dir.write(
        "rules/bomb.yml",
        sigma_rule("a0000000-0000-4000-8000-000000000002", "bomb") + &billion_laughs("laughs"),
    );
    // The expansion inside the rule's own test events.
    let laughs: String = billion_laughs("bombs")
        .lines()
        .map(|l| format!("  {l}\n"))
        .collect();
    let tested = sigma_rule("a0000000-0000-4000-8000-000000000003", "tested")
        .replace("modelward_tests:\n", &format!("modelward_tests:\n{laughs}"));
    dir.write("rules/tested.yml", tested);
    let pipeline = dir.write(
        "pipeline.yml",
        format!(
            "name: bomb\npriority: 10\n{}",
            billion_laughs("transformations")
        ),
    );

    let out = run(&[&"rules", &"check", &rules]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}", ended(&out));
    for file in ["bomb.yml", "tested.yml"] {
        assert!(
            err.lines()
                .any(|l| l.contains(file) && l.contains("max_yaml_bytes")),
            "{file}: {err}"
        );
    }
    assert!(!err.contains("good.yml"), "{err}");
    assert!(
        stdout(&out).contains("1 rule(s) loaded, 2 failed"),
        "{}",
        stdout(&out)
    );

    let out = run(&[&"rules", &"test", &rules]);
    assert_eq!(out.status.code(), Some(1), "{}", ended(&out));
    assert!(
        stdout(&out).contains("rule tests: 2 passed, 0 failed"),
        "{}",
        stdout(&out)
    );

    let logs = events(&dir, &["good", "bomb", "other"]);
    let out = run(&[
        &"hunt",
        &"--no-builtin",
        &"--format",
        &"ndjson",
        &"--rules",
        &rules,
        &"--pipeline",
        &pipeline,
        &logs,
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{}", ended(&out));
    assert!(
        err.lines()
            .any(|l| l.contains("pipeline.yml") && l.contains("max_yaml_bytes")),
        "{err}"
    );
    let alerts = stdout(&out);
    assert_eq!(alerts.lines().count(), 1, "{alerts}");
    assert!(alerts.contains("good seen"), "{alerts}");
}

/// ES|QL expressions nested thousands deep (parentheses, NOT, unary minus, function calls,
/// operator chains) overflowed the stack and killed the run: now each such rule fails alone
/// at the limit, and an expression at the limit compiles and evaluates.
#[test]
fn esql_nesting_fails_alone() {
    let dir = Dir::new("hostile-esql");
    let deep = 5000;
    let queries = [
        (
            "parens",
            format!(
                "from logs-* | where {}true{}",
                "(".repeat(deep),
                ")".repeat(deep)
            ),
        ),
        (
            "not",
            format!("from logs-* | where {}true", "NOT ".repeat(deep)),
        ),
        (
            "minus",
            format!(
                "from logs-* | eval x = {}1 | where x > 0",
                "- ".repeat(deep)
            ),
        ),
        (
            "calls",
            format!(
                "from logs-* | eval x = {}1{} | where x > 0",
                "abs(".repeat(deep),
                ")".repeat(deep)
            ),
        ),
        (
            "chain",
            format!(
                "from logs-* | eval x = 1{} | where x > 0",
                " + 1".repeat(deep)
            ),
        ),
        (
            "cast",
            format!(
                "from logs-* | eval x = 1{} | where x > 0",
                "::long".repeat(deep)
            ),
        ),
    ];
    for (name, query) in &queries {
        dir.write(
            &format!("rules/{name}.esql"),
            format!("// name: {name}\n{query}\n"),
        );
    }
    // At the configured limit of 64: 62 NOTs over a comparison (2 levels) are 64 levels.
    let at_limit = format!(
        "// name: at the limit\nfrom logs-* | where {}event.action == \"good\"\n",
        "NOT NOT ".repeat(31)
    );
    dir.write("rules/at_limit.esql", at_limit);
    let past_limit = format!(
        "// name: past the limit\nfrom logs-* | where {}event.action == \"good\"\n",
        "NOT ".repeat(64)
    );
    dir.write("rules/past_limit.esql", past_limit);
    let config = dir.write("modelward.toml", "[rules]\nmax_expression_depth = 64\n");
    let rules = dir.path("rules");
    let logs = events(&dir, &["good", "other"]);

    let out = run(&[
        &"hunt",
        &"--no-builtin",
        &"--format",
        &"ndjson",
        &"--config",
        &config,
        &"--rules",
        &rules,
        &logs,
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{}", ended(&out));
    for name in queries.iter().map(|(n, _)| *n).chain(["past_limit"]) {
        assert!(
            err.lines().any(|l| l.contains(&format!("{name}.esql"))
                && l.contains("nested deeper than 64 levels (max_expression_depth)")),
            "{name}: {err}"
        );
    }
    assert!(!err.contains("at_limit.esql"), "{err}");
    // Error lines show a window of the query, not megabytes of it.
    assert!(err.len() < 20_000, "{} bytes of errors", err.len());
    let alerts = stdout(&out);
    assert_eq!(alerts.lines().count(), 1, "{alerts}");
    assert!(alerts.contains("at the limit"), "{alerts}");

    // With the default limit (400), as in a rule check.
    let out = run(&[&"rules", &"check", &rules]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}", ended(&out));
    assert!(
        err.contains("nested deeper than 400 levels (max_expression_depth)"),
        "{err}"
    );
    assert!(
        stdout(&out).contains("2 rule(s) loaded, 6 failed"),
        "{}",
        stdout(&out)
    );
}

/// Symbolic link cycles in input and rule directories read files dozens of times (duplicate
/// alerts, duplicate rule ids), flooded the diagnostics and ended in a panic: now each real
/// file is read once, a cycle is one error for its link, and every diagnostic goes through
/// the cap.
#[cfg(unix)]
#[test]
fn symlink_cycles_are_walked_once() {
    use std::os::unix::fs::symlink;
    let dir = Dir::new("hostile-symlinks");
    let rules = dir.path("rules");
    dir.write(
        "rules/good.yml",
        sigma_rule("a0000000-0000-4000-8000-000000000001", "good"),
    );
    symlink(".", rules.join("loop")).unwrap();
    std::fs::create_dir(rules.join("sub")).unwrap();
    symlink("..", rules.join("sub/back")).unwrap();
    // A flood of rule files that fail: the run's stderr stays within the cap.
    for i in 0..200 {
        dir.write(&format!("rules/broken/{i:03}.yml"), "title: [unclosed\n");
    }
    let logs = dir.path("logs");
    dir.write(
        "logs/a.ndjson",
        "{\"@timestamp\":\"2025-03-01T00:00:00Z\",\"event\":{\"action\":\"good\"}}\n{\"@timestamp\":\"2025-03-01T00:00:01Z\",\"event\":{\"action\":\"good\"}}\n",
    );
    symlink("a.ndjson", logs.join("b.ndjson")).unwrap();
    symlink(".", logs.join("loop")).unwrap();
    symlink(".", logs.join("again")).unwrap();
    symlink("../logs", logs.join("up")).unwrap();
    // Dangling links: one error each, through the cap.
    for i in 0..200 {
        symlink(
            format!("missing-{i}"),
            logs.join(format!("dangling-{i:03}.ndjson")),
        )
        .unwrap();
    }

    let out = run(&[
        &"hunt",
        &"--no-builtin",
        &"--format",
        &"ndjson",
        &"--rules",
        &rules,
        &logs,
        &logs.join("a.ndjson"),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{}", ended(&out));
    let alerts = stdout(&out);
    assert_eq!(alerts.lines().count(), 2, "each event once: {alerts}");
    assert!(
        err.lines().count() < 120,
        "{} lines of diagnostics:\n{}",
        err.lines().count(),
        tail(&out.stderr)
    );
    // (logs/loop and logs/up come after the dangling links: past the cap.)
    for link in ["rules/loop:1:1", "rules/sub/back:1:1", "logs/again"] {
        assert!(
            err.contains(&format!(
                "{link}: a symbolic link back to a directory it is in"
            )),
            "{link}: {err}"
        );
    }
    assert!(
        err.contains("more rule errors and warnings not shown"),
        "{err}"
    );
    assert!(err.contains("more diagnostics not shown"), "{err}");
    assert!(!err.contains("duplicate rule id"), "{err}");

    let out = run(&[&"rules", &"check", &rules]);
    let text = stdout(&out);
    assert!(
        text.contains("1 rule(s) loaded, 202 failed"),
        "{text}\n{}",
        tail(&out.stderr)
    );
}

const SPRAY: &str = "title: Failed login\nname: failed_login\nid: b0000000-0000-4000-8000-000000000001\nlogsource: {product: test}\ndetection: {sel: {event.outcome: failure}, condition: sel}\n---\ntitle: Brute force per user\nid: b0000000-0000-4000-8000-000000000002\ncorrelation:\n  type: event_count\n  rules: failed_login\n  group-by: [user.name]\n  timespan: 1h\n  condition: {gte: 5}\nlevel: high\n";

/// A Sigma correlation grouped by a field an attacker fills with millions of distinct
/// values kept a window per value: now at most `max_correlation_groups` groups, the least
/// recently seen evicted and counted, and a group that keeps coming still alerts.
#[test]
fn correlation_groups_are_bounded() {
    use std::sync::Arc;

    use modelward_sigma::correlation::{Correlator, Hit, Limits};

    let mut set = modelward_sigma::SigmaSet::default();
    assert!(set.add_file(SPRAY, "spray.yml").is_empty());
    assert!(set.resolve().is_empty());
    let c = &set.correlations[0];
    let max_groups = 1000;
    let mut correlator = Correlator::new(Limits {
        max_groups,
        ..Limits::default()
    });
    let event = |user: &str| {
        Arc::new(
            modelward_event::Event::from_json(&format!(
                "{{\"user\":{{\"name\":\"{user}\"}},\"event\":{{\"outcome\":\"failure\"}}}}"
            ))
            .unwrap(),
        )
    };
    let start = 1_740_787_200_000; // 2025-03-01T00:00:00Z
    let mut alerts = Vec::new();
    // 200,000 distinct users within one timespan (no window can expire), and one user who
    // keeps failing among them.
    for i in 0..200_000i64 {
        let ts = start + i;
        let hit = |user: &str| Hit {
            ts,
            source: 0,
            event: event(user),
        };
        alerts.extend(correlator.push(c, hit(&format!("sprayed-{i}"))));
        if i % 100 == 0 && i >= 199_000 {
            alerts.extend(correlator.push(c, hit("victim")));
        }
    }
    assert!(
        correlator.groups() <= max_groups,
        "{} groups kept",
        correlator.groups()
    );
    let stats = correlator.stats();
    assert!(stats.groups_evicted >= 199_000, "{stats:?}");
    assert_eq!(alerts.len(), 1, "the victim's group still alerts");
    assert_eq!(alerts[0].group[0].1, "victim");

    // The setting, and the count in the run's summary.
    let dir = Dir::new("hostile-groups");
    dir.write("rules/spray.yml", SPRAY);
    let config = dir.write("modelward.toml", "[rules]\nmax_correlation_groups = 100\n");
    let logs: String = (0..2000)
        .map(|i| {
            format!(
                "{{\"@timestamp\":\"2025-03-01T00:{:02}:{:02}Z\",\"user\":{{\"name\":\"u{i}\"}},\"event\":{{\"outcome\":\"failure\"}}}}\n",
                i / 60 % 60,
                i % 60
            )
        })
        .collect();
    let logs = dir.write("logs.ndjson", logs);
    let out = run(&[
        &"hunt",
        &"--no-builtin",
        &"--format",
        &"ndjson",
        &"--config",
        &config,
        &"--rules",
        &dir.path("rules"),
        &logs,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", ended(&out));
    assert!(
        stderr(&out).contains("correlation groups evicted from full correlation state"),
        "{}",
        stderr(&out)
    );
}

/// A JSON array inflated from a small gzip (100 MB from a few hundred KB) was read whole:
/// memory grew with the document. Now its elements are read as they come, in batches of
/// about `batch_bytes`, and a pretty-printed element too long for a record is skipped
/// alone.
#[test]
fn a_gzip_inflated_json_array_is_read_in_bounded_batches() {
    use std::io::Write as _;

    use modelward_event::input::{Reader, ReaderOptions};

    let element = "  {\n    \"@timestamp\": \"2025-03-01T00:00:00Z\",\n    \"event\": {\"action\": \"other\"}\n  }";
    let n = 100_000_000 / (element.len() + 2);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"[\n").unwrap();
    let chunk = format!("{element},\n").repeat(1000);
    for _ in 0..n / 1000 {
        gz.write_all(chunk.as_bytes()).unwrap();
    }
    // One element far longer than a record may be, then the last one.
    let long = format!("  {{\"pad\": \"{}\"}},\n", "x".repeat(3 << 20));
    gz.write_all(long.as_bytes()).unwrap();
    gz.write_all(format!("{element}\n]\n").as_bytes()).unwrap();
    let bytes = gz.finish().unwrap();
    assert!(bytes.len() < 2 << 20, "{} bytes of gzip", bytes.len());

    let opts = ReaderOptions {
        max_record_bytes: 1 << 20,
        batch_bytes: 256 << 10,
    };
    let reader =
        Reader::from_read("bomb.json.gz", Box::new(std::io::Cursor::new(bytes)), opts).unwrap();
    let (mut records, mut largest, mut errors) = (0, 0, Vec::new());
    for batch in reader {
        match batch {
            Ok(batch) => {
                largest = largest.max(batch.data.len());
                records += batch.records.len();
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    assert!(largest < 2 << 20, "a batch of {largest} bytes");
    assert_eq!(records, n / 1000 * 1000 + 1);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("record longer than the 1048576-byte limit"),
        "{errors:?}"
    );
}

/// Many large regexes across rules, each under the per-regex limit, compiled to gigabytes
/// together: now one budget for the whole rule set (`regex_budget`), Sigma and ES|QL alike;
/// the rules past it fail alone, naming it, and the others load and run.
#[test]
fn regexes_share_one_budget() {
    let dir = Dir::new("hostile-regex");
    // Each about 5.6 MB compiled (Unicode word characters, a hundred times).
    for i in 0..24 {
        dir.write(
            &format!("rules/re{i:02}.yml"),
            format!(
                "title: regex {i}\nid: c0000000-0000-4000-8000-0000000000{i:02}\nlogsource: {{product: test}}\ndetection:\n  sel:\n    user.name|re: '^\\w{{100}}{i}$'\n  condition: sel\n"
            ),
        );
    }
    dir.write(
        "rules/zz_rlike.esql",
        "// name: rlike\nfrom logs-* | where user.name rlike \"\\\\w{100}x\"\n",
    );
    dir.write(
        "rules/zz_replace.esql",
        "// name: replace\nfrom logs-* | eval u = replace(user.name, \"\\\\w{100}\", \"\") | where u == \"\"\n",
    );
    dir.write(
        "rules/zz_plain.yml",
        sigma_rule("c0000000-0000-4000-8000-000000000099", "good"),
    );
    let config = dir.write("modelward.toml", "[rules]\nregex_budget = 33554432\n");
    let logs = events(&dir, &["good", "other"]);
    let out = run(&[
        &"hunt",
        &"--no-builtin",
        &"--format",
        &"ndjson",
        &"--config",
        &config,
        &"--rules",
        &dir.path("rules"),
        &logs,
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{}", ended(&out));
    let over = err
        .lines()
        .filter(|l| l.contains("more than the 33554432-byte budget (regex_budget)"))
        .count();
    // Five fit in 32 MiB: the nineteen other Sigma rules and both ES|QL rules do not.
    assert_eq!(over, 21, "over the budget:\n{err}");
    for file in ["zz_rlike.esql", "zz_replace.esql"] {
        assert!(
            err.lines()
                .any(|l| l.contains(file) && l.contains("regex_budget")),
            "{file}: {err}"
        );
    }
    assert!(
        !err.lines()
            .any(|l| l.contains("zz_plain.yml") && l.contains("not loaded")),
        "{err}"
    );
    let alerts = stdout(&out);
    assert_eq!(alerts.lines().count(), 1, "{alerts}");
    assert!(alerts.contains("good seen"), "{alerts}");
}

/// A record of `event.action` `action` at second `s`, as one NDJSON line.
fn line(s: u32, action: &str) -> String {
    format!("{{\"@timestamp\":\"2025-03-01T00:00:{s:02}Z\",\"event\":{{\"action\":\"{action}\"}}}}")
}

/// The `event.action`s of the alerts on stdout, sorted.
fn alerted(out: &Output) -> Vec<String> {
    let mut actions: Vec<String> = stdout(out)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|a| {
            let v = a.pointer("/event.action").or(a.pointer("/event/action"))?;
            v.as_str().map(str::to_string)
        })
        .collect();
    actions.sort();
    actions
}

/// One bad record lost every good one after it (a JSON array, a pretty-printed document),
/// or in the whole file (NDJSON whose first line is cut off), and one value strict JSON
/// refuses (a lone surrogate as Python writes it, an invalid UTF-8 byte, `1e400`) hid the
/// record it was in from detection: now each good record alerts, the bad one is reported
/// alone, and the odd values are kept lossily and counted.
#[test]
fn one_bad_record_loses_only_itself() {
    let dir = Dir::new("hostile-lost");
    dir.write(
        "rules/good.esql",
        "// name: good seen\nfrom logs-* | where event.action LIKE \"good*\"\n",
    );
    // An array: a missing comma, an element cut off inside a string, a wrong bracket.
    dir.write(
        "logs/array.json",
        format!(
            "[\n  {},\n  {}\n  {},\n  {{\"event\": {{\"action\": \"cut\n  {},\n  {{\"a\": [1}},\n  {}\n]\n",
            line(0, "good-a1"),
            line(1, "good-a2"),
            line(2, "good-a3"),
            line(3, "good-a4"),
            line(4, "good-a5")
        ),
    );
    // Pretty-printed documents one after another, the first cut off.
    dir.write(
        "logs/pretty.json",
        format!(
            "{{\n  \"event\": {{\n    \"action\": \"cut\"\n{{\n  \"@timestamp\": \"2025-03-01T00:00:05Z\",\n  \"event\": {{\"action\": \"good-p1\"}}\n}}\n{}\n",
            line(6, "good-p2")
        ),
    );
    // NDJSON whose first line is cut off.
    dir.write(
        "logs/cut.ndjson",
        format!(
            "{{\"@timestamp\":\"2025-03-01T00:00:07Z\",\"event\":{{\"act\n{}\n{}\n",
            line(8, "good-n1"),
            line(9, "good-n2")
        ),
    );
    // Values strict JSON refuses, in fields no rule needs: lone surrogates, an invalid
    // UTF-8 byte (Latin-1 `é`), numbers out of range.
    let values: [&[u8]; 5] = [
        b"\"prompt \\ud800 of a Python gateway\"",
        b"\"\\udc80\"",
        b"\"latin-1 \xe9\"",
        b"1e400",
        b"-1E999",
    ];
    let mut odd = Vec::new();
    for (i, value) in values.iter().enumerate() {
        odd.extend_from_slice(
            format!("{{\"@timestamp\":\"2025-03-01T00:01:{i:02}Z\",\"event\":{{\"action\":\"good-o{i}\"}},\"gen_ai\":{{\"prompt\":").as_bytes(),
        );
        odd.extend_from_slice(value);
        odd.extend_from_slice(b"}}\n");
    }
    dir.write("logs/odd.ndjson", odd);

    let out = run(&[
        &"hunt",
        &"--no-builtin",
        &"--format",
        &"ndjson",
        &"--rules",
        &dir.path("rules"),
        &dir.path("logs"),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{}", ended(&out));
    let mut want: Vec<String> = [
        "good-a1", "good-a2", "good-a3", "good-a4", "good-a5", "good-p1", "good-p2", "good-n1",
        "good-n2", "good-o0", "good-o1", "good-o2", "good-o3", "good-o4",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    want.sort();
    assert_eq!(alerted(&out), want, "{err}");
    for said in [
        "array.json:4:3: expected `,` or `]` after an array element",
        "array.json:5:3: a value that goes wrong at 5:28 (a line break inside a string); this value is skipped, reading goes on at line 6",
        "array.json:7:3: a value that goes wrong at 7:11 (a `}` closes a `[`)",
        "pretty.json:1:1: a value cut off by the end of input; this value is skipped, reading goes on at line 4",
        "cut.ndjson:1:",
        "kept lossily: ",
        "odd.ndjson:3:",
        "5 records with values kept lossily",
    ] {
        assert!(err.contains(said), "{said}:\n{err}");
    }
}

/// `hunt -o FILE` truncated FILE before reading it when it was also an input, by its own
/// name, through a symbolic link or a hard link, in any format: now refused, the input
/// untouched.
#[cfg(unix)]
#[test]
fn hunt_does_not_write_over_its_input() {
    let dir = Dir::new("hostile-overwrite");
    let logs = dir.write("logs/a.ndjson", format!("{}\n", line(0, "good")));
    std::os::unix::fs::symlink(&logs, dir.path("link.ndjson")).unwrap();
    std::fs::hard_link(&logs, dir.path("hard.ndjson")).unwrap();
    let rule = dir.write(
        "good.esql",
        "// name: good seen\nfrom logs-* | where event.action == \"good\"\n",
    );
    let same = [
        logs.display().to_string(),
        dir.path("link.ndjson").display().to_string(),
        format!("csv:{}", dir.path("hard.ndjson").display()),
        format!("ndjson:{}/logs/../logs/a.ndjson", dir.0.display()),
    ];
    for target in &same {
        for input in [logs.clone(), dir.path("logs")] {
            let out = run(&[
                &"hunt",
                &"--no-builtin",
                &"--rules",
                &rule,
                &"-o",
                target,
                &input,
            ]);
            assert_eq!(out.status.code(), Some(2), "{target}: {}", ended(&out));
            assert!(
                stderr(&out).contains("writing it would destroy the logs being read"),
                "{target}: {}",
                stderr(&out)
            );
            assert_eq!(
                std::fs::read_to_string(&logs).unwrap(),
                format!("{}\n", line(0, "good")),
                "{target}"
            );
        }
    }
    // Another file is written as before.
    let elsewhere = dir.path("alerts.ndjson");
    let out = run(&[
        &"hunt",
        &"--no-builtin",
        &"--rules",
        &rule,
        &"-o",
        &elsewhere,
        &logs,
    ]);
    // (1: alerts were found.)
    assert_eq!(out.status.code(), Some(1), "{}", ended(&out));
    assert!(std::fs::read_to_string(&elsewhere)
        .unwrap()
        .contains("good seen"));
}

/// What may not reach a terminal raw: an escape sequence (CSI, OSC), a C1 control, a
/// carriage return and a backspace that overwrite what was printed, a bell, bidirectional
/// overrides and isolates, zero-width characters.
const PLANTED: &str = "\u{1b}[2J\u{1b}]8;;https://evil.example/\u{7}x\u{1b}]8;;\u{7}\u{9b}31m\r\u{8}\u{202e}\u{2066}\u{200b}\u{feff}";

/// Every character of `text` that could drive a terminal (`terminal::hostile`, line breaks
/// and tabs aside), with where it is.
fn raw_controls(text: &str) -> Vec<String> {
    text.char_indices()
        .filter(|(_, c)| *c != '\n' && *c != '\t' && modelward_event::terminal::hostile(*c))
        .map(|(i, c)| {
            let from = text[..i].char_indices().rev().nth(40).map_or(0, |(j, _)| j);
            format!("U+{:04X} after {:?}", c as u32, &text[from..i])
        })
        .take(5)
        .collect()
}

fn assert_escaped(what: &str, out: &Output) {
    for (channel, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        let found = raw_controls(&text);
        assert!(found.is_empty(), "{what}, {channel}: {found:#?}\n{text}");
    }
}

/// Control characters, escape sequences and bidirectional overrides planted in every field
/// of a record, in a rule and in file names reached the terminal raw (table output,
/// diagnostics on stderr, rule listings, incidents): now every channel of every command
/// escapes them (`terminal::printable`), and says something.
#[test]
fn nothing_from_a_log_or_rule_reaches_a_terminal_raw() {
    let dir = Dir::new("hostile-terminal");
    let p = PLANTED;
    let yaml = |s: &str| {
        s.chars()
            .map(|c| match c {
                '\u{1b}' => "\\e".to_string(),
                c if c.is_control() || modelward_event::terminal::hostile(c) => {
                    format!("\\u{:04x}", c as u32)
                }
                c => c.to_string(),
            })
            .collect::<String>()
    };
    let json = |s: &str| serde_json::to_string(s).unwrap();
    let rules = dir.path("rules");
    dir.write(
        "rules/planted.yml",
        format!(
            "title: \"planted {t}\"\nid: e0000000-0000-4000-8000-000000000001\ndescription: \"about {t}\"\nauthor: \"{t}\"\nreferences: [\"https://x/{t}\"]\nfalsepositives: [\"{t}\"]\ntags: [attack.exfiltration]\nlogsource: {{product: test}}\ndetection:\n  sel:\n    event.action|startswith: go\n  condition: sel\nfields: [user.name]\nlevel: critical\nmodelward_tests:\n  true_positives:\n    - {{event.action: \"gone {t}\"}}\n  true_negatives:\n    - {{event.action: \"{t}\"}}\n",
            t = yaml(p)
        ),
    );
    dir.write(
        "rules/broken.yml",
        format!(
            "title: \"broken {t}\"\nid: \"{t}\"\ndetection: [\"{t}\"\n",
            t = yaml(p)
        ),
    );
    dir.write(
        "rules/broken.esql",
        format!("// name: {p}\nfrom logs-* | where {p} == \"{p}\"\n"),
    );
    let record = format!(
        "{{\"@timestamp\":\"2025-03-01T00:00:00Z\",\"event\":{{\"action\":{a},\"outcome\":{v}}},\"user\":{{\"name\":{v},\"id\":{v}}},\"source\":{{\"ip\":{v}}},\"url\":{{\"path\":{v}}},\"user_agent\":{{\"original\":{v}}},\"gen_ai\":{{\"request\":{{\"model\":{v}}},\"prompt\":{v}}},\"message\":{v},{v}:{v}}}",
        a = json(&format!("go {p}")),
        v = json(p)
    );
    let logs = dir.path(&format!("logs{p}"));
    dir.write(
        &format!("logs{p}/a{p}.ndjson"),
        format!("{record}\n{{\"bad {p}\": tru}}\n{record}\n"),
    );
    let db = dir.path("incidents.db");
    let out = run(&[
        &"hunt",
        &"--no-builtin",
        &"--format",
        &"table",
        &"--rules",
        &rules,
        &"--incidents",
        &db,
        &"--dry-run",
        &logs,
    ]);
    assert_escaped("hunt --format table", &out);
    assert!(stdout(&out).contains("planted"), "{}", stdout(&out));
    assert!(stderr(&out).contains("\\u{1b}"), "{}", stderr(&out));
    let out = run(&[
        &"hunt",
        &"--no-builtin",
        &"--rules",
        &rules,
        &"-o",
        &dir.path("x"),
        &logs,
    ]);
    assert_escaped("hunt -o", &out);
    // Alerts as JSON on stdout: nothing raw either, and the same JSON.
    for format in ["ndjson", "json"] {
        let out = run(&[
            &"hunt",
            &"--no-builtin",
            &"--format",
            &format,
            &"--rules",
            &rules,
            &logs,
        ]);
        assert_escaped(&format!("hunt --format {format}"), &out);
        let text = stdout(&out);
        let alerts: Vec<serde_json::Value> = if format == "json" {
            serde_json::from_str(&text).unwrap()
        } else {
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        assert_eq!(alerts.len(), 2, "{text}");
        assert_eq!(alerts[0]["user.name"], p, "the values as they were: {text}");
    }
    for args in [vec!["rules", "check"], vec!["rules", "test"]] {
        let mut all: Vec<&dyn AsRef<std::ffi::OsStr>> = args.iter().map(|a| a as _).collect();
        all.push(&rules);
        let out = run(&all);
        assert_escaped(&args.join(" "), &out);
    }
    for args in [["rules", "list"], ["rules", "explain"]] {
        let mut all: Vec<&dyn AsRef<std::ffi::OsStr>> = args.iter().map(|a| a as _).collect();
        if args[1] == "explain" {
            all.push(&"e0000000");
        }
        all.push(&"--no-builtin");
        all.push(&"--rules");
        all.push(&rules);
        let out = run(&all);
        assert_escaped(&args.join(" "), &out);
        assert!(stdout(&out).contains("planted"), "{}", stdout(&out));
    }
    let out = run(&[&"incident", &"list", &"--all", &"--db", &db]);
    assert_escaped("incident list", &out);
    let listed = run(&[
        &"incident",
        &"list",
        &"--all",
        &"--format",
        &"ndjson",
        &"--db",
        &db,
    ]);
    let ids: Vec<String> = stdout(&listed)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["id"].as_str().map(str::to_string))
        .collect();
    assert!(!ids.is_empty(), "no incident: {}", stdout(&listed));
    for id in &ids {
        for extra in [&[][..], &["--format", "json"][..]] {
            let mut all: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"incident", &"show", id];
            for a in extra {
                all.push(a);
            }
            all.push(&"--db");
            all.push(&db);
            let out = run(&all);
            assert_escaped(&format!("incident show {extra:?}"), &out);
        }
    }
}

/// An LLM call of `user` at `time`, as one NDJSON line.
fn call(time: &str, user: &str) -> String {
    format!(
        "{{\"@timestamp\":\"{time}\",\"user\":{{\"id\":\"{user}\"}},\"source\":{{\"ip\":\"192.0.2.7\"}},\"gen_ai\":{{\"request\":{{\"model\":\"gpt-4o\"}},\"prompt\":\"hello\",\"usage\":{{\"input_tokens\":5}}}}}}\n"
    )
}

/// The count the hunt summary gives for `what`, 0 when it gives none.
fn counted(out: &Output, what: &str) -> u64 {
    let err = stderr(out);
    let Some(at) = err.find(what) else {
        return 0;
    };
    err[..at]
        .trim_end()
        .rsplit(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// One record dated 9999-12-31 was saved as the analyzers' watermark in `--state`, and the
/// next run took every real call as already counted (an attacker's one line blinds the
/// analyzers for good); one dated year 1 or 9999 also moved the clock alerts are dated by.
/// Now a time before 1970 or past the wall clock by more than a day is not believed: the
/// event is read as of the latest plausible time, counted, and a database already holding
/// such a watermark is brought back to what its profiles saw.
#[test]
fn far_future_or_past_times_do_not_poison_watermarks() {
    let dir = Dir::new("hostile-time");
    let state = dir.path("state.db");
    let mut first = String::new();
    for m in 0..30 {
        first.push_str(&call(&format!("2025-03-01T00:{m:02}:00Z"), "alice"));
    }
    first.push_str(&call("9999-12-31T23:59:59Z", "mallory"));
    first.push_str(&call("0001-01-01T00:00:00Z", "mallory"));
    let first = dir.write("day1.ndjson", first);
    let mut second = String::new();
    for m in 0..30 {
        second.push_str(&call(&format!("2025-03-02T00:{m:02}:00Z"), "alice"));
    }
    let second = dir.write("day2.ndjson", second);
    // What a database poisoned before this fix holds: the first day's, its watermarks
    // moved to 9999 (below).
    let poisoned = dir.path("poisoned.db");
    let hunt = |log: &std::path::Path| {
        run(&[
            &"hunt",
            &"--format",
            &"ndjson",
            &"-o",
            &dir.path("alerts.ndjson"),
            &"--state",
            &state,
            &log,
        ])
    };
    let out = hunt(&first);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", ended(&out));
    std::fs::copy(&state, &poisoned).unwrap();
    assert_eq!(
        counted(&out, "events dated before 1970 or past the wall clock"),
        2,
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("day1.ndjson:31: event time +10000-01-01")
            || stderr(&out).contains("day1.ndjson:31: event time 9999-12-31"),
        "{}",
        stderr(&out)
    );
    // The next day's calls are new to the analyzers.
    let out = hunt(&second);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", ended(&out));
    assert_eq!(
        counted(&out, "calls already in the saved baselines"),
        0,
        "{}",
        stderr(&out)
    );
    // A database poisoned before: its watermarks are brought back, and said.
    {
        let mut store = modelward_store::Store::open(&poisoned).unwrap();
        let codes: Vec<&str> = modelward_behavior::CODES.iter().map(|c| c.code).collect();
        let saved: Vec<_> = codes
            .iter()
            .filter(|c| store.watermark(c).unwrap().is_some())
            .map(|c| (c.to_string(), store.profiles(c).unwrap()))
            .collect();
        assert!(!saved.is_empty());
        let mut batch = store.batch().unwrap();
        for (code, profiles) in &saved {
            batch
                .replace_profiles(code, profiles, 253_402_300_799_000)
                .unwrap();
        }
        batch.commit().unwrap();
    }
    {
        let out = run(&[
            &"hunt",
            &"--format",
            &"ndjson",
            &"-o",
            &dir.path("alerts2.ndjson"),
            &"--state",
            &poisoned,
            &second,
        ]);
        assert!(
            stderr(&out).contains("past the wall clock; counted through"),
            "{}",
            stderr(&out)
        );
        assert_eq!(
            counted(&out, "calls already in the saved baselines"),
            0,
            "{}",
            stderr(&out)
        );
    }
}

/// A damaged incidents or `--state` database: SQLite read garbage as it came (or failed deep
/// into a run), and a damaged `--state` ended the hunt before any alert went out. Now every
/// open runs `PRAGMA quick_check` and refuses the file, untouched, saying so; `hunt` still
/// writes its alerts and ends with the error.
#[test]
fn a_damaged_database_is_refused_and_the_alerts_still_go_out() {
    let dir = Dir::new("hostile-db");
    let logs = dir.write("logs.ndjson", format!("{}\n", line(0, "good")));
    let rule = dir.write(
        "good.esql",
        "// name: good seen\nfrom logs-* | where event.action == \"good\"\n",
    );
    // A real database, its pages overwritten past the header; and one that is not SQLite.
    let real = dir.path("real.db");
    let out = run(&[
        &"hunt",
        &"--no-builtin",
        &"--rules",
        &rule,
        &"-o",
        &dir.path("a.ndjson"),
        &"--incidents",
        &real,
        &"--dry-run",
        &logs,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let mut bytes = std::fs::read(&real).unwrap();
    assert!(bytes.len() > 8192, "{} bytes", bytes.len());
    for (i, b) in bytes[4096..8192].iter_mut().enumerate() {
        *b = (i * 7 + 13) as u8;
    }
    let pages = dir.write("pages.db", &bytes);
    let garbage = dir.write("garbage.db", vec![0x5a; 16384]);
    for db in [&pages, &garbage] {
        let before = std::fs::read(db).unwrap();
        for flag in ["--incidents", "--state"] {
            let out = run(&[
                &"hunt",
                &"--no-builtin",
                &"--format",
                &"ndjson",
                &"--rules",
                &rule,
                &flag,
                &db,
                &logs,
            ]);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{flag} {}: {err}", db.display());
            assert!(stdout(&out).contains("good seen"), "{flag}: {err}");
            assert!(
                err.contains("the database is damaged and is not used")
                    && err.contains("PRAGMA quick_check"),
                "{flag}: {err}"
            );
        }
        // `watch` keeps its positions there: without them it could only read everything
        // again or skip what it had not read, so it refuses to start, saying which file.
        let cfg = dir.write(
            "watch.toml",
            format!(
                "[watch]\npaths = [{:?}]\nstart = \"beginning\"\ndatabase = {:?}\nalerts = {:?}\n",
                logs.display().to_string(),
                db.display().to_string(),
                dir.path("w.ndjson").display().to_string()
            ),
        );
        let out = run(&[&"watch", &"--once", &"--config", &cfg]);
        assert_eq!(out.status.code(), Some(2), "{}", ended(&out));
        assert!(
            stderr(&out).contains("the database is damaged and is not used"),
            "{}",
            stderr(&out)
        );
        let out = run(&[&"incident", &"list", &"--db", &db]);
        assert_eq!(out.status.code(), Some(2), "{}", ended(&out));
        assert!(
            stderr(&out).contains("the database is damaged"),
            "{}",
            stderr(&out)
        );
        assert_eq!(
            std::fs::read(db).unwrap(),
            before,
            "{} written to",
            db.display()
        );
    }
}

/// A webhook receiver that accepts connections and never answers held each action for all
/// its retries (up to ten, waits up to 30 s each): one incident's actions stretched a run to
/// tens of minutes. Now a run of actions has a budget (`[respond] action_budget`) and a
/// circuit breaker per executor; what was not attempted is said, and the next run tries it.
#[test]
fn a_hanging_webhook_cannot_stretch_a_run() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use modelward_corpus::sim::{simulate, Profile, SimSpec};

    let dir = Dir::new("hostile-webhook");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    let spec = SimSpec {
        seed: 11,
        span_ms: 2 * 86_400_000,
        profiles: vec![Profile::ChatUsers, Profile::LogitSweepFast],
        ..SimSpec::default()
    };
    let (mut log, mut labels) = (Vec::new(), Vec::new());
    simulate(&spec, &mut log, &mut labels).unwrap();
    let logs = dir.write("sim.ndjson", log);
    let config = dir.write(
        "modelward.toml",
        format!(
            "[respond]\nenforcement = false\naction_budget = \"3s\"\ncircuit_breaker = 2\n[[respond.webhooks]]\nname = \"soar\"\nurl = \"http://127.0.0.1:{port}/hook\"\nsecret = \"s3cret-for-tests\"\ntimeout_ms = 700\nretries = 10\nbackoff_ms = 500\n"
        ),
    );
    let db = dir.path("incidents.db");
    let started = Instant::now();
    let out = run(&[
        &"hunt",
        &"--format",
        &"ndjson",
        &"-o",
        &dir.path("alerts.ndjson"),
        &"--config",
        &config,
        &"--incidents",
        &db,
        &logs,
    ]);
    let took = started.elapsed();
    let err = stderr(&out);
    assert!(matches!(out.status.code(), Some(1 | 2)), "{}", ended(&out));
    assert!(took < Duration::from_secs(40), "took {took:?}:\n{err}");
    assert!(connections.load(Ordering::SeqCst) > 0, "{err}");
    let log = run(&[&"incident", &"audit", &"--db", &db]);
    let audit = stdout(&log);
    let failed: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("\"webhook:soar\"") && l.contains("\"failed\""))
        .collect();
    assert!(!failed.is_empty(), "{audit}");
    assert!(
        failed
            .iter()
            .any(|l| l.contains("not attempted") || l.contains("budget for actions")),
        "{audit}"
    );
    // The next run tries again.
    let before = connections.load(Ordering::SeqCst);
    let ids = run(&[
        &"incident",
        &"list",
        &"--all",
        &"--format",
        &"ndjson",
        &"--db",
        &db,
    ]);
    let id = stdout(&ids)
        .lines()
        .find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            v["id"].as_str().map(str::to_string)
        })
        .unwrap();
    let started = Instant::now();
    let out = run(&[
        &"incident",
        &"act",
        &id,
        &"--by",
        &"alice",
        &"--config",
        &config,
        &"--db",
        &db,
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "{}",
        stderr(&out)
    );
    assert!(
        connections.load(Ordering::SeqCst) > before,
        "{}",
        stderr(&out)
    );
}
