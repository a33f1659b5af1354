//! Response-side protection (`mask_credentials = true`): a credential in a completion (the
//! patterns of the credential-theft detector, MW-AI Defender's `AI.Azure_CredentialTheftAttempt`)
//! is replaced by its masked form (`AKIA…7Q (20 chars)`) before the caller gets it, and
//! named in the log record's `modelward.masked`, from which the detector raises its alert.
//!
//! Whole answers: the text of every choice (`message.content`, `refusal`, tool-call
//! arguments, legacy `text`) and of the Responses API's output; a choice or part where
//! something was masked loses its log probabilities (their tokens would spell the credential).
//!
//! Streams: a credential can be cut across events, so each choice's text is released a line
//! at a time (text after the last newline is held until the next one, or the end), an
//! unfinished PEM block until its `-----END` line, at most [`MAX_HOLD`] bytes (then the held
//! text is masked and released at the last whitespace). What is held goes out with the event
//! that ends the choice (`finish_reason`); a stream cut before that never sends it. Log
//! probabilities are removed from every streamed event (the text they belong to moves).
//!
//! The Responses API's text deltas (`response.output_text.delta`, `refusal`, function-call
//! arguments, reasoning text and summaries) are held the same way, per part (the event type,
//! `output_index`, `content_index` or `summary_index`): each delta event carries what can go
//! out, and the rest goes out, masked, in a delta event of the same part put just before the
//! event that ends it (its `….done`, or `response.completed` / `incomplete` / `failed`),
//! with every later `sequence_number` moved up by one so that they stay in order. The closing
//! events' whole texts are masked as they are. Their log probabilities are emptied (`[]`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use modelward_detectors::{CredentialTheft, Masked};
use serde_json::{json, Value};

/// The most text held back for one choice of a stream.
pub const MAX_HOLD: usize = 16 << 10;

/// Masks one response (or the events of one stream, in order).
pub struct ResponseMask {
    redactor: Arc<CredentialTheft>,
    found: Vec<Masked>,
    /// Text not yet released, per choice.
    held: HashMap<u64, String>,
    /// Text not yet released, per part of a Responses API stream.
    parts: BTreeMap<Part, Held>,
    /// Events put into the stream so far: later `sequence_number`s move up by this.
    inserted: u64,
}

/// A part of a Responses API stream whose deltas are held: its delta event type,
/// `output_index`, `content_index` (or `summary_index`).
type Part = (String, u64, u64);

/// What is held of one part, and the `item_id` its events name.
#[derive(Default)]
struct Held {
    item_id: Option<Value>,
    text: String,
}

/// The Responses API's delta events whose text is held (others, such as audio, are masked
/// one by one).
const HELD_DELTAS: [&str; 5] = [
    "response.output_text.delta",
    "response.refusal.delta",
    "response.function_call_arguments.delta",
    "response.reasoning_text.delta",
    "response.reasoning_summary_text.delta",
];

impl ResponseMask {
    pub fn new(redactor: Arc<CredentialTheft>) -> ResponseMask {
        ResponseMask {
            redactor,
            found: Vec::new(),
            held: HashMap::new(),
            parts: BTreeMap::new(),
            inserted: 0,
        }
    }

    /// What was masked so far, for the log record.
    pub fn found(&self) -> Value {
        json!(self
            .found
            .iter()
            .map(|m| json!({"kind": m.kind, "value": m.value}))
            .collect::<Vec<_>>())
    }

    pub fn masked_any(&self) -> bool {
        !self.found.is_empty()
    }

    /// Masks `text` in place; whether anything was masked.
    fn mask(&mut self, text: &mut String) -> bool {
        match self.redactor.mask(text) {
            Some((out, found)) => {
                for m in found {
                    if !self.found.contains(&m) {
                        self.found.push(m);
                    }
                }
                *text = out;
                true
            }
            None => false,
        }
    }

    fn mask_value(&mut self, v: Option<&mut Value>) -> bool {
        match v {
            Some(Value::String(s)) => self.mask(s),
            _ => false,
        }
    }

