//! SigmaHQ's rules over Sysmon-style events, in process, one pass on one thread: the
//! development probe behind `tools/sigma-compare.sh` (which times the `modelward` binary
//! against rsigma). Built to be run under callgrind, where instruction counts stay true on a
//! busy machine; prints the prefilter's verdicts, the time, and the matches per rule.
//!
//! ```text
//! SIGMA_RULES=target/compare/sigma/rules/windows/process_creation \
//! SIGMA_EVENTS=target/compare/events-10000.ndjson \
//!   cargo bench -p modelward-engine --bench sigmahq
//! valgrind --tool=callgrind target/release/deps/sigmahq-HASH --bench   # same variables
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use modelward_engine::{EngineBuilder, Session, VecSink};
use modelward_event::input::{InputPath, Reader, ReaderOptions};
use modelward_sigma::SigmaSet;

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(p);
        }
    }
}

fn main() {
    let (Some(rules), Some(events)) = (
        std::env::var_os("SIGMA_RULES"),
        std::env::var_os("SIGMA_EVENTS"),
    ) else {
        eprintln!("sigmahq: set SIGMA_RULES (a directory of Sigma rules) and SIGMA_EVENTS (NDJSON); skipped");
        return;
    };
    let mut files = Vec::new();
    yaml_files(Path::new(&rules), &mut files);
    let mut set = SigmaSet::default();
    let mut errors = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        errors += set.add_file(&text, &f.display().to_string()).len();
    }
    errors += set.resolve().len();
    let engine = EngineBuilder::new().sigma(set).build();
    let prefilter = engine.prefilter();
    println!(
        "{} files, {} rules, {} correlations, {errors} not loaded; prefilter open: {}",
        files.len(),
        engine.sigma().rules.len(),
        engine.sigma().correlations.len(),
        prefilter.is_open()
    );
    // How much the literal prefilter spares: candidate rules per record, over the raw lines.
    // (SIGMA_STATS: the prefilter is called once more per record, which callgrind counts.)
    if std::env::var_os("SIGMA_STATS").is_some() {
        candidate_stats(&engine, Path::new(&events));
    }
    let start = Instant::now();
    let mut hunt = Session::new(&engine);
    let mut records = 0usize;
    for batch in Reader::open(
        &InputPath::File(PathBuf::from(&events)),
        ReaderOptions::default(),
    )
    .expect("open the events")
    {
        let batch = batch.expect("batch");
        records += batch.records.len();
        hunt.push(&batch, &mut |_| {});
    }
    let mut sink = VecSink::default();
    hunt.finish(&mut sink, &mut |_| {}).expect("finish");
    let secs = start.elapsed().as_secs_f64();
    let mut per_rule: BTreeMap<String, usize> = BTreeMap::new();
    for a in &sink.alerts {
        *per_rule.entry(a.rule.id.clone()).or_default() += 1;
    }
    println!(
        "{records} events in {secs:.3} s ({:.0} events/s), {} alerts of {} rules",
        records as f64 / secs,
        sink.alerts.len(),
        per_rule.len()
    );
    if std::env::var_os("SIGMA_PER_RULE").is_some() {
        for (id, n) in per_rule {
            println!("{id}\t{n}");
        }
    }
}

/// Candidate rules per record, and (SIGMA_STATS=rules) the rules that cost most: each
/// candidate rule matched on every parsed event, timed.
fn candidate_stats(engine: &modelward_engine::Engine, events: &Path) {
    let prefilter = engine.prefilter();
    let text = std::fs::read(events).expect("read the events");
    let (mut lines, mut candidates) = (0usize, 0usize);
    // Sysmon events are read as they are (no normalizer applies).
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let c = prefilter.candidates(line).unnormalized();
        lines += 1;
        candidates += (0..prefilter.rule_count())
            .filter(|&r| c.contains(r))
            .count();
    }
    println!(
        "{} rules open (candidates of every record); {:.1} candidate rules per record",
        prefilter.open_rules(),
        candidates as f64 / lines.max(1) as f64
    );
    if std::env::var("SIGMA_STATS").as_deref() != Ok("rules") {
        return;
    }
    let offset = prefilter.rule_count() - engine.sigma().rules.len();
    let rules = &engine.sigma().rules;
    let mut cost = vec![(std::time::Duration::ZERO, 0usize); rules.len()];
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let c = prefilter.candidates(line).unnormalized();
        let Ok(event) = modelward_event::Event::from_json(&String::from_utf8_lossy(line)) else {
            continue;
        };
        for (r, rule) in rules.iter().enumerate() {
            if c.contains(offset + r) {
                let t = Instant::now();
                std::hint::black_box(rule.matches(&event));
                cost[r].0 += t.elapsed();
                cost[r].1 += 1;
            }
        }
    }
    let mut order: Vec<usize> = (0..rules.len()).collect();
    order.sort_by_key(|&r| std::cmp::Reverse(cost[r].0));
    for &r in order.iter().take(25) {
        println!(
            "{:>10.3} ms {:>7} evals  {}  {}",
            cost[r].0.as_secs_f64() * 1e3,
            cost[r].1,
            rules[r].id.as_deref().unwrap_or("-"),
            rules[r].meta.name
        );
    }
}
