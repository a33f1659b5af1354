#!/usr/bin/env python3
"""End to end: the official `openai` Python SDK, unchanged, against `modelward gateway`.

    python3 test_gateway.py --binary target/debug/modelward --dir SCRATCH

Starts two fake OpenAI-compatible upstreams (threads of this process, HTTP/1.1 keep-alive,
chunked SSE streams), creates the measures database with `modelward hunt --incidents`,
starts the gateway binary in front of them, and drives it with `openai.OpenAI`: chat (whole
and streamed), completions with logprobs, embeddings, models; then puts measures in force by
writing the `enforcement` table with sqlite3 and checks what the SDK raises (403, 401, 429
with Retry-After, 400) and what reduced output detail leaves out; lifts a measure; stops the
gateway with SIGTERM in the middle of a stream; and reads the LLM request log it wrote.

Needs Python 3.8+ and `openai` 1.x or later (crates/cli/tests/gateway_sdk/requirements.txt
pins the version CI uses). Exits 0 when every check holds, 1 otherwise, 2 on bad arguments;
the gateway is stopped on every way out. Run by crates/cli/tests/gateway_sdk.rs.
"""

import argparse
import base64
import contextlib
import gzip
import hashlib
import json
import os
import re
import secrets
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# What the fake upstreams answer.
WORDS = ["Hello", " from", " the", " fake", " upstream", "."]
REPLY = "".join(WORDS)
SLOW_WORDS = ["Slow", " and", " steady", " finishes", " the", " stream", "."]
SLOW_REPLY = "".join(SLOW_WORDS)
TEXT_WORDS = [" world", " says", " hi"]
TEXT_REPLY = "".join(TEXT_WORDS)
CHUNK_DELAY = 0.06  # between a stream's chunks
SLOW_DELAY = 0.15  # between slow-model's chunks
LEAKY = "leaky-model"  # returns logprobs whether asked or not
PERTURBED = "fake-chat-perturbed"  # the model of the perturbation step's calls
SLOW = "slow-model"
BAD = "bad-model"  # the upstream answers 400
KEYED = "keyed-model"  # its Responses API answer holds an AWS access key id
AWS_KEY = "AKIAQYLPMN5HHHFPZAM2"
KEYED_REPLY = f"Here it is:\naws_access_key_id = {AWS_KEY}\nKeep it safe."
UPSTREAM_SECRET = "upstream-secret-" + secrets.token_hex(8)

# Every wait is bounded.
START_TIMEOUT = 20.0
MEASURES_TIMEOUT = 5.0
STOP_TIMEOUT = 10.0
SDK_TIMEOUT = 20.0


def say(*parts):
    print(*parts, flush=True)


def key_id(key):
    """modelward_gateway::key_id: `key-` and the first 16 hex digits of the key's SHA-256."""
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:16]


# --- the fake upstream -----------------------------------------------------------------


