//! ## What it detects
//! A request to an AI endpoint from an address of the Tor network: the client address
//! (`source.ip`, else `client.ip`) is in one of the Tor exit lists the user provides, in the
//! Tor Project's formats: the bulk exit list (one address per line) or TorDNSEL's
//! `exit-addresses` (`ExitAddress 1.2.3.4 2024-05-01 12:00:00` lines). IPv4 and IPv6.
//!
//! ## Why it matters
//! Tor hides who is calling. Legitimate users of a company's AI application rarely come
//! through it; attackers using stolen keys often do. Microsoft Defender for Cloud raises
//! "Access from a Tor IP" (AI.Azure_AccessFromAnonymizedIP).
//!
//! ## Example
//! A chat completion with `source.ip: 185.220.101.4` while `185.220.101.4` is in the exit
//! list.
//!
//! ## False positives
//! Privacy-conscious users of a public application; exit lists change hourly, so an old list
//! can name addresses that have left Tor (keep the list fresh).
//!
//! ## Response
//! Find the key or identity used; if it belongs to an internal application, treat the key as
//! stolen: revoke it and review its recent calls.
//!
//! ## References
//! - https://check.torproject.org/torbulkexitlist
//! - https://check.torproject.org/exit-addresses
//! - https://learn.microsoft.com/en-us/azure/defender-for-cloud/alerts-ai-workloads

use std::collections::HashSet;
use std::net::IpAddr;

use modelward_event::ip::parse_ip;
use modelward_event::Event;
use modelward_rule::Severity;
use serde_json::{json, Map};

use crate::address::client_ip;
use crate::detector::{BuildContext, Builtin, Code, Detector, Finding};
use crate::keywords::Scan;
use crate::settings::{read_list, Settings, SettingsError};

pub const CODE: Code = Code {
    code: "MW-AI-0010",
    name: "Access from a Tor IP",
    defender: Some("AI.Azure_AccessFromAnonymizedIP"),
    severity: Severity::High,
    tactics: &["Execution"],
    atlas: ("AML.T0040", "AI Model Inference API Access"),
    doc: include_str!("tor_access.rs"),
};

pub struct TorAccess {
    exits: HashSet<IpAddr>,
}

/// Addresses of an exit list in either format; lines that are neither go to `skipped`.
pub fn parse_exit_list(text: &str, file: &str, skipped: &mut Vec<SettingsError>) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let address = match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["ExitAddress", addr, ..] => *addr,
            ["ExitNode" | "Published" | "LastStatus", ..] => continue,
            [addr] => *addr,
            _ => {
                skipped.push(SettingsError::Line {
                    file: file.to_string(),
                    line: n + 1,
                    message: format!(
                        "expected an address or an `ExitAddress` line, found `{line}`"
                    ),
                });
                continue;
            }
        };
        match parse_ip(address) {
            Some(ip) => out.push(ip),
            None => skipped.push(SettingsError::Line {
                file: file.to_string(),
                line: n + 1,
                message: format!("`{address}` is not an IP address"),
            }),
        }
    }
    out
}

impl TorAccess {
    /// None when no exit list is configured. Bad lines go to `skipped`.
    pub fn new(
        settings: &Settings,
        skipped: &mut Vec<SettingsError>,
    ) -> Result<Option<TorAccess>, SettingsError> {
        if settings.tor_exit_lists.is_empty() {
            return Ok(None);
        }
        let mut exits = HashSet::new();
        for path in &settings.tor_exit_lists {
            exits.extend(parse_exit_list(
                &read_list(path)?,
                &path.display().to_string(),
                skipped,
            ));
        }
        Ok(Some(TorAccess { exits }))
    }
}

impl Builtin for TorAccess {
    const CODES: &'static [Code] = &[CODE];

    fn build(
        settings: &Settings,
        ctx: &mut BuildContext<'_>,
    ) -> Result<Option<Self>, SettingsError> {
        TorAccess::new(settings, &mut ctx.skipped)
    }
}

impl Detector for TorAccess {
    fn codes(&self) -> Vec<&'static str> {
        vec![CODE.code]
    }

    fn inspect(&self, event: &Event, _scan: &Scan<'_>, out: &mut Vec<Finding>) {
        let Some(ip) = client_ip(event) else {
            return;
        };
        if self.exits.contains(&ip) {
            let mut evidence = Map::new();
            evidence.insert("source.ip".into(), json!(ip.to_string()));
            out.push(Finding {
                code: CODE.code,
                role: None,
                summary: format!("request from Tor exit {ip}"),
                evidence,
                severity: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::LlmText;

    #[test]
    fn both_formats_and_errors() {
        let mut skipped = Vec::new();
        let bulk = parse_exit_list("185.220.101.4\n2a0b:f4c2::1\n", "bulk", &mut skipped);
        assert_eq!(bulk.len(), 2);
        let dnsel = "ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E\nPublished 2024-05-01 10:00:00\nLastStatus 2024-05-01 11:00:00\nExitAddress 185.220.101.5 2024-05-01 11:02:03\n";
        assert_eq!(
            parse_exit_list(dnsel, "d", &mut skipped),
            vec!["185.220.101.5".parse::<IpAddr>().unwrap()]
        );
        assert!(skipped.is_empty());
        let kept = parse_exit_list("1.2.3.4\nnot-an-ip\n5.6.7.8\n", "x.txt", &mut skipped);
        assert_eq!(kept.len(), 2, "the lines around a bad one are kept");
        assert_eq!(
            skipped[0].to_string(),
            "x.txt:2: `not-an-ip` is not an IP address"
        );
    }

    #[test]
    fn matches_v4_v6_and_mapped() {
        let d = TorAccess {
            exits: parse_exit_list("185.220.101.4\n2a0b:f4c2::1\n", "t", &mut Vec::new())
                .into_iter()
                .collect(),
        };
        let hit = |ip: &str| {
            let mut out = Vec::new();
            out.extend(crate::detector::inspect_alone(
                &d,
                &Event::from_json(&json!({"source": {"ip": ip}}).to_string()).unwrap(),
                &LlmText::default(),
            ));
            out.len()
        };
        assert_eq!(hit("185.220.101.4"), 1);
        assert_eq!(hit("::ffff:185.220.101.4"), 1);
        assert_eq!(hit("2a0b:f4c2::1"), 1);
        assert_eq!(hit("10.0.0.1"), 0);
        assert_eq!(hit("10.0.0.***"), 0);
    }
}
