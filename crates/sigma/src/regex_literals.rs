//! Literals a regular expression's every match contains, for the prefilter: a `re` value
//! gives the rule a requirement like a string value does, instead of making the rule a
//! candidate of every record.
//!
//! The literals are ASCII runs of characters raw JSON holds as they are (printable ASCII
//! other than `"`, `\` and `/`, which JSON may escape), at least
//! [`MIN_LITERAL`](modelward_event::source::contract::MIN_LITERAL) long, in lower case (the prefilter
//! compares ASCII case-insensitively). A character the regex matches in either ASCII case
//! (`(?i)a`, `[aA]`) counts as that letter; one it matches in any other form too (`(?i)k`
//! also matches the Kelvin sign, `(?i)s` the long s) breaks a run, since a record holding
//! that form does not hold the ASCII letter.

use modelward_event::source::contract::{literal_byte, MIN_LITERAL};
use regex_syntax::hir::{Class, Hir, HirKind};

/// More literals than this in one any-of set give no requirement.
const MAX_LITERALS: usize = 64;

/// An any-of set of literals one of which every match of `pattern` contains (ASCII case
/// ignored, in lower case); None when the regex has none (or does not parse).
pub fn required_literals(pattern: &str) -> Option<Vec<String>> {
    let hir = regex_syntax::parse(pattern).ok()?;
    let mut set = required(&hir)?;
    set.sort();
    set.dedup();
    Some(set)
}

/// The shortest literal of a set: how selective it is.
fn strength(set: &[String]) -> usize {
    set.iter().map(String::len).min().unwrap_or(0)
}

fn required(hir: &Hir) -> Option<Vec<String>> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) | HirKind::Class(_) => None,
        HirKind::Literal(_) => best_run(std::slice::from_ref(hir)).map(|r| vec![r]),
        HirKind::Capture(c) => required(&c.sub),
        HirKind::Repetition(r) if r.min >= 1 => required(&r.sub),
        HirKind::Repetition(_) => None,
        HirKind::Alternation(branches) => {
            let mut union = Vec::new();
            for b in branches {
                union.extend(required(b)?);
                if union.len() > MAX_LITERALS {
                    return None;
                }
            }
            Some(union)
        }
        HirKind::Concat(items) => {
            // The longest literal run across the items, or the best item's own set.
            let mut best = best_run(items).map(|r| vec![r]);
            for item in items {
                if let Some(set) = required(item) {
                    if best.as_ref().is_none_or(|b| strength(&set) > strength(b)) {
                        best = Some(set);
                    }
                }
            }
            best
        }
    }
}

/// The ASCII letter or character a class matches in its ASCII cases only (`[aA]`, `[.]`).
fn class_char(class: &Class) -> Option<u8> {
    let chars: Vec<char> = match class {
        Class::Unicode(u) => {
            let mut chars = Vec::new();
            for r in u.ranges() {
                if u32::from(r.end()) - u32::from(r.start()) > 2 {
                    return None;
                }
                chars.extend(r.start()..=r.end());
            }
            chars
        }
        Class::Bytes(b) => {
            let mut chars = Vec::new();
            for r in b.ranges() {
                if r.end() - r.start() > 2 {
                    return None;
                }
                chars.extend((r.start()..=r.end()).map(char::from));
            }
            chars
        }
    };
    let first = *chars.first()?;
    if !first.is_ascii() {
        return None;
    }
    let lower = first.to_ascii_lowercase();
    chars
        .iter()
        .all(|c| c.is_ascii() && c.to_ascii_lowercase() == lower)
        .then_some(lower as u8)
}

