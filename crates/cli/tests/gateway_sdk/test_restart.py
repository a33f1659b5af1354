#!/usr/bin/env python3
"""End to end: in-path detection across a gateway restart, with the official `openai` SDK.

    python3 test_restart.py --binary target/debug/modelward --dir SCRATCH

The logit-bias sweep of test_containment.py (its upstream, its calls, the same built-in rules
and PB-53 with enforcement on; `detect = true`, `detect_lateness = "0s"`, `refresh = "200ms"`)
is cut in two by a restart, in two scenarios with the same traffic (the same seed, the same
attacker key) and each its own database and log:

1. `detect_state` set: run A gets 60 attack calls (fewer than the 96 the built-in rule
   needs: 12 of its 20 distinct prompts), nothing is detected, SIGTERM stops it (exit 0) and
   the state file is there afterwards, JSON with a `version` key. Run B (the same config:
   database, log, state file) restores it and gets 60 more calls from the same key: the
   sweep is detected in run B (one incident naming the attacker, `rate_limit` and/or
   `reduce_output_detail` on its key id in `enforcement`), by the call that is the sweep's
   96th to 100th counting run A's, and the calls after that are refused (429/400).
2. control, no `detect_state`: the same two runs. At run A's shutdown every open window is
   closed as at the end of a hunt, but 60 calls alert nothing, so nothing is reported; run B
   starts afresh and its 60 calls alone alert nothing either (nor does its shutdown): no
   incident, no measure, every call answered with log probabilities. `modelward hunt` over
   the control's log (the 120 calls at once) does alert on the attacker: the traffic is
   detectable whole, so only the state carried over makes run B's detection.

Prints the figures: the call of run B (and of the sweep) that alerted, the first refusal.
Exits 0 when every check holds, 1 otherwise. Run by crates/cli/tests/gateway_sdk.rs.
"""

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import traceback

from test_containment import (
    ALERT_SECONDS,
    CALLS_PER_PROMPT,
    REFRESH,
    TOP_LOGPROBS,
    VOCABULARY,
    WINDOW,
    SweepUpstream,
    batch_hunt,
    masked,
    measures_on,
    random_prompt,
)
from test_gateway import (
    MEASURES_TIMEOUT,
    SDK_TIMEOUT,
    STOP_TIMEOUT,
    Checks,
    Fatal,
    Gateway,
    Upstream,
    create_database,
    key_id,
    say,
)

# Calls per run: run A's alone stay under the built-in rule's threshold (its 96th call, the
# first with its 20th distinct prompt) and MW-TH-0001's (100 probes); A's and B's together
# pass both.
CALLS_PER_RUN = 60
# The sweep's call by which it is detected (test_containment.py's DETECT_CALLS).
DETECT_CALLS = 100
RULE_NEEDS = 50  # extraction-shaped calls the built-in rule needs at least


class Sweep:
    """test_containment.py's logit-bias sweep, one call at a time, going on across runs."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.position = self.rng.randrange(VOCABULARY // WINDOW) * WINDOW
        self.calls = 0
        self.prompt = self.favourite = None

    def next(self):
        i = self.calls
        self.calls += 1
        if i % CALLS_PER_PROMPT == 0:
            self.prompt = random_prompt(self.rng)
            self.favourite = self.rng.randrange(VOCABULARY)
        bias = {str(t): 100 for t in range(self.position, min(self.position + WINDOW, VOCABULARY))}
        self.position = (self.position + WINDOW) % VOCABULARY
        if i % 4 == 3 and str(self.favourite) not in bias:
            bias[str(self.favourite)] = -100
        return self.prompt, bias


def write_config(path, db, log, upstream, state):
    with open(path, "w") as f:
        f.write(
            f"""[gateway]
database = {json.dumps(db)}
log = {json.dumps(log)}
refresh = "{int(REFRESH * 1000)}ms"
detect = true
detect_lateness = "0s"
{f"detect_state = {json.dumps(state)}" if state else ""}

[[gateway.upstreams]]
name = "chat"
url = "{upstream.url}"

