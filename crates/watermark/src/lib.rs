//! Output watermark verification: is this text, or are these texts together, watermarked
//! with our key?
//!
//! The watermark is the greenlist watermark of Kirchenbauer et al. as Hugging Face
//! Transformers generates it (`model.generate(..., watermarking_config=WatermarkingConfig(...))`)
//! and as its `WatermarkDetector` tests it: the same seeding schemes, hashing key, greenlist
//! ratio and context width, and torch's CPU generator and `randperm` reproduced bit for bit
//! ([`torch_rng`]), so the z-scores agree with Transformers' to rounding
//! (`tools/watermark-crosscheck.sh`, `tests/crosscheck.rs`).
//!
//! ```
//! use modelward_watermark::{Detector, Params};
//! let mut detector = Detector::new(Params::new(1000)).unwrap();
//! let score = detector.score(&[5, 17, 301, 42, 42, 8, 999, 0, 3]).unwrap();
//! assert_eq!(score.tokens_scored, 8);
//! assert!(score.z_score.is_finite());
//! ```
//!
//! [`Tokenizer`] turns text into the model's token ids through its `tokenizer.json`;
//! [`detect::pooled`] pools scores over many texts.

pub mod detect;
pub mod perturbation;
pub mod torch_rng;

use std::path::{Path, PathBuf};

pub use detect::{pooled, Detector, Params, Score, SeedingScheme};

/// What can go wrong verifying a watermark.
#[derive(Debug, thiserror::Error)]
pub enum WatermarkError {
    #[error("bad watermark parameter: {0}")]
    Parameter(String),
    #[error("{tokens} tokens: the test needs at least {needed} (context width + 1)")]
    TooShort { tokens: usize, needed: usize },
    #[error("token id {token} is not below the vocabulary size {vocab_size} (give the model's vocab_size)")]
    TokenOutOfRange { token: u32, vocab_size: u32 },
    #[error("cannot read the tokenizer {path}: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error("cannot tokenize the text: {0}")]
    Encode(String),
}

/// A Hugging Face `tokenizer.json`, read by the `tokenizers` crate.
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
}

impl Tokenizer {
    pub fn from_file(path: &Path) -> Result<Tokenizer, WatermarkError> {
        let inner =
            tokenizers::Tokenizer::from_file(path).map_err(|e| WatermarkError::Tokenizer {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        Ok(Tokenizer { inner })
    }

    /// The number of ids the tokenizer can give, added tokens included (a model's
    /// `vocab_size` is often larger: pass that one when it is).
    pub fn vocab_size(&self) -> u32 {
        self.inner.get_vocab_size(true) as u32
    }

    /// The ids of `text` without special tokens (the model's output as generated).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, WatermarkError> {
        let encoding = self
            .inner
            .encode(text, false)
            .map_err(|e| WatermarkError::Encode(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }
}
