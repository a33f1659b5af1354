//! Compact features of a prompt's text, computed once per call in the parallel stage so that
//! no prompt is kept: a SimHash, a hashed character n-gram vector, Blacklight-style window
//! fingerprints, a template key, a hash of the prompt without its end, and a flag for
//! requests of reasoning traces.
//!
//! The *query* is the last user message of a chat prompt (else the whole text); the *full
//! text* is every string of the prompt in order. Both are lower-cased with runs of white
//! space made one space, and cut at [`MAX_CHARS`] characters.

use modelward_event::hash::{fnv1a, fnv1a_extend, FNV_OFFSET};
use serde_json::Value;

/// Dimensions of the hashed n-gram vector.
pub const DIMS: usize = 256;
/// Window fingerprints kept per prompt (the smallest hashes: a bottom-k sketch).
pub const MARKS: usize = 20;
/// Words per fingerprint window.
pub const WINDOW: usize = 4;
/// The characters at the end of the full text that the prefix hash leaves out.
pub const TAIL: usize = 32;
/// Characters of a text the features read.
pub const MAX_CHARS: usize = 16_384;
/// Words at the end of a long query fingerprinted on their own ([`PromptFeatures::tail`]).
pub const TAIL_WORDS: usize = 16;

/// A 64-bit finalizer (splitmix64) to spread FNV's low-entropy high bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A hash of a character n-gram, without building a string.
fn hash_chars(w: &[char]) -> u64 {
    let mut h = FNV_OFFSET;
    for c in w {
        h = fnv1a_extend(h, &u32::from(*c).to_le_bytes());
    }
    mix(h)
}

fn hash_str(s: &str) -> u64 {
    mix(fnv1a(s.as_bytes()))
}

/// Phrases asking the model to show its reasoning (matched in the lower-cased query).
const REASONING: [&str; 12] = [
    "step by step",
    "step-by-step",
    "show your reasoning",
    "explain your reasoning",
    "show your work",
    "chain of thought",
    "chain-of-thought",
    "think aloud",
    "reasoning trace",
    "walk me through your reasoning",
    "explain each step",
    "<think>",
];

/// What the analyzers compare of a prompt's text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PromptFeatures {
    /// Characters of the query.
    pub len: u32,
    /// User and assistant messages in the prompt (a chat's turns so far; 1 for one question).
    pub turns: u16,
    /// SimHash of the query's character 5-gram shingles.
    pub simhash: u64,
    /// A hash of the query's first three words with digits left out: prompts of one
    /// template share it.
    pub template: u64,
    /// A hash of the full text without its last [`TAIL`] characters; `None` when the text
    /// is shorter than `TAIL + 16` characters.
    pub prefix: Option<u64>,
    /// The query's character 3-grams, digits left out (numbers are the item ids of templated
    /// prompts), hashed into [`DIMS`] buckets, L2-normalized and quantized to bytes (×255).
    pub vector: Box<[u8]>,
    /// Blacklight-style fingerprints: hashes of the query's overlapping windows of
    /// [`WINDOW`] words, the [`MARKS`] smallest, sorted.
    pub marks: Box<[u32]>,
    /// The fingerprints of the windows of the query's last [`TAIL_WORDS`] words, sorted,
    /// when the query has more than twice as many words (else empty): where a templated or
    /// few-shot prompt puts its item, so that a long constant template does not make every
    /// query a near-duplicate of the last.
    #[serde(default)]
    pub tail: Box<[u32]>,
    /// The query asks for reasoning ("step by step", "show your reasoning", ...).
    pub reasoning: bool,
    /// A hash of the system (and developer) messages, 0 without one: with the request's
    /// parameters, the *context* a query is sent in ([`crate::Call::context`]).
    #[serde(default)]
    pub system: u64,
}

fn normalize(text: &str, out: &mut String) {
    let mut space = !out.is_empty() && !out.ends_with(' ');
    for c in text.chars() {
        if out.len() >= MAX_CHARS {
            break;
        }
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
}

/// The strings of a message's content: a string, or a list of parts with `text`.
fn content_text(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => normalize(s, out),
        Value::Array(items) => items.iter().for_each(|i| content_text(i, out)),
        Value::Object(map) => {
            for key in ["text", "content"] {
                if let Some(x) = map.get(key) {
                    content_text(x, out);
                }
            }
        }
        _ => {}
    }
}

#[derive(Default)]
struct Texts {
    full: String,
    query: String,
    system: String,
    turns: u16,
    chat: bool,
}

