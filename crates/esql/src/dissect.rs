//! The string-processing core of the ES|QL `DISSECT` command.
//!
//! `DISSECT input "pattern" [APPEND_SEPARATOR="sep"]` splits a string on the
//! literal delimiters of a pattern and returns the text between them as
//! keyword columns. This module reproduces the matching algorithm of
//! Elasticsearch's `libs/dissect` (`DissectParser`) together with the
//! restrictions that ES|QL adds on top of it.
//!
//! # Pattern syntax
//!
//! A pattern is an optional *leading delimiter* followed by one or more
//! `%{key}` fields, each followed by its delimiter (the text up to the next
//! `%{`, possibly empty for the last field):
//!
//! | Key            | Meaning                                                        |
//! |----------------|----------------------------------------------------------------|
//! | `%{name}`      | capture into column `name` (a repeated plain name keeps the last value) |
//! | `%{}`          | empty key: match, but do not output                           |
//! | `%{?name}`     | named skip key: match, but do not output                      |
//! | `%{+name}`     | append to `name`, left to right, joined by `APPEND_SEPARATOR`  |
//! | `%{+name/n}`   | append to `name` in the order given by `n` (0..=32767)         |
//! | `%{name->}`    | right padding: skip repetitions of the following delimiter    |
//!
//! `->` may be combined with the other modifiers and must be the far right
//! (`%{+name/2->}`, `%{->}`). Only one of `?`, `+`, `*`, `&`, `/` may appear in a
//! key, except for the `+…/n` combination. As in Elasticsearch, a plain key that
//! shares its name with an append key becomes an append key itself, and the
//! modifier character does not have to be the first one (`%{a?b}` is the
//! named skip key `b`).
//!
//! Reference keys (`%{*name}` / `%{&name}`) are rejected: ES|QL does not
//! support them ("The `DISSECT` command does not support reference keys").
//!
//! # Matching
//!
//! * The input must start with the leading delimiter and be strictly longer
//!   than it.
//! * Each delimiter is searched for left to right (first occurrence); the text
//!   before it is the value of the current key. The last key takes the rest
//!   of the input when it has no delimiter of its own; text remaining after
//!   the last delimiter is ignored.
//! * Consecutive occurrences of a delimiter give the following keys empty
//!   values (`%{a},%{b},%{c}` on `x,,z` gives `b = ""`), unless the key has the
//!   `->` modifier, in which case the repetitions are skipped.
//! * The match is all or nothing: [`Dissect::apply`] returns `None` when any
//!   delimiter is missing, and ES|QL then sets every key column to `null`.
//!
//! The columns ([`Dissect::keys`]) are the distinct output key names in the
//! order they first appear in the pattern; skipped keys are not columns. All
//! values are keywords (`String`).
//!
//! Some quirks of Elasticsearch's pattern tokenizer are kept on purpose: two
//! keys with no delimiter between them (`%{a}%{b}`) make the second one part of
//! the first key's delimiter, a trailing `%{` without a closing `}` is
//! ignored, and leading text that contains a line break before the first
//! `%{` is not treated as a leading delimiter (it becomes part of the first
//! value instead).

use std::collections::{HashMap, HashSet};

/// Largest order accepted by `%{+key/n}` (Elasticsearch parses it as a Java `short`).
const MAX_APPEND_ORDER: u32 = i16::MAX as u32;

/// The first order given to append keys without an explicit `/n`.
const FIRST_IMPLICIT_ORDER: i32 = -1000;

/// Why a dissect pattern was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DissectError {
    /// The pattern has no key that produces a column.
    #[error(
        "invalid dissect pattern: unable to find any keys or delimiters \
         (at least one `%{{name}}` key that is not skipped is required)"
    )]
    NoKeys,
    /// A key carries more than one modifier.
    #[error(
        "invalid dissect key `%{{{key}}}` at offset {offset}: multiple modifiers are not allowed"
    )]
    MultipleModifiers {
        /// Byte offset of the key text (after `%{`) in the pattern.
        offset: usize,
        /// The key text between `%{` and `}`.
        key: String,
    },
    /// The key name is missing or malformed (`%{+}`, `%{a/1}`, `%{+a/x}`, …).
    #[error(
        "invalid dissect key `%{{{key}}}` at offset {offset}: the key name could not be determined"
    )]
    KeyName {
        /// Byte offset of the key text (after `%{`) in the pattern.
        offset: usize,
        /// The key text between `%{` and `}`.
        key: String,
    },
    /// The `/n` order of an append key does not fit in 0..=32767.
    #[error(
        "invalid dissect key `%{{{key}}}` at offset {offset}: \
         append order [{order}] is out of range (0..=32767)"
    )]
    AppendOrder {
        /// Byte offset of the key text (after `%{`) in the pattern.
        offset: usize,
        /// The key text between `%{` and `}`.
        key: String,
        /// The digits after `/`.
        order: String,
    },
    /// A `*` or `&` reference key, which ES|QL does not support.
    #[error(
        "reference keys are not supported in ES|QL dissect patterns: \
         `%{{{key}}}` at offset {offset}"
    )]
    ReferenceKey {
        /// Byte offset of the key text (after `%{`) in the pattern.
        offset: usize,
        /// The key text between `%{` and `}`.
        key: String,
    },
}

