//! Text bound for a CSV cell (RFC 4180) that a spreadsheet may open: [`field`] is the one
//! writer of a cell every CSV output goes through (IoC tables, alert tables).
//!
//! **Formula injection**: a spreadsheet runs a cell starting with `=`, `+`, `-` or `@` (and,
//! in some, a tab or CR) as a formula, and values come from attacker-controlled logs (a user
//! agent of `=HYPERLINK(...)`). Such a field gets a leading `'`, which spreadsheets read as
//! "text" and hide; anyone parsing the CSV as data sees the `'` and must strip it. An IPv6
//! address never starts with one of those characters, so no real indicator is altered other
//! than values that began with them.
//!
//! A field holding a comma, a double quote, CR or LF is quoted, its quotes doubled.

use std::borrow::Cow;

/// One field, guarded against formula injection and quoted when it has to be.
pub fn field(text: &str) -> Cow<'_, str> {
    let guarded: Cow<'_, str> = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    };
    if guarded.contains([',', '"', '\r', '\n']) {
        Cow::Owned(format!("\"{}\"", guarded.replace('"', "\"\"")))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_quotes_and_newlines_are_quoted() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(
            field("Mozilla/5.0 (X11, Linux)"),
            "\"Mozilla/5.0 (X11, Linux)\""
        );
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("cr\rhere"), "\"cr\rhere\"");
    }

    #[test]
    fn formula_injection_is_defused() {
        assert_eq!(
            field("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        assert_eq!(field("+1"), "'+1");
        assert_eq!(field("-2+3"), "'-2+3");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(field("\tx"), "'\tx");
        assert_eq!(field("a=b"), "a=b");
        assert_eq!(field("2001:db8::1"), "2001:db8::1");
    }
}
