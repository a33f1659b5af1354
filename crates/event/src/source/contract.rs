//! The one contract every source normalizer implements, the registry that lists them in
//! detection order, and what each declares about the fields it writes itself.
//!
//! The literal prefilter (`modelward-engine`) decides before any parse, from a record's raw
//! bytes, which rules can match it. That is sound only for literals that, when a rule can
//! match, are in the raw bytes: values a normalizer copies from the record (case may
//! change: the search ignores ASCII case). A normalizer that writes a value of its own
//! (`gen_ai.policy.name: "topic_policy"` from Bedrock's `topicPolicy`, a reformatted time,
//! a hash) declares the field as [`Synthesized`] with the [`Domain`] of values it writes
//! there, and the prefilter treats a literal on that field as present whenever the domain
//! admits it ([`may_synthesize`]). Nothing lists values by hand: the declaration is per
//! field, next to the code that writes it, and [`check_provenance`] proves it on output —
//! every value in a normalized document is either a copy of the raw bytes or in its
//! declared field's domain. The normalizer tests, the prefilter equivalence test and the
//! `prefilter_equivalence` fuzz target run it on every fixture, corpus and generated record.
//!
//! A field declared too broadly costs only selectivity; a field not declared fails
//! [`check_provenance`] on the first record that shows it.

use serde_json::{Map, Value};

use super::{Normalized, SourceError, SourceKind};

/// One normalizer: recognises its raw records and turns them into the common field names.
pub trait Normalizer: Sync {
    /// The source it reads (what `--source` forces).
    fn kind(&self) -> SourceKind;
    /// Its name in messages (`aws_bedrock`, `litellm`, ...).
    fn name(&self) -> &'static str;
    /// Whether a raw record is of this source (for `--source auto`).
    fn looks_like(&self, raw: &Map<String, Value>) -> bool;
    /// The normalized document; a document the vendor's pipeline indexes although it failed
    /// is [`Normalized::Partial`], a record it drops is [`SourceError::Dropped`].
    fn normalize(&self, raw: Map<String, Value>) -> Result<Normalized, SourceError>;
    /// The fields whose values it writes itself rather than copying them from the record,
    /// and what those values can be ([`COMMON`] and its own). A path covers the fields
    /// under it. A value outside the declared domain must be a copy of the record.
    fn synthesized(&self) -> Vec<Synthesized>;
}

/// A field a normalizer writes itself, and the values it can write there.
#[derive(Debug, Clone, Copy)]
pub struct Synthesized {
    pub field: &'static str,
    pub domain: Domain,
}

/// The values a synthesized field can hold.
#[derive(Debug, Clone, Copy)]
pub enum Domain {
    /// One of these strings (compared ASCII-case-insensitively).
    Consts(&'static [&'static str]),
    /// Text made only of these characters (and ASCII letters when `letters`): times,
    /// numbers, hashes.
    Chars { chars: &'static str, letters: bool },
    /// Anything (a copy rearranged, text composed from several fields).
    Any,
}

/// Times as normalizers write them (RFC 3339, epoch numbers).
pub const TIME: Domain = Domain::Chars {
    chars: "0123456789-:.TZ+",
    letters: false,
};
/// Numbers: integers, decimals, exponents, signs.
pub const NUMBER: Domain = Domain::Chars {
    chars: "0123456789-+.eE",
    letters: false,
};
/// Booleans.
pub const BOOL: Domain = Domain::Consts(&["true", "false"]);
/// Lower-case hexadecimal (hashes, ids derived from hashes).
pub const HEX: Domain = Domain::Chars {
    chars: "0123456789abcdef",
    letters: false,
};

/// What the normalizers write alike: the time, durations and outcome, and the constant
/// parts of Elastic's data stream and ECS fields.
pub const COMMON: &[Synthesized] = &[
    Synthesized::new("@timestamp", TIME),
    Synthesized::new("event.duration", NUMBER),
    Synthesized::new(
        "event.outcome",
        Domain::Consts(&["success", "failure", "unknown"]),
    ),
    Synthesized::new("event.module", Domain::Consts(&["aws", "azure", "gcp"])),
    Synthesized::new("data_stream.namespace", Domain::Consts(&["default"])),
    Synthesized::new("data_stream.type", Domain::Consts(&["logs"])),
    Synthesized::new("ecs.version", Domain::Consts(&["8.11.0"])),
    Synthesized::new("cloud.provider", Domain::Consts(&["aws", "azure", "gcp"])),
    // Why a pipeline failed, on a partial document.
    Synthesized::new("error.message", Domain::Any),
];

impl Synthesized {
    pub const fn new(field: &'static str, domain: Domain) -> Synthesized {
        Synthesized { field, domain }
    }

    /// Whether the declaration covers `field` (the same path, or one under it).
    pub fn covers(&self, field: &str) -> bool {
        under(field, self.field)
    }