[respond]
enforcement = true
"""
        )


def incidents_on(con, target):
    return con.execute(
        "SELECT DISTINCT i.id, i.doc FROM incidents i JOIN incident_entities e ON e.incident_id = i.id "
        "WHERE e.value = ?", (target,)).fetchall()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, help="the modelward binary")
    parser.add_argument("--dir", required=True, help="a scratch folder (created if missing)")
    parser.add_argument("--seed", type=int, default=None, help="the sweep's random seed")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    try:
        import openai
    except ImportError as e:
        say(f"FAIL: cannot import openai ({e}); install crates/cli/tests/gateway_sdk/requirements.txt")
        return 1
    say(f"openai {openai.__version__} (Python {sys.version.split()[0]}), binary {args.binary}")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    started = time.monotonic()
    checks = Checks()
    upstream = Upstream("chat", SweepUpstream)
    gateways = []  # every gateway started, stopped on every way out
    try:
        run(args, openai, checks, upstream, gateways)
    except Fatal as e:
        checks.failures.append(f"[{checks.current}] {e}")
        say(f"  FATAL {e}")
    except Exception as e:
        checks.failures.append(f"[{checks.current}] unexpected {type(e).__name__}: {e}")
        traceback.print_exc(file=sys.stdout)
    finally:
        for g in gateways:
            g.stop()
        upstream.stop()
    if checks.failures:
        for n, g in enumerate(gateways):
            say(f"-- gateway {n + 1}'s output:")
            say(g.output() or "(none)")
    say("")
    say(f"summary: {checks.passed} checks ok, {len(checks.failures)} checks failed, "
        f"{time.monotonic() - started:.1f}s")
    for f in checks.failures:
        say(f"  failed: {f}")
    return 1 if checks.failures else 0


def run(args, openai, checks, upstream, gateways):
    binary = os.path.abspath(args.binary)
    scratch = os.path.abspath(args.dir)
    pid_file = os.path.join(scratch, "gateway.pid")
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    key = f"sk-test-attacker-{random.Random(seed).getrandbits(64):016x}"
    attacker = key_id(key)
    say(f"seed {seed}; attacker {attacker}")

    def start(name, config):
        with checks.step(f"{name}: the gateway starts", fatal=True):
            gateway = Gateway(binary, config, dict(os.environ), pid_file)
            gateways.append(gateway)
            address = gateway.wait_ready()
            checks.check(True, f"listening on {address}")
        client = openai.OpenAI(base_url=f"http://{address}/v1", api_key=key, max_retries=0, timeout=SDK_TIMEOUT)
        return gateway, client

    def attack(name, client, sweep, con):
        """CALLS_PER_RUN sweep calls: [(outcome, wall ms at its start, measures in the table
        before it, wall ms at its end)]."""
        outcomes = []
        with checks.step(f"{name}: {CALLS_PER_RUN} attack calls", fatal=True):
            for _ in range(CALLS_PER_RUN):
                seen = bool(measures_on(con, attacker))
                prompt, bias = sweep.next()
                wall = time.time() * 1000
                try:
                    r = client.chat.completions.create(
                        model="fake-chat",
                        messages=[{"role": "user", "content": prompt}],
                        max_tokens=1,
                        logprobs=True,
                        top_logprobs=TOP_LOGPROBS,
                        logit_bias=bias,
                    )
                    lp = r.choices[0].logprobs
                    got = len(lp.content[0].top_logprobs) if lp and lp.content else 0
                    outcome = "logprobs" if got == TOP_LOGPROBS else f"{got} logprobs"
                except openai.RateLimitError:
                    outcome = "429"
                except openai.BadRequestError as e:
                    outcome = "400" if e.code == "unsupported_parameter" else f"400 {e.code}"
                except openai.APIStatusError as e:
                    if e.status_code != 428:
                        raise
                    outcome = "428"  # proof of work asked (PB-53's decision includes it)
                outcomes.append((outcome, wall, seen, time.time() * 1000))
            counts = {}
            for o, *_ in outcomes:
                counts[o] = counts.get(o, 0) + 1
            say(f"  calls {sweep.calls - CALLS_PER_RUN + 1} to {sweep.calls} of the sweep: {counts}")
        return outcomes

    def stop(name, gateway):
        with checks.step(f"{name}: SIGTERM", fatal=True):
            gateway.proc.send_signal(signal.SIGTERM)
            try:
                code = gateway.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                code = None
            checks.equal(code, 0, f"{name} exits 0 on SIGTERM")
            out = gateway.output()
            for line in out.splitlines():
                if "listening on" not in line:
                    say(f"    {line}")
            checks.check("not restored" not in out and "saving detection state" not in out,
                         f"{name} neither fails to restore nor to save the detection state", out)
            return out

    def nothing_detected(name, con, outcomes, out):
        checks.check(all(o == "logprobs" for o, *_ in outcomes),
                     f"{name}: every call answered with {TOP_LOGPROBS} top logprobs")
        checks.equal(measures_on(con, attacker), [], f"{name}: no measure on the attacker")
        checks.equal([i for i, _ in incidents_on(con, attacker)], [], f"{name}: no incident names the attacker")
        checks.check(" opened " not in out and "action " not in out, f"{name}: the gateway reports nothing", out)

    # --- 1. with detect_state --------------------------------------------------------------
    kept = os.path.join(scratch, "kept")
    os.makedirs(kept, exist_ok=True)
    db, log = os.path.join(kept, "measures.db"), os.path.join(kept, "llm.ndjson")
    state, config = os.path.join(kept, "detect-state.json"), os.path.join(kept, "gateway.toml")
    with checks.step("detect_state: the measures database", fatal=True):
        create_database(binary, db, kept)
    write_config(config, db, log, upstream, state)
    con = sqlite3.connect(db, timeout=10)
    sweep = Sweep(seed)

    gateway, client = start("run A", config)
    outcomes = attack("run A", client, sweep, con)
    out = stop("run A", gateway)
    with checks.step("run A: nothing detected; the state saved"):
        nothing_detected("run A", con, outcomes, out)
        exists = os.path.isfile(state)
        checks.check(exists, f"{state} exists after run A")
        if exists:
            with open(state, encoding="utf-8") as f:
                snapshot = json.load(f)
            checks.check(isinstance(snapshot, dict) and "version" in snapshot,
                          f"the state is a JSON object with a version ({os.path.getsize(state)} bytes, "
                          f"version {snapshot.get('version') if isinstance(snapshot, dict) else None}, "
                          f"keys {sorted(snapshot) if isinstance(snapshot, dict) else type(snapshot).__name__})")

    gateway, client = start("run B", config)
    outcomes = attack("run B", client, sweep, con)
    with checks.step("run B: detected thanks to run A's calls", fatal=True):
        # Detection runs beside the requests: on a busy machine it may still be on the
        # alerting call's batch when the last call is answered.
        deadline = time.monotonic() + MEASURES_TIMEOUT
        rows = measures_on(con, attacker)
        while not rows and time.monotonic() < deadline:
            time.sleep(0.1)
            rows = measures_on(con, attacker)
        measures = sorted({m for m, _, _ in rows})
        checks.check("rate_limit" in measures or "reduce_output_detail" in measures,
                     f"rate_limit and/or reduce_output_detail on {attacker}: {measures}")
        incidents = incidents_on(con, attacker)
        checks.check(len(incidents) == 1, f"one incident names the attacker: {[i for i, _ in incidents]}")
        if not incidents or not rows:
            raise Fatal("run B did not detect the sweep")
        incident, doc = incidents[0][0], json.loads(incidents[0][1])
        first_alert = min(doc["alerts"], key=lambda a: a["timestamp"])
        # The call whose arrival is the alert's time: the last that started by then.
        triggered = max((n for n, (_, wall, *_) in enumerate(outcomes) if wall <= first_alert["timestamp"] + 1),
                        default=-1)
        checks.check(triggered >= 0, f"the first alert ({first_alert['rule_name']!r}) comes in run B, "
                                     f"not before its first call")
        sweep_call = CALLS_PER_RUN + triggered + 1
        visible = next((n for n, (_, _, seen, _) in enumerate(outcomes) if seen), None)
        refused = next((n for n, (o, *_) in enumerate(outcomes) if o in ("400", "428", "429")), None)
        say(f"  detection in run B: {incident} opened by {first_alert['rule_name']!r} at run B's call "
            f"{triggered + 1} (the sweep's call {sweep_call}); measures {measures} in the table before "
            f"run B's call {None if visible is None else visible + 1}; first refusal at run B's call "
            f"{None if refused is None else refused + 1} "
            f"({None if refused is None else outcomes[refused][0]})")
        checks.check(RULE_NEEDS <= sweep_call <= DETECT_CALLS,
                     f"alerted at the sweep's call {sweep_call} (run B's {triggered + 1}): "
                     f"after the {RULE_NEEDS} the rule needs, by the {DETECT_CALLS}th")
        checks.check(all(o == "logprobs" for o, *_ in outcomes[:triggered + 1]),
                     "run B's calls up to the alerting one are all answered with logprobs")
        checks.check(refused is not None, "refusals follow", [o for o, *_ in outcomes])
        if refused is not None and triggered >= 0:
            since_alert = (outcomes[refused][3] - outcomes[triggered][1]) / 1000
            say(f"  first refusal {refused - triggered} calls ({since_alert:.3f}s) after the alerting call"
                + ("" if visible is None else f", {refused - visible + 1} calls "
                   f"({(outcomes[refused][3] - outcomes[visible][1]) / 1000:.3f}s) after the measures were in the table"))
            checks.check(since_alert <= ALERT_SECONDS,
                         f"refused within {ALERT_SECONDS:.1f}s of the alerting call: {since_alert:.3f}s")
        if refused is not None:
            after = [o for o, *_ in outcomes[refused:]]
            checks.check(all(o in ("400", "428", "429") for o in after),
                         f"every call from the first refusal on is refused: "
                         f"{ {o: after.count(o) for o in set(after)} }")
    out = stop("run B", gateway)
    with checks.step("run B: its shutdown"):
        checks.check(f"opened {incident}" in out, f"run B says it opened {incident}")
        checks.check(f"principal {masked(attacker)}" in out, f"and names its actions on {masked(attacker)}")
        checks.equal([i for i, _ in incidents_on(con, attacker)], [incident],
                     "still the one incident after run B's shutdown")
        with open(log, encoding="utf-8") as f:
            logged = sum(json.loads(line)["principal"]["api_key_id"] == attacker for line in f)
        checks.equal(logged, 2 * CALLS_PER_RUN, "one log holds both runs' attack calls")
    con.close()

    # --- 2. control: no detect_state ---------------------------------------------------------
    control = os.path.join(scratch, "control")
    os.makedirs(control, exist_ok=True)
    db, log = os.path.join(control, "measures.db"), os.path.join(control, "llm.ndjson")
    config = os.path.join(control, "gateway.toml")
    with checks.step("control: the measures database", fatal=True):
        create_database(binary, db, control)
    write_config(config, db, log, upstream, None)
    con = sqlite3.connect(db, timeout=10)
    sweep = Sweep(seed)  # the same traffic

    gateway, client = start("control run A", config)
    outcomes = attack("control run A", client, sweep, con)
    out = stop("control run A", gateway)
    with checks.step("control run A: its shutdown closes the windows; 60 calls alert nothing"):
        nothing_detected("control run A", con, outcomes, out)
        checks.equal(sorted(os.listdir(control)), ["empty.ndjson", "gateway.toml", "llm.ndjson", "measures.db"],
                     "no state file written")

    gateway, client = start("control run B", config)
    outcomes = attack("control run B", client, sweep, con)
    out = stop("control run B", gateway)
    with checks.step("control run B: starts afresh; its 60 calls alone alert nothing"):
        nothing_detected("control run B", con, outcomes, out)
    con.close()

    with checks.step("control: `modelward hunt` over the whole log does alert"):
        alerts, summary = batch_hunt(binary, log, control)
        mine = sorted({a.get("rule", {}).get("name") for a in alerts if attacker in json.dumps(a)})
        say(f"  {summary}")
        checks.check(mine, f"alerts on the attacker over the control's {2 * CALLS_PER_RUN} calls at once: {mine}",
                     json.dumps(alerts)[:2000])


if __name__ == "__main__":
    sys.exit(main())
