//! Server-Sent Events as OpenAI streams them: events cut at blank lines (bytes arrive in any
//! pieces), their `data:` rewritten when a measure asks (logprobs removed), events put before
//! one when its edit asks (text held back for masking, released before the event that ends
//! it), and the stream reassembled into the non-streamed response shape for the LLM request
//! log.

use std::borrow::Cow;

use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

/// What an edit of one event's JSON data returns: events to send before it (each written
/// with an `event:` line naming its `type` when the edited event had one).
pub type Before = Vec<Value>;

/// Cuts a byte stream into whole events and rewrites each event's JSON data.
#[derive(Debug, Default)]
pub struct Rewriter {
    pending: Vec<u8>,
    /// How much of `pending` holds no event's end (searched already): an event arriving in
    /// many small pieces is searched once, not once a piece.
    searched: usize,
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
        // (An end may begin up to 3 bytes before what was searched: `\r\n\r` + `\n`.)
        let mut from = self.searched.saturating_sub(3);
        while let Some(end) = find_event_end(&self.pending[from..]) {
            let end = from + end;
            let event = &self.pending[start..end];
            out.extend_from_slice(&rewrite_event(event, &mut *edit));
            start = end;
            from = end;
        }
        self.pending.drain(..start);
        if self.pending.len() > MAX_EVENT {
            out.append(&mut self.pending);
        }
        self.searched = self.pending.len();
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
                    // A value strict JSON refuses (`1e400`, a lone surrogate): the event is
                    // edited as read lossily (so a credential in its text is masked too),
                    // and goes out as it came when the edit leaves it as it was.
                    Err(_) => match parse_lossy(data.trim_start()) {
                        Some(mut v) => {
                            let read = v.clone();
                            let asked = edit(&mut v);
                            if asked.is_empty() && v == read {
                                out.push_str(body);
                            } else {
                                before.extend(asked);
                                out.push_str("data: ");
                                out.push_str(&v.to_string());
                            }
                        }
                        None => out.push_str(body),
                    },
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
        .filter_map(parse_lossy)
        .collect()
}

/// One event's JSON as a document. Values strict JSON refuses (a number out of every float's
/// range such as `"created": 17E40787200`, a lone surrogate) are kept lossily as
/// [`modelward_event::input::lossy::repair`] keeps them in logs (the number as a string of
/// its text, the surrogate as U+FFFD), so that one such value does not lose the event's text.
fn parse_lossy(data: &str) -> Option<Value> {
    json_lossy(data.as_bytes())
}

/// [`parse_lossy`] of a whole body's bytes (invalid UTF-8 kept as U+FFFD too).
pub(crate) fn json_lossy(bytes: &[u8]) -> Option<Value> {
    serde_json::from_slice(bytes).ok().or_else(|| {
        let (fixed, _) = modelward_event::input::lossy::repair(bytes)?;
        serde_json::from_slice(&fixed).ok()
    })
}

/// A streamed chat or text completion in the shape a non-streamed one has: the deltas of each
/// choice joined (`message.content` for chat, `text` for completions), its finish reason, and
/// `id`, `model`, `usage` from the chunks that carry them.
pub fn reassemble(chunks: &[Value]) -> Value {
    let mut out = Assembly::default();
    for chunk in chunks {
        out.chunk(chunk);
    }
    out.done()
}

/// [`reassemble`] of a whole stream's bytes, as [`events`] would read them, without building
/// a document of each event: only the fields kept are read (a chunk's log probabilities are
/// skipped, not built). An event this cannot read so (not an object, a key twice) is read as
/// [`events`] reads it.
pub fn reassemble_stream(stream: &[u8]) -> Value {
    // (`from_utf8` checks a word at a time; the lossy reader a character at a time, 13k
    // instructions a stream of eleven events.)
    let text = match std::str::from_utf8(stream) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(stream),
    };
    let mut out = Assembly::default();
    for data in text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .filter(|d| *d != "[DONE]")
    {
        if !(data.starts_with('{') && out.typed(data).is_some()) {
            if let Some(v) = parse_lossy(data) {
                out.chunk(&v);
            }
        }
    }
    out.done()
}

/// The fields of a chunk [`reassemble`] keeps (`null`s are absent), borrowed from the event's
/// text: the first chunk's head fields are the only ones built into documents.
#[derive(serde::Deserialize)]
struct ChunkIn<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    object: Option<&'a RawValue>,
    #[serde(borrow)]
    created: Option<&'a RawValue>,
    #[serde(borrow)]
    model: Option<&'a RawValue>,
    #[serde(borrow)]
    system_fingerprint: Option<&'a RawValue>,
    #[serde(borrow)]
    usage: Option<&'a RawValue>,
    /// A list (anything else: no choices), each item an object (anything else reads as an
    /// empty one), as [`Assembly::chunk`] reads them from a document.
    #[serde(borrow, default, deserialize_with = "choices")]
    choices: Vec<ChoiceIn<'a>>,
}

