#!/usr/bin/env bash
# modelward beside rsigma (a Rust Sigma engine, from crates.io) on SigmaHQ's rules over
# Sysmon-style Windows process creation events, with `rg -c` over the same file as the
# physical floor (README "### Sigma", docs/sigma.md#performance).
#
# What it does:
#   1. installs rsigma (RSIGMA_VERSION, default 0.23.0: the newest whose MSRV this toolchain
#      meets) and, when `rg` is not on PATH, ripgrep, with `cargo install --locked` into
#      target/compare/tools (cached);
#   2. takes SigmaHQ's rules from SIGMA_RULES (a checkout's rules/ directory), or exports
#      them from a git mirror of github.com/SigmaHQ/sigma (SIGMA_MIRROR, a git dir) into
#      target/compare/sigma (never vendored: the rules are DRL-1.1 licensed);
#   3. builds `modelward` (release) unless --no-build;
#   4. generates N Sysmon Event ID 1 events with tools/sysmon-events.py (ours; cached by N);
#   5. for two workloads, rules/windows/process_creation and the whole rules/ tree: runs both
#      engines once and compares the matches per rule id (identical counts, or every
#      difference listed in target/compare/<workload>.diff);
#   6. times each tool on one core (taskset -c 0, modelward -j 1) and on two (taskset -c 0,1,
#      modelward -j 2), --runs passes, alternating the tools within each pass, and prints the
#      medians: events/s, MB/s, peak RSS (/usr/bin/time), and modelward / rsigma;
#   7. with --memory: peak RSS of modelward over 1 GB and 10 GB of the same events (the 1 GB
#      file concatenated ten times), process_creation rules; then tools/hunt-memory.sh: the
#      built-in pack over 1 GB (3 days) and 10 GB (30 days) of generated Azure OpenAI logs.
#
# Usage: tools/sigma-compare.sh [--events N] [--runs R] [--no-build] [--memory]
#                               [--workloads "process_creation all"]
# Needs cargo, python3, git (without SIGMA_RULES), GNU time (/usr/bin/time) and taskset.
# Timings are only as good as the machine is quiet: run it on an idle one.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/target/compare"
events=1000000
runs=5
build=1
memory=0
workloads="process_creation all"
while [ $# -gt 0 ]; do
    case "$1" in
        --events) events=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        --memory) memory=1; shift ;;
        --workloads) workloads=$2; shift 2 ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
mkdir -p "$out/tools"

# 1. The peers.
rsigma_version=${RSIGMA_VERSION:-0.23.0}
rsigma="$out/tools/bin/rsigma"
if ! "$rsigma" --version 2>/dev/null | grep -q "rsigma $rsigma_version"; then
    echo "installing rsigma $rsigma_version into $out/tools ..." >&2
    cargo install rsigma --version "$rsigma_version" --locked --root "$out/tools" >&2
fi
if command -v rg >/dev/null; then
    rg=$(command -v rg)
else
    rg="$out/tools/bin/rg"
    [ -x "$rg" ] || cargo install ripgrep --locked --root "$out/tools" >&2
fi

# 2. SigmaHQ's rules.
if [ -n "${SIGMA_RULES:-}" ]; then
    rules=$SIGMA_RULES
    rules_from="$rules"
else
    mirror=${SIGMA_MIRROR:-/work/.mirror/SigmaHQ+sigma/repo}
    if ! git --git-dir "$mirror" rev-parse HEAD >/dev/null 2>&1; then
        echo "set SIGMA_RULES to SigmaHQ's rules/ directory (git clone https://github.com/SigmaHQ/sigma)," >&2
        echo "or SIGMA_MIRROR to a git dir of that repository" >&2
        exit 2
    fi
    commit=$(git --git-dir "$mirror" rev-parse HEAD)
    rules="$out/sigma/rules"
    if [ "$(cat "$out/sigma/COMMIT" 2>/dev/null)" != "$commit" ]; then
        rm -rf "$out/sigma" && mkdir -p "$out/sigma"
        git --git-dir "$mirror" archive HEAD rules | tar -x -C "$out/sigma"
        echo "$commit" > "$out/sigma/COMMIT"
    fi
    rules_from="SigmaHQ/sigma@${commit:0:12} ($(git --git-dir "$mirror" log -1 --format=%cs HEAD))"
