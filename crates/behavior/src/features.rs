//! Features of a call that profiles compare: a prompt fingerprint, a user-agent family, an
//! address range.

use std::net::{IpAddr, Ipv4Addr};

use modelward_event::hash::{fnv1a_extend, FNV_OFFSET};
use serde_json::Value;

/// A stable 64-bit fingerprint (FNV-1a) of a prompt: strings, lists or chat messages, with
/// each string trimmed and object keys in sorted order. `None` for an empty prompt.
pub fn prompt_hash(prompt: &[&Value]) -> Option<u64> {
    fn walk(v: &Value, hash: &mut u64, text: &mut bool) {
        match v {
            Value::String(s) => {
                let s = s.trim();
                *text |= !s.is_empty();
                *hash = fnv1a_extend(fnv1a_extend(*hash, b"s"), s.as_bytes());
                *hash = fnv1a_extend(*hash, &[0xff]);
            }
            Value::Array(items) => {
                *hash = fnv1a_extend(*hash, b"[");
                items.iter().for_each(|i| walk(i, hash, text));
                *hash = fnv1a_extend(*hash, b"]");
            }
            Value::Object(map) => {
                *hash = fnv1a_extend(*hash, b"{");
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                for k in keys {
                    *hash = fnv1a_extend(fnv1a_extend(*hash, k.as_bytes()), b":");
                    walk(&map[k], hash, text);
                }
                *hash = fnv1a_extend(*hash, b"}");
            }
            Value::Null => {}
            other => *hash = fnv1a_extend(*hash, other.to_string().as_bytes()),
        }
    }
    let mut hash = FNV_OFFSET;
    let mut text = false;
    for v in prompt {
        walk(v, &mut hash, &mut text);
    }
    text.then_some(hash)
}

/// A user agent's family and major versions, lower case: each `product/version` token keeps
/// its version up to the first `.`; comments in parentheses are left out. So
/// `OpenAI/Python 1.12.0` is `openai/python 1` and a patch release changes nothing.
pub fn user_agent_family(ua: &str) -> Option<String> {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if token.is_empty() {
            return;
        }
        let major = match token.split_once('/') {
            Some((name, version)) => {
                let v = version.split('.').next().unwrap_or("");
                format!("{name}/{v}")
            }
            None => token.split('.').next().unwrap_or("").to_string(),
        };
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&major);
        token.clear();
    };
    for c in ua.chars() {
        match c {
            '(' => {
                flush(&mut token, &mut out);
                depth += 1;
            }
            ')' => depth = depth.saturating_sub(1),
            c if depth > 0 => {
                let _ = c;
            }
            c if c.is_whitespace() => flush(&mut token, &mut out),
            c => token.extend(c.to_lowercase()),
        }
        if out.len() > 200 {
            break;
        }
    }
    flush(&mut token, &mut out);
    out.truncate(200);
    (!out.is_empty()).then_some(out)
}

/// The range of an address: its /24 (IPv4) or /48 (IPv6), as `a.b.c.0/24` or
/// `x:y:z::/48`. Accepts Azure's masked form (`81.2.69.***`), which hides exactly the last
/// octet, and IPv4-mapped IPv6 addresses.
pub fn ip_range(text: &str) -> Option<String> {
    let text = text.trim();
    if let Some(prefix) = text.strip_suffix(".***") {
        let parts: Vec<&str> = prefix.split('.').collect();
        if parts.len() == 3 && parts.iter().all(|p| p.parse::<u8>().is_ok()) {
            return Some(format!("{prefix}.0/24"));
        }
        return None;
    }
    let ip: IpAddr = text.parse().ok()?;
    let v4 = |a: Ipv4Addr| {
        let o = a.octets();
        format!("{}.{}.{}.0/24", o[0], o[1], o[2])
    };
    Some(match ip {
        IpAddr::V4(a) => v4(a),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(m) => v4(m),
            None => {
                let s = a.segments();
                format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prompt_hashes_are_pinned() {
        // Persisted in baselines: this value must not change.
        let p = json!([{"role": "user", "content": "Hello"}]);
        assert_eq!(prompt_hash(&[&p]), Some(0xc974_1ceb_62b9_37e5));
    }

    #[test]
    fn prompts_hash_the_same_when_only_outer_space_differs() {
        let a = json!([{"role": "user", "content": "Hello "}]);
        let b = json!([{"content": " Hello", "role": "user"}]);
        let c = json!([{"role": "user", "content": "Hello!"}]);
        assert_eq!(prompt_hash(&[&a]), prompt_hash(&[&b]));
        assert_ne!(prompt_hash(&[&a]), prompt_hash(&[&c]));
        assert_eq!(prompt_hash(&[&json!("  ")]), None);
        assert_eq!(prompt_hash(&[]), None);
    }

    #[test]
    fn user_agents_keep_family_and_major() {
        assert_eq!(
            user_agent_family("OpenAI/Python 1.12.0").as_deref(),
            Some("openai/python 1")
        );
        assert_eq!(
            user_agent_family("python-requests/2.31.0"),
            user_agent_family("python-requests/2.32.3")
        );
        assert_ne!(
            user_agent_family("python-requests/2.31.0"),
            user_agent_family("python-requests/3.0.0")
        );
        assert_eq!(
            user_agent_family("Mozilla/5.0 (Windows NT 10.0; Win64) Chrome/120.0.1 Safari/537.36")
                .as_deref(),
            Some("mozilla/5 chrome/120 safari/537")
        );
        assert_eq!(user_agent_family("   "), None);
        assert!(user_agent_family(&"x".repeat(10_000)).unwrap().len() <= 200);
    }

    #[test]
    fn ranges() {
        assert_eq!(ip_range("203.0.113.7").as_deref(), Some("203.0.113.0/24"));
        assert_eq!(ip_range("81.2.69.***").as_deref(), Some("81.2.69.0/24"));
        assert_eq!(
            ip_range("2001:db8:abcd:12::1").as_deref(),
            Some("2001:db8:abcd::/48")
        );
        assert_eq!(ip_range("::ffff:10.1.2.3").as_deref(), Some("10.1.2.0/24"));
        assert_eq!(ip_range("not an ip"), None);
        assert_eq!(ip_range("1.2.***"), None);
    }
}
