"""One benchmark scenario against one package, in this process; prints JSON.

    python bench/scenarios.py <scenario> <ours|upstream> <n> [--target S] [--reps R]

<n> is ``auto`` (calibrate each metric so one measurement takes about
--target seconds), an integer (operations per measurement, every metric), or
a JSON object {metric: n} (what an earlier ``auto`` run reported, so later
rounds repeat the same work).  Each metric is warmed up, then measured --reps
times (metrics interleaved); the reported value is the median of those.
Scenario 7 takes <n> as its cycle count (``auto`` = 1000).

The last line of stdout is one JSON object: package, version, module file,
``metrics`` {name: {"value", "unit"}}, ``n`` {name: ops} and ``checks``.
run.py runs this under both interpreters in alternating order.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import statistics
import sys
import threading
import time
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import adapters  # noqa: E402
from adapters import ARGS  # noqa: E402

perf = time.perf_counter
FIXED_N: int | None = None  # <n> given as one integer for every metric
LOOP = asyncio.new_event_loop()
arun = LOOP.run_until_complete


def call(A: "adapters.Adapter", args: Any, fn: Callable[[Any], Any]) -> Any:
    """One awaited tools.execute from sync code (upstream needs a running loop)."""

    async def go() -> Any:
        return await A.execute("t", args, fn)

    return arun(go())


# ---- measurement ------------------------------------------------------------


def calibrate(run: Callable[[int], float], target: float) -> int:
    """Warms up and picks n so that run(n) takes about `target` seconds."""
    n = 1
    while True:
        t = run(n)
        if t >= min(0.05, target / 2) or n >= 1 << 24:
            break
        n *= 4 if t < 0.005 else 2
    return max(1, round(n * target / max(t, 1e-9)))


def measure(runners: dict[str, Callable[[int], float]], ns: dict[str, int], target: float,
            reps: int) -> dict[str, float]:
    """Seconds per operation for each runner: median of `reps` interleaved runs."""
    for name, run in runners.items():
        if name not in ns and FIXED_N is not None:
            ns[name] = FIXED_N
        if name in ns:
            run(max(1, ns[name] // 5))  # warm-up
        else:
            ns[name] = calibrate(run, target)
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(reps):
        for name, run in runners.items():
            gc.collect()
            samples[name].append(run(ns[name]) / ns[name])
    return {name: statistics.median(v) for name, v in samples.items()}


def us(x: float) -> dict[str, Any]:
    return {"value": x * 1e6, "unit": "us"}


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def _counter() -> tuple[Callable[[Any], Any], Callable[[], int]]:
    box = [0]

    def on_event(event: Any) -> None:
        box[0] += 1

    return on_event, lambda: box[0]


# ---- the timed loops ------------------------------------------------------------


def execute_runner(A: adapters.Adapter, fn: Callable[[Any], Any], barrier: bool = False) -> Callable[[int], float]:
    execute = A.execute

    async def loop(n: int) -> float:
        args = ARGS
        t0 = perf()
        for _ in range(n):
            await execute("t", args, fn)
        if barrier:
            await A.barrier_async()
        return perf() - t0

    return lambda n: arun(loop(n))


def floor_runner(fn: Callable[[Any], Any]) -> Callable[[int], float]:
    async def loop(n: int) -> float:
        args = ARGS
        t0 = perf()
        for _ in range(n):
            await fn(args)
        return perf() - t0

    return lambda n: arun(loop(n))


def sync_execute_runner(A: adapters.Adapter, fn: Callable[[Any], Any]) -> Callable[[int], float]:
    execute_sync = A.execute_sync
    assert execute_sync is not None, f"{A.package} has no tools.execute_sync"

    def loop(n: int) -> float:
        args = ARGS
        t0 = perf()
        for _ in range(n):
            execute_sync("t", args, fn)
        return perf() - t0

    return loop


def check_chain(A: adapters.Adapter, checks: dict[str, Any], prefix: str) -> None:
    """The chain really runs: the function sees the rewritten args, and a
    "deny" key is rejected by a guardrail."""
    seen: list[Any] = []

    async def record(args: Any) -> Any:
        seen.append(args)
        return A.tool_fn_sync()(args)

    call(A, dict(ARGS), record)
    checks[f"{prefix}rewritten_args"] = bool(seen) and seen[-1].get("bench") is True
    try:
        call(A, {"deny": 1}, A.tool_fn_async())
        checks[f"{prefix}deny_rejected"] = False
    except Exception as exc:  # GuardrailRejected (ours) / RuntimeError (upstream)
        checks[f"{prefix}deny_rejected"] = "denied by g1" in str(exc)


# ---- scenarios ---------------------------------------------------------------------


def s1(A: adapters.Adapter, ns: dict[str, int], target: float, reps: int, checks: dict[str, Any]) -> dict[str, Any]:
    fn = A.tool_fn_async()
    r = call(A, ARGS, fn)
    checks["result"] = A.result_value(r) == {"ok": True}
    m = measure({"floor": floor_runner(fn), "execute": execute_runner(A, fn)}, ns, target, reps)
    return {k: us(v) for k, v in m.items()}


def s2(A: adapters.Adapter, ns: dict[str, int], target: float, reps: int, checks: dict[str, Any]) -> dict[str, Any]:
    fn = A.tool_fn_async()
    on_event, count = _counter()
    A.register_sanitizer("bench-sanitize")
    A.register_subscriber("bench-subscriber", on_event)
    calls = [0]
    run = execute_runner(A, fn, barrier=True)

    def counted(n: int) -> float:
        calls[0] += n
        return run(n)

    try:
        m = measure({"execute": counted}, ns, target, reps)
        A.barrier_sync()
        checks["events_delivered"] = count() == 2 * calls[0]  # one start + one end per call
        checks["events"] = count()
    finally:
        A.deregister_sanitizer("bench-sanitize")
        A.deregister_subscriber("bench-subscriber")
    return {k: us(v) for k, v in m.items()}


def s3(A: adapters.Adapter, ns: dict[str, int], target: float, reps: int, checks: dict[str, Any]) -> dict[str, Any]:
    fn = A.tool_fn_async()
    A.register_python_chain()
    try:
        check_chain(A, checks, "")
        m = measure({"execute": execute_runner(A, fn)}, ns, target, reps)
    finally:
        A.deregister_python_chain()
    return {k: us(v) for k, v in m.items()}


def s4(A: adapters.Adapter, ns: dict[str, int], target: float, reps: int, checks: dict[str, Any]) -> dict[str, Any]:
    """The chain of scenario 3 in Python vs in the native plugin (ours only).
    Also the sync twin (tools.execute_sync, sync function), as information."""
    import native

    assert isinstance(A, adapters.Ours), "scenario 4 runs against our package only"
    manifest = native.manifest_path()
    afn, sfn = A.tool_fn_async(), A.tool_fn_sync()
    state: dict[str, Any] = {}

    def with_python(run: Callable[[int], float], sync: bool = False) -> Callable[[int], float]:
        def wrapped(n: int) -> float:
            A.register_python_chain(sync_exec=sync)
            try:
                return run(n)
            finally:
                A.deregister_python_chain()
        return wrapped

    def with_native(run: Callable[[int], float]) -> Callable[[int], float]:
        def wrapped(n: int) -> float:
            act = arun(A.activate_native_chain(manifest))
            try:
                if "native_checked" not in state:
                    check_chain(A, checks, "native_")
                    state["native_checked"] = True
                return run(n)
            finally:
                arun(act.close())
        return wrapped

    A.register_python_chain()
    try:
        check_chain(A, checks, "python_")
    finally:
        A.deregister_python_chain()
    m = measure({
        "python_chain": with_python(execute_runner(A, afn)),
        "native_chain": with_native(execute_runner(A, afn)),
        "python_chain_sync": with_python(sync_execute_runner(A, sfn), sync=True),
        "native_chain_sync": with_native(sync_execute_runner(A, sfn)),
    }, ns, target, reps)
    return {k: us(v) for k, v in m.items()}


def s5(A: adapters.Adapter, ns: dict[str, int], target: float, reps: int, checks: dict[str, Any]) -> dict[str, Any]:
    on_event, count = _counter()
    A.register_subscriber("bench-subscriber", on_event)
    push, pop, ftype = A.push, A.pop, A.function_scope_type
    calls = [0]

    def loop(n: int) -> float:
        calls[0] += n
        t0 = perf()
        for _ in range(n):
            pop(push("s", ftype))
        A.barrier_sync()
        return perf() - t0

    try:
        m = measure({"push_pop": loop}, ns, target, reps)
        checks["events_delivered"] = count() == 2 * calls[0]
        checks["events"] = count()
    finally:
        A.deregister_subscriber("bench-subscriber")
    return {k: us(v) for k, v in m.items()}


def s6(A: adapters.Adapter, ns: dict[str, int], target: float, reps: int, checks: dict[str, Any]) -> dict[str, Any]:
    fn = A.tool_fn_async()
    execute, scope_cm, ftype, spawn = A.execute, A.scope_cm, A.function_scope_type, A.spawn
    tasks = 100

    async def one(i: int) -> Any:
        with scope_cm("task", ftype):
            return await execute("t", ARGS, fn)

    async def loop(n: int) -> float:
        t0 = perf()
        for _ in range(n):
            await asyncio.gather(*[spawn(one(i)) for i in range(tasks)])
        return perf() - t0

    results = arun(_gather_once(spawn, one, tasks))
    checks["results"] = len(results) == tasks and all(A.result_value(r) == {"ok": True} for r in results)
    m = measure({"gather100": lambda n: arun(loop(n))}, ns, target, reps)
    return {k: us(v) for k, v in m.items()}


async def _gather_once(spawn: Callable[[Any], Any], one: Callable[[int], Any], tasks: int) -> list[Any]:
    return await asyncio.gather(*[spawn(one(i)) for i in range(tasks)])


def s7(A: adapters.Adapter, ns: dict[str, int], target: float, reps: int, checks: dict[str, Any]) -> dict[str, Any]:
    """Native plugin load + initialize + close cycles (ours only)."""
    import native

    assert isinstance(A, adapters.Ours), "scenario 7 runs against our package only"
    manifest = native.manifest_path()
    cycles = ns.setdefault("cycles", FIXED_N or 1000)

    async def cycle() -> None:
        act = await A.activate_native_chain(manifest)
        await act.close()

    async def run(k: int) -> float:
        t0 = perf()
        for _ in range(k):
            await cycle()
        return perf() - t0

    arun(run(10))
    gc.collect()
    rss_10 = rss_kib()
    elapsed = arun(run(cycles - 10))
    gc.collect()
    rss_n = rss_kib()
    checks["kinds_after"] = "bench_chain" not in A.nr.plugin.list_kinds()
    return {
        "cycles_per_s": {"value": (cycles - 10) / elapsed, "unit": "cycles/s"},
        "rss_after_10_kib": {"value": rss_10, "unit": "KiB"},
        f"rss_after_{cycles}_kib": {"value": rss_n, "unit": "KiB"},
        "rss_delta_kib": {"value": rss_n - rss_10, "unit": "KiB"},
    }


def s8(A: adapters.Adapter, ns: dict[str, int], target: float, reps: int, checks: dict[str, Any]) -> dict[str, Any]:
    """tools.execute_sync with native-only middleware: 1 thread vs 2 threads."""
    import native

    assert isinstance(A, adapters.Ours), "scenario 8 runs against our package only"
    manifest = native.manifest_path()
    sfn = A.tool_fn_sync()
    execute_sync = A.execute_sync
    assert execute_sync is not None

    # the small args of scenario 1, and a typical tool payload (20 fields,
    # about 0.6 KB) whose native work outlasts a GIL hand-off
    payloads = {"": ARGS, "_typical": {f"field_{i}": f"value {i} " * 3 for i in range(20)}}
    current = {"args": ARGS}

    def work(n: int) -> None:
        args = current["args"]
        for _ in range(n):
            execute_sync("t", args, sfn)

    def one_thread(n: int) -> float:
        t0 = perf()
        work(n)
        return perf() - t0

    def two_threads(n: int) -> float:
        # each thread makes n calls: 2n calls in all
        start = threading.Barrier(3)

        def body() -> None:
            start.wait()
            work(n)

        threads = [threading.Thread(target=body) for _ in range(2)]
        for t in threads:
            t.start()
        start.wait()
        t0 = perf()
        for t in threads:
            t.join()
        return perf() - t0

    act = arun(A.activate_native_chain(manifest))
    try:
        seen: list[Any] = []

        def record(args: Any) -> Any:
            seen.append(args)
            return {"ok": True}

        execute_sync("t", dict(ARGS), record)
        checks["rewritten_args"] = bool(seen) and seen[-1].get("bench") is True
        result: dict[str, Any] = {}
        for suffix, args in payloads.items():
            current["args"] = args
            key = "threads" + suffix
            if key not in ns:
                ns[key] = FIXED_N or calibrate(one_thread, target)
            n = ns[key]
            t1s: list[float] = []
            t2s: list[float] = []
            two_threads(max(1, n // 5))  # warm-up
            for _ in range(reps):
                gc.collect()
                t1s.append(one_thread(n))
                gc.collect()
                t2s.append(two_threads(n))
            tp1 = n / statistics.median(t1s)
            tp2 = 2 * n / statistics.median(t2s)
            result["calls_per_s_1_thread" + suffix] = {"value": tp1, "unit": "calls/s"}
            result["calls_per_s_2_threads" + suffix] = {"value": tp2, "unit": "calls/s"}
            result["scaling" + suffix] = {"value": tp2 / tp1, "unit": "x"}
    finally:
        arun(act.close())
    return result


# ---- scenario 9: LLM codecs ----------------------------------------------------------


def chat_payload() -> tuple[dict[str, Any], dict[str, Any]]:
    """A Chat Completions request of 20 messages (system prompt, multi-part
    user content with an image URL, assistant tool calls and tool results,
    plain turns) with 3 tool definitions, and its response (a tool call, usage
    with cached tokens).  The same plain dicts for both packages."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are a careful travel assistant. " * 4}]
    for i in range(19):
        if i % 6 == 0:
            messages.append({"role": "user", "content": [
                {"type": "text", "text": f"Question {i}: what is the weather where this photo was taken?"},
                {"type": "image_url", "image_url": {"url": f"https://example.com/photo-{i}.jpg", "detail": "low"}}]})
        elif i % 6 == 1:
            messages.append({"role": "assistant", "content": None, "tool_calls": [
                {"id": f"call_{i}", "type": "function",
                 "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris", "units": "metric"})}}]})
        elif i % 6 == 2:
            messages.append({"role": "tool", "tool_call_id": f"call_{i - 1}",
                             "content": json.dumps({"temperature_c": 18, "sky": "overcast"})})
        else:
            role = "user" if i % 2 else "assistant"
            messages.append({"role": role, "content": f"Turn {i}: " + "a few more words about the trip " * 3})
    tools = [{"type": "function", "function": {
        "name": name, "description": f"{name} for a place",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "units": {"type": "string"}},
                       "required": ["city"]}}} for name in ("get_weather", "get_time", "get_currency")]
    request = {"model": "gpt-4o-mini", "messages": messages, "tools": tools, "tool_choice": "auto",
               "temperature": 0.3, "max_completion_tokens": 512, "seed": 7, "user": "user-42"}
    response = {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_1",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": None, "message": {
            "role": "assistant", "content": "Let me check.", "refusal": None,
            "tool_calls": [{"id": "call_9", "type": "function",
                            "function": {"name": "get_weather", "arguments": json.dumps({"city": "Lyon"})}}]}}],
        "usage": {"prompt_tokens": 1200, "completion_tokens": 30, "total_tokens": 1230,
                  "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}},
    }
    return request, response


