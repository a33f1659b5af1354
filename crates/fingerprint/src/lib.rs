//! Weight fingerprints that survive conversion and quantization.
//!
//! A model's fingerprint is, for each tensor large enough, 256 keyed sign bits: the signs of
//! 128 random ±1 projections of the centred values at 32,768 keyed positions (the
//! *selection* bits), and 128 more from 32,768 other positions (the *test* bits). Positions
//! are taken in the tensor's canonical row-major layout, so GGUF's reversed dimension order,
//! a cast to F16 or BF16, int8 or 4-bit quantization, renaming and reordering leave them
//! where they were; quantization and fine-tuning move the values a little and flip few
//! bits, while an unrelated tensor agrees on half of them. A suspect's tensors are paired
//! with a model's by shape and selection bits, never by name, and the test bits give a
//! false-match probability from a binomial test ([`matching`] states it).
//!
//! - [`read`]: tensor readers (safetensors, GGUF with its quantized types, PyTorch zip
//!   checkpoints with their pickle read as data, ONNX initializers, NumPy npy/npz),
//!   every size and offset checked; [`dtype`] decodes the element types; [`tensor::gather`]
//!   reads values at positions in bounded windows.
//! - [`print`]: keys, sampling plans and the per-tensor SimHash; [`model`]: a model's
//!   fingerprint; [`matching`]: pairing and the test; [`stats`]: the tail probabilities.
//! - [`registry`]: the registered models of one key and [`Registry::examine`], the one call
//!   that compares a file with all of them (`fingerprint match`, `inventory find` through
//!   the inventory's `Recognize`, the storage detector's object examiner).
//! - [`store`]: fingerprints in the modelward database.
//! - [`write`] and [`synth`]: writers (safetensors, GGUF, npy, the ggml quantizers) and
//!   generated models, for tests and measurements.
//!
//! ```
//! use modelward_fingerprint::{matching::Suspect, model::{ModelPrint, Plans}, print::Key};
//! use modelward_fingerprint::{dtype::DType, read, synth::Arch, write};
//!
//! let key = Key::new(b"our secret");
//! let ours = Arch::tiny_llama(1).random(7);
//! let file = write::safetensors(&ours, DType::F32).unwrap();
//! let mut print = ModelPrint::new("ours", &key);
//! print.add_file(&key, &mut Plans::default(), &file).unwrap();
//!
//! // the same weights converted to GGUF and quantized to 4 bits
//! let gguf = write::gguf(&ours, DType::Q4_0, "llama").unwrap();
//! let tensors = read::tensors(&gguf).unwrap().unwrap().tensors;
//! let verdict = Suspect::new(&key, &gguf, tensors).compare(&print).unwrap();
//! assert!(verdict.p() < 1e-9);
//! ```

pub mod dtype;
pub mod error;
pub mod matching;
pub mod model;
pub mod print;
pub mod read;
pub mod registry;
pub mod stats;
pub mod store;
pub mod synth;
pub mod tensor;
pub mod write;

pub use error::FingerprintError;
pub use matching::{ModelMatch, Pair, Suspect, View};
pub use model::{ModelPrint, Plans};
pub use print::{Key, TensorPrint};
pub use registry::{Examined, Registered, Registry};
