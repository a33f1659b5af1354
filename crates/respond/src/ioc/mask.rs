//! Masking: API key ids, and anything that looks like a secret, never leave modelward whole.
//!
//! [`mask_key`] keeps a short prefix and suffix of a key (`key_vTm2A9Gei4Oi` → `key_vT…4Oi`),
//! enough to tell keys apart and to find the key in the key store, not enough to use it.
//! [`mask_secrets`] finds secret-looking tokens inside any text (a principal, a user agent,
//! an object key) and masks each of them with [`mask_key`].
//!
//! ```
//! use modelward_respond::ioc::{mask_key, mask_secrets};
//!
//! assert_eq!(mask_key("key_vTm2A9Gei4Oi"), "key_vT\u{2026}4Oi");
//! let ua = "python-httpx/0.27 token=sk-proj-Q3xv9LmT7rNcA2bKd8YhW4pE";
//! assert_eq!(mask_secrets(ua), "python-httpx/0.27 token=sk-p\u{2026}pE");
//! ```

use std::borrow::Cow;

const ELLIPSIS: char = '\u{2026}';

/// A key id as the IoCs and reports give it: whole, since a key id is an identifier (the one
/// the responder revokes the key by), not a secret; but a value that looks like a secret
/// itself (a key used as its own id, an `sk-…` key) keeps only a short prefix and suffix
/// ([`mask_key`]): keys are never shown.
pub fn key_id(id: &str) -> String {
    let id = id.trim();
    if looks_like_secret(id) || id.chars().any(char::is_whitespace) {
        mask_key(id)
    } else {
        id.to_string()
    }
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
pub(crate) fn is_masked(text: &str) -> bool {
    text.contains(ELLIPSIS)
        && text
            .split(|c: char| c == ELLIPSIS || c.is_whitespace())
            .all(|part| part.chars().count() <= 9)
}

/// `text` with every secret-looking token in it replaced by its [`mask_key`] form.
///
/// A token is what lies between spaces, quotes, brackets and `,;:=&?#@!|*<>`; a whole token
/// is a secret when it is a JWT or has the shape of an AWS secret access key (40 characters
/// of base64 with upper and lower case letters and digits); otherwise its parts between `/`,
/// `.`, `+` are checked (see [`looks_like_secret`]), and so are API key ids written as
/// `key_…` / `key-…` / `apikey_…` with letters and digits (`key_vTm2A9Gei4Oi`, not
/// `key-management`).
pub fn mask_secrets(text: &str) -> Cow<'_, str> {
    let mut found: Vec<(usize, usize)> = Vec::new();
    for (start, token) in tokens(text, is_token_break) {
        if is_jwt(token) || is_aws_secret(token) {
            found.push((start, start + token.len()));
            continue;
        }
        for (s, part) in tokens(token, |c| matches!(c, '/' | '.' | '+')) {
            if looks_like_secret(part) || looks_like_key_id(part) {
                found.push((start + s, start + s + part.len()));
            }
        }
    }
    if found.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (s, e) in found {
        out.push_str(&text[at..s]);
        out.push_str(&mask_key(&text[s..e]));
        at = e;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
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
    c.is_whitespace()
        || matches!(
            c,
            '"' | '\''
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
/// other than a UUID or a SHA-1/SHA-256 digest in hex, which name things rather than
/// unlock them.
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
    if is_uuid(token) || (is_hex(token) && matches!(token.len(), 40 | 64)) {
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

/// An IoC value made safe for output: API key ids as [`key_id`] gives them (a key itself
/// masked), secrets masked in any other value (for IoCs that did not come from [`super::collect`]).
pub fn safe_value<'a>(kind: &str, value: &'a str) -> Cow<'a, str> {
    if kind == "api_key" {
        Cow::Owned(key_id(value))
    } else {
        mask_secrets(value)
    }
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
            let masked = mask_secrets(text);
            assert!(!masked.contains(secret), "{text} → {masked}");
            assert!(masked.contains('…'), "{text} → {masked}");
        }
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
        ] {
            assert_eq!(mask_secrets(text), text);
        }
    }

    #[test]
    fn api_key_values_are_key_ids_and_keys_are_masked_on_output() {
        // A key id is the identifier to revoke by; a key is never shown.
        assert_eq!(
            safe_value("api_key", "key_vTm2A9Gei4Oi"),
            "key_vTm2A9Gei4Oi"
        );
        assert_eq!(
            safe_value("api_key", "sk-proj-Q3xv9LmT7rNcA2bKd8YhW4pE"),
            "sk-p…pE"
        );
        assert_eq!(
            safe_value("principal", "alice@example.com"),
            "alice@example.com"
        );
    }
}
