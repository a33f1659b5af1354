//! Sigma rules for modelward (specification v2.1): a YAML parser that keeps line and column
//! of every node, detection semantics with every modifier, conditions, correlation rules
//! with sliding windows over event time, filters and processing pipelines.

pub mod condition;
pub mod encoding;
pub mod pattern;
