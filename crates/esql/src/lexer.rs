//! ES|QL tokens. Keywords are identifiers compared case-insensitively by the parser.

use crate::error::{EsqlError, Span};

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    /// A backtick-quoted identifier (``` `a b` ```; a doubled backtick is one backtick).
    Quoted(String),
    Str(String),
    Int(u64),
    Dec(f64),
    /// A query parameter: `?`, `?1`, `?name`.
    Param(String),
    Op(&'static str),
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

const OPS: [&str; 22] = [
    "==", "!=", "<=", ">=", "::", "=~", "<", ">", "=", "+", "-", "*", "/", "%", "(", ")", "[", "]",
    ",", "|", ".", ":",
];

pub struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Lexer<'a> {
        Lexer { src, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn set_pos(&mut self, pos: usize) {
        self.pos = pos;
    }

    fn err(&self, at: usize, msg: impl Into<String>) -> EsqlError {
        EsqlError::at(self.src, at, msg)
    }

    /// Skips white space and `//` and `/* */` comments.
    pub fn skip_trivia(&mut self) -> Result<(), EsqlError> {
        let bytes = self.src.as_bytes();
        loop {
            while self.pos < bytes.len() && bytes[self.pos].is_ascii_whitespace() {
                self.pos += 1;
            }
            let rest = &self.src[self.pos..];
            if rest.starts_with("//") {
                self.pos += rest.find('\n').unwrap_or(rest.len());
            } else if let Some(body) = rest.strip_prefix("/*") {
                match body.find("*/") {
                    Some(i) => self.pos += i + 4,
                    None => return Err(self.err(self.pos, "unterminated comment")),
                }
            } else {
                return Ok(());
            }
        }
    }

    pub fn next_token(&mut self) -> Result<Token, EsqlError> {
        self.skip_trivia()?;
        let start = self.pos;
        let rest = &self.src[self.pos..];
        let Some(c) = rest.chars().next() else {
            // The end of the query is reported just after its last character.
            let end = self.src.trim_end().len().min(start);
            return Ok(Token {
                tok: Tok::Eof,
                span: Span::new(end, end),
            });
        };
        let tok = if c.is_ascii_alphabetic() || c == '_' || c == '@' {
            let len = rest
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '@'))
                .unwrap_or(rest.len());
            self.pos += len;
            Tok::Ident(rest[..len].to_string())
        } else if c.is_ascii_digit()
            || (c == '.' && rest[1..].starts_with(|d: char| d.is_ascii_digit()))
        {
            self.number()?
        } else if c == '"' {
            self.string()?
        } else if c == '`' {
            self.quoted_ident()?
        } else if c == '?' {
            let len = rest[1..]
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                .unwrap_or(rest.len() - 1);
            self.pos += 1 + len;
            Tok::Param(rest[1..1 + len].to_string())
        } else if let Some(op) = OPS.iter().find(|op| rest.starts_with(**op)) {
            self.pos += op.len();
            Tok::Op(op)
        } else {
            return Err(self.err(start, format!("unexpected character '{c}'")));
        };
        Ok(Token {
            tok,
            span: Span::new(start, self.pos),
        })
    }

    fn number(&mut self) -> Result<Tok, EsqlError> {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let mut end = start;
        let mut decimal = false;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
        if end < bytes.len()
            && bytes[end] == b'.'
            && bytes.get(end + 1).is_some_and(u8::is_ascii_digit)
        {
            decimal = true;
            end += 1;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
        } else if end < bytes.len()
            && bytes[end] == b'.'
            && (is_exponent(bytes, end + 1)
                || !bytes
                    .get(end + 1)
                    .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_'))
        {
            decimal = true;
            end += 1;
        }
        if end < bytes.len() && (bytes[end] == b'e' || bytes[end] == b'E') {
            let mut exp = end + 1;
            if exp < bytes.len() && (bytes[exp] == b'+' || bytes[exp] == b'-') {
                exp += 1;
            }
            if exp < bytes.len() && bytes[exp].is_ascii_digit() {
                decimal = true;
                end = exp;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
            }
        }
        let text = &self.src[start..end];
        self.pos = end;
        if decimal {
            text.parse()
                .map(Tok::Dec)
                .map_err(|_| self.err(start, format!("invalid number [{text}]")))
        } else {
            match text.parse::<u64>() {
                Ok(n) => Ok(Tok::Int(n)),
                Err(_) => text
                    .parse()
                    .map(Tok::Dec)
                    .map_err(|_| self.err(start, format!("invalid number [{text}]"))),
            }
        }
    }

    fn string(&mut self) -> Result<Tok, EsqlError> {
        let start = self.pos;
        if self.src[start..].starts_with("\"\"\"") {
            let body = start + 3;
            return match self.src[body..].find("\"\"\"") {
                Some(i) => {
                    if let Some(nl) = self.src[body..body + i].find(['\n', '\r']) {
                        return Err(self.err(body + nl, "line break inside a triple-quoted string"));
                    }
                    // A run of more than three quotes closes at its last three.
                    let mut end = body + i;
                    while self.src[end + 3..].starts_with('"') {
                        end += 1;
                    }
                    self.pos = end + 3;
                    Ok(Tok::Str(self.src[body..end].to_string()))
                }
                None => Err(self.err(start, "unterminated triple-quoted string")),
            };
        }
        let mut out = String::new();
        let mut chars = self.src[start + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos = start + 1 + i + 1;
                    return Ok(Tok::Str(out));
                }
                '\\' => match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, 'r')) => out.push('\r'),
                    Some((_, '"')) => out.push('"'),
                    Some((_, '\\')) => out.push('\\'),
                    Some((j, other)) => {
                        return Err(self.err(
                            start + j,
                            format!(
                                "invalid escape sequence '\\{other}' (use \\\\ for a backslash)"
                            ),
                        ))
                    }
                    None => break,
                },
                '\n' | '\r' => {
                    return Err(
                        self.err(start + 1 + i, "line break inside a string; write it as \\n")
                    )
                }
                c => out.push(c),
            }
        }
        Err(self.err(start, "unterminated string"))
    }

    fn quoted_ident(&mut self) -> Result<Tok, EsqlError> {
        let start = self.pos;
        let mut out = String::new();
        let bytes = self.src.as_bytes();
        let mut i = start + 1;
        while i < bytes.len() {
            if bytes[i] == b'`' {
                if bytes.get(i + 1) == Some(&b'`') {
                    out.push('`');
                    i += 2;
                    continue;
                }
                self.pos = i + 1;
                return Ok(Tok::Quoted(out));
            }
            let ch_len = self.src[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&self.src[i..i + ch_len]);
            i += ch_len;
        }
        Err(self.err(start, "unterminated quoted identifier"))
    }

    /// In FROM: an index pattern, unquoted (`logs-azure_openai.logs-*`) or quoted.
    pub fn index_pattern(&mut self) -> Result<Option<Token>, EsqlError> {
        self.skip_trivia()?;
        let start = self.pos;
        let rest = &self.src[start..];
        if rest.starts_with('"') {
            return self.string().map(|tok| {
                Some(Token {
                    tok,
                    span: Span::new(start, self.pos),
                })
            });
        }
        let mut len = rest
            .find(|c: char| {
                c.is_whitespace() || matches!(c, ',' | '|' | '"' | '(' | ')' | '[' | ']' | '`')
            })
            .unwrap_or(rest.len());
        // A comment may follow a pattern directly: `FROM logs-*// note`.
        for opener in ["//", "/*"] {
            if let Some(i) = rest[..len].find(opener) {
                len = i;
            }
        }
        if len == 0 {
            return Ok(None);
        }
        self.pos += len;
        Ok(Some(Token {
            tok: Tok::Ident(rest[..len].to_string()),
            span: Span::new(start, self.pos),
        }))
    }
}

