//! Secrets masked: the one path every output of modelward goes through before it leaves the
//! process (alerts in every format and sink, diagnostics on stderr, incidents, reports, IoCs,
//! STIX, `--redact` bundles, the gateway's logs).
//!
//! [`mask`] finds what is secret in any text and hides it:
//!
//! - a PEM private key: its whole body, from the `BEGIN … PRIVATE KEY` line to the `END`
//!   line (or, cut short, to the end of its base64), with real or `\n`-escaped line breaks;
//! - the value of a named secret: `AccountKey=`, `SharedAccessKey=`, `password=`, `pwd=`,
//!   `api-key:`, `x-api-key:`, `client_secret`, `aws_secret_access_key`, `access_token`,
//!   `token`, `Bearer …`, `Basic …`, in `key=value`, `key: value` and JSON (`"key": "value"`)
//!   forms, any case;
//! - the password of a URL (`postgres://user:PASSWORD@host/`), which becomes `…`;
//! - a token that looks like a secret ([`looks_like_secret`]): a provider prefix (`sk-`,
//!   `ghp_`, `github_pat_`, `xoxb-`, `AKIA`, …), a JWT, a run of random base64 of 40 characters
//!   or more, a random run of 24 letters and digits or more.
//!
//! A masked value keeps at most its first 6 and last 3 characters, a key-shaped one 4 and 2
//! (see [`mask_key`]): enough to tell two apart and find the key in a key store, not enough
//! to use. Documented with examples in docs/outputs.md (Secrets).
//!
//! ```
//! use modelward_event::secret::mask;
//!
//! let ua = "python-httpx/0.27 token=sk-proj-Q3xv9LmT7rNcA2bKd8YhW4pE";
//! assert_eq!(mask(ua), "python-httpx/0.27 token=sk-p\u{2026}pE");
//! let conn = "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=q7Hk2Lm9Pz4Rt8Vw1Xy3Bc6Df0Gh5Jk2Lm7Np4Qr9St1Uv8W==;EndpointSuffix=core.windows.net";
//! assert_eq!(
//!     mask(conn),
//!     "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=q7Hk\u{2026}==;EndpointSuffix=core.windows.net"
//! );
//! ```

use std::borrow::Cow;

const ELLIPSIS: char = '\u{2026}';

/// `text` with every secret in it masked; borrowed when it holds none.
pub fn mask(text: &str) -> Cow<'_, str> {
    masked(text, false)
}

/// [`mask`], and API key ids too (`key_vTm2A9Gei4Oi`, `apikey-7f3a91c2`): an identifier,
/// not a secret, but one that reports and IoCs for a wide audience hide.
pub fn mask_with_key_ids(text: &str) -> Cow<'_, str> {
    masked(text, true)
}

fn masked(text: &str, key_ids: bool) -> Cow<'_, str> {
    // Cheap refusal first: most values are short words, numbers and paths.
    if text.len() < 6 {
        return Cow::Borrowed(text);
    }
    let mut out = Cow::Borrowed(text);
    for pass in [mask_pem, mask_named, mask_url_passwords] {
        if let Cow::Owned(s) = pass(&out) {
            out = Cow::Owned(s);
        }
    }
    if let Cow::Owned(s) = mask_tokens(&out, key_ids) {
        out = Cow::Owned(s);
    }
    out
}

/// Every string of a JSON value masked with [`mask`], object keys included (two keys masked
/// alike are both kept); a string under a key that names a secret (`api-key`, `password`,
/// `Authorization`, `..._API_KEY`) is masked whole.
pub fn mask_json(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) => {
            if let Cow::Owned(m) = mask(s) {
                *s = m;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_json),
        Value::Object(map) => {
            if map.keys().any(|k| matches!(mask(k), Cow::Owned(_))) {
                let mut out = serde_json::Map::new();
                for (k, v) in std::mem::take(map) {
                    let mut key = mask(&k).into_owned();
                    let mut n = 1;
                    while out.contains_key(&key) {
                        n += 1;
                        key = format!("{} #{n}", mask(&k));
                    }
                    out.insert(key, v);
                }
                *map = out;
            }
            for (k, v) in map.iter_mut() {
                match v {
                    // `{"api-key": "…"}`, `"headers.Authorization"`: the key names a secret.
                    Value::String(s) if names_a_secret(k) && !is_masked(s) && !s.is_empty() => {
                        *s = hide(s);
                    }
                    _ => mask_json(v),
                }
            }
        }
        _ => {}
    }
}

