//! Server-Sent Events as OpenAI streams them: events cut at blank lines (bytes arrive in any
//! pieces), their `data:` rewritten when a measure asks (logprobs removed), events put before
//! one when its edit asks (text held back for masking, released before the event that ends
//! it), and the stream reassembled into the non-streamed response shape for the LLM request
//! log.

use serde_json::{json, Map, Value};

/// What an edit of one event's JSON data returns: events to send before it (each written
/// with an `event:` line naming its `type` when the edited event had one).
pub type Before = Vec<Value>;

/// Cuts a byte stream into whole events and rewrites each event's JSON data.
#[derive(Debug, Default)]
pub struct Rewriter {
    pending: Vec<u8>,
}

/// The most bytes held while waiting for the end of an event; a longer event is passed on
/// unchanged (it is not an OpenAI stream).
const MAX_EVENT: usize = 1 << 20;

impl Rewriter {
    /// Takes a piece of the stream; returns the whole events in it (rewritten by `edit`,
    /// with the events it returns before each), keeping a partial event for the next piece.
    pub fn push(&mut self, piece: &[u8], edit: &mut dyn FnMut(&mut Value) -> Before) -> Vec<u8> {
        self.pending.extend_from_slice(piece);
        let mut out = Vec::with_capacity(self.pending.len());
        let mut start = 0;
        while let Some(end) = find_event_end(&self.pending[start..]) {
            let event = &self.pending[start..start + end];
            out.extend_from_slice(&rewrite_event(event, &mut *edit));
            start += end;
        }
        self.pending.drain(..start);
        if self.pending.len() > MAX_EVENT {
            out.append(&mut self.pending);
        }
        out
    }

    /// The end of the stream: what is left, as it came.
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }
}

