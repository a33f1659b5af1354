//! `hunt` throughput over a realistic raw Azure OpenAI corpus, beside a baseline that parses
//! every line with serde_json, in the same run, on one core and on all cores.
//!
//! ```text
//! cargo bench -p modelward-engine --bench hunt
//! MODELWARD_BENCH_MB=1024 cargo bench -p modelward-engine --bench hunt   # a 1 GiB corpus
//! ```
//!
//! divan reports time per pass over the corpus, and bytes/s and items/s (items = records).
//! The hunt reads the corpus from a file (in the page cache after the first pass). On all
//! cores it runs as the CLI does (a reader thread, records in parallel); on one core,
//! reading and processing share the one thread. The baseline parses the same bytes from
//! memory, which flatters it.

use std::path::Path;
use std::sync::OnceLock;

use divan::counter::{BytesCount, ItemsCount};
use divan::Bencher;
use modelward_engine::{
    ingest_inputs, Diagnostic, Engine, EngineBuilder, Progress, Session, VecSink,
};
use modelward_event::input::{InputError, InputPath, Reader, ReaderOptions};
use rayon::prelude::*;

const SEED_RULE: &str = include_str!("../../../rules/esql/azure_openai_model_theft.toml");

fn main() {
    divan::main();
}

struct Corpus {
    bytes: Vec<u8>,
    records: usize,
    /// The same bytes in a file, read as `modelward hunt` reads its inputs.
    file: std::path::PathBuf,
}

fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mb: u64 = std::env::var("MODELWARD_BENCH_MB")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(128);
        // About 1.35 KB per record in this corpus.
        let spec = modelward_corpus::CorpusSpec {
            events: mb * 1_000_000 / 1350,
            span_ms: 7 * 86_400_000,
            resources: 24,
            attack_resources: 3,
            ..modelward_corpus::CorpusSpec::default()
        };
        let mut bytes = Vec::new();
        modelward_corpus::generate(&spec, &mut bytes).expect("corpus");
        let records = bytes.iter().filter(|b| **b == b'\n').count();
        // Under target/, by size: a rerun overwrites it and `cargo clean` removes it.
        let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("hunt-corpus-{mb}mb.ndjson"));
        std::fs::write(&file, &bytes).expect("write corpus");
        Corpus {
            bytes,
            records,
            file,
        }
    })
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let rule = modelward_esql::parse_toml_rule(SEED_RULE, "builtin").expect("seed rule");
        EngineBuilder::new().esql_rule(rule).build()
    })
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool")
}

struct Quiet;

impl Progress for Quiet {
    fn input_error(&mut self, error: InputError) {
        panic!("{error}");
    }
    fn diagnostic(&mut self, _: Diagnostic) {}
}

/// What `modelward hunt FILE` does: a reader thread, records in parallel, then the rules'
/// executions.
fn hunt_pipeline(file: &Path) -> u64 {
    let mut hunt = Session::new(engine());
    ingest_inputs(
        &mut hunt,
        &[InputPath::File(file.to_path_buf())],
        &ReaderOptions::default(),
        &mut Quiet,
    );
    let mut sink = VecSink::default();
    hunt.finish(&mut sink, &mut |_| {}).expect("finish").alerts
}

/// The same work on one thread: reading, records and executions one after the other.
fn hunt_inline(file: &Path) -> u64 {
    let mut hunt = Session::new(engine());
    let reader = Reader::open(
        &InputPath::File(file.to_path_buf()),
        ReaderOptions::default(),
    )
    .expect("open");
    for batch in reader {
        hunt.push(&batch.expect("batch"), &mut |_| {});
    }
    let mut sink = VecSink::default();
    hunt.finish(&mut sink, &mut |_| {}).expect("finish").alerts
}

/// The baseline: split lines and parse each into a `serde_json::Value`.
fn baseline_once(data: &[u8], parallel: bool) -> usize {
    let lines: Vec<&[u8]> = data
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let parse = |l: &&[u8]| {
        serde_json::from_slice::<serde_json::Value>(l)
            .map(|v| v.is_object() as usize)
            .unwrap_or(0)
    };
    if parallel {
        lines.par_iter().with_min_len(256).map(parse).sum()
    } else {
        lines.iter().map(parse).sum()
    }
}

fn counters<'a, 'b>(bencher: Bencher<'a, 'b>) -> Bencher<'a, 'b> {
    let c = corpus();
    bencher
        .counter(BytesCount::new(c.bytes.len()))
        .counter(ItemsCount::new(c.records))
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn hunt_builtin_one_core(bencher: Bencher) {
    let p = pool(1);
    let alerts = p.install(|| hunt_inline(&corpus().file));
    assert!(alerts >= 3, "the attacked accounts alert");
    counters(bencher).bench(|| p.install(|| hunt_inline(&corpus().file)));
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn hunt_builtin_all_cores(bencher: Bencher) {
    let p = pool(0);
    counters(bencher).bench(|| p.install(|| hunt_pipeline(&corpus().file)));
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn baseline_serde_json_one_core(bencher: Bencher) {
    counters(bencher).bench(|| baseline_once(&corpus().bytes, false));
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn baseline_serde_json_all_cores(bencher: Bencher) {
    let p = pool(0);
    counters(bencher).bench(|| p.install(|| baseline_once(&corpus().bytes, true)));
}

/// Reading alone (the reader thread's share of the pipeline): decompression-free file reads
/// cut into records.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn read_records_only(bencher: Bencher) {
    counters(bencher).bench(|| {
        let reader = Reader::open(
            &InputPath::File(corpus().file.clone()),
            ReaderOptions::default(),
        )
        .expect("open");
        reader
            .map(|b| b.expect("batch").records.len())
            .sum::<usize>()
    });
}
