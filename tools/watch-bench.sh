#!/usr/bin/env bash
# modelward watch, end to end through Kafka (docs/watch.md, "Benchmark"). Not a test: figures.
#
#   tools/watch-bench.sh [EVENTS]      (default 100000)
#   env: RATE=200 LIVE_SECONDS=60 (the latency run), FETCH_WAIT_MS (the source consumer's
#   fetch.wait.max.ms there; librdkafka's default 500), NO_BUILD=1, BIN=, TOOL= (binaries)
#
# Records: raw Azure OpenAI diagnostic records (RequestResponse, GatewayLogs, Audit) as
# `gen-azure-logs --events EVENTS --seed 42` writes them (crates/corpus: third-party-shaped,
# generated, a day long, two accounts with a ListKey burst). The latency run replays the first
# example day instead (examples/azure_openai: APIM GatewayLogs with a jailbreak blocked by
# Prompt Shields and a Sigma count correlation), because it has both kinds of alert.
#
# 1. Throughput, in one run: `modelward hunt` over the records as a file; then, each on a
#    fresh topic of 4 partitions of a local tansu broker (memory storage), the records
#    produced and read by `watch --once` — one instance; one instance with [watch.scale]
#    partitions = 4; two such instances at once. events/s and MB/s from the first record
#    produced to the exit of the last instance (its last alert written), peak RSS from
#    /usr/bin/time -v, and the alerts (by rule) against hunt's.
# 2. Detection latency: `watch` running (not --once) with a Kafka alert output; a producer
#    sends day one's records at RATE a second for LIVE_SECONDS, each with its "time" set to
#    the wall clock when it is sent; an alert's latency is its Kafka message's timestamp
#    (set by watch's producer when the alert goes out) less the time of its event (the
#    event's own, for an alert on one event; the last event's, evidence.last_seen, for a
#    Sigma correlation). Same machine, same clock.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-${EVENTS:-100000}}
RATE=${RATE:-200}
LIVE_SECONDS=${LIVE_SECONDS:-60}
TANSU=${MODELWARD_TANSU:-$HOME/.cache/modelward/tansu-0.6.0/bin/tansu}
if [ -z "${NO_BUILD:-}" ]; then
  cargo build -q --release -p modelward
  cargo build -q --release -p modelward-watch --example watch_bench
  cargo build -q --release -p modelward-corpus --bin gen-azure-logs