/// The modifier of a key, as Elasticsearch classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Modifier {
    None,
    AppendWithOrder,
    Append,
    FieldName,
    FieldValue,
    NamedSkip,
}

impl Modifier {
    fn from_char(c: char) -> Option<Modifier> {
        match c {
            '/' => Some(Modifier::AppendWithOrder),
            '+' => Some(Modifier::Append),
            '*' => Some(Modifier::FieldName),
            '&' => Some(Modifier::FieldValue),
            '?' => Some(Modifier::NamedSkip),
            _ => None,
        }
    }
}

/// One parsed `%{…}` key.
#[derive(Debug, Clone)]
struct Key {
    name: String,
    modifier: Modifier,
    skip: bool,
    skip_right_padding: bool,
    /// Explicit `/n` order of an append key.
    order: Option<i32>,
}

/// What a matched value does to the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Skip,
    Set(usize),
    Append { slot: usize, order: Option<i32> },
}

/// A key, what to do with its value, and the delimiter that follows it.
#[derive(Debug, Clone, PartialEq)]
struct Pair {
    action: Action,
    skip_right_padding: bool,
    delimiter: String,
}

/// A compiled ES|QL `DISSECT` pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Dissect {
    leading: String,
    pairs: Vec<Pair>,
    keys: Vec<String>,
    append_separator: String,
}

impl Dissect {
    /// Parses `pattern`; `append_separator` joins the values of append keys
    /// (ES|QL's `APPEND_SEPARATOR`, `""` when absent).
    pub fn new(pattern: &str, append_separator: &str) -> Result<Dissect, DissectError> {
        let leading = leading_delimiter(pattern);
        let raw = split_fields(pattern, leading.len());
        let mut keys = Vec::with_capacity(raw.len());
        for field in &raw {
            keys.push(parse_key(field.key, field.offset)?);
        }
        if !keys.iter().any(|k| !k.skip) {
            return Err(DissectError::NoKeys);
        }
        if let Some(field) = raw
            .iter()
            .zip(&keys)
            .find_map(|(f, k)| is_reference(k).then_some(f))
        {
            return Err(DissectError::ReferenceKey {
                offset: field.offset,
                key: field.key.to_string(),
            });
        }
        promote_to_append(&mut keys);
        let (columns, slots) = output_columns(&keys);
        let pairs = raw
            .iter()
            .zip(&keys)
            .map(|(field, key)| Pair {
                action: action_for(key, &slots),
                skip_right_padding: key.skip_right_padding,
                delimiter: field.delimiter.to_string(),
            })
            .collect();
        Ok(Dissect {
            leading: leading.to_string(),
            pairs,
            keys: columns,
            append_separator: append_separator.to_string(),
        })
    }

    /// The output column names, in the order ES|QL adds them: first
    /// appearance in the pattern, skipped keys excluded, duplicates merged.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// Dissects `input`: one value per [`keys`](Self::keys) entry, in the same
    /// order, or `None` when the input does not match the pattern.
    pub fn apply(&self, input: &str) -> Option<Vec<String>> {
        let mut state = MatchState::new(self.keys.len());
        if !self.walk(input, &mut state) {
            return None;
        }
        state.finish(&self.append_separator)
    }

    /// Runs the delimiter search; `true` when every key received a value.
    fn walk<'i>(&self, input: &'i str, state: &mut MatchState<'i>) -> bool {
        let bytes = input.as_bytes();
        if !(input.starts_with(self.leading.as_str()) && bytes.len() > self.leading.len()) {
            return false;
        }
        let mut index = 0;
        let mut pair = match self.pairs.first() {
            Some(pair) => pair,
            None => return false,
        };
        let mut i = self.leading.len();
        let mut value_start = i;
        while i < bytes.len() {
            let delimiter = pair.delimiter.as_bytes();
            if delimiter.is_empty() || !bytes[i..].starts_with(delimiter) {
                i += 1;
                continue;
            }
            if !state.add(pair.action, input.get(value_start..i)) {
                return false;
            }
            i += delimiter.len();
            // Consecutive delimiters: empty values for the next keys, or
            // skipped when the current key has right padding. Elasticsearch
            // keeps searching for the *current* delimiter while doing so.
            while i < bytes.len() && bytes[i..].starts_with(delimiter) {
                i += delimiter.len();
                if !pair.skip_right_padding {
                    match self.pairs.get(index + 1) {
                        None => break,
                        Some(next) => {
                            index += 1;
                            pair = next;
                            state.add(pair.action, Some(""));
                        }
                    }
                }
            }
            match self.pairs.get(index + 1) {
                None => break,
                Some(next) => {
                    index += 1;
                    pair = next;
                    value_start = i;
                }
            }
        }
        if state.matches < self.pairs.len() && pair.delimiter.is_empty() {
            state.add(pair.action, input.get(value_start..));
        }
        state.matches == self.pairs.len()
    }
}