def s9(A: adapters.Adapter, ns: dict[str, int], target: float, reps: int, checks: dict[str, Any]) -> dict[str, Any]:
    import nemo_relay  # whichever package this interpreter has
    from nemo_relay.codecs import OpenAIChatCodec

    LLMRequest = nemo_relay.LLMRequest
    request, response = chat_payload()
    headers = {"authorization": "Bearer k"}
    codec = OpenAIChatCodec()
    # what the codec must do right before it is timed
    req = LLMRequest(headers, request)
    ann = codec.decode(req)
    checks["messages"] = len(ann.messages)
    checks["tools"] = len(ann.tools or [])
    checks["round_trip_identity"] = codec.encode(ann, req).content == request
    resp = codec.decode_response(response)
    checks["response_model"] = resp.model
    checks["response_usage"] = resp.usage.get("prompt_tokens") if isinstance(resp.usage, dict) else None
    loads, dumps = json.loads, json.dumps

    def codec_loop(n: int) -> float:
        t0 = perf()
        for _ in range(n):
            r = LLMRequest(headers, request)
            a = codec.decode(r)
            codec.encode(a, r).content
            codec.decode_response(response)
        return perf() - t0

    def floor_loop(n: int) -> float:
        t0 = perf()
        for _ in range(n):
            loads(dumps(request))
            loads(dumps(response))
        return perf() - t0

    def request_loop(n: int) -> float:
        t0 = perf()
        for _ in range(n):
            r = LLMRequest(headers, request)
            codec.encode(codec.decode(r), r).content
        return perf() - t0

    def response_loop(n: int) -> float:
        t0 = perf()
        for _ in range(n):
            codec.decode_response(response)
        return perf() - t0

    t = measure({"codec": codec_loop, "floor": floor_loop, "request": request_loop, "response": response_loop},
                ns, target, reps)
    return {name: us(v) for name, v in t.items()}