/// Whether an object key (its last dotted part) is the name of a secret ([`NAMED`], or a
/// name ending in one after `_` or `-`, as `AZURE_OPENAI_API_KEY`), or `authorization`.
fn names_a_secret(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key).to_ascii_lowercase();
    last == "authorization"
        || NAMED.iter().any(|n| {
            last.strip_suffix(n)
                .is_some_and(|rest| rest.is_empty() || rest.ends_with(['_', '-']))
        })
}

/// A value known to be secret (the value of a named secret): its first 4 and last 2
/// characters when it has 16 or more, else nothing.
fn hide(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    if n < 16 {
        return ELLIPSIS.to_string();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[n - 2..].iter().collect();
    format!("{head}{ELLIPSIS}{tail}")
}

/// Replaces the byte ranges `found` (sorted, not overlapping) of `text` by what `with` makes
/// of them.
fn replace<'a>(
    text: &'a str,
    found: &[(usize, usize)],
    with: impl Fn(&str) -> String,
) -> Cow<'a, str> {
    if found.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for &(s, e) in found {
        if s < at {
            continue;
        }
        out.push_str(&text[at..s]);
        out.push_str(&with(&text[s..e]));
        at = e;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// The body of every PEM private key: from the end of its `-----BEGIN … PRIVATE KEY-----`
/// line to its `-----END` line, or, when that is missing, to the end of the run of base64,
/// white space and `\n` escapes that follows.
fn mask_pem(text: &str) -> Cow<'_, str> {
    // Any case (an excerpt may have been folded), the words apart by a space or what a URL
    // or form encoding made of it (`+`, `_`).
    const BEGIN: &str = "-----begin";
    let lower = text.to_ascii_lowercase();
    if !lower.contains(BEGIN) {
        return Cow::Borrowed(text);
    }
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(i) = lower[from..].find(BEGIN) {
        let start = from + i;
        let label = start + BEGIN.len();
        // The header's closing dashes are on its own line: a first `-----` further on (an
        // `END` line after a broken header) would make the masking depend on how long the
        // text between is, and masking twice mask more than once.
        let rest = &lower[label..];
        let line = [rest.find(['\n', '\r']), rest.find("\\n")]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(rest.len());
        let Some(close) = rest[..line].find("-----") else {
            from = label;
            continue;
        };
        let body = label + close + 5;
        from = body;
        let words: String = lower[label..label + close]
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
            .collect();
        if close > 64
            || !words
                .split_whitespace()
                .collect::<Vec<_>>()
                .windows(2)
                .any(|w| w == ["private", "key"])
        {
            continue;
        }
        // The body: base64, line breaks (real or `\n` escapes), PEM headers; it stops at a
        // quote, so a key inside a JSON string is masked within that string.
        let run = text[body..]
            .find(|c: char| {
                !(c.is_ascii_alphanumeric()
                    || c.is_whitespace()
                    || matches!(c, '+' | '/' | '=' | '\\' | ':' | ',' | '-'))
            })
            .map_or(text.len(), |e| body + e);
        let end = lower[body..run].find("-----end").map_or(run, |e| body + e);
        if end > body {
            found.push((body, end));
        }
        from = end;
    }
    replace(text, &found, |_| ELLIPSIS.to_string())
}

/// Names whose value is a secret (matched in any case, as a whole word).
const NAMED: [&str; 21] = [
    "accountkey",
    "sharedaccesskey",
    "sharedaccesssignature",
    "password",
    "passwd",
    "pwd",
    "api-key",
    "api_key",
    "apikey",
    "x-api-key",
    "subscription-key",
    "client_secret",
    "secret_key",
    "aws_secret_access_key",
    "aws_access_key_id",
    "access_token",
    "refresh_token",
    "token",
    "private_key",
    "bearer",
    "basic",
];