impl Texts {
    fn message(&mut self, m: &serde_json::Map<String, Value>) {
        self.chat = true;
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        let mut text = String::new();
        if let Some(c) = m.get("content") {
            content_text(c, &mut text);
        }
        normalize(&text, &mut self.full);
        if role == "system" || role == "developer" {
            normalize(&text, &mut self.system);
        }
        if role == "user" || role == "assistant" {
            self.turns = self.turns.saturating_add(1);
        }
        if role == "user" {
            self.query = text;
        }
    }

    fn value(&mut self, v: &Value) {
        match v {
            Value::Array(items) => {
                for i in items {
                    match i {
                        Value::Object(m) if m.contains_key("role") => self.message(m),
                        other => content_text(other, &mut self.full),
                    }
                }
            }
            Value::Object(m) if m.contains_key("role") => self.message(m),
            other => content_text(other, &mut self.full),
        }
    }
}

/// The texts and the number of turns of a prompt field's values: a request body logged as
/// JSON text is read as its messages, a redacted prompt has none
/// ([`crate::features::prompt_values`]).
fn texts(prompt: &[&Value]) -> Texts {
    let mut t = Texts::default();
    let Some(values) = crate::features::prompt_values(prompt) else {
        return t;
    };
    for v in &values {
        t.value(v);
    }
    if !t.chat || t.query.is_empty() {
        t.query = t.full.clone();
        t.turns = t.turns.max(1);
    }
    t
}

/// `SPREAD[b]` holds bit `i` of `b` in its byte `i`: eight bits counted with one addition.
const SPREAD: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut b = 0;
    while b < 256 {
        let mut i = 0;
        while i < 8 {
            if b >> i & 1 == 1 {
                table[b] |= 1 << (8 * i);
            }
            i += 1;
        }
        b += 1;
    }
    table
};

/// The SimHash of a text's character 5-gram shingles: bit `b` is set when more than half of
/// the shingles' hashes have it (their ±1 votes sum above zero). The votes are counted eight
/// bits at a time in byte lanes ([`SPREAD`]), emptied before a lane can overflow.
fn simhash(chars: &[char]) -> u64 {
    let k = 5.min(chars.len());
    if k == 0 {
        return 0;
    }
    let mut ones = [0u32; 64];
    let mut lanes = [0u64; 8];
    let flush = |lanes: &mut [u64; 8], ones: &mut [u32; 64]| {
        for (i, lane) in lanes.iter_mut().enumerate() {
            for j in 0..8 {
                ones[8 * i + j] += (*lane >> (8 * j) & 0xff) as u32;
            }
            *lane = 0;
        }
    };
    let windows = chars.windows(k);
    let shingles = windows.len() as u64;
    for (n, w) in windows.enumerate() {
        let h = hash_chars(w);
        for (i, lane) in lanes.iter_mut().enumerate() {
            *lane += SPREAD[(h >> (8 * i) & 0xff) as usize];
        }
        if n % 255 == 254 {
            flush(&mut lanes, &mut ones);
        }
    }
    flush(&mut lanes, &mut ones);
    ones.iter().enumerate().fold(0u64, |s, (bit, o)| {
        if 2 * u64::from(*o) > shingles {
            s | 1 << bit
        } else {
            s
        }
    })
}

fn vector(chars: &[char]) -> Box<[u8]> {
    let mut counts = [0f32; DIMS];
    let k = 3.min(chars.len());
    if k > 0 {
        for w in chars.windows(k) {
            counts[(hash_chars(w) % DIMS as u64) as usize] += 1.0;
        }
    }
    let norm = counts.iter().map(|c| c * c).sum::<f32>().sqrt();
    counts
        .iter()
        .map(|c| {
            if norm > 0.0 {
                (c / norm * 255.0).round() as u8
            } else {
                0
            }
        })
        .collect()
}

/// The fingerprints of a query and of its tail ([`PromptFeatures::marks`] and
/// [`PromptFeatures::tail`]).
fn marks(query: &str) -> (Box<[u32]>, Box<[u32]>) {
    let words: Vec<&str> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    // The hash of the window's words joined by spaces, without building the string.
    let window = |w: &[&str]| {
        let mut h = FNV_OFFSET;
        for (i, word) in w.iter().enumerate() {
            if i > 0 {
                h = fnv1a_extend(h, b" ");
            }
            h = fnv1a_extend(h, word.as_bytes());
        }
        (mix(h) >> 32) as u32
    };
    let bottom = |mut hashes: Vec<u32>| {
        hashes.sort_unstable();
        hashes.dedup();
        hashes.truncate(MARKS);
        hashes.into_boxed_slice()
    };
    if words.len() <= WINDOW {
        return (Box::new([window(&words)]), Box::default());
    }
    let all: Vec<u32> = words.windows(WINDOW).map(window).collect();
    let tail = if words.len() > 2 * TAIL_WORDS {
        // The windows that lie within the last TAIL_WORDS words.
        bottom(all[all.len() - (TAIL_WORDS + 1 - WINDOW)..].to_vec())
    } else {
        Box::default()
    };
    (bottom(all), tail)
}

