//! Built-in rules written in Rust (content detectors, behavioural analyzers): one row of a
//! codes table each, whose documentation is the `//!` header of the rule's source file.

use crate::{RuleMeta, RuleType, Severity, Tactic, Technique, Threat};

/// One row of a codes table.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinCode {
    pub code: &'static str,
    pub name: &'static str,
    /// Microsoft Defender for Cloud's alert id, for the alerts of its catalogue.
    pub defender: Option<&'static str>,
    pub severity: Severity,
    /// MITRE ATT&CK tactics as Defender lists them.
    pub tactics: &'static [&'static str],
    /// A MITRE ATLAS technique: (id, name).
    pub atlas: (&'static str, &'static str),
    /// The rule file's source, whose `//!` header is its documentation.
    pub doc: &'static str,
}

/// The headings every built-in rule's documentation has, in order.
pub const DOC_HEADINGS: [&str; 6] = [
    "## What it detects",
    "## Why it matters",
    "## Example",
    "## False positives",
    "## Response",
    "## References",
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

impl BuiltinCode {
    /// Whether its code sorts before `other`'s, byte-wise; usable in a const context, where
    /// the codes tables are checked and sorted.
    pub const fn sorts_before(&self, other: &BuiltinCode) -> bool {
        let (a, b) = (self.code.as_bytes(), other.code.as_bytes());
        let mut i = 0;
        while i < a.len() && i < b.len() {
            if a[i] != b[i] {
                return a[i] < b[i];
            }
            i += 1;
        }
        a.len() < b.len()
    }

    /// The headings of [`DOC_HEADINGS`] its documentation lacks, the tactics ATT&CK does not
    /// have, and what is wrong with its MITRE mappings ([`crate::mitre::problems`]: an empty
    /// or unknown id, a name other than MITRE's): empty when it is complete.
    pub fn problems(&self) -> Vec<String> {
        let doc = documentation(self.doc);
        let mut out: Vec<String> = DOC_HEADINGS
            .iter()
            .filter(|h| !doc.contains(*h))
            .map(|h| format!("{} lacks {h}", self.code))
            .collect();
        for t in self.tactics {
            if crate::mitre::tactic_named(crate::mitre::ATTACK, t).is_none() {
                out.push(format!("{}: unknown tactic {t}", self.code));
            }
        }
        out.extend(crate::mitre::problems(&self.meta("")));
        out
    }

    /// The problems of a codes table: a row not after the one before it (out of order, or a
    /// code twice), and each row's [`problems`](BuiltinCode::problems) and empty description;
    /// empty when the table is sound.
    pub fn table_problems(table: &[BuiltinCode]) -> Vec<String> {
        let mut out: Vec<String> = table
            .windows(2)
            .filter(|pair| !pair[0].sorts_before(&pair[1]))
            .map(|pair| format!("{} is not before {}", pair[0].code, pair[1].code))
            .collect();
        for code in table {
            out.extend(code.problems());
            if code.meta("").description.is_empty() {
                out.push(format!("{} has no description", code.code));
            }
        }
        out
    }

    /// modelward's rule metadata; `family` names the kind of built-in rule in its origin
    /// (`builtin:{family}/{code}`).
    pub fn meta(&self, family: &str) -> RuleMeta {
        let risk = self.severity.default_risk_score();
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
        meta.origin = format!("builtin:{family}/{}", self.code);
        if let Some(id) = self.defender {
            meta.tags.push(format!("Defender for Cloud: {id}"));
        }
        // The ATLAS technique under each of its tactics (ATLAS's own data says which); one
        // the catalogue lacks keeps an empty tactic, which `problems` reports.
        let technique = Technique {
            id: self.atlas.0.to_string(),
            name: self.atlas.1.to_string(),
            reference: format!("https://atlas.mitre.org/techniques/{}", self.atlas.0),
            subtechnique: Vec::new(),
        };
        let mut tactics = crate::mitre::technique_tactics(crate::mitre::ATLAS, self.atlas.0);
        if tactics.is_empty() {
            tactics.push(Tactic::default());
        }
        for tactic in tactics {
            meta.threat.push(Threat {
                framework: crate::mitre::ATLAS.to_string(),
                tactic,
                technique: vec![technique.clone()],
            });
        }
        for name in self.tactics {
            if let Some(tactic) = crate::mitre::tactic_named(crate::mitre::ATTACK, name) {
                meta.threat.push(Threat {
                    framework: crate::mitre::ATTACK.to_string(),
                    tactic,
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

    const SOURCE: &str = "//! ## What it detects\n//! Things.\n//!\n//! ## Why it matters\n//! x\n//! ## Example\n//! ## False positives\n//! ## Response\n//! ## References\n\nfn main() {}\n";

    #[test]
    fn metadata_from_the_row_and_its_documentation() {
        let code = BuiltinCode {
            code: "MW-T-0001",
            name: "A test rule",
            defender: Some("AI.Azure_Test"),
            severity: Severity::High,
            tactics: &["Impact", "Collection"],
            atlas: ("AML.T0024", "Exfiltration via AI Inference API"),
            doc: SOURCE,
        };
        assert!(code.problems().is_empty());
        let meta = code.meta("detector");
        assert_eq!(meta.description, "Things.");
        assert_eq!(meta.origin, "builtin:detector/MW-T-0001");
        assert_eq!(meta.risk_score, 73);
        assert_eq!(meta.tags, vec!["Defender for Cloud: AI.Azure_Test"]);
        let tactics: Vec<&str> = meta.threat.iter().map(|t| t.tactic.id.as_str()).collect();
        // The ATLAS technique under its ATLAS tactic (it was left empty before issue 14).
        assert_eq!(tactics, vec!["AML.TA0010", "TA0040", "TA0009"]);
        let broken = BuiltinCode {
            doc: "//! ## What it detects\n",
            tactics: &["Teleportation"],
            ..code
        };
        assert_eq!(broken.problems().len(), 6);
        let second = BuiltinCode {
            code: "MW-T-0002",
            ..code
        };
        assert!(BuiltinCode::table_problems(&[code, second]).is_empty());
        assert_eq!(
            BuiltinCode::table_problems(&[second, code, code]),
            vec![
                "MW-T-0002 is not before MW-T-0001",
                "MW-T-0001 is not before MW-T-0001"
            ]
        );
        assert_eq!(
            BuiltinCode::table_problems(&[broken]),
            [
                broken.problems(),
                vec!["MW-T-0001 has no description".to_string()]
            ]
            .concat()
        );
    }
}