/// The value of each named secret ([`NAMED`]): `name=value`, `name: value`, `"name":
/// "value"`, `Bearer value`.
fn mask_named(text: &str) -> Cow<'_, str> {
    let lower = text.to_ascii_lowercase();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
    let bytes = lower.as_bytes();
    let mut found: Vec<(usize, usize)> = Vec::new();
    // One searcher per name, built once (`str::find` built one per name and text: alerts
    // mask every value of their event).
    static FINDERS: std::sync::OnceLock<Vec<memchr::memmem::Finder<'static>>> =
        std::sync::OnceLock::new();
    let finders = FINDERS.get_or_init(|| {
        NAMED
            .iter()
            .map(|n| memchr::memmem::Finder::new(n.as_bytes()).into_owned())
            .collect()
    });
    for (&name, finder) in NAMED.iter().zip(finders) {
        let mut from = 0;
        while let Some(i) = finder.find(&bytes[from..]) {
            let start = from + i;
            let mut j = start + name.len();
            from = j;
            // `AZURE_OPENAI_API_KEY=`, `x-api-key:`: the name may end a longer one.
            let joined = |c: u8| c.is_ascii_alphanumeric();
            if (start > 0 && joined(bytes[start - 1])) || bytes.get(j).is_some_and(|&c| word(c)) {
                continue;
            }
            // A quote closing a JSON key, then `=`, `:` or (after Bearer, Basic) a space.
            if matches!(bytes.get(j), Some(b'"' | b'\'')) {
                j += 1;
            }
            let spaced = name == "bearer" || name == "basic";
            let mut sep = false;
            while let Some(&c) = bytes.get(j) {
                match c {
                    b' ' | b'\t' => j += 1,
                    b'=' | b':' if !sep && !spaced => {
                        sep = true;
                        j += 1;
                    }
                    _ => break,
                }
            }
            if !(sep || (spaced && j > start + name.len())) {
                continue;
            }
            if matches!(bytes.get(j), Some(b'"' | b'\'')) {
                j += 1;
            }
            let end = text[j..]
                .find(|c: char| {
                    c.is_whitespace()
                        || matches!(
                            c,
                            '"' | '\'' | '\\' | ';' | ',' | '&' | '<' | '>' | '}' | ')' | ']'
                        )
                })
                .map_or(text.len(), |e| j + e);
            let value = &text[j..end];
            if value.chars().count() >= 6 && !is_masked(value) {
                found.push((j, end));
            }
        }
    }
    found.sort_unstable();
    found.dedup_by(|b, a| b.0 < a.1);
    replace(text, &found, hide)
}

/// The password of each URL with one (`scheme://user:password@host`).
fn mask_url_passwords(text: &str) -> Cow<'_, str> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find("://") {
        let auth = from + i + 3;
        from = auth;
        let end = text[auth..]
            .find(|c: char| {
                c.is_whitespace() || matches!(c, '/' | '?' | '#' | '"' | '\'' | '<' | '>')
            })
            .map_or(text.len(), |e| auth + e);
        let Some(at) = text[auth..end].rfind('@') else {
            continue;
        };
        if let Some(colon) = text[auth..auth + at].find(':') {
            let (s, e) = (auth + colon + 1, auth + at);
            if e > s && !is_masked(&text[s..e]) {
                found.push((s, e));
            }
        }
        from = end;
    }
    replace(text, &found, |_| ELLIPSIS.to_string())
}

