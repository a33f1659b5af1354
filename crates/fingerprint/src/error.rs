//! Errors of the fingerprint library.

use std::io;

use modelward_inventory::FormatError;
use modelward_store::StoreError;

/// Why tensors could not be read or a fingerprint not built or matched.
#[derive(Debug, thiserror::Error)]
pub enum FingerprintError {
    /// The bytes start like a tensor format but break its rules (truncated, out of bounds,
    /// past a limit).
    #[error("{format}: {reason}")]
    Bad {
        format: &'static str,
        reason: String,
    },
    /// Identification of the file failed (its header is broken).
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored fingerprint is not one this version reads.
    #[error("stored fingerprint of model {model}: {reason}")]
    Stored { model: String, reason: String },
}

impl FingerprintError {
    pub(crate) fn bad(format: &'static str, reason: impl Into<String>) -> FingerprintError {
        FingerprintError::Bad {
            format,
            reason: reason.into(),
        }
    }
}
