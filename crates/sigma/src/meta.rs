//! Sigma rule metadata in modelward's rule model: level to severity and risk score, tags to
//! MITRE ATT&CK and ATLAS mappings.
//!
//! Tags: `attack.t1059.001` is an ATT&CK technique, `attack.execution` an ATT&CK tactic (by
//! its name, as SigmaHQ writes them); `atlas.aml.t0024` and `atlas.aml.ta0000` are MITRE
//! ATLAS techniques and tactics (a modelward convention: Sigma has no ATLAS namespace yet).

use modelward_rule::{mitre, RuleMeta, RuleType, Severity, Tactic, Technique, Threat};

use crate::rule::{Common, Level};

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

/// Threat mappings from tags: one entry per tactic with every technique of the same
/// framework that belongs to it. Names come from the MITRE catalogue
/// (`modelward_rule::mitre`); a technique tagged without its tactic gets the tactics it
/// belongs to; a technique the catalogue does not know keeps its id as its name and, with no
/// tactic tagged, an unnamed tactic.
pub fn threats(tags: &[String]) -> Vec<Threat> {
    let mut out: Vec<Threat> = Vec::new();
    for framework in [mitre::ATTACK, mitre::ATLAS] {
        let mut tactics: Vec<Tactic> = Vec::new();
        let mut techniques: Vec<Technique> = Vec::new();
        for tag in tags {
            let tag = tag.to_ascii_lowercase();
            let prefix = if framework == mitre::ATTACK {
                "attack."
            } else {
                "atlas."
            };
            let Some(rest) = tag.strip_prefix(prefix) else {
                continue;
            };
            let id = rest.to_ascii_uppercase();
            let is_technique = if framework == mitre::ATTACK {
                rest.starts_with('t') && rest[1..].starts_with(|c: char| c.is_ascii_digit())
            } else {
                id.starts_with("AML.T") && !id.starts_with("AML.TA")
            };
            if is_technique {
                techniques.push(mitre::technique(framework, &id));
            } else if framework == mitre::ATLAS && id.starts_with("AML.TA") {
                tactics.push(mitre::tactic(framework, &id).unwrap_or_else(|| Tactic {
                    reference: format!("https://atlas.mitre.org/tactics/{id}"),
                    name: id.clone(),
                    id: id.clone(),
                }));
            } else if let Some(t) = mitre::tactic_named(framework, rest) {
                tactics.push(t);
            }
        }
        // A catalogued technique none of whose tactics is tagged brings its tactics.
        for x in &techniques {
            let own = mitre::technique_tactics(framework, &x.id);
            if !own.iter().any(|t| tactics.contains(t)) {
                for t in own {
                    if !tactics.contains(&t) {
                        tactics.push(t);
                    }
                }
            }
        }
        let uncatalogued = |x: &&Technique| mitre::technique_tactics(framework, &x.id).is_empty();
        if tactics.is_empty() && techniques.iter().any(|x| uncatalogued(&x)) {
            tactics.push(Tactic::default());
        }
        for tactic in tactics {
            // The techniques that belong to this tactic, and those the catalogue does not
            // know (under every tactic tagged).
            let technique: Vec<Technique> = techniques
                .iter()
                .filter(|x| {
                    uncatalogued(x)
                        || mitre::technique_tactics(framework, &x.id)
                            .iter()
                            .any(|t| t.id == tactic.id)
                })
                .cloned()
                .collect();
            out.push(Threat {
                framework: framework.to_string(),
                tactic,
                technique,
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
        // Names from MITRE's data, and a technique's tactic when none is tagged (issue 14:
        // they were the ids, and an empty tactic).
        assert_eq!(t[0].technique[0].name, "Automated Exfiltration");
        assert_eq!(t[1].technique[0].name, "Exfiltration via AI Inference API");
        assert_eq!(
            (t[1].tactic.id.as_str(), t[1].tactic.name.as_str()),
            ("AML.TA0010", "Exfiltration")
        );
        let only: Vec<String> = vec!["attack.t1098.001".into(), "atlas.aml.t0054".into()];
        let t = threats(&only);
        let tactics: Vec<(&str, &str)> = t
            .iter()
            .map(|x| (x.tactic.id.as_str(), x.technique[0].name.as_str()))
            .collect();
        assert_eq!(
            tactics,
            [
                ("TA0003", "Additional Cloud Credentials"),
                ("TA0004", "Additional Cloud Credentials"),
                ("AML.TA0012", "LLM Jailbreak"),
                ("AML.TA0007", "LLM Jailbreak")
            ]
        );
        // A technique MITRE's catalogue here does not know keeps its id, under an unnamed
        // tactic when none is tagged.
        let t = threats(&["attack.t9999".to_string()]);
        assert_eq!(t[0].technique[0].name, "T9999");
        assert_eq!(t[0].tactic.id, "");
    }
}
