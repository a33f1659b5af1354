//! ES|QL for modelward: lexer, parser, planner and executor, without Elasticsearch.
pub mod agg;
pub mod ast;
pub mod dissect;
pub mod error;
pub mod eval;
pub mod functions;
pub mod grok;
mod lexer;
pub mod parser;
pub mod plan;
pub mod table;
pub mod value;

pub use error::EsqlError;
pub use plan::{run_query, Output, Plan, PlanOptions};
pub use value::{DataType, Value};
pub mod prefilter;
pub mod rulefile;

pub use rulefile::{
    parse_esql_file, parse_esql_file_within, parse_toml_rule, parse_toml_rule_within, EsqlRule,
    RuleError,
};
