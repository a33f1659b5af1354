//! Format identification from bytes, never from the name: one module per format, each with a
//! cheap test of the first bytes and a bounded reader of its header metadata.
//!
//! [`identify`] returns `Ok(None)` for bytes that are not a model, `Err` for bytes that start
//! like a model format but whose header is broken (truncated, out of bounds), and never
//! panics (fuzzed: `fuzz/fuzz_targets/inventory_identify.rs`).

pub mod gguf;
pub mod hdf5;
pub mod keras;
pub mod numpy;
pub mod onnx;
pub mod pickle;
pub mod protobuf;
pub mod pytorch;
pub mod safetensors;
pub mod savedmodel;
pub mod tflite;

use serde_json::{Map, Value};

use crate::blob::{read_upto, Blob};
use crate::error::FormatError;
use crate::zip;

/// Bytes read from the start of every file to identify it.
pub const PREFIX: usize = 64 * 1024;

/// A model artifact format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// Hugging Face safetensors.
    Safetensors,
    /// llama.cpp GGUF.
    Gguf,
    /// `torch.save`'s zip archive (`*/data.pkl`, `*/data/N`).
    PytorchZip,
    /// `torch.save` with the legacy (pre-1.6) pickle serialization.
    PytorchLegacy,
    /// A Python pickle (protocol 2 or later).
    Pickle,
    /// ONNX `ModelProto`.
    Onnx,
    /// HDF5 (not recognisably Keras).
    Hdf5,
    /// Keras HDF5 (`.h5` saved by Keras).
    KerasH5,
    /// Keras v3 `.keras` zip.
    KerasV3,
    /// TensorFlow SavedModel (`saved_model.pb`, or its folder).
    TfSavedModel,
    /// TensorFlow Lite FlatBuffer.
    Tflite,
    /// NumPy `.npy` array.
    Npy,
    /// NumPy `.npz` (a zip of `.npy`).
    Npz,
}

impl Format {
    pub const ALL: [Format; 13] = [
        Format::Safetensors,
        Format::Gguf,
        Format::PytorchZip,
        Format::PytorchLegacy,
        Format::Pickle,
        Format::Onnx,
        Format::Hdf5,
        Format::KerasH5,
        Format::KerasV3,
        Format::TfSavedModel,
        Format::Tflite,
        Format::Npy,
        Format::Npz,
    ];

    /// The name stored and printed.
    pub fn name(self) -> &'static str {
        match self {
            Format::Safetensors => "safetensors",
            Format::Gguf => "gguf",
            Format::PytorchZip => "pytorch_zip",
            Format::PytorchLegacy => "pytorch_legacy",
            Format::Pickle => "pickle",
            Format::Onnx => "onnx",
            Format::Hdf5 => "hdf5",
            Format::KerasH5 => "keras_h5",
            Format::KerasV3 => "keras_v3",
            Format::TfSavedModel => "tf_savedmodel",
            Format::Tflite => "tflite",
            Format::Npy => "npy",
            Format::Npz => "npz",
        }
    }

    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What identification found: the format, its header metadata and warnings (e.g. a pickle,
/// which can run code when loaded).
#[derive(Clone, Debug, PartialEq)]
pub struct Identified {
    pub format: Format,
    pub metadata: Map<String, Value>,
    pub warnings: Vec<String>,
}

impl Identified {
    pub(crate) fn new(format: Format, metadata: Map<String, Value>) -> Identified {
        Identified {
            format,
            metadata,
            warnings: Vec::new(),
        }
    }

    /// The metadata with the warnings under `"warnings"`, as stored.
    pub fn metadata_json(&self) -> Value {
        let mut m = self.metadata.clone();
        if !self.warnings.is_empty() {
            m.insert("warnings".into(), self.warnings.clone().into());
        }
        Value::Object(m)
    }
}

/// Identifies the model format of `blob` from its bytes.
pub fn identify(blob: &dyn Blob) -> Result<Option<Identified>, FormatError> {
    let prefix = read_upto(blob, 0, PREFIX)?;
    identify_with_prefix(blob, &prefix)
}

/// [`identify`] when the first bytes (up to [`PREFIX`]) are already read.
pub fn identify_with_prefix(
    blob: &dyn Blob,
    prefix: &[u8],
) -> Result<Option<Identified>, FormatError> {
    if gguf::matches(prefix) {
        return gguf::read(blob).map(Some);
    }
    if numpy::matches(prefix) {
        return numpy::read_npy(prefix).map(Some);
    }
    if tflite::matches(prefix) {
        return tflite::read(blob).map(Some);
    }
    if zip::matches(prefix) {
        return identify_zip(blob, prefix);
    }
    if pickle::matches(prefix) {
        return Ok(pickle::read(prefix, blob.size()));
    }
    if safetensors::matches(prefix, blob.size()) {
        return safetensors::read(blob).map(Some);
    }
    if let Some(offset) = hdf5::signature_offset(blob, prefix)? {
        return hdf5::read(blob, offset).map(Some);
    }
    if onnx::matches(prefix) {
        if let Some(found) = onnx::read(blob)? {
            return Ok(Some(found));
        }
    }
    if savedmodel::matches(prefix) {
        if let Some(found) = savedmodel::read(blob)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// A zip is a model when its entries say so (PyTorch, Keras v3, NumPy npz); any other zip is
/// not (the finder looks inside it as an archive).
fn identify_zip(blob: &dyn Blob, prefix: &[u8]) -> Result<Option<Identified>, FormatError> {
    let entries = match zip::entries(blob) {
        Ok(entries) => entries,
        Err(e) => {
            // Without a readable central directory (a large compressed member read only in
            // part), the local headers in the prefix still name the first entries.
            let names = zip::local_names(prefix);
            if pytorch::matches_names(names.iter().map(String::as_str)) {
                let mut m = Map::new();
                m.insert("partial".into(), Value::Bool(true));
                let mut found = Identified::new(Format::PytorchZip, m);
                found.warnings.push(pickle::WARNING.into());
                return Ok(Some(found));
            }
            return Err(FormatError::bad("zip", e.to_string()));
        }
    };
    if let Some(found) = pytorch::read(blob, &entries)? {
        return Ok(Some(found));
    }
    if let Some(found) = keras::read_v3(blob, &entries)? {
        return Ok(Some(found));
    }
    if let Some(found) = numpy::read_npz(blob, &entries)? {
        return Ok(Some(found));
    }
    Ok(None)
}

/// A JSON string of at most `max` characters (longer ones are cut, with `…`).
pub(crate) fn short(s: &str, max: usize) -> Value {
    if s.chars().count() <= max {
        Value::String(s.to_string())
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        Value::String(t)
    }
}