fi
BIN=${BIN:-$PWD/target/release/modelward}
TOOL=${TOOL:-$PWD/target/release/examples/watch_bench}
GEN=$PWD/target/release/gen-azure-logs
dir=$(mktemp -d)
broker_pid=
cleanup() {
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
brokers=127.0.0.1:$port
"$TANSU" broker --kafka-listener-url "tcp://$brokers" --kafka-advertised-listener-url "tcp://$brokers" \
  --storage-engine memory://tansu/ >"$dir/tansu.log" 2>&1 &
broker_pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
topic() { "$TANSU" topic create --broker "tcp://$brokers" --partitions "$2" "$1" >/dev/null; }

"$GEN" --events "$EVENTS" --seed 42 --out "$dir/records.ndjson" 2>/dev/null
head -n 3000 examples/azure_openai/diagnostics-2025-03-01.ndjson >"$dir/day1.ndjson"
events=$(wc -l <"$dir/records.ndjson")
bytes=$(stat -c %s "$dir/records.ndjson")

rss() { awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$1"; }
wall() { awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$1"; }
by_rule() { python3 -c '
import json, sys, collections
seen, c = set(), collections.Counter()
for f in sys.argv[1:]:
    for l in open(f):
        if l.strip():
            d = json.loads(l)
            if d["alert"]["id"] not in seen:
                seen.add(d["alert"]["id"]); c[d["rule"]["id"]] += 1
print(sum(c.values()), json.dumps(sorted(c.items()), separators=(",", ":")))' "$@"; }

echo "uptime before: $(uptime)"
echo "records: $events Azure OpenAI diagnostic records (gen-azure-logs --events $EVENTS --seed 42), $bytes bytes"
echo

/usr/bin/time -v "$BIN" hunt --quiet --format ndjson --output "$dir/hunt.ndjson" "$dir/records.ndjson" \
  2>"$dir/hunt.time" >/dev/null || true
hunt_s=$(wall "$dir/hunt.time")
read -r hunt_alerts hunt_rules < <(by_rule "$dir/hunt.ndjson")

config() { # name topic scale [more [watch] lines]
  local more=${4:-$'checkpoint = "2s"\nlateness = "1m"'}
  cat >"$dir/$1.toml" <<TOML
[watch]
name = "$1"
database = "$1.db"
alerts = "$1.ndjson"
poll = "50ms"
$more
[watch.kafka]
brokers = "$brokers"
topics = ["$2"]
group = "g-$1"
properties = { "session.timeout.ms" = "6000"${props:-} }
TOML
  if [ "$3" != 0 ]; then
    printf '[watch.scale]\npartitions = %s\ntopic = "keyed-%s"\ngroup = "g-%s-keyed"\n' "$3" "$2" "$2" >>"$dir/$1.toml"
  fi
}

rows=()
run() { # label topic scale instances...
  local label=$1 topic=$2 scale=$3; shift 3
  topic "$topic" 4
  local start=$(date +%s.%N)
  read -r n b p < <("$TOOL" produce "$brokers" "$topic" 4 "$dir/records.ndjson")
  local pids=() files=() peak=0
  for name in "$@"; do
    config "$name" "$topic" "$scale"
    (cd "$dir" && /usr/bin/time -v "$BIN" watch --config "$name.toml" --once 2>"$name.time" >/dev/null) &
    pids+=($!)
    files+=("$dir/$name.ndjson")
  done
  for pid in "${pids[@]}"; do wait "$pid" || echo "$label: an instance failed ($(tail -n 3 "$dir/$name.time" | tr '\n' ' '))"; done
  local end=$(date +%s.%N)
  for name in "$@"; do r=$(rss "$dir/$name.time"); [ "$r" -gt "$peak" ] && peak=$r; done
  local watch_s=$(python3 -c "print(max([$(for name in "$@"; do printf "%s," "$(wall "$dir/$name.time")"; done)]))")
  read -r alerts rules < <(by_rule "${files[@]}")
  local same=no; [ "$rules" = "$hunt_rules" ] && same=yes
  rows+=("$(python3 -c "
e,b,t,w,p,h=$events,$bytes,$end-$start,$watch_s,$p,$hunt_s
print(f'| $label | {e/t:,.0f} | {b/t/1e6:.2f} | {p:.1f} + {t-p:.1f} | {e/w:,.0f} | {(e/w)/(e/h):.2f} | $peak | $alerts ($same) |')")")
}

run "watch, 1 instance" src-one 0 one
run "watch [watch.scale] partitions = 4, 1 instance" src-s1 4 s1
run "watch [watch.scale] partitions = 4, 2 instances" src-s2 4 s2a s2b

echo "| run | events/s, produce → last alert | MB/s | s: produce + watch | events/s, watch alone | × hunt | peak RSS MiB | alerts (by rule = hunt's) |"
echo "|---|---|---|---|---|---|---|---|"
python3 -c "e,b,h=$events,$bytes,$hunt_s; print(f'| hunt, the same records from a file | | {b/h/1e6:.2f} | {h:.1f} | {e/h:,.0f} | 1.00 | $(rss "$dir/hunt.time") | $hunt_alerts |')"
for r in "${rows[@]}"; do echo "$r"; done
echo

# Detection latency.
topic live-src 4
topic live-alerts 1
[ -n "${FETCH_WAIT_MS:-}" ] && props=", \"fetch.wait.max.ms\" = \"$FETCH_WAIT_MS\""
config live live-src 0 "checkpoint = \"1s\"
lateness = \"2s\"
idle = \"1s\"
outputs = [\"kafka://$brokers/live-alerts\"]"
(cd "$dir" && exec "$BIN" watch --config live.toml 2>live.log >/dev/null) &
watch_pid=$!
for _ in $(seq 300); do grep -q "assigned\|partition" "$dir/live.log" 2>/dev/null && break; sleep 0.1; done
sleep 5
sent=$("$TOOL" live "$brokers" live-src 4 "$RATE" "$LIVE_SECONDS" "$dir/day1.ndjson")
sleep 10
kill -TERM "$watch_pid"; wait "$watch_pid" || true
echo "detection latency: $sent records at $RATE/s for ${LIVE_SECONDS}s, lateness 2s, idle 1s, fetch.wait.max.ms ${FETCH_WAIT_MS:-500, the librdkafka default}"
echo "| alerts | count | p50 ms | p99 ms |"
echo "|---|---|---|---|"
"$TOOL" latency "$brokers" live-alerts | while read -r kind n p50 p99; do echo "| $kind | $n | $p50 | $p99 |"; done
echo
echo "uptime after: $(uptime)"