/// The longest run of searchable characters over consecutive literal items (and classes of
/// one letter in its ASCII cases), lower-cased; None when shorter than `MIN_LITERAL`.
fn best_run(items: &[Hir]) -> Option<String> {
    let (mut best, mut run) = (Vec::new(), Vec::new());
    let mut push = |b: Option<u8>, run: &mut Vec<u8>| match b {
        Some(b) if literal_byte(b) => run.push(b.to_ascii_lowercase()),
        _ => {
            if run.len() > best.len() {
                best = std::mem::take(run);
            }
            run.clear();
        }
    };
    for item in items {
        match item.kind() {
            HirKind::Literal(lit) => {
                for &b in lit.0.iter() {
                    push(b.is_ascii().then_some(b), &mut run);
                }
            }
            HirKind::Class(c) => push(class_char(c), &mut run),
            _ => push(None, &mut run),
        }
    }
    push(None, &mut run);
    (best.len() >= MIN_LITERAL).then(|| String::from_utf8_lossy(&best).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(p: &str) -> Option<Vec<String>> {
        required_literals(p)
    }

    #[test]
    fn literals_every_match_contains() {
        assert_eq!(lits(r"ipconfig\s+/all"), Some(vec!["ipconfig".into()]));
        assert_eq!(
            lits(r"(?i)\.exe[\x22']?\s+[^\x22]{0,64}werfaultsecure\.exe"),
            Some(vec!["ecure.exe".into()])
        );
        assert_eq!(
            lits(r"ipconfig\s+/all|arp\s+-a|route\s+print"),
            Some(vec!["arp".into(), "ipconfig".into(), "route".into()])
        );
        assert_eq!(lits(r"(?i)(Invoke|IEX)-Mimi"), Some(vec!["-mimi".into()]));
        // `(?i)k` and `(?i)s` break runs (below).
        assert_eq!(
            lits(r"(?i)(mimikatz|rubeus)"),
            Some(vec!["mimi".into(), "rubeu".into()])
        );
        // The parser factors common prefixes out of alternatives: `I(nvoke-Expression|EX)`
        // leaves `ex`, too short, so nothing is required.
        assert_eq!(lits(r"(?i)(Invoke-Expression|IEX)\("), None);
        // A branch with no literal, an optional part, classes: nothing required.
        assert_eq!(lits(r"abcdef|\d+"), None);
        assert_eq!(lits(r"(abcdef)?x"), None);
        assert_eq!(lits(r"[a-z]+\d{3}"), None);
        assert_eq!(lits(r"ab"), None);
        // What JSON may escape breaks a run: `"`, `\`, `/`.
        assert_eq!(
            lits(r#"C:\\Windows\\Temp\\x"#),
            Some(vec!["windows".into()])
        );
        assert_eq!(lits(r"https?://evil\.com/a"), Some(vec!["evil.com".into()]));
        // A letter (?i) also matches in a non-ASCII form breaks a run: `(?i)k` matches the
        // Kelvin sign, `(?i)s` the long s.
        assert_eq!(lits(r"(?i)kkkabcd"), Some(vec!["abcd".into()]));
        assert_eq!(lits(r"(?i)netsh"), Some(vec!["net".into()]));
        assert!(regex::Regex::new(r"(?i)netsh").unwrap().is_match("NETſH"));
        assert_eq!(lits(r"[nN][eE][tT]"), Some(vec!["net".into()]));
        assert_eq!(lits(r"(?i)(abc)+defg"), Some(vec!["defg".into()]));
        assert_eq!(lits(r"(?i)(abcde)+def"), Some(vec!["abcde".into()]));
    }

    #[test]
    fn every_match_holds_a_literal() {
        // Each literal found is in every match of the regex (ASCII case ignored).
        let cases = [
            (r"(?i)ipconfig\s+/all", "C:\\> IPCONFIG   /ALL"),
            (r"(?i)(Invoke|IEX)-Mimi", "iex-MIMIKATZ"),
            (r"route\s+print|arp\s+-a", "x arp -a"),
            (r"(?i)net\s+config", "NET  CONFIG"),
        ];
        for (p, text) in cases {
            let re = regex::Regex::new(p).unwrap();
            let m = re.find(text).unwrap().as_str().to_ascii_lowercase();
            let set = lits(p).unwrap();
            assert!(
                set.iter().any(|l| m.contains(l.as_str())),
                "{p}: {set:?} in {m}"
            );
        }
    }
}
