#!/usr/bin/env python3
"""End to end: a logit-bias sweep through `modelward gateway` with in-path detection is
detected and contained, with the official `openai` Python SDK.

    python3 test_containment.py --binary target/debug/modelward --dir SCRATCH

Starts a fake OpenAI-compatible upstream (test_gateway.py's, answering a one-token call with
as many top log probabilities as asked for), creates the measures database with
`modelward hunt --incidents`, and starts the gateway binary with `detect = true`,
`refresh = "200ms"`, `detect_lateness = "0s"`, the built-in rules and PB-53 with its
`[respond]` defaults (enforcement on). Then:

1. a benign key makes a few chat calls;
2. another key runs the simulator's logit-bias sweep (crates/corpus/src/sim/logit_sweep.rs)
   as fast as the gateway answers: `max_tokens` 1, `logprobs` with `top_logprobs` 20,
   +100 on a fresh window of 20 token ids each call walking the vocabulary (every fourth
   call also -100 on the prompt's favourite token), a new random prompt every 5 calls;
   after each call the script reads the `enforcement` table;
3. it checks that the sweep is detected by the 100th call (a PB-53 incident opened, with
   `rate_limit` and `reduce_output_detail` on the attacker's key id in `enforcement`, and
   the gateway saying so on stderr), and contained: once the measures are in the table,
   within `refresh` and the read (VISIBLE_SECONDS, and the calls that holds at this run's
   speed) the SDK raises BadRequestError (400: logit_bias with logprobs refused) or
   RateLimitError (429), and no call after that gets log probabilities;
4. the benign key is never limited, before or after; the audit log names the actions;
   `modelward hunt` over the gateway's log alerts on the same sweep (MW-TH-0001).

Prints the figures: calls until detection, calls and seconds from the measure to the first
refusal. Exits 0 when every check holds, 1 otherwise. Run by crates/cli/tests/gateway_sdk.rs.
"""

import argparse
import json
import math
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
import traceback

from test_gateway import (
    REPLY,
    MEASURES_TIMEOUT,
    SDK_TIMEOUT,
    STOP_TIMEOUT,
    Checks,
    FakeOpenAI,
    Fatal,
    Gateway,
    Upstream,
    create_database,
    key_id,
    say,
)

# The sweep (crates/corpus/src/sim/logit_sweep.rs).
VOCABULARY = 100_000
WINDOW = 20
CALLS_PER_PROMPT = 5
TOP_LOGPROBS = 20

# The built-in rule "AI Model Theft / Extraction Pattern" (rules/sigma/ai_model_theft.yml)
# alerts once a key sent 50 extraction-shaped calls with 20 distinct prompts within ten
# minutes: the sweep's 96th call, the first with its 20th prompt; MW-TH-0001 (the analyzer)
# at its 100th probe (`min_calls`; 10 calls cover its 200 distinct biased ids). Either opens
# PB-53's incident, so the alert comes by the 100th call; the attack is bounded well past it.
DETECT_CALLS = 100
ANALYZER = "Model extraction through the API - logit extraction"
MAX_ATTACK_CALLS = 600
# Once the measures are committed to the enforcement table, the gateway applies them when it
# next reads the table: within `refresh` plus the read (0.3 s allowed for it on a loaded
# machine). From the alerting call, the detector's work comes first (incident, triage,
# evidence, measures: about 0.1 s in a debug build), with margin.
REFRESH = 0.2
VISIBLE_SECONDS = REFRESH + 0.3
ALERT_SECONDS = REFRESH + 1.5
# The sweep runs as fast as the gateway answers (2 to 6 ms a call here), so the calls these
# spans hold depend on the machine: the bound in calls is what VISIBLE_SECONDS holds at this
# run's median call (the refresh itself holds 40 % of that); the figures are printed.

# Calls made after the first refusal, every one of which must be refused too.
AFTER_CONTAINMENT = 20
BENIGN_CALLS = 5


