//! Errors of the inventory library.

use std::io;

use modelward_store::StoreError;

/// Why a file's format could not be read: its bytes start like a model format but its header
/// is broken, or reading failed.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("{format}: {reason}")]
    Bad {
        format: &'static str,
        reason: String,
    },
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl FormatError {
    pub(crate) fn bad(format: &'static str, reason: impl Into<String>) -> FormatError {
        FormatError::Bad {
            format,
            reason: reason.into(),
        }
    }
}

/// An error about one path (reported, and the run goes on) or about the store (fatal).
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{path}: {source}")]
    Format {
        path: String,
        #[source]
        source: FormatError,
    },
    #[error("{path}: the path is not valid UTF-8 (not recorded)")]
    NonUtf8 { path: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl InventoryError {
    pub(crate) fn io(path: impl std::fmt::Display, source: io::Error) -> InventoryError {
        InventoryError::Io {
            path: path.to_string(),
            source,
        }
    }

    pub(crate) fn format(path: impl std::fmt::Display, source: FormatError) -> InventoryError {
        match source {
            FormatError::Io(source) => InventoryError::io(path, source),
            source => InventoryError::Format {
                path: path.to_string(),
                source,
            },
        }
    }
}
