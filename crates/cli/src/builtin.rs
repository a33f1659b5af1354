//! The built-in rule pack, compiled into the binary.

/// (origin, text) of each built-in ES|QL rule.
pub const ESQL_RULES: &[(&str, &str)] = &[(
    "builtin:esql/azure_openai_model_theft.toml",
    include_str!("../../../rules/esql/azure_openai_model_theft.toml"),
)];
