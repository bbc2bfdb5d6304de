"""Event subscribers: callables that receive every ScopeEvent and MarkEvent.

Delivery is synchronous and in order, on the thread that emitted the event,
after the emitter's scope is known; a subscriber runs with the emitter's
scope chain current.  A subscriber that raises is reported as a
``RuntimeWarning`` and never breaks the code that emitted the event.
"""

from __future__ import annotations

from ._native import subscribers_deregister as deregister
from ._native import subscribers_flush as _flush
from ._native import subscribers_register as register

__all__ = ["register", "deregister", "flush"]


def flush() -> None:
    """Make every event emitted so far durable with its subscribers.

    Delivery is synchronous, so every event has already reached every
    subscriber; what remains is output a subscriber buffers.  Native
    subscribers that buffer (the bundled ``atof_file`` plugin, or any library
    exporting ``nemo_relay_native_subscriber_flush_v1``) write it out before
    this returns, and the exporters of ``nemo_relay.observability`` finish
    what they have queued.  Code written for NeMo Relay's queued delivery keeps working.
    """
    _flush()
    # the exporters' queues (nemo_relay.observability) are drained too
    from .observability._drain import flush_all

    flush_all()
