//! ## What it detects
//! A request to an AI endpoint from an address on one of the threat-intelligence IP lists
//! the user provides: the client address (`source.ip`, else `client.ip`) is one of the
//! listed addresses or inside one of the listed CIDR ranges, IPv4 or IPv6. Lists hold one
//! address or range per line; `#` and `;` start comments, and what follows the address on
//! its line (after whitespace, `,` or `;`) is kept as its label. That reads FireHOL netsets,
//! Spamhaus DROP (`1.2.3.0/24 ; SBL123`), abuse.ch Feodo Tracker and Emerging Threats
//! block lists, and CSV exports whose first column is the address. The most specific
//! range that holds the address is reported, with its list and label.
//!
//! ## Why it matters
//! Addresses that threat intelligence has seen attacking other targets have no business
//! calling a company's model deployments; a call from one usually means a stolen key or
//! token in an attacker's hands, or automated probing of an exposed endpoint. Microsoft
//! Defender for Cloud raises "Access from a suspicious IP" (AI.Azure_AccessFromSuspiciousIP)
//! from its own threat intelligence; modelward raises it from the lists the user trusts.
//!
//! ## Example
//! A chat completion with `source.ip: 198.51.100.77` while the list `drop.txt` has the line
//! `198.51.100.0/24 ; SBL000001`: the alert names `drop.txt`, the range and `SBL000001`.
//!
//! ## False positives
//! Shared addresses (carrier-grade NAT, cloud egress, VPN providers) listed for someone
//! else's abuse; stale lists. Prefer lists of confirmed malicious hosts over broad
//! reputation lists, and keep them fresh.
//!
//! ## Response
//! Identify the key or identity used and whether it belongs to the caller; if not, revoke
//! it and review its recent calls; block the range at the gateway or firewall.
//!
//! ## References
//! - https://learn.microsoft.com/en-us/azure/defender-for-cloud/alerts-ai-workloads
//! - https://www.spamhaus.org/blocklists/do-not-route-or-peer/
//! - https://iplists.firehol.org/
//! - https://feodotracker.abuse.ch/blocklist/

use std::net::IpAddr;

use modelward_event::ip::{CidrSet, IpRange};
use modelward_event::Event;
use modelward_rule::Severity;
use serde_json::{json, Map};

use crate::address::client_ip;
use crate::detector::{BuildContext, Builtin, Code, Detector, Finding};
use crate::keywords::Scan;
use crate::settings::{read_list, Settings, SettingsError};

pub const CODE: Code = Code {
    code: "MW-AI-0011",
    name: "Access from a suspicious IP",
    defender: Some("AI.Azure_AccessFromSuspiciousIP"),
    severity: Severity::High,
    tactics: &["Execution"],
    atlas: ("AML.T0040", "AI Model Inference API Access"),
    doc: include_str!("suspicious_ip.rs"),
};

/// Where a listed range came from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listing {
    list: String,
    range: String,
    label: Option<String>,
}

pub struct SuspiciousIp {
    ranges: CidrSet<Listing>,
}

/// The ranges of one list; bad lines go to `skipped`.
fn parse_list(
    text: &str,
    file: &str,
    into: &mut CidrSet<Listing>,
    skipped: &mut Vec<SettingsError>,
) {
    let list = std::path::Path::new(file)
        .file_name()
        .map_or_else(|| file.to_string(), |n| n.to_string_lossy().into_owned());
    for (n, line) in text.lines().enumerate() {
        let line = line.trim().trim_start_matches('\u{FEFF}');
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let end = line
            .find(|c: char| c.is_whitespace() || c == ',' || c == ';')
            .unwrap_or(line.len());
        let (range, rest) = line.split_at(end);
        let range = range.trim_matches('"');
        // A CSV header (`ip,...`, `first_seen_utc,dst_ip,...`) is not data.
        if n == 0 && range.parse::<IpAddr>().is_err() && !range.contains('/') && rest.contains(',')
        {
            continue;
        }
        match range.parse::<IpRange>() {
            Ok(ip_range) => {
                let label = rest
                    .trim_start_matches([',', ';', ' ', '\t'])
                    .trim()
                    .trim_matches('"');
                into.insert(
                    ip_range,
                    Listing {
                        list: list.clone(),
                        range: range.to_string(),
                        label: (!label.is_empty()).then(|| label.chars().take(200).collect()),
                    },
                );
            }
            Err(e) => skipped.push(SettingsError::Line {
                file: file.to_string(),
                line: n + 1,
                message: e.to_string(),
            }),
        }
    }
}

impl SuspiciousIp {
    /// From (file name, contents) pairs; bad lines go to `skipped`.
    pub fn from_texts(lists: &[(&str, &str)], skipped: &mut Vec<SettingsError>) -> SuspiciousIp {
        let mut ranges = CidrSet::default();
        for (file, text) in lists {
            parse_list(text, file, &mut ranges, skipped);
        }
        SuspiciousIp { ranges }
    }

