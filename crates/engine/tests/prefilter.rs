//! The literal prefilter changes nothing but speed: every rule of the built-in pack
//! (`rules/`), of the test data (`tests/rules/`) and Elastic's published LLM ES|QL rules
//! (fetched by `tools/fetch-elastic-rules.sh` into `target/elastic-rules`, or the directory
//! `MODELWARD_ELASTIC_RULES` names) gives the same alerts with the prefilter on and off, over
//! every normalizer fixture (auto-detected and forced), the example logs, a generated Azure
//! corpus, a simulated day of LLM and storage traffic, and records generated from the
//! fixtures; with and without detectors and analyzers (without them, records the prefilter
//! rejects are not even parsed).

use std::path::{Path, PathBuf};

use modelward_engine::{Engine, EngineBuilder, EngineOptions, Session, VecSink};
use modelward_esql::EsqlRule;
use modelward_event::input::{Batch, InputPath, Reader, ReaderOptions};
use modelward_event::source::{check_provenance, normalizer_for, Normalized, SourceKind};
use modelward_sigma::SigmaSet;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Elastic's rules, when fetched.
fn elastic_rules_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("MODELWARD_ELASTIC_RULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/elastic-rules"));
    dir.is_dir().then_some(dir)
}

/// A rule of the regression: Elastic's guardrail rules test `gen_ai.policy.name`, a value
/// the Bedrock normalizer writes from a trace key (`topicPolicy`) the raw record spells
/// otherwise. (Written here after their form; not theirs.)
const TOPIC_POLICY_RULE: &str = r#"
[rule]
name = "Topic policy blocks (prefilter regression)"
description = "Requests a Bedrock guardrail's topic policy blocked, per user."
rule_id = "5e1d3c8e-0f7a-4d0b-9a61-7c1f2e9b4a10"
risk_score = 47
severity = "medium"
type = "esql"
language = "esql"
from = "now-60m"
interval = "10m"
query = '''
from logs-aws_bedrock.invocation-*
| mv_expand gen_ai.policy.name
| mv_expand gen_ai.policy.action
| where gen_ai.policy.action == "BLOCKED" and gen_ai.policy.name == "topic_policy"
| stats blocks = count() by user.id
'''
"#;

/// Every rule: (ES|QL rules, Sigma set, how many came from Elastic).
fn rules() -> (Vec<EsqlRule>, SigmaSet, usize) {
    let mut sigma = SigmaSet::default();
    let mut esql = vec![modelward_esql::parse_toml_rule(TOPIC_POLICY_RULE, "regression").unwrap()];
    let mut dirs = vec![
        root().join("rules"),
        root().join("crates/engine/tests/rules"),
    ];
    let elastic = elastic_rules_dir();
    dirs.extend(elastic.clone());
    let mut from_elastic = 0;
    for dir in dirs {
        for path in walk(&dir) {
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.display().to_string();
            match path.extension().and_then(|e| e.to_str()) {
                Some("yml" | "yaml") => {
                    let errors = sigma.add_file(&text, &name);
                    assert!(errors.is_empty(), "{name}: {errors:?}");
                }
                Some("toml") => {
                    let rule = modelward_esql::parse_toml_rule(&text, &name)
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                    if elastic.as_ref().is_some_and(|d| path.starts_with(d)) {
                        from_elastic += 1;
                    }
                    esql.push(rule);
                }
                _ => {}
            }
        }
    }
    assert!(sigma.resolve().is_empty());
    (esql, sigma, from_elastic)
}

fn engine(prefilter: bool, detect: bool, source: SourceKind) -> Engine {
    let (esql, sigma, _) = rules();
    let mut builder = EngineBuilder::new()
        .esql_rules(esql)
        .sigma(sigma)
        .options(EngineOptions {
            source,
            no_prefilter: !prefilter,
            ..EngineOptions::default()
        });
    if detect {
        builder = builder
            .detectors(
                modelward_detectors::Detectors::new(&modelward_detectors::Settings::default())
                    .unwrap(),
            )
            .behavior(
                modelward_behavior::Behavior::new(&modelward_behavior::Settings::default())
                    .unwrap(),
            );
    }
    builder.build()
}

/// A named input: its batches.
struct Input {
    name: String,
    source: SourceKind,
    batches: Vec<Batch>,
}

fn read_bytes(name: &str, bytes: Vec<u8>, source: SourceKind) -> Input {
    let batches = Reader::from_read(
        name,
        Box::new(std::io::Cursor::new(bytes)),
        ReaderOptions::default(),
    )
    .unwrap()
    .map(Result::unwrap)
    .collect();
    Input {
        name: name.to_string(),
        source,
        batches,
    }
}

fn read_file(path: &Path, source: SourceKind) -> Input {
    let batches = Reader::open(
        &InputPath::File(path.to_path_buf()),
        ReaderOptions::default(),
    )
    .unwrap()
    .map(Result::unwrap)
    .collect();
    Input {
        name: path.display().to_string(),
        source,
        batches,
    }
}

