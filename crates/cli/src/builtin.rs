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
        "builtin:sigma/storage_access_sharing.yml",
        include_str!("../../../rules/sigma/storage_access_sharing.yml"),
    ),
    (
        "builtin:sigma/storage_cross_account_copy.yml",
        include_str!("../../../rules/sigma/storage_cross_account_copy.yml"),
    ),
];
