"""Helpers for code that mixes sync and async.

``run_sync(coro)`` runs a coroutine to completion from synchronous code.
Without a running event loop in this thread it uses ``asyncio.run``; inside
one (a sync callback called from async code) it cannot block that loop on
itself, so the coroutine runs on a worker thread with its own loop, in a
copy of the caller's context: contextvars and the current scope chain come
along, so scopes the coroutine opens are children of the caller's current
scope and the caller's own chain is left as it was.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from . import _native
from ._stack_cache import get_scope_stack

__all__ = ["run_sync"]

T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _worker_pool() -> ThreadPoolExecutor:
    # made on first use, so importing the module starts no threads
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(thread_name_prefix="nemo_relay.run_sync")
        return _executor


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion and return its result (or raise its error)."""
    if not asyncio.iscoroutine(coro):
        raise TypeError(f"run_sync expects a coroutine, not {type(coro).__name__}")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Choose this context's chain (and its stack object) before copying, so
    # the worker starts under the caller's current scope, not its own thread's.
    _native.get_handle()
    get_scope_stack()
    context = contextvars.copy_context()
    return _worker_pool().submit(context.run, asyncio.run, coro).result()