SCENARIOS: dict[str, Callable[..., dict[str, Any]]] = {
    "1": s1, "2": s2, "3": s3, "4": s4, "5": s5, "6": s6, "7": s7, "8": s8, "9": s9,
}
OURS_ONLY = {"4", "7", "8"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", choices=sorted(SCENARIOS))
    p.add_argument("package", choices=sorted(adapters.ADAPTERS))
    p.add_argument("n", nargs="?", default="auto")
    p.add_argument("--target", type=float, default=0.3, help="seconds per measurement when calibrating")
    p.add_argument("--reps", type=int, default=3, help="measurements per metric (median reported)")
    a = p.parse_args()

    if a.scenario in OURS_ONLY and a.package != "ours":
        p.error(f"scenario {a.scenario} runs against our package only")
    global FIXED_N
    ns: dict[str, int] = {}
    if a.n.lstrip().startswith("{"):
        ns = {k: int(v) for k, v in json.loads(a.n).items()}
    elif a.n != "auto":
        FIXED_N = int(a.n)

    A = adapters.get(a.package)
    checks: dict[str, Any] = {}
    t0 = perf()
    metrics = SCENARIOS[a.scenario](A, ns, a.target, a.reps, checks)
    out = {
        "scenario": a.scenario,
        "package": A.package,
        "version": A.version,
        "module_file": A.module_file,
        "python": sys.version.split()[0],
        "metrics": metrics,
        "n": dict(ns),
        "checks": checks,
        "wall_s": perf() - t0,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
