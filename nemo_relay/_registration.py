"""Shared registration helpers for guardrails, intercepts and scope_local."""

from __future__ import annotations

import inspect
from typing import Any, Callable

from . import _kinds, _native
from ._native import ScopeHandle


def register(
    kind: int,
    scope_handle: ScopeHandle | None,
    name: str,
    priority: int,
    break_chain: bool,
    callback: Callable[..., Any],
) -> None:
    if kind in _kinds.SYNC_ONLY and inspect.iscoroutinefunction(callback):
        raise TypeError(
            f"{name!r}: guardrails and request intercepts are synchronous; "
            "pass a regular function, not an async one"
        )
    _native._register(kind, scope_handle, name, priority, break_chain, callback)


def deregister(kind: int, scope_handle: ScopeHandle | None, name: str) -> bool:
    return _native._deregister(kind, scope_handle, name)
