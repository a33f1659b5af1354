#!/usr/bin/env bash
# The requests of the gateway's benchmarks (tools/gateway-bench.sh, tools/gateway-instructions.sh):
# the ticket texts of the simulator's benign batch job (144,000 of them, one JSON string a line,
# the "Summarise support ticket #N: " prefix removed: bench_load puts it back with the ticket
# numbers counting up), so that in-path detection sees a heavy but ordinary job.
#
# Usage: tools/gateway-prompts.sh SIMULATOR OUT
set -euo pipefail
simulator=$1 out=$2
"$simulator" --profiles batch_job --span 12d --seed 7 --out "$out.sim" 2>/dev/null
python3 - "$out.sim" "$out" <<'PY'
import json, re, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as out:
    for line in f:
        text = json.loads(line)["request"]["messages"][-1]["content"]
        out.write(json.dumps(re.sub(r"^Summarise support ticket #\d+: ", "", text)) + "\n")
PY
rm -f "$out.sim"