class SweepUpstream(FakeOpenAI):
    """FakeOpenAI, but a one-token chat call gets one token, with the top log probabilities
    it asks for: the biased ids first (as a +100 bias puts them on top), then others.
    Headers and body go out without Nagle's delay (FakeOpenAI's two writes would otherwise
    wait for the gateway's delayed ACK: about 40 ms a call instead of 2)."""

    disable_nagle_algorithm = True

    def chat(self, body):
        if body.get("max_tokens") != 1 or body.get("stream"):
            return super().chat(body)
        bias = body.get("logit_bias") or {}
        boosted = sorted((t for t, b in bias.items() if b > 0), key=lambda t: -bias[t])
        k = int(body.get("top_logprobs") or 0) if body.get("logprobs") is True else 0
        top = (boosted + [f"{90_000 + i}" for i in range(k)])[:k]
        token = f"<{top[0] if top else 'x'}>"

        def entry(t, i):
            text = f"<{t}>"
            return {"token": text, "logprob": -0.1 - 0.05 * i, "bytes": list(text.encode())}

        logprobs = None
        if body.get("logprobs") is True:
            first = entry(top[0] if top else "x", 0)
            first["top_logprobs"] = [entry(t, i) for i, t in enumerate(top)]
            logprobs = {"content": [first], "refusal": None}
        created = int(time.time())
        self.send_json(
            200,
            {
                "id": f"chatcmpl-{self.upstream.name}-{created}",
                "object": "chat.completion",
                "created": created,
                "model": body.get("model", ""),
                "system_fingerprint": "fp_fake",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": token, "refusal": None},
                        "logprobs": logprobs,
                        "finish_reason": "length",
                    }
                ],
                "usage": {"prompt_tokens": 7, "completion_tokens": 1, "total_tokens": 8},
            },
        )


def random_prompt(rng):
    """4 to 8 random vocabulary-like tokens, as the simulator's prompts."""
    syllables = ["ka", "lo", "mir", "tes", "un", "vra", "ph", "ent", "qu", "zo", "ix", "ar"]
    words = ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 3))) for _ in range(rng.randint(4, 8))]
    return " ".join(words)


def masked(key_id):
    """A key id as modelward prints it (modelward_respond::ioc::mask_key, 16+ characters)."""
    return f"{key_id[:6]}\u2026{key_id[-3:]}"


def measures_on(con, target):
    """(measure, incident_id, created_at) rows of the enforcement table on `target`."""
    return con.execute(
        "SELECT measure, incident_id, created_at FROM enforcement WHERE target = ? ORDER BY created_at",
        (target,),
    ).fetchall()


def batch_hunt(binary, log, scratch):
    """`modelward hunt --source modelward_llm` over the gateway's log: its alerts and summary."""
    path = os.path.join(scratch, "alerts.ndjson")
    done = subprocess.run([binary, "hunt", "--source", "modelward_llm", "--format", "ndjson", "-o", path, log],
                          capture_output=True, timeout=120)
    alerts = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            alerts = [json.loads(line) for line in f if line.strip()]
    return alerts, done.stderr.decode(errors="replace").strip()


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
    running = {}
    try:
        run(args, openai, checks, upstream, running)
    except Fatal as e:
        checks.failures.append(f"[{checks.current}] {e}")
        say(f"  FATAL {e}")
    except Exception as e:
        checks.failures.append(f"[{checks.current}] unexpected {type(e).__name__}: {e}")
        traceback.print_exc(file=sys.stdout)
    finally:
        gateway = running.get("gateway")
        if gateway is not None:
            gateway.stop()
        upstream.stop()
    if checks.failures and running.get("gateway") is not None:
        say("-- the gateway's output:")
        say(running["gateway"].output() or "(none)")
    say("")
    say(f"summary: {checks.passed} checks ok, {len(checks.failures)} checks failed, "
        f"{time.monotonic() - started:.1f}s")
    for f in checks.failures:
        say(f"  failed: {f}")
    return 1 if checks.failures else 0