    /// A whole (non-streamed) answer.
    pub fn whole(&mut self, v: &mut Value) {
        if let Some(choices) = v.get_mut("choices").and_then(Value::as_array_mut) {
            for choice in choices {
                let mut masked = self.mask_value(choice.get_mut("text"));
                if let Some(message) = choice.get_mut("message") {
                    masked |= self.mask_value(message.get_mut("content"));
                    masked |= self.mask_value(message.get_mut("refusal"));
                    masked |= self.tool_calls(message);
                }
                if masked {
                    if let Some(o) = choice.as_object_mut() {
                        o.remove("logprobs");
                    }
                }
            }
        }
        self.responses_output(v);
    }

    fn tool_calls(&mut self, message: &mut Value) -> bool {
        let mut masked = false;
        if let Some(calls) = message.get_mut("tool_calls").and_then(Value::as_array_mut) {
            for call in calls {
                if let Some(f) = call.get_mut("function") {
                    masked |= self.mask_value(f.get_mut("arguments"));
                }
            }
        }
        masked
    }

    /// The Responses API's `output[].content[]` (a whole response, or inside an event).
    fn responses_output(&mut self, v: &mut Value) {
        if let Some(output) = v.get_mut("output").and_then(Value::as_array_mut) {
            for item in output {
                self.responses_item(item);
            }
        }
    }

    fn responses_item(&mut self, item: &mut Value) {
        self.mask_value(item.get_mut("arguments"));
        if let Some(content) = item.get_mut("content").and_then(Value::as_array_mut) {
            for part in content {
                self.responses_part(part);
            }
        }
    }

    fn responses_part(&mut self, part: &mut Value) {
        if self.mask_value(part.get_mut("text")) | self.mask_value(part.get_mut("refusal")) {
            if let Some(o) = part.as_object_mut() {
                o.remove("logprobs");
            }
        }
    }

