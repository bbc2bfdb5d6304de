"""Hand-offs between worker threads and the caller's event loop (used by the
native binding; not public).

A native intercept cannot await.  When a chain meets one in an async call it
runs on a worker thread; any coroutine the worker meets (an async intercept
or function further in) is run on the caller's loop with `run_on_loop`, and
the worker's result reaches the awaiting task through `resolve`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
from typing import Any


def run_on_loop(loop: asyncio.AbstractEventLoop, awaitable: Any, context: contextvars.Context | None) -> Any:
    """Run `awaitable` as a task on `loop` (in `context`) and wait for it.

    Called from a thread that is not the loop's; blocks that thread only.
    """
    done: concurrent.futures.Future[Any] = concurrent.futures.Future()

    async def runner() -> Any:
        return await awaitable

    def start() -> None:
        try:
            task = loop.create_task(runner(), context=context)
        except BaseException as exc:  # the loop refused (closing): report it
            done.set_exception(exc)
            return

        def finished(t: asyncio.Task[Any]) -> None:
            if t.cancelled():
                done.set_exception(asyncio.CancelledError())
            elif (error := t.exception()) is not None:
                done.set_exception(error)
            else:
                done.set_result(t.result())

        task.add_done_callback(finished)

    loop.call_soon_threadsafe(start)
    return done.result()


def resolve(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    """Complete `future` on its loop, unless it was cancelled meanwhile."""

    def settle() -> None:
        if future.done():
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    loop.call_soon_threadsafe(settle)
