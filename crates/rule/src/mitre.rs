//! The MITRE ATLAS and ATT&CK names modelward's built-in rules, detectors and analyzers use:
//! every ATLAS and ATT&CK tactic, and the techniques the built-in pack maps to, with the
//! tactics each belongs to. Alerts take their tactic and technique names from here, so a
//! mapping never has an empty id or name, and a Sigma tag that names only a technique gets
//! its tactics.
//!
//! Checked against MITRE's published data: ATLAS `dist/ATLAS.yaml` of
//! [mitre-atlas/atlas-data](https://github.com/mitre-atlas/atlas-data) release 5.6.0
//! (tactic names since ATLAS 5: "AI Model Access", "AI Attack Staging"), and ATT&CK
//! Enterprise (<https://attack.mitre.org/>). A technique not listed here keeps its id as its
//! name (a user's rule may map to any); [`problems`] reports it for the built-in pack, whose
//! test fails until it is added.

use crate::meta::{RuleMeta, Tactic, Technique, Threat};

/// `framework` of ATLAS mappings.
pub const ATLAS: &str = "MITRE ATLAS";
/// `framework` of ATT&CK mappings.
pub const ATTACK: &str = "MITRE ATT&CK";

/// ATLAS tactics: (id, name).
pub const ATLAS_TACTICS: [(&str, &str); 16] = [
    ("AML.TA0000", "AI Model Access"),
    ("AML.TA0001", "AI Attack Staging"),
    ("AML.TA0002", "Reconnaissance"),
    ("AML.TA0003", "Resource Development"),
    ("AML.TA0004", "Initial Access"),
    ("AML.TA0005", "Execution"),
    ("AML.TA0006", "Persistence"),
    ("AML.TA0007", "Defense Evasion"),
    ("AML.TA0008", "Discovery"),
    ("AML.TA0009", "Collection"),
    ("AML.TA0010", "Exfiltration"),
    ("AML.TA0011", "Impact"),
    ("AML.TA0012", "Privilege Escalation"),
    ("AML.TA0013", "Credential Access"),
    ("AML.TA0014", "Command and Control"),
    ("AML.TA0015", "Lateral Movement"),
];

/// ATLAS techniques of the built-in pack: (id, name, tactic ids).
pub const ATLAS_TECHNIQUES: &[(&str, &str, &[&str])] = &[
    ("AML.T0005", "Create Proxy AI Model", &["AML.TA0001"]),
    ("AML.T0006", "Active Scanning", &["AML.TA0002"]),
    ("AML.T0010", "AI Supply Chain Compromise", &["AML.TA0004"]),
    ("AML.T0011", "User Execution", &["AML.TA0005"]),
    ("AML.T0012", "Valid Accounts", &["AML.TA0004", "AML.TA0012"]),
    (
        "AML.T0024",
        "Exfiltration via AI Inference API",
        &["AML.TA0010"],
    ),
    ("AML.T0025", "Exfiltration via Cyber Means", &["AML.TA0010"]),
    ("AML.T0034", "Cost Harvesting", &["AML.TA0011"]),
    ("AML.T0035", "AI Artifact Collection", &["AML.TA0009"]),
    (
        "AML.T0040",
        "AI Model Inference API Access",
        &["AML.TA0000"],
    ),
    ("AML.T0044", "Full AI Model Access", &["AML.TA0000"]),
    ("AML.T0048", "External Harms", &["AML.TA0011"]),
    ("AML.T0051", "LLM Prompt Injection", &["AML.TA0005"]),
    (
        "AML.T0053",
        "AI Agent Tool Invocation",
        &["AML.TA0005", "AML.TA0012"],
    ),
    ("AML.T0054", "LLM Jailbreak", &["AML.TA0012", "AML.TA0007"]),
    ("AML.T0055", "Unsecured Credentials", &["AML.TA0013"]),
    ("AML.T0056", "Extract LLM System Prompt", &["AML.TA0010"]),
    ("AML.T0057", "LLM Data Leakage", &["AML.TA0010"]),
    (
        "AML.T0069",
        "Discover LLM System Information",
        &["AML.TA0008"],
    ),
];

/// ATT&CK Enterprise tactics: (id, name).
pub const ATTACK_TACTICS: [(&str, &str); 14] = [
    ("TA0043", "Reconnaissance"),
    ("TA0042", "Resource Development"),
    ("TA0001", "Initial Access"),
    ("TA0002", "Execution"),
    ("TA0003", "Persistence"),
    ("TA0004", "Privilege Escalation"),
    ("TA0005", "Defense Evasion"),
    ("TA0006", "Credential Access"),
    ("TA0007", "Discovery"),
    ("TA0008", "Lateral Movement"),
    ("TA0009", "Collection"),
    ("TA0011", "Command and Control"),
    ("TA0010", "Exfiltration"),
    ("TA0040", "Impact"),
];

