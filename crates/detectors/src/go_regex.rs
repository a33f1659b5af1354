//! Go RE2 regular expressions (as gitleaks writes them) rewritten for the `regex` crate
//! with the same meaning.

/// Go RE2 syntax as the `regex` crate reads it with the same meaning: ASCII `\d \w \s \b`
/// (Go's are ASCII, Rust's Unicode), `\Q...\E` quoting, octal escapes, `\<` and `\>` as
/// the literal characters (word boundaries in Rust), `[` `&` `~` and `--` literal inside
/// classes (nesting and set operations in Rust), and `{` that does not start a repetition
/// literal.
pub fn go_regex_to_rust(pattern: &str) -> String {
    let c: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut i = 0;
    let mut in_class = false;
    // Just after `[` or `[^`: a `]` there is literal.
    let mut class_start = false;
    // The previous class item was a range operand that cannot start a range (a Perl class).
    let mut after_set = false;
    while i < c.len() {
        let ch = c[i];
        if ch == '\\' && i + 1 < c.len() {
            let e = c[i + 1];
            i += 2;
            class_start = false;
            after_set = false;
            match e {
                'Q' => {
                    let rest: String = c[i..].iter().collect();
                    let (lit, len) = match rest.find("\\E") {
                        Some(end) => (rest[..end].to_string(), rest[..end].chars().count() + 2),
                        None => (rest.clone(), rest.chars().count()),
                    };
                    out.push_str(&regex::escape(&lit));
                    i += len;
                }
                'd' | 'D' | 'w' | 'W' | 's' | 'S' => {
                    let set = match e.to_ascii_lowercase() {
                        'd' => "0-9",
                        'w' => "0-9A-Za-z_",
                        _ => r"\t\n\x0C\r\x20",
                    };
                    let neg = if e.is_ascii_uppercase() { "^" } else { "" };
                    out.push_str(&format!("[{neg}{set}]"));
                    after_set = in_class;
                }
                'b' if !in_class => out.push_str(r"(?-u:\b)"),
                '<' | '>' => out.push(e),
                '0'..='7' => {
                    // Go: `\0`, `\0NN`, `\NN`, `\NNN` are octal; `\1`..`\7` alone is an
                    // (unsupported) backreference, left for the regex crate to reject.
                    let mut digits = String::from(e);
                    while digits.len() < 3 && i < c.len() && ('0'..='7').contains(&c[i]) {
                        digits.push(c[i]);
                        i += 1;
                    }
                    match u32::from_str_radix(&digits, 8) {
                        Ok(v) if e == '0' || digits.len() > 1 => {
                            out.push_str(&format!("\\x{{{v:X}}}"));
                        }
                        _ => {
                            out.push('\\');
                            out.push_str(&digits);
                        }
                    }
                }
                'p' | 'P' => {
                    out.push('\\');
                    out.push(e);
                    if i < c.len() && c[i] == '{' {
                        while i < c.len() {
                            out.push(c[i]);
                            i += 1;
                            if c[i - 1] == '}' {
                                break;
                            }
                        }
                    } else if i < c.len() {
                        out.push(c[i]);
                        i += 1;
                    }
                    after_set = in_class;
                }
                _ => {
                    out.push('\\');
                    out.push(e);
                }
            }
            continue;
        }
        if in_class {
            let literal_dash =
                ch == '-' && (after_set || (i > 0 && c[i - 1] == '-' && !class_start));
            match ch {
                ']' if class_start => out.push_str(r"\]"),
                ']' => {
                    in_class = false;
                    out.push(']');
                }
                '[' if c.get(i + 1) == Some(&':') => {
                    // A POSIX class `[:alpha:]`, the same in both.
                    let rest: String = c[i..].iter().collect();
                    match rest.find(":]") {
                        Some(end) if end >= 2 => {
                            out.push_str(&rest[..end + 2]);
                            i += rest[..end + 2].chars().count();
                            class_start = false;
                            after_set = true;
                            continue;
                        }
                        _ => out.push_str(r"\["),
                    }
                }
                '[' => out.push_str(r"\["),
                '&' => out.push_str(r"\&"),
                '~' => out.push_str(r"\~"),
                '-' if literal_dash => out.push_str(r"\-"),
                _ => out.push(ch),
            }
            class_start = false;
            after_set = false;
            i += 1;
            continue;
        }
        match ch {
            '[' => {
                in_class = true;
                class_start = true;
                out.push('[');
                if c.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
            }
            '{' => {
                // A repetition `{n}`, `{n,}`, `{n,m}`; anything else is literal in Go.
                let mut j = i + 1;
                let digits = |j: &mut usize| {
                    let s = *j;
                    while *j < c.len() && c[*j].is_ascii_digit() {
                        *j += 1;
                    }
                    *j > s
                };
                let mut ok = digits(&mut j);
                if ok && j < c.len() && c[j] == ',' {
                    j += 1;
                    digits(&mut j);
                }
                ok = ok && j < c.len() && c[j] == '}';
                if ok {
                    out.extend(&c[i..=j]);
                    i = j + 1;
                    continue;
                }
                out.push_str(r"\{");
            }
            '}' => out.push_str(r"\}"),
            _ => out.push(ch),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    #[test]
    fn go_syntax_is_translated() {
        let re = |p: &str| Regex::new(&go_regex_to_rust(p)).unwrap();
        // ASCII Perl classes and boundaries, as in Go.
        assert!(!re(r"^\d+$").is_match("\u{0663}"));
        assert!(!re(r"^\w+$").is_match("é"));
        assert!(re(r"^[\w-]+$").is_match("a-b_c"));
        assert!(re(r"^[\w-.]+$").is_match("a-b.c"));
        assert!(re(r"^[^\D]$").is_match("7"));
        // Literal `[`, `&&`, `~~`, `--` in classes; `\<` `\>` are characters.
        assert!(re(r"^[[a]+$").is_match("[a["));
        assert!(re(r"^[a&&b]+$").is_match("a&b"));
        assert!(re(r"^[~~x]+$").is_match("~x"));
        assert!(re(r"^[+--]+$").is_match("+,-"));
        assert!(re(r"^[]a]+$").is_match("]a"));
        assert!(re(r"^\<x\>$").is_match("<x>"));
        // \Q...\E, octal, literal braces, POSIX classes, \z, (?i).
        assert!(re(r"^\Qa.b*c\E$").is_match("a.b*c"));
        assert!(!re(r"^\Qa.b\E$").is_match("axb"));
        assert!(re(r"^\101\0$").is_match("A\0"));
        assert!(re(r"^x{,3}$").is_match("x{,3}"));
        assert!(re(r"^a{2}{$").is_match("aa{"));
        assert!(re(r"^[[:alpha:]-]+\z").is_match("ab-c"));
        assert!(re(r"(?i)^key\s*=\s*\S+$").is_match("KEY = v"));
        assert!(re(r"\bkey\b").is_match("a key."));
        assert!(re(r"^\p{Greek}+\pL$").is_match("αβγ"));
    }
}
