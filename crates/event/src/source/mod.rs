//! Source normalizers: one module per raw log format.
pub mod azure_openai;
