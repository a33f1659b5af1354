//! Events for modelward.
pub mod source;