def run(args, openai, checks, upstream, running):
    binary = os.path.abspath(args.binary)
    scratch = os.path.abspath(args.dir)
    db = os.path.join(scratch, "measures.db")
    log = os.path.join(scratch, "llm.ndjson")
    config = os.path.join(scratch, "gateway.toml")
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    rng = random.Random(seed)
    keys = {n: f"sk-test-{n}-{rng.getrandbits(64):016x}" for n in ["benign", "attacker"]}
    ids = {n: key_id(k) for n, k in keys.items()}
    say(f"seed {seed}; benign {ids['benign']}, attacker {ids['attacker']}")

    with checks.step("the measures database", fatal=True):
        create_database(binary, db, scratch)

    # [respond] with its defaults: the built-in PB-53, enforcement on (written out so that
    # the test states what it relies on).
    with open(config, "w") as f:
        f.write(
            f"""[gateway]
database = {json.dumps(db)}
log = {json.dumps(log)}
refresh = "{int(REFRESH * 1000)}ms"
detect = true
detect_lateness = "0s"

[[gateway.upstreams]]
name = "chat"
url = "{upstream.url}"

[respond]
enforcement = true
"""
        )

    with checks.step("the gateway starts with detect = true", fatal=True):
        gateway = Gateway(binary, config, dict(os.environ), os.path.join(scratch, "gateway.pid"))
        running["gateway"] = gateway
        address = gateway.wait_ready()
        checks.check(True, f"listening on {address}")

    def client(who):
        return openai.OpenAI(base_url=f"http://{address}/v1", api_key=keys[who], max_retries=0, timeout=SDK_TIMEOUT)

    benign, attacker = client("benign"), client("attacker")
    hello = [{"role": "user", "content": "Say hello."}]

    def benign_call(what):
        r = benign.chat.completions.create(model="fake-chat", messages=hello, max_tokens=50)
        checks.equal(r.choices[0].message.content, REPLY, what)

    with checks.step("benign traffic"):
        for i in range(BENIGN_CALLS):
            benign_call(f"benign call {i + 1} answered")

    con = sqlite3.connect(db, timeout=10)
    outcomes = []  # per attack call: (outcome, start and end (monotonic s), start (wall ms))
    seen_at = None  # (index of the first call made after the measure was in the table, time)
    refused_at = None  # (index, time) of the first refused call
    first_ok = None
    with checks.step("the logit-bias sweep", fatal=True):
        position = rng.randrange(VOCABULARY // WINDOW) * WINDOW
        prompt, favourite = None, None
        for i in range(MAX_ATTACK_CALLS):
            if seen_at is None and measures_on(con, ids["attacker"]):
                seen_at = (i, time.monotonic())
            if i % CALLS_PER_PROMPT == 0:
                prompt = random_prompt(rng)
                favourite = rng.randrange(VOCABULARY)
            bias = {str(t): 100 for t in range(position, min(position + WINDOW, VOCABULARY))}
            position = (position + WINDOW) % VOCABULARY
            if i % 4 == 3 and str(favourite) not in bias:
                bias[str(favourite)] = -100
            start, wall = time.monotonic(), time.time() * 1000
            try:
                r = attacker.chat.completions.create(
                    model="fake-chat",
                    messages=[{"role": "user", "content": prompt}],
                    max_tokens=1,
                    logprobs=True,
                    top_logprobs=TOP_LOGPROBS,
                    logit_bias=bias,
                )
                lp = r.choices[0].logprobs
                got = len(lp.content[0].top_logprobs) if lp and lp.content else 0
                outcome = "logprobs" if got else "no logprobs"
                if first_ok is None:
                    first_ok = (got, r.choices[0].message.content)
            except openai.RateLimitError:
                outcome = "429"
            except openai.BadRequestError as e:
                outcome = "400" if e.code == "unsupported_parameter" else f"400 {e.code}"
            except openai.APIStatusError as e:
                if e.status_code != 428:
                    raise
                outcome = "428"  # proof of work asked (PB-53's decision includes it)
            outcomes.append((outcome, start, time.monotonic(), wall))
            if outcome != "logprobs" and refused_at is None:
                refused_at = (i, time.monotonic())
            if refused_at is not None and i >= refused_at[0] + AFTER_CONTAINMENT:
                break
    attack_calls = len(outcomes)
    counts = {}
    for o, *_ in outcomes:
        counts[o] = counts.get(o, 0) + 1
    durations = sorted(e - s for _, s, e, _ in outcomes)
    say(f"  {attack_calls} attack calls: {counts}; per call median {1000 * durations[len(durations) // 2]:.1f} ms, "
        f"max {1000 * durations[-1]:.1f} ms")

    with checks.step("detected", fatal=True):
        rows = measures_on(con, ids["attacker"])
        measures = sorted({m for m, _, _ in rows})
        checks.check(seen_at is not None,
                     f"measures on the attacker in the enforcement table within {MAX_ATTACK_CALLS} calls",
                     f"none after {attack_calls} calls (enforcement: {con.execute('SELECT * FROM enforcement').fetchall()})")
        checks.check("rate_limit" in measures or "reduce_output_detail" in measures,
                     f"rate_limit and/or reduce_output_detail on {ids['attacker']}: {measures}")
        incidents = con.execute(
            "SELECT DISTINCT i.id, i.doc FROM incidents i JOIN incident_entities e ON e.incident_id = i.id "
            "WHERE e.value = ?", (ids["attacker"],)).fetchall()
        checks.check(len(incidents) == 1, f"one incident names the attacker: {[i for i, _ in incidents]}")
        if not incidents or seen_at is None:
            # The cross-check: does the batch hunt alert on the same log?
            alerts, summary = batch_hunt(binary, log, scratch)
            say(f"  `modelward hunt` over the log: {summary}")
            for a in alerts:
                say(f"    {a.get('rule', {}).get('name')}: {a.get('message') or a.get('summary') or ''}")
            raise Fatal(f"not detected within {attack_calls} calls ({counts})")
        incident, doc = incidents[0][0], json.loads(incidents[0][1])
        first_alert = min(doc["alerts"], key=lambda a: a["timestamp"])
        checks.check(True, f"{incident} opened by {first_alert['rule_name']!r}")
        out = "\n".join(gateway.lines)  # still running: what it said so far
        checks.check(f"opened {incident}" in out, f"the gateway says it opened {incident}", out)
        # API key ids are masked in what modelward prints (modelward_respond::ioc::mask_key).
        done = re.findall(r"action (\S+): (rate_limit|reduce_output_detail) principal (\S+)", out)
        checks.check({("done", "rate_limit"), ("done", "reduce_output_detail")}
                     <= {(v, a) for v, a, k in done if k == masked(ids["attacker"])},
                     f"and that it carried out rate_limit and reduce_output_detail on {masked(ids['attacker'])}", out)

        # Where each step falls in the attack, by call: the call that raised the first alert
        # (its arrival is the alert's time), the first call after the measures were written
        # (their created_at), and the first after they were visible in the table.
        def first_call_from(ms):
            return next((i for i, (_, _, _, wall) in enumerate(outcomes) if wall >= ms), attack_calls)

        triggered = first_call_from(first_alert["timestamp"] + 1) - 1
        created = min(c for m, _, c in rows if m in ("rate_limit", "reduce_output_detail"))
        written = first_call_from(created)
        visible = seen_at[0]
        say(f"  detection: alert at attack call {triggered + 1} ({first_alert['rule_name']}); measures written "
            f"{created - first_alert['timestamp']} ms later, before call {written + 1}; in the table (committed) "
            f"before call {visible + 1}, {seen_at[1] - outcomes[0][1]:.2f}s into the attack")

    with checks.step("the sweep goes through until detected"):
        checks.check(first_ok is not None and first_ok[0] == TOP_LOGPROBS,
                     f"before the measures the sweep gets {TOP_LOGPROBS} top logprobs a call", first_ok)
        early = [o for o, *_ in outcomes[:written]]
        checks.check(all(o == "logprobs" for o in early),
                     f"the {written} calls before the measures were written are all answered with logprobs",
                     {o: early.count(o) for o in set(early)})
        checks.check(50 <= triggered + 1 <= DETECT_CALLS,
                     f"the alert came at call {triggered + 1}: after the 50 the rule needs, by the {DETECT_CALLS}th")

    with checks.step("contained"):
        if refused_at is None:
            raise Fatal(f"no refusal after {attack_calls} calls: {counts}")
        refused = refused_at[0]
        calls = refused - visible + 1
        seconds = outcomes[refused][2] - seen_at[1]
        say(f"  containment: first refusal ({outcomes[refused][0]}) at attack call {refused + 1}: "
            f"call {calls} after the measures were in the table ({seconds:.3f}s later, refresh {REFRESH:.1f}s), "
            f"call {refused - written + 1} after they were written "
            f"({(outcomes[refused][2] - outcomes[min(written, refused)][1]):.3f}s), "
            f"call {refused - triggered} after the alerting call")
        checks.check(seconds <= VISIBLE_SECONDS,
                     f"refused within {VISIBLE_SECONDS:.1f}s of the measures being in the table: {seconds:.3f}s")
        median = durations[len(durations) // 2]
        bound = math.ceil(VISIBLE_SECONDS / median)
        checks.check(calls <= bound, f"refused within {bound} calls of the measures being in the table "
                                     f"(what {VISIBLE_SECONDS:.1f}s holds at the median call, {1000 * median:.1f} ms): {calls}")
        since_alert = outcomes[refused][2] - outcomes[triggered][1]
        checks.check(since_alert <= ALERT_SECONDS,
                     f"refused within {ALERT_SECONDS:.1f}s of the alerting call: {since_alert:.3f}s")
        checks.check(refused >= written, "nothing was refused before the measures were written",
                     f"the first refusal was call {refused + 1}, the measures written before call {written + 1}")
        after = [o for o, *_ in outcomes[refused:]]
        checks.check(len(after) > AFTER_CONTAINMENT and all(o in ("400", "428", "429", "no logprobs") for o in after),
                     f"every call from the first refusal on is refused or without logprobs: "
                     f"{ {o: after.count(o) for o in set(after)} }")

    with checks.step("the benign key is still served"):
        benign_call("a benign call after the attack answered")
        checks.equal(con.execute("SELECT count(*) FROM enforcement WHERE target = ?", (ids["benign"],)).fetchone()[0],
                     0, "no measure on the benign key")
        checks.equal(con.execute("SELECT count(*) FROM incident_entities WHERE value = ?",
                                 (ids["benign"],)).fetchone()[0], 0, "no incident names the benign key")

    with checks.step("the audit log"):
        rows = con.execute("SELECT DISTINCT action, outcome, actor FROM action_audit WHERE target = ?",
                           (ids["attacker"],)).fetchall()
        checks.check(("rate_limit", "done", "modelward gateway") in rows,
                     f"action_audit: the gateway's rate_limit on the attacker: {sorted(rows)}")
        done = subprocess.run([binary, "incident", "--db", db, "audit", incident], capture_output=True, timeout=60)
        entries = [json.loads(line) for line in done.stdout.decode(errors="replace").splitlines() if line.strip()]
        named = {(e.get("action"), e.get("target"), e.get("outcome")) for e in entries}
        checks.check(done.returncode == 0 and ("rate_limit", masked(ids["attacker"]), "done") in named,
                     f"`modelward incident audit {incident}` names the rate_limit on {masked(ids['attacker'])}",
                     f"{named} {done.stderr.decode(errors='replace')}")

    with checks.step("PB-53 2.1.1 is done by the gateway that applied it, not by the table row"):
        # The gateway reports what it has in force and applied at each refresh (1 s), and the
        # incident is analysed again once it has; later alerts may add measures meanwhile.
        deadline = time.monotonic() + MEASURES_TIMEOUT + 10
        while True:
            doc = json.loads(con.execute("SELECT doc FROM incidents WHERE id = ?", (incident,)).fetchone()[0])
            task = next((t for t in doc["tasks"] if t["id"] == "contain.2.1.1"), {})
            applied = con.execute("SELECT measure, gateway, in_force_at, requests FROM enforcement_applied"
                                  " WHERE incident_id = ? AND target = ?", (incident, ids["attacker"])).fetchall()
            written = {m for (m,) in con.execute("SELECT measure FROM enforcement WHERE incident_id = ? AND target = ?",
                                                 (incident, ids["attacker"]))}
            kinds = {m for m, _, _, _ in applied}
            settled = (task.get("state") == "done" and written <= kinds
                       and sum(r for _, _, _, r in applied) > 0)
            if settled or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        checks.check(task.get("state") == "done" and str(task.get("done_by", "")).startswith("gateway:"),
                     "task contain.2.1.1 done by the gateway", task)
        checks.check({"rate_limit", "reduce_output_detail", "proof_of_work"} <= written <= kinds,
                     f"enforcement_applied: the gateway has each measure written in force ({sorted(written)})", applied)
        checks.check(all(g == f"gateway@{address}" for _, g, _, _ in applied),
                     "named by the address it listens on", applied)
        checks.check(sum(r for _, _, _, r in applied) > 0, "and counts the requests it changed or refused", applied)
        done = subprocess.run([binary, "incident", "--db", db, "enforcement", "--format", "ndjson"],
                              capture_output=True, timeout=60)
        said = done.stdout.decode(errors="replace")
        listed = [json.loads(line) for line in said.splitlines() if line.strip()]
        checks.check(bool(listed) and all(any(e["gateway"] == f"gateway@{address}" for e in m["enforced"])
                                          for m in listed),
                     "`incident enforcement` names the gateway enforcing each measure", said)

    with checks.step("MW-TH-0001 joins the incident"):
        # The analyzer alerts at the 100th probe (refused calls are probes too: the log has
        # their requests), which the attack passed; detection may still be on it.
        deadline = time.monotonic() + MEASURES_TIMEOUT
        while True:
            doc = json.loads(con.execute("SELECT doc FROM incidents WHERE id = ?", (incident,)).fetchone()[0])
            names = sorted({a["rule_name"] for a in doc["alerts"]})
            if ANALYZER in names or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        checks.check(ANALYZER in names, f"{incident}'s alerts: {names}")
    con.close()

    with checks.step("the gateway stops; its log"):
        gateway.proc.send_signal(signal.SIGTERM)
        try:
            code = gateway.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            code = None
        checks.equal(code, 0, "the gateway exits 0 on SIGTERM")
        out = gateway.output()
        say("  the gateway's detection output:")
        for line in out.splitlines():
            if "listening on" not in line:
                say(f"    {line}")
        with open(log, encoding="utf-8") as f:
            docs = [json.loads(line) for line in f]
        mine = [d for d in docs if d["principal"]["api_key_id"] == ids["attacker"]]
        checks.equal(len(mine), attack_calls, "every attack call is logged")
        statuses = {}
        for d in mine:
            statuses[d["http"]["status"]] = statuses.get(d["http"]["status"], 0) + 1
        say(f"  attack calls logged by status: {statuses}")

    with checks.step("`modelward hunt` over the same log alerts on the sweep"):
        alerts, summary = batch_hunt(binary, log, scratch)
        text = json.dumps(alerts)
        sweep = [a for a in alerts if "MW-TH-0001" in json.dumps(a) and ids["attacker"] in json.dumps(a)]
        checks.check(sweep, f"MW-TH-0001 on the attacker among {len(alerts)} alerts", summary + text[:2000])
        checks.check(ids["benign"] not in text, "no alert names the benign key", text[:2000])


if __name__ == "__main__":
    sys.exit(main())
