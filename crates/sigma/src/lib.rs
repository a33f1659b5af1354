//! Sigma rules for modelward (specification v2.1): a YAML parser that keeps line and column
//! of every node, detection semantics with every modifier, conditions, correlation rules
//! with sliding windows over event time, filters and processing pipelines.

pub mod collection;
pub mod condition;
pub mod detection;
pub mod encoding;
pub mod gate;
pub mod logsource;
pub mod meta;
pub mod pattern;
pub mod regex_literals;
pub mod rule;
pub mod yaml;

pub use collection::{LoadError, RuleTests, SigmaCorrelation, SigmaRule, SigmaSet, Source};
pub mod correlation;
pub mod pipeline;