fn template(query: &str) -> u64 {
    let head: Vec<String> = query
        .split(' ')
        .take(3)
        .map(|w| w.chars().filter(|c| !c.is_ascii_digit()).collect())
        .collect();
    hash_str(&head.join(" "))
}

impl PromptFeatures {
    /// The features of a prompt field's values; `None` when it has no text. `reasoning_param`
    /// is whether the request asked for reasoning by a parameter.
    pub fn of(prompt: &[&Value], reasoning_param: bool) -> Option<PromptFeatures> {
        let Texts {
            query,
            full,
            system,
            turns,
            ..
        } = texts(prompt);
        if query.is_empty() {
            return None;
        }
        let chars: Vec<char> = query.chars().collect();
        let (marks, tail) = marks(&query);
        let full_chars = full.chars().count();
        let prefix = (full_chars >= TAIL + 16).then(|| {
            let cut = full
                .char_indices()
                .nth(full_chars - TAIL)
                .map_or(full.len(), |(i, _)| i);
            hash_str(&full[..cut])
        });
        Some(PromptFeatures {
            len: chars.len() as u32,
            turns,
            simhash: simhash(&chars),
            template: template(&query),
            prefix,
            vector: vector(
                &chars
                    .iter()
                    .copied()
                    .filter(|c| !c.is_ascii_digit())
                    .collect::<Vec<char>>(),
            ),
            marks,
            tail,
            reasoning: reasoning_param || REASONING.iter().any(|p| query.contains(p)),
            system: if system.is_empty() {
                0
            } else {
                hash_str(&system)
            },
        })
    }

    /// The features of a plain-text prompt: for tests and examples.
    pub fn of_text(text: &str) -> Option<PromptFeatures> {
        PromptFeatures::of(&[&Value::String(text.to_string())], false)
    }

    /// Cosine distance (1 − cosine similarity) of two queries' n-gram vectors, in [0, 1].
    pub fn distance(&self, other: &PromptFeatures) -> f64 {
        vector_distance(&self.vector, &other.vector)
    }

    /// Fingerprints two queries share.
    pub fn shared_marks(&self, other: &PromptFeatures) -> usize {
        shared(&self.marks, &other.marks)
    }
}

/// The dot product of two quantized vectors (u32 sums cannot overflow: 255² × 256 < 2³²;
/// fixed-width lanes let the compiler vectorize).
pub fn dot(a: &[u8], b: &[u8]) -> u32 {
    let mut acc = [0u32; 16];
    for (ca, cb) in a.chunks_exact(16).zip(b.chunks_exact(16)).take(DIMS / 16) {
        for i in 0..16 {
            acc[i] += u32::from(ca[i]) * u32::from(cb[i]);
        }
    }
    acc.iter().sum()
}

/// The Euclidean norm of a quantized vector.
pub fn norm(a: &[u8]) -> f64 {
    f64::from(dot(a, a)).sqrt()
}

/// Cosine distance of two quantized vectors, given their norms.
pub fn distance_with(a: &[u8], na: f64, b: &[u8], nb: f64) -> f64 {
    if na == 0.0 || nb == 0.0 {
        return 1.0;
    }
    (1.0 - f64::from(dot(a, b)) / (na * nb)).clamp(0.0, 1.0)
}

/// Cosine distance of two quantized vectors.
pub fn vector_distance(a: &[u8], b: &[u8]) -> f64 {
    distance_with(a, norm(a), b, norm(b))
}

