//! The built-in rule pack, compiled into the binary.

/// (origin, text) of each built-in ES|QL rule.
pub const ESQL_RULES: &[(&str, &str)] = &[(
    "builtin:esql/azure_openai_model_theft.toml",
    include_str!("../../../rules/esql/azure_openai_model_theft.toml"),
)];

/// (origin, text) of each built-in Sigma rule file.
pub const SIGMA_RULES: &[(&str, &str)] = &[
    (
        "builtin:sigma/ai_model_theft.yml",
        include_str!("../../../rules/sigma/ai_model_theft.yml"),
    ),
    (
        "builtin:sigma/azure_openai_key_listing_burst.yml",
        include_str!("../../../rules/sigma/azure_openai_key_listing_burst.yml"),
    ),
    (
        "builtin:sigma/bedrock_guardrail_intervention.yml",
        include_str!("../../../rules/sigma/bedrock_guardrail_intervention.yml"),
    ),
    (
        "builtin:sigma/llm_offensive_tool_user_agent.yml",
        include_str!("../../../rules/sigma/llm_offensive_tool_user_agent.yml"),
    ),
    (
        "builtin:sigma/model_weights_download.yml",
        include_str!("../../../rules/sigma/model_weights_download.yml"),
    ),
    (
        "builtin:sigma/openai_api_key_churn.yml",
        include_str!("../../../rules/sigma/openai_api_key_churn.yml"),
    ),
    (
        "builtin:sigma/storage_access_sharing.yml",
        include_str!("../../../rules/sigma/storage_access_sharing.yml"),
    ),
    (
        "builtin:sigma/storage_cross_account_copy.yml",
        include_str!("../../../rules/sigma/storage_cross_account_copy.yml"),
    ),
    (
        "builtin:sigma/vertex_ai_model_export.yml",
        include_str!("../../../rules/sigma/vertex_ai_model_export.yml"),
    ),
];

#[cfg(test)]
mod tests {
    use super::ESQL_RULES;
    use crate::args::RuleSource;
    use crate::ruleset::RuleSet;

    /// Issue 14, item 8: every built-in rule, detector and analyzer maps to MITRE ATLAS or
    /// ATT&CK, and every tactic and technique it names has its id and MITRE's name (checked
    /// against `modelward_rule::mitre`, itself checked against ATLAS 5.6.0 and ATT&CK).
    #[test]
    fn every_built_in_rule_detector_and_analyzer_has_full_and_true_mitre_mappings() {
        let set = RuleSet::load(&RuleSource {
            rules: Vec::new(),
            no_builtin: false,
            pipelines: Vec::new(),
        });
        let metas = set.metas();
        let builtins =
            ESQL_RULES.len() + modelward_detectors::CODES.len() + modelward_behavior::CODES.len();
        assert!(metas.len() > builtins, "{} rules", metas.len());
        let mut problems = Vec::new();
        for m in &metas {
            if m.threat.is_empty() {
                problems.push(format!("{} ({}): no MITRE mapping", m.id, m.name));
            }
            problems.extend(modelward_rule::mitre::problems(m));
        }
        assert!(problems.is_empty(), "{problems:#?}");
    }
}
