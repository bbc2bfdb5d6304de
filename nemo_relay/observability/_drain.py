"""The background side of every exporter (SPEC D13).

An exporter owns one ``EventQueue`` (C): registered as a subscriber, it keeps
a reference to each event without entering Python on the emitting thread.  A
daemon thread here takes events out in batches and hands them to the
exporter's sink, which does the file or network I/O.  A full queue drops the
event and counts it; the drain thread warns once per burst with the count.
``flush`` waits until everything queued has been handled; at interpreter exit
every live exporter is flushed with a bounded wait.
"""

from __future__ import annotations

import atexit
import threading
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from .. import _native

#: Seconds each exporter may take to finish its queue at interpreter exit.
EXIT_FLUSH_SECONDS = 5.0

Sink = Callable[[Sequence[object]], None]

_live: weakref.WeakSet[Drain] = weakref.WeakSet()
# drains registered through a plugin context, which nothing else holds: kept
# until their thread has finished (so a flush can still wait for them)
_owned: set[Drain] = set()
_live_lock = threading.Lock()


class Drain:
    """A bounded queue of events and the thread that hands them to ``sink``.

    ``what`` names the exporter in warnings.  The sink runs on the drain
    thread only; an exception it raises becomes a ``RuntimeWarning``.
    """

    def __init__(self, what: str, sink: Sink, *, capacity: int = 2048, batch: int = 512,
                 on_close: Callable[[], None] | None = None,
                 close_when_unregistered: bool = False) -> None:
        self.what = what
        self._sink = sink
        self._batch = batch
        self._on_close = on_close
        self._queue = _native.EventQueue(capacity, close_when_unregistered)
        self._capacity = capacity
        self._names: set[str] = set()
        self._closed = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        with _live_lock:
            _live.add(self)

    # -- registration ---------------------------------------------------------

    def register(self, name: str) -> None:
        self._check_open()
        self._queue.register(name)
        self._names.add(name)
        self._start_thread()

    def register_in(self, context: Any, name: str) -> None:
        """Registers the queue through a plugin context: the registration
        belongs to the plugin configuration and goes when it is cleared."""
        self._check_open()
        context.register_subscriber(name, self._queue)
        with _live_lock:
            _owned.add(self)
        self._start_thread()

    def _check_open(self) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.what} has been shut down")

    def deregister(self, name: str) -> bool:
        if name not in self._names:
            return False
        self._names.discard(name)
        return bool(_native.subscribers_deregister(name))

    def deregister_all(self) -> None:
        for name in list(self._names):
            self.deregister(name)

    # -- the drain thread -----------------------------------------------------

    def _start_thread(self) -> None:
        """Started only once a registration succeeded: a failed one leaves no
        thread waiting on a queue nothing will close."""
        with self._lock:
            if self._thread is not None:
                return
            # The thread holds the queue and the sink (a bound method of the
            # exporter), so it lives until shutdown() closes the queue.
            self._thread = threading.Thread(
                target=_run,
                args=(self.what, self._queue, self._sink, self._batch, self._capacity, self._on_close),
                name=f"nemo-relay-{self.what}", daemon=True)
            self._thread.start()

    # -- flushing -------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Waits until every queued event was handled; False on timeout."""
        if self._thread is None:
            return True
        idle = bool(self._queue.wait_idle(timeout))
        _warn_drops(self.what, self._queue, self._capacity)
        if idle and self._queue.stats()["closed"]:
            # closed (e.g. its plugin configuration was cleared): also wait
            # for the exporter to finish its output on the drain thread
            self._thread.join(timeout)
            if not self._thread.is_alive():
                with _live_lock:
                    _live.discard(self)
                    _owned.discard(self)
        return idle

    def join(self, timeout: float | None = None) -> None:
        """Waits for the drain thread to end (after the queue closed)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Stops receiving, finishes the queue and ends the thread (its
        on_close runs on the drain thread before this returns)."""
        self.deregister_all()
        with self._lock:
            if self._closed:
                return True
            self._closed = True
        idle = self.flush(timeout)
        self._queue.close()
        if self._thread is not None:
            self._thread.join(timeout)
        with _live_lock:
            _live.discard(self)
        return idle

    @property
    def dropped(self) -> int:
        return int(self._queue.stats()["dropped"])

    def stats(self) -> dict[str, object]:
        return dict(self._queue.stats())


def _warn_drops(what: str, queue: _native.EventQueue, capacity: int) -> None:
    n = queue.take_new_drops()
    if n:
        warnings.warn(
            f"nemo_relay: {what} dropped {n} event{'s' if n != 1 else ''}: its queue "
            f"(capacity {capacity}) was full", RuntimeWarning, stacklevel=2)


def _run(what: str, queue: _native.EventQueue, sink: Sink, batch: int, capacity: int,
         on_close: Callable[[], None] | None) -> None:
    while True:
        try:
            events = queue.get(batch, None)
        except RuntimeError:  # the interpreter is shutting down
            return
        n = len(events)
        if n == 0:
            if queue.stats()["closed"]:
                break
            continue
        try:
            sink(events)
        except Exception as exc:  # an exporter never breaks the agent
            warnings.warn(f"nemo_relay: {what} failed to export {n} events: {exc}",
                          RuntimeWarning, stacklevel=1)
        del events
        queue.task_done(n)
        _warn_drops(what, queue, capacity)
    if on_close is not None:
        try:
            on_close()
        except Exception as exc:
            warnings.warn(f"nemo_relay: {what} failed to shut down: {exc}", RuntimeWarning,
                          stacklevel=1)


def flush_all(timeout: float | None = None) -> bool:
    """Flushes every live exporter (``subscribers.flush()`` calls this)."""
    with _live_lock:
        drains = list(_live)
    return all([d.flush(timeout) for d in drains])


@atexit.register
def _flush_at_exit() -> None:
    with _live_lock:
        drains = list(_live)
    for d in drains:
        if not d.flush(EXIT_FLUSH_SECONDS):
            warnings.warn(f"nemo_relay: {d.what} did not finish exporting within "
                          f"{EXIT_FLUSH_SECONDS:g} s at exit", RuntimeWarning, stacklevel=1)
