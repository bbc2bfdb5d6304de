"""Per-call overhead of managed tool calls over a bare call of the same
function, measured in one run (ratios, not absolute times: this machine is
noisy).

    python bench/overhead.py [--calls N] [--rounds R]

Scenarios: nothing registered, and one Python sanitize guardrail plus one
subscriber; each for `await tools.execute` (vs `await fn(args)`) and
`tools.execute_sync` (vs `fn(args)`).  Reports min/median/max over rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from nemo_relay import guardrails, subscribers, tools

ARGS = {"query": "weather in Paris", "units": "metric"}


async def afn(args):
    return {"ok": True}


def sfn(args):
    return {"ok": True}


async def time_async(make, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        await make()
    return (time.perf_counter() - t0) / n


def time_sync(call, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - t0) / n


def measure(n: int) -> dict[str, float]:
    out: dict[str, float] = {}

    async def run_async() -> None:
        out["bare_async"] = await time_async(lambda: afn(ARGS), n)
        out["execute"] = await time_async(lambda: tools.execute("t", ARGS, afn), n)

    asyncio.run(run_async())
    out["bare_sync"] = time_sync(lambda: sfn(ARGS), n)
    out["execute_sync"] = time_sync(lambda: tools.execute_sync("t", ARGS, sfn), n)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args()

    results: dict[str, dict[str, list[float]]] = {"nothing registered": {}, "1 sanitizer + 1 subscriber": {}}
    received = []
    for _ in range(a.rounds):
        for label in results:
            if label != "nothing registered":
                guardrails.register_tool_sanitize_request("bench", 0, lambda n, args: args)
                subscribers.register("bench", received.append)
            try:
                for k, v in measure(a.calls).items():
                    results[label].setdefault(k, []).append(v)
            finally:
                if label != "nothing registered":
                    guardrails.deregister_tool_sanitize_request("bench")
                    subscribers.deregister("bench")
                received.clear()

    print(f"{'scenario':30} {'call':14} {'median us':>10} {'over bare us':>13} {'ratio':>7}   min/median/max us")
    for label, r in results.items():
        for call, bare in (("execute", "bare_async"), ("execute_sync", "bare_sync")):
            med = statistics.median(r[call]) * 1e6
            base = statistics.median(r[bare]) * 1e6
            spread = "/".join(f"{x * 1e6:.2f}" for x in (min(r[call]), statistics.median(r[call]), max(r[call])))
            print(f"{label:30} {call:14} {med:10.2f} {med - base:13.2f} {med / base:7.2f}   {spread}")


if __name__ == "__main__":
    main()