/// ATT&CK techniques of the built-in pack: (id, name, tactic ids). A sub-technique's name is
/// its own ("Additional Cloud Credentials"), as ATT&CK writes it.
pub const ATTACK_TECHNIQUES: &[(&str, &str, &[&str])] = &[
    ("T1020", "Automated Exfiltration", &["TA0010"]),
    ("T1098", "Account Manipulation", &["TA0003", "TA0004"]),
    (
        "T1098.001",
        "Additional Cloud Credentials",
        &["TA0003", "TA0004"],
    ),
    ("T1530", "Data from Cloud Storage", &["TA0009"]),
    ("T1537", "Transfer Data to Cloud Account", &["TA0010"]),
    ("T1552", "Unsecured Credentials", &["TA0006"]),
    ("T1567", "Exfiltration Over Web Service", &["TA0010"]),
    ("T1595", "Active Scanning", &["TA0043"]),
];

fn tactics_of(framework: &str) -> &'static [(&'static str, &'static str)] {
    if framework == ATLAS {
        &ATLAS_TACTICS
    } else {
        &ATTACK_TACTICS
    }
}

fn techniques_of(
    framework: &str,
) -> &'static [(&'static str, &'static str, &'static [&'static str])] {
    if framework == ATLAS {
        ATLAS_TECHNIQUES
    } else {
        ATTACK_TECHNIQUES
    }
}

/// A tactic of `framework` by id (`AML.TA0010`, `TA0010`), with its name and reference.
pub fn tactic(framework: &str, id: &str) -> Option<Tactic> {
    let (id, name) = tactics_of(framework)
        .iter()
        .find(|(i, _)| i.eq_ignore_ascii_case(id))?;
    Some(Tactic {
        id: id.to_string(),
        name: name.to_string(),
        reference: tactic_reference(framework, id),
    })
}

/// A tactic of `framework` by name ("Exfiltration"; ATT&CK's in Sigma's spelling too,
/// `credential_access`).
pub fn tactic_named(framework: &str, name: &str) -> Option<Tactic> {
    let wanted = name.replace(['_', '-'], " ");
    let (id, _) = tactics_of(framework)
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(&wanted))?;
    tactic(framework, id)
}

fn tactic_reference(framework: &str, id: &str) -> String {
    if framework == ATLAS {
        format!("https://atlas.mitre.org/tactics/{id}")
    } else {
        format!("https://attack.mitre.org/tactics/{id}/")
    }
}

/// A technique of `framework` by id, its name from the catalogue (else its id) and its
/// reference.
pub fn technique(framework: &str, id: &str) -> Technique {
    let id = id.to_ascii_uppercase();
    let name = techniques_of(framework)
        .iter()
        .find(|(i, _, _)| *i == id)
        .map_or_else(|| id.clone(), |(_, n, _)| n.to_string());
    let reference = if framework == ATLAS {
        format!("https://atlas.mitre.org/techniques/{id}")
    } else {
        format!(
            "https://attack.mitre.org/techniques/{}/",
            id.replace('.', "/")
        )
    };
    Technique {
        id,
        name,
        reference,
        subtechnique: Vec::new(),
    }
}

/// The tactics a technique of `framework` belongs to (none when it is not catalogued).
pub fn technique_tactics(framework: &str, id: &str) -> Vec<Tactic> {
    techniques_of(framework)
        .iter()
        .find(|(i, _, _)| i.eq_ignore_ascii_case(id))
        .map(|(_, _, tactics)| {
            tactics
                .iter()
                .filter_map(|t| tactic(framework, t))
                .collect()
        })
        .unwrap_or_default()
}

/// Mappings with MITRE's current names: a tactic or technique whose id the catalogue knows
/// takes its name (Elastic's rules still write ATLAS's names before version 5, "ML Model
/// Access" for AML.TA0000) and, when it has none, its reference. Others are kept as written.
pub fn canonical(threats: Vec<Threat>) -> Vec<Threat> {
    threats
        .into_iter()
        .map(|mut t| {
            if t.framework != ATLAS && t.framework != ATTACK {
                return t;
            }
            if let Some(known) = tactic(&t.framework, &t.tactic.id) {
                t.tactic.name = known.name;
                if t.tactic.reference.is_empty() {
                    t.tactic.reference = known.reference;
                }
            }
            for x in &mut t.technique {
                let known = technique(&t.framework, &x.id);
                if known.name != known.id {
                    x.name = known.name;
                }
                if x.reference.is_empty() {
                    x.reference = known.reference;
                }
            }
            t
        })
        .collect()
}

