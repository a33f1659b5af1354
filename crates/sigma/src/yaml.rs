//! A YAML tree that remembers where every node is, built from yaml-rust2's marked events,
//! so that every error in a rule can name its line and column.
//!
//! Scalars are resolved with YAML 1.2's core schema (`null`, `~` and empty are null;
//! `true`/`false` booleans; decimal, `0x` and `0o` integers; floats), quoted scalars are
//! always strings. Duplicate mapping keys are errors, as pySigma's loader makes them.
//!
//! An alias is a copy of its anchor's node, so a few nested aliases ("billion laughs")
//! expand to gigabytes: the size a stream may expand to and how deeply it may nest are
//! bounded ([`Limits`]); past them the stream is an error that names the limit, and nothing
//! more is copied.

use std::collections::HashMap;

use modelward_rule::{Limits, YAML_NODE_BYTES};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A value and where it starts (1-based line and column).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Yaml,
    pub line: usize,
    pub col: usize,
}

/// A YAML syntax error, or a structural one (duplicate key), with its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: {message}")]
pub struct YamlError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Yaml::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Yaml::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Yaml::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// What kind of value this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self.value {
            Yaml::Null => "null",
            Yaml::Bool(_) => "a boolean",
            Yaml::Int(_) => "an integer",
            Yaml::Float(_) => "a number",
            Yaml::Str(_) => "a string",
            Yaml::Seq(_) => "a list",
            Yaml::Map(_) => "a mapping",
        }
    }

    /// The node as JSON (mapping keys as text).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Yaml::Null => J::Null,
            Yaml::Bool(b) => J::Bool(*b),
            Yaml::Int(i) => J::from(*i),
            Yaml::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Yaml::Str(s) => J::String(s.clone()),
            Yaml::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Yaml::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.scalar_text().unwrap_or_default(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// The scalar as text (for keys and values that Sigma treats as strings).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Yaml::Str(s) => Some(s.clone()),
            Yaml::Int(i) => Some(i.to_string()),
            Yaml::Float(f) => Some(f.to_string()),
            Yaml::Bool(b) => Some(b.to_string()),
            Yaml::Null | Yaml::Seq(_) | Yaml::Map(_) => None,
        }
    }
}

enum Frame {
    Seq {
        items: Vec<Node>,
        at: Marker,
        anchor: usize,
        /// The expanded size when the collection started.
        size: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        at: Marker,
        anchor: usize,
        size: usize,
    },
}

struct Builder {
    stack: Vec<Frame>,
    documents: Vec<Node>,
    /// Anchored nodes and their expanded sizes.
    anchors: HashMap<usize, (Node, usize)>,
    error: Option<YamlError>,
    /// The stream's size so far with its aliases expanded (see [`Limits::max_yaml_bytes`]).
    size: usize,
    limits: Limits,
    /// A limit was hit: later events are ignored.
    stopped: bool,
}

fn position(m: &Marker) -> (usize, usize) {
    (m.line().max(1), m.col() + 1)
}

fn resolve_plain(text: &str) -> Yaml {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Yaml::Null,
        "true" | "True" | "TRUE" => return Yaml::Bool(true),
        "false" | "False" | "FALSE" => return Yaml::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return Yaml::Int(i);
        }
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Yaml::Int(i);
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(oct, 8) {
            return Yaml::Int(i);
        }
    }
    let looks_numeric = digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if looks_numeric {
        if let Ok(f) = text.parse::<f64>() {
            return Yaml::Float(f);
        }
    }
    match text {
        ".inf" | "+.inf" => Yaml::Float(f64::INFINITY),
        "-.inf" => Yaml::Float(f64::NEG_INFINITY),
        ".nan" => Yaml::Float(f64::NAN),
        _ => Yaml::Str(text.to_string()),
    }
}

impl Builder {
    fn new(limits: Limits) -> Builder {
        Builder {
            stack: Vec::new(),
            documents: Vec::new(),
            anchors: HashMap::new(),
            error: None,
            size: 0,
            limits,
            stopped: false,
        }
    }

    /// Counts `bytes` more of expanded size; false (and the error) past the limit.
    fn grow(&mut self, bytes: usize, at: (usize, usize)) -> bool {
        self.size = self.size.saturating_add(bytes);
        if self.size > self.limits.max_yaml_bytes {
            self.stopped = true;
            let limit = self.limits.max_yaml_bytes;
            self.error = Some(YamlError {
                line: at.0,
                col: at.1,
                message: format!(
                    "the document expands beyond the {limit}-byte limit (max_yaml_bytes), through its aliases or its size; not loaded"
                ),
            });
            return false;
        }
        true
    }

