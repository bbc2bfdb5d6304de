"""Benchmarks nemo_relay (this repository) against NeMo Relay from PyPI.

    ./dev bench [--rounds N] [--quick] [--scenarios 1,2,...] [--no-benchmarks-md]
    # or, with the package already installed in .venv:
    .venv/bin/python bench/run.py [same options]

1. Creates bench/.venv-upstream (``python -m venv`` with the interpreter that
   runs this script, so both packages run on the same CPython) and installs
   nemo-relay==0.10.4 from PyPI into it, unless it is already there.
2. Builds the native benchmark plugin fixtures/bench_chain.c once.
3. For each round and each scenario, runs ``bench/scenarios.py`` in a fresh
   subprocess under our interpreter and under the upstream one, alternating
   which package goes first from round to round.  The first round calibrates
   the number of operations per measurement; later rounds repeat that work.
4. Writes bench/results/latest.json (every raw number) and latest.md (the
   table) and prints the table.  A full run (every scenario, >= 5 rounds, not
   --quick) also rewrites BENCHMARKS.md at the top of the repository.

See bench/README.md for what each scenario measures.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SCENARIOS_PY = BENCH / "scenarios.py"
UPSTREAM_VENV = BENCH / ".venv-upstream"
UPSTREAM_REQ = "nemo-relay==0.10.4"
UPSTREAM_VERSION = "0.10.4"
RESULTS = BENCH / "results"

sys.path.insert(0, str(BENCH))

# id, title, packages
SCENARIOS: list[tuple[str, str, tuple[str, ...]]] = [
    ("1", "`await tools.execute` of a trivial async function, nothing registered", ("ours", "upstream")),
    ("2", "same, with 1 Python tool sanitize-request guardrail + 1 Python subscriber (events delivered)",
     ("ours", "upstream")),
    ("3", "same, with a Python chain: 3 conditional guardrails + 1 request intercept + 1 execution intercept",
     ("ours", "upstream")),
    ("4", "the chain of 3 as a native plugin (C, fixtures/bench_chain.c) vs in Python", ("ours",)),
    ("5", "`scope.push` + `scope.pop` pairs with 1 Python subscriber (events delivered)", ("ours", "upstream")),
    ("6", "`asyncio.gather` of 100 concurrent managed calls, each in its own task scope", ("ours", "upstream")),
    ("7", "native plugin load + initialize + close cycles; RSS after 10 vs 1,000 cycles", ("ours",)),
    ("8", "2 threads running `tools.execute_sync` with native-only middleware vs 1 thread", ("ours",)),
    ("9", "`OpenAIChatCodec`: decode + encode of a 20-message chat request with 3 tools, decode of its "
          "response", ("ours", "upstream")),
]
TITLES = {sid: title for sid, title, _ in SCENARIOS}

# (scenario, metric, label, adaptation note for upstream)
ROWS: list[tuple[str, str, str, str]] = [
    ("1", "floor", "floor: `await fn(args)` (no package call)",
     "upstream's fn returns `ToolExecutionResult(value)` (required by 0.10)"),
    ("1", "execute", "`await tools.execute(\"t\", args, fn)`",
     "upstream: fn returns `ToolExecutionResult`, `execute` returns it (ours: the raw value)"),
    ("2", "execute", "`await tools.execute` + sanitizer + subscriber",
     "upstream: `await subscribers.flush_async()` ends each timed loop (queued delivery; "
     "`flush()` raises in a running loop); ours: `flush()` too, with nothing to wait for (synchronous delivery)"),
    ("3", "execute", "`await tools.execute` + Python chain",
     "execution intercept: ours `async (name, args, next) -> await next(args)`; upstream "
     "`async (ctx, next) -> ToolExecutionInterceptOutcome((await next(ctx.args)).result)`"),
    ("4", "python_chain", "Python chain (as scenario 3), `await tools.execute`", "ours only"),
    ("4", "native_chain", "native chain, `await tools.execute`", "ours only"),
    ("4", "python_chain_sync", "info: Python chain, `tools.execute_sync` (sync fn, sync intercept)",
     "ours only; 0.10.4 has no `execute_sync`"),
    ("4", "native_chain_sync", "info: native chain, `tools.execute_sync` (sync fn)", "ours only"),
    ("5", "push_pop", "one `pop(push(\"s\", ScopeType.Function))`",
     "upstream: `subscribers.flush()` ends each timed loop (queued delivery)"),
    ("6", "gather100", "one `gather` of 100 tasks: `with scope(...): await tools.execute(...)`",
     "upstream: each task is `create_task(coro, context=fork_asyncio_context())` (required for "
     "concurrent scopes in 0.10); ours: plain `gather(coro, ...)`"),
    ("7", "cycles_per_s", "`initialize_with_dynamic_plugins` + `close()` cycles per second", "ours only"),
    ("7", "rss_after_10_kib", "RSS after 10 cycles", "ours only"),
    ("7", "rss_after_1000_kib", "RSS after 1,000 cycles", "ours only"),
    ("7", "rss_delta_kib", "RSS growth, 10 → 1,000 cycles", "ours only"),
    ("8", "calls_per_s_1_thread", "calls/s, 1 thread (scenario 1's small args)", "ours only"),
    ("8", "calls_per_s_2_threads", "calls/s, 2 threads (total, small args)", "ours only"),
    ("8", "scaling", "throughput 2 threads / 1 thread, small args", "ours only"),
    ("8", "calls_per_s_1_thread_typical", "calls/s, 1 thread (typical args: 20 fields, ~0.6 KB)",
     "ours only"),
    ("8", "calls_per_s_2_threads_typical", "calls/s, 2 threads (total, typical args)", "ours only"),
    ("8", "scaling_typical", "throughput 2 threads / 1 thread, typical args", "ours only"),
    ("9", "floor", "floor: `json.loads(json.dumps(x))` of the request and of the response",
     "the same code under each interpreter"),
    ("9", "codec", "`LLMRequest(...)` + `decode` + `encode(...).content` + `decode_response`",
     "both: `nemo_relay.codecs.OpenAIChatCodec`, same calls"),
    ("9", "request", "request only: `LLMRequest(...)` + `decode` + `encode(...).content`", "same calls"),
    ("9", "response", "response only: `decode_response`", "same calls"),
]


# ---- helpers ----------------------------------------------------------------------


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(extra or {})
    return env


def upstream_python() -> Path:
    return UPSTREAM_VENV / "bin" / "python"


def installed_upstream_version() -> str | None:
    py = upstream_python()
    if not py.exists():
        return None
    # run outside the repository so our own package is never importable
    proc = subprocess.run(
        [str(py), "-c", "import importlib.metadata as m; print(m.version('nemo-relay'))"],
        capture_output=True, text=True, cwd=tempfile.gettempdir(), env=clean_env())
    return proc.stdout.strip() if proc.returncode == 0 else None


def ensure_upstream() -> str:
    version = installed_upstream_version()
    if version == UPSTREAM_VERSION:
        return version
    if not upstream_python().exists():
        base = getattr(sys, "_base_executable", None) or sys.executable
        log(f"bench: creating {UPSTREAM_VENV.relative_to(ROOT)} with {base}")
        subprocess.run([base, "-m", "venv", str(UPSTREAM_VENV)], check=True)
    log(f"bench: installing {UPSTREAM_REQ} from PyPI into {UPSTREAM_VENV.relative_to(ROOT)}")
    subprocess.run([str(upstream_python()), "-m", "pip", "install", "-q", UPSTREAM_REQ],
                   check=True, env=clean_env(), cwd=tempfile.gettempdir())
    version = installed_upstream_version()
    if version != UPSTREAM_VERSION:
        raise SystemExit(f"bench: expected nemo-relay {UPSTREAM_VERSION} in {UPSTREAM_VENV}, found {version}")
    return version


def interpreter(package: str) -> str:
    return sys.executable if package == "ours" else str(upstream_python())


def run_scenario(sid: str, package: str, n: Any, target: float, reps: int, env: dict[str, str]) -> dict[str, Any]:
    n_arg = "auto" if n is None else json.dumps(n)
    cmd = [interpreter(package), str(SCENARIOS_PY), sid, package, n_arg, "--target", str(target),
           "--reps", str(reps)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(BENCH), timeout=900)
    out = None
    lines = proc.stdout.strip().splitlines()
    if lines:
        try:
            out = json.loads(lines[-1])
        except ValueError:
            out = None
    if out is None or "metrics" not in out:
        raise RuntimeError(f"scenario {sid} ({package}) failed (exit {proc.returncode}): {shlex.join(cmd)}\n"
                           f"{proc.stdout}\n{proc.stderr}")
    out["exit_code"] = proc.returncode
    if proc.returncode != 0:
        # The measurements were complete and printed; the process died afterwards
        # (seen with upstream 0.10.4: SIGSEGV during interpreter shutdown).  Keep
        # the numbers, record the crash, and report it in the tables.
        log(f"bench: note: scenario {sid} ({package}) exited with {proc.returncode} after reporting "
            f"its measurements")
    if proc.stderr.strip():
        out["stderr"] = proc.stderr.strip()[-2000:]
    return out


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass

    def git(*args: str) -> str:
        p = subprocess.run(["git", *args], capture_output=True, text=True, cwd=str(ROOT))
        return p.stdout.strip() if p.returncode == 0 else "?"

    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "kernel": platform.release(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "load_average_at_start": os.getloadavg(),
        "git_commit": git("rev-parse", "--short", "HEAD"),
        "git_worktree_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


# ---- aggregation --------------------------------------------------------------------


def spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def metric_values(raw: dict[str, Any], sid: str, package: str, metric: str) -> list[float]:
    return [r["metrics"][metric]["value"] for r in raw.get(sid, {}).get(package, []) if metric in r["metrics"]]


def unit_of(raw: dict[str, Any], sid: str, metric: str) -> str:
    for runs in raw.get(sid, {}).values():
        for r in runs:
            if metric in r["metrics"]:
                return r["metrics"][metric]["unit"]
    return ""


def paired_ratios(raw: dict[str, Any], sid: str, metric: str) -> list[float]:
    """ours / upstream, round by round (each round ran both back to back)."""
    ours = metric_values(raw, sid, "ours", metric)
    up = metric_values(raw, sid, "upstream", metric)
    return [o / u for o, u in zip(ours, up) if u]


def aggregate(raw: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    for sid, metric, label, note in ROWS:
        if sid not in raw:
            continue
        if metric == "rss_after_1000_kib":  # named after the cycle count actually run
            metric = next((m for m in raw[sid]["ours"][0]["metrics"] if m.startswith("rss_after_")
                           and m != "rss_after_10_kib"), metric)
            cycles = metric[len("rss_after_"):-len("_kib")]
            label = f"RSS after {int(cycles):,} cycles"
        ours = metric_values(raw, sid, "ours", metric)
        if not ours:
            continue
        up = metric_values(raw, sid, "upstream", metric)
        row: dict[str, Any] = {
            "scenario": sid, "metric": metric, "label": label, "unit": unit_of(raw, sid, metric),
            "ours": spread(ours), "upstream": spread(up) if up else None, "note": note,
            "ours_values": ours, "upstream_values": up,
        }
        if up:
            ratios = paired_ratios(raw, sid, metric)
            row["ratio"] = spread(ratios)
            row["ratio_values"] = ratios
        rows.append(row)

    targets: list[dict[str, Any]] = []

    def target(name: str, meaning: str, values: list[float], goal: str, ok: bool | None,
               how: str = "median") -> None:
        if not values:
            return
        targets.append({"target": name, "meaning": meaning, "values": values, "spread": spread(values),
                        "goal": goal, "decided_on": how,
                        "result": "PASS" if ok else ("MISS" if ok is not None else "n/a")})

    if "1" in raw:
        floor = metric_values(raw, "1", "ours", "floor")
        ex = metric_values(raw, "1", "ours", "execute")
        over = [e - f for e, f in zip(ex, floor)]
        target("S1 overhead", "ours: `await tools.execute` minus `await fn(args)`, µs per call",
               over, "≤ 1 µs", bool(over) and statistics.median(over) <= 1.0)
        r = paired_ratios(raw, "1", "execute")
        target("S1 vs upstream", "ours / upstream time per `await tools.execute`", r, "≤ 1/5 (0.2)",
               bool(r) and statistics.median(r) <= 0.2)
    for sid, metric in (("2", "execute"), ("3", "execute"), ("5", "push_pop"), ("6", "gather100")):
        if sid in raw:
            r = paired_ratios(raw, sid, metric)
            target(f"S{sid} vs upstream", f"ours / upstream time per operation ({metric})", r,
                   "≤ 1/3 (0.333)", bool(r) and statistics.median(r) <= 1 / 3)
    if "4" in raw:
        py = metric_values(raw, "4", "ours", "python_chain")
        nat = metric_values(raw, "4", "ours", "native_chain")
        r = [p / n for p, n in zip(py, nat)]
        target("S4 native vs Python chain", "Python-chain time / native-chain time (`await tools.execute`); "
               "> 1 means the native chain is faster", r, "≥ 5×", bool(r) and statistics.median(r) >= 5)
        pys = metric_values(raw, "4", "ours", "python_chain_sync")
        nats = metric_values(raw, "4", "ours", "native_chain_sync")
        rs = [p / n for p, n in zip(pys, nats)]
        target("S4 (info) sync twin", "the same ratio with `tools.execute_sync` (no target)", rs, "—", None)
    if "7" in raw:
        d = metric_values(raw, "7", "ours", "rss_delta_kib")
        target("S7 RSS flat", "RSS after 1,000 cycles minus RSS after 10, KiB (worst round)", d,
               "≤ 1024 KiB", bool(d) and max(d) <= 1024, how="max")
    if "8" in raw:
        s = metric_values(raw, "8", "ours", "scaling_typical")
        target("S8 2-thread scaling", "total calls/s with 2 threads / calls/s with 1 thread, typical "
               "args (20 fields)", s, "≥ 1.6×", bool(s) and statistics.median(s) >= 1.6)
        s = metric_values(raw, "8", "ours", "scaling")
        target("S8 2-thread scaling, small args", "the same with scenario 1's two-field args: each call "
               "holds the GIL-free stretch for ~3 µs, shorter than a GIL hand-off", s, "≥ 1.6×",
               bool(s) and statistics.median(s) >= 1.6)
    if "9" in raw:
        floor = metric_values(raw, "9", "ours", "floor")
        codec = metric_values(raw, "9", "ours", "codec")
        r = [c / f for c, f in zip(codec, floor)]
        target("S9 codecs vs JSON floor", "ours: codec work / `json.loads(json.dumps(...))` of the same "
               "payloads", r, "≤ 3×", bool(r) and statistics.median(r) <= 3)
        r = paired_ratios(raw, "9", "codec")
        target("S9 (info) vs upstream", "ours / upstream time for the same codec calls", r, "—", None)
    return rows, targets


# ---- formatting ---------------------------------------------------------------------------


def fmt(x: float | None, unit: str = "") -> str:
    if x is None:
        return "—"
    if unit in ("KiB",):
        return f"{x:,.0f}"
    if unit == "x":
        return f"{x:.2f}"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def fmt_ratio(r: float) -> str:
    if 0 < r < 1:
        inv = 1 / r
        return f"{r:.3g} ≈ 1/{inv:,.0f}" if inv >= 10 else f"{r:.3g} ≈ 1/{inv:.1f}"
    return f"{r:.3g}"


def fmt_spread(s: dict[str, float] | None, unit: str) -> str:
    if s is None:
        return "—"
    return " / ".join(fmt(s[k], unit) for k in ("min", "median", "max"))


def unit_label(unit: str) -> str:
    return {"us": "µs", "x": "×"}.get(unit, unit)


def describe_exit(code: int) -> str:
    if code < 0:
        import signal

        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def markdown(result: dict[str, Any]) -> str:
    rows, targets = result["rows"], result["targets"]
    m = result["machine"]
    lines = [
        f"Run {result['date']} — {result['rounds']} rounds, ours `nemo_relay` {result['ours_version']} "
        f"(git {m['git_commit']}{', dirty worktree' if m['git_worktree_dirty'] else ''}) vs upstream "
        f"`nemo-relay` {result.get('upstream_version') or '—'} (PyPI); Python {m['python']}, "
        f"{m['nproc']} CPU(s) ({m['cpu']}).",
        "",
        "Times are per operation; the value in each package column is the median over rounds (each round is "
        "one fresh subprocess per package, the median of "
        f"{result['reps']} timed runs after a warm-up); spreads are min / median / max over rounds. "
        "Ratio = ours / upstream, computed round by round (both packages ran back to back) — the median and "
        "[min–max] over rounds are shown; below 1 means ours is faster. The targets table follows the "
        "results table.",
        "",
        "| # | measurement | unit | ours (median) | upstream (median) | ratio ours/upstream: median [min–max] "
        "| ours min / median / max | upstream min / median / max | adaptation (how the work is kept identical) |",
        "|---|---|---|---:|---:|---|---|---|---|",
    ]
    for r in rows:
        unit = unit_label(r["unit"])
        ratio = "—"
        if r.get("ratio"):
            rs = r["ratio"]
            ratio = f"{fmt_ratio(rs['median'])} [{rs['min']:.3g}–{rs['max']:.3g}]"
        lines.append(
            f"| {r['scenario']} | {r['label']} | {unit} | {fmt(r['ours']['median'], r['unit'])} | "
            f"{fmt(r['upstream']['median'], r['unit']) if r['upstream'] else '—'} | {ratio} | "
            f"{fmt_spread(r['ours'], r['unit'])} | {fmt_spread(r['upstream'], r['unit'])} | {r['note']} |")
    crashes = result.get("crashes") or {}
    if crashes:
        lines.append("")
        for pk, info in sorted(crashes.items()):
            lines.append(f"Note: {pk}'s subprocess exited abnormally *after* printing its measurements in "
                         f"{info['count']} of {info['runs']} runs ({', '.join(info['where'])}; "
                         f"{', '.join(describe_exit(c) for c in sorted(set(info['codes'])))}). "
                         "The numbers from those runs are complete and kept.")
    lines += [
        "",
        "| target | what the number is | measured: median (min / median / max) | goal | result |",
        "|---|---|---|---|---|",
    ]
    for t in targets:
        s = t["spread"]
        head = s["max"] if t["decided_on"] == "max" else s["median"]
        hl = f"{head:.3g}" + (" (worst)" if t["decided_on"] == "max" else "")
        lines.append(f"| {t['target']} | {t['meaning']} | {hl} ({s['min']:.3g} / {s['median']:.3g} / "
                     f"{s['max']:.3g}) | {t['goal']} | **{t['result']}** |")
    return "\n".join(lines) + "\n"


BENCHMARKS_HEAD = """\
# Benchmarks

