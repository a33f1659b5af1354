#!/usr/bin/env bash
# Instructions the gateway spends a call (docs/gateway.md#instructions-a-call), counted by
# callgrind, so that a machine busy with other work does not change the figure (wall-clock
# latency on a shared machine measures the machine).
#
# For each mode (whole, stream): `modelward gateway` as tools/gateway-bench.sh runs it (in-path
# detection, the LLM log, the incident database, enforcement), under
# `valgrind --tool=callgrind --separate-threads=yes` with instrumentation off; the benchmark's
# upstream (crates/gateway/examples/bench_upstream.rs) runs natively. A warm-up of --warmup
# calls, then, once the gateway is idle, instrumentation on, --calls calls at --rate a second
# (crates/gateway/examples/bench_load.rs, the benchmark's requests: the simulator's batch job
# from 8 keys), the gateway left to become idle again (detection caught up), instrumentation
# off. Each thread's instructions are put in a group by the functions it ran:
#   request  the tokio runtime's threads (connections, requests, streams forwarded)
#   log      the LLM log's writer thread (records built and written, streams reassembled)
#   detect   in-path detection's thread and the engine's rayon workers
#   other    the database sync thread (every refresh), anything else
# and each group's total divided by the calls sent. Idle work while the calls run (timers,
# detection's 200 ms wake-ups, the refresh) is counted too; at the default rate it is a small
# part of a call (run with --calls 0 to see it alone).
#
# Usage: tools/gateway-instructions.sh [options]
#   --calls N        calls counted per mode (default 500)
#   --rate R         calls a second (default 10: under callgrind, which runs one thread at a
#                    time, the gateway with detection answers about 20 a second)
#   --warmup N       calls before counting (default 100)
#   --modes "M ..."  whole and/or stream (default "whole stream")
#   --detect B       true (default) or false: in-path detection on or off
#   --no-build       use the binaries in target/release as they are
#   --modelward BIN  count this modelward binary (e.g. a build of another commit) instead
#   --out DIR        callgrind files and logs (default target/gateway-instructions)
#
# Prints a table (instructions a call by group, per mode); the per-thread callgrind files stay
# in DIR (callgrind_annotate DIR/MODE.callgrind.*-NN for where they go). About 1-2 minutes a
# mode beyond the build. Needs valgrind, cargo, python3, curl. Ports 127.0.0.1:19311-19312
# (BENCH_PORT_BASE=19310 moves them).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
calls=500
rate=10
warmup=100
modes="whole stream"
detect=true
build=1
modelward=""
out="$root/target/gateway-instructions"
while [ $# -gt 0 ]; do
    case "$1" in
        --calls) calls=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --modes) modes=$2; shift 2 ;;
        --detect) detect=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        --modelward) modelward=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "gateway-instructions: unknown argument $1" >&2; exit 2 ;;
    esac
done
case $detect in true|false) ;; *) echo "gateway-instructions: --detect true or false" >&2; exit 2 ;; esac
command -v valgrind >/dev/null || { echo "gateway-instructions: valgrind is needed" >&2; exit 1; }

base=${BENCH_PORT_BASE:-19310}
up_port=$((base + 1)) gw_port=$((base + 2))

if [ "$build" = 1 ]; then
    (cd "$root" && cargo build --release -q -p modelward -p modelward-corpus --bin modelward --bin simulate-llm-traffic \
        && cargo build --release -q -p modelward-gateway --example bench_upstream --example bench_load)
fi
rel=$root/target/release
modelward=${modelward:-$rel/modelward}
for b in "$modelward" "$rel/simulate-llm-traffic" "$rel/examples/bench_upstream" "$rel/examples/bench_load"; do
    [ -x "$b" ] || { echo "gateway-instructions: $b is missing (run without --no-build)" >&2; exit 1; }
done

