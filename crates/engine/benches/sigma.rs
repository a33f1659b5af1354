//! Sigma throughput: 100 and 1,000 rules over 1M realistic raw Azure OpenAI records, on one
//! core and on all cores, beside a baseline that parses and normalizes every record and
//! evaluates every rule on it (no prefilter), measured in the same run.
//!
//! ```text
//! cargo bench -p modelward-engine --bench sigma
//! MODELWARD_BENCH_EVENTS=200000 cargo bench -p modelward-engine --bench sigma   # smaller
//! ```

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use divan::counter::{BytesCount, ItemsCount};
use divan::Bencher;
use modelward_engine::{
    ingest_inputs, Diagnostic, Engine, EngineBuilder, Progress, Session, VecSink,
};
use modelward_event::input::{parse_record, InputError, InputPath, Reader, ReaderOptions};
use modelward_event::source::{normalize, Normalized, SourceKind};
use modelward_event::Event;
use modelward_sigma::SigmaSet;
use rayon::prelude::*;

fn main() {
    divan::main();
}

struct Corpus {
    file: PathBuf,
    bytes: usize,
    records: usize,
}

fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let events: u64 = std::env::var("MODELWARD_BENCH_EVENTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000);
        let spec = modelward_corpus::CorpusSpec {
            events,
            span_ms: 7 * 86_400_000,
            resources: 24,
            attack_resources: 3,
            ..modelward_corpus::CorpusSpec::default()
        };
        // Under target/, by size: a rerun overwrites it and `cargo clean` removes it.
        let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("sigma-corpus-{events}.ndjson"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).expect("corpus file"));
        let bytes = modelward_corpus::generate(&spec, &mut out).expect("corpus") as usize;
        drop(out);
        Corpus {
            file,
            bytes,
            records: events as usize,
        }
    })
}

/// A synthetic rule pack in the shapes real Sigma packs have, over the corpus's fields.
fn rules_yaml(n: usize) -> String {
    let mut out = String::new();
    for i in 0..n {
        let detection = match i % 8 {
            0 => format!("  sel:\n    azure.open_ai.operation_name: 'Secret_Operation_{i}'\n  condition: sel"),
            1 => format!("  sel:\n    azure.open_ai.properties.model_deployment_name|contains:\n      - 'shadow-copy-{i}'\n      - 'exfil-{i}'\n  condition: sel"),
            2 => format!("  sel:\n    user_agent.original|contains|all:\n      - 'scanner-{i}'\n      - 'probe'\n  condition: sel"),
            3 => format!("  keywords:\n    - 'ignore all previous instructions #{i}'\n    - 'developer mode {i}'\n  condition: keywords"),
            4 => format!("  sel:\n    azure.resource.name|startswith: 'attacker-{i}-'\n    azure.open_ai.category: Audit\n  condition: sel"),
            5 => format!("  sel_a:\n    azure.open_ai.operation_name: 'ListKey_{i}'\n  sel_b:\n    azure.open_ai.properties.object_id|startswith: 'deadbeef-{i}'\n  filter:\n    azure.resource.group: 'rg-allowed'\n  condition: 1 of sel_* and not filter"),
            6 => format!("  sel:\n    azure.open_ai.operation_name: 'Chat_Export_{i}'\n    azure.open_ai.properties.model_name|re: '^gpt-4o-(mini|audio)-{i}$'\n  condition: sel"),
            _ => format!("  sel:\n    azure.open_ai.operation_name: 'Weights_Download_{i}'\n    azure.open_ai.properties.response_length|gte: 1000000\n  condition: sel"),
        };
        out.push_str(&format!("title: Synthetic rule {i}\nid: 00000000-0000-4000-8000-{i:012}\nlogsource:\n  product: azure\n  service: openai\ndetection:\n{detection}\nlevel: medium\n---\n"));
    }
    out
}

fn engine(n: usize) -> &'static Engine {
    static E100: OnceLock<Engine> = OnceLock::new();
    static E1000: OnceLock<Engine> = OnceLock::new();
    let cell = if n == 100 { &E100 } else { &E1000 };
    cell.get_or_init(|| {
        let mut set = SigmaSet::default();
        let errors = set.add_file(&rules_yaml(n), "synthetic.yml");
        assert!(errors.is_empty(), "{errors:?}");
        assert!(set.resolve().is_empty());
        EngineBuilder::new().sigma(set).build()
    })
}