`nemo_relay` (this repository: C11 runtime, CPython extension) against NVIDIA's
`nemo-relay` {upstream_version} from PyPI (Rust core, PyO3), through each package's
public Python API, on the same machine, interpreter and scenarios. This file is
written by the benchmark runner from a real run; do not edit the numbers by hand.

## How to reproduce

```sh
./dev bench                 # = .venv/bin/python bench/run.py (after building/installing the package)
./dev bench --rounds 9      # more rounds; --quick for a smoke run (does not touch this file)
```

The runner installs `nemo-relay=={upstream_version}` into `bench/.venv-upstream`
(git-ignored), builds `fixtures/bench_chain.c`, then for each of
{rounds} rounds runs every scenario in a fresh subprocess per package,
alternating which package goes first. Raw numbers: `bench/results/latest.json`.
Details of each scenario and of the per-package adapters: `bench/README.md`.

## Machine

| | |
|---|---|
| date (UTC) | {date} |
| command | `{command}` (what `{dev_command}` runs after installing the package) |
| CPU | {cpu} |
| CPUs available (`nproc`) | {nproc} |
| memory | {memory} |
| kernel | {kernel} |
| Python | {python} (both packages, same interpreter) |
| ours | `nemo_relay` {ours_version}, git {git_commit}{dirty} |
| upstream | `nemo-relay` {upstream_version} (PyPI wheel) |
| load average at start | {load} |