/// Values collected while walking one input.
struct MatchState<'i> {
    matches: usize,
    set: Vec<Option<&'i str>>,
    appended: Vec<Vec<(i32, &'i str)>>,
    next_implicit_order: i32,
}

impl<'i> MatchState<'i> {
    fn new(columns: usize) -> MatchState<'i> {
        MatchState {
            matches: 0,
            set: vec![None; columns],
            appended: vec![Vec::new(); columns],
            next_implicit_order: FIRST_IMPLICIT_ORDER,
        }
    }

    /// Records one matched value; `false` if the value is not valid text
    /// (cannot happen for UTF-8 input, checked instead of panicking).
    fn add(&mut self, action: Action, value: Option<&'i str>) -> bool {
        let Some(value) = value else {
            return false;
        };
        self.matches += 1;
        match action {
            Action::Skip => {}
            Action::Set(slot) => {
                if let Some(cell) = self.set.get_mut(slot) {
                    *cell = Some(value);
                }
            }
            Action::Append { slot, order } => {
                let order = order.unwrap_or_else(|| {
                    let implicit = self.next_implicit_order;
                    self.next_implicit_order = implicit.saturating_add(1);
                    implicit
                });
                if let Some(values) = self.appended.get_mut(slot) {
                    values.push((order, value));
                }
            }
        }
        true
    }

    /// Builds the output row; `None` if a column never received a value.
    fn finish(mut self, separator: &str) -> Option<Vec<String>> {
        let mut row = Vec::with_capacity(self.set.len());
        for (set, appended) in self.set.iter().zip(self.appended.iter_mut()) {
            if let Some(value) = set {
                row.push((*value).to_string());
            } else if appended.is_empty() {
                return None;
            } else {
                // Stable, like Java's Collections.sort: equal orders keep
                // their left-to-right order.
                appended.sort_by_key(|(order, _)| *order);
                let parts: Vec<&str> = appended.iter().map(|(_, v)| *v).collect();
                row.push(parts.join(separator));
            }
        }
        Some(row)
    }
}

/// A `%{key}` field and the delimiter text that follows it.
struct RawField<'p> {
    key: &'p str,
    /// Byte offset of `key` in the whole pattern.
    offset: usize,
    delimiter: &'p str,
}

/// The text before the first `%{`, as Elasticsearch's `^(.*?)%\{` finds it:
/// `.` does not cross line terminators, so leading text containing one is
/// not a leading delimiter.
fn leading_delimiter(pattern: &str) -> &str {
    match pattern.find("%{") {
        Some(end) if !pattern[..end].contains(is_java_line_terminator) => &pattern[..end],
        _ => "",
    }
}

fn is_java_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Splits the pattern after the leading delimiter into key/delimiter pairs,
/// like `%\{([^}]*?)}(.+?(?=%\{)|.*$)` applied repeatedly.
fn split_fields(pattern: &str, from: usize) -> Vec<RawField<'_>> {
    let mut fields = Vec::new();
    let mut pos = from;
    while let Some(open) = find_from(pattern, "%{", pos) {
        let key_start = open + 2;
        let Some(close) = find_from(pattern, "}", key_start) else {
            break;
        };
        let delimiter_start = close + 1;
        // The delimiter is at least one character long when it ends at a `%{`.
        let delimiter_end = if delimiter_start < pattern.len() {
            find_from(pattern, "%{", delimiter_start + 1).unwrap_or(pattern.len())
        } else {
            pattern.len()
        };
        fields.push(RawField {
            key: &pattern[key_start..close],
            offset: key_start,
            delimiter: &pattern[delimiter_start..delimiter_end],
        });
        pos = delimiter_end;
    }
    fields
}

/// `haystack.find(needle)` starting at byte `from` (ASCII needles only, so
/// `from` may be any byte index).
fn find_from(haystack: &str, needle: &str, from: usize) -> Option<usize> {
    let tail = haystack.as_bytes().get(from..)?;
    memchr::memmem::find(tail, needle.as_bytes()).map(|i| i + from)
}