    fn fail(&mut self, at: (usize, usize), message: String) {
        if self.error.is_none() {
            self.error = Some(YamlError {
                line: at.0,
                col: at.1,
                message,
            });
        }
    }

    fn push(&mut self, node: Node, anchor: usize, size: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    let duplicate = k.scalar_text().is_some_and(|name| {
                        entries
                            .iter()
                            .any(|(e, _)| e.scalar_text().as_deref() == Some(&name))
                    });
                    if duplicate {
                        let text = k.scalar_text().unwrap_or_default();
                        self.fail((k.line, k.col), format!("duplicate key `{text}`"));
                    }
                    if let Some(Frame::Map { entries, .. }) = self.stack.last_mut() {
                        entries.push((k, node));
                    }
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.stopped {
            return;
        }
        let (line, col) = position(&mark);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let size = YAML_NODE_BYTES.saturating_add(text.len());
                if !self.grow(size, (line, col)) {
                    return;
                }
                let is_str_tag = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value = if style == TScalarStyle::Plain && !is_str_tag {
                    resolve_plain(&text)
                } else {
                    Yaml::Str(text)
                };
                self.push(Node { value, line, col }, anchor, size);
            }
            Event::SequenceStart(..) | Event::MappingStart(..)
                if self.stack.len() >= self.limits.max_yaml_depth =>
            {
                let limit = self.limits.max_yaml_depth;
                self.fail(
                    (line, col),
                    format!("nested deeper than the limit of {limit} levels (max_yaml_depth); not loaded"),
                );
                self.stopped = true;
            }
            Event::SequenceStart(anchor, _) => {
                let size = self.size;
                if self.grow(YAML_NODE_BYTES, (line, col)) {
                    self.stack.push(Frame::Seq {
                        items: Vec::new(),
                        at: mark,
                        anchor,
                        size,
                    });
                }
            }
            Event::MappingStart(anchor, _) => {
                let size = self.size;
                if self.grow(YAML_NODE_BYTES, (line, col)) {
                    self.stack.push(Frame::Map {
                        entries: Vec::new(),
                        key: None,
                        at: mark,
                        anchor,
                        size,
                    });
                }
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, at, anchor, started) = match self.stack.pop() {
                    Some(Frame::Seq {
                        items,
                        at,
                        anchor,
                        size,
                    }) => (Yaml::Seq(items), at, anchor, size),
                    Some(Frame::Map {
                        entries,
                        at,
                        anchor,
                        size,
                        ..
                    }) => (Yaml::Map(entries), at, anchor, size),
                    None => return,
                };
                let size = self.size - started;
                // A block mapping's event is marked after its first key: it starts at that key.
                let (line, col) = match &value {
                    Yaml::Map(entries) if !entries.is_empty() => {
                        let first = &entries[0].0;
                        let (l, c) = position(&at);
                        if (first.line, first.col) < (l, c) {
                            (first.line, first.col)
                        } else {
                            (l, c)
                        }
                    }
                    _ => position(&at),
                };
                self.push(Node { value, line, col }, anchor, size);
            }
            Event::Alias(id) => {
                // Counted before it is copied: a copy past the limit is never made.
                let Some(size) = self.anchors.get(&id).map(|(_, size)| *size) else {
                    return self.fail((line, col), "alias to an unknown anchor".to_string());
                };
                if !self.grow(size, (line, col)) {
                    return;
                }
                if let Some((mut node, _)) = self.anchors.get(&id).cloned() {
                    node.line = line;
                    node.col = col;
                    self.push(node, 0, size);
                }
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

/// Parses every document of a YAML stream, within the default [`Limits`].
pub fn parse_documents(text: &str) -> Result<Vec<Node>, YamlError> {
    parse_documents_within(text, &Limits::default())
}

/// Parses every document of a YAML stream; a stream that expands or nests past `limits`
/// is an error at the node that crossed the limit.
pub fn parse_documents_within(text: &str, limits: &Limits) -> Result<Vec<Node>, YamlError> {
    let mut builder = Builder::new(*limits);
    let mut parser = Parser::new_from_str(text);
    let loaded = parser.load(&mut builder, true);
    if builder.stopped {
        if let Some(e) = builder.error {
            return Err(e);
        }
    }
    if let Err(e) = loaded {
        let (line, col) = position(e.marker());
        return Err(YamlError {
            line,
            col,
            message: e.info().to_string(),
        });
    }
    if let Some(e) = builder.error {
        return Err(e);
    }
    Ok(builder.documents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_and_positions() {
        let docs =
            parse_documents("title: x\nn: 5\nf: 1.5\nb: true\nz: ~\nq: '5'\nl:\n  - a\n  - 0x1f\n")
                .unwrap();
        let doc = &docs[0];
        assert_eq!(doc.get("title").unwrap().as_str(), Some("x"));
        assert_eq!(doc.get("n").unwrap().value, Yaml::Int(5));
        assert_eq!(doc.get("f").unwrap().value, Yaml::Float(1.5));
        assert_eq!(doc.get("b").unwrap().value, Yaml::Bool(true));
        assert_eq!(doc.get("z").unwrap().value, Yaml::Null);
        assert_eq!(doc.get("q").unwrap().value, Yaml::Str("5".into()));
        let l = doc.get("l").unwrap().as_seq().unwrap();
        assert_eq!(l[1].value, Yaml::Int(31));
        assert_eq!((l[0].line, l[0].col), (8, 5));
        let n = doc.get("n").unwrap();
        assert_eq!((n.line, n.col), (2, 4));
    }

    #[test]
    fn block_mappings_start_at_their_first_key() {
        let docs = parse_documents("name: x\ndetection:\n    selection:\n        a: 1\n").unwrap();
        assert_eq!((docs[0].line, docs[0].col), (1, 1));
        let sel = docs[0].get("detection").unwrap().get("selection").unwrap();
        assert_eq!((sel.line, sel.col), (4, 9));
    }

    #[test]
    fn multiple_documents_and_anchors() {
        let docs = parse_documents("a: &x [1, 2]\nb: *x\n---\nc: 3\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].get("b").unwrap().as_seq().unwrap().len(), 2);
        assert_eq!(docs[1].get("c").unwrap().value, Yaml::Int(3));
    }

    #[test]
    fn errors_have_positions() {
        let e = parse_documents("a: 1\nb: [1, 2\n").unwrap_err();
        assert!(e.line >= 2, "{e}");
        let e = parse_documents("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(
            (e.line, e.col, e.message.as_str()),
            (3, 1, "duplicate key `a`")
        );
    }

    #[test]
    fn alias_expansion_past_the_limit_is_an_error() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (prev, next) in ["a", "b", "c", "d", "e", "f"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g"])
        {
            text.push_str(&format!(
                "{next}: &{next} [{}]\n",
                vec![format!("*{prev}"); 10].join(", ")
            ));
        }
        // 10^7 nodes: far past the default limit, and never copied.
        let e = parse_documents(&text).unwrap_err();
        assert!(e.message.contains("max_yaml_bytes"), "{e}");
        assert_eq!(e.line, 6, "{e}");
        // A few aliases within the limit are copies.
        let docs = parse_documents("a: &a [1, 2]\nb: [*a, *a]\n").unwrap();
        assert_eq!(docs[0].get("b").unwrap().as_seq().unwrap().len(), 2);
    }

    #[test]
    fn nesting_past_the_limit_is_an_error() {
        let limits = Limits {
            max_yaml_depth: 8,
            ..Limits::default()
        };
        assert!(parse_documents_within(
            &format!("a: {}1{}", "[".repeat(7), "]".repeat(7)),
            &limits
        )
        .is_ok());
        let e = parse_documents_within(&format!("a: {}1{}", "[".repeat(8), "]".repeat(8)), &limits)
            .unwrap_err();
        assert!(e.message.contains("max_yaml_depth"), "{e}");
        // (yaml-rust2's scanner refuses a few hundred levels itself.)
        assert!(parse_documents(&format!(
            "a: {}1{}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        ))
        .is_err());
    }

    #[test]
    fn yaml_1_2_keeps_yes_and_on_as_strings() {
        let docs = parse_documents("a: yes\nb: on\nc: 2019-10-23\n").unwrap();
        assert_eq!(docs[0].get("a").unwrap().value, Yaml::Str("yes".into()));
        assert_eq!(
            docs[0].get("c").unwrap().value,
            Yaml::Str("2019-10-23".into())
        );
    }
}
