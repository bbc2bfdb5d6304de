"""Where work happens: push and pop scopes, emit marks.

Every function works on the current context's scope chain (a ContextVar), so
concurrent asyncio tasks each see their own scopes.
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Any

from ._native import ScopeHandle, get_handle
from ._native import scope_event as event
from ._native import scope_pop as pop
from ._native import scope_push as push
from ._types import ScopeAttributes, ScopeType

__all__ = ["push", "pop", "event", "scope", "get_handle"]


class scope:
    """Context manager: push a scope on entry, pop it on exit.

    The end event's metadata gets ``otel.status_code``: ``"OK"`` on normal
    exit, ``"ERROR"`` plus ``otel.status_description`` when an ``Exception``
    escapes (it is re-raised), ``"UNSET"`` for other ``BaseException``s such
    as cancellation.  Works with ``with`` and ``async with``.
    """

    __slots__ = ("_args", "_kwargs", "_end_timestamp", "_handle")

    def __init__(
        self,
        name: str,
        scope_type: ScopeType | int,
        *,
        handle: ScopeHandle | None = None,
        attributes: ScopeAttributes | int | None = None,
        data: Any = None,
        metadata: Any = None,
        input: Any = None,
        timestamp: datetime | None = None,
        end_timestamp: datetime | None = None,
    ) -> None:
        self._args = (name, scope_type)
        self._kwargs = {
            "handle": handle,
            "attributes": attributes,
            "data": data,
            "metadata": metadata,
            "input": input,
            "timestamp": timestamp,
        }
        self._end_timestamp = end_timestamp
        self._handle: ScopeHandle | None = None

    def __enter__(self) -> ScopeHandle:
        kwargs = {k: v for k, v in self._kwargs.items() if v is not None}
        self._handle = push(*self._args, **kwargs)
        return self._handle

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            status: dict[str, Any] = {"otel.status_code": "OK"}
        elif issubclass(exc_type, Exception):
            status = {"otel.status_code": "ERROR", "otel.status_description": str(exc)}
        else:
            status = {"otel.status_code": "UNSET"}
        assert self._handle is not None
        pop(self._handle, metadata=status, timestamp=self._end_timestamp)

    async def __aenter__(self) -> ScopeHandle:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)
