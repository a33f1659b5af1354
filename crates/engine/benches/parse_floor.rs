//! The parse floor of a hunt: every line of a file parsed into a `serde_json::Value`, one
//! thread, nothing else. Run under callgrind beside `modelward hunt -j 1` on the same file,
//! the two instruction counts compare a hunt with the cost of reading its JSON at all
//! (issue 16: the built-in pack at >= 0.5x this floor).
//!
//! ```text
//! FLOOR_FILE=azure.ndjson cargo bench -p modelward-engine --bench parse_floor
//! valgrind --tool=callgrind target/release/deps/parse_floor-HASH --bench  # same variable
//! ```
//!
//! `tools/hunt-floor.sh` runs both, beside the hunt, timed or under callgrind.

use std::time::Instant;

fn main() {
    let Some(file) = std::env::var_os("FLOOR_FILE") else {
        eprintln!("parse_floor: set FLOOR_FILE (NDJSON); skipped");
        return;
    };
    let data = std::fs::read(&file).expect("read FLOOR_FILE");
    let start = Instant::now();
    let (mut lines, mut objects) = (0usize, 0usize);
    for line in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        lines += 1;
        if let Ok(serde_json::Value::Object(_)) = serde_json::from_slice(line) {
            objects += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{lines} lines, {objects} objects, {} bytes in {secs:.3} s ({:.0} MB/s)",
        data.len(),
        data.len() as f64 / 1e6 / secs
    );
}