struct Quiet;

impl Progress for Quiet {
    fn input_error(&mut self, error: InputError) {
        panic!("{error}");
    }
    fn diagnostic(&mut self, _: Diagnostic) {}
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool")
}

fn hunt_inline(engine: &Engine, file: &Path) -> u64 {
    let mut hunt = Session::new(engine);
    for batch in Reader::open(
        &InputPath::File(file.to_path_buf()),
        ReaderOptions::default(),
    )
    .expect("open")
    {
        hunt.push(&batch.expect("batch"), &mut |_| {});
    }
    hunt.finish(&mut VecSink::default(), &mut |_| {})
        .expect("finish")
        .alerts
}

fn hunt_pipeline(engine: &Engine, file: &Path) -> u64 {
    let mut hunt = Session::new(engine);
    ingest_inputs(
        &mut hunt,
        &[InputPath::File(file.to_path_buf())],
        &ReaderOptions::default(),
        &mut Quiet,
    );
    hunt.finish(&mut VecSink::default(), &mut |_| {})
        .expect("finish")
        .alerts
}

/// The baseline: parse and normalize every record, evaluate every rule on it.
fn every_rule_on_every_event(engine: &Engine, file: &Path, parallel: bool) -> usize {
    let rules = &engine.sigma().rules;
    let matches = |raw: &[u8]| -> usize {
        let Ok(objects) = parse_record(raw) else {
            return 0;
        };
        objects
            .into_iter()
            .filter_map(|o| match normalize(o, SourceKind::Auto) {
                Ok(Normalized::Event(f) | Normalized::Partial(f, _)) => {
                    Some(Event::new(f, Default::default()))
                }
                Err(_) => None,
            })
            .map(|e| rules.iter().filter(|r| r.matches(&e)).count())
            .sum()
    };
    let mut total = 0;
    for batch in Reader::open(
        &InputPath::File(file.to_path_buf()),
        ReaderOptions::default(),
    )
    .expect("open")
    {
        let batch = batch.expect("batch");
        total += if parallel {
            batch
                .records
                .par_iter()
                .map(|s| matches(batch.bytes(s)))
                .sum::<usize>()
        } else {
            batch
                .records
                .iter()
                .map(|s| matches(batch.bytes(s)))
                .sum::<usize>()
        };
    }
    total
}

fn counters<'a, 'b>(bencher: Bencher<'a, 'b>) -> Bencher<'a, 'b> {
    let c = corpus();
    bencher
        .counter(BytesCount::new(c.bytes))
        .counter(ItemsCount::new(c.records))
}

#[divan::bench(args = [100, 1000], sample_count = 5, sample_size = 1)]
fn sigma_one_core(bencher: Bencher, rules: usize) {
    let (e, p) = (engine(rules), pool(1));
    counters(bencher).bench(|| p.install(|| hunt_inline(e, &corpus().file)));
}

#[divan::bench(args = [100, 1000], sample_count = 5, sample_size = 1)]
fn sigma_all_cores(bencher: Bencher, rules: usize) {
    let (e, p) = (engine(rules), pool(0));
    counters(bencher).bench(|| p.install(|| hunt_pipeline(e, &corpus().file)));
}

#[divan::bench(args = [100, 1000], sample_count = 1, sample_size = 1)]
fn baseline_every_rule_one_core(bencher: Bencher, rules: usize) {
    let (e, p) = (engine(rules), pool(1));
    counters(bencher).bench(|| p.install(|| every_rule_on_every_event(e, &corpus().file, false)));
}

#[divan::bench(args = [100, 1000], sample_count = 1, sample_size = 1)]
fn baseline_every_rule_all_cores(bencher: Bencher, rules: usize) {
    let (e, p) = (engine(rules), pool(0));
    counters(bencher).bench(|| p.install(|| every_rule_on_every_event(e, &corpus().file, true)));
}
