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
//! [`Tokenizer`] turns text into the model's token ids through its `tokenizer.json` or one
//! of OpenAI's tiktoken encodings ([`TiktokenEncoding`], rank files compiled in);
//! [`detect::pooled`] pools scores over many texts.

pub mod detect;
pub mod perturbation;
pub mod torch_rng;

use std::path::{Path, PathBuf};

use serde::Serialize;

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

/// One of OpenAI's tiktoken encodings. Their rank files ship inside the `tiktoken-rs` crate
/// (compiled in): nothing is downloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TiktokenEncoding {
    /// GPT-4, GPT-3.5-turbo, text-embedding-3.
    Cl100kBase,
    /// GPT-4o, GPT-4.1, o1/o3/o4, GPT-5.
    O200kBase,
    /// Codex, text-davinci-002/003.
    P50kBase,
    /// GPT-3 (davinci), GPT-2's vocabulary.
    R50kBase,
}

impl TiktokenEncoding {
    pub const ALL: [TiktokenEncoding; 4] = [
        TiktokenEncoding::Cl100kBase,
        TiktokenEncoding::O200kBase,
        TiktokenEncoding::P50kBase,
        TiktokenEncoding::R50kBase,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TiktokenEncoding::Cl100kBase => "cl100k_base",
            TiktokenEncoding::O200kBase => "o200k_base",
            TiktokenEncoding::P50kBase => "p50k_base",
            TiktokenEncoding::R50kBase => "r50k_base",
        }
    }

    /// tiktoken's `Encoding.n_vocab`: the largest token id, special tokens included, plus one
    /// (cl100k_base's `<|endofprompt|>` is 100276, o200k_base's 200018; p50k_base declares
    /// 50281, r50k_base 50257).
    pub fn n_vocab(self) -> u32 {
        match self {
            TiktokenEncoding::Cl100kBase => 100_277,
            TiktokenEncoding::O200kBase => 200_019,
            TiktokenEncoding::P50kBase => 50_281,
            TiktokenEncoding::R50kBase => 50_257,
        }
    }
}

impl std::str::FromStr for TiktokenEncoding {
    type Err = WatermarkError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TiktokenEncoding::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| {
                WatermarkError::Parameter(format!(
                    "tiktoken encoding {s:?}: expected cl100k_base, o200k_base, p50k_base or r50k_base"
                ))
            })
    }
}

enum Inner {
    HuggingFace(Box<tokenizers::Tokenizer>),
    Tiktoken(TiktokenEncoding, Box<tiktoken_rs::CoreBPE>),
}

/// The model's tokenizer: a Hugging Face `tokenizer.json` read by the `tokenizers` crate, or
/// one of OpenAI's tiktoken encodings.
pub struct Tokenizer {
    inner: Inner,
}

impl Tokenizer {
    pub fn from_file(path: &Path) -> Result<Tokenizer, WatermarkError> {
        let inner =
            tokenizers::Tokenizer::from_file(path).map_err(|e| WatermarkError::Tokenizer {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        Ok(Tokenizer {
            inner: Inner::HuggingFace(Box::new(inner)),
        })
    }

    /// A tiktoken encoding, built from the rank file compiled into `tiktoken-rs` (a fraction of
    /// a second: 100k–200k ranks are decoded into a map).
    pub fn tiktoken(encoding: TiktokenEncoding) -> Result<Tokenizer, WatermarkError> {
        let bpe = match encoding {
            TiktokenEncoding::Cl100kBase => tiktoken_rs::cl100k_base(),
            TiktokenEncoding::O200kBase => tiktoken_rs::o200k_base(),
            TiktokenEncoding::P50kBase => tiktoken_rs::p50k_base(),
            TiktokenEncoding::R50kBase => tiktoken_rs::r50k_base(),
        }
        .map_err(|e| WatermarkError::Tokenizer {
            path: PathBuf::from(encoding.name()),
            message: e.to_string(),
        })?;
        Ok(Tokenizer {
            inner: Inner::Tiktoken(encoding, Box::new(bpe)),
        })
    }

    /// The tiktoken encoding, when it is one.
    pub fn tiktoken_encoding(&self) -> Option<TiktokenEncoding> {
        match &self.inner {
            Inner::Tiktoken(e, _) => Some(*e),
            Inner::HuggingFace(_) => None,
        }
    }

    /// The number of ids the tokenizer can give, added (special) tokens included: for a
    /// tiktoken encoding its `n_vocab`. A model's `vocab_size` is often larger: pass that one
    /// when it is.
    pub fn vocab_size(&self) -> u32 {
        match &self.inner {
            Inner::HuggingFace(t) => t.get_vocab_size(true) as u32,
            Inner::Tiktoken(e, _) => e.n_vocab(),
        }
    }

    /// The ids of `text` without special tokens (the model's output as generated). tiktoken:
    /// `encode_ordinary`, so `<|endoftext|>` in the text is read as plain text, as tiktoken's
    /// `encode(..., disallowed_special=())` reads it.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, WatermarkError> {
        match &self.inner {
            Inner::HuggingFace(t) => {
                let encoding = t
                    .encode(text, false)
                    .map_err(|e| WatermarkError::Encode(e.to_string()))?;
                Ok(encoding.get_ids().to_vec())
            }
            // tiktoken-rs unwraps the split regex's result, which fancy-regex makes an error
            // past its backtracking limit: a text that drives it there is an error, not a
            // crash.
            Inner::Tiktoken(_, bpe) => {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| bpe.encode_ordinary(text)))
                    .map_err(|_| {
                        WatermarkError::Encode(
                            "the tiktoken split regex gave up on this text (backtracking limit)"
                                .into(),
                        )
                    })
            }
        }
    }
}