/// Every token that looks like a secret ([`looks_like_secret`], JWTs, random base64).
///
/// A token is what lies between spaces, quotes, backslashes, brackets and `,;:=&?#@!|*<>`
/// (a value quoted in a message as `\"sk-…\"` is a token); a whole token
/// is a secret when it is a JWT or a run of random base64 ([`is_base64_secret`]); otherwise
/// its parts between `/`, `.`, `+` are checked (see [`looks_like_secret`]), and, with
/// `key_ids`, so are API key ids written as `key_…` / `key-…` / `apikey_…` with letters and
/// digits (`key_vTm2A9Gei4Oi`, not `key-management`).
fn mask_tokens(text: &str, key_ids: bool) -> Cow<'_, str> {
    let mut found: Vec<(usize, usize)> = Vec::new();
    for (start, token) in tokens(text, is_token_break) {
        if is_jwt(token) || is_aws_secret(token) || is_base64_secret(token) {
            found.push((start, start + token.len()));
            continue;
        }
        for (s, part) in tokens(token, |c| matches!(c, '/' | '.' | '+')) {
            if looks_like_secret(part) || (key_ids && looks_like_key_id(part)) {
                found.push((start + s, start + s + part.len()));
            }
        }
    }
    replace(text, &found, mask_key)
}

/// A run of 40 or more characters of standard base64 (`+` and `/` but no `-`, `.` or `_`)
/// with upper and lower case letters and digits and the character spread of random data
/// (4.5 bits a character, and few vowels: words and paths have more): a storage account
/// key, an AWS secret, a signature.
fn is_base64_secret(s: &str) -> bool {
    s.len() >= 40
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '/' || c == '+')
        && s.chars().any(|c| c.is_ascii_uppercase())
        && s.chars().any(|c| c.is_ascii_lowercase())
        && s.chars().any(|c| c.is_ascii_digit())
        && entropy(s) >= 4.5
        && vowel_share(s) <= 0.32
}

/// The share of vowels among the letters of `s`: about a fifth in random base64, a third or
/// more in words written together (`AcmeModelWeights/Llama3Instruct/...`).
fn vowel_share(s: &str) -> f64 {
    let letters = s.chars().filter(char::is_ascii_alphabetic).count();
    let vowels = s.chars().filter(|c| "aeiouAEIOU".contains(*c)).count();
    vowels as f64 / letters.max(1) as f64
}

/// `key` with only a short prefix and suffix kept.
///
/// Key ids of 16 characters or more keep 6 and 3 (`key_vT…4Oi`), shorter ones less (at least
/// 5 characters are always hidden; below 4 characters nothing is shown). Values that look like
/// a secret themselves (an `sk-…` key, an AWS access key, a token) keep only 4 and 2. A value
/// already masked (an ellipsis between short parts, as this function and the hunt's redaction
/// write them) is returned unchanged.
pub fn mask_key(key: &str) -> String {
    let key = key.trim();
    if is_masked(key) {
        return key.to_string();
    }
    let chars: Vec<char> = key.chars().collect();
    let n = chars.len();
    let (head, tail) = if looks_like_secret(key) && n >= 12 {
        (4, 2)
    } else if n >= 16 {
        (6, 3)
    } else if n >= 10 {
        (3, 2)
    } else if n >= 6 {
        (1, 0)
    } else {
        (0, 0)
    };
    let head: String = chars.iter().take(head).collect();
    let tail: String = chars.iter().skip(n - tail).collect();
    format!("{head}{ELLIPSIS}{tail}")
}

/// Whether `text` is already a masked value: it has an ellipsis and no part longer than 9
/// characters (so a whole secret cannot hide next to an ellipsis).
pub fn is_masked(text: &str) -> bool {
    text.contains(ELLIPSIS)
        && text
            .split(|c: char| c == ELLIPSIS || c.is_whitespace())
            .all(|part| part.chars().count() <= 9)
}

