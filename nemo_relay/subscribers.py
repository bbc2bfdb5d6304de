"""Event subscribers: callables that receive every ScopeEvent and MarkEvent.

Delivery is synchronous and in order, on the thread that emitted the event,
after the emitter's scope is known; a subscriber runs with the emitter's
scope chain current.  A subscriber that raises is reported as a
``RuntimeWarning`` and never breaks the code that emitted the event.
"""

from __future__ import annotations

from ._native import subscribers_deregister as deregister
from ._native import subscribers_register as register

__all__ = ["register", "deregister", "flush"]


def flush() -> None:
    """Wait until every event emitted so far has been delivered.

    Delivery is synchronous, so this returns at once; it exists so code
    written for NeMo Relay's queued delivery keeps working.
    """