fi

# 3. modelward.
if [ "$build" = 1 ]; then
    (cd "$root" && cargo build --release -p modelward --bin modelward >&2)
fi
modelward="$root/target/release/modelward"

# 4. The events.
file="$out/events-$events.ndjson"
if [ ! -s "$file" ]; then
    echo "generating $events events into $file ..." >&2
    python3 "$root/tools/sysmon-events.py" --events "$events" > "$file.tmp"
    mv "$file.tmp" "$file"
fi
bytes=$(stat -L -c %s "$file")

workload_dir() {
    case "$1" in
        process_creation) echo "$rules/windows/process_creation" ;;
        all) echo "$rules" ;;
    esac
}

# The commands, as arrays /usr/bin/time can run: cmd_modelward CPUS THREADS RULES, ...
cmd_modelward() {
    cmd=(taskset -c "$1" "$modelward" hunt --no-builtin --rules "$3" --format ndjson -q -j "$2" "$file")
}
cmd_rsigma() {
    cmd=(taskset -c "$1" "$rsigma" engine eval -r "$2" -e "@$file" --output-format ndjson -q)
}
cmd_rg() {
    cmd=(taskset -c "$1" "$rg" -c -F CommandLine "$file")
}

# Runs a command under /usr/bin/time; prints "seconds peak_kb". Exit 1 from modelward means
# alerts were raised, not a failure.
timed() {
    local t
    t=$(mktemp)
    set +e
    /usr/bin/time -f '%e %M' -o "$t" "$@" > /dev/null 2> "$out/last.err"
    local rc=$?
    set -e
    if [ "$rc" -gt 1 ]; then
        echo "failed ($rc): $*" >&2
        tail -5 "$out/last.err" >&2
        exit 1
    fi
    tail -1 "$t"
    rm -f "$t"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "# Sigma: modelward $("$modelward" --version 2>/dev/null | awk '{print $2}') ($(cd "$root" && git rev-parse --short HEAD)) beside rsigma $rsigma_version"
echo
echo "$(date -u +%F), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rules: $rules_from"
echo "events: $events Sysmon Event ID 1 records from tools/sysmon-events.py, $(awk -v b="$bytes" 'BEGIN{printf "%.0f MB", b/1e6}')"
echo

# 5. Matches per rule.
python_counts='
import json, sys, collections
key = sys.argv[1]
c = collections.Counter()
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    d = json.loads(line)
    rid = d["rule"]["id"] if key == "modelward" else d.get("rule_id")
    c[rid] += 1
for k, v in sorted(c.items(), key=lambda kv: str(kv[0])):
    print(f"{k}\t{v}")
'
for w in $workloads; do
    dir=$(workload_dir "$w")
    set +e
    cmd_modelward 0,1 2 "$dir"; "${cmd[@]}" > "$out/$w.modelward.ndjson" 2> "$out/$w.modelward.err"
    [ $? -le 1 ] || { echo "modelward failed on $w:" >&2; tail -5 "$out/$w.modelward.err" >&2; exit 1; }
    cmd_rsigma 0,1 "$dir"; "${cmd[@]}" > "$out/$w.rsigma.ndjson" 2> "$out/$w.rsigma.err"
    [ $? -le 1 ] || { echo "rsigma failed on $w:" >&2; tail -5 "$out/$w.rsigma.err" >&2; exit 1; }
    set -e
    python3 -c "$python_counts" modelward < "$out/$w.modelward.ndjson" > "$out/$w.modelward.counts"
    python3 -c "$python_counts" rsigma < "$out/$w.rsigma.ndjson" > "$out/$w.rsigma.counts"
    files=$(find "$dir" -name '*.yml' | wc -l)
    m_total=$(awk '{s+=$2} END {print s+0}' "$out/$w.modelward.counts")
    r_total=$(awk '{s+=$2} END {print s+0}' "$out/$w.rsigma.counts")
    join -t $'\t' -a1 -a2 -e 0 -o 0,1.2,2.2 "$out/$w.modelward.counts" "$out/$w.rsigma.counts" \
        | awk -F'\t' '$2 != $3' > "$out/$w.diff" || true
    echo "## $w ($files rule files): matches per rule"
    echo
    echo "modelward: $m_total matches of $(wc -l < "$out/$w.modelward.counts") rules; rsigma: $r_total matches of $(wc -l < "$out/$w.rsigma.counts") rules"
    if [ -s "$out/$w.diff" ]; then
        echo "DIFFERENT for $(wc -l < "$out/$w.diff") rules (rule id, modelward, rsigma; $out/$w.diff):"
        head -20 "$out/$w.diff" | sed 's/^/    /'
    else
        echo "identical: every rule matched the same events as often in both"
    fi
    echo
done

# 6. Timings.
for w in $workloads; do
    dir=$(workload_dir "$w")
    echo "## $w: throughput (medians of $runs passes, tools alternating)"
    echo
    echo "| tool | cores | events/s | MB/s | peak RSS | modelward / rsigma |"
    echo "|---|---|---|---|---|---|"
    for cores in 1 2; do
        cpus=$([ "$cores" = 1 ] && echo 0 || echo 0,1)
        : > "$out/t.m"; : > "$out/t.r"; : > "$out/t.g"
        for _ in $(seq "$runs"); do
            cmd_modelward "$cpus" "$cores" "$dir"; timed "${cmd[@]}" >> "$out/t.m"
            cmd_rsigma "$cpus" "$dir"; timed "${cmd[@]}" >> "$out/t.r"
            cmd_rg "$cpus"; timed "${cmd[@]}" >> "$out/t.g"
        done
        for tool in m r g; do
            s=$(cut -d' ' -f1 "$out/t.$tool" | median)
            k=$(cut -d' ' -f2 "$out/t.$tool" | median)
            eval "s_$tool=$s; k_$tool=$k"
        done
        # shellcheck disable=SC2154
        ratio=$(awk -v a="$s_r" -v b="$s_m" 'BEGIN{printf "%.2f×", a/b}')
        row() { # name seconds kb ratio
            awk -v n="$1" -v c="$cores" -v s="$2" -v k="$3" -v e="$events" -v b="$bytes" -v r="$4" \
                'BEGIN{printf "| %s | %s | %.0f | %.0f | %.0f MB | %s |\n", n, c, e/s, b/1e6/s, k/1024, r}'
        }
        row modelward "$s_m" "$k_m" "$ratio"
        row "rsigma $rsigma_version" "$s_r" "$k_r" ""
        row "rg -c (floor)" "$s_g" "$k_g" ""
    done
    echo
done

# 7. Memory over input size.
if [ "$memory" = 1 ]; then
    dir=$(workload_dir process_creation)
    gb1="$out/events-1gb.ndjson"
    gb10="$out/events-10gb.ndjson"
    if [ ! -s "$gb1" ]; then
        python3 "$root/tools/sysmon-events.py" --events 800000 --seed 2 > "$gb1"
    fi
    if [ ! -s "$gb10" ]; then
        for _ in $(seq 10); do cat "$gb1"; done > "$gb10"
    fi
    echo "## memory: modelward, process_creation rules, one core"
    echo
    echo "| input | seconds | peak RSS |"
    echo "|---|---|---|"
    for f in "$gb1" "$gb10"; do
        file=$f
        cmd_modelward 0 1 "$dir"
        r=$(timed "${cmd[@]}")
        awk -v f="$(basename "$f")" -v b="$(stat -L -c %s "$f")" -v s="${r% *}" -v k="${r#* }" \
            'BEGIN{printf "| %s (%.1f GB) | %.1f | %.0f MB |\n", f, b/1e9, s, k/1024}'
    done
    echo
    "$root/tools/hunt-memory.sh" --no-build
fi
