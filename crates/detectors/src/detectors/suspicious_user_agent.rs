//! ## What it detects
//! A request to an AI endpoint whose user agent (`user_agent.original`) names an offensive
//! tool, a vulnerability scanner, an LLM red-teaming framework, or (at low severity) a bare
//! scripting client, from a built-in list of wildcard patterns and the user's own lists
//! (CSV: `pattern,tool,severity`).
//!
//! ## Why it matters
//! Scanners and attack frameworks announce themselves in their user agent; against an
//! inference endpoint they mean reconnaissance or an attack in progress. Microsoft Defender
//! for Cloud raises "Suspicious user agent detected" (AI.Azure_AccessFromSuspiciousUserAgent)
//! from its threat intelligence.
//!
//! ## Example
//! `user_agent.original: "sqlmap/1.8.2#stable (https://sqlmap.org)"` on a chat completion.
//!
//! ## False positives
//! Approved penetration tests and red-team exercises (garak, PyRIT); internal scripts that
//! call the API with a default HTTP library user agent (those match at low severity only).
//!
//! ## Response
//! Identify the key or identity and the source address; if the use is not approved, revoke
//! the key and block the address; review what the requests asked and what came back.
//!
//! ## References
//! - https://learn.microsoft.com/en-us/azure/defender-for-cloud/alerts-ai-workloads
//! - https://attack.mitre.org/techniques/T1595/
//! - https://atlas.mitre.org/techniques/AML.T0006

use modelward_event::Event;
use modelward_rule::Severity;
use regex::RegexSet;
use serde_json::{json, Map};

use crate::detector::{BuildContext, Builtin, Code, Detector, Finding};
use crate::keywords::Scan;
use crate::settings::{read_list, Settings, SettingsError};

pub const CODE: Code = Code {
    code: "MW-AI-0008",
    name: "Suspicious user agent detected",
    defender: Some("AI.Azure_AccessFromSuspiciousUserAgent"),
    severity: Severity::Medium,
    tactics: &["Execution", "Reconnaissance", "Initial Access"],
    atlas: ("AML.T0006", "Active Scanning"),
    doc: include_str!("suspicious_user_agent.rs"),
};

/// (pattern, tool, severity): offensive tools and scanners, LLM attack frameworks, bare
/// scripting clients. Patterns match the whole user agent, case-insensitively, `*` any run.
const BUILT_IN: &[(&str, &str, Severity)] = &[
    ("*sqlmap*", "sqlmap", Severity::High),
    ("*nikto*", "Nikto", Severity::High),
    ("*nuclei*", "Nuclei", Severity::High),
    ("*zgrab*", "ZGrab", Severity::Medium),
    ("*masscan*", "masscan", Severity::Medium),
    ("*nmap scripting engine*", "Nmap", Severity::Medium),
    ("*dirbuster*", "DirBuster", Severity::High),
    ("*gobuster*", "gobuster", Severity::High),
    ("*ffuf*", "ffuf", Severity::High),
    ("*wfuzz*", "Wfuzz", Severity::High),
    ("*hydra*", "THC Hydra", Severity::High),
    ("*metasploit*", "Metasploit", Severity::High),
    ("*burp*", "Burp Suite", Severity::Medium),
    ("*acunetix*", "Acunetix", Severity::High),
    ("*netsparker*", "Netsparker", Severity::High),
    (
        "*garak*",
        "garak (LLM vulnerability scanner)",
        Severity::Medium,
    ),
    ("*pyrit*", "PyRIT (LLM red teaming)", Severity::Medium),
    (
        "*promptmap*",
        "promptmap (prompt injection)",
        Severity::Medium,
    ),
    (
        "*llm-attacks*",
        "llm-attacks (adversarial suffixes)",
        Severity::High,
    ),
    ("*llmfuzzer*", "LLMFuzzer", Severity::Medium),
    ("*promptfoo*", "promptfoo (red teaming)", Severity::Low),
    ("python-requests/*", "python-requests", Severity::Low),
    ("python-urllib*", "Python urllib", Severity::Low),
    ("curl/*", "curl", Severity::Low),
    ("wget/*", "Wget", Severity::Low),
    ("go-http-client/*", "Go net/http", Severity::Low),
    ("libwww-perl/*", "libwww-perl", Severity::Low),
];

pub struct SuspiciousUserAgent {
    set: RegexSet,
    entries: Vec<(String, String, Severity)>,
}

/// A pattern as a regex: the `*` glob of [`modelward_event::glob`], any case. Compiled into
/// one `RegexSet`, every user agent is tested against all patterns (built-in and the user's
/// lists, possibly thousands) in one pass, which `glob_match` pattern by pattern cannot do.
fn glob_regex(pattern: &str) -> String {
    let parts: Vec<String> = pattern.split('*').map(regex::escape).collect();
    format!("(?is)^{}$", parts.join(".*"))
}

fn parse_severity(s: &str) -> Option<Severity> {
    Severity::parse(s.trim())
}

/// One `pattern,tool,severity` line (tool and severity optional).
fn parse_line(line: &str) -> Result<(String, String, Severity), String> {
    let cols: Vec<&str> = line.splitn(3, ',').collect();
    let pattern = cols
        .first()
        .map(|p| p.trim().trim_matches('"'))
        .filter(|p| !p.is_empty())
        .ok_or("empty pattern")?;
    let tool = cols.get(1).map_or(pattern, |t| t.trim().trim_matches('"'));
    let severity = match cols.get(2) {
        Some(s) => parse_severity(s.trim_matches('"')).ok_or_else(|| {
            format!(
                "unknown severity `{}`: expected low, medium, high or critical",
                s.trim()
            )
        })?,
        None => Severity::Medium,
    };
    Ok((pattern.to_string(), tool.to_string(), severity))
}