#[derive(serde::Deserialize, Default)]
struct ChoiceIn<'a> {
    /// A non-negative integer, else none (as `Value::as_u64`).
    #[serde(default, deserialize_with = "loose_u64")]
    index: Option<u64>,
    /// Present (`null` too), an object's fields or none.
    #[serde(borrow, default, deserialize_with = "present_object")]
    delta: Option<DeltaIn<'a>>,
    /// A string, else none (as `Value::as_str`).
    #[serde(borrow, default, deserialize_with = "loose_str")]
    text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    finish_reason: Option<&'a RawValue>,
}

#[derive(serde::Deserialize, Default)]
struct DeltaIn<'a> {
    /// Present (`null` too: it is copied as it is).
    #[serde(default, deserialize_with = "present_value")]
    role: Option<Value>,
    #[serde(borrow, default, deserialize_with = "loose_str")]
    content: Option<Cow<'a, str>>,
}

fn present_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    <Value as serde::Deserialize>::deserialize(d).map(Some)
}

/// What a value is when only a string, a non-negative integer or a boolean is wanted of it:
/// one of those, or something else (read through and dropped).
enum Loose<'a> {
    Str(Cow<'a, str>),
    U64(u64),
    Bool(bool),
    Other,
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Loose<'de>, E> {
        Ok(Loose::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Loose<'de>, E> {
        Ok(u64::try_from(v).map_or(Loose::Other, Loose::U64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Loose<'de>, E> {
        Ok(Loose::U64(v))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Loose<'de>, E> {
        Ok(Loose::Other)
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Loose<'de>, E> {
        Ok(Loose::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Loose<'de>, E> {
        Ok(Loose::Str(Cow::Owned(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Loose<'de>, E> {
        Ok(Loose::Str(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<Loose<'de>, E> {
        Ok(Loose::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Loose::Other)
    }
}

fn loose<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Loose<'de>, D::Error> {
    d.deserialize_any(LooseVisitor)
}

fn loose_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match loose(d)? {
        Loose::U64(n) => Some(n),
        _ => None,
    })
}

/// A string (as `Value::as_str`), else none.
pub(crate) fn loose_str<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Cow<'de, str>>, D::Error> {
    Ok(match loose(d)? {
        Loose::Str(s) => Some(s),
        _ => None,
    })
}

/// A boolean (as `Value::as_bool`), else none.
pub(crate) fn loose_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match loose(d)? {
        Loose::Bool(b) => Some(b),
        _ => None,
    })
}

/// An object read as `T`; anything else as `T::default()`.
struct ObjectOr<T>(std::marker::PhantomData<T>);

impl<'de, T: serde::Deserialize<'de> + Default> Visitor<'de> for ObjectOr<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
    }
    fn visit_bool<E>(self, _: bool) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_i64<E>(self, _: i64) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_u64<E>(self, _: u64) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_f64<E>(self, _: f64) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_str<E>(self, _: &str) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_unit<E>(self) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(T::default())
    }
}

/// A field that is there, `null` or not: an object's fields, or `T::default()`.
fn present_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    d.deserialize_any(ObjectOr(std::marker::PhantomData))
        .map(Some)
}

/// A list of choices, each an object or read as an empty one; anything else: none.
struct ChoicesVisitor;

impl<'de> Visitor<'de> for ChoicesVisitor {
    type Value = Vec<ChoiceIn<'de>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(c) =
            seq.next_element_seed(ObjectSeed::<ChoiceIn<'de>>(Default::default()))?
        {
            out.push(c);
        }
        Ok(out)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Vec::new())
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
}

/// One list item through [`ObjectOr`].
struct ObjectSeed<T>(std::marker::PhantomData<T>);

impl<'de, T: serde::Deserialize<'de> + Default> serde::de::DeserializeSeed<'de> for ObjectSeed<T> {
    type Value = T;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(ObjectOr(std::marker::PhantomData))
    }
}

fn choices<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ChoiceIn<'de>>, D::Error> {
    d.deserialize_any(ChoicesVisitor)
}

/// A stream reassembled chunk by chunk.
#[derive(Default)]
struct Assembly {
    out: Map<String, Value>,
    choices: Vec<Map<String, Value>>,
}

