//! `modelward watch`'s sources: [`follow`] files and directories as they grow (rotation and
//! truncation handled, positions checkpointed by device and inode) and an HTTP [`ingest`]
//! endpoint that spools what it receives to disk before answering. The engine, the alert
//! sinks and the checkpoints are driven by the CLI (`crates/cli/src/watch.rs`). See
//! docs/watch.md.

pub mod follow;
pub mod ingest;
pub mod kafka;
pub mod metrics;
pub mod scale;