## Results

"""

BENCHMARKS_MEANING = """
## What each ratio means

- **S1 overhead** — our per-call cost of `await tools.execute("t", args, fn)`
  with nothing registered, minus the cost of `await fn(args)` itself (the floor),
  round by round. Goal: at most 1 µs.
- **S1 / S2 / S3 / S5 / S6 vs upstream** — our time per operation divided by
  upstream's time for the same operation, from the same round (both packages
  ran back to back in separate processes). 0.2 means we take a fifth of
  upstream's time. Goals: ≤ 1/5 for scenario 1, ≤ 1/3 for scenarios 2, 3, 5, 6.
  Where upstream queues event delivery on a dispatcher thread, its timed region
  ends with a flush, so both packages have delivered every event when the clock
  stops (the subscriber counts events; the count is checked).
- **S4 native vs Python chain** — the time of `await tools.execute` with the
  Python chain of scenario 3 divided by the time with the same chain in the
  native plugin `fixtures/bench_chain.c` (3 conditional guardrails that parse the
  args JSON, 1 request intercept that rewrites it, 1 pass-through execution
  intercept). Above 1 means the native chain is faster. Goal: ≥ 5×. The
  `execute_sync` pair is shown for information.
- **S7 RSS flat** — resident set size after 1,000 load + initialize + close
  cycles of the native plugin minus the size after the first 10, in the worst
  round. Goal: ≤ 1024 KiB (no per-cycle leak).
