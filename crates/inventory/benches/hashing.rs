//! Hashing throughput on one core: SHA-256 (`sha2`, SHA extensions when the CPU has them) and
//! BLAKE3 (SIMD, one thread) over a large in-memory buffer and over a temporary file read
//! with the inventory's fixed 1 MiB buffer, beside baselines measured in the same run: a
//! word-sum over the same buffer, and reading the same file without hashing.
//!
//! ```text
//! cargo bench -p modelward-inventory --bench hashing          # 256 MiB
//! MODELWARD_BENCH_MB=1024 cargo bench -p modelward-inventory --bench hashing
//! ```

use std::fs::File;
use std::hint::black_box;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::OnceLock;

use divan::counter::BytesCount;
use divan::Bencher;
use modelward_inventory::hash::{hash_bytes, hash_reader, BUFFER};
use modelward_inventory::HashAlgorithm;

fn main() {
    divan::main();
    if let Some(p) = FILE.get() {
        let _ = std::fs::remove_file(p);
    }
}

fn size() -> usize {
    std::env::var("MODELWARD_BENCH_MB")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(256)
        << 20
}

/// Pseudo-random bytes (xorshift), like weights: nothing to compress or skip.
fn buffer() -> &'static [u8] {
    static BUF: OnceLock<Vec<u8>> = OnceLock::new();
    BUF.get_or_init(|| {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut out = Vec::with_capacity(size());
        while out.len() < size() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.extend_from_slice(&x.to_le_bytes());
        }
        out
    })
}

/// The buffer written to a temporary file (page cache warm after the first pass).
static FILE: OnceLock<PathBuf> = OnceLock::new();

fn file() -> &'static PathBuf {
    FILE.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("mw-hash-bench-{}.bin", std::process::id()));
        let mut f = File::create(&path).unwrap();
        f.write_all(buffer()).unwrap();
        f.sync_all().unwrap();
        path
    })
}

mod memory {
    use super::*;

    #[divan::bench(sample_count = 10)]
    fn sha256(b: Bencher) {
        let data = buffer();
        b.counter(BytesCount::new(data.len()))
            .bench(|| black_box(hash_bytes(black_box(data), HashAlgorithm::Sha256)));
    }

    #[divan::bench(sample_count = 10)]
    fn blake3(b: Bencher) {
        let data = buffer();
        b.counter(BytesCount::new(data.len()))
            .bench(|| black_box(hash_bytes(black_box(data), HashAlgorithm::Blake3)));
    }

    /// Baseline: a wrapping sum of the 64-bit words (reads every byte, no hashing).
    #[divan::bench(sample_count = 10)]
    fn baseline_word_sum(b: Bencher) {
        let data = buffer();
        b.counter(BytesCount::new(data.len())).bench(|| {
            let mut sum = 0u64;
            for w in black_box(data).chunks_exact(8) {
                sum = sum.wrapping_add(u64::from_le_bytes(w.try_into().unwrap()));
            }
            black_box(sum)
        });
    }
}

mod file {
    use super::*;

    fn hash_file(algorithm: HashAlgorithm) -> String {
        let mut f = File::open(file()).unwrap();
        hash_reader(&mut f, algorithm, &mut |_| {}).unwrap().0
    }

    #[divan::bench(sample_count = 10)]
    fn sha256(b: Bencher) {
        b.counter(BytesCount::new(buffer().len()))
            .bench(|| black_box(hash_file(HashAlgorithm::Sha256)));
    }

    #[divan::bench(sample_count = 10)]
    fn blake3(b: Bencher) {
        b.counter(BytesCount::new(buffer().len()))
            .bench(|| black_box(hash_file(HashAlgorithm::Blake3)));
    }

    /// Baseline: reading the file with the same 1 MiB buffer, without hashing.
    #[divan::bench(sample_count = 10)]
    fn baseline_read(b: Bencher) {
        b.counter(BytesCount::new(buffer().len())).bench(|| {
            let mut f = File::open(file()).unwrap();
            let mut buf = vec![0u8; BUFFER];
            let mut n = 0usize;
            loop {
                let got = f.read(&mut buf).unwrap();
                if got == 0 {
                    break;
                }
                n += got;
            }
            black_box(n)
        });
    }
}