/// The non-empty runs of `text` between characters for which `brk` holds, with their byte
/// offsets.
fn tokens(text: &str, brk: fn(char) -> bool) -> impl Iterator<Item = (usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (brk(c), start) {
            (true, Some(s)) => {
                out.push((s, &text[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &text[s..]));
    }
    out.into_iter()
}

fn is_token_break(c: char) -> bool {
    // An ellipsis ends what masking cut: a key right after a masked PEM body is a token.
    c == ELLIPSIS
        || c.is_whitespace()
        || matches!(
            c,
            '"' | '\''
                | '\\'
                | '`'
                | ','
                | ';'
                | ':'
                | '='
                | '&'
                | '?'
                | '#'
                | '@'
                | '!'
                | '|'
                | '*'
                | '<'
                | '>'
                | '('
                | ')'
                | '['
                | ']'
                | '{'
                | '}'
        )
}

/// Prefixes of provider keys and tokens (OpenAI, Anthropic and most LLM gateways `sk-`;
/// Stripe; GitHub; GitLab; Slack; Google API keys; Hugging Face; Groq; Replicate;
/// Perplexity; AWS access key ids).
const SECRET_PREFIXES: [&str; 22] = [
    "sk-",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "rk_test_",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "AIza",
    "hf_",
    "gsk_",
    "r8_",
    "pplx-",
    "AKIA",
    "ASIA",
];

/// Whether `token` (no spaces, no `/`) looks like a secret: a known provider prefix followed
/// by at least 16 key characters, or a run of at least 24 letters and digits mixing both with
/// the character spread of random data (Shannon entropy of at least 3 bits per character),
/// other than a UUID or anything in hex (digests, hashes of keys, ids), which name things
/// rather than unlock them.
pub fn looks_like_secret(token: &str) -> bool {
    let key_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if SECRET_PREFIXES.iter().any(|p| {
        token
            .strip_prefix(p)
            .is_some_and(|rest| rest.len() >= 16 && rest.chars().all(key_char))
    }) {
        return true;
    }
    if token.len() < 24 || !token.chars().all(key_char) {
        return false;
    }
    // Digests and ids in hex (a key's hash as LiteLLM logs it, an MD5, a request id) name
    // things; a key in hex (Azure's) is found by its name (`api-key:`, `..._API_KEY=`).
    if is_uuid(token) || is_hex(token) {
        return false;
    }
    token
        .split(['-', '_'])
        .any(|run| run.len() >= 24 && mixed(run) && entropy(run) >= 3.0)
}

/// `key_vTm2A9Gei4Oi`: a key id prefix and at least 6 letters and digits, both present.
fn looks_like_key_id(token: &str) -> bool {
    let lower = token.to_ascii_lowercase();
    ["key_", "key-", "apikey_", "apikey-"].iter().any(|p| {
        lower.strip_prefix(p).is_some_and(|rest| {
            rest.len() >= 6 && rest.chars().all(|c| c.is_ascii_alphanumeric()) && mixed(rest)
        })
    })
}

fn mixed(s: &str) -> bool {
    s.chars().any(|c| c.is_ascii_digit()) && s.chars().any(|c| c.is_ascii_alphabetic())
}

fn is_hex(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_hexdigit())
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12]) && parts.iter().all(|p| is_hex(p))
}

