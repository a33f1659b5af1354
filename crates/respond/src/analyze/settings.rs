//! What the analysis needs to know about the organisation: who is internal, which callers
//! are approved, which models are regulated. From `[respond]` in the configuration.

use crate::grouping::GroupingSettings;

/// Settings of the response side, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct RespondSettings {
    pub grouping: GroupingSettings,
    /// Principals of the organisation (glob patterns, `*` any run of characters).
    pub internal_principals: Vec<String>,
    /// Address ranges of the organisation (CIDR or single addresses).
    pub internal_networks: Vec<String>,
    /// Principals whose spikes are explained: approved load tests, known partners (globs).
    pub approved_principals: Vec<String>,
    /// Models under regulation (finance, health), as model names or object paths (globs).
    pub regulated_models: Vec<String>,
    /// Width of the call-volume buckets, ms.
    pub volume_bucket_ms: i64,
}

impl Default for RespondSettings {
    fn default() -> RespondSettings {
        RespondSettings {
            grouping: GroupingSettings::default(),
            internal_principals: Vec::new(),
            internal_networks: Vec::new(),
            approved_principals: Vec::new(),
            regulated_models: Vec::new(),
            volume_bucket_ms: 3_600_000,
        }
    }
}

/// `*` matches any run of characters; everything else literally, case-insensitively.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (
        pattern.to_lowercase().chars().collect(),
        text.to_lowercase().chars().collect(),
    );
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether `ip` is in `range` (CIDR, or one address).
pub fn in_network(range: &str, ip: &str) -> bool {
    use std::net::IpAddr;
    let (net, bits) = match range.split_once('/') {
        Some((n, b)) => (n, b.parse::<u32>().ok()),
        None => (range, None),
    };
    let (Ok(net), Ok(ip)) = (net.trim().parse::<IpAddr>(), ip.trim().parse::<IpAddr>()) else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_networks() {
        assert!(glob(
            "arn:aws:iam::123:user/*",
            "arn:aws:iam::123:user/jsmith"
        ));
        assert!(glob("*@ACME.example", "rkumar@acme.example"));
        assert!(!glob("load-test-*", "prod-api"));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(in_network("10.0.0.0/8", "10.2.3.4"));
        assert!(!in_network("10.0.0.0/8", "11.2.3.4"));
        assert!(in_network("2001:db8::/32", "2001:db8::1"));
        assert!(in_network("192.0.2.7", "192.0.2.7"));
        assert!(!in_network("192.0.2.0/24", "2001:db8::1"));
    }
}
