//! `*` globs: `*` matches any run of characters (none too), every other character only
//! itself, case and all, and a pattern must match the whole text. No `?`, classes or escapes.
//!
//! One matcher for every place modelward takes such a pattern: ES|QL index patterns
//! (`FROM logs-azure_openai.logs-*`) and `KEEP`/`DROP` column patterns, Sigma's
//! `1 of selection_*`, exceptions' principals, user agents and rule selectors, and the
//! responder's principal and model lists. Callers that ignore case lower-case both sides.
//!
//! ```
//! use modelward_event::glob::glob_match;
//! assert!(glob_match("logs-azure_openai.logs-*", "logs-azure_openai.logs-default"));
//! assert!(glob_match("arn:aws:sts::*:assumed-role/deploy/*", "arn:aws:sts::1:assumed-role/deploy/i-0"));
//! assert!(!glob_match("selection_*", "filter"));
//! ```

/// Whether `pattern` matches the whole of `text`.
///
/// The text between the first and the last `*` is matched piece by piece, each at its
/// leftmost place: linear in the text's length, no allocation.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let Some((first, rest)) = pattern.split_once('*') else {
        return pattern == text;
    };
    let (middle, last) = rest.rsplit_once('*').unwrap_or(("", rest));
    if text.len() < first.len() + last.len() || !text.starts_with(first) || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for piece in middle.split('*').filter(|p| !p.is_empty()) {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for (pattern, text, expected) in [
            ("", "", true),
            ("", "a", false),
            ("abc", "abc", true),
            ("abc", "ab", false),
            ("ab", "abc", false),
            ("abc", "ABC", false),
            ("*", "", true),
            ("*", "abc", true),
            ("**", "", true),
            ("a*", "a", true),
            ("a*", "ba", false),
            ("*c", "ccc", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbbcd", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXc", false),
            ("a*b*c", "aXcYb", false),
            ("ab*ba", "aba", false),
            ("ab*ba", "abba", true),
            ("a**b", "ab", true),
            ("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaa", false),
            ("*a*a*a*b", "aaab", true),
            (
                "logs-azure_openai.logs-*",
                "logs-azure_openai.logs-default",
                true,
            ),
            (
                "logs-*-default",
                "logs-aws_bedrock.invocation-default",
                true,
            ),
            ("logs-*-default", "metrics-x-default", false),
            ("azure.*", "azure.open_ai.category", true),
            ("selection_*", "selection_1", true),
            ("selection_*", "filter", false),
            ("python-requests/*", "python-requests/2.31", true),
            ("é*ü", "éaü", true),
            ("*ü", "ü", true),
            ("é*é", "é", false),
        ] {
            assert_eq!(glob_match(pattern, text), expected, "{pattern} ~ {text}");
        }
    }
}
