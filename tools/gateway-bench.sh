#!/usr/bin/env bash
# The gateway's latency benchmark beside LiteLLM's proxy (docs/gateway.md#benchmark).
#
# Starts a fast local OpenAI-compatible upstream (crates/gateway/examples/bench_upstream.rs),
# `modelward gateway` in front of it with in-path detection and containment on (detect = true,
# the LLM log, the incident database, enforcement), and LiteLLM's proxy (PyPI, pinned in
# tools/gateway-bench-requirements.txt, in a venv under target/) in front of the same
# upstream; then, for each rate and each mode (whole responses, SSE streams), sends the same
# open-loop load (crates/gateway/examples/bench_load.rs: fixed rate, latency from each
# request's intended send time, so coordinated omission is corrected) to the upstream
# directly, through the gateway and through LiteLLM, one after the other in the same run, and
# prints achieved rates, latency percentiles, the latency each proxy ADDS over the direct call,
# LiteLLM's added p99 over the gateway's, CPU used and peak memory.
#
# Usage: tools/gateway-bench.sh [options]
#   --duration S        measured seconds per run (default 30; each run has 3 s of warm-up)
#   --rates "R ..."     rates in requests/s (default "litellm-max 1000 5000 max"); `max`: the
#                       highest rate the gateway holds (99% achieved, no error, p99 < 10 ms),
#                       found by stepping up from 5,000; `litellm-max`: the highest LiteLLM
#                       holds (99% achieved, no error, p99 < 1 s), stepping up from 25
#   --modes "M ..."     whole and/or stream (default "whole stream")
#   --connections N     connections of the load generator (default 100)
#   --soak S            then run the gateway alone at --soak-rate for S seconds, sampling its
#                       memory every 10 s (e.g. --soak 600; tools/gateway-soak.sh runs one)
#   --soak-rate R       (default 5000)   --soak-only   skip the comparison, soak only
#   --soak-modes "M ..." whole and/or stream (default whole): the rate is shared evenly
#                       between them, one load generator each, all at once
#   --no-build          use the binaries already built
#   --bin-dir DIR       take modelward and simulate-llm-traffic from DIR (e.g. a build of
#                       another checkout) instead of building them into target/release
#   --quiet-wait S      before each run, wait up to S s for the machine to be idle (120)
#   --out DIR           results (default target/gateway-bench; the gateway's log is deleted
#                       at the end unless --keep-log)
#
# Everything runs on this machine: the load generator, the upstream and the proxies share its
# cores, as the README's figures say. Needs cargo, python3 (3.9+, with venv) and curl. Ports
# 127.0.0.1:19301-19303 (BENCH_PORT_BASE=19300 moves them).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
duration=30
rates="litellm-max 1000 5000 max"
modes="whole stream"
connections=100
soak=0
soak_rate=5000
soak_modes=whole
soak_only=0
build=1
bin_dir=""
out="$root/target/gateway-bench"
keep_log=0
quiet_wait=120
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) duration=$2; shift 2 ;;
        --rates) rates=$2; shift 2 ;;
        --modes) modes=$2; shift 2 ;;
        --connections) connections=$2; shift 2 ;;
        --soak) soak=$2; shift 2 ;;
        --soak-rate) soak_rate=$2; shift 2 ;;
        --soak-only) soak_only=1; shift ;;
        --soak-modes) soak_modes=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        --bin-dir) bin_dir=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --keep-log) keep_log=1; shift ;;
        --quiet-wait) quiet_wait=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "gateway-bench: unknown argument $1" >&2; exit 2 ;;
    esac
done

base=${BENCH_PORT_BASE:-19300}
up_port=$((base + 1)) gw_port=$((base + 2)) ll_port=$((base + 3))
upstream_url="http://127.0.0.1:$up_port"
gateway_url="http://127.0.0.1:$gw_port"
litellm_url="http://127.0.0.1:$ll_port"