- **S8 2-thread scaling** — total `tools.execute_sync` calls per second from 2
  threads divided by calls per second from 1 thread, with native-only
  middleware (the GIL should be released while native middleware runs).
  Goal: ≥ 1.6×. Meaningful only with at least 2 CPUs. Measured with a typical
  tool payload (20 fields, ~0.6 KB) and with scenario 1's two-field args; with
  the latter the GIL-free stretch of a call (~3 µs of native middleware) is
  shorter than it takes to wake the other thread, so the threads mostly take
  turns.

Noise: this is a shared virtual machine; compare ratios from one run rather
than absolute times across runs. Each ratio is paired per round, and the
spread over rounds is shown next to it.
"""


def write_benchmarks_md(result: dict[str, Any], table: str) -> None:
    m = result["machine"]
    head = BENCHMARKS_HEAD.format(
        upstream_version=result.get("upstream_version") or UPSTREAM_VERSION,
        rounds=result["rounds"], date=result["date"], command=result["command"],
        dev_command=result["dev_command"], cpu=m["cpu"],
        nproc=m["nproc"], memory=m["memory"], kernel=m["kernel"], python=m["python"],
        ours_version=result["ours_version"], git_commit=m["git_commit"],
        dirty=" (uncommitted changes in the worktree)" if m["git_worktree_dirty"] else "",
        load=" / ".join(f"{x:.2f}" for x in m["load_average_at_start"]))
    # keep the exporters' section that bench/observability.py maintains
    previous = (ROOT / "BENCHMARKS.md").read_text() if (ROOT / "BENCHMARKS.md").exists() else ""
    begin, end = "<!-- observability:begin -->", "<!-- observability:end -->"
    kept = previous[previous.index(begin):previous.index(end) + len(end)] + "\n" \
        if begin in previous and end in previous else ""
    (ROOT / "BENCHMARKS.md").write_text(head + table + BENCHMARKS_MEANING + ("\n" + kept if kept else "")
                                        + kept_sections(previous))


def kept_sections(text: str) -> str:
    """The sections other benchmark scripts wrote into BENCHMARKS.md between
    <!-- section:NAME --> and <!-- /section:NAME --> (e.g. bench/pii_redaction.py):
    a full run keeps them as they are."""
    blocks = re.findall(r"<!-- section:([\w-]+) -->.*?<!-- /section:\1 -->", text, flags=re.S)
    kept = [re.search(rf"<!-- section:{name} -->.*?<!-- /section:{name} -->", text, flags=re.S).group(0)
            for name in blocks]
    return "".join("\n" + block + "\n" for block in kept)


# ---- main ----------------------------------------------------------------------------------


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5, help="rounds (default 5; at least 5 for a full run)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 2 rounds, short measurements; does not touch BENCHMARKS.md")
    p.add_argument("--scenarios", default=",".join(s for s, _, _ in SCENARIOS),
                   help="comma-separated scenario ids (default: all)")
    p.add_argument("--target", type=float, default=None,
                   help="seconds per measurement when calibrating (default 0.3; --quick 0.03)")
    p.add_argument("--reps", type=int, default=None, help="timed runs per subprocess (default 3; --quick 1)")
    p.add_argument("--no-upstream", action="store_true", help="run our package only")
    p.add_argument("--no-benchmarks-md", action="store_true", help="never rewrite BENCHMARKS.md")
    a = p.parse_args()

    rounds = 2 if a.quick and a.rounds == 5 else a.rounds
    target = a.target if a.target is not None else (0.03 if a.quick else 0.3)
    reps = a.reps if a.reps is not None else (1 if a.quick else 3)
    wanted = [s.strip() for s in a.scenarios.split(",") if s.strip()]
    unknown = set(wanted) - set(TITLES)
    if unknown:
        p.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    if rounds < 1:
        p.error("--rounds must be at least 1")

    import native
    import nemo_relay

    upstream_version = None if a.no_upstream else ensure_upstream()
    log("bench: building fixtures/bench_chain.c")
    manifest = native.build()
    env = clean_env({native.ENV_VAR: manifest})

    args = "".join(f" {shlex.quote(x)}" for x in sys.argv[1:])
    exe = os.path.abspath(sys.executable)
    exe_shown = os.path.relpath(exe, ROOT) if exe.startswith(str(ROOT) + os.sep) else exe
    command = f"{exe_shown} bench/run.py{args}"
    result: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command, "dev_command": f"./dev bench{args}",
        "rounds": rounds, "target_seconds": target, "reps": reps,
        "ours_version": nemo_relay.__version__, "upstream_version": upstream_version,
        "machine": machine_info(),
        "scenarios": {sid: TITLES[sid] for sid in wanted},
        "raw": {},
    }
    raw: dict[str, dict[str, list[dict[str, Any]]]] = result["raw"]
    ns: dict[tuple[str, str], Any] = {}
    started = time.perf_counter()
    for rnd in range(rounds):
        for sid, title, packages in SCENARIOS:
            if sid not in wanted:
                continue
            pkgs = [pk for pk in packages if not (a.no_upstream and pk == "upstream")]
            if rnd % 2 == 1:
                pkgs.reverse()  # alternate which package goes first
            for pk in pkgs:
                out = run_scenario(sid, pk, ns.get((sid, pk)), target, reps, env)
                ns.setdefault((sid, pk), out["n"])
                bad = [k for k, v in out["checks"].items() if v is False]
                if bad:
                    raise SystemExit(f"bench: scenario {sid} ({pk}) failed its checks: {bad}\n{out}")
                if pk == "upstream" and UPSTREAM_VENV.as_posix() not in out["module_file"]:
                    raise SystemExit(f"bench: upstream run imported {out['module_file']}")
                raw.setdefault(sid, {}).setdefault(pk, []).append(out)
                shown = ", ".join(f"{k}={fmt(v['value'], v['unit'])} {unit_label(v['unit'])}"
                                  for k, v in out["metrics"].items())
                log(f"bench: round {rnd + 1}/{rounds} scenario {sid} {pk:8} {shown}")
    result["elapsed_s"] = time.perf_counter() - started
    rows, targets = aggregate(raw)
    result["rows"], result["targets"] = rows, targets
    crashes: dict[str, dict[str, Any]] = {}
    for sid, per_pkg in raw.items():
        for pk, runs in per_pkg.items():
            info = crashes.setdefault(pk, {"count": 0, "runs": 0, "codes": [], "where": []})
            for r in runs:
                info["runs"] += 1
                if r.get("exit_code"):
                    info["count"] += 1
                    info["codes"].append(r["exit_code"])
                    if f"scenario {sid}" not in info["where"]:
                        info["where"].append(f"scenario {sid}")
    result["crashes"] = {pk: info for pk, info in crashes.items() if info["count"]}

    table = markdown(result)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "latest.md").write_text("# Benchmark results\n\n" + table)
    print(table)
    full = (not a.quick and not a.no_upstream and rounds >= 5 and set(wanted) == set(TITLES))
    if full and not a.no_benchmarks_md:
        write_benchmarks_md(result, table)
        log("bench: wrote BENCHMARKS.md")
    log(f"bench: wrote {RESULTS.relative_to(ROOT)}/latest.json and latest.md "
        f"({result['elapsed_s']:.0f} s)")


if __name__ == "__main__":
    main()
