#!/usr/bin/env bash
# Detection delay per attack profile and false positives per benign profile, over a day of
# simulated traffic for seeds 1..5 (the README's table): medians over the seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p modelward -p modelward-corpus
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for seed in 1 2 3 4 5; do
  target/release/simulate-llm-traffic --seed "$seed" --span 24h \
    --out "$dir/sim$seed.ndjson" --labels "$dir/sim$seed.labels.ndjson" 2>/dev/null
  target/release/modelward hunt --quiet --source modelward_llm --format ndjson \
    --output "$dir/alerts$seed.ndjson" "$dir/sim$seed.ndjson" || true
  target/release/score-simulation "$dir/sim$seed.ndjson" "$dir/sim$seed.labels.ndjson" \
    "$dir/alerts$seed.ndjson" > "$dir/score$seed.md" || true
done
python3 - "$dir" <<'PY'
import re, statistics, sys, glob
rows = {}
for f in sorted(glob.glob(sys.argv[1] + "/score*.md")):
    for line in open(f):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 8 or cells[0] in ("profile", "---"):
            continue
        profile, cls, principals, calls, verdict, until, alerts, rules = cells
        r = rows.setdefault(profile, {"class": cls, "calls": [], "delay": [], "minutes": [], "alerts": [], "verdicts": []})
        r["calls"].append(int(calls)); r["alerts"].append(int(alerts)); r["verdicts"].append(verdict)
        m = re.match(r"(\d+) calls, ([\d.]+) min", until)
        if m:
            r["delay"].append(int(m.group(1))); r["minutes"].append(float(m.group(2)))
print("| profile | class | calls (median) | detected | calls until the alert (median) | minutes until the alert (median) | alerts on benign principals |")
print("|---|---|---|---|---|---|---|")
for p, r in sorted(rows.items(), key=lambda kv: (kv[1]["class"] != "attack", kv[0])):
    seeds = len(r["verdicts"])
    if r["class"] == "attack":
        det = sum(v == "detected" for v in r["verdicts"])
        d = f"{statistics.median(r['delay']):g}" if r["delay"] else "–"
        mnt = f"{statistics.median(r['minutes']):.1f}" if r["minutes"] else "–"
        print(f"| {p} | attack | {statistics.median(r['calls']):g} | {det} of {seeds} | {d} | {mnt} | |")
    else:
        print(f"| {p} | benign | {statistics.median(r['calls']):g} | | | | {sum(r['alerts'])} in {seeds} days |")
PY
