//! Python literals as JSON: the `repr` of a dict that Python SDKs put into error messages
//! (`Error code: 400 - {'error': {'code': 'content_filter', 'innererror': {...}}}`, as the
//! OpenAI SDK raises it and LiteLLM logs it in `error_str`). Strings in single or double
//! quotes with Python's escapes, `True`/`False`/`None` (and JSON's `true`/`false`/`null`),
//! integers and floats, dicts, lists and tuples. Bounded: at most 64 levels deep; anything
//! else is None.

use serde_json::{Map, Number, Value};

const MAX_DEPTH: usize = 64;

/// The first Python literal dict in `text` at or after the first `{` (text after it is
/// ignored), as JSON.
pub fn first_dict(text: &str) -> Option<Value> {
    let start = text.find('{')?;
    let mut p = Parser {
        s: &text.as_bytes()[start..],
        text: &text[start..],
        i: 0,
    };
    p.value(0).filter(Value::is_object)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        match *self.s.get(self.i)? {
            b'{' => {
                self.i += 1;
                let mut map = Map::new();
                loop {
                    if self.eat(b'}') {
                        return Some(Value::Object(map));
                    }
                    let key = match self.value(depth + 1)? {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        _ => return None,
                    };
                    if !self.eat(b':') {
                        return None;
                    }
                    let v = self.value(depth + 1)?;
                    map.insert(key, v);
                    if !self.eat(b',') {
                        return self.eat(b'}').then_some(Value::Object(map));
                    }
                }
            }
            open @ (b'[' | b'(') => {
                let close = if open == b'[' { b']' } else { b')' };
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    if self.eat(close) {
                        return Some(Value::Array(items));
                    }
                    items.push(self.value(depth + 1)?);
                    if !self.eat(b',') {
                        return self.eat(close).then_some(Value::Array(items));
                    }
                }
            }
            q @ (b'\'' | b'"') => self.string(q).map(Value::String),
            _ => self.word(),
        }
    }

    fn string(&mut self, quote: u8) -> Option<String> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let rest = self.text.get(self.i..)?;
            let c = rest.chars().next()?;
            self.i += c.len_utf8();
            match c {
                c if c as u32 == u32::from(quote) => return Some(out),
                '\\' => {
                    let e = self.text.get(self.i..)?.chars().next()?;
                    self.i += e.len_utf8();
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '0' => out.push('\0'),
                        'x' => out.push(self.hex(2)?),
                        'u' => out.push(self.hex(4)?),
                        'U' => out.push(self.hex(8)?),
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
    }

    fn hex(&mut self, n: usize) -> Option<char> {
        let digits = self.text.get(self.i..self.i + n)?;
        self.i += n;
        char::from_u32(u32::from_str_radix(digits, 16).ok()?)
    }

    fn word(&mut self) -> Option<Value> {
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'_'))
        {
            self.i += 1;
        }
        let word = self.text.get(start..self.i)?;
        match word {
            "True" | "true" => Some(Value::Bool(true)),
            "False" | "false" => Some(Value::Bool(false)),
            "None" | "null" => Some(Value::Null),
            w => {
                let w = w.replace('_', "");
                if let Ok(i) = w.parse::<i64>() {
                    Some(Value::from(i))
                } else {
                    w.parse::<f64>()
                        .ok()
                        .and_then(Number::from_f64)
                        .map(Value::Number)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_repr_of_an_sdk_error() {
        let text = r#"AzureException - Error code: 400 - {'error': {'message': "The prompt triggered Azure OpenAI's content management policy.", 'type': None, 'param': 'prompt', 'code': 'content_filter', 'status': 400, 'innererror': {'code': 'ResponsibleAIPolicyViolation', 'content_filter_result': {'jailbreak': {'filtered': True, 'detected': True}, 'hate': {'filtered': False, 'severity': 'safe'}}}}}
model=azure/gpt-4o. fallbacks=None."#;
        let v = first_dict(text).unwrap();
        assert_eq!(v["error"]["code"], json!("content_filter"));
        assert_eq!(v["error"]["type"], Value::Null);
        assert_eq!(
            v["error"]["innererror"]["content_filter_result"]["jailbreak"],
            json!({"filtered": true, "detected": true})
        );
        assert!(v["error"]["message"].as_str().unwrap().contains("OpenAI's"));
    }

    #[test]
    fn bad_input_gives_none() {
        assert_eq!(first_dict("no dict"), None);
        assert_eq!(first_dict("{'a': "), None);
        assert_eq!(first_dict("{'a': 'unterminated}"), None);
        let deep = "{'a': ".repeat(100);
        assert_eq!(first_dict(&deep), None);
        assert_eq!(
            first_dict(r"{'t': (1, 2.5, -3), 's': 'it\'s \x41\u00e9'}"),
            Some(json!({"t": [1, 2.5, -3], "s": "it's Aé"}))
        );
    }
}
