#!/usr/bin/env bash
# The gateway's memory over a soak (docs/gateway.md#benchmark): `modelward gateway` with
# in-path detection and containment on, alone in front of the benchmark's local upstream, at a
# fixed rate of whole and streamed calls together (2,000/s: 1,000/s of each, from two
# open-loop load generators) for ten minutes, its resident memory (RSS, the sum over its
# process) sampled every 10 s and once more after the load, when detection has caught up.
# Prints the samples a minute apart, the range and trend after the first two minutes, each
# load's achieved rate and latency, and /healthz (calls not analysed). Samples in
# target/gateway-bench/soak_rss.tsv (seconds, MB).
#
# Usage: tools/gateway-soak.sh [--soak S] [--soak-rate R] [--soak-modes "whole stream"]
#                              [--no-build] [--out DIR] ...  (any tools/gateway-bench.sh option)
set -euo pipefail
exec "$(dirname "$0")/gateway-bench.sh" --soak-only --soak 600 --soak-rate 2000 \
    --soak-modes "whole stream" --quiet-wait 10 "$@"
