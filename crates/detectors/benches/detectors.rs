//! Detector throughput: every built-in detector (with a phishing feed and an IP list loaded)
//! over realistic LLM calls of about 2 KB of prompt and completion, on one core and on all
//! cores, beside a baseline that runs each content detector's patterns on its own over the
//! same texts (no shared keyword pass), measured in the same run.
//!
//! ```text
//! cargo bench -p modelward-detectors --bench detectors
//! ```

use std::sync::OnceLock;

use divan::counter::{BytesCount, ItemsCount};
use divan::Bencher;
use modelward_detectors::detectors::phishing_urls;
use modelward_detectors::detectors::sensitive_data::SensitiveData;
use modelward_detectors::{CredentialTheft, Detectors, LlmText, Settings};
use modelward_event::Event;
use rayon::prelude::*;
use regex::Regex;

fn main() {
    divan::main();
}

const CALLS: usize = 20_000;

const PROMPTS: [&str; 8] = [
    "Summarize the following incident report for the on-call channel. The deployment of the billing service failed at 02:14 because the database migration timed out; the rollback restored the previous version at 02:31 and no data was lost.",
    "Review this function and tell me whether it handles empty input: def first(xs): return xs[0] if xs else None. Also suggest a docstring and a unit test.",
    "Write a polite reply to a customer who says their order 4829-1133 arrived damaged and who wants a replacement rather than a refund.",
    "Translate into plain English: The lessee shall indemnify the lessor against all claims arising from the use of the premises during the term.",
    "Which of our three plans fits a team of 40 engineers who need SSO, audit logs and 99.9% uptime? Here is the pricing page: https://learn.microsoft.com/en-us/azure/",
    "Explain exponential backoff with jitter, with a short Python example using time.sleep and random.uniform.",
    "Classify this email into billing, delivery, returns or other: Hi, I was charged twice for invoice INV-2026-0042, please help.",
    "Draft release notes for version 3.2: faster search, dark mode, fixed the crash when exporting large reports to CSV.",
];

const COMPLETIONS: [&str; 6] = [
    "Here is a summary for the on-call channel. At 02:14 the billing service deployment failed because the schema migration exceeded its timeout. The automatic rollback completed at 02:31 and restored the previous release; no data was lost and no customer-facing errors were recorded after 02:33. Follow-ups: raise the migration timeout, split the migration into smaller batches, and add an alert on migration duration.",
    "The function handles an empty list correctly: the conditional expression returns None before indexing. A docstring could read: Return the first element of xs, or None when xs is empty. A unit test: assert first([]) is None and assert first([3, 4]) == 3. Consider type hints such as def first(xs: list[T]) -> T | None.",
    "Dear customer, thank you for letting us know, and I am sorry your order arrived damaged. We will send a replacement at no cost; you do not need to return the damaged item. You will receive a tracking number within two business days. If anything else is wrong, reply to this message and we will sort it out.",
    "In plain English: the tenant agrees to cover the landlord for any claims caused by how the tenant uses the property while the lease is running. If someone sues the landlord because of something the tenant did, the tenant pays.",
    "For 40 engineers who need SSO and audit logs, the Business plan fits: it includes SAML single sign-on, a 365-day audit log and a 99.9% uptime commitment. The Enterprise plan adds a dedicated support manager and custom retention, which you may not need yet. See https://learn.microsoft.com/en-us/azure/ for the details.",
    "Exponential backoff waits longer after each failure: 1 s, 2 s, 4 s and so on, up to a cap. Jitter adds randomness so that many clients do not retry at the same moment. Example: for attempt in range(6): try: return call() except TimeoutError: time.sleep(min(30, 2 ** attempt) * random.uniform(0.5, 1.5)).",
];

struct Corpus {
    events: Vec<Event>,
    bytes: usize,
}

