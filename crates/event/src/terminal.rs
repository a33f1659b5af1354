//! Text bound for a terminal or a line-oriented log: what came from a log or a rule must not
//! drive the terminal (ANSI and OSC escape sequences, carriage returns and backspaces that
//! overwrite what was printed, bidirectional overrides and invisible characters that disguise
//! it). [`printable`] is the one escaper every such output goes through.

use std::borrow::Cow;

/// Whether `c` is escaped by [`printable`]: control characters (C0, DEL, C1), the
/// bidirectional embeddings, overrides and isolates, and the zero-width and word-joiner
/// characters and the byte-order mark.
pub fn hostile(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// `s` with every [`hostile`] character written as a `\u{..}` escape.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(hostile) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hostile(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
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
    }
}
