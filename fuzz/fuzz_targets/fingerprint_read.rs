//! Arbitrary bytes through the fingerprint tensor readers (safetensors, GGUF, npy, npz): no
//! panic, no unbounded allocation; every tensor a reader returns can be read at its first
//! and last elements.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelward_fingerprint::read;
use modelward_fingerprint::tensor::gather;

fuzz_target!(|data: &[u8]| {
    let bytes = data.to_vec();
    for file in [
        read::tensors(&bytes).ok().flatten(),
        read::safetensors::read(&bytes).ok(),
        read::gguf::read(&bytes).ok(),
        read::npy::read(&bytes, 0, bytes.len() as u64, "fuzz").ok(),
    ]
    .into_iter()
    .flatten()
    {
        for t in file.tensors.iter().take(64) {
            let n = t.numel();
            if n > 0 {
                gather(&bytes, t, &[0, n / 2, n - 1]).expect("a checked tensor reads");
            }
        }
    }
});