/// The length of the first whole event (through its blank line), if there is one.
fn find_event_end(bytes: &[u8]) -> Option<usize> {
    let lf = memchr_pair(bytes, b"\n\n").map(|i| i + 2);
    let crlf = memchr_pair(bytes, b"\r\n\r\n").map(|i| i + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn memchr_pair(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn rewrite_event(event: &[u8], edit: &mut dyn FnMut(&mut Value) -> Before) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(event) else {
        return event.to_vec();
    };
    let mut out = String::with_capacity(text.len());
    let mut before = Vec::new();
    let mut named = false;
    let mut end = "\n";
    for line in text.split_inclusive('\n') {
        let (body, eol) = match line.strip_suffix("\r\n") {
            Some(b) => (b, "\r\n"),
            None => match line.strip_suffix('\n') {
                Some(b) => (b, "\n"),
                None => (line, ""),
            },
        };
        if !eol.is_empty() {
            end = eol;
        }
        named |= body.starts_with("event:");
        match body.strip_prefix("data:") {
            Some(data) if data.trim() != "[DONE]" => {
                match serde_json::from_str::<Value>(data.trim_start()) {
                    Ok(mut v) => {
                        before.extend(edit(&mut v));
                        out.push_str("data: ");
                        out.push_str(&v.to_string());
                    }
                    Err(_) => out.push_str(body),
                }
            }
            _ => out.push_str(body),
        }
        out.push_str(eol);
    }
    if before.is_empty() {
        return out.into_bytes();
    }
    let mut all = String::new();
    for v in before {
        if let Some(kind) = v.get("type").and_then(Value::as_str).filter(|_| named) {
            all.push_str("event: ");
            all.push_str(kind);
            all.push_str(end);
        }
        all.push_str("data: ");
        all.push_str(&v.to_string());
        all.push_str(end);
        all.push_str(end);
    }
    all.push_str(&out);
    all.into_bytes()
}

/// The JSON data of every event of a whole stream, in order (`[DONE]` left out).
pub fn events(stream: &[u8]) -> Vec<Value> {
    let text = String::from_utf8_lossy(stream);
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect()
}

/// A streamed chat or text completion in the shape a non-streamed one has: the deltas of each
/// choice joined (`message.content` for chat, `text` for completions), its finish reason, and
/// `id`, `model`, `usage` from the chunks that carry them.
pub fn reassemble(chunks: &[Value]) -> Value {
    let mut out = Map::new();
    let mut choices: Vec<Map<String, Value>> = Vec::new();
    for chunk in chunks {
        for key in ["id", "object", "created", "model", "system_fingerprint"] {
            if let Some(v) = chunk.get(key).filter(|v| !v.is_null()) {
                out.entry(key).or_insert_with(|| v.clone());
            }
        }
        if let Some(u) = chunk.get("usage").filter(|u| !u.is_null()) {
            out.insert("usage".into(), u.clone());
        }
        for c in chunk
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let i = c.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
            if i > 1024 {
                continue;
            }
            while choices.len() <= i {
                let mut m = Map::new();
                m.insert("index".into(), json!(choices.len()));
                choices.push(m);
            }
            let choice = &mut choices[i];
            if let Some(delta) = c.get("delta") {
                let message = choice
                    .entry("message")
                    .or_insert_with(|| json!({"role": "assistant", "content": ""}));
                if let Some(role) = delta.get("role") {
                    message["role"] = role.clone();
                }
                if let Some(text) = delta.get("content").and_then(Value::as_str) {
                    append(&mut message["content"], text);
                }
            }
            if let Some(text) = c.get("text").and_then(Value::as_str) {
                append(choice.entry("text").or_insert_with(|| json!("")), text);
            }
            if let Some(f) = c.get("finish_reason").filter(|f| !f.is_null()) {
                choice.insert("finish_reason".into(), f.clone());
            }
        }
    }
    out.insert(
        "choices".into(),
        Value::Array(choices.into_iter().map(Value::Object).collect()),
    );
    if let Some(Value::String(o)) = out.get_mut("object") {
        if let Some(base) = o.strip_suffix(".chunk") {
            *o = base.to_string();
        }
    }
    Value::Object(out)
}

fn append(slot: &mut Value, text: &str) {
    match slot {
        Value::String(s) => s.push_str(text),
        other => *other = json!(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_cut_anywhere_come_out_whole_and_rewritten() {
        let stream = b"data: {\"a\":1,\"logprobs\":2}\n\ndata: {\"a\":3}\r\n\r\ndata: [DONE]\n\n";
        let mut strip = |v: &mut Value| {
            if let Some(o) = v.as_object_mut() {
                o.remove("logprobs");
            }
            Before::new()
        };
        for cut in 1..stream.len() {
            let mut r = Rewriter::default();
            let mut out = r.push(&stream[..cut], &mut strip);
            out.extend(r.push(&stream[cut..], &mut strip));
            out.extend(r.finish());
            assert_eq!(
                String::from_utf8(out).unwrap(),
                "data: {\"a\":1}\n\ndata: {\"a\":3}\r\n\r\ndata: [DONE]\n\n",
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn events_an_edit_asks_for_go_before_the_one_edited_in_its_form() {
        let stream =
            b"event: x.done\r\ndata: {\"type\":\"x.done\"}\r\n\r\ndata: {\"type\":\"y\"}\n\n";
        let mut add = |v: &mut Value| match v["type"].as_str() {
            Some("x.done") => vec![json!({"type": "x.delta", "delta": "rest"})],
            _ => vec![json!({"delta": "untyped"})],
        };
        let mut r = Rewriter::default();
        let out = String::from_utf8(r.push(stream, &mut add)).unwrap();
        assert_eq!(
            out,
            concat!(
                "event: x.delta\r\ndata: {\"delta\":\"rest\",\"type\":\"x.delta\"}\r\n\r\n",
                "event: x.done\r\ndata: {\"type\":\"x.done\"}\r\n\r\n",
                // No `event:` line in the event edited: none before it either.
                "data: {\"delta\":\"untyped\"}\n\n",
                "data: {\"type\":\"y\"}\n\n"
            )
        );
    }

    #[test]
    fn a_chat_stream_reassembles_into_a_completion() {
        let stream = concat!(
            "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
            "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n",
            "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n",
            "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n",
            "data: [DONE]\n\n"
        );
        let v = reassemble(&events(stream.as_bytes()));
        assert_eq!(
            v,
            json!({"id": "c1", "object": "chat.completion", "model": "m",
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
        );
    }
}