/// Whether an exponent (`e5`, `E-3`) starts at `i`.
fn is_exponent(bytes: &[u8], i: usize) -> bool {
    let digit_at = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_digit);
    matches!(bytes.get(i), Some(b'e' | b'E'))
        && (digit_at(i + 1) || (matches!(bytes.get(i + 1), Some(b'+' | b'-')) && digit_at(i + 2)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        let mut lx = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let t = lx.next_token().unwrap();
            if t.tok == Tok::Eof {
                return out;
            }
            out.push(t.tok);
        }
    }

    #[test]
    fn basic_tokens() {
        assert_eq!(
            toks("a.b >= 1.5 // c\n and `x y` == \"q\\\"\""),
            vec![
                Tok::Ident("a".into()),
                Tok::Op("."),
                Tok::Ident("b".into()),
                Tok::Op(">="),
                Tok::Dec(1.5),
                Tok::Ident("and".into()),
                Tok::Quoted("x y".into()),
                Tok::Op("=="),
                Tok::Str("q\"".into()),
            ]
        );
        assert_eq!(
            toks(r#""""a "b" c""""#),
            vec![Tok::Str(r#"a "b" c"#.into())]
        );
        assert_eq!(
            toks("1e3 7 ::"),
            vec![Tok::Dec(1000.0), Tok::Int(7), Tok::Op("::")]
        );
        assert_eq!(
            toks("/* x */ @timestamp"),
            vec![Tok::Ident("@timestamp".into())]
        );
    }

    #[test]
    fn decimals_with_a_bare_dot_and_an_exponent() {
        assert_eq!(
            toks("1.e5 2.E-1 3."),
            vec![Tok::Dec(100000.0), Tok::Dec(0.2), Tok::Dec(3.0)]
        );
        assert_eq!(
            toks("1.ee"),
            vec![Tok::Int(1), Tok::Op("."), Tok::Ident("ee".into())]
        );
    }

    #[test]
    fn errors_have_positions() {
        let e = Lexer::new("a == \"abc")
            .next_token()
            .and_then(|_| Lexer::new("a == \"abc").next_token());
        assert!(e.is_ok());
        let mut lx = Lexer::new("x == \"abc");
        lx.next_token().unwrap();
        lx.next_token().unwrap();
        let e = lx.next_token().unwrap_err();
        assert_eq!(e.column, 6);
    }
}
