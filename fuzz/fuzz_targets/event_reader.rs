//! Any bytes as an input file (NDJSON, JSON documents, envelopes, gzip): the reader and the
//! record parser must return, never panic, and the reader must come to an end.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use modelward_event::input::{parse_record, Reader, ReaderOptions};

fuzz_target!(|data: &[u8]| {
    // Small limits, so that the too-long and too-large paths are reached.
    let opts = ReaderOptions {
        max_record_bytes: 256,
        batch_bytes: 64,
    };
    let Ok(reader) = Reader::from_read("fuzz", Box::new(Cursor::new(data.to_vec())), opts) else {
        return;
    };
    // Every batch or error consumes input; gzip may expand it, but not without bound here.
    let mut items = 0usize;
    for item in reader {
        items += 1;
        assert!(items < 1_000_000, "the reader does not come to an end");
        let Ok(batch) = item else {
            continue;
        };
        for span in &batch.records {
            assert!(span.start <= span.end && span.end <= batch.data.len());
            let _ = parse_record(batch.bytes(span));
        }
    }
});
