#!/usr/bin/env bash
# Cross-check modelward's watermark verification against Hugging Face Transformers'.
#
# Makes a virtualenv (target/watermark-venv) with torch and transformers from PyPI, trains a
# tokenizer on text made locally, builds a tiny randomly initialised GPT-2, generates
# watermarked and plain text with model.generate(..., watermarking_config=...), runs
# Transformers' WatermarkDetector on it and writes the fixture that
# crates/watermark/tests/crosscheck.rs compares modelward's z-scores with. Nothing but the
# Python packages is downloaded.
#
# torch's PyPI wheel for Linux is built for CUDA and does not import without its CUDA
# libraries, so they are installed too (about 3 GB in the venv; no GPU is used).
# Usage: tools/watermark-crosscheck.sh [FIXTURE_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
fixtures=${1:-crates/watermark/tests/fixtures/crosscheck}
venv=target/watermark-venv
TORCH=2.15.0
TRANSFORMERS=5.25.0
if ! "$venv/bin/python" -c "import torch, transformers" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "torch==$TORCH" "transformers==$TRANSFORMERS" tokenizers
fi
"$venv/bin/python" tools/watermark-crosscheck.py "$fixtures"
cargo test -p modelward-watermark --test crosscheck -- --nocapture
