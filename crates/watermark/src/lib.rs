//! Output watermark verification (work in progress).