fn fixture_files() -> Vec<(PathBuf, SourceKind)> {
    walk(&root().join("crates/event/tests/fixtures"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".raw."))
        .map(|p| {
            let dir = p.parent().unwrap().file_name().unwrap().to_string_lossy();
            let kind: SourceKind = dir.parse().unwrap();
            (p, kind)
        })
        .collect()
}

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Records generated from the JSON fixtures: each mutated `n` times, one line each.
fn generated(n: usize) -> Vec<u8> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::new();
    for (path, _) in fixture_files() {
        let Ok(value) = serde_json::from_slice::<Value>(&std::fs::read(&path).unwrap()) else {
            continue;
        };
        for _ in 0..n {
            let mut v = value.clone();
            modelward_corpus::mutate::mutate(&mut v, &mut || rng.next());
            out.extend(serde_json::to_vec(&v).unwrap());
            out.push(b'\n');
        }
    }
    out
}

fn inputs() -> Vec<Input> {
    let mut out = Vec::new();
    for (path, kind) in fixture_files() {
        out.push(read_file(&path, SourceKind::Auto));
        out.push(read_file(&path, kind));
    }
    for name in [
        "diagnostics-2025-03-01.ndjson",
        "diagnostics-2025-03-02.ndjson.gz",
    ] {
        out.push(read_file(
            &root().join("examples/azure_openai").join(name),
            SourceKind::Auto,
        ));
    }
    let mut azure = Vec::new();
    let spec = modelward_corpus::CorpusSpec {
        events: 3_000,
        ..modelward_corpus::CorpusSpec::default()
    };
    modelward_corpus::generate(&spec, &mut azure).unwrap();
    out.push(read_bytes("gen-azure-logs.ndjson", azure, SourceKind::Auto));
    let mut sim = Vec::new();
    let spec = modelward_corpus::sim::SimSpec {
        seed: 7,
        scale: 0.1,
        profiles: modelward_corpus::sim::Profile::llm()
            .into_iter()
            .chain(modelward_corpus::sim::Profile::storage())
            .collect(),
        ..modelward_corpus::sim::SimSpec::default()
    };
    modelward_corpus::sim::simulate(&spec, &mut sim, &mut Vec::new()).unwrap();
    out.push(read_bytes("sim.ndjson", sim, SourceKind::Auto));
    out.push(read_bytes(
        "generated.ndjson",
        generated(40),
        SourceKind::Auto,
    ));
    out
}

fn hunt(engine: &Engine, input: &Input) -> Vec<Value> {
    hunt_counted(engine, input).0
}

/// The alerts, and the records the prefilter rejected unparsed out of all.
fn hunt_counted(engine: &Engine, input: &Input) -> (Vec<Value>, u64, u64) {
    let mut session = Session::new(engine);
    for batch in &input.batches {
        session.push(batch, &mut |_| {});
    }
    let mut sink = VecSink::default();
    let stats = session.finish(&mut sink, &mut |_| {}).unwrap();
    let alerts = sink.alerts.iter().map(|a| a.to_json()).collect();
    (alerts, stats.prefiltered, stats.records)
}

#[test]
fn the_prefilter_changes_no_alert() {
    let (esql, sigma, from_elastic) = rules();
    eprintln!(
        "{} ES|QL rules ({from_elastic} of Elastic's{}), {} Sigma rules",
        esql.len(),
        if elastic_rules_dir().is_none() {
            "; run tools/fetch-elastic-rules.sh to add them"
        } else {
            ""
        },
        sigma.rules.len()
    );
    let inputs = inputs();
    let mut total = 0;
    let mut skipped_any = false;
    for detect in [false, true] {
        let mut engines = std::collections::HashMap::new();
        for input in &inputs {
            let (on, off) = engines
                .entry(format!("{:?}", input.source))
                .or_insert_with(|| {
                    (
                        engine(true, detect, input.source),
                        engine(false, detect, input.source),
                    )
                });
            let with = hunt(on, input);
            let without = hunt(off, input);
            assert_eq!(
                with.len(),
                without.len(),
                "{} (detectors {detect}): {} alerts with the prefilter, {} without",
                input.name,
                with.len(),
                without.len()
            );
            assert!(
                with == without,
                "{} (detectors {detect}): the alerts differ",
                input.name
            );
            total += with.len();
            skipped_any |= !detect;
        }
    }
    assert!(skipped_any && total > 0);
}

