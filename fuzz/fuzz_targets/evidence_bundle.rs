//! Any bytes as a tampered evidence bundle and a signed evidence report: the bytes, cut at
//! `\0`, are the bundle's manifest (`SHA256SUMS`), its `evidence/records.ndjson` and two files
//! the manifest may name, written to a scratch folder; `verify_bundle` must return (an
//! error or its mismatches), never panic nor read outside the folder. The whole input is
//! also a signed report for `modelward_evidence::verify` and `verify_pinned`.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use modelward_respond::evidence::{verify_bundle, MANIFEST};

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| std::env::temp_dir().join(format!("mw-fuzz-bundle-{}", std::process::id())))
}

fuzz_target!(|data: &[u8]| {
    let _ = modelward_evidence::verify(data);
    let _ = modelward_evidence::verify_pinned(data, "00");

    let dir = scratch();
    std::fs::create_dir_all(dir.join("evidence")).unwrap();
    let mut parts = data.splitn(4, |b| *b == 0);
    let names = [
        MANIFEST,
        "evidence/records.ndjson",
        "incident.json",
        "evidence/0001.raw",
    ];
    for name in names {
        match parts.next() {
            Some(part) => std::fs::write(dir.join(name), part).unwrap(),
            None => {
                let _ = std::fs::remove_file(dir.join(name));
            }
        }
    }
    if let Ok(verified) = verify_bundle(dir) {
        assert_eq!(verified.manifest_sha256.len(), 64);
    }
});
