"""The hand-off between the middleware and the callback handler.

When the middleware runs a model or tool call through ``llm.execute`` /
``tools.execute``, that call is already recorded; the callback handler, which
sees the same call as a LangChain run, must not record it a second time.  The
middleware sets a one-shot marker in the context just before it calls
LangChain's handler; the first model or tool run that starts in that context
takes it and is recorded as managed (not again).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

Kind = Literal["llm", "tool"]


class Marker:
    """One managed call waiting for its LangChain run to start."""

    __slots__ = ("kind", "taken")

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.taken = False


_current: contextvars.ContextVar[Marker | None] = contextvars.ContextVar(
    "nemo_relay_langchain_managed", default=None
)


@contextmanager
def managed(kind: Kind) -> Iterator[None]:
    """Within the block, the first ``kind`` run started in this context is
    managed; the marker is gone after the block even if no run took it."""
    token = _current.set(Marker(kind))
    try:
        yield
    finally:
        _current.reset(token)


def take(kind: Kind) -> bool:
    """True (once) if the run starting now is a call the middleware manages."""
    m = _current.get()
    if m is None or m.taken or m.kind != kind:
        return False
    m.taken = True
    return True