/// The chunk fields copied from the first chunk that has them.
const HEAD: [&str; 5] = ["id", "object", "created", "model", "system_fingerprint"];

impl Assembly {
    fn chunk(&mut self, chunk: &Value) {
        for key in HEAD {
            self.head(key, chunk.get(key));
        }
        if let Some(u) = chunk.get("usage").filter(|u| !u.is_null()) {
            self.out.insert("usage".into(), u.clone());
        }
        for c in chunk
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let delta = c
                .get("delta")
                .map(|d| (d.get("role"), d.get("content").and_then(Value::as_str)));
            self.choice(
                c.get("index").and_then(Value::as_u64),
                delta,
                c.get("text").and_then(Value::as_str),
                c.get("finish_reason"),
            );
        }
    }

    /// One event read through [`ChunkIn`]; `None` (nothing taken) when it cannot be.
    fn typed(&mut self, data: &str) -> Option<()> {
        let chunk: ChunkIn = serde_json::from_str(data).ok()?;
        let head = [
            chunk.id,
            chunk.object,
            chunk.created,
            chunk.model,
            chunk.system_fingerprint,
        ];
        for (key, raw) in HEAD.into_iter().zip(head) {
            if let Some(raw) = raw.filter(|_| !self.out.contains_key(key)) {
                self.head(key, parse_lossy(raw.get()).as_ref());
            }
        }
        if let Some(u) = chunk.usage.and_then(|u| parse_lossy(u.get())) {
            self.out.insert("usage".into(), u);
        }
        for c in &chunk.choices {
            let delta = c
                .delta
                .as_ref()
                .map(|d| (d.role.as_ref(), d.content.as_deref()));
            let finish = c.finish_reason.and_then(|f| parse_lossy(f.get()));
            self.choice(c.index, delta, c.text.as_deref(), finish.as_ref());
        }
        Some(())
    }

    fn head(&mut self, key: &str, v: Option<&Value>) {
        if let Some(v) = v.filter(|v| !v.is_null()) {
            if !self.out.contains_key(key) {
                self.out.insert(key.into(), v.clone());
            }
        }
    }

    /// One choice of a chunk: its index, its delta's role and content (`Some` when it has a
    /// delta), its text and finish reason.
    fn choice(
        &mut self,
        index: Option<u64>,
        delta: Option<(Option<&Value>, Option<&str>)>,
        text: Option<&str>,
        finish: Option<&Value>,
    ) {
        let i = index.unwrap_or(0) as usize;
        if i > 1024 {
            return;
        }
        while self.choices.len() <= i {
            let mut m = Map::new();
            m.insert("index".into(), json!(self.choices.len()));
            self.choices.push(m);
        }
        let choice = &mut self.choices[i];
        if let Some((role, content)) = delta {
            if !choice.contains_key("message") {
                choice.insert(
                    "message".into(),
                    json!({"role": "assistant", "content": ""}),
                );
            }
            let message = &mut choice["message"];
            if let Some(role) = role {
                message["role"] = role.clone();
            }
            if let Some(text) = content {
                append(&mut message["content"], text);
            }
        }
        if let Some(text) = text {
            if !choice.contains_key("text") {
                choice.insert("text".into(), json!(""));
            }
            append(&mut choice["text"], text);
        }
        if let Some(f) = finish.filter(|f| !f.is_null()) {
            choice.insert("finish_reason".into(), f.clone());
        }
    }

    fn done(mut self) -> Value {
        self.out.insert(
            "choices".into(),
            Value::Array(self.choices.into_iter().map(Value::Object).collect()),
        );
        if let Some(Value::String(o)) = self.out.get_mut("object") {
            if let Some(base) = o.strip_suffix(".chunk") {
                *o = base.to_string();
            }
        }
        Value::Object(self.out)
    }
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
    fn a_chunk_with_a_number_out_of_range_keeps_its_text() {
        // Found by fuzz target `sse`: `events` (strict JSON) dropped this chunk whole, and
        // with it the text "Hello", while `reassemble_stream` kept it.
        let stream = b"data: {\"id\":\"c1\",\"created\": 17E40787200,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hello\"}}]}\n\n\
data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" world\"},\"finish_reason\":\"stop\"}]}\n\n\
data: [DONE]\n\n";
        let by_value = reassemble(&events(stream));
        assert_eq!(reassemble_stream(stream), by_value);
        assert_eq!(by_value["choices"][0]["message"]["content"], "Hello world");
        assert_eq!(by_value["created"], "17E40787200");
        assert_eq!(by_value["id"], "c1");
    }

    #[test]
    fn a_long_event_in_small_pieces_is_searched_once() {
        // 512 KiB of one event, a byte at a time, then its end cut between pieces: each
        // piece searched the whole event again (about 10^11 steps; now 10^6).
        let mut stream = b"data: {\"a\":\"".to_vec();
        stream.resize(512 << 10, b'x');
        stream.extend_from_slice(b"\"}\r\n\r\ndata: {\"b\":1}\n\n");
        let mut rewriter = Rewriter::default();
        let mut out = Vec::new();
        let started = std::time::Instant::now();
        for piece in stream.chunks(1) {
            out.extend(rewriter.push(piece, &mut |_| Before::new()));
        }
        assert!(rewriter.finish().is_empty());
        assert_eq!(events(&out).len(), 2);
        assert_eq!(out, stream);
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

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
    fn a_stream_read_field_by_field_reassembles_as_its_documents_do() {
        let events = [
            r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":{"content":[{"token":"x","logprob":-1,"top_logprobs":[]}]}}]}"#,
            r#"{"id":"c2","model":null,"choices":[{"index":0,"delta":{"content":"Hel"}},{"index":1,"delta":{"content":"x","role":null}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"lo","tool_calls":[{"index":0}]},"finish_reason":"stop"}]}"#,
            r#"{"choices":[{"delta":null},{"index":"2","text":" more"},7,{"index":2000,"text":"far"}]}"#,
            r#"{"object":"text_completion","choices":[{"index":2,"text":"a","finish_reason":null},{"index":2,"text":"b","finish_reason":"length"}]}"#,
            r#"{"choices":{"not":"a list"},"usage":{"prompt_tokens":3,"completion_tokens":2}}"#,
            r#"{"choices":[{"index":0,"delta":"text"}],"usage":null}"#,
            r#"{"id":"dup","id":"dup2","choices":[]}"#,
            r#"[1,2,3]"#,
            r#""a string""#,
            r#"{"choices":[{"index":1,"index":0,"delta":{"content":"!"}}]}"#,
            r#"not json"#,
            r#"{"choices":[{"index":0,"delta":{"content":"\u00e9\n"}}],"system_fingerprint":"fp"}"#,
            r#"{"choices":[{"index":-1,"delta":null},{"index":1.5,"text":5},{"index":0,"delta":{"content":"q\"uote","role":7},"finish_reason":null}]}"#,
            r#"{"choices":null,"created":{"a":[1,{"b":null}]},"usage":{"total_tokens":9}}"#,
            r#"{"choices":[[1,2],"x",true,null,{"index":3,"delta":[1],"text":"t","logprobs":{"content":[{"token":"t","token":"u"}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"a","content":"b"}}]}"#,
        ];
        let mut stream = String::new();
        for e in events {
            stream.push_str(&format!("data: {e}\n\n"));
        }
        stream.push_str("data: [DONE]\n\n");
        let want = reassemble(&super::events(stream.as_bytes()));
        assert_eq!(reassemble_stream(stream.as_bytes()), want);
        assert_eq!(
            want["choices"][0]["message"]["content"],
            "Hello!\u{e9}\nq\"uoteb"
        );
        // Each event alone, too.
        for e in events {
            let one = format!("data: {e}\n\n");
            assert_eq!(
                reassemble_stream(one.as_bytes()),
                reassemble(&super::events(one.as_bytes())),
                "{e}"
            );
        }
    }

    #[test]
    fn a_stream_that_is_not_utf_8_reassembles_as_its_documents_do() {
        let stream = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\xffb\"}}]}\n\ndata: [DONE]\n\n";
        let got = reassemble_stream(stream);
        assert_eq!(got, reassemble(&events(stream)));
        assert_eq!(got["choices"][0]["message"]["content"], "a\u{fffd}b");
    }

    #[test]
    fn chunks_as_servers_send_them_are_read_field_by_field() {
        // Not through a document of each event (the slow way, kept for odd events).
        let mut a = Assembly::default();
        for e in [
            r#"{"id":"c","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
            r#"{"id":"c","choices":[{"index":0,"delta":{"content":"a\"b"},"logprobs":{"content":[{"token":"a","logprob":-0.1,"top_logprobs":[]}]},"finish_reason":null}]}"#,
            r#"{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}"#,
            r#"{"id":"c","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#,
            r#"{"id":"c","object":"text_completion","choices":[{"index":1,"text":"t","logprobs":null}]}"#,
        ] {
            assert!(a.typed(e).is_some(), "{e}");
        }
        assert!(a.typed(r#"{"id":"c","id":"d"}"#).is_none());
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