class Upstream:
    """An OpenAI-compatible server on 127.0.0.1 that records every request it receives;
    `handler`: FakeOpenAI or a subclass of it (test_containment.py's)."""

    def __init__(self, name, handler=None):
        self.name = name
        self.lock = threading.Lock()
        self.requests = []
        self.aborted = 0  # streams whose reader went away before their end
        upstream = self

        class Handler(handler or FakeOpenAI):
            pass

        Handler.upstream = upstream
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self.thread.start()

    def record(self, entry):
        with self.lock:
            self.requests.append(entry)

    def seen(self, path=None):
        with self.lock:
            return [r for r in self.requests if path is None or r["path"] == path]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class FakeOpenAI(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; streams are sent chunked
    timeout = 30  # an idle kept-alive connection is closed after this
    upstream = None
    counter = iter(range(1, 1 << 30))

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass

    # -- plumbing

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def request_id(self):
        return f"req-{self.upstream.name}-{next(self.counter)}"

    def send_json(self, status, doc):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if "gzip" in self.headers.get("Accept-Encoding", ""):
            # As api.openai.com does for a client that accepts it (the SDK's httpx does).
            data = gzip.compress(data)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", self.request_id())
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def send_stream(self, events, delay, named=False):
        """SSE over chunked transfer encoding, `delay` between events; each event is cut in two
        chunks sent a moment apart, as a network may cut it. `named`: each event with an
        `event:` line naming its type, as the Responses API sends them."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", self.request_id())
        self.end_headers()
        try:
            for i, event in enumerate(events + ["[DONE]"]):
                if i:
                    time.sleep(delay)
                data = event if event == "[DONE]" else json.dumps(event)
                name = f"event: {event['type']}\n" if named and event != "[DONE]" else ""
                payload = f"{name}data: {data}\n\n".encode()
                half = len(payload) // 2
                for j, piece in enumerate([payload[:half], payload[half:]]):
                    if j:
                        time.sleep(0.005)
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            with self.upstream.lock:
                self.upstream.aborted += 1

    # -- the API

    def do_GET(self):
        self.upstream.record(
            {"method": "GET", "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": None}
        )
        if self.path == "/v1/models":
            ids = ["fake-chat", LEAKY, SLOW, "text-embedding-3-small"]
            self.send_json(
                200,
                {
                    "object": "list",
                    "data": [
                        {"id": i, "object": "model", "created": 0, "owned_by": self.upstream.name}
                        for i in ids
                    ],
                },
            )
        else:
            self.send_json(404, {"error": {"message": "no such path", "type": "invalid_request_error"}})

    def do_POST(self):
        raw = self.read_body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.upstream.record(
            {"method": "POST", "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
        )
        path = self.path.split("?")[0]
        azure = re.fullmatch(r"/openai/deployments/([^/]+)/(chat/completions|completions|embeddings)", path)
        if azure and isinstance(body, dict):
            # Azure OpenAI: the deployment names the model.
            body.setdefault("model", azure.group(1))
            path = "/v1/" + azure.group(2)
        if not isinstance(body, dict):
            self.send_json(400, {"error": {"message": "not JSON", "type": "invalid_request_error"}})
        elif body.get("model") == BAD:
            self.send_json(
                400,
                {"error": {"message": "upstream says no", "type": "invalid_request_error",
                           "param": "model", "code": "upstream_refusal"}},
            )
        elif path == "/v1/chat/completions":
            self.chat(body)
        elif path == "/v1/completions":
            self.completions(body)
        elif path == "/v1/embeddings":
            self.embeddings(body)
        elif path == "/v1/responses":
            self.responses_api(body)
        else:
            self.send_json(404, {"error": {"message": "no such path", "type": "invalid_request_error"}})

    def chat(self, body):
        model = body.get("model", "")
        words = SLOW_WORDS if model == SLOW else WORDS
        logprobs = body.get("logprobs") is True or model == LEAKY
        created = int(time.time())
        cid = f"chatcmpl-{self.upstream.name}-{created}"
        usage = {
            "prompt_tokens": 7,
            "completion_tokens": len(words),
            "total_tokens": 7 + len(words),
        }

        def lp(ws):
            return {
                "content": [
                    {
                        "token": w,
                        "logprob": -0.25,
                        "bytes": list(w.encode()),
                        "top_logprobs": [{"token": w, "logprob": -0.25, "bytes": list(w.encode())}],
                    }
                    for w in ws
                ],
                "refusal": None,
            }

        if not body.get("stream"):
            choice = {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(words), "refusal": None},
                "logprobs": lp(words) if logprobs else None,
                "finish_reason": "stop",
            }
            self.send_json(
                200,
                {
                    "id": cid,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "system_fingerprint": "fp_fake",
                    "choices": [choice],
                    "usage": usage,
                },
            )
            return
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta, finish=None, lps=None):
            c = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": lps, "finish_reason": finish}
                ],
            }
            if include_usage:
                c["usage"] = None
            return c

        events = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"content": w}, lps=lp([w]) if logprobs else None) for w in words]
        events.append(chunk({}, finish="stop"))
        if include_usage:
            events.append(
                {
                    "id": cid,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "system_fingerprint": "fp_fake",
                    "choices": [],
                    "usage": usage,
                }
            )
        self.send_stream(events, SLOW_DELAY if model == SLOW else CHUNK_DELAY)

    def completions(self, body):
        model = body.get("model", "")
        asked = body.get("logprobs")
        logprobs = (asked is not None and asked is not False) or model == LEAKY
        created = int(time.time())
        cid = f"cmpl-{self.upstream.name}-{created}"

        def lp(ws, offset=0):
            offsets, at = [], offset
            for w in ws:
                offsets.append(at)
                at += len(w)
            return {
                "tokens": list(ws),
                "token_logprobs": [-0.5] * len(ws),
                "top_logprobs": [{w: -0.5} for w in ws],
                "text_offset": offsets,
            }

        usage = {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}
        if not body.get("stream"):
            self.send_json(
                200,
                {
                    "id": cid,
                    "object": "text_completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "text": TEXT_REPLY,
                            "logprobs": lp(TEXT_WORDS) if logprobs else None,
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                },
            )
            return
        events, at = [], 0
        for i, w in enumerate(TEXT_WORDS):
            events.append(
                {
                    "id": cid,
                    "object": "text_completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "text": w,
                            "logprobs": lp([w], at) if logprobs else None,
                            "finish_reason": "stop" if i == len(TEXT_WORDS) - 1 else None,
                        }
                    ],
                }
            )
            at += len(w)
        self.send_stream(events, CHUNK_DELAY)

    def responses_api(self, body):
        model = body.get("model", "")
        logprobs = "message.output_text.logprobs" in (body.get("include") or []) or model == LEAKY
        created = int(time.time())
        if body.get("stream"):
            self.responses_stream(body, created)
            return
        text = {"type": "output_text", "text": REPLY, "annotations": []}
        if logprobs:
            text["logprobs"] = [
                {"token": w, "logprob": -0.25, "bytes": list(w.encode()),
                 "top_logprobs": [{"token": w, "logprob": -0.25, "bytes": list(w.encode())}]}
                for w in WORDS
            ]
        self.send_json(
            200,
            {
                "id": f"resp_{self.upstream.name}_{created}",
                "object": "response",
                "created_at": created,
                "model": model,
                "status": "completed",
                "output": [
                    {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                     "content": [text]}
                ],
                "parallel_tool_calls": True,
                "tool_choice": "auto",
                "tools": [],
                "top_logprobs": body.get("top_logprobs"),
                "usage": {"input_tokens": 4, "output_tokens": len(WORDS), "total_tokens": 4 + len(WORDS)},
            },
        )

    def responses_stream(self, body, created):
        """The Responses API's events as OpenAI streams them, the text in deltas of three
        characters (KEYED's text holds a key, cut across deltas)."""
        model = body.get("model", "")
        reply = KEYED_REPLY if model == KEYED else REPLY
        rid, mid = f"resp_{self.upstream.name}_{created}", "msg_1"
        part = {"type": "output_text", "text": reply, "annotations": [], "logprobs": []}
        item = {"type": "message", "id": mid, "role": "assistant", "status": "completed", "content": [part]}
        response = {"id": rid, "object": "response", "created_at": created, "model": model,
                    "status": "in_progress", "output": [], "parallel_tool_calls": True,
                    "tool_choice": "auto", "tools": []}
        at = {"item_id": mid, "output_index": 0, "content_index": 0}
        events = [
            {"type": "response.created", "response": response},
            {"type": "response.output_item.added", "output_index": 0,
             "item": dict(item, status="in_progress", content=[])},
            {"type": "response.content_part.added", **at, "part": dict(part, text="")},
        ]
        for i in range(0, len(reply), 3):
            events.append({"type": "response.output_text.delta", **at, "delta": reply[i:i + 3], "logprobs": []})
        usage = {"input_tokens": 4, "output_tokens": 9, "total_tokens": 13,
                 "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}
        events += [
            {"type": "response.output_text.done", **at, "text": reply, "logprobs": []},
            {"type": "response.content_part.done", **at, "part": part},
            {"type": "response.output_item.done", "output_index": 0, "item": item},
            {"type": "response.completed",
             "response": dict(response, status="completed", output=[item], usage=usage)},
        ]
        for n, e in enumerate(events):
            e["sequence_number"] = n
        self.send_stream(events, 0.005, named=True)

    def embeddings(self, body):
        inputs = body.get("input")
        inputs = inputs if isinstance(inputs, list) else [inputs]
        data = []
        for i, text in enumerate(inputs):
            vector = embedding_of(i, text)
            if body.get("encoding_format") == "base64":
                value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            else:
                value = vector
            data.append({"object": "embedding", "index": i, "embedding": value})
        self.send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
            },
        )


def embedding_of(i, text):
    """Values exact in float32, so the SDK's base64 decoding gives them back as they are."""
    return [0.5 * (i + 1), -0.25, 0.125, float(len(str(text)))]


# --- the gateway process ---------------------------------------------------------------


class Gateway:
    """`modelward gateway` as a child process; its stderr collected line by line."""

    def __init__(self, binary, config, env, pid_file):
        self.proc = subprocess.Popen(
            [binary, "gateway", "--config", config, "--listen", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        with open(pid_file, "w") as f:
            f.write(str(self.proc.pid))
        self.lines = []
        self.address = None
        self.ready = threading.Event()
        self.readers = [
            threading.Thread(target=self._read, args=(self.proc.stderr, "stderr"), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stdout, "stdout"), daemon=True),
        ]
        for t in self.readers:
            t.start()

    def _read(self, stream, name):
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(f"[gateway {name}] {line}")
            m = re.search(r"listening on http://(\S+)", line)
            if m and self.address is None:
                self.address = m.group(1)
                self.ready.set()
        if name == "stderr":
            self.ready.set()  # ended without saying where it listens

    def wait_ready(self):
        if not self.ready.wait(START_TIMEOUT) or self.address is None:
            raise Fatal(
                f"the gateway did not say where it listens within {START_TIMEOUT:.0f}s "
                f"(exit code {self.proc.poll()})"
            )
        return self.address

    def output(self):
        for t in self.readers:
            t.join(timeout=2)
        return "\n".join(self.lines)

    def stop(self):
        """Ends the process whatever state it is in (the cleanup on every way out)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)


# --- checks ----------------------------------------------------------------------------


class Fatal(Exception):
    """A failure after which the remaining steps cannot run."""


class Checks:
    def __init__(self):
        self.passed = 0
        self.failures = []
        self.current = ""

    def check(self, cond, what, detail=None):
        if cond:
            self.passed += 1
            say(f"  ok    {what}")
        else:
            text = what if detail is None else f"{what}: {detail}"
            self.failures.append(f"[{self.current}] {text}")
            say(f"  FAIL  {text}")
        return bool(cond)

    def equal(self, got, want, what):
        return self.check(got == want, what, None if got == want else f"got {got!r}, want {want!r}")

    @contextlib.contextmanager
    def step(self, name, fatal=False):
        """A step: an unexpected exception fails it and the next steps run, unless the step
        is `fatal` (the rest needs it) or the exception is `Fatal`."""
        self.current = name
        say(f"== {name}")
        try:
            yield
        except Fatal:
            raise
        except Exception as e:
            if fatal:
                traceback.print_exc(file=sys.stdout)
                raise Fatal(f"unexpected {type(e).__name__}: {e}") from e
            self.failures.append(f"[{name}] unexpected {type(e).__name__}: {e}")
            say(f"  FAIL  unexpected {type(e).__name__}: {e}")
            traceback.print_exc(file=sys.stdout)


def expect_error(cls, call):
    """Runs `call`; returns the exception of type `cls` it raised, else raises AssertionError."""
    import openai

    try:
        call()
    except cls as e:
        return e
    except openai.APIStatusError as e:
        raise AssertionError(
            f"expected {cls.__name__}, got {type(e).__name__} ({e.status_code}): {e.body}"
        ) from e
    raise AssertionError(f"expected {cls.__name__}, the call succeeded")


# --- the test ----------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, help="the modelward binary")
    parser.add_argument("--dir", required=True, help="a scratch folder (created if missing)")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    try:
        import openai
    except ImportError as e:
        say(f"FAIL: cannot import openai ({e}); install crates/cli/tests/gateway_sdk/requirements.txt")
        return 1
    say(f"openai {openai.__version__} (Python {sys.version.split()[0]}), binary {args.binary}")
    if int(openai.__version__.split(".")[0]) < 1:
        say("FAIL: openai 1.x or later is needed")
        return 1

    # SIGTERM (a harness giving up) runs the cleanup below like any failure.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))

    started = time.monotonic()
    checks = Checks()
    ups = {n: Upstream(n) for n in ["chat", "embed", "azure"]}
    gateway = None
    try:
        gateway = run(args, openai, checks, ups)
    except Fatal as e:
        checks.failures.append(f"[{checks.current}] {e}")
        say(f"  FATAL {e}")
    except Exception as e:
        checks.failures.append(f"[{checks.current}] unexpected {type(e).__name__}: {e}")
        traceback.print_exc(file=sys.stdout)
    finally:
        holder = gateway or RUNNING.get("gateway")
        if holder is not None:
            holder.stop()
        for u in ups.values():
            u.stop()
    if checks.failures and RUNNING.get("gateway") is not None:
        say("-- the gateway's output:")
        say(RUNNING["gateway"].output() or "(none)")
    elapsed = time.monotonic() - started
    say("")
    say(f"summary: {checks.passed} checks ok, {len(checks.failures)} checks failed, {elapsed:.1f}s")
    for f in checks.failures:
        say(f"  failed: {f}")
    return 1 if checks.failures else 0


RUNNING = {}


def free_port():
    """A port on 127.0.0.1 that nothing listens on (an upstream that is down)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_database(binary, db, scratch):
    """Creates the measures database `db` with `modelward hunt --incidents` over an empty
    log; returns the columns of its enforcement table."""
    empty = os.path.join(scratch, "empty.ndjson")
    open(empty, "w").close()
    done = subprocess.run(
        [binary, "hunt", "--quiet", "--incidents", db, empty],
        capture_output=True,
        timeout=60,
    )
    if done.returncode != 0 or not os.path.exists(db):
        raise Fatal(f"`hunt --incidents` did not create {db}: {done.stderr.decode(errors='replace')}")
    con = sqlite3.connect(db)
    columns = [r[1] for r in con.execute("PRAGMA table_info(enforcement)")]
    con.close()
    return columns


def source_client(openai, source):
    """The SDK's own HTTP client, bound to the local address `source` (openai 1.x and 2.x
    use httpx, 3.x its successor httpx2)."""
    try:
        import httpx2

        return openai.DefaultHttpx2Client(transport=httpx2.HTTPTransport(local_address=source))
    except (ImportError, AttributeError):
        import httpx

        return openai.DefaultHttpxClient(transport=httpx.HTTPTransport(local_address=source))


def run(args, openai, checks, ups):
    chat_up, embed_up, azure_up = ups["chat"], ups["embed"], ups["azure"]
    binary = os.path.abspath(args.binary)
    scratch = os.path.abspath(args.dir)
    db = os.path.join(scratch, "measures.db")
    log = os.path.join(scratch, "llm.ndjson")
    config = os.path.join(scratch, "gateway.toml")
    keys = {n: f"sk-test-{n}-{secrets.token_hex(12)}" for n in ["alice", "bob", "carol", "dave", "erin"]}
    ids = {n: key_id(k) for n, k in keys.items()}
    expected = []  # (key id, method, path, status) of every call that reaches the gateway

    def called(who, path, status, method="POST"):
        expected.append((ids[who], method, path, status))

    with checks.step("the measures database", fatal=True):
        columns = create_database(binary, db, scratch)
        checks.equal(
            columns,
            ["measure", "target_kind", "target", "params", "incident_id", "reason", "created_at", "expires_at"],
            "`hunt --incidents` created and migrated the enforcement table",
        )

    with open(config, "w") as f:
        f.write(
            f"""[gateway]
listen = "127.0.0.1:8080"
database = {json.dumps(db)}
log = {json.dumps(log)}
refresh = "1s"
upstream_timeout = "30s"
header_timeout = "10s"
max_body_bytes = 1048576

[[gateway.upstreams]]
name = "embed"
url = "{embed_up.url}/"
kind = "openai"
api_key_env = "MW_SDK_TEST_UPSTREAM_KEY"
models = ["text-embedding-*"]

[[gateway.upstreams]]
name = "azure"
url = "{azure_up.url}"
kind = "azure"
api_key_env = "MW_SDK_TEST_UPSTREAM_KEY"
models = ["azure-*"]

[[gateway.upstreams]]
name = "down"
url = "http://127.0.0.1:{free_port()}"
models = ["down-*"]

[[gateway.upstreams]]
name = "chat"
url = "{chat_up.url}"
api_key_env = "MW_SDK_TEST_UPSTREAM_KEY"
"""
        )
    env = dict(os.environ, MW_SDK_TEST_UPSTREAM_KEY=UPSTREAM_SECRET)

    with checks.step("the gateway starts", fatal=True):
        gateway = Gateway(binary, config, env, os.path.join(scratch, "gateway.pid"))
        RUNNING["gateway"] = gateway
        address = gateway.wait_ready()
        checks.check(not address.endswith(":0") and not address.endswith(":8080"),
                     f"--listen 127.0.0.1:0 overrides the config and listens on {address}")
    base = f"http://{address}"

    def healthz():
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as r:
            return json.loads(r.read())

    def wait_measures(count, unapplied):
        deadline = time.monotonic() + MEASURES_TIMEOUT
        h = None
        while time.monotonic() < deadline:
            h = healthz()
            if h.get("measures") == count and h.get("measures_unapplied") == unapplied:
                return h
            time.sleep(0.1)
        raise Fatal(f"the gateway did not read the measures within {MEASURES_TIMEOUT:.0f}s: /healthz {h}")

    def client(who, source=None):
        # `source`: the client's own address (127.0.0.2 is loopback too), through the SDK's
        # http_client option.
        http_client = None if source is None else source_client(openai, source)
        return openai.OpenAI(
            base_url=f"{base}/v1", api_key=keys[who], max_retries=0, timeout=SDK_TIMEOUT,
            http_client=http_client,
        )

    clients = {n: client(n) for n in keys}
    alice, bob, carol, dave, erin = (clients[n] for n in ["alice", "bob", "carol", "dave", "erin"])
    hello = [{"role": "user", "content": "Say hello."}]
    CHAT, CMPL, EMB, MODELS = "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models"

    with checks.step("no measures: /healthz"):
        h = healthz()
        checks.equal((h.get("status"), h.get("measures")), ("ok", 0), "/healthz answers with no measures")

    with checks.step("chat, whole"):
        raw = alice.chat.completions.with_raw_response.create(
            model="fake-chat", messages=hello, max_tokens=20, user="alice-user"
        )
        called("alice", CHAT, 200)
        r = raw.parse()
        checks.equal(r.choices[0].message.content, REPLY, "the reply")
        checks.equal(r.usage.total_tokens, 7 + len(WORDS), "usage")
        checks.check(r.id.startswith("chatcmpl-chat-"), "answered by the chat upstream", r.id)
        checks.check(raw.headers.get("x-request-id", "").startswith("req-chat-"),
                     "the upstream's x-request-id is passed back", dict(raw.headers))
        sent = chat_up.seen(CHAT)[-1]
        checks.equal(sent["body"], {"model": "fake-chat", "messages": hello, "max_tokens": 20, "user": "alice-user"},
                     "the upstream got the request body as the SDK sent it")
        checks.equal(sent["headers"].get("authorization"), f"Bearer {UPSTREAM_SECRET}",
                     "the upstream got the key of api_key_env, not the caller's")

    with checks.step("chat, streamed"):
        stream = alice.chat.completions.create(
            model="fake-chat", messages=hello, stream=True, stream_options={"include_usage": True}
        )
        pieces, arrivals, usage = [], [], None
        for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
            for c in chunk.choices:
                if c.delta.content:
                    pieces.append(c.delta.content)
                    arrivals.append(time.monotonic())
        called("alice", CHAT, 200)
        checks.equal(pieces, WORDS, "every chunk arrived, in order")
        checks.equal("".join(pieces), REPLY, "the joined text")
        checks.equal(usage and usage.total_tokens, 7 + len(WORDS), "the usage chunk (stream_options.include_usage)")
        spread = arrivals[-1] - arrivals[0] if arrivals else 0
        want = CHUNK_DELAY * (len(WORDS) - 1) * 0.5
        checks.check(spread >= want, f"chunks arrive as the upstream sends them ({spread:.2f}s from first to last)",
                     f"less than {want:.2f}s: the stream was buffered")
        checks.equal(chat_up.seen(CHAT)[-1]["body"].get("stream_options"), {"include_usage": True},
                     "stream_options forwarded")

    with checks.step("completions with logprobs"):
        r = alice.completions.create(model="fake-chat", prompt="Hello", max_tokens=5, logprobs=2)
        called("alice", CMPL, 200)
        checks.equal(r.choices[0].text, TEXT_REPLY, "the text")
        checks.equal(r.choices[0].logprobs and r.choices[0].logprobs.tokens, TEXT_WORDS, "logprobs returned")
        checks.equal(chat_up.seen(CMPL)[-1]["body"].get("logprobs"), 2, "the upstream was asked for logprobs")

    with checks.step("completions, streamed"):
        pieces = [c.choices[0].text for c in alice.completions.create(
            model="fake-chat", prompt="Hello", max_tokens=5, stream=True) if c.choices]
        called("alice", CMPL, 200)
        checks.equal("".join(pieces), TEXT_REPLY, "the joined text")

    with checks.step("embeddings (routed by model glob)"):
        before = len(chat_up.seen())
        r = alice.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"])
        called("alice", EMB, 200)
        checks.equal([d.embedding for d in r.data], [embedding_of(0, "alpha"), embedding_of(1, "beta")],
                     "the vectors (the SDK's default base64 encoding decoded)")
        sent = embed_up.seen(EMB)
        checks.equal(len(sent), 1, "the embed upstream took it")
        checks.equal(len(chat_up.seen()), before, "the chat upstream did not")
        checks.equal(sent and sent[-1]["body"].get("encoding_format"), "base64", "encoding_format forwarded")

    with checks.step("models"):
        models = [m.id for m in alice.models.list()]
        called("alice", MODELS, 200, method="GET")
        checks.check("fake-chat" in models and SLOW in models, "models.list", models)

    with checks.step("Azure OpenAI client (AzureOpenAI, api-key header, deployment path)"):
        az = openai.AzureOpenAI(azure_endpoint=base, api_key=keys["alice"], api_version="2024-06-01",
                                max_retries=0, timeout=SDK_TIMEOUT)
        r = az.chat.completions.create(model="azure-gpt4o", messages=hello)
        called("alice", "/openai/deployments/azure-gpt4o/chat/completions", 200)
        checks.equal(r.choices[0].message.content, REPLY, "the reply")
        sent = azure_up.seen()
        checks.equal(len(sent), 1, "the azure upstream took it (models glob azure-*)")
        if sent:
            checks.equal(sent[-1]["path"], "/openai/deployments/azure-gpt4o/chat/completions?api-version=2024-06-01",
                         "path and query forwarded")
            checks.equal((sent[-1]["headers"].get("api-key"), sent[-1]["headers"].get("authorization")),
                         (UPSTREAM_SECRET, None), "the upstream key in api-key, no Authorization")
        RUNNING["azure"] = az

    chat_calls = lambda: len(chat_up.seen())  # noqa: E731

    with checks.step("errors"):
        e = expect_error(openai.BadRequestError,
                         lambda: alice.chat.completions.create(model=BAD, messages=hello))
        called("alice", CHAT, 400)
        checks.equal((e.status_code, e.code), (400, "upstream_refusal"), "the upstream's 400 and its error passed on")
        e = expect_error(openai.InternalServerError,
                         lambda: alice.chat.completions.create(model="down-model", messages=hello))
        called("alice", CHAT, 502)
        checks.equal((e.status_code, e.code), (502, "upstream_unavailable"), "an upstream that is down: 502")
        e = expect_error(openai.NotFoundError, lambda: alice.files.list())
        checks.equal((e.status_code, e.code), (404, "unknown_url"), "a path the gateway does not serve: 404")
        before = chat_calls()
        e = expect_error(openai.APIStatusError, lambda: alice.chat.completions.create(
            model="fake-chat", messages=[{"role": "user", "content": "x" * 1_500_000}]))
        called("alice", CHAT, 413)
        checks.equal((e.status_code, e.code), (413, "request_too_large"), "a body over max_body_bytes: 413")
        checks.equal(chat_calls(), before, "it did not reach the upstream")

    with checks.step("responses API"):
        r = alice.responses.create(model="fake-chat", input="Say hello.")
        called("alice", "/v1/responses", 200)
        checks.equal(r.output_text, REPLY, "the output text")
        checks.equal(chat_up.seen("/v1/responses")[-1]["body"], {"model": "fake-chat", "input": "Say hello."},
                     "the request forwarded")

    with checks.step("responses API streamed, a credential masked across deltas (mask_credentials)"):
        masking_config = os.path.join(scratch, "masking.toml")
        with open(masking_config, "w") as f:
            f.write(f"""[gateway]
listen = "127.0.0.1:8080"
log = {json.dumps(os.path.join(scratch, "masking.ndjson"))}
mask_credentials = true

[[gateway.upstreams]]
name = "chat"
url = "{chat_up.url}"
api_key_env = "MW_SDK_TEST_UPSTREAM_KEY"
""")
        masking = Gateway(binary, masking_config, env, os.path.join(scratch, "masking.pid"))
        try:
            m = openai.OpenAI(base_url=f"http://{masking.wait_ready()}/v1", api_key=keys["alice"],
                              max_retries=0, timeout=SDK_TIMEOUT)
            masked = KEYED_REPLY.replace(AWS_KEY, "AKIA…M2 (20 chars)")
            events = list(m.responses.create(model=KEYED, input="The key?", stream=True))
            deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
            checks.equal("".join(deltas), masked, "the deltas join into the masked text")
            sent = ""
            leaked = []
            for d in deltas:
                sent += d
                if "AKIAQY" in sent:
                    leaked.append(sent)
            checks.check(not leaked, "no delta carries a piece of the key", leaked[:1])
            numbers = [e.sequence_number for e in events]
            checks.equal(numbers, list(range(len(events))), "sequence numbers in order, the held rest included")
            done = [e.text for e in events if e.type == "response.output_text.done"]
            checks.equal(done, [masked], "response.output_text.done's text masked")
            with m.responses.stream(model=KEYED, input="The key?") as stream:
                texts = [e.snapshot for e in stream if e.type == "response.output_text.delta"]
                final = stream.get_final_response()
            checks.equal(texts[-1] if texts else None, masked, "the SDK's stream helper: the text accumulated")
            checks.equal(final.output_text, masked, "the SDK's stream helper: the final response's output_text")
            r = m.responses.create(model="fake-chat", input="Say hello.", stream=True)
            checks.equal("".join(e.delta for e in r if e.type == "response.output_text.delta"), REPLY,
                         "a stream without credentials: its text whole")
        finally:
            masking.stop()

    with checks.step("a client that goes away mid-stream"):
        stream = bob.chat.completions.create(model=SLOW, messages=hello, stream=True)
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                break
        stream.close()
        called("bob", CHAT, 200)
        deadline = time.monotonic() + 5
        while chat_up.aborted == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        checks.equal(chat_up.aborted, 1, "the upstream's stream is ended too")

    with checks.step("concurrent calls"):
        from concurrent.futures import ThreadPoolExecutor

        def one(i):
            model = "fake-chat-concurrent"
            if i % 2:
                chunks = alice.chat.completions.create(model=model, messages=hello, stream=True)
                return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            return alice.chat.completions.create(model=model, messages=hello).choices[0].message.content

        with ThreadPoolExecutor(max_workers=8) as pool:
            replies = list(pool.map(one, range(16), timeout=60))
        for _ in replies:
            called("alice", CHAT, 200)
        checks.equal(replies, [REPLY] * 16, "16 calls on 8 threads, half of them streamed")

    with checks.step("logprobs pass through without measures (the control for reduced detail)"):
        chunks = list(alice.chat.completions.create(model=LEAKY, messages=hello, stream=True))
        called("alice", CHAT, 200)
        checks.check(any(c.choices and c.choices[0].logprobs for c in chunks), "the stream carries logprobs")
        r = bob.chat.completions.create(model=LEAKY, messages=hello)
        called("bob", CHAT, 200)
        checks.check(r.choices[0].logprobs is not None, "the whole reply carries logprobs")

    # --- measures -----------------------------------------------------------------------
    now = int(time.time() * 1000)

    def row(measure, kind, target, params="{}", expires=None, incident="INC-SDK-1"):
        return (measure, kind, target, params, incident, "gateway SDK test", now, expires)

    rows = [
        row("block", "principal", ids["bob"]),
        row("revoke_key", "api_key", ids["carol"]),
        row("rate_limit", "principal", ids["dave"], json.dumps({"requests_per_minute": 2})),
        row("reduce_output_detail", "principal", ids["erin"]),
        row("block", "model", "blocked-model", incident="INC-SDK-2"),
        row("block", "principal", ids["alice"], expires=now - 60_000),  # expired: not in force
        row("perturb_output", "principal", ids["alice"], json.dumps({"noise": 0.2})),
        row("lock_storage", "principal", ids["alice"]),  # in force, not the gateway's to apply
        row("block", "source_ip", "127.0.0.2"),
    ]
    with checks.step("measures written with sqlite3 are read within the refresh", fatal=True):
        con = sqlite3.connect(db, timeout=10)
        with con:
            con.executemany(
                "INSERT INTO enforcement (measure, target_kind, target, params, incident_id, reason,"
                " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        con.close()
        t0 = time.monotonic()
        wait_measures(8, 1)
        checks.check(True, f"/healthz counts 8 measures in force, 1 not applied, after {time.monotonic() - t0:.1f}s")

    with checks.step("block -> 403 PermissionDeniedError"):
        before = chat_calls()
        e = expect_error(openai.PermissionDeniedError,
                         lambda: bob.chat.completions.create(model="fake-chat", messages=hello))
        called("bob", CHAT, 403)
        checks.equal(e.status_code, 403, "status")
        checks.equal(e.code, "access_denied", "error code")
        e = expect_error(openai.PermissionDeniedError,
                         lambda: bob.chat.completions.create(model="fake-chat", messages=hello, stream=True))
        called("bob", CHAT, 403)
        checks.check(True, "a streamed request too")
        checks.equal(chat_calls(), before, "nothing reached the upstream")

    with checks.step("revoke_key -> 401 AuthenticationError"):
        before = chat_calls()
        e = expect_error(openai.AuthenticationError, lambda: carol.embeddings.create(
            model="text-embedding-3-small", input="x"))
        called("carol", EMB, 401)
        checks.equal((e.status_code, e.code), (401, "invalid_api_key"), "status and code")
        expect_error(openai.AuthenticationError, lambda: carol.models.list())
        called("carol", MODELS, 401, method="GET")
        checks.check(True, "models.list too")
        checks.equal(chat_calls(), before, "nothing reached the upstream")

    with checks.step("rate_limit 2/min -> the 3rd call 429 RateLimitError with Retry-After"):
        before = chat_calls()
        for i in range(2):
            r = dave.chat.completions.create(model="fake-chat", messages=hello)
            called("dave", CHAT, 200)
            checks.equal(r.choices[0].message.content, REPLY, f"call {i + 1} goes through")
        e = expect_error(openai.RateLimitError,
                         lambda: dave.chat.completions.create(model="fake-chat", messages=hello))
        called("dave", CHAT, 429)
        retry = e.response.headers.get("retry-after")
        checks.check(retry is not None and retry.isdigit() and 1 <= int(retry) <= 30,
                     f"Retry-After: {retry} (seconds, 1..30 at 2/min)")
        checks.equal(e.code, "rate_limit_exceeded", "error code")
        checks.equal(chat_calls(), before + 2, "the refused call did not reach the upstream")
        r = alice.chat.completions.create(model="fake-chat", messages=hello)
        called("alice", CHAT, 200)
        checks.equal(r.choices[0].message.content, REPLY, "another principal is not limited")

    with checks.step("reduce_output_detail"):
        r = erin.completions.create(model="fake-chat", prompt="Hello", max_tokens=5, logprobs=3)
        called("erin", CMPL, 200)
        checks.equal(r.choices[0].text, TEXT_REPLY, "completions: the text")
        checks.check(r.choices[0].logprobs is None, "completions: no logprobs in the answer", r.choices[0].logprobs)
        sent = chat_up.seen(CMPL)[-1]["body"]
        checks.check("logprobs" not in sent, "completions: the upstream was not asked for logprobs", sent)
        checks.equal(sent.get("prompt"), "Hello", "completions: the rest of the request forwarded")

        r = erin.chat.completions.create(model=LEAKY, messages=hello, logprobs=True, top_logprobs=3)
        called("erin", CHAT, 200)
        checks.equal(r.choices[0].message.content, REPLY, "chat (an upstream that always sends logprobs): the reply")
        checks.check(r.choices[0].logprobs is None, "chat: logprobs stripped from the answer")
        sent = chat_up.seen(CHAT)[-1]["body"]
        checks.check("logprobs" not in sent and "top_logprobs" not in sent,
                     "chat: logprobs and top_logprobs stripped from the request", sent)

        chunks = list(erin.chat.completions.create(model=LEAKY, messages=hello, stream=True))
        called("erin", CHAT, 200)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        checks.equal(text, REPLY, "chat stream: the joined text")
        checks.check(not any(c.choices and c.choices[0].logprobs for c in chunks),
                     "chat stream: logprobs stripped from every chunk")

        before = chat_calls()
        e = expect_error(openai.BadRequestError, lambda: erin.chat.completions.create(
            model="fake-chat", messages=hello, logprobs=True, top_logprobs=2, logit_bias={"50256": -100}))
        called("erin", CHAT, 400)
        checks.equal((e.status_code, e.code), (400, "unsupported_parameter"), "logit_bias with logprobs: 400")
        checks.equal(chat_calls(), before, "the refused call did not reach the upstream")

        r = erin.chat.completions.create(model="fake-chat", messages=hello, logit_bias={"1234": 50, "42": -100})
        called("erin", CHAT, 200)
        checks.equal(chat_up.seen(CHAT)[-1]["body"].get("logit_bias"), {"1234": 5.0, "42": -5.0},
                     "logit_bias alone goes through, capped at +-5")

        r = erin.responses.create(model="fake-chat", input="Say hello.",
                                  include=["message.output_text.logprobs"], top_logprobs=2)
        called("erin", "/v1/responses", 200)
        checks.equal(r.output_text, REPLY, "responses API: the output text")
        sent = chat_up.seen("/v1/responses")[-1]["body"]
        checks.check("top_logprobs" not in sent, "responses API: top_logprobs stripped from the request", sent)
        leaked = [p.logprobs for o in r.output for p in getattr(o, "content", None) or [] if getattr(p, "logprobs", None)]
        checks.check("message.output_text.logprobs" not in (sent.get("include") or []) and not leaked,
                     "responses API: include=[message.output_text.logprobs] stripped, "
                     "and no output[].content[].logprobs reach the caller",
                     f"the upstream got {sent}; {len(leaked)} logprobs lists returned")

    with checks.step("a block on a model; expired and unapplied measures"):
        e = expect_error(openai.PermissionDeniedError,
                         lambda: alice.chat.completions.create(model="blocked-model", messages=hello))
        called("alice", CHAT, 403)
        checks.equal(e.status_code, 403, "the blocked model is refused")
        r = alice.chat.completions.create(model="fake-chat", messages=hello)
        called("alice", CHAT, 200)
        checks.equal(r.choices[0].message.content, REPLY,
                     "other models go through; an expired block changes nothing")

    with checks.step("perturb_output: seeded noise on logprobs, the same for the same question"):
        def values(r):
            return [(e.token, e.logprob, [(t.token, t.logprob) for t in e.top_logprobs])
                    for e in r.choices[0].logprobs.content]

        first = alice.chat.completions.create(model=PERTURBED, messages=hello, logprobs=True, top_logprobs=1)
        called("alice", CHAT, 200)
        again = alice.chat.completions.create(model=PERTURBED, messages=hello, logprobs=True, top_logprobs=1)
        called("alice", CHAT, 200)
        got = values(first)
        checks.equal([t for t, _, _ in got], WORDS, "the tokens are the upstream's")
        checks.check(all(lp != -0.25 and lp <= 0 and abs(lp + 0.25) < 0.25 for _, lp, _ in got),
                     "every logprob moved, within the noise (the upstream sends -0.25)", got)
        checks.check(all(top[0][1] == lp for _, lp, top in got), "a token and its candidate entry move together", got)
        checks.equal(values(again), got, "asking again gives the same values: repeats average nothing away")
        chunks = list(alice.chat.completions.create(model=PERTURBED, messages=hello, logprobs=True,
                                                    top_logprobs=1, stream=True))
        called("alice", CHAT, 200)
        streamed = [e.logprob for c in chunks if c.choices and c.choices[0].logprobs
                    for e in c.choices[0].logprobs.content]
        checks.equal(streamed, [lp for _, lp, _ in got], "a stream carries the same values as the whole answer")
        r = erin.chat.completions.create(model=LEAKY, messages=hello)
        called("erin", CHAT, 200)
        checks.check(r.choices[0].logprobs is None, "another principal's measures are its own (erin: stripped)")

    with checks.step("a block on a source address"):
        other = client("alice", source="127.0.0.2")
        e = expect_error(openai.PermissionDeniedError,
                         lambda: other.chat.completions.create(model="fake-chat", messages=hello))
        called("alice", CHAT, 403)
        checks.equal(e.status_code, 403, "alice from 127.0.0.2 is refused")
        r = alice.chat.completions.create(model="fake-chat", messages=hello)
        called("alice", CHAT, 200)
        checks.equal(r.choices[0].message.content, REPLY, "alice from 127.0.0.1 goes through")
        az = RUNNING.get("azure")
        if az is not None:
            e = expect_error(openai.PermissionDeniedError,
                             lambda: az.chat.completions.create(model="blocked-model", messages=hello))
            called("alice", "/openai/deployments/blocked-model/chat/completions", 403)
            checks.equal(e.status_code, 403, "a blocked model named by an Azure deployment path")

    with checks.step("a lifted measure"):
        con = sqlite3.connect(db, timeout=10)
        with con:
            con.execute("DELETE FROM enforcement WHERE measure = 'block' AND target = ?", (ids["bob"],))
        con.close()
        wait_measures(7, 1)
        r = bob.chat.completions.create(model="fake-chat", messages=hello)
        called("bob", CHAT, 200)
        checks.equal(r.choices[0].message.content, REPLY, "bob goes through again once the block is lifted")

    with checks.step("virtual keys: issued, limited, listed, revoked"):
        def keys_cmd(*more):
            done = subprocess.run([binary, "gateway", "--config", config, "keys", *more],
                                  capture_output=True, timeout=30, env=env)
            if done.returncode != 0:
                raise Fatal(f"`gateway keys {' '.join(more)}`: {done.stderr.decode(errors='replace')}")
            return done.stdout.decode()

        frank_key = keys_cmd("create", "--principal", "frank", "--team", "research",
                             "--requests-per-minute", "2", "--name", "SDK test").strip()
        checks.check(frank_key.startswith("sk-mw-") and len(frank_key) == 54, "a key is printed once", frank_key)
        keys["frank"], ids["frank"] = frank_key, key_id(frank_key)
        listed = [json.loads(line) for line in keys_cmd("list", "--format", "ndjson").splitlines()]
        checks.check(any(k["id"] == ids["frank"] and k["principal"] == "frank" and k["state"] == "active"
                         and k["limits"]["requests_per_minute"] == 2 for k in listed),
                     "`keys list` shows it active with its limit and never the key", listed)
        checks.check(frank_key not in json.dumps(listed), "the list does not hold the key")
        frank = client("frank")
        deadline = time.monotonic() + MEASURES_TIMEOUT
        while healthz().get("keys") != 1:  # read within the refresh
            if time.monotonic() > deadline:
                raise Fatal(f"the gateway did not read the new key: /healthz {healthz()}")
            time.sleep(0.1)
        r = frank.chat.completions.create(model="fake-chat", messages=hello)
        called("frank", CHAT, 200)
        checks.equal(r.choices[0].message.content, REPLY, "the SDK is served with the virtual key")
        checks.equal(chat_up.seen(CHAT)[-1]["headers"].get("authorization"), f"Bearer {UPSTREAM_SECRET}",
                     "the upstream's own key went upstream, not the virtual key")
        frank.chat.completions.create(model="fake-chat", messages=hello)
        called("frank", CHAT, 200)
        e = expect_error(openai.RateLimitError, lambda: frank.chat.completions.create(model="fake-chat", messages=hello))
        called("frank", CHAT, 429)
        checks.equal(e.code, "rate_limit_exceeded", "the key's own 2 a minute: the third call is refused")
        keys_cmd("revoke", ids["frank"])
        deadline = time.monotonic() + MEASURES_TIMEOUT
        while time.monotonic() < deadline:
            try:
                frank.models.list()
                called("frank", MODELS, 200, method="GET")
                time.sleep(0.1)
            except openai.RateLimitError:  # not yet read: still its 2 a minute
                called("frank", MODELS, 429, method="GET")
                time.sleep(0.1)
            except openai.AuthenticationError as e:
                called("frank", MODELS, 401, method="GET")
                checks.equal(e.code, "invalid_api_key", "revoked: refused within the refresh")
                break
        else:
            checks.check(False, "a revoked key is refused within the refresh")

    with checks.step("SIGTERM during a stream"):
        stream = alice.chat.completions.create(model=SLOW, messages=hello, stream=True)
        pieces = []
        stopped_at = None
        for chunk in stream:
            for c in chunk.choices:
                if c.delta.content:
                    pieces.append(c.delta.content)
                    if stopped_at is None:
                        gateway.proc.send_signal(signal.SIGTERM)
                        stopped_at = time.monotonic()
        called("alice", CHAT, 200)
        checks.equal("".join(pieces), SLOW_REPLY, "the stream in flight finishes whole")
        try:
            code = gateway.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            code = None
        took = time.monotonic() - (stopped_at or time.monotonic())
        checks.equal(code, 0, f"the gateway exits 0 ({took:.1f}s after SIGTERM, idle keep-alive connections open)")
        checks.check(code is not None and took < 5.0, "it exits promptly", f"{took:.1f}s")
        out = gateway.output()
        checks.check("modelward gateway: stopped" in out, "it says it stopped", out)
        try:
            alice.models.list()
            checks.check(False, "nothing listens any more")
        except openai.APIConnectionError:
            checks.check(True, "nothing listens any more")

    with checks.step("the LLM request log"):
        with open(log, encoding="utf-8") as f:
            text = f.read()
        lines = text.splitlines()
        docs = [json.loads(line) for line in lines]
        checks.equal(len(docs), len(expected), "one line per call")
        got = Counter((d["principal"]["api_key_id"], d["http"]["method"], d["http"]["path"], d["http"]["status"])
                      for d in docs)
        want = Counter(expected)
        checks.check(got == want, "each call's key id, method, path and status",
                     f"missing {dict(want - got)}, unexpected {dict(got - want)}")
        checks.check(all(d.get("modelward", {}).get("log") == "llm" for d in docs), "modelward.log = llm")
        for name, key in keys.items():
            checks.check(key not in text, f"{name}'s raw key appears nowhere in the log")
        checks.check(UPSTREAM_SECRET not in text, "the upstream key appears nowhere in the log")
        upstream_headers = json.dumps([r["headers"] for u in ups.values() for r in u.seen()])
        checks.check(not any(k in upstream_headers for k in keys.values()), "no caller key reached an upstream")
        ips = {d["client"]["ip"] for d in docs}
        checks.equal(ips, {"127.0.0.1", "127.0.0.2"}, "client.ip")
        checks.check(all("authorization" not in d["http"].get("request_headers", {}) for d in docs),
                     "no authorization header logged")
        agents = {d["http"].get("request_headers", {}).get("user-agent", "") for d in docs}
        checks.check(all("OpenAI/Python" in a for a in agents), "the SDK's user-agent logged", agents)

        def line(who, model, stream, path=CHAT, status=200):
            return [d for d in docs if d["principal"]["api_key_id"] == ids[who]
                    and d.get("upstream", {}).get("model") == model and d.get("stream") == stream
                    and d["http"]["path"] == path and d["http"]["status"] == status]

        streamed = line("alice", "fake-chat", True)
        checks.equal(len(streamed), 1, "the streamed chat call is logged once")
        if streamed:
            s = streamed[0]
            checks.equal(s["response"]["choices"][0]["message"]["content"], REPLY,
                         "the streamed call's response.choices[0].message.content is the joined text")
            checks.equal(s["response"].get("usage", {}).get("total_tokens"), 7 + len(WORDS),
                         "its usage from the last chunk")
            checks.check(isinstance(s.get("timings", {}).get("first_token_ms"), int), "its first_token_ms")
            checks.equal(s["upstream"].get("provider"), "chat", "its upstream")
        together = line("alice", "fake-chat-concurrent", True)
        checks.check(len(together) == 8 and all(d["response"]["choices"][0]["message"]["content"] == REPLY
                                                for d in together),
                     "the concurrent streams are logged whole, each on its own line")
        cut = line("bob", SLOW, True)
        checks.check(len(cut) == 1 and
                     SLOW_REPLY.startswith(cut[0]["response"]["choices"][0]["message"]["content"])
                     and cut[0]["response"]["choices"][0]["message"]["content"] != SLOW_REPLY,
                     "the stream its client left is logged with what was sent", cut)
        slow = line("alice", SLOW, True)
        checks.check(len(slow) == 1 and slow[0]["response"]["choices"][0]["message"]["content"] == SLOW_REPLY,
                     "the stream cut by SIGTERM is logged whole", slow)
        emb = [d for d in docs if d["http"]["path"] == EMB and d["http"]["status"] == 200]
        checks.check(len(emb) == 1 and emb[0]["upstream"]["provider"] == "embed", "embeddings logged as the embed upstream's")
        cmpl = line("erin", "fake-chat", False, path=CMPL)
        checks.check(len(cmpl) == 1 and "logprobs" not in cmpl[0]["request"]
                     and cmpl[0]["response"]["choices"][0].get("logprobs") is None
                     and "reduce_output_detail" in cmpl[0]["modelward"].get("measures", []),
                     "the reduced call: logged as sent, without logprobs, its measure named", cmpl)
        frank = [d for d in docs if d["principal"]["api_key_id"] == ids.get("frank")]
        checks.check(frank and all(d["principal"].get("user") == "frank" and d["principal"].get("team") == "research"
                                   and d["principal"].get("auth") == "virtual_key" for d in frank),
                     "a virtual key's calls name its principal and team", frank[:1])
        for who, path, status, measure in [("bob", CHAT, 403, "block"), ("carol", EMB, 401, "revoke_key"),
                                           ("dave", CHAT, 429, "rate_limit"), ("erin", CHAT, 400, "reduce_output_detail")]:
            refused = [d for d in docs if d["principal"]["api_key_id"] == ids[who]
                       and d["http"]["path"] == path and d["http"]["status"] == status]
            checks.check(refused and all(measure in d["modelward"].get("measures", []) for d in refused),
                         f"the {status} is logged with modelward.measures naming {measure}")

        done = subprocess.run([binary, "hunt", "--source", "modelward_llm", "--format", "ndjson",
                               "-o", os.path.join(scratch, "alerts.ndjson"), log],
                              capture_output=True, timeout=60)
        summary = done.stderr.decode(errors="replace")
        m = re.search(r"(\d+) events, (\d+) malformed", summary)
        checks.check(m is not None and int(m.group(1)) == len(docs) and m.group(2) == "0",
                     "`modelward hunt --source modelward_llm` reads every line", summary.strip())
    return gateway


if __name__ == "__main__":
    sys.exit(main())
