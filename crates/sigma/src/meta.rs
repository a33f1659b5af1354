//! Sigma rule metadata in modelward's rule model: level to severity and risk score, tags to
//! MITRE ATT&CK and ATLAS mappings.
//!
//! Tags: `attack.t1059.001` is an ATT&CK technique, `attack.execution` an ATT&CK tactic (by
//! its name, as SigmaHQ writes them); `atlas.aml.t0024` and `atlas.aml.ta0000` are MITRE
//! ATLAS techniques and tactics (a modelward convention: Sigma has no ATLAS namespace yet).

use modelward_rule::{RuleMeta, RuleType, Severity, Tactic, Technique, Threat};

use crate::rule::{Common, Level};

const ATTACK_TACTICS: [(&str, &str, &str); 14] = [
    ("reconnaissance", "TA0043", "Reconnaissance"),
    ("resource_development", "TA0042", "Resource Development"),
    ("initial_access", "TA0001", "Initial Access"),
    ("execution", "TA0002", "Execution"),
    ("persistence", "TA0003", "Persistence"),
    ("privilege_escalation", "TA0004", "Privilege Escalation"),
    ("defense_evasion", "TA0005", "Defense Evasion"),
    ("credential_access", "TA0006", "Credential Access"),
    ("discovery", "TA0007", "Discovery"),
    ("lateral_movement", "TA0008", "Lateral Movement"),
    ("collection", "TA0009", "Collection"),
    ("command_and_control", "TA0011", "Command and Control"),
    ("exfiltration", "TA0010", "Exfiltration"),
    ("impact", "TA0040", "Impact"),
];

/// Severity and risk score of a Sigma level (risk scores as Elastic's prebuilt rules use them).
pub fn severity(level: Option<Level>) -> (Severity, u8) {
    match level {
        Some(Level::Critical) => (Severity::Critical, 99),
        Some(Level::High) => (Severity::High, 73),
        Some(Level::Medium) | None => (Severity::Medium, 47),
        Some(Level::Low) => (Severity::Low, 21),
        Some(Level::Informational) => (Severity::Low, 1),
    }
}

fn technique(framework: &str, id: &str) -> Technique {
    let reference = match framework {
        "MITRE ATT&CK" => format!(
            "https://attack.mitre.org/techniques/{}/",
            id.replace('.', "/")
        ),
        _ => format!("https://atlas.mitre.org/techniques/{id}"),
    };
    Technique {
        id: id.to_string(),
        name: id.to_string(),
        reference,
        subtechnique: Vec::new(),
    }
}

/// Threat mappings from tags: one entry per tactic (with every technique of the same
/// framework), or one entry with an unnamed tactic when only techniques are tagged.
pub fn threats(tags: &[String]) -> Vec<Threat> {
    let mut out: Vec<Threat> = Vec::new();
    for framework in ["MITRE ATT&CK", "MITRE ATLAS"] {
        let mut tactics = Vec::new();
        let mut techniques = Vec::new();
        for tag in tags {
            let tag = tag.to_ascii_lowercase();
            match framework {
                "MITRE ATT&CK" => {
                    let Some(rest) = tag.strip_prefix("attack.") else {
                        continue;
                    };
                    if rest.starts_with('t') && rest[1..].starts_with(|c: char| c.is_ascii_digit())
                    {
                        techniques.push(technique(framework, &rest.to_ascii_uppercase()));
                    } else if let Some((_, id, name)) = ATTACK_TACTICS
                        .iter()
                        .find(|(n, _, _)| *n == rest.replace('-', "_"))
                    {
                        tactics.push(Tactic {
                            id: id.to_string(),
                            name: name.to_string(),
                            reference: format!("https://attack.mitre.org/tactics/{id}/"),
                        });
                    }
                }
                _ => {
                    let Some(rest) = tag.strip_prefix("atlas.") else {
                        continue;
                    };
                    let id = rest.to_ascii_uppercase();
                    if id.starts_with("AML.TA") {
                        tactics.push(Tactic {
                            reference: format!("https://atlas.mitre.org/tactics/{id}"),
                            name: id.clone(),
                            id,
                        });
                    } else if id.starts_with("AML.T") {
                        techniques.push(technique(framework, &id));
                    }
                }
            }
        }
        if tactics.is_empty() && !techniques.is_empty() {
            tactics.push(Tactic::default());
        }
        for tactic in tactics {
            out.push(Threat {
                framework: framework.to_string(),
                tactic,
                technique: techniques.clone(),
            });
        }
    }
    out
}

/// modelward's metadata for a Sigma document.
pub fn rule_meta(common: &Common, fallback_id: &str, origin: &str) -> RuleMeta {
    let (severity, risk) = severity(common.level);
    let id = common
        .id
        .clone()
        .or_else(|| common.name.clone())
        .unwrap_or_else(|| fallback_id.to_string());
    let mut meta = RuleMeta::new(&id, &common.title, RuleType::Sigma, severity, risk);
    meta.description = common.description.trim().to_string();
    meta.threat = threats(&common.tags);
    meta.tags = common.tags.clone();
    meta.references = common.references.clone();
    meta.false_positives = common.falsepositives.clone();
    meta.author = common
        .author
        .iter()
        .flat_map(|a| a.split(','))
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();
    meta.license = common.license.clone();
    meta.version = common.modified.clone().or_else(|| common.date.clone());
    meta.origin = origin.to_string();
    meta
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_to_threats() {
        let tags: Vec<String> = [
            "attack.exfiltration",
            "attack.t1020",
            "atlas.aml.t0024",
            "tlp.clear",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let t = threats(&tags);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].tactic.id, "TA0010");
        assert_eq!(t[0].technique[0].id, "T1020");
        assert_eq!(t[1].framework, "MITRE ATLAS");
        assert_eq!(t[1].technique[0].id, "AML.T0024");
    }
}
