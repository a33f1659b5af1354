#!/bin/sh
# Runs every fuzz target for a bounded time, from the corpus kept in the repository
# (fuzz/corpus/<target>), merges what new inputs add coverage back into it (minimised:
# libFuzzer's -merge keeps only inputs that reach something the corpus does not), and
# reports crashes. For a scheduled job, not for every CI run.
#
#   fuzz/run-all.sh                     # every target, 5 minutes each
#   SECONDS_PER_TARGET=60 fuzz/run-all.sh esql_parser sigma_rule
#   JOBS=2 fuzz/run-all.sh              # libFuzzer workers per target
#
# Settings (environment):
#   SECONDS_PER_TARGET  time per target (default 300)
#   JOBS                parallel libFuzzer workers per target (default 1)
#   MAX_LEN             longest input tried, bytes (default 65536)
#   RSS_LIMIT_MB        a run above this much memory is a crash (default 2048)
#   TOOLCHAIN           the toolchain (default: nightly when rustup has it, else stable with
#                       RUSTC_BOOTSTRAP=1, which the sanitizer-coverage flags need)
#
# It uses `cargo fuzz` when installed; otherwise it builds the targets itself with the flags
# cargo-fuzz passes (SanitizerCoverage for libFuzzer, `--cfg fuzzing`, debug assertions).
# Crashes go to fuzz/artifacts/<target>/; the exit status is 1 when any target crashed.
# Replay one: fuzz/target/<triple>/release/<target> fuzz/artifacts/<target>/crash-...
set -u

here=$(cd "$(dirname "$0")" && pwd)
cd "$here" || exit 2

secs=${SECONDS_PER_TARGET:-300}
jobs=${JOBS:-1}
max_len=${MAX_LEN:-65536}
rss=${RSS_LIMIT_MB:-2048}
triple=$(rustc -vV | sed -n 's/^host: //p')

if [ -z "${TOOLCHAIN:-}" ]; then
    if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
        TOOLCHAIN=nightly
    else
        TOOLCHAIN=stable
    fi
fi
[ "$TOOLCHAIN" = nightly ] || export RUSTC_BOOTSTRAP=1

targets=$*
if [ -z "$targets" ]; then
    targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^modelward-fuzz$')
fi

echo "fuzz: $(echo "$targets" | wc -w) target(s), ${secs}s each, toolchain $TOOLCHAIN"

# Build the targets together (their dependencies once, from one state of the tree); when
# that fails, each on its own: one that does not build (an API it calls changed) is
# reported and skipped, the others still run.
broken=""
built=""
sancov="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
together=""
if ! cargo +"$TOOLCHAIN" fuzz --help >/dev/null 2>&1; then
    bins=$(for t in $targets; do printf ' --bin %s' "$t"; done)
    # shellcheck disable=SC2086
    RUSTFLAGS="${RUSTFLAGS:-} $sancov" cargo +"$TOOLCHAIN" build --release --target "$triple" $bins &&
        together=yes
fi
for t in $targets; do
    if [ -n "$together" ]; then
        built="$built $t"
        continue
    fi
    if cargo +"$TOOLCHAIN" fuzz --help >/dev/null 2>&1; then
        cargo +"$TOOLCHAIN" fuzz build --release "$t"
    else
        RUSTFLAGS="${RUSTFLAGS:-} $sancov" \
            cargo +"$TOOLCHAIN" build --release --target "$triple" --bin "$t"
    fi
    if [ $? -eq 0 ]; then
        built="$built $t"
    else
        broken="$broken $t"
        echo "== $t: does not build; skipped"
    fi
done
targets=$built
bin="$here/target/$triple/release"

crashed=""
for t in $targets; do
    corpus="corpus/$t"
    work="work/$t"
    mkdir -p "$corpus" "$work" "artifacts/$t"
    before=$(ls "$corpus" | wc -l)
    echo "== $t: ${before} corpus input(s)"
    started=$(date +%s)
    # With more than one job libFuzzer forks workers that log to fuzz-N.log in the current
    # folder: run them from work/ and gather their logs.
    parallel=""
    [ "$jobs" -gt 1 ] && parallel="-jobs=$jobs -workers=$jobs"
    # CPU time (user + system) of the run, when /usr/bin/time is there to measure it.
    timer=""
    [ -x /usr/bin/time ] && timer="/usr/bin/time -f %U+%S -o $t.time"
    (cd work && $timer "$bin/$t" "$t" "../$corpus" \
        -max_total_time="$secs" -max_len="$max_len" -rss_limit_mb="$rss" -timeout=30 \
        $parallel -print_final_stats=1 \
        -artifact_prefix="../artifacts/$t/" >"$t.log" 2>&1)
    status=$?
    [ "$jobs" -gt 1 ] && cat work/fuzz-*.log >>"work/$t.log" 2>/dev/null && rm -f work/fuzz-*.log
    ran=$(($(date +%s) - started))
    # Keep what adds coverage, minimised.
    "$bin/$t" -merge=1 -max_len="$max_len" -rss_limit_mb="$rss" -timeout=30 \
        -artifact_prefix="artifacts/$t/" "$corpus" "$work" >"work/$t.merge.log" 2>&1
    rm -rf "$work"
    after=$(ls "$corpus" | wc -l)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "work/$t.log" | awk '{s+=$1} END {print s+0}')
    found=$(ls "artifacts/$t" | grep -c -E '^(crash|oom|timeout|leak|slow-unit)-' || true)
    cpu=$(tail -1 "work/$t.time" 2>/dev/null | awk -F+ 'NF == 2 {printf "%.1fs CPU, ", $1 + $2}')
    echo "   ${ran}s, ${cpu}${execs} executions, corpus ${before} -> ${after}, status ${status}, ${found} artifact(s)"
    if [ "$status" -ne 0 ] || [ "$found" -gt 0 ]; then
        crashed="$crashed $t"
        grep -E 'ERROR|panicked|SUMMARY' "work/$t.log" | head -5 | sed 's/^/   /'
    fi
done

[ -n "$broken" ] && echo "fuzz: targets that do not build:$broken"
if [ -n "$crashed" ]; then
    echo "fuzz: crashes in:$crashed (inputs under fuzz/artifacts/)"
    exit 1
fi
[ -n "$broken" ] && exit 1
echo "fuzz: no crash"
