//! `incident export --redact`: the incident's API key ids masked wherever they appear in the
//! bundle (a key id need not look like a secret: a hash or a public id), and every
//! secret-looking string.

use std::borrow::Cow;

use modelward_respond::action::AuditEntry;
use modelward_respond::{ioc, Incident};

/// `--redact`: the incident's API key ids masked wherever they appear (a key id need not look
/// like a secret: a hash or a public id), and every secret-looking string.
pub struct Redactor {
    /// Longest first, so a key id inside a longer one does not break the longer one's match.
    keys: Vec<String>,
}

/// Key ids shorter than this are masked inside longer text only as a whole token (not next
/// to a letter, digit, `-` or `_`): anywhere, they could match unrelated characters.
const MIN_INNER_KEY: usize = 8;

/// `text` with each occurrence of `key` that stands as a token of its own replaced.
fn replace_tokens(text: &str, key: &str, with: &str) -> Option<String> {
    let part_of_word = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
    let mut out = String::new();
    let mut last = 0;
    for (at, _) in text.match_indices(key) {
        let before = text[..at].chars().next_back();
        let after = text[at + key.len()..].chars().next();
        if at >= last && !before.is_some_and(part_of_word) && !after.is_some_and(part_of_word) {
            out.push_str(&text[last..at]);
            out.push_str(with);
            last = at + key.len();
        }
    }
    (last > 0).then(|| out + &text[last..])
}

impl Redactor {
    pub fn new(incident: &Incident, audit: &[AuditEntry]) -> Redactor {
        let mut keys: Vec<String> = incident
            .entities
            .iter()
            .filter(|(kind, _)| kind == "api_key")
            .map(|(_, v)| v.clone())
            .chain(
                audit
                    .iter()
                    .filter(|e| e.target_kind == "api_key")
                    .map(|e| e.target.clone()),
            )
            .filter(|k| !k.trim().is_empty())
            .collect();
        keys.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        keys.dedup();
        Redactor { keys }
    }

    pub fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for k in &self.keys {
            if k.len() >= MIN_INNER_KEY {
                if out.contains(k.as_str()) {
                    out = Cow::Owned(out.replace(k.as_str(), &ioc::mask_key(k)));
                }
            } else if let Some(masked) = replace_tokens(&out, k, &ioc::mask_key(k)) {
                out = Cow::Owned(masked);
            }
        }
        match out {
            Cow::Borrowed(t) => ioc::mask_secrets(t),
            Cow::Owned(t) => Cow::Owned(ioc::mask_secrets(&t).into_owned()),
        }
    }

    /// Every string of a JSON document, object keys included.
    pub fn json(&self, v: &mut serde_json::Value) {
        use serde_json::Value;
        match v {
            Value::String(s) => {
                if let Cow::Owned(masked) = self.text(s) {
                    *s = masked;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.json(i)),
            Value::Object(map) => {
                let mut out = serde_json::Map::new();
                for (k, mut v) in std::mem::take(map) {
                    self.json(&mut v);
                    let mut key = self.text(&k).into_owned();
                    // Two keys masked alike are both kept.
                    let mut n = 1;
                    while out.contains_key(&key) {
                        n += 1;
                        key = format!("{} #{n}", self.text(&k));
                    }
                    out.insert(key, v);
                }
                *map = out;
            }
            _ => {}
        }
    }

    /// An audit entry: its target as `incident audit` shows it, its free text masked. The
    /// idempotency key is left as it is (a hash, not a secret).
    pub fn entry(&self, e: &mut AuditEntry) {
        e.target = ioc::safe_value(&e.target_kind, &self.text(&e.target)).into_owned();
        for s in [&mut e.params, &mut e.reason, &mut e.detail] {
            if let Cow::Owned(masked) = self.text(s) {
                *s = masked;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::replace_tokens;

    #[test]
    fn short_key_ids_are_replaced_only_as_tokens() {
        assert_eq!(
            replace_tokens(r#"{"api_key_id":"key-7","x":"key-77"}"#, "key-7", "k…").as_deref(),
            Some(r#"{"api_key_id":"k…","x":"key-77"}"#)
        );
        assert_eq!(
            replace_tokens("key-7 then key-7.", "key-7", "k…").as_deref(),
            Some("k… then k….")
        );
        assert_eq!(replace_tokens("monkey-7", "key-7", "k…"), None);
        assert_eq!(replace_tokens("", "key-7", "k…"), None);
    }
}
