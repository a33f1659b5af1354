//! False-positive rates of the built-in detectors on benign text: every UTF-8 text file under
//! the given directories (documentation, source code, configuration) is cut into chunks of
//! about 2 KB at line ends, and each chunk is the completion of one LLM call (its prompt an
//! ordinary request). Prints, per detector, how many calls raised it and a few of its masked
//! summaries, so each hit can be judged.
//!
//! ```text
//! cargo run --release -p modelward-detectors --example benign_rate -- \
//!     /usr/share/doc /usr/lib/python3.11 ~/.cargo/registry/src
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use modelward_detectors::{Detectors, Settings, CODES};
use modelward_event::Event;

const CHUNK: usize = 2048;
const SHOWN: usize = 8;
const MAX_FILE: u64 = 4 << 20;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            files(&e.path(), out);
        } else if kind.is_file() && e.metadata().is_ok_and(|m| m.len() <= MAX_FILE) {
            out.push(e.path());
        }
    }
}

/// The text cut at line ends into chunks of about `CHUNK` bytes.
fn chunks(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for line in text.split_inclusive('\n') {
        if end - start + line.len() > CHUNK && end > start {
            out.push(&text[start..end]);
            start = end;
        }
        end += line.len();
    }
    if end > start {
        out.push(&text[start..end]);
    }
    out
}

fn main() {
    let dirs: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if dirs.is_empty() {
        eprintln!("usage: benign_rate DIR...");
        std::process::exit(2);
    }
    let detectors = match Detectors::new(&Settings::default()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("benign_rate: {e}");
            std::process::exit(2);
        }
    };
    let shown: usize = std::env::var("SHOWN")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SHOWN);
    let mut paths = Vec::new();
    for d in &dirs {
        files(d, &mut paths);
    }
    let (mut calls, mut bytes, mut texts) = (0u64, 0u64, 0u64);
    let mut hits: BTreeMap<&str, (u64, Vec<String>)> = BTreeMap::new();
    for path in &paths {
        let Ok(data) = std::fs::read(path) else {
            continue;
        };
        let Ok(text) = String::from_utf8(data) else {
            continue;
        };
        if text.contains('\0') {
            continue;
        }
        texts += 1;
        for chunk in chunks(&text) {
            calls += 1;
            bytes += chunk.len() as u64;
            let doc = serde_json::json!({"gen_ai": {
                "prompt": [{"role": "user", "content": "Show me the relevant part of the file."}],
                "completion": chunk,
            }});
            let Ok(event) = Event::from_json(&doc.to_string()) else {
                continue;
            };
            let mut seen: Vec<&str> = Vec::new();
            for f in detectors.inspect(&event) {
                let entry = hits.entry(f.code).or_default();
                if !seen.contains(&f.code) {
                    seen.push(f.code);
                    entry.0 += 1;
                }
                if entry.1.len() < shown {
                    entry.1.push(format!("{}: {}", path.display(), f.summary));
                }
            }
        }
    }
    println!(
        "{texts} text files, {calls} calls of about {CHUNK} bytes, {:.1} MB",
        bytes as f64 / 1e6
    );
    println!("| code | alert | calls raising it | rate |");
    println!("|---|---|---|---|");
    for c in CODES {
        let n = hits.get(c.code).map_or(0, |h| h.0);
        println!(
            "| {} | {} | {n} | {:.3}% |",
            c.code,
            c.name,
            100.0 * n as f64 / calls.max(1) as f64
        );
    }
    for (code, (_, shown)) in &hits {
        println!("\n{code}:");
        for s in shown {
            println!("  {s}");
        }
    }
}
