//! Values a strict JSON parser refuses but a record should not be lost for: an attacker
//! who can put one such character in a prompt must not be able to hide every record it is
//! in. Python-based gateways write lone surrogates (`"\ud800"`, what `json.dumps` makes of
//! a string decoded with `surrogateescape`); other writers pass invalid UTF-8 through, or
//! raw control characters inside strings; a number such as `1e400` is out of every
//! float's range. [`repair`] rewrites exactly those values so that the record parses:
//!
//! - a lone surrogate escape becomes `\ufffd` (U+FFFD, the replacement character);
//! - an invalid UTF-8 sequence becomes U+FFFD, as `String::from_utf8_lossy` does;
//! - a raw control character inside a string becomes its `\u00XX` escape (no loss);
//! - a number whose value is out of range of an `f64` becomes a string of its text.
//!
//! Anything else wrong stays wrong (the record is still malformed), and the caller counts
//! what was kept lossily.

use std::fmt;

/// What [`repair`] changed in a record: how many values of each kind, and where the first
/// one is (1-based line and column of the original record).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Repairs {
    pub lone_surrogates: u32,
    pub invalid_utf8: u32,
    pub control_characters: u32,
    pub out_of_range_numbers: u32,
    pub line: u64,
    pub column: u64,
}

impl Repairs {
    fn total(&self) -> u32 {
        self.lone_surrogates
            + self.invalid_utf8
            + self.control_characters
            + self.out_of_range_numbers
    }

    fn note(&mut self, at: usize, bytes: &[u8]) {
        if self.total() == 0 {
            let before = &bytes[..at.min(bytes.len())];
            self.line = memchr::memchr_iter(b'\n', before).count() as u64 + 1;
            let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
            self.column = String::from_utf8_lossy(&before[line_start..])
                .chars()
                .count() as u64
                + 1;
        }
    }
}

impl fmt::Display for Repairs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds = [
            (
                self.lone_surrogates,
                "lone surrogate escape(s) kept as U+FFFD",
            ),
            (
                self.invalid_utf8,
                "invalid UTF-8 sequence(s) kept as U+FFFD",
            ),
            (
                self.control_characters,
                "raw control character(s) in strings escaped",
            ),
            (
                self.out_of_range_numbers,
                "number(s) out of range kept as strings of their text",
            ),
        ];
        let parts: Vec<String> = kinds
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
        write!(f, "{}", parts.join(", "))
    }
}