# --- binaries -----------------------------------------------------------------------------
if [ "$build" = 1 ]; then
    if [ -z "$bin_dir" ]; then
        (cd "$root" && cargo build --release -q -p modelward -p modelward-corpus --bin modelward --bin simulate-llm-traffic)
    fi
    (cd "$root" && cargo build --release -q -p modelward-gateway --example bench_upstream --example bench_load)
fi
bin_dir=${bin_dir:-$root/target/release}
modelward=$bin_dir/modelward
simulator=$bin_dir/simulate-llm-traffic
upstream_bin=$root/target/release/examples/bench_upstream
load_bin=$root/target/release/examples/bench_load
for b in "$modelward" "$simulator" "$upstream_bin" "$load_bin"; do
    [ -x "$b" ] || { echo "gateway-bench: $b is missing (run without --no-build)" >&2; exit 1; }
done

# --- LiteLLM's proxy, from PyPI, in a venv under target/ ----------------------------------
venv=$root/target/bench-venv
requirements=$root/tools/gateway-bench-requirements.txt
pin=$(grep -Eo '^litellm\[proxy\]==[0-9][0-9.]*' "$requirements" | sed 's/.*==//')
if [ "$soak_only" = 0 ] && ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('litellm') != '$pin')" 2>/dev/null; then
    echo "gateway-bench: installing LiteLLM $pin into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
fi

