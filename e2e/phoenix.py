"""End-to-end check of the OpenInference exporter against a real Arize Phoenix.

Run by ``./dev e2e`` with the interpreter of ``.venv-e2e`` (where
``arize-phoenix`` and this package with its ``otel`` extra are installed):

1. starts Phoenix bound to 127.0.0.1 on free ports, its data in a temporary
   directory, with telemetry and external resources off (it makes no
   request to the internet);
2. runs the demo agent (``python -m nemo_relay demo --otlp-endpoint ...``),
   which also writes its ATOF events to a file;
3. reads the spans back through Phoenix's REST API and checks that every LLM,
   tool and guardrail scope of the ATOF file is there as one span with its
   parent, its OpenInference kind, its model and its token counts;
4. stops Phoenix on every path (terminate, then kill) and removes the data.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from typing import Any

START_TIMEOUT = 180.0
INGEST_TIMEOUT = 60.0
KINDS = {"llm": "LLM", "tool": "TOOL", "guardrail": "GUARDRAIL", "agent": "AGENT"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def wait_ready(base: str, proc: subprocess.Popen[bytes], log: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"e2e: Phoenix exited with {proc.returncode} before it was ready; log:\n"
                             + open(log).read()[-4000:])
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)  # polling a server we do not control
    raise SystemExit(f"e2e: Phoenix was not ready after {START_TIMEOUT:.0f} s; log:\n" + open(log).read()[-4000:])


def phoenix_spans(base: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        url = base + "/v1/projects/default/spans?limit=1000" + (f"&cursor={cursor}" if cursor else "")
        try:
            page = get_json(url)
        except urllib.error.HTTPError as e:
            if e.code == 404:  # the project appears with the first span
                return []
            raise
        out += page["data"]
        cursor = page.get("next_cursor")
        if not cursor:
            return out


def attr(span: dict[str, Any], key: str) -> Any:
    """An attribute whether Phoenix returns it flat ("a.b") or nested."""
    attrs = span.get("attributes") or {}
    if key in attrs:
        return attrs[key]
    node: Any = attrs
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def check(events: list[dict[str, Any]], spans: list[dict[str, Any]]) -> list[str]:
    by_uuid = {attr(s, "nemo_relay.uuid"): s for s in spans}
    starts = {e["uuid"]: e for e in events if e["kind"] == "scope" and e["scope_category"] == "start"}
    ends = {e["uuid"]: e for e in events if e["kind"] == "scope" and e["scope_category"] == "end"}
    problems: list[str] = []
    checked = {"llm": 0, "tool": 0, "guardrail": 0}
    for uuid, start in starts.items():
        cat = start["category"]
        if cat not in KINDS:
            continue
        span = by_uuid.get(uuid)
        name = f"{cat} {start['name']!r} ({uuid})"
        if span is None:
            problems.append(f"{name}: no span in Phoenix")
            continue
        if span["span_kind"] != KINDS[cat]:
            problems.append(f"{name}: span_kind {span['span_kind']!r}, expected {KINDS[cat]!r}")
        parent = by_uuid.get(start["parent_uuid"])
        if cat != "agent":
            if parent is None:
                problems.append(f"{name}: its parent scope has no span")
            elif span.get("parent_id") != parent["context"]["span_id"]:
                problems.append(f"{name}: parent_id {span.get('parent_id')!r}, expected {parent['context']['span_id']!r}")
        if cat == "llm":
            profile = start.get("category_profile") or {}
            model = profile.get("model_name") or (start["data"].get("content") or {}).get("model")
            if attr(span, "llm.model_name") != model:
                problems.append(f"{name}: llm.model_name {attr(span, 'llm.model_name')!r}, expected {model!r}")
            usage = (ends[uuid].get("data") or {}).get("usage") or {}
            for key, field in (("prompt", "prompt_tokens"), ("completion", "completion_tokens"),
                               ("total", "total_tokens")):
                if usage.get(field) is None or attr(span, f"llm.token_count.{key}") != usage.get(field):
                    problems.append(f"{name}: llm.token_count.{key} {attr(span, f'llm.token_count.{key}')!r}, "
                                    f"expected {usage.get(field)!r}")
        if cat in checked:
            checked[cat] += 1
    if not checked["llm"] or not checked["tool"]:
        problems.append(f"the demo should have LLM and tool calls, checked {checked}")
    print(f"e2e: checked {checked['llm']} LLM, {checked['tool']} tool and {checked['guardrail']} guardrail "
          f"spans among {len(spans)} spans in Phoenix")
    return problems


def main() -> int:
    work = tempfile.mkdtemp(prefix="nr-e2e-phoenix-")
    port, grpc_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PHOENIX_HOST": "127.0.0.1", "PHOENIX_PORT": str(port),
           "PHOENIX_GRPC_PORT": str(grpc_port), "PHOENIX_WORKING_DIR": work,
           "PHOENIX_TELEMETRY_ENABLED": "false", "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
           "PHOENIX_ENABLE_PROMETHEUS": "false", "NO_PROXY": "127.0.0.1,localhost"}
    env.pop("PHOENIX_SQL_DATABASE_URL", None)
    log = os.path.join(work, "phoenix.log")
    with open(log, "wb") as log_f:
        proc = subprocess.Popen([sys.executable, "-m", "phoenix.server.main", "serve"], env=env,
                                stdout=log_f, stderr=subprocess.STDOUT, cwd=work, start_new_session=True)
    try:
        t0 = time.monotonic()
        wait_ready(base, proc, log)
        print(f"e2e: Phoenix ready on {base} after {time.monotonic() - t0:.1f} s (data in {work})")
        atof = os.path.join(work, "demo.jsonl")
        demo = subprocess.run([sys.executable, "-m", "nemo_relay", "demo", "--output", atof,
                               "--otlp-endpoint", base + "/v1/traces"], cwd=work, capture_output=True, text=True)
        print(demo.stdout)
        if demo.returncode != 0:
            print(demo.stderr, file=sys.stderr)
            raise SystemExit(f"e2e: the demo failed with exit code {demo.returncode}")
        with open(atof) as f:
            events = [json.loads(line) for line in f]
        expected = sum(1 for e in events if e["kind"] == "scope" and e["scope_category"] == "start")
        deadline = time.monotonic() + INGEST_TIMEOUT
        spans = phoenix_spans(base)
        while len(spans) < expected and time.monotonic() < deadline:
            time.sleep(0.5)  # Phoenix ingests asynchronously
            spans = phoenix_spans(base)
        problems = check(events, spans)
        if problems:
            print("e2e: FAILED\n  " + "\n  ".join(problems), file=sys.stderr)
            return 1
        print("e2e: every LLM and tool call of the demo is in Phoenix with its parent, kind, model and tokens")
        return 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