    /// Whether the declaration's domain can hold a value of which `literal` is a substring.
    pub fn admits(&self, literal: &str) -> bool {
        self.domain.admits(literal)
    }
}

/// `field` is `prefix` or under it.
fn under(field: &str, prefix: &str) -> bool {
    field.len() >= prefix.len()
        && field.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
        && (field.len() == prefix.len() || field.as_bytes()[prefix.len()] == b'.')
}

impl Domain {
    /// Whether some value of the domain contains `literal` (ASCII case ignored).
    pub fn admits(&self, literal: &str) -> bool {
        match self {
            Domain::Any => true,
            Domain::Consts(values) => values.iter().any(|v| contains_folded(v, literal)),
            Domain::Chars { chars, letters } => literal.bytes().all(|b| {
                (*letters && b.is_ascii_alphabetic())
                    || chars.as_bytes().contains(&b)
                    || chars.as_bytes().contains(&b.to_ascii_uppercase())
            }),
        }
    }

    /// Whether `value` (a whole field value) is in the domain.
    fn holds(&self, value: &str) -> bool {
        match self {
            Domain::Consts(values) => values.iter().any(|v| v.eq_ignore_ascii_case(value)),
            _ => self.admits(value),
        }
    }
}

fn contains_folded(haystack: &str, needle: &str) -> bool {
    let h = haystack.to_ascii_lowercase();
    memchr::memmem::find(h.as_bytes(), needle.to_ascii_lowercase().as_bytes()).is_some()
}

/// Values written after normalization by the engine (detector codes in
/// `modelward.detections`) are declared by the engine the same way.
pub const DETECTIONS_FIELD: &str = "modelward.detections";

/// Every normalizer, in the order `--source auto` tries them (the first whose
/// [`Normalizer::looks_like`] holds normalizes the record; none: it is used as it is).
pub static REGISTRY: &[&dyn Normalizer] = &[
    &super::s3_access::SOURCE,
    &super::cloudtrail::SOURCE,
    &super::azure_blob::SOURCE,
    &super::gcs_audit::SOURCE,
    &super::modelward_llm::SOURCE,
    &super::otel_genai::SOURCE,
    &super::openai_audit::SOURCE,
    &super::vertex_ai::SOURCE,
    &super::litellm::SOURCE,
    &super::aws_bedrock::SOURCE,
    &super::azure_activity::SOURCE,
    &super::azure_openai::SOURCE,
];

/// A normalizer as each source module declares it.
pub struct Source {
    pub kind: SourceKind,
    pub name: &'static str,
    pub looks_like: fn(&Map<String, Value>) -> bool,
    pub normalize: fn(Map<String, Value>) -> Result<Normalized, SourceError>,
    /// The fields it writes itself, beside [`COMMON`].
    pub synthesized: &'static [&'static [Synthesized]],
}

impl Normalizer for Source {
    fn kind(&self) -> SourceKind {
        self.kind
    }

    fn name(&self) -> &'static str {
        self.name
    }

    fn looks_like(&self, raw: &Map<String, Value>) -> bool {
        (self.looks_like)(raw)
    }

    fn normalize(&self, raw: Map<String, Value>) -> Result<Normalized, SourceError> {
        (self.normalize)(raw)
    }

    fn synthesized(&self) -> Vec<Synthesized> {
        COMMON
            .iter()
            .chain(self.synthesized.iter().flat_map(|s| s.iter()))
            .copied()
            .collect()
    }
}

/// The normalizer for a record: the one `kind` forces, or the first that recognises it;
/// None when the record is used as it is.
pub fn normalizer_for(
    raw: &Map<String, Value>,
    kind: SourceKind,
) -> Option<&'static dyn Normalizer> {
    match kind {
        SourceKind::Json => None,
        SourceKind::Auto => REGISTRY.iter().find(|n| n.looks_like(raw)).copied(),
        forced => REGISTRY.iter().find(|n| n.kind() == forced).copied(),
    }
}

/// Whether some normalizer may write a value to `field` (None: any field, as a Sigma keyword
/// searches every value) that contains `literal` without the raw record containing it.
pub fn may_synthesize(field: Option<&str>, literal: &str) -> bool {
    // Every normalizer's declarations, gathered once (a rule set asks for each literal).
    static DECLARED: std::sync::OnceLock<Vec<Synthesized>> = std::sync::OnceLock::new();
    DECLARED
        .get_or_init(|| REGISTRY.iter().flat_map(|n| n.synthesized()).collect())
        .iter()
        .any(|s| field.is_none_or(|f| s.covers(f) || under(s.field, f)) && s.admits(literal))
}

/// A literal a rule requires of a record, and the field the rule tests it on (None: any
/// field, as a Sigma keyword).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Literal {
    pub field: Option<String>,
    pub text: String,
}

impl Literal {
    pub fn new(field: Option<&str>, text: impl Into<String>) -> Literal {
        Literal {
            field: field.map(str::to_string),
            text: text.into(),
        }
    }

