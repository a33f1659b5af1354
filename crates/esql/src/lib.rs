//! ES|QL for modelward: lexer, parser, planner and executor, without Elasticsearch.
pub mod dissect;
pub mod grok;
pub mod value;
pub mod ast;
pub mod error;
mod lexer;
pub mod parser;
pub mod agg;
pub mod eval;
pub mod functions;
pub mod plan;
pub mod table;

pub use error::EsqlError;
pub use plan::{run_query, Output, Plan, PlanOptions};
pub use value::{DataType, Value};