/// Parses the text between `%{` and `}` like Elasticsearch's `DissectKey`.
fn parse_key(text: &str, offset: usize) -> Result<Key, DissectError> {
    let modifier = find_modifier(text, offset)?;
    let (name, padding, order) = match modifier {
        Modifier::None => {
            let (name, padding) = strip_padding(text);
            (Some(name), padding, None)
        }
        Modifier::AppendWithOrder => parse_ordered_append(text, offset)?,
        _ => {
            let after = text.find(['+', '*', '&', '?']).map(|i| &text[i + 1..]);
            match after {
                Some(rest) => {
                    let (name, padding) = strip_padding(rest);
                    (Some(name), padding, None)
                }
                None => (None, false, None),
            }
        }
    };
    let skip = match modifier {
        Modifier::None => name.is_some_and(str::is_empty),
        Modifier::NamedSkip => true,
        _ => false,
    };
    match name {
        Some(name) if skip || !name.is_empty() => Ok(Key {
            name: name.to_string(),
            modifier,
            skip,
            skip_right_padding: padding,
            order,
        }),
        _ => Err(DissectError::KeyName {
            offset,
            key: text.to_string(),
        }),
    }
}

/// Finds the key's modifier; only `+` followed by `/` may be combined.
fn find_modifier(text: &str, offset: usize) -> Result<Modifier, DissectError> {
    let mut modifier = Modifier::None;
    let mut count = 0;
    for found in text.chars().filter_map(Modifier::from_char) {
        count += 1;
        let combined = modifier == Modifier::Append && found == Modifier::AppendWithOrder;
        if count > 1 && !combined {
            return Err(DissectError::MultipleModifiers {
                offset,
                key: text.to_string(),
            });
        }
        modifier = found;
    }
    Ok(modifier)
}

/// Removes a trailing `->` (the right padding modifier).
fn strip_padding(text: &str) -> (&str, bool) {
    match text.strip_suffix("->") {
        Some(name) => (name, true),
        None => (text, false),
    }
}

/// Parses `+name/n` (optionally followed by `->`), as
/// `[+](.*?)(/)([0-9]+)(->)?$` does.
type OrderedAppend<'t> = (Option<&'t str>, bool, Option<i32>);

fn parse_ordered_append(text: &str, offset: usize) -> Result<OrderedAppend<'_>, DissectError> {
    let (Some(plus), Some(slash)) = (text.find('+'), text.find('/')) else {
        return Ok((None, false, None));
    };
    if slash < plus {
        return Ok((None, false, None));
    }
    let (digits, padding) = strip_padding(&text[slash + 1..]);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok((None, false, None));
    }
    let order = digits
        .parse::<u32>()
        .ok()
        .filter(|n| *n <= MAX_APPEND_ORDER)
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| DissectError::AppendOrder {
            offset,
            key: text.to_string(),
            order: digits.to_string(),
        })?;
    Ok((Some(&text[plus + 1..slash]), padding, Some(order)))
}

fn is_reference(key: &Key) -> bool {
    matches!(key.modifier, Modifier::FieldName | Modifier::FieldValue)
}

/// Plain keys that share a name with an append key take part in the append.
fn promote_to_append(keys: &mut [Key]) {
    let append_names: HashSet<String> = keys
        .iter()
        .filter(|k| matches!(k.modifier, Modifier::Append | Modifier::AppendWithOrder))
        .map(|k| k.name.clone())
        .collect();
    for key in keys.iter_mut() {
        if key.modifier == Modifier::None && append_names.contains(&key.name) {
            key.modifier = Modifier::Append;
        }
    }
}

/// Output columns (first appearance order) and the slot of each name.
fn output_columns(keys: &[Key]) -> (Vec<String>, HashMap<String, usize>) {
    let mut columns = Vec::new();
    let mut slots = HashMap::new();
    for key in keys.iter().filter(|k| !k.skip) {
        if !slots.contains_key(&key.name) {
            slots.insert(key.name.clone(), columns.len());
            columns.push(key.name.clone());
        }
    }
    (columns, slots)
}