    /// None when no IP list is configured. Bad lines go to `skipped`.
    pub fn new(
        settings: &Settings,
        skipped: &mut Vec<SettingsError>,
    ) -> Result<Option<SuspiciousIp>, SettingsError> {
        if settings.suspicious_ip_lists.is_empty() {
            return Ok(None);
        }
        let mut ranges = CidrSet::default();
        for path in &settings.suspicious_ip_lists {
            let file = path.display().to_string();
            parse_list(&read_list(path)?, &file, &mut ranges, skipped);
        }
        Ok(Some(SuspiciousIp { ranges }))
    }
}

impl Builtin for SuspiciousIp {
    const CODES: &'static [Code] = &[CODE];

    fn build(
        settings: &Settings,
        ctx: &mut BuildContext<'_>,
    ) -> Result<Option<Self>, SettingsError> {
        SuspiciousIp::new(settings, &mut ctx.skipped)
    }
}

impl Detector for SuspiciousIp {
    fn codes(&self) -> Vec<&'static str> {
        vec![CODE.code]
    }

    fn inspect(&self, event: &Event, _scan: &Scan<'_>, out: &mut Vec<Finding>) {
        let Some(ip) = client_ip(event) else {
            return;
        };
        let Some(listing) = self.ranges.get(ip) else {
            return;
        };
        let mut evidence = Map::new();
        evidence.insert("source.ip".into(), json!(ip.to_string()));
        evidence.insert("list".into(), json!(listing.list));
        evidence.insert("range".into(), json!(listing.range));
        if let Some(label) = &listing.label {
            evidence.insert("label".into(), json!(label));
        }
        let label = listing
            .label
            .as_deref()
            .map(|l| format!(", {l}"))
            .unwrap_or_default();
        out.push(Finding {
            code: CODE.code,
            role: None,
            summary: format!(
                "request from {ip}, listed in {} ({}{label})",
                listing.list, listing.range
            ),
            evidence,
            severity: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::LlmText;

    fn detector(lists: &[(&str, &str)]) -> (SuspiciousIp, Vec<String>) {
        let mut skipped = Vec::new();
        let d = SuspiciousIp::from_texts(lists, &mut skipped);
        (d, skipped.iter().map(ToString::to_string).collect())
    }

    fn find(d: &SuspiciousIp, field: &str, ip: &str) -> Vec<Finding> {
        let (a, b) = field.split_once('.').unwrap();
        let event = Event::from_json(&json!({a: {b: ip}}).to_string()).unwrap();
        let mut out = Vec::new();
        out.extend(crate::detector::inspect_alone(
            d,
            &event,
            &LlmText::default(),
        ));
        out
    }

    const DROP: &str = "; Spamhaus DROP List 2026/11/22\n; Last-Modified: Sun, 22 Nov 2026\n198.51.100.0/24 ; SBL000001\n2001:db8:bad::/48 ; SBL000002\n";
    const FEODO: &str = "# Feodo Tracker blocklist\n# first_seen_utc,dst_ip,dst_port,c2_status,last_online,malware\n203.0.113.9\n";
    const CSV: &str = "ip,reason\n192.0.2.200,\"scanner, seen 2026-11-20\"\n";

    #[test]
    fn listed_addresses_and_ranges_from_real_list_formats() {
        let (d, skipped) =
            detector(&[("drop.txt", DROP), ("feodo.txt", FEODO), ("intel.csv", CSV)]);
        assert!(skipped.is_empty(), "{skipped:?}");
        let f = find(&d, "source.ip", "198.51.100.77");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "MW-AI-0011");
        assert_eq!(f[0].evidence["list"], json!("drop.txt"));
        assert_eq!(f[0].evidence["range"], json!("198.51.100.0/24"));
        assert_eq!(f[0].evidence["label"], json!("SBL000001"));
        assert_eq!(
            f[0].summary,
            "request from 198.51.100.77, listed in drop.txt (198.51.100.0/24, SBL000001)"
        );
        assert_eq!(find(&d, "client.ip", "203.0.113.9").len(), 1);
        assert_eq!(
            find(&d, "source.ip", "192.0.2.200")[0].evidence["label"],
            json!("scanner, seen 2026-11-20")
        );
        assert_eq!(find(&d, "source.ip", "2001:db8:bad:1::5").len(), 1);
        assert_eq!(find(&d, "source.ip", "::ffff:198.51.100.1").len(), 1);
    }

    #[test]
    fn unlisted_masked_and_missing_addresses_are_quiet() {
        let (d, _) = detector(&[("drop.txt", DROP)]);
        assert!(find(&d, "source.ip", "198.51.101.1").is_empty());
        assert!(find(&d, "source.ip", "2001:db8:bae::1").is_empty());
        // Azure diagnostic logs mask the last octet.
        assert!(find(&d, "source.ip", "198.51.100.***").is_empty());
        assert!(find(&d, "user.id", "198.51.100.1").is_empty());
    }

    #[test]
    fn bad_lines_are_skipped_and_the_rest_kept() {
        let (d, skipped) = detector(&[("bad.txt", "198.51.100.0/33\nnot-an-ip\n203.0.113.0/24\n")]);
        assert_eq!(
            skipped,
            [
                "bad.txt:1: `198.51.100.0/33`: the prefix length must be 0 to 32",
                "bad.txt:2: `not-an-ip` is not an IP address or CIDR range"
            ]
        );
        assert_eq!(find(&d, "source.ip", "203.0.113.50").len(), 1);
    }
}
