//! Text bound for a terminal or a line-oriented log: what came from a log or a rule must not
//! drive the terminal (ANSI and OSC escape sequences, carriage returns and backspaces that
//! overwrite what was printed, bidirectional overrides and invisible characters that disguise
//! it). [`printable`] is the one escaper every such output goes through. Nor may a secret a
//! log holds: [`printable`] and [`printable_text`] mask secrets first
//! ([`crate::secret::mask`]), so a diagnostic quoting a value, a table cell or a report line
//! shows a key as `sk-p…Zj`.

use std::borrow::Cow;

/// Whether `c` is escaped by [`printable`]: control characters (C0, DEL, C1), the
/// bidirectional embeddings, overrides and isolates, and the zero-width and word-joiner
/// characters and the byte-order mark.
pub fn hostile(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// `s` with its secrets masked and every [`hostile`] character written as a `\u{..}`
/// escape.
pub fn printable(s: &str) -> Cow<'_, str> {
    masked_then(s, |t| escaped(t, hostile))
}

/// `f` of `s` with its secrets masked ([`crate::secret::mask`]).
fn masked_then<'a>(s: &'a str, f: impl for<'b> Fn(&'b str) -> Cow<'b, str>) -> Cow<'a, str> {
    match crate::secret::mask(s) {
        Cow::Borrowed(t) => f(t),
        Cow::Owned(t) => Cow::Owned(f(&t).into_owned()),
    }
}

/// [`printable`] for text of several lines (a rule's description, a message, a report):
/// line breaks and tabs are kept, every other [`hostile`] character escaped.
pub fn printable_text(s: &str) -> Cow<'_, str> {
    masked_then(s, |t| escaped(t, |c| c != '\n' && c != '\t' && hostile(c)))
}

/// JSON text (a document serde_json wrote) with every [`hostile`] character it left raw
/// (C1 controls, DEL, bidirectional and zero-width characters: JSON only requires escaping
/// C0) written as a `\uXXXX` escape: the same JSON, and safe on a terminal. Outside strings
/// JSON holds only ASCII structure and whitespace, which stay.
pub fn printable_json(s: &str) -> Cow<'_, str> {
    let escape = |c: char| c != '\n' && c != '\t' && c != '\r' && c != ' ' && hostile(c);
    if !s.chars().any(escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if escape(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn escaped(s: &str, escape: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(&escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if escape(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `println!` with its text through [`printable_text`]: for lines that quote logs or rules.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        println!("{}", $crate::terminal::printable_text(&format!($($arg)*)))
    };
}

/// `writeln!(w, ...)` with its text through [`printable_text`]: for text output to a
/// terminal that quotes logs or rules.
#[macro_export]
macro_rules! textln {
    ($w:expr, $($arg:tt)*) => {
        writeln!($w, "{}", $crate::terminal::printable_text(&format!($($arg)*)))
    };
}

/// `eprintln!` with its text through [`printable_text`]: for diagnostics that quote logs or
/// rules.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        eprintln!("{}", $crate::terminal::printable_text(&format!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_could_drive_a_terminal_is_escaped() {
        assert!(matches!(printable("alice"), Cow::Borrowed("alice")));
        assert_eq!(
            printable("a\u{1b}]8;;http://x\u{7}b\rc\u{202e}d\u{9b}e"),
            "a\\u{1b}]8;;http://x\\u{7}b\\u{d}c\\u{202e}d\\u{9b}e"
        );
        assert_eq!(printable("a\nb\tc"), "a\\u{a}b\\u{9}c");
        let json =
            serde_json::to_string_pretty(&serde_json::json!({"k": "a\u{202e}b\u{9b}\u{1b}\n"}))
                .unwrap();
        let safe = printable_json(&json);
        assert_eq!(safe, "{\n  \"k\": \"a\\u202eb\\u009b\\u001b\\n\"\n}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["k"], "a\u{202e}b\u{9b}\u{1b}\n");
        assert_eq!(
            printable_text("a\nb\tc\u{1b}[2J\r"),
            "a\nb\tc\\u{1b}[2J\\u{d}"
        );
    }
}