fn is_jwt(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    s.starts_with("eyJ")
        && parts.len() == 3
        && parts[..2].iter().all(|p| p.len() >= 8)
        && parts.iter().all(|p| {
            p.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

fn is_aws_secret(s: &str) -> bool {
    s.len() == 40
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '/' || c == '+')
        && s.chars().any(|c| c.is_ascii_uppercase())
        && s.chars().any(|c| c.is_ascii_lowercase())
        && s.chars().any(|c| c.is_ascii_digit())
}

/// Shannon entropy of the characters of `s`, bits per character.
fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 128];
    let mut n = 0u32;
    for b in s.bytes().filter(u8::is_ascii) {
        counts[usize::from(b)] += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = f64::from(n);
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_key_keeps_a_short_prefix_and_suffix() {
        assert_eq!(mask_key("key_vTm2A9Gei4Oi"), "key_vT…4Oi");
        assert_eq!(mask_key("  key_vTm2A9Gei4Oi\n"), "key_vT…4Oi");
        assert_eq!(mask_key("key_7f3a91c"), "key…1c");
        assert_eq!(mask_key("key_7f3a"), "k…");
        assert_eq!(mask_key("abc"), "…");
        assert_eq!(mask_key(""), "…");
        // A secret keeps less.
        assert_eq!(
            mask_key("sk-proj-Q3xv9LmT7rNcA2bKd8YhW4pE6sUf1gZj"),
            "sk-p…Zj"
        );
        assert_eq!(mask_key("AKIAIOSFODNN7EXAMPLE"), "AKIA…LE");
        // Multi-byte characters are cut on character boundaries.
        assert_eq!(mask_key("ключ-ключ-ключ-ключ"), "ключ-к…люч");
    }

    #[test]
    fn mask_key_leaves_masked_values_alone_but_not_a_secret_beside_an_ellipsis() {
        assert_eq!(mask_key("key_vT…4Oi"), "key_vT…4Oi");
        assert_eq!(mask_key("sk-p… (51 chars)"), "sk-p… (51 chars)");
        let sneaky = "k…sk-proj-Q3xv9LmT7rNcA2bKd8YhW4pE6sUf1gZj";
        assert!(!mask_key(sneaky).contains("Q3xv9LmT7rNc"));
    }

    #[test]
    fn secrets_are_found_inside_text() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
        let cases = [
            ("Bearer sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv", "AbCdEfGhIjKl"),
            (
                "aws wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY done",
                "K7MDENG",
            ),
            (jwt, "eyJzdWIiOiJhbGljZSJ9"),
            (
                "x-api-key=9f8e7d6c5b4a39281706f5e4d3c2b1a0",
                "9f8e7d6c5b4a3928",
            ),
            ("hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "MnOpQrStUv"),
            ("Extraction with key_vTm2A9Gei4Oi from", "key_vTm2A9Gei4Oi"),
        ];
        for (text, secret) in cases {
            let masked = mask_with_key_ids(text);
            assert!(!masked.contains(secret), "{text} → {masked}");
            assert!(masked.contains('…'), "{text} → {masked}");
        }
    }

    /// What the token heuristics missed (issue 15): a PEM key's body after its first line
    /// parts, an Azure storage key split at its `/` and `+`, a URL's password, a named value.
    #[test]
    fn keys_connection_strings_and_passwords_are_masked_whole() {
        let body = "MIIEowIBAAKCAQEAx9Zq3fTk1Lm8Pq2Rs4Tu6Vw8Xy0Za2Bc4De6Fg8Hi0Jk2Lm4No\nZ2Pq4Rs6Tu8Vw0Xy2Za4Bc6De8Fg0Hi2Jk4Lm6No8Pq0Rs2Tu4Vw6Xy8Za0Bc2De4Fg\nq1w2e3r4t5y6u7i8o9p0==";
        for (pem, end) in [
            (format!("-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"), true),
            (format!("{{\"private_key\": \"-----BEGIN PRIVATE KEY-----\\n{}\\n-----END PRIVATE KEY-----\\n\"}}", body.replace('\n', "\\n")), true),
            (format!("key: -----BEGIN OPENSSH PRIVATE KEY-----\n{body}"), false),
            // Folded to lower case by an excerpt, URL-encoded spaces.
            (format!("-----begin+private+key-----\n{}\n-----end+private+key-----", body.to_ascii_lowercase()), true),
        ] {
            let masked = mask(&pem);
            let folded = masked.to_ascii_lowercase();
            for line in body.to_ascii_lowercase().lines() {
                assert!(!folded.contains(&line[line.len() - 12..]), "{masked}");
                assert!(!folded.contains(&line[..12]), "{masked}");
            }
            assert!(folded.contains("key-----…"), "{masked}");
            assert_eq!(folded.contains("-----end"), end, "{masked}");
        }
        // A certificate is not a secret.
        let cert = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUa\n-----END CERTIFICATE-----";
        assert_eq!(mask(cert), cert);

        let key = "tSh4np9UosbzrOIli/JIO/zHwAeFL5MgFeYeglH/9v8WH/Ip7HblgisEHKrC3rEcmuSfD9zFB7LGAUmAf/+ppg==";
        let conn = format!("DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={key};EndpointSuffix=core.windows.net");
        assert_eq!(
            mask(&conn),
            "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=tSh4…==;EndpointSuffix=core.windows.net"
        );
        assert_eq!(
            mask("postgres://ml_admin:Vx9hunter2hunter2x@db.acme.example:5432/models"),
            "postgres://ml_admin:…@db.acme.example:5432/models"
        );
        assert_eq!(
            mask(r#"{"password": "correct horse", "api-key": "7afa0b7a153ca4a3aaef3c034e56abc7"}"#),
            r#"{"password": "… horse", "api-key": "7afa…c7"}"#
        );
        assert_eq!(
            mask("Authorization: Bearer abcdefghijklmnop"),
            "Authorization: Bearer abcd…op"
        );
        // A random base64 run alone, however it is split.
        let text = format!("saw {key} there");
        let masked = mask(&text);
        assert!(!masked.contains("zHwAeFL5MgFe"), "{masked}");
    }

    /// Found by the `output_escapers` fuzz target: a `BEGIN … PRIVATE KEY` header missing a
    /// dash took the next `END` line's dashes for its own when what lay between was short
    /// enough, which the first masking made it: masking again ate the `END` line and the
    /// connection string after it.
    #[test]
    fn a_broken_pem_header_is_masked_alike_once_or_twice() {
        let text = "-----BEGIN RSA PRIVATE KEY----E\nMII-woIBAAKCAQEAx9Zq3fTk1Lm8Pq2Rs4Tu6Vw8Xy0Za2Bc4De6Fg8Hi0Jk2Lm4No\n-----END RSA PRIVATE KEY-----\nDefaultEndpointsProtocol=https;AccountName=a;AccountKey=tSh4np9Uosbzhttps;AccountName=a";
        let once = mask(text);
        assert_eq!(mask(&once), once);
        assert!(once.contains("-----END RSA PRIVATE KEY-----\nDefaultEndpointsProtocol=https;AccountName=a;AccountKey=tSh4…"), "{once}");
        assert!(!once.contains("x9Zq3fTk1Lm8Pq2R"), "{once}");
    }

    #[test]
    fn key_ids_are_masked_only_when_asked() {
        let text = "Extraction with key_vTm2A9Gei4Oi from";
        assert_eq!(mask(text), text);
        assert_eq!(mask_with_key_ids(text), "Extraction with key_vT…4Oi from");
    }

    #[test]
    fn ordinary_values_are_not_secrets() {
        for text in [
            "arn:aws:sts::123456789012:assumed-role/MLPlatformDev/rkumar@acme.example",
            "s3://acme-ml-models/llama-3-8b-instruct/v3/model-00001-of-00004.safetensors",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0.0.0",
            "dev-7731@example.net",
            "5c0f6a1e-6d3b-4d47-9a51-0b4c2e7f1a04",
            "blobs/sha256/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "checkpoints/llama-3-8b-support-ft/step-12000/model-00001-of-00006.safetensors",
            "2001:db8::1",
            "key-management service, key_rotation",
            "https://acme.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-06-01",
            "gen_ai.usage.input_tokens: 1200, token: 5",
            "AcmeModelWeights/Llama3Instruct/Checkpoint12/Final",
        ] {
            assert_eq!(mask(text), text);
        }
    }

    #[test]
    fn json_documents_are_masked_keys_and_all() {
        let mut v = serde_json::json!({
            "ua": "curl token=sk-proj-Q3xv9LmT7rNcA2bKd8YhW4pE",
            "ghp_Iw60f8idwH8q4H9GdCGbjaLCY8EoSjRkGNyp": [1, "ok"],
        });
        mask_json(&mut v);
        let text = v.to_string();
        assert!(
            !text.contains("Q3xv9LmT7rNc") && !text.contains("Iw60f8idwH8q"),
            "{text}"
        );
        assert_eq!(v["ua"], "curl token=sk-p…pE");
        let mut headers = serde_json::json!({
            "http.request.headers.api-key": "7afa0b7a153ca4a3aaef3c034e56abc7",
            "Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
            "token_count": "7afa0b7a153ca4a3aaef3c034e56abc7",
        });
        mask_json(&mut headers);
        assert_eq!(headers["http.request.headers.api-key"], "7afa…c7");
        assert_eq!(headers["Authorization"], "Basi…1l");
        assert_eq!(headers["token_count"], "7afa0b7a153ca4a3aaef3c034e56abc7");
    }
}