mkdir -p "$out"
rm -f "$out"/*.callgrind.* "$out"/*.log "$out"/load.ndjson
"$root/tools/gateway-prompts.sh" "$rel/simulate-llm-traffic" "$out/prompts.ndjson"

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

wait_http() {
    local url=$1 what=$2
    for _ in $(seq 900); do
        curl -sf -o /dev/null --max-time 2 "$url" && return 0
        sleep 0.2
    done
    echo "gateway-instructions: $what did not come up ($url)" >&2
    tail -20 "$out/$what.log" >&2 || true
    exit 1
}
# CPU ticks (user + system) of a process.
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# Waits until process $1 uses less than 2% of a core over 2 s (at most 10 minutes).
idle() {
    local a b
    for _ in $(seq 300); do
        a=$(ticks "$1")
        sleep 2
        b=$(ticks "$1")
        [ $((b - a)) -le 4 ] && return 0
    done
    echo "gateway-instructions: the gateway is still busy after 10 minutes; counting anyway" >&2
}

"$rel/examples/bench_upstream" --listen "127.0.0.1:$up_port" >"$out/upstream.log" 2>&1 &
pids+=("$!")
wait_http "http://127.0.0.1:$up_port/v1/models" upstream

for mode in $modes; do
    rm -rf "$out/$mode"
    mkdir -p "$out/$mode"
    cat >"$out/$mode/gateway.toml" <<EOF
[gateway]
listen = "127.0.0.1:$gw_port"
database = "incidents.db"
log = "llm.ndjson"
detect = $detect
detect_nice = 10

[[gateway.upstreams]]
name = "bench"
url = "http://127.0.0.1:$up_port"

[respond]
enforcement = true
EOF
    valgrind --tool=callgrind --separate-threads=yes --instr-atstart=no --dump-instr=no --compress-strings=no \
        --callgrind-out-file="$out/$mode.callgrind.%p" \
        "$modelward" gateway --config "$out/$mode/gateway.toml" >"$out/gateway.log" 2>&1 &
    gw=$!
    pids+=("$gw")
    wait_http "http://127.0.0.1:$gw_port/healthz" gateway
    stream=""
    [ "$mode" = stream ] && stream=--stream
    send() {
        "$rel/examples/bench_load" --url "http://127.0.0.1:$gw_port" --rate "$rate" \
            --duration "$(awk -v n="$1" -v r="$rate" 'BEGIN {printf "%.3f", n / r}')" --warmup 0 \
            --connections 20 --label "$mode" --prompts "$out/prompts.ndjson" --grace 60 $stream "${@:2}"
    }
    if [ "$warmup" -gt 0 ]; then send "$warmup" >>"$out/load.log"; fi
    idle "$gw"
    callgrind_control -i on "$gw" >/dev/null
    if [ "$calls" -gt 0 ]; then
        send "$calls" --json "$out/load.ndjson" >>"$out/load.log"
    else
        sleep 10
    fi
    idle "$gw"
    callgrind_control -i off "$gw" >/dev/null
    kill -TERM "$gw"
    wait "$gw" || true
    echo "$mode" >>"$out/modes.done"
done

python3 - "$out" "$calls" "$modes" <<'PY'
import glob, json, os, re, sys

out, calls, modes = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
loads = {}
path = os.path.join(out, "load.ndjson")
for line in open(path) if os.path.exists(path) else []:
    r = json.loads(line)
    loads[r["label"]] = r

def group(text, name):
    # By the functions the thread ran (callgrind names each once in full).
    if "LlmLog::write_lines" in text or "log::Logged::line" in text:
        return "log"
    if "StoreSync::sync" in text or "watch_store" in text:
        return "other"
    if "rayon_core::registry" in text or "modelward_engine::" in text or "Detector::run" in text:
        return "detect"
    if "multi_thread::worker" in text or name.endswith("-01"):
        return "request"
    return "other"

groups = ["request", "log", "detect", "other"]
print(f"Instructions a call (callgrind; {calls} calls a mode; request = the tokio threads, "
      "log = the log writer, detect = in-path detection, other = the database sync and the rest)")
print("| mode | calls sent | answered | " + " | ".join(groups) + " | total |")
print("|---|---|---|" + "---|" * (len(groups) + 1))
for mode in modes:
    totals = dict.fromkeys(groups, 0)
    for f in sorted(glob.glob(os.path.join(out, f"{mode}.callgrind.*"))):
        text = open(f, errors="replace").read()
        m = re.search(r"^totals: (\d+)", text, re.M)
        if m:
            totals[group(text, f)] += int(m.group(1))
    r = loads.get(mode, {})
    sent = r.get("scheduled", calls) or 1
    done = r.get("completed", "-")
    cells = [f"{totals[g] / sent / 1000:,.0f}k" for g in groups]
    print(f"| {mode} | {sent} | {done} | " + " | ".join(cells) + f" | {sum(totals.values()) / sent / 1000:,.0f}k |")
PY
