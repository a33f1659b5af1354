use std::io;

/// A problem with a whole input, or with a stretch of it that had to be skipped.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{path}: {source}")]
    Open { path: String, source: io::Error },
    #[error(
        "{path}: read failed after {offset} bytes: {source}; the rest of this input is skipped"
    )]
    Read {
        path: String,
        offset: u64,
        source: io::Error,
    },
    #[error("{path}: corrupt or truncated gzip data after {offset} decompressed bytes ({source}); the rest of this input is skipped")]
    Gzip {
        path: String,
        offset: u64,
        source: io::Error,
    },
    #[error("{path}:{line}: record longer than the {limit}-byte limit for one event; skipped")]
    RecordTooLong {
        path: String,
        line: u64,
        limit: usize,
    },
    #[error("{0}")]
    Malformed(ParseError),
    #[error("{path}: not a file, directory or `-`")]
    NotReadable { path: String },
    #[error("{path}: a symbolic link back to a directory it is in (a cycle); not followed")]
    Cycle { path: String },
}

/// A record that is not a valid event: where it is and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ParseError {
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
}