fn action_for(key: &Key, slots: &HashMap<String, usize>) -> Action {
    let slot = match slots.get(&key.name) {
        Some(slot) if !key.skip => *slot,
        _ => return Action::Skip,
    };
    match key.modifier {
        Modifier::Append | Modifier::AppendWithOrder => Action::Append {
            slot,
            order: key.order,
        },
        _ => Action::Set(slot),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dissect(pattern: &str, input: &str) -> Option<Vec<(String, String)>> {
        dissect_sep(pattern, "", input)
    }

    fn dissect_sep(pattern: &str, sep: &str, input: &str) -> Option<Vec<(String, String)>> {
        let d = Dissect::new(pattern, sep).expect("valid pattern");
        d.apply(input)
            .map(|values| d.keys().iter().cloned().zip(values).collect())
    }

    fn row(pairs: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    // --- Examples from the ES|QL documentation ---------------------------

    #[test]
    fn doc_date_msg_ip() {
        assert_eq!(
            dissect(
                "%{date} - %{msg} - %{ip}",
                "2023-01-23T12:15:00.000Z - some text - 127.0.0.1"
            ),
            row(&[
                ("date", "2023-01-23T12:15:00.000Z"),
                ("msg", "some text"),
                ("ip", "127.0.0.1")
            ])
        );
    }

    #[test]
    fn doc_clientip_timestamp_status() {
        assert_eq!(
            dissect(
                "%{clientip} [%{@timestamp}] %{status}",
                "1.2.3.4 [2023-01-23T12:15:00.000Z] Connected"
            ),
            row(&[
                ("clientip", "1.2.3.4"),
                ("@timestamp", "2023-01-23T12:15:00.000Z"),
                ("status", "Connected")
            ])
        );
    }

    #[test]
    fn doc_right_padding() {
        assert_eq!(
            dissect("%{ts->} %{level}", "1998-08-10T17:15:42          WARN"),
            row(&[("ts", "1998-08-10T17:15:42"), ("level", "WARN")])
        );
    }

    #[test]
    fn doc_right_padding_empty_key() {
        assert_eq!(
            dissect(
                "[%{ts}]%{->}[%{level}]",
                "[1998-08-10T17:15:42]          [WARN]"
            ),
            row(&[("ts", "1998-08-10T17:15:42"), ("level", "WARN")])
        );
    }

    #[test]
    fn doc_append_with_separator() {
        assert_eq!(
            dissect_sep(
                "%{+name} %{+name} %{+name} %{+name}",
                " ",
                "john jacob jingleheimer schmidt"
            ),
            row(&[("name", "john jacob jingleheimer schmidt")])
        );
    }

    #[test]
    fn doc_append_with_order() {
        assert_eq!(
            dissect_sep(
                "%{+name/2} %{+name/4} %{+name/3} %{+name/1}",
                ",",
                "john jacob jingleheimer schmidt"
            ),
            row(&[("name", "schmidt,john,jingleheimer,jacob")])
        );
    }

    #[test]
    fn doc_named_skip() {
        assert_eq!(
            dissect(
                "%{clientip} %{?ident} %{?auth} %{@timestamp}",
                "1.2.3.4 - - 30/Apr/1998:22:00:52 +0000"
            ),
            row(&[
                ("clientip", "1.2.3.4"),
                ("@timestamp", "30/Apr/1998:22:00:52 +0000")
            ])
        );
    }

    #[test]
    fn doc_processor_apache_example() {
        let pattern = r#"%{clientip} %{ident} %{auth} [%{@timestamp}] \"%{verb} %{request} HTTP/%{httpversion}\" %{status} %{size}"#;
        let input = r#"1.2.3.4 - - [30/Apr/1998:22:00:52 +0000] \"GET /english/venues/cities/images/montpellier/18.gif HTTP/1.0\" 200 3171"#;
        assert_eq!(
            dissect(pattern, input),
            row(&[
                ("clientip", "1.2.3.4"),
                ("ident", "-"),
                ("auth", "-"),
                ("@timestamp", "30/Apr/1998:22:00:52 +0000"),
                ("verb", "GET"),
                (
                    "request",
                    "/english/venues/cities/images/montpellier/18.gif"
                ),
                ("httpversion", "1.0"),
                ("status", "200"),
                ("size", "3171")
            ])
        );
    }

    // --- ES|QL csv-spec cases ------------------------------------------------

    #[test]
    fn csv_simple_and_no_match() {
        assert_eq!(
            dissect("%{b} %{c}", "foo bar"),
            row(&[("b", "foo"), ("c", "bar")])
        );
        assert_eq!(dissect("%{b} %{c} baz", "foo bar"), None);
    }

    #[test]
    fn csv_complex_pattern() {
        assert_eq!(
            dissect(
                "%{Y}-%{M}-%{D}T%{h}:%{m}:%{s}Z - %{msg} - %{ip};",
                "1953-01-23T12:15:00Z - some text - 127.0.0.1;"
            ),
            row(&[
                ("Y", "1953"),
                ("M", "01"),
                ("D", "23"),
                ("h", "12"),
                ("m", "15"),
                ("s", "00"),
                ("msg", "some text"),
                ("ip", "127.0.0.1")
            ])
        );
    }

    #[test]
    fn csv_append_interleaved_columns() {
        let d = Dissect::new("%{+b} %{c} %{+b} %{d} %{+b}", "").unwrap();
        assert_eq!(d.keys(), ["b", "c", "d"]);
        assert_eq!(
            d.apply("foo 1 bar 2 baz"),
            Some(vec!["foobarbaz".into(), "1".into(), "2".into()])
        );
        let d = Dissect::new("%{+b} %{c} %{+b} %{d} %{+b}", ",").unwrap();
        assert_eq!(
            d.apply("foo 1 bar 2 baz"),
            Some(vec!["foo,bar,baz".into(), "1".into(), "2".into()])
        );
    }

    #[test]
    fn csv_append_with_order() {
        assert_eq!(
            dissect("%{+b/3} %{c} %{+b/2} %{d} %{+b/1}", "foo 1 bar 2 baz"),
            row(&[("b", "bazbarfoo"), ("c", "1"), ("d", "2")])
        );
    }

    #[test]
    fn csv_empty_keys() {
        assert_eq!(
            dissect("%{b} %{} %{d}", "b c d"),
            row(&[("b", "b"), ("d", "d")])
        );
        assert_eq!(
            dissect("%{b} %{} %{} %{e}", "b c d e"),
            row(&[("b", "b"), ("e", "e")])
        );
        assert_eq!(
            dissect("%{} %{b} %{} %{d}", "x b c d"),
            row(&[("b", "b"), ("d", "d")])
        );
        assert_eq!(
            dissect("%{b} %{} %{d} %{}", "b c d x"),
            row(&[("b", "b"), ("d", "d")])
        );
    }

    #[test]
    fn csv_unnamed_skip_key_with_question_mark() {
        assert_eq!(
            dissect("%{?} %{last_name}", "Georgi Facello"),
            row(&[("last_name", "Facello")])
        );
    }

    #[test]
    fn csv_leading_and_trailing_literal() {
        assert_eq!(dissect("Ge%{emp_no}gi", "Georgi"), row(&[("emp_no", "or")]));
        assert_eq!(
            dissect("Connected to %{server_ip}", "Connected to 10.1.0.1"),
            row(&[("server_ip", "10.1.0.1")])
        );
    }

    // --- libs/dissect specification cases -------------------------------------

    #[test]
    fn spec_remaining_data_is_ignored() {
        let input = "level=info ts=2018-06-27T17:19:13.036579993Z caller=main.go:222 msg=\"Starting OK\" version=\"(version=2.3.1)\"}";
        assert_eq!(
            dissect(
                "level=%{level} ts=%{timestamp} caller=%{caller} msg=\"%{message}\"",
                input
            ),
            row(&[
                ("level", "info"),
                ("timestamp", "2018-06-27T17:19:13.036579993Z"),
                ("caller", "main.go:222"),
                ("message", "Starting OK")
            ])
        );
    }

    #[test]
    fn spec_multiline_last_value() {
        assert_eq!(
            dissect(
                "%{day}-%{month} %{message}",
                "18-Apr line one\n line two\n\tat x"
            ),
            row(&[
                ("day", "18"),
                ("month", "Apr"),
                ("message", "line one\n line two\n\tat x")
            ])
        );
    }

    #[test]
    fn spec_leading_and_trailing_delimiters() {
        assert_eq!(
            dissect("/var/log/%{key}.log", "/var/log/foobar.log"),
            row(&[("key", "foobar")])
        );
        assert_eq!(dissect("/var/log/%{key}.log", "foobar"), None);
        assert_eq!(dissect("/var/log/%{key}.log", "/var/log/foobar"), None);
        assert_eq!(
            dissect("/var/%{key}/log", "/var/foobar/log"),
            row(&[("key", "foobar")])
        );
        assert_eq!(
            dissect("/var/%{key}", "/var/foobar/log"),
            row(&[("key", "foobar/log")])
        );
        assert_eq!(
            dissect("/var/%{key}/log/%{key1}.log", "/var/foobar/log/apache.log"),
            row(&[("key", "foobar"), ("key1", "apache")])
        );
    }

    #[test]
    fn spec_input_equal_to_leading_delimiter_does_not_match() {
        assert_eq!(dissect("abc%{a}", "abc"), None);
        assert_eq!(dissect("abc%{a}", "abcd"), row(&[("a", "d")]));
    }

    #[test]
    fn spec_simple_cases() {
        assert_eq!(dissect("%{key}", "foobar"), row(&[("key", "foobar")]));
        assert_eq!(
            dissect("%{key1} %{key2}", "foo bar"),
            row(&[("key1", "foo"), ("key2", "bar")])
        );
        assert_eq!(dissect("%{key1} %{key2} %{key3}", "foo bar"), None);
    }

    #[test]
    fn spec_append_variants() {
        assert_eq!(
            dissect("%{+key/3} %{+key/1} %{+key/2}", "1 2 3"),
            row(&[("key", "231")])
        );
        assert_eq!(
            dissect_sep("%{+key/3} %{+key/1} %{+key/2}", "::", "1 2 3"),
            row(&[("key", "2::3::1")])
        );
        assert_eq!(
            dissect("%{+key/3} %{+key/1->} %{+key/2}", "1 2              3"),
            row(&[("key", "231")])
        );
        assert_eq!(
            dissect("%{key}-%{+key}-%{+key}", "1-2-3"),
            row(&[("key", "123")])
        );
        assert_eq!(
            dissect_sep("%{key}-%{+key}-%{+key}", ",", "1-2-3"),
            row(&[("key", "1,2,3")])
        );
    }

    #[test]
    fn implicit_append_sorts_before_explicit_order() {
        assert_eq!(
            dissect_sep("%{+a/1} %{+a} %{a}", ",", "x y z"),
            row(&[("a", "y,z,x")])
        );
    }

    #[test]
    fn spec_skip_fields() {
        assert_eq!(
            dissect("%{} %{key}", "hello world"),
            row(&[("key", "world")])
        );
        assert_eq!(
            dissect("%{?skipme} %{key}", "hello world"),
            row(&[("key", "world")])
        );
    }

    #[test]
    fn spec_consecutive_delimiters() {
        assert_eq!(
            dissect(
                "%{name},%{addr1},%{addr2},%{addr3},%{city},%{zip}",
                "Jane Doe,4321 Fifth Avenue,,,New York,87432"
            ),
            row(&[
                ("name", "Jane Doe"),
                ("addr1", "4321 Fifth Avenue"),
                ("addr2", ""),
                ("addr3", ""),
                ("city", "New York"),
                ("zip", "87432")
            ])
        );
        assert_eq!(
            dissect(
                "%{name},%{addr1->},%{city},%{zip}",
                "Jane Doe,4321 Fifth Avenue,,,New York,87432"
            ),
            row(&[
                ("name", "Jane Doe"),
                ("addr1", "4321 Fifth Avenue"),
                ("city", "New York"),
                ("zip", "87432")
            ])
        );
    }

    #[test]
    fn consecutive_delimiters_keep_searching_the_current_delimiter() {
        // Elasticsearch quirk: while filling empty values after `,,` it keeps
        // looking for `,`, then moves on to the next key's delimiter.
        assert_eq!(
            dissect("%{a},%{b}:%{c}", "x,,y:z"),
            row(&[("a", "x"), ("b", ""), ("c", "y:z")])
        );
    }

    #[test]
    fn trailing_consecutive_delimiters_fill_empty_values() {
        assert_eq!(
            dissect("%{a},%{b},%{c},%{d}", "foo,,,"),
            row(&[("a", "foo"), ("b", ""), ("c", ""), ("d", "")])
        );
    }

    #[test]
    fn spec_padding() {
        assert_eq!(
            dissect(
                "%{id} %{function->} %{server}",
                "00000043 ViewReceive     machine-321"
            ),
            row(&[
                ("id", "00000043"),
                ("function", "ViewReceive"),
                ("server", "machine-321")
            ])
        );
        assert_eq!(
            dissect(
                "%{id} %{function} %{server->} ",
                "00000043 ViewReceive machine-321    "
            ),
            row(&[
                ("id", "00000043"),
                ("function", "ViewReceive"),
                ("server", "machine-321")
            ])
        );
        assert_eq!(
            dissect(
                "%{id->} %{function} %{server}",
                "00000043    ViewReceive machine-321"
            ),
            row(&[
                ("id", "00000043"),
                ("function", "ViewReceive"),
                ("server", "machine-321")
            ])
        );
    }

    #[test]
    fn without_padding_extra_spaces_become_empty_values() {
        assert_eq!(
            dissect("%{a} %{b}", "foo  bar"),
            row(&[("a", "foo"), ("b", "")])
        );
    }

    #[test]
    fn spec_braces_in_delimiters() {
        assert_eq!(
            dissect("{%{a}}{%{b}} %{rest}", "{c}{d} anything"),
            row(&[("a", "c"), ("b", "d"), ("rest", "anything")])
        );
    }

    #[test]
    fn spec_non_ascii() {
        assert_eq!(
            dissect("%{a}࿏%{b} %{c}", "⟳༒࿏༒⟲ 子"),
            row(&[("a", "⟳༒"), ("b", "༒⟲"), ("c", "子")])
        );
    }

    #[test]
    fn repeated_plain_key_keeps_last_value() {
        let d = Dissect::new("%{a} %{a}", "").unwrap();
        assert_eq!(d.keys(), ["a"]);
        assert_eq!(d.apply("x y"), Some(vec!["y".to_string()]));
    }

    #[test]
    fn adjacent_keys_make_second_key_a_delimiter() {
        let d = Dissect::new("%{a}%{b}", "").unwrap();
        assert_eq!(d.keys(), ["a"]);
        assert_eq!(d.apply("x%{b}"), Some(vec!["x".to_string()]));
        assert_eq!(d.apply("xy"), None);
    }

    #[test]
    fn unterminated_trailing_key_is_ignored() {
        let d = Dissect::new("%{a} %{b", "").unwrap();
        assert_eq!(d.keys(), ["a"]);
        assert_eq!(d.apply("x y"), Some(vec!["x".to_string()]));
    }

    #[test]
    fn leading_text_with_newline_is_not_a_leading_delimiter() {
        let d = Dissect::new("x\ny %{a} %{b}", "").unwrap();
        assert_eq!(d.apply("x\ny 1 2"), Some(vec!["x\ny".into(), "1 2".into()]));
    }

    #[test]
    fn modifier_in_the_middle_of_a_key() {
        // `%{a?b}` is the named skip key `b`, `%{a+b}` appends to `b`.
        let d = Dissect::new("%{x} %{a?b} %{y}", "").unwrap();
        assert_eq!(d.keys(), ["x", "y"]);
        let d = Dissect::new("%{b} %{a+b}", "-").unwrap();
        assert_eq!(d.keys(), ["b"]);
        assert_eq!(d.apply("1 2"), Some(vec!["1-2".to_string()]));
    }

    #[test]
    fn named_skip_with_padding_and_empty_named_skip() {
        assert_eq!(
            dissect("%{a} %{?->} %{b}", "1 2     3"),
            row(&[("a", "1"), ("b", "3")])
        );
    }

    #[test]
    fn dotted_and_special_key_names() {
        assert_eq!(
            dissect("%{source.ip}:%{source.port}", "10.0.0.1:443"),
            row(&[("source.ip", "10.0.0.1"), ("source.port", "443")])
        );
    }

    #[test]
    fn multi_byte_delimiters() {
        assert_eq!(
            dissect("%{a} -> %{b} => %{c}", "1 -> 2 => 3"),
            row(&[("a", "1"), ("b", "2"), ("c", "3")])
        );
        assert_eq!(dissect("%{a} -> %{b}", "1 - > 2"), None);
    }

    #[test]
    fn empty_values() {
        assert_eq!(dissect("%{a},%{b}", ",x"), row(&[("a", ""), ("b", "x")]));
        assert_eq!(dissect("%{a},%{b}", "x,"), row(&[("a", "x"), ("b", "")]));
        assert_eq!(dissect("%{a},%{b}", "x"), None);
        assert_eq!(dissect("[%{a}]", "[]"), row(&[("a", "")]));
        assert_eq!(dissect("%{a}", ""), None);
    }

    fn multiple_modifiers(offset: usize, key: &str) -> DissectError {
        DissectError::MultipleModifiers {
            offset,
            key: key.into(),
        }
    }

    fn key_name(offset: usize, key: &str) -> DissectError {
        DissectError::KeyName {
            offset,
            key: key.into(),
        }
    }

    fn append_order(offset: usize, key: &str, order: &str) -> DissectError {
        DissectError::AppendOrder {
            offset,
            key: key.into(),
            order: order.into(),
        }
    }

    fn reference_key(offset: usize, key: &str) -> DissectError {
        DissectError::ReferenceKey {
            offset,
            key: key.into(),
        }
    }

    #[test]
    fn errors_name_the_offset() {
        assert_eq!(
            Dissect::new("%{a} %{?b+c}", ""),
            Err(multiple_modifiers(7, "?b+c"))
        );
        assert_eq!(Dissect::new("%{a} %{+}", ""), Err(key_name(7, "+")));
        assert_eq!(Dissect::new("%{a} %{a/1}", ""), Err(key_name(7, "a/1")));
        assert_eq!(Dissect::new("%{+a/x}", ""), Err(key_name(2, "+a/x")));
        assert_eq!(
            Dissect::new("%{+a/99999}", ""),
            Err(append_order(2, "+a/99999", "99999"))
        );
        let message = Dissect::new("%{a} %{+a/1/2}", "").unwrap_err().to_string();
        assert!(message.contains("offset 7"), "{message}");
    }

    #[test]
    fn reference_keys_are_rejected() {
        assert_eq!(
            Dissect::new("%{*key} %{&key}", ""),
            Err(reference_key(2, "*key"))
        );
        assert_eq!(
            Dissect::new("%{a} %{&key}", ""),
            Err(reference_key(7, "&key"))
        );
        let message = Dissect::new("%{*k} %{&k}", "").unwrap_err().to_string();
        assert!(message.contains("not supported"), "{message}");
    }

    #[test]
    fn patterns_without_output_keys_are_rejected() {
        assert_eq!(Dissect::new("anything", ""), Err(DissectError::NoKeys));
        assert_eq!(Dissect::new("", ""), Err(DissectError::NoKeys));
        assert_eq!(Dissect::new("%{} %{?x}", ""), Err(DissectError::NoKeys));
        assert_eq!(Dissect::new("%{some?thing}", ""), Err(DissectError::NoKeys));
        assert_eq!(Dissect::new("%{a", ""), Err(DissectError::NoKeys));
    }

    #[test]
    fn dissect_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone>() {}
        check::<Dissect>();
    }
}