impl SuspiciousUserAgent {
    /// The built-in list and the user's lists; bad lines go to `skipped`.
    pub fn new(
        settings: &Settings,
        skipped: &mut Vec<SettingsError>,
    ) -> Result<SuspiciousUserAgent, SettingsError> {
        let mut entries: Vec<(String, String, Severity)> = BUILT_IN
            .iter()
            .map(|(p, t, s)| (p.to_string(), t.to_string(), *s))
            .collect();
        for path in &settings.user_agent_lists {
            let text = read_list(path)?;
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty()
                    || line.starts_with('#')
                    || (n == 0 && line.to_ascii_lowercase().starts_with("pattern,"))
                {
                    continue;
                }
                match parse_line(line) {
                    Ok(entry) => entries.push(entry),
                    Err(message) => skipped.push(SettingsError::Line {
                        file: path.display().to_string(),
                        line: n + 1,
                        message,
                    }),
                }
            }
        }
        let set = RegexSet::new(entries.iter().map(|(p, _, _)| glob_regex(p))).map_err(|e| {
            SettingsError::Line {
                file: "user agent patterns".into(),
                line: 0,
                message: e.to_string(),
            }
        })?;
        Ok(SuspiciousUserAgent { set, entries })
    }
}

impl Builtin for SuspiciousUserAgent {
    const CODES: &'static [Code] = &[CODE];

    fn build(
        settings: &Settings,
        ctx: &mut BuildContext<'_>,
    ) -> Result<Option<Self>, SettingsError> {
        SuspiciousUserAgent::new(settings, &mut ctx.skipped).map(Some)
    }
}

impl Detector for SuspiciousUserAgent {
    fn codes(&self) -> Vec<&'static str> {
        vec![CODE.code]
    }

    fn inspect(&self, event: &Event, _scan: &Scan<'_>, out: &mut Vec<Finding>) {
        let Some(ua) = event.get_str("user_agent.original") else {
            return;
        };
        // The most severe of the matching entries names the tool.
        let Some(best) = self
            .set
            .matches(ua)
            .into_iter()
            .max_by_key(|&i| self.entries[i].2)
        else {
            return;
        };
        let (pattern, tool, severity) = &self.entries[best];
        let mut evidence = Map::new();
        evidence.insert("user_agent".into(), json!(ua));
        evidence.insert("tool".into(), json!(tool));
        evidence.insert("pattern".into(), json!(pattern));
        evidence.insert("severity".into(), json!(severity.as_str()));
        out.push(Finding {
            code: CODE.code,
            role: None,
            summary: format!("user agent of {tool}"),
            evidence,
            severity: Some(*severity),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::LlmText;

    fn find(d: &SuspiciousUserAgent, ua: &str) -> Vec<Finding> {
        let e = Event::from_json(&json!({"user_agent": {"original": ua}}).to_string()).unwrap();
        let mut out = Vec::new();
        out.extend(crate::detector::inspect_alone(d, &e, &LlmText::default()));
        out
    }

    #[test]
    fn built_in_tools_and_clients() {
        let d = SuspiciousUserAgent::new(&Settings::default(), &mut Vec::new()).unwrap();
        assert_eq!(
            find(&d, "sqlmap/1.8.2#stable (https://sqlmap.org)")[0].evidence["tool"],
            json!("sqlmap")
        );
        let scripted = find(&d, "python-requests/2.31.0");
        assert_eq!(scripted[0].evidence["severity"], json!("low"));
        // The alert takes the entry's severity, not the detector's medium.
        assert_eq!(scripted[0].severity, Some(Severity::Low));
        assert!(find(&d, "OpenAI/Python 1.51.0").is_empty());
        assert!(find(
            &d,
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"
        )
        .is_empty());
    }

    #[test]
    fn user_lists_add_patterns_and_report_bad_lines() {
        let dir = std::env::temp_dir().join(format!("mw-ua-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("ua.csv");
        std::fs::write(&good, "pattern,tool,severity\nEvilBot/*,EvilBot,critical\n").unwrap();
        let d = SuspiciousUserAgent::new(
            &Settings {
                user_agent_lists: vec![good],
                ..Settings::default()
            },
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(
            find(&d, "evilbot/2.0")[0].evidence["severity"],
            json!("critical")
        );
        let bad = dir.join("bad.csv");
        std::fs::write(&bad, "x*,X,urgent\nEvilBot/*,EvilBot,high\n").unwrap();
        let mut skipped = Vec::new();
        let d = SuspiciousUserAgent::new(
            &Settings {
                user_agent_lists: vec![bad],
                ..Settings::default()
            },
            &mut skipped,
        )
        .unwrap();
        assert_eq!(skipped.len(), 1);
        let e = skipped[0].to_string();
        assert!(
            e.ends_with(
                "bad.csv:1: unknown severity `urgent`: expected low, medium, high or critical"
            ),
            "{e}"
        );
        assert_eq!(
            find(&d, "evilbot/2.0")[0].evidence["severity"],
            json!("high"),
            "the line after the bad one is used"
        );
        assert!(find(&d, "x-client").is_empty(), "the bad line is not used");
    }
}
