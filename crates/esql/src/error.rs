//! Errors with a position in the query and a caret under the spot.

use std::fmt;

/// A byte range in the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// An error in a query: at parse time (syntax) or at plan time (unknown function, bad
/// argument). `line` and `column` are 1-based, columns count characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct EsqlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The query line the error is on, with a caret under the column.
    pub snippet: String,
}

impl EsqlError {
    pub fn at(query: &str, offset: usize, message: impl Into<String>) -> EsqlError {
        let offset = offset.min(query.len());
        let before = &query[..floor_char_boundary(query, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        let line_end = query[line_start..]
            .find('\n')
            .map_or(query.len(), |i| line_start + i);
        let text = query[line_start..line_end].trim_end_matches('\r');
        // A long line (a hostile query may be one line of megabytes) shows a window around
        // the spot.
        let chars: Vec<char> = text.chars().collect();
        let from = (column - 1).saturating_sub(SNIPPET_CONTEXT);
        let to = (column - 1 + SNIPPET_CONTEXT).min(chars.len());
        let mut shown: String = chars[from..to.max(from)].iter().collect();
        let mut caret = column - 1 - from;
        if from > 0 {
            shown.insert(0, '…');
            caret += 1;
        }
        if to < chars.len() {
            shown.push('…');
        }
        let snippet = format!("{shown}\n{}^", " ".repeat(caret));
        EsqlError {
            line,
            column,
            message: message.into(),
            snippet,
        }
    }
}

/// Characters shown on either side of an error's column.
const SNIPPET_CONTEXT: usize = 80;

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for EsqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}:{}: {}", self.line, self.column, self.message)?;
        for line in self.snippet.lines() {
            write!(f, "\n    {line}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_shows_a_window_around_the_spot() {
        let query = format!("row a = {}1{}", "(".repeat(5000), ")".repeat(5000));
        let e = EsqlError::at(&query, 3000, "too deep");
        let (text, caret) = e.snippet.split_once('\n').unwrap();
        assert_eq!(text.chars().count(), 2 * SNIPPET_CONTEXT + 2, "{text}");
        assert_eq!(caret.len(), SNIPPET_CONTEXT + 2);
        assert_eq!(e.column, 3001);
    }

    #[test]
    fn caret_under_the_spot() {
        let e = EsqlError::at("from x\n| wher y", 9, "unknown command");
        assert_eq!((e.line, e.column), (2, 3));
        assert_eq!(
            e.to_string(),
            "line 2:3: unknown command\n    | wher y\n      ^"
        );
    }
}