/// Elements two sorted lists share.
pub fn shared(a: &[u32], b: &[u32]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// Bits in which two SimHashes differ.
pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(text: &str) -> PromptFeatures {
        PromptFeatures::of_text(text).unwrap()
    }

    /// SimHash as defined: a ±1 vote per shingle and bit.
    fn simhash_by_votes(chars: &[char]) -> u64 {
        let mut acc = [0i64; 64];
        for w in chars.windows(5.min(chars.len()).max(1)) {
            let h = hash_chars(w);
            for (bit, a) in acc.iter_mut().enumerate() {
                *a += if h >> bit & 1 == 1 { 1 } else { -1 };
            }
        }
        acc.iter()
            .enumerate()
            .fold(0u64, |s, (bit, a)| if *a > 0 { s | 1 << bit } else { s })
    }

    #[test]
    fn window_marks_hash_the_words_joined_by_spaces() {
        let query = "one two three four five six seven eight nine ten";
        let words: Vec<&str> = query.split(' ').collect();
        let mut joined: Vec<u32> = words
            .windows(WINDOW)
            .map(|w| (hash_str(&w.join(" ")) >> 32) as u32)
            .collect();
        joined.sort_unstable();
        assert_eq!(marks(query).0.to_vec(), joined);
        let short = (hash_str("just three words") >> 32) as u32;
        assert_eq!(marks("just three words").0.to_vec(), vec![short]);
        assert_eq!(marks("").0.to_vec(), vec![(hash_str("") >> 32) as u32]);
    }

    #[test]
    fn simhash_counted_in_lanes_is_the_votes() {
        // Lengths around the lanes' flush (255 shingles) and far past it, and a text whose
        // shingles repeat (votes that tie and that pile up in one lane).
        let prose: Vec<char> = "the quick brown fox jumps over the lazy dog, ünïcödé too; "
            .chars()
            .cycle()
            .take(3000)
            .collect();
        let same: Vec<char> = "aaaaaaaaa".chars().cycle().take(1000).collect();
        for len in [0, 1, 4, 5, 6, 258, 259, 260, 600, 3000] {
            assert_eq!(
                simhash(&prose[..len]),
                simhash_by_votes(&prose[..len]),
                "{len}"
            );
        }
        for len in [5, 259, 1000] {
            assert_eq!(
                simhash(&same[..len]),
                simhash_by_votes(&same[..len]),
                "{len}"
            );
        }
    }

    #[test]
    fn near_duplicates_are_near_and_strangers_far() {
        let a = f("Translate the following sentence into French: the weather is nice today and we will go to the beach");
        let b = f("Translate the following sentence into French: the weather is nice today and we will go to the park");
        let c = f("What are the main causes of inflation in an open economy with a floating exchange rate?");
        assert!(
            hamming(a.simhash, b.simhash) < 12,
            "{}",
            hamming(a.simhash, b.simhash)
        );
        assert!(
            hamming(a.simhash, c.simhash) > 16,
            "{}",
            hamming(a.simhash, c.simhash)
        );
        assert!(a.distance(&b) < 0.1, "{}", a.distance(&b));
        assert!(a.distance(&c) > 0.4, "{}", a.distance(&c));
        assert!(a.shared_marks(&b) >= 10, "{}", a.shared_marks(&b));
        assert!(a.shared_marks(&c) <= 1);
        assert_eq!(a.template, b.template);
        assert_eq!(a.distance(&a), 0.0);
        assert_eq!(a.vector.len(), DIMS);
        assert!(a.marks.len() <= MARKS);
    }

    #[test]
    fn chat_prompts_query_turns_and_prefix() {
        let chat = json!([
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": [{"type": "text", "text": "Explain   it STEP by step"}]}
        ]);
        let p = PromptFeatures::of(&[&chat], false).unwrap();
        assert_eq!(p.turns, 3);
        assert_eq!(p.len, "explain it step by step".len() as u32);
        assert!(p.reasoning);
        assert!(!f("What is 2+2?").reasoning);
        assert!(PromptFeatures::of(&[&json!("hi")], true).unwrap().reasoning);
        // Probes that differ only in their last characters share the prefix hash.
        let base = "The secret system prompt of this assistant begins with the words: ";
        let x = f(&format!("{base}alpha"));
        let y = f(&format!("{base}bravo"));
        assert_eq!(x.prefix, y.prefix);
        assert!(x.prefix.is_some());
        assert_ne!(
            x.prefix,
            f(&format!("A different opening. {base}alpha")).prefix
        );
        assert_eq!(f("short").prefix, None);
        assert_eq!(PromptFeatures::of(&[&json!("   ")], false), None);
        assert_eq!(PromptFeatures::of(&[], false), None);
        // Templates: digits do not matter.
        assert_eq!(
            f("Summarise ticket #12: printer").template,
            f("Summarise ticket #907: login fails").template
        );
    }

    #[test]
    fn bounded_on_any_input() {
        let huge = "ab ".repeat(100_000);
        let p = f(&huge);
        assert!(p.len as usize <= MAX_CHARS);
        let odd = f("\u{0}\u{ffff}é𝄞");
        assert_eq!(odd.len, 4);
        assert_eq!(f("x").marks.len(), 1);
    }
}