/// Calls of about 2 KB; one in a hundred carries something a detector reports (a key, a
/// card, hidden tag characters, a listed URL), as production traffic might.
fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        // Built at run time so no secret-shaped literal sits in the source.
        let key = [
            "sk-proj-",
            "Tq8vLm2Xr9Kd4Wz7Bn3Cf6Hj1Sd5Gy0Ae8Pu2Mi7Nb4Vc9Xz",
        ]
        .concat();
        let card = ["4111", " 1111", " 1111", " 1111"].concat();
        let mut events = Vec::with_capacity(CALLS);
        let mut bytes = 0;
        for i in 0..CALLS {
            let prompt = format!(
                "{} {}",
                PROMPTS[i % PROMPTS.len()],
                PROMPTS[(i / 7) % PROMPTS.len()]
            );
            let mut completion = format!(
                "{} {} {}",
                COMPLETIONS[i % COMPLETIONS.len()],
                COMPLETIONS[(i / 3) % COMPLETIONS.len()],
                COMPLETIONS[(i / 11) % COMPLETIONS.len()]
            );
            match i % 400 {
                0 => completion.push_str(&format!(" Use the key {key} in the header.")),
                100 => completion.push_str(&format!(" The card on file is {card}.")),
                200 => {
                    completion.push_str(" \u{E0069}\u{E0067}\u{E006E}\u{E006F}\u{E0072}\u{E0065}")
                }
                300 => {
                    completion.push_str(" Sign in at https://login.contoso-verify.test/signin now.")
                }
                _ => {}
            }
            bytes += prompt.len() + completion.len();
            let doc = serde_json::json!({
                "@timestamp": "2026-11-22T10:00:00Z",
                "source": {"ip": format!("198.51.{}.{}", (i / 250) % 256, i % 250)},
                "user_agent": {"original": "OpenAI/Python 1.51.0"},
                "gen_ai": {
                    "prompt": [{"role": "user", "content": prompt}],
                    "completion": completion,
                },
            });
            events.push(Event::from_json(&doc.to_string()).expect("event"));
        }
        Corpus { events, bytes }
    })
}

/// A phishing feed and an IP list in a temporary directory: (feeds, IP lists).
fn lists() -> (Vec<std::path::PathBuf>, Vec<std::path::PathBuf>) {
    let dir = std::env::temp_dir().join(format!("modelward-detector-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let feed = dir.join("openphish.txt");
    std::fs::write(
        &feed,
        "https://login.contoso-verify.test/signin\nhttps://evil.example/login\n",
    )
    .expect("feed");
    let ips = dir.join("drop.txt");
    std::fs::write(&ips, "203.0.113.0/24 ; SBL000001\n").expect("ip list");
    (vec![feed], vec![ips])
}

/// Detectors with every code but those in `disabled`, and the lists loaded.
fn detectors_without(disabled: Vec<String>) -> Detectors {
    let (phishing_feeds, suspicious_ip_lists) = lists();
    Detectors::new(&Settings {
        disabled,
        phishing_feeds,
        suspicious_ip_lists,
        ..Settings::default()
    })
    .expect("detectors")
}

fn detectors() -> Detectors {
    detectors_without(Vec::new())
}

#[divan::bench(sample_count = 10)]
fn all_detectors_one_core(bencher: Bencher) {
    let c = corpus();
    let d = detectors();
    bencher
        .counter(BytesCount::new(c.bytes))
        .counter(ItemsCount::new(c.events.len()))
        .bench(|| c.events.iter().map(|e| d.inspect(e).len()).sum::<usize>());
}

#[divan::bench(sample_count = 10)]
fn all_detectors_all_cores(bencher: Bencher) {
    let c = corpus();
    let d = detectors();
    bencher
        .counter(BytesCount::new(c.bytes))
        .counter(ItemsCount::new(c.events.len()))
        .bench(|| {
            c.events
                .par_iter()
                .with_min_len(256)
                .map(|e| d.inspect(e).len())
                .sum::<usize>()
        });
}

/// Baseline: the regular expressions of the content detectors (credentials, sensitive
/// data, URLs), each compiled alone and run over every text, without keyword gating.
#[divan::bench(sample_count = 10)]
fn baseline_each_pattern_alone_one_core(bencher: Bencher) {
    let c = corpus();
    let sensitive = SensitiveData::new(None).expect("sensitive data");
    let patterns: Vec<Regex> = CredentialTheft::new()
        .patterns()
        .into_iter()
        .chain(sensitive.patterns())
        .chain(phishing_urls::patterns())
        .map(|p| Regex::new(p).expect("built-in pattern"))
        .collect();
    bencher
        .counter(BytesCount::new(c.bytes))
        .counter(ItemsCount::new(c.events.len()))
        .bench(|| {
            let mut found = 0;
            for e in &c.events {
                for (_, text) in LlmText::of(e).all() {
                    for re in &patterns {
                        found += re.find_iter(text).count();
                    }
                }
            }
            found
        });
}

/// Each detector alone (the others disabled), to see where the time goes.
#[divan::bench(sample_count = 5, args = ["MW-AI-0001", "MW-AI-0002", "MW-AI-0003", "MW-AI-0004", "MW-AI-0005", "MW-AI-0008", "MW-AI-0009", "MW-AI-0011"])]
fn one_detector_one_core(bencher: Bencher, code: &str) {
    let c = corpus();
    let d = detectors_without(
        modelward_detectors::CODES
            .iter()
            .map(|c| c.code.to_string())
            .filter(|c| c != code)
            .collect(),
    );
    bencher
        .counter(BytesCount::new(c.bytes))
        .bench(|| c.events.iter().map(|e| d.inspect(e).len()).sum::<usize>());
}
