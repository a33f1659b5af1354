#!/usr/bin/env bash
# `modelward hunt` with the whole built-in pack (the default) beside the parse floor: a
# serde_json parse of every line of the same file (crates/engine/benches/parse_floor.rs),
# on one core, in the same run (issue 16: the pack at >= 0.5x the floor; README
# "Performance").
#
# What it does:
#   1. builds `modelward`, `gen-azure-logs` and the parse_floor bench (release) unless
#      --no-build;
#   2. generates Azure OpenAI diagnostic logs with `gen-azure-logs --bytes SIZE` into
#      target/hunt-floor/ (cached by SIZE), and a one-record file for the start-up;
#   3. times, --runs passes, alternating within each pass: the floor (its own clock, the
#      file already in memory), `modelward hunt -q -j 1 --format ndjson -o /dev/null FILE`
#      and the same hunt over the one record (start-up: rules compiled, detectors built),
#      each pinned to one core with taskset when there is one; prints the medians: MB/s of
#      the floor, of the hunt (whole run, and beyond start-up), and hunt / floor;
#   4. with --callgrind instead: instructions under valgrind's callgrind, which a busy
#      machine does not disturb: the floor's (parse loop only: its file read and start-up
#      are measured by a run over an empty file and left out), the hunt's beyond start-up
#      (a one-record run's count subtracted), per byte and per record, and the ratio
#      floor / hunt (the same ratio as the speeds).
#
# Usage: [MODELWARD=binary] tools/hunt-floor.sh [--size 64M] [--runs 5] [--no-build] [--callgrind]
# Needs cargo, and valgrind for --callgrind. Timings are only as good as the machine is
# quiet; on a shared one use --callgrind.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/target/hunt-floor"
size=64M
runs=5
build=1
callgrind=0
while [ $# -gt 0 ]; do
    case "$1" in
        --size) size=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        --callgrind) callgrind=1; shift ;;
        -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
mkdir -p "$out"
cd "$root"

# 1. The binaries.
if [ "$build" = 1 ]; then
    cargo build --release -p modelward --bin modelward >&2
    cargo build --release -p modelward-corpus --bin gen-azure-logs >&2
fi
if [ "$build" = 1 ]; then
    floor=$(cargo bench -p modelward-engine --bench parse_floor --no-run 2>&1 \
        | grep -o 'target/release/deps/parse_floor-[0-9a-f]*' | tail -1)
else
    # The newest one built.
    floor=$(ls -t target/release/deps/parse_floor-* 2>/dev/null | grep -v '\.d$' | head -1 || true)
fi
[ -x "$floor" ] || { echo "parse_floor bench not built (drop --no-build)" >&2; exit 2; }
# MODELWARD: another binary (an earlier build, to compare).
modelward=${MODELWARD:-$root/target/release/modelward}

# 2. The logs.
file="$out/azure-$size.ndjson"
if [ ! -s "$file" ]; then
    "$root/target/release/gen-azure-logs" --bytes "$size" --out "$file.tmp" >&2
    mv "$file.tmp" "$file"
fi
head -n 1 "$file" >"$out/one.ndjson"
: >"$out/empty.ndjson"
bytes=$(wc -c <"$file")
records=$(wc -l <"$file")
echo "file: $file ($bytes bytes, $records records)"

pin=()
if command -v taskset >/dev/null; then pin=(taskset -c 0); fi
# Exit 1 is "alerts raised".
hunt() { "${pin[@]}" "$modelward" hunt -q -j 1 --format ndjson -o /dev/null "$1" || [ $? = 1 ]; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

if [ "$callgrind" = 1 ]; then
    # 4. Instructions.
    irefs() {
        # (a hunt that raises alerts exits 1)
        { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null || true; } \
            | sed -n 's/.*I *refs: *\([0-9,]*\).*/\1/p' \
            | tr -d , | tail -1
    }
    f_all=$(FLOOR_FILE="$file" irefs "$floor" --bench)
    f_none=$(FLOOR_FILE="$out/empty.ndjson" irefs "$floor" --bench)
    h_all=$(irefs "$modelward" hunt -q -j 1 --format ndjson -o /dev/null "$file")
    h_one=$(irefs "$modelward" hunt -q -j 1 --format ndjson -o /dev/null "$out/one.ndjson")
    awk -v fa="$f_all" -v fn="$f_none" -v ha="$h_all" -v ho="$h_one" -v b="$bytes" -v r="$records" 'BEGIN {
        f = fa - fn; h = ha - ho;
        printf "floor (serde_json parse of every line): %.1f instructions/byte, %.0f/record\n", f / b, f / r;
        printf "hunt, built-in pack, beyond start-up:   %.1f instructions/byte, %.0f/record (start-up %.0f M)\n", h / b, h / r, ho / 1e6;
        printf "hunt / floor speed (instructions): %.3fx\n", f / h;
    }'
    exit 0
fi

# 3. Time, alternating.
now() { date +%s.%N; }
: >"$out/floor.txt"; : >"$out/hunt.txt"; : >"$out/start.txt"
for i in $(seq "$runs"); do
    FLOOR_FILE="$file" "${pin[@]}" "$floor" --bench \
        | sed -n 's/.* in \([0-9.]*\) s .*/\1/p' >>"$out/floor.txt"
    t0=$(now); hunt "$file"; t1=$(now)
    echo "$t1 - $t0" | bc -l >>"$out/hunt.txt"
    t0=$(now); hunt "$out/one.ndjson"; t1=$(now)
    echo "$t1 - $t0" | bc -l >>"$out/start.txt"
    echo "pass $i/$runs" >&2
done
f=$(median <"$out/floor.txt")
h=$(median <"$out/hunt.txt")
s=$(median <"$out/start.txt")
awk -v f="$f" -v h="$h" -v s="$s" -v b="$bytes" -v n="$runs" 'BEGIN {
    printf "medians of %d runs, one core:\n", n;
    printf "floor (serde_json parse of every line): %.3f s, %.0f MB/s\n", f, b / 1e6 / f;
    printf "hunt, built-in pack:                    %.3f s, %.0f MB/s (%.0f MB/s beyond a start-up of %.3f s)\n", h, b / 1e6 / h, b / 1e6 / (h - s), s;
    printf "hunt / floor: %.3fx (%.3fx beyond start-up)\n", f / h, f / (h - s);
}'