/// Sound, and still of use: with rules whose literals are copied from the record (the
/// Azure seed rule, key listing, offensive-tool user agents) and no detectors or analyzers,
/// most raw Azure records of a generated corpus are not even parsed. (The whole built-in
/// pack has rules that require no literal — numbers only — which make every record a
/// candidate, as they did before.)
#[test]
fn the_prefilter_still_skips_most_records() {
    let mut sigma = SigmaSet::default();
    for name in [
        "azure_openai_key_listing_burst.yml",
        "llm_offensive_tool_user_agent.yml",
    ] {
        let path = root().join("rules/sigma").join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(sigma.add_file(&text, name).is_empty());
    }
    assert!(sigma.resolve().is_empty());
    let path = root().join("rules/esql/azure_openai_model_theft.toml");
    let esql =
        modelward_esql::parse_toml_rule(&std::fs::read_to_string(&path).unwrap(), "seed").unwrap();
    let engine = EngineBuilder::new().esql_rule(esql).sigma(sigma).build();
    assert!(!engine.prefilter().is_open());
    let mut azure = Vec::new();
    let spec = modelward_corpus::CorpusSpec {
        events: 3_000,
        ..modelward_corpus::CorpusSpec::default()
    };
    modelward_corpus::generate(&spec, &mut azure).unwrap();
    let input = read_bytes("gen-azure-logs.ndjson", azure, SourceKind::Auto);
    let (alerts, prefiltered, records) = hunt_counted(&engine, &input);
    eprintln!("{prefiltered} of {records} records prefiltered");
    assert!(
        prefiltered * 20 >= records * 17,
        "{prefiltered} of {records}"
    );
    assert!(!alerts.is_empty());
}

/// Every record of every input keeps the normalizers' contract (what the prefilter relies
/// on): each value is in the raw record or in a field its normalizer declares it writes.
#[test]
fn every_record_keeps_the_normalizers_contract() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for input in inputs() {
        for batch in &input.batches {
            for span in &batch.records {
                let raw = batch.bytes(span);
                let Ok(objects) = modelward_event::input::parse_record(raw) else {
                    continue;
                };
                for object in objects {
                    let Some(normalizer) = normalizer_for(&object, input.source) else {
                        continue;
                    };
                    let declared = normalizer.synthesized();
                    if let Ok(Normalized::Event(doc) | Normalized::Partial(doc, _)) =
                        normalizer.normalize(object)
                    {
                        checked += 1;
                        for v in check_provenance(raw, &doc, &declared) {
                            if failures.len() < 40 {
                                failures.push(format!(
                                    "{} ({}): {v}",
                                    input.name,
                                    normalizer.name()
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 1_000, "{checked} records checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The class of bug this guards against: a raw Bedrock record whose guardrail's topic policy
/// blocked the request. `topic_policy` is not in its bytes (the trace says `topicPolicy`);
/// a prefilter that searched for it skipped the record and the rule never fired.
#[test]
fn a_value_only_the_normalizer_writes_does_not_hide_a_record() {
    let path =
        root().join("crates/event/tests/fixtures/aws_bedrock/guardrail_prompt_attack.raw.json");
    let text = std::fs::read_to_string(path).unwrap();
    let mut record: Value = serde_json::from_str(&text).unwrap();
    // The same intervention, by the topic policy.
    let mut text = serde_json::to_string(&record).unwrap();
    assert!(text.contains("contentPolicy"));
    text = text.replace("contentPolicy", "topicPolicy");
    record = serde_json::from_str(&text).unwrap();
    assert!(!text.contains("topic_policy"));
    let lines: Vec<u8> = (0..6)
        .flat_map(|_| {
            let mut l = serde_json::to_vec(&record).unwrap();
            l.push(b'\n');
            l
        })
        .collect();
    let input = read_bytes("bedrock.ndjson", lines, SourceKind::Auto);
    let rule = modelward_esql::parse_toml_rule(TOPIC_POLICY_RULE, "regression").unwrap();
    for prefilter in [true, false] {
        let engine = EngineBuilder::new()
            .esql_rule(rule.clone())
            .options(EngineOptions {
                no_prefilter: !prefilter,
                ..EngineOptions::default()
            })
            .build();
        let alerts = hunt(&engine, &input);
        assert_eq!(alerts.len(), 1, "prefilter {prefilter}: {alerts:?}");
        assert_eq!(alerts[0]["blocks"], 6, "{:#}", alerts[0]);
    }
    // Elastic's own rule (more than 5 blocks by one user), when fetched.
    let Some(dir) = elastic_rules_dir() else {
        eprintln!("Elastic's rules not fetched (tools/fetch-elastic-rules.sh): skipped");
        return;
    };
    let path = dir.join("aws_bedrock_multiple_topic_policy_blocks_detected.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let rule = modelward_esql::parse_toml_rule(&text, &path.display().to_string()).unwrap();
    let engine = EngineBuilder::new().esql_rule(rule).build();
    let alerts = hunt(&engine, &input);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        alerts[0]["Esql.ml_policy_blocked_topic_count"], 6,
        "{:#}",
        alerts[0]
    );
}