/// What is wrong with a rule's MITRE mappings, one line each: an unknown framework; an empty
/// tactic or technique id or name; an id not in the catalogue above; a name other than
/// MITRE's; an ATLAS technique under a tactic it does not belong to. Empty for a rule whose
/// mappings are all filled and true.
pub fn problems(meta: &RuleMeta) -> Vec<String> {
    let mut out = Vec::new();
    let who = format!("{} ({})", meta.id, meta.name);
    for t in &meta.threat {
        if t.framework != ATLAS && t.framework != ATTACK {
            out.push(format!("{who}: unknown framework {:?}", t.framework));
            continue;
        }
        out.extend(tactic_problems(&who, t));
        for x in &t.technique {
            out.extend(technique_problems(&who, t, x));
        }
    }
    out
}

fn tactic_problems(who: &str, t: &Threat) -> Option<String> {
    let tactic = &t.tactic;
    if tactic.id.is_empty() || tactic.name.is_empty() {
        return Some(format!(
            "{who}: {} tactic without id or name ({:?}, {:?})",
            t.framework, tactic.id, tactic.name
        ));
    }
    match self::tactic(&t.framework, &tactic.id) {
        None => Some(format!(
            "{who}: {} has no tactic {}",
            t.framework, tactic.id
        )),
        Some(known) if known.name != tactic.name => Some(format!(
            "{who}: {} is {:?}, not {:?}",
            tactic.id, known.name, tactic.name
        )),
        Some(_) => None,
    }
}

fn technique_problems(who: &str, t: &Threat, x: &Technique) -> Vec<String> {
    let mut out = Vec::new();
    if x.id.is_empty() || x.name.is_empty() {
        out.push(format!(
            "{who}: {} technique without id or name ({:?}, {:?})",
            t.framework, x.id, x.name
        ));
        return out;
    }
    let Some((_, name, tactics)) = techniques_of(&t.framework)
        .iter()
        .find(|(i, _, _)| *i == x.id)
    else {
        out.push(format!(
            "{who}: {} {} is not in the catalogue (crates/rule/src/mitre.rs)",
            t.framework, x.id
        ));
        return out;
    };
    if *name != x.name {
        out.push(format!("{who}: {} is {name:?}, not {:?}", x.id, x.name));
    }
    if !t.tactic.id.is_empty() && !tactics.contains(&t.tactic.id.as_str()) {
        out.push(format!(
            "{who}: {} ({name}) does not belong to tactic {} (it is in {})",
            x.id,
            t.tactic.id,
            tactics.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_consistent() {
        for (_, _, tactics) in ATLAS_TECHNIQUES {
            assert!(tactics.iter().all(|t| tactic(ATLAS, t).is_some()));
        }
        for (_, _, tactics) in ATTACK_TECHNIQUES {
            assert!(tactics.iter().all(|t| tactic(ATTACK, t).is_some()));
        }
        assert_eq!(
            tactic_named(ATTACK, "credential_access").unwrap().id,
            "TA0006"
        );
        assert_eq!(
            tactic_named(ATLAS, "Exfiltration").unwrap().id,
            "AML.TA0010"
        );
        assert_eq!(
            technique(ATTACK, "t1098.001").name,
            "Additional Cloud Credentials"
        );
        assert_eq!(
            technique(ATTACK, "T1098.001").reference,
            "https://attack.mitre.org/techniques/T1098/001/"
        );
        assert_eq!(technique(ATLAS, "AML.T9999").name, "AML.T9999");
        let names: Vec<String> = technique_tactics(ATLAS, "AML.T0054")
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["Privilege Escalation", "Defense Evasion"]);
    }

    #[test]
    fn problems_name_what_is_empty_unknown_or_misnamed() {
        let mut meta = RuleMeta::new(
            "r",
            "A rule",
            crate::RuleType::Detector,
            crate::Severity::Low,
            21,
        );
        meta.threat.push(Threat {
            framework: ATLAS.into(),
            tactic: Tactic::default(),
            technique: vec![technique(ATLAS, "AML.T0024")],
        });
        meta.threat.push(Threat {
            framework: ATLAS.into(),
            tactic: tactic(ATLAS, "AML.TA0000").unwrap(),
            technique: vec![Technique {
                name: "ML Model Inference API Access".into(),
                ..technique(ATLAS, "AML.T0024")
            }],
        });
        let p = problems(&meta);
        assert_eq!(p.len(), 3, "{p:#?}");
        assert!(p[0].contains("tactic without id or name"));
        assert!(p[1].contains("\"Exfiltration via AI Inference API\", not"));
        assert!(p[2].contains("does not belong to tactic AML.TA0000"));
    }
}