    /// Whether a raw record may lack this literal although the normalized event holds it:
    /// some normalizer may write it to the field itself ([`may_synthesize`]).
    pub fn synthesizable(&self) -> bool {
        may_synthesize(self.field.as_deref(), &self.text)
    }
}

/// What a rule requires of a raw record: every clause must have one of its literals present.
/// Empty: any record may match.
pub type Requirement = Vec<Vec<Literal>>;

/// The shortest literal the prefilter tests (shorter ones give no requirement).
pub const MIN_LITERAL: usize = 3;

/// Whether a literal byte is one the prefilter can find in raw JSON as it is: printable
/// ASCII other than what JSON may escape (`"`, `\`, `/`).
pub fn literal_byte(b: u8) -> bool {
    (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' && b != b'/'
}

/// A value of a normalized document that breaks the contract: not in the raw record, and
/// its field not declared (or not with a domain that holds it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub value: String,
    /// The run of the value the raw record lacks.
    pub missing: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} = {:?}: {:?} is not in the raw record and the field is not declared synthesized",
            self.field, self.value, self.missing
        )
    }
}

/// Checks a normalized document against its raw record: every scalar value (strings as they
/// are, numbers and booleans as text) must either be in a field `declared` with a domain
/// that holds it, or have each of its runs of [`literal_byte`]s (of at least
/// [`MIN_LITERAL`]) in the raw bytes, ASCII case ignored — exactly what the prefilter relies
/// on. A record with a `\u` escape is not checked (the prefilter passes it to every rule).
pub fn check_provenance(
    raw: &[u8],
    doc: &Map<String, Value>,
    declared: &[Synthesized],
) -> Vec<Violation> {
    let mut out = Vec::new();
    if memchr::memmem::find(raw, b"\\u").is_some() {
        return out;
    }
    let folded = raw.to_ascii_lowercase();
    let finder_ok =
        |run: &str| memchr::memmem::find(&folded, run.to_ascii_lowercase().as_bytes()).is_some();
    let mut visit = |field: &str, value: &str| {
        if let Some(d) = declared.iter().find(|d| d.covers(field)) {
            if d.domain.holds(value) || matches!(d.domain, Domain::Any) {
                return;
            }
        }
        for run in value.split(|c: char| !(c.is_ascii() && literal_byte(c as u8))) {
            if run.len() >= MIN_LITERAL && !finder_ok(run) {
                out.push(Violation {
                    field: field.to_string(),
                    value: value.to_string(),
                    missing: run.to_string(),
                });
                return;
            }
        }
    };
    let mut path = String::new();
    walk(doc, &mut path, &mut visit);
    out
}

fn walk(map: &Map<String, Value>, path: &mut String, visit: &mut dyn FnMut(&str, &str)) {
    for (key, value) in map {
        let len = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
        leaf(value, path, visit);
        path.truncate(len);
    }
}

fn leaf(value: &Value, path: &mut String, visit: &mut dyn FnMut(&str, &str)) {
    match value {
        Value::String(s) => visit(path, s),
        Value::Number(n) => visit(path, &n.to_string()),
        Value::Bool(b) => visit(path, if *b { "true" } else { "false" }),
        Value::Array(items) => items.iter().for_each(|i| leaf(i, path, visit)),
        Value::Object(map) => walk(map, path, visit),
        Value::Null => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn copies_pass_and_undeclared_writes_do_not() {
        let raw = br#"{"op":"ListKey","guard":"topicPolicy"}"#;
        let out = doc(json!({"a":{"op":"listkey"},"gen_ai":{"policy":{"name":"topic_policy"}}}));
        let v = check_provenance(raw, &out, &[]);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].field, "gen_ai.policy.name");
        let declared = [Synthesized::new(
            "gen_ai.policy",
            Domain::Consts(&["topic_policy", "word_policy"]),
        )];
        assert!(check_provenance(raw, &out, &declared).is_empty());
        // A declared field holding a value outside its domain is still a violation.
        let odd = doc(json!({"gen_ai":{"policy":{"name":"other_policy"}}}));
        assert_eq!(check_provenance(raw, &odd, &declared).len(), 1);
    }

    #[test]
    fn runs_split_at_what_json_escapes() {
        let raw = br#"{"p":"a\/bcd\/Invoke"}"#;
        let out = doc(json!({"p":"a/bcd/Invoke"}));
        assert!(check_provenance(raw, &out, &[]).is_empty());
    }

    #[test]
    fn domains_admit_substrings() {
        assert!(TIME.admits("2025-01"));
        assert!(!TIME.admits("ListKey"));
        assert!(Domain::Consts(&["topic_policy"]).admits("TOPIC"));
        assert!(may_synthesize(Some("gen_ai.policy.name"), "topic_policy"));
        assert!(may_synthesize(None, "topic_policy"));
    }
}
