//! Any bytes as an upstream's Server-Sent Events stream, cut into pieces of any size (the
//! first byte): the gateway's rewriter (events cut at blank lines, `data:` JSON rewritten,
//! events put before one), its streaming credential mask, and the reassembly of the stream
//! for the LLM request log must return, never panic. With an edit that changes nothing, the
//! events read from the rewritten stream are those of the stream as it came, however it was
//! cut; `reassemble_stream` (typed, for the log) equals `reassemble` of `events`.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use modelward_detectors::detectors::credential_theft::CredentialTheft;
use modelward_gateway::mask::ResponseMask;
use modelward_gateway::sse::{events, reassemble, reassemble_stream, Rewriter};
use serde_json::{json, Value};

fn rewrite(stream: &[u8], step: usize, edit: &mut dyn FnMut(&mut Value) -> Vec<Value>) -> Vec<u8> {
    let mut rewriter = Rewriter::default();
    let mut out = Vec::new();
    for piece in stream.chunks(step) {
        out.extend(rewriter.push(piece, &mut *edit));
    }
    out.extend(rewriter.finish());
    out
}

/// The credential detector, its rules compiled once.
fn redactor() -> Arc<CredentialTheft> {
    static REDACTOR: OnceLock<Arc<CredentialTheft>> = OnceLock::new();
    REDACTOR
        .get_or_init(|| Arc::new(CredentialTheft::new()))
        .clone()
}

fuzz_target!(|data: &[u8]| {
    let Some((first, stream)) = data.split_first() else {
        return;
    };
    let step = usize::from(*first % 64) + 1;

    // An edit that changes nothing: the same events, whatever the pieces.
    let same = rewrite(stream, step, &mut |_| Vec::new());
    assert_eq!(
        events(&same),
        events(stream),
        "the rewriter changed the events"
    );

    // Edits as the measures make them: log probabilities removed, events put before.
    let mut n = 0;
    let _ = rewrite(stream, step, &mut |v| {
        n += 1;
        if let Some(o) = v.as_object_mut() {
            o.remove("logprobs");
        }
        if n % 3 == 0 {
            vec![json!({"type": "response.output_text.delta", "delta": "held"})]
        } else {
            Vec::new()
        }
    });

    // The credential mask over the stream's events (chat, completions, Responses API).
    let mut mask = ResponseMask::new(redactor());
    let _ = rewrite(stream, step, &mut |v| mask.event(v));
    let _ = mask.found();

    // The log's reassembly, typed and by value.
    assert_eq!(
        reassemble_stream(stream),
        reassemble(&events(stream)),
        "reassemble_stream and reassemble(events) differ"
    );
});
