use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The risk score of a built-in rule of this severity (Elastic's bands: 21, 47, 73, 99).
    pub fn default_risk_score(self) -> u8 {
        match self {
            Severity::Low => 21,
            Severity::Medium => 47,
            Severity::High => 73,
            Severity::Critical => 99,
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        match text.to_ascii_lowercase().as_str() {
            "low" | "informational" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleType {
    Esql,
    Sigma,
    Detector,
}

impl RuleType {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleType::Esql => "esql",
            RuleType::Sigma => "sigma",
            RuleType::Detector => "detector",
        }
    }
}

/// A MITRE ATT&CK or ATLAS tactic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Tactic {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reference: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Technique {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reference: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subtechnique: Vec<Technique>,
}

/// One threat mapping: a framework, one tactic and its techniques (Elastic's shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Threat {
    pub framework: String,
    pub tactic: Tactic,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub technique: Vec<Technique>,
}

/// What every rule says about itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleMeta {
    pub id: String,
    pub name: String,
    pub rule_type: RuleType,
    pub description: String,
    pub severity: Severity,
    pub risk_score: u8,
    pub threat: Vec<Threat>,
    pub tags: Vec<String>,
    pub references: Vec<String>,
    pub false_positives: Vec<String>,
    pub author: Vec<String>,
    pub license: Option<String>,
    pub version: Option<String>,
    /// The investigation guide (Markdown).
    pub note: Option<String>,
    pub setup: Option<String>,
    /// Where the rule came from: a file path, or `builtin:<name>`.
    pub origin: String,
}

impl RuleMeta {
    pub fn new(
        id: &str,
        name: &str,
        rule_type: RuleType,
        severity: Severity,
        risk_score: u8,
    ) -> RuleMeta {
        RuleMeta {
            id: id.to_string(),
            name: name.to_string(),
            rule_type,
            description: String::new(),
            severity,
            risk_score,
            threat: Vec::new(),
            tags: Vec::new(),
            references: Vec::new(),
            false_positives: Vec::new(),
            author: Vec::new(),
            license: None,
            version: None,
            note: None,
            setup: None,
            origin: String::new(),
        }
    }

    /// Technique ids of every threat mapping (`T0044`, `AML.T0024`, `T1020.001`).
    pub fn technique_ids(&self) -> Vec<&str> {
        self.threat
            .iter()
            .flat_map(|t| &t.technique)
            .flat_map(|t| {
                std::iter::once(t.id.as_str()).chain(t.subtechnique.iter().map(|s| s.id.as_str()))
            })
            .collect()
    }
}