    /// One event of a stream; the events to send before it (the held rest of a Responses
    /// API part, before the event that ends it).
    pub fn event(&mut self, v: &mut Value) -> Vec<Value> {
        if let Some(choices) = v.get_mut("choices").and_then(Value::as_array_mut) {
            for (n, choice) in choices.iter_mut().enumerate() {
                let c = choice
                    .get("index")
                    .and_then(Value::as_u64)
                    .unwrap_or(n as u64);
                let finished = choice.get("finish_reason").is_some_and(|f| !f.is_null());
                if let Some(o) = choice.as_object_mut() {
                    o.remove("logprobs");
                }
                // Chat's `delta.content`, legacy completions' `text`.
                let slot = if choice.get("delta").is_some() {
                    let delta = &mut choice["delta"];
                    self.tool_calls(delta);
                    self.mask_value(delta.get_mut("refusal"));
                    delta
                } else {
                    choice
                };
                let key = if slot.get("content").is_some() || slot.get("text").is_none() {
                    "content"
                } else {
                    "text"
                };
                let piece = slot
                    .get(key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let released = self.release(c, &piece, finished);
                if !piece.is_empty() || !released.is_empty() {
                    slot[key] = json!(released);
                }
            }
        }
        self.responses_event(v)
    }

    /// One event of a Responses API stream (nothing for other streams); the events to send
    /// before it.
    fn responses_event(&mut self, v: &mut Value) -> Vec<Value> {
        let kind = v.get("type").and_then(Value::as_str).unwrap_or_default();
        let mut before = Vec::new();
        if let Some(part) = part_of(v, kind) {
            // A held delta: what can go out now goes in this event.
            let piece = v["delta"].as_str().unwrap_or_default().to_string();
            let held = self.parts.entry(part).or_default();
            held.item_id = v.get("item_id").cloned();
            held.text.push_str(&piece);
            let cut = safe_cut(&held.text);
            let mut out: String = held.text.drain(..cut).collect();
            self.mask(&mut out);
            v["delta"] = json!(out);
            empty_logprobs(v);
        } else if kind.ends_with(".delta") {
            self.mask_value(v.get_mut("delta"));
            empty_logprobs(v);
        } else {
            if let Some(delta_kind) = kind.strip_suffix(".done").map(|k| format!("{k}.delta")) {
                // The end of a held part: its rest first.
                if let Some(part) = part_of(v, &delta_kind) {
                    if let Some(held) = self.parts.remove(&part) {
                        before.extend(self.rest(part, held));
                    }
                }
            }
            if matches!(
                kind,
                "response.completed" | "response.incomplete" | "response.failed"
            ) {
                for (part, held) in std::mem::take(&mut self.parts) {
                    before.extend(self.rest(part, held));
                }
            }
            if v.get("output_index").is_some() {
                for field in ["text", "arguments", "refusal"] {
                    self.mask_value(v.get_mut(field));
                }
                empty_logprobs(v);
            }
            if let Some(part) = v.get_mut("part") {
                self.responses_part(part);
            }
            if let Some(item) = v.get_mut("item") {
                self.responses_item(item);
            }
            if let Some(response) = v.get_mut("response") {
                self.responses_output(response);
            }
        }
        // Events put in before this one take its place in the sequence.
        if let Some(n) = v.get("sequence_number").and_then(Value::as_u64) {
            for (i, e) in before.iter_mut().enumerate() {
                e["sequence_number"] = json!(n + self.inserted + i as u64);
            }
            self.inserted += before.len() as u64;
            v["sequence_number"] = json!(n + self.inserted);
        }
        before
    }

    /// The held rest of a part as a delta event of its own (none when nothing is held).
    fn rest(&mut self, (kind, output, index): Part, held: Held) -> Option<Value> {
        if held.text.is_empty() {
            return None;
        }
        let mut text = held.text;
        self.mask(&mut text);
        let mut e = json!({"type": kind, "output_index": output, "delta": text});
        if let Some(id) = held.item_id {
            e["item_id"] = id;
        }
        if kind.contains("summary") {
            e["summary_index"] = json!(index);
        } else if !kind.contains("function_call") {
            e["content_index"] = json!(index);
        }
        if kind == "response.output_text.delta" {
            e["logprobs"] = json!([]);
        }
        Some(e)
    }

    /// Adds `piece` to choice `c`'s held text and returns what can go out now, masked.
    fn release(&mut self, c: u64, piece: &str, finished: bool) -> String {
        let held = self.held.entry(c).or_default();
        held.push_str(piece);
        let cut = if finished { held.len() } else { safe_cut(held) };
        let mut out: String = held.drain(..cut).collect();
        if finished {
            self.held.remove(&c);
        }
        self.mask(&mut out);
        out
    }
}

/// The held part a Responses API delta event of type `kind` belongs to (for a `….done`
/// event, `kind` is its delta's type).
fn part_of(v: &Value, kind: &str) -> Option<Part> {
    if !HELD_DELTAS.contains(&kind) {
        return None;
    }
    let output = v.get("output_index").and_then(Value::as_u64).unwrap_or(0);
    let index = v
        .get("content_index")
        .or_else(|| v.get("summary_index"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Some((kind.to_string(), output, index))
}

/// Log probabilities of a Responses API event emptied (the SDK reads the field).
fn empty_logprobs(v: &mut Value) {
    if let Some(l) = v.get_mut("logprobs") {
        *l = json!([]);
    }
}

/// How much of `held` can go out: through its last newline, less an unfinished PEM block;
/// past [`MAX_HOLD`], through its last whitespace before the end's last 256 bytes.
fn safe_cut(held: &str) -> usize {
    let mut cut = held.rfind('\n').map_or(0, |i| i + 1);
    if let Some(begin) = held.rfind("-----BEGIN") {
        if !held[begin..].contains("-----END") {
            cut = cut.min(begin);
        }
    }
    if held.len() - cut > MAX_HOLD {
        let mut limit = held.len() - 256;
        while !held.is_char_boundary(limit) {
            limit -= 1;
        }
        cut = held[..limit]
            .rfind(char::is_whitespace)
            .map_or(limit, |i| i + 1);
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AKIAQYLPMN5HHHFPZAM2";

    fn mask() -> ResponseMask {
        ResponseMask::new(Arc::new(CredentialTheft::new()))
    }

    #[test]
    fn a_whole_answer_is_masked_and_its_logprobs_dropped() {
        let mut m = mask();
        let mut v = json!({"choices": [{"index": 0, "message": {"role": "assistant",
            "content": format!("Use {KEY} for billing.")},
            "logprobs": {"content": [{"token": "AK", "logprob": -0.1}]}}]});
        m.whole(&mut v);
        let text = v["choices"][0]["message"]["content"].as_str().unwrap();
        assert!(!text.contains(KEY) && text.contains("AKIA…M2"), "{text}");
        assert!(v["choices"][0].get("logprobs").is_none());
        assert!(m.masked_any());
        assert_eq!(m.found()[0]["value"], "AKIA…M2 (20 chars)");
        // Nothing to mask: nothing changes.
        let mut plain = json!({"choices": [{"message": {"content": "hello"}, "logprobs": {}}]});
        let before = plain.clone();
        let mut m = mask();
        m.whole(&mut plain);
        assert_eq!(plain, before);
        assert!(!m.masked_any());
    }

    #[test]
    fn a_credential_in_a_chunk_with_a_number_out_of_range_is_masked() {
        // Strict JSON refuses `1e400`: the rewriter passed such an event on as it came, the
        // credential in its text unmasked.
        let stream = format!(
            "data: {{\"id\":\"c\",\"created\":1e400,\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"key {KEY}\\n\"}}}}]}}\n\n\
             data: {{\"id\":\"c\",\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}\n\ndata: [DONE]\n\n"
        );
        let mut m = mask();
        let mut rewriter = crate::sse::Rewriter::default();
        let mut out = rewriter.push(stream.as_bytes(), &mut |v| m.event(v));
        out.extend(rewriter.finish());
        let out = String::from_utf8(out).unwrap();
        assert!(!out.contains("AKIAQYLP"), "{out}");
        assert!(out.contains("AKIA…M2 (20 chars)"), "{out}");
        // Nothing to mask: the event goes out byte for byte.
        let plain = "data: {\"created\":1e400,\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\\n\"}}]}\n\n";
        let mut m = mask();
        let mut rewriter = crate::sse::Rewriter::default();
        let mut out = rewriter.push(plain.as_bytes(), &mut |v| m.event(v));
        out.extend(rewriter.finish());
        assert_eq!(String::from_utf8(out).unwrap(), plain);
    }

    #[test]
    fn a_credential_cut_across_events_never_goes_out_whole_or_in_part() {
        let text = format!("Here it is:\naws_access_key_id = {KEY}\nand more text\n");
        for size in [1, 3, 7, 16] {
            let mut m = mask();
            let mut out = String::new();
            let pieces: Vec<String> = text
                .chars()
                .collect::<Vec<_>>()
                .chunks(size)
                .map(|c| c.iter().collect())
                .collect();
            for (i, p) in pieces.iter().enumerate() {
                let last = i + 1 == pieces.len();
                let mut e = json!({"choices": [{"index": 0, "delta": {"content": p},
                    "logprobs": {"content": []}, "finish_reason": if last { json!("stop") } else { Value::Null }}]});
                m.event(&mut e);
                assert!(e["choices"][0].get("logprobs").is_none());
                let released = e["choices"][0]["delta"]["content"]
                    .as_str()
                    .unwrap()
                    .to_string();
                out.push_str(&released);
                assert!(
                    !out.contains("AKIAQYLP"),
                    "part of the key went out at size {size}: {out}"
                );
            }
            assert!(
                out.contains("AKIA…M2 (20 chars)") && out.ends_with("and more text\n"),
                "{out}"
            );
        }
    }

    /// A Responses API stream of `text`, its deltas `size` characters each, as OpenAI
    /// sends it.
    fn responses_stream(text: &str, size: usize) -> Vec<Value> {
        let mut events = vec![
            json!({"type": "response.created", "response": {"id": "resp_1", "output": []}}),
            json!({"type": "response.output_item.added", "output_index": 0,
                "item": {"id": "msg_1", "type": "message", "role": "assistant", "content": []}}),
            json!({"type": "response.content_part.added", "item_id": "msg_1", "output_index": 0,
                "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
        ];
        let chars: Vec<char> = text.chars().collect();
        for piece in chars.chunks(size) {
            events.push(
                json!({"type": "response.output_text.delta", "item_id": "msg_1",
                "output_index": 0, "content_index": 0, "delta": piece.iter().collect::<String>(),
                "logprobs": [{"token": "x", "logprob": -0.5}]}),
            );
        }
        let part = json!({"type": "output_text", "text": text, "annotations": []});
        events.extend([
            json!({"type": "response.output_text.done", "item_id": "msg_1", "output_index": 0,
                "content_index": 0, "text": text, "logprobs": []}),
            json!({"type": "response.content_part.done", "item_id": "msg_1", "output_index": 0,
                "content_index": 0, "part": part}),
            json!({"type": "response.output_item.done", "output_index": 0, "item": {"id": "msg_1",
                "type": "message", "role": "assistant", "content": [part]}}),
            json!({"type": "response.completed", "response": {"id": "resp_1", "output": [{"id": "msg_1",
                "type": "message", "role": "assistant", "content": [part]}]}}),
        ]);
        for (n, e) in events.iter_mut().enumerate() {
            e["sequence_number"] = json!(n);
        }
        events
    }

    #[test]
    fn a_credential_cut_across_responses_api_deltas_is_held_and_masked() {
        let text = format!("Here it is:\naws_access_key_id = {KEY}\nand the rest");
        let masked = text.replace(KEY, "AKIA…M2 (20 chars)");
        for size in [1, 3, 7, 16, 200] {
            let mut m = mask();
            let mut sent = Vec::new();
            for mut e in responses_stream(&text, size) {
                sent.extend(m.event(&mut e));
                sent.push(e);
            }
            let deltas: String = sent
                .iter()
                .filter(|e| e["type"] == "response.output_text.delta")
                .map(|e| e["delta"].as_str().unwrap())
                .collect();
            assert_eq!(deltas, masked, "size {size}");
            // No delta sent before the part ended held part of the key.
            let mut so_far = String::new();
            for e in &sent {
                so_far.push_str(e["delta"].as_str().unwrap_or_default());
                assert!(!so_far.contains("AKIAQY"), "size {size}: {so_far}");
            }
            // The rest goes out just before the part's end, in order.
            let done = sent
                .iter()
                .position(|e| e["type"] == "response.output_text.done")
                .unwrap();
            assert_eq!(sent[done - 1]["delta"], "and the rest", "size {size}");
            assert_eq!(sent[done - 1]["item_id"], "msg_1");
            assert_eq!(sent[done - 1]["content_index"], 0);
            let numbers: Vec<u64> = sent
                .iter()
                .map(|e| e["sequence_number"].as_u64().unwrap())
                .collect();
            assert_eq!(numbers, (0..sent.len() as u64).collect::<Vec<_>>());
            assert_eq!(sent[done]["text"], masked);
            let last = sent.last().unwrap();
            assert_eq!(
                last["response"]["output"][0]["content"][0]["text"], masked,
                "size {size}"
            );
            assert!(sent
                .iter()
                .filter(|e| e["type"] == "response.output_text.delta")
                .all(|e| e["logprobs"] == json!([])));
        }
    }

    #[test]
    fn held_responses_api_text_goes_out_at_the_end_of_the_response_at_the_latest() {
        let mut m = mask();
        let mut sent = Vec::new();
        // A stream whose part never gets its `….done`: the rest before `response.completed`.
        for mut e in responses_stream(&format!("key {KEY} end"), 4)
            .into_iter()
            .filter(|e| e["type"] != "response.output_text.done")
        {
            sent.extend(m.event(&mut e));
            sent.push(e);
        }
        let completed = sent.len() - 1;
        assert_eq!(sent[completed - 1]["type"], "response.output_text.delta");
        assert_eq!(sent[completed - 1]["delta"], "key AKIA…M2 (20 chars) end");
    }

    #[test]
    fn a_pem_block_is_held_until_it_ends() {
        assert_eq!(safe_cut("line\n-----BEGIN PRIVATE KEY-----\nMIIE\n"), 5);
        assert_eq!(
            safe_cut("-----BEGIN X-----\nM\n-----END X-----\nok\n"),
            "-----BEGIN X-----\nM\n-----END X-----\nok\n".len()
        );
        // Held text is bounded: past MAX_HOLD it goes out at a whitespace.
        let long = "word ".repeat(MAX_HOLD / 4);
        let cut = safe_cut(&long);
        assert!(cut > 0 && long.len() - cut <= 261, "{cut}");
    }
}
