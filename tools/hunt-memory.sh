#!/usr/bin/env bash
# Peak memory of `modelward hunt` with the built-in pack (rules, detectors and analyzers: the
# default) over generated Azure OpenAI diagnostic logs of one rate of events: SMALL over 3
# days against LARGE over 30 days (default 1G and 10G, as `gen-azure-logs --bytes` reads
# them; seed 7, gzipped, cached in target/compare). Memory is flat in the input's length
# when the second peak is within 1.2x of the first (issue 16; README "Performance").
#
# Prints a table: input, records, alerts, seconds, peak RSS (/usr/bin/time), and the ratio.
# Both cores unless THREADS is set; MODELWARD names another binary. tools/sigma-compare.sh
# --memory runs it too.
#
# Usage: tools/hunt-memory.sh [--small SIZE] [--large SIZE] [--no-build]
# Needs cargo, gzip and GNU time (/usr/bin/time). The 10G file takes about 1.5 GB on disk.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/target/compare"
small=1G
large=10G
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --small) small=$2; shift 2 ;;
        --large) large=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
mkdir -p "$out"

if [ "$build" = 1 ]; then
    (cd "$root" && cargo build --release -p modelward --bin modelward >&2 &&
        cargo build --release -p modelward-corpus --bin gen-azure-logs >&2)
fi
modelward=${MODELWARD:-$root/target/release/modelward}
gen="$root/target/release/gen-azure-logs"
[ -x "$gen" ] || (cd "$root" && cargo build --release -p modelward-corpus --bin gen-azure-logs >&2)

# input SIZE SPAN: the cached file's path (generated on first use).
input() {
    local f="$out/azure-$1-$2.ndjson.gz"
    if [ ! -s "$f" ]; then
        echo "generating $1 of Azure OpenAI logs over $2 into $f ..." >&2
        "$gen" --bytes "$1" --span "$2" --seed 7 | gzip -1 > "$f.tmp"
        mv "$f.tmp" "$f"
    fi
    echo "$f"
}

threads=${THREADS:-0}
echo "## memory: modelward hunt, built-in pack, Azure OpenAI logs ($(date -u +%F), $(nproc) cores, -j $threads)"
echo
echo "| input | records | alerts | seconds | peak RSS | / first |"
echo "|---|---|---|---|---|---|"
first=""
for spec in "$small 3d" "$large 30d"; do
    # shellcheck disable=SC2086
    f=$(input $spec)
    t=$(mktemp)
    set +e
    /usr/bin/time -f '%e %M' -o "$t" "$modelward" hunt -q -j "$threads" --format ndjson "$f" \
        > "$out/memory.alerts" 2> "$out/memory.err"
    rc=$?
    set -e
    if [ "$rc" -gt 1 ]; then
        echo "failed ($rc): $modelward hunt $f" >&2
        tail -5 "$out/memory.err" >&2
        exit 1
    fi
    read -r seconds kb < <(tail -1 "$t")
    rm -f "$t"
    records=$(gzip -dc "$f" | wc -l)
    alerts=$(wc -l < "$out/memory.alerts")
    first=${first:-$kb}
    awk -v n="$spec" -v r="$records" -v a="$alerts" -v s="$seconds" -v k="$kb" -v f="$first" \
        'BEGIN{printf "| %s | %d | %d | %.0f | %.0f MB | %.2f× |\n", n, r, a, s, k/1024, k/f}'
done
echo
