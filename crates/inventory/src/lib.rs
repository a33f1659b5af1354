//! The model inventory: identify model artifacts from their bytes (never their names), read
//! their header metadata, hash them, record them in the store, verify them later, and find
//! model files anywhere, inside tar, tar.gz and zip archives too.
//!
//! - [`format`]: one module per format (safetensors, GGUF, PyTorch zip and legacy pickle,
//!   pickle, ONNX, HDF5/Keras, Keras v3, TF SavedModel, TFLite, NumPy npy/npz);
//!   [`format::identify`] is the entry point. Reads are bounded; nothing panics on any input.
//! - [`hash`]: SHA-256 or BLAKE3 with a fixed buffer.
//! - [`scan()`], [`verify()`], [`find()`]: the three commands, reporting through callbacks.
//! - [`zip`] and [`tar`]: small bounded archive readers.
//!
//! ```
//! use modelward_inventory::format::{identify, Format};
//!
//! // a GGUF v3 header with no tensors and no key/values
//! let mut bytes = b"GGUF".to_vec();
//! bytes.extend(3u32.to_le_bytes());
//! bytes.extend(0u64.to_le_bytes());
//! bytes.extend(0u64.to_le_bytes());
//! let found = identify(&bytes).unwrap().unwrap();
//! assert_eq!(found.format, Format::Gguf);
//! assert_eq!(found.metadata["version"], 3);
//! ```

pub mod artifact;
pub mod blob;
pub mod error;
pub mod find;
pub mod format;
pub mod hash;
pub mod malware;
pub mod samples;
pub mod scan;
pub mod tar;
pub mod verify;
pub mod walk;
pub mod zip;

pub use artifact::{Artifact, NoProgress, Progress};
pub use error::{FormatError, InventoryError};
pub use find::{
    find, find_copies, FindEvent, FindSummary, Found, ModelCopy, Recognize, Recognized,
};
pub use format::{identify, Format, Identified};
pub use hash::HashAlgorithm;
pub use scan::{scan, Change, ScanEvent, ScanSummary};
pub use verify::{verify, Check, Status, VerifySummary};
