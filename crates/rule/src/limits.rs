//! Limits on what loading and running rules may cost: rules are written by strangers and
//! logs by attackers' traffic, and a hostile one must fail alone, with an error that names
//! the limit, instead of exhausting the memory or the stack of the whole run. The configuration's `[rules]` table sets them
//! (docs/configuration.md); the defaults are far above what real rules need.

/// What one rule file or rule may cost. Every limit applies to one input (a file, a query)
/// or one rule's state; hitting a loading limit is an error for that input alone, hitting a
/// state limit evicts and counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes a YAML file (Sigma rules with their tests, a processing pipeline) may hold once
    /// its aliases are expanded: every node counts [`YAML_NODE_BYTES`] plus the length of
    /// its text. A handful of nested aliases ("billion laughs") expand to gigabytes.
    pub max_yaml_bytes: usize,
    /// How deeply YAML sequences and mappings may nest.
    pub max_yaml_depth: usize,
    /// How deeply an ES|QL expression may nest (parentheses, `NOT`, unary minus, function
    /// calls, operator chains: the depth of its syntax tree), as Elasticsearch limits it.
    /// Parsing, compiling and evaluating recurse along that depth.
    pub max_expression_depth: usize,
    /// Groups (distinct values of `group-by`) one Sigma correlation keeps in its state; when
    /// full, the least recently seen tenth is evicted and counted. A field with millions of
    /// distinct values then costs at most this many windows.
    pub max_correlation_groups: usize,
    /// Bytes of compiled regular expressions the whole rule set may hold (every Sigma `re`
    /// and ES|QL `LIKE`, `RLIKE` and `GROK`; see [`crate::RegexBudget`]). Each regex is
    /// also bounded by itself (10 MiB), but thousands of them are not.
    pub regex_budget: usize,
}

/// What a YAML node counts towards [`Limits::max_yaml_bytes`] besides its text.
pub const YAML_NODE_BYTES: usize = 64;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_yaml_bytes: 64 << 20,
            max_yaml_depth: 64,
            max_expression_depth: 400,
            max_correlation_groups: 50_000,
            regex_budget: 256 << 20,
        }
    }
}
