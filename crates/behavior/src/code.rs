//! The codes table of the behavioural analyzers, and their rule metadata.
//!
//! The same shape as the content detectors' table (`modelward_detectors::CODES`), whose row
//! type that crate does not export; the CLI lists both tables.

use modelward_rule::{RuleMeta, RuleType, Severity, Tactic, Technique, Threat};

use crate::analyzers;

/// One row of the codes table.
#[derive(Debug, Clone, Copy)]
pub struct Code {
    pub code: &'static str,
    pub name: &'static str,
    /// Microsoft Defender for Cloud's alert id.
    pub defender: Option<&'static str>,
    pub severity: Severity,
    /// MITRE ATT&CK tactics as Defender lists them.
    pub tactics: &'static [&'static str],
    /// A MITRE ATLAS technique: (id, name).
    pub atlas: (&'static str, &'static str),
    /// The analyzer file's `//!` documentation.
    pub doc: &'static str,
}

/// Every behavioural analyzer, sorted by code.
pub static CODES: &[Code] = &[
    analyzers::recurring_requests::CODE,
    analyzers::volume_anomaly::CODE,
    analyzers::access_anomaly::CODE,
    analyzers::sensitive_data_anomaly::CODE,
];

const ATTACK_TACTICS: [(&str, &str); 14] = [
    ("Reconnaissance", "TA0043"),
    ("Resource Development", "TA0042"),
    ("Initial Access", "TA0001"),
    ("Execution", "TA0002"),
    ("Persistence", "TA0003"),
    ("Privilege Escalation", "TA0004"),
    ("Defense Evasion", "TA0005"),
    ("Credential Access", "TA0006"),
    ("Discovery", "TA0007"),
    ("Lateral Movement", "TA0008"),
    ("Collection", "TA0009"),
    ("Command and Control", "TA0011"),
    ("Exfiltration", "TA0010"),
    ("Impact", "TA0040"),
];

/// The `//!` lines of a source file, without the markers.
pub fn documentation(source: &str) -> String {
    source
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| {
            l.strip_prefix("//! ")
                .or_else(|| l.strip_prefix("//!"))
                .unwrap_or(l)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Code {
    /// modelward's rule metadata for this analyzer.
    pub fn meta(&self) -> RuleMeta {
        let risk = match self.severity {
            Severity::Low => 21,
            Severity::Medium => 47,
            Severity::High => 73,
            Severity::Critical => 99,
        };
        let mut meta = RuleMeta::new(
            self.code,
            self.name,
            RuleType::Detector,
            self.severity,
            risk,
        );
        let doc = documentation(self.doc);
        meta.description = doc
            .split("## What it detects")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .unwrap_or("")
            .trim()
            .to_string();
        meta.note = Some(doc);
        meta.origin = format!("builtin:behavior/{}", self.code);
        if let Some(id) = self.defender {
            meta.tags.push(format!("Defender for Cloud: {id}"));
        }
        meta.tags.push("behavioural".to_string());
        meta.threat.push(Threat {
            framework: "MITRE ATLAS".to_string(),
            tactic: Tactic::default(),
            technique: vec![Technique {
                id: self.atlas.0.to_string(),
                name: self.atlas.1.to_string(),
                reference: format!("https://atlas.mitre.org/techniques/{}", self.atlas.0),
                subtechnique: Vec::new(),
            }],
        });
        for name in self.tactics {
            if let Some((n, id)) = ATTACK_TACTICS.iter().find(|(n, _)| n == name) {
                meta.threat.push(Threat {
                    framework: "MITRE ATT&CK".to_string(),
                    tactic: Tactic {
                        id: id.to_string(),
                        name: n.to_string(),
                        reference: format!("https://attack.mitre.org/tactics/{id}/"),
                    },
                    technique: Vec::new(),
                });
            }
        }
        meta
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sorted_unique_documented_and_mapped() {
        let codes: Vec<&str> = CODES.iter().map(|c| c.code).collect();
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(codes, sorted);
        for c in CODES {
            let doc = documentation(c.doc);
            for heading in [
                "## What it detects",
                "## Why it matters",
                "## Example",
                "## False positives",
                "## Response",
                "## References",
            ] {
                assert!(doc.contains(heading), "{} lacks {heading}", c.code);
            }
            let meta = c.meta();
            assert!(!meta.description.is_empty(), "{}", c.code);
            // Every tactic name is one the table knows.
            assert_eq!(meta.threat.len(), 1 + c.tactics.len(), "{}", c.code);
        }
    }
}