mkdir -p "$out"
rm -f "$out"/results.ndjson "$out"/runs.tsv "$out"/search.* "$out"/soak* "$out"/incidents.db* "$out"/llm.ndjson "$out"/*.log
results=$out/results.ndjson
runs=$out/runs.tsv

# The requests: the ticket texts of the simulator's benign batch job (tools/gateway-prompts.sh),
# so that detection sees a heavy but ordinary job.
"$root/tools/gateway-prompts.sh" "$simulator" "$out/prompts.ndjson"

# --- processes ------------------------------------------------------------------------------
pids=()
cleanup() {
    for p in "${pids[@]}"; do
        # The whole tree (LiteLLM's workers are children of its first process).
        for c in $(tree "$p"); do kill "$c" 2>/dev/null || true; done
    done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ "$keep_log" = 0 ]; then rm -f "$out/llm.ndjson"; fi
}
trap cleanup EXIT

# A process and its descendants.
tree() {
    local p=$1
    echo "$p"
    for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do tree "$c"; done
}
# CPU seconds (user + system) of a process tree.
cpu_of() {
    local t=0 p f
    for p in $(tree "$1"); do
        f=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null) || continue
        t=$((t + $(echo "$f" | awk '{print $12 + $13}')))
    done
    echo "$t" | awk '{printf "%.2f", $1 / 100}'
}
# Peak resident memory of a process tree (the sum of each process's VmHWM), MB.
hwm_of() {
    local t=0 p k
    for p in $(tree "$1"); do
        k=$(awk '/^VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null) || continue
        t=$((t + ${k:-0}))
    done
    echo "$t" | awk '{printf "%.1f", $1 / 1024}'
}
rss_of() {
    local t=0 p k
    for p in $(tree "$1"); do
        k=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null) || continue
        t=$((t + ${k:-0}))
    done
    echo "$t" | awk '{printf "%.1f", $1 / 1024}'
}
# Busy CPU seconds of the whole machine, every process but those running at a lower priority
# (niced builds, which give way to the benchmark's processes).
machine_busy() {
    awk '/^cpu / {printf "%.2f", ($2 + $4 + $7 + $8) / 100}' /proc/stat
}
wait_http() {
    local url=$1 what=$2 tries=${3:-300}
    for _ in $(seq "$tries"); do
        curl -sf -o /dev/null --max-time 2 "$url" && return 0
        sleep 0.2
    done
    echo "gateway-bench: $what did not come up ($url); its log:" >&2
    tail -20 "$out/$what.log" >&2 || true
    exit 1
}

"$upstream_bin" --listen "127.0.0.1:$up_port" >"$out/upstream.log" 2>&1 &
upstream_pid=$!
pids+=("$upstream_pid")
wait_http "$upstream_url/v1/models" upstream

cat >"$out/gateway.toml" <<EOF
# modelward gateway as benchmarked: in-path detection (the built-in rules, detectors and
# analyzers over every call), PB-53 into the incident database, measures enforced; detection's
# threads at nice 10 (detect_nice), giving way to the request path.
[gateway]
listen = "127.0.0.1:$gw_port"
database = "incidents.db"
log = "llm.ndjson"
detect = true
detect_nice = 10

[[gateway.upstreams]]
name = "bench"
url = "$upstream_url"

[respond]
enforcement = true
EOF
"$modelward" gateway --config "$out/gateway.toml" >"$out/gateway.log" 2>&1 &
gateway_pid=$!
pids+=("$gateway_pid")
wait_http "$gateway_url/healthz" gateway

litellm_pid="" litellm_key=""
if [ "$soak_only" = 0 ]; then
    cat >"$out/litellm.yaml" <<EOF
# LiteLLM's proxy as benchmarked: one model, routed to the same upstream as an
# OpenAI-compatible provider; a master key (it refuses to start without one; with no database
# it is the one key it accepts), no database, no callbacks, errors-only logging (its
# production guide's LITELLM_LOG=ERROR).
model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: $upstream_url/v1
      api_key: sk-bench-upstream
litellm_settings:
  set_verbose: false
  request_timeout: 600
EOF
    # No network beyond the upstream: the bundled model cost map, not the remote one.
    # Workers: one per core, as its production guide says for a VM (nproc = 2 here). Uvicorn
    # kills a worker that has not answered its health check within 5 s and starts another:
    # on a loaded machine LiteLLM's imports take longer than that, and no worker ever came
    # up; 120 s lets them start (it changes nothing once they serve).
    litellm_key=sk-$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
    LITELLM_MASTER_KEY=$litellm_key LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOG=ERROR \
        "$venv/bin/litellm" --config "$out/litellm.yaml" --host 127.0.0.1 --port "$ll_port" \
        --num_workers "$(nproc)" --timeout_worker_healthcheck 120 >"$out/litellm.log" 2>&1 &
    litellm_pid=$!
    pids+=("$litellm_pid")
    wait_http "$litellm_url/health/liveliness" litellm 1500
    # Both workers up: a few requests through it.
    for _ in $(seq 20); do
        curl -sf -o /dev/null --max-time 10 "$litellm_url/v1/chat/completions" \
            -H 'content-type: application/json' -H "authorization: Bearer $litellm_key" \
            -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}' || true
    done
fi

sub() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a - b}'; }

# Waits until the servers are idle (less than 5% of a core over a second, at most 60 s:
# LiteLLM finishing what an overload left it, the gateway's detection catching up), then until
# the rest of the machine is (less than 10% of a core busy, niced work aside, at most
# --quiet-wait seconds). Whatever else runs during a run is reported as its "other CPU".
servers_cpu() {
    local t=0 p
    for p in $upstream_pid $gateway_pid $litellm_pid; do
        t=$(awk -v a="$t" -v b="$(cpu_of "$p")" 'BEGIN {print a + b}')
    done
    echo "$t"
}
settle() {
    local a b
    for _ in $(seq 60); do
        a=$(servers_cpu)
        sleep 1
        b=$(servers_cpu)
        if awk -v a="$a" -v b="$b" 'BEGIN {exit !(b - a < 0.05)}'; then break; fi
    done
    for _ in $(seq "$quiet_wait"); do
        a=$(machine_busy)
        sleep 1
        b=$(machine_busy)
        if awk -v a="$a" -v b="$b" 'BEGIN {exit !(b - a < 0.10)}'; then return 0; fi
    done
    echo "gateway-bench: the machine is still busy after ${quiet_wait} s; running anyway" >&2
}

# One run: load NAME URL RATE MODE [SECONDS]; appends to results.ndjson and runs.tsv.
load() {
    local name=$1 url=$2 rate=$3 mode=$4 secs=${5:-$duration} pid stream="" cpu0 cpu1 up0 up1 m0 m1
    local key=()
    case $name in gateway) pid=$gateway_pid ;; litellm) pid=$litellm_pid key=(--key "$litellm_key") ;; *) pid=$upstream_pid ;; esac
    [ "$mode" = stream ] && stream=--stream
    settle
    cpu0=$(cpu_of "$pid") up0=$(cpu_of "$upstream_pid") m0=$(machine_busy)
    "$load_bin" --url "$url" --rate "$rate" --duration "$secs" --connections "$connections" \
        --label "$name" --json "$results" --prompts "$out/prompts.ndjson" $stream "${key[@]}" | tee -a "$out/load.log"
    cpu1=$(cpu_of "$pid") up1=$(cpu_of "$upstream_pid") m1=$(machine_busy)
    local health=""
    if [ "$name" = gateway ]; then
        health=$(curl -sf --max-time 5 "$gateway_url/healthz" || echo '{}')
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$rate" "$mode" \
        "$(sub "$cpu1" "$cpu0")" "$(sub "$up1" "$up0")" "$(sub "$m1" "$m0")" \
        "${health:-{\}}" >>"$runs"
}

# Whether the last result line held its rate: 99% achieved, no errors, nothing unfinished,
# p99 under $1 µs.
held() {
    tail -1 "$results" | python3 -c '
import json, sys
r, bound = json.loads(sys.stdin.read()), float(sys.argv[1])
ok = r["achieved_rps"] >= 0.99 * r["rate"] and r["errors"] == 0 and r["unfinished"] == 0 and r["latency_us"]["p99"] < bound
sys.exit(0 if ok else 1)' "$1"
}

# The highest of the rates given that NAME holds (10 s runs, kept apart from the table's):
# highest NAME URL MODE BOUND_US RATE...
highest() {
    local name=$1 url=$2 mode=$3 bound=$4 best=0 r
    shift 4
    for r in "$@"; do
        results=$out/search.ndjson runs=$out/search.tsv load "$name" "$url" "$r" "$mode" 10 >&2
        if results=$out/search.ndjson held "$bound"; then best=$r; else break; fi
    done
    echo "$best"
}

echo "gateway-bench: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, modelward $("$modelward" --version 2>/dev/null || echo '?'), LiteLLM $pin; results in $out"
if [ "$soak_only" = 0 ]; then
    for mode in $modes; do
        for rate in $rates; do
            case $rate in
                max) rate=$(highest gateway "$gateway_url" "$mode" 10000 5000 7500 10000 12500 15000 20000 25000 30000 40000)
                     echo "gateway-bench: the gateway holds $rate/s ($mode)" ;;
                litellm-max) rate=$(highest litellm "$litellm_url" "$mode" 1000000 25 50 75 100 150 200 300 400 600 800)
                     echo "gateway-bench: LiteLLM holds $rate/s ($mode)" ;;
            esac
            [ "$rate" = 0 ] && continue
            load direct "$upstream_url" "$rate" "$mode"
            load gateway "$gateway_url" "$rate" "$mode"
            load litellm "$litellm_url" "$rate" "$mode"
        done
    done
fi

if [ "$soak" -gt 0 ]; then
    set -- $soak_modes
    share=$(awk -v r="$soak_rate" -v n="$#" 'BEGIN {printf "%g", r / n}')
    echo "gateway-bench: soak, the gateway at $soak_rate/s for $soak s ($soak_modes: $share/s each), RSS every 10 s"
    : >"$out/soak_rss.tsv"
    settle
    soak_pids=()
    for mode in $soak_modes; do
        stream=""
        [ "$mode" = stream ] && stream=--stream
        "$load_bin" --url "$gateway_url" --rate "$share" --duration "$soak" --warmup 0 \
            --connections "$connections" --label "soak-$mode" --json "$out/soak.ndjson" \
            --prompts "$out/prompts.ndjson" $stream >"$out/soak-$mode.log" 2>&1 &
        soak_pids+=("$!")
    done
    start=$(date +%s)
    while kill -0 "${soak_pids[0]}" 2>/dev/null; do
        printf '%s\t%s\n' "$(($(date +%s) - start))" "$(rss_of "$gateway_pid")" >>"$out/soak_rss.tsv"
        sleep 10
    done
    for p in "${soak_pids[@]}"; do wait "$p" || true; done
    # Detection catching up, then the memory once the load is gone.
    settle
    printf '%s\t%s\n' "$(($(date +%s) - start))" "$(rss_of "$gateway_pid")" >>"$out/soak_rss.tsv"
    for mode in $soak_modes; do cat "$out/soak-$mode.log"; done
    curl -sf --max-time 5 "$gateway_url/healthz" >"$out/soak_health.json" || echo '{}' >"$out/soak_health.json"
    echo "gateway healthz after the soak: $(cat "$out/soak_health.json")"
fi

# Peak memory of each server over the whole run.
{
    echo "upstream $(hwm_of "$upstream_pid")"
    echo "gateway $(hwm_of "$gateway_pid")"
    [ -n "$litellm_pid" ] && echo "litellm $(hwm_of "$litellm_pid")"
} >"$out/peak_rss.txt"

python3 - "$out" "$soak" <<'PY'
import json, os, sys

out, soak = sys.argv[1], int(sys.argv[2])
runs = [json.loads(l) for l in open(os.path.join(out, "results.ndjson"))] if os.path.exists(os.path.join(out, "results.ndjson")) else []
side = {}
if os.path.exists(os.path.join(out, "runs.tsv")):
    for line in open(os.path.join(out, "runs.tsv")):
        name, rate, mode, cpu, up, machine, health = line.rstrip("\n").split("\t")
        side[(name, float(rate), mode)] = (float(cpu), float(up), float(machine), health)

def f(x):
    return "-" if x is None or x != x else (f"{x / 1000:.2f}" if abs(x) >= 10 else f"{x / 1000:.3f}")

if runs:
    print()
    print("Latency in ms from each request's intended send time (coordinated omission corrected); "
          "'added' = through the proxy minus direct, same rate and mode, same run.")
    print("| rate/s | mode | target | achieved/s | errors | p50 | p99 | p99.9 | max | added p50 | added p99 | added p99.9 | server CPU | other CPU |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    keyed = {}
    for r in runs:
        keyed[(r["label"], r["rate"], r["mode"])] = r
    order = []
    for r in runs:
        k = (r["rate"], r["mode"])
        if k not in order:
            order.append(k)
    ratios = []
    for rate, mode in order:
        d = keyed.get(("direct", rate, mode))
        added = {}
        for name in ("direct", "gateway", "litellm"):
            r = keyed.get((name, rate, mode))
            if not r:
                continue
            lat = r["latency_us"]
            errs = r["errors"] + r["unfinished"]
            err = f"{r['errors']}" + (f" + {r['unfinished']} unfinished" if r["unfinished"] else "")
            add = {q: (lat[q] - d["latency_us"][q]) if d and name != "direct" else None for q in ("p50", "p99", "p999")}
            added[name] = add
            cpu, up, machine, _ = side.get((name, rate, mode), (None, None, None, None))
            secs = r["duration_s"] + 3
            server = "-" if cpu is None else f"{100 * cpu / secs:.0f}%"
            other = "-"
            if machine is not None:
                ours = cpu + (up if name != "direct" else 0) + r["loadgen_cpu_s"]
                other = f"{100 * max(0.0, machine - ours) / secs:.0f}%"
            print(f"| {rate:.0f} | {mode} | {name} | {r['achieved_rps']:.0f} | {err} | {f(lat['p50'])} | {f(lat['p99'])} | {f(lat['p999'])} | {f(lat['max'])} | "
                  f"{f(add['p50'])} | {f(add['p99'])} | {f(add['p999'])} | {server} | {other} |")
        g, l = added.get("gateway"), added.get("litellm")
        if g and l and g["p99"] is not None and l["p99"] is not None:
            ratios.append((rate, mode, g["p99"], l["p99"]))
    if any(r["mode"] == "stream" for r in runs):
        print()
        print("Streams, time to the first body byte (ms; added: the proxy's minus direct's, same rate, same run; "
              "the time to the last byte is the table's above):")
        print("| rate/s | target | p50 | p99 | p99.9 | added p50 | added p99 | added p99.9 |")
        print("|---|---|---|---|---|---|---|---|")
        for r in runs:
            if r["mode"] == "stream":
                fb = r["first_byte_us"]
                d = keyed.get(("direct", r["rate"], "stream"))
                add = {q: (fb[q] - d["first_byte_us"][q]) if d and r["label"] != "direct" and fb[q] is not None
                       and d["first_byte_us"][q] is not None else None for q in ("p50", "p99", "p999")}
                print(f"| {r['rate']:.0f} | {r['label']} | {f(fb['p50'])} | {f(fb['p99'])} | {f(fb['p999'])} | "
                      f"{f(add['p50'])} | {f(add['p99'])} | {f(add['p999'])} |")
    print()
    print("LiteLLM's added p99 over the gateway's:")
    for rate, mode, g, l in ratios:
        ratio = f"{l / g:.0f}x" if g > 0 else "n/a (the gateway's added p99 is not above the noise)"
        print(f"  {rate:.0f}/s {mode}: gateway +{g / 1000:.3f} ms, LiteLLM +{l / 1000:.2f} ms: {ratio}")
    print()
    print("Server CPU: the proxy's own (for direct, the upstream's), % of one core over the run; other CPU: "
          "the rest of the machine's busy time (not the servers, not the load generator, not niced work) during the run.")
    healths = [v[3] for k, v in side.items() if k[0] == "gateway"]
    if healths:
        print(f"Gateway /healthz after its last run: {healths[-1]}")
pk = os.path.join(out, "peak_rss.txt")
if os.path.exists(pk):
    print("Peak RSS (VmHWM; LiteLLM: the sum over its processes): " + ", ".join(f"{n} {v} MB" for n, v in (l.split() for l in open(pk))))
sr = os.path.join(out, "soak_rss.tsv")
if soak and os.path.exists(sr):
    rows = [(float(l.split()[0]), float(l.split()[1])) for l in open(sr) if l.strip()]
    if rows:
        mb = [v for _, v in rows]
        print(f"Soak: gateway RSS first {mb[0]:.1f} MB (at {rows[0][0]:.0f} s), last {mb[-1]:.1f} MB "
              f"(at {rows[-1][0]:.0f} s, the load over), max {max(mb):.1f} MB, {len(mb)} samples")
        print("  RSS each minute (MB): " + ", ".join(f"{t / 60:.0f}: {v:.0f}" for t, v in rows if t % 60 < 10))
        # After the first two minutes (detection's windows and buffered calls filling): the
        # range and a least-squares trend, MB a minute.
        later = [(t, v) for t, v in rows[:-1] if t >= 120]
        if len(later) >= 3:
            n = len(later)
            mt, mv = sum(t for t, _ in later) / n, sum(v for _, v in later) / n
            slope = sum((t - mt) * (v - mv) for t, v in later) / sum((t - mt) ** 2 for t, _ in later)
            print(f"  from 2 min to the end of the load: {min(v for _, v in later):.0f}-{max(v for _, v in later):.0f} MB, "
                  f"trend {slope * 60:+.2f} MB/min")
    sn = os.path.join(out, "soak.ndjson")
    for line in open(sn) if os.path.exists(sn) else []:
        r = json.loads(line)
        lat = r["latency_us"]
        print(f"  {r['label']}: {r['achieved_rps']:.0f}/s of {r['rate']:.0f}, {r['errors']} errors, "
              f"{r['unfinished']} unfinished; p50 {f(lat['p50'])} ms, p99 {f(lat['p99'])} ms")
PY