/// `bytes` with the values described in the module documentation rewritten, and what was
/// rewritten; `None` when there was nothing of the kind to rewrite.
pub fn repair(bytes: &[u8]) -> Option<(Vec<u8>, Repairs)> {
    let mut out = Vec::with_capacity(bytes.len() + 16);
    let mut fixed = Repairs::default();
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if !in_string {
            match b {
                b'"' => {
                    in_string = true;
                    out.push(b);
                    i += 1;
                }
                b'-' | b'0'..=b'9' => {
                    let len = bytes[i..]
                        .iter()
                        .position(|c| !matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                        .unwrap_or(bytes.len() - i);
                    let token = &bytes[i..i + len];
                    let infinite = std::str::from_utf8(token)
                        .ok()
                        .and_then(|t| t.parse::<f64>().ok())
                        .is_some_and(|v| v.is_infinite());
                    if infinite {
                        fixed.note(i, bytes);
                        fixed.out_of_range_numbers += 1;
                        out.push(b'"');
                        out.extend_from_slice(token);
                        out.push(b'"');
                    } else {
                        out.extend_from_slice(token);
                    }
                    i += len;
                }
                _ => {
                    out.push(b);
                    i += 1;
                }
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = false;
                out.push(b);
                i += 1;
            }
            b'\\' => match bytes.get(i + 1) {
                Some(b'u') => {
                    let unit = hex4(bytes, i + 2);
                    match unit {
                        Some(0xD800..=0xDBFF) => {
                            let low = (bytes.get(i + 6) == Some(&b'\\')
                                && bytes.get(i + 7) == Some(&b'u'))
                            .then(|| hex4(bytes, i + 8))
                            .flatten();
                            if matches!(low, Some(0xDC00..=0xDFFF)) {
                                out.extend_from_slice(&bytes[i..i + 12]);
                                i += 12;
                            } else {
                                fixed.note(i, bytes);
                                fixed.lone_surrogates += 1;
                                out.extend_from_slice(b"\\ufffd");
                                i += 6;
                            }
                        }
                        Some(0xDC00..=0xDFFF) => {
                            fixed.note(i, bytes);
                            fixed.lone_surrogates += 1;
                            out.extend_from_slice(b"\\ufffd");
                            i += 6;
                        }
                        _ => {
                            out.extend_from_slice(&bytes[i..(i + 2).min(bytes.len())]);
                            i += 2;
                        }
                    }
                }
                Some(_) => {
                    out.extend_from_slice(&bytes[i..i + 2]);
                    i += 2;
                }
                None => {
                    out.push(b);
                    i += 1;
                }
            },
            0x00..=0x1f => {
                fixed.note(i, bytes);
                fixed.control_characters += 1;
                out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
                i += 1;
            }
            0x20..=0x7f => {
                out.push(b);
                i += 1;
            }
            _ => {
                // A UTF-8 sequence, valid or not.
                let end = (i + 4).min(bytes.len());
                match std::str::from_utf8(&bytes[i..end]) {
                    Ok(s) => {
                        let n = s.chars().next().map_or(1, char::len_utf8);
                        out.extend_from_slice(&bytes[i..i + n]);
                        i += n;
                    }
                    Err(e) if e.valid_up_to() > 0 => {
                        out.extend_from_slice(&bytes[i..i + e.valid_up_to()]);
                        i += e.valid_up_to();
                    }
                    Err(e) => {
                        fixed.note(i, bytes);
                        fixed.invalid_utf8 += 1;
                        out.extend_from_slice("\u{fffd}".as_bytes());
                        i += e.error_len().unwrap_or(end - i);
                    }
                }
            }
        }
    }
    (fixed.total() > 0).then_some((out, fixed))
}

/// The 16-bit value of the four hex digits at `at`.
fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    let digits = std::str::from_utf8(bytes.get(at..at + 4)?).ok()?;
    u32::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(text: &[u8]) -> (String, String) {
        let (bytes, repairs) = repair(text).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        (value.to_string(), repairs.to_string())
    }

    #[test]
    fn what_strict_json_refuses_is_kept_lossily() {
        assert_eq!(
            fixed(br#"{"p":"a\ud800b","q":"\udc00","ok":"\ud83d\ude00"}"#),
            (
                r#"{"ok":"😀","p":"a�b","q":"�"}"#.to_string(),
                "2 lone surrogate escape(s) kept as U+FFFD".to_string()
            )
        );
        assert_eq!(
            fixed(b"{\"p\":\"a\xffb\xc3\",\"ok\":\"\xc3\xa9\"}"),
            (
                r#"{"ok":"é","p":"a�b�"}"#.to_string(),
                "2 invalid UTF-8 sequence(s) kept as U+FFFD".to_string()
            )
        );
        assert_eq!(
            fixed(br#"{"n":1e400,"m":[-2E+999],"k":1.5e3}"#),
            (
                r#"{"k":1500.0,"m":["-2E+999"],"n":"1e400"}"#.to_string(),
                "2 number(s) out of range kept as strings of their text".to_string()
            )
        );
        assert_eq!(fixed(b"{\"p\":\"a\tb\"}").0, r#"{"p":"a\tb"}"#.to_string());
        // Escaped backslashes are not escapes.
        assert!(repair(br#"{"p":"\\ud800"}"#).is_none());
        assert!(repair(br#"{"a":1}"#).is_none());
    }

    #[test]
    fn the_first_repair_is_located() {
        let (_, r) = repair(b"{\"a\": 1,\n \"p\": \"x\\udfff\"}").unwrap();
        assert_eq!((r.line, r.column), (2, 9));
    }
}
