//! Tensor readers, one module per format: the tensors of a file with their canonical shapes,
//! types and data offsets, every size and offset checked against the file and the limits
//! below. The format is recognised by the inventory's [`identify`], from the bytes.
//!
//! Read: safetensors, GGUF (v1–v3, the quantized types [`crate::dtype::DType`] decodes),
//! PyTorch zip checkpoints (the pickle read as data, never run), ONNX initializers, NumPy
//! `.npy`, and `.npz` archives whose members are stored uncompressed. Not yet: legacy
//! (pre-1.6) PyTorch pickles, ONNX external data, compressed `.npz` members (reported as
//! skipped).

pub mod gguf;
pub mod npy;
pub mod onnx;
pub mod pickle;
pub mod pytorch;
pub mod safetensors;

use modelward_inventory::blob::Blob;
use modelward_inventory::format::{identify, Format};
use modelward_inventory::zip;

use crate::error::FingerprintError;
use crate::tensor::TensorInfo;

/// Most tensors read from one file.
pub const MAX_TENSORS: u64 = 1 << 20;
/// Longest tensor name kept.
pub const MAX_NAME: u64 = 64 * 1024;

/// The tensors of one file.
#[derive(Clone, Debug, Default)]
pub struct TensorFile {
    /// The format's stored name (`safetensors`, `gguf`, `npy`, `npz`).
    pub format: String,
    pub tensors: Vec<TensorInfo>,
    /// Tensors present but not readable (an element type not decoded, a compressed member),
    /// with why.
    pub skipped: Vec<(String, String)>,
    /// Architecture metadata where the format has it (GGUF `general.architecture`).
    pub architecture: Option<String>,
    /// The attention head size where the format says it (GGUF `*.attention.key_length`, or
    /// `*.embedding_length` / `*.attention.head_count`): llama.cpp's converters reorder the
    /// rows of query and key weights within each head (see [`crate::matching::View`]).
    pub head_dim: Option<u64>,
}

/// The tensors of `blob`: `Ok(None)` when it is not a format with readable tensors.
pub fn tensors(blob: &dyn Blob) -> Result<Option<TensorFile>, FingerprintError> {
    let Some(found) = identify(blob)? else {
        return Ok(None);
    };
    let file = match found.format {
        Format::Safetensors => safetensors::read(blob)?,
        Format::Gguf => gguf::read(blob)?,
        Format::Npy => npy::read(blob, 0, blob.size(), "array")?,
        Format::Npz => npz(blob)?,
        Format::Onnx => onnx::read(blob)?,
        Format::PytorchZip => {
            let entries = zip::entries(blob)
                .map_err(|e| FingerprintError::bad("pytorch_zip", e.to_string()))?;
            pytorch::read(blob, &entries)?
        }
        _ => return Ok(None),
    };
    Ok(Some(file))
}

fn npz(blob: &dyn Blob) -> Result<TensorFile, FingerprintError> {
    let entries = zip::entries(blob).map_err(|e| FingerprintError::bad("npz", e.to_string()))?;
    let mut file = TensorFile {
        format: "npz".into(),
        ..TensorFile::default()
    };
    for e in entries.iter().filter(|e| !e.is_dir()) {
        let name = e.name.strip_suffix(".npy").unwrap_or(&e.name).to_string();
        if e.method != 0 {
            file.skipped
                .push((name, "compressed member (not read)".into()));
            continue;
        }
        let start = zip::data_offset(blob, e)
            .map_err(|err| FingerprintError::bad("npz", err.to_string()))?;
        let end = start
            .checked_add(e.compressed_size)
            .filter(|&end| end <= blob.size())
            .ok_or_else(|| FingerprintError::bad("npz", format!("member {name:?} past the end")))?;
        let inner = npy::read(blob, start, end, &name)?;
        file.tensors.extend(inner.tensors);
        file.skipped.extend(inner.skipped);
        if file.tensors.len() as u64 > MAX_TENSORS {
            return Err(FingerprintError::bad("npz", "too many arrays"));
        }
    }
    Ok(file)
}

/// Whether a tensor of `dtype` is read (for a reader deciding to skip).
pub(crate) fn unsupported(dtype: &str) -> String {
    format!("element type {dtype} is not read")
}
